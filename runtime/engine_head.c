/* engine_head.c: see engine_head.h. */
#include "engine_head.h"

#include "engine_deps.h"

#include <stdlib.h>

/* Kernels whose output row r depends on input rows r only. */
static int row_by_row(mgc_kernel k)
{
    switch (k) {
    case MGC_K_LINEAR:
    case MGC_K_RMS_NORM:
    case MGC_K_LAYER_NORM:
    case MGC_K_ADD:
    case MGC_K_SUB:
    case MGC_K_MUL:
    case MGC_K_SCALE:
    case MGC_K_SILU:
    case MGC_K_GELU:
    case MGC_K_GELU_TANH:
    case MGC_K_ALL_REDUCE:
    case MGC_K_ALL_GATHER:
    case MGC_K_ADD_BIAS:
    case MGC_K_ADD_SCALAR:
    case MGC_K_DIV_SCALAR:
    case MGC_K_DIV:
    case MGC_K_TANH:
    case MGC_K_EXP:
    case MGC_K_RELU:
    case MGC_K_SIGMOID:
    case MGC_K_SOFTCAP:
    case MGC_K_SHARD:
        return 1;
    default:
        return 0;
    }
}

static int joins_head(const mgc_plan_entry *en, size_t i, void *ctx)
{
    (void)ctx;
    return row_by_row(en->ops[i].kernel) && en->ops[i].device < 0;
}

int rt_head_ops_find(const mgc_plan_entry *en, unsigned char **head, mgc_error *e)
{
    *head = NULL;
    long out_at = -1;
    for (size_t i = 0; i < en->nops; i++)
        if (en->ops[i].kernel == MGC_K_OUTPUT)
            out_at = (long)i;
    if (out_at < 0)
        return 0;
    unsigned char *h = malloc(en->nops);
    if (!h)
        return mgc_errorf(e, "out of memory");
    if (rt_ops_only_feeding(en, -1, out_at, 7u, joins_head, NULL, h, e) < 0) {
        free(h);
        return -1;
    }
    *head = h;
    return 0;
}
