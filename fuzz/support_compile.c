#include "support_compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "support_files.h"

void fuzz_compile(const char *spec, const char *config)
{
    char systems[4200];
    snprintf(systems, sizeof systems, "%s/graphs/systems", fuzz_repo_root());
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    o.config_path = config;
    o.systems_dir = systems;
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);
    if (mgc_compile(&o, &d, NULL, &plan) == 0)
        mgc_plan_free(&plan);
    /* The compiler words its own faults "internal error: ..." at the start of the
     * message; a substring match would also fire on a user's file name that merely
     * contains those words (the fuzzer found one), so match the prefix only. */
    for (size_t i = 0; i < d.n; i++)
        if (strncmp(d.items[i].msg, "internal error", strlen("internal error")) == 0) {
            fprintf(stderr, "finding: %s\n", d.items[i].msg);
            abort();
        }
    mgc_diags_free(&d);
}
