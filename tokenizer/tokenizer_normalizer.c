/* tokenizer_normalizer.c: the "normalizer" of tokenizer.json.
 * Sequence, Prepend (only to non-empty text, as HF), Replace, the four Unicode
 * normalization forms (utf8proc) and Strip (White_Space at either end). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer_internal.h"

int tok_normalizer_load(tok_normalizer *n, json_object *o, const char *path, mgc_error *e)
{
    memset(n, 0, sizeof *n);
    const char *type;
    if (tok_json_type(o, path, &type, e) != 0)
        return -1;
    char sub[512];
    if (strcmp(type, "Sequence") == 0) {
        n->type = TOK_NORM_SEQUENCE;
        json_object *arr;
        size_t cnt;
        if (tok_json_array(o, "normalizers", path, &arr, &cnt, e) != 0)
            return -1;
        n->sub = calloc(cnt ? cnt : 1, sizeof *n->sub);
        if (!n->sub)
            abort();
        for (size_t i = 0; i < cnt; i++) {
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", path, i);
            n->nsub = i + 1;
            if (tok_normalizer_load(&n->sub[i], json_object_array_get_idx(arr, i), sub, e) != 0)
                return -1;
        }
        return 0;
    }
    const char *s;
    size_t len;
    if (strcmp(type, "Prepend") == 0) {
        n->type = TOK_NORM_PREPEND;
        if (tok_json_string(o, "prepend", path, 1, &s, &len, e) != 0)
            return -1;
        n->str = tok_strndup(s, len);
        n->str_len = len;
        return 0;
    }
    if (strcmp(type, "Replace") == 0) {
        n->type = TOK_NORM_REPLACE;
        if (tok_json_string(o, "content", path, 1, &s, &len, e) != 0)
            return -1;
        n->str = tok_strndup(s, len);
        n->str_len = len;
        return tok_json_pattern(o, path, &n->pat, e);
    }
    if (strcmp(type, "NFC") == 0 || strcmp(type, "NFD") == 0 || strcmp(type, "NFKC") == 0 ||
        strcmp(type, "NFKD") == 0) {
        n->type = strcmp(type, "NFC") == 0    ? TOK_NORM_NFC
                  : strcmp(type, "NFD") == 0  ? TOK_NORM_NFD
                  : strcmp(type, "NFKC") == 0 ? TOK_NORM_NFKC
                                              : TOK_NORM_NFKD;
        return 0;
    }
    if (strcmp(type, "Strip") == 0) {
        n->type = TOK_NORM_STRIP;
        return tok_json_bool(o, "strip_left", path, 1, &n->strip_left, e) ||
                       tok_json_bool(o, "strip_right", path, 1, &n->strip_right, e)
                   ? -1
                   : 0;
    }
    snprintf(sub, sizeof sub, "%s.type", path);
    return tok_unsupported(e, "normalizer", type, sub);
}

void tok_normalizer_free(tok_normalizer *n)
{
    for (size_t i = 0; i < n->nsub; i++)
        tok_normalizer_free(&n->sub[i]);
    free(n->sub);
    free(n->str);
    tok_pattern_free(&n->pat);
    memset(n, 0, sizeof *n);
}

static int unicode_form(int type, const char *s, size_t len, mgc_strbuf *out, mgc_error *e)
{
    if (len == 0)
        return 0;
    int opt = UTF8PROC_STABLE;
    switch (type) {
    case TOK_NORM_NFC: opt |= UTF8PROC_COMPOSE; break;
    case TOK_NORM_NFD: opt |= UTF8PROC_DECOMPOSE; break;
    case TOK_NORM_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, (utf8proc_option_t)opt);
    if (n < 0)
        return mgc_errorf(e, "Unicode normalization failed: %s", utf8proc_errmsg(n));
    tok_sb_putn(out, (const char *)dst, (size_t)n);
    free(dst);
    return 0;
}

static void strip(const char *s, size_t len, int left, int right, mgc_strbuf *out)
{
    size_t a = 0, b = len;
    uint32_t cp;
    size_t bad, k;
    while (left && a < b && (k = tok_utf8_decode((const unsigned char *)s + a, b - a, &cp, &bad)) &&
           tok_is_white_space(cp))
        a += k;
    while (right && b > a) {
        size_t st = b - 1;
        while (st > a && ((unsigned char)s[st] & 0xC0) == 0x80)
            st--;
        if (!tok_utf8_decode((const unsigned char *)s + st, b - st, &cp, &bad) || !tok_is_white_space(cp))
            break;
        b = st;
    }
    tok_sb_putn(out, s + a, b - a);
}

int tok_normalize(const tok_normalizer *n, tok_scratch *sc, const char *s, size_t len, mgc_strbuf *out,
                  mgc_error *e)
{
    out->len = 0;
    if (len == 0) /* every normalizer leaves empty text empty (Prepend included) */
        return 0;
    switch (n->type) {
    case TOK_NORM_SEQUENCE: {
        mgc_strbuf a = {0}, b = {0};
        tok_sb_putn(&a, s, len);
        for (size_t i = 0; i < n->nsub; i++) {
            if (tok_normalize(&n->sub[i], sc, a.s, a.len, &b, e) != 0) {
                mgc_sb_free(&a);
                mgc_sb_free(&b);
                return -1;
            }
            mgc_strbuf t = a;
            a = b;
            b = t;
        }
        tok_sb_putn(out, a.s, a.len);
        mgc_sb_free(&a);
        mgc_sb_free(&b);
        return 0;
    }
    case TOK_NORM_PREPEND:
        if (len)
            tok_sb_putn(out, n->str, n->str_len);
        tok_sb_putn(out, s, len);
        return 0;
    case TOK_NORM_REPLACE:
        return tok_pattern_replace(&n->pat, sc, s, len, n->str, n->str_len, out, e);
    case TOK_NORM_STRIP:
        strip(s, len, n->strip_left, n->strip_right, out);
        return 0;
    default:
        return unicode_form(n->type, s, len, out, e);
    }
}
