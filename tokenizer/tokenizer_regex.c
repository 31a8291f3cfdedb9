/* tokenizer_regex.c: PCRE2 for the regexes of tokenizer.json files, and the
 * String/Regex patterns of Split, Replace and friends.
 *
 * HF `tokenizers` compiles these patterns with Oniguruma (or Rust `regex`).
 * PCRE2 in UTF + UCP mode agrees on \p{..}, (?i:..), look-ahead and the
 * backtracking order of alternations; where it does not, the pattern is
 * rewritten before compiling:
 *   \s, \S  -> \p{White_Space}, \P{White_Space}  (PCRE2's \s adds U+180E)
 *   \w, \W  -> letters, marks, Nd, Nl, Pc, ZWNJ/ZWJ (PCRE2 10.42's \w has no marks)
 *   \h, \H  -> hex digits (Oniguruma's meaning; PCRE2's is horizontal space)
 * and ^ $ match at line boundaries (PCRE2_MULTILINE), as in Oniguruma's Ruby
 * syntax, which HF uses. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define WORD_CLASS "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}\\x{200C}\\x{200D}"

static void translate(const char *p, size_t n, mgc_strbuf *out)
{
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            const char *rep = NULL;
            switch (d) {
            case 's': rep = "\\p{White_Space}"; break;
            case 'S': rep = "\\P{White_Space}"; break;
            case 'w': rep = in_class ? WORD_CLASS : "[" WORD_CLASS "]"; break;
            case 'W': rep = in_class ? NULL : "[^" WORD_CLASS "]"; break;
            case 'h': rep = in_class ? "0-9a-fA-F" : "[0-9a-fA-F]"; break;
            case 'H': rep = in_class ? NULL : "[^0-9a-fA-F]"; break;
            default: break;
            }
            if (rep) {
                mgc_sb_puts(out, rep);
                i++;
                continue;
            }
            /* copy the escape and the whole (UTF-8) character it escapes */
            size_t k = tok_utf8_len(p + i + 1, n - i - 1);
            tok_sb_putn(out, p + i, 1 + k);
            i += k;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            mgc_sb_putc(out, c);
            if (i + 1 < n && p[i + 1] == '^')
                mgc_sb_putc(out, p[++i]);
            if (i + 1 < n && p[i + 1] == ']') /* a leading ']' is literal */
                mgc_sb_putc(out, p[++i]);
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') { /* [:alpha:] */
            const char *end = NULL;
            for (size_t j = i + 2; j + 1 < n; j++)
                if (p[j] == ':' && p[j + 1] == ']') {
                    end = p + j + 2;
                    break;
                }
            if (end) {
                tok_sb_putn(out, p + i, (size_t)(end - (p + i)));
                i = (size_t)(end - p) - 1;
                continue;
            }
        }
        if (in_class && c == ']')
            in_class = 0;
        mgc_sb_putc(out, c);
    }
}

int tok_regex_compile(tok_regex *rx, const char *pat, size_t len, mgc_error *e)
{
    memset(rx, 0, sizeof *rx);
    mgc_strbuf t = {0};
    translate(pat, len, &t);
    int code;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE;
    rx->code = pcre2_compile((PCRE2_SPTR)(t.s ? t.s : ""), t.len, opts, &code, &off, NULL);
    mgc_sb_free(&t);
    if (!rx->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return mgc_errorf(e, "invalid regex /%.*s/: %s", (int)(len > 200 ? 200 : len), pat, (const char *)msg);
    }
    rx->jit = pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

void tok_regex_free(tok_regex *rx)
{
    if (rx->code)
        pcre2_code_free(rx->code);
    rx->code = NULL;
}

void tok_scratch_init(tok_scratch *sc) { memset(sc, 0, sizeof *sc); }

void tok_scratch_free(tok_scratch *sc)
{
    if (sc->md)
        pcre2_match_data_free(sc->md);
    if (sc->mc)
        pcre2_match_context_free(sc->mc);
    if (sc->js)
        pcre2_jit_stack_free(sc->js);
    free(sc->sym);
    free(sc->heap);
    free(sc->spans.v);
    tok_vocab_free(&sc->cache);
    free(sc->cache_at);
    free(sc->cache_ids.v);
    memset(sc, 0, sizeof *sc);
}

int tok_regex_find_all(const tok_regex *rx, tok_scratch *sc, const char *s, size_t n, tok_spans *out,
                       mgc_error *e)
{
    if (!sc->md) {
        sc->md = pcre2_match_data_create(16, NULL);
        sc->mc = pcre2_match_context_create(NULL);
        if (!sc->md || !sc->mc)
            return mgc_errorf(e, "out of memory for regex matching");
    }
    PCRE2_SPTR subj = (PCRE2_SPTR)(s ? s : "");
    size_t start = 0;
    while (start <= n) {
        int rc = pcre2_match(rx->code, subj, n, start, PCRE2_NO_UTF_CHECK, sc->md, sc->mc);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !sc->js) {
            /* the default 32 KiB JIT stack is too small: give it a real one */
            sc->js = pcre2_jit_stack_create(256 * 1024, 64 * 1024 * 1024, NULL);
            if (!sc->js)
                return mgc_errorf(e, "out of memory for regex matching");
            pcre2_jit_stack_assign(sc->mc, NULL, sc->js);
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return mgc_errorf(e, "regex matching failed: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        size_t ms = ov[0], me = ov[1];
        tok_spans_push(out, ms, me);
        if (me > ms)
            start = me;
        else if (me >= n)
            break;
        else /* an empty match: look again one character further */
            start = me + tok_utf8_len(s + me, n - me);
    }
    return 0;
}

int tok_pattern_find_all(const tok_pattern *p, tok_scratch *sc, const char *s, size_t n, tok_spans *out,
                         mgc_error *e)
{
    if (p->is_regex)
        return tok_regex_find_all(&p->rx, sc, s, n, out, e);
    if (p->lit_len == 0)
        return 0;
    size_t i = 0;
    while (i + p->lit_len <= n) {
        const char *f = memmem(s + i, n - i, p->lit, p->lit_len);
        if (!f)
            break;
        size_t at = (size_t)(f - s);
        tok_spans_push(out, at, at + p->lit_len);
        i = at + p->lit_len;
    }
    return 0;
}

int tok_pattern_replace(const tok_pattern *p, tok_scratch *sc, const char *s, size_t n, const char *with,
                        size_t with_len, mgc_strbuf *out, mgc_error *e)
{
    tok_spans m = {0};
    if (tok_pattern_find_all(p, sc, s, n, &m, e) != 0) {
        free(m.v);
        return -1;
    }
    size_t prev = 0;
    for (size_t i = 0; i < m.n; i++) {
        tok_sb_putn(out, s + prev, m.v[i].start - prev);
        tok_sb_putn(out, with, with_len);
        prev = m.v[i].end;
    }
    tok_sb_putn(out, s + prev, n - prev);
    free(m.v);
    return 0;
}

void tok_pattern_free(tok_pattern *p)
{
    free(p->lit);
    tok_regex_free(&p->rx);
    memset(p, 0, sizeof *p);
}
