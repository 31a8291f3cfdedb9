#include "model_dir.h"

#include <stdio.h>
#include <string.h>
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

int mgc_model_dir_open(mgc_model_dir *m, const char *dir, int need_weights, mgc_error *e)
{
    memset(m, 0, sizeof *m);
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
