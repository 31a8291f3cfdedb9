/* cmd_fmt.c: `mgc fmt [--write | --check] FILE...` - canonical formatting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "commands.h"
#include "diag.h"
#include "fmt.h"
#include "parse.h"

void mgc_help_fmt(FILE *out)
{
    fprintf(out,
            "usage: mgc fmt [--write | --check] FILE...\n"
            "\n"
            "Prints each graph spec in canonical formatting (2-space indent, one space\n"
            "around operators, lines wrapped at 100 columns, comments kept).\n"
            "\n"
            "  --write   rewrite the files in place (atomically; a file with syntax\n"
            "            errors is never rewritten)\n"
            "  --check   print nothing; exit 1 if a file is not formatted\n");
}

/* Writes `text` over `path` atomically: a temporary file in the same
 * directory, fsync'd, given the original's mode, renamed over it. */
static int write_atomic(const char *path, const char *text, size_t len)
{
    mgc_error e = {{0}};
    if (mgc_write_file_atomic(path, text, len, &e) != 0) {
        fprintf(stderr, "mgc fmt: %s\n", e.msg);
        return -1;
    }
    return 0;
}

int mgc_cmd_fmt(int argc, char **argv)
{
    int write_mode = 0, check_mode = 0, nfiles = 0, opts_done = 0;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files)
        return MGC_EXIT_INPUT;
    for (int i = 1; i < argc; i++) {
        if (!opts_done && strcmp(argv[i], "--") == 0)
            opts_done = 1;
        else if (!opts_done && strcmp(argv[i], "--write") == 0)
            write_mode = 1;
        else if (!opts_done && strcmp(argv[i], "--check") == 0)
            check_mode = 1;
        else if (!opts_done && argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mgc fmt: unknown option '%s'\n", argv[i]);
            mgc_help_fmt(stderr);
            free(files);
            return MGC_EXIT_USAGE;
        } else
            files[nfiles++] = argv[i];
    }
    if (nfiles == 0 || (write_mode && check_mode)) {
        fprintf(stderr, nfiles == 0 ? "mgc fmt: no file given\n" : "mgc fmt: --write and --check exclude each other\n");
        mgc_help_fmt(stderr);
        free(files);
        return MGC_EXIT_USAGE;
    }
    int status = MGC_EXIT_OK, color = mgc_use_color(stderr);
    for (int i = 0; i < nfiles; i++) {
        mgc_diags d;
        mgc_diags_init(&d);
        mgc_ast_file *f = mgc_parse_file(files[i], &d);
        if (!f || d.nerrors > 0) {
            mgc_diags_print(&d, stderr, color);
            status = MGC_EXIT_INPUT;
            mgc_ast_free(f);
            mgc_diags_free(&d);
            continue;
        }
        char *out = mgc_fmt(f);
        size_t len = strlen(out);
        int same = len == f->source_len && memcmp(out, f->source, len) == 0;
        if (check_mode) {
            if (!same) {
                fprintf(stderr, "%s: not formatted (run 'mgc fmt --write %s')\n", files[i], files[i]);
                status = MGC_EXIT_INPUT;
            }
        } else if (write_mode) {
            if (!same && write_atomic(files[i], out, len) != 0)
                status = MGC_EXIT_INPUT;
        } else {
            fwrite(out, 1, len, stdout);
        }
        free(out);
        mgc_ast_free(f);
        mgc_diags_free(&d);
    }
    free(files);
    return status;
}
