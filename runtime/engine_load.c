/* engine_load.c: place a plan's weights on its devices.
 *
 * For every weight and every device, read exactly the slice the plan names
 * from the checkpoint (converted to f32 one slice at a time), zero-pad it to
 * the local shape, and store it at the plan's dtype.  Plan version 2 adds
 * bias vectors (stored f32 like norms), transposed checkpoint tensors
 * (GPT-2's Conv1D [in, out], turned to [out, in] before conversion),
 * derived values (w * scale + offset in f32) and owned weights (only the
 * owner loads them); a split with replicas is just slices that repeat.  The checkpoint is
 * checked against the plan first, so a wrong model fails before any work:
 * every tensor present, with the shape and a dtype the loader reads. */
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "config.h"
#include "engine_internal.h"

static rt_dtype to_rt(mgc_dtype d)
{
    switch (d) {
    case MGC_F32: return RT_F32;
    case MGC_BF16: return RT_BF16;
    case MGC_BF8_B: return RT_BF8_B;
    case MGC_BF4_B: return RT_BF4_B;
    default: return RT_I32;
    }
}

static int check_config(const mgc_plan *p, const char *dir, mgc_error *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (access(path, F_OK) != 0)
        return 0; /* a bare checkpoint directory: the tensor shapes are checked below */
    mgc_config *cfg = NULL;
    if (mgc_config_load(path, &cfg, e) != 0)
        return -1;
    int64_t hidden = 0, vocab = 0;
    double theta = 0;
    mgc_config_value v;
    if (mgc_config_get(cfg, "hidden_size", &v) == MGC_CV_INT)
        hidden = v.i;
    if (mgc_config_get(cfg, "vocab_size", &v) == MGC_CV_INT)
        vocab = v.i;
    mgc_cv_kind tk = mgc_config_get(cfg, "rope_theta", &v);
    if (tk == MGC_CV_INT || tk == MGC_CV_FLOAT)
        theta = v.f;
    mgc_config_free(cfg);
    if ((hidden && hidden != p->hidden) || (vocab && vocab != p->vocab))
        return mgc_errorf(e, "%s: the plan is for %s (hidden %lld, vocab %lld) but this model has hidden %lld, vocab %lld",
                          path, p->model, (long long)p->hidden, (long long)p->vocab, (long long)hidden,
                          (long long)vocab);
    /* Same sizes, another model (e.g. a Llama-3.2 plan with a Mistral checkpoint,
     * whose tensors have the very same names and shapes): the plan's RoPE was
     * built from its config's rope_theta, so one of its tables must have it. */
    int theta_ok = theta <= 0 || p->nropes == 0;
    for (size_t i = 0; !theta_ok && i < p->nropes; i++)
        theta_ok = fabs(p->ropes[i].theta - theta) <= 1e-9 * theta;
    if (!theta_ok)
        return mgc_errorf(e, "%s: rope_theta is %g but the plan (for %s) uses %g: a plan for another model?", path,
                          theta, p->model, p->ropes[0].theta);
    return 0;
}

static int check_tensor(const mgc_plan_weight *w, const rt_st_tensor *t, const char *dir, mgc_error *e)
{
    if (!t)
        return mgc_errorf(e, "%s: the checkpoint has no tensor '%s' (needed by the plan)", dir, w->hf_name);
    if (t->dtype != RT_ST_BF16 && t->dtype != RT_ST_F16 && t->dtype != RT_ST_F32)
        return mgc_errorf(e, "%s: tensor '%s' is %s; weights must be BF16, F16 or F32", t->file, w->hf_name,
                          rt_st_dtype_name(t->dtype));
    int bad = t->ndim != w->rank;
    for (int i = 0; !bad && i < w->rank; i++)
        bad = t->shape[i] != w->hf_shape[i];
    if (bad) {
        char got[128];
        rt_st_shape_str(t, got, sizeof got);
        if (w->rank == 2)
            return mgc_errorf(e, "%s: tensor '%s' is %s but the plan expects [%lld, %lld] (a plan for another model?)",
                              t->file, w->hf_name, got, (long long)w->hf_shape[0], (long long)w->hf_shape[1]);
        return mgc_errorf(e, "%s: tensor '%s' is %s but the plan expects [%lld] (a plan for another model?)", t->file,
                          w->hf_name, got, (long long)w->hf_shape[0]);
    }
    return 0;
}

/* value * derive_scale + derive_offset in f32 (Gemma's 1 + w norms), on
 * the values read only: padding stays zero. */
static void derive(const mgc_plan_weight *w, float *x, size_t n)
{
    if (w->derive_scale == 1.0 && w->derive_offset == 0.0)
        return;
    const float a = (float)w->derive_scale, b = (float)w->derive_offset;
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] * a + b;
}

/* Reads local rows [lo, hi) of device `dv`'s slice of `w` into a zeroed f32
 * buffer [hi - lo][local1] in the logical [out, in] orientation (a vector is
 * one row: lo = 0, hi = 1).  A transposed weight's checkpoint holds [in, out]:
 * its slice is read whole (lo = 0, hi = local0) as stored and transposed
 * here, before any conversion to the storage dtype.  `release`: give back the
 * checkpoint pages read (a process holding one device of an MPI mesh). */
static int read_slice(const mgc_plan_weight *w, const rt_st_tensor *t, int dv, int64_t lo, int64_t hi, float *local,
                      int release, mgc_error *e)
{
    const mgc_weight_slice *s = &w->slices[dv];
    int64_t l1 = w->rank == 2 ? s->local_shape[1] : s->local_shape[0];
    memset(local, 0, sizeof(float) * (size_t)((hi - lo) * l1));
    /* the reader views a vector as one row */
    int64_t r0 = w->rank == 2 ? s->range[0].lo : 0, r1 = w->rank == 2 ? s->range[0].hi : 1;
    int64_t c0 = w->rank == 2 ? s->range[1].lo : s->range[0].lo, c1 = w->rank == 2 ? s->range[1].hi : s->range[0].hi;
    /* this block's rows of the slice: local rows past r1 - r0 are padding */
    r1 = r0 + hi < r1 ? r0 + hi : r1;
    r0 += lo;
    if (r1 <= r0 || c1 <= c0)
        return 0; /* a device (or block) holding only padding */
    int64_t nr = r1 - r0, nc = c1 - c0;
    if (c1 - c0 == l1 && !w->transposed) {
        if (rt_st_read_f32(t, r0, r1, c0, c1, local, e) != 0)
            return -1;
        derive(w, local, (size_t)(nr * nc));
        if (release)
            rt_st_release_rows(t, r0, r1);
        return 0;
    }
    /* narrower than the local width (padding columns), or transposed: read, then place */
    float *tmp = malloc(sizeof(float) * (size_t)(nr * nc));
    if (!tmp)
        return mgc_errorf(e, "out of memory loading '%s'", w->hf_name);
    int rc = w->transposed ? rt_st_read_f32(t, c0, c1, r0, r1, tmp, e) /* stored [in][out] */
                           : rt_st_read_f32(t, r0, r1, c0, c1, tmp, e);
    if (rc == 0) {
        derive(w, tmp, (size_t)(nr * nc));
        if (w->transposed)
            for (int64_t i = 0; i < nc; i++)
                for (int64_t o = 0; o < nr; o++)
                    local[o * l1 + i] = tmp[i * nr + o];
        else
            for (int64_t r = 0; r < nr; r++)
                memcpy(local + r * l1, tmp + r * nc, sizeof(float) * (size_t)nc);
    }
    free(tmp);
    if (release)
        w->transposed ? rt_st_release_rows(t, c0, c1) : rt_st_release_rows(t, r0, r1);
    return rc;
}

/* Rows of a straight weight (not transposed) read, converted and placed per
 * step: a multiple of 16 (whole bf8_b/bf4_b blocks), so no f32 copy of a
 * large table (an embedding: 600 MiB) is ever resident at once.  Transposed
 * weights are read whole. */
#define LOAD_BLOCK_ROWS 256

static int64_t block_rows(const mgc_plan_weight *w, int dv)
{
    int64_t l0 = w->rank == 2 ? w->slices[dv].local_shape[0] : 1;
    return !w->transposed && l0 > LOAD_BLOCK_ROWS ? LOAD_BLOCK_ROWS : l0;
}

/* A NaN or infinity in a weight poisons every logit downstream; say where it is
 * (file, tensor, element) at load instead.  `local` is device dv's slice as read. */
static int check_finite_slice(const mgc_plan_weight *w, const rt_st_tensor *t, int dv, int64_t lo, int64_t hi,
                              const float *local, mgc_error *e)
{
    const mgc_weight_slice *s = &w->slices[dv];
    int64_t l1 = w->rank == 2 ? s->local_shape[1] : s->local_shape[0];
    for (int64_t k = 0; k < (hi - lo) * l1; k++) {
        if (isfinite(local[k]))
            continue;
        int64_t r = lo + k / l1, c = k % l1;
        if (w->rank == 2)
            return mgc_errorf(e, "%s: tensor '%s' has a non-finite value (%s) at [%lld, %lld]", t->file, t->name,
                              isnan(local[k]) ? "nan" : "inf", (long long)(s->range[0].lo + r),
                              (long long)(s->range[1].lo + c));
        return mgc_errorf(e, "%s: tensor '%s' has a non-finite value (%s) at [%lld]", t->file, t->name,
                          isnan(local[k]) ? "nan" : "inf", (long long)(s->range[0].lo + c));
    }
    return 0;
}

/* Weight j already placed on device dv holds exactly what weight i would
 * (a tied table: same tensor, dtype, slice and layout), so i can share it. */
static int same_placement(const mgc_plan *p, size_t i, size_t j, int dv)
{
    const mgc_plan_weight *a = &p->weights[i], *b = &p->weights[j];
    if (a->rank != 2 || b->rank != 2 || strcmp(a->hf_name, b->hf_name) != 0 || a->dtype != b->dtype ||
        a->transposed || b->transposed || a->derive_scale != b->derive_scale ||
        a->derive_offset != b->derive_offset || (a->shard == MGC_SHARD_OWNED) != (b->shard == MGC_SHARD_OWNED))
        return 0;
    const mgc_weight_slice *x = &a->slices[dv], *y = &b->slices[dv];
    for (int k = 0; k < 2; k++)
        if (x->local_shape[k] != y->local_shape[k] || x->range[k].lo != y->range[k].lo ||
            x->range[k].hi != y->range[k].hi)
            return 0;
    return 1;
}

/* A matrix's row blocks are read, checked and converted in parallel over
 * the device's pool (a one-device plan loads on every core), each thread
 * with its own slice of `local`.  A failure reports the lowest failing
 * block, as a sequential load would: blocks past a known failure are
 * skipped, blocks before it are still read. */
typedef struct place_job {
    const mgc_plan_weight *w;
    const rt_st_tensor *t;
    int dv, release;
    int64_t l0, block;
    rt_matrix *m;
    float *local;
    size_t local_floats;
    _Atomic int first_bad; /* lowest failing block so far (INT_MAX: none) */
    int *bad;              /* [thread] the lowest block that thread saw fail */
    mgc_error *errs;       /* [thread] its error */
} place_job;

static void place_task(void *arg, int task, int thread)
{
    place_job *j = arg;
    if (task > atomic_load(&j->first_bad))
        return;
    int64_t lo = (int64_t)task * j->block, hi = lo + j->block < j->l0 ? lo + j->block : j->l0;
    float *local = j->local + (size_t)thread * j->local_floats;
    mgc_error e = {{0}};
    if (read_slice(j->w, j->t, j->dv, lo, hi, local, j->release, &e) != 0 ||
        check_finite_slice(j->w, j->t, j->dv, lo, hi, local, &e) != 0) {
        if (task < j->bad[thread]) {
            j->bad[thread] = task;
            j->errs[thread] = e;
        }
        int seen = atomic_load(&j->first_bad);
        while (task < seen && !atomic_compare_exchange_weak(&j->first_bad, &seen, task))
            ;
        return;
    }
    rt_matrix_set_rows_f32(j->m, (int)lo, (int)(hi - lo), local);
}

/* Places device dv's slice of weight i. */
static int load_weight(const mgc_plan *p, rt_device *d, size_t i, const mgc_plan_weight *w, const rt_st_tensor *t,
                       int dv, float *local, int release, double *mib, mgc_error *e)
{
    if (w->shard == MGC_SHARD_OWNED && w->owner != dv)
        return 0; /* expert parallel: only the owner holds it */
    /* a tied table placed twice alike (the cpu plan's embedding and
     * lm_head in one dtype) is stored once: i becomes a view of j */
    for (size_t j = 0; j < i; j++)
        if (d->mats[j].data && d->mats[j].owned && same_placement(p, i, j, dv)) {
            d->mats[i] = d->mats[j];
            d->mats[i].owned = 0;
            return 0;
        }
    int64_t l0 = w->slices[dv].local_shape[0];
    if (w->rank == 1) {
        if (read_slice(w, t, dv, 0, 1, local, release, e) != 0 ||
            check_finite_slice(w, t, dv, 0, 1, local, e) != 0)
            return -1;
        d->vecs[i] = malloc(sizeof(float) * (size_t)l0);
        if (!d->vecs[i])
            return mgc_errorf(e, "out of memory");
        memcpy(d->vecs[i], local, sizeof(float) * (size_t)l0);
        if (release)
            rt_st_release_tensor(t);
        *mib += (double)l0 * 4 / 1048576.0;
        return 0;
    }
    int64_t l1 = w->slices[dv].local_shape[1];
    rt_dtype dt = to_rt(w->dtype);
    if (w->role == MGC_W_EMBEDDING && dt != RT_F32 && dt != RT_BF16)
        return mgc_errorf(e, "embedding tables must be f32 or bf16 in the plan, not %s", mgc_dtype_name(w->dtype));
    if (rt_matrix_init(&d->mats[i], dt, (int)l0, (int)l1, e) != 0)
        return -1;
    int64_t block = block_rows(w, dv);
    int threads = rt_pool_threads(d->pool);
    place_job j = {.w = w, .t = t, .dv = dv, .l0 = l0, .block = block, .m = &d->mats[i], .local = local,
                   .local_floats = (size_t)(block * l1), .release = release};
    atomic_init(&j.first_bad, INT_MAX);
    j.errs = calloc((size_t)threads, sizeof *j.errs);
    j.bad = malloc(sizeof *j.bad * (size_t)threads);
    if (!j.errs || !j.bad) {
        free(j.errs);
        free(j.bad);
        return mgc_errorf(e, "out of memory");
    }
    for (int th = 0; th < threads; th++)
        j.bad[th] = INT_MAX;
    rt_pool_run(d->pool, (int)((l0 + block - 1) / block), place_task, &j);
    int first = atomic_load(&j.first_bad);
    for (int th = 0; th < threads && first != INT_MAX; th++)
        if (j.bad[th] == first)
            *e = j.errs[th];
    free(j.errs);
    free(j.bad);
    if (first != INT_MAX)
        return -1;
    rt_matrix_scan_exponents(&d->mats[i]);
    if (release)
        rt_st_release_tensor(t);
    *mib += (double)d->mats[i].bytes / 1048576.0;
    return 0;
}

static size_t max_z(size_t a, size_t b) { return a > b ? a : b; }

/* Scratch each device needs: the largest any op of either entry asks for. */
static size_t scratch_need(const mgc_plan *p, const rt_device *d, int dv)
{
    size_t need = 0;
    const mgc_plan_entry *ens[2] = {&p->prefill, &p->decode};
    for (int k = 0; k < 2; k++) {
        const mgc_plan_entry *en = ens[k];
        for (size_t i = 0; i < en->nops; i++) {
            const mgc_plan_op *op = &en->ops[i];
            if (op->device >= 0 && op->device != dv)
                continue; /* another device's op (its weight is not here) */
            if (op->kernel == MGC_K_LINEAR) {
                const rt_matrix *w = &d->mats[op->weight];
                need = max_z(need, rt_linear_scratch_floats(w, (int)en->rows) * (size_t)rt_pool_threads(d->pool));
                /* block floats into bf16 activations: bf16 panels from a few rows on (engine_exec.c) */
                if (en->rows > RT_BFP_PAIRS_GEMV_MAX_M && rt_bfpdot_usable(w))
                    need = max_z(need, rt_bfpdot_scratch_floats(w) * (size_t)rt_pool_threads(d->pool));
            }
            else if (op->kernel == MGC_K_SDPA) {
                /* split over the pool by KV heads (engine_rows.c): a slice per thread */
                size_t threads = (size_t)rt_pool_threads(d->pool);
                need = max_z(need, rt_attention_prefill_scratch_floats((int)en->rows) * threads);
                /* a prefill chunk after a cached prefix attends to up to the whole cache */
                const rt_kv_cache *kc = &d->caches[op->layer];
                int rows = (int)en->rows < kc->cap ? (int)en->rows : kc->cap;
                need = max_z(need, rt_attention_prefill_cached_scratch_floats(kc, rows, kc->cap - rows) * threads);
            } else if (op->kernel == MGC_K_SDPA_DECODE)
                /* split over the pool by users (engine_rows.c): a slice per thread */
                need = max_z(need, rt_attention_decode_scratch_floats(&d->caches[op->layer], op->n_heads) *
                                       (size_t)rt_pool_threads(d->pool));
        }
    }
    return need;
}

static size_t gather_need(const mgc_plan *p)
{
    size_t need = 0;
    const mgc_plan_entry *ens[2] = {&p->prefill, &p->decode};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < ens[k]->nops; i++) {
            const mgc_plan_op *op = &ens[k]->ops[i];
            if (op->kernel == MGC_K_ALL_GATHER || op->kernel == MGC_K_OUTPUT)
                need = max_z(need, (size_t)ens[k]->bufs[op->in[0]].size);
        }
    return need * (size_t)p->ndevices;
}

/* Shared by the devices while they load. */
typedef struct load_ctx {
    const mgc_plan *p;
    rt_engine *en;
    rt_ckpt *ck;
    const rt_engine_opts *o;
    size_t maxlocal, total;
    /* This process holds one device (a one-device plan, or a rank of an MPI
     * mesh): it gives back the checkpoint pages it has read as it goes, so
     * its peak is its weights, not its weights plus the mapped file.  With
     * several devices in the process the pages stay until the checkpoint is
     * closed: one device giving back a tensor another is still reading would
     * make that one fault it in again. */
    int release_pages;
    int threads_per_device; /* pool size of each device */
    _Atomic size_t done;
    _Atomic uint64_t bytes;
} load_ctx;

static void progress(load_ctx *L, size_t bytes)
{
    size_t done = atomic_fetch_add(&L->done, 1) + 1;
    uint64_t b = atomic_fetch_add(&L->bytes, bytes) + bytes;
    if (!L->o || !L->o->progress)
        return;
    /* about a hundred updates, and the last one */
    if (done != L->total && done % (L->total / 100 + 1) != 0)
        return;
    flockfile(stderr);
    fprintf(stderr, "\rloading weights: %zu/%zu tensors, %.1f MiB", done, L->total, (double)b / 1048576.0);
    if (done == L->total)
        fputc('\n', stderr);
    fflush(stderr);
    funlockfile(stderr);
}

/* One device: its weight slices, KV cache, arena and scratch. */
static int load_device(rt_device_ctx *ctx, void *arg)
{
    load_ctx *L = arg;
    const mgc_plan *p = L->p;
    int dv = ctx->device;
    rt_device *d = &L->en->dev[dv];
    d->mats = calloc(p->nweights ? p->nweights : 1, sizeof *d->mats);
    d->vecs = calloc(p->nweights ? p->nweights : 1, sizeof *d->vecs);
    d->pool = rt_pool_create(L->threads_per_device, ctx->err);
    if (!d->pool)
        return -1;
    float *local = malloc(sizeof(float) * (L->maxlocal ? L->maxlocal : 1) * (size_t)rt_pool_threads(d->pool));
    if (!d->mats || !d->vecs || !local) {
        free(local);
        return mgc_errorf(ctx->err, "out of memory");
    }
    for (size_t i = 0; i < p->nweights; i++) {
        const mgc_plan_weight *w = &p->weights[i];
        double mib = 0;
        if (load_weight(p, d, i, w, rt_ckpt_find(L->ck, w->hf_name), dv, local, L->release_pages, &mib, ctx->err) != 0) {
            free(local);
            return mgc_error_prefix(ctx->err, "loading '%s'", w->hf_name);
        }
        progress(L, (size_t)(mib * 1048576.0));
    }
    free(local);
    d->caches = calloc((size_t)(p->cache_layers ? p->cache_layers : 1), sizeof *d->caches);
    for (int64_t l = 0; l < p->cache_layers; l++)
        if (rt_kv_cache_init(&d->caches[l], to_rt(p->kv_dtype), (int)p->cache_users, (int)p->cache_kv_heads,
                             (int)p->cache_len, (int)p->cache_head_dim, ctx->err) != 0)
            return -1;
    int64_t arena = p->prefill.arena_values > p->decode.arena_values ? p->prefill.arena_values : p->decode.arena_values;
    d->arena = calloc((size_t)(arena ? arena : 1), sizeof(float));
    d->scratch_floats = scratch_need(p, d, dv);
    d->scratch = calloc(d->scratch_floats ? d->scratch_floats : 1, sizeof(float));
    d->gather_floats = gather_need(p);
    d->gather = calloc(d->gather_floats ? d->gather_floats : 1, sizeof(float));
    int ngroups = L->en->experts[0].n > L->en->experts[1].n ? L->en->experts[0].n : L->en->experts[1].n;
    d->group_active = malloc((size_t)(ngroups ? ngroups : 1));
    if (!d->arena || !d->scratch || !d->gather || !d->group_active)
        return mgc_errorf(ctx->err, "out of memory allocating the buffers");
    return 0;
}

int rt_engine_load(const mgc_plan *p, const char *model_dir, const rt_engine_opts *o, rt_engine **out, mgc_error *e)
{
    *out = NULL;
    if (mgc_plan_validate(p, e) != 0)
        return -1;
    if (check_config(p, model_dir, e) != 0)
        return -1;
    /* of a sharded checkpoint, only the files holding the plan's tensors */
    const char **names = malloc(sizeof *names * (p->nweights ? p->nweights : 1));
    if (!names)
        return mgc_errorf(e, "out of memory");
    for (size_t i = 0; i < p->nweights; i++)
        names[i] = p->weights[i].hf_name;
    rt_ckpt *ck = NULL;
    int ckrc = rt_ckpt_open_only(model_dir, names, p->nweights, &ck, e);
    free(names);
    if (ckrc != 0)
        return -1;
    for (size_t i = 0; i < p->nweights; i++)
        if (check_tensor(&p->weights[i], rt_ckpt_find(ck, p->weights[i].hf_name), model_dir, e) != 0) {
            rt_ckpt_close(ck);
            return -1;
        }
    int cores = o && o->n_cores > 0 ? o->n_cores : rt_host_cores();
    /* Devices run as threads sharing the host's cores: each device gets a
     * pool of cores/ndevices threads (at least its own) for its matmuls, so
     * a one-device plan uses every core and a mesh never oversubscribes.
     * OpenBLAS runs single-threaded inside those threads. */
    if (rt_kernels_init(1, e) != 0) {
        rt_ckpt_close(ck);
        return -1;
    }
    rt_engine *en = calloc(1, sizeof *en);
    en->plan = p;
    en->ndev = p->ndevices;
    en->vocab = p->vocab;
    en->dev = calloc((size_t)en->ndev, sizeof *en->dev);
    if (rt_expert_groups_build(&p->prefill, &en->experts[0], e) != 0 ||
        rt_expert_groups_build(&p->decode, &en->experts[1], e) != 0 || rt_head_ops_find(&p->prefill, &en->head_ops, e) != 0) {
        rt_ckpt_close(ck);
        rt_engine_free(en);
        return -1;
    }
    /* every device places its own slices, concurrently, on the mesh that
     * will run it: loading a t3000 plan uses all the host's cores */
    int rc = 0;
    /* MPI mesh: this process is one device and places only its own slices */
    en->mesh = o && o->mpi ? rt_mesh_create_mpi(en->ndev, e) : rt_mesh_create(en->ndev, cores, e);
    if (!en->mesh)
        rc = -1;
    int mpi = o && o->mpi;
    int local_devices = mpi ? 1 : en->ndev;
    /* In-process, the devices share the host's cores.  An MPI rank is one
     * device, but mpirun may start several ranks on one host and does not
     * tell each how many cores are its own: one thread per rank unless the
     * user gives --cores, so eight ranks on a small host never oversubscribe. */
    int threads = mpi ? (o->n_cores > 0 ? o->n_cores : 1) : (cores / en->ndev > 1 ? cores / en->ndev : 1);
    load_ctx L = {.p = p, .en = en, .ck = ck, .o = o, .total = (size_t)local_devices * p->nweights,
                  .release_pages = local_devices == 1, .threads_per_device = threads};
    for (size_t i = 0; i < p->nweights; i++) {
        const mgc_plan_weight *w = &p->weights[i];
        for (int dv = 0; dv < p->ndevices; dv++) { /* an owned weight is on one device only */
            const int64_t *ls = w->slices[dv].local_shape;
            int64_t rows = block_rows(w, dv);
            L.maxlocal = max_z(L.maxlocal, (size_t)(rows * (w->rank == 2 ? ls[1] : ls[0])));
        }
    }
    if (rc == 0)
        rc = rt_mesh_run(en->mesh, load_device, &L, e);
    int sched = o ? o->schedule : RT_SCHEDULE_AUTO;
    if (rc == 0 && !mpi && en->ndev > 1 &&
        (sched == RT_SCHEDULE_LOCKSTEP || (sched == RT_SCHEDULE_AUTO && en->ndev > cores))) {
        /* engine_lockstep.c: the devices share a pool of the mesh's cores */
        en->lockstep = rt_pool_create(cores < en->ndev ? cores : en->ndev, e);
        if (!en->lockstep)
            rc = -1;
    }
    rt_ckpt_close(ck);
    if (rc != 0) {
        rt_engine_free(en);
        return -1;
    }
    *out = en;
    return 0;
}

void rt_engine_free(rt_engine *en)
{
    if (!en)
        return;
    if (rt_mesh_local_device(en->mesh) == 0)
        rt_engine_mpi_stop(en);
    const mgc_plan *p = en->plan;
    for (int dv = 0; dv < en->ndev; dv++) {
        rt_device *d = &en->dev[dv];
        for (size_t i = 0; i < p->nweights; i++) {
            if (d->mats)
                rt_matrix_free(&d->mats[i]);
            if (d->vecs)
                free(d->vecs[i]);
        }
        free(d->mats);
        free(d->vecs);
        for (int64_t l = 0; d->caches && l < p->cache_layers; l++)
            rt_kv_cache_free(&d->caches[l]);
        free(d->caches);
        free(d->arena);
        free(d->scratch);
        free(d->gather);
        free(d->group_active);
        rt_pool_free(d->pool);
    }
    rt_expert_groups_free(&en->experts[0]);
    rt_expert_groups_free(&en->experts[1]);
    free(en->head_ops);
    free(en->dev);
    rt_pool_free(en->lockstep);
    if (en->mesh)
        rt_mesh_destroy(en->mesh);
    free(en);
}

int64_t rt_engine_vocab(const rt_engine *en) { return en->vocab; }
int64_t rt_engine_max_seq(const rt_engine *en) { return en->plan->cache_len ? en->plan->cache_len : en->plan->prefill.rows; }
int64_t rt_engine_max_users(const rt_engine *en)
{
    /* decode rows are padded to a tile; the cache holds only the planned users */
    const mgc_plan *p = en->plan;
    return p->cache_users > 0 && p->cache_users < p->decode.rows ? p->cache_users : p->decode.rows;
}
int64_t rt_engine_hidden(const rt_engine *en) { return en->plan->hidden; }
int rt_engine_n_layers(const rt_engine *en) { return (int)en->plan->n_layers; }
int rt_engine_n_taps(const rt_engine *en) { return en->plan->n_taps; }
const mgc_plan *rt_engine_plan(const rt_engine *en) { return en->plan; }
