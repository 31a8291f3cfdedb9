#include "random_checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* xorshift64: reproducible, and fast enough for a few GiB */
static uint16_t rand_bf16(uint64_t *rng, float scale)
{
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    float f = ((float)(*rng >> 40) / (float)(1 << 24) - 0.5f) * 2 * scale;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

int bench_random_checkpoint(const mgc_plan *p, const char *dir, mgc_error *e)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    rt_st_entry *ents = calloc(p->nweights ? p->nweights : 1, sizeof *ents);
    if (!ents)
        return mgc_errorf(e, "out of memory");
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < p->nweights && rc == 0; i++) {
        const mgc_plan_weight *w = &p->weights[i];
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= strcmp(ents[k].name, w->hf_name) == 0;
        if (dup)
            continue; /* tied or fused parts: one checkpoint tensor */
        size_t numel = (size_t)w->hf_shape[0] * (size_t)(w->rank == 2 ? w->hf_shape[1] : 1);
        uint16_t *data = malloc(numel * 2);
        if (!data) {
            rc = mgc_errorf(e, "out of memory for '%s'", w->hf_name);
            break;
        }
        for (size_t k = 0; k < numel; k++)
            data[k] = w->role == MGC_W_NORM ? 0x3f80 /* 1.0 */ : w->role == MGC_W_BIAS ? 0 : rand_bf16(&rng, 0.02f);
        ents[n] = (rt_st_entry){.name = w->hf_name, .dtype = RT_ST_BF16, .ndim = w->rank, .data = data,
                                .nbytes = numel * 2};
        ents[n].shape[0] = w->hf_shape[0];
        if (w->rank == 2)
            ents[n].shape[1] = w->hf_shape[1];
        n++;
    }
    if (rc == 0) {
        char path[4400];
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        rc = rt_st_write(path, ents, n, NULL, e);
    }
    for (size_t k = 0; k < n; k++)
        free((void *)ents[k].data);
    free(ents);
    return rc;
}
