/* test_accuracy_floors.c: a spec's `expect` floors and `mgc eval`'s
 * --expect-top1/--expect-top5/--expect-pcc/--no-expect (driver/accuracy_floors.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accuracy_floors.h"
#include "compile_helpers.h"

/* What mgc_floors_check prints, and how many floors it says were missed. */
static int check_text(const mgc_floors *f, double t1, double t5, double pcc, char *buf, size_t cap)
{
    FILE *out = fmemopen(buf, cap, "w");
    assert_non_null(out);
    int n = mgc_floors_check(f, t1, t5, pcc, out);
    fclose(out);
    return n;
}

static void test_check(void **state)
{
    (void)state;
    char buf[1024];
    mgc_floors f;
    mgc_floors_init(&f);
    assert_int_equal(check_text(&f, 0, 0, -1, buf, sizeof buf), 0); /* no floors: nothing asked */
    mgc_floors_set(&f, MGC_FLOOR_TOP1, 0.95, "spec line 7");
    mgc_floors_set(&f, MGC_FLOOR_PCC, 0.999, "--expect-pcc");
    assert_int_equal(check_text(&f, 0.23, 0.5, 0.9995, buf, sizeof buf), 1);
    assert_string_equal(buf, "mgc eval: FAILED: top1 0.2300 < expected 0.9500 (spec line 7)\n");
    assert_int_equal(check_text(&f, 0.95, 0.5, 0.998, buf, sizeof buf), 1); /* a floor met exactly is met */
    assert_string_equal(buf, "mgc eval: FAILED: pcc 0.9980 < expected 0.9990 (--expect-pcc)\n");
    assert_int_equal(check_text(&f, 0.0 / 0.0, 1, 1, buf, sizeof buf), 1); /* NaN misses */
}

static void test_from_spec(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/e.graph", mgc_test_suite_dir);
    const char *src = "model \"a/b\" on cpu\n\n# floors\nexpect top1=0.9 pcc=1\nforward(t) {\n  return t\n}\n";
    assert_int_equal(mgc_test_write_file(path, src, strlen(src)), 0);
    mgc_floors f;
    mgc_floors_init(&f);
    assert_int_equal(mgc_floors_from_spec(&f, path), 1);
    assert_true(f.v[MGC_FLOOR_TOP1] == 0.9);
    assert_true(f.v[MGC_FLOOR_TOP5] < 0);
    assert_true(f.v[MGC_FLOOR_PCC] == 1.0);
    assert_string_equal(f.from[MGC_FLOOR_TOP1], "spec line 4");
    mgc_floors_init(&f);
    assert_int_equal(mgc_floors_from_spec(&f, "no/such/spec.graph"), 0);
    assert_true(f.v[MGC_FLOOR_TOP1] < 0);
}

/* The SmolLM2 walkthrough's spec (imports made absolute) with `extra`
 * appended, compiled for the tiny Llama fixture; returns the plan path. */
static void compile_plan(const char *extra, char *plan, size_t cap)
{
    char *text = mgc_test_read_file("examples/smollm2-135m/n150.graph", NULL);
    assert_non_null(text);
    char lib[4096];
    assert_non_null(realpath("graphs/common/llama.graph", lib));
    const char *imp = strstr(text, "import \"");
    assert_non_null(imp);
    const char *eol = strchr(imp, '\n');
    char spec[4096], out[16384];
    snprintf(out, sizeof out, "%.*simport \"%s\"%s%s\n", (int)(imp - text), text, lib, eol, extra);
    free(text);
    snprintf(spec, sizeof spec, "%s/spec.graph", mgc_test_suite_dir);
    assert_int_equal(mgc_test_write_file(spec, out, strlen(out)), 0);
    snprintf(plan, cap, "%s/plan.yaml", mgc_test_suite_dir);
    char args[16384], *o = NULL, *e = NULL;
    snprintf(args, sizeof args, "compile %s --model tests/fixtures/llama32 --max-seq-len 64 -o %s", spec, plan);
    int rc = mgc_test_run_mgc(args, &o, &e);
    if (rc != 0)
        fail_msg("compile failed:\n%s", e ? e : "");
    free(o);
    free(e);
}

static int eval(const char *plan, const char *flags, char **out, char **err)
{
    char args[8192];
    snprintf(args, sizeof args,
             "eval %s --model tests/fixtures/llama32 --reference builtin --tokens 1,5,9,200,31,7,77,300 "
             "--max-new-tokens 8 %s",
             plan, flags);
    return mgc_test_run_mgc(args, out, err);
}

static void test_eval_floors(void **state)
{
    (void)state;
    char plan[4096], *out = NULL, *err = NULL;
    /* bf16 against the f32 builtin reference keeps every top token (the
     * walkthrough's top1 1.000); pcc stays below an exact 1 */
    compile_plan("expect top1=0.9 top5=1.0 pcc=1.0", plan, sizeof plan);
    int rc = eval(plan, "", &out, &err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "YT_METRICS={")); /* the report is printed first */
    assert_non_null(strstr(err, "mgc eval: FAILED: pcc 0.9"));
    assert_non_null(strstr(err, "< expected 1.0000 (spec line 26)")); /* the example has 25 lines; extra is the 26th */
    assert_null(strstr(err, "FAILED: top1"));
    free(out);
    free(err);
    /* a flag overrides the spec's floor */
    rc = eval(plan, "--expect-pcc 0.99", &out, &err);
    if (rc != 0)
        fail_msg("expected success:\n%s", err);
    free(out);
    free(err);
    rc = eval(plan, "--no-expect", &out, &err);
    assert_int_equal(rc, 0);
    free(out);
    free(err);
    /* a floor of the flags alone */
    compile_plan("", plan, sizeof plan);
    rc = eval(plan, "--expect-top1 1.0 --expect-pcc 1", &out, &err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "< expected 1.0000 (--expect-pcc)"));
    assert_null(strstr(err, "FAILED: top1"));
    free(out);
    free(err);
    rc = eval(plan, "--expect-top1 1.5", &out, &err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--expect-top1 takes a number in [0, 1], got '1.5'"));
    free(out);
    free(err);
}

/* Elaboration stores the floors in the IR, lowering copies them to the plan
 * (-1: none). */
static void test_ir_and_plan_carry_floors(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/f.graph", mgc_test_suite_dir);
    const char *src = "model \"a/b\" on cpu\nexpect top1=0.9 pcc=0.999\nforward(tokens) {\n"
                      "  x = embedding(tokens, w\"e.weight\", vocab=config.vocab_size, dim=config.hidden_size)\n"
                      "  return linear(x, w\"lm_head.weight\", out=config.vocab_size)\n}\n";
    assert_int_equal(mgc_test_write_file(path, src, strlen(src)), 0);
    mgc_test_result r;
    mgc_test_compile_simple(path, "tests/specs/compile/tiny.json", NULL, &r);
    if (r.rc != 0)
        FAIL_WITH_DIAGS(&r, "expected the compile to succeed");
    assert_true(r.ir.expect_top1 == 0.9 && r.ir.expect_top5 == -1 && r.ir.expect_pcc == 0.999);
    assert_true(r.plan.expect_top1 == 0.9 && r.plan.expect_top5 == -1 && r.plan.expect_pcc == 0.999);
    mgc_test_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_from_spec),
        cmocka_unit_test(test_ir_and_plan_carry_floors),
        cmocka_unit_test(test_eval_floors),
    };
    return cmocka_run_group_tests(tests, mgc_test_suite_dir_setup, mgc_test_suite_dir_teardown);
}
