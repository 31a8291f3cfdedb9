/* `mgc run` stops at the model's end-of-sequence ids as HF's generate() does
 * (eos_token_id of generation_config.json, else of config.json; a number or
 * a list), keeping the EOS token, unless --ignore-eos; users stop on their
 * own.  The oracle: HF's generated_ids of the llama32 fixture (made with EOS
 * disabled), cut after the first token we declare an EOS.  A malformed
 * eos_token_id is an error naming the file.  With a tokenizer the text is
 * streamed, and adds up to the decoding of the ids.  Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "support/e2e_helpers.h"
#include "tokenizer.h"

#define FIX E2E_FIX "/llama32"
#define REF FIX "/reference.safetensors"

static char *g_dir, *g_plan, *g_prompt;
static int32_t *g_gen;
static int64_t g_ngen;

static int setup(void **state)
{
    g_dir = e2e_fixture_variant(FIX, NULL, NULL);
    g_plan = e2e_path(g_dir, "plan.yaml");
    mgc_plan plan;
    if (e2e_compile(e2e_arch_find("llama32")->spec, FIX, NULL, MGC_F32, MGC_F32, E2E_MAX_SEQ, &plan) != 0)
        return -1;
    mgc_error err = {{0}};
    int rc = mgc_plan_write(&plan, g_plan, &err);
    mgc_plan_free(&plan);
    int64_t t = 0;
    int32_t *ids = e2e_read_ids(REF, "input_ids", &t);
    g_gen = e2e_read_ids(REF, "generated_ids", &g_ngen);
    size_t cap = (size_t)t * 12 + 1, len = 0;
    g_prompt = malloc(cap);
    g_prompt[0] = 0;
    for (int64_t i = 0; i < t - g_ngen; i++)
        len += (size_t)snprintf(g_prompt + len, cap - len, "%s%d", i ? "," : "", ids[i]);
    free(ids);
    return rc;
}

static int teardown(void **state)
{
    e2e_rmtree(g_dir);
    free(g_plan);
    free(g_prompt);
    free(g_gen);
    return 0;
}

static void write_text(const char *name, const char *text)
{
    char *p = e2e_path(g_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

/* Runs mgc run on the prompt with extra arguments; returns the exit status. */
static int run(char **out, char **err, const char *extra1, const char *extra2)
{
    char n[16];
    snprintf(n, sizeof n, "%lld", (long long)g_ngen);
    char *argv[] = {(char *)e2e_mgc_path(), "run", g_plan, "--model", g_dir, "--tokens", g_prompt,
                    "--max-new-tokens", n, (char *)extra1, (char *)extra2, NULL};
    return e2e_spawn(argv, out, err);
}

/* The ids of line "user U:" */
static int user_ids(const char *out, int u, int32_t *v, int max)
{
    char head[32];
    snprintf(head, sizeof head, "user %d:", u);
    const char *l = strstr(out, head);
    if (!l)
        return -1;
    const char *p = l + strlen(head);
    int n = 0;
    while (*p == ' ' && n < max) {
        char *end;
        v[n++] = (int32_t)strtol(p, &end, 10);
        p = end;
    }
    return n;
}

static int first_of(int32_t a, int32_t b)
{
    int i = 0;
    while (g_gen[i] != a && g_gen[i] != b)
        i++;
    return i;
}

static void stops_at_generation_config_list(void **state)
{
    char text[128];
    snprintf(text, sizeof text, "{\"eos_token_id\": [%d, %d]}\n", g_gen[25], g_gen[11]);
    write_text("generation_config.json", text);
    int stop = first_of(g_gen[25], g_gen[11]);
    assert_true(stop < g_ngen - 1); /* else the test proves nothing */
    char *out = NULL, *err = NULL;
    assert_int_equal(run(&out, &err, NULL, NULL), 0);
    int32_t got[64];
    assert_int_equal(user_ids(out, 0, got, 64), stop + 1);
    assert_memory_equal(got, g_gen, sizeof(int32_t) * (size_t)(stop + 1));
    e2e_assert_contains(err, "end-of-sequence");
    free(out);
    free(err);
    /* --ignore-eos: all of them */
    assert_int_equal(run(&out, &err, "--ignore-eos", NULL), 0);
    assert_int_equal(user_ids(out, 0, got, 64), g_ngen);
    assert_memory_equal(got, g_gen, sizeof(int32_t) * (size_t)g_ngen);
    free(out);
    free(err);
    /* two users, both greedy: both stop at the same place */
    assert_int_equal(run(&out, &err, "--users", "2"), 0);
    assert_int_equal(user_ids(out, 1, got, 64), stop + 1);
    free(out);
    free(err);
    char *p = e2e_path(g_dir, "generation_config.json");
    unlink(p);
    free(p);
}

/* No generation_config.json: config.json's number. */
static void stops_at_config_number(void **state)
{
    char *cfg = e2e_path(g_dir, "config.json");
    char *text = e2e_slurp(cfg, NULL);
    char *at = strstr(text, "\"eos_token_id\"");
    assert_non_null(at);
    char *end = strpbrk(at + 14, ",}");
    char repl[64];
    snprintf(repl, sizeof repl, "\"eos_token_id\": %d", g_gen[9]);
    FILE *f = fopen(cfg, "w");
    fprintf(f, "%.*s%s%s", (int)(at - text), text, repl, end);
    fclose(f);
    int stop = first_of(g_gen[9], g_gen[9]);
    char *out = NULL, *err = NULL;
    assert_int_equal(run(&out, &err, NULL, NULL), 0);
    int32_t got[64];
    assert_int_equal(user_ids(out, 0, got, 64), stop + 1);
    assert_memory_equal(got, g_gen, sizeof(int32_t) * (size_t)(stop + 1));
    free(out);
    free(err);
    /* restore */
    f = fopen(cfg, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    free(cfg);
}

static void malformed_eos_is_bad_input(void **state)
{
    write_text("generation_config.json", "{\"eos_token_id\": [2, -1]}");
    char *out = NULL, *err = NULL;
    assert_int_equal(run(&out, &err, NULL, NULL), 1);
    e2e_assert_contains(err, "generation_config.json");
    e2e_assert_contains(err, "eos_token_id");
    free(out);
    free(err);
    write_text("generation_config.json", "{\"eos_token_id\": [2, ");
    assert_int_equal(run(&out, &err, NULL, NULL), 1);
    e2e_assert_contains(err, "generation_config.json");
    free(out);
    free(err);
    /* --ignore-eos does not read it */
    assert_int_equal(run(&out, &err, "--ignore-eos", NULL), 0);
    free(out);
    free(err);
    char *p = e2e_path(g_dir, "generation_config.json");
    unlink(p);
    free(p);
}

/* With a tokenizer.json (the test SentencePiece one, its vocabulary filled up
 * to the model's 512 ids), one user's text is streamed: the pieces printed
 * after "user 0 text: " add up to the decoding of the ids printed after. */
static void streams_the_text(void **state)
{
    json_object *root = json_object_from_file("tests/tokenizer/tiny_sentencepiece.json");
    assert_non_null(root);
    json_object *model, *vocab;
    assert_true(json_object_object_get_ex(root, "model", &model) && json_object_object_get_ex(model, "vocab", &vocab));
    char used[512] = {0};
    json_object_object_foreach(vocab, k, v)
    {
        (void)k;
        if (json_object_get_int(v) < 512)
            used[json_object_get_int(v)] = 1;
    }
    json_object *added;
    if (json_object_object_get_ex(root, "added_tokens", &added))
        for (size_t i = 0; i < json_object_array_length(added); i++) {
            json_object *id;
            if (json_object_object_get_ex(json_object_array_get_idx(added, i), "id", &id) && json_object_get_int(id) < 512)
                used[json_object_get_int(id)] = 1;
        }
    for (int i = 0; i < 512; i++)
        if (!used[i]) {
            char name[32];
            snprintf(name, sizeof name, "\xE2\x96\x81w%d", i);
            json_object_object_add(vocab, name, json_object_new_int(i));
        }
    char *tokpath = e2e_path(g_dir, "tokenizer.json");
    assert_int_equal(json_object_to_file(tokpath, root), 0);
    json_object_put(root);
    char *argv[] = {(char *)e2e_mgc_path(), "run", g_plan, "--model", g_dir, "--prompt", "It was the best of times",
                    "--max-new-tokens", "16", NULL};
    char *out = NULL, *err = NULL;
    if (e2e_spawn(argv, &out, &err) != 0)
        fail_msg("mgc run: %s", err);
    int32_t got[64];
    int n = user_ids(out, 0, got, 64);
    assert_int_equal(n, 16);
    mgc_error e = {{0}};
    tokenizer *t = tok_load(tokpath, &e);
    assert_non_null(t);
    char *text = NULL;
    assert_int_equal(tok_decode(t, got, (size_t)n, 0, &text, NULL, &e), 0);
    assert_true(strlen(text) > 16);
    char *line = strstr(out, "user 0 text: ");
    assert_non_null(line);
    line += strlen("user 0 text: ");
    size_t len = strcspn(line, "\n");
    if (len != strlen(text) || strncmp(line, text, len) != 0)
        fail_msg("streamed \"%.*s\", the ids decode to \"%s\"", (int)len, line, text);
    free(text);
    tok_free(t);
    free(out);
    free(err);
    unlink(tokpath);
    free(tokpath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stops_at_generation_config_list),
        cmocka_unit_test(stops_at_config_number),
        cmocka_unit_test(malformed_eos_is_bad_input),
        cmocka_unit_test(streams_the_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
