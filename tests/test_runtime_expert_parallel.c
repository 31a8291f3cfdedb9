/* A small mixture-of-experts model as a hand-built plan, run on 1, 2 and 4
 * devices with each expert's weight owned by one device (ops pinned to it,
 * zeros elsewhere, an all_reduce joining them): the logits agree with each
 * other and with a plain double-precision evaluation of the model written
 * here.  The model also goes through the other plan-version-2 paths of the
 * loader and executor: learned positions, layer_norm with a derived (1 + w)
 * weight and a bias, routing, a transposed lm_head, add_bias and softcap.
 *
 *   x = emb[tok] + wpe[pos];  h = layer_norm(x) * (1 + g) + beta
 *   p = route(h Wr^T, top 2 of 4);  m = sum_e p[e] * (h We^T)
 *   logits = softcap((x + m) lm^T + lm_bias, 30)     (lm stored [D, V]) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "e2e_helpers.h"
#include "engine.h"
#include "engine_internal.h"
#include "safetensors.h"

enum { D = 8, V = 21, NE = 4, TOPK = 2, NPOS = 12, ROWS = 8, USERS = 4 };

/* ---- the checkpoint ------------------------------------------------------ */

typedef struct model {
    float emb[V][D], wpe[NPOS][D], g[D], beta[D], wr[NE][D], we[NE][D][D], lmT[D][V], lmb[V];
} model;

static uint64_t rng = 0x853c49e6748fea9bull;
static float rnd(float scale)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0) * scale;
}

static void fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rnd(scale);
}

static rt_st_entry entry(const char *name, const void *data, int rows, int cols)
{
    rt_st_entry t = { .name = name, .dtype = RT_ST_F32, .ndim = cols ? 2 : 1, .data = data };
    t.shape[0] = rows;
    t.shape[1] = cols;
    t.nbytes = sizeof(float) * (size_t)rows * (size_t)(cols ? cols : 1);
    return t;
}

static const char *expert_name(int e)
{
    static const char *const n[NE] = { "moe.experts.0.weight", "moe.experts.1.weight", "moe.experts.2.weight",
                                      "moe.experts.3.weight" };
    return n[e];
}

static char *write_checkpoint(const model *m)
{
    char *dir = e2e_tmpdir();
    rt_st_entry t[16];
    size_t n = 0;
    t[n++] = entry("wte.weight", m->emb, V, D);
    t[n++] = entry("wpe.weight", m->wpe, NPOS, D);
    t[n++] = entry("ln.weight", m->g, D, 0);
    t[n++] = entry("ln.bias", m->beta, D, 0);
    t[n++] = entry("router.weight", m->wr, NE, D);
    for (int e = 0; e < NE; e++)
        t[n++] = entry(expert_name(e), m->we[e], D, D);
    t[n++] = entry("lm_head.weight", m->lmT, D, V); /* Conv1D-style [in, out] */
    t[n++] = entry("lm_head.bias", m->lmb, V, 0);
    static float lm_plain[V][D]; /* the lm head as [out, in], for the loader checks */
    for (int v = 0; v < V; v++)
        for (int i = 0; i < D; i++)
            lm_plain[v][i] = m->lmT[i][v];
    t[n++] = entry("lm_plain.weight", lm_plain, V, D);
    char *path = e2e_path(dir, "model.safetensors");
    mgc_error err = { { 0 } };
    assert_int_equal(rt_st_write(path, t, n, NULL, &err), 0);
    free(path);
    return dir;
}

/* ---- the plan ------------------------------------------------------------ */

typedef struct builder {
    mgc_plan *p;
    mgc_plan_entry *en;
} builder;

static int add_weight(mgc_plan *p, const char *name, int rank, int64_t rows, int64_t cols, mgc_weight_role role,
                      int owner, int transposed)
{
    mgc_plan_weight *w = &p->weights[p->nweights];
    w->id = strdup(name);
    w->hf_name = strdup(name);
    w->rank = rank;
    w->shape[0] = rows;
    w->shape[1] = rank == 2 ? cols : 0;
    w->hf_shape[0] = transposed ? cols : rows;
    w->hf_shape[1] = rank == 2 ? (transposed ? rows : cols) : 0;
    w->role = role;
    w->dtype = MGC_F32;
    w->shard = owner >= 0 ? MGC_SHARD_OWNED : MGC_SHARD_REPLICATED;
    w->owner = owner;
    w->replicas = 1;
    w->transposed = transposed;
    w->derive_scale = 1.0;
    w->slices = calloc((size_t)p->ndevices, sizeof *w->slices);
    for (int d = 0; d < p->ndevices; d++) {
        if (owner >= 0 && d != owner)
            continue; /* holds nothing */
        mgc_weight_slice *s = &w->slices[d];
        s->range[0] = (mgc_range){ 0, rows };
        s->local_shape[0] = rows;
        if (rank == 2) {
            s->range[1] = (mgc_range){ 0, cols };
            s->local_shape[1] = cols;
        }
    }
    w->bytes_per_device = 4 * (uint64_t)rows * (uint64_t)(rank == 2 ? cols : 1);
    return (int)p->nweights++;
}

static int add_buf(builder *b, const char *name, int64_t cols)
{
    mgc_plan_entry *en = b->en;
    mgc_plan_buffer *x = &en->bufs[en->nbufs];
    x->id = (int)en->nbufs;
    x->name = strdup(name);
    x->cols = cols;
    x->dtype = en->nbufs ? MGC_F32 : MGC_I32;
    x->size = en->rows * cols;
    x->offset = en->arena_values; /* every buffer its own place: lifetimes never matter */
    en->arena_values += x->size;
    return (int)en->nbufs++;
}

static mgc_plan_op *add_op(builder *b, mgc_kernel k, int in0, int in1, int out)
{
    mgc_plan_op *o = &b->en->ops[b->en->nops++];
    *o = (mgc_plan_op){ .kernel = k, .in = { in0, in1, -1 }, .out = out, .weight = -1, .layer = -1, .rope = -1,
                        .tap = -1, .weight2 = -1, .replicas = 1, .device = -1 };
    return o;
}

enum { W_EMB, W_WPE, W_G, W_BETA, W_ROUTER, W_E0, W_LM = W_E0 + NE, W_LMB, NW,
       /* used by no op, for the loader checks: */
       X_LM_T = NW, X_LM_PLAIN, X_BIAS, X_ROUTER_REPL, NX };

/* A weight split on dim 0 into ndevices / replicas pieces of padded / pieces
 * rows; device d holds piece d / replicas. */
static int add_split(mgc_plan *p, const char *id, const char *name, int rank, int64_t rows, int64_t cols,
                     mgc_weight_role role, mgc_dtype dt, int64_t padded, int replicas, int transposed)
{
    int i = add_weight(p, name, rank, rows, cols, role, -1, transposed);
    mgc_plan_weight *w = &p->weights[i];
    free(w->id);
    w->id = strdup(id);
    w->dtype = dt;
    w->shard = MGC_SHARD_SPLIT;
    w->dim = 0;
    w->padded = padded;
    w->replicas = replicas;
    int64_t piece = padded / (p->ndevices / replicas);
    for (int d = 0; d < p->ndevices; d++) {
        int64_t lo = (d / replicas) * piece, hi = lo + piece;
        lo = lo < rows ? lo : rows;
        hi = hi < rows ? hi : rows;
        w->slices[d].range[0] = (mgc_range){ lo, hi };
        w->slices[d].local_shape[0] = piece;
    }
    w->bytes_per_device = mgc_dtype_bytes(dt, (uint64_t)piece * (uint64_t)(rank == 2 ? cols : 1));
    return i;
}

static void build_entry(mgc_plan *p, mgc_plan_entry *en, int64_t rows)
{
    builder b = { p, en };
    en->rows = rows;
    en->bufs = calloc(64, sizeof *en->bufs);
    en->ops = calloc(64, sizeof *en->ops);
    int tok = add_buf(&b, "tokens", 1), x = add_buf(&b, "x", D), pe = add_buf(&b, "pos", D),
        x2 = add_buf(&b, "x2", D), h = add_buf(&b, "h", D), r = add_buf(&b, "router", NE),
        pr = add_buf(&b, "probs", NE);
    en->input = tok;
    mgc_plan_op *o = add_op(&b, MGC_K_EMBEDDING, tok, -1, x);
    o->weight = W_EMB;
    o = add_op(&b, MGC_K_POS_EMBEDDING, -1, -1, pe);
    o->weight = W_WPE;
    add_op(&b, MGC_K_ADD, x, pe, x2);
    o = add_op(&b, MGC_K_LAYER_NORM, x2, -1, h);
    o->weight = W_G;
    o->weight2 = W_BETA;
    o->eps = 1e-5;
    o = add_op(&b, MGC_K_LINEAR, h, -1, r);
    o->weight = W_ROUTER;
    o = add_op(&b, MGC_K_ROUTE, r, -1, pr);
    o->top_k = TOPK;
    int acc = -1;
    for (int e = 0; e < NE; e++) {
        char name[32];
        snprintf(name, sizeof name, "expert%d", e);
        int y = add_buf(&b, name, D);
        snprintf(name, sizeof name, "scaled%d", e);
        int s = add_buf(&b, name, D);
        o = add_op(&b, MGC_K_LINEAR, h, -1, y);
        o->weight = W_E0 + e;
        o->device = p->weights[W_E0 + e].owner;
        o = add_op(&b, MGC_K_EXPERT_SCALE, y, pr, s);
        o->expert = e;
        o->device = p->weights[W_E0 + e].owner;
        if (acc < 0) {
            acc = s;
        } else {
            snprintf(name, sizeof name, "sum%d", e);
            int t = add_buf(&b, name, D);
            add_op(&b, MGC_K_ADD, acc, s, t);
            acc = t;
        }
    }
    int m = add_buf(&b, "moe", D), res = add_buf(&b, "residual", D), lg = add_buf(&b, "logits", V),
        lb = add_buf(&b, "logits.bias", V), lc = add_buf(&b, "logits.capped", V);
    add_op(&b, MGC_K_ALL_REDUCE, acc, -1, m);
    add_op(&b, MGC_K_ADD, x2, m, res);
    o = add_op(&b, MGC_K_LINEAR, res, -1, lg);
    o->weight = W_LM;
    o = add_op(&b, MGC_K_ADD_BIAS, lg, -1, lb);
    o->weight = W_LMB;
    o = add_op(&b, MGC_K_SOFTCAP, lb, -1, lc);
    o->scale = 30.0;
    o = add_op(&b, MGC_K_OUTPUT, lc, -1, -1);
    o->vocab = V;
    /* lifetimes from the op list */
    for (size_t i = 0; i < en->nbufs; i++) {
        en->bufs[i].first = -1;
        en->bufs[i].last = 0;
    }
    for (size_t i = 0; i < en->nops; i++) {
        const mgc_plan_op *q = &en->ops[i];
        int ids[3] = { q->in[0], q->in[1], q->out };
        for (int j = 0; j < 3; j++)
            if (ids[j] >= 0) {
                mgc_plan_buffer *B = &en->bufs[ids[j]];
                if (B->first < 0)
                    B->first = (int)i;
                B->last = (int)i;
            }
    }
}

static void build_plan(mgc_plan *p, int ndev)
{
    memset(p, 0, sizeof *p);
    p->model = strdup("test/tiny-moe");
    p->spec = strdup("built in code");
    p->system = strdup("test");
    p->topology = strdup("linear");
    p->mesh[0] = 1;
    p->mesh[1] = ndev;
    p->ndevices = ndev;
    p->dram_bytes = (uint64_t)1 << 30;
    p->tile = 32;
    p->hidden = D;
    p->vocab = p->padded_vocab = V;
    p->n_layers = 1;
    p->weights_dtype = p->act_dtype = p->kv_dtype = MGC_F32;
    p->cache_users = USERS;
    p->expect_top1 = p->expect_top5 = p->expect_pcc = -1;
    p->weights = calloc(NX, sizeof *p->weights);
    add_weight(p, "wte.weight", 2, V, D, MGC_W_EMBEDDING, -1, 0);
    add_weight(p, "wpe.weight", 2, NPOS, D, MGC_W_EMBEDDING, -1, 0);
    int g = add_weight(p, "ln.weight", 1, D, 0, MGC_W_NORM, -1, 0);
    p->weights[g].derive_offset = 1.0; /* Gemma-style (1 + w) */
    add_weight(p, "ln.bias", 1, D, 0, MGC_W_BIAS, -1, 0);
    add_weight(p, "router.weight", 2, NE, D, MGC_W_LINEAR, -1, 0);
    for (int e = 0; e < NE; e++)
        add_weight(p, expert_name(e), 2, D, D, MGC_W_LINEAR, e % ndev, 0);
    add_weight(p, "lm_head.weight", 2, V, D, MGC_W_LINEAR, -1, 1);
    add_weight(p, "lm_head.bias", 1, V, 0, MGC_W_BIAS, -1, 0);
    /* the lm head in block float, split with padding, from the transposed
     * tensor and from a plain copy; the bias split with padding; the router
     * split into 2 pieces, each on ndevices / 2 devices */
    int64_t vp = ((V + 16 * ndev - 1) / (16 * ndev)) * 16 * ndev;
    add_split(p, "lm_head.weight#T", "lm_head.weight", 2, V, D, MGC_W_LINEAR, MGC_BF8_B, vp, 1, 1);
    add_split(p, "lm_plain.weight", "lm_plain.weight", 2, V, D, MGC_W_LINEAR, MGC_BF8_B, vp, 1, 0);
    add_split(p, "lm_head.bias#split", "lm_head.bias", 1, V, 0, MGC_W_BIAS, MGC_F32, 8 * ndev * ((V + 8 * ndev - 1) / (8 * ndev)), 1, 0);
    add_split(p, "router.weight#repl", "router.weight", 2, NE, D, MGC_W_LINEAR, MGC_F32, NE, ndev > 1 ? ndev / 2 : 1, 0);
    build_entry(p, &p->prefill, ROWS);
    build_entry(p, &p->decode, USERS);
    uint64_t most = 0;
    for (int d = 0; d < ndev; d++) {
        uint64_t s = 0;
        for (size_t i = 0; i < p->nweights; i++)
            if (p->weights[i].owner < 0 || p->weights[i].owner == d)
                s += p->weights[i].bytes_per_device;
        most = s > most ? s : most;
    }
    p->memory.weights = most;
    p->memory.activations = 4 * (uint64_t)p->prefill.arena_values;
    p->memory.total = p->memory.weights + p->memory.activations;
    p->memory.dram = p->dram_bytes;
}

/* ---- the reference --------------------------------------------------------- */

static void reference(const model *m, int tok, int pos, double *logits)
{
    double x[D], h[D], r[NE], pr[NE], mo[D] = { 0 }, mean = 0, var = 0;
    for (int i = 0; i < D; i++)
        mean += x[i] = (double)m->emb[tok][i] + m->wpe[pos][i];
    mean /= D;
    for (int i = 0; i < D; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= D;
    for (int i = 0; i < D; i++)
        h[i] = (x[i] - mean) / sqrt(var + 1e-5) * (1.0 + m->g[i]) + m->beta[i];
    double mx = -INFINITY, sum = 0;
    for (int e = 0; e < NE; e++) {
        r[e] = 0;
        for (int i = 0; i < D; i++)
            r[e] += h[i] * m->wr[e][i];
        mx = fmax(mx, r[e]);
    }
    for (int e = 0; e < NE; e++)
        sum += pr[e] = exp(r[e] - mx);
    int best[TOPK];
    double kept = 0;
    for (int t = 0; t < TOPK; t++) {
        best[t] = -1;
        for (int e = 0; e < NE; e++) {
            int taken = 0;
            for (int u = 0; u < t; u++)
                taken |= best[u] == e;
            if (!taken && (best[t] < 0 || pr[e] > pr[best[t]]))
                best[t] = e;
        }
        kept += pr[best[t]] / sum;
    }
    for (int t = 0; t < TOPK; t++) {
        int e = best[t];
        double w = pr[e] / sum / kept;
        for (int o = 0; o < D; o++) {
            double y = 0;
            for (int i = 0; i < D; i++)
                y += h[i] * m->we[e][o][i];
            mo[o] += w * y;
        }
    }
    for (int v = 0; v < V; v++) {
        double z = m->lmb[v];
        for (int i = 0; i < D; i++)
            z += (x[i] + mo[i]) * m->lmT[i][v];
        logits[v] = tanh(z / 30.0) * 30.0;
    }
}

static model *make_model(void)
{
    model *m = calloc(1, sizeof *m);
    fill(&m->emb[0][0], sizeof m->emb / sizeof(float), 1.0f);
    fill(&m->wpe[0][0], sizeof m->wpe / sizeof(float), 0.5f);
    fill(m->g, D, 0.3f);
    fill(m->beta, D, 0.2f);
    fill(&m->wr[0][0], sizeof m->wr / sizeof(float), 2.0f);
    fill(&m->we[0][0][0], sizeof m->we / sizeof(float), 0.7f);
    fill(&m->lmT[0][0], sizeof m->lmT / sizeof(float), 3.0f);
    fill(m->lmb, V, 0.5f);
    return m;
}

static const model *the_model;

/* What the loader placed for the weights no op uses: a transposed block-float
 * slice equals the plain one (transposed before the conversion), the bias is
 * the right piece with zero padding, and replicas hold the same piece. */
static void check_loaded(const mgc_plan *p, rt_engine *en, int ndev)
{
    const model *m = the_model;
    for (int d = 0; d < ndev; d++) {
        const rt_device *dv = &en->dev[d];
        const rt_matrix *a = &dv->mats[X_LM_T], *b = &dv->mats[X_LM_PLAIN];
        assert_int_equal(a->n, b->n);
        assert_int_equal(a->dtype, RT_BF8_B);
        const mgc_weight_slice *s = &p->weights[X_LM_T].slices[d];
        float ra[D], rb[D];
        for (int r = 0; r < a->n; r++) {
            rt_matrix_get_row_f32(a, r, ra);
            rt_matrix_get_row_f32(b, r, rb);
            assert_memory_equal(ra, rb, sizeof ra);
            int64_t v = s->range[0].lo + r;
            for (int i = 0; i < D; i++)
                if (v < s->range[0].hi) /* quantised: within bf8_b's 2^-6 relative step of the block */
                    assert_true(fabsf(ra[i] - m->lmT[i][v]) <= 3.0f / 64.0f);
                else
                    assert_true(ra[i] == 0.0f);
        }
        const mgc_weight_slice *bs = &p->weights[X_BIAS].slices[d];
        for (int64_t r = 0; r < bs->local_shape[0]; r++) {
            int64_t v = bs->range[0].lo + r;
            assert_true(dv->vecs[X_BIAS][r] == (v < bs->range[0].hi ? m->lmb[v] : 0.0f));
        }
        const rt_matrix *rr = &dv->mats[X_ROUTER_REPL];
        int reps = ndev > 1 ? ndev / 2 : 1, piece = NE / (ndev / reps);
        assert_int_equal(rr->n, piece);
        for (int r = 0; r < piece; r++) {
            rt_matrix_get_row_f32(rr, r, ra);
            assert_memory_equal(ra, m->wr[(d / reps) * piece + r], sizeof ra);
        }
    }
}

static const int32_t prompt[ROWS] = { 3, 17, 0, 20, 9, 9, 5, 12 };

static float *run_prefill(const char *dir, int ndev)
{
    mgc_plan p;
    build_plan(&p, ndev);
    mgc_error e = { { 0 } };
    if (mgc_plan_validate(&p, &e) != 0)
        fail_msg("the %d-device plan does not validate: %s", ndev, e.msg);
    char *text = mgc_plan_to_string(&p, &e); /* the file form runs the same */
    assert_non_null(text);
    mgc_plan q;
    if (mgc_plan_parse("moe.plan.yaml", text, strlen(text), &q, &e) != 0)
        fail_msg("the %d-device plan does not read back: %s", ndev, e.msg);
    free(text);
    rt_engine *en = NULL;
    rt_engine_opts o = { .n_cores = 2 };
    if (rt_engine_load(&q, dir, &o, &en, &e) != 0)
        fail_msg("load on %d devices: %s", ndev, e.msg);
    check_loaded(&q, en, ndev);
    /* non-owners hold nothing of an expert */
    for (int d = 0; d < ndev; d++)
        for (int x = 0; x < NE; x++)
            assert_true((en->dev[d].mats[W_E0 + x].data != NULL) == (x % ndev == d));
    float *logits = malloc(sizeof(float) * ROWS * V);
    if (rt_engine_prefill(en, 1, prompt, ROWS, 0, logits, &e) != 0)
        fail_msg("prefill on %d devices: %s", ndev, e.msg);

    /* chunked prefill (positions 5..7) and decode (each user at its own
     * position) give the rows of the full prefill: without attention a
     * row depends only on its token and its position */
    float chunk[3 * V], dec[3 * V];
    assert_int_equal(rt_engine_prefill(en, 2, prompt + 5, 3, 5, chunk, &e), 0);
    const int users[3] = { 0, 3, 2 };
    const int32_t toks[3] = { prompt[6], prompt[1], prompt[4] }, pos[3] = { 6, 1, 4 };
    assert_int_equal(rt_engine_decode(en, 3, users, toks, pos, dec, &e), 0);
    for (int v = 0; v < V; v++) {
        for (int r = 0; r < 3; r++)
            assert_true(fabsf(chunk[r * V + v] - logits[(5 + r) * V + v]) <= 1e-5f);
        for (int r = 0; r < 3; r++)
            assert_true(fabsf(dec[r * V + v] - logits[pos[r] * V + v]) <= 1e-5f);
    }
    rt_engine_free(en);
    mgc_plan_free(&q);
    mgc_plan_free(&p);
    return logits;
}

static void test_experts_over_devices(void **state)
{
    (void)state;
    model *m = make_model();
    the_model = m;
    char *dir = write_checkpoint(m);
    float *one = run_prefill(dir, 1);
    for (int r = 0; r < ROWS; r++) {
        double want[V];
        reference(m, prompt[r], r, want);
        for (int v = 0; v < V; v++)
            if (fabs(one[r * V + v] - want[v]) > 1e-4)
                fail_msg("1 device, row %d logit %d: %.7g, want %.7g", r, v, (double)one[r * V + v], want[v]);
    }
    const int meshes[] = { 2, 4 };
    for (int k = 0; k < 2; k++) {
        float *many = run_prefill(dir, meshes[k]);
        for (int i = 0; i < ROWS * V; i++)
            if (fabsf(many[i] - one[i]) > 1e-5f * fmaxf(1.0f, fabsf(one[i])))
                fail_msg("%d devices, logit %d: %.9g, 1 device %.9g", meshes[k], i, (double)many[i], (double)one[i]);
        free(many);
    }
    free(one);
    free(m);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_experts_over_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
