/* tokenizer_added.c: the "added_tokens" of tokenizer.json.
 *
 * As HF's AddedVocabulary: the input is first split on the tokens with
 * normalized: false (matched on the raw text), then each remaining piece is
 * normalized and split on the tokens with normalized: true (matched by their
 * normalized content).  Matching is leftmost-longest and non-overlapping;
 * single_word rejects a match touching a word character on either side;
 * lstrip / rstrip make the match swallow the whitespace before / after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

int tok_added_load(struct tokenizer *t, json_object *arr, mgc_error *e)
{
    if (!arr)
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return mgc_errorf(e, "added_tokens: expected an array");
    size_t n = json_object_array_length(arr);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added)
        abort();
    char path[64];
    int32_t max_id = -1;
    const int32_t vocab_n = (int32_t)t->bpe.vocab.n;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        snprintf(path, sizeof path, "added_tokens[%zu]", i);
        if (!o || !json_object_is_type(o, json_type_object))
            return mgc_errorf(e, "%s: expected an object", path);
        const char *content;
        size_t len;
        int64_t id;
        tok_added a = {0};
        if (tok_json_string(o, "content", path, 1, &content, &len, e) != 0 ||
            tok_json_int(o, "id", path, 0, &id, e) != 0 ||
            tok_json_bool(o, "special", path, 0, &a.special, e) != 0 ||
            tok_json_bool(o, "single_word", path, 0, &a.single_word, e) != 0 ||
            tok_json_bool(o, "lstrip", path, 0, &a.lstrip, e) != 0 ||
            tok_json_bool(o, "rstrip", path, 0, &a.rstrip, e) != 0 ||
            tok_json_bool(o, "normalized", path, !a.special, &a.normalized, e) != 0)
            return -1;
        if (id < 0 || id > INT32_MAX - 1)
            return mgc_errorf(e, "%s.id: expected an id in [0, 2^31-1)", path);
        if (len == 0) /* HF ignores empty added tokens */
            continue;
        /* HF re-adds the tokens in order and ignores the declared ids: a token
         * already in the vocabulary keeps that id, a new one goes after the
         * vocabulary and the tokens added so far.  (Real files declare exactly
         * these ids.)  A repeated content updates the earlier token. */
        int32_t prev = tok_vocab_get(&t->added_vocab, content, len);
        if (prev >= 0) {
            for (size_t k = 0; k < t->nadded; k++)
                if (t->added[k].id == prev) {
                    a.content = t->added[k].content;
                    a.len = t->added[k].len;
                    a.id = prev;
                    t->added[k] = a;
                }
            continue;
        }
        int32_t aid = tok_vocab_get(&t->bpe.vocab, content, len);
        if (aid < 0)
            aid = max_id < 0 ? vocab_n : (max_id >= vocab_n || vocab_n == 0) ? max_id + 1 : vocab_n;
        if (aid > max_id)
            max_id = aid;
        a.content = tok_strndup(content, len);
        a.len = len;
        a.id = aid;
        tok_vocab_put(&t->added_vocab, a.content, a.len, a.id);
        t->added[t->nadded++] = a;
    }
    return 0;
}

typedef struct pat_ref {
    char *pat;
    size_t len, tok;
} pat_ref;

static int by_first_byte(const void *x, const void *y)
{
    const pat_ref *a = x, *b = y;
    int ca = (unsigned char)a->pat[0], cb = (unsigned char)b->pat[0];
    if (ca != cb)
        return ca - cb;
    return a->tok < b->tok ? -1 : a->tok > b->tok; /* stable: the earlier token first */
}

static void build(tok_addset *set, pat_ref *refs, size_t n)
{
    qsort(refs, n, sizeof *refs, by_first_byte);
    set->n = n;
    set->pat = calloc(n ? n : 1, sizeof *set->pat);
    set->pat_len = calloc(n ? n : 1, sizeof *set->pat_len);
    set->tok = calloc(n ? n : 1, sizeof *set->tok);
    if (!set->pat || !set->pat_len || !set->tok)
        abort();
    for (size_t i = 0; i < n; i++) {
        set->pat[i] = refs[i].pat;
        set->pat_len[i] = refs[i].len;
        set->tok[i] = refs[i].tok;
    }
    size_t k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < n && (unsigned char)set->pat[k][0] < b)
            k++;
        set->first[b] = k;
    }
}

int tok_added_build_sets(struct tokenizer *t, mgc_error *e)
{
    pat_ref *raw = calloc(t->nadded ? t->nadded : 1, sizeof *raw);
    pat_ref *norm = calloc(t->nadded ? t->nadded : 1, sizeof *norm);
    if (!raw || !norm)
        abort();
    size_t nr = 0, nn = 0;
    mgc_strbuf b = {0};
    tok_scratch sc;
    tok_scratch_init(&sc);
    for (size_t i = 0; i < t->nadded; i++) {
        tok_added *a = &t->added[i];
        if (!a->normalized || !t->normalizer) {
            if (a->normalized) /* no normalizer: the content is its own normal form */
                norm[nn++] = (pat_ref){tok_strndup(a->content, a->len), a->len, i};
            else
                raw[nr++] = (pat_ref){tok_strndup(a->content, a->len), a->len, i};
            continue;
        }
        if (tok_normalize(t->normalizer, &sc, a->content, a->len, &b, e) != 0) {
            for (size_t k = 0; k < nn; k++)
                free(norm[k].pat);
            for (size_t k = 0; k < nr; k++)
                free(raw[k].pat);
            free(raw);
            free(norm);
            mgc_sb_free(&b);
            tok_scratch_free(&sc);
            return mgc_error_prefix(e, "added_tokens: normalizing \"%.100s\"", a->content);
        }
        if (b.len)
            norm[nn++] = (pat_ref){tok_strndup(b.s, b.len), b.len, i};
    }
    mgc_sb_free(&b);
    tok_scratch_free(&sc);
    build(&t->raw_set, raw, nr);
    build(&t->norm_set, norm, nn);
    free(raw);
    free(norm);
    return 0;
}

void tok_addset_free(tok_addset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->pat[i]);
    free(s->pat);
    free(s->pat_len);
    free(s->tok);
    memset(s, 0, sizeof *s);
}

static void seg_push(tok_segments *a, size_t start, size_t end, long token)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        if (!a->v)
            abort();
    }
    a->v[a->n].start = start;
    a->v[a->n].end = end;
    a->v[a->n].token = token;
    a->n++;
}

/* The code point ending at s[end) (0 = none). */
static uint32_t cp_before(const char *s, size_t end)
{
    if (end == 0)
        return 0;
    size_t st = end - 1;
    while (st > 0 && end - st < 4 && ((unsigned char)s[st] & 0xC0) == 0x80)
        st--;
    uint32_t cp;
    size_t bad;
    return tok_utf8_decode((const unsigned char *)s + st, end - st, &cp, &bad) == end - st ? cp : 0;
}

static uint32_t cp_at(const char *s, size_t n, size_t i, size_t *k)
{
    uint32_t cp;
    size_t bad;
    *k = tok_utf8_decode((const unsigned char *)s + i, n - i, &cp, &bad);
    return *k ? cp : 0;
}

void tok_added_split(const struct tokenizer *t, const tok_addset *set, const char *s, size_t n,
                     tok_segments *out)
{
    size_t start_offset = 0, i = 0;
    while (i < n && set->n) {
        unsigned char c = (unsigned char)s[i];
        size_t best = (size_t)-1, best_len = 0;
        for (size_t k = set->first[c]; k < set->first[c + 1]; k++)
            if (set->pat_len[k] > best_len && set->pat_len[k] <= n - i &&
                memcmp(s + i, set->pat[k], set->pat_len[k]) == 0) {
                best = k;
                best_len = set->pat_len[k];
            }
        if (best == (size_t)-1) {
            i++;
            continue;
        }
        const tok_added *a = &t->added[set->tok[best]];
        size_t start = i, stop = i + best_len, k;
        i = stop;
        if (a->single_word) {
            uint32_t before = cp_before(s, start), after = stop < n ? cp_at(s, n, stop, &k) : 0;
            if ((start > 0 && tok_is_word(before)) || (stop < n && tok_is_word(after)))
                continue; /* not a single word */
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > start_offset) {
                uint32_t cp = cp_before(s, ns);
                if (!tok_is_white_space(cp))
                    break;
                char u[4];
                ns -= tok_utf8_encode(cp, u);
            }
            start = ns;
        }
        if (a->rstrip)
            while (stop < n) {
                uint32_t cp = cp_at(s, n, stop, &k);
                if (!k || !tok_is_white_space(cp))
                    break;
                stop += k;
            }
        if (start_offset < start)
            seg_push(out, start_offset, start, -1);
        seg_push(out, start, stop, (long)set->tok[best]);
        start_offset = stop;
        i = stop;
    }
    if (start_offset < n)
        seg_push(out, start_offset, n, -1);
}
