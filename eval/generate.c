#include "generate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The sequence length at which a LongRoPE plan must prefill again, or 0. */
static int64_t longrope_switch(const mgc_plan *p)
{
    for (size_t k = 0; k < p->nropes; k++)
        if (p->ropes[k].kind == MGC_ROPE_LONGROPE)
            return p->ropes[k].original_max;
    return 0;
}

static int is_stop(const ev_generate_ctl *c, int32_t tok)
{
    for (int i = 0; c && i < c->nstop; i++)
        if (c->stop[i] == tok)
            return 1;
    return 0;
}

/* Records user u's token; -1 when the callback asks to stop. */
static int emit(const ev_generate_ctl *c, int u, int32_t tok, mgc_error *e)
{
    if (c && c->on_token && c->on_token(c->ud, u, tok) != 0)
        return mgc_errorf(e, "generation stopped by the caller");
    return 0;
}

int ev_generate(rt_engine *en, int users, const int32_t *const *prompts, int nprompt, int n_new,
                ev_sampler *samplers, int32_t **out, ev_generate_stats *stats, mgc_error *e)
{
    return ev_generate_ctl_run(en, users, prompts, nprompt, n_new, samplers, NULL, out, stats, e);
}

int ev_generate_ctl_run(rt_engine *en, int users, const int32_t *const *prompts, int nprompt, int n_new,
                        ev_sampler *samplers, const ev_generate_ctl *ctl, int32_t **out, ev_generate_stats *stats,
                        mgc_error *e)
{
    memset(stats, 0, sizeof *stats);
    if (ctl && ctl->n_out)
        for (int u = 0; u < users; u++)
            ctl->n_out[u] = 0;
    if (n_new <= 0)
        return 0;
    if (users < 1 || users > rt_engine_max_users(en))
        return mgc_errorf(e, "the plan decodes at most %lld users (compile with --batch)",
                          (long long)rt_engine_max_users(en));
    if ((int64_t)nprompt + n_new - 1 > rt_engine_max_seq(en))
        return mgc_errorf(e, "a prompt of %d tokens plus %d new ones exceeds the plan's maximum sequence of %lld",
                          nprompt, n_new, (long long)rt_engine_max_seq(en));
    int64_t vocab = rt_engine_vocab(en), sw = longrope_switch(rt_engine_plan(en));
    int64_t maxrows = (int64_t)nprompt + n_new > users ? (int64_t)nprompt + n_new : users;
    float *logits = malloc(sizeof(float) * (size_t)(maxrows * vocab));
    ev_sample_cand *cand = malloc(sizeof *cand * (size_t)vocab);
    int32_t *next = calloc((size_t)users, sizeof(int32_t)), *pos = calloc((size_t)users, sizeof(int32_t));
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)(nprompt + n_new));
    /* ulist: the users still generating (a stopped user leaves the batch) */
    int *ulist = calloc((size_t)users, sizeof(int));
    int32_t *bnext = calloc((size_t)users, sizeof(int32_t)), *bpos = calloc((size_t)users, sizeof(int32_t));
    int nactive = 0, rc = -1;
    if (!logits || !cand || !next || !pos || !seq || !ulist || !bnext || !bpos) {
        mgc_errorf(e, "out of memory");
        goto out;
    }
    double t0 = now();
    for (int u = 0; u < users; u++) {
        /* only the last position's logits are sampled */
        if (rt_engine_prefill_last(en, u, prompts[u], nprompt, 0, logits, e) != 0)
            goto out;
        int tok = ev_sample(&samplers[u], logits, (int)vocab, cand, e);
        if (tok < 0)
            goto out;
        out[u][0] = next[u] = tok;
        pos[u] = nprompt;
        if (ctl && ctl->n_out)
            ctl->n_out[u] = 1;
        if (emit(ctl, u, tok, e) != 0)
            goto out;
        if (!is_stop(ctl, tok))
            ulist[nactive++] = u;
    }
    double t1 = now();
    stats->prefill_seconds = t1 - t0;
    for (int step = 1; step < n_new && nactive > 0; step++) {
        /* all users have the same length, so they cross the switch together */
        int again = sw > 0 && pos[ulist[0]] == sw;
        for (int i = 0; i < nactive; i++) {
            bnext[i] = next[ulist[i]];
            bpos[i] = pos[ulist[i]];
        }
        if (!again && rt_engine_decode(en, nactive, ulist, bnext, bpos, logits, e) != 0)
            goto out;
        int still = 0;
        for (int i = 0; i < nactive; i++) {
            int u = ulist[i];
            const float *row = logits + (int64_t)i * vocab;
            if (again) {
                memcpy(seq, prompts[u], sizeof(int32_t) * (size_t)nprompt);
                memcpy(seq + nprompt, out[u], sizeof(int32_t) * (size_t)step);
                /* pos[u] is the last of these nprompt + step rows */
                if (rt_engine_prefill_last(en, u, seq, nprompt + step, 0, logits, e) != 0)
                    goto out;
                row = logits;
            }
            int tok = ev_sample(&samplers[u], row, (int)vocab, cand, e);
            if (tok < 0)
                goto out;
            out[u][step] = next[u] = tok;
            pos[u]++;
            if (ctl && ctl->n_out)
                ctl->n_out[u] = step + 1;
            if (emit(ctl, u, tok, e) != 0)
                goto out;
            if (!is_stop(ctl, tok))
                ulist[still++] = u;
        }
        nactive = still;
        stats->decode_steps++;
    }
    stats->decode_seconds = now() - t1;
    rc = 0;
out:
    free(logits);
    free(cand);
    free(next);
    free(pos);
    free(seq);
    free(ulist);
    free(bnext);
    free(bpos);
    return rc;
}
