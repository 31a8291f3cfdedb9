#include "text_stream.h"

#include <stdlib.h>
#include <string.h>

void ev_text_stream_init(ev_text_stream *s, const tokenizer *tok)
{
    memset(s, 0, sizeof *s);
    s->tok = tok;
}

void ev_text_stream_free(ev_text_stream *s)
{
    free(s->ids);
    free(s->piece);
    memset(s, 0, sizeof *s);
}

static int take(ev_text_stream *s, int hold_back, const char **piece, mgc_error *e)
{
    char *text = NULL;
    size_t len = 0;
    if (tok_decode(s->tok, s->ids, s->n, 0, &text, &len, e) != 0)
        return -1;
    size_t end = len;
    /* U+FFFD is EF BF BD: a character that may be completed by the next token */
    if (hold_back && end >= 3 && memcmp(text + end - 3, "\xEF\xBF\xBD", 3) == 0)
        end -= 3;
    size_t from = s->emitted < end ? s->emitted : end;
    /* never start a piece inside a character (the decoders can rewrite text
     * already handed out; the pieces stay valid UTF-8 even then) */
    while (from < end && ((unsigned char)text[from] & 0xC0) == 0x80)
        from++;
    free(s->piece);
    s->piece = malloc(end - from + 1);
    if (!s->piece) {
        free(text);
        return mgc_errorf(e, "out of memory");
    }
    memcpy(s->piece, text + from, end - from);
    s->piece[end - from] = 0;
    if (end > s->emitted)
        s->emitted = end;
    free(text);
    *piece = s->piece;
    return 0;
}

int ev_text_stream_push(ev_text_stream *s, int32_t id, const char **piece, mgc_error *e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        int32_t *p = realloc(s->ids, cap * sizeof *p);
        if (!p)
            return mgc_errorf(e, "out of memory");
        s->ids = p;
        s->cap = cap;
    }
    s->ids[s->n++] = id;
    /* a byte-fallback token ("<0xE2>") may join the next ones into one
     * character, or turn, with them, into U+FFFDs: wait for a whole token */
    size_t len = 0;
    const char *t = tok_id_to_token(s->tok, id, &len);
    if (t && len == 6 && t[0] == '<' && t[1] == '0' && t[2] == 'x' && t[5] == '>') {
        *piece = "";
        return 0;
    }
    return take(s, 1, piece, e);
}

int ev_text_stream_finish(ev_text_stream *s, const char **piece, mgc_error *e)
{
    if (s->n == 0) {
        *piece = "";
        return 0;
    }
    return take(s, 0, piece, e);
}
