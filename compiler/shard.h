/* shard.h: the sharding pass (see shard.c): annotations -> a sharding for
 * every value and weight, with the collectives they imply inserted. */
#ifndef MGC_SHARD_H
#define MGC_SHARD_H

#include "diag.h"
#include "ir.h"

/* Runs after elaboration, before padding.  0 ok; -1 with an error in d. */
int mgc_shard(mgc_ir *ir, mgc_diags *d);

#endif
