/* A prefill that returns only the last position's logits (what generation
 * samples from; rt_engine_prefill_last, runtime/engine_head.h) runs the
 * logits head on the last row alone.  For every bundled architecture, on
 * t3000 in f32 and at the spec's own precision: the head it found ends in
 * the lm_head and holds nothing that computes attention or writes the cache;
 * for a 9-token prompt its logits are the bits of the last row of a full
 * prefill (both take the same matmul path for 9 rows and 1), and the next
 * decode step gives the same bits after either (the cache was filled alike);
 * for a 40-token prompt (the full prefill's f32 matmuls go through sgemm,
 * one row through the GEMV) they agree to 1e-5 of the largest logit with the
 * same argmax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "e2e_helpers.h"
#include "engine.h"
#include "engine_internal.h"

static void check(const e2e_arch *a, int f32)
{
    e2e_model m;
    e2e_model_open(&m, a, "t3000", f32);
    const mgc_plan_entry *pf = &m.plan.prefill;
    assert_non_null(m.en->head_ops);
    int linears = 0, ops = 0;
    long last_linear = -1;
    for (size_t i = 0; i < pf->nops; i++) {
        mgc_kernel k = pf->ops[i].kernel;
        if (k == MGC_K_LINEAR)
            last_linear = (long)i;
        if (!m.en->head_ops[i])
            continue;
        ops++;
        linears += k == MGC_K_LINEAR;
        assert_true(k != MGC_K_FILL_CACHE && k != MGC_K_SDPA && k != MGC_K_ROTARY && k != MGC_K_EMBEDDING);
    }
    assert_true(last_linear >= 0 && m.en->head_ops[last_linear]); /* the lm_head */
    int64_t vocab = rt_engine_vocab(m.en);
    enum { N = 9 };
    const int32_t prompt[N] = {1, 5, 9, 2, 7, 3, 8, 4, 6};
    float *full = malloc(sizeof(float) * (size_t)(N * vocab)), *last = malloc(sizeof(float) * (size_t)vocab);
    float *d1 = malloc(sizeof(float) * (size_t)vocab), *d2 = malloc(sizeof(float) * (size_t)vocab);
    mgc_error e = {{0}};
    const int users[1] = {0};
    const int32_t tok[1] = {11}, pos[1] = {N};
    assert_int_equal(rt_engine_prefill(m.en, 0, prompt, N, 0, full, &e), 0);
    assert_int_equal(rt_engine_decode(m.en, 1, users, tok, pos, d1, &e), 0);
    assert_int_equal(rt_engine_prefill_last(m.en, 0, prompt, N, 0, last, &e), 0);
    assert_int_equal(rt_engine_decode(m.en, 1, users, tok, pos, d2, &e), 0);
    if (memcmp(last, full + (size_t)(N - 1) * (size_t)vocab, sizeof(float) * (size_t)vocab) != 0)
        fail_msg("%s (%s): the last-row prefill's logits differ from the full prefill's last row", a->name,
                 f32 ? "f32" : "spec precision");
    assert_memory_equal(d1, d2, sizeof(float) * (size_t)vocab);
    enum { L = 40 };
    int32_t longp[L];
    for (int i = 0; i < L; i++)
        longp[i] = (int32_t)((i * 37 + 3) % vocab);
    float *lfull = malloc(sizeof(float) * (size_t)(L * vocab));
    assert_int_equal(rt_engine_prefill(m.en, 0, longp, L, 0, lfull, &e), 0);
    assert_int_equal(rt_engine_prefill_last(m.en, 0, longp, L, 0, last, &e), 0);
    const float *want = lfull + (size_t)(L - 1) * (size_t)vocab;
    double diff = 0;
    for (int64_t v = 0; v < vocab; v++)
        diff = fabs((double)last[v] - want[v]) > diff ? fabs((double)last[v] - want[v]) : diff;
    assert_true(diff <= 1e-5 * e2e_max_abs(want, (size_t)vocab));
    assert_int_equal(e2e_argmax(last, vocab), e2e_argmax(want, vocab));
    printf("[ last-row ] %s %s: head of %d ops (%d linears); 9 tokens bit-identical, 40 tokens max diff %.2g\n",
           a->name, f32 ? "f32 " : "spec", ops, linears, diff);
    free(lfull);
    free(full);
    free(last);
    free(d1);
    free(d2);
    e2e_model_close(&m);
}

static void test_every_architecture(void **state)
{
    (void)state;
    for (size_t i = 0; i < e2e_narchs; i++) {
        check(&e2e_archs[i], 1);
        check(&e2e_archs[i], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_architecture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
