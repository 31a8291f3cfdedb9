/* parse.h: text -> syntax tree (the flex/bison frontend of grammar/).
 *
 * Both functions register the source text with `d` (so diagnostics can show
 * its lines) and return the tree even when there were syntax errors: it then
 * holds the statements that parsed.  They return NULL only when nothing could
 * be read (a missing, unreadable or oversized file, or a directory); a
 * diagnostic says why.  Free the tree with mgc_ast_free(). */
#ifndef MGC_PARSE_H
#define MGC_PARSE_H

#include <stddef.h>

#include "ast.h"
#include "diag.h"

/* The size cap of a spec (docs/language.md, "Limits"). */
#define MGC_MAX_SPEC_BYTES (8u * 1024u * 1024u)

mgc_ast_file *mgc_parse_file(const char *path, mgc_diags *d);

/* `path_label` names the text in diagnostics (and is the tree's path);
 * `text` need not be NUL-terminated and may contain any bytes. */
mgc_ast_file *mgc_parse_string(const char *path_label, const char *text, size_t len, mgc_diags *d);

/* Reads a whole file (at most MGC_MAX_SPEC_BYTES) into a malloc'd,
 * NUL-terminated buffer; on failure reports a diagnostic naming `path` (at
 * `where`, or without a location when where.file is NULL) and returns NULL.
 * Shared with the program loader and `mgc fmt`. */
char *mgc_read_spec(const char *path, size_t *len, mgc_span where, mgc_diags *d);

#endif
