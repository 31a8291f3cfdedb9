/* Attention and the KV cache.
 *
 * Prefill (many queries) is matrix work: per query head and block of
 * RT_ATTN_QBLOCK queries, scores = scale * Q K^T and out = P V through
 * OpenBLAS; only the keys up to the block's last position are computed, so
 * at most half a block of masked work is wasted per row.  Decode (one query
 * per user) reads each cached K/V row once for all query heads of its GQA
 * group, with the canonical-order dot products (kernels.h), so every ISA
 * gives the same bits. */
#include "kernels.h"
#include "pages.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ===================== KV cache ===================== */

int rt_kv_cache_init(rt_kv_cache *c, rt_dtype dt, int users, int hkv, int cap, int hd, mgc_error *e)
{
    memset(c, 0, sizeof *c);
    if (dt != RT_F32 && dt != RT_BF16)
        return mgc_errorf(e, "a KV cache cannot be stored as %s (use f32 or bf16)", rt_dtype_name(dt));
    if (users <= 0 || hkv <= 0 || cap <= 0 || hd <= 0)
        return mgc_errorf(e, "KV cache shape [%d, %d, %d, %d] is not positive", users, hkv, cap, hd);
    size_t each = (size_t)users * hkv * cap * hd * (dt == RT_F32 ? 4 : 2);
    /* Zeroed pages, huge where the kernel allows: a decode step writes one
     * position of every user, layer and head, and on small pages the steps
     * that cross into a new page took a fault for each (5 % of a 32-user
     * step).  The position blocks keep what is resident to the blocks
     * written.  Why 256 positions: a head's rows are contiguous only
     * within a block, and decode attention reads a head's rows as one
     * stream; in blocks of 64 (16 KiB runs of a bf16 head of 128) it read
     * 1024 positions 15-20 % slower than from whole-cache rows, in blocks
     * of 256 about 7 % (bench_kernels' shape; the same at 152 positions,
     * where most contexts are). */
    c->k = rt_pages_alloc(each);
    c->v = rt_pages_alloc(each);
    if (!c->k || !c->v) {
        rt_pages_free(c->k, each);
        rt_pages_free(c->v, each);
        memset(c, 0, sizeof *c);
        return mgc_errorf(e, "out of memory for a %s KV cache [%d, %d, %d, %d] (%zu bytes)", rt_dtype_name(dt),
                          users, hkv, cap, hd, 2 * each);
    }
    c->dtype = dt;
    c->users = users;
    c->hkv = hkv;
    c->cap = cap;
    c->hd = hd;
    c->bytes = 2 * each;
    return 0;
}

void rt_kv_cache_free(rt_kv_cache *c)
{
    rt_pages_free(c->k, c->bytes / 2);
    rt_pages_free(c->v, c->bytes / 2);
    memset(c, 0, sizeof *c);
}

/* Element offset of (user, kv head, pos, 0): the full blocks before pos's,
 * then the (user, head) slots of its block, each as long as the block. */
static size_t cache_off(const rt_kv_cache *c, int user, int h, int pos)
{
    const int b0 = pos / RT_KV_BLOCK * RT_KV_BLOCK, n = c->cap - b0 < RT_KV_BLOCK ? c->cap - b0 : RT_KV_BLOCK;
    return ((size_t)b0 * c->users * c->hkv + ((size_t)user * c->hkv + h) * n + (pos - b0)) * c->hd;
}

size_t rt_kv_cache_offset(const rt_kv_cache *c, int user, int h, int pos)
{
    assert(user >= 0 && user < c->users && h >= 0 && h < c->hkv && pos >= 0 && pos < c->cap);
    return cache_off(c, user, h, pos);
}

/* Row p of the cached K or V rows that start at element offset off. */
static const void *cache_row(const rt_kv_cache *c, const void *base, size_t off, int p)
{
    size_t e = off + (size_t)p * c->hd;
    return c->dtype == RT_BF16 ? (const void *)((const uint16_t *)base + e) : (const void *)((const float *)base + e);
}

/* The end of the run of contiguous rows that starts at position p, capped
 * at `end`. */
static int block_end(int p, int end)
{
    int e = p / RT_KV_BLOCK * RT_KV_BLOCK + RT_KV_BLOCK;
    return e < end ? e : end;
}

/* ---- a bf16 row's order (kernels.h): in each whole 32-element chunk,
 * word j holds element j in its low half and element j + 16 in its high
 * half; the last hd % 32 elements in order ---- */

#if defined(__x86_64__)
#include <immintrin.h>

#include "simd_target.h"
RT_TARGET_AVX512_BEGIN
#include "bf16_vec.h"
static void kv_store_bf16_avx512(const float *src, uint16_t *dst, int h32)
{
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    for (int d = 0; d < h32; d += 32) {
        __m512i a = _mm512_castps_si512(rt_bf16_round16(_mm512_loadu_ps(src + d)));
        __m512i b = _mm512_castps_si512(rt_bf16_round16(_mm512_loadu_ps(src + d + 16)));
        _mm512_storeu_si512((void *)(dst + d), _mm512_or_si512(_mm512_and_si512(b, hi), _mm512_srli_epi32(a, 16)));
    }
}

static void kv_widen_avx512(const uint16_t *src, float *dst, int h32)
{
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    for (int d = 0; d < h32; d += 32) {
        __m512i x = _mm512_loadu_si512((const void *)(src + d));
        _mm512_storeu_si512((void *)(dst + d), _mm512_slli_epi32(x, 16));
        _mm512_storeu_si512((void *)(dst + d + 16), _mm512_and_si512(x, hi));
    }
}
RT_TARGET_END
#endif

/* Where element d of a bf16 row is stored, h32 = hd rounded down to 32:
 * the one definition of the order above, for the paths that go element by
 * element (the AVX-512 ones take a whole chunk at a time). */
static int kv_slot(int d, int h32)
{
    if (d >= h32)
        return d;
    int j = d % 32;
    return d - j + (j < 16 ? 2 * j : 2 * (j - 16) + 1);
}

/* One row of hd values into a bf16 cache, rounded to nearest even (isa
 * capped at the CPU's by the caller) */
static void kv_store_bf16(rt_isa isa, const float *src, uint16_t *dst, int hd)
{
    const int h32 = hd / 32 * 32;
    int d = 0;
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512) {
        kv_store_bf16_avx512(src, dst, h32);
        d = h32;
    }
#endif
    for (; d < hd; d++)
        dst[kv_slot(d, h32)] = rt_f32_to_bf16(src[d]);
}

/* One cached row (f32 or bf16) as hd f32 values in order, exactly (isa
 * capped at the CPU's by the caller) */
static void kv_row_f32(rt_isa isa, const rt_kv_cache *c, const void *row, float *dst)
{
    const int hd = c->hd, h32 = hd / 32 * 32;
    if (c->dtype == RT_F32) {
        memcpy(dst, row, (size_t)hd * sizeof(float));
        return;
    }
    const uint16_t *src = row;
    int d = 0;
#if defined(__x86_64__)
    if (isa == RT_ISA_AVX512) {
        kv_widen_avx512(src, dst, h32);
        d = h32;
    }
#endif
    for (; d < hd; d++)
        dst[d] = rt_bf16_to_f32(src[kv_slot(d, h32)]);
}

static void cache_store(rt_isa isa, const rt_kv_cache *c, void *base, size_t off, const float *src)
{
    if (c->dtype == RT_F32)
        memcpy((float *)base + off, src, (size_t)c->hd * sizeof(float));
    else
        kv_store_bf16(isa, src, (uint16_t *)base + off, c->hd);
}

void rt_kv_cache_read(rt_isa isa, const rt_kv_cache *c, int v, int user, int h, int pos, float *dst)
{
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
    kv_row_f32(isa, c, cache_row(c, v ? c->v : c->k, rt_kv_cache_offset(c, user, h, pos), 0), dst);
}

void rt_kv_cache_write(rt_isa isa, rt_kv_cache *c, int v, int user, int h, int pos, const float *src)
{
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
    cache_store(isa, c, v ? c->v : c->k, rt_kv_cache_offset(c, user, h, pos), src);
}

void rt_cache_fill(rt_kv_cache *c, int user, const float *k, const float *v, int s, int start)
{
    assert(user >= 0 && user < c->users && start >= 0 && s >= 0 && start + s <= c->cap);
    const size_t row = (size_t)c->hkv * c->hd;
    const rt_isa isa = rt_kernels_isa();
    for (int t = 0; t < s; t++)
        for (int h = 0; h < c->hkv; h++) {
            size_t off = cache_off(c, user, h, start + t);
            cache_store(isa, c, c->k, off, k + t * row + (size_t)h * c->hd);
            cache_store(isa, c, c->v, off, v + t * row + (size_t)h * c->hd);
        }
}

void rt_cache_update(rt_kv_cache *c, int nusers, const int *users, const float *k, const float *v,
                     const int32_t *pos)
{
    const size_t row = (size_t)c->hkv * c->hd;
    const rt_isa isa = rt_kernels_isa();
    for (int b = 0; b < nusers; b++) {
        int u = users ? users[b] : b;
        assert(u >= 0 && u < c->users && pos[b] >= 0 && pos[b] < c->cap);
        for (int h = 0; h < c->hkv; h++) {
            size_t off = cache_off(c, u, h, pos[b]);
            cache_store(isa, c, c->k, off, k + b * row + (size_t)h * c->hd);
            cache_store(isa, c, c->v, off, v + b * row + (size_t)h * c->hd);
        }
    }
}

/* ===================== prefill ===================== */

/* Softcap (if any) on scores[lo, hi), then the softmax over them; the
 * masked rest of the row [0, n) becomes 0. */
static void masked_softmax(float *row, int lo, int hi, int n, float softcap)
{
    if (softcap > 0)
        for (int j = lo; j < hi; j++)
            row[j] = tanhf(row[j] / softcap) * softcap;
    rt_softmax_row(row + lo, hi - lo);
    memset(row, 0, (size_t)lo * sizeof(float));
    memset(row + hi, 0, (size_t)(n - hi) * sizeof(float));
}

/* First key the query at position `pos` sees (sliding window). */
static int first_key(int pos, int64_t window)
{
    return window > 0 && pos + 1 > window ? (int)(pos + 1 - window) : 0;
}

/* One query head: queries i = 0..nq-1 (row stride ldq) at positions p0+i
 * see keys/values first_key(p0+i)..p0+i (row strides ldk, ldv).  scores:
 * QBLOCK*(p0+nq). */
static void attn_head_blas(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv, int nq, int p0,
                           int hd, float scale, int64_t window, float softcap, float *out, int ldo, float *scores)
{
    for (int i0 = 0; i0 < nq; i0 += RT_ATTN_QBLOCK) {
        int nb = nq - i0 < RT_ATTN_QBLOCK ? nq - i0 : RT_ATTN_QBLOCK;
        int nk = p0 + i0 + nb; /* keys the block's last query sees */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nk, hd, scale, q + (size_t)i0 * ldq, ldq, k, ldk,
                    0.0f, scores, nk);
        for (int r = 0; r < nb; r++) {
            int pos = p0 + i0 + r;
            masked_softmax(scores + (size_t)r * nk, first_key(pos, window), pos + 1, nk, softcap);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, nk, 1.0f, scores, nk, v, ldv, 0.0f,
                    out + (size_t)i0 * ldo, ldo);
    }
}

size_t rt_attention_prefill_scratch_floats(int s)
{
    return (size_t)RT_ATTN_QBLOCK * (size_t)(s > 0 ? s : 0);
}

void rt_attention_prefill(const float *q, const float *k, const float *v, int s, int hq, int hkv, int hd,
                          float scale, float *out, float *scratch)
{
    rt_attention_prefill_ex(q, k, v, s, hq, hkv, hd, scale, 0, 0.0f, out, scratch);
}

void rt_attention_prefill_ex(const float *q, const float *k, const float *v, int s, int hq, int hkv, int hd,
                             float scale, int64_t window, float softcap, float *out, float *scratch)
{
    rt_attention_prefill_heads(q, k, v, s, hq, hkv, hd, scale, window, softcap, out, scratch, 0, hkv);
}

void rt_attention_prefill_heads(const float *q, const float *k, const float *v, int s, int hq, int hkv, int hd,
                                float scale, int64_t window, float softcap, float *out, float *scratch, int kv0,
                                int kv1)
{
    assert(s >= 0 && hq > 0 && hkv > 0 && hq % hkv == 0 && hd > 0 && 0 <= kv0 && kv0 <= kv1 && kv1 <= hkv);
    if (s == 0)
        return;
    const int group = hq / hkv;
    for (int h = kv0 * group; h < kv1 * group; h++) {
        int kvh = h / group;
        attn_head_blas(q + (size_t)h * hd, hq * hd, k + (size_t)kvh * hd, hkv * hd, v + (size_t)kvh * hd, hkv * hd,
                       s, 0, hd, scale, window, softcap, out + (size_t)h * hd, hq * hd, scratch);
    }
}

size_t rt_attention_prefill_cached_scratch_floats(const rt_kv_cache *c, int s, int start)
{
    size_t n = (size_t)start + (size_t)s;
    return (size_t)RT_ATTN_QBLOCK * n + 2 * n * (size_t)c->hd;
}

void rt_attention_prefill_cached(const float *q, const rt_kv_cache *c, int user, int s, int start, int hq,
                                 float scale, float *out, float *scratch)
{
    rt_attention_prefill_cached_ex(q, c, user, s, start, hq, scale, 0, 0.0f, out, scratch);
}

void rt_attention_prefill_cached_ex(const float *q, const rt_kv_cache *c, int user, int s, int start, int hq,
                                    float scale, int64_t window, float softcap, float *out, float *scratch)
{
    rt_attention_prefill_cached_heads(q, c, user, s, start, hq, scale, window, softcap, out, scratch, 0, c->hkv);
}

void rt_attention_prefill_cached_heads(const float *q, const rt_kv_cache *c, int user, int s, int start, int hq,
                                       float scale, int64_t window, float softcap, float *out, float *scratch,
                                       int kv0, int kv1)
{
    assert(user >= 0 && user < c->users && s >= 0 && start >= 0 && start + s <= c->cap);
    assert(hq > 0 && hq % c->hkv == 0 && 0 <= kv0 && kv0 <= kv1 && kv1 <= c->hkv);
    if (s == 0)
        return;
    const int hd = c->hd, group = hq / c->hkv, n = start + s;
    const rt_isa isa = rt_kernels_isa();
    float *scores = scratch, *kf = scratch + (size_t)RT_ATTN_QBLOCK * n, *vf = kf + (size_t)n * hd;
    for (int kvh = kv0; kvh < kv1; kvh++) {
        /* the head's rows gathered (and widened) block by block into f32 */
        for (int p = 0, e; p < n; p = e) {
            e = block_end(p, n);
            const size_t off = cache_off(c, user, kvh, p);
            for (int r = p; r < e; r++) {
                kv_row_f32(isa, c, cache_row(c, c->k, off, r - p), kf + (size_t)r * hd);
                kv_row_f32(isa, c, cache_row(c, c->v, off, r - p), vf + (size_t)r * hd);
            }
        }
        for (int g = 0; g < group; g++) {
            int h = kvh * group + g;
            attn_head_blas(q + (size_t)h * hd, hq * hd, kf, hd, vf, hd, s, start, hd, scale, window, softcap,
                           out + (size_t)h * hd, hq * hd, scores);
        }
    }
}

/* ===================== decode ===================== */

size_t rt_attention_decode_scratch_floats(const rt_kv_cache *c, int hq)
{
    /* the group's scores, then one row of a bf16 cache read back in order */
    return (size_t)(hq / c->hkv) * (size_t)c->cap + (size_t)c->hd;
}

#if defined(__x86_64__)
RT_TARGET_AVX512_BEGIN

#include "reduce_vec.h"

static inline __m512 kv_load(const void *base, int bf16, size_t off, __mmask16 m)
{
    if (bf16) {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)base + off);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    return _mm512_maskz_loadu_ps(m, (const float *)base + off);
}

#define ATTN_INLINE inline __attribute__((always_inline))

/* Half `half` of the bf16 cache's 32-element chunk at element off (kernels.h):
 * elements off .. off + 15 (half 0) or off + 16 .. off + 31 (half 1) as f32,
 * one shift or one mask of a 64-byte load (a 16-element load needs a widening
 * shuffle and a shift) */
static ATTN_INLINE __m512 kv_half(const void *base, size_t off, int half)
{
    __m512i x = _mm512_loadu_si512((const void *)((const uint16_t *)base + off));
    return _mm512_castsi512_ps(half ? _mm512_and_si512(x, _mm512_set1_epi32((int)0xffff0000u))
                                    : _mm512_slli_epi32(x, 16));
}

/* For the G query heads of a GQA group (q: G rows of hd) and P = 16 / G
 * consecutive cached K rows: out[g * ostride + j] = canonical_dot(q_g, k
 * row j) * scale.  Each K vector is loaded (and widened from bf16) once for
 * the whole group; the 16 (head, row) dots are reduced together. */
static ATTN_INLINE void dots_group_avx512(const float *q, int G, const void *k, int bf16, int hd, float scale,
                                          float *out, size_t ostride)
{
    const int P = 16 / G;
    __m512 acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++)
        acc[j] = _mm512_setzero_ps();
    int d = 0;
    /* bf16: the whole 32-element chunks, each half in the order of the
     * 16-element steps below (the same fmas in the same order) */
    for (; bf16 && d + 32 <= hd; d += 32)
#pragma GCC unroll 2
        for (int half = 0; half < 2; half++) {
            __m512 kv[16];
#pragma GCC unroll 16
            for (int j = 0; j < P; j++)
                kv[j] = kv_half(k, (size_t)j * hd + d, half);
#pragma GCC unroll 16
            for (int g = 0; g < G; g++) {
                __m512 qv = _mm512_loadu_ps(q + (size_t)g * hd + d + 16 * half);
#pragma GCC unroll 16
                for (int j = 0; j < P; j++)
                    acc[g * P + j] = _mm512_fmadd_ps(qv, kv[j], acc[g * P + j]);
            }
        }
    for (; d + 16 <= hd; d += 16) {
        __m512 kv[16];
#pragma GCC unroll 16
        for (int j = 0; j < P; j++)
            kv[j] = kv_load(k, bf16, (size_t)j * hd + d, 0xffff);
#pragma GCC unroll 16
        for (int g = 0; g < G; g++) {
            __m512 qv = _mm512_loadu_ps(q + (size_t)g * hd + d);
#pragma GCC unroll 16
            for (int j = 0; j < P; j++)
                acc[g * P + j] = _mm512_fmadd_ps(qv, kv[j], acc[g * P + j]);
        }
    }
    if (d < hd) {
        __mmask16 m = (__mmask16)((1u << (hd - d)) - 1);
        __m512 kv[16];
#pragma GCC unroll 16
        for (int j = 0; j < P; j++)
            kv[j] = kv_load(k, bf16, (size_t)j * hd + d, m);
#pragma GCC unroll 16
        for (int g = 0; g < G; g++) {
            __m512 qv = _mm512_maskz_loadu_ps(m, q + (size_t)g * hd + d);
            /* lanes past hd stay as they are (not + 0 * 0, which turns -0 into +0) */
#pragma GCC unroll 16
            for (int j = 0; j < P; j++)
                acc[g * P + j] = _mm512_mask3_fmadd_ps(qv, kv[j], acc[g * P + j], m);
        }
    }
    float r[16] __attribute__((aligned(64)));
    _mm512_store_ps(r, _mm512_mul_ps(rt_reduce16x16(acc), _mm512_set1_ps(scale)));
    for (int g = 0; g < G; g++)
        memcpy(out + (size_t)g * ostride, r + g * P, sizeof(float) * (size_t)P);
}

/* out_g[d0 .. d0 + 16 NC) = sum_p pr_g[p] * v row p for the G heads of a
 * group (pr_g = pr + g * prs, out_g = out + g * hd), one fma per position
 * in order (the same per-element sequence as repeated rt_axpy_*); each V
 * vector is loaded (and widened) once for the group, G * NC <= 16
 * accumulators stay in registers.  PERM: [d0, d0 + 16 NC) are whole
 * 32-element chunks of a bf16 cache (d0 a multiple of 32, NC even), read
 * a half at a time (kv_half). */
static ATTN_INLINE void pv_chunk_avx512(const float *pr, size_t prs, int G, const void *v, int bf16, int hd, int L,
                                        int d0, int NC, int more, int PERM, float *out)
{
    __m512 acc[16];
    __mmask16 last = (__mmask16)(hd - (d0 + 16 * (NC - 1)) >= 16 ? 0xffff : (1u << (hd - (d0 + 16 * (NC - 1)))) - 1);
    /* more: out holds the sums of the positions before these (an earlier
     * block), which the chains go on from, as if never stored */
#pragma GCC unroll 4
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < NC; c++)
            acc[g * NC + c] = more ? _mm512_maskz_loadu_ps(c == NC - 1 ? last : 0xffff, out + (size_t)g * hd + d0 + 16 * c)
                                   : _mm512_setzero_ps();
    for (int p = 0; p < L; p++) {
#pragma GCC unroll 8
        for (int c = 0; c < NC; c++) {
            __m512 vv = PERM ? kv_half(v, (size_t)p * hd + d0 + 32 * (c / 2), c & 1)
                             : kv_load(v, bf16, (size_t)p * hd + d0 + 16 * c, c == NC - 1 ? last : 0xffff);
#pragma GCC unroll 4
            for (int g = 0; g < G; g++)
                acc[g * NC + c] = _mm512_fmadd_ps(_mm512_set1_ps(pr[(size_t)g * prs + (size_t)p]), vv, acc[g * NC + c]);
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < NC; c++)
            _mm512_mask_storeu_ps(out + (size_t)g * hd + d0 + 16 * c, c == NC - 1 ? last : 0xffff, acc[g * NC + c]);
}

/* pv_chunk_avx512 over all of hd: chunks of 16 * most outputs, most = 8
 * (one head; more chains than an fma's latency needs) or 16 / G. */
static ATTN_INLINE void pv_group_avx512(const float *pr, size_t prs, int G, const void *v, int bf16, int hd, int L,
                                        int more, float *out)
{
    const int most = G == 1 ? 8 : 16 / G; /* G is 1, 2 or 4: most is even */
/* NC chunks, never more than the G * NC <= 16 accumulators allow */
#define PV_NC(NC) pv_chunk_avx512(pr, prs, G, v, bf16, hd, L, d0, (NC) * G <= 16 ? (NC) : 16 / G, more, 0, out)
#define PV_PERM(NC) pv_chunk_avx512(pr, prs, G, v, bf16, hd, L, d0, (NC) * G <= 16 ? (NC) : 16 / G, more, 1, out)
    int d0 = 0;
    /* a bf16 cache's whole 32-element chunks, then the rest as stored */
    for (const int h32 = bf16 ? hd / 32 * 32 : 0; d0 < h32;) {
        int nc = (h32 - d0) / 16;
        nc = nc > most ? most : nc;
        switch (nc) {
        case 2: PV_PERM(2); break;
        case 4: PV_PERM(4); break;
        case 6: PV_PERM(6); break;
        default: PV_PERM(8); break;
        }
        d0 += 16 * nc;
    }
    for (; d0 < hd; d0 += 16 * most) {
        int nc = (hd - d0 + 15) / 16;
        switch (nc > most ? most : nc) {
        case 1: PV_NC(1); break;
        case 2: PV_NC(2); break;
        case 3: PV_NC(3); break;
        case 4: PV_NC(4); break;
        case 5: PV_NC(5); break;
        case 6: PV_NC(6); break;
        case 7: PV_NC(7); break;
        default: PV_NC(8); break;
        }
    }
#undef PV_NC
#undef PV_PERM
}

/* One KV head's decode on AVX-512 for the G heads of its group.
 * dots_avx512: scores of positions [lo, L) into sc (head g at sc + g * cap)
 * in steps of 16 / G rows (16 for the group sizes that run head by head);
 * the rows past the last whole step are left to the caller (returns the
 * first one not done).  pv_avx512: with sc softmaxed, the heads' outputs
 * (more: added to what og holds, the sums of the positions before).  k and v
 * are one block's contiguous rows (RT_KV_BLOCK, a multiple of every step).
 * Group sizes 2 and 4 share each K/V load among their heads; others run
 * head by head. */
static int dots_avx512(const float *qg, int G, const void *k, const void *v, const void *knext, int bf16, int hd,
                       int lo, int L, float scale, float *sc, size_t cap)
{
    int gs = G == 2 || G == 4 ? G : 1, P = 16 / gs, p0 = lo;
    const size_t esz = bf16 ? 2 : 4, row = (size_t)hd * esz;
    for (; p0 + P <= L; p0 += P) {
        /* One stream per core reads about half of what the memory gives
         * two: while these K rows are reduced, the K rows two steps on (in
         * the next block, knext, past this one's end) and the V rows pv
         * will read next are fetched (past L they are rows of the cache
         * that are never read: a prefetch does not fault). */
        const int ahead = p0 + 2 * P;
        const char *kf = ahead < RT_KV_BLOCK ? (const char *)k + (size_t)ahead * row
                                             : (const char *)knext + (size_t)(ahead - RT_KV_BLOCK) * row;
        for (size_t b = 0; b < (size_t)P * row; b += 64) {
            _mm_prefetch(kf + b, _MM_HINT_T0);
            _mm_prefetch((const char *)v + (size_t)p0 * row + b, _MM_HINT_T1);
        }
        for (int g0 = 0; g0 < G; g0 += gs) {
            const float *q = qg + (size_t)g0 * hd;
            const void *kr = bf16 ? (const void *)((const uint16_t *)k + (size_t)p0 * hd)
                                  : (const void *)((const float *)k + (size_t)p0 * hd);
            float *o = sc + (size_t)g0 * cap + p0;
            switch (gs) {
            case 2: dots_group_avx512(q, 2, kr, bf16, hd, scale, o, cap); break;
            case 4: dots_group_avx512(q, 4, kr, bf16, hd, scale, o, cap); break;
            default: dots_group_avx512(q, 1, kr, bf16, hd, scale, o, cap); break;
            }
        }
    }
    return p0;
}

static void pv_avx512(const float *sc, size_t cap, int G, const void *v, int bf16, int hd, int L, int more, float *og)
{
    int gs = G == 2 || G == 4 ? G : 1;
    for (int g0 = 0; g0 < G; g0 += gs) {
        const float *pr = sc + (size_t)g0 * cap;
        float *o = og + (size_t)g0 * hd;
        switch (gs) {
        case 2: pv_group_avx512(pr, cap, 2, v, bf16, hd, L, more, o); break;
        case 4: pv_group_avx512(pr, cap, 4, v, bf16, hd, L, more, o); break;
        default: pv_group_avx512(pr, cap, 1, v, bf16, hd, L, more, o); break;
        }
    }
}

RT_TARGET_END
#endif

void rt_attention_decode_isa(rt_isa isa, const float *q, const rt_kv_cache *c, int b, const int *users,
                             const int32_t *len, int hq, float scale, float *out, float *scratch)
{
    rt_attention_decode_ex(isa, q, c, b, users, len, hq, scale, 0, 0.0f, out, scratch);
}

/* The whole cache is kept; a window only moves the first position read
 * (lo), so the positions before it count as masked. */
void rt_attention_decode_ex(rt_isa isa, const float *q, const rt_kv_cache *c, int b, const int *users,
                            const int32_t *len, int hq, float scale, int64_t window, float softcap, float *out,
                            float *scratch)
{
    rt_attention_decode_heads(isa, q, c, b, users, len, hq, scale, window, softcap, out, scratch, 0, c->hkv);
}

void rt_attention_decode_heads(rt_isa isa, const float *q, const rt_kv_cache *c, int b, const int *users,
                               const int32_t *len, int hq, float scale, int64_t window, float softcap, float *out,
                               float *scratch, int kv0, int kv1)
{
    assert(hq > 0 && hq % c->hkv == 0 && b >= 0 && 0 <= kv0 && kv0 <= kv1 && kv1 <= c->hkv);
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
    const int hd = c->hd, group = hq / c->hkv, cap = c->cap;
    const int bf16 = c->dtype == RT_BF16;
    /* a bf16 row read back in order (the rows past the vector steps; every
     * row off AVX-512), after the scores in scratch */
    float *row = scratch + (size_t)group * cap;
    for (int i = 0; i < b; i++) {
        int u = users ? users[i] : i, L = len[i];
        assert(u >= 0 && u < c->users && L >= 1 && L <= cap);
        const int lo = first_key(L - 1, window);
        for (int kvh = kv0; kvh < kv1; kvh++) {
            const float *qg = q + ((size_t)i * hq + (size_t)kvh * group) * hd;
            float *og = out + ((size_t)i * hq + (size_t)kvh * group) * hd;
            /* the scores, a block's contiguous rows at a time */
            for (int p0 = lo, e; p0 < L; p0 = e) {
                e = block_end(p0, L);
                const int b0 = p0 / RT_KV_BLOCK * RT_KV_BLOCK;
                const size_t off = cache_off(c, u, kvh, b0);
                int p = p0;
#if defined(__x86_64__)
                if (isa == RT_ISA_AVX512) {
                    /* the head's first rows in the next block, for the prefetch (none past the cache) */
                    const void *kn = b0 + RT_KV_BLOCK < cap ? cache_row(c, c->k, cache_off(c, u, kvh, b0 + RT_KV_BLOCK), 0)
                                                            : c->k;
                    p = b0 + dots_avx512(qg, group, cache_row(c, c->k, off, 0), cache_row(c, c->v, off, 0), kn, bf16,
                                         hd, p0 - b0, e - b0, scale, scratch + b0, (size_t)cap);
                }
#endif
                /* the rest (all of it off AVX-512): each K row once for the
                 * group, a bf16 one read back in order (the canonical dot of
                 * rt_dot_f32 on it is rt_dot_bf16's of the row in order) */
                for (; p < e; p++) {
                    const void *kr = cache_row(c, c->k, off, p - b0);
                    if (bf16)
                        kv_row_f32(isa, c, kr, row);
                    for (int g = 0; g < group; g++)
                        scratch[(size_t)g * cap + p] =
                            rt_dot_f32(isa, qg + (size_t)g * hd, bf16 ? row : kr, hd) * scale;
                }
            }
            for (int g = 0; g < group; g++) {
                float *sc = scratch + (size_t)g * cap;
                if (softcap > 0)
                    for (int p = lo; p < L; p++)
                        sc[p] = tanhf(sc[p] / softcap) * softcap;
                rt_softmax_row_isa(isa, sc + lo, L - lo);
            }
            /* the weighted sum of V, block by block, one fma per position in order */
            for (int p0 = lo, e; p0 < L; p0 = e) {
                e = block_end(p0, L);
                const size_t off = cache_off(c, u, kvh, p0);
#if defined(__x86_64__)
                if (isa == RT_ISA_AVX512) {
                    pv_avx512(scratch + p0, (size_t)cap, group, cache_row(c, c->v, off, 0), bf16, hd, e - p0, p0 > lo,
                              og);
                    continue;
                }
#endif
                if (p0 == lo)
                    memset(og, 0, (size_t)group * hd * sizeof(float));
                for (int p = p0; p < e; p++) {
                    const void *vr = cache_row(c, c->v, off, p - p0);
                    if (bf16)
                        kv_row_f32(isa, c, vr, row); /* the same fmas as rt_axpy_bf16 of the row in order */
                    for (int g = 0; g < group; g++)
                        rt_axpy_f32(isa, scratch[(size_t)g * cap + p], bf16 ? row : vr, og + (size_t)g * hd, hd);
                }
            }
        }
    }
}

void rt_attention_decode(const float *q, const rt_kv_cache *c, int b, const int *users, const int32_t *len, int hq,
                         float scale, float *out, float *scratch)
{
    rt_attention_decode_isa(rt_kernels_isa(), q, c, b, users, len, hq, scale, out, scratch);
}
