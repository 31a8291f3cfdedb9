/* scalar.h: functions on numbers that a spec may call in lets and arguments
 * (sqrt(hidden), pow(a, b), int(head_dim * config.partial_rotary_factor)).
 * Pure data and arithmetic: the checker looks names and arities up here, and
 * elaboration computes them.  `exp` and `tanh` are also tensor ops: a call
 * whose arguments are all numbers is the scalar function. */
#ifndef MGC_SCALAR_H
#define MGC_SCALAR_H

#include <stddef.h>

typedef struct mgc_scalar_fn {
    const char *name;
    int min_args, max_args;
    const char *signature;
} mgc_scalar_fn;

extern const mgc_scalar_fn mgc_scalar_fns[];
extern const size_t mgc_nscalar_fns;

/* The function called `name`, or NULL. */
const mgc_scalar_fn *mgc_scalar_find(const char *name);

/* Computes f(args).  `ints[i]` says whether args[i] is an integer (then its
 * value is exact in args[i]).  Returns 0 and sets *out, *out_int (the result
 * is an integer: int, floor, ceil, abs/min/max of integers), or -1 with a
 * reason in why (a domain error: sqrt(-1), log(0), a result that is not
 * finite). */
int mgc_scalar_call(const mgc_scalar_fn *f, const double *args, const int *ints, int n, double *out, int *out_int,
                    const char **why);

#endif
