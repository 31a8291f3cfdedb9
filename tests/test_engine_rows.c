/* Ops whose rows are independent (norms, rotary, elementwise, the cache
 * writes, decode attention) are split over a device's pool
 * (runtime/engine_rows.c).  The split must not change a bit: for every
 * bundled architecture, on the one-device cpu plan in f32 and at the spec's
 * own precision, an engine whose device has 4 threads and splits every such
 * op of two rows or more gives the same logits as one with 1 thread over
 * e2e_run_sequence (prefills, one against the cache, decode steps of 3
 * users, a last-row prefill and the residual stream).  Decode attention is
 * split by (user, KV head): 3 users' heads over 4 threads cut through a
 * user's heads.  The logits' copy to the host is split by rows too (a
 * thread's rows put at the wrong place fails this). */
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

static rt_engine *load(const mgc_plan *plan, const char *dir, int cores)
{
    rt_engine_opts eo = {.n_cores = cores};
    return e2e_engine_load(plan, dir, &eo);
}

static void check(const e2e_arch *a, int f32)
{
    char dir[512];
    e2e_model_dir(a, dir, sizeof dir);
    mgc_plan plan;
    if (e2e_compile(a->spec, dir, "cpu", f32 ? MGC_F32 : -1, f32 ? MGC_F32 : -1, E2E_MAX_SEQ, &plan) != 0)
        fail_msg("compiling %s for cpu failed", a->spec);
    rt_engine *one = load(&plan, dir, 1), *four = load(&plan, dir, 4);
    size_t n = e2e_sequence_values(one);
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    rt_engine_rows_min_values = 1;
    long before = atomic_load(&rt_engine_rows_splits);
    assert_int_equal(e2e_run_sequence(one, x), n);
    assert_int_equal(atomic_load(&rt_engine_rows_splits), before); /* one thread: nothing to split */
    assert_int_equal(e2e_run_sequence(four, y), n);
    long splits = atomic_load(&rt_engine_rows_splits) - before;
    assert_true(splits > 0);
    if (memcmp(x, y, sizeof(float) * n) != 0)
        fail_msg("%s (%s): logits differ between 1 and 4 threads per device", a->name, f32 ? "f32" : "spec precision");
    printf("[ rows     ] %s %s: %ld ops split over 4 threads, every logit bit-identical to 1 thread\n", a->name,
           f32 ? "f32 " : "spec", splits);
    rt_engine_rows_min_values = 8192;
    free(x);
    free(y);
    rt_engine_free(one);
    rt_engine_free(four);
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
