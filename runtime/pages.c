/* pages.c: see pages.h. */
#include "pages.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define PAGE ((size_t)sysconf(_SC_PAGESIZE))

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

void *rt_pages_alloc(size_t bytes)
{
    if (bytes < HUGE_PAGE) {
        size_t sz = round_up(bytes ? bytes : 1, 64);
        void *p = aligned_alloc(64, sz);
        if (p)
            memset(p, 0, sz);
        return p;
    }
    size_t len = round_up(bytes, PAGE);
    if (len < bytes || len + HUGE_PAGE < len)
        return NULL; /* the size wraps around */
    /* a huge page more than needed, then the unaligned ends given back */
    char *raw = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)round_up((uintptr_t)raw, HUGE_PAGE);
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + len + HUGE_PAGE - (p + len));
    if (tail)
        munmap(p + len, tail);
#ifdef MADV_HUGEPAGE
    /* whole huge pages only: a last partial one would be resident in full */
    madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE); /* advice: small pages if refused */
#endif
    return p;
}

void rt_pages_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < HUGE_PAGE)
        free(p);
    else
        munmap(p, round_up(bytes, PAGE));
}
