/* The plan reader against mutated real plans.  The plans of two bringups
 * compiled against their fixture checkpoints (Phi-3: fused parts, LongRoPE,
 * eight devices; Qwen3: tied lm_head, per-head norms) are corrupted in
 * thousands of ways with a fixed seed: byte flips, deleted, duplicated and
 * swapped lines, re-indented lines, truncations, changed numbers and
 * swapped keywords (dtypes, kernels, roles, shardings).  Each mutant is
 * written to a file and read with mgc_plan_read, which must either load a
 * plan that validates and writes back to text that loads again to the same
 * bytes, or fail with a message that starts with the file name.  Run it under
 * ASan/UBSan too (make test SAN=1): a crash or an out-of-bounds read is the
 * failure this test exists to catch.  (test_plan_mutation.c does the same
 * for the small hand-built sample plan, in memory.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mutate.h"
#include "plan_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "model_dir.h"
#include "compile_helpers.h"

/* Under ASan every malloc of the YAML loader costs more: fewer mutants (still
 * 1000 over the two plans) and every other line deleted keep the suite fast. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW 1
#else
#define SLOW 0
#endif
#ifndef MUTANTS /* per plan; -DMUTANTS=... -DSEED=... for a longer hunt */
#define MUTANTS (SLOW ? 500 : 800)
#endif
#ifndef SEED
#define SEED 0x636f6d70696c6521ull
#endif

static size_t line_end(const mut_text *t, const size_t *starts, size_t nl, size_t l)
{
    return l + 1 < nl ? starts[l + 1] : t->n;
}

/* Words of the plan format worth swapping for one another. */
static const char *const words[] = {
    "bf16", "f32", "bf8_b", "bf4_b", "i32", "linear", "embedding", "rms_norm", "rotary", "fill_cache", "sdpa",
    "update_cache", "sdpa_decode", "add", "mul", "silu", "all_reduce", "all_gather", "output", "norm",
    "replicated", "split", "longrope", "llama3", "default", "true", "false", "null", "~", "\"\"",
};
static const size_t nwords = sizeof words / sizeof words[0];

static const char *const numbers[] = {
    "0", "1", "-1", "2", "7", "31", "32", "33", "64", "96", "127", "128", "255", "256", "4031", "4032", "65536",
    "2147483647", "2147483648", "-2147483649", "4294967296", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "1e308", "-0", "0.5", "nan", "inf", "-inf", "1e-320", "0x10", "18446744073709551616",
};
static const size_t nnumbers = sizeof numbers / sizeof numbers[0];

enum { M_FLIP, M_DELETE, M_DUPLICATE, M_SWAP, M_INDENT, M_TRUNCATE, M_NUMBER, M_WORD, M_KINDS };
static const char *const kind_names[M_KINDS] = {"flip", "delete", "duplicate", "swap", "indent", "truncate",
                                                "number", "word"};

/* One random edit of t; returns its kind. */
static int mutate(mut_text *t, uint64_t *rng)
{
    static size_t starts[1 << 16];
    size_t nl = mut_line_starts(t, starts, sizeof starts / sizeof starts[0]);
    int kind = (int)mut_below(rng, M_KINDS);
    if (nl == 0 || t->n == 0)
        kind = M_FLIP;
    switch (kind) {
    case M_FLIP: {
        static const char special[] = "{}[],:-\"'#&*!|> \n\t0129.e%@`\\";
        if (t->n == 0)
            break;
        size_t at = mut_below(rng, t->n);
        t->s[at] = mut_below(rng, 3) ? special[mut_below(rng, sizeof special - 1)] : (char)mut_next(rng);
        break;
    }
    case M_DELETE: {
        size_t l = mut_below(rng, nl);
        mut_splice(t, starts[l], line_end(t, starts, nl, l) - starts[l], "", 0);
        break;
    }
    case M_DUPLICATE: {
        size_t l = mut_below(rng, nl), end = line_end(t, starts, nl, l), len = end - starts[l];
        char *copy = malloc(len + 1);
        assert_non_null(copy);
        memcpy(copy, t->s + starts[l], len);
        mut_splice(t, end, 0, copy, len);
        free(copy);
        break;
    }
    case M_SWAP: { /* swap two lines: nearby ones (records of one list) or anywhere */
        size_t a = mut_below(rng, nl);
        size_t b = mut_below(rng, 2) ? (a + 1 + mut_below(rng, 8)) % nl : mut_below(rng, nl);
        if (a == b)
            break;
        if (a > b) {
            size_t x = a;
            a = b;
            b = x;
        }
        size_t ea = line_end(t, starts, nl, a), eb = line_end(t, starts, nl, b);
        size_t la = ea - starts[a], lb = eb - starts[b];
        if (la == 0 || lb == 0 || t->s[ea - 1] != '\n' || t->s[eb - 1] != '\n')
            break;
        char *s = malloc(t->n + 1);
        assert_non_null(s);
        size_t o = 0;
        memcpy(s + o, t->s, starts[a]), o += starts[a];
        memcpy(s + o, t->s + starts[b], lb), o += lb;
        memcpy(s + o, t->s + ea, starts[b] - ea), o += starts[b] - ea;
        memcpy(s + o, t->s + starts[a], la), o += la;
        memcpy(s + o, t->s + eb, t->n - eb), o += t->n - eb;
        s[o] = 0;
        free(t->s);
        t->s = s;
        break;
    }
    case M_INDENT: { /* two spaces more or fewer at the start of a line */
        size_t l = mut_below(rng, nl);
        if (mut_below(rng, 2) && t->s[starts[l]] == ' ')
            mut_splice(t, starts[l], t->n - starts[l] >= 2 && t->s[starts[l] + 1] == ' ' ? 2 : 1, "", 0);
        else
            mut_splice(t, starts[l], 0, "  ", 2);
        break;
    }
    case M_TRUNCATE:
        t->n = mut_below(rng, t->n);
        t->s[t->n] = 0;
        break;
    case M_NUMBER: { /* a digit run becomes another number */
        size_t at = mut_below(rng, t->n), tries = 0;
        while (tries++ < t->n && !(t->s[at] >= '0' && t->s[at] <= '9'))
            at = (at + 1) % t->n;
        if (!(t->s[at] >= '0' && t->s[at] <= '9'))
            break;
        size_t a = at, b = at;
        while (a > 0 && t->s[a - 1] >= '0' && t->s[a - 1] <= '9')
            a--;
        while (b < t->n && t->s[b] >= '0' && t->s[b] <= '9')
            b++;
        char num[48];
        long long v = strtoll(t->s + a, NULL, 10);
        if (v > (1LL << 50))
            v = 1LL << 50;
        switch (mut_below(rng, 4)) {
        case 0: snprintf(num, sizeof num, "%s", numbers[mut_below(rng, nnumbers)]); break;
        case 1: snprintf(num, sizeof num, "%lld", v + (long long)mut_below(rng, 5) - 2); break;
        case 2: snprintf(num, sizeof num, "%lld", mut_below(rng, 2) ? v * 2 : v / 2); break;
        default: snprintf(num, sizeof num, "%lld", v + (mut_below(rng, 2) ? 32 : -32)); break;
        }
        mut_splice(t, a, b - a, num, strlen(num));
        break;
    }
    default: { /* a known word becomes another one */
        const char *from = words[mut_below(rng, nwords)];
        size_t nfrom = strlen(from);
        /* the first whole-word occurrence at or after a random place (else before it) */
        size_t at = mut_below(rng, t->n);
        const char *p = NULL;
        for (int pass = 0; pass < 2 && !p; pass++) {
            for (const char *q = strstr(t->s + (pass ? 0 : at), from); q; q = strstr(q + 1, from)) {
                if (pass && (size_t)(q - t->s) >= at)
                    break;
                char l = q == t->s ? ' ' : q[-1], r = q[nfrom];
                int inword_l = l == '_' || (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
                int inword_r = r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9');
                if (!inword_l && !inword_r) {
                    p = q;
                    break;
                }
            }
        }
        if (!p)
            break;
        const char *to = words[mut_below(rng, nwords)];
        mut_splice(t, (size_t)(p - t->s), nfrom, to, strlen(to));
        break;
    }
    }
    return kind;
}

/* The plan of bringup `name` compiled against its fixture checkpoint, as YAML. */
static char *fixture_plan(const char *name)
{
    const mgc_test_bringup *b = mgc_test_bringup_named(name);
    assert_non_null(b);
    mgc_error e = {{0}};
    mgc_model_dir md;
    if (mgc_model_dir_open(&md, b->fixture, 1, &e) != 0)
        fail_msg("%s", e.msg);
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = b->spec;
    mgc_model_dir_apply(&md, &o);
    mgc_test_result r;
    if (mgc_test_compile(&o, &r) != 0) {
        char *t = mgc_test_diags_text(&r.d);
        fail_msg("%s does not compile:\n%s", name, t);
    }
    assert_int_equal(mgc_test_count_diags(&r.d, MGC_WARNING), 0);
    char *s = mgc_plan_to_string(&r.plan, &e);
    if (!s)
        fail_msg("%s", e.msg);
    mgc_test_result_free(&r);
    mgc_model_dir_close(&md);
    return s;
}

static void mutate_plan(const char *name)
{
    char *orig = fixture_plan(name);
    char *dir = mgc_test_tempdir("mutants");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.plan.yaml", dir, name);
    size_t plen = strlen(path);

    /* the original reads back */
    mgc_plan p;
    mgc_error e = {{0}};
    assert_int_equal(mgc_test_write_file(path, orig, strlen(orig)), 0);
    if (mgc_plan_read(path, &p, &e) != 0)
        fail_msg("the unmutated plan does not read: %s", e.msg);
    mgc_plan_free(&p);

    uint64_t rng = SEED ^ (uint64_t)strlen(orig);
    int loaded = 0, rejected = 0, same = 0, by_kind[M_KINDS] = {0}, loaded_by_kind[M_KINDS] = {0};
    for (int m = 0; m < MUTANTS; m++) {
        mut_text t = {strdup(orig), strlen(orig)};
        assert_non_null(t.s);
        int edits = 1 + (int)mut_below(&rng, 3), kind = M_FLIP;
        for (int k = 0; k < edits; k++)
            kind = mutate(&t, &rng);
        by_kind[kind]++;
        same += t.n == strlen(orig) && memcmp(t.s, orig, t.n) == 0;
        assert_int_equal(mgc_test_write_file(path, t.s, t.n), 0);
        memset(&e, 0, sizeof e);
        memset(&p, 0x5a, sizeof p); /* whatever the reader leaves must not be garbage */
        if (mgc_plan_read(path, &p, &e) == 0) {
            loaded++;
            loaded_by_kind[kind]++;
            char what[160];
            snprintf(what, sizeof what, "%s mutant %d (%s)", name, m, kind_names[kind]);
            mgc_test_expect_plan_stable(&p, path, what);
            mgc_plan_free(&p);
        } else {
            rejected++;
            if (strncmp(e.msg, path, plen) != 0)
                fail_msg("%s mutant %d (%s): the message does not start with the file name: \"%s\"", name, m,
                         kind_names[kind], e.msg);
            if (strlen(e.msg) <= plen + 2)
                fail_msg("%s mutant %d: the message gives no cause: \"%s\"", name, m, e.msg);
        }
        free(t.s);
    }
    print_message("%s: %d mutants (%d unchanged): %d loaded, %d rejected; by kind (loaded/all):", name, MUTANTS, same,
                  loaded, rejected);
    for (int k = 0; k < M_KINDS; k++)
        print_message(" %s %d/%d", kind_names[k], loaded_by_kind[k], by_kind[k]);
    print_message("\n");
    assert_true(rejected > MUTANTS / 2);
    for (int k = 0; k < M_KINDS; k++)
        assert_true(by_kind[k] > 0);
    mgc_test_rmtree(dir);
    free(dir);
    free(orig);
}

static void test_mutants_phi3(void **state)
{
    (void)state;
    mutate_plan("phi3");
}

static void test_mutants_qwen3(void **state)
{
    (void)state;
    mutate_plan("qwen3");
}

/* Every line of a real plan (every other one under ASan) deleted on its
 * own: read without harm, and noticed. */
static void test_each_line_deleted(void **state)
{
    (void)state;
    char *orig = fixture_plan("allam");
    char *dir = mgc_test_tempdir("lines");
    char path[4096];
    snprintf(path, sizeof path, "%s/allam.plan.yaml", dir);
    mut_text t = {orig, strlen(orig)};
    static size_t starts[1 << 16];
    size_t nl = mut_line_starts(&t, starts, sizeof starts / sizeof starts[0]), loaded = 0;
    for (size_t l = 0; l < nl; l += SLOW ? 2 : 1) {
        size_t a = starts[l], b = line_end(&t, starts, nl, l);
        char *s = malloc(t.n + 1);
        assert_non_null(s);
        memcpy(s, orig, a);
        memcpy(s + a, orig + b, t.n - b);
        assert_int_equal(mgc_test_write_file(path, s, t.n - (b - a)), 0);
        free(s);
        mgc_plan p;
        mgc_error e = {{0}};
        if (mgc_plan_read(path, &p, &e) == 0) {
            loaded++;
            mgc_plan_free(&p);
        } else if (strncmp(e.msg, path, strlen(path)) != 0) {
            fail_msg("line %zu deleted: \"%s\"", l + 1, e.msg);
        }
    }
    /* only lines that carry nothing (the note, a comment) may go unnoticed */
    print_message("allam: %zu lines, %zu deletions still load\n", nl, loaded);
    assert_true(loaded < 8);
    mgc_test_rmtree(dir);
    free(dir);
    free(orig);
}

/* `s` with every occurrence of `from` replaced by `to` (at least one). */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t lf = strlen(from), lt = strlen(to), n = 0;
    for (const char *q = strstr(s, from); q; q = strstr(q + lf, from))
        n++;
    if (n == 0)
        fail_msg("'%s' is not in the plan", from);
    char *out = malloc(strlen(s) + n * lt + 1), *o = out;
    assert_non_null(out);
    for (const char *q = s, *hit; (hit = strstr(q, from)) != NULL || *q; q = hit + lf) {
        if (!hit) {
            strcpy(o, q);
            o += strlen(q);
            break;
        }
        memcpy(o, q, (size_t)(hit - q));
        o += hit - q;
        memcpy(o, to, lt);
        o += lt;
    }
    *o = 0;
    return out;
}

/* Reading `plan` with the edits (from, to, from, to, ..., NULL) applied fails
 * with "PATH:LINE: ..." naming `cause`. */
static void expect_rejected(const char *plan, const char *path, const char *cause, ...)
{
    char *t = strdup(plan);
    assert_non_null(t);
    va_list ap;
    va_start(ap, cause);
    for (const char *from; (from = va_arg(ap, const char *)) != NULL;) {
        char *u = replace_all(t, from, va_arg(ap, const char *));
        free(t);
        t = u;
    }
    va_end(ap);
    assert_int_equal(mgc_test_write_file(path, t, strlen(t)), 0);
    free(t);
    mgc_plan p;
    mgc_error e = {{0}};
    if (mgc_plan_read(path, &p, &e) == 0) {
        mgc_plan_free(&p);
        fail_msg("a plan with '%s' loaded", cause);
    }
    size_t n = strlen(path);
    if (strncmp(e.msg, path, n) != 0 || e.msg[n] != ':' || !(e.msg[n + 1] >= '1' && e.msg[n + 1] <= '9'))
        fail_msg("\"%s\" does not start with %s:LINE", e.msg, path);
    if (!strstr(e.msg, cause))
        fail_msg("\"%s\" does not say \"%s\"", e.msg, cause);
}

/* Edits that keep every index in range but make an op disagree with its
 * buffers or weight, as a hand-edited plan might: the kernels would index
 * past a buffer, so reading must refuse them. */
static void test_inconsistent_plans(void **state)
{
    (void)state;
    char *dir = mgc_test_tempdir("inconsistent");
    char path[4096];
    snprintf(path, sizeof path, "%s/p.plan.yaml", dir);
    char *phi3 = fixture_plan("phi3"), *allam = fixture_plan("allam");
    /* a weight slice holding more columns than the weight has */
    expect_rejected(phi3, path, "local size 257 on dim 1, which is not split, is not 256",
                    "{device: 1, read: [[32, 64], [0, 256]], local: [32, 256]}",
                    "{device: 1, read: [[32, 64], [0, 256]], local: [32, 257]}", NULL);
    /* q_proj's linear given o_proj's weight */
    expect_rejected(phi3, path, "(linear): [rows, 256] x weight [256, 32]^T cannot give [rows, 32]",
                    "{op: linear, in: [2], out: 3, weight: 2,", "{op: linear, in: [2], out: 3, weight: 5,", NULL);
    /* rotary over more heads than its buffer holds */
    expect_rejected(phi3, path, "2 heads of 32 (rope dim 32) do not fit input 32",
                    "{op: rotary, in: [3], out: 6, rope: 0, n_heads: 1,",
                    "{op: rotary, in: [3], out: 6, rope: 0, n_heads: 2,", NULL);
    /* an integer weight */
    expect_rejected(phi3, path, "dtype must be f32, bf16, bf8_b or bf4_b", "  dtype: f32\n", "  dtype: i32\n", NULL);
    /* an integer KV cache */
    expect_rejected(phi3, path, "activations and the KV cache f32 or bf16", "  kv_cache: bf16\n",
                    "  kv_cache: i32\n", NULL);
    /* one device, 512 logits in the buffer, 520 asked for */
    expect_rejected(allam, path, "1 devices x 512 columns do not hold 520 logits", "  vocab: 512\n  padded_vocab: 512\n",
                    "  vocab: 520\n  padded_vocab: 520\n", "{op: output, in: [35], vocab: 512,",
                    "{op: output, in: [35], vocab: 520,", NULL);
    free(phi3);
    free(allam);
    mgc_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutants_phi3),
        cmocka_unit_test(test_mutants_qwen3),
        cmocka_unit_test(test_each_line_deleted),
        cmocka_unit_test(test_inconsistent_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
