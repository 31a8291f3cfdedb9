/* Fuzz target: the safetensors loader (runtime/safetensors.c), from memory.
 * Every input is validated as a file would be; an accepted one is then read through
 * every accessor so that any tensor the loader lets through is safe to use. */
#include <stdint.h>
#include <stdlib.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mgc_error e = {{0}};
    rt_st_file *f = NULL;
    if (rt_st_open_memory("fuzz.safetensors", data, size, &f, &e) != 0)
        return 0;
    for (size_t i = 0; i < rt_st_count(f); i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        char shape[128];
        rt_st_shape_str(t, shape, sizeof shape);
        if (rt_st_find(f, t->name) != t)
            abort(); /* names are unique and findable */
        if (t->numel > 4096)
            continue; /* big tensors: the bounds are what matters, checked by the loader */
        double *d = malloc(sizeof *d * (size_t)(t->numel ? t->numel : 1));
        int64_t *q = malloc(sizeof *q * (size_t)(t->numel ? t->numel : 1));
        float *fl = malloc(sizeof *fl * (size_t)(t->numel ? t->numel : 1));
        if (d && q && fl) {
            rt_st_read_f64(t, d, (size_t)t->numel, &e);
            rt_st_read_i64(t, q, (size_t)t->numel, &e);
            int64_t cols = t->ndim ? t->shape[t->ndim - 1] : 1;
            int64_t rows = cols ? t->numel / cols : 0;
            rt_st_read_f32(t, 0, rows, 0, cols, fl, &e);
        }
        free(d);
        free(q);
        free(fl);
    }
    for (size_t i = 0; i < rt_st_metadata_count(f); i++) {
        const char *k, *v;
        rt_st_metadata_at(f, i, &k, &v);
        if (rt_st_metadata(f, k) == NULL)
            abort();
    }
    rt_st_close(f);
    return 0;
}
