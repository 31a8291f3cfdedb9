/* rt_pool: a device's workers for its matmuls (see kernels.h).
 *
 * One job at a time.  The job's tasks are claimed through one 64-bit
 * counter, `claim` = generation << 32 | next task index: a thread claims a
 * task by a compare-and-swap that also checks the generation, so a worker
 * that wakes late (this host is shared: a worker may wait a whole time slice
 * for a core) can never claim a task of a job that is over, and the caller
 * waits only for the tasks to be done, never for a late worker to show up:
 * it runs every task itself if need be.  The job description lives in one
 * of two slots (generation parity), so publishing job g+1 never overwrites
 * the slot a late worker of job g may still read.  Which thread runs which
 * task varies from run to run, so kernels give each task disjoint outputs
 * computed in a fixed order: results never depend on the thread count or
 * the schedule.
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

typedef void (*task_fn)(void *arg, int task, int thread);

typedef struct job {
    _Atomic(task_fn) fn;
    _Atomic(void *) arg;
    _Atomic int ntasks;
} job;

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
    job jobs[2];  /* job g in jobs[g & 1] */
    _Atomic uint64_t claim;
    _Atomic int done; /* tasks of the current job finished */
};

static unsigned gen_of(uint64_t c)
{
    return (unsigned)(c >> 32);
}

/* Claims and runs tasks of job g until it has none left (or is over). */
static void run_job(rt_pool *p, unsigned g, int thread)
{
    job *j = &p->jobs[g & 1];
    uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if (gen_of(c) != g)
            return;
        /* read before the CAS: if it succeeds, job g was still open, so its
         * slot had not been reused (that needs job g+1 published first) */
        task_fn fn = atomic_load_explicit(&j->fn, memory_order_relaxed);
        void *arg = atomic_load_explicit(&j->arg, memory_order_relaxed);
        int nt = atomic_load_explicit(&j->ntasks, memory_order_relaxed);
        int idx = (int)(uint32_t)c;
        if (idx >= nt)
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acquire,
                                                   memory_order_acquire))
            continue; /* c reloaded */
        fn(arg, idx, thread);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        c = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static void *worker(void *arg)
{
    rt_pool *p = ((worker_arg *)arg)->p;
    const int thread = ((worker_arg *)arg)->thread;
    unsigned seen = gen_of(atomic_load_explicit(&p->claim, memory_order_acquire));
    for (;;) {
        unsigned g = seen;
        for (int i = 0; i < SPIN_ROUNDS && g == seen; i++) {
            CPU_RELAX();
            g = gen_of(atomic_load_explicit(&p->claim, memory_order_acquire));
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (!p->quit && (g = gen_of(atomic_load_explicit(&p->claim, memory_order_acquire))) == seen)
                pthread_cond_wait(&p->cv, &p->mu);
            p->sleepers--;
            int quit = p->quit;
            pthread_mutex_unlock(&p->mu);
            if (quit)
                return NULL;
        }
        seen = g;
        run_job(p, g, thread);
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
    unsigned g = gen_of(atomic_load_explicit(&p->claim, memory_order_relaxed)) + 1;
    job *j = &p->jobs[g & 1];
    atomic_store_explicit(&j->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&j->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&j->ntasks, ntasks, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->claim, (uint64_t)g << 32, memory_order_release);
    if (p->sleepers)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_job(p, g, 0);
    /* only tasks a worker has claimed and not finished are left */
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) < ntasks; i++) {
        if (i < SPIN_ROUNDS)
            CPU_RELAX();
        else
            sched_yield();
    }
}
