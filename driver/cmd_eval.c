#include "commands.h"

/* Placeholder until the eval command lands. */
int mgc_cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mgc eval: not built yet\n");
    return MGC_EXIT_USAGE;
}

void mgc_help_eval(FILE *out) { fprintf(out, "usage: mgc eval (not built yet)\n"); }
