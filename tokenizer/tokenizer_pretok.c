/* tokenizer_pretok.c: the "pre_tokenizer" of tokenizer.json: Sequence,
 * Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit.
 *
 * Splitting follows HF's NormalizedString::split: the pattern's matches and
 * the gaps between them cover the text, `invert` swaps the two, the behavior
 * (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous) folds
 * them into pieces, and empty pieces are dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* GPT-2's pre-tokenization regex (ByteLevel with use_regex). */
static const char GPT2_RE[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

int tok_pretok_load(tok_pretok *p, json_object *o, const char *path, mgc_error *e)
{
    memset(p, 0, sizeof *p);
    const char *type;
    if (tok_json_type(o, path, &type, e) != 0)
        return -1;
    char sub[512];
    if (strcmp(type, "Sequence") == 0) {
        p->type = TOK_PT_SEQUENCE;
        json_object *arr;
        size_t cnt;
        if (tok_json_array(o, "pretokenizers", path, &arr, &cnt, e) != 0)
            return -1;
        p->sub = calloc(cnt ? cnt : 1, sizeof *p->sub);
        if (!p->sub)
            abort();
        for (size_t i = 0; i < cnt; i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", path, i);
            p->nsub = i + 1;
            if (tok_pretok_load(&p->sub[i], json_object_array_get_idx(arr, i), sub, e) != 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "Split") == 0) {
        p->type = TOK_PT_SPLIT;
        const char *b;
        if (tok_json_pattern(o, path, &p->pat, e) != 0 || tok_json_bool(o, "invert", path, 0, &p->invert, e) != 0 ||
            tok_json_string(o, "behavior", path, 1, &b, NULL, e) != 0)
            return -1;
        static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
        for (int i = 0; i < 5; i++)
            if (strcmp(b, names[i]) == 0) {
                p->behavior = i;
                return 0;
            }
        snprintf(sub, sizeof sub, "%s.behavior", path);
        return tok_unsupported(e, "Split behavior", b, sub);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        p->type = TOK_PT_BYTELEVEL;
        if (tok_json_bool(o, "add_prefix_space", path, 1, &p->add_prefix_space, e) != 0 ||
            tok_json_bool(o, "use_regex", path, 1, &p->use_regex, e) != 0)
            return -1;
        if (p->use_regex) {
            p->pat.is_regex = 1;
            if (tok_regex_compile(&p->pat.rx, GPT2_RE, strlen(GPT2_RE), e) != 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "Metaspace") == 0) {
        p->type = TOK_PT_METASPACE;
        const char *r, *scheme;
        size_t rn;
        int aps = -1;
        if (tok_json_string(o, "replacement", path, 0, &r, &rn, e) != 0 ||
            tok_json_string(o, "prepend_scheme", path, 0, &scheme, NULL, e) != 0 ||
            tok_json_bool(o, "add_prefix_space", path, -1, &aps, e) != 0 ||
            tok_json_bool(o, "split", path, 1, &p->split, e) != 0)
            return -1;
        if (!r) {
            r = "\xE2\x96\x81"; /* U+2581 */
            rn = 3;
        }
        if (rn == 0 || rn > 4 || tok_utf8_len(r, rn) != rn || !tok_utf8_valid(r, rn))
            return mgc_errorf(e, "%s.replacement: expected one character", path);
        memcpy(p->repl, r, rn);
        p->repl_len = rn;
        p->prepend_scheme = TOK_PREPEND_ALWAYS;
        if (scheme) {
            if (strcmp(scheme, "always") == 0)
                p->prepend_scheme = TOK_PREPEND_ALWAYS;
            else if (strcmp(scheme, "first") == 0)
                p->prepend_scheme = TOK_PREPEND_FIRST;
            else if (strcmp(scheme, "never") == 0)
                p->prepend_scheme = TOK_PREPEND_NEVER;
            else {
                snprintf(sub, sizeof sub, "%s.prepend_scheme", path);
                return tok_unsupported(e, "Metaspace prepend_scheme", scheme, sub);
            }
        }
        if (aps == 0) /* the legacy add_prefix_space: false */
            p->prepend_scheme = TOK_PREPEND_NEVER;
        return 0;
    }
    if (strcmp(type, "Digits") == 0) {
        p->type = TOK_PT_DIGITS;
        return tok_json_bool(o, "individual_digits", path, 0, &p->individual_digits, e);
    }
    if (strcmp(type, "Whitespace") == 0) {
        p->type = TOK_PT_WHITESPACE;
        p->pat.is_regex = 1;
        static const char WS_RE[] = "\\w+|[^\\w\\s]+";
        return tok_regex_compile(&p->pat.rx, WS_RE, strlen(WS_RE), e);
    }
    if (strcmp(type, "WhitespaceSplit") == 0) {
        p->type = TOK_PT_WHITESPACE_SPLIT;
        return 0;
    }
    snprintf(sub, sizeof sub, "%s.type", path);
    return tok_unsupported(e, "pre_tokenizer", type, sub);
}

void tok_pretok_free(tok_pretok *p)
{
    for (size_t i = 0; i < p->nsub; i++)
        tok_pretok_free(&p->sub[i]);
    free(p->sub);
    tok_pattern_free(&p->pat);
    memset(p, 0, sizeof *p);
}

/* ---- splitting --------------------------------------------------------------- */

typedef struct seg {
    size_t start, end;
    int match;
} seg;

typedef struct segs {
    seg *v;
    size_t n, cap;
} segs;

static void seg_push(segs *a, size_t s, size_t e, int m)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        if (!a->v)
            abort();
    }
    a->v[a->n].start = s;
    a->v[a->n].end = e;
    a->v[a->n].match = m;
    a->n++;
}

/* Splits s[0..n) at the matches m (sorted, non-overlapping) and appends the
 * pieces to out.  A piece is at the input's start when the text was and the
 * piece begins at offset 0. */
static void split_at(const char *s, size_t n, int at_start, const tok_spans *m, int invert, int behavior,
                     tok_pieces *out)
{
    segs a = {0}, b = {0};
    size_t prev = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].start > prev)
            seg_push(&a, prev, m->v[i].start, 0);
        seg_push(&a, m->v[i].start, m->v[i].end, 1);
        prev = m->v[i].end;
    }
    if (prev < n)
        seg_push(&a, prev, n, 0);
    if (invert)
        for (size_t i = 0; i < a.n; i++)
            a.v[i].match = !a.v[i].match;
    /* b: the pieces, .match meaning "remove" */
    int pm = 0;
    switch (behavior) {
    case TOK_SPLIT_REMOVED:
        b = a;
        a.v = NULL;
        break;
    case TOK_SPLIT_ISOLATED:
        for (size_t i = 0; i < a.n; i++)
            seg_push(&b, a.v[i].start, a.v[i].end, 0);
        break;
    case TOK_SPLIT_MERGED_PREV:
        for (size_t i = 0; i < a.n; i++) {
            if (a.v[i].match && !pm && b.n)
                b.v[b.n - 1].end = a.v[i].end;
            else
                seg_push(&b, a.v[i].start, a.v[i].end, 0);
            pm = a.v[i].match;
        }
        break;
    case TOK_SPLIT_MERGED_NEXT:
        for (size_t i = a.n; i-- > 0;) {
            if (a.v[i].match && !pm && b.n)
                b.v[b.n - 1].start = a.v[i].start;
            else
                seg_push(&b, a.v[i].start, a.v[i].end, 0);
            pm = a.v[i].match;
        }
        for (size_t i = 0; i < b.n / 2; i++) {
            seg t = b.v[i];
            b.v[i] = b.v[b.n - 1 - i];
            b.v[b.n - 1 - i] = t;
        }
        break;
    default: /* Contiguous */
        for (size_t i = 0; i < a.n; i++) {
            if (a.v[i].match == pm && b.n)
                b.v[b.n - 1].end = a.v[i].end;
            else
                seg_push(&b, a.v[i].start, a.v[i].end, 0);
            pm = a.v[i].match;
        }
        break;
    }
    for (size_t i = 0; i < b.n; i++)
        if (!b.v[i].match)
            tok_pieces_add(out, s + b.v[i].start, b.v[i].end - b.v[i].start, at_start && b.v[i].start == 0);
    free(a.v);
    free(b.v);
}

/* One match per character for which pred holds (HF's char-predicate pattern). */
static void char_matches(const char *s, size_t n, int (*pred)(uint32_t), tok_spans *m)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t bad, k = tok_utf8_decode((const unsigned char *)s + i, n - i, &cp, &bad);
        if (!k) {
            i += bad;
            continue;
        }
        if (pred(cp))
            tok_spans_push(m, i, i + k);
        i += k;
    }
}

static void byte_level_map(const char *s, size_t n, int at_start, tok_pieces *out)
{
    tok_pieces_begin(out, at_start);
    for (size_t i = 0; i < n; i++)
        tok_sb_put_cp(&out->buf, tok_byte_to_cp((unsigned char)s[i]));
    tok_pieces_end(out);
}

static int one(const tok_pretok *p, tok_scratch *sc, const char *s, size_t n, int at_start, tok_pieces *out,
               mgc_error *e)
{
    tok_spans *m = &sc->spans;
    m->n = 0;
    switch (p->type) {
    case TOK_PT_SPLIT:
        if (tok_pattern_find_all(&p->pat, sc, s, n, m, e) != 0)
            return -1;
        split_at(s, n, at_start, m, p->invert, p->behavior, out);
        return 0;
    case TOK_PT_WHITESPACE:
        if (tok_pattern_find_all(&p->pat, sc, s, n, m, e) != 0)
            return -1;
        split_at(s, n, at_start, m, 1, TOK_SPLIT_REMOVED, out);
        return 0;
    case TOK_PT_WHITESPACE_SPLIT:
        char_matches(s, n, tok_is_white_space, m);
        split_at(s, n, at_start, m, 0, TOK_SPLIT_REMOVED, out);
        return 0;
    case TOK_PT_DIGITS:
        char_matches(s, n, tok_is_numeric, m);
        split_at(s, n, at_start, m, 0, p->individual_digits ? TOK_SPLIT_ISOLATED : TOK_SPLIT_CONTIGUOUS, out);
        return 0;
    case TOK_PT_BYTELEVEL: {
        mgc_strbuf t = {0};
        if (p->add_prefix_space && s[0] != ' ')
            mgc_sb_putc(&t, ' ');
        tok_sb_putn(&t, s, n);
        if (!p->use_regex) {
            byte_level_map(t.s, t.len, at_start, out);
        } else {
            if (tok_regex_find_all(&p->pat.rx, sc, t.s, t.len, m, e) != 0) {
                mgc_sb_free(&t);
                return -1;
            }
            tok_pieces words = {0};
            split_at(t.s, t.len, at_start, m, 0, TOK_SPLIT_ISOLATED, &words);
            for (size_t i = 0; i < words.n; i++)
                byte_level_map(tok_piece_str(&words, i), words.v[i].len, words.v[i].at_start, out);
            tok_pieces_free(&words);
        }
        mgc_sb_free(&t);
        return 0;
    }
    case TOK_PT_METASPACE: {
        mgc_strbuf t = {0};
        int starts = 0;
        if (n >= p->repl_len && memcmp(s, p->repl, p->repl_len) == 0)
            starts = 1;
        if (n && s[0] == ' ') /* the space becomes the replacement */
            starts = 1;
        int prepend = p->prepend_scheme == TOK_PREPEND_ALWAYS || (p->prepend_scheme == TOK_PREPEND_FIRST && at_start);
        if (!starts && prepend)
            tok_sb_putn(&t, p->repl, p->repl_len);
        for (size_t i = 0; i < n; i++)
            if (s[i] == ' ')
                tok_sb_putn(&t, p->repl, p->repl_len);
            else
                mgc_sb_putc(&t, s[i]);
        if (!p->split) {
            tok_pieces_add(out, t.s, t.len, at_start);
        } else {
            tok_pattern lit = {.lit = (char *)p->repl, .lit_len = p->repl_len};
            tok_pattern_find_all(&lit, sc, t.s, t.len, m, e);
            split_at(t.s, t.len, at_start, m, 0, TOK_SPLIT_MERGED_NEXT, out);
        }
        mgc_sb_free(&t);
        return 0;
    }
    default:
        return mgc_errorf(e, "internal: bad pre-tokenizer");
    }
}

int tok_pretokenize(const tok_pretok *p, tok_scratch *sc, tok_pieces *cur, tok_pieces *tmp, mgc_error *e)
{
    if (p->type == TOK_PT_SEQUENCE) {
        for (size_t i = 0; i < p->nsub; i++)
            if (tok_pretokenize(&p->sub[i], sc, cur, tmp, e) != 0)
                return -1;
        return 0;
    }
    tok_pieces_clear(tmp);
    for (size_t i = 0; i < cur->n; i++)
        if (one(p, sc, tok_piece_str(cur, i), cur->v[i].len, cur->v[i].at_start, tmp, e) != 0)
            return -1;
    tok_pieces t = *cur;
    *cur = *tmp;
    *tmp = t;
    return 0;
}
