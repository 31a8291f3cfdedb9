/* plan_sample.c: see plan_sample.h. */
#include "plan_sample.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *dup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void *zalloc(size_t n, size_t size)
{
    void *q = calloc(n, size);
    if (!q)
        abort();
    return q;
}

/* One weight; slices[d] = {lo0, hi0, lo1, hi1, local0, local1}. */
static void weight(mgc_plan *p, const char *id, const char *hf, int rank, int64_t h0, int64_t h1,
                   int64_t s0, int64_t s1, int64_t row0, mgc_weight_role role, mgc_dtype dt,
                   int split_dim, int64_t padded, const int64_t sl[][6])
{
    mgc_plan_weight *w = &p->weights[p->nweights++];
    w->id = dup(id);
    w->hf_name = dup(hf);
    w->rank = rank;
    w->hf_shape[0] = h0;
    w->hf_shape[1] = rank == 2 ? h1 : 0;
    w->shape[0] = s0;
    w->shape[1] = rank == 2 ? s1 : 0;
    w->row0 = row0;
    w->role = role;
    w->dtype = dt;
    w->shard = split_dim < 0 ? MGC_SHARD_REPLICATED : MGC_SHARD_SPLIT;
    w->dim = split_dim < 0 ? 0 : split_dim;
    w->padded = split_dim < 0 ? 0 : padded;
    w->replicas = 1;
    w->owner = -1;
    w->derive_scale = 1.0;
    w->slices = zalloc((size_t)p->ndevices, sizeof *w->slices);
    uint64_t n = 1;
    for (int d = 0; d < p->ndevices; d++) {
        mgc_weight_slice *s = &w->slices[d];
        s->range[0] = (mgc_range){ sl[d][0], sl[d][1] };
        s->local_shape[0] = sl[d][4];
        if (rank == 2) {
            s->range[1] = (mgc_range){ sl[d][2], sl[d][3] };
            s->local_shape[1] = sl[d][5];
        }
    }
    n = (uint64_t)w->slices[0].local_shape[0] * (uint64_t)(rank == 2 ? w->slices[0].local_shape[1] : 1);
    w->bytes_per_device = mgc_dtype_bytes(dt, n);
}

static void buf(mgc_plan_entry *E, const char *name, int64_t cols, mgc_dtype dt, int64_t offset,
                int first, int last)
{
    mgc_plan_buffer *b = &E->bufs[E->nbufs];
    b->id = (int)E->nbufs++;
    b->name = dup(name);
    b->cols = cols;
    b->dtype = dt;
    b->offset = offset;
    b->size = E->rows * cols;
    b->first = first;
    b->last = last;
}

static mgc_plan_op *op(mgc_plan_entry *E, mgc_kernel k, int in0, int in1, int in2, int out,
                       const char *where)
{
    mgc_plan_op *o = &E->ops[E->nops++];
    *o = (mgc_plan_op){ .kernel = k, .in = { in0, in1, in2 }, .out = out, .weight = -1,
                        .layer = -1, .rope = -1, .tap = -1, .weight2 = -1, .replicas = 1, .device = -1 };
    o->where = where ? dup(where) : NULL;
    return o;
}

static void entry(mgc_plan_entry *E, int decode)
{
    E->rows = 32;
    E->input = 0;
    E->bufs = zalloc(16, sizeof *E->bufs);
    E->ops = zalloc(16, sizeof *E->ops);
    /* buffers: the last use of k/v differs between prefill (sdpa at 8) and
     * decode (update_cache at 7) */
    buf(E, "tokens", 1, MGC_I32, 0, 0, 0);
    buf(E, "l0.x", 64, MGC_BF16, 32, 0, 11);
    buf(E, "l0.attn_norm", 64, MGC_BF16, 2080, 1, 4);
    buf(E, "l0.attn.q", 32, MGC_BF16, 4128, 2, 5);
    buf(E, "l0.attn.k", 16, MGC_BF16, 5152, 3, 6);
    buf(E, "l0.attn.v", 16, MGC_BF16, 5664, 4, decode ? 7 : 8);
    buf(E, "l0.attn.q_rot", 32, MGC_BF16, 6176, 5, 8);
    buf(E, "l0.attn.k_rot", 16, MGC_BF16, 7200, 6, decode ? 7 : 8);
    buf(E, "l0.attn.ctx \"é\"", 32, MGC_F32, 7712, 8, 9);
    buf(E, "l0.attn.o_partial", 64, MGC_F32, 8736, 9, 10);
    buf(E, "l0.attn.o", 64, MGC_F32, 10784, 10, 11);
    buf(E, "l0.h", 64, MGC_BF16, 12832, 11, 12);
    buf(E, "logits", 64, MGC_F32, 2080, 12, decode ? 13 : 13); /* reuses attn_norm's slot */
    if (decode)
        buf(E, "logits.scaled", 64, MGC_F32, 14880, 13, 14);
    E->arena_values = decode ? 16928 : 14880;

    const char *g = "graphs/common/llama.graph";
    mgc_plan_op *o;
    o = op(E, MGC_K_EMBEDDING, 0, -1, -1, 1, "graphs/common/llama.graph:3:5");
    o->weight = 0;
    o = op(E, MGC_K_RMS_NORM, 1, -1, -1, 2, "graphs/common/llama.graph:7:9");
    o->weight = 1;
    o->eps = 1e-5;
    o = op(E, MGC_K_LINEAR, 2, -1, -1, 3, "graphs/common/llama.graph:15:7");
    o->weight = 2;
    o = op(E, MGC_K_LINEAR, 2, -1, -1, 4, "graphs/common/llama.graph:16:7");
    o->weight = 3;
    o = op(E, MGC_K_LINEAR, 2, -1, -1, 5, "graphs/common/llama.graph:17:7");
    o->weight = 4;
    o = op(E, MGC_K_ROTARY, 3, -1, -1, 6, "graphs/common/llama.graph:18:7");
    o->rope = decode;
    o->n_heads = 4;
    o->head_dim = 8;
    o = op(E, MGC_K_ROTARY, 4, -1, -1, 7, "graphs/common/llama.graph:19:7");
    o->rope = decode;
    o->n_heads = 2;
    o->head_dim = 8;
    if (!decode) {
        o = op(E, MGC_K_FILL_CACHE, 7, 5, -1, -1, "graphs/common/llama.graph:20:3");
        o->layer = 0;
        o = op(E, MGC_K_SDPA, 6, 7, 5, 8, "graphs/common/llama.graph:21:3");
        o->layer = 0; /* a prefill chunk after a cached prefix reads this layer's cache */
    } else {
        o = op(E, MGC_K_UPDATE_CACHE, 7, 5, -1, -1, "graphs/common/llama.graph:20:3");
        o->layer = 0;
        o = op(E, MGC_K_SDPA_DECODE, 6, -1, -1, 8, "graphs/common/llama.graph:21:3");
        o->layer = 0;
    }
    o->n_heads = 4;
    o->n_kv_heads = 2;
    o->head_dim = 8;
    o->scale = 0.35355339059327373;
    o = op(E, MGC_K_LINEAR, 8, -1, -1, 9, "graphs/common/llama.graph:22:3");
    o->weight = 6;
    op(E, MGC_K_ALL_REDUCE, 9, -1, -1, 10, NULL);
    op(E, MGC_K_ADD, 1, 10, -1, 11, g);
    o = op(E, MGC_K_LINEAR, 11, -1, -1, 12, "graphs/common/llama.graph:30:1 \"lm_head\"");
    o->weight = 5;
    if (decode) {
        o = op(E, MGC_K_SCALE, 12, -1, -1, 13, g);
        o->scale = 1.0 / 3.0;
        o = op(E, MGC_K_OUTPUT, 13, -1, -1, -1, g);
    } else {
        o = op(E, MGC_K_OUTPUT, 12, -1, -1, -1, g);
    }
    o->vocab = 100;
}

void mgc_test_sample_plan(mgc_plan *p)
{
    memset(p, 0, sizeof *p);
    p->model = dup("test-org/Tiny-Llama");
    p->spec = dup("graphs/test-org/Tiny-Llama/t2.graph");
    p->system = dup("t2");
    p->mesh[0] = 1;
    p->mesh[1] = 2;
    p->ndevices = 2;
    p->topology = dup("linear");
    p->dram_bytes = (uint64_t)1 << 30;
    p->tile = 32;
    p->hidden = 64;
    p->vocab = 100;
    p->padded_vocab = 128;
    p->n_layers = 1;
    p->weights_dtype = MGC_BF8_B;
    p->act_dtype = MGC_BF16;
    p->kv_dtype = MGC_BF16;
    p->cache_users = 32;
    p->cache_kv_heads = 2;
    p->cache_len = 64;
    p->cache_head_dim = 8;
    p->cache_layers = 1;
    p->expect_top1 = p->expect_top5 = p->expect_pcc = -1;

    p->ropes = zalloc(2, sizeof *p->ropes);
    p->nropes = 2;
    mgc_plan_rope *r = &p->ropes[0];
    r->kind = MGC_ROPE_LONGROPE;
    r->theta = 10000.0;
    r->dim = 8;
    r->original_max = 4096;
    r->max_pos = 131072;
    r->short_factor = zalloc(4, sizeof(double));
    r->long_factor = zalloc(4, sizeof(double));
    const double sf[4] = { 1.0, 1.0000000000000002, 1.1, 3.0517578125e-05 };
    const double lf[4] = { 1.0 / 3.0, 2.5, 1e22, 47.77 };
    memcpy(r->short_factor, sf, sizeof sf);
    memcpy(r->long_factor, lf, sizeof lf);
    r = &p->ropes[1];
    r->kind = MGC_ROPE_LLAMA3;
    r->theta = 500000.0;
    r->dim = 8;
    r->factor = 32.0;
    r->low_freq_factor = 1.0;
    r->high_freq_factor = 4.0;
    r->original_max = 8192;

    p->weights = zalloc(8, sizeof *p->weights);
    const char *qkv = "model.layers.0.self_attn.qkv_proj.weight";
    weight(p, "model.embed_tokens.weight", "model.embed_tokens.weight", 2, 100, 64, 100, 64, 0,
           MGC_W_EMBEDDING, MGC_BF16, -1, 0,
           (const int64_t[][6]){ { 0, 100, 0, 64, 100, 64 }, { 0, 100, 0, 64, 100, 64 } });
    weight(p, "model.layers.0.input_layernorm.weight", "model.layers.0.input_layernorm.weight", 1, 64, 0,
           64, 0, 0, MGC_W_NORM, MGC_F32, -1, 0,
           (const int64_t[][6]){ { 0, 64, 0, 0, 64, 0 }, { 0, 64, 0, 0, 64, 0 } });
    weight(p, "model.layers.0.self_attn.qkv_proj.weight#q", qkv, 2, 128, 64, 64, 64, 0, MGC_W_LINEAR,
           MGC_BF8_B, 0, 64,
           (const int64_t[][6]){ { 0, 32, 0, 64, 32, 64 }, { 32, 64, 0, 64, 32, 64 } });
    weight(p, "model.layers.0.self_attn.qkv_proj.weight#k", qkv, 2, 128, 64, 32, 64, 64, MGC_W_LINEAR,
           MGC_BF8_B, 0, 32,
           (const int64_t[][6]){ { 64, 80, 0, 64, 16, 64 }, { 80, 96, 0, 64, 16, 64 } });
    weight(p, "model.layers.0.self_attn.qkv_proj.weight#v", qkv, 2, 128, 64, 32, 64, 96, MGC_W_LINEAR,
           MGC_BF8_B, 0, 32,
           (const int64_t[][6]){ { 96, 112, 0, 64, 16, 64 }, { 112, 128, 0, 64, 16, 64 } });
    weight(p, "lm_head.weight", "lm_head.weight", 2, 100, 64, 100, 64, 0, MGC_W_LINEAR, MGC_BF16, 0, 128,
           (const int64_t[][6]){ { 0, 64, 0, 64, 64, 64 }, { 64, 100, 0, 64, 64, 64 } });
    weight(p, "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.o_proj.weight", 2, 64,
           64, 64, 64, 0, MGC_W_LINEAR, MGC_BF4_B, 1, 64,
           (const int64_t[][6]){ { 0, 64, 0, 32, 64, 32 }, { 0, 64, 32, 64, 64, 32 } });

    entry(&p->prefill, 0);
    entry(&p->decode, 1);

    uint64_t wsum = 0;
    for (size_t i = 0; i < p->nweights; i++)
        wsum += p->weights[i].bytes_per_device;
    p->memory.weights = wsum;
    p->memory.kv_cache = 2 * 1 * 32 * 2 * 64 * 8 * 2;
    p->memory.activations = 16928 * 2;
    p->memory.total = p->memory.weights + p->memory.kv_cache + p->memory.activations;
    p->memory.dram = p->dram_bytes;
}

void mgc_test_expect_plan_stable(const mgc_plan *p, const char *label, const char *what)
{
    mgc_error e = {{0}};
    if (mgc_plan_validate(p, &e) != 0)
        fail_msg("%s loaded but does not validate: %s", what, e.msg);
    char *again = mgc_plan_to_string(p, &e);
    if (!again)
        fail_msg("%s loaded but cannot be written: %s", what, e.msg);
    mgc_plan q;
    if (mgc_plan_parse(label, again, strlen(again), &q, &e) != 0)
        fail_msg("%s: its rewrite does not load: %s", what, e.msg);
    char *third = mgc_plan_to_string(&q, &e);
    assert_non_null(third);
    assert_string_equal(again, third);
    free(third);
    free(again);
    mgc_plan_free(&q);
}
