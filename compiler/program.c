/* program.c: loading a root spec and its imports (see program.h). */
#include "program.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"
#include "parse.h"
#include "spec_library.h"
#include "strbuf.h"
#include "xalloc.h"

enum { MAX_IMPORT_DEPTH = 64 };

typedef struct loader {
    mgc_program *p;
    size_t cap;
    mgc_diags *d;
    /* the chain of files being loaded, outermost first (for cycles) */
    const char *stack_id[MAX_IMPORT_DEPTH + 1];
    const char *stack_path[MAX_IMPORT_DEPTH + 1];
    int depth;
} loader;

char *mgc_import_path(const char *from, const char *rel)
{
    mgc_strbuf joined = {0};
    if (rel[0] != '/') {
        const char *slash = strrchr(from, '/');
        if (slash) {
            mgc_sb_putn(&joined, from, (size_t)(slash - from) + 1);
        }
    }
    mgc_sb_puts(&joined, rel);
    char *s = mgc_sb_take(&joined);
    /* split into components and fold "." and "name/.." */
    int absolute = s[0] == '/';
    size_t n = strlen(s);
    const char **comp = mgc_xmalloc((n / 1 + 1) * sizeof *comp);
    size_t nc = 0;
    for (char *tok = strtok(s, "/"); tok; tok = strtok(NULL, "/")) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0 && nc > 0 && strcmp(comp[nc - 1], "..") != 0) {
            nc--;
            continue;
        }
        if (strcmp(tok, "..") == 0 && nc == 0 && absolute)
            continue;
        comp[nc++] = tok;
    }
    mgc_strbuf out = {0};
    if (absolute)
        mgc_sb_putc(&out, '/');
    for (size_t i = 0; i < nc; i++) {
        if (i)
            mgc_sb_putc(&out, '/');
        mgc_sb_puts(&out, comp[i]);
    }
    if (out.len == 0)
        mgc_sb_putc(&out, '.');
    free(comp);
    free(s);
    char *path = mgc_sb_take(&out);
    /* "common/llama.graph" that is not beside the importing file: the bundled
     * specs of the data dir (datadir.h), so a spec anywhere can use them */
    if (rel[0] != '/' && rel[0] != '.' && access(path, F_OK) != 0) {
        mgc_strbuf alt = {0};
        mgc_sb_printf(&alt, "%s/graphs/%s", mgc_datadir(), rel);
        char *a = mgc_sb_take(&alt);
        if (access(a, F_OK) == 0) {
            free(path);
            return a;
        }
        free(a);
    }
    return path;
}

/* Loads one file (text given or read from disk); returns its index in
 * p->files or -1.  `where` is the import statement's path (file NULL for the
 * root). */
static long load(loader *l, const char *path, const char *text, size_t len, mgc_span where)
{
    char *id = realpath(path, NULL);
    if (!id && !text) {
        int why = errno;
        mgc_error_at(l->d, where, "cannot %s '%s': %s", where.file ? "import" : "read", path, strerror(why));
        char *fix = where.file && why == ENOENT ? mgc_spec_library_import_of(path, where.file) : NULL;
        if (fix) /* a mistyped path to the spec library */
            mgc_diag_hint(l->d, "the spec library has that file: %s", fix);
        free(fix);
        return -1;
    }
    if (!id) {
        id = mgc_xmalloc(strlen(path) + 1);
        strcpy(id, path);
    }
    for (size_t i = 0; i < l->p->nfiles; i++)
        if (strcmp(l->p->files[i].id, id) == 0) {
            free(id);
            return (long)i;
        }
    for (int i = 0; i < l->depth; i++) {
        if (strcmp(l->stack_id[i], id) != 0)
            continue;
        if (i == l->depth - 1) {
            mgc_error_at(l->d, where, "'%s' imports itself", l->stack_path[i]);
        } else {
            mgc_strbuf chain = {0};
            for (int j = i; j < l->depth; j++)
                mgc_sb_printf(&chain, "%s -> ", l->stack_path[j]);
            mgc_sb_puts(&chain, l->stack_path[i]);
            mgc_error_at(l->d, where, "import cycle: %s", chain.s);
            mgc_sb_free(&chain);
        }
        mgc_diag_hint(l->d, "a file cannot be imported, directly or indirectly, by itself");
        free(id);
        return -1;
    }
    if (l->depth >= MAX_IMPORT_DEPTH) {
        mgc_error_at(l->d, where, "imports nest too deeply (more than %d files)", MAX_IMPORT_DEPTH);
        free(id);
        return -1;
    }
    mgc_ast_file *ast;
    if (text) {
        ast = mgc_parse_string(path, text, len, l->d);
    } else {
        size_t n;
        char *buf = mgc_read_spec(path, &n, where, l->d);
        ast = buf ? mgc_parse_string(path, buf, n, l->d) : NULL;
        free(buf);
    }
    if (!ast) {
        free(id);
        return -1;
    }
    l->stack_id[l->depth] = id;
    l->stack_path[l->depth] = ast->path;
    l->depth++;
    size_t *imports = NULL, nimports = 0;
    for (size_t i = 0; i < ast->nstmts && !mgc_diags_full(l->d); i++) {
        const mgc_ast_stmt *s = ast->stmts[i];
        if (s->kind != MGC_ST_IMPORT || !s->str)
            continue;
        char *sub = mgc_import_path(ast->path, s->str);
        long k = load(l, sub, NULL, 0, s->name_span);
        free(sub);
        if (k < 0)
            continue;
        imports = realloc(imports, (nimports + 1) * sizeof *imports);
        if (!imports) {
            fprintf(stderr, "mgc: out of memory\n");
            abort();
        }
        imports[nimports++] = (size_t)k;
    }
    l->depth--;
    if (l->p->nfiles == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->p->files = realloc(l->p->files, l->cap * sizeof *l->p->files);
        if (!l->p->files) {
            fprintf(stderr, "mgc: out of memory\n");
            abort();
        }
    }
    mgc_program_file *pf = &l->p->files[l->p->nfiles++];
    pf->ast = ast;
    pf->id = id;
    pf->imports = imports;
    pf->nimports = nimports;
    return (long)(l->p->nfiles - 1);
}

static mgc_program *load_root(const char *path, const char *text, size_t len, mgc_diags *d)
{
    loader l;
    memset(&l, 0, sizeof l);
    l.d = d;
    l.p = mgc_xmalloc(sizeof *l.p);
    memset(l.p, 0, sizeof *l.p);
    mgc_span none = {0};
    long k = load(&l, path, text, len, none);
    if (k < 0) {
        mgc_program_free(l.p);
        return NULL;
    }
    l.p->root = l.p->files[k].ast;
    return l.p;
}

mgc_program *mgc_program_load(const char *path, mgc_diags *d) { return load_root(path, NULL, 0, d); }

mgc_program *mgc_program_load_string(const char *path_label, const char *text, size_t len, mgc_diags *d)
{
    return load_root(path_label, text ? text : "", text ? len : 0, d);
}

void mgc_program_free(mgc_program *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nfiles; i++) {
        mgc_ast_free(p->files[i].ast);
        free(p->files[i].id);
        free(p->files[i].imports);
    }
    free(p->files);
    free(p);
}
