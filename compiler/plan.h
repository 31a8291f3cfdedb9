/* plan.h: a compiled plan, the contract between compiler and runtime.
 *
 * A plan says everything the runtime needs to execute a model on a mesh, and
 * nothing about the graph spec it came from:
 *   - the system (mesh shape, DRAM per device, tile size);
 *   - the weights: each a (part of a) checkpoint tensor, its storage dtype,
 *     its sharding, and the exact slice every device loads (HF name + range
 *     on each dimension, padding included);
 *   - the RoPE tables to build (the runtime computes them as HF does);
 *   - the KV cache shape per device;
 *   - two entry points, prefill and decode, each a scheduled list of kernel
 *     ops over numbered activation buffers, with buffer lifetimes and arena
 *     offsets from the memory planner;
 *   - a per-device memory summary, checked against the system's DRAM.
 *
 * Execution is SPMD: every device runs the same op list on its own slices and
 * its own buffers; collectives are ops in the list.  Activations are matrices
 * of `rows` x `cols` values: a row is one token (prefill) or one user
 * (decode); `cols` is the per-device width.  Heads are a view: [T, H*d].
 *
 * Plans are serialized as YAML by plan_io.c (mgc_plan_write / mgc_plan_read). */
#ifndef MGC_PLAN_H
#define MGC_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "mgc_error.h"

/* Version 2 added the fields marked "plan version 2"; the reader takes 1 and
 * 2 (a version-1 file must not use them), the writer writes 2. */
#define MGC_PLAN_VERSION 2
#define MGC_MAX_DEVICES 64

typedef enum mgc_dtype {
    MGC_F32, MGC_BF16, MGC_BF8_B, MGC_BF4_B, MGC_I32,
} mgc_dtype;
const char *mgc_dtype_name(mgc_dtype t);
int mgc_dtype_parse(const char *s, mgc_dtype *out); /* 0 ok, -1 unknown */
/* Bytes to store n values (block formats: 16 values share one exponent byte). */
uint64_t mgc_dtype_bytes(mgc_dtype t, uint64_t n);

typedef enum mgc_kernel {
    MGC_K_EMBEDDING,    /* out[T,D]   = table[tokens]           in: tokens  w: table          */
    MGC_K_LINEAR,       /* out[T,N]   = in[T,K] W^T             in: x       w: W [N,K] slice  */
    MGC_K_RMS_NORM,     /* out        = rmsnorm(in) * w         attrs: eps, group (0 = whole row, else per head of `group` values) */
    MGC_K_ROTARY,       /* out        = rope(in, pos)           attrs: rope, n_heads, head_dim */
    MGC_K_FILL_CACHE,   /* prefill: write K (in0) and V (in1) of the user into cache layer `layer`; no output */
    MGC_K_SDPA,         /* prefill: causal attention of Q (in0) over K (in1), V (in2) -> out; attrs: n_heads, n_kv_heads, head_dim, scale */
    MGC_K_UPDATE_CACHE, /* decode: write K (in0), V (in1) of each user at its position into layer `layer` */
    MGC_K_SDPA_DECODE,  /* decode: Q (in0) of each user against cache layer `layer` up to its position -> out */
    MGC_K_ADD,          /* out = in0 + in1 */
    MGC_K_SUB,          /* out = in0 - in1 */
    MGC_K_MUL,          /* out = in0 * in1 */
    MGC_K_SCALE,        /* out = in0 * attrs.scale */
    MGC_K_SILU,         /* out = silu(in0) */
    MGC_K_GELU,         /* out = gelu(in0), erf form */
    MGC_K_GELU_TANH,    /* out = gelu(in0), tanh approximation */
    MGC_K_ALL_REDUCE,   /* out = sum over devices of in0 (in0 is a partial sum) */
    MGC_K_ALL_GATHER,   /* out = concat over devices of in0 along cols */
    MGC_K_OUTPUT,       /* host logits = concat over devices of in0, trimmed to attrs.vocab (drops padding) */
    /* --- general architectures (plan version 2) --- */
    MGC_K_ADD_BIAS,     /* out = in0 + w broadcast over rows      w: BIAS [cols] (this device's slice) */
    MGC_K_LAYER_NORM,   /* out = (in0 - mean) / sqrt(var + eps) * w + b  (biased variance over the row, or per
                         * head when group > 0)   w: NORM gamma, weight2: BIAS beta or -1 */
    MGC_K_ADD_SCALAR,   /* out = in0 + scale   (the constant is carried in attrs.scale) */
    MGC_K_DIV_SCALAR,   /* out = in0 / scale   (exact division, as HF's x / c) */
    MGC_K_DIV,          /* out = in0 / in1 */
    MGC_K_TANH, MGC_K_EXP, MGC_K_RELU, MGC_K_SIGMOID,
    MGC_K_SOFTCAP,      /* out = tanh(in0 / scale) * scale  (Gemma 2 logit soft-capping) */
    MGC_K_POS_EMBEDDING,/* out[r] = w[pos(r)]: learned absolute positions (GPT-2 wpe); positions from the entry point */
    MGC_K_ROUTE,        /* MoE router: in0 [rows, E] logits (replicated) -> out [rows, E]: softmax over all E in f32,
                         * the top_k largest kept (ties: lower index), renormalised to sum 1, others 0 */
    MGC_K_EXPERT_SCALE, /* out = in0 * in1[:, expert]   (one expert's output times its routing weight) */
    MGC_K_SHARD,        /* out = this device's piece of the replicated in0 along cols: device d copies cols
                         * [(d / replicas) * c, ... + c), c = out cols (zeros past in0's width) */
    MGC_K_COUNT
} mgc_kernel;
const char *mgc_kernel_name(mgc_kernel k);
int mgc_kernel_parse(const char *s, mgc_kernel *out);

/* How a weight is distributed over the devices. */
typedef enum mgc_shard_kind {
    MGC_SHARD_REPLICATED,   /* every device holds all of it */
    MGC_SHARD_SPLIT,        /* split on dimension `dim` into equal (padded) pieces; with replicas r > 1
                             * into ndevices / r pieces, device d holding piece d / r (KV heads over
                             * more devices than there are heads) */
    MGC_SHARD_OWNED,        /* device `owner` holds all of it, the others nothing (expert parallel) */
} mgc_shard_kind;

typedef struct mgc_range {
    int64_t lo, hi;         /* [lo, hi) in the checkpoint tensor's coordinates */
} mgc_range;

/* What one device loads of a weight: the checkpoint ranges it reads (at most 2
 * dims), and the local (padded) shape it stores; rows/cols past the read range
 * are zero padding. */
typedef struct mgc_weight_slice {
    mgc_range range[2];
    int64_t local_shape[2];
} mgc_weight_slice;

typedef enum mgc_weight_role {
    MGC_W_LINEAR,     /* [N, K] matrix of a linear op */
    MGC_W_EMBEDDING,  /* [vocab, D] table */
    MGC_W_NORM,       /* [D] vector (stored f32) */
    MGC_W_BIAS,       /* [N] vector added to a linear's output (stored f32; split like the output) */
} mgc_weight_role;

typedef struct mgc_plan_weight {
    char *id;               /* unique in the plan: HF name, plus "#part" for a fused part or "#tied" for a second use */
    char *hf_name;          /* tensor in the checkpoint */
    int rank;               /* 1 or 2 */
    int64_t hf_shape[2];    /* full checkpoint tensor shape (expected) */
    int64_t shape[2];       /* logical shape of this weight (a part of a fused tensor: its rows) */
    int64_t row0;           /* first row of the checkpoint tensor this weight starts at (fused parts) */
    mgc_weight_role role;
    mgc_dtype dtype;
    mgc_shard_kind shard;
    int dim;                /* split dimension (0 = output rows, 1 = input cols) */
    int64_t padded;         /* size of the split dimension after padding to whole tiles per device */
    int replicas;           /* SPLIT: devices sharing each piece (1 = none) */
    int owner;              /* OWNED: the device that holds it; else -1 */
    /* The checkpoint stores the tensor as [in, out] (GPT-2's Conv1D): hf_shape is
     * the stored shape, `shape` and the slice ranges are in the logical [out, in]
     * orientation, and the loader transposes. */
    int transposed;
    /* A derived weight: value = checkpoint value * derive_scale + derive_offset,
     * computed in f32 per slice at load time, before conversion to `dtype`
     * (Gemma's (1 + w) norms).  1 and 0 when not derived. */
    double derive_scale, derive_offset;
    mgc_weight_slice *slices; /* [ndevices]; an OWNED weight's non-owners have local_shape 0 */
    uint64_t bytes_per_device;
} mgc_plan_weight;

typedef enum mgc_rope_kind { MGC_ROPE_DEFAULT, MGC_ROPE_LLAMA3, MGC_ROPE_LONGROPE } mgc_rope_kind;

typedef struct mgc_plan_rope {
    mgc_rope_kind kind;
    double theta;
    int dim;                /* rotary dim (= head_dim) */
    /* llama3 */
    double factor, low_freq_factor, high_freq_factor;
    int64_t original_max;   /* llama3 and longrope: original_max_position_embeddings */
    /* longrope */
    int64_t max_pos;        /* max_position_embeddings */
    double *short_factor, *long_factor; /* [dim/2] each */
} mgc_plan_rope;

typedef struct mgc_plan_buffer {
    int id;
    char *name;             /* for people and diffs: "l3.attn.q" */
    int64_t cols;           /* per-device width in values */
    mgc_dtype dtype;        /* activation dtype (values are rounded to it) */
    int64_t offset;         /* arena offset, in values */
    int64_t size;           /* rows * cols, in values */
    int first, last;        /* live from op index first to last (inclusive) */
} mgc_plan_buffer;

typedef struct mgc_plan_op {
    mgc_kernel kernel;
    int in[3];              /* buffer ids, -1 = unused */
    int out;                /* buffer id, -1 = none */
    int weight;             /* weight index, -1 = none */
    int layer;              /* cache layer, -1 = none */
    int rope;               /* rope table index, -1 = none */
    int n_heads, n_kv_heads, head_dim; /* per device */
    int group;              /* rms_norm, layer_norm: 0 = whole row, else per-head width */
    double eps, scale;
    int weight2;            /* layer_norm: its bias (BIAS role); -1 = none */
    int64_t window;         /* sdpa, sdpa_decode: sliding window (query i sees keys j with i - window < j <= i); 0 = none */
    double softcap;         /* sdpa, sdpa_decode: scores = tanh(s / softcap) * softcap after scaling, before the mask; 0 = none */
    int top_k;              /* route */
    int expert;             /* expert_scale: the column of the routing weights */
    int replicas;           /* shard: devices that share one piece (1 = none) */
    /* >= 0: only this device runs the op (expert parallel); every other device
     * fills the op's output buffer with zeros instead.  -1 = every device. */
    int device;
    int64_t vocab;          /* OUTPUT: real vocab size (after trimming padding) */
    int tap;                /* >= 0: the output is residual-stream snapshot #tap (for
                             * layer-by-layer comparison): 0 the embeddings, i the
                             * output of decoder layer i-1, n_taps-1 the final norm;
                             * -1 = none */
    char *where;            /* spec location it came from, "file:line:col" */
} mgc_plan_op;

typedef struct mgc_plan_entry {
    int64_t rows;           /* max rows: prefill max sequence (padded to the tile), decode users (padded to 32) */
    int input;              /* buffer holding token ids (one per row) */
    mgc_plan_op *ops;       size_t nops;
    mgc_plan_buffer *bufs;  size_t nbufs;
    int64_t arena_values;   /* arena size per device, in values */
} mgc_plan_entry;

typedef struct mgc_plan_memory {
    uint64_t weights, kv_cache, activations, total, dram; /* bytes per device */
    uint64_t usable; /* dram less the system's reserved part (set by the compiler; not in the YAML) */
} mgc_plan_memory;

typedef struct mgc_plan {
    char *model;            /* HF id */
    char *spec;             /* spec path as given (informational) */
    char *system;
    int mesh[2];
    int ndevices;
    char *topology;
    uint64_t dram_bytes;
    int tile;
    /* model facts the runtime checks a checkpoint against */
    int64_t hidden, vocab, padded_vocab, n_layers;
    int n_taps;             /* residual-stream snapshots the prefill entry records (0 = none) */
    mgc_dtype weights_dtype, act_dtype, kv_dtype;  /* the spec-wide defaults, for reports */
    /* KV cache per device: [users, kv_heads, max_len, head_dim] per layer */
    int64_t cache_users, cache_kv_heads, cache_len, cache_head_dim, cache_layers;
    mgc_plan_weight *weights; size_t nweights;
    mgc_plan_rope *ropes;     size_t nropes;
    mgc_plan_entry prefill, decode;
    mgc_plan_memory memory;
    /* Accuracy the bringup must reach in eval (the spec's `expect` statement);
     * a negative value means no floor.  `mgc eval` fails when one is missed. */
    double expect_top1, expect_top5, expect_pcc;
} mgc_plan;

void mgc_plan_free(mgc_plan *p);

/* Serialization (plan_io.c).  Writing is atomic: a temporary file next to
 * `path`, then rename; on error nothing is left and an existing file is
 * untouched.  path "-" writes to stdout.  Reading validates everything (types,
 * ranges, buffer/weight indices, slices inside the checkpoint shape, memory
 * arithmetic) and names the file, line and cause of the first problem. */
int mgc_plan_write(const mgc_plan *p, const char *path, mgc_error *e);
char *mgc_plan_to_string(const mgc_plan *p, mgc_error *e); /* malloc'd YAML */
int mgc_plan_read(const char *path, mgc_plan *out, mgc_error *e);
int mgc_plan_parse(const char *label, const char *text, size_t len, mgc_plan *out, mgc_error *e);
/* Structural validation (also run by read): indices in range, live ranges
 * consistent with the op list, arena offsets non-overlapping for buffers live
 * at the same time, slices inside checkpoint shapes.  In detail, besides
 * ranges and indices (plan.c has the full list):
 *   - ndevices == mesh[0] * mesh[1]; memory.total == weights + kv_cache +
 *     activations, memory.dram == dram_bytes, total <= dram;
 *   - a weight's slices: every dimension not split reads the whole part
 *     ([row0, row0+shape[0]) on dim 0); the split dimension's pieces are
 *     contiguous in device order and cover the part, local size padded/ndevices;
 *     bytes_per_device == mgc_dtype_bytes(dtype, local_shape[0] * local_shape[1]);
 *     rank 2 for linear/embedding roles, 1 for norm; ids unique;
 *   - buffers: bufs[i].id == i, size == rows * cols, offset + size <=
 *     arena_values, 0 <= first <= last < nops; the input buffer is i32 with 1 col;
 *   - ops: what the kernel needs is present (inputs, output, weight of the
 *     right role, cache layer, rope, heads, eps, scale, vocab); fill_cache,
 *     update_cache and output have no output buffer; fill_cache/sdpa only in
 *     prefill, update_cache/sdpa_decode only in decode; every buffer an op
 *     touches is live at that op, and every buffer it reads (bar the input)
 *     was written by an earlier op.
 *   - plan version 2: split with replicas r: r divides ndevices, padded is a
 *     multiple of ndevices / r, device d reads piece d / r (replicas read the
 *     same range); owned: owner is a device, its slice covers the part, every
 *     other slice is empty with local size 0; a transposed weight is rank 2,
 *     its ranges are checked against hf_shape swapped; derive values finite;
 *     a bias is rank 1 and f32; memory.weights >= the largest per-device sum
 *     of bytes_per_device (an owned weight counts on its owner only);
 *     ops: window/softcap only on sdpa/sdpa_decode (>= 0), weight2 only on
 *     layer_norm (a bias as long as its weight), top_k in 1..E on route,
 *     expert < routing columns on expert_scale, replicas dividing ndevices on
 *     shard (1 elsewhere), device in -1..ndevices-1 and never on a collective,
 *     an op using an owned weight runs on its owner only, a rope table not
 *     wider than the rotary op's head_dim, pos_embedding's table at least as
 *     long as the plan's longest sequence, div_scalar not by 0; expect
 *     floors negative (none) or in 0..1.
 * Replicated and owned weights ignore `dim` and `padded`. */
int mgc_plan_validate(const mgc_plan *p, mgc_error *e);

/* Which record a validation failure is about, so that a reader can put the
 * line of that record in front of the message. */
typedef enum mgc_plan_part {
    MGC_PART_PLAN, MGC_PART_SYSTEM, MGC_PART_FACTS, MGC_PART_PRECISION,
    MGC_PART_KV_CACHE, MGC_PART_MEMORY, MGC_PART_ROPE, MGC_PART_WEIGHT,
    MGC_PART_SLICE, MGC_PART_ENTRY, MGC_PART_BUFFER, MGC_PART_OP,
} mgc_plan_part;
typedef struct mgc_plan_where {
    mgc_plan_part part;
    int entry;              /* ENTRY, BUFFER, OP: 0 = prefill, 1 = decode */
    size_t index;           /* ROPE, WEIGHT, SLICE (the weight), BUFFER, OP */
    size_t sub;             /* SLICE: the device */
} mgc_plan_where;
/* mgc_plan_validate that also says where (if `where` is non-NULL). */
int mgc_plan_validate_where(const mgc_plan *p, mgc_plan_where *where, mgc_error *e);

#endif
