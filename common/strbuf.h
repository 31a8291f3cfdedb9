/* strbuf.h: a growable, always NUL-terminated string.  Used by the formatter,
 * the dumpers and the emitters. */
#ifndef MGC_STRBUF_H
#define MGC_STRBUF_H

#include <stddef.h>

typedef struct mgc_strbuf {
    char *s;
    size_t len, cap;
} mgc_strbuf;

void mgc_sb_puts(mgc_strbuf *b, const char *s);
void mgc_sb_putn(mgc_strbuf *b, const char *s, size_t n);
void mgc_sb_putc(mgc_strbuf *b, char c);
void mgc_sb_printf(mgc_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the string (caller frees) and resets the buffer. */
char *mgc_sb_take(mgc_strbuf *b);
void mgc_sb_free(mgc_strbuf *b);

#endif
