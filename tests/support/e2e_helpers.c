/* e2e_helpers.c: see e2e_helpers.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "model_dir.h"
#include "compile.h"
#include "diag.h"
#include "e2e_helpers.h"

#include "compile_helpers.h"
#include "safetensors.h"

const e2e_arch e2e_archs[] = {
    {"llama32", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", {"reference", NULL, NULL}},
    {"mistral", "graphs/mistralai/Mistral-7B-Instruct-v0.3/t3000.graph", {"reference", NULL, NULL}},
    {"qwen3", "graphs/Qwen/Qwen3-0.6B/t3000.graph", {"reference", NULL, NULL}},
    {"allam", "graphs/humain-ai/ALLaM-7B-Instruct-preview/n150.graph", {"reference", NULL, NULL}},
    {"phi3", "graphs/microsoft/Phi-3-mini-128k-instruct/t3000.graph", {"reference_short", "reference_long", NULL}},
    /* beyond the Llama family: biases, (1 + w) norms, MoE, soft-capping and
     * windows, LayerNorm with partial rotary and a parallel block */
    {"qwen2", "graphs/Qwen/Qwen2.5-1.5B/n150.graph", {"reference", NULL, NULL}},
    {"gemma", "graphs/google/gemma-7b/t3000.graph", {"reference", NULL, NULL}},
    {"gemma2", "graphs/google/gemma-2-2b/t3000.graph", {"reference", NULL, NULL}},
    {"mixtral", "graphs/mistralai/Mixtral-8x7B-v0.1/t3000.graph", {"reference", NULL, NULL}},
    {"phi", "graphs/microsoft/phi-2/t3000.graph", {"reference", NULL, NULL}},
};
const size_t e2e_narchs = sizeof e2e_archs / sizeof e2e_archs[0];

const e2e_arch *e2e_arch_find(const char *name)
{
    for (size_t i = 0; i < e2e_narchs; i++)
        if (!strcmp(e2e_archs[i].name, name))
            return &e2e_archs[i];
    fail_msg("no fixture architecture '%s'", name);
    return NULL;
}

const char *e2e_model_dir(const e2e_arch *a, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", E2E_FIX, a->name);
    return buf;
}

const char *e2e_ref_path(const e2e_arch *a, const char *ref, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s/%s.safetensors", E2E_FIX, a->name, ref);
    return buf;
}

const char *e2e_systems_dir = NULL;

int e2e_compile(const char *spec, const char *model_dir, const char *system, int weights_dtype, int act_dtype,
                int64_t max_seq, mgc_plan *out)
{
    memset(out, 0, sizeof *out);
    mgc_error err = {{0}};
    mgc_model_dir md;
    if (mgc_model_dir_open(&md, model_dir, 1, &err) != 0) {
        fprintf(stderr, "e2e_compile: %s\n", err.msg);
        return -1;
    }
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    mgc_model_dir_apply(&md, &o);
    o.system = system;
    o.systems_dir = e2e_systems_dir;
    o.max_seq_len = max_seq;
    o.weights_dtype = weights_dtype;
    o.act_dtype = act_dtype;
    mgc_diags d;
    mgc_diags_init(&d);
    int rc = mgc_compile(&o, &d, NULL, out);
    if (rc != 0)
        mgc_diags_print(&d, stderr, 0);
    mgc_diags_free(&d);
    mgc_model_dir_close(&md);
    return rc;
}

void e2e_model_open(e2e_model *m, const e2e_arch *a, const char *system, int f32)
{
    char dir[512];
    e2e_model_dir(a, dir, sizeof dir);
    memset(m, 0, sizeof *m);
    if (e2e_compile(a->spec, dir, system, f32 ? MGC_F32 : -1, f32 ? MGC_F32 : -1, E2E_MAX_SEQ, &m->plan) != 0)
        fail_msg("compiling %s for %s failed", a->spec, system ? system : "its own system");
    mgc_error err = {{0}};
    rt_engine_opts eo = {0};
    if (rt_engine_load(&m->plan, dir, &eo, &m->en, &err) != 0) {
        mgc_plan_free(&m->plan);
        fail_msg("loading %s: %s", dir, err.msg);
    }
}

void e2e_model_close(e2e_model *m)
{
    rt_engine_free(m->en);
    mgc_plan_free(&m->plan);
    memset(m, 0, sizeof *m);
}

int32_t *e2e_read_ids(const char *path, const char *name, int64_t *n)
{
    mgc_error err = {{0}};
    rt_st_file *f = NULL;
    if (rt_st_open(path, &f, &err) != 0)
        fail_msg("%s", err.msg);
    const rt_st_tensor *t = rt_st_find(f, name);
    if (!t) {
        rt_st_close(f);
        fail_msg("%s has no tensor '%s'", path, name);
    }
    int64_t *v = malloc(sizeof(int64_t) * (size_t)(t->numel ? t->numel : 1));
    int32_t *out = malloc(sizeof(int32_t) * (size_t)(t->numel ? t->numel : 1));
    assert_non_null(v);
    assert_non_null(out);
    if (rt_st_read_i64(t, v, (size_t)t->numel, &err) != 0) {
        rt_st_close(f);
        fail_msg("%s", err.msg);
    }
    for (int64_t i = 0; i < t->numel; i++)
        out[i] = (int32_t)v[i];
    *n = t->numel;
    free(v);
    rt_st_close(f);
    return out;
}

float *e2e_read_f32(const char *path, const char *name, int64_t *rows, int64_t *cols)
{
    mgc_error err = {{0}};
    rt_st_file *f = NULL;
    if (rt_st_open(path, &f, &err) != 0)
        fail_msg("%s", err.msg);
    const rt_st_tensor *t = rt_st_find(f, name);
    if (!t || t->ndim < 1) {
        rt_st_close(f);
        fail_msg("%s has no tensor '%s'", path, name);
    }
    int64_t c = t->shape[t->ndim - 1], r = c ? t->numel / c : 0;
    float *out = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
    assert_non_null(out);
    if (rt_st_read_f32(t, 0, r, 0, c, out, &err) != 0) {
        rt_st_close(f);
        fail_msg("%s", err.msg);
    }
    *rows = r;
    *cols = c;
    rt_st_close(f);
    return out;
}

double e2e_max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)x[i]) > m)
            m = fabs((double)x[i]);
    return m;
}

int e2e_argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int)best;
}

char *e2e_tmpdir(void) { return mgc_test_tempdir("rt"); }

void e2e_rmtree(char *dir)
{
    if (!dir)
        return;
    mgc_test_rmtree(dir);
    free(dir);
}

char *e2e_path(const char *dir, const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

char *e2e_slurp(const char *path, size_t *len)
{
    char *b = mgc_test_read_file(path, len);
    if (!b)
        fail_msg("cannot open %s", path);
    return b;
}

char *e2e_fixture_variant(const char *fixture_dir, const char *skip, const rt_st_entry *repl)
{
    char *dir = e2e_tmpdir();
    char *src = e2e_path(fixture_dir, "model.safetensors");
    mgc_error err = {{0}};
    rt_st_file *f = NULL;
    if (rt_st_open(src, &f, &err) != 0)
        fail_msg("%s", err.msg);
    size_t n = rt_st_count(f), k = 0;
    rt_st_entry *ents = calloc(n + 1, sizeof *ents);
    assert_non_null(ents);
    int skipped = 0, replaced = 0;
    for (size_t i = 0; i < n; i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        if (skip && !strcmp(t->name, skip)) {
            skipped = 1;
            continue;
        }
        if (repl && !strcmp(t->name, repl->name)) {
            ents[k++] = *repl;
            replaced = 1;
            continue;
        }
        ents[k++] = rt_st_entry_of(t);
    }
    if (skip && !skipped)
        fail_msg("%s has no tensor '%s' to leave out", src, skip);
    if (repl && !replaced)
        ents[k++] = *repl;
    char *path = e2e_path(dir, "model.safetensors");
    static const char *const meta[] = {"format", "pt", NULL};
    if (rt_st_write(path, ents, k, meta, &err) != 0)
        fail_msg("%s", err.msg);
    free(path);
    free(src);
    free(ents);
    rt_st_close(f);
    char *cfg_from = e2e_path(fixture_dir, "config.json"), *cfg_to = e2e_path(dir, "config.json");
    e2e_copy_file(cfg_from, cfg_to, -1);
    free(cfg_from);
    free(cfg_to);
    return dir;
}

void e2e_copy_file(const char *from, const char *to, long limit)
{
    size_t n = 0;
    char *b = e2e_slurp(from, &n);
    if (limit >= 0 && (size_t)limit < n)
        n = (size_t)limit;
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(b);
}

static int saved_stderr = -1;
static char stderr_path[64];

void e2e_stderr_begin(void)
{
    fflush(stderr);
    snprintf(stderr_path, sizeof stderr_path, "/tmp/mgc_test_rt_err_XXXXXX");
    int fd = mkstemp(stderr_path);
    assert_true(fd >= 0);
    saved_stderr = dup(2);
    assert_true(saved_stderr >= 0);
    dup2(fd, 2);
    close(fd);
}

char *e2e_stderr_end(void)
{
    fflush(stderr);
    if (saved_stderr >= 0) {
        dup2(saved_stderr, 2);
        close(saved_stderr);
        saved_stderr = -1;
    }
    char *s = e2e_slurp(stderr_path, NULL);
    unlink(stderr_path);
    return s;
}

const char *e2e_mgc_path(void) { return mgc_test_mgc_path(); }

int e2e_spawn(char *const argv[], char **out, char **err)
{
    char op[] = "/tmp/mgc_test_rt_out_XXXXXX", ep[] = "/tmp/mgc_test_rt_err_XXXXXX";
    int ofd = mkstemp(op), efd = mkstemp(ep);
    assert_true(ofd >= 0 && efd >= 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(ofd);
    close(efd);
    int status = 0, rc = -1;
    if (pid > 0 && waitpid(pid, &status, 0) == pid)
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    if (out)
        *out = e2e_slurp(op, NULL);
    if (err)
        *err = e2e_slurp(ep, NULL);
    unlink(op);
    unlink(ep);
    return rc;
}

rt_engine *e2e_engine_load(const mgc_plan *plan, const char *dir, const rt_engine_opts *opts)
{
    rt_engine *en = NULL;
    mgc_error err = {{0}};
    if (rt_engine_load(plan, dir, opts, &en, &err) != 0)
        fail_msg("loading %s: %s", dir, err.msg);
    return en;
}

enum { SEQ_P0 = 40, SEQ_P1 = 13, SEQ_P1B = 6, SEQ_P2 = 2, SEQ_USERS = 3, SEQ_STEPS = 4, SEQ_LAST = 5, SEQ_TAPS = 7 };

size_t e2e_sequence_values(const rt_engine *en)
{
    size_t vocab = (size_t)rt_engine_vocab(en);
    return (size_t)(SEQ_P0 + SEQ_P1 + SEQ_P1B + SEQ_P2 + SEQ_STEPS * SEQ_USERS + 1 + SEQ_TAPS) * vocab +
           (size_t)rt_engine_n_taps(en) * SEQ_TAPS * (size_t)rt_engine_hidden(en);
}

size_t e2e_run_sequence(rt_engine *en, float *out)
{
    int64_t vocab = rt_engine_vocab(en);
    mgc_error e = {{0}};
    int32_t p[SEQ_P0];
    for (int i = 0; i < SEQ_P0; i++)
        p[i] = (int32_t)((i * 37 + 3) % vocab);
    size_t at = 0;
#define STEP(call, rows)                                                                                     \
    do {                                                                                                     \
        if ((call) != 0)                                                                                     \
            fail_msg("%s: %s", #call, e.msg);                                                                \
        at += (size_t)(rows) * (size_t)vocab;                                                                \
    } while (0)
    STEP(rt_engine_prefill(en, 0, p, SEQ_P0, 0, out + at, &e), SEQ_P0);
    STEP(rt_engine_prefill(en, 1, p + 5, SEQ_P1, 0, out + at, &e), SEQ_P1);
    STEP(rt_engine_prefill(en, 1, p + 20, SEQ_P1B, SEQ_P1, out + at, &e), SEQ_P1B);
    STEP(rt_engine_prefill(en, 2, p + 9, SEQ_P2, 0, out + at, &e), SEQ_P2);
    const int users[SEQ_USERS] = {0, 1, 2};
    int32_t pos[SEQ_USERS] = {SEQ_P0, SEQ_P1 + SEQ_P1B, SEQ_P2}, tok[SEQ_USERS] = {7, 8, 9};
    for (int s = 0; s < SEQ_STEPS; s++) {
        float *step = out + at;
        STEP(rt_engine_decode(en, SEQ_USERS, users, tok, pos, step, &e), SEQ_USERS);
        for (int u = 0; u < SEQ_USERS; u++) {
            tok[u] = (int32_t)e2e_argmax(step + (size_t)u * (size_t)vocab, vocab);
            pos[u]++;
        }
    }
    STEP(rt_engine_prefill_last(en, 2, p + 30, SEQ_LAST, pos[2], out + at, &e), 1);
    float *logits = out + at;
    STEP(rt_engine_prefill_hidden(en, 3, p + 11, SEQ_TAPS, 0, logits, out + at + (size_t)SEQ_TAPS * (size_t)vocab, &e),
         SEQ_TAPS);
#undef STEP
    return at + (size_t)rt_engine_n_taps(en) * SEQ_TAPS * (size_t)rt_engine_hidden(en);
}
