/* engine_internal.h: the engine's state, shared by engine_load.c (placing
 * weights) and engine_exec.c (running the op lists).  Not a public header. */
#ifndef RT_ENGINE_INTERNAL_H
#define RT_ENGINE_INTERNAL_H

#include <stdatomic.h>

#include "engine_experts.h"
#include "engine_head.h"
#include "engine.h"
#include "kernels.h"
#include "mesh.h"

/* One device's memory: only its own slices, cache and arena. */
typedef struct rt_device {
    rt_matrix *mats;        /* [nweights]: linear and embedding weights */
    float **vecs;           /* [nweights]: norm weights (f32), NULL for matrices */
    rt_kv_cache *caches;    /* [cache_layers] */
    float *arena;           /* activation arena (max of both entry points) */
    rt_pool *pool;          /* the device's workers for its matmuls (its share of the cores) */
    float *scratch;         /* kernel scratch (one linear panel per pool thread) */
    size_t scratch_floats;
    float *gather;          /* staging for all_gather: ndevices * largest gathered buffer */
    size_t gather_floats;
    signed char *group_active; /* per call: expert group g routed to (1), not (0), not yet known (-1) */
} rt_device;

/* The arguments of one entry-point call, shared by the device threads. */
typedef struct rt_call {
    const mgc_plan_entry *entry;
    int decode;
    int rows;               /* rows used (tokens or users) */
    const int32_t *tokens;  /* [rows] */
    const int32_t *pos;     /* [rows] position of each row */
    const int *users;       /* decode: [rows]; prefill: NULL */
    int user, start;        /* prefill */
    float *logits;          /* host [rows][vocab] or NULL */
    float *hidden;          /* host [n_taps][rows][hidden] residual snapshots, or NULL */
    int last_only;          /* prefill: the head runs on the last row only; logits [1][vocab] */
    float **inv_freq;       /* [nropes][rows][dim/2] per-row tables (LongRoPE may differ per row) */
    float **attn_scale;     /* [nropes][rows] */
} rt_call;

struct rt_engine {
    const mgc_plan *plan;   /* owned copy lives in `owned_plan` when loaded by path */
    int ndev;
    rt_mesh *mesh;
    rt_device *dev;
    int64_t vocab;
    struct rt_profile *profile; /* per-op timing (profile.h), NULL = off */
    rt_expert_groups experts[2]; /* prefill, decode: the ops each expert alone needs (engine_experts.h) */
    unsigned char *head_ops;     /* prefill: the logits head's ops (engine_head.h), NULL none */
    /* An in-process mesh with more devices than cores runs op by op across
     * its devices on this pool (engine_lockstep.c) instead of a thread per
     * device; NULL otherwise. */
    rt_pool *lockstep;
};

/* A device's whole op list for one call (rt_mesh_run's function), and its
 * pieces, which the lockstep schedule also uses (engine_exec.c):
 *   rt_engine_device_begin  the token ids into the device's input buffer, no
 *                           expert group known yet;
 *   rt_engine_device_op     op i with what surrounds the kernel: skipping an
 *                           expert no row was routed to, the rows it runs on
 *                           (rt_engine_op_rows: a head op of a last-row
 *                           prefill runs on the last row alone), then
 *                           rt_engine_op_done: the residual tap (device 0)
 *                           and the profile.  -1 with ctx->err set by
 *                           rt_engine_op_failed (the message names the op).
 *   rt_engine_gather_copy   an all_gather staged in d->gather into the
 *                           replicated [rows][width] columns. */
int rt_engine_device_run(rt_device_ctx *ctx, void *arg);
/* Device d's buffer id of entry en, from row r0 on. */
float *rt_engine_buf_at(const rt_device *d, const mgc_plan_entry *en, int id, int r0);
void rt_engine_device_begin(rt_engine *en, const rt_call *c, int device);
int rt_engine_device_op(rt_device_ctx *ctx, rt_engine *en, const rt_call *c, size_t i);
void rt_engine_op_rows(const rt_engine *en, const rt_call *c, size_t i, int *r0, int *rows);
void rt_engine_op_done(rt_engine *en, const rt_call *c, int device, size_t i, int r0, int rows, uint64_t t0);
int rt_engine_op_failed(mgc_error *err, const rt_call *c, size_t i, const mgc_error *e);
void rt_engine_gather_copy(const rt_device *d, int ndev, int rows, int64_t local, int64_t width, float *out,
                           int64_t out_stride);
/* The output op where every device holds all the vocabulary's columns (one
 * device, or a replicated head): device 0 hands its rows to the host
 * (rt_engine_output_copy: call rows [r0, r0 + rows) to the host's rows
 * from host_row), no collective; engine_rows.c splits that copy. */
int rt_engine_output_whole(const rt_device_ctx *ctx, const rt_call *c, const mgc_plan_op *op);
void rt_engine_output_copy(const rt_device *d, const rt_call *c, const mgc_plan_op *op, int r0, int rows, int host_row);
/* Decode attention of call row r over KV heads [kv0, kv1) (their query
 * heads' outputs, rounded to bf16 if the output is), with `thread`'s slice of the
 * scratch (engine_exec.c; engine_rows.c splits the heads of a few users). */
void rt_engine_sdpa_decode(rt_device *d, const rt_call *c, const mgc_plan_op *op, int r, int kv0, int kv1, int thread);
/* Prefill attention (sdpa) of rows [r0, r0 + rows) over KV heads [kv0, kv1)
 * (rt_engine_sdpa_kv_heads: the op's, or the cache's for a chunk against
 * it), likewise.  Scratch slices are rt_engine_thread_scratch floats. */
void rt_engine_sdpa_prefill(rt_device *d, const rt_call *c, const mgc_plan_op *op, int r0, int rows, int kv0, int kv1,
                            int thread);
int rt_engine_sdpa_kv_heads(const rt_device *d, const rt_call *c, const mgc_plan_op *op);
size_t rt_engine_thread_scratch(const rt_device *d);
/* The call on every device op by op over en->lockstep (engine_lockstep.c). */
int rt_engine_run_lockstep(rt_engine *en, rt_call *c, mgc_error *e);

/* One op of call c on rows [r0, r0 + rows): rt_engine_run_op splits an op
 * whose rows are independent (norms, rotary, elementwise, cache writes,
 * decode attention) over the device's pool when there is enough work
 * (engine_rows.c); each row's arithmetic is the same either way, so the
 * bits do not depend on the split.  rt_engine_run_rows runs the kernel on
 * the range in the calling thread; `thread` picks its slice of the scratch
 * (engine_exec.c). */
extern int rt_engine_rows_min_values; /* values per thread below which an op is not split */
extern _Atomic long rt_engine_rows_splits; /* ops split so far */
int rt_engine_run_op(rt_device_ctx *ctx, rt_engine *en, rt_device *d, const rt_call *c, const mgc_plan_op *op,
                     int r0, int rows, mgc_error *e);
int rt_engine_run_rows(rt_device_ctx *ctx, rt_engine *en, rt_device *d, const rt_call *c, const mgc_plan_op *op,
                       int r0, int rows, int thread, mgc_error *e);
struct rt_engine_run_arg {
    rt_engine *en;
    rt_call *call;
};

/* Runs one call on the mesh (engine_exec.c); seq_len[rows] feeds the RoPE tables. */
int rt_engine_run_call(rt_engine *en, rt_call *c, const int32_t *seq_len, mgc_error *e);
/* MPI mesh, rank 0: sends the call to the other ranks first (engine_mpi.c). */
int rt_engine_mpi_forward(rt_engine *en, const rt_call *c, const int32_t *seq_len, mgc_error *e);
/* MPI mesh, rank 0: tells the other ranks to return from rt_engine_serve. */
void rt_engine_mpi_stop(rt_engine *en);

#endif
