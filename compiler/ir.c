/* ir.c: IR bookkeeping and its text and Graphviz renderings. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static const char *const opnames[] = {
    [MGC_IR_INPUT] = "input",       [MGC_IR_EMBEDDING] = "embedding",
    [MGC_IR_LINEAR] = "linear",     [MGC_IR_RMS_NORM] = "rms_norm",
    [MGC_IR_HEADS] = "heads",       [MGC_IR_CONCAT_HEADS] = "concat_heads",
    [MGC_IR_ROTARY] = "rotary",     [MGC_IR_ATTENTION] = "attention",
    [MGC_IR_ADD] = "add",           [MGC_IR_SUB] = "sub",
    [MGC_IR_MUL] = "mul",           [MGC_IR_SCALE] = "scale",
    [MGC_IR_SILU] = "silu",         [MGC_IR_GELU] = "gelu",
    [MGC_IR_GELU_TANH] = "gelu_tanh", [MGC_IR_ALL_REDUCE] = "all_reduce",
    [MGC_IR_ALL_GATHER] = "all_gather", [MGC_IR_OUTPUT] = "output",
    [MGC_IR_ADD_BIAS] = "add_bias",   [MGC_IR_LAYER_NORM] = "layer_norm",
    [MGC_IR_ADD_SCALAR] = "add_scalar", [MGC_IR_DIV_SCALAR] = "div_scalar",
    [MGC_IR_DIV] = "div",           [MGC_IR_TANH] = "tanh",
    [MGC_IR_EXP] = "exp",           [MGC_IR_RELU] = "relu",
    [MGC_IR_SIGMOID] = "sigmoid",   [MGC_IR_SOFTCAP] = "softcap",
    [MGC_IR_POS_EMBEDDING] = "position_embedding", [MGC_IR_ROUTE] = "route",
    [MGC_IR_EXPERT_SCALE] = "expert_scale", [MGC_IR_SHARD] = "shard",
};

const char *mgc_ir_opcode_name(mgc_ir_opcode op)
{
    return (unsigned)op < sizeof opnames / sizeof opnames[0] && opnames[op] ? opnames[op] : "?";
}

const char *mgc_sharding_name(mgc_sharding s)
{
    switch (s) {
    case MGC_SH_REPLICATED: return "replicated";
    case MGC_SH_SPLIT: return "split";
    case MGC_SH_PARTIAL: return "partial";
    case MGC_SH_OWNED: return "owned";
    }
    return "?";
}

void mgc_ir_free(mgc_ir *ir)
{
    mgc_arena_free(&ir->arena);
    memset(ir, 0, sizeof *ir);
}

void mgc_ir_own_spans(mgc_ir *ir)
{
    /* Spans point into the syntax trees' arenas; copy the file names so the
     * IR outlives the program it came from. */
    const char *from[64], *to[64];
    size_t n = 0;
    for (size_t i = 0; i < ir->nnodes + ir->nweights + ir->nropes; i++) {
        mgc_span *sp = i < ir->nnodes ? &ir->nodes[i].span
                       : i < ir->nnodes + ir->nweights ? &ir->weights[i - ir->nnodes].span
                                                        : &ir->ropes[i - ir->nnodes - ir->nweights].span;
        if (!sp->file)
            continue;
        size_t k = 0;
        while (k < n && from[k] != sp->file)
            k++;
        if (k == n) {
            if (n == 64) {
                sp->file = NULL;
                continue;
            }
            from[n] = sp->file;
            to[n] = mgc_arena_strdup(&ir->arena, sp->file);
            n++;
        }
        sp->file = to[k];
    }
}

static void shape(mgc_strbuf *b, const mgc_ir *ir, const mgc_ir_node *n)
{
    if (n->heads)
        mgc_sb_printf(b, "[T, %d, %lld]", n->heads, (long long)n->head_dim);
    else
        mgc_sb_printf(b, "[T, %lld]", (long long)n->width);
    mgc_sb_printf(b, " %s %s", mgc_dtype_name(n->act), mgc_sharding_name(n->sh));
    if (n->sh == MGC_SH_SPLIT && ir->ndevices > 1)
        mgc_sb_printf(b, "(%lld/device%s)", (long long)mgc_ir_local_width(ir, n), n->replicas > 1 ? ", replicated" : "");
    if (n->sh == MGC_SH_SPLIT && n->replicas > 1)
        mgc_sb_printf(b, "x%d", n->replicas);
    if (n->sh == MGC_SH_OWNED)
        mgc_sb_printf(b, "(device %d)", n->device);
}

char *mgc_ir_to_text(const mgc_ir *ir)
{
    mgc_strbuf b = {0};
    mgc_sb_printf(&b, "# IR of %s for %s (%d device%s)\n", ir->model ? ir->model : "?", ir->system ? ir->system : "?",
                  ir->ndevices, ir->ndevices == 1 ? "" : "s");
    for (size_t i = 0; i < ir->nweights; i++) {
        const mgc_ir_weight *w = &ir->weights[i];
        mgc_sb_printf(&b, "w%zu = %s", i, w->id);
        if (w->rank == 2)
            mgc_sb_printf(&b, " [%lld, %lld]", (long long)w->rows, (long long)w->cols);
        else
            mgc_sb_printf(&b, " [%lld]", (long long)w->rows);
        mgc_sb_printf(&b, " %s", mgc_dtype_name(w->dtype));
        if (w->transposed)
            mgc_sb_puts(&b, " transposed");
        if (w->derive_scale != 1.0 || w->derive_offset != 0.0)
            mgc_sb_printf(&b, " derived(%g * w + %g)", w->derive_scale, w->derive_offset);
        if (w->shard == MGC_SHARD_SPLIT)
            mgc_sb_printf(&b, " split(dim %d, padded %lld%s)", w->dim, (long long)w->padded,
                          w->replicas > 1 ? ", replicated" : "");
        else if (w->shard == MGC_SHARD_OWNED)
            mgc_sb_printf(&b, " owned(device %d)", w->owner);
        else
            mgc_sb_puts(&b, " replicated");
        mgc_sb_putc(&b, '\n');
    }
    for (size_t i = 0; i < ir->nnodes; i++) {
        const mgc_ir_node *n = &ir->nodes[i];
        mgc_sb_printf(&b, "%%%zu = %s(", i, mgc_ir_opcode_name(n->op));
        for (int k = 0; k < n->nin; k++)
            mgc_sb_printf(&b, "%s%%%d", k ? ", " : "", n->in[k]);
        if (n->weight >= 0)
            mgc_sb_printf(&b, "%sw%d", n->nin ? ", " : "", n->weight);
        if (n->op == MGC_IR_ATTENTION)
            mgc_sb_printf(&b, ", cache[%d]", n->layer);
        if (n->weight2 >= 0)
            mgc_sb_printf(&b, ", w%d", n->weight2);
        if (n->op == MGC_IR_ROTARY)
            mgc_sb_printf(&b, ", rope%d", n->rope);
        if (n->op == MGC_IR_ATTENTION && n->window)
            mgc_sb_printf(&b, ", window=%lld", (long long)n->window);
        if (n->op == MGC_IR_ATTENTION && n->softcap)
            mgc_sb_printf(&b, ", softcap=%g", n->softcap);
        if (n->op == MGC_IR_ROUTE)
            mgc_sb_printf(&b, ", top_k=%d", n->top_k);
        if (n->op == MGC_IR_EXPERT_SCALE)
            mgc_sb_printf(&b, ", expert %d", n->expert);
        mgc_sb_puts(&b, ") : ");
        shape(&b, ir, n);
        static const char *const anns[] = {"", "@col", "@row", "@replicated", "@heads", "@experts"};
        if (n->ann != MGC_ANN_NONE)
            mgc_sb_printf(&b, "   # %s", anns[n->ann]);
        if (n->inserted && n->op != MGC_IR_OUTPUT)
            mgc_sb_puts(&b, "   # inserted");
        mgc_sb_putc(&b, '\n');
    }
    return mgc_sb_take(&b);
}

char *mgc_ir_to_dot(const mgc_ir *ir)
{
    mgc_strbuf b = {0};
    mgc_sb_printf(&b, "digraph mgc {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n");
    mgc_sb_printf(&b, "  label=\"%s on %s\";\n", ir->model ? ir->model : "?", ir->system ? ir->system : "?");
    for (size_t i = 0; i < ir->nnodes; i++) {
        const mgc_ir_node *n = &ir->nodes[i];
        const char *color = n->sh == MGC_SH_SPLIT ? "lightblue" : n->sh == MGC_SH_PARTIAL ? "orange" : "white";
        if (n->op == MGC_IR_ALL_REDUCE || n->op == MGC_IR_ALL_GATHER || n->op == MGC_IR_OUTPUT)
            color = "palegreen";
        mgc_sb_printf(&b, "  n%zu [style=filled, fillcolor=%s, label=\"%%%zu %s", i, color, i, mgc_ir_opcode_name(n->op));
        if (n->weight >= 0)
            mgc_sb_printf(&b, "\\n%s", ir->weights[n->weight].id);
        mgc_sb_puts(&b, "\\n");
        shape(&b, ir, n);
        mgc_sb_puts(&b, "\"];\n");
        for (int k = 0; k < n->nin; k++)
            mgc_sb_printf(&b, "  n%d -> n%zu;\n", n->in[k], i);
    }
    mgc_sb_puts(&b, "}\n");
    return mgc_sb_take(&b);
}
