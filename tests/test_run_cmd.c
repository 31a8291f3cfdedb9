/* `mgc run` through the built binary ($MGC, default build/mgc): greedy
 * generation from a fixture's prompt reproduces HF's generated_ids (f32
 * plans), --users B prints B identical lines when greedy, bad usage exits 2,
 * bad input exits 1, and sampling is reproducible from --seed.
 * Plans are compiled in-process into a mkdtemp directory.  Run from the
 * repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reference.h"
#include "support/e2e_helpers.h"

static char *g_dir;

static int setup(void **state)
{
    if (access(e2e_mgc_path(), X_OK) != 0) {
        fprintf(stderr, "test_run_cmd: %s is not an executable; build it first (or set MGC)\n", e2e_mgc_path());
        return -1;
    }
    g_dir = e2e_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    e2e_rmtree(g_dir);
    return 0;
}

/* The f32 plan of `arch` on `system`, written once to g_dir; returns its path (static). */
static const char *plan_file(const char *arch, const char *system)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s.%s.f32.yaml", g_dir, arch, system);
    if (access(path, R_OK) == 0)
        return path;
    const e2e_arch *a = e2e_arch_find(arch);
    char dir[512];
    mgc_plan plan;
    assert_int_equal(e2e_compile(a->spec, e2e_model_dir(a, dir, sizeof dir), system, MGC_F32, MGC_F32, E2E_MAX_SEQ,
                                 &plan),
                     0);
    mgc_error err = {{0}};
    if (mgc_plan_write(&plan, path, &err) != 0)
        fail_msg("%s", err.msg);
    mgc_plan_free(&plan);
    return path;
}

/* "1,2,3" (malloc'd) */
static char *join_ids(const int32_t *v, int64_t n)
{
    size_t cap = (size_t)n * 12 + 1, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    s[0] = 0;
    for (int64_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d", i ? "," : "", v[i]);
    return s;
}

/* The tokens of line "user U: a b c" of `out` into v (at most max); returns the count, -1 if no such line. */
static int user_tokens(const char *out, int u, int32_t *v, int max)
{
    char head[32];
    int hl = snprintf(head, sizeof head, "user %d:", u);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, head, (size_t)hl) != 0)
            continue;
        const char *p = l + hl;
        int n = 0;
        while (*p == ' ') {
            char *end;
            long x = strtol(p, &end, 10);
            if (end == p)
                break;
            assert_true(n < max);
            v[n++] = (int32_t)x;
            p = end;
        }
        return n;
    }
    return -1;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Runs `mgc run` with the given arguments (after "run"); NULL-terminated. */
static int run(char **out, char **err, ...)
{
    char *argv[40];
    int argc = 0;
    argv[argc++] = (char *)e2e_mgc_path();
    argv[argc++] = "run";
    va_list ap;
    va_start(ap, err);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 39)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    int rc = e2e_spawn(argv, out, err);
    assert_true(rc >= 0 && rc < 128); /* never killed by a signal */
    return rc;
}

/* ---- greedy reproduces generate() ------------------------------------------------- */

static void greedy(const char *arch)
{
    const e2e_arch *a = e2e_arch_find(arch);
    const char *plan = plan_file(arch, "t3000");
    char dir[512];
    e2e_model_dir(a, dir, sizeof dir);
    for (int k = 0; a->refs[k]; k++) {
        char ref[512];
        e2e_ref_path(a, a->refs[k], ref, sizeof ref);
        ev_reference r;
        mgc_error e = {{0}};
        if (ev_reference_load(ref, &r, &e) != 0)
            fail_msg("%s", e.msg);
        int64_t ngen = 0;
        int32_t *gen = e2e_read_ids(ref, "generated_ids", &ngen);
        char *toks = join_ids(r.input_ids, r.prompt_len), nnew[32];
        snprintf(nnew, sizeof nnew, "%lld", (long long)ngen);
        char *out = NULL, *err = NULL;
        int rc = run(&out, &err, plan, "--model", dir, "--tokens", toks, "--max-new-tokens", nnew, (const char *)NULL);
        if (rc != 0)
            fail_msg("mgc run exited %d: %s", rc, err);
        int32_t got[256];
        int n = user_tokens(out, 0, got, 256);
        assert_int_equal(n, ngen);
        for (int i = 0; i < n; i++)
            if (got[i] != gen[i])
                fail_msg("%s/%s: token %d is %d, HF generate() gave %d\nout: %s", arch, a->refs[k], i, got[i], gen[i],
                         out);
        assert_int_equal(count_lines(out), 1);
        e2e_assert_contains(err, "decode");
        /* --cores 1: the eight devices take turns on one core; f32 results do not
         * depend on the thread count, so the tokens are the same */
        char *out1 = NULL, *err1 = NULL;
        rc = run(&out1, &err1, plan, "--model", dir, "--tokens", toks, "--max-new-tokens", nnew, "--cores", "1",
                 (const char *)NULL);
        if (rc != 0)
            fail_msg("mgc run --cores 1 exited %d: %s", rc, err1);
        assert_string_equal(out1, out);
        free(out1);
        free(err1);
        printf("[ run      ] %s/%s: %lld greedy tokens == generated_ids (also with --cores 1)\n", arch, a->refs[k],
               (long long)ngen);
        free(out);
        free(err);
        free(toks);
        free(gen);
        ev_reference_free(&r);
    }
}

static void test_greedy_llama32(void **state) { greedy("llama32"); }
static void test_greedy_mistral(void **state) { greedy("mistral"); }
static void test_greedy_qwen3(void **state) { greedy("qwen3"); }
static void test_greedy_allam(void **state) { greedy("allam"); }
static void test_greedy_phi3(void **state) { greedy("phi3"); }

/* ---- LongRoPE: crossing original_max_position_embeddings while generating ---------- */

/* Greedy generation as HF's generate() does it for Phi-3 is, at every step,
 * the argmax of one forward over the whole sequence so far (its cache is
 * dropped and rebuilt with the long factors the first time the sequence
 * reaches 65 tokens, so no call mixes factor sets).  The oracle here is
 * exactly that: a one-pass prefill of the sequence at every step. */
static void test_longrope_crossing(void **state)
{
    const e2e_arch *a = e2e_arch_find("phi3");
    const char *ref = E2E_FIX "/phi3/reference_long.safetensors";
    int64_t t = 0;
    int32_t *ids = e2e_read_ids(ref, "input_ids", &t);
    enum { P = 58, N = 14 }; /* 58 + 14 crosses 64 */
    char *toks = join_ids(ids, P);
    char *out = NULL, *err = NULL;
    int rc = run(&out, &err, plan_file("phi3", "t3000"), "--model", E2E_FIX "/phi3", "--tokens", toks,
                 "--max-new-tokens", "14", "--users", "2", (const char *)NULL);
    if (rc != 0)
        fail_msg("mgc run exited %d: %s", rc, err);
    int32_t got[32], got1[32];
    assert_int_equal(user_tokens(out, 0, got, 32), N);
    assert_int_equal(user_tokens(out, 1, got1, 32), N);
    assert_memory_equal(got, got1, sizeof got[0] * N);

    e2e_model m;
    e2e_model_open(&m, a, "n150", 1);
    int32_t seq[P + N];
    memcpy(seq, ids, sizeof(int32_t) * P);
    float *logits = malloc(sizeof(float) * (P + N) * 512);
    assert_non_null(logits);
    mgc_error e = {{0}};
    for (int k = 0; k < N; k++) {
        int n = P + k;
        if (rt_engine_prefill(m.en, 0, seq, n, 0, logits, &e) != 0)
            fail_msg("%s", e.msg);
        int want = e2e_argmax(logits + (size_t)(n - 1) * 512, 512);
        if (got[k] != want)
            fail_msg("phi3, prompt %d: token %d (sequence of %d) is %d; one forward over the sequence gives %d\nout: %s", P,
                     k, n, got[k], want, out);
        seq[n] = got[k];
    }
    printf("[ run      ] phi3: prompt %d + %d tokens across LongRoPE's switch == a full forward at every step\n", P, N);
    free(logits);
    e2e_model_close(&m);
    free(out);
    free(err);
    free(toks);
    free(ids);
}

/* ---- several users ------------------------------------------------------------------ */

static void test_users_greedy(void **state)
{
    const char *ref = E2E_FIX "/llama32/reference.safetensors";
    int64_t t = 0, ngen = 0;
    int32_t *ids = e2e_read_ids(ref, "input_ids", &t);
    int32_t *gen = e2e_read_ids(ref, "generated_ids", &ngen);
    char *toks = join_ids(ids, t - ngen);
    /* on n150 as well as t3000 */
    static const char *const systems[] = {"t3000", "n150"};
    for (int s = 0; s < 2; s++) {
        char *out = NULL, *err = NULL;
        int rc = run(&out, &err, plan_file("llama32", systems[s]), "--model", E2E_FIX "/llama32", "--tokens", toks,
                     "--max-new-tokens", "12", "--users", "3", (const char *)NULL);
        if (rc != 0)
            fail_msg("mgc run exited %d: %s", rc, err);
        assert_int_equal(count_lines(out), 3);
        char *first = NULL;
        for (int u = 0; u < 3; u++) {
            int32_t got[64];
            assert_int_equal(user_tokens(out, u, got, 64), 12);
            for (int i = 0; i < 12; i++)
                assert_int_equal(got[i], gen[i]);
            /* the lines are identical bar the user number */
            char head[16];
            snprintf(head, sizeof head, "user %d:", u);
            char *l = strstr(out, head);
            assert_non_null(l);
            l += strlen(head);
            size_t len = strcspn(l, "\n");
            if (!first)
                first = strndup(l, len);
            else
                assert_true(strlen(first) == len && !strncmp(first, l, len));
        }
        e2e_assert_contains(err, "3 users");
        free(first);
        free(out);
        free(err);
    }
    /* more users than the plan decodes: bad input */
    char *out = NULL, *err = NULL;
    assert_int_equal(run(&out, &err, plan_file("llama32", "n150"), "--model", E2E_FIX "/llama32", "--tokens", toks,
                         "--users", "33", (const char *)NULL),
                     1);
    e2e_assert_contains(err, "users");
    free(out);
    free(err);
    free(toks);
    free(ids);
    free(gen);
}

/* ---- bad usage, bad input ------------------------------------------------------------ */

static void test_bad_usage(void **state)
{
    const char *plan = plan_file("llama32", "n150");
    const char *m = E2E_FIX "/llama32";
    struct {
        const char *args[12];
    } cases[] = {
        {{NULL}},
        {{plan, NULL}},
        {{plan, "--model", m, NULL}},                          /* no prompt */
        {{plan, "--tokens", "1,2", NULL}},                     /* no model */
        {{"--model", m, "--tokens", "1,2", NULL}},             /* no plan */
        {{plan, plan, "--model", m, "--tokens", "1,2", NULL}}, /* two plans */
        {{plan, "--model", m, "--tokens", "1,2", "--prompt", "hi", NULL}},
        {{plan, "--model", m, "--tokens", "abc", NULL}},
        {{plan, "--model", m, "--tokens", "1,,2", NULL}},
        {{plan, "--model", m, "--tokens", "1,-2", NULL}},
        {{plan, "--model", m, "--tokens", "", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--users", "0", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--users", "x", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--max-new-tokens", "-1", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--max-new-tokens", "5x", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--temperature", "-0.5", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--temperature", "nan", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--top-p", "0", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--top-p", "1.5", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--top-k", "-3", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--seed", "many", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--bogus", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--cores", "0", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--cores", "1025", NULL}},
        {{plan, "--model", m, "--tokens", "1,2", "--cores", "two", NULL}},
        {{plan, "--model", m, "--tokens", NULL}},               /* missing value */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[20];
        int argc = 0;
        argv[argc++] = (char *)e2e_mgc_path();
        argv[argc++] = "run";
        for (int k = 0; cases[i].args[k]; k++)
            argv[argc++] = (char *)cases[i].args[k];
        argv[argc] = NULL;
        char *out = NULL, *err = NULL;
        int rc = e2e_spawn(argv, &out, &err);
        if (rc != 2)
            fail_msg("case %zu (%s %s ...): exit %d, expected 2; stderr: %s", i, argc > 2 ? argv[2] : "",
                     argc > 3 ? argv[3] : "", rc, err);
        e2e_assert_contains(err, "mgc run");
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
}

static void test_bad_input_exits_1(void **state)
{
    const char *plan = plan_file("llama32", "n150");
    char *out = NULL, *err = NULL;
    /* a token past the vocabulary (512) */
    assert_int_equal(run(&out, &err, plan, "--model", E2E_FIX "/llama32", "--tokens", "1,2,512", (const char *)NULL), 1);
    e2e_assert_contains(err, "512");
    free(out);
    free(err);
    /* no such plan */
    assert_int_equal(run(&out, &err, "/nonexistent/p.yaml", "--model", E2E_FIX "/llama32", "--tokens", "1",
                         (const char *)NULL),
                     1);
    e2e_assert_contains(err, "/nonexistent/p.yaml");
    free(out);
    free(err);
    /* the plan of another model */
    assert_int_equal(run(&out, &err, plan, "--model", E2E_FIX "/qwen3", "--tokens", "1", (const char *)NULL), 1);
    e2e_assert_contains(err, E2E_FIX "/qwen3");
    free(out);
    free(err);
}

/* ---- sampling ------------------------------------------------------------------------- */

static void test_sampling_reproducible(void **state)
{
    const char *plan = plan_file("llama32", "t3000");
    const char *m = E2E_FIX "/llama32";
    char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
    assert_int_equal(run(&o1, NULL, plan, "--model", m, "--tokens", "5,17,99,3", "--max-new-tokens", "24",
                         "--temperature", "0.8", "--seed", "1", (const char *)NULL),
                     0);
    assert_int_equal(run(&o2, NULL, plan, "--model", m, "--tokens", "5,17,99,3", "--max-new-tokens", "24",
                         "--temperature", "0.8", "--seed", "1", (const char *)NULL),
                     0);
    assert_string_equal(o1, o2);
    int32_t a[32], b[32], c[32];
    assert_int_equal(user_tokens(o1, 0, a, 32), 24);
    /* user u samples with seed S + u: user 1 of seed 1 is user 0 of seed 2 */
    assert_int_equal(run(&o3, NULL, plan, "--model", m, "--tokens", "5,17,99,3", "--max-new-tokens", "24",
                         "--temperature", "0.8", "--seed", "1", "--users", "2", (const char *)NULL),
                     0);
    assert_int_equal(run(&o4, NULL, plan, "--model", m, "--tokens", "5,17,99,3", "--max-new-tokens", "24",
                         "--temperature", "0.8", "--seed", "2", (const char *)NULL),
                     0);
    assert_int_equal(user_tokens(o3, 0, b, 32), 24);
    assert_memory_equal(a, b, sizeof(int32_t) * 24);
    assert_int_equal(user_tokens(o3, 1, b, 32), 24);
    assert_int_equal(user_tokens(o4, 0, c, 32), 24);
    assert_memory_equal(b, c, sizeof(int32_t) * 24);
    /* and another seed draws another sequence */
    assert_true(memcmp(a, c, sizeof(int32_t) * 24) != 0);
    printf("[ sampling ] seed 1: %s", o1);
    free(o1);
    free(o2);
    free(o3);
    free(o4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_llama32),
        cmocka_unit_test(test_greedy_mistral),
        cmocka_unit_test(test_greedy_qwen3),
        cmocka_unit_test(test_greedy_allam),
        cmocka_unit_test(test_greedy_phi3),
        cmocka_unit_test(test_longrope_crossing),
        cmocka_unit_test(test_users_greedy),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_bad_input_exits_1),
        cmocka_unit_test(test_sampling_reproducible),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
