/* engine_experts.c: see engine_experts.h. */
#include "engine_experts.h"

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

int rt_expert_groups_build(const mgc_plan_entry *en, rt_expert_groups *out, mgc_error *e)
{
    memset(out, 0, sizeof *out);
    size_t n = en->nops, nscale = 0;
    for (size_t i = 0; i < n; i++)
        nscale += en->ops[i].kernel == MGC_K_EXPERT_SCALE;
    if (nscale == 0)
        return 0;
    /* readers[b]: how many ops read buffer b; writers[b]: how many write it */
    int *readers = calloc(en->nbufs, sizeof(int)), *writers = calloc(en->nbufs, sizeof(int));
    int *mark = malloc(sizeof(int) * n), *left = malloc(sizeof(int) * en->nbufs);
    out->group_of_op = malloc(sizeof(int) * n);
    out->groups = calloc(nscale, sizeof *out->groups);
    if (!readers || !writers || !mark || !left || !out->group_of_op || !out->groups) {
        free(readers), free(writers), free(mark), free(left);
        rt_expert_groups_free(out);
        return mgc_errorf(e, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const mgc_plan_op *op = &en->ops[i];
        out->group_of_op[i] = -1;
        for (int k = 0; k < 3; k++)
            if (op->in[k] >= 0)
                readers[op->in[k]]++;
        if (op->out >= 0)
            writers[op->out]++;
    }
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
        int g = out->n;
        /* Going back from the expert_scale: an op joins when its output is read
         * by the group (or the expert_scale) alone.  left[b] counts the reads of
         * b not yet accounted to the group; consumers come after producers, so
         * each is decided before its producers are looked at. */
        memcpy(left, readers, sizeof(int) * en->nbufs);
        left[sc->in[0]]--;
        int members = 0;
        for (long i = (long)s - 1; i > route_at; i--) {
            const mgc_plan_op *op = &en->ops[i];
            mark[i] = 0;
            if (out->group_of_op[i] >= 0 || !pure(op) || writers[op->out] != 1 || readers[op->out] == 0 ||
                left[op->out] != 0)
                continue;
            mark[i] = 1;
            members++;
            for (int k = 0; k < 3; k++)
                if (op->in[k] >= 0)
                    left[op->in[k]]--;
        }
        if (members == 0)
            continue;
        for (long i = (long)s - 1; i > route_at; i--)
            if (mark[i])
                out->group_of_op[i] = g;
        out->group_of_op[s] = g; /* writes zeros when the group is skipped */
        out->groups[g] = (rt_expert_group){.expert = sc->expert, .routing = routing, .ldw = (int)en->bufs[routing].cols};
        out->n++;
    }
    free(readers);
    free(writers);
    free(mark);
    free(left);
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
