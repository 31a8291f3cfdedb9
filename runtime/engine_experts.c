/* engine_experts.c: see engine_experts.h. */
#include "engine_experts.h"

#include "engine_deps.h"

#include <stdlib.h>
#include <string.h>

/* Ops that only compute their output buffer from their inputs. */
static int pure(const mgc_plan_op *op)
{
    switch (op->kernel) {
    case MGC_K_FILL_CACHE:
    case MGC_K_UPDATE_CACHE:
    case MGC_K_OUTPUT:
        return 0;
    default:
        return op->out >= 0 && op->tap < 0;
    }
}

/* An op joins an expert's group if it is pure and in no other group yet. */
static int joins_expert(const mgc_plan_entry *en, size_t i, void *ctx)
{
    const int *group_of_op = ctx;
    return group_of_op[i] < 0 && pure(&en->ops[i]);
}

int rt_expert_groups_build(const mgc_plan_entry *en, rt_expert_groups *out, mgc_error *e)
{
    memset(out, 0, sizeof *out);
    size_t n = en->nops, nscale = 0;
    for (size_t i = 0; i < n; i++)
        nscale += en->ops[i].kernel == MGC_K_EXPERT_SCALE;
    if (nscale == 0)
        return 0;
    unsigned char *mark = malloc(n);
    out->group_of_op = malloc(sizeof(int) * n);
    out->groups = calloc(nscale, sizeof *out->groups);
    if (!mark || !out->group_of_op || !out->groups) {
        free(mark);
        rt_expert_groups_free(out);
        return mgc_errorf(e, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        out->group_of_op[i] = -1;
    for (size_t s = 0; s < n; s++) {
        const mgc_plan_op *sc = &en->ops[s];
        if (sc->kernel != MGC_K_EXPERT_SCALE || sc->tap >= 0 || sc->in[0] < 0 || sc->in[1] < 0)
            continue;
        /* the routing weights must be computed on every device before the group */
        int routing = sc->in[1];
        long route_at = -1;
        for (size_t i = 0; i < s; i++)
            if (en->ops[i].out == routing)
                route_at = en->ops[i].device < 0 ? (long)i : -2;
        if (route_at < 0)
            continue;
        /* the expert's output (input 0) is the group's; the routing is not */
        int members = rt_ops_only_feeding(en, route_at, (long)s, 1u, joins_expert, out->group_of_op, mark, e);
        if (members < 0) {
            free(mark);
            rt_expert_groups_free(out);
            return -1;
        }
        if (members == 0)
            continue;
        int g = out->n++;
        for (size_t i = (size_t)route_at + 1; i <= s; i++)
            if (mark[i])
                out->group_of_op[i] = g; /* the expert_scale too: it writes zeros when skipped */
        out->groups[g] = (rt_expert_group){.expert = sc->expert, .routing = routing, .ldw = (int)en->bufs[routing].cols};
    }
    free(mark);
    return 0;
}

void rt_expert_groups_free(rt_expert_groups *g)
{
    free(g->group_of_op);
    free(g->groups);
    memset(g, 0, sizeof *g);
}

int rt_expert_group_active(const rt_expert_group *g, const float *routing, int rows)
{
    for (int r = 0; r < rows; r++)
        if (routing[(size_t)r * (size_t)g->ldw + (size_t)g->expert] != 0)
            return 1;
    return 0;
}
