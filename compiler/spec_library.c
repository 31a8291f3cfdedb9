/* spec_library.c: finding a name in the spec library (see spec_library.h). */
#include "spec_library.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"
#include "diag.h"
#include "parse.h"
#include "system.h"

const char *mgc_spec_library_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *sys = MGC_SYSTEMS_DIR;
        const char *slash = strrchr(sys, '/');
        if (slash)
            snprintf(dir, sizeof dir, "%.*s/common", (int)(slash - sys), sys);
        else
            snprintf(dir, sizeof dir, "common");
    }
    return dir;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int defines(const char *path, const char *name)
{
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_ast_file *f = mgc_parse_file(path, &d);
    int found = 0;
    for (size_t i = 0; f && i < f->nstmts && !found; i++) {
        const mgc_ast_stmt *s = f->stmts[i];
        found = (s->kind == MGC_ST_DEF || s->kind == MGC_ST_LET) && s->name && strcmp(s->name, name) == 0;
    }
    mgc_ast_free(f);
    mgc_diags_free(&d);
    return found;
}

/* The path of `target` (absolute) relative to directory `from` (absolute). */
static void relative(const char *from, const char *target, char *out, size_t cap)
{
    size_t common = 0, i = 0;
    for (; from[i] && target[i] && from[i] == target[i]; i++)
        if (from[i] == '/')
            common = i + 1;
    if (!from[i] && target[i] == '/')
        common = i + 1;
    size_t o = 0;
    out[0] = 0;
    /* one "../" for each directory of `from` below the common prefix */
    for (const char *p = from + common; *p && o + 4 < cap;) {
        o += (size_t)snprintf(out + o, cap - o, "../");
        p = strchr(p, '/');
        if (!p)
            break;
        p++;
    }
    if (o < cap)
        snprintf(out + o, cap - o, "%s", target + common);
}

/* `import "REL"` for library file `path`, REL relative to spec_path's directory. */
static char *import_line(const char *path, const char *spec_path)
{
    char spec_dir[PATH_MAX], abs_spec_dir[PATH_MAX], abs_target[PATH_MAX], rel[2 * PATH_MAX];
    const char *slash = spec_path ? strrchr(spec_path, '/') : NULL;
    if (slash == spec_path)
        snprintf(spec_dir, sizeof spec_dir, "/");
    else
        snprintf(spec_dir, sizeof spec_dir, "%.*s", slash ? (int)(slash - spec_path) : 1, slash ? spec_path : ".");
    if (!realpath(path, abs_target))
        return NULL;
    if (!realpath(spec_dir, abs_spec_dir) && !getcwd(abs_spec_dir, sizeof abs_spec_dir))
        return NULL;
    relative(abs_spec_dir, abs_target, rel, sizeof rel);
    size_t cap = strlen(rel) + 16;
    char *result = malloc(cap);
    if (result)
        snprintf(result, cap, "import \"%s\"", rel);
    return result;
}

char *mgc_spec_library_import_of(const char *import_path, const char *spec_path)
{
    const char *base = strrchr(import_path, '/');
    base = base ? base + 1 : import_path;
    if (!*base || strchr(base, '/'))
        return NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", mgc_spec_library_dir(), base);
    return access(path, R_OK) == 0 ? import_line(path, spec_path) : NULL;
}

char *mgc_spec_library_import_for(const char *name, const char *spec_path)
{
    const char *dir = mgc_spec_library_dir();
    DIR *dh = opendir(dir);
    if (!dh)
        return NULL;
    char **files = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 7 || strcmp(de->d_name + len - 6, ".graph") != 0)
            continue;
        char **nf = realloc(files, (n + 1) * sizeof *files);
        if (!nf)
            break;
        files = nf;
        files[n++] = strdup(de->d_name);
    }
    closedir(dh);
    qsort(files, n, sizeof *files, cmp_str);
    char *result = NULL;
    for (size_t i = 0; i < n && !result; i++) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, files[i] ? files[i] : "");
        if (!files[i] || !defines(path, name))
            continue;
        result = import_line(path, spec_path);
    }
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    return result;
}
