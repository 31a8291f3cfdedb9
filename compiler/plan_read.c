/* plan_read.c: a plan from YAML, through libyaml's document loader.
 *
 * Strict: every key is known and appears at most once, required keys are
 * present, numbers are plain scalars of the right kind and in range, lists
 * have the lengths their context demands, and no node is used twice (no
 * aliases).  After loading, mgc_plan_validate_where checks the relations
 * between records; its complaint is given the line of the record it names.
 * Every error is "LABEL:LINE: cause", and a failed read leaves `out` empty. */
#include "plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_VALUES ((int64_t)1 << 40)
#define MAX_RECORDS 1000000
#define MAX_FILE ((size_t)1 << 30)

typedef struct rd {
    const char *label;
    mgc_error *e;
    yaml_document_t *doc;
    unsigned char *seen;    /* per node: already consumed */
    size_t nnodes;
    mgc_plan *p;
    int64_t version;        /* the file's mgc_plan: 1 or 2 */
    /* lines of records, for validation errors */
    int l_expect, l_system, l_facts, l_precision, l_kv, l_memory, l_entry[2];
    int *l_weights, *l_slices, *l_ropes, *l_bufs[2], *l_ops[2];
} rd;

static int line_of(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 1; }

__attribute__((format(printf, 3, 4)))
static void report(rd *r, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mgc_errorf(r->e, "%s:%d: %s", r->label, line_of(n), msg);
}
/* "LABEL:LINE: cause" for node n; evaluates to -1 (a macro, so that the
 * compiler sees the constant and knows outputs are set on success) */
#define err(r, n, ...) (report((r), (n), __VA_ARGS__), -1)

/* The node at `index`, which must not have been used before. */
static yaml_node_t *take(rd *r, int index, const yaml_node_t *parent)
{
    yaml_node_t *n = yaml_document_get_node(r->doc, index);
    if (!n) {
        report(r, parent, "missing node");
        return NULL;
    }
    size_t i = (size_t)index - 1;
    if (r->seen[i]) {
        report(r, parent, "a node is used twice (anchors and aliases are not allowed)");
        return NULL;
    }
    r->seen[i] = 1;
    const char *want = n->type == YAML_SCALAR_NODE ? YAML_DEFAULT_SCALAR_TAG
                     : n->type == YAML_SEQUENCE_NODE ? YAML_DEFAULT_SEQUENCE_TAG
                     : YAML_DEFAULT_MAPPING_TAG;
    if (!n->tag || strcmp((const char *)n->tag, want) != 0) {
        report(r, n, "tags are not allowed");
        return NULL;
    }
    return n;
}

/* ---- scalars ---------------------------------------------------------- */

static const char *scalar(rd *r, const yaml_node_t *n, const char *what, int need_plain)
{
    if (n->type != YAML_SCALAR_NODE) {
        report(r, n, "%s: expected a scalar", what);
        return NULL;
    }
    if (need_plain && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        report(r, n, "%s: expected an unquoted value", what);
        return NULL;
    }
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
        report(r, n, "%s: contains a NUL character", what);
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

static int get_int(rd *r, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s = scalar(r, n, what, 1);
    if (!s)
        return -1;
    const char *d = s + (*s == '-');
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return err(r, n, "%s: expected an integer, not '%.40s'", what, s);
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    if (errno || x < lo || x > hi)
        return err(r, n, "%s: %.40s is outside %lld..%lld", what, s, (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

static int get_i32(rd *r, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi, int *out)
{
    int64_t x;
    if (get_int(r, n, what, lo, hi, &x))
        return -1;
    *out = (int)x;
    return 0;
}

static int get_u64(rd *r, const yaml_node_t *n, const char *what, uint64_t *out)
{
    int64_t x;
    if (get_int(r, n, what, 0, (int64_t)1 << 60, &x))
        return -1;
    *out = (uint64_t)x;
    return 0;
}

static int get_double(rd *r, const yaml_node_t *n, const char *what, double *out)
{
    const char *s = scalar(r, n, what, 1);
    if (!s)
        return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (!*s || *end || s[0] == ' ')
        return err(r, n, "%s: expected a number, not '%.40s'", what, s);
    *out = x;
    return 0;
}

static int get_str(rd *r, const yaml_node_t *n, const char *what, char **out)
{
    const char *s = scalar(r, n, what, 0);
    if (!s)
        return -1;
    if (!(*out = strdup(s)))
        return err(r, n, "%s: out of memory", what);
    return 0;
}

static int get_enum(rd *r, const yaml_node_t *n, const char *what, const char *const *names, int count, int *out)
{
    const char *s = scalar(r, n, what, 1);
    if (!s)
        return -1;
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return err(r, n, "%s: unknown value '%.40s'", what, s);
}

static int get_dtype(rd *r, const yaml_node_t *n, const char *what, mgc_dtype *out)
{
    const char *s = scalar(r, n, what, 1);
    if (!s)
        return -1;
    if (mgc_dtype_parse(s, out))
        return err(r, n, "%s: unknown dtype '%.40s'", what, s);
    return 0;
}

/* ---- collections ------------------------------------------------------ */

/* A sequence of min..max items; `items` points into the document. */
static int get_seq(rd *r, const yaml_node_t *n, const char *what, size_t min, size_t max,
                   yaml_node_item_t **items, size_t *len)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return err(r, n, "%s: expected a list", what);
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (k < min || k > max) {
        if (min == max)
            return err(r, n, "%s: expected %zu items, found %zu", what, min, k);
        return err(r, n, "%s: expected %zu..%zu items, found %zu", what, min, max, k);
    }
    *items = n->data.sequence.items.start;
    *len = k;
    return 0;
}

/* A sequence of 1..2 integers (a shape or a mesh). */
static int get_vec(rd *r, const yaml_node_t *n, const char *what, size_t min, size_t max,
                   int64_t lo, int64_t hi, int64_t *v, size_t *len)
{
    yaml_node_item_t *it;
    if (get_seq(r, n, what, min, max, &it, len))
        return -1;
    for (size_t i = 0; i < *len; i++) {
        yaml_node_t *x = take(r, it[i], n);
        if (!x || get_int(r, x, what, lo, hi, &v[i]))
            return -1;
    }
    return 0;
}

/* The values of a mapping's keys.  `keys` ends with NULL; a key starting
 * with '?' is optional (its value is left NULL when absent). */
static int fields(rd *r, const yaml_node_t *m, const char *what, const char *const *keys, yaml_node_t **vals)
{
    if (m->type != YAML_MAPPING_NODE)
        return err(r, m, "%s: expected a mapping", what);
    size_t nk = 0;
    while (keys[nk])
        vals[nk++] = NULL;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = take(r, pr->key, m);
        if (!k)
            return -1;
        const char *ks = scalar(r, k, what, 1);
        if (!ks)
            return -1;
        size_t i = 0;
        while (i < nk && strcmp(ks, keys[i] + (keys[i][0] == '?')) != 0)
            i++;
        if (i == nk)
            return err(r, k, "%s: unknown key '%.40s'", what, ks);
        if (vals[i])
            return err(r, k, "%s: duplicate key '%s'", what, ks);
        if (!(vals[i] = take(r, pr->value, k)))
            return -1;
    }
    for (size_t i = 0; i < nk; i++)
        if (!vals[i] && keys[i][0] != '?')
            return err(r, m, "%s: missing key '%s'", what, keys[i]);
    return 0;
}

/* A key that plan version 1 does not have. */
static int v2_only(rd *r, const yaml_node_t *n, const char *what)
{
    if (n && r->version < 2)
        return err(r, n, "%s: needs plan version 2 (the file says mgc_plan: %lld)", what, (long long)r->version);
    return 0;
}

static int get_bool(rd *r, const yaml_node_t *n, const char *what, int *out)
{
    static const char *const bools[] = { "false", "true" };
    return get_enum(r, n, what, bools, 2, out);
}

static int *new_lines(rd *r, const yaml_node_t *n, size_t count)
{
    int *l = calloc(count ? count : 1, sizeof *l);
    if (!l)
        report(r, n, "out of memory");
    return l;
}

/* ---- sections --------------------------------------------------------- */

static int read_system(rd *r, const yaml_node_t *n)
{
    static const char *const keys[] = { "name", "mesh", "devices", "topology", "dram_bytes", "tile", NULL };
    yaml_node_t *v[6];
    mgc_plan *p = r->p;
    int64_t mesh[2];
    size_t len;
    if (fields(r, n, "system", keys, v) || get_str(r, v[0], "system.name", &p->system) ||
        get_vec(r, v[1], "system.mesh", 2, 2, 1, MGC_MAX_DEVICES, mesh, &len) ||
        get_i32(r, v[2], "system.devices", 1, MGC_MAX_DEVICES, &p->ndevices) ||
        get_str(r, v[3], "system.topology", &p->topology) ||
        get_u64(r, v[4], "system.dram_bytes", &p->dram_bytes) ||
        get_i32(r, v[5], "system.tile", 1, 1 << 20, &p->tile))
        return -1;
    p->mesh[0] = (int)mesh[0];
    p->mesh[1] = (int)mesh[1];
    r->l_system = line_of(v[2]);
    return 0;
}

static int read_facts(rd *r, const yaml_node_t *n)
{
    static const char *const keys[] = { "hidden", "vocab", "padded_vocab", "layers", "?taps", NULL };
    yaml_node_t *v[5];
    mgc_plan *p = r->p;
    r->l_facts = line_of(n);
    return fields(r, n, "model_facts", keys, v) ||
           get_int(r, v[0], "model_facts.hidden", 1, MAX_VALUES, &p->hidden) ||
           get_int(r, v[1], "model_facts.vocab", 1, MAX_VALUES, &p->vocab) ||
           get_int(r, v[2], "model_facts.padded_vocab", 1, MAX_VALUES, &p->padded_vocab) ||
           get_int(r, v[3], "model_facts.layers", 1, MAX_RECORDS, &p->n_layers) ||
           (v[4] && get_i32(r, v[4], "model_facts.taps", 0, MAX_RECORDS, &p->n_taps)) ? -1 : 0;
}

static int read_precision(rd *r, const yaml_node_t *n)
{
    static const char *const keys[] = { "weights", "activations", "kv_cache", NULL };
    yaml_node_t *v[3];
    mgc_plan *p = r->p;
    r->l_precision = line_of(n);
    return fields(r, n, "precision", keys, v) ||
           get_dtype(r, v[0], "precision.weights", &p->weights_dtype) ||
           get_dtype(r, v[1], "precision.activations", &p->act_dtype) ||
           get_dtype(r, v[2], "precision.kv_cache", &p->kv_dtype) ? -1 : 0;
}

static int read_kv(rd *r, const yaml_node_t *n)
{
    static const char *const keys[] = { "users", "kv_heads", "max_len", "head_dim", "layers", NULL };
    yaml_node_t *v[5];
    mgc_plan *p = r->p;
    r->l_kv = line_of(n);
    return fields(r, n, "kv_cache", keys, v) ||
           get_int(r, v[0], "kv_cache.users", 0, MAX_VALUES, &p->cache_users) ||
           get_int(r, v[1], "kv_cache.kv_heads", 0, MAX_VALUES, &p->cache_kv_heads) ||
           get_int(r, v[2], "kv_cache.max_len", 0, MAX_VALUES, &p->cache_len) ||
           get_int(r, v[3], "kv_cache.head_dim", 0, MAX_VALUES, &p->cache_head_dim) ||
           get_int(r, v[4], "kv_cache.layers", 0, MAX_RECORDS, &p->cache_layers) ? -1 : 0;
}

static int read_memory(rd *r, const yaml_node_t *n)
{
    static const char *const keys[] = { "weights", "kv_cache", "activations", "total", "dram", "fits", NULL };
    yaml_node_t *v[6];
    mgc_plan_memory *m = &r->p->memory;
    if (fields(r, n, "memory", keys, v) || get_u64(r, v[0], "memory.weights", &m->weights) ||
        get_u64(r, v[1], "memory.kv_cache", &m->kv_cache) ||
        get_u64(r, v[2], "memory.activations", &m->activations) ||
        get_u64(r, v[3], "memory.total", &m->total) || get_u64(r, v[4], "memory.dram", &m->dram))
        return -1;
    static const char *const bools[] = { "false", "true" };
    int fits;
    if (get_enum(r, v[5], "memory.fits", bools, 2, &fits))
        return -1;
    if (fits != (m->total <= m->dram))
        return err(r, v[5], "memory.fits: says %s, but total %llu and dram %llu say otherwise",
                   bools[fits], (unsigned long long)m->total, (unsigned long long)m->dram);
    r->l_memory = line_of(v[3]);
    return 0;
}

static int read_factors(rd *r, const yaml_node_t *n, const char *what, int dim, double **out)
{
    yaml_node_item_t *it;
    size_t len;
    if (get_seq(r, n, what, (size_t)dim / 2, (size_t)dim / 2, &it, &len))
        return -1;
    if (!(*out = calloc(len ? len : 1, sizeof **out)))
        return err(r, n, "out of memory");
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *x = take(r, it[i], n);
        if (!x || get_double(r, x, what, &(*out)[i]))
            return -1;
    }
    return 0;
}

static int read_rope(rd *r, const yaml_node_t *n, mgc_plan_rope *o)
{
    static const char *const keys[] = { "kind", "theta", "dim", "?factor", "?low_freq_factor",
                                        "?high_freq_factor", "?original_max", "?max_pos",
                                        "?short_factor", "?long_factor", NULL };
    static const char *const kinds[] = { "default", "llama3", "longrope" };
    /* which optional keys (bits 3..9) each kind has */
    static const unsigned has[] = { 0, 0x78, 0x3c8 };
    yaml_node_t *v[10];
    int kind;
    int64_t dim;
    if (fields(r, n, "rope", keys, v) || get_enum(r, v[0], "rope.kind", kinds, 3, &kind) ||
        get_double(r, v[1], "rope.theta", &o->theta) || get_int(r, v[2], "rope.dim", 2, 65536, &dim))
        return -1;
    if (dim % 2)
        return err(r, v[2], "rope.dim: %lld is odd", (long long)dim);
    o->kind = (mgc_rope_kind)kind;
    o->dim = (int)dim;
    for (int i = 3; i < 10; i++) {
        int want = (has[kind] >> i) & 1;
        if (want && !v[i])
            return err(r, n, "rope: missing key '%s' for kind %s", keys[i] + 1, kinds[kind]);
        if (!want && v[i])
            return err(r, v[i], "rope: key '%s' does not apply to kind %s", keys[i] + 1, kinds[kind]);
    }
    if ((v[3] && get_double(r, v[3], "rope.factor", &o->factor)) ||
        (v[4] && get_double(r, v[4], "rope.low_freq_factor", &o->low_freq_factor)) ||
        (v[5] && get_double(r, v[5], "rope.high_freq_factor", &o->high_freq_factor)) ||
        (v[6] && get_int(r, v[6], "rope.original_max", 1, MAX_VALUES, &o->original_max)) ||
        (v[7] && get_int(r, v[7], "rope.max_pos", 1, MAX_VALUES, &o->max_pos)) ||
        (v[8] && read_factors(r, v[8], "rope.short_factor", o->dim, &o->short_factor)) ||
        (v[9] && read_factors(r, v[9], "rope.long_factor", o->dim, &o->long_factor)))
        return -1;
    return 0;
}

static int read_ropes(rd *r, const yaml_node_t *n)
{
    yaml_node_item_t *it;
    size_t len;
    mgc_plan *p = r->p;
    if (get_seq(r, n, "ropes", 0, MAX_RECORDS, &it, &len))
        return -1;
    if (!(p->ropes = calloc(len ? len : 1, sizeof *p->ropes)) || !(r->l_ropes = new_lines(r, n, len)))
        return err(r, n, "out of memory");
    p->nropes = len;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *x = take(r, it[i], n);
        if (!x || read_rope(r, x, &p->ropes[i]))
            return -1;
        r->l_ropes[i] = line_of(x);
    }
    return 0;
}

static int read_slice(rd *r, const yaml_node_t *n, const mgc_plan_weight *w, int dev, mgc_weight_slice *s)
{
    static const char *const keys[] = { "device", "read", "local", NULL };
    yaml_node_t *v[3];
    int64_t d;
    size_t len;
    yaml_node_item_t *it;
    if (fields(r, n, "slice", keys, v) || get_int(r, v[0], "slice.device", 0, MGC_MAX_DEVICES, &d))
        return -1;
    if (d != dev)
        return err(r, v[0], "slice.device: %lld is not the slice's position %d", (long long)d, dev);
    if (get_seq(r, v[1], "slice.read", (size_t)w->rank, (size_t)w->rank, &it, &len))
        return -1;
    for (size_t k = 0; k < len; k++) {
        yaml_node_t *x = take(r, it[k], v[1]);
        int64_t lohi[2];
        size_t two;
        if (!x || get_vec(r, x, "slice.read", 2, 2, 0, MAX_VALUES, lohi, &two))
            return -1;
        s->range[k].lo = lohi[0];
        s->range[k].hi = lohi[1];
    }
    return get_vec(r, v[2], "slice.local", (size_t)w->rank, (size_t)w->rank, 0, MAX_VALUES,
                   s->local_shape, &len);
}

static int read_weight(rd *r, const yaml_node_t *n, size_t wi)
{
    static const char *const keys[] = { "id", "hf_name", "hf_shape", "shape", "row0", "role", "dtype",
                                        "shard", "bytes_per_device", "slices", "?transposed", "?derive_scale",
                                        "?derive_offset", NULL };
    static const char *const roles[] = { "linear", "embedding", "norm", "bias" };
    mgc_plan *p = r->p;
    mgc_plan_weight *w = &p->weights[wi];
    yaml_node_t *v[13];
    w->replicas = 1;
    w->owner = -1;
    w->derive_scale = 1.0;
    size_t rank, len;
    int role;
    if (fields(r, n, "weight", keys, v) || get_str(r, v[0], "weight.id", &w->id) ||
        get_str(r, v[1], "weight.hf_name", &w->hf_name) ||
        get_vec(r, v[2], "weight.hf_shape", 1, 2, 1, MAX_VALUES, w->hf_shape, &rank))
        return -1;
    w->rank = (int)rank;
    if (get_vec(r, v[3], "weight.shape", rank, rank, 1, MAX_VALUES, w->shape, &len) ||
        get_int(r, v[4], "weight.row0", 0, MAX_VALUES, &w->row0) ||
        get_enum(r, v[5], "weight.role", roles, 4, &role) ||
        get_dtype(r, v[6], "weight.dtype", &w->dtype) ||
        get_u64(r, v[8], "weight.bytes_per_device", &w->bytes_per_device) ||
        v2_only(r, v[10], "weight.transposed") || v2_only(r, v[11], "weight.derive_scale") ||
        v2_only(r, v[12], "weight.derive_offset") ||
        (v[10] && get_bool(r, v[10], "weight.transposed", &w->transposed)) ||
        (v[11] && get_double(r, v[11], "weight.derive_scale", &w->derive_scale)) ||
        (v[12] && get_double(r, v[12], "weight.derive_offset", &w->derive_offset)))
        return -1;
    if (role == MGC_W_BIAS && v2_only(r, v[5], "weight.role bias"))
        return -1;
    w->role = (mgc_weight_role)role;
    if (v[7]->type == YAML_SCALAR_NODE) {
        static const char *const repl[] = { "replicated" };
        int k;
        if (get_enum(r, v[7], "weight.shard", repl, 1, &k))
            return -1;
        w->shard = MGC_SHARD_REPLICATED;
    } else {
        /* {split: d, padded: n[, replicas: r]} or {owner: d} */
        static const char *const skeys[] = { "?split", "?padded", "?replicas", "?owner", NULL };
        yaml_node_t *sv[4];
        if (fields(r, v[7], "weight.shard", skeys, sv))
            return -1;
        if (sv[3]) {
            if (sv[0] || sv[1] || sv[2])
                return err(r, v[7], "weight.shard: an owned weight is not also split");
            if (v2_only(r, sv[3], "weight.shard.owner") ||
                get_i32(r, sv[3], "weight.shard.owner", 0, MGC_MAX_DEVICES - 1, &w->owner))
                return -1;
            w->shard = MGC_SHARD_OWNED;
        } else {
            if (!sv[0] || !sv[1])
                return err(r, v[7], "weight.shard: missing key '%s'", sv[0] ? "padded" : "split");
            if (get_i32(r, sv[0], "weight.shard.split", 0, (int64_t)rank - 1, &w->dim) ||
                get_int(r, sv[1], "weight.shard.padded", 1, MAX_VALUES, &w->padded) ||
                v2_only(r, sv[2], "weight.shard.replicas") ||
                (sv[2] && get_i32(r, sv[2], "weight.shard.replicas", 1, MGC_MAX_DEVICES, &w->replicas)))
                return -1;
            w->shard = MGC_SHARD_SPLIT;
        }
    }
    yaml_node_item_t *it;
    if (get_seq(r, v[9], "weight.slices", 0, MGC_MAX_DEVICES, &it, &len))
        return -1;
    if (len != (size_t)p->ndevices)
        return err(r, v[9], "weight.slices: %zu slices for %d devices", len, p->ndevices);
    if (!(w->slices = calloc(len, sizeof *w->slices)))
        return err(r, n, "out of memory");
    for (size_t d = 0; d < len; d++) {
        yaml_node_t *x = take(r, it[d], v[9]);
        if (!x || read_slice(r, x, w, (int)d, &w->slices[d]))
            return -1;
        r->l_slices[wi * (size_t)p->ndevices + d] = line_of(x);
    }
    r->l_weights[wi] = line_of(n);
    return 0;
}

static int read_weights(rd *r, const yaml_node_t *n)
{
    yaml_node_item_t *it;
    size_t len;
    mgc_plan *p = r->p;
    if (get_seq(r, n, "weights", 0, MAX_RECORDS, &it, &len))
        return -1;
    if (!(p->weights = calloc(len ? len : 1, sizeof *p->weights)) || !(r->l_weights = new_lines(r, n, len)) ||
        !(r->l_slices = new_lines(r, n, len * (size_t)p->ndevices)))
        return err(r, n, "out of memory");
    p->nweights = len;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *x = take(r, it[i], n);
        if (!x || read_weight(r, x, i))
            return -1;
    }
    return 0;
}

static int read_buffer(rd *r, const yaml_node_t *n, mgc_plan_buffer *b)
{
    static const char *const keys[] = { "id", "name", "cols", "dtype", "offset", "size", "first", "last", NULL };
    yaml_node_t *v[8];
    return fields(r, n, "buffer", keys, v) ||
           get_i32(r, v[0], "buffer.id", 0, MAX_RECORDS, &b->id) ||
           get_str(r, v[1], "buffer.name", &b->name) ||
           get_int(r, v[2], "buffer.cols", 1, MAX_VALUES, &b->cols) ||
           get_dtype(r, v[3], "buffer.dtype", &b->dtype) ||
           get_int(r, v[4], "buffer.offset", 0, MAX_VALUES, &b->offset) ||
           get_int(r, v[5], "buffer.size", 1, MAX_VALUES, &b->size) ||
           get_i32(r, v[6], "buffer.first", 0, MAX_RECORDS, &b->first) ||
           get_i32(r, v[7], "buffer.last", 0, MAX_RECORDS, &b->last) ? -1 : 0;
}

static int read_op(rd *r, const yaml_node_t *n, mgc_plan_op *o)
{
    static const char *const keys[] = { "op", "?in", "?out", "?weight", "?layer", "?rope", "?n_heads",
                                        "?n_kv_heads", "?head_dim", "?group", "?eps", "?scale",
                                        "?vocab", "?where", "?tap", "?weight2", "?window", "?softcap",
                                        "?top_k", "?expert", "?replicas", "?device", NULL };
    yaml_node_t *v[22];
    *o = (mgc_plan_op){ .in = { -1, -1, -1 }, .out = -1, .weight = -1, .layer = -1, .rope = -1, .tap = -1,
                        .weight2 = -1, .device = -1, .replicas = 1 };
    if (fields(r, n, "op", keys, v))
        return -1;
    const char *k = scalar(r, v[0], "op", 1);
    if (!k)
        return -1;
    if (mgc_kernel_parse(k, &o->kernel))
        return err(r, v[0], "op: unknown kernel '%.40s'", k);
    if (o->kernel >= MGC_K_ADD_BIAS && v2_only(r, v[0], "op"))
        return -1;
    static const char *const v2keys[] = { "op.weight2", "op.window", "op.softcap", "op.top_k", "op.expert",
                                          "op.replicas", "op.device" };
    for (int i = 15; i < 22; i++)
        if (v2_only(r, v[i], v2keys[i - 15]))
            return -1;
    if (v[1]) {
        int64_t in[3];
        size_t len;
        if (get_vec(r, v[1], "op.in", 1, 3, -1, MAX_RECORDS, in, &len))
            return -1;
        for (size_t i = 0; i < len; i++)
            o->in[i] = (int)in[i];
    }
    return (v[2] && get_i32(r, v[2], "op.out", -1, MAX_RECORDS, &o->out)) ||
           (v[3] && get_i32(r, v[3], "op.weight", -1, MAX_RECORDS, &o->weight)) ||
           (v[4] && get_i32(r, v[4], "op.layer", -1, MAX_RECORDS, &o->layer)) ||
           (v[5] && get_i32(r, v[5], "op.rope", -1, MAX_RECORDS, &o->rope)) ||
           (v[6] && get_i32(r, v[6], "op.n_heads", 0, 1 << 20, &o->n_heads)) ||
           (v[7] && get_i32(r, v[7], "op.n_kv_heads", 0, 1 << 20, &o->n_kv_heads)) ||
           (v[8] && get_i32(r, v[8], "op.head_dim", 0, 1 << 20, &o->head_dim)) ||
           (v[9] && get_i32(r, v[9], "op.group", 0, 1 << 20, &o->group)) ||
           (v[10] && get_double(r, v[10], "op.eps", &o->eps)) ||
           (v[11] && get_double(r, v[11], "op.scale", &o->scale)) ||
           (v[12] && get_int(r, v[12], "op.vocab", 0, MAX_VALUES, &o->vocab)) ||
           (v[13] && get_str(r, v[13], "op.where", &o->where)) ||
           (v[14] && get_i32(r, v[14], "op.tap", 0, MAX_RECORDS, &o->tap)) ||
           (v[15] && get_i32(r, v[15], "op.weight2", 0, MAX_RECORDS, &o->weight2)) ||
           (v[16] && get_int(r, v[16], "op.window", 1, MAX_VALUES, &o->window)) ||
           (v[17] && get_double(r, v[17], "op.softcap", &o->softcap)) ||
           (v[18] && get_i32(r, v[18], "op.top_k", 1, 1 << 20, &o->top_k)) ||
           (v[19] && get_i32(r, v[19], "op.expert", 0, 1 << 20, &o->expert)) ||
           (v[20] && get_i32(r, v[20], "op.replicas", 1, MGC_MAX_DEVICES, &o->replicas)) ||
           (v[21] && get_i32(r, v[21], "op.device", 0, MGC_MAX_DEVICES - 1, &o->device)) ? -1 : 0;
}

static int read_entry(rd *r, const yaml_node_t *n, int en)
{
    static const char *const keys[] = { "rows", "input", "arena_values", "buffers", "ops", NULL };
    const char *name = en ? "decode" : "prefill";
    mgc_plan_entry *E = en ? &r->p->decode : &r->p->prefill;
    yaml_node_t *v[5];
    yaml_node_item_t *it;
    size_t len;
    if (fields(r, n, name, keys, v) ||
        get_int(r, v[0], en ? "decode.rows" : "prefill.rows", 1, MAX_VALUES, &E->rows) ||
        get_i32(r, v[1], en ? "decode.input" : "prefill.input", 0, MAX_RECORDS, &E->input) ||
        get_int(r, v[2], en ? "decode.arena_values" : "prefill.arena_values", 0, MAX_VALUES, &E->arena_values))
        return -1;
    r->l_entry[en] = line_of(n);
    if (get_seq(r, v[3], en ? "decode.buffers" : "prefill.buffers", 0, MAX_RECORDS, &it, &len))
        return -1;
    if (!(E->bufs = calloc(len ? len : 1, sizeof *E->bufs)) || !(r->l_bufs[en] = new_lines(r, n, len)))
        return err(r, n, "out of memory");
    E->nbufs = len;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *x = take(r, it[i], v[3]);
        if (!x || read_buffer(r, x, &E->bufs[i]))
            return -1;
        r->l_bufs[en][i] = line_of(x);
    }
    if (get_seq(r, v[4], en ? "decode.ops" : "prefill.ops", 0, MAX_RECORDS, &it, &len))
        return -1;
    if (!(E->ops = calloc(len ? len : 1, sizeof *E->ops)) || !(r->l_ops[en] = new_lines(r, n, len)))
        return err(r, n, "out of memory");
    E->nops = len;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *x = take(r, it[i], v[4]);
        if (!x || read_op(r, x, &E->ops[i]))
            return -1;
        r->l_ops[en][i] = line_of(x);
    }
    return 0;
}

static int read_root(rd *r, yaml_node_t *root)
{
    static const char *const keys[] = { "mgc_plan", "note", "model", "spec", "system", "model_facts",
                                        "precision", "kv_cache", "memory", "ropes", "weights",
                                        "prefill", "decode", "?expect", NULL };
    yaml_node_t *v[14];
    mgc_plan *p = r->p;
    char *note = NULL;
    p->expect_top1 = p->expect_top5 = p->expect_pcc = -1;
    if (fields(r, root, "plan", keys, v) || get_int(r, v[0], "mgc_plan", 0, 1 << 20, &r->version))
        return -1;
    if (r->version < 1 || r->version > MGC_PLAN_VERSION)
        return err(r, v[0], "mgc_plan: version %lld is not one this mgc reads (1..%d)", (long long)r->version,
                   MGC_PLAN_VERSION);
    if (v[13]) {
        static const char *const ekeys[] = { "?top1", "?top5", "?pcc", NULL };
        yaml_node_t *ev[3];
        if (v2_only(r, v[13], "expect") || fields(r, v[13], "expect", ekeys, ev) ||
            (ev[0] && get_double(r, ev[0], "expect.top1", &p->expect_top1)) ||
            (ev[1] && get_double(r, ev[1], "expect.top5", &p->expect_top5)) ||
            (ev[2] && get_double(r, ev[2], "expect.pcc", &p->expect_pcc)))
            return -1;
        for (int i = 0; i < 3; i++) {
            double x = i == 0 ? p->expect_top1 : i == 1 ? p->expect_top5 : p->expect_pcc;
            if (ev[i] && !(x >= 0 && x <= 1))
                return err(r, ev[i], "expect.%s: %g is outside 0..1", ekeys[i] + 1, x);
        }
        r->l_expect = line_of(v[13]);
    }
    if (get_str(r, v[1], "note", &note))
        return -1;
    free(note);
    return get_str(r, v[2], "model", &p->model) || get_str(r, v[3], "spec", &p->spec) ||
           read_system(r, v[4]) || read_facts(r, v[5]) || read_precision(r, v[6]) ||
           read_kv(r, v[7]) || read_memory(r, v[8]) || read_ropes(r, v[9]) ||
           read_weights(r, v[10]) || read_entry(r, v[11], 0) || read_entry(r, v[12], 1) ? -1 : 0;
}

/* The line of the record a validation failure names. */
static int where_line(const rd *r, const mgc_plan_where *w)
{
    int en = w->entry ? 1 : 0;
    switch (w->part) {
    case MGC_PART_PLAN: return 1;
    case MGC_PART_SYSTEM: return r->l_system;
    case MGC_PART_FACTS: return r->l_facts;
    case MGC_PART_PRECISION: return r->l_precision;
    case MGC_PART_KV_CACHE: return r->l_kv;
    case MGC_PART_MEMORY: return r->l_memory;
    case MGC_PART_ROPE: return w->index < r->p->nropes ? r->l_ropes[w->index] : 1;
    case MGC_PART_WEIGHT: return w->index < r->p->nweights ? r->l_weights[w->index] : 1;
    case MGC_PART_SLICE:
        return w->index < r->p->nweights && w->sub < (size_t)r->p->ndevices
                   ? r->l_slices[w->index * (size_t)r->p->ndevices + w->sub] : 1;
    case MGC_PART_ENTRY: return r->l_entry[en];
    case MGC_PART_BUFFER: return w->index < (en ? r->p->decode.nbufs : r->p->prefill.nbufs) ? r->l_bufs[en][w->index] : 1;
    case MGC_PART_OP: return w->index < (en ? r->p->decode.nops : r->p->prefill.nops) ? r->l_ops[en][w->index] : 1;
    }
    return 1;
}

int mgc_plan_parse(const char *label, const char *text, size_t len, mgc_plan *out, mgc_error *e)
{
    memset(out, 0, sizeof *out);
    rd r = { .label = label, .e = e, .p = out };
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return mgc_errorf(e, "%s: out of memory", label);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = mgc_errorf(e, "%s:%zu: invalid YAML: %s%s%s", label, parser.problem_mark.line + 1,
                            parser.problem ? parser.problem : "error",
                            parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return rc;
    }
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    r.doc = &doc;
    r.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
    if (!root) {
        rc = mgc_errorf(e, "%s:1: empty plan", label);
    } else if (!(r.seen = calloc(r.nnodes, 1))) {
        rc = mgc_errorf(e, "%s: out of memory", label);
    } else {
        root = take(&r, 1, root); /* the root is node 1 */
        rc = root ? read_root(&r, root) : -1;
    }
    if (!rc) {
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            rc = mgc_errorf(e, "%s:%zu: invalid YAML: %s", label, parser.problem_mark.line + 1,
                            parser.problem ? parser.problem : "error");
        } else {
            yaml_node_t *nr = yaml_document_get_root_node(&next);
            if (nr)
                rc = mgc_errorf(e, "%s:%d: a plan file holds one YAML document", label, line_of(nr));
            yaml_document_delete(&next);
        }
    }
    if (!rc) {
        mgc_plan_where w;
        mgc_error ve;
        if (mgc_plan_validate_where(out, &w, &ve))
            rc = mgc_errorf(e, "%s:%d: %s", label, where_line(&r, &w), ve.msg);
    }
    free(r.seen);
    free(r.l_weights);
    free(r.l_slices);
    free(r.l_ropes);
    for (int i = 0; i < 2; i++) {
        free(r.l_bufs[i]);
        free(r.l_ops[i]);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc)
        mgc_plan_free(out);
    return rc;
}

int mgc_plan_read(const char *path, mgc_plan *out, mgc_error *e)
{
    memset(out, 0, sizeof *out);
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return mgc_errorf(e, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_FILE) {
                rc = mgc_errorf(e, "%s: larger than %zu bytes, not a plan", path, MAX_FILE);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) {
            if (ferror(f))
                rc = mgc_errorf(e, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    if (!buf)
        return mgc_errorf(e, "%s: out of memory", path);
    if (!rc)
        rc = mgc_plan_parse(path, buf, n, out, e);
    free(buf);
    return rc;
}
