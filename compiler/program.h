/* program.h: a root spec and everything it imports.
 *
 * Imports are followed recursively, each path relative to the file that
 * imports it; files are identified by their realpath, so a file reached by
 * two routes is parsed once.  An import cycle (a file importing itself
 * included) and a missing imported file are reported at the import
 * statement.  Loading never stops at the first problem: the program holds
 * every file that could be read. */
#ifndef MGC_PROGRAM_H
#define MGC_PROGRAM_H

#include <stddef.h>

#include "ast.h"
#include "diag.h"

typedef struct mgc_program_file {
    mgc_ast_file *ast;
    char *id;               /* realpath (or the path as given when it has none): the identity */
    size_t *imports;        /* indices into mgc_program.files of the files it imports directly */
    size_t nimports;
} mgc_program_file;

typedef struct mgc_program {
    /* Dependency order: every file comes after the files it imports; the root
     * is last. */
    mgc_program_file *files;
    size_t nfiles;
    mgc_ast_file *root;
} mgc_program;

/* Loads `path` and its imports.  NULL only when the root itself could not
 * be read (a diagnostic says why). */
mgc_program *mgc_program_load(const char *path, mgc_diags *d);

/* The same with the root's text given (imports are still read from disk,
 * relative to the directory of `path_label`). */
mgc_program *mgc_program_load_string(const char *path_label, const char *text, size_t len, mgc_diags *d);

void mgc_program_free(mgc_program *p);

/* Lexically normalised "dir-of(from)/rel" ("a/b/../c" -> "a/c"); rel as is
 * when absolute.  malloc'd.  (How import paths are shown in messages.) */
char *mgc_import_path(const char *from, const char *rel);

#endif
