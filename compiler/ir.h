/* ir.h: the compiler's intermediate representation.
 *
 * Elaboration (elab.c) runs a checked spec against a config.json: it expands
 * defs, unrolls loops, evaluates constants and produces this IR, a list of
 * nodes in SSA form, in topological order (a node only uses earlier nodes).
 * Every node has a concrete width (the symbolic dimension T, the token rows,
 * is left out: every activation is [T, width], with heads a view
 * [T, heads, head_dim]) and an activation dtype.  Elaboration records each
 * anchor op's sharding annotation (`ann`); the sharding pass (shard.c) then
 * decides every node's sharding over the mesh and every weight's
 * distribution, and inserts the collectives they imply as nodes of their own.
 *
 * One IR serves both entry points: lowering (lower.c) turns `attention` into
 * cache-fill + causal attention for prefill and cache-update + decode
 * attention for decode. */
#ifndef MGC_IR_H
#define MGC_IR_H

#include <stdint.h>

#include "ast.h"
#include "plan.h"

/* cache[i] takes 0 <= i < this: the most layers with attention a spec can have. */
#define MGC_MAX_CACHE_LAYERS 4096

typedef enum mgc_ir_opcode {
    MGC_IR_INPUT,        /* token ids */
    MGC_IR_EMBEDDING,
    MGC_IR_LINEAR,
    MGC_IR_RMS_NORM,
    MGC_IR_HEADS,        /* view */
    MGC_IR_CONCAT_HEADS, /* view */
    MGC_IR_ROTARY,
    MGC_IR_ATTENTION,
    MGC_IR_ADD, MGC_IR_SUB, MGC_IR_MUL, MGC_IR_SCALE,
    MGC_IR_SILU, MGC_IR_GELU, MGC_IR_GELU_TANH,
    MGC_IR_ALL_REDUCE,   /* partial -> replicated */
    MGC_IR_ALL_GATHER,   /* split -> replicated */
    MGC_IR_OUTPUT,       /* logits to the host (gathers vocab shards) */
    MGC_IR_ADD_BIAS,     /* in0 + weight (a [width] vector) */
    MGC_IR_LAYER_NORM,   /* weight: gamma, weight2: beta or -1 */
    MGC_IR_ADD_SCALAR, MGC_IR_DIV_SCALAR, MGC_IR_DIV,
    MGC_IR_TANH, MGC_IR_EXP, MGC_IR_RELU, MGC_IR_SIGMOID,
    MGC_IR_SOFTCAP,      /* tanh(x / scale) * scale */
    MGC_IR_POS_EMBEDDING,/* learned absolute positions */
    MGC_IR_ROUTE,        /* MoE router: logits [T, E] -> top-k renormalised weights [T, E] */
    MGC_IR_EXPERT_SCALE, /* in0 * in1[:, expert] */
    MGC_IR_SHARD,        /* replicated -> this device's piece (inserted by the sharding pass) */
} mgc_ir_opcode;

/* A statement's sharding annotation, recorded on its anchor op. */
typedef enum mgc_ann {
    MGC_ANN_NONE, MGC_ANN_COL, MGC_ANN_ROW, MGC_ANN_REPLICATED, MGC_ANN_HEADS, MGC_ANN_EXPERTS,
} mgc_ann;

typedef enum mgc_sharding {
    MGC_SH_REPLICATED,   /* every device holds all of the value */
    MGC_SH_SPLIT,        /* split on the last dimension (by heads for a heads view) */
    MGC_SH_PARTIAL,      /* every device holds a partial sum */
    MGC_SH_OWNED,        /* only device `device` computes it, the others hold zeros (expert parallel) */
} mgc_sharding;

/* The def calls that were being expanded when a node was made, so that an
 * error found after elaboration (by the sharding pass) still names the
 * bringup line that reached it. */
typedef struct mgc_ir_chain {
    int depth;
    mgc_span *calls;
    const char **callees;
} mgc_ir_chain;

typedef struct mgc_ir_weight {
    const char *id, *hf_name;
    int tied;
    int rank;
    int64_t rows, cols;      /* logical shape [rows, cols] (rank 1: [rows]) */
    int64_t row0;            /* first row in the checkpoint tensor (fused part) */
    int64_t hf_rows;         /* rows of the whole checkpoint tensor */
    mgc_weight_role role;
    mgc_dtype dtype;
    int transposed;          /* stored [in, out] in the checkpoint (GPT-2 Conv1D) */
    double derive_scale, derive_offset; /* value = stored * scale + offset (1, 0: as stored) */
    /* decided by the sharding pass */
    mgc_shard_kind shard;
    int dim;                 /* split dimension */
    int replicas;            /* split: devices sharing each piece */
    int owner;               /* owned: the device holding it */
    int64_t padded;          /* split dimension after padding (set by the padding pass) */
    int placed;              /* the sharding pass has decided it (a second use must agree) */
    mgc_span span;
} mgc_ir_weight;

typedef struct mgc_ir_rope {
    mgc_plan_rope r;
    mgc_span span;
} mgc_ir_rope;

typedef struct mgc_ir_node {
    mgc_ir_opcode op;
    int in[3];
    int nin;
    int weight;              /* -1 none */
    int layer;               /* attention: cache layer */
    int rope;                /* rotary: rope index */
    int64_t width;           /* logical last-dimension size */
    int heads;               /* 0: flat; else the value is a heads view */
    int64_t head_dim;
    int kv_heads;            /* attention: KV heads of k and v */
    double eps, scale;
    int weight2;             /* layer_norm: the bias; -1 none */
    int64_t window;          /* attention: sliding window (0 = none) */
    double softcap;          /* attention: score soft-capping (0 = none) */
    int top_k;               /* route */
    int expert;              /* expert_scale: the routing column; every node: the expert it belongs to, or -1 */
    mgc_dtype act;
    mgc_ann ann;             /* the statement's annotation, on anchor ops */
    int moe_ep;              /* made inside an expert of a moe(...) @experts */
    int chain;               /* index into ir->chains, -1 = made at the forward's top level */
    /* decided by the sharding pass */
    mgc_sharding sh;
    int replicas;            /* split values: devices that share each piece (KV heads fewer than devices) */
    int device;              /* owned values: the device that computes them */
    int64_t padded;          /* width after padding, for split values (set by the padding pass) */
    int inserted;            /* a collective the compiler inserted (not written in the spec) */
    mgc_span span;
    mgc_span wspan;          /* where its weight was named (for errors about the weight) */
} mgc_ir_node;

typedef struct mgc_ir {
    mgc_arena arena;
    mgc_ir_node *nodes;    size_t nnodes, capnodes;
    mgc_ir_weight *weights; size_t nweights, capweights;
    mgc_ir_rope *ropes;    size_t nropes, capropes;
    mgc_ir_chain *chains;  size_t nchains, capchains;
    int input, output;
    /* residual-stream snapshots for layer-by-layer comparison: the value
     * entering the first decoder layer, after each layer, and the final norm */
    int *taps;             size_t ntaps, captaps;
    int ndevices;
    /* cache */
    int cache_layers;
    int64_t cache_len, cache_users, kv_heads, head_dim;
    int cache_split;         /* attention @heads: cache split by KV heads */
    int cache_replicas;      /* devices sharing each KV head (KV heads fewer than devices) */
    int64_t n_experts;       /* moe: experts per layer (0 = none), for reports */
    int experts_parallel;    /* moe @experts: experts distributed over the devices */
    /* facts */
    const char *model, *system;
    mgc_dtype weights_dtype, act_dtype, kv_dtype;
    int64_t hidden, vocab;
    double expect_top1;      /* the spec's `expect` accuracy floors, -1 when absent */
    double expect_top5;
    double expect_pcc;
} mgc_ir;

void mgc_ir_free(mgc_ir *ir);
const char *mgc_ir_opcode_name(mgc_ir_opcode op);
const char *mgc_sharding_name(mgc_sharding s);
/* Per-device width of a value (after padding). */
int64_t mgc_ir_local_width(const mgc_ir *ir, const mgc_ir_node *n);

/* Copies the spans' file names into the IR so it outlives the syntax trees. */
void mgc_ir_own_spans(mgc_ir *ir);

/* Text and Graphviz renderings (--emit ir, --emit dot). malloc'd strings. */
char *mgc_ir_to_text(const mgc_ir *ir);
char *mgc_ir_to_dot(const mgc_ir *ir);

#endif
