/* The in-process ccl backend: N devices are N threads of one process.
 *
 * A collective is one *round*.  Each device publishes its call (kind, size,
 * its own buffer pointers) in its slot and counts itself in.  The last device
 * to arrive checks that every device made the same call, and then either
 *
 *   - small rounds: does the whole data movement itself, reading and writing
 *     every device's buffers directly, and releases the others (one wake-up);
 *   - large rounds (>= PARALLEL_MIN elements moved): releases the others, and
 *     every device does its share (all_reduce: chunk d of the elements, summed
 *     over all devices and written back into all of them; all_gather and
 *     broadcast: filling its own output), then waits until all shares are done
 *     so no device touches its buffers while a peer still reads them.
 *
 * all_reduce adds devices in the order 0,1,...,N-1 for every element whichever
 * thread does the adding, so the result does not depend on timing.  No memory
 * is allocated per call: the devices' buffers are used in place.
 *
 * Waiting: a device gives up its core (rt_device_idle_begin) before it sleeps
 * on the condition variable and takes one back after.  A wait for peers to
 * *arrive* ends early when the communicator is aborted (a device failed, or
 * returned, and will never arrive).  A wait for shares to *finish* does not:
 * once every device has arrived every share completes in bounded time, and
 * leaving early would let a device reuse a buffer a peer is still reading. */
#include "ccl.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_ALL_REDUCE, OP_ALL_GATHER, OP_BROADCAST, OP_BARRIER };

static const char *const op_names[] = {"all_reduce_sum", "all_gather", "broadcast", "barrier"};

/* Rounds moving at least this many elements in total split the work. */
#define PARALLEL_MIN ((size_t)1 << 18)
/* all_reduce accumulates this many elements at a time on the stack. */
#define REDUCE_BLOCK 512

typedef struct slot {
    int op;
    int root;
    size_t n;
    const float *in; /* all_gather input */
    float *buf;      /* all_reduce / broadcast buffer, all_gather output */
} slot;

typedef struct threads_comm {
    rt_comm base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;              /* devices in the current round so far */
    int finished;             /* devices whose share of a large round is done */
    unsigned long arrive_gen; /* +1 when every device of a large round arrived */
    unsigned long done_gen;   /* +1 when a round is complete */
    int aborted;
    int abort_by_peer; /* the abort message blames another device */
    char abort_msg[480];
    int n_done;     /* devices whose function returned normally */
    int first_done; /* the lowest of them */
    slot slots[];
} threads_comm;

static int is_parallel(const slot *s, int n_devices)
{
    size_t moved = s->op == OP_BARRIER ? 0 : s->n * (size_t)n_devices;
    return n_devices > 1 && moved >= PARALLEL_MIN;
}

/* ---- data movement ------------------------------------------------------------ */

/* Elements [lo, hi) of every device's buffer <- their sum in device order. */
static void reduce_range(const threads_comm *c, size_t lo, size_t hi)
{
    int nd = c->base.n_devices;
    float acc[REDUCE_BLOCK];
    for (size_t i = lo; i < hi; i += REDUCE_BLOCK) {
        size_t m = hi - i < REDUCE_BLOCK ? hi - i : REDUCE_BLOCK;
        memcpy(acc, c->slots[0].buf + i, m * sizeof *acc);
        for (int r = 1; r < nd; r++) {
            const float *src = c->slots[r].buf + i;
            for (size_t j = 0; j < m; j++)
                acc[j] += src[j];
        }
        for (int r = 0; r < nd; r++)
            memcpy(c->slots[r].buf + i, acc, m * sizeof *acc);
    }
}

/* Fills device s's all_gather output. */
static void gather_into(const threads_comm *c, int s)
{
    size_t n = c->slots[s].n;
    float *out = c->slots[s].buf;
    for (int r = 0; r < c->base.n_devices; r++)
        if (c->slots[r].in != out + (size_t)r * n)
            memcpy(out + (size_t)r * n, c->slots[r].in, n * sizeof *out);
}

static void broadcast_into(const threads_comm *c, int s)
{
    const slot *root = &c->slots[c->slots[s].root];
    if (c->slots[s].buf != root->buf)
        memcpy(c->slots[s].buf, root->buf, root->n * sizeof(float));
}

/* The whole round, by one thread. */
static void do_all(const threads_comm *c)
{
    const slot *s0 = &c->slots[0];
    int nd = c->base.n_devices;
    switch (s0->op) {
    case OP_ALL_REDUCE:
        if (nd > 1)
            reduce_range(c, 0, s0->n);
        break;
    case OP_ALL_GATHER:
        for (int s = 0; s < nd; s++)
            gather_into(c, s);
        break;
    case OP_BROADCAST:
        for (int s = 0; s < nd; s++)
            broadcast_into(c, s);
        break;
    default:
        break;
    }
}

/* Device d's share of a large round. */
static void do_share(const threads_comm *c, int d)
{
    const slot *s0 = &c->slots[0];
    size_t nd = (size_t)c->base.n_devices;
    switch (s0->op) {
    case OP_ALL_REDUCE: {
        size_t lo = s0->n * (size_t)d / nd, hi = s0->n * ((size_t)d + 1) / nd;
        reduce_range(c, lo, hi);
        break;
    }
    case OP_ALL_GATHER:
        gather_into(c, d);
        break;
    case OP_BROADCAST:
        broadcast_into(c, d);
        break;
    default:
        break;
    }
}

/* ---- rounds --------------------------------------------------------------------- */

static void abort_locked(threads_comm *c, int by_peer, const char *msg)
{
    if (c->aborted)
        return;
    c->aborted = 1;
    c->abort_by_peer = by_peer;
    snprintf(c->abort_msg, sizeof c->abort_msg, "%s", msg);
    pthread_cond_broadcast(&c->cv);
}

/* Reports the abort to this device; called with mu held, returns with it released. */
static int fail_aborted(threads_comm *c, rt_device_ctx *ctx, mgc_error *e)
{
    ctx->peer_failed = c->abort_by_peer;
    mgc_errorf(e, "%s", c->abort_msg);
    pthread_mutex_unlock(&c->mu);
    return -1;
}

/* Sleeps without a core until *gen moves past `seen` (returns 1) or, when
 * `abortable`, the communicator is aborted first (returns 0).  Called with mu
 * held; returns with it held. */
static int wait_gen(threads_comm *c, rt_device_ctx *ctx, const unsigned long *gen,
                    unsigned long seen, int abortable)
{
    if (*gen != seen)
        return 1;
    if (abortable && c->aborted)
        return 0;
    rt_device_idle_begin(ctx); /* never takes mu: no lock-order cycle */
    while (*gen == seen && !(abortable && c->aborted))
        pthread_cond_wait(&c->cv, &c->mu);
    int ok = *gen != seen;
    /* Take a core back without holding mu, so peers are not held up. */
    pthread_mutex_unlock(&c->mu);
    rt_device_idle_end(ctx);
    pthread_mutex_lock(&c->mu);
    return ok;
}

static void describe(const slot *s, char *buf, size_t cap)
{
    if (s->op == OP_BARRIER)
        snprintf(buf, cap, "barrier()");
    else if (s->op == OP_BROADCAST)
        snprintf(buf, cap, "broadcast(n=%zu, root=%d)", s->n, s->root);
    else
        snprintf(buf, cap, "%s(n=%zu)", op_names[s->op], s->n);
}

/* 0 if every device made the same call, else writes the first difference. */
static int find_mismatch(const threads_comm *c, char *msg, size_t cap)
{
    const slot *s0 = &c->slots[0];
    for (int r = 1; r < c->base.n_devices; r++) {
        const slot *s = &c->slots[r];
        if (s->op == s0->op && s->n == s0->n && s->root == s0->root)
            continue;
        char a[96], b[96];
        describe(s0, a, sizeof a);
        describe(s, b, sizeof b);
        snprintf(msg, cap, "collective mismatch: device 0 called %s but device %d called %s",
                 a, r, b);
        return -1;
    }
    return 0;
}

static int run_round(threads_comm *c, rt_device_ctx *ctx, slot me, mgc_error *e)
{
    int nd = c->base.n_devices, d = ctx->device;
    int parallel = is_parallel(&me, nd);

    pthread_mutex_lock(&c->mu);
    if (c->aborted)
        return fail_aborted(c, ctx, e);
    if (c->n_done > 0) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "aborted: device %d returned without calling this collective (%s)",
                 c->first_done, op_names[me.op]);
        abort_locked(c, 0, msg);
        return fail_aborted(c, ctx, e);
    }
    c->slots[d] = me;
    unsigned long seen_arrive = c->arrive_gen, seen_done = c->done_gen;

    if (++c->arrived < nd) {
        const unsigned long *gen = parallel ? &c->arrive_gen : &c->done_gen;
        if (!wait_gen(c, ctx, gen, parallel ? seen_arrive : seen_done, 1))
            return fail_aborted(c, ctx, e);
        pthread_mutex_unlock(&c->mu);
        if (!parallel)
            return 0; /* the last arrival did the work */
    } else {
        c->arrived = 0;
        char msg[sizeof c->abort_msg];
        if (find_mismatch(c, msg, sizeof msg)) {
            abort_locked(c, 0, msg);
            return fail_aborted(c, ctx, e);
        }
        if (!parallel) {
            pthread_mutex_unlock(&c->mu);
            do_all(c);
            pthread_mutex_lock(&c->mu);
            c->done_gen++;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
        c->arrive_gen++;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }

    do_share(c, d);

    pthread_mutex_lock(&c->mu);
    if (++c->finished == nd) {
        c->finished = 0;
        c->done_gen++;
        pthread_cond_broadcast(&c->cv);
    } else {
        wait_gen(c, ctx, &c->done_gen, seen_done, 0);
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* ---- ops --------------------------------------------------------------------------- */

static int th_all_reduce(rt_comm *base, rt_device_ctx *ctx, float *buf, size_t n, mgc_error *e)
{
    slot s = {.op = OP_ALL_REDUCE, .n = n, .buf = buf};
    return run_round((threads_comm *)base, ctx, s, e);
}

static int th_all_gather(rt_comm *base, rt_device_ctx *ctx, const float *in, size_t n, float *out,
                         mgc_error *e)
{
    slot s = {.op = OP_ALL_GATHER, .n = n, .in = in, .buf = out};
    return run_round((threads_comm *)base, ctx, s, e);
}

static int th_broadcast(rt_comm *base, rt_device_ctx *ctx, float *buf, size_t n, int root,
                        mgc_error *e)
{
    slot s = {.op = OP_BROADCAST, .n = n, .root = root, .buf = buf};
    return run_round((threads_comm *)base, ctx, s, e);
}

static int th_barrier(rt_comm *base, rt_device_ctx *ctx, mgc_error *e)
{
    slot s = {.op = OP_BARRIER};
    return run_round((threads_comm *)base, ctx, s, e);
}

static void th_abort(rt_comm *base, int device)
{
    threads_comm *c = (threads_comm *)base;
    char msg[64];
    snprintf(msg, sizeof msg, "aborted: device %d failed", device);
    pthread_mutex_lock(&c->mu);
    abort_locked(c, 1, msg);
    pthread_mutex_unlock(&c->mu);
}

static void th_device_done(rt_comm *base, int device)
{
    threads_comm *c = (threads_comm *)base;
    pthread_mutex_lock(&c->mu);
    if (c->n_done++ == 0 || device < c->first_done)
        c->first_done = device;
    if (c->arrived > 0) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "aborted: device %d returned while other devices wait for it in a collective",
                 device);
        abort_locked(c, 0, msg);
    }
    pthread_mutex_unlock(&c->mu);
}

static void th_reset(rt_comm *base)
{
    threads_comm *c = (threads_comm *)base;
    pthread_mutex_lock(&c->mu);
    c->arrived = 0;
    c->finished = 0;
    c->aborted = 0;
    c->abort_by_peer = 0;
    c->abort_msg[0] = 0;
    c->n_done = 0;
    c->first_done = 0;
    pthread_mutex_unlock(&c->mu);
}

static void th_destroy(rt_comm *base)
{
    threads_comm *c = (threads_comm *)base;
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static const rt_comm_ops threads_ops = {
    .name = "threads",
    .all_reduce_sum = th_all_reduce,
    .all_gather = th_all_gather,
    .broadcast = th_broadcast,
    .barrier = th_barrier,
    .abort = th_abort,
    .device_done = th_device_done,
    .reset = th_reset,
    .destroy = th_destroy,
};

rt_comm *rt_comm_threads_create(int n_devices, mgc_error *e)
{
    if (n_devices < 1 || n_devices > 64) {
        mgc_errorf(e, "threads communicator: %d devices (must be 1..64)", n_devices);
        return NULL;
    }
    threads_comm *c = calloc(1, sizeof *c + (size_t)n_devices * sizeof(slot));
    if (!c) {
        mgc_errorf(e, "threads communicator: out of memory");
        return NULL;
    }
    c->base.ops = &threads_ops;
    c->base.n_devices = n_devices;
    if (pthread_mutex_init(&c->mu, NULL)) {
        free(c);
        mgc_errorf(e, "threads communicator: cannot create a mutex");
        return NULL;
    }
    if (pthread_cond_init(&c->cv, NULL)) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        mgc_errorf(e, "threads communicator: cannot create a condition variable");
        return NULL;
    }
    return &c->base;
}
