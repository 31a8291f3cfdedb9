/* Teacher-forced eval across Phi-3's LongRoPE switch.  HF's generate() runs
 * the whole sequence again (long factors for every position) on the step
 * whose sequence grows past original_max_position_embeddings; eval must do
 * the same, or every later position is scored against a KV cache whose keys
 * were rotated with the short factors.
 *
 * The long fixture's logits come from one HF forward over all 104 tokens, so
 * they use the long factors at every position: the logits of every position
 * whose sequence is longer than 64 (position >= 64) are what HF computes
 * there after the switch.  Evaluating it with a 40-token prompt crosses the
 * switch during decode, at position 64. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "eval.h"
#include "reference.h"

enum { SWITCH = 64, PROMPT = 40 };

static void eval_crossing_longrope_matches_hf(void **state)
{
    (void)state;
    const e2e_arch *a = e2e_arch_find("phi3");
    assert_non_null(a);
    e2e_model m;
    e2e_model_open(&m, a, NULL, 1);
    char path[512];
    e2e_ref_path(a, "reference_long", path, sizeof path);
    ev_reference ref;
    mgc_error e = {{0}};
    assert_int_equal(ev_reference_load(path, &ref, &e), 0);
    assert_true(ref.t > SWITCH + 8);
    ref.prompt_len = PROMPT;
    ev_result r;
    assert_int_equal(ev_teacher_forcing(m.en, &ref, NULL, &r, &e), 0);
    assert_int_equal(r.positions, ref.t);
    double worst = 1;
    for (int64_t p = SWITCH; p < r.positions; p++) {
        assert_true(r.pos[p].top1_match);
        if (r.pos[p].pcc < worst)
            worst = r.pos[p].pcc;
    }
    printf("positions %d..%lld after the switch: pcc_min %.9f\n", SWITCH, (long long)r.positions - 1, worst);
    assert_true(worst >= 0.99999);
    ev_result_free(&r);
    ev_reference_free(&ref);
    e2e_model_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eval_crossing_longrope_matches_hf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
