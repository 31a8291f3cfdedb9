/* parse.c: runs the reentrant flex scanner and bison parser over one text. */
#include "parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mgc_parser.h"
#include "mgc_lexer.h"

char *mgc_read_spec(const char *path, size_t *len, mgc_span where, mgc_diags *d)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        mgc_error_at(d, where, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        mgc_error_at(d, where, "cannot read '%s': %s", path, strerror(errno));
        fclose(fp);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        mgc_error_at(d, where, "cannot read '%s': it is a directory", path);
        fclose(fp);
        return NULL;
    }
    /* Refuse by size before reading a byte; for pipes and other files
     * without a size, the read loop below enforces the same cap. */
    if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > MGC_MAX_SPEC_BYTES) {
        mgc_error_at(d, where, "'%s' is too large (%lld bytes; a spec is at most 8 MiB)", path,
                     (long long)st.st_size);
        fclose(fp);
        return NULL;
    }
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        mgc_error_at(d, where, "cannot read '%s': out of memory", path);
        return NULL;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > MGC_MAX_SPEC_BYTES + 1) {
                mgc_error_at(d, where, "'%s' is too large (a spec is at most 8 MiB)", path);
                free(buf);
                fclose(fp);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(fp);
                mgc_error_at(d, where, "cannot read '%s': out of memory", path);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (err) {
        mgc_error_at(d, where, "cannot read '%s': %s", path, strerror(err));
        free(buf);
        return NULL;
    }
    if (n > MGC_MAX_SPEC_BYTES) {
        mgc_error_at(d, where, "'%s' is too large (a spec is at most 8 MiB)", path);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

mgc_ast_file *mgc_parse_file(const char *path, mgc_diags *d)
{
    size_t len;
    mgc_span none = {0};
    char *text = mgc_read_spec(path, &len, none, d);
    if (!text)
        return NULL;
    mgc_ast_file *f = mgc_parse_string(path, text, len, d);
    free(text);
    return f;
}

mgc_ast_file *mgc_parse_string(const char *path_label, const char *text, size_t len, mgc_diags *d)
{
    if (len > MGC_MAX_SPEC_BYTES) {
        mgc_span none = {path_label, 0, 0, 0, 0};
        mgc_error_at(d, none, "too large (%zu bytes; a spec is at most 8 MiB)", len);
        return NULL;
    }
    mgc_ast_file *f = calloc(1, sizeof *f);
    if (!f) {
        fprintf(stderr, "mgc: out of memory\n");
        abort();
    }
    f->path = mgc_arena_strdup(&f->arena, path_label);
    char *src = mgc_arena_strndup(&f->arena, text, len);
    f->source = src;
    f->source_len = len;
    mgc_diags_add_source(d, f->path, text, len);

    mgc_parse_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.file = f;
    ctx.diags = d;
    ctx.line = 1;
    ctx.col = 1;

    yyscan_t scanner;
    if (mgc_yylex_init_extra(&ctx, &scanner) != 0) {
        fprintf(stderr, "mgc: out of memory\n");
        abort();
    }
    YY_BUFFER_STATE buf = mgc_yy_scan_bytes(text, (int)len, scanner);
    size_t before = d->nerrors;
    mgc_yyparse(scanner, &ctx);
    f->syntax_errors = d->nerrors - before;
    mgc_yy_delete_buffer(buf, scanner);
    mgc_yylex_destroy(scanner);
    return f;
}
