/* plan_sample.h: a small but complete plan built in code, for the plan
 * serialization tests (test_plan_io.c, test_plan_mutation.c). */
#ifndef MGC_TEST_PLAN_SAMPLE_H
#define MGC_TEST_PLAN_SAMPLE_H

#include "plan.h"

/* 2 devices (mesh [1, 2]); 7 weights (replicated, split with padding, fused
 * q/k/v parts of one tensor, a rank-1 norm); a longrope and a llama3 rope;
 * prefill (14 ops, 13 buffers, one arena slot reused) and decode (15 ops,
 * 14 buffers).  Free with mgc_plan_free. */
void mgc_test_sample_plan(mgc_plan *p);

/* A plan that loaded (e.g. a surviving mutant) must validate, write out,
 * load back from its own text and write the same bytes again; fails the
 * running test naming `what` otherwise. */
void mgc_test_expect_plan_stable(const mgc_plan *p, const char *label, const char *what);

#endif
