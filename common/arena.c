#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mgc_arena_block {
    mgc_arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

enum { ARENA_BLOCK = 64 * 1024 };

void *mgc_arena_alloc(mgc_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    mgc_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
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
        free(b);
        b = n;
    }
    a->head = NULL;
    a->total = 0;
}
