/* The public C API (include/mgc.h) in-process: compile a fixture's spec,
 * load it, and check generate() against HF's generated_ids, eval against
 * HF's reference (f32: exact top-1, PCC ~1), prefill logits against HF's
 * logits, stop tokens and EOS from generation_config.json against HF's ids
 * cut at the first stop, the streaming callback, the plan's YAML round trip,
 * and that bad input is an error value with a message, never a crash.
 * Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccl_mpi.h"
#include "mgc.h"
#include "support/e2e_helpers.h"

#define FIX E2E_FIX "/llama32"
#define REF FIX "/reference.safetensors"
#define SPEC "graphs/meta-llama/Llama-3.2-1B/t3000.graph"

static mgc_plan_t *g_plan;
static mgc_model_t *g_model;

static int setup(void **state)
{
    mgc_compile_options co;
    mgc_compile_options_init(&co);
    co.spec = SPEC;
    co.model_dir = FIX;
    co.weights_dtype = "f32";
    co.activations_dtype = "f32";
    mgc_status st;
    if (mgc_plan_compile(&co, &g_plan, &st) != MGC_OK) {
        fprintf(stderr, "test_api: %s\n", st.message);
        return -1;
    }
    if (mgc_model_load(g_plan, FIX, NULL, &g_model, &st) != MGC_OK) {
        fprintf(stderr, "test_api: %s\n", st.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    mgc_model_destroy(g_model);
    mgc_plan_destroy(g_plan);
    return 0;
}

static void version(void **state)
{
    assert_string_equal(mgc_version(), MGC_VERSION);
    assert_int_equal(mgc_version_number(), MGC_VERSION_NUMBER);
    assert_string_equal(mgc_code_name(MGC_OK), "ok");
}

static void plan_facts(void **state)
{
    assert_string_equal(mgc_plan_model_name(g_plan), "meta-llama/Llama-3.2-1B");
    assert_string_equal(mgc_plan_system(g_plan), "t3000");
    assert_int_equal(mgc_plan_devices(g_plan), 8);
    assert_string_equal(mgc_plan_weights_dtype(g_plan), "f32");
    assert_int_equal(mgc_model_vocab(g_model), 512);
    assert_ptr_equal(mgc_model_plan(g_model), g_plan);
}

/* Greedy generate() reproduces what HF's generate() returned. */
static int count_tokens(void *ud, int32_t token, const char *text)
{
    if (token >= 0)
        ++*(int *)ud;
    return 0;
}

static void generate_matches_hf(void **state)
{
    int64_t t = 0, ngen = 0;
    int32_t *ids = e2e_read_ids(REF, "input_ids", &t);
    int32_t *gen = e2e_read_ids(REF, "generated_ids", &ngen);
    mgc_generate_options go;
    mgc_generate_options_init(&go);
    go.max_new_tokens = (int)ngen;
    int calls = 0;
    go.on_token = count_tokens;
    go.user_data = &calls;
    int32_t out[64];
    int n = 0;
    mgc_status st;
    assert_int_equal(mgc_generate(g_model, ids, (int)(t - ngen), &go, out, &n, &st), MGC_OK);
    assert_int_equal(st.code, MGC_OK);
    assert_int_equal(n, ngen);
    assert_memory_equal(out, gen, sizeof(int32_t) * (size_t)ngen);
    assert_int_equal(calls, ngen);

    /* a stop id: HF's sequence cut just after the first occurrence of gen[5] */
    int first = 0;
    while (gen[first] != gen[5])
        first++;
    go.stop_ids = &gen[5];
    go.n_stop_ids = 1;
    assert_int_equal(mgc_generate(g_model, ids, (int)(t - ngen), &go, out, &n, &st), MGC_OK);
    assert_int_equal(n, first + 1);
    assert_memory_equal(out, gen, sizeof(int32_t) * (size_t)n);
    free(ids);
    free(gen);
}

/* EOS ids from generation_config.json, a list: the first of them to come stops. */
static void generate_stops_at_eos(void **state)
{
    int64_t t = 0, ngen = 0;
    int32_t *ids = e2e_read_ids(REF, "input_ids", &t);
    int32_t *gen = e2e_read_ids(REF, "generated_ids", &ngen);
    char *dir = e2e_fixture_variant(FIX, NULL, NULL);
    char *gc = e2e_path(dir, "generation_config.json");
    FILE *f = fopen(gc, "w");
    assert_non_null(f);
    fprintf(f, "{\"eos_token_id\": [%d, %d]}\n", gen[20], gen[9]);
    fclose(f);
    int stop = 0;
    while (gen[stop] != gen[20] && gen[stop] != gen[9])
        stop++;
    mgc_model_t *m = NULL;
    mgc_status st;
    assert_int_equal(mgc_model_load(g_plan, dir, NULL, &m, &st), MGC_OK);
    int32_t eos[4];
    assert_int_equal(mgc_model_eos_ids(m, eos, 4), 2);
    assert_int_equal(eos[0], gen[20]);
    mgc_generate_options go;
    mgc_generate_options_init(&go);
    go.max_new_tokens = (int)ngen;
    int32_t out[64];
    int n = 0;
    assert_int_equal(mgc_generate(m, ids, (int)(t - ngen), &go, out, &n, &st), MGC_OK);
    assert_int_equal(n, stop + 1);
    assert_memory_equal(out, gen, sizeof(int32_t) * (size_t)n);
    go.ignore_eos = 1;
    assert_int_equal(mgc_generate(m, ids, (int)(t - ngen), &go, out, &n, &st), MGC_OK);
    assert_int_equal(n, ngen);
    mgc_model_destroy(m);
    /* a malformed eos_token_id is an error naming the file */
    f = fopen(gc, "w");
    fputs("{\"eos_token_id\": \"</s>\"}", f);
    fclose(f);
    assert_int_equal(mgc_model_load(g_plan, dir, NULL, &m, &st), MGC_ERR_INPUT);
    assert_null(m);
    assert_non_null(strstr(st.message, "generation_config.json"));
    free(gc);
    e2e_rmtree(dir);
    free(ids);
    free(gen);
}

static int cancel_after_three(void *ud, int32_t token, const char *text)
{
    return ++*(int *)ud == 3;
}

static void callback_cancels(void **state)
{
    int32_t prompt[] = {1, 2, 3}, out[16];
    int calls = 0, n = 0;
    mgc_generate_options go;
    mgc_generate_options_init(&go);
    go.max_new_tokens = 16;
    go.on_token = cancel_after_three;
    go.user_data = &calls;
    mgc_status st;
    assert_int_equal(mgc_generate(g_model, prompt, 3, &go, out, &n, &st), MGC_ERR_CANCELLED);
    assert_int_equal(n, 3);
    assert_true(st.message[0] != 0);
}

/* f32 on the t3000 mesh: HF's argmax everywhere and PCC ~1 (README). */
static void eval_matches_hf(void **state)
{
    mgc_eval_metrics em;
    mgc_status st;
    assert_int_equal(mgc_model_eval(g_model, REF, 0, &em, &st), MGC_OK);
    int64_t t = 0;
    free(e2e_read_ids(REF, "input_ids", &t));
    assert_int_equal(em.tokens, t);
    assert_true(em.top1 == 1.0 && em.top5 == 1.0);
    assert_true(em.pcc_min > 0.99999);
    assert_int_equal(mgc_model_eval(g_model, REF, 10, &em, &st), MGC_OK);
    assert_int_equal(em.tokens, 10);
}

/* Prefill logits, row for row, against HF's logits. */
static void prefill_logits_match_hf(void **state)
{
    int64_t t = 0, rows = 0, cols = 0;
    int32_t *ids = e2e_read_ids(REF, "input_ids", &t);
    float *ref = e2e_read_f32(REF, "logits", &rows, &cols);
    assert_int_equal(cols, 512);
    float *ours = malloc(sizeof(float) * (size_t)(t * cols));
    mgc_status st;
    assert_int_equal(mgc_model_prefill(g_model, 0, ids, (int)t, 0, ours, &st), MGC_OK);
    double worst = 0, scale = e2e_max_abs(ref, (size_t)(t * cols));
    for (int64_t i = 0; i < t * cols; i++) {
        double d = ours[i] > ref[i] ? ours[i] - ref[i] : ref[i] - ours[i];
        worst = d > worst ? d : worst;
    }
    assert_true(worst < 1e-4 * scale);
    /* a decode step after the prefill: the row of the next position */
    int users[] = {0};
    int32_t tok[] = {ids[t - 1]}, pos[] = {(int32_t)t - 1};
    assert_int_equal(mgc_model_prefill(g_model, 0, ids, (int)t - 1, 0, NULL, &st), MGC_OK);
    assert_int_equal(mgc_model_decode(g_model, 1, users, tok, pos, ours, &st), MGC_OK);
    for (int64_t i = 0; i < cols; i++) {
        double d = ours[i] - ref[(t - 1) * cols + i];
        assert_true(d < 1e-4 * scale && -d < 1e-4 * scale);
    }
    free(ours);
    free(ref);
    free(ids);
}

static void plan_yaml_round_trip(void **state)
{
    char *yaml = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    mgc_status st;
    assert_int_equal(mgc_plan_yaml(g_plan, &yaml, &len, &st), MGC_OK);
    mgc_plan_t *p = NULL;
    assert_int_equal(mgc_plan_from_yaml("mem", yaml, len, &p, &st), MGC_OK);
    assert_int_equal(mgc_plan_yaml(p, &again, &len2, &st), MGC_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(yaml, again, len);
    /* the model keeps its own reference: destroying the plan first is fine */
    mgc_model_t *m = NULL;
    assert_int_equal(mgc_model_load(p, FIX, NULL, &m, &st), MGC_OK);
    mgc_plan_destroy(p);
    assert_string_equal(mgc_plan_system(mgc_model_plan(m)), "t3000");
    int32_t prompt[] = {5, 6}, out[2];
    int n = 0;
    mgc_generate_options go;
    mgc_generate_options_init(&go);
    go.max_new_tokens = 2;
    assert_int_equal(mgc_generate(m, prompt, 2, &go, out, &n, &st), MGC_OK);
    assert_int_equal(n, 2);
    mgc_model_destroy(m);
    mgc_free(yaml);
    mgc_free(again);
}

static void bad_input_is_an_error_value(void **state)
{
    mgc_status st;
    mgc_compile_options co;
    mgc_compile_options_init(&co);
    mgc_plan_t *p = (mgc_plan_t *)1;
    /* no spec, no model */
    assert_int_equal(mgc_plan_compile(&co, &p, &st), MGC_ERR_ARGUMENT);
    assert_null(p);
    co.spec = "tests/no/such.graph";
    co.model_dir = FIX;
    assert_int_equal(mgc_plan_compile(&co, &p, &st), MGC_ERR_INPUT);
    assert_non_null(strstr(st.message, "tests/no/such.graph"));
    co.spec = SPEC;
    co.weights_dtype = "f16";
    assert_int_equal(mgc_plan_compile(&co, &p, &st), MGC_ERR_ARGUMENT);
    assert_non_null(strstr(st.message, "'f16'"));
    co.weights_dtype = NULL;
    co.system = "no_such_system";
    assert_int_equal(mgc_plan_compile(&co, &p, &st), MGC_ERR_INPUT);
    assert_non_null(strstr(st.message, "no_such_system"));
    /* NULL status is allowed */
    assert_int_equal(mgc_plan_compile(&co, &p, NULL), MGC_ERR_INPUT);
    assert_int_equal(mgc_plan_load("tests/no/plan.yaml", &p, &st), MGC_ERR_INPUT);
    assert_non_null(strstr(st.message, "tests/no/plan.yaml"));
    assert_int_equal(mgc_plan_from_yaml("junk", "a: [", 4, &p, &st), MGC_ERR_INPUT);
    assert_non_null(strstr(st.message, "junk"));

    mgc_model_t *m = NULL;
    mgc_model_options mo;
    mgc_model_options_init(&mo);
    mo.mesh = "mpi";
    /* not started by mpirun: a clear error, or no MPI in this build at all */
    if (rt_mpi_compiled_in()) {
        assert_int_equal(mgc_model_load(g_plan, FIX, &mo, &m, &st), MGC_ERR_INPUT);
        assert_non_null(strstr(st.message, "mpirun"));
    } else {
        assert_int_equal(mgc_model_load(g_plan, FIX, &mo, &m, &st), MGC_ERR_UNSUPPORTED);
    }
    mo.mesh = "cloud";
    assert_int_equal(mgc_model_load(g_plan, FIX, &mo, &m, &st), MGC_ERR_ARGUMENT);
    assert_non_null(strstr(st.message, "cloud"));
    assert_int_equal(mgc_model_load(g_plan, "tests/no/model", NULL, &m, &st), MGC_ERR_INPUT);
    assert_non_null(strstr(st.message, "tests/no/model"));
    assert_null(m);

    int32_t bad[] = {1, 99999}, out[4];
    int n = 7;
    mgc_generate_options go;
    mgc_generate_options_init(&go);
    go.max_new_tokens = 4;
    assert_int_equal(mgc_generate(g_model, bad, 2, &go, out, &n, &st), MGC_ERR_ARGUMENT);
    assert_non_null(strstr(st.message, "99999"));
    assert_int_equal(n, 0);
    assert_int_equal(mgc_generate(g_model, bad, 0, &go, out, &n, &st), MGC_ERR_ARGUMENT);
    go.temperature = -1;
    assert_int_equal(mgc_generate(g_model, bad, 1, &go, out, &n, &st), MGC_ERR_ARGUMENT);
    assert_int_equal(mgc_model_prefill(g_model, 99, bad, 1, 0, NULL, &st), MGC_ERR_ARGUMENT);
    assert_int_equal(mgc_model_eval(g_model, "tests/no/ref.safetensors", 0, &(mgc_eval_metrics){0}, &st),
                     MGC_ERR_INPUT);
    assert_non_null(strstr(st.message, "tests/no/ref.safetensors"));

    mgc_tokenizer_t *t = NULL;
    assert_int_equal(mgc_tokenizer_load("tests/tokenizer/bad_syntax.json", &t, &st), MGC_ERR_INPUT);
    assert_non_null(strstr(st.message, "bad_syntax.json"));
    assert_null(t);
}

static void tokenizer_round_trip(void **state)
{
    mgc_tokenizer_t *t = NULL;
    mgc_status st;
    assert_int_equal(mgc_tokenizer_load("tests/tokenizer/tiny_sentencepiece.json", &t, &st), MGC_OK);
    int32_t *ids = NULL;
    size_t n = 0;
    const char *text = "It was the best of times";
    assert_int_equal(mgc_tokenize(t, text, strlen(text), 0, &ids, &n, &st), MGC_OK);
    assert_true(n > 0);
    char *back = NULL;
    assert_int_equal(mgc_detokenize(t, ids, n, 1, &back, NULL, &st), MGC_OK);
    assert_string_equal(back, text);
    mgc_free(back);
    back = NULL;
    int32_t bad = 100000;
    assert_int_equal(mgc_detokenize(t, &bad, 1, 0, &back, NULL, &st) != MGC_OK, 1);
    assert_non_null(strstr(st.message, "100000"));
    mgc_free(ids);
    mgc_free(back);
    mgc_tokenizer_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version),
        cmocka_unit_test(plan_facts),
        cmocka_unit_test(generate_matches_hf),
        cmocka_unit_test(generate_stops_at_eos),
        cmocka_unit_test(callback_cancels),
        cmocka_unit_test(eval_matches_hf),
        cmocka_unit_test(prefill_logits_match_hf),
        cmocka_unit_test(plan_yaml_round_trip),
        cmocka_unit_test(bad_input_is_an_error_value),
        cmocka_unit_test(tokenizer_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
