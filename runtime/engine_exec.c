/* engine_exec.c: run a plan entry point on every device.
 *
 * A small interpreter in the spirit of SQLite's VDBE: one loop over the op
 * list, one case per kernel.  Every device runs the same list on its own
 * weights, cache and arena (SPMD); collectives synchronise them.  Buffers
 * hold `rows` x `cols` f32 values; a buffer whose plan dtype is bf16 is
 * rounded to bf16 after it is written, which is what storing it as bf16
 * would do. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ccl.h"
#include "engine_internal.h"
#include "profile.h"

static float *buf(const rt_device *d, const mgc_plan_entry *en, int id)
{
    return d->arena + en->bufs[id].offset;
}

/* The columns of an all_gather of a split [rows][local] buffer, staged in
 * d->gather (device dv's n = rows*local values at dv*n), into a replicated
 * [rows][width]: device dv holds columns [dv*local, (dv+1)*local) of the
 * padded width; columns past `width` are padding and are dropped. */
void rt_engine_gather_copy(const rt_device *d, int ndev, int rows, int64_t local, int64_t width, float *out,
                           int64_t out_stride)
{
    size_t n = (size_t)rows * (size_t)local;
    for (int r = 0; r < rows; r++)
        for (int dv = 0; dv < ndev; dv++) {
            int64_t c0 = dv * local;
            if (c0 >= width)
                break;
            int64_t nc = width - c0 < local ? width - c0 : local;
            memcpy(out + (size_t)r * (size_t)out_stride + c0, d->gather + (size_t)dv * n + (size_t)r * (size_t)local,
                   sizeof(float) * (size_t)nc);
        }
}

/* The all_gather itself, then the copy above.  Every device takes part;
 * out == NULL keeps nothing (a device that is not the host's receiver). */
static int gather_cols(rt_device_ctx *ctx, rt_device *d, const float *in, int rows, int64_t local, int64_t width,
                       float *out, int64_t out_stride, mgc_error *e)
{
    if (rt_all_gather(ctx, in, (size_t)rows * (size_t)local, d->gather, e) != 0)
        return -1;
    if (out)
        rt_engine_gather_copy(d, ctx->n_devices, rows, local, width, out, out_stride);
    return 0;
}

int rt_engine_output_whole(const rt_device_ctx *ctx, const rt_call *c, const mgc_plan_op *op)
{
    return op->kernel == MGC_K_OUTPUT && op->in[0] >= 0 &&
           (c->entry->bufs[op->in[0]].cols == op->vocab || ctx->n_devices == 1);
}

void rt_engine_output_copy(const rt_device *d, const rt_call *c, const mgc_plan_op *op, int r0, int rows, int host_row)
{
    for (int r = 0; r < rows; r++)
        memcpy(c->logits + (size_t)(host_row + r) * (size_t)op->vocab, rt_engine_buf_at(d, c->entry, op->in[0], r0 + r),
               sizeof(float) * (size_t)op->vocab);
}

/* Buffer id from row r0 on. */
float *rt_engine_buf_at(const rt_device *d, const mgc_plan_entry *en, int id, int r0)
{
    return d->arena + en->bufs[id].offset + (size_t)r0 * (size_t)en->bufs[id].cols;
}

/* Runs one op on rows [r0, r0 + rows) of the call.  `thread` is the pool
 * thread running it (its slice of the scratch, for an op split over rows:
 * engine_rows.c).  Host-side results (logits) are indexed from 0: a split
 * of the output op copies its rows itself (engine_rows.c, output_task), and
 * a last-row call's logits hold one row. */
int rt_engine_run_rows(rt_device_ctx *ctx, rt_engine *en, rt_device *d, const rt_call *c, const mgc_plan_op *op,
                       int r0, int rows, int thread, mgc_error *e)
{
    const mgc_plan_entry *ent = c->entry;
    const mgc_plan *p = en->plan;
    float *out = op->out >= 0 ? rt_engine_buf_at(d, ent, op->out, r0) : NULL;
    int64_t cols = op->out >= 0 ? ent->bufs[op->out].cols : 0;
    size_t n = (size_t)rows * (size_t)cols;
    const float *x = op->in[0] >= 0 ? rt_engine_buf_at(d, ent, op->in[0], r0) : NULL;
    int bf16 = op->out >= 0 && ent->bufs[op->out].dtype == MGC_BF16;
    const float *y = op->in[1] >= 0 ? rt_engine_buf_at(d, ent, op->in[1], r0) : NULL;
    if (op->device >= 0 && op->device != ctx->device) {
        /* expert parallel: another device runs it; ours contributes zeros */
        if (out)
            memset(out, 0, sizeof(float) * n);
        return 0;
    }
    switch (op->kernel) {
    case MGC_K_EMBEDDING:
        rt_embedding((const int32_t *)x, rows, &d->mats[op->weight], out);
        break;
    case MGC_K_LINEAR: {
        const rt_matrix *w = &d->mats[op->weight];
        /* bf16 activations into bf16 weights: exact products on AVX512-BF16 */
        int x_bf16 = ent->bufs[op->in[0]].dtype == MGC_BF16;
        if (w->dtype == RT_BF16 && x_bf16 && rt_bf16dot_enabled())
            rt_linear_bf16dot_pool(d->pool, x, rows, w, out, d->scratch);
        else if (x_bf16 && rt_bfpdot_usable(w)) {
            /* block floats in one column-pair order for every row count: a
             * few users as a GEMV over the stored blocks, more (a batch, a
             * prefill) through bf16 panels on the same instruction */
            if (rows > RT_BFP_PAIRS_GEMV_MAX_M)
                rt_linear_bfpdot_pool(d->pool, x, rows, w, out, d->scratch);
            else
                rt_linear_bfp_pairs_pool(d->pool, x, rows, w, out);
        }
        else
            rt_linear_pool(d->pool, x, rows, w, out, d->scratch);
        break;
    }
    case MGC_K_RMS_NORM:
        if (op->group > 0)
            rt_rms_norm(x, (int)(n / (size_t)op->group), op->group, d->vecs[op->weight], (float)op->eps, bf16, out);
        else
            rt_rms_norm(x, rows, (int)cols, d->vecs[op->weight], (float)op->eps, bf16, out);
        break;
    case MGC_K_ROTARY: {
        if (out != x)
            memmove(out, x, sizeof(float) * n);
        int half = p->ropes[op->rope].dim / 2;
        for (int r = r0; r < r0 + rows; r++)
            rt_rope_apply(out + (size_t)(r - r0) * (size_t)cols, 1, op->n_heads, op->head_dim, 2 * half, &c->pos[r],
                          c->inv_freq[op->rope] + (size_t)r * (size_t)half, c->attn_scale[op->rope][r], bf16);
        break;
    }
    case MGC_K_FILL_CACHE:
        rt_cache_fill(&d->caches[op->layer], c->user, x, y, rows, c->start + r0);
        return 0;
    case MGC_K_SDPA:
        rt_engine_sdpa_prefill(d, c, op, r0, rows, 0, rt_engine_sdpa_kv_heads(d, c, op), thread);
        return 0;
    case MGC_K_UPDATE_CACHE:
        rt_cache_update(&d->caches[op->layer], rows, c->users ? c->users + r0 : NULL, x, y, c->pos + r0);
        return 0;
    case MGC_K_SDPA_DECODE:
        for (int r = r0; r < r0 + rows; r++)
            rt_engine_sdpa_decode(d, c, op, r, 0, d->caches[op->layer].hkv, thread);
        return 0;
    case MGC_K_ADD:
        rt_add(x, y, out, n);
        break;
    case MGC_K_SUB:
        for (size_t i = 0; i < n; i++)
            out[i] = x[i] - y[i];
        break;
    case MGC_K_MUL:
        rt_mul(x, y, out, n);
        break;
    case MGC_K_SCALE:
        for (size_t i = 0; i < n; i++)
            out[i] = x[i] * (float)op->scale;
        break;
    case MGC_K_SILU:
        rt_silu(x, out, n);
        break;
    case MGC_K_GELU:
        rt_gelu(x, out, n);
        break;
    case MGC_K_GELU_TANH:
        rt_gelu_tanh(x, out, n);
        break;
    case MGC_K_ALL_REDUCE:
        if (out != x)
            memmove(out, x, sizeof(float) * n);
        if (rt_all_reduce_sum(ctx, out, n, e) != 0)
            return -1;
        break;
    case MGC_K_ALL_GATHER:
        if (gather_cols(ctx, d, x, rows, ent->bufs[op->in[0]].cols, op->vocab, out, cols, e) != 0)
            return -1;
        break;
    case MGC_K_OUTPUT: {
        int64_t local = ent->bufs[op->in[0]].cols;
        if (rt_engine_output_whole(ctx, c, op)) {
            if (ctx->device == 0 && c->logits)
                rt_engine_output_copy(d, c, op, r0, rows, 0);
            return 0;
        }
        /* vocab shards: everyone takes part in the gather, device 0 keeps it */
        float *dst = ctx->device == 0 ? c->logits : NULL;
        return gather_cols(ctx, d, x, rows, local, op->vocab, dst, op->vocab, e);
    }
    case MGC_K_ADD_BIAS:
        rt_add_bias(x, rows, (int)cols, d->vecs[op->weight], out);
        break;
    case MGC_K_LAYER_NORM: {
        const float *bias = op->weight2 >= 0 ? d->vecs[op->weight2] : NULL;
        if (op->group > 0)
            rt_layer_norm(x, (int)(n / (size_t)op->group), op->group, d->vecs[op->weight], bias, (float)op->eps, out);
        else
            rt_layer_norm(x, rows, (int)cols, d->vecs[op->weight], bias, (float)op->eps, out);
        break;
    }
    case MGC_K_ADD_SCALAR:
        rt_add_scalar(x, (float)op->scale, out, n);
        break;
    case MGC_K_DIV_SCALAR:
        rt_div_scalar(x, (float)op->scale, out, n);
        break;
    case MGC_K_DIV:
        rt_div(x, y, out, n);
        break;
    case MGC_K_TANH:
        rt_tanh(x, out, n);
        break;
    case MGC_K_EXP:
        rt_exp_f32(x, out, n);
        break;
    case MGC_K_RELU:
        rt_relu(x, out, n);
        break;
    case MGC_K_SIGMOID:
        rt_sigmoid(x, out, n);
        break;
    case MGC_K_SOFTCAP:
        rt_softcap(x, (float)op->scale, out, n);
        break;
    case MGC_K_POS_EMBEDDING:
        /* the positions of the rows, as rotary gets them (prefill chunks
         * start at c->start; decode rows at each user's position) */
        rt_embedding(c->pos + r0, rows, &d->mats[op->weight], out);
        break;
    case MGC_K_ROUTE:
        rt_route(x, rows, (int)cols, op->top_k, out);
        break;
    case MGC_K_EXPERT_SCALE:
        rt_expert_scale(x, rows, (int)cols, y, (int)ent->bufs[op->in[1]].cols, op->expert, out);
        break;
    case MGC_K_SHARD:
        rt_shard_cols(x, rows, (int)ent->bufs[op->in[0]].cols, ctx->device, op->replicas, (int)cols, out);
        break;
    default:
        return mgc_errorf(e, "unknown kernel %d", (int)op->kernel);
    }
    if (bf16 && out)
        rt_round_bf16(out, n);
    return 0;
}

int rt_engine_sdpa_kv_heads(const rt_device *d, const rt_call *c, const mgc_plan_op *op)
{
    return c->start == 0 ? op->n_kv_heads : d->caches[op->layer].hkv;
}

/* Rows [r0, r0 + rows) of an output whose KV heads [kv0, kv1) are done:
 * rounded to bf16 if the output is (engine_exec.c's rule for every op),
 * those heads' columns only, as another thread may write the others. */
static void round_heads(const rt_call *c, const mgc_plan_op *op, float *out, int rows, int kv0, int kv1, int hkv)
{
    if (c->entry->bufs[op->out].dtype != MGC_BF16)
        return;
    size_t per_kv = (size_t)(op->n_heads / hkv) * (size_t)op->head_dim, cols = (size_t)c->entry->bufs[op->out].cols;
    for (int r = 0; r < rows; r++)
        rt_round_bf16(out + (size_t)r * cols + (size_t)kv0 * per_kv, (size_t)(kv1 - kv0) * per_kv);
}

void rt_engine_sdpa_prefill(rt_device *d, const rt_call *c, const mgc_plan_op *op, int r0, int rows, int kv0, int kv1,
                            int thread)
{
    const mgc_plan_entry *ent = c->entry;
    float *out = rt_engine_buf_at(d, ent, op->out, r0), *scratch = d->scratch + (size_t)thread * rt_engine_thread_scratch(d);
    const float *q = rt_engine_buf_at(d, ent, op->in[0], r0);
    if (c->start == 0)
        rt_attention_prefill_heads(q, rt_engine_buf_at(d, ent, op->in[1], r0), rt_engine_buf_at(d, ent, op->in[2], r0), rows, op->n_heads,
                                   op->n_kv_heads, op->head_dim, (float)op->scale, op->window, (float)op->softcap, out,
                                   scratch, kv0, kv1);
    else
        rt_attention_prefill_cached_heads(q, &d->caches[op->layer], c->user, rows, c->start, op->n_heads,
                                          (float)op->scale, op->window, (float)op->softcap, out, scratch, kv0, kv1);
    round_heads(c, op, out, rows, kv0, kv1, rt_engine_sdpa_kv_heads(d, c, op));
}

size_t rt_engine_thread_scratch(const rt_device *d)
{
    return d->scratch_floats / (size_t)rt_pool_threads(d->pool);
}

void rt_engine_sdpa_decode(rt_device *d, const rt_call *c, const mgc_plan_op *op, int r, int kv0, int kv1, int thread)
{
    const mgc_plan_entry *ent = c->entry;
    const rt_kv_cache *kc = &d->caches[op->layer];
    int32_t len = c->pos[r] + 1;
    float *out = rt_engine_buf_at(d, ent, op->out, r);
    rt_attention_decode_heads(rt_kernels_isa(), rt_engine_buf_at(d, ent, op->in[0], r), kc, 1, c->users ? c->users + r : NULL,
                              &len, op->n_heads, (float)op->scale, op->window, (float)op->softcap, out,
                              d->scratch + (size_t)thread * rt_engine_thread_scratch(d), kv0,
                              kv1);
    round_heads(c, op, out, 1, kv0, kv1, kc->hkv);
}

void rt_engine_op_rows(const rt_engine *en, const rt_call *c, size_t i, int *r0, int *rows)
{
    int last_row = c->last_only && en->head_ops && en->head_ops[i];
    *r0 = last_row ? c->rows - 1 : 0;
    *rows = last_row ? 1 : c->rows;
}

void rt_engine_device_begin(rt_engine *en, const rt_call *c, int device)
{
    rt_device *d = &en->dev[device];
    const mgc_plan_entry *ent = c->entry;
    /* token ids go into the input buffer (int32 bits in f32 slots) */
    memcpy(buf(d, ent, ent->input), c->tokens, sizeof(int32_t) * (size_t)c->rows);
    const rt_expert_groups *xg = &en->experts[c->decode ? 1 : 0];
    if (xg->n)
        memset(d->group_active, -1, (size_t)xg->n);
}

void rt_engine_op_done(rt_engine *en, const rt_call *c, int device, size_t i, int r0, int rows, uint64_t t0)
{
    const mgc_plan_entry *ent = c->entry;
    const mgc_plan_op *op = &ent->ops[i];
    if (op->tap >= 0 && c->hidden && device == 0 && ent->bufs[op->out].cols == en->plan->hidden) {
        size_t n = (size_t)rows * (size_t)en->plan->hidden;
        memcpy(c->hidden + (size_t)op->tap * n, rt_engine_buf_at(&en->dev[0], ent, op->out, r0), sizeof(float) * n);
    }
    if (en->profile)
        rt_profile_op(en->profile, device, c->decode, i, rows, t0);
}

int rt_engine_device_op(rt_device_ctx *ctx, rt_engine *en, const rt_call *c, size_t i)
{
    rt_device *d = &en->dev[ctx->device];
    const mgc_plan_entry *ent = c->entry;
    const mgc_plan_op *op = &ent->ops[i];
    const rt_expert_groups *xg = &en->experts[c->decode ? 1 : 0];
    int g = xg->group_of_op ? xg->group_of_op[i] : -1;
    if (g >= 0) {
        /* an expert no row of this call was routed to (engine_experts.h) */
        const rt_expert_group *x = &xg->groups[g];
        if (d->group_active[g] < 0)
            d->group_active[g] = (signed char)rt_expert_group_active(x, buf(d, ent, x->routing), c->rows);
        if (!d->group_active[g]) {
            if (op->kernel == MGC_K_EXPERT_SCALE)
                memset(buf(d, ent, op->out), 0, sizeof(float) * (size_t)c->rows * (size_t)ent->bufs[op->out].cols);
            return 0;
        }
    }
    uint64_t t0 = en->profile ? rt_profile_now() : 0; /* one predictable branch per op */
    int r0, rows;
    rt_engine_op_rows(en, c, i, &r0, &rows);
    mgc_error e = {{0}};
    if (rt_engine_run_op(ctx, en, d, c, op, r0, rows, &e) != 0)
        return rt_engine_op_failed(ctx->err, c, i, &e);
    rt_engine_op_done(en, c, ctx->device, i, r0, rows, t0);
    return 0;
}

int rt_engine_op_failed(mgc_error *err, const rt_call *c, size_t i, const mgc_error *e)
{
    const mgc_plan_op *op = &c->entry->ops[i];
    return mgc_errorf(err, "%s (op %zu, %s, from %s)", e->msg, i, mgc_kernel_name(op->kernel),
                      op->where ? op->where : "?");
}

int rt_engine_device_run(rt_device_ctx *ctx, void *arg)
{
    struct rt_engine_run_arg *a = arg;
    rt_engine_device_begin(a->en, a->call, ctx->device);
    for (size_t i = 0; i < a->call->entry->nops; i++)
        if (rt_engine_device_op(ctx, a->en, a->call, i) != 0)
            return -1;
    return 0;
}

/* RoPE tables for this call: one per rope and row (LongRoPE picks its factor
 * set from each row's sequence length, as HF does per forward call). */
static void rope_tables(const mgc_plan *p, rt_call *c, const int32_t *seq_len)
{
    c->inv_freq = calloc(p->nropes ? p->nropes : 1, sizeof(float *));
    c->attn_scale = calloc(p->nropes ? p->nropes : 1, sizeof(float *));
    for (size_t k = 0; k < p->nropes; k++) {
        const mgc_plan_rope *r = &p->ropes[k];
        rt_rope_cfg cfg = {
            .type = r->kind == MGC_ROPE_LLAMA3 ? RT_ROPE_LLAMA3
                    : r->kind == MGC_ROPE_LONGROPE ? RT_ROPE_LONGROPE
                                                   : RT_ROPE_DEFAULT,
            .rotary_dim = r->dim,
            .theta = r->theta,
            .factor = r->factor,
            .low_freq_factor = r->low_freq_factor,
            .high_freq_factor = r->high_freq_factor,
            .original_max = (int)r->original_max,
            .short_factor = r->short_factor,
            .long_factor = r->long_factor,
            .max_position = (int)r->max_pos,
        };
        int half = r->dim / 2;
        c->inv_freq[k] = malloc(sizeof(float) * (size_t)half * (size_t)c->rows);
        c->attn_scale[k] = malloc(sizeof(float) * (size_t)c->rows);
        for (int row = 0; row < c->rows; row++) {
            if (row > 0 && seq_len[row] == seq_len[row - 1]) {
                memcpy(c->inv_freq[k] + (size_t)row * (size_t)half, c->inv_freq[k] + (size_t)(row - 1) * (size_t)half,
                       sizeof(float) * (size_t)half);
                c->attn_scale[k][row] = c->attn_scale[k][row - 1];
                continue;
            }
            rt_rope_inv_freq(&cfg, seq_len[row], c->inv_freq[k] + (size_t)row * (size_t)half, &c->attn_scale[k][row]);
        }
    }
}

static void free_tables(const mgc_plan *p, rt_call *c)
{
    for (size_t k = 0; k < p->nropes; k++) {
        free(c->inv_freq[k]);
        free(c->attn_scale[k]);
    }
    free(c->inv_freq);
    free(c->attn_scale);
}

int rt_engine_run_call(rt_engine *en, rt_call *c, const int32_t *seq_len, mgc_error *e)
{
    if (rt_mesh_local_device(en->mesh) == 0 && rt_engine_mpi_forward(en, c, seq_len, e) != 0)
        return -1;
    rope_tables(en->plan, c, seq_len);
    struct rt_engine_run_arg a = {en, c};
    int rc = en->lockstep ? rt_engine_run_lockstep(en, c, e) : rt_mesh_run(en->mesh, rt_engine_device_run, &a, e);
    free_tables(en->plan, c);
    return rc;
}

int rt_engine_prefill(rt_engine *en, int user, const int32_t *tokens, int n, int start, float *logits, mgc_error *e)
{
    return rt_engine_prefill_hidden(en, user, tokens, n, start, logits, NULL, e);
}

static int prefill(rt_engine *en, int user, const int32_t *tokens, int n, int start, float *logits, float *hidden,
                   int last_only, mgc_error *e);

int rt_engine_prefill_hidden(rt_engine *en, int user, const int32_t *tokens, int n, int start, float *logits,
                             float *hidden, mgc_error *e)
{
    return prefill(en, user, tokens, n, start, logits, hidden, 0, e);
}

int rt_engine_prefill_head_op(const rt_engine *en, size_t i)
{
    return en->head_ops && i < en->plan->prefill.nops && en->head_ops[i];
}

int rt_engine_prefill_last(rt_engine *en, int user, const int32_t *tokens, int n, int start, float *logits,
                           mgc_error *e)
{
    return prefill(en, user, tokens, n, start, logits, NULL, 1, e);
}

static int prefill(rt_engine *en, int user, const int32_t *tokens, int n, int start, float *logits, float *hidden,
                   int last_only, mgc_error *e)
{
    const mgc_plan *p = en->plan;
    if (n <= 0)
        return mgc_errorf(e, "nothing to prefill (no tokens)");
    if (n > p->prefill.rows || (int64_t)start + n > rt_engine_max_seq(en))
        return mgc_errorf(e, "a prompt of %d tokens (from position %d) exceeds the plan's maximum sequence of %lld "
                             "(compile with a larger --max-seq-len)",
                          n, start, (long long)rt_engine_max_seq(en));
    if (user < 0 || user >= p->cache_users)
        return mgc_errorf(e, "user %d is outside the plan's %lld users", user, (long long)p->cache_users);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= en->vocab)
            return mgc_errorf(e, "token %d at position %d is outside the vocabulary of %lld", tokens[i], i,
                              (long long)en->vocab);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)n * 2);
    int32_t *seq = pos + n;
    for (int i = 0; i < n; i++) {
        pos[i] = start + i;
        seq[i] = start + n; /* HF: max position of this forward call + 1 */
    }
    rt_call c = {.entry = &p->prefill, .rows = n, .tokens = tokens, .pos = pos, .user = user, .start = start,
                 .logits = logits, .hidden = hidden, .last_only = last_only};
    if (hidden)
        memset(hidden, 0, sizeof(float) * (size_t)p->n_taps * (size_t)n * (size_t)p->hidden);
    int rc = rt_engine_run_call(en, &c, seq, e);
    free(pos);
    return rc;
}

int rt_engine_decode(rt_engine *en, int b, const int *users, const int32_t *tokens, const int32_t *pos, float *logits,
                     mgc_error *e)
{
    const mgc_plan *p = en->plan;
    if (b <= 0 || b > p->decode.rows || b > 1024)
        return mgc_errorf(e, "decode of %d users: the plan decodes at most %lld at once", b, (long long)p->decode.rows);
    for (int i = 0; i < b; i++) {
        if (users[i] < 0 || users[i] >= p->cache_users)
            return mgc_errorf(e, "user %d is outside the plan's %lld users", users[i], (long long)p->cache_users);
        if (pos[i] < 0 || pos[i] >= rt_engine_max_seq(en))
            return mgc_errorf(e, "user %d is at position %d, past the KV cache of %lld positions", users[i], pos[i],
                              (long long)rt_engine_max_seq(en));
        if (tokens[i] < 0 || tokens[i] >= en->vocab)
            return mgc_errorf(e, "token %d is outside the vocabulary of %lld", tokens[i], (long long)en->vocab);
    }
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)b);
    for (int i = 0; i < b; i++)
        seq[i] = pos[i] + 1;
    rt_call c = {.entry = &p->decode, .decode = 1, .rows = b, .tokens = tokens, .pos = pos, .users = users,
                 .logits = logits};
    int rc = rt_engine_run_call(en, &c, seq, e);
    free(seq);
    return rc;
}
