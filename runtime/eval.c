#include "eval.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int score(const rt_reference *ref, const float *ours, int64_t pos, rt_pos_metrics *m, mgc_error *e)
{
    int next = pos + 1 < ref->t ? ref->input_ids[pos + 1] : -1;
    int top5[5];
    for (int k = 0; k < 5; k++)
        top5[k] = ref->top5[pos * 5 + k];
    return rt_metrics_row(ours, ref->logits + pos * ref->vocab, (int)ref->vocab, top5, next, m, e);
}

int rt_eval_teacher_forcing(rt_engine *en, const rt_reference *ref, const rt_eval_opts *o, rt_eval_result *out,
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
    rt_metrics_acc all, pre, dec;
    rt_metrics_acc_init(&all);
    rt_metrics_acc_init(&pre);
    rt_metrics_acc_init(&dec);
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
        rt_metrics_acc_add(&all, &out->pos[p]);
        rt_metrics_acc_add(&pre, &out->pos[p]);
    }
    double t1 = now();
    for (int64_t p = plen; p < total && rc == 0; p++) {
        int user = 0;
        int32_t tok = ref->input_ids[p], pos = (int32_t)p;
        rc = rt_engine_decode(en, 1, &user, &tok, &pos, row, e);
        if (rc == 0)
            rc = score(ref, row, p, &out->pos[p], e);
        if (rc == 0 && o && o->logits_out)
            memcpy(o->logits_out + p * vocab, row, sizeof(float) * (size_t)vocab);
        rt_metrics_acc_add(&all, &out->pos[p]);
        rt_metrics_acc_add(&dec, &out->pos[p]);
        out->decode_steps++;
        if (o && o->on_step)
            o->on_step(o->ud, p + 1 - plen, total - plen);
    }
    out->decode_seconds = now() - t1;
    free(row);
    rt_metrics_acc_finish(&all, &out->all);
    rt_metrics_acc_finish(&pre, &out->prefill);
    rt_metrics_acc_finish(&dec, &out->decode);
    if (rc != 0) {
        rt_eval_result_free(out);
        return -1;
    }
    return 0;
}

void rt_eval_result_free(rt_eval_result *r)
{
    free(r->pos);
    memset(r, 0, sizeof *r);
}
