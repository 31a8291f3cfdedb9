/* elab.h: elaboration, a checked spec bound to a config.json -> IR.
 *
 * Elaboration runs the spec as a small program: lets are evaluated from
 * config values, defs are expanded at each call, loops are unrolled, and every
 * op applied to tensors becomes an IR node with a width, a dtype and a
 * sharding.  Shape errors point at the spec and state the shapes. */
#ifndef MGC_ELAB_H
#define MGC_ELAB_H

#include "compile.h"
#include "config.h"
#include "diag.h"
#include "ir.h"
#include "program.h"

typedef struct mgc_elab_in {
    const mgc_program *prog;
    const mgc_config *cfg;
    int ndevices;
    const char *system;              /* name of the target system */
    const mgc_tensor_lookup *tensors;/* may be NULL */
    int weights_dtype, act_dtype;    /* -1 or overrides */
    int64_t max_seq_len, batch;      /* 0 or overrides */
    struct mgc_config_reads *reads;  /* may be NULL: records the config.json paths the spec read */
} mgc_elab_in;

int mgc_elaborate(const mgc_elab_in *in, mgc_diags *d, mgc_ir *ir);

/* The system named by the root file's `model ... on SYSTEM` (NULL if none). */
const char *mgc_spec_system(const mgc_program *prog);

#endif
