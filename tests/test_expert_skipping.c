/* Experts no token is routed to are not run (runtime/engine_experts.h): on
 * the Mixtral fixture (2 layers, 8 experts, top 2) the engine finds, for each
 * expert_scale, exactly that expert's ops (its three linears and what joins
 * them, nothing shared), and a decode step of one user runs the linears of 2
 * experts per layer, not 8.  That the logits stay HF's is checked by
 * test_runtime_e2e (Mixtral f32 and decode against generated_ids). */
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
#include "profile.h"

enum { LAYERS = 2, EXPERTS = 8, TOP_K = 2 };

/* The expert a weight belongs to (".experts.E." in its name), or -1. */
static int expert_of(const char *hf_name)
{
    const char *p = strstr(hf_name, ".experts.");
    return p ? atoi(p + 9) : -1;
}

static void check_groups(const mgc_plan *p, const mgc_plan_entry *en, const rt_expert_groups *xg)
{
    assert_int_equal(xg->n, LAYERS * EXPERTS);
    int *linears = calloc((size_t)xg->n, sizeof(int));
    for (size_t i = 0; i < en->nops; i++) {
        const mgc_plan_op *op = &en->ops[i];
        int g = xg->group_of_op[i];
        int e = op->kernel == MGC_K_LINEAR ? expert_of(p->weights[op->weight].hf_name) : -1;
        if (op->kernel == MGC_K_LINEAR && e >= 0) {
            /* every expert linear is in a group, the group of its expert */
            assert_true(g >= 0);
            assert_int_equal(xg->groups[g].expert, e);
            linears[g]++;
        } else if (op->kernel == MGC_K_LINEAR) {
            assert_int_equal(g, -1); /* attention, router, lm_head: shared */
        }
        if (op->kernel == MGC_K_EXPERT_SCALE)
            assert_int_equal(xg->groups[g].expert, op->expert);
        if (op->kernel == MGC_K_ROUTE || op->kernel == MGC_K_OUTPUT || op->kernel == MGC_K_UPDATE_CACHE ||
            op->kernel == MGC_K_FILL_CACHE || op->tap >= 0)
            assert_int_equal(g, -1);
    }
    for (int g = 0; g < xg->n; g++)
        assert_int_equal(linears[g], 3); /* w1, w3, w2 */
    free(linears);
}

static int64_t linear_calls(const rt_profile *pf, int decode)
{
    rt_profile_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(rt_profile_summary(pf, decode, RT_PROFILE_BY_KIND, &rows, &n), 0);
    int64_t calls = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, "linear") == 0)
            calls = rows[i].calls;
    free(rows);
    return calls;
}

static void only_routed_experts_run(const char *system)
{
    e2e_model m;
    e2e_model_open(&m, e2e_arch_find("mixtral"), system, 1);
    check_groups(&m.plan, &m.plan.prefill, &m.en->experts[0]);
    check_groups(&m.plan, &m.plan.decode, &m.en->experts[1]);
    size_t shared = 0, all = 0;
    for (size_t i = 0; i < m.plan.decode.nops; i++) {
        const mgc_plan_op *op = &m.plan.decode.ops[i];
        if (op->kernel != MGC_K_LINEAR)
            continue;
        all++;
        shared += expert_of(m.plan.weights[op->weight].hf_name) < 0;
    }
    rt_profile *pf = rt_profile_new(&m.plan);
    rt_profile_attach(m.en, pf);
    int64_t vocab = rt_engine_vocab(m.en);
    float *logits = malloc(sizeof(float) * (size_t)(4 * vocab));
    const int32_t prompt[4] = {1, 2, 3, 4};
    mgc_error e = {{0}};
    assert_int_equal(rt_engine_prefill(m.en, 0, prompt, 4, 0, logits, &e), 0);
    const int users[1] = {0};
    const int32_t tok[1] = {(int32_t)e2e_argmax(logits + 3 * vocab, vocab)}, pos[1] = {4};
    assert_int_equal(rt_engine_decode(m.en, 1, users, tok, pos, logits, &e), 0);
    int64_t got = linear_calls(pf, 1), want_all = (int64_t)all;
    printf("  %s: one decode step ran %lld of %lld linear ops per device (%zu shared, %d of %d experts per layer)\n",
           system, (long long)got, (long long)want_all, shared, TOP_K, EXPERTS);
    assert_int_equal(got, (int64_t)shared + LAYERS * TOP_K * 3);
    rt_profile_attach(m.en, NULL);
    rt_profile_free(pf);
    free(logits);
    e2e_model_close(&m);
}

static void test_one_device(void **state) { only_routed_experts_run("n150"); }
static void test_eight_devices(void **state) { only_routed_experts_run("t3000"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_device),
        cmocka_unit_test(test_eight_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
