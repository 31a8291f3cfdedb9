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
    c->k = calloc(1, each);
    c->v = calloc(1, each);
    if (!c->k || !c->v) {
        free(c->k);
        free(c->v);
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
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Element offset of (user, kv head, pos, 0). */
static size_t cache_off(const rt_kv_cache *c, int user, int h, int pos)
{
    return (((size_t)user * c->hkv + h) * c->cap + pos) * c->hd;
}

static void cache_store(const rt_kv_cache *c, void *base, size_t off, const float *src)
{
    if (c->dtype == RT_F32)
        memcpy((float *)base + off, src, (size_t)c->hd * sizeof(float));
    else
        rt_f32_to_bf16_row(src, (uint16_t *)base + off, (size_t)c->hd);
}

void rt_cache_fill(rt_kv_cache *c, int user, const float *k, const float *v, int s, int start)
{
    assert(user >= 0 && user < c->users && start >= 0 && s >= 0 && start + s <= c->cap);
    const size_t row = (size_t)c->hkv * c->hd;
    for (int t = 0; t < s; t++)
        for (int h = 0; h < c->hkv; h++) {
            size_t off = cache_off(c, user, h, start + t);
            cache_store(c, c->k, off, k + t * row + (size_t)h * c->hd);
            cache_store(c, c->v, off, v + t * row + (size_t)h * c->hd);
        }
}

void rt_cache_update(rt_kv_cache *c, int nusers, const int *users, const float *k, const float *v,
                     const int32_t *pos)
{
    const size_t row = (size_t)c->hkv * c->hd;
    for (int b = 0; b < nusers; b++) {
        int u = users ? users[b] : b;
        assert(u >= 0 && u < c->users && pos[b] >= 0 && pos[b] < c->cap);
        for (int h = 0; h < c->hkv; h++) {
            size_t off = cache_off(c, u, h, pos[b]);
            cache_store(c, c->k, off, k + b * row + (size_t)h * c->hd);
            cache_store(c, c->v, off, v + b * row + (size_t)h * c->hd);
        }
    }
}

/* ===================== prefill ===================== */

/* One query head: queries i = 0..nq-1 (row stride ldq) at positions p0+i
 * see keys/values 0..p0+i (row strides ldk, ldv).  scores: QBLOCK*(p0+nq). */
static void attn_head_blas(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv, int nq, int p0,
                           int hd, float scale, float *out, int ldo, float *scores)
{
    for (int i0 = 0; i0 < nq; i0 += RT_ATTN_QBLOCK) {
        int nb = nq - i0 < RT_ATTN_QBLOCK ? nq - i0 : RT_ATTN_QBLOCK;
        int nk = p0 + i0 + nb; /* keys the block's last query sees */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nk, hd, scale, q + (size_t)i0 * ldq, ldq, k, ldk,
                    0.0f, scores, nk);
        for (int r = 0; r < nb; r++) {
            float *row = scores + (size_t)r * nk;
            int seen = p0 + i0 + r + 1;
            rt_softmax_row(row, seen);
            memset(row + seen, 0, (size_t)(nk - seen) * sizeof(float)); /* causal mask */
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
    assert(s >= 0 && hq > 0 && hkv > 0 && hq % hkv == 0 && hd > 0);
    if (s == 0)
        return;
    const int group = hq / hkv;
    for (int h = 0; h < hq; h++) {
        int kvh = h / group;
        attn_head_blas(q + (size_t)h * hd, hq * hd, k + (size_t)kvh * hd, hkv * hd, v + (size_t)kvh * hd, hkv * hd,
                       s, 0, hd, scale, out + (size_t)h * hd, hq * hd, scratch);
    }
}

size_t rt_attention_prefill_cached_scratch_floats(const rt_kv_cache *c, int s, int start)
{
    size_t n = (size_t)start + (size_t)s;
    return (size_t)RT_ATTN_QBLOCK * n + (c->dtype == RT_BF16 ? 2 * n * (size_t)c->hd : 0);
}

void rt_attention_prefill_cached(const float *q, const rt_kv_cache *c, int user, int s, int start, int hq,
                                 float scale, float *out, float *scratch)
{
    assert(user >= 0 && user < c->users && s >= 0 && start >= 0 && start + s <= c->cap);
    assert(hq > 0 && hq % c->hkv == 0);
    if (s == 0)
        return;
    const int hd = c->hd, group = hq / c->hkv, n = start + s;
    float *scores = scratch, *kf = scratch + (size_t)RT_ATTN_QBLOCK * n, *vf = kf + (size_t)n * hd;
    for (int kvh = 0; kvh < c->hkv; kvh++) {
        size_t off = cache_off(c, user, kvh, 0);
        const float *kk, *vv;
        if (c->dtype == RT_F32) {
            kk = (const float *)c->k + off;
            vv = (const float *)c->v + off;
        } else {
            rt_bf16_to_f32_row((const uint16_t *)c->k + off, kf, (size_t)n * hd);
            rt_bf16_to_f32_row((const uint16_t *)c->v + off, vf, (size_t)n * hd);
            kk = kf;
            vv = vf;
        }
        for (int g = 0; g < group; g++) {
            int h = kvh * group + g;
            attn_head_blas(q + (size_t)h * hd, hq * hd, kk, hd, vv, hd, s, start, hd, scale, out + (size_t)h * hd,
                           hq * hd, scores);
        }
    }
}

/* ===================== decode ===================== */

size_t rt_attention_decode_scratch_floats(const rt_kv_cache *c, int hq)
{
    return (size_t)(hq / c->hkv) * (size_t)c->cap;
}

void rt_attention_decode_isa(rt_isa isa, const float *q, const rt_kv_cache *c, int b, const int *users,
                             const int32_t *len, int hq, float scale, float *out, float *scratch)
{
    assert(hq > 0 && hq % c->hkv == 0 && b >= 0);
    if (isa > rt_cpu_best_isa())
        isa = rt_cpu_best_isa();
    const int hd = c->hd, group = hq / c->hkv, cap = c->cap;
    const int bf16 = c->dtype == RT_BF16;
    for (int i = 0; i < b; i++) {
        int u = users ? users[i] : i, L = len[i];
        assert(u >= 0 && u < c->users && L >= 1 && L <= cap);
        for (int kvh = 0; kvh < c->hkv; kvh++) {
            size_t off = cache_off(c, u, kvh, 0);
            const float *qg = q + ((size_t)i * hq + (size_t)kvh * group) * hd;
            float *og = out + ((size_t)i * hq + (size_t)kvh * group) * hd;
            /* scores[g][p]: each K row is read once for the whole group */
            for (int p = 0; p < L; p++)
                for (int g = 0; g < group; g++) {
                    float d = bf16 ? rt_dot_bf16(isa, qg + (size_t)g * hd, (const uint16_t *)c->k + off + (size_t)p * hd, hd)
                                   : rt_dot_f32(isa, qg + (size_t)g * hd, (const float *)c->k + off + (size_t)p * hd, hd);
                    scratch[(size_t)g * cap + p] = d * scale;
                }
            for (int g = 0; g < group; g++)
                rt_softmax_row(scratch + (size_t)g * cap, L);
            memset(og, 0, (size_t)group * hd * sizeof(float));
            for (int p = 0; p < L; p++)
                for (int g = 0; g < group; g++) {
                    float w = scratch[(size_t)g * cap + p];
                    if (bf16)
                        rt_axpy_bf16(isa, w, (const uint16_t *)c->v + off + (size_t)p * hd, og + (size_t)g * hd, hd);
                    else
                        rt_axpy_f32(isa, w, (const float *)c->v + off + (size_t)p * hd, og + (size_t)g * hd, hd);
                }
        }
    }
}

void rt_attention_decode(const float *q, const rt_kv_cache *c, int b, const int *users, const int32_t *len, int hq,
                         float scale, float *out, float *scratch)
{
    rt_attention_decode_isa(rt_kernels_isa(), q, c, b, users, len, hq, scale, out, scratch);
}
