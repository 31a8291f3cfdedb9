/* mgc: the command-line driver.  A thin dispatcher over the commands in
 * driver/cmd_*.c, which are themselves thin layers over the libraries. */
#include <stdio.h>
#include <string.h>

#include "ccl_mpi.h"
#include "commands.h"
#include "mgc.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mgc COMMAND [ARGS...]\n"
            "\n"
            "mgc compiles text graph specs of HuggingFace causal LMs into plans for a\n"
            "device mesh, executes them, and evaluates them against a reference.\n"
            "\n"
            "commands:\n");
    for (int i = 0; i < mgc_ncommands; i++)
        fprintf(out, "  %-10s %s\n", mgc_commands[i].name, mgc_commands[i].summary);
    fprintf(out, "\n'mgc COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MGC_EXIT_USAGE;
    }
    if (mgc_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            for (int i = 0; i < mgc_ncommands; i++)
                if (strcmp(argv[2], mgc_commands[i].name) == 0) {
                    mgc_commands[i].help(stdout);
                    return MGC_EXIT_OK;
                }
        }
        usage(stdout);
        return MGC_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mgc %s\n", mgc_version());
        return MGC_EXIT_OK;
    }
    for (int i = 0; i < mgc_ncommands; i++) {
        if (strcmp(argv[1], mgc_commands[i].name) != 0)
            continue;
        for (int a = 2; a < argc; a++)
            if (mgc_is_help(argv[a])) {
                mgc_commands[i].help(stdout);
                return MGC_EXIT_OK;
            }
        int rc = mgc_commands[i].run(argc - 1, argv + 1);
        rt_mpi_exit(rc); /* under --mesh mpi: finalize, or end the whole job on failure */
        return rc;
    }
    fprintf(stderr, "mgc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return MGC_EXIT_USAGE;
}
