/* engine_head.c: see engine_head.h. */
#include "engine_head.h"

#include "engine_deps.h"

#include <stdlib.h>

static int joins_head(const mgc_plan_entry *en, size_t i, void *ctx)
{
    (void)ctx;
    return rt_kernel_row_by_row(en->ops[i].kernel) && en->ops[i].device < 0;
}

int rt_head_ops_find(const mgc_plan_entry *en, unsigned char **head, mgc_error *e)
{
    *head = NULL;
    long out_at = -1;
    for (size_t i = 0; i < en->nops; i++)
        if (en->ops[i].kernel == MGC_K_OUTPUT)
            out_at = (long)i;
    if (out_at < 0)
        return 0;
    unsigned char *h = malloc(en->nops);
    if (!h)
        return mgc_errorf(e, "out of memory");
    if (rt_ops_only_feeding(en, -1, out_at, 7u, joins_head, NULL, h, e) < 0) {
        free(h);
        return -1;
    }
    *head = h;
    return 0;
}
