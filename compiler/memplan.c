/* memplan.c: buffer lifetimes, arena offsets, and the per-device memory
 * summary of a plan.
 *
 * A buffer lives from the op that writes it to the last op that reads it
 * (the entry's input lives from op 0).  Offsets are assigned in schedule
 * order, first fit, into an arena whose dead buffers are reused: a classic
 * linear-scan interval allocation, deterministic so plans diff cleanly.
 *
 * The summary counts, per device (the largest device's figure): weight slices at their storage dtype, the
 * KV cache, and the larger of the two entry points' arenas at the activation
 * dtype; the total must fit the system's DRAM less its reserved part. */
#include "memplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lifetimes(mgc_plan_entry *en)
{
    for (size_t b = 0; b < en->nbufs; b++)
        en->bufs[b].first = en->bufs[b].last = -1;
    if (en->input >= 0 && (size_t)en->input < en->nbufs)
        en->bufs[en->input].first = en->bufs[en->input].last = 0;
    for (size_t i = 0; i < en->nops; i++) {
        mgc_plan_op *op = &en->ops[i];
        for (int k = 0; k < 3; k++)
            if (op->in[k] >= 0) {
                mgc_plan_buffer *b = &en->bufs[op->in[k]];
                if (b->first < 0)
                    b->first = (int)i;
                b->last = (int)i;
            }
        if (op->out >= 0) {
            mgc_plan_buffer *b = &en->bufs[op->out];
            if (b->first < 0)
                b->first = (int)i;
            if (b->last < (int)i)
                b->last = (int)i;
        }
    }
}

typedef struct span_ {
    int64_t off, size;
    int last;
} span_;

static int64_t place(mgc_plan_entry *en)
{
    /* live allocations, kept sorted by offset */
    span_ *live = calloc(en->nbufs ? en->nbufs : 1, sizeof *live);
    size_t nlive = 0;
    int64_t arena = 0;
    /* order buffers by first use, ties by id (deterministic) */
    int *order = malloc(sizeof(int) * (en->nbufs ? en->nbufs : 1));
    for (size_t i = 0; i < en->nbufs; i++)
        order[i] = (int)i;
    for (size_t i = 1; i < en->nbufs; i++) {
        int x = order[i];
        size_t j = i;
        while (j > 0 && en->bufs[order[j - 1]].first > en->bufs[x].first) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
    for (size_t oi = 0; oi < en->nbufs; oi++) {
        mgc_plan_buffer *b = &en->bufs[order[oi]];
        if (b->first < 0) { /* never used: give it no space */
            b->offset = 0;
            b->size = 0;
            b->first = b->last = 0;
            continue;
        }
        /* free what died before this buffer is born */
        size_t w = 0;
        for (size_t i = 0; i < nlive; i++)
            if (live[i].last >= b->first)
                live[w++] = live[i];
        nlive = w;
        int64_t off = 0;
        size_t at = 0;
        for (; at < nlive; at++) {
            if (live[at].off - off >= b->size)
                break;
            if (live[at].off + live[at].size > off)
                off = live[at].off + live[at].size;
        }
        b->offset = off;
        memmove(&live[at + 1], &live[at], (nlive - at) * sizeof *live);
        live[at] = (span_){off, b->size, b->last};
        nlive++;
        if (off + b->size > arena)
            arena = off + b->size;
    }
    free(order);
    free(live);
    return arena;
}

static uint64_t act_bytes(const mgc_plan_entry *en)
{
    /* a device stores activations at their dtype (the token ids are i32,
     * but one value per row does not decide the arena's element size) */
    uint64_t widest = 2;
    for (size_t i = 0; i < en->nbufs; i++) {
        if (en->bufs[i].dtype == MGC_I32)
            continue;
        uint64_t w = en->bufs[i].dtype == MGC_BF16 ? 2 : 4;
        if (w > widest)
            widest = w;
    }
    return widest;
}

static void human(char *buf, size_t n, uint64_t b)
{
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (double)(1ull << 30));
    else
        snprintf(buf, n, "%.1f MiB", (double)b / (double)(1ull << 20));
}

int mgc_memplan(mgc_plan *p, uint64_t reserved, mgc_diags *d, mgc_span where)
{
    mgc_plan_entry *ens[2] = {&p->prefill, &p->decode};
    uint64_t acts = 0;
    for (int i = 0; i < 2; i++) {
        lifetimes(ens[i]);
        ens[i]->arena_values = place(ens[i]);
        uint64_t b = (uint64_t)ens[i]->arena_values * act_bytes(ens[i]);
        if (b > acts)
            acts = b;
    }
    /* per device: devices can hold different weights (expert parallel), so
     * the figure is the largest device's sum of its own slices */
    uint64_t weights = 0;
    for (int dv = 0; dv < p->ndevices; dv++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < p->nweights; i++) {
            const mgc_plan_weight *w = &p->weights[i];
            const mgc_weight_slice *s = &w->slices[dv];
            uint64_t n = (uint64_t)s->local_shape[0] * (uint64_t)(w->rank == 2 ? s->local_shape[1] : 1);
            sum += mgc_dtype_bytes(w->dtype, n);
        }
        if (sum > weights)
            weights = sum;
    }
    uint64_t kv = 0;
    if (p->cache_layers) {
        uint64_t per = (uint64_t)p->cache_users * (uint64_t)p->cache_kv_heads * (uint64_t)p->cache_len *
                       (uint64_t)p->cache_head_dim;
        kv = (uint64_t)p->cache_layers * 2 * mgc_dtype_bytes(p->kv_dtype, per);
    }
    p->memory.weights = weights;
    p->memory.kv_cache = kv;
    p->memory.activations = acts;
    p->memory.total = weights + kv + acts;
    p->memory.dram = p->dram_bytes;
    uint64_t avail = p->dram_bytes > reserved ? p->dram_bytes - reserved : 0;
    p->memory.usable = avail;
    if (p->memory.total > avail) {
        char w[32], k[32], a[32], t[32], v[32];
        human(w, sizeof w, weights);
        human(k, sizeof k, kv);
        human(a, sizeof a, acts);
        human(t, sizeof t, p->memory.total);
        human(v, sizeof v, avail);
        mgc_error_at(d, where,
                     "the plan does not fit on %s: each device needs %s (weights %s + KV cache %s + activations %s) but has %s",
                     p->system, t, w, k, a, v);
        mgc_diag_hint(d, "use smaller weights (precision weights=bf8_b), a shorter cache (cache max_len / --max-seq-len), fewer users (--batch), or a larger mesh");
        return -1;
    }
    return 0;
}
