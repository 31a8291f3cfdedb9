/* test_spec_mutation: thousands of random mutations of the bundled specs
 * (byte flips, truncations, token deletions, duplications, line swaps), each
 * parsed, loaded with its imports, checked and - when it still parses -
 * formatted, in-process.  No mutation may crash (ASan/UBSan watch in
 * SAN=1 builds), and each one either passes or yields at least one error
 * with a valid location.  Formatting a mutant that parses must keep its tree
 * and be idempotent.  The seed is fixed, so a failure reproduces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mutate.h"

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "fmt.h"
#include "parse.h"
#include "program.h"

enum { MUTATIONS = 3600 };


typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    /* xorshift64* */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

static size_t below(rng *r, size_t n) { return n ? (size_t)(next(r) % n) : 0; }

typedef struct text {
    char *s;
    size_t len;
} text;

static text read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    text t = {malloc(1 << 16), 0};
    t.len = fread(t.s, 1, 1 << 16, f);
    fclose(f);
    return t;
}

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The extent of the "token" at i: a run of word characters, or one byte. */
static void token_at(const text *t, size_t i, size_t *start, size_t *end)
{
    *start = *end = i;
    if (i >= t->len)
        return;
    if (!is_word(t->s[i])) {
        *end = i + 1;
        return;
    }
    while (*start > 0 && is_word(t->s[*start - 1]))
        (*start)--;
    while (*end < t->len && is_word(t->s[*end]))
        (*end)++;
}

static const char *const inserts[] = {"(", ")", "{", "}", "[", "]", ",", "=", "@", "\"", "w\"", "#", "\n", ";",
                                      "..", "??", "-", "return ", "def ", "for i in ", "cache", "\\", "@col",
                                      "linear(", "\t", "0x", "1e", "{i}"};

/* Applies one random mutation to a copy of src. */
static text mutate(rng *r, const text *src, int *kind)
{
    text t = {malloc(src->len * 2 + 64), src->len};
    memcpy(t.s, src->s, src->len);
    size_t i = below(r, t.len);
    *kind = (int)below(r, 7);
    switch (*kind) {
    case 0: /* byte flip */
        t.s[i] = (char)(next(r) & 0xff);
        break;
    case 1: /* truncation */
        t.len = i;
        break;
    case 2: { /* token deletion */
        size_t a, b;
        token_at(&t, i, &a, &b);
        memmove(t.s + a, t.s + b, t.len - b);
        t.len -= b - a;
        break;
    }
    case 3: { /* duplication of a span of up to 40 bytes */
        size_t n = 1 + below(r, 40);
        if (i + n > t.len)
            n = t.len - i;
        memmove(t.s + i + n, t.s + i, t.len - i);
        t.len += n;
        break;
    }
    case 4: { /* insertion of a piece of syntax */
        const char *ins = inserts[below(r, sizeof inserts / sizeof inserts[0])];
        size_t n = strlen(ins);
        memmove(t.s + i + n, t.s + i, t.len - i);
        memcpy(t.s + i, ins, n);
        t.len += n;
        break;
    }
    case 5: { /* swap two tokens */
        size_t a1, b1, a2, b2;
        token_at(&t, i, &a1, &b1);
        token_at(&t, below(r, t.len), &a2, &b2);
        if (b1 - a1 == b2 - a2 && (b1 <= a2 || b2 <= a1)) {
            char tmp[4096];
            size_t n = b1 - a1 < sizeof tmp ? b1 - a1 : 0;
            memcpy(tmp, t.s + a1, n);
            memcpy(t.s + a1, t.s + a2, n);
            memcpy(t.s + a2, tmp, n);
        } else {
            t.s[i] = ' ';
        }
        break;
    }
    default: { /* delete a whole line */
        size_t a = i, b = i;
        while (a > 0 && t.s[a - 1] != '\n')
            a--;
        while (b < t.len && t.s[b] != '\n')
            b++;
        if (b < t.len)
            b++;
        memmove(t.s + a, t.s + b, t.len - b);
        t.len -= b - a;
        break;
    }
    }
    return t;
}

static int count_lines(const char *s, size_t len)
{
    int n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n;
}

static void check_mutant(const char *path, const text *t, int kind, int iter)
{
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_program *p = mgc_program_load_string(path, t->s, t->len, &d);
    assert_non_null(p);
    mgc_check_program(p, &d);
    /* every located diagnostic points into its file */
    int nl = count_lines(t->s, t->len);
    for (size_t k = 0; k < d.n; k++) {
        const mgc_diagnostic *g = &d.items[k];
        if (!g->span.file)
            continue;
        int max = strcmp(g->span.file, path) == 0 ? nl : 1 << 20;
        if (g->span.line < 1 || g->span.line > max || g->span.col < 1)
            fail_msg("mutation %d (kind %d) of %s: diagnostic '%s' at %d:%d (file has %d lines)", iter, kind, path,
                     g->msg, g->span.line, g->span.col, nl);
    }
    /* a mutant that still parses formats to the same tree, idempotently */
    if (p->root->syntax_errors == 0) {
        char *out = mgc_fmt(p->root);
        mgc_diags d2;
        mgc_diags_init(&d2);
        mgc_ast_file *g = mgc_parse_string(path, out, strlen(out), &d2);
        if (d2.nerrors) {
            mgc_diags_print(&d2, stderr, 0);
            fail_msg("mutation %d (kind %d) of %s: formatted text does not parse:\n%s", iter, kind, path, out);
        }
        char *a = mgc_ast_dump(p->root), *b = mgc_ast_dump(g);
        if (strcmp(a, b) != 0)
            fail_msg("mutation %d (kind %d) of %s: formatting changed the tree", iter, kind, path);
        char *out2 = mgc_fmt(g);
        if (strcmp(out, out2) != 0)
            fail_msg("mutation %d (kind %d) of %s: formatting is not idempotent:\n%s\n---\n%s", iter, kind, path, out,
                     out2);
        free(a);
        free(b);
        free(out);
        free(out2);
        mgc_ast_free(g);
        mgc_diags_free(&d2);
    }
    mgc_program_free(p);
    mgc_diags_free(&d);
}

static void test_mutations(void **state)
{
    (void)state;
    text *src = calloc(mut_nbundled_specs, sizeof *src);
    for (size_t i = 0; i < mut_nbundled_specs; i++)
        src[i] = read_all(mut_bundled_specs[i]);
    rng r = {0x9e3779b97f4a7c15ull};
    int failing = 0, passing = 0;
    for (int iter = 0; iter < MUTATIONS; iter++) {
        size_t which = below(&r, mut_nbundled_specs);
        int kind;
        text t = mutate(&r, &src[which], &kind);
        /* a second mutation now and then */
        if (below(&r, 4) == 0) {
            int k2;
            text t2 = mutate(&r, &t, &k2);
            free(t.s);
            t = t2;
        }
        check_mutant(mut_bundled_specs[which], &t, kind, iter);
        mgc_diags d;
        mgc_diags_init(&d);
        mgc_program *p = mgc_program_load_string(mut_bundled_specs[which], t.s, t.len, &d);
        mgc_check_program(p, &d);
        if (d.nerrors)
            failing++;
        else
            passing++;
        mgc_program_free(p);
        mgc_diags_free(&d);
        free(t.s);
    }
    for (size_t i = 0; i < mut_nbundled_specs; i++)
        free(src[i].s);
    free(src);
    /* the mutations exercise both outcomes */
    assert_true(failing > MUTATIONS / 4);
    assert_true(passing > 10);
    print_message("%d mutations: %d rejected with diagnostics, %d still valid\n", MUTATIONS, failing, passing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
