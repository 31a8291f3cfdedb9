/* compile.c: the compiler pipeline, stage after stage (see compile.h). */
#include "compile.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "elab.h"
#include "lower.h"
#include "memplan.h"
#include "pad.h"
#include "program.h"
#include "shard.h"
#include "system.h"

void mgc_compile_opts_init(mgc_compile_opts *o)
{
    memset(o, 0, sizeof *o);
    o->weights_dtype = -1;
    o->act_dtype = -1;
}

static mgc_span file_span(const char *path)
{
    return (mgc_span){.file = path, .line = 0, .col = 0};
}

static mgc_span model_span(const mgc_program *prog)
{
    const mgc_ast_file *root = prog->root;
    for (size_t i = 0; root && i < root->nstmts; i++)
        if (root->stmts[i]->kind == MGC_ST_MODEL)
            return root->stmts[i]->span;
    return (mgc_span){.file = root ? root->path : NULL, .line = 1, .col = 1, .end_line = 1, .end_col = 2};
}

static int has_forward(const mgc_program *prog)
{
    const mgc_ast_file *root = prog->root;
    for (size_t i = 0; root && i < root->nstmts; i++)
        if (root->stmts[i]->kind == MGC_ST_FORWARD)
            return 1;
    return 0;
}

int mgc_compile(const mgc_compile_opts *o, mgc_diags *d, mgc_ir *ir_out, mgc_plan *plan_out)
{
    int rc = -1;
    mgc_program *prog = mgc_program_load(o->spec_path, d);
    mgc_config *cfg = NULL;
    mgc_ir ir;
    memset(&ir, 0, sizeof ir);
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);
    if (!prog || d->nerrors || mgc_check_program(prog, d) != 0 || d->nerrors)
        goto out;

    if (!has_forward(prog)) {
        /* a library (lets and defs): say so rather than ask for a system */
        mgc_span sp = {.file = prog->root ? prog->root->path : o->spec_path, .line = 1, .col = 1, .end_line = 1,
                       .end_col = 2};
        mgc_error_at(d, sp, "no forward(tokens) { ... } in this spec: nothing to compile");
        mgc_diag_hint(d, "a file with only defs and lets is a library; compile the bringup that imports it");
        goto out;
    }
    mgc_error err = {{0}};
    if (mgc_config_load(o->config_path, &cfg, &err) != 0) {
        mgc_diag(d, MGC_ERROR, (mgc_span){0}, "%s", err.msg);
        goto out;
    }
    const char *sysname = o->system ? o->system : mgc_spec_system(prog);
    if (!sysname) {
        mgc_error_at(d, model_span(prog), "the spec names no system ('model \"org/name\" on SYSTEM') and none was given");
        goto out;
    }
    mgc_system sys;
    if (mgc_system_find(sysname, o->systems_dir ? o->systems_dir : MGC_SYSTEMS_DIR, &sys, &err) != 0) {
        mgc_diag(d, MGC_ERROR, o->system ? (mgc_span){0} : model_span(prog), "%s", err.msg);
        goto out;
    }
    mgc_elab_in in = {
        .prog = prog,
        .cfg = cfg,
        .ndevices = sys.mesh_rows * sys.mesh_cols,
        .system = sys.name,
        .tensors = o->tensors,
        .weights_dtype = o->weights_dtype,
        .act_dtype = o->act_dtype,
        .max_seq_len = o->max_seq_len,
        .batch = o->batch,
    };
    if (mgc_elaborate(&in, d, &ir) != 0)
        goto out;
    if (mgc_shard(&ir, d) != 0)
        goto out;
    if (mgc_pad(&ir, sys.tile, d) != 0)
        goto out;
    if (o->tensors) {
        /* checkpoint tensors the spec never binds: worth a warning (a typo in
         * a name template shows up here as an unused tensor) */
        size_t n = o->tensors->count(o->tensors->ctx), unused = 0;
        const char *first = NULL;
        for (size_t i = 0; i < n; i++) {
            const char *name = o->tensors->name_at(o->tensors->ctx, i);
            int used = 0;
            for (size_t w = 0; w < ir.nweights && !used; w++)
                used = strcmp(ir.weights[w].hf_name, name) == 0;
            if (!used) {
                if (!first)
                    first = name;
                unused++;
            }
        }
        if (unused)
            mgc_warn_at(d, file_span(o->tensors->label), "%zu checkpoint tensor%s never used by the spec (first: '%s')",
                        unused, unused == 1 ? " is" : "s are", first);
    }
    mgc_lower_opts lo = {
        .spec = o->spec_path,
        .mesh = {sys.mesh_rows, sys.mesh_cols},
        .topology = mgc_topology_name(sys.topology),
        .dram_bytes = (uint64_t)sys.dram_bytes,
        .tile = sys.tile,
    };
    if (mgc_lower(&ir, &lo, &plan) != 0) {
        mgc_error_at(d, model_span(prog), "internal error: lowering failed");
        goto out;
    }
    uint64_t usable = (uint64_t)mgc_system_dram_usable(&sys);
    if (mgc_memplan(&plan, (uint64_t)sys.dram_bytes - usable, d, model_span(prog)) != 0)
        goto out;
    if (mgc_plan_validate(&plan, &err) != 0) {
        mgc_error_at(d, model_span(prog), "internal error: the compiled plan is inconsistent: %s", err.msg);
        goto out;
    }
    rc = 0;
out:
    mgc_ir_own_spans(&ir);
    if (rc == 0 && ir_out) {
        *ir_out = ir;
        memset(&ir, 0, sizeof ir);
    }
    if (rc == 0 && plan_out) {
        *plan_out = plan;
        memset(&plan, 0, sizeof plan);
    }
    mgc_ir_free(&ir);
    mgc_plan_free(&plan);
    mgc_config_free(cfg);
    mgc_program_free(prog);
    return rc;
}
