/* pad.c: decide the per-device width of every split value.
 *
 * A value split over D devices normally gets width/D columns per device.
 * When that is not a whole number of tiles, the value is padded: its width is
 * rounded up to a multiple of D * tile, the extra weight rows/columns are
 * zero, and gathers trim the padding off again (Phi-3's vocab of 32064 over 8
 * devices becomes 8 x 4032).  Values split by heads are never padded: a head
 * is the unit there, and head counts must divide by D (checked when the heads
 * are made).
 *
 * Split values connected through elementwise ops, views and row-parallel
 * consumers must agree on their padding, so they are grouped with a
 * union-find and each group is decided once. */
#include "pad.h"

#include <stdlib.h>

static int find(int *parent, int x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void unite(int *parent, int a, int b)
{
    a = find(parent, a);
    b = find(parent, b);
    if (a != b)
        parent[a] = b;
}

static int splits(const mgc_ir *ir, int i) { return i >= 0 && ir->nodes[i].sh == MGC_SH_SPLIT; }

int mgc_pad(mgc_ir *ir, int tile, mgc_diags *d)
{
    size_t n = ir->nnodes;
    int ndev = ir->ndevices;
    for (size_t i = 0; i < n; i++)
        ir->nodes[i].padded = ir->nodes[i].width;
    for (size_t i = 0; i < ir->nweights; i++) {
        mgc_ir_weight *w = &ir->weights[i];
        w->padded = w->shard == MGC_SHARD_SPLIT ? (w->dim == 0 ? w->rows : w->cols) : 0;
    }
    if (ndev <= 1)
        return 0;
    int *parent = malloc(sizeof(int) * (n ? n : 1));
    char *heads = calloc(n ? n : 1, 1);
    for (size_t i = 0; i < n; i++)
        parent[i] = (int)i;
    for (size_t i = 0; i < n; i++) {
        mgc_ir_node *x = &ir->nodes[i];
        if (x->heads && x->sh == MGC_SH_SPLIT)
            heads[i] = 1;
        if (x->sh != MGC_SH_SPLIT)
            continue;
        /* a split result shares its layout with its split inputs */
        for (int k = 0; k < x->nin; k++)
            if (splits(ir, x->in[k]) && x->op != MGC_IR_ALL_GATHER)
                unite(parent, (int)i, x->in[k]);
    }
    for (size_t i = 0; i < n; i++)
        if (heads[i])
            heads[find(parent, (int)i)] = 1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        mgc_ir_node *x = &ir->nodes[i];
        if (x->sh != MGC_SH_SPLIT)
            continue;
        int root = find(parent, (int)i);
        /* with replicas r, the value is cut into ndev / r pieces */
        int pieces = ndev / (x->replicas > 0 ? x->replicas : 1);
        if (heads[root]) {
            if (x->width % pieces) {
                mgc_error_at(d, x->span, "a width of %lld split by heads does not divide over %d devices",
                             (long long)x->width, pieces);
                rc = -1;
                break;
            }
            x->padded = x->width;
        } else {
            int64_t unit = (int64_t)pieces * tile;
            x->padded = (x->width + unit - 1) / unit * unit;
        }
    }
    /* weights follow the values they produce (column-parallel) or consume (row-parallel) */
    for (size_t i = 0; i < n && rc == 0; i++) {
        mgc_ir_node *x = &ir->nodes[i];
        if ((x->op != MGC_IR_LINEAR && x->op != MGC_IR_ADD_BIAS) || x->weight < 0)
            continue;
        mgc_ir_weight *w = &ir->weights[x->weight];
        if (w->shard != MGC_SHARD_SPLIT)
            continue;
        if (w->dim == 0)
            w->padded = x->padded;
        else
            w->padded = ir->nodes[x->in[0]].padded;
    }
    free(parent);
    free(heads);
    return rc;
}

int64_t mgc_ir_local_width(const mgc_ir *ir, const mgc_ir_node *n)
{
    if (n->sh == MGC_SH_SPLIT && ir->ndevices > 1)
        return n->padded / (ir->ndevices / (n->replicas > 0 ? n->replicas : 1));
    return n->width;
}
