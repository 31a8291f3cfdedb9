/* builtin_ref.h: mgc's own reference, the same spec unsharded on one device
 * in f32 (what `--reference builtin` and `mgc reference` run). */
#ifndef MGC_BUILTIN_REF_H
#define MGC_BUILTIN_REF_H

#include "engine.h"
#include "plan.h"

/* Compiles `spec` for the cpu system with f32 weights and activations
 * against model_dir (KV cache of max_seq positions, 0 = the spec's) and
 * loads it.  Compile diagnostics are printed to stderr. */
int mgc_builtin_reference_engine(const char *spec, const char *model_dir, int64_t max_seq, mgc_plan *plan,
                                 rt_engine **en, mgc_error *e);

/* Prompt ids from exactly one of --tokens / --prompt / --prompt-file. */
int mgc_reference_tokens(const char *model, const char *tokens, const char *prompt, const char *prompt_file,
                         int32_t **ids, int *n, mgc_error *e);
/* max_new > 0: the prompt plus max_new greedy tokens; else the prompt split
 * in two halves (tt-metal's convention). */
struct ev_reference;
int mgc_reference_build(rt_engine *en, const int32_t *ids, int n, long max_new, struct ev_reference *ref,
                        mgc_error *e);

#endif
