/* generate.h: prompt in, tokens out, as HuggingFace's generate() does it:
 * each user's prompt is prefilled (one pass each), then all users decode
 * together one token per step, each drawing its next token with its own
 * sampler.  Where a plan's LongRoPE switches from short to long factors
 * (Phi-3: the sequence reaching original_max_position_embeddings + 1 tokens)
 * the cached keys were made with the short factors, so, as HF does, every
 * user's whole sequence is prefilled again with the long ones. */
#ifndef RT_GENERATE_H
#define RT_GENERATE_H

#include <stdint.h>

#include "engine.h"
#include "sampling.h"

typedef struct ev_generate_stats {
    double prefill_seconds, decode_seconds;
    int decode_steps;
} ev_generate_stats;

/* users prompts of `nprompt` tokens each (all the same length; prompts[u]);
 * out[u] receives n_new tokens.  samplers[u] draws user u's tokens. */
int ev_generate(rt_engine *en, int users, const int32_t *const *prompts, int nprompt, int n_new,
                ev_sampler *samplers, int32_t **out, ev_generate_stats *stats, mgc_error *e);

/* Stopping early and watching tokens as they come. */
typedef struct ev_generate_ctl {
    /* A user whose token is one of these stops (the token is kept in its
     * output, as HF keeps the EOS); the others go on, decoded as a smaller
     * batch.  NULL / 0: nobody stops before n_new. */
    const int32_t *stop;
    int nstop;
    /* Called for every token drawn, in order; nonzero stops everyone (the
     * call then fails with `e` saying so).  May be NULL. */
    int (*on_token)(void *ud, int user, int32_t token);
    void *ud;
    int *n_out;   /* [users]: how many tokens each user got (may be NULL) */
} ev_generate_ctl;

int ev_generate_ctl_run(rt_engine *en, int users, const int32_t *const *prompts, int nprompt, int n_new,
                        ev_sampler *samplers, const ev_generate_ctl *ctl, int32_t **out, ev_generate_stats *stats,
                        mgc_error *e);

#endif
