/* ir.h: the compiler's intermediate representation.
 *
 * Elaboration (elab.c) runs a checked spec against a config.json: it expands
 * defs, unrolls loops, evaluates constants and produces this IR, a list of
 * nodes in SSA form, in topological order (a node only uses earlier nodes).
 * Every node has a concrete width (the symbolic dimension T, the token rows,
 * is left out: every activation is [T, width], with heads a view
 * [T, heads, head_dim]), an activation dtype, and a sharding over the mesh.
 * Sharding is seeded by the statement annotations and propagated as nodes are
 * created; the collectives it implies are nodes of their own.
 *
 * One IR serves both entry points: lowering (lower.c) turns `attention` into
 * cache-fill + causal attention for prefill and cache-update + decode
 * attention for decode. */
#ifndef MGC_IR_H
#define MGC_IR_H

#include <stdint.h>

#include "ast.h"
#include "plan.h"

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
} mgc_ir_opcode;

typedef enum mgc_sharding {
    MGC_SH_REPLICATED,   /* every device holds all of the value */
    MGC_SH_SPLIT,        /* split on the last dimension (by heads for a heads view) */
    MGC_SH_PARTIAL,      /* every device holds a partial sum */
} mgc_sharding;

typedef struct mgc_ir_weight {
    const char *id, *hf_name;
    int tied;
    int rank;
    int64_t rows, cols;      /* logical shape [rows, cols] (rank 1: [rows]) */
    int64_t row0;            /* first row in the checkpoint tensor (fused part) */
    int64_t hf_rows;         /* rows of the whole checkpoint tensor */
    mgc_weight_role role;
    mgc_dtype dtype;
    mgc_shard_kind shard;
    int dim;                 /* split dimension */
    int64_t padded;          /* split dimension after padding (set by the padding pass) */
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
    mgc_dtype act;
    mgc_sharding sh;
    int64_t padded;          /* width after padding, for split values (set by the padding pass) */
    int inserted;            /* a collective the compiler inserted (not written in the spec) */
    mgc_span span;
} mgc_ir_node;

typedef struct mgc_ir {
    mgc_arena arena;
    mgc_ir_node *nodes;    size_t nnodes, capnodes;
    mgc_ir_weight *weights; size_t nweights, capweights;
    mgc_ir_rope *ropes;    size_t nropes, capropes;
    int input, output;
    /* residual-stream snapshots for layer-by-layer comparison: the value
     * entering the first decoder layer, after each layer, and the final norm */
    int *taps;             size_t ntaps, captaps;
    int ndevices;
    /* cache */
    int cache_layers;
    int64_t cache_len, cache_users, kv_heads, head_dim;
    int cache_split;         /* attention @heads: cache split by KV heads */
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
