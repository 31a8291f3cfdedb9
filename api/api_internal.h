/* api_internal.h: what the handles of mgc.h are, and the helpers every api/
 * file uses to turn internal mgc_error values into public mgc_status ones. */
#ifndef MGC_API_INTERNAL_H
#define MGC_API_INTERNAL_H

#include <stdatomic.h>

#include "engine.h"
#include "eos.h"
#include "mgc.h"
#include "mgc_error.h"
#include "plan.h"
#include "tokenizer.h"

/* Reference-counted: a model keeps the plan its engine reads from. */
struct mgc_plan_t {
    atomic_int refs;
    mgc_plan plan;
};

struct mgc_tokenizer_t {
    tokenizer *tok;
};

struct mgc_model_t {
    mgc_plan_t *plan;         /* one reference held */
    rt_engine *en;
    mgc_tokenizer_t *tok;     /* NULL when the model directory has no tokenizer.json */
    int32_t eos[EV_EOS_MAX];
    int neos;
    int mpi; /* an MPI mesh: MPI ends with the model (rank 0) */
};

/* Sets *st to OK (st may be NULL) and returns MGC_OK. */
mgc_code api_ok(mgc_status *st);
/* Copies e's message into *st with `code` and returns `code`. */
mgc_code api_fail(mgc_status *st, mgc_code code, const mgc_error *e);
/* The same with a formatted message. */
mgc_code api_failf(mgc_status *st, mgc_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void api_plan_retain(mgc_plan_t *p);

#endif
