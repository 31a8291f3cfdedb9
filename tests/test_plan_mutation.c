/* Mutation tests of the plan reader (compiler/plan_read.c): thousands of
 * random edits of a serialized plan (byte flips, line deletions and
 * duplications, truncations, number changes), each read in-process.  Every
 * one must either load into a plan that validates and writes back to text
 * that loads again, or fail with a message that starts with the label.  Run
 * it under ASan/UBSan (make test SAN=1) to catch what a crash would not. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mutate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "plan_sample.h"

#define LABEL "mutant.plan.yaml"
#ifndef MUTANTS /* -DMUTANTS=... -DSEED=... for a longer hunt */
#define MUTANTS 3000
#endif
#ifndef SEED
#define SEED 0x6d67632d706c616eull
#endif

static const char *const numbers[] = {
    "0", "1", "-1", "2", "3", "7", "13", "31", "32", "33", "63", "64", "65", "100", "127", "128",
    "4096", "65536", "2147483647", "2147483648", "-2147483649", "4294967296", "1099511627776",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e308", "-0", "0.5",
    "nan", "inf", "1e-320", "18446744073709551616",
};

/* One random edit of t. */
static int mutate(mut_text *t, uint64_t *rng)
{
    size_t starts[4096];
    size_t nl = mut_line_starts(t, starts, 4096);
    int kind = (int)mut_below(rng, 6);
    switch (kind) {
    case 0: { /* flip a byte to something random or structural */
        static const char special[] = "{}[],:-\"'#&*!|> \n\t0129.e%@`\\";
        size_t at = mut_below(rng, t->n);
        char c = mut_below(rng, 3) ? special[mut_below(rng, sizeof special - 1)] : (char)mut_next(rng);
        t->s[at] = c;
        break;
    }
    case 1: { /* delete a line */
        size_t l = mut_below(rng, nl);
        size_t end = l + 1 < nl ? starts[l + 1] : t->n;
        mut_splice(t, starts[l], end - starts[l], "", 0);
        break;
    }
    case 2: { /* duplicate a line */
        size_t l = mut_below(rng, nl);
        size_t end = l + 1 < nl ? starts[l + 1] : t->n;
        size_t len = end - starts[l];
        char *copy = malloc(len + 1);
        assert_non_null(copy);
        memcpy(copy, t->s + starts[l], len);
        mut_splice(t, end, 0, copy, len);
        free(copy);
        break;
    }
    case 3: /* truncate */
        t->n = mut_below(rng, t->n);
        t->s[t->n] = 0;
        break;
    default: { /* change a number: pick a digit run */
        size_t at = mut_below(rng, t->n), tries = 0;
        while (tries++ < t->n && !(t->s[at] >= '0' && t->s[at] <= '9'))
            at = (at + 1) % t->n;
        size_t a = at, b = at;
        while (a > 0 && t->s[a - 1] >= '0' && t->s[a - 1] <= '9')
            a--;
        while (b < t->n && t->s[b] >= '0' && t->s[b] <= '9')
            b++;
        char num[32];
        if (mut_below(rng, 2)) {
            const char *r = numbers[mut_below(rng, sizeof numbers / sizeof numbers[0])];
            snprintf(num, sizeof num, "%s", r);
        } else { /* off by a little */
            long long v = strtoll(t->s + a, NULL, 10);
            if (v > (1LL << 50))
                v = 1LL << 50;
            snprintf(num, sizeof num, "%lld", v + (long long)mut_below(rng, 5) - 2);
        }
        mut_splice(t, a, b - a, num, strlen(num));
        break;
    }
    }
    return kind;
}

static void test_mutations(void **state)
{
    (void)state;
    mgc_plan p;
    mgc_error e = { { 0 } };
    mgc_test_sample_plan(&p);
    char *orig = mgc_plan_to_string(&p, &e);
    assert_non_null(orig);
    mgc_plan_free(&p);

    uint64_t rng = SEED;
    int loaded = 0, rejected = 0, by_kind_loaded[6] = { 0 };
    for (int m = 0; m < MUTANTS; m++) {
        mut_text t = { strdup(orig), strlen(orig) };
        assert_non_null(t.s);
        int edits = 1 + (int)mut_below(&rng, 3), kind = 0;
        for (int k = 0; k < edits && t.n > 0; k++)
            kind = mutate(&t, &rng);
        /* parse from an exact-size copy so ASan sees any read past the end */
        char *exact = malloc(t.n ? t.n : 1);
        assert_non_null(exact);
        memcpy(exact, t.s, t.n);
        memset(&e, 0, sizeof e);
        int rc = mgc_plan_parse(LABEL, exact, t.n, &p, &e);
        if (rc == 0) {
            loaded++;
            by_kind_loaded[kind]++;
            char what[64];
            snprintf(what, sizeof what, "mutant %d", m);
            mgc_test_expect_plan_stable(&p, LABEL, what);
            mgc_plan_free(&p);
        } else {
            rejected++;
            if (strncmp(e.msg, LABEL ":", strlen(LABEL ":")) != 0)
                fail_msg("mutant %d: message does not start with the label: \"%s\"", m, e.msg);
            /* a failed read leaves nothing behind */
            assert_null(p.weights);
            assert_null(p.model);
            assert_null(p.prefill.ops);
            assert_null(p.decode.bufs);
        }
        free(exact);
        free(t.s);
    }
    print_message("%d mutants: %d loaded (flip %d, delete %d, duplicate %d, truncate %d, number %d), %d rejected\n",
                  MUTANTS, loaded, by_kind_loaded[0], by_kind_loaded[1], by_kind_loaded[2],
                  by_kind_loaded[3], by_kind_loaded[4] + by_kind_loaded[5], rejected);
    assert_true(rejected > MUTANTS / 2);
    free(orig);
}

/* Prefixes of the text (every 7th, then all of the last 64) are read without harm. */
static void test_every_truncation(void **state)
{
    (void)state;
    mgc_plan p;
    mgc_error e = { { 0 } };
    mgc_test_sample_plan(&p);
    char *orig = mgc_plan_to_string(&p, &e);
    assert_non_null(orig);
    mgc_plan_free(&p);
    size_t n = strlen(orig);
    for (size_t cut = 0; cut < n; cut += cut + 64 < n ? 7 : 1) {
        char *exact = malloc(cut ? cut : 1);
        assert_non_null(exact);
        memcpy(exact, orig, cut);
        int rc = mgc_plan_parse(LABEL, exact, cut, &p, &e);
        /* dropping only the final newline still loads */
        if (rc == 0) {
            assert_true(cut == n - 1);
            mgc_plan_free(&p);
        } else {
            assert_true(strncmp(e.msg, LABEL ":", strlen(LABEL ":")) == 0);
        }
        free(exact);
    }
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_every_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
