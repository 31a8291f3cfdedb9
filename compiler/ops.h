/* ops.h: the built-in ops of the spec language (docs/language.md, "Ops").
 *
 * Pure data: what a call may look like, not what it computes.  The checker
 * uses it for arity, keyword and annotation-anchor checks and "did you mean";
 * the semantic pass looks ops up here by name and adds their meaning.  Adding
 * an op means adding a row to the table in ops.c (and to the docs). */
#ifndef MGC_OPS_H
#define MGC_OPS_H

#include <stddef.h>

enum { MGC_OP_MAX_KEYWORDS = 4 };

typedef struct mgc_op_info {
    const char *name;
    int min_args, max_args;     /* positional arguments */
    /* Keyword arguments the op takes (unused slots NULL).  With any_keyword,
     * every name is allowed (fused: the names are the parts) and at least
     * min_keywords must be given. */
    const char *keywords[MGC_OP_MAX_KEYWORDS];
    int any_keyword, min_keywords;
    /* The anchor of a statement's annotations: the op takes a weight or the
     * KV cache (linear, embedding, attention). */
    int anchor;
    /* Computes a constant (a RoPE table): allowed in `let`. */
    int constant;
    const char *signature;      /* for messages: "linear(x, W, out=N)" */
} mgc_op_info;

extern const mgc_op_info mgc_ops[];
extern const size_t mgc_nops;

/* The op called `name`, or NULL. */
const mgc_op_info *mgc_op_find(const char *name);

/* 1 if `op` takes keyword `kw`. */
int mgc_op_takes_keyword(const mgc_op_info *op, const char *kw);

#endif
