/* xalloc.h: allocation that cannot fail.  The compiler's data are small
 * (specs, plans); running out of memory there is not a bad input to report
 * but the end of the process, with one message. */
#ifndef MGC_XALLOC_H
#define MGC_XALLOC_H

#include <stddef.h>

void *mgc_xmalloc(size_t n);
void *mgc_xcalloc(size_t n, size_t size);
void *mgc_xrealloc(void *p, size_t n);
char *mgc_xstrdup(const char *s); /* NULL copies as "" */

#endif
