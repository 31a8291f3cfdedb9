/* shard.c: the sharding pass.
 *
 * Elaboration builds the IR as if there were one device and records, on each
 * anchor op, the statement's annotation (@col, @row, @heads, @replicated,
 * @experts).  This pass walks the nodes in order and decides, for each value,
 * how it lies on the mesh (replicated, split on its last dimension or by
 * heads, a partial sum, or owned by one device), and for each weight how it
 * is distributed.  Where an op needs its operand in another layout it inserts
 * the collective that makes it so: an all_reduce for a partial sum (or an
 * owned value), an all_gather for a split one, a `shard` (a local slice, no
 * communication) to split a replicated value.  The result is a new node list;
 * indices of the input, the output and the layer snapshots are remapped.
 *
 * The rules, op by op, are in shard_node().  Two need a look ahead, done
 * before the walk:
 *   - KV heads fewer than devices: attention @heads with n_kv < D (and D a
 *     multiple of n_kv) replicates each KV head over the D / n_kv devices whose
 *     query heads read it; the K and V projections feeding it are marked so
 *     they are split into n_kv pieces with D / n_kv replicas each.
 *   - Expert parallelism: nodes made inside an expert of moe(...) @experts run
 *     only on the expert's owner device; their weights are owned by it. */
#include "shard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct P {
    mgc_ir *ir;
    mgc_diags *d;
    int ndev;
    mgc_ir_node *out;
    size_t nout, cap;
    int *map;          /* old node -> new node */
    int *whole;        /* new node -> the collective that made it whole, -1 none (one per value, however many users) */
    int failed;
    int kv_seen;       /* attentions seen: later ones must use the same cache layout */
} P;

static int perr(P *p, const mgc_ir_node *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(P *p, const mgc_ir_node *at, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mgc_error_at(p->d, at->span, "%s", msg);
    p->failed = 1;
    return -1;
}

/* The "called from" notes of the def chain that made a node. */
static void chain_notes(P *p, const mgc_ir_node *at)
{
    if (at->chain < 0 || (size_t)at->chain >= p->ir->nchains)
        return;
    const mgc_ir_chain *c = &p->ir->chains[at->chain];
    for (int i = c->depth; i-- > 0;)
        mgc_diag(p->d, MGC_NOTE, c->calls[i], "in '%s', called from here", c->callees[i]);
}

static int emit(P *p, const mgc_ir_node *n)
{
    if (p->nout == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->out = realloc(p->out, p->cap * sizeof *p->out);
        if (!p->out)
            abort();
    }
    p->out[p->nout] = *n;
    if (p->nout % 256 == 0) {
        p->whole = realloc(p->whole, (p->nout + 256) * sizeof *p->whole);
        if (!p->whole)
            abort();
    }
    p->whole[p->nout] = -1;
    return (int)p->nout++;
}

static mgc_ir_node *at(P *p, int i) { return &p->out[i]; }

/* A collective or local slice of value x, inserted in front of `user`. */
static int insert(P *p, mgc_ir_opcode op, int x, const mgc_ir_node *user, mgc_sharding sh, int replicas)
{
    mgc_ir_node c = *at(p, x);
    c.op = op;
    c.in[0] = x;
    c.in[1] = c.in[2] = -1;
    c.nin = 1;
    c.weight = c.weight2 = -1;
    c.rope = c.layer = -1;
    c.ann = MGC_ANN_NONE;
    c.moe_ep = 0;
    c.expert = -1;
    c.sh = sh;
    c.replicas = replicas;
    c.device = -1;
    c.inserted = 1;
    c.span = user->span;
    c.chain = user->chain;
    return emit(p, &c);
}

/* Makes x whole on every device: the collective is made once per value and
 * shared by every op that needs the value whole. */
static int need_repl(P *p, int x, const mgc_ir_node *user)
{
    mgc_ir_node *n = at(p, x);
    if (n->sh != MGC_SH_REPLICATED && p->whole[x] >= 0)
        return p->whole[x];
    int w;
    switch (n->sh) {
    case MGC_SH_REPLICATED:
        return x;
    case MGC_SH_PARTIAL:
    case MGC_SH_OWNED:
        w = insert(p, MGC_IR_ALL_REDUCE, x, user, MGC_SH_REPLICATED, 1);
        return p->whole[x] = w;
    case MGC_SH_SPLIT:
        if (n->replicas > 1) {
            perr(p, user, "%s needs a whole value, but its operand is split with each piece on %d devices",
                 mgc_ir_opcode_name(user->op), n->replicas);
            chain_notes(p, user);
            return -1;
        }
        w = insert(p, MGC_IR_ALL_GATHER, x, user, MGC_SH_REPLICATED, 1);
        return p->whole[x] = w;
    }
    return -1;
}

/* Makes x split on its last dimension (by heads for a heads view), each piece
 * on `replicas` devices. */
static int need_split(P *p, int x, int replicas, const mgc_ir_node *user)
{
    mgc_ir_node *n = at(p, x);
    if (n->sh == MGC_SH_SPLIT && n->replicas == replicas)
        return x;
    x = need_repl(p, x, user);
    if (x < 0)
        return -1;
    return insert(p, MGC_IR_SHARD, x, user, MGC_SH_SPLIT, replicas);
}

/* Makes operand k of n whole on every device, rewiring n to the result. */
static int whole_operand(P *p, mgc_ir_node *n, int k)
{
    int x = need_repl(p, n->in[k], n);
    if (x < 0)
        return -1;
    n->in[k] = x;
    return 0;
}

static int owner_of(const mgc_ir *ir, int expert)
{
    int64_t e = ir->n_experts > 0 ? ir->n_experts : 1;
    if (e >= ir->ndevices)
        return (int)((int64_t)expert * ir->ndevices / e);
    return expert % ir->ndevices;
}

static int place(P *p, int wi, const mgc_ir_node *user, mgc_shard_kind kind, int dim, int replicas, int owner)
{
    if (wi < 0)
        return 0;
    mgc_ir_weight *w = &p->ir->weights[wi];
    if (w->placed) {
        if (w->shard == kind && (kind == MGC_SHARD_REPLICATED || w->dim == dim) && w->replicas == replicas &&
            w->owner == owner)
            return 0;
        mgc_ir_node at_w = *user;
        if (user->wspan.file)
            at_w.span = user->wspan;
        perr(p, &at_w, "weight '%s' is used twice with different shapes, sharding or precision", w->id);
        mgc_diag_hint(p->d, "a second use with its own sharding is written 'tied w\"...\"'");
        chain_notes(p, user);
        return -1;
    }
    w->placed = 1;
    w->shard = kind;
    w->dim = kind == MGC_SHARD_SPLIT ? dim : 0;
    w->replicas = replicas;
    w->owner = owner;
    return 0;
}

/* The sharding of the result of an elementwise op of a and b, inserting what
 * is needed.  Returns -1 on error. */
static int elementwise(P *p, mgc_ir_node *n)
{
    mgc_ir_node *a = at(p, n->in[0]), *b = at(p, n->in[1]);
    mgc_sharding sa = a->sh, sb = b->sh;
    int additive = n->op == MGC_IR_ADD || n->op == MGC_IR_SUB;
    if (sa == sb && sa == MGC_SH_REPLICATED) {
        n->sh = sa;
        return 0;
    }
    if (sa == MGC_SH_SPLIT && sb == MGC_SH_SPLIT && a->replicas == b->replicas) {
        n->sh = sa;
        n->replicas = a->replicas;
        return 0;
    }
    if (additive && sa == MGC_SH_PARTIAL && sb == MGC_SH_PARTIAL) {
        n->sh = MGC_SH_PARTIAL;
        return 0;
    }
    if (sa == MGC_SH_OWNED && sb == MGC_SH_OWNED && a->device == b->device) {
        n->sh = MGC_SH_OWNED;
        n->device = a->device;
        return 0;
    }
    /* an owned value is zero off its owner, so it adds into partial sums */
    if (additive && (sa == MGC_SH_OWNED || sa == MGC_SH_PARTIAL) && (sb == MGC_SH_OWNED || sb == MGC_SH_PARTIAL)) {
        n->sh = MGC_SH_PARTIAL;
        return 0;
    }
    /* ... and it stays zero when multiplied by a whole value */
    if (!additive && ((sa == MGC_SH_OWNED && sb == MGC_SH_REPLICATED) || (sb == MGC_SH_OWNED && sa == MGC_SH_REPLICATED)) &&
        !(n->op == MGC_IR_DIV && sb == MGC_SH_OWNED)) {
        n->sh = MGC_SH_OWNED;
        n->device = sa == MGC_SH_OWNED ? a->device : b->device;
        return 0;
    }
    if (whole_operand(p, n, 0) < 0 || whole_operand(p, n, 1) < 0)
        return -1;
    n->sh = MGC_SH_REPLICATED;
    return 0;
}

/* Ops that apply the same function to every value: the result lies like the
 * operand.  `linear_op`: f(a + b) = f(a) + f(b), so a partial sum stays one. */
static int pointwise(P *p, mgc_ir_node *n, int linear_op)
{
    mgc_ir_node *a = at(p, n->in[0]);
    if (a->sh == MGC_SH_PARTIAL && !linear_op) {
        if (whole_operand(p, n, 0) < 0)
            return -1;
        a = at(p, n->in[0]);
    }
    n->sh = a->sh;
    n->replicas = a->replicas;
    n->device = a->device;
    return 0;
}

static int shard_node(P *p, mgc_ir_node *n)
{
    mgc_ir *ir = p->ir;
    int ndev = p->ndev;
    int owner = n->moe_ep && n->expert >= 0 ? owner_of(ir, n->expert) : -1;
    n->sh = MGC_SH_REPLICATED;
    n->device = -1;
    int want_replicas = n->replicas > 0 ? n->replicas : 1;
    n->replicas = 1;
    if (ndev <= 1) {
        /* one device: everything is whole, explicit collectives vanish */
        place(p, n->weight, n, MGC_SHARD_REPLICATED, 0, 1, -1);
        place(p, n->weight2, n, MGC_SHARD_REPLICATED, 0, 1, -1);
        return 0;
    }
    if (owner >= 0 && n->op != MGC_IR_ALL_REDUCE && n->op != MGC_IR_ALL_GATHER) {
        /* inside an expert on its owner: the operands must be whole there */
        for (int k = 0; k < n->nin; k++) {
            mgc_ir_node *x = at(p, n->in[k]);
            if (x->sh == MGC_SH_OWNED && x->device == owner)
                continue;
            if (whole_operand(p, n, k) < 0)
                return -1;
        }
        if (place(p, n->weight, n, MGC_SHARD_OWNED, 0, 1, owner) < 0 ||
            place(p, n->weight2, n, MGC_SHARD_OWNED, 0, 1, owner) < 0)
            return -1;
        if (n->op == MGC_IR_ATTENTION)
            return perr(p, n, "attention cannot be part of an expert");
        n->sh = MGC_SH_OWNED;
        n->device = owner;
        return 0;
    }
    switch (n->op) {
    case MGC_IR_INPUT:
        return 0;
    case MGC_IR_EMBEDDING:
    case MGC_IR_POS_EMBEDDING:
        return place(p, n->weight, n, MGC_SHARD_REPLICATED, 0, 1, -1);
    case MGC_IR_LINEAR: {
        if (n->ann == MGC_ANN_ROW) {
            mgc_ir_node *xn = at(p, n->in[0]);
            if (xn->sh != MGC_SH_SPLIT || xn->replicas != 1) {
                perr(p, n, "a row-parallel linear needs its input split on the last dimension, but here it is %s",
                     mgc_sharding_name(xn->sh));
                mgc_diag_hint(p->d, "feed it the result of a @col linear (or of attention @heads)");
                chain_notes(p, n);
                return -1;
            }
            n->sh = MGC_SH_PARTIAL;
            return place(p, n->weight, n, MGC_SHARD_SPLIT, 1, 1, -1);
        }
        if (whole_operand(p, n, 0) < 0)
            return -1;
        if (n->ann == MGC_ANN_COL) {
            n->sh = MGC_SH_SPLIT;
            n->replicas = want_replicas;
            return place(p, n->weight, n, MGC_SHARD_SPLIT, 0, want_replicas, -1);
        }
        return place(p, n->weight, n, MGC_SHARD_REPLICATED, 0, 1, -1);
    }
    case MGC_IR_ADD_BIAS: {
        mgc_ir_node *a = at(p, n->in[0]);
        if (a->sh == MGC_SH_SPLIT) {
            n->sh = MGC_SH_SPLIT;
            n->replicas = a->replicas;
            return place(p, n->weight, n, MGC_SHARD_SPLIT, 0, a->replicas, -1);
        }
        /* a row-parallel result: the bias is added once, to the reduced sum */
        if (whole_operand(p, n, 0) < 0)
            return -1;
        return place(p, n->weight, n, MGC_SHARD_REPLICATED, 0, 1, -1);
    }
    case MGC_IR_RMS_NORM:
    case MGC_IR_LAYER_NORM: {
        mgc_ir_node *a = at(p, n->in[0]);
        /* per head: any head split works; over the whole row: needs it all */
        if (!(n->heads && a->sh == MGC_SH_SPLIT)) {
            if (whole_operand(p, n, 0) < 0)
                return -1;
            a = at(p, n->in[0]);
        }
        n->sh = a->sh;
        n->replicas = a->replicas;
        return place(p, n->weight, n, MGC_SHARD_REPLICATED, 0, 1, -1) < 0 ? -1
               : place(p, n->weight2, n, MGC_SHARD_REPLICATED, 0, 1, -1);
    }
    case MGC_IR_HEADS: {
        mgc_ir_node *a = at(p, n->in[0]);
        if (a->sh == MGC_SH_PARTIAL || a->sh == MGC_SH_OWNED) {
            if (whole_operand(p, n, 0) < 0)
                return -1;
            a = at(p, n->in[0]);
        }
        if (a->sh == MGC_SH_SPLIT && ((int64_t)n->heads * a->replicas) % ndev) {
            perr(p, n, "heads: %d heads do not split over the %d devices of %s", n->heads, ndev, ir->system);
            chain_notes(p, n);
            return -1;
        }
        n->sh = a->sh;
        n->replicas = a->replicas;
        return 0;
    }
    case MGC_IR_CONCAT_HEADS:
        return pointwise(p, n, 1);
    case MGC_IR_ROTARY:
        return pointwise(p, n, 0);
    case MGC_IR_ATTENTION: {
        mgc_ir_node *q = at(p, n->in[0]), *k = at(p, n->in[1]);
        if (n->ann != MGC_ANN_HEADS) {
            for (int i = 0; i < 3; i++)
                if (whole_operand(p, n, i) < 0)
                    return -1;
            if (p->kv_seen++ && ir->cache_split)
                return perr(p, n, "every attention must use the same KV-cache layout: this one is replicated, an earlier one split by heads");
            ir->cache_split = 0;
            ir->cache_replicas = 1;
            return 0;
        }
        int nkv = k->heads, nq = q->heads, r = 1;
        if (nkv % ndev) {
            if (ndev % nkv || nq % ndev) {
                perr(p, n, "attention @heads: %d KV heads do not split over the %d devices of %s", nkv, ndev,
                     ir->system);
                if (ndev % nkv == 0)
                    mgc_diag_hint(p->d, "KV heads can be replicated over devices only when the %d query heads split over them", nq);
                chain_notes(p, n);
                return -1;
            }
            r = ndev / nkv;
        }
        int qi = need_split(p, n->in[0], 1, n);
        int ki = qi >= 0 ? need_split(p, n->in[1], r, n) : -1;
        int vi = ki >= 0 ? need_split(p, n->in[2], r, n) : -1;
        if (vi < 0)
            return -1;
        n->in[0] = qi;
        n->in[1] = ki;
        n->in[2] = vi;
        if (p->kv_seen++ && (!ir->cache_split || ir->cache_replicas != r))
            return perr(p, n, "every attention must use the same KV-cache layout");
        ir->cache_split = 1;
        ir->cache_replicas = r;
        n->sh = MGC_SH_SPLIT;
        return 0;
    }
    case MGC_IR_ADD:
    case MGC_IR_SUB:
    case MGC_IR_MUL:
    case MGC_IR_DIV:
        return elementwise(p, n);
    case MGC_IR_SCALE:
    case MGC_IR_DIV_SCALAR:
        return pointwise(p, n, 1);
    case MGC_IR_ADD_SCALAR:
    case MGC_IR_SILU:
    case MGC_IR_GELU:
    case MGC_IR_GELU_TANH:
    case MGC_IR_TANH:
    case MGC_IR_EXP:
    case MGC_IR_RELU:
    case MGC_IR_SIGMOID:
    case MGC_IR_SOFTCAP:
        return pointwise(p, n, 0);
    case MGC_IR_ROUTE: {
        return whole_operand(p, n, 0);
    }
    case MGC_IR_EXPERT_SCALE: {
        if (whole_operand(p, n, 1) < 0)
            return -1;
        mgc_ir_node *a = at(p, n->in[0]);
        n->sh = a->sh;
        n->replicas = a->replicas;
        n->device = a->device;
        return 0;
    }
    case MGC_IR_ALL_REDUCE:
    case MGC_IR_ALL_GATHER: {
        mgc_ir_node *a = at(p, n->in[0]);
        int ok = n->op == MGC_IR_ALL_REDUCE ? a->sh == MGC_SH_PARTIAL || a->sh == MGC_SH_OWNED
                                            : a->sh == MGC_SH_SPLIT && a->replicas == 1;
        if (!ok) {
            perr(p, n, "%s of a value that is %s (it applies to a %s value)",
                 n->op == MGC_IR_ALL_REDUCE ? "all_reduce" : "all_gather", mgc_sharding_name(a->sh),
                 n->op == MGC_IR_ALL_REDUCE ? "partial" : "split");
            chain_notes(p, n);
            return -1;
        }
        return 0;
    }
    case MGC_IR_OUTPUT: {
        mgc_ir_node *a = at(p, n->in[0]);
        if (a->sh == MGC_SH_SPLIT && a->replicas == 1) {
            n->sh = MGC_SH_SPLIT;
            return 0;
        }
        return whole_operand(p, n, 0);
    }
    case MGC_IR_SHARD:
        return perr(p, n, "internal error: a shard node before the sharding pass");
    }
    return perr(p, n, "internal error: no sharding rule for %s", mgc_ir_opcode_name(n->op));
}

/* KV heads fewer than devices: mark the K and V producers of attention
 * @heads so that they split into n_kv pieces with D / n_kv replicas. */
static void mark_kv_replicas(mgc_ir *ir)
{
    int ndev = ir->ndevices;
    for (size_t i = 0; i < ir->nnodes; i++) {
        mgc_ir_node *n = &ir->nodes[i];
        if (n->op != MGC_IR_ATTENTION || n->ann != MGC_ANN_HEADS)
            continue;
        int nkv = ir->nodes[n->in[1]].heads;
        if (nkv <= 0 || nkv % ndev == 0 || ndev % nkv)
            continue;
        for (int k = 1; k <= 2; k++) {
            int t = n->in[k];
            while (t >= 0) {
                mgc_ir_node *x = &ir->nodes[t];
                x->replicas = ndev / nkv;
                if (x->op == MGC_IR_LINEAR)
                    break;
                int passes = x->op == MGC_IR_HEADS || x->op == MGC_IR_ROTARY || x->op == MGC_IR_ADD_BIAS ||
                             x->op == MGC_IR_SCALE || x->op == MGC_IR_ADD_SCALAR || x->op == MGC_IR_DIV_SCALAR ||
                             ((x->op == MGC_IR_RMS_NORM || x->op == MGC_IR_LAYER_NORM) && x->heads);
                t = passes ? x->in[0] : -1;
            }
        }
    }
}

int mgc_shard(mgc_ir *ir, mgc_diags *d)
{
    P p = {.ir = ir, .d = d, .ndev = ir->ndevices};
    p.map = malloc(sizeof(int) * (ir->nnodes ? ir->nnodes : 1));
    if (!p.map)
        abort();
    for (size_t i = 0; i < ir->nweights; i++) {
        ir->weights[i].placed = 0;
        ir->weights[i].shard = MGC_SHARD_REPLICATED;
        ir->weights[i].dim = 0;
        ir->weights[i].replicas = 1;
        ir->weights[i].owner = -1;
    }
    ir->cache_split = 0;
    ir->cache_replicas = 1;
    if (p.ndev > 1)
        mark_kv_replicas(ir);
    int rc = 0;
    for (size_t i = 0; i < ir->nnodes && rc == 0; i++) {
        mgc_ir_node n = ir->nodes[i];
        for (int k = 0; k < n.nin; k++)
            n.in[k] = p.map[n.in[k]];
        if (p.ndev <= 1 && (n.op == MGC_IR_ALL_REDUCE || n.op == MGC_IR_ALL_GATHER)) {
            p.map[i] = n.in[0];
            continue;
        }
        rc = shard_node(&p, &n);
        if (rc == 0)
            p.map[i] = emit(&p, &n);
    }
    if (rc == 0) {
        /* the nodes move into the IR's arena; indices are remapped */
        mgc_ir_node *nodes = mgc_arena_alloc(&ir->arena, sizeof *nodes * (p.nout ? p.nout : 1));
        memcpy(nodes, p.out, sizeof *nodes * p.nout);
        if (ir->input >= 0)
            ir->input = p.map[ir->input];
        if (ir->output >= 0)
            ir->output = p.map[ir->output];
        for (size_t t = 0; t < ir->ntaps; t++)
            ir->taps[t] = p.map[ir->taps[t]];
        /* layer snapshots are compared whole: a split or partial one means
         * the forward has no clean residual stream to compare */
        for (size_t t = 0; t < ir->ntaps; t++)
            if (p.out[ir->taps[t]].sh != MGC_SH_REPLICATED)
                ir->ntaps = 0;
        ir->nodes = nodes;
        ir->nnodes = ir->capnodes = p.nout;
    }
    free(p.out);
    free(p.whole);
    free(p.map);
    return rc;
}
