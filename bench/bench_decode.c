/* bench_decode: prefill and decode speed of a real-size bringup on this host.
 *
 * Real weights are not bundled, so the benchmark writes a checkpoint of
 * Qwen3-0.6B's true dimensions (graphs/Qwen/Qwen3-0.6B/config.json) with
 * random bf16 weights into a temporary directory, compiles the bundled spec
 * for the `cpu` system (one device, the spec's bf16 weights), and times a
 * 128-token prefill and 32 decode steps, as llama.cpp's `llama-bench -p 128
 * -n 32` does.  Decode is bound by reading the weights once per token, so the
 * figure that matters is the ratio to bytes-per-token / DRAM bandwidth, with
 * the bandwidth measured in the same run.
 *
 * usage: bench_decode [decode_steps]
 * (MGC_BENCH_DECODE_SPEC / _CONFIG pick another bringup, _SYSTEM another system,
 * e.g. t3000: eight simulated devices sharing this host's cores) */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "engine.h"
#include "safetensors.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* GB/s of a plain read over `n` bytes (more than any cache) by `threads`
 * threads, each summing its own part: the host's read bandwidth. */
typedef struct rd_arg {
    const double *a;
    size_t n;
    double sum;
} rd_arg;

static void *read_part(void *p)
{
    rd_arg *r = p;
    double s = 0;
    for (size_t i = 0; i < r->n; i++)
        s += r->a[i];
    r->sum = s;
    return NULL;
}

static double dram_read_gbs(size_t n, int threads)
{
    size_t words = n / sizeof(double);
    double *a = malloc(words * sizeof(double));
    for (size_t i = 0; i < words; i++)
        a[i] = (double)(i & 7);
    double best = 0;
    for (int r = 0; r < 3; r++) {
        pthread_t th[8];
        rd_arg args[8];
        double t0 = now();
        for (int k = 0; k < threads; k++) {
            args[k] = (rd_arg){a + words / (size_t)threads * (size_t)k, words / (size_t)threads, 0};
            pthread_create(&th[k], NULL, read_part, &args[k]);
        }
        for (int k = 0; k < threads; k++)
            pthread_join(th[k], NULL);
        double t = now() - t0;
        if ((double)n / t / 1e9 > best)
            best = (double)n / t / 1e9;
    }
    free(a);
    return best;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint16_t rand_bf16(float scale)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    float f = ((float)(rng >> 40) / (float)(1 << 24) - 0.5f) * 2 * scale;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

/* Writes random bf16 tensors with the shapes the plan expects. */
static int synthesize(const mgc_plan *p, const char *dir, mgc_error *e)
{
    rt_st_entry *ents = calloc(p->nweights, sizeof *ents);
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < p->nweights && rc == 0; i++) {
        const mgc_plan_weight *w = &p->weights[i];
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= strcmp(ents[k].name, w->hf_name) == 0;
        if (dup)
            continue; /* tied or fused parts: one checkpoint tensor */
        size_t numel = (size_t)w->hf_shape[0] * (size_t)(w->rank == 2 ? w->hf_shape[1] : 1);
        uint16_t *data = malloc(numel * 2);
        float scale = w->role == MGC_W_NORM ? 1.0f : 0.02f;
        for (size_t k = 0; k < numel; k++)
            data[k] = w->role == MGC_W_NORM ? 0x3f80 /* 1.0 */ : rand_bf16(scale);
        ents[n] = (rt_st_entry){.name = w->hf_name, .dtype = RT_ST_BF16, .ndim = w->rank, .data = data,
                                .nbytes = numel * 2};
        ents[n].shape[0] = w->hf_shape[0];
        if (w->rank == 2)
            ents[n].shape[1] = w->hf_shape[1];
        n++;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rc = rt_st_write(path, ents, n, NULL, e);
    for (size_t k = 0; k < n; k++)
        free((void *)ents[k].data);
    free(ents);
    return rc;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 32;
    const char *spec = getenv("MGC_BENCH_DECODE_SPEC") ? getenv("MGC_BENCH_DECODE_SPEC")
                                                        : "graphs/Qwen/Qwen3-0.6B/t3000.graph";
    const char *config = getenv("MGC_BENCH_DECODE_CONFIG") ? getenv("MGC_BENCH_DECODE_CONFIG")
                                                            : "graphs/Qwen/Qwen3-0.6B/config.json";
    char dir[] = "/tmp/mgc-bench-decode.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    mgc_error e = {{0}};
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    o.config_path = config;
    o.system = getenv("MGC_BENCH_DECODE_SYSTEM") ? getenv("MGC_BENCH_DECODE_SYSTEM") : "cpu";
    o.max_seq_len = 256;
    o.batch = 1;
    mgc_plan plan;
    int rc = 1;
    rt_engine *en = NULL;
    char cmd[4200];
    if (mgc_compile(&o, &d, NULL, &plan) != 0) {
        mgc_diags_print(&d, stderr, 0);
        goto out;
    }
    printf("bench_decode: %s at true size, random bf16 weights, system %s (%d device%s), %s weights\n", plan.model,
           plan.system, plan.ndevices, plan.ndevices == 1 ? "" : "s", mgc_dtype_name(plan.weights_dtype));
    double t0 = now();
    char cfgcopy[4096];
    snprintf(cfgcopy, sizeof cfgcopy, "cp '%s' '%s/config.json'", config, dir);
    if (system(cfgcopy) != 0 || synthesize(&plan, dir, &e) != 0) {
        fprintf(stderr, "bench_decode: %s\n", e.msg[0] ? e.msg : "cannot write the checkpoint");
        goto out;
    }
    double t1 = now();
    rt_engine_opts eo = {0};
    if (rt_engine_load(&plan, dir, &eo, &en, &e) != 0) {
        fprintf(stderr, "bench_decode: %s\n", e.msg);
        goto out;
    }
    double t2 = now();
    printf("checkpoint written in %.1f s, loaded in %.1f s; weights %.0f MiB at plan dtypes\n", t1 - t0, t2 - t1,
           (double)plan.memory.weights / 1048576.0);
    int64_t vocab = rt_engine_vocab(en);
    int np = 128;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(np + steps));
    for (int i = 0; i < np + steps; i++)
        tok[i] = (int32_t)((i * 7919) % vocab);
    float *logits = malloc(sizeof(float) * (size_t)np * (size_t)vocab);
    double best_pre = 1e9, best_dec = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double a = now();
        if (rt_engine_prefill(en, 0, tok, np, 0, logits, &e) != 0)
            goto fail;
        double b = now();
        int user = 0;
        for (int s = 0; s < steps; s++) {
            int32_t pos = np + s;
            if (rt_engine_decode(en, 1, &user, &tok[np + s], &pos, logits, &e) != 0)
                goto fail;
        }
        double c = now();
        if (b - a < best_pre)
            best_pre = b - a;
        if (c - b < best_dec)
            best_dec = c - b;
    }
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1 || cores > 8)
        cores = cores < 1 ? 1 : 8;
    double bw = dram_read_gbs((size_t)1 << 30, cores);
    /* a decode step reads every weight once (the embedding table only one
     * row), on every device: the simulated devices share this host's DRAM */
    double bytes = 0;
    for (size_t i = 0; i < plan.nweights; i++)
        if (plan.weights[i].role != MGC_W_EMBEDDING)
            bytes += (double)plan.weights[i].bytes_per_device * plan.ndevices;
    double tps = steps / best_dec, roof = bw * 1e9 / bytes;
    printf("prefill pp%d: %.1f tok/s   decode tg%d: %.2f tok/s   (best of 3)\n", np, np / best_pre, steps, tps);
    printf("decode reads %.0f MiB of weights per token (all devices); DRAM read %.1f GB/s on %d threads in this run -> roofline "
           "%.2f tok/s; decode = %.2f of the roofline\n",
           bytes / 1048576.0, bw, cores, roof, tps / roof);
    if (strstr(plan.model, "Qwen3-0.6B"))
        printf("llama.cpp on this machine class (REFERENCE.md, BF16, 2 threads): pp128 170.9, tg32 16.2 tok/s -> "
               "mgc/llama.cpp: prefill %.2fx, decode %.2fx\n",
               np / best_pre / 170.9, tps / 16.2);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "bench_decode: %s\n", e.msg);
out:
    rt_engine_free(en);
    mgc_plan_free(&plan);
    mgc_diags_free(&d);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_decode: could not remove %s\n", dir);
    return rc;
}
