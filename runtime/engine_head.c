/* engine_head.c: see engine_head.h. */
#include "engine_head.h"

#include <stdlib.h>
#include <string.h>

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

int rt_head_ops_find(const mgc_plan_entry *en, unsigned char **head, mgc_error *e)
{
    *head = NULL;
    long out_at = -1;
    for (size_t i = 0; i < en->nops; i++)
        if (en->ops[i].kernel == MGC_K_OUTPUT)
            out_at = (long)i;
    if (out_at < 0)
        return 0;
    unsigned char *h = calloc(en->nops, 1);
    size_t nb = en->nbufs ? en->nbufs : 1;
    int *left = calloc(nb, sizeof(int)), *readers = calloc(nb, sizeof(int)), *writers = calloc(nb, sizeof(int));
    if (!h || !left || !readers || !writers) {
        free(h), free(left), free(readers), free(writers);
        return mgc_errorf(e, "out of memory");
    }
    /* left[b]: reads of buffer b by ops not (yet) in the head */
    for (size_t i = 0; i < en->nops; i++) {
        const mgc_plan_op *op = &en->ops[i];
        for (int k = 0; k < 3; k++)
            if (op->in[k] >= 0)
                left[op->in[k]]++, readers[op->in[k]]++;
        if (op->out >= 0)
            writers[op->out]++;
    }
    h[out_at] = 1;
    for (int k = 0; k < 3; k++)
        if (en->ops[out_at].in[k] >= 0)
            left[en->ops[out_at].in[k]]--;
    /* consumers come after producers: each op's readers are decided first */
    for (long i = out_at - 1; i >= 0; i--) {
        const mgc_plan_op *op = &en->ops[i];
        /* read, and by head ops alone */
        if (!row_by_row(op->kernel) || op->out < 0 || writers[op->out] != 1 || readers[op->out] == 0 ||
            left[op->out] != 0 || op->device >= 0)
            continue;
        h[i] = 1;
        for (int k = 0; k < 3; k++)
            if (op->in[k] >= 0)
                left[op->in[k]]--;
    }
    free(left);
    free(readers);
    free(writers);
    *head = h;
    return 0;
}
