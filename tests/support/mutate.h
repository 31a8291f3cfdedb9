/* mutate.h: what the mutation tests share: a seeded generator (splitmix64,
 * so a failing case can be replayed from its seed) and edits of a text. */
#ifndef MGC_TEST_MUTATE_H
#define MGC_TEST_MUTATE_H

#include <stddef.h>
#include <stdint.h>

uint64_t mut_next(uint64_t *state);
size_t mut_below(uint64_t *state, size_t n); /* uniform-ish in [0, n); 0 when n == 0 */

typedef struct mut_text {
    char *s; /* malloc'd, NUL-terminated */
    size_t n;
} mut_text;

/* Replaces t->s[at, at+del) by ins[0, nins). */
void mut_splice(mut_text *t, size_t at, size_t del, const char *ins, size_t nins);
/* Start offsets of t's lines (at most max); returns how many. */
size_t mut_line_starts(const mut_text *t, size_t *starts, size_t max);

/* The bundled specs (graphs/ and the valid test inputs), for the tests that
 * go over all of them. */
extern const char *const mut_bundled_specs[];
extern const size_t mut_nbundled_specs;

#endif
