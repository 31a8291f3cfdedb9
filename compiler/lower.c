/* lower.c: IR -> plan.
 *
 * Each IR node becomes zero (views), one or two kernel ops, once for the
 * prefill entry point and once for decode.  The only node that lowers
 * differently in the two is attention: prefill writes the prompt's K and V
 * into the cache (fill_cache) and attends causally over the prompt (sdpa);
 * decode writes one position per user (update_cache) and attends over each
 * user's cache (sdpa_decode).
 *
 * Weights become slice tables: for every device, the range of the checkpoint
 * tensor it reads and the local shape it stores (padding rows/columns are
 * zeros the runtime adds). */
#include "fmt_int.h"
#include "lower.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static void lower_weight(const mgc_ir *ir, const mgc_ir_weight *w, mgc_plan_weight *pw)
{
    int ndev = ir->ndevices;
    pw->id = mgc_xstrdup(w->id);
    pw->hf_name = mgc_xstrdup(w->hf_name);
    pw->rank = w->rank;
    pw->hf_shape[0] = w->hf_rows > 0 ? w->hf_rows : w->row0 + w->rows;
    pw->hf_shape[1] = w->rank == 2 ? w->cols : 0;
    if (w->transposed) { /* the checkpoint's own [in, out] */
        pw->hf_shape[1] = pw->hf_shape[0];
        pw->hf_shape[0] = w->cols;
    }
    pw->shape[0] = w->rows;
    pw->shape[1] = w->rank == 2 ? w->cols : 0;
    pw->row0 = w->row0;
    pw->role = w->role;
    pw->dtype = w->dtype;
    pw->shard = w->shard;
    pw->dim = w->dim;
    pw->replicas = w->shard == MGC_SHARD_SPLIT && w->replicas > 0 ? w->replicas : 1;
    pw->owner = w->shard == MGC_SHARD_OWNED ? w->owner : -1;
    pw->transposed = w->transposed;
    pw->derive_scale = w->derive_scale;
    pw->derive_offset = w->derive_offset;
    pw->padded = w->shard == MGC_SHARD_SPLIT ? w->padded : 0;
    pw->slices = mgc_xcalloc((size_t)ndev, sizeof *pw->slices);
    uint64_t maxbytes = 0;
    for (int dv = 0; dv < ndev; dv++) {
        mgc_weight_slice *s = &pw->slices[dv];
        s->range[0].lo = w->row0;
        s->range[0].hi = w->row0 + w->rows;
        s->range[1].lo = 0;
        s->range[1].hi = w->rank == 2 ? w->cols : 0;
        s->local_shape[0] = w->rows;
        s->local_shape[1] = w->rank == 2 ? w->cols : 0;
        if (w->shard == MGC_SHARD_OWNED && dv != w->owner) {
            /* held by its owner alone */
            s->range[0].hi = s->range[0].lo;
            s->range[1].lo = s->range[1].hi = 0;
            s->local_shape[0] = s->local_shape[1] = 0;
            continue;
        }
        if (w->shard == MGC_SHARD_SPLIT) {
            int64_t full = w->dim == 0 ? w->rows : w->cols;
            int r = pw->replicas, pieces = ndev / r;
            int64_t local = w->padded / pieces;
            int64_t lo = (int64_t)(dv / r) * local, hi = lo + local;
            if (lo > full)
                lo = full;
            if (hi > full)
                hi = full;
            int64_t base = w->dim == 0 ? w->row0 : 0;
            s->range[w->dim].lo = base + lo;
            s->range[w->dim].hi = base + hi;
            s->local_shape[w->dim] = local;
        }
        uint64_t n = (uint64_t)s->local_shape[0] * (uint64_t)(w->rank == 2 ? s->local_shape[1] : 1);
        uint64_t b = mgc_dtype_bytes(w->dtype, n);
        if (b > maxbytes)
            maxbytes = b;
    }
    pw->bytes_per_device = maxbytes;
}

/* Lowering state of one entry point. */
typedef struct L {
    const mgc_ir *ir;
    mgc_plan_entry *en;
    size_t capops, capbufs;
    int *buf_of;       /* IR node -> buffer id (views share their input's) */
    int decode;
} L;

static int add_buf(L *l, const mgc_ir_node *n, const char *name)
{
    mgc_plan_entry *en = l->en;
    if (en->nbufs == l->capbufs) {
        l->capbufs = l->capbufs ? l->capbufs * 2 : 64;
        en->bufs = realloc(en->bufs, l->capbufs * sizeof *en->bufs);
        if (!en->bufs)
            abort();
    }
    mgc_plan_buffer *b = &en->bufs[en->nbufs];
    memset(b, 0, sizeof *b);
    b->id = (int)en->nbufs;
    b->name = mgc_xstrdup(name);
    b->cols = mgc_ir_local_width(l->ir, n);
    b->dtype = n->act;
    /* Clamped, not overflowed: no buffer this large fits any system's DRAM, and a
     * bounded size lets memplan's sums report that instead of wrapping around. */
    const int64_t max_size = (int64_t)1 << 50;
    if (__builtin_mul_overflow(en->rows, b->cols, &b->size) || b->size > max_size || b->size < 0)
        b->size = max_size;
    b->first = b->last = -1;
    en->nbufs++;
    return b->id;
}

static mgc_plan_op *add_op(L *l, mgc_kernel k, const mgc_ir_node *n)
{
    mgc_plan_entry *en = l->en;
    if (en->nops == l->capops) {
        l->capops = l->capops ? l->capops * 2 : 128;
        en->ops = realloc(en->ops, l->capops * sizeof *en->ops);
        if (!en->ops)
            abort();
    }
    mgc_plan_op *op = &en->ops[en->nops++];
    memset(op, 0, sizeof *op);
    op->kernel = k;
    op->in[0] = op->in[1] = op->in[2] = -1;
    op->out = op->weight = op->layer = op->rope = op->tap = -1;
    op->weight2 = op->device = -1;
    op->replicas = 1;
    /* "file:line:col" (no snprintf: this runs once per op) */
    const char *file = n->span.file ? n->span.file : "?";
    size_t fl = strlen(file);
    char *where = mgc_xmalloc(fl + 2 * MGC_FMT_INT_MAX + 3), *q = where + fl;
    memcpy(where, file, fl);
    *q++ = ':';
    q += mgc_fmt_i64(q, n->span.line);
    *q++ = ':';
    mgc_fmt_i64(q, n->span.col);
    op->where = where;
    return op;
}

/* Appends s (at most its first n chars) to buf [*len, sz), NUL-terminated,
 * truncating at the end of buf. */
static void put(char *buf, size_t sz, size_t *len, const char *s, size_t n)
{
    size_t room = sz - 1 - *len;
    if (n > room)
        n = room;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = 0;
}

/* A buffer's name, for plans and error messages: "l3.self_attn.q_proj" for the
 * output of model.layers.3.self_attn.q_proj.weight, "l3.attention", else
 * "OP.INDEX".  (Built by hand: this runs for every node of both entries, and
 * snprintf was a fifth of a large plan's lowering.) */
static const char *buf_name(const mgc_ir *ir, const mgc_ir_node *n, size_t idx, char *buf, size_t sz)
{
    size_t len = 0;
    char num[MGC_FMT_INT_MAX];
    buf[0] = 0;
    if (n->weight >= 0) {
        const char *id = ir->weights[n->weight].id;
        /* model.layers.3.self_attn.q_proj.weight -> l3.self_attn.q_proj */
        const char *p = strstr(id, "layers.");
        if (p) {
            put(buf, sz, &len, "l", 1);
            id = p + 7;
        } else if (strncmp(id, "model.", 6) == 0) {
            id += 6;
        }
        const char *dotw = strstr(id, ".weight");
        put(buf, sz, &len, id, dotw ? (size_t)(dotw - id) : strlen(id));
        if (dotw)
            put(buf, sz, &len, dotw + 7, strlen(dotw + 7));
    } else if (n->op == MGC_IR_ATTENTION) {
        put(buf, sz, &len, "l", 1);
        put(buf, sz, &len, num, mgc_fmt_i64(num, n->layer));
        put(buf, sz, &len, ".attention", 10);
    } else {
        const char *what = mgc_ir_opcode_name(n->op);
        put(buf, sz, &len, what, strlen(what));
        put(buf, sz, &len, ".", 1);
        put(buf, sz, &len, num, mgc_fmt_u64(num, idx));
    }
    return buf;
}

/* Ops with one kernel each, and no attributes beyond their operands and
 * `scale` (the constant of the scalar ops and softcap). */
static mgc_kernel kernel_of(mgc_ir_opcode op)
{
    switch (op) {
    case MGC_IR_ADD: return MGC_K_ADD;
    case MGC_IR_SUB: return MGC_K_SUB;
    case MGC_IR_MUL: return MGC_K_MUL;
    case MGC_IR_DIV: return MGC_K_DIV;
    case MGC_IR_EXPERT_SCALE: return MGC_K_EXPERT_SCALE;
    case MGC_IR_SCALE: return MGC_K_SCALE;
    case MGC_IR_ADD_SCALAR: return MGC_K_ADD_SCALAR;
    case MGC_IR_DIV_SCALAR: return MGC_K_DIV_SCALAR;
    case MGC_IR_SOFTCAP: return MGC_K_SOFTCAP;
    case MGC_IR_SILU: return MGC_K_SILU;
    case MGC_IR_GELU: return MGC_K_GELU;
    case MGC_IR_GELU_TANH: return MGC_K_GELU_TANH;
    case MGC_IR_TANH: return MGC_K_TANH;
    case MGC_IR_EXP: return MGC_K_EXP;
    case MGC_IR_RELU: return MGC_K_RELU;
    default: return MGC_K_SIGMOID;
    }
}

static int lower_entry(const mgc_ir *ir, int decode, int64_t rows, mgc_plan_entry *en)
{
    memset(en, 0, sizeof *en);
    en->rows = rows;
    L l = {.ir = ir, .en = en, .decode = decode};
    /* Most nodes lower to one op: reserve that many up front (growth by
     * realloc copies the whole list each time it doubles, and at a few
     * thousand ops of a large MoE plan that copying was a fifth of the
     * compile). */
    l.capops = ir->nnodes + 64;
    en->ops = mgc_xcalloc(l.capops, sizeof *en->ops);
    l.buf_of = mgc_xcalloc(ir->nnodes, sizeof(int));
    /* node -> the snapshot it is (-1 none) */
    int *tap_of = mgc_xcalloc(ir->nnodes, sizeof(int));
    for (size_t i = 0; i < ir->nnodes; i++)
        tap_of[i] = -1;
    for (size_t t = 0; t < ir->ntaps; t++)
        tap_of[ir->taps[t]] = (int)t;
    int ndev = ir->ndevices;
    for (size_t i = 0; i < ir->nnodes; i++) {
        const mgc_ir_node *n = &ir->nodes[i];
        char name[256];
        buf_name(ir, n, i, name, sizeof name);
        int in0 = n->nin > 0 ? l.buf_of[n->in[0]] : -1;
        int in1 = n->nin > 1 ? l.buf_of[n->in[1]] : -1;
        int in2 = n->nin > 2 ? l.buf_of[n->in[2]] : -1;
        int pieces = n->sh == MGC_SH_SPLIT && ndev > 1 ? ndev / (n->replicas > 0 ? n->replicas : 1) : 1;
        int local_heads = n->heads ? n->heads / pieces : 0;
        mgc_plan_op *op;
        switch (n->op) {
        case MGC_IR_INPUT:
            l.buf_of[i] = add_buf(&l, n, "tokens");
            en->bufs[l.buf_of[i]].dtype = MGC_I32;
            en->input = l.buf_of[i];
            continue;
        case MGC_IR_HEADS:
        case MGC_IR_CONCAT_HEADS:
            l.buf_of[i] = in0; /* a view */
            continue;
        case MGC_IR_OUTPUT:
            op = add_op(&l, MGC_K_OUTPUT, n);
            op->in[0] = in0;
            op->vocab = n->width;
            l.buf_of[i] = -1;
            continue;
        default:
            break;
        }
        int out = add_buf(&l, n, name);
        l.buf_of[i] = out;
        switch (n->op) {
        case MGC_IR_EMBEDDING:
            op = add_op(&l, MGC_K_EMBEDDING, n);
            op->in[0] = in0;
            op->weight = n->weight;
            break;
        case MGC_IR_LINEAR:
            op = add_op(&l, MGC_K_LINEAR, n);
            op->in[0] = in0;
            op->weight = n->weight;
            break;
        case MGC_IR_RMS_NORM:
        case MGC_IR_LAYER_NORM:
            op = add_op(&l, n->op == MGC_IR_RMS_NORM ? MGC_K_RMS_NORM : MGC_K_LAYER_NORM, n);
            op->in[0] = in0;
            op->weight = n->weight;
            op->weight2 = n->weight2;
            op->eps = n->eps;
            op->group = n->heads ? (int)n->head_dim : 0;
            op->n_heads = local_heads;
            op->head_dim = (int)n->head_dim;
            break;
        case MGC_IR_ROTARY:
            op = add_op(&l, MGC_K_ROTARY, n);
            op->in[0] = in0;
            op->rope = n->rope;
            op->n_heads = local_heads;
            op->head_dim = (int)n->head_dim;
            break;
        case MGC_IR_ATTENTION: {
            const mgc_ir_node *k = &ir->nodes[n->in[1]];
            int kv_pieces = k->sh == MGC_SH_SPLIT && ndev > 1 ? ndev / (k->replicas > 0 ? k->replicas : 1) : 1;
            int local_kv = k->heads / kv_pieces;
            mgc_plan_op *c = add_op(&l, decode ? MGC_K_UPDATE_CACHE : MGC_K_FILL_CACHE, n);
            c->in[0] = in1;
            c->in[1] = in2;
            c->layer = n->layer;
            c->n_kv_heads = local_kv;
            c->head_dim = (int)n->head_dim;
            op = add_op(&l, decode ? MGC_K_SDPA_DECODE : MGC_K_SDPA, n);
            op->in[0] = in0;
            if (!decode) {
                op->in[1] = in1;
                op->in[2] = in2;
            }
            op->layer = n->layer;
            op->n_heads = local_heads;
            op->n_kv_heads = local_kv;
            op->head_dim = (int)n->head_dim;
            op->scale = n->scale;
            op->window = n->window;
            op->softcap = n->softcap;
            break;
        }
        case MGC_IR_ADD:
        case MGC_IR_SUB:
        case MGC_IR_MUL:
        case MGC_IR_DIV:
        case MGC_IR_EXPERT_SCALE:
            op = add_op(&l, kernel_of(n->op), n);
            op->in[0] = in0;
            op->in[1] = in1;
            op->expert = n->op == MGC_IR_EXPERT_SCALE ? n->expert : 0;
            break;
        case MGC_IR_SCALE:
        case MGC_IR_ADD_SCALAR:
        case MGC_IR_DIV_SCALAR:
        case MGC_IR_SOFTCAP:
        case MGC_IR_SILU:
        case MGC_IR_GELU:
        case MGC_IR_GELU_TANH:
        case MGC_IR_TANH:
        case MGC_IR_EXP:
        case MGC_IR_RELU:
        case MGC_IR_SIGMOID:
            op = add_op(&l, kernel_of(n->op), n);
            op->in[0] = in0;
            op->scale = n->scale;
            break;
        case MGC_IR_ADD_BIAS:
            op = add_op(&l, MGC_K_ADD_BIAS, n);
            op->in[0] = in0;
            op->weight = n->weight;
            break;
        case MGC_IR_POS_EMBEDDING:
            op = add_op(&l, MGC_K_POS_EMBEDDING, n);
            op->in[0] = in0;
            op->weight = n->weight;
            break;
        case MGC_IR_ROUTE:
            op = add_op(&l, MGC_K_ROUTE, n);
            op->in[0] = in0;
            op->top_k = n->top_k;
            break;
        case MGC_IR_SHARD:
            op = add_op(&l, MGC_K_SHARD, n);
            op->in[0] = in0;
            op->replicas = n->replicas > 0 ? n->replicas : 1;
            break;
        case MGC_IR_ALL_REDUCE:
            op = add_op(&l, MGC_K_ALL_REDUCE, n);
            op->in[0] = in0;
            break;
        case MGC_IR_ALL_GATHER:
            op = add_op(&l, MGC_K_ALL_GATHER, n);
            op->in[0] = in0;
            op->vocab = n->width; /* the real width: gathers drop each device's padding */
            break;
        default:
            free(l.buf_of);
            free(tap_of);
            return -1;
        }
        op->out = out;
        if (n->sh == MGC_SH_OWNED)
            op->device = n->device;
        op->tap = tap_of[i];
    }
    free(l.buf_of);
    free(tap_of);
    return 0;
}

int mgc_lower(const mgc_ir *ir, const mgc_lower_opts *o, mgc_plan *p)
{
    memset(p, 0, sizeof *p);
    p->model = mgc_xstrdup(ir->model);
    p->spec = mgc_xstrdup(o->spec);
    p->system = mgc_xstrdup(ir->system);
    p->mesh[0] = o->mesh[0];
    p->mesh[1] = o->mesh[1];
    p->ndevices = ir->ndevices;
    p->topology = mgc_xstrdup(o->topology);
    p->dram_bytes = o->dram_bytes;
    p->tile = o->tile;
    p->hidden = ir->hidden;
    p->vocab = ir->vocab;
    p->padded_vocab = ir->output >= 0 ? ir->nodes[ir->nodes[ir->output].in[0]].padded : ir->vocab;
    /* a forward without attention has no cache layers; the plan still
     * describes (at least) one layer */
    p->n_layers = ir->cache_layers > 0 ? ir->cache_layers : 1;
    p->n_taps = (int)ir->ntaps;
    p->expect_top1 = ir->expect_top1;
    p->expect_top5 = ir->expect_top5;
    p->expect_pcc = ir->expect_pcc;
    p->weights_dtype = ir->weights_dtype;
    p->act_dtype = ir->act_dtype;
    p->kv_dtype = ir->kv_dtype;
    /* the cache holds the users asked for; only the decode entry's rows are
     * padded to a tile, so --batch 1 does not plan 32 users' KV cache */
    p->cache_users = ir->cache_users;
    /* with KV heads fewer than devices, each device holds one head (replicated) */
    p->cache_kv_heads = ir->cache_layers ? (ir->cache_split ? ir->kv_heads * (ir->cache_replicas > 0 ? ir->cache_replicas : 1) / ir->ndevices
                                                            : ir->kv_heads)
                                         : 0;
    p->cache_len = ir->cache_layers ? ir->cache_len : 0;
    p->cache_head_dim = ir->cache_layers ? ir->head_dim : 0;
    p->cache_layers = ir->cache_layers;

    p->nweights = ir->nweights;
    p->weights = mgc_xcalloc(ir->nweights, sizeof *p->weights);
    for (size_t i = 0; i < ir->nweights; i++)
        lower_weight(ir, &ir->weights[i], &p->weights[i]);
    p->nropes = ir->nropes;
    p->ropes = mgc_xcalloc(ir->nropes, sizeof *p->ropes);
    for (size_t i = 0; i < ir->nropes; i++) {
        p->ropes[i] = ir->ropes[i].r;
        int half = p->ropes[i].dim / 2;
        if (p->ropes[i].short_factor) {
            p->ropes[i].short_factor = mgc_xcalloc((size_t)half, sizeof(double));
            p->ropes[i].long_factor = mgc_xcalloc((size_t)half, sizeof(double));
            memcpy(p->ropes[i].short_factor, ir->ropes[i].r.short_factor, sizeof(double) * (size_t)half);
            memcpy(p->ropes[i].long_factor, ir->ropes[i].r.long_factor, sizeof(double) * (size_t)half);
        }
    }
    if (lower_entry(ir, 0, round_up(ir->cache_len, o->tile), &p->prefill) < 0 ||
        lower_entry(ir, 1, round_up(ir->cache_users, 32), &p->decode) < 0)
        return -1;
    return 0;
}
