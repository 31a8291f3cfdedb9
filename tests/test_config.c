/* Tests for compiler/config.c: the five bringup config.json files (values from
 * REFERENCE.md), the fixture configs (values from tests/fixtures/README.md), lookups and
 * error messages.  Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define assert_contains(hay, needle)                                                       \
    do {                                                                                   \
        if (!strstr((hay), (needle)))                                                      \
            fail_msg("expected \"%s\" in message: %s", (needle), (hay));                   \
    } while (0)

static mgc_config *load(const char *path)
{
    mgc_config *c = NULL;
    mgc_error e;
    if (mgc_config_load(path, &c, &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(mgc_config_path(c), path);
    return c;
}

static mgc_config *parse(const char *text)
{
    mgc_config *c = NULL;
    mgc_error e;
    if (mgc_config_parse(text, strlen(text), "inline.json", &c, &e) != 0)
        fail_msg("%s", e.msg);
    return c;
}

static int64_t get_int(const mgc_config *c, const char *k)
{
    int64_t v;
    mgc_error e;
    if (mgc_config_int(c, k, &v, &e) != 0)
        fail_msg("%s", e.msg);
    return v;
}

static double get_float(const mgc_config *c, const char *k)
{
    double v;
    mgc_error e;
    if (mgc_config_float(c, k, &v, &e) != 0)
        fail_msg("%s", e.msg);
    return v;
}

static bool get_bool(const mgc_config *c, const char *k)
{
    bool v;
    mgc_error e;
    if (mgc_config_bool(c, k, &v, &e) != 0)
        fail_msg("%s", e.msg);
    return v;
}

static const char *get_str(const mgc_config *c, const char *k)
{
    const char *v;
    mgc_error e;
    if (mgc_config_string(c, k, &v, &e) != 0)
        fail_msg("%s", e.msg);
    return v;
}

/* One row of REFERENCE.md's config table.  head_dim 0 = absent from the file. */
typedef struct {
    const char *path, *arch, *model_type;
    int64_t hidden, inter, layers, heads, kv, head_dim, implied_head_dim, vocab, maxpos;
    double theta, eps;
    bool tied;
    int64_t bos, eos;
} model_row;

static const model_row models[] = {
    {"graphs/mistralai/Mistral-7B-Instruct-v0.3/config.json", "MistralForCausalLM", "mistral",
     4096, 14336, 32, 32, 8, 0, 128, 32768, 32768, 1e6, 1e-5, false, 1, 2},
    {"graphs/microsoft/Phi-3-mini-128k-instruct/config.json", "Phi3ForCausalLM", "phi3", 3072,
     8192, 32, 32, 32, 0, 96, 32064, 131072, 10000.0, 1e-5, false, 1, 32000},
    {"graphs/meta-llama/Llama-3.2-1B/config.json", "LlamaForCausalLM", "llama", 2048, 8192, 16,
     32, 8, 64, 64, 128256, 131072, 500000.0, 1e-5, true, 128000, 128001},
    {"graphs/Qwen/Qwen3-0.6B/config.json", "Qwen3ForCausalLM", "qwen3", 1024, 3072, 28, 16, 8,
     128, 128, 151936, 40960, 1e6, 1e-6, true, 151643, 151645},
    {"graphs/humain-ai/ALLaM-7B-Instruct-preview/config.json", "LlamaForCausalLM", "llama",
     4096, 11008, 32, 32, 32, 128, 128, 64000, 4096, 1e6, 1e-5, false, 1, 2},
};

/* The tiny fixtures (tests/fixtures/README.md "Architectures"). */
static const model_row fixtures[] = {
    {"tests/fixtures/mistral/config.json", "MistralForCausalLM", "mistral", 256, 512, 2, 16, 8,
     0, 16, 512, 32768, 1e6, 1e-5, false, 1, 2},
    {"tests/fixtures/phi3/config.json", "Phi3ForCausalLM", "phi3", 256, 384, 2, 8, 8, 0, 32,
     512, 256, 10000.0, 1e-5, false, 1, 511},
    {"tests/fixtures/llama32/config.json", "LlamaForCausalLM", "llama", 256, 512, 2, 16, 8, 16,
     16, 512, 32768, 500000.0, 1e-5, true, 510, 511},
    {"tests/fixtures/qwen3/config.json", "Qwen3ForCausalLM", "qwen3", 256, 320, 2, 16, 8, 32, 32,
     512, 40960, 1e6, 1e-6, true, 509, 511},
    {"tests/fixtures/allam/config.json", "LlamaForCausalLM", "llama", 256, 384, 2, 8, 8, 0, 32,
     512, 4096, 10000.0, 1e-5, false, 1, 2},
};

static void check_row(const model_row *m)
{
    mgc_config *c = load(m->path);
    mgc_error e;
    assert_string_equal(get_str(c, "architectures.0"), m->arch);
    assert_string_equal(get_str(c, "model_type"), m->model_type);
    assert_int_equal(get_int(c, "hidden_size"), m->hidden);
    assert_int_equal(get_int(c, "intermediate_size"), m->inter);
    assert_int_equal(get_int(c, "num_hidden_layers"), m->layers);
    assert_int_equal(get_int(c, "num_attention_heads"), m->heads);
    assert_int_equal(get_int(c, "num_key_value_heads"), m->kv);
    assert_int_equal(get_int(c, "vocab_size"), m->vocab);
    assert_int_equal(get_int(c, "max_position_embeddings"), m->maxpos);
    assert_true(get_float(c, "rope_theta") == m->theta);
    assert_true(get_float(c, "rms_norm_eps") == m->eps);
    assert_int_equal(get_bool(c, "tie_word_embeddings"), m->tied);
    assert_int_equal(get_int(c, "bos_token_id"), m->bos);
    assert_int_equal(get_int(c, "eos_token_id"), m->eos);
    assert_string_equal(get_str(c, "hidden_act"), "silu");
    assert_string_equal(get_str(c, "torch_dtype"), "bfloat16");
    if (m->head_dim) {
        assert_int_equal(get_int(c, "head_dim"), m->head_dim);
    } else {
        assert_int_equal(mgc_config_get(c, "head_dim", NULL), MGC_CV_ABSENT);
    }
    /* the usual default: head_dim = hidden / heads when absent */
    int64_t hd;
    assert_int_equal(mgc_config_int_or(c, "head_dim", m->hidden / m->heads, &hd, &e), 0);
    assert_int_equal(hd, m->implied_head_dim);
    mgc_config_value v;
    assert_int_equal(mgc_config_get(c, "architectures", &v), MGC_CV_ARRAY);
    assert_int_equal(v.len, 1);
    bool bias;
    assert_int_equal(mgc_config_bool_or(c, "attention_bias", false, &bias, &e), 0);
    assert_false(bias);
    mgc_config_free(c);
}

static void test_bringup_configs(void **state)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        check_row(&models[i]);
}

static void test_fixture_configs(void **state)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
        check_row(&fixtures[i]);

    /* phi3 LongRoPE: 16 factors each (head_dim 32 / 2), orig 64 */
    mgc_config *c = load("tests/fixtures/phi3/config.json");
    const double *lf, *sf;
    size_t nl, ns;
    mgc_error e;
    assert_int_equal(mgc_config_numbers(c, "rope_scaling.long_factor", &lf, &nl, &e), 0);
    assert_int_equal(mgc_config_numbers(c, "rope_scaling.short_factor", &sf, &ns, &e), 0);
    assert_int_equal(nl, 16);
    assert_int_equal(ns, 16);
    assert_true(lf[0] == 1.07 && lf[15] == 64.76);
    assert_true(sf[0] == 1.1 && sf[15] == 2.45);
    assert_int_equal(get_int(c, "original_max_position_embeddings"), 64);
    assert_string_equal(get_str(c, "rope_scaling.type"), "longrope");
    assert_int_equal(get_int(c, "sliding_window"), 262144);
    mgc_config_free(c);

    c = load("tests/fixtures/llama32/config.json");
    assert_true(get_float(c, "rope_scaling.factor") == 32.0);
    assert_int_equal(get_int(c, "rope_scaling.original_max_position_embeddings"), 2048);
    assert_string_equal(get_str(c, "rope_scaling.rope_type"), "llama3");
    mgc_config_free(c);
}

static void test_phi3_longrope(void **state)
{
    mgc_config *c = load("graphs/microsoft/Phi-3-mini-128k-instruct/config.json");
    const double *lf, *sf;
    size_t nl, ns;
    mgc_error e;
    assert_int_equal(mgc_config_numbers(c, "rope_scaling.long_factor", &lf, &nl, &e), 0);
    assert_int_equal(mgc_config_numbers(c, "rope_scaling.short_factor", &sf, &ns, &e), 0);
    assert_int_equal(nl, 48); /* head_dim 96 / 2 */
    assert_int_equal(ns, 48);
    assert_true(lf[0] == 1.0700000524520874);
    assert_true(lf[1] == 1.1200000047683716);
    assert_true(lf[18] == 37.279998779296875);
    assert_true(lf[47] == 64.76000213623047);
    assert_true(sf[0] == 1.1 && sf[1] == 1.1 && sf[2] == 1.1);
    assert_true(sf[3] == 1.3000000000000003);
    assert_true(sf[7] == 1.5500000000000005);
    for (int i = 8; i <= 24; i++)
        assert_true(sf[i] == 2.000000000000001);
    for (int i = 25; i <= 30; i++)
        assert_true(sf[i] == 2.0500000000000007);
    assert_true(sf[31] == 2.1000000000000005);
    assert_true(sf[34] == 2.25 && sf[38] == 2.25);
    assert_true(sf[47] == 3.049999999999997);
    for (size_t i = 1; i < 48; i++) /* both lists are non-decreasing */
        assert_true(lf[i] >= lf[i - 1] && sf[i] >= sf[i - 1]);
    assert_string_equal(get_str(c, "rope_scaling.type"), "longrope");
    assert_int_equal(get_int(c, "original_max_position_embeddings"), 4096);
    assert_int_equal(get_int(c, "sliding_window"), 262144);
    assert_int_equal(get_int(c, "pad_token_id"), 32000);
    /* attention_factor = sqrt(1 + ln(131072/4096)/ln(4096)) = 1.190238 */
    double af = sqrt(1 + log((double)get_int(c, "max_position_embeddings") /
                             (double)get_int(c, "original_max_position_embeddings")) /
                             log(4096.0));
    assert_true(fabs(af - 1.190238) < 1e-6);
    mgc_config_value v;
    assert_int_equal(mgc_config_get(c, "rope_scaling.long_factor", &v), MGC_CV_NUMBERS);
    assert_int_equal(v.len, 48);
    assert_ptr_equal(v.nums, lf);
    assert_int_equal(mgc_config_get(c, "rope_scaling.long_factor.47", &v), MGC_CV_FLOAT);
    assert_true(v.f == 64.76000213623047);
    assert_int_equal(mgc_config_get(c, "rope_scaling.long_factor.48", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "rope_scaling", &v), MGC_CV_OBJECT);
    assert_int_equal(v.len, 3);
    mgc_config_free(c);
}

static void test_llama_qwen_mistral_specifics(void **state)
{
    mgc_error e;
    mgc_config *c = load("graphs/meta-llama/Llama-3.2-1B/config.json");
    assert_int_equal(get_int(c, "rope_scaling.factor"), 32); /* 32.0 is integral */
    assert_true(get_float(c, "rope_scaling.factor") == 32.0);
    assert_true(get_float(c, "rope_scaling.low_freq_factor") == 1.0);
    assert_true(get_float(c, "rope_scaling.high_freq_factor") == 4.0);
    assert_int_equal(get_int(c, "rope_scaling.original_max_position_embeddings"), 8192);
    assert_string_equal(get_str(c, "rope_scaling.rope_type"), "llama3");
    mgc_config_value v;
    assert_int_equal(mgc_config_get(c, "rope_scaling.factor", &v), MGC_CV_FLOAT);
    assert_int_equal(mgc_config_get(c, "rope_theta", &v), MGC_CV_FLOAT);
    assert_false(get_bool(c, "mlp_bias"));
    assert_int_equal(mgc_config_get(c, "lm_head", NULL), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "sliding_window", NULL), MGC_CV_ABSENT);
    mgc_config_free(c);

    c = load("graphs/Qwen/Qwen3-0.6B/config.json");
    int64_t hidden = get_int(c, "hidden_size"), heads = get_int(c, "num_attention_heads");
    assert_int_equal(get_int(c, "head_dim"), 128);
    assert_int_equal(hidden / heads, 64); /* head_dim != hidden / heads */
    assert_int_equal(mgc_config_get(c, "rope_scaling", &v), MGC_CV_NULL);
    assert_int_equal(mgc_config_get(c, "rope_scaling.factor", &v), MGC_CV_ABSENT);
    assert_false(mgc_config_has(c, "rope_scaling"));
    assert_true(mgc_config_has(c, "rope_theta"));
    assert_int_equal(mgc_config_get(c, "rope_theta", &v), MGC_CV_INT); /* 1000000, no ".0" */
    assert_int_equal(v.i, 1000000);
    assert_true(v.f == 1e6);
    assert_int_equal(get_int(c, "max_window_layers"), 28);
    assert_false(get_bool(c, "use_sliding_window"));
    double f;
    assert_int_equal(mgc_config_float_or(c, "rope_scaling.factor", 1.0, &f, &e), 0);
    assert_true(f == 1.0);
    const char *s;
    assert_int_equal(mgc_config_string_or(c, "rope_scaling.rope_type", "default", &s, &e), 0);
    assert_string_equal(s, "default");
    assert_int_equal(mgc_config_int(c, "rope_scaling", &hidden, &e), -1);
    assert_contains(e.msg, "'rope_scaling' is null, expected an integer");
    mgc_config_free(c);

    c = load("graphs/mistralai/Mistral-7B-Instruct-v0.3/config.json");
    assert_int_equal(mgc_config_get(c, "sliding_window", NULL), MGC_CV_NULL);
    assert_int_equal(mgc_config_get(c, "rope_scaling", NULL), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "attention_bias", NULL), MGC_CV_ABSENT);
    mgc_config_free(c);
}

static void test_lookup_and_types(void **state)
{
    mgc_config *c = parse("{\"a\": {\"b\": {\"c\": 7}}, \"arr\": [1, 2.5, -3], \"mixed\": [1, \"x\", "
                          "null, {\"k\": true}], \"empty\": [], \"s\": \"hi\", \"t\": true, "
                          "\"n\": null, \"big\": 18446744073709551615, \"half\": 0.5, "
                          "\"i64max\": 9223372036854775807, \"obj\": {}, \"neg\": -4.0}");
    mgc_config_value v;
    mgc_error e;
    assert_string_equal(mgc_config_path(c), "inline.json");
    assert_int_equal(mgc_config_get(c, "a.b.c", &v), MGC_CV_INT);
    assert_int_equal(v.i, 7);
    assert_int_equal(mgc_config_get(c, "a.b", &v), MGC_CV_OBJECT);
    assert_int_equal(v.len, 1);
    assert_int_equal(mgc_config_get(c, "", &v), MGC_CV_OBJECT);
    assert_int_equal(mgc_config_get(c, "a.b.c.d", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "a..b", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "a.", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, ".a", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "zz", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "arr", &v), MGC_CV_NUMBERS);
    assert_int_equal(v.len, 3);
    assert_true(v.nums[0] == 1 && v.nums[1] == 2.5 && v.nums[2] == -3);
    assert_int_equal(mgc_config_get(c, "arr.1", &v), MGC_CV_FLOAT);
    assert_int_equal(mgc_config_get(c, "arr.-1", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "arr.x", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "arr.3", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "mixed", &v), MGC_CV_ARRAY);
    assert_int_equal(v.len, 4);
    assert_int_equal(mgc_config_get(c, "mixed.1", &v), MGC_CV_STRING);
    assert_string_equal(v.s, "x");
    assert_int_equal(mgc_config_get(c, "mixed.2", &v), MGC_CV_NULL);
    assert_int_equal(mgc_config_get(c, "mixed.3.k", &v), MGC_CV_BOOL);
    assert_true(v.b);
    assert_int_equal(mgc_config_get(c, "empty", &v), MGC_CV_NUMBERS);
    assert_int_equal(v.len, 0);
    assert_int_equal(mgc_config_get(c, "n", &v), MGC_CV_NULL);
    assert_int_equal(mgc_config_get(c, "n.x", &v), MGC_CV_ABSENT);
    assert_int_equal(mgc_config_get(c, "big", &v), MGC_CV_FLOAT);
    assert_true(v.f == 18446744073709551615.0);
    assert_int_equal(mgc_config_get(c, "i64max", &v), MGC_CV_INT);
    assert_int_equal(v.i, INT64_MAX);
    assert_int_equal(get_int(c, "neg"), -4);

    /* type errors name the file, the key, what it is and what was expected */
    int64_t i;
    double d;
    bool b;
    const char *s;
    const double *nums;
    size_t n;
    assert_int_equal(mgc_config_int(c, "s", &i, &e), -1);
    assert_string_equal(e.msg, "inline.json: 's' is a string (\"hi\"), expected an integer");
    assert_int_equal(mgc_config_int(c, "half", &i, &e), -1);
    assert_string_equal(e.msg, "inline.json: 'half' is a float (0.5), expected an integer");
    assert_int_equal(mgc_config_int(c, "big", &i, &e), -1);
    assert_contains(e.msg, "expected an integer");
    assert_int_equal(mgc_config_int(c, "missing", &i, &e), -1);
    assert_string_equal(e.msg, "inline.json: 'missing' is missing (expected an integer)");
    assert_int_equal(mgc_config_float(c, "t", &d, &e), -1);
    assert_string_equal(e.msg, "inline.json: 't' is a boolean (true), expected a number");
    assert_int_equal(mgc_config_bool(c, "a.b.c", &b, &e), -1);
    assert_string_equal(e.msg, "inline.json: 'a.b.c' is an integer (7), expected true or false");
    assert_int_equal(mgc_config_string(c, "arr", &s, &e), -1);
    assert_string_equal(e.msg, "inline.json: 'arr' is an array of numbers, expected a string");
    assert_int_equal(mgc_config_numbers(c, "mixed", &nums, &n, &e), -1);
    assert_string_equal(e.msg, "inline.json: 'mixed' is an array, expected an array of numbers");
    assert_int_equal(mgc_config_numbers(c, "obj", &nums, &n, &e), -1);
    assert_contains(e.msg, "'obj' is an object");
    assert_int_equal(mgc_config_float(c, "n", &d, &e), -1);
    assert_string_equal(e.msg, "inline.json: 'n' is null, expected a number");
    /* _or: absent/null give the default, a wrong type is still an error */
    assert_int_equal(mgc_config_int_or(c, "n", 5, &i, &e), 0);
    assert_int_equal(i, 5);
    assert_int_equal(mgc_config_int_or(c, "nope", 6, &i, &e), 0);
    assert_int_equal(i, 6);
    assert_int_equal(mgc_config_int_or(c, "s", 6, &i, &e), -1);
    assert_int_equal(mgc_config_bool_or(c, "half", true, &b, &e), -1);
    assert_int_equal(mgc_config_bool_or(c, "nope", true, &b, &e), 0);
    assert_true(b);
    assert_int_equal(mgc_config_float(c, "a.b.c", &d, &e), 0);
    assert_true(d == 7.0);
    assert_string_equal(mgc_config_kind_name(MGC_CV_NUMBERS), "an array of numbers");
    mgc_config_free(c);
}

static int collect_key(const char *key, void *ud)
{
    char *buf = ud;
    strcat(buf, key);
    strcat(buf, ",");
    return strcmp(key, "stop") == 0;
}

static void test_keys_and_suggestions(void **state)
{
    mgc_config *c = load("graphs/meta-llama/Llama-3.2-1B/config.json");
    char buf[2048] = "";
    int n = mgc_config_keys(c, "rope_scaling", collect_key, buf);
    assert_int_equal(n, 5);
    assert_string_equal(buf, "factor,high_freq_factor,low_freq_factor,"
                             "original_max_position_embeddings,rope_type,");
    assert_int_equal(mgc_config_keys(c, "", NULL, NULL), 25);
    assert_int_equal(mgc_config_keys(c, "hidden_size", NULL, NULL), -1);
    assert_int_equal(mgc_config_keys(c, "nope", NULL, NULL), -1);

    assert_string_equal(mgc_config_closest_key(c, "", "num_hiden_layers"), "num_hidden_layers");
    assert_string_equal(mgc_config_closest_key(c, "", "rope_scalling"), "rope_scaling");
    assert_string_equal(mgc_config_closest_key(c, "", "Hidden_Size"), "hidden_size");
    assert_string_equal(mgc_config_closest_key(c, "", "num_key_value_head"), "num_key_value_heads");
    assert_string_equal(mgc_config_closest_key(c, "rope_scaling", "facter"), "factor");
    assert_null(mgc_config_closest_key(c, "", "qkv_bias"));
    assert_null(mgc_config_closest_key(c, "", "x"));
    assert_null(mgc_config_closest_key(c, "vocab_size", "x"));
    mgc_config_free(c);

    c = parse("{\"a\": 1, \"stop\": 2, \"c\": 3}");
    buf[0] = 0;
    assert_int_equal(mgc_config_keys(c, "", collect_key, buf), 2); /* stopped early */
    assert_string_equal(buf, "a,stop,");
    mgc_config_free(c);
}

static void expect_parse_error(const char *text, size_t len, const char *e1, const char *e2)
{
    mgc_config *c = (mgc_config *)1;
    mgc_error e;
    if (mgc_config_parse(text, len, "cfg/config.json", &c, &e) == 0)
        fail_msg("parsed: %s", text);
    assert_null(c);
    assert_contains(e.msg, "cfg/config.json");
    assert_contains(e.msg, e1);
    if (e2)
        assert_contains(e.msg, e2);
}

static void test_errors(void **state)
{
    mgc_config *c = (mgc_config *)1;
    mgc_error e;
    assert_int_equal(mgc_config_load("graphs/nobody/nothing/config.json", &c, &e), -1);
    assert_null(c);
    assert_string_equal(e.msg, "graphs/nobody/nothing/config.json: cannot open: No such file or "
                               "directory");
    assert_int_equal(mgc_config_load("graphs", &c, &e), -1);
    assert_contains(e.msg, "graphs: ");

    const char *bad = "{\n  \"hidden_size\": 4096,\n  \"vocab_size\": 12,,\n}";
    expect_parse_error(bad, strlen(bad), "cfg/config.json:3:", "invalid JSON");
    const char *trunc = "{\n  \"hidden_size\": 4096,\n";
    expect_parse_error(trunc, strlen(trunc), "cfg/config.json:3:1: invalid JSON",
                       "unexpected end");
    expect_parse_error("", 0, "invalid JSON", NULL);
    expect_parse_error("[1, 2]", 6, "the top level is a JSON array, expected an object", NULL);
    expect_parse_error("42", 2, "the top level is a JSON int", NULL);
    expect_parse_error("{\"a\": 1} {", 10, "invalid JSON", NULL);
    expect_parse_error("{\"a\": 1,}", 9, "cfg/config.json:1:", "invalid JSON");
    expect_parse_error("{\"a\":\n \"\xff\"}", 11, "cfg/config.json:2:", "utf-8");
    expect_parse_error("{\"a\": 1}\0", 9, "cfg/config.json:1:9: invalid JSON: NUL byte", NULL);

    /* a real file with a wrong type */
    char dir[] = "/tmp/mgc_test_cfg_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    /* (keys outside the limits table: those of the table are checked at load, below) */
    fputs("{\"some_size\": \"4096\", \"some_eps\": \"1e-5\"}\n", f);
    fclose(f);
    c = load(path);
    int64_t i;
    double d;
    assert_int_equal(mgc_config_int(c, "some_size", &i, &e), -1);
    char want[256];
    snprintf(want, sizeof want, "%s: 'some_size' is a string (\"4096\"), expected an integer",
             path);
    assert_string_equal(e.msg, want);
    assert_int_equal(mgc_config_float(c, "some_eps", &d, &e), -1);
    assert_contains(e.msg, "'some_eps' is a string (\"1e-5\"), expected a number");
    mgc_config_free(c);

    /* a value of the limits table: its type and range are checked when the file is read */
    f = fopen(path, "w");
    fputs("{\"hidden_size\": \"4096\"}\n", f);
    fclose(f);
    assert_int_equal(mgc_config_load(path, &c, &e), -1);
    assert_null(c);
    snprintf(want, sizeof want, "%s: 'hidden_size' is a string, expected an integer in [2, 65536]",
             path);
    assert_string_equal(e.msg, want);
    unlink(path);
    rmdir(dir);
    mgc_config_free(NULL);
}

/* The limits of issue 11: each value is refused at parse, naming the key and range. */
static void test_limits(void **state)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"vocab_size\": 0}", "'vocab_size' is 0, expected an integer in [1, 16777216]"},
        {"{\"rope_theta\": 1e999}", "'rope_theta' is not a finite number (1e999)"},
        {"{\"rope_theta\": 0}", "'rope_theta' is 0, expected a number in (0, 1e+12]"},
        {"{\"hidden_size\": 4611686018427387904}",
         "'hidden_size' is 4611686018427387904, expected an integer in [2, 65536]"},
        {"{\"hidden_size\": 1}", "'hidden_size' is 1, expected an integer in [2, 65536]"},
        {"{\"intermediate_size\": 4611686018427387904}", "'intermediate_size' is 4611686018427387904"},
        {"{\"num_hidden_layers\": 0}", "'num_hidden_layers' is 0, expected an integer in [1, 1024]"},
        {"{\"num_hidden_layers\": -2}", "'num_hidden_layers' is -2"},
        {"{\"max_position_embeddings\": -1}", "'max_position_embeddings' is -1"},
        {"{\"num_attention_heads\": 2.5}", "'num_attention_heads' is 2.5, expected an integer"},
        {"{\"rms_norm_eps\": -1e-5}", "'rms_norm_eps' is -1e-05, expected a number in (0, 1]"},
        {"{\"rope_scaling\": {\"factor\": 0}}", "'rope_scaling.factor' is 0"},
        {"{\"x\": {\"long_factor\": [1, -1e400]}}", "'x.long_factor.1' is not a finite number"},
        {"{\"sliding_window\": true}", "'sliding_window' is a boolean, expected an integer"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        mgc_config *c = NULL;
        mgc_error e;
        assert_int_equal(mgc_config_parse(bad[k].json, strlen(bad[k].json), "dir/config.json", &c, &e), -1);
        assert_null(c);
        assert_contains(e.msg, "dir/config.json: ");
        assert_contains(e.msg, bad[k].msg);
    }
    /* the edges of the ranges, null where HF writes it, and integral floats pass */
    mgc_config *c = parse("{\"hidden_size\": 2, \"num_hidden_layers\": 1024, \"vocab_size\": 16777216,"
                          " \"sliding_window\": null, \"max_position_embeddings\": 4096.0,"
                          " \"rope_theta\": 1e12, \"rms_norm_eps\": 1}");
    mgc_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bringup_configs),
        cmocka_unit_test(test_fixture_configs),
        cmocka_unit_test(test_phi3_longrope),
        cmocka_unit_test(test_llama_qwen_mistral_specifics),
        cmocka_unit_test(test_lookup_and_types),
        cmocka_unit_test(test_keys_and_suggestions),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
