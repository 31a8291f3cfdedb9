/* mesh_mpi.c: the ranks of an MPI mesh other than rank 0.  See mesh_mpi.h. */
#include "mesh_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccl_mpi.h"
#include "commands.h"
#include "engine.h"
#include "plan.h"

int mgc_mesh_parse(const char *cmd, const char *s)
{
    if (strcmp(s, "local") == 0)
        return 0;
    if (strcmp(s, "mpi") == 0)
        return 1;
    fprintf(stderr, "mgc %s: --mesh takes local or mpi, not '%s'\n", cmd, s);
    return -1;
}

int mgc_cores_parse(const char *cmd, const char *s)
{
    char *end = NULL;
    long n = strtol(s, &end, 10);
    if (!*s || *end || n < 1 || n > MGC_CORES_MAX) {
        fprintf(stderr, "mgc %s: --cores takes a whole number in [1, %d], got '%s'\n", cmd, MGC_CORES_MAX, s);
        return -1;
    }
    return (int)n;
}

int mgc_mesh_mpi_start(const char *cmd, const char *plan_path, const char *model_dir, int n_cores)
{
    mgc_error err = {{0}};
    int rank = 0, size = 1;
    if (rt_mpi_init(&rank, &size, &err) != 0) {
        fprintf(stderr, "mgc %s: %s\n", cmd, err.msg);
        return MGC_EXIT_INPUT;
    }
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);
    if (mgc_plan_read(plan_path, &plan, &err) != 0)
        rt_mpi_abort(err.msg, MGC_EXIT_INPUT);
    if (plan.ndevices != size) {
        /* every rank sees the same mismatch: rank 0 reports it, all leave cleanly */
        if (rank == 0)
            fprintf(stderr,
                    "mgc %s: %s: the plan has %d device%s (system %s) but mpirun started %d rank%s: "
                    "run mpirun -np %d\n",
                    cmd, plan_path, plan.ndevices, plan.ndevices == 1 ? "" : "s", plan.system, size,
                    size == 1 ? "" : "s", plan.ndevices);
        mgc_plan_free(&plan);
        rt_mpi_finalize();
        return MGC_EXIT_INPUT;
    }
    if (rank == 0) {
        mgc_plan_free(&plan);
        return -1;
    }
    rt_engine *en = NULL;
    rt_engine_opts eo = {.mpi = 1, .n_cores = n_cores};
    if (rt_engine_load(&plan, model_dir, &eo, &en, &err) != 0 || rt_engine_serve(en, &err) != 0)
        rt_mpi_abort(err.msg, MGC_EXIT_INPUT); /* "mgc: rank R: cause" */
    rt_engine_free(en);
    mgc_plan_free(&plan);
    rt_mpi_finalize();
    return MGC_EXIT_OK;
}
