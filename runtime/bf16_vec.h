/* bf16_vec.h: rounding sixteen f32 values to bf16 at once, for the AVX-512
 * kernels of bf16-activation plans.  Include it inside an
 * RT_TARGET_AVX512_BEGIN region (simd_target.h).
 *
 * The same integer operations as rt_f32_to_bf16 (dtype.h) on each lane, so
 * the bits equal the scalar path's: round to nearest even by adding 0x7fff
 * plus the kept lsb (a carry into the exponent is the right answer, Inf
 * included); a NaN keeps its sign and top payload bits and is made quiet.
 * Not vcvtneps2bf16: it flushes subnormal inputs to zero. */
#ifndef RT_BF16_VEC_H
#define RT_BF16_VEC_H

#include <immintrin.h>

static inline __m512 rt_bf16_round16(__m512 x)
{
    const __m512i u = _mm512_castps_si512(x);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, _mm512_set1_epi32(0x00400000)));
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u)));
}

/* Lanes [0, n) of a 16-lane step, n < 16 (the tail of a row). */
static inline __mmask16 rt_tail_mask16(size_t n) { return (__mmask16)((1u << n) - 1u); }

#endif
