/* Elementwise kernels, argmax/top-k and the embedding lookup.
 * Each formula is the one torch evaluates in f32 unless a comment says
 * otherwise; these loops are simple enough for the compiler to vectorise
 * the parts that can be. */
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <string.h>

void rt_add(const float *a, const float *b, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void rt_mul(const float *a, const float *b, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] * b[i];
}

/* silu(x) = x / (1 + exp(-x)), torch's formula, with the vectorised exp;
 * chunked through a stack buffer so out may equal x. */
#define CHUNK 256

#if defined(__x86_64__)
#include "simd_target.h"
RT_TARGET_AVX512_BEGIN
#include "bf16_vec.h"
/* The rest of rt_silu_mul's chunk once t holds exp(-g): the same IEEE add,
 * divide, multiply and roundings as its scalar loop, 16 at a time (the
 * scalar divide per element was 1.3 ns, most of a 32-user step's silu). */
static void silu_finish_avx512(const float *g, const float *t, const float *u, float *out, size_t c, int act_bf16)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (size_t j = 0; j < c; j += 16) {
        __mmask16 m = c - j >= 16 ? (__mmask16)0xffff : rt_tail_mask16(c - j);
        __m512 s = _mm512_div_ps(_mm512_maskz_loadu_ps(m, g + j), _mm512_add_ps(one, _mm512_maskz_loadu_ps(m, t + j)));
        if (u && act_bf16)
            s = rt_bf16_round16(_mm512_mul_ps(rt_bf16_round16(s), _mm512_maskz_loadu_ps(m, u + j)));
        else if (u)
            s = _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, u + j));
        _mm512_mask_storeu_ps(out + j, m, s);
    }
}

/* t = -g: gcc 12 at -O2 left the plain loop scalar, a third of a 32-user
 * step's silu time (exp and the divide are vectorised) */
static void negate_avx512(const float *g, float *t, size_t c)
{
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (size_t j = 0; j < c; j += 16) {
        __mmask16 m = c - j >= 16 ? (__mmask16)0xffff : rt_tail_mask16(c - j);
        _mm512_mask_storeu_ps(t + j, m, _mm512_xor_ps(_mm512_maskz_loadu_ps(m, g + j), sign));
    }
}

static void round_bf16_avx512(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, rt_bf16_round16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = rt_tail_mask16(n - i);
        _mm512_mask_storeu_ps(x + i, m, rt_bf16_round16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static void store_bf16_avx512(const float *x, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(rt_bf16_round16(_mm512_loadu_ps(x + i))), 16)));
    if (i < n) {
        __mmask16 m = rt_tail_mask16(n - i);
        __m512i r = _mm512_srli_epi32(_mm512_castps_si512(rt_bf16_round16(_mm512_maskz_loadu_ps(m, x + i))), 16);
        _mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtepi32_epi16(r));
    }
}
RT_TARGET_END
#endif

void rt_silu(const float *x, float *out, size_t n)
{
    rt_silu_mul(x, NULL, out, n, 0);
}

void rt_silu_mul(const float *g, const float *u, float *out, size_t n, int act_bf16)
{
    rt_silu_mul_isa(rt_kernels_isa(), g, u, out, n, act_bf16);
}

void rt_silu_mul_isa(rt_isa isa, const float *g, const float *u, float *out, size_t n, int act_bf16)
{
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
    float t[CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t c = n - i0 < CHUNK ? n - i0 : CHUNK;
#if defined(__x86_64__)
        if (isa == RT_ISA_AVX512)
            negate_avx512(g + i0, t, c);
        else
#endif
            for (size_t j = 0; j < c; j++)
                t[j] = -g[i0 + j];
        rt_exp(isa, t, t, c);
#if defined(__x86_64__)
        if (isa == RT_ISA_AVX512) {
            silu_finish_avx512(g + i0, t, u ? u + i0 : NULL, out + i0, c, act_bf16);
            continue;
        }
#endif
        for (size_t j = 0; j < c; j++) {
            float s = g[i0 + j] / (1.0f + t[j]);
            if (!u)
                out[i0 + j] = s;
            else if (act_bf16)
                out[i0 + j] = rt_bf16_round(rt_bf16_round(s) * u[i0 + j]);
            else
                out[i0 + j] = s * u[i0 + j];
        }
    }
}

void rt_gelu(const float *x, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        /* 1 + erf(z) = erfc(-z): no cancellation for large negative v */
        out[i] = 0.5f * v * erfcf(-v * (float)M_SQRT1_2);
    }
}

void rt_gelu_tanh(const float *x, float *out, size_t n)
{
    const float k = (float)0.7978845608028654; /* sqrt(2/pi) */
    const rt_isa isa = rt_kernels_isa();
    float t[CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t c = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (size_t j = 0; j < c; j++) {
            float v = x[i0 + j];
            t[j] = -2.0f * (k * (v + 0.044715f * v * v * v));
        }
        rt_exp(isa, t, t, c);
        /* (1 + tanh(u)) / 2 = 1 / (1 + exp(-2u)) */
        for (size_t j = 0; j < c; j++)
            out[i0 + j] = x[i0 + j] / (1.0f + t[j]);
    }
}

void rt_store_bf16(const float *x, uint16_t *dst, size_t n)
{
    rt_store_bf16_isa(rt_kernels_isa(), x, dst, n);
}

void rt_store_bf16_isa(rt_isa isa, const float *x, uint16_t *dst, size_t n)
{
#if defined(__x86_64__)
    if (isa >= RT_ISA_AVX512 && rt_cpu_best_isa() >= RT_ISA_AVX512) {
        store_bf16_avx512(x, dst, n);
        return;
    }
#endif
    rt_f32_to_bf16_row(x, dst, n);
}

void rt_round_bf16(float *x, size_t n)
{
    rt_round_bf16_isa(rt_kernels_isa(), x, n);
}

void rt_round_bf16_isa(rt_isa isa, float *x, size_t n)
{
#if defined(__x86_64__)
    if (isa >= RT_ISA_AVX512 && rt_cpu_best_isa() >= RT_ISA_AVX512) {
        round_bf16_avx512(x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            u |= 0x00400000u; /* NaN: quiet, payload truncated below */
        else
            u += 0x7fffu + ((u >> 16) & 1u);
        u &= 0xffff0000u;
        memcpy(&x[i], &u, 4);
    }
}

int rt_argmax(const float *x, int n)
{
    if (n <= 0)
        return -1;
    int best = -1;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i]) && (best < 0 || x[i] > x[best]))
            best = i;
    return best < 0 ? 0 : best;
}

/* a ranks strictly before b (b already placed, so b has the lower index). */
static int ranks_before(float a, float b)
{
    return !isnan(a) && (isnan(b) || a > b);
}

void rt_topk(const float *x, int n, int k, int *idx)
{
    assert(k >= 1 && k <= n);
    int have = 0;
    for (int i = 0; i < n; i++) {
        if (have == k && !ranks_before(x[i], x[idx[k - 1]]))
            continue;
        /* insertion point: after every entry that x[i] does not beat */
        int p = have < k ? have : k - 1;
        while (p > 0 && ranks_before(x[i], x[idx[p - 1]]))
            p--;
        int last = have < k ? have : k - 1;
        memmove(idx + p + 1, idx + p, (size_t)(last - p) * sizeof(int));
        idx[p] = i;
        if (have < k)
            have++;
    }
}

void rt_embedding(const int32_t *tokens, int t, const rt_matrix *table, float *out)
{
    for (int i = 0; i < t; i++) {
        assert(tokens[i] >= 0 && tokens[i] < table->n);
        rt_matrix_get_row_f32(table, tokens[i], out + (size_t)i * table->k);
    }
}

/* ---- general architectures: scalar and unary ops, in f32 as torch ---- */

void rt_add_bias(const float *x, int rows, int cols, const float *b, float *out)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] = x[(size_t)r * cols + c] + b[c];
}

void rt_add_scalar(const float *x, float c, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] + c;
}

void rt_div_scalar(const float *x, float c, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] / c;
}

void rt_div(const float *a, const float *b, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] / b[i];
}

void rt_tanh(const float *x, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = tanhf(x[i]);
}

void rt_exp_f32(const float *x, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = expf(x[i]);
}

void rt_relu(const float *x, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] < 0 ? 0.0f : x[i];
}

void rt_sigmoid(const float *x, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 1.0f / (1.0f + expf(-x[i]));
}

void rt_softcap(const float *x, float c, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = tanhf(x[i] / c) * c;
}
