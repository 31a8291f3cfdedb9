/* edit_distance.h: Levenshtein distance for "did you mean" suggestions. */
#ifndef MGC_EDIT_DISTANCE_H
#define MGC_EDIT_DISTANCE_H

#include <stddef.h>

/* Edits (insert, delete, substitute) turning a into b; gives up and returns
 * limit + 1 as soon as the distance must exceed limit.  fold_case compares
 * ASCII letters case-insensitively. */
size_t mgc_edit_distance(const char *a, const char *b, size_t limit, int fold_case);

#endif
