/* kernels: the runtime's CPU compute kernels.
 *
 * Conventions
 *  - Activations are f32, row-major.  An activation tensor is [T][D]: a row is
 *    a token (prefill) or a user (decode).  A "heads" view [T][H][hd] is the
 *    same memory.
 *  - Kernels keep no state.  Every kernel is single-threaded except
 *    rt_linear_pool, which spreads one matmul over a device's worker pool
 *    (rt_pool); the caller runs one thread per mesh device.  OpenBLAS, sized
 *    by rt_kernels_init(), is called from those threads one thread each.
 *  - Kernels with hand-written SIMD code (rt_linear's GEMV and dequantising
 *    panels, rms_norm's sum of squares, decode attention, softmax and the
 *    rt_dot / rt_axpy / rt_exp primitives behind them and behind silu and
 *    gelu_tanh) come in three builds: AVX-512, AVX2+FMA and portable scalar,
 *    picked once per
 *    process from the CPU (and MGC_KERNELS, see rt_kernels_isa()).  The plain
 *    entry points use that choice; the *_isa variants take it explicitly
 *    (tests run every path).
 *  - Determinism: every SIMD reduction has one documented summation order
 *    that the scalar build reproduces operation by operation (fmaf where the
 *    SIMD code fuses), so all three builds give bit-identical results.  The
 *    "canonical dot" used for f32/bf16 dot products and sums of squares is:
 *        p[l] = 0 for l < 16;  for k = 0..n-1: p[k%16] = fma(a[k], b[k], p[k%16]);
 *        then p[l] += p[l+8] (l<8), p[l] += p[l+4] (l<4), p[l] += p[l+2] (l<2),
 *        result = p[0] + p[1].
 *    OpenBLAS paths (prefill) are deterministic for given sizes but do not
 *    follow this order.
 *  - Sizes and indices are the caller's responsibility: kernels assert()
 *    their preconditions (so a debug/sanitizer build stops at the first
 *    misuse) but do not return errors.
 */
#ifndef RT_KERNELS_H
#define RT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "mgc_error.h"

/* ===================== CPU features and setup ===================== */

typedef enum { RT_ISA_SCALAR, RT_ISA_AVX2, RT_ISA_AVX512 } rt_isa;

/* "scalar", "avx2", "avx512". */
const char *rt_isa_name(rt_isa isa);

/* Best ISA this CPU runs: AVX512 needs avx512f/bw/vl/dq (+fma), AVX2 needs
 * avx2+fma.  Detected once (thread-safe). */
rt_isa rt_cpu_best_isa(void);

/* Pure helper behind rt_kernels_isa(): the ISA for an MGC_KERNELS value.
 * NULL, "" or "auto" -> best; "scalar"/"avx2"/"avx512" -> that one, capped at
 * best.  Returns 0, or -1 for any other value (*out is then best). */
int rt_isa_from_env(const char *value, rt_isa best, rt_isa *out);

/* The ISA the plain kernels use: rt_isa_from_env(getenv("MGC_KERNELS"),
 * rt_cpu_best_isa()), evaluated once per process. */
rt_isa rt_kernels_isa(void);

/* Call once at start-up, before any kernel runs on another thread: fixes the
 * ISA choice, and sets OpenBLAS to blas_threads threads (1 when every mesh
 * device has its own thread and there are no spare cores).  Fails only if
 * MGC_KERNELS holds an unknown value (the kernels then use the best ISA). */
int rt_kernels_init(int blas_threads, mgc_error *e);

/* ===================== vector primitives ===================== */
/* The inner loops of the other kernels.  They do not check isa: pass one the
 * CPU supports (<= rt_cpu_best_isa()).  n >= 0. */

/* Canonical-order dot products (see above). */
float rt_dot_f32(rt_isa isa, const float *a, const float *b, int n);
float rt_dot_bf16(rt_isa isa, const float *a, const uint16_t *b, int n);

/* y[i] = fma(alpha, x[i], y[i]): one fma per element, so any sequence of
 * axpy calls has a fixed per-element order. */
void rt_axpy_f32(rt_isa isa, float alpha, const float *x, float *y, int n);
void rt_axpy_bf16(rt_isa isa, float alpha, const uint16_t *x, float *y, int n);

/* out[i] = e^x[i] (out may equal x): a Cephes-style polynomial that every
 * build evaluates with the same operations.  Max relative error 8.4e-8
 * (1.4 ulp) on normal results; +Inf above ~88.72; gradual underflow; NaN
 * propagates. */
void rt_exp(rt_isa isa, const float *x, float *out, size_t n);

/* ===================== weight matrices ===================== */

/* A linear weight in HF orientation W[n out][k in]; y = x @ W^T.
 *
 * Storage by dtype:
 *   f32   data = float[n] rows of ld floats (ld >= k)
 *   bf16  data = uint16_t[n] rows of ld elements (ld >= k)
 *   bf8_b blocks of 16 run along n (the output dim, as Tenstorrent blocks a
 *         weight it stores as [k][n]); nb = ceil(n/16), the last block padded
 *         with zero rows.  exps[nb*k + c] is the shared exponent of rows
 *         16nb..16nb+15 at column c.  data holds each row block's codes in
 *         64-byte lines of a few columns (rt_bfp_line; columns past k in
 *         the last line are code 0).  bf8_b: 4 columns a line, column c's
 *         16 mantissas contiguous from byte 16*(c%4) (row 16nb+j at +j), so
 *         a GEMV streams 16-wide vectors; a mantissa is int8 two's
 *         complement (-127..127): the value of tt's sign-magnitude byte
 *         sign<<7 | mant7 (never -0), in the form the CPU widens in one
 *         instruction.
 *   bf4_b 8 columns a line, each nibble tt's code sign<<3 | mant3: dword j
 *         of a line is row 16nb+j, its low word the even columns and its
 *         high word the odd ones, column c at bit rt_bf4_shift(c) of the
 *         dword.  exps as bf8_b.  Why: a decode GEMV loads a whole line
 *         and a word shift by 4r puts column pair r's codes in the low bits
 *         of the very words vdpbf16ps pairs (row j's even and odd column),
 *         one table permute from bf16 values; 16 bytes per pair (rows in
 *         bytes, columns in nibbles) took a broadcast load and a nibble
 *         spread on top, three shuffle-unit operations per 32 weights.
 * Quantisation (bf8_b/bf4_b) is dtype.h's bit-exact block codec, applied to
 * the 16 values W[16nb..16nb+15][c].
 */
typedef struct rt_matrix {
    rt_dtype dtype;
    int n, k;
    size_t ld;        /* f32/bf16: elements between rows; k for owned storage */
    void *data;
    uint8_t *exps;    /* bf8_b/bf4_b shared exponents [nb][k]; NULL otherwise */
    size_t bytes;     /* bytes of data + exps (what the weight costs in memory) */
    int owned;        /* data/exps allocated by rt_matrix_init (freed by _free) */
    int nonfinite;    /* bf8_b/bf4_b: blocks holding Inf/NaN (shared exp 0xFF);
                       * rt_linear then takes the exact dequantising path */
    uint8_t exp_min, exp_max; /* bf8_b/bf4_b: range of the nonzero shared exponents
                               * (rt_matrix_scan_exponents); min > max: unknown */
} rt_matrix;

/* Block-float storage (above): row block nb's columns in 64-byte lines of
 * rt_bfp_line_cols(dt) columns, rt_bfp_lines(dt, k) lines a block. */
#define RT_BFP_LINE_BYTES 64
/* log2 of the columns a line holds (shifts: these sit in decode loops) */
static inline int rt_bfp_line_cols_log2(rt_dtype dt) { return dt == RT_BF8_B ? 2 : 3; }
static inline int rt_bfp_line_cols(rt_dtype dt) { return 1 << rt_bfp_line_cols_log2(dt); }
static inline size_t rt_bfp_lines(rt_dtype dt, int k)
{
    int s = rt_bfp_line_cols_log2(dt);
    return ((size_t)k + ((size_t)1 << s) - 1) >> s;
}
/* The line of row block nb that holds column c. */
static inline uint8_t *rt_bfp_line(const rt_matrix *m, size_t nb, int c)
{
    return (uint8_t *)m->data +
           (nb * rt_bfp_lines(m->dtype, m->k) + ((size_t)c >> rt_bfp_line_cols_log2(m->dtype))) * RT_BFP_LINE_BYTES;
}
/* bf4_b: the bit of a row's dword where column c's code starts. */
static inline int rt_bf4_shift(int c) { return 16 * (c % 2) + 4 * ((c / 2) % 4); }
/* The byte of a line that holds row j's code of column c (bf4_b: the
 * nibble at rt_bf4_shift(c) % 8 of it). */
static inline int rt_bfp_line_byte(rt_dtype dt, int j, int c)
{
    return dt == RT_BF8_B ? 16 * (c % 4) + j : 4 * j + rt_bf4_shift(c) / 8;
}

/* Allocates zeroed storage (64-byte aligned) for an [n][k] weight in dt
 * (f32, bf16, bf8_b or bf4_b). */
int rt_matrix_init(rt_matrix *m, rt_dtype dt, int n, int k, mgc_error *e);

/* Wraps caller memory (e.g. an mmapped safetensors tensor) as an f32 or bf16
 * matrix without copying: row r starts at data + r*ld elements.  A
 * column-parallel shard is a row range (data offset), a row-parallel shard a
 * column range (data offset + ld = full k).  Not freed by rt_matrix_free. */
int rt_matrix_wrap(rt_matrix *m, rt_dtype dt, int n, int k, size_t ld, void *data, mgc_error *e);

/* src [nrows][k] f32 -> rows row0..row0+nrows-1, converted to m->dtype.
 * bf8_b/bf4_b encode whole 16-row blocks: row0 must be a multiple of 16 and
 * nrows a multiple of 16 unless the range ends at row n (asserted). */
void rt_matrix_set_rows_f32(rt_matrix *m, int row0, int nrows, const float *src);

/* After the last rt_matrix_set_rows_f32 of a block-float matrix: records
 * its exponent range, which lets the pair-order GEMV skip its per-fold
 * checks (rt_linear_bfp_pairs_pool; without it, it checks).  Changing rows
 * afterwards needs another scan. */
void rt_matrix_scan_exponents(rt_matrix *m);

/* Dequantises row `row` (k values) into dst.  Exact for every dtype. */
void rt_matrix_get_row_f32(const rt_matrix *m, int row, float *dst);

void rt_matrix_free(rt_matrix *m);

/* ===================== linear ===================== */

/* m <= RT_GEMV_MAX_M rows (decode, up to 32 users) use the hand-written
 * GEMV, which reads each weight byte once per group of x rows (AVX-512: 16;
 * else 4), so a batch of users costs little more than one user in memory
 * traffic; larger m (prefill) use OpenBLAS sgemm (f32 weights
 * directly, other dtypes through an f32 scratch panel of a few hundred
 * weight rows at a time, never the whole matrix). */
#define RT_GEMV_MAX_M 32

/* Weight rows per pool task of a GEMV (each weight read once): about
 * task_bytes of rows of row_bytes, a multiple of `unit` rows (the kernel's
 * row group); a matrix of fewer than 16 such tasks, one included, is cut
 * into a multiple of 4 tasks instead, so that 2 or 4 threads share it
 * evenly.  The cut depends on the shapes only (never on the thread count),
 * and a task only chooses which thread computes its rows. */
int rt_gemv_task_rows(int n, size_t row_bytes, size_t unit, size_t task_bytes);

/* y[m][n] = x[m][k] @ W^T.  x and y must not overlap.  scratch must hold
 * rt_linear_scratch_floats(w, m) floats (may be NULL when that is 0).
 *
 * GEMV summation order, per output (identical across ISAs):
 *   f32/bf16: the canonical dot of x row and W row.
 *   bf8_b/bf4_b: acc = 0; for c = 0..k-1 in order:
 *       acc = fma((x[c] * 2^-(W-1)) * 2^(e-127), mant, acc)
 *     with e the block exponent and mant the signed integer mantissa: the
 *     block scale is folded into x (exact unless x*scale leaves the normal
 *     f32 range), so each weight costs one int->float convert and one fma.
 *     A block-float matrix with nonfinite blocks (w->nonfinite) takes an
 *     exact path instead: the same order with decoded weights, so Inf/NaN
 *     follow IEEE (slow; a healthy checkpoint never gets there).
 * The sgemm path (m > RT_GEMV_MAX_M) dequantises exactly, so every ISA gives
 * the same bits there too. */
void rt_linear(const float *x, int m, const rt_matrix *w, float *y, float *scratch);
void rt_linear_isa(rt_isa isa, const float *x, int m, const rt_matrix *w, float *y, float *scratch);

/* ===================== worker pools ===================== */
/* A device's workers for its matmuls: rt_pool_create(T) starts T-1 threads;
 * the thread that calls rt_pool_run is the T-th.  rt_pool_run(p, n, fn, arg)
 * calls fn(arg, task, thread) for task = 0..n-1, spread over the threads
 * (thread in 0..T-1 names the thread running it, e.g. to pick its scratch),
 * and returns when all are done.  One rt_pool_run at a time per pool.  A
 * NULL pool, or T = 1, runs everything on the caller.  Idle workers spin
 * briefly, then sleep.  Give a device no more threads than the cores it
 * may use (the engine divides the host's cores among its devices). */
typedef struct rt_pool rt_pool;
rt_pool *rt_pool_create(int threads, mgc_error *e);
void rt_pool_free(rt_pool *p);
int rt_pool_threads(const rt_pool *p);
void rt_pool_run(rt_pool *p, int ntasks, void (*fn)(void *arg, int task, int thread), void *arg);

/* rt_linear on a pool: the outputs are cut into tasks that depend only on
 * the shapes (GEMV: row ranges of about 256 KiB of weights; sgemm: the
 * panels), each output computed by one task in the order above, so the
 * result is the same bits for any pool size.  scratch must hold
 * rt_pool_threads(pool) * rt_linear_scratch_floats(w, m) floats (one panel
 * per thread). */
void rt_linear_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y, float *scratch);
void rt_linear_pool_isa(rt_pool *pool, rt_isa isa, const float *x, int m, const rt_matrix *w, float *y,
                        float *scratch);

/* ---- bf16 x bf16 on AVX512-BF16 (kernels_bf16dot.c) ----
 * For a linear whose input values are bf16 (a bf16 activation buffer) and
 * whose weights are bf16: y[m][n] = x[m][k] @ W^T with vdpbf16ps.  For
 * m <= RT_GEMV_MAX_M (decode: a user's row has the same bits alone or in a
 * batch), per output, with a and b the bf16 of x and W (x rounded to
 * nearest even; subnormal inputs and sums flushed to zero, as the
 * instruction does):
 *   lane[l] = 0 for l = 0..15;
 *   for each block of 32 columns c0 = 0, 32, ...: for l = 0..15:
 *       lane[l] += a[c0+2l+1] * b[c0+2l+1];  lane[l] += a[c0+2l] * b[c0+2l]
 *     (each product exact, each sum rounded to f32; columns past k are 0);
 *   y = the lanes summed pairwise: lane[i] += lane[i+h] for h = 8, 4, 2, 1.
 * For m > RT_GEMV_MAX_M (prefill) the weights take the block-float path's
 * column-pair order below (rt_bfpdot_ref; a prefill's rows differ from
 * decode's in f32 rounding only, as on the f32 path), which needs scratch:
 * rt_pool_threads(pool) * rt_bfpdot_scratch_floats(w) floats, covered by
 * rt_linear_scratch_floats(w, m); NULL is fine for decode.  The same bits
 * for any thread count and run; not the bits of the f32 path (which is what
 * a CPU without AVX512-BF16, or MGC_KERNELS=avx512, runs).
 * rt_bf16dot_enabled: the CPU has it and MGC_KERNELS allows it (unset, auto
 * or avx512bf16). */
int rt_bf16dot_enabled(void);
void rt_linear_bf16dot_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y, float *scratch);
/* The order above in plain C, one output (the tests' reference). */
float rt_bf16dot_ref(const float *x, const uint16_t *w, int k);

/* Block-float weights (bf8_b, bf4_b) into bf16 activations, for more than
 * RT_BFP_PAIRS_GEMV_MAX_M rows (a decode batch, a prefill; fewer rows take
 * rt_linear_bfp_pairs_pool below, with the same bits per output, so a row's
 * bits never depend on m): each task decodes its weight rows exactly into bf16 column pairs
 * once (a block-float weight has at most 7 significant bits, so it is a
 * bf16 unless it is an f32 subnormal, which the instruction reads as zero)
 * and runs vdpbf16ps with x pairs.  Per output, with a the bf16 of x (as
 * above) and b the weight:
 *   acc = 0; for c = 0, 2, 4, ...: acc += a[c+1] * b[c+1]; acc += a[c] * b[c]
 *     (each product exact, each sum rounded to f32 and flushed if
 *     subnormal; columns past k are 0).
 * Not for matrices with nonfinite blocks (rt_bfpdot_usable).  scratch:
 * rt_pool_threads(pool) * rt_bfpdot_scratch_floats(w) floats, which
 * rt_linear_scratch_floats(w, m) covers for m > RT_GEMV_MAX_M. */
int rt_bfpdot_usable(const rt_matrix *w); /* a block-float matrix this path takes */
size_t rt_bfpdot_scratch_floats(const rt_matrix *w);
void rt_linear_bfpdot_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y, float *scratch);
/* That order in plain C for one output: w the row's decoded values. */
float rt_bfpdot_ref(const float *x, const float *w, int k);
/* The same order for decode (m <= RT_GEMV_MAX_M), as a GEMV over the
 * stored blocks: each bf8_b weight is one int->float convert and one fma
 * per user (bf4_b: rt_gemv_bf4_pairs_dp below), with x's bf16 folded with the block scale (exact while x * scale is
 * a normal f32) and MXCSR's flush-to-zero and denormals-are-zero set as the
 * instruction behaves.  An output the fold cannot reach exactly (x * scale
 * out of the normal range, or weights that are f32 subnormals) is computed
 * again by rt_bfpdot_ref, so every output is that function's bits: a
 * user's row is the same alone, in any batch, and in a prefill.  Faster
 * than rt_linear_bfpdot_pool below RT_BFP_PAIRS_GEMV_MAX_M rows; the
 * engine picks.  Needs rt_bfpdot_usable(w). */
#define RT_BFP_PAIRS_GEMV_MAX_M 3
void rt_linear_bfp_pairs_pool(rt_pool *pool, const float *x, int m, const rt_matrix *w, float *y);
/* Tasks of it that took the exact path so far (the tests check both run). */
extern _Atomic long rt_bfp_pairs_exact_tasks;
/* Its bf4_b GEMV on the row blocks of w (a row view; y with row stride
 * ldy) where the CPU has AVX512-BF16 (else returns -1 and does nothing):
 * a line of codes (8 columns of 16 rows) is 4 vectors of bf16 column pairs
 * through a word shift each and a word-table permute (vpermw), and one
 * vdpbf16ps per user takes them with the folded x pair: the order's own
 * instruction, where the fma GEMV needs two float permutes and two fmas.
 * checked: check every fold; returns 1 when some output left the fold's
 * exact reach (the caller recomputes those outputs), else 0.  The fma
 * GEMV's bits. */
int rt_gemv_bf4_pairs_dp(const float *x, int m, const rt_matrix *w, float *y, size_t ldy, int checked);

/* Scratch floats rt_linear needs for this m: 0 for f32 weights and for
 * m <= RT_GEMV_MAX_M, else one panel (a multiple of 16 rows, 64..512, about
 * 2 MiB: panel_rows * k floats).  Non-decreasing in m: size it for the
 * largest m you use. */
size_t rt_linear_scratch_floats(const rt_matrix *w, int m);

/* ===================== embedding ===================== */

/* out[t][hidden] = table[tokens[t]] dequantised.  Any matrix dtype works
 * (bf8_b/bf4_b rows are gathered from their column blocks, exact but
 * slower); token ids must lie in [0, table->n) (asserted: validate ids
 * before calling). */
void rt_embedding(const int32_t *tokens, int t, const rt_matrix *table, float *out);

/* ===================== normalisation ===================== */

/* HF RMSNorm over rows of dim values, in f32:
 *   r = 1 / sqrtf(canonical_dot(x, x) / dim + eps);  n = x * r;
 *   act_bf16 == 0: out = w * n
 *   act_bf16 != 0: out = bf16(w * bf16(n))   (HF rounds to the activation
 *                  dtype before the weight multiply; the product is bf16)
 * w: [dim] f32 (a bf16 checkpoint weight upcast exactly).  Per-head use
 * (Qwen3 q/k norm): rows = T*H, dim = head_dim.  out may equal x. */
void rt_rms_norm(const float *x, int rows, int dim, const float *w, float eps, int act_bf16, float *out);
void rt_rms_norm_isa(rt_isa isa, const float *x, int rows, int dim, const float *w, float eps, int act_bf16,
                     float *out);

/* ===================== RoPE ===================== */

typedef enum { RT_ROPE_DEFAULT, RT_ROPE_LLAMA3, RT_ROPE_LONGROPE } rt_rope_type;

typedef struct rt_rope_cfg {
    rt_rope_type type;
    int rotary_dim;          /* dims rotated per head (= head_dim normally), even */
    double theta;            /* rope_theta */
    /* LLAMA3 */
    double factor, low_freq_factor, high_freq_factor;
    int original_max;        /* rope_scaling.original_max_position_embeddings
                              * (LLAMA3), config original_max_position_embeddings
                              * (LONGROPE) */
    /* LONGROPE: rotary_dim/2 values each, as written in config.json */
    const double *short_factor, *long_factor;
    int max_position;        /* max_position_embeddings (LONGROPE) */
} rt_rope_cfg;

/* inv_freq[rotary_dim/2] exactly as HF 4.51 computes it in float32 (checked
 * bit-exact against the fixtures' rope_inv_freq), and the factor that
 * multiplies cos and sin (1 except LONGROPE:
 * sqrt(1 + ln(max/orig)/ln(orig)), 1 if max/orig <= 1).  LONGROPE uses the
 * long factors when seq_len > original_max (HF's seq_len: max position + 1
 * of the current forward call, including the cache); the others ignore
 * seq_len. */
void rt_rope_inv_freq(const rt_rope_cfg *cfg, int seq_len, float *inv_freq, float *attn_scale);

/* Rotates x [rows][n_heads][head_dim] in place, HF rotate-half layout: pair i
 * is (x[i], x[i + rotary_dim/2]), i < rotary_dim/2; dims >= rotary_dim pass
 * through.  Row r is at position pos[r].  In f32: a = (float)(inv_freq[i] *
 * (float)pos), c = cosf(a) * attn_scale, s = sinf(a) * attn_scale
 * (act_bf16: c, s rounded to bf16), then
 *   x'[i] = x[i]*c - x[i+h]*s,  x'[i+h] = x[i+h]*c + x[i]*s
 * with each product and the sum rounded to f32 (act_bf16: to bf16), the
 * order torch evaluates q*cos + rotate_half(q)*sin. */
void rt_rope_apply(float *x, int rows, int n_heads, int head_dim, int rotary_dim, const int32_t *pos,
                   const float *inv_freq, float attn_scale, int act_bf16);
/* The same bits on every ISA. */
void rt_rope_apply_isa(rt_isa isa, float *x, int rows, int n_heads, int head_dim, int rotary_dim,
                       const int32_t *pos, const float *inv_freq, float attn_scale, int act_bf16);

/* ===================== attention ===================== */
/* GQA: query head h reads kv head h / (hq/hkv).  Scores are
 * (q . k) * scale (scale normally head_dim^-0.5), softmax in f32 after
 * subtracting the row max (rt_softmax_row), then out = sum_j p_j v_j.
 * Causal: a query at position p sees keys 0..p. */

/* Self-contained causal prefill: q [s][hq][hd], k, v [s][hkv][hd] at
 * positions 0..s-1; out [s][hq][hd] (must not overlap the inputs).  Uses
 * OpenBLAS for the products, in query blocks of RT_ATTN_QBLOCK rows. */
#define RT_ATTN_QBLOCK 64
void rt_attention_prefill(const float *q, const float *k, const float *v, int s, int hq, int hkv, int hd,
                          float scale, float *out, float *scratch);
/* RT_ATTN_QBLOCK * s floats. */
size_t rt_attention_prefill_scratch_floats(int s);

/* KV cache, f32 or bf16 (values written to a bf16 cache are rounded to
 * nearest even; within a bf16 row, each whole chunk of 32 elements is
 * stored interleaved: 32-bit word j of the chunk holds element j in its low
 * half and element j + 16 in its high half, the last hd % 32 elements in
 * order, so that AVX-512 widens 16 values with one shift or one mask where
 * reading 16 in order takes a widening shuffle too; rt_kv_cache_read gives
 * a row in order), in blocks of RT_KV_BLOCK positions:
 * [pos / RT_KV_BLOCK][user][kv_head][pos % RT_KV_BLOCK][hd] (the last block
 * holds what is left of cap).  Within a block a head's rows are contiguous,
 * as in Tenstorrent's [32, n_kv_heads, cache_len, head_dim]; the blocks are
 * outermost so that the memory a context makes resident follows its length
 * (the cache is sized for max_seq_len, on huge pages), and one decode step's
 * writes (every user at about the same position) fall in a few pages of a
 * layer, not one per user and head.  rt_kv_cache_offset finds a row. */
#define RT_KV_BLOCK 256
typedef struct rt_kv_cache {
    rt_dtype dtype;
    int users, hkv, cap, hd;
    void *k, *v;             /* float* or uint16_t*, zero-initialised */
    size_t bytes;            /* of k and v together */
} rt_kv_cache;

int rt_kv_cache_init(rt_kv_cache *c, rt_dtype dt, int users, int hkv, int cap, int hd, mgc_error *e);
void rt_kv_cache_free(rt_kv_cache *c);
/* Element offset in k (or v) of the row of (user, kv head, pos); the rows of
 * positions [pos, next multiple of RT_KV_BLOCK) follow it contiguously. */
size_t rt_kv_cache_offset(const rt_kv_cache *c, int user, int h, int pos);
/* The cached K (v = 0) or V (v = 1) row of (user, kv head, pos) as hd f32
 * values in order (exact), and one row written there (rt_cache_fill's and
 * rt_cache_update's store, on the ISA that rt_kernels_isa gives them):
 * every ISA the same bits and the same layout. */
void rt_kv_cache_read(rt_isa isa, const rt_kv_cache *c, int v, int user, int h, int pos, float *dst);
void rt_kv_cache_write(rt_isa isa, rt_kv_cache *c, int v, int user, int h, int pos, const float *src);

/* Writes k, v [s][hkv][hd] (prefill rows) into user's slot at positions
 * start..start+s-1.  Bounds (user < users, start + s <= cap) are the caller's
 * to check; violations trip an assert. */
void rt_cache_fill(rt_kv_cache *c, int user, const float *k, const float *v, int s, int start);

/* Decode write: row b of k, v [nusers][hkv][hd] goes to user users[b]
 * (users == NULL: user b) at position pos[b].  Asserted bounds as above. */
void rt_cache_update(rt_kv_cache *c, int nusers, const int *users, const float *k, const float *v,
                     const int32_t *pos);

/* Decode: q [b][hq][hd]; row i belongs to user users[i] (NULL: user i) and
 * attends to cache positions 0..len[i]-1 (1 <= len[i] <= cap).
 * out [b][hq][hd].  The dot products use the canonical order, the weighted
 * sum of v one fma per position in order, so every ISA gives the same
 * bits.  scratch: rt_attention_decode_scratch_floats(c, hq) floats
 * ((hq/hkv) * cap + hd). */
void rt_attention_decode(const float *q, const rt_kv_cache *c, int b, const int *users, const int32_t *len,
                         int hq, float scale, float *out, float *scratch);
void rt_attention_decode_isa(rt_isa isa, const float *q, const rt_kv_cache *c, int b, const int *users,
                             const int32_t *len, int hq, float scale, float *out, float *scratch);
size_t rt_attention_decode_scratch_floats(const rt_kv_cache *c, int hq);

/* Chunked prefill against the cache: q [s][hq][hd] holds positions
 * start..start+s-1 of `user`, whose keys/values 0..start+s-1 are already in
 * the cache (call rt_cache_fill first).  Causal.  out [s][hq][hd].
 * Scratch depends on start + s (scores for RT_ATTN_QBLOCK queries over
 * start+s keys, plus an f32 copy of one kv head's K and V for a bf16
 * cache): size it for the largest start + s you will use (at most cap:
 * rt_attention_prefill_cached_scratch_floats(c, s, c->cap - s)). */
void rt_attention_prefill_cached(const float *q, const rt_kv_cache *c, int user, int s, int start, int hq,
                                 float scale, float *out, float *scratch);
size_t rt_attention_prefill_cached_scratch_floats(const rt_kv_cache *c, int s, int start);

/* ===================== elementwise ===================== */
/* All f32, n elements; out may equal an input. */
void rt_add(const float *a, const float *b, float *out, size_t n);
void rt_mul(const float *a, const float *b, float *out, size_t n);
/* silu(x) = x / (1 + exp(-x)) (torch's formula; exp is rt_exp). */
void rt_silu(const float *x, float *out, size_t n);
/* out = silu(g) * u; act_bf16: bf16(bf16(silu(g)) * u), as HF's bf16 MLP
 * rounds the activation before the multiply. */
void rt_silu_mul(const float *g, const float *u, float *out, size_t n, int act_bf16);
/* The same on a given ISA (capped at the CPU's): every ISA gives the same bits. */
void rt_silu_mul_isa(rt_isa isa, const float *g, const float *u, float *out, size_t n, int act_bf16);
/* HF "gelu": x/2 * (1 + erf(x/sqrt2)), evaluated as x/2 * erfc(-x/sqrt2) so
 * the far negative tail keeps its relative precision. */
void rt_gelu(const float *x, float *out, size_t n);
/* HF "gelu_pytorch_tanh": x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 * evaluated as x / (1 + exp(-2u)) (the same function, no cancellation). */
void rt_gelu_tanh(const float *x, float *out, size_t n);
/* Rounds every element to the nearest bf16 (emulates bf16 activations). */
void rt_round_bf16(float *x, size_t n);
void rt_round_bf16_isa(rt_isa isa, float *x, size_t n); /* the same bits on every ISA */
/* x as packed bf16 (rt_f32_to_bf16_row's bits on every ISA; the KV cache's
 * writes and bf16 weights at load). */
void rt_store_bf16(const float *x, uint16_t *dst, size_t n);
void rt_store_bf16_isa(rt_isa isa, const float *x, uint16_t *dst, size_t n);
/* In place softmax of one row: e = rt_exp(x - max) (f32 subtraction, as
 * torch), sum = the 16-lane canonical tree of e in double, x = e / (float)sum.
 * Same bits on every ISA. */
void rt_softmax_row(float *x, int n);
void rt_softmax_row_isa(rt_isa isa, float *x, int n);
/* Index of the largest value, lowest index among equals; NaN never wins
 * (all NaN -> 0); n <= 0 -> -1. */
int rt_argmax(const float *x, int n);
/* The k largest (1 <= k <= n) in descending order, ties to the lower index,
 * NaNs after every number (in index order). */
void rt_topk(const float *x, int n, int k, int *idx);


/* ===================== general architectures (plan version 2) ===================== */
/* HF's math in f32 (see ../shared/fixtures/README.md, "More architectures").
 * Elementwise ones: n elements, out may equal an input. */

/* torch LayerNorm over rows of dim values: mean and biased variance of the
 * row (accumulated in double, then rounded to f32), then
 *   out = (x - mean) * (1 / sqrtf(var + eps)) * w + b      (b NULL: no bias)
 * Per-head use: rows = T*H, dim = head_dim.  out may equal x. */
void rt_layer_norm(const float *x, int rows, int dim, const float *w, const float *b, float eps, float *out);
/* out[r][c] = x[r][c] + b[c]. */
void rt_add_bias(const float *x, int rows, int cols, const float *b, float *out);
void rt_add_scalar(const float *x, float c, float *out, size_t n);     /* x + c */
void rt_div_scalar(const float *x, float c, float *out, size_t n);     /* x / c, a true division */
void rt_div(const float *a, const float *b, float *out, size_t n);      /* a / b */
void rt_tanh(const float *x, float *out, size_t n);                     /* tanhf */
void rt_exp_f32(const float *x, float *out, size_t n);                  /* expf (libm, correctly rounded in practice) */
void rt_relu(const float *x, float *out, size_t n);                     /* max(x, 0); NaN stays NaN */
void rt_sigmoid(const float *x, float *out, size_t n);                  /* 1 / (1 + expf(-x)) */
/* Gemma 2 soft-capping: tanhf(x / c) * c. */
void rt_softcap(const float *x, float c, float *out, size_t n);

/* MoE router (Mixtral): per row of e logits, p = softmax in f32 (max
 * subtracted, sum in double), the top_k largest p kept (ties: lower index),
 * divided by their f32 sum, every other entry 0.  out may equal x. */
void rt_route(const float *x, int rows, int e, int top_k, float *out);
/* out[r][c] = x[r][c] * w[r * ldw + expert]: one expert's output times its
 * routing weight; exactly 0 (x not read) where that weight is 0. */
void rt_expert_scale(const float *x, int rows, int cols, const float *w, int ldw, int expert, float *out);
/* This device's piece of a replicated [rows][in_cols] buffer: device d
 * copies columns [(d / replicas) * out_cols, + out_cols) into
 * out [rows][out_cols], zeros past in_cols. */
void rt_shard_cols(const float *in, int rows, int in_cols, int device, int replicas, int out_cols, float *out);

/* Attention with Gemma 2's / Mistral's extras.  window > 0: the query at
 * position i sees keys j with i - window < j <= i (0: all of 0..i).
 * softcap > 0: scores s = tanhf(s / softcap) * softcap after the scale and
 * before the mask (0: none).  Otherwise as the functions above; those are
 * these with window = 0, softcap = 0. */
void rt_attention_prefill_ex(const float *q, const float *k, const float *v, int s, int hq, int hkv, int hd,
                             float scale, int64_t window, float softcap, float *out, float *scratch);
void rt_attention_prefill_cached_ex(const float *q, const rt_kv_cache *c, int user, int s, int start, int hq,
                                    float scale, int64_t window, float softcap, float *out, float *scratch);
void rt_attention_decode_ex(rt_isa isa, const float *q, const rt_kv_cache *c, int b, const int *users,
                            const int32_t *len, int hq, float scale, int64_t window, float softcap, float *out,
                            float *scratch);
/* The same for KV heads [kv0, kv1) only (their query heads' outputs): the
 * heads are independent, so the engine splits them over its threads
 * (engine_rows.c) with the bits of the whole call. */
void rt_attention_prefill_heads(const float *q, const float *k, const float *v, int s, int hq, int hkv, int hd,
                                float scale, int64_t window, float softcap, float *out, float *scratch, int kv0,
                                int kv1);
void rt_attention_prefill_cached_heads(const float *q, const rt_kv_cache *c, int user, int s, int start, int hq,
                                       float scale, int64_t window, float softcap, float *out, float *scratch,
                                       int kv0, int kv1);
void rt_attention_decode_heads(rt_isa isa, const float *q, const rt_kv_cache *c, int b, const int *users,
                               const int32_t *len, int hq, float scale, int64_t window, float softcap, float *out,
                               float *scratch, int kv0, int kv1);

#endif
