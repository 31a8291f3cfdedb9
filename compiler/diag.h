/* diag.h: diagnostics, the compiler's error values.
 *
 * Every stage appends diagnostics (with the span of the offending source text)
 * to an mgc_diags list and returns; only the driver prints them, once, with
 * the source line and a caret under the span.  Sources are registered with
 * the list so the printer can show lines of any file involved (imports too). */
#ifndef MGC_DIAG_H
#define MGC_DIAG_H

#include <stdio.h>

#include "ast.h"

typedef enum mgc_diag_level { MGC_ERROR, MGC_WARNING, MGC_NOTE } mgc_diag_level;

typedef struct mgc_diag {
    mgc_diag_level level;
    /* span.file == NULL: not tied to source (e.g. a missing file given on the
     * command line).  Otherwise it points to the list's own copy of the name,
     * valid until mgc_diags_free (the tree it came from may be gone). */
    mgc_span span;
    char *msg;          /* malloc'd */
    char *hint;         /* malloc'd or NULL: "did you mean 'hidden_size'?" */
} mgc_diagnostic; /* (not `mgc_diag`: that name is the reporting function below) */

typedef struct mgc_diag_source {
    char *path;
    char *text;
    size_t len;
} mgc_diag_source;

typedef struct mgc_diags {
    mgc_diagnostic *items;
    size_t n, cap;
    size_t nerrors, nwarnings;
    size_t max_errors;   /* 0 = default (50); beyond it errors are counted, not stored */
    size_t dropped;
    mgc_diag_source *sources;
    size_t nsources, srccap;
} mgc_diags;

void mgc_diags_init(mgc_diags *d);
void mgc_diags_free(mgc_diags *d);
/* Registers a file's text (copied) so diagnostics in it can show the line. */
void mgc_diags_add_source(mgc_diags *d, const char *path, const char *text, size_t len);

void mgc_diag(mgc_diags *d, mgc_diag_level lvl, mgc_span span, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define mgc_error_at(d, span, ...) mgc_diag((d), MGC_ERROR, (span), __VA_ARGS__)
#define mgc_warn_at(d, span, ...) mgc_diag((d), MGC_WARNING, (span), __VA_ARGS__)
/* True once more than max_errors errors were reported: stages stop early
 * (the printer then says "too many errors"). */
int mgc_diags_full(const mgc_diags *d);
/* Attaches a hint to the most recent diagnostic. */
void mgc_diag_hint(mgc_diags *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints all diagnostics: "file:line:col: error: message", the source line,
 * a caret line under the span, then "hint: ...".  Colour when `color`. */
void mgc_diags_print(const mgc_diags *d, FILE *out, int color);

/* "Did you mean": the candidate closest to `name` by edit distance, if it is
 * close enough to be a plausible misspelling (<= max(1, len/3) edits), else NULL. */
const char *mgc_suggest(const char *name, const char *const *candidates, size_t n);

#endif
