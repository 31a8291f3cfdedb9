/* Tests of the mesh (runtime/mesh.c) and the threads collectives (runtime/ccl*.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ccl.h"
#include "mesh.h"

#define CORES 2
#define REPEATS 60

/* ---- helpers -------------------------------------------------------------------- */

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A float of widely varying magnitude and sign, so that the order of addition
 * changes the rounded result. */
static float rand_float(uint64_t *s)
{
    uint64_t r = mix(s);
    float mant = (float)(r & 0xffffff) / (float)0x1000000 + 0.5f;
    int ex = (int)((r >> 24) % 24) - 12;
    float v = mant;
    for (int i = 0; i < ex; i++)
        v *= 2.0f;
    for (int i = 0; i > ex; i--)
        v *= 0.5f;
    return (r >> 40) & 1 ? -v : v;
}

/* Sleeps 0..max_us microseconds, or only yields. */
static void jitter(uint64_t *s, int max_us)
{
    uint64_t r = mix(s);
    if (r % 3 == 0) {
        sched_yield();
        return;
    }
    struct timespec ts = {0, (long)(r >> 8) % (max_us + 1) * 1000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- creation --------------------------------------------------------------------- */

static void test_create(void **state)
{
    mgc_error e = {{0}};
    assert_null(rt_mesh_create(0, CORES, &e));
    assert_non_null(strstr(e.msg, "0 devices"));
    assert_null(rt_mesh_create(65, CORES, &e));
    assert_non_null(strstr(e.msg, "65 devices"));

    rt_mesh *m = rt_mesh_create(8, CORES, &e);
    assert_non_null(m);
    assert_int_equal(rt_mesh_n_devices(m), 8);
    assert_int_equal(rt_mesh_n_cores(m), 2);
    assert_int_equal(rt_comm_size(rt_mesh_comm(m)), 8);
    assert_string_equal(rt_comm_backend_name(rt_mesh_comm(m)), "threads");
    rt_mesh_destroy(m);

    m = rt_mesh_create(1, CORES, &e); /* never more tokens than devices */
    assert_non_null(m);
    assert_int_equal(rt_mesh_n_cores(m), 1);
    rt_mesh_destroy(m);

    assert_true(rt_host_cores() >= 1);
    m = rt_mesh_create(3, 0, &e);
    assert_non_null(m);
    int c = rt_host_cores() < 3 ? rt_host_cores() : 3;
    assert_int_equal(rt_mesh_n_cores(m), c);
    rt_mesh_destroy(m);
    rt_mesh_destroy(NULL);
}

/* ---- one device runs on the calling thread ---------------------------------------- */

typedef struct one_state {
    pthread_t caller;
    int ran_on_caller;
    int device, n_devices;
    float reduced[3], gathered[3], bcast[2];
} one_state;

static int one_fn(rt_device_ctx *ctx, void *arg)
{
    one_state *st = arg;
    st->ran_on_caller = pthread_equal(pthread_self(), st->caller);
    st->device = ctx->device;
    st->n_devices = ctx->n_devices;
    float buf[3] = {1.5f, -2.0f, 3.25f};
    if (rt_all_reduce_sum(ctx, buf, 3, ctx->err))
        return -1;
    memcpy(st->reduced, buf, sizeof buf);
    if (rt_all_gather(ctx, buf, 3, st->gathered, ctx->err))
        return -1;
    st->bcast[0] = 7.0f;
    st->bcast[1] = 8.0f;
    if (rt_broadcast(ctx, st->bcast, 2, 0, ctx->err))
        return -1;
    return rt_barrier(ctx, ctx->err);
}

static void test_one_device(void **state)
{
    mgc_error e = {{0}};
    rt_mesh *m = rt_mesh_create(1, CORES, &e);
    assert_non_null(m);
    one_state st = {.caller = pthread_self()};
    assert_int_equal(rt_mesh_run(m, one_fn, &st, &e), 0);
    assert_true(st.ran_on_caller);
    assert_int_equal(st.device, 0);
    assert_int_equal(st.n_devices, 1);
    float want[3] = {1.5f, -2.0f, 3.25f};
    assert_memory_equal(st.reduced, want, sizeof want);
    assert_memory_equal(st.gathered, want, sizeof want);
    assert_true(st.bcast[0] == 7.0f && st.bcast[1] == 8.0f);
    rt_mesh_destroy(m);
}

/* ---- collectives: correctness and bit-determinism under random delays -------------- */

#define MAXD 8
/* The last size moves more than the backend's parallel threshold (2^18
 * elements over all devices), the others less: both paths are exercised. */
#define NSIZES 6
static size_t size_k(int nd, size_t k)
{
    static const size_t fixed[NSIZES - 1] = {0, 1, 7, 1000, 12345};
    return k < NSIZES - 1 ? fixed[k] : (size_t)(270007 / nd);
}

typedef struct coll_state {
    int nd;
    int rep;
    int root;
    float *in[MAXD][NSIZES];     /* inputs, fixed over the repeats */
    float *want_sum[NSIZES];     /* sequential sum in device order */
    float *reduced[MAXD][NSIZES];  /* what each device got */
    float *gathered[MAXD][NSIZES]; /* nd * n */
    float *bcast[MAXD][NSIZES];
    float *inplace[MAXD];        /* all_gather with in == out + d*n */
} coll_state;

static int coll_fn(rt_device_ctx *ctx, void *arg)
{
    coll_state *st = arg;
    int d = ctx->device;
    uint64_t rng = (uint64_t)st->rep * 1000003u + (uint64_t)d * 7919u + 1;
    if (ctx->n_devices != st->nd)
        return mgc_errorf(ctx->err, "n_devices %d", ctx->n_devices);
    for (size_t k = 0; k < NSIZES; k++) {
        size_t n = size_k(st->nd, k);
        float *buf = st->reduced[d][k];
        memcpy(buf, st->in[d][k], n * sizeof *buf);
        jitter(&rng, 200);
        if (rt_all_reduce_sum(ctx, buf, n, ctx->err))
            return -1;
        jitter(&rng, 100);
        if (rt_all_gather(ctx, st->in[d][k], n, st->gathered[d][k], ctx->err))
            return -1;
        memcpy(st->bcast[d][k], st->in[d][k], n * sizeof(float));
        jitter(&rng, 100);
        if (rt_broadcast(ctx, st->bcast[d][k], n, st->root, ctx->err))
            return -1;
    }
    /* in-place all_gather of the 1000-element inputs */
    size_t n = size_k(st->nd, 3);
    memcpy(st->inplace[d] + (size_t)d * n, st->in[d][3], n * sizeof(float));
    if (rt_all_gather(ctx, st->inplace[d] + (size_t)d * n, n, st->inplace[d], ctx->err))
        return -1;
    return rt_barrier(ctx, ctx->err);
}

static void run_collectives(int nd)
{
    mgc_error e = {{0}};
    rt_mesh *m = rt_mesh_create(nd, CORES, &e);
    assert_non_null(m);
    coll_state *st = calloc(1, sizeof *st);
    assert_non_null(st);
    st->nd = nd;
    uint64_t rng = 42;
    for (size_t k = 0; k < NSIZES; k++) {
        size_t n = size_k(st->nd, k), cap = n ? n : 1;
        for (int d = 0; d < nd; d++) {
            st->in[d][k] = malloc(cap * sizeof(float));
            st->reduced[d][k] = malloc(cap * sizeof(float));
            st->gathered[d][k] = malloc(cap * (size_t)nd * sizeof(float));
            st->bcast[d][k] = malloc(cap * sizeof(float));
            for (size_t i = 0; i < n; i++)
                st->in[d][k][i] = rand_float(&rng);
        }
        st->want_sum[k] = malloc(cap * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            float s = st->in[0][k][i];
            for (int d = 1; d < nd; d++)
                s += st->in[d][k][i];
            st->want_sum[k][i] = s;
        }
    }
    for (int d = 0; d < nd; d++)
        st->inplace[d] = malloc(size_k(st->nd, 3) * (size_t)nd * sizeof(float));

    /* The test can tell orders apart: summing in reverse changes some bits. */
    size_t differ = 0;
    for (size_t i = 0; i < size_k(nd, 5); i++) {
        float r = st->in[nd - 1][5][i];
        for (int d = nd - 2; d >= 0; d--)
            r += st->in[d][5][i];
        differ += memcmp(&r, &st->want_sum[5][i], sizeof r) != 0;
    }
    assert_true(differ > 0);

    for (int rep = 0; rep < REPEATS; rep++) {
        st->rep = rep;
        st->root = rep % nd;
        for (int d = 0; d < nd; d++)
            memset(st->inplace[d], 0xff, size_k(st->nd, 3) * (size_t)nd * sizeof(float)); /* NaNs */
        int rc = rt_mesh_run(m, coll_fn, st, &e);
        if (rc)
            fail_msg("rep %d: %s", rep, e.msg);
        for (size_t k = 0; k < NSIZES; k++) {
            size_t n = size_k(st->nd, k);
            for (int d = 0; d < nd; d++) {
                if (n && memcmp(st->reduced[d][k], st->want_sum[k], n * sizeof(float)))
                    fail_msg("rep %d n=%zu device %d: all_reduce differs from the "
                             "sequential sum",
                             rep, n, d);
                for (int r = 0; r < nd; r++)
                    if (n && memcmp(st->gathered[d][k] + (size_t)r * n, st->in[r][k],
                                    n * sizeof(float)))
                        fail_msg("rep %d n=%zu device %d: all_gather slice %d wrong", rep, n,
                                 d, r);
                if (n && memcmp(st->bcast[d][k], st->in[st->root][k], n * sizeof(float)))
                    fail_msg("rep %d n=%zu device %d: broadcast wrong", rep, n, d);
            }
        }
        for (int d = 0; d < nd; d++)
            for (int r = 0; r < nd; r++)
                if (memcmp(st->inplace[d] + (size_t)r * size_k(st->nd, 3), st->in[r][3],
                           size_k(st->nd, 3) * sizeof(float)))
                    fail_msg("rep %d device %d: in-place all_gather slice %d wrong", rep, d,
                             r);
    }

    for (size_t k = 0; k < NSIZES; k++) {
        for (int d = 0; d < nd; d++) {
            free(st->in[d][k]);
            free(st->reduced[d][k]);
            free(st->gathered[d][k]);
            free(st->bcast[d][k]);
        }
        free(st->want_sum[k]);
    }
    for (int d = 0; d < nd; d++)
        free(st->inplace[d]);
    free(st);
    rt_mesh_destroy(m);
}

static void test_collectives_3(void **state)
{
    run_collectives(3);
}

static void test_collectives_8(void **state)
{
    run_collectives(8);
}

/* ---- failures -------------------------------------------------------------------------- */

typedef struct fail_state {
    int victim;     /* the device that fails */
    int after;      /* ... after this many successful all_reduces */
    int delay_ms;   /* ... and this long a sleep */
    int mode;       /* 0 fail, 1 return 0 early, 2 mismatched call, 3 NULL buffer */
    atomic_int collective_errors;
} fail_state;

static int fail_fn(rt_device_ctx *ctx, void *arg)
{
    fail_state *st = arg;
    float buf[16];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 16; i++)
            buf[i] = (float)(ctx->device + i);
        if (ctx->device == st->victim && round == st->after) {
            struct timespec ts = {0, st->delay_ms * 1000000L};
            nanosleep(&ts, NULL);
            if (st->mode == 0)
                return mgc_errorf(ctx->err, "boom");
            if (st->mode == 1)
                return 0;
            if (st->mode == 2) {
                float out[2 * 64];
                return rt_all_gather(ctx, buf, 2, out, ctx->err);
            }
            return rt_all_reduce_sum(ctx, NULL, 16, ctx->err);
        }
        if (rt_all_reduce_sum(ctx, buf, 16, ctx->err)) {
            atomic_fetch_add(&st->collective_errors, 1);
            return -1;
        }
    }
    return 0;
}

static void run_failure(int nd, int victim, int after, int delay_ms, int mode, mgc_error *e,
                        rt_mesh *m)
{
    fail_state st = {.victim = victim, .after = after, .delay_ms = delay_ms, .mode = mode};
    atomic_init(&st.collective_errors, 0);
    double t0 = now_s();
    assert_int_equal(rt_mesh_run(m, fail_fn, &st, e), -1);
    assert_true(now_s() - t0 < 5.0);
    if (mode == 0 || mode == 3)
        assert_int_equal(atomic_load(&st.collective_errors), nd - 1);
}

static void test_failure_releases_peers(void **state)
{
    mgc_error e = {{0}};
    int counts[] = {3, 8};
    for (int ci = 0; ci < 2; ci++) {
        int nd = counts[ci];
        rt_mesh *m = rt_mesh_create(nd, CORES, &e);
        assert_non_null(m);
        int victim = nd - 2;
        for (int after = 0; after < 3; after++) {
            run_failure(nd, victim, after, after == 1 ? 0 : 20, 0, &e, m);
            char want[64];
            snprintf(want, sizeof want, "device %d: boom", victim);
            assert_string_equal(e.msg, want);
            snprintf(want, sizeof want, "aborted: device %d failed", victim);
            for (int d = 0; d < nd; d++)
                if (d != victim)
                    assert_string_equal(rt_mesh_device_error(m, d), want);
            assert_string_equal(rt_mesh_device_error(m, victim), "boom");
        }
        /* The mesh is usable again after a failed run. */
        fail_state ok = {.victim = -1};
        atomic_init(&ok.collective_errors, 0);
        assert_int_equal(rt_mesh_run(m, fail_fn, &ok, &e), 0);
        assert_string_equal(rt_mesh_device_error(m, 0), "");
        rt_mesh_destroy(m);
    }
}

static void test_failure_kinds(void **state)
{
    mgc_error e = {{0}};
    rt_mesh *m = rt_mesh_create(8, CORES, &e);
    assert_non_null(m);

    /* A device that returns early while the others wait for it. */
    run_failure(8, 3, 1, 20, 1, &e, m);
    assert_non_null(strstr(e.msg, "device 3 returned"));
    assert_int_equal(strncmp(e.msg, "device 0: ", 10), 0);

    /* Different collectives on different devices. */
    run_failure(8, 6, 2, 5, 2, &e, m);
    assert_non_null(strstr(e.msg, "collective mismatch"));
    assert_non_null(strstr(e.msg, "all_reduce_sum(n=16)"));
    assert_non_null(strstr(e.msg, "device 6 called all_gather(n=2)"));

    /* A bad argument on one device: its own message, the others aborted. */
    run_failure(8, 4, 1, 10, 3, &e, m);
    assert_non_null(strstr(e.msg, "device 4: all_reduce_sum: NULL buffer"));
    assert_string_equal(rt_mesh_device_error(m, 0), "aborted: device 4 failed");

    /* The victim fails at once, before the others even start. */
    run_failure(8, 0, 0, 0, 0, &e, m);
    assert_string_equal(e.msg, "device 0: boom");
    rt_mesh_destroy(m);
}

typedef struct nest_state {
    rt_mesh *m;
    mgc_error inner;
    int inner_rc;
} nest_state;

static int noop_fn(rt_device_ctx *ctx, void *arg)
{
    return 0;
}

static int nest_fn(rt_device_ctx *ctx, void *arg)
{
    nest_state *st = arg;
    if (ctx->device == 0)
        st->inner_rc = rt_mesh_run(st->m, noop_fn, NULL, &st->inner);
    return 0;
}

static int silent_fail_fn(rt_device_ctx *ctx, void *arg)
{
    return ctx->device == 1 ? -1 : 0;
}

static void test_misuse(void **state)
{
    mgc_error e = {{0}};
    int counts[] = {1, 4};
    for (int ci = 0; ci < 2; ci++) {
        rt_mesh *m = rt_mesh_create(counts[ci], CORES, &e);
        assert_non_null(m);
        nest_state st = {.m = m};
        assert_int_equal(rt_mesh_run(m, nest_fn, &st, &e), 0);
        assert_int_equal(st.inner_rc, -1);
        assert_non_null(strstr(st.inner.msg, "already running"));
        assert_int_equal(rt_mesh_run(m, NULL, NULL, &e), -1);
        if (counts[ci] > 1) {
            assert_int_equal(rt_mesh_run(m, silent_fail_fn, NULL, &e), -1);
            assert_string_equal(e.msg, "device 1: failed without a message");
        }
        rt_mesh_destroy(m);
    }
}

/* ---- the core-token pool ------------------------------------------------------------------ */

typedef struct pool_state {
    atomic_int active;
    atomic_int max_active;
} pool_state;

static void spin_for(double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end) {
    }
}

static int pool_fn(rt_device_ctx *ctx, void *arg)
{
    pool_state *st = arg;
    float x = (float)ctx->device;
    for (int round = 0; round < 10; round++) {
        int cur = atomic_fetch_add(&st->active, 1) + 1;
        int mx = atomic_load(&st->max_active);
        while (cur > mx && !atomic_compare_exchange_weak(&st->max_active, &mx, cur)) {
        }
        spin_for(0.002);
        atomic_fetch_sub(&st->active, 1);
        int rc = round % 2 ? rt_barrier(ctx, ctx->err) : rt_all_reduce_sum(ctx, &x, 1, ctx->err);
        if (rc)
            return -1;
        /* idle_begin/end around a blocking wait of our own releases the core too */
        rt_device_idle_begin(ctx);
        rt_device_idle_begin(ctx); /* nesting is harmless */
        rt_device_idle_end(ctx);
        rt_device_idle_end(ctx);
    }
    return 0;
}

static void test_token_pool_limits_concurrency(void **state)
{
    mgc_error e = {{0}};
    int counts[] = {3, 8};
    for (int ci = 0; ci < 2; ci++) {
        rt_mesh *m = rt_mesh_create(counts[ci], CORES, &e);
        assert_non_null(m);
        /* Never more devices computing than tokens.  That both tokens get
         * used at once needs the OS to run two device threads at the same
         * moment, which a busy host may not do within one run: up to 20
         * runs to see it. */
        int both = 0;
        for (int attempt = 0; attempt < 20 && !both; attempt++) {
            pool_state st;
            atomic_init(&st.active, 0);
            atomic_init(&st.max_active, 0);
            assert_int_equal(rt_mesh_run(m, pool_fn, &st, &e), 0);
            assert_true(atomic_load(&st.max_active) <= CORES);
            both = atomic_load(&st.max_active) == CORES;
        }
        assert_true(both); /* both tokens were used */
        rt_mesh_destroy(m);
    }
    /* One token: strictly one device at a time, and still no deadlock. */
    rt_mesh *m = rt_mesh_create(4, 1, &e);
    assert_non_null(m);
    pool_state st;
    atomic_init(&st.active, 0);
    atomic_init(&st.max_active, 0);
    assert_int_equal(rt_mesh_run(m, pool_fn, &st, &e), 0);
    assert_int_equal(atomic_load(&st.max_active), 1);
    rt_mesh_destroy(m);
}

/* Many back-to-back small collectives: rounds must not bleed into each other. */
typedef struct churn_state {
    int nd;
    int bad;
} churn_state;

static int churn_fn(rt_device_ctx *ctx, void *arg)
{
    churn_state *st = arg;
    for (int i = 0; i < 2000; i++) {
        float v[2] = {(float)(ctx->device + i), 1.0f};
        if (rt_all_reduce_sum(ctx, v, 2, ctx->err))
            return -1;
        float want = (float)(st->nd * i + st->nd * (st->nd - 1) / 2);
        if (v[0] != want || v[1] != (float)st->nd)
            return mgc_errorf(ctx->err, "iteration %d: got %g want %g", i, (double)v[0],
                              (double)want);
    }
    return 0;
}

static void test_back_to_back(void **state)
{
    mgc_error e = {{0}};
    rt_mesh *m = rt_mesh_create(8, CORES, &e);
    assert_non_null(m);
    churn_state st = {.nd = 8};
    if (rt_mesh_run(m, churn_fn, &st, &e))
        fail_msg("%s", e.msg);
    rt_mesh_destroy(m);
}

int main(void)
{
    alarm(120); /* a hang (a deadlock in a collective) fails the suite instead of stalling it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_one_device),
        cmocka_unit_test(test_collectives_3),
        cmocka_unit_test(test_collectives_8),
        cmocka_unit_test(test_failure_releases_peers),
        cmocka_unit_test(test_failure_kinds),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_token_pool_limits_concurrency),
        cmocka_unit_test(test_back_to_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
