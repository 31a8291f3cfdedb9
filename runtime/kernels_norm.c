/* RMSNorm, HF semantics (LlamaRMSNorm and its copies in Mistral, Phi-3,
 * Qwen3): variance = mean(x^2) in f32, x * rsqrt(variance + eps), rounded to
 * the activation dtype, then times the weight. */
#include "kernels.h"

#include <assert.h>
#include <math.h>

#include "simd_target.h"

#if defined(__x86_64__)
RT_TARGET_AVX512_BEGIN
#include "bf16_vec.h"
/* The scalar loops below, sixteen lanes at a time (the same products and
 * roundings per element). */
static void scale_row_avx512(const float *x, float inv, const float *w, int act_bf16, float *o, int dim)
{
    const __m512 s = _mm512_set1_ps(inv);
    for (int i = 0; i < dim; i += 16) {
        __mmask16 m = dim - i >= 16 ? (__mmask16)0xffff : rt_tail_mask16((size_t)(dim - i));
        __m512 n = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
        if (act_bf16)
            n = rt_bf16_round16(n);
        __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + i), n);
        if (act_bf16)
            y = rt_bf16_round16(y);
        _mm512_mask_storeu_ps(o + i, m, y);
    }
}
RT_TARGET_END
#endif

void rt_rms_norm_isa(rt_isa isa, const float *x, int rows, int dim, const float *w, float eps, int act_bf16,
                     float *out)
{
    assert(rows >= 0 && dim > 0);
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *o = out + (size_t)r * dim;
        /* torch: mean = sum / dim in f32; rsqrt(v) = 1 / sqrt(v), both
         * correctly rounded. */
        float var = rt_dot_f32(isa, xr, xr, dim) / (float)dim;
        float inv = 1.0f / sqrtf(var + eps);
#if defined(__x86_64__)
        if (isa >= RT_ISA_AVX512) {
            scale_row_avx512(xr, inv, w, act_bf16, o, dim);
            continue;
        }
#endif
        if (act_bf16)
            for (int i = 0; i < dim; i++)
                o[i] = rt_bf16_round(w[i] * rt_bf16_round(xr[i] * inv));
        else
            for (int i = 0; i < dim; i++)
                o[i] = w[i] * (xr[i] * inv);
    }
}

void rt_rms_norm(const float *x, int rows, int dim, const float *w, float eps, int act_bf16, float *out)
{
    rt_rms_norm_isa(rt_kernels_isa(), x, rows, dim, w, eps, act_bf16, out);
}

/* torch's LayerNorm (GPT-2, Phi-2): biased variance.  The moments are
 * accumulated in double, so they are the exact row statistics rounded once
 * to f32 (torch's own summation order differs by an ulp at most). */
void rt_layer_norm(const float *x, int rows, int dim, const float *w, const float *b, float eps, float *out)
{
    assert(rows >= 0 && dim > 0);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *o = out + (size_t)r * dim;
        double sum = 0;
        for (int i = 0; i < dim; i++)
            sum += xr[i];
        double mean = sum / dim, sq = 0;
        for (int i = 0; i < dim; i++)
            sq += (xr[i] - mean) * (xr[i] - mean);
        float m = (float)mean, var = (float)(sq / dim);
        float inv = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < dim; i++) {
            float y = (xr[i] - m) * inv * w[i];
            o[i] = b ? y + b[i] : y;
        }
    }
}
