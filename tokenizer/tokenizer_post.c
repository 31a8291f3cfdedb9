/* tokenizer_post.c: the "post_processor" of tokenizer.json, applied to the ids
 * of one sequence when add_special_tokens is set: TemplateProcessing (its
 * "single" template), ByteLevel (offsets only: nothing to do on ids) and
 * Sequence of those. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

static int load_template(tok_post *p, json_object *o, const char *path, mgc_error *e)
{
    json_object *single, *specials = tok_json_get(o, "special_tokens");
    size_t n;
    char sub[512];
    if (tok_json_array(o, "single", path, &single, &n, e) != 0)
        return -1;
    p->is_template = 1;
    p->items = calloc(n ? n : 1, sizeof *p->items);
    if (!p->items)
        abort();
    for (size_t i = 0; i < n; i++) {
        /* counted before it can own memory, so an error below frees its ids */
        p->nitems = i + 1;
        json_object *it = json_object_array_get_idx(single, i), *x;
        tok_tmpl_item *ti = &p->items[i];
        snprintf(sub, sizeof sub, "%s.single[%zu]", path, i);
        if ((x = tok_json_get(it, "Sequence"))) {
            const char *id;
            snprintf(sub, sizeof sub, "%s.single[%zu].Sequence", path, i);
            if (tok_json_string(x, "id", sub, 1, &id, NULL, e) != 0)
                return -1;
            if (strcmp(id, "A") != 0 && strcmp(id, "B") != 0)
                return mgc_errorf(e, "%s.id: expected \"A\" or \"B\"", sub);
            ti->is_seq = 1;
            ti->seq_b = id[0] == 'B';
        } else if ((x = tok_json_get(it, "SpecialToken"))) {
            const char *id;
            snprintf(sub, sizeof sub, "%s.single[%zu].SpecialToken", path, i);
            if (tok_json_string(x, "id", sub, 1, &id, NULL, e) != 0)
                return -1;
            json_object *st = tok_json_get(specials, id), *ids = tok_json_get(st, "ids");
            if (!ids || !json_object_is_type(ids, json_type_array))
                return mgc_errorf(e, "%s.id: \"%.100s\" has no ids in %s.special_tokens", sub, id, path);
            ti->nids = json_object_array_length(ids);
            ti->ids = calloc(ti->nids ? ti->nids : 1, sizeof *ti->ids);
            if (!ti->ids)
                abort();
            for (size_t k = 0; k < ti->nids; k++) {
                json_object *v = json_object_array_get_idx(ids, k);
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                    json_object_get_int64(v) > INT32_MAX)
                    return mgc_errorf(e, "%s.special_tokens[\"%.100s\"].ids[%zu]: expected a token id", path, id, k);
                ti->ids[k] = (int32_t)json_object_get_int64(v);
            }
        } else {
            return mgc_errorf(e, "%s: expected {\"Sequence\": ...} or {\"SpecialToken\": ...}", sub);
        }
    }
    return 0;
}

int tok_post_load(tok_post *p, json_object *o, const char *path, mgc_error *e)
{
    memset(p, 0, sizeof *p);
    const char *type;
    char sub[512];
    if (tok_json_type(o, path, &type, e) != 0)
        return -1;
    if (strcmp(type, "TemplateProcessing") == 0)
        return load_template(p, o, path, e);
    if (strcmp(type, "ByteLevel") == 0)
        return 0;
    if (strcmp(type, "Sequence") == 0) {
        json_object *arr;
        size_t n;
        if (tok_json_array(o, "processors", path, &arr, &n, e) != 0)
            return -1;
        p->is_sequence = 1;
        p->sub = calloc(n ? n : 1, sizeof *p->sub);
        if (!p->sub)
            abort();
        for (size_t i = 0; i < n; i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", path, i);
            p->nsub = i + 1;
            if (tok_post_load(&p->sub[i], json_object_array_get_idx(arr, i), sub, e) != 0)
                return -1;
        }
        return 0;
    }
    snprintf(sub, sizeof sub, "%s.type", path);
    return tok_unsupported(e, "post_processor", type, sub);
}

void tok_post_free(tok_post *p)
{
    for (size_t i = 0; i < p->nitems; i++)
        free(p->items[i].ids);
    free(p->items);
    for (size_t i = 0; i < p->nsub; i++)
        tok_post_free(&p->sub[i]);
    free(p->sub);
    memset(p, 0, sizeof *p);
}

void tok_post_apply(const tok_post *p, tok_ids *ids)
{
    if (p->is_sequence) {
        for (size_t i = 0; i < p->nsub; i++)
            tok_post_apply(&p->sub[i], ids);
        return;
    }
    if (!p->is_template)
        return;
    tok_ids out = {0};
    for (size_t i = 0; i < p->nitems; i++) {
        const tok_tmpl_item *it = &p->items[i];
        if (it->is_seq) {
            if (!it->seq_b) /* a single sequence has no $B */
                for (size_t k = 0; k < ids->n; k++)
                    tok_ids_push(&out, ids->v[k]);
        } else {
            for (size_t k = 0; k < it->nids; k++)
                tok_ids_push(&out, it->ids[k]);
        }
    }
    free(ids->v);
    *ids = out;
}

void tok_post_bos_eos(const tok_post *p, int32_t *bos, int32_t *eos)
{
    for (size_t i = 0; i < p->nsub; i++)
        tok_post_bos_eos(&p->sub[i], bos, eos);
    int seen_a = 0;
    for (size_t i = 0; i < p->nitems; i++) {
        const tok_tmpl_item *it = &p->items[i];
        if (it->is_seq)
            seen_a = 1;
        else if (it->nids && !seen_a)
            *bos = it->ids[it->nids - 1];
        else if (it->nids && seen_a && *eos < 0)
            *eos = it->ids[0];
    }
}
