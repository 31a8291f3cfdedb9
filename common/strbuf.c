#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(mgc_strbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *n = realloc(b->s, cap);
    if (!n) {
        fprintf(stderr, "mgc: out of memory\n");
        abort();
    }
    b->s = n;
    b->cap = cap;
}

void mgc_sb_putn(mgc_strbuf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void mgc_sb_puts(mgc_strbuf *b, const char *s) { mgc_sb_putn(b, s, strlen(s)); }
void mgc_sb_putc(mgc_strbuf *b, char c) { mgc_sb_putn(b, &c, 1); }

void mgc_sb_printf(mgc_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *mgc_sb_take(mgc_strbuf *b)
{
    char *s = b->s;
    if (!s) {
        s = malloc(1);
        if (!s)
            abort();
        s[0] = 0;
    }
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void mgc_sb_free(mgc_strbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}
