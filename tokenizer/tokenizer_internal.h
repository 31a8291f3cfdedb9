/* tokenizer_internal.h: the pieces tok_* is built from, shared by the
 * tokenizer/tokenizer_*.c files (one job each):
 *
 *   tokenizer_utf8.c        UTF-8 decoding/repair, Unicode classes, byte-level table,
 *                           the small growable arrays below
 *   tokenizer_json.c        JSON field access with JSON-path error messages
 *   tokenizer_regex.c       PCRE2 wrapper and String/Regex patterns
 *   tokenizer_vocab.c       token string -> id hash table
 *   tokenizer_bpe.c         the BPE model
 *   tokenizer_added.c       added tokens: matching and splitting them out
 *   tokenizer_normalizer.c  normalizers
 *   tokenizer_pretok.c      pre-tokenizers
 *   tokenizer_post.c        post-processors
 *   tokenizer_decoder.c     decoders and tok_decode
 *   tokenizer_load.c        tok_load / lookups
 *   tokenizer_encode.c      the encode pipeline (tok_encode)
 *
 * Semantics follow HuggingFace `tokenizers` (Rust); comments name the places
 * where that matters. */
#ifndef RT_TOKENIZER_INTERNAL_H
#define RT_TOKENIZER_INTERNAL_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
/* Limit on token ids (vocabulary and added tokens): below 2^24, far above any real
 * vocabulary (262,144 is the largest bundled), so the id tables stay under 220 MB. */
#define TOK_MAX_IDS (1 << 24)
#endif
#include <json-c/json.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "mgc_error.h"
#include "strbuf.h"
#include "tokenizer.h"

/* mgc_sb_putn that accepts (NULL, 0): empty buffers have no storage. */
static inline void tok_sb_putn(mgc_strbuf *b, const char *s, size_t n)
{
    if (n)
        mgc_sb_putn(b, s, n);
}

/* ---- small growable arrays ---------------------------------------------- */

typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;
void tok_ids_push(tok_ids *a, int32_t id);

typedef struct tok_span {
    size_t start, end;
} tok_span;
typedef struct tok_spans {
    tok_span *v;
    size_t n, cap;
} tok_spans;
void tok_spans_push(tok_spans *a, size_t start, size_t end);

/* A list of strings stored back to back in one buffer (pre-tokens, decoder
 * tokens).  at_start marks a piece beginning at byte 0 of the original input
 * (Metaspace's prepend_scheme "first" needs it). */
typedef struct tok_piece {
    size_t off, len;
    int at_start;
} tok_piece;
typedef struct tok_pieces {
    mgc_strbuf buf;
    tok_piece *v;
    size_t n, cap;
} tok_pieces;
void tok_pieces_add(tok_pieces *p, const char *s, size_t len, int at_start); /* skips empty s */
void tok_pieces_add_any(tok_pieces *p, const char *s, size_t len);             /* keeps empty s */
/* Starts an empty piece whose bytes the caller appends to p->buf. */
void tok_pieces_begin(tok_pieces *p, int at_start);
/* Closes the piece begun last (drops it if it stayed empty). */
void tok_pieces_end(tok_pieces *p);
void tok_pieces_clear(tok_pieces *p);
void tok_pieces_free(tok_pieces *p);
/* (buf.s stays NULL until a byte is appended: NULL + 0 is undefined behaviour in C.) */
static inline const char *tok_piece_str(const tok_pieces *p, size_t i)
{
    return p->buf.s ? p->buf.s + p->v[i].off : "";
}

/* ---- UTF-8 and Unicode classes (tokenizer_utf8.c) ----------------------- */

/* Decodes the scalar at s[0..n): returns its length (1..4) and *cp, or 0 when
 * the bytes are not valid UTF-8, with *bad the length of the maximal invalid
 * subpart there (>= 1; the bytes one U+FFFD replaces). */
size_t tok_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad);
/* Length of the (valid) UTF-8 character starting at s[0] (1 for a stray byte). */
size_t tok_utf8_len(const char *s, size_t n);
size_t tok_utf8_encode(uint32_t cp, char out[4]);
void tok_sb_put_cp(mgc_strbuf *b, uint32_t cp);
/* Appends s to out with every maximal invalid subpart replaced by U+FFFD. */
void tok_utf8_repair(const char *s, size_t n, mgc_strbuf *out);
/* Whether s[0..n) is valid UTF-8. */
int tok_utf8_valid(const char *s, size_t n);

int tok_is_white_space(uint32_t cp); /* the Unicode White_Space property (Rust char::is_whitespace) */
int tok_is_word(uint32_t cp);        /* regex \w: letters, marks, decimal digits, connector punct. */
int tok_is_numeric(uint32_t cp);     /* Rust char::is_numeric: general category Nd, Nl, No */

/* GPT-2's byte <-> printable code point table (ByteLevel). */
uint32_t tok_byte_to_cp(unsigned char b);
int tok_cp_to_byte(uint32_t cp); /* -1 when cp is not in the table */

/* ---- vocabulary hash table (tokenizer_vocab.c) -------------------------- */

typedef struct tok_vocab {
    char *pool; /* every token, back to back */
    size_t pool_len, pool_cap;
    size_t *off;
    uint32_t *len;
    int32_t *id;
    size_t n, cap;
    uint32_t *slot; /* open addressing: entry index + 1, 0 = empty */
    size_t mask;
} tok_vocab;
/* Inserts or overwrites (the last value of a key wins, as in JSON objects). */
void tok_vocab_put(tok_vocab *v, const char *s, size_t len, int32_t id);
int32_t tok_vocab_get(const tok_vocab *v, const char *s, size_t len); /* -1 when absent */
void tok_vocab_free(tok_vocab *v);

/* ---- regexes and patterns (tokenizer_regex.c) --------------------------- */

typedef struct tok_regex {
    pcre2_code *code;
    int jit;
} tok_regex;

/* Per-call scratch: PCRE2 match data and JIT stack, and BPE work arrays.
 * Each encode/decode call makes its own, so a tokenizer is thread-safe. */
typedef struct tok_bpe_sym {
    int32_t id;
    int32_t prev, next;
} tok_bpe_sym;
typedef struct tok_bpe_merge {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
} tok_bpe_merge;
typedef struct tok_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    tok_bpe_sym *sym;
    size_t sym_cap;
    tok_bpe_merge *heap;
    size_t heap_n, heap_cap;
    tok_spans spans;
    /* BPE results of this call's short pre-tokens: piece -> index into cache_at */
    tok_vocab cache;
    tok_span *cache_at; /* [start, end) in cache_ids */
    size_t cache_n, cache_cap;
    tok_ids cache_ids;
} tok_scratch;
void tok_scratch_init(tok_scratch *sc);
void tok_scratch_free(tok_scratch *sc);

/* Compiles an HF/Oniguruma pattern with PCRE2 (UTF, UCP), rewriting \s \S \w \W
 * to the Unicode classes those engines use.  Errors say where the pattern is bad. */
int tok_regex_compile(tok_regex *rx, const char *pat, size_t len, mgc_error *e);
void tok_regex_free(tok_regex *rx);
/* Appends every match of rx in s[0..n), left to right, non-overlapping, with
 * the engines' find_iter rules for empty matches. */
int tok_regex_find_all(const tok_regex *rx, tok_scratch *sc, const char *s, size_t n, tok_spans *out,
                       mgc_error *e);

/* A {"String": ...} or {"Regex": ...} pattern. */
typedef struct tok_pattern {
    int is_regex;
    char *lit;
    size_t lit_len;
    tok_regex rx;
} tok_pattern;
int tok_pattern_find_all(const tok_pattern *p, tok_scratch *sc, const char *s, size_t n, tok_spans *out,
                         mgc_error *e);
/* Appends s with every match of p replaced by `with`. */
int tok_pattern_replace(const tok_pattern *p, tok_scratch *sc, const char *s, size_t n, const char *with,
                        size_t with_len, mgc_strbuf *out, mgc_error *e);
void tok_pattern_free(tok_pattern *p);

/* ---- JSON access (tokenizer_json.c) ------------------------------------- */
/* `path` is the JSON path of the object (e.g. "normalizer.normalizers[1]"),
 * used in messages. */

json_object *tok_json_get(json_object *o, const char *key); /* NULL when absent or null */
/* o must be an object with a string "type"; *type receives it. */
int tok_json_type(json_object *o, const char *path, const char **type, mgc_error *e);
int tok_json_string(json_object *o, const char *key, const char *path, int required, const char **s, size_t *len,
                    mgc_error *e);
int tok_json_bool(json_object *o, const char *key, const char *path, int dflt, int *out, mgc_error *e);
int tok_json_int(json_object *o, const char *key, const char *path, int64_t dflt, int64_t *out, mgc_error *e);
/* An array member (required): its length goes to *n. */
int tok_json_array(json_object *o, const char *key, const char *path, json_object **arr, size_t *n, mgc_error *e);
/* The object's "pattern" member: {"String": s} or {"Regex": r}. */
int tok_json_pattern(json_object *o, const char *path, tok_pattern *p, mgc_error *e);
/* "unsupported <what> "<name>" (at <path>)" */
int tok_unsupported(mgc_error *e, const char *what, const char *name, const char *path);
char *tok_strndup(const char *s, size_t n);

/* ---- the BPE model (tokenizer_bpe.c) ------------------------------------ */

typedef struct tok_merge_slot {
    uint64_t key; /* (left << 32 | right) + 1; 0 = empty */
    uint32_t rank;
    int32_t new_id;
} tok_merge_slot;

typedef struct tok_bpe {
    tok_vocab vocab; /* the model's own vocabulary */
    tok_merge_slot *merges;
    size_t merges_mask, nmerges;
    int32_t unk_id; /* -1: none */
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t byte_id[256]; /* <0xXX> tokens, -1 where absent */
    int32_t char_id[0x800]; /* the token of each code point below U+0800 (-1: none) */
} tok_bpe;
int tok_bpe_load(tok_bpe *m, json_object *model, mgc_error *e);
void tok_bpe_free(tok_bpe *m);
/* Appends the ids of one pre-token. */
void tok_bpe_encode(const tok_bpe *m, tok_scratch *sc, const char *s, size_t n, tok_ids *out);

/* ---- normalizers (tokenizer_normalizer.c) ------------------------------- */

enum {
    TOK_NORM_SEQUENCE,
    TOK_NORM_PREPEND,
    TOK_NORM_REPLACE,
    TOK_NORM_NFC,
    TOK_NORM_NFD,
    TOK_NORM_NFKC,
    TOK_NORM_NFKD,
    TOK_NORM_STRIP,
};
typedef struct tok_normalizer {
    int type;
    struct tok_normalizer *sub;
    size_t nsub;
    char *str; /* Prepend's text, Replace's content */
    size_t str_len;
    tok_pattern pat;
    int strip_left, strip_right;
} tok_normalizer;
int tok_normalizer_load(tok_normalizer *n, json_object *o, const char *path, mgc_error *e);
void tok_normalizer_free(tok_normalizer *n);
/* Writes the normalized form of s into out (which it resets). */
int tok_normalize(const tok_normalizer *n, tok_scratch *sc, const char *s, size_t len, mgc_strbuf *out,
                  mgc_error *e);

/* ---- pre-tokenizers (tokenizer_pretok.c) -------------------------------- */

enum {
    TOK_PT_SEQUENCE,
    TOK_PT_SPLIT,
    TOK_PT_BYTELEVEL,
    TOK_PT_METASPACE,
    TOK_PT_DIGITS,
    TOK_PT_WHITESPACE,
    TOK_PT_WHITESPACE_SPLIT,
};
enum { TOK_SPLIT_REMOVED, TOK_SPLIT_ISOLATED, TOK_SPLIT_MERGED_PREV, TOK_SPLIT_MERGED_NEXT, TOK_SPLIT_CONTIGUOUS };
enum { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER };
typedef struct tok_pretok {
    int type;
    struct tok_pretok *sub;
    size_t nsub;
    tok_pattern pat; /* Split's pattern; ByteLevel's and Whitespace's regex */
    int behavior, invert;
    int add_prefix_space, use_regex; /* ByteLevel */
    char repl[8];                    /* Metaspace */
    size_t repl_len;
    int prepend_scheme, split;
    int individual_digits; /* Digits */
} tok_pretok;
int tok_pretok_load(tok_pretok *p, json_object *o, const char *path, mgc_error *e);
void tok_pretok_free(tok_pretok *p);
/* Replaces the pieces in *cur by their pre-tokenization (*tmp is scratch). */
int tok_pretokenize(const tok_pretok *p, tok_scratch *sc, tok_pieces *cur, tok_pieces *tmp, mgc_error *e);

/* ---- post-processors (tokenizer_post.c) --------------------------------- */

typedef struct tok_tmpl_item {
    int is_seq;      /* $A / $B (else a special token) */
    int seq_b;       /* $B */
    int32_t *ids;    /* a special token's ids */
    size_t nids;
} tok_tmpl_item;
typedef struct tok_post {
    int is_template; /* else ByteLevel: nothing to do on ids */
    tok_tmpl_item *items;
    size_t nitems;
    struct tok_post *sub; /* Sequence */
    size_t nsub;
    int is_sequence;
} tok_post;
int tok_post_load(tok_post *p, json_object *o, const char *path, mgc_error *e);
void tok_post_free(tok_post *p);
/* Applies the post-processor to the ids of one sequence (add_special_tokens). */
void tok_post_apply(const tok_post *p, tok_ids *ids);
/* The special tokens the single template puts before / after $A (-1: none). */
void tok_post_bos_eos(const tok_post *p, int32_t *bos, int32_t *eos);

/* ---- decoders (tokenizer_decoder.c) ------------------------------------- */

enum {
    TOK_DEC_SEQUENCE,
    TOK_DEC_BYTELEVEL,
    TOK_DEC_METASPACE,
    TOK_DEC_REPLACE,
    TOK_DEC_BYTEFALLBACK,
    TOK_DEC_FUSE,
    TOK_DEC_STRIP,
};
typedef struct tok_decoder {
    int type;
    struct tok_decoder *sub;
    size_t nsub;
    tok_pattern pat; /* Replace */
    char *content;   /* Replace's content, Strip's content character */
    size_t content_len;
    uint32_t strip_cp;
    int64_t strip_start, strip_stop;
    uint32_t repl_cp; /* Metaspace */
    int prepend_scheme;
} tok_decoder;
int tok_decoder_load(tok_decoder *d, json_object *o, const char *path, mgc_error *e);
void tok_decoder_free(tok_decoder *d);

/* ---- added tokens (tokenizer_added.c) ----------------------------------- */

typedef struct tok_added {
    char *content;
    size_t len;
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} tok_added;

/* One matching set: the tokens matched on raw text, or (normalized: true) on
 * normalized text by their normalized content. */
typedef struct tok_addset {
    char **pat; /* the pattern each token is matched by */
    size_t *pat_len;
    size_t *tok; /* index into the tokenizer's added[] */
    size_t n;
    size_t first[257]; /* patterns sorted by first byte: [first[b], first[b+1]) */
} tok_addset;

/* A piece of the input after splitting out added tokens: an added token
 * (token >= 0, its index in added[]) or text s[start, end). */
typedef struct tok_segment {
    size_t start, end;
    long token;
} tok_segment;
typedef struct tok_segments {
    tok_segment *v;
    size_t n, cap;
} tok_segments;

struct tokenizer;
int tok_added_load(struct tokenizer *t, json_object *arr, mgc_error *e);
/* Builds raw_set and norm_set (normalizing the normalized tokens' content). */
int tok_added_build_sets(struct tokenizer *t, mgc_error *e);
/* Splits s[0..n) on the tokens of `set` (HF AddedVocabulary::find_matches). */
void tok_added_split(const struct tokenizer *t, const tok_addset *set, const char *s, size_t n,
                     tok_segments *out);
void tok_addset_free(tok_addset *s);

/* ---- the tokenizer ------------------------------------------------------ */

struct tokenizer {
    char *path;
    tok_bpe bpe;
    tok_added *added;
    size_t nadded;
    tok_addset raw_set, norm_set;
    tok_normalizer *normalizer; /* NULL: none */
    tok_pretok *pretok;
    tok_post *post;
    tok_decoder *decoder;
    /* id -> token over the model vocabulary and the added tokens */
    const char **id_tok;
    uint32_t *id_len;
    unsigned char *id_special;
    size_t nid;
    tok_vocab added_vocab; /* added token content -> id */
    int32_t bos, eos;
};

#endif
