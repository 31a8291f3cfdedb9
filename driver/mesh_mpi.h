/* mesh_mpi.h: `--mesh local|mpi` of mgc run and mgc eval.
 *
 * Under `mpirun -np N mgc run|eval PLAN ... --mesh mpi` every rank calls
 * mgc_mesh_mpi_start before reading any prompt or reference.  It starts MPI
 * and checks that the job has as many ranks as the plan has devices (if not,
 * rank 0 says so and every rank exits 1 cleanly).  Rank 0 then returns -1 and
 * goes on with the command (prompt, tokenizer, sampling, printing), loading
 * its engine with rt_engine_opts.mpi; every other rank loads its own device of
 * the plan, serves rank 0's engine calls until rank 0 is done, and gets back
 * the exit status of the command.  Any failure on any rank ends the job (see
 * ccl_mpi.h). */
#ifndef MGC_MESH_MPI_H
#define MGC_MESH_MPI_H

/* `--mesh`: "local" -> 0, "mpi" -> 1; anything else -1 after printing
 * "mgc CMD: ..." to stderr. */
int mgc_mesh_parse(const char *cmd, const char *s);

/* `--cores N`: the cores this process's devices may use (in process: shared by
 * the devices; an MPI rank: its device's worker threads, 1 by default).
 * Returns N in [1, MGC_CORES_MAX], or -1 after printing "mgc CMD: ..." to
 * stderr. */
#define MGC_CORES_MAX 1024
int mgc_cores_parse(const char *cmd, const char *s);

/* Returns -1 on rank 0 (go on), else the exit status of this process.
 * n_cores: as --cores (0: the default). */
int mgc_mesh_mpi_start(const char *cmd, const char *plan_path, const char *model_dir, int n_cores);

#endif
