/* engine_deps: which ops of an entry point only feed a given op.
 *
 * Used at load to find sets of ops the engine may run differently as a
 * whole: the ops of one expert (engine_experts.h), the ops of the logits head
 * (engine_head.h).  Grown back from op `last`: op i (stop < i < last) joins
 * when join(en, i, ctx) allows it, it alone writes its output buffer, and
 * that buffer is read, by ops of the set only.  Consumers come after
 * producers, so going backwards each op's readers are decided before it. */
#ifndef RT_ENGINE_DEPS_H
#define RT_ENGINE_DEPS_H

#include "mgc_error.h"
#include "plan.h"

/* in_set[nops] receives 1 for the members (`last` included).  inputs: a
 * bit per input slot k of `last` whose buffer counts as read by the set (an
 * input `last` reads that the set must not absorb, e.g. the routing weights
 * of an expert_scale, has its bit clear).  Returns the number of members
 * besides `last`, or -1 when out of memory. */
int rt_ops_only_feeding(const mgc_plan_entry *en, long stop, long last, unsigned inputs,
                        int (*join)(const mgc_plan_entry *en, size_t i, void *ctx), void *ctx, unsigned char *in_set,
                        mgc_error *e);

/* Kernels whose output row r is computed from input rows r only, with no
 * other effect (the KV-cache ops are not: they write or read the cache). */
int rt_kernel_row_by_row(mgc_kernel k);

#endif
