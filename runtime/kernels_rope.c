/* Rotary position embedding, HF transformers 4.51 semantics
 * (modeling_rope_utils.py + LlamaRotaryEmbedding/apply_rotary_pos_emb).
 *
 * HF builds its tables in float32 tensor arithmetic; every step below is the
 * same f32 operation in the same order (torch's `a / t` with a Python scalar
 * a is reciprocal(t) * a, which we follow; `t / a` stays a division), so
 * the tables match HF's bit for bit (tests/test_kernels.c compares them with
 * the fixtures' rope_inv_freq).  The power theta^(2i/d) is evaluated in
 * double and rounded once: for every theta/d pair of the five models that
 * equals glibc's powf, i.e. the correctly rounded f32 power. */
#include "kernels.h"

#include <assert.h>
#include <math.h>

#include "simd_target.h"

static float base_inv_freq(double theta, int i, int d, float ext)
{
    float expo = (float)(2 * i) / (float)d;                  /* arange(0,d,2).float() / d */
    float p = (float)pow((double)(float)theta, (double)expo); /* theta ** expo, f32 result */
    if (ext != 1.0f)
        p = ext * p;                                         /* LongRoPE: ext_factors * base**x */
    return 1.0f / p;                                         /* 1.0 / t = reciprocal(t) */
}

void rt_rope_inv_freq(const rt_rope_cfg *cfg, int seq_len, float *inv_freq, float *attn_scale)
{
    const int d = cfg->rotary_dim;
    assert(d > 0 && d % 2 == 0);
    *attn_scale = 1.0f;
    switch (cfg->type) {
    case RT_ROPE_DEFAULT:
        for (int i = 0; i < d / 2; i++)
            inv_freq[i] = base_inv_freq(cfg->theta, i, d, 1.0f);
        return;
    case RT_ROPE_LLAMA3: {
        const float factor = (float)cfg->factor, lo_f = (float)cfg->low_freq_factor;
        const float orig = (float)cfg->original_max;
        /* Python-side doubles compared against f32 tensors: torch casts the
         * scalar to float32. */
        const float low_wl = (float)((double)cfg->original_max / cfg->low_freq_factor);
        const float high_wl = (float)((double)cfg->original_max / cfg->high_freq_factor);
        const float two_pi = (float)(2 * M_PI);
        const float band = (float)(cfg->high_freq_factor - cfg->low_freq_factor);
        for (int i = 0; i < d / 2; i++) {
            float inv = base_inv_freq(cfg->theta, i, d, 1.0f);
            float wavelen = (1.0f / inv) * two_pi;          /* 2*pi / inv_freq */
            float r;
            if (wavelen < high_wl)
                r = inv;
            else if (wavelen > low_wl)
                r = inv / factor;
            else {
                float s = ((1.0f / wavelen) * orig - lo_f) / band; /* (orig/wavelen - low) / (high - low) */
                r = (1.0f - s) * inv / factor + s * inv;
            }
            inv_freq[i] = r;
        }
        return;
    }
    case RT_ROPE_LONGROPE: {
        const double *ext = seq_len > cfg->original_max ? cfg->long_factor : cfg->short_factor;
        assert(ext);
        for (int i = 0; i < d / 2; i++)
            inv_freq[i] = base_inv_freq(cfg->theta, i, d, (float)ext[i]);
        double scale = (double)cfg->max_position / (double)cfg->original_max;
        *attn_scale = scale <= 1.0 ? 1.0f : (float)sqrt(1.0 + log(scale) / log((double)cfg->original_max));
        return;
    }
    }
    assert(!"unknown rope type");
}

/* One head's rotation of columns [0, n) of a chunk: x1 the first half's
 * values, x2 the second's, c and s the chunk's cos and sin. */
static void rotate_scalar(float *x1p, float *x2p, const float *cs, const float *sn, int n, int act_bf16)
{
    for (int i = 0; i < n; i++) {
        float x1 = x1p[i], x2 = x2p[i], c = cs[i], s = sn[i];
        /* q*cos + rotate_half(q)*sin, rotate_half(q) = (-x2, x1) */
        float a1 = x1 * c, b1 = -x2 * s, a2 = x2 * c, b2 = x1 * s;
        if (act_bf16) {
            a1 = rt_bf16_round(a1);
            b1 = rt_bf16_round(b1);
            a2 = rt_bf16_round(a2);
            b2 = rt_bf16_round(b2);
            x1p[i] = rt_bf16_round(a1 + b1);
            x2p[i] = rt_bf16_round(a2 + b2);
        } else {
            x1p[i] = a1 + b1;
            x2p[i] = a2 + b2;
        }
    }
}

#if defined(__x86_64__)
RT_TARGET_AVX512_BEGIN
#include "bf16_vec.h"
/* rotate_scalar sixteen lanes at a time: the same products and roundings */
static void rotate_avx512(float *x1p, float *x2p, const float *cs, const float *sn, int n, int act_bf16)
{
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : rt_tail_mask16((size_t)(n - i));
        __m512 x1 = _mm512_maskz_loadu_ps(m, x1p + i), x2 = _mm512_maskz_loadu_ps(m, x2p + i);
        __m512 c = _mm512_maskz_loadu_ps(m, cs + i), s = _mm512_maskz_loadu_ps(m, sn + i);
        __m512 a1 = _mm512_mul_ps(x1, c), b1 = _mm512_mul_ps(_mm512_xor_ps(x2, sign), s);
        __m512 a2 = _mm512_mul_ps(x2, c), b2 = _mm512_mul_ps(x1, s);
        if (act_bf16) {
            a1 = rt_bf16_round16(a1);
            b1 = rt_bf16_round16(b1);
            a2 = rt_bf16_round16(a2);
            b2 = rt_bf16_round16(b2);
            _mm512_mask_storeu_ps(x1p + i, m, rt_bf16_round16(_mm512_add_ps(a1, b1)));
            _mm512_mask_storeu_ps(x2p + i, m, rt_bf16_round16(_mm512_add_ps(a2, b2)));
        } else {
            _mm512_mask_storeu_ps(x1p + i, m, _mm512_add_ps(a1, b1));
            _mm512_mask_storeu_ps(x2p + i, m, _mm512_add_ps(a2, b2));
        }
    }
}
RT_TARGET_END
#endif

void rt_rope_apply(float *x, int rows, int n_heads, int head_dim, int rotary_dim, const int32_t *pos,
                   const float *inv_freq, float attn_scale, int act_bf16)
{
    rt_rope_apply_isa(rt_kernels_isa(), x, rows, n_heads, head_dim, rotary_dim, pos, inv_freq, attn_scale,
                      act_bf16);
}

/* The angles of a row are taken a chunk of columns at a time (one cos and
 * sin per (row, i), shared by every head), then each head's chunk rotated. */
#define ROPE_CHUNK 64

void rt_rope_apply_isa(rt_isa isa, float *x, int rows, int n_heads, int head_dim, int rotary_dim,
                       const int32_t *pos, const float *inv_freq, float attn_scale, int act_bf16)
{
    assert(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= head_dim);
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
    const int half = rotary_dim / 2;
    float cs[ROPE_CHUNK], sn[ROPE_CHUNK];
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * n_heads * head_dim;
        const float p = (float)pos[r];
        for (int i0 = 0; i0 < half; i0 += ROPE_CHUNK) {
            int n = half - i0 < ROPE_CHUNK ? half - i0 : ROPE_CHUNK;
            for (int i = 0; i < n; i++) {
                float a = inv_freq[i0 + i] * p;
                float c = cosf(a) * attn_scale, s = sinf(a) * attn_scale;
                cs[i] = act_bf16 ? rt_bf16_round(c) : c;
                sn[i] = act_bf16 ? rt_bf16_round(s) : s;
            }
            for (int h = 0; h < n_heads; h++) {
                float *v = xr + (size_t)h * head_dim + i0;
#if defined(__x86_64__)
                if (isa >= RT_ISA_AVX512) {
                    rotate_avx512(v, v + half, cs, sn, n, act_bf16);
                    continue;
                }
#endif
                rotate_scalar(v, v + half, cs, sn, n, act_bf16);
            }
        }
    }
}
