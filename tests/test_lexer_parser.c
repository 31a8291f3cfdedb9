/* test_lexer_parser: every construct of docs/language.md parses to the
 * expected tree (compared as mgc_ast_dump text), plus spans, comments and
 * literal values that the dump does not show. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mutate.h"

#include "ast.h"
#include "diag.h"
#include "parse.h"

typedef struct parse_case {
    const char *name, *src, *dump;
} parse_case;

static const parse_case cases[] = {
    {"import",
     "import \"../a/b.graph\"\n",
        "(file\n"
        "  (import \"../a/b.graph\"))\n"},
    {"model",
     "model \"meta-llama/Llama-3.2-1B\" on t3000\n",
        "(file\n"
        "  (model \"meta-llama/Llama-3.2-1B\" t3000))\n"},
    {"precision",
     "precision weights=bf8_b activations=bf16 kv_cache=f32\nprecision w\"model.layers.*.mlp.*\"=bf4_b\n",
        "(file\n"
        "  (precision (weights bf8_b) (activations bf16) (kv_cache f32))\n"
        "  (precision (w \"model.layers.*.mlp.*\" bf4_b)))\n"},
    {"cache",
     "cache max_len=1_024 users=0x20\n",
        "(file\n"
        "  (cache (max_len (int 1024)) (users (int 32))))\n"},
    {"let_default",
     "let head_dim = config.head_dim ?? config.hidden_size / config.num_attention_heads\n",
        "(file\n"
        "  (let head_dim (?? (. config head_dim) (/ (. config hidden_size) (. config num_attention_heads)))))\n"},
    {"precedence",
     "let a = 1 + 2 * 3 - 4 / 5 ?? 6\n",
        "(file\n"
        "  (let a (?? (- (+ (int 1) (* (int 2) (int 3))) (/ (int 4) (int 5))) (int 6))))\n"},
    {"left_assoc",
     "let a = 1 - 2 - 3\nlet b = 1 - (2 - 3)\nlet c = x ?? y ?? z\n",
        "(file\n"
        "  (let a (- (- (int 1) (int 2)) (int 3)))\n"
        "  (let b (- (int 1) (- (int 2) (int 3))))\n"
        "  (let c (?? (?? x y) z)))\n"},
    {"unary",
     "let a = -x * 2\nlet b = -(x + 1)\nlet c = - -3\n",
        "(file\n"
        "  (let a (* (neg x) (int 2)))\n"
        "  (let b (neg (+ x (int 1))))\n"
        "  (let c (neg (neg (int 3)))))\n"},
    {"grouping",
     "let a = (a + b) * c\n",
        "(file\n"
        "  (let a (* (+ a b) c)))\n"},
    {"floats",
     "let a = 1e-5\nlet b = 0.5\nlet c = 10000.0\nlet d = 1E6\n",
        "(file\n"
        "  (let a (float 1e-5))\n"
        "  (let b (float 0.5))\n"
        "  (let c (float 10000.0))\n"
        "  (let d (float 1E6)))\n"},
    {"strings",
     "let s = \"model.layers.{i}\"\nlet e = \"a\\\"b\\\\c\\nd\\te\"\n",
        "(file\n"
        "  (let s (str \"model.layers.{i}\"))\n"
        "  (let e (str \"a\\\"b\\\\c\\nd\\te\")))\n"},
    {"weights",
     "def f(p) {\n  return linear(x, w\"{p}.mlp.up_proj.weight\")\n}\n",
        "(file\n"
        "  (def f (params p)\n"
        "    (return (call linear x (w \"{p}.mlp.up_proj.weight\")))))\n"},
    {"tied",
     "forward(t) {\n  return linear(x, tied w\"model.embed_tokens.weight\") @col\n}\n",
        "(file\n"
        "  (forward (params t)\n"
        "    (return (call linear x (tied-w \"model.embed_tokens.weight\")) (@ col))))\n"},
    {"member_index",
     "def f(qkv, cache) {\n  a = qkv.q\n  b = cache[i + 1]\n  c = config.rope_scaling.factor\n  return a\n}\n",
        "(file\n"
        "  (def f (params qkv cache)\n"
        "    (= a (. qkv q))\n"
        "    (= b ([] cache (+ i (int 1))))\n"
        "    (= c (. (. config rope_scaling) factor))\n"
        "    (return a)))\n"},
    {"call_kw",
     "def f(w) {\n  q = fused(w, q=nq * head_dim, k=8)\n  return attention(q, k, v, cache, scale=0.125)\n}\n",
        "(file\n"
        "  (def f (params w)\n"
        "    (= q (call fused w (kw q (* nq head_dim)) (kw k (int 8))))\n"
        "    (return (call attention q k v cache (kw scale (float 0.125))))))\n"},
    {"call_empty_trailing",
     "def f() {\n  return g(a, b,)\n}\n",
        "(file\n"
        "  (def f (params)\n"
        "    (return (call g a b))))\n"},
    {"def",
     "def swiglu(h, wgate, wup, wdown) {\n  g = linear(h, wgate) @col\n  u = linear(h, wup) @col\n  return linear(silu(g) * u, wdown) @row\n}\n",
        "(file\n"
        "  (def swiglu (params h wgate wup wdown)\n"
        "    (= g (call linear h wgate) (@ col))\n"
        "    (= u (call linear h wup) (@ col))\n"
        "    (return (call linear (* (call silu g) u) wdown) (@ row))))\n"},
    {"forward_for",
     "forward(tokens) {\n  x = embedding(tokens, w\"e\") @replicated\n  for i in 0 .. config.num_hidden_layers {\n    x = layer(x, \"model.layers.{i}\", cache[i])\n  }\n  return x\n}\n",
        "(file\n"
        "  (forward (params tokens)\n"
        "    (= x (call embedding tokens (w \"e\")) (@ replicated))\n"
        "    (for i (int 0) (. config num_hidden_layers)\n"
        "      (= x (call layer x (str \"model.layers.{i}\") ([] cache i))))\n"
        "    (return x)))\n"},
    {"annots",
     "def f(x) {\n  y = linear(x, w\"a\") @col @weights=bf8_b @activations=f32\n  return y @row\n}\n",
        "(file\n"
        "  (def f (params x)\n"
        "    (= y (call linear x (w \"a\")) (@ col) (@ weights bf8_b) (@ activations f32))\n"
        "    (return y (@ row))))\n"},
    {"body_let",
     "def f(x) {\n  let n = 4\n  return x\n}\n",
        "(file\n"
        "  (def f (params x)\n"
        "    (let n (int 4))\n"
        "    (return x)))\n"},
    {"semicolons",
     "let a = 1; let b = 2;\nlet c = 3\n",
        "(file\n"
        "  (let a (int 1))\n"
        "  (let b (int 2))\n"
        "  (let c (int 3)))\n"},
    {"one_line_block",
     "def id(x) { return x }\n",
        "(file\n"
        "  (def id (params x)\n"
        "    (return x)))\n"},
    {"wrapped_call",
     "let r = rope_longrope(config.rope_theta, head_dim,\n    config.rope_scaling,\n    1, 2)\n",
        "(file\n"
        "  (let r (call rope_longrope (. config rope_theta) head_dim (. config rope_scaling) (int 1) (int 2))))\n"},
    {"comments",
     "# head\nlet a = 1  # trailing\n# tail\n",
        "(file\n"
        "  (let a (int 1)))\n"},
    {"no_final_newline",
     "let a = 1",
        "(file\n"
        "  (let a (int 1)))\n"},
    {"crlf",
     "let a = 1\r\nlet b = 2\r\n",
        "(file\n"
        "  (let a (int 1))\n"
        "  (let b (int 2)))\n"},
    {"cache_as_name",
     "def f(x, cache) {\n  return attention(x, x, x, cache)\n}\n",
        "(file\n"
        "  (def f (params x cache)\n"
        "    (return (call attention x x x cache))))\n"},
    {"empty",
     "",
        "(file)\n"},
    /* Python's precedence: ** right-associative and above unary minus;
     * // and % with *; comparisons above not, and, or; if/else lowest */
    {"power",
     "let a = -2 ** 3 ** 2\nlet b = 2 ** -1 * 3\n",
        "(file\n"
        "  (let a (neg (** (int 2) (** (int 3) (int 2)))))\n"
        "  (let b (* (** (int 2) (neg (int 1))) (int 3))))\n"},
    {"floordiv_mod",
     "let a = 7 // 2 % 3 + 1\n",
        "(file\n"
        "  (let a (+ (% (// (int 7) (int 2)) (int 3)) (int 1))))\n"},
    {"logic",
     "let a = not x < 1 or y == \"s\" and z != 2\n",
        "(file\n"
        "  (let a (or (not (< x (int 1))) (and (== y (str \"s\")) (!= z (int 2))))))\n"},
    {"default_vs_compare",
     "let a = config.x ?? 1 >= b + 1\n",
        "(file\n"
        "  (let a (>= (?? (. config x) (int 1)) (+ b (int 1)))))\n"},
    {"conditional",
     "let w = config.sliding_window if i % 2 == 0 else 0 if b else 1\n",
        "(file\n"
        "  (let w (if (== (% i (int 2)) (int 0)) (. config sliding_window) (if b (int 0) (int 1)))))\n"},
    {"ignore_expect",
     "ignore w\"*.inv_freq\"\nignore config.mlp_bias\nexpect top1=0.95 pcc=0.999\n",
        "(file\n"
        "  (ignore (w \"*.inv_freq\"))\n"
        "  (ignore (. config mlp_bias))\n"
        "  (expect (top1 (float 0.95)) (pcc (float 0.999))))\n"},
};

static mgc_ast_file *parse_ok(const char *src, mgc_diags *d)
{
    mgc_diags_init(d);
    mgc_ast_file *f = mgc_parse_string("t.graph", src, strlen(src), d);
    assert_non_null(f);
    if (d->nerrors) {
        mgc_diags_print(d, stderr, 0);
        fail_msg("unexpected errors parsing %s", src);
    }
    return f;
}

static void test_constructs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mgc_diags d;
        mgc_ast_file *f = parse_ok(cases[i].src, &d);
        char *dump = mgc_ast_dump(f);
        if (strcmp(dump, cases[i].dump) != 0)
            fail_msg("case %s:\n got: %s\nwant: %s", cases[i].name, dump, cases[i].dump);
        free(dump);
        mgc_ast_free(f);
        mgc_diags_free(&d);
    }
}

static void test_bundled_specs_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < mut_nbundled_specs; i++) {
        mgc_diags d;
        mgc_diags_init(&d);
        mgc_ast_file *f = mgc_parse_file(mut_bundled_specs[i], &d);
        assert_non_null(f);
        if (d.nerrors)
            mgc_diags_print(&d, stderr, 0);
        assert_int_equal(d.nerrors, 0);
        assert_true(f->nstmts > 0);
        mgc_ast_free(f);
        mgc_diags_free(&d);
    }
}

static void test_literal_values(void **state)
{
    (void)state;
    mgc_diags d;
    mgc_ast_file *f = parse_ok("let a = 0x20\nlet b = 1_024\nlet c = 9223372036854775807\nlet d = 2.5e-3\n", &d);
    assert_int_equal(f->nstmts, 4);
    assert_int_equal(f->stmts[0]->value->ival, 32);
    assert_string_equal(f->stmts[0]->value->num_text, "0x20");
    assert_int_equal(f->stmts[1]->value->ival, 1024);
    assert_true(f->stmts[2]->value->ival == INT64_MAX);
    assert_int_equal(f->stmts[3]->value->kind, MGC_EX_FLOAT);
    assert_true(f->stmts[3]->value->fval > 0.0024 && f->stmts[3]->value->fval < 0.0026);
    mgc_ast_free(f);
    mgc_diags_free(&d);
}

static void test_spans(void **state)
{
    (void)state;
    mgc_diags d;
    mgc_ast_file *f = parse_ok("def f(x) {\n  y = linear(x, w\"a\") @col\n  return y\n}\n", &d);
    const mgc_ast_stmt *def = f->stmts[0];
    assert_int_equal(def->span.line, 1);
    assert_int_equal(def->span.col, 1);
    assert_int_equal(def->span.end_line, 4);
    assert_int_equal(def->name_span.col, 5);
    assert_int_equal(def->params[0].span.col, 7);
    assert_int_equal(def->body_span.line, 1);
    assert_int_equal(def->body_span.col, 10);
    const mgc_ast_stmt *as = def->body[0];
    assert_int_equal(as->span.line, 2);
    assert_int_equal(as->span.col, 3);
    assert_int_equal(as->value->kind, MGC_EX_CALL);
    assert_int_equal(as->value->str_span.col, 7);
    assert_int_equal(as->value->str_span.end_col, 13);
    assert_int_equal(as->value->args[1].value->span.col, 17);
    assert_int_equal(as->annots[0].span.col, 23);
    assert_int_equal(as->annots[0].span.end_col, 27);
    assert_string_equal(as->span.file, "t.graph");
    mgc_ast_free(f);
    mgc_diags_free(&d);
}

static void test_comments_kept(void **state)
{
    (void)state;
    mgc_diags d;
    mgc_ast_file *f = parse_ok("# one\nlet a = 1   # two   \n  # three\n", &d);
    assert_int_equal(f->ncomments, 3);
    assert_int_equal(f->comments[0].line, 1);
    assert_int_equal(f->comments[0].col, 1);
    assert_string_equal(f->comments[0].text, "# one");
    assert_int_equal(f->comments[1].line, 2);
    assert_int_equal(f->comments[1].col, 13);
    assert_string_equal(f->comments[1].text, "# two");
    assert_int_equal(f->comments[2].col, 3);
    mgc_ast_free(f);
    mgc_diags_free(&d);
}

static void test_dotdot_without_spaces(void **state)
{
    (void)state;
    mgc_diags d;
    mgc_ast_file *f = parse_ok("forward(t) {\n  for i in 0..n {\n    x = t\n  }\n  return t\n}\n", &d);
    const mgc_ast_stmt *fr = f->stmts[0]->body[0];
    assert_int_equal(fr->kind, MGC_ST_FOR);
    assert_int_equal(fr->value->kind, MGC_EX_INT);
    assert_int_equal(fr->hi->kind, MGC_EX_NAME);
    mgc_ast_free(f);
    mgc_diags_free(&d);
}

static void test_equal_trees_equal_dumps(void **state)
{
    (void)state;
    mgc_diags d1, d2;
    mgc_ast_file *a = parse_ok("let x = (1 + 2) * f(a, b=3)  # c\n", &d1);
    mgc_ast_file *b = parse_ok("\n\nlet   x=((1+2))*f( a ,\n b = 3 ,)\n", &d2);
    char *da = mgc_ast_dump(a), *db = mgc_ast_dump(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    mgc_ast_free(a);
    mgc_ast_free(b);
    mgc_diags_free(&d1);
    mgc_diags_free(&d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructs),
        cmocka_unit_test(test_bundled_specs_parse),
        cmocka_unit_test(test_literal_values),
        cmocka_unit_test(test_spans),
        cmocka_unit_test(test_comments_kept),
        cmocka_unit_test(test_dotdot_without_spaces),
        cmocka_unit_test(test_equal_trees_equal_dumps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
