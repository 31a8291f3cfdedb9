/* xalloc.c: allocation that aborts with a message when memory runs out. */
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *checked(void *p)
{
    if (!p) {
        fprintf(stderr, "mgc: out of memory\n");
        abort();
    }
    return p;
}

void *mgc_xmalloc(size_t n) { return checked(malloc(n ? n : 1)); }
void *mgc_xcalloc(size_t n, size_t size) { return checked(calloc(n ? n : 1, size ? size : 1)); }
void *mgc_xrealloc(void *p, size_t n) { return checked(realloc(p, n ? n : 1)); }
char *mgc_xstrdup(const char *s) { return checked(strdup(s ? s : "")); }
