/* rt_pool: a device's workers for its GEMV/GEMM (see kernels.h).
 *
 * One job at a time: the caller publishes (fn, arg, ntasks), bumps the
 * generation, and every thread (the caller included) claims task indices
 * from one atomic counter until none are left; the caller then waits until
 * every worker has left the job.  Which thread runs which task varies from
 * run to run, so kernels give each task disjoint outputs computed in a fixed
 * order: results never depend on the thread count or the schedule.
 *
 * Decode issues a few hundred short jobs per token, so an idle worker spins
 * for a while (SPIN_ROUNDS pauses, some tens of microseconds) before it
 * sleeps on a condition variable; a job wakes sleepers only when there are
 * any. */
#include "kernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_ROUNDS 20000

typedef struct worker_arg {
    struct rt_pool *p;
    int thread; /* 1..nworkers; the caller of rt_pool_run is 0 */
} worker_arg;

struct rt_pool {
    int nworkers;
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sleepers; /* under mu */
    int quit;     /* under mu */
    _Atomic unsigned gen;
    /* the current job */
    void (*fn)(void *arg, int task, int thread);
    void *arg;
    int ntasks;
    _Atomic int next;
    _Atomic int busy; /* workers still inside the current job */
};

static void run_tasks(rt_pool *p, int thread)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->ntasks)
            return;
        p->fn(p->arg, t, thread);
    }
}


static void *worker(void *arg)
{
    rt_pool *p = ((worker_arg *)arg)->p;
    const int thread = ((worker_arg *)arg)->thread;
    unsigned seen = atomic_load_explicit(&p->gen, memory_order_acquire);
    for (;;) {
        unsigned g = seen;
        for (int i = 0; i < SPIN_ROUNDS && g == seen; i++) {
            CPU_RELAX();
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (!p->quit && (g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->cv, &p->mu);
            p->sleepers--;
            int quit = p->quit;
            pthread_mutex_unlock(&p->mu);
            if (quit)
                return NULL;
        }
        seen = g;
        run_tasks(p, thread);
        atomic_fetch_sub_explicit(&p->busy, 1, memory_order_release);
    }
}

rt_pool *rt_pool_create(int threads, mgc_error *e)
{
    rt_pool *p = calloc(1, sizeof *p);
    if (!p) {
        mgc_errorf(e, "out of memory for a worker pool");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    int want = threads > 1 ? threads - 1 : 0;
    p->threads = calloc((size_t)(want ? want : 1), sizeof *p->threads);
    p->args = calloc((size_t)(want ? want : 1), sizeof *p->args);
    if (!p->threads || !p->args) {
        rt_pool_free(p);
        mgc_errorf(e, "out of memory for a worker pool");
        return NULL;
    }
    for (int i = 0; i < want; i++) {
        p->args[i] = (worker_arg){p, i + 1};
        if (pthread_create(&p->threads[i], NULL, worker, &p->args[i]) != 0)
            break; /* fewer workers: slower, same results */
        p->nworkers++;
    }
    return p;
}

void rt_pool_free(rt_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    free(p->args);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int rt_pool_threads(const rt_pool *p)
{
    return p ? p->nworkers + 1 : 1;
}

void rt_pool_run(rt_pool *p, int ntasks, void (*fn)(void *arg, int task, int thread), void *arg)
{
    if (ntasks <= 0)
        return;
    if (!p || p->nworkers == 0 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++)
            fn(arg, t, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->busy, p->nworkers, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    if (p->sleepers)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    for (int i = 0; atomic_load_explicit(&p->busy, memory_order_acquire) > 0; i++) {
        if (i < SPIN_ROUNDS)
            CPU_RELAX();
        else
            sched_yield(); /* a worker was descheduled: let it run */
    }
}
