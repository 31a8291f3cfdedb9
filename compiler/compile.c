/* compile.c: the compiler pipeline, stage after stage (see compile.h). */
#include "compile.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "config_keys.h"
#include "elab.h"
#include "lower.h"
#include "memplan.h"
#include "pad.h"
#include "program.h"
#include "shard.h"
#include "strbuf.h"
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

/* The root's `ignore` statements: weight globs and config keys. */
typedef struct ignores {
    const mgc_ast_stmt **w;
    size_t nw;
    const char **keys;
    size_t nkeys;
} ignores;

static void collect_ignores(const mgc_program *prog, ignores *ig)
{
    const mgc_ast_file *root = prog->root;
    memset(ig, 0, sizeof *ig);
    size_t n = root ? root->nstmts : 0;
    ig->w = calloc(n ? n : 1, sizeof *ig->w);
    ig->keys = calloc(n ? n : 1, sizeof *ig->keys);
    if (!ig->w || !ig->keys) {
        fprintf(stderr, "mgc: out of memory\n");
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        const mgc_ast_stmt *s = root->stmts[i];
        if (s->kind != MGC_ST_IGNORE)
            continue;
        if (s->value->kind == MGC_EX_WEIGHT)
            ig->w[ig->nw++] = s;
        else if (s->value->kind == MGC_EX_MEMBER) /* config.KEY (check.c made sure) */
            ig->keys[ig->nkeys++] = s->value->str;
    }
}

/* Every checkpoint tensor is read by the spec or matched by an `ignore
 * w"..."`: an unread tensor is a bias, a norm or a layer the spec forgot,
 * and leaving it out would run and be silently wrong. */
static int check_unread_tensors(const mgc_tensor_lookup *t, const mgc_ir *ir, const ignores *ig, mgc_diags *d)
{
    size_t n = t->count(t->ctx), unread = 0;
    enum { SHOW = 4 };
    const char *first[SHOW];
    size_t *hits = calloc(ig->nw ? ig->nw : 1, sizeof *hits);
    if (!hits) {
        fprintf(stderr, "mgc: out of memory\n");
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = t->name_at(t->ctx, i);
        int used = 0;
        for (size_t w = 0; w < ir->nweights && !used; w++)
            used = strcmp(ir->weights[w].hf_name, name) == 0;
        for (size_t k = 0; k < ig->nw; k++)
            if (fnmatch(ig->w[k]->value->str, name, 0) == 0) {
                hits[k]++;
                used = 1;
            }
        if (!used) {
            if (unread < SHOW)
                first[unread] = name;
            unread++;
        }
    }
    for (size_t k = 0; k < ig->nw; k++)
        if (!hits[k])
            mgc_warn_at(d, ig->w[k]->value->span, "ignore w\"%s\" matches no tensor of the checkpoint %s",
                        ig->w[k]->value->str, t->label);
    free(hits);
    if (!unread)
        return 0;
    mgc_strbuf list = {0};
    for (size_t i = 0; i < unread && i < SHOW; i++)
        mgc_sb_printf(&list, "%s'%s'", i ? ", " : "", first[i]);
    if (unread > SHOW)
        mgc_sb_printf(&list, " and %zu more", unread - SHOW);
    mgc_error_at(d, file_span(t->label), "%zu checkpoint tensor%s never read by the spec: %s", unread,
                 unread == 1 ? " is" : "s are", list.s);
    mgc_diag_hint(d, "read %s in the spec, or, if the math truly does not need %s, add e.g. 'ignore w\"%s\"' "
                     "(a glob: * matches any run of characters)",
                  unread == 1 ? "it" : "them", unread == 1 ? "it" : "them", first[0]);
    mgc_sb_free(&list);
    return -1;
}

int mgc_compile(const mgc_compile_opts *o, mgc_diags *d, mgc_ir *ir_out, mgc_plan *plan_out)
{
    int rc = -1;
    mgc_program *prog = mgc_program_load(o->spec_path, d);
    if (prog && !d->nerrors && mgc_check_program(prog, d) == 0 && !d->nerrors)
        rc = mgc_compile_program(prog, o, d, ir_out, plan_out);
    mgc_program_free(prog);
    return rc;
}

int mgc_compile_program(const mgc_program *prog, const mgc_compile_opts *o, mgc_diags *d, mgc_ir *ir_out,
                        mgc_plan *plan_out)
{
    mgc_config_reads reads = {0};
    ignores ig = {0};
    int rc = -1;
    mgc_config *cfg = NULL;
    mgc_ir ir;
    memset(&ir, 0, sizeof ir);
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);

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
        .reads = &reads,
    };
    if (mgc_elaborate(&in, d, &ir) != 0)
        goto out;
    if (mgc_shard(&ir, d) != 0)
        goto out;
    if (mgc_pad(&ir, sys.tile, d) != 0)
        goto out;
    /* nothing silent: config.json keys that change the math, and checkpoint
     * tensors, that the spec never reads (docs/language.md) */
    collect_ignores(prog, &ig);
    for (size_t w = 0; w < ir.nweights; w++)
        if (ir.weights[w].tied) /* a tied use is the spec's answer to tie_word_embeddings */
            mgc_config_reads_add(&reads, "tie_word_embeddings");
    int silent = mgc_config_keys_check(cfg, &reads, ig.keys, ig.nkeys, d, file_span(mgc_config_path(cfg))) != 0;
    if (o->tensors && check_unread_tensors(o->tensors, &ir, &ig, d) != 0)
        silent = 1;
    if (silent)
        goto out;
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
    mgc_config_reads_free(&reads);
    free(ig.w);
    free(ig.keys);
    return rc;
}
