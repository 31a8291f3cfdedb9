/* compile.h: spec + config.json (+ checkpoint shapes) -> IR -> plan.
 *
 * The stages, each in its own file:
 *   program.c/check.c  parse the spec and its imports, check what needs no config
 *   elab.c             bind to config.json, expand defs and loops, type and shard -> IR
 *   pad.c              decide the per-device width of every split value (tile padding)
 *   lower.c            IR -> the two scheduled op lists of a plan, weight slices
 *   memplan.c          buffer lifetimes, arena offsets, per-device memory summary
 *
 * The compiler never reads weight bytes.  When a checkpoint is available the
 * driver passes its tensor shapes through `mgc_tensor_lookup`, so the compiler
 * can check that every bound weight exists with the right shape and report
 * tensors the spec never uses, without depending on the runtime library. */
#ifndef MGC_COMPILE_H
#define MGC_COMPILE_H

#include <stdint.h>

#include "diag.h"
#include "ir.h"
#include "plan.h"
#include "program.h"

typedef struct mgc_tensor_info {
    int rank;
    int64_t shape[8];
    const char *dtype;       /* safetensors dtype name: "BF16", "F32", ... */
} mgc_tensor_info;

typedef struct mgc_tensor_lookup {
    void *ctx;
    /* 0 and *out filled when the checkpoint has `name`, -1 otherwise. */
    int (*find)(void *ctx, const char *name, mgc_tensor_info *out);
    /* Number of tensors in the checkpoint and the i-th name (for "unused" warnings). */
    size_t (*count)(void *ctx);
    const char *(*name_at)(void *ctx, size_t i);
    const char *label;       /* the checkpoint directory, for messages */
} mgc_tensor_lookup;

typedef struct mgc_compile_opts {
    const char *spec_path;
    const char *config_path;         /* config.json */
    const mgc_tensor_lookup *tensors;/* NULL: no checkpoint (sizes from the spec and config only) */
    const char *system;              /* NULL: the system the spec declares */
    const char *systems_dir;         /* where NAME.yaml files live (default graphs/systems) */
    int64_t max_seq_len;             /* 0: the spec's cache max_len */
    int64_t batch;                   /* 0: the spec's users */
    int weights_dtype;               /* -1: as the spec says; else an mgc_dtype for every weight */
    int act_dtype;                   /* -1: as the spec says; else MGC_F32 or MGC_BF16 */
} mgc_compile_opts;

void mgc_compile_opts_init(mgc_compile_opts *o);

/* Runs every stage.  On success returns 0 with *ir and *plan filled (either
 * may be NULL if not wanted).  On failure returns -1 with diagnostics in *d. */
int mgc_compile(const mgc_compile_opts *o, mgc_diags *d, mgc_ir *ir, mgc_plan *plan);
/* The stages after parse and check (o->spec_path is still the plan's `spec`): for a
 * caller that compiles one loaded, checked program many times (the config fuzz target).
 * The program is only read. */
int mgc_compile_program(const mgc_program *prog, const mgc_compile_opts *o, mgc_diags *d, mgc_ir *ir,
                        mgc_plan *plan);

#endif
