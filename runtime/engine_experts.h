/* engine_experts: skipping the experts a call routes no token to.
 *
 * A plan computes a mixture of experts as, per expert e, a chain of ops from
 * the layer's input to `expert_scale(x_e, routing, e)` (x_e times each row's
 * routing weight for e, which is 0 where the router did not pick e).  HF
 * computes an expert only for the tokens routed to it; running every expert
 * for every token does E / top_k times the expert work and, in decode, reads
 * every expert's weights for nothing.  At load, each expert_scale gets the
 * group of ops whose results only that expert's chain uses; at run time a
 * group whose expert no row of the call was routed to is skipped, and its
 * expert_scale writes zeros (rt_expert_scale writes 0 for a zero weight
 * anyway, so the result is the same either way).
 *
 * Every device decides alike (the routing weights are replicated, the same
 * bits everywhere), so a collective inside a group is skipped by all or none.
 * Only ops without side effects join a group: never a cache write, the
 * output, or a residual snapshot (tap). */
#ifndef RT_ENGINE_EXPERTS_H
#define RT_ENGINE_EXPERTS_H

#include "mgc_error.h"
#include "plan.h"

typedef struct rt_expert_group {
    int expert;  /* column of the routing weights */
    int routing; /* buffer of the routing weights [rows][ldw] */
    int ldw;
} rt_expert_group;

typedef struct rt_expert_groups {
    int *group_of_op; /* [nops]: the group an op belongs to, -1 none; NULL: no groups */
    rt_expert_group *groups;
    int n;
} rt_expert_groups;

/* Finds the groups of one entry point (none in a plan without experts). */
int rt_expert_groups_build(const mgc_plan_entry *en, rt_expert_groups *out, mgc_error *e);
void rt_expert_groups_free(rt_expert_groups *g);

/* Whether any of the call's `rows` rows routes to the group's expert. */
int rt_expert_group_active(const rt_expert_group *g, const float *routing, int rows);

#endif
