/* arena.h: a bump allocator.  Everything allocated from one arena is freed at
 * once with mgc_arena_free(); nothing is freed individually.  Used for syntax
 * trees and IR, whose nodes all die together.  Freed 64 KiB blocks are kept
 * (up to 16 MiB, thread-safe) for the next arena, so compiling in a loop
 * does not fault its memory in again each time (arena.c). */
#ifndef MGC_ARENA_H
#define MGC_ARENA_H

#include <stddef.h>

typedef struct mgc_arena_block mgc_arena_block;

typedef struct mgc_arena {
    mgc_arena_block *head;
    size_t total;          /* bytes handed out, for limits and statistics */
} mgc_arena;

/* Zero-filled, 16-byte aligned.  Aborts with a message on out-of-memory
 * (the only sane reaction in a compiler; inputs are size-capped upstream). */
void *mgc_arena_alloc(mgc_arena *a, size_t size);
char *mgc_arena_strdup(mgc_arena *a, const char *s);
char *mgc_arena_strndup(mgc_arena *a, const char *s, size_t n);
/* Appends one element to an arena-backed growable array: *items has *count
 * elements of size `elem`; capacity doubles by copying (old blocks are simply
 * left in the arena). Returns a pointer to the new zeroed element. */
void *mgc_arena_push(mgc_arena *a, void **items, size_t *count, size_t *cap, size_t elem);
void mgc_arena_free(mgc_arena *a);

#endif
