/* sampling: choosing the next token from a row of logits.
 *
 *   ev_sampler s;
 *   if (ev_sampler_init(&s, temperature, top_k, top_p, seed, &err)) ...  // checks them
 *   int tok = ev_sample(&s, logits, vocab, scratch, &err);               // -1 on error
 *
 * Greedy (temperature 0, or top_k 1): the argmax, ties to the lowest index.
 * Otherwise, as HuggingFace's warpers apply them: logits / temperature, keep
 * the top_k largest logits (0 = all; ties to the lower index), then keep the
 * smallest prefix of those, by descending probability, whose probability mass
 * reaches top_p of theirs (1 = all; always at least one token), renormalise,
 * and draw one token with the sampler's own PRNG.  Softmax is taken with the
 * maximum subtracted, in double.
 *
 * Reproducibility: the PRNG is xoshiro256** seeded through splitmix64, owned
 * by the sampler (no global state).  The same seed, parameters and logits give
 * the same tokens on every run (and on every machine whose libm exp() rounds
 * alike: the weights go through it).  Each non-greedy draw consumes
 * exactly one 64-bit number; greedy draws consume none.
 *
 * Logits: -inf marks a token that cannot be drawn; NaN or +inf is an error. */
#ifndef RT_SAMPLING_H
#define RT_SAMPLING_H

#include <stdint.h>

#include "mgc_error.h"

/* ---- the PRNG ------------------------------------------------------------------ */

typedef struct ev_rng {
    uint64_t s[4];
} ev_rng;

void ev_rng_seed(ev_rng *r, uint64_t seed);
uint64_t ev_rng_next(ev_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double ev_rng_uniform(ev_rng *r);

/* ---- the sampler ---------------------------------------------------------------- */

typedef struct ev_sampler {
    float temperature; /* >= 0; 0 = greedy */
    int top_k;         /* >= 0; 0 = no limit */
    float top_p;       /* (0, 1]; 1 = no limit */
    ev_rng rng;
} ev_sampler;

/* Scratch for one draw: room for `vocab` of these. */
typedef struct ev_sample_cand {
    float w; /* unnormalised probability */
    int id;  /* token */
} ev_sample_cand;

/* 0 if the parameters are valid, else -1 with a message naming the bad one:
 * temperature finite and >= 0, top_k >= 0, top_p in (0, 1]. */
int ev_sampler_check(float temperature, int top_k, float top_p, mgc_error *e);

/* Checks the parameters (as ev_sampler_check) and seeds the PRNG. */
int ev_sampler_init(ev_sampler *s, float temperature, int top_k, float top_p, uint64_t seed,
                    mgc_error *e);

/* Draws a token in [0, vocab), or returns -1 with a message (vocab < 1, a
 * NaN or +inf logit, every logit -inf, no scratch for a non-greedy draw).
 * `scratch` holds `vocab` candidates; it may be NULL for a greedy sampler. */
int ev_sample(ev_sampler *s, const float *logits, int vocab, ev_sample_cand *scratch,
              mgc_error *e);

/* The argmax of a row: ties to the lowest index, NaN skipped; -1 if vocab < 1
 * or every logit is NaN. */
int ev_sample_greedy(const float *logits, int vocab);

#endif
