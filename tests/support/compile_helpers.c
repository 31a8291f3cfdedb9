/* compile_helpers.c: see compile_helpers.h. */
#include "compile_helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const mgc_test_bringup mgc_test_bringups[MGC_TEST_NBRINGUPS] = {
    {"llama32", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "graphs/meta-llama/Llama-3.2-1B/config.json",
     "tests/fixtures/llama32", "t3000"},
    {"phi3", "graphs/microsoft/Phi-3-mini-128k-instruct/t3000.graph",
     "graphs/microsoft/Phi-3-mini-128k-instruct/config.json", "tests/fixtures/phi3", "t3000"},
    {"qwen3", "graphs/Qwen/Qwen3-0.6B/t3000.graph", "graphs/Qwen/Qwen3-0.6B/config.json", "tests/fixtures/qwen3",
     "t3000"},
    {"mistral", "graphs/mistralai/Mistral-7B-Instruct-v0.3/t3000.graph",
     "graphs/mistralai/Mistral-7B-Instruct-v0.3/config.json", "tests/fixtures/mistral", "t3000"},
    {"allam", "graphs/humain-ai/ALLaM-7B-Instruct-preview/n150.graph",
     "graphs/humain-ai/ALLaM-7B-Instruct-preview/config.json", "tests/fixtures/allam", "n150"},
};

const mgc_test_bringup *mgc_test_bringup_named(const char *name)
{
    for (int i = 0; i < MGC_TEST_NBRINGUPS; i++)
        if (strcmp(mgc_test_bringups[i].name, name) == 0)
            return &mgc_test_bringups[i];
    return NULL;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* ---- compiling ---------------------------------------------------------- */

int mgc_test_compile(const mgc_compile_opts *o, mgc_test_result *r)
{
    memset(r, 0, sizeof *r);
    mgc_diags_init(&r->d);
    r->rc = mgc_compile(o, &r->d, &r->ir, &r->plan);
    if (r->rc != 0) {
        memset(&r->ir, 0, sizeof r->ir);
        memset(&r->plan, 0, sizeof r->plan);
    }
    return r->rc;
}

int mgc_test_compile_simple(const char *spec, const char *config, const char *system, mgc_test_result *r)
{
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    o.config_path = config;
    o.system = system;
    return mgc_test_compile(&o, r);
}

void mgc_test_result_free(mgc_test_result *r)
{
    if (r->rc == 0) {
        mgc_ir_free(&r->ir);
        mgc_plan_free(&r->plan);
    }
    mgc_diags_free(&r->d);
    memset(r, 0, sizeof *r);
}

const mgc_diagnostic *mgc_test_find_diag(const mgc_diags *d, mgc_diag_level level, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].level == level && d->items[i].msg && strstr(d->items[i].msg, needle))
            return &d->items[i];
    return NULL;
}

size_t mgc_test_count_diags(const mgc_diags *d, mgc_diag_level level)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += d->items[i].level == level;
    return n;
}

char *mgc_test_diags_text(const mgc_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    mgc_diags_print(d, f, 0);
    fclose(f);
    return buf;
}

/* ---- a checkpoint as a table ------------------------------------------- */

static int tab_find(void *ctx, const char *name, mgc_tensor_info *out)
{
    const mgc_test_ckpt *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->t[i].name, name) == 0) {
            memset(out, 0, sizeof *out);
            out->rank = c->t[i].rank;
            out->shape[0] = c->t[i].shape[0];
            out->shape[1] = c->t[i].shape[1];
            out->dtype = c->t[i].dtype ? c->t[i].dtype : "BF16";
            return 0;
        }
    return -1;
}

static size_t tab_count(void *ctx) { return ((const mgc_test_ckpt *)ctx)->n; }

static const char *tab_name_at(void *ctx, size_t i)
{
    const mgc_test_ckpt *c = ctx;
    return i < c->n ? c->t[i].name : "";
}

void mgc_test_ckpt_init(mgc_test_ckpt *c, const mgc_test_tensor *t, size_t n, const char *label)
{
    c->t = t;
    c->n = n;
    c->lookup.ctx = c;
    c->lookup.find = tab_find;
    c->lookup.count = tab_count;
    c->lookup.name_at = tab_name_at;
    c->lookup.label = label;
}

/* ---- files ---------------------------------------------------------------- */

char *mgc_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = xmalloc(cap + 1);
    size_t got;
    while ((got = fread(s + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            s = realloc(s, cap + 1);
            if (!s)
                abort();
        }
    }
    fclose(f);
    s[n] = 0;
    if (len)
        *len = n;
    return s;
}

int mgc_test_write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(text, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

int mgc_test_file_exists(const char *path) { return access(path, F_OK) == 0; }

char *mgc_test_suite_dir;

int mgc_test_suite_dir_setup(void **state)
{
    (void)state;
    mgc_test_suite_dir = mgc_test_tempdir("suite");
    return 0;
}

int mgc_test_suite_dir_teardown(void **state)
{
    (void)state;
    mgc_test_rmtree(mgc_test_suite_dir);
    free(mgc_test_suite_dir);
    mgc_test_suite_dir = NULL;
    return 0;
}

char *mgc_test_tempdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + strlen(tag) + 32;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/mgc-%s-XXXXXX", base, tag);
    if (!mkdtemp(p))
        abort();
    return p;
}

void mgc_test_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            mgc_test_rmtree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- the binary ------------------------------------------------------------ */

const char *mgc_test_mgc_path(void)
{
    const char *m = getenv("MGC");
    return m && *m ? m : "build/mgc";
}

int mgc_test_run_mgc(const char *args, char **out, char **err)
{
    char *dir = mgc_test_tempdir("run");
    size_t n = strlen(args) + 2 * strlen(dir) + strlen(mgc_test_mgc_path()) + 64;
    char *cmd = xmalloc(n);
    snprintf(cmd, n, "%s %s >%s/out 2>%s/err", mgc_test_mgc_path(), args, dir, dir);
    int st = system(cmd);
    free(cmd);
    char p[4096];
    if (out) {
        snprintf(p, sizeof p, "%s/out", dir);
        *out = mgc_test_read_file(p, NULL);
    }
    if (err) {
        snprintf(p, sizeof p, "%s/err", dir);
        *err = mgc_test_read_file(p, NULL);
    }
    mgc_test_rmtree(dir);
    free(dir);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- plan and IR queries ------------------------------------------------------ */

size_t mgc_test_count_kernel(const mgc_plan_entry *en, mgc_kernel k)
{
    size_t n = 0;
    for (size_t i = 0; i < en->nops; i++)
        n += en->ops[i].kernel == k;
    return n;
}

int mgc_test_weight_index(const mgc_plan *p, const char *id)
{
    for (size_t i = 0; i < p->nweights; i++)
        if (strcmp(p->weights[i].id, id) == 0)
            return (int)i;
    return -1;
}

size_t mgc_test_count_ir(const mgc_ir *ir, mgc_ir_opcode op, int inserted)
{
    size_t n = 0;
    for (size_t i = 0; i < ir->nnodes; i++)
        n += ir->nodes[i].op == op && (inserted < 0 || ir->nodes[i].inserted == inserted);
    return n;
}
