/* tokenizer_decoder.c: the "decoder" of tokenizer.json and tok_decode.
 * Each decoder maps a list of token strings to a list of strings (HF's
 * Decoder::decode_chain); the result is their concatenation.  Without a
 * decoder the tokens are joined with spaces, as HF does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

static int load_scheme(json_object *o, const char *path, int *scheme, uint32_t *repl, mgc_error *e)
{
    const char *r, *s;
    size_t rn;
    int aps = -1;
    if (tok_json_string(o, "replacement", path, 0, &r, &rn, e) != 0 ||
        tok_json_string(o, "prepend_scheme", path, 0, &s, NULL, e) != 0 ||
        tok_json_bool(o, "add_prefix_space", path, -1, &aps, e) != 0)
        return -1;
    *repl = 0x2581;
    if (r) {
        size_t bad;
        if (rn == 0 || tok_utf8_decode((const unsigned char *)r, rn, repl, &bad) != rn)
            return mgc_errorf(e, "%s.replacement: expected one character", path);
    }
    *scheme = TOK_PREPEND_ALWAYS;
    if (s && strcmp(s, "first") == 0)
        *scheme = TOK_PREPEND_FIRST;
    else if (s && strcmp(s, "never") == 0)
        *scheme = TOK_PREPEND_NEVER;
    else if (s && strcmp(s, "always") != 0) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s.prepend_scheme", path);
        return tok_unsupported(e, "Metaspace prepend_scheme", s, sub);
    }
    if (aps == 0)
        *scheme = TOK_PREPEND_NEVER;
    return 0;
}

int tok_decoder_load(tok_decoder *d, json_object *o, const char *path, mgc_error *e)
{
    memset(d, 0, sizeof *d);
    const char *type;
    char sub[512];
    if (tok_json_type(o, path, &type, e) != 0)
        return -1;
    if (strcmp(type, "Sequence") == 0) {
        d->type = TOK_DEC_SEQUENCE;
        json_object *arr;
        size_t n;
        if (tok_json_array(o, "decoders", path, &arr, &n, e) != 0)
            return -1;
        d->sub = calloc(n ? n : 1, sizeof *d->sub);
        if (!d->sub)
            abort();
        for (size_t i = 0; i < n; i++) {
            snprintf(sub, sizeof sub, "%s.decoders[%zu]", path, i);
            d->nsub = i + 1;
            if (tok_decoder_load(&d->sub[i], json_object_array_get_idx(arr, i), sub, e) != 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        d->type = TOK_DEC_BYTELEVEL;
        return 0;
    }
    if (strcmp(type, "Metaspace") == 0) {
        d->type = TOK_DEC_METASPACE;
        return load_scheme(o, path, &d->prepend_scheme, &d->repl_cp, e);
    }
    if (strcmp(type, "ByteFallback") == 0) {
        d->type = TOK_DEC_BYTEFALLBACK;
        return 0;
    }
    if (strcmp(type, "Fuse") == 0) {
        d->type = TOK_DEC_FUSE;
        return 0;
    }
    const char *s;
    size_t n;
    if (strcmp(type, "Replace") == 0) {
        d->type = TOK_DEC_REPLACE;
        if (tok_json_string(o, "content", path, 1, &s, &n, e) != 0)
            return -1;
        d->content = tok_strndup(s, n);
        d->content_len = n;
        return tok_json_pattern(o, path, &d->pat, e);
    }
    if (strcmp(type, "Strip") == 0) {
        d->type = TOK_DEC_STRIP;
        size_t bad;
        if (tok_json_string(o, "content", path, 1, &s, &n, e) != 0 ||
            tok_json_int(o, "start", path, 0, &d->strip_start, e) != 0 ||
            tok_json_int(o, "stop", path, 0, &d->strip_stop, e) != 0)
            return -1;
        if (n == 0 || tok_utf8_decode((const unsigned char *)s, n, &d->strip_cp, &bad) != n)
            return mgc_errorf(e, "%s.content: expected one character", path);
        return 0;
    }
    snprintf(sub, sizeof sub, "%s.type", path);
    return tok_unsupported(e, "decoder", type, sub);
}

void tok_decoder_free(tok_decoder *d)
{
    for (size_t i = 0; i < d->nsub; i++)
        tok_decoder_free(&d->sub[i]);
    free(d->sub);
    free(d->content);
    tok_pattern_free(&d->pat);
    memset(d, 0, sizeof *d);
}

/* ---- the decoders --------------------------------------------------------- */

/* "<0xAB>" -> 0xAB, else -1 */
static int byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static void flush_bytes(mgc_strbuf *bytes, tok_pieces *out)
{
    if (!bytes->len)
        return;
    if (tok_utf8_valid(bytes->s, bytes->len))
        tok_pieces_add_any(out, bytes->s, bytes->len);
    else /* HF: one U+FFFD per byte when the run is not valid UTF-8 */
        for (size_t i = 0; i < bytes->len; i++)
            tok_pieces_add_any(out, "\xEF\xBF\xBD", 3);
    bytes->len = 0;
}

static int apply(const tok_decoder *d, tok_scratch *sc, tok_pieces *in, tok_pieces *out, mgc_error *e);

static int apply_one(const tok_decoder *d, tok_scratch *sc, tok_pieces *in, tok_pieces *out, mgc_error *e)
{
    mgc_strbuf t = {0};
    int rc = 0;
    switch (d->type) {
    case TOK_DEC_BYTELEVEL: {
        mgc_strbuf bytes = {0};
        for (size_t i = 0; i < in->n; i++) {
            const char *s = tok_piece_str(in, i);
            size_t n = in->v[i].len, mark = bytes.len;
            int ok = 1;
            for (size_t j = 0; j < n && ok;) {
                uint32_t cp;
                size_t bad, k = tok_utf8_decode((const unsigned char *)s + j, n - j, &cp, &bad);
                int b = k ? tok_cp_to_byte(cp) : -1;
                if (b < 0)
                    ok = 0;
                else
                    mgc_sb_putc(&bytes, (char)b);
                j += k;
            }
            if (!ok) { /* a char outside the table: the token's own bytes */
                bytes.len = mark;
                tok_sb_putn(&bytes, s, n);
            }
        }
        tok_utf8_repair(bytes.s, bytes.len, &t);
        tok_pieces_add_any(out, t.s, t.len);
        mgc_sb_free(&bytes);
        break;
    }
    case TOK_DEC_METASPACE:
        for (size_t i = 0; i < in->n; i++) {
            const char *s = tok_piece_str(in, i);
            size_t n = in->v[i].len;
            t.len = 0;
            for (size_t j = 0; j < n;) {
                uint32_t cp;
                size_t bad, k = tok_utf8_decode((const unsigned char *)s + j, n - j, &cp, &bad);
                if (k && cp == d->repl_cp) {
                    if (!(i == 0 && d->prepend_scheme != TOK_PREPEND_NEVER))
                        mgc_sb_putc(&t, ' ');
                } else {
                    tok_sb_putn(&t, s + j, k ? k : bad);
                }
                j += k ? k : bad;
            }
            tok_pieces_add_any(out, t.s, t.len);
        }
        break;
    case TOK_DEC_REPLACE:
        for (size_t i = 0; i < in->n && rc == 0; i++) {
            t.len = 0;
            rc = tok_pattern_replace(&d->pat, sc, tok_piece_str(in, i), in->v[i].len, d->content, d->content_len,
                                     &t, e);
            tok_pieces_add_any(out, t.s, t.len);
        }
        break;
    case TOK_DEC_BYTEFALLBACK:
        for (size_t i = 0; i < in->n; i++) {
            int b = byte_token(tok_piece_str(in, i), in->v[i].len);
            if (b >= 0) {
                mgc_sb_putc(&t, (char)b);
                continue;
            }
            flush_bytes(&t, out);
            tok_pieces_add_any(out, tok_piece_str(in, i), in->v[i].len);
        }
        flush_bytes(&t, out);
        break;
    case TOK_DEC_FUSE:
        for (size_t i = 0; i < in->n; i++)
            tok_sb_putn(&t, tok_piece_str(in, i), in->v[i].len);
        tok_pieces_add_any(out, t.s, t.len);
        break;
    case TOK_DEC_STRIP:
        for (size_t i = 0; i < in->n; i++) {
            const char *s = tok_piece_str(in, i);
            size_t n = in->v[i].len;
            /* HF cuts whole chars: up to `start` leading and `stop` trailing copies of content */
            size_t a = 0, b = n;
            uint32_t cp;
            size_t bad, k;
            for (int64_t c = 0; c < d->strip_start && a < b; c++) {
                k = tok_utf8_decode((const unsigned char *)s + a, b - a, &cp, &bad);
                if (!k || cp != d->strip_cp)
                    break;
                a += k;
            }
            for (int64_t c = 0; c < d->strip_stop && b > a; c++) {
                size_t st = b - 1;
                while (st > a && ((unsigned char)s[st] & 0xC0) == 0x80)
                    st--;
                k = tok_utf8_decode((const unsigned char *)s + st, b - st, &cp, &bad);
                if (!k || cp != d->strip_cp)
                    break;
                b = st;
            }
            tok_pieces_add_any(out, s + a, b - a);
        }
        break;
    default:
        rc = apply(d, sc, in, out, e);
        break;
    }
    mgc_sb_free(&t);
    return rc;
}

/* Applies d to *in; the result ends up in *in (*out is scratch). */
static int apply(const tok_decoder *d, tok_scratch *sc, tok_pieces *in, tok_pieces *out, mgc_error *e)
{
    if (d->type == TOK_DEC_SEQUENCE) {
        for (size_t i = 0; i < d->nsub; i++)
            if (apply(&d->sub[i], sc, in, out, e) != 0)
                return -1;
        return 0;
    }
    tok_pieces_clear(out);
    if (apply_one(d, sc, in, out, e) != 0)
        return -1;
    tok_pieces t = *in;
    *in = *out;
    *out = t;
    return 0;
}

int tok_decode(const tokenizer *t, const int32_t *ids, size_t n, int skip_special_tokens, char **text,
                  size_t *len, mgc_error *e)
{
    *text = NULL;
    tok_pieces toks = {0}, tmp = {0};
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || (size_t)id >= t->nid || !t->id_tok[id]) {
            tok_pieces_free(&toks);
            return mgc_errorf(e, "token id %ld is not in the vocabulary (ids go up to %zu)", (long)id,
                              t->nid ? t->nid - 1 : 0);
        }
        if (skip_special_tokens && t->id_special[id])
            continue;
        tok_pieces_add_any(&toks, t->id_tok[id], t->id_len[id]);
    }
    mgc_strbuf out = {0};
    int rc = 0;
    tok_scratch sc;
    tok_scratch_init(&sc);
    if (t->decoder) {
        rc = apply(t->decoder, &sc, &toks, &tmp, e);
        for (size_t i = 0; rc == 0 && i < toks.n; i++)
            tok_sb_putn(&out, tok_piece_str(&toks, i), toks.v[i].len);
    } else {
        for (size_t i = 0; i < toks.n; i++) {
            if (i)
                mgc_sb_putc(&out, ' ');
            tok_sb_putn(&out, tok_piece_str(&toks, i), toks.v[i].len);
        }
    }
    tok_scratch_free(&sc);
    tok_pieces_free(&toks);
    tok_pieces_free(&tmp);
    if (rc != 0) {
        mgc_sb_free(&out);
        return -1;
    }
    if (!tok_utf8_valid(out.s, out.len)) {
        mgc_strbuf fixed = {0};
        tok_utf8_repair(out.s, out.len, &fixed);
        mgc_sb_free(&out);
        out = fixed;
    }
    if (len)
        *len = out.len;
    *text = out.s ? out.s : tok_strndup("", 0);
    return 0;
}
