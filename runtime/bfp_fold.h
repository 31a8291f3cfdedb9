/* bfp_fold.h: x folded with a block-float matrix's shared exponents for the
 * column-pair order (rt_bfpdot_ref), sixteen columns at a time.  Shared by
 * the pair-order GEMVs (the fma one in kernels_linear.c, the vdpbf16ps one
 * for bf4_b in kernels_bf16dot.c), so that both fold and check alike.
 * Include it inside an RT_TARGET_AVX512_BEGIN (or wider) region.
 *
 * A weight is code * 2^-(W-1) * 2^(e-127) (code an integer, e the column's
 * shared exponent in its row block); the product a * weight, a = bf16 of x,
 * is computed as (a * 2^-(W-1) * 2^(e-127)) * code: exact while that fold
 * is a normal f32 (or zero), which rt_bfp_fold16 checks when asked. */
#ifndef RT_BFP_FOLD_H
#define RT_BFP_FOLD_H

#include <immintrin.h>

#include "bf16_vec.h"

/* x[0..16) under km as rt_bfpdot_ref reads it, a = ftz(bf16(ftz(x))) (a
 * subnormal x keeps only its sign before it is rounded), times cw =
 * 2^-(W-1); *nz: the lanes where a is not zero. */
static inline __m512 rt_bfp_x16(const float *x, __mmask16 km, __m512 cw, __mmask16 *nz)
{
    __m512 xr = _mm512_maskz_loadu_ps(km, x);
    __m512i u = _mm512_castps_si512(xr);
    __mmask16 sub = _mm512_cmpeq_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7f800000)), _mm512_setzero_si512());
    xr = rt_bf16_round16(_mm512_castsi512_ps(_mm512_mask_and_epi32(u, sub, u, _mm512_set1_epi32((int)0x80000000u))));
    *nz = _mm512_cmpneq_ps_mask(xr, _mm512_setzero_ps());
    return _mm512_mul_ps(xr, cw);
}

/* 2^(e-127) for the 16 shared exponents e (0 for e = 0: a column of zero
 * weights folds to zero, rightly). */
static inline __m512 rt_bfp_scale16(__m512i e) { return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23)); }

/* Of a chunk's 16 columns: those a fold must check, i.e. not all-zero
 * (exponent 0: the fold is zero, rightly), and those the pair order cannot
 * fold at all (exponents 1..W-1: f32-subnormal weights, which it reads as
 * zero).  Once per row block and chunk, for every user's folds. */
static inline void rt_bfp_fold_cols(__m512i e, int W, __mmask16 *live, __mmask16 *tiny)
{
    *tiny = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), _mm512_set1_epi32(W - 1));
    *live = _mm512_cmpneq_epi32_mask(e, _mm512_setzero_si512());
}

/* Of the folds v = xv * scale: the lanes that left the order's exact reach
 * (v not a normal f32 where x and the column are nonzero, or a tiny
 * column). */
static inline __mmask16 rt_bfp_fold_bad(__m512 v, __mmask16 live, __mmask16 tiny, __mmask16 nz)
{
    __m512i ev = _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(v), 23), _mm512_set1_epi32(0xff));
    __mmask16 odd = _mm512_cmpeq_epi32_mask(ev, _mm512_setzero_si512()) | _mm512_cmpeq_epi32_mask(ev, _mm512_set1_epi32(0xff));
    return nz & live & (odd | tiny);
}

/* How far ahead the pair-order GEMVs prefetch each row block's two streams,
 * its code lines and its exponents, in 16-column chunks: 4 (bf8_b's codes
 * 1 KiB ahead, bf4_b's 512 bytes, the exponents 64 bytes).  The hardware
 * prefetcher does not keep up with a block's short exponent stream (k bytes)
 * beside 8 code streams.  Qwen3-0.6B decode steps alternated in one process
 * (2 threads) against the 2 KiB / 256 bytes these were: bf4_b 90.4 vs 83.3
 * tok/s, bf8_b 64.8 vs 59.6; 8 chunks and 2 lost to 4, exponents 256 bytes
 * ahead lost 4-6 % alone. */
#define RT_BFP_PF_CHUNKS 4

/* Prefetches the chunk RT_BFP_PF_CHUNKS after column k0 of row block nb of
 * a matrix of W mantissa bits (7: bf8_b, 3: bf4_b; a constant where it is
 * inlined), its code lines and its exponents; line: k0's code line of that
 * block, which the caller has (so the common case is an offset from it).
 * Past the block's end it
 * prefetches as far into block `after` instead, the block this stream
 * reads next (the kernels run row blocks in groups, one stream per block:
 * the block after nb in the matrix is another stream of the same group,
 * already on its way); none when `after` is past the matrix (the caller's
 * row view).  A prefetch never faults. */
static inline __attribute__((always_inline)) void rt_bfp_prefetch(const rt_matrix *w, int W, size_t nb, int k0,
                                                                  const void *line, size_t after)
{
    const int chunk = W == 7 ? 256 : 128; /* code bytes of 16 columns */
    int ka = k0 + RT_BFP_PF_CHUNKS * 16;
    const char *p = (const char *)line + RT_BFP_PF_CHUNKS * chunk;
    if (ka >= w->k) {
        if (after >= ((size_t)w->n + 15) / 16)
            return;
        nb = after;
        ka -= (w->k + 15) / 16 * 16;
        p = (const char *)rt_bfp_line(w, nb, ka);
    }
    /* the builtin (read, keep in all levels: _MM_HINT_T0): gcc 12 emitted
     * no instruction at all for _mm_prefetch in this function when it was a
     * plain static inline (the hint was not folded to a constant) */
    for (int o = 0; o < chunk; o += 64)
        __builtin_prefetch(p + o, 0, 3);
    __builtin_prefetch(w->exps + nb * (size_t)w->k + (size_t)ka, 0, 3);
}

/* Outputs 16 nb .. 16 nb + 15 (those below n) of M users from acc[i *
 * stride] (user i's accumulator of that row block). */
static inline void rt_bfp_store_block(float *y, size_t ldy, int n, size_t nb, int M, const __m512 *acc, size_t stride)
{
    int rows = n - (int)nb * 16 < 16 ? n - (int)nb * 16 : 16;
    __mmask16 rm = (__mmask16)((1u << rows) - 1);
    for (int i = 0; i < M; i++)
        _mm512_mask_storeu_ps(y + (size_t)i * ldy + nb * 16, rm, acc[(size_t)i * stride]);
}

#endif
