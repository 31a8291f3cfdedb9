/* Shape rules of the compiler, op by op: good and bad cases with small
 * handmade specs (tests/specs/compile/) and configs, compiled in-process by
 * mgc_compile.  A bad case checks the message, the line and column it points
 * at, and the hint where there is one.  Checkpoints are tables of tensor
 * shapes (the compiler never reads weight bytes), so every shape rule that
 * needs a checkpoint is tested without files.  Run from the repository root.
 *
 * The other compiler suites: test_compile_sharding.c (sharding, collectives,
 * slices, padding, memory, determinism), test_compile_driver.c (`mgc
 * compile`), test_compile_mutation.c (the plan reader against mutated real
 * plans). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"

#define DIR "tests/specs/compile/"
#define TINY DIR "tiny.json"
#define TINY_TIED DIR "tiny_tied.json"
#define WIDE DIR "wide.json"

/* ---- helpers -------------------------------------------------------------- */

static void expect_ok(mgc_test_result *r)
{
    if (r->rc != 0)
        FAIL_WITH_DIAGS(r, "expected the compile to succeed");
    assert_int_equal(mgc_test_count_diags(&r->d, MGC_ERROR), 0);
}

/* The compile failed with an error containing `needle` at line:col of `file`
 * (file NULL: not checked; line 0: no position). */
static const mgc_diagnostic *expect_error_at(mgc_test_result *r, const char *needle, const char *file, int line,
                                             int col)
{
    if (r->rc == 0)
        FAIL_WITH_DIAGS(r, "expected the compile to fail");
    const mgc_diagnostic *g = mgc_test_find_diag(&r->d, MGC_ERROR, needle);
    if (!g) {
        char why[512];
        snprintf(why, sizeof why, "no error contains \"%s\"", needle);
        FAIL_WITH_DIAGS(r, why);
    }
    if (file) {
        assert_non_null(g->span.file);
        assert_string_equal(g->span.file, file);
    }
    if (g->span.line != line || g->span.col != col) {
        char why[512];
        snprintf(why, sizeof why, "\"%s\" is at %d:%d, expected %d:%d", needle, g->span.line, g->span.col, line, col);
        FAIL_WITH_DIAGS(r, why);
    }
    return g;
}

static void expect_hint(const mgc_diagnostic *g, const char *needle)
{
    assert_non_null(g->hint);
    if (!strstr(g->hint, needle))
        fail_msg("hint \"%s\" does not contain \"%s\"", g->hint, needle);
}

static int compile_ckpt(const char *spec, const char *config, const char *system, const mgc_test_tensor *t, size_t n,
                        mgc_test_result *r)
{
    mgc_test_ckpt ck;
    mgc_test_ckpt_init(&ck, t, n, "ckpt/test");
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    o.config_path = config;
    o.system = system;
    o.tensors = &ck.lookup;
    return mgc_test_compile(&o, r);
}

static int compile_opts(const char *spec, const char *config, const char *system, int64_t max_seq_len, int64_t batch,
                        int wdtype, mgc_test_result *r)
{
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    o.config_path = config;
    o.system = system;
    o.max_seq_len = max_seq_len;
    o.batch = batch;
    o.weights_dtype = wdtype;
    return mgc_test_compile(&o, r);
}

/* The checkpoint of ops.graph with tiny.json (2 layers), as a table. */
typedef struct ops_ckpt {
    char names[32][96];
    mgc_test_tensor t[32];
    size_t n;
} ops_ckpt;

static void add_t(ops_ckpt *c, const char *name, int rank, int64_t r0, int64_t r1)
{
    assert_true(c->n < 32);
    snprintf(c->names[c->n], sizeof c->names[c->n], "%s", name);
    c->t[c->n] = (mgc_test_tensor){c->names[c->n], rank, {r0, r1}, NULL};
    c->n++;
}

static void ops_ckpt_make(ops_ckpt *c, int64_t qkv_rows)
{
    memset(c, 0, sizeof *c);
    add_t(c, "model.embed_tokens.weight", 2, 1000, 256);
    for (int i = 0; i < 2; i++) {
        char p[128];
#define L(suffix, rank, a, b)                                                  \
    do {                                                                       \
        snprintf(p, sizeof p, "model.layers.%d.%s", i, suffix);                \
        add_t(c, p, rank, a, b);                                               \
    } while (0)
        L("input_layernorm.weight", 1, 256, 0);
        L("self_attn.qkv_proj.weight", 2, qkv_rows, 256);
        L("self_attn.q_norm.weight", 1, 16, 0);
        L("self_attn.o_proj.weight", 2, 256, 256);
        L("post_attention_layernorm.weight", 1, 256, 0);
        L("mlp.gate_proj.weight", 2, 512, 256);
        L("mlp.up_proj.weight", 2, 512, 256);
        L("mlp.down_proj.weight", 2, 256, 512);
#undef L
    }
    add_t(c, "model.norm.weight", 1, 256, 0);
    add_t(c, "lm_head.weight", 2, 1000, 256);
}

static const mgc_ir_node *first_node(const mgc_ir *ir, mgc_ir_opcode op)
{
    for (size_t i = 0; i < ir->nnodes; i++)
        if (ir->nodes[i].op == op)
            return &ir->nodes[i];
    fail_msg("no %s node", mgc_ir_opcode_name(op));
    return NULL;
}

static const mgc_ir_weight *ir_weight(const mgc_ir *ir, const char *id)
{
    for (size_t i = 0; i < ir->nweights; i++)
        if (strcmp(ir->weights[i].id, id) == 0)
            return &ir->weights[i];
    fail_msg("no IR weight '%s'", id);
    return NULL;
}

/* ---- every op, good case ----------------------------------------------------- */

/* ops.graph on one device: the width of every op's result. */
static void test_ops_good_one_device(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "ops.graph", TINY, NULL, &r);
    expect_ok(&r);
    const mgc_ir *ir = &r.ir;
    assert_int_equal(ir->ndevices, 1);
    assert_string_equal(ir->system, "cpu");
    assert_int_equal(first_node(ir, MGC_IR_EMBEDDING)->width, 256);
    /* heads(x, 16) of q: [T, 16, 16]; k: [T, 8, 16] */
    const mgc_ir_node *h = first_node(ir, MGC_IR_HEADS);
    assert_int_equal(h->heads, 16);
    assert_int_equal(h->head_dim, 16);
    const mgc_ir_node *at = first_node(ir, MGC_IR_ATTENTION);
    assert_int_equal(at->heads, 16);
    assert_int_equal(at->kv_heads, 8);
    assert_int_equal(at->head_dim, 16);
    assert_true(at->scale == 0.25); /* scale= overrides head_dim^-0.5 */
    assert_int_equal(first_node(ir, MGC_IR_CONCAT_HEADS)->width, 256);
    assert_int_equal(first_node(ir, MGC_IR_ROTARY)->heads, 16);
    /* the per-head rms_norm (Qwen3's q_norm) keeps the heads view */
    size_t per_head = 0;
    for (size_t i = 0; i < ir->nnodes; i++)
        per_head += ir->nodes[i].op == MGC_IR_RMS_NORM && ir->nodes[i].heads == 16;
    assert_int_equal(per_head, 2);
    assert_int_equal(ir_weight(ir, "model.layers.0.self_attn.q_norm.weight")->rows, 16);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_SILU, -1), 2);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_GELU, -1), 2);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_GELU_TANH, -1), 2);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_MUL, -1), 2);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_SUB, -1), 2);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_SCALE, -1), 4); /* * 0.5 and unary minus */
    /* one device: explicit all_reduce is the identity, nothing is inserted */
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_ALL_REDUCE, -1), 0);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_ALL_GATHER, -1), 0);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_OUTPUT, -1), 1);
    /* fused parts: rows and first rows within the [512, 256] tensor */
    const mgc_ir_weight *q = ir_weight(ir, "model.layers.1.self_attn.qkv_proj.weight#q");
    const mgc_ir_weight *k = ir_weight(ir, "model.layers.1.self_attn.qkv_proj.weight#k");
    const mgc_ir_weight *v = ir_weight(ir, "model.layers.1.self_attn.qkv_proj.weight#v");
    assert_int_equal(q->rows, 256);
    assert_int_equal(q->row0, 0);
    assert_int_equal(k->rows, 128);
    assert_int_equal(k->row0, 256);
    assert_int_equal(v->rows, 128);
    assert_int_equal(v->row0, 384);
    /* plan: the cache and the entries */
    const mgc_plan *p = &r.plan;
    assert_int_equal(p->cache_layers, 2);
    assert_int_equal(p->cache_kv_heads, 8);
    assert_int_equal(p->cache_len, 64);
    assert_int_equal(p->cache_users, 4); /* users=4: the cache holds 4; decode rows are padded */
    assert_int_equal(p->prefill.rows, 64);
    assert_int_equal(p->decode.rows, 32);
    assert_int_equal(mgc_test_count_kernel(&p->prefill, MGC_K_FILL_CACHE), 2);
    assert_int_equal(mgc_test_count_kernel(&p->prefill, MGC_K_SDPA), 2);
    assert_int_equal(mgc_test_count_kernel(&p->decode, MGC_K_UPDATE_CACHE), 2);
    assert_int_equal(mgc_test_count_kernel(&p->decode, MGC_K_SDPA_DECODE), 2);
    assert_int_equal(mgc_test_count_kernel(&p->prefill, MGC_K_SDPA_DECODE), 0);
    /* without a checkpoint, a fused part's tensor is all of its parts */
    int w = mgc_test_weight_index(p, "model.layers.0.self_attn.qkv_proj.weight#v");
    assert_true(w >= 0);
    assert_int_equal(p->weights[w].hf_shape[0], 512);
    assert_int_equal(p->weights[w].hf_shape[1], 256);
    assert_int_equal(p->weights[w].row0, 384);
    mgc_test_result_free(&r);
}

/* The same spec on eight devices: sharding propagates through every op. */
static void test_ops_good_t3000(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "ops.graph", TINY, "t3000", &r);
    expect_ok(&r);
    const mgc_ir *ir = &r.ir;
    assert_int_equal(ir->ndevices, 8);
    /* per layer: the inserted all_reduce after o_proj and the explicit one */
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_ALL_REDUCE, 1), 2);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_ALL_REDUCE, 0), 2);
    assert_int_equal(mgc_test_count_ir(ir, MGC_IR_ALL_GATHER, -1), 0);
    for (size_t i = 0; i < ir->nnodes; i++) {
        const mgc_ir_node *n = &ir->nodes[i];
        if (n->op == MGC_IR_HEADS || n->op == MGC_IR_ROTARY || n->op == MGC_IR_ATTENTION ||
            n->op == MGC_IR_SILU || n->op == MGC_IR_GELU || n->op == MGC_IR_GELU_TANH || n->op == MGC_IR_SUB)
            assert_int_equal(n->sh, MGC_SH_SPLIT);
        if (n->op == MGC_IR_ADD && n->width == 256)
            assert_int_equal(n->sh, MGC_SH_REPLICATED); /* residual stream */
    }
    /* vocab 1000 is not whole tiles per device: padded to 1024, 128 each */
    assert_int_equal(r.plan.vocab, 1000);
    assert_int_equal(r.plan.padded_vocab, 1024);
    int w = mgc_test_weight_index(&r.plan, "lm_head.weight");
    assert_true(w >= 0);
    assert_int_equal(r.plan.weights[w].slices[7].local_shape[0], 128);
    assert_int_equal(r.plan.weights[w].slices[7].range[0].lo, 896);
    assert_int_equal(r.plan.weights[w].slices[7].range[0].hi, 1000);
    assert_int_equal(r.plan.cache_kv_heads, 1);
    mgc_test_result_free(&r);
}

/* ---- linear -------------------------------------------------------------------- */

/* The example, word for word: K of the weight against the input. */
static void test_linear_k_mismatch(void **state)
{
    (void)state;
    const mgc_test_tensor t[] = {
        {"model.embed_tokens.weight", 2, {32064, 3072}, NULL},
        {"model.layers.0.mlp.up_proj.weight", 2, {8192, 2048}, NULL},
        {"lm_head.weight", 2, {32064, 8192}, NULL},
    };
    mgc_test_result r;
    compile_ckpt(DIR "linear_k.graph", WIDE, NULL, t, 3, &r);
    expect_error_at(&r,
                    "linear: weight 'model.layers.0.mlp.up_proj.weight' is [8192, 2048] but the input's last "
                    "dimension is 3072",
                    DIR "linear_k.graph", 6, 7);
    assert_int_equal(mgc_test_count_diags(&r.d, MGC_ERROR), 1);
    /* the rendered form shows the line and a caret under the call */
    char *text = mgc_test_diags_text(&r.d);
    assert_non_null(strstr(text, "tests/specs/compile/linear_k.graph:6:7: error: linear: weight"));
    assert_non_null(strstr(text, "    6 |   u = linear(x, w\"model.layers.0.mlp.up_proj.weight\""));
    assert_non_null(strstr(text, "      |       ^~~~~~"));
    free(text);
    mgc_test_result_free(&r);
}

static void test_linear_good_with_and_without_checkpoint(void **state)
{
    (void)state;
    const mgc_test_tensor t[] = {
        {"model.embed_tokens.weight", 2, {32064, 3072}, NULL},
        {"model.layers.0.mlp.up_proj.weight", 2, {8192, 3072}, NULL},
        {"lm_head.weight", 2, {32064, 8192}, NULL},
    };
    mgc_test_result r;
    compile_ckpt(DIR "linear_k.graph", WIDE, NULL, t, 3, &r);
    expect_ok(&r);
    assert_int_equal(mgc_test_count_diags(&r.d, MGC_WARNING), 0); /* every tensor used */
    const mgc_ir_weight *w = ir_weight(&r.ir, "model.layers.0.mlp.up_proj.weight");
    assert_int_equal(w->rows, 8192);
    assert_int_equal(w->cols, 3072);
    mgc_test_result_free(&r);
    /* --config alone: K is the input's width, N is out= */
    mgc_test_compile_simple(DIR "linear_k.graph", WIDE, NULL, &r);
    expect_ok(&r);
    w = ir_weight(&r.ir, "model.layers.0.mlp.up_proj.weight");
    assert_int_equal(w->rows, 8192);
    assert_int_equal(w->cols, 3072);
    mgc_test_result_free(&r);
}

static void test_linear_out_mismatch(void **state)
{
    (void)state;
    const mgc_test_tensor t[] = {
        {"model.embed_tokens.weight", 2, {32064, 3072}, NULL},
        {"model.layers.0.mlp.up_proj.weight", 2, {4096, 3072}, NULL},
        {"lm_head.weight", 2, {32064, 8192}, NULL},
    };
    mgc_test_result r;
    compile_ckpt(DIR "linear_k.graph", WIDE, NULL, t, 3, &r);
    expect_error_at(&r, "weight 'model.layers.0.mlp.up_proj.weight' is [4096, 3072] but the op says it produces 8192 "
                        "outputs",
                    DIR "linear_k.graph", 6, 17);
    mgc_test_result_free(&r);
}

static void test_linear_row_parallel_needs_split_input(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "row_replicated.graph", TINY, NULL, &r);
    const mgc_diagnostic *g = expect_error_at(
        &r, "a row-parallel linear needs its input split on the last dimension, but here it is replicated",
        DIR "row_replicated.graph", 6, 7);
    expect_hint(g, "@col");
    mgc_test_result_free(&r);
    /* on one device the annotation means nothing and the spec compiles */
    mgc_test_compile_simple(DIR "row_replicated.graph", TINY, "n150", &r);
    expect_ok(&r);
    mgc_test_result_free(&r);
}

static void test_embedding_reused_untied(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "untied_reuse.graph", TINY_TIED, NULL, &r);
    const mgc_diagnostic *g = expect_error_at(
        &r, "weight 'model.embed_tokens.weight' is already used as an embedding table; here it is used as a linear weight",
        DIR "untied_reuse.graph", 7, 20);
    expect_hint(g, "tied w\"model.embed_tokens.weight\"");
    mgc_test_result_free(&r);
}

/* A partial sum needed whole by two ops is reduced once, not once per user. */
static void test_one_reduce_per_value(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "two_users.graph", TINY, NULL, &r);
    expect_ok(&r);
    size_t reduces = 0;
    for (size_t i = 0; i < r.plan.decode.nops; i++)
        reduces += r.plan.decode.ops[i].kernel == MGC_K_ALL_REDUCE;
    assert_int_equal(reduces, 1);
    mgc_test_result_free(&r);
}

static void test_weight_used_twice(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "twice.graph", TINY, NULL, &r);
    const mgc_diagnostic *g = expect_error_at(
        &r, "weight 'sq.weight' is used twice with different shapes, sharding or precision", DIR "twice.graph", 7, 17);
    expect_hint(g, "tied w\"...\"");
    mgc_test_result_free(&r);
}

/* ---- heads ------------------------------------------------------------------------ */

static void test_heads_not_dividing(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "heads.graph", TINY, NULL, &r);
    expect_error_at(&r, "heads: a width of 256 does not split into 5 heads", DIR "heads.graph", 6, 7);
    mgc_test_result_free(&r);
}

/* 4 heads over the 8 devices of a t3000 is an error; the same spec compiled
 * for one device (n150, cpu) is fine. */
static void test_heads_over_devices(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "heads_mesh.graph", TINY, NULL, &r);
    expect_error_at(&r, "heads: 4 heads do not split over the 8 devices of t3000", DIR "heads_mesh.graph", 6, 7);
    mgc_test_result_free(&r);
    const char *one[] = {"n150", "cpu"};
    for (int i = 0; i < 2; i++) {
        mgc_test_compile_simple(DIR "heads_mesh.graph", TINY, one[i], &r);
        expect_ok(&r);
        assert_string_equal(r.plan.system, one[i]);
        assert_int_equal(r.plan.ndevices, 1);
        assert_int_equal(mgc_test_count_kernel(&r.plan.decode, MGC_K_ALL_REDUCE), 0);
        mgc_test_result_free(&r);
    }
}

/* ---- rms_norm ------------------------------------------------------------------ */

static void test_rms_norm_weight_size(void **state)
{
    (void)state;
    mgc_test_tensor t[] = {
        {"model.embed_tokens.weight", 2, {1000, 256}, NULL},
        {"model.norm.weight", 1, {128, 0}, NULL},
        {"lm_head.weight", 2, {1000, 256}, NULL},
    };
    mgc_test_result r;
    compile_ckpt(DIR "norm.graph", TINY, NULL, t, 3, &r);
    expect_error_at(&r, "weight 'model.norm.weight' is [128] but the input's last dimension is 256", DIR "norm.graph",
                    7, 19);
    mgc_test_result_free(&r);
    /* a matrix where a vector belongs */
    t[1] = (mgc_test_tensor){"model.norm.weight", 2, {256, 256}, NULL};
    compile_ckpt(DIR "norm.graph", TINY, NULL, t, 3, &r);
    expect_error_at(&r, "weight 'model.norm.weight' is [256, 256] in the checkpoint, but a norm needs a vector",
                    DIR "norm.graph", 7, 19);
    mgc_test_result_free(&r);
    /* the right size: and every size comes from the checkpoint */
    t[1] = (mgc_test_tensor){"model.norm.weight", 1, {256, 0}, NULL};
    compile_ckpt(DIR "norm.graph", TINY, NULL, t, 3, &r);
    expect_ok(&r);
    assert_int_equal(r.plan.vocab, 1000);
    assert_int_equal(r.plan.hidden, 256);
    assert_int_equal(ir_weight(&r.ir, "model.norm.weight")->dtype, MGC_F32); /* norms stay f32 */
    mgc_test_result_free(&r);
}

/* ---- embedding --------------------------------------------------------------------- */

static void test_embedding_needs_sizes_without_checkpoint(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "norm.graph", TINY, NULL, &r);
    const mgc_diagnostic *g = expect_error_at(
        &r, "cannot size embedding table 'model.embed_tokens.weight' without a checkpoint", DIR "norm.graph", 6, 7);
    expect_hint(g, "vocab=V, dim=D");
    mgc_test_result_free(&r);
}

static void test_embedding_block_float(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "embed_bf8.graph", TINY, NULL, &r);
    expect_error_at(&r, "embedding table 'model.embed_tokens.weight' cannot be stored as bf8_b", DIR "embed_bf8.graph",
                    7, 25);
    mgc_test_result_free(&r);
    /* --weights-dtype bf8_b: the table falls back to bf16, norms stay f32 */
    compile_opts(DIR "ops.graph", TINY, NULL, 0, 0, MGC_BF8_B, &r);
    expect_ok(&r);
    assert_int_equal(ir_weight(&r.ir, "model.embed_tokens.weight")->dtype, MGC_BF16);
    assert_int_equal(ir_weight(&r.ir, "model.norm.weight")->dtype, MGC_F32);
    assert_int_equal(ir_weight(&r.ir, "lm_head.weight")->dtype, MGC_BF8_B);
    assert_int_equal(ir_weight(&r.ir, "model.layers.0.self_attn.qkv_proj.weight#k")->dtype, MGC_BF8_B);
    mgc_test_result_free(&r);
}

static void test_token_ids_only_for_embedding(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "ids.graph", TINY, NULL, &r);
    expect_error_at(&r, "linear's input is the token ids, which only embedding() takes", DIR "ids.graph", 5, 14);
    mgc_test_result_free(&r);
}

/* ---- attention ------------------------------------------------------------------------ */

static void test_attention_head_dim_mismatch(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "attn_head_dim.graph", TINY, NULL, &r);
    expect_error_at(&r, "attention: q heads have 32 values but k heads have 16", DIR "attn_head_dim.graph", 10, 7);
    mgc_test_result_free(&r);
}

static void test_attention_gqa_multiple(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "attn_gqa.graph", TINY, NULL, &r);
    expect_error_at(&r, "attention: 12 query heads are not a multiple of 8 KV heads", DIR "attn_gqa.graph", 10, 7);
    mgc_test_result_free(&r);
}

/* ---- rotary ---------------------------------------------------------------------------- */

static void test_rotary_on_flat_tensor(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "rotary_flat.graph", TINY, NULL, &r);
    expect_error_at(&r, "rotary needs a heads view, got [T, 256]; apply heads(x, n) first", DIR "rotary_flat.graph", 8,
                    14);
    mgc_test_result_free(&r);
}

/* ---- elementwise -------------------------------------------------------------------- */

static void test_elementwise_shapes(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "add_shapes.graph", TINY, NULL, &r);
    expect_error_at(&r, "'+' needs operands of the same shape, got [T, 256] and [T, 512]", DIR "add_shapes.graph", 6,
                    7);
    mgc_test_result_free(&r);
}

/* ---- collectives ----------------------------------------------------------------------- */

/* all_gather written in the spec and inserted by the compiler (rms_norm
 * needs the whole row), of values wider than the vocab, one of them padded. */
static void test_all_gather(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "all_gather.graph", TINY, NULL, &r);
    expect_ok(&r);
    assert_int_equal(mgc_test_count_ir(&r.ir, MGC_IR_ALL_GATHER, 0), 1);
    assert_int_equal(mgc_test_count_ir(&r.ir, MGC_IR_ALL_GATHER, 1), 1);
    assert_int_equal(mgc_test_count_ir(&r.ir, MGC_IR_ALL_REDUCE, -1), 0);
    const mgc_plan_entry *en = &r.plan.decode;
    size_t seen = 0;
    for (size_t i = 0; i < en->nops; i++) {
        const mgc_plan_op *op = &en->ops[i];
        if (op->kernel != MGC_K_ALL_GATHER)
            continue;
        int64_t want = seen++ == 0 ? 2048 : 1000;
        assert_int_equal(op->vocab, want);                     /* the real width */
        assert_int_equal(en->bufs[op->out].cols, want);        /* replicated, unpadded */
        assert_int_equal(en->bufs[op->in[0]].cols, want == 2048 ? 256 : 128); /* 1000 -> 1024 / 8 */
    }
    assert_int_equal(seen, 2);
    mgc_test_result_free(&r);
    mgc_test_compile_simple(DIR "all_gather.graph", TINY, "n150", &r);
    expect_ok(&r);
    assert_int_equal(mgc_test_count_kernel(&r.plan.decode, MGC_K_ALL_GATHER), 0);
    mgc_test_result_free(&r);
}

/* ---- fused -------------------------------------------------------------------------- */

static void test_fused_with_checkpoint(void **state)
{
    (void)state;
    ops_ckpt c;
    ops_ckpt_make(&c, 512);
    mgc_test_result r;
    compile_ckpt(DIR "ops.graph", TINY, "t3000", c.t, c.n, &r);
    expect_ok(&r);
    assert_int_equal(mgc_test_count_diags(&r.d, MGC_WARNING), 0); /* every tensor is used */
    int w = mgc_test_weight_index(&r.plan, "model.layers.1.self_attn.qkv_proj.weight#k");
    assert_true(w >= 0);
    const mgc_plan_weight *k = &r.plan.weights[w];
    assert_int_equal(k->hf_shape[0], 512);
    assert_int_equal(k->row0, 256);
    assert_int_equal(k->shape[0], 128);
    /* 8 KV heads of 16 over 8 devices: one head, 16 rows, each */
    for (int d = 0; d < 8; d++) {
        assert_int_equal(k->slices[d].range[0].lo, 256 + 16 * d);
        assert_int_equal(k->slices[d].range[0].hi, 256 + 16 * (d + 1));
        assert_int_equal(k->slices[d].local_shape[0], 16);
    }
    mgc_test_result_free(&r);
}

static void test_fused_parts_not_summing(void **state)
{
    (void)state;
    ops_ckpt c;
    ops_ckpt_make(&c, 640);
    mgc_test_result r;
    compile_ckpt(DIR "ops.graph", TINY, NULL, c.t, c.n, &r);
    expect_error_at(&r, "fused: the parts add up to 512 rows but 'model.layers.0.self_attn.qkv_proj.weight' has 640",
                    DIR "ops.graph", 18, 9);
    mgc_test_result_free(&r);
}

/* ---- checkpoints ------------------------------------------------------------------- */

static void test_checkpoint_missing_and_unused_tensors(void **state)
{
    (void)state;
    ops_ckpt c;
    ops_ckpt_make(&c, 512);
    /* drop model.layers.1.mlp.up_proj.weight */
    size_t gone = 0;
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.t[i].name, "model.layers.1.mlp.up_proj.weight") == 0)
            gone = i;
    assert_true(gone > 0);
    c.t[gone].name = "model.layers.1.mlp.up_proj.weigth"; /* a typo in the checkpoint */
    mgc_test_result r;
    compile_ckpt(DIR "ops.graph", TINY, NULL, c.t, c.n, &r);
    const mgc_diagnostic *g = expect_error_at(
        &r, "weight 'model.layers.1.mlp.up_proj.weight' is not in the checkpoint ckpt/test", DIR "ops.graph", 27, 17);
    expect_hint(g, "did you mean 'model.layers.1.mlp.up_proj.weigth'?");
    mgc_test_result_free(&r);
    /* an extra tensor: an error naming it (the spec may have forgotten a
     * bias or a norm; `ignore w"..."` says it did not) */
    ops_ckpt_make(&c, 512);
    add_t(&c, "model.layers.0.self_attn.rotary_emb.inv_freq", 1, 8, 0);
    compile_ckpt(DIR "ops.graph", TINY, NULL, c.t, c.n, &r);
    g = expect_error_at(&r, "1 checkpoint tensor is never read by the spec", "ckpt/test", 0, 0);
    assert_non_null(strstr(g->msg, "'model.layers.0.self_attn.rotary_emb.inv_freq'"));
    assert_string_equal(g->span.file, "ckpt/test");
    mgc_test_result_free(&r);
}

static void test_checkpoint_dtype(void **state)
{
    (void)state;
    ops_ckpt c;
    ops_ckpt_make(&c, 512);
    c.t[0].dtype = "I64";
    mgc_test_result r;
    compile_ckpt(DIR "ops.graph", TINY, NULL, c.t, c.n, &r);
    expect_error_at(&r, "weight 'model.embed_tokens.weight' in ckpt/test is I64; mgc loads BF16, F16 or F32 weights",
                    DIR "ops.graph", 34, 25);
    mgc_test_result_free(&r);
}

/* ---- tied embeddings -------------------------------------------------------------------- */

static void test_tied_needs_tie_word_embeddings(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "tied.graph", TINY, NULL, &r);
    const mgc_diagnostic *g = expect_error_at(
        &r, "'tied' weight 'model.embed_tokens.weight', but tests/specs/compile/tiny.json sets tie_word_embeddings to "
            "false",
        DIR "tied.graph", 6, 20);
    expect_hint(g, "lm_head.weight");
    mgc_test_result_free(&r);
    /* with tie_word_embeddings: the table is loaded twice, replicated and split */
    mgc_test_compile_simple(DIR "tied.graph", TINY_TIED, NULL, &r);
    expect_ok(&r);
    assert_int_equal(r.plan.nweights, 2);
    assert_string_equal(r.plan.weights[1].id, "model.embed_tokens.weight#tied");
    assert_string_equal(r.plan.weights[1].hf_name, "model.embed_tokens.weight");
    assert_int_equal(r.plan.weights[0].shard, MGC_SHARD_REPLICATED);
    assert_int_equal(r.plan.weights[1].shard, MGC_SHARD_SPLIT);
    assert_int_equal(r.plan.weights[1].role, MGC_W_LINEAR);
    /* no attention: no KV cache, and the plan still describes one layer */
    assert_int_equal(r.plan.cache_layers, 0);
    assert_int_equal(r.plan.memory.kv_cache, 0);
    assert_int_equal(r.plan.n_layers, 1);
    mgc_test_result_free(&r);
}

static void test_lm_head_with_tied_config(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "lm_head.graph", TINY_TIED, NULL, &r);
    const mgc_diagnostic *g = expect_error_at(
        &r, "tests/specs/compile/tiny_tied.json sets tie_word_embeddings: the checkpoint has no 'lm_head.weight'",
        DIR "lm_head.graph", 6, 20);
    expect_hint(g, "tied w\"model.embed_tokens.weight\"");
    mgc_test_result_free(&r);
    /* with a checkpoint that has no lm_head, the lookup says so */
    const mgc_test_tensor t[] = {{"model.embed_tokens.weight", 2, {1000, 256}, NULL}};
    compile_ckpt(DIR "lm_head.graph", TINY_TIED, NULL, t, 1, &r);
    g = expect_error_at(&r, "weight 'lm_head.weight' is not in the checkpoint ckpt/test", DIR "lm_head.graph", 6, 20);
    expect_hint(g, "tied w\"model.embed_tokens.weight\"");
    mgc_test_result_free(&r);
    /* untied config: fine */
    mgc_test_compile_simple(DIR "lm_head.graph", TINY, NULL, &r);
    expect_ok(&r);
    mgc_test_result_free(&r);
}

/* ---- config, options, spec structure ------------------------------------------------------ */

static void test_config_key_typo(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "typo.graph", TINY, NULL, &r);
    const mgc_diagnostic *g =
        expect_error_at(&r, "tests/specs/compile/tiny.json has no 'hiden_size'", DIR "typo.graph", 4, 14);
    expect_hint(g, "did you mean 'hidden_size'?");
    mgc_test_result_free(&r);
}

static void test_op_name_typo(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "op_typo.graph", TINY, NULL, &r);
    const mgc_diagnostic *g = expect_error_at(&r, "unknown op or def 'rms_nrom'", DIR "op_typo.graph", 6, 7);
    expect_hint(g, "did you mean 'rms_norm'?");
    mgc_test_result_free(&r);
}

static void test_max_seq_len(void **state)
{
    (void)state;
    mgc_test_result r;
    /* past the spec's cap: allowed when it fits (the cap is the default, not a wall) */
    compile_opts(DIR "ops.graph", TINY, NULL, 65, 0, -1, &r);
    expect_ok(&r);
    assert_int_equal(r.plan.cache_len, 65);
    mgc_test_result_free(&r);
    /* at or below the cap: the cache and prefill shrink (rows padded to the tile) */
    compile_opts(DIR "ops.graph", TINY, NULL, 40, 0, -1, &r);
    expect_ok(&r);
    assert_int_equal(r.plan.cache_len, 40);
    assert_int_equal(r.plan.prefill.rows, 64);
    mgc_test_result_free(&r);
    compile_opts(DIR "ops.graph", TINY, NULL, 64, 0, -1, &r);
    expect_ok(&r);
    assert_int_equal(r.plan.cache_len, 64);
    mgc_test_result_free(&r);
}

static void test_batch(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_opts(DIR "ops.graph", TINY, NULL, 0, 40, -1, &r);
    expect_ok(&r);
    assert_int_equal(r.plan.cache_users, 40); /* the cache holds what was asked for */
    assert_int_equal(r.plan.decode.rows, 64);
    mgc_test_result_free(&r);
}

static void test_spec_without_forward(void **state)
{
    (void)state;
    mgc_test_result r;
    const char *systems[] = {NULL, "cpu"};
    for (int i = 0; i < 2; i++) {
        mgc_test_compile_simple(DIR "library.graph", TINY, systems[i], &r);
        const mgc_diagnostic *g = expect_error_at(&r, "no forward(tokens) { ... } in this spec: nothing to compile",
                                                  DIR "library.graph", 1, 1);
        expect_hint(g, "library");
        assert_int_equal(mgc_test_count_diags(&r.d, MGC_ERROR), 1);
        mgc_test_result_free(&r);
    }
    /* the shared library of the bringups, too */
    mgc_test_compile_simple("graphs/common/llama.graph", TINY, NULL, &r);
    expect_error_at(&r, "nothing to compile", "graphs/common/llama.graph", 1, 1);
    mgc_test_result_free(&r);
}

static void test_logits_width(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "logits_width.graph", TINY, NULL, &r);
    expect_error_at(&r, "forward returns [T, 256] but the logits must be [T, 1000] (config.vocab_size)",
                    DIR "logits_width.graph", 6, 10);
    mgc_test_result_free(&r);
}

static void test_unknown_system_and_missing_files(void **state)
{
    (void)state;
    mgc_test_result r;
    mgc_test_compile_simple(DIR "ops.graph", TINY, "t3001", &r);
    assert_int_not_equal(r.rc, 0);
    const mgc_diagnostic *g = mgc_test_find_diag(&r.d, MGC_ERROR, "t3001");
    assert_non_null(g);
    assert_non_null(strstr(g->msg, "t3000")); /* the systems that exist are listed */
    mgc_test_result_free(&r);

    mgc_test_compile_simple(DIR "ops.graph", DIR "no-such-config.json", NULL, &r);
    assert_int_not_equal(r.rc, 0);
    assert_non_null(mgc_test_find_diag(&r.d, MGC_ERROR, "no-such-config.json"));
    mgc_test_result_free(&r);

    mgc_test_compile_simple(DIR "no-such-spec.graph", TINY, NULL, &r);
    assert_int_not_equal(r.rc, 0);
    assert_non_null(mgc_test_find_diag(&r.d, MGC_ERROR, "no-such-spec.graph"));
    mgc_test_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_good_one_device),
        cmocka_unit_test(test_ops_good_t3000),
        cmocka_unit_test(test_linear_k_mismatch),
        cmocka_unit_test(test_linear_good_with_and_without_checkpoint),
        cmocka_unit_test(test_linear_out_mismatch),
        cmocka_unit_test(test_linear_row_parallel_needs_split_input),
        cmocka_unit_test(test_weight_used_twice),
        cmocka_unit_test(test_one_reduce_per_value),
        cmocka_unit_test(test_embedding_reused_untied),
        cmocka_unit_test(test_heads_not_dividing),
        cmocka_unit_test(test_heads_over_devices),
        cmocka_unit_test(test_rms_norm_weight_size),
        cmocka_unit_test(test_embedding_needs_sizes_without_checkpoint),
        cmocka_unit_test(test_embedding_block_float),
        cmocka_unit_test(test_token_ids_only_for_embedding),
        cmocka_unit_test(test_attention_head_dim_mismatch),
        cmocka_unit_test(test_attention_gqa_multiple),
        cmocka_unit_test(test_rotary_on_flat_tensor),
        cmocka_unit_test(test_elementwise_shapes),
        cmocka_unit_test(test_all_gather),
        cmocka_unit_test(test_fused_with_checkpoint),
        cmocka_unit_test(test_fused_parts_not_summing),
        cmocka_unit_test(test_checkpoint_missing_and_unused_tensors),
        cmocka_unit_test(test_checkpoint_dtype),
        cmocka_unit_test(test_tied_needs_tie_word_embeddings),
        cmocka_unit_test(test_lm_head_with_tied_config),
        cmocka_unit_test(test_config_key_typo),
        cmocka_unit_test(test_op_name_typo),
        cmocka_unit_test(test_max_seq_len),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_spec_without_forward),
        cmocka_unit_test(test_logits_width),
        cmocka_unit_test(test_unknown_system_and_missing_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
