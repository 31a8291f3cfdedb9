/* diag.c: collecting and printing diagnostics (see diag.h). */
#include "diag.h"

#include "edit_distance.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_MAX_ERRORS = 50 };

static char *xstrndup(const char *s, size_t n)
{
    char *p = mgc_xrealloc(NULL, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *s = mgc_xrealloc(NULL, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static size_t max_errors(const mgc_diags *d) { return d->max_errors ? d->max_errors : DEFAULT_MAX_ERRORS; }

void mgc_diags_init(mgc_diags *d) { memset(d, 0, sizeof *d); }

void mgc_diags_free(mgc_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].msg);
        free(d->items[i].hint);
    }
    free(d->items);
    for (size_t i = 0; i < d->nsources; i++) {
        free(d->sources[i].path);
        free(d->sources[i].text);
    }
    free(d->sources);
    memset(d, 0, sizeof *d);
}

static mgc_diag_source *source_slot(mgc_diags *d, const char *path)
{
    for (size_t i = 0; i < d->nsources; i++)
        if (strcmp(d->sources[i].path, path) == 0)
            return &d->sources[i];
    if (d->nsources == d->srccap) {
        d->srccap = d->srccap ? d->srccap * 2 : 4;
        d->sources = mgc_xrealloc(d->sources, d->srccap * sizeof *d->sources);
    }
    mgc_diag_source *s = &d->sources[d->nsources++];
    s->path = xstrndup(path, strlen(path));
    s->text = NULL; /* a file named by a diagnostic but never registered */
    s->len = 0;
    return s;
}

void mgc_diags_add_source(mgc_diags *d, const char *path, const char *text, size_t len)
{
    mgc_diag_source *s = source_slot(d, path);
    if (s->text)
        return;
    s->text = xstrndup(text, len);
    s->len = len;
}

int mgc_diags_full(const mgc_diags *d) { return d->nerrors > max_errors(d); }

static void push(mgc_diags *d, mgc_diag_level lvl, mgc_span span, char *msg)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->items = mgc_xrealloc(d->items, d->cap * sizeof *d->items);
    }
    mgc_diagnostic *g = &d->items[d->n++];
    g->level = lvl;
    g->span = span;
    g->msg = msg;
    g->hint = NULL;
}

void mgc_diag(mgc_diags *d, mgc_diag_level lvl, mgc_span span, const char *fmt, ...)
{
    if (lvl == MGC_ERROR)
        d->nerrors++;
    else if (lvl == MGC_WARNING)
        d->nwarnings++;
    /* Past the cap, errors (and their notes) are only counted; the first one
     * past it leaves a "too many errors" marker. */
    if (d->nerrors > max_errors(d)) {
        if (lvl == MGC_ERROR && d->nerrors == max_errors(d) + 1) {
            mgc_span none = {0};
            char buf[96];
            snprintf(buf, sizeof buf, "too many errors (stopped after %zu)", max_errors(d));
            push(d, MGC_ERROR, none, xstrndup(buf, strlen(buf)));
        }
        d->dropped++;
        return;
    }
    /* The file name is kept in the list's own storage: the tree the span
     * came from may be freed before the diagnostics are printed. */
    if (span.file)
        span.file = source_slot(d, span.file)->path;
    va_list ap;
    va_start(ap, fmt);
    push(d, lvl, span, vformat(fmt, ap));
    va_end(ap);
}

void mgc_diag_hint(mgc_diags *d, const char *fmt, ...)
{
    if (d->n == 0 || d->dropped)
        return;
    mgc_diagnostic *g = &d->items[d->n - 1];
    va_list ap;
    va_start(ap, fmt);
    char *h = vformat(fmt, ap);
    va_end(ap);
    free(g->hint);
    g->hint = h;
}

/* ---- printing ---- */

static const mgc_diag_source *find_source(const mgc_diags *d, const char *path)
{
    if (!path)
        return NULL;
    for (size_t i = 0; i < d->nsources; i++)
        if (strcmp(d->sources[i].path, path) == 0)
            return &d->sources[i];
    return NULL;
}

/* The text of 1-based line `line` (without its newline, or a trailing \r). */
static int get_line(const mgc_diag_source *s, int line, const char **start, size_t *len)
{
    if (!s->text)
        return 0;
    const char *p = s->text, *end = s->text + s->len;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return 0;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    *start = p;
    *len = n;
    return 1;
}

static const char *level_name(mgc_diag_level l)
{
    return l == MGC_ERROR ? "error" : l == MGC_WARNING ? "warning" : "note";
}

static const char *level_color(mgc_diag_level l)
{
    return l == MGC_ERROR ? "\033[1;31m" : l == MGC_WARNING ? "\033[1;35m" : "\033[1;36m";
}

/* Writes one source line so the terminal shows no raw control bytes (they
 * would also misalign the caret). */
static void put_line(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c == '\t' || c >= 0x20 ? c : ' ', out);
    }
}

static void print_snippet(const mgc_diag_source *src, const mgc_diagnostic *g, FILE *out, int color)
{
    const char *ls;
    size_t ll;
    if (!get_line(src, g->span.line, &ls, &ll))
        return;
    if (ll > 1000) /* a minified or binary "line": the location says enough */
        return;
    char num[32];
    int w = snprintf(num, sizeof num, "%d", g->span.line);
    if (w < 4)
        w = 4;
    fprintf(out, " %*d | ", w, g->span.line);
    put_line(out, ls, ll);
    fputc('\n', out);
    fprintf(out, " %*s | ", w, "");
    /* Copy tabs so the caret lines up; skip UTF-8 continuation bytes. */
    int col = g->span.col < 1 ? 1 : g->span.col;
    for (int i = 0; i < col - 1 && (size_t)i < ll; i++) {
        unsigned char c = (unsigned char)ls[i];
        if (c == '\t')
            fputc('\t', out);
        else if ((c & 0xc0) != 0x80)
            fputc(' ', out);
    }
    if ((size_t)(col - 1) > ll)
        for (size_t i = ll; i < (size_t)(col - 1); i++)
            fputc(' ', out);
    int end = g->span.end_line > g->span.line ? (int)ll + 1 : g->span.end_col;
    if (color)
        fputs("\033[1;32m", out);
    fputc('^', out);
    for (int i = col + 1; i < end && (size_t)i <= ll; i++)
        if (((unsigned char)ls[i - 1] & 0xc0) != 0x80)
            fputc('~', out);
    if (color)
        fputs("\033[0m", out);
    fputc('\n', out);
}

/* Diagnostics are printed grouped by file (in order of first mention) and
 * by position within a file: stages report in their own order (the loader
 * reports an import problem after the whole importing file was parsed). */
typedef struct order {
    size_t group, idx;
    int line, col;
} order;

static int order_cmp(const void *a, const void *b)
{
    const order *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void mgc_diags_print(const mgc_diags *d, FILE *out, int color)
{
    order *ord = mgc_xrealloc(NULL, (d->n ? d->n : 1) * sizeof *ord);
    for (size_t i = 0; i < d->n; i++) {
        const mgc_diagnostic *g = &d->items[i];
        size_t group = i;
        for (size_t j = 0; j < i; j++) {
            const char *a = g->span.file, *b = d->items[j].span.file;
            if ((a == NULL) == (b == NULL) && (a == b || (a && b && strcmp(a, b) == 0))) {
                group = ord[j].group;
                break;
            }
        }
        ord[i].group = group;
        ord[i].idx = i;
        /* the "too many errors" marker stays last */
        ord[i].line = g->span.file ? g->span.line : 0;
        ord[i].col = g->span.col;
        if (!g->span.file && i > 0 && d->dropped && i == d->n - 1)
            ord[i].group = (size_t)-1;
    }
    qsort(ord, d->n, sizeof *ord, order_cmp);
    for (size_t k = 0; k < d->n; k++) {
        const mgc_diagnostic *g = &d->items[ord[k].idx];
        if (color)
            fputs("\033[1m", out);
        if (g->span.file && g->span.line > 0)
            fprintf(out, "%s:%d:%d: ", g->span.file, g->span.line, g->span.col);
        else if (g->span.file)
            fprintf(out, "%s: ", g->span.file);
        else
            fprintf(out, "mgc: ");
        if (color)
            fprintf(out, "%s%s:\033[0m\033[1m %s\033[0m\n", level_color(g->level), level_name(g->level), g->msg);
        else
            fprintf(out, "%s: %s\n", level_name(g->level), g->msg);
        const mgc_diag_source *src = find_source(d, g->span.file);
        if (src && g->span.line > 0)
            print_snippet(src, g, out, color);
        if (g->hint)
            fprintf(out, "%shint:%s %s\n", color ? "\033[1;36m" : "", color ? "\033[0m" : "", g->hint);
    }
    free(ord);
}

/* ---- did you mean ---- */

const char *mgc_suggest(const char *name, const char *const *candidates, size_t n)
{
    size_t len = strlen(name);
    size_t limit = len / 3 > 1 ? len / 3 : 1;
    const char *best = NULL;
    size_t bestd = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = mgc_edit_distance(name, candidates[i], limit, 0);
        if (d < bestd) {
            bestd = d;
            best = candidates[i];
        }
    }
    return best;
}
