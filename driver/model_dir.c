#include "model_dir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int find(void *ctx, const char *name, mgc_tensor_info *out)
{
    const rt_st_tensor *t = rt_ckpt_find(ctx, name);
    if (!t)
        return -1;
    out->rank = t->ndim;
    for (int i = 0; i < t->ndim && i < 8; i++)
        out->shape[i] = t->shape[i];
    out->dtype = rt_st_dtype_name(t->dtype);
    return 0;
}

static size_t count(void *ctx) { return rt_ckpt_count(ctx); }

static const char *name_at(void *ctx, size_t i)
{
    const rt_st_tensor *t = rt_ckpt_at(ctx, i);
    return t ? t->name : "";
}

static int has_checkpoint(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (access(p, F_OK) == 0)
        return 1;
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    return access(p, F_OK) == 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The hub cache directory, as huggingface_hub chooses it. */
static void hub_cache(char *out, size_t size)
{
    const char *v;
    if ((v = getenv("HF_HUB_CACHE")) && *v)
        snprintf(out, size, "%s", v);
    else if ((v = getenv("HF_HOME")) && *v)
        snprintf(out, size, "%s/hub", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v)
        snprintf(out, size, "%s/huggingface/hub", v);
    else
        snprintf(out, size, "%s/.cache/huggingface/hub", (v = getenv("HOME")) && *v ? v : ".");
}

/* entry = .../models--ORG--NAME: its snapshot (refs/main, else the only one). */
static int pick_snapshot(const char *entry, char *out, size_t size, mgc_error *e)
{
    char p[4096], rev[256] = "";
    snprintf(p, sizeof p, "%s/refs/main", entry);
    FILE *f = fopen(p, "r");
    if (f) {
        if (!fgets(rev, sizeof rev, f))
            rev[0] = 0;
        fclose(f);
        rev[strcspn(rev, " \r\n")] = 0;
    }
    if (rev[0] && !strchr(rev, '/')) {
        snprintf(p, sizeof p, "%s/snapshots/%s", entry, rev);
        if (is_dir(p)) {
            snprintf(out, size, "%s", p);
            return 0;
        }
    }
    snprintf(p, sizeof p, "%s/snapshots", entry);
    DIR *d = opendir(p);
    if (!d)
        return mgc_path_errorf(e, entry, "a HuggingFace cache entry without snapshots/ (an incomplete download?)");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            if (n++ == 0)
                snprintf(rev, sizeof rev, "%s", de->d_name);
        }
    closedir(d);
    if (n != 1)
        return mgc_path_errorf(e, entry,
                               n == 0 ? "no snapshot under snapshots/ (an incomplete download?)"
                                      : "several snapshots and no refs/main: give --model the snapshots/REV directory");
    snprintf(out, size, "%s/snapshots/%s", entry, rev);
    return 0;
}

int mgc_model_dir_resolve(const char *arg, char *out, size_t size, mgc_error *e)
{
    char p[4096];
    if (is_dir(arg)) {
        snprintf(p, sizeof p, "%s/snapshots", arg);
        const char *base = strrchr(arg, '/');
        base = base ? base + 1 : arg;
        /* the cache entry itself rather than one of its snapshots */
        if (!strncmp(base, "models--", 8) && is_dir(p))
            return pick_snapshot(arg, out, size, e);
        snprintf(out, size, "%s", arg);
        return 0;
    }
    const char *slash = strchr(arg, '/');
    int hub_id = slash && slash != arg && slash[1] && !strchr(slash + 1, '/') && arg[0] != '.' && arg[0] != '~';
    if (!hub_id)
        return mgc_path_errorf(e, arg, "no such directory (--model takes a local HuggingFace checkpoint directory)");
    char hub[2048], entry[4096];
    hub_cache(hub, sizeof hub);
    snprintf(entry, sizeof entry, "%s/models--%.*s--%s", hub, (int)(slash - arg), arg, slash + 1);
    if (is_dir(entry))
        return pick_snapshot(entry, out, size, e);
    return mgc_errorf(e,
                      "--model %s: not a local directory, and not in the local HuggingFace cache (%s); --model takes "
                      "a local checkpoint directory and mgc downloads nothing: fetch it first (e.g. "
                      "'huggingface-cli download %s') or give the snapshot directory",
                      arg, entry, arg);
}

int mgc_model_dir_open(mgc_model_dir *m, const char *arg, int need_weights, mgc_error *e)
{
    memset(m, 0, sizeof *m);
    if (mgc_model_dir_resolve(arg, m->dir, sizeof m->dir, e) != 0)
        return -1;
    const char *dir = m->dir;
    snprintf(m->config, sizeof m->config, "%s/config.json", dir);
    if (!has_checkpoint(dir)) {
        if (need_weights)
            return mgc_path_errorf(e, dir, "no model.safetensors or model.safetensors.index.json here");
        return 0;
    }
    if (rt_ckpt_open(dir, &m->ck, e) != 0)
        return -1;
    m->lookup = (mgc_tensor_lookup){.ctx = m->ck, .find = find, .count = count, .name_at = name_at, .label = dir};
    return 0;
}

void mgc_model_dir_close(mgc_model_dir *m)
{
    rt_ckpt_close(m->ck);
    m->ck = NULL;
}

void mgc_model_dir_apply(const mgc_model_dir *m, mgc_compile_opts *o)
{
    o->config_path = m->config;
    o->tensors = m->ck ? &m->lookup : NULL;
}
