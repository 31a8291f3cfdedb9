/* elab.c: run a checked spec against config.json and build the IR.
 *
 * The spec is evaluated like a tiny functional program.  Values are numbers,
 * strings, weight references (possibly derived: `1 + w"..."`), fused-weight
 * parts, RoPE tables, cache entries, config sub-objects, defs (passed to
 * moe) and tensors (IR nodes).  Ops on tensors append IR nodes, each anchor
 * op carrying its statement's sharding annotation; the sharding pass
 * (shard.c) decides the sharding afterwards.
 *
 * Elaboration stops at the first error: later errors would mostly be
 * consequences of the first one. */
#include "elab.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys.h"
#include "fmt_int.h"
#include "ops.h"
#include "scalar.h"
#include "strbuf.h"

typedef enum vkind {
    V_NONE, V_INT, V_FLOAT, V_BOOL, V_STR, V_NULL, V_WEIGHT, V_PARTS,
    V_ROPE, V_CACHE, V_CACHE_LAYER, V_TENSOR, V_CONFIG, V_DEF,
} vkind;

typedef struct wref {
    const char *name;      /* checkpoint tensor */
    const char *part;      /* fused part name or NULL */
    int tied;
    int64_t row0, rows;    /* rows = -1: whole tensor, size unknown yet */
    int64_t total;         /* fused part: rows of the whole fused tensor (the sum of its parts) */
    int transposed;        /* stored [in, out] (transpose(w"...")) */
    double dscale, doffset;/* derived: stored * dscale + doffset */
    mgc_span span;
} wref;

typedef struct parts {
    const char *name;
    int tied, transposed;
    size_t n;
    const char **names;
    int64_t *rows;
    int64_t total;
    mgc_span span;
} parts;

typedef struct val {
    vkind k;
    int64_t i;
    double f;
    const char *s;         /* V_STR text, V_CONFIG path */
    wref *w;
    parts *p;
    int idx;               /* V_TENSOR node, V_ROPE index, V_CACHE_LAYER layer */
    const mgc_ast_stmt *def; /* V_DEF */
} val;

typedef struct binding {
    const char *name;
    val v;
} binding;

typedef struct scope {
    struct scope *parent;
    binding *items;
    size_t n, cap;
} scope;

enum { SH_NONE = -1, SH_COL, SH_ROW, SH_REPL, SH_HEADS, SH_EXPERTS };

/* What a statement's annotations ask of the ops created directly in it. */
typedef struct stmt_ctx {
    int shard;
    int wdtype, adtype;
    mgc_span span;
} stmt_ctx;

typedef struct pattern {
    const char *glob;
    mgc_dtype dtype;
} pattern;

typedef struct E {
    const mgc_elab_in *in;
    mgc_diags *d;
    mgc_ir *ir;
    mgc_arena *A;
    scope globals;
    const mgc_ast_stmt **defs;
    size_t ndefs, capdefs;
    int tp;                /* more than one device: sharding is real */
    int wdtype, adtype, kvdtype;
    int wdtype_set;
    pattern *pats;
    size_t npats, cappats;
    int64_t cache_max_len, cache_users;
    stmt_ctx *sc;
    int depth;
    int failed;
    /* the def calls being expanded, for "called from" notes on errors */
    mgc_span calls[72];
    const char *callees[72];
    mgc_span fail_calls[72];
    const char *fail_callees[72];
    int fail_depth;
    int tapped;            /* the forward's layer loop has been found */
    mgc_span model_span;
    uint64_t cache_used[MGC_MAX_CACHE_LAYERS / 64]; /* cache layers taken by an attention */
    int64_t max_pos;       /* the smallest learned position table (0 none) */
    mgc_span max_pos_span;
    /* the call chain of the last IR node made: reused while it is unchanged */
    int chain, chain_dirty;
    /* moe: the expert being expanded (-1 none), and whether @experts */
    int cur_expert, cur_moe_ep;
    /* weight ids -> index (open addressing), so binding a weight is O(1) */
    int *wtab;
    size_t wcap;
} E;

static const val NONE = {.k = V_NONE};

/* ------------------------------------------------------------------ errors */

static val fail(E *e, mgc_span sp, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static val fail(E *e, mgc_span sp, const char *fmt, ...)
{
    if (e->failed)
        return NONE;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mgc_error_at(e->d, sp, "%s", msg);
    e->failed = 1;
    /* the call chain is reported after the error and its hint */
    e->fail_depth = e->depth < 72 ? e->depth : 72;
    memcpy(e->fail_calls, e->calls, sizeof e->calls);
    memcpy(e->fail_callees, e->callees, sizeof e->callees);
    return NONE;
}

static const char *kind_name(vkind k)
{
    switch (k) {
    case V_NONE: return "nothing";
    case V_INT: return "an integer";
    case V_FLOAT: return "a number";
    case V_BOOL: return "a boolean";
    case V_STR: return "a string";
    case V_NULL: return "null";
    case V_WEIGHT: return "a weight";
    case V_PARTS: return "a fused weight";
    case V_ROPE: return "a RoPE table";
    case V_CACHE: return "the KV cache";
    case V_CACHE_LAYER: return "a KV-cache layer";
    case V_TENSOR: return "a tensor";
    case V_CONFIG: return "a config.json object";
    case V_DEF: return "a def";
    }
    return "?";
}

/* ------------------------------------------------------------------ scopes */

static void bind(E *e, scope *s, const char *name, val v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].name, name) == 0) {
            s->items[i].v = v;
            return;
        }
    binding *b = mgc_arena_push(e->A, (void **)&s->items, &s->n, &s->cap, sizeof *b);
    b->name = name;
    b->v = v;
}

static const val *lookup(const scope *s, const char *name)
{
    for (; s; s = s->parent)
        for (size_t i = s->n; i-- > 0;)
            if (strcmp(s->items[i].name, name) == 0)
                return &s->items[i].v;
    return NULL;
}

static const mgc_ast_stmt *find_def(const E *e, const char *name)
{
    for (size_t i = 0; i < e->ndefs; i++)
        if (strcmp(e->defs[i]->name, name) == 0)
            return e->defs[i];
    return NULL;
}

/* ------------------------------------------------------------------ config */

static val config_value(E *e, const char *path, mgc_span sp, int soft)
{
    mgc_config_value cv;
    if (e->in->reads) /* "nothing silent": compile.c checks the keys that change the math were read */
        mgc_config_reads_add(e->in->reads, path);
    if (mgc_config_get(e->in->cfg, path, &cv) == MGC_CV_ABSENT) {
        if (soft)
            return (val){.k = V_NULL};
        /* Suggest a key of the same object. */
        char parent[256] = "";
        const char *dot = strrchr(path, '.');
        const char *leaf = dot ? dot + 1 : path;
        if (dot)
            snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
        fail(e, sp, "%s has no '%s'", mgc_config_path(e->in->cfg), path);
        const char *s = mgc_config_closest_key(e->in->cfg, parent, leaf);
        if (s)
            mgc_diag_hint(e->d, "did you mean '%s%s%s'?", parent, *parent ? "." : "", s);
        return NONE;
    }
    val v = NONE;
    switch (cv.kind) {
    case MGC_CV_NULL: v.k = V_NULL; break;
    case MGC_CV_BOOL: v.k = V_BOOL; v.i = cv.b; break;
    case MGC_CV_INT: v.k = V_INT; v.i = cv.i; break;
    case MGC_CV_FLOAT: v.k = V_FLOAT; v.f = cv.f; break;
    case MGC_CV_STRING: v.k = V_STR; v.s = mgc_arena_strdup(e->A, cv.s); break;
    case MGC_CV_NUMBERS:
    case MGC_CV_ARRAY:
    case MGC_CV_OBJECT: v.k = V_CONFIG; v.s = mgc_arena_strdup(e->A, path); break;
    default: break;
    }
    return v;
}

/* Reads a number from config sub-object `obj` + "." + key (for rope scaling). */
static int config_num(E *e, const char *obj, const char *key, double *out, mgc_span sp)
{
    char path[512];
    snprintf(path, sizeof path, "%s.%s", obj, key);
    val v = config_value(e, path, sp, 0);
    if (v.k == V_INT) {
        *out = (double)v.i;
        return 0;
    }
    if (v.k == V_FLOAT) {
        *out = v.f;
        return 0;
    }
    if (v.k != V_NONE)
        fail(e, sp, "%s: '%s' is %s, expected a number", mgc_config_path(e->in->cfg), path, kind_name(v.k));
    return -1;
}

static double *config_list(E *e, const char *obj, const char *key, int want, mgc_span sp)
{
    char path[512];
    snprintf(path, sizeof path, "%s.%s", obj, key);
    mgc_config_value cv;
    if (mgc_config_get(e->in->cfg, path, &cv) != MGC_CV_NUMBERS) {
        fail(e, sp, "%s: '%s' must be a list of %d numbers", mgc_config_path(e->in->cfg), path, want);
        return NULL;
    }
    if ((int)cv.len != want) {
        fail(e, sp, "%s: '%s' has %zu values but the rotary dimension needs %d (dim/2)",
             mgc_config_path(e->in->cfg), path, cv.len, want);
        return NULL;
    }
    double *out = mgc_arena_alloc(e->A, sizeof(double) * (size_t)want);
    for (int i = 0; i < want; i++)
        out[i] = cv.nums[i];
    return out;
}

/* ------------------------------------------------------------------ IR helpers */

/* The current def call chain as an index into ir->chains (made once per
 * change of the chain), so the sharding pass can name the bringup line that
 * reached a node. */
static int current_chain(E *e)
{
    if (e->depth == 0)
        return -1;
    if (!e->chain_dirty && e->chain >= 0)
        return e->chain;
    mgc_ir *ir = e->ir;
    mgc_ir_chain *c = mgc_arena_push(&ir->arena, (void **)&ir->chains, &ir->nchains, &ir->capchains, sizeof *c);
    c->depth = e->depth < 72 ? e->depth : 72;
    c->calls = mgc_arena_alloc(&ir->arena, sizeof(mgc_span) * (size_t)c->depth);
    c->callees = mgc_arena_alloc(&ir->arena, sizeof(char *) * (size_t)c->depth);
    memcpy(c->calls, e->calls, sizeof(mgc_span) * (size_t)c->depth);
    memcpy(c->callees, e->callees, sizeof(char *) * (size_t)c->depth);
    e->chain = (int)(ir->nchains - 1);
    e->chain_dirty = 0;
    return e->chain;
}

static int new_node(E *e, mgc_ir_opcode op, mgc_span sp)
{
    mgc_ir *ir = e->ir;
    int chain = current_chain(e);
    mgc_ir_node *n = mgc_arena_push(&ir->arena, (void **)&ir->nodes, &ir->nnodes, &ir->capnodes, sizeof *n);
    n->op = op;
    n->in[0] = n->in[1] = n->in[2] = -1;
    n->weight = n->weight2 = n->layer = n->rope = -1;
    n->act = e->sc && e->sc->adtype >= 0 ? (mgc_dtype)e->sc->adtype : (mgc_dtype)e->adtype;
    n->sh = MGC_SH_REPLICATED;
    n->replicas = 1;
    n->device = -1;
    n->expert = e->cur_expert;
    n->moe_ep = e->cur_moe_ep;
    n->chain = chain;
    n->span = sp;
    return (int)(ir->nnodes - 1);
}

static mgc_ir_node *node(E *e, int i) { return &e->ir->nodes[i]; }

/* A node of one operand that keeps its operand's shape. */
static int shaped_like(E *e, mgc_ir_opcode op, int a, mgc_span sp)
{
    mgc_ir_node src = *node(e, a);
    int r = new_node(e, op, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = a;
    n->nin = 1;
    n->width = src.width;
    n->heads = src.heads;
    n->head_dim = src.head_dim;
    return r;
}

static const char *shape_str(E *e, const mgc_ir_node *n)
{
    char buf[96];
    if (n->heads)
        snprintf(buf, sizeof buf, "[T, %d, %lld]", n->heads, (long long)n->head_dim);
    else
        snprintf(buf, sizeof buf, "[T, %lld]", (long long)n->width);
    return mgc_arena_strdup(e->A, buf);
}

/* ------------------------------------------------------------------ weights */

static mgc_dtype weight_dtype(E *e, const char *hf_name, mgc_weight_role role, mgc_span sp, int *err)
{
    *err = 0;
    if (role == MGC_W_NORM)
        return MGC_F32; /* norm weights are tiny; keep them exact */
    int explicit_ = -1;
    if (e->in->weights_dtype >= 0)
        explicit_ = e->in->weights_dtype;
    else if (e->sc && e->sc->wdtype >= 0)
        explicit_ = e->sc->wdtype;
    else
        for (size_t i = e->npats; i-- > 0;)
            if (fnmatch(e->pats[i].glob, hf_name, 0) == 0) {
                explicit_ = e->pats[i].dtype;
                break;
            }
    if (role == MGC_W_EMBEDDING) {
        if (explicit_ == MGC_BF8_B || explicit_ == MGC_BF4_B) {
            if (e->in->weights_dtype >= 0)
                return MGC_BF16; /* a global override keeps tables usable */
            *err = 1;
            fail(e, sp, "embedding table '%s' cannot be stored as %s: embedding lookups need f32 or bf16",
                 hf_name, mgc_dtype_name((mgc_dtype)explicit_));
            return MGC_BF16;
        }
        if (explicit_ >= 0)
            return (mgc_dtype)explicit_;
        return e->wdtype == MGC_BF8_B || e->wdtype == MGC_BF4_B ? MGC_BF16 : (mgc_dtype)e->wdtype;
    }
    return explicit_ >= 0 ? (mgc_dtype)explicit_ : (mgc_dtype)e->wdtype;
}

static int checkpoint_shape(E *e, const char *name, mgc_span sp, mgc_tensor_info *ti)
{
    const mgc_tensor_lookup *t = e->in->tensors;
    if (!t)
        return 1; /* unknown */
    if (t->find(t->ctx, name, ti) != 0) {
        fail(e, sp, "weight '%s' is not in the checkpoint %s", name, t->label);
        /* suggest among the tensors not bound yet: a missing layer's
         * tensor is not a misspelling of another layer's */
        size_t n = t->count(t->ctx), m = 0;
        const char **names = malloc(sizeof(char *) * (n ? n : 1));
        for (size_t i = 0; i < n; i++) {
            const char *c = t->name_at(t->ctx, i);
            int bound = 0;
            for (size_t w = 0; w < e->ir->nweights && !bound; w++)
                bound = strcmp(e->ir->weights[w].hf_name, c) == 0;
            if (!bound)
                names[m++] = c;
        }
        const char *s = mgc_suggest(name, names, m);
        if (s)
            mgc_diag_hint(e->d, "did you mean '%s'?", s);
        else if (strcmp(name, "lm_head.weight") == 0)
            mgc_diag_hint(e->d, "a model with tie_word_embeddings reuses the embeddings: tied w\"model.embed_tokens.weight\"");
        free(names);
        return -1;
    }
    if (strcmp(ti->dtype, "BF16") && strcmp(ti->dtype, "F16") && strcmp(ti->dtype, "F32")) {
        fail(e, sp, "weight '%s' in %s is %s; mgc loads BF16, F16 or F32 weights", name, t->label, ti->dtype);
        return -1;
    }
    return 0;
}

static void fmt_shape(char *buf, size_t n, const mgc_tensor_info *ti)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < ti->rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)ti->shape[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The IR weight with this id, or -1 (a hash table: a spec with thousands of
 * layers binds tens of thousands of weights). */
static int weight_find(E *e, const char *id)
{
    if (!e->wcap)
        return -1;
    for (size_t i = hash_str(id) & (e->wcap - 1);; i = (i + 1) & (e->wcap - 1)) {
        int w = e->wtab[i];
        if (w < 0)
            return -1;
        if (strcmp(e->ir->weights[w].id, id) == 0)
            return w;
    }
}

static void weight_index(E *e, int w)
{
    if ((e->ir->nweights + 1) * 2 > e->wcap) {
        size_t cap = e->wcap ? e->wcap * 2 : 256;
        int *t = malloc(sizeof(int) * cap);
        if (!t)
            abort();
        for (size_t i = 0; i < cap; i++)
            t[i] = -1;
        free(e->wtab);
        e->wtab = t;
        e->wcap = cap;
        for (size_t k = 0; k < e->ir->nweights; k++)
            if ((int)k != w)
                weight_index(e, (int)k);
    }
    size_t i = hash_str(e->ir->weights[w].id) & (e->wcap - 1);
    while (e->wtab[i] >= 0)
        i = (i + 1) & (e->wcap - 1);
    e->wtab[i] = w;
}

static const char *role_name(mgc_weight_role r)
{
    switch (r) {
    case MGC_W_LINEAR: return "a linear weight";
    case MGC_W_EMBEDDING: return "an embedding table";
    case MGC_W_NORM: return "a norm weight";
    case MGC_W_BIAS: return "a bias";
    }
    return "?";
}

/* Creates (or reuses) the IR weight for a use of `w` by an op.  rows/cols:
 * the shape the op needs (rows -1 = take it from the part or checkpoint).
 * How it is distributed over the mesh is the sharding pass's decision. */
static int use_weight(E *e, const wref *w, mgc_weight_role role, int64_t rows, int64_t cols, mgc_span opspan)
{
    int rank = role == MGC_W_NORM || role == MGC_W_BIAS ? 1 : 2;
    int64_t hf_rows = -1;
    mgc_tensor_info ti;
    int have = checkpoint_shape(e, w->name, w->span, &ti);
    if (have < 0)
        return -1;
    if (w->transposed && rank != 2)
        return fail(e, w->span, "transpose() applies to matrices, but '%s' is used as %s", w->name, role_name(role)),
               -1;
    if (have == 0 && w->transposed && ti.rank == 2) {
        /* the checkpoint stores [in, out]: work in the logical [out, in] */
        int64_t t = ti.shape[0];
        ti.shape[0] = ti.shape[1];
        ti.shape[1] = t;
    }
    if (w->tied) {
        mgc_config_value cv;
        if (mgc_config_get(e->in->cfg, "tie_word_embeddings", &cv) == MGC_CV_BOOL && !cv.b) {
            fail(e, w->span, "'tied' weight '%s', but %s sets tie_word_embeddings to false", w->name,
                 mgc_config_path(e->in->cfg));
            mgc_diag_hint(e->d, "an untied model has its own lm_head.weight");
            return -1;
        }
    } else if (strcmp(w->name, "lm_head.weight") == 0 && !e->in->tensors) {
        mgc_config_value cv;
        if (mgc_config_get(e->in->cfg, "tie_word_embeddings", &cv) == MGC_CV_BOOL && cv.b) {
            fail(e, w->span, "%s sets tie_word_embeddings: the checkpoint has no 'lm_head.weight'",
                 mgc_config_path(e->in->cfg));
            mgc_diag_hint(e->d, "use tied w\"model.embed_tokens.weight\"");
            return -1;
        }
    }
    if (have == 0) {
        char got[128];
        fmt_shape(got, sizeof got, &ti);
        if (ti.rank != rank) {
            fail(e, w->span, "weight '%s' is %s in the checkpoint, but %s needs a %s", w->name, got,
                 role == MGC_W_NORM ? "a norm" : role == MGC_W_BIAS ? "a bias" : "this op",
                 rank == 1 ? "vector" : "matrix");
            return -1;
        }
        hf_rows = ti.shape[0];
        if (w->part) {
            if (rows < 0)
                rows = w->rows;
        } else if (rows >= 0 && ti.shape[0] != rows) {
            if (rank == 1)
                fail(e, w->span, "weight '%s' is %s but the %s is %lld", w->name, got,
                     role == MGC_W_BIAS ? "width of the value it is added to" : "input's last dimension", (long long)rows);
            else
                fail(e, w->span, "weight '%s' is %s%s but the op says it produces %lld outputs", w->name, got,
                     w->transposed ? " (transposed: [out, in] as used)" : "", (long long)rows);
            return -1;
        } else
            rows = ti.shape[0];
        if (rank == 2 && ti.shape[1] != cols) {
            fail(e, opspan, "linear: weight '%s' is %s%s but the input's last dimension is %lld", w->name, got,
                 w->transposed ? " (transposed: [out, in] as used)" : "", (long long)cols);
            if (!w->transposed && ti.shape[0] == cols)
                mgc_diag_hint(e->d, "a checkpoint that stores [in, out] (GPT-2's Conv1D) is read with transpose(w\"...\")");
            return -1;
        }
    } else if (w->part) {
        rows = w->rows;
    }
    if (rows < 0) {
        fail(e, opspan, "cannot size weight '%s' without a checkpoint", w->name);
        mgc_diag_hint(e->d, "state the output size (linear: out=N, embedding: vocab=V, dim=D) or compile with --model DIR");
        return -1;
    }
    /* the weight's identity: name#part#tied#T#derived(...) (by hand, not
     * snprintf: this runs for every weight use of every layer) */
    char idbuf[600];
    int derived = w->dscale != 1.0 || w->doffset != 0.0;
    size_t idlen = 0;
    const char *pieces[5] = {w->name, w->part ? "#" : "", w->part ? w->part : "", w->tied ? "#tied" : "",
                             w->transposed ? "#T" : ""};
    for (int k = 0; k < 5; k++) {
        size_t n = strlen(pieces[k]);
        if (n > sizeof idbuf - 1 - idlen)
            n = sizeof idbuf - 1 - idlen;
        memcpy(idbuf + idlen, pieces[k], n);
        idlen += n;
    }
    idbuf[idlen] = 0;
    if (derived) {
        size_t l = strlen(idbuf);
        snprintf(idbuf + l, sizeof idbuf - l, "#derived(%.17g*w%+.17g)", w->dscale, w->doffset);
    }
    int err = 0;
    mgc_dtype dt = role == MGC_W_BIAS ? MGC_F32 : weight_dtype(e, w->name, role, w->span, &err);
    if (err)
        return -1;
    mgc_ir *ir = e->ir;
    int found = weight_find(e, idbuf);
    if (found >= 0) {
        mgc_ir_weight *x = &ir->weights[found];
        if (x->role != role) {
            fail(e, w->span, "weight '%s' is already used as %s; here it is used as %s", w->name, role_name(x->role),
                 role_name(role));
            if (role == MGC_W_LINEAR && x->role == MGC_W_EMBEDDING)
                mgc_diag_hint(e->d, "an lm_head tied to the embeddings is written 'tied w\"%s\"'", w->name);
            else
                mgc_diag_hint(e->d, "a second use of a tensor in another role is written 'tied w\"...\"'");
            return -1;
        }
        if (x->dtype != dt || x->rows != rows || x->cols != cols) {
            fail(e, w->span, "weight '%s' is used twice with different shapes, sharding or precision", idbuf);
            mgc_diag_hint(e->d, "a second use with its own shape or precision is written 'tied w\"...\"'");
            return -1;
        }
        return found;
    }
    mgc_ir_weight *x = mgc_arena_push(&ir->arena, (void **)&ir->weights, &ir->nweights, &ir->capweights, sizeof *x);
    x->id = mgc_arena_strdup(&ir->arena, idbuf);
    x->hf_name = mgc_arena_strdup(&ir->arena, w->name);
    x->tied = w->tied;
    x->rank = rank;
    x->rows = rows;
    x->cols = rank == 2 ? cols : 0;
    x->row0 = w->part ? w->row0 : 0;
    /* without a checkpoint, a fused part's tensor has the rows of all its parts */
    x->hf_rows = hf_rows >= 0 ? hf_rows : (w->part ? w->total : rows);
    x->role = role;
    x->dtype = dt;
    x->transposed = w->transposed;
    x->derive_scale = w->dscale;
    x->derive_offset = w->doffset;
    x->shard = MGC_SHARD_REPLICATED;
    x->replicas = 1;
    x->owner = -1;
    x->padded = 0;
    x->span = w->span;
    weight_index(e, (int)(ir->nweights - 1));
    return (int)(ir->nweights - 1);
}

/* ------------------------------------------------------------------ evaluation */

static val eval(E *e, scope *s, const mgc_ast_expr *x);
static val run_body(E *e, scope *s, mgc_ast_stmt **body, size_t n, int *returned);

static const char *interpolate(E *e, scope *s, const char *tmpl, mgc_span sp)
{
    if (!strchr(tmpl, '{'))
        return tmpl;
    mgc_strbuf b = {0};
    for (const char *p = tmpl; *p;) {
        if (*p != '{') {
            mgc_sb_putc(&b, *p++);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) {
            mgc_sb_puts(&b, p);
            break;
        }
        char name[128];
        size_t nl = (size_t)(end - p - 1) < sizeof name - 1 ? (size_t)(end - p - 1) : sizeof name - 1;
        memcpy(name, p + 1, nl);
        name[nl] = 0;
        const val *v = lookup(s, name);
        if (!v) {
            mgc_sb_free(&b);
            fail(e, sp, "'{%s}' in \"%s\" names nothing in scope", name, tmpl);
            return NULL;
        }
        char num[MGC_FMT_INT_MAX];
        if (v->k == V_INT)
            mgc_sb_putn(&b, num, mgc_fmt_i64(num, v->i));
        else if (v->k == V_STR)
            mgc_sb_puts(&b, v->s);
        else {
            mgc_sb_free(&b);
            fail(e, sp, "'{%s}' in \"%s\" is %s; only integers and strings fill a name template", name, tmpl,
                 kind_name(v->k));
            return NULL;
        }
        p = end + 1;
    }
    char *out = mgc_arena_strdup(e->A, b.s ? b.s : "");
    mgc_sb_free(&b);
    return out;
}

static int as_int(E *e, val v, mgc_span sp, const char *what, int64_t *out)
{
    if (v.k == V_INT) {
        *out = v.i;
        return 0;
    }
    if (v.k == V_FLOAT && v.f == floor(v.f) && fabs(v.f) < 9e15) {
        *out = (int64_t)v.f;
        return 0;
    }
    if (v.k != V_NONE)
        fail(e, sp, "%s must be an integer, but it is %s", what, kind_name(v.k));
    return -1;
}

static int as_num(E *e, val v, mgc_span sp, const char *what, double *out)
{
    if (v.k == V_INT) {
        *out = (double)v.i;
        return 0;
    }
    if (v.k == V_FLOAT) {
        *out = v.f;
        return 0;
    }
    if (v.k != V_NONE)
        fail(e, sp, "%s must be a number, but it is %s", what, kind_name(v.k));
    return -1;
}

/* Token ids are integers that only embedding() looks up; any other op on
 * them would compute on ids (and leave the plan without a model width). */
static int not_ids(E *e, int x, mgc_span sp, const char *what)
{
    if (x >= 0 && e->ir->nodes[x].op == MGC_IR_INPUT) {
        fail(e, sp, "%s is the token ids, which only embedding() takes", what);
        mgc_diag_hint(e->d, "look them up first: embedding(tokens, w\"...\", vocab=V, dim=D)");
        return -1;
    }
    return x;
}

static int tensor_arg(E *e, val v, mgc_span sp, const char *what)
{
    if (v.k == V_TENSOR)
        return v.idx;
    if (v.k != V_NONE)
        fail(e, sp, "%s must be a tensor, but it is %s", what, kind_name(v.k));
    return -1;
}

static int as_tensor(E *e, val v, mgc_span sp, const char *what)
{
    return not_ids(e, tensor_arg(e, v, sp, what), sp, what);
}

static val tensor(int idx) { return (val){.k = V_TENSOR, .idx = idx}; }

/* Arguments of a call, evaluated: positional then keyword. */
typedef struct args {
    val pos[8];
    mgc_span pos_span[8];
    size_t npos;
    const char *kw[8];
    val kwv[8];
    mgc_span kw_span[8];
    size_t nkw;
} args;

static const val *kwarg(const args *a, const char *name, mgc_span *sp)
{
    for (size_t i = 0; i < a->nkw; i++)
        if (strcmp(a->kw[i], name) == 0) {
            if (sp)
                *sp = a->kw_span[i];
            return &a->kwv[i];
        }
    return NULL;
}

static const char *binop_name(mgc_ir_opcode op)
{
    return op == MGC_IR_ADD ? "+" : op == MGC_IR_SUB ? "-" : op == MGC_IR_MUL ? "*" : "/";
}

static val elementwise(E *e, mgc_ir_opcode op, int a, int b, mgc_span sp)
{
    if (not_ids(e, a, sp, "an operand") < 0 || not_ids(e, b, sp, "an operand") < 0)
        return NONE;
    mgc_ir_node *na = node(e, a), *nb = node(e, b);
    if (na->width != nb->width || na->heads != nb->heads)
        return fail(e, sp, "'%s' needs operands of the same shape, got %s and %s", binop_name(op), shape_str(e, na),
                    shape_str(e, nb));
    int r = shaped_like(e, op, a, sp);
    node(e, r)->in[1] = b;
    node(e, r)->nin = 2;
    return tensor(r);
}

/* An op on one tensor that keeps its shape: activations, x * c, x + c, ... */
static val unary_op(E *e, mgc_ir_opcode op, int a, mgc_span sp, double scale)
{
    if (not_ids(e, a, sp, "the operand") < 0)
        return NONE;
    int r = shaped_like(e, op, a, sp);
    node(e, r)->scale = scale;
    return tensor(r);
}

static int shard_of_stmt(E *e) { return e->sc ? e->sc->shard : SH_NONE; }

static mgc_ann ann_of_stmt(E *e)
{
    switch (shard_of_stmt(e)) {
    case SH_COL: return MGC_ANN_COL;
    case SH_ROW: return MGC_ANN_ROW;
    case SH_REPL: return MGC_ANN_REPLICATED;
    case SH_HEADS: return MGC_ANN_HEADS;
    case SH_EXPERTS: return MGC_ANN_EXPERTS;
    }
    return MGC_ANN_NONE;
}

/* x + b for a bias vector b of x's width. */
static val add_bias(E *e, int x, const wref *b, mgc_span sp)
{
    if (not_ids(e, x, sp, "the operand") < 0)
        return NONE;
    if (node(e, x)->heads)
        return fail(e, sp, "a bias is added to a flat [T, N] value, not to a heads view %s", shape_str(e, node(e, x)));
    int wi = use_weight(e, b, MGC_W_BIAS, node(e, x)->width, 0, sp);
    if (wi < 0)
        return NONE;
    int r = shaped_like(e, MGC_IR_ADD_BIAS, x, sp);
    node(e, r)->weight = wi;
    return tensor(r);
}

static val op_linear(E *e, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "linear's input");
    if (x < 0)
        return NONE;
    if (a->pos[1].k != V_WEIGHT)
        return fail(e, a->pos_span[1], "linear's second argument must be a weight (w\"...\" or a fused part), not %s",
                    kind_name(a->pos[1].k));
    if (node(e, x)->heads)
        return fail(e, a->pos_span[0], "linear's input is a heads view %s; apply concat_heads first",
                    shape_str(e, node(e, x)));
    int64_t out = -1;
    mgc_span osp, bsp;
    const val *ov = kwarg(a, "out", &osp);
    if (ov && as_int(e, *ov, osp, "out", &out) < 0)
        return NONE;
    const val *bv = kwarg(a, "bias", &bsp);
    if (bv && (bv->k != V_WEIGHT || bv->w->part || bv->w->transposed))
        return fail(e, bsp, "linear's bias must be a weight vector w\"...\", not %s", kind_name(bv->k));
    const wref *w = a->pos[1].w;
    if (w->part && out >= 0 && out != w->rows)
        return fail(e, osp, "linear: out=%lld but the fused part '%s' has %lld rows", (long long)out, w->part,
                    (long long)w->rows);
    int sh = shard_of_stmt(e);
    if (sh == SH_HEADS)
        return fail(e, e->sc->span, "@heads applies to attention, not to linear");
    int64_t k = node(e, x)->width;
    int wi = use_weight(e, w, MGC_W_LINEAR, out, k, sp);
    if (wi < 0)
        return NONE;
    int r = new_node(e, MGC_IR_LINEAR, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = x;
    n->nin = 1;
    n->weight = wi;
    n->width = e->ir->weights[wi].rows;
    n->ann = ann_of_stmt(e);
    n->wspan = w->span;
    if (bv)
        return add_bias(e, r, bv->w, bsp);
    return tensor(r);
}

/* transpose(w"..."): a checkpoint tensor stored [in, out] (GPT-2's Conv1D),
 * used as the [out, in] matrix linear expects; the loader transposes it. */
static val op_transpose(E *e, const args *a, mgc_span sp)
{
    if (a->pos[0].k != V_WEIGHT || a->pos[0].w->part)
        return fail(e, a->pos_span[0], "transpose's argument must be a weight w\"...\", not %s", kind_name(a->pos[0].k));
    wref *w = mgc_arena_alloc(e->A, sizeof *w);
    *w = *a->pos[0].w;
    w->transposed = !w->transposed;
    return (val){.k = V_WEIGHT, .w = w};
}

/* embedding(tokens, W, vocab=V, dim=D) and position_embedding(tokens, W,
 * max_pos=P, dim=D): a row of a table per token, by its id or its position. */
static val op_table(E *e, const args *a, mgc_span sp, int positions)
{
    const char *what = positions ? "position_embedding" : "embedding";
    const char *rows_kw = positions ? "max_pos" : "vocab";
    int x = tensor_arg(e, a->pos[0], a->pos_span[0], positions ? "position_embedding's input" : "embedding's input");
    if (x < 0)
        return NONE;
    if (node(e, x)->op != MGC_IR_INPUT)
        return fail(e, a->pos_span[0], "%s looks up token ids: its input must be forward's parameter", what);
    const wref *w = a->pos[1].k == V_WEIGHT ? a->pos[1].w : NULL;
    if (!w || w->part)
        return fail(e, a->pos_span[1], "%s's second argument must be a weight w\"...\"", what);
    if (w->dscale != 1.0 || w->doffset != 0.0 || w->transposed)
        return fail(e, a->pos_span[1], "a %s table is used as stored (no transpose or arithmetic)", what);
    int sh = shard_of_stmt(e);
    if (sh == SH_COL || sh == SH_ROW || sh == SH_HEADS || sh == SH_EXPERTS)
        return fail(e, e->sc->span, "%s tables are replicated; use @replicated", what);
    int64_t rows = -1, dim = -1;
    mgc_span s1, s2;
    const val *vv = kwarg(a, rows_kw, &s1), *dv = kwarg(a, "dim", &s2);
    if ((vv && as_int(e, *vv, s1, rows_kw, &rows) < 0) || (dv && as_int(e, *dv, s2, "dim", &dim) < 0))
        return NONE;
    mgc_tensor_info ti;
    int have = checkpoint_shape(e, w->name, w->span, &ti);
    if (have < 0)
        return NONE;
    if (have == 0) {
        if (ti.rank != 2)
            return fail(e, w->span, "%s table '%s' must be a matrix", what, w->name);
        if ((rows >= 0 && rows != ti.shape[0]) || (dim >= 0 && dim != ti.shape[1]))
            return fail(e, w->span, "%s table '%s' is [%lld, %lld] but the spec says %s=%lld, dim=%lld", what, w->name,
                        (long long)ti.shape[0], (long long)ti.shape[1], rows_kw, (long long)rows, (long long)dim);
        rows = ti.shape[0];
        dim = ti.shape[1];
    }
    if (rows < 0 || dim < 0) {
        fail(e, sp, "cannot size %s table '%s' without a checkpoint", what, w->name);
        mgc_diag_hint(e->d, "state it: %s(tokens, w\"...\", %s=%s, dim=D)", what, rows_kw, positions ? "P" : "V");
        return NONE;
    }
    int wi = use_weight(e, w, MGC_W_EMBEDDING, rows, dim, sp);
    if (wi < 0)
        return NONE;
    if (positions && (!e->max_pos_span.file || rows < e->max_pos)) {
        e->max_pos = rows;
        e->max_pos_span = sp;
    }
    int r = new_node(e, positions ? MGC_IR_POS_EMBEDDING : MGC_IR_EMBEDDING, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = x;
    n->nin = 1;
    n->weight = wi;
    n->width = dim;
    return tensor(r);
}

/* rms_norm(x, W, eps) and layer_norm(x, W, [B,] eps): over the last
 * dimension, or over each head of a heads view. */
static val op_norm(E *e, const args *a, mgc_span sp, int layer)
{
    const char *name = layer ? "layer_norm" : "rms_norm";
    int x = as_tensor(e, a->pos[0], a->pos_span[0], layer ? "layer_norm's input" : "rms_norm's input");
    if (x < 0)
        return NONE;
    if (a->pos[1].k != V_WEIGHT || a->pos[1].w->part || a->pos[1].w->transposed)
        return fail(e, a->pos_span[1], "%s's second argument must be a weight w\"...\"", name);
    const wref *bias = NULL;
    size_t ieps = 2;
    if (layer && a->npos == 4) {
        if (a->pos[2].k != V_WEIGHT || a->pos[2].w->part || a->pos[2].w->transposed)
            return fail(e, a->pos_span[2], "layer_norm's third argument (of four) must be its bias w\"...\"");
        bias = a->pos[2].w;
        ieps = 3;
    } else if (a->npos != 3) {
        return fail(e, sp, "%s takes (x, W, eps)%s", name, layer ? " or (x, W, B, eps)" : "");
    }
    double eps;
    if (as_num(e, a->pos[ieps], a->pos_span[ieps], layer ? "layer_norm's eps" : "rms_norm's eps", &eps) < 0)
        return NONE;
    if (!(eps > 0 && eps < 1))
        return fail(e, a->pos_span[ieps], "%s's eps must be between 0 and 1, got %g", name, eps);
    mgc_ir_node src = *node(e, x);
    int64_t d = src.heads ? src.head_dim : src.width;
    int wi = use_weight(e, a->pos[1].w, MGC_W_NORM, d, 0, sp);
    if (wi < 0)
        return NONE;
    int bi = -1;
    if (bias && (bi = use_weight(e, bias, MGC_W_BIAS, d, 0, sp)) < 0)
        return NONE;
    int r = shaped_like(e, layer ? MGC_IR_LAYER_NORM : MGC_IR_RMS_NORM, x, sp);
    mgc_ir_node *n = node(e, r);
    n->weight = wi;
    n->weight2 = bi;
    n->eps = eps;
    return tensor(r);
}

static val op_heads(E *e, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "heads' input");
    if (x < 0)
        return NONE;
    int64_t nh;
    if (as_int(e, a->pos[1], a->pos_span[1], "the number of heads", &nh) < 0)
        return NONE;
    if (node(e, x)->heads)
        return fail(e, a->pos_span[0], "heads: the input is already a heads view %s", shape_str(e, node(e, x)));
    if (nh <= 0 || node(e, x)->width % nh)
        return fail(e, sp, "heads: a width of %lld does not split into %lld heads", (long long)node(e, x)->width,
                    (long long)nh);
    mgc_ir_node src = *node(e, x);
    int r = new_node(e, MGC_IR_HEADS, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = x;
    n->nin = 1;
    n->width = src.width;
    n->heads = (int)nh;
    n->head_dim = src.width / nh;
    return tensor(r);
}

static val op_concat_heads(E *e, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "concat_heads' input");
    if (x < 0)
        return NONE;
    if (!node(e, x)->heads)
        return fail(e, a->pos_span[0], "concat_heads needs a heads view, got %s", shape_str(e, node(e, x)));
    mgc_ir_node src = *node(e, x);
    int r = new_node(e, MGC_IR_CONCAT_HEADS, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = x;
    n->nin = 1;
    n->width = src.width;
    return tensor(r);
}

static val make_rope(E *e, mgc_rope_kind kind, const args *a, mgc_span sp)
{
    mgc_plan_rope r = {.kind = kind};
    int64_t dim;
    if (as_num(e, a->pos[0], a->pos_span[0], "rope theta", &r.theta) < 0 ||
        as_int(e, a->pos[1], a->pos_span[1], "rope dim", &dim) < 0)
        return NONE;
    if (r.theta <= 1)
        return fail(e, a->pos_span[0], "rope theta must be greater than 1, got %g", r.theta);
    if (dim <= 0 || dim % 2 || dim > 4096)
        return fail(e, a->pos_span[1], "rope dim must be a positive even number, got %lld", (long long)dim);
    r.dim = (int)dim;
    if (kind != MGC_ROPE_DEFAULT) {
        if (a->pos[2].k != V_CONFIG)
            return fail(e, a->pos_span[2], "the rope scaling argument must be a config.json object (config.rope_scaling), not %s",
                        kind_name(a->pos[2].k));
        const char *obj = a->pos[2].s;
        if (kind == MGC_ROPE_LLAMA3) {
            double orig;
            if (config_num(e, obj, "factor", &r.factor, a->pos_span[2]) < 0 ||
                config_num(e, obj, "low_freq_factor", &r.low_freq_factor, a->pos_span[2]) < 0 ||
                config_num(e, obj, "high_freq_factor", &r.high_freq_factor, a->pos_span[2]) < 0 ||
                config_num(e, obj, "original_max_position_embeddings", &orig, a->pos_span[2]) < 0)
                return NONE;
            if (r.high_freq_factor <= r.low_freq_factor)
                return fail(e, a->pos_span[2], "llama3 rope scaling needs high_freq_factor > low_freq_factor");
            r.original_max = (int64_t)orig;
        } else {
            int64_t maxp, orig;
            if (as_int(e, a->pos[3], a->pos_span[3], "max_position_embeddings", &maxp) < 0 ||
                as_int(e, a->pos[4], a->pos_span[4], "original_max_position_embeddings", &orig) < 0)
                return NONE;
            if (orig <= 0 || maxp <= 0)
                return fail(e, a->pos_span[4], "longrope position limits must be positive");
            r.max_pos = maxp;
            r.original_max = orig;
            r.short_factor = config_list(e, obj, "short_factor", r.dim / 2, a->pos_span[2]);
            if (!r.short_factor)
                return NONE;
            r.long_factor = config_list(e, obj, "long_factor", r.dim / 2, a->pos_span[2]);
            if (!r.long_factor)
                return NONE;
        }
    }
    mgc_ir *ir = e->ir;
    mgc_ir_rope *x = mgc_arena_push(&ir->arena, (void **)&ir->ropes, &ir->nropes, &ir->capropes, sizeof *x);
    x->r = r;
    x->span = sp;
    return (val){.k = V_ROPE, .idx = (int)(ir->nropes - 1)};
}

static val op_rotary(E *e, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "rotary's input");
    if (x < 0)
        return NONE;
    if (a->pos[1].k != V_ROPE)
        return fail(e, a->pos_span[1], "rotary's second argument must be a RoPE table (rope_default/rope_llama3/rope_longrope), not %s",
                    kind_name(a->pos[1].k));
    if (!node(e, x)->heads)
        return fail(e, a->pos_span[0], "rotary needs a heads view, got %s; apply heads(x, n) first",
                    shape_str(e, node(e, x)));
    int ri = a->pos[1].idx;
    if (e->ir->ropes[ri].r.dim > node(e, x)->head_dim)
        return fail(e, sp, "rotary: the RoPE table rotates %d dims but the heads have %lld",
                    e->ir->ropes[ri].r.dim, (long long)node(e, x)->head_dim);
    int r = shaped_like(e, MGC_IR_ROTARY, x, sp);
    node(e, r)->rope = ri;
    return tensor(r);
}

static val op_attention(E *e, const args *a, mgc_span sp)
{
    int q = as_tensor(e, a->pos[0], a->pos_span[0], "attention's q");
    int k = q >= 0 ? as_tensor(e, a->pos[1], a->pos_span[1], "attention's k") : -1;
    int v = k >= 0 ? as_tensor(e, a->pos[2], a->pos_span[2], "attention's v") : -1;
    if (v < 0)
        return NONE;
    if (a->pos[3].k != V_CACHE_LAYER)
        return fail(e, a->pos_span[3], "attention's fourth argument must be a cache layer (cache[i]), not %s",
                    kind_name(a->pos[3].k));
    for (int i = 0; i < 3; i++) {
        int t = i == 0 ? q : i == 1 ? k : v;
        if (!node(e, t)->heads)
            return fail(e, a->pos_span[i], "attention needs heads views, but %s is %s", i == 0 ? "q" : i == 1 ? "k" : "v",
                        shape_str(e, node(e, t)));
    }
    mgc_ir_node *nq = node(e, q), *nk = node(e, k), *nv = node(e, v);
    if (nk->heads != nv->heads || nk->head_dim != nv->head_dim)
        return fail(e, sp, "attention: k is %s but v is %s", shape_str(e, nk), shape_str(e, nv));
    if (nq->head_dim != nk->head_dim)
        return fail(e, sp, "attention: q heads have %lld values but k heads have %lld", (long long)nq->head_dim,
                    (long long)nk->head_dim);
    if (nq->heads % nk->heads)
        return fail(e, sp, "attention: %d query heads are not a multiple of %d KV heads", nq->heads, nk->heads);
    double scale = 1.0 / sqrt((double)nq->head_dim), softcap = 0;
    int64_t window = 0;
    mgc_span ssp;
    const val *sv = kwarg(a, "scale", &ssp);
    if (sv && as_num(e, *sv, ssp, "scale", &scale) < 0)
        return NONE;
    if (sv && !(scale > 0 && isfinite(scale)))
        return fail(e, ssp, "attention's scale must be a positive number, got %g", scale);
    if ((sv = kwarg(a, "window", &ssp)) && sv->k != V_NULL) {
        if (as_int(e, *sv, ssp, "window", &window) < 0)
            return NONE;
        if (window < 0)
            return fail(e, ssp, "attention's window must be 0 (none) or a number of positions, got %lld",
                        (long long)window);
    }
    if ((sv = kwarg(a, "softcap", &ssp)) && sv->k != V_NULL) {
        if (as_num(e, *sv, ssp, "softcap", &softcap) < 0)
            return NONE;
        if (!(softcap >= 0 && isfinite(softcap)))
            return fail(e, ssp, "attention's softcap must be 0 (none) or positive, got %g", softcap);
    }
    int sh = shard_of_stmt(e);
    if (sh == SH_COL || sh == SH_ROW || sh == SH_EXPERTS)
        return fail(e, e->sc->span, "attention is split by heads (@heads) or replicated, not @col/@row/@experts");
    mgc_ir *ir = e->ir;
    int layer = a->pos[3].idx;
    if (ir->cache_layers == 0) {
        ir->kv_heads = nk->heads;
        ir->head_dim = nk->head_dim;
    } else if (ir->kv_heads != nk->heads || ir->head_dim != nk->head_dim) {
        return fail(e, sp, "every attention must use the same KV-cache layout: this one has %d KV heads of %lld, an earlier one %lld of %lld",
                    nk->heads, (long long)nk->head_dim, (long long)ir->kv_heads, (long long)ir->head_dim);
    }
    if (e->cache_used[layer / 64] & (1ull << (layer % 64)))
        return fail(e, a->pos_span[3], "cache[%d] is used by two attentions", layer);
    e->cache_used[layer / 64] |= 1ull << (layer % 64);
    if (layer + 1 > ir->cache_layers)
        ir->cache_layers = layer + 1;
    mgc_ir_node src = *nq;
    int kvh = nk->heads;
    int r = new_node(e, MGC_IR_ATTENTION, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = q;
    n->in[1] = k;
    n->in[2] = v;
    n->nin = 3;
    n->layer = layer;
    n->width = src.width;
    n->heads = src.heads;
    n->head_dim = src.head_dim;
    n->kv_heads = kvh;
    n->scale = scale;
    n->window = window;
    n->softcap = softcap;
    n->ann = ann_of_stmt(e);
    return tensor(r);
}

static val op_fused(E *e, const args *a, mgc_span sp)
{
    if (a->pos[0].k != V_WEIGHT || a->pos[0].w->part)
        return fail(e, a->pos_span[0], "fused's first argument must be a weight w\"...\"");
    if (a->nkw == 0)
        return fail(e, sp, "fused needs its parts: fused(W, q=rows, k=rows, ...)");
    parts *p = mgc_arena_alloc(e->A, sizeof *p);
    p->name = a->pos[0].w->name;
    p->tied = a->pos[0].w->tied;
    p->transposed = a->pos[0].w->transposed;
    p->span = a->pos[0].w->span;
    p->n = a->nkw;
    p->names = mgc_arena_alloc(e->A, sizeof(char *) * a->nkw);
    p->rows = mgc_arena_alloc(e->A, sizeof(int64_t) * a->nkw);
    for (size_t i = 0; i < a->nkw; i++) {
        if (as_int(e, a->kwv[i], a->kw_span[i], "a fused part's row count", &p->rows[i]) < 0)
            return NONE;
        if (p->rows[i] <= 0)
            return fail(e, a->kw_span[i], "fused part '%s' must have a positive row count", a->kw[i]);
        p->names[i] = a->kw[i];
        p->total += p->rows[i];
    }
    mgc_tensor_info ti;
    int have = checkpoint_shape(e, p->name, p->span, &ti);
    if (have < 0)
        return NONE;
    int outdim = p->transposed ? 1 : 0; /* the parts are outputs: rows, or columns of an [in, out] tensor */
    if (have == 0 && (ti.rank != 2 || ti.shape[outdim] != p->total))
        return fail(e, sp, "fused: the parts add up to %lld %s but '%s' has %lld", (long long)p->total,
                    p->transposed ? "columns" : "rows", p->name,
                    (long long)(ti.rank == 2 ? ti.shape[outdim] : 0));
    return (val){.k = V_PARTS, .p = p};
}

/* Explicit all_reduce/all_gather: checked and kept by the sharding pass
 * (and dropped on one device). */
static val op_collective(E *e, mgc_ir_opcode op, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "the collective's input");
    if (x < 0)
        return NONE;
    return tensor(shaped_like(e, op, x, sp));
}

static val call_def(E *e, scope *s, const mgc_ast_stmt *def, const mgc_ast_expr *call);
static val call_def_values(E *e, const mgc_ast_stmt *def, const val *argv, size_t argc, mgc_span callsp);

/* The elementwise activations, by their spec names and HF's hidden_act names. */
static const struct {
    const char *name;
    mgc_ir_opcode op;
} activations[] = {
    {"silu", MGC_IR_SILU}, {"swish", MGC_IR_SILU}, {"gelu", MGC_IR_GELU}, {"gelu_tanh", MGC_IR_GELU_TANH},
    {"gelu_new", MGC_IR_GELU_TANH}, {"gelu_pytorch_tanh", MGC_IR_GELU_TANH}, {"tanh", MGC_IR_TANH},
    {"exp", MGC_IR_EXP}, {"relu", MGC_IR_RELU}, {"sigmoid", MGC_IR_SIGMOID},
};

static int activation_op(const char *name, mgc_ir_opcode *op)
{
    for (size_t i = 0; i < sizeof activations / sizeof activations[0]; i++)
        if (!strcmp(activations[i].name, name)) {
            *op = activations[i].op;
            return 0;
        }
    return -1;
}

/* act(x, name): the activation HF's config names (config.hidden_act). */
static val op_act(E *e, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "act's input");
    if (x < 0)
        return NONE;
    if (a->pos[1].k != V_STR)
        return fail(e, a->pos_span[1], "act's second argument must be an activation name (e.g. config.hidden_act), not %s",
                    kind_name(a->pos[1].k));
    mgc_ir_opcode op;
    if (activation_op(a->pos[1].s, &op) != 0) {
        fail(e, a->pos_span[1], "unknown activation '%s'", a->pos[1].s);
        mgc_diag_hint(e->d, "known: silu, swish, gelu (erf), gelu_tanh, gelu_new, gelu_pytorch_tanh, tanh, exp, relu, sigmoid");
        return NONE;
    }
    return unary_op(e, op, x, sp, 0);
}

/* softcap(x, c) = c * tanh(x / c) (Gemma 2's final logits). */
static val op_softcap(E *e, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "softcap's input");
    double c;
    if (x < 0 || as_num(e, a->pos[1], a->pos_span[1], "softcap's cap", &c) < 0)
        return NONE;
    if (!(c > 0 && isfinite(c)))
        return fail(e, a->pos_span[1], "softcap's cap must be positive, got %g", c);
    return unary_op(e, MGC_IR_SOFTCAP, x, sp, c);
}

/* moe(h, W_router, expert, args..., experts=E, top_k=K): a sparse mixture of
 * experts (Mixtral).  The router is linear(h, W_router) over the E experts;
 * route() keeps each token's top K softmax weights, renormalised; each
 * expert is the def `expert` called as expert(h, args..., e) for e in 0..E-1,
 * and the result is the sum of the experts' outputs times their weights, in
 * expert order (as HF accumulates).  Every expert is computed for every
 * token (its weight is 0 where not chosen); @experts puts each expert on one
 * device (expert parallel), otherwise each expert is sharded by its own
 * annotations. */
static val op_moe(E *e, const args *a, mgc_span sp)
{
    int h = as_tensor(e, a->pos[0], a->pos_span[0], "moe's input");
    if (h < 0)
        return NONE;
    if (node(e, h)->heads)
        return fail(e, a->pos_span[0], "moe's input must be flat [T, D], not %s", shape_str(e, node(e, h)));
    if (a->pos[1].k != V_WEIGHT || a->pos[1].w->part)
        return fail(e, a->pos_span[1], "moe's second argument must be the router weight w\"...\"");
    if (a->pos[2].k != V_DEF)
        return fail(e, a->pos_span[2], "moe's third argument must be the name of the expert's def, not %s",
                    kind_name(a->pos[2].k));
    int64_t ne = -1, k = -1;
    mgc_span es, ks;
    const val *ev = kwarg(a, "experts", &es), *kv = kwarg(a, "top_k", &ks);
    if (!ev || !kv)
        return fail(e, sp, "moe needs experts=E and top_k=K");
    if (as_int(e, *ev, es, "experts", &ne) < 0 || as_int(e, *kv, ks, "top_k", &k) < 0)
        return NONE;
    if (ne < 1 || ne > 1024)
        return fail(e, es, "moe: experts must be between 1 and 1024, got %lld", (long long)ne);
    if (k < 1 || k > ne)
        return fail(e, ks, "moe: top_k must be between 1 and experts (%lld), got %lld", (long long)ne, (long long)k);
    if (e->cur_expert >= 0)
        return fail(e, sp, "moe inside an expert of another moe is not supported");
    if (e->ir->n_experts && e->ir->n_experts != ne)
        return fail(e, es, "every moe must have the same number of experts (an earlier one has %lld)",
                    (long long)e->ir->n_experts);
    int ep = shard_of_stmt(e) == SH_EXPERTS;
    if (shard_of_stmt(e) != SH_NONE && !ep)
        return fail(e, e->sc->span, "moe is expert parallel (@experts) or sharded by its experts' own annotations");
    e->ir->n_experts = ne;
    if (ep)
        e->ir->experts_parallel = 1;
    /* the router: replicated, f32 softmax over all experts inside route */
    int64_t d = node(e, h)->width;
    int wr = use_weight(e, a->pos[1].w, MGC_W_LINEAR, ne, d, sp);
    if (wr < 0)
        return NONE;
    int logits = new_node(e, MGC_IR_LINEAR, sp);
    node(e, logits)->in[0] = h;
    node(e, logits)->nin = 1;
    node(e, logits)->weight = wr;
    node(e, logits)->width = ne;
    node(e, logits)->ann = MGC_ANN_REPLICATED;
    int route = shaped_like(e, MGC_IR_ROUTE, logits, sp);
    node(e, route)->top_k = (int)k;
    val argv[9];
    size_t argc = 0;
    argv[argc++] = tensor(h);
    for (size_t i = 3; i < a->npos && argc < 8; i++)
        argv[argc++] = a->pos[i];
    int acc = -1;
    stmt_ctx *saved = e->sc;
    for (int64_t x = 0; x < ne && !e->failed; x++) {
        argv[argc] = (val){.k = V_INT, .i = x};
        e->cur_expert = (int)x;
        e->cur_moe_ep = ep;
        e->sc = NULL;
        val y = call_def_values(e, a->pos[2].def, argv, argc + 1, a->pos_span[2]);
        e->cur_expert = -1;
        e->cur_moe_ep = 0;
        e->sc = saved;
        if (y.k == V_NONE)
            return NONE;
        int yi = as_tensor(e, y, a->pos_span[2], "an expert's result");
        if (yi < 0)
            return NONE;
        if (node(e, yi)->heads || node(e, yi)->width != d)
            return fail(e, a->pos_span[2], "expert %lld returns %s but moe's input is [T, %lld]", (long long)x,
                        shape_str(e, node(e, yi)), (long long)d);
        int sc = shaped_like(e, MGC_IR_EXPERT_SCALE, yi, sp);
        node(e, sc)->in[1] = route;
        node(e, sc)->nin = 2;
        node(e, sc)->expert = (int)x; /* the routing column; not a node of the expert */
        node(e, sc)->moe_ep = 0;
        if (acc < 0) {
            acc = sc;
        } else {
            val sum = elementwise(e, MGC_IR_ADD, acc, sc, sp);
            if (sum.k == V_NONE)
                return NONE;
            acc = sum.idx;
        }
    }
    return acc >= 0 ? tensor(acc) : NONE;
}

static val apply_op(E *e, const args *ap, const mgc_ast_expr *x)
{
    const args a = *ap;
    const char *n = x->str;
    mgc_span sp = x->span;
    if (!strcmp(n, "linear"))
        return op_linear(e, &a, sp);
    if (!strcmp(n, "embedding"))
        return op_table(e, &a, sp, 0);
    if (!strcmp(n, "position_embedding"))
        return op_table(e, &a, sp, 1);
    if (!strcmp(n, "rms_norm"))
        return op_norm(e, &a, sp, 0);
    if (!strcmp(n, "layer_norm"))
        return op_norm(e, &a, sp, 1);
    if (!strcmp(n, "heads"))
        return op_heads(e, &a, sp);
    if (!strcmp(n, "concat_heads"))
        return op_concat_heads(e, &a, sp);
    if (!strcmp(n, "rope_default"))
        return make_rope(e, MGC_ROPE_DEFAULT, &a, sp);
    if (!strcmp(n, "rope_llama3"))
        return make_rope(e, MGC_ROPE_LLAMA3, &a, sp);
    if (!strcmp(n, "rope_longrope"))
        return make_rope(e, MGC_ROPE_LONGROPE, &a, sp);
    if (!strcmp(n, "rotary"))
        return op_rotary(e, &a, sp);
    if (!strcmp(n, "attention"))
        return op_attention(e, &a, sp);
    if (!strcmp(n, "fused"))
        return op_fused(e, &a, sp);
    if (!strcmp(n, "transpose"))
        return op_transpose(e, &a, sp);
    if (!strcmp(n, "moe"))
        return op_moe(e, &a, sp);
    if (!strcmp(n, "act"))
        return op_act(e, &a, sp);
    if (!strcmp(n, "softcap"))
        return op_softcap(e, &a, sp);
    if (!strcmp(n, "all_reduce"))
        return op_collective(e, MGC_IR_ALL_REDUCE, &a, sp);
    if (!strcmp(n, "all_gather"))
        return op_collective(e, MGC_IR_ALL_GATHER, &a, sp);
    mgc_ir_opcode u;
    if (activation_op(n, &u) != 0)
        return fail(e, x->str_span, "op '%s' is not supported by the compiler yet", n);
    int t = as_tensor(e, a.pos[0], a.pos_span[0], "the input");
    if (t < 0)
        return NONE;
    return unary_op(e, u, t, sp, 0);
}


static val scalar_call(E *e, const mgc_ast_expr *x, const val *pos, size_t n);
static int all_numbers(const val *v, size_t n);

static val eval_call(E *e, scope *s, const mgc_ast_expr *x)
{
    const mgc_ast_stmt *def = find_def(e, x->str);
    if (def)
        return call_def(e, s, def, x);
    args a = {0};
    for (size_t i = 0; i < x->nargs; i++) {
        val v = eval(e, s, x->args[i].value);
        if (v.k == V_NONE)
            return NONE;
        if (x->args[i].name) {
            if (a.nkw == 8)
                return fail(e, x->args[i].name_span, "too many keyword arguments");
            a.kw[a.nkw] = x->args[i].name;
            a.kw_span[a.nkw] = x->args[i].name_span;
            a.kwv[a.nkw++] = v;
        } else {
            if (a.npos == 8)
                return fail(e, x->args[i].value->span, "too many arguments");
            a.pos_span[a.npos] = x->args[i].value->span;
            a.pos[a.npos++] = v;
        }
    }
    if (mgc_scalar_fn_find(x->str) && a.nkw == 0 && (all_numbers(a.pos, a.npos) || !mgc_op_find(x->str)))
        return scalar_call(e, x, a.pos, a.npos);
    const mgc_op_info *op = mgc_op_find(x->str);
    if (!op)
        return fail(e, x->str_span, "unknown op or def '%s'", x->str);
    if ((int)a.npos < op->min_args || (int)a.npos > op->max_args)
        return fail(e, x->span, "%s takes %d argument%s, got %zu", x->str, op->min_args, op->min_args == 1 ? "" : "s",
                    a.npos);
    return apply_op(e, &a, x);
}

static val call_def(E *e, scope *s, const mgc_ast_stmt *def, const mgc_ast_expr *call)
{
    size_t npos = 0;
    for (size_t i = 0; i < call->nargs; i++) {
        if (call->args[i].name)
            return fail(e, call->args[i].name_span, "'%s' is a def and takes no keyword arguments", def->name);
        npos++;
    }
    if (npos != def->nparams)
        return fail(e, call->span, "'%s' takes %zu argument%s, got %zu", def->name, def->nparams,
                    def->nparams == 1 ? "" : "s", npos);
    if (npos > 64)
        return fail(e, call->span, "'%s' takes more than 64 arguments", def->name);
    val argv[64];
    for (size_t i = 0; i < call->nargs; i++) {
        argv[i] = eval(e, s, call->args[i].value);
        if (argv[i].k == V_NONE)
            return NONE;
    }
    return call_def_values(e, def, argv, npos, call->span);
}

/* Expands def with evaluated arguments (a call in the spec, or moe's calls
 * of its expert). */
static val call_def_values(E *e, const mgc_ast_stmt *def, const val *argv, size_t argc, mgc_span callsp)
{
    if (e->depth > 64)
        return fail(e, callsp, "defs nested more than 64 calls deep (is '%s' recursive?)", def->name);
    if (argc != def->nparams)
        return fail(e, callsp, "'%s' takes %zu argument%s, got %zu", def->name, def->nparams,
                    def->nparams == 1 ? "" : "s", argc);
    scope local = {.parent = &e->globals};
    for (size_t i = 0; i < argc; i++)
        bind(e, &local, def->params[i].name, argv[i]);
    stmt_ctx *saved = e->sc;
    e->sc = NULL; /* a def's statements carry their own annotations */
    if (e->depth < 72) {
        e->calls[e->depth] = callsp;
        e->callees[e->depth] = def->name;
    }
    e->depth++;
    e->chain_dirty = 1;
    int returned = 0;
    val r = run_body(e, &local, def->body, def->nbody, &returned);
    e->depth--;
    e->chain_dirty = 1;
    e->sc = saved;
    if (!e->failed && !returned)
        return fail(e, def->span, "def '%s' ends without a return", def->name);
    return r;
}

/* Numbers, booleans and strings <-> scalar.c's values. */
static int is_scalar(val v) { return v.k == V_INT || v.k == V_FLOAT || v.k == V_BOOL || v.k == V_STR; }

static mgc_scalar to_scalar(val v)
{
    mgc_scalar_kind k = v.k == V_INT ? MGC_SV_INT : v.k == V_FLOAT ? MGC_SV_FLOAT : v.k == V_BOOL ? MGC_SV_BOOL : MGC_SV_STR;
    return (mgc_scalar){.k = k, .i = v.i, .f = v.f, .s = v.s};
}

static val from_scalar(mgc_scalar x)
{
    vkind k = x.k == MGC_SV_INT ? V_INT : x.k == MGC_SV_FLOAT ? V_FLOAT : x.k == MGC_SV_BOOL ? V_BOOL : V_STR;
    return (val){.k = k, .i = x.i, .f = x.f, .s = x.s};
}

/* Arithmetic and comparisons of numbers (and strings, booleans for == and
 * !=): Python's meaning, errors at the operator's expression. */
static val arith(E *e, mgc_ast_binop op, val l, val r, mgc_span sp)
{
    mgc_scalar out;
    char err[256];
    if (mgc_scalar_binop(op, to_scalar(l), to_scalar(r), &out, err, sizeof err) != 0)
        return fail(e, sp, "%s", err);
    return from_scalar(out);
}

/* A condition of `and`, `or`, `not`, `if`: a boolean, nothing else (0 or
 * an empty string being false is a Python habit that hides mistakes). */
static int as_bool(E *e, val v, mgc_span sp, const char *what, int *out)
{
    if (v.k == V_NONE)
        return -1;
    if (v.k != V_BOOL) {
        fail(e, sp, "%s must be a boolean, not %s", what, kind_name(v.k));
        if (v.k == V_INT || v.k == V_FLOAT)
            mgc_diag_hint(e->d, "compare it: x != 0");
        else if (v.k == V_NULL)
            mgc_diag_hint(e->d, "config.json has null there; give it a default with the default operator");
        return -1;
    }
    *out = v.i != 0;
    return 0;
}

/* sqrt(x), int(x), ...: every argument a number (else the tensor op of
 * the same name, if there is one, handles the call). */
static val scalar_call(E *e, const mgc_ast_expr *x, const val *pos, size_t n)
{
    mgc_scalar in[8], out;
    char err[256];
    for (size_t i = 0; i < n && i < 8; i++)
        in[i] = to_scalar(pos[i]);
    if (mgc_scalar_call(x->str, in, n, &out, err, sizeof err) != 0)
        return fail(e, x->span, "%s", err);
    return from_scalar(out);
}

static int all_numbers(const val *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].k != V_INT && v[i].k != V_FLOAT)
            return 0;
    return n > 0;
}

static int is_num(val v) { return v.k == V_INT || v.k == V_FLOAT; }

static double num_of(val v) { return v.k == V_INT ? (double)v.i : v.f; }

/* Weight algebra: a weight and a number make a derived weight, computed per
 * slice at load time (Gemma's norms: rms_norm(x, 1 + w"...", eps)). */
static val derive(E *e, mgc_ast_binop op, val l, val r, mgc_span sp)
{
    int wl = l.k == V_WEIGHT;
    const wref *w = wl ? l.w : r.w;
    double c = num_of(wl ? r : l);
    double a = w->dscale, b = w->doffset;
    switch (op) {
    case MGC_OP_ADD: b += c; break;
    case MGC_OP_SUB:
        if (wl)
            b -= c;
        else {
            a = -a;
            b = c - b;
        }
        break;
    case MGC_OP_MUL: a *= c; b *= c; break;
    case MGC_OP_DIV:
        if (!wl)
            return fail(e, sp, "a number divided by a weight is not a derived weight mgc can compute");
        if (c == 0)
            return fail(e, sp, "division by zero");
        a /= c;
        b /= c;
        break;
    default:
        return fail(e, sp, "a weight combines with a number by + - * / only");
    }
    if (!isfinite(a) || !isfinite(b))
        return fail(e, sp, "the derived weight's factor or offset is not finite");
    if (w->part)
        return fail(e, sp, "arithmetic on a part of a fused weight is not supported; derive from a whole tensor");
    wref *d = mgc_arena_alloc(e->A, sizeof *d);
    *d = *w;
    d->dscale = a;
    d->doffset = b;
    return (val){.k = V_WEIGHT, .w = d};
}

/* A binary operator on values that are not both numbers. */
static val combine(E *e, mgc_ast_binop op, val l, val r, mgc_span sp)
{
    if (l.k == V_TENSOR && r.k == V_TENSOR) {
        mgc_ir_opcode o = op == MGC_OP_ADD ? MGC_IR_ADD : op == MGC_OP_SUB ? MGC_IR_SUB
                          : op == MGC_OP_MUL ? MGC_IR_MUL : op == MGC_OP_DIV ? MGC_IR_DIV : MGC_IR_INPUT;
        if (o == MGC_IR_INPUT)
            return fail(e, sp, "this operator does not apply to tensors");
        return elementwise(e, o, l.idx, r.idx, sp);
    }
    if ((l.k == V_TENSOR && is_num(r)) || (r.k == V_TENSOR && is_num(l))) {
        int t = l.k == V_TENSOR ? l.idx : r.idx;
        double c = num_of(l.k == V_TENSOR ? r : l);
        if (!isfinite(c))
            return fail(e, sp, "the number is not finite");
        switch (op) {
        case MGC_OP_MUL: return unary_op(e, MGC_IR_SCALE, t, sp, c);
        case MGC_OP_ADD: return unary_op(e, MGC_IR_ADD_SCALAR, t, sp, c);
        case MGC_OP_SUB:
            if (l.k == V_TENSOR)
                return unary_op(e, MGC_IR_ADD_SCALAR, t, sp, -c);
            else {
                val neg = unary_op(e, MGC_IR_SCALE, t, sp, -1.0);
                return neg.k == V_NONE ? NONE : unary_op(e, MGC_IR_ADD_SCALAR, neg.idx, sp, c);
            }
        case MGC_OP_DIV:
            if (l.k != V_TENSOR)
                return fail(e, sp, "a number divided by a tensor is not supported");
            if (c == 0)
                return fail(e, sp, "division by zero");
            return unary_op(e, MGC_IR_DIV_SCALAR, t, sp, c);
        default: return fail(e, sp, "this operator does not apply to a tensor and a number");
        }
    }
    if ((l.k == V_WEIGHT && is_num(r)) || (r.k == V_WEIGHT && is_num(l)))
        return derive(e, op, l, r, sp);
    if (op == MGC_OP_ADD && ((l.k == V_TENSOR && r.k == V_WEIGHT) || (l.k == V_WEIGHT && r.k == V_TENSOR)))
        return add_bias(e, l.k == V_TENSOR ? l.idx : r.idx, l.k == V_WEIGHT ? l.w : r.w, sp);
    return fail(e, sp, "cannot combine %s and %s with this operator", kind_name(l.k), kind_name(r.k));
}

static const char *config_path_of(E *e, const mgc_ast_expr *x)
{
    if (x->kind == MGC_EX_NAME && strcmp(x->str, "config") == 0)
        return "";
    if (x->kind != MGC_EX_MEMBER)
        return NULL;
    const char *base = config_path_of(e, x->lhs);
    if (!base)
        return NULL;
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s%s", base, *base ? "." : "", x->str);
    return mgc_arena_strdup(e->A, buf);
}

static val eval(E *e, scope *s, const mgc_ast_expr *x)
{
    if (e->failed)
        return NONE;
    switch (x->kind) {
    case MGC_EX_INT: return (val){.k = V_INT, .i = x->ival};
    case MGC_EX_FLOAT: return (val){.k = V_FLOAT, .f = x->fval};
    case MGC_EX_STRING: {
        const char *t = interpolate(e, s, x->str, x->span);
        return t ? (val){.k = V_STR, .s = t} : NONE;
    }
    case MGC_EX_WEIGHT: {
        const char *t = interpolate(e, s, x->str, x->span);
        if (!t)
            return NONE;
        wref *w = mgc_arena_alloc(e->A, sizeof *w);
        w->name = t;
        w->tied = x->tied;
        w->rows = -1;
        w->dscale = 1.0;
        w->span = x->span;
        return (val){.k = V_WEIGHT, .w = w};
    }
    case MGC_EX_NAME: {
        const val *v = lookup(s, x->str);
        if (v)
            return *v;
        if (strcmp(x->str, "config") == 0)
            return (val){.k = V_CONFIG, .s = ""};
        if (strcmp(x->str, "cache") == 0)
            return (val){.k = V_CACHE};
        if (strcmp(x->str, "true") == 0 || strcmp(x->str, "false") == 0)
            return (val){.k = V_BOOL, .i = x->str[0] == 't'};
        const mgc_ast_stmt *def = find_def(e, x->str);
        if (def) /* a def passed by name (moe's expert) */
            return (val){.k = V_DEF, .def = def};
        return fail(e, x->span, "'%s' is not defined", x->str);
    }
    case MGC_EX_MEMBER: {
        const char *cp = config_path_of(e, x);
        if (cp)
            return config_value(e, cp, x->span, 0);
        val b = eval(e, s, x->lhs);
        if (b.k == V_NONE)
            return NONE;
        if (b.k == V_PARTS) {
            int64_t row0 = 0;
            for (size_t i = 0; i < b.p->n; i++) {
                if (strcmp(b.p->names[i], x->str) == 0) {
                    wref *w = mgc_arena_alloc(e->A, sizeof *w);
                    w->name = b.p->name;
                    w->part = b.p->names[i];
                    w->tied = b.p->tied;
                    w->row0 = row0;
                    w->rows = b.p->rows[i];
                    w->total = b.p->total;
                    w->dscale = 1.0;
                    w->transposed = b.p->transposed;
                    w->span = x->span;
                    return (val){.k = V_WEIGHT, .w = w};
                }
                row0 += b.p->rows[i];
            }
            fail(e, x->str_span, "the fused weight '%s' has no part '%s'", b.p->name, x->str);
            const char *sg = mgc_suggest(x->str, b.p->names, b.p->n);
            if (sg)
                mgc_diag_hint(e->d, "did you mean '%s'?", sg);
            return NONE;
        }
        return fail(e, x->str_span, "'.%s' applies to config and to fused weights, not to %s", x->str,
                    kind_name(b.k));
    }
    case MGC_EX_INDEX: {
        val b = eval(e, s, x->lhs);
        if (b.k == V_NONE)
            return NONE;
        if (b.k != V_CACHE)
            return fail(e, x->span, "only the KV cache can be indexed (cache[i]), not %s", kind_name(b.k));
        val i = eval(e, s, x->rhs);
        int64_t li;
        if (as_int(e, i, x->rhs->span, "a cache layer", &li) < 0)
            return NONE;
        if (li < 0 || li >= MGC_MAX_CACHE_LAYERS)
            return fail(e, x->rhs->span, "cache layer %lld is out of range (0 to %d)", (long long)li,
                        MGC_MAX_CACHE_LAYERS - 1);
        return (val){.k = V_CACHE_LAYER, .idx = (int)li};
    }
    case MGC_EX_CALL: return eval_call(e, s, x);
    case MGC_EX_COND: {
        /* lazy: the side not chosen is never evaluated (config.x may be absent there) */
        int c;
        if (as_bool(e, eval(e, s, x->cond), x->cond->span, "the condition of 'if'", &c) < 0)
            return NONE;
        return eval(e, s, c ? x->lhs : x->rhs);
    }
    case MGC_EX_UNARY: {
        if (x->op == MGC_OP_NOT) {
            int c;
            if (as_bool(e, eval(e, s, x->rhs), x->rhs->span, "the operand of 'not'", &c) < 0)
                return NONE;
            return (val){.k = V_BOOL, .i = !c};
        }
        val v = eval(e, s, x->rhs);
        if (v.k == V_INT)
            return (val){.k = V_INT, .i = -v.i};
        if (v.k == V_FLOAT)
            return (val){.k = V_FLOAT, .f = -v.f};
        if (v.k == V_TENSOR)
            return unary_op(e, MGC_IR_SCALE, v.idx, x->span, -1.0);
        if (v.k == V_WEIGHT)
            return derive(e, MGC_OP_MUL, v, (val){.k = V_INT, .i = -1}, x->span);
        if (v.k != V_NONE)
            return fail(e, x->span, "cannot negate %s", kind_name(v.k));
        return NONE;
    }
    case MGC_EX_BINARY: {
        if (x->op == MGC_OP_DEFAULT) {
            const char *cp = config_path_of(e, x->lhs);
            if (cp) {
                val l = config_value(e, cp, x->lhs->span, 1);
                if (l.k != V_NULL)
                    return l;
                return eval(e, s, x->rhs);
            }
            return eval(e, s, x->lhs);
        }
        if (x->op == MGC_OP_AND || x->op == MGC_OP_OR) {
            int a, b;
            const char *what = x->op == MGC_OP_AND ? "an operand of 'and'" : "an operand of 'or'";
            if (as_bool(e, eval(e, s, x->lhs), x->lhs->span, what, &a) < 0)
                return NONE;
            if (a == (x->op == MGC_OP_OR)) /* decided by the left side: the right is not evaluated */
                return (val){.k = V_BOOL, .i = a};
            if (as_bool(e, eval(e, s, x->rhs), x->rhs->span, what, &b) < 0)
                return NONE;
            return (val){.k = V_BOOL, .i = b};
        }
        val l = eval(e, s, x->lhs);
        if (l.k == V_NONE)
            return NONE;
        val r = eval(e, s, x->rhs);
        if (r.k == V_NONE)
            return NONE;
        if ((is_num(l) && is_num(r)) || (is_scalar(l) && is_scalar(r) && x->op >= MGC_OP_EQ && x->op <= MGC_OP_GE))
            return arith(e, x->op, l, r, x->span);
        if (x->op >= MGC_OP_POW)
            return fail(e, x->span, "'%s' applies to numbers, not to %s and %s", mgc_ast_op_text(x->op),
                        kind_name(l.k), kind_name(r.k));
        return combine(e, x->op, l, r, x->span);
    }
    }
    return NONE;
}

/* ------------------------------------------------------------------ statements */

static int parse_dtype_value(E *e, const mgc_ast_expr *v, int act_only, mgc_dtype *out)
{
    if (v->kind != MGC_EX_NAME || mgc_dtype_parse(v->str, out) != 0 || *out == MGC_I32) {
        fail(e, v->span, "expected a dtype (%s)", act_only ? "bf16, f32" : "bf4_b, bf8_b, bf16, f32");
        return -1;
    }
    if (act_only && *out != MGC_BF16 && *out != MGC_F32) {
        fail(e, v->span, "activations and the KV cache are bf16 or f32, not %s", mgc_dtype_name(*out));
        return -1;
    }
    return 0;
}

static int stmt_annots(E *e, const mgc_ast_stmt *st, stmt_ctx *c)
{
    c->shard = SH_NONE;
    c->wdtype = c->adtype = -1;
    c->span = st->span;
    for (size_t i = 0; i < st->nannots; i++) {
        const mgc_ast_annot *an = &st->annots[i];
        if (!an->value) {
            if (!strcmp(an->name, "col"))
                c->shard = SH_COL;
            else if (!strcmp(an->name, "row"))
                c->shard = SH_ROW;
            else if (!strcmp(an->name, "replicated"))
                c->shard = SH_REPL;
            else if (!strcmp(an->name, "heads"))
                c->shard = SH_HEADS;
            else if (!strcmp(an->name, "experts"))
                c->shard = SH_EXPERTS;
            c->span = an->span;
            continue;
        }
        mgc_dtype dt;
        if (mgc_dtype_parse(an->value, &dt) != 0) {
            fail(e, an->value_span, "unknown dtype '%s'", an->value);
            return -1;
        }
        if (!strcmp(an->name, "weights"))
            c->wdtype = dt;
        else if (!strcmp(an->name, "activations")) {
            if (dt != MGC_BF16 && dt != MGC_F32) {
                fail(e, an->value_span, "activations are bf16 or f32, not %s", an->value);
                return -1;
            }
            c->adtype = e->in->act_dtype >= 0 ? e->in->act_dtype : (int)dt;
        }
    }
    return 0;
}

static void add_tap(E *e, int node_idx)
{
    mgc_ir *ir = e->ir;
    *(int *)mgc_arena_push(&ir->arena, (void **)&ir->taps, &ir->ntaps, &ir->captaps, sizeof(int)) = node_idx;
}

/* The residual stream of the forward's layer loop: the one name the loop
 * body rebinds that already holds a tensor (x = decoder(x, ...)). */
static const char *residual_name(scope *s, const mgc_ast_stmt *loop)
{
    const char *found = NULL;
    for (size_t i = 0; i < loop->nbody; i++) {
        const mgc_ast_stmt *b = loop->body[i];
        if (b->kind != MGC_ST_ASSIGN)
            continue;
        const val *v = lookup(s, b->name);
        if (!v || v->k != V_TENSOR)
            continue;
        if (found && strcmp(found, b->name) != 0)
            return NULL;
        found = b->name;
    }
    return found;
}

static val run_body(E *e, scope *s, mgc_ast_stmt **body, size_t n, int *returned)
{
    for (size_t i = 0; i < n && !e->failed; i++) {
        const mgc_ast_stmt *st = body[i];
        switch (st->kind) {
        case MGC_ST_LET:
        case MGC_ST_ASSIGN:
        case MGC_ST_RETURN: {
            stmt_ctx c, *saved = e->sc;
            if (stmt_annots(e, st, &c) < 0)
                return NONE;
            e->sc = &c;
            val v = eval(e, s, st->value);
            e->sc = saved;
            if (v.k == V_NONE)
                return NONE;
            if (st->kind == MGC_ST_RETURN) {
                *returned = 1;
                return v;
            }
            bind(e, s, st->name, v);
            break;
        }
        case MGC_ST_FOR: {
            const char *resid = e->depth == 0 && !e->tapped ? residual_name(s, st) : NULL;
            if (resid) {
                e->tapped = 1;
                add_tap(e, lookup(s, resid)->idx);
            }
            val lo = eval(e, s, st->value), hi = eval(e, s, st->hi);
            int64_t a, b;
            if (as_int(e, lo, st->value->span, "a loop bound", &a) < 0 ||
                as_int(e, hi, st->hi->span, "a loop bound", &b) < 0)
                return NONE;
            if (b - a > 100000)
                return fail(e, st->hi->span, "the loop runs %lld times (at most 100000)", (long long)(b - a));
            for (int64_t it = a; it < b && !e->failed; it++) {
                /* The loop variable lives in the enclosing scope so that
                 * assignments in the body update outer names (x = f(x)). */
                bind(e, s, st->name, (val){.k = V_INT, .i = it});
                val r = run_body(e, s, st->body, st->nbody, returned);
                if (*returned)
                    return r;
                if (resid && !e->failed) {
                    const val *rv = lookup(s, resid);
                    if (rv && rv->k == V_TENSOR)
                        add_tap(e, rv->idx);
                }
            }
            break;
        }
        default:
            return fail(e, st->span, "this statement is not allowed inside a body");
        }
    }
    return NONE;
}

/* Top-level statements: model, precision, cache, lets and defs. */
static int run_top(E *e, const mgc_ast_file *f, int is_root)
{
    for (size_t i = 0; i < f->nstmts && !e->failed; i++) {
        const mgc_ast_stmt *st = f->stmts[i];
        switch (st->kind) {
        case MGC_ST_DEF:
            *(const mgc_ast_stmt **)mgc_arena_push(e->A, (void **)&e->defs, &e->ndefs, &e->capdefs,
                                                   sizeof(mgc_ast_stmt *)) = st;
            break;
        case MGC_ST_LET: {
            int returned = 0;
            mgc_ast_stmt *one = (mgc_ast_stmt *)st;
            run_body(e, &e->globals, &one, 1, &returned);
            break;
        }
        case MGC_ST_MODEL:
            if (is_root) {
                e->ir->model = mgc_arena_strdup(&e->ir->arena, st->str);
                e->model_span = st->span;
            }
            break;
        case MGC_ST_PRECISION:
            for (size_t k = 0; k < st->nsettings; k++) {
                const mgc_ast_setting *set = &st->settings[k];
                mgc_dtype dt;
                if (set->key_is_pattern) {
                    if (parse_dtype_value(e, set->value, 0, &dt) < 0)
                        return -1;
                    pattern *p = mgc_arena_push(e->A, (void **)&e->pats, &e->npats, &e->cappats, sizeof *p);
                    p->glob = set->key;
                    p->dtype = dt;
                    continue;
                }
                int act = strcmp(set->key, "weights") != 0;
                if (parse_dtype_value(e, set->value, act, &dt) < 0)
                    return -1;
                if (!strcmp(set->key, "weights"))
                    e->wdtype = dt;
                else if (!strcmp(set->key, "activations"))
                    e->adtype = dt;
                else if (!strcmp(set->key, "kv_cache"))
                    e->kvdtype = dt;
                else
                    return fail(e, set->key_span, "unknown precision key '%s'", set->key), -1;
            }
            break;
        case MGC_ST_CACHE:
            for (size_t k = 0; k < st->nsettings; k++) {
                const mgc_ast_setting *set = &st->settings[k];
                int returned = 0;
                (void)returned;
                val v = eval(e, &e->globals, set->value);
                int64_t n;
                if (as_int(e, v, set->value->span, set->key, &n) < 0)
                    return -1;
                if (n <= 0 || n > (1 << 24))
                    return fail(e, set->value->span, "cache %s must be between 1 and 16777216", set->key), -1;
                if (!strcmp(set->key, "max_len"))
                    e->cache_max_len = n;
                else if (!strcmp(set->key, "users"))
                    e->cache_users = n;
                else
                    return fail(e, set->key_span, "unknown cache setting '%s'", set->key), -1;
            }
            break;
        case MGC_ST_EXPECT: /* accuracy floors for eval, each in [0, 1] */
            for (size_t k = 0; k < st->nsettings && is_root; k++) {
                const mgc_ast_setting *set = &st->settings[k];
                double x;
                if (as_num(e, eval(e, &e->globals, set->value), set->value->span, set->key, &x) < 0)
                    return -1;
                if (!(x >= 0 && x <= 1))
                    return fail(e, set->value->span, "expect %s=%g: an accuracy floor is between 0 and 1", set->key, x),
                           -1;
                double *dst = !strcmp(set->key, "top1") ? &e->ir->expect_top1
                              : !strcmp(set->key, "top5") ? &e->ir->expect_top5
                              : !strcmp(set->key, "pcc")  ? &e->ir->expect_pcc
                                                          : NULL;
                if (!dst)
                    return fail(e, set->key_span, "unknown expect key '%s' (top1, top5, pcc)", set->key), -1;
                *dst = x;
            }
            break;
        default: /* ignore: compile.c matches the patterns against the checkpoint */
            break;
        }
    }
    return e->failed ? -1 : 0;
}

const char *mgc_spec_system(const mgc_program *prog)
{
    const mgc_ast_file *root = prog->root;
    for (size_t i = 0; root && i < root->nstmts; i++)
        if (root->stmts[i]->kind == MGC_ST_MODEL)
            return root->stmts[i]->name;
    return NULL;
}

static int elaborate(E *ep, const mgc_elab_in *in, mgc_diags *d, mgc_ir *ir);

int mgc_elaborate(const mgc_elab_in *in, mgc_diags *d, mgc_ir *ir)
{
    memset(ir, 0, sizeof *ir);
    E *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    int rc = elaborate(e, in, d, ir);
    for (int i = e->fail_depth; i-- > 0;)
        mgc_diag(d, MGC_NOTE, e->fail_calls[i], "in '%s', called from here", e->fail_callees[i]);
    free(e->wtab);
    free(e);
    return rc;
}

static int elaborate(E *ep, const mgc_elab_in *in, mgc_diags *d, mgc_ir *ir)
{
    *ep = (E){.in = in, .d = d, .ir = ir, .A = &ir->arena, .chain = -1, .cur_expert = -1};
    ep->tp = in->ndevices > 1;
    ep->wdtype = MGC_BF16;
    ep->adtype = MGC_BF16;
    ep->kvdtype = MGC_BF16;
    ep->cache_users = 32;
    ir->input = ir->output = -1;
    ir->expect_top1 = ir->expect_top5 = ir->expect_pcc = -1;
    ir->ndevices = in->ndevices;
    ir->system = mgc_arena_strdup(&ir->arena, in->system);

    const mgc_ast_file *root = in->prog->root;
    for (size_t i = 0; i < in->prog->nfiles && !ep->failed; i++) {
        const mgc_ast_file *f = in->prog->files[i].ast;
        run_top(ep, f, f == root);
    }
    if (ep->failed)
        return -1;
    if (in->act_dtype >= 0) {
        ep->adtype = in->act_dtype;
        ep->kvdtype = in->act_dtype;
    }
    if (in->weights_dtype >= 0)
        ep->wdtype = in->weights_dtype;

    const mgc_ast_stmt *fwd = NULL;
    for (size_t i = 0; root && i < root->nstmts; i++)
        if (root->stmts[i]->kind == MGC_ST_FORWARD)
            fwd = root->stmts[i];
    if (!fwd) {
        mgc_span sp = {.file = root ? root->path : NULL, .line = 1, .col = 1, .end_line = 1, .end_col = 2};
        fail(ep, sp, "no forward(tokens) { ... } in this spec: nothing to compile");
        mgc_diag_hint(d, "a file with only defs and lets is a library; compile the bringup that imports it");
        return -1;
    }
    if (fwd->nparams != 1) {
        fail(ep, fwd->span, "forward takes exactly one parameter (the token ids), it has %zu", fwd->nparams);
        return -1;
    }
    /* vocab and hidden size are facts the plan records for the runtime */
    mgc_config_value cv;
    if (mgc_config_get(in->cfg, "vocab_size", &cv) == MGC_CV_INT)
        ir->vocab = cv.i;
    if (mgc_config_get(in->cfg, "hidden_size", &cv) == MGC_CV_INT)
        ir->hidden = cv.i;

    ir->input = new_node(ep, MGC_IR_INPUT, fwd->params[0].span);
    node(ep, ir->input)->act = MGC_I32;
    node(ep, ir->input)->width = 1;
    scope local = {.parent = &ep->globals};
    bind(ep, &local, fwd->params[0].name, tensor(ir->input));
    int returned = 0;
    val r = run_body(ep, &local, fwd->body, fwd->nbody, &returned);
    if (ep->failed)
        return -1;
    if (!returned || r.k != V_TENSOR) {
        fail(ep, fwd->span, "forward must return the logits tensor%s", returned ? "" : " (it has no return)");
        return -1;
    }
    int out = r.idx;
    if (not_ids(ep, out, fwd->span, "forward's result") < 0)
        return -1;
    if (node(ep, out)->heads || (ir->vocab && node(ep, out)->width != ir->vocab)) {
        fail(ep, node(ep, out)->span, "forward returns %s but the logits must be [T, %lld] (config.vocab_size)",
             shape_str(ep, node(ep, out)), (long long)ir->vocab);
        return -1;
    }
    if (!ir->vocab)
        ir->vocab = node(ep, out)->width;
    if (!ir->hidden) /* a config without hidden_size: the embedding's width */
        for (size_t i = 0; i < ir->nnodes && !ir->hidden; i++)
            if (ir->nodes[i].op == MGC_IR_EMBEDDING)
                ir->hidden = ir->nodes[i].width;
    /* the final snapshot is what the logits are computed from (HF's last
     * hidden state is the final norm's output); the sharding pass drops the
     * snapshots if one of them is not a whole value */
    if (ir->ntaps > 0) {
        int t = out;
        while (node(ep, t)->op == MGC_IR_ALL_GATHER || node(ep, t)->op == MGC_IR_ALL_REDUCE ||
               node(ep, t)->op == MGC_IR_SOFTCAP || node(ep, t)->op == MGC_IR_ADD_BIAS)
            t = node(ep, t)->in[0];
        if (node(ep, t)->op == MGC_IR_LINEAR)
            add_tap(ep, node(ep, t)->in[0]);
        else
            ir->ntaps = 0; /* no clean final snapshot: no layer comparison */
    }
    for (size_t i = 0; i < ir->ntaps; i++)
        if (node(ep, ir->taps[i])->width != ir->hidden || node(ep, ir->taps[i])->heads)
            ir->ntaps = 0;
    mgc_ir_node src = *node(ep, out);
    int o = new_node(ep, MGC_IR_OUTPUT, src.span);
    node(ep, o)->in[0] = out;
    node(ep, o)->nin = 1;
    node(ep, o)->width = src.width;
    node(ep, o)->act = MGC_F32;
    node(ep, o)->inserted = 1;
    node(ep, o)->expert = -1;
    node(ep, o)->moe_ep = 0;
    ir->output = o;

    /* cache */
    if (ir->cache_layers > 0) {
        if (!ep->cache_max_len) {
            fail(ep, fwd->span, "the forward uses attention with a KV cache, but the spec sets no cache length");
            mgc_diag_hint(d, "add ep->g. 'cache max_len=1024' at the top level");
            return -1;
        }
        int64_t len = ep->cache_max_len;
        /* the spec's cap is the default; a longer --max-seq-len is allowed
         * when the plan still fits (the memory planner decides) */
        if (in->max_seq_len > 0)
            len = in->max_seq_len;
        ir->cache_len = len;
    } else {
        ir->cache_len = in->max_seq_len > 0 ? in->max_seq_len : (ep->cache_max_len ? ep->cache_max_len : 2048);
    }
    int64_t users = in->batch > 0 ? in->batch : ep->cache_users;
    if (users > 32 * 1024) {
        fail(ep, fwd->span, "at most 32768 users");
        return -1;
    }
    ir->cache_users = users;
    if (ep->max_pos > 0 && ir->cache_len > ep->max_pos) {
        fail(ep, ep->max_pos_span, "the position table has %lld positions but the plan allows sequences of %lld",
             (long long)ep->max_pos, (long long)ir->cache_len);
        mgc_diag_hint(d, "lower cache max_len (or --max-seq-len) to at most %lld", (long long)ep->max_pos);
        return -1;
    }
    ir->weights_dtype = (mgc_dtype)ep->wdtype;
    ir->act_dtype = (mgc_dtype)ep->adtype;
    ir->kv_dtype = (mgc_dtype)ep->kvdtype;
    return 0;
}
