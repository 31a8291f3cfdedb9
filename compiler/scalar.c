/* scalar.c: the functions on numbers (see scalar.h). */
#include "scalar.h"

#include <math.h>
#include <string.h>

const mgc_scalar_fn mgc_scalar_fns[] = {
    {"sqrt", 1, 1, "sqrt(x)"},   {"exp", 1, 1, "exp(x)"},       {"log", 1, 1, "log(x) (natural)"},
    {"tanh", 1, 1, "tanh(x)"},   {"pow", 2, 2, "pow(x, y) = x ** y"}, {"abs", 1, 1, "abs(x)"},
    {"min", 2, 8, "min(a, b, ...)"}, {"max", 2, 8, "max(a, b, ...)"},
    {"int", 1, 1, "int(x) (toward zero, as Python)"}, {"floor", 1, 1, "floor(x)"}, {"ceil", 1, 1, "ceil(x)"},
};
const size_t mgc_nscalar_fns = sizeof mgc_scalar_fns / sizeof mgc_scalar_fns[0];

const mgc_scalar_fn *mgc_scalar_find(const char *name)
{
    for (size_t i = 0; i < mgc_nscalar_fns; i++)
        if (strcmp(mgc_scalar_fns[i].name, name) == 0)
            return &mgc_scalar_fns[i];
    return NULL;
}

/* A double that is a whole number small enough for an int64. */
static int to_int(double x, double *out)
{
    if (!(x >= -9.2e18 && x <= 9.2e18))
        return -1;
    *out = x;
    return 0;
}

int mgc_scalar_call(const mgc_scalar_fn *f, const double *a, const int *ints, int n, double *out, int *out_int,
                    const char **why)
{
    const char *nm = f->name;
    *out_int = 0;
    *why = NULL;
    double r;
    if (!strcmp(nm, "sqrt")) {
        if (a[0] < 0)
            return *why = "sqrt of a negative number", -1;
        r = sqrt(a[0]);
    } else if (!strcmp(nm, "exp")) {
        r = exp(a[0]);
    } else if (!strcmp(nm, "log")) {
        if (a[0] <= 0)
            return *why = "log of a number that is not positive", -1;
        r = log(a[0]);
    } else if (!strcmp(nm, "tanh")) {
        r = tanh(a[0]);
    } else if (!strcmp(nm, "pow")) {
        if (a[0] == 0 && a[1] < 0)
            return *why = "0 to a negative power", -1;
        if (a[0] < 0 && a[1] != floor(a[1]))
            return *why = "a negative number to a fractional power", -1;
        r = pow(a[0], a[1]);
        /* an integer to a non-negative integer power stays an integer */
        *out_int = ints[0] && ints[1] && a[1] >= 0 && fabs(r) < 9.2e18;
    } else if (!strcmp(nm, "abs")) {
        r = fabs(a[0]);
        *out_int = ints[0];
    } else if (!strcmp(nm, "min") || !strcmp(nm, "max")) {
        int mx = nm[1] == 'a', all_int = 1;
        r = a[0];
        for (int i = 0; i < n; i++) {
            all_int &= ints[i];
            if (mx ? a[i] > r : a[i] < r)
                r = a[i];
        }
        *out_int = all_int;
    } else if (!strcmp(nm, "int") || !strcmp(nm, "floor") || !strcmp(nm, "ceil")) {
        double v = nm[0] == 'i' ? trunc(a[0]) : nm[0] == 'f' ? floor(a[0]) : ceil(a[0]);
        if (to_int(v, &r) != 0)
            return *why = "the result does not fit a 64-bit integer", -1;
        *out_int = 1;
    } else {
        return *why = "unknown function", -1;
    }
    if (!isfinite(r))
        return *why = "the result is not a finite number", -1;
    *out = r;
    return 0;
}
