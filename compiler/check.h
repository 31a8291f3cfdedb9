/* check.h: everything about a program that can be checked without a
 * config.json (docs/language.md): names defined before use, calls resolving
 * to an op or a def with the right arguments, template holes, annotations,
 * precision and cache settings, which statements may appear where, the
 * shape of bringup and library files, unique names, no recursion.
 *
 * What needs config values, shapes or the mesh (divisibility, dtypes of
 * particular weights, tie_word_embeddings) is the semantic pass's job. */
#ifndef MGC_CHECK_H
#define MGC_CHECK_H

#include "diag.h"
#include "program.h"

/* Appends a diagnostic per problem; returns the number of errors found.
 * Does nothing when a file of the program has syntax errors (its tree is
 * partial, so most findings would be follow-on errors). */
int mgc_check_program(const mgc_program *p, mgc_diags *d);

#endif
