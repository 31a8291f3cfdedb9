/* profile.h: where the time of a plan goes, per op, the way tt-metal's op
 * performance report answers "which op is slow".
 *
 * The engine times every op of every entry-point call on every device when a
 * profile is attached (rt_profile_attach); without one the interpreter pays
 * one predictable branch per op.  Each device writes only its own slots, so
 * the mesh threads need no lock.  Figures are per device, averaged over the
 * devices: calls, time, share of the phase's op time, weight bytes read and
 * the rate they imply (GB/s of weights in decode, GFLOP/s in prefill), and
 * the collectives' time. */
#ifndef RT_PROFILE_H
#define RT_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "mgc_error.h"
#include "plan.h"

typedef struct rt_profile rt_profile;

rt_profile *rt_profile_new(const mgc_plan *p);
void rt_profile_free(rt_profile *pf);
/* Attaches pf to the engine (NULL detaches); pf must outlive the calls. */
void rt_profile_attach(rt_engine *en, rt_profile *pf);

/* The engine's hook (engine_exec.c): the time now, and op `op` of entry
 * `decode` (0 prefill, 1 decode) done on `device` with `rows` rows since t0. */
uint64_t rt_profile_now(void);
void rt_profile_op(rt_profile *pf, int device, int decode, size_t op, int rows, uint64_t t0);

/* One row of a summary. */
typedef struct rt_profile_row {
    char name[64];          /* the op kind ("linear"), or the layer ("embed", "layer 3", "head") */
    int64_t calls;          /* op executions (per device) */
    double seconds;         /* total time, mean over devices */
    double share;           /* percent of the phase's op time */
    uint64_t weight_bytes;  /* weight bytes read per device, all calls together */
    double flops;           /* floating-point operations per device (linear and attention) */
} rt_profile_row;

typedef enum rt_profile_by { RT_PROFILE_BY_KIND, RT_PROFILE_BY_LAYER } rt_profile_by;

/* The summary of one phase (0 prefill, 1 decode), grouped by kind or layer,
 * rows in plan order of first appearance; *n 0 when the phase never ran.
 * *rows is malloc'd. */
int rt_profile_summary(const rt_profile *pf, int decode, rt_profile_by by, rt_profile_row **rows, size_t *n);
/* Entry-point calls and rows (tokens or users) of a phase; seconds of its
 * collectives (all_reduce, all_gather, the vocab-sharded output's gather). */
void rt_profile_phase(const rt_profile *pf, int decode, int64_t *calls, int64_t *rows, double *op_seconds,
                      double *collective_seconds);

/* The tables mgc run/eval --profile print. */
void rt_profile_print(const rt_profile *pf, FILE *out);
/* The full per-op table as CSV (written atomically). */
int rt_profile_write_csv(const rt_profile *pf, const char *path, mgc_error *e);

#endif
