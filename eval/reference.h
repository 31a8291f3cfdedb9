/* reference.h: a reference file for eval, in the format the HF fixtures use
 * (safetensors): input_ids I64 [T], logits F32 [T, V], top5 I64 [T, 5],
 * optionally hidden_states F32 [L+1, T, H], and `prompt_len` in the
 * metadata.  Every tensor is validated against the others on load.  The
 * format is described once, in docs/reference-format.md (also what
 * scripts/hf_reference.py writes); keep the two in step. */
#ifndef RT_REFERENCE_H
#define RT_REFERENCE_H

#include <stdint.h>

#include "engine.h"
#include "mgc_error.h"

typedef struct ev_reference {
    char *path;
    int64_t t;            /* tokens */
    int64_t vocab;
    int64_t prompt_len;
    int32_t *input_ids;   /* [t] */
    float *logits;        /* [t][vocab], or NULL if the file has none */
    int32_t *top5;        /* [t][5] (derived from logits when absent) */
    int64_t hidden_layers;/* L+1 slices of hidden_states, 0 if absent */
    int64_t hidden;
    float *hidden_states; /* [hidden_layers][t][hidden] or NULL */
} ev_reference;

int ev_reference_load(const char *path, ev_reference *out, mgc_error *e);
void ev_reference_free(ev_reference *r);

/* Makes a reference with `en` (normally an f32 plan on one device): with
 * n_new > 0, input_ids = the ntok prompt tokens + n_new greedy tokens and
 * prompt_len = ntok; with n_new == 0, input_ids = tokens and prompt_len as
 * given.  logits, top5 and (when the plan records them) hidden_states come
 * from one forward over the whole sequence, as HF's do. */
int ev_reference_make(rt_engine *en, const int32_t *tokens, int ntok, int prompt_len, int n_new, ev_reference *r,
                      mgc_error *e);
/* Writes it in the fixtures' format (atomically); meta: key, value, ..., NULL. */
int ev_reference_write(const ev_reference *r, const char *path, const char *const *meta, mgc_error *e);

#endif
