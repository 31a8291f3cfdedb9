/* test_diagnostics: every diagnostic of the lexer, parser, program loader and
 * checker, by message text, line and column; the limits (nesting, file size,
 * error count); the printer's layout; "did you mean". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mutate.h"

#include "ast.h"
#include "check.h"
#include "commands.h"
#include "diag.h"
#include "parse.h"
#include "program.h"

/* Loads and checks `src` as if it were the file "spec.graph" in tests/specs
 * (so relative imports resolve there); the diagnostics are left in d. */
static void run(const char *src, size_t len, mgc_diags *d)
{
    mgc_diags_init(d);
    mgc_program *p = mgc_program_load_string("tests/specs/spec.graph", src, len, d);
    if (p)
        mgc_check_program(p, d);
    mgc_program_free(p);
}

static void dump_all(const mgc_diags *d)
{
    mgc_diags_print(d, stderr, 0);
}

/* Asserts that a diagnostic with exactly `msg` is at line:col. */
static void expect_in(const mgc_diags *d, const char *msg, int line, int col)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->items[i].msg, msg) == 0) {
            if (d->items[i].span.line != line || d->items[i].span.col != col) {
                dump_all(d);
                fail_msg("'%s' at %d:%d, expected %d:%d", msg, d->items[i].span.line, d->items[i].span.col, line,
                         col);
            }
            return;
        }
    dump_all(d);
    fail_msg("no diagnostic '%s'", msg);
}

static const char *hint_of(const mgc_diags *d, const char *msg)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->items[i].msg, msg) == 0)
            return d->items[i].hint;
    return NULL;
}

static void expect_n(const char *src, size_t len, const char *msg, int line, int col)
{
    mgc_diags d;
    run(src, len, &d);
    expect_in(&d, msg, line, col);
    assert_true(d.nerrors >= 1);
    mgc_diags_free(&d);
}

static void expect(const char *src, const char *msg, int line, int col) { expect_n(src, strlen(src), msg, line, col); }

static void expect_hint(const char *src, const char *msg, int line, int col, const char *hint)
{
    mgc_diags d;
    run(src, strlen(src), &d);
    expect_in(&d, msg, line, col);
    const char *h = hint_of(&d, msg);
    if (!h || strcmp(h, hint) != 0)
        fail_msg("hint of '%s' is '%s', expected '%s'", msg, h ? h : "(none)", hint);
    mgc_diags_free(&d);
}

static void expect_clean(const char *src)
{
    mgc_diags d;
    run(src, strlen(src), &d);
    if (d.nerrors) {
        dump_all(&d);
        fail_msg("unexpected errors");
    }
    mgc_diags_free(&d);
}

/* ---- lexer ---- */

static void test_lexer(void **state)
{
    (void)state;
    expect("let a = 1 $ 2\n", "unexpected character '$'", 1, 11);
    expect_n("let a = 1\0\n", 11, "unexpected byte 0x00", 1, 10);
    expect("let a = \xff\xfe 1\n", "unexpected byte 0xff", 1, 9);
    expect("let \xc3\xa9 = 1\n", "unexpected character '\xc3\xa9'", 1, 5);
    expect_hint("let s = \"abc\nlet t = 2\n", "unterminated string", 1, 9,
                "strings end on the line they start on; close it with '\"'");
    expect("def f() {\n  return w\"abc\n}\n", "unterminated string", 2, 11);
    expect("let s = \"a\\qb\"\n", "unknown escape '\\q' in string", 1, 11);
    expect_n("let s = \"a\0b\"\n", 14, "unexpected byte 0x00 in string", 1, 11);
    expect("let a = 99999999999999999999\n", "integer literal too large (the limit is 2^63-1)", 1, 9);
    /* a string may hold any bytes but NUL; so may a comment */
    expect_clean("let s = \"\xff\xc3\xa9\"  # \xfe\n");
}

static void test_binary_garbage(void **state)
{
    (void)state;
    unsigned char buf[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    mgc_diags d;
    run((const char *)buf, sizeof buf, &d);
    assert_true(d.nerrors >= 1);
    for (size_t i = 0; i < d.n; i++)
        if (d.items[i].span.file)
            assert_true(d.items[i].span.line >= 1 && d.items[i].span.col >= 1);
    mgc_diags_free(&d);
}

/* ---- parser ---- */

static void test_parser_messages(void **state)
{
    (void)state;
    expect("def f(x) {\n  y = g(x y)\n  return y\n}\n",
           "expected an operator, '=', '(', ')', ',', '.' or '[' but found 'y'", 2, 11);
    expect("def f(x) {\n  y = g(x, out=3 @col\n  return y\n}\n",
           "expected an operator, ')', ',', '.' or '[' but found '@'", 2, 18);
    expect("let a = 1 +\n", "expected an expression but found end of line", 1, 12);
    expect("let = 3\n", "expected name but found '='", 1, 5);
    expect("model \"x\" t3000\n", "expected 'on' but found 't3000'", 1, 11);
    expect("import foo\n", "expected string but found 'foo'", 1, 8);
    expect("let d = )\n", "expected an expression but found ')'", 1, 9);
    expect_hint("let b = (2\nlet c = 3\n", "expected an operator, ')', '.' or '[' but found end of line", 1, 11,
                "the '(' at line 1, column 9 is not closed");
    expect_hint("def f(x) {\n  return x\n", "expected '}' but found end of file", 3, 1,
                "the '{' at line 1, column 10 is not closed");
    expect("x = linear(a, b)) @col\n", "expected an operator, end of line, ';', '@', '.' or '[' but found ')'", 1, 17);
}

static void test_several_errors_in_one_run(void **state)
{
    (void)state;
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_program *p = mgc_program_load("tests/specs/syntax_errors.graph", &d);
    assert_non_null(p);
    mgc_program_free(p);
    /* one per bad statement: lines 1, 2, 5 and 8 */
    int lines[4] = {0};
    for (size_t i = 0; i < d.n; i++) {
        int l = d.items[i].span.line;
        lines[0] |= l == 1;
        lines[1] |= l == 2;
        lines[2] |= l == 5;
        lines[3] |= l == 8;
    }
    assert_true(lines[0] && lines[1] && lines[2] && lines[3]);
    assert_true(d.nerrors >= 4);
    mgc_diags_free(&d);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    assert_non_null(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + n * ul, tail, tl + 1);
    *len = hl + ul * n + tl;
    return s;
}

static void test_nesting_limit(void **state)
{
    (void)state;
    size_t len;
    char *s = repeat("let a = ", "(", 10000, "1\n", &len);
    expect_n(s, len, "too deeply nested (the limit is 256 levels)", 1, 9 + 256);
    free(s);
    s = repeat("let a = ", "-", 10000, "1\n", &len);
    expect_n(s, len, "too deeply nested (the limit is 256 levels)", 1, 9 + 256);
    free(s);
    s = repeat("let a = 1", " + 1", 10000, "\n", &len);
    mgc_diags d;
    run(s, len, &d);
    assert_true(d.nerrors >= 1);
    assert_string_equal(d.items[0].msg, "too deeply nested (the limit is 256 levels)");
    mgc_diags_free(&d);
    free(s);
    s = repeat("forward(t) {\n", "for i in 0 .. 2 {\n", 10000, "", &len);
    run(s, len, &d);
    assert_true(d.nerrors >= 1);
    assert_string_equal(d.items[0].msg, "too deeply nested (the limit is 256 levels)");
    mgc_diags_free(&d);
    free(s);
    /* 255 levels are fine */
    s = repeat("let a = ", "(", 255, "1", &len);
    char *t = malloc(len + 300);
    memcpy(t, s, len);
    memset(t + len, ')', 255);
    strcpy(t + len + 255, "\n");
    expect_clean(t);
    free(t);
    free(s);
}

static void test_file_size_limit(void **state)
{
    (void)state;
    char path[] = "/tmp/mgc_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 50L * 1024 * 1024), 0);
    close(fd);
    mgc_diags d;
    mgc_diags_init(&d);
    clock_t t0 = clock();
    mgc_ast_file *f = mgc_parse_file(path, &d);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_null(f);
    assert_int_equal(d.nerrors, 1);
    char want[256];
    snprintf(want, sizeof want, "'%s' is too large (52428800 bytes; a spec is at most 8 MiB)", path);
    assert_string_equal(d.items[0].msg, want);
    assert_true(secs < 0.5);
    mgc_diags_free(&d);
    mgc_diags_init(&d);
    assert_null(mgc_program_load(path, &d));
    assert_int_equal(d.nerrors, 1);
    mgc_diags_free(&d);
    unlink(path);
}

static void test_too_many_errors(void **state)
{
    (void)state;
    size_t len;
    char *s = repeat("", "let = 1\n", 200, "", &len);
    mgc_diags d;
    run(s, len, &d);
    free(s);
    assert_true(d.nerrors > 50);
    assert_int_equal(d.n, 51);
    assert_string_equal(d.items[50].msg, "too many errors (stopped after 50)");
    assert_int_equal(d.items[49].span.line, 50);
    mgc_diags_free(&d);
}

/* ---- program loader ---- */

static void test_missing_and_unreadable(void **state)
{
    (void)state;
    mgc_diags d;
    mgc_diags_init(&d);
    assert_null(mgc_program_load("/nonexistent/x.graph", &d));
    assert_int_equal(d.nerrors, 1);
    assert_string_equal(d.items[0].msg, "cannot read '/nonexistent/x.graph': No such file or directory");
    assert_null(d.items[0].span.file);
    mgc_diags_free(&d);
    mgc_diags_init(&d);
    assert_null(mgc_parse_file("/nonexistent/x.graph", &d));
    assert_string_equal(d.items[0].msg, "cannot read '/nonexistent/x.graph': No such file or directory");
    mgc_diags_free(&d);
    mgc_diags_init(&d);
    assert_null(mgc_parse_file("tests/specs", &d));
    assert_string_equal(d.items[0].msg, "cannot read 'tests/specs': it is a directory");
    mgc_diags_free(&d);
}

static void expect_file(const char *path, const char *msg, const char *file, int line, int col)
{
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_program *p = mgc_program_load(path, &d);
    assert_non_null(p);
    mgc_check_program(p, &d);
    mgc_program_free(p);
    expect_in(&d, msg, line, col);
    for (size_t i = 0; i < d.n; i++)
        if (strcmp(d.items[i].msg, msg) == 0)
            assert_string_equal(d.items[i].span.file, file);
    mgc_diags_free(&d);
}

static void test_imports(void **state)
{
    (void)state;
    expect_file("tests/specs/import_self.graph", "'tests/specs/import_self.graph' imports itself",
                "tests/specs/import_self.graph", 1, 8);
    expect_file("tests/specs/cycle_a.graph",
                "import cycle: tests/specs/cycle_a.graph -> tests/specs/cycle_b.graph -> tests/specs/cycle_a.graph",
                "tests/specs/cycle_b.graph", 1, 8);
    expect_file("tests/specs/missing_import.graph",
                "cannot import 'tests/specs/no_such_file.graph': No such file or directory",
                "tests/specs/missing_import.graph", 2, 8);
    expect("import \".\"\n", "cannot read 'tests/specs': it is a directory", 1, 8);
    /* the same file by two routes is loaded once; its names are visible */
    mgc_diags d;
    const char *two = "import \"lib_small.graph\"\nimport \"../specs/lib_small.graph\"\nlet z = small_eps\n";
    run(two, strlen(two), &d);
    assert_int_equal(d.nerrors, 0);
    mgc_diags_free(&d);
    mgc_diags_init(&d);
    mgc_program *p = mgc_program_load("tests/specs/all_constructs.graph", &d);
    assert_non_null(p);
    assert_int_equal(p->nfiles, 2);
    assert_true(p->root == p->files[1].ast);
    assert_string_equal(p->files[0].ast->path, "tests/specs/lib_small.graph");
    assert_int_equal(p->files[1].nimports, 1);
    mgc_program_free(p);
    mgc_diags_free(&d);
    char *ip = mgc_import_path("graphs/meta-llama/Llama-3.2-1B/t3000.graph", "../../common/llama.graph");
    assert_string_equal(ip, "graphs/common/llama.graph");
    free(ip);
}

/* ---- checker ---- */

#define BRINGUP_HEAD "model \"o/m\" on cpu\ncache max_len=64\n"

static void test_check_names(void **state)
{
    (void)state;
    expect_hint("def f(x) {\n  h = rms_nrom(x, w\"a\", 1e-5)\n  return h\n}\n", "unknown op or def 'rms_nrom'", 2, 7,
                "did you mean 'rms_norm'?");
    expect_hint("let hidden = 4\nlet b = hiden * 2\n", "unknown name 'hiden'", 2, 9, "did you mean 'hidden'?");
    expect_hint("let b = a\nlet a = 1\n", "unknown name 'a'", 1, 9,
                "'a' is defined later, at line 2; a let is visible after its definition");
    expect("def f(x) {\n  y = z\n  return y\n}\n", "unknown name 'z'", 2, 7);
    expect("def f(x) {\n  for i in 0 .. 2 {\n    t = x\n  }\n  return t\n}\n", "unknown name 't'", 5, 10);
    expect("def f(x) {\n  return w\"{p}.weight\"\n}\n", "unknown name 'p' in template", 2, 13);
    expect("def f(p) {\n  return w\"{p.weight\"\n}\n", "unclosed '{' in template", 2, 12);
    expect("def f(p) {\n  return \"a}b\"\n}\n", "unmatched '}' in template", 2, 12);
    expect("def f(p) {\n  return \"{1x}\"\n}\n", "template hole '{1x}' is not a name", 2, 11);
    expect("let a = config\n", "'config' is used without a field", 1, 9);
    expect("def g(x) {\n  return x\n}\nlet a = g\n", "'g' is a def, not a value", 4, 9);
    expect("let a = silu\n", "'silu' is an op, not a value", 1, 9);
    expect("def f(x) {\n  return x(1)\n}\n", "'x' is a local value, not an op or def", 2, 10);
    expect("let k = 2\nlet a = k(1)\n", "'k' is a let, not an op or def", 2, 9);
    expect("let a = 1\nlet a = 2\n", "'a' is already defined (a let at tests/specs/spec.graph:1)", 2, 5);
    expect("def linear(x) {\n  return x\n}\n", "'linear' is a built-in op; a def cannot take its name", 1, 5);
    expect("let config = 1\n", "'config' is built in; choose another name", 1, 5);
    expect("import \"lib_small.graph\"\nlet small_eps = 1\n",
           "'small_eps' is already defined (a let at tests/specs/lib_small.graph:2)", 2, 5);
    expect("def f(x, x) {\n  return x\n}\n", "parameter 'x' is given twice", 1, 10);
    expect("def f(config) {\n  return 1\n}\n", "a parameter cannot be called 'config' (it is built in)", 1, 7);
    expect("def f(x) {\n  config = x\n  return x\n}\n", "cannot assign to 'config'", 2, 3);
}

static void test_check_calls(void **state)
{
    (void)state;
    expect_hint("def f(x) {\n  return linear(x)\n}\n", "'linear' takes 2 arguments but 1 was given", 2, 10,
                "linear(x, W, out=N, bias=B)");
    expect("def g(a, b) {\n  return a\n}\ndef f(x) {\n  return g(x)\n}\n", "def 'g' takes 2 arguments but 1 was given",
           5, 10);
    expect_hint("def f(x) {\n  return linear(x, w\"a\", outt=3)\n}\n", "'linear' has no keyword argument 'outt'", 2,
                26, "did you mean 'out'? (linear(x, W, out=N, bias=B))");
    expect("def f(x) {\n  return silu(x, k=1)\n}\n", "'silu' takes no keyword arguments", 2, 18);
    expect("def f(x) {\n  return linear(x, out=1, out=2)\n}\n", "keyword argument 'out' given twice", 2, 27);
    expect("def f(x) {\n  return linear(x, out=1, w\"a\")\n}\n", "positional argument after a keyword argument", 2,
           27);
    expect("def g(a) {\n  return a\n}\ndef f(x) {\n  return g(x, k=1)\n}\n", "def 'g' takes no keyword arguments",
           5, 15);
    expect("def f(x) {\n  return fused(x)\n}\n", "'fused' needs at least 1 named part", 2, 10);
    expect("let r = linear(1, 2)\n", "a let must be a constant, but 'linear' computes a tensor", 1, 9);
    expect("let r = w\"a\"\n", "a let must be a constant, not a weight", 1, 9);
    expect("def f(x) {\n  return g(x)\n}\ndef g(x) {\n  return f(x)\n}\n", "recursive defs: f -> g -> f", 5, 10);
    expect("def f(x) {\n  return f(x)\n}\n", "def 'f' calls itself", 2, 10);
}

static void test_check_annotations(void **state)
{
    (void)state;
    expect_hint("def f(x) {\n  y = linear(x, w\"a\") @cols\n  return y\n}\n", "unknown annotation '@cols'", 2, 23,
                "did you mean '@col'?");
    expect("def f(x) {\n  y = linear(x, w\"a\") @col @row\n  return y\n}\n", "conflicting annotations '@col' and '@row'",
           2, 28);
    expect("def f(x) {\n  y = linear(x, w\"a\") @col @col\n  return y\n}\n", "'@col' is given twice", 2, 28);
    expect("def f(x) {\n  y = linear(x, w\"a\") @col=bf16\n  return y\n}\n", "'@col' takes no value", 2, 28);
    expect("def f(x) {\n  y = linear(x, w\"a\") @weights\n  return y\n}\n", "'@weights' needs a dtype", 2, 23);
    expect_hint("def f(x) {\n  y = linear(x, w\"a\") @weights=bf8b\n  return y\n}\n", "'bf8b' is not a weights dtype", 2,
                32, "did you mean 'bf8_b'? (weights dtypes: bf4_b, bf8_b, bf16 or f32)");
    expect("def f(x) {\n  y = silu(x) @activations=bf8_b\n  return y\n}\n", "'bf8_b' is not a activations dtype", 2,
           28);
    expect("def f(x) {\n  y = silu(x) @col\n  return y\n}\n",
           "'@col' has nothing to apply to: this statement calls no op that takes a weight or the cache", 2, 15);
    expect("def f(x) {\n  y = linear(linear(x, w\"a\"), w\"b\") @col\n  return y\n}\n",
           "'@col' is ambiguous: this statement calls 2 ops that take a weight or the cache ('linear' and 'linear')",
           2, 37);
    expect("def f(x) {\n  y = linear(x, w\"a\") @heads\n  return y\n}\n",
           "'@heads' applies to attention, but this statement's op is 'linear'", 2, 23);
    expect("def f(x) {\n  y = attention(x, x, x, cache) @col\n  return y\n}\n", "'@col' does not apply to attention",
           2, 33);
    expect("def f(x) {\n  y = embedding(x, w\"e\") @weights=bf8_b\n  return y\n}\n",
           "embedding tables cannot be block-float ('bf8_b')", 2, 35);
    expect("let a = 1 @col\n", "a let cannot have annotations", 1, 11);
    expect_clean("def f(x) {\n  y = silu(x) @activations=f32\n  return y\n}\n");
}

static void test_check_settings(void **state)
{
    (void)state;
    expect_hint(BRINGUP_HEAD "precision weight=bf16\nforward(t) {\n  return t\n}\n",
                "unknown precision setting 'weight'", 3, 11, "did you mean 'weights'?");
    expect(BRINGUP_HEAD "precision kv_cache=bf8_b\nforward(t) {\n  return t\n}\n", "'bf8_b' is not a KV cache dtype",
           3, 20);
    expect(BRINGUP_HEAD "precision weights=3\nforward(t) {\n  return t\n}\n", "expected a dtype name for 'weights'", 3,
           19);
    expect(BRINGUP_HEAD "precision weights=bf16 weights=f32\nforward(t) {\n  return t\n}\n",
           "'weights' is set twice in this statement", 3, 24);
    expect(BRINGUP_HEAD "cache max_seq_len=4\nforward(t) {\n  return t\n}\n", "unknown cache setting 'max_seq_len'", 3,
           7);
    expect(BRINGUP_HEAD "cache users=0\nforward(t) {\n  return t\n}\n", "'users' must be a positive integer", 3, 13);
    expect(BRINGUP_HEAD "cache max_len=4\nforward(t) {\n  return t\n}\n", "'max_len' is already set at line 2", 3, 7);
    expect("model \"o/m\" on cpu\nforward(t) {\n  return attention(t, t, t, cache[0]) @heads\n}\n",
           "the forward uses attention, so the KV cache needs a length", 2, 1);
}

static void test_check_structure(void **state)
{
    (void)state;
    expect("model \"o/m\" on cpu\n", "a bringup needs a 'forward'", 1, 1);
    expect("forward(t) {\n  return t\n}\n", "a bringup needs a 'model' statement", 1, 1);
    expect(BRINGUP_HEAD "model \"o/n\" on cpu\nforward(t) {\n  return t\n}\n",
           "more than one 'model' statement (the first is at line 1)", 3, 1);
    expect(BRINGUP_HEAD "forward(t) {\n  return t\n}\nforward(t) {\n  return t\n}\n",
           "more than one 'forward' (the first is at line 3)", 6, 1);
    expect(BRINGUP_HEAD "forward(a, b) {\n  return a\n}\n", "forward takes one parameter (the token ids), not 2", 3, 1);
    expect("precision weights=bf16\n", "'precision' is only allowed in a bringup file (one with 'model' and 'forward')",
           1, 1);
    expect("x = 1\n", "assignment outside a def or forward", 1, 1);
    expect("return 1\n", "'return' outside a def or forward", 1, 1);
    expect("def f(x) {\n  import \"a\"\n  return x\n}\n", "'import' is only allowed at the top level of a file", 2, 3);
    expect("def f(x) {\n  y = x\n}\n", "def 'f' does not end with 'return'", 3, 1);
    expect("def f(x) {\n}\n", "def 'f' has an empty body", 2, 1);
    expect("def f(x) {\n  return x\n  y = x\n}\n", "statement after 'return' is never reached", 3, 3);
    expect("def f(x) {\n  for i in 0 .. 2 {\n  }\n  return x\n}\n", "'for' has an empty body", 2, 3);
    expect("def f(x) {\n  for i in 0 .. 2 {\n    return x\n  }\n  return x\n}\n", "'return' inside a 'for' loop", 3, 5);
    expect("import \"../../graphs/meta-llama/Llama-3.2-1B/t3000.graph\"\n",
           "'model' in an imported file", 6, 1);
    expect_clean("import \"lib_small.graph\"\nlet e = small_eps\n");
}

/* ---- the statements and limits of the general-architecture language ---- */

#define NEW_HEAD "model \"a/b\" on cpu\n"

/* src after a model line (so ignore and expect are allowed), with a forward
 * after it; errors are then at line+1. */
static void expect_bringup(const char *src, const char *msg, int line, int col)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s%sforward(tokens) {\n  return tokens\n}\n", NEW_HEAD, src);
    expect(buf, msg, line, col);
}

static void test_ignore_and_expect(void **state)
{
    (void)state;
    expect_bringup("ignore 3\n", "ignore takes a checkpoint tensor pattern or a config key", 2, 8);
    expect_bringup("ignore tied w\"a\"\n", "ignore takes a checkpoint tensor pattern or a config key", 2, 8);
    expect_bringup("ignore w\"model.layers.{i}.x\"\n",
                   "ignore takes a glob, not a template ('{...}'): use * for the layer index", 2, 8);
    expect_bringup("ignore w\"\"\n", "empty weight pattern", 2, 8);
    expect_bringup("expect top1=0.9 top3=0.5\n", "unknown expect key 'top3'", 2, 17);
    expect_hint("model \"a/b\" on cpu\nexpect pc=0.9\nforward(t) {\n  return t\n}\n", "unknown expect key 'pc'", 2,
                8, "did you mean 'pcc'? (expect takes top1, top5 and pcc)");
    expect_bringup("expect top1=1.5\n", "expect top1=1.5 is outside [0, 1]", 2, 13);
    expect_bringup("expect pcc=-0.5\n", "expect pcc takes a number between 0 and 1", 2, 12);
    expect_bringup("expect top5=x\n", "expect top5 takes a number between 0 and 1", 2, 13);
    expect_bringup("expect top1=0.5 top1=0.6\n", "expect top1 given twice", 2, 17);
    expect_bringup("expect top1=0.5\nexpect top5=0.6\n", "more than one 'expect' statement (the first is at line 2)",
                   3, 1);
    /* only in a bringup */
    expect("ignore config.mlp_bias\n", "'ignore' is only allowed in a bringup file (one with 'model' and 'forward')", 1,
           1);
    expect("expect top1=0.5\n", "'expect' is only allowed in a bringup file (one with 'model' and 'forward')", 1, 1);
    /* well-formed */
    expect_clean("model \"a/b\" on cpu\nignore w\"*.inv_freq\"\nignore config.mlp_bias\n"
                 "expect top1=0.95 top5=1 pcc=0.999\nforward(t) {\n  return t\n}\n");
}

static void test_scalar_calls(void **state)
{
    (void)state;
    expect_hint("let a = sqrt(1, 2)\n", "'sqrt' takes 1 argument but 2 were given", 1, 9,
                "sqrt(x): square root, x >= 0");
    expect_hint("let a = min(1)\n", "'min' takes 2 to 8 arguments but 1 was given", 1, 9,
                "min(a, b, ...): the smallest");
    expect_hint("let a = sqrtt(4)\n", "unknown op or def 'sqrtt'", 1, 9, "did you mean 'sqrt'?");
    expect("let a = int(x=2.5)\n", "'int' takes no keyword arguments", 1, 13);
    expect("def sqrt(x) {\n  return x\n}\n", "'sqrt' is a built-in function; a def cannot take its name", 1, 5);
    expect("let true = 0\n", "'true' is built in; choose another name", 1, 5);
    expect("let a = 1 < 2 < 3\n", "expected an operator, end of line, ';', '@', '.' or '[' but found '<'", 1, 15);
    /* all of it is a constant: no "a let must be a constant" */
    expect_clean("let a = int(sqrt(2.0) * 8) // 3 % 2 ** 2\nlet b = exp(1) if a >= 1 and not false else log(2)\n"
                 "let c = config.hidden_act == \"silu\" or config.x != 1\nlet d = max(abs(-1), floor(1.5), ceil(0.5))\n");
}

static void test_library_hint_and_failed_import(void **state)
{
    (void)state;
    /* a name graphs/common/llama.graph defines: the import line to add,
     * relative to tests/specs/spec.graph */
    expect_hint("def f(x) {\n  return swiglu(x, w\"a\", w\"b\", w\"c\")\n}\n", "unknown op or def 'swiglu'", 2, 10,
                "'swiglu' is defined in the spec library; add: import \"../../graphs/common/llama.graph\"");
    expect_hint("let e = 2 * head_dim\n", "unknown name 'head_dim'", 1, 13,
                "'head_dim' is defined in the spec library; add: import \"../../graphs/common/llama.graph\"");
    /* a wrong import path: that one error, not one per name it would have defined */
    mgc_diags d;
    const char *src = "import \"../../graphs/comon/llama.graph\"\nmodel \"a/b\" on cpu\nlet h = head_dim * 2\n"
                      "forward(tokens) {\n  x = swiglu(tokens, w\"a\", w\"b\", w\"c\")\n  return rms_norm(x, w\"n\", eps)\n}\n";
    run(src, strlen(src), &d);
    expect_in(&d, "cannot import 'graphs/comon/llama.graph': No such file or directory", 1, 8);
    const char *h = hint_of(&d, "cannot import 'graphs/comon/llama.graph': No such file or directory");
    assert_non_null(h);
    assert_string_equal(h, "the spec library has that file: import \"../../graphs/common/llama.graph\"");
    assert_int_equal(d.nerrors, 1);
    mgc_diags_free(&d);
}

static void test_name_limit_and_empty_spec(void **state)
{
    (void)state;
    char src[1024];
    char name[300];
    memset(name, 'a', 299);
    name[299] = 0;
    snprintf(src, sizeof src, "let %s = 1\n", name);
    expect(src, "name is 299 characters long (the limit is 256)", 1, 5);
    name[256] = 0; /* at the limit: fine */
    snprintf(src, sizeof src, "let %s = 1\n", name);
    expect_clean(src);
    expect("", "the spec is empty (no statements)", 1, 1);
    expect("# only a comment\n\n", "the spec is empty (no statements)", 1, 1);
}

static void test_bundled_specs_check_clean(void **state)
{
    (void)state;
    /* the bundled specs and the small library the tests import */
    for (size_t i = 0; i <= mut_nbundled_specs; i++) {
        const char *spec = i < mut_nbundled_specs ? mut_bundled_specs[i] : "tests/specs/lib_small.graph";
        mgc_diags d;
        mgc_diags_init(&d);
        mgc_program *p = mgc_program_load(spec, &d);
        assert_non_null(p);
        mgc_check_program(p, &d);
        if (d.nerrors)
            dump_all(&d);
        assert_int_equal(d.nerrors, 0);
        mgc_program_free(p);
        mgc_diags_free(&d);
    }
}

/* ---- printer and suggestions ---- */

static char *print_to_string(const mgc_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    mgc_diags_print(d, f, 0);
    fclose(f);
    return buf;
}

static void test_printer(void **state)
{
    (void)state;
    mgc_diags d;
    const char *src = "def f(x) {\n  h = rms_nrom(x, w\"model.norm.weight\", config.rms_norm_eps)\n  return h\n}\n";
    run(src, strlen(src), &d);
    char *out = print_to_string(&d);
    assert_string_equal(out, "tests/specs/spec.graph:2:7: error: unknown op or def 'rms_nrom'\n"
                             "    2 |   h = rms_nrom(x, w\"model.norm.weight\", config.rms_norm_eps)\n"
                             "      |       ^~~~~~~~\n"
                             "hint: did you mean 'rms_norm'?\n");
    free(out);
    mgc_diags_free(&d);
    /* tabs in the source line are kept in the caret line */
    src = "def f(x) {\n\t\treturn y\n}\n";
    run(src, strlen(src), &d);
    out = print_to_string(&d);
    assert_string_equal(out, "tests/specs/spec.graph:2:10: error: unknown name 'y'\n"
                             "    2 | \t\treturn y\n"
                             "      | \t\t       ^\n"
                             "hint: did you mean 'x'?\n");
    free(out);
    mgc_diags_free(&d);
    /* no source: no snippet */
    mgc_diags_init(&d);
    mgc_span none = {0};
    mgc_error_at(&d, none, "cannot read '%s': %s", "x", "gone");
    out = print_to_string(&d);
    assert_string_equal(out, "mgc: error: cannot read 'x': gone\n");
    free(out);
    mgc_diags_free(&d);
}

static void test_suggest(void **state)
{
    (void)state;
    static const char *const names[] = {"hidden_size", "num_attention_heads", "rms_norm", "rope_theta"};
    assert_string_equal(mgc_suggest("hiden_size", names, 4), "hidden_size");
    assert_string_equal(mgc_suggest("rms_nrom", names, 4), "rms_norm");
    assert_null(mgc_suggest("vocab", names, 4));
    assert_null(mgc_suggest("rope", names, 4));
    assert_string_equal(mgc_suggest("rope_thet", names, 4), "rope_theta");
}

static void test_check_command(void **state)
{
    (void)state;
    char *ok[] = {"check", "graphs/common/llama.graph", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", NULL};
    assert_int_equal(mgc_cmd_check(3, ok), 0);
    char *none[] = {"check", NULL};
    assert_int_equal(mgc_cmd_check(1, none), 2);
    char *opt[] = {"check", "--bogus", "x.graph", NULL};
    assert_int_equal(mgc_cmd_check(3, opt), 2);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    char *bad[] = {"check", "tests/specs/syntax_errors.graph", NULL};
    int rc = mgc_cmd_check(2, bad);
    fclose(stderr);
    stderr = saved;
    assert_int_equal(rc, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lexer),
        cmocka_unit_test(test_binary_garbage),
        cmocka_unit_test(test_parser_messages),
        cmocka_unit_test(test_several_errors_in_one_run),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_file_size_limit),
        cmocka_unit_test(test_too_many_errors),
        cmocka_unit_test(test_missing_and_unreadable),
        cmocka_unit_test(test_imports),
        cmocka_unit_test(test_check_names),
        cmocka_unit_test(test_check_calls),
        cmocka_unit_test(test_check_annotations),
        cmocka_unit_test(test_check_settings),
        cmocka_unit_test(test_check_structure),
        cmocka_unit_test(test_ignore_and_expect),
        cmocka_unit_test(test_scalar_calls),
        cmocka_unit_test(test_library_hint_and_failed_import),
        cmocka_unit_test(test_name_limit_and_empty_spec),
        cmocka_unit_test(test_bundled_specs_check_clean),
        cmocka_unit_test(test_printer),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_check_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
