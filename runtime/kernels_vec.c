/* Vector primitives with a fixed summation order (kernels.h, "canonical
 * dot"): each ISA's build performs the same IEEE operations in the same
 * order, so the three give bit-identical results. */
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static float bf16f(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The canonical tree over 16 lane partials. */
static float reduce16(float p[16])
{
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            p[l] = p[l] + p[l + w];
    return p[0];
}

/* ---- exp ----
 * Cephes-style expf, written so that the scalar and vector builds perform
 * the same IEEE operations: clamp x to [-104, 89]; n = rint(x log2 e);
 * r = x - n ln2 in two fma steps (ln2 split as 0.693359375 + -2.12194440e-4);
 * e^r by a degree-7 polynomial (Horner with fma); times 2^n applied as two
 * normal powers of two 2^floor(n/2) * 2^(n - floor(n/2)) so that results
 * near overflow and in the subnormal range come out right.  NaN in -> NaN
 * out.  Max relative error 8.4e-8 (1.4 ulp) for normal results. */
#define EXP_LO (-104.0f)
#define EXP_HI 89.0f
#define EXP_LOG2E 1.44269504088896341f
#define EXP_C1 0.693359375f
#define EXP_C2 (-2.12194440e-4f)
#define EXP_P0 1.9875691500e-4f
#define EXP_P1 1.3981999507e-3f
#define EXP_P2 8.3334519073e-3f
#define EXP_P3 4.1665795894e-2f
#define EXP_P4 1.6666665459e-1f
#define EXP_P5 5.0000001201e-1f

static float pow2i(int e) /* 2^e for -126 <= e <= 127 */
{
    uint32_t u = (uint32_t)(e + 127) << 23;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float exp_scalar(float x)
{
    if (isnan(x))
        return x;
    float xc = x < EXP_LO ? EXP_LO : x > EXP_HI ? EXP_HI : x;
    float n = rintf(xc * EXP_LOG2E);
    float r = fmaf(n, -EXP_C1, xc);
    r = fmaf(n, -EXP_C2, r);
    float q = fmaf(EXP_P0, r, EXP_P1);
    q = fmaf(q, r, EXP_P2);
    q = fmaf(q, r, EXP_P3);
    q = fmaf(q, r, EXP_P4);
    q = fmaf(q, r, EXP_P5);
    float y = fmaf(q, r * r, r) + 1.0f;
    int ni = (int)n, h = ni >= 0 ? ni / 2 : -((1 - ni) / 2); /* floor(n/2) */
    return (y * pow2i(h)) * pow2i(ni - h);
}

static float dot_f32_scalar(const float *a, const float *b, int n)
{
    float p[16] = {0};
    for (int k = 0; k < n; k++)
        p[k % 16] = fmaf(a[k], b[k], p[k % 16]);
    return reduce16(p);
}

static float dot_bf16_scalar(const float *a, const uint16_t *b, int n)
{
    float p[16] = {0};
    for (int k = 0; k < n; k++)
        p[k % 16] = fmaf(a[k], bf16f(b[k]), p[k % 16]);
    return reduce16(p);
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "simd_target.h"

RT_TARGET_AVX2_BEGIN

static float dot_f32_avx2(const float *a, const float *b, int n)
{
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16) {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), hi);
    }
    float p[16];
    _mm256_storeu_ps(p, lo);
    _mm256_storeu_ps(p + 8, hi);
    for (; k < n; k++) /* tail lanes: the same fma the vector code would do */
        p[k % 16] = fmaf(a[k], b[k], p[k % 16]);
    return reduce16(p);
}

static inline __m256 bf16x8_avx2(const uint16_t *p)
{
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static float dot_bf16_avx2(const float *a, const uint16_t *b, int n)
{
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16) {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), bf16x8_avx2(b + k), lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), bf16x8_avx2(b + k + 8), hi);
    }
    float p[16];
    _mm256_storeu_ps(p, lo);
    _mm256_storeu_ps(p + 8, hi);
    for (; k < n; k++)
        p[k % 16] = fmaf(a[k], bf16f(b[k]), p[k % 16]);
    return reduce16(p);
}

static void axpy_f32_avx2(float alpha, const float *x, float *y, int n)
{
    __m256 va = _mm256_set1_ps(alpha);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] = fmaf(alpha, x[i], y[i]);
}

static void axpy_bf16_avx2(float alpha, const uint16_t *x, float *y, int n)
{
    __m256 va = _mm256_set1_ps(alpha);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, bf16x8_avx2(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] = fmaf(alpha, bf16f(x[i]), y[i]);
}

static inline __m256 exp8_avx2(__m256 x)
{
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-EXP_C1), xc);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-EXP_C2), r);
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(EXP_P0), r, _mm256_set1_ps(EXP_P1));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(EXP_P2));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(EXP_P3));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(EXP_P4));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(EXP_P5));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n), h = _mm256_srai_epi32(ni, 1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), bias), 23));
    y = _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

static void exp_avx2(const float *x, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, exp8_avx2(_mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        out[i] = exp_scalar(x[i]);
}

RT_TARGET_END

RT_TARGET_AVX512_BEGIN

static inline __m512 exp16_avx512(__m512 x)
{
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LO)), _mm512_set1_ps(EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-EXP_C1), xc);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-EXP_C2), r);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(EXP_P0), r, _mm512_set1_ps(EXP_P1));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(EXP_P2));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(EXP_P3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(EXP_P4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(EXP_P5));
    __m512 y = _mm512_add_ps(_mm512_fmadd_ps(q, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_cvtps_epi32(n), h = _mm512_srai_epi32(ni, 1);
    __m512i bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(h, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, h), bias), 23));
    y = _mm512_mul_ps(_mm512_mul_ps(y, s1), s2);
    return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

static void exp_avx512(const float *x, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, exp16_avx512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(out + i, m, exp16_avx512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* max over x[0..n): lane-wise `x > m ? x : m` (= _mm512_max_ps(x, m)),
 * lanes seeded with x[0], so NaNs are skipped unless x[0] is NaN, exactly
 * like the scalar loop; max itself is exact in any order. */
static float max_avx512(const float *x, int n)
{
    __m512 m = _mm512_set1_ps(x[0]);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(_mm512_loadu_ps(x + i), m);
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        m = _mm512_mask_max_ps(m, k, _mm512_maskz_loadu_ps(k, x + i), m);
    }
    float l[16];
    _mm512_storeu_ps(l, m);
    float mx = l[0];
    for (int j = 1; j < 16; j++)
        mx = l[j] > mx ? l[j] : mx;
    return mx;
}

static void div_avx512(float *x, int n, float s)
{
    __m512 vs = _mm512_set1_ps(s);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_div_ps(_mm512_loadu_ps(x + i), vs));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, k, _mm512_div_ps(_mm512_maskz_loadu_ps(k, x + i), vs));
    }
}

/* x[i] = exp(x[i] - mx); returns the canonical double sum (16 lanes). */
static double exp_sub_sum_avx512(float *x, int n, float mx)
{
    __m512 vm = _mm512_set1_ps(mx);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    int i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 e = exp16_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm));
        e = _mm512_maskz_mov_ps(m, e); /* lanes past n add +0 */
        _mm512_mask_storeu_ps(x + i, m, e);
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
    }
    double p[16];
    _mm512_storeu_pd(p, lo);
    _mm512_storeu_pd(p + 8, hi);
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            p[l] = p[l] + p[l + w];
    return p[0];
}

static inline float reduce16_avx512(__m512 p)
{
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(p), _mm512_extractf32x8_ps(p, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

static inline __m512 bf16x16_avx512(const uint16_t *p)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static inline __m512 bf16x16_maskz_avx512(__mmask16 m, const uint16_t *p)
{
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static float dot_f32_avx512(const float *a, const float *b, int n)
{
    __m512 acc = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc);
    if (k < n) {
        __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
        acc = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k), acc, m);
    }
    return reduce16_avx512(acc);
}

static float dot_bf16_avx512(const float *a, const uint16_t *b, int n)
{
    __m512 acc = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), bf16x16_avx512(b + k), acc);
    if (k < n) {
        __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
        acc = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), bf16x16_maskz_avx512(m, b + k), acc, m);
    }
    return reduce16_avx512(acc);
}

static void axpy_f32_avx512(float alpha, const float *x, float *y, int n)
{
    __m512 va = _mm512_set1_ps(alpha);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

static void axpy_bf16_avx512(float alpha, const uint16_t *x, float *y, int n)
{
    __m512 va = _mm512_set1_ps(alpha);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, bf16x16_avx512(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 r = _mm512_fmadd_ps(va, bf16x16_maskz_avx512(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

RT_TARGET_END
#endif /* __x86_64__ */

float rt_dot_f32(rt_isa isa, const float *a, const float *b, int n)
{
    assert(n >= 0);
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512)
        return dot_f32_avx512(a, b, n);
    if (isa == RT_ISA_AVX2)
        return dot_f32_avx2(a, b, n);
#endif
    return dot_f32_scalar(a, b, n);
}

float rt_dot_bf16(rt_isa isa, const float *a, const uint16_t *b, int n)
{
    assert(n >= 0);
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512)
        return dot_bf16_avx512(a, b, n);
    if (isa == RT_ISA_AVX2)
        return dot_bf16_avx2(a, b, n);
#endif
    return dot_bf16_scalar(a, b, n);
}

void rt_axpy_f32(rt_isa isa, float alpha, const float *x, float *y, int n)
{
    assert(n >= 0);
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512) {
        axpy_f32_avx512(alpha, x, y, n);
        return;
    }
    if (isa == RT_ISA_AVX2) {
        axpy_f32_avx2(alpha, x, y, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++)
        y[i] = fmaf(alpha, x[i], y[i]);
}

void rt_axpy_bf16(rt_isa isa, float alpha, const uint16_t *x, float *y, int n)
{
    assert(n >= 0);
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512) {
        axpy_bf16_avx512(alpha, x, y, n);
        return;
    }
    if (isa == RT_ISA_AVX2) {
        axpy_bf16_avx2(alpha, x, y, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++)
        y[i] = fmaf(alpha, bf16f(x[i]), y[i]);
}

void rt_exp(rt_isa isa, const float *x, float *out, size_t n)
{
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512) {
        exp_avx512(x, out, n);
        return;
    }
    if (isa == RT_ISA_AVX2) {
        exp_avx2(x, out, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = exp_scalar(x[i]);
}

void rt_softmax_row_isa(rt_isa isa, float *x, int n)
{
    if (n <= 0)
        return;
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512) {
        float mx = max_avx512(x, n);
        div_avx512(x, n, (float)exp_sub_sum_avx512(x, n, mx));
        return;
    }
#endif
    /* max is exact in any order; `a > m ? a : m` is what _mm*_max_ps(a, m)
     * computes lane-wise, NaN included */
    float mx = x[0];
    for (int i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum;
    {
        /* the same exps (rt_exp of x - max) and the same 16-lane double sum */
        double p[16] = {0};
        for (int i = 0; i < n; i += 256) {
            float t[256];
            int c = n - i < 256 ? n - i : 256;
            for (int j = 0; j < c; j++)
                t[j] = x[i + j] - mx;
            rt_exp(isa, t, x + i, (size_t)c);
            for (int j = 0; j < c; j++)
                p[(i + j) % 16] += (double)x[i + j];
        }
        for (int w = 8; w >= 1; w /= 2)
            for (int l = 0; l < w; l++)
                p[l] = p[l] + p[l + w];
        sum = p[0];
    }
    const float s = (float)sum;
    for (int i = 0; i < n; i++)
        x[i] = x[i] / s;
}

void rt_softmax_row(float *x, int n)
{
    rt_softmax_row_isa(rt_kernels_isa(), x, n);
}
