/* fmt.c: canonical formatting (see fmt.h).
 *
 * The layout of a statement depends only on its tree and its indent, never
 * on how it was written, which is what makes formatting idempotent.  Only
 * comments and blank lines are taken from the source, by line number. */
#include "fmt.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "scalar.h"
#include "strbuf.h"

typedef struct fmt {
    mgc_strbuf out;
    const mgc_ast_file *f;
    size_t ci;            /* next comment to place */
    size_t *line_start;   /* offsets of line starts in the source */
    size_t nlines;
    int indent;           /* of the statement being written, in columns */
} fmt;

/* ---- flat expressions ---- */

/* Binding strength, as in grammar/mgc.y (higher binds tighter).  Parentheses
 * are written where a child binds less tightly than its place requires. */
enum { P_COND = 1, P_OR, P_AND, P_NOT, P_CMP, P_DEFAULT, P_ADD, P_MUL, P_NEG, P_POW, P_ATOM };

static int prec(const mgc_ast_expr *e)
{
    if (e->kind == MGC_EX_BINARY) {
        switch (e->op) {
        case MGC_OP_OR: return P_OR;
        case MGC_OP_AND: return P_AND;
        case MGC_OP_EQ:
        case MGC_OP_NE:
        case MGC_OP_LT:
        case MGC_OP_LE:
        case MGC_OP_GT:
        case MGC_OP_GE: return P_CMP;
        case MGC_OP_DEFAULT: return P_DEFAULT;
        case MGC_OP_ADD:
        case MGC_OP_SUB: return P_ADD;
        case MGC_OP_POW: return P_POW;
        default: return P_MUL;
        }
    }
    if (e->kind == MGC_EX_COND)
        return P_COND;
    if (e->kind == MGC_EX_UNARY)
        return e->op == MGC_OP_NOT ? P_NOT : P_NEG;
    return P_ATOM;
}


/* Whether a binary operator's child needs parentheses.  Left-associative
 * operators: the right child at the same level does; `**` is
 * right-associative: the left child does; comparisons do not chain: both. */
static int child_parens(const mgc_ast_expr *parent, const mgc_ast_expr *child, int is_rhs)
{
    int p = prec(parent), c = prec(child);
    if (p == P_POW && is_rhs && c == P_NEG)
        return 0; /* 2 ** -1: a unary minus after ** needs none */
    if (c != p)
        return c < p || (parent->op == MGC_OP_POW && !is_rhs && c == P_NEG);
    if (p == P_POW)
        return !is_rhs;
    if (p == P_CMP)
        return 1;
    return is_rhs;
}

static const char *unary_text(const mgc_ast_expr *e) { return e->op == MGC_OP_NOT ? "not " : "-"; }

static void put_quoted(mgc_strbuf *b, const char *s)
{
    mgc_sb_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            mgc_sb_putc(b, '\\');
            mgc_sb_putc(b, *s);
        } else if (*s == '\n') {
            mgc_sb_puts(b, "\\n");
        } else if (*s == '\t') {
            mgc_sb_puts(b, "\\t");
        } else {
            mgc_sb_putc(b, *s);
        }
    }
    mgc_sb_putc(b, '"');
}

static void flat(mgc_strbuf *b, const mgc_ast_expr *e);

static void flat_child(mgc_strbuf *b, const mgc_ast_expr *e, int parens)
{
    if (parens)
        mgc_sb_putc(b, '(');
    flat(b, e);
    if (parens)
        mgc_sb_putc(b, ')');
}

static void flat_arg(mgc_strbuf *b, const mgc_ast_arg *a)
{
    if (a->name) {
        mgc_sb_puts(b, a->name);
        mgc_sb_putc(b, '=');
    }
    flat(b, a->value);
}

static void flat(mgc_strbuf *b, const mgc_ast_expr *e)
{
    switch (e->kind) {
    case MGC_EX_INT:
    case MGC_EX_FLOAT:
        mgc_sb_puts(b, e->num_text);
        break;
    case MGC_EX_STRING:
        put_quoted(b, e->str);
        break;
    case MGC_EX_WEIGHT:
        mgc_sb_puts(b, e->tied ? "tied w" : "w");
        put_quoted(b, e->str);
        break;
    case MGC_EX_NAME:
        mgc_sb_puts(b, e->str);
        break;
    case MGC_EX_MEMBER:
        flat_child(b, e->lhs, prec(e->lhs) < P_ATOM);
        mgc_sb_putc(b, '.');
        mgc_sb_puts(b, e->str);
        break;
    case MGC_EX_INDEX:
        flat_child(b, e->lhs, prec(e->lhs) < P_ATOM);
        mgc_sb_putc(b, '[');
        flat(b, e->rhs);
        mgc_sb_putc(b, ']');
        break;
    case MGC_EX_CALL:
        mgc_sb_puts(b, e->str);
        mgc_sb_putc(b, '(');
        for (size_t i = 0; i < e->nargs; i++) {
            if (i)
                mgc_sb_puts(b, ", ");
            flat_arg(b, &e->args[i]);
        }
        mgc_sb_putc(b, ')');
        break;
    case MGC_EX_BINARY:
        flat_child(b, e->lhs, child_parens(e, e->lhs, 0));
        mgc_sb_printf(b, " %s ", mgc_ast_op_text(e->op));
        flat_child(b, e->rhs, child_parens(e, e->rhs, 1));
        break;
    case MGC_EX_UNARY:
        mgc_sb_puts(b, unary_text(e));
        flat_child(b, e->rhs, prec(e->rhs) < prec(e));
        break;
    case MGC_EX_COND:
        /* `a if c else b`: a and c bind tighter; b may be another conditional */
        flat_child(b, e->lhs, prec(e->lhs) <= P_COND);
        mgc_sb_puts(b, " if ");
        flat_child(b, e->cond, prec(e->cond) <= P_COND);
        mgc_sb_puts(b, " else ");
        flat(b, e->rhs);
        break;
    }
}

static size_t flat_len(const mgc_ast_expr *e)
{
    mgc_strbuf b = {0};
    flat(&b, e);
    size_t n = b.len;
    mgc_sb_free(&b);
    return n;
}

/* ---- wrapping ---- */

static void spaces(mgc_strbuf *b, int n)
{
    for (int i = 0; i < n; i++)
        mgc_sb_putc(b, ' ');
}

static int layout(fmt *F, const mgc_ast_expr *e, int col, int tail);

static int layout_child(fmt *F, const mgc_ast_expr *e, int col, int tail, int parens)
{
    if (!parens)
        return layout(F, e, col, tail);
    mgc_sb_putc(&F->out, '(');
    col = layout(F, e, col + 1, tail + 1);
    mgc_sb_putc(&F->out, ')');
    return col + 1;
}

/* Writes e starting at column `col` (0-based), with `tail` columns of text
 * to follow it on its last line; returns the column after it.  Calls that do
 * not fit are broken between arguments: as many arguments per line as fit,
 * continuation lines aligned after the '(' (or, when that is far right,
 * indented 4 from the statement). */
static int layout(fmt *F, const mgc_ast_expr *e, int col, int tail)
{
    mgc_strbuf *b = &F->out;
    size_t w = flat_len(e);
    if ((size_t)col + w + (size_t)tail <= MGC_FMT_WIDTH || (e->kind != MGC_EX_CALL && e->kind != MGC_EX_BINARY &&
                                                         e->kind != MGC_EX_UNARY) ||
        (e->kind == MGC_EX_CALL && e->nargs == 0)) {
        flat(b, e);
        return col + (int)w;
    }
    if (e->kind == MGC_EX_UNARY) {
        const char *u = unary_text(e);
        mgc_sb_puts(b, u);
        return layout_child(F, e->rhs, col + (int)strlen(u), tail, prec(e->rhs) < prec(e));
    }
    if (e->kind == MGC_EX_BINARY) {
        const char *op = mgc_ast_op_text(e->op);
        int oplen = (int)strlen(op) + 2;
        col = layout_child(F, e->lhs, col, oplen, child_parens(e, e->lhs, 0));
        mgc_sb_printf(b, " %s ", op);
        return layout_child(F, e->rhs, col + oplen, tail, child_parens(e, e->rhs, 1));
    }
    mgc_sb_puts(b, e->str);
    mgc_sb_putc(b, '(');
    int align = col + (int)strlen(e->str) + 1;
    if (align > MGC_FMT_WIDTH / 2) {
        align = F->indent + 4;
        mgc_sb_putc(b, '\n');
        spaces(b, align);
    }
    int cur = align;
    for (size_t i = 0; i < e->nargs; i++) {
        const mgc_ast_arg *a = &e->args[i];
        int last = i + 1 == e->nargs;
        int suffix = last ? 1 + tail : 1;
        int kw = a->name ? (int)strlen(a->name) + 1 : 0;
        int aw = kw + (int)flat_len(a->value);
        if (i > 0) {
            if (cur + 1 + aw + suffix > MGC_FMT_WIDTH) {
                mgc_sb_puts(b, ",\n");
                spaces(b, align);
                cur = align;
            } else {
                mgc_sb_puts(b, ", ");
                cur += 2;
            }
        }
        if (a->name) {
            mgc_sb_puts(b, a->name);
            mgc_sb_putc(b, '=');
        }
        cur = layout(F, a->value, cur + kw, suffix);
    }
    mgc_sb_putc(b, ')');
    return cur + 1;
}

/* ---- comments and blank lines ---- */

static void build_lines(fmt *F)
{
    size_t cap = 64, n = 0;
    size_t *ls = malloc(cap * sizeof *ls);
    if (!ls)
        abort();
    ls[n++] = 0;
    for (size_t i = 0; i < F->f->source_len; i++)
        if (F->f->source[i] == '\n') {
            if (n == cap) {
                cap *= 2;
                ls = realloc(ls, cap * sizeof *ls);
                if (!ls)
                    abort();
            }
            ls[n++] = i + 1;
        }
    F->line_start = ls;
    F->nlines = n;
}

static int line_blank(const fmt *F, int line)
{
    if (line < 1 || (size_t)line > F->nlines)
        return 0;
    const char *s = F->f->source + F->line_start[line - 1];
    const char *end = F->f->source + F->f->source_len;
    for (; s < end && *s != '\n'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\f' && *s != '\v')
            return 0;
    return 1;
}

static int blank_between(const fmt *F, int a, int b)
{
    for (int l = a + 1; l < b; l++)
        if (line_blank(F, l))
            return 1;
    return 0;
}

/* A comment with only blanks before it on its line. */
static int own_line(const fmt *F, const mgc_ast_comment *c)
{
    if (c->line < 1 || (size_t)c->line > F->nlines)
        return 1;
    const char *s = F->f->source + F->line_start[c->line - 1];
    for (int i = 1; i < c->col; i++)
        if (s[i - 1] != ' ' && s[i - 1] != '\t' && s[i - 1] != '\r' && s[i - 1] != '\f' && s[i - 1] != '\v')
            return 0;
    return 1;
}

typedef struct cursor {
    int prev_end; /* last source line of the previous item */
    int first;    /* nothing written yet in this block */
} cursor;

static void before_item(fmt *F, cursor *cur, int line)
{
    if (!cur->first && blank_between(F, cur->prev_end, line))
        mgc_sb_putc(&F->out, '\n');
    cur->first = 0;
}

static void put_comment_line(fmt *F, const mgc_ast_comment *c)
{
    spaces(&F->out, F->indent);
    mgc_sb_puts(&F->out, c->text);
    mgc_sb_putc(&F->out, '\n');
}

/* ---- statements ---- */

static void put_annots(mgc_strbuf *b, const mgc_ast_stmt *s)
{
    for (size_t i = 0; i < s->nannots; i++) {
        mgc_sb_printf(b, " @%s", s->annots[i].name);
        if (s->annots[i].value)
            mgc_sb_printf(b, "=%s", s->annots[i].value);
    }
}

static void put_params(mgc_strbuf *b, const mgc_ast_stmt *s)
{
    mgc_sb_putc(b, '(');
    for (size_t i = 0; i < s->nparams; i++) {
        if (i)
            mgc_sb_puts(b, ", ");
        mgc_sb_puts(b, s->params[i].name);
    }
    mgc_sb_puts(b, ") {");
}

static int is_block(const mgc_ast_stmt *s)
{
    return s->kind == MGC_ST_DEF || s->kind == MGC_ST_FORWARD || s->kind == MGC_ST_FOR;
}

/* Writes a statement's text up to (not including) its newline: the whole
 * statement, or for a block the header ending in '{'. */
static void put_stmt_text(fmt *F, const mgc_ast_stmt *s)
{
    mgc_strbuf *b = &F->out;
    size_t start = b->len;
    spaces(b, F->indent);
    switch (s->kind) {
    case MGC_ST_IMPORT:
        mgc_sb_puts(b, "import ");
        put_quoted(b, s->str);
        return;
    case MGC_ST_MODEL:
        mgc_sb_puts(b, "model ");
        put_quoted(b, s->str);
        mgc_sb_printf(b, " on %s", s->name);
        return;
    case MGC_ST_PRECISION:
    case MGC_ST_CACHE:
        mgc_sb_puts(b, s->kind == MGC_ST_CACHE ? "cache" : "precision");
        for (size_t i = 0; i < s->nsettings; i++) {
            mgc_sb_putc(b, ' ');
            if (s->settings[i].key_is_pattern) {
                mgc_sb_putc(b, 'w');
                put_quoted(b, s->settings[i].key);
            } else {
                mgc_sb_puts(b, s->settings[i].key);
            }
            mgc_sb_putc(b, '=');
            flat(b, s->settings[i].value);
        }
        return;
    case MGC_ST_DEF:
        mgc_sb_printf(b, "def %s", s->name);
        put_params(b, s);
        return;
    case MGC_ST_FORWARD:
        mgc_sb_puts(b, "forward");
        put_params(b, s);
        return;
    case MGC_ST_FOR:
        mgc_sb_printf(b, "for %s in ", s->name);
        flat(b, s->value);
        mgc_sb_puts(b, " .. ");
        flat(b, s->hi);
        mgc_sb_puts(b, " {");
        return;
    case MGC_ST_LET:
        mgc_sb_printf(b, "let %s = ", s->name);
        break;
    case MGC_ST_ASSIGN:
        mgc_sb_printf(b, "%s = ", s->name);
        break;
    case MGC_ST_RETURN:
        mgc_sb_puts(b, "return ");
        break;
    case MGC_ST_IGNORE:
        mgc_sb_puts(b, "ignore ");
        flat(b, s->value);
        return;
    case MGC_ST_EXPECT:
        mgc_sb_puts(b, "expect");
        for (size_t i = 0; i < s->nsettings; i++) {
            mgc_sb_putc(b, ' ');
            mgc_sb_puts(b, s->settings[i].key);
            mgc_sb_putc(b, '=');
            flat(b, s->settings[i].value);
        }
        return;
    }
    mgc_strbuf ann = {0};
    put_annots(&ann, s);
    layout(F, s->value, (int)(b->len - start), (int)ann.len);
    if (ann.len)
        mgc_sb_puts(b, ann.s);
    mgc_sb_free(&ann);
}

static void put_block(fmt *F, mgc_ast_stmt *const *list, size_t n, int start_line, int end_line);

static void put_stmt(fmt *F, const mgc_ast_stmt *s, cursor *cur)
{
    const mgc_ast_file *f = F->f;
    int hdr_end = is_block(s) ? s->body_span.line : s->span.end_line;
    /* own-line comments before it */
    while (F->ci < f->ncomments && f->comments[F->ci].line < s->span.line) {
        before_item(F, cur, f->comments[F->ci].line);
        put_comment_line(F, &f->comments[F->ci]);
        cur->prev_end = f->comments[F->ci].line;
        F->ci++;
    }
    before_item(F, cur, s->span.line);
    /* comments inside the statement (or its header): the first one after
     * code stays a trailing comment, the others move before it */
    const mgc_ast_comment *trailing = NULL;
    for (; F->ci < f->ncomments && f->comments[F->ci].line <= hdr_end; F->ci++) {
        const mgc_ast_comment *c = &f->comments[F->ci];
        if (!trailing && !own_line(F, c))
            trailing = c;
        else
            put_comment_line(F, c);
    }
    put_stmt_text(F, s);
    if (trailing) {
        mgc_sb_puts(&F->out, "  ");
        mgc_sb_puts(&F->out, trailing->text);
    }
    mgc_sb_putc(&F->out, '\n');
    if (is_block(s)) {
        F->indent += 2;
        put_block(F, s->body, s->nbody, hdr_end, s->span.end_line);
        F->indent -= 2;
        spaces(&F->out, F->indent);
        mgc_sb_putc(&F->out, '}');
        if (F->ci < f->ncomments && f->comments[F->ci].line == s->span.end_line) {
            mgc_sb_puts(&F->out, "  ");
            mgc_sb_puts(&F->out, f->comments[F->ci].text);
            F->ci++;
        }
        mgc_sb_putc(&F->out, '\n');
    }
    cur->prev_end = s->span.end_line;
}

/* The statements of a block (or file) and the comments up to its end. */
static void put_block(fmt *F, mgc_ast_stmt *const *list, size_t n, int start_line, int end_line)
{
    cursor cur = {start_line, 1};
    for (size_t i = 0; i < n; i++)
        put_stmt(F, list[i], &cur);
    const mgc_ast_file *f = F->f;
    while (F->ci < f->ncomments && f->comments[F->ci].line < end_line) {
        before_item(F, &cur, f->comments[F->ci].line);
        put_comment_line(F, &f->comments[F->ci]);
        cur.prev_end = f->comments[F->ci].line;
        F->ci++;
    }
}

char *mgc_fmt(const mgc_ast_file *f)
{
    fmt F;
    memset(&F, 0, sizeof F);
    F.f = f;
    build_lines(&F);
    put_block(&F, f->stmts, f->nstmts, 0, INT_MAX);
    free(F.line_start);
    if (!F.out.s)
        mgc_sb_puts(&F.out, "");
    return mgc_sb_take(&F.out);
}
