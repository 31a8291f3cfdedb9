/* tokenizer.h: text in and out through a model's own tokenizer.json (the
 * HuggingFace `tokenizers` format), in C.
 *
 * Supported (anything else is refused at load time with an error naming the
 * component and its JSON path, e.g. "normalizer.normalizers[1].type"):
 *   model           BPE (merges as "a b" strings or as ["a", "b"] pairs;
 *                   byte_fallback, fuse_unk, unk_token, ignore_merges)
 *   added_tokens    split out of the input first, leftmost-longest, honouring
 *                   special / lstrip / rstrip / single_word / normalized
 *   normalizer      Sequence, Prepend, Replace (String or Regex), NFC, NFD,
 *                   NFKC, NFKD, Strip
 *   pre_tokenizer   Sequence, Split (String or Regex; every behavior, invert),
 *                   ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit
 *   post_processor  TemplateProcessing (single template), ByteLevel, Sequence
 *   decoder         Sequence, ByteLevel, Metaspace, Replace, ByteFallback,
 *                   Fuse, Strip
 * Regexes run on PCRE2 (UTF + UCP) with \s, \S, \w, \W rewritten to the Unicode
 * properties the Rust `regex` / Oniguruma engines give them (White_Space, and
 * letters + marks + decimal digits + connector punctuation).
 *
 * Added tokens get the ids HF gives them (a token of the vocabulary keeps its
 * id, the others follow the vocabulary in file order; real files declare
 * exactly these).  transformers' clean_up_tokenization_spaces (a
 * tokenizer_config.json option) is not applied when decoding.
 *
 * Checked against HF tokenizers 0.23 and transformers.js: the ids and texts
 * agree exactly, except for characters assigned after Unicode 14 (PCRE2
 * 10.42's tables), which the regexes see as unassigned.
 *
 * Input text that is not valid UTF-8 is not rejected: each maximal invalid
 * subsequence (as the Unicode standard and WHATWG define it) is replaced by
 * U+FFFD before tokenizing (as Rust's from_utf8_lossy does).  Decoded
 * text is always valid UTF-8 (undecodable byte tokens become U+FFFD as the HF
 * decoders do).
 *
 * A loaded tokenizer is immutable: encode/decode may run concurrently from
 * several threads.  Nothing here prints; errors are mgc_error values. */
#ifndef RT_TOKENIZER_H
#define RT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "mgc_error.h"

typedef struct tokenizer tokenizer;

/* Loads a tokenizer.json.  If a tokenizer_config.json sits next to it, its
 * bos_token / eos_token declare BOS and EOS; otherwise BOS is the special token
 * a TemplateProcessing post-processor puts before $A (and EOS the one after).
 * Errors name the file and the cause (missing file, invalid JSON with line and
 * column, unsupported component with its JSON path, inconsistent vocabulary).
 * Returns NULL on failure. */
tokenizer *tok_load(const char *path, mgc_error *e);
void tok_free(tokenizer *t);

/* Encodes `len` bytes of UTF-8 text.  add_special_tokens as HF's default
 * (true): let the post-processor add BOS etc.  On success *ids (malloc'ed,
 * caller frees; non-NULL even when *n is 0) holds *n token ids. */
int tok_encode(const tokenizer *t, const char *text, size_t len, int add_special_tokens, int32_t **ids,
                  size_t *n, mgc_error *e);

/* Decodes ids to UTF-8 text (malloc'ed, NUL-terminated, caller frees; *len
 * may be NULL).  skip_special_tokens drops tokens declared special.  An id with
 * no token is an error. */
int tok_decode(const tokenizer *t, const int32_t *ids, size_t n, int skip_special_tokens, char **text,
                  size_t *len, mgc_error *e);

/* The id of a token (added tokens first, then the model's vocabulary), or -1. */
int32_t tok_token_to_id(const tokenizer *t, const char *token, size_t len);
/* The token of an id (not NUL-terminated: its length goes to *len), or NULL. */
const char *tok_id_to_token(const tokenizer *t, int32_t id, size_t *len);
/* Whether id is an added token declared special. */
int tok_is_special(const tokenizer *t, int32_t id);
/* One past the largest id of the model vocabulary and the added tokens. */
size_t tok_vocab_size(const tokenizer *t);
/* BOS / EOS ids, or -1 when the files declare none. */
int32_t tok_bos_id(const tokenizer *t);
int32_t tok_eos_id(const tokenizer *t);

#endif
