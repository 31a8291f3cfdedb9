/* kernels_bf16dot.c: y = x @ W^T for bf16 weights and bf16 activations on
 * AVX512-BF16 (vdpbf16ps: 32 bf16 products per instruction, accumulated in
 * f32), twice the multiply-adds per instruction of the f32 FMA path and no
 * widening of the weights.
 *
 * Used for a plan's linears whose input buffer is bf16 (`precision
 * activations=bf16`, so every input value is already a bf16) and whose
 * weights are stored bf16.  A bf16 times a bf16 is exact in f32, so the only
 * rounding is the f32 accumulation, in the order kernels.h states; that
 * order is this file's own (not the canonical dot of the f32 path), the same
 * for every m, every thread count and every run.
 *
 * Blocking: outputs in tasks of TASK_ROWS weight rows (the task cut depends
 * on the shapes only); in a task, tiles of up to 4 x rows by 4 weight rows
 * (16 accumulators in registers), each 64-byte weight vector used for 4 rows
 * of x and each converted x vector for 4 weight rows. */
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "simd_target.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define TASK_ROWS 64 /* weight rows per pool task: 64 rows x k bf16 stay in L2 */

/* ---- the arithmetic, in plain C (the reference the kernel is tested against) ---- */

/* vdpbf16ps treats subnormal inputs and results as zero */
static float ftz(float v) { return fpclassify(v) == FP_SUBNORMAL ? copysignf(0.0f, v) : v; }

static float bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The 16 lanes summed pairwise: v[i] += v[i + h] for h = 8, 4, 2, 1. */
static float reduce16(float *v)
{
    for (int h = 8; h >= 1; h /= 2)
        for (int i = 0; i < h; i++)
            v[i] += v[i + h];
    return v[0];
}

float rt_bf16dot_ref(const float *x, const uint16_t *w, int k)
{
    float lane[16] = {0};
    for (int k0 = 0; k0 < k; k0 += 32)
        for (int l = 0; l < 16; l++)
            for (int odd = 1; odd >= 0; odd--) {
                int c = k0 + 2 * l + odd;
                float a = c < k ? ftz(rt_bf16_round(ftz(x[c]))) : 0.0f, b = c < k ? ftz(bf16_value(w[c])) : 0.0f;
                lane[l] = ftz(lane[l] + a * b);
            }
    return reduce16(lane);
}

/* ---- CPU support -------------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int enabled;

static void detect(void)
{
#ifdef HAVE_X86
    __builtin_cpu_init();
    const char *k = getenv("MGC_KERNELS");
    /* an explicit lower ISA (scalar, avx2, avx512) turns it off */
    int allowed = !k || !*k || strcmp(k, "auto") == 0 || strcmp(k, "avx512bf16") == 0;
    enabled = allowed && rt_kernels_isa() == RT_ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
#endif
}

int rt_bf16dot_enabled(void)
{
    pthread_once(&once, detect);
    return enabled;
}

/* ---- the kernel ----------------------------------------------------------------- */

#ifdef HAVE_X86
RT_TARGET_AVX512BF16_BEGIN

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* 32 values of x from c0 (rem of them left, > 0) as bf16 pairs, zeros past k */
static ALWAYS_INLINE __m512bh load_x(const float *x, int c0, int rem)
{
    if (rem >= 32)
        return _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + c0 + 16), _mm512_loadu_ps(x + c0));
    __mmask16 lo = rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1);
    __mmask16 hi = rem > 16 ? (__mmask16)((1u << (rem - 16)) - 1) : 0;
    return _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + c0 + 16), _mm512_maskz_loadu_ps(lo, x + c0));
}

static ALWAYS_INLINE __m512bh load_w(const uint16_t *w, int c0, int rem)
{
    if (rem >= 32)
        return (__m512bh)_mm512_loadu_si512((const void *)(w + c0));
    return (__m512bh)_mm512_maskz_loadu_epi16((__mmask32)((1ull << rem) - 1), w + c0);
}

static ALWAYS_INLINE float hsum(__m512 v)
{
    float t[16];
    _mm512_storeu_ps(t, v);
    return reduce16(t);
}

/* y[i][j] for the MR x rows from x and NR weight rows from w (MR, NR <= 4,
 * constants after inlining: the accumulators live in registers). */
static ALWAYS_INLINE void tile(const float *x, size_t ldx, const uint16_t *w, size_t ldw, int k, float *y, size_t ldy,
                               const int MR, const int NR)
{
    __m512 acc[4][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            acc[i][j] = _mm512_setzero_ps();
    for (int c0 = 0; c0 < k; c0 += 32) {
        int rem = k - c0;
        __m512bh wv[4], xv[4];
        for (int j = 0; j < NR; j++)
            wv[j] = load_w(w + (size_t)j * ldw, c0, rem);
        for (int i = 0; i < MR; i++)
            xv[i] = load_x(x + (size_t)i * ldx, c0, rem);
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv[i], wv[j]);
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            y[(size_t)i * ldy + j] = hsum(acc[i][j]);
}

/* Weight rows [n0, n1) for every x row. */
static void rows_avx512bf16(const float *x, int m, const rt_matrix *w, int n0, int n1, float *y)
{
    const uint16_t *wd = w->data;
    int k = w->k;
    size_t ldw = w->ld, ldx = (size_t)k, ldy = (size_t)w->n;
    for (int n = n0; n < n1; n += 4) {
        int nr = n1 - n < 4 ? n1 - n : 4;
        const uint16_t *wr = wd + (size_t)n * ldw;
        for (int r = 0; r < m; r += 4) {
            int mr = m - r < 4 ? m - r : 4;
            const float *xr = x + (size_t)r * ldx;
            float *yr = y + (size_t)r * ldy + n;
            /* every (mr, nr) pair spelled out so each tile is compiled with constants */
#define T(a, b) tile(xr, ldx, wr, ldw, k, yr, ldy, a, b)
            switch (mr * 4 + nr) {
            case 5: T(1, 1); break;
            case 6: T(1, 2); break;
            case 7: T(1, 3); break;
            case 8: T(1, 4); break;
            case 9: T(2, 1); break;
            case 10: T(2, 2); break;
            case 11: T(2, 3); break;
            case 12: T(2, 4); break;
            case 13: T(3, 1); break;
            case 14: T(3, 2); break;
            case 15: T(3, 3); break;
            case 16: T(3, 4); break;
            case 17: T(4, 1); break;
            case 18: T(4, 2); break;
            case 19: T(4, 3); break;
            default: T(4, 4); break;
            }
#undef T
        }
    }
}

RT_TARGET_END
#endif

typedef struct bf16dot_job {
    const float *x;
    int m;
    const rt_matrix *w;
    float *y;
} bf16dot_job;

static void task(void *arg, int t, int thread)
{
    (void)thread;
    const bf16dot_job *j = arg;
    int n0 = t * TASK_ROWS, n1 = n0 + TASK_ROWS < j->w->n ? n0 + TASK_ROWS : j->w->n;
#ifdef HAVE_X86
    rows_avx512bf16(j->x, j->m, j->w, n0, n1, j->y);
#else
    (void)n0, (void)n1;
#endif
}

void rt_linear_bf16dot_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y)
{
    assert(w->dtype == RT_BF16 && m >= 0 && rt_bf16dot_enabled());
    if (m == 0 || w->n == 0)
        return;
    bf16dot_job j = {.x = x, .m = m, .w = w, .y = y};
    rt_pool_run(pool, (w->n + TASK_ROWS - 1) / TASK_ROWS, task, &j);
}
