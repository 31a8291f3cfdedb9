#include "ckpt_lookup.h"

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

void mgc_ckpt_lookup_init(mgc_tensor_lookup *l, rt_ckpt *ck, const char *label)
{
    l->ctx = ck;
    l->find = find;
    l->count = count;
    l->name_at = name_at;
    l->label = label;
}

int mgc_dir_has_checkpoint(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (access(p, F_OK) == 0)
        return 1;
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    return access(p, F_OK) == 0;
}
