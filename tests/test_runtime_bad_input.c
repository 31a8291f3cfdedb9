/* Bad input to the runtime: every case must fail cleanly (-1 with one message
 * naming the file and the cause; the driver exits 1), never crash.
 *   checkpoints: a missing tensor, a wrong shape, a wrong dtype, a truncated
 *     file, a corrupt header, no checkpoint at all, a config.json that does not
 *     match or does not parse, a plan from a different model;
 *   references: another vocabulary, missing logits / input_ids / prompt_len,
 *     a NaN logit, more tokens than the plan's cache;
 *   calls: a prompt longer than the cache, token ids outside the vocabulary,
 *     users outside the batch.
 * Corrupt files are built in a mkdtemp directory under /tmp from the llama32
 * fixture.  Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "engine.h"
#include "eval.h"
#include "reference.h"
#include "safetensors.h"
#include "support/e2e_helpers.h"

#define LLAMA_DIR E2E_FIX "/llama32"
#define LLAMA_REF E2E_FIX "/llama32/reference.safetensors"

/* One llama32 f32 plan on t3000 for the whole suite, also written to a file
 * for the driver; and a qwen3 plan (a different model of the same hidden and
 * vocab sizes). */
static char *g_dir;
static char *g_plan_path;
static mgc_plan g_llama, g_qwen;

static int setup(void **state)
{
    g_dir = e2e_tmpdir();
    if (e2e_compile(e2e_arch_find("llama32")->spec, LLAMA_DIR, "t3000", MGC_F32, MGC_F32, E2E_MAX_SEQ, &g_llama) != 0)
        return -1;
    if (e2e_compile(e2e_arch_find("qwen3")->spec, E2E_FIX "/qwen3", "t3000", MGC_F32, MGC_F32, E2E_MAX_SEQ, &g_qwen) !=
        0)
        return -1;
    g_plan_path = e2e_path(g_dir, "llama32.plan.yaml");
    mgc_error err = {{0}};
    if (mgc_plan_write(&g_llama, g_plan_path, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    mgc_plan_free(&g_llama);
    mgc_plan_free(&g_qwen);
    free(g_plan_path);
    e2e_rmtree(g_dir);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------------- */

/* rt_engine_load must fail; returns its message (static). */
static const char *load_fails(const mgc_plan *plan, const char *dir)
{
    static mgc_error err;
    memset(&err, 0, sizeof err);
    rt_engine *en = (rt_engine *)1;
    int rc = rt_engine_load(plan, dir, NULL, &en, &err);
    if (rc == 0) {
        rt_engine_free(en);
        fail_msg("rt_engine_load of %s succeeded; expected an error", dir);
    }
    assert_int_equal(rc, -1);
    assert_null(en);
    assert_true(err.msg[0] != 0);
    printf("[ message  ] %s\n", err.msg);
    return err.msg;
}

/* Runs an mgc subcommand in-process with stderr captured; returns the exit
 * status and (malloc'd) what it printed on stderr. */
static int driver(int (*cmd)(int, char **), char **err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    e2e_stderr_begin();
    int rc = cmd(argc, argv);
    char *s = e2e_stderr_end();
    if (err)
        *err = s;
    else
        free(s);
    return rc;
}

/* `mgc eval PLAN --model DIR --reference REF` exits 1 and names `needle`. */
static void eval_exits_1(const char *plan, const char *dir, const char *ref, const char *needle)
{
    char *err = NULL;
    int rc = driver(mgc_cmd_eval, &err, "eval", plan, "--model", dir, "--reference", ref, (const char *)NULL);
    if (rc != MGC_EXIT_INPUT)
        fail_msg("mgc eval exited %d (expected 1); stderr: %s", rc, err);
    e2e_assert_contains(err, "mgc eval: ");
    e2e_assert_contains(err, needle);
    free(err);
}

/* A copy of the llama32 checkpoint without tensor `skip` and with `repl`. */
static char *ckpt_variant(const char *skip, const rt_st_entry *repl)
{
    return e2e_fixture_variant(LLAMA_DIR, skip, repl);
}

/* ---- checkpoints ------------------------------------------------------------------- */

static void test_missing_tensor(void **state)
{
    char *dir = ckpt_variant("model.layers.1.self_attn.k_proj.weight", NULL);
    const char *msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, dir);
    e2e_assert_contains(msg, "model.layers.1.self_attn.k_proj.weight");
    e2e_assert_contains(msg, "no tensor");
    eval_exits_1(g_plan_path, dir, LLAMA_REF, "model.layers.1.self_attn.k_proj.weight");
    e2e_rmtree(dir);
}

static void test_wrong_shape(void **state)
{
    static float zeros[128];
    rt_st_entry e = {.name = "model.norm.weight", .dtype = RT_ST_F32, .ndim = 1, .shape = {128},
                     .data = zeros, .nbytes = sizeof zeros};
    char *dir = ckpt_variant(NULL, &e);
    char *file = e2e_path(dir, "model.safetensors");
    const char *msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, file);
    e2e_assert_contains(msg, "model.norm.weight");
    e2e_assert_contains(msg, "[128]");
    e2e_assert_contains(msg, "[256]");
    eval_exits_1(g_plan_path, dir, LLAMA_REF, file);
    free(file);
    e2e_rmtree(dir);

    /* a matrix transposed: same size, other shape */
    static uint16_t bf[256 * 512];
    rt_st_entry t = {.name = "model.layers.0.mlp.down_proj.weight", .dtype = RT_ST_BF16, .ndim = 2,
                     .shape = {512, 256}, .data = bf, .nbytes = sizeof bf};
    dir = ckpt_variant(NULL, &t);
    msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, dir);
    e2e_assert_contains(msg, "model.layers.0.mlp.down_proj.weight");
    e2e_assert_contains(msg, "[512, 256]");
    e2e_rmtree(dir);
}

static void test_wrong_dtype(void **state)
{
    size_t n = 512 * 256;
    int64_t *v = calloc(n, sizeof *v);
    assert_non_null(v);
    rt_st_entry e = {.name = "model.layers.0.mlp.up_proj.weight", .dtype = RT_ST_I64, .ndim = 2,
                     .shape = {512, 256}, .data = v, .nbytes = n * sizeof *v};
    char *dir = ckpt_variant(NULL, &e);
    free(v);
    char *file = e2e_path(dir, "model.safetensors");
    const char *msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, file);
    e2e_assert_contains(msg, "model.layers.0.mlp.up_proj.weight");
    e2e_assert_contains(msg, "I64");
    eval_exits_1(g_plan_path, dir, LLAMA_REF, "I64");
    free(file);
    e2e_rmtree(dir);
}

/* model.safetensors cut to `keep` bytes (config.json intact). */
static char *truncated(long keep)
{
    char *dir = e2e_tmpdir();
    char *p = e2e_path(dir, "model.safetensors"), *c = e2e_path(dir, "config.json");
    e2e_copy_file(LLAMA_DIR "/model.safetensors", p, keep);
    e2e_copy_file(LLAMA_DIR "/config.json", c, -1);
    free(p);
    free(c);
    return dir;
}

static void test_truncated_checkpoint(void **state)
{
    static const long keeps[] = {2626144 / 2, 2626144 - 1, 4, 0};
    for (size_t i = 0; i < sizeof keeps / sizeof keeps[0]; i++) {
        char *dir = truncated(keeps[i]);
        char *file = e2e_path(dir, "model.safetensors");
        const char *msg = load_fails(&g_llama, dir);
        e2e_assert_contains(msg, file);
        if (i == 0)
            eval_exits_1(g_plan_path, dir, LLAMA_REF, file);
        free(file);
        e2e_rmtree(dir);
    }
}

/* model.safetensors with `len` bytes at `at` replaced by `bytes`. */
static char *patched(long at, const void *bytes, size_t len)
{
    char *dir = truncated(-1);
    char *p = e2e_path(dir, "model.safetensors");
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(p);
    return dir;
}

static void test_corrupt_header(void **state)
{
    /* not JSON */
    char *dir = patched(8, "\x01garbage", 8);
    char *file = e2e_path(dir, "model.safetensors");
    const char *msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, file);
    eval_exits_1(g_plan_path, dir, LLAMA_REF, file);
    free(file);
    e2e_rmtree(dir);

    /* a header length far past the end of the file */
    static const unsigned char huge[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    dir = patched(0, huge, 8);
    file = e2e_path(dir, "model.safetensors");
    msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, file);
    free(file);
    e2e_rmtree(dir);

    /* a tensor's dtype name that does not exist: "BF16" -> "BX16" at its first occurrence */
    size_t len = 0;
    char *bytes = e2e_slurp(LLAMA_DIR "/model.safetensors", &len);
    char *at = strstr(bytes + 8, "\"BF16\"");
    assert_non_null(at);
    dir = patched((long)(at - bytes), "\"BX16\"", 6);
    free(bytes);
    file = e2e_path(dir, "model.safetensors");
    msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, file);
    e2e_assert_contains(msg, "BX16");
    free(file);
    e2e_rmtree(dir);
}

static void test_no_checkpoint(void **state)
{
    char *dir = e2e_tmpdir();
    char *cfg = e2e_path(dir, "config.json");
    e2e_copy_file(LLAMA_DIR "/config.json", cfg, -1);
    const char *msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, dir);
    eval_exits_1(g_plan_path, dir, LLAMA_REF, dir);
    free(cfg);
    e2e_rmtree(dir);

    msg = load_fails(&g_llama, "/nonexistent/mgc/model");
    e2e_assert_contains(msg, "/nonexistent/mgc/model");
}

/* config.json replaced by `text` (the weights intact). */
static char *with_config(const char *text)
{
    char *dir = truncated(-1);
    char *c = e2e_path(dir, "config.json");
    FILE *f = fopen(c, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    free(c);
    return dir;
}

static void test_config_mismatch(void **state)
{
    /* the config of another model size */
    size_t n = 0;
    char *text = e2e_slurp(LLAMA_DIR "/config.json", &n);
    char *h = strstr(text, "\"hidden_size\": 256");
    assert_non_null(h);
    memcpy(h, "\"hidden_size\": 512", 18);
    char *dir = with_config(text);
    free(text);
    char *cfg = e2e_path(dir, "config.json");
    const char *msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, cfg);
    e2e_assert_contains(msg, "hidden 512");
    eval_exits_1(g_plan_path, dir, LLAMA_REF, cfg);
    free(cfg);
    e2e_rmtree(dir);

    /* a config.json that is not JSON */
    dir = with_config("{\"hidden_size\": 256,");
    cfg = e2e_path(dir, "config.json");
    msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, cfg);
    free(cfg);
    e2e_rmtree(dir);
}

static void test_plan_of_other_model(void **state)
{
    /* a qwen3 plan with the llama32 checkpoint (same hidden and vocab sizes) */
    const char *msg = load_fails(&g_qwen, LLAMA_DIR);
    e2e_assert_contains(msg, LLAMA_DIR);
    e2e_assert_contains(msg, "plan");

    /* a llama32 plan with the qwen3 checkpoint */
    msg = load_fails(&g_llama, E2E_FIX "/qwen3");
    e2e_assert_contains(msg, E2E_FIX "/qwen3");
    eval_exits_1(g_plan_path, E2E_FIX "/qwen3", LLAMA_REF, E2E_FIX "/qwen3");

    /* a llama32 plan with the Mistral checkpoint: every tensor the plan reads
     * exists there with the same shape, but it is another model (rope_theta
     * 1e6, not Llama's 500000 with llama3 scaling) */
    msg = load_fails(&g_llama, E2E_FIX "/mistral");
    e2e_assert_contains(msg, E2E_FIX "/mistral/config.json");
    e2e_assert_contains(msg, "rope_theta");
    eval_exits_1(g_plan_path, E2E_FIX "/mistral", LLAMA_REF, E2E_FIX "/mistral/config.json");
}

/* ---- references -------------------------------------------------------------------- */

/* Writes a variant of the llama32 reference to dir/name: without tensor `skip`,
 * with the tensors of `repl` (n of them) replacing or adding, and the
 * metadata prompt_len = `prompt_len` (NULL: none).  Returns the path. */
static char *ref_variant(const char *name, const char *skip, const rt_st_entry *repl, size_t nrepl,
                         const char *prompt_len)
{
    mgc_error err = {{0}};
    rt_st_file *f = NULL;
    if (rt_st_open(LLAMA_REF, &f, &err) != 0)
        fail_msg("%s", err.msg);
    size_t n = rt_st_count(f), k = 0;
    rt_st_entry *ents = calloc(n + nrepl, sizeof *ents);
    assert_non_null(ents);
    for (size_t i = 0; i < n; i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        int drop = skip && !strcmp(t->name, skip);
        for (size_t j = 0; j < nrepl; j++)
            drop |= !strcmp(t->name, repl[j].name);
        if (!drop)
            ents[k++] = rt_st_entry_of(t);
    }
    for (size_t j = 0; j < nrepl; j++)
        ents[k++] = repl[j];
    const char *meta[] = {"prompt_len", prompt_len, NULL};
    char *path = e2e_path(g_dir, name);
    if (rt_st_write(path, ents, k, prompt_len ? meta : NULL, &err) != 0)
        fail_msg("%s", err.msg);
    free(ents);
    rt_st_close(f);
    return path;
}

/* The plan's engine (loaded once per test that needs it). */
static rt_engine *llama_engine(void)
{
    mgc_error err = {{0}};
    rt_engine *en = NULL;
    if (rt_engine_load(&g_llama, LLAMA_DIR, NULL, &en, &err) != 0)
        fail_msg("%s", err.msg);
    return en;
}

/* ev_teacher_forcing of `path` must fail (the reference loads); returns the message. */
static const char *eval_fails(rt_engine *en, const char *path)
{
    static mgc_error err;
    memset(&err, 0, sizeof err);
    ev_reference r;
    if (ev_reference_load(path, &r, &err) != 0)
        fail_msg("%s", err.msg);
    ev_result res;
    ev_opts o = {0};
    int rc = ev_teacher_forcing(en, &r, &o, &res, &err);
    ev_reference_free(&r);
    if (rc == 0) {
        ev_result_free(&res);
        fail_msg("eval of %s succeeded; expected an error", path);
    }
    assert_int_equal(rc, -1);
    assert_null(res.pos);
    printf("[ message  ] %s\n", err.msg);
    return err.msg;
}

static void test_reference_other_vocab(void **state)
{
    int64_t t = 0, rows = 0, cols = 0;
    int32_t *ids = e2e_read_ids(LLAMA_REF, "input_ids", &t);
    float *logits = e2e_read_f32(LLAMA_REF, "logits", &rows, &cols);
    assert_int_equal(cols, 512);
    rt_engine *en = llama_engine();
    static const int64_t vocabs[] = {256, 600};
    for (int k = 0; k < 2; k++) {
        int64_t v = vocabs[k];
        float *l = malloc(sizeof(float) * (size_t)(t * v));
        int64_t *id64 = malloc(sizeof(int64_t) * (size_t)t);
        assert_non_null(l);
        assert_non_null(id64);
        for (int64_t r = 0; r < t; r++) {
            for (int64_t c = 0; c < v; c++)
                l[r * v + c] = c < cols ? logits[r * cols + c] : -100.0f;
            id64[r] = ids[r] % v;
        }
        rt_st_entry repl[3] = {
            {.name = "logits", .dtype = RT_ST_F32, .ndim = 2, .shape = {t, v}, .data = l,
             .nbytes = sizeof(float) * (size_t)(t * v)},
            {.name = "input_ids", .dtype = RT_ST_I64, .ndim = 1, .shape = {t}, .data = id64,
             .nbytes = sizeof(int64_t) * (size_t)t},
        };
        /* drop top5 (it may name tokens past a smaller vocabulary: it is then derived) */
        char *path = ref_variant(k == 0 ? "ref_v256.safetensors" : "ref_v600.safetensors", "top5", repl, 2, "29");
        const char *msg = eval_fails(en, path);
        e2e_assert_contains(msg, path);
        e2e_assert_contains(msg, "vocabulary");
        eval_exits_1(g_plan_path, LLAMA_DIR, path, path);
        free(path);
        free(l);
        free(id64);
    }
    rt_engine_free(en);
    free(ids);
    free(logits);
}

/* ev_reference_load of `path` must fail; returns the message. */
static const char *ref_load_fails(const char *path)
{
    static mgc_error err;
    memset(&err, 0, sizeof err);
    ev_reference r;
    int rc = ev_reference_load(path, &r, &err);
    if (rc == 0) {
        ev_reference_free(&r);
        fail_msg("ev_reference_load of %s succeeded; expected an error", path);
    }
    assert_int_equal(rc, -1);
    assert_null(r.input_ids);
    assert_null(r.logits);
    printf("[ message  ] %s\n", err.msg);
    return err.msg;
}

static void test_reference_missing_tensors(void **state)
{
    static const char *const names[] = {"logits", "input_ids"};
    for (int k = 0; k < 2; k++) {
        char file[64];
        snprintf(file, sizeof file, "ref_no_%s.safetensors", names[k]);
        char *path = ref_variant(file, names[k], NULL, 0, "29");
        const char *msg = ref_load_fails(path);
        e2e_assert_contains(msg, path);
        e2e_assert_contains(msg, names[k]);
        eval_exits_1(g_plan_path, LLAMA_DIR, path, path);
        free(path);
    }
    /* no prompt_len in the metadata */
    char *path = ref_variant("ref_no_prompt_len.safetensors", NULL, NULL, 0, NULL);
    const char *msg = ref_load_fails(path);
    e2e_assert_contains(msg, path);
    e2e_assert_contains(msg, "prompt_len");
    free(path);
    /* a prompt_len that is not a number */
    path = ref_variant("ref_bad_prompt_len.safetensors", NULL, NULL, 0, "twenty");
    msg = ref_load_fails(path);
    e2e_assert_contains(msg, path);
    e2e_assert_contains(msg, "prompt_len");
    free(path);
    /* logits of the wrong rank, input_ids of a float dtype */
    static float flat[61];
    rt_st_entry l1 = {.name = "logits", .dtype = RT_ST_F32, .ndim = 1, .shape = {61}, .data = flat,
                      .nbytes = sizeof flat};
    path = ref_variant("ref_logits_rank1.safetensors", NULL, &l1, 1, "29");
    msg = ref_load_fails(path);
    e2e_assert_contains(msg, path);
    e2e_assert_contains(msg, "logits");
    free(path);
    rt_st_entry idf = {.name = "input_ids", .dtype = RT_ST_F32, .ndim = 1, .shape = {61}, .data = flat,
                       .nbytes = sizeof flat};
    path = ref_variant("ref_ids_f32.safetensors", NULL, &idf, 1, "29");
    msg = ref_load_fails(path);
    e2e_assert_contains(msg, path);
    e2e_assert_contains(msg, "input_ids");
    free(path);
    /* a reference file that is not there */
    msg = ref_load_fails("/nonexistent/mgc/ref.safetensors");
    e2e_assert_contains(msg, "/nonexistent/mgc/ref.safetensors");
}

static void test_reference_nan_logit(void **state)
{
    int64_t rows = 0, cols = 0;
    float *logits = e2e_read_f32(LLAMA_REF, "logits", &rows, &cols);
    logits[40 * cols + 7] = NAN;
    rt_st_entry e = {.name = "logits", .dtype = RT_ST_F32, .ndim = 2, .shape = {rows, cols}, .data = logits,
                     .nbytes = sizeof(float) * (size_t)(rows * cols)};
    char *path = ref_variant("ref_nan.safetensors", "top5", &e, 1, "29");
    free(logits);
    /* either the loader or the eval refuses it, naming the file */
    mgc_error err = {{0}};
    ev_reference r;
    if (ev_reference_load(path, &r, &err) == 0) {
        ev_reference_free(&r);
        rt_engine *en = llama_engine();
        const char *msg = eval_fails(en, path);
        e2e_assert_contains(msg, path);
        rt_engine_free(en);
    } else {
        printf("[ message  ] %s\n", err.msg);
        e2e_assert_contains(err.msg, path);
    }
    eval_exits_1(g_plan_path, LLAMA_DIR, path, path);
    free(path);
}

/* ---- calls ------------------------------------------------------------------------- */

static void test_prompt_longer_than_cache(void **state)
{
    rt_engine *en = llama_engine();
    int64_t max = rt_engine_max_seq(en);
    assert_int_equal(max, E2E_MAX_SEQ);
    int32_t *tok = calloc((size_t)max + 8, sizeof *tok);
    assert_non_null(tok);
    mgc_error err = {{0}};
    assert_int_equal(rt_engine_prefill(en, 0, tok, (int)max + 1, 0, NULL, &err), -1);
    printf("[ message  ] %s\n", err.msg);
    e2e_assert_contains(err.msg, "exceeds");
    e2e_assert_contains(err.msg, "128");
    /* fits alone, not after what is already cached */
    memset(&err, 0, sizeof err);
    assert_int_equal(rt_engine_prefill(en, 0, tok, 8, (int)max - 4, NULL, &err), -1);
    e2e_assert_contains(err.msg, "exceeds");
    memset(&err, 0, sizeof err);
    assert_int_equal(rt_engine_prefill(en, 0, tok, 0, 0, NULL, &err), -1);
    assert_true(err.msg[0] != 0);
    /* the whole cache is fine */
    float *logits = malloc(sizeof(float) * (size_t)max * 512);
    assert_non_null(logits);
    assert_int_equal(rt_engine_prefill(en, 0, tok, (int)max, 0, logits, &err), 0);
    free(logits);
    /* decode past the cache */
    int user = 0;
    int32_t t1 = 5, pos = (int32_t)max;
    float row[512];
    memset(&err, 0, sizeof err);
    assert_int_equal(rt_engine_decode(en, 1, &user, &t1, &pos, row, &err), -1);
    printf("[ message  ] %s\n", err.msg);
    e2e_assert_contains(err.msg, "KV cache");
    pos = -1;
    assert_int_equal(rt_engine_decode(en, 1, &user, &t1, &pos, row, &err), -1);
    free(tok);
    rt_engine_free(en);

    /* eval of a reference longer than the plan's cache (61 tokens, cache 32) */
    mgc_plan small;
    assert_int_equal(e2e_compile(e2e_arch_find("llama32")->spec, LLAMA_DIR, "n150", MGC_F32, MGC_F32, 32, &small), 0);
    assert_int_equal(rt_engine_load(&small, LLAMA_DIR, NULL, &en, &err), 0);
    const char *msg = eval_fails(en, LLAMA_REF);
    e2e_assert_contains(msg, LLAMA_REF);
    e2e_assert_contains(msg, "--max-seq-len");
    rt_engine_free(en);
    char *p = e2e_path(g_dir, "small.plan.yaml");
    assert_int_equal(mgc_plan_write(&small, p, &err), 0);
    eval_exits_1(p, LLAMA_DIR, LLAMA_REF, LLAMA_REF);
    char *out = NULL;
    assert_int_equal(driver(mgc_cmd_run, &out, "run", p, "--model", LLAMA_DIR, "--tokens", "1,2,3,4,5,6,7,8,9,10",
                            "--max-new-tokens", "30", (const char *)NULL),
                     MGC_EXIT_INPUT);
    e2e_assert_contains(out, "maximum sequence");
    free(out);
    free(p);
    mgc_plan_free(&small);
}

static void test_tokens_outside_vocab(void **state)
{
    rt_engine *en = llama_engine();
    mgc_error err = {{0}};
    float *logits = malloc(sizeof(float) * 4 * 512);
    assert_non_null(logits);
    static const int32_t bad[][3] = {{1, 512, 3}, {1, -1, 3}, {INT32_MAX, 2, 3}};
    for (int k = 0; k < 3; k++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(rt_engine_prefill(en, 0, bad[k], 3, 0, logits, &err), -1);
        printf("[ message  ] %s\n", err.msg);
        e2e_assert_contains(err.msg, "vocabulary");
    }
    /* decode: a bad token in the second row of a batch */
    int users[2] = {0, 1};
    int32_t toks[2] = {5, 512}, pos[2] = {0, 0};
    memset(&err, 0, sizeof err);
    assert_int_equal(rt_engine_decode(en, 2, users, toks, pos, logits, &err), -1);
    e2e_assert_contains(err.msg, "vocabulary");
    /* users outside the batch */
    toks[1] = 6;
    users[1] = (int)rt_engine_max_users(en);
    memset(&err, 0, sizeof err);
    assert_int_equal(rt_engine_decode(en, 2, users, toks, pos, logits, &err), -1);
    e2e_assert_contains(err.msg, "user");
    memset(&err, 0, sizeof err);
    assert_int_equal(rt_engine_prefill(en, -1, toks, 1, 0, logits, &err), -1);
    e2e_assert_contains(err.msg, "user");
    memset(&err, 0, sizeof err);
    assert_int_equal(rt_engine_decode(en, (int)rt_engine_max_users(en) + 1, users, toks, pos, logits, &err), -1);
    assert_true(err.msg[0] != 0);
    /* still works afterwards */
    assert_int_equal(rt_engine_prefill(en, 0, toks, 2, 0, logits, &err), 0);
    free(logits);
    rt_engine_free(en);

    /* the driver: mgc run with a token past the vocabulary exits 1 */
    char *out = NULL;
    assert_int_equal(driver(mgc_cmd_run, &out, "run", g_plan_path, "--model", LLAMA_DIR, "--tokens", "1,2,600",
                            "--max-new-tokens", "2", (const char *)NULL),
                     MGC_EXIT_INPUT);
    e2e_assert_contains(out, "600");
    e2e_assert_contains(out, "vocabulary");
    free(out);
}

static void test_driver_missing_files(void **state)
{
    char *err = NULL;
    assert_int_equal(driver(mgc_cmd_eval, &err, "eval", "/nonexistent/plan.yaml", "--model", LLAMA_DIR,
                            "--reference", LLAMA_REF, (const char *)NULL),
                     MGC_EXIT_INPUT);
    e2e_assert_contains(err, "/nonexistent/plan.yaml");
    free(err);
    eval_exits_1(g_plan_path, LLAMA_DIR, "/nonexistent/ref.safetensors", "/nonexistent/ref.safetensors");
    assert_int_equal(driver(mgc_cmd_run, &err, "run", g_plan_path, "--model", "/nonexistent/model", "--tokens", "1,2",
                            (const char *)NULL),
                     MGC_EXIT_INPUT);
    e2e_assert_contains(err, "/nonexistent/model");
    free(err);
    /* a reference file given as the model's weights: no config.json, wrong tensors */
    char *dir = e2e_tmpdir();
    char *p = e2e_path(dir, "model.safetensors");
    e2e_copy_file(LLAMA_REF, p, -1);
    const char *msg = load_fails(&g_llama, dir);
    e2e_assert_contains(msg, dir);
    free(p);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_tensor),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_wrong_dtype),
        cmocka_unit_test(test_truncated_checkpoint),
        cmocka_unit_test(test_corrupt_header),
        cmocka_unit_test(test_no_checkpoint),
        cmocka_unit_test(test_config_mismatch),
        cmocka_unit_test(test_plan_of_other_model),
        cmocka_unit_test(test_reference_other_vocab),
        cmocka_unit_test(test_reference_missing_tensors),
        cmocka_unit_test(test_reference_nan_logit),
        cmocka_unit_test(test_prompt_longer_than_cache),
        cmocka_unit_test(test_tokens_outside_vocab),
        cmocka_unit_test(test_driver_missing_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
