/* tokenizer_vocab.c: token string -> id, an open-addressing hash table over
 * one pool of token bytes. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static size_t find_slot(const tok_vocab *v, const char *s, size_t n)
{
    size_t i = (size_t)hash_bytes(s, n) & v->mask;
    for (;;) {
        uint32_t k = v->slot[i];
        if (!k)
            return i;
        size_t x = k - 1;
        if (v->len[x] == n && (n == 0 || memcmp(v->pool + v->off[x], s, n) == 0))
            return i;
        i = (i + 1) & v->mask;
    }
}

static void rehash(tok_vocab *v, size_t nslots)
{
    free(v->slot);
    v->slot = calloc(nslots, sizeof *v->slot);
    if (!v->slot)
        abort();
    v->mask = nslots - 1;
    for (size_t x = 0; x < v->n; x++) {
        size_t i = find_slot(v, v->pool + v->off[x], v->len[x]);
        v->slot[i] = (uint32_t)(x + 1);
    }
}

void tok_vocab_put(tok_vocab *v, const char *s, size_t len, int32_t id)
{
    if (!v->slot || (v->n + 1) * 2 > v->mask + 1)
        rehash(v, v->slot ? (v->mask + 1) * 2 : 1024);
    size_t i = find_slot(v, s, len);
    if (v->slot[i]) {
        v->id[v->slot[i] - 1] = id;
        return;
    }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        v->off = realloc(v->off, v->cap * sizeof *v->off);
        v->len = realloc(v->len, v->cap * sizeof *v->len);
        v->id = realloc(v->id, v->cap * sizeof *v->id);
        if (!v->off || !v->len || !v->id)
            abort();
    }
    if (v->pool_len + len + 1 > v->pool_cap) {
        size_t c = v->pool_cap ? v->pool_cap : 65536;
        while (c < v->pool_len + len + 1)
            c *= 2;
        v->pool = realloc(v->pool, c);
        if (!v->pool)
            abort();
        v->pool_cap = c;
    }
    if (len)
        memcpy(v->pool + v->pool_len, s, len);
    v->pool[v->pool_len + len] = 0;
    v->off[v->n] = v->pool_len;
    v->len[v->n] = (uint32_t)len;
    v->id[v->n] = id;
    v->pool_len += len + 1;
    v->slot[i] = (uint32_t)(v->n + 1);
    v->n++;
}

int32_t tok_vocab_get(const tok_vocab *v, const char *s, size_t len)
{
    if (!v->slot)
        return -1;
    uint32_t k = v->slot[find_slot(v, s, len)];
    return k ? v->id[k - 1] : -1;
}

void tok_vocab_free(tok_vocab *v)
{
    free(v->pool);
    free(v->off);
    free(v->len);
    free(v->id);
    free(v->slot);
    memset(v, 0, sizeof *v);
}
