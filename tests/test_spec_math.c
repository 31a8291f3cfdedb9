/* test_spec_math.c: numbers in specs: the scalar operators and functions
 * (compiler/scalar.c) with Python's meaning, their precedence, lazy
 * conditionals and boolean operators, and the errors for domain problems.
 *
 * Expected values are Python's, worked out by hand (7 // -2 == -4,
 * -7 % 3 == 2, 2 ** 3 ** 2 == 512, -2 ** 2 == -4, int(-2.9) == -2). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"
#include "scalar.h"

static mgc_scalar I(int64_t v) { return (mgc_scalar){.k = MGC_SV_INT, .i = v}; }
static mgc_scalar F(double v) { return (mgc_scalar){.k = MGC_SV_FLOAT, .f = v}; }
static mgc_scalar S(const char *v) { return (mgc_scalar){.k = MGC_SV_STR, .s = v}; }

static void expect_int(mgc_ast_binop op, mgc_scalar a, mgc_scalar b, int64_t want)
{
    mgc_scalar out;
    char err[256] = "";
    if (mgc_scalar_binop(op, a, b, &out, err, sizeof err) != 0)
        fail_msg("%s: unexpected error '%s'", mgc_ast_op_text(op), err);
    assert_int_equal(out.k, MGC_SV_INT);
    assert_int_equal(out.i, want);
}

static void expect_float(mgc_ast_binop op, mgc_scalar a, mgc_scalar b, double want)
{
    mgc_scalar out;
    char err[256] = "";
    if (mgc_scalar_binop(op, a, b, &out, err, sizeof err) != 0)
        fail_msg("%s: unexpected error '%s'", mgc_ast_op_text(op), err);
    assert_int_equal(out.k, MGC_SV_FLOAT);
    assert_true(fabs(out.f - want) <= 1e-12 * fmax(1, fabs(want)));
}

static void expect_bool(mgc_ast_binop op, mgc_scalar a, mgc_scalar b, int want)
{
    mgc_scalar out;
    char err[256] = "";
    if (mgc_scalar_binop(op, a, b, &out, err, sizeof err) != 0)
        fail_msg("%s: unexpected error '%s'", mgc_ast_op_text(op), err);
    assert_int_equal(out.k, MGC_SV_BOOL);
    assert_int_equal(out.i, want);
}

static void expect_binop_error(mgc_ast_binop op, mgc_scalar a, mgc_scalar b, const char *needle)
{
    mgc_scalar out;
    char err[256] = "";
    assert_int_equal(mgc_scalar_binop(op, a, b, &out, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
}

static void expect_call(const char *fn, const mgc_scalar *args, size_t n, mgc_scalar want)
{
    mgc_scalar out;
    char err[256] = "";
    if (mgc_scalar_call(fn, args, n, &out, err, sizeof err) != 0)
        fail_msg("%s: unexpected error '%s'", fn, err);
    assert_int_equal(out.k, want.k);
    if (want.k == MGC_SV_INT)
        assert_int_equal(out.i, want.i);
    else
        assert_true(fabs(out.f - want.f) <= 1e-12 * fmax(1, fabs(want.f)));
}

static void expect_call_error(const char *fn, const mgc_scalar *args, size_t n, const char *needle)
{
    mgc_scalar out;
    char err[256] = "";
    assert_int_equal(mgc_scalar_call(fn, args, n, &out, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_python_division(void **state)
{
    (void)state;
    expect_int(MGC_OP_FLOORDIV, I(7), I(2), 3);
    expect_int(MGC_OP_FLOORDIV, I(-7), I(2), -4);
    expect_int(MGC_OP_FLOORDIV, I(7), I(-2), -4);
    expect_int(MGC_OP_FLOORDIV, I(-7), I(-2), 3);
    expect_int(MGC_OP_MOD, I(-7), I(3), 2);
    expect_int(MGC_OP_MOD, I(7), I(-3), -2);
    expect_int(MGC_OP_MOD, I(6), I(3), 0);
    expect_int(MGC_OP_MOD, I(INT64_MIN), I(-1), 0);
    expect_float(MGC_OP_FLOORDIV, F(7.5), I(2), 3.0);
    expect_float(MGC_OP_FLOORDIV, F(-7.5), I(2), -4.0);
    expect_float(MGC_OP_MOD, F(-7.5), I(2), 0.5);
    /* '/' keeps its rule: integers divide exactly, a float makes it float division */
    expect_int(MGC_OP_DIV, I(2048), I(32), 64);
    expect_binop_error(MGC_OP_DIV, I(7), I(2), "7 / 2 is not a whole number");
    expect_float(MGC_OP_DIV, F(7.0), I(2), 3.5);
    expect_binop_error(MGC_OP_DIV, I(1), I(0), "division by zero");
    expect_binop_error(MGC_OP_FLOORDIV, I(1), I(0), "division by zero");
    expect_binop_error(MGC_OP_MOD, F(1.5), F(0.0), "division by zero");
    expect_binop_error(MGC_OP_FLOORDIV, I(INT64_MIN), I(-1), "integer overflow");
}

static void test_power_and_overflow(void **state)
{
    (void)state;
    expect_int(MGC_OP_POW, I(2), I(10), 1024);
    expect_int(MGC_OP_POW, I(-3), I(3), -27);
    expect_int(MGC_OP_POW, I(5), I(0), 1);
    expect_float(MGC_OP_POW, I(2), I(-1), 0.5);     /* Python: 2 ** -1 == 0.5 */
    expect_float(MGC_OP_POW, I(64), F(-0.5), 0.125); /* head_dim ** -0.5 */
    expect_binop_error(MGC_OP_POW, I(2), I(63), "integer overflow in 2 ** 63");
    expect_binop_error(MGC_OP_POW, I(0), I(-1), "0 cannot be raised to a negative power");
    expect_binop_error(MGC_OP_POW, F(-8.0), F(0.5), "fractional power");
    expect_binop_error(MGC_OP_POW, F(10.0), F(400.0), "not a finite number");
    expect_binop_error(MGC_OP_MUL, I(INT64_MAX), I(2), "integer overflow");
    expect_binop_error(MGC_OP_ADD, I(INT64_MAX), I(1), "integer overflow");
    expect_binop_error(MGC_OP_SUB, I(INT64_MIN), I(1), "integer overflow");
    expect_binop_error(MGC_OP_MUL, F(1e300), F(1e300), "not a finite number");
}

static void test_comparisons(void **state)
{
    (void)state;
    expect_bool(MGC_OP_LT, I(1), F(1.5), 1);
    expect_bool(MGC_OP_GE, I(2), I(2), 1);
    expect_bool(MGC_OP_EQ, I(2), F(2.0), 1);
    expect_bool(MGC_OP_NE, S("silu"), S("gelu"), 1);
    expect_bool(MGC_OP_EQ, S("silu"), S("silu"), 1);
    expect_binop_error(MGC_OP_LT, S("a"), S("b"), "can only be compared with == and !=");
    expect_binop_error(MGC_OP_EQ, S("a"), I(1), "cannot compare a string with an integer");
    expect_binop_error(MGC_OP_ADD, S("a"), I(1), "'+' needs numbers");
}

static void test_functions(void **state)
{
    (void)state;
    mgc_scalar a[3];
    a[0] = F(-2.9);
    expect_call("int", a, 1, I(-2)); /* truncation, like Python's int() */
    a[0] = F(2.9);
    expect_call("int", a, 1, I(2));
    a[0] = F(-1.5);
    expect_call("floor", a, 1, I(-2));
    expect_call("ceil", a, 1, I(-1));
    expect_call("abs", a, 1, F(1.5));
    a[0] = I(-3);
    expect_call("abs", a, 1, I(3));
    a[0] = F(16.0);
    expect_call("sqrt", a, 1, F(4.0));
    a[0] = I(0);
    expect_call("exp", a, 1, F(1.0));
    a[0] = F(M_E);
    expect_call("log", a, 1, F(1.0));
    a[0] = I(3), a[1] = F(1.5), a[2] = I(2);
    expect_call("min", a, 3, F(1.5));
    expect_call("max", a, 3, I(3)); /* the chosen argument keeps its type */
    a[0] = I(2), a[1] = I(5);
    expect_call("pow", a, 2, I(32));
    /* Phi-2: int(head_dim * partial_rotary_factor) = int(80 * 0.4) = 32 */
    a[0] = F(80 * 0.4);
    expect_call("int", a, 1, I(32));
    a[0] = I(-1);
    expect_call_error("sqrt", a, 1, "sqrt of a negative number (-1)");
    a[0] = I(0);
    expect_call_error("log", a, 1, "log of 0");
    a[0] = I(1000);
    expect_call_error("exp", a, 1, "exp(1000) is not a finite number");
    a[0] = F(1e300);
    expect_call_error("int", a, 1, "does not fit in a 64-bit integer");
    expect_call_error("min", a, 1, "min takes 2 arguments, got 1");
    a[0] = S("x");
    expect_call_error("abs", a, 1, "abs needs numbers, argument 1 is a string");
    /* the table the checker consults */
    assert_non_null(mgc_scalar_fn_find("sqrt"));
    assert_null(mgc_scalar_fn_find("linear"));
    const char *names[32];
    assert_int_equal(mgc_scalar_fn_names(names, 32), 10);
}

/* ---- through the compiler: a let's value shows as a weight's row count ---- */

/* Compiles a spec whose hidden linear has out=EXPR (with `lets` before it)
 * against tests/specs/compile/tiny.json. */
static void compile_out(const char *lets, const char *expr, mgc_test_result *r)
{
    char path[4096], text[8192];
    snprintf(path, sizeof path, "%s/spec.graph", mgc_test_suite_dir);
    snprintf(text, sizeof text,
             "model \"test/math\" on cpu\n"
             "%s\n"
             "let n = %s\n"
             "forward(tokens) {\n"
             "  x = embedding(tokens, w\"e.weight\", vocab=config.vocab_size, dim=config.hidden_size)\n"
             "  u = linear(x, w\"a.weight\", out=n)\n"
             "  return linear(u, w\"lm_head.weight\", out=config.vocab_size)\n"
             "}\n",
             lets, expr);
    assert_int_equal(mgc_test_write_file(path, text, strlen(text)), 0);
    mgc_test_compile_simple(path, "tests/specs/compile/tiny.json", NULL, r);
}

static void expect_rows(const char *lets, const char *expr, int64_t want)
{
    mgc_test_result r;
    compile_out(lets, expr, &r);
    if (r.rc != 0)
        FAIL_WITH_DIAGS(&r, expr);
    int found = 0;
    for (size_t i = 0; i < r.ir.nweights; i++)
        if (strcmp(r.ir.weights[i].hf_name, "a.weight") == 0) {
            if (r.ir.weights[i].rows != want)
                fail_msg("out=%s gave %lld rows, expected %lld", expr, (long long)r.ir.weights[i].rows,
                         (long long)want);
            found = 1;
        }
    assert_true(found);
    mgc_test_result_free(&r);
}

/* The let on line 3 fails with `msg` at 3:col. */
static void expect_let_error(const char *expr, const char *msg, int col)
{
    mgc_test_result r;
    compile_out("", expr, &r);
    assert_int_not_equal(r.rc, 0);
    const mgc_diagnostic *g = mgc_test_find_diag(&r.d, MGC_ERROR, msg);
    if (!g)
        FAIL_WITH_DIAGS(&r, msg);
    assert_int_equal(g->span.line, 3);
    assert_int_equal(g->span.col, col);
    mgc_test_result_free(&r);
}

static void test_precedence_in_specs(void **state)
{
    (void)state;
    expect_rows("", "2 ** 3 ** 2", 512);            /* right-associative */
    expect_rows("", "-2 ** 2 + 8", 4);              /* -(2 ** 2) + 8 */
    expect_rows("", "2 ** -1 * 64", 32);            /* 0.5 * 64 */
    expect_rows("", "100 // 7 * 7 + 100 % 7", 100); /* // and % bind like * */
    expect_rows("", "-7 // 2 + 36", 32);            /* floor(-3.5) = -4 */
    expect_rows("", "int(config.hidden_size * 0.4)", 102);
    expect_rows("", "max(config.hidden_size // 16, 8) * 2", 32);
    expect_rows("", "floor(sqrt(1000.0))", 31);
    expect_rows("", "ceil(log(1000.0))", 7);
    expect_rows("", "8 if config.hidden_size == 256 and not config.tie_word_embeddings else 16", 8);
    expect_rows("", "8 if config.hidden_size < 256 or false else 16", 16);
    expect_rows("", "1 if 2 > 1 else 2 if 3 > 4 else 3", 1);
    expect_rows("", "(config.head_dim ?? 64) * 2", 128);
    expect_rows("", "config.x ?? 32 if 1 == 1 else 0", 32);
}

static void test_laziness(void **state)
{
    (void)state;
    /* the branch not taken is not evaluated: config.missing would be an error */
    expect_rows("", "config.missing if false else 48", 48);
    expect_rows("", "48 if true else config.missing", 48);
    /* and/or short-circuit */
    expect_rows("", "8 if false and config.missing == 1 else 16", 16);
    expect_rows("", "8 if true or config.missing == 1 else 16", 8);
    /* ?? binds tighter than ==: (config.hidden_act ?? "silu") == "silu" */
    expect_rows("", "8 if config.hidden_act ?? \"silu\" == \"silu\" else 16", 8);
    /* taken, the branch is evaluated */
    expect_let_error("config.missing if true else 48", "has no 'missing'", 9);
}

static void test_domain_errors_name_the_position(void **state)
{
    (void)state;
    expect_let_error("int(sqrt(-1))", "sqrt of a negative number (-1)", 13);
    expect_let_error("int(log(0))", "log of 0 (it needs a positive number)", 13);
    expect_let_error("1 // (2 - 2)", "division by zero (1 // 0)", 9);
    expect_let_error("int(10.0 ** 400)", "the power is not a finite number (inf)", 13);
    expect_let_error("2 ** 70", "integer overflow in 2 ** 70", 9);
    expect_let_error("8 if 1 else 16", "the condition of 'if' must be a boolean, not an integer", 14);
    expect_let_error("8 if not 1 else 16", "the operand of 'not' must be a boolean, not an integer", 18);
    expect_let_error("\"a\" < \"b\"", "'<' compares numbers; strings can only be compared with == and !=", 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_division),
        cmocka_unit_test(test_power_and_overflow),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_precedence_in_specs),
        cmocka_unit_test(test_laziness),
        cmocka_unit_test(test_domain_errors_name_the_position),
    };
    return cmocka_run_group_tests(tests, mgc_test_suite_dir_setup, mgc_test_suite_dir_teardown);
}
