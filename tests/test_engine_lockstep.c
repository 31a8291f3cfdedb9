/* An in-process mesh with more devices than cores runs op by op across its
 * devices (runtime/engine_lockstep.c) instead of a thread per device.  The
 * schedule must not change a bit: for every bundled architecture, on the
 * t3000 plan (eight devices; expert-parallel Mixtral, vocab-sharded heads,
 * replicated KV heads) in f32 and at the spec's own precision, with two
 * cores, the lockstep engine gives the same logits and residual stream as
 * the thread-per-device engine over e2e_run_sequence, and two cores for
 * eight devices choose lockstep by themselves. */
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

static rt_engine *load(const mgc_plan *plan, const char *dir, int schedule)
{
    rt_engine_opts eo = {.n_cores = 2, .schedule = schedule};
    return e2e_engine_load(plan, dir, &eo);
}

static void check(const e2e_arch *a, int f32)
{
    char dir[512];
    e2e_model_dir(a, dir, sizeof dir);
    mgc_plan plan;
    if (e2e_compile(a->spec, dir, "t3000", f32 ? MGC_F32 : -1, f32 ? MGC_F32 : -1, E2E_MAX_SEQ, &plan) != 0)
        fail_msg("compiling %s for t3000 failed", a->spec);
    assert_int_equal(plan.ndevices, 8);
    rt_engine *threads = load(&plan, dir, RT_SCHEDULE_THREADS), *lockstep = load(&plan, dir, RT_SCHEDULE_AUTO);
    assert_null(threads->lockstep);
    assert_non_null(lockstep->lockstep); /* 8 devices > 2 cores */
    size_t n = e2e_sequence_values(threads);
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    assert_int_equal(e2e_run_sequence(threads, x), n);
    assert_int_equal(e2e_run_sequence(lockstep, y), n);
    if (memcmp(x, y, sizeof(float) * n) != 0) {
        size_t i = 0;
        while (i < n && memcmp(x + i, y + i, sizeof(float)) == 0)
            i++;
        fail_msg("%s (%s): value %zu of %zu differs between the schedules: %.9g vs %.9g", a->name,
                 f32 ? "f32" : "spec precision", i, n, (double)x[i], (double)y[i]);
    }
    printf("[ lockstep ] %s %s: %zu values (logits, residual stream) bit-identical to a thread per device\n",
           a->name, f32 ? "f32 " : "spec", n);
    free(x);
    free(y);
    rt_engine_free(threads);
    rt_engine_free(lockstep);
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

/* A device's failure ends the call with the lowest failing device's message,
 * as rt_mesh_run reports it; the engine stays usable. */
static void test_failure_names_the_device(void **state)
{
    (void)state;
    const e2e_arch *a = e2e_arch_find("llama32");
    char dir[512];
    e2e_model_dir(a, dir, sizeof dir);
    mgc_plan plan;
    assert_int_equal(e2e_compile(a->spec, dir, "t3000", MGC_F32, MGC_F32, E2E_MAX_SEQ, &plan), 0);
    rt_engine *en = load(&plan, dir, RT_SCHEDULE_LOCKSTEP);
    /* an op the runtime does not know, on every device */
    mgc_plan_op *op = &plan.decode.ops[3];
    mgc_kernel saved = op->kernel;
    op->kernel = (mgc_kernel)9999;
    mgc_error e = {{0}};
    const int users[1] = {0};
    int32_t tok[1] = {5}, pos[1] = {0};
    float *logits = malloc(sizeof(float) * (size_t)rt_engine_vocab(en));
    assert_int_equal(rt_engine_decode(en, 1, users, tok, pos, logits, &e), -1);
    assert_non_null(strstr(e.msg, "device 0: unknown kernel 9999 (op 3"));
    op->kernel = saved;
    memset(&e, 0, sizeof e);
    assert_int_equal(rt_engine_decode(en, 1, users, tok, pos, logits, &e), 0);
    free(logits);
    rt_engine_free(en);
    mgc_plan_free(&plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_architecture),
        cmocka_unit_test(test_failure_names_the_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
