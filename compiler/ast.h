/* ast.h: the syntax tree of one .graph file.
 *
 * The parser (grammar/mgc.y) builds it; the checker, the formatter and the
 * compiler's semantic pass read it.  It records what was written and where,
 * and nothing else: no config values, no shapes, no decisions about what an
 * op means.  Every node carries the span of source text it came from.
 *
 * Memory: every node, string and array of a file lives in that file's arena
 * (mgc_ast_file.arena) and is freed with it by mgc_ast_free(). */
#ifndef MGC_AST_H
#define MGC_AST_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h" /* common/arena.h */

/* A range of source text: 1-based line and column of the first character and
 * of the character just past the last one (columns count bytes). */
typedef struct mgc_span {
    const char *file; /* path as given to the parser (owned by the file's arena) */
    int line, col;
    int end_line, end_col;
} mgc_span;

typedef struct mgc_ast_expr mgc_ast_expr;
typedef struct mgc_ast_stmt mgc_ast_stmt;

typedef enum mgc_ast_expr_kind {
    MGC_EX_INT,     /* 32, 0x20                           -> ival           */
    MGC_EX_FLOAT,   /* 1e-5, 0.5                          -> fval (text kept) */
    MGC_EX_STRING,  /* "model.layers.{i}"  (may hold {name} templates)  -> str */
    MGC_EX_WEIGHT,  /* w"model.layers.{i}.mlp.up_proj.weight", optionally `tied` -> str, tied */
    MGC_EX_NAME,    /* x, config, cache, causal           -> str            */
    MGC_EX_MEMBER,  /* base.field   (config.hidden_size, qkv.q) -> lhs, str */
    MGC_EX_INDEX,   /* base[index]  (cache[i])            -> lhs, rhs       */
    MGC_EX_CALL,    /* callee(args)  (linear(h, w"..."))  -> str=callee, args */
    MGC_EX_BINARY,  /* lhs op rhs                         -> op, lhs, rhs   */
    MGC_EX_UNARY,   /* -rhs, not rhs                      -> op, rhs        */
    MGC_EX_COND,    /* lhs if cond else rhs  (only the chosen side is evaluated) */
} mgc_ast_expr_kind;

typedef enum mgc_ast_binop {
    MGC_OP_ADD,      /* +  */
    MGC_OP_SUB,      /* -  */
    MGC_OP_MUL,      /* *  */
    MGC_OP_DIV,      /* /  */
    MGC_OP_DEFAULT,  /* ?? : left if it is present in config.json, else right */
    MGC_OP_NEG,      /* unary - */
    MGC_OP_POW,      /* ** (right-associative, binds tighter than unary -) */
    MGC_OP_FLOORDIV, /* // (Python: rounds toward -inf) */
    MGC_OP_MOD,      /* %  (Python: the sign of the divisor) */
    MGC_OP_EQ,       /* == */
    MGC_OP_NE,       /* != */
    MGC_OP_LT,       /* <  */
    MGC_OP_LE,       /* <= */
    MGC_OP_GT,       /* >  */
    MGC_OP_GE,       /* >= */
    MGC_OP_AND,      /* and (the right side only if the left is true) */
    MGC_OP_OR,       /* or  (the right side only if the left is false) */
    MGC_OP_NOT,      /* unary not */
} mgc_ast_binop;

/* A call argument: positional (name == NULL) or keyword (name=value). */
typedef struct mgc_ast_arg {
    const char *name;
    mgc_span name_span;
    mgc_ast_expr *value;
} mgc_ast_arg;

struct mgc_ast_expr {
    mgc_ast_expr_kind kind;
    mgc_span span;
    int64_t ival;
    double fval;
    const char *str;       /* literal text (without quotes), name, member field or callee */
    const char *num_text;  /* numbers: the text as written, so fmt reprints it unchanged */
    int tied;              /* MGC_EX_WEIGHT written as `tied w"..."` */
    mgc_ast_binop op;
    mgc_ast_expr *lhs, *rhs;
    mgc_ast_expr *cond;    /* MGC_EX_COND: the condition (lhs if cond else rhs) */
    mgc_span str_span;     /* span of the member field / callee name */
    mgc_ast_arg *args;
    size_t nargs;
    int depth;             /* height of this subtree (1 for a leaf); the parser caps it */
};

/* `@name` or `@name=value` after a statement: @col, @row, @replicated, @heads,
 * @weights=bf8_b, @activations=f32. */
typedef struct mgc_ast_annot {
    const char *name;
    const char *value;     /* NULL when written without `=` */
    mgc_span span;         /* from '@' to the end of the value */
    mgc_span value_span;
} mgc_ast_annot;

/* One `key=value` of a `precision` or `cache` statement.  The key is a plain
 * name (weights, kv_cache, max_seq_len) or a weight-name pattern w"*.mlp.*". */
typedef struct mgc_ast_setting {
    const char *key;
    int key_is_pattern;
    mgc_span key_span;
    mgc_ast_expr *value;
} mgc_ast_setting;

/* A parameter of a def or of forward. */
typedef struct mgc_ast_param {
    const char *name;
    mgc_span span;
} mgc_ast_param;

typedef enum mgc_ast_stmt_kind {
    /* top level */
    MGC_ST_IMPORT,     /* import "path"                          -> str        */
    MGC_ST_MODEL,      /* model "org/name" on system             -> str, name  */
    MGC_ST_PRECISION,  /* precision weights=bf16 w"*.mlp.*"=bf8_b -> settings   */
    MGC_ST_CACHE,      /* cache max_seq_len=1024                 -> settings   */
    MGC_ST_LET,        /* let name = expr       (also in bodies) -> name, value */
    MGC_ST_DEF,        /* def name(params) { body }              -> name, params, body */
    MGC_ST_FORWARD,    /* forward(params) { body }               -> params, body */
    MGC_ST_IGNORE,     /* ignore w"glob" | ignore config.key     -> value (a weight or config member) */
    MGC_ST_EXPECT,     /* expect top1=0.95 top5=1.0 pcc=0.999    -> settings   */
    /* in a body */
    MGC_ST_ASSIGN,     /* name = expr @annots                    -> name, value, annots */
    MGC_ST_FOR,        /* for name in lo .. hi { body }          -> name, lo, hi, body */
    MGC_ST_RETURN,     /* return expr @annots                    -> value, annots */
} mgc_ast_stmt_kind;

struct mgc_ast_stmt {
    mgc_ast_stmt_kind kind;
    mgc_span span;          /* the whole statement */
    const char *str;        /* import path, model id */
    const char *name;       /* system (MODEL), bound name (LET/ASSIGN/DEF/FOR) */
    mgc_span name_span;
    mgc_ast_expr *value;    /* LET/ASSIGN/RETURN value; FOR lower bound */
    mgc_ast_expr *hi;       /* FOR upper bound (exclusive) */
    mgc_ast_param *params;  size_t nparams;
    mgc_ast_stmt **body;    size_t nbody;
    mgc_ast_annot *annots;  size_t nannots;
    mgc_ast_setting *settings; size_t nsettings;
    mgc_span body_span;     /* DEF/FORWARD/FOR: from '{' to '}' (the formatter places comments by it) */
};

/* A comment as written ("# ..." up to the end of the line, without the
 * newline).  Kept so that `mgc fmt` can reprint it; the parser does not attach
 * comments to nodes, the formatter places them by line. */
typedef struct mgc_ast_comment {
    int line, col;
    const char *text;
} mgc_ast_comment;

typedef struct mgc_ast_file {
    mgc_arena arena;
    const char *path;
    const char *source;      /* the whole file, NUL-terminated (a copy) */
    size_t source_len;
    mgc_ast_stmt **stmts;    size_t nstmts;
    mgc_ast_comment *comments; size_t ncomments;
    size_t syntax_errors;    /* errors the lexer and parser reported: the tree is partial */
} mgc_ast_file;

void mgc_ast_free(mgc_ast_file *f);

/* How an operator is written in a spec: "+", "**", "and", ... */
const char *mgc_ast_op_text(mgc_ast_binop op);

/* Writes a span-free S-expression of the tree (used by `--emit ast` and by
 * the tests that check parse(fmt(x)) == parse(x)).  Returns a malloc'd string. */
char *mgc_ast_dump(const mgc_ast_file *f);

#endif
