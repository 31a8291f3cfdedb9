/* bench_decode: prefill, decode, batched decode and eval speed of real-size
 * bringups on this host, each figure next to a ceiling measured in the same
 * run.
 *
 * Real weights are not bundled, so the benchmark writes a checkpoint of each
 * model's true dimensions (its graphs/.../config.json) with random bf16
 * weights into a temporary directory, compiles the bundled spec for the
 * `cpu` system with the weights converted to each dtype (f32, bf16, bf8_b,
 * bf4_b, and tt-metal's performance mix: bf8_b with bf4_b MLPs), and
 * measures, with 1 thread and with all of the host's cores:
 *   - prefill: tokens/s of a 128-token prompt, as generation runs it (only
 *     the last row's logits: rt_engine_prefill_last);
 *   - decode: tokens/s of one user after that prompt;
 *   - batched decode: tokens/s in aggregate of 32 users in one step (the
 *     other users' caches hold zeros at the same positions: the same work),
 *     its steps alternated with one user's (batch_vs_one);
 *   - eval: teacher-forced positions/s (a prefill returning every logit);
 *   - peak resident memory (VmHWM, less the resident read buffer below) of
 *     a process that did all that, against
 *     the weights at their plan dtype (a tied table counted once when both
 *     uses have one dtype) + KV cache + activations of the plan.
 * Each configuration runs in its own child process (memory is its own).
 * Ceilings, measured first: read bandwidth (support/ceilings.c: a
 * vectorised 8-accumulator read on T threads over a 1 GiB buffer, best and
 * median of 7 passes), the matmul rate of prefill's path (the bf16 dot
 * for bf16 weights where the CPU has it, else f32 sgemm) and the register
 * peak of the instruction each path multiplies with (bench_dot_peak: no
 * matmul can beat it; the batch bound is given at both rates).  Each
 * configuration's own ratios use ceilings measured in its own process, on
 * its thread count: the read bandwidth right after EACH decode run (best of
 * 8 passes over a 1 GiB buffer kept resident for the purpose), so that a
 * run and its ceiling share a window of this shared host (its bandwidth
 * drifts by a quarter within a minute: ceilings taken minutes away from the
 * runs had made ratios of 0.7 and 1.1 out of the same kernel); decode's
 * ratio is the median of the runs' own ratios.  The matmul rate is measured
 * after the runs.  Decode's
 * ceiling is bandwidth / bytes read per token (every matrix once, plus the
 * KV cache read); prefill's is matmul rate / FLOPs per token (2 per weight,
 * the ops that feed only the logits once per prompt, plus attention).  Then
 * the t3000 plan (8 in-process devices on the same cores) against the cpu
 * plan, both loaded in one process and their decode steps alternated
 * (run_pair).  Compile times: bench_compile.
 *
 * Output: a table, then the same figures as JSON (also written to
 * build/bench/bench_decode.json or $MGC_BENCH_JSON).  Timing is noisy on a
 * shared host: figures are medians of several repetitions; the targets of
 * issue 9 are marked met/missed but do not set the exit status.
 *
 * usage: bench_decode [--quick]   (or MGC_BENCH_QUICK=1)
 * Quick mode (CI): a fixture-size model, short runs, a 64 MiB bandwidth
 * buffer; it checks that every path runs and nothing about speed.
 * MGC_BENCH_MODELS=qwen|llama picks one model, MGC_BENCH_WEIGHTS=bf16 (any
 * substring of the names in the table) some weight dtypes, MGC_BENCH_ONLY_ALL_CORES=1
 * skips the 1-thread runs (the ceilings are still measured for both).
 * By default the 1-thread runs cover bf16 only (loading a true-size model
 * takes 10-45 s here, so the whole matrix takes long); MGC_BENCH_FULL=1 runs
 * every weight dtype with 1 thread too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compile.h"
#include "engine.h"
#include "kernels.h"
#include "mesh.h"
#include "safetensors.h"
#include "support/ceilings.h"
#include "support/random_checkpoint.h"

typedef struct model_def {
    const char *name, *spec, *config, *quick_config;
} model_def;

static const model_def MODELS[] = {
    {"Qwen3-0.6B", "graphs/Qwen/Qwen3-0.6B/t3000.graph", "graphs/Qwen/Qwen3-0.6B/config.json",
     "tests/fixtures/qwen3/config.json"},
    {"Llama-3.2-1B", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "graphs/meta-llama/Llama-3.2-1B/config.json",
     "tests/fixtures/llama32/config.json"},
};
#define NMODELS (int)(sizeof MODELS / sizeof MODELS[0])

/* weights: an mgc_dtype, or MIX for bf8_b with bf4_b MLP weights */
#define MIX 100
static const int DTYPES[] = {MGC_F32, MGC_BF16, MGC_BF8_B, MGC_BF4_B, MIX};
#define NDTYPES (int)(sizeof DTYPES / sizeof DTYPES[0])

static const char *wname(int dt)
{
    return dt == MIX ? "bf8_b+bf4_b mlp" : mgc_dtype_name((mgc_dtype)dt);
}

typedef struct settings {
    int quick, prompt, steps, reps, users;
} settings;

typedef struct result {
    int ok;
    char err[1100];
    double weights_mib, weights_once_mib, kv_mib, act_mib, rss_mib;
    double read_bytes_per_token, flops_per_token; /* flops: of generation's prefill (the head once) */
    /* one user's decode token: FLOPs (every linear, the head too, and
     * attention) and KV cache bytes read, at the same context */
    double decode_flops_per_token, kv_bytes_per_token;
    double prefill_tps, decode_tps, batch_tps, eval_pps;
    /* batch_vs_one: batch_tps above and the 1-user steps alternated with
     * its 32-user steps, tokens/s (1 / the median step) */
    double alt_one_tps;
    double load_s;
    /* ceilings measured again in this child, on the same thread count:
     * read GB/s right after each decode run (window_bandwidth; the median
     * over the runs) and matmul GFLOP/s after all of them (median) */
    double bw_gbs, mm_gflops;
    /* decode tokens/s over its roofline, run by run against the bandwidth
     * of the run's own window; the median */
    double decode_of_roof;
    /* runs whose window read less than the run itself moved (a ratio above
     * 1): a neighbour took the bandwidth while the ceiling was read, so
     * the ratio says nothing and no target is judged on it */
    int roof_disturbed;
    /* run_pair: the cpu plan's decode tokens/s, its steps alternated with
     * the t3000 plan's (decode_tps) in the same process */
    double pair_cpu_tps;
} result;

/* A run's figures as fractions of their ceilings: decode against the read
 * roofline (tokens/s the measured bandwidth allows), prefill against the
 * matmul rate, peak RSS against weights + KV cache + activations. */
typedef struct ratios {
    double decode, prefill, rss;
    double batch; /* batched decode's user tokens/s over batch 1's, steps alternated */
    double need_mib; /* weights (a tied table once) + KV cache + activations */
} ratios;

static ratios ratios_of(const result *r)
{
    double pceil = r->mm_gflops * 1e9 / r->flops_per_token;
    double need = r->weights_once_mib + r->kv_mib + r->act_mib;
    return (ratios){.decode = r->decode_of_roof, .prefill = r->prefill_tps / pceil, .rss = r->rss_mib / need,
                    .batch = r->batch_tps / r->alt_one_tps, .need_mib = need};
}

/* A copy of the spec in dir with tt-metal's performance precision appended
 * (imports made absolute so the copy resolves them). */
static int write_mix_spec(const char *spec, const char *dir, char *out, size_t outsz)
{
    char abs[4096], base[4096];
    if (!realpath(spec, abs))
        return -1;
    snprintf(base, sizeof base, "%s", abs);
    char *slash = strrchr(base, '/');
    if (slash)
        slash[1] = 0;
    FILE *in = fopen(spec, "r");
    snprintf(out, outsz, "%s/mix.graph", dir);
    FILE *o = fopen(out, "w");
    if (!in || !o) {
        if (in)
            fclose(in);
        if (o)
            fclose(o);
        return -1;
    }
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "import \"", 8) == 0 && line[8] != '/')
            fprintf(o, "import \"%s%s", base, line + 8);
        else
            fputs(line, o);
    }
    fputs("precision weights=bf8_b\nprecision w\"model.layers.*.mlp.*\"=bf4_b\n", o);
    fclose(in);
    return fclose(o) == 0 ? 0 : -1;
}

static double peak_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = atof(line + 6);
    if (f)
        fclose(f);
    return kb / 1024.0;
}

/* Start VmHWM again from the current resident set (Linux: clear_refs 5). */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static int compile_plan(const char *spec, const char *config, const char *system, int dt, const settings *s,
                        mgc_plan *plan, char *err, size_t errsz)
{
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    o.config_path = config;
    o.system = system;
    o.max_seq_len = 256;
    o.batch = s->users;
    o.weights_dtype = dt == MIX ? -1 : dt;
    int rc = mgc_compile(&o, &d, NULL, plan);
    if (rc != 0) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        mgc_diags_print(&d, m, 0);
        fclose(m);
        snprintf(err, errsz, "%s", buf ? buf : "compile failed");
        free(buf);
    }
    mgc_diags_free(&d);
    return rc;
}

/* Bytes and FLOPs of one token at context `ctx`, from the plan. */
static void costs(const mgc_plan *p, double ctx, result *r)
{
    double read = 0, flops = 0, once = 0;
    for (size_t i = 0; i < p->nweights; i++) {
        const mgc_plan_weight *w = &p->weights[i];
        double b = (double)w->bytes_per_device * p->ndevices;
        int tied_copy = 0;
        for (size_t j = 0; j < p->nweights; j++)
            tied_copy |= j != i && w->role == MGC_W_LINEAR && p->weights[j].role == MGC_W_EMBEDDING &&
                         strcmp(p->weights[j].hf_name, w->hf_name) == 0 && p->weights[j].dtype == w->dtype;
        once += tied_copy ? 0 : b;
        if (w->role == MGC_W_LINEAR) {
            read += b;
            flops += 2.0 * (double)w->hf_shape[0] * (double)w->hf_shape[1];
        }
    }
    /* attention: q.k and p.v over ctx positions, per query head */
    int hq = 0;
    for (size_t i = 0; i < p->prefill.nops; i++)
        if (p->prefill.ops[i].kernel == MGC_K_SDPA) {
            hq = p->prefill.ops[i].n_heads * p->ndevices;
            break;
        }
    flops += 4.0 * hq * (double)p->cache_head_dim * ctx * (double)p->cache_layers;
    double kv = 2.0 * (double)p->cache_layers * (double)p->cache_kv_heads * (double)p->cache_head_dim * ctx *
                (double)mgc_dtype_bytes(p->kv_dtype, 1);
    r->read_bytes_per_token = read + kv;
    r->flops_per_token = flops;
    r->decode_flops_per_token = flops;
    r->kv_bytes_per_token = kv;
    r->weights_mib = (double)p->memory.weights * p->ndevices / 1048576.0;
    r->weights_once_mib = once / 1048576.0;
    r->kv_mib = (double)p->memory.kv_cache * p->ndevices / 1048576.0;
    r->act_mib = (double)p->memory.activations * p->ndevices / 1048576.0;
}

/* Waits until the pool workers of whatever ran last have stopped spinning
 * (they spin for well under a millisecond after their last job before they
 * sleep), so that what is timed next has the cores to itself: a read pass
 * sharing them read 41-54 GB/s where one 5 ms later read 54-56. */
static void let_workers_sleep(void)
{
    struct timespec nap = {0, 5 * 1000 * 1000};
    nanosleep(&nap, NULL);
}

/* The read bandwidth of the window a run just had: the best of 8 passes
 * (a 1 GiB pass takes about 20 ms; one pass alone read anywhere from 36 to
 * 64 GB/s here within a second while decode runs of half a second kept
 * within 5 %: the best of several is what the memory gives when no
 * neighbour bursts), the run's workers asleep (a ceiling read low would
 * flatter the run). */
static double window_bandwidth(const bench_read_buf *b, int threads)
{
    let_workers_sleep();
    double g[8];
    for (int i = 0; i < 8; i++)
        g[i] = bench_read_pass(b, threads);
    return bench_best(g, 8);
}

/* Batch 32 against batch 1, their decode steps alternated in this process
 * (1 user, then 32 users at the same position, ALT turns): the ratio of two
 * runs seconds apart moved with the host as much as the batch does (a
 * Llama-3.2-1B bf16 run read 11.8x where its batch-1 run shared the host with
 * a busy neighbour, 7.7x otherwise); alternated, both sides see the same
 * host.  A 1-user step right after a 32-user step ran 17 % slower than in a
 * run of them (Llama-3.2-1B bf16: 15.6 against 18.8 tok/s), which flattered
 * the ratio: each turn takes two 1-user steps and times the second.  These
 * 32-user steps are also the batched figure itself (batch_tps).  User 0
 * holds the prompt; the other users' caches are whatever they hold, which
 * changes no timing (attention reads the same positions). */
static int batch_vs_one(rt_engine *en, const settings *s, const int32_t *tok, int *users, int32_t *pos,
                        float *logits, result *r, mgc_error *e)
{
    enum { ALT = 12 };
    int n = s->quick ? 2 : ALT, U = s->users;
    double one[ALT], many[ALT];
    for (int u = 0; u < U; u++) {
        users[u] = u;
        pos[u] = s->prompt;
    }
    /* untimed: the first 32-user step touches the other users' cache pages */
    if (rt_engine_decode(en, U, users, tok, pos, logits, e) != 0)
        return -1;
    for (int k = 0; k < n; k++) {
        int32_t p = s->prompt + k % s->steps;
        int user = 0;
        double a = 0;
        for (int w = 0; w < 2; w++) { /* the first one untimed: see above */
            a = bench_now();
            if (rt_engine_decode(en, 1, &user, &tok[s->prompt + k % s->steps], &p, logits, e) != 0)
                return -1;
        }
        double b = bench_now();
        for (int u = 0; u < U; u++) {
            users[u] = u;
            pos[u] = p;
        }
        if (rt_engine_decode(en, U, users, &tok[k % s->steps], pos, logits, e) != 0)
            return -1;
        one[k] = b - a;
        many[k] = bench_now() - b;
    }
    r->alt_one_tps = 1.0 / bench_median(one, n);
    r->batch_tps = U / bench_median(many, n);
    return 0;
}

/* One configuration of the cpu plan, in the child process: every figure. */
static void run_config(const model_def *md, const char *spec, const char *ckdir, int dt, int threads,
                       const settings *s, result *r)
{
    const char *config = s->quick ? md->quick_config : md->config;
    mgc_plan plan;
    mgc_error e = {{0}};
    rt_engine *en = NULL;
    if (compile_plan(spec, config, "cpu", dt, s, &plan, r->err, sizeof r->err) != 0)
        return;
    costs(&plan, s->prompt + s->steps / 2.0, r);
    /* Decode's ceiling is read in the same window as each decode run: a few
     * passes over this buffer right after it (a shared host's bandwidth
     * drifts by a quarter within a minute; a ceiling measured minutes away
     * from the run it divides made ratios of 0.7 or 1.1 out of the same
     * kernel).  The buffer is resident before the high-water mark is reset
     * and stays so: peak RSS less its size is the runs' own. */
    bench_read_buf rbuf;
    if (bench_read_buf_init(&rbuf, s->quick ? (size_t)64 << 20 : (size_t)1 << 30, threads) != 0) {
        snprintf(r->err, sizeof r->err, "out of memory for the read-bandwidth buffer");
        mgc_plan_free(&plan);
        return;
    }
    reset_peak_rss();
    rt_engine_opts eo = {.n_cores = threads};
    double t0 = bench_now();
    if (rt_engine_load(&plan, ckdir, &eo, &en, &e) != 0)
        goto fail;
    r->load_s = bench_now() - t0;
    /* Prefill is timed as generation runs it (rt_engine_prefill_last: the ops
     * that only feed the logits run on the last row), so its FLOPs per token
     * count those ops' matmuls once per prompt, not once per token. */
    double head_flops = 0;
    for (size_t i = 0; i < plan.prefill.nops; i++) {
        const mgc_plan_op *op = &plan.prefill.ops[i];
        if (rt_engine_prefill_head_op(en, i) && op->kernel == MGC_K_LINEAR)
            head_flops += 2.0 * (double)plan.weights[op->weight].hf_shape[0] *
                          (double)plan.weights[op->weight].hf_shape[1];
    }
    r->flops_per_token -= head_flops * (1.0 - 1.0 / s->prompt);
    int64_t vocab = rt_engine_vocab(en);
    int np = s->prompt, U = s->users;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(np + s->steps + U));
    float *logits = malloc(sizeof(float) * (size_t)(np > U ? np : U) * (size_t)vocab);
    int *users = malloc(sizeof(int) * (size_t)U);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)U);
    for (int i = 0; i < np + s->steps + U; i++)
        tok[i] = (int32_t)(((int64_t)i * 7919) % vocab);
    double pre[16], dec[16], ev[16], rbw[16], droof[16];
    int R = s->reps;
    for (int rep = 0; rep < R; rep++) {
        double a = bench_now();
        if (rt_engine_prefill_last(en, 0, tok, np, 0, logits, &e) != 0)
            goto fail_free;
        double b = bench_now();
        int user = 0;
        for (int k = 0; k < s->steps; k++) {
            int32_t p = np + k;
            if (rt_engine_decode(en, 1, &user, &tok[np + k], &p, logits, &e) != 0)
                goto fail_free;
        }
        double c = bench_now();
        pre[rep] = np / (b - a);
        dec[rep] = s->steps / (c - b);
        rbw[rep] = window_bandwidth(&rbuf, threads);
        droof[rep] = dec[rep] * r->read_bytes_per_token / (rbw[rep] * 1e9);
        r->roof_disturbed += droof[rep] > 1.0;
        double f0 = bench_now();
        if (rt_engine_prefill(en, 0, tok, np, 0, logits, &e) != 0)
            goto fail_free;
        ev[rep] = np / (bench_now() - f0);
    }
    /* 32 users in one step, alternated with one user's steps */
    if (batch_vs_one(en, s, tok, users, pos, logits, r, &e) != 0)
        goto fail_free;
    r->prefill_tps = bench_median(pre, R);
    r->decode_tps = bench_median(dec, R);
    r->bw_gbs = bench_median(rbw, R);
    r->decode_of_roof = bench_median(droof, R);
    r->eval_pps = bench_median(ev, R);
    r->rss_mib = peak_rss_mib() - (double)rbuf.bytes / (1024.0 * 1024.0);
    rt_engine_free(en);
    en = NULL;
    bench_read_buf_free(&rbuf);
    bench_mm mm;
    /* the matmul ceiling of the path this configuration's prefill takes: the
     * bf16 dot on its weight dtype (the specs' activations are bf16; the mix
     * is mostly bf8_b), else sgemm */
    mm.median_gflops = 0;
    if (dt != MGC_F32)
        bench_bf16dot_rate(threads, dt == MGC_BF16 ? RT_BF16 : dt == MGC_BF4_B ? RT_BF4_B : RT_BF8_B, 128,
                           s->quick ? 512 : 3072, s->quick ? 256 : 1024, s->quick ? 2 : 5, &mm);
    if (mm.median_gflops <= 0)
        bench_sgemm_rate(threads, 128, s->quick ? 512 : 3072, s->quick ? 256 : 1024, s->quick ? 2 : 5, &mm);
    r->mm_gflops = mm.median_gflops;
    r->ok = 1;
    free(tok);
    free(logits);
    free(users);
    free(pos);
    rt_engine_free(en);
    mgc_plan_free(&plan);
    return;
fail_free:
    free(tok);
    free(logits);
    free(users);
    free(pos);
fail:
    snprintf(r->err, sizeof r->err, "%s", e.msg);
    bench_read_buf_free(&rbuf);
    rt_engine_free(en);
    mgc_plan_free(&plan);
}

/* The t3000 plan against the cpu plan (bf16 weights, `threads` cores), in
 * one process: both loaded, each given the same prompt, then decode steps
 * of one user alternated between them, the first of each pair taking turns;
 * each plan's speed is 1 / its median step.  Two configurations run minutes
 * apart had given this ratio as 0.67 and 0.80 in two runs of the same build
 * (this host's load drifts), where alternated steps gave 0.89-1.03. */
static void run_pair(const model_def *md, const char *spec, const char *ckdir, int threads, const settings *s,
                     result *r)
{
    const char *config = s->quick ? md->quick_config : md->config;
    const char *systems[2] = {"cpu", "t3000"};
    mgc_plan plan[2];
    rt_engine *en[2] = {NULL, NULL};
    int nplans = 0;
    mgc_error e = {{0}};
    double *t[2] = {NULL, NULL};
    int32_t *tok = NULL;
    float *logits = NULL;
    for (; nplans < 2; nplans++) {
        if (compile_plan(spec, config, systems[nplans], MGC_BF16, s, &plan[nplans], r->err, sizeof r->err) != 0)
            goto out;
        rt_engine_opts eo = {.n_cores = threads};
        if (rt_engine_load(&plan[nplans], ckdir, &eo, &en[nplans], &e) != 0) {
            nplans++;
            snprintf(r->err, sizeof r->err, "%s", e.msg);
            goto out;
        }
    }
    int64_t vocab = rt_engine_vocab(en[0]);
    int np = s->prompt, steps = s->steps, R = s->reps;
    tok = malloc(sizeof(int32_t) * (size_t)(np + steps));
    logits = malloc(sizeof(float) * (size_t)np * (size_t)vocab);
    t[0] = malloc(sizeof(double) * (size_t)(steps * R));
    t[1] = malloc(sizeof(double) * (size_t)(steps * R));
    if (!tok || !logits || !t[0] || !t[1]) {
        snprintf(r->err, sizeof r->err, "out of memory");
        goto out;
    }
    for (int i = 0; i < np + steps; i++)
        tok[i] = (int32_t)(((int64_t)i * 7919) % vocab);
    for (int rep = 0; rep < R; rep++) {
        for (int i = 0; i < 2; i++)
            if (rt_engine_prefill_last(en[i], 0, tok, np, 0, logits, &e) != 0) {
                snprintf(r->err, sizeof r->err, "%s", e.msg);
                goto out;
            }
        for (int k = 0; k < steps; k++)
            for (int j = 0; j < 2; j++) {
                int i = (j + k + rep) % 2, user = 0;
                int32_t p = np + k;
                let_workers_sleep(); /* the other plan's, after its step */
                double a = bench_now();
                if (rt_engine_decode(en[i], 1, &user, &tok[np + k], &p, logits, &e) != 0) {
                    snprintf(r->err, sizeof r->err, "%s", e.msg);
                    goto out;
                }
                t[i][rep * steps + k] = bench_now() - a;
            }
    }
    r->pair_cpu_tps = 1.0 / bench_median(t[0], steps * R);
    r->decode_tps = 1.0 / bench_median(t[1], steps * R);
    r->ok = 1;
out:
    free(t[0]);
    free(t[1]);
    free(tok);
    free(logits);
    for (int i = 0; i < nplans; i++) {
        rt_engine_free(en[i]);
        mgc_plan_free(&plan[i]);
    }
}

/* Runs, in a child process, a configuration of the cpu plan (run_config),
 * or with pair set the t3000 plan against the cpu plan (run_pair), and
 * collects its result. */
static void run_child(const model_def *md, const char *spec, const char *ckdir, int dt,
                      int threads, int pair, const settings *s, result *r)
{
    memset(r, 0, sizeof *r);
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(r->err, sizeof r->err, "pipe failed");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        result cr;
        memset(&cr, 0, sizeof cr);
        if (pair)
            run_pair(md, spec, ckdir, threads, s, &cr);
        else
            run_config(md, spec, ckdir, dt, threads, s, &cr);
        ssize_t wr = write(fd[1], &cr, sizeof cr);
        _exit(wr == (ssize_t)sizeof cr ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    while (pid > 0 && got < sizeof *r) {
        ssize_t n = read(fd[0], (char *)r + got, sizeof *r - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd[0]);
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    if (got != sizeof *r) {
        memset(r, 0, sizeof *r);
        snprintf(r->err, sizeof r->err, "child process failed (status %d)", st);
    }
}

/* Whether /proc/cpuinfo lists `flag` (whole word). */
static int cpu_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int found = 0;
    size_t n = strlen(flag);
    while (f && !found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (char *p = strstr(line, flag); p && !found; p = strstr(p + 1, flag))
            found = p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || p[n] == 0);
        break;
    }
    if (f)
        fclose(f);
    return found;
}

static const char *mark(int ok)
{
    return ok ? "met" : "MISSED";
}

int main(int argc, char **argv)
{
    settings s = {.quick = 0, .prompt = 128, .steps = 16, .reps = 3, .users = 32};
    if ((argc > 1 && strcmp(argv[1], "--quick") == 0) || (getenv("MGC_BENCH_QUICK") && *getenv("MGC_BENCH_QUICK")))
        s = (settings){.quick = 1, .prompt = 16, .steps = 4, .reps = 1, .users = 32};
    const char *only = getenv("MGC_BENCH_MODELS"), *only_w = getenv("MGC_BENCH_WEIGHTS");
    int cores = rt_host_cores();
    int tlist[2] = {1, cores}, nt = cores > 1 ? 2 : 1;

    /* ---- ceilings ---- */
    bench_bw bw[2];
    bench_mm mm[2], mmb[2];
    /* the register peaks bound every matmul path from above: the batch
     * bound below is given at both (a path's rate is mgc's, not the host's) */
    bench_peak pkb[2], pkf[2];
    for (int t = 0; t < nt; t++) {
        bench_read_bandwidth(s.quick ? (size_t)64 << 20 : (size_t)1 << 30, tlist[t], s.quick ? 2 : 7, &bw[t]);
        bench_sgemm_rate(tlist[t], 128, s.quick ? 512 : 3072, s.quick ? 256 : 1024, s.quick ? 2 : 7, &mm[t]);
        bench_bf16dot_rate(tlist[t], RT_BF16, 128, s.quick ? 512 : 3072, s.quick ? 256 : 1024, s.quick ? 2 : 7, &mmb[t]);
        bench_dot_peak(tlist[t], RT_BF16, s.quick ? 2 : 7, &pkb[t]);
        bench_dot_peak(tlist[t], RT_F32, s.quick ? 2 : 7, &pkf[t]);
    }
    printf("bench_decode%s: %d cores; kernels ISA %s; CPU flags: avx512_bf16 %s (bf16 dot %s), amx_tile %s, "
           "amx_bf16 %s (no mgc path uses AMX)\n",
           s.quick ? " (quick mode: sizes are not real, figures mean nothing)" : "", cores,
           rt_isa_name(rt_cpu_best_isa()), cpu_flag("avx512_bf16") ? "present" : "absent",
           rt_bf16dot_enabled() ? "used" : "not used",
           cpu_flag("amx_tile") ? "present" : "absent", cpu_flag("amx_bf16") ? "present" : "absent");
    for (int t = 0; t < nt; t++)
        printf("ceiling: read %d thread%s: best %.1f GB/s, median %.1f GB/s (%d passes over %.0f MiB; %s)\n", tlist[t],
               tlist[t] > 1 ? "s" : "", bw[t].best_gbs, bw[t].median_gbs, bw[t].passes,
               (double)bw[t].bytes / 1048576.0, bw[t].kernel);
    for (int t = 0; t < nt; t++)
        printf("ceiling: f32 matmul %d thread%s: best %.1f GFLOP/s, median %.1f (m=%d n=%d k=%d; %s)\n", tlist[t],
               tlist[t] > 1 ? "s" : "", mm[t].best_gflops, mm[t].median_gflops, mm[t].m, mm[t].n, mm[t].k,
               mm[t].path);
    for (int t = 0; t < nt && mmb[t].median_gflops > 0; t++)
        printf("ceiling: bf16 matmul %d thread%s: best %.1f GFLOP/s, median %.1f (m=%d n=%d k=%d; %s; the ceiling of "
               "bf16 prefill)\n",
               tlist[t], tlist[t] > 1 ? "s" : "", mmb[t].best_gflops, mmb[t].median_gflops, mmb[t].m, mmb[t].n,
               mmb[t].k, mmb[t].path);
    for (int t = 0; t < nt; t++)
        for (int f = 0; f < 2; f++) {
            const bench_peak *pk = f ? &pkf[t] : &pkb[t];
            if (pk->median_gflops > 0)
                printf("ceiling: %s register peak %d thread%s: best %.1f GFLOP/s, median %.1f (%d passes; %s)\n",
                       f ? "f32" : "bf16", tlist[t], tlist[t] > 1 ? "s" : "", pk->best_gflops, pk->median_gflops,
                       pk->passes, pk->path);
        }

    /* ---- checkpoints ---- */
    char root[] = "/tmp/mgc-bench-decode.XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    result res[NMODELS][NDTYPES][2];
    result t3k[NMODELS];
    memset(res, 0, sizeof res);
    memset(t3k, 0, sizeof t3k);
    int have[NMODELS] = {0};
    for (int mi = 0; mi < NMODELS; mi++) {
        const model_def *md = &MODELS[mi];
        if (only && !strcasestr(md->name, only))
            continue;
        char dir[4200], cmd[8600], err[1100] = "";
        snprintf(dir, sizeof dir, "%s/%d", root, mi);
        mgc_plan plan;
        mgc_error e = {{0}};
        double t0 = bench_now();
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/config.json'", dir,
                 s.quick ? md->quick_config : md->config, dir);
        if (system(cmd) != 0 || compile_plan(md->spec, s.quick ? md->quick_config : md->config, "cpu", MGC_BF16, &s,
                                             &plan, err, sizeof err) != 0) {
            fprintf(stderr, "bench_decode: %s: %s\n", md->name, err);
            continue;
        }
        int rc = bench_random_checkpoint(&plan, dir, &e);
        mgc_plan_free(&plan);
        if (rc != 0) {
            fprintf(stderr, "bench_decode: %s: %s\n", md->name, e.msg);
            continue;
        }
        char mix[4300];
        if (write_mix_spec(md->spec, dir, mix, sizeof mix) != 0) {
            fprintf(stderr, "bench_decode: %s: cannot write the mixed-precision spec\n", md->name);
            continue;
        }
        have[mi] = 1;
        printf("%s: random bf16 checkpoint written in %.1f s\n", md->name, bench_now() - t0);
        for (int di = 0; di < NDTYPES; di++)
            for (int t = 0; t < nt; t++) {
                if ((s.quick && DTYPES[di] == MGC_F32) || (only_w && !strstr(wname(DTYPES[di]), only_w)) ||
                    (t == 0 && nt > 1 && getenv("MGC_BENCH_ONLY_ALL_CORES")) ||
                    (t == 0 && nt > 1 && !s.quick && !getenv("MGC_BENCH_FULL") && DTYPES[di] != MGC_BF16))
                    continue;
                result *r = &res[mi][di][t];
                run_child(md, DTYPES[di] == MIX ? mix : md->spec, dir, DTYPES[di], tlist[t], 0, &s, r);
                if (!r->ok)
                    fprintf(stderr, "bench_decode: %s %s %d threads: %s\n", md->name, wname(DTYPES[di]), tlist[t],
                            r->err);
                else
                    printf("  %-15s %d thr: loaded in %.1f s; prefill %.1f tok/s, decode %.2f tok/s, batch %.1f "
                           "tok/s, eval %.1f pos/s\n",
                           wname(DTYPES[di]), tlist[t], r->load_s, r->prefill_tps, r->decode_tps, r->batch_tps,
                           r->eval_pps);
            }
        run_child(md, md->spec, dir, MGC_BF16, cores, 1, &s, &t3k[mi]);
        if (!t3k[mi].ok)
            fprintf(stderr, "bench_decode: %s t3000: %s\n", md->name, t3k[mi].err);
    }
    {
        char cmd[8600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_decode: could not remove %s\n", root);
    }

    /* ---- table ---- */
    printf("\n%-12s %-15s %3s | %9s %6s | %9s %6s | %9s %6s | %8s | %8s %8s %5s | %5s %5s\n", "model", "weights",
           "thr", "prefill", "/ceil", "decode", "/roof", "batch32", "x b1", "eval", "RSS MiB", "model", "ratio", "GB/s",
           "GF/s");
    printf("%-12s %-15s %3s | %9s %6s | %9s %6s | %9s %6s | %8s | %8s %8s %5s |\n", "", "", "", "tok/s", "", "tok/s",
           "", "tok/s", "", "pos/s", "peak", "MiB", "");
    for (int mi = 0; mi < NMODELS; mi++)
        for (int di = 0; di < NDTYPES; di++)
            for (int t = 0; t < nt; t++) {
                const result *r = &res[mi][di][t];
                if (!have[mi] || !r->ok)
                    continue;
                ratios q = ratios_of(r);
                printf("%-12s %-15s %3d | %9.1f %6.2f | %9.2f %6.2f | %9.1f %6.1f | %8.1f | %8.0f %8.0f %5.2f | %5.1f "
                       "%5.1f\n",
                       MODELS[mi].name, wname(DTYPES[di]), tlist[t], r->prefill_tps, q.prefill, r->decode_tps,
                       q.decode, r->batch_tps, q.batch, r->eval_pps, r->rss_mib, q.need_mib,
                       q.rss, r->bw_gbs, r->mm_gflops);
            }
    printf("(prefill /ceil: tokens/s over the median matmul rate of its path (where the CPU has AVX512-BF16, the bf16 "
           "dot on the configuration's weight dtype, bf8_b for the mix; else f32 sgemm) / FLOPs per token; decode /roof: over median read "
           "bandwidth / bytes per token, the bandwidth read right after each decode run in the configuration's own "
           "process (best of 8 passes) and the ratio the median of the runs' own, the matmul rate after the runs "
           "(columns GB/s: the median of the runs' bandwidths, GF/s); x b1: the medians of 32-user and 1-user decode "
           "steps alternated in one process, user tokens/s over tokens/s; model MiB: weights at plan dtype, a tied "
           "table once, + KV + activations)\n");
    for (int mi = 0; mi < NMODELS; mi++)
        for (int di = 0; di < NDTYPES; di++)
            for (int t = 0; t < nt; t++) {
                const result *r = &res[mi][di][t];
                if (have[mi] && r->ok && r->roof_disturbed)
                    printf("%s %s, %d thread%s: decode /roof not a measurement: in %d of %d runs the read ceiling, "
                           "read right after the run, was below the bandwidth the run itself moved (the host was "
                           "busy)\n",
                           MODELS[mi].name, wname(DTYPES[di]), tlist[t], tlist[t] > 1 ? "s" : "", r->roof_disturbed,
                           s.reps);
            }
    int T = nt - 1;
    for (int mi = 0; mi < NMODELS; mi++) {
        if (!have[mi] || !t3k[mi].ok)
            continue;
        double ratio = t3k[mi].decode_tps / t3k[mi].pair_cpu_tps;
        printf("%s bf16, %d threads: t3000 plan decode %.2f tok/s vs cpu plan %.2f tok/s (one process, steps "
               "alternated) = %.2f (target >= 0.85: %s)\n",
               MODELS[mi].name, tlist[T], t3k[mi].decode_tps, t3k[mi].pair_cpu_tps, ratio, mark(ratio >= 0.85));
    }
    if (!s.quick) {
        printf("targets (%d threads, issue 9):\n", tlist[T]);
        for (int mi = 0; mi < NMODELS; mi++)
            for (int di = 1; di < NDTYPES; di++) {
                const result *r = &res[mi][di][T];
                if (!have[mi] || !r->ok)
                    continue;
                ratios q = ratios_of(r);
                printf("  %-12s %-15s decode %.2f of roofline (>= 0.90: %s); batch32 %.1fx batch 1 (>= 10: %s); "
                       "RSS %.2fx model (<= 1.15: %s)",
                       MODELS[mi].name, wname(DTYPES[di]), q.decode,
                       r->roof_disturbed ? "NOT JUDGED, a ceiling window was disturbed" : mark(q.decode >= 0.9),
                       q.batch, mark(q.batch >= 10), q.rss,
                       mark(q.rss <= 1.15));
                /* 32 users need 32 tokens' FLOPs per step (the head's
                 * too) and read 32 users' KV caches: with every linear at
                 * the matmul ceiling and the cache read at the read ceiling
                 * (the ops run one after another), a user's token takes at
                 * least this, whatever else the step does */
                double floor_s = r->decode_flops_per_token / (r->mm_gflops * 1e9) +
                                 r->kv_bytes_per_token / (r->bw_gbs * 1e9);
                double bound = 1.0 / floor_s;
                printf("; batch32 at most %.0f tok/s (= %.1fx batch 1: every linear at the matmul ceiling, the KV "
                       "cache read at the read ceiling), reached %.2f",
                       bound, bound / r->alt_one_tps, r->batch_tps / bound);
                /* the same bound with every linear at the register peak of
                 * the instruction its path multiplies with (best pass): what
                 * the host allows, whatever mgc's matmul path reaches */
                const bench_peak *pk = DTYPES[di] != MGC_F32 && pkb[T].best_gflops > 0 ? &pkb[T] : &pkf[T];
                if (pk->best_gflops > 0) {
                    double hard = 1.0 / (r->decode_flops_per_token / (pk->best_gflops * 1e9) +
                                         r->kv_bytes_per_token / (r->bw_gbs * 1e9));
                    printf("; at the %s register peak %.0f tok/s (= %.1fx), reached %.2f",
                           pk == &pkb[T] ? "bf16 dot" : "f32 fma", hard, hard / r->alt_one_tps, r->batch_tps / hard);
                }
                if (DTYPES[di] == MGC_BF16) {
                    double want = strstr(MODELS[mi].name, "Qwen") ? 148 : 85;
                    printf("; prefill %.1f tok/s (>= llama.cpp BF16's %.0f quoted in issue 9: %s)", r->prefill_tps,
                           want, mark(r->prefill_tps >= want));
                }
                printf("\n");
            }
    }

    /* ---- JSON ---- */
    const char *jpath = getenv("MGC_BENCH_JSON") ? getenv("MGC_BENCH_JSON") : "build/bench/bench_decode.json";
    FILE *j = fopen(jpath, "w");
    if (!j) {
        fprintf(stderr, "bench_decode: cannot write %s\n", jpath);
        return 1;
    }
    fprintf(j, "{\"quick\": %s, \"cores\": %d, \"isa\": \"%s\",\n \"ceilings\": [", s.quick ? "true" : "false",
            cores, rt_isa_name(rt_cpu_best_isa()));
    for (int t = 0; t < nt; t++)
        fprintf(j,
                "%s\n  {\"threads\": %d, \"read_gbs_best\": %.2f, \"read_gbs_median\": %.2f, \"read_kernel\": \"%s\", "
                "\"read_bytes\": %zu, \"sgemm_gflops_best\": %.1f, \"sgemm_gflops_median\": %.1f, "
                "\"bf16dot_gflops_best\": %.1f, \"bf16dot_gflops_median\": %.1f, \"bf16dot_peak_gflops_best\": %.1f, "
                "\"bf16dot_peak_gflops_median\": %.1f, \"f32_fma_peak_gflops_best\": %.1f, "
                "\"f32_fma_peak_gflops_median\": %.1f}",
                t ? "," : "", tlist[t], bw[t].best_gbs, bw[t].median_gbs, bw[t].kernel, bw[t].bytes,
                mm[t].best_gflops, mm[t].median_gflops, mmb[t].best_gflops, mmb[t].median_gflops, pkb[t].best_gflops,
                pkb[t].median_gflops, pkf[t].best_gflops, pkf[t].median_gflops);
    fprintf(j, "],\n \"runs\": [");
    int first = 1;
    for (int mi = 0; mi < NMODELS; mi++)
        for (int di = 0; di < NDTYPES; di++)
            for (int t = 0; t < nt; t++) {
                const result *r = &res[mi][di][t];
                if (!have[mi] || !r->ok)
                    continue;
                ratios q = ratios_of(r);
                fprintf(j,
                        "%s\n  {\"model\": \"%s\", \"weights\": \"%s\", \"threads\": %d, \"prefill_tps\": %.2f, "
                        "\"prefill_of_ceiling\": %.3f, \"decode_tps\": %.3f, \"decode_of_roofline\": %.3f, "
                        "\"batch32_tps\": %.2f, \"eval_pps\": %.2f, \"peak_rss_mib\": %.1f, \"weights_mib\": %.1f, "
                        "\"weights_once_mib\": %.1f, \"kv_mib\": %.1f, \"activations_mib\": %.1f, "
                        "\"decode_bytes_per_token\": %.0f, \"prefill_flops_per_token\": %.0f, \"read_gbs_median\": %.2f, "
                        "\"matmul_gflops_median\": %.1f, \"decode_flops_per_token\": %.0f, \"kv_bytes_per_token\": %.0f, "
                        "\"decode_roof_disturbed_runs\": %d, \"batch32_x_batch1_alternated\": %.2f, "
                        "\"alternated_decode_tps\": %.3f}",
                        first ? "" : ",", MODELS[mi].name, wname(DTYPES[di]), tlist[t], r->prefill_tps,
                        q.prefill, r->decode_tps, q.decode, r->batch_tps, r->eval_pps,
                        r->rss_mib, r->weights_mib, r->weights_once_mib, r->kv_mib, r->act_mib,
                        r->read_bytes_per_token, r->flops_per_token, r->bw_gbs, r->mm_gflops,
                        r->decode_flops_per_token, r->kv_bytes_per_token, r->roof_disturbed, q.batch,
                        r->alt_one_tps);
                first = 0;
            }
    fprintf(j, "],\n \"t3000_vs_cpu\": [");
    first = 1;
    for (int mi = 0; mi < NMODELS; mi++)
        if (have[mi] && t3k[mi].ok) {
            fprintf(j,
                    "%s\n  {\"model\": \"%s\", \"threads\": %d, \"t3000_decode_tps\": %.3f, \"cpu_decode_tps\": %.3f, "
                    "\"method\": \"one process, decode steps alternated\"}",
                    first ? "" : ",", MODELS[mi].name, tlist[nt - 1], t3k[mi].decode_tps, t3k[mi].pair_cpu_tps);
            first = 0;
        }
    fprintf(j, "]}\n");
    fclose(j);
    printf("JSON (%s):\n", jpath);
    j = fopen(jpath, "r");
    char buf[4096];
    size_t got;
    while (j && (got = fread(buf, 1, sizeof buf, j)) > 0)
        fwrite(buf, 1, got, stdout);
    if (j)
        fclose(j);
    return 0;
}
