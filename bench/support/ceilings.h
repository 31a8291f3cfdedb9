/* The ceilings bench_decode measures its figures against, in the same run:
 * host read bandwidth (a vectorised multi-accumulator read over a buffer far
 * beyond the last-level cache), the matrix-multiply rate of the paths mgc
 * runs prefill on, and the register peak of their multiply instructions. */
#ifndef BENCH_CEILINGS_H
#define BENCH_CEILINGS_H

#include "dtype.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bench_bw {
    double best_gbs, median_gbs;
    int threads, passes;
    size_t bytes;
    const char *kernel; /* which read kernel ran */
} bench_bw;

/* Read bandwidth on `threads` threads, each reading its contiguous share of
 * one `bytes` buffer once per pass. */
void bench_read_bandwidth(size_t bytes, int threads, int passes, bench_bw *out);

/* The same read, one pass at a time, over a buffer kept (resident) between
 * passes: bench_decode interleaves passes with a configuration's timed runs,
 * so that each run has a ceiling measured in its own window of a shared
 * host. */
typedef struct bench_read_buf {
    uint64_t *a;
    size_t words, bytes;
    uint64_t (*read)(const uint64_t *, size_t); /* the read kernel, chosen once */
    const char *kernel;                          /* which one */
} bench_read_buf;
int bench_read_buf_init(bench_read_buf *b, size_t bytes, int threads); /* 0, or -1: out of memory */
double bench_read_pass(const bench_read_buf *b, int threads);          /* GB/s */
void bench_read_buf_free(bench_read_buf *b);

typedef struct bench_mm {
    double best_gflops, median_gflops;
    int threads, m, n, k;
    const char *path;
} bench_mm;

/* f32 matmul rate of rt_linear on a pool of `threads` threads: y[m][n] =
 * x[m][k] @ W^T with f32 weights (OpenBLAS sgemm per panel, the panels
 * spread over the pool), i.e. the rate prefill's matmuls can reach. */
void bench_sgemm_rate(int threads, int m, int n, int k, int reps, bench_mm *out);

/* The same for the AVX512-BF16 prefill path of plans with bf16 activations
 * and weights of dtype dt (bf16: rt_linear_bf16dot_pool; bf8_b, bf4_b:
 * rt_linear_bfpdot_pool); all zero when this CPU or MGC_KERNELS does not
 * allow it. */
void bench_bf16dot_rate(int threads, rt_dtype dt, int m, int n, int k, int reps, bench_mm *out);

/* The register peak of the instruction a matmul path multiplies with, on
 * `threads` threads: 16 independent accumulator chains per thread, operands
 * in registers, no memory traffic, so no matmul can run faster on this
 * host.  dt bf16: vdpbf16ps (64 FLOPs a 512-bit instruction), when this CPU
 * and MGC_KERNELS allow the bf16 dot (else all zero); f32: the widest f32
 * FMA (AVX-512 32 FLOPs, AVX2 16; all zero elsewhere).  Best and median of
 * `passes`; `path` names the instruction. */
typedef struct bench_peak {
    double best_gflops, median_gflops;
    int threads, passes;
    const char *path;
} bench_peak;
void bench_dot_peak(int threads, rt_dtype dt, int passes, bench_peak *out);

double bench_now(void);
double bench_median(double *v, int n); /* sorts v */
double bench_best(const double *v, int n); /* the largest (0 for none) */

#endif
