/* The AVX512-BF16 linear (kernels_bf16dot.c) against its plain-C statement
 * of the arithmetic (rt_bf16dot_ref, the order kernels.h gives) bit for bit,
 * on sizes that are not multiples of the 32-column block or the 4 x 4 tile;
 * with 1 and 3 pool threads; one row alone against the same row in a batch;
 * and the reference itself against a double-precision dot (it is a dot
 * product, to f32 accumulation error).  Skipped on a CPU without AVX512-BF16. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "dtype.h"
#include "kernels.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double uni(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / (double)(1ull << 53);
}

/* Every check runs on a pool of 1 thread and one of 3: the bits must not
 * depend on it. */
static void pools_open(rt_pool *pools[2])
{
    mgc_error e = {{0}};
    pools[0] = rt_pool_create(1, &e);
    pools[1] = rt_pool_create(3, &e);
    assert_non_null(pools[0]);
    assert_non_null(pools[1]);
}

static void pools_close(rt_pool *pools[2])
{
    rt_pool_free(pools[0]);
    rt_pool_free(pools[1]);
}

/* bf16-valued activations over several magnitudes (and some exact zeros) */
static void fill_x(float *x, size_t n, int tiny)
{
    for (size_t i = 0; i < n; i++) {
        double v = (uni() - 0.5) * ldexp(1.0, (int)(uni() * 12) - 6);
        if (tiny && i % 7 == 0)
            v = ldexp(uni() - 0.5, -130); /* subnormal: flushed by the instruction */
        if (i % 11 == 5)
            v = 0;
        x[i] = rt_bf16_round((float)v);
    }
}

static void make_w(rt_matrix *w, int n, int k, float **dense)
{
    mgc_error e = {{0}};
    assert_int_equal(rt_matrix_init(w, RT_BF16, n, k, &e), 0);
    *dense = malloc(sizeof(float) * (size_t)n * (size_t)k);
    for (size_t i = 0; i < (size_t)n * (size_t)k; i++)
        (*dense)[i] = (float)((uni() - 0.5) * 0.2);
    rt_matrix_set_rows_f32(w, 0, n, *dense);
    for (int r = 0; r < n; r++)
        for (int c = 0; c < k; c++)
            (*dense)[(size_t)r * k + c] = rt_bf16_to_f32(((const uint16_t *)w->data)[(size_t)r * w->ld + c]);
}

static void check(rt_pool *pool, int m, int n, int k, int tiny)
{
    rt_matrix w;
    float *wd = NULL;
    make_w(&w, n, k, &wd);
    float *x = malloc(sizeof(float) * (size_t)m * (size_t)k), *y = malloc(sizeof(float) * (size_t)m * (size_t)n);
    fill_x(x, (size_t)m * (size_t)k, tiny);
    /* scratch as the engine sizes it (prefill's column-pair panels) */
    float *scratch = calloc((size_t)rt_pool_threads(pool) * rt_linear_scratch_floats(&w, m) + 1, sizeof(float));
    rt_linear_bf16dot_pool(pool, x, m, &w, y, m > RT_GEMV_MAX_M ? scratch : NULL);
    for (int r = 0; r < m; r++)
        for (int j = 0; j < n; j++) {
            const uint16_t *wr = (const uint16_t *)w.data + (size_t)j * w.ld;
            /* decode: the 16-lane order; prefill: the column-pair order */
            float want = m <= RT_GEMV_MAX_M ? rt_bf16dot_ref(x + (size_t)r * k, wr, k)
                                            : rt_bfpdot_ref(x + (size_t)r * k, wd + (size_t)j * k, k);
            float got = y[(size_t)r * n + j];
            if (memcmp(&want, &got, 4) != 0)
                fail_msg("m %d n %d k %d: y[%d][%d] = %a, the reference %a", m, n, k, r, j, got, want);
        }
    /* decode: each row alone gives the bits it has in the batch */
    float *y1 = malloc(sizeof(float) * (size_t)n);
    for (int r = 0; m <= RT_GEMV_MAX_M && r < m; r += m > 5 ? m / 3 : 1) {
        rt_linear_bf16dot_pool(pool, x + (size_t)r * k, 1, &w, y1, NULL);
        assert_memory_equal(y1, y + (size_t)r * n, sizeof(float) * (size_t)n);
    }
    free(y1);
    free(scratch);
    free(x);
    free(y);
    free(wd);
    rt_matrix_free(&w);
}

static int setup(void **state)
{
    (void)state;
    if (!rt_bf16dot_enabled())
        fprintf(stderr, "test_kernels_bf16dot: this CPU has no AVX512-BF16 (or MGC_KERNELS excludes it): skipped\n");
    return 0;
}

static void test_against_reference(void **state)
{
    (void)state;
    if (!rt_bf16dot_enabled())
        skip();
    static const int ms[] = {1, 2, 3, 4, 5, 7, 17, 32, 33, 38}, ns[] = {1, 3, 4, 5, 63, 64, 65, 130},
                     ks[] = {1, 2, 31, 32, 33, 64, 100, 1000};
    rt_pool *pools[2];
    pools_open(pools);
    for (int p = 0; p < 2; p++)
        for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
            for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
                check(pools[p], ms[a], ns[b], ks[(a + b + (size_t)p) % (sizeof ks / sizeof ks[0])], (int)(a + b) % 3 == 0);
    check(pools[1], 128, 300, 1024, 0); /* a prefill-sized call: many tasks */
    /* GEMVs in tasks of about 1 MiB, a few of them cut into a multiple of 4 */
    check(pools[1], 1, 1100, 1000, 0);
    check(pools[1], 2, 2050, 300, 1);
    check(pools[1], 3, 9000, 128, 0);
    /* batches over rows longer than a column block (COL_BLOCK_MAX, 2048):
     * two blocks, three uneven ones, a tile with a leftover row */
    check(pools[1], 8, 20, 2500, 0);
    check(pools[1], 32, 9, 4100, 1);
    check(pools[0], 5, 7, 2049, 0);
    /* prefills (the column-pair panels) over rows past a panel's column
     * block: 3 blocks and an odd k, 2 blocks */
    check(pools[1], 41, 70, 4501, 0);
    check(pools[0], 36, 33, 2050, 1);
    pools_close(pools);
}

/* The stated order is a dot product: within f32 accumulation error of the
 * exact sum (the products of two bf16 are exact). */
static void test_reference_is_a_dot(void **state)
{
    (void)state;
    enum { K = 777 };
    float x[K];
    uint16_t w[K];
    for (int t = 0; t < 50; t++) {
        fill_x(x, K, 0);
        double exact = 0, mag = 0;
        for (int c = 0; c < K; c++) {
            w[c] = rt_f32_to_bf16((float)(uni() - 0.5));
            double p = (double)x[c] * (double)rt_bf16_to_f32(w[c]);
            exact += p;
            mag += fabs(p);
        }
        float got = rt_bf16dot_ref(x, w, K);
        /* the deepest lane sums 2 * K / 32 terms, then 4 more levels */
        double bound = (2.0 * K / 32 + 4) * ldexp(1.0, -24) * mag;
        if (fabs((double)got - exact) > bound)
            fail_msg("reference %.9g vs exact %.9g (bound %.3g)", got, exact, bound);
    }
}

/* Block-float weights (prefill, m > RT_GEMV_MAX_M): rt_linear_bfpdot_pool
 * against rt_bfpdot_ref on the decoded rows, bit for bit; bf8_b and bf4_b,
 * sizes off the 16-row block, the 4-row tile, the 64-row task and the column
 * pair (odd k); weights over many exponents (some blocks with a tiny shared
 * exponent, whose values are f32 subnormals read as zero); 1 and 3 threads.
 * The prefill's scratch is exactly rt_bfpdot_scratch_floats a thread, the
 * least the engine gives it. */
/* What a check_bfp case holds besides ordinary values. */
enum { ODD_NONE = 0, ODD_SUBNORMAL_W = 1, ODD_HUGE_X = 2, ODD_TINY_X = 4 };

/* m <= RT_GEMV_MAX_M: the decode GEMV in the pair order, else the prefill
 * panels; either way every output must be rt_bfpdot_ref's bits.  odd: blocks
 * of f32-subnormal weights, x near the top of the f32 range (x * scale
 * overflows), x near the bottom (x * scale underflows), which the GEMV
 * leaves to its exact path; subnormal x (flushed) are always there. */
static void check_bfp_odd(rt_pool *pool, rt_dtype dt, int m, int n, int k, int odd, int scanned)
{
    mgc_error e = {{0}};
    rt_matrix w;
    assert_int_equal(rt_matrix_init(&w, dt, n, k, &e), 0);
    float *dense = malloc(sizeof(float) * (size_t)n * (size_t)k);
    for (int r = 0; r < n; r++)
        for (int c = 0; c < k; c++) {
            double v = (uni() - 0.5) * ldexp(1.0, (int)(uni() * 10) - 8);
            if ((odd & ODD_SUBNORMAL_W) && (r / 16 + c) % 29 == 3)
                v = ldexp(uni() - 0.5, -128); /* a block of f32-subnormal values */
            if ((odd & ODD_HUGE_X) && (r / 16 + c) % 23 == 2)
                v = ldexp(uni() - 0.5, 100); /* a large block scale */
            dense[(size_t)r * k + c] = (float)v;
        }
    rt_matrix_set_rows_f32(&w, 0, n, dense);
    if (scanned) /* the exponent range known: the GEMV may skip its per-fold checks */
        rt_matrix_scan_exponents(&w);
    assert_true(rt_bfpdot_usable(&w));
    float *x = malloc(sizeof(float) * (size_t)m * (size_t)k), *y = malloc(sizeof(float) * (size_t)m * (size_t)n);
    fill_x(x, (size_t)m * (size_t)k, 1);
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++) {
        if ((odd & ODD_HUGE_X) && i % 13 == 4)
            x[i] = rt_bf16_round((float)ldexp(uni() + 0.5, 60));
        if ((odd & ODD_TINY_X) && i % 13 == 6)
            x[i] = rt_bf16_round((float)ldexp(uni() + 0.5, -118));
    }
    size_t per = rt_linear_scratch_floats(&w, m > RT_GEMV_MAX_M ? m : RT_GEMV_MAX_M + 1);
    assert_true(per >= rt_bfpdot_scratch_floats(&w));
    /* exactly what kernels.h asks of rt_linear_bfpdot_pool, so that the
     * sanitizers see a panel written past it */
    float *scratch = calloc((size_t)rt_pool_threads(pool) * rt_bfpdot_scratch_floats(&w), sizeof(float));
    long exact_before = atomic_load(&rt_bfp_pairs_exact_tasks);
    if (m <= RT_GEMV_MAX_M)
        rt_linear_bfp_pairs_pool(pool, x, m, &w, y);
    else
        rt_linear_bfpdot_pool(pool, x, m, &w, y, scratch);
    if (m <= RT_GEMV_MAX_M && odd == ODD_NONE) /* the fast path alone */
        assert_int_equal(atomic_load(&rt_bfp_pairs_exact_tasks), exact_before);
    float *row = malloc(sizeof(float) * (size_t)k);
    for (int j = 0; j < n; j++) {
        rt_matrix_get_row_f32(&w, j, row);
        for (int r = 0; r < m; r++) {
            float want = rt_bfpdot_ref(x + (size_t)r * k, row, k), got = y[(size_t)r * n + j];
            if (memcmp(&want, &got, 4) != 0)
                fail_msg("%s m %d n %d k %d: y[%d][%d] = %a, the reference %a", rt_dtype_name(dt), m, n, k, r, j, got,
                         want);
        }
    }
    free(row);
    free(scratch);
    free(x);
    free(y);
    free(dense);
    rt_matrix_free(&w);
}

static void check_bfp(rt_pool *pool, rt_dtype dt, int m, int n, int k)
{
    check_bfp_odd(pool, dt, m, n, k, ODD_SUBNORMAL_W, 0);
}

/* Decode (m <= 32) in the prefill's order for one dtype: ordinary weights
 * and activations stay on the fast path; subnormal weights, overflowing and
 * underflowing x * scale go to the exact path; all give the reference's
 * bits, for 1 and 3 threads. */
static void decode_cases(rt_pool *pools[2], rt_dtype dt)
{
    static const int ms[] = {1, 2, 3, 4, 5, 8, 13, 16, 17, 32}, ns[] = {1, 16, 17, 127, 128, 129, 300},
                     ks[] = {1, 2, 15, 16, 17, 30, 33, 43, 101, 1024};
    size_t shift = dt == RT_BF4_B;
    int c = 0;
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++, c++)
            for (int scanned = 0; scanned < 2; scanned++) /* checked and unchecked folds */
                check_bfp_odd(pools[c % 2], dt, ms[a], ns[b], ks[(a + b + shift) % (sizeof ks / sizeof ks[0])],
                              ODD_NONE, scanned);
    long before = atomic_load(&rt_bfp_pairs_exact_tasks);
    for (int odd = 1; odd <= 4; odd *= 2) {
        check_bfp_odd(pools[1], dt, 1, 300, 101, odd, 1);
        check_bfp_odd(pools[0], dt, 5, 129, 64, odd, 0);
        check_bfp_odd(pools[1], dt, 32, 40, 33, odd, 1);
    }
    assert_true(atomic_load(&rt_bfp_pairs_exact_tasks) > before);
    if (dt == RT_BF8_B)
        check_bfp_odd(pools[1], dt, 1, 1024, 3072, ODD_NONE, 1); /* decode-sized: many tasks */
    else
        check_bfp_odd(pools[1], dt, 3, 3072, 1024, ODD_NONE, 1);
}

/* bf8_b, then bf4_b. */
static void test_block_float_decode(void **state)
{
    (void)state;
    if (!rt_bf16dot_enabled())
        skip();
    rt_pool *pools[2];
    pools_open(pools);
    decode_cases(pools, RT_BF8_B);
    decode_cases(pools, RT_BF4_B);
    pools_close(pools);
}

/* A sum that falls below the normal range is flushed to zero, as the
 * instruction does: columns of weights 2^-9 and -2^-9 (scale 2^-9, set by
 * a row of 127 * 2^-9), x = 1.25 * 2^-117 and 1.5 * 2^-117, so each output
 * of rows 0..14 is -1.5 * 2^-126 + 1.25 * 2^-126, subnormal: -0 in the
 * reference and in the GEMV (which sets MXCSR's flush-to-zero for it). */
static void test_block_float_decode_flushes(void **state)
{
    (void)state;
    if (!rt_bf16dot_enabled())
        skip();
    mgc_error e = {{0}};
    for (int dt = 0; dt < 2; dt++) {
        /* bf4_b: 3-bit mantissas, so weights 2^-5 and a row of 7 * 2^-5 */
        float unit = dt ? 0x1p-5f : 0x1p-9f, top = dt ? 7.0f : 127.0f;
        rt_matrix w;
        assert_int_equal(rt_matrix_init(&w, dt ? RT_BF4_B : RT_BF8_B, 16, 2, &e), 0);
        float dense[16 * 2];
        for (int r = 0; r < 16; r++) {
            dense[r * 2] = (r == 15 ? top : 1.0f) * unit;
            dense[r * 2 + 1] = -(r == 15 ? top : 1.0f) * unit;
        }
        rt_matrix_set_rows_f32(&w, 0, 16, dense);
        float xs = dt ? 0x1p-121f : 0x1p-117f; /* x * scale = 1.25 and 1.5 * 2^-126 */
        float x[2] = {1.25f * xs, 1.5f * xs}, y[16], row[2];
        for (int scanned = 0; scanned < 2; scanned++) { /* checked folds, then unchecked */
            if (scanned)
                rt_matrix_scan_exponents(&w);
            long before = atomic_load(&rt_bfp_pairs_exact_tasks);
            rt_linear_bfp_pairs_pool(NULL, x, 1, &w, y);
            assert_int_equal(atomic_load(&rt_bfp_pairs_exact_tasks), before); /* the GEMV itself flushed */
            for (int r = 0; r < 15; r++) {
                rt_matrix_get_row_f32(&w, r, row);
                float want = rt_bfpdot_ref(x, row, 2);
                assert_true(want == 0.0f && signbit(want));
                assert_memory_equal(&y[r], &want, sizeof want);
            }
        }
        rt_matrix_free(&w);
    }
}

static void test_block_float_prefill(void **state)
{
    (void)state;
    if (!rt_bf16dot_enabled())
        skip();
    rt_pool *pools[2];
    pools_open(pools);
    static const int ms[] = {33, 34, 39, 64}, ns[] = {1, 16, 17, 63, 64, 65, 130}, ks[] = {1, 2, 31, 33, 64, 101};
    for (int dt = 0; dt < 2; dt++)
        for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
            for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
                check_bfp(pools[(a + b) % 2], dt ? RT_BF4_B : RT_BF8_B, ms[a], ns[b],
                          ks[(a + b + (size_t)dt) % (sizeof ks / sizeof ks[0])]);
    check_bfp(pools[1], RT_BF8_B, 128, 200, 1024); /* prefill-sized: many tasks */
    check_bfp(pools[1], RT_BF4_B, 100, 96, 3072);
    /* rows past a panel's column block (2048 columns): 3 blocks, an odd k,
     * a partial row block and a row of x past the tiles of 4 */
    check_bfp(pools[1], RT_BF8_B, 37, 40, 4801);
    check_bfp(pools[0], RT_BF4_B, 34, 17, 6000);
    pools_close(pools);
}

/* rt_bfpdot_ref's order is a dot product too (same bound as above, with a
 * single lane of k terms). */
static void test_bfp_reference_is_a_dot(void **state)
{
    (void)state;
    enum { K = 777 };
    float x[K], w[K];
    for (int t = 0; t < 50; t++) {
        fill_x(x, K, 0);
        double exact = 0, mag = 0;
        for (int c = 0; c < K; c++) {
            w[c] = (float)((int)(uni() * 255) - 127) * 0x1p-9f; /* a bf8_b weight */
            exact += (double)x[c] * w[c];
            mag += fabs((double)x[c] * w[c]);
        }
        float got = rt_bfpdot_ref(x, w, K);
        if (fabs((double)got - exact) > (double)K * ldexp(1.0, -24) * mag)
            fail_msg("block-float reference %.9g vs exact %.9g", got, exact);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_is_a_dot),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_bfp_reference_is_a_dot),
        cmocka_unit_test(test_block_float_prefill),
        cmocka_unit_test(test_block_float_decode),
        cmocka_unit_test(test_block_float_decode_flushes),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
