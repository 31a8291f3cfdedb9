/* text_stream.h: the text of tokens as they are generated, one piece per
 * token, as HF's TextStreamer gives it: after each token the whole sequence is
 * decoded again (a token's text can depend on its neighbours: byte-fallback
 * pieces of one character, a SentencePiece leading space) and the part not yet
 * handed out is the new piece.  Text ending in U+FFFD is held back, since the
 * next token may complete the character, and so is the text of a
 * byte-fallback token ("<0xE2>") until a whole token follows; the last piece
 * comes from ev_text_stream_finish.  The pieces are valid UTF-8 and add up to
 * the decoded text of all the tokens. */
#ifndef EV_TEXT_STREAM_H
#define EV_TEXT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "mgc_error.h"
#include "tokenizer.h"

typedef struct ev_text_stream {
    const tokenizer *tok;
    int32_t *ids;
    size_t n, cap;
    size_t emitted;  /* bytes of the decoded text already handed out */
    char *piece;     /* the last piece (owned; valid until the next call) */
} ev_text_stream;

void ev_text_stream_init(ev_text_stream *s, const tokenizer *tok);
void ev_text_stream_free(ev_text_stream *s);

/* Adds a token; *piece is the new text ("" when there is none yet). */
int ev_text_stream_push(ev_text_stream *s, int32_t id, const char **piece, mgc_error *e);
/* The text still held back (possibly ""). */
int ev_text_stream_finish(ev_text_stream *s, const char **piece, mgc_error *e);

#endif
