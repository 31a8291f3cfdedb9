/* scalar.c: numbers, booleans and strings in a spec (see scalar.h). */
#include "scalar.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const mgc_scalar_fn fns[] = {
    {"sqrt", 1, 1, "sqrt(x): square root, x >= 0"},
    {"pow", 2, 2, "pow(a, b): a ** b"},
    {"exp", 1, 1, "exp(x): e ** x"},
    {"log", 1, 1, "log(x): natural logarithm, x > 0"},
    {"min", 2, 8, "min(a, b, ...): the smallest"},
    {"max", 2, 8, "max(a, b, ...): the largest"},
    {"abs", 1, 1, "abs(x): absolute value"},
    {"int", 1, 1, "int(x): truncates toward zero, like Python's int()"},
    {"floor", 1, 1, "floor(x): the largest integer <= x"},
    {"ceil", 1, 1, "ceil(x): the smallest integer >= x"},
};

const mgc_scalar_fn *mgc_scalar_fn_find(const char *name)
{
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strcmp(fns[i].name, name) == 0)
            return &fns[i];
    return NULL;
}

size_t mgc_scalar_fn_names(const char **names, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0] && n < cap; i++)
        names[n++] = fns[i].name;
    return n;
}


static int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *kind_word(mgc_scalar_kind k)
{
    switch (k) {
    case MGC_SV_INT: return "an integer";
    case MGC_SV_FLOAT: return "a number";
    case MGC_SV_BOOL: return "a boolean";
    case MGC_SV_STR: return "a string";
    }
    return "?";
}

static int is_num(mgc_scalar v) { return v.k == MGC_SV_INT || v.k == MGC_SV_FLOAT; }
static double num(mgc_scalar v) { return v.k == MGC_SV_INT ? (double)v.i : v.f; }
static mgc_scalar mk_int(int64_t i) { return (mgc_scalar){.k = MGC_SV_INT, .i = i}; }
static mgc_scalar mk_bool(int b) { return (mgc_scalar){.k = MGC_SV_BOOL, .i = b != 0}; }

/* A float result, refused when it is not finite (an overflow or a domain
 * error the C library answers with inf or nan). */
static int put_float(double f, mgc_scalar *out, char *err, size_t cap, const char *what)
{
    if (!isfinite(f))
        return errf(err, cap, "%s is not a finite number (%g)", what, f);
    *out = (mgc_scalar){.k = MGC_SV_FLOAT, .f = f};
    return 0;
}

/* A float that must become an integer (int, floor, ceil). */
static int float_to_int(double f, mgc_scalar *out, char *err, size_t cap, const char *fn)
{
    if (!isfinite(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0)
        return errf(err, cap, "%s(%g) does not fit in a 64-bit integer", fn, f);
    *out = mk_int((int64_t)f);
    return 0;
}

static int int_pow(int64_t a, int64_t exponent, mgc_scalar *out, char *err, size_t cap)
{
    int64_t r = 1, base = a, b = exponent;
    while (b > 0) {
        if ((b & 1) && __builtin_mul_overflow(r, base, &r))
            goto overflow;
        b >>= 1;
        if (b && __builtin_mul_overflow(base, base, &base))
            goto overflow;
    }
    *out = mk_int(r);
    return 0;
overflow:
    return errf(err, cap, "integer overflow in %lld ** %lld (the limit is 2^63-1)", (long long)a,
                (long long)exponent);
}

static int compare(mgc_ast_binop op, mgc_scalar a, mgc_scalar b, mgc_scalar *out, char *err, size_t cap)
{
    int c; /* -1, 0, 1 */
    if (is_num(a) && is_num(b)) {
        if (a.k == MGC_SV_INT && b.k == MGC_SV_INT)
            c = a.i < b.i ? -1 : a.i > b.i;
        else {
            double x = num(a), y = num(b);
            c = x < y ? -1 : x > y;
        }
    } else if (a.k == b.k && (a.k == MGC_SV_STR || a.k == MGC_SV_BOOL)) {
        if (op != MGC_OP_EQ && op != MGC_OP_NE)
            return errf(err, cap, "'%s' compares numbers; %s can only be compared with == and !=",
                        mgc_ast_op_text(op), a.k == MGC_SV_STR ? "strings" : "booleans");
        c = a.k == MGC_SV_STR ? strcmp(a.s, b.s) != 0 : a.i != b.i;
    } else {
        return errf(err, cap, "cannot compare %s with %s", kind_word(a.k), kind_word(b.k));
    }
    switch (op) {
    case MGC_OP_EQ: *out = mk_bool(c == 0); break;
    case MGC_OP_NE: *out = mk_bool(c != 0); break;
    case MGC_OP_LT: *out = mk_bool(c < 0); break;
    case MGC_OP_LE: *out = mk_bool(c <= 0); break;
    case MGC_OP_GT: *out = mk_bool(c > 0); break;
    default: *out = mk_bool(c >= 0); break;
    }
    return 0;
}

int mgc_scalar_binop(mgc_ast_binop op, mgc_scalar a, mgc_scalar b, mgc_scalar *out, char *err, size_t cap)
{
    const char *ot = mgc_ast_op_text(op);
    if (op >= MGC_OP_EQ && op <= MGC_OP_GE)
        return compare(op, a, b, out, err, cap);
    if (!is_num(a) || !is_num(b))
        return errf(err, cap, "'%s' needs numbers, not %s and %s", ot, kind_word(a.k), kind_word(b.k));
    if (a.k == MGC_SV_INT && b.k == MGC_SV_INT) {
        int64_t x = a.i, y = b.i, r;
        switch (op) {
        case MGC_OP_ADD:
        case MGC_OP_SUB:
        case MGC_OP_MUL:
            if (op == MGC_OP_ADD ? __builtin_add_overflow(x, y, &r)
                : op == MGC_OP_SUB ? __builtin_sub_overflow(x, y, &r)
                                   : __builtin_mul_overflow(x, y, &r))
                return errf(err, cap, "integer overflow in %lld %s %lld (the limit is 2^63-1)", (long long)x, ot,
                            (long long)y);
            *out = mk_int(r);
            return 0;
        case MGC_OP_DIV:
        case MGC_OP_FLOORDIV:
        case MGC_OP_MOD:
            if (y == 0)
                return errf(err, cap, "division by zero (%lld %s 0)", (long long)x, ot);
            if (y == -1) { /* INT64_MIN / -1 overflows; x % -1 is 0 */
                if (op == MGC_OP_MOD) {
                    *out = mk_int(0);
                    return 0;
                }
                if (x == INT64_MIN)
                    return errf(err, cap, "integer overflow in %lld %s -1", (long long)x, ot);
                *out = mk_int(-x);
                return 0;
            }
            if (op == MGC_OP_DIV) {
                if (x % y)
                    return errf(err, cap, "%lld / %lld is not a whole number (integer '/' must divide exactly)",
                                (long long)x, (long long)y);
                *out = mk_int(x / y);
            } else if (op == MGC_OP_FLOORDIV) {
                r = x / y;
                if (x % y != 0 && ((x < 0) != (y < 0)))
                    r--;
                *out = mk_int(r);
            } else {
                r = x % y;
                if (r != 0 && ((r < 0) != (y < 0)))
                    r += y;
                *out = mk_int(r);
            }
            return 0;
        case MGC_OP_POW:
            if (y >= 0)
                return int_pow(x, y, out, err, cap);
            if (x == 0)
                return errf(err, cap, "0 cannot be raised to a negative power");
            break; /* a negative exponent: a float, as in Python */
        default:
            return errf(err, cap, "'%s' does not apply to numbers", ot);
        }
    }
    double x = num(a), y = num(b);
    switch (op) {
    case MGC_OP_ADD: return put_float(x + y, out, err, cap, "the sum");
    case MGC_OP_SUB: return put_float(x - y, out, err, cap, "the difference");
    case MGC_OP_MUL: return put_float(x * y, out, err, cap, "the product");
    case MGC_OP_DIV:
    case MGC_OP_FLOORDIV:
    case MGC_OP_MOD:
        if (y == 0)
            return errf(err, cap, "division by zero (%g %s 0)", x, ot);
        if (op == MGC_OP_DIV)
            return put_float(x / y, out, err, cap, "the quotient");
        if (op == MGC_OP_FLOORDIV)
            return put_float(floor(x / y), out, err, cap, "the quotient");
        {
            double r = fmod(x, y);
            if (r != 0 && ((r < 0) != (y < 0)))
                r += y;
            return put_float(r, out, err, cap, "the remainder");
        }
    case MGC_OP_POW:
        if (x == 0 && y < 0)
            return errf(err, cap, "0 cannot be raised to a negative power");
        if (x < 0 && y != floor(y))
            return errf(err, cap, "a negative number (%g) raised to a fractional power (%g)", x, y);
        return put_float(pow(x, y), out, err, cap, "the power");
    default:
        return errf(err, cap, "'%s' does not apply to numbers", ot);
    }
}

int mgc_scalar_call(const char *name, const mgc_scalar *args, size_t n, mgc_scalar *out, char *err, size_t cap)
{
    const mgc_scalar_fn *fn = mgc_scalar_fn_find(name);
    if (!fn)
        return errf(err, cap, "unknown function '%s'", name);
    if ((int)n < fn->min_args || (int)n > fn->max_args)
        return errf(err, cap, "%s takes %d argument%s, got %zu", name, fn->min_args, fn->min_args == 1 ? "" : "s", n);
    for (size_t i = 0; i < n; i++)
        if (!is_num(args[i]))
            return errf(err, cap, "%s needs numbers, argument %zu is %s", name, i + 1, kind_word(args[i].k));
    double x = num(args[0]);
    if (!strcmp(name, "pow"))
        return mgc_scalar_binop(MGC_OP_POW, args[0], args[1], out, err, cap);
    if (!strcmp(name, "min") || !strcmp(name, "max")) {
        int want_min = name[1] == 'i';
        size_t best = 0;
        for (size_t i = 1; i < n; i++) {
            double v = num(args[i]), b = num(args[best]);
            if (want_min ? v < b : v > b)
                best = i;
        }
        *out = args[best];
        return 0;
    }
    if (!strcmp(name, "abs")) {
        if (args[0].k == MGC_SV_INT) {
            if (args[0].i == INT64_MIN)
                return errf(err, cap, "integer overflow in abs(%lld)", (long long)args[0].i);
            *out = mk_int(args[0].i < 0 ? -args[0].i : args[0].i);
            return 0;
        }
        return put_float(fabs(x), out, err, cap, "abs");
    }
    if (!strcmp(name, "int") || !strcmp(name, "floor") || !strcmp(name, "ceil")) {
        if (args[0].k == MGC_SV_INT) {
            *out = args[0];
            return 0;
        }
        double r = name[0] == 'i' ? trunc(x) : name[0] == 'f' ? floor(x) : ceil(x);
        return float_to_int(r, out, err, cap, name);
    }
    if (!strcmp(name, "sqrt")) {
        if (x < 0)
            return errf(err, cap, "sqrt of a negative number (%g)", x);
        return put_float(sqrt(x), out, err, cap, "sqrt");
    }
    if (!strcmp(name, "log")) {
        if (x <= 0)
            return errf(err, cap, "log of %g (it needs a positive number)", x);
        return put_float(log(x), out, err, cap, "log");
    }
    /* exp */
    char what[64];
    snprintf(what, sizeof what, "exp(%g)", x);
    return put_float(exp(x), out, err, cap, what);
}
