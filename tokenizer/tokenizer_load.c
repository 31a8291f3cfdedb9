/* tokenizer_load.c: tok_load and the lookups.  Reads tokenizer.json with
 * json-c, builds every component (refusing unsupported ones by name and JSON
 * path), the id -> token table over the model vocabulary and the added
 * tokens, and BOS / EOS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

static char *read_file(const char *path, size_t *len, mgc_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        mgc_errorf(e, "cannot open: %s", strerror(errno));
        return NULL;
    }
    mgc_strbuf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        mgc_sb_putn(&b, chunk, n);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        mgc_sb_free(&b);
        mgc_errorf(e, "cannot read: %s", strerror(err));
        return NULL;
    }
    *len = b.len;
    return b.s ? b.s : tok_strndup("", 0);
}

static json_object *parse_json(const char *path, mgc_error *e)
{
    size_t len;
    char *text = read_file(path, &len, e);
    if (!text)
        return NULL;
    json_tokener *tk = json_tokener_new_ex(64);
    if (!tk)
        abort();
    json_tokener_set_flags(tk, JSON_TOKENER_STRICT);
    json_object *o = len <= 0x7fffffff ? json_tokener_parse_ex(tk, text, (int)len) : NULL;
    enum json_tokener_error je = json_tokener_get_error(tk);
    size_t end = json_tokener_get_parse_end(tk);
    if (!o || je != json_tokener_success || end < len) {
        if (o && je == json_tokener_success) { /* only whitespace may follow */
            size_t k = end;
            while (k < len && (text[k] == ' ' || text[k] == '\n' || text[k] == '\r' || text[k] == '\t'))
                k++;
            if (k == len)
                goto ok;
            je = json_tokener_error_parse_unexpected;
        }
        if (je == json_tokener_continue)
            je = json_tokener_error_parse_eof;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < end && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        mgc_errorf(e, "invalid JSON at line %zu, column %zu: %s", line, col,
                   len == 0 ? "the file is empty" : json_tokener_error_desc(je));
        json_object_put(o);
        o = NULL;
    }
ok:
    json_tokener_free(tk);
    free(text);
    return o;
}

/* bos_token / eos_token of tokenizer_config.json: a string or {"content": ...} */
static int32_t config_token(const tokenizer *t, json_object *cfg, const char *key)
{
    json_object *v = tok_json_get(cfg, key);
    if (v && json_object_is_type(v, json_type_object))
        v = tok_json_get(v, "content");
    if (!v || !json_object_is_type(v, json_type_string))
        return -1;
    return tok_token_to_id(t, json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

static int load_bos_eos(tokenizer *t, mgc_error *e)
{
    t->bos = t->eos = -1;
    if (t->post)
        tok_post_bos_eos(t->post, &t->bos, &t->eos);
    const char *slash = strrchr(t->path, '/');
    size_t dir = slash ? (size_t)(slash - t->path) + 1 : 0;
    char *cfgpath = malloc(dir + sizeof "tokenizer_config.json");
    if (!cfgpath)
        abort();
    memcpy(cfgpath, t->path, dir);
    strcpy(cfgpath + dir, "tokenizer_config.json");
    FILE *f = fopen(cfgpath, "rb");
    if (!f) {
        free(cfgpath);
        return 0;
    }
    fclose(f);
    json_object *cfg = parse_json(cfgpath, e);
    if (!cfg) {
        mgc_error_prefix(e, "%s", cfgpath);
        free(cfgpath);
        return -1;
    }
    if (tok_json_get(cfg, "bos_token") || json_object_object_get_ex(cfg, "bos_token", NULL))
        t->bos = config_token(t, cfg, "bos_token");
    if (tok_json_get(cfg, "eos_token") || json_object_object_get_ex(cfg, "eos_token", NULL))
        t->eos = config_token(t, cfg, "eos_token");
    json_object_put(cfg);
    free(cfgpath);
    return 0;
}

static int build(tokenizer *t, json_object *root, mgc_error *e)
{
    if (!json_object_is_type(root, json_type_object))
        return mgc_errorf(e, "expected a JSON object at the top level");
    if (tok_json_get(root, "truncation"))
        return mgc_errorf(e, "unsupported truncation (at truncation): mgc never truncates");

    json_object *model = tok_json_get(root, "model");
    if (!model || !json_object_is_type(model, json_type_object))
        return mgc_errorf(e, "model: missing (not a tokenizer.json?)");
    json_object *mt = tok_json_get(model, "type");
    const char *mtype = mt && json_object_is_type(mt, json_type_string) ? json_object_get_string(mt) : NULL;
    if (!mtype && tok_json_get(model, "merges")) /* old files have no type: BPE has merges */
        mtype = "BPE";
    if (!mtype || strcmp(mtype, "BPE") != 0)
        return tok_unsupported(e, "model", mtype ? mtype : "(no type)", "model.type");
    if (tok_bpe_load(&t->bpe, model, e) != 0)
        return -1;

    json_object *o;
    if ((o = tok_json_get(root, "normalizer"))) {
        t->normalizer = calloc(1, sizeof *t->normalizer);
        if (!t->normalizer || tok_normalizer_load(t->normalizer, o, "normalizer", e) != 0)
            return -1;
    }
    if ((o = tok_json_get(root, "pre_tokenizer"))) {
        t->pretok = calloc(1, sizeof *t->pretok);
        if (!t->pretok || tok_pretok_load(t->pretok, o, "pre_tokenizer", e) != 0)
            return -1;
    }
    if ((o = tok_json_get(root, "post_processor"))) {
        t->post = calloc(1, sizeof *t->post);
        if (!t->post || tok_post_load(t->post, o, "post_processor", e) != 0)
            return -1;
    }
    if ((o = tok_json_get(root, "decoder"))) {
        t->decoder = calloc(1, sizeof *t->decoder);
        if (!t->decoder || tok_decoder_load(t->decoder, o, "decoder", e) != 0)
            return -1;
    }
    if (tok_added_load(t, tok_json_get(root, "added_tokens"), e) != 0)
        return -1;

    /* id -> token: the model's vocabulary, then the added tokens over it */
    const tok_vocab *v = &t->bpe.vocab;
    size_t nid = 0;
    for (size_t i = 0; i < v->n; i++)
        if ((size_t)v->id[i] + 1 > nid)
            nid = (size_t)v->id[i] + 1;
    for (size_t i = 0; i < t->nadded; i++)
        if ((size_t)t->added[i].id + 1 > nid)
            nid = (size_t)t->added[i].id + 1;
    if (nid > TOK_MAX_IDS)
        return mgc_errorf(e, "token ids go up to %zu: the limit is %d (ids below 2^24)", nid - 1,
                          TOK_MAX_IDS - 1);
    t->nid = nid;
    t->id_tok = calloc(nid ? nid : 1, sizeof *t->id_tok);
    t->id_len = calloc(nid ? nid : 1, sizeof *t->id_len);
    t->id_special = calloc(nid ? nid : 1, 1);
    if (!t->id_tok || !t->id_len || !t->id_special)
        abort();
    for (size_t i = 0; i < v->n; i++) {
        t->id_tok[v->id[i]] = v->pool + v->off[i];
        t->id_len[v->id[i]] = v->len[i];
    }
    for (size_t i = 0; i < t->nadded; i++) {
        const tok_added *a = &t->added[i];
        t->id_tok[a->id] = a->content;
        t->id_len[a->id] = (uint32_t)a->len;
        t->id_special[a->id] = (unsigned char)a->special;
    }
    /* a special token's content marks every id carrying it (HF skips by content) */
    for (size_t i = 0; i < t->nadded; i++)
        if (t->added[i].special) {
            int32_t mid = tok_vocab_get(v, t->added[i].content, t->added[i].len);
            if (mid >= 0)
                t->id_special[mid] = 1;
        }
    if (tok_added_build_sets(t, e) != 0)
        return -1;
    return load_bos_eos(t, e);
}

tokenizer *tok_load(const char *path, mgc_error *e)
{
    tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->path = tok_strndup(path, strlen(path));
    t->bos = t->eos = -1;
    json_object *root = parse_json(path, e);
    if (!root || build(t, root, e) != 0) {
        mgc_error_prefix(e, "%s", path);
        json_object_put(root);
        tok_free(t);
        return NULL;
    }
    json_object_put(root);
    return t;
}

void tok_free(tokenizer *t)
{
    if (!t)
        return;
    tok_bpe_free(&t->bpe);
    for (size_t i = 0; i < t->nadded; i++)
        free(t->added[i].content);
    free(t->added);
    tok_addset_free(&t->raw_set);
    tok_addset_free(&t->norm_set);
    if (t->normalizer)
        tok_normalizer_free(t->normalizer);
    if (t->pretok)
        tok_pretok_free(t->pretok);
    if (t->post)
        tok_post_free(t->post);
    if (t->decoder)
        tok_decoder_free(t->decoder);
    free(t->normalizer);
    free(t->pretok);
    free(t->post);
    free(t->decoder);
    free(t->id_tok);
    free(t->id_len);
    free(t->id_special);
    tok_vocab_free(&t->added_vocab);
    free(t->path);
    free(t);
}

int32_t tok_token_to_id(const tokenizer *t, const char *token, size_t len)
{
    int32_t id = tok_vocab_get(&t->added_vocab, token, len);
    return id >= 0 ? id : tok_vocab_get(&t->bpe.vocab, token, len);
}

const char *tok_id_to_token(const tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= t->nid || !t->id_tok[id])
        return NULL;
    if (len)
        *len = t->id_len[id];
    return t->id_tok[id];
}

int tok_is_special(const tokenizer *t, int32_t id)
{
    return id >= 0 && (size_t)id < t->nid && t->id_special[id];
}

size_t tok_vocab_size(const tokenizer *t) { return t->nid; }
int32_t tok_bos_id(const tokenizer *t) { return t->bos; }
int32_t tok_eos_id(const tokenizer *t) { return t->eos; }
