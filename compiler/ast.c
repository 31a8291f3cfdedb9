/* ast.c: freeing and dumping syntax trees (see ast.h). */
#include "ast.h"

#include <stdlib.h>

#include "strbuf.h"

void mgc_ast_free(mgc_ast_file *f)
{
    if (!f)
        return;
    mgc_arena_free(&f->arena);
    free(f);
}

/* Strings are dumped quoted with the escapes of the language (and \xNN for
 * other control bytes) so a dump is one line per statement. */
static void dump_str(mgc_strbuf *b, const char *s)
{
    mgc_sb_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            mgc_sb_putc(b, '\\');
            mgc_sb_putc(b, (char)c);
        } else if (c == '\n') {
            mgc_sb_puts(b, "\\n");
        } else if (c == '\t') {
            mgc_sb_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            mgc_sb_printf(b, "\\x%02x", c);
        } else {
            mgc_sb_putc(b, (char)c);
        }
    }
    mgc_sb_putc(b, '"');
}

const char *mgc_ast_op_text(mgc_ast_binop op)
{
    switch (op) {
    case MGC_OP_ADD: return "+";
    case MGC_OP_SUB: return "-";
    case MGC_OP_MUL: return "*";
    case MGC_OP_DIV: return "/";
    case MGC_OP_DEFAULT: return "??";
    case MGC_OP_NEG: return "-";
    case MGC_OP_POW: return "**";
    case MGC_OP_FLOORDIV: return "//";
    case MGC_OP_MOD: return "%";
    case MGC_OP_EQ: return "==";
    case MGC_OP_NE: return "!=";
    case MGC_OP_LT: return "<";
    case MGC_OP_LE: return "<=";
    case MGC_OP_GT: return ">";
    case MGC_OP_GE: return ">=";
    case MGC_OP_AND: return "and";
    case MGC_OP_OR: return "or";
    case MGC_OP_NOT: return "not";
    }
    return "?";
}

/* The dump spells unary minus "neg" so that it never reads as subtraction. */
static const char *dump_op(mgc_ast_binop op) { return op == MGC_OP_NEG ? "neg" : mgc_ast_op_text(op); }

static void dump_expr(mgc_strbuf *b, const mgc_ast_expr *e)
{
    if (!e) {
        mgc_sb_puts(b, "nil");
        return;
    }
    switch (e->kind) {
    case MGC_EX_INT:
        mgc_sb_printf(b, "(int %lld)", (long long)e->ival);
        break;
    case MGC_EX_FLOAT:
        mgc_sb_printf(b, "(float %s)", e->num_text ? e->num_text : "?");
        break;
    case MGC_EX_STRING:
        mgc_sb_puts(b, "(str ");
        dump_str(b, e->str);
        mgc_sb_putc(b, ')');
        break;
    case MGC_EX_WEIGHT:
        mgc_sb_puts(b, e->tied ? "(tied-w " : "(w ");
        dump_str(b, e->str);
        mgc_sb_putc(b, ')');
        break;
    case MGC_EX_NAME:
        mgc_sb_printf(b, "%s", e->str);
        break;
    case MGC_EX_MEMBER:
        mgc_sb_puts(b, "(. ");
        dump_expr(b, e->lhs);
        mgc_sb_printf(b, " %s)", e->str);
        break;
    case MGC_EX_INDEX:
        mgc_sb_puts(b, "([] ");
        dump_expr(b, e->lhs);
        mgc_sb_putc(b, ' ');
        dump_expr(b, e->rhs);
        mgc_sb_putc(b, ')');
        break;
    case MGC_EX_CALL:
        mgc_sb_printf(b, "(call %s", e->str);
        for (size_t i = 0; i < e->nargs; i++) {
            mgc_sb_putc(b, ' ');
            if (e->args[i].name) {
                mgc_sb_printf(b, "(kw %s ", e->args[i].name);
                dump_expr(b, e->args[i].value);
                mgc_sb_putc(b, ')');
            } else {
                dump_expr(b, e->args[i].value);
            }
        }
        mgc_sb_putc(b, ')');
        break;
    case MGC_EX_BINARY:
        mgc_sb_printf(b, "(%s ", dump_op(e->op));
        dump_expr(b, e->lhs);
        mgc_sb_putc(b, ' ');
        dump_expr(b, e->rhs);
        mgc_sb_putc(b, ')');
        break;
    case MGC_EX_UNARY:
        mgc_sb_printf(b, "(%s ", dump_op(e->op));
        dump_expr(b, e->rhs);
        mgc_sb_putc(b, ')');
        break;
    case MGC_EX_COND:
        mgc_sb_puts(b, "(if ");
        dump_expr(b, e->cond);
        mgc_sb_putc(b, ' ');
        dump_expr(b, e->lhs);
        mgc_sb_putc(b, ' ');
        dump_expr(b, e->rhs);
        mgc_sb_putc(b, ')');
        break;
    }
}

static void dump_annots(mgc_strbuf *b, const mgc_ast_stmt *s)
{
    for (size_t i = 0; i < s->nannots; i++) {
        if (s->annots[i].value)
            mgc_sb_printf(b, " (@ %s %s)", s->annots[i].name, s->annots[i].value);
        else
            mgc_sb_printf(b, " (@ %s)", s->annots[i].name);
    }
}

static void dump_stmt(mgc_strbuf *b, const mgc_ast_stmt *s, int depth);

static void dump_body(mgc_strbuf *b, const mgc_ast_stmt *s, int depth)
{
    for (size_t i = 0; i < s->nbody; i++) {
        mgc_sb_putc(b, '\n');
        dump_stmt(b, s->body[i], depth + 1);
    }
}

static void dump_params(mgc_strbuf *b, const mgc_ast_stmt *s)
{
    mgc_sb_puts(b, " (params");
    for (size_t i = 0; i < s->nparams; i++)
        mgc_sb_printf(b, " %s", s->params[i].name);
    mgc_sb_putc(b, ')');
}

static void dump_stmt(mgc_strbuf *b, const mgc_ast_stmt *s, int depth)
{
    for (int i = 0; i < depth; i++)
        mgc_sb_puts(b, "  ");
    switch (s->kind) {
    case MGC_ST_IMPORT:
        mgc_sb_puts(b, "(import ");
        dump_str(b, s->str);
        break;
    case MGC_ST_MODEL:
        mgc_sb_puts(b, "(model ");
        dump_str(b, s->str);
        mgc_sb_printf(b, " %s", s->name);
        break;
    case MGC_ST_PRECISION:
    case MGC_ST_CACHE:
        mgc_sb_puts(b, s->kind == MGC_ST_CACHE ? "(cache" : "(precision");
        for (size_t i = 0; i < s->nsettings; i++) {
            mgc_sb_puts(b, " (");
            if (s->settings[i].key_is_pattern) {
                mgc_sb_puts(b, "w ");
                dump_str(b, s->settings[i].key);
            } else {
                mgc_sb_puts(b, s->settings[i].key);
            }
            mgc_sb_putc(b, ' ');
            dump_expr(b, s->settings[i].value);
            mgc_sb_putc(b, ')');
        }
        break;
    case MGC_ST_LET:
    case MGC_ST_ASSIGN:
        mgc_sb_printf(b, "(%s %s ", s->kind == MGC_ST_LET ? "let" : "=", s->name);
        dump_expr(b, s->value);
        dump_annots(b, s);
        break;
    case MGC_ST_RETURN:
        mgc_sb_puts(b, "(return ");
        dump_expr(b, s->value);
        dump_annots(b, s);
        break;
    case MGC_ST_DEF:
        mgc_sb_printf(b, "(def %s", s->name);
        dump_params(b, s);
        dump_body(b, s, depth);
        break;
    case MGC_ST_FORWARD:
        mgc_sb_puts(b, "(forward");
        dump_params(b, s);
        dump_body(b, s, depth);
        break;
    case MGC_ST_IGNORE:
        mgc_sb_puts(b, "(ignore ");
        dump_expr(b, s->value);
        break;
    case MGC_ST_EXPECT:
        mgc_sb_puts(b, "(expect");
        for (size_t i = 0; i < s->nsettings; i++) {
            mgc_sb_printf(b, " (%s ", s->settings[i].key);
            dump_expr(b, s->settings[i].value);
            mgc_sb_putc(b, ')');
        }
        break;
    case MGC_ST_FOR:
        mgc_sb_printf(b, "(for %s ", s->name);
        dump_expr(b, s->value);
        mgc_sb_putc(b, ' ');
        dump_expr(b, s->hi);
        dump_body(b, s, depth);
        break;
    }
    mgc_sb_putc(b, ')');
}

char *mgc_ast_dump(const mgc_ast_file *f)
{
    mgc_strbuf b = {0};
    mgc_sb_puts(&b, "(file");
    for (size_t i = 0; i < f->nstmts; i++) {
        mgc_sb_putc(&b, '\n');
        dump_stmt(&b, f->stmts[i], 1);
    }
    mgc_sb_puts(&b, ")\n");
    return mgc_sb_take(&b);
}
