/* Precision as the seeds set it: per spec (`precision weights=`), per weight
 * (`precision w"pattern"=`), per op (`@weights=`), with the command line's
 * overrides on top; and the plan runs at those precisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "eval.h"

#define SPEC "tests/specs/compile/precision.graph"

static const mgc_plan_weight *weight(const mgc_plan *p, const char *id)
{
    for (size_t i = 0; i < p->nweights; i++)
        if (strcmp(p->weights[i].id, id) == 0)
            return &p->weights[i];
    fail_msg("no weight '%s' in the plan", id);
    return NULL;
}

static void precision_rules(void **state)
{
    (void)state;
    mgc_plan p;
    assert_int_equal(e2e_compile(SPEC, "tests/fixtures/mistral", NULL, -1, -1, 0, &p), 0);
    /* the spec-wide default */
    assert_int_equal(weight(&p, "model.layers.0.self_attn.q_proj.weight")->dtype, MGC_BF8_B);
    assert_int_equal(weight(&p, "model.layers.1.self_attn.o_proj.weight")->dtype, MGC_BF8_B);
    /* the pattern beats the default */
    assert_int_equal(weight(&p, "model.layers.0.mlp.gate_proj.weight")->dtype, MGC_BF4_B);
    assert_int_equal(weight(&p, "model.layers.1.mlp.down_proj.weight")->dtype, MGC_BF4_B);
    /* the op's annotation beats both */
    assert_int_equal(weight(&p, "lm_head.weight")->dtype, MGC_BF16);
    /* an embedding table is never block-float: the default falls back to bf16 */
    assert_int_equal(weight(&p, "model.embed_tokens.weight")->dtype, MGC_BF16);
    /* norms stay f32 */
    assert_int_equal(weight(&p, "model.norm.weight")->dtype, MGC_F32);
    /* bytes per device follow the dtype: a bf4_b gate_proj slice [64, 256]
     * holds 64*256/2 mantissa bytes + one exponent per 16 values */
    const mgc_plan_weight *g = weight(&p, "model.layers.0.mlp.gate_proj.weight");
    assert_int_equal(g->slices[0].local_shape[0] * g->slices[0].local_shape[1], 64 * 256);
    assert_int_equal(g->bytes_per_device, 64 * 256 / 2 + 64 * 256 / 16);

    /* and it runs: bf4_b's 3-bit mantissas on this random tiny model cost
     * top-1 (0.57 here), but the logits stay the model's (a wrong block layout
     * or rounding gives PCC near 0.5 or below, see the fixtures README) */
    rt_engine *en = NULL;
    mgc_error e = {{0}};
    rt_engine_opts o = {0};
    assert_int_equal(rt_engine_load(&p, "tests/fixtures/mistral", &o, &en, &e), 0);
    ev_reference ref;
    assert_int_equal(ev_reference_load("tests/fixtures/mistral/reference.safetensors", &ref, &e), 0);
    ev_result r;
    assert_int_equal(ev_teacher_forcing(en, &ref, NULL, &r, &e), 0);
    printf("bf8_b attention + bf4_b MLP + bf16 lm_head on mistral: top1 %.3f top5 %.3f pcc_min %.5f\n", r.all.top1,
           r.all.top5, r.all.pcc_min);
    assert_true(r.all.top5 >= 0.9);
    assert_true(r.all.pcc_min >= 0.9);
    ev_result_free(&r);
    ev_reference_free(&ref);
    rt_engine_free(en);
    mgc_plan_free(&p);

    /* --weights-dtype overrides everything, the embedding and the op's annotation included */
    assert_int_equal(e2e_compile(SPEC, "tests/fixtures/mistral", NULL, MGC_F32, -1, 0, &p), 0);
    for (size_t i = 0; i < p.nweights; i++)
        assert_int_equal(p.weights[i].dtype, MGC_F32);
    mgc_plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precision_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
