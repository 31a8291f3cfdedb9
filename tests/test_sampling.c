/* Tests of token sampling (eval/sampling.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampling.h"

static void random_logits(float *x, int n, uint64_t seed, float scale)
{
    ev_rng r;
    ev_rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        x[i] = (float)((ev_rng_uniform(&r) * 2.0 - 1.0) * scale);
}

/* ---- the PRNG ---------------------------------------------------------------------- */

static void test_rng(void **state)
{
    ev_rng a, b, c;
    ev_rng_seed(&a, 1234);
    ev_rng_seed(&b, 1234);
    ev_rng_seed(&c, 1235);
    int same_c = 0;
    double sum = 0.0;
    for (int i = 0; i < 100000; i++) {
        uint64_t x = ev_rng_next(&a);
        assert_true(x == ev_rng_next(&b));
        same_c += x == ev_rng_next(&c);
        double u = ev_rng_uniform(&a);
        ev_rng_uniform(&b);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
    }
    assert_int_equal(same_c, 0);
    assert_true(fabs(sum / 100000 - 0.5) < 0.01);

    /* seed 0 works too (state not all zero) */
    ev_rng z;
    ev_rng_seed(&z, 0);
    assert_true(ev_rng_next(&z) != 0 || ev_rng_next(&z) != 0);
}

/* ---- parameters ----------------------------------------------------------------------- */

static void test_check(void **state)
{
    mgc_error e = {{0}};
    ev_sampler s;
    assert_int_equal(ev_sampler_check(0.0f, 0, 1.0f, &e), 0);
    assert_int_equal(ev_sampler_check(0.7f, 40, 0.95f, &e), 0);
    assert_int_equal(ev_sampler_check(-0.1f, 0, 1.0f, &e), -1);
    assert_non_null(strstr(e.msg, "temperature"));
    assert_int_equal(ev_sampler_check(NAN, 0, 1.0f, &e), -1);
    assert_non_null(strstr(e.msg, "temperature"));
    assert_int_equal(ev_sampler_check(INFINITY, 0, 1.0f, &e), -1);
    assert_int_equal(ev_sampler_check(1.0f, -1, 1.0f, &e), -1);
    assert_non_null(strstr(e.msg, "top_k -1"));
    assert_int_equal(ev_sampler_check(1.0f, 0, 0.0f, &e), -1);
    assert_non_null(strstr(e.msg, "top_p 0"));
    assert_int_equal(ev_sampler_check(1.0f, 0, 1.5f, &e), -1);
    assert_non_null(strstr(e.msg, "top_p 1.5"));
    assert_int_equal(ev_sampler_check(1.0f, 0, NAN, &e), -1);
    assert_int_equal(ev_sampler_init(&s, 1.0f, 0, 2.0f, 1, &e), -1);
    assert_non_null(strstr(e.msg, "top_p"));
    assert_int_equal(ev_sampler_init(NULL, 1.0f, 0, 1.0f, 1, &e), -1);

    float x[3] = {1, 2, 3};
    ev_sample_cand sc[3];
    assert_int_equal(ev_sampler_init(&s, 1.0f, 0, 1.0f, 1, &e), 0);
    assert_int_equal(ev_sample(&s, x, 0, sc, &e), -1);
    assert_non_null(strstr(e.msg, "vocabulary of 0"));
    assert_int_equal(ev_sample(&s, x, 3, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "scratch"));
    float bad[3] = {1, NAN, 3};
    assert_int_equal(ev_sample(&s, bad, 3, sc, &e), -1);
    assert_non_null(strstr(e.msg, "logit 1"));
    float pinf[3] = {1, 2, INFINITY};
    assert_int_equal(ev_sample(&s, pinf, 3, sc, &e), -1);
    float ninf[2] = {-INFINITY, -INFINITY};
    assert_int_equal(ev_sample(&s, ninf, 2, sc, &e), -1);
    assert_non_null(strstr(e.msg, "-inf"));
}

/* ---- greedy ------------------------------------------------------------------------------- */

static void test_greedy(void **state)
{
    mgc_error e = {{0}};
    ev_sampler s;
    assert_int_equal(ev_sampler_init(&s, 0.0f, 0, 1.0f, 9, &e), 0);
    float x[6] = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f, -INFINITY};
    assert_int_equal(ev_sample(&s, x, 6, NULL, &e), 1); /* tie -> lowest index */
    assert_int_equal(ev_sample_greedy(x, 6), 1);
    float y[3] = {NAN, -2.0f, -3.0f};
    assert_int_equal(ev_sample_greedy(y, 3), 1);
    assert_int_equal(ev_sample_greedy(y, 0), -1);
    float none_above[3] = {NAN, -INFINITY, -INFINITY}; /* greedy: the first non-NaN */
    assert_int_equal(ev_sample_greedy(none_above, 3), 1);
    assert_int_equal(ev_sample(&s, none_above + 1, 2, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "-inf"));
    float ninf_first[3] = {-INFINITY, -5.0f, -4.0f};
    assert_int_equal(ev_sample(&s, ninf_first, 3, NULL, &e), 2);

    /* a vocabulary off the 8-lane step: ties in different lanes and in one
     * lane give the lowest index; a NaN or +inf anywhere is named */
    for (int n = 1; n <= 1001; n += 125) {
        float *v = malloc(sizeof(float) * (size_t)n);
        for (int i = 0; i < n; i++)
            v[i] = (float)((i * 7919) % 1000) / 100.0f - 20.0f;
        int want = n > 3 ? n - 3 : 0;
        v[want] = 50.0f;
        if (n > 30) {
            v[n - 1] = 50.0f; /* another lane */
            v[want + 8 < n ? want + 8 : n - 1] = 50.0f; /* the same lane */
            v[12] = -INFINITY;
        }
        assert_int_equal(ev_sample(&s, v, n, NULL, &e), want);
        assert_int_equal(ev_sample_greedy(v, n), want);
        v[n / 2] = n % 2 ? NAN : INFINITY;
        assert_int_equal(ev_sample(&s, v, n, NULL, &e), -1);
        char named[32];
        snprintf(named, sizeof named, "logit %d is", n / 2);
        assert_non_null(strstr(e.msg, named));
        free(v);
    }

    /* greedy draws do not touch the PRNG */
    ev_rng before = s.rng;
    for (int i = 0; i < 10; i++)
        ev_sample(&s, x, 6, NULL, &e);
    assert_memory_equal(&before, &s.rng, sizeof before);
}

static void test_top_k_1_is_greedy(void **state)
{
    mgc_error e = {{0}};
    enum { V = 2000 };
    static float x[V];
    static ev_sample_cand sc[V];
    float temps[] = {0.1f, 1.0f, 5.0f, 100.0f};
    for (int t = 0; t < 4; t++) {
        ev_sampler s;
        assert_int_equal(ev_sampler_init(&s, temps[t], 1, 1.0f, 77 + t, &e), 0);
        for (int trial = 0; trial < 50; trial++) {
            random_logits(x, V, 1000 + trial, 3.0f);
            if (trial % 5 == 0)
                x[trial] = x[ev_sample_greedy(x, V)]; /* a tie with the maximum */
            assert_int_equal(ev_sample(&s, x, V, sc, &e), ev_sample_greedy(x, V));
        }
    }
}

static void test_small_top_p_is_top_token(void **state)
{
    mgc_error e = {{0}};
    enum { V = 5000 };
    static float x[V];
    static ev_sample_cand sc[V];
    ev_sampler s;
    assert_int_equal(ev_sampler_init(&s, 1.5f, 0, 1e-6f, 5, &e), 0);
    for (int trial = 0; trial < 100; trial++) {
        random_logits(x, V, 50 + trial, 2.0f);
        assert_int_equal(ev_sample(&s, x, V, sc, &e), ev_sample_greedy(x, V));
    }
    /* the same through top_k first */
    assert_int_equal(ev_sampler_init(&s, 1.5f, 40, 1e-6f, 5, &e), 0);
    for (int trial = 0; trial < 20; trial++) {
        random_logits(x, V, 500 + trial, 2.0f);
        assert_int_equal(ev_sample(&s, x, V, sc, &e), ev_sample_greedy(x, V));
    }
}

/* ---- reproducibility ------------------------------------------------------------------------ */

static void draw_sequence(uint64_t seed, float t, int k, float p, int *out, int n)
{
    mgc_error e = {{0}};
    enum { V = 3000 };
    static float x[V];
    static ev_sample_cand sc[V];
    ev_sampler s;
    assert_int_equal(ev_sampler_init(&s, t, k, p, seed, &e), 0);
    for (int i = 0; i < n; i++) {
        random_logits(x, V, (uint64_t)i, 4.0f);
        out[i] = ev_sample(&s, x, V, sc, &e);
        assert_true(out[i] >= 0 && out[i] < V);
    }
}

static void test_same_seed_same_sequence(void **state)
{
    enum { N = 300 };
    int a[N], b[N], c[N];
    struct {
        float t;
        int k;
        float p;
    } cfg[] = {{1.0f, 0, 1.0f}, {0.8f, 50, 1.0f}, {1.2f, 0, 0.9f}, {0.7f, 100, 0.95f}};
    for (int i = 0; i < 4; i++) {
        draw_sequence(42, cfg[i].t, cfg[i].k, cfg[i].p, a, N);
        draw_sequence(42, cfg[i].t, cfg[i].k, cfg[i].p, b, N);
        draw_sequence(43, cfg[i].t, cfg[i].k, cfg[i].p, c, N);
        assert_memory_equal(a, b, sizeof a);
        assert_memory_not_equal(a, c, sizeof a);
    }
}

/* ---- distributions ----------------------------------------------------------------------------- */

static void frequencies(ev_sampler *s, const float *x, int v, int draws, double *freq)
{
    mgc_error e = {{0}};
    ev_sample_cand sc[8];
    long count[8] = {0};
    for (int d = 0; d < draws; d++) {
        int t = ev_sample(s, x, v, sc, &e);
        assert_true(t >= 0 && t < v);
        count[t]++;
    }
    for (int i = 0; i < v; i++)
        freq[i] = (double)count[i] / draws;
}

static void test_empirical_softmax(void **state)
{
    mgc_error e = {{0}};
    const float x[3] = {1.0f, 2.0f, 0.5f};
    const float temps[] = {0.7f, 1.0f, 2.5f};
    enum { DRAWS = 100000 };
    for (int ti = 0; ti < 3; ti++) {
        double t = temps[ti], want[3], z = 0.0, freq[3];
        for (int i = 0; i < 3; i++)
            z += want[i] = exp(x[i] / t);
        for (int i = 0; i < 3; i++)
            want[i] /= z;
        ev_sampler s;
        assert_int_equal(ev_sampler_init(&s, temps[ti], 0, 1.0f, 2024 + ti, &e), 0);
        frequencies(&s, x, 3, DRAWS, freq);
        for (int i = 0; i < 3; i++)
            if (fabs(freq[i] - want[i]) > 0.01)
                fail_msg("T=%g token %d: frequency %.4f, softmax %.4f", t, i, freq[i], want[i]);
    }
}

static void test_top_k_top_p_renormalise(void **state)
{
    mgc_error e = {{0}};
    /* probabilities 0.6, 0.3, 0.1 at T = 1 */
    const float x[3] = {logf(0.3f), logf(0.6f), logf(0.1f)};
    double freq[3];
    ev_sampler s;

    /* top_k 2: {1, 0} renormalised to 2/3, 1/3 */
    assert_int_equal(ev_sampler_init(&s, 1.0f, 2, 1.0f, 11, &e), 0);
    frequencies(&s, x, 3, 60000, freq);
    assert_true(freq[2] == 0.0);
    assert_true(fabs(freq[1] - 2.0 / 3.0) < 0.01 && fabs(freq[0] - 1.0 / 3.0) < 0.01);

    /* top_p 0.8: 0.6 < 0.8 <= 0.9, so the same two tokens */
    assert_int_equal(ev_sampler_init(&s, 1.0f, 0, 0.8f, 12, &e), 0);
    frequencies(&s, x, 3, 60000, freq);
    assert_true(freq[2] == 0.0);
    assert_true(fabs(freq[1] - 2.0 / 3.0) < 0.01);

    /* top_p 0.5: the top token alone */
    assert_int_equal(ev_sampler_init(&s, 1.0f, 0, 0.5f, 13, &e), 0);
    frequencies(&s, x, 3, 1000, freq);
    assert_true(freq[1] == 1.0);

    /* top_k 3 of 3 and top_p 1: the full distribution */
    assert_int_equal(ev_sampler_init(&s, 1.0f, 3, 1.0f, 14, &e), 0);
    frequencies(&s, x, 3, 60000, freq);
    assert_true(fabs(freq[1] - 0.6) < 0.01 && fabs(freq[2] - 0.1) < 0.01);

    /* -inf tokens are never drawn */
    const float masked[4] = {0.0f, -INFINITY, 0.0f, -INFINITY};
    assert_int_equal(ev_sampler_init(&s, 1.0f, 0, 1.0f, 15, &e), 0);
    double f4[4];
    frequencies(&s, masked, 4, 20000, f4);
    assert_true(f4[1] == 0.0 && f4[3] == 0.0 && fabs(f4[0] - 0.5) < 0.02);
}

/* The binned top-p over a large vocabulary picks what a full sort would. */
typedef struct ref_cand {
    float x;
    float w;
    int id;
} ref_cand;

static int ref_cmp(const void *a, const void *b)
{
    const ref_cand *p = a, *q = b;
    if (p->x != q->x)
        return p->x > q->x ? -1 : 1;
    return p->id - q->id;
}

static int naive_top_p(const float *x, int v, float t, float top_p, ev_rng *rng, ref_cand *c)
{
    int best = ev_sample_greedy(x, v);
    double m = x[best], z = 0.0;
    for (int i = 0; i < v; i++) {
        c[i].x = x[i];
        c[i].w = (float)exp(((double)x[i] - m) * (1.0 / (double)t));
        c[i].id = i;
        z += c[i].w;
    }
    qsort(c, (size_t)v, sizeof *c, ref_cmp);
    double want = (double)top_p * z, acc = 0.0;
    int keep = v;
    for (int i = 0; i < v; i++) {
        acc += c[i].w;
        if (acc >= want) {
            keep = i + 1;
            break;
        }
    }
    z = 0.0;
    for (int i = 0; i < keep; i++)
        z += c[i].w;
    double target = ev_rng_uniform(rng) * z;
    acc = 0.0;
    for (int i = 0; i < keep; i++) {
        acc += c[i].w;
        if (target < acc)
            return c[i].id;
    }
    return c[keep - 1].id;
}

static void test_top_p_matches_full_sort(void **state)
{
    mgc_error e = {{0}};
    enum { V = 151936 };
    float *x = malloc(V * sizeof *x);
    ev_sample_cand *sc = malloc(V * sizeof *sc);
    ref_cand *rc = malloc(V * sizeof *rc);
    assert_true(x && sc && rc);
    float temps[] = {0.6f, 1.0f, 3.0f};
    float tops[] = {0.9f, 0.5f, 0.99f};
    for (int cfg = 0; cfg < 3; cfg++) {
        ev_sampler s;
        ev_rng ref_rng;
        assert_int_equal(ev_sampler_init(&s, temps[cfg], 0, tops[cfg], 99 + cfg, &e), 0);
        ev_rng_seed(&ref_rng, 99 + cfg);
        for (int trial = 0; trial < 8; trial++) {
            random_logits(x, V, 7000 + trial, 12.0f);
            int got = ev_sample(&s, x, V, sc, &e);
            int want = naive_top_p(x, V, temps[cfg], tops[cfg], &ref_rng, rc);
            if (got != want)
                fail_msg("T=%g top_p=%g trial %d: got %d, full sort %d", (double)temps[cfg],
                         (double)tops[cfg], trial, got, want);
        }
    }
    free(x);
    free(sc);
    free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_top_k_1_is_greedy),
        cmocka_unit_test(test_small_top_p_is_top_token),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_empirical_softmax),
        cmocka_unit_test(test_top_k_top_p_renormalise),
        cmocka_unit_test(test_top_p_matches_full_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
