#include "support_compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compile.h"
#include "support_files.h"

static void opts_for(mgc_compile_opts *o, const char *spec, const char *config, char *systems, size_t n)
{
    snprintf(systems, n, "%s/graphs/systems", fuzz_repo_root());
    mgc_compile_opts_init(o);
    o->spec_path = spec;
    o->config_path = config;
    o->systems_dir = systems;
}

/* The compiler words its own faults "internal error: ..." at the start of the
 * message; a substring match would also fire on a user's file name that merely
 * contains those words (the fuzzer found one), so match the prefix only. */
static void abort_on_internal_error(mgc_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (strncmp(d->items[i].msg, "internal error", strlen("internal error")) == 0) {
            fprintf(stderr, "finding: %s\n", d->items[i].msg);
            abort();
        }
}

/* prog NULL: the whole compile from the spec's text */
static void compile_once(const mgc_program *prog, const char *spec, const char *config)
{
    char systems[4200];
    mgc_compile_opts o;
    opts_for(&o, spec, config, systems, sizeof systems);
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);
    int rc = prog ? mgc_compile_program(prog, &o, &d, NULL, &plan) : mgc_compile(&o, &d, NULL, &plan);
    if (rc == 0)
        mgc_plan_free(&plan);
    abort_on_internal_error(&d);
    mgc_diags_free(&d);
}

void fuzz_compile(const char *spec, const char *config) { compile_once(NULL, spec, config); }

void fuzz_compile_program(const mgc_program *prog, const char *spec, const char *config)
{
    compile_once(prog, spec, config);
}

mgc_program *fuzz_load_checked(const char *spec)
{
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_program *prog = mgc_program_load(spec, &d);
    if (!prog || d.nerrors || mgc_check_program(prog, &d) != 0 || d.nerrors) {
        fprintf(stderr, "%s does not load and check (%s)\n", spec, d.n ? d.items[0].msg : "?");
        abort();
    }
    mgc_diags_free(&d);
    return prog;
}
