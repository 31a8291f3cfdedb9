/* test_weight_layouts: checkpoints laid out otherwise, and values the
 * sharding pass must re-split, end to end against the fixtures:
 *   - every linear weight stored [in, out] (GPT-2's Conv1D), read through
 *     transpose(): HF's logits to the f32 thresholds, split by rows and by
 *     columns on t3000 and whole on n150;
 *   - fused tensors stored [in, out] (GPT-2's c_attn), parts taken as columns;
 *   - an RMSNorm over a whole @col projection (gathered, then split again by
 *     a local shard) and learned absolute positions: no HF model computes
 *     this spec, so the checks are t3000 == n150 and prefill == decode
 *     (positions come from two different code paths there).
 * Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e_helpers.h"
#include "eval.h"
#include "metrics.h"
#include "reference.h"

static int none(const char *n) { return strstr(n, "no such tensor") != NULL; }

/* A copy of fixture `name` in which each tensor for which `pick` returns 1 is
 * stored transposed ([in, out]) under its own name, plus `extra` (may be NULL). */
static char *variant(const char *name, int (*pick)(const char *), const rt_st_entry *extra)
{
    char src[256];
    snprintf(src, sizeof src, "tests/fixtures/%s/model.safetensors", name);
    mgc_error err = {{0}};
    rt_st_file *f = NULL;
    if (rt_st_open(src, &f, &err) != 0)
        fail_msg("%s", err.msg);
    size_t n = rt_st_count(f), k = 0, nt = 0;
    rt_st_entry *ents = calloc(n + 1, sizeof *ents);
    uint16_t **bufs = calloc(n, sizeof *bufs);
    assert_non_null(ents);
    assert_non_null(bufs);
    for (size_t i = 0; i < n; i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        ents[k] = rt_st_entry_of(t);
        if (pick(t->name)) {
            assert_int_equal(t->dtype, RT_ST_BF16);
            assert_int_equal(t->ndim, 2);
            int64_t r = t->shape[0], c = t->shape[1];
            uint16_t *tr = malloc(t->nbytes), *from = (uint16_t *)t->data;
            assert_non_null(tr);
            for (int64_t a = 0; a < r; a++)
                for (int64_t b = 0; b < c; b++)
                    tr[b * r + a] = from[a * c + b];
            ents[k].shape[0] = c;
            ents[k].shape[1] = r;
            ents[k].data = tr;
            bufs[nt++] = tr;
        }
        k++;
    }
    if (extra)
        ents[k++] = *extra;
    assert_true(nt > 0 || pick == none);
    char *dir = e2e_tmpdir();
    char *path = e2e_path(dir, "model.safetensors");
    static const char *const meta[] = {"format", "pt", NULL};
    if (rt_st_write(path, ents, k, meta, &err) != 0)
        fail_msg("%s", err.msg);
    char cfg[256];
    snprintf(cfg, sizeof cfg, "tests/fixtures/%s/config.json", name);
    char *to = e2e_path(dir, "config.json");
    e2e_copy_file(cfg, to, -1);
    free(to);
    free(path);
    for (size_t i = 0; i < nt; i++)
        free(bufs[i]);
    free(bufs);
    free(ents);
    rt_st_close(f);
    return dir;
}

static int linear_weights(const char *n)
{
    return strstr(n, "_proj.weight") != NULL;
}

static int fused_weights(const char *n)
{
    return strstr(n, "qkv_proj.weight") != NULL || strstr(n, "gate_up_proj.weight") != NULL;
}


/* Compiles spec against dir (f32) for system, evaluates the reference, checks HF's thresholds. */
static void matches_hf(const char *spec, const char *dir, const char *system, const char *ref)
{
    mgc_plan plan;
    if (e2e_compile(spec, dir, system, MGC_F32, MGC_F32, E2E_MAX_SEQ, &plan) != 0)
        fail_msg("compiling %s for %s", spec, system);
    rt_engine *en = NULL;
    mgc_error e = {{0}};
    rt_engine_opts o = {0};
    if (rt_engine_load(&plan, dir, &o, &en, &e) != 0)
        fail_msg("loading %s: %s", dir, e.msg);
    ev_reference r;
    if (ev_reference_load(ref, &r, &e) != 0)
        fail_msg("%s", e.msg);
    ev_opts eo = {0};
    ev_result res;
    if (ev_teacher_forcing(en, &r, &eo, &res, &e) != 0)
        fail_msg("%s", e.msg);
    double maxref = e2e_max_abs(r.logits, (size_t)(r.t * r.vocab));
    printf("[ layout   ] %s on %s: top1 %.3f top5 %.3f pcc_min %.8f max_abs_err %.3g (%.2g of max|logit|)\n", spec,
           system, res.all.top1, res.all.top5, res.all.pcc_min, res.all.max_abs_err, res.all.max_abs_err / maxref);
    assert_true(res.all.top1 == 1.0);
    assert_true(res.all.top5 == 1.0);
    assert_true(res.all.pcc_min >= 0.99999);
    assert_true(res.all.max_abs_err <= 1e-4 * maxref);
    ev_result_free(&res);
    ev_reference_free(&r);
    rt_engine_free(en);
    mgc_plan_free(&plan);
}

static void test_conv1d_linears(void **state)
{
    (void)state;
    char *dir = variant("llama32", linear_weights, NULL);
    matches_hf("tests/specs/llama32_conv1d.graph", dir, "t3000", "tests/fixtures/llama32/reference.safetensors");
    matches_hf("tests/specs/llama32_conv1d.graph", dir, "n150", "tests/fixtures/llama32/reference.safetensors");
    e2e_rmtree(dir);
}

static void test_conv1d_fused(void **state)
{
    (void)state;
    char *dir = variant("phi3", fused_weights, NULL);
    matches_hf("tests/specs/phi3_conv1d.graph", dir, "t3000", "tests/fixtures/phi3/reference_short.safetensors");
    e2e_rmtree(dir);
}

/* Logits of the whole reference sequence: one prefill, or (decode != 0) the
 * prompt's first token then one decode step per token. */
static float *run_seq(const char *dir, const char *system, const int32_t *ids, int n, int decode, int64_t *vocab)
{
    mgc_plan plan;
    if (e2e_compile("tests/specs/llama32_qnorm_positions.graph", dir, system, MGC_F32, MGC_F32, E2E_MAX_SEQ, &plan) != 0)
        fail_msg("compiling the q-norm spec for %s", system);
    rt_engine *en = NULL;
    mgc_error e = {{0}};
    rt_engine_opts o = {0};
    if (rt_engine_load(&plan, dir, &o, &en, &e) != 0)
        fail_msg("loading: %s", e.msg);
    *vocab = rt_engine_vocab(en);
    float *out = malloc(sizeof(float) * (size_t)n * (size_t)*vocab);
    assert_non_null(out);
    if (!decode) {
        if (rt_engine_prefill(en, 0, ids, n, 0, out, &e) != 0)
            fail_msg("prefill: %s", e.msg);
    } else {
        if (rt_engine_prefill(en, 0, ids, 1, 0, out, &e) != 0)
            fail_msg("prefill: %s", e.msg);
        for (int p = 1; p < n; p++) {
            int user = 0;
            int32_t tok = ids[p], pos = p;
            if (rt_engine_decode(en, 1, &user, &tok, &pos, out + (size_t)p * (size_t)*vocab, &e) != 0)
                fail_msg("decode %d: %s", p, e.msg);
        }
    }
    rt_engine_free(en);
    mgc_plan_free(&plan);
    return out;
}

static void test_whole_projection_norm_and_positions(void **state)
{
    (void)state;
    /* a random position table (seeded), bf16, 128 x 256 */
    enum { P = 128, D = 256 };
    static uint16_t table[P * D];
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < P * D; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.2f;
        uint32_t bits;
        memcpy(&bits, &v, 4);
        table[i] = (uint16_t)(bits >> 16);
    }
    rt_st_entry wpe = {.name = "model.wpe.weight", .dtype = RT_ST_BF16, .ndim = 2, .shape = {P, D},
                       .data = table, .nbytes = sizeof table};
    char *dir = variant("llama32", none, &wpe);
    ev_reference r;
    mgc_error e = {{0}};
    assert_int_equal(ev_reference_load("tests/fixtures/llama32/reference.safetensors", &r, &e), 0);
    int n = (int)r.t;
    int64_t vocab = 0;
    float *mesh = run_seq(dir, "t3000", r.input_ids, n, 0, &vocab);
    float *one = run_seq(dir, "n150", r.input_ids, n, 0, &vocab);
    float *dec = run_seq(dir, "t3000", r.input_ids, n, 1, &vocab);
    double w_sys = 1, w_dec = 1;
    for (int p = 0; p < n; p++) {
        w_sys = fmin(w_sys, ev_pcc(mesh + (size_t)p * vocab, one + (size_t)p * vocab, (size_t)vocab));
        w_dec = fmin(w_dec, ev_pcc(mesh + (size_t)p * vocab, dec + (size_t)p * vocab, (size_t)vocab));
        assert_int_equal(e2e_argmax(mesh + (size_t)p * vocab, vocab), e2e_argmax(dec + (size_t)p * vocab, vocab));
    }
    printf("[ layout   ] q-norm over the whole projection + learned positions: t3000 vs n150 pcc_min %.9f, "
           "prefill vs decode pcc_min %.9f\n", w_sys, w_dec);
    assert_true(w_sys >= 0.999999);
    assert_true(w_dec >= 0.99999);
    free(mesh);
    free(one);
    free(dec);
    ev_reference_free(&r);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv1d_linears),
        cmocka_unit_test(test_conv1d_fused),
        cmocka_unit_test(test_whole_projection_norm_and_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
