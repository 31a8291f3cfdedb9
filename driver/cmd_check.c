/* cmd_check.c: `mgc check FILE...` - parse and check specs, no config needed. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "commands.h"
#include "diag.h"
#include "program.h"

void mgc_help_check(FILE *out)
{
    fprintf(out,
            "usage: mgc check FILE...\n"
            "\n"
            "Parses each graph spec and the files it imports and checks everything that\n"
            "does not need a config.json: names, calls and their arguments, annotations,\n"
            "precision and cache settings, the shape of bringup and library files.\n"
            "Prints nothing and exits 0 when all is well; prints diagnostics to stderr\n"
            "and exits 1 otherwise (2 for bad usage).\n");
}

int mgc_cmd_check(int argc, char **argv)
{
    int first = 1, nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            first = i + 1;
            nfiles = argc - first;
            break;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mgc check: unknown option '%s'\n", argv[i]);
            mgc_help_check(stderr);
            return MGC_EXIT_USAGE;
        }
        nfiles++;
    }
    if (nfiles == 0) {
        fprintf(stderr, "mgc check: no file given\n");
        mgc_help_check(stderr);
        return MGC_EXIT_USAGE;
    }
    int status = MGC_EXIT_OK, color = mgc_use_color(stderr);
    for (int i = first; i < argc; i++) {
        if (first == 1 && strcmp(argv[i], "--") == 0)
            continue;
        mgc_diags d;
        mgc_diags_init(&d);
        mgc_program *p = mgc_program_load(argv[i], &d);
        if (p)
            mgc_check_program(p, &d);
        mgc_diags_print(&d, stderr, color);
        if (d.nerrors > 0)
            status = MGC_EXIT_INPUT;
        mgc_program_free(p);
        mgc_diags_free(&d);
    }
    return status;
}
