/* lower.h: IR -> plan (see lower.c). */
#ifndef MGC_LOWER_H
#define MGC_LOWER_H

#include "ir.h"
#include "plan.h"

typedef struct mgc_lower_opts {
    const char *spec;          /* spec path, recorded in the plan */
    int mesh[2];
    const char *topology;
    uint64_t dram_bytes;
    int tile;
} mgc_lower_opts;

/* Fills *p (weights, ropes, cache shape, both entry points).  Buffer
 * lifetimes and offsets and the memory summary are memplan's job. */
int mgc_lower(const mgc_ir *ir, const mgc_lower_opts *o, mgc_plan *p);

#endif
