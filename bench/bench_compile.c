/* bench_compile: how long `mgc compile` takes on the bundled bringups at true
 * size, each for its own system, from their real config.json files (no
 * checkpoint), in-process: mgc_compile alone (parse, check, elaborate, pad,
 * lower, plan memory, validate) and with the plan serialized to YAML.  Min
 * and median of RUNS runs each (after a warm-up), then all in a row.
 * The target is 10 ms per bringup and well under a second for all of them;
 * the figures are printed as a ratio to it.  Exit status 1 if a best time
 * misses the target (medians drift on a shared machine; minima do not).
 * Quick mode (MGC_BENCH_QUICK, as make bench-quick and CI run it): 3 runs
 * and no target judged, so that a loaded CI host cannot fail it; it still
 * fails on a bringup that does not compile.
 * Run from the repository root.  Usage: bench_compile [runs, default 30]
 * [SUBSTRING: only the bringups whose hf id contains it]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"

#define TARGET_MS 10.0
#define TOTAL_TARGET_MS 1000.0

/* The bundled bringups, as graphs/bringups.tsv lists them (hf_id, spec, ...),
 * each with the real config.json beside its spec. */
#define MAX_BRINGUPS 64
static struct {
    char name[96], spec[512], config[512];
} bringups[MAX_BRINGUPS];
static size_t N;

static int read_bringups(const char *tsv, const char *only)
{
    FILE *f = fopen(tsv, "r");
    if (!f) {
        perror(tsv);
        return -1;
    }
    char line[2048];
    while (fgets(line, sizeof line, f) && N < MAX_BRINGUPS) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *id = strtok(line, "\t\n"), *spec = strtok(NULL, "\t\n");
        if (!id || !spec)
            continue;
        if (only && !strstr(id, only))
            continue;
        const char *slash = strrchr(id, '/');
        snprintf(bringups[N].name, sizeof bringups[N].name, "%.95s", slash ? slash + 1 : id);
        snprintf(bringups[N].spec, sizeof bringups[N].spec, "%.511s", spec);
        char *dir_end = strrchr(spec, '/');
        if (dir_end)
            *dir_end = 0;
        snprintf(bringups[N].config, sizeof bringups[N].config, "%.490s/config.json", spec);
        N++;
    }
    fclose(f);
    if (N == 0)
        fprintf(stderr, "bench_compile: %s lists no bringup%s%s\n", tsv, only ? " matching " : "", only ? only : "");
    return N ? 0 : -1;
}

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
    const int quick = getenv("MGC_BENCH_QUICK") && *getenv("MGC_BENCH_QUICK");
    int runs = argc > 1 ? atoi(argv[1]) : quick ? 3 : 30;
    if (runs < 1 || runs > 100000) {
        fprintf(stderr, "usage: bench_compile [runs >= 1, default 30] [part of an hf id: only those bringups]\n");
        return 2;
    }
    if (read_bringups("graphs/bringups.tsv", argc > 2 ? argv[2] : NULL) != 0)
        return 1;
    double *t = malloc(sizeof(double) * (size_t)runs);
    double *ty = malloc(sizeof(double) * (size_t)runs);
    if (!t || !ty)
        return 1;
    int bad = 0;
    double worst = 0;
    printf("bench_compile: mgc_compile in-process on the %zu bundled bringups (graphs/bringups.tsv) at true\n"
           "size (real config.json, no checkpoint), each for its own system; %d runs after a warm-up;\n"
           "target %.0f ms each.\n\n",
           N, runs, TARGET_MS);
    printf("%-26s %-58s %8s %8s %8s %9s %9s\n", "bringup", "plan", "min ms", "med ms", "/target", "+yaml min",
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
        printf("%-26s %-58s %8.2f %8.2f %7.3fx %9.2f %9.2f\n", bringups[i].name, summary, s.min, s.median,
               s.median / TARGET_MS, sy.min, sy.median);
        if (s.min > TARGET_MS)
            bad = 1;
        if (s.median > worst)
            worst = s.median;
    }
    /* all of them in a row */
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        for (size_t i = 0; i < N; i++)
            if (compile_once(i, 0, NULL, 0) < 0)
                return 1;
        t[r] = now_ms() - t0;
    }
    stats all = summarize(t, runs);
    char all_name[32];
    snprintf(all_name, sizeof all_name, "all %zu", N);
    printf("%-26s %-58s %8.2f %8.2f %7.3fx  (target %.0f ms for all)\n", all_name, "", all.min, all.median,
           all.median / TOTAL_TARGET_MS, TOTAL_TARGET_MS);
    if (all.min > TOTAL_TARGET_MS)
        bad = 1;
    printf("\n%s: slowest bringup median %.2f ms = %.3f of the %.0f ms target; all %zu %.2f ms (median)\n",
           quick ? "quick mode, not judged" : bad ? "MISSED" : "ok", worst, worst / TARGET_MS, TARGET_MS, N,
           all.median);
    free(t);
    free(ty);
    return quick ? 0 : bad;
}
