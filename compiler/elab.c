/* elab.c: run a checked spec against config.json and build the IR.
 *
 * The spec is evaluated like a tiny functional program.  Values are numbers,
 * strings, weight references, fused-weight parts, RoPE tables, cache entries,
 * config sub-objects and tensors (IR nodes).  Ops on tensors append IR nodes;
 * sharding is decided as each node is created from the statement's
 * annotation and the operands' shardings, inserting all_reduce/all_gather
 * nodes where an op needs a replicated value.
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

#include "ops.h"
#include "strbuf.h"

typedef enum vkind {
    V_NONE, V_INT, V_FLOAT, V_BOOL, V_STR, V_NULL, V_WEIGHT, V_PARTS,
    V_ROPE, V_CACHE, V_CACHE_LAYER, V_TENSOR, V_CONFIG,
} vkind;

typedef struct wref {
    const char *name;      /* checkpoint tensor */
    const char *part;      /* fused part name or NULL */
    int tied;
    int64_t row0, rows;    /* rows = -1: whole tensor, size unknown yet */
    int64_t total;         /* fused part: rows of the whole fused tensor (the sum of its parts) */
    mgc_span span;
} wref;

typedef struct parts {
    const char *name;
    int tied;
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

enum { SH_NONE = -1, SH_COL, SH_ROW, SH_REPL, SH_HEADS };

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

static int new_node(E *e, mgc_ir_opcode op, mgc_span sp)
{
    mgc_ir *ir = e->ir;
    mgc_ir_node *n = mgc_arena_push(&ir->arena, (void **)&ir->nodes, &ir->nnodes, &ir->capnodes, sizeof *n);
    n->op = op;
    n->in[0] = n->in[1] = n->in[2] = -1;
    n->weight = n->layer = n->rope = -1;
    n->act = e->sc && e->sc->adtype >= 0 ? (mgc_dtype)e->sc->adtype : (mgc_dtype)e->adtype;
    n->sh = MGC_SH_REPLICATED;
    n->span = sp;
    return (int)(ir->nnodes - 1);
}

static mgc_ir_node *node(E *e, int i) { return &e->ir->nodes[i]; }

/* Makes a value available whole on every device, inserting the collective
 * its sharding needs. */
static int ensure_replicated(E *e, int x, mgc_span sp)
{
    if (!e->tp)
        return x;
    mgc_ir_node *n = node(e, x);
    if (n->sh == MGC_SH_REPLICATED)
        return x;
    mgc_ir_opcode op = n->sh == MGC_SH_PARTIAL ? MGC_IR_ALL_REDUCE : MGC_IR_ALL_GATHER;
    int64_t width = n->width, hd = n->head_dim;
    int heads = n->heads;
    mgc_dtype act = n->act;
    int c = new_node(e, op, sp);
    mgc_ir_node *cn = node(e, c);
    cn->in[0] = x;
    cn->nin = 1;
    cn->width = width;
    cn->heads = heads;
    cn->head_dim = hd;
    cn->act = act;
    cn->inserted = 1;
    return c;
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

/* Creates (or reuses) the IR weight for a use of `w` by an op.  rows/cols:
 * the shape the op needs (rows -1 = take it from the part or checkpoint). */
static int use_weight(E *e, const wref *w, mgc_weight_role role, int64_t rows, int64_t cols,
                      mgc_shard_kind shard, int dim, mgc_span opspan)
{
    int rank = role == MGC_W_NORM ? 1 : 2;
    int64_t hf_rows = -1;
    mgc_tensor_info ti;
    int have = checkpoint_shape(e, w->name, w->span, &ti);
    if (have < 0)
        return -1;
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
                 role == MGC_W_NORM ? "a norm" : "this op", rank == 1 ? "vector" : "matrix");
            return -1;
        }
        hf_rows = ti.shape[0];
        if (w->part) {
            if (rows < 0)
                rows = w->rows;
        } else if (rows >= 0 && ti.shape[0] != rows) {
            if (rank == 1)
                fail(e, w->span, "weight '%s' is %s but the input's last dimension is %lld", w->name, got,
                     (long long)rows);
            else
                fail(e, w->span, "weight '%s' is %s but the op says it produces %lld outputs", w->name, got,
                     (long long)rows);
            return -1;
        } else
            rows = ti.shape[0];
        if (rank == 2 && ti.shape[1] != cols) {
            fail(e, opspan, "linear: weight '%s' is %s but the input's last dimension is %lld", w->name, got,
                 (long long)cols);
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
    char idbuf[512];
    if (w->part)
        snprintf(idbuf, sizeof idbuf, "%s#%s", w->name, w->part);
    else if (w->tied)
        snprintf(idbuf, sizeof idbuf, "%s#tied", w->name);
    else
        snprintf(idbuf, sizeof idbuf, "%s", w->name);
    int err = 0;
    mgc_dtype dt = weight_dtype(e, w->name, role, w->span, &err);
    if (err)
        return -1;
    mgc_ir *ir = e->ir;
    for (size_t i = 0; i < ir->nweights; i++) {
        mgc_ir_weight *x = &ir->weights[i];
        if (strcmp(x->id, idbuf) != 0)
            continue;
        if (x->shard != shard || x->dim != dim || x->dtype != dt || x->rows != rows || x->cols != cols) {
            fail(e, w->span, "weight '%s' is used twice with different shapes, sharding or precision", idbuf);
            mgc_diag_hint(e->d, "a second use with its own sharding is written 'tied w\"...\"'");
            return -1;
        }
        return (int)i;
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
    x->shard = e->tp ? shard : MGC_SHARD_REPLICATED;
    x->dim = e->tp ? dim : 0;
    x->padded = 0;
    x->span = w->span;
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
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        const val *v = lookup(s, name);
        if (!v) {
            mgc_sb_free(&b);
            fail(e, sp, "'{%s}' in \"%s\" names nothing in scope", name, tmpl);
            return NULL;
        }
        if (v->k == V_INT)
            mgc_sb_printf(&b, "%lld", (long long)v->i);
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

static val elementwise(E *e, mgc_ir_opcode op, int a, int b, mgc_span sp)
{
    if (not_ids(e, a, sp, "an operand") < 0 || not_ids(e, b, sp, "an operand") < 0)
        return NONE;
    mgc_ir_node *na = node(e, a), *nb = node(e, b);
    if (na->width != nb->width || na->heads != nb->heads) {
        const char *opn = op == MGC_IR_ADD ? "+" : op == MGC_IR_SUB ? "-" : "*";
        return fail(e, sp, "'%s' needs operands of the same shape, got %s and %s", opn, shape_str(e, na),
                    shape_str(e, nb));
    }
    if (e->tp) {
        mgc_sharding sa = na->sh, sb = nb->sh;
        int both_partial_ok = sa == MGC_SH_PARTIAL && sb == MGC_SH_PARTIAL && op != MGC_IR_MUL;
        if (!(sa == sb && (sa != MGC_SH_PARTIAL || both_partial_ok))) {
            a = ensure_replicated(e, a, sp);
            b = ensure_replicated(e, b, sp);
        }
    }
    mgc_sharding sh = node(e, a)->sh;
    int64_t width = node(e, a)->width, hd = node(e, a)->head_dim;
    int heads = node(e, a)->heads;
    int r = new_node(e, op, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = a;
    n->in[1] = b;
    n->nin = 2;
    n->width = width;
    n->heads = heads;
    n->head_dim = hd;
    n->sh = sh;
    return tensor(r);
}

static val unary_op(E *e, mgc_ir_opcode op, int a, mgc_span sp, double scale)
{
    if (not_ids(e, a, sp, "the operand") < 0)
        return NONE;
    if (op != MGC_IR_SCALE && node(e, a)->sh == MGC_SH_PARTIAL)
        a = ensure_replicated(e, a, sp);
    mgc_ir_node src = *node(e, a);
    int r = new_node(e, op, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = a;
    n->nin = 1;
    n->width = src.width;
    n->heads = src.heads;
    n->head_dim = src.head_dim;
    n->sh = src.sh;
    n->scale = scale;
    return tensor(r);
}

static int shard_of_stmt(E *e) { return e->sc ? e->sc->shard : SH_NONE; }

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
    mgc_span osp;
    const val *ov = kwarg(a, "out", &osp);
    if (ov && as_int(e, *ov, osp, "out", &out) < 0)
        return NONE;
    const wref *w = a->pos[1].w;
    if (w->part && out >= 0 && out != w->rows)
        return fail(e, osp, "linear: out=%lld but the fused part '%s' has %lld rows", (long long)out, w->part,
                    (long long)w->rows);
    int sh = shard_of_stmt(e);
    if (sh == SH_HEADS)
        return fail(e, e->sc->span, "@heads applies to attention, not to linear");
    mgc_shard_kind wk = MGC_SHARD_REPLICATED;
    int dim = 0;
    mgc_sharding outsh = MGC_SH_REPLICATED;
    if (e->tp && sh == SH_ROW) {
        if (node(e, x)->sh != MGC_SH_SPLIT) {
            fail(e, sp, "a row-parallel linear needs its input split on the last dimension, but here it is %s",
                 mgc_sharding_name(node(e, x)->sh));
            mgc_diag_hint(e->d, "feed it the result of a @col linear (or of attention @heads)");
            return NONE;
        }
        wk = MGC_SHARD_SPLIT;
        dim = 1;
        outsh = MGC_SH_PARTIAL;
    } else {
        x = ensure_replicated(e, x, sp);
        if (e->tp && sh == SH_COL) {
            wk = MGC_SHARD_SPLIT;
            dim = 0;
            outsh = MGC_SH_SPLIT;
        }
    }
    int64_t k = node(e, x)->width;
    int wi = use_weight(e, w, MGC_W_LINEAR, out, k, wk, dim, sp);
    if (wi < 0)
        return NONE;
    int r = new_node(e, MGC_IR_LINEAR, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = x;
    n->nin = 1;
    n->weight = wi;
    n->width = e->ir->weights[wi].rows;
    n->sh = outsh;
    return tensor(r);
}

static val op_embedding(E *e, const args *a, mgc_span sp)
{
    int x = tensor_arg(e, a->pos[0], a->pos_span[0], "embedding's input");
    if (x < 0)
        return NONE;
    if (node(e, x)->op != MGC_IR_INPUT)
        return fail(e, a->pos_span[0], "embedding looks up token ids: its input must be forward's parameter");
    if (a->pos[1].k != V_WEIGHT || a->pos[1].w->part)
        return fail(e, a->pos_span[1], "embedding's second argument must be a weight w\"...\"");
    int sh = shard_of_stmt(e);
    if (sh == SH_COL || sh == SH_ROW || sh == SH_HEADS)
        return fail(e, e->sc->span, "embedding tables are replicated; use @replicated");
    int64_t vocab = -1, dim = -1;
    mgc_span s1, s2;
    const val *vv = kwarg(a, "vocab", &s1), *dv = kwarg(a, "dim", &s2);
    if (vv && as_int(e, *vv, s1, "vocab", &vocab) < 0)
        return NONE;
    if (dv && as_int(e, *dv, s2, "dim", &dim) < 0)
        return NONE;
    mgc_tensor_info ti;
    int have = checkpoint_shape(e, a->pos[1].w->name, a->pos[1].w->span, &ti);
    if (have < 0)
        return NONE;
    if (have == 0) {
        if (ti.rank != 2)
            return fail(e, a->pos[1].w->span, "embedding table '%s' must be a matrix", a->pos[1].w->name);
        if ((vocab >= 0 && vocab != ti.shape[0]) || (dim >= 0 && dim != ti.shape[1]))
            return fail(e, a->pos[1].w->span, "embedding table '%s' is [%lld, %lld] but the spec says vocab=%lld, dim=%lld",
                        a->pos[1].w->name, (long long)ti.shape[0], (long long)ti.shape[1], (long long)vocab,
                        (long long)dim);
        vocab = ti.shape[0];
        dim = ti.shape[1];
    }
    if (vocab < 0 || dim < 0) {
        fail(e, sp, "cannot size embedding table '%s' without a checkpoint", a->pos[1].w->name);
        mgc_diag_hint(e->d, "state it: embedding(tokens, w\"...\", vocab=V, dim=D)");
        return NONE;
    }
    wref w = *a->pos[1].w;
    int wi = use_weight(e, &w, MGC_W_EMBEDDING, vocab, dim, MGC_SHARD_REPLICATED, 0, sp);
    if (wi < 0)
        return NONE;
    int r = new_node(e, MGC_IR_EMBEDDING, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = x;
    n->nin = 1;
    n->weight = wi;
    n->width = dim;
    return tensor(r);
}

static val op_rms_norm(E *e, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "rms_norm's input");
    if (x < 0)
        return NONE;
    if (a->pos[1].k != V_WEIGHT || a->pos[1].w->part)
        return fail(e, a->pos_span[1], "rms_norm's second argument must be a weight w\"...\"");
    double eps;
    if (as_num(e, a->pos[2], a->pos_span[2], "rms_norm's eps", &eps) < 0)
        return NONE;
    if (!(eps > 0 && eps < 1))
        return fail(e, a->pos_span[2], "rms_norm's eps must be between 0 and 1, got %g", eps);
    if (!node(e, x)->heads || node(e, x)->sh == MGC_SH_PARTIAL)
        x = ensure_replicated(e, x, sp);
    mgc_ir_node src = *node(e, x);
    int64_t d = src.heads ? src.head_dim : src.width;
    int wi = use_weight(e, a->pos[1].w, MGC_W_NORM, d, 0, MGC_SHARD_REPLICATED, 0, sp);
    if (wi < 0)
        return NONE;
    int r = new_node(e, MGC_IR_RMS_NORM, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = x;
    n->nin = 1;
    n->weight = wi;
    n->width = src.width;
    n->heads = src.heads;
    n->head_dim = src.head_dim;
    n->sh = src.sh;
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
    if (node(e, x)->sh == MGC_SH_PARTIAL)
        x = ensure_replicated(e, x, sp);
    if (e->tp && node(e, x)->sh == MGC_SH_SPLIT && nh % e->in->ndevices)
        return fail(e, sp, "heads: %lld heads do not split over the %d devices of %s", (long long)nh,
                    e->in->ndevices, e->in->system);
    mgc_ir_node src = *node(e, x);
    int r = new_node(e, MGC_IR_HEADS, sp);
    mgc_ir_node *n = node(e, r);
    n->in[0] = x;
    n->nin = 1;
    n->width = src.width;
    n->heads = (int)nh;
    n->head_dim = src.width / nh;
    n->sh = src.sh;
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
    n->sh = src.sh;
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
    if (node(e, x)->sh == MGC_SH_PARTIAL)
        x = ensure_replicated(e, x, sp);
    mgc_ir_node src = *node(e, x);
    int r = new_node(e, MGC_IR_ROTARY, sp);
    mgc_ir_node *n = node(e, r);
    *n = src;
    n->op = MGC_IR_ROTARY;
    n->in[0] = x;
    n->in[1] = n->in[2] = -1;
    n->nin = 1;
    n->weight = -1;
    n->rope = ri;
    n->inserted = 0;
    n->span = sp;
    n->act = e->sc && e->sc->adtype >= 0 ? (mgc_dtype)e->sc->adtype : (mgc_dtype)e->adtype;
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
    double scale = 1.0 / sqrt((double)nq->head_dim);
    mgc_span ssp;
    const val *sv = kwarg(a, "scale", &ssp);
    if (sv && as_num(e, *sv, ssp, "scale", &scale) < 0)
        return NONE;
    int split = 0;
    if (e->tp) {
        if (shard_of_stmt(e) == SH_HEADS) {
            for (int i = 0; i < 3; i++) {
                int t = i == 0 ? q : i == 1 ? k : v;
                if (node(e, t)->sh != MGC_SH_SPLIT) {
                    fail(e, a->pos_span[i], "attention @heads needs %s split by heads, but it is %s",
                         i == 0 ? "q" : i == 1 ? "k" : "v", mgc_sharding_name(node(e, t)->sh));
                    mgc_diag_hint(e->d, "produce it with a @col linear");
                    return NONE;
                }
            }
            if (node(e, k)->heads % e->in->ndevices)
                return fail(e, sp, "attention @heads: %d KV heads do not split over the %d devices of %s",
                            node(e, k)->heads, e->in->ndevices, e->in->system);
            split = 1;
        } else {
            if (shard_of_stmt(e) == SH_COL || shard_of_stmt(e) == SH_ROW)
                return fail(e, e->sc->span, "attention is split by heads (@heads) or replicated, not @col/@row");
            q = ensure_replicated(e, q, sp);
            k = ensure_replicated(e, k, sp);
            v = ensure_replicated(e, v, sp);
        }
    }
    mgc_ir *ir = e->ir;
    int layer = a->pos[3].idx;
    nq = node(e, q);
    nk = node(e, k);
    if (ir->cache_layers == 0) {
        ir->kv_heads = nk->heads;
        ir->head_dim = nk->head_dim;
        ir->cache_split = split;
    } else if (ir->kv_heads != nk->heads || ir->head_dim != nk->head_dim || ir->cache_split != split) {
        return fail(e, sp, "every attention must use the same KV-cache layout: this one has %d KV heads of %lld%s, an earlier one %lld of %lld%s",
                    nk->heads, (long long)nk->head_dim, split ? " split by heads" : "", (long long)ir->kv_heads,
                    (long long)ir->head_dim, ir->cache_split ? " split by heads" : "");
    }
    for (size_t i = 0; i < ir->nnodes; i++)
        if (ir->nodes[i].op == MGC_IR_ATTENTION && ir->nodes[i].layer == layer)
            return fail(e, a->pos_span[3], "cache[%d] is used by two attentions", layer);
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
    n->sh = src.sh;
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
    if (have == 0 && (ti.rank != 2 || ti.shape[0] != p->total))
        return fail(e, sp, "fused: the parts add up to %lld rows but '%s' has %lld", (long long)p->total, p->name,
                    (long long)(ti.rank >= 1 ? ti.shape[0] : 0));
    return (val){.k = V_PARTS, .p = p};
}

static val op_collective(E *e, mgc_ir_opcode op, const args *a, mgc_span sp)
{
    int x = as_tensor(e, a->pos[0], a->pos_span[0], "the collective's input");
    if (x < 0)
        return NONE;
    if (!e->tp)
        return tensor(x); /* one device: nothing to exchange */
    mgc_sharding want = op == MGC_IR_ALL_REDUCE ? MGC_SH_PARTIAL : MGC_SH_SPLIT;
    if (node(e, x)->sh != want)
        return fail(e, sp, "%s of a value that is %s (it applies to a %s value)",
                    op == MGC_IR_ALL_REDUCE ? "all_reduce" : "all_gather", mgc_sharding_name(node(e, x)->sh),
                    mgc_sharding_name(want));
    int r = ensure_replicated(e, x, sp);
    node(e, r)->inserted = 0;
    return tensor(r);
}

static val call_def(E *e, scope *s, const mgc_ast_stmt *def, const mgc_ast_expr *call);

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
    const mgc_op_info *op = mgc_op_find(x->str);
    if (!op)
        return fail(e, x->str_span, "unknown op or def '%s'", x->str);
    if ((int)a.npos < op->min_args || (int)a.npos > op->max_args)
        return fail(e, x->span, "%s takes %d argument%s, got %zu", x->str, op->min_args, op->min_args == 1 ? "" : "s",
                    a.npos);
    const char *n = x->str;
    mgc_span sp = x->span;
    if (!strcmp(n, "linear"))
        return op_linear(e, &a, sp);
    if (!strcmp(n, "embedding"))
        return op_embedding(e, &a, sp);
    if (!strcmp(n, "rms_norm"))
        return op_rms_norm(e, &a, sp);
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
    if (!strcmp(n, "all_reduce"))
        return op_collective(e, MGC_IR_ALL_REDUCE, &a, sp);
    if (!strcmp(n, "all_gather"))
        return op_collective(e, MGC_IR_ALL_GATHER, &a, sp);
    mgc_ir_opcode u = !strcmp(n, "silu") ? MGC_IR_SILU : !strcmp(n, "gelu") ? MGC_IR_GELU : MGC_IR_GELU_TANH;
    if (strcmp(n, "silu") && strcmp(n, "gelu") && strcmp(n, "gelu_tanh"))
        return fail(e, x->str_span, "op '%s' is not supported by the compiler yet", n);
    int t = as_tensor(e, a.pos[0], a.pos_span[0], "the input");
    if (t < 0)
        return NONE;
    return unary_op(e, u, t, sp, 0);
}

static val call_def(E *e, scope *s, const mgc_ast_stmt *def, const mgc_ast_expr *call)
{
    (void)s;
    if (e->depth > 64)
        return fail(e, call->span, "defs nested more than 64 calls deep (is '%s' recursive?)", def->name);
    size_t npos = 0;
    for (size_t i = 0; i < call->nargs; i++) {
        if (call->args[i].name)
            return fail(e, call->args[i].name_span, "'%s' is a def and takes no keyword arguments", def->name);
        npos++;
    }
    if (npos != def->nparams)
        return fail(e, call->span, "'%s' takes %zu argument%s, got %zu", def->name, def->nparams,
                    def->nparams == 1 ? "" : "s", npos);
    scope local = {.parent = &e->globals};
    for (size_t i = 0; i < call->nargs; i++) {
        val v = eval(e, s, call->args[i].value);
        if (v.k == V_NONE)
            return NONE;
        bind(e, &local, def->params[i].name, v);
    }
    stmt_ctx *saved = e->sc;
    e->sc = NULL; /* a def's statements carry their own annotations */
    if (e->depth < 72) {
        e->calls[e->depth] = call->span;
        e->callees[e->depth] = def->name;
    }
    e->depth++;
    int returned = 0;
    val r = run_body(e, &local, def->body, def->nbody, &returned);
    e->depth--;
    e->sc = saved;
    if (!e->failed && !returned)
        return fail(e, def->span, "def '%s' ends without a return", def->name);
    return r;
}

static val arith(E *e, mgc_ast_binop op, val l, val r, mgc_span sp)
{
    if (l.k == V_INT && r.k == V_INT) {
        switch (op) {
        case MGC_OP_ADD: return (val){.k = V_INT, .i = l.i + r.i};
        case MGC_OP_SUB: return (val){.k = V_INT, .i = l.i - r.i};
        case MGC_OP_MUL: return (val){.k = V_INT, .i = l.i * r.i};
        case MGC_OP_DIV:
            if (r.i == 0)
                return fail(e, sp, "division by zero");
            if (l.i % r.i)
                return fail(e, sp, "%lld / %lld is not a whole number (integer '/' must divide exactly)",
                            (long long)l.i, (long long)r.i);
            return (val){.k = V_INT, .i = l.i / r.i};
        default: break;
        }
    }
    double a = l.k == V_INT ? (double)l.i : l.f, b = r.k == V_INT ? (double)r.i : r.f;
    switch (op) {
    case MGC_OP_ADD: return (val){.k = V_FLOAT, .f = a + b};
    case MGC_OP_SUB: return (val){.k = V_FLOAT, .f = a - b};
    case MGC_OP_MUL: return (val){.k = V_FLOAT, .f = a * b};
    case MGC_OP_DIV:
        if (b == 0)
            return fail(e, sp, "division by zero");
        return (val){.k = V_FLOAT, .f = a / b};
    default: return NONE;
    }
}

static int is_num(val v) { return v.k == V_INT || v.k == V_FLOAT; }

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
        if (li < 0 || li >= 4096)
            return fail(e, x->rhs->span, "cache layer %lld is out of range", (long long)li);
        return (val){.k = V_CACHE_LAYER, .idx = (int)li};
    }
    case MGC_EX_CALL: return eval_call(e, s, x);
    case MGC_EX_UNARY: {
        val v = eval(e, s, x->rhs);
        if (v.k == V_INT)
            return (val){.k = V_INT, .i = -v.i};
        if (v.k == V_FLOAT)
            return (val){.k = V_FLOAT, .f = -v.f};
        if (v.k == V_TENSOR)
            return unary_op(e, MGC_IR_SCALE, v.idx, x->span, -1.0);
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
        val l = eval(e, s, x->lhs);
        if (l.k == V_NONE)
            return NONE;
        val r = eval(e, s, x->rhs);
        if (r.k == V_NONE)
            return NONE;
        if (is_num(l) && is_num(r))
            return arith(e, x->op, l, r, x->span);
        if (l.k == V_TENSOR && r.k == V_TENSOR) {
            if (x->op == MGC_OP_DIV)
                return fail(e, x->span, "tensors cannot be divided");
            mgc_ir_opcode op = x->op == MGC_OP_ADD ? MGC_IR_ADD : x->op == MGC_OP_SUB ? MGC_IR_SUB : MGC_IR_MUL;
            return elementwise(e, op, l.idx, r.idx, x->span);
        }
        if (x->op == MGC_OP_MUL && ((l.k == V_TENSOR && is_num(r)) || (r.k == V_TENSOR && is_num(l)))) {
            val t = l.k == V_TENSOR ? l : r, c = l.k == V_TENSOR ? r : l;
            return unary_op(e, MGC_IR_SCALE, t.idx, x->span, c.k == V_INT ? (double)c.i : c.f);
        }
        if (x->op == MGC_OP_DIV && l.k == V_TENSOR && is_num(r)) {
            double c = r.k == V_INT ? (double)r.i : r.f;
            if (c == 0)
                return fail(e, x->span, "division by zero");
            return unary_op(e, MGC_IR_SCALE, l.idx, x->span, 1.0 / c);
        }
        return fail(e, x->span, "cannot combine %s and %s with this operator", kind_name(l.k), kind_name(r.k));
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
        default:
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
    free(e);
    return rc;
}

static int elaborate(E *ep, const mgc_elab_in *in, mgc_diags *d, mgc_ir *ir)
{
    *ep = (E){.in = in, .d = d, .ir = ir, .A = &ir->arena};
    ep->tp = in->ndevices > 1;
    ep->wdtype = MGC_BF16;
    ep->adtype = MGC_BF16;
    ep->kvdtype = MGC_BF16;
    ep->cache_users = 32;
    ir->input = ir->output = -1;
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
     * hidden state is the final norm's output) */
    if (ir->ntaps > 0) {
        int t = out;
        while (node(ep, t)->op == MGC_IR_ALL_GATHER || node(ep, t)->op == MGC_IR_ALL_REDUCE)
            t = node(ep, t)->in[0];
        if (node(ep, t)->op == MGC_IR_LINEAR && node(ep, node(ep, t)->in[0])->sh == MGC_SH_REPLICATED)
            add_tap(ep, node(ep, t)->in[0]);
        else
            ir->ntaps = 0; /* no clean final snapshot: no layer comparison */
    }
    for (size_t i = 0; i < ir->ntaps; i++)
        if (node(ep, ir->taps[i])->sh != MGC_SH_REPLICATED || node(ep, ir->taps[i])->width != ir->hidden)
            ir->ntaps = 0;
    if (node(ep, out)->sh == MGC_SH_PARTIAL)
        out = ensure_replicated(ep, out, node(ep, out)->span);
    mgc_ir_node src = *node(ep, out);
    int o = new_node(ep, MGC_IR_OUTPUT, src.span);
    node(ep, o)->in[0] = out;
    node(ep, o)->nin = 1;
    node(ep, o)->width = src.width;
    node(ep, o)->sh = src.sh;
    node(ep, o)->act = MGC_F32;
    node(ep, o)->inserted = 1;
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
    ir->weights_dtype = (mgc_dtype)ep->wdtype;
    ir->act_dtype = (mgc_dtype)ep->adtype;
    ir->kv_dtype = (mgc_dtype)ep->kvdtype;
    return 0;
}
