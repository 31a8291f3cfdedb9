/* engine_rows.c: an op whose rows are independent, split over the device's
 * pool.
 *
 * A device's linears already run on every core it has (rt_linear_pool);
 * everything between them (norms, rotary, the KV-cache writes, decode
 * attention, elementwise ops and the bf16 rounding of their outputs) ran on
 * the device's own thread, which at 32 decode users or a 128-token prefill
 * was a third of the time with the other cores idle.  Each of these kernels
 * computes row r from row r of its inputs (decode attention: user r's
 * query against user r's cache), so cutting the rows into ranges changes
 * which thread computes a row, never its arithmetic: the results are the
 * same bits for any pool size.  The output op's copy of the logits to the
 * host is split the same way. */
#include <stdatomic.h>

#include "engine_deps.h"
#include "engine_internal.h"

/* Below this many output values per thread the hand-off to the pool (a few
 * microseconds) costs about what the split saves.  A variable so that the
 * tests can split the fixtures' tiny ops too (test_engine_rows). */
int rt_engine_rows_min_values = 8192;
_Atomic long rt_engine_rows_splits; /* ops split so far (the tests check that splits happen) */

/* Ops worth splitting: the row-by-row kernels (engine_deps.h) except the
 * linear (it splits its outputs over the pool itself) and the collectives
 * (one call per device joins them), plus rotary (row r at position r) and
 * the cache ops, whose row r writes or reads user r's (or position r's)
 * entries only.  Decode attention splits finer, by (user, KV head): each
 * head of a user reads only its own KV head's entries; prefill attention
 * (row r reads rows 0..r) splits by KV head alone. */
static int splittable(mgc_kernel k)
{
    switch (k) {
    case MGC_K_LINEAR:
    case MGC_K_ALL_REDUCE:
    case MGC_K_ALL_GATHER:
        return 0;
    case MGC_K_ROTARY:
    case MGC_K_FILL_CACHE:
    case MGC_K_UPDATE_CACHE:
    case MGC_K_SDPA_DECODE:
        return 1;
    default:
        return rt_kernel_row_by_row(k);
    }
}

typedef struct split {
    rt_device_ctx *ctx;
    rt_engine *en;
    rt_device *d;
    const rt_call *c;
    const mgc_plan_op *op;
    int r0, rows, ntasks;
    _Atomic int failed;
    mgc_error err; /* the first failure's (none of these kernels fails today) */
} split;

/* Decode attention: units are (row, KV head) pairs, so that one user's
 * heads spread over the threads too; task t takes units [a, b). */
static void heads_task(void *arg, int task, int thread)
{
    split *s = arg;
    int hkv = s->d->caches[s->op->layer].hkv;
    long long units = (long long)s->rows * hkv;
    long long a = units * task / s->ntasks, b = units * (task + 1) / s->ntasks;
    for (long long u = a; u < b;) {
        int r = (int)(u / hkv), kv0 = (int)(u % hkv);
        int kv1 = b - (long long)r * hkv < hkv ? (int)(b - (long long)r * hkv) : hkv;
        rt_engine_sdpa_decode(s->d, s->c, s->op, s->r0 + r, kv0, kv1, thread);
        u += kv1 - kv0;
    }
}

/* Prefill attention: every row needs the rows before it, so it splits by
 * KV head (each with its query heads) instead. */
static void prefill_heads_task(void *arg, int task, int thread)
{
    split *s = arg;
    int hkv = rt_engine_sdpa_kv_heads(s->d, s->c, s->op);
    int kv0 = (int)((long long)hkv * task / s->ntasks), kv1 = (int)((long long)hkv * (task + 1) / s->ntasks);
    if (kv1 > kv0)
        rt_engine_sdpa_prefill(s->d, s->c, s->op, s->r0, s->rows, kv0, kv1, thread);
}

/* The logits to the host (rt_engine_output_whole): a copy of rows x vocab
 * floats, 19 MB for 32 Qwen3 users (3.5 % of a decode step on one thread),
 * 78 MB for a 128-row teacher-forced prefill.  Task t copies rows [a, b);
 * the host's rows count from the op's first row. */
static void output_task(void *arg, int task, int thread)
{
    (void)thread;
    split *s = arg;
    int a = (int)((long long)s->rows * task / s->ntasks), b = (int)((long long)s->rows * (task + 1) / s->ntasks);
    rt_engine_output_copy(s->d, s->c, s->op, s->r0 + a, b - a, a);
}

static void run_task(void *arg, int task, int thread)
{
    split *s = arg;
    /* contiguous ranges, sizes differing by at most one row */
    int a = s->r0 + (int)((long long)s->rows * task / s->ntasks);
    int b = s->r0 + (int)((long long)s->rows * (task + 1) / s->ntasks);
    mgc_error e = {{0}};
    if (b > a && rt_engine_run_rows(s->ctx, s->en, s->d, s->c, s->op, a, b - a, thread, &e) != 0) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&s->failed, &expected, 1))
            s->err = e;
    }
}

int rt_engine_run_op(rt_device_ctx *ctx, rt_engine *en, rt_device *d, const rt_call *c, const mgc_plan_op *op,
                     int r0, int rows, mgc_error *e)
{
    int threads = rt_pool_threads(d->pool);
    /* the work: the op's output values (the cache writes have no output:
     * their input's) */
    int id = op->out >= 0 ? op->out : op->in[0];
    int64_t cols = id >= 0 ? c->entry->bufs[id].cols : 0;
    int64_t values = (int64_t)rows * cols;
    int units = rows; /* what the tasks share out */
    if (op->kernel == MGC_K_SDPA_DECODE && (op->device < 0 || op->device == ctx->device)) {
        /* each output reads its user's L keys and values: count L/16 values
         * per output value, and share out (user, KV head) pairs */
        int32_t lmax = 1;
        for (int r = r0; r < r0 + rows; r++)
            lmax = c->pos[r] + 1 > lmax ? c->pos[r] + 1 : lmax;
        values *= (lmax + 15) / 16;
        units = rows * d->caches[op->layer].hkv;
    } else if (op->kernel == MGC_K_SDPA && (op->device < 0 || op->device == ctx->device)) {
        /* each output reads up to `rows` earlier rows: count rows/16 */
        values *= (rows + 15) / 16;
        units = rt_engine_sdpa_kv_heads(d, c, op);
    }
    int ntasks = threads;
    if (ntasks > units)
        ntasks = units;
    if (ntasks > 1 && values / ntasks < rt_engine_rows_min_values)
        ntasks = (int)(values / (rt_engine_rows_min_values > 0 ? rt_engine_rows_min_values : 1));
    const int copy = ctx->device == 0 && c->logits && rt_engine_output_whole(ctx, c, op);
    if (ntasks < 2 || !(splittable(op->kernel) || op->kernel == MGC_K_SDPA || copy) ||
        (op->device >= 0 && op->device != ctx->device))
        return rt_engine_run_rows(ctx, en, d, c, op, r0, rows, 0, e);
    split s = {.ctx = ctx, .en = en, .d = d, .c = c, .op = op, .r0 = r0, .rows = rows, .ntasks = ntasks};
    atomic_init(&s.failed, 0);
    atomic_fetch_add_explicit(&rt_engine_rows_splits, 1, memory_order_relaxed);
    rt_pool_run(d->pool, ntasks,
                op->kernel == MGC_K_SDPA_DECODE ? heads_task
                : op->kernel == MGC_K_SDPA      ? prefill_heads_task
                : copy                          ? output_task
                                                : run_task,
                &s);
    if (atomic_load(&s.failed)) {
        *e = s.err;
        return -1;
    }
    return 0;
}
