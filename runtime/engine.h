/* engine.h: a loaded plan, ready to execute.
 *
 * rt_engine_load places every device's weight slices (read from the
 * checkpoint, converted to the plan's storage dtypes, zero-padded), allocates
 * each device's KV cache and activation arena, and builds the mesh.  Then
 * rt_engine_prefill and rt_engine_decode run the plan's two entry points: all
 * devices execute the same op list concurrently on their own slices, with
 * collectives between them, and the logits arrive on the host. */
#ifndef RT_ENGINE_H
#define RT_ENGINE_H

#include <stdint.h>

#include "mgc_error.h"
#include "plan.h"

typedef struct rt_engine rt_engine;

typedef struct rt_engine_opts {
    int n_cores;        /* host cores the devices share; 0 = all online cores */
    int progress;       /* print loading progress to stderr (the driver sets it on a terminal) */
    int mpi;            /* MPI mesh: this process is device <its rank> only (engine_mpi.c) */
    int schedule;       /* in-process mesh: RT_SCHEDULE_* below */
} rt_engine_opts;

/* How an in-process mesh of several devices runs a call.  AUTO: op by op
 * across the devices (engine_lockstep.c) when there are more devices than
 * cores, else a thread per device.  The results are the same bits either
 * way; THREADS and LOCKSTEP force one (the tests compare them). */
enum { RT_SCHEDULE_AUTO = 0, RT_SCHEDULE_THREADS = 1, RT_SCHEDULE_LOCKSTEP = 2 };

/* `model_dir` holds the checkpoint (model.safetensors or an index) and,
 * optionally, config.json (checked against the plan's model facts). */
int rt_engine_load(const mgc_plan *plan, const char *model_dir, const rt_engine_opts *o, rt_engine **out,
                   mgc_error *e);
void rt_engine_free(rt_engine *en);

int64_t rt_engine_vocab(const rt_engine *en);
int64_t rt_engine_max_seq(const rt_engine *en);   /* KV-cache length = longest sequence */
int64_t rt_engine_max_users(const rt_engine *en); /* decode batch (padded users) */
int64_t rt_engine_hidden(const rt_engine *en);
int rt_engine_n_layers(const rt_engine *en);
const mgc_plan *rt_engine_plan(const rt_engine *en);

/* Prefill: runs `n` tokens of user `user` at positions start..start+n-1
 * through the prefill entry point, writing their K/V into the cache.
 * logits: [n][vocab] (all rows; NULL to skip).  n + start <= max_seq. */
int rt_engine_prefill(rt_engine *en, int user, const int32_t *tokens, int n, int start, float *logits,
                      mgc_error *e);

/* The same, also recording the residual stream: hidden [n_taps][n][hidden]
 * (rt_engine_n_taps: 0 the embeddings, i the output of decoder layer i-1,
 * the last the final norm's output, as HF's output_hidden_states). */
int rt_engine_prefill_hidden(rt_engine *en, int user, const int32_t *tokens, int n, int start, float *logits,
                             float *hidden, mgc_error *e);
int rt_engine_n_taps(const rt_engine *en);

/* The same prefill (the cache is filled alike), returning only the last
 * position's logits: logits [1][vocab].  What generation needs.  The ops
 * that only feed the logits (from the last attention's output: o_proj, the
 * last MLP, the final norm, the lm_head) run on the last row alone
 * (engine_head.h).  The row's bits are a full prefill's wherever its matmuls
 * take the same path for one row as for all (bf16-dot plans, prompts of at
 * most RT_GEMV_MAX_M tokens); else they differ by f32 rounding only. */
int rt_engine_prefill_last(rt_engine *en, int user, const int32_t *tokens, int n, int start, float *logits,
                           mgc_error *e);
/* Whether prefill op i is one of those (the benchmark counts their FLOPs once). */
int rt_engine_prefill_head_op(const rt_engine *en, size_t i);

/* Decode: one token for each of `b` users (users[i] in [0, max_users)) at
 * position pos[i] (its current length); logits: [b][vocab]. */
int rt_engine_decode(rt_engine *en, int b, const int *users, const int32_t *tokens, const int32_t *pos,
                     float *logits, mgc_error *e);

/* MPI mesh (o->mpi).  Rank 0 drives: its prefill/decode calls are sent to
 * every other rank, which runs them in rt_engine_serve until rank 0 frees its
 * engine (that tells the others to return 0).  Logits and hidden states
 * arrive on rank 0 only.  rt_engine_local_device: this process's device, or
 * -1 when every device is here. */
int rt_engine_serve(rt_engine *en, mgc_error *e);
int rt_engine_local_device(const rt_engine *en);

#endif
