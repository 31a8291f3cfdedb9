/* tokenizer_encode.c: tok_encode, HF's Tokenizer::encode for one sequence:
 *   repair invalid UTF-8 (U+FFFD per maximal invalid subpart)
 *   -> split out the non-normalized added tokens
 *   -> normalize each remaining piece, split out the normalized added tokens
 *   -> pre-tokenize -> BPE each pre-token
 *   -> post-process (add_special_tokens). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

int tok_encode(const tokenizer *t, const char *text, size_t len, int add_special_tokens, int32_t **ids,
                  size_t *n, mgc_error *e)
{
    *ids = NULL;
    *n = 0;
    if (!text) {
        if (len)
            return mgc_errorf(e, "no text (NULL) of length %zu", len);
        text = "";
    }
    mgc_strbuf fixed = {0}, norm = {0};
    const char *s = text;
    if (!tok_utf8_valid(text, len)) {
        tok_utf8_repair(text, len, &fixed);
        s = fixed.s;
        len = fixed.len;
    }
    tok_scratch sc;
    tok_scratch_init(&sc);
    tok_segments seg = {0}, sub = {0};
    tok_pieces cur = {0}, tmp = {0};
    tok_ids out = {0};
    int rc = 0;

    tok_added_split(t, &t->raw_set, s, len, &seg);
    for (size_t i = 0; i < seg.n && rc == 0; i++) {
        if (seg.v[i].token >= 0) {
            tok_ids_push(&out, t->added[seg.v[i].token].id);
            continue;
        }
        const char *q = s + seg.v[i].start;
        size_t qn = seg.v[i].end - seg.v[i].start;
        if (t->normalizer) {
            if ((rc = tok_normalize(t->normalizer, &sc, q, qn, &norm, e)) != 0)
                break;
            q = norm.s;
            qn = norm.len;
        }
        if (qn == 0)
            continue;
        sub.n = 0;
        tok_added_split(t, &t->norm_set, q, qn, &sub);
        for (size_t j = 0; j < sub.n && rc == 0; j++) {
            if (sub.v[j].token >= 0) {
                tok_ids_push(&out, t->added[sub.v[j].token].id);
                continue;
            }
            tok_pieces_clear(&cur);
            tok_pieces_add(&cur, q + sub.v[j].start, sub.v[j].end - sub.v[j].start,
                           seg.v[i].start == 0 && sub.v[j].start == 0);
            if (t->pretok && (rc = tok_pretokenize(t->pretok, &sc, &cur, &tmp, e)) != 0)
                break;
            for (size_t k = 0; k < cur.n; k++)
                tok_bpe_encode(&t->bpe, &sc, tok_piece_str(&cur, k), cur.v[k].len, &out);
        }
    }
    if (rc == 0 && add_special_tokens && t->post)
        tok_post_apply(t->post, &out);

    tok_scratch_free(&sc);
    free(seg.v);
    free(sub.v);
    tok_pieces_free(&cur);
    tok_pieces_free(&tmp);
    mgc_sb_free(&fixed);
    mgc_sb_free(&norm);
    if (rc != 0) {
        free(out.v);
        return -1;
    }
    *ids = out.v ? out.v : malloc(sizeof(int32_t));
    if (!*ids)
        abort();
    *n = out.n;
    return 0;
}
