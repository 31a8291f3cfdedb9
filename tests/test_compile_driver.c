/* `mgc compile`, the command: exit codes (0 ok, 1 bad input, 2 bad usage),
 * atomic -o (a failing compile leaves an existing plan untouched and creates
 * no file), --model against the fixture checkpoints (nothing unused, a
 * missing tensor is an error, an extra one a warning), --system and
 * --systems-dir, and --emit.  Runs the binary named by $MGC (the Makefile
 * sets it; default build/mgc) from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"
#include "e2e_helpers.h"
#include "safetensors.h"

#define SPECS "tests/specs/compile/"

typedef struct run {
    int rc;
    char *out, *err;
} run;

static run mgc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static run mgc(const char *fmt, ...)
{
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    run r;
    r.rc = mgc_test_run_mgc(args, &r.out, &r.err);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    return r;
}

static void run_free(run *r)
{
    free(r->out);
    free(r->err);
}

static void expect_rc(const run *r, int rc)
{
    if (r->rc != rc)
        fail_msg("exit status %d, expected %d; stderr:\n%s", r->rc, rc, r->err);
}

static void expect_err(const run *r, const char *needle)
{
    if (!strstr(r->err, needle))
        fail_msg("stderr lacks \"%s\":\n%s", needle, r->err);
}

/* Names in `dir` (but . and ..), as one string "a b c ". */
static char *listing(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *s = calloc(1, 4096);
    assert_non_null(s);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        strncat(s, e->d_name, 4096 - strlen(s) - 2);
        strcat(s, " ");
    }
    closedir(d);
    return s;
}

static int setup(void **state)
{
    (void)state;
    if (!mgc_test_file_exists(mgc_test_mgc_path())) {
        print_error("no mgc binary at %s (set MGC)\n", mgc_test_mgc_path());
        return -1;
    }
    return 0;
}

/* ---- exit codes ------------------------------------------------------------ */

static void test_exit_codes(void **state)
{
    (void)state;
    const mgc_test_bringup *b = mgc_test_bringup_named("llama32");
    /* 0: a plan on stdout */
    run r = mgc("compile %s --config %s", b->spec, b->config);
    expect_rc(&r, 0);
    assert_true(strncmp(r.out, "mgc_plan: 2\n", 12) == 0);
    run_free(&r);
    /* 1: bad input (a spec error, a missing config, a plan that does not fit) */
    r = mgc("compile " SPECS "heads.graph --config " SPECS "tiny.json");
    expect_rc(&r, 1);
    expect_err(&r, "tests/specs/compile/heads.graph:6:7: error: heads: a width of 256 does not split into 5 heads");
    assert_string_equal(r.out, "");
    run_free(&r);
    r = mgc("compile %s --config /nonexistent/config.json", b->spec);
    expect_rc(&r, 1);
    expect_err(&r, "/nonexistent/config.json");
    run_free(&r);
    r = mgc("compile %s --config %s --system n150 --weights-dtype bf16",
            mgc_test_bringup_named("mistral")->spec, mgc_test_bringup_named("mistral")->config);
    expect_rc(&r, 1);
    expect_err(&r, "the plan does not fit on n150");
    run_free(&r);
    /* past the spec's cap is allowed, but a cache that does not fit is refused */
    r = mgc("compile %s --config %s --max-seq-len 4000000", b->spec, b->config);
    expect_rc(&r, 1);
    expect_err(&r, "does not fit");
    run_free(&r);
    r = mgc("compile %s --config %s --system t3001", b->spec, b->config);
    expect_rc(&r, 1);
    expect_err(&r, "t3001");
    run_free(&r);
    /* 2: bad usage */
    const char *usage[] = {
        "compile",
        "compile %s",                                         /* neither --model nor --config */
        "compile %s --config x.json --model y",               /* both */
        "compile %s --config x.json --max-seq-len abc",
        "compile %s --config x.json --max-seq-len 0",
        "compile %s --config x.json --batch -3",
        "compile %s --config x.json --weights-dtype bf9",
        "compile %s --config x.json --activations-dtype bf8_b",
        "compile %s --config x.json --emit asm",
        "compile %s --config x.json --frobnicate",
        "compile %s %s --config x.json",                      /* two specs */
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        r = mgc(usage[i], b->spec, b->spec);
        if (r.rc != 2)
            fail_msg("'%s': exit status %d, expected 2; stderr:\n%s", usage[i], r.rc, r.err);
        assert_true(strlen(r.err) > 0);
        run_free(&r);
    }
    r = mgc("compile --help");
    expect_rc(&r, 0);
    assert_non_null(strstr(r.out, "usage: mgc compile"));
    run_free(&r);
}

/* ---- atomic -o --------------------------------------------------------------------- */

static void test_output_atomic(void **state)
{
    (void)state;
    const mgc_test_bringup *b = mgc_test_bringup_named("llama32");
    char *dir = mgc_test_tempdir("atomic");
    char plan[4096], fresh[4096];
    snprintf(plan, sizeof plan, "%s/plan.yaml", dir);
    snprintf(fresh, sizeof fresh, "%s/fresh.yaml", dir);
    const char *old = "an existing plan\n";
    assert_int_equal(mgc_test_write_file(plan, old, strlen(old)), 0);

    /* failures of every stage: parse/check, elaboration, memory */
    const char *fails[] = {
        "compile " SPECS "op_typo.graph --config " SPECS "tiny.json -o %s",
        "compile " SPECS "heads.graph --config " SPECS "tiny.json -o %s",
        /* one command over two lines: parenthesised so clang sees the concatenation is meant */
        ("compile graphs/mistralai/Mistral-7B-Instruct-v0.3/t3000.graph --config "
         "graphs/mistralai/Mistral-7B-Instruct-v0.3/config.json --system n150 --weights-dtype bf16 -o %s"),
    };
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        run r = mgc(fails[i], plan);
        expect_rc(&r, 1);
        run_free(&r);
        char *now = mgc_test_read_file(plan, NULL);
        assert_non_null(now);
        assert_string_equal(now, old); /* untouched */
        free(now);
        r = mgc(fails[i], fresh);
        expect_rc(&r, 1);
        run_free(&r);
        assert_false(mgc_test_file_exists(fresh)); /* not created */
        char *ls = listing(dir);
        assert_string_equal(ls, "plan.yaml "); /* and no temporary left behind */
        free(ls);
    }
    /* success replaces the file with the plan, the same bytes as on stdout */
    run r = mgc("compile %s --config %s -o %s", b->spec, b->config, plan);
    expect_rc(&r, 0);
    expect_err(&r, "mgc compile: wrote");
    assert_string_equal(r.out, "");
    run_free(&r);
    r = mgc("compile %s --config %s", b->spec, b->config);
    expect_rc(&r, 0);
    char *written = mgc_test_read_file(plan, NULL);
    assert_non_null(written);
    assert_string_equal(written, r.out);
    free(written);
    run_free(&r);
    /* a directory that does not exist: an error, nothing written */
    r = mgc("compile %s --config %s -o %s/no/such/dir/p.yaml", b->spec, b->config, dir);
    expect_rc(&r, 1);
    run_free(&r);
    char *ls = listing(dir);
    assert_string_equal(ls, "plan.yaml ");
    free(ls);
    mgc_test_rmtree(dir);
    free(dir);
}

/* ---- --model ------------------------------------------------------------------------ */

/* Every bringup against the tiny checkpoint of its architecture: every
 * tensor is bound (no warning at all), and the plan reads back. */
static void test_model_fixtures(void **state)
{
    (void)state;
    char *dir = mgc_test_tempdir("fixtures");
    for (int i = 0; i < MGC_TEST_NBRINGUPS; i++) {
        const mgc_test_bringup *b = &mgc_test_bringups[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.yaml", dir, b->name);
        run r = mgc("compile %s --model %s -o %s", b->spec, b->fixture, path);
        expect_rc(&r, 0);
        if (strstr(r.err, "warning"))
            fail_msg("%s: %s", b->name, r.err);
        run_free(&r);
        mgc_plan p;
        mgc_error e = {{0}};
        if (mgc_plan_read(path, &p, &e) != 0)
            fail_msg("%s", e.msg);
        assert_string_equal(p.system, b->system);
        assert_int_equal(p.hidden, 256);
        assert_int_equal(p.vocab, 512);
        assert_int_equal(p.n_layers, 2);
        mgc_plan_free(&p);
    }
    mgc_test_rmtree(dir);
    free(dir);
}

/* A copy of fixture `name` in a temp dir whose model.safetensors lacks
 * `drop` (NULL: none) and has `extra` (NULL: none) as a 1-D BF16 tensor. */
static char *fixture_copy(const char *name, const char *drop, const char *extra)
{
    char src[256];
    snprintf(src, sizeof src, "tests/fixtures/%s", name);
    static const uint16_t ones[8] = {0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80};
    rt_st_entry x = {.name = extra, .dtype = RT_ST_BF16, .ndim = 1, .shape = {8}, .data = ones, .nbytes = sizeof ones};
    return e2e_fixture_variant(src, drop, extra ? &x : NULL);
}

static void test_model_missing_tensor(void **state)
{
    (void)state;
    const mgc_test_bringup *b = mgc_test_bringup_named("mistral");
    char *dir = fixture_copy("mistral", "model.layers.1.mlp.up_proj.weight", NULL);
    char out[4096];
    snprintf(out, sizeof out, "%s/plan.yaml", dir);
    run r = mgc("compile %s --model %s -o %s", b->spec, dir, out);
    expect_rc(&r, 1);
    char want[4096];
    snprintf(want, sizeof want, "error: weight 'model.layers.1.mlp.up_proj.weight' is not in the checkpoint %s", dir);
    expect_err(&r, want);
    /* it points at the template in the shared library */
    expect_err(&r, "graphs/common/llama.graph:");
    run_free(&r);
    assert_false(mgc_test_file_exists(out));
    mgc_test_rmtree(dir);
    free(dir);
}

/* A copy of bringup `b`'s spec in `dir` with `extra` appended, its import
 * made absolute so it still finds the spec library. */
static void spec_copy(const mgc_test_bringup *b, const char *dir, const char *extra, char *path, size_t cap)
{
    char *text = mgc_test_read_file(b->spec, NULL);
    assert_non_null(text);
    char lib[4096];
    assert_non_null(realpath("graphs/common/llama.graph", lib));
    const char *imp = strstr(text, "import \"");
    assert_non_null(imp);
    const char *eol = strchr(imp, '\n');
    size_t n = strlen(text) + strlen(lib) + strlen(extra) + 64;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*simport \"%s\"%s\n%s\n", (int)(imp - text), text, lib, eol, extra); /* a blank line, then extra */
    snprintf(path, cap, "%s/spec.graph", dir);
    assert_int_equal(mgc_test_write_file(path, out, strlen(out)), 0);
    free(out);
    free(text);
}

/* A checkpoint tensor the spec does not read is an error (it may be a bias
 * or a norm the spec forgot), unless an `ignore w"..."` matches it. */
static void test_model_unused_tensor(void **state)
{
    (void)state;
    const mgc_test_bringup *b = mgc_test_bringup_named("qwen3");
    char *dir = fixture_copy("qwen3", NULL, "model.layers.0.self_attn.rotary_emb.inv_freq");
    char out[4096], spec[4096];
    snprintf(out, sizeof out, "%s/plan.yaml", dir);
    run r = mgc("compile %s --model %s -o %s", b->spec, dir, out);
    expect_rc(&r, 1);
    expect_err(&r, "error: 1 checkpoint tensor is never read by the spec: "
                   "'model.layers.0.self_attn.rotary_emb.inv_freq'");
    expect_err(&r, "add e.g. 'ignore w\"model.layers.0.self_attn.rotary_emb.inv_freq\"'");
    run_free(&r);
    assert_false(mgc_test_file_exists(out));
    /* ignored by a glob: compiles */
    spec_copy(b, dir, "ignore w\"model.layers.*.rotary_emb.inv_freq\"", spec, sizeof spec);
    r = mgc("compile %s --model %s -o %s", spec, dir, out);
    expect_rc(&r, 0);
    run_free(&r);
    assert_true(mgc_test_file_exists(out));
    /* a pattern that matches nothing is a warning at the pattern */
    spec_copy(b, dir, "ignore w\"model.layers.*.rotary_emb.inv_freq\"\nignore w\"*.bias\"", spec, sizeof spec);
    r = mgc("compile %s --model %s -o %s", spec, dir, out);
    expect_rc(&r, 0);
    char want[4200];
    snprintf(want, sizeof want, "%s:41:8: warning: ignore w\"*.bias\" matches no tensor of the checkpoint %s", spec,
             dir);
    expect_err(&r, want);
    run_free(&r);
    mgc_test_rmtree(dir);
    free(dir);
}

/* A bringup against another architecture's checkpoint. */
static void test_model_wrong_architecture(void **state)
{
    (void)state;
    /* Mistral's spec binds q_proj/k_proj/v_proj; Phi-3's checkpoint fuses them */
    run r = mgc("compile %s --model tests/fixtures/phi3", mgc_test_bringup_named("mistral")->spec);
    expect_rc(&r, 1);
    expect_err(&r, "error: weight 'model.layers.0.self_attn.q_proj.weight' is not in the checkpoint "
                   "tests/fixtures/phi3");
    run_free(&r);
    /* Phi-3's spec needs LongRoPE settings Llama's config.json does not have */
    r = mgc("compile %s --model tests/fixtures/llama32", mgc_test_bringup_named("phi3")->spec);
    expect_rc(&r, 1);
    expect_err(&r, "tests/fixtures/llama32/config.json has no 'original_max_position_embeddings'");
    run_free(&r);
}

/* ---- --system, --systems-dir, --emit ------------------------------------------------------ */

static void test_system_options(void **state)
{
    (void)state;
    const mgc_test_bringup *b = mgc_test_bringup_named("phi3");
    run r = mgc("compile %s --model %s --system n150", b->spec, b->fixture);
    expect_rc(&r, 0);
    assert_non_null(strstr(r.out, "name: \"n150\""));
    assert_null(strstr(r.out, "all_reduce"));
    run_free(&r);
    r = mgc("compile %s --model %s --system cpu", b->spec, b->fixture);
    expect_rc(&r, 0);
    assert_non_null(strstr(r.out, "name: \"cpu\""));
    run_free(&r);
    /* a mesh the query heads (32) do not divide */
    char *dir = mgc_test_tempdir("sys");
    char path[4096];
    snprintf(path, sizeof path, "%s/t12.yaml", dir);
    const char *yaml = "name: t12\ndevice: wormhole_b0\nmesh: [1, 12]\ntopology: linear\n"
                       "dram: 12884901888\ntile: 32\n";
    assert_int_equal(mgc_test_write_file(path, yaml, strlen(yaml)), 0);
    const mgc_test_bringup *l = mgc_test_bringup_named("llama32");
    r = mgc("compile %s --config %s --system t12 --systems-dir %s", l->spec, l->config, dir);
    expect_rc(&r, 1);
    expect_err(&r, "32 heads do not split over the 12 devices of t12");
    run_free(&r);
    mgc_test_rmtree(dir);
    free(dir);
}

static void test_emit(void **state)
{
    (void)state;
    const mgc_test_bringup *b = mgc_test_bringup_named("llama32");
    run r = mgc("compile %s --model %s --emit ir", b->spec, b->fixture);
    expect_rc(&r, 0);
    assert_non_null(strstr(r.out, "= all_reduce("));
    assert_non_null(strstr(r.out, "# inserted"));
    /* both halves of the sharding: the annotations elaboration recorded and
     * the layouts the sharding pass decided */
    assert_non_null(strstr(r.out, "   # @col"));
    assert_non_null(strstr(r.out, "   # @row"));
    assert_non_null(strstr(r.out, "   # @heads"));
    assert_non_null(strstr(r.out, " bf16 partial"));
    assert_non_null(strstr(r.out, " split(dim 1, padded"));
    run_free(&r);
    r = mgc("compile %s --model %s --emit dot", b->spec, b->fixture);
    expect_rc(&r, 0);
    assert_non_null(strstr(r.out, "digraph"));
    assert_non_null(strstr(r.out, "all_reduce"));
    run_free(&r);
    r = mgc("compile %s --model %s --emit ast", b->spec, b->fixture);
    expect_rc(&r, 0);
    assert_true(strlen(r.out) > 0);
    run_free(&r);
    /* --emit ir to a file */
    char *dir = mgc_test_tempdir("emit");
    char path[4096];
    snprintf(path, sizeof path, "%s/x.ir", dir);
    r = mgc("compile %s --model %s --emit ir -o %s", b->spec, b->fixture, path);
    expect_rc(&r, 0);
    run_free(&r);
    char *ir = mgc_test_read_file(path, NULL);
    assert_non_null(ir);
    assert_non_null(strstr(ir, "all_reduce"));
    free(ir);
    mgc_test_rmtree(dir);
    free(dir);
}

/* Two runs of the command give the same bytes. */
static void test_driver_deterministic(void **state)
{
    (void)state;
    const mgc_test_bringup *b = mgc_test_bringup_named("phi3");
    run r1 = mgc("compile %s --config %s", b->spec, b->config);
    run r2 = mgc("compile %s --config %s", b->spec, b->config);
    expect_rc(&r1, 0);
    expect_rc(&r2, 0);
    assert_true(strlen(r1.out) > 100000);
    assert_string_equal(r1.out, r2.out);
    run_free(&r1);
    run_free(&r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_output_atomic),
        cmocka_unit_test(test_model_fixtures),
        cmocka_unit_test(test_model_missing_tensor),
        cmocka_unit_test(test_model_unused_tensor),
        cmocka_unit_test(test_model_wrong_architecture),
        cmocka_unit_test(test_system_options),
        cmocka_unit_test(test_emit),
        cmocka_unit_test(test_driver_deterministic),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
