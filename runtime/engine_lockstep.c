/* engine_lockstep.c: an in-process mesh with more devices than cores, run op
 * by op across its devices.
 *
 * A t3000 plan on a two-core host is eight devices on two cores.  Run as a
 * thread per device (rt_mesh_run), every collective (two all-reduces per
 * layer) puts the devices to sleep one by one as they arrive and wakes them
 * again in turns of two as the cores free up: at one decode user those
 * hand-offs cost more than the matmuls, and the plan decoded at 0.64 of the
 * one-device plan's speed on the same cores.  Every device runs the same op
 * list (SPMD) and, in one process, the devices' buffers are plain memory;
 * so the engine runs op i on every device, the devices spread over a pool
 * of as many threads as there are cores, before it starts op i + 1 (a
 * decode call: the ops up to the next collective, as one task a device).  A
 * collective then needs no waiting: when it comes up every device has
 * reached it, and it is memory work over all the devices' buffers.
 *
 * Same bits as the thread-per-device schedule: each device's kernels run on
 * one thread either way (the engine gives a device a pool of its own only
 * when it has two cores or more, and then the mesh is not oversubscribed
 * and this schedule is not used), and the all-reduce adds in device order
 * as ccl_threads.c does.  test_engine_lockstep checks every architecture
 * both ways. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "profile.h"

/* all_reduce adds this many elements per task (at most), on the stack */
#define REDUCE_BLOCK 512
#define REDUCE_MIN_TASK 4096

typedef struct step {
    rt_engine *en;
    const rt_call *c;
    size_t i;              /* the op (a collective), or the first op of a segment */
    size_t end;            /* device_task: the segment is ops [i, end) */
    int r0, rows;          /* a collective's rows (rt_engine_op_rows) */
    rt_device_ctx *ctx;    /* [ndev], each with its own error */
    _Atomic int failed;
    size_t n;              /* all_reduce: values per device; all_gather: per device's share */
    int ntasks;            /* all_reduce: element ranges */
} step;

/* Buffer id of device dv from row r0 on. */
static float *buf_at(const rt_engine *en, int dv, const rt_call *c, int id, int r0)
{
    return rt_engine_buf_at(&en->dev[dv], c->entry, id, r0);
}

/* Device `task` runs the segment's ops, in order, on this thread. */
static void device_task(void *arg, int task, int thread)
{
    (void)thread;
    step *s = arg;
    for (size_t i = s->i; i < s->end; i++)
        if (rt_engine_device_op(&s->ctx[task], s->en, s->c, i) != 0) {
            atomic_store(&s->failed, 1);
            return;
        }
}

/* Values [lo, hi) of every device's output <- the sum of their inputs,
 * device 0 first, in f32 (ccl.h's order).  A device's output may be its
 * input (in place): each block is read whole before it is written. */
static void reduce_task(void *arg, int task, int thread)
{
    (void)thread;
    step *s = arg;
    const mgc_plan_op *op = &s->c->entry->ops[s->i];
    int nd = s->en->ndev;
    size_t lo = s->n * (size_t)task / (size_t)s->ntasks, hi = s->n * ((size_t)task + 1) / (size_t)s->ntasks;
    float acc[REDUCE_BLOCK];
    for (size_t i = lo; i < hi; i += REDUCE_BLOCK) {
        size_t m = hi - i < REDUCE_BLOCK ? hi - i : REDUCE_BLOCK;
        memcpy(acc, buf_at(s->en, 0, s->c, op->in[0], s->r0) + i, m * sizeof *acc);
        for (int r = 1; r < nd; r++) {
            const float *src = buf_at(s->en, r, s->c, op->in[0], s->r0) + i;
            for (size_t j = 0; j < m; j++)
                acc[j] += src[j];
        }
        if (s->c->entry->bufs[op->out].dtype == MGC_BF16)
            rt_round_bf16(acc, m); /* as every op's bf16 output (engine_exec.c) */
        for (int r = 0; r < nd; r++)
            memcpy(buf_at(s->en, r, s->c, op->out, s->r0) + i, acc, m * sizeof *acc);
    }
}

/* Device `task`'s all_gather staging <- every device's share, in order. */
static void gather_fill_task(void *arg, int task, int thread)
{
    (void)thread;
    step *s = arg;
    const mgc_plan_op *op = &s->c->entry->ops[s->i];
    float *dst = s->en->dev[task].gather;
    for (int r = 0; r < s->en->ndev; r++)
        memcpy(dst + (size_t)r * s->n, buf_at(s->en, r, s->c, op->in[0], s->r0), s->n * sizeof *dst);
}

/* ... then into its replicated output (a separate pass: a device's output
 * may overlap its input, which the others read while they fill). */
static void gather_copy_task(void *arg, int task, int thread)
{
    (void)thread;
    step *s = arg;
    const mgc_plan_entry *ent = s->c->entry;
    const mgc_plan_op *op = &ent->ops[s->i];
    float *out = buf_at(s->en, task, s->c, op->out, s->r0);
    rt_engine_gather_copy(&s->en->dev[task], s->en->ndev, s->rows, ent->bufs[op->in[0]].cols, op->vocab, out,
                          ent->bufs[op->out].cols);
    if (ent->bufs[op->out].dtype == MGC_BF16)
        rt_round_bf16(out, (size_t)s->rows * (size_t)ent->bufs[op->out].cols);
}

/* Whether op i is one this schedule runs across the devices (collective()
 * below) rather than on each device alone. */
static int is_collective(const mgc_plan_entry *ent, size_t i)
{
    const mgc_plan_op *op = &ent->ops[i];
    int64_t local = op->in[0] >= 0 ? ent->bufs[op->in[0]].cols : 0;
    /* an output of replicated logits is an ordinary op (device 0 copies its
     * rows); of vocab shards, device 0 gathers them */
    return op->kernel == MGC_K_ALL_REDUCE || op->kernel == MGC_K_ALL_GATHER ||
           (op->kernel == MGC_K_OUTPUT && local != op->vocab);
}

/* Op s->i, a collective (is_collective), over all devices. */
static void collective(rt_engine *en, step *s)
{
    const mgc_plan_entry *ent = s->c->entry;
    const mgc_plan_op *op = &ent->ops[s->i];
    int64_t local = op->in[0] >= 0 ? ent->bufs[op->in[0]].cols : 0;
    switch (op->kernel) {
    case MGC_K_ALL_REDUCE:
        s->n = (size_t)s->rows * (size_t)ent->bufs[op->out].cols;
        s->ntasks = (int)(s->n / REDUCE_MIN_TASK);
        if (s->ntasks < 1)
            s->ntasks = 1;
        if (s->ntasks > 4 * rt_pool_threads(en->lockstep))
            s->ntasks = 4 * rt_pool_threads(en->lockstep);
        rt_pool_run(en->lockstep, s->ntasks, reduce_task, s);
        return;
    case MGC_K_ALL_GATHER:
        s->n = (size_t)s->rows * (size_t)local;
        rt_pool_run(en->lockstep, en->ndev, gather_fill_task, s);
        rt_pool_run(en->lockstep, en->ndev, gather_copy_task, s);
        return;
    case MGC_K_OUTPUT:
        /* vocab shards: device 0 gathers them into the host's logits */
        s->n = (size_t)s->rows * (size_t)local;
        if (s->c->logits) {
            gather_fill_task(s, 0, 0);
            rt_engine_gather_copy(&en->dev[0], en->ndev, s->rows, local, op->vocab, s->c->logits, op->vocab);
        }
        return;
    default:
        return; /* is_collective names no other kernel */
    }
}

int rt_engine_run_lockstep(rt_engine *en, rt_call *c, mgc_error *e)
{
    int nd = en->ndev;
    rt_device_ctx *ctx = calloc((size_t)nd, sizeof *ctx);
    mgc_error *errs = calloc((size_t)nd, sizeof *errs);
    if (!ctx || !errs) {
        free(ctx);
        free(errs);
        return mgc_errorf(e, "out of memory");
    }
    for (int d = 0; d < nd; d++) {
        /* no communicator: the collectives are done here, not by the devices */
        ctx[d] = (rt_device_ctx){.device = d, .n_devices = nd, .err = &errs[d]};
        rt_engine_device_begin(en, c, d);
    }
    step s = {.en = en, .c = c, .ctx = ctx};
    atomic_init(&s.failed, 0);
    int rc = 0;
    for (size_t i = 0; i < c->entry->nops && rc == 0;) {
        s.i = i;
        if (is_collective(c->entry, i)) {
            /* its rows and its time: a segment's device ops record their own */
            rt_engine_op_rows(en, c, i, &s.r0, &s.rows);
            uint64_t t0 = en->profile ? rt_profile_now() : 0;
            collective(en, &s);
            for (int d = 0; d < nd; d++)
                rt_engine_op_done(en, c, d, i, s.r0, s.rows, t0);
            i++;
            continue;
        }
        /* Decode: the ops up to the next collective touch each device's own
         * buffers only, so each device runs them all in one task and the
         * devices meet once per segment (about 10 ops of a layer) instead
         * of once per op (a pool hand-off and a wait for the slowest device
         * each; Qwen3-0.6B t3000 decode +7-13 % in one-user runs alternated
         * with op by op).  A prefill's ops are long enough to share out one by one,
         * which balances the two cores better when the host takes one
         * (its prefill lost 7-13 % run by segments). */
        s.end = i + 1;
        while (c->decode && s.end < c->entry->nops && !is_collective(c->entry, s.end))
            s.end++;
        i = s.end;
        rt_pool_run(en->lockstep, nd, device_task, &s);
        if (atomic_load(&s.failed)) {
            /* as rt_mesh_run reports it: the lowest-numbered device that failed */
            for (int d = 0; d < nd; d++)
                if (errs[d].msg[0]) {
                    *e = errs[d];
                    mgc_error_prefix(e, "device %d", d);
                    break;
                }
            rc = -1;
        }
    }
    free(ctx);
    free(errs);
    return rc;
}
