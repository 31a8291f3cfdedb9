/* tokenizer_utf8.c: UTF-8 decoding and repair, the few Unicode classes the
 * tokenizer needs (via utf8proc), GPT-2's byte-level table, and the small
 * growable arrays of tokenizer_internal.h. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer_internal.h"

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *n = realloc(p, c * elem);
    if (!n)
        abort();
    *cap = c;
    return n;
}

void tok_ids_push(tok_ids *a, int32_t id)
{
    a->v = grow(a->v, &a->cap, a->n + 1, sizeof *a->v);
    a->v[a->n++] = id;
}

void tok_spans_push(tok_spans *a, size_t start, size_t end)
{
    a->v = grow(a->v, &a->cap, a->n + 1, sizeof *a->v);
    a->v[a->n].start = start;
    a->v[a->n].end = end;
    a->n++;
}

void tok_pieces_begin(tok_pieces *p, int at_start)
{
    p->v = grow(p->v, &p->cap, p->n + 1, sizeof *p->v);
    p->v[p->n].off = p->buf.len;
    p->v[p->n].len = 0;
    p->v[p->n].at_start = at_start;
    p->n++;
}

void tok_pieces_end(tok_pieces *p)
{
    tok_piece *pc = &p->v[p->n - 1];
    pc->len = p->buf.len - pc->off;
    if (pc->len == 0)
        p->n--;
}

void tok_pieces_add(tok_pieces *p, const char *s, size_t len, int at_start)
{
    if (len == 0)
        return;
    tok_pieces_begin(p, at_start);
    tok_sb_putn(&p->buf, s, len);
    tok_pieces_end(p);
}

void tok_pieces_add_any(tok_pieces *p, const char *s, size_t len)
{
    p->v = grow(p->v, &p->cap, p->n + 1, sizeof *p->v);
    p->v[p->n].off = p->buf.len;
    p->v[p->n].len = len;
    p->v[p->n].at_start = 0;
    p->n++;
    tok_sb_putn(&p->buf, s, len);
}

void tok_pieces_clear(tok_pieces *p)
{
    p->n = 0;
    p->buf.len = 0;
}

void tok_pieces_free(tok_pieces *p)
{
    mgc_sb_free(&p->buf);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* ---- UTF-8 ----------------------------------------------------------------- */

size_t tok_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return need + 1;
}

size_t tok_utf8_len(const char *s, size_t n)
{
    uint32_t cp;
    size_t bad, k = tok_utf8_decode((const unsigned char *)s, n, &cp, &bad);
    return k ? k : 1;
}

size_t tok_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

void tok_sb_put_cp(mgc_strbuf *b, uint32_t cp)
{
    char u[4];
    tok_sb_putn(b, u, tok_utf8_encode(cp, u));
}

void tok_utf8_repair(const char *s, size_t n, mgc_strbuf *out)
{
    if (n == 0)
        return; /* s may be NULL (an empty buffer): no pointer arithmetic on it */
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: start of the pending valid bytes */
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t bad, k = tok_utf8_decode(u + i, n - i, &cp, &bad);
        if (k) {
            i += k;
            continue;
        }
        tok_sb_putn(out, s + run, i - run);
        tok_sb_putn(out, "\xEF\xBF\xBD", 3);
        i += bad;
        run = i;
    }
    tok_sb_putn(out, s + run, n - run);
}

int tok_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t bad, k = tok_utf8_decode(u + i, n - i, &cp, &bad);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* ---- Unicode classes --------------------------------------------------------- */

int tok_is_white_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

int tok_is_word(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    if (cp == 0x200C || cp == 0x200D || (cp >= 0x24B6 && cp <= 0x24E9))
        return 1;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
        return 1;
    default:
        return 0;
    }
}

int tok_is_numeric(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= '0' && cp <= '9';
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

/* ---- GPT-2 byte-level table ---------------------------------------------------
 * Bytes that are printable Latin-1 ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to
 * themselves; the other 68 map, in byte order, to U+0100 onwards. */

uint32_t tok_byte_to_cp(unsigned char b)
{
    if (b <= 0x20)
        return 0x100 + b;
    if (b >= 0x7F && b <= 0xA0)
        return 0x121 + (b - 0x7F);
    if (b == 0xAD)
        return 0x143;
    return b;
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) ? -1 : (int)cp;
    if (cp <= 0x120)
        return (int)(cp - 0x100);
    if (cp <= 0x142)
        return (int)(cp - 0x121 + 0x7F);
    if (cp == 0x143)
        return 0xAD;
    return -1;
}
