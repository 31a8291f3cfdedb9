/* ccl: collective communication between the devices of a mesh.
 *
 * Every device of a mesh runs the same program (SPMD) and calls the same
 * collectives in the same order with the same sizes.  A collective is called
 * by each device with its *own* buffers: its input and its output, sizes in
 * elements (f32).  Nothing in this interface assumes the devices share memory,
 * so the same calls are also served by the MPI backend (ccl_mpi.c: one process per
 * device, possibly many machines); the in-process backend (ccl_threads.c)
 * serves the devices of one rt_mesh running as threads.
 *
 *   rt_all_reduce_sum  buf[i] <- sum over devices d = 0,1,...,N-1 of buf_d[i],
 *                      added in that order in f32, so the result is bit-identical
 *                      on every device and independent of thread timing.
 *   rt_all_gather      out = in_0 | in_1 | ... | in_{N-1}  (N * n elements);
 *                      `in` may be out + device*n (in place), no other overlap.
 *   rt_broadcast       buf <- buf of device `root`.
 *   rt_barrier         returns once every device has entered it.
 *
 * Errors: a collective returns 0 or -1 with a message.  When another device
 * fails (its function returns -1) while this one waits in a collective, the
 * collective returns -1 with "aborted: device D failed" instead of hanging.
 * Mismatched calls (different collectives or sizes on different devices) fail
 * on every device with a message naming both calls.
 *
 * Cores: a device that waits for its peers gives up its core while it waits
 * (see rt_device_idle_begin/end and mesh.h), so eight devices can share two
 * cores without deadlock. */
#ifndef RT_CCL_H
#define RT_CCL_H

#include <stddef.h>

#include "mgc_error.h"

typedef struct rt_comm rt_comm;
typedef struct rt_device_ctx rt_device_ctx;

/* What a device's function gets: who it is, its communicator and where its
 * error goes.  Filled by the mesh; the fields below "private" belong to the
 * mesh and the communicator. */
struct rt_device_ctx {
    int device;     /* this device's index, 0 .. n_devices-1 */
    int n_devices;  /* devices in the mesh */
    rt_comm *comm;  /* the communicator the collectives below use */
    mgc_error *err; /* this device's own error (the mesh prefixes "device D: ") */

    /* private */
    void (*idle_begin)(rt_device_ctx *ctx); /* give up the core (may be NULL) */
    void (*idle_end)(rt_device_ctx *ctx);   /* take a core back (may be NULL) */
    void *owner;                            /* the mesh's data for the two hooks */
    int peer_failed; /* set when a collective failed because of another device */
};

/* ---- collectives (called by every device of the mesh) ------------------- */

int rt_all_reduce_sum(rt_device_ctx *ctx, float *buf, size_t n, mgc_error *e);
int rt_all_gather(rt_device_ctx *ctx, const float *in, size_t n_per_device, float *out,
                  mgc_error *e);
int rt_broadcast(rt_device_ctx *ctx, float *buf, size_t n, int root, mgc_error *e);
int rt_barrier(rt_device_ctx *ctx, mgc_error *e);

/* A device about to block on something other than a collective (a file, a
 * queue) can give up its core for the duration.  Calls must pair up. */
void rt_device_idle_begin(rt_device_ctx *ctx);
void rt_device_idle_end(rt_device_ctx *ctx);

/* ---- communicators --------------------------------------------------------- */

/* The in-process backend for n_devices (1..64) threads of one process.  It
 * keeps no per-call heap memory: the devices' own buffers are read and written
 * directly. */
rt_comm *rt_comm_threads_create(int n_devices, mgc_error *e);

int rt_comm_size(const rt_comm *comm);
const char *rt_comm_backend_name(const rt_comm *comm);

/* Used by whoever runs the devices (the mesh):
 *   rt_comm_abort        device `device` failed: every collective waiting for it,
 *                        and every later one, returns -1 ("aborted: device D
 *                        failed").  The first abort wins.
 *   rt_comm_device_done  device `device` returned normally: a collective that
 *                        still waits for it can never complete and is aborted.
 *   rt_comm_reset        forget aborts and finished devices before a new run
 *                        (no device may be inside a collective). */
void rt_comm_abort(rt_comm *comm, int device);
void rt_comm_device_done(rt_comm *comm, int device);
void rt_comm_reset(rt_comm *comm);
void rt_comm_destroy(rt_comm *comm);

/* ---- backend interface ------------------------------------------------------
 * A backend embeds rt_comm as its first member and fills in the ops.  The
 * front end (ccl.c) checks arguments before calling them; the ops get the
 * calling device's context (its index is ctx->device) and its own buffers. */
typedef struct rt_comm_ops {
    const char *name;
    int (*all_reduce_sum)(rt_comm *c, rt_device_ctx *ctx, float *buf, size_t n, mgc_error *e);
    int (*all_gather)(rt_comm *c, rt_device_ctx *ctx, const float *in, size_t n, float *out,
                      mgc_error *e);
    int (*broadcast)(rt_comm *c, rt_device_ctx *ctx, float *buf, size_t n, int root,
                     mgc_error *e);
    int (*barrier)(rt_comm *c, rt_device_ctx *ctx, mgc_error *e);
    void (*abort)(rt_comm *c, int device);
    void (*device_done)(rt_comm *c, int device);
    void (*reset)(rt_comm *c);
    void (*destroy)(rt_comm *c);
} rt_comm_ops;

struct rt_comm {
    const rt_comm_ops *ops;
    int n_devices;
};

#endif
