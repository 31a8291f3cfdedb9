/* profile.c: per-op timing of plan execution (see profile.h). */
#include "profile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic_file.h"
#include "engine_internal.h"
#include "strbuf.h"

/* One entry point's counters: [device][op]. */
typedef struct prof_entry {
    const mgc_plan_entry *ent;
    size_t nops;
    uint64_t *ns, *calls;
    double *rows, *rows2;      /* sum of rows, of rows^2 (causal attention) */
    int *layer;                /* [op]: -1 embed, 0..L-1 a decoder layer, L the head */
    uint64_t *bytes_call;      /* [device][op] weight bytes read per call */
    uint64_t *bytes_row;       /* [device][op] per row (embedding lookups) */
    double *flops_row;         /* [device][op] per row (linear) */
    double *flops_row2;        /* [op] per row^2 (causal attention) */
} prof_entry;

struct rt_profile {
    const mgc_plan *plan;
    int ndev;
    int nlayers;
    prof_entry e[2];
};

uint64_t rt_profile_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void rt_profile_op(rt_profile *pf, int device, int decode, size_t op, int rows, uint64_t t0)
{
    prof_entry *pe = &pf->e[decode];
    size_t k = (size_t)device * pe->nops + op;
    pe->ns[k] += rt_profile_now() - t0;
    pe->calls[k]++;
    pe->rows[k] += rows;
    pe->rows2[k] += (double)rows * rows;
}

void rt_profile_attach(rt_engine *en, rt_profile *pf) { en->profile = pf; }

static uint64_t slice_values(const mgc_plan_weight *w, int d)
{
    const int64_t *s = w->slices[d].local_shape;
    return (uint64_t)s[0] * (uint64_t)(w->rank == 2 ? s[1] : 1);
}

/* The layer of every op from the residual-stream taps: tap 0 is the
 * embeddings, tap i the output of layer i-1, the last the final norm.  A
 * plan without taps is grouped by its buffers' "lN." names. */
static void assign_layers(const mgc_plan *p, prof_entry *pe, int *nlayers)
{
    int seen = 0;
    for (size_t i = 0; i < pe->nops; i++) {
        const mgc_plan_op *op = &pe->ent->ops[i];
        if (p->n_taps > 0) {
            pe->layer[i] = seen == 0 ? -1 : seen - 1 < p->n_taps - 2 ? seen - 1 : p->n_taps - 2;
            if (op->tap >= 0)
                seen = op->tap + 1;
        } else {
            int l = -1;
            const char *name = op->out >= 0 ? pe->ent->bufs[op->out].name : NULL;
            if (!name || sscanf(name, "l%d.", &l) != 1)
                l = -1;
            pe->layer[i] = l;
        }
    }
    *nlayers = p->n_taps > 0 ? p->n_taps - 2 : (int)p->n_layers;
}

rt_profile *rt_profile_new(const mgc_plan *p)
{
    rt_profile *pf = calloc(1, sizeof *pf);
    if (!pf)
        return NULL;
    pf->plan = p;
    pf->ndev = p->ndevices > 0 ? p->ndevices : 1;
    const mgc_plan_entry *ents[2] = {&p->prefill, &p->decode};
    for (int k = 0; k < 2; k++) {
        prof_entry *pe = &pf->e[k];
        pe->ent = ents[k];
        pe->nops = ents[k]->nops;
        size_t n = (size_t)pf->ndev * (pe->nops ? pe->nops : 1);
        pe->ns = calloc(n, sizeof *pe->ns);
        pe->calls = calloc(n, sizeof *pe->calls);
        pe->rows = calloc(n, sizeof *pe->rows);
        pe->rows2 = calloc(n, sizeof *pe->rows2);
        pe->bytes_call = calloc(n, sizeof *pe->bytes_call);
        pe->bytes_row = calloc(n, sizeof *pe->bytes_row);
        pe->flops_row = calloc(n, sizeof *pe->flops_row);
        pe->flops_row2 = calloc(pe->nops ? pe->nops : 1, sizeof *pe->flops_row2);
        pe->layer = calloc(pe->nops ? pe->nops : 1, sizeof *pe->layer);
        if (!pe->ns || !pe->calls || !pe->rows || !pe->rows2 || !pe->bytes_call || !pe->bytes_row || !pe->flops_row ||
            !pe->flops_row2 || !pe->layer) {
            rt_profile_free(pf);
            return NULL;
        }
        assign_layers(p, pe, &pf->nlayers);
        for (size_t i = 0; i < pe->nops; i++) {
            const mgc_plan_op *op = &pe->ent->ops[i];
            if (op->kernel == MGC_K_SDPA)
                pe->flops_row2[i] = 2.0 * op->n_heads * op->head_dim; /* QK^T and PV over the causal half */
            for (int d = 0; d < pf->ndev; d++) {
                size_t at = (size_t)d * pe->nops + i;
                if (op->device >= 0 && op->device != d)
                    continue; /* an op of another device's expert: this one writes zeros */
                int ws[2] = {op->weight, op->weight2};
                for (int j = 0; j < 2; j++) {
                    if (ws[j] < 0 || (size_t)ws[j] >= p->nweights)
                        continue;
                    const mgc_plan_weight *w = &p->weights[ws[j]];
                    if (op->kernel == MGC_K_EMBEDDING || op->kernel == MGC_K_POS_EMBEDDING) {
                        /* a lookup reads one row of the table per token */
                        const int64_t *s = w->slices[d].local_shape;
                        pe->bytes_row[at] += mgc_dtype_bytes(w->dtype, (uint64_t)(w->rank == 2 ? s[1] : 1));
                    } else {
                        pe->bytes_call[at] += mgc_dtype_bytes(w->dtype, slice_values(w, d));
                        if (op->kernel == MGC_K_LINEAR && j == 0)
                            pe->flops_row[at] = 2.0 * (double)slice_values(w, d);
                    }
                }
            }
        }
    }
    return pf;
}

void rt_profile_free(rt_profile *pf)
{
    if (!pf)
        return;
    for (int k = 0; k < 2; k++) {
        prof_entry *pe = &pf->e[k];
        free(pe->ns);
        free(pe->calls);
        free(pe->rows);
        free(pe->rows2);
        free(pe->bytes_call);
        free(pe->bytes_row);
        free(pe->flops_row);
        free(pe->flops_row2);
        free(pe->layer);
    }
    free(pf);
}

static int is_collective(mgc_kernel k)
{
    return k == MGC_K_ALL_REDUCE || k == MGC_K_ALL_GATHER || k == MGC_K_OUTPUT;
}

/* Per-device figures of op i, summed over devices (the caller divides). */
typedef struct op_fig {
    double seconds, flops;
    uint64_t calls, bytes;
} op_fig;

static op_fig figures(const rt_profile *pf, const prof_entry *pe, size_t i)
{
    op_fig f = {0};
    for (int d = 0; d < pf->ndev; d++) {
        size_t at = (size_t)d * pe->nops + i;
        f.seconds += (double)pe->ns[at] * 1e-9;
        f.calls += pe->calls[at];
        f.bytes += pe->calls[at] * pe->bytes_call[at] + (uint64_t)pe->rows[at] * pe->bytes_row[at];
        f.flops += pe->rows[at] * pe->flops_row[at] + pe->rows2[at] * pe->flops_row2[i];
    }
    return f;
}

static void layer_name(const rt_profile *pf, int l, char *buf, size_t n)
{
    if (l < 0)
        snprintf(buf, n, "embed");
    else if (l >= pf->nlayers)
        snprintf(buf, n, "head");
    else
        snprintf(buf, n, "layer %d", l);
}

void rt_profile_phase(const rt_profile *pf, int decode, int64_t *calls, int64_t *rows, double *op_seconds,
                      double *collective_seconds)
{
    const prof_entry *pe = &pf->e[decode];
    *calls = pe->nops ? (int64_t)pe->calls[0] : 0;
    *rows = pe->nops ? (int64_t)pe->rows[0] : 0;
    double all = 0, coll = 0;
    for (size_t i = 0; i < pe->nops; i++) {
        op_fig f = figures(pf, pe, i);
        all += f.seconds;
        if (is_collective(pe->ent->ops[i].kernel))
            coll += f.seconds;
    }
    *op_seconds = all / pf->ndev;
    *collective_seconds = coll / pf->ndev;
}

int rt_profile_summary(const rt_profile *pf, int decode, rt_profile_by by, rt_profile_row **rows, size_t *n)
{
    const prof_entry *pe = &pf->e[decode];
    *rows = NULL;
    *n = 0;
    if (!pe->nops || pe->calls[0] == 0)
        return 0;
    rt_profile_row *r = calloc(pe->nops, sizeof *r);
    if (!r)
        return -1;
    size_t nr = 0;
    double total = 0;
    for (size_t i = 0; i < pe->nops; i++) {
        const mgc_plan_op *op = &pe->ent->ops[i];
        char name[64];
        if (by == RT_PROFILE_BY_KIND)
            snprintf(name, sizeof name, "%s", mgc_kernel_name(op->kernel));
        else
            layer_name(pf, pe->layer[i], name, sizeof name);
        size_t k = 0;
        while (k < nr && strcmp(r[k].name, name))
            k++;
        if (k == nr)
            snprintf(r[nr++].name, sizeof r[k].name, "%s", name);
        op_fig f = figures(pf, pe, i);
        r[k].calls += (int64_t)(f.calls / (uint64_t)pf->ndev);
        r[k].seconds += f.seconds / pf->ndev;
        r[k].weight_bytes += f.bytes / (uint64_t)pf->ndev;
        r[k].flops += f.flops / pf->ndev;
        total += f.seconds / pf->ndev;
    }
    for (size_t k = 0; k < nr; k++)
        r[k].share = total > 0 ? 100.0 * r[k].seconds / total : 100.0 / (double)nr;
    *rows = r;
    *n = nr;
    return 0;
}

static void print_table(const rt_profile *pf, FILE *out, int decode, rt_profile_by by)
{
    rt_profile_row *r;
    size_t n;
    if (rt_profile_summary(pf, decode, by, &r, &n) != 0 || n == 0)
        return;
    fprintf(out, "  %-14s %8s %11s %7s %12s %10s\n", by == RT_PROFILE_BY_KIND ? "op" : "layer", "calls", "time_ms",
            "share", "weights_MiB", decode ? "GB/s" : "GFLOP/s");
    for (size_t k = 0; k < n; k++) {
        double rate = decode ? (r[k].seconds > 0 ? (double)r[k].weight_bytes / r[k].seconds * 1e-9 : 0)
                             : (r[k].seconds > 0 ? r[k].flops / r[k].seconds * 1e-9 : 0);
        char rs[32] = "-";
        if ((decode && r[k].weight_bytes) || (!decode && r[k].flops > 0))
            snprintf(rs, sizeof rs, "%.2f", rate);
        fprintf(out, "  %-14s %8lld %11.3f %6.1f%% %12.3f %10s\n", r[k].name, (long long)r[k].calls,
                r[k].seconds * 1e3, r[k].share, (double)r[k].weight_bytes / 1048576.0, rs);
    }
    free(r);
}

void rt_profile_print(const rt_profile *pf, FILE *out)
{
    for (int decode = 0; decode < 2; decode++) {
        int64_t calls, rows;
        double secs, coll;
        rt_profile_phase(pf, decode, &calls, &rows, &secs, &coll);
        if (calls == 0)
            continue;
        fprintf(out, "\nprofile: %s, %lld call%s (%lld %s), per device (mean of %d): ops %.3f ms, collectives %.3f ms "
                     "(%.1f%%)\n",
                decode ? "decode" : "prefill", (long long)calls, calls == 1 ? "" : "s", (long long)rows,
                decode ? "user-steps" : "tokens", pf->ndev, secs * 1e3, coll * 1e3, secs > 0 ? 100 * coll / secs : 0);
        print_table(pf, out, decode, RT_PROFILE_BY_KIND);
        fprintf(out, "\n");
        print_table(pf, out, decode, RT_PROFILE_BY_LAYER);
    }
}

static void csv_str(mgc_strbuf *b, const char *s)
{
    mgc_sb_putc(b, '"');
    for (; s && *s; s++) {
        if (*s == '"')
            mgc_sb_putc(b, '"');
        mgc_sb_putc(b, *s);
    }
    mgc_sb_putc(b, '"');
}

int rt_profile_write_csv(const rt_profile *pf, const char *path, mgc_error *e)
{
    mgc_strbuf b = {0};
    mgc_sb_printf(&b, "phase,op_index,kernel,layer,output,where,calls,rows,total_us,share_pct,weight_bytes,flops,"
                      "gb_per_s,gflop_per_s\n");
    for (int decode = 0; decode < 2; decode++) {
        const prof_entry *pe = &pf->e[decode];
        int64_t calls, rows;
        double secs, coll;
        rt_profile_phase(pf, decode, &calls, &rows, &secs, &coll);
        if (calls == 0)
            continue;
        for (size_t i = 0; i < pe->nops; i++) {
            const mgc_plan_op *op = &pe->ent->ops[i];
            op_fig f = figures(pf, pe, i);
            double s = f.seconds / pf->ndev, bytes = (double)f.bytes / pf->ndev, fl = f.flops / pf->ndev;
            char layer[32];
            layer_name(pf, pe->layer[i], layer, sizeof layer);
            mgc_sb_printf(&b, "%s,%zu,%s,%s,", decode ? "decode" : "prefill", i, mgc_kernel_name(op->kernel), layer);
            csv_str(&b, op->out >= 0 ? pe->ent->bufs[op->out].name : "");
            mgc_sb_putc(&b, ',');
            csv_str(&b, op->where);
            mgc_sb_printf(&b, ",%llu,%.0f,%.3f,%.4f,%.0f,%.0f,%.4f,%.4f\n",
                          (unsigned long long)(f.calls / (uint64_t)pf->ndev), pe->rows[i], s * 1e6,
                          secs > 0 ? 100 * s / secs : 0, bytes, fl, s > 0 ? bytes / s * 1e-9 : 0,
                          s > 0 ? fl / s * 1e-9 : 0);
        }
    }
    int rc = mgc_write_file_atomic(path, b.s ? b.s : "", b.len, e);
    mgc_sb_free(&b);
    return rc;
}
