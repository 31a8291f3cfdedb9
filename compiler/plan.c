/* plan.c: names of dtypes and kernels, freeing a plan, and structural
 * validation (the rules every plan obeys, whether the compiler built it in
 * memory or plan_read.c parsed it from YAML). */
#include "plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dtypes and kernels ----------------------------------------------- */

static const char *const dtype_names[] = {
    [MGC_F32] = "f32", [MGC_BF16] = "bf16", [MGC_BF8_B] = "bf8_b",
    [MGC_BF4_B] = "bf4_b", [MGC_I32] = "i32",
};
#define NDTYPES (sizeof dtype_names / sizeof dtype_names[0])

const char *mgc_dtype_name(mgc_dtype t)
{
    return (unsigned)t < NDTYPES ? dtype_names[t] : "?";
}

int mgc_dtype_parse(const char *s, mgc_dtype *out)
{
    for (size_t i = 0; s && i < NDTYPES; i++)
        if (strcmp(s, dtype_names[i]) == 0) {
            *out = (mgc_dtype)i;
            return 0;
        }
    return -1;
}

uint64_t mgc_dtype_bytes(mgc_dtype t, uint64_t n)
{
    uint64_t exps = n / 16 + (n % 16 != 0); /* one shared exponent per 16 values */
    switch (t) {
    case MGC_F32: return 4 * n;
    case MGC_BF16: return 2 * n;
    case MGC_BF8_B: return n + exps;
    case MGC_BF4_B: return n / 2 + (n % 2) + exps;
    case MGC_I32: return 4 * n;
    }
    return 0;
}

static const char *const kernel_names[MGC_K_COUNT] = {
    [MGC_K_EMBEDDING] = "embedding", [MGC_K_LINEAR] = "linear",
    [MGC_K_RMS_NORM] = "rms_norm", [MGC_K_ROTARY] = "rotary",
    [MGC_K_FILL_CACHE] = "fill_cache", [MGC_K_SDPA] = "sdpa",
    [MGC_K_UPDATE_CACHE] = "update_cache", [MGC_K_SDPA_DECODE] = "sdpa_decode",
    [MGC_K_ADD] = "add", [MGC_K_SUB] = "sub", [MGC_K_MUL] = "mul",
    [MGC_K_SCALE] = "scale", [MGC_K_SILU] = "silu", [MGC_K_GELU] = "gelu",
    [MGC_K_GELU_TANH] = "gelu_tanh", [MGC_K_ALL_REDUCE] = "all_reduce",
    [MGC_K_ALL_GATHER] = "all_gather", [MGC_K_OUTPUT] = "output",
    [MGC_K_ADD_BIAS] = "add_bias", [MGC_K_LAYER_NORM] = "layer_norm",
    [MGC_K_ADD_SCALAR] = "add_scalar", [MGC_K_DIV_SCALAR] = "div_scalar", [MGC_K_DIV] = "div",
    [MGC_K_TANH] = "tanh", [MGC_K_EXP] = "exp", [MGC_K_RELU] = "relu", [MGC_K_SIGMOID] = "sigmoid",
    [MGC_K_SOFTCAP] = "softcap", [MGC_K_POS_EMBEDDING] = "pos_embedding", [MGC_K_ROUTE] = "route",
    [MGC_K_EXPERT_SCALE] = "expert_scale", [MGC_K_SHARD] = "shard",
};

const char *mgc_kernel_name(mgc_kernel k)
{
    return (unsigned)k < MGC_K_COUNT ? kernel_names[k] : "?";
}

int mgc_kernel_parse(const char *s, mgc_kernel *out)
{
    for (int i = 0; s && i < MGC_K_COUNT; i++)
        if (strcmp(s, kernel_names[i]) == 0) {
            *out = (mgc_kernel)i;
            return 0;
        }
    return -1;
}

/* ---- freeing ------------------------------------------------------------ */

static void free_entry(mgc_plan_entry *en)
{
    for (size_t i = 0; en->ops && i < en->nops; i++)
        free(en->ops[i].where);
    for (size_t i = 0; en->bufs && i < en->nbufs; i++)
        free(en->bufs[i].name);
    free(en->ops);
    free(en->bufs);
}

void mgc_plan_free(mgc_plan *p)
{
    if (!p)
        return;
    free(p->model);
    free(p->spec);
    free(p->system);
    free(p->topology);
    for (size_t i = 0; p->weights && i < p->nweights; i++) {
        free(p->weights[i].id);
        free(p->weights[i].hf_name);
        free(p->weights[i].slices);
    }
    free(p->weights);
    for (size_t i = 0; p->ropes && i < p->nropes; i++) {
        free(p->ropes[i].short_factor);
        free(p->ropes[i].long_factor);
    }
    free(p->ropes);
    free_entry(&p->prefill);
    free_entry(&p->decode);
    memset(p, 0, sizeof *p);
}

/* ---- validation ------------------------------------------------------- */

#define MAX_VALUES ((int64_t)1 << 40)   /* any size or count of values */
#define MAX_RECORDS 1000000             /* weights, ropes, ops, buffers */
#define MAX_HEADS (1 << 20)

typedef struct vctx {
    const mgc_plan *p;
    mgc_plan_where *where;
    mgc_error *e;
} vctx;

static const char *const entry_names[2] = { "prefill", "decode" };

__attribute__((format(printf, 6, 7)))
static int fail(vctx *v, mgc_plan_part part, int entry, size_t index, size_t sub,
                const char *fmt, ...)
{
    if (v->where) {
        v->where->part = part;
        v->where->entry = entry;
        v->where->index = index;
        v->where->sub = sub;
    }
    if (v->e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->e->msg, sizeof v->e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int in_range(int64_t x, int64_t lo, int64_t hi) { return x >= lo && x <= hi; }
static int dtype_ok(mgc_dtype t) { return (unsigned)t < NDTYPES; }
static int act_dtype_ok(mgc_dtype t) { return t == MGC_F32 || t == MGC_BF16; }

static int check_header(vctx *v)
{
    const mgc_plan *p = v->p;
    if (!p->model || !p->spec)
        return fail(v, MGC_PART_PLAN, 0, 0, 0, "plan: model and spec must be set");
    if (!p->system || !p->topology)
        return fail(v, MGC_PART_SYSTEM, 0, 0, 0, "system: name and topology must be set");
    if (!in_range(p->mesh[0], 1, MGC_MAX_DEVICES) || !in_range(p->mesh[1], 1, MGC_MAX_DEVICES))
        return fail(v, MGC_PART_SYSTEM, 0, 0, 0, "system: mesh [%d, %d] must have sides of 1..%d",
                    p->mesh[0], p->mesh[1], MGC_MAX_DEVICES);
    if (!in_range(p->ndevices, 1, MGC_MAX_DEVICES))
        return fail(v, MGC_PART_SYSTEM, 0, 0, 0, "system: devices %d is outside 1..%d",
                    p->ndevices, MGC_MAX_DEVICES);
    if (p->ndevices != p->mesh[0] * p->mesh[1])
        return fail(v, MGC_PART_SYSTEM, 0, 0, 0,
                    "system: devices %d is not the mesh product %d x %d", p->ndevices,
                    p->mesh[0], p->mesh[1]);
    if (p->dram_bytes == 0 || p->dram_bytes > ((uint64_t)1 << 50))
        return fail(v, MGC_PART_SYSTEM, 0, 0, 0, "system: dram_bytes %llu is outside 1..2^50",
                    (unsigned long long)p->dram_bytes);
    if (!in_range(p->tile, 1, 1024))
        return fail(v, MGC_PART_SYSTEM, 0, 0, 0, "system: tile %d is outside 1..1024", p->tile);
    if (!in_range(p->hidden, 1, MAX_VALUES) || !in_range(p->vocab, 1, MAX_VALUES) ||
        !in_range(p->n_layers, 1, MAX_RECORDS))
        return fail(v, MGC_PART_FACTS, 0, 0, 0,
                    "model_facts: hidden, vocab and layers must be positive and not absurd");
    if (!in_range(p->padded_vocab, p->vocab, MAX_VALUES))
        return fail(v, MGC_PART_FACTS, 0, 0, 0, "model_facts: padded_vocab %lld is below vocab %lld",
                    (long long)p->padded_vocab, (long long)p->vocab);
    if (!dtype_ok(p->weights_dtype) || !dtype_ok(p->act_dtype) || !dtype_ok(p->kv_dtype))
        return fail(v, MGC_PART_PRECISION, 0, 0, 0, "precision: unknown dtype");
    if (p->weights_dtype == MGC_I32 || !act_dtype_ok(p->act_dtype) || !act_dtype_ok(p->kv_dtype))
        return fail(v, MGC_PART_PRECISION, 0, 0, 0,
                    "precision: weights are f32, bf16, bf8_b or bf4_b; activations and the KV cache f32 or bf16");
    const int64_t c[] = { p->cache_users, p->cache_kv_heads, p->cache_len, p->cache_head_dim };
    int64_t per_layer = 1;
    for (size_t i = 0; i < 4; i++)
        if (!in_range(c[i], 0, MAX_VALUES) || __builtin_mul_overflow(per_layer, c[i], &per_layer) ||
            per_layer > MAX_VALUES)
            return fail(v, MGC_PART_KV_CACHE, 0, 0, 0,
                        "kv_cache: users x kv_heads x max_len x head_dim is negative or absurd");
    if (!in_range(p->cache_layers, 0, p->n_layers))
        return fail(v, MGC_PART_KV_CACHE, 0, 0, 0, "kv_cache: layers %lld is outside 0..%lld",
                    (long long)p->cache_layers, (long long)p->n_layers);
    const mgc_plan_memory *m = &p->memory;
    uint64_t sum;
    if (__builtin_add_overflow(m->weights, m->kv_cache, &sum) ||
        __builtin_add_overflow(sum, m->activations, &sum) || sum != m->total)
        return fail(v, MGC_PART_MEMORY, 0, 0, 0,
                    "memory: total %llu is not weights + kv_cache + activations",
                    (unsigned long long)m->total);
    if (m->dram != p->dram_bytes)
        return fail(v, MGC_PART_MEMORY, 0, 0, 0, "memory: dram %llu is not the system's dram_bytes %llu",
                    (unsigned long long)m->dram, (unsigned long long)p->dram_bytes);
    if (m->total > m->dram)
        return fail(v, MGC_PART_MEMORY, 0, 0, 0, "memory: total %llu does not fit in dram %llu",
                    (unsigned long long)m->total, (unsigned long long)m->dram);
    const double ex[3] = { p->expect_top1, p->expect_top5, p->expect_pcc };
    for (int i = 0; i < 3; i++)
        if (!(ex[i] < 0) && !(ex[i] >= 0 && ex[i] <= 1)) /* NaN fails both */
            return fail(v, MGC_PART_PLAN, 0, 0, 0, "plan: expect %s %g is not in 0..1 (or negative: none)",
                        i == 0 ? "top1" : i == 1 ? "top5" : "pcc", ex[i]);
    return 0;
}

static int finite_pos(double x) { return isfinite(x) && x > 0; }

static int check_rope(vctx *v, size_t i)
{
    const mgc_plan_rope *r = &v->p->ropes[i];
    if (r->kind != MGC_ROPE_DEFAULT && r->kind != MGC_ROPE_LLAMA3 && r->kind != MGC_ROPE_LONGROPE)
        return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: unknown kind", i);
    if (!finite_pos(r->theta))
        return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: theta must be positive", i);
    if (!in_range(r->dim, 2, 65536) || r->dim % 2)
        return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: dim %d must be even and in 2..65536", i, r->dim);
    if (r->kind == MGC_ROPE_LLAMA3) {
        if (!finite_pos(r->factor) || !finite_pos(r->low_freq_factor) || !finite_pos(r->high_freq_factor))
            return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: llama3 factors must be positive", i);
        if (!in_range(r->original_max, 1, MAX_VALUES))
            return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: original_max must be positive", i);
    }
    if (r->kind == MGC_ROPE_LONGROPE) {
        if (!in_range(r->original_max, 1, MAX_VALUES) || !in_range(r->max_pos, 1, MAX_VALUES))
            return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: original_max and max_pos must be positive", i);
        if (!isfinite(r->factor) || r->factor < 0)
            return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: factor must be finite and not negative", i);
        if (!r->short_factor || !r->long_factor)
            return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: longrope needs short_factor and long_factor", i);
        for (int k = 0; k < r->dim / 2; k++)
            if (!finite_pos(r->short_factor[k]) || !finite_pos(r->long_factor[k]))
                return fail(v, MGC_PART_ROPE, 0, i, 0, "rope %zu: factor %d must be positive", i, k);
    }
    return 0;
}

typedef struct id_ref {
    const char *id;
    size_t i;
} id_ref;

static int cmp_id(const void *a, const void *b)
{
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* The checkpoint tensor's extent on logical dimension d ([out, in]): a
 * transposed weight's checkpoint stores [in, out]. */
static int64_t hf_dim(const mgc_plan_weight *w, int d)
{
    return w->transposed && w->rank == 2 ? w->hf_shape[1 - d] : w->hf_shape[d];
}

static int check_slices(vctx *v, size_t i)
{
    const mgc_plan *p = v->p;
    const mgc_plan_weight *w = &p->weights[i];
    const char *id = w->id;
    int owned = w->shard == MGC_SHARD_OWNED, split = w->shard == MGC_SHARD_SPLIT;
    int reps = split ? w->replicas : 1;
    /* a split weight is cut into ndevices / replicas pieces; device j holds piece j / replicas */
    int64_t piece = split ? w->padded / (p->ndevices / reps) : 0;
    uint64_t n = 0;
    for (int j = 0; j < p->ndevices; j++) {
        const mgc_weight_slice *s = &w->slices[j];
        if (owned && j != w->owner) { /* a non-owner holds nothing */
            for (int d = 0; d < w->rank; d++)
                if (s->local_shape[d] != 0 || s->range[d].lo != s->range[d].hi || s->range[d].lo < 0)
                    return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                                "weight '%s' device %d: only its owner, device %d, holds it; others read nothing "
                                "and have local size 0", id, j, w->owner);
            continue;
        }
        uint64_t nj = 1;
        for (int d = 0; d < w->rank; d++) {
            int64_t base = d == 0 ? w->row0 : 0, end = base + w->shape[d];
            int64_t lo = s->range[d].lo, hi = s->range[d].hi;
            if (lo < 0 || lo > hi || hi > hf_dim(w, d))
                return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                            "weight '%s' device %d: range [%lld, %lld) on dim %d is outside hf_shape %lld%s",
                            id, j, (long long)lo, (long long)hi, d, (long long)hf_dim(w, d),
                            w->transposed ? " (transposed)" : "");
            if (lo < base || hi > end)
                return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                            "weight '%s' device %d: range [%lld, %lld) on dim %d is outside the weight's [%lld, %lld)",
                            id, j, (long long)lo, (long long)hi, d, (long long)base, (long long)end);
            int64_t local = s->local_shape[d];
            if (!in_range(local, hi - lo, MAX_VALUES) || local < 1)
                return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                            "weight '%s' device %d: local size %lld on dim %d is smaller than the range read",
                            id, j, (long long)local, d);
            if (split && d == w->dim) {
                if (local != piece)
                    return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                                "weight '%s' device %d: local size %lld on split dim is not padded/%d pieces = %lld",
                                id, j, (long long)local, p->ndevices / reps, (long long)piece);
                if (j % reps) { /* a replica: the same piece as the device before it */
                    if (lo != w->slices[j - 1].range[d].lo || hi != w->slices[j - 1].range[d].hi)
                        return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                                    "weight '%s' device %d: with %d replicas it holds piece %d, the same as device %d",
                                    id, j, reps, j / reps, j - 1);
                } else {
                    int64_t want_lo = j == 0 ? base : w->slices[j - reps].range[d].hi;
                    if (lo != want_lo || (j == p->ndevices - reps && hi != end))
                        return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                                    "weight '%s' device %d: split pieces must be contiguous and cover [%lld, %lld)",
                                    id, j, (long long)base, (long long)end);
                }
            } else if (lo != base || hi != end) {
                return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                            "weight '%s' device %d: dim %d is not split, so it must read all of [%lld, %lld)",
                            id, j, d, (long long)base, (long long)end);
            } else if (local != w->shape[d]) { /* padding is only ever on the split dimension */
                return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                            "weight '%s' device %d: local size %lld on dim %d, which is not split, is not %lld",
                            id, j, (long long)local, d, (long long)w->shape[d]);
            }
            if (__builtin_mul_overflow(nj, (uint64_t)local, &nj) || nj > (uint64_t)MAX_VALUES)
                return fail(v, MGC_PART_SLICE, 0, i, (size_t)j,
                            "weight '%s' device %d: local shape is absurdly large", id, j);
        }
        n = nj;
    }
    /* every device that holds the weight stores the same local shape (equal
     * pieces, or the owner alone), so n is it */
    if (w->bytes_per_device != mgc_dtype_bytes(w->dtype, n))
        return fail(v, MGC_PART_WEIGHT, 0, i, 0,
                    "weight '%s': bytes_per_device %llu is not %llu (%llu values of %s)", id,
                    (unsigned long long)w->bytes_per_device,
                    (unsigned long long)mgc_dtype_bytes(w->dtype, n), (unsigned long long)n,
                    mgc_dtype_name(w->dtype));
    return 0;
}

static int check_weight(vctx *v, size_t i)
{
    const mgc_plan *p = v->p;
    const mgc_plan_weight *w = &p->weights[i];
    if (!w->id || !w->hf_name)
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight %zu: id and hf_name must be set", i);
    const char *id = w->id;
    if (w->rank != 1 && w->rank != 2)
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': rank %d is not 1 or 2", id, w->rank);
    if (w->transposed != 0 && (w->transposed != 1 || w->rank != 2))
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': only a rank-2 weight can be transposed", id);
    for (int d = 0; d < w->rank; d++)
        if (!in_range(w->hf_shape[d], 1, MAX_VALUES) || !in_range(w->shape[d], 1, hf_dim(w, d)))
            return fail(v, MGC_PART_WEIGHT, 0, i, 0,
                        "weight '%s': shape must be positive and within hf_shape on dim %d%s", id, d,
                        w->transposed ? " (transposed: hf_shape is [in, out])" : "");
    if (w->row0 < 0 || w->row0 > hf_dim(w, 0) - w->shape[0])
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': rows [%lld, %lld) are outside hf_shape %lld",
                    id, (long long)w->row0, (long long)(w->row0 + w->shape[0]), (long long)hf_dim(w, 0));
    if (w->rank == 2 && w->shape[1] != hf_dim(w, 1))
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': a part must span all %lld columns",
                    id, (long long)hf_dim(w, 1));
    int want_rank;
    switch (w->role) {
    case MGC_W_LINEAR: case MGC_W_EMBEDDING: want_rank = 2; break;
    case MGC_W_NORM: case MGC_W_BIAS: want_rank = 1; break;
    default: return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': unknown role", id);
    }
    if (w->rank != want_rank)
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': its role needs rank %d, not %d",
                    id, want_rank, w->rank);
    if (!dtype_ok(w->dtype) || w->dtype == MGC_I32)
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': dtype must be f32, bf16, bf8_b or bf4_b", id);
    if (w->role == MGC_W_BIAS && w->dtype != MGC_F32)
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': a bias is stored as f32, not %s", id,
                    mgc_dtype_name(w->dtype));
    if (!isfinite(w->derive_scale) || !isfinite(w->derive_offset))
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': derive_scale and derive_offset must be finite", id);
    if (w->shard == MGC_SHARD_SPLIT) {
        if (w->dim < 0 || w->dim >= w->rank)
            return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': split dim %d is not a dimension", id, w->dim);
        if (!in_range(w->replicas, 1, p->ndevices) || p->ndevices % w->replicas)
            return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': replicas %d does not divide %d devices", id,
                        w->replicas, p->ndevices);
        int pieces = p->ndevices / w->replicas;
        if (!in_range(w->padded, w->shape[w->dim], MAX_VALUES) || w->padded % pieces)
            return fail(v, MGC_PART_WEIGHT, 0, i, 0,
                        "weight '%s': padded %lld must be at least %lld and a multiple of %d pieces",
                        id, (long long)w->padded, (long long)w->shape[w->dim], pieces);
    } else if (w->shard != MGC_SHARD_REPLICATED && w->shard != MGC_SHARD_OWNED) {
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': unknown shard kind", id);
    } else if (w->replicas != 1) {
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': replicas %d, but only a split weight has replicas",
                    id, w->replicas);
    }
    if (w->shard == MGC_SHARD_OWNED ? !in_range(w->owner, 0, p->ndevices - 1) : w->owner != -1)
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': owner %d %s", id, w->owner,
                    w->shard == MGC_SHARD_OWNED ? "is not a device" : "on a weight that is not owned (must be -1)");
    if (!w->slices)
        return fail(v, MGC_PART_WEIGHT, 0, i, 0, "weight '%s': no slices", id);
    return check_slices(v, i);
}

/* The weights each device holds must fit in what memory.weights says (an
 * owned weight counts only on its owner). */
static int check_weight_memory(vctx *v)
{
    const mgc_plan *p = v->p;
    uint64_t most = 0;
    for (int d = 0; d < p->ndevices; d++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < p->nweights; i++) {
            const mgc_plan_weight *w = &p->weights[i];
            if (w->shard != MGC_SHARD_OWNED || w->owner == d)
                sum += w->bytes_per_device; /* bounded: each is at most 2^40 values */
        }
        if (sum > most)
            most = sum;
    }
    if (p->memory.weights < most)
        return fail(v, MGC_PART_MEMORY, 0, 0, 0,
                    "memory: weights %llu is less than the %llu bytes of weights one device holds",
                    (unsigned long long)p->memory.weights, (unsigned long long)most);
    return 0;
}

static int check_weights(vctx *v)
{
    const mgc_plan *p = v->p;
    if (p->nweights > MAX_RECORDS || p->nropes > MAX_RECORDS || (p->nweights && !p->weights) ||
        (p->nropes && !p->ropes))
        return fail(v, MGC_PART_PLAN, 0, 0, 0, "plan: weights or ropes missing or absurdly many");
    for (size_t i = 0; i < p->nropes; i++)
        if (check_rope(v, i))
            return -1;
    for (size_t i = 0; i < p->nweights; i++)
        if (check_weight(v, i))
            return -1;
    if (check_weight_memory(v))
        return -1;
    if (p->nweights < 2)
        return 0;
    id_ref *ids = malloc(p->nweights * sizeof *ids);
    if (!ids)
        return fail(v, MGC_PART_PLAN, 0, 0, 0, "plan: out of memory");
    for (size_t i = 0; i < p->nweights; i++)
        ids[i] = (id_ref){ p->weights[i].id, i };
    qsort(ids, p->nweights, sizeof *ids, cmp_id);
    int rc = 0;
    for (size_t i = 1; i < p->nweights && !rc; i++)
        if (strcmp(ids[i - 1].id, ids[i].id) == 0)
            rc = fail(v, MGC_PART_WEIGHT, 0, ids[i].i, 0, "weight '%s': id also used by weight %zu",
                      ids[i].id, ids[i - 1].i);
    free(ids);
    return rc;
}

/* What each kernel needs. */
enum {
    N_IN0 = 1 << 0, N_IN1 = 1 << 1, N_IN2 = 1 << 2, N_OUT = 1 << 3, N_NOOUT = 1 << 4,
    N_WEIGHT = 1 << 5, N_LAYER = 1 << 6, N_ROPE = 1 << 7, N_HEADS = 1 << 8,
    N_KVHEADS = 1 << 9, N_EPS = 1 << 10, N_SCALE = 1 << 11, N_VOCAB = 1 << 12,
    N_PREFILL = 1 << 13, N_DECODE = 1 << 14, N_COLLECTIVE = 1 << 15,
};
#define N_UNARY (N_IN0 | N_OUT | N_PREFILL | N_DECODE)
#define N_BINARY (N_IN0 | N_IN1 | N_OUT | N_PREFILL | N_DECODE)

static const unsigned kernel_needs[MGC_K_COUNT] = {
    [MGC_K_EMBEDDING] = N_UNARY | N_WEIGHT,
    [MGC_K_LINEAR] = N_UNARY | N_WEIGHT,
    [MGC_K_RMS_NORM] = N_UNARY | N_WEIGHT | N_EPS,
    [MGC_K_ROTARY] = N_UNARY | N_ROPE | N_HEADS,
    [MGC_K_FILL_CACHE] = N_IN0 | N_IN1 | N_NOOUT | N_LAYER | N_PREFILL,
    [MGC_K_SDPA] = N_IN0 | N_IN1 | N_IN2 | N_OUT | N_LAYER | N_HEADS | N_KVHEADS | N_SCALE | N_PREFILL,
    [MGC_K_UPDATE_CACHE] = N_IN0 | N_IN1 | N_NOOUT | N_LAYER | N_DECODE,
    [MGC_K_SDPA_DECODE] = N_IN0 | N_OUT | N_LAYER | N_HEADS | N_KVHEADS | N_SCALE | N_DECODE,
    [MGC_K_ADD] = N_BINARY, [MGC_K_SUB] = N_BINARY, [MGC_K_MUL] = N_BINARY,
    [MGC_K_SCALE] = N_UNARY, [MGC_K_SILU] = N_UNARY, [MGC_K_GELU] = N_UNARY,
    [MGC_K_GELU_TANH] = N_UNARY, [MGC_K_ALL_REDUCE] = N_UNARY | N_COLLECTIVE,
    [MGC_K_ALL_GATHER] = N_UNARY | N_VOCAB | N_COLLECTIVE,
    [MGC_K_OUTPUT] = N_IN0 | N_NOOUT | N_VOCAB | N_PREFILL | N_DECODE | N_COLLECTIVE,
    [MGC_K_ADD_BIAS] = N_UNARY | N_WEIGHT,
    [MGC_K_LAYER_NORM] = N_UNARY | N_WEIGHT | N_EPS,
    [MGC_K_ADD_SCALAR] = N_UNARY, [MGC_K_DIV_SCALAR] = N_UNARY, [MGC_K_DIV] = N_BINARY,
    [MGC_K_TANH] = N_UNARY, [MGC_K_EXP] = N_UNARY, [MGC_K_RELU] = N_UNARY, [MGC_K_SIGMOID] = N_UNARY,
    [MGC_K_SOFTCAP] = N_UNARY | N_SCALE,
    [MGC_K_POS_EMBEDDING] = N_OUT | N_WEIGHT | N_PREFILL | N_DECODE, /* the positions come from the call */
    [MGC_K_ROUTE] = N_UNARY, [MGC_K_EXPERT_SCALE] = N_BINARY, [MGC_K_SHARD] = N_UNARY,
};

/* The role of the weight each kernel with a weight takes. */
static mgc_weight_role weight_role(mgc_kernel k)
{
    switch (k) {
    case MGC_K_LINEAR: return MGC_W_LINEAR;
    case MGC_K_EMBEDDING: case MGC_K_POS_EMBEDDING: return MGC_W_EMBEDDING;
    case MGC_K_ADD_BIAS: return MGC_W_BIAS;
    default: return MGC_W_NORM;
    }
}

/* The slice a device that holds the weight has (an owned weight: its owner's). */
static const mgc_weight_slice *held_slice(const mgc_plan_weight *w)
{
    return &w->slices[w->shard == MGC_SHARD_OWNED ? w->owner : 0];
}

/* The widths an op's buffers, weight and attributes must agree on: what the
 * runtime's kernels assume when they index them (a wrong width would make
 * them read or write past a buffer).  Runs after check_op's index checks. */
static int check_op_shapes(vctx *v, int en, size_t i)
{
    const mgc_plan *p = v->p;
    const mgc_plan_entry *E = en ? &p->decode : &p->prefill;
    const mgc_plan_op *o = &E->ops[i];
    const char *ename = entry_names[en], *k = kernel_names[o->kernel];
#define OPFAIL(...) fail(v, MGC_PART_OP, en, i, 0, __VA_ARGS__)
#define COLS(b) ((b) >= 0 ? E->bufs[b].cols : 0)
    int64_t c0 = COLS(o->in[0]), c1 = COLS(o->in[1]), c2 = COLS(o->in[2]), co = COLS(o->out);
    const int64_t *wl = o->weight >= 0 ? held_slice(&p->weights[o->weight])->local_shape : NULL;
    int64_t qw = (int64_t)o->n_heads * o->head_dim, kvw = (int64_t)o->n_kv_heads * o->head_dim;
    switch (o->kernel) {
    case MGC_K_EMBEDDING:
        if (c0 != 1 || E->bufs[o->in[0]].dtype != MGC_I32)
            return OPFAIL("%s op %zu (%s): the input must be i32 token ids (1 column)", ename, i, k);
        if (co != wl[1])
            return OPFAIL("%s op %zu (%s): output has %lld columns but the table rows have %lld", ename, i, k,
                          (long long)co, (long long)wl[1]);
        break;
    case MGC_K_LINEAR:
        if (c0 != wl[1] || co != wl[0])
            return OPFAIL("%s op %zu (%s): [rows, %lld] x weight [%lld, %lld]^T cannot give [rows, %lld]", ename, i,
                          k, (long long)c0, (long long)wl[0], (long long)wl[1], (long long)co);
        break;
    case MGC_K_RMS_NORM:
    case MGC_K_LAYER_NORM:
        if (c0 != co || wl[0] != (o->group ? o->group : c0) || (o->group && c0 % o->group))
            return OPFAIL("%s op %zu (%s): input %lld, output %lld, group %d and weight %lld columns disagree", ename,
                          i, k, (long long)c0, (long long)co, o->group, (long long)wl[0]);
        if (o->weight2 >= 0 && held_slice(&p->weights[o->weight2])->local_shape[0] != wl[0])
            return OPFAIL("%s op %zu (%s): bias '%s' is not as long as the weight (%lld)", ename, i, k,
                          p->weights[o->weight2].id, (long long)wl[0]);
        break;
    case MGC_K_ADD_BIAS:
        if (c0 != co || wl[0] != co)
            return OPFAIL("%s op %zu (%s): input %lld, output %lld and bias %lld columns disagree", ename, i, k,
                          (long long)c0, (long long)co, (long long)wl[0]);
        break;
    case MGC_K_POS_EMBEDDING: {
        int64_t max_seq = p->cache_len ? p->cache_len : p->prefill.rows;
        if (co != wl[1])
            return OPFAIL("%s op %zu (%s): output has %lld columns but the table rows have %lld", ename, i, k,
                          (long long)co, (long long)wl[1]);
        if (wl[0] < max_seq)
            return OPFAIL("%s op %zu (%s): the table has %lld positions, fewer than the plan's %lld", ename, i, k,
                          (long long)wl[0], (long long)max_seq);
        break;
    }
    case MGC_K_ROUTE:
        if (c0 != co || o->top_k < 1 || o->top_k > c0)
            return OPFAIL("%s op %zu (%s): top_k %d of %lld experts, output %lld", ename, i, k, o->top_k,
                          (long long)c0, (long long)co);
        break;
    case MGC_K_EXPERT_SCALE:
        if (c0 != co || o->expert >= c1)
            return OPFAIL("%s op %zu (%s): expert %d of %lld routing weights, input %lld, output %lld", ename, i,
                          k, o->expert, (long long)c1, (long long)c0, (long long)co);
        break;
    case MGC_K_SHARD:
        if (p->ndevices % o->replicas || co * (p->ndevices / o->replicas) < c0)
            return OPFAIL("%s op %zu (%s): %d pieces of %lld columns (%d replicas) do not cover %lld", ename, i, k,
                          p->ndevices / o->replicas, (long long)co, o->replicas, (long long)c0);
        break;
    case MGC_K_DIV:
        if (c0 != co || c1 != co)
            return OPFAIL("%s op %zu (%s): inputs of %lld and %lld columns, output %lld", ename, i, k, (long long)c0,
                          (long long)c1, (long long)co);
        break;
    case MGC_K_ADD_SCALAR:
    case MGC_K_DIV_SCALAR:
    case MGC_K_TANH:
    case MGC_K_EXP:
    case MGC_K_RELU:
    case MGC_K_SIGMOID:
    case MGC_K_SOFTCAP:
        if (c0 != co)
            return OPFAIL("%s op %zu (%s): input of %lld columns, output %lld", ename, i, k, (long long)c0,
                          (long long)co);
        if (o->kernel == MGC_K_DIV_SCALAR && o->scale == 0)
            return OPFAIL("%s op %zu (%s): divides by zero", ename, i, k);
        break;
    case MGC_K_ROTARY:
        if (c0 != qw || co != qw || p->ropes[o->rope].dim > o->head_dim)
            return OPFAIL("%s op %zu (%s): %d heads of %d (rope dim %d) do not fit input %lld / output %lld", ename,
                          i, k, o->n_heads, o->head_dim, p->ropes[o->rope].dim, (long long)c0, (long long)co);
        break;
    case MGC_K_FILL_CACHE:
    case MGC_K_UPDATE_CACHE: {
        int64_t cw = p->cache_kv_heads * p->cache_head_dim; /* one position of one user */
        if (c0 != cw || c1 != cw)
            return OPFAIL("%s op %zu (%s): K and V of %lld and %lld columns, but the cache holds %lld KV heads of %lld",
                          ename, i, k, (long long)c0, (long long)c1, (long long)p->cache_kv_heads,
                          (long long)p->cache_head_dim);
        break;
    }
    case MGC_K_SDPA:
    case MGC_K_SDPA_DECODE:
        if (o->n_kv_heads != p->cache_kv_heads || o->head_dim != p->cache_head_dim || o->n_heads % o->n_kv_heads)
            return OPFAIL("%s op %zu (%s): %d heads and %d KV heads of %d, but the cache holds %lld KV heads of %lld",
                          ename, i, k, o->n_heads, o->n_kv_heads, o->head_dim, (long long)p->cache_kv_heads,
                          (long long)p->cache_head_dim);
        if (o->kernel == MGC_K_SDPA ? c0 != qw || c1 != kvw || c2 != kvw || co != qw : c0 != qw || co != qw)
            return OPFAIL("%s op %zu (%s): buffer widths do not match %d heads and %d KV heads of %d", ename, i, k,
                          o->n_heads, o->n_kv_heads, o->head_dim);
        break;
    case MGC_K_ADD:
    case MGC_K_SUB:
    case MGC_K_MUL:
        if (c0 != co || c1 != co)
            return OPFAIL("%s op %zu (%s): inputs of %lld and %lld columns, output %lld", ename, i, k, (long long)c0,
                          (long long)c1, (long long)co);
        break;
    case MGC_K_SCALE:
    case MGC_K_SILU:
    case MGC_K_GELU:
    case MGC_K_GELU_TANH:
    case MGC_K_ALL_REDUCE:
        if (c0 != co)
            return OPFAIL("%s op %zu (%s): input of %lld columns, output %lld", ename, i, k, (long long)c0,
                          (long long)co);
        break;
    case MGC_K_ALL_GATHER:
        if (co != o->vocab || c0 * p->ndevices < o->vocab)
            return OPFAIL("%s op %zu (%s): %d devices x %lld columns do not gather into %lld of %lld", ename, i, k,
                          p->ndevices, (long long)c0, (long long)o->vocab, (long long)co);
        break;
    case MGC_K_OUTPUT:
        if (c0 * p->ndevices < o->vocab || ((p->ndevices == 1 || c0 == o->vocab) && c0 < o->vocab))
            return OPFAIL("%s op %zu (%s): %d devices x %lld columns do not hold %lld logits", ename, i, k,
                          p->ndevices, (long long)c0, (long long)o->vocab);
        break;
    default:
        break;
    }
#undef COLS
#undef OPFAIL
    return 0;
}

static int check_op(vctx *v, int en, size_t i, unsigned char *written)
{
    const mgc_plan *p = v->p;
    const mgc_plan_entry *E = en ? &p->decode : &p->prefill;
    const mgc_plan_op *o = &E->ops[i];
    const char *ename = entry_names[en];
    if ((unsigned)o->kernel >= MGC_K_COUNT)
        return fail(v, MGC_PART_OP, en, i, 0, "%s op %zu: unknown kernel", ename, i);
    const char *k = kernel_names[o->kernel];
    unsigned need = kernel_needs[o->kernel];
#define OPFAIL(...) fail(v, MGC_PART_OP, en, i, 0, __VA_ARGS__)
    if (!(need & (en ? N_DECODE : N_PREFILL)))
        return OPFAIL("%s op %zu (%s): the kernel does not belong in %s", ename, i, k, ename);
    for (int j = 0; j < 3; j++) {
        if (!in_range(o->in[j], -1, (int64_t)E->nbufs - 1))
            return OPFAIL("%s op %zu (%s): input %d is not a buffer", ename, i, k, o->in[j]);
        if ((need & (N_IN0 << j)) && o->in[j] < 0)
            return OPFAIL("%s op %zu (%s): missing input %d", ename, i, k, j);
    }
    if (!in_range(o->out, -1, (int64_t)E->nbufs - 1))
        return OPFAIL("%s op %zu (%s): output %d is not a buffer", ename, i, k, o->out);
    if ((need & N_OUT) && o->out < 0)
        return OPFAIL("%s op %zu (%s): missing output", ename, i, k);
    if ((need & N_NOOUT) && o->out >= 0)
        return OPFAIL("%s op %zu (%s): has no output buffer, but names %d", ename, i, k, o->out);
    if (!in_range(o->weight, -1, (int64_t)p->nweights - 1))
        return OPFAIL("%s op %zu (%s): weight %d is out of range (%zu weights)", ename, i, k, o->weight, p->nweights);
    if ((need & N_WEIGHT) && o->weight < 0)
        return OPFAIL("%s op %zu (%s): missing weight", ename, i, k);
    if (o->weight >= 0 && (need & N_WEIGHT)) {
        if (p->weights[o->weight].role != weight_role(o->kernel))
            return OPFAIL("%s op %zu (%s): weight '%s' has the wrong role for this kernel", ename, i, k,
                          p->weights[o->weight].id);
    }
    if (!in_range(o->weight2, -1, o->kernel == MGC_K_LAYER_NORM ? (int64_t)p->nweights - 1 : -1))
        return OPFAIL("%s op %zu (%s): weight2 %d is not a weight this kernel takes", ename, i, k, o->weight2);
    if (o->weight2 >= 0 && p->weights[o->weight2].role != MGC_W_BIAS)
        return OPFAIL("%s op %zu (%s): weight2 '%s' is not a bias", ename, i, k, p->weights[o->weight2].id);
    /* the attributes of plan version 2: each only on the kernels that use it */
    int attn = o->kernel == MGC_K_SDPA || o->kernel == MGC_K_SDPA_DECODE;
    if (o->window < 0 || (o->window && !attn) || o->window > MAX_VALUES)
        return OPFAIL("%s op %zu (%s): window %lld (attention only, 0 = none, else positive)", ename, i, k,
                      (long long)o->window);
    if (!isfinite(o->softcap) || o->softcap < 0 || (o->softcap != 0 && !attn))
        return OPFAIL("%s op %zu (%s): softcap %g (attention only, 0 = none, else positive)", ename, i, k,
                      o->softcap);
    if (o->top_k < 0 || (o->top_k && o->kernel != MGC_K_ROUTE))
        return OPFAIL("%s op %zu (%s): top_k %d (route only)", ename, i, k, o->top_k);
    if (o->expert < 0 || (o->expert && o->kernel != MGC_K_EXPERT_SCALE))
        return OPFAIL("%s op %zu (%s): expert %d (expert_scale only, not negative)", ename, i, k, o->expert);
    if (!in_range(o->replicas, 1, p->ndevices) || (o->replicas != 1 && o->kernel != MGC_K_SHARD))
        return OPFAIL("%s op %zu (%s): replicas %d (shard only, 1..%d devices)", ename, i, k, o->replicas,
                      p->ndevices);
    if (!in_range(o->device, -1, p->ndevices - 1))
        return OPFAIL("%s op %zu (%s): device %d is not one of the %d devices", ename, i, k, o->device,
                      p->ndevices);
    if (o->device >= 0 && (need & N_COLLECTIVE))
        return OPFAIL("%s op %zu (%s): a collective runs on every device, not only device %d", ename, i, k,
                      o->device);
    for (int j = 0; j < 2; j++) { /* an owned weight is used only where it is */
        int wi = j ? o->weight2 : o->weight;
        if (wi >= 0 && p->weights[wi].shard == MGC_SHARD_OWNED && o->device != p->weights[wi].owner)
            return OPFAIL("%s op %zu (%s): weight '%s' is held by device %d only, but the op runs on %s", ename, i,
                          k, p->weights[wi].id, p->weights[wi].owner, o->device < 0 ? "every device" : "another");
    }
    if (!in_range(o->layer, -1, p->cache_layers - 1))
        return OPFAIL("%s op %zu (%s): cache layer %d is out of range (%lld layers)", ename, i, k,
                      o->layer, (long long)p->cache_layers);
    if ((need & N_LAYER) && o->layer < 0)
        return OPFAIL("%s op %zu (%s): missing cache layer", ename, i, k);
    if (!in_range(o->rope, -1, (int64_t)p->nropes - 1))
        return OPFAIL("%s op %zu (%s): rope %d is out of range (%zu ropes)", ename, i, k, o->rope, p->nropes);
    if ((need & N_ROPE) && o->rope < 0)
        return OPFAIL("%s op %zu (%s): missing rope", ename, i, k);
    if (!in_range(o->n_heads, 0, MAX_HEADS) || !in_range(o->n_kv_heads, 0, MAX_HEADS) ||
        !in_range(o->head_dim, 0, MAX_HEADS) || !in_range(o->group, 0, MAX_HEADS))
        return OPFAIL("%s op %zu (%s): heads, head_dim or group negative or absurd", ename, i, k);
    if ((need & N_HEADS) && (o->n_heads < 1 || o->head_dim < 1))
        return OPFAIL("%s op %zu (%s): missing n_heads or head_dim", ename, i, k);
    if ((need & N_KVHEADS) && o->n_kv_heads < 1)
        return OPFAIL("%s op %zu (%s): missing n_kv_heads", ename, i, k);
    if (!isfinite(o->eps) || !isfinite(o->scale))
        return OPFAIL("%s op %zu (%s): eps and scale must be finite", ename, i, k);
    if ((need & N_EPS) && !(o->eps > 0))
        return OPFAIL("%s op %zu (%s): missing eps", ename, i, k);
    if ((need & N_SCALE) && !(o->scale > 0))
        return OPFAIL("%s op %zu (%s): missing scale", ename, i, k);
    if (o->tap < -1 || o->tap >= p->n_taps || (o->tap >= 0 && o->out < 0))
        return OPFAIL("%s op %zu (%s): tap %d is not a snapshot of this plan's %d", ename, i, k, o->tap, p->n_taps);
    /* vocab: the real vocab of output; all_gather's real (unpadded) width */
    if (!in_range(o->vocab, 0, o->kernel == MGC_K_ALL_GATHER ? MAX_VALUES : p->vocab))
        return OPFAIL("%s op %zu (%s): vocab %lld is outside 0..%lld", ename, i, k,
                      (long long)o->vocab, (long long)p->vocab);
    if ((need & N_VOCAB) && o->vocab < 1)
        return OPFAIL("%s op %zu (%s): missing vocab", ename, i, k);
    for (int j = 0; j < 4; j++) {
        int b = j < 3 ? o->in[j] : o->out;
        if (b < 0)
            continue;
        const mgc_plan_buffer *B = &E->bufs[b];
        if ((int64_t)i < B->first || (int64_t)i > B->last)
            return OPFAIL("%s op %zu (%s): uses buffer %d '%s' outside its lifetime [%d, %d]", ename, i, k,
                          b, B->name, B->first, B->last);
        if (j < 3 && !written[b])
            return OPFAIL("%s op %zu (%s): reads buffer %d '%s' before any op writes it", ename, i, k,
                          b, B->name);
    }
    if (check_op_shapes(v, en, i))
        return -1;
    if (o->out >= 0)
        written[o->out] = 1;
#undef OPFAIL
    return 0;
}

static int check_buffer(vctx *v, int en, size_t i)
{
    const mgc_plan_entry *E = en ? &v->p->decode : &v->p->prefill;
    const mgc_plan_buffer *b = &E->bufs[i];
    const char *ename = entry_names[en];
#define BFAIL(...) fail(v, MGC_PART_BUFFER, en, i, 0, __VA_ARGS__)
    if ((size_t)b->id != i || b->id < 0)
        return BFAIL("%s buffer %zu: id %d is not its position in the list", ename, i, b->id);
    if (!b->name)
        return BFAIL("%s buffer %zu: name must be set", ename, i);
    if (!in_range(b->cols, 1, MAX_VALUES) || !dtype_ok(b->dtype))
        return BFAIL("%s buffer %zu '%s': cols must be positive and dtype known", ename, i, b->name);
    int64_t want;
    if (__builtin_mul_overflow(E->rows, b->cols, &want) || b->size != want)
        return BFAIL("%s buffer %zu '%s': size %lld is not rows x cols = %lld x %lld", ename, i,
                     b->name, (long long)b->size, (long long)E->rows, (long long)b->cols);
    if (!in_range(b->offset, 0, MAX_VALUES) || b->size > MAX_VALUES)
        return BFAIL("%s buffer %zu '%s': offset or size negative or absurd", ename, i, b->name);
    if (b->offset + b->size > E->arena_values)
        return BFAIL("%s buffer %zu '%s': ends at %lld, past arena_values %lld", ename, i, b->name,
                     (long long)(b->offset + b->size), (long long)E->arena_values);
    if (b->first < 0 || b->first > b->last || (size_t)b->last >= E->nops)
        return BFAIL("%s buffer %zu '%s': lifetime [%d, %d] is not within ops 0..%zu", ename, i,
                     b->name, b->first, b->last, E->nops ? E->nops - 1 : 0);
#undef BFAIL
    return 0;
}

typedef struct live_ref {
    int first;
    int64_t offset;
    size_t i;
} live_ref;

static int cmp_live(const void *a, const void *b)
{
    const live_ref *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Buffers live at the same time must not share arena values.  Sweep over
 * start times keeping the live buffers sorted by offset: they are pairwise
 * disjoint, so a new one need only be checked against its two neighbours. */
static int check_overlaps(vctx *v, int en)
{
    const mgc_plan_entry *E = en ? &v->p->decode : &v->p->prefill;
    size_t n = E->nbufs;
    live_ref *order = malloc(n * sizeof *order);
    size_t *act = malloc(n * sizeof *act);
    if (!order || !act) {
        free(order);
        free(act);
        return fail(v, MGC_PART_ENTRY, en, 0, 0, "%s: out of memory", entry_names[en]);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (live_ref){ E->bufs[i].first, E->bufs[i].offset, i };
    qsort(order, n, sizeof *order, cmp_live);
    size_t nact = 0;
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        const mgc_plan_buffer *b = &E->bufs[order[k].i];
        size_t m = 0;
        for (size_t a = 0; a < nact; a++)
            if (E->bufs[act[a]].last >= b->first)
                act[m++] = act[a];
        nact = m;
        size_t lo = 0, hi = nact;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (E->bufs[act[mid]].offset < b->offset)
                lo = mid + 1;
            else
                hi = mid;
        }
        const mgc_plan_buffer *nb[2] = { lo > 0 ? &E->bufs[act[lo - 1]] : NULL,
                                         lo < nact ? &E->bufs[act[lo]] : NULL };
        for (int s = 0; s < 2 && !rc; s++) {
            const mgc_plan_buffer *o = nb[s];
            if (o && o->offset < b->offset + b->size && b->offset < o->offset + o->size)
                rc = fail(v, MGC_PART_BUFFER, en, order[k].i, 0,
                          "%s buffer %d '%s': arena [%lld, %lld) overlaps buffer %d '%s' [%lld, %lld) while both are live",
                          entry_names[en], b->id, b->name, (long long)b->offset,
                          (long long)(b->offset + b->size), o->id, o->name, (long long)o->offset,
                          (long long)(o->offset + o->size));
        }
        memmove(act + lo + 1, act + lo, (nact - lo) * sizeof *act);
        act[lo] = order[k].i;
        nact++;
    }
    free(order);
    free(act);
    return rc;
}

static int check_entry(vctx *v, int en)
{
    const mgc_plan_entry *E = en ? &v->p->decode : &v->p->prefill;
    const char *ename = entry_names[en];
    if (!in_range(E->rows, 1, MAX_VALUES) || !in_range(E->arena_values, 0, MAX_VALUES))
        return fail(v, MGC_PART_ENTRY, en, 0, 0, "%s: rows and arena_values must be positive and not absurd", ename);
    if (E->nops > MAX_RECORDS || E->nbufs > MAX_RECORDS || (E->nops && !E->ops) || (E->nbufs && !E->bufs))
        return fail(v, MGC_PART_ENTRY, en, 0, 0, "%s: ops or buffers missing or absurdly many", ename);
    if (!in_range(E->input, 0, (int64_t)E->nbufs - 1))
        return fail(v, MGC_PART_ENTRY, en, 0, 0, "%s: input %d is not a buffer", ename, E->input);
    for (size_t i = 0; i < E->nbufs; i++)
        if (check_buffer(v, en, i))
            return -1;
    const mgc_plan_buffer *in = &E->bufs[E->input];
    if (in->cols != 1 || in->dtype != MGC_I32)
        return fail(v, MGC_PART_ENTRY, en, 0, 0, "%s: input buffer %d '%s' must be i32 with 1 column",
                    ename, E->input, in->name);
    for (size_t i = 0; i < E->nbufs; i++) /* the token ids are the only integers */
        if ((int)i != E->input && !act_dtype_ok(E->bufs[i].dtype))
            return fail(v, MGC_PART_BUFFER, en, i, 0, "%s buffer %zu '%s': activations are f32 or bf16", ename, i,
                        E->bufs[i].name);
    unsigned char *written = calloc(E->nbufs, 1);
    if (!written)
        return fail(v, MGC_PART_ENTRY, en, 0, 0, "%s: out of memory", ename);
    written[E->input] = 1;
    int rc = 0;
    for (size_t i = 0; i < E->nops && !rc; i++)
        rc = check_op(v, en, i, written);
    free(written);
    return rc ? rc : check_overlaps(v, en);
}

int mgc_plan_validate_where(const mgc_plan *p, mgc_plan_where *where, mgc_error *e)
{
    vctx v = { p, where, e };
    if (where)
        memset(where, 0, sizeof *where);
    if (check_header(&v) || check_weights(&v) || check_entry(&v, 0) || check_entry(&v, 1))
        return -1;
    return 0;
}

int mgc_plan_validate(const mgc_plan *p, mgc_error *e)
{
    return mgc_plan_validate_where(p, NULL, e);
}

