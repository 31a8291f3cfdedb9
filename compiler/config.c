/* config: config.json lookups by dotted path.  See config.h. */
#include "config.h"
#include "config_limits.h"

#include "edit_distance.h"
#include "json_strict.h"
#include "read_file.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A config.json is a few KB; anything this large is a mistake. */
#define MAX_CONFIG_BYTES (16u * 1024u * 1024u)

/* An array of numbers, converted once at load so lookups can hand out pointers. */
typedef struct {
    const json_object *arr;
    double *v;
} num_array;

struct mgc_config {
    char *path;
    json_object *root;
    num_array *arrs;
    size_t narrs, cap;
};

void mgc_config_free(mgc_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->narrs; i++)
        free(cfg->arrs[i].v);
    free(cfg->arrs);
    json_object_put(cfg->root);
    free(cfg->path);
    free(cfg);
}

static bool is_number(json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

static double number_value(json_object *v)
{
    if (json_object_is_type(v, json_type_int)) {
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
            return (double)json_object_get_uint64(v);
        return (double)i;
    }
    return json_object_get_double(v);
}

/* Records every all-number array in the tree. */
static int index_arrays(mgc_config *cfg, json_object *v)
{
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, child)
        {
            (void)k;
            if (index_arrays(cfg, child) != 0)
                return -1;
        }
        return 0;
    }
    if (!json_object_is_type(v, json_type_array))
        return 0;
    size_t n = json_object_array_length(v);
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(v, i);
        if (!is_number(c)) {
            all = false;
            if (index_arrays(cfg, c) != 0)
                return -1;
        }
    }
    if (!all)
        return 0;
    if (cfg->narrs == cfg->cap) {
        size_t nc = cfg->cap ? cfg->cap * 2 : 8;
        num_array *na = realloc(cfg->arrs, nc * sizeof *na);
        if (!na)
            return -1;
        cfg->arrs = na;
        cfg->cap = nc;
    }
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (!d)
        return -1;
    for (size_t i = 0; i < n; i++)
        d[i] = number_value(json_object_array_get_idx(v, i));
    cfg->arrs[cfg->narrs++] = (num_array){v, d};
    return 0;
}

/* Every number in the file must be finite (1e999 parses as infinity), at any depth,
 * whether or not a spec reads it.  `where` holds the dotted path of v. */
static int check_finite(const mgc_config *cfg, json_object *v, char *where, size_t cap, int depth,
                        mgc_error *e)
{
    size_t len = strlen(where);
    if (json_object_is_type(v, json_type_double) && !isfinite(json_object_get_double(v)))
        return mgc_path_errorf(e, cfg->path, "'%s' is not a finite number (%s)", where,
                               json_object_get_string(v));
    if (depth > 64)
        return 0; /* the strict parser bounds nesting; nothing deeper to find */
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, child)
        {
            snprintf(where + len, cap - len, "%s%s", len ? "." : "", key);
            if (check_finite(cfg, child, where, cap, depth + 1, e) != 0)
                return -1;
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            snprintf(where + len, cap - len, "%s%zu", len ? "." : "", i);
            if (check_finite(cfg, json_object_array_get_idx(v, i), where, cap, depth + 1, e) != 0)
                return -1;
        }
    }
    where[len] = '\0';
    return 0;
}

int mgc_config_parse(const char *text, size_t len, const char *name, mgc_config **out,
                     mgc_error *e)
{
    *out = NULL;
    const char *nul = memchr(text, 0, len);
    if (nul) {
        int line, col;
        mgc_text_line_col(text, (size_t)(nul - text), &line, &col);
        return mgc_errorf(e, "%s:%d:%d: invalid JSON: NUL byte", name, line, col);
    }
    if (len > MAX_CONFIG_BYTES)
        return mgc_path_errorf(e, name, "%zu bytes is too large for a config.json", len);
    const char *why;
    size_t at;
    json_object *root = mgc_json_parse_strict(text, len, &why, &at);
    if (!root) {
        int line, col;
        mgc_text_line_col(text, at, &line, &col);
        return mgc_errorf(e, "%s:%d:%d: invalid JSON: %s", name, line, col, why);
    }
    if (!json_object_is_type(root, json_type_object)) {
        mgc_path_errorf(e, name, "the top level is a JSON %s, expected an object",
                json_type_to_name(json_object_get_type(root)));
        json_object_put(root);
        return -1;
    }
    mgc_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->path = strdup(name))) {
        free(cfg);
        json_object_put(root);
        return mgc_path_errorf(e, name, "out of memory");
    }
    cfg->root = root;
    if (index_arrays(cfg, root) != 0) {
        mgc_config_free(cfg);
        return mgc_path_errorf(e, name, "out of memory");
    }
    char where[256] = "";
    if (check_finite(cfg, root, where, sizeof where, 0, e) != 0 || mgc_config_check_limits(cfg, e) != 0) {
        mgc_config_free(cfg);
        return -1;
    }
    *out = cfg;
    return 0;
}

int mgc_config_load(const char *path, mgc_config **out, mgc_error *e)
{
    *out = NULL;
    char *buf;
    size_t n;
    if (mgc_read_file(path, MAX_CONFIG_BYTES, &buf, &n, e) != 0)
        return -1;
    int rc = mgc_config_parse(buf, n, path, out, e);
    free(buf);
    return rc;
}

const char *mgc_config_path(const mgc_config *cfg)
{
    return cfg->path;
}

const char *mgc_config_kind_name(mgc_cv_kind kind)
{
    switch (kind) {
    case MGC_CV_ABSENT: return "absent";
    case MGC_CV_NULL: return "null";
    case MGC_CV_BOOL: return "a boolean";
    case MGC_CV_INT: return "an integer";
    case MGC_CV_FLOAT: return "a float";
    case MGC_CV_STRING: return "a string";
    case MGC_CV_NUMBERS: return "an array of numbers";
    case MGC_CV_ARRAY: return "an array";
    case MGC_CV_OBJECT: return "an object";
    }
    return "?";
}

/* Walks the dotted path; NULL if absent.  *found_null is set if the path names a null. */
static json_object *walk(const mgc_config *cfg, const char *path, bool *found_null)
{
    json_object *cur = cfg->root;
    *found_null = false;
    if (!path || !*path)
        return cur;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n > 255)
            return NULL;
        char seg[256];
        memcpy(seg, p, n);
        seg[n] = 0;
        json_object *next = NULL;
        if (json_object_is_type(cur, json_type_object)) {
            if (!json_object_object_get_ex(cur, seg, &next))
                return NULL;
        } else if (json_object_is_type(cur, json_type_array)) {
            char *endp;
            if (!isdigit((unsigned char)seg[0]))
                return NULL;
            errno = 0;
            unsigned long long idx = strtoull(seg, &endp, 10);
            if (*endp || errno || idx >= json_object_array_length(cur))
                return NULL;
            next = json_object_array_get_idx(cur, (size_t)idx);
        } else {
            return NULL;
        }
        if (!dot) {
            *found_null = next == NULL;
            return next;
        }
        if (!next)
            return NULL;
        cur = next;
        p = dot + 1;
    }
}

static const num_array *find_nums(const mgc_config *cfg, const json_object *arr)
{
    for (size_t i = 0; i < cfg->narrs; i++)
        if (cfg->arrs[i].arr == arr)
            return &cfg->arrs[i];
    return NULL;
}

mgc_cv_kind mgc_config_get(const mgc_config *cfg, const char *path, mgc_config_value *out)
{
    mgc_config_value tmp;
    if (!out)
        out = &tmp;
    memset(out, 0, sizeof *out);
    bool is_null;
    json_object *v = walk(cfg, path, &is_null);
    if (!v) {
        out->kind = is_null ? MGC_CV_NULL : MGC_CV_ABSENT;
        return out->kind;
    }
    switch (json_object_get_type(v)) {
    case json_type_null: out->kind = MGC_CV_NULL; break;
    case json_type_boolean:
        out->kind = MGC_CV_BOOL;
        out->b = json_object_get_boolean(v);
        break;
    case json_type_int:
        out->f = number_value(v);
        if (json_object_get_int64(v) == INT64_MAX &&
            json_object_get_uint64(v) > (uint64_t)INT64_MAX) {
            out->kind = MGC_CV_FLOAT; /* beyond int64 */
        } else {
            out->kind = MGC_CV_INT;
            out->i = json_object_get_int64(v);
        }
        break;
    case json_type_double:
        out->kind = MGC_CV_FLOAT;
        out->f = json_object_get_double(v);
        break;
    case json_type_string:
        out->kind = MGC_CV_STRING;
        out->s = json_object_get_string(v);
        out->len = (size_t)json_object_get_string_len(v);
        break;
    case json_type_array: {
        const num_array *na = find_nums(cfg, v);
        out->len = json_object_array_length(v);
        if (na) {
            out->kind = MGC_CV_NUMBERS;
            out->nums = na->v;
        } else {
            out->kind = MGC_CV_ARRAY;
        }
        break;
    }
    case json_type_object:
        out->kind = MGC_CV_OBJECT;
        out->len = (size_t)json_object_object_length(v);
        break;
    }
    return out->kind;
}

bool mgc_config_has(const mgc_config *cfg, const char *path)
{
    mgc_cv_kind k = mgc_config_get(cfg, path, NULL);
    return k != MGC_CV_ABSENT && k != MGC_CV_NULL;
}

/* Shortest %g form that reads back as the same double. */
static void fmt_double(char *buf, size_t n, double v)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v || isnan(v))
            return;
    }
}

/* "'key' is a string ("x"), expected an integer" */
static int type_err(const mgc_config *cfg, const char *path, const mgc_config_value *v,
                    const char *expected, mgc_error *e)
{
    if (v->kind == MGC_CV_ABSENT)
        return mgc_path_errorf(e, cfg->path, "'%s' is missing (expected %s)", path, expected);
    char shown[96] = "";
    switch (v->kind) {
    case MGC_CV_STRING: snprintf(shown, sizeof shown, " (\"%.64s\")", v->s); break;
    case MGC_CV_INT: snprintf(shown, sizeof shown, " (%lld)", (long long)v->i); break;
    case MGC_CV_FLOAT: {
        char num[40];
        fmt_double(num, sizeof num, v->f);
        snprintf(shown, sizeof shown, " (%s)", num);
        break;
    }
    case MGC_CV_BOOL: snprintf(shown, sizeof shown, " (%s)", v->b ? "true" : "false"); break;
    default: break;
    }
    if (v->kind == MGC_CV_NULL)
        return mgc_path_errorf(e, cfg->path, "'%s' is null, expected %s", path, expected);
    return mgc_path_errorf(e, cfg->path, "'%s' is %s%s, expected %s", path,
                   mgc_config_kind_name(v->kind), shown, expected);
}

int mgc_config_int(const mgc_config *cfg, const char *path, int64_t *out, mgc_error *e)
{
    mgc_config_value v;
    mgc_config_get(cfg, path, &v);
    if (v.kind == MGC_CV_INT) {
        *out = v.i;
        return 0;
    }
    /* 32.0 is an integer; 2^63 and beyond are not int64 */
    if (v.kind == MGC_CV_FLOAT && isfinite(v.f) && v.f == floor(v.f) && v.f >= -0x1p63 &&
        v.f < 0x1p63) {
        *out = (int64_t)v.f;
        return 0;
    }
    return type_err(cfg, path, &v, "an integer", e);
}

int mgc_config_float(const mgc_config *cfg, const char *path, double *out, mgc_error *e)
{
    mgc_config_value v;
    mgc_config_get(cfg, path, &v);
    if (v.kind == MGC_CV_INT || v.kind == MGC_CV_FLOAT) {
        *out = v.f;
        return 0;
    }
    return type_err(cfg, path, &v, "a number", e);
}

int mgc_config_bool(const mgc_config *cfg, const char *path, bool *out, mgc_error *e)
{
    mgc_config_value v;
    mgc_config_get(cfg, path, &v);
    if (v.kind == MGC_CV_BOOL) {
        *out = v.b;
        return 0;
    }
    return type_err(cfg, path, &v, "true or false", e);
}

int mgc_config_string(const mgc_config *cfg, const char *path, const char **out, mgc_error *e)
{
    mgc_config_value v;
    mgc_config_get(cfg, path, &v);
    if (v.kind == MGC_CV_STRING) {
        *out = v.s;
        return 0;
    }
    return type_err(cfg, path, &v, "a string", e);
}

int mgc_config_numbers(const mgc_config *cfg, const char *path, const double **vals, size_t *n,
                       mgc_error *e)
{
    mgc_config_value v;
    mgc_config_get(cfg, path, &v);
    if (v.kind == MGC_CV_NUMBERS) {
        *vals = v.nums;
        *n = v.len;
        return 0;
    }
    return type_err(cfg, path, &v, "an array of numbers", e);
}

static bool absent_or_null(const mgc_config *cfg, const char *path)
{
    mgc_cv_kind k = mgc_config_get(cfg, path, NULL);
    return k == MGC_CV_ABSENT || k == MGC_CV_NULL;
}

int mgc_config_int_or(const mgc_config *cfg, const char *path, int64_t dflt, int64_t *out,
                      mgc_error *e)
{
    if (absent_or_null(cfg, path)) {
        *out = dflt;
        return 0;
    }
    return mgc_config_int(cfg, path, out, e);
}

int mgc_config_float_or(const mgc_config *cfg, const char *path, double dflt, double *out,
                        mgc_error *e)
{
    if (absent_or_null(cfg, path)) {
        *out = dflt;
        return 0;
    }
    return mgc_config_float(cfg, path, out, e);
}

int mgc_config_bool_or(const mgc_config *cfg, const char *path, bool dflt, bool *out,
                       mgc_error *e)
{
    if (absent_or_null(cfg, path)) {
        *out = dflt;
        return 0;
    }
    return mgc_config_bool(cfg, path, out, e);
}

int mgc_config_string_or(const mgc_config *cfg, const char *path, const char *dflt,
                         const char **out, mgc_error *e)
{
    if (absent_or_null(cfg, path)) {
        *out = dflt;
        return 0;
    }
    return mgc_config_string(cfg, path, out, e);
}

int mgc_config_keys(const mgc_config *cfg, const char *path, mgc_config_key_fn fn, void *ud)
{
    bool is_null;
    json_object *v = walk(cfg, path, &is_null);
    if (!v || !json_object_is_type(v, json_type_object))
        return -1;
    int n = 0;
    json_object_object_foreach(v, key, val)
    {
        (void)val;
        n++;
        if (fn && fn(key, ud) != 0)
            break;
    }
    return n;
}

const char *mgc_config_closest_key(const mgc_config *cfg, const char *obj_path, const char *key)
{
    bool is_null;
    json_object *v = walk(cfg, obj_path, &is_null);
    if (!v || !json_object_is_type(v, json_type_object) || !key)
        return NULL;
    size_t cap = 1 + strlen(key) / 5, best = cap + 1;
    const char *found = NULL;
    json_object_object_foreach(v, k, val)
    {
        (void)val;
        size_t d = mgc_edit_distance(key, k, cap, 1);
        if (d < best) {
            best = d;
            found = k;
        }
    }
    return found;
}
