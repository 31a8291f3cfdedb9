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

#endif
