/* fmt.h: canonical formatting of a spec (`mgc fmt`).
 *
 * 2-space indent, one space around binary operators and `=`, ", " after
 * commas, `key=value` in settings and keyword arguments, annotations after
 * one space, the fewest parentheses the precedence allows (?? lowest, then
 * + -, then * /, then unary -).  Comments are kept: a comment on its own line
 * goes before the statement that follows it, a comment after code goes after
 * its statement.  One blank line is kept where the source had one or more
 * between statements.  A statement longer than MGC_FMT_WIDTH columns is
 * wrapped between call arguments, aligned after the call's '('.
 *
 * Guarantees, for a tree parsed without errors: fmt(parse(fmt(x))) ==
 * fmt(parse(x)) (idempotent), and parse(fmt(x)) dumps the same as parse(x). */
#ifndef MGC_FMT_H
#define MGC_FMT_H

#include "ast.h"

enum { MGC_FMT_WIDTH = 100 };

/* Returns the formatted text (malloc'd). */
char *mgc_fmt(const mgc_ast_file *f);

#endif
