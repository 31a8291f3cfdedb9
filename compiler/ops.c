/* ops.c: the table of built-in ops (see ops.h and docs/language.md). */
#include "ops.h"

#include <string.h>

/* name, min/max positional, keywords, any_keyword, min_keywords, anchor, constant, signature */
const mgc_op_info mgc_ops[] = {
    {"embedding", 2, 2, {"vocab", "dim"}, 0, 0, 1, 0, "embedding(tokens, W, vocab=V, dim=D)"},
    {"position_embedding", 2, 2, {"max_pos", "dim"}, 0, 0, 1, 0, "position_embedding(tokens, W, max_pos=P, dim=D)"},
    {"linear", 2, 2, {"out", "bias"}, 0, 0, 1, 0, "linear(x, W, out=N, bias=B)"},
    {"transpose", 1, 1, {0}, 0, 0, 0, 0, "transpose(W)"},
    {"rms_norm", 3, 3, {0}, 0, 0, 0, 0, "rms_norm(x, W, eps)"},
    {"layer_norm", 3, 4, {0}, 0, 0, 0, 0, "layer_norm(x, W, [B,] eps)"},
    {"heads", 2, 2, {0}, 0, 0, 0, 0, "heads(x, n)"},
    {"concat_heads", 1, 1, {0}, 0, 0, 0, 0, "concat_heads(x)"},
    {"rope_default", 2, 2, {0}, 0, 0, 0, 1, "rope_default(theta, dim)"},
    {"rope_llama3", 3, 3, {0}, 0, 0, 0, 1, "rope_llama3(theta, dim, scaling)"},
    {"rope_longrope", 5, 5, {0}, 0, 0, 0, 1, "rope_longrope(theta, dim, scaling, max_pos, original_max_pos)"},
    {"rotary", 2, 2, {0}, 0, 0, 0, 0, "rotary(x, rope)"},
    {"attention", 4, 4, {"scale", "window", "softcap"}, 0, 0, 1, 0, "attention(q, k, v, cache, scale=s, window=W, softcap=c)"},
    {"moe", 3, 8, {"experts", "top_k"}, 0, 0, 1, 0, "moe(h, W_router, expert_def, args..., experts=E, top_k=K)"},
    {"silu", 1, 1, {0}, 0, 0, 0, 0, "silu(x)"},
    {"gelu", 1, 1, {0}, 0, 0, 0, 0, "gelu(x)"},
    {"gelu_tanh", 1, 1, {0}, 0, 0, 0, 0, "gelu_tanh(x)"},
    {"gelu_new", 1, 1, {0}, 0, 0, 0, 0, "gelu_new(x)"},
    {"tanh", 1, 1, {0}, 0, 0, 0, 0, "tanh(x)"},
    {"exp", 1, 1, {0}, 0, 0, 0, 0, "exp(x)"},
    {"relu", 1, 1, {0}, 0, 0, 0, 0, "relu(x)"},
    {"sigmoid", 1, 1, {0}, 0, 0, 0, 0, "sigmoid(x)"},
    {"act", 2, 2, {0}, 0, 0, 0, 0, "act(x, name)"},
    {"softcap", 2, 2, {0}, 0, 0, 0, 0, "softcap(x, c)"},
    {"fused", 1, 1, {0}, 1, 1, 0, 0, "fused(W, name=rows, ...)"},
    {"all_reduce", 1, 1, {0}, 0, 0, 0, 0, "all_reduce(x)"},
    {"all_gather", 1, 1, {0}, 0, 0, 0, 0, "all_gather(x)"},
};
const size_t mgc_nops = sizeof mgc_ops / sizeof mgc_ops[0];

const mgc_op_info *mgc_op_find(const char *name)
{
    for (size_t i = 0; i < mgc_nops; i++)
        if (strcmp(mgc_ops[i].name, name) == 0)
            return &mgc_ops[i];
    return NULL;
}

int mgc_op_takes_keyword(const mgc_op_info *op, const char *kw)
{
    if (op->any_keyword)
        return 1;
    for (int i = 0; i < MGC_OP_MAX_KEYWORDS && op->keywords[i]; i++)
        if (strcmp(op->keywords[i], kw) == 0)
            return 1;
    return 0;
}
