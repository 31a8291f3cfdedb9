/* model.c: a plan loaded onto a mesh with its checkpoint; prefill and decode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_internal.h"
#include "ccl_mpi.h"

MGC_API void mgc_model_options_init(mgc_model_options *o)
{
    if (o) {
        memset(o, 0, sizeof *o);
        o->mesh = "local";
    }
}

/* The MPI mesh (mesh "mpi"): every rank of the job calls mgc_model_load.  MPI
 * is started and the rank count checked against the plan's devices (a
 * mismatch is the same error on every rank).  Rank r > 0 then loads device r,
 * serves rank 0's engine calls until rank 0 destroys its model, and ends the
 * process (exit status 0; a failure anywhere ends the whole job, ccl_mpi.h):
 * a library call that does not return is unusual, but the program a user
 * starts under mpirun is rank 0's, and the other ranks have nothing of theirs
 * to go back to.  Rank 0 returns MGC_OK and goes on. */
static mgc_code mpi_start(const mgc_plan_t *plan, const char *model_dir, const mgc_model_options *o, mgc_status *st)
{
    if (!rt_mpi_compiled_in())
        return api_failf(st, MGC_ERR_UNSUPPORTED, "mesh 'mpi': this build of mgc has no MPI backend (use 'local')");
    mgc_error err = {{0}};
    int rank = 0, size = 1;
    if (!rt_mpi_active() && rt_mpi_init(&rank, &size, &err) != 0)
        return api_fail(st, MGC_ERR_INPUT, &err);
    rank = rt_mpi_rank();
    size = rt_mpi_size();
    int ndev = plan->plan.ndevices;
    if (ndev != size)
        return api_failf(st, MGC_ERR_INPUT,
                         "mesh 'mpi': the plan has %d device%s (system %s) but the job has %d rank%s: run mpirun -np %d",
                         ndev, ndev == 1 ? "" : "s", plan->plan.system, size, size == 1 ? "" : "s", ndev);
    if (rank == 0)
        return MGC_OK;
    rt_engine *en = NULL;
    rt_engine_opts eo = {.mpi = 1, .n_cores = o->n_cores};
    if (rt_engine_load(&plan->plan, model_dir, &eo, &en, &err) != 0 || rt_engine_serve(en, &err) != 0)
        rt_mpi_abort(err.msg, 1); /* "mgc: rank R: cause", and the job ends */
    rt_engine_free(en);
    rt_mpi_finalize();
    exit(0);
}

MGC_API mgc_code mgc_model_load(const mgc_plan_t *plan, const char *model_dir, const mgc_model_options *o,
                                mgc_model_t **out, mgc_status *st)
{
    if (!plan || !model_dir || !out)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_model_load: plan, model_dir and out must not be NULL");
    *out = NULL;
    mgc_model_options defaults;
    mgc_model_options_init(&defaults);
    if (!o)
        o = &defaults;
    const char *mesh = o->mesh ? o->mesh : "local";
    int mpi = strcmp(mesh, "mpi") == 0;
    if (!mpi && strcmp(mesh, "local") != 0)
        return api_failf(st, MGC_ERR_ARGUMENT, "unknown mesh '%s' (expected 'local' or 'mpi')", mesh);
    if (o->n_cores < 0)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_model_load: n_cores must not be negative");
    if (mpi) {
        mgc_code c = mpi_start(plan, model_dir, o, st);
        if (c != MGC_OK)
            return c;
    }
    mgc_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return api_failf(st, MGC_ERR_NOMEM, "out of memory");
    /* the engine reads the plan for as long as it lives */
    m->plan = (mgc_plan_t *)plan;
    api_plan_retain(m->plan);
    mgc_error err = {{0}};
    rt_engine_opts eo = {.n_cores = o->n_cores, .progress = o->progress, .mpi = mpi};
    m->mpi = mpi;
    if (ev_eos_ids(model_dir, m->eos, &m->neos, &err) != 0 ||
        rt_engine_load(&m->plan->plan, model_dir, &eo, &m->en, &err) != 0) {
        mgc_model_destroy(m);
        return api_fail(st, MGC_ERR_INPUT, &err);
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/tokenizer.json", model_dir) < sizeof path && access(path, F_OK) == 0) {
        mgc_code c = mgc_tokenizer_load(path, &m->tok, st);
        if (c != MGC_OK) {
            mgc_model_destroy(m);
            return c;
        }
    }
    *out = m;
    return api_ok(st);
}

MGC_API void mgc_model_destroy(mgc_model_t *m)
{
    if (!m)
        return;
    rt_engine_free(m->en); /* an MPI mesh: this releases the serving ranks */
    if (m->mpi && rt_mpi_active())
        rt_mpi_finalize();
    mgc_tokenizer_destroy(m->tok);
    mgc_plan_destroy(m->plan);
    free(m);
}

MGC_API const mgc_plan_t *mgc_model_plan(const mgc_model_t *m)
{
    return m ? m->plan : NULL;
}

MGC_API int64_t mgc_model_vocab(const mgc_model_t *m)
{
    return m ? rt_engine_vocab(m->en) : 0;
}

MGC_API int64_t mgc_model_max_seq_len(const mgc_model_t *m)
{
    return m ? rt_engine_max_seq(m->en) : 0;
}

MGC_API int64_t mgc_model_max_users(const mgc_model_t *m)
{
    return m ? rt_engine_max_users(m->en) : 0;
}

MGC_API int mgc_model_eos_ids(const mgc_model_t *m, int32_t *ids, int cap)
{
    if (!m)
        return 0;
    for (int i = 0; ids && i < m->neos && i < cap; i++)
        ids[i] = m->eos[i];
    return m->neos;
}

MGC_API const mgc_tokenizer_t *mgc_model_tokenizer(const mgc_model_t *m)
{
    return m ? m->tok : NULL;
}

MGC_API mgc_code mgc_model_prefill(mgc_model_t *m, int user, const int32_t *tokens, int n, int start,
                                   float *logits, mgc_status *st)
{
    if (!m || !tokens || n < 1 || start < 0)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_model_prefill: needs a model and at least one token at a "
                                               "non-negative start");
    if (user < 0 || user >= rt_engine_max_users(m->en))
        return api_failf(st, MGC_ERR_ARGUMENT, "user %d is outside the plan's %lld users", user,
                         (long long)rt_engine_max_users(m->en));
    if ((int64_t)start + n > rt_engine_max_seq(m->en))
        return api_failf(st, MGC_ERR_ARGUMENT, "%d tokens from position %d exceed the plan's maximum sequence of %lld",
                         n, start, (long long)rt_engine_max_seq(m->en));
    int64_t vocab = rt_engine_vocab(m->en);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return api_failf(st, MGC_ERR_ARGUMENT, "token %d (at %d) is outside the vocabulary of %lld", tokens[i], i,
                             (long long)vocab);
    mgc_error err = {{0}};
    if (rt_engine_prefill(m->en, user, tokens, n, start, logits, &err) != 0)
        return api_fail(st, MGC_ERR_INPUT, &err);
    return api_ok(st);
}

MGC_API mgc_code mgc_model_decode(mgc_model_t *m, int batch, const int *users, const int32_t *tokens,
                                  const int32_t *positions, float *logits, mgc_status *st)
{
    if (!m || !users || !tokens || !positions)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_model_decode: model, users, tokens and positions must not be NULL");
    mgc_error err = {{0}};
    /* the engine checks users, positions and tokens itself */
    if (rt_engine_decode(m->en, batch, users, tokens, positions, logits, &err) != 0)
        return api_fail(st, MGC_ERR_ARGUMENT, &err);
    return api_ok(st);
}
