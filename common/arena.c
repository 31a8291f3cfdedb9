#include "arena.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mgc_arena_block {
    mgc_arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

enum { ARENA_BLOCK = 64 * 1024 };

/* Standard blocks given back by mgc_arena_free wait here for the next
 * arena, up to CACHE_MAX of them (16 MiB).  Freed to malloc, a compile's
 * blocks went back to the system (glibc trims the heap top) and the next
 * compile faulted them in again page by page: on a virtual machine that
 * was two thirds of compiling Mixtral-8x7B in a loop (15 ms median against
 * 2.5 ms with the pages kept).  Blocks kept here stay reachable. */
enum { CACHE_MAX = 256 };
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static mgc_arena_block *cache;
static int cached;

static mgc_arena_block *block_new(size_t cap)
{
    if (cap == ARENA_BLOCK) {
        pthread_mutex_lock(&cache_mu);
        mgc_arena_block *b = cache;
        if (b) {
            cache = b->next;
            cached--;
        }
        pthread_mutex_unlock(&cache_mu);
        if (b)
            return b;
    }
    return malloc(sizeof(mgc_arena_block) + cap);
}

static void block_free(mgc_arena_block *b)
{
    if (b->size == ARENA_BLOCK) {
        pthread_mutex_lock(&cache_mu);
        int keep = cached < CACHE_MAX;
        if (keep) {
            b->next = cache;
            cache = b;
            cached++;
        }
        pthread_mutex_unlock(&cache_mu);
        if (keep)
            return;
    }
    free(b);
}

void *mgc_arena_alloc(mgc_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    mgc_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = block_new(cap);
        if (!b) {
            fprintf(stderr, "mgc: out of memory\n");
            abort();
        }
        b->used = 0;
        b->size = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

char *mgc_arena_strndup(mgc_arena *a, const char *s, size_t n)
{
    char *p = mgc_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *mgc_arena_strdup(mgc_arena *a, const char *s)
{
    return mgc_arena_strndup(a, s, strlen(s));
}

void *mgc_arena_push(mgc_arena *a, void **items, size_t *count, size_t *cap, size_t elem)
{
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        void *n = mgc_arena_alloc(a, ncap * elem);
        if (*count)
            memcpy(n, *items, *count * elem);
        *items = n;
        *cap = ncap;
    }
    void *slot = (char *)*items + (*count)++ * elem;
    memset(slot, 0, elem);
    return slot;
}

void mgc_arena_free(mgc_arena *a)
{
    mgc_arena_block *b = a->head;
    while (b) {
        mgc_arena_block *n = b->next;
        block_free(b);
        b = n;
    }
    a->head = NULL;
    a->total = 0;
}
