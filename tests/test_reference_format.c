/* The reference file format as docs/reference-format.md describes it (what
 * scripts/hf_reference.py writes, and cannot be run here): files built byte
 * by byte from that description are read as it says, and run_eval.sh passes
 * --prompt-file through to a builtin reference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "reference.h"

enum { T = 4, V = 6, L1 = 3, H = 2 };

/* Hand-chosen logits: row 1's order is 1, 4, 3, 0, 5, 2. */
static const float logits[T][V] = {
    {5, 4, 3, 2, 1, 0},
    {0.1f, 3, -1, 2, 2.5f, 0},
    {0, 0, 0, 0, 0, 9},
    {1, 2, 3, 4, 5, 6},
};

/* A safetensors file: u64 header length, the JSON header (padded with
 * spaces to 8 bytes, as the Python writer does), the data. */
static void write_st(const char *path, const char *header, const void *data, size_t n)
{
    size_t hl = strlen(header), pad = (8 - hl % 8) % 8;
    uint64_t len = hl + pad;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(&len, 8, 1, f); /* little-endian host */
    fwrite(header, 1, hl, f);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', f);
    fwrite(data, 1, n, f);
    fclose(f);
}

/* input_ids (ids_bytes per id), logits F32, optional hidden_states F32 [3,4,2] */
static void make(const char *path, const char *ids_dtype, int ids_bytes, const char *prompt_len, int hidden)
{
    unsigned char data[4096];
    size_t off = 0;
    int64_t ids[T] = {3, 1, 4, 5};
    for (int i = 0; i < T; i++) {
        memcpy(data + off, &ids[i], (size_t)ids_bytes); /* little-endian: the low bytes first */
        off += (size_t)ids_bytes;
    }
    size_t lo = off;
    memcpy(data + off, logits, sizeof logits);
    off += sizeof logits;
    size_t ho = off;
    float hs[L1 * T * H];
    for (int i = 0; i < L1 * T * H; i++)
        hs[i] = (float)i * 0.5f;
    if (hidden) {
        memcpy(data + off, hs, sizeof hs);
        off += sizeof hs;
    }
    char header[1024];
    int n = snprintf(header, sizeof header,
                     "{\"__metadata__\":{\"prompt_len\":\"%s\",\"model\":\"hand-made\"},"
                     "\"input_ids\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[0,%zu]},"
                     "\"logits\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
                     prompt_len, ids_dtype, T, lo, T, V, lo, ho);
    if (hidden)
        n += snprintf(header + n, sizeof header - (size_t)n,
                      ",\"hidden_states\":{\"dtype\":\"F32\",\"shape\":[%d,%d,%d],\"data_offsets\":[%zu,%zu]}", L1, T,
                      H, ho, off);
    snprintf(header + n, sizeof header - (size_t)n, "}");
    write_st(path, header, data, off);
}

static void hand_made_files_read_as_documented(void **state)
{
    (void)state;
    char *dir = e2e_tmpdir(), *p = e2e_path(dir, "ref.safetensors");
    ev_reference r;
    mgc_error e = {{0}};
    make(p, "I64", 8, "2", 1);
    assert_int_equal(ev_reference_load(p, &r, &e), 0);
    assert_int_equal(r.t, T);
    assert_int_equal(r.vocab, V);
    assert_int_equal(r.prompt_len, 2);
    assert_int_equal(r.input_ids[2], 4);
    assert_true(r.logits[1 * V + 4] == 2.5f);
    /* no top5 tensor: derived from the logits, largest first */
    const int want[5] = {1, 4, 3, 0, 5};
    for (int k = 0; k < 5; k++)
        assert_int_equal(r.top5[1 * 5 + k], want[k]);
    assert_int_equal(r.top5[2 * 5], 5);
    /* hidden_states [L+1, T, H] */
    assert_int_equal(r.hidden_layers, L1);
    assert_int_equal(r.hidden, H);
    assert_true(r.hidden_states[(2 * T + 3) * H + 1] == (float)((2 * T + 3) * H + 1) * 0.5f);
    ev_reference_free(&r);

    /* any integer dtype for input_ids */
    make(p, "I32", 4, "3", 0);
    assert_int_equal(ev_reference_load(p, &r, &e), 0);
    assert_int_equal(r.input_ids[3], 5);
    assert_int_equal(r.prompt_len, 3);
    assert_null(r.hidden_states);
    ev_reference_free(&r);

    /* prompt_len must leave at least one position to decode */
    make(p, "I64", 8, "4", 0);
    assert_int_equal(ev_reference_load(p, &r, &e), -1);
    e2e_assert_contains(e.msg, p);
    e2e_assert_contains(e.msg, "prompt_len '4' must be between 1 and 3");
    free(p);
    e2e_rmtree(dir);
}

static void run_eval_builtin_with_prompt_file(void **state)
{
    (void)state;
    /* the tiny llama32 checkpoint with a tokenizer whose ids fit its vocabulary */
    char *dir = e2e_fixture_variant("tests/fixtures/llama32", NULL, NULL);
    char *tok = e2e_path(dir, "tokenizer.json");
    e2e_copy_file("tests/tokenizer/tiny_sentencepiece.json", tok, -1);
    char *out = NULL, *err = NULL;
    char *argv[] = {"/bin/sh", "scripts/run_eval.sh", "--hf-model", "meta-llama/Llama-3.2-1B", "--model", dir,
                    "--reference", "builtin", "--prompt-file", "prompts/short.txt", "--max-new-tokens", "4",
                    NULL};
    int rc = e2e_spawn(argv, &out, &err);
    if (rc != 0)
        fail_msg("run_eval.sh exited %d: %s", rc, err ? err : "");
    e2e_assert_contains(out, "reference builtin reference (f32, one device)");
    e2e_assert_contains(out, "YT_METRICS={");
    free(out);
    free(err);
    /* builtin without a prompt, or a prompt file without builtin: usage errors */
    char *bad[] = {"/bin/sh", "scripts/run_eval.sh", "--hf-model", "meta-llama/Llama-3.2-1B", "--reference", "builtin",
                   NULL};
    assert_int_equal(e2e_spawn(bad, NULL, &err), 2);
    e2e_assert_contains(err, "--reference builtin needs --prompt-file");
    free(err);
    free(tok);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_made_files_read_as_documented),
        cmocka_unit_test(run_eval_builtin_with_prompt_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
