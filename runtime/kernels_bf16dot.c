/* kernels_bf16dot.c: y = x @ W^T for bf16 (and, in prefill, block-float)
 * weights and bf16 activations on
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
 * Blocking: outputs in tasks of TASK_ROWS weight rows, or for fewer than 4
 * users about GEMV_TASK_BYTES of weights (the task cut depends on the
 * shapes only); in a task, tiles of 4 x rows by 4 weight rows (16
 * accumulators in registers), each 64-byte weight vector used for 4 rows of
 * x and each converted x vector for 4 weight rows; rows of x left over 1 by
 * 4, and decode of one user 1 by 8 (tile1xR). */
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "simd_target.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define TASK_ROWS 64 /* weight rows per pool task: 64 rows x k bf16 stay in L2 */

/* A GEMV of fewer than 4 users (bf16 weights; no tile4x4 reuses a weight
 * tile) reads each weight once: its tasks (rt_gemv_task_rows) are about
 * GEMV_TASK_BYTES of weights, a multiple of 4 rows (a tile).  64 rows of a short row
 * (Qwen3-0.6B's k = 1024: 128 KiB) cost Qwen3-0.6B bf16 decode 3-6 % in
 * steps alternated between the two in one process (2 threads; 1 and 2 MiB
 * tied, 4 MiB lost). */
#define GEMV_TASK_BYTES ((size_t)1 << 20)
/* The widest column block of a batch's 4 x 4 tiles (rows_avx512bf16) and
 * of a task's column-pair panel (bfp_rows, 64 rows of it: 256 KiB as bf16
 * pairs); see col_block. */
#define COL_BLOCK_MAX 2048

/* Such a GEMV prefetches at least this far ahead in each row's stream
 * (tile1xR; otherwise the next tile's rows, 4 or 8 rows ahead; the figures
 * below are of 4-row tiles, before one user took 8).  Over Qwen3-0.6B's
 * 1024-column rows 4 rows are 8 KiB: its bf16 decode, steps alternated in
 * one process, 10 KiB (for every row length) against 4 rows 34.4 vs 33.6
 * and 31.8 vs 31.2 tok/s; 12 KiB and 4 KiB lost to 10.  10 KiB for every
 * tile lost over Llama-3.2-1B's 2048-column rows (4 rows: 16 KiB) and in
 * the 4 x 4 tiles of a 32-user batch, which keep 4 rows. */
#define GEMV_PF_MIN_BYTES ((size_t)10 << 10)

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

float rt_bfpdot_ref(const float *x, const float *w, int k)
{
    float acc = 0.0f;
    for (int c0 = 0; c0 < k; c0 += 2)
        for (int odd = 1; odd >= 0; odd--) {
            int c = c0 + odd;
            /* a block-float weight is exact in bf16 unless it is an f32
             * subnormal, which the instruction reads as zero */
            float a = c < k ? ftz(rt_bf16_round(ftz(x[c]))) : 0.0f, b = c < k ? ftz(w[c]) : 0.0f;
            acc = ftz(acc + a * b);
        }
    return acc;
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

#include "reduce_vec.h"

/* 32 values of x from c0 (rem of them left) as bf16 pairs, zeros past k */
static ALWAYS_INLINE __m512bh load_x(const float *x, int c0, int rem)
{
    if (rem <= 0)
        return (__m512bh)_mm512_setzero_si512();
    if (rem >= 32)
        return _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + c0 + 16), _mm512_loadu_ps(x + c0));
    __mmask16 lo = rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1);
    __mmask16 hi = rem > 16 ? (__mmask16)((1u << (rem - 16)) - 1) : 0;
    return _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + c0 + 16), _mm512_maskz_loadu_ps(lo, x + c0));
}

static ALWAYS_INLINE __m512bh load_xb(const uint16_t *xb, int c0)
{
    return (__m512bh)_mm512_loadu_si512((const void *)(xb + c0));
}

static ALWAYS_INLINE __m512bh load_w(const uint16_t *w, int c0, int rem)
{
    if (rem >= 32)
        return (__m512bh)_mm512_loadu_si512((const void *)(w + c0));
    return (__m512bh)_mm512_maskz_loadu_epi16((__mmask32)((1ull << rem) - 1), w + c0);
}

#define DP(acc, xv, wv) acc = _mm512_dpbf16_ps(acc, xv, wv)

/* the lines pf bytes past column c0 of 4 weight rows */
static ALWAYS_INLINE void prefetch4(const uint16_t *r0, const uint16_t *r1, const uint16_t *r2, const uint16_t *r3,
                                    int c0, size_t pf)
{
    _mm_prefetch((const char *)(r0 + c0) + pf, _MM_HINT_T0);
    _mm_prefetch((const char *)(r1 + c0) + pf, _MM_HINT_T0);
    _mm_prefetch((const char *)(r2 + c0) + pf, _MM_HINT_T0);
    _mm_prefetch((const char *)(r3 + c0) + pf, _MM_HINT_T0);
}

/* The length of a block when n columns (or pairs) go in blocks of at most
 * max: all n when n <= max, else equal blocks rounded up to a multiple of
 * align (max is one, so a block is at most n; the last may be shorter). */
static int col_block(int n, int max, int align)
{
    if (n <= max)
        return n;
    int blocks = (n + max - 1) / max;
    return ((n + blocks - 1) / blocks + align - 1) / align * align;
}

/* Columns [cb, ce) (cb a multiple of 32; ce a multiple of 32 or k) of the
 * dots of 4 x rows with 4 weight rows, 16 accumulators held in registers
 * meanwhile: FIRST starts them at zero (else from acc), LAST sums lane
 * 4i + j into out[i][j] (i the x row, j the weight row; else they go back
 * to acc).  Each weight vector serves 4 rows of x, each x vector 4 rows of
 * weights.  x rows are bf16, zero-padded to a multiple of 32; callers pass
 * repeated rows to fill a partial tile.  While reading weight rows n..n+3
 * the same lines of rows n+4..n+7 are prefetched (pf bytes ahead): a row is
 * too short a stream for the hardware prefetcher to ramp up on.  The tiles
 * of one set of weight rows share that prefetch: this one issues it at
 * every `every`-th step from `phase`.  When every tile prefetched every
 * line, the next rows' lines were asked for m / 4 times, each prefetch
 * taking a load slot in a loop that has none spare (8 loads per 16
 * vdpbf16ps), and all in a burst in the first tile.  The row
 * pointers are named scalars and whole 32-column steps run without a bound
 * check (an array of pointers was reloaded from the stack per step). */
static ALWAYS_INLINE void tile4x4_cols(const uint16_t *const xr[4], const uint16_t *const wr[4], int cb, int ce, int k,
                                       size_t pf, int phase, int every, int FIRST, int LAST, __m512 acc[16],
                                       float out[4][4])
{
    const uint16_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
    const uint16_t *r0 = wr[0], *r1 = wr[1], *r2 = wr[2], *r3 = wr[3];
    __m512 a[16]; /* a local array, which the compiler keeps in registers */
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        a[i] = FIRST ? _mm512_setzero_ps() : acc[i];
#define TILE4_STEP(REM)                                                                                        \
    do {                                                                                                       \
        __m512bh w0 = load_w(r0, c0, REM), w1 = load_w(r1, c0, REM), w2 = load_w(r2, c0, REM),                 \
                 w3 = load_w(r3, c0, REM);                                                                     \
        __m512bh xv = load_xb(x0, c0);                                                                         \
        DP(a[0], xv, w0), DP(a[1], xv, w1), DP(a[2], xv, w2), DP(a[3], xv, w3);                                \
        xv = load_xb(x1, c0);                                                                                  \
        DP(a[4], xv, w0), DP(a[5], xv, w1), DP(a[6], xv, w2), DP(a[7], xv, w3);                                \
        xv = load_xb(x2, c0);                                                                                  \
        DP(a[8], xv, w0), DP(a[9], xv, w1), DP(a[10], xv, w2), DP(a[11], xv, w3);                              \
        xv = load_xb(x3, c0);                                                                                  \
        DP(a[12], xv, w0), DP(a[13], xv, w1), DP(a[14], xv, w2), DP(a[15], xv, w3);                            \
    } while (0)
    int c0 = cb, step = phase;
    for (; c0 + 32 <= ce; c0 += 32) {
        if (step-- == 0) {
            prefetch4(r0, r1, r2, r3, c0, pf);
            step = every - 1;
        }
        TILE4_STEP(32);
    }
    if (c0 < ce)
        TILE4_STEP(k - c0); /* the last columns: ce == k */
#undef TILE4_STEP
    if (LAST) {
        /* lane 4i + j: out[i][j], each accumulator summed in reduce16's order */
        _mm512_storeu_ps(&out[0][0], rt_reduce16x16(a));
        return;
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        acc[i] = a[i];
}

/* One row of x against R = 4 or 8 weight rows (wr; a partial tile repeats
 * its last row): the weights stream, R chains of vdpbf16ps.  R = 8 is the
 * decode of one user (rows_avx512bf16): 8 rows read at once are 8 streams
 * for the hardware prefetcher where 4 were 4, and more of each core's misses
 * overlap.  Qwen3-0.6B bf16, decode steps alternated in one process (2
 * threads): 38.6 -> 36.3 ms a step (faster in 95 of 100); its linears back
 * to back 42.6-43.2 -> 47.1-48.4 GB/s; Llama-3.2-1B (2048-column rows)
 * ties.  16 rows lost to 8.  Each row's chain is the same as over 4: the
 * same bits. */
static ALWAYS_INLINE void tile1xR(const uint16_t *x, const uint16_t *const *wr, int R, int k, size_t pf,
                                  float *out)
{
    const uint16_t *r0 = wr[0], *r1 = wr[1], *r2 = wr[2], *r3 = wr[3];
    const uint16_t *r4 = R > 4 ? wr[4] : r0, *r5 = R > 4 ? wr[5] : r0, *r6 = R > 4 ? wr[6] : r0,
                   *r7 = R > 4 ? wr[7] : r0;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    int c0 = 0;
#define TILE1_STEP(REM)                                                                                        \
    do {                                                                                                       \
        __m512bh xv = load_xb(x, c0);                                                                          \
        DP(a0, xv, load_w(r0, c0, REM)), DP(a1, xv, load_w(r1, c0, REM));                                      \
        DP(a2, xv, load_w(r2, c0, REM)), DP(a3, xv, load_w(r3, c0, REM));                                      \
        if (R > 4) {                                                                                           \
            DP(a4, xv, load_w(r4, c0, REM)), DP(a5, xv, load_w(r5, c0, REM));                                  \
            DP(a6, xv, load_w(r6, c0, REM)), DP(a7, xv, load_w(r7, c0, REM));                                  \
        }                                                                                                      \
    } while (0)
    for (; c0 + 32 <= k; c0 += 32) {
        prefetch4(r0, r1, r2, r3, c0, pf);
        if (R > 4)
            prefetch4(r4, r5, r6, r7, c0, pf);
        TILE1_STEP(32);
    }
    if (c0 < k)
        TILE1_STEP(k - c0);
#undef TILE1_STEP
    _mm_storeu_ps(out, rt_reduce4x16(a0, a1, a2, a3));
    if (R > 4)
        _mm_storeu_ps(out + 4, rt_reduce4x16(a4, a5, a6, a7));
}

/* x [m][k] f32 -> xb [m][kp] bf16 (round to nearest even, zeros past k). */
static void convert_x(const float *x, int m, int k, size_t kp, uint16_t *xb)
{
    for (int r = 0; r < m; r++)
        for (int c0 = 0; c0 < (int)kp; c0 += 32)
            _mm512_storeu_si512((void *)(xb + (size_t)r * kp + c0),
                                (__m512i)load_x(x + (size_t)r * k, c0, k - c0 > 0 ? k - c0 : 0));
}

/* Weight rows [n0, n1) for every x row (xb: x as bf16, rows of kp). */
static void rows_avx512bf16(const uint16_t *xb, size_t kp, int m, const rt_matrix *w, int n0, int n1, float *y)
{
    const uint16_t *wd = w->data;
    int k = w->k;
    size_t ldy = (size_t)w->n, pf = 4 * w->ld * sizeof(uint16_t);
    /* a GEMV of a few users streams faster: over short rows it prefetches
     * further than the next tile (see GEMV_PF_MIN_BYTES) */
    size_t pf1 = pf < GEMV_PF_MIN_BYTES ? GEMV_PF_MIN_BYTES : pf;
    /* Tiles of 4 users over rows of more than COL_BLOCK_MAX columns go a block
     * of columns at a time: every tile over these 4 weight rows takes one
     * block, keeping its accumulators here, before any takes the next, so
     * that the rows' block (4 x 4 KiB at most) stays in L1 while the tiles'
     * x rows pass; over whole rows each tile's x (4 rows of k) pushed the
     * weights out of L1 for the next tile.  The same vdpbf16ps per lane in
     * the same order: the same bits.  Llama-3.2-1B bf16 (down_proj's 8192
     * columns), steps alternated in one process, 2 threads: 32 users 202 ->
     * 193 ms a step (faster in 12 of 12), 8 users 89.3 -> 87.2; Qwen3-0.6B
     * (3072 columns) unchanged.  In blocks of 1024, [1024 x 2048] lost 5 %,
     * hence 2048 and no blocks at or below it; whole rows keep their
     * accumulators in registers from start to end. */
    const int kb = col_block(k, COL_BLOCK_MAX, 32);
    __m512 acc[RT_GEMV_MAX_M / 4][16];
    int n = n0;
    if (m == 1) {
        /* one user: 8 rows a tile (tile1xR), prefetching the next 8 rows'
         * lines (at least GEMV_PF_MIN_BYTES ahead); the rest in 4s below */
        size_t pf8 = 2 * pf < GEMV_PF_MIN_BYTES ? GEMV_PF_MIN_BYTES : 2 * pf;
        for (; n + 8 <= n1; n += 8) {
            const uint16_t *wr[8];
            for (int j = 0; j < 8; j++)
                wr[j] = wd + (size_t)(n + j) * w->ld;
            float out[8];
            tile1xR(xb, wr, 8, k, pf8, out);
            for (int j = 0; j < 8; j++)
                y[n + j] = out[j];
        }
    }
    for (; n < n1; n += 4) {
        int nr = n1 - n < 4 ? n1 - n : 4;
        const uint16_t *wr[4];
        for (int j = 0; j < 4; j++) /* a partial tile repeats its last row */
            wr[j] = wd + (size_t)(n + (j < nr ? j : nr - 1)) * w->ld;
        int r = 0;
        for (int cb = 0; cb < k; cb += kb) {
            int ce = k - cb > kb ? cb + kb : k;
            for (r = 0; r + 4 <= m; r += 4) {
                const uint16_t *xr[4] = {xb + (size_t)r * kp, xb + (size_t)(r + 1) * kp, xb + (size_t)(r + 2) * kp,
                                         xb + (size_t)(r + 3) * kp};
                __m512 *a = acc[r / 4];
                float out[4][4];
                /* the m / 4 tiles over these weight rows share the prefetch
                 * of the next rows: tile t takes every (m / 4)-th step from t
                 * (whole rows: the accumulators never leave the registers) */
                if (cb == 0 && ce == k)
                    tile4x4_cols(xr, wr, 0, k, k, pf, r / 4, m / 4, 1, 1, NULL, out);
                else if (cb == 0)
                    tile4x4_cols(xr, wr, cb, ce, k, pf, r / 4, m / 4, 1, 0, a, NULL);
                else if (ce < k)
                    tile4x4_cols(xr, wr, cb, ce, k, pf, r / 4, m / 4, 0, 0, a, NULL);
                else
                    tile4x4_cols(xr, wr, cb, ce, k, pf, r / 4, m / 4, 0, 1, a, out);
                if (ce < k)
                    continue;
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < nr; j++)
                        y[(size_t)(r + i) * ldy + (size_t)(n + j)] = out[i][j];
            }
        }
        for (; r < m; r++) {
            float out[4];
            tile1xR(xb + (size_t)r * kp, wr, 4, k, m < 4 ? pf1 : pf, out);
            for (int j = 0; j < nr; j++)
                y[(size_t)r * ldy + (size_t)(n + j)] = out[j];
        }
    }
}

/* ---- block-float weights (prefill) ----
 * The weights of a task's row blocks are decoded once into a panel of
 * column pairs: for block b and pair p, 16 lanes of two bf16 (row 16b + l,
 * columns 2p and 2p + 1), exact.  Each vdpbf16ps then takes one x pair
 * broadcast to all lanes against a block's pair vector, so lane l
 * accumulates output 16b + l directly (no horizontal sum). */
static const float bf4_value[16] = {0, 1, 2, 3, 4, 5, 6, 7, -0.0f, -1, -2, -3, -4, -5, -6, -7};

/* 2^(e - 127 - (W - 1)) for 16 shared exponents: normal bits when e > W - 1,
 * else the f32 subnormal 2^(e - 126 - W) (as panel_block_avx512) */
static ALWAYS_INLINE __m512 bfp_scales(__m512i e, int W)
{
    const __m512i wm1 = _mm512_set1_epi32(W - 1);
    __m512i nrm = _mm512_slli_epi32(_mm512_sub_epi32(e, wm1), 23);
    __m512i sub = _mm512_sllv_epi32(_mm512_set1_epi32(1), _mm512_add_epi32(e, _mm512_set1_epi32(23 - W)));
    return _mm512_castsi512_ps(_mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(e, wm1), sub, nrm));
}

/* bf16 weights: the same panel is a 16-row transpose of the rows' 32-bit
 * column pairs: 16 pairs of 16 rows at a time in registers (a 16 x 16
 * transpose of 32-bit elements), the last pairs one by one (rows past n
 * repeat row n - 1; a lone last column pairs with 0). */
static void bf16_pair_block(const rt_matrix *w, size_t nb, uint32_t *panel, int pb, int pe)
{
    const int K = w->k, np = K / 2 < pe ? K / 2 : pe; /* whole pairs of the range */
    const uint16_t *row[16];
    for (int l = 0; l < 16; l++)
        row[l] = (const uint16_t *)w->data +
                 (nb * 16 + (size_t)l < (size_t)w->n ? nb * 16 + (size_t)l : (size_t)w->n - 1) * w->ld;
    int p0 = pb;
    for (; p0 + 16 <= np; p0 += 16) {
        __m512i t[16], u[16];
        for (int i = 0; i < 8; i++) {
            __m512i a = _mm512_loadu_si512((const void *)(row[2 * i] + 2 * p0));
            __m512i b = _mm512_loadu_si512((const void *)(row[2 * i + 1] + 2 * p0));
            t[2 * i] = _mm512_unpacklo_epi32(a, b);
            t[2 * i + 1] = _mm512_unpackhi_epi32(a, b);
        }
        /* u[4i + q], 128-bit lane j: rows 4i..4i+3 of pair 4j + q */
        for (int i = 0; i < 4; i++) {
            u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
            u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
        }
        for (int q = 0; q < 4; q++) {
            __m512i xa = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x44), xb = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xee);
            __m512i ya = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x44);
            __m512i yb = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xee);
            uint32_t *dst = panel + (size_t)(p0 - pb + q) * 16;
            _mm512_storeu_si512((void *)dst, _mm512_shuffle_i32x4(xa, ya, 0x88));
            _mm512_storeu_si512((void *)(dst + 4 * 16), _mm512_shuffle_i32x4(xa, ya, 0xdd));
            _mm512_storeu_si512((void *)(dst + 8 * 16), _mm512_shuffle_i32x4(xb, yb, 0x88));
            _mm512_storeu_si512((void *)(dst + 12 * 16), _mm512_shuffle_i32x4(xb, yb, 0xdd));
        }
    }
    for (int l = 0; l < 16; l++) {
        for (int p = p0; p < np; p++) {
            uint32_t v;
            memcpy(&v, row[l] + 2 * p, 4);
            panel[(size_t)(p - pb) * 16 + (size_t)l] = v;
        }
        if (K % 2 && pe == (K + 1) / 2)
            panel[(size_t)(np - pb) * 16 + (size_t)l] = row[l][K - 1];
    }
}

/* Pairs [pb, pe) of row block nb of w (pb a multiple of 16) into
 * panel[p - pb][16] (uint32 pairs). */
static void bfp_decode_block(const rt_matrix *w, size_t nb, uint32_t *panel, int pb, int pe)
{
    if (w->dtype == RT_BF16) {
        bf16_pair_block(w, nb, panel, pb, pe);
        return;
    }
    const int K = w->k, W = rt_dtype_mant_bits(w->dtype);
    const __m512 tab = _mm512_loadu_ps(bf4_value);
    const uint8_t *blk = rt_bfp_line(w, nb, 0); /* the block's lines */
    float sc[32] __attribute__((aligned(64)));
    for (int c0 = 2 * pb; c0 < 2 * pe; c0 += 32) {
        for (int h = 0; h < 2; h++) {
            int from = c0 + 16 * h, kc = K - from >= 16 ? 16 : K - from > 0 ? K - from : 0;
            __mmask16 km = (__mmask16)((1u << kc) - 1);
            __m512i e = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(km, w->exps + nb * K + (size_t)from));
            _mm512_store_ps(sc + 16 * h, _mm512_maskz_mov_ps(km, bfp_scales(e, W)));
        }
        for (int c = c0; c < c0 + 32 && c < 2 * pe; c += 2) {
            /* columns c and c + 1 share a line (kernels.h) */
            __m512 v0, v1;
            if (W == 7) {
                const int8_t *q = (const int8_t *)blk + (size_t)c * 16; /* lines of 4 whole columns */
                v0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
                v1 = c + 1 < K ? _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + 16))))
                               : _mm512_setzero_ps();
            } else {
                /* row j's dword, the codes at rt_bf4_shift (the permute reads 4 bits) */
                __m512i raw = _mm512_loadu_si512((const void *)(blk + (size_t)(c / 8) * RT_BFP_LINE_BYTES));
                v0 = _mm512_permutexvar_ps(_mm512_srli_epi32(raw, rt_bf4_shift(c)), tab);
                v1 = _mm512_permutexvar_ps(_mm512_srli_epi32(raw, rt_bf4_shift(c + 1)), tab);
            }
            /* exact products (<= 7 significant bits); zero scale past k */
            __m512i b0 = _mm512_castps_si512(_mm512_mul_ps(v0, _mm512_set1_ps(sc[c - c0])));
            __m512i b1 = _mm512_castps_si512(_mm512_mul_ps(v1, _mm512_set1_ps(sc[c - c0 + 1])));
            __m512i pair = _mm512_or_si512(_mm512_and_si512(b1, _mm512_set1_epi32((int)0xffff0000u)),
                                           _mm512_srli_epi32(b0, 16));
            _mm512_storeu_si512((void *)(panel + (size_t)(c / 2 - pb) * 16), pair);
        }
    }
}

#define BP(acc, xv, wv) acc = _mm512_dpbf16_ps(acc, (__m512bh)(xv), (__m512bh)(wv))

/* y[o .. o+15], the part below n */
static ALWAYS_INLINE void bfp_store(__m512 acc, int o, int n, float *y)
{
    int left = n - o;
    _mm512_mask_storeu_ps(y + o, left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1), acc);
}

/* y at o .. o+15, the part below n (the rest 0) */
static ALWAYS_INLINE __m512 bfp_load(int o, int n, const float *y)
{
    int left = n - o;
    return _mm512_maskz_loadu_ps(left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1), y + o);
}

/* Outputs of 4 row blocks (pb: each block's kp2 pairs; a block past nblk
 * repeats block 0 and is not stored) for 4 rows of x (xp, rows of xs pairs)
 * or 1: named accumulators, so that they stay in registers.  Not FIRST: the
 * pairs go on from the sums y holds (an earlier column block's, stored
 * there as they stood: the same bits as one run). */
static ALWAYS_INLINE __m512 bfp_start(int FIRST, int b, int nblk, int n0, int n, const float *y)
{
    return FIRST || b >= nblk ? _mm512_setzero_ps() : bfp_load(n0 + 16 * b, n, y);
}

static void bfp_tile4(const uint32_t *xp, size_t xs, const uint32_t *const pb[4], int kp2, int nblk, int n0, int n,
                      float *y, size_t ldy, int FIRST)
{
    const float *y1 = y + ldy, *y2 = y + 2 * ldy, *y3 = y + 3 * ldy;
    __m512 a00 = bfp_start(FIRST, 0, nblk, n0, n, y), a01 = bfp_start(FIRST, 1, nblk, n0, n, y),
           a02 = bfp_start(FIRST, 2, nblk, n0, n, y), a03 = bfp_start(FIRST, 3, nblk, n0, n, y),
           a10 = bfp_start(FIRST, 0, nblk, n0, n, y1), a11 = bfp_start(FIRST, 1, nblk, n0, n, y1),
           a12 = bfp_start(FIRST, 2, nblk, n0, n, y1), a13 = bfp_start(FIRST, 3, nblk, n0, n, y1),
           a20 = bfp_start(FIRST, 0, nblk, n0, n, y2), a21 = bfp_start(FIRST, 1, nblk, n0, n, y2),
           a22 = bfp_start(FIRST, 2, nblk, n0, n, y2), a23 = bfp_start(FIRST, 3, nblk, n0, n, y2),
           a30 = bfp_start(FIRST, 0, nblk, n0, n, y3), a31 = bfp_start(FIRST, 1, nblk, n0, n, y3),
           a32 = bfp_start(FIRST, 2, nblk, n0, n, y3), a33 = bfp_start(FIRST, 3, nblk, n0, n, y3);
    for (int p = 0; p < kp2; p++) {
        __m512i w0 = _mm512_loadu_si512((const void *)(pb[0] + (size_t)p * 16));
        __m512i w1 = _mm512_loadu_si512((const void *)(pb[1] + (size_t)p * 16));
        __m512i w2 = _mm512_loadu_si512((const void *)(pb[2] + (size_t)p * 16));
        __m512i w3 = _mm512_loadu_si512((const void *)(pb[3] + (size_t)p * 16));
        __m512i xv = _mm512_set1_epi32((int)xp[p]);
        BP(a00, xv, w0), BP(a01, xv, w1), BP(a02, xv, w2), BP(a03, xv, w3);
        xv = _mm512_set1_epi32((int)xp[xs + (size_t)p]);
        BP(a10, xv, w0), BP(a11, xv, w1), BP(a12, xv, w2), BP(a13, xv, w3);
        xv = _mm512_set1_epi32((int)xp[2 * xs + (size_t)p]);
        BP(a20, xv, w0), BP(a21, xv, w1), BP(a22, xv, w2), BP(a23, xv, w3);
        xv = _mm512_set1_epi32((int)xp[3 * xs + (size_t)p]);
        BP(a30, xv, w0), BP(a31, xv, w1), BP(a32, xv, w2), BP(a33, xv, w3);
    }
    __m512 acc[4][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33}};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < nblk; b++)
            bfp_store(acc[i][b], n0 + 16 * b, n, y + (size_t)i * ldy);
}

static void bfp_tile1(const uint32_t *xp, const uint32_t *const pb[4], int kp2, int nblk, int n0, int n, float *y,
                      int FIRST)
{
    __m512 a0 = bfp_start(FIRST, 0, nblk, n0, n, y), a1 = bfp_start(FIRST, 1, nblk, n0, n, y),
           a2 = bfp_start(FIRST, 2, nblk, n0, n, y), a3 = bfp_start(FIRST, 3, nblk, n0, n, y);
    for (int p = 0; p < kp2; p++) {
        __m512i xv = _mm512_set1_epi32((int)xp[p]);
        BP(a0, xv, _mm512_loadu_si512((const void *)(pb[0] + (size_t)p * 16)));
        BP(a1, xv, _mm512_loadu_si512((const void *)(pb[1] + (size_t)p * 16)));
        BP(a2, xv, _mm512_loadu_si512((const void *)(pb[2] + (size_t)p * 16)));
        BP(a3, xv, _mm512_loadu_si512((const void *)(pb[3] + (size_t)p * 16)));
    }
    __m512 acc[4] = {a0, a1, a2, a3};
    for (int b = 0; b < nblk; b++)
        bfp_store(acc[b], n0 + 16 * b, n, y);
}

/* A task's weight rows [n0, n1) for every x row, in column blocks of at
 * most COL_BLOCK_MAX / 2 pairs: the block's panel (TASK_ROWS rows, 256 KiB at
 * most) is decoded once and every tile of x rows passes over it before the
 * next block, the sums waiting in y between blocks (the same bits as one
 * pass).  A whole panel of 8192-column rows was 1 MiB, L2's size, which
 * each tile read again from L3: 128 rows of x on [2048 x 8192], 2 threads,
 * bf16 325 -> 360 GFLOP/s, bf8_b 360 -> 382; Llama-3.2-1B's 128-token
 * prefill, calls alternated in one process, bf16 1067 -> 1034 ms, bf8_b
 * 1099 -> 1084 ms.  A decode batch of 32 on block floats: no change. */
static void bfp_rows(const uint16_t *xb, size_t kp, int m, const rt_matrix *w, int n0, int n1, uint32_t *panel,
                     float *y)
{
    const int kp2 = (w->k + 1) / 2, nblk = (n1 - n0 + 15) / 16, kb = col_block(kp2, COL_BLOCK_MAX / 2, 16);
    const uint32_t *xp = (const uint32_t *)xb;
    const size_t xs = kp / 2;
    for (int p0 = 0; p0 < kp2; p0 += kb) {
        const int p1 = kp2 - p0 > kb ? p0 + kb : kp2, first = p0 == 0;
        for (int b = 0; b < nblk; b++)
            bfp_decode_block(w, (size_t)(n0 / 16 + b), panel + (size_t)b * (size_t)kb * 16, p0, p1);
        const uint32_t *pb[4];
        for (int b = 0; b < 4; b++)
            pb[b] = panel + (size_t)(b < nblk ? b : 0) * (size_t)kb * 16;
        int r = 0;
        for (; r + 4 <= m; r += 4)
            bfp_tile4(xp + (size_t)r * xs + p0, xs, pb, p1 - p0, nblk, n0, w->n, y + (size_t)r * w->n, (size_t)w->n,
                      first);
        for (; r < m; r++)
            bfp_tile1(xp + (size_t)r * xs + p0, pb, p1 - p0, nblk, n0, w->n, y + (size_t)r * w->n, first);
    }
}

/* ---- bf4_b weights, decode (m <= RT_BFP_PAIRS_GEMV_MAX_M) ----
 * The pair order of rt_bfpdot_ref over the stored nibbles, x folded with
 * each column's block scale (bfp_fold.h, as the fma GEMV of kernels_linear.c
 * folds and checks).  A bf4_b line (kernels.h) holds 4 column pairs of a
 * row block: word 2j + o of it is row j's column 2r + o (o = 0 the even
 * column) at bit 4r.  So one 64-byte load and a word shift by 4r put pair
 * r's codes in the low bits of the very words vdpbf16ps pairs (dword j =
 * row j), and vpermw looks them up in a table of the codes' bf16 values (it
 * reads 5 index bits, the fifth the next code's: the table holds the 16
 * values twice).  Then one vdpbf16ps per user with the pair of folded x
 * values broadcast.  No shuffle but the lookup: the decoder this replaced
 * loaded 16 bytes per pair with a broadcast and spread the nibbles with a
 * multishift, three shuffle-unit operations per 32 weights, which held one
 * core to about 23 GB/s from L2. */
#include "bfp_fold.h"

/* The codes' bf16 values (the top halves of bf4_value), twice. */
static ALWAYS_INLINE __m512i bf4_table(void)
{
    __m256i t16 = _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(_mm512_loadu_ps(bf4_value)), 16));
    return _mm512_inserti64x4(_mm512_castsi256_si512(t16), t16, 1);
}

/* A 32-bit value from memory into every lane: one load-broadcast.  Written
 * out because gcc, seeing a small array's every element, keeps it in
 * registers and spends two shuffles per broadcast, more than a pair's
 * decode itself costs. */
static ALWAYS_INLINE __m512i broadcast32(const uint32_t *p)
{
    __m512i r;
    __asm__("vpbroadcastd %1, %0" : "=v"(r) : "m"(*p));
    return r;
}

/* Pairs p0 .. p0 + 3 (those below npairs; all 4 when FULL) of one block's
 * line into its users' accumulators.  Past an odd k the last pair's odd
 * column is +0 * +0 (the fma GEMV's acc += 0, which turns a flushed -0 into
 * +0): the storage pads with code 0, and the mask keeps the order from
 * depending on that. */
static ALWAYS_INLINE void bf4_line(const uint8_t *line, int M, int p0, int npairs, int odd_k, int FULL, __m512i tab,
                                   uint32_t xp[3][8][8], int b, __m512 acc[3][8])
{
    __m512i raw = _mm512_loadu_si512((const void *)line);
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        int p = p0 + r;
        if (!FULL && p >= npairs)
            break;
        __mmask32 keep = !FULL && odd_k && p == npairs - 1 ? (__mmask32)0x55555555u : (__mmask32)0xffffffffu;
        __m512i wv = _mm512_maskz_permutexvar_epi16(keep, r ? _mm512_srli_epi16(raw, 4 * r) : raw, tab);
#pragma GCC unroll 3
        for (int i = 0; i < M; i++)
            acc[i][b] = _mm512_dpbf16_ps(acc[i][b], (__m512bh)broadcast32(&xp[i][b][p]), (__m512bh)wv);
    }
}

static ALWAYS_INLINE int bf4_dp_blocks(const float *x, int M, const rt_matrix *w, float *y, size_t ldy, size_t nb0,
                                       int NBB, int CHECK)
{
    const int K = w->k, N = w->n;
    const __m512 cw = _mm512_set1_ps(1.0f / 4); /* 2^-(W-1), W = 3 */
    const __m512i tab = bf4_table();
    __mmask16 bad = 0;
    __m512 acc[3][8];
#pragma GCC unroll 3
    for (int i = 0; i < M; i++)
#pragma GCC unroll 8
        for (int b = 0; b < NBB; b++)
            acc[i][b] = _mm512_setzero_ps();
    for (int k0 = 0; k0 < K; k0 += 16) {
        int kc = K - k0 >= 16 ? 16 : K - k0, npairs = (kc + 1) / 2;
        __mmask16 km = (__mmask16)((1u << kc) - 1);
        const uint8_t *qb[8]; /* each block's two lines of these 16 columns */
#pragma GCC unroll 8
        for (int b = 0; b < NBB; b++) {
            qb[b] = rt_bfp_line(w, nb0 + b, k0);
            rt_bfp_prefetch(w, 3, nb0 + b, k0, qb[b], nb0 + b + (size_t)NBB);
        }
        __m512 xv[3];
        __mmask16 nz[3];
#pragma GCC unroll 3
        for (int i = 0; i < M; i++)
            xv[i] = rt_bfp_x16(x + (size_t)i * K + k0, km, cw, &nz[i]);
        /* the folded x of each (user, block) as 8 bf16 pairs (exact: a
         * normal fold is a bf16 times a power of two; one that is not is
         * reported and its outputs recomputed) */
        uint32_t xp[3][8][8] __attribute__((aligned(32)));
#pragma GCC unroll 8
        for (int b = 0; b < NBB; b++) {
            __m512i e = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(km, w->exps + (nb0 + b) * K + k0));
            __m512 sv = rt_bfp_scale16(e);
            __mmask16 live = 0, tiny = 0;
            if (CHECK)
                rt_bfp_fold_cols(e, 3, &live, &tiny);
#pragma GCC unroll 3
            for (int i = 0; i < M; i++) {
                __m512 v = _mm512_mul_ps(xv[i], sv);
                if (CHECK)
                    bad |= rt_bfp_fold_bad(v, live, tiny, nz[i]);
                _mm256_store_si256((__m256i *)xp[i][b], (__m256i)_mm512_cvtneps_pbh(v));
            }
        }
        if (kc == 16) {
#pragma GCC unroll 2
            for (int g = 0; g < 2; g++)
#pragma GCC unroll 8
                for (int b = 0; b < NBB; b++)
                    bf4_line(qb[b] + g * RT_BFP_LINE_BYTES, M, 4 * g, 8, 0, 1, tab, xp, b, acc);
        } else {
            for (int g = 0; 4 * g < npairs; g++)
#pragma GCC unroll 8
                for (int b = 0; b < NBB; b++)
                    bf4_line(qb[b] + g * RT_BFP_LINE_BYTES, M, 4 * g, npairs, kc & 1, 0, tab, xp, b, acc);
        }
    }
#pragma GCC unroll 8
    for (int b = 0; b < NBB; b++)
        rt_bfp_store_block(y, ldy, N, nb0 + (size_t)b, M, &acc[0][b], 8);
    return bad != 0;
}

#define BF4_DP(M_, NBB_) bad |= bf4_dp_blocks(x + (size_t)i0 * K, M_, w, y + (size_t)i0 * ldy, ldy, nb, NBB_, CHECK)

/* Every row block for every user, in groups of up to 3 users. */
static ALWAYS_INLINE int bf4_pairs_all(const float *x, int m, const rt_matrix *w, float *y, size_t ldy, int CHECK)
{
    const int K = w->k;
    const size_t NB = ((size_t)w->n + 15) / 16;
    int bad = 0;
    for (int i0 = 0; i0 < m;) {
        int g = m - i0 >= 3 ? 3 : m - i0;
        size_t nb = 0;
        /* M * NBB dot chains per weight vector: at least 8 for one user */
        if (g <= 2)
            for (; nb + 8 <= NB; nb += 8) {
                if (g == 1)
                    BF4_DP(1, 8);
                else
                    BF4_DP(2, 8);
            }
        for (; nb + 4 <= NB; nb += 4)
            switch (g) {
            case 1: BF4_DP(1, 4); break;
            case 2: BF4_DP(2, 4); break;
            default: BF4_DP(3, 4); break;
            }
        for (; nb < NB; nb++)
            switch (g) {
            case 1: BF4_DP(1, 1); break;
            case 2: BF4_DP(2, 1); break;
            default: BF4_DP(3, 1); break;
            }
        i0 += g;
    }
    return bad;
}

static int bf4_pairs_dp(const float *x, int m, const rt_matrix *w, float *y, size_t ldy, int checked)
{
    return checked ? bf4_pairs_all(x, m, w, y, ldy, 1) : bf4_pairs_all(x, m, w, y, ldy, 0);
}
#undef BF4_DP

RT_TARGET_END
#endif

typedef struct bf16dot_job {
    const uint16_t *xb; /* x as bf16, rows of kp */
    size_t kp;
    int m;
    const rt_matrix *w;
    float *y;
    float *scratch; /* block-float: a panel per pool thread */
    size_t scratch_per_thread;
    int rows; /* weight rows per task */
} bf16dot_job;

static void task(void *arg, int t, int thread)
{
    const bf16dot_job *j = arg;
    int n0 = t * j->rows, n1 = n0 + j->rows < j->w->n ? n0 + j->rows : j->w->n;
#ifdef HAVE_X86
    if (j->w->dtype == RT_BF16 && j->m <= RT_GEMV_MAX_M)
        rows_avx512bf16(j->xb, j->kp, j->m, j->w, n0, n1, j->y);
    else
        bfp_rows(j->xb, j->kp, j->m, j->w, n0, n1, (uint32_t *)(j->scratch + (size_t)thread * j->scratch_per_thread),
                 j->y);
#else
    (void)n0, (void)n1;
#endif
}

static void run(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y, float *scratch)
{
    if (m == 0 || w->n == 0)
        return;
    /* x converted once per call (every task reads all of it) */
    size_t kp = ((size_t)w->k + 31) / 32 * 32;
    uint16_t *xb = aligned_alloc(64, (size_t)m * kp * sizeof(uint16_t) + 64);
    if (!xb)
        abort(); /* a few KiB to a few MiB: nowhere to report it from a kernel */
#ifdef HAVE_X86
    convert_x(x, m, w->k, kp, xb);
#endif
    bf16dot_job j = {.xb = xb, .kp = kp, .m = m, .w = w, .y = y, .scratch = scratch,
                     .scratch_per_thread = rt_bfpdot_scratch_floats(w),
                     .rows = w->dtype == RT_BF16 && m < 4
                                 ? rt_gemv_task_rows(w->n, w->ld * sizeof(uint16_t) + 1, 4, GEMV_TASK_BYTES)
                                 : TASK_ROWS};
    rt_pool_run(pool, (w->n + j.rows - 1) / j.rows, task, &j);
    free(xb);
}

void rt_linear_bf16dot_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y, float *scratch)
{
    assert(w->dtype == RT_BF16 && m >= 0 && rt_bf16dot_enabled() && (m <= RT_GEMV_MAX_M || scratch));
    run(pool, x, m, w, y, scratch);
}

int rt_bfpdot_usable(const rt_matrix *w)
{
    return rt_bf16dot_enabled() && (w->dtype == RT_BF8_B || w->dtype == RT_BF4_B) && !w->nonfinite;
}

int rt_gemv_bf4_pairs_dp(const float *x, int m, const rt_matrix *w, float *y, size_t ldy, int checked)
{
    assert(w->dtype == RT_BF4_B && m >= 0);
    if (!rt_bf16dot_enabled())
        return -1;
#ifdef HAVE_X86
    return bf4_pairs_dp(x, m, w, y, ldy, checked);
#else
    return -1;
#endif
}

size_t rt_bfpdot_scratch_floats(const rt_matrix *w)
{
    /* a task's row blocks (at most TASK_ROWS / 16), each a column block of
     * pairs (bfp_rows: col_block) of 16 lanes */
    size_t blocks = ((size_t)w->n + 15) / 16;
    if (blocks > TASK_ROWS / 16)
        blocks = TASK_ROWS / 16;
    return blocks * (size_t)col_block((w->k + 1) / 2, COL_BLOCK_MAX / 2, 16) * 16;
}

void rt_linear_bfpdot_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y, float *scratch)
{
    assert(rt_bfpdot_usable(w) && m >= 0 && scratch);
    run(pool, x, m, w, y, scratch);
}
