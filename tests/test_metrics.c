/* Tests of the teacher-forcing eval metrics (eval/metrics.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "metrics.h"

#define NEAR(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static float pseudo(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (float)(1u << 24) * 8.0f - 4.0f;
}

/* ---- PCC ------------------------------------------------------------------------------ */

static void test_pcc_linear(void **state)
{
    enum { N = 1000 };
    float x[N], y[N], z[N];
    uint32_t s = 1;
    for (int i = 0; i < N; i++) {
        x[i] = pseudo(&s);
        y[i] = 2.0f * x[i] + 1.0f; /* exact in float for these values? close enough */
        z[i] = -x[i];
    }
    NEAR(ev_pcc(x, y, N), 1.0, 1e-6);
    assert_true(ev_pcc(x, z, N) == -1.0 || fabs(ev_pcc(x, z, N) + 1.0) < 1e-12);
    assert_true(ev_pcc(x, x, N) == 1.0);

    /* x = 1,2,3 against 1,3,2: cov 1, variances 2 and 2 -> 0.5 */
    float a[3] = {1, 2, 3}, b[3] = {1, 3, 2};
    NEAR(ev_pcc(a, b, 3), 0.5, 1e-15);

    /* large offset: two passes in double keep it exact */
    float c[3] = {1e6f + 1, 1e6f + 2, 1e6f + 3};
    NEAR(ev_pcc(a, c, 3), 1.0, 1e-12);
}

static void test_pcc_constant(void **state)
{
    float k[4] = {2, 2, 2, 2}, k2[4] = {2, 2, 2, 2}, k3[4] = {5, 5, 5, 5};
    float v[4] = {1, 2, 3, 4};
    assert_true(ev_pcc(k, k2, 4) == 1.0); /* equal rows: 1 */
    assert_true(ev_pcc(k, k3, 4) == 0.0); /* both constant, different: 0 */
    assert_true(ev_pcc(k, v, 4) == 0.0);  /* one constant: 0 */
    assert_true(ev_pcc(v, k, 4) == 0.0);
    assert_true(ev_pcc(v, v, 0) == 1.0); /* empty rows are equal */
    float one_a[1] = {3}, one_b[1] = {4};
    assert_true(ev_pcc(one_a, one_b, 1) == 0.0);

    /* a constant row whose mean does not round back to its value */
    float t[3] = {0.1f, 0.1f, 0.1f}, u[3] = {0.3f, 0.2f, 0.1f};
    assert_true(ev_pcc(t, u, 3) == 0.0);

    float nan_row[4] = {1, NAN, 3, 4};
    assert_true(isnan(ev_pcc(nan_row, v, 4)));
    float inf_row[4] = {1, INFINITY, 3, 4};
    assert_true(isnan(ev_pcc(v, inf_row, 4)));
}

/* ---- top-1 / top-5 ----------------------------------------------------------------------- */

static void test_top5_membership(void **state)
{
    mgc_error e = {{0}};
    rt_pos_metrics m;
    float ours[10] = {0, 1, 2, 9, 4, 5, 6, 7, 8, 3}; /* argmax 3 */

    int hit[5] = {3, 8, 7, 6, 5};
    assert_int_equal(ev_metrics_row(ours, NULL, 10, hit, -1, &m, &e), 0);
    assert_int_equal(m.top1, 3);
    assert_true(m.has_ref_top5 && m.top1_match && m.top5_match);
    assert_false(m.has_ref_logits);
    assert_true(isnan(m.pcc) && isnan(m.kl) && isnan(m.nll));

    int second[5] = {8, 7, 6, 5, 3};
    assert_int_equal(ev_metrics_row(ours, NULL, 10, second, -1, &m, &e), 0);
    assert_true(!m.top1_match && m.top5_match);

    int miss[5] = {8, 7, 6, 5, 4};
    assert_int_equal(ev_metrics_row(ours, NULL, 10, miss, -1, &m, &e), 0);
    assert_true(!m.top1_match && !m.top5_match);

    /* ties go to the lowest index; NaN never wins */
    float tie[4] = {NAN, 5, 1, 5};
    int t5[5] = {1, -1, -1, -1, -1};
    assert_int_equal(ev_metrics_row(tie, NULL, 4, t5, -1, &m, &e), 0);
    assert_int_equal(m.top1, 1);
    assert_true(m.top1_match);
    float all_nan[2] = {NAN, NAN};
    int t0[5] = {0, 1, -1, -1, -1};
    assert_int_equal(ev_metrics_row(all_nan, NULL, 2, t0, -1, &m, &e), 0);
    assert_int_equal(m.top1, -1);
    assert_true(!m.top1_match && !m.top5_match);
}

static void test_top5_from_reference(void **state)
{
    mgc_error e = {{0}};
    rt_pos_metrics m;
    float ref[7] = {1, 5, 3, 5, 0, 4, 2};
    float ours[7] = {0, 0, 0, 1, 0, 0, 0}; /* argmax 3: the reference's 2nd */
    assert_int_equal(ev_metrics_row(ours, ref, 7, NULL, -1, &m, &e), 0);
    int want[5] = {1, 3, 5, 2, 6};
    assert_memory_equal(m.ref_top5, want, sizeof want);
    assert_true(!m.top1_match && m.top5_match);

    float ref3[3] = {1, 3, 2};
    assert_int_equal(ev_metrics_row(ref3, ref3, 3, NULL, -1, &m, &e), 0);
    int want3[5] = {1, 2, 0, -1, -1};
    assert_memory_equal(m.ref_top5, want3, sizeof want3);
    assert_true(m.top1_match);
    assert_true(m.pcc == 1.0 && m.max_abs_err == 0.0 && m.kl == 0.0);
}

/* ---- KL, NLL, perplexity ---------------------------------------------------------------------- */

static void test_kl(void **state)
{
    mgc_error e = {{0}};
    rt_pos_metrics m;
    enum { V = 500 };
    float x[V];
    uint32_t s = 7;
    for (int i = 0; i < V; i++)
        x[i] = pseudo(&s) * 4.0f;
    assert_int_equal(ev_metrics_row(x, x, V, NULL, 3, &m, &e), 0);
    assert_true(m.kl == 0.0);

    /* p = (1/2, 1/2), q = (1/4, 3/4): KL(p||q) = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3) */
    float ref[2] = {0.0f, 0.0f}, ours[2] = {0.0f, (float)log(3.0)};
    assert_int_equal(ev_metrics_row(ours, ref, 2, NULL, 1, &m, &e), 0);
    NEAR(m.kl, 0.5 * log(4.0 / 3.0), 1e-7);
    NEAR(m.nll, -log(0.75), 1e-7);
    NEAR(m.max_abs_err, log(3.0), 1e-7);
    assert_true(m.pcc == 0.0); /* the reference row is constant */

    /* ... and the same with huge logits: max subtraction, no overflow */
    float ref_big[2] = {3000.0f, 3000.0f}, ours_big[2] = {3000.0f, 3000.0f};
    assert_int_equal(ev_metrics_row(ours_big, ref_big, 2, NULL, 0, &m, &e), 0);
    assert_true(m.kl == 0.0);
    NEAR(m.nll, log(2.0), 1e-12);

    /* ours gives no mass (-inf) where the reference has some: KL is +inf */
    float masked[2] = {0.0f, -INFINITY};
    assert_int_equal(ev_metrics_row(masked, ref, 2, NULL, 0, &m, &e), 0);
    assert_true(isinf(m.kl) && m.kl > 0);
    NEAR(m.nll, 0.0, 1e-15);
    assert_true(isnan(m.pcc));
}

static void test_perplexity_uniform(void **state)
{
    mgc_error e = {{0}};
    enum { V = 1000 };
    static float row[V];
    for (int i = 0; i < V; i++)
        row[i] = 3.7f;
    ev_metrics_acc acc;
    ev_metrics_acc_init(&acc);
    for (int pos = 0; pos < 20; pos++) {
        rt_pos_metrics m;
        assert_int_equal(ev_metrics_row(row, NULL, V, NULL, (pos * 37) % V, &m, &e), 0);
        NEAR(m.nll, log((double)V), 1e-12);
        ev_metrics_acc_add(&acc, &m);
    }
    ev_metrics_summary s;
    ev_metrics_acc_finish(&acc, &s);
    assert_int_equal(s.positions, 20);
    assert_int_equal(s.n_nll, 20);
    NEAR(s.perplexity, (double)V, 1e-9 * V);
    assert_int_equal(s.n_top, 0);
    assert_true(isnan(s.top1) && isnan(s.pcc_mean) && isnan(s.kl_mean));
}

/* ---- aggregation ---------------------------------------------------------------------------------- */

static void test_aggregate(void **state)
{
    mgc_error e = {{0}};
    ev_metrics_acc acc;
    ev_metrics_acc_init(&acc);
    float ref[3] = {1, 2, 3};
    float rows[4][3] = {
        {1, 2, 3},    /* pcc 1, err 0, top1 2 */
        {3, 2, 1},    /* pcc -1, err 2, top1 0 */
        {1, 3, 2},    /* pcc 0.5, err 1, top1 1 */
        {1, 2.5f, 3}, /* top1 2 */
    };
    int top5[5] = {2, 1, 0, -1, -1};
    int top5_narrow[5] = {2, -1, -1, -1, -1};
    for (int r = 0; r < 4; r++) {
        rt_pos_metrics m;
        assert_int_equal(
            ev_metrics_row(rows[r], ref, 3, r == 1 ? top5_narrow : top5, r < 3 ? 0 : -1, &m, &e),
            0);
        ev_metrics_acc_add(&acc, &m);
    }
    ev_metrics_summary s;
    ev_metrics_acc_finish(&acc, &s);
    assert_int_equal(s.positions, 4);
    assert_int_equal(s.n_top, 4);
    NEAR(s.top1, 0.5, 0);  /* rows 0 and 3 */
    NEAR(s.top5, 0.75, 0); /* rows 0, 2, 3; row 1's 0 is not in {2} */
    assert_int_equal(s.n_logits, 4);
    NEAR(s.pcc_min, -1.0, 1e-12);
    double pcc3 = ev_pcc(rows[3], ref, 3);
    NEAR(s.pcc_mean, (1.0 - 1.0 + 0.5 + pcc3) / 4, 1e-12);
    NEAR(s.max_abs_err, 2.0, 0);
    assert_true(s.kl_mean > 0 && s.kl_max >= s.kl_mean);
    assert_int_equal(s.n_nll, 3);

    /* a NaN row poisons pcc_min, pcc_mean, max_abs_err for good */
    float bad[3] = {1, NAN, 3};
    rt_pos_metrics m;
    assert_int_equal(ev_metrics_row(bad, ref, 3, top5, 1, &m, &e), 0);
    assert_true(isnan(m.pcc) && isnan(m.max_abs_err) && isnan(m.kl) && isnan(m.nll));
    assert_int_equal(m.top1, 2);
    ev_metrics_acc_add(&acc, &m);
    assert_int_equal(ev_metrics_row(rows[0], ref, 3, top5, 1, &m, &e), 0);
    ev_metrics_acc_add(&acc, &m);
    ev_metrics_acc_finish(&acc, &s);
    assert_true(isnan(s.pcc_min) && isnan(s.pcc_mean) && isnan(s.max_abs_err));
    assert_true(isnan(s.kl_max) && isnan(s.perplexity));
    NEAR(s.top1, 4.0 / 6.0, 1e-15);

    ev_metrics_acc_init(&acc);
    ev_metrics_acc_finish(&acc, &s);
    assert_int_equal(s.positions, 0);
    assert_true(isnan(s.top1) && isnan(s.pcc_min) && isnan(s.perplexity));
}

static void test_errors(void **state)
{
    mgc_error e = {{0}};
    rt_pos_metrics m;
    float row[4] = {1, 2, 3, 4};
    int top5[5] = {0, 1, 2, 3, -1};
    assert_int_equal(ev_metrics_row(row, NULL, 0, top5, -1, &m, &e), -1);
    assert_non_null(strstr(e.msg, "vocabulary of 0"));
    assert_int_equal(ev_metrics_row(row, NULL, 4, top5, 4, &m, &e), -1);
    assert_non_null(strstr(e.msg, "next token 4"));
    int bad5[5] = {0, 1, 9, 3, -1};
    assert_int_equal(ev_metrics_row(row, NULL, 4, bad5, -1, &m, &e), -1);
    assert_non_null(strstr(e.msg, "entry 2 is token 9"));
    int absent_first[5] = {-1, 1, 2, 3, 0};
    assert_int_equal(ev_metrics_row(row, NULL, 4, absent_first, -1, &m, &e), -1);
    float ref_nan[4] = {1, 2, NAN, 4};
    assert_int_equal(ev_metrics_row(row, ref_nan, 4, top5, -1, &m, &e), -1);
    assert_non_null(strstr(e.msg, "reference logit 2"));
    assert_int_equal(ev_metrics_row(NULL, NULL, 4, top5, -1, &m, &e), -1);
    assert_int_equal(ev_metrics_row(row, NULL, 4, top5, -1, NULL, &e), -1);
    /* neither reference: top-1 and NLL only */
    assert_int_equal(ev_metrics_row(row, NULL, 4, NULL, 3, &m, &e), 0);
    assert_false(m.has_ref_top5);
    assert_false(m.has_ref_logits);
    assert_int_equal(m.top1, 3);
    assert_true(m.nll > 0 && m.nll < 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcc_linear),
        cmocka_unit_test(test_pcc_constant),
        cmocka_unit_test(test_top5_membership),
        cmocka_unit_test(test_top5_from_reference),
        cmocka_unit_test(test_kl),
        cmocka_unit_test(test_perplexity_uniform),
        cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
