/* Weight matrices (rt_matrix) and the linear kernel y = x @ W^T.
 *
 * Decode (m <= RT_GEMV_MAX_M): hand-written GEMVs that stream every weight
 * byte once for all m rows of x, in three builds with identical arithmetic
 * (kernels.h states the per-output order):
 *   f32/bf16 rows: the canonical 16-lane dot, several weight rows at a time
 *     so the fma chains overlap.
 *   bf8_b/bf4_b: 16 outputs (one row block) per vector, columns in order.
 *     The block scale is folded into x (one multiply per 16 weights, done
 *     16 columns at a time), so a weight costs an integer extend, an
 *     int->float convert (bf4_b: a 16-entry table permute) and an fma.
 * Prefill (m > RT_GEMV_MAX_M): OpenBLAS sgemm, on f32 weights directly and
 * on an f32 panel of a few hundred dequantised weight rows otherwise.
 * (With bf16 activations on AVX512-BF16 the engine takes kernels_bf16dot.c
 * instead: bf16 weights for every m, block floats for prefill.)
 */
#include "kernels.h"
#include "pages.h"

#include <assert.h>
#include <stdatomic.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t n_blocks(int n)
{
    return ((size_t)n + 15) / 16;
}

/* The byte of a block-float matrix that holds (row 16nb + j, column c)
 * (bf4_b: the nibble at rt_bf4_shift(c) % 8 of it). */
static uint8_t *bfp_byte(const rt_matrix *m, size_t nb, int j, int c)
{
    return rt_bfp_line(m, nb, c) + rt_bfp_line_byte(m->dtype, j, c);
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float bf16f(uint16_t h)
{
    return u2f((uint32_t)h << 16);
}

/* Block-float value of the k-th nibble/byte: tt's bf4 code -> value/scale. */
static const float bf4_code_value[16] = {0, 1, 2, 3, 4, 5, 6, 7, -0.0f, -1, -2, -3, -4, -5, -6, -7};

/* ===================== rt_matrix ===================== */

static size_t mant_bytes(rt_dtype dt, int n, int k)
{
    switch (dt) {
    case RT_F32:
        return 4 * (size_t)n * (size_t)k;
    case RT_BF16:
        return 2 * (size_t)n * (size_t)k;
    case RT_BF8_B:
    case RT_BF4_B:
        return n_blocks(n) * rt_bfp_lines(dt, k) * RT_BFP_LINE_BYTES;
    default:
        return 0;
    }
}

int rt_matrix_init(rt_matrix *m, rt_dtype dt, int n, int k, mgc_error *e)
{
    memset(m, 0, sizeof *m);
    if (n <= 0 || k <= 0)
        return mgc_errorf(e, "weight matrix shape [%d, %d] is not positive", n, k);
    if (dt != RT_F32 && dt != RT_BF16 && dt != RT_BF8_B && dt != RT_BF4_B)
        return mgc_errorf(e, "weight matrices cannot be stored as %s", rt_dtype_name(dt));
    size_t mb = mant_bytes(dt, n, k);
    size_t eb = (dt == RT_BF8_B || dt == RT_BF4_B) ? n_blocks(n) * (size_t)k : 0;
    m->data = rt_pages_alloc(mb);
    m->exps = eb ? rt_pages_alloc(eb) : NULL;
    if (!m->data || (eb && !m->exps)) {
        rt_pages_free(m->data, mb);
        rt_pages_free(m->exps, eb);
        memset(m, 0, sizeof *m);
        return mgc_errorf(e, "out of memory for a %s weight [%d, %d] (%zu bytes)", rt_dtype_name(dt), n, k, mb + eb);
    }
    m->dtype = dt;
    m->n = n;
    m->k = k;
    m->ld = (size_t)k;
    m->bytes = mb + eb;
    m->owned = 1;
    m->exp_min = 255, m->exp_max = 254; /* unknown until rt_matrix_scan_exponents */
    return 0;
}

void rt_matrix_scan_exponents(rt_matrix *m)
{
    if (!m->exps)
        return;
    int lo = 255, hi = 0;
    for (size_t i = 0; i < n_blocks(m->n) * (size_t)m->k; i++)
        if (m->exps[i]) {
            lo = m->exps[i] < lo ? m->exps[i] : lo;
            hi = m->exps[i] > hi ? m->exps[i] : hi;
        }
    m->exp_min = (uint8_t)lo, m->exp_max = (uint8_t)hi;
}

int rt_matrix_wrap(rt_matrix *m, rt_dtype dt, int n, int k, size_t ld, void *data, mgc_error *e)
{
    memset(m, 0, sizeof *m);
    if (n <= 0 || k <= 0 || ld < (size_t)k)
        return mgc_errorf(e, "cannot wrap a weight [%d, %d] with row stride %zu", n, k, ld);
    if (dt != RT_F32 && dt != RT_BF16)
        return mgc_errorf(e, "only f32 and bf16 weights can be wrapped in place, not %s", rt_dtype_name(dt));
    m->dtype = dt;
    m->n = n;
    m->k = k;
    m->ld = ld;
    m->data = data;
    m->bytes = (dt == RT_F32 ? 4 : 2) * (size_t)n * (size_t)k;
    return 0;
}

void rt_matrix_free(rt_matrix *m)
{
    if (m->owned) {
        size_t eb = m->exps ? n_blocks(m->n) * (size_t)m->k : 0;
        rt_pages_free(m->data, m->bytes - eb);
        rt_pages_free(m->exps, eb);
    }
    memset(m, 0, sizeof *m);
}

/* tt's sign-magnitude byte <-> the int8 we store. */
static int8_t bf8_code_to_i8(uint8_t code)
{
    int mag = code & 0x7f;
    return (int8_t)((code & 0x80) ? -mag : mag);
}

static uint8_t bf8_i8_to_code(int8_t q)
{
    return q < 0 ? (uint8_t)(0x80 | -q) : (uint8_t)q;
}

void rt_matrix_set_rows_f32(rt_matrix *m, int row0, int nrows, const float *src)
{
    assert(row0 >= 0 && nrows >= 0 && row0 + nrows <= m->n);
    const int K = m->k;
    if (m->dtype == RT_F32) {
        for (int r = 0; r < nrows; r++)
            memcpy((float *)m->data + (size_t)(row0 + r) * m->ld, src + (size_t)r * K, (size_t)K * sizeof(float));
        return;
    }
    if (m->dtype == RT_BF16) {
        for (int r = 0; r < nrows; r++)
            rt_store_bf16(src + (size_t)r * K, (uint16_t *)m->data + (size_t)(row0 + r) * m->ld, (size_t)K);
        return;
    }
    assert(m->dtype == RT_BF8_B || m->dtype == RT_BF4_B);
    assert(row0 % 16 == 0 && (nrows % 16 == 0 || row0 + nrows == m->n));
    const int W = rt_dtype_mant_bits(m->dtype);
    for (int nb = row0 / 16; nb * 16 < row0 + nrows; nb++) {
        for (int c = 0; c < K; c++) {
            float blk[16];
            for (int j = 0; j < 16; j++) {
                int r = nb * 16 + j - row0;
                blk[j] = r < nrows ? src[(size_t)r * K + c] : 0.0f;
            }
            uint8_t e, codes[16];
            rt_bfp_encode_block(blk, W, &e, codes);
            uint8_t *ep = &m->exps[(size_t)nb * K + c];
            if ((e == 0xff) != (*ep == 0xff)) /* a write only when it changes: row ranges load in parallel */
                m->nonfinite += (e == 0xff) - (*ep == 0xff);
            *ep = e;
            int sh = rt_bf4_shift(c) % 8;
            for (int j = 0; j < 16; j++) {
                uint8_t *q = bfp_byte(m, (size_t)nb, j, c);
                *q = W == 7 ? (uint8_t)bf8_code_to_i8(codes[j]) : (uint8_t)((*q & ~(0xf << sh)) | codes[j] << sh);
            }
        }
    }
}

/* Code of (row, column c) of a block-float matrix, in tt's form. */
static uint8_t bfp_code(const rt_matrix *m, int row, int c)
{
    uint8_t byte = *bfp_byte(m, (size_t)row / 16, row % 16, c);
    if (m->dtype == RT_BF8_B)
        return bf8_i8_to_code((int8_t)byte);
    return (uint8_t)((byte >> (rt_bf4_shift(c) % 8)) & 0xf);
}

void rt_matrix_get_row_f32(const rt_matrix *m, int row, float *dst)
{
    assert(row >= 0 && row < m->n);
    const int K = m->k;
    switch (m->dtype) {
    case RT_F32:
        memcpy(dst, (const float *)m->data + (size_t)row * m->ld, (size_t)K * sizeof(float));
        return;
    case RT_BF16:
        rt_bf16_to_f32_row((const uint16_t *)m->data + (size_t)row * m->ld, dst, (size_t)K);
        return;
    default: {
        const int W = rt_dtype_mant_bits(m->dtype);
        const uint8_t *ex = m->exps + (size_t)(row / 16) * K;
        for (int c = 0; c < K; c++)
            dst[c] = rt_bfp_decode_value(ex[c], bfp_code(m, row, c), W);
    }
    }
}

/* ===================== GEMV: scalar (the reference order) ===================== */

static float reduce16(float p[16])
{
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            p[l] = p[l] + p[l + w];
    return p[0];
}

static void gemv_rows_scalar(const float *x, int M, const rt_matrix *w, float *y, size_t ldy)
{
    const int N = w->n, K = w->k;
    for (int r = 0; r < N; r++)
        for (int i = 0; i < M; i++) {
            const float *xi = x + (size_t)i * K;
            float p[16] = {0};
            if (w->dtype == RT_F32) {
                const float *wr = (const float *)w->data + (size_t)r * w->ld;
                for (int c = 0; c < K; c++)
                    p[c % 16] = fmaf(xi[c], wr[c], p[c % 16]);
            } else {
                const uint16_t *wr = (const uint16_t *)w->data + (size_t)r * w->ld;
                for (int c = 0; c < K; c++)
                    p[c % 16] = fmaf(xi[c], bf16f(wr[c]), p[c % 16]);
            }
            y[(size_t)i * ldy + r] = reduce16(p);
        }
}

/* The folded block scale: (x * 2^-(W-1)) * 2^(e-127); e = 0 gives 0 (the
 * block is all zero), e = 0xFF never reaches here (see rt_linear_isa). */
static float bfp_xs(float x, uint8_t e, float cw)
{
    return (x * cw) * u2f((uint32_t)e << 23);
}

static void gemv_bfp_scalar(const float *x, int M, const rt_matrix *w, float *y, size_t ldy)
{
    const int N = w->n, K = w->k, W = rt_dtype_mant_bits(w->dtype);
    const float cw = W == 7 ? 1.0f / 64 : 1.0f / 4;
    for (size_t nb = 0; nb < n_blocks(N); nb++) {
        int rows = N - (int)nb * 16 < 16 ? N - (int)nb * 16 : 16;
        for (int i = 0; i < M; i++) {
            float acc[16] = {0};
            for (int c = 0; c < K; c++) {
                float xs = bfp_xs(x[(size_t)i * K + c], w->exps[nb * K + c], cw);
                int sh = rt_bf4_shift(c) % 8;
                for (int j = 0; j < 16; j++) {
                    uint8_t q = *bfp_byte(w, nb, j, c);
                    float v = W == 7 ? (float)(int8_t)q : bf4_code_value[(q >> sh) & 0xf];
                    acc[j] = fmaf(xs, v, acc[j]);
                }
            }
            memcpy(y + (size_t)i * ldy + nb * 16, acc, (size_t)rows * sizeof(float));
        }
    }
}

/* Block-float matrix holding Inf/NaN: the same order with the exactly
 * decoded weights, so Inf/NaN propagate per IEEE (shared by every ISA). */
static void gemv_bfp_exact(const float *x, int M, const rt_matrix *w, float *y, size_t ldy)
{
    const int N = w->n, K = w->k, W = rt_dtype_mant_bits(w->dtype);
    for (int r = 0; r < N; r++)
        for (int i = 0; i < M; i++) {
            float acc = 0;
            for (int c = 0; c < K; c++)
                acc = fmaf(x[(size_t)i * K + c],
                           rt_bfp_decode_value(w->exps[(size_t)(r / 16) * K + c], bfp_code(w, r, c), W), acc);
            y[(size_t)i * ldy + r] = acc;
        }
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "simd_target.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ===================== GEMV: AVX2 ===================== */
RT_TARGET_AVX2_BEGIN

static ALWAYS_INLINE __m256 ld8_avx2(const void *w, int bf16, size_t off)
{
    if (bf16) {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + off));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    return _mm256_loadu_ps((const float *)w + off);
}

/* Rows n0..n0+R-1 for M rows of x; 16 lanes as two 8-lane halves. */
static ALWAYS_INLINE void rows_avx2(const float *x, int M, const rt_matrix *w, float *y, size_t ldy, int n0, int R)
{
    const int K = w->k, bf16 = w->dtype == RT_BF16;
    __m256 lo[4][2], hi[4][2];
#pragma GCC unroll 4
    for (int i = 0; i < M; i++)
#pragma GCC unroll 2
        for (int r = 0; r < R; r++)
            lo[i][r] = hi[i][r] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256 wl[2], wh[2];
#pragma GCC unroll 2
        for (int r = 0; r < R; r++) {
            size_t off = (size_t)(n0 + r) * w->ld + k;
            wl[r] = ld8_avx2(w->data, bf16, off);
            wh[r] = ld8_avx2(w->data, bf16, off + 8);
        }
#pragma GCC unroll 4
        for (int i = 0; i < M; i++) {
            __m256 xl = _mm256_loadu_ps(x + (size_t)i * K + k), xh = _mm256_loadu_ps(x + (size_t)i * K + k + 8);
#pragma GCC unroll 2
            for (int r = 0; r < R; r++) {
                lo[i][r] = _mm256_fmadd_ps(xl, wl[r], lo[i][r]);
                hi[i][r] = _mm256_fmadd_ps(xh, wh[r], hi[i][r]);
            }
        }
    }
    for (int i = 0; i < M; i++)
        for (int r = 0; r < R; r++) {
            float p[16];
            _mm256_storeu_ps(p, lo[i][r]);
            _mm256_storeu_ps(p + 8, hi[i][r]);
            const float *xi = x + (size_t)i * K;
            size_t off = (size_t)(n0 + r) * w->ld;
            for (int c = k; c < K; c++) {
                float wv = bf16 ? bf16f(((const uint16_t *)w->data)[off + c]) : ((const float *)w->data)[off + c];
                p[c % 16] = fmaf(xi[c], wv, p[c % 16]);
            }
            y[(size_t)i * ldy + n0 + r] = reduce16(p);
        }
}

static void gemv_rows_avx2(const float *x, int M, const rt_matrix *w, float *y, size_t ldy)
{
    int n0 = 0;
    if (M == 1)
        for (; n0 + 2 <= w->n; n0 += 2)
            rows_avx2(x, 1, w, y, ldy, n0, 2);
    for (; n0 < w->n; n0++)
        switch (M) {
        case 1: rows_avx2(x, 1, w, y, ldy, n0, 1); break;
        case 2: rows_avx2(x, 2, w, y, ldy, n0, 1); break;
        case 3: rows_avx2(x, 3, w, y, ldy, n0, 1); break;
        default: rows_avx2(x, 4, w, y, ldy, n0, 1); break;
        }
}

/* One row block (16 outputs) for M rows of x, two 8-lane halves. */
static ALWAYS_INLINE void bfp_block_avx2(const float *x, int M, const rt_matrix *w, float *y, size_t ldy, size_t nb, int W)
{
    const int K = w->k, N = w->n;
    const float cw = W == 7 ? 1.0f / 64 : 1.0f / 4;
    const __m256 mag_tab = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u), nib = _mm256_set1_epi32(0xf);
    __m256 lo[4], hi[4];
#pragma GCC unroll 4
    for (int i = 0; i < M; i++)
        lo[i] = hi[i] = _mm256_setzero_ps();
    const uint8_t *ex = w->exps + nb * K;
    for (int c = 0; c < K; c++) {
        __m256 wl, wh;
        const uint8_t *line = rt_bfp_line(w, nb, c);
        if (W == 7) {
            const int8_t *q = (const int8_t *)line + rt_bfp_line_byte(RT_BF8_B, 0, c);
            wl = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q)));
            wh = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8))));
        } else {
            /* rows 0-7 and 8-15: the two halves of the line */
            int sh = rt_bf4_shift(c);
            __m256i bl = _mm256_and_si256(_mm256_srli_epi32(_mm256_loadu_si256((const __m256i *)line), sh), nib);
            __m256i bh = _mm256_and_si256(_mm256_srli_epi32(_mm256_loadu_si256((const __m256i *)(line + 32)), sh), nib);
            /* magnitude by table (low 3 bits), sign from bit 3 */
            wl = _mm256_xor_ps(_mm256_permutevar8x32_ps(mag_tab, bl),
                               _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(bl, 28), sign)));
            wh = _mm256_xor_ps(_mm256_permutevar8x32_ps(mag_tab, bh),
                               _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(bh, 28), sign)));
        }
#pragma GCC unroll 4
        for (int i = 0; i < M; i++) {
            __m256 xs = _mm256_set1_ps(bfp_xs(x[(size_t)i * K + c], ex[c], cw));
            lo[i] = _mm256_fmadd_ps(xs, wl, lo[i]);
            hi[i] = _mm256_fmadd_ps(xs, wh, hi[i]);
        }
    }
    int rows = N - (int)nb * 16 < 16 ? N - (int)nb * 16 : 16;
    for (int i = 0; i < M; i++) {
        float p[16];
        _mm256_storeu_ps(p, lo[i]);
        _mm256_storeu_ps(p + 8, hi[i]);
        memcpy(y + (size_t)i * ldy + nb * 16, p, (size_t)rows * sizeof(float));
    }
}

static void gemv_bfp_avx2(const float *x, int M, const rt_matrix *w, float *y, size_t ldy)
{
    const int W = rt_dtype_mant_bits(w->dtype);
    for (size_t nb = 0; nb < n_blocks(w->n); nb++) {
        if (W == 7)
            switch (M) {
            case 1: bfp_block_avx2(x, 1, w, y, ldy, nb, 7); break;
            case 2: bfp_block_avx2(x, 2, w, y, ldy, nb, 7); break;
            case 3: bfp_block_avx2(x, 3, w, y, ldy, nb, 7); break;
            default: bfp_block_avx2(x, 4, w, y, ldy, nb, 7); break;
            }
        else
            switch (M) {
            case 1: bfp_block_avx2(x, 1, w, y, ldy, nb, 3); break;
            case 2: bfp_block_avx2(x, 2, w, y, ldy, nb, 3); break;
            case 3: bfp_block_avx2(x, 3, w, y, ldy, nb, 3); break;
            default: bfp_block_avx2(x, 4, w, y, ldy, nb, 3); break;
            }
    }
}

RT_TARGET_END

/* ===================== GEMV: AVX-512 ===================== */
RT_TARGET_AVX512_BEGIN
#include "bf16_vec.h"
#include "bfp_fold.h"

static ALWAYS_INLINE float reduce16_avx512(__m512 p)
{
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(p), _mm512_extractf32x8_ps(p, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

static ALWAYS_INLINE __m512 ld16_avx512(const void *w, int bf16, size_t off, __mmask16 m)
{
    if (bf16) {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + off);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    return _mm512_maskz_loadu_ps(m, (const float *)w + off);
}

/* Rows n0..n0+R-1 for M rows of x: R*M independent fma chains.  BF16, M
 * and R are compile-time constants at every call site. */
static ALWAYS_INLINE void rows_avx512(const float *x, int M, const rt_matrix *w, float *y, size_t ldy, int n0, int R, int BF16,
                                      int prefetch)
{
    const int K = w->k, N = w->n;
    const float *wf[8];
    const uint16_t *wh[8];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        wf[r] = (const float *)w->data + (size_t)(n0 + r) * w->ld;
        wh[r] = (const uint16_t *)w->data + (size_t)(n0 + r) * w->ld;
    }
    __m512 acc[16][8];
#pragma GCC unroll 16
    for (int i = 0; i < M; i++)
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[i][r] = _mm512_setzero_ps();
    /* Rows are short streams (a 2048-wide bf16 row is 64 cache lines), too
     * short for the hardware prefetcher to ramp up on; so while reading
     * rows n0..n0+R-1 we prefetch the same line of rows n0+R..n0+2R-1. */
    const size_t pf = (size_t)R * w->ld * (BF16 ? 2 : 4);
    const int last_group = !prefetch || n0 + 2 * R > N;
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 wv[8];
        if (!last_group && (!BF16 || !(k & 16)))
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                _mm_prefetch((const char *)(BF16 ? (const void *)(wh[r] + k) : (const void *)(wf[r] + k)) + pf,
                             _MM_HINT_T0);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            wv[r] = BF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(
                               _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(wh[r] + k))), 16))
                         : _mm512_loadu_ps(wf[r] + k);
#pragma GCC unroll 16
        for (int i = 0; i < M; i++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)i * K + k);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                acc[i][r] = _mm512_fmadd_ps(xv, wv[r], acc[i][r]);
        }
    }
    if (k < K) {
        __mmask16 m = (__mmask16)((1u << (K - k)) - 1);
        __m512 wv[8];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            wv[r] = BF16 ? ld16_avx512(wh[r], 1, (size_t)k, m) : ld16_avx512(wf[r], 0, (size_t)k, m);
#pragma GCC unroll 16
        for (int i = 0; i < M; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)i * K + k);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) /* masked lanes keep their partial sum */
                acc[i][r] = _mm512_mask3_fmadd_ps(xv, wv[r], acc[i][r], m);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < M; i++)
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            y[(size_t)i * ldy + n0 + r] = reduce16_avx512(acc[i][r]);
}

#define ROWS_CALL(M_, R_)                                                                                      \
    do {                                                                                                       \
        if (bf16)                                                                                              \
            rows_avx512(x, M_, w, y, ldy, n0, R_, 1, 1);                                                       \
        else                                                                                                   \
            rows_avx512(x, M_, w, y, ldy, n0, R_, 0, 1);                                                       \
    } while (0)

static void gemv_rows_avx512(const float *x, int M, const rt_matrix *w, float *y, size_t ldy)
{
    int n0 = 0;
    const int N = w->n, bf16 = w->dtype == RT_BF16;
    /* M*R fma chains per weight load: up to 16 accumulators */
    switch (M) {
    case 1:
        for (; n0 + 8 <= N; n0 += 8)
            ROWS_CALL(1, 8);
        break;
    case 2:
        for (; n0 + 4 <= N; n0 += 4)
            ROWS_CALL(2, 4);
        break;
    case 3:
        for (; n0 + 4 <= N; n0 += 4)
            ROWS_CALL(3, 4);
        break;
    case 4:
        for (; n0 + 4 <= N; n0 += 4)
            ROWS_CALL(4, 4);
        break;
    case 8:
        for (; n0 + 2 <= N; n0 += 2)
            ROWS_CALL(8, 2);
        break;
    default:
        assert(M == 16);
        break;
    }
    for (; n0 < N; n0++)
        switch (M) {
        case 1: ROWS_CALL(1, 1); break;
        case 2: ROWS_CALL(2, 1); break;
        case 3: ROWS_CALL(3, 1); break;
        case 4: ROWS_CALL(4, 1); break;
        case 8: ROWS_CALL(8, 1); break;
        default: ROWS_CALL(16, 1); break;
        }
}
#undef ROWS_CALL

/* Rows n0..n0+R-1 (R = 4 or 1) for every row of x, in register tiles of R
 * weight rows x up to 4 x rows: R*4 accumulators, each widened weight vector
 * used by 4 x rows and each x vector by R weight rows.  The R weight rows
 * (R*K elements) come from memory for the first x tile and from L1 for the
 * others, so a step of m users reads the weights once. */
static ALWAYS_INLINE void rows_tile_avx512(const float *x, int M, const rt_matrix *w, float *y, size_t ldy, int n0, int R,
                                           int BF16)
{
    const int K = w->k;
    int i0 = 0;
    for (; i0 + 4 <= M; i0 += 4)
        rows_avx512(x + (size_t)i0 * K, 4, w, y + (size_t)i0 * ldy, ldy, n0, R, BF16, i0 == 0);
    switch (M - i0) {
    case 1: rows_avx512(x + (size_t)i0 * K, 1, w, y + (size_t)i0 * ldy, ldy, n0, R, BF16, i0 == 0); break;
    case 2: rows_avx512(x + (size_t)i0 * K, 2, w, y + (size_t)i0 * ldy, ldy, n0, R, BF16, i0 == 0); break;
    case 3: rows_avx512(x + (size_t)i0 * K, 3, w, y + (size_t)i0 * ldy, ldy, n0, R, BF16, i0 == 0); break;
    default: break;
    }
}

/* Batched decode (any M): every output is still the canonical 16-lane dot of
 * kernels.h, so a user's outputs do not depend on the batch. */
static void gemv_rows_tiled_avx512(const float *x, int M, const rt_matrix *w, float *y, size_t ldy)
{
    const int N = w->n;
    int n0 = 0;
    if (w->dtype == RT_BF16) {
        for (; n0 + 4 <= N; n0 += 4)
            rows_tile_avx512(x, M, w, y, ldy, n0, 4, 1);
        for (; n0 < N; n0++)
            rows_tile_avx512(x, M, w, y, ldy, n0, 1, 1);
    } else {
        for (; n0 + 4 <= N; n0 += 4)
            rows_tile_avx512(x, M, w, y, ldy, n0, 4, 0);
        for (; n0 < N; n0++)
            rows_tile_avx512(x, M, w, y, ldy, n0, 1, 0);
    }
}

/* NBB row blocks nb0.. (16 outputs each) for M rows of x.  Per 16 columns the
 * folded scales x*2^-(W-1)*2^(e-127) are computed as vectors and parked in
 * xs[][][], then each column's weights are one extend+convert (bf8_b) or one
 * table permute (bf4_b, two columns per 16 loaded bytes) and M fmas. */
static ALWAYS_INLINE int bfp_blocks_avx512(const float *x, int M, const rt_matrix *w, float *y, size_t ldy, size_t nb0,
                                           int NBB, int W, int PAIR)
{
    __mmask16 bad = 0;
    const int K = w->k, N = w->n;
    const __m512 cw = _mm512_set1_ps(W == 7 ? 1.0f / 64 : 1.0f / 4);
    const __m512 tab = _mm512_loadu_ps(bf4_code_value);
    __m512 acc[16][8];
    float xs[16][8][16] __attribute__((aligned(64)));
#pragma GCC unroll 16
    for (int i = 0; i < M; i++)
#pragma GCC unroll 16
        for (int b = 0; b < NBB; b++)
            acc[i][b] = _mm512_setzero_ps();
    for (int k0 = 0; k0 < K; k0 += 16) {
        int kc = K - k0 >= 16 ? 16 : K - k0;
        __mmask16 km = (__mmask16)((1u << kc) - 1);
        /* each block's lines of this chunk: one base per block, so that the
         * column loop indexes them with one register (the 8 block streams
         * computed per column spilled their addresses to the stack); and
         * each block's streams prefetched a few chunks ahead (bfp_fold.h):
         * the kernel outruns the hardware prefetcher on NBB interleaved
         * streams */
        const uint8_t *qb[16];
#pragma GCC unroll 16
        for (int b = 0; b < NBB; b++) {
            qb[b] = rt_bfp_line(w, nb0 + b, k0);
            rt_bfp_prefetch(w, W, nb0 + b, k0, qb[b], nb0 + b + (size_t)NBB);
        }
        __m512 xv[16];
        __mmask16 nz[16];
#pragma GCC unroll 16
        for (int i = 0; i < M; i++) {
            if (PAIR)
                xv[i] = rt_bfp_x16(x + (size_t)i * K + k0, km, cw, &nz[i]);
            else
                xv[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(km, x + (size_t)i * K + k0), cw);
        }
#pragma GCC unroll 16
        for (int b = 0; b < NBB; b++) {
            __m128i e8 = _mm_maskz_loadu_epi8(km, w->exps + (nb0 + b) * K + k0);
            __m512i e = _mm512_cvtepu8_epi32(e8);
            __m512 sv = rt_bfp_scale16(e);
            __mmask16 live = 0, tiny = 0;
            if (PAIR == 2)
                rt_bfp_fold_cols(e, W, &live, &tiny);
#pragma GCC unroll 16
            for (int i = 0; i < M; i++) {
                __m512 v = _mm512_mul_ps(xv[i], sv);
                _mm512_store_ps(xs[i][b], v);
                if (PAIR == 2)
                    bad |= rt_bfp_fold_bad(v, live, tiny, nz[i]);
            }
        }
/* bf8_b column cc of row block b into every user's accumulators */
#define BF8_COL(cc)                                                                                            \
    do {                                                                                                       \
        const int8_t *q = (const int8_t *)qb[b] + (size_t)(cc) * 16;                                           \
        BFP_COL(cc, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q))));            \
    } while (0)
/* column cc of row block b (weights wv) into every user's accumulators */
#define BFP_COL(cc, wv)                                                                                        \
    do {                                                                                                       \
        _Pragma("GCC unroll 16") for (int i = 0; i < M; i++)                                                   \
            acc[i][b] = _mm512_fmadd_ps(_mm512_set1_ps(xs[i][b][(cc)]), (wv), acc[i][b]);                      \
    } while (0)
/* the pair order past an odd k: acc += 0 * 0 (turns a flushed -0 into +0) */
#define PAD_COL()                                                                                              \
    do {                                                                                                       \
        _Pragma("GCC unroll 16") for (int i = 0; i < M; i++)                                                   \
            acc[i][b] = _mm512_add_ps(acc[i][b], _mm512_setzero_ps());                                         \
    } while (0)
        if (W == 7) {
            /* a column's 16 mantissas are 16 contiguous bytes (kernels.h) */
            for (int kk = 0; kk < kc; kk += PAIR ? 2 : 1) {
#pragma GCC unroll 16
                for (int b = 0; b < NBB; b++) {
                    if (PAIR) { /* column pairs, the odd column first */
                        if (kk + 1 < kc)
                            BF8_COL(kk + 1);
                        else
                            PAD_COL();
                    }
                    BF8_COL(kk);
                }
            }
        } else {
            /* bf4_b in the pair order: rt_gemv_bf4_pairs_dp */
            assert(!PAIR);
            /* a line: 8 columns, column kk + 2r at bit 4r of each row's
             * dword and kk + 2r + 1 at bit 16 + 4r (vpermps reads only the
             * low 4 bits of each index) */
            for (int kk = 0; kk < kc; kk += 8) {
                int cols = kc - kk < 8 ? kc - kk : 8;
#pragma GCC unroll 16
                for (int b = 0; b < NBB; b++) {
                    __m512i raw = _mm512_loadu_si512((const void *)(qb[b] + (size_t)(kk / 8) * RT_BFP_LINE_BYTES));
                    if (cols == 8) {
#pragma GCC unroll 8
                        for (int c = 0; c < 8; c++)
                            BFP_COL(kk + c, _mm512_permutexvar_ps(_mm512_srli_epi32(raw, rt_bf4_shift(c)), tab));
                    } else {
                        for (int c = 0; c < cols; c++)
                            BFP_COL(kk + c, _mm512_permutexvar_ps(_mm512_srli_epi32(raw, rt_bf4_shift(c)), tab));
                    }
                }
            }
        }
#undef BF8_COL
#undef BFP_COL
#undef PAD_COL
    }
#pragma GCC unroll 16
    for (int b = 0; b < NBB; b++)
        rt_bfp_store_block(y, ldy, N, nb0 + (size_t)b, M, &acc[0][b], 8);
    return bad != 0;
}

#define BFP_CALL(M_, NBB_)                                                                                     \
    do {                                                                                                       \
        if (W == 7)                                                                                            \
            bad |= PAIR == 2   ? bfp_blocks_avx512(x, M_, w, y, ldy, nb, NBB_, 7, 2)                           \
                   : PAIR == 1 ? bfp_blocks_avx512(x, M_, w, y, ldy, nb, NBB_, 7, 1)                           \
                               : bfp_blocks_avx512(x, M_, w, y, ldy, nb, NBB_, 7, 0);                          \
        else                                                                                                   \
            bad |= bfp_blocks_avx512(x, M_, w, y, ldy, nb, NBB_, 3, 0);                                        \
    } while (0)

/* PAIR 0: kernels.h's GEMV order; 1: the column-pair order of
 * rt_bfpdot_ref (see rt_linear_bfp_pairs_pool), for inputs known to fold
 * exactly; 2: that order, checking every fold: returns 1 when some output
 * left the order's exact reach (the caller recomputes), else 0.  The pair
 * order is bf8_b's only: bf4_b's is rt_gemv_bf4_pairs_dp (the pair order
 * runs only where the CPU has AVX512-BF16). */
static int gemv_bfp_avx512_order(const float *x, int M, const rt_matrix *w, float *y, size_t ldy, int PAIR)
{
    const int W = rt_dtype_mant_bits(w->dtype);
    const size_t NB = n_blocks(w->n);
    size_t nb = 0;
    int bad = 0;
    /* M*NBB fma chains per weight vector: up to 16 accumulators, and at
     * least 8 (an fma's latency times its throughput) for one user */
    if (M <= 2)
        for (; nb + 8 <= NB; nb += 8)
            switch (M) {
            case 1: BFP_CALL(1, 8); break;
            default: BFP_CALL(2, 8); break;
            }
    if (M <= 4)
        for (; nb + 4 <= NB; nb += 4)
            switch (M) {
            case 1: BFP_CALL(1, 4); break;
            case 2: BFP_CALL(2, 4); break;
            case 3: BFP_CALL(3, 4); break;
            default: BFP_CALL(4, 4); break;
            }
    else if (M == 8)
        for (; nb + 2 <= NB; nb += 2)
            BFP_CALL(8, 2);
    for (; nb < NB; nb++)
        switch (M) {
        case 1: BFP_CALL(1, 1); break;
        case 2: BFP_CALL(2, 1); break;
        case 3: BFP_CALL(3, 1); break;
        case 4: BFP_CALL(4, 1); break;
        case 8: BFP_CALL(8, 1); break;
        default: assert(M == 16); BFP_CALL(16, 1); break;
        }
    return bad;
}

static void gemv_bfp_avx512(const float *x, int M, const rt_matrix *w, float *y, size_t ldy)
{
    gemv_bfp_avx512_order(x, M, w, y, ldy, 0);
}
#undef BFP_CALL

/* The pair order for any m <= RT_GEMV_MAX_M: x in groups of 16, 8, then 4
 * or fewer rows. */
static int gemv_bfp_pairs_avx512(const float *x, int m, const rt_matrix *w, float *y, size_t ldy, int checked)
{
    if (w->dtype == RT_BF4_B) {
        int r = rt_gemv_bf4_pairs_dp(x, m, w, y, ldy, checked);
        assert(r >= 0); /* rt_bfpdot_usable: the CPU has the bf16 dot */
        return r;
    }
    int bad = 0;
    for (int i0 = 0; i0 < m;) {
        int rem = m - i0, g = rem >= 16 ? 16 : rem >= 8 ? 8 : rem >= 4 ? 4 : rem;
        bad |= gemv_bfp_avx512_order(x + (size_t)i0 * w->k, g, w, y + (size_t)i0 * ldy, ldy, checked ? 2 : 1);
        i0 += g;
    }
    return bad;
}

/* Exact dequantisation for the sgemm path (same values as
 * panel_block_scalar); blocks with shared exponent 0xFF are not handled
 * (matrices with nonfinite blocks use the scalar version). */
static void panel_block_avx512(const rt_matrix *w, size_t nb, float *dst0, int P)
{
    const int K = w->k, W = rt_dtype_mant_bits(w->dtype);
    const __m512 tab = _mm512_loadu_ps(bf4_code_value);
    const __m512i wm1 = _mm512_set1_epi32(W - 1), one = _mm512_set1_epi32(1), sub_sh = _mm512_set1_epi32(23 - W);
    float sc[16] __attribute__((aligned(64)));
    for (int c0 = 0; c0 < K; c0 += 16) {
        int kc = K - c0 >= 16 ? 16 : K - c0;
        __mmask16 km = (__mmask16)((1u << kc) - 1);
        __m512i e = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(km, w->exps + nb * K + c0));
        /* 2^(e-127-(W-1)): normal bits (e-(W-1))<<23 when e >= W, else the
         * subnormal 1 << (e + 23 - W) */
        __m512i nrm = _mm512_slli_epi32(_mm512_sub_epi32(e, wm1), 23);
        __m512i sub = _mm512_sllv_epi32(one, _mm512_add_epi32(e, sub_sh));
        __mmask16 is_nrm = _mm512_cmpgt_epi32_mask(e, wm1);
        _mm512_store_ps(sc, _mm512_castsi512_ps(_mm512_mask_blend_epi32(is_nrm, sub, nrm)));
        for (int kk = 0; kk < kc; kk++) {
            int c = c0 + kk;
            const uint8_t *line = rt_bfp_line(w, nb, c);
            __m512 v = W == 7 ? _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                    _mm_loadu_si128((const __m128i *)(line + rt_bfp_line_byte(RT_BF8_B, 0, c)))))
                              : _mm512_permutexvar_ps(
                                    _mm512_srli_epi32(_mm512_loadu_si512((const void *)line), rt_bf4_shift(c)), tab);
            _mm512_storeu_ps(dst0 + (size_t)c * P, _mm512_mul_ps(v, _mm512_set1_ps(sc[kk])));
        }
    }
}

static void widen_bf16_avx512(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, ld16_avx512(src, 1, i, 0xffff));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, ld16_avx512(src, 1, i, m));
    }
}

RT_TARGET_END
#endif /* __x86_64__ */

/* ===================== prefill: OpenBLAS ===================== */

/* Weight rows dequantised per sgemm call: about 2 MiB of f32 (an L2's
 * worth), a multiple of 16, between 64 and 512 rows. */
static int panel_rows(const rt_matrix *w)
{
    size_t p = ((size_t)1 << 19) / (size_t)w->k;
    p = p / 16 * 16;
    if (p < 64)
        p = 64;
    if (p > 512)
        p = 512;
    size_t nr = n_blocks(w->n) * 16;
    return (int)(p < nr ? p : nr);
}

size_t rt_linear_scratch_floats(const rt_matrix *w, int m)
{
    if (w->dtype == RT_F32 || m <= RT_GEMV_MAX_M)
        return 0;
    return (size_t)panel_rows(w) * (size_t)w->k;
}

/* Row block nb of a block-float matrix, dequantised exactly into a W^T
 * panel: dst0[c*P + j] = W[16nb + j][c]. */
static void panel_block_scalar(const rt_matrix *w, size_t nb, float *dst0, int P)
{
    const int K = w->k, W = rt_dtype_mant_bits(w->dtype);
    for (int c = 0; c < K; c++) {
        uint8_t e = w->exps[nb * K + c];
        float *dst = dst0 + (size_t)c * P;
        if (e == 0xff) {
            for (int j = 0; j < 16; j++)
                dst[j] = rt_bfp_decode_value(e, bfp_code(w, (int)nb * 16 + j, c), W);
            continue;
        }
        /* exact 2^(e-127-(W-1)) (subnormal for tiny e) */
        float scale = rt_bfp_decode_value(e, (uint8_t)1, W);
        int sh = rt_bf4_shift(c) % 8;
        for (int j = 0; j < 16; j++) {
            uint8_t q = *bfp_byte(w, nb, j, c);
            dst[j] = (W == 7 ? (float)(int8_t)q : bf4_code_value[(q >> sh) & 0xf]) * scale;
        }
    }
}

/* Panel p0 (np rows from p0) of y = x @ W^T through sgemm, with this
 * thread's scratch panel. */
static void sgemm_panel(rt_isa isa, const float *x, int m, const rt_matrix *w, float *y, float *scratch, int p0,
                        int np, int P)
{
    const int N = w->n, K = w->k;
    if (w->dtype == RT_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, np, K, 1.0f, x, K,
                    (const float *)w->data + (size_t)p0 * w->ld, (int)w->ld, 0.0f, y + p0, N);
        return;
    }
    assert(scratch);
    if (w->dtype == RT_BF16) {
        /* panel = W rows p0..p0+np-1, [np][K] */
        for (int r = 0; r < np; r++) {
            const uint16_t *src = (const uint16_t *)w->data + (size_t)(p0 + r) * w->ld;
#if defined(__x86_64__)
            if (isa == RT_ISA_AVX512) {
                widen_bf16_avx512(src, scratch + (size_t)r * K, (size_t)K);
                continue;
            }
#endif
            rt_bf16_to_f32_row(src, scratch + (size_t)r * K, (size_t)K);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, np, K, 1.0f, x, K, scratch, K, 0.0f, y + p0, N);
        return;
    }
    /* Block floats decode naturally as W^T: panel [K][P], 16 outputs of a
     * column contiguous. */
    for (int nb = p0 / 16; nb * 16 < p0 + np; nb++) {
        float *dst0 = scratch + (size_t)(nb * 16 - p0);
#if defined(__x86_64__)
        if (isa == RT_ISA_AVX512 && !w->nonfinite) {
            panel_block_avx512(w, (size_t)nb, dst0, P);
            continue;
        }
#endif
        panel_block_scalar(w, (size_t)nb, dst0, P);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, np, K, 1.0f, x, K, scratch, P, 0.0f, y + p0, N);
}

/* ===================== entry points ===================== */

/* The GEMV of rows 0..w->n-1 of w (a view: see row_view) for at most 4
 * rows of x (AVX-512: 1-4, 8 or 16), outputs at y with row stride ldy. */
static void gemv_group(rt_isa isa, const float *x, int m, const rt_matrix *w, float *y, size_t ldy)
{
    const int blocked = w->dtype == RT_BF8_B || w->dtype == RT_BF4_B;
    if (blocked && w->nonfinite) {
        gemv_bfp_exact(x, m, w, y, ldy); /* any m */
        return;
    }
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512) {
        if (blocked)
            gemv_bfp_avx512(x, m, w, y, ldy);
        else
            gemv_rows_avx512(x, m, w, y, ldy);
        return;
    }
    if (isa == RT_ISA_AVX2) {
        if (blocked)
            gemv_bfp_avx2(x, m, w, y, ldy);
        else
            gemv_rows_avx2(x, m, w, y, ldy);
        return;
    }
#endif
    if (blocked)
        gemv_bfp_scalar(x, m, w, y, ldy);
    else
        gemv_rows_scalar(x, m, w, y, ldy);
}

/* The GEMV for any m <= RT_GEMV_MAX_M: x in groups of rows that one pass
 * over the weights serves (AVX-512: 16, 8, then 4 or fewer; else 4). Every
 * output is the same dot in the same order whatever its group, so batched
 * decode gives the bits of one user at a time. */
static void gemv_any(rt_isa isa, const float *x, int m, const rt_matrix *w, float *y, size_t ldy)
{
    const int K = w->k;
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512 && m > 4 && (w->dtype == RT_F32 || w->dtype == RT_BF16)) {
        gemv_rows_tiled_avx512(x, m, w, y, ldy);
        return;
    }
#endif
    for (int i0 = 0; i0 < m;) {
        int rem = m - i0, g = rem < 4 ? rem : 4;
        if (isa == RT_ISA_AVX512 && !(w->nonfinite && (w->dtype == RT_BF8_B || w->dtype == RT_BF4_B)))
            g = rem >= 16 ? 16 : rem >= 8 ? 8 : g;
        gemv_group(isa, x + (size_t)i0 * K, g, w, y + (size_t)i0 * ldy, ldy);
        i0 += g;
    }
}

/* Rows r0..r1-1 of w as a matrix of its own (r0 a multiple of 16 for the
 * block floats, whose row blocks are then whole). */
static rt_matrix row_view(const rt_matrix *w, int r0, int r1)
{
    rt_matrix v = *w;
    v.owned = 0;
    v.n = r1 - r0;
    switch (w->dtype) {
    case RT_F32:
        v.data = (float *)w->data + (size_t)r0 * w->ld;
        break;
    case RT_BF16:
        v.data = (uint16_t *)w->data + (size_t)r0 * w->ld;
        break;
    default:
        assert(r0 % 16 == 0);
        v.data = rt_bfp_line(w, (size_t)(r0 / 16), 0);
        v.exps = w->exps + (size_t)(r0 / 16) * (size_t)w->k;
        break;
    }
    return v;
}

/* How the work of one rt_linear call is cut into tasks.  The cut depends
 * only on the shapes (never on the thread count), and each output is
 * computed by one task in the order of kernels.h, so results are the same
 * bits with any number of threads. */
typedef struct linear_job {
    rt_isa isa;
    const float *x;
    int m;
    const rt_matrix *w;
    float *y;
    float *scratch;
    size_t scratch_per_thread;
    int rows; /* weight rows per task: a multiple of 16 */
    int checked; /* rt_linear_bfp_pairs_pool: check every fold (pairs_fold_exact failed) */
} linear_job;

/* GEMV tasks: about 256 KiB of weights each (enough to amortise the hand
 * off, small enough to balance two cores when a neighbour steals one).
 * Block floats: a multiple of 128 rows, the 8 row blocks the AVX-512 GEMV
 * interleaves for one or two users; a task of 15 blocks ran its last 3 as
 * one fma chain each (latency-bound, a quarter of bf8_b decode's GEMV). */
static int gemv_task_rows(const rt_matrix *w)
{
    size_t unit = w->dtype == RT_BF8_B || w->dtype == RT_BF4_B ? 128 : 16;
    /* cut into a multiple of 4 tasks when few: bf4_b's [1024 x 1024] was
     * 384 + 384 + 256 rows, so on 2 threads one ran 640 of them while the
     * other idled after 384 (k_proj and v_proj at 28 GB/s, the large
     * linears at 36-39, 11 % of a Qwen3-0.6B bf4_b decode step between the
     * two) */
    return rt_gemv_task_rows(w->n, w->bytes / (size_t)w->n + 1, unit, (size_t)256 << 10);
}

int rt_gemv_task_rows(int n, size_t row_bytes, size_t unit, size_t task_bytes)
{
    size_t r = task_bytes / row_bytes / unit * unit;
    r = r < unit ? unit : r > (size_t)1 << 20 ? (size_t)1 << 20 : r;
    size_t units = ((size_t)n + unit - 1) / unit, tasks = ((size_t)n + r - 1) / r;
    if (tasks < 16 && units >= 4) {
        tasks = (tasks + 3) / 4 * 4;
        r = (units + tasks - 1) / tasks * unit;
    }
    return (int)r;
}

static void gemv_task(void *arg, int task, int thread)
{
    const linear_job *j = arg;
    int r0 = task * j->rows, r1 = r0 + j->rows < j->w->n ? r0 + j->rows : j->w->n;
    rt_matrix v = row_view(j->w, r0, r1);
    gemv_any(j->isa, j->x, j->m, &v, j->y + r0, (size_t)j->w->n);
}

static void sgemm_task(void *arg, int task, int thread)
{
    const linear_job *j = arg;
    int p0 = task * j->rows, np = p0 + j->rows < j->w->n ? j->rows : j->w->n - p0;
    sgemm_panel(j->isa, j->x, j->m, j->w, j->y, j->scratch ? j->scratch + (size_t)thread * j->scratch_per_thread : NULL,
                p0, np, j->rows);
}

void rt_linear_pool_isa(rt_pool *pool, rt_isa isa, const float *x, int m, const rt_matrix *w, float *y,
                        float *scratch)
{
    assert(m >= 0 && w->data);
    if (m == 0)
        return;
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
    linear_job j = {.isa = isa, .x = x, .m = m, .w = w, .y = y, .scratch = scratch};
    if (m > RT_GEMV_MAX_M) {
        j.rows = panel_rows(w);
        j.scratch_per_thread = rt_linear_scratch_floats(w, m);
        rt_pool_run(pool, (w->n + j.rows - 1) / j.rows, sgemm_task, &j);
        return;
    }
    j.rows = gemv_task_rows(w);
    rt_pool_run(pool, (w->n + j.rows - 1) / j.rows, gemv_task, &j);
}

_Atomic long rt_bfp_pairs_exact_tasks;

/* Whether every fold x * 2^-(W-1) * 2^(e-127) of this call is a normal f32
 * (or a zero x, or a zero column), from the exponent range of x and of the
 * matrix's blocks (rt_matrix_scan_exponents; unknown: no), no weight is
 * an f32 subnormal and no x is Inf or NaN.  Then the GEMV needs no check per fold.  x's
 * rounding to bf16 may carry into the exponent: one more at the top. */
static int pairs_fold_exact(const float *x, int m, const rt_matrix *w)
{
    const int W = rt_dtype_mant_bits(w->dtype);
    if (w->exp_max == 0)
        return 1; /* no nonzero weight: every fold is zero */
    if (w->exp_min > w->exp_max || w->exp_min < W)
        return 0; /* unknown, or f32-subnormal weights */
    int lo = 255, hi = 0;
    for (size_t i = 0; i < (size_t)m * (size_t)w->k; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        int ex = (int)((u >> 23) & 0xff);
        if (ex == 0)
            continue; /* zero, or subnormal: flushed to zero */
        if (ex == 0xff)
            return 0; /* Inf or NaN: the checked path hands it to rt_bfpdot_ref */
        lo = ex < lo ? ex : lo;
        hi = ex > hi ? ex : hi;
    }
    if (hi == 0)
        return 1; /* x all zero */
    return lo + w->exp_min - 127 - (W - 1) >= 1 && hi + 1 + w->exp_max - 127 - (W - 1) <= 254;
}

#if defined(__x86_64__)
/* One task of rt_linear_bfp_pairs_pool: weight rows [r0, r1). */
static void pairs_task(void *arg, int task, int thread)
{
    const linear_job *j = arg;
    int r0 = task * j->rows, r1 = r0 + j->rows < j->w->n ? r0 + j->rows : j->w->n;
    rt_matrix v = row_view(j->w, r0, r1);
    /* the instruction this order copies flushes subnormal inputs and sums
     * (rt_bfpdot_ref): so do these fmas (MXCSR FTZ and DAZ), this task only */
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u);
    int bad = gemv_bfp_pairs_avx512(j->x, j->m, &v, j->y + r0, (size_t)j->w->n, j->checked);
    _mm_setcsr(csr);
    if (!bad)
        return;
    atomic_fetch_add_explicit(&rt_bfp_pairs_exact_tasks, 1, memory_order_relaxed);
    /* an x * scale outside the normal range, or weights that are f32
     * subnormals: every output of the task again, by the order's definition */
    float *row = malloc(sizeof(float) * (size_t)j->w->k);
    if (!row)
        abort(); /* a few KiB; no way to report from a pool task */
    for (int r = r0; r < r1; r++) {
        rt_matrix_get_row_f32(j->w, r, row);
        for (int i = 0; i < j->m; i++)
            j->y[(size_t)i * (size_t)j->w->n + (size_t)r] = rt_bfpdot_ref(j->x + (size_t)i * j->w->k, row, j->w->k);
    }
    free(row);
}
#endif

void rt_linear_bfp_pairs_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y)
{
    assert(rt_bfpdot_usable(w) && m >= 0 && m <= RT_GEMV_MAX_M);
#if defined(__x86_64__)
    linear_job j = {.isa = RT_ISA_AVX512, .x = x, .m = m, .w = w, .y = y, .rows = gemv_task_rows(w),
                    .checked = !pairs_fold_exact(x, m, w)};
    if (m > 0)
        rt_pool_run(pool, (w->n + j.rows - 1) / j.rows, pairs_task, &j);
#else
    (void)pool, (void)x, (void)y;
#endif
}

void rt_linear_isa(rt_isa isa, const float *x, int m, const rt_matrix *w, float *y, float *scratch)
{
    rt_linear_pool_isa(NULL, isa, x, m, w, y, scratch);
}

void rt_linear_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y, float *scratch)
{
    rt_linear_pool_isa(pool, rt_kernels_isa(), x, m, w, y, scratch);
}

void rt_linear(const float *x, int m, const rt_matrix *w, float *y, float *scratch)
{
    rt_linear_isa(rt_kernels_isa(), x, m, w, y, scratch);
}
