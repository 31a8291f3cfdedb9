/* bench_kernels: how close the linear kernels get to the machine's limits.
 *
 *  - decode GEMV (m = 1 and m = 4) on an [8192 out][2048 in] weight per
 *    dtype, in GB/s of weight bytes, streaming from DRAM as a model's layers
 *    do (the call rotates over copies of the weight totalling >= 512 MiB);
 *    "hot" repeats one matrix (cache-resident for the smaller dtypes);
 *  - OpenBLAS's cblas_sgemv on the f32 weight, for reference;
 *  - decode attention over a bf16 / f32 KV cache (GB/s of K and V read);
 *  - the prefill path (m = 128: OpenBLAS sgemm, on panels of dequantised rows
 *    for non-f32 weights) in GFLOP/s.
 * Each GEMV figure is divided by the DRAM read bandwidth measured by a plain
 * read loop INTERLEAVED with it (alternating passes, best of each): the
 * machine is shared and its bandwidth drifts, so only ratios taken in the
 * same window mean something.  Single thread, like one mesh device.
 * Usage: bench_kernels [seconds per figure, default 0.4]. */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t sink;

/* ---- the plain read loop: four independent vector sums ---- */

typedef unsigned long long v4 __attribute__((vector_size(32)));

__attribute__((target("avx2"))) static uint64_t read_avx2(const void *a, size_t bytes)
{
    const v4 *p = a;
    v4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i < bytes / 32; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    v4 s = s0 + s1 + s2 + s3;
    return s[0] + s[1] + s[2] + s[3];
}

static uint64_t read_scalar(const void *a, size_t bytes)
{
    const uint64_t *p = a;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < bytes / 8; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    return s0 + s1 + s2 + s3;
}

/* 1 GiB read in 64 MiB slices, round robin: never cache-resident. */
#define RD_BYTES ((size_t)1 << 30)
#define RD_SLICE ((size_t)64 << 20)
static char *rd_buf;
static size_t rd_pos;
static int rd_avx2;

static double read_slice_seconds(void)
{
    const char *p = rd_buf + rd_pos;
    rd_pos = (rd_pos + RD_SLICE) % RD_BYTES;
    double t0 = now();
    sink += rd_avx2 ? read_avx2(p, RD_SLICE) : read_scalar(p, RD_SLICE);
    return now() - t0;
}

/* ---- weights ---- */

typedef struct {
    rt_matrix *w;
    int copies;
} weight_set;

static int make_copies(weight_set *ws, const rt_matrix *src, size_t min_bytes)
{
    int c = (int)((min_bytes + src->bytes - 1) / src->bytes);
    ws->w = calloc((size_t)c, sizeof(rt_matrix));
    ws->copies = c;
    size_t eb = src->exps ? (size_t)((src->n + 15) / 16) * (size_t)src->k : 0;
    for (int i = 0; i < c; i++) {
        if (rt_matrix_init(&ws->w[i], src->dtype, src->n, src->k, NULL) != 0)
            return -1;
        memcpy(ws->w[i].data, src->data, src->bytes - eb);
        if (eb)
            memcpy(ws->w[i].exps, src->exps, eb);
    }
    return 0;
}

static void free_copies(weight_set *ws)
{
    for (int i = 0; i < ws->copies; i++)
        rt_matrix_free(&ws->w[i]);
    free(ws->w);
}

typedef struct {
    double gbs, dram, ratio;
} figure;

/* Alternates one call (next copy, or always copy 0 when !rotate) with one
 * read-loop slice; best of each over the budget. */
static figure measure(const weight_set *ws, int rotate, int sgemv, const float *x, int m, float *y, double budget)
{
    double best = 1e30, best_rd = 1e30, t_end = now() + budget;
    int i = 0;
    do {
        const rt_matrix *w = &ws->w[rotate ? i % ws->copies : 0];
        double t0 = now();
        if (sgemv)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, w->n, w->k, 1.0f, (const float *)w->data, w->k, x, 1, 0.0f, y, 1);
        else
            rt_linear(x, m, w, y, NULL);
        double dt = now() - t0;
        best = dt < best ? dt : best;
        dt = read_slice_seconds();
        best_rd = dt < best_rd ? dt : best_rd;
        i++;
    } while (now() < t_end || i < 4);
    figure f = {(double)ws->w[0].bytes / best / 1e9, (double)RD_SLICE / best_rd / 1e9, 0};
    f.ratio = f.gbs / f.dram;
    return f;
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 0.4;
    if (budget <= 0)
        budget = 0.4;
    mgc_error e;
    if (rt_kernels_init(1, &e) != 0)
        fprintf(stderr, "bench_kernels: %s\n", e.msg);
    const int N = 8192, K = 2048, MP = 128;

    rd_buf = aligned_alloc(64, RD_BYTES);
    if (!rd_buf)
        return 1;
    memset(rd_buf, 1, RD_BYTES);
    rd_avx2 = __builtin_cpu_supports("avx2");

    float *wsrc = malloc((size_t)N * K * sizeof(float));
    float *x = malloc((size_t)MP * K * sizeof(float)), *y = malloc((size_t)MP * N * sizeof(float));
    uint64_t r = 88172645463325252ull;
    for (size_t i = 0; i < (size_t)N * K; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        wsrc[i] = (float)((int64_t)(r >> 11) % 20001 - 10000) * 1e-5f;
    }
    for (size_t i = 0; i < (size_t)MP * K; i++)
        x[i] = (float)((int)(i % 1997) - 998) * 1e-3f;

    printf("bench_kernels: kernels %s, 1 thread; weight [%d out x %d in]\n", rt_isa_name(rt_kernels_isa()), N, K);
    printf("GEMV, GB/s of weight bytes; ratio = GB/s / DRAM read GB/s measured interleaved\n");
    printf("%-7s %6s %6s | %7s %6s %6s | %7s %6s %6s | %7s %6s | %7s\n", "dtype", "MB", "copies", "m=1", "dram",
           "ratio", "m=4", "dram", "ratio", "m=1 hot", "ratio", "Gw/s m=1");
    const rt_dtype dts[4] = {RT_F32, RT_BF16, RT_BF8_B, RT_BF4_B};
    double gemm_gflops[4];
    for (int d = 0; d < 4; d++) {
        rt_matrix w;
        if (rt_matrix_init(&w, dts[d], N, K, &e) != 0) {
            fprintf(stderr, "bench_kernels: %s\n", e.msg);
            return 1;
        }
        rt_matrix_set_rows_f32(&w, 0, N, wsrc);
        weight_set ws;
        if (make_copies(&ws, &w, (size_t)512 << 20) != 0) {
            fprintf(stderr, "bench_kernels: out of memory\n");
            return 1;
        }
        figure f1 = measure(&ws, 1, 0, x, 1, y, budget);
        figure f4 = measure(&ws, 1, 0, x, 4, y, budget);
        figure fh = measure(&ws, 0, 0, x, 1, y, budget / 2);
        printf("%-7s %6.1f %6d | %7.1f %6.1f %6.2f | %7.1f %6.1f %6.2f | %7.1f %6.2f | %7.2f\n",
               rt_dtype_name(dts[d]), (double)w.bytes / 1e6, ws.copies, f1.gbs, f1.dram, f1.ratio, f4.gbs, f4.dram,
               f4.ratio, fh.gbs, fh.ratio, f1.gbs * 1e9 / (double)w.bytes * N * K / 1e9);
        if (dts[d] == RT_F32) {
            figure fs = measure(&ws, 1, 1, x, 1, y, budget);
            printf("%-7s %6.1f %6d | %7.1f %6.1f %6.2f   (OpenBLAS cblas_sgemv on the f32 weight)\n", "sgemv",
                   (double)w.bytes / 1e6, ws.copies, fs.gbs, fs.dram, fs.ratio);
        }

        size_t sc = rt_linear_scratch_floats(&w, MP);
        float *scratch = sc ? malloc(sc * sizeof(float)) : NULL;
        double best = 1e30, t_end = now() + budget;
        int i = 0;
        do {
            double t0 = now();
            rt_linear(x, MP, &ws.w[i % ws.copies], y, scratch);
            double dt = now() - t0;
            best = dt < best ? dt : best;
            i++;
        } while (now() < t_end || i < 3);
        gemm_gflops[d] = 2.0 * MP * N * K / best / 1e9;
        free(scratch);
        free_copies(&ws);
        rt_matrix_free(&w);
    }
    /* decode attention: 32 users x 32 query heads over 8 kv heads, head_dim
     * 128, 1024 cached positions each (Mistral-like), GB/s of K+V read */
    {
        const int B = 32, HQ = 32, HKV = 8, HD = 128, L = 1024;
        printf("\ndecode attention: %d users, %d/%d heads, head_dim %d, %d positions; GB/s of K+V read\n", B, HQ,
               HKV, HD, L);
        for (int d = 0; d < 2; d++) {
            rt_kv_cache c;
            if (rt_kv_cache_init(&c, d ? RT_BF16 : RT_F32, B, HKV, L, HD, &e) != 0) {
                fprintf(stderr, "bench_kernels: %s\n", e.msg);
                return 1;
            }
            float *kv = malloc((size_t)L * HKV * HD * sizeof(float));
            for (size_t i = 0; i < (size_t)L * HKV * HD; i++)
                kv[i] = (float)((int)(i % 251) - 125) * 1e-2f;
            for (int u = 0; u < B; u++)
                rt_cache_fill(&c, u, kv, kv, L, 0);
            float *q = malloc((size_t)B * HQ * HD * sizeof(float)), *o = malloc((size_t)B * HQ * HD * sizeof(float));
            float *scr = malloc(rt_attention_decode_scratch_floats(&c, HQ) * sizeof(float));
            for (size_t i = 0; i < (size_t)B * HQ * HD; i++)
                q[i] = (float)((int)(i % 17) - 8) * 1e-2f;
            int32_t len[32];
            for (int b = 0; b < B; b++)
                len[b] = L;
            double best = 1e30, best_rd = 1e30, t_end = now() + budget;
            int i = 0;
            do {
                double t0 = now();
                rt_attention_decode(q, &c, B, NULL, len, HQ, 0.088f, o, scr);
                double dt = now() - t0;
                best = dt < best ? dt : best;
                dt = read_slice_seconds();
                best_rd = dt < best_rd ? dt : best_rd;
                i++;
            } while (now() < t_end || i < 3);
            double gbs = (double)c.bytes / best / 1e9, dram = (double)RD_SLICE / best_rd / 1e9;
            printf("%-7s %6.1f MB | %7.1f GB/s  dram %6.1f  ratio %5.2f | %.2f ms per layer step\n",
                   rt_dtype_name(c.dtype), (double)c.bytes / 1e6, gbs, dram, gbs / dram, best * 1e3);
            free(kv);
            free(q);
            free(o);
            free(scr);
            rt_kv_cache_free(&c);
        }
    }

    printf("\nprefill path m=%d (OpenBLAS sgemm; non-f32 weights dequantised in panels), GFLOP/s\n", MP);
    for (int d = 0; d < 4; d++)
        printf("%-7s %7.1f  (%.2f of f32)\n", rt_dtype_name(dts[d]), gemm_gflops[d],
               gemm_gflops[d] / gemm_gflops[0]);
    printf("(checksum %llu)\n", (unsigned long long)(sink & 1));
    free(rd_buf);
    free(wsrc);
    free(x);
    free(y);
    return 0;
}
