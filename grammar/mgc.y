/* mgc.y: the grammar of .graph files (docs/language.md), building the AST of
 * compiler/ast.h.
 *
 * Pure (reentrant) parser: all state lives in an mgc_parse_ctx passed through
 * %parse-param/%lex-param.  Statements end at a newline or ';' (the lexer
 * drops newlines inside () and []).  Error recovery is per statement: a bad
 * statement is skipped up to its end (or up to the '}' closing its block) and
 * parsing resumes, so one run reports one error per bad statement.
 *
 * The grammar is deliberately more permissive than the language in where
 * statements may appear (any statement in any block): the checker
 * (compiler/check.c) then says "'return' outside a def" instead of the parser
 * saying "unexpected 'return'". */

%define api.pure full
%define api.prefix {mgc_yy}
%define parse.error custom
%define parse.lac full
%locations
%param {void *scanner}
%parse-param {mgc_parse_ctx *ctx}

%code requires {
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "diag.h"

/* A growable list of pointers or structs, living in the file's arena. */
typedef struct mgc_plist {
    void *items;
    size_t n, cap;
} mgc_plist;

typedef struct mgc_tokval {
    const char *text;   /* names, numbers (as written), decoded strings */
    int64_t ival;
    double fval;
} mgc_tokval;

enum { MGC_MAX_NEST = 256, MGC_MAX_FILE = 8 * 1024 * 1024, MGC_MAX_NAME = 256 };

typedef struct mgc_parse_ctx mgc_parse_ctx;
}

%code provides {
/* Everything the lexer and parser share for one file.  Lives on the stack of
 * mgc_parse_string(). */
struct mgc_parse_ctx {
    mgc_ast_file *file;
    mgc_diags *diags;
    size_t comment_cap;
    size_t stmt_cap;
    /* lexer state */
    int line, col;          /* position of the next byte */
    int paren;              /* depth of ( and [: newlines inside are ignored */
    int nest;               /* depth of ( [ { : capped at MGC_MAX_NEST */
    int neg_run;            /* unary minus signs in a row (they nest too) */
    int last_tok;           /* last token returned (0 before the first) */
    int at_eof;             /* the final virtual newline was returned */
    int stop;               /* fatal error: the lexer returns end of file */
    int brace_line[MGC_MAX_NEST + 1], brace_col[MGC_MAX_NEST + 1];
    int nbrace;             /* open '{', innermost last (for "not closed" hints) */
    int paren_line[MGC_MAX_NEST + 1], paren_col[MGC_MAX_NEST + 1];
    int nl_swallowed;       /* a newline inside ( ) since the last token ... */
    int nl_line, nl_col;    /* ... and where the last one was */
    int unclosed_line, unclosed_col; /* '(' closed by a virtual newline (for the hint) */
    int lex_error_line;     /* line of the last lexical error: no syntax error there too */
    int has_pending;        /* a token held back behind a virtual newline */
    int pending_tok;
    MGC_YYSTYPE pending_val;
    MGC_YYLTYPE pending_loc;
    char pending_buf[48];
    size_t pending_len;
    char tok_buf[48];       /* text of the last token, for error messages */
    size_t tok_len;
};
int mgc_yylex(MGC_YYSTYPE *lval, MGC_YYLTYPE *lloc, void *scanner);
}

%code {
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

static void mgc_yyerror(MGC_YYLTYPE *loc, void *scanner, mgc_parse_ctx *ctx, const char *msg);

static mgc_span span_of(mgc_parse_ctx *ctx, MGC_YYLTYPE loc)
{
    mgc_span s = {ctx->file->path, loc.first_line, loc.first_column, loc.last_line, loc.last_column};
    return s;
}

static void *node(mgc_parse_ctx *ctx, size_t size) { return mgc_arena_alloc(&ctx->file->arena, size); }

static mgc_plist *plist_new(mgc_parse_ctx *ctx) { return node(ctx, sizeof(mgc_plist)); }

static void *plist_push(mgc_parse_ctx *ctx, mgc_plist *l, size_t elem)
{
    return mgc_arena_push(&ctx->file->arena, &l->items, &l->n, &l->cap, elem);
}

static void plist_push_ptr(mgc_parse_ctx *ctx, mgc_plist *l, void *p)
{
    *(void **)plist_push(ctx, l, sizeof(void *)) = p;
}

static mgc_ast_expr *expr_new(mgc_parse_ctx *ctx, mgc_ast_expr_kind k, MGC_YYLTYPE loc)
{
    mgc_ast_expr *e = node(ctx, sizeof *e);
    e->kind = k;
    e->span = span_of(ctx, loc);
    return e;
}

/* Expressions deeper than MGC_MAX_NEST are refused: everything downstream
 * walks them recursively.  Left-associative chains (a + b + c + ...) do not
 * grow the parser's stack but do deepen the tree, hence this check on top
 * of the lexer's bracket count. */
static int expr_depth(const mgc_ast_expr *e)
{
    return e ? e->depth : 0;
}

static mgc_ast_expr *binary(mgc_parse_ctx *ctx, mgc_ast_binop op, mgc_ast_expr *l, mgc_ast_expr *r,
                            MGC_YYLTYPE loc, MGC_YYLTYPE oploc)
{
    mgc_ast_expr *e = expr_new(ctx, MGC_EX_BINARY, loc);
    e->op = op;
    e->lhs = l;
    e->rhs = r;
    int dl = expr_depth(l), dr = expr_depth(r);
    e->depth = (dl > dr ? dl : dr) + 1;
    if (e->depth > MGC_MAX_NEST && !ctx->stop) {
        mgc_error_at(ctx->diags, span_of(ctx, oploc),
                     "too deeply nested (the limit is %d levels)", MGC_MAX_NEST);
        ctx->stop = 1;
    }
    return e;
}

static mgc_ast_stmt *stmt_new(mgc_parse_ctx *ctx, mgc_ast_stmt_kind k, MGC_YYLTYPE loc)
{
    mgc_ast_stmt *s = node(ctx, sizeof *s);
    s->kind = k;
    s->span = span_of(ctx, loc);
    return s;
}

static void set_annots(mgc_ast_stmt *s, mgc_plist *l)
{
    if (l) {
        s->annots = l->items;
        s->nannots = l->n;
    }
}

static void set_body(mgc_ast_stmt *s, mgc_plist *l, mgc_span body_span)
{
    s->body = l->items;
    s->nbody = l->n;
    s->body_span = body_span;
}

static void set_params(mgc_ast_stmt *s, mgc_plist *l)
{
    s->params = l->items;
    s->nparams = l->n;
}

static void add_top(mgc_parse_ctx *ctx, mgc_ast_stmt *s)
{
    mgc_ast_file *f = ctx->file;
    *(mgc_ast_stmt **)mgc_arena_push(&f->arena, (void **)&f->stmts, &f->nstmts, &ctx->stmt_cap,
                                     sizeof s) = s;
}
}

%union {
    mgc_tokval tok;
    mgc_ast_expr *expr;
    mgc_ast_stmt *stmt;
    mgc_plist *list;
    mgc_ast_arg arg;
    mgc_ast_setting setting;
    mgc_ast_annot annot;
}

%token END 0 "end of file"
%token <tok> NAME "name" INT "integer" FLOAT "float" STRING "string" WEIGHT "weight name"
%token IMPORT "import" MODEL "model" ON "on" PRECISION "precision" CACHE "cache" LET "let"
%token DEF "def" FORWARD "forward" FOR "for" IN "in" RETURN "return" TIED "tied"
%token IF "if" ELSE "else" AND "and" OR "or" NOT "not" IGNORE "ignore" EXPECT "expect"
%token NEWLINE "end of line" DOTDOT ".." QQ "??" POW "**" FLOORDIV "//" EQ "==" NE "!=" LE "<=" GE ">="

%type <expr> expr primary postfix
%type <stmt> stmt block_stmt
%type <list> items block args arglist params paramlist annots settings
%type <arg> arg
%type <setting> setting
%type <annot> annot
%type <tok> ident

/* Python's order, lowest first; `??` sits between the comparisons and the
 * arithmetic, so `config.x ?? a / b` and `config.x ?? 0 == 1` read as meant. */
%right IF ELSE
%left OR
%left AND
%precedence NOT
%nonassoc EQ NE '<' LE '>' GE
%left QQ
%left '+' '-'
%left '*' '/' FLOORDIV '%'
%precedence UMINUS
%right POW

%%

file
    : %empty
    | file sep
    | file stmt sep        { add_top(ctx, $2); }
    | file error sep       { yyerrok; }
    ;

sep : NEWLINE | ';' ;

/* A block's last statement may sit right before its '}' (`{ return x }`). */
block
    : '{' items '}'               { $$ = $2; }
    | '{' items stmt '}'          { $$ = $2; plist_push_ptr(ctx, $$, $3); }
    | '{' items error '}'         { $$ = $2; yyerrok; }
    ;

items
    : %empty                      { $$ = plist_new(ctx); }
    | items sep                   { $$ = $1; }
    | items stmt sep              { $$ = $1; plist_push_ptr(ctx, $$, $2); }
    | items error sep             { $$ = $1; yyerrok; }
    ;

stmt
    : IMPORT STRING {
          $$ = stmt_new(ctx, MGC_ST_IMPORT, @$);
          $$->str = $2.text;
          $$->name_span = span_of(ctx, @2);
      }
    | MODEL STRING ON NAME {
          $$ = stmt_new(ctx, MGC_ST_MODEL, @$);
          $$->str = $2.text;
          $$->name = $4.text;
          $$->name_span = span_of(ctx, @4);
      }
    | PRECISION settings {
          $$ = stmt_new(ctx, MGC_ST_PRECISION, @$);
          $$->settings = $2->items;
          $$->nsettings = $2->n;
      }
    | CACHE settings {
          $$ = stmt_new(ctx, MGC_ST_CACHE, @$);
          $$->settings = $2->items;
          $$->nsettings = $2->n;
      }
    | LET NAME '=' expr annots {
          $$ = stmt_new(ctx, MGC_ST_LET, @$);
          $$->name = $2.text;
          $$->name_span = span_of(ctx, @2);
          $$->value = $4;
          set_annots($$, $5);
      }
    | NAME '=' expr annots {
          $$ = stmt_new(ctx, MGC_ST_ASSIGN, @$);
          $$->name = $1.text;
          $$->name_span = span_of(ctx, @1);
          $$->value = $3;
          set_annots($$, $4);
      }
    | IGNORE postfix { /* w"glob" or config.key: check.c says which else is wrong */
          $$ = stmt_new(ctx, MGC_ST_IGNORE, @$);
          $$->value = $2;
      }
    | EXPECT settings {
          $$ = stmt_new(ctx, MGC_ST_EXPECT, @$);
          $$->settings = $2->items;
          $$->nsettings = $2->n;
      }
    | RETURN expr annots {
          $$ = stmt_new(ctx, MGC_ST_RETURN, @$);
          $$->value = $2;
          set_annots($$, $3);
      }
    | block_stmt
    ;

block_stmt
    : DEF NAME '(' params ')' block {
          $$ = stmt_new(ctx, MGC_ST_DEF, @$);
          $$->name = $2.text;
          $$->name_span = span_of(ctx, @2);
          set_params($$, $4);
          set_body($$, $6, span_of(ctx, @6));
      }
    | FORWARD '(' params ')' block {
          $$ = stmt_new(ctx, MGC_ST_FORWARD, @$);
          $$->name_span = span_of(ctx, @1);
          set_params($$, $3);
          set_body($$, $5, span_of(ctx, @5));
      }
    | FOR NAME IN expr DOTDOT expr block {
          $$ = stmt_new(ctx, MGC_ST_FOR, @$);
          $$->name = $2.text;
          $$->name_span = span_of(ctx, @2);
          $$->value = $4;
          $$->hi = $6;
          set_body($$, $7, span_of(ctx, @7));
      }
    ;

settings
    : setting                     { $$ = plist_new(ctx); *(mgc_ast_setting *)plist_push(ctx, $$, sizeof $1) = $1; }
    | settings setting            { $$ = $1; *(mgc_ast_setting *)plist_push(ctx, $$, sizeof $2) = $2; }
    ;

setting
    : NAME '=' expr {
          memset(&$$, 0, sizeof $$);
          $$.key = $1.text;
          $$.key_span = span_of(ctx, @1);
          $$.value = $3;
      }
    | WEIGHT '=' expr {
          memset(&$$, 0, sizeof $$);
          $$.key = $1.text;
          $$.key_is_pattern = 1;
          $$.key_span = span_of(ctx, @1);
          $$.value = $3;
      }
    ;

annots
    : %empty                      { $$ = NULL; }
    | annots annot {
          $$ = $1 ? $1 : plist_new(ctx);
          *(mgc_ast_annot *)plist_push(ctx, $$, sizeof $2) = $2;
      }
    ;

annot
    : '@' NAME {
          memset(&$$, 0, sizeof $$);
          $$.name = $2.text;
          $$.span = span_of(ctx, @$);
      }
    | '@' NAME '=' NAME {
          memset(&$$, 0, sizeof $$);
          $$.name = $2.text;
          $$.value = $4.text;
          $$.span = span_of(ctx, @$);
          $$.value_span = span_of(ctx, @4);
      }
    ;

params
    : %empty                      { $$ = plist_new(ctx); }
    | paramlist                   { $$ = $1; }
    | paramlist ','               { $$ = $1; }
    ;

paramlist
    : ident {
          $$ = plist_new(ctx);
          mgc_ast_param *p = plist_push(ctx, $$, sizeof *p);
          p->name = $1.text;
          p->span = span_of(ctx, @1);
      }
    | paramlist ',' ident {
          $$ = $1;
          mgc_ast_param *p = plist_push(ctx, $$, sizeof *p);
          p->name = $3.text;
          p->span = span_of(ctx, @3);
      }
    ;

/* `cache` is a keyword at the start of a statement and a name elsewhere. */
ident
    : NAME                        { $$ = $1; }
    | CACHE                       { $$ = (mgc_tokval){.text = "cache"}; }
    ;

expr
    : postfix                     { $$ = $1; }
    | expr QQ expr                { $$ = binary(ctx, MGC_OP_DEFAULT, $1, $3, @$, @2); }
    | expr '+' expr               { $$ = binary(ctx, MGC_OP_ADD, $1, $3, @$, @2); }
    | expr '-' expr               { $$ = binary(ctx, MGC_OP_SUB, $1, $3, @$, @2); }
    | expr '*' expr               { $$ = binary(ctx, MGC_OP_MUL, $1, $3, @$, @2); }
    | expr '/' expr               { $$ = binary(ctx, MGC_OP_DIV, $1, $3, @$, @2); }
    | expr FLOORDIV expr          { $$ = binary(ctx, MGC_OP_FLOORDIV, $1, $3, @$, @2); }
    | expr '%' expr               { $$ = binary(ctx, MGC_OP_MOD, $1, $3, @$, @2); }
    | expr POW expr               { $$ = binary(ctx, MGC_OP_POW, $1, $3, @$, @2); }
    | expr EQ expr                { $$ = binary(ctx, MGC_OP_EQ, $1, $3, @$, @2); }
    | expr NE expr                { $$ = binary(ctx, MGC_OP_NE, $1, $3, @$, @2); }
    | expr '<' expr               { $$ = binary(ctx, MGC_OP_LT, $1, $3, @$, @2); }
    | expr LE expr                { $$ = binary(ctx, MGC_OP_LE, $1, $3, @$, @2); }
    | expr '>' expr               { $$ = binary(ctx, MGC_OP_GT, $1, $3, @$, @2); }
    | expr GE expr                { $$ = binary(ctx, MGC_OP_GE, $1, $3, @$, @2); }
    | expr AND expr               { $$ = binary(ctx, MGC_OP_AND, $1, $3, @$, @2); }
    | expr OR expr                { $$ = binary(ctx, MGC_OP_OR, $1, $3, @$, @2); }
    | expr IF expr ELSE expr {
          $$ = binary(ctx, MGC_OP_DEFAULT, $1, $5, @$, @2);
          $$->kind = MGC_EX_COND;
          $$->cond = $3;
          if ($3->depth >= $$->depth) {
              $$->depth = $3->depth + 1;
              if ($$->depth > MGC_MAX_NEST && !ctx->stop) {
                  mgc_error_at(ctx->diags, span_of(ctx, @2), "too deeply nested (the limit is %d levels)",
                               MGC_MAX_NEST);
                  ctx->stop = 1;
              }
          }
      }
    | '-' expr %prec UMINUS {
          $$ = expr_new(ctx, MGC_EX_UNARY, @$);
          $$->op = MGC_OP_NEG;
          $$->rhs = $2;
          $$->depth = $2->depth + 1;
      }
    | NOT expr {
          $$ = expr_new(ctx, MGC_EX_UNARY, @$);
          $$->op = MGC_OP_NOT;
          $$->rhs = $2;
          $$->depth = $2->depth + 1;
      }
    ;

postfix
    : primary                     { $$ = $1; }
    | postfix '.' NAME {
          $$ = expr_new(ctx, MGC_EX_MEMBER, @$);
          $$->lhs = $1;
          $$->str = $3.text;
          $$->str_span = span_of(ctx, @3);
          $$->depth = $1->depth + 1;
      }
    | postfix '[' expr ']' {
          $$ = expr_new(ctx, MGC_EX_INDEX, @$);
          $$->lhs = $1;
          $$->rhs = $3;
          $$->depth = ($1->depth > $3->depth ? $1->depth : $3->depth) + 1;
      }
    ;

primary
    : INT {
          $$ = expr_new(ctx, MGC_EX_INT, @$);
          $$->ival = $1.ival;
          $$->num_text = $1.text;
          $$->depth = 1;
      }
    | FLOAT {
          $$ = expr_new(ctx, MGC_EX_FLOAT, @$);
          $$->fval = $1.fval;
          $$->num_text = $1.text;
          $$->depth = 1;
      }
    | STRING {
          $$ = expr_new(ctx, MGC_EX_STRING, @$);
          $$->str = $1.text;
          $$->depth = 1;
      }
    | WEIGHT {
          $$ = expr_new(ctx, MGC_EX_WEIGHT, @$);
          $$->str = $1.text;
          $$->depth = 1;
      }
    | TIED WEIGHT {
          $$ = expr_new(ctx, MGC_EX_WEIGHT, @$);
          $$->str = $2.text;
          $$->tied = 1;
          $$->depth = 1;
      }
    | ident {
          $$ = expr_new(ctx, MGC_EX_NAME, @$);
          $$->str = $1.text;
          $$->depth = 1;
      }
    | NAME '(' args ')' {
          $$ = expr_new(ctx, MGC_EX_CALL, @$);
          $$->str = $1.text;
          $$->str_span = span_of(ctx, @1);
          $$->args = $3->items;
          $$->nargs = $3->n;
          int d = 0;
          for (size_t i = 0; i < $3->n; i++)
              if ($$->args[i].value->depth > d)
                  d = $$->args[i].value->depth;
          $$->depth = d + 1;
      }
    | '(' expr ')'                { $$ = $2; }
    ;

args
    : %empty                      { $$ = plist_new(ctx); }
    | arglist                     { $$ = $1; }
    | arglist ','                 { $$ = $1; }
    ;

arglist
    : arg                         { $$ = plist_new(ctx); *(mgc_ast_arg *)plist_push(ctx, $$, sizeof $1) = $1; }
    | arglist ',' arg             { $$ = $1; *(mgc_ast_arg *)plist_push(ctx, $$, sizeof $3) = $3; }
    ;

arg
    : expr                        { memset(&$$, 0, sizeof $$); $$.value = $1; }
    | NAME '=' expr {
          memset(&$$, 0, sizeof $$);
          $$.name = $1.text;
          $$.name_span = span_of(ctx, @1);
          $$.value = $3;
      }
    ;

%%

static void mgc_yyerror(MGC_YYLTYPE *loc, void *scanner, mgc_parse_ctx *ctx, const char *msg)
{
    (void)scanner;
    if (!ctx->stop)
        mgc_error_at(ctx->diags, span_of(ctx, *loc), "%s", msg);
}

/* How a token kind is named in "expected X": keywords and punctuation by
 * their spelling in quotes, the rest by what they are. */
static const char *kind_name(yysymbol_kind_t k, char *buf, size_t cap)
{
    const char *n = yysymbol_name(k);
    if (k == YYSYMBOL_YYEOF || k == YYSYMBOL_NAME || k == YYSYMBOL_INT || k == YYSYMBOL_FLOAT ||
        k == YYSYMBOL_STRING || k == YYSYMBOL_WEIGHT || k == YYSYMBOL_NEWLINE || n[0] == '\'')
        return n;
    snprintf(buf, cap, "'%s'", n);
    return buf;
}

/* Tokens that can begin an expression are summarised as "an expression"
 * when all of them are expected. */
static int starts_expr(yysymbol_kind_t k)
{
    return k == YYSYMBOL_NAME || k == YYSYMBOL_INT || k == YYSYMBOL_FLOAT || k == YYSYMBOL_STRING ||
           k == YYSYMBOL_WEIGHT || k == YYSYMBOL_TIED || k == YYSYMBOL_CACHE ||
           k == YYSYMBOL_NOT || strcmp(yysymbol_name(k), "'('") == 0 || strcmp(yysymbol_name(k), "'-'") == 0;
}

/* Binary operators (and `if` of a conditional): summarised as "an
 * operator" when many of them are expected, which is after any operand. */
static int is_operator(yysymbol_kind_t k)
{
    static const char *const ops[] = {"'+'", "'-'", "'*'", "'/'", "'%'", "'<'", "'>'"};
    if (k == YYSYMBOL_QQ || k == YYSYMBOL_POW || k == YYSYMBOL_FLOORDIV || k == YYSYMBOL_EQ || k == YYSYMBOL_NE ||
        k == YYSYMBOL_LE || k == YYSYMBOL_GE || k == YYSYMBOL_IF || k == YYSYMBOL_AND || k == YYSYMBOL_OR)
        return 1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(yysymbol_name(k), ops[i]) == 0)
            return 1;
    return 0;
}

static int yyreport_syntax_error(const yypcontext_t *pctx, void *scanner, mgc_parse_ctx *ctx)
{
    (void)scanner;
    if (ctx->stop)
        return 0;
    enum { MAXEXP = 40 };
    yysymbol_kind_t exp[MAXEXP];
    int n = yypcontext_expected_tokens(pctx, exp, MAXEXP);
    if (n < 0)
        n = 0;
    int nexpr = 0;
    for (int i = 0; i < n; i++)
        nexpr += starts_expr(exp[i]);
    int collapse = nexpr >= 6;
    int nops = 0;
    for (int i = 0; i < n; i++)
        nops += is_operator(exp[i]);
    int collapse_ops = !collapse && nops >= 6;

    char msg[512], buf[64];
    size_t len = 0;
    const char *items[MAXEXP + 1];
    char names[MAXEXP + 1][64];
    int m = 0;
    if (collapse)
        items[m++] = "an expression";
    if (collapse_ops)
        items[m++] = "an operator";
    for (int i = 0; i < n; i++) {
        /* error-recovery-only and internal symbols are never worth naming */
        if ((collapse && starts_expr(exp[i])) || (collapse_ops && is_operator(exp[i])) ||
            exp[i] == YYSYMBOL_YYerror || exp[i] == YYSYMBOL_YYUNDEF)
            continue;
        const char *s = kind_name(exp[i], names[m], sizeof names[m]);
        if (s != names[m])
            snprintf(names[m], sizeof names[m], "%s", s);
        items[m] = names[m];
        m++;
    }
    if (m > 10)
        m = 10; /* long lists help nobody; the first few say enough */
    /* At the end of the file inside a block, the missing '}' is the news. */
    if (yypcontext_token(pctx) == YYSYMBOL_YYEOF)
        for (int i = 0; i < n; i++)
            if (strcmp(yysymbol_name(exp[i]), "'}'") == 0) {
                items[0] = "'}'";
                m = 1;
            }
    msg[0] = 0;
    if (m > 0) {
        len += (size_t)snprintf(msg + len, sizeof msg - len, "expected ");
        for (int i = 0; i < m && len < sizeof msg; i++) {
            const char *sepr = i == 0 ? "" : i == m - 1 ? " or " : ", ";
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s", sepr, items[i]);
        }
        if (len < sizeof msg)
            len += (size_t)snprintf(msg + len, sizeof msg - len, " but ");
    } else {
        len += (size_t)snprintf(msg + len, sizeof msg - len, "unexpected ");
    }

    yysymbol_kind_t found = yypcontext_token(pctx);
    char what[128];
    if (found == YYSYMBOL_YYEOF || found == YYSYMBOL_NEWLINE)
        snprintf(what, sizeof what, "%s", kind_name(found, buf, sizeof buf));
    else if (found == YYSYMBOL_STRING || found == YYSYMBOL_WEIGHT)
        snprintf(what, sizeof what, "%s", found == YYSYMBOL_STRING ? "a string" : "a weight name");
    else if (ctx->tok_len > 0)
        snprintf(what, sizeof what, "'%s'", ctx->tok_buf);
    else
        snprintf(what, sizeof what, "%s", kind_name(found, buf, sizeof buf));
    if (len < sizeof msg)
        snprintf(msg + len, sizeof msg - len, "%s%s", m > 0 ? "found " : "", what);

    mgc_span sp = span_of(ctx, *yypcontext_location(pctx));
    if (sp.line == ctx->lex_error_line)
        return 0; /* the lexer's error on this line says it already */
    if (found == YYSYMBOL_NEWLINE) { /* point at the end of the line, not the next one */
        sp.end_line = sp.line;
        sp.end_col = sp.col + 1;
    }
    mgc_error_at(ctx->diags, sp, "%s", msg);
    if (found == YYSYMBOL_NEWLINE && ctx->unclosed_line > 0)
        mgc_diag_hint(ctx->diags, "the '%c' at line %d, column %d is not closed", ctx->unclosed_col < 0 ? '[' : '(',
                      ctx->unclosed_line, ctx->unclosed_col < 0 ? -ctx->unclosed_col : ctx->unclosed_col);
    else if (found == YYSYMBOL_YYEOF && ctx->paren > 0)
        mgc_diag_hint(ctx->diags, "the '%c' at line %d, column %d is not closed", ctx->paren_col[0] < 0 ? '[' : '(',
                      ctx->paren_line[0], ctx->paren_col[0] < 0 ? -ctx->paren_col[0] : ctx->paren_col[0]);
    else if (found == YYSYMBOL_YYEOF && ctx->nbrace > 0)
        mgc_diag_hint(ctx->diags, "the '{' at line %d, column %d is not closed",
                      ctx->brace_line[ctx->nbrace - 1], ctx->brace_col[ctx->nbrace - 1]);
    return 0;
}
