/* The per-op profile: what can be checked without timing.  llama32's tiny
 * checkpoint on t3000 (8 devices) in f32, evaluated against its reference
 * (29 prompt tokens in one prefill, then 32 decode steps).
 *
 * Hand arithmetic from the fixture's config (hidden 256, 16 heads x 16 =
 * 256 for q, 8 KV heads x 16 = 128 for k and v, intermediate 512, vocab 512,
 * 2 layers, tied lm_head): linears per layer q 256x256, k 128x256, v
 * 128x256, o 256x256, gate, up 512x256, down 256x512 = 589824 values, two
 * layers plus the lm_head's 512x256 = 1310720 values, split over 8 devices
 * = 163840 f32 values = 655360 bytes of linear weights read per device per
 * forward; 7 linears x 2 layers + lm_head = 15 linear ops; 2 all-reduces
 * per layer = 4. */
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
#include "eval.h"
#include "profile.h"
#include "reference.h"

enum { PROMPT = 29, STEPS = 32, LINEARS = 15, ALL_REDUCES = 4 };
#define LINEAR_BYTES 655360ull

static const rt_profile_row *find(const rt_profile_row *r, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].name, name))
            return &r[i];
    fail_msg("no profile row '%s'", name);
    return NULL;
}

static double share_sum(const rt_profile_row *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += r[i].share;
    return s;
}

static int64_t calls_sum(const rt_profile_row *r, size_t n)
{
    int64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += r[i].calls;
    return s;
}

static void profile_counts_what_the_plan_implies(void **state)
{
    (void)state;
    const e2e_arch *a = e2e_arch_find("llama32");
    e2e_model m;
    e2e_model_open(&m, a, NULL, 1);
    assert_int_equal(m.plan.ndevices, 8);
    rt_profile *pf = rt_profile_new(&m.plan);
    assert_non_null(pf);
    rt_profile_attach(m.en, pf);
    char path[512];
    ev_reference ref;
    mgc_error e = {{0}};
    assert_int_equal(ev_reference_load(e2e_ref_path(a, "reference", path, sizeof path), &ref, &e), 0);
    assert_int_equal(ref.prompt_len, PROMPT);
    assert_int_equal(ref.t, PROMPT + STEPS);
    ev_result r;
    assert_int_equal(ev_teacher_forcing(m.en, &ref, NULL, &r, &e), 0);

    int64_t calls, rows;
    double secs, coll;
    rt_profile_phase(pf, 0, &calls, &rows, &secs, &coll);
    assert_int_equal(calls, 1);
    assert_int_equal(rows, PROMPT);
    assert_true(coll <= secs);
    rt_profile_phase(pf, 1, &calls, &rows, &secs, &coll);
    assert_int_equal(calls, STEPS);
    assert_int_equal(rows, STEPS);

    for (int decode = 0; decode < 2; decode++) {
        int64_t n_calls = decode ? STEPS : 1;
        const mgc_plan_entry *ent = decode ? &m.plan.decode : &m.plan.prefill;
        rt_profile_row *k, *l;
        size_t nk, nl;
        assert_int_equal(rt_profile_summary(pf, decode, RT_PROFILE_BY_KIND, &k, &nk), 0);
        assert_int_equal(rt_profile_summary(pf, decode, RT_PROFILE_BY_LAYER, &l, &nl), 0);
        const rt_profile_row *lin = find(k, nk, "linear");
        assert_int_equal(lin->calls, LINEARS * n_calls);
        assert_true(lin->weight_bytes == LINEAR_BYTES * (uint64_t)n_calls);
        assert_int_equal(find(k, nk, "all_reduce")->calls, ALL_REDUCES * n_calls);
        assert_int_equal(find(k, nk, "all_reduce")->weight_bytes, 0);
        /* the embedding reads one 256-value f32 row per token (replicated table) */
        assert_true(find(k, nk, "embedding")->weight_bytes == (uint64_t)(decode ? STEPS : PROMPT) * 256 * 4);
        /* prefill linear FLOPs: 2 x tokens x values of each slice */
        if (!decode)
            assert_true(fabs(lin->flops - 2.0 * PROMPT * 163840) < 0.5);
        assert_true(fabs(share_sum(k, nk) - 100.0) < 1e-9);
        assert_true(fabs(share_sum(l, nl) - 100.0) < 1e-9);
        /* every op is in one kind row and one layer row */
        assert_int_equal(calls_sum(k, nk), (int64_t)ent->nops * n_calls);
        assert_int_equal(calls_sum(l, nl), (int64_t)ent->nops * n_calls);
        assert_int_equal(nl, 4);
        assert_string_equal(l[0].name, "embed");
        assert_string_equal(l[1].name, "layer 0");
        assert_string_equal(l[2].name, "layer 1");
        assert_string_equal(l[3].name, "head");
        assert_int_equal(l[1].calls, l[2].calls);
        assert_true(l[1].weight_bytes == l[2].weight_bytes);
        free(k);
        free(l);
    }

    /* the full table: a header and one line per op of each phase */
    char *dir = e2e_tmpdir(), *csv = e2e_path(dir, "profile.csv");
    assert_int_equal(rt_profile_write_csv(pf, csv, &e), 0);
    char *text = e2e_slurp(csv, NULL);
    size_t lines = 0;
    for (char *s = text; *s; s++)
        lines += *s == '\n';
    assert_int_equal(lines, 1 + m.plan.prefill.nops + m.plan.decode.nops);
    assert_true(!strncmp(text, "phase,op_index,kernel,layer,", 28));
    e2e_assert_contains(text, "\ndecode,");
    free(text);
    free(csv);
    e2e_rmtree(dir);

    /* detached: nothing more is counted */
    rt_profile_attach(m.en, NULL);
    int user = 0;
    int32_t tok = 1, pos = 0;
    float *logits = malloc(sizeof(float) * 512);
    assert_int_equal(rt_engine_decode(m.en, 1, &user, &tok, &pos, logits, &e), 0);
    free(logits);
    rt_profile_phase(pf, 1, &calls, &rows, &secs, &coll);
    assert_int_equal(calls, STEPS);

    rt_profile_free(pf);
    ev_result_free(&r);
    ev_reference_free(&ref);
    e2e_model_close(&m);
}

/* The command prints the tables and writes the CSV. */
static void eval_command_profile(void **state)
{
    (void)state;
    char *dir = e2e_tmpdir(), *plan = e2e_path(dir, "plan.yaml"), *csv = e2e_path(dir, "p.csv");
    char *c_argv[] = {(char *)e2e_mgc_path(), "compile", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "--model",
                      "tests/fixtures/llama32", "--max-seq-len", "128", "-o", plan, NULL};
    assert_int_equal(e2e_spawn(c_argv, NULL, NULL), 0);
    char *e_argv[] = {(char *)e2e_mgc_path(), "eval", plan, "--model", "tests/fixtures/llama32", "--reference",
                      "tests/fixtures/llama32/reference.safetensors", "--profile", "--profile-csv", csv, NULL};
    char *out = NULL;
    assert_int_equal(e2e_spawn(e_argv, &out, NULL), 0);
    e2e_assert_contains(out, "profile: prefill, 1 call (29 tokens)");
    e2e_assert_contains(out, "profile: decode, 32 calls");
    e2e_assert_contains(out, "GFLOP/s");
    e2e_assert_contains(out, "GB/s");
    e2e_assert_contains(out, "layer 1");
    /* YT_METRICS stays the last line */
    char *last = strstr(out, "YT_METRICS=");
    assert_non_null(last);
    assert_null(strchr(last, '\n') ? strstr(strchr(last, '\n'), "profile") : NULL);
    free(out);
    char *text = e2e_slurp(csv, NULL);
    e2e_assert_contains(text, "decode,");
    free(text);
    free(plan);
    free(csv);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profile_counts_what_the_plan_implies),
        cmocka_unit_test(eval_command_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
