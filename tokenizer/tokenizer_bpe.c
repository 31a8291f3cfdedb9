/* tokenizer_bpe.c: the BPE model.
 *
 * Loading builds the vocabulary hash table and a merge table keyed by the pair
 * of ids (rank, merged id).  Encoding one pre-token follows HF's
 * BPE::merge_word + Word::merge_all: each character becomes its token (or its
 * <0xXX> byte tokens with byte_fallback, or unk, consecutive unks fused with
 * fuse_unk), then the lowest-ranked adjacent pair is merged, leftmost first,
 * until no pair has a merge: a binary heap of candidate merges over a doubly
 * linked list of symbols, stale heap entries skipped when popped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t pair_key(int32_t a, int32_t b) { return (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1; }

static const tok_merge_slot *merge_get(const tok_bpe *m, int32_t a, int32_t b)
{
    if (!m->merges)
        return NULL;
    uint64_t k = pair_key(a, b);
    size_t i = (size_t)mix64(k) & m->merges_mask;
    for (;;) {
        const tok_merge_slot *s = &m->merges[i];
        if (s->key == k)
            return s;
        if (!s->key)
            return NULL;
        i = (i + 1) & m->merges_mask;
    }
}

static void merge_put(tok_bpe *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id)
{
    uint64_t k = pair_key(a, b);
    size_t i = (size_t)mix64(k) & m->merges_mask;
    while (m->merges[i].key && m->merges[i].key != k)
        i = (i + 1) & m->merges_mask;
    if (!m->merges[i].key)
        m->nmerges++;
    m->merges[i].key = k; /* a repeated pair takes the later rank, as HF's HashMap does */
    m->merges[i].rank = rank;
    m->merges[i].new_id = new_id;
}

static int not_empty_string(json_object *model, const char *key)
{
    json_object *v = tok_json_get(model, key);
    return v && !(json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0);
}

int tok_bpe_load(tok_bpe *m, json_object *model, mgc_error *e)
{
    memset(m, 0, sizeof *m);
    m->unk_id = -1;
    for (int b = 0; b < 256; b++)
        m->byte_id[b] = -1;
    json_object *dropout = tok_json_get(model, "dropout");
    if (dropout && json_object_get_double(dropout) != 0.0)
        return tok_unsupported(e, "BPE setting", "dropout", "model.dropout");
    if (not_empty_string(model, "continuing_subword_prefix"))
        return tok_unsupported(e, "BPE setting", "continuing_subword_prefix", "model.continuing_subword_prefix");
    if (not_empty_string(model, "end_of_word_suffix"))
        return tok_unsupported(e, "BPE setting", "end_of_word_suffix", "model.end_of_word_suffix");
    if (tok_json_bool(model, "byte_fallback", "model", 0, &m->byte_fallback, e) != 0 ||
        tok_json_bool(model, "fuse_unk", "model", 0, &m->fuse_unk, e) != 0 ||
        tok_json_bool(model, "ignore_merges", "model", 0, &m->ignore_merges, e) != 0)
        return -1;

    json_object *vocab = tok_json_get(model, "vocab");
    if (!vocab || !json_object_is_type(vocab, json_type_object))
        return mgc_errorf(e, "model.vocab: expected an object of token: id");
    json_object_object_foreach(vocab, key, val)
    {
        if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0 ||
            json_object_get_int64(val) > INT32_MAX - 1)
            return mgc_errorf(e, "model.vocab[\"%.100s\"]: expected an id in [0, 2^31-1)", key);
        tok_vocab_put(&m->vocab, key, strlen(key), (int32_t)json_object_get_int64(val));
    }
    if (m->vocab.n == 0)
        return mgc_errorf(e, "model.vocab: the vocabulary is empty (every text would encode to nothing)");

    const char *unk;
    if (tok_json_string(model, "unk_token", "model", 0, &unk, NULL, e) != 0)
        return -1;
    if (unk) {
        m->unk_id = tok_vocab_get(&m->vocab, unk, strlen(unk));
        if (m->unk_id < 0)
            return mgc_errorf(e, "model.unk_token: \"%.100s\" is not in the vocabulary", unk);
    }
    for (uint32_t cp = 0; cp < 0x800; cp++) {
        char u[4];
        m->char_id[cp] = tok_vocab_get(&m->vocab, u, tok_utf8_encode(cp, u));
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_id[b] = tok_vocab_get(&m->vocab, name, 6);
    }

    json_object *merges;
    size_t nm;
    if (tok_json_array(model, "merges", "model", &merges, &nm, e) != 0)
        return -1;
    size_t slots = 1024;
    while (slots < nm * 2)
        slots *= 2;
    m->merges = calloc(slots, sizeof *m->merges);
    if (!m->merges)
        abort();
    m->merges_mask = slots - 1;
    mgc_strbuf cat = {0};
    for (size_t r = 0; r < nm; r++) {
        json_object *it = json_object_array_get_idx(merges, r);
        const char *a, *b;
        size_t na, nb;
        if (json_object_is_type(it, json_type_string)) {
            /* "a b": split at the first space (HF's legacy format) */
            a = json_object_get_string(it);
            size_t n = (size_t)json_object_get_string_len(it);
            const char *sp = memchr(a, ' ', n);
            if (!sp) {
                mgc_sb_free(&cat);
                return mgc_errorf(e, "model.merges[%zu]: \"%.100s\" is not two tokens separated by a space", r, a);
            }
            na = (size_t)(sp - a);
            b = sp + 1;
            nb = n - na - 1;
        } else if (json_object_is_type(it, json_type_array) && json_object_array_length(it) == 2 &&
                   json_object_is_type(json_object_array_get_idx(it, 0), json_type_string) &&
                   json_object_is_type(json_object_array_get_idx(it, 1), json_type_string)) {
            json_object *ja = json_object_array_get_idx(it, 0), *jb = json_object_array_get_idx(it, 1);
            a = json_object_get_string(ja);
            na = (size_t)json_object_get_string_len(ja);
            b = json_object_get_string(jb);
            nb = (size_t)json_object_get_string_len(jb);
        } else {
            mgc_sb_free(&cat);
            return mgc_errorf(e, "model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", r);
        }
        int32_t ia = tok_vocab_get(&m->vocab, a, na), ib = tok_vocab_get(&m->vocab, b, nb);
        cat.len = 0;
        tok_sb_putn(&cat, a, na);
        tok_sb_putn(&cat, b, nb);
        int32_t inew = tok_vocab_get(&m->vocab, cat.s ? cat.s : "", cat.len);
        if (ia < 0 || ib < 0 || inew < 0) {
            const char *what = ia < 0 ? a : ib < 0 ? b : cat.s;
            int wn = (int)(ia < 0 ? na : ib < 0 ? nb : cat.len);
            mgc_errorf(e, "model.merges[%zu]: token \"%.*s\" is not in the vocabulary", r, wn > 100 ? 100 : wn,
                       what);
            mgc_sb_free(&cat);
            return -1;
        }
        merge_put(m, ia, ib, (uint32_t)r, inew);
    }
    mgc_sb_free(&cat);
    return 0;
}

void tok_bpe_free(tok_bpe *m)
{
    tok_vocab_free(&m->vocab);
    free(m->merges);
    memset(m, 0, sizeof *m);
}

/* ---- the merge heap: a 4-ary min-heap on (rank, pos) ---- */

static inline int less(const tok_bpe_merge *x, const tok_bpe_merge *y)
{
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void sift_down(tok_bpe_merge *h, size_t n, size_t i)
{
    tok_bpe_merge x = h[i];
    for (;;) {
        size_t c = 4 * i + 1, best;
        if (c >= n)
            break;
        best = c;
        for (size_t k = c + 1; k < c + 4 && k < n; k++)
            if (less(&h[k], &h[best]))
                best = k;
        if (!less(&h[best], &x))
            break;
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
}

static void heap_append(tok_scratch *sc, uint32_t rank, uint32_t pos, int32_t new_id)
{
    if (sc->heap_n == sc->heap_cap) {
        sc->heap_cap = sc->heap_cap ? sc->heap_cap * 2 : 64;
        sc->heap = realloc(sc->heap, sc->heap_cap * sizeof *sc->heap);
        if (!sc->heap)
            abort();
    }
    sc->heap[sc->heap_n].rank = rank;
    sc->heap[sc->heap_n].pos = pos;
    sc->heap[sc->heap_n].new_id = new_id;
    sc->heap_n++;
}

static void heap_push(tok_scratch *sc, uint32_t rank, uint32_t pos, int32_t new_id)
{
    heap_append(sc, rank, pos, new_id);
    tok_bpe_merge x = sc->heap[sc->heap_n - 1];
    size_t i = sc->heap_n - 1;
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!less(&x, &sc->heap[p]))
            break;
        sc->heap[i] = sc->heap[p];
        i = p;
    }
    sc->heap[i] = x;
}

static tok_bpe_merge heap_pop(tok_scratch *sc)
{
    tok_bpe_merge top = sc->heap[0];
    sc->heap[0] = sc->heap[--sc->heap_n];
    if (sc->heap_n)
        sift_down(sc->heap, sc->heap_n, 0);
    return top;
}

static void sym_add(tok_scratch *sc, size_t *ns, int32_t id)
{
    if (*ns == sc->sym_cap) {
        sc->sym_cap = sc->sym_cap ? sc->sym_cap * 2 : 256;
        sc->sym = realloc(sc->sym, sc->sym_cap * sizeof *sc->sym);
        if (!sc->sym)
            abort();
    }
    sc->sym[*ns].id = id;
    sc->sym[*ns].prev = (int32_t)*ns - 1;
    sc->sym[*ns].next = (int32_t)*ns + 1;
    (*ns)++;
}

static void push_pair(const tok_bpe *m, tok_scratch *sc, int32_t pos)
{
    int32_t nx = sc->sym[pos].next;
    const tok_merge_slot *g = merge_get(m, sc->sym[pos].id, sc->sym[nx].id);
    if (g)
        heap_push(sc, g->rank, (uint32_t)pos, g->new_id);
}

static void encode_word(const tok_bpe *m, tok_scratch *sc, const char *s, size_t n, tok_ids *out)
{
    if (m->ignore_merges) {
        int32_t id = tok_vocab_get(&m->vocab, s, n);
        if (id >= 0) {
            tok_ids_push(out, id);
            return;
        }
    }
    size_t ns = 0;
    int unk_pending = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c0 = (unsigned char)s[i];
        size_t k;
        int32_t id;
        if (c0 < 0x80) {
            k = 1;
            id = m->char_id[c0];
        } else if (c0 >= 0xC2 && c0 < 0xE0 && i + 1 < n) {
            k = 2;
            id = m->char_id[((c0 & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu)];
        } else {
            k = tok_utf8_len(s + i, n - i);
            id = tok_vocab_get(&m->vocab, s + i, k);
        }
        if (id >= 0) {
            if (unk_pending)
                sym_add(sc, &ns, m->unk_id);
            unk_pending = 0;
            sym_add(sc, &ns, id);
        } else {
            int fell_back = 0;
            if (m->byte_fallback) {
                fell_back = 1;
                for (size_t j = 0; j < k; j++)
                    if (m->byte_id[(unsigned char)s[i + j]] < 0)
                        fell_back = 0;
                if (fell_back) /* (HF adds these without flushing a pending unk) */
                    for (size_t j = 0; j < k; j++)
                        sym_add(sc, &ns, m->byte_id[(unsigned char)s[i + j]]);
            }
            if (!fell_back && m->unk_id >= 0) {
                if (unk_pending && !m->fuse_unk)
                    sym_add(sc, &ns, m->unk_id);
                unk_pending = 1;
            }
            /* no unk token: the character is dropped, as HF does */
        }
        i += k;
    }
    if (unk_pending)
        sym_add(sc, &ns, m->unk_id);
    if (ns == 0)
        return;
    sc->sym[ns - 1].next = -1;

    sc->heap_n = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        const tok_merge_slot *g = merge_get(m, sc->sym[i].id, sc->sym[i + 1].id);
        if (g)
            heap_append(sc, g->rank, (uint32_t)i, g->new_id);
    }
    for (size_t i = sc->heap_n / 4 + 1; i-- > 0;) /* heapify */
        if (i < sc->heap_n)
            sift_down(sc->heap, sc->heap_n, i);
    while (sc->heap_n) {
        tok_bpe_merge top = heap_pop(sc);
        tok_bpe_sym *l = &sc->sym[top.pos];
        if (l->id < 0 || l->next < 0)
            continue;
        int32_t r = l->next;
        const tok_merge_slot *g = merge_get(m, l->id, sc->sym[r].id);
        if (!g || g->new_id != top.new_id)
            continue; /* stale */
        l->id = top.new_id;
        l->next = sc->sym[r].next;
        sc->sym[r].id = -1;
        if (l->next >= 0)
            sc->sym[l->next].prev = (int32_t)top.pos;
        if (l->prev >= 0)
            push_pair(m, sc, l->prev);
        if (l->next >= 0)
            push_pair(m, sc, (int32_t)top.pos);
    }
    for (int32_t i = 0; i >= 0; i = sc->sym[i].next)
        tok_ids_push(out, sc->sym[i].id);
}

/* Pre-tokens repeat (words of a text): a call remembers the ids of the short
 * ones it has already encoded. */
enum { CACHE_MAX_LEN = 64, CACHE_MAX_WORDS = 65536 };

void tok_bpe_encode(const tok_bpe *m, tok_scratch *sc, const char *s, size_t n, tok_ids *out)
{
    if (n == 0)
        return;
    if (n > CACHE_MAX_LEN) {
        encode_word(m, sc, s, n, out);
        return;
    }
    int32_t hit = tok_vocab_get(&sc->cache, s, n);
    if (hit >= 0) {
        const tok_span *sp = &sc->cache_at[hit];
        for (size_t i = sp->start; i < sp->end; i++)
            tok_ids_push(out, sc->cache_ids.v[i]);
        return;
    }
    size_t first = out->n;
    encode_word(m, sc, s, n, out);
    if (sc->cache_n >= CACHE_MAX_WORDS)
        return;
    if (sc->cache_n == sc->cache_cap) {
        sc->cache_cap = sc->cache_cap ? sc->cache_cap * 2 : 256;
        sc->cache_at = realloc(sc->cache_at, sc->cache_cap * sizeof *sc->cache_at);
        if (!sc->cache_at)
            abort();
    }
    sc->cache_at[sc->cache_n].start = sc->cache_ids.n;
    for (size_t i = first; i < out->n; i++)
        tok_ids_push(&sc->cache_ids, out->v[i]);
    sc->cache_at[sc->cache_n].end = sc->cache_ids.n;
    tok_vocab_put(&sc->cache, s, n, (int32_t)sc->cache_n);
    sc->cache_n++;
}
