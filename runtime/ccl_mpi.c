/* The MPI backend of ccl.h: one mesh device per process, rank r = device r.
 *
 * all_reduce_sum keeps the in-process backend's order exactly.  MPI_Allreduce
 * is not used: MPI leaves the order (and tree shape) of its sums to the
 * implementation, so its f32 result can differ from ccl_threads.c in the last
 * bits.  Instead the buffer is cut into N chunks as ccl_threads.c cuts it
 * (chunk d = elements [n*d/N, n*(d+1)/N)); an MPI_Alltoallv hands chunk d of
 * every rank to rank d, which adds the N copies in device order 0,1,...,N-1
 * (acc = x_0; acc += x_1; ... the very sequence of f32 additions of
 * reduce_range in ccl_threads.c), and an MPI_Allgatherv returns every summed
 * chunk to every rank.  Same additions, same order: bit-identical logits.  It
 * is also the bandwidth of a ring all-reduce: 2 (N-1)/N n values per rank.
 *
 * all_gather is MPI_Allgather, broadcast MPI_Bcast, barrier MPI_Barrier: they
 * only move data, so their results do not depend on the implementation.
 *
 * A failed device cannot be waited for: abort prints the cause and calls
 * MPI_Abort, which ends every rank (see ccl_mpi.h). */
#include "ccl_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MGC_HAVE_MPI
#include <mpi.h>
#include <sys/resource.h>

static int g_active, g_rank, g_size;
static uint64_t g_bytes_sent;

int rt_mpi_compiled_in(void) { return 1; }

/* OpenMPI's (and PMIx's) launchers set these in every rank's environment. */
static int under_launcher(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int rt_mpi_init(int *rank, int *size, mgc_error *e)
{
    if (!g_active) {
        if (!under_launcher())
            return mgc_errorf(e, "--mesh mpi: this process was not started by mpirun "
                                 "(run: mpirun -np N mgc ... --mesh mpi, N = the plan's devices)");
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return mgc_errorf(e, "--mesh mpi: MPI_Init failed");
        MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &g_size);
        g_active = 1;
    }
    *rank = g_rank;
    *size = g_size;
    return 0;
}

int rt_mpi_active(void) { return g_active; }
int rt_mpi_rank(void) { return g_rank; }
int rt_mpi_size(void) { return g_size; }

void rt_mpi_finalize(void)
{
    if (!g_active)
        return;
    /* for the benchmark: what this rank moved and its peak memory */
    if (getenv("MGC_MPI_STATS")) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "mgc: rank %d: collectives sent %llu bytes, peak RSS %ld KiB\n", g_rank,
                (unsigned long long)g_bytes_sent, ru.ru_maxrss);
    }
    MPI_Finalize();
    g_active = 0;
}

_Noreturn void rt_mpi_abort(const char *msg, int code)
{
    if (msg && *msg)
        fprintf(stderr, "mgc: rank %d: %s\n", g_rank, msg);
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code ? code : 1); /* not reached */
}

void rt_mpi_exit(int rc)
{
    if (!g_active)
        return;
    if (rc == 0)
        rt_mpi_finalize();
    else
        rt_mpi_abort(NULL, rc);
}

int rt_mpi_bcast_bytes(void *buf, size_t n, int root, mgc_error *e)
{
    if (n > (size_t)0x7fffffff)
        return mgc_errorf(e, "MPI broadcast of %zu bytes is too large", n);
    if (MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
        return mgc_errorf(e, "MPI_Bcast failed");
    if (g_rank == root)
        g_bytes_sent += (uint64_t)n * (uint64_t)(g_size - 1);
    return 0;
}

uint64_t rt_mpi_bytes_sent(void) { return g_bytes_sent; }

/* ---- the communicator --------------------------------------------------------- */

typedef struct mpi_comm {
    rt_comm base;
    const mgc_error *local_err;
    float *stage; /* all_reduce: the N copies of this rank's chunk */
    size_t stage_cap;
    int *counts, *displs, *rcounts, *rdispls; /* [N] each */
} mpi_comm;

static size_t chunk_lo(size_t n, int d, int nd) { return n * (size_t)d / (size_t)nd; }

static int too_big(size_t n, mgc_error *e)
{
    if (n > (size_t)0x7fffffff)
        return mgc_errorf(e, "MPI collective of %zu elements is too large (limit 2^31-1)", n);
    return 0;
}

static int mpi_all_reduce(rt_comm *base, rt_device_ctx *ctx, float *buf, size_t n, mgc_error *e)
{
    mpi_comm *c = (mpi_comm *)base;
    int nd = base->n_devices, me = ctx->device;
    if (nd == 1 || n == 0)
        return 0;
    if (too_big(n, e))
        return -1;
    size_t lo = chunk_lo(n, me, nd), hi = chunk_lo(n, me + 1, nd), mine = hi - lo;
    if (mine * (size_t)nd > c->stage_cap) {
        float *s = realloc(c->stage, sizeof(float) * mine * (size_t)nd);
        if (!s)
            return mgc_errorf(e, "all_reduce_sum: out of memory for %zu elements", mine * (size_t)nd);
        c->stage = s;
        c->stage_cap = mine * (size_t)nd;
    }
    for (int d = 0; d < nd; d++) {
        size_t dlo = chunk_lo(n, d, nd), dhi = chunk_lo(n, d + 1, nd);
        c->counts[d] = (int)(dhi - dlo); /* chunk d of my buffer goes to rank d */
        c->displs[d] = (int)dlo;
        c->rcounts[d] = (int)mine; /* my chunk of rank d's buffer */
        c->rdispls[d] = (int)(mine * (size_t)d);
    }
    if (MPI_Alltoallv(buf, c->counts, c->displs, MPI_FLOAT, c->stage, c->rcounts, c->rdispls, MPI_FLOAT,
                      MPI_COMM_WORLD) != MPI_SUCCESS)
        return mgc_errorf(e, "all_reduce_sum: MPI_Alltoallv failed");
    /* device order, as reduce_range in ccl_threads.c */
    float *acc = buf + lo;
    memcpy(acc, c->stage, sizeof(float) * mine);
    for (int d = 1; d < nd; d++) {
        const float *src = c->stage + mine * (size_t)d;
        for (size_t j = 0; j < mine; j++)
            acc[j] += src[j];
    }
    if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c->counts, c->displs, MPI_FLOAT, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
        return mgc_errorf(e, "all_reduce_sum: MPI_Allgatherv failed");
    g_bytes_sent += sizeof(float) * ((n - mine) + mine * (size_t)(nd - 1));
    return 0;
}

static int mpi_all_gather(rt_comm *base, rt_device_ctx *ctx, const float *in, size_t n, float *out, mgc_error *e)
{
    int nd = base->n_devices;
    if (too_big(n * (size_t)nd, e))
        return -1;
    int rc;
    if (in == out + (size_t)ctx->device * n)
        rc = MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, (int)n, MPI_FLOAT, MPI_COMM_WORLD);
    else
        rc = MPI_Allgather(in, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mgc_errorf(e, "all_gather: MPI_Allgather failed");
    g_bytes_sent += sizeof(float) * n * (size_t)(nd - 1);
    return 0;
}

static int mpi_broadcast(rt_comm *base, rt_device_ctx *ctx, float *buf, size_t n, int root, mgc_error *e)
{
    if (too_big(n, e))
        return -1;
    if (MPI_Bcast(buf, (int)n, MPI_FLOAT, root, MPI_COMM_WORLD) != MPI_SUCCESS)
        return mgc_errorf(e, "broadcast: MPI_Bcast failed");
    if (ctx->device == root)
        g_bytes_sent += sizeof(float) * n * (size_t)(base->n_devices - 1);
    return 0;
}

static int mpi_barrier(rt_comm *base, rt_device_ctx *ctx, mgc_error *e)
{
    if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS)
        return mgc_errorf(e, "barrier: MPI_Barrier failed");
    return 0;
}

/* This rank's device failed: its peers may already wait for it inside MPI. */
static void mpi_abort(rt_comm *base, int device)
{
    mpi_comm *c = (mpi_comm *)base;
    char msg[1200];
    snprintf(msg, sizeof msg, "device %d failed: %s", device,
             c->local_err && c->local_err->msg[0] ? c->local_err->msg : "no message");
    rt_mpi_abort(msg, 1);
}

static void mpi_device_done(rt_comm *base, int device) {}
static void mpi_reset(rt_comm *base) {}

static void mpi_destroy(rt_comm *base)
{
    mpi_comm *c = (mpi_comm *)base;
    free(c->stage);
    free(c->counts);
    free(c);
}

static const rt_comm_ops mpi_ops = {
    .name = "mpi",
    .all_reduce_sum = mpi_all_reduce,
    .all_gather = mpi_all_gather,
    .broadcast = mpi_broadcast,
    .barrier = mpi_barrier,
    .abort = mpi_abort,
    .device_done = mpi_device_done,
    .reset = mpi_reset,
    .destroy = mpi_destroy,
};

rt_comm *rt_comm_mpi_create(const mgc_error *local_err, mgc_error *e)
{
    if (!g_active) {
        mgc_errorf(e, "MPI communicator: MPI is not started (--mesh mpi under mpirun)");
        return NULL;
    }
    mpi_comm *c = calloc(1, sizeof *c);
    int *ints = calloc(4 * (size_t)g_size, sizeof(int));
    if (!c || !ints) {
        free(c);
        free(ints);
        mgc_errorf(e, "MPI communicator: out of memory");
        return NULL;
    }
    c->base.ops = &mpi_ops;
    c->base.n_devices = g_size;
    c->local_err = local_err;
    c->counts = ints;
    c->displs = ints + g_size;
    c->rcounts = ints + 2 * g_size;
    c->rdispls = ints + 3 * g_size;
    return &c->base;
}

#else /* built without MPI */

#define NO_MPI "--mesh mpi: this mgc was built without MPI (install OpenMPI: scripts/setup.sh, then rebuild)"

int rt_mpi_compiled_in(void) { return 0; }
int rt_mpi_init(int *rank, int *size, mgc_error *e)
{
    *rank = 0;
    *size = 1;
    return mgc_errorf(e, NO_MPI);
}
int rt_mpi_active(void) { return 0; }
int rt_mpi_rank(void) { return 0; }
int rt_mpi_size(void) { return 1; }
void rt_mpi_finalize(void) {}
_Noreturn void rt_mpi_abort(const char *msg, int code)
{
    if (msg && *msg)
        fprintf(stderr, "mgc: %s\n", msg);
    exit(code ? code : 1);
}
void rt_mpi_exit(int rc) {}
int rt_mpi_bcast_bytes(void *buf, size_t n, int root, mgc_error *e) { return mgc_errorf(e, NO_MPI); }
rt_comm *rt_comm_mpi_create(const mgc_error *local_err, mgc_error *e)
{
    mgc_errorf(e, NO_MPI);
    return NULL;
}
uint64_t rt_mpi_bytes_sent(void) { return 0; }

#endif
