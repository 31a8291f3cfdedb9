/* The MPI mesh (--mesh mpi) end to end, under mpirun on this one machine:
 *
 *   - every bringup of graphs/bringups.tsv, compiled for t3000 in f32: the
 *     logits of `mpirun -np 8 mgc eval --mesh mpi` are bit-identical to those
 *     of the in-process mesh (`--mesh local`), and only rank 0 prints;
 *   - a 16-device plan (graphs/systems/t3000x2.yaml) over mpirun -np 16
 *     matches the 8-device logits within the f32 thresholds of
 *     test_runtime_e2e.c (max abs error <= 1e-4 of the largest logit, same top 1);
 *   - failures end the job in bounded time, naming the rank and the cause: a
 *     missing checkpoint on one rank, a rank killed mid-decode, a wrong
 *     number of ranks; and --mesh mpi outside mpirun is a clear error.
 *
 * Skipped, with the reason printed, where mgc was built without OpenMPI or
 * mpirun is not installed.  The runs are kept small (tiny fixtures, a few
 * positions): 8 and 16 ranks share the machine's cores with everything else,
 * so mpirun gets --oversubscribe and --mca mpi_yield_when_idle 1 (ranks that
 * wait yield their core instead of busy-polling), and --allow-run-as-root
 * because CI runs the tests as root. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "ccl_mpi.h"
#include "e2e_helpers.h"
#include "mgc.h"
#include "safetensors.h"

static const char *skip_reason;
static char *tmp; /* this suite's temporary directory */
static const char *self_path; /* argv[0]: the --api-rank mode runs under mpirun */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- running commands -------------------------------------------------------------- */

typedef struct job {
    pid_t pid;
    char out_path[64], err_path[64];
} job;

static void job_start(job *j, char *const argv[])
{
    snprintf(j->out_path, sizeof j->out_path, "/tmp/mgc_test_mpi_out_XXXXXX");
    snprintf(j->err_path, sizeof j->err_path, "/tmp/mgc_test_mpi_err_XXXXXX");
    int ofd = mkstemp(j->out_path), efd = mkstemp(j->err_path);
    assert_true(ofd >= 0 && efd >= 0);
    fflush(stdout);
    fflush(stderr);
    j->pid = fork();
    assert_true(j->pid >= 0);
    if (j->pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        setpgid(0, 0); /* its own group, so a stuck job can be killed whole */
        execvp(argv[0], argv);
        _exit(127);
    }
    close(ofd);
    close(efd);
}

/* Waits at most `limit` seconds (then kills the job's group: a hang is a
 * failure).  Returns the exit status, 128 + signal if killed by one. */
static int job_wait(job *j, double limit, double *took, char **out, char **err)
{
    double t0 = now();
    int status = 0, rc = -1;
    for (;;) {
        pid_t r = waitpid(j->pid, &status, WNOHANG);
        if (r == j->pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (now() - t0 > limit) {
            kill(-j->pid, SIGKILL);
            waitpid(j->pid, &status, 0);
            rc = -2;
            break;
        }
        usleep(20000);
    }
    if (took)
        *took = now() - t0;
    char *o = e2e_slurp(j->out_path, NULL), *e = e2e_slurp(j->err_path, NULL);
    unlink(j->out_path);
    unlink(j->err_path);
    if (rc == -2)
        fail_msg("the job did not end within %.0f s (a hang); stderr: %s", limit, e ? e : "");
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

/* argv builder: NULL-terminated, strings copied */
typedef struct args {
    char *v[96];
    int n;
} args;

static void add(args *a, const char *fmt, ...)
{
    assert_true(a->n < 95);
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&a->v[a->n++], fmt, ap) >= 0);
    va_end(ap);
    a->v[a->n] = NULL;
}

static void args_free(args *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
}

/* "-np N": the ranks of the (next part of the) job */
static void add_np(args *a, int n)
{
    add(a, "-np");
    add(a, "%d", n);
}

/* mpirun as root, oversubscribed (8 and 16 ranks on 2 cores), with np ranks */
static void add_mpirun(args *a, int np)
{
    add(a, "mpirun");
    add(a, "--allow-run-as-root");
    add(a, "--oversubscribe");
    add(a, "--mca");
    add(a, "mpi_yield_when_idle");
    add(a, "1");
    add_np(a, np);
}

/* `mgc eval PLAN --model DIR --reference REF --max-new-tokens N --logits-out OUT` (+ --mesh mpi) */
static void add_eval(args *a, const char *plan, const char *model, const char *ref, const char *logits, int mpi)
{
    add(a, "%s", e2e_mgc_path());
    add(a, "eval");
    add(a, "%s", plan);
    add(a, "--model");
    add(a, "%s", model);
    add(a, "--reference");
    add(a, "%s", ref);
    add(a, "--max-new-tokens");
    add(a, "4");
    add(a, "--logits-out");
    add(a, "%s", logits);
    if (mpi) {
        add(a, "--mesh");
        add(a, "mpi");
    }
}

static int run(args *a, double limit, char **out, char **err)
{
    job j;
    job_start(&j, a->v);
    int rc = job_wait(&j, limit, NULL, out, err);
    args_free(a);
    return rc;
}

/* Compiles a spec for `system` in f32 into tmp/NAME.plan; 0 or -1 (stderr in *err). */
static int compile_len(const char *spec, const char *model, const char *system, const char *name, int max_seq,
                       char **plan_out, char **err)
{
    args a = {0};
    add(&a, "%s", e2e_mgc_path());
    add(&a, "compile");
    add(&a, "%s", spec);
    add(&a, "--model");
    add(&a, "%s", model);
    add(&a, "--system");
    add(&a, "%s", system);
    add(&a, "--weights-dtype");
    add(&a, "f32");
    add(&a, "--activations-dtype");
    add(&a, "f32");
    add(&a, "--max-seq-len");
    add(&a, "%d", max_seq);
    add(&a, "-o");
    char *plan = e2e_path(tmp, name);
    add(&a, "%s", plan);
    int rc = run(&a, 120, NULL, err);
    *plan_out = plan;
    return rc == 0 ? 0 : -1;
}

static int compile(const char *spec, const char *model, const char *system, const char *name, char **plan_out,
                   char **err)
{
    return compile_len(spec, model, system, name, E2E_MAX_SEQ, plan_out, err);
}

/* The "logits" tensor of a --logits-out file, malloc'd; *rows x *vocab. */
static float *read_logits(const char *path, int64_t *rows, int64_t *vocab)
{
    return e2e_read_f32(path, "logits", rows, vocab);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- the bringups ----------------------------------------------------------------------- */

typedef struct bringup {
    char spec[512], model[512], ref[512];
} bringup;

/* Rows of graphs/bringups.tsv: spec, fixture directory and its reference. */
static int read_bringups(bringup *out, int cap)
{
    FILE *f = fopen("graphs/bringups.tsv", "r");
    assert_non_null(f);
    char line[2048];
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *cols[4] = {0};
        char *save = NULL, *p = strtok_r(line, "\t\n", &save);
        for (int k = 0; k < 4 && p; k++, p = strtok_r(NULL, "\t\n", &save))
            cols[k] = p;
        if (!cols[3])
            continue;
        snprintf(out[n].spec, sizeof out[n].spec, "%s", cols[1]);
        snprintf(out[n].model, sizeof out[n].model, "%s", cols[2]);
        snprintf(out[n].ref, sizeof out[n].ref, "%s/%s", cols[2], cols[3]);
        n++;
    }
    fclose(f);
    return n;
}

/* ---- tests ---------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    if (!rt_mpi_compiled_in())
        skip_reason = "mgc was built without OpenMPI (libopenmpi-dev not found at build time)";
    else if (system("command -v mpirun >/dev/null 2>&1") != 0)
        skip_reason = "mpirun is not installed (openmpi-bin)";
    if (skip_reason)
        printf("test_mpi: skipping the mpirun tests: %s\n", skip_reason);
    /* OpenMPI's own allocations at exit are not ours to hunt in a sanitizer build */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    tmp = e2e_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_rmtree(tmp);
    return 0;
}

#define NEED_MPI()                                                                                                     \
    do {                                                                                                               \
        if (skip_reason)                                                                                               \
            skip();                                                                                                    \
    } while (0)

/* Bit-identical logits, every bundled bringup, t3000 in f32. */
static void mpi_matches_local_bit_for_bit(void **state)
{
    (void)state;
    NEED_MPI();
    bringup b[32];
    int n = read_bringups(b, 32), tested = 0;
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        char name[64], *plan = NULL, *err = NULL;
        snprintf(name, sizeof name, "bringup%d.plan", i);
        if (compile(b[i].spec, b[i].model, "t3000", name, &plan, &err) != 0)
            fail_msg("%s does not compile for t3000: %s", b[i].spec, err);
        free(err);
        char *lp = e2e_path(tmp, "local.logits"), *mp = e2e_path(tmp, "mpi.logits");
        args a = {0};
        add_eval(&a, plan, b[i].model, b[i].ref, lp, 0);
        char *out = NULL;
        int rc = run(&a, 300, &out, &err);
        if (rc != 0)
            fail_msg("%s: the in-process run failed: %s", b[i].spec, err);
        free(out);
        free(err);
        add_mpirun(&a, 8);
        add_eval(&a, plan, b[i].model, b[i].ref, mp, 1);
        rc = run(&a, 300, &out, &err);
        if (rc != 0)
            fail_msg("%s: mpirun -np 8 failed (%d): %s", b[i].spec, rc, err);
        /* rank 0 alone prints the report */
        assert_int_equal(count(out, "YT_METRICS="), 1);
        int64_t r1, v1, r2, v2;
        float *x = read_logits(lp, &r1, &v1), *y = read_logits(mp, &r2, &v2);
        assert_int_equal(r1, r2);
        assert_int_equal(v1, v2);
        assert_true(r1 >= 2);
        if (memcmp(x, y, sizeof(float) * (size_t)(r1 * v1)) != 0)
            fail_msg("%s: the MPI mesh's logits differ from the in-process mesh's", b[i].spec);
        printf("  %s: %lld positions x %lld logits bit-identical over 8 ranks\n", b[i].spec, (long long)r1,
               (long long)v1);
        tested++;
        free(x);
        free(y);
        free(out);
        free(err);
        free(lp);
        free(mp);
        free(plan);
    }
    assert_int_equal(tested, n);
}

/* The Qwen3 fixture with every KV head stored twice (16 KV heads, as many as
 * the 16 query heads): the same function (query head h reads KV head h/2
 * either way), but now its heads split over 16 devices.  Written to tmp/NAME. */
static char *qwen3_kv16(const char *name)
{
    char *dir = e2e_path(tmp, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    size_t clen = 0;
    char *cfg = e2e_slurp("tests/fixtures/qwen3/config.json", &clen);
    char *at = strstr(cfg, "\"num_key_value_heads\": 8,");
    assert_non_null(at);
    char *cpath = e2e_path(dir, "config.json");
    FILE *f = fopen(cpath, "w");
    assert_non_null(f);
    fprintf(f, "%.*s\"num_key_value_heads\": 16,%s", (int)(at - cfg), cfg, at + strlen("\"num_key_value_heads\": 8,"));
    fclose(f);
    rt_st_file *src = NULL;
    mgc_error e = {{0}};
    assert_int_equal(rt_st_open("tests/fixtures/qwen3/model.safetensors", &src, &e), 0);
    size_t n = rt_st_count(src);
    rt_st_entry *ents = calloc(n, sizeof *ents);
    void **owned = calloc(n, sizeof *owned);
    for (size_t i = 0; i < n; i++) {
        const rt_st_tensor *t = rt_st_at(src, i);
        ents[i] = rt_st_entry_of(t);
        if (!strstr(t->name, "k_proj.weight") && !strstr(t->name, "v_proj.weight"))
            continue;
        assert_int_equal(t->ndim, 2);
        size_t row = t->nbytes / (size_t)t->shape[0], hd = (size_t)t->shape[0] / 8;
        char *dup = malloc(2 * t->nbytes);
        for (size_t h = 0; h < 8; h++)
            for (int c = 0; c < 2; c++)
                memcpy(dup + (2 * h + (size_t)c) * hd * row, (const char *)t->data + h * hd * row, hd * row);
        ents[i].shape[0] *= 2;
        ents[i].data = owned[i] = dup;
        ents[i].nbytes *= 2;
    }
    char *wpath = e2e_path(dir, "model.safetensors");
    assert_int_equal(rt_st_write(wpath, ents, n, NULL, &e), 0);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(ents);
    rt_st_close(src);
    free(wpath);
    free(cpath);
    free(cfg);
    return dir;
}

/* Two T3000s (16 ranks) against one (8 in-process devices), Qwen3. */
static void sixteen_ranks_match_eight_devices(void **state)
{
    (void)state;
    NEED_MPI();
    const char *spec = "graphs/Qwen/Qwen3-0.6B/t3000.graph", *model = "tests/fixtures/qwen3",
               *ref = "tests/fixtures/qwen3/reference.safetensors";
    char *m16 = qwen3_kv16("qwen3_kv16");
    char *p8 = NULL, *p16 = NULL, *err = NULL, *out = NULL;
    if (compile(spec, model, "t3000", "q8.plan", &p8, &err) != 0)
        fail_msg("compile: %s", err);
    free(err);
    if (compile(spec, m16, "t3000x2", "q16.plan", &p16, &err) != 0)
        fail_msg("compile: %s", err);
    free(err);
    char *l8 = e2e_path(tmp, "q8.logits"), *l16 = e2e_path(tmp, "q16.logits");
    args a = {0};
    add_eval(&a, p8, model, ref, l8, 0);
    assert_int_equal(run(&a, 300, NULL, NULL), 0);
    add_mpirun(&a, 16);
    add_eval(&a, p16, m16, ref, l16, 1);
    int rc = run(&a, 300, &out, &err);
    if (rc != 0)
        fail_msg("mpirun -np 16 failed (%d): %s", rc, err);
    e2e_assert_contains(out, "on t3000x2 (16 devices)");
    int64_t r1, v1, r2, v2;
    float *x = read_logits(l8, &r1, &v1), *y = read_logits(l16, &r2, &v2);
    assert_int_equal(r1, r2);
    assert_int_equal(v1, v2);
    for (int64_t r = 0; r < r1; r++) {
        const float *a8 = x + r * v1, *a16 = y + r * v1;
        double lim = 1e-4 * e2e_max_abs(a8, (size_t)v1), diff = 0;
        for (int64_t k = 0; k < v1; k++) {
            double d = a8[k] > a16[k] ? a8[k] - a16[k] : a16[k] - a8[k];
            diff = d > diff ? d : diff;
        }
        if (diff > lim)
            fail_msg("position %lld: 16 ranks differ from 8 devices by %g (> %g)", (long long)r, diff, lim);
        assert_int_equal(e2e_argmax(a8, v1), e2e_argmax(a16, v1));
    }
    printf("  16 ranks (t3000x2) vs 8 devices: %lld positions within 1e-4 of the largest logit, same top 1\n",
           (long long)r1);
    free(x);
    free(y);
    free(out);
    free(err);
    free(l8);
    free(l16);
    free(p8);
    free(p16);
    free(m16);
}

static char *qwen3_plan(void)
{
    char *plan = NULL, *err = NULL;
    if (compile("graphs/Qwen/Qwen3-0.6B/t3000.graph", "tests/fixtures/qwen3", "t3000", "fail.plan", &plan, &err) != 0)
        fail_msg("compile: %s", err);
    free(err);
    return plan;
}

/* `mgc run PLAN --model DIR --tokens 1,2,3,4 --max-new-tokens N --mesh mpi` */
static void add_run(args *a, const char *plan, const char *model, int n_new, int users)
{
    add(a, "%s", e2e_mgc_path());
    add(a, "run");
    add(a, "%s", plan);
    add(a, "--model");
    add(a, "%s", model);
    add(a, "--tokens");
    add(a, "1,2,3,4");
    add(a, "--max-new-tokens");
    add(a, "%d", n_new);
    add(a, "--users");
    add(a, "%d", users);
    add(a, "--mesh");
    add(a, "mpi");
}

/* Rank 3 finds no checkpoint where it looks (another machine without the
 * files): MPMD mpirun gives ranks 0-2 and 4-7 the fixture, rank 3 an empty
 * directory. */
static void missing_checkpoint_on_one_rank_ends_the_job(void **state)
{
    (void)state;
    NEED_MPI();
    char *plan = qwen3_plan();
    char *bad = e2e_path(tmp, "no_weights");
    assert_int_equal(mkdir(bad, 0755), 0);
    args a = {0};
    add_mpirun(&a, 3);
    add_run(&a, plan, "tests/fixtures/qwen3", 4, 1);
    add(&a, ":");
    add_np(&a, 1);
    add_run(&a, plan, bad, 4, 1);
    add(&a, ":");
    add_np(&a, 4);
    add_run(&a, plan, "tests/fixtures/qwen3", 4, 1);
    job j;
    job_start(&j, a.v);
    args_free(&a);
    double took = 0;
    char *out = NULL, *err = NULL;
    int rc = job_wait(&j, 60, &took, &out, &err);
    assert_int_not_equal(rc, 0);
    e2e_assert_contains(err, "rank 3:");
    e2e_assert_contains(err, "no model.safetensors");
    assert_null(strstr(out, "user 0:")); /* nothing generated */
    printf("  missing checkpoint on rank 3: job ended (status %d) in %.1f s\n", rc, took);
    free(out);
    free(err);
    free(bad);
    free(plan);
}

/* tmp/NAME: the Qwen3 fixture split into two shards (tensors alternating)
 * whose index also lists a third shard holding a tensor no plan uses; that
 * file is never written, and shard 2 only when `with_shard2`. */
static char *qwen3_sharded(const char *name, int with_shard2)
{
    char *dir = e2e_path(tmp, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    rt_st_file *f = NULL;
    mgc_error e = {{0}};
    assert_int_equal(rt_st_open("tests/fixtures/qwen3/model.safetensors", &f, &e), 0);
    size_t n = rt_st_count(f), np[2] = {0, 0};
    rt_st_entry *part[2] = {calloc(n, sizeof(rt_st_entry)), calloc(n, sizeof(rt_st_entry))};
    char *ipath = e2e_path(dir, "model.safetensors.index.json");
    FILE *idx = fopen(ipath, "w");
    assert_non_null(idx);
    fprintf(idx, "{\"metadata\": {}, \"weight_map\": {\"mtp.unused.weight\": \"model-extra.safetensors\"");
    for (size_t i = 0; i < n; i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        int k = (int)(i % 2);
        part[k][np[k]++] = rt_st_entry_of(t);
        fprintf(idx, ", \"%s\": \"model-0000%d-of-00002.safetensors\"", t->name, k + 1);
    }
    fprintf(idx, "}}\n");
    fclose(idx);
    for (int k = 0; k < 1 + with_shard2; k++) {
        char fname[64];
        snprintf(fname, sizeof fname, "model-0000%d-of-00002.safetensors", k + 1);
        char *path = e2e_path(dir, fname);
        assert_int_equal(rt_st_write(path, part[k], np[k], NULL, &e), 0);
        free(path);
    }
    free(part[0]);
    free(part[1]);
    rt_st_close(f);
    char *cfg = e2e_path(dir, "config.json");
    e2e_copy_file("tests/fixtures/qwen3/config.json", cfg, -1);
    free(cfg);
    free(ipath);
    return dir;
}

/* A sharded checkpoint: each rank opens only the shards holding the plan's
 * tensors (a shard it does not need may be absent) and gets the same logits
 * as the single file in process; a rank missing a shard it needs ends the job
 * naming the rank and the file. */
static void sharded_checkpoint_only_needed_files(void **state)
{
    (void)state;
    NEED_MPI();
    char *plan = qwen3_plan();
    char *good = qwen3_sharded("sharded", 1), *half = qwen3_sharded("sharded_half", 0);
    const char *ref = "tests/fixtures/qwen3/reference.safetensors";
    char *lp = e2e_path(tmp, "single.logits"), *mp = e2e_path(tmp, "sharded.logits");
    args a = {0};
    add_eval(&a, plan, "tests/fixtures/qwen3", ref, lp, 0);
    assert_int_equal(run(&a, 300, NULL, NULL), 0);
    add_mpirun(&a, 8);
    add_eval(&a, plan, good, ref, mp, 1);
    char *out = NULL, *err = NULL;
    int rc = run(&a, 300, &out, &err);
    if (rc != 0)
        fail_msg("mpirun on the sharded checkpoint failed (%d): %s", rc, err);
    int64_t r1, v1, r2, v2;
    float *x = read_logits(lp, &r1, &v1), *y = read_logits(mp, &r2, &v2);
    assert_int_equal(r1, r2);
    assert_int_equal(v1, v2);
    assert_memory_equal(x, y, sizeof(float) * (size_t)(r1 * v1));
    free(x);
    free(y);
    free(out);
    free(err);
    /* rank 5's machine lacks shard 2 */
    add_mpirun(&a, 5);
    add_run(&a, plan, good, 4, 1);
    add(&a, ":");
    add_np(&a, 1);
    add_run(&a, plan, half, 4, 1);
    add(&a, ":");
    add_np(&a, 2);
    add_run(&a, plan, good, 4, 1);
    job j;
    job_start(&j, a.v);
    args_free(&a);
    double took = 0;
    rc = job_wait(&j, 60, &took, &out, &err);
    assert_int_not_equal(rc, 0);
    e2e_assert_contains(err, "rank 5:");
    e2e_assert_contains(err, "model-00002-of-00002.safetensors");
    assert_null(strstr(out, "user 0:"));
    printf("  shard missing on rank 5: job ended (status %d) in %.1f s\n", rc, took);
    free(out);
    free(err);
    free(lp);
    free(mp);
    free(good);
    free(half);
    free(plan);
}

/* The pid of the process under `parent` (mpirun) that is rank `rank`. */
static pid_t find_rank(pid_t parent, int rank)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    struct dirent *de;
    pid_t found = -1;
    char want[64];
    int wn = snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    while (found < 0 && (de = readdir(d))) {
        pid_t pid = (pid_t)atoi(de->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int ppid = -1;
        char *ok = fgets(buf, sizeof buf, f);
        fclose(f);
        char *rp = ok ? strrchr(buf, ')') : NULL;
        if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1 || ppid != (int)parent)
            continue;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        size_t len = 0;
        char *env = e2e_slurp(path, &len);
        for (size_t k = 0; env && k < len; k += strlen(env + k) + 1)
            if (strncmp(env + k, want, (size_t)wn) == 0 && env[k + (size_t)wn] == 0)
                found = pid;
        free(env);
    }
    closedir(d);
    return found;
}

/* Rank 3 is killed (SIGKILL) while the job decodes: the others must not wait
 * for it forever.  The decode must outlast the wait before the kill on any
 * machine: 4000 steps of 32 users on a 4096-position cache (a minute here,
 * loading well under a second), where the fixture's own cache would be done
 * in a second on a fast one. */
static void killed_rank_ends_the_job(void **state)
{
    (void)state;
    NEED_MPI();
    char *plan = NULL, *cerr = NULL;
    if (compile_len("graphs/Qwen/Qwen3-0.6B/t3000.graph", "tests/fixtures/qwen3", "t3000", "long.plan", 4096, &plan,
                    &cerr) != 0)
        fail_msg("compile: %s", cerr);
    free(cerr);
    args a = {0};
    add_mpirun(&a, 8);
    add_run(&a, plan, "tests/fixtures/qwen3", 4000, 32);
    add(&a, "--ignore-eos");
    job j;
    job_start(&j, a.v);
    args_free(&a);
    pid_t victim = -1;
    double t0 = now();
    while (victim < 0 && now() - t0 < 30) {
        usleep(50000);
        victim = find_rank(j.pid, 3);
    }
    assert_true(victim > 0);
    usleep(2500000); /* past loading (well under a second) and into the decode */
    assert_int_equal(kill(victim, SIGKILL), 0);
    double took = 0;
    char *out = NULL, *err = NULL;
    int rc = job_wait(&j, 30, &took, &out, &err);
    assert_int_not_equal(rc, 0);
    assert_null(strstr(out, "user 0:")); /* it did not finish */
    e2e_assert_contains(err, "rank 3");
    e2e_assert_contains(err, "signal 9");
    assert_true(took < 30);
    printf("  rank 3 killed: job ended (status %d) %.1f s after the kill\n", rc, took);
    free(out);
    free(err);
    free(plan);
}

static void wrong_rank_count_is_a_clear_error(void **state)
{
    (void)state;
    NEED_MPI();
    char *plan = qwen3_plan();
    args a = {0};
    add_mpirun(&a, 3);
    add_run(&a, plan, "tests/fixtures/qwen3", 4, 1);
    char *out = NULL, *err = NULL;
    int rc = run(&a, 60, &out, &err);
    assert_int_not_equal(rc, 0);
    e2e_assert_contains(err, "the plan has 8 devices (system t3000) but mpirun started 3 ranks");
    assert_int_equal(count(err, "mpirun started 3 ranks"), 1); /* rank 0 alone says it */
    assert_null(strstr(err, "MPI_ABORT"));                     /* a clean exit, not an abort */
    free(out);
    free(err);
    free(plan);
}

/* Not under mpirun (or built without MPI): a clear error, exit 1. */
static void mesh_mpi_outside_mpirun_is_an_error(void **state)
{
    (void)state;
    char *plan = qwen3_plan();
    args a = {0};
    add_run(&a, plan, "tests/fixtures/qwen3", 4, 1);
    char *out = NULL, *err = NULL;
    int rc = run(&a, 60, &out, &err);
    assert_int_equal(rc, 1);
    e2e_assert_contains(err, rt_mpi_compiled_in() ? "not started by mpirun" : "built without MPI");
    assert_null(strstr(out, "user 0:"));
    free(out);
    free(err);
    add(&a, "%s", e2e_mgc_path());
    add(&a, "run");
    add(&a, "%s", plan);
    add(&a, "--model");
    add(&a, "tests/fixtures/qwen3");
    add(&a, "--tokens");
    add(&a, "1");
    add(&a, "--mesh");
    add(&a, "mars");
    rc = run(&a, 60, NULL, &err);
    assert_int_equal(rc, 2);
    e2e_assert_contains(err, "--mesh takes local or mpi, not 'mars'");
    free(err);
    free(plan);
}

/* ---- the public API over MPI ---------------------------------------------------------- */

/* `test_mpi --api-rank PLAN MODEL N`: what every rank of a program using
 * libmgc with mesh "mpi" runs: load the plan, load the model (only rank 0
 * returns), generate N tokens greedily from 1,2,3,4 and print them as
 * `mgc run` does ("user 0: ..."). */
static int api_rank(const char *plan_path, const char *model, int n)
{
    mgc_status st;
    mgc_plan_t *plan = NULL;
    mgc_model_t *m = NULL;
    if (mgc_plan_load(plan_path, &plan, &st) != MGC_OK) {
        fprintf(stderr, "api rank: %s\n", st.message);
        return 1;
    }
    mgc_model_options mo;
    mgc_model_options_init(&mo);
    mo.mesh = "mpi";
    if (mgc_model_load(plan, model, &mo, &m, &st) != MGC_OK) {
        fprintf(stderr, "api rank: %s\n", st.message);
        mgc_plan_destroy(plan);
        return 1;
    }
    mgc_generate_options go;
    mgc_generate_options_init(&go);
    go.max_new_tokens = n;
    go.ignore_eos = 1;
    const int32_t prompt[] = {1, 2, 3, 4};
    int32_t out[256];
    int n_out = 0;
    int rc = n < 1 || n > 256 || mgc_generate(m, prompt, 4, &go, out, &n_out, &st) != MGC_OK;
    if (rc)
        fprintf(stderr, "api rank: %s\n", st.message);
    printf("user 0:");
    for (int i = 0; i < n_out; i++)
        printf(" %d", out[i]);
    printf("\n");
    mgc_model_destroy(m); /* releases the other ranks, ends MPI */
    mgc_plan_destroy(plan);
    return rc;
}

/* `mpirun -np NP test_mpi --api-rank PLAN tests/fixtures/qwen3 N` */
static void add_api_ranks(args *a, int np, const char *plan, int n)
{
    add_mpirun(a, np);
    add(a, "%s", self_path);
    add(a, "--api-rank");
    add(a, "%s", plan);
    add(a, "tests/fixtures/qwen3");
    add(a, "%d", n);
}

/* A program written against libmgc runs over MPI as `mgc run` does: the same
 * greedy tokens as the in-process mesh, every rank exits 0. */
static void api_mpi_matches_local(void **state)
{
    (void)state;
    NEED_MPI();
    char *plan = qwen3_plan();
    args a = {0};
    add(&a, "%s", e2e_mgc_path());
    add(&a, "run");
    add(&a, "%s", plan);
    add(&a, "--model");
    add(&a, "tests/fixtures/qwen3");
    add(&a, "--tokens");
    add(&a, "1,2,3,4");
    add(&a, "--max-new-tokens");
    add(&a, "24");
    add(&a, "--ignore-eos");
    char *local = NULL, *err = NULL;
    if (run(&a, 120, &local, &err) != 0)
        fail_msg("mgc run: %s", err);
    free(err);
    add_api_ranks(&a, 8, plan, 24);
    char *out = NULL;
    int rc = run(&a, 120, &out, &err);
    if (rc != 0)
        fail_msg("the API over 8 ranks exited %d: %s", rc, err);
    assert_string_equal(out, local); /* one "user 0:" line, from rank 0 only */
    printf("  the public API over 8 MPI ranks: %s", out);
    free(out);
    free(err);
    free(local);
    /* a wrong rank count: the same error on every rank, no hang */
    add_api_ranks(&a, 2, plan, 4);
    rc = run(&a, 60, NULL, &err);
    assert_int_not_equal(rc, 0);
    e2e_assert_contains(err, "the plan has 8 devices (system t3000) but the job has 2 ranks");
    free(err);
    free(plan);
}

int main(int argc, char **argv)
{
    self_path = argv[0];
    if (argc == 5 && strcmp(argv[1], "--api-rank") == 0)
        return api_rank(argv[2], argv[3], atoi(argv[4]));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mesh_mpi_outside_mpirun_is_an_error),
        cmocka_unit_test(wrong_rank_count_is_a_clear_error),
        cmocka_unit_test(mpi_matches_local_bit_for_bit),
        cmocka_unit_test(sixteen_ranks_match_eight_devices),
        cmocka_unit_test(missing_checkpoint_on_one_rank_ends_the_job),
        cmocka_unit_test(sharded_checkpoint_only_needed_files),
        cmocka_unit_test(killed_rank_ends_the_job),
        cmocka_unit_test(api_mpi_matches_local),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
