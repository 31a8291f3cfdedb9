/* Eval features for real bringups: mgc's own (builtin) reference against
 * HuggingFace's, layer-by-layer localisation of a broken layer, the
 * automation wrapper, and the errors a user meets first. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "eval.h"
#include "metrics.h"
#include "reference.h"
#include "safetensors.h"

/* The builtin reference (the spec on the cpu system, f32) reproduces HF's own
 * outputs to the f32 thresholds: every logit row (PCC >= 0.99999, max abs
 * error <= 1e-4 of the largest logit, same argmax), every hidden state, and,
 * made by greedy continuation of the prompt, HF's generated tokens. */
static void builtin_reference_matches_hf(void **state)
{
    (void)state;
    for (size_t a = 0; a < e2e_narchs; a++) {
        const e2e_arch *arch = &e2e_archs[a];
        e2e_model m;
        e2e_model_open(&m, arch, "cpu", 1);
        for (int r = 0; arch->refs[r]; r++) {
            char path[512];
            e2e_ref_path(arch, arch->refs[r], path, sizeof path);
            ev_reference hf, mine, gen;
            mgc_error e = {{0}};
            assert_int_equal(ev_reference_load(path, &hf, &e), 0);
            /* teacher-forced logits over HF's own tokens */
            assert_int_equal(ev_reference_make(m.en, hf.input_ids, (int)hf.t, (int)hf.prompt_len, 0, &mine, &e), 0);
            assert_int_equal(mine.t, hf.t);
            double maxlogit = e2e_max_abs(hf.logits, (size_t)(hf.t * hf.vocab)), worst = 1, maxerr = 0;
            for (int64_t i = 0; i < hf.t; i++) {
                const float *x = mine.logits + i * hf.vocab, *y = hf.logits + i * hf.vocab;
                double p = ev_pcc(x, y, (size_t)hf.vocab);
                if (p < worst)
                    worst = p;
                for (int64_t k = 0; k < hf.vocab; k++)
                    maxerr = fmax(maxerr, fabs((double)x[k] - (double)y[k]));
                assert_int_equal(e2e_argmax(x, hf.vocab), hf.top5[i * 5]);
            }
            printf("builtin vs HF %s/%s: pcc_min %.9f, max abs err %.3g of max logit %.3g\n", arch->name,
                   arch->refs[r], worst, maxerr, maxlogit);
            assert_true(worst >= 0.99999);
            assert_true(maxerr <= 1e-4 * maxlogit);
            /* hidden states, in HF's layout ([L] = the final norm) */
            assert_non_null(mine.hidden_states);
            assert_int_equal(mine.hidden_layers, hf.hidden_layers);
            size_t slice = (size_t)(hf.t * hf.hidden);
            for (int64_t l = 0; l < hf.hidden_layers; l++)
                assert_true(ev_pcc(mine.hidden_states + l * slice, hf.hidden_states + l * slice, slice) >= 0.99999);
            /* greedy continuation reproduces HF's generate() (the fixtures never
             * cross Phi-3's LongRoPE boundary while generating) */
            int n_new = (int)(hf.t - hf.prompt_len);
            assert_int_equal(
                ev_reference_make(m.en, hf.input_ids, (int)hf.prompt_len, (int)hf.prompt_len, n_new, &gen, &e), 0);
            for (int64_t i = 0; i < hf.t; i++)
                assert_int_equal(gen.input_ids[i], hf.input_ids[i]);
            ev_reference_free(&gen);
            ev_reference_free(&mine);
            ev_reference_free(&hf);
        }
        e2e_model_close(&m);
    }
}

/* A reference written by `mgc reference` reads back as the HF ones do and
 * evaluates the f32 plan perfectly. */
static void reference_command_round_trip(void **state)
{
    (void)state;
    char *dir = e2e_tmpdir();
    char *ref = e2e_path(dir, "ref.safetensors");
    char *plan = e2e_path(dir, "p.yaml");
    const char *mgc = e2e_mgc_path();
    char *gen[] = {(char *)mgc, "reference", "graphs/Qwen/Qwen3-0.6B/t3000.graph", "--model", "tests/fixtures/qwen3",
                   "--tokens", "5,17,300,42,7,9,250,11", "--max-new-tokens", "12", "-o", ref, NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(e2e_spawn(gen, &out, &err), 0);
    ev_reference r;
    mgc_error e = {{0}};
    assert_int_equal(ev_reference_load(ref, &r, &e), 0);
    assert_int_equal(r.t, 20);
    assert_int_equal(r.prompt_len, 8);
    assert_non_null(r.hidden_states);
    ev_reference_free(&r);
    free(out);
    free(err);
    char *comp[] = {(char *)mgc, "compile", "graphs/Qwen/Qwen3-0.6B/t3000.graph", "--model", "tests/fixtures/qwen3",
                    "--weights-dtype", "f32", "--activations-dtype", "f32", "--max-seq-len", "64", "-o", plan, NULL};
    assert_int_equal(e2e_spawn(comp, NULL, NULL), 0);
    char *ev[] = {(char *)mgc, "eval", plan, "--model", "tests/fixtures/qwen3", "--reference", ref, NULL};
    assert_int_equal(e2e_spawn(ev, &out, &err), 0);
    e2e_assert_contains(out, "\"top1\":1.000000,\"top5\":1.000000");
    free(out);
    free(err);
    free(ref);
    free(plan);
    e2e_rmtree(dir);
}

/* A copy of the llama32 fixture whose layer-`layer` MLP output weights are
 * doubled (exact in bf16), so that that layer and only it is broken. */
static char *broken_llama32(int layer)
{
    char target[128];
    snprintf(target, sizeof target, "model.layers.%d.mlp.down_proj.weight", layer);
    rt_st_file *f = NULL;
    mgc_error e = {{0}};
    assert_int_equal(rt_st_open("tests/fixtures/llama32/model.safetensors", &f, &e), 0);
    const rt_st_tensor *t = rt_st_find(f, target);
    assert_non_null(t);
    assert_int_equal(t->dtype, RT_ST_BF16);
    uint16_t *doubled = malloc(t->nbytes);
    memcpy(doubled, t->data, t->nbytes);
    for (int64_t k = 0; k < t->numel; k++)
        if (doubled[k] & 0x7f80) /* non-zero, finite here: exponent + 1 doubles it */
            doubled[k] = (uint16_t)(doubled[k] + 0x0080);
    rt_st_entry ent = rt_st_entry_of(t);
    ent.data = doubled;
    char *dir = e2e_fixture_variant("tests/fixtures/llama32", NULL, &ent);
    free(doubled);
    rt_st_close(f);
    return dir;
}

/* Compiles the llama32 spec in f32 for t3000 against `dir`, compares its
 * residual stream with HF's, and returns the per-layer comparison. */
static void compare_layers(const char *dir, ev_layer_cmp *lc, char **planpath)
{
    mgc_plan plan;
    assert_int_equal(e2e_compile("graphs/meta-llama/Llama-3.2-1B/t3000.graph", dir, "t3000", MGC_F32, MGC_F32,
                                 E2E_MAX_SEQ, &plan),
                     0);
    rt_engine *en = NULL;
    mgc_error e = {{0}};
    rt_engine_opts o = {0};
    assert_int_equal(rt_engine_load(&plan, dir, &o, &en, &e), 0);
    ev_reference ref;
    assert_int_equal(ev_reference_load("tests/fixtures/llama32/reference.safetensors", &ref, &e), 0);
    assert_int_equal(ev_layers(en, &ref, lc, &e), 0);
    *planpath = e2e_path(dir, "p.yaml");
    assert_int_equal(mgc_plan_write(&plan, *planpath, &e), 0);
    ev_reference_free(&ref);
    rt_engine_free(en);
    mgc_plan_free(&plan);
}

/* --layers names the layer that was broken: its input still matches HF, its
 * output does not. */
static void layers_locate_a_broken_layer(void **state)
{
    (void)state;
    /* layer 0 broken: the embeddings match, layer 0's output does not */
    char *dir = broken_llama32(0), *planpath = NULL;
    ev_layer_cmp lc;
    compare_layers(dir, &lc, &planpath);
    assert_int_equal(lc.n, 3); /* embeddings, layer 0 output, final norm */
    assert_true(lc.pcc[0] >= 0.99999);
    assert_true(lc.pcc[1] < 0.999);
    assert_int_equal(ev_layer_cmp_first_below(&lc, 0.9999), 1);
    ev_layer_cmp_free(&lc);
    const char *mgc = e2e_mgc_path();
    char *ev[] = {(char *)mgc, "eval", planpath, "--model", dir, "--reference",
                  "tests/fixtures/llama32/reference.safetensors", "--layers", "--layers-threshold", "0.9999", NULL};
    char *out = NULL;
    assert_int_equal(e2e_spawn(ev, &out, NULL), 0);
    e2e_assert_contains(out, "first below 0.9999: layer 0 (its output; its input matched)");
    free(out);
    free(planpath);
    e2e_rmtree(dir);

    /* layer 1 broken: layer 0's output (HF's hidden_states[1]) still matches */
    dir = broken_llama32(1);
    compare_layers(dir, &lc, &planpath);
    assert_true(lc.pcc[0] >= 0.99999);
    assert_true(lc.pcc[1] >= 0.99999);
    assert_true(lc.pcc[2] < 0.999);
    assert_int_equal(ev_layer_cmp_first_below(&lc, 0.9999), 2);
    ev_layer_cmp_free(&lc);
    free(planpath);
    e2e_rmtree(dir);

    /* the unbroken model: every layer matches */
    compare_layers("tests/fixtures/llama32", &lc, &planpath);
    assert_int_equal(ev_layer_cmp_first_below(&lc, 0.99999), -1);
    ev_layer_cmp_free(&lc);
    unlink(planpath);
    free(planpath);
}

/* The wrapper finds each bundled bringup by its HF id, compiles, evaluates
 * and ends with YT_METRICS; mode ref (mgc's f32 one-device run against HF)
 * is exact, mode tt (the spec's precision) within the runtime issue's bounds. */
static void run_eval_wrapper_on_every_bringup(void **state)
{
    (void)state;
    const char *ids[] = {"mistralai/Mistral-7B-Instruct-v0.3", "microsoft/Phi-3-mini-128k-instruct",
                         "meta-llama/Llama-3.2-1B", "Qwen/Qwen3-0.6B", "humain-ai/ALLaM-7B-Instruct-preview"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        for (int mode = 0; mode < 2; mode++) {
            char *argv[] = {"/bin/sh", "scripts/run_eval.sh", "--hf-model", (char *)ids[i], "--mode",
                            mode ? "ref" : "tt", "--max-seq-len", "128", NULL};
            char *out = NULL, *err = NULL;
            int rc = e2e_spawn(argv, &out, &err);
            if (rc != 0)
                fail_msg("run_eval.sh %s --mode %s exited %d: %s", ids[i], argv[5], rc, err ? err : "");
            const char *y = strstr(out, "YT_METRICS={");
            assert_non_null(y);
            assert_null(strchr(y, '\n') ? strstr(strchr(y, '\n') + 1, "YT_") : NULL); /* the last line */
            char want[128];
            snprintf(want, sizeof want, "\"model\":\"%s\"", ids[i]);
            e2e_assert_contains(y, want);
            double top5 = atof(strstr(y, "\"top5\":") + 7), pcc = atof(strstr(y, "\"pcc_min\":") + 10);
            if (mode) {
                e2e_assert_contains(y, "\"top1\":1.000000,\"top5\":1.000000");
                assert_true(pcc >= 0.99999);
            } else {
                assert_true(top5 >= 0.95);
                assert_true(pcc >= 0.99);
            }
            free(out);
            free(err);
        }
    char *bad[] = {"/bin/sh", "scripts/run_eval.sh", "--hf-model", "nobody/NoSuchModel", NULL};
    char *err = NULL;
    assert_int_equal(e2e_spawn(bad, NULL, &err), 1);
    e2e_assert_contains(err, "no bringup for 'nobody/NoSuchModel'");
    e2e_assert_contains(err, "Qwen/Qwen3-0.6B");
    free(err);
}

/* The errors a user meets first, each a clear message and exit status 1 (2
 * for usage). */
static void eval_errors(void **state)
{
    (void)state;
    char *dir = e2e_tmpdir();
    char *plan = e2e_path(dir, "p.yaml");
    const char *mgc = e2e_mgc_path();
    char *comp[] = {(char *)mgc, "compile", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "--model",
                    "tests/fixtures/llama32", "--max-seq-len", "32", "-o", plan, NULL};
    assert_int_equal(e2e_spawn(comp, NULL, NULL), 0);
    char *err = NULL;
    /* an empty prompt */
    char *empty[] = {(char *)mgc, "eval", plan, "--model", "tests/fixtures/llama32", "--reference", "builtin",
                     "--tokens", "", NULL};
    assert_int_equal(e2e_spawn(empty, NULL, &err), 1);
    e2e_assert_contains(err, "empty");
    free(err);
    /* a prompt longer than the plan's KV cache (32 positions) */
    char *longp[] = {(char *)mgc, "eval", plan, "--model", "tests/fixtures/llama32", "--reference", "builtin",
                     "--tokens", "1,2,3,4,5,6,7,8,9,10", "--max-new-tokens", "40", NULL};
    assert_int_equal(e2e_spawn(longp, NULL, &err), 1);
    e2e_assert_contains(err, "50 tokens do not fit the plan's KV cache of 32 positions");
    free(err);
    /* an HF reference longer than the cache */
    char *hf[] = {(char *)mgc, "eval", plan, "--model", "tests/fixtures/llama32", "--reference",
                  "tests/fixtures/llama32/reference.safetensors", NULL};
    assert_int_equal(e2e_spawn(hf, NULL, &err), 1);
    e2e_assert_contains(err, "the reference has 61 tokens but the plan's KV cache holds 32");
    free(err);
    /* --layers with a reference that has no hidden_states */
    char *big = e2e_path(dir, "big.yaml");
    char *comp2[] = {(char *)mgc, "compile", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "--model",
                     "tests/fixtures/llama32", "--max-seq-len", "128", "-o", big, NULL};
    assert_int_equal(e2e_spawn(comp2, NULL, NULL), 0);
    char *nohid = e2e_path(dir, "nohid.safetensors");
    {
        rt_st_file *f = NULL;
        mgc_error e = {{0}};
        assert_int_equal(rt_st_open("tests/fixtures/llama32/reference.safetensors", &f, &e), 0);
        rt_st_entry ents[8];
        size_t n = 0;
        for (size_t i = 0; i < rt_st_count(f) && n < 8; i++)
            if (strcmp(rt_st_at(f, i)->name, "hidden_states") != 0)
                ents[n++] = rt_st_entry_of(rt_st_at(f, i));
        const char *meta[] = {"prompt_len", rt_st_metadata(f, "prompt_len"), NULL};
        assert_int_equal(rt_st_write(nohid, ents, n, meta, &e), 0);
        rt_st_close(f);
    }
    char *lay[] = {(char *)mgc, "eval", big, "--model", "tests/fixtures/llama32", "--reference", nohid, "--layers",
                   NULL};
    assert_int_equal(e2e_spawn(lay, NULL, &err), 1);
    e2e_assert_contains(err, "has no hidden_states to compare layers with");
    free(err);
    /* builtin needs a prompt, and a prompt needs builtin */
    char *noprompt[] = {(char *)mgc, "eval", big, "--model", "tests/fixtures/llama32", "--reference", "builtin", NULL};
    assert_int_equal(e2e_spawn(noprompt, NULL, NULL), 2);
    free(big);
    free(nohid);
    free(plan);
    e2e_rmtree(dir);
}

/* A model directory with the llama32 fixture and a small SentencePiece-style
 * tokenizer (byte fallback, so any text maps into its 275 ids, all inside the
 * model's vocabulary of 512). */
static char *model_with_tokenizer(const char *tokenizer)
{
    char *dir = e2e_tmpdir();
    const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        char from[256];
        snprintf(from, sizeof from, "tests/fixtures/llama32/%s", files[i]);
        char *to = e2e_path(dir, files[i]);
        e2e_copy_file(from, to, -1);
        free(to);
    }
    char *tok = e2e_path(dir, "tokenizer.json");
    e2e_copy_file(tokenizer, tok, -1);
    free(tok);
    return dir;
}

/* Text prompts go through the model's own tokenizer.json: a prompt file is
 * split in halves as tt-metal splits its reference text, `mgc reference`
 * writes it, `mgc run --prompt` generates from text; a broken tokenizer or an
 * empty prompt file is a clear error. */
static void text_prompts(void **state)
{
    (void)state;
    char *dir = model_with_tokenizer("tests/tokenizer/tiny_sentencepiece.json");
    char *plan = e2e_path(dir, "p.yaml"), *ref = e2e_path(dir, "ref.safetensors");
    const char *mgc = e2e_mgc_path();
    char *comp[] = {(char *)mgc, "compile", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "--model", dir,
                    "--weights-dtype", "f32", "--activations-dtype", "f32", "-o", plan, NULL};
    assert_int_equal(e2e_spawn(comp, NULL, NULL), 0);
    /* the reference file: its prompt is the first half of the text's tokens */
    char *gen[] = {(char *)mgc, "reference", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "--model", dir,
                   "--prompt-file", "prompts/short.txt", "-o", ref, NULL};
    assert_int_equal(e2e_spawn(gen, NULL, NULL), 0);
    ev_reference r;
    mgc_error e = {{0}};
    assert_int_equal(ev_reference_load(ref, &r, &e), 0);
    assert_int_equal(r.prompt_len, r.t / 2);
    assert_true(r.t > 100); /* a paragraph, not a few tokens */
    /* its first token is the tokenizer's BOS (TemplateProcessing adds it) */
    assert_int_equal(r.input_ids[0], 1);
    ev_reference_free(&r);
    /* f32 plan against it: exact */
    char *ev[] = {(char *)mgc, "eval", plan, "--model", dir, "--reference", ref, NULL};
    char *out = NULL;
    assert_int_equal(e2e_spawn(ev, &out, NULL), 0);
    e2e_assert_contains(out, "\"top1\":1.000000,\"top5\":1.000000");
    free(out);
    /* run from text */
    char *run[] = {(char *)mgc, "run", plan, "--model", dir, "--prompt", "It was the best of times",
                   "--max-new-tokens", "4", NULL};
    assert_int_equal(e2e_spawn(run, &out, NULL), 0);
    e2e_assert_contains(out, "user 0:");
    free(out);
    /* an empty prompt file */
    char *empty = e2e_path(dir, "empty.txt");
    FILE *f = fopen(empty, "w");
    fclose(f);
    char *evempty[] = {(char *)mgc, "eval", plan, "--model", dir, "--reference", "builtin", "--prompt-file", empty,
                       "--no-such", NULL};
    assert_int_equal(e2e_spawn(evempty, NULL, NULL), 2);
    evempty[9] = NULL;
    char *err = NULL;
    assert_int_equal(e2e_spawn(evempty, NULL, &err), 1);
    e2e_assert_contains(err, "empty");
    free(err);
    free(empty);
    free(plan);
    free(ref);
    e2e_rmtree(dir);
    /* a broken tokenizer.json: the message names the file and the cause */
    dir = model_with_tokenizer("tests/tokenizer/bad_syntax.json");
    char *run2[] = {(char *)mgc, "reference", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "--model", dir,
                    "--prompt", "hello", "--max-new-tokens", "2", "-o", "/nonexistent/ref.safetensors", NULL};
    assert_int_equal(e2e_spawn(run2, NULL, &err), 1);
    e2e_assert_contains(err, "tokenizer.json");
    free(err);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_reference_matches_hf),
        cmocka_unit_test(reference_command_round_trip),
        cmocka_unit_test(layers_locate_a_broken_layer),
        cmocka_unit_test(run_eval_wrapper_on_every_bringup),
        cmocka_unit_test(eval_errors),
        cmocka_unit_test(text_prompts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
