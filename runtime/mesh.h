/* mesh: N simulated devices run concurrently on the host's cores.
 *
 *   rt_mesh *m = rt_mesh_create(8, 0, &err);        // t3000: 8 devices, all cores
 *   if (rt_mesh_run(m, step, &state, &err)) ...      // step() runs once per device
 *   rt_mesh_destroy(m);
 *
 * rt_mesh_run calls fn(ctx, arg) once per device, each on its own thread (a
 * persistent worker per device; a one-device mesh runs on the calling thread),
 * and returns when every device has returned.  fn learns its device index,
 * the device count and its communicator from ctx (ccl.h), reports failure by
 * returning -1 with a message in ctx->err, and talks to its peers only through
 * the collectives of ccl.h.
 *
 * Cores are not oversubscribed.  The mesh holds a pool of C "core tokens"
 * (C = the cores given, or the cores this process may run on, capped at N).
 * A device holds a token while it computes: it takes one before fn starts,
 * gives it up whenever it waits inside a collective (or between
 * rt_device_idle_begin/end), takes one back before it continues, and returns it
 * when fn returns.  So at most C devices compute at any moment; tokens are
 * granted first come, first served; and since a device only waits for peers
 * without a token, a collective cannot deadlock on the pool.  Kernels running
 * inside fn use one thread each, or a device's rt_pool when the engine gave
 * the device more than one core (cores / devices >= 2).
 *
 * Failure: when fn returns -1 on one device while others wait in a collective
 * for it, their collectives return -1 ("aborted: device D failed") and every
 * device joins.  rt_mesh_run then returns -1 with the error of the
 * lowest-numbered device that failed on its own account (not merely because a
 * peer did), prefixed "device D: "; the message of every device stays
 * readable through rt_mesh_device_error until the next run.
 *
 * A mesh runs one rt_mesh_run at a time; calling it again from inside fn, or
 * from a second thread meanwhile, fails with an error. */
#ifndef RT_MESH_H
#define RT_MESH_H

#include "ccl.h"
#include "mgc_error.h"

typedef struct rt_mesh rt_mesh;

typedef int (*rt_device_fn)(rt_device_ctx *ctx, void *arg);

/* n_devices in 1..64; n_cores <= 0 means the cores this process may use. */
rt_mesh *rt_mesh_create(int n_devices, int n_cores, mgc_error *e);
void rt_mesh_destroy(rt_mesh *m);

/* The MPI mesh: this process is one device of an n_devices mesh, the one
 * whose index is its MPI rank (rt_mpi_init first; the job must have exactly
 * n_devices ranks).  rt_mesh_run calls fn for that device only, on the calling
 * thread; its collectives go through MPI (ccl_mpi.h), and a failure ends the
 * whole job.  rt_mesh_local_device is that device, or -1 for an in-process
 * mesh (all devices here). */
rt_mesh *rt_mesh_create_mpi(int n_devices, mgc_error *e);
int rt_mesh_local_device(const rt_mesh *m);

int rt_mesh_run(rt_mesh *m, rt_device_fn fn, void *arg, mgc_error *e);

int rt_mesh_n_devices(const rt_mesh *m);
/* Core tokens: how many devices may compute at once. */
int rt_mesh_n_cores(const rt_mesh *m);
rt_comm *rt_mesh_comm(rt_mesh *m);
/* Device `device`'s own message from the last run ("" if it succeeded). */
const char *rt_mesh_device_error(const rt_mesh *m, int device);

/* The cores this process may run on (affinity mask, else online CPUs; >= 1). */
int rt_host_cores(void);

#endif
