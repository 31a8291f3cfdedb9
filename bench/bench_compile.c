/* bench_compile: how long `mgc compile` takes on the five bringups at true
 * size, each for its own system, from their real config.json files (no
 * checkpoint), in-process: mgc_compile alone (parse, check, elaborate, pad,
 * lower, plan memory, validate) and with the plan serialized to YAML.  Min
 * and median of RUNS runs each (after a warm-up), then the five in a row.
 * The target is 10 ms per bringup (issue 9) and well under a second for all five;
 * the figures are printed as a ratio to it.  Exit status 1 if a best time
 * misses the target (medians drift on a shared machine; minima do not).
 * Run from the repository root.  Usage: bench_compile [runs, default 30]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"

#define TARGET_MS 10.0
#define TOTAL_TARGET_MS 1000.0

static const struct {
    const char *name, *spec, *config;
} bringups[] = {
    {"Llama-3.2-1B", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "graphs/meta-llama/Llama-3.2-1B/config.json"},
    {"Phi-3-mini-128k", "graphs/microsoft/Phi-3-mini-128k-instruct/t3000.graph",
     "graphs/microsoft/Phi-3-mini-128k-instruct/config.json"},
    {"Qwen3-0.6B", "graphs/Qwen/Qwen3-0.6B/t3000.graph", "graphs/Qwen/Qwen3-0.6B/config.json"},
    {"Mistral-7B-v0.3", "graphs/mistralai/Mistral-7B-Instruct-v0.3/t3000.graph",
     "graphs/mistralai/Mistral-7B-Instruct-v0.3/config.json"},
    {"ALLaM-7B", "graphs/humain-ai/ALLaM-7B-Instruct-preview/n150.graph",
     "graphs/humain-ai/ALLaM-7B-Instruct-preview/config.json"},
};
#define N (sizeof bringups / sizeof bringups[0])

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Compiles bringup i once; with_yaml also serializes the plan.  Returns the
 * time in ms, or -1 on failure (diagnostics printed).  *summary (if given)
 * receives a one-line description of the plan. */
static double compile_once(size_t i, int with_yaml, char *summary, size_t n)
{
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = bringups[i].spec;
    o.config_path = bringups[i].config;
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_plan plan;
    double t0 = now_ms();
    int rc = mgc_compile(&o, &d, NULL, &plan);
    char *yaml = NULL;
    if (rc == 0 && with_yaml) {
        mgc_error e = {{0}};
        yaml = mgc_plan_to_string(&plan, &e);
        if (!yaml) {
            fprintf(stderr, "bench_compile: %s: %s\n", bringups[i].name, e.msg);
            rc = -1;
        }
    }
    double t = now_ms() - t0;
    if (rc != 0) {
        mgc_diags_print(&d, stderr, 0);
        mgc_diags_free(&d);
        return -1;
    }
    if (summary)
        snprintf(summary, n, "%-6s %2d dev %4zu weights %5zu+%zu ops %7zu KiB YAML", plan.system, plan.ndevices,
                 plan.nweights, plan.prefill.nops, plan.decode.nops, yaml ? strlen(yaml) / 1024 : (size_t)0);
    free(yaml);
    mgc_plan_free(&plan);
    mgc_diags_free(&d);
    return t;
}

typedef struct stats {
    double min, median;
} stats;

static stats summarize(double *t, int runs)
{
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    stats s = {t[0], runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2])};
    return s;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 30;
    if (runs < 1 || runs > 100000) {
        fprintf(stderr, "usage: bench_compile [runs >= 1, default 30]\n");
        return 2;
    }
    double *t = malloc(sizeof(double) * (size_t)runs);
    double *ty = malloc(sizeof(double) * (size_t)runs);
    if (!t || !ty)
        return 1;
    int bad = 0;
    double worst = 0;
    printf("bench_compile: mgc_compile in-process on the five bringups at true size (real config.json, no\n"
           "checkpoint), each for its own system; %d runs after a warm-up; target %.0f ms each.\n\n",
           runs, TARGET_MS);
    printf("%-16s %-58s %8s %8s %8s %9s %9s\n", "bringup", "plan", "min ms", "med ms", "/target", "+yaml min",
           "+yaml med");
    for (size_t i = 0; i < N; i++) {
        char summary[128] = "";
        if (compile_once(i, 1, summary, sizeof summary) < 0)
            return 1;
        for (int r = 0; r < runs; r++) {
            t[r] = compile_once(i, 0, NULL, 0);
            ty[r] = compile_once(i, 1, NULL, 0);
            if (t[r] < 0 || ty[r] < 0)
                return 1;
        }
        stats s = summarize(t, runs), sy = summarize(ty, runs);
        printf("%-16s %-58s %8.2f %8.2f %7.3fx %9.2f %9.2f\n", bringups[i].name, summary, s.min, s.median,
               s.median / TARGET_MS, sy.min, sy.median);
        if (s.min > TARGET_MS)
            bad = 1;
        if (s.median > worst)
            worst = s.median;
    }
    /* the five in a row */
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        for (size_t i = 0; i < N; i++)
            if (compile_once(i, 0, NULL, 0) < 0)
                return 1;
        t[r] = now_ms() - t0;
    }
    stats all = summarize(t, runs);
    printf("%-16s %-58s %8.2f %8.2f %7.3fx  (target %.0f ms for all five)\n", "all five", "", all.min, all.median,
           all.median / TOTAL_TARGET_MS, TOTAL_TARGET_MS);
    if (all.min > TOTAL_TARGET_MS)
        bad = 1;
    printf("\n%s: slowest bringup median %.2f ms = %.3f of the %.0f ms target; all five %.2f ms (median)\n",
           bad ? "MISSED" : "ok", worst, worst / TARGET_MS, TARGET_MS, all.median);
    free(t);
    free(ty);
    return bad;
}
