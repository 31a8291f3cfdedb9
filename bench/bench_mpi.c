/* bench_mpi: the MPI mesh against the in-process mesh and one device.
 *
 * For Qwen3-0.6B and Llama-3.2-1B at true size (random bf16 weights written to
 * a temporary directory, as bench_decode does), compiles the bundled spec for
 * `cpu` (1 device) and `t3000` (8 devices) and runs `mgc run` with a 32-token
 * prompt and 8 new tokens three ways on this machine:
 *
 *   cpu     the 1-device plan, in process
 *   local   the t3000 plan, 8 devices as threads of one process (--mesh local)
 *   mpi     the t3000 plan, 8 ranks (mpirun -np 8 ... --mesh mpi)
 *
 * and prints prefill and decode tok/s with the ratios mpi/local and mpi/cpu.
 * With MGC_MPI_STATS every rank reports the bytes its collectives sent and its
 * peak RSS; a second MPI run with 1 new token gives the bytes of one decode
 * step (the difference over 7 steps), printed against the count from the
 * model's dimensions: per layer two all-reduces of `hidden` values (each rank
 * sends 2 (N-1)/N of them in the reduce-scatter + all-gather), plus the logits
 * all-gather ((N-1) x vocab/N values).  Peak RSS per rank is printed against
 * the rank's share (the plan's per-device weights + KV cache + activations).
 *
 * usage: bench_mpi   (needs mpirun; MGC = the mgc binary, default build/mgc;
 * MGC_BENCH_MODELS=qwen|llama picks one model; MGC_BENCH_KEEP=1 keeps the
 * random checkpoint and plans and prints where; MGC_BENCH_QUICK=1: one round) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccl_mpi.h"
#include "compile.h"
#include "plan.h"
#include "safetensors.h"
#include "support/random_checkpoint.h"

#define PROMPT 32
#define NEW 8
/* Each configuration runs ROUNDS times, interleaved (cpu, local, mpi, cpu,
 * ...) so that a change in the machine's load falls on all three alike; the
 * speeds printed are medians, the peak RSS the largest seen. */
#define ROUNDS 3
static int g_rounds = ROUNDS; /* 1 in quick mode (MGC_BENCH_QUICK) */
#define MPIRUN "mpirun --allow-run-as-root --oversubscribe --mca mpi_yield_when_idle 1"

typedef struct result {
    double prefill_tps, decode_tps;
    unsigned long long bytes[64]; /* per rank */
    long rss_kib[64];
    int nranks;
} result;

/* Runs a shell command, parsing mgc run's timing line and the ranks' stats. */
static int run(const char *cmd, result *r)
{
    memset(r, 0, sizeof *r);
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1 >/dev/null", cmd);
    FILE *f = popen(full, "r");
    if (!f)
        return -1;
    char line[2048];
    int got = 0;
    while (fgets(line, sizeof line, f)) {
        int np = 0, steps = 0, rank = 0;
        long users = 0, rss = 0;
        double pre = 0, dec = 0;
        unsigned long long b = 0;
        char *p = strstr(line, "prefill ");
        char *in = p ? strstr(p, " in ") : NULL;
        if (in && sscanf(p, "prefill %d tokens x %ld", &np, &users) == 2 &&
            sscanf(in, " in %lf s; decode %d steps in %lf s", &pre, &steps, &dec) == 3) {
            r->prefill_tps = pre > 0 ? np / pre : 0;
            r->decode_tps = dec > 0 ? steps / dec : 0;
            got = 1;
        } else if (sscanf(line, "mgc: rank %d: collectives sent %llu bytes, peak RSS %ld KiB", &rank, &b, &rss) == 3 &&
                   rank >= 0 && rank < 64) {
            r->bytes[rank] = b;
            r->rss_kib[rank] = rss;
            if (rank + 1 > r->nranks)
                r->nranks = rank + 1;
        } else if (p || strstr(line, "error") || strstr(line, "mgc run:")) {
            fputs(line, stderr);
        }
    }
    int st = pclose(f);
    return st == 0 && got ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median speeds of ROUNDS runs; bytes from the first run (they do not
 * vary), the largest peak RSS of each rank. */
static void median_of(const result *rs, result *out)
{
    double pre[ROUNDS], dec[ROUNDS];
    *out = rs[0];
    for (int k = 0; k < g_rounds; k++) {
        pre[k] = rs[k].prefill_tps;
        dec[k] = rs[k].decode_tps;
        for (int r = 0; r < rs[k].nranks && r < 64; r++)
            if (rs[k].rss_kib[r] > out->rss_kib[r])
                out->rss_kib[r] = rs[k].rss_kib[r];
    }
    qsort(pre, (size_t)g_rounds, sizeof pre[0], cmp_double);
    qsort(dec, (size_t)g_rounds, sizeof dec[0], cmp_double);
    out->prefill_tps = pre[g_rounds / 2];
    out->decode_tps = dec[g_rounds / 2];
}

static int bench_model(const char *mgc, const char *name, const char *spec, const char *config)
{
    char dir[] = "/tmp/mgc-bench-mpi.XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    mgc_error e = {{0}};
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    o.config_path = config;
    o.system = "cpu";
    o.max_seq_len = 256;
    o.batch = 1;
    mgc_plan cpu, t3k;
    memset(&cpu, 0, sizeof cpu);
    memset(&t3k, 0, sizeof t3k);
    int rc = -1;
    char cmd[8192], tokens[512] = "";
    for (int i = 0; i < PROMPT; i++)
        snprintf(tokens + strlen(tokens), sizeof tokens - strlen(tokens), "%s%d", i ? "," : "", (i * 7919) % 32000 + 1);
    if (mgc_compile(&o, &d, NULL, &cpu) != 0) {
        mgc_diags_print(&d, stderr, 0);
        goto out;
    }
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/config.json'", config, dir);
    if (system(cmd) != 0 || bench_random_checkpoint(&cpu, dir, &e) != 0) {
        fprintf(stderr, "bench_mpi: %s\n", e.msg[0] ? e.msg : "cannot write the checkpoint");
        goto out;
    }
    const char *systems[2] = {"cpu", "t3000"};
    for (int s = 0; s < 2; s++) {
        snprintf(cmd, sizeof cmd, "'%s' compile '%s' --model '%s' --system %s --max-seq-len 256 --batch 1 -o '%s/%s.plan' 2>/dev/null",
                 mgc, spec, dir, systems[s], dir, systems[s]);
        if (system(cmd) != 0) {
            fprintf(stderr, "bench_mpi: cannot compile %s for %s\n", spec, systems[s]);
            goto out;
        }
    }
    snprintf(cmd, sizeof cmd, "%s/t3000.plan", dir);
    if (mgc_plan_read(cmd, &t3k, &e) != 0) {
        fprintf(stderr, "bench_mpi: %s\n", e.msg);
        goto out;
    }
    result r_cpu, r_local, r_mpi, r_mpi1, rounds[3][ROUNDS];
    char cmds[3][8192];
    snprintf(cmds[0], sizeof cmds[0], "'%s' run '%s/cpu.plan' --model '%s' --tokens %s --max-new-tokens %d", mgc, dir,
             dir, tokens, NEW + 1);
    snprintf(cmds[1], sizeof cmds[1], "'%s' run '%s/t3000.plan' --model '%s' --tokens %s --max-new-tokens %d", mgc,
             dir, dir, tokens, NEW + 1);
    snprintf(cmds[2], sizeof cmds[2],
             "MGC_MPI_STATS=1 " MPIRUN " -np 8 '%s' run '%s/t3000.plan' --model '%s' --tokens %s --max-new-tokens %d "
             "--mesh mpi",
             mgc, dir, dir, tokens, NEW + 1);
    for (int k = 0; k < g_rounds; k++)
        for (int c = 0; c < 3; c++)
            if (run(cmds[c], &rounds[c][k]) != 0)
                goto out;
    median_of(rounds[0], &r_cpu);
    median_of(rounds[1], &r_local);
    median_of(rounds[2], &r_mpi);
    snprintf(cmd, sizeof cmd,
             "MGC_MPI_STATS=1 " MPIRUN " -np 8 '%s' run '%s/t3000.plan' --model '%s' --tokens %s --max-new-tokens 1 "
             "--mesh mpi",
             mgc, dir, dir, tokens);
    if (run(cmd, &r_mpi1) != 0)
        goto out;
    int N = t3k.ndevices;
    printf("%s (random bf16 weights, prompt %d, %d decode steps, 1 user; medians of %d interleaved rounds):\n", name,
           PROMPT, NEW, g_rounds);
    printf("  %-28s %10s %10s\n", "", "prefill", "decode");
    printf("  %-28s %10.1f %10.2f tok/s\n", "cpu plan, 1 device", r_cpu.prefill_tps, r_cpu.decode_tps);
    printf("  %-28s %10.1f %10.2f tok/s\n", "t3000, 8 devices in process", r_local.prefill_tps, r_local.decode_tps);
    printf("  %-28s %10.1f %10.2f tok/s\n", "t3000, 8 MPI ranks", r_mpi.prefill_tps, r_mpi.decode_tps);
    printf("  mpi / in-process: prefill %.2fx, decode %.2fx;  mpi / cpu: prefill %.2fx, decode %.2fx\n",
           r_mpi.prefill_tps / r_local.prefill_tps, r_mpi.decode_tps / r_local.decode_tps,
           r_mpi.prefill_tps / r_cpu.prefill_tps, r_mpi.decode_tps / r_cpu.decode_tps);
    /* bytes per decode step: the runs differ by NEW decode steps */
    double hidden = (double)t3k.hidden, vocab_local = (double)((t3k.vocab + N - 1) / N);
    double expect = (double)t3k.n_layers * 2 * 2.0 * (N - 1) / N * hidden * 4 + (N - 1) * vocab_local * 4;
    printf("  collectives per decode step, bytes sent by each rank (model: %lld layers x 2 all-reduces of %lld values "
           "+ logits gather = %.0f):\n   ",
           (long long)t3k.n_layers, (long long)t3k.hidden, expect);
    for (int k = 0; k < r_mpi.nranks && k < r_mpi1.nranks; k++)
        printf(" r%d %.0f (%.3fx)", k, (double)(r_mpi.bytes[k] - r_mpi1.bytes[k]) / NEW,
               (double)(r_mpi.bytes[k] - r_mpi1.bytes[k]) / NEW / expect);
    printf("\n    (rank 0 also broadcasts each call, %zu bytes to each of the others)\n",
           (size_t)(4 * (4 + 4 * (t3k.prefill.rows > t3k.decode.rows ? t3k.prefill.rows : t3k.decode.rows))));
    double share = (double)(t3k.memory.weights + t3k.memory.kv_cache + t3k.memory.activations) / 1024.0;
    printf("  peak RSS per rank vs its share (%.0f MiB = weights %.0f + KV %.0f + activations %.0f MiB):\n   ",
           share / 1024, t3k.memory.weights / 1048576.0, t3k.memory.kv_cache / 1048576.0,
           t3k.memory.activations / 1048576.0);
    for (int k = 0; k < r_mpi.nranks; k++)
        printf(" r%d %.0f MiB (%.2fx)", k, r_mpi.rss_kib[k] / 1024.0, r_mpi.rss_kib[k] / share);
    printf("\n");
    rc = 0;
out:
    mgc_plan_free(&cpu);
    mgc_plan_free(&t3k);
    mgc_diags_free(&d);
    if (getenv("MGC_BENCH_KEEP")) {
        printf("  (checkpoint and plans kept in %s)\n", dir);
    } else {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_mpi: could not remove %s\n", dir);
    }
    return rc;
}

int main(void)
{
    if (!rt_mpi_compiled_in() || system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("bench_mpi: skipped: %s\n", rt_mpi_compiled_in() ? "mpirun is not installed" : "built without OpenMPI");
        return 0;
    }
    const char *mgc = getenv("MGC") ? getenv("MGC") : "build/mgc";
    const char *only = getenv("MGC_BENCH_MODELS");
    if (getenv("MGC_BENCH_QUICK") && *getenv("MGC_BENCH_QUICK"))
        g_rounds = 1;
    int rc = 0;
    if (!only || strstr(only, "qwen"))
        rc |= bench_model(mgc, "Qwen3-0.6B", "graphs/Qwen/Qwen3-0.6B/t3000.graph",
                          "graphs/Qwen/Qwen3-0.6B/config.json");
    if (!only || strstr(only, "llama"))
        rc |= bench_model(mgc, "Llama-3.2-1B", "graphs/meta-llama/Llama-3.2-1B/t3000.graph",
                          "graphs/meta-llama/Llama-3.2-1B/config.json");
    return rc ? 1 : 0;
}
