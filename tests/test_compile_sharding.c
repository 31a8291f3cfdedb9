/* The compiler on the five real bringups at true size (graphs/, their real
 * config.json files, no checkpoint): sharding propagation and the
 * collectives it inserts, meshes that do not divide, the weight-slice table
 * against hand computation, vocab padding, the memory summary against hand
 * arithmetic and the fit/no-fit cases, plan determinism and round trips, and
 * the IR renderings.  Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"

static const mgc_test_bringup *B(const char *name)
{
    const mgc_test_bringup *b = mgc_test_bringup_named(name);
    assert_non_null(b);
    return b;
}

/* Compiles bringup b for `system` (NULL: its own); fails the test if it does not compile. */
static void compile_ok(const mgc_test_bringup *b, const char *system, int wdtype, mgc_test_result *r)
{
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = b->spec;
    o.config_path = b->config;
    o.system = system;
    o.weights_dtype = wdtype;
    if (mgc_test_compile(&o, r) != 0) {
        char why[256];
        snprintf(why, sizeof why, "%s on %s did not compile", b->name, system ? system : b->system);
        FAIL_WITH_DIAGS(r, why);
    }
}

static const mgc_plan_weight *W(const mgc_plan *p, const char *id)
{
    int i = mgc_test_weight_index(p, id);
    if (i < 0)
        fail_msg("no weight '%s' in the plan", id);
    return &p->weights[i];
}

/* ---- collectives ------------------------------------------------------------- */

/* In one entry point: no collective before the first layer's cache op,
 * exactly two all_reduces from each layer's cache op to the next one (the
 * one after o_proj, the one after down_proj), no all_gather, and one output
 * as the last op. */
static void check_collectives_per_layer(const mgc_plan *p, const mgc_plan_entry *en, int64_t layers,
                                        size_t want_per_layer)
{
    mgc_kernel cache_k = en == &p->prefill ? MGC_K_FILL_CACHE : MGC_K_UPDATE_CACHE;
    int64_t layer = -1;
    size_t ar = 0, outputs = 0;
    for (size_t i = 0; i < en->nops; i++) {
        const mgc_plan_op *op = &en->ops[i];
        if (op->kernel == cache_k) {
            if (layer >= 0 && ar != want_per_layer)
                fail_msg("layer %lld has %zu all_reduces", (long long)layer, ar);
            if (layer < 0 && ar != 0)
                fail_msg("%zu all_reduces before the first layer", ar);
            assert_int_equal(op->layer, layer + 1);
            layer = op->layer;
            ar = 0;
        }
        ar += op->kernel == MGC_K_ALL_REDUCE;
        assert_int_not_equal(op->kernel, MGC_K_ALL_GATHER);
        if (op->kernel == MGC_K_OUTPUT) {
            outputs++;
            assert_int_equal(i, en->nops - 1);
            assert_int_equal(op->vocab, p->vocab); /* the padding is trimmed */
        }
    }
    if (ar != want_per_layer)
        fail_msg("the last layer has %zu all_reduces", ar);
    assert_int_equal(layer + 1, layers);
    assert_int_equal(outputs, 1);
}

static void test_collectives_t3000(void **state)
{
    (void)state;
    const char *names[] = {"llama32", "phi3", "qwen3", "mistral"};
    const int64_t layers[] = {16, 32, 28, 32};
    for (int i = 0; i < 4; i++) {
        mgc_test_result r;
        compile_ok(B(names[i]), NULL, -1, &r);
        const mgc_plan *p = &r.plan;
        assert_string_equal(p->system, "t3000");
        assert_int_equal(p->ndevices, 8);
        assert_int_equal(p->mesh[0], 2);
        assert_int_equal(p->mesh[1], 4);
        assert_int_equal(p->n_layers, layers[i]);
        check_collectives_per_layer(p, &p->prefill, layers[i], 2);
        check_collectives_per_layer(p, &p->decode, layers[i], 2);
        assert_int_equal(mgc_test_count_kernel(&p->decode, MGC_K_ALL_REDUCE), 2 * layers[i]);
        /* in the IR they are marked as inserted: the specs write none */
        assert_int_equal(mgc_test_count_ir(&r.ir, MGC_IR_ALL_REDUCE, 1), 2 * layers[i]);
        assert_int_equal(mgc_test_count_ir(&r.ir, MGC_IR_ALL_REDUCE, 0), 0);
        assert_int_equal(mgc_test_count_ir(&r.ir, MGC_IR_ALL_GATHER, -1), 0);
        /* each all_reduce directly follows a row-parallel linear */
        for (size_t k = 0; k < r.ir.nnodes; k++) {
            const mgc_ir_node *n = &r.ir.nodes[k];
            if (n->op != MGC_IR_ALL_REDUCE)
                continue;
            const mgc_ir_node *in = &r.ir.nodes[n->in[0]];
            assert_int_equal(in->op, MGC_IR_LINEAR);
            assert_int_equal(in->sh, MGC_SH_PARTIAL);
            assert_int_equal(r.ir.weights[in->weight].dim, 1);
        }
        mgc_test_result_free(&r);
    }
}

/* One device: no collective at all, whatever the spec's annotations.  (The
 * cpu system's memory is this host's, so only the small models go there.) */
static void test_collectives_one_device(void **state)
{
    (void)state;
    for (int i = 0; i < MGC_TEST_NBRINGUPS; i++) {
        const char *systems[] = {"n150", "cpu"};
        for (int s = 0; s < 2; s++) {
            const mgc_test_bringup *b = &mgc_test_bringups[i];
            if (s == 1 && strcmp(b->name, "llama32") && strcmp(b->name, "qwen3"))
                continue;
            mgc_test_result r;
            compile_ok(b, systems[s], -1, &r);
            const mgc_plan *p = &r.plan;
            assert_string_equal(p->system, systems[s]);
            assert_int_equal(p->ndevices, 1);
            for (int e = 0; e < 2; e++) {
                const mgc_plan_entry *en = e ? &p->decode : &p->prefill;
                assert_int_equal(mgc_test_count_kernel(en, MGC_K_ALL_REDUCE), 0);
                assert_int_equal(mgc_test_count_kernel(en, MGC_K_ALL_GATHER), 0);
                assert_int_equal(mgc_test_count_kernel(en, MGC_K_OUTPUT), 1);
            }
            for (size_t w = 0; w < p->nweights; w++)
                assert_int_equal(p->weights[w].shard, MGC_SHARD_REPLICATED);
            assert_int_equal(p->padded_vocab, p->vocab);
            assert_int_equal(p->cache_kv_heads, i == 1 || i == 4 ? 32 : 8); /* Phi-3, ALLaM: MHA */
            mgc_test_result_free(&r);
        }
    }
}

/* ---- meshes that do not divide ------------------------------------------------ */

static char *mesh_dir(const char *name, int rows, int cols)
{
    char *dir = mgc_test_tempdir(name);
    char path[4096], yaml[512];
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    snprintf(yaml, sizeof yaml,
             "name: %s\n"
             "device: wormhole_b0\n"
             "mesh: [%d, %d]\n"
             "topology: linear\n"
             "dram: 12884901888\n"
             "dram_reserved: 268435456\n"
             "tile: 32\n", name, rows, cols);
    assert_int_equal(mgc_test_write_file(path, yaml, strlen(yaml)), 0);
    return dir;
}

static int compile_on(const mgc_test_bringup *b, const char *system, const char *dir, mgc_test_result *r)
{
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = b->spec;
    o.config_path = b->config;
    o.system = system;
    o.systems_dir = dir;
    return mgc_test_compile(&o, r);
}

static const mgc_plan_weight *weight_named(const mgc_plan *p, const char *id)
{
    for (size_t i = 0; i < p->nweights; i++)
        if (strcmp(p->weights[i].id, id) == 0)
            return &p->weights[i];
    fail_msg("no weight '%s' in the plan", id);
    return NULL;
}

static void test_mesh_not_dividing(void **state)
{
    (void)state;
    /* 32 query heads over 12 devices: the error names both, at the heads */
    char *dir = mesh_dir("t12", 2, 6);
    const char *names[] = {"llama32", "mistral"};
    for (int i = 0; i < 2; i++) {
        mgc_test_result r;
        assert_int_not_equal(compile_on(B(names[i]), "t12", dir, &r), 0);
        const mgc_diagnostic *g = mgc_test_find_diag(&r.d, MGC_ERROR, "32 heads do not split over the 12 devices of t12");
        if (!g)
            FAIL_WITH_DIAGS(&r, "no error about 32 heads over 12 devices");
        assert_non_null(g->span.file);
        /* q = heads(..., nq) @col in the shared library */
        assert_string_equal(g->span.file, "graphs/common/llama.graph");
        assert_true(g->span.line > 0);
        mgc_test_result_free(&r);
    }
    mgc_test_rmtree(dir);
    free(dir);
}

/* 8 KV heads over 16 devices: each KV head is replicated on the two devices
 * whose query heads read it (as tt-metal does), so the query heads still
 * split 16 ways; 32 KV heads (ALLaM, Phi-3) split 2 per device. */
static void test_kv_heads_replicated(void **state)
{
    (void)state;
    char *dir = mesh_dir("t16", 2, 8);
    const char *names[] = {"llama32", "mistral", "qwen3"};
    for (int i = 0; i < 3; i++) {
        mgc_test_result r;
        if (compile_on(B(names[i]), "t16", dir, &r) != 0)
            FAIL_WITH_DIAGS(&r, "should compile on 16 devices with the KV heads replicated");
        assert_int_equal(r.plan.ndevices, 16);
        assert_int_equal(r.plan.cache_kv_heads, 1);
        const mgc_plan_weight *k = weight_named(&r.plan, "model.layers.0.self_attn.k_proj.weight");
        const mgc_plan_weight *q = weight_named(&r.plan, "model.layers.0.self_attn.q_proj.weight");
        assert_int_equal(k->replicas, 2);
        assert_int_equal(q->replicas, 1);
        int64_t kv_rows = k->shape[0] / 8, q_rows = q->shape[0] / 16;
        for (int d = 0; d < 16; d++) {
            /* device d holds KV head d / 2 and query heads [2d, 2d + 2) (32 of them) or [d, d+1) */
            assert_int_equal(k->slices[d].range[0].lo, (d / 2) * kv_rows);
            assert_int_equal(k->slices[d].range[0].hi, (d / 2 + 1) * kv_rows);
            assert_int_equal(q->slices[d].range[0].lo, d * q_rows);
        }
        /* the KV cache holds the replicas: twice the KV values of an 8-way split, per device half */
        check_collectives_per_layer(&r.plan, &r.plan.decode, (int)r.plan.cache_layers, 2);
        mgc_test_result_free(&r);
    }
    const char *ok[] = {"allam", "phi3"};
    for (int i = 0; i < 2; i++) {
        mgc_test_result r;
        if (compile_on(B(ok[i]), "t16", dir, &r) != 0)
            FAIL_WITH_DIAGS(&r, "should compile on 16 devices");
        assert_int_equal(r.plan.ndevices, 16);
        assert_int_equal(r.plan.cache_kv_heads, 2);
        check_collectives_per_layer(&r.plan, &r.plan.decode, 32, 2);
        mgc_test_result_free(&r);
    }
    mgc_test_rmtree(dir);
    free(dir);
}

/* ---- weight slices ------------------------------------------------------------------ */

static void expect_range(const mgc_weight_slice *s, int dim, int64_t lo, int64_t hi)
{
    if (s->range[dim].lo != lo || s->range[dim].hi != hi)
        fail_msg("dim %d reads [%lld, %lld), expected [%lld, %lld)", dim, (long long)s->range[dim].lo,
                 (long long)s->range[dim].hi, (long long)lo, (long long)hi);
}

/* Column-parallel: device d reads rows [row0 + d*n, row0 + (d+1)*n) and all columns. */
static void expect_rows_split(const mgc_plan_weight *w, int64_t row0, int64_t n, int64_t cols)
{
    assert_int_equal(w->shard, MGC_SHARD_SPLIT);
    assert_int_equal(w->dim, 0);
    for (int d = 0; d < 8; d++) {
        expect_range(&w->slices[d], 0, row0 + d * n, row0 + (d + 1) * n);
        expect_range(&w->slices[d], 1, 0, cols);
        assert_int_equal(w->slices[d].local_shape[0], n);
        assert_int_equal(w->slices[d].local_shape[1], cols);
    }
}

/* Row-parallel: device d reads all rows and columns [d*n, (d+1)*n). */
static void expect_cols_split(const mgc_plan_weight *w, int64_t rows, int64_t n)
{
    assert_int_equal(w->shard, MGC_SHARD_SPLIT);
    assert_int_equal(w->dim, 1);
    for (int d = 0; d < 8; d++) {
        expect_range(&w->slices[d], 0, 0, rows);
        expect_range(&w->slices[d], 1, d * n, (d + 1) * n);
        assert_int_equal(w->slices[d].local_shape[0], rows);
        assert_int_equal(w->slices[d].local_shape[1], n);
    }
}

static void expect_replicated(const mgc_plan_weight *w, int64_t rows, int64_t cols)
{
    assert_int_equal(w->shard, MGC_SHARD_REPLICATED);
    for (int d = 0; d < 8; d++) {
        expect_range(&w->slices[d], 0, 0, rows);
        assert_int_equal(w->slices[d].local_shape[0], rows);
        if (w->rank == 2) {
            expect_range(&w->slices[d], 1, 0, cols);
            assert_int_equal(w->slices[d].local_shape[1], cols);
        }
    }
}

/* Llama-3.2-1B on a T3000, by hand: hidden 2048, 32 query heads and 8 KV
 * heads of 64, intermediate 8192, vocab 128256; tensor parallel over 8. */
static void test_slices_llama_t3000(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_ok(B("llama32"), NULL, -1, &r);
    const mgc_plan *p = &r.plan;
    for (int l = 0; l < 16; l++) {
        char id[128];
#define ID(s) (snprintf(id, sizeof id, "model.layers.%d.%s", l, s), id)
        expect_rows_split(W(p, ID("self_attn.q_proj.weight")), 0, 2048 / 8, 2048); /* 256 rows: 4 heads */
        expect_rows_split(W(p, ID("self_attn.k_proj.weight")), 0, 512 / 8, 2048);  /* 64 rows: 1 KV head */
        expect_rows_split(W(p, ID("self_attn.v_proj.weight")), 0, 512 / 8, 2048);
        expect_cols_split(W(p, ID("self_attn.o_proj.weight")), 2048, 2048 / 8);
        expect_rows_split(W(p, ID("mlp.gate_proj.weight")), 0, 8192 / 8, 2048);
        expect_rows_split(W(p, ID("mlp.up_proj.weight")), 0, 8192 / 8, 2048);
        expect_cols_split(W(p, ID("mlp.down_proj.weight")), 2048, 8192 / 8);
        expect_replicated(W(p, ID("input_layernorm.weight")), 2048, 0);
        expect_replicated(W(p, ID("post_attention_layernorm.weight")), 2048, 0);
#undef ID
    }
    expect_replicated(W(p, "model.embed_tokens.weight"), 128256, 2048);
    expect_replicated(W(p, "model.norm.weight"), 2048, 0);
    /* the tied lm_head: the same tensor again, split by vocab rows, 16032 =
     * 128256 / 8 = 501 tiles each: no padding */
    const mgc_plan_weight *lm = W(p, "model.embed_tokens.weight#tied");
    assert_string_equal(lm->hf_name, "model.embed_tokens.weight");
    expect_rows_split(lm, 0, 16032, 2048);
    assert_int_equal(lm->padded, 128256);
    assert_int_equal(p->padded_vocab, 128256);
    assert_int_equal(lm->bytes_per_device, 16032ull * 2048 * 2);
    /* every column/row-parallel weight is 1/8 per device; replicated ones whole */
    for (size_t i = 0; i < p->nweights; i++) {
        const mgc_plan_weight *w = &p->weights[i];
        uint64_t whole = (uint64_t)w->shape[0] * (uint64_t)(w->rank == 2 ? w->shape[1] : 1);
        uint64_t per = mgc_dtype_bytes(w->dtype, whole / (w->shard == MGC_SHARD_SPLIT ? 8 : 1));
        assert_int_equal(w->bytes_per_device, per);
    }
    assert_int_equal(p->nweights, 1 + 16 * 9 + 1 + 1);
    mgc_test_result_free(&r);
}

/* Phi-3-mini on a T3000: fused qkv_proj [9216, 3072] and gate_up_proj
 * [16384, 3072], each part split on its own; vocab 32064 padded to 32256. */
static void test_slices_phi3_t3000(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_ok(B("phi3"), NULL, -1, &r);
    const mgc_plan *p = &r.plan;
    for (int l = 0; l < 32; l += 31) {
        char id[128];
#define ID(s) (snprintf(id, sizeof id, "model.layers.%d.%s", l, s), id)
        const mgc_plan_weight *q = W(p, ID("self_attn.qkv_proj.weight#q"));
        const mgc_plan_weight *k = W(p, ID("self_attn.qkv_proj.weight#k"));
        const mgc_plan_weight *v = W(p, ID("self_attn.qkv_proj.weight#v"));
        /* 32 heads of 96 = 3072 rows per part; 4 heads = 384 rows per device */
        expect_rows_split(q, 0, 384, 3072);
        expect_rows_split(k, 3072, 384, 3072);
        expect_rows_split(v, 6144, 384, 3072);
        for (int i = 0; i < 3; i++) {
            const mgc_plan_weight *x = i == 0 ? q : i == 1 ? k : v;
            assert_string_equal(x->hf_name, ID("self_attn.qkv_proj.weight"));
            assert_int_equal(x->hf_shape[0], 9216); /* the whole fused tensor */
            assert_int_equal(x->hf_shape[1], 3072);
            assert_int_equal(x->shape[0], 3072);
            assert_int_equal(x->row0, 3072 * i);
        }
        const mgc_plan_weight *g = W(p, ID("mlp.gate_up_proj.weight#gate"));
        const mgc_plan_weight *u = W(p, ID("mlp.gate_up_proj.weight#up"));
        expect_rows_split(g, 0, 1024, 3072);
        expect_rows_split(u, 8192, 1024, 3072); /* up starts at row 8192 */
        assert_int_equal(g->hf_shape[0], 16384);
        assert_int_equal(u->hf_shape[0], 16384);
        assert_int_equal(u->row0, 8192);
        expect_cols_split(W(p, ID("self_attn.o_proj.weight")), 3072, 384);
        expect_cols_split(W(p, ID("mlp.down_proj.weight")), 3072, 1024);
#undef ID
    }
    /* lm_head: 32064 rows are 125.25 tiles per device; padded to 32256 =
     * 8 x 4032 (126 tiles).  Devices 0..6 read 4032 real rows each, the last
     * one the 3840 that are left and 192 zero rows. */
    const mgc_plan_weight *lm = W(p, "lm_head.weight");
    assert_int_equal(lm->shard, MGC_SHARD_SPLIT);
    assert_int_equal(lm->dim, 0);
    assert_int_equal(lm->padded, 32256);
    assert_int_equal(lm->hf_shape[0], 32064);
    for (int d = 0; d < 8; d++) {
        assert_int_equal(lm->slices[d].local_shape[0], 4032);
        assert_int_equal(lm->slices[d].local_shape[1], 3072);
        expect_range(&lm->slices[d], 0, d * 4032, d < 7 ? (d + 1) * 4032 : 32064);
        expect_range(&lm->slices[d], 1, 0, 3072);
    }
    assert_int_equal(lm->slices[7].range[0].lo, 28224);
    assert_int_equal(lm->bytes_per_device, 4032ull * 3072 * 2);
    assert_int_equal(p->vocab, 32064);
    assert_int_equal(p->padded_vocab, 32256);
    /* the logits buffer is 4032 wide per device; output trims to 32064 */
    const mgc_plan_op *out = &p->decode.ops[p->decode.nops - 1];
    assert_int_equal(out->kernel, MGC_K_OUTPUT);
    assert_int_equal(out->vocab, 32064);
    assert_int_equal(p->decode.bufs[out->in[0]].cols, 4032);
    mgc_test_result_free(&r);
}

/* Qwen3-0.6B on a T3000: vocab 151936 is 593.5 tiles per device, padded to
 * 152064 = 8 x 19008; head_dim 128 (not 1024/16). */
static void test_slices_qwen3_t3000(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_ok(B("qwen3"), NULL, -1, &r);
    const mgc_plan *p = &r.plan;
    const mgc_plan_weight *lm = W(p, "model.embed_tokens.weight#tied");
    assert_int_equal(lm->padded, 152064);
    for (int d = 0; d < 8; d++) {
        assert_int_equal(lm->slices[d].local_shape[0], 19008);
        expect_range(&lm->slices[d], 0, d * 19008, d < 7 ? (d + 1) * 19008 : 151936);
    }
    assert_int_equal(p->padded_vocab, 152064);
    assert_int_equal(p->decode.ops[p->decode.nops - 1].vocab, 151936);
    /* q_proj: 16 heads of 128 -> 2 heads = 256 rows per device; k: 1 head */
    expect_rows_split(W(p, "model.layers.0.self_attn.q_proj.weight"), 0, 256, 1024);
    expect_rows_split(W(p, "model.layers.0.self_attn.k_proj.weight"), 0, 128, 1024);
    expect_cols_split(W(p, "model.layers.0.self_attn.o_proj.weight"), 1024, 256);
    /* q_norm/k_norm: one [128] weight shared by every head, replicated */
    expect_replicated(W(p, "model.layers.0.self_attn.q_norm.weight"), 128, 0);
    expect_replicated(W(p, "model.layers.0.self_attn.k_norm.weight"), 128, 0);
    assert_int_equal(p->cache_head_dim, 128);
    assert_int_equal(p->cache_kv_heads, 1);
    mgc_test_result_free(&r);
}

/* ---- memory --------------------------------------------------------------------------- */

/* Bytes as plan.h's mgc_dtype_bytes says: f32 4, bf16 2, bf8_b 1 per value
 * plus one shared exponent byte per 16 values (17/16). */
#define BF16(n) (2ull * (n))
#define F32(n) (4ull * (n))
#define BF8(n) ((n) + (n) / 16)

static void check_memory_sum(const mgc_plan *p)
{
    assert_int_equal(p->memory.total, p->memory.weights + p->memory.kv_cache + p->memory.activations);
    uint64_t w = 0;
    for (size_t i = 0; i < p->nweights; i++)
        w += p->weights[i].bytes_per_device;
    assert_int_equal(p->memory.weights, w);
    assert_int_equal(p->memory.dram, p->dram_bytes);
    /* activations: the larger arena, at the activation dtype's size (these
     * specs use one activation dtype throughout; the i32 token ids are one
     * value per row and do not widen the arena) */
    int64_t arena = p->prefill.arena_values > p->decode.arena_values ? p->prefill.arena_values : p->decode.arena_values;
    uint64_t per = p->act_dtype == MGC_BF16 ? 2 : 4;
    assert_int_equal(p->memory.activations, per * (uint64_t)arena);
}

static void test_memory_llama_t3000(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_ok(B("llama32"), NULL, -1, &r);
    const mgc_plan *p = &r.plan;
    /* weights per device, bf16 (norms f32):
     *   embed_tokens, replicated         128256 * 2048          bf16
     *   16 layers x (
     *     2 norms                        2 * 2048               f32
     *     q_proj, o_proj (1/8 each)      2 * 2048 * 2048 / 8    bf16
     *     k_proj, v_proj (1/8 each)      2 * 512 * 2048 / 8     bf16
     *     gate, up, down (1/8 each)      3 * 8192 * 2048 / 8    bf16 )
     *   final norm                       2048                   f32
     *   lm_head (tied, rows / 8)         16032 * 2048           bf16 */
    uint64_t layer = F32(2 * 2048) + BF16(2 * 2048 * 2048 / 8) + BF16(2 * 512 * 2048 / 8) + BF16(3 * 8192 * 2048 / 8);
    uint64_t weights = BF16(128256ull * 2048) + 16 * layer + F32(2048) + BF16(16032ull * 2048);
    assert_int_equal(weights, 834543616ull);
    assert_int_equal(p->memory.weights, weights);
    /* KV cache: layers * (K and V) * 32 users * 1 KV head per device *
     * 1024 positions * head_dim 64 * bf16 */
    uint64_t kv = 16ull * 2 * 32 * 1 * 1024 * 64 * 2;
    assert_int_equal(kv, 134217728ull);
    assert_int_equal(p->memory.kv_cache, kv);
    check_memory_sum(p);
    assert_int_equal(p->memory.dram, 12884901888ull);
    assert_true(p->memory.total <= 12884901888ull - 268435456ull);
    mgc_test_result_free(&r);
}

static void test_memory_mistral_t3000(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_ok(B("mistral"), NULL, -1, &r);
    const mgc_plan *p = &r.plan;
    /* weights per device, bf8_b (embeddings bf16 by the spec's pattern, norms f32):
     *   embed_tokens, replicated         32768 * 4096           bf16
     *   32 layers x (
     *     2 norms                        2 * 4096               f32
     *     q_proj, o_proj (1/8 each)      4096 * 4096 / 8        bf8_b, each
     *     k_proj, v_proj (1/8 each)      1024 * 4096 / 8        bf8_b, each
     *     gate, up, down (1/8 each)      14336 * 4096 / 8       bf8_b, each )
     *   final norm                       4096                   f32
     *   lm_head (rows / 8)               4096 * 4096            bf8_b */
    uint64_t layer = F32(2 * 4096) + 2 * BF8(4096ull * 4096 / 8) + 2 * BF8(1024ull * 4096 / 8) +
                     3 * BF8(14336ull * 4096 / 8);
    uint64_t weights = BF16(32768ull * 4096) + 32 * layer + F32(4096) + BF8(4096ull * 4096);
    assert_int_equal(weights, 1214267392ull);
    assert_int_equal(p->memory.weights, weights);
    /* KV: 32 layers * 2 * 32 users * 1 KV head * 1024 * 128 * bf16 */
    uint64_t kv = 32ull * 2 * 32 * 1 * 1024 * 128 * 2;
    assert_int_equal(p->memory.kv_cache, kv);
    check_memory_sum(p);
    mgc_test_result_free(&r);
}

static void test_memory_phi3_t3000(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_ok(B("phi3"), NULL, -1, &r);
    const mgc_plan *p = &r.plan;
    /* bf16; q/k/v parts 3072 rows each, gate/up 8192 rows each, all 1/8;
     * lm_head padded: 4032 rows per device */
    uint64_t layer = F32(2 * 3072) + 3 * BF16(3072ull * 3072 / 8) + BF16(3072ull * 3072 / 8) +
                     2 * BF16(8192ull * 3072 / 8) + BF16(3072ull * 8192 / 8);
    uint64_t weights = BF16(32064ull * 3072) + 32 * layer + F32(3072) + BF16(4032ull * 3072);
    assert_int_equal(p->memory.weights, weights);
    /* KV: 32 layers * 2 * 32 users * 4 KV heads per device * 256 * 96 * bf16 */
    assert_int_equal(p->memory.kv_cache, 32ull * 2 * 32 * 4 * 256 * 96 * 2);
    check_memory_sum(p);
    mgc_test_result_free(&r);
}

/* ALLaM-7B with bf8_b weights fits on one n150. */
static void test_memory_allam_n150_fits(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_ok(B("allam"), NULL, -1, &r);
    const mgc_plan *p = &r.plan;
    /* one device, everything whole: embeddings bf16 (pattern), norms f32,
     * the rest bf8_b:
     *   64000 * 4096 bf16 + 32 x (2 * 4096 f32 + 4 x 4096 * 4096 bf8_b +
     *   3 x 11008 * 4096 bf8_b) + 4096 f32 + 64000 * 4096 bf8_b */
    uint64_t layer = F32(2 * 4096) + 4 * BF8(4096ull * 4096) + 3 * BF8(11008ull * 4096);
    uint64_t weights = BF16(64000ull * 4096) + 32 * layer + F32(4096) + BF8(64000ull * 4096);
    assert_int_equal(weights, 7684636672ull);
    assert_int_equal(p->memory.weights, weights);
    /* KV: 32 layers * 2 * 32 users * 32 KV heads * 256 * 128 * bf16 = 4 GiB */
    assert_int_equal(p->memory.kv_cache, 32ull * 2 * 32 * 32 * 256 * 128 * 2);
    check_memory_sum(p);
    assert_true(p->memory.total <= 12884901888ull - 268435456ull);
    mgc_test_result_free(&r);
}

static void human(char *buf, size_t n, uint64_t b)
{
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (double)(1ull << 30));
    else
        snprintf(buf, n, "%.1f MiB", (double)b / (double)(1ull << 20));
}

/* Mistral-7B with bf16 weights does not fit on one n150: the error gives
 * the numbers. */
static void test_memory_mistral_bf16_n150_does_not_fit(void **state)
{
    (void)state;
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = B("mistral")->spec;
    o.config_path = B("mistral")->config;
    o.system = "n150";
    o.weights_dtype = MGC_BF16;
    mgc_test_result r;
    assert_int_not_equal(mgc_test_compile(&o, &r), 0);
    /* bf16 everywhere but the norms, one device:
     *   32768 * 4096 * 2 (embed) + 32 x (2 * 4096 * 4 + (2 x 4096 * 4096 +
     *   2 x 1024 * 4096 + 3 x 14336 * 4096) * 2) + 4096 * 4 + 4096 * 32768 * 2 */
    uint64_t layer = F32(2 * 4096) + BF16(2 * 4096ull * 4096 + 2 * 1024ull * 4096 + 3 * 14336ull * 4096);
    uint64_t weights = BF16(32768ull * 4096) + 32 * layer + F32(4096) + BF16(32768ull * 4096);
    uint64_t kv = 32ull * 2 * 32 * 8 * 1024 * 128 * 2; /* 8 KV heads on one device: 4 GiB */
    char w[32], k[32], avail[32], want[256];
    human(w, sizeof w, weights);
    human(k, sizeof k, kv);
    human(avail, sizeof avail, 12884901888ull - 268435456ull);
    assert_string_equal(w, "13.50 GiB");
    assert_string_equal(avail, "11.75 GiB");
    snprintf(want, sizeof want, "(weights %s + KV cache %s + activations", w, k);
    const mgc_diagnostic *g = mgc_test_find_diag(&r.d, MGC_ERROR, "the plan does not fit on n150: each device needs");
    if (!g)
        FAIL_WITH_DIAGS(&r, "no 'does not fit' error");
    if (!strstr(g->msg, want) || !strstr(g->msg, "but has 11.75 GiB"))
        fail_msg("'%s' lacks '%s' or the available memory", g->msg, want);
    assert_non_null(g->hint);
    assert_string_equal(g->span.file, B("mistral")->spec);
    /* it points at the model statement */
    char *spec = mgc_test_read_file(B("mistral")->spec, NULL);
    assert_non_null(spec);
    const char *m = strstr(spec, "\nmodel ");
    assert_non_null(m);
    int line = 2;
    for (const char *c = spec; c < m; c++)
        line += *c == '\n';
    assert_int_equal(g->span.line, line);
    assert_int_equal(g->span.col, 1);
    free(spec);
    mgc_test_result_free(&r);
    /* as the spec says (bf8_b), it fits one n150 too */
    compile_ok(B("mistral"), "n150", -1, &r);
    assert_true(r.plan.memory.total <= 12884901888ull - 268435456ull);
    mgc_test_result_free(&r);
}

/* Each bringup as specified fits its own system. */
static void test_memory_bringups_fit(void **state)
{
    (void)state;
    for (int i = 0; i < MGC_TEST_NBRINGUPS; i++) {
        mgc_test_result r;
        compile_ok(&mgc_test_bringups[i], NULL, -1, &r);
        assert_string_equal(r.plan.system, mgc_test_bringups[i].system);
        assert_true(r.plan.memory.total <= r.plan.dram_bytes - 268435456ull);
        check_memory_sum(&r.plan);
        mgc_test_result_free(&r);
    }
}

/* ---- determinism and round trips ------------------------------------------------------ */

static char *plan_text(const mgc_plan *p)
{
    mgc_error e = {{0}};
    char *s = mgc_plan_to_string(p, &e);
    if (!s)
        fail_msg("%s", e.msg);
    return s;
}

static void test_plans_deterministic_and_round_trip(void **state)
{
    (void)state;
    char *dir = mgc_test_tempdir("plans");
    for (int i = 0; i < MGC_TEST_NBRINGUPS; i++) {
        const mgc_test_bringup *b = &mgc_test_bringups[i];
        mgc_test_result r1, r2;
        compile_ok(b, NULL, -1, &r1);
        compile_ok(b, NULL, -1, &r2);
        char *t1 = plan_text(&r1.plan), *t2 = plan_text(&r2.plan);
        if (strcmp(t1, t2) != 0)
            fail_msg("%s: two compiles give different plans", b->name);
        /* write -> read -> write: the same bytes */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.plan.yaml", dir, b->name);
        mgc_error e = {{0}};
        if (mgc_plan_write(&r1.plan, path, &e) != 0)
            fail_msg("%s", e.msg);
        size_t n1;
        char *f1 = mgc_test_read_file(path, &n1);
        assert_non_null(f1);
        assert_int_equal(n1, strlen(t1));
        assert_memory_equal(f1, t1, n1);
        mgc_plan back;
        if (mgc_plan_read(path, &back, &e) != 0)
            fail_msg("%s", e.msg);
        char *t3 = plan_text(&back);
        if (strcmp(t1, t3) != 0)
            fail_msg("%s: the plan read back writes different bytes", b->name);
        assert_int_equal(back.memory.total, r1.plan.memory.total);
        assert_int_equal(back.nweights, r1.plan.nweights);
        assert_int_equal(back.decode.nops, r1.plan.decode.nops);
        mgc_plan_free(&back);
        free(t1);
        free(t2);
        free(t3);
        free(f1);
        mgc_test_result_free(&r1);
        mgc_test_result_free(&r2);
    }
    mgc_test_rmtree(dir);
    free(dir);
}

/* ---- IR renderings --------------------------------------------------------------------- */

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_emit_ir_and_dot(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_ok(B("llama32"), NULL, -1, &r);
    char *ir = mgc_ir_to_text(&r.ir);
    char *dot = mgc_ir_to_dot(&r.ir);
    assert_non_null(ir);
    assert_non_null(dot);
    /* 16 layers x 2 inserted all_reduces, marked as such */
    assert_int_equal(count_str(ir, "= all_reduce("), 32);
    assert_int_equal(count_str(ir, "# inserted"), 32);
    assert_non_null(strstr(ir, "= output("));
    assert_non_null(strstr(ir, "split(256/device)"));
    assert_non_null(strstr(dot, "digraph"));
    assert_true(count_str(dot, "all_reduce") >= 32);
    free(ir);
    free(dot);
    mgc_test_result_free(&r);
    /* on one device there is nothing to insert */
    compile_ok(B("llama32"), "n150", -1, &r);
    ir = mgc_ir_to_text(&r.ir);
    assert_null(strstr(ir, "all_reduce"));
    free(ir);
    mgc_test_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collectives_t3000),
        cmocka_unit_test(test_collectives_one_device),
        cmocka_unit_test(test_mesh_not_dividing),
        cmocka_unit_test(test_kv_heads_replicated),
        cmocka_unit_test(test_slices_llama_t3000),
        cmocka_unit_test(test_slices_phi3_t3000),
        cmocka_unit_test(test_slices_qwen3_t3000),
        cmocka_unit_test(test_memory_llama_t3000),
        cmocka_unit_test(test_memory_mistral_t3000),
        cmocka_unit_test(test_memory_phi3_t3000),
        cmocka_unit_test(test_memory_allam_n150_fits),
        cmocka_unit_test(test_memory_mistral_bf16_n150_does_not_fit),
        cmocka_unit_test(test_memory_bringups_fit),
        cmocka_unit_test(test_plans_deterministic_and_round_trip),
        cmocka_unit_test(test_emit_ir_and_dot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
