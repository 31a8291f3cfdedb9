/* test_config_rules.c: config.json keys that change the math may not go
 * unread (compiler/config_keys.c, docs/language.md "What the compiler
 * refuses to ignore").
 *
 * Each rule is tried on real config.json files both ways: the expected
 * active keys of each file below were read off the file by hand (e.g. the
 * Gemma 2 fixture: sliding_window 12 < max_position_embeddings 8192, so the
 * window is active; head_dim 24 != hidden_size 192 / 16 heads).  Rules no
 * real config makes active (attention_bias true, ...) use a real config
 * with that one value edited. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"
#include "config.h"
#include "config_keys.h"

/* The active keys of `cfg`, space-separated, in table order. */
static void active_keys(const mgc_config *cfg, char *out, size_t cap)
{
    size_t n, o = 0;
    const mgc_config_key_rule *r = mgc_config_key_rules(&n);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char v[96];
        if (mgc_config_key_active(cfg, &r[i], v, sizeof v))
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? " " : "", r[i].key);
    }
}

static void expect_active_file(const char *path, const char *want)
{
    mgc_config *cfg = NULL;
    mgc_error err = {{0}};
    if (mgc_config_load(path, &cfg, &err) != 0)
        fail_msg("%s: %s", path, err.msg);
    char got[1024];
    active_keys(cfg, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s: active keys '%s', expected '%s'", path, got, want);
    mgc_config_free(cfg);
}

/* `path` with the first `from` replaced by `to`. */
static void expect_active_edited(const char *path, const char *from, const char *to, const char *want)
{
    char *text = mgc_test_read_file(path, NULL);
    assert_non_null(text);
    char *at = strstr(text, from);
    if (!at)
        fail_msg("%s has no '%s'", path, from);
    size_t n = strlen(text) + strlen(to) + 1;
    char *ed = malloc(n);
    assert_non_null(ed);
    snprintf(ed, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    mgc_config *cfg = NULL;
    mgc_error err = {{0}};
    if (mgc_config_parse(ed, strlen(ed), path, &cfg, &err) != 0)
        fail_msg("%s edited: %s", path, err.msg);
    char got[1024];
    active_keys(cfg, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s with %s: active keys '%s', expected '%s'", path, to, got, want);
    mgc_config_free(cfg);
    free(ed);
    free(text);
}

static void test_real_configs(void **state)
{
    (void)state;
    expect_active_file("tests/fixtures/allam/config.json", "");
    expect_active_file("tests/fixtures/mistral/config.json", ""); /* sliding_window null */
    expect_active_file("tests/fixtures/llama32/config.json", "rope_scaling tie_word_embeddings"); /* head_dim 16 = 256/16 */
    expect_active_file("tests/fixtures/qwen2/config.json", "tie_word_embeddings"); /* use_sliding_window false */
    expect_active_file("tests/fixtures/qwen3/config.json", "tie_word_embeddings head_dim"); /* 32 != 256/16 */
    expect_active_file("tests/fixtures/phi3/config.json", "rope_scaling"); /* window 262144 >= 256 positions */
    expect_active_file("tests/fixtures/mixtral/config.json", "num_local_experts");
    expect_active_file("tests/fixtures/phi/config.json", "partial_rotary_factor hidden_act"); /* qk_layernorm false */
    expect_active_file("tests/fixtures/gemma/config.json", "tie_word_embeddings hidden_act hidden_activation head_dim");
    expect_active_file("tests/fixtures/gemma2/config.json",
                       "sliding_window attn_logit_softcapping final_logit_softcapping query_pre_attn_scalar "
                       "tie_word_embeddings hidden_act hidden_activation head_dim");
    /* the real models' configs beside the bringups */
    expect_active_file("graphs/microsoft/Phi-3-mini-128k-instruct/config.json", "rope_scaling"); /* 262144 >= 131072 */
    expect_active_file("graphs/meta-llama/Llama-3.2-1B/config.json", "rope_scaling tie_word_embeddings");
    expect_active_file("graphs/mistralai/Mistral-7B-Instruct-v0.3/config.json", "");
    expect_active_file("graphs/humain-ai/ALLaM-7B-Instruct-preview/config.json", "");
    expect_active_file("graphs/Qwen/Qwen3-0.6B/config.json", "tie_word_embeddings head_dim"); /* 128 != 1024/16 */
    expect_active_file("graphs/Qwen/Qwen2.5-1.5B/config.json", "tie_word_embeddings");
    expect_active_file("graphs/google/gemma-2-2b/config.json",
                       "sliding_window attn_logit_softcapping final_logit_softcapping query_pre_attn_scalar "
                       "hidden_act hidden_activation head_dim"); /* 256 != 2304/8 */
    expect_active_file("graphs/microsoft/phi-2/config.json", "partial_rotary_factor hidden_act");
    expect_active_file("graphs/mistralai/Mixtral-8x7B-v0.1/config.json", "num_local_experts");
}

static void test_edited_configs(void **state)
{
    (void)state;
    const char *allam = "tests/fixtures/allam/config.json";
    expect_active_edited(allam, "\"attention_bias\": false", "\"attention_bias\": true", "attention_bias");
    expect_active_edited(allam, "\"mlp_bias\": false", "\"mlp_bias\": true", "mlp_bias");
    expect_active_edited(allam, "\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true",
                         "tie_word_embeddings");
    expect_active_edited(allam, "\"hidden_act\": \"silu\"", "\"hidden_act\": \"relu\"", "hidden_act");
    expect_active_edited("tests/fixtures/phi/config.json", "\"qk_layernorm\": false", "\"qk_layernorm\": true",
                         "qk_layernorm partial_rotary_factor hidden_act");
    expect_active_edited("tests/fixtures/phi/config.json", "\"partial_rotary_factor\": 0.4",
                         "\"partial_rotary_factor\": 1.0", "hidden_act");
    /* Qwen2 with its window switched on: 32768 is not below 32768 positions, so still inert */
    expect_active_edited("tests/fixtures/qwen2/config.json", "\"use_sliding_window\": false",
                         "\"use_sliding_window\": true", "tie_word_embeddings");
    expect_active_edited("tests/fixtures/qwen2/config.json", "\"sliding_window\": 32768", "\"sliding_window\": 4096",
                         "tie_word_embeddings"); /* but use_sliding_window is false */
    expect_active_edited("tests/fixtures/mistral/config.json", "\"sliding_window\": null",
                         "\"sliding_window\": 4096", "sliding_window");
    expect_active_edited("tests/fixtures/gemma2/config.json", "\"attn_logit_softcapping\": 50.0",
                         "\"attn_logit_softcapping\": null",
                         "sliding_window final_logit_softcapping query_pre_attn_scalar tie_word_embeddings "
                         "hidden_act hidden_activation head_dim");
    expect_active_edited("tests/fixtures/llama32/config.json", "\"head_dim\": 16", "\"head_dim\": 32",
                         "rope_scaling tie_word_embeddings head_dim");
}

static void test_reads_record_prefixes(void **state)
{
    (void)state;
    mgc_config_reads r = {0};
    mgc_config_reads_add(&r, "rope_scaling.factor");
    assert_true(mgc_config_reads_has(&r, "rope_scaling"));
    assert_true(mgc_config_reads_has(&r, "rope_scaling.factor"));
    assert_false(mgc_config_reads_has(&r, "rope_theta"));
    mgc_config_reads_add(&r, "rope_scaling");
    assert_int_equal(r.n, 2); /* no duplicates */
    mgc_config_reads_free(&r);
}

/* ---- through the compiler ---- */

/* A spec reading only vocab and hidden size, plus `extra` top-level lines,
 * compiled against `config`. */
static void compile_with(const char *config, const char *extra, mgc_test_result *r)
{
    char path[4096], text[8192];
    snprintf(path, sizeof path, "%s/spec.graph", mgc_test_suite_dir);
    snprintf(text, sizeof text,
             "model \"test/rules\" on cpu\n"
             "forward(tokens) {\n"
             "  x = embedding(tokens, w\"e.weight\", vocab=config.vocab_size, dim=config.hidden_size)\n"
             "  return linear(x, w\"lm_head.weight\", out=config.vocab_size)\n"
             "}\n%s\n",
             extra);
    assert_int_equal(mgc_test_write_file(path, text, strlen(text)), 0);
    mgc_test_compile_simple(path, config, NULL, r);
}

static void test_unread_keys_are_errors(void **state)
{
    (void)state;
    const char *cfg = "tests/fixtures/phi/config.json";
    mgc_test_result r;
    compile_with(cfg, "", &r);
    assert_int_not_equal(r.rc, 0);
    assert_int_equal(mgc_test_count_diags(&r.d, MGC_ERROR), 2);
    const mgc_diagnostic *g = mgc_test_find_diag(&r.d, MGC_ERROR, "'partial_rotary_factor' is 0.4");
    if (!g)
        FAIL_WITH_DIAGS(&r, "no partial_rotary_factor error");
    assert_string_equal(g->span.file, cfg); /* it names config.json */
    assert_non_null(strstr(g->msg, "but the spec never reads it"));
    assert_non_null(strstr(g->hint, "ignore config.partial_rotary_factor"));
    assert_non_null(mgc_test_find_diag(&r.d, MGC_ERROR, "'hidden_act' is \"gelu_new\""));
    mgc_test_result_free(&r);
    /* read (in a let, even one nothing uses) or ignored: accepted */
    compile_with(cfg, "let rot = int(32 * config.partial_rotary_factor)\nignore config.hidden_act", &r);
    if (r.rc != 0)
        FAIL_WITH_DIAGS(&r, "expected the compile to succeed");
    mgc_test_result_free(&r);
    /* a read in the branch not taken is not a read */
    compile_with(cfg, "let rot = 1 if true else config.partial_rotary_factor\nignore config.hidden_act", &r);
    assert_int_not_equal(r.rc, 0);
    assert_non_null(mgc_test_find_diag(&r.d, MGC_ERROR, "'partial_rotary_factor' is 0.4"));
    mgc_test_result_free(&r);
    /* reading a member reads the object: rope_scaling.factor answers rope_scaling */
    compile_with("tests/fixtures/phi3/config.json", "let f = config.rope_scaling.short_factor", &r);
    if (r.rc != 0)
        FAIL_WITH_DIAGS(&r, "expected the compile to succeed");
    mgc_test_result_free(&r);
    /* a tied weight answers tie_word_embeddings */
    char path[4096];
    snprintf(path, sizeof path, "%s/tied.graph", mgc_test_suite_dir);
    const char *tied = "model \"test/rules\" on cpu\n"
                       "forward(tokens) {\n"
                       "  x = embedding(tokens, w\"e.weight\", vocab=config.vocab_size, dim=config.hidden_size)\n"
                       "  return linear(x, tied w\"e.weight\", out=config.vocab_size)\n"
                       "}\n";
    assert_int_equal(mgc_test_write_file(path, tied, strlen(tied)), 0);
    mgc_test_compile_simple(path, "tests/fixtures/qwen2/config.json", NULL, &r);
    if (r.rc != 0)
        FAIL_WITH_DIAGS(&r, "expected the compile to succeed");
    mgc_test_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_configs),
        cmocka_unit_test(test_edited_configs),
        cmocka_unit_test(test_reads_record_prefixes),
        cmocka_unit_test(test_unread_keys_are_errors),
    };
    return cmocka_run_group_tests(tests, mgc_test_suite_dir_setup, mgc_test_suite_dir_teardown);
}
