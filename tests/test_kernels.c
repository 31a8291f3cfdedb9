/* kernels: every kernel against a plain double-precision implementation
 * written here, on random inputs of awkward sizes, on every ISA the CPU has
 * (the SIMD builds must also be bit-identical to the scalar one); RoPE tables
 * against HF's own (tests/fixtures/<arch>/reference*.safetensors).
 *
 * Tolerances.  An f32 dot product of K terms with any summation order is
 * within K * 2^-24 * sum|a_i b_i| of the exact value (plus the final
 * rounding); the canonical order is far better (depth K/16 + 4).  With
 * K <= 300 here, 2e-5 * sum|a b| bounds every f32 path with margin and would
 * still catch a single wrong weight or a dropped term (which move results by
 * ~1e-2 of that scale).  Pointwise functions (exp, erf, cos...) in f32 are
 * within a few ulp: 1e-6 relative.  The double references use the same
 * (exactly representable) dequantised weights and the same f32 rounding of
 * the RoPE angle that HF applies, so these bounds measure kernel arithmetic
 * only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dtype.h"
#include "kernels.h"

/* ---------------- helpers ---------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rnd_unit(void) /* uniform [-1, 1) */
{
    return (float)(rnd() % 2000000) / 1000000.0f - 1.0f;
}
static float *rnd_vec(size_t n, float scale)
{
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        v[i] = rnd_unit() * scale;
    return v;
}

/* The ISAs to exercise: scalar and whatever this CPU has. */
static int isa_list(rt_isa out[3])
{
    int n = 0;
    for (int i = RT_ISA_SCALAR; i <= (int)rt_cpu_best_isa(); i++)
        out[n++] = (rt_isa)i;
    return n;
}

/* Same value, or both NaN (bit-identity modulo the sign of zero). */
static int same(float a, float b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* Minimal safetensors reader (test-only): 8-byte LE header length, JSON
 * header, raw data.  Reads F32 tensor `name`; returns its element count or
 * -1.  Also returns the __metadata__ value of `meta_key` if asked. */
static int st_read_f32(const char *path, const char *name, float **out, const char *meta_key, char *meta_val,
                       size_t meta_cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint64_t hl = 0;
    int n = -1;
    char *h = NULL;
    if (fread(&hl, 8, 1, f) != 1 || hl > (1u << 24))
        goto done;
    h = malloc(hl + 1);
    if (fread(h, 1, hl, f) != hl)
        goto done;
    h[hl] = 0;
    char key[128];
    snprintf(key, sizeof key, "\"%s\"", name);
    char *p = strstr(h, key);
    unsigned long long a, b;
    if (!p || !(p = strstr(p, "\"data_offsets\"")) || !(p = strchr(p, '[')) ||
        sscanf(p, "[%llu ,%llu]", &a, &b) != 2 || b < a)
        goto done;
    if (meta_key) {
        snprintf(key, sizeof key, "\"%s\"", meta_key);
        char *m = strstr(h, key);
        if (!m || !(m = strchr(m + strlen(key), '"')))
            goto done;
        size_t len = strcspn(m + 1, "\"");
        if (len >= meta_cap)
            goto done;
        memcpy(meta_val, m + 1, len);
        meta_val[len] = 0;
    }
    *out = malloc(b - a);
    if (fseek(f, (long)(8 + hl + a), SEEK_SET) != 0 || fread(*out, 1, b - a, f) != b - a) {
        free(*out);
        goto done;
    }
    n = (int)((b - a) / 4);
done:
    free(h);
    fclose(f);
    return n;
}

/* ---------------- CPU selection ---------------- */

static void test_isa_selection(void **state)
{
    (void)state;
    rt_isa out;
    assert_int_equal(rt_isa_from_env(NULL, RT_ISA_AVX512, &out), 0);
    assert_int_equal(out, RT_ISA_AVX512);
    assert_int_equal(rt_isa_from_env("", RT_ISA_AVX2, &out), 0);
    assert_int_equal(out, RT_ISA_AVX2);
    assert_int_equal(rt_isa_from_env("auto", RT_ISA_AVX2, &out), 0);
    assert_int_equal(out, RT_ISA_AVX2);
    assert_int_equal(rt_isa_from_env("scalar", RT_ISA_AVX512, &out), 0);
    assert_int_equal(out, RT_ISA_SCALAR);
    assert_int_equal(rt_isa_from_env("avx2", RT_ISA_AVX512, &out), 0);
    assert_int_equal(out, RT_ISA_AVX2);
    /* never above what the CPU has */
    assert_int_equal(rt_isa_from_env("avx512", RT_ISA_AVX2, &out), 0);
    assert_int_equal(out, RT_ISA_AVX2);
    assert_int_equal(rt_isa_from_env("sse9", RT_ISA_AVX2, &out), -1);
    assert_int_equal(out, RT_ISA_AVX2);
    assert_string_equal(rt_isa_name(RT_ISA_AVX512), "avx512");
    assert_true(rt_kernels_isa() <= rt_cpu_best_isa());
    mgc_error e;
    const char *env = getenv("MGC_KERNELS");
    int bad = env && rt_isa_from_env(env, RT_ISA_AVX512, &out) != 0;
    assert_int_equal(rt_kernels_init(1, &e), bad ? -1 : 0);
}

/* ---------------- primitives ---------------- */

static void test_dot_axpy(void **state)
{
    (void)state;
    rt_isa isas[3];
    int ni = isa_list(isas);
    const int sizes[] = {0, 1, 5, 16, 24, 53, 128, 301};
    for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        float *a = rnd_vec((size_t)n + 1, 1), *b = rnd_vec((size_t)n + 1, 1);
        uint16_t *bh = malloc(((size_t)n + 1) * 2);
        rt_f32_to_bf16_row(b, bh, (size_t)n);
        double ref = 0, refh = 0, mag = 0;
        for (int i = 0; i < n; i++) {
            ref += (double)a[i] * b[i];
            refh += (double)a[i] * rt_bf16_to_f32(bh[i]);
            mag += fabs((double)a[i] * b[i]);
        }
        float d0 = rt_dot_f32(RT_ISA_SCALAR, a, b, n), h0 = rt_dot_bf16(RT_ISA_SCALAR, a, bh, n);
        assert_true(fabs(d0 - ref) <= 2e-5 * mag + 1e-30);
        assert_true(fabs(h0 - refh) <= 2e-5 * mag * 1.01 + 1e-30);
        float *y0 = rnd_vec((size_t)n + 1, 1);
        for (int t = 0; t < ni; t++) {
            assert_true(same(rt_dot_f32(isas[t], a, b, n), d0));
            assert_true(same(rt_dot_bf16(isas[t], a, bh, n), h0));
            float *y = malloc(((size_t)n + 1) * sizeof(float)), *yh = malloc(((size_t)n + 1) * sizeof(float));
            memcpy(y, y0, ((size_t)n + 1) * sizeof(float));
            memcpy(yh, y0, ((size_t)n + 1) * sizeof(float));
            rt_axpy_f32(isas[t], 0.75f, a, y, n);
            rt_axpy_bf16(isas[t], -1.25f, bh, yh, n);
            for (int i = 0; i < n; i++) {
                assert_true(y[i] == fmaf(0.75f, a[i], y0[i]));
                assert_true(yh[i] == fmaf(-1.25f, rt_bf16_to_f32(bh[i]), y0[i]));
            }
            assert_true(y[n] == y0[n] && yh[n] == y0[n]); /* nothing past n */
            free(y);
            free(yh);
        }
        free(a);
        free(b);
        free(bh);
        free(y0);
    }
}

/* rt_silu_mul on every ISA gives the scalar path's bits (memcmp: the sign
 * of a zero too), alone, times u and with the bf16 roundings, over more
 * than one of its 256-element chunks with a vector tail, in place too. */
static void test_silu_isas(void **state)
{
    (void)state;
    rt_isa isas[3];
    int ni = isa_list(isas);
    const size_t n = 613;
    float *g = rnd_vec(n, 12), *u = rnd_vec(n, 4), *y0 = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 88.0f, -88.0f, 100.0f, -100.0f, -104.0f, INFINITY,
                             -INFINITY, NAN, 3.0e38f, -3.0e38f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        g[i * 37] = special[i];
    for (int mode = 0; mode < 3; mode++) {
        const float *um = mode ? u : NULL;
        rt_silu_mul_isa(RT_ISA_SCALAR, g, um, y0, n, mode == 2);
        for (size_t i = 0; i < n; i++) { /* the scalar path is the formula */
            float s = g[i] / (1.0f + expf(-g[i]));
            float want = mode == 0 ? s : mode == 1 ? s * u[i] : rt_bf16_round(rt_bf16_round(s) * u[i]);
            if (!(fabsf(y0[i] - want) <= 4e-7f * fabsf(want) || (isnan(want) && isnan(y0[i])) || y0[i] == want))
                fail_msg("silu mode %d x %a: %a, expected about %a", mode, g[i], y0[i], want);
        }
        for (int t = 0; t < ni; t++) {
            rt_silu_mul_isa(isas[t], g, um, y, n, mode == 2);
            for (size_t i = 0; i < n; i++)
                if (memcmp(&y[i], &y0[i], 4) != 0 && !(isnan(y[i]) && isnan(y0[i])))
                    fail_msg("silu mode %d isa %d x %a: %a, scalar %a", mode, (int)isas[t], g[i], y[i], y0[i]);
            memcpy(y, g, n * sizeof(float)); /* in place */
            rt_silu_mul_isa(isas[t], y, um, y, n, mode == 2);
            for (size_t i = 0; i < n; i++)
                assert_true(memcmp(&y[i], &y0[i], 4) == 0 || (isnan(y[i]) && isnan(y0[i])));
        }
    }
    free(g);
    free(u);
    free(y0);
    free(y);
}

static void test_exp(void **state)
{
    (void)state;
    rt_isa isas[3];
    int ni = isa_list(isas);
    const size_t n = 20000;
    float *x = malloc(n * sizeof(float)), *y0 = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(rnd() % 20000000) / 20000000.0f * 200.0f - 110.0f; /* [-110, 90) */
    const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 88.72f, 88.73f, 89.5f, -87.3f, -100.0f, -103.9f, -104.5f,
                             INFINITY, -INFINITY, NAN, 1e-8f, -1e-8f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        x[i] = special[i];
    rt_exp(RT_ISA_SCALAR, x, y0, n);
    for (size_t i = 0; i < n; i++) {
        double r = exp((double)x[i]);
        if (isnan(x[i])) {
            assert_true(isnan(y0[i]));
            continue;
        }
        if (r > 3.4028234663852886e38) {
            assert_true(isinf(y0[i]) && y0[i] > 0);
            continue;
        }
        /* ~2 ulp for normal results; subnormal results are quantised to
         * 2^-149 (plus one extra rounding from the split scaling) */
        if (!(fabs(y0[i] - r) <= 2.5e-7 * r + 1.5 * 1.401298464324817e-45))
            fail_msg("exp(%.9g) = %.9g, double %.9g", x[i], y0[i], r);
    }
    assert_true(y0[0] == 1.0f && y0[1] == 1.0f);
    for (int t = 0; t < ni; t++) {
        rt_exp(isas[t], x, y, n - 3); /* odd length: vector tails */
        for (size_t i = 0; i < n - 3; i++)
            assert_true(same(y[i], y0[i]));
    }
    free(x);
    free(y0);
    free(y);
}

/* ---------------- linear ---------------- */

static void check_linear(rt_dtype dt, int n, int k, int m)
{
    rt_isa isas[3];
    int ni = isa_list(isas);
    float *wsrc = rnd_vec((size_t)n * k, 1.0f);
    /* spread magnitudes so block floats flush and round for real */
    for (int i = 0; i < n * k; i += 7)
        wsrc[i] *= 40.0f;
    float *x = rnd_vec((size_t)m * k, 2.0f);
    rt_matrix w;
    assert_int_equal(rt_matrix_init(&w, dt, n, k, NULL), 0);
    rt_matrix_set_rows_f32(&w, 0, n, wsrc);
    /* reference in double on the exactly dequantised weights */
    float *wd = malloc((size_t)n * k * sizeof(float));
    for (int r = 0; r < n; r++)
        rt_matrix_get_row_f32(&w, r, wd + (size_t)r * k);
    size_t sc = rt_linear_scratch_floats(&w, m);
    assert_true(sc == 0 || (dt != RT_F32 && m > RT_GEMV_MAX_M));
    float *scratch = sc ? malloc(sc * sizeof(float)) : NULL;
    float *y0 = malloc((size_t)m * n * sizeof(float)), *y = malloc((size_t)m * n * sizeof(float));
    rt_linear_isa(RT_ISA_SCALAR, x, m, &w, y0, scratch);
    for (int i = 0; i < m; i++)
        for (int r = 0; r < n; r++) {
            double ref = 0, mag = 0;
            for (int c = 0; c < k; c++) {
                ref += (double)x[i * k + c] * wd[r * k + c];
                mag += fabs((double)x[i * k + c] * wd[r * k + c]);
            }
            double err = fabs(y0[i * n + r] - ref);
            if (!(err <= 2e-5 * mag + 1e-30))
                fail_msg("%s n=%d k=%d m=%d: y[%d][%d] = %.9g, double %.9g", rt_dtype_name(dt), n, k, m, i, r,
                         y0[i * n + r], ref);
        }
    for (int t = 0; t < ni; t++) {
        memset(y, 0xff, (size_t)m * n * sizeof(float));
        rt_linear_isa(isas[t], x, m, &w, y, scratch);
        for (int i = 0; i < m * n; i++)
            if (!same(y[i], y0[i]))
                fail_msg("%s n=%d k=%d m=%d: %s y[%d] = %.9g, scalar %.9g", rt_dtype_name(dt), n, k, m,
                         rt_isa_name(isas[t]), i, y[i], y0[i]);
    }
    /* the plain entry point uses the process-wide choice */
    rt_linear(x, m, &w, y, scratch);
    for (int i = 0; i < m * n; i++)
        assert_true(same(y[i], y0[i]));
    /* a batch through the GEMV gives every row the bits it gets alone */
    if (m > 1 && m <= RT_GEMV_MAX_M)
        for (int i = 0; i < m; i++) {
            rt_linear(x + (size_t)i * k, 1, &w, y, NULL);
            for (int r = 0; r < n; r++)
                if (!same(y[r], y0[(size_t)i * n + r]))
                    fail_msg("%s n=%d k=%d m=%d: row %d alone differs at %d", rt_dtype_name(dt), n, k, m, i, r);
        }
    /* on worker pools of 1-3 threads: the same bits (one panel of scratch
     * per thread) */
    for (int th = 1; th <= 3; th++) {
        mgc_error e;
        rt_pool *pool = rt_pool_create(th, &e);
        assert_non_null(pool);
        assert_int_equal(rt_pool_threads(pool), th);
        float *ps = sc ? malloc(sc * (size_t)th * sizeof(float)) : NULL;
        memset(y, 0xff, (size_t)m * n * sizeof(float));
        rt_linear_pool(pool, x, m, &w, y, ps);
        for (int i = 0; i < m * n; i++)
            if (!same(y[i], y0[i]))
                fail_msg("%s n=%d k=%d m=%d: pool of %d: y[%d] = %.9g, scalar %.9g", rt_dtype_name(dt), n, k, m, th,
                         i, y[i], y0[i]);
        free(ps);
        rt_pool_free(pool);
    }
    rt_matrix_free(&w);
    free(wsrc);
    free(wd);
    free(x);
    free(scratch);
    free(y0);
    free(y);
}

/* rt_pool_run: every task exactly once, on a thread index in range, for
 * pools of 1..4 threads and task counts around the thread count; a NULL
 * pool runs on the caller. */
typedef struct pool_probe {
    _Atomic int *count;
    int threads, bad_thread;
} pool_probe;

static void probe_task(void *arg, int task, int thread)
{
    pool_probe *p = arg;
    atomic_fetch_add(&p->count[task], 1);
    if (thread < 0 || thread >= p->threads)
        p->bad_thread = 1;
}

static void test_pool_runs_every_task_once(void **state)
{
    (void)state;
    const int ntasks[] = {0, 1, 2, 3, 7, 64, 1000};
    for (int th = 0; th <= 4; th++) {
        mgc_error e;
        rt_pool *pool = th ? rt_pool_create(th, &e) : NULL;
        assert_true(!th || pool);
        assert_int_equal(rt_pool_threads(pool), th ? th : 1);
        for (int rep = 0; rep < 20; rep++)
            for (unsigned i = 0; i < sizeof ntasks / sizeof ntasks[0]; i++) {
                int n = ntasks[i];
                _Atomic int *count = calloc((size_t)n + 1, sizeof *count);
                pool_probe pr = {count, th ? th : 1, 0};
                rt_pool_run(pool, n, probe_task, &pr);
                for (int t = 0; t < n; t++)
                    assert_int_equal(atomic_load(&count[t]), 1);
                assert_int_equal(pr.bad_thread, 0);
                free(count);
            }
        rt_pool_free(pool);
    }
}

static void test_linear_all_dtypes(void **state)
{
    (void)state;
    const rt_dtype dts[4] = {RT_F32, RT_BF16, RT_BF8_B, RT_BF4_B};
    /* n=37: 2 row blocks + 5 rows; n=77: 4 + 1 blocks (the 4-block path) and
     * 9 x 8 rows + 5; n=200: 8 + 4 + a half block (the 8-block path of one or
     * two users); k=53: 3 chunks of 16 + 5, odd (bf4_b pairs); k=300. */
    const int shapes[][2] = {{37, 53}, {77, 53}, {16, 1}, {5, 300}, {64, 32}, {200, 53}};
    /* GEMV groups (AVX-512: 16, 8, 4 or fewer) and their tails; > 32: sgemm */
    const int ms[] = {1, 2, 3, 4, 5, 8, 13, 16, 17, 29, 32, 33, 45};
    for (int d = 0; d < 4; d++)
        for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (unsigned mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
                check_linear(dts[d], shapes[s][0], shapes[s][1], ms[mi]);
}

/* A panel smaller than n: with k = 4096 the sgemm path dequantises 128
 * rows at a time, so n = 300 takes three panels (the last partial). */
static void test_linear_panels(void **state)
{
    (void)state;
    check_linear(RT_BF8_B, 300, 4096, RT_GEMV_MAX_M + 3);
    check_linear(RT_BF16, 300, 4096, RT_GEMV_MAX_M + 2);
    check_linear(RT_BF4_B, 150, 4096, RT_GEMV_MAX_M + 1);
}

static void test_linear_wrapped_shard(void **state)
{
    (void)state;
    /* a row-parallel shard: columns 16..16+40 of a [29][97] bf16 matrix */
    const int N = 29, K = 97, c0 = 16, kk = 40;
    float *full = rnd_vec((size_t)N * K, 1);
    uint16_t *h = malloc((size_t)N * K * 2);
    rt_f32_to_bf16_row(full, h, (size_t)N * K);
    rt_matrix w, own;
    assert_int_equal(rt_matrix_wrap(&w, RT_BF16, N, kk, K, h + c0, NULL), 0);
    assert_int_equal(rt_matrix_init(&own, RT_BF16, N, kk, NULL), 0);
    float *sub = malloc((size_t)N * kk * sizeof(float));
    for (int r = 0; r < N; r++)
        for (int c = 0; c < kk; c++)
            sub[r * kk + c] = full[r * K + c0 + c];
    rt_matrix_set_rows_f32(&own, 0, N, sub);
    float *x = rnd_vec((size_t)40 * kk, 1), y1[40 * 29], y2[40 * 29];
    rt_isa isas[3];
    int ni = isa_list(isas);
    for (int m = 1; m <= 40; m += m == 1 ? 7 : 32) /* 1, 8: GEMV; 40: sgemm */
        for (int t = 0; t < ni; t++) {
            float *scr = malloc((rt_linear_scratch_floats(&w, m) + 1) * sizeof(float));
            rt_linear_isa(isas[t], x, m, &w, y1, scr);
            rt_linear_isa(isas[t], x, m, &own, y2, scr);
            for (int i = 0; i < m * N; i++)
                assert_true(y1[i] == y2[i]);
            free(scr);
        }
    float row[40];
    rt_matrix_get_row_f32(&w, 3, row);
    for (int c = 0; c < kk; c++)
        assert_true(row[c] == rt_bf16_round(full[3 * K + c0 + c]));
    mgc_error e;
    assert_int_equal(rt_matrix_wrap(&w, RT_BF8_B, N, kk, K, h, &e), -1);
    assert_int_equal(rt_matrix_wrap(&w, RT_BF16, N, kk, kk - 1, h, &e), -1);
    rt_matrix_free(&w); /* does not free caller memory */
    rt_matrix_free(&own);
    free(full);
    free(h);
    free(sub);
    free(x);
}

static void test_linear_nonfinite_bfp(void **state)
{
    (void)state;
    /* A bf8_b weight with an Inf: rt_linear must follow IEEE on the
     * decoded weights (the Inf output becomes +-Inf, its block neighbours
     * stay finite), on every ISA and both paths. */
    const int N = 32, K = 20;
    float *src = rnd_vec((size_t)N * K, 1);
    src[3 * K + 7] = INFINITY; /* row 3, column 7 */
    rt_matrix w;
    assert_int_equal(rt_matrix_init(&w, RT_BF8_B, N, K, NULL), 0);
    rt_matrix_set_rows_f32(&w, 0, N, src);
    assert_int_equal(w.nonfinite, 1);
    float *x = rnd_vec((size_t)40 * K, 1);
    for (int i = 0; i < 40; i++)
        x[i * K + 7] = 0.5f + (float)i; /* positive: row 3 -> +Inf */
    float y[40 * 32];
    rt_isa isas[3];
    int ni = isa_list(isas);
    float *scr = malloc(rt_linear_scratch_floats(&w, 40) * sizeof(float));
    for (int m = 1; m <= 40; m += m == 1 ? 5 : 34) /* 1, 6: GEMV; 40: sgemm */
        for (int t = 0; t < ni; t++) {
            rt_linear_isa(isas[t], x, m, &w, y, scr);
            for (int i = 0; i < m; i++)
                for (int r = 0; r < N; r++) {
                    /* row 3 meets the Inf; column 7 of rows 0..15 was
                     * flushed to 0 (same block), so those stay finite */
                    if (r == 3)
                        assert_true(isinf(y[i * N + r]) && y[i * N + r] > 0);
                    else
                        assert_true(isfinite(y[i * N + r]));
                }
        }
    free(scr);
    free(src);
    free(x);
    rt_matrix_free(&w);
}

/* Weights near the bottom of the f32 range: block exponents below W, so
 * the dequantising scale 2^(e-127-(W-1)) is a subnormal power of two (a
 * separate branch in the SIMD panel decoder). */
static void test_linear_tiny_exponents(void **state)
{
    (void)state;
    const int N = 40, K = 37;
    /* a fixed draw (independent of the tests before), checked below to hold
     * exponents under W */
    rng_state = 0x42ull;
    float *src = rnd_vec((size_t)N * K, 1);
    for (int i = 0; i < N * K; i++)
        src[i] = ldexpf(src[i], -122 - i % 5); /* exponent fields 0..5 */
    float *x = rnd_vec((size_t)40 * K, 1);
    for (int i = 0; i < 40 * K; i++)
        x[i] = ldexpf(x[i], 100);
    rt_isa isas[3];
    int ni = isa_list(isas);
    for (int d = 0; d < 2; d++) {
        rt_matrix w;
        assert_int_equal(rt_matrix_init(&w, d ? RT_BF4_B : RT_BF8_B, N, K, NULL), 0);
        rt_matrix_set_rows_f32(&w, 0, N, src);
        int small = 0;
        for (int i = 0; i < 3 * K; i++)
            small += w.exps[i] < (d ? 3 : 7) && w.exps[i] > 0;
        assert_true(small > 0);
        float *wd = malloc((size_t)N * K * sizeof(float)), y0[40 * 40], y[40 * 40];
        for (int r = 0; r < N; r++)
            rt_matrix_get_row_f32(&w, r, wd + (size_t)r * K);
        float *scr = malloc(rt_linear_scratch_floats(&w, 40) * sizeof(float));
        for (int m = 2; m <= 40; m += m == 2 ? 4 : 34) { /* GEMV (folded scale) and panels */
            rt_linear_isa(RT_ISA_SCALAR, x, m, &w, y0, scr);
            for (int i = 0; i < m; i++)
                for (int r = 0; r < N; r++) {
                    double ref = 0, mag = 0;
                    for (int c = 0; c < K; c++) {
                        ref += (double)x[i * K + c] * wd[r * K + c];
                        mag += fabs((double)x[i * K + c] * wd[r * K + c]);
                    }
                    assert_true(fabs(y0[i * N + r] - ref) <= 2e-5 * mag + 1e-30);
                }
            for (int t = 0; t < ni; t++) {
                rt_linear_isa(isas[t], x, m, &w, y, scr);
                for (int i = 0; i < m * N; i++)
                    assert_true(same(y[i], y0[i]));
            }
        }
        free(wd);
        free(scr);
        rt_matrix_free(&w);
    }
    free(src);
    free(x);
}

/* ---------------- embedding ---------------- */

static void test_embedding(void **state)
{
    (void)state;
    const int V = 45, H = 24;
    float *tab = rnd_vec((size_t)V * H, 3);
    const int32_t tok[5] = {0, 44, 17, 17, 3};
    rt_dtype dts[3] = {RT_F32, RT_BF16, RT_BF8_B};
    for (int d = 0; d < 3; d++) {
        rt_matrix m;
        assert_int_equal(rt_matrix_init(&m, dts[d], V, H, NULL), 0);
        rt_matrix_set_rows_f32(&m, 0, V, tab);
        float out[5 * 24], row[24];
        rt_embedding(tok, 5, &m, out);
        for (int t = 0; t < 5; t++) {
            rt_matrix_get_row_f32(&m, tok[t], row);
            for (int c = 0; c < H; c++) {
                assert_true(out[t * H + c] == row[c]);
                if (dts[d] == RT_F32)
                    assert_true(row[c] == tab[tok[t] * H + c]);
                if (dts[d] == RT_BF16)
                    assert_true(row[c] == rt_bf16_round(tab[tok[t] * H + c]));
            }
        }
        rt_matrix_free(&m);
    }
    free(tab);
}

/* ---------------- rms norm ---------------- */

static void test_rms_norm(void **state)
{
    (void)state;
    rt_isa isas[3];
    int ni = isa_list(isas);
    const int dims[] = {24, 53, 256};
    for (unsigned di = 0; di < 3; di++) {
        int dim = dims[di], rows = 7;
        float *x = rnd_vec((size_t)rows * dim, 5), *w = rnd_vec((size_t)dim, 2);
        x[3] = 0; /* an all-zero row: eps keeps it finite */
        for (int i = 0; i < dim; i++)
            x[5 * dim + i] = 0;
        float *y0 = malloc((size_t)rows * dim * sizeof(float)), *y = malloc((size_t)rows * dim * sizeof(float));
        float *yb = malloc((size_t)rows * dim * sizeof(float));
        const float eps = 1e-5f;
        rt_rms_norm_isa(RT_ISA_SCALAR, x, rows, dim, w, eps, 0, y0);
        rt_rms_norm_isa(RT_ISA_SCALAR, x, rows, dim, w, eps, 1, yb);
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < dim; i++)
                ss += (double)x[r * dim + i] * x[r * dim + i];
            double inv = 1.0 / sqrt(ss / dim + (double)eps);
            for (int i = 0; i < dim; i++) {
                double ref = (double)w[i] * (x[r * dim + i] * inv);
                assert_true(fabs(y0[r * dim + i] - ref) <= 1e-5 * fabs(ref) + 1e-30);
                /* bf16 activations: representable, within two bf16 roundings */
                float b = yb[r * dim + i];
                assert_true(b == rt_bf16_round(b));
                assert_true(fabs(b - ref) <= (1.0 / 128) * fabs(ref) + 1e-30);
                /* the bf16 path rounds the normalised value before the weight */
                float nf = rt_bf16_round(x[r * dim + i] * (float)(1.0f / sqrtf(rt_dot_f32(RT_ISA_SCALAR,
                                                                                          x + r * dim, x + r * dim,
                                                                                          dim) /
                                                                                   (float)dim +
                                                                               eps)));
                assert_true(b == rt_bf16_round(w[i] * nf));
            }
        }
        for (int t = 0; t < ni; t++) {
            rt_rms_norm_isa(isas[t], x, rows, dim, w, eps, 0, y);
            for (int i = 0; i < rows * dim; i++)
                assert_true(y[i] == y0[i]);
            rt_rms_norm_isa(isas[t], x, rows, dim, w, eps, 1, y);
            assert_memory_equal(y, yb, (size_t)rows * dim * sizeof(float));
        }
        /* in place */
        memcpy(y, x, (size_t)rows * dim * sizeof(float));
        rt_rms_norm(y, rows, dim, w, eps, 0, y);
        for (int i = 0; i < rows * dim; i++)
            assert_true(y[i] == y0[i]);
        free(x);
        free(w);
        free(y0);
        free(y);
        free(yb);
    }
}

/* ---------------- RoPE ---------------- */

static void test_rope_inv_freq_default(void **state)
{
    (void)state;
    rt_rope_cfg cfg = {.type = RT_ROPE_DEFAULT, .rotary_dim = 24, .theta = 10000.0};
    float inv[12], sc = 0;
    rt_rope_inv_freq(&cfg, 100, inv, &sc);
    assert_true(sc == 1.0f);
    for (int i = 0; i < 12; i++) {
        double ref = 1.0 / pow(10000.0, (2.0 * i) / 24.0);
        assert_true(fabs(inv[i] - ref) <= 1e-6 * ref);
    }
    assert_true(inv[0] == 1.0f);
}

/* Llama-3.2 fixture: head_dim 16, theta 500000, llama3 scaling factor 32,
 * low 1, high 4, original 2048 (tests/fixtures/llama32/config.json). */
static void test_rope_inv_freq_llama3_fixture(void **state)
{
    (void)state;
    float *ref = NULL;
    int n = st_read_f32("tests/fixtures/llama32/reference.safetensors", "rope_inv_freq", &ref, NULL, NULL, 0);
    assert_int_equal(n, 8);
    rt_rope_cfg cfg = {.type = RT_ROPE_LLAMA3,
                       .rotary_dim = 16,
                       .theta = 500000.0,
                       .factor = 32.0,
                       .low_freq_factor = 1.0,
                       .high_freq_factor = 4.0,
                       .original_max = 2048};
    float inv[8], sc = 0;
    rt_rope_inv_freq(&cfg, 61, inv, &sc);
    assert_true(sc == 1.0f);
    for (int i = 0; i < 8; i++)
        if (inv[i] != ref[i])
            fail_msg("llama3 inv_freq[%d] = %.9g, HF %.9g", i, inv[i], ref[i]);
    /* bands (fixtures/README): i=0..2 kept, 3 smoothed, 4..7 divided by 32 */
    for (int i = 0; i < 8; i++) {
        double base = 1.0 / pow(500000.0, (2.0 * i) / 16.0);
        if (i <= 2)
            assert_true(fabs(inv[i] - base) <= 1e-6 * base);
        else if (i >= 4)
            assert_true(fabs(inv[i] - base / 32) <= 1e-6 * base / 32);
        else
            assert_true(inv[i] < base && inv[i] > base / 32);
    }
    free(ref);
}

/* Phi-3 fixture: head_dim 32, theta 10000, original 64, max 256, factors
 * from tests/fixtures/phi3/config.json. */
static const double phi3_short[16] = {1.1,    1.3659, 1.503,  1.614,  1.7108, 1.7983, 1.8791, 1.9546,
                                      2.0258, 2.0936, 2.1585, 2.2208, 2.2808, 2.3389, 2.3953, 2.45};
static const double phi3_long[16] = {1.07,   1.2081, 1.4428, 1.7754,  2.2336,  2.8614,  3.7226,  4.9089,
                                     6.5525, 8.8436, 12.058, 16.5968, 23.0471, 32.2717, 45.5452, 64.76};

static void test_rope_inv_freq_longrope_fixture(void **state)
{
    (void)state;
    rt_rope_cfg cfg = {.type = RT_ROPE_LONGROPE,
                       .rotary_dim = 32,
                       .theta = 10000.0,
                       .original_max = 64,
                       .max_position = 256,
                       .short_factor = phi3_short,
                       .long_factor = phi3_long};
    const char *files[2] = {"tests/fixtures/phi3/reference_short.safetensors",
                            "tests/fixtures/phi3/reference_long.safetensors"};
    const int seq_len[2] = {52, 104}; /* the references' T: 52 <= 64 < 104 */
    for (int f = 0; f < 2; f++) {
        float *ref = NULL;
        char meta[64];
        int n = st_read_f32(files[f], "rope_inv_freq", &ref, "rope_attention_scaling", meta, sizeof meta);
        assert_int_equal(n, 16);
        float inv[16], sc = 0;
        rt_rope_inv_freq(&cfg, seq_len[f], inv, &sc);
        for (int i = 0; i < 16; i++)
            if (inv[i] != ref[i])
                fail_msg("%s inv_freq[%d] = %.9g, HF %.9g", files[f], i, inv[i], ref[i]);
        /* HF multiplies cos/sin by float32(attention_scaling) */
        assert_true(sc == (float)strtod(meta, NULL));
        assert_true(fabs(sc - sqrt(1 + log(4.0) / log(64.0))) < 1e-7);
        free(ref);
    }
    /* the boundary: seq_len == original_max is still short */
    float a[16], b[16], sc;
    rt_rope_inv_freq(&cfg, 64, a, &sc);
    rt_rope_inv_freq(&cfg, 1, b, &sc);
    assert_memory_equal(a, b, sizeof a);
    rt_rope_inv_freq(&cfg, 65, b, &sc);
    assert_true(a[15] != b[15]);
    /* no attention scaling when max <= original */
    cfg.max_position = 64;
    rt_rope_inv_freq(&cfg, 10, a, &sc);
    assert_true(sc == 1.0f);
}

static void rope_ref(const float *x, double *out, int rows, int H, int hd, int rd, const int32_t *pos,
                     const float *inv, float scale)
{
    int half = rd / 2;
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < H; h++) {
            const float *v = x + ((size_t)r * H + h) * hd;
            double *o = out + ((size_t)r * H + h) * hd;
            for (int i = 0; i < hd; i++)
                o[i] = v[i];
            for (int i = 0; i < half; i++) {
                double a = (float)(inv[i] * (float)pos[r]); /* HF's f32 angle */
                double c = cos(a) * scale, s = sin(a) * scale;
                o[i] = v[i] * c - v[i + half] * s;
                o[i + half] = v[i + half] * c + v[i] * s;
            }
        }
}

static void test_rope_apply(void **state)
{
    (void)state;
    /* head_dim 24, 5 heads, 3 rows; full rotation and a partial one
     * (rotary_dim 16: dims 16..23 pass through). */
    const int rows = 3, H = 5, hd = 24;
    const int32_t pos[3] = {0, 7, 4093};
    for (int rd = 16; rd <= 24; rd += 8) {
        rt_rope_cfg cfg = {.type = RT_ROPE_DEFAULT, .rotary_dim = rd, .theta = 10000.0};
        float inv[12], sc;
        rt_rope_inv_freq(&cfg, 0, inv, &sc);
        const float scale = rd == 16 ? 1.1547005f : 1.0f;
        float *x = rnd_vec((size_t)rows * H * hd, 2), *y = malloc((size_t)rows * H * hd * sizeof(float));
        double *ref = malloc((size_t)rows * H * hd * sizeof(double));
        memcpy(y, x, (size_t)rows * H * hd * sizeof(float));
        rt_rope_apply(y, rows, H, hd, rd, pos, inv, scale, 0);
        rope_ref(x, ref, rows, H, hd, rd, pos, inv, scale);
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < hd; i++) {
                    size_t o = ((size_t)r * H + h) * hd + i;
                    if (i >= rd) {
                        assert_true(y[o] == x[o]);
                        continue;
                    }
                    int j = i < rd / 2 ? i + rd / 2 : i - rd / 2;
                    double mag = (fabs(x[o]) + fabs(x[((size_t)r * H + h) * hd + j])) * scale;
                    assert_true(fabs(y[o] - ref[o]) <= 1e-6 * mag + 1e-30);
                }
        /* position 0 is the identity (times the scale) */
        for (int i = 0; i < rd; i++)
            assert_true(y[i] == x[i] * scale);
        /* bf16 activations: representable, within a few bf16 roundings */
        memcpy(y, x, (size_t)rows * H * hd * sizeof(float));
        rt_round_bf16(y, (size_t)rows * H * hd);
        float *xb = malloc((size_t)rows * H * hd * sizeof(float));
        memcpy(xb, y, (size_t)rows * H * hd * sizeof(float));
        rt_rope_apply(y, rows, H, hd, rd, pos, inv, scale, 1);
        rope_ref(xb, ref, rows, H, hd, rd, pos, inv, scale);
        for (int r = 0; r < rows * H; r++)
            for (int i = 0; i < rd; i++) {
                size_t o = (size_t)r * hd + i;
                int j = i < rd / 2 ? i + rd / 2 : i - rd / 2;
                double mag = (fabs(xb[o]) + fabs(xb[(size_t)r * hd + j])) * scale;
                assert_true(y[o] == rt_bf16_round(y[o]));
                assert_true(fabs(y[o] - ref[o]) <= (4.0 / 256) * mag);
            }
        free(x);
        free(xb);
        free(y);
        free(ref);
    }
}

/* ---------------- attention ---------------- */

/* out[q][h] = softmax_j<=p(q)(scale * q.k_j) . v_j in double; k/v rows are
 * given per (pos, kv head) through a callback-free strided layout. */
static void attn_ref(const float *q, int ldq, const float *k, const float *v, int ldkv, int nq, int p0, int hq,
                     int hkv, int hd, double scale, double *out)
{
    int group = hq / hkv;
    double *s = malloc((size_t)(p0 + nq) * sizeof(double));
    for (int i = 0; i < nq; i++)
        for (int h = 0; h < hq; h++) {
            int kvh = h / group, seen = p0 + i + 1;
            const float *qi = q + (size_t)i * ldq + (size_t)h * hd;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < seen; j++) {
                double d = 0;
                for (int c = 0; c < hd; c++)
                    d += (double)qi[c] * k[(size_t)j * ldkv + (size_t)kvh * hd + c];
                s[j] = d * scale;
                if (s[j] > mx)
                    mx = s[j];
            }
            for (int j = 0; j < seen; j++)
                sum += (s[j] = exp(s[j] - mx));
            for (int c = 0; c < hd; c++) {
                double o = 0;
                for (int j = 0; j < seen; j++)
                    o += s[j] / sum * v[(size_t)j * ldkv + (size_t)kvh * hd + c];
                out[((size_t)i * hq + h) * hd + c] = o;
            }
        }
    free(s);
}

static void check_close_attn(const float *got, const double *ref, size_t n, double vmax)
{
    /* sum_j p_j = 1: the output error is (score error + softmax rounding)
     * times max|v|; scores are O(1) dots of <= 32 terms -> < 1e-6. */
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - ref[i]) <= 1e-5 * vmax))
            fail_msg("attention out[%zu] = %.9g, double %.9g", i, got[i], ref[i]);
}

static void test_attention_prefill(void **state)
{
    (void)state;
    /* 5 query heads over 1 kv head (hd 24), and 6 over 2 (hd 32); s = 13
     * and s = 150 (three query blocks, the last partial). */
    const int cfgs[][4] = {{13, 5, 1, 24}, {150, 6, 2, 32}, {1, 2, 2, 16}};
    for (int t = 0; t < 3; t++) {
        int s = cfgs[t][0], hq = cfgs[t][1], hkv = cfgs[t][2], hd = cfgs[t][3];
        float *q = rnd_vec((size_t)s * hq * hd, 1.5f), *k = rnd_vec((size_t)s * hkv * hd, 1.5f);
        float *v = rnd_vec((size_t)s * hkv * hd, 1.0f);
        float *out = malloc((size_t)s * hq * hd * sizeof(float));
        double *ref = malloc((size_t)s * hq * hd * sizeof(double));
        float *scr = malloc(rt_attention_prefill_scratch_floats(s) * sizeof(float));
        float scale = 1.0f / sqrtf((float)hd);
        rt_attention_prefill(q, k, v, s, hq, hkv, hd, scale, out, scr);
        attn_ref(q, hq * hd, k, v, hkv * hd, s, 0, hq, hkv, hd, scale, ref);
        check_close_attn(out, ref, (size_t)s * hq * hd, 1.0);
        /* causality: changing the last token's k/v leaves earlier rows alone */
        for (int c = 0; c < hkv * hd; c++)
            v[(size_t)(s - 1) * hkv * hd + c] += 3.0f;
        float *out2 = malloc((size_t)s * hq * hd * sizeof(float));
        rt_attention_prefill(q, k, v, s, hq, hkv, hd, scale, out2, scr);
        assert_memory_equal(out, out2, (size_t)(s - 1) * hq * hd * sizeof(float));
        free(q);
        free(k);
        free(v);
        free(out);
        free(out2);
        free(ref);
        free(scr);
    }
}

static void test_kv_cache_and_decode(void **state)
{
    (void)state;
    rt_isa isas[3];
    int ni = isa_list(isas);
    /* 5 query heads share the kv head; user 2's 71 positions span several
     * 16-position key blocks and a partial one */
    const int users = 3, hkv = 1, hq = 5, hd = 24, cap = 80;
    for (int dti = 0; dti < 2; dti++) {
        rt_dtype dt = dti ? RT_BF16 : RT_F32;
        rt_kv_cache c;
        assert_int_equal(rt_kv_cache_init(&c, dt, users, hkv, cap, hd, NULL), 0);
        assert_int_equal(c.bytes, (size_t)2 * users * hkv * cap * hd * (dti ? 2 : 4));
        /* user u has history length hl[u]; prefill it, then one decode step */
        const int hl[3] = {9, 1, 70};
        float *kh[3], *vh[3]; /* [cap][hkv][hd] host copies of what we wrote */
        for (int u = 0; u < users; u++) {
            kh[u] = rnd_vec((size_t)cap * hkv * hd, 1.5f);
            vh[u] = rnd_vec((size_t)cap * hkv * hd, 1.0f);
            /* fill in two chunks to exercise start > 0 */
            int first = hl[u] / 2;
            rt_cache_fill(&c, u, kh[u], vh[u], first, 0);
            rt_cache_fill(&c, u, kh[u] + (size_t)first * hkv * hd, vh[u] + (size_t)first * hkv * hd,
                          hl[u] - first, first);
        }
        /* decode batch: rows for users 2, 0, 1 at positions hl[u] */
        const int bu[3] = {2, 0, 1};
        int32_t pos[3], len[3];
        float *kn = rnd_vec((size_t)3 * hkv * hd, 1.5f), *vn = rnd_vec((size_t)3 * hkv * hd, 1.0f);
        for (int b = 0; b < 3; b++) {
            pos[b] = hl[bu[b]];
            len[b] = pos[b] + 1;
            memcpy(kh[bu[b]] + (size_t)pos[b] * hkv * hd, kn + (size_t)b * hkv * hd, (size_t)hkv * hd * sizeof(float));
            memcpy(vh[bu[b]] + (size_t)pos[b] * hkv * hd, vn + (size_t)b * hkv * hd, (size_t)hkv * hd * sizeof(float));
        }
        rt_cache_update(&c, 3, bu, kn, vn, pos);
        /* what the cache holds = host values (rounded to bf16 for a bf16 cache) */
        for (int u = 0; u < users; u++) {
            if (dti) {
                rt_round_bf16(kh[u], (size_t)cap * hkv * hd);
                rt_round_bf16(vh[u], (size_t)cap * hkv * hd);
            }
            for (int p = 0; p <= hl[u]; p++) {
                float kc[24], vc[24];
                rt_kv_cache_read(rt_kernels_isa(), &c, 0, u, 0, p, kc);
                rt_kv_cache_read(rt_kernels_isa(), &c, 1, u, 0, p, vc);
                for (int d = 0; d < hd; d++) {
                    assert_true(kc[d] == kh[u][(size_t)p * hd + d]);
                    assert_true(vc[d] == vh[u][(size_t)p * hd + d]);
                }
            }
        }
        float *q = rnd_vec((size_t)3 * hq * hd, 1.5f);
        float *out0 = malloc((size_t)3 * hq * hd * sizeof(float)), *out = malloc((size_t)3 * hq * hd * sizeof(float));
        float *scr = malloc(rt_attention_decode_scratch_floats(&c, hq) * sizeof(float));
        float scale = 1.0f / sqrtf((float)hd);
        rt_attention_decode_isa(RT_ISA_SCALAR, q, &c, 3, bu, len, hq, scale, out0, scr);
        for (int b = 0; b < 3; b++) {
            double ref[5 * 24];
            /* the decode query attends to positions 0..len-1 = a prefill row */
            attn_ref(q + (size_t)b * hq * hd, 0, kh[bu[b]], vh[bu[b]], hkv * hd, 1, len[b] - 1, hq, hkv, hd, scale,
                     ref);
            check_close_attn(out0 + (size_t)b * hq * hd, ref, (size_t)hq * hd, 1.0);
        }
        for (int t = 0; t < ni; t++) {
            for (int i = 0; i < 3 * hq * hd; i++)
                out[i] = NAN; /* every output written by this ISA's run */
            rt_attention_decode_isa(isas[t], q, &c, 3, bu, len, hq, scale, out, scr);
            for (int i = 0; i < 3 * hq * hd; i++)
                assert_true(out[i] == out0[i]);
        }
        /* a window of 37 (the first key past a block edge): every ISA the same bits */
        rt_attention_decode_ex(RT_ISA_SCALAR, q, &c, 3, bu, len, hq, scale, 37, 0.0f, out0, scr);
        for (int t = 0; t < ni; t++) {
            rt_attention_decode_ex(isas[t], q, &c, 3, bu, len, hq, scale, 37, 0.0f, out, scr);
            assert_memory_equal(out, out0, (size_t)3 * hq * hd * sizeof(float));
        }
        rt_attention_decode_isa(RT_ISA_SCALAR, q, &c, 3, bu, len, hq, scale, out0, scr);
        rt_attention_decode(q, &c, 3, bu, len, hq, scale, out, scr);
        assert_memory_equal(out, out0, (size_t)3 * hq * hd * sizeof(float));
        /* users == NULL means row b is user b */
        const int ident[3] = {0, 1, 2};
        int32_t len2[3] = {hl[0] + 1, hl[1] + 1, hl[2] + 1};
        float *o1 = malloc((size_t)3 * hq * hd * sizeof(float)), *o2 = malloc((size_t)3 * hq * hd * sizeof(float));
        rt_attention_decode(q, &c, 3, NULL, len2, hq, scale, o1, scr);
        rt_attention_decode(q, &c, 3, ident, len2, hq, scale, o2, scr);
        assert_memory_equal(o1, o2, (size_t)3 * hq * hd * sizeof(float));

        /* chunked prefill from the cache: user 2, queries at 12..30 after
         * the cache holds 0..30 -> matches the double reference */
        int start = 12, s = hl[2] + 1 - start;
        float *qp = rnd_vec((size_t)s * hq * hd, 1.5f), *op = malloc((size_t)s * hq * hd * sizeof(float));
        double *rp = malloc((size_t)s * hq * hd * sizeof(double));
        float *sp = malloc(rt_attention_prefill_cached_scratch_floats(&c, s, start) * sizeof(float));
        rt_attention_prefill_cached(qp, &c, 2, s, start, hq, scale, op, sp);
        attn_ref(qp, hq * hd, kh[2], vh[2], hkv * hd, s, start, hq, hkv, hd, scale, rp);
        check_close_attn(op, rp, (size_t)s * hq * hd, 1.0);
        free(qp);
        free(op);
        free(rp);
        free(sp);
        free(o1);
        free(o2);
        free(q);
        free(out0);
        free(out);
        free(scr);
        free(kn);
        free(vn);
        for (int u = 0; u < users; u++) {
            free(kh[u]);
            free(vh[u]);
        }
        rt_kv_cache_free(&c);
    }
    rt_kv_cache c;
    mgc_error e;
    assert_int_equal(rt_kv_cache_init(&c, RT_BF8_B, 1, 1, 1, 1, &e), -1);
    assert_non_null(strstr(e.msg, "bf8_b"));
    assert_int_equal(rt_kv_cache_init(&c, RT_F32, 1, 0, 1, 1, &e), -1);
}

/* Bytes resident (mincore) of the n bytes from p (page-aligned). */
static size_t resident_bytes(const void *p, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), np = (n + pg - 1) / pg, count = 0;
    unsigned char *vec = malloc(np);
    assert_int_equal(mincore((void *)p, n, vec), 0);
    for (size_t i = 0; i < np; i++)
        count += vec[i] & 1;
    free(vec);
    return count * pg;
}

/* The KV cache's position blocks: a row of every user and head at one
 * position lies within one block of the layer, the rows of a block are
 * contiguous per head and in order, every row has its own place, and a
 * short context makes only its blocks resident however long the cache is
 * (32 users of Qwen3-0.6B's shape: 62.5 MiB for each of k and v, 16 MiB a
 * block; 10 positions written for every user). */
static void test_cache_blocks(void **state)
{
    (void)state;
    const int users = 32, hkv = 8, cap = 1000, hd = 128; /* the last block is 232 positions */
    rt_kv_cache c;
    assert_int_equal(rt_kv_cache_init(&c, RT_BF16, users, hkv, cap, hd, NULL), 0);
    const size_t row = (size_t)hd * 2, block = (size_t)users * hkv * RT_KV_BLOCK * row, all = (size_t)cap * users * hkv * row;
    unsigned char *seen = calloc((size_t)cap * users * hkv, 1);
    for (int p = 0; p < cap; p++) {
        size_t lo = SIZE_MAX, hi = 0;
        for (int u = 0; u < users; u++)
            for (int h = 0; h < hkv; h++) {
                size_t off = rt_kv_cache_offset(&c, u, h, p);
                assert_int_equal(off % hd, 0);
                assert_true(off / hd < (size_t)cap * users * hkv);
                if (seen[off / hd]++)
                    fail_msg("user %d head %d position %d shares its row", u, h, p);
                if (p % RT_KV_BLOCK)
                    assert_int_equal(off, rt_kv_cache_offset(&c, u, h, p - 1) + hd);
                lo = off < lo ? off : lo;
                hi = off > hi ? off : hi;
            }
        assert_true((hi - lo) * 2 < block);
    }
    free(seen);
    assert_int_equal(resident_bytes(c.k, all), 0);
    float *k = rnd_vec((size_t)10 * hkv * hd, 1.0f), *v = rnd_vec((size_t)10 * hkv * hd, 1.0f);
    for (int u = 0; u < users; u++)
        rt_cache_fill(&c, u, k, v, 10, 0);
    /* the first block, rounded to the huge pages it may be on */
    size_t first = (block + ((size_t)2 << 20) - 1) / ((size_t)2 << 20) * ((size_t)2 << 20);
    if (resident_bytes(c.k, all) > first || resident_bytes(c.v, all) > first)
        fail_msg("10 positions of %d users made %zu and %zu bytes of k and v resident, more than their block (%zu)",
                 users, resident_bytes(c.k, all), resident_bytes(c.v, all), first);
    /* a bf16 row's 32-element chunks interleaved (kernels.h): word j of a
     * chunk holds elements j and j + 16; rt_kv_cache_read undoes it */
    const uint16_t *raw = (const uint16_t *)c.k + rt_kv_cache_offset(&c, 31, 7, 9);
    const float *src = k + (9 * hkv + 7) * hd;
    for (int d = 0; d < hd; d += 32)
        for (int j = 0; j < 16; j++) {
            assert_int_equal(raw[d + 2 * j], rt_f32_to_bf16(src[d + j]));
            assert_int_equal(raw[d + 2 * j + 1], rt_f32_to_bf16(src[d + 16 + j]));
        }
    float back[128];
    rt_kv_cache_read(rt_kernels_isa(), &c, 0, 31, 7, 9, back);
    for (int d = 0; d < hd; d++)
        assert_true(back[d] == rt_bf16_round(src[d]));
    free(k);
    free(v);
    rt_kv_cache_free(&c);
}

/* The bf16 cache's row order written and read back by every ISA (the
 * AVX-512 chunks and the element-by-element path), with head_dims that
 * end in whole chunks, a 16-element step and a tail: the raw row is the
 * order kernels.h states, and each ISA reads any ISA's row back exactly. */
static void test_cache_row_order(void **state)
{
    (void)state;
    rt_isa isas[3];
    int ni = isa_list(isas);
    const int hds[] = {128, 80, 40};
    for (size_t t = 0; t < sizeof hds / sizeof hds[0]; t++) {
        const int hd = hds[t], h32 = hd / 32 * 32;
        rt_kv_cache c;
        assert_int_equal(rt_kv_cache_init(&c, RT_BF16, 1, 1, 4, hd, NULL), 0);
        float *src = rnd_vec((size_t)ni * hd, 3.0f), back[128];
        for (int w = 0; w < ni; w++) {
            const float *row = src + (size_t)w * hd;
            rt_kv_cache_write(isas[w], &c, w % 2, 0, 0, w, row);
            const uint16_t *raw = (const uint16_t *)(w % 2 ? c.v : c.k) + rt_kv_cache_offset(&c, 0, 0, w);
            for (int d = 0; d < hd; d++) {
                int at = d >= h32 ? d : d / 32 * 32 + (d % 32 < 16 ? 2 * (d % 32) : 2 * (d % 32 - 16) + 1);
                if (raw[at] != rt_f32_to_bf16(row[d]))
                    fail_msg("hd %d, written by %s: element %d at %d is %#x, want %#x", hd, rt_isa_name(isas[w]), d,
                             at, raw[at], rt_f32_to_bf16(row[d]));
            }
            for (int r = 0; r < ni; r++) {
                rt_kv_cache_read(isas[r], &c, w % 2, 0, 0, w, back);
                for (int d = 0; d < hd; d++)
                    assert_true(back[d] == rt_bf16_round(row[d]));
            }
        }
        free(src);
        rt_kv_cache_free(&c);
    }
}

/* Decode attention of a KV-head range (how the engine splits a user's heads
 * over threads) writes exactly those heads' outputs, with the bits of the
 * whole call, on every ISA. */
static void test_decode_head_ranges(void **state)
{
    (void)state;
    rt_isa isas[3];
    int ni = isa_list(isas);
    const int users = 2, hkv = 4, hq = 8, hd = 40, cap = 50;
    rt_kv_cache c;
    assert_int_equal(rt_kv_cache_init(&c, RT_BF16, users, hkv, cap, hd, NULL), 0);
    float *k = rnd_vec((size_t)cap * hkv * hd, 1.5f), *v = rnd_vec((size_t)cap * hkv * hd, 1.0f);
    rt_cache_fill(&c, 0, k, v, 33, 0);
    rt_cache_fill(&c, 1, k, v, 45, 0);
    const int bu[2] = {1, 0};
    const int32_t len[2] = {45, 33};
    size_t n = (size_t)users * hq * hd, per_kv = (size_t)(hq / hkv) * hd;
    float *q = rnd_vec(n, 1.5f), *whole = malloc(n * sizeof(float)), *parts = malloc(n * sizeof(float));
    float *scr = malloc(rt_attention_decode_scratch_floats(&c, hq) * sizeof(float));
    const int cuts[4] = {0, 1, 3, 4}; /* ranges of 1, 2 and 1 KV heads */
    for (int t = 0; t < ni; t++) {
        rt_attention_decode_ex(isas[t], q, &c, users, bu, len, hq, 0.3f, 17, 30.0f, whole, scr);
        for (size_t i = 0; i < n; i++)
            parts[i] = NAN;
        for (int part = 0; part < 3; part++) {
            for (int r = 0; r < users; r++)
                rt_attention_decode_heads(isas[t], q + (size_t)r * hq * hd, &c, 1, bu + r, len + r, hq, 0.3f, 17,
                                          30.0f, parts + (size_t)r * hq * hd, scr, cuts[part], cuts[part + 1]);
            /* heads past this range are still untouched */
            for (int r = 0; r < users && cuts[part + 1] < hkv; r++)
                assert_true(isnan(parts[(size_t)r * hq * hd + (size_t)cuts[part + 1] * per_kv]));
        }
        assert_memory_equal(parts, whole, n * sizeof(float));
    }
    free(q);
    free(whole);
    free(parts);
    free(scr);
    free(k);
    free(v);
    rt_kv_cache_free(&c);
}

/* Prefill attention of a KV-head range, from q/k/v and from the cache,
 * writes exactly those heads' outputs with the bits of the whole call. */
static void test_prefill_head_ranges(void **state)
{
    (void)state;
    const int s = 37, hkv = 4, hq = 8, hd = 24, start = 11;
    size_t nq = (size_t)s * hq * hd, nkv = (size_t)(start + s) * hkv * hd, per_kv = (size_t)(hq / hkv) * hd;
    float *q = rnd_vec(nq, 1.5f), *k = rnd_vec(nkv, 1.5f), *v = rnd_vec(nkv, 1.0f);
    float *whole = malloc(nq * sizeof(float)), *parts = malloc(nq * sizeof(float));
    rt_kv_cache c;
    assert_int_equal(rt_kv_cache_init(&c, RT_BF16, 1, hkv, start + s, hd, NULL), 0);
    rt_cache_fill(&c, 0, k, v, start + s, 0);
    float *scr = malloc(rt_attention_prefill_cached_scratch_floats(&c, s, start) * sizeof(float));
    const int cuts[4] = {0, 1, 3, 4};
    for (int cached = 0; cached < 2; cached++) {
        if (cached)
            rt_attention_prefill_cached_ex(q, &c, 0, s, start, hq, 0.25f, 13, 20.0f, whole, scr);
        else
            rt_attention_prefill_ex(q, k, v, s, hq, hkv, hd, 0.25f, 13, 20.0f, whole, scr);
        for (size_t i = 0; i < nq; i++)
            parts[i] = NAN;
        for (int part = 0; part < 3; part++) {
            if (cached)
                rt_attention_prefill_cached_heads(q, &c, 0, s, start, hq, 0.25f, 13, 20.0f, parts, scr, cuts[part],
                                                  cuts[part + 1]);
            else
                rt_attention_prefill_heads(q, k, v, s, hq, hkv, hd, 0.25f, 13, 20.0f, parts, scr, cuts[part],
                                           cuts[part + 1]);
            for (int r = 0; r < s && cuts[part + 1] < hkv; r++)
                assert_true(isnan(parts[(size_t)r * hq * hd + (size_t)cuts[part + 1] * per_kv]));
        }
        assert_memory_equal(parts, whole, nq * sizeof(float));
    }
    free(q);
    free(k);
    free(v);
    free(whole);
    free(parts);
    free(scr);
    rt_kv_cache_free(&c);
}

/* Decode over more shapes: head_dim 40 (16+16+8 lanes) and 160 (more than
 * the 128 outputs the SIMD build keeps in registers), group sizes 1, 2 and 4
 * (whose heads share each K/V load: 8 and 4 rows per step) and 3, 8 and 16
 * (head by head), lengths that are and are not multiples of 16, 8 and 4. */
static void test_decode_shapes(void **state)
{
    (void)state;
    rt_isa isas[3];
    int ni = isa_list(isas);
    /* head_dim: whole 32-element chunks (a bf16 cache interleaves them),
     * one more 16-element step (80, 48), a tail (40), none whole (24) */
    const int cfgs[][4] = {{6, 2, 40, 50},  {2, 2, 160, 33}, {3, 1, 128, 64}, {16, 8, 128, 77}, {4, 2, 40, 31},
                           {8, 2, 160, 45}, {8, 2, 24, 6},   {8, 1, 40, 23},  {16, 1, 24, 19}, {4, 2, 80, 40},
                           {4, 1, 48, 37},  {2, 2, 80, 21},  {1, 1, 112, 18}};
    const int ncfg = (int)(sizeof cfgs / sizeof cfgs[0]);
    for (int t = 0; t < ncfg; t++)
        for (int dti = 0; dti < 2; dti++) {
            int hq = cfgs[t][0], hkv = cfgs[t][1], hd = cfgs[t][2], L = cfgs[t][3];
            rt_kv_cache c;
            assert_int_equal(rt_kv_cache_init(&c, dti ? RT_BF16 : RT_F32, 2, hkv, L + 3, hd, NULL), 0);
            float *k = rnd_vec((size_t)L * hkv * hd, 1.5f), *v = rnd_vec((size_t)L * hkv * hd, 1.0f);
            rt_cache_fill(&c, 1, k, v, L, 0);
            if (dti) {
                rt_round_bf16(k, (size_t)L * hkv * hd);
                rt_round_bf16(v, (size_t)L * hkv * hd);
            }
            float *q = rnd_vec((size_t)hq * hd, 1.5f), *o0 = malloc((size_t)hq * hd * sizeof(float));
            float *o = malloc((size_t)hq * hd * sizeof(float));
            float *scr = malloc(rt_attention_decode_scratch_floats(&c, hq) * sizeof(float));
            double *ref = malloc((size_t)hq * hd * sizeof(double));
            const int user = 1;
            const int32_t len = L;
            float scale = 1.0f / sqrtf((float)hd);
            rt_attention_decode_isa(RT_ISA_SCALAR, q, &c, 1, &user, &len, hq, scale, o0, scr);
            attn_ref(q, 0, k, v, hkv * hd, 1, L - 1, hq, hkv, hd, scale, ref);
            check_close_attn(o0, ref, (size_t)hq * hd, 1.0);
            for (int i = 0; i < ni; i++) {
                for (int j = 0; j < hq * hd; j++)
                    o[j] = NAN; /* every output written by this ISA's run, none left from the last */
                rt_attention_decode_isa(isas[i], q, &c, 1, &user, &len, hq, scale, o, scr);
                for (int j = 0; j < hq * hd; j++)
                    if (o[j] != o0[j])
                        fail_msg("decode hd=%d L=%d %s: out[%d] = %.9g, scalar %.9g", hd, L, rt_isa_name(isas[i]),
                                 j, o[j], o0[j]);
            }
            free(k);
            free(v);
            free(q);
            free(o0);
            free(o);
            free(scr);
            free(ref);
            rt_kv_cache_free(&c);
        }
}

/* GQA mapping: with 4 query heads over 2 kv heads, heads 0,1 read kv 0 and
 * 2,3 read kv 1 (contiguous groups, not h % hkv). */
static void test_attention_gqa_mapping(void **state)
{
    (void)state;
    const int s = 3, hq = 4, hkv = 2, hd = 16;
    float q[3 * 4 * 16], k[3 * 2 * 16], v[3 * 2 * 16], out[3 * 4 * 16], scr[64 * 3];
    for (int i = 0; i < 3 * 4 * 16; i++)
        q[i] = rnd_unit();
    for (int i = 0; i < 3 * 2 * 16; i++)
        k[i] = rnd_unit();
    for (int p = 0; p < s; p++)
        for (int h = 0; h < hkv; h++)
            for (int d = 0; d < hd; d++)
                v[(p * hkv + h) * hd + d] = (float)(h + 1); /* kv head h's values are all h+1 */
    rt_attention_prefill(q, k, v, s, hq, hkv, hd, 0.25f, out, scr);
    for (int p = 0; p < s; p++)
        for (int h = 0; h < hq; h++)
            for (int d = 0; d < hd; d++)
                assert_true(fabsf(out[(p * hq + h) * hd + d] - (float)(h / 2 + 1)) < 1e-6f);
}

/* ---------------- elementwise ---------------- */

static void test_elementwise(void **state)
{
    (void)state;
    const size_t n = 1001;
    float *a = rnd_vec(n, 8), *b = rnd_vec(n, 8), *o = malloc(n * sizeof(float));
    a[0] = 0;
    a[1] = -0.0f;
    a[2] = 1e-20f;
    a[3] = -30.0f;
    a[4] = 30.0f;
    rt_add(a, b, o, n);
    for (size_t i = 0; i < n; i++)
        assert_true(o[i] == a[i] + b[i]);
    rt_mul(a, b, o, n);
    for (size_t i = 0; i < n; i++)
        assert_true(o[i] == a[i] * b[i]);
    rt_silu(a, o, n);
    for (size_t i = 0; i < n; i++) {
        double x = a[i], r = x / (1 + exp(-x));
        assert_true(fabs(o[i] - r) <= 1e-6 * fabs(r) + 1e-30);
    }
    rt_silu_mul(a, b, o, n, 0);
    for (size_t i = 0; i < n; i++) {
        double x = a[i], r = x / (1 + exp(-x)) * b[i];
        assert_true(fabs(o[i] - r) <= 1e-6 * fabs(r) + 1e-30);
    }
    rt_silu_mul(a, b, o, n, 1);
    for (size_t i = 0; i < n; i++) {
        double x = a[i], r = x / (1 + exp(-x)) * b[i];
        assert_true(o[i] == rt_bf16_round(o[i]));
        assert_true(fabs(o[i] - r) <= (1.0 / 128) * fabs(r) + 1e-30);
    }
    /* The gelu tails are ill-conditioned in their argument: erfc(z) and
     * exp(2u) turn the f32 rounding of z or u into a relative error of
     * ~2 z^2 2^-24 (4e-6 at x = -8), which torch's f32 code has too.  The
     * references therefore take the argument as f32 computes it and check
     * the rest at 1e-6, and the exact function at 2e-5 for |x| <= 8. */
    rt_gelu(a, o, n);
    for (size_t i = 0; i < n; i++) {
        double x = a[i], z = (float)(-a[i] * (float)M_SQRT1_2);
        double r = 0.5 * x * erfc(z), exact = 0.5 * x * erfc(-x / sqrt(2.0));
        assert_true(fabs(o[i] - r) <= 1e-6 * fabs(r) + 1e-37);
        assert_true(fabs(o[i] - exact) <= 2e-5 * fabs(exact) + 1e-37);
    }
    rt_gelu_tanh(a, o, n);
    for (size_t i = 0; i < n; i++) {
        double x = a[i];
        float uf = (float)0.7978845608028654 * (a[i] + 0.044715f * a[i] * a[i] * a[i]);
        /* 0.5 x (1 + tanh u) written as x / (1 + e^-2u): the tanh form
         * cancels in the negative tail even in double */
        double r = x / (1 + exp(-2.0 * uf));
        double exact = x / (1 + exp(-2.0 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        assert_true(fabs(o[i] - r) <= 1e-6 * fabs(r) + 1e-37);
        assert_true(fabs(o[i] - exact) <= 2e-5 * fabs(exact) + 1e-37);
    }
    /* in place works */
    memcpy(o, a, n * sizeof(float));
    rt_silu(o, o, n);
    for (size_t i = 0; i < n; i++) {
        float t;
        rt_silu(&a[i], &t, 1);
        assert_true(o[i] == t);
    }
    free(a);
    free(b);
    free(o);
}

/* rt_rope_apply_isa gives the scalar path's bits on every ISA, f32 and bf16,
 * for rotary halves off the 16-lane step and past the 64-column chunk
 * (rotary_dim 6, 40 of head_dim 44, 128, 200 of 256), NaN and Inf included. */
static void test_rope_isas(void **state)
{
    (void)state;
    const int dims[][2] = {{6, 6}, {40, 44}, {128, 128}, {200, 256}};
    const int32_t pos[3] = {0, 19, 70001};
    rt_isa isas[3];
    int ni = isa_list(isas);
    for (unsigned k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        const int rd = dims[k][0], hd = dims[k][1], H = 3, rows = 3;
        rt_rope_cfg cfg = {.type = RT_ROPE_DEFAULT, .rotary_dim = rd, .theta = 500000.0};
        float inv[128], sc;
        rt_rope_inv_freq(&cfg, 0, inv, &sc);
        size_t n = (size_t)rows * H * hd;
        float *x = rnd_vec(n, 3), *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
        x[1] = NAN;
        x[hd + 2] = INFINITY;
        for (int bf = 0; bf < 2; bf++) {
            memcpy(want, x, n * sizeof(float));
            rt_rope_apply_isa(RT_ISA_SCALAR, want, rows, H, hd, rd, pos, inv, 1.25f, bf);
            for (int t = 0; t < ni; t++) {
                memcpy(got, x, n * sizeof(float));
                rt_rope_apply_isa(isas[t], got, rows, H, hd, rd, pos, inv, 1.25f, bf);
                for (size_t i = 0; i < n; i++)
                    if (!same(got[i], want[i]))
                        fail_msg("rope %s rd %d hd %d bf16 %d: [%zu] %.9g vs scalar %.9g", rt_isa_name(isas[t]), rd,
                                 hd, bf, i, got[i], want[i]);
            }
        }
        free(x);
        free(want);
        free(got);
    }
}

static void test_round_bf16(void **state)
{
    (void)state;
    float v[8] = {1.0f, 1.00390625f /* tie -> 1.0 */, 1.01171875f /* tie -> 1.015625 */, INFINITY, -INFINITY, NAN,
                  3.4028235e38f, -0.0f};
    rt_round_bf16(v, 8);
    assert_true(v[0] == 1.0f && v[1] == 1.0f && v[2] == 1.015625f);
    assert_true(isinf(v[3]) && v[3] > 0 && isinf(v[4]) && v[4] < 0);
    assert_true(isnan(v[5]));
    assert_true(isinf(v[6]));
    assert_true(v[7] == 0 && signbit(v[7]));
    float *r = rnd_vec(5000, 100);
    float *c = malloc(5000 * sizeof(float));
    memcpy(c, r, 5000 * sizeof(float));
    rt_round_bf16(c, 5000);
    for (int i = 0; i < 5000; i++)
        assert_true(c[i] == rt_bf16_round(r[i]));
    /* every ISA, bit for bit with rt_f32_to_bf16 (NaN payloads, subnormals,
     * ties, overflow to Inf), on lengths off the 16-lane step */
    uint32_t special[] = {0x7fc00001u, 0xffa00000u /* signalling */, 0x7f800001u, 0x00000001u, 0x807fffffu,
                          0x00008000u /* tie at zero */, 0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0xff7f8000u};
    rt_isa isas[3];
    int ni = isa_list(isas);
    for (int t = 0; t < ni; t++)
        for (size_t n = 0; n <= 37; n++) {
            float in[37], out[37];
            for (size_t i = 0; i < n; i++) {
                uint32_t u = i < sizeof special / sizeof special[0] ? special[i] : (uint32_t)rand() * 2654435761u;
                memcpy(&in[i], &u, 4);
            }
            memcpy(out, in, n * sizeof(float));
            rt_round_bf16_isa(isas[t], out, n);
            /* and packed: n values written, the next one untouched */
            uint16_t packed[38];
            packed[n] = 0xbeef;
            rt_store_bf16_isa(isas[t], in, packed, n);
            assert_int_equal(packed[n], 0xbeef);
            for (size_t i = 0; i < n; i++) {
                uint32_t got, want = (uint32_t)rt_f32_to_bf16(in[i]) << 16;
                memcpy(&got, &out[i], 4);
                assert_int_equal(got, want);
                assert_int_equal(packed[i], rt_f32_to_bf16(in[i]));
            }
        }
    free(r);
    free(c);
}

static void test_softmax(void **state)
{
    (void)state;
    const int sizes[] = {1, 7, 1000};
    for (int t = 0; t < 3; t++) {
        int n = sizes[t];
        float *x = rnd_vec((size_t)n, 30), *y = malloc((size_t)n * sizeof(float));
        memcpy(y, x, (size_t)n * sizeof(float));
        rt_softmax_row(y, n);
        rt_isa isas[3];
        int ni = isa_list(isas);
        for (int t2 = 0; t2 < ni; t2++) {
            float *z = malloc((size_t)n * sizeof(float));
            memcpy(z, x, (size_t)n * sizeof(float));
            rt_softmax_row_isa(isas[t2], z, n);
            for (int i = 0; i < n; i++)
                assert_true(z[i] == y[i]);
            free(z);
        }
        /* x - max is an f32 subtraction in the kernel (and in torch); its
         * rounding (up to 2^-24 |x - max|) is amplified by exp, so the
         * reference takes that difference as f32 computes it. */
        float mx = -INFINITY;
        double sum = 0;
        for (int i = 0; i < n; i++)
            mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < n; i++)
            sum += exp((double)(x[i] - mx));
        for (int i = 0; i < n; i++) {
            double r = exp((double)(x[i] - mx)) / sum;
            assert_true(fabs(y[i] - r) <= 1e-6 * r + 1e-38);
        }
        free(x);
        free(y);
    }
    /* huge logits do not overflow thanks to the max subtraction */
    float big[3] = {1000.0f, 999.0f, -1000.0f};
    rt_softmax_row(big, 3);
    assert_true(fabs(big[0] - 1 / (1 + exp(-1.0))) < 1e-6);
    assert_true(big[2] == 0.0f);
}

static void test_argmax_topk(void **state)
{
    (void)state;
    float x[8] = {1.0f, 5.0f, NAN, 5.0f, -2.0f, 4.0f, 5.0f, -INFINITY};
    assert_int_equal(rt_argmax(x, 8), 1); /* ties -> lowest index, NaN skipped */
    float nan_first[3] = {NAN, -1.0f, -3.0f};
    assert_int_equal(rt_argmax(nan_first, 3), 1);
    float all_nan[2] = {NAN, NAN};
    assert_int_equal(rt_argmax(all_nan, 2), 0);
    assert_int_equal(rt_argmax(x, 0), -1);
    int idx[8];
    rt_topk(x, 8, 5, idx);
    const int want5[5] = {1, 3, 6, 5, 0};
    assert_memory_equal(idx, want5, sizeof want5);
    rt_topk(x, 8, 8, idx);
    const int want8[8] = {1, 3, 6, 5, 0, 4, 7, 2}; /* NaN last */
    assert_memory_equal(idx, want8, sizeof want8);
    rt_topk(x, 8, 1, idx);
    assert_int_equal(idx[0], 1);
    /* random: against a full sort by (value desc, index asc) */
    const int n = 3000;
    float *r = rnd_vec((size_t)n, 1);
    for (int i = 0; i < n; i += 17)
        r[i] = 0.5f; /* many ties */
    int top[50];
    rt_topk(r, n, 50, top);
    for (int j = 0; j < 50; j++) {
        /* rank of top[j] = number of elements that beat it */
        int beat = 0;
        for (int i = 0; i < n; i++)
            if (r[i] > r[top[j]] || (r[i] == r[top[j]] && i < top[j]))
                beat++;
        assert_int_equal(beat, j);
    }
    assert_int_equal(rt_argmax(r, n), top[0]);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa_selection),
        cmocka_unit_test(test_dot_axpy),
        cmocka_unit_test(test_exp),
        cmocka_unit_test(test_silu_isas),
        cmocka_unit_test(test_pool_runs_every_task_once),
        cmocka_unit_test(test_linear_all_dtypes),
        cmocka_unit_test(test_linear_panels),
        cmocka_unit_test(test_linear_wrapped_shard),
        cmocka_unit_test(test_linear_nonfinite_bfp),
        cmocka_unit_test(test_linear_tiny_exponents),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_rms_norm),
        cmocka_unit_test(test_rope_inv_freq_default),
        cmocka_unit_test(test_rope_inv_freq_llama3_fixture),
        cmocka_unit_test(test_rope_inv_freq_longrope_fixture),
        cmocka_unit_test(test_rope_apply),
        cmocka_unit_test(test_rope_isas),
        cmocka_unit_test(test_attention_prefill),
        cmocka_unit_test(test_kv_cache_and_decode),
        cmocka_unit_test(test_decode_shapes),
        cmocka_unit_test(test_cache_blocks),
        cmocka_unit_test(test_cache_row_order),
        cmocka_unit_test(test_decode_head_ranges),
        cmocka_unit_test(test_prefill_head_ranges),
        cmocka_unit_test(test_attention_gqa_mapping),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_round_bf16),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_argmax_topk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
