/* reduce_vec.h: horizontal sums of several AVX-512 accumulators at once,
 * in the canonical order of kernels.h (lane l with l+8, then l+4, l+2,
 * l+1), so each result has the bits of one vector reduced alone, with a
 * shuffle network shared by all of them instead of one reduction each.
 * Include it inside an RT_TARGET_AVX512_BEGIN region (simd_target.h). */
#ifndef RT_REDUCE_VEC_H
#define RT_REDUCE_VEC_H

#include <immintrin.h>

/* Lane j of the result: acc[j]'s 16 lanes summed in the canonical pairs
 * (lane l with l+8, then l+4, l+2, l+1), so each has the bits rt_dot_*
 * would give; one shuffle network for all 16 instead of 16 reductions. */
static inline __m512 rt_reduce16x16(const __m512 acc[16])
{
    /* lanes l + l+8: v[i] = [acc 2i (8 lanes) | acc 2i+1 (8 lanes)] */
    __m512 v8[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        v8[i] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * i], acc[2 * i + 1], 0x44),
                              _mm512_shuffle_f32x4(acc[2 * i], acc[2 * i + 1], 0xee));
    /* l + l+4: x[i] = 128-bit quarters hold dots 4i..4i+3, 4 lanes each */
    __m512 x4[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        x4[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v8[2 * i], v8[2 * i + 1], 0x88),
                              _mm512_shuffle_f32x4(v8[2 * i], v8[2 * i + 1], 0xdd));
    /* l + l+2 within quarters: quarter q of z[i] = dots (8i+q: 2 lanes, 8i+4+q: 2 lanes) */
    __m512 z2[2];
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++)
        z2[i] = _mm512_add_ps(_mm512_shuffle_ps(x4[2 * i], x4[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm512_shuffle_ps(x4[2 * i], x4[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* l + l+1: lane 4q + j holds dot q + 4j */
    __m512 r = _mm512_add_ps(_mm512_shuffle_ps(z2[0], z2[1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_ps(z2[0], z2[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i to_natural = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(to_natural, r);
}

/* Lane j < 4 of the result: a[j]'s 16 lanes summed in the canonical pairs. */
static inline __m128 rt_reduce4x16(__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
    /* l + l+8: quarters of v0 = a0 (l, l+4 sums) | a1 (likewise) */
    __m512 v0 = _mm512_add_ps(_mm512_shuffle_f32x4(a0, a1, 0x44), _mm512_shuffle_f32x4(a0, a1, 0xee));
    __m512 v1 = _mm512_add_ps(_mm512_shuffle_f32x4(a2, a3, 0x44), _mm512_shuffle_f32x4(a2, a3, 0xee));
    /* l + l+4: quarter j holds a[j]'s 4 partial sums */
    __m512 x = _mm512_add_ps(_mm512_shuffle_f32x4(v0, v1, 0x88), _mm512_shuffle_f32x4(v0, v1, 0xdd));
    /* l + l+2, then l + l+1: lane 0 of quarter j */
    x = _mm512_add_ps(x, _mm512_shuffle_ps(x, x, _MM_SHUFFLE(1, 0, 3, 2)));
    x = _mm512_add_ps(x, _mm512_shuffle_ps(x, x, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m512i firsts = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(firsts, x));
}

#endif
