/* scalar.h: the arithmetic of numbers, booleans and strings in a spec.
 *
 * `let`s and arguments compute sizes, scales and flags from config.json:
 * `int(head_dim * config.partial_rotary_factor)`, `head_dim ** -0.5`,
 * `config.hidden_act == "silu"`.  This is that arithmetic, with Python's
 * meaning for every operator and function (floor division and `%` round
 * toward minus infinity, `int()` truncates, `**` of two integers with a
 * non-negative exponent stays an integer), and an error instead of a silent
 * wrong number: integer overflow, division by zero, a result that is not
 * finite, `sqrt` of a negative number, `log` of one that is not positive.
 *
 * The function table is shared by the checker (arity, "did you mean") and
 * by elaboration.  Tensor ops of the same name (`exp`) live in ops.c: a
 * call whose arguments are all numbers is the scalar function. */
#ifndef MGC_SCALAR_H
#define MGC_SCALAR_H

#include <stddef.h>
#include <stdint.h>

#include "ast.h"

typedef enum mgc_scalar_kind { MGC_SV_INT, MGC_SV_FLOAT, MGC_SV_BOOL, MGC_SV_STR } mgc_scalar_kind;

typedef struct mgc_scalar {
    mgc_scalar_kind k;
    int64_t i;     /* MGC_SV_INT, MGC_SV_BOOL (0 or 1) */
    double f;      /* MGC_SV_FLOAT */
    const char *s; /* MGC_SV_STR (not owned) */
} mgc_scalar;

typedef struct mgc_scalar_fn {
    const char *name;
    int min_args, max_args;
    const char *signature; /* e.g. "int(x): truncates toward zero, like Python's int()" */
} mgc_scalar_fn;

/* The function called `name`, or NULL. */
const mgc_scalar_fn *mgc_scalar_fn_find(const char *name);

/* The table, for suggestions: fills names[0..n) (at most cap), returns n. */
size_t mgc_scalar_fn_names(const char **names, size_t cap);

/* a op b for the arithmetic and comparison operators (not and/or, which
 * are lazy and belong to the evaluator).  0 and *out, or -1 and a message
 * in err (without position: the caller knows where the operator is). */
int mgc_scalar_binop(mgc_ast_binop op, mgc_scalar a, mgc_scalar b, mgc_scalar *out, char *err, size_t cap);

/* name(args...): 0 and *out, or -1 and a message in err. */
int mgc_scalar_call(const char *name, const mgc_scalar *args, size_t n, mgc_scalar *out, char *err, size_t cap);

#endif
