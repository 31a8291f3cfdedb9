/* check.c: the config-free checks of a program (see check.h).
 *
 * One pass over the files in dependency order.  Top-level names (lets and
 * defs) live in one program-wide table: they must be unique across the
 * program, and a file sees its own and those of the files it imports,
 * directly or not.  Lets are visible after their statement, defs in their
 * whole file (so recursion is possible to write, and reported as such).
 * Local names (params, assignments, body lets, loop variables) live in a
 * scoped table whose lookups stay O(1) however long a body is. */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec_library.h"
#include "ops.h"
#include "scalar.h"
#include "strbuf.h"
#include "xalloc.h"

/* ---- a string -> int hash map (values >= 0; -1 = absent) ---- */

typedef struct smap {
    const char **keys;
    int *vals;
    size_t cap, n;
} smap;

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int *smap_slot(smap *m, const char *key, int create)
{
    if (create && (m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        const char **nk = mgc_xcalloc(ncap, sizeof *nk);
        int *nv = mgc_xcalloc(ncap, sizeof *nv);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = hash_str(m->keys[i]) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = ncap;
    }
    if (m->cap == 0)
        return NULL;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0)
            return &m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (!create)
        return NULL;
    m->keys[j] = key;
    m->vals[j] = -1;
    m->n++;
    return &m->vals[j];
}

static int smap_get(smap *m, const char *key)
{
    int *v = smap_slot(m, key, 0);
    return v ? *v : -1;
}

static void smap_free(smap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- checker state ---- */

typedef struct call_edge {
    int callee;        /* global index of a def */
    mgc_span span;     /* the call's callee name */
} call_edge;

/* A top-level let or def. */
typedef struct global {
    const char *name;
    int is_def;
    size_t file, index;        /* file index and statement index in it */
    const mgc_ast_stmt *stmt;
    call_edge *calls;          /* defs: the defs its body calls */
    size_t ncalls, capcalls;
    int uses_attention;        /* defs: calls attention directly */
    int color;                 /* recursion search: 0 new, 1 on the stack, 2 done */
} global;

typedef struct binding {
    const char *name;
    int prev;                  /* binding it shadows, or -1 */
} binding;

typedef struct checker {
    const mgc_program *p;
    mgc_diags *d;
    smap gmap;                 /* name -> index into g */
    global *g;
    size_t ng, gcap;
    unsigned char *vis;        /* vis[a * nfiles + b]: file b is visible from file a */
    size_t cur_file, cur_index;
    smap lmap;                 /* name -> index into b (innermost binding) */
    binding *b;
    size_t nb, bcap;
    int cur_def;               /* global index of the def being checked, -1 otherwise */
    int in_let;                /* checking a let's value: constants only */
    int in_body;               /* inside a def or forward */
    int in_forward;            /* inside the (first) forward */
    int import_failed;         /* an import could not be loaded: no "unknown name" errors */
    int forward_attention;     /* the forward calls attention directly */
    call_edge *fwd_calls;      /* the defs the forward calls */
    size_t nfwd, capfwd;
    size_t *line_start;        /* offsets of line starts of the current file */
    size_t nlines;
} checker;

static const mgc_ast_file *cur_ast(checker *c) { return c->p->files[c->cur_file].ast; }

static int full(checker *c) { return mgc_diags_full(c->d); }

static mgc_span point(const char *file, int line, int col)
{
    mgc_span s = {file, line, col, line, col + 1};
    return s;
}

/* ---- local scopes ---- */

static void bind(checker *c, const char *name)
{
    int *slot = smap_slot(&c->lmap, name, 1);
    if (c->nb == c->bcap) {
        c->bcap = c->bcap ? c->bcap * 2 : 64;
        c->b = mgc_xrealloc(c->b, c->bcap * sizeof *c->b);
    }
    c->b[c->nb].name = name;
    c->b[c->nb].prev = *slot;
    *slot = (int)c->nb++;
}

static void scope_pop(checker *c, size_t mark)
{
    while (c->nb > mark) {
        binding *bd = &c->b[--c->nb];
        *smap_slot(&c->lmap, bd->name, 0) = bd->prev;
    }
}

static int is_local(checker *c, const char *name) { return smap_get(&c->lmap, name) >= 0; }

/* The global called `name` if the current file can see it at this point
 * (lets: defined earlier in this file or in a visible file). */
typedef enum { G_NONE, G_VISIBLE, G_LATER, G_NOT_IMPORTED } gvis;

static gvis global_lookup(checker *c, const char *name, int *out)
{
    int i = smap_get(&c->gmap, name);
    *out = i;
    if (i < 0)
        return G_NONE;
    const global *gl = &c->g[i];
    if (gl->file == c->cur_file) {
        if (gl->is_def || gl->index < c->cur_index)
            return G_VISIBLE;
        return G_LATER;
    }
    if (c->vis[c->cur_file * c->p->nfiles + gl->file])
        return G_VISIBLE;
    return G_NOT_IMPORTED;
}

/* Candidates for "did you mean": the local names in scope, the visible
 * globals (defs only or lets only), the built-ins.  Returns a malloc'd array. */
static const char **candidates(checker *c, int want_defs, size_t *n)
{
    size_t cap = c->nb + c->ng + mgc_nops + 2 + 32, k = 0;
    const char **v = mgc_xcalloc(cap, sizeof *v);
    if (want_defs) {
        for (size_t i = 0; i < mgc_nops; i++)
            v[k++] = mgc_ops[i].name;
        k += mgc_scalar_fn_names(v + k, 32);
    } else {
        for (size_t i = 0; i < c->nb; i++)
            if (smap_get(&c->lmap, c->b[i].name) == (int)i)
                v[k++] = c->b[i].name;
        v[k++] = "config";
        v[k++] = "cache";
    }
    for (size_t i = 0; i < c->ng; i++) {
        int dummy;
        if (c->g[i].is_def != want_defs)
            continue;
        if (global_lookup(c, c->g[i].name, &dummy) == G_VISIBLE)
            v[k++] = c->g[i].name;
    }
    *n = k;
    return v;
}

static void suggest(checker *c, const char *name, int want_defs)
{
    size_t n;
    const char **v = candidates(c, want_defs, &n);
    const char *s = mgc_suggest(name, v, n);
    if (s)
        mgc_diag_hint(c->d, "did you mean '%s'?", s);
    free(v);
}

static void explain_global(checker *c, int gi, gvis v)
{
    const global *gl = &c->g[gi];
    if (v == G_LATER)
        mgc_diag_hint(c->d, "'%s' is defined later, at line %d; a let is visible after its definition",
                      gl->name, gl->stmt->name_span.line);
    else if (v == G_NOT_IMPORTED)
        mgc_diag_hint(c->d, "'%s' is defined in %s, which this file does not import", gl->name,
                      c->p->files[gl->file].ast->path);
}

/* ---- template holes ---- */

static void build_lines(checker *c)
{
    const mgc_ast_file *f = cur_ast(c);
    free(c->line_start);
    size_t cap = 64, n = 0;
    size_t *ls = mgc_xcalloc(cap, sizeof *ls);
    ls[n++] = 0;
    for (size_t i = 0; i < f->source_len; i++)
        if (f->source[i] == '\n') {
            if (n == cap) {
                cap *= 2;
                ls = mgc_xrealloc(ls, cap * sizeof *ls);
            }
            ls[n++] = i + 1;
        }
    c->line_start = ls;
    c->nlines = n;
}

/* Column of the byte of the decoded literal at index `at`, found by walking
 * the raw text (escapes take two bytes) from the literal's opening quote. */
static int raw_col(checker *c, const mgc_ast_expr *e, size_t at)
{
    const mgc_ast_file *f = cur_ast(c);
    if (e->span.line < 1 || (size_t)e->span.line > c->nlines)
        return e->span.col;
    size_t off = c->line_start[e->span.line - 1] + (size_t)(e->span.col - 1);
    while (off < f->source_len && f->source[off] != '"' && f->source[off] != '\n')
        off++;
    size_t start = c->line_start[e->span.line - 1];
    off++; /* past the quote */
    for (size_t i = 0; i < at && off < f->source_len; i++)
        off += f->source[off] == '\\' ? 2 : 1;
    return (int)(off - start) + 1;
}

static int name_char(char ch, int first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (!first && ch >= '0' && ch <= '9');
}

static void check_name_use(checker *c, const char *name, mgc_span at, int in_template);

static void check_holes(checker *c, const mgc_ast_expr *e)
{
    const char *s = e->str;
    const char *file = cur_ast(c)->path;
    for (size_t i = 0; s[i] && !full(c); i++) {
        if (s[i] == '}') {
            int col = raw_col(c, e, i);
            mgc_error_at(c->d, point(file, e->span.line, col), "unmatched '}' in template");
            mgc_diag_hint(c->d, "template holes are written {name}");
            continue;
        }
        if (s[i] != '{')
            continue;
        size_t j = i + 1;
        while (s[j] && s[j] != '}' && s[j] != '{')
            j++;
        int col = raw_col(c, e, i);
        if (s[j] != '}') {
            mgc_error_at(c->d, point(file, e->span.line, col), "unclosed '{' in template");
            mgc_diag_hint(c->d, "template holes are written {name}");
            i = j - 1;
            continue;
        }
        int ok = j > i + 1 && name_char(s[i + 1], 1);
        for (size_t k = i + 1; k < j && ok; k++)
            ok = name_char(s[k], 0);
        mgc_span sp = {file, e->span.line, col, e->span.line, raw_col(c, e, j) + 1};
        if (!ok) {
            mgc_error_at(c->d, sp, "template hole '%.*s' is not a name", (int)(j - i + 1), s + i);
            mgc_diag_hint(c->d, "template holes are written {name}, e.g. {i} or {p}");
        } else {
            char name[128];
            size_t len = j - i - 1 < sizeof name - 1 ? j - i - 1 : sizeof name - 1;
            memcpy(name, s + i + 1, len);
            name[len] = 0;
            sp.col++;
            sp.end_col--;
            check_name_use(c, name, sp, 1);
        }
        i = j;
    }
}

/* ---- expressions ---- */

static void check_expr(checker *c, const mgc_ast_expr *e);

/* A name the spec library (graphs/common/) defines, in a file this spec
 * does not import: say which, and the import line to add. */
static int library_hint(checker *c, const char *name)
{
    char *line = mgc_spec_library_import_for(name, cur_ast(c)->path);
    if (!line)
        return 0;
    mgc_diag_hint(c->d, "'%s' is defined in the spec library; add: %s", name, line);
    free(line);
    return 1;
}

static void check_name_use(checker *c, const char *name, mgc_span at, int in_template)
{
    if (is_local(c, name))
        return;
    if (c->import_failed)
        return; /* the failed import would probably have defined it: one error is enough */
    if (strcmp(name, "cache") == 0 || (!in_template && strcmp(name, "config") == 0))
        return;
    if (!in_template && (strcmp(name, "true") == 0 || strcmp(name, "false") == 0))
        return; /* the booleans (config.json's true and false are the same values) */
    int gi;
    gvis v = global_lookup(c, name, &gi);
    if (v == G_VISIBLE && !c->g[gi].is_def)
        return;
    if (v == G_VISIBLE) {
        mgc_error_at(c->d, at, "'%s' is a def, not a value", name);
        mgc_diag_hint(c->d, "call it: %s(...)", name);
        return;
    }
    if (!in_template && mgc_op_find(name)) {
        mgc_error_at(c->d, at, "'%s' is an op, not a value", name);
        mgc_diag_hint(c->d, "call it: %s", mgc_op_find(name)->signature);
        return;
    }
    mgc_error_at(c->d, at, "unknown name '%s'%s", name, in_template ? " in template" : "");
    if (gi >= 0 && v != G_NONE && !c->g[gi].is_def)
        explain_global(c, gi, v);
    else if (!library_hint(c, name))
        suggest(c, name, 0);
}

static void record_call(checker *c, int callee, mgc_span at)
{
    call_edge **list;
    size_t *n, *cap;
    if (c->cur_def < 0 && !c->in_forward)
        return; /* a duplicate def or forward: already reported */
    if (c->cur_def >= 0) {
        global *gl = &c->g[c->cur_def];
        list = &gl->calls;
        n = &gl->ncalls;
        cap = &gl->capcalls;
    } else {
        list = &c->fwd_calls;
        n = &c->nfwd;
        cap = &c->capfwd;
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *list = mgc_xrealloc(*list, *cap * sizeof **list);
    }
    (*list)[*n].callee = callee;
    (*list)[*n].span = at;
    (*n)++;
}

/* sqrt(x), int(x), min(a, b), ...: the scalar functions of scalar.c.  A
 * name that is also a tensor op (exp) is accepted with either's arguments. */
static int check_scalar_call(checker *c, const mgc_ast_expr *e, const mgc_op_info *op)
{
    const mgc_scalar_fn *fn = mgc_scalar_fn_find(e->str);
    if (!fn)
        return 0;
    size_t npos = 0;
    for (size_t i = 0; i < e->nargs; i++) {
        if (e->args[i].name && !op) {
            mgc_error_at(c->d, e->args[i].name_span, "'%s' takes no keyword arguments", e->str);
            mgc_diag_hint(c->d, "%s", fn->signature);
        }
        npos += !e->args[i].name;
    }
    int fits = (int)npos >= fn->min_args && (int)npos <= fn->max_args;
    if (op && !fits)
        return 0; /* the tensor op's rules apply */
    if (!fits) {
        if (fn->min_args == fn->max_args)
            mgc_error_at(c->d, e->str_span, "'%s' takes %d argument%s but %zu %s given", e->str, fn->min_args,
                         fn->min_args == 1 ? "" : "s", npos, npos == 1 ? "was" : "were");
        else
            mgc_error_at(c->d, e->str_span, "'%s' takes %d to %d arguments but %zu %s given", e->str,
                         fn->min_args, fn->max_args, npos, npos == 1 ? "was" : "were");
        mgc_diag_hint(c->d, "%s", fn->signature);
    }
    for (size_t i = 0; i < e->nargs && !full(c); i++)
        check_expr(c, e->args[i].value);
    return 1;
}

static void check_call(checker *c, const mgc_ast_expr *e)
{
    const char *name = e->str;
    const mgc_op_info *op = mgc_op_find(name);
    if (check_scalar_call(c, e, op))
        return;
    int gi = -1;
    gvis v = op ? G_NONE : global_lookup(c, name, &gi);
    int is_def = !op && v == G_VISIBLE && c->g[gi].is_def;

    if (!op && !is_def && c->import_failed) {
        /* probably defined by the import that failed: one error is enough */
    } else if (!op && !is_def) {
        if (is_local(c, name)) {
            mgc_error_at(c->d, e->str_span, "'%s' is a local value, not an op or def", name);
        } else if (v == G_VISIBLE || (gi >= 0 && !c->g[gi].is_def)) {
            mgc_error_at(c->d, e->str_span, "'%s' is a let, not an op or def", name);
        } else {
            mgc_error_at(c->d, e->str_span, "unknown op or def '%s'", name);
            if (gi >= 0 && c->g[gi].is_def && v != G_NONE)
                explain_global(c, gi, v);
            else if (!library_hint(c, name))
                suggest(c, name, 1);
        }
    }
    /* positional after keyword, duplicate keywords */
    int seen_kw = 0;
    size_t npos = 0, nkw = 0;
    for (size_t i = 0; i < e->nargs && !full(c); i++) {
        const mgc_ast_arg *a = &e->args[i];
        if (!a->name) {
            npos++;
            if (seen_kw)
                mgc_error_at(c->d, a->value->span, "positional argument after a keyword argument");
            continue;
        }
        seen_kw = 1;
        nkw++;
        for (size_t j = 0; j < i; j++)
            if (e->args[j].name && strcmp(e->args[j].name, a->name) == 0) {
                mgc_error_at(c->d, a->name_span, "keyword argument '%s' given twice", a->name);
                break;
            }
        if (op && !mgc_op_takes_keyword(op, a->name)) {
            if (!op->keywords[0]) {
                mgc_error_at(c->d, a->name_span, "'%s' takes no keyword arguments", name);
            } else {
                mgc_error_at(c->d, a->name_span, "'%s' has no keyword argument '%s'", name, a->name);
                const char *s = mgc_suggest(a->name, op->keywords,
                                            (size_t)(op->keywords[1] ? op->keywords[2] ? op->keywords[3] ? 4 : 3 : 2 : 1));
                if (s)
                    mgc_diag_hint(c->d, "did you mean '%s'? (%s)", s, op->signature);
                else
                    mgc_diag_hint(c->d, "%s", op->signature);
            }
        } else if (is_def) {
            mgc_error_at(c->d, a->name_span, "def '%s' takes no keyword arguments", name);
        }
    }
    if (op) {
        if ((int)npos < op->min_args || (int)npos > op->max_args) {
            if (op->min_args == op->max_args)
                mgc_error_at(c->d, e->str_span, "'%s' takes %d argument%s but %zu %s given", name, op->min_args,
                             op->min_args == 1 ? "" : "s", npos, npos == 1 ? "was" : "were");
            else
                mgc_error_at(c->d, e->str_span, "'%s' takes %d to %d arguments but %zu %s given", name,
                             op->min_args, op->max_args, npos, npos == 1 ? "was" : "were");
            mgc_diag_hint(c->d, "%s", op->signature);
        }
        if ((int)nkw < op->min_keywords) {
            mgc_error_at(c->d, e->str_span, "'%s' needs at least %d named part%s", name, op->min_keywords,
                         op->min_keywords == 1 ? "" : "s");
            mgc_diag_hint(c->d, "%s, e.g. fused(w\"...qkv_proj.weight\", q=nq * head_dim, k=..., v=...)",
                          op->signature);
        }
        if (c->in_let && !op->constant) {
            mgc_error_at(c->d, e->str_span, "a let must be a constant, but '%s' computes a tensor", name);
            mgc_diag_hint(c->d, "lets hold numbers, config values and RoPE tables; bind tensors with 'name = ...' "
                                "in a def or forward");
        }
        if (strcmp(name, "attention") == 0) {
            if (c->cur_def >= 0)
                c->g[c->cur_def].uses_attention = 1;
            else if (c->in_forward)
                c->forward_attention = 1;
        }
    } else if (is_def) {
        const mgc_ast_stmt *def = c->g[gi].stmt;
        if (npos != def->nparams) {
            mgc_error_at(c->d, e->str_span, "def '%s' takes %zu argument%s but %zu %s given", name, def->nparams,
                         def->nparams == 1 ? "" : "s", npos, npos == 1 ? "was" : "were");
            mgc_diag_hint(c->d, "'%s' is defined at %s:%d", name, def->span.file, def->span.line);
        }
        if (c->in_let) {
            mgc_error_at(c->d, e->str_span, "a let must be a constant, but '%s' is a def", name);
        }
        if (c->in_body)
            record_call(c, gi, e->str_span);
    }
    for (size_t i = 0; i < e->nargs && !full(c); i++) {
        const mgc_ast_expr *x = e->args[i].value;
        /* moe(h, W, expert, ...): the expert is a def passed by name, and a
         * call of it as far as cycles are concerned */
        int gx = -1;
        if (op && strcmp(name, "moe") == 0 && i == 2 && !e->args[i].name && x->kind == MGC_EX_NAME &&
            !is_local(c, x->str) && global_lookup(c, x->str, &gx) == G_VISIBLE && c->g[gx].is_def) {
            if (c->in_body)
                record_call(c, gx, x->span);
            continue;
        }
        check_expr(c, x);
    }
}

static void check_expr(checker *c, const mgc_ast_expr *e)
{
    if (!e || full(c))
        return;
    switch (e->kind) {
    case MGC_EX_INT:
    case MGC_EX_FLOAT:
        break;
    case MGC_EX_STRING:
        check_holes(c, e);
        break;
    case MGC_EX_WEIGHT:
        if (c->in_let) {
            mgc_error_at(c->d, e->span, "a let must be a constant, not a weight");
            mgc_diag_hint(c->d, "pass weights to defs as arguments instead");
        }
        if (!e->str[0])
            mgc_error_at(c->d, e->span, "empty weight name");
        check_holes(c, e);
        break;
    case MGC_EX_NAME:
        if (strcmp(e->str, "config") == 0 && !is_local(c, "config")) {
            mgc_error_at(c->d, e->span, "'config' is used without a field");
            mgc_diag_hint(c->d, "name a value of config.json, e.g. config.hidden_size");
            break;
        }
        check_name_use(c, e->str, e->span, 0);
        break;
    case MGC_EX_MEMBER:
        if (e->lhs->kind == MGC_EX_NAME && strcmp(e->lhs->str, "config") == 0)
            break; /* config.x: any field; whether it exists is config.json's business */
        check_expr(c, e->lhs);
        break;
    case MGC_EX_INDEX:
        check_expr(c, e->lhs);
        check_expr(c, e->rhs);
        break;
    case MGC_EX_CALL:
        check_call(c, e);
        break;
    case MGC_EX_BINARY:
        check_expr(c, e->lhs);
        check_expr(c, e->rhs);
        break;
    case MGC_EX_UNARY:
        check_expr(c, e->rhs);
        break;
    case MGC_EX_COND:
        check_expr(c, e->cond);
        check_expr(c, e->lhs);
        check_expr(c, e->rhs);
        break;
    }
}

/* ---- annotations ---- */

static const char *const weight_dtypes[] = {"bf4_b", "bf8_b", "bf16", "f32"};
static const char *const act_dtypes[] = {"bf16", "f32"};
static const char *const annot_names[] = {"col", "row", "replicated", "heads", "experts", "weights", "activations"};

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* The anchor ops (ops.h) called in an expression, not looking into defs. */
static void find_anchors(const mgc_ast_expr *e, const mgc_ast_expr **found, int *n)
{
    if (!e)
        return;
    if (e->kind == MGC_EX_CALL) {
        const mgc_op_info *op = mgc_op_find(e->str);
        if (op && op->anchor) {
            if (*n < 2)
                found[*n] = e;
            (*n)++;
        }
        for (size_t i = 0; i < e->nargs; i++)
            find_anchors(e->args[i].value, found, n);
        return;
    }
    find_anchors(e->lhs, found, n);
    find_anchors(e->rhs, found, n);
}

static void check_dtype(checker *c, const char *what, const char *value, mgc_span at, const char *const *list,
                        size_t n)
{
    if (in_list(value, list, n))
        return;
    mgc_error_at(c->d, at, "'%s' is not a %s dtype", value, what);
    const char *s = mgc_suggest(value, list, n);
    mgc_strbuf b = {0};
    for (size_t i = 0; i < n; i++)
        mgc_sb_printf(&b, "%s%s", i ? (i == n - 1 ? " or " : ", ") : "", list[i]);
    if (s)
        mgc_diag_hint(c->d, "did you mean '%s'? (%s dtypes: %s)", s, what, b.s);
    else
        mgc_diag_hint(c->d, "%s dtypes: %s", what, b.s);
    mgc_sb_free(&b);
}

static void check_annots(checker *c, const mgc_ast_stmt *s)
{
    const mgc_ast_annot *shard = NULL, *weights = NULL, *acts = NULL;
    for (size_t i = 0; i < s->nannots && !full(c); i++) {
        const mgc_ast_annot *a = &s->annots[i];
        if (!in_list(a->name, annot_names, 7)) {
            mgc_error_at(c->d, a->span, "unknown annotation '@%s'", a->name);
            const char *sg = mgc_suggest(a->name, annot_names, 7);
            if (sg)
                mgc_diag_hint(c->d, "did you mean '@%s'?", sg);
            else
                mgc_diag_hint(c->d, "annotations: @col @row @replicated @heads @experts @weights=DTYPE @activations=DTYPE");
            continue;
        }
        int is_weights = strcmp(a->name, "weights") == 0, is_acts = strcmp(a->name, "activations") == 0;
        if (!is_weights && !is_acts) {
            if (a->value) {
                mgc_error_at(c->d, a->value_span, "'@%s' takes no value", a->name);
                continue;
            }
            if (shard) {
                if (strcmp(shard->name, a->name) == 0)
                    mgc_error_at(c->d, a->span, "'@%s' is given twice", a->name);
                else
                    mgc_error_at(c->d, a->span, "conflicting annotations '@%s' and '@%s'", shard->name, a->name);
                mgc_diag_hint(c->d, "a statement has at most one sharding annotation");
                continue;
            }
            shard = a;
            continue;
        }
        const mgc_ast_annot **slot = is_weights ? &weights : &acts;
        if (*slot) {
            mgc_error_at(c->d, a->span, "'@%s' is given twice", a->name);
            continue;
        }
        *slot = a;
        if (!a->value) {
            mgc_error_at(c->d, a->span, "'@%s' needs a dtype", a->name);
            mgc_diag_hint(c->d, is_weights ? "e.g. @weights=bf8_b (bf4_b, bf8_b, bf16 or f32)"
                                           : "e.g. @activations=f32 (bf16 or f32)");
            continue;
        }
        if (is_weights)
            check_dtype(c, "weights", a->value, a->value_span, weight_dtypes, 4);
        else
            check_dtype(c, "activations", a->value, a->value_span, act_dtypes, 2);
    }
    if (full(c) || (!shard && !weights))
        return;
    const mgc_ast_expr *found[2] = {0};
    int n = 0;
    find_anchors(s->value, found, &n);
    const mgc_ast_annot *which = shard ? shard : weights;
    if (n == 0) {
        mgc_error_at(c->d, which->span, "'@%s' has nothing to apply to: this statement calls no op that takes a "
                                        "weight or the cache", which->name);
        mgc_diag_hint(c->d, "annotations apply to the statement's linear, embedding or attention; "
                            "put them on the statements inside the def");
        return;
    }
    if (n > 1) {
        mgc_error_at(c->d, which->span, "'@%s' is ambiguous: this statement calls %d ops that take a weight or "
                                        "the cache ('%s' and '%s')", which->name, n, found[0]->str, found[1]->str);
        mgc_diag_hint(c->d, "split the statement so that each has one linear, embedding or attention");
        return;
    }
    const char *anchor = found[0]->str;
    int is_attn = strcmp(anchor, "attention") == 0, is_moe = strcmp(anchor, "moe") == 0;
    if (shard && (strcmp(shard->name, "experts") == 0) != is_moe) {
        if (is_moe)
            mgc_error_at(c->d, shard->span, "'@%s' does not apply to moe", shard->name);
        else
            mgc_error_at(c->d, shard->span, "'@experts' applies to moe, but this statement's op is '%s'", anchor);
        mgc_diag_hint(c->d, "moe is expert parallel with @experts, or sharded by its experts' own annotations without one");
    } else if (shard && strcmp(shard->name, "heads") == 0 && !is_attn) {
        mgc_error_at(c->d, shard->span, "'@heads' applies to attention, but this statement's op is '%s'", anchor);
        mgc_diag_hint(c->d, "use @col or @row for %s", anchor);
    } else if (shard && is_attn && (strcmp(shard->name, "col") == 0 || strcmp(shard->name, "row") == 0)) {
        mgc_error_at(c->d, shard->span, "'@%s' does not apply to attention", shard->name);
        mgc_diag_hint(c->d, "attention is split by heads: @heads");
    }
    if (weights && weights->value && is_attn) {
        mgc_error_at(c->d, weights->span, "'@weights' does not apply to attention (it takes no weight)");
    } else if (weights && weights->value && strcmp(anchor, "embedding") == 0 &&
               (strcmp(weights->value, "bf8_b") == 0 || strcmp(weights->value, "bf4_b") == 0)) {
        mgc_error_at(c->d, weights->value_span, "embedding tables cannot be block-float ('%s')", weights->value);
        mgc_diag_hint(c->d, "use bf16 or f32 for the embedding");
    }
}

/* ---- statements ---- */

static const char *stmt_word(mgc_ast_stmt_kind k)
{
    switch (k) {
    case MGC_ST_IMPORT: return "import";
    case MGC_ST_MODEL: return "model";
    case MGC_ST_PRECISION: return "precision";
    case MGC_ST_CACHE: return "cache";
    case MGC_ST_LET: return "let";
    case MGC_ST_DEF: return "def";
    case MGC_ST_FORWARD: return "forward";
    case MGC_ST_ASSIGN: return "assignment";
    case MGC_ST_FOR: return "for";
    case MGC_ST_RETURN: return "return";
    case MGC_ST_IGNORE: return "ignore";
    case MGC_ST_EXPECT: return "expect";
    }
    return "?";
}

/* The span of a statement's first keyword (for "X is not allowed here"). */
static mgc_span head_span(const mgc_ast_stmt *s)
{
    mgc_span sp = s->span;
    if (s->kind == MGC_ST_ASSIGN)
        return s->name_span;
    sp.end_line = sp.line;
    sp.end_col = sp.col + (int)strlen(stmt_word(s->kind));
    return sp;
}

static void check_body(checker *c, mgc_ast_stmt *const *body, size_t n, int in_for);

static void check_let_value(checker *c, const mgc_ast_stmt *s)
{
    c->in_let = 1;
    check_expr(c, s->value);
    c->in_let = 0;
    if (s->nannots) {
        mgc_error_at(c->d, s->annots[0].span, "a let cannot have annotations");
        mgc_diag_hint(c->d, "annotations apply to ops in a def or forward");
    }
}

static void check_assign_target(checker *c, const mgc_ast_stmt *s)
{
    if (strcmp(s->name, "config") == 0) {
        mgc_error_at(c->d, s->name_span, "cannot assign to 'config'");
        return;
    }
    if (mgc_op_find(s->name)) {
        mgc_error_at(c->d, s->name_span, "'%s' is an op; choose another name", s->name);
        return;
    }
    int gi;
    if (global_lookup(c, s->name, &gi) == G_VISIBLE && c->g[gi].is_def) {
        mgc_error_at(c->d, s->name_span, "'%s' is a def; choose another name", s->name);
        return;
    }
}

static void check_body_stmt(checker *c, const mgc_ast_stmt *s, int in_for)
{
    switch (s->kind) {
    case MGC_ST_ASSIGN:
        check_expr(c, s->value);
        check_annots(c, s);
        check_assign_target(c, s);
        if (!is_local(c, s->name))
            bind(c, s->name);
        break;
    case MGC_ST_LET:
        check_let_value(c, s);
        check_assign_target(c, s);
        bind(c, s->name);
        break;
    case MGC_ST_RETURN:
        if (in_for) {
            mgc_error_at(c->d, head_span(s), "'return' inside a 'for' loop");
            mgc_diag_hint(c->d, "return after the loop; a loop has no value");
        }
        check_expr(c, s->value);
        check_annots(c, s);
        break;
    case MGC_ST_FOR: {
        check_expr(c, s->value);
        check_expr(c, s->hi);
        if (s->nbody == 0) {
            mgc_error_at(c->d, head_span(s), "'for' has an empty body");
            break;
        }
        size_t mark = c->nb;
        bind(c, s->name);
        check_body(c, s->body, s->nbody, 1);
        scope_pop(c, mark);
        break;
    }
    default:
        mgc_error_at(c->d, head_span(s), "'%s' is only allowed at the top level of a file", stmt_word(s->kind));
        break;
    }
}

static void check_body(checker *c, mgc_ast_stmt *const *body, size_t n, int in_for)
{
    for (size_t i = 0; i < n && !full(c); i++) {
        const mgc_ast_stmt *s = body[i];
        if (i > 0 && body[i - 1]->kind == MGC_ST_RETURN && !in_for) {
            mgc_error_at(c->d, head_span(s), "statement after 'return' is never reached");
            break;
        }
        check_body_stmt(c, s, in_for);
    }
}

/* def and forward: params, body, the final return. */
static void check_block_def(checker *c, const mgc_ast_stmt *s, const char *what)
{
    size_t mark = c->nb;
    for (size_t i = 0; i < s->nparams; i++) {
        const mgc_ast_param *p = &s->params[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->params[j].name, p->name) == 0) {
                mgc_error_at(c->d, p->span, "parameter '%s' is given twice", p->name);
                break;
            }
        if (strcmp(p->name, "config") == 0)
            mgc_error_at(c->d, p->span, "a parameter cannot be called 'config' (it is built in)");
        bind(c, p->name);
    }
    c->in_body = 1;
    check_body(c, s->body, s->nbody, 0);
    c->in_body = 0;
    scope_pop(c, mark);
    if (full(c))
        return;
    mgc_span close = point(s->span.file, s->body_span.end_line, s->body_span.end_col - 1);
    if (s->nbody == 0) {
        mgc_error_at(c->d, close, "%s has an empty body", what);
        mgc_diag_hint(c->d, "the body ends with 'return VALUE'");
    } else if (s->body[s->nbody - 1]->kind != MGC_ST_RETURN) {
        mgc_error_at(c->d, close, "%s does not end with 'return'", what);
        mgc_diag_hint(c->d, "the last statement of a body is 'return VALUE'");
    }
}

static void check_precision(checker *c, const mgc_ast_stmt *s)
{
    static const char *const keys[] = {"weights", "activations", "kv_cache"};
    for (size_t i = 0; i < s->nsettings && !full(c); i++) {
        const mgc_ast_setting *st = &s->settings[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->settings[j].key, st->key) == 0 && s->settings[j].key_is_pattern == st->key_is_pattern) {
                mgc_error_at(c->d, st->key_span, "'%s' is set twice in this statement", st->key);
                break;
            }
        const char *const *list = weight_dtypes;
        size_t nlist = 4;
        const char *what = "weights";
        if (!st->key_is_pattern) {
            if (!in_list(st->key, keys, 3)) {
                mgc_error_at(c->d, st->key_span, "unknown precision setting '%s'", st->key);
                const char *sg = mgc_suggest(st->key, keys, 3);
                if (sg)
                    mgc_diag_hint(c->d, "did you mean '%s'?", sg);
                else
                    mgc_diag_hint(c->d, "settings: weights, activations, kv_cache and w\"pattern\"");
                continue;
            }
            if (strcmp(st->key, "weights") != 0) {
                list = act_dtypes;
                nlist = 2;
                what = strcmp(st->key, "activations") == 0 ? "activations" : "KV cache";
            }
        } else if (!st->key[0]) {
            mgc_error_at(c->d, st->key_span, "empty weight pattern");
        }
        if (st->value->kind != MGC_EX_NAME) {
            mgc_error_at(c->d, st->value->span, "expected a dtype name for '%s'", st->key);
            mgc_diag_hint(c->d, "e.g. %s=%s", st->key_is_pattern ? "w\"...\"" : st->key, list[nlist - 2]);
            continue;
        }
        check_dtype(c, what, st->value->str, st->value->span, list, nlist);
    }
}

typedef struct cache_seen {
    const mgc_ast_setting *max_len, *users;
} cache_seen;

static void check_cache(checker *c, const mgc_ast_stmt *s, cache_seen *seen)
{
    static const char *const keys[] = {"max_len", "users"};
    for (size_t i = 0; i < s->nsettings && !full(c); i++) {
        const mgc_ast_setting *st = &s->settings[i];
        if (st->key_is_pattern || !in_list(st->key, keys, 2)) {
            mgc_error_at(c->d, st->key_span, "unknown cache setting '%s'", st->key);
            const char *sg = st->key_is_pattern ? NULL : mgc_suggest(st->key, keys, 2);
            if (sg)
                mgc_diag_hint(c->d, "did you mean '%s'?", sg);
            else
                mgc_diag_hint(c->d, "settings: max_len and users");
            continue;
        }
        const mgc_ast_setting **slot = strcmp(st->key, "max_len") == 0 ? &seen->max_len : &seen->users;
        if (*slot) {
            mgc_error_at(c->d, st->key_span, "'%s' is already set at line %d", st->key, (*slot)->key_span.line);
            continue;
        }
        *slot = st;
        if (st->value->kind != MGC_EX_INT || st->value->ival <= 0) {
            mgc_error_at(c->d, st->value->span, "'%s' must be a positive integer", st->key);
            continue;
        }
    }
}

/* ---- recursion ---- */

/* Depth-first search over the def call graph with an explicit stack (a chain
 * of thousands of defs must not exhaust the C stack); a call to a def that
 * is still on the stack closes a cycle. */
/* ignore w"glob" | ignore config.KEY */
static void check_ignore(checker *c, const mgc_ast_stmt *s)
{
    const mgc_ast_expr *v = s->value;
    if (v->kind == MGC_EX_WEIGHT && !v->tied) {
        if (!v->str[0])
            mgc_error_at(c->d, v->span, "empty weight pattern");
        else if (strchr(v->str, '{'))
            mgc_error_at(c->d, v->span, "ignore takes a glob, not a template ('{...}'): use * for the layer index");
        return;
    }
    if (v->kind == MGC_EX_MEMBER && v->lhs->kind == MGC_EX_NAME && strcmp(v->lhs->str, "config") == 0)
        return;
    mgc_error_at(c->d, v->span, "ignore takes a checkpoint tensor pattern or a config key");
    mgc_diag_hint(c->d, "e.g. ignore w\"model.layers.*.self_attn.rotary_emb.inv_freq\" or ignore config.mlp_bias");
}

/* expect top1=0.95 top5=1.0 pcc=0.999: literal numbers in [0, 1], once each. */
static void check_expect(checker *c, const mgc_ast_stmt *s, int *first_line)
{
    static const char *const keys[] = {"top1", "top5", "pcc"};
    if (*first_line) {
        mgc_error_at(c->d, head_span(s), "more than one 'expect' statement (the first is at line %d)", *first_line);
        return;
    }
    *first_line = s->span.line;
    for (size_t i = 0; i < s->nsettings && !full(c); i++) {
        const mgc_ast_setting *st = &s->settings[i];
        if (st->key_is_pattern || !in_list(st->key, keys, 3)) {
            mgc_error_at(c->d, st->key_span, "unknown expect key '%s'", st->key);
            const char *sg = st->key_is_pattern ? NULL : mgc_suggest(st->key, keys, 3);
            if (sg)
                mgc_diag_hint(c->d, "did you mean '%s'? (expect takes top1, top5 and pcc)", sg);
            else
                mgc_diag_hint(c->d, "expect takes top1, top5 and pcc");
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (!s->settings[j].key_is_pattern && strcmp(s->settings[j].key, st->key) == 0) {
                mgc_error_at(c->d, st->key_span, "expect %s given twice", st->key);
                break;
            }
        const mgc_ast_expr *v = st->value;
        double x = v->kind == MGC_EX_INT ? (double)v->ival : v->kind == MGC_EX_FLOAT ? v->fval : -1;
        if (v->kind != MGC_EX_INT && v->kind != MGC_EX_FLOAT) {
            mgc_error_at(c->d, v->span, "expect %s takes a number between 0 and 1", st->key);
        } else if (!(x >= 0 && x <= 1)) {
            mgc_error_at(c->d, v->span, "expect %s=%s is outside [0, 1]", st->key, v->num_text);
            mgc_diag_hint(c->d, "top1 and top5 are fractions of positions, pcc a correlation: all between 0 and 1");
        }
    }
}

static void find_cycles(checker *c, int root, int *stack, size_t *edge)
{
    int depth = 0;
    stack[0] = root;
    edge[0] = 0;
    c->g[root].color = 1;
    while (depth >= 0 && !full(c)) {
        global *gl = &c->g[stack[depth]];
        if (edge[depth] == gl->ncalls) {
            gl->color = 2;
            depth--;
            continue;
        }
        const call_edge *ce = &gl->calls[edge[depth]++];
        int k = ce->callee;
        if (c->g[k].color == 0) {
            c->g[k].color = 1;
            depth++;
            stack[depth] = k;
            edge[depth] = 0;
        } else if (c->g[k].color == 1) {
            if (k == stack[depth]) {
                mgc_error_at(c->d, ce->span, "def '%s' calls itself", gl->name);
            } else {
                mgc_strbuf b = {0};
                int start = depth;
                while (start > 0 && stack[start] != k)
                    start--;
                for (int j = start; j <= depth; j++)
                    mgc_sb_printf(&b, "%s -> ", c->g[stack[j]].name);
                mgc_sb_puts(&b, c->g[k].name);
                mgc_error_at(c->d, ce->span, "recursive defs: %s", b.s);
                mgc_sb_free(&b);
            }
            mgc_diag_hint(c->d, "defs are expanded at each call and cannot recurse");
        }
    }
}

/* Whether any def reachable from the forward's calls calls attention. */
static int forward_reaches_attention(checker *c)
{
    if (c->forward_attention)
        return 1;
    int *todo = mgc_xcalloc(c->ng + 1, sizeof *todo);
    unsigned char *seen = mgc_xcalloc(c->ng + 1, 1);
    size_t n = 0;
    int found = 0;
    for (size_t i = 0; i < c->nfwd; i++)
        if (!seen[c->fwd_calls[i].callee]) {
            seen[c->fwd_calls[i].callee] = 1;
            todo[n++] = c->fwd_calls[i].callee;
        }
    while (n > 0 && !found) {
        const global *gl = &c->g[todo[--n]];
        found = gl->uses_attention;
        for (size_t i = 0; i < gl->ncalls; i++)
            if (!seen[gl->calls[i].callee]) {
                seen[gl->calls[i].callee] = 1;
                todo[n++] = gl->calls[i].callee;
            }
    }
    free(todo);
    free(seen);
    return found;
}

/* ---- files ---- */

static void collect_globals(checker *c)
{
    for (size_t fi = 0; fi < c->p->nfiles; fi++) {
        const mgc_ast_file *f = c->p->files[fi].ast;
        for (size_t i = 0; i < f->nstmts && !full(c); i++) {
            const mgc_ast_stmt *s = f->stmts[i];
            if (s->kind != MGC_ST_LET && s->kind != MGC_ST_DEF)
                continue;
            if (s->kind == MGC_ST_DEF && mgc_op_find(s->name)) {
                mgc_error_at(c->d, s->name_span, "'%s' is a built-in op; a def cannot take its name", s->name);
                continue;
            }
            if (s->kind == MGC_ST_DEF && mgc_scalar_fn_find(s->name)) {
                mgc_error_at(c->d, s->name_span, "'%s' is a built-in function; a def cannot take its name", s->name);
                continue;
            }
            if (strcmp(s->name, "config") == 0 || strcmp(s->name, "cache") == 0 || strcmp(s->name, "true") == 0 ||
                strcmp(s->name, "false") == 0) {
                mgc_error_at(c->d, s->name_span, "'%s' is built in; choose another name", s->name);
                continue;
            }
            int *slot = smap_slot(&c->gmap, s->name, 1);
            if (*slot >= 0) {
                const mgc_ast_stmt *prev = c->g[*slot].stmt;
                mgc_error_at(c->d, s->name_span, "'%s' is already defined (%s at %s:%d)", s->name,
                             prev->kind == MGC_ST_DEF ? "a def" : "a let", prev->span.file, prev->name_span.line);
                mgc_diag_hint(c->d, "top-level names must be unique across a spec and its imports");
                continue;
            }
            if (c->ng == c->gcap) {
                c->gcap = c->gcap ? c->gcap * 2 : 32;
                c->g = mgc_xrealloc(c->g, c->gcap * sizeof *c->g);
            }
            global *gl = &c->g[c->ng];
            memset(gl, 0, sizeof *gl);
            gl->name = s->name;
            gl->is_def = s->kind == MGC_ST_DEF;
            gl->file = fi;
            gl->index = i;
            gl->stmt = s;
            *slot = (int)c->ng++;
        }
    }
}

/* vis[a][b]: b is a or is imported by a, directly or not.  Files are in
 * dependency order, so b's row is complete before any importer's. */
static void compute_visibility(checker *c)
{
    size_t n = c->p->nfiles;
    c->vis = mgc_xcalloc(n * n, 1);
    for (size_t a = 0; a < n; a++) {
        c->vis[a * n + a] = 1;
        const mgc_program_file *pf = &c->p->files[a];
        for (size_t k = 0; k < pf->nimports; k++) {
            size_t b = pf->imports[k];
            for (size_t x = 0; x < n; x++)
                if (c->vis[b * n + x])
                    c->vis[a * n + x] = 1;
        }
    }
}

static void check_file(checker *c, size_t fi, int is_root)
{
    const mgc_ast_file *f = c->p->files[fi].ast;
    c->cur_file = fi;
    build_lines(c);
    const mgc_ast_stmt *model = NULL, *forward = NULL;
    for (size_t i = 0; i < f->nstmts; i++) {
        if (f->stmts[i]->kind == MGC_ST_MODEL && !model)
            model = f->stmts[i];
        if (f->stmts[i]->kind == MGC_ST_FORWARD && !forward)
            forward = f->stmts[i];
    }
    int bringup = is_root && (model || forward);
    cache_seen cache = {0};
    int expect_line = 0;
    for (size_t i = 0; i < f->nstmts && !full(c); i++) {
        const mgc_ast_stmt *s = f->stmts[i];
        c->cur_index = i;
        c->cur_def = -1;
        switch (s->kind) {
        case MGC_ST_IMPORT:
            if (!s->str[0])
                mgc_error_at(c->d, s->name_span, "empty import path");
            break;
        case MGC_ST_MODEL:
        case MGC_ST_PRECISION:
        case MGC_ST_CACHE:
        case MGC_ST_FORWARD:
        case MGC_ST_IGNORE:
        case MGC_ST_EXPECT:
            if (!bringup) {
                if (is_root)
                    mgc_error_at(c->d, head_span(s), "'%s' is only allowed in a bringup file (one with 'model' "
                                                     "and 'forward')", stmt_word(s->kind));
                else
                    mgc_error_at(c->d, head_span(s), "'%s' in an imported file", stmt_word(s->kind));
                mgc_diag_hint(c->d, "an imported file may contain only import, let and def");
                break;
            }
            if (s->kind == MGC_ST_MODEL) {
                if (s != model)
                    mgc_error_at(c->d, head_span(s), "more than one 'model' statement (the first is at line %d)",
                                 model->span.line);
                else if (!s->str[0])
                    mgc_error_at(c->d, s->span, "empty model id");
            } else if (s->kind == MGC_ST_PRECISION) {
                check_precision(c, s);
            } else if (s->kind == MGC_ST_CACHE) {
                check_cache(c, s, &cache);
            } else if (s->kind == MGC_ST_IGNORE) {
                check_ignore(c, s);
            } else if (s->kind == MGC_ST_EXPECT) {
                check_expect(c, s, &expect_line);
            } else {
                if (s != forward) {
                    mgc_error_at(c->d, head_span(s), "more than one 'forward' (the first is at line %d)",
                                 forward->span.line);
                    break;
                }
                if (s->nparams != 1)
                    mgc_error_at(c->d, s->name_span, "forward takes one parameter (the token ids), not %zu",
                                 s->nparams);
                c->in_forward = 1;
                check_block_def(c, s, "forward");
                c->in_forward = 0;
            }
            break;
        case MGC_ST_LET:
            check_let_value(c, s);
            break;
        case MGC_ST_DEF: {
            int gi = smap_get(&c->gmap, s->name);
            c->cur_def = gi >= 0 && c->g[gi].stmt == s ? gi : -1;
            char what[160];
            snprintf(what, sizeof what, "def '%.100s'", s->name);
            check_block_def(c, s, what);
            c->cur_def = -1;
            break;
        }
        case MGC_ST_ASSIGN:
            mgc_error_at(c->d, head_span(s), "assignment outside a def or forward");
            mgc_diag_hint(c->d, "use 'let %s = ...' for a constant", s->name);
            break;
        case MGC_ST_FOR:
        case MGC_ST_RETURN:
            mgc_error_at(c->d, head_span(s), "'%s' outside a def or forward", stmt_word(s->kind));
            break;
        }
    }
    if (full(c) || !bringup)
        return;
    if (!model) {
        mgc_span at = forward->name_span;
        mgc_error_at(c->d, at, "a bringup needs a 'model' statement");
        mgc_diag_hint(c->d, "e.g. model \"meta-llama/Llama-3.2-1B\" on t3000");
    }
    if (!forward) {
        mgc_error_at(c->d, head_span(model), "a bringup needs a 'forward'");
        mgc_diag_hint(c->d, "forward(tokens) { ... return logits }");
        return;
    }
    /* cache max_len is required when the forward reaches attention */
    if (forward_reaches_attention(c) && !cache.max_len) {
        mgc_error_at(c->d, forward->name_span, "the forward uses attention, so the KV cache needs a length");
        mgc_diag_hint(c->d, "add e.g. 'cache max_len=1024 users=32'");
    }
}

int mgc_check_program(const mgc_program *p, mgc_diags *d)
{
    size_t before = d->nerrors;
    if (!p || p->nfiles == 0)
        return 0;
    /* A partial tree would only yield follow-on errors ("unknown name" for
     * what the bad statement defined): the syntax errors come first. */
    for (size_t i = 0; i < p->nfiles; i++)
        if (p->files[i].ast->syntax_errors)
            return 0;
    if (p->root && p->root->nstmts == 0) {
        /* an empty file given to check or compile is a mistake (a wrong path,
         * a truncated write); an empty imported file is harmless */
        mgc_error_at(d, point(p->root->path, 1, 1), "the spec is empty (no statements)");
        mgc_diag_hint(d, "a bringup needs 'model \"org/name\" on SYSTEM' and 'forward(tokens) { ... }'");
        return (int)(d->nerrors - before);
    }
    checker c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.d = d;
    c.cur_def = -1;
    /* an import that could not be loaded (already reported) shows as fewer
     * loaded imports than import statements */
    for (size_t i = 0; i < p->nfiles; i++) {
        size_t nimp = 0;
        for (size_t k = 0; k < p->files[i].ast->nstmts; k++)
            nimp += p->files[i].ast->stmts[k]->kind == MGC_ST_IMPORT && p->files[i].ast->stmts[k]->str[0];
        if (nimp > p->files[i].nimports)
            c.import_failed = 1;
    }
    collect_globals(&c);
    compute_visibility(&c);
    for (size_t fi = 0; fi < p->nfiles && !full(&c); fi++)
        check_file(&c, fi, p->files[fi].ast == p->root);
    if (!full(&c)) {
        int *stack = mgc_xcalloc(c.ng + 1, sizeof *stack);
        size_t *edge = mgc_xcalloc(c.ng + 1, sizeof *edge);
        for (size_t i = 0; i < c.ng && !full(&c); i++)
            if (c.g[i].is_def && c.g[i].color == 0)
                find_cycles(&c, (int)i, stack, edge);
        free(stack);
        free(edge);
    }
    for (size_t i = 0; i < c.ng; i++)
        free(c.g[i].calls);
    free(c.g);
    free(c.b);
    free(c.vis);
    free(c.fwd_calls);
    free(c.line_start);
    smap_free(&c.gmap);
    smap_free(&c.lmap);
    return (int)(d->nerrors - before);
}
