/* Ceilings for bench_decode: read bandwidth and matmul rate, measured on
 * this host in the same run as the figures compared to them. */
#include "ceilings.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "simd_target.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_best(const double *v, int n)
{
    double best = 0;
    for (int i = 0; i < n; i++)
        best = v[i] > best ? v[i] : best;
    return best;
}

double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- read bandwidth ---------------------------------------------------------------- */

/* Sums 64-bit words with 8 independent accumulators (one dependent add
 * every 8 loads), so the loop is bound by the loads, not by add latency.
 * The sum is returned so the reads cannot be elided. */
static uint64_t read_scalar(const uint64_t *a, size_t n)
{
    uint64_t s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            s[l] += a[i + l];
    for (; i < n; i++)
        s[0] += a[i];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

#if defined(__x86_64__)
#include <immintrin.h>

/* 8 zmm accumulators, 512 bytes (8 cache lines) per iteration. */
__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint64_t *a, size_t n)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_add_epi64(s0, _mm512_load_si512((const void *)(a + i)));
        s1 = _mm512_add_epi64(s1, _mm512_load_si512((const void *)(a + i + 8)));
        s2 = _mm512_add_epi64(s2, _mm512_load_si512((const void *)(a + i + 16)));
        s3 = _mm512_add_epi64(s3, _mm512_load_si512((const void *)(a + i + 24)));
        s4 = _mm512_add_epi64(s4, _mm512_load_si512((const void *)(a + i + 32)));
        s5 = _mm512_add_epi64(s5, _mm512_load_si512((const void *)(a + i + 40)));
        s6 = _mm512_add_epi64(s6, _mm512_load_si512((const void *)(a + i + 48)));
        s7 = _mm512_add_epi64(s7, _mm512_load_si512((const void *)(a + i + 56)));
    }
    s0 = _mm512_add_epi64(_mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)),
                          _mm512_add_epi64(_mm512_add_epi64(s4, s5), _mm512_add_epi64(s6, s7)));
    uint64_t lanes[8];
    _mm512_storeu_si512((void *)lanes, s0);
    uint64_t s = read_scalar(a + i, n - i);
    for (int l = 0; l < 8; l++)
        s += lanes[l];
    return s;
}

/* 8 ymm accumulators, 256 bytes per iteration. */
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint64_t *a, size_t n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(a + i)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(a + i + 4)));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(a + i + 8)));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(a + i + 12)));
        s4 = _mm256_add_epi64(s4, _mm256_load_si256((const __m256i *)(a + i + 16)));
        s5 = _mm256_add_epi64(s5, _mm256_load_si256((const __m256i *)(a + i + 20)));
        s6 = _mm256_add_epi64(s6, _mm256_load_si256((const __m256i *)(a + i + 24)));
        s7 = _mm256_add_epi64(s7, _mm256_load_si256((const __m256i *)(a + i + 28)));
    }
    s0 = _mm256_add_epi64(_mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3)),
                          _mm256_add_epi64(_mm256_add_epi64(s4, s5), _mm256_add_epi64(s6, s7)));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, s0);
    return read_scalar(a + i, n - i) + lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

typedef uint64_t (*read_fn)(const uint64_t *, size_t);

static volatile uint64_t read_sink; /* the read sums, so that no pass is optimised away */

typedef struct rd_arg {
    read_fn fn;
    const uint64_t *a;
    size_t n;
    pthread_barrier_t *start;
    uint64_t sum;
} rd_arg;

static void *read_part(void *p)
{
    rd_arg *r = p;
    pthread_barrier_wait(r->start);
    r->sum = r->fn(r->a, r->n);
    return NULL;
}

static read_fn pick_read(const char **kernel)
{
    read_fn fn = read_scalar;
    *kernel = "scalar, 8 x u64 accumulators";
#if defined(__x86_64__)
    if (rt_cpu_best_isa() == RT_ISA_AVX512) {
        fn = read_avx512;
        *kernel = "AVX-512, 8 x zmm accumulators (vpaddq of aligned 64-byte loads)";
    } else if (rt_cpu_best_isa() == RT_ISA_AVX2) {
        fn = read_avx2;
        *kernel = "AVX2, 8 x ymm accumulators (vpaddq of aligned 32-byte loads)";
    }
#endif
    return fn;
}

static int clamp_threads(int threads)
{
    return threads < 1 ? 1 : threads > 64 ? 64 : threads;
}

int bench_read_buf_init(bench_read_buf *b, size_t bytes, int threads)
{
    threads = clamp_threads(threads);
    memset(b, 0, sizeof *b);
    size_t words = bytes / 8 / (size_t)(64 * threads) * (size_t)(64 * threads);
    b->a = aligned_alloc(64, words * 8);
    if (!b->a)
        return -1;
    for (size_t i = 0; i < words; i++) /* touch every page: no zero-page reads */
        b->a[i] = i;
    b->words = words;
    b->bytes = words * 8;
    b->read = pick_read(&b->kernel);
    return 0;
}

void bench_read_buf_free(bench_read_buf *b)
{
    free(b->a);
    memset(b, 0, sizeof *b);
}

double bench_read_pass(const bench_read_buf *b, int threads)
{
    threads = clamp_threads(threads);
    pthread_t th[64];
    rd_arg args[64];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    size_t per = b->words / (size_t)threads;
    for (int t = 0; t < threads; t++) {
        args[t] = (rd_arg){b->read, b->a + per * (size_t)t, per, &start, 0};
        pthread_create(&th[t], NULL, read_part, &args[t]);
    }
    /* the clock starts before the readers are released: read after the
     * barrier, the timing thread could be descheduled while readers occupy
     * every core and miss their whole run */
    double t0 = bench_now();
    pthread_barrier_wait(&start);
    uint64_t sum = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        sum += args[t].sum;
    }
    double gbs = (double)(per * (size_t)threads * 8) / (bench_now() - t0) / 1e9;
    pthread_barrier_destroy(&start);
    read_sink += sum; /* keeps the sums alive */
    return gbs;
}

void bench_read_bandwidth(size_t bytes, int threads, int passes, bench_bw *out)
{
    memset(out, 0, sizeof *out);
    threads = clamp_threads(threads);
    if (passes > 32)
        passes = 32;
    bench_read_buf b;
    if (bench_read_buf_init(&b, bytes, threads) != 0)
        return;
    double gbs[32];
    for (int r = 0; r < passes; r++)
        gbs[r] = bench_read_pass(&b, threads);
    out->best_gbs = bench_best(gbs, passes);
    out->median_gbs = bench_median(gbs, passes);
    out->threads = threads;
    out->passes = passes;
    out->bytes = b.bytes;
    out->kernel = b.kernel;
    bench_read_buf_free(&b);
}

/* ---- matmul rate ------------------------------------------------------------------- */

/* The rate of one matmul path: y = x @ W^T on a pool of `threads`, best and
 * median of `reps` timed runs after a warm-up.  dt f32: f32 weights through
 * rt_linear_pool (OpenBLAS sgemm per panel); bf16, bf8_b, bf4_b: those
 * weights and bf16-valued x through the vdpbf16ps path prefill takes. */
static void matmul_rate(int threads, int m, int n, int k, int reps, rt_dtype dt, bench_mm *out)
{
    memset(out, 0, sizeof *out);
    mgc_error e = {{0}};
    rt_matrix w;
    const int bf16dot = dt != RT_F32;
    if (rt_matrix_init(&w, dt, n, k, &e) != 0)
        return;
    float *x = malloc(sizeof(float) * (size_t)m * (size_t)k);
    float *y = malloc(sizeof(float) * (size_t)m * (size_t)n);
    float *wf = malloc(sizeof(float) * (size_t)n * (size_t)k);
    rt_pool *pool = rt_pool_create(threads, &e);
    float *scratch = pool ? calloc((size_t)rt_pool_threads(pool) * rt_linear_scratch_floats(&w, m) + 1, sizeof(float))
                          : NULL;
    if (!x || !y || !wf || !pool || !scratch)
        goto out;
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++)
        x[i] = rt_bf16_round((float)(i % 17) * 0.01f);
    for (size_t i = 0; i < (size_t)n * (size_t)k; i++)
        wf[i] = (float)(i % 13) * 0.01f;
    rt_matrix_set_rows_f32(&w, 0, n, wf);
    if (reps > 32)
        reps = 32;
    double g[32];
    for (int r = -1; r < reps; r++) { /* r = -1: the warm-up */
        double t0 = bench_now();
        if (dt == RT_BF16)
            rt_linear_bf16dot_pool(pool, x, m, &w, y, scratch);
        else if (bf16dot)
            rt_linear_bfpdot_pool(pool, x, m, &w, y, scratch);
        else
            rt_linear_pool(pool, x, m, &w, y, NULL);
        if (r >= 0)
            g[r] = 2.0 * m * n * k / (bench_now() - t0) / 1e9;
    }
    out->best_gflops = bench_best(g, reps);
    out->median_gflops = bench_median(g, reps);
    out->threads = rt_pool_threads(pool);
    out->m = m;
    out->n = n;
    out->k = k;
    out->path = bf16dot ? "vdpbf16ps (AVX512-BF16) on column-pair panels of the weights and bf16 activations, over an rt_pool"
                        : "OpenBLAS sgemm (1 thread each) on panels spread over an rt_pool";
out:
    rt_pool_free(pool);
    free(scratch);
    free(x);
    free(y);
    free(wf);
    rt_matrix_free(&w);
}

void bench_sgemm_rate(int threads, int m, int n, int k, int reps, bench_mm *out)
{
    matmul_rate(threads, m, n, k, reps, RT_F32, out);
}

void bench_bf16dot_rate(int threads, rt_dtype dt, int m, int n, int k, int reps, bench_mm *out)
{
    if (rt_bf16dot_enabled())
        matmul_rate(threads, m, n, k, reps, dt, out);
    else
        memset(out, 0, sizeof *out);
}

/* ---- register peak ----------------------------------------------------------------- */

/* Iterations of 16 instructions a pass takes per thread: about 20-80 ms on
 * a core of a few GHz (enough to time, short enough to repeat). */
#define PEAK_ITERS 10000000

typedef struct peak_arg {
    void (*fn)(long iters, float out[16]);
    int passes;                      /* and a warm-up before them */
    pthread_barrier_t *start, *done; /* every pass: all threads, and the timing one */
    float out[16];
} peak_arg;

/* 16 chains: with a latency of about 4 cycles, 8 chains do not keep two
 * pipes busy (this CPU, vdpbf16ps: 8 chains 0.44 TSC ticks an op, 12-16
 * 0.30); 16 accumulators plus 2 operands fit in AVX-512's 32 registers
 * (an array that the unrolled loops index with constants stays in them). */
#define PEAK_CHAINS 16

/* a[c] = c for the N chains (distinct starts, or the compiler merges chains
 * that compute the same values), then ITERS rounds of a[c] = STEP(a[c]). */
#define PEAK_RUN(a, N, SET1, ITERS, STEP)                                                                      \
    do {                                                                                                       \
        _Pragma("GCC unroll 16") for (int c = 0; c < (N); c++) a[c] = SET1((float)c);                          \
        for (long i = 0; i < (ITERS); i++)                                                                     \
            _Pragma("GCC unroll 16") for (int c = 0; c < (N); c++) a[c] = STEP(a[c]);                          \
    } while (0)

#if defined(__x86_64__)
RT_TARGET_AVX512_BEGIN
/* The chains' sum into out: keeps every chain alive. */
static inline __attribute__((always_inline)) void peak_sum(const __m512 a[PEAK_CHAINS], float out[16])
{
    __m512 s = a[0];
#pragma GCC unroll 16
    for (int c = 1; c < PEAK_CHAINS; c++)
        s = _mm512_add_ps(s, a[c]);
    _mm512_storeu_ps(out, s);
}

/* The operands: small normal values, 2^-10 * 2^-10 a product, so that a
 * chain's PEAK_ITERS (x2 for the bf16 dot) products stay far from overflow. */
static void peak_fma512(long iters, float out[16])
{
    const __m512 x = _mm512_set1_ps(0x1p-10f);
    __m512 a[PEAK_CHAINS];
#define FMA512_STEP(v) _mm512_fmadd_ps(x, x, v)
    PEAK_RUN(a, PEAK_CHAINS, _mm512_set1_ps, iters, FMA512_STEP);
#undef FMA512_STEP
    peak_sum(a, out);
}
RT_TARGET_END

RT_TARGET_AVX512BF16_BEGIN
static void peak_bf16dot(long iters, float out[16])
{
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3a80); /* bf16 2^-10 */
    __m512 a[PEAK_CHAINS];
#define DP_STEP(v) _mm512_dpbf16_ps(v, x, x)
    PEAK_RUN(a, PEAK_CHAINS, _mm512_set1_ps, iters, DP_STEP);
#undef DP_STEP
    peak_sum(a, out);
}
RT_TARGET_END

RT_TARGET_AVX2_BEGIN
/* AVX2 has 16 registers: 12 chains and 1 operand (16 chains spilled), 4/3
 * as many iterations (as many FLOPs as 16 chains' would be) */
static void peak_fma256(long iters, float out[16])
{
    const __m256 x = _mm256_set1_ps(0x1p-10f);
    __m256 a[12];
#define FMA256_STEP(v) _mm256_fmadd_ps(x, x, v)
    PEAK_RUN(a, 12, _mm256_set1_ps, iters * 4 / 3, FMA256_STEP);
#undef FMA256_STEP
#pragma GCC unroll 12
    for (int c = 1; c < 12; c++)
        a[0] = _mm256_add_ps(a[0], a[c]);
    memset(out, 0, 16 * sizeof *out);
    _mm256_storeu_ps(out, a[0]);
}
RT_TARGET_END
#endif

/* A thread for all the passes: new threads for each pass could share a
 * core for its first milliseconds (a 2-thread pass read as 1 thread's rate
 * in 2 runs of 3 here), and a pass is about 20 ms. */
static void *peak_part(void *p)
{
    peak_arg *a = p;
    for (int r = -1; r < a->passes; r++) {
        pthread_barrier_wait(a->start);
        a->fn(PEAK_ITERS, a->out);
        pthread_barrier_wait(a->done);
    }
    return NULL;
}

static volatile float peak_sink; /* the sums, so that no pass is optimised away */

void bench_dot_peak(int threads, rt_dtype dt, int passes, bench_peak *out)
{
    memset(out, 0, sizeof *out);
    void (*fn)(long, float[16]) = NULL;
    double flops = 0; /* per iteration of one thread */
#if defined(__x86_64__)
    if (dt == RT_BF16 && rt_bf16dot_enabled()) {
        fn = peak_bf16dot;
        flops = 16.0 * 64;
        out->path = "vdpbf16ps zmm (AVX512-BF16), 16 independent chains in registers";
    } else if (dt == RT_F32 && rt_cpu_best_isa() == RT_ISA_AVX512) {
        fn = peak_fma512;
        flops = 16.0 * 32;
        out->path = "vfmadd231ps zmm (AVX-512), 16 independent chains in registers";
    } else if (dt == RT_F32 && rt_cpu_best_isa() == RT_ISA_AVX2) {
        fn = peak_fma256;
        flops = 16.0 * 16; /* 12 chains x 16 FLOPs x 4/3 as many iterations */
        out->path = "vfmadd231ps ymm (AVX2), 12 independent chains in registers";
    }
#endif
    if (!fn)
        return;
    threads = clamp_threads(threads);
    if (passes > 32)
        passes = 32;
    double g[32];
    pthread_t th[64];
    peak_arg args[64];
    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) {
        args[t] = (peak_arg){.fn = fn, .passes = passes, .start = &start, .done = &done};
        pthread_create(&th[t], NULL, peak_part, &args[t]);
    }
    for (int r = -1; r < passes; r++) { /* r = -1: a warm-up (clocks ramp up) */
        double t0 = bench_now(); /* before the release, as bench_read_pass */
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        double dt_s = bench_now() - t0;
        if (r >= 0)
            g[r] = flops * PEAK_ITERS * threads / dt_s / 1e9;
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        peak_sink += args[t].out[0];
    }
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
    out->best_gflops = bench_best(g, passes);
    out->median_gflops = bench_median(g, passes);
    out->threads = threads;
    out->passes = passes;
}
