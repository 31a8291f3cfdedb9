/* tokenizer_json.c: reading tokenizer.json members with json-c; every error
 * names the JSON path of the offending member. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

char *tok_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        abort();
    if (n)
        memcpy(d, s, n);
    d[n] = 0;
    return d;
}

json_object *tok_json_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v; /* NULL for JSON null */
}

int tok_unsupported(mgc_error *e, const char *what, const char *name, const char *path)
{
    return mgc_errorf(e, "unsupported %s \"%s\" (at %s)", what, name, path);
}

int tok_json_type(json_object *o, const char *path, const char **type, mgc_error *e)
{
    if (!o || !json_object_is_type(o, json_type_object))
        return mgc_errorf(e, "%s: expected an object", path);
    json_object *t = tok_json_get(o, "type");
    if (!t || !json_object_is_type(t, json_type_string))
        return mgc_errorf(e, "%s.type: expected a string", path);
    *type = json_object_get_string(t);
    return 0;
}

int tok_json_string(json_object *o, const char *key, const char *path, int required, const char **s, size_t *len,
                    mgc_error *e)
{
    json_object *v = tok_json_get(o, key);
    if (!v) {
        if (required)
            return mgc_errorf(e, "%s.%s: missing", path, key);
        *s = NULL;
        if (len)
            *len = 0;
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return mgc_errorf(e, "%s.%s: expected a string", path, key);
    *s = json_object_get_string(v);
    if (len)
        *len = (size_t)json_object_get_string_len(v);
    return 0;
}

int tok_json_bool(json_object *o, const char *key, const char *path, int dflt, int *out, mgc_error *e)
{
    json_object *v = tok_json_get(o, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_object_is_type(v, json_type_boolean))
        return mgc_errorf(e, "%s.%s: expected true or false", path, key);
    *out = json_object_get_boolean(v);
    return 0;
}

int tok_json_int(json_object *o, const char *key, const char *path, int64_t dflt, int64_t *out, mgc_error *e)
{
    json_object *v = tok_json_get(o, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_object_is_type(v, json_type_int))
        return mgc_errorf(e, "%s.%s: expected an integer", path, key);
    *out = json_object_get_int64(v);
    return 0;
}

int tok_json_array(json_object *o, const char *key, const char *path, json_object **arr, size_t *n, mgc_error *e)
{
    json_object *v = tok_json_get(o, key);
    if (!v || !json_object_is_type(v, json_type_array))
        return mgc_errorf(e, "%s.%s: expected an array", path, key);
    *arr = v;
    *n = json_object_array_length(v);
    return 0;
}

int tok_json_pattern(json_object *o, const char *path, tok_pattern *p, mgc_error *e)
{
    memset(p, 0, sizeof *p);
    json_object *pat = tok_json_get(o, "pattern");
    if (!pat || !json_object_is_type(pat, json_type_object))
        return mgc_errorf(e, "%s.pattern: expected {\"String\": ...} or {\"Regex\": ...}", path);
    char sub[512];
    snprintf(sub, sizeof sub, "%s.pattern", path);
    const char *s;
    size_t n;
    if (tok_json_get(pat, "String")) {
        if (tok_json_string(pat, "String", sub, 1, &s, &n, e) != 0)
            return -1;
        p->lit = tok_strndup(s, n);
        p->lit_len = n;
        return 0;
    }
    if (tok_json_get(pat, "Regex")) {
        if (tok_json_string(pat, "Regex", sub, 1, &s, &n, e) != 0)
            return -1;
        p->is_regex = 1;
        if (tok_regex_compile(&p->rx, s, n, e) != 0)
            return mgc_error_prefix(e, "%s.Regex", sub);
        return 0;
    }
    return mgc_errorf(e, "%s: expected {\"String\": ...} or {\"Regex\": ...}", sub);
}
