/* checkpoint: a model directory (single safetensors file or a sharded index) as one
 * name-sorted set of tensors.  See checkpoint.h. */
#include "checkpoint.h"

#include "json_strict.h"
#include "read_file.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SINGLE_NAME "model.safetensors"
#define INDEX_NAME "model.safetensors.index.json"
/* An index maps a few thousand names at most; anything this large is not an index. */
#define MAX_INDEX_BYTES (64u * 1024u * 1024u)

struct rt_ckpt {
    char *path;
    rt_st_file **files;
    size_t nfiles;
    const rt_st_tensor **tensors; /* sorted by name */
    size_t ntensors;
};

void rt_ckpt_close(rt_ckpt *ck)
{
    if (!ck)
        return;
    for (size_t i = 0; i < ck->nfiles; i++)
        rt_st_close(ck->files[i]);
    free(ck->files);
    free(ck->tensors);
    free(ck->path);
    free(ck);
}

static char *join(const char *dir, const char *name)
{
    char *p;
    size_t n = strlen(dir);
    if (asprintf(&p, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name) < 0)
        return NULL;
    return p;
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_tensor_ptr(const void *a, const void *b)
{
    return strcmp((*(const rt_st_tensor *const *)a)->name, (*(const rt_st_tensor *const *)b)->name);
}

/* Appends every tensor of every file to ck->tensors and sorts them. */
static int collect(rt_ckpt *ck, mgc_error *e)
{
    size_t n = 0;
    for (size_t i = 0; i < ck->nfiles; i++)
        n += rt_st_count(ck->files[i]);
    ck->tensors = calloc(n ? n : 1, sizeof *ck->tensors);
    if (!ck->tensors)
        return mgc_path_errorf(e, ck->path, "out of memory");
    for (size_t i = 0; i < ck->nfiles; i++)
        for (size_t j = 0; j < rt_st_count(ck->files[i]); j++)
            ck->tensors[ck->ntensors++] = rt_st_at(ck->files[i], j);
    qsort(ck->tensors, ck->ntensors, sizeof *ck->tensors, cmp_tensor_ptr);
    return 0;
}

static int open_single(rt_ckpt *ck, const char *file, mgc_error *e)
{
    ck->files = calloc(1, sizeof *ck->files);
    if (!ck->files)
        return mgc_path_errorf(e, file, "out of memory");
    if (rt_st_open(file, &ck->files[0], e) != 0)
        return -1;
    ck->nfiles = 1;
    return collect(ck, e);
}

/* Reads the whole index file (NUL-terminated) into *out. */
static int read_text(const char *path, char **out, size_t *len, mgc_error *e)
{
    return mgc_read_file(path, MAX_INDEX_BYTES, out, len, e);
}

/* line:col of byte offset `off` in text. */
static json_object *parse_json(const char *path, const char *text, size_t len, mgc_error *e)
{
    if (memchr(text, 0, len)) {
        mgc_path_errorf(e, path, "contains a NUL byte, not JSON");
        return NULL;
    }
    const char *why;
    size_t at;
    json_object *root = mgc_json_parse_strict(text, len, &why, &at);
    if (!root) {
        int line, col;
        mgc_text_line_col(text, at, &line, &col);
        mgc_errorf(e, "%s:%d:%d: invalid JSON: %s", path, line, col, why);
        return NULL;
    }
    return root;
}

/* A shard name must stay inside the checkpoint directory. */
static bool plain_file_name(const char *s, size_t len)
{
    return len > 0 && strlen(s) == len && !strchr(s, '/') && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

/* Only the shards holding these tensors are opened (names == NULL: all). */
typedef struct wanted {
    const char *const *names;
    size_t n;
} wanted;

static bool is_wanted(const wanted *w, const char *name)
{
    if (!w || !w->names)
        return true;
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->names[i], name) == 0)
            return true;
    return false;
}

static int open_index(rt_ckpt *ck, const char *index, const char *dir, const wanted *want, mgc_error *e)
{
    char *text = NULL;
    size_t len = 0;
    const char **shards = NULL;
    int rc = -1;
    if (read_text(index, &text, &len, e) != 0)
        return -1;
    json_object *root = parse_json(index, text, len, e), *wm = NULL, *meta = NULL;
    if (!root)
        goto out;
    if (!json_object_is_type(root, json_type_object)) {
        mgc_path_errorf(e, index, "index is a JSON %s, expected an object",
               json_type_to_name(json_object_get_type(root)));
        goto out;
    }
    if (json_object_object_get_ex(root, "metadata", &meta) && meta &&
        !json_object_is_type(meta, json_type_object)) {
        mgc_path_errorf(e, index, "\"metadata\" is a JSON %s, expected an object",
               json_type_to_name(json_object_get_type(meta)));
        goto out;
    }
    if (!json_object_object_get_ex(root, "weight_map", &wm)) {
        mgc_path_errorf(e, index, "index has no \"weight_map\"");
        goto out;
    }
    if (!json_object_is_type(wm, json_type_object)) {
        mgc_path_errorf(e, index, "\"weight_map\" is a JSON %s, expected an object of shard file names",
               json_type_to_name(json_object_get_type(wm)));
        goto out;
    }
    size_t nwm = (size_t)json_object_object_length(wm);
    shards = calloc(nwm ? nwm : 1, sizeof *shards);
    if (!shards) {
        mgc_path_errorf(e, index, "out of memory");
        goto out;
    }
    size_t nshards = 0;
    json_object_object_foreach(wm, name, val)
    {
        if (!json_object_is_type(val, json_type_string)) {
            mgc_path_errorf(e, index, "weight_map entry for tensor '%s' is a JSON %s, expected a shard "
                   "file name", name, json_type_to_name(json_object_get_type(val)));
            goto out;
        }
        const char *s = json_object_get_string(val);
        if (!plain_file_name(s, (size_t)json_object_get_string_len(val))) {
            mgc_path_errorf(e, index,
                   "weight_map shard '%s' for tensor '%s' is not a plain file name in the "
                   "checkpoint directory (no '/', '.' or '..')", s, name);
            goto out;
        }
        size_t k = 0;
        while (k < nshards && strcmp(shards[k], s) != 0)
            k++;
        if (k == nshards && is_wanted(want, name))
            shards[nshards++] = s;
    }
    if (nshards == 0 && !(want && want->names && json_object_object_length(wm) > 0)) {
        mgc_path_errorf(e, index, "\"weight_map\" is empty");
        goto out;
    }
    ck->files = calloc(nshards ? nshards : 1, sizeof *ck->files);
    if (!ck->files) {
        mgc_path_errorf(e, index, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < nshards; k++) {
        char *p = join(dir, shards[k]);
        if (!p) {
            mgc_path_errorf(e, index, "out of memory");
            goto out;
        }
        int r = rt_st_open(p, &ck->files[k], e);
        free(p);
        if (r != 0) {
            mgc_error_prefix(e, "%s: shard '%s'", index, shards[k]);
            goto out;
        }
        ck->nfiles++;
    }
    /* Every listed tensor is in the shard named for it ... */
    json_object_object_foreach(wm, name2, val2)
    {
        const char *s = json_object_get_string(val2);
        size_t k = 0;
        while (k < nshards && strcmp(shards[k], s) != 0)
            k++;
        if (k == nshards)
            continue; /* a shard not opened: none of its tensors is wanted */
        if (!rt_st_find(ck->files[k], name2)) {
            mgc_path_errorf(e, index,
                   "tensor '%s' is listed in weight_map for shard '%s' but that shard has no "
                   "such tensor", name2, s);
            goto out;
        }
    }
    /* ... and every tensor of a shard is listed for that shard. */
    for (size_t k = 0; k < nshards; k++)
        for (size_t j = 0; j < rt_st_count(ck->files[k]); j++) {
            const char *tn = rt_st_at(ck->files[k], j)->name;
            json_object *v;
            if (!json_object_object_get_ex(wm, tn, &v)) {
                mgc_path_errorf(e, index, "tensor '%s' in shard '%s' is not listed in weight_map", tn,
                       shards[k]);
                goto out;
            }
            if (strcmp(json_object_get_string(v), shards[k]) != 0) {
                mgc_path_errorf(e, index, "tensor '%s' is in shard '%s' but weight_map names shard '%s'",
                       tn, shards[k], json_object_get_string(v));
                goto out;
            }
        }
    rc = collect(ck, e);
out:
    free(shards);
    json_object_put(root);
    free(text);
    return rc;
}

static int ckpt_open(const char *path, const wanted *want, rt_ckpt **out, mgc_error *e);

int rt_ckpt_open(const char *path, rt_ckpt **out, mgc_error *e)
{
    return ckpt_open(path, NULL, out, e);
}

int rt_ckpt_open_only(const char *path, const char *const *names, size_t n, rt_ckpt **out, mgc_error *e)
{
    wanted w = {names, n};
    return ckpt_open(path, &w, out, e);
}

static int ckpt_open(const char *path, const wanted *want, rt_ckpt **out, mgc_error *e)
{
    *out = NULL;
    rt_ckpt *ck = calloc(1, sizeof *ck);
    if (!ck || !(ck->path = strdup(path))) {
        free(ck);
        return mgc_path_errorf(e, path, "out of memory");
    }
    struct stat st;
    int rc = -1;
    char *single = NULL, *index = NULL, *dir = NULL;
    if (stat(path, &st) != 0) {
        mgc_path_errorf(e, path, "cannot open checkpoint: %s", strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        single = join(path, SINGLE_NAME);
        index = join(path, INDEX_NAME);
        if (!single || !index) {
            mgc_path_errorf(e, path, "out of memory");
            goto out;
        }
        if (is_file(single))
            rc = open_single(ck, single, e);
        else if (is_file(index))
            rc = open_index(ck, index, path, want, e);
        else
            mgc_path_errorf(e, path, "no " SINGLE_NAME " or " INDEX_NAME " in this directory");
    } else {
        size_t n = strlen(path);
        if (n >= 5 && strcmp(path + n - 5, ".json") == 0) {
            const char *slash = strrchr(path, '/');
            dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
            if (!dir) {
                mgc_path_errorf(e, path, "out of memory");
                goto out;
            }
            rc = open_index(ck, path, dir, want, e);
        } else {
            rc = open_single(ck, path, e);
        }
    }
out:
    free(single);
    free(index);
    free(dir);
    if (rc != 0) {
        rt_ckpt_close(ck);
        return -1;
    }
    *out = ck;
    return 0;
}

const char *rt_ckpt_path(const rt_ckpt *ck)
{
    return ck->path;
}

const rt_st_tensor *rt_ckpt_find(const rt_ckpt *ck, const char *name)
{
    size_t lo = 0, hi = ck->ntensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ck->tensors[mid]->name);
        if (c == 0)
            return ck->tensors[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t rt_ckpt_count(const rt_ckpt *ck)
{
    return ck->ntensors;
}

const rt_st_tensor *rt_ckpt_at(const rt_ckpt *ck, size_t i)
{
    return i < ck->ntensors ? ck->tensors[i] : NULL;
}

size_t rt_ckpt_nfiles(const rt_ckpt *ck)
{
    return ck->nfiles;
}

const rt_st_file *rt_ckpt_file(const rt_ckpt *ck, size_t i)
{
    return i < ck->nfiles ? ck->files[i] : NULL;
}
