/* mesh: persistent device threads, a FIFO pool of core tokens, and the choice
 * of which device's error a failed run reports.  See mesh.h. */
#include "mesh.h"

#include "ccl_mpi.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEVICES 64

struct rt_mesh {
    int n_devices;
    int n_tokens;
    rt_comm *comm;
    int local; /* MPI mesh: the one device this process runs (its rank); else -1 */

    /* Core tokens, granted in ticket order: ticket t may run once t < limit. */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    unsigned long next_ticket;
    unsigned long limit;

    /* Workers (n_devices > 1) and the run they are asked to do. */
    pthread_mutex_t mu;
    pthread_cond_t start_cv;
    pthread_cond_t done_cv;
    unsigned long run_gen;
    int pending; /* devices of the current run not yet returned */
    int quit;
    int busy; /* inside rt_mesh_run */
    rt_device_fn fn;
    void *arg;
    pthread_t *threads;
    int n_threads;

    /* Per device. */
    rt_device_ctx *ctx;
    mgc_error *errs;
    int *rc;
    int *holding; /* holds a core token; touched only by that device's thread */
};

int rt_host_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > MAX_DEVICES ? MAX_DEVICES : n) : 1;
}

/* ---- core tokens ---------------------------------------------------------------- */

static void pool_acquire(rt_mesh *m)
{
    pthread_mutex_lock(&m->pool_mu);
    unsigned long t = m->next_ticket++;
    while (t >= m->limit)
        pthread_cond_wait(&m->pool_cv, &m->pool_mu);
    pthread_mutex_unlock(&m->pool_mu);
}

static void pool_release(rt_mesh *m)
{
    pthread_mutex_lock(&m->pool_mu);
    m->limit++;
    pthread_cond_broadcast(&m->pool_cv);
    pthread_mutex_unlock(&m->pool_mu);
}

static void hook_idle_begin(rt_device_ctx *ctx)
{
    rt_mesh *m = ctx->owner;
    if (m->holding[ctx->device]) {
        m->holding[ctx->device] = 0;
        pool_release(m);
    }
}

static void hook_idle_end(rt_device_ctx *ctx)
{
    rt_mesh *m = ctx->owner;
    if (!m->holding[ctx->device]) {
        pool_acquire(m);
        m->holding[ctx->device] = 1;
    }
}

/* ---- devices ---------------------------------------------------------------------- */

static void run_device(rt_mesh *m, int d)
{
    rt_device_ctx *ctx = &m->ctx[d];
    ctx->peer_failed = 0;
    m->errs[d].msg[0] = 0;

    hook_idle_end(ctx);
    int rc = m->fn(ctx, m->arg);
    hook_idle_begin(ctx);

    if (rc != 0) {
        m->rc[d] = -1;
        if (!m->errs[d].msg[0])
            mgc_errorf(&m->errs[d], "failed without a message");
        rt_comm_abort(m->comm, d);
    } else {
        m->rc[d] = 0;
        rt_comm_device_done(m->comm, d);
    }
}

static void *worker(void *p)
{
    rt_device_ctx *ctx = p;
    rt_mesh *m = ctx->owner;
    unsigned long seen = 0;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (m->run_gen == seen && !m->quit)
            pthread_cond_wait(&m->start_cv, &m->mu);
        if (m->quit)
            break;
        seen = m->run_gen;
        pthread_mutex_unlock(&m->mu);
        run_device(m, ctx->device);
        pthread_mutex_lock(&m->mu);
        if (--m->pending == 0)
            pthread_cond_signal(&m->done_cv);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ---- the mesh ------------------------------------------------------------------------ */

static void stop_workers(rt_mesh *m)
{
    pthread_mutex_lock(&m->mu);
    m->quit = 1;
    pthread_cond_broadcast(&m->start_cv);
    pthread_mutex_unlock(&m->mu);
    for (int i = 0; i < m->n_threads; i++)
        pthread_join(m->threads[i], NULL);
    m->n_threads = 0;
}

void rt_mesh_destroy(rt_mesh *m)
{
    if (!m)
        return;
    stop_workers(m);
    pthread_cond_destroy(&m->done_cv);
    pthread_cond_destroy(&m->start_cv);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->pool_cv);
    pthread_mutex_destroy(&m->pool_mu);
    rt_comm_destroy(m->comm);
    free(m->threads);
    free(m->ctx);
    free(m->errs);
    free(m->rc);
    free(m->holding);
    free(m);
}

/* local < 0: every device a thread of this process; else only device `local`
 * runs here, the others being other processes of an MPI job. */
static rt_mesh *mesh_create(int n_devices, int n_cores, int local, mgc_error *e)
{
    if (n_devices < 1 || n_devices > MAX_DEVICES) {
        mgc_errorf(e, "mesh: %d devices (must be 1..%d)", n_devices, MAX_DEVICES);
        return NULL;
    }
    if (n_cores <= 0)
        n_cores = rt_host_cores();

    rt_mesh *m = calloc(1, sizeof *m);
    if (!m) {
        mgc_errorf(e, "mesh: out of memory");
        return NULL;
    }
    m->n_devices = n_devices;
    m->local = local;
    if (local >= 0)
        n_cores = 1;
    m->n_tokens = n_cores < n_devices ? n_cores : n_devices;
    m->limit = (unsigned long)m->n_tokens;
    pthread_mutex_init(&m->pool_mu, NULL);
    pthread_cond_init(&m->pool_cv, NULL);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->start_cv, NULL);
    pthread_cond_init(&m->done_cv, NULL);

    size_t nd = (size_t)n_devices;
    m->ctx = calloc(nd, sizeof *m->ctx);
    m->errs = calloc(nd, sizeof *m->errs);
    m->rc = calloc(nd, sizeof *m->rc);
    m->holding = calloc(nd, sizeof *m->holding);
    m->threads = calloc(nd, sizeof *m->threads);
    if (!m->ctx || !m->errs || !m->rc || !m->holding || !m->threads) {
        rt_mesh_destroy(m);
        mgc_errorf(e, "mesh: out of memory");
        return NULL;
    }
    m->comm = local >= 0 ? rt_comm_mpi_create(&m->errs[local], e) : rt_comm_threads_create(n_devices, e);
    if (!m->comm) {
        rt_mesh_destroy(m);
        return NULL;
    }
    for (int d = 0; d < n_devices; d++) {
        rt_device_ctx *c = &m->ctx[d];
        c->device = d;
        c->n_devices = n_devices;
        c->comm = m->comm;
        c->err = &m->errs[d];
        c->idle_begin = hook_idle_begin;
        c->idle_end = hook_idle_end;
        c->owner = m;
    }
    if (n_devices > 1 && local < 0) {
        for (int d = 0; d < n_devices; d++) {
            if (pthread_create(&m->threads[d], NULL, worker, &m->ctx[d])) {
                rt_mesh_destroy(m);
                mgc_errorf(e, "mesh: cannot start the thread of device %d of %d", d,
                           n_devices);
                return NULL;
            }
            m->n_threads++;
        }
    }
    return m;
}

rt_mesh *rt_mesh_create(int n_devices, int n_cores, mgc_error *e)
{
    return mesh_create(n_devices, n_cores, -1, e);
}

rt_mesh *rt_mesh_create_mpi(int n_devices, mgc_error *e)
{
    if (!rt_mpi_active()) {
        mgc_errorf(e, "MPI mesh: MPI is not started (run under mpirun with --mesh mpi)");
        return NULL;
    }
    if (rt_mpi_size() != n_devices) {
        mgc_errorf(e, "the plan has %d devices but mpirun started %d ranks (run mpirun -np %d)", n_devices,
                   rt_mpi_size(), n_devices);
        return NULL;
    }
    return mesh_create(n_devices, 1, rt_mpi_rank(), e);
}

int rt_mesh_local_device(const rt_mesh *m)
{
    return m ? m->local : -1;
}

int rt_mesh_run(rt_mesh *m, rt_device_fn fn, void *arg, mgc_error *e)
{
    if (!m || !fn)
        return mgc_errorf(e, "mesh run: no mesh or no device function");
    pthread_mutex_lock(&m->mu);
    if (m->busy) {
        pthread_mutex_unlock(&m->mu);
        return mgc_errorf(e, "mesh run: the mesh is already running (nested or concurrent "
                             "rt_mesh_run)");
    }
    m->busy = 1;
    m->fn = fn;
    m->arg = arg;
    pthread_mutex_unlock(&m->mu);

    rt_comm_reset(m->comm);
    if (m->local >= 0) {
        run_device(m, m->local);
    } else if (m->n_devices == 1) {
        run_device(m, 0);
    } else {
        pthread_mutex_lock(&m->mu);
        m->pending = m->n_devices;
        m->run_gen++;
        pthread_cond_broadcast(&m->start_cv);
        while (m->pending > 0)
            pthread_cond_wait(&m->done_cv, &m->mu);
        pthread_mutex_unlock(&m->mu);
    }

    /* The root cause: the lowest device that failed on its own account. */
    int bad = -1;
    for (int d = 0; d < m->n_devices && bad < 0; d++)
        if (m->rc[d] && !m->ctx[d].peer_failed)
            bad = d;
    for (int d = 0; d < m->n_devices && bad < 0; d++)
        if (m->rc[d])
            bad = d;

    pthread_mutex_lock(&m->mu);
    m->busy = 0;
    pthread_mutex_unlock(&m->mu);

    if (bad < 0)
        return 0;
    if (e) {
        *e = m->errs[bad];
        mgc_error_prefix(e, "device %d", bad);
    }
    return -1;
}

int rt_mesh_n_devices(const rt_mesh *m)
{
    return m ? m->n_devices : 0;
}

int rt_mesh_n_cores(const rt_mesh *m)
{
    return m ? m->n_tokens : 0;
}

rt_comm *rt_mesh_comm(rt_mesh *m)
{
    return m ? m->comm : NULL;
}

const char *rt_mesh_device_error(const rt_mesh *m, int device)
{
    if (!m || device < 0 || device >= m->n_devices)
        return "";
    return m->errs[device].msg;
}
