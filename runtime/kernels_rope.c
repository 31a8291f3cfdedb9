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

void rt_rope_apply(float *x, int rows, int n_heads, int head_dim, int rotary_dim, const int32_t *pos,
                   const float *inv_freq, float attn_scale, int act_bf16)
{
    assert(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= head_dim);
    const int half = rotary_dim / 2;
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * n_heads * head_dim;
        const float p = (float)pos[r];
        for (int i = 0; i < half; i++) {
            /* One angle per (row, i), shared by every head. */
            float a = inv_freq[i] * p;
            float c = cosf(a) * attn_scale, s = sinf(a) * attn_scale;
            if (act_bf16) {
                c = rt_bf16_round(c);
                s = rt_bf16_round(s);
            }
            for (int h = 0; h < n_heads; h++) {
                float *v = xr + (size_t)h * head_dim;
                float x1 = v[i], x2 = v[i + half];
                /* q*cos + rotate_half(q)*sin, rotate_half(q) = (-x2, x1) */
                float a1 = x1 * c, b1 = -x2 * s, a2 = x2 * c, b2 = x1 * s;
                if (act_bf16) {
                    a1 = rt_bf16_round(a1);
                    b1 = rt_bf16_round(b1);
                    a2 = rt_bf16_round(a2);
                    b2 = rt_bf16_round(b2);
                    v[i] = rt_bf16_round(a1 + b1);
                    v[i + half] = rt_bf16_round(a2 + b2);
                } else {
                    v[i] = a1 + b1;
                    v[i + half] = a2 + b2;
                }
            }
        }
    }
}
