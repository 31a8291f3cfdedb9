/* Mixture-of-experts kernels: the router's top-k weights, scaling one
 * expert's output by its weight, and cutting a replicated activation into
 * this device's piece (expert and KV-head parallel plans).  HF Mixtral:
 *   p = softmax(router_logits, dtype=float32); w, idx = topk(p, k);
 *   w /= w.sum(-1); out += expert_idx(x) * w. */
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void rt_route(const float *x, int rows, int e, int top_k, float *out)
{
    assert(rows >= 0 && e > 0 && top_k >= 1 && top_k <= e);
    int *idx = malloc(sizeof(int) * (size_t)top_k);
    float *sv = malloc(sizeof(float) * (size_t)top_k);
    float *row = malloc(sizeof(float) * (size_t)e); /* a copy, so that out may equal x */
    assert(idx && sv && row);
    for (int r = 0; r < rows; r++) {
        const float *xr = row;
        memcpy(row, x + (size_t)r * e, sizeof(float) * (size_t)e);
        float *o = out + (size_t)r * e;
        float mx = xr[0];
        for (int j = 1; j < e; j++)
            mx = xr[j] > mx ? xr[j] : mx;
        double sum = 0;
        for (int j = 0; j < e; j++) {
            o[j] = expf(xr[j] - mx);
            sum += o[j];
        }
        for (int j = 0; j < e; j++)
            o[j] = (float)(o[j] / sum);
        rt_topk(o, e, top_k, idx);
        float kept = 0;           /* torch sums the k selected in f32, in order */
        for (int t = 0; t < top_k; t++)
            kept += o[idx[t]];
        for (int t = 0; t < top_k; t++)
            sv[t] = o[idx[t]] / kept;
        memset(o, 0, sizeof(float) * (size_t)e);
        for (int t = 0; t < top_k; t++)
            o[idx[t]] = sv[t];
    }
    free(idx);
    free(sv);
    free(row);
}

void rt_expert_scale(const float *x, int rows, int cols, const float *w, int ldw, int expert, float *out)
{
    for (int r = 0; r < rows; r++) {
        float s = w[(size_t)r * ldw + expert];
        /* a row not routed to this expert contributes exactly 0, as in HF
         * (which does not run the expert for it): x is not read, so an
         * expert skipped for the row's whole call (engine_experts.h) may
         * leave anything there */
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] = s != 0 ? x[(size_t)r * cols + c] * s : 0.0f;
    }
}

void rt_shard_cols(const float *in, int rows, int in_cols, int device, int replicas, int out_cols, float *out)
{
    assert(replicas >= 1 && device >= 0);
    int64_t c0 = (int64_t)(device / replicas) * out_cols;
    int64_t nc = in_cols - c0 < out_cols ? in_cols - c0 : out_cols;
    if (nc < 0)
        nc = 0;
    for (int r = 0; r < rows; r++) {
        float *o = out + (size_t)r * out_cols;
        if (nc)
            memmove(o, in + (size_t)r * in_cols + c0, sizeof(float) * (size_t)nc);
        memset(o + nc, 0, sizeof(float) * (size_t)(out_cols - nc));
    }
}
