/* ccl_mpi: the MPI backend of ccl.h, and the little process-level MPI the
 * rest of mgc needs (start, stop, abort, a broadcast of host data).
 *
 * In an MPI mesh every device is its own process: rank r of MPI_COMM_WORLD is
 * mesh device r, and the communicator serves exactly one device per process
 * (ctx->device == the rank).  MPI moves the data and does the collectives; see
 * ccl_mpi.c for how the all-reduce keeps the in-process device order.
 *
 * Failure: a device that fails inside a mesh run cannot be waited for by its
 * peers (they may already block in an MPI call), so the backend's abort prints
 * "mgc: rank R (device R): CAUSE" on stderr and calls MPI_Abort, which takes
 * every rank of the job down.
 *
 * mgc is built with the backend when OpenMPI is found at build time
 * (MGC_HAVE_MPI); without it every function here fails with a message that
 * says so (rt_mpi_compiled_in returns 0). */
#ifndef RT_CCL_MPI_H
#define RT_CCL_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "ccl.h"
#include "mgc_error.h"

int rt_mpi_compiled_in(void);

/* Starts MPI.  Fails with a clear message when the process was not started by
 * mpirun (or another MPI launcher) or when mgc was built without MPI. */
int rt_mpi_init(int *rank, int *size, mgc_error *e);
int rt_mpi_active(void); /* initialised and not finalised */
int rt_mpi_rank(void);
int rt_mpi_size(void);
/* Ends MPI on this rank.  Every rank must call it (it synchronises).  With
 * MGC_MPI_STATS set in the environment each rank first prints
 * "mgc: rank R: collectives sent B bytes, peak RSS K KiB" on stderr. */
void rt_mpi_finalize(void);
/* Ends the whole job now: prints "mgc: rank R: msg" (when msg) and MPI_Abort. */
_Noreturn void rt_mpi_abort(const char *msg, int code);
/* The exit of a command run under MPI: 0 finalises cleanly, anything else
 * aborts the job (a peer may be blocked waiting for this rank). */
void rt_mpi_exit(int rc);

/* Host data from `root` to every rank (bytes). */
int rt_mpi_bcast_bytes(void *buf, size_t n, int root, mgc_error *e);

/* The communicator of MPI_COMM_WORLD.  `local_err` is the error of this
 * rank's device (the mesh's), printed when the device fails. */
rt_comm *rt_comm_mpi_create(const mgc_error *local_err, mgc_error *e);

/* Bytes this rank has sent through the collectives so far. */
uint64_t rt_mpi_bytes_sent(void);

#endif
