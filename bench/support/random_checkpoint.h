/* A checkpoint of random bf16 weights with the shapes a plan expects, at true
 * size, for the benchmarks (speed does not depend on the values; norms are
 * 1 and biases 0 so activations stay in range). */
#ifndef BENCH_RANDOM_CHECKPOINT_H
#define BENCH_RANDOM_CHECKPOINT_H

#include "mgc_error.h"
#include "plan.h"

/* Writes DIR/model.safetensors: one tensor per checkpoint name of the plan
 * (tied uses and fused parts share theirs), values uniform in +-0.02.  The
 * same plan gives the same bytes on every run. */
int bench_random_checkpoint(const mgc_plan *p, const char *dir, mgc_error *e);

#endif
