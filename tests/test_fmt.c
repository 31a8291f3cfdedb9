/* test_fmt: `mgc fmt` is idempotent and preserves the tree on every spec
 * under graphs/ and tests/specs/; hand-written expected outputs for messy
 * inputs; --check and --write. */

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ast.h"
#include "commands.h"
#include "diag.h"
#include "fmt.h"
#include "parse.h"

static char *fmt_string(const char *src, size_t len)
{
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_ast_file *f = mgc_parse_string("t.graph", src, len, &d);
    assert_non_null(f);
    if (d.nerrors) {
        mgc_diags_print(&d, stderr, 0);
        fail_msg("syntax errors");
    }
    char *out = mgc_fmt(f);
    mgc_ast_free(f);
    mgc_diags_free(&d);
    return out;
}

/* fmt(x) reparses to the same tree and is a fixed point. */
static void check_round_trip(const char *label, const char *src, size_t len)
{
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_ast_file *f = mgc_parse_string(label, src, len, &d);
    assert_non_null(f);
    assert_int_equal(d.nerrors, 0);
    char *out = mgc_fmt(f);
    mgc_ast_file *g = mgc_parse_string("formatted", out, strlen(out), &d);
    if (d.nerrors) {
        mgc_diags_print(&d, stderr, 0);
        fail_msg("%s: formatted text does not parse:\n%s", label, out);
    }
    char *d1 = mgc_ast_dump(f), *d2 = mgc_ast_dump(g);
    if (strcmp(d1, d2) != 0)
        fail_msg("%s: tree changed by formatting\n%s\nvs\n%s", label, d1, d2);
    char *out2 = mgc_fmt(g);
    if (strcmp(out, out2) != 0)
        fail_msg("%s: not idempotent:\n%s\n---\n%s", label, out, out2);
    for (const char *line = out; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl); /* every line ends in a newline */
        line = nl + 1;
    }
    free(d1);
    free(d2);
    free(out);
    free(out2);
    mgc_ast_free(f);
    mgc_ast_free(g);
    mgc_diags_free(&d);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Every .graph under dir (recursively) that parses cleanly; returns how many. */
static int round_trip_tree(const char *dir)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += round_trip_tree(path);
            continue;
        }
        if (!ends_with(path, ".graph"))
            continue;
        mgc_diags d;
        mgc_diags_init(&d);
        mgc_ast_file *f = mgc_parse_file(path, &d);
        int ok = f && d.nerrors == 0;
        if (ok) {
            check_round_trip(path, f->source, f->source_len);
            n++;
        }
        mgc_ast_free(f);
        mgc_diags_free(&d);
    }
    closedir(dp);
    return n;
}

static void test_round_trip_all_specs(void **state)
{
    (void)state;
    assert_true(round_trip_tree("graphs") >= 6);
    assert_true(round_trip_tree("tests/specs") >= 4);
}

static void test_round_trip_snippets(void **state)
{
    (void)state;
    static const char *const snippets[] = {
        "",
        "# only a comment\n",
        "let a = 1",
        "let a = (1 - 2) - (3 - 4)\nlet b = a ?? (b ?? c)\nlet c = -(-a) * -(b + 1)\nlet d = (a * b) / (c / d)\n",
        "let e = (a + b).x[(c - 1)]\nlet s = \"q\\\"\\\\\\n\\t{x}\"\n",
        "def f() { return g() }\n",
        "def f(x) {\n\n\n  # c1\n\n  # c2\n  y = x  # t1\n  # inner\n  return y  # t2\n  # c3\n\n}  # after\n",
        "forward(t) {\n  for i in 0 .. n {  # loop\n    t = g(t,\n  # mid\n     i)  # end\n  }\n  return t\n}\n",
        "let a = 1; let b = 2  # both\n",
        "precision w\"a\\\"b*\"=bf16 weights=f32\ncache max_len=0x40 users=1_000\n",
        /* the scalar language */
        "let a = 2 ** 3 ** 2 // 4 % 3\nlet b = -2 ** -1\nlet c = 1 if x < 2 and not y >= 3 or z != 4 else 5 if w else 6\n",
        "let d = config.hidden_act == \"silu\" and config.x <= 1.5e-3\nlet e = int(sqrt(x) * pow(2, 3)) + min(a, b, c)\n",
        ("model \"a/b\" on cpu\nignore w\"*.rotary_emb.inv_freq\"  # not needed\nignore config.mlp_bias\n"
         "expect top1=0.95 top5=1.0 pcc=0.999\n"),
        "let f = (a if b else c) if (d if e else f) else g\nlet g = true or false\n",
    };
    for (size_t i = 0; i < sizeof snippets / sizeof snippets[0]; i++)
        check_round_trip("snippet", snippets[i], strlen(snippets[i]));
}

static void test_minimal_parentheses(void **state)
{
    (void)state;
    const char *src = "let a = ((1 + 2)) * (3 - (4 - 5)) + (6 * 7)\nlet b = (x ?? y) + 1\nlet c = -(x)\n";
    char *out = fmt_string(src, strlen(src));
    assert_string_equal(out, "let a = (1 + 2) * (3 - (4 - 5)) + 6 * 7\nlet b = (x ?? y) + 1\nlet c = -x\n");
    free(out);
    /* the scalar operators: Python's precedence, parentheses only where the
     * tree needs them (each expected line worked out by hand) */
    const char *src2 = "let a = (2 ** 3) ** 2\nlet b = 2 ** (3 ** 2)\nlet c = (-2) ** 2\nlet d = -(2 ** 2)\n"
                       "let e = (a if b else c) if d else (e if f else g)\nlet f = not (a == b)\nlet g = (not a) == b\n"
                       "let h = (a or b) and c\nlet i = a or (b and c)\nlet j = (a < b) == c\nlet k = (a ?? b) == c\n"
                       "let l = a ?? (b == c)\nlet m = ((a // b) * c) % d\nlet n = 2 ** (-1)\n";
    out = fmt_string(src2, strlen(src2));
    assert_string_equal(out, "let a = (2 ** 3) ** 2\nlet b = 2 ** 3 ** 2\nlet c = (-2) ** 2\nlet d = -2 ** 2\n"
                             "let e = (a if b else c) if d else e if f else g\nlet f = not a == b\nlet g = (not a) == b\n"
                             "let h = (a or b) and c\nlet i = a or b and c\nlet j = (a < b) == c\nlet k = a ?? b == c\n"
                             "let l = a ?? (b == c)\nlet m = a // b * c % d\nlet n = 2 ** -1\n");
    free(out);
}

static const char messy_expected[] =
    "import \"lib_small.graph\"  # trailing on import\n"
    "model \"org/messy\" on cpu\n"
    "cache max_len=64\n"
    "\n"
    "# a comment about rope\n"
    "\n"
    "let rope = rope_default(config.rope_theta, 64)\n"
    "let a = (1 + 2) * (3 - (4 - 5))\n"
    "let b = --1 ?? (2 ?? 3)\n"
    "def f(x, p) {  # header comment\n"
    "  y = linear(x, w\"{p}.w\", out=config.hidden_size) @col @weights=bf16\n"
    "\n"
    "  # before return\n"
    "  return y + x  # trailing\n"
    "}\n"
    "forward(tokens) {\n"
    "  x = embedding(tokens, w\"e\", vocab=8, dim=8)\n"
    "  return linear(f(x, \"m\"), w\"lm_head.weight\") @col\n"
    "  # end of forward\n"
    "}\n"
    "# end of file\n";

static void test_messy_file(void **state)
{
    (void)state;
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_ast_file *f = mgc_parse_file("tests/specs/messy.graph", &d);
    assert_non_null(f);
    char *out = mgc_fmt(f);
    assert_string_equal(out, messy_expected);
    free(out);
    mgc_ast_free(f);
    mgc_diags_free(&d);
}

static const char wrap_input[] =
    "def f(x, p) {\n"
    "  y = some_function_with_a_long_name(x, w\"{p}.self_attn.q_proj.weight\", w\"{p}.self_attn.k_proj.weight\",   # note\n"
    "      w\"{p}.self_attn.v_proj.weight\")  # second\n"
    "  return x + another_function(aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbb, cccccccccccccccccccc, ddddddddddddd, eeeeeeeee) @row\n"
    "}\n"
    "let zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz = a_very_long_function_name_here(1111111111, 2222222222, 3333333333, 4444444444)\n";

static const char wrap_expected[] =
    "def f(x, p) {\n"
    "  # second\n"
    "  y = some_function_with_a_long_name(x, w\"{p}.self_attn.q_proj.weight\",\n"
    "                                     w\"{p}.self_attn.k_proj.weight\", w\"{p}.self_attn.v_proj.weight\")  # note\n"
    "  return x + another_function(aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbb, cccccccccccccccccccc,\n"
    "                              ddddddddddddd, eeeeeeeee) @row\n"
    "}\n"
    "let zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz = a_very_long_function_name_here(\n"
    "    1111111111, 2222222222, 3333333333, 4444444444)\n";

static void test_wrapping(void **state)
{
    (void)state;
    char *out = fmt_string(wrap_input, strlen(wrap_input));
    assert_string_equal(out, wrap_expected);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (!strchr(line, '#'))
            assert_true(strlen(line) <= MGC_FMT_WIDTH);
    free(out);
    check_round_trip("wrap", wrap_input, strlen(wrap_input));
}

static void test_blank_lines_and_comments(void **state)
{
    (void)state;
    const char *src = "\n\n# lead\n\n\n\nlet a = 1   # t\n\n\n\nlet b = 2\nlet c = 3\n\n\n";
    char *out = fmt_string(src, strlen(src));
    assert_string_equal(out, "# lead\n\nlet a = 1  # t\n\nlet b = 2\nlet c = 3\n");
    free(out);
}

static int run_fmt(int argc, char **argv)
{
    FILE *saved_out = stdout, *saved_err = stderr;
    stdout = fopen("/dev/null", "w");
    stderr = fopen("/dev/null", "w");
    int rc = mgc_cmd_fmt(argc, argv);
    fclose(stdout);
    fclose(stderr);
    stdout = saved_out;
    stderr = saved_err;
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_fmt_command(void **state)
{
    (void)state;
    char dir[] = "/tmp/mgc_fmt_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char messy[4200], bad[4200];
    snprintf(messy, sizeof messy, "%s/messy.graph", dir);
    snprintf(bad, sizeof bad, "%s/bad.graph", dir);
    char *src = slurp("tests/specs/messy.graph");
    spit(messy, src);
    free(src);
    assert_int_equal(chmod(messy, 0640), 0);

    char *check[] = {"fmt", "--check", messy, NULL};
    assert_int_equal(run_fmt(3, check), 1);
    char *write[] = {"fmt", "--write", messy, NULL};
    assert_int_equal(run_fmt(3, write), 0);
    char *now = slurp(messy);
    assert_string_equal(now, messy_expected);
    free(now);
    struct stat st;
    assert_int_equal(stat(messy, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(run_fmt(3, check), 0);

    /* a file with syntax errors is never rewritten */
    spit(bad, "let a = (1 +\nlet   b=2\n");
    char *wbad[] = {"fmt", "--write", bad, NULL};
    assert_int_equal(run_fmt(3, wbad), 1);
    now = slurp(bad);
    assert_string_equal(now, "let a = (1 +\nlet   b=2\n");
    free(now);

    char *usage1[] = {"fmt", NULL};
    assert_int_equal(run_fmt(1, usage1), 2);
    char *usage2[] = {"fmt", "--bogus", messy, NULL};
    assert_int_equal(run_fmt(3, usage2), 2);
    char *missing[] = {"fmt", "/nonexistent/x.graph", NULL};
    assert_int_equal(run_fmt(2, missing), 1);

    /* no temporary files left behind */
    DIR *dp = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dp)))
        n += e->d_name[0] != '.';
    closedir(dp);
    assert_int_equal(n, 2);
    unlink(messy);
    unlink(bad);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_specs),
        cmocka_unit_test(test_round_trip_snippets),
        cmocka_unit_test(test_minimal_parentheses),
        cmocka_unit_test(test_messy_file),
        cmocka_unit_test(test_wrapping),
        cmocka_unit_test(test_blank_lines_and_comments),
        cmocka_unit_test(test_fmt_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
