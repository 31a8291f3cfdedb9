/* dtype: names, bf16 rounding, Tenstorrent block floats (cases worked out by
 * hand below), and rt_matrix storage. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "kernels.h"

static float fbits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bitsf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
/* roughly normal, std ~1 */
static float rnd_normal(void)
{
    float s = 0;
    for (int i = 0; i < 4; i++)
        s += (float)(rnd() % 100000) / 100000.0f - 0.5f;
    return s * 1.7f;
}

/* ---------------- names ---------------- */

static void test_names(void **state)
{
    (void)state;
    const char *names[] = {"f32", "bf16", "bf8_b", "bf4_b", "i32"};
    for (int i = 0; i < 5; i++) {
        rt_dtype dt = RT_I32;
        assert_int_equal(rt_dtype_parse(names[i], &dt), 0);
        assert_int_equal(dt, i);
        assert_string_equal(rt_dtype_name(dt), names[i]);
    }
    rt_dtype keep = RT_BF16;
    assert_int_equal(rt_dtype_parse("bf8", &keep), -1);
    assert_int_equal(rt_dtype_parse("F32", &keep), -1);
    assert_int_equal(rt_dtype_parse("", &keep), -1);
    assert_int_equal(rt_dtype_parse(NULL, &keep), -1);
    assert_int_equal(keep, RT_BF16);
    assert_string_equal(rt_dtype_name((rt_dtype)99), "?");
    assert_int_equal(rt_dtype_mant_bits(RT_BF8_B), 7);
    assert_int_equal(rt_dtype_mant_bits(RT_BF4_B), 3);
    assert_int_equal(rt_dtype_mant_bits(RT_BF16), 0);
}

static void test_matrix_bytes(void **state)
{
    (void)state;
    /* [37][53]: nb = 3 row blocks */
    assert_int_equal(rt_dtype_matrix_bytes(RT_F32, 37, 53), 4 * 37 * 53);
    assert_int_equal(rt_dtype_matrix_bytes(RT_BF16, 37, 53), 2 * 37 * 53);
    /* 3 row blocks of 64-byte lines (bf8_b 4 columns each: 14 lines for 53
     * columns; bf4_b 8: 7 lines), plus an exponent per block and column */
    assert_int_equal(rt_dtype_matrix_bytes(RT_BF8_B, 37, 53), 3 * 14 * 64 + 3 * 53);
    assert_int_equal(rt_dtype_matrix_bytes(RT_BF4_B, 37, 53), 3 * 7 * 64 + 3 * 53);
    /* a real one: Llama-3.2-1B gate_proj 8192x2048 in bf8_b = 1.0625 B/weight */
    assert_int_equal(rt_dtype_matrix_bytes(RT_BF8_B, 8192, 2048), (size_t)8192 * 2048 * 17 / 16);
    assert_int_equal(rt_dtype_matrix_bytes(RT_BF4_B, 8192, 2048), (size_t)8192 * 2048 * 9 / 16);
    assert_int_equal(rt_dtype_matrix_bytes(RT_F32, 0, 5), 0);
}

/* ---------------- bf16 ---------------- */

static void test_bf16_rounding(void **state)
{
    (void)state;
    assert_int_equal(rt_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(rt_f32_to_bf16(-2.0f), 0xc000);
    assert_int_equal(rt_f32_to_bf16(-0.0f), 0x8000);
    /* 0x3f808000 is exactly half way between bf16 0x3f80 and 0x3f81: ties go
     * to the even one (0x3f80); 0x3f818000 half way 0x3f81..0x3f82 -> 0x3f82 */
    assert_int_equal(rt_f32_to_bf16(fbits(0x3f808000)), 0x3f80);
    assert_int_equal(rt_f32_to_bf16(fbits(0x3f818000)), 0x3f82);
    /* just above / below half */
    assert_int_equal(rt_f32_to_bf16(fbits(0x3f808001)), 0x3f81);
    assert_int_equal(rt_f32_to_bf16(fbits(0x3f807fff)), 0x3f80);
    /* carry through the mantissa into the exponent: 0x3fffffff -> 2.0 */
    assert_int_equal(rt_f32_to_bf16(fbits(0x3fffffff)), 0x4000);
    /* Inf stays Inf */
    assert_int_equal(rt_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(rt_f32_to_bf16(-INFINITY), 0xff80);
    /* NaN stays a quiet NaN with its sign; a signalling NaN whose payload
     * is only in the low bits would truncate to Inf without the quiet bit */
    assert_int_equal(rt_f32_to_bf16(fbits(0x7fc00000)), 0x7fc0);
    assert_int_equal(rt_f32_to_bf16(fbits(0xffc00000)), 0xffc0);
    assert_int_equal(rt_f32_to_bf16(fbits(0x7f800001)), 0x7fc0);
    assert_true(isnan(rt_bf16_to_f32(rt_f32_to_bf16(fbits(0x7f800001)))));
    /* max: the largest bf16 0x7f7f (3.3895e38) stays; FLT_MAX is past the
     * half way point to 2^128 and rounds to +Inf (as torch does) */
    assert_int_equal(rt_f32_to_bf16(fbits(0x7f7f0000)), 0x7f7f);
    assert_int_equal(rt_f32_to_bf16(fbits(0x7f7f7fff)), 0x7f7f);
    assert_int_equal(rt_f32_to_bf16(fbits(0x7f7f8000)), 0x7f80); /* tie, 0x7f7f odd -> up */
    assert_int_equal(rt_f32_to_bf16(FLT_MAX), 0x7f80);
    assert_int_equal(rt_f32_to_bf16(-FLT_MAX), 0xff80);
    /* subnormals round like everything else */
    assert_int_equal(rt_f32_to_bf16(fbits(0x00008000)), 0x0000);
    assert_int_equal(rt_f32_to_bf16(fbits(0x00018000)), 0x0002);
    /* bf16 -> f32 is exact */
    assert_int_equal(bitsf(rt_bf16_to_f32(0x3f81)), 0x3f810000u);
    assert_true(rt_bf16_round(fbits(0x3f818000)) == fbits(0x3f820000));

    float src[3] = {1.0f, fbits(0x3f818000), -INFINITY}, back[3];
    uint16_t h[3];
    rt_f32_to_bf16_row(src, h, 3);
    rt_bf16_to_f32_row(h, back, 3);
    assert_int_equal(h[1], 0x3f82);
    assert_true(back[0] == 1.0f && back[2] == -INFINITY);
}

static void test_bf16_random_is_nearest(void **state)
{
    (void)state;
    /* For random finite f32, the bf16 result is the nearest bf16 (ties
     * even), checked against neighbours in double. */
    for (int i = 0; i < 200000; i++) {
        uint32_t u = rnd() ^ (rnd() << 16);
        float f = fbits(u);
        if (!isfinite(f) || fabsf(f) > 3.38e38f)
            continue;
        uint16_t h = rt_f32_to_bf16(f);
        double v = rt_bf16_to_f32(h);
        double lo = rt_bf16_to_f32((uint16_t)(h - 1)), hi = rt_bf16_to_f32((uint16_t)(h + 1));
        if ((u & 0x7fffffff) == 0 || (h & 0x7fff) == 0 || (h & 0x7fff) >= 0x7f7f)
            continue;
        double err = fabs((double)f - v);
        assert_true(err <= fabs((double)f - lo));
        assert_true(err <= fabs((double)f - hi));
    }
}

/* ---------------- block floats: hand-worked cases ----------------
 * Notation: mant24 = 1<<23 | frac (hidden bit at bit 23).  bf8_b keeps the
 * top W=7 bits after aligning to the shared exponent: code = mant24 >> 17,
 * the dropped 17 bits are compared with half = 0x10000.  bf4_b: W=3,
 * code = mant24 >> 21, half = 0x100000.  Decode = code * 2^(e-127) / 2^(W-1). */

static void enc8(const float in[16], uint8_t *e, uint8_t out[16])
{
    rt_bfp_encode_block(in, 7, e, out);
}

static void test_bfp8_equal_values(void **state)
{
    (void)state;
    /* 16 x 1.0: exp 127 everywhere -> shared 127; mant24 = 0x800000,
     * code = 0x800000 >> 17 = 0x40 = 64, rest 0 -> byte 0x40; decodes to
     * 64 * 2^0 / 64 = 1.0.  -1.5: frac 0x400000, mant24 0xc00000 -> 96 =
     * 0x60, sign -> 0xe0; decodes to -96/64 = -1.5. */
    float in[16];
    uint8_t e, q[16];
    float out[16];
    for (int i = 0; i < 16; i++)
        in[i] = 1.0f;
    enc8(in, &e, q);
    assert_int_equal(e, 127);
    for (int i = 0; i < 16; i++)
        assert_int_equal(q[i], 0x40);
    rt_bfp_decode_block(e, q, 7, out);
    for (int i = 0; i < 16; i++)
        assert_true(out[i] == 1.0f);
    for (int i = 0; i < 16; i++)
        in[i] = -1.5f;
    enc8(in, &e, q);
    assert_int_equal(e, 127);
    assert_int_equal(q[7], 0xe0);
    assert_true(rt_bfp_decode_value(e, q[7], 7) == -1.5f);
}

static void test_bfp8_zero_block(void **state)
{
    (void)state;
    /* All zeros (with -0.0 among them): exponent fields are 0 so the shared
     * exponent is 0; every code is 0 - including -0.0, whose sign is cleared
     * because its mantissa is 0. */
    float in[16] = {0};
    in[3] = -0.0f;
    uint8_t e = 99, q[16];
    float out[16];
    enc8(in, &e, q);
    assert_int_equal(e, 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(q[i], 0);
    rt_bfp_decode_block(e, q, 7, out);
    for (int i = 0; i < 16; i++)
        assert_int_equal(bitsf(out[i]), 0);
}

static void test_bfp8_huge_value_flushes(void **state)
{
    (void)state;
    /* Block max 1024 = 2^10 (exp 137) -> shared 137.
     *  1.0  (exp 127): shift 10, 0x800000 >> 10 = 0x2000 -> code 0, rest
     *        0x2000 < half -> 0: flushed.
     *  -1.0: the same, and the sign is cleared (code 0 -> byte 0x00).
     *  16.0 (exp 131): shift 6, 0x20000 -> code 1, rest 0 -> 16 exactly.
     *  8.0  (exp 130): shift 7, 0x10000 -> code 0, rest == half, code even
     *        -> stays 0: a tie flushes 8.0 to zero.
     *  24.0 = 1.5*2^4: 0xc00000 >> 6 = 0x30000 -> code 1, rest 0x10000 ==
     *        half, code odd -> 2 -> 32.0 (tie to even).
     *  12.0 = 1.5*2^3: 0xc00000 >> 7 = 0x18000 -> code 0, rest 0x18000 >
     *        half -> 1 -> 16.0.
     *  -40.0 = -1.25*2^5: 0xa00000 >> 5 = 0x50000 -> code 2, rest 0x10000
     *        tie, even -> 2 -> -32.0, byte 0x82. */
    float in[16] = {1024.0f, 1.0f, -1.0f, 16.0f, 8.0f, 24.0f, 12.0f, -40.0f};
    uint8_t e, q[16];
    enc8(in, &e, q);
    assert_int_equal(e, 137);
    const uint8_t want[8] = {0x40, 0x00, 0x00, 0x01, 0x00, 0x02, 0x01, 0x82};
    const float wantf[8] = {1024.0f, 0, 0, 16.0f, 0, 32.0f, 16.0f, -32.0f};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(q[i], want[i]);
        assert_true(rt_bfp_decode_value(e, q[i], 7) == wantf[i]);
    }
    for (int i = 8; i < 16; i++)
        assert_int_equal(q[i], 0);
}

static void test_bfp8_ties_to_even(void **state)
{
    (void)state;
    /* Each value alone with exponent 127 or 133 (no alignment shift):
     *  1 + 2^-7 : frac 0x10000 -> code 0x40, rest 0x10000 tie, even -> 0x40 (1.0)
     *  1 + 3*2^-7: frac 0x30000 -> code 0x41, rest tie, odd -> 0x42 (1.03125)
     * tt-metal's own cases (exp 133 = 2^6, so code == value):
     *  64.75 mant 0x818000: code 0x40, rest 0x18000 > half -> 0x41 (65)
     *  65.25 mant 0x828000: code 0x41, rest 0x08000 < half -> 0x41 (65)
     *  64.5  mant 0x810000: code 0x40, rest tie, even       -> 0x40 (64)
     *  65.5  mant 0x830000: code 0x41, rest tie, odd        -> 0x42 (66) */
    const float v[6] = {1.0078125f, 1.0234375f, 64.75f, 65.25f, 64.5f, 65.5f};
    const uint8_t code[6] = {0x40, 0x42, 0x41, 0x41, 0x40, 0x42};
    const float dec[6] = {1.0f, 1.03125f, 65.0f, 65.0f, 64.0f, 66.0f};
    for (int t = 0; t < 6; t++) {
        for (int s = 0; s < 2; s++) {
            float in[16] = {0};
            in[5] = s ? -v[t] : v[t];
            uint8_t e, q[16];
            enc8(in, &e, q);
            assert_int_equal(q[5], code[t] | (s ? 0x80 : 0));
            assert_true(rt_bfp_decode_value(e, q[5], 7) == (s ? -dec[t] : dec[t]));
        }
    }
}

static void test_bfp8_truncating_shift(void **state)
{
    (void)state;
    /* The alignment shift truncates BEFORE rounding.  With 2.0 in the block
     * (shared 128) the value 0x3f820001 = 1.015625 + 2^-23 (mant24 0x820001)
     * shifts by 1 to 0x410000 (the low 1 is lost): code 0x20, rest 0x10000
     * is now an exact tie, code even -> 0x20, i.e. 1.0.  Rounding the exact
     * value (just above the midpoint of 1.0 and 1.03125) would give 0x21. */
    float in[16] = {2.0f, fbits(0x3f820001)};
    uint8_t e, q[16];
    enc8(in, &e, q);
    assert_int_equal(e, 128);
    assert_int_equal(q[1], 0x20);
    assert_true(rt_bfp_decode_value(e, q[1], 7) == 1.0f);
}

static void test_bfp8_saturation(void **state)
{
    (void)state;
    /* 0x44ffffff = 2047.9999 (exp 137, frac 0x7fffff): mant24 0xffffff ->
     * code 0x7f, rest 0x1ffff > half -> 0x80, which would carry into the
     * exponent; it saturates at 127 instead -> 127 * 2^10 / 64 = 2032.
     * Likewise 1.999999 alone (0x3fffffff) -> 127/64 = 1.984375, and its
     * negative keeps the sign: byte 0xff. */
    float in[16] = {fbits(0x44ffffff)};
    uint8_t e, q[16];
    enc8(in, &e, q);
    assert_int_equal(e, 137);
    assert_int_equal(q[0], 0x7f);
    assert_true(rt_bfp_decode_value(e, q[0], 7) == 2032.0f);
    float in2[16] = {-fbits(0x3fffffff)};
    enc8(in2, &e, q);
    assert_int_equal(e, 127);
    assert_int_equal(q[0], 0xff);
    assert_true(rt_bfp_decode_value(e, q[0], 7) == -1.984375f);
}

static void test_bfp8_subnormals(void **state)
{
    (void)state;
    /* f32 subnormals have exponent field 0: they encode as 0 and do not
     * raise the shared exponent.  A block of only subnormals -> shared 0. */
    float in[16] = {fbits(0x00400000), -fbits(0x00000001)};
    uint8_t e, q[16];
    enc8(in, &e, q);
    assert_int_equal(e, 0);
    assert_int_equal(q[0], 0);
    assert_int_equal(q[1], 0);
    /* With the smallest normal 2^-126 (exp 1): shared 1, it encodes as
     * 0x40 and decodes exactly (64 * 2^-126 / 64, computed through the
     * subnormal scale 2^-132); the subnormal still encodes as 0. */
    float in2[16] = {FLT_MIN, fbits(0x00400000)};
    enc8(in2, &e, q);
    assert_int_equal(e, 1);
    assert_int_equal(q[0], 0x40);
    assert_int_equal(q[1], 0);
    assert_true(rt_bfp_decode_value(e, q[0], 7) == FLT_MIN);
    /* shared exponent 3, code 0x01: 2^-124 / 64 = 2^-130, a subnormal
     * result, exact */
    assert_true(rt_bfp_decode_value(3, 0x01, 7) == ldexpf(1.0f, -130));
}

static void test_bfp8_nonfinite(void **state)
{
    (void)state;
    /* Policy (dtype.h): propagate.  Shared exponent 0xFF; Inf -> sign|0x40,
     * NaN -> sign|0x41, finite values of the block -> 0. */
    float in[16] = {INFINITY, -INFINITY, fbits(0x7fc00000), 1.0f, 0.0f, -3.0f, fbits(0xff800001)};
    uint8_t e, q[16];
    float out[16];
    enc8(in, &e, q);
    assert_int_equal(e, 0xff);
    const uint8_t want[7] = {0x40, 0xc0, 0x41, 0x00, 0x00, 0x00, 0xc1};
    for (int i = 0; i < 7; i++)
        assert_int_equal(q[i], want[i]);
    rt_bfp_decode_block(e, q, 7, out);
    assert_true(isinf(out[0]) && out[0] > 0);
    assert_true(isinf(out[1]) && out[1] < 0);
    assert_true(isnan(out[2]));
    assert_true(out[3] == 0 && out[4] == 0 && out[5] == 0);
    assert_true(isnan(out[6]));
    /* bf4_b: Inf -> sign|4, NaN -> sign|5 */
    rt_bfp_encode_block(in, 3, &e, q);
    assert_int_equal(e, 0xff);
    assert_int_equal(q[0], 0x4);
    assert_int_equal(q[1], 0xc);
    assert_int_equal(q[2], 0x5);
    assert_int_equal(q[3], 0);
    assert_true(isinf(rt_bfp_decode_value(e, q[1], 3)) && rt_bfp_decode_value(e, q[1], 3) < 0);
    assert_true(isnan(rt_bfp_decode_value(e, q[2], 3)));
}

static void test_bfp4_cases(void **state)
{
    (void)state;
    /* bf4_b, block max 1.0..1.875 (exp 127), half = 0x100000:
     *  1.0    mant24 0x800000 -> code 4 (0b100), rest 0        -> 4   (1.0)
     *  1.75   0xe00000 -> code 7, rest 0                        -> 7   (1.75)
     *  1.875  0xf00000 -> code 7, rest 0x100000 tie, odd -> 8 -> saturates
     *         at 7 (1.75): no carry into the exponent
     *  1.125  0x900000 -> code 4, rest tie, even                -> 4   (1.0)
     *  1.375  0xb00000 -> code 5, rest tie, odd                 -> 6   (1.5)
     *  -0.25  exp 125, shift 2: 0x200000 -> code 1, rest 0      -> 0x9 (-0.25)
     *  -0.125 exp 124, shift 3: 0x100000 -> code 0, rest tie, even -> 0,
     *         sign cleared                                      -> 0x0
     *  0.6    exp 126, shift 1: 0x99999a >> 1 = 0x4ccccd -> code 2, rest
     *         0x0ccccd < half -> 2                              -> 0.5 */
    float in[16] = {1.0f, 1.75f, 1.875f, 1.125f, 1.375f, -0.25f, -0.125f, 0.6f};
    uint8_t e, q[16];
    rt_bfp_encode_block(in, 3, &e, q);
    assert_int_equal(e, 127);
    const uint8_t want[8] = {4, 7, 7, 4, 6, 0x9, 0x0, 2};
    const float wantf[8] = {1.0f, 1.75f, 1.75f, 1.0f, 1.5f, -0.25f, 0.0f, 0.5f};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(q[i], want[i]);
        assert_true(rt_bfp_decode_value(e, q[i], 3) == wantf[i]);
    }
    /* Row packing: even element in the low nibble.  Values 0..7 of the
     * above -> bytes (7<<4|4), (4<<4|7), (9<<4|6), (2<<4|0). */
    uint8_t ex[1], m[8];
    rt_bfp_encode_row(RT_BF4_B, in, 8, ex, m);
    assert_int_equal(ex[0], 127);
    assert_int_equal(m[0], 0x74);
    assert_int_equal(m[1], 0x47);
    assert_int_equal(m[2], 0x96);
    assert_int_equal(m[3], 0x20);
    float back[8];
    rt_bfp_decode_row(RT_BF4_B, ex, m, 8, back);
    for (int i = 0; i < 8; i++)
        assert_true(back[i] == wantf[i]);
}

/* Properties over random blocks: decode(encode(x)) is within one code unit
 * of x, encoding is idempotent, and the row helpers agree with the block
 * codec (including a padded last block). */
static void test_bfp_random_roundtrip(void **state)
{
    (void)state;
    for (int W = 3; W <= 7; W += 4) {
        for (int t = 0; t < 2000; t++) {
            float in[16], out[16], out2[16];
            int spread = (int)(rnd() % 30);
            for (int i = 0; i < 16; i++)
                in[i] = ldexpf(rnd_normal(), (int)(rnd() % (unsigned)(spread + 1)) - spread / 2);
            if (t % 7 == 0)
                in[rnd() % 16] = 0.0f;
            uint8_t e, q[16], e2, q2[16];
            rt_bfp_encode_block(in, W, &e, q);
            rt_bfp_decode_block(e, q, W, out);
            double unit = ldexp(1.0, (int)e - 127 - (W - 1));
            for (int i = 0; i < 16; i++) {
                assert_true(fabs((double)out[i] - (double)in[i]) <= unit);
                /* sign preserved unless flushed */
                assert_true(out[i] == 0 || (out[i] > 0) == (in[i] > 0));
            }
            rt_bfp_encode_block(out, W, &e2, q2);
            rt_bfp_decode_block(e2, q2, W, out2);
            for (int i = 0; i < 16; i++)
                assert_true(out2[i] == out[i]);
        }
        /* row helpers, n = 37: three blocks, the last padded */
        rt_dtype dt = W == 7 ? RT_BF8_B : RT_BF4_B;
        float row[37], back[37];
        for (int i = 0; i < 37; i++)
            row[i] = rnd_normal();
        uint8_t ex[3], m[48];
        assert_int_equal(rt_bfp_row_mant_bytes(dt, 37), W == 7 ? 48 : 24);
        rt_bfp_encode_row(dt, row, 37, ex, m);
        rt_bfp_decode_row(dt, ex, m, 37, back);
        for (int b = 0; b < 3; b++) {
            float blk[16] = {0}, dec[16];
            for (int i = 0; i < 16 && b * 16 + i < 37; i++)
                blk[i] = row[b * 16 + i];
            uint8_t e, q[16];
            rt_bfp_encode_block(blk, W, &e, q);
            rt_bfp_decode_block(e, q, W, dec);
            assert_int_equal(e, ex[b]);
            for (int i = 0; i < 16 && b * 16 + i < 37; i++)
                assert_true(dec[i] == back[b * 16 + i]);
        }
    }
}

/* ---------------- rt_matrix layout ---------------- */

static void test_matrix_layout(void **state)
{
    (void)state;
    const int N = 37, K = 53;
    float *src = malloc(sizeof(float) * N * K), *row = malloc(sizeof(float) * K);
    for (int i = 0; i < N * K; i++)
        src[i] = rnd_normal() * (i % 11 == 0 ? 100.0f : 1.0f);
    rt_dtype dts[4] = {RT_F32, RT_BF16, RT_BF8_B, RT_BF4_B};
    for (int d = 0; d < 4; d++) {
        rt_matrix m;
        mgc_error e;
        assert_int_equal(rt_matrix_init(&m, dts[d], N, K, &e), 0);
        assert_int_equal(m.bytes, rt_dtype_matrix_bytes(dts[d], N, K));
        if (dts[d] == RT_F32 || dts[d] == RT_BF16) {
            rt_matrix_set_rows_f32(&m, 0, N, src);
        } else {
            /* in two calls: one 16-row block, then the rest (ends at n) */
            rt_matrix_set_rows_f32(&m, 0, 16, src);
            rt_matrix_set_rows_f32(&m, 16, N - 16, src + 16 * K);
        }
        for (int r = 0; r < N; r++) {
            rt_matrix_get_row_f32(&m, r, row);
            for (int c = 0; c < K; c++) {
                float want;
                if (dts[d] == RT_F32)
                    want = src[r * K + c];
                else if (dts[d] == RT_BF16)
                    want = rt_bf16_round(src[r * K + c]);
                else {
                    /* the block of column c holding row r runs along n */
                    float blk[16] = {0}, dec[16];
                    int nb = r / 16;
                    for (int j = 0; j < 16 && nb * 16 + j < N; j++)
                        blk[j] = src[(nb * 16 + j) * K + c];
                    uint8_t ex, q[16];
                    rt_bfp_encode_block(blk, rt_dtype_mant_bits(dts[d]), &ex, q);
                    rt_bfp_decode_block(ex, q, rt_dtype_mant_bits(dts[d]), dec);
                    want = dec[r % 16];
                    assert_int_equal(m.exps[nb * K + c], ex);
                }
                assert_true(row[c] == want);
            }
        }
        assert_int_equal(m.nonfinite, 0);
        rt_matrix_free(&m);
        assert_null(m.data);
    }
    /* The line layout kernels.h states: bf8_b holds column c's 16 rows in
     * bytes 16 * (c % 4) + j of a 64-byte line of 4 columns (int8 two's
     * complement of tt's sign-magnitude byte); bf4_b makes dword j of a
     * line row j, the even columns in its low word and the odd ones in the
     * high word, column c at nibble (c / 2) % 4 of its word. */
    rt_matrix m;
    assert_int_equal(rt_matrix_init(&m, RT_BF8_B, 16, 3, NULL), 0);
    float blk[16 * 3] = {0};
    blk[0 * 3 + 1] = -1.5f; /* row 0, column 1 */
    blk[5 * 3 + 1] = 1.0f;  /* row 5, column 1 */
    rt_matrix_set_rows_f32(&m, 0, 16, blk);
    assert_int_equal(m.exps[1], 127);
    assert_int_equal(((int8_t *)m.data)[16 + 0], -96); /* -1.5 = -96/64 */
    assert_int_equal(((int8_t *)m.data)[16 + 5], 64);
    assert_int_equal(m.exps[0], 0);
    for (int i = 0; i < 64; i++) /* nothing else is set, the pad column 3 neither */
        if (i != 16 && i != 21)
            assert_int_equal(((uint8_t *)m.data)[i], 0);
    rt_matrix_free(&m);
    assert_int_equal(rt_matrix_init(&m, RT_BF4_B, 16, 3, NULL), 0);
    rt_matrix_set_rows_f32(&m, 0, 16, blk);
    /* column 1: odd, pair 0: the low nibble of the high word's low byte,
     * row 0 = 0xe (-1.5 = -6/4, sign bit 8), row 5 = 4 */
    assert_int_equal(((uint8_t *)m.data)[4 * 0 + 2], 0x0e);
    assert_int_equal(((uint8_t *)m.data)[4 * 5 + 2], 0x04);
    for (int i = 0; i < 64; i++)
        if (i != 2 && i != 22)
            assert_int_equal(((uint8_t *)m.data)[i], 0);
    rt_matrix_free(&m);
    /* bf8_b column 5 of 6 starts the block's second line: row 2 at byte
     * 64 + 16 * 1 + 2; the pad columns 6 and 7 stay zero */
    assert_int_equal(rt_matrix_init(&m, RT_BF8_B, 16, 6, NULL), 0);
    float b6[16 * 6] = {0};
    b6[2 * 6 + 5] = 0.5f;
    rt_matrix_set_rows_f32(&m, 0, 16, b6);
    assert_int_equal(m.exps[5], 126);
    assert_int_equal(((int8_t *)m.data)[64 + 16 + 2], 64); /* 0.5 = 64/64 * 2^-1 */
    for (int i = 0; i < 128; i++)
        if (i != 64 + 16 + 2)
            assert_int_equal(((uint8_t *)m.data)[i], 0);
    rt_matrix_free(&m);
    /* bf4_b columns 6 and 7 (pair 3) of 10: bits 12 and 28 of row 3's dword,
     * i.e. the high nibbles of bytes 13 and 15; columns 8 and 9 start the
     * block's second line (byte 64 + 12, low nibbles) */
    assert_int_equal(rt_matrix_init(&m, RT_BF4_B, 16, 10, NULL), 0);
    float b10[16 * 10] = {0};
    b10[3 * 10 + 6] = 1.0f;
    b10[3 * 10 + 7] = -1.0f;
    b10[3 * 10 + 8] = 1.0f;
    b10[3 * 10 + 9] = 1.0f;
    rt_matrix_set_rows_f32(&m, 0, 16, b10);
    assert_int_equal(((uint8_t *)m.data)[13], 0x40); /* 1.0 = 4/4 */
    assert_int_equal(((uint8_t *)m.data)[15], 0xc0); /* -1.0: sign 8 | 4 */
    assert_int_equal(((uint8_t *)m.data)[64 + 12], 0x04);
    assert_int_equal(((uint8_t *)m.data)[64 + 14], 0x04);
    rt_matrix_free(&m);

    /* non-finite blocks are counted and uncounted when overwritten */
    assert_int_equal(rt_matrix_init(&m, RT_BF8_B, 16, 3, NULL), 0);
    blk[2 * 3 + 2] = INFINITY;
    rt_matrix_set_rows_f32(&m, 0, 16, blk);
    assert_int_equal(m.nonfinite, 1);
    blk[2 * 3 + 2] = 2.0f;
    rt_matrix_set_rows_f32(&m, 0, 16, blk);
    assert_int_equal(m.nonfinite, 0);
    rt_matrix_free(&m);

    mgc_error e;
    assert_int_equal(rt_matrix_init(&m, RT_I32, 4, 4, &e), -1);
    assert_non_null(strstr(e.msg, "i32"));
    assert_int_equal(rt_matrix_init(&m, RT_F32, 0, 4, &e), -1);
    free(src);
    free(row);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_matrix_bytes),
        cmocka_unit_test(test_bf16_rounding),
        cmocka_unit_test(test_bf16_random_is_nearest),
        cmocka_unit_test(test_bfp8_equal_values),
        cmocka_unit_test(test_bfp8_zero_block),
        cmocka_unit_test(test_bfp8_huge_value_flushes),
        cmocka_unit_test(test_bfp8_ties_to_even),
        cmocka_unit_test(test_bfp8_truncating_shift),
        cmocka_unit_test(test_bfp8_saturation),
        cmocka_unit_test(test_bfp8_subnormals),
        cmocka_unit_test(test_bfp8_nonfinite),
        cmocka_unit_test(test_bfp4_cases),
        cmocka_unit_test(test_bfp_random_roundtrip),
        cmocka_unit_test(test_matrix_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
