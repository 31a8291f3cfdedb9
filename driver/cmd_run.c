#include "commands.h"

/* Placeholder until the run command lands. */
int mgc_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mgc run: not built yet\n");
    return MGC_EXIT_USAGE;
}

void mgc_help_run(FILE *out) { fprintf(out, "usage: mgc run (not built yet)\n"); }
