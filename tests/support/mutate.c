#include "mutate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t mut_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

size_t mut_below(uint64_t *s, size_t n) { return n ? (size_t)(mut_next(s) % n) : 0; }

void mut_splice(mut_text *t, size_t at, size_t del, const char *ins, size_t nins)
{
    char *s = malloc(t->n - del + nins + 1);
    if (!s) {
        fprintf(stderr, "mut_splice: out of memory\n");
        abort();
    }
    memcpy(s, t->s, at);
    memcpy(s + at, ins, nins);
    memcpy(s + at + nins, t->s + at + del, t->n - at - del);
    t->n = t->n - del + nins;
    s[t->n] = 0;
    free(t->s);
    t->s = s;
}

size_t mut_line_starts(const mut_text *t, size_t *starts, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n && k < max; i++)
        if (i == 0 || t->s[i - 1] == '\n')
            starts[k++] = i;
    return k;
}

const char *const mut_bundled_specs[] = {
    "graphs/common/llama.graph",
    "graphs/meta-llama/Llama-3.2-1B/t3000.graph",
    "graphs/Qwen/Qwen3-0.6B/t3000.graph",
    "graphs/humain-ai/ALLaM-7B-Instruct-preview/n150.graph",
    "graphs/microsoft/Phi-3-mini-128k-instruct/t3000.graph",
    "graphs/mistralai/Mistral-7B-Instruct-v0.3/t3000.graph",
    "tests/specs/all_constructs.graph",
    "tests/specs/messy.graph",
};
const size_t mut_nbundled_specs = sizeof mut_bundled_specs / sizeof mut_bundled_specs[0];
