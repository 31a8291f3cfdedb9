/* engine_deps.c: see engine_deps.h. */
#include "engine_deps.h"

#include <stdlib.h>
#include <string.h>

int rt_ops_only_feeding(const mgc_plan_entry *en, long stop, long last, unsigned inputs,
                        int (*join)(const mgc_plan_entry *en, size_t i, void *ctx), void *ctx, unsigned char *in_set,
                        mgc_error *e)
{
    size_t nb = en->nbufs ? en->nbufs : 1;
    /* left[b]: reads of buffer b by ops not (yet) in the set */
    int *left = calloc(nb, sizeof(int)), *readers = calloc(nb, sizeof(int)), *writers = calloc(nb, sizeof(int));
    if (!left || !readers || !writers) {
        free(left), free(readers), free(writers);
        return mgc_errorf(e, "out of memory");
    }
    for (size_t i = 0; i < en->nops; i++) {
        const mgc_plan_op *op = &en->ops[i];
        for (int k = 0; k < 3; k++)
            if (op->in[k] >= 0)
                left[op->in[k]]++, readers[op->in[k]]++;
        if (op->out >= 0)
            writers[op->out]++;
    }
    memset(in_set, 0, en->nops);
    in_set[last] = 1;
    for (int k = 0; k < 3; k++)
        if ((inputs >> k & 1u) && en->ops[last].in[k] >= 0)
            left[en->ops[last].in[k]]--;
    int members = 0;
    for (long i = last - 1; i > stop; i--) {
        const mgc_plan_op *op = &en->ops[i];
        if (op->out < 0 || writers[op->out] != 1 || readers[op->out] == 0 || left[op->out] != 0 ||
            !join(en, (size_t)i, ctx))
            continue;
        in_set[i] = 1;
        members++;
        for (int k = 0; k < 3; k++)
            if (op->in[k] >= 0)
                left[op->in[k]]--;
    }
    free(left);
    free(readers);
    free(writers);
    return members;
}

int rt_kernel_row_by_row(mgc_kernel k)
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
