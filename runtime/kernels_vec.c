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

#pragma GCC push_options
#pragma GCC target("avx2,fma")

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

#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")

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

#pragma GCC pop_options
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
