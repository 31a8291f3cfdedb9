#include "dtype.h"

#include <assert.h>
#include <string.h>

static const char *const dtype_names[] = {"f32", "bf16", "bf8_b", "bf4_b", "i32"};

const char *rt_dtype_name(rt_dtype dt)
{
    if ((unsigned)dt >= sizeof dtype_names / sizeof dtype_names[0])
        return "?";
    return dtype_names[dt];
}

int rt_dtype_parse(const char *name, rt_dtype *out)
{
    if (!name)
        return -1;
    for (unsigned i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (rt_dtype)i;
            return 0;
        }
    return -1;
}

int rt_dtype_mant_bits(rt_dtype dt)
{
    return dt == RT_BF8_B ? 7 : dt == RT_BF4_B ? 3 : 0;
}

size_t rt_dtype_matrix_bytes(rt_dtype dt, int n, int k)
{
    if (n <= 0 || k <= 0)
        return 0;
    size_t N = (size_t)n, K = (size_t)k, nb = (N + 15) / 16;
    switch (dt) {
    case RT_F32:
    case RT_I32:
        return 4 * N * K;
    case RT_BF16:
        return 2 * N * K;
    case RT_BF8_B: /* 64-byte lines of 4 columns (kernels.h) + exponents */
        return nb * ((K + 3) / 4) * 64 + nb * K;
    case RT_BF4_B: /* lines of 8 columns */
        return nb * ((K + 7) / 8) * 64 + nb * K;
    }
    return 0;
}

/* ---- bf16 ---- */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void rt_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = rt_f32_to_bf16(src[i]);
}

void rt_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = rt_bf16_to_f32(src[i]);
}

/* ---- block float ---- */

void rt_bfp_encode_block(const float in[16], int mant_bits, uint8_t *shared_exp, uint8_t out[16])
{
    assert(mant_bits >= 1 && mant_bits <= 7);
    const int W = mant_bits;
    uint32_t u[16];
    uint32_t max_exp = 0;
    for (int i = 0; i < 16; i++) {
        u[i] = f2u(in[i]);
        uint32_t e = (u[i] >> 23) & 0xffu;
        if (e > max_exp)
            max_exp = e;
    }
    *shared_exp = (uint8_t)max_exp;

    if (max_exp == 0xff) {
        /* Non-finite block (see dtype.h): Inf/NaN keep their kind, finite
         * values flush to 0. */
        for (int i = 0; i < 16; i++) {
            uint32_t e = (u[i] >> 23) & 0xffu, frac = u[i] & 0x7fffffu;
            uint8_t sign = (uint8_t)(u[i] >> 31);
            if (e != 0xff)
                out[i] = 0;
            else
                out[i] = (uint8_t)(sign << W | 1u << (W - 1) | (frac ? 1u : 0u));
        }
        return;
    }

    const int drop = 24 - W;                     /* bits below the kept top W */
    const uint32_t half = 1u << (drop - 1), low_mask = (1u << drop) - 1;
    const uint32_t max_code = (1u << W) - 1;
    for (int i = 0; i < 16; i++) {
        uint32_t e = (u[i] >> 23) & 0xffu;
        if (e == 0) {                            /* +-0 and f32 subnormals */
            out[i] = 0;
            continue;
        }
        uint32_t mant = (1u << 23) | (u[i] & 0x7fffffu);
        uint32_t shift = max_exp - e;
        mant = shift >= 32 ? 0 : mant >> shift;  /* truncating alignment */
        uint32_t code = mant >> drop, rest = mant & low_mask;
        if (rest > half || (rest == half && (code & 1u)))
            code++;
        if (code > max_code)                     /* saturate, no exponent carry */
            code = max_code;
        uint32_t sign = code ? u[i] >> 31 : 0;   /* no negative zero */
        out[i] = (uint8_t)(sign << W | code);
    }
}

float rt_bfp_decode_value(uint8_t shared_exp, uint8_t code, int mant_bits)
{
    const int W = mant_bits;
    uint32_t mant = code & ((1u << W) - 1);
    uint32_t sign = (code >> W) & 1u;
    float v;
    if (shared_exp == 0xff) {
        if (mant == 0)
            v = 0.0f;
        else if (mant == 1u << (W - 1))
            v = u2f(0x7f800000u);
        else
            v = u2f(0x7fc00000u);
    } else {
        /* 2^(shared_exp - 127 - (W-1)): a normal f32 when the exponent is at
         * least -126, else a (still exact) subnormal power of two. */
        int p = (int)shared_exp - 127 - (W - 1);
        float scale = p >= -126 ? u2f((uint32_t)(p + 127) << 23) : u2f(1u << (p + 149));
        v = (float)mant * scale;                 /* exact: <= 7 significant bits */
    }
    return sign ? -v : v;
}

void rt_bfp_decode_block(uint8_t shared_exp, const uint8_t codes[16], int mant_bits, float out[16])
{
    for (int i = 0; i < 16; i++)
        out[i] = rt_bfp_decode_value(shared_exp, codes[i], mant_bits);
}

size_t rt_bfp_row_mant_bytes(rt_dtype dt, size_t n)
{
    size_t nb = (n + 15) / 16;
    return dt == RT_BF4_B ? nb * 8 : nb * 16;
}

void rt_bfp_encode_row(rt_dtype dt, const float *src, size_t n, uint8_t *exps, uint8_t *mants)
{
    int W = rt_dtype_mant_bits(dt);
    assert(W);
    for (size_t b = 0; b * 16 < n; b++) {
        float blk[16] = {0};
        size_t cnt = n - b * 16 < 16 ? n - b * 16 : 16;
        memcpy(blk, src + b * 16, cnt * sizeof(float));
        uint8_t codes[16];
        rt_bfp_encode_block(blk, W, &exps[b], codes);
        if (dt == RT_BF8_B)
            memcpy(mants + b * 16, codes, 16);
        else
            for (int j = 0; j < 8; j++)
                mants[b * 8 + j] = (uint8_t)(codes[2 * j] | codes[2 * j + 1] << 4);
    }
}

void rt_bfp_decode_row(rt_dtype dt, const uint8_t *exps, const uint8_t *mants, size_t n, float *dst)
{
    int W = rt_dtype_mant_bits(dt);
    assert(W);
    for (size_t i = 0; i < n; i++) {
        uint8_t code = dt == RT_BF8_B ? mants[i] : (uint8_t)((mants[i / 2] >> (4 * (i & 1))) & 0xf);
        dst[i] = rt_bfp_decode_value(exps[i / 16], code, W);
    }
}
