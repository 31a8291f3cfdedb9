/* The bad-input catalogue (tests/bad_inputs/): every file listed in cases.tsv goes
 * through the mgc command that reads its kind of input, which must
 *   - exit with the status the catalogue gives (1: bad input),
 *   - print an error naming the file and containing the catalogue's fragment (the
 *     cause, written from what is wrong with the file, not copied from a run),
 *   - never say "internal error" nor trip a sanitizer,
 *   - write nothing: a file already at the output path keeps its bytes, and no other
 *     file appears next to it.
 * Plans are edits of a plan compiled here from the Llama 3.2 fixture (so they follow
 * the plan format), and a few cases are made here from the fixture's checkpoint (a NaN
 * weight, a huge weight that overflows the logits) or are command lines.
 * Runs the mgc binary named by $MGC (default build/mgc) from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "safetensors.h"

#define SPEC "graphs/meta-llama/Llama-3.2-1B/t3000.graph"
#define FIXTURE "tests/fixtures/llama32"
#define SENTINEL "sentinel: must survive a failed command\n"

static char tmp[256];        /* scratch: good plan, captured output */
static char good_plan[512];
static const char *mgc;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Runs `cmd` through sh with stdin from /dev/null (or `input`), stdout and stderr
 * captured; returns the exit status and *err (malloc'ed) the stderr text. */
static int run(const char *cmd, const char *input, char **err)
{
    char full[8192], errpath[512];
    snprintf(errpath, sizeof errpath, "%s/stderr", tmp);
    if (input) {
        char inpath[512];
        snprintf(inpath, sizeof inpath, "%s/stdin", tmp);
        spit(inpath, input, strlen(input));
        snprintf(full, sizeof full, "%s <'%s' >'%s/stdout' 2>'%s'", cmd, inpath, tmp, errpath);
    } else {
        snprintf(full, sizeof full, "%s </dev/null >'%s/stdout' 2>'%s'", cmd, tmp, errpath);
    }
    int st = system(full);
    *err = slurp(errpath, NULL);
    if (!*err)
        *err = strdup("");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void rm_rf(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

typedef struct {
    const char *label;     /* for failure messages */
    int want_exit;
    const char *name;      /* the file the message must name */
    const char *fragment;  /* the cause */
} expect;

/* Checks one finished command against `x` and the sentinel in `outdir`. */
static int check(const expect *x, int rc, const char *err, const char *outdir, int entries_before)
{
    int bad = 0;
#define FAILC(...)                                                                                 \
    do {                                                                                           \
        print_error("%s: ", x->label);                                                             \
        print_error(__VA_ARGS__);                                                                  \
        print_error("\n  stderr: %.600s\n", err);                                                  \
        bad = 1;                                                                                   \
    } while (0)
    if (rc != x->want_exit)
        FAILC("exit status %d, expected %d", rc, x->want_exit);
    if (x->name && !strstr(err, x->name))
        FAILC("the message does not name '%s'", x->name);
    if (x->fragment && *x->fragment && !strstr(err, x->fragment))
        FAILC("the message does not say '%s'", x->fragment);
    if (strstr(err, "internal error"))
        FAILC("an internal error");
    if (strstr(err, "Sanitizer") || strstr(err, "runtime error:"))
        FAILC("a sanitizer report");
    char out[600];
    snprintf(out, sizeof out, "%s/out", outdir);
    char *now = slurp(out, NULL);
    if (!now || strcmp(now, SENTINEL) != 0)
        FAILC("the existing output file was overwritten or removed");
    free(now);
    if (count_entries(outdir) != entries_before)
        FAILC("files appeared or vanished next to the output (%d entries, was %d)", count_entries(outdir),
              entries_before);
    return bad;
}

/* A fresh case directory holding only the sentinel output file. */
static void fresh_case_dir(char *dir, size_t n)
{
    snprintf(dir, n, "%s/case", tmp);
    rm_rf(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    char out[600];
    snprintf(out, sizeof out, "%s/out", dir);
    spit(out, SENTINEL, strlen(SENTINEL));
}

/* Applies a plan edit file (comment line, exact text, replacement) to the good plan. */
static int make_bad_plan(const char *edit_path, const char *dst)
{
    char *edit = slurp(edit_path, NULL), *plan = slurp(good_plan, NULL);
    assert_non_null(edit);
    assert_non_null(plan);
    char *old = strchr(edit, '\n');
    assert_non_null(old);
    old++;
    char *nl = strchr(old, '\n');
    assert_non_null(nl);
    *nl = '\0';
    char *rep = nl + 1;
    char *nl2 = strchr(rep, '\n');
    if (nl2)
        *nl2 = '\0';
    char *at = strstr(plan, old);
    if (!at) {
        print_error("%s: '%s' is not in the compiled plan (the plan format changed?)\n", edit_path, old);
        free(edit);
        free(plan);
        return -1;
    }
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    fwrite(plan, 1, (size_t)(at - plan), f);
    fputs(rep, f);
    fputs(at + strlen(old), f);
    fclose(f);
    free(edit);
    free(plan);
    return 0;
}

static int run_case(const char *file, const char *kind, int want_exit, const char *fragment)
{
    char path[512], dir[512], cmd[4096], name[1024], model[600], cfgcopy[700], st[700];
    snprintf(path, sizeof path, "tests/bad_inputs/%s", file);
    fresh_case_dir(dir, sizeof dir);
    expect x = {file, want_exit, path, fragment};
    if (strcmp(kind, "spec") == 0) {
        snprintf(cmd, sizeof cmd, "%s compile '%s' --model %s -o '%s/out'", mgc, path, FIXTURE, dir);
    } else if (strcmp(kind, "config") == 0) {
        snprintf(cmd, sizeof cmd, "%s compile %s --config '%s' -o '%s/out'", mgc, SPEC, path, dir);
    } else if (strcmp(kind, "checkpoint") == 0) {
        /* a model directory: the fixture's config.json and this file as its weights */
        snprintf(model, sizeof model, "%s/model", dir);
        assert_int_equal(mkdir(model, 0700), 0);
        size_t n;
        char *cfg = slurp(FIXTURE "/config.json", &n);
        snprintf(cfgcopy, sizeof cfgcopy, "%s/config.json", model);
        spit(cfgcopy, cfg, n);
        free(cfg);
        char *bytes = slurp(path, &n);
        snprintf(st, sizeof st, "%s/model.safetensors", model);
        spit(st, bytes, n);
        free(bytes);
        snprintf(name, sizeof name, "%s", st);
        x.name = fragment && strstr(fragment, "model.embed_tokens") ? model : name;
        snprintf(cmd, sizeof cmd, "%s compile %s --model '%s' -o '%s/out'", mgc, SPEC, model, dir);
    } else if (strcmp(kind, "plan") == 0) {
        snprintf(name, sizeof name, "%s/bad.plan.yaml", tmp);
        if (make_bad_plan(path, name) != 0)
            return 1;
        x.name = name;
        snprintf(cmd, sizeof cmd, "%s eval '%s' --model %s --reference %s/reference.safetensors --json '%s/out'",
                 mgc, name, FIXTURE, FIXTURE, dir);
    } else if (strcmp(kind, "tokenizer") == 0) {
        snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer '%s'", mgc, path);
    } else if (strcmp(kind, "reference") == 0) {
        snprintf(cmd, sizeof cmd, "%s eval '%s' --model %s --reference '%s' --json '%s/out'", mgc, good_plan,
                 FIXTURE, path, dir);
    } else {
        print_error("%s: unknown kind '%s' in cases.tsv\n", file, kind);
        return 1;
    }
    int before = count_entries(dir);
    char *err;
    int rc = run(cmd, strcmp(kind, "tokenizer") == 0 ? "hello world\n" : NULL, &err);
    int bad = check(&x, rc, err, dir, before);
    free(err);
    return bad;
}

static int setup(void **state)
{
    mgc = getenv("MGC");
    if (!mgc || !*mgc)
        mgc = "build/mgc";
    snprintf(tmp, sizeof tmp, "/tmp/mgc_bad_inputs_XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    snprintf(good_plan, sizeof good_plan, "%s/good.plan.yaml", tmp);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s compile %s --model %s -o '%s' >/dev/null", mgc, SPEC, FIXTURE, good_plan);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_catalogue(void **state)
{
    FILE *f = fopen("tests/bad_inputs/cases.tsv", "r");
    assert_non_null(f);
    char line[2048];
    int ncases = 0, nbad = 0;
    int per_kind[6] = {0};
    static const char *const kinds[6] = {"spec", "config", "checkpoint", "plan", "tokenizer", "reference"};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *cols[5] = {0};
        char *p = line;
        for (int i = 0; i < 5 && p; i++) {
            cols[i] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = '\0';
        }
        if (!cols[4] || !*cols[4]) {
            print_error("cases.tsv: '%s' lacks a column (what is wrong must be said)\n", line);
            nbad++;
            continue;
        }
        for (int k = 0; k < 6; k++)
            per_kind[k] += strcmp(cols[1], kinds[k]) == 0;
        ncases++;
        nbad += run_case(cols[0], cols[1], atoi(cols[2]), cols[3]);
    }
    fclose(f);
    assert_int_equal(nbad, 0);
    assert_true(ncases >= 60);
    for (int k = 0; k < 6; k++)
        if (per_kind[k] < 5)
            fail_msg("only %d %s cases", per_kind[k], kinds[k]);
}

/* Every file of tests/bad_inputs/<kind>/ is in the catalogue (no silent extra file). */
static void test_every_file_listed(void **state)
{
    char *tsv = slurp("tests/bad_inputs/cases.tsv", NULL);
    assert_non_null(tsv);
    static const char *const kinds[6] = {"spec", "config", "checkpoint", "plan", "tokenizer", "reference"};
    for (int k = 0; k < 6; k++) {
        char dir[128];
        snprintf(dir, sizeof dir, "tests/bad_inputs/%s", kinds[k]);
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char want[512];
            snprintf(want, sizeof want, "\n%s/%s\t", kinds[k], de->d_name);
            if (!strstr(tsv, want))
                fail_msg("tests/bad_inputs/%s/%s is not in cases.tsv", kinds[k], de->d_name);
        }
        closedir(d);
    }
    free(tsv);
}

/* A copy of the fixture's model directory in `dir` with the first element of `tensor`
 * replaced by `value` (a float tensor, at its own dtype). */
static void poisoned_model(const char *dir, const char *tensor, float value)
{
    assert_int_equal(mkdir(dir, 0700), 0);
    char path[600];
    size_t n;
    char *cfg = slurp(FIXTURE "/config.json", &n);
    assert_non_null(cfg);
    snprintf(path, sizeof path, "%s/config.json", dir);
    spit(path, cfg, n);
    free(cfg);
    unsigned char *bytes = (unsigned char *)slurp(FIXTURE "/model.safetensors", &n);
    assert_non_null(bytes);
    rt_st_file *f;
    mgc_error e;
    assert_int_equal(rt_st_open_memory("model.safetensors", bytes, n, &f, &e), 0);
    const rt_st_tensor *t = rt_st_find(f, tensor);
    assert_non_null(t);
    unsigned char *at = bytes + ((const unsigned char *)t->data - bytes);
    uint32_t u;
    memcpy(&u, &value, 4);
    if (t->dtype == RT_ST_F32) {
        memcpy(at, &u, 4);
    } else if (t->dtype == RT_ST_BF16) {
        uint16_t h = (uint16_t)(u >> 16); /* value is chosen exact in bf16 */
        memcpy(at, &h, 2);
    } else {
        fail_msg("%s is %s: the test poisons F32 or BF16 tensors", tensor, rt_st_dtype_name(t->dtype));
    }
    rt_st_close(f);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    spit(path, bytes, n);
    free(bytes);
}

/* Cases made here: weights that are not finite (finding 7), weights so large the
 * activations overflow (eval must stop at the first position and layer), and a
 * command-line number out of range (finding 9). */
static void test_generated(void **state)
{
    char dir[512], model[600], cmd[4096], name[700], *err;
    int bad = 0;
    const float nan = __builtin_nanf(""), huge = 0x1.fep127f; /* 3.39e38, the largest bf16 */

    /* a NaN weight: refused at load by eval and by run, naming file and tensor */
    fresh_case_dir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/nan_model", dir);
    poisoned_model(model, "model.norm.weight", nan);
    snprintf(name, sizeof name, "%s/model.safetensors", model);
    int before = count_entries(dir);
    snprintf(cmd, sizeof cmd, "%s eval '%s' --model '%s' --reference %s/reference.safetensors --json '%s/out'", mgc,
             good_plan, model, FIXTURE, dir);
    int rc = run(cmd, NULL, &err);
    expect x1 = {"eval, NaN in model.norm.weight", 1, name, "tensor 'model.norm.weight' has a non-finite value (nan) at [0]"};
    bad |= check(&x1, rc, err, dir, before);
    free(err);
    snprintf(cmd, sizeof cmd, "%s run '%s' --model '%s' --tokens 1,2 --max-new-tokens 2", mgc, good_plan, model);
    rc = run(cmd, NULL, &err);
    expect x2 = {"run, NaN in model.norm.weight", 1, name, "tensor 'model.norm.weight' has a non-finite value"};
    bad |= check(&x2, rc, err, dir, before);
    free(err);

    /* finite weights whose activations overflow: layer 0's input norm scaled by 3.4e38
     * makes layer 0's output (the value entering layer 1) non-finite at position 0 */
    fresh_case_dir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/huge_model", dir);
    poisoned_model(model, "model.layers.0.input_layernorm.weight", huge);
    before = count_entries(dir);
    snprintf(cmd, sizeof cmd, "%s eval '%s' --model '%s' --reference %s/reference.safetensors --json '%s/out'", mgc,
             good_plan, model, FIXTURE, dir);
    rc = run(cmd, NULL, &err);
    expect x3 = {"eval, logits overflow", 1, "position 0: our logit for token", "the first non-finite logit"};
    bad |= check(&x3, rc, err, dir, before);
    free(err);
    snprintf(cmd, sizeof cmd,
             "%s eval '%s' --model '%s' --reference %s/reference.safetensors --layers --json '%s/out'", mgc,
             good_plan, model, FIXTURE, dir);
    rc = run(cmd, NULL, &err);
    expect x4 = {"eval --layers, activations overflow", 1, "layer 1, position 0: our hidden state is",
                 "the first layer with a non-finite value"};
    bad |= check(&x4, rc, err, dir, before);
    free(err);

    /* --max-new-tokens beyond its range: a usage error that gives the range */
    fresh_case_dir(dir, sizeof dir);
    before = count_entries(dir);
    snprintf(cmd, sizeof cmd, "%s run '%s' --model %s --tokens 1,2 --max-new-tokens 99999999999", mgc, good_plan,
             FIXTURE);
    rc = run(cmd, NULL, &err);
    expect x5 = {"run --max-new-tokens 99999999999", 2, "--max-new-tokens 99999999999",
                 "out of range: it must be in [0, 1048576]"};
    bad |= check(&x5, rc, err, dir, before);
    free(err);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file_listed),
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_generated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
