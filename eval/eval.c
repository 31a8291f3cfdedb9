#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Index of the first NaN or infinity of v[0..n), or -1.  (Metrics of non-finite
 * logits come out as 0 or NaN, which would read as a perfect or odd score.) */
static int64_t first_non_finite(const float *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!isfinite(v[k]))
            return (int64_t)k;
    return -1;
}

/* The sequence length past which a LongRoPE plan switches to its long
 * factors (original_max_position_embeddings), or 0 when it has none. */
static int64_t longrope_switch(const mgc_plan *p)
{
    for (size_t k = 0; k < p->nropes; k++)
        if (p->ropes[k].kind == MGC_ROPE_LONGROPE)
            return p->ropes[k].original_max;
    return 0;
}

/* Our five most likely tokens of one row (ties to the lowest index). */
static void top5_of(const float *row, int64_t vocab, int32_t *out)
{
    for (int k = 0; k < 5; k++)
        out[k] = -1;
    for (int64_t i = 0; i < vocab; i++) {
        int k = 5;
        while (k > 0 && (out[k - 1] < 0 || row[i] > row[out[k - 1]]))
            k--;
        if (k == 5)
            continue;
        memmove(out + k + 1, out + k, sizeof(int32_t) * (size_t)(4 - k));
        out[k] = (int32_t)i;
    }
}

static int score(const ev_reference *ref, const float *ours, int64_t pos, rt_pos_metrics *m, mgc_error *e)
{
    int64_t bad = first_non_finite(ours, (size_t)ref->vocab);
    if (bad >= 0)
        return mgc_errorf(e, "position %lld: our logit for token %lld is %s (the first non-finite logit; "
                             "--layers finds the first layer where it appears)",
                          (long long)pos, (long long)bad, isnan(ours[bad]) ? "nan" : "inf");
    int next = pos + 1 < ref->t ? ref->input_ids[pos + 1] : -1;
    int top5[5];
    for (int k = 0; k < 5; k++)
        top5[k] = ref->top5[pos * 5 + k];
    return ev_metrics_row(ours, ref->logits + pos * ref->vocab, (int)ref->vocab, top5, next, m, e);
}

int ev_teacher_forcing(rt_engine *en, const ev_reference *ref, const ev_opts *o, ev_result *out,
                            mgc_error *e)
{
    memset(out, 0, sizeof *out);
    int64_t vocab = rt_engine_vocab(en);
    if (ref->vocab != vocab)
        return mgc_errorf(e, "%s: the reference's logits have a vocabulary of %lld but the plan's model has %lld",
                          ref->path, (long long)ref->vocab, (long long)vocab);
    int64_t total = ref->t;
    if (o && o->max_positions > 0 && o->max_positions < total)
        total = o->max_positions;
    int64_t plen = ref->prompt_len < total ? ref->prompt_len : total;
    if (total > rt_engine_max_seq(en))
        return mgc_errorf(e, "%s: the reference has %lld tokens but the plan's KV cache holds %lld "
                             "(compile with --max-seq-len %lld or evaluate fewer tokens)",
                          ref->path, (long long)total, (long long)rt_engine_max_seq(en), (long long)total);
    out->positions = total;
    out->prompt_len = plen;
    out->pos = calloc((size_t)total, sizeof *out->pos);
    float *row = malloc(sizeof(float) * (size_t)(plen > 1 ? plen : 1) * (size_t)vocab);
    if (!out->pos || !row) {
        free(row);
        return mgc_errorf(e, "out of memory");
    }
    ev_metrics_acc all, pre, dec;
    ev_metrics_acc_init(&all);
    ev_metrics_acc_init(&pre);
    ev_metrics_acc_init(&dec);
    int rc = 0;
    double t0 = now();
    if (o && o->prefill_decode) {
        /* the prompt one token at a time through the decode path */
        int user = 0;
        for (int64_t p = 0; p < plen && rc == 0; p++) {
            int32_t tok = ref->input_ids[p], pos = (int32_t)p;
            rc = rt_engine_decode(en, 1, &user, &tok, &pos, row + p * vocab, e);
        }
    } else {
        rc = rt_engine_prefill(en, 0, ref->input_ids, (int)plen, 0, row, e);
    }
    out->prefill_seconds = now() - t0;
    for (int64_t p = 0; p < plen && rc == 0; p++) {
        rc = score(ref, row + p * vocab, p, &out->pos[p], e);
        if (o && o->logits_out)
            memcpy(o->logits_out + p * vocab, row + p * vocab, sizeof(float) * (size_t)vocab);
        if (o && o->top5_out)
            top5_of(row + p * vocab, vocab, o->top5_out + p * 5);
        ev_metrics_acc_add(&all, &out->pos[p]);
        ev_metrics_acc_add(&pre, &out->pos[p]);
    }
    double t1 = now();
    int64_t sw = longrope_switch(rt_engine_plan(en));
    float *seqrows = NULL; /* the re-prefill's rows, at most once */
    for (int64_t p = plen; p < total && rc == 0; p++) {
        int user = 0;
        int32_t tok = ref->input_ids[p], pos = (int32_t)p;
        const float *got = row;
        if (sw > 0 && p == sw) {
            /* The sequence grows past LongRoPE's original length: HF's
             * generate() drops the cache (keys rotated with the short
             * factors) and runs the whole sequence again with the long ones,
             * as mgc run does; the logits of this step are the last row. */
            if (!seqrows)
                seqrows = malloc(sizeof(float) * (size_t)(p + 1) * (size_t)vocab);
            rc = seqrows ? rt_engine_prefill(en, 0, ref->input_ids, (int)(p + 1), 0, seqrows, e)
                         : mgc_errorf(e, "out of memory");
            got = seqrows + p * vocab;
        } else {
            rc = rt_engine_decode(en, 1, &user, &tok, &pos, row, e);
        }
        if (rc == 0)
            rc = score(ref, got, p, &out->pos[p], e);
        if (rc == 0 && o && o->logits_out)
            memcpy(o->logits_out + p * vocab, got, sizeof(float) * (size_t)vocab);
        if (rc == 0 && o && o->top5_out)
            top5_of(got, vocab, o->top5_out + p * 5);
        ev_metrics_acc_add(&all, &out->pos[p]);
        ev_metrics_acc_add(&dec, &out->pos[p]);
        out->decode_steps++;
        if (o && o->on_step)
            o->on_step(o->ud, p + 1 - plen, total - plen);
    }
    out->decode_seconds = now() - t1;
    free(seqrows);
    free(row);
    ev_metrics_acc_finish(&all, &out->all);
    ev_metrics_acc_finish(&pre, &out->prefill);
    ev_metrics_acc_finish(&dec, &out->decode);
    if (rc != 0) {
        ev_result_free(out);
        return -1;
    }
    return 0;
}

void ev_result_free(ev_result *r)
{
    free(r->pos);
    memset(r, 0, sizeof *r);
}

int ev_layers(rt_engine *en, const ev_reference *ref, ev_layer_cmp *out, mgc_error *e)
{
    memset(out, 0, sizeof *out);
    if (!ref->hidden_states)
        return mgc_errorf(e, "%s: the reference has no hidden_states to compare layers with", ref->path);
    int taps = rt_engine_n_taps(en);
    int64_t layers = ref->hidden_layers - 1, hidden = rt_engine_hidden(en), t = ref->t;
    if (taps == 0)
        return mgc_errorf(e, "the plan records no residual-stream snapshots (its forward has no layer loop "
                             "'for i in ... { x = layer(x, ...) }')");
    if (taps != layers + 2)
        return mgc_errorf(e, "%s: hidden_states has %lld layers but the plan has %d", ref->path, (long long)layers,
                          taps - 2);
    if (ref->hidden != hidden)
        return mgc_errorf(e, "%s: hidden_states are %lld wide but the model's hidden size is %lld", ref->path,
                          (long long)ref->hidden, (long long)hidden);
    if (t > rt_engine_max_seq(en))
        return mgc_errorf(e, "%s: %lld tokens do not fit the plan's KV cache of %lld", ref->path, (long long)t,
                          (long long)rt_engine_max_seq(en));
    float *ours = malloc(sizeof(float) * (size_t)taps * (size_t)t * (size_t)hidden);
    if (!ours)
        return mgc_errorf(e, "out of memory");
    if (rt_engine_prefill_hidden(en, 0, ref->input_ids, (int)t, 0, NULL, ours, e) != 0) {
        free(ours);
        return -1;
    }
    out->n = (int)layers + 1;
    out->pcc = calloc((size_t)out->n, sizeof(double));
    out->max_abs_err = calloc((size_t)out->n, sizeof(double));
    size_t slice = (size_t)t * (size_t)hidden;
    for (int i = 0; i < out->n; i++) {
        /* our snapshot taps-1 is the final norm, HF's entry `layers` */
        const float *a = ours + (size_t)(i < layers ? i : taps - 1) * slice;
        const float *b = ref->hidden_states + (size_t)i * slice;
        int64_t bad = first_non_finite(a, slice);
        if (bad >= 0) {
            mgc_errorf(e, "layer %d, position %lld: our hidden state is %s (the first layer with a non-finite "
                          "value%s)", i, (long long)(bad / hidden), isnan(a[bad]) ? "nan" : "inf",
                       i == layers ? ": the final norm" : i == 0 ? ": the embeddings" : "");
            free(ours);
            ev_layer_cmp_free(out);
            return -1;
        }
        out->pcc[i] = ev_pcc(a, b, slice);
        double m = 0;
        for (size_t k = 0; k < slice; k++) {
            double d = (double)a[k] - (double)b[k];
            if (d < 0)
                d = -d;
            if (d > m)
                m = d;
        }
        out->max_abs_err[i] = m;
    }
    free(ours);
    return 0;
}

void ev_layer_cmp_free(ev_layer_cmp *c)
{
    free(c->pcc);
    free(c->max_abs_err);
    memset(c, 0, sizeof *c);
}

int ev_layer_cmp_first_below(const ev_layer_cmp *c, double threshold)
{
    for (int i = 0; i < c->n; i++)
        if (!(c->pcc[i] >= threshold))
            return i;
    return -1;
}
