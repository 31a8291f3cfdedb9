/* End-to-end runtime tests on the fixture checkpoints, in-process
 * (mgc_compile -> rt_engine_load -> ev_teacher_forcing / prefill /
 * decode), against the HuggingFace references in tests/fixtures/:
 *   - f32 plans on t3000 and n150 match HF (top-1/top-5 100%, PCC >= 0.99999,
 *     max abs err <= 1e-4 of the largest reference logit), and agree with
 *     each other (PCC >= 0.999999 at every position);
 *   - the precision each bringup's spec declares: PCC >= 0.99, top-5 >= 0.95
 *     (the figures are printed);
 *   - decode with the KV cache reproduces step_logits and generated_ids;
 *   - several users decoded as one batch get the bits each gets alone (f32 and
 *     the spec's bf8_b/bf16), including rows on both sides of LongRoPE's switch;
 *   - a prompt prefilled in chunks (start > 0) gives the one-pass logits;
 *   - the prompt through the decode path gives the same top-1 tokens (for a
 *     Phi-3 prompt longer than LongRoPE's switch: its first 64 positions, see
 *     prefill_decode()).
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

#define PCC_F32 0.99999        /* against HF, f32 plan */
#define PCC_SYSTEMS 0.999999   /* t3000 vs n150, batch vs alone */

static void load_ref(const e2e_arch *a, const char *ref, ev_reference *r)
{
    char path[512];
    mgc_error err = {{0}};
    if (ev_reference_load(e2e_ref_path(a, ref, path, sizeof path), r, &err) != 0)
        fail_msg("%s", err.msg);
}

/* Teacher-forced eval of the whole reference; logits (if non-NULL) receive ours. */
static void eval_ref(e2e_model *m, const ev_reference *r, int prefill_decode, float *logits, ev_result *res)
{
    mgc_error err = {{0}};
    ev_opts o = {.prefill_decode = prefill_decode, .logits_out = logits};
    if (ev_teacher_forcing(m->en, r, &o, res, &err) != 0)
        fail_msg("eval of %s: %s", r->path, err.msg);
    assert_int_equal(res->positions, r->t);
    assert_int_equal(res->prompt_len, r->prompt_len);
}

/* ---- 1 + 2: f32 plans on t3000 and n150 ------------------------------------------ */

static void f32_systems(const e2e_arch *a)
{
    static const char *const systems[2] = {"t3000", "n150"};
    float *logits[2][2] = {{NULL, NULL}, {NULL, NULL}}; /* [system][ref] */
    ev_reference refs[2];
    memset(refs, 0, sizeof refs);
    int nref = 0;
    while (nref < 2 && a->refs[nref])
        nref++;
    for (int k = 0; k < nref; k++)
        load_ref(a, a->refs[k], &refs[k]);
    for (int s = 0; s < 2; s++) {
        e2e_model m;
        e2e_model_open(&m, a, systems[s], 1);
        assert_string_equal(m.plan.system, systems[s]);
        assert_int_equal(m.plan.ndevices, s == 0 ? 8 : 1);
        for (int k = 0; k < nref; k++) {
            const ev_reference *r = &refs[k];
            logits[s][k] = malloc(sizeof(float) * (size_t)(r->t * r->vocab));
            assert_non_null(logits[s][k]);
            ev_result res;
            eval_ref(&m, r, 0, logits[s][k], &res);
            double maxref = e2e_max_abs(r->logits, (size_t)(r->t * r->vocab));
            printf("[ f32      ] %s/%s on %s: top1 %.3f top5 %.3f pcc_min %.8f max_abs_err %.3g (%.2g of max|logit|)\n",
                   a->name, a->refs[k], systems[s], res.all.top1, res.all.top5, res.all.pcc_min,
                   res.all.max_abs_err, res.all.max_abs_err / maxref);
            assert_true(res.all.top1 == 1.0);
            assert_true(res.all.top5 == 1.0);
            assert_true(res.all.pcc_min >= PCC_F32);
            assert_true(res.all.max_abs_err <= 1e-4 * maxref);
            assert_true(res.prefill.positions > 0 && res.decode.positions > 0);
            ev_result_free(&res);
        }
        e2e_model_close(&m);
    }
    for (int k = 0; k < nref; k++) {
        const ev_reference *r = &refs[k];
        double worst = 1;
        for (int64_t p = 0; p < r->t; p++) {
            double pcc = ev_pcc(logits[0][k] + p * r->vocab, logits[1][k] + p * r->vocab, (size_t)r->vocab);
            if (!(pcc >= PCC_SYSTEMS))
                fail_msg("%s/%s: t3000 and n150 logits disagree at position %lld (pcc %.9f)", a->name,
                         a->refs[k], (long long)p, pcc);
            worst = pcc < worst ? pcc : worst;
        }
        printf("[ systems  ] %s/%s: t3000 vs n150 pcc_min %.9f\n", a->name, a->refs[k], worst);
        free(logits[0][k]);
        free(logits[1][k]);
        ev_reference_free(&refs[k]);
    }
}

/* ---- 3: the precision the spec declares ------------------------------------------ */

static void spec_precision(const e2e_arch *a)
{
    e2e_model m;
    e2e_model_open(&m, a, NULL, 0);
    for (int k = 0; a->refs[k]; k++) {
        ev_reference r;
        load_ref(a, a->refs[k], &r);
        ev_result res;
        eval_ref(&m, &r, 0, NULL, &res);
        printf("[ figures  ] %s/%s (%s on %s; weights %s, activations %s, kv %s): top1 %.3f top5 %.3f pcc_min %.6f "
               "(%lld positions)\n",
               a->name, a->refs[k], m.plan.model, m.plan.system, mgc_dtype_name(m.plan.weights_dtype),
               mgc_dtype_name(m.plan.act_dtype), mgc_dtype_name(m.plan.kv_dtype), res.all.top1, res.all.top5,
               res.all.pcc_min, (long long)res.positions);
        assert_true(res.all.pcc_min >= 0.99);
        assert_true(res.all.top5 >= 0.95);
        ev_result_free(&res);
        ev_reference_free(&r);
    }
    e2e_model_close(&m);
}

/* ---- 4: decode with the KV cache -------------------------------------------------- */

static void decode_kv(const e2e_arch *a)
{
    e2e_model m;
    e2e_model_open(&m, a, "t3000", 1);
    int64_t vocab = rt_engine_vocab(m.en);
    for (int k = 0; a->refs[k]; k++) {
        char path[512];
        e2e_ref_path(a, a->refs[k], path, sizeof path);
        ev_reference r;
        load_ref(a, a->refs[k], &r);
        int64_t ngen = 0, srows = 0, scols = 0;
        int32_t *gen = e2e_read_ids(path, "generated_ids", &ngen);
        float *step = e2e_read_f32(path, "step_logits", &srows, &scols);
        assert_int_equal(srows, ngen);
        assert_int_equal(scols, vocab);
        assert_int_equal(r.prompt_len + ngen, r.t);
        int plen = (int)r.prompt_len;
        float *logits = malloc(sizeof(float) * (size_t)(plen * vocab));
        assert_non_null(logits);
        mgc_error err = {{0}};
        if (rt_engine_prefill(m.en, 0, r.input_ids, plen, 0, logits, &err) != 0)
            fail_msg("prefill: %s", err.msg);
        const float *row = logits + (size_t)(plen - 1) * (size_t)vocab;
        double worst = 1, worst_err = 0;
        for (int64_t s = 0; s < ngen; s++) {
            const float *want = step + s * vocab;
            double pcc = ev_pcc(row, want, (size_t)vocab);
            double lim = 1e-4 * e2e_max_abs(want, (size_t)vocab), diff = 0;
            for (int64_t i = 0; i < vocab; i++)
                diff = fmax(diff, fabs((double)row[i] - want[i]));
            int tok = e2e_argmax(row, vocab);
            if (!(pcc >= PCC_F32) || !(diff <= lim) || tok != gen[s])
                fail_msg("%s/%s decode step %lld: pcc %.9f, max abs err %.3g (limit %.3g), greedy %d, generate() %d",
                         a->name, a->refs[k], (long long)s, pcc, diff, lim, tok, gen[s]);
            worst = fmin(worst, pcc);
            worst_err = fmax(worst_err, diff);
            if (s + 1 == ngen)
                break;
            /* greedy: feed our own choice back */
            int user = 0;
            int32_t t32 = tok, pos = (int32_t)(plen + s);
            if (rt_engine_decode(m.en, 1, &user, &t32, &pos, logits, &err) != 0)
                fail_msg("decode step %lld: %s", (long long)s + 1, err.msg);
            row = logits;
        }
        printf("[ decode   ] %s/%s: %lld greedy steps reproduce generated_ids; step_logits pcc_min %.9f, max abs err %.3g\n",
               a->name, a->refs[k], (long long)ngen, worst, worst_err);
        free(logits);
        free(step);
        free(gen);
        ev_reference_free(&r);
    }
    e2e_model_close(&m);
}

/* ---- 5: several users in one decode batch ---------------------------------------- */

#define NUSERS 4
#define NSTEPS 12

static void multi_user(const e2e_arch *a, const char *refname, const char *system, int f32)
{
    e2e_model m;
    e2e_model_open(&m, a, system, f32);
    ev_reference r;
    load_ref(a, refname, &r);
    int64_t vocab = rt_engine_vocab(m.en);
    assert_true(rt_engine_max_users(m.en) >= NUSERS);
    /* different prompts: prefixes of the reference of different lengths */
    static const int cut[NUSERS] = {0, 4, 9, 15};
    int len[NUSERS];
    for (int u = 0; u < NUSERS; u++) {
        len[u] = (int)r.prompt_len - cut[u];
        assert_true(len[u] >= 1 && len[u] + NSTEPS <= r.t);
    }
    float *batch = malloc(sizeof(float) * (size_t)(NUSERS * NSTEPS) * (size_t)vocab); /* [user][step][vocab] */
    float *row = malloc(sizeof(float) * (size_t)(r.prompt_len > NUSERS ? r.prompt_len : NUSERS) * (size_t)vocab);
    assert_non_null(batch);
    assert_non_null(row);
    mgc_error err = {{0}};
    for (int u = 0; u < NUSERS; u++)
        if (rt_engine_prefill(m.en, u, r.input_ids, len[u], 0, row, &err) != 0)
            fail_msg("prefill user %d: %s", u, err.msg);
    /* the batch in a scrambled order: row i is user order[i] */
    static const int order[NUSERS] = {2, 0, 3, 1};
    for (int s = 0; s < NSTEPS; s++) {
        int32_t tok[NUSERS], pos[NUSERS];
        for (int i = 0; i < NUSERS; i++) {
            int u = order[i];
            pos[i] = len[u] + s;
            tok[i] = r.input_ids[pos[i]]; /* teacher-forced continuation */
        }
        if (rt_engine_decode(m.en, NUSERS, order, tok, pos, row, &err) != 0)
            fail_msg("batched decode step %d: %s", s, err.msg);
        for (int i = 0; i < NUSERS; i++)
            memcpy(batch + ((size_t)order[i] * NSTEPS + (size_t)s) * (size_t)vocab, row + (size_t)i * (size_t)vocab,
                   sizeof(float) * (size_t)vocab);
    }
    double worst = 1;
    for (int u = 0; u < NUSERS; u++) {
        /* alone: the same user slot, prefilled again, decoded by itself */
        if (rt_engine_prefill(m.en, u, r.input_ids, len[u], 0, row, &err) != 0)
            fail_msg("prefill user %d: %s", u, err.msg);
        for (int s = 0; s < NSTEPS; s++) {
            int32_t pos = len[u] + s, tok = r.input_ids[pos];
            if (rt_engine_decode(m.en, 1, &u, &tok, &pos, row, &err) != 0)
                fail_msg("decode of user %d alone, step %d: %s", u, s, err.msg);
            const float *b = batch + ((size_t)u * NSTEPS + (size_t)s) * (size_t)vocab;
            /* every kernel's order per output is the same for any batch
             * (kernels.h), so the bits are too */
            if (memcmp(row, b, sizeof(float) * (size_t)vocab) != 0)
                fail_msg("%s/%s on %s: user %d step %d (position %d): batched and alone differ", a->name, refname,
                         system, u, s, pos);
            double pcc = ev_pcc(row, b, (size_t)vocab);
            if (!(pcc >= PCC_SYSTEMS))
                fail_msg("%s/%s on %s: user %d step %d (position %d): batched vs alone pcc %.9f", a->name, refname,
                         system, u, s, pos, pcc);
            assert_int_equal(e2e_argmax(row, vocab), e2e_argmax(b, vocab));
            worst = fmin(worst, pcc);
        }
    }
    printf("[ batch    ] %s/%s on %s (weights %s, activations %s): %d users x %d steps, batched = alone bit for bit (pcc_min %.9f)\n",
           a->name, refname, m.plan.system, mgc_dtype_name(m.plan.weights_dtype), mgc_dtype_name(m.plan.act_dtype),
           NUSERS, NSTEPS, worst);
    free(batch);
    free(row);
    ev_reference_free(&r);
    e2e_model_close(&m);
}

static void test_batch_llama32(void **state) { multi_user(e2e_arch_find("llama32"), "reference", "t3000", 1); }
static void test_batch_qwen3_n150(void **state) { multi_user(e2e_arch_find("qwen3"), "reference", "n150", 1); }
/* prompts on both sides of LongRoPE's switch (64): the per-row factor sets */
static void test_batch_phi3_long(void **state) { multi_user(e2e_arch_find("phi3"), "reference_long", "t3000", 1); }
/* the spec's precision: bf8_b weights, bf16 activations and cache */
static void test_batch_mistral_spec(void **state) { multi_user(e2e_arch_find("mistral"), "reference", NULL, 0); }
static void test_batch_allam_spec(void **state) { multi_user(e2e_arch_find("allam"), "reference", NULL, 0); }

/* ---- prefill in chunks (start > 0: attention over the cached prefix) ------------- */

static void chunked_prefill(const char *arch, const char *refname, const char *system)
{
    const e2e_arch *a = e2e_arch_find(arch);
    e2e_model m;
    e2e_model_open(&m, a, system, 1);
    ev_reference r;
    load_ref(a, refname, &r);
    int64_t vocab = rt_engine_vocab(m.en);
    int n = (int)r.t; /* the whole sequence: one forward call, as the reference's logits */
    float *one = malloc(sizeof(float) * (size_t)n * (size_t)vocab), *part = malloc(sizeof(float) * (size_t)n * (size_t)vocab);
    assert_non_null(one);
    assert_non_null(part);
    mgc_error err = {{0}};
    if (rt_engine_prefill(m.en, 0, r.input_ids, n, 0, one, &err) != 0)
        fail_msg("%s", err.msg);
    /* user 3, in chunks of 1, 7, 13, then the rest */
    static const int sizes[] = {1, 7, 13};
    int start = 0;
    for (int c = 0; start < n; c++) {
        int len = c < 3 ? sizes[c] : n - start;
        if (rt_engine_prefill(m.en, 3, r.input_ids + start, len, start, part + (size_t)start * (size_t)vocab, &err) != 0)
            fail_msg("chunk at %d: %s", start, err.msg);
        start += len;
    }
    double worst = 1;
    for (int p = 0; p < n; p++) {
        double pcc = ev_pcc(one + (size_t)p * (size_t)vocab, part + (size_t)p * (size_t)vocab, (size_t)vocab);
        if (!(pcc >= PCC_SYSTEMS))
            fail_msg("%s/%s: chunked prefill position %d: pcc %.9f against one pass", arch, refname, p, pcc);
        worst = fmin(worst, pcc);
    }
    /* and the cache it left decodes like the one-pass cache */
    int users[2] = {0, 3};
    int32_t tok[2] = {5, 5}, pos[2] = {n, n};
    if (rt_engine_decode(m.en, 2, users, tok, pos, part, &err) != 0)
        fail_msg("%s", err.msg);
    double pcc = ev_pcc(part, part + vocab, (size_t)vocab);
    assert_true(pcc >= PCC_SYSTEMS);
    printf("[ chunks   ] %s/%s on %s: prefill in 4 chunks vs one pass, pcc_min %.9f; next decode pcc %.9f\n", arch,
           refname, system, worst, pcc);
    free(one);
    free(part);
    ev_reference_free(&r);
    e2e_model_close(&m);
}

static void test_chunks_llama32(void **state) { chunked_prefill("llama32", "reference", "t3000"); }
static void test_chunks_qwen3(void **state) { chunked_prefill("qwen3", "reference", "n150"); }
static void test_chunks_phi3(void **state) { chunked_prefill("phi3", "reference_short", "t3000"); }

/* ---- 6: the prompt through the decode path ---------------------------------------- */

/* The LongRoPE switch of the plan (original_max_position_embeddings), 0 if none. */
static int64_t longrope_switch(const mgc_plan *p)
{
    for (size_t i = 0; i < p->nropes; i++)
        if (p->ropes[i].kind == MGC_ROPE_LONGROPE)
            return p->ropes[i].original_max;
    return 0;
}

static void prefill_decode(const e2e_arch *a)
{
    e2e_model m;
    e2e_model_open(&m, a, "t3000", 1);
    for (int k = 0; a->refs[k]; k++) {
        ev_reference r;
        load_ref(a, a->refs[k], &r);
        /* LongRoPE picks its factor set per forward call (HF: from the call's
         * max position + 1).  A prompt longer than the switch is one call with
         * the long factors in one-pass prefill, but token by token its first
         * `om` positions are calls with the short ones: the two are different
         * computations (HF's generate() would not mix them either).  There we
         * compare the part both run in one regime: the first `om` positions. */
        int64_t om = longrope_switch(&m.plan), n = r.t;
        int crossing = om > 0 && r.prompt_len > om;
        if (crossing)
            n = om;
        float *l1 = malloc(sizeof(float) * (size_t)(n * r.vocab)), *l2 = malloc(sizeof(float) * (size_t)(n * r.vocab));
        assert_non_null(l1);
        assert_non_null(l2);
        ev_result one, dec;
        mgc_error err = {{0}};
        ev_opts o1 = {.max_positions = n, .logits_out = l1}, o2 = {.prefill_decode = 1, .max_positions = n,
                                                                         .logits_out = l2};
        if (ev_teacher_forcing(m.en, &r, &o1, &one, &err) != 0 ||
            ev_teacher_forcing(m.en, &r, &o2, &dec, &err) != 0)
            fail_msg("%s", err.msg);
        assert_int_equal(one.positions, n);
        assert_int_equal(dec.positions, n);
        double worst = 1;
        for (int64_t p = 0; p < n; p++) {
            if (one.pos[p].top1 != dec.pos[p].top1)
                fail_msg("%s/%s position %lld: one-pass prefill top-1 %d, prefill through decode %d", a->name,
                         a->refs[k], (long long)p, one.pos[p].top1, dec.pos[p].top1);
            worst = fmin(worst, ev_pcc(l1 + p * r.vocab, l2 + p * r.vocab, (size_t)r.vocab));
        }
        assert_true(worst >= PCC_F32);
        if (!crossing)
            assert_true(dec.all.top1 == 1.0);
        printf("[ pf-dec   ] %s/%s: same top-1 at all %lld positions%s; pcc_min %.9f\n", a->name, a->refs[k],
               (long long)n, crossing ? " (the prompt's first positions, before the LongRoPE switch)" : "", worst);
        ev_result_free(&one);
        ev_result_free(&dec);
        free(l1);
        free(l2);
        ev_reference_free(&r);
    }
    e2e_model_close(&m);
}

/* ---- 7: the other shardings: tensor-parallel experts, replicated KV heads ---------- */

/* An f32 plan of `a` (whose spec may be a variant) on `system` against HF. */
static void f32_matches_hf(const e2e_arch *a, const char *system, int ndevices)
{
    e2e_model m;
    e2e_model_open(&m, a, system, 1);
    assert_int_equal(m.plan.ndevices, ndevices);
    ev_reference r;
    load_ref(a, a->refs[0], &r);
    ev_result res;
    eval_ref(&m, &r, 0, NULL, &res);
    double maxref = e2e_max_abs(r.logits, (size_t)(r.t * r.vocab));
    printf("[ f32      ] %s (%s) on %s: top1 %.3f top5 %.3f pcc_min %.8f max_abs_err %.3g (%.2g of max|logit|)\n",
           a->name, a->spec, system, res.all.top1, res.all.top5, res.all.pcc_min, res.all.max_abs_err,
           res.all.max_abs_err / maxref);
    assert_true(res.all.top1 == 1.0);
    assert_true(res.all.top5 == 1.0);
    assert_true(res.all.pcc_min >= PCC_F32);
    assert_true(res.all.max_abs_err <= 1e-4 * maxref);
    ev_result_free(&res);
    ev_reference_free(&r);
    e2e_model_close(&m);
}

/* Mixtral with each expert sharded like a dense MLP (no @experts). */
static void test_mixtral_tensor_parallel(void **state)
{
    (void)state;
    e2e_arch v = *e2e_arch_find("mixtral");
    v.spec = "tests/specs/mixtral_tp.graph";
    f32_matches_hf(&v, "t3000", 8);
}

/* 8 KV heads on 16 devices: each KV head on the two devices that read it. */
static void test_kv_heads_replicated_16(void **state)
{
    (void)state;
    char *dir = e2e_tmpdir();
    char *path = e2e_path(dir, "t16.yaml");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name: t16\ndevice: wormhole_b0\nmesh: [2, 8]\ntopology: linear\ndram: 12884901888\n"
          "dram_reserved: 268435456\ntile: 32\n", f);
    fclose(f);
    free(path);
    e2e_systems_dir = dir;
    f32_matches_hf(e2e_arch_find("gemma2"), "t16", 16);
    f32_matches_hf(e2e_arch_find("llama32"), "t16", 16);
    e2e_systems_dir = NULL;
    e2e_rmtree(dir);
}

/* ---- one test per architecture ----------------------------------------------------- */

#define PER_ARCH(fn)                                                                     \
    static void test_##fn##_llama32(void **state) { fn(e2e_arch_find("llama32")); }    \
    static void test_##fn##_mistral(void **state) { fn(e2e_arch_find("mistral")); }    \
    static void test_##fn##_qwen3(void **state) { fn(e2e_arch_find("qwen3")); }        \
    static void test_##fn##_allam(void **state) { fn(e2e_arch_find("allam")); }        \
    static void test_##fn##_phi3(void **state) { fn(e2e_arch_find("phi3")); }          \
    static void test_##fn##_qwen2(void **state) { fn(e2e_arch_find("qwen2")); }        \
    static void test_##fn##_gemma(void **state) { fn(e2e_arch_find("gemma")); }        \
    static void test_##fn##_gemma2(void **state) { fn(e2e_arch_find("gemma2")); }      \
    static void test_##fn##_mixtral(void **state) { fn(e2e_arch_find("mixtral")); }    \
    static void test_##fn##_phi(void **state) { fn(e2e_arch_find("phi")); }
#define PER_ARCH_TESTS(fn)                                                               \
    cmocka_unit_test(test_##fn##_llama32), cmocka_unit_test(test_##fn##_mistral),        \
        cmocka_unit_test(test_##fn##_qwen3), cmocka_unit_test(test_##fn##_allam),        \
        cmocka_unit_test(test_##fn##_phi3), cmocka_unit_test(test_##fn##_qwen2),         \
        cmocka_unit_test(test_##fn##_gemma), cmocka_unit_test(test_##fn##_gemma2),       \
        cmocka_unit_test(test_##fn##_mixtral), cmocka_unit_test(test_##fn##_phi)

PER_ARCH(f32_systems)
PER_ARCH(spec_precision)
PER_ARCH(decode_kv)
PER_ARCH(prefill_decode)

int main(void)
{
    const struct CMUnitTest tests[] = {
        PER_ARCH_TESTS(f32_systems),
        PER_ARCH_TESTS(spec_precision),
        PER_ARCH_TESTS(decode_kv),
        cmocka_unit_test(test_batch_llama32),
        cmocka_unit_test(test_batch_qwen3_n150),
        cmocka_unit_test(test_batch_phi3_long),
        cmocka_unit_test(test_batch_mistral_spec),
        cmocka_unit_test(test_batch_allam_spec),
        cmocka_unit_test(test_chunks_llama32),
        cmocka_unit_test(test_chunks_qwen3),
        cmocka_unit_test(test_chunks_phi3),
        PER_ARCH_TESTS(prefill_decode),
        cmocka_unit_test(test_mixtral_tensor_parallel),
        cmocka_unit_test(test_kv_heads_replicated_16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
