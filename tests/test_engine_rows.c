/* Ops whose rows are independent (norms, rotary, elementwise, the cache
 * writes, decode attention) are split over a device's pool
 * (runtime/engine_rows.c).  The split must not change a bit: for every
 * bundled architecture, on the one-device cpu plan in f32 and at the spec's
 * own precision, an engine whose device has 3 threads and splits every such
 * op of two rows or more gives the same logits as one with 1 thread, for a
 * 40-token prefill, a second user's 13-token prefill continued by a chunk
 * of 6 (a prefill against the cache), and 4 decode steps of 3 users. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "engine.h"
#include "engine_internal.h"

enum { P0 = 40, P1 = 13, P1B = 6, USERS = 3, STEPS = 4 };

/* Every logit the sequence above produces, in order, into out. */
static size_t run_sequence(rt_engine *en, float *out)
{
    int64_t vocab = rt_engine_vocab(en);
    mgc_error e = {{0}};
    int32_t p[P0];
    for (int i = 0; i < P0; i++)
        p[i] = (int32_t)((i * 37 + 3) % vocab);
    size_t at = 0;
    assert_int_equal(rt_engine_prefill(en, 0, p, P0, 0, out + at, &e), 0);
    at += (size_t)P0 * (size_t)vocab;
    assert_int_equal(rt_engine_prefill(en, 1, p + 5, P1, 0, out + at, &e), 0);
    at += (size_t)P1 * (size_t)vocab;
    assert_int_equal(rt_engine_prefill(en, 1, p + 20, P1B, P1, out + at, &e), 0);
    at += (size_t)P1B * (size_t)vocab;
    assert_int_equal(rt_engine_prefill(en, 2, p + 9, 2, 0, out + at, &e), 0);
    at += 2 * (size_t)vocab;
    const int users[USERS] = {0, 1, 2};
    int32_t pos[USERS] = {P0, P1 + P1B, 2}, tok[USERS] = {7, 8, 9};
    for (int s = 0; s < STEPS; s++) {
        assert_int_equal(rt_engine_decode(en, USERS, users, tok, pos, out + at, &e), 0);
        for (int u = 0; u < USERS; u++) {
            tok[u] = (int32_t)e2e_argmax(out + at + (size_t)u * (size_t)vocab, vocab);
            pos[u]++;
        }
        at += (size_t)USERS * (size_t)vocab;
    }
    return at;
}

static rt_engine *load(const mgc_plan *plan, const char *dir, int cores)
{
    rt_engine *en = NULL;
    mgc_error err = {{0}};
    rt_engine_opts eo = {.n_cores = cores};
    if (rt_engine_load(plan, dir, &eo, &en, &err) != 0)
        fail_msg("loading %s: %s", dir, err.msg);
    return en;
}

static void check(const e2e_arch *a, int f32)
{
    char dir[512];
    e2e_model_dir(a, dir, sizeof dir);
    mgc_plan plan;
    if (e2e_compile(a->spec, dir, "cpu", f32 ? MGC_F32 : -1, f32 ? MGC_F32 : -1, E2E_MAX_SEQ, &plan) != 0)
        fail_msg("compiling %s for cpu failed", a->spec);
    rt_engine *one = load(&plan, dir, 1), *three = load(&plan, dir, 3);
    size_t n = (size_t)(P0 + P1 + P1B + 2 + STEPS * USERS) * (size_t)rt_engine_vocab(one);
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    rt_engine_rows_min_values = 1;
    long before = atomic_load(&rt_engine_rows_splits);
    assert_int_equal(run_sequence(one, x), n);
    assert_int_equal(atomic_load(&rt_engine_rows_splits), before); /* one thread: nothing to split */
    assert_int_equal(run_sequence(three, y), n);
    long splits = atomic_load(&rt_engine_rows_splits) - before;
    assert_true(splits > 0);
    if (memcmp(x, y, sizeof(float) * n) != 0)
        fail_msg("%s (%s): logits differ between 1 and 3 threads per device", a->name, f32 ? "f32" : "spec precision");
    printf("[ rows     ] %s %s: %ld ops split over 3 threads, every logit bit-identical to 1 thread\n", a->name,
           f32 ? "f32 " : "spec", splits);
    rt_engine_rows_min_values = 8192;
    free(x);
    free(y);
    rt_engine_free(one);
    rt_engine_free(three);
    mgc_plan_free(&plan);
}

static void test_every_architecture(void **state)
{
    (void)state;
    for (size_t i = 0; i < e2e_narchs; i++) {
        check(&e2e_archs[i], 1);
        check(&e2e_archs[i], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_architecture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
