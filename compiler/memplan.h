/* memplan.h: lifetimes, arena offsets and the memory summary (see memplan.c). */
#ifndef MGC_MEMPLAN_H
#define MGC_MEMPLAN_H

#include "diag.h"
#include "plan.h"

/* Fills buffer lifetimes/offsets, arena sizes and p->memory; reports an
 * error at `where` (the spec's model statement) if the plan does not fit in
 * DRAM less `reserved` bytes. */
int mgc_memplan(mgc_plan *p, uint64_t reserved, mgc_diags *d, mgc_span where);

#endif
