/* dtype: the runtime's element types and the conversions between them.
 *
 * f32   IEEE binary32.
 * bf16  the top 16 bits of an f32 (bfloat16).  f32 -> bf16 rounds to nearest,
 *       ties to even; NaN stays a quiet NaN of the same sign; +-Inf stays +-Inf;
 *       finite values that round past the largest bf16 become +-Inf (as torch
 *       does).  bf16 -> f32 is exact.
 * bf8_b, bf4_b
 *       Tenstorrent block floats ("bfloat8_b" / "bfloat4_b"): a block of 16
 *       values shares one 8-bit exponent (the fp32 bias 127 is kept) and each
 *       value has a sign and a W-bit magnitude, W = 7 (bf8_b) or W = 3 (bf4_b).
 *       Encoding is bit-exact with tt-metal's host packer
 *       (convert_u32_to_bfp<..., truncate=false>):
 *         shared_exp = max fp32 exponent field over the block (zeros and f32
 *                      subnormals count as exponent 0, so they never raise it);
 *         mant       = (1<<23 | frac) >> (shared_exp - exp)      truncating;
 *         code       = top W of the 24 bits, round to nearest, ties to even on
 *                      the dropped bits, clamped at 2^W - 1 (never carries
 *                      into the exponent);
 *         sign       cleared when code is 0.
 *       A code is sign<<W | mant (bf8_b: one byte, bf4_b: one nibble).
 *       Decode: value = +-mant * 2^(shared_exp - 127) * 2^-(W-1), exact in f32.
 *       Values much smaller than the block's largest flush to 0; there are no
 *       subnormals on the way in: an f32 subnormal encodes as 0 (tt-metal
 *       would keep its hidden bit, which only matters when the whole block is
 *       below 2^-103).
 *
 *       Inf/NaN policy: PROPAGATE.  A block holding any Inf or NaN gets
 *       shared_exp 0xFF; in it +-Inf encodes as sign | 2^(W-1) (decodes to
 *       +-Inf), NaN as sign | 2^(W-1) | 1 (decodes to a quiet NaN), and every
 *       finite value of that block encodes as 0 (it is "far below" the block
 *       max, as Inf's exponent says).  Decoding a block with shared_exp 0xFF:
 *       mant 0 -> 0, mant 2^(W-1) -> +-Inf, any other mant -> quiet NaN.
 *       Rationale: a corrupt weight must show up as NaN/Inf downstream, not be
 *       silently replaced by a plausible finite number.
 * i32   token ids and positions.
 */
#ifndef RT_DTYPE_H
#define RT_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum { RT_F32, RT_BF16, RT_BF8_B, RT_BF4_B, RT_I32 } rt_dtype;

#define RT_BFP_BLOCK 16 /* values per shared exponent */

/* "f32", "bf16", "bf8_b", "bf4_b", "i32"; "?" for an out-of-range value. */
const char *rt_dtype_name(rt_dtype dt);

/* Parses one of the names above.  Returns 0, or -1 (and leaves *out alone)
 * for any other string, including NULL. */
int rt_dtype_parse(const char *name, rt_dtype *out);

/* Mantissa width W of a block-float dtype (7 for bf8_b, 3 for bf4_b), else 0. */
int rt_dtype_mant_bits(rt_dtype dt);

/* Bytes needed to hold an [n][k] weight matrix (HF orientation: n outputs,
 * k inputs) in dt as rt_matrix stores it (kernels.h): f32 4nk, bf16 2nk,
 * i32 4nk; bf8_b ceil(n/16)*ceil(k/4)*64 + ceil(n/16)*k (mantissas in
 * 64-byte lines of 4 columns, exponents); bf4_b ceil(n/16)*ceil(k/8)*64 +
 * ceil(n/16)*k (lines of 8 columns: two columns share a byte).
 * Returns 0 if n or k is not positive. */
size_t rt_dtype_matrix_bytes(rt_dtype dt, int n, int k);

/* ---- bf16 ----
 * Inline: the kernels of bf16-activation plans round every product and sum
 * (rotary, norms, attention), and a call per value cost more than the
 * arithmetic. */
static inline uint16_t rt_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)        /* NaN: keep sign and top */
        return (uint16_t)((u >> 16) | 0x0040u); /* payload, force quiet   */
    /* Round to nearest even: adding 0x7fff plus the lsb of the result rounds
     * the dropped 16 bits; a carry into the exponent is the right answer
     * (including overflow to Inf).  Inf itself has zero low bits. */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float rt_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* f rounded to the nearest bf16, returned as an f32 (exact emulation of
 * storing an activation in bf16). */
static inline float rt_bf16_round(float f) { return rt_bf16_to_f32(rt_f32_to_bf16(f)); }
void rt_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n);
void rt_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n);

/* ---- block float ----
 * Core codec.  in[16] -> *shared_exp and out[16] codes (one per byte, in the
 * low W+1 bits: sign<<W | mant).  mant_bits is 7 (bf8_b) or 3 (bf4_b). */
void rt_bfp_encode_block(const float in[16], int mant_bits, uint8_t *shared_exp, uint8_t out[16]);
void rt_bfp_decode_block(uint8_t shared_exp, const uint8_t codes[16], int mant_bits, float out[16]);
/* One value of a block: code (sign<<W | mant) under shared_exp.  Exact. */
float rt_bfp_decode_value(uint8_t shared_exp, uint8_t code, int mant_bits);

/* Row helpers in tt-metal's packed form: n values (the last block is padded
 * with zeros) -> ceil(n/16) exponent bytes and the codes, bf8_b one byte per
 * value, bf4_b two values per byte (even element in the low nibble).
 * mants must hold rt_bfp_row_mant_bytes(dt, n) bytes.  dt is RT_BF8_B or
 * RT_BF4_B. */
size_t rt_bfp_row_mant_bytes(rt_dtype dt, size_t n);
void rt_bfp_encode_row(rt_dtype dt, const float *src, size_t n, uint8_t *exps, uint8_t *mants);
void rt_bfp_decode_row(rt_dtype dt, const uint8_t *exps, const uint8_t *mants, size_t n, float *dst);

#endif
