/* test_architectures: the five bringups beyond the Llama family (Qwen2,
 * Gemma, Gemma 2, Mixtral, Phi-2), compiled: at true size from their real
 * config.json, and against the fixtures' checkpoints on t3000, checking
 * what the plan must say for each construct: where a bias is added, derived
 * (1 + w) norm weights, partial rotary tables, sliding windows and
 * soft-capping, experts owned by devices or split like dense MLPs, KV heads
 * replicated over devices.  Matching HF's numbers is test_runtime_e2e's job. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/compile_helpers.h"

typedef struct arch {
    const char *name, *spec, *config, *fixture, *system;
} arch;

static const arch archs[] = {
    {"qwen2", "graphs/Qwen/Qwen2.5-1.5B/n150.graph", "graphs/Qwen/Qwen2.5-1.5B/config.json", "tests/fixtures/qwen2", "n150"},
    {"gemma", "graphs/google/gemma-7b/t3000.graph", "graphs/google/gemma-7b/config.json", "tests/fixtures/gemma", "t3000"},
    {"gemma2", "graphs/google/gemma-2-2b/t3000.graph", "graphs/google/gemma-2-2b/config.json", "tests/fixtures/gemma2", "t3000"},
    {"mixtral", "graphs/mistralai/Mixtral-8x7B-v0.1/t3000.graph", "graphs/mistralai/Mixtral-8x7B-v0.1/config.json",
     "tests/fixtures/mixtral", "t3000"},
    {"phi", "graphs/microsoft/phi-2/t3000.graph", "graphs/microsoft/phi-2/config.json", "tests/fixtures/phi", "t3000"},
};

static const arch *A(const char *name)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (!strcmp(archs[i].name, name))
            return &archs[i];
    fail_msg("no arch %s", name);
    return NULL;
}

/* Compiles an arch's spec (or `spec`) against its fixture config for `system`. */
static void compile_fixture(const arch *a, const char *spec, const char *system, mgc_test_result *r)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/config.json", a->fixture);
    if (mgc_test_compile_simple(spec ? spec : a->spec, cfg, system, r) != 0)
        FAIL_WITH_DIAGS(r, "the fixture's config should compile");
}

static const mgc_plan_weight *W(const mgc_plan *p, const char *id)
{
    for (size_t i = 0; i < p->nweights; i++)
        if (!strcmp(p->weights[i].id, id))
            return &p->weights[i];
    fail_msg("no weight '%s' in the plan", id);
    return NULL;
}

static int W_index(const mgc_plan *p, const char *id) { return (int)(W(p, id) - p->weights); }

/* The index of the first op in `en` of kernel k using weight w (-1 any), from `from`. */
static int find_op(const mgc_plan_entry *en, mgc_kernel k, int w, size_t from)
{
    for (size_t i = from; i < en->nops; i++)
        if (en->ops[i].kernel == k && (w < 0 || en->ops[i].weight == w))
            return (int)i;
    return -1;
}

/* ---- true size ------------------------------------------------------------------- */

static void test_true_size(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        mgc_test_result r;
        if (mgc_test_compile_simple(archs[i].spec, archs[i].config, NULL, &r) != 0)
            FAIL_WITH_DIAGS(&r, archs[i].spec);
        assert_string_equal(r.plan.system, archs[i].system);
        assert_true(r.plan.memory.total <= r.plan.memory.dram);
        printf("[ size     ] %-28s on %-5s: weights %.1f MiB + KV %.1f MiB + activations %.1f MiB = %.1f MiB per device\n",
               r.plan.model, r.plan.system, r.plan.memory.weights / 1048576.0, r.plan.memory.kv_cache / 1048576.0,
               r.plan.memory.activations / 1048576.0, r.plan.memory.total / 1048576.0);
        mgc_test_result_free(&r);
    }
    /* Qwen2.5-1.5B's 12 query heads do not split over a T3000 */
    mgc_test_result r;
    assert_int_not_equal(mgc_test_compile_simple(A("qwen2")->spec, A("qwen2")->config, "t3000", &r), 0);
    if (!mgc_test_find_diag(&r.d, MGC_ERROR, "12 heads do not split over the 8 devices of t3000"))
        FAIL_WITH_DIAGS(&r, "expected the 12 heads over 8 devices error");
    mgc_test_result_free(&r);
}

/* gemma-2-2b: 4 KV heads over 8 devices, each replicated twice; the query
 * heads (8) split one per device. */
static void test_gemma2_kv_replicas(void **state)
{
    (void)state;
    mgc_test_result r;
    assert_int_equal(mgc_test_compile_simple(A("gemma2")->spec, A("gemma2")->config, NULL, &r), 0);
    const mgc_plan_weight *k = W(&r.plan, "model.layers.0.self_attn.k_proj.weight");
    assert_int_equal(k->replicas, 2);
    assert_int_equal(r.plan.cache_kv_heads, 1);
    for (int d = 0; d < 8; d++) {
        assert_int_equal(k->slices[d].range[0].lo, (d / 2) * 256);
        assert_int_equal(k->slices[d].range[0].hi, (d / 2 + 1) * 256);
    }
    mgc_test_result_free(&r);
}

/* ---- biases ----------------------------------------------------------------------- */

static void test_bias_placement(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_fixture(A("phi"), NULL, "t3000", &r);
    /* column-parallel: the bias is split with the output (160 / 8 = 20 per device) */
    const mgc_plan_weight *qb = W(&r.plan, "model.layers.0.self_attn.q_proj.bias");
    assert_int_equal(qb->role, MGC_W_BIAS);
    assert_int_equal(qb->shard, MGC_SHARD_SPLIT);
    for (int d = 0; d < 8; d++) {
        assert_int_equal(qb->slices[d].range[0].lo, d * 20);
        assert_int_equal(qb->slices[d].local_shape[0], 20);
    }
    /* row-parallel: whole on every device, added once after the all-reduce */
    const mgc_plan_entry *en = &r.plan.decode;
    int dense = W_index(&r.plan, "model.layers.0.self_attn.dense.weight");
    int db = W_index(&r.plan, "model.layers.0.self_attn.dense.bias");
    assert_int_equal(r.plan.weights[db].shard, MGC_SHARD_REPLICATED);
    int lin = find_op(en, MGC_K_LINEAR, dense, 0);
    int red = find_op(en, MGC_K_ALL_REDUCE, -1, (size_t)lin);
    int add = find_op(en, MGC_K_ADD_BIAS, db, 0);
    assert_true(lin >= 0 && red > lin && add > red);
    assert_int_equal(en->ops[add].in[0], en->ops[red].out);
    /* the lm_head's bias is split and padded with the vocabulary */
    const mgc_plan_weight *hb = W(&r.plan, "lm_head.bias");
    assert_int_equal(hb->shard, MGC_SHARD_SPLIT);
    assert_int_equal(hb->padded, r.plan.padded_vocab);
    mgc_test_result_free(&r);
}

/* ---- Gemma: derived norm weights ---------------------------------------------------- */

static void test_gemma_derived_norms(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_fixture(A("gemma"), NULL, "t3000", &r);
    size_t derived = 0;
    for (size_t i = 0; i < r.plan.nweights; i++) {
        const mgc_plan_weight *w = &r.plan.weights[i];
        if (w->role != MGC_W_NORM)
            continue;
        /* every Gemma norm is (1 + w): computed at load time */
        assert_true(w->derive_scale == 1.0);
        assert_true(w->derive_offset == 1.0);
        derived++;
    }
    assert_int_equal(derived, 2 * 2 + 1);
    /* the embeddings are scaled by sqrt(hidden) = sqrt(160) */
    int e = find_op(&r.plan.prefill, MGC_K_SCALE, -1, 0);
    assert_true(e >= 0);
    assert_true(fabs(r.plan.prefill.ops[e].scale - sqrt(160.0)) < 1e-12);
    mgc_test_result_free(&r);
}

/* ---- Gemma 2: windows, soft-capping, attention scale ------------------------------- */

static void test_gemma2_attention(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_fixture(A("gemma2"), NULL, "t3000", &r);
    for (int dec = 0; dec < 2; dec++) {
        const mgc_plan_entry *en = dec ? &r.plan.decode : &r.plan.prefill;
        int seen = 0;
        for (size_t i = 0; i < en->nops; i++) {
            const mgc_plan_op *o = &en->ops[i];
            if (o->kernel != (dec ? MGC_K_SDPA_DECODE : MGC_K_SDPA))
                continue;
            /* even layers slide over 12 positions, odd ones see everything */
            assert_int_equal(o->window, o->layer % 2 == 0 ? 12 : 0);
            assert_true(o->softcap == 50.0);
            assert_true(fabs(o->scale - 1.0 / sqrt(12.0)) < 1e-15);
            seen++;
        }
        assert_int_equal(seen, 2);
        /* the final logits are soft-capped at 30 before they leave the devices */
        int cap = find_op(en, MGC_K_SOFTCAP, -1, 0);
        assert_true(cap >= 0);
        assert_true(en->ops[cap].scale == 30.0);
        assert_int_equal(en->ops[find_op(en, MGC_K_OUTPUT, -1, 0)].in[0], en->ops[cap].out);
    }
    mgc_test_result_free(&r);
}

/* ---- Phi: partial rotary -------------------------------------------------------------- */

static void test_phi_partial_rotary(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_fixture(A("phi"), NULL, "t3000", &r);
    assert_int_equal(r.plan.nropes, 1);
    /* int(20 * 0.4) = 8 of each head's 20 dims */
    assert_int_equal(r.plan.ropes[0].dim, 8);
    int rot = find_op(&r.plan.prefill, MGC_K_ROTARY, -1, 0);
    assert_int_equal(r.plan.prefill.ops[rot].head_dim, 20);
    mgc_test_result_free(&r);
}

/* ---- Mixtral: the two MoE shardings --------------------------------------------------- */

static void test_mixtral_expert_parallel(void **state)
{
    (void)state;
    mgc_test_result r;
    compile_fixture(A("mixtral"), NULL, "t3000", &r);
    for (int e = 0; e < 8; e++) {
        char id[128];
        snprintf(id, sizeof id, "model.layers.1.block_sparse_moe.experts.%d.w2.weight", e);
        const mgc_plan_weight *w = W(&r.plan, id);
        assert_int_equal(w->shard, MGC_SHARD_OWNED);
        assert_int_equal(w->owner, e); /* 8 experts on 8 devices: one each */
        for (int d = 0; d < 8; d++)
            assert_int_equal(w->slices[d].local_shape[0], d == e ? 192 : 0);
        /* its linear runs on its owner only */
        int op = find_op(&r.plan.decode, MGC_K_LINEAR, (int)(w - r.plan.weights), 0);
        assert_int_equal(r.plan.decode.ops[op].device, e);
    }
    assert_int_equal(W(&r.plan, "model.layers.0.block_sparse_moe.gate.weight")->shard, MGC_SHARD_REPLICATED);
    /* per device: one expert of each layer (3 x 96 x 192 bf8_b values) instead of eight */
    mgc_test_result tp;
    compile_fixture(A("mixtral"), "tests/specs/mixtral_tp.graph", "t3000", &tp);
    const mgc_plan_weight *w1 = W(&tp.plan, "model.layers.0.block_sparse_moe.experts.3.w1.weight");
    assert_int_equal(w1->shard, MGC_SHARD_SPLIT);
    assert_int_equal(w1->dim, 0);
    for (size_t i = 0; i < tp.plan.decode.nops; i++)
        assert_int_equal(tp.plan.decode.ops[i].device, -1);
    /* both hold the same bytes of experts in all; expert parallel holds them
     * whole on one device each, tensor parallel an eighth of each (padded to tiles) */
    printf("[ moe      ] expert parallel: %.3f MiB of weights per device; tensor parallel: %.3f MiB\n",
           r.plan.memory.weights / 1048576.0, tp.plan.memory.weights / 1048576.0);
    assert_true(r.plan.memory.weights > 0 && tp.plan.memory.weights > 0);
    /* one all-reduce per MoE: the experts' partial sums are added before it */
    size_t ar_ep = 0, ar_tp = 0;
    for (size_t i = 0; i < r.plan.decode.nops; i++)
        ar_ep += r.plan.decode.ops[i].kernel == MGC_K_ALL_REDUCE;
    for (size_t i = 0; i < tp.plan.decode.nops; i++)
        ar_tp += tp.plan.decode.ops[i].kernel == MGC_K_ALL_REDUCE;
    assert_int_equal(ar_ep, 2 * 2);
    assert_int_equal(ar_tp, 2 * 2);
    mgc_test_result_free(&tp);
    mgc_test_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_true_size),
        cmocka_unit_test(test_gemma2_kv_replicas),
        cmocka_unit_test(test_bias_placement),
        cmocka_unit_test(test_gemma_derived_norms),
        cmocka_unit_test(test_gemma2_attention),
        cmocka_unit_test(test_phi_partial_rotary),
        cmocka_unit_test(test_mixtral_expert_parallel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
