/* reference_gen.c: make a reference with mgc itself, in the format of the HF
 * fixtures, so a user without Python can evaluate precision and sharding
 * choices against an f32, unsharded run of the same spec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "kernels.h"
#include "reference.h"
#include "safetensors.h"

int ev_reference_make(rt_engine *en, const int32_t *tokens, int ntok, int prompt_len, int n_new, ev_reference *r,
                      mgc_error *e)
{
    memset(r, 0, sizeof *r);
    int64_t vocab = rt_engine_vocab(en);
    if (prompt_len < 1 || prompt_len > ntok)
        return mgc_errorf(e, "the prompt is empty");
    int64_t t = (int64_t)ntok + n_new;
    if (t < 2)
        return mgc_errorf(e, "a reference needs at least 2 tokens (prompt plus continuation)");
    if (t > rt_engine_max_seq(en))
        return mgc_errorf(e, "%lld tokens do not fit the plan's KV cache of %lld positions", (long long)t,
                          (long long)rt_engine_max_seq(en));
    r->t = t;
    r->vocab = vocab;
    r->prompt_len = n_new > 0 ? ntok : prompt_len;
    r->input_ids = malloc(sizeof(int32_t) * (size_t)t);
    r->logits = malloc(sizeof(float) * (size_t)(t * vocab));
    r->top5 = malloc(sizeof(int32_t) * (size_t)t * 5);
    if (!r->input_ids || !r->logits || !r->top5) {
        ev_reference_free(r);
        return mgc_errorf(e, "out of memory");
    }
    memcpy(r->input_ids, tokens, sizeof(int32_t) * (size_t)ntok);
    /* greedy continuation, as HF's generate() makes its references */
    if (n_new > 0) {
        ev_sampler greedy;
        ev_generate_stats st;
        int32_t *gen = r->input_ids + ntok;
        if (ev_sampler_init(&greedy, 0, 0, 1, 0, e) != 0 ||
            ev_generate(en, 1, &tokens, ntok, n_new, &greedy, &gen, &st, e) != 0)
            goto fail;
    }
    /* the reference logits and hidden states: one full forward, as HF's are */
    int taps = rt_engine_n_taps(en);
    int64_t hidden = rt_engine_hidden(en);
    float *hid = NULL;
    if (taps > 0) {
        hid = malloc(sizeof(float) * (size_t)taps * (size_t)t * (size_t)hidden);
        if (!hid)
            goto fail;
    }
    if (rt_engine_prefill_hidden(en, 0, r->input_ids, (int)t, 0, r->logits, hid, e) != 0) {
        free(hid);
        goto fail;
    }
    if (hid) {
        /* HF's layout: [0] embeddings, [i] output of layer i-1, [L] the final
         * norm (our snapshot taps-1; the raw last layer output is dropped) */
        int64_t layers = taps - 2;
        size_t slice = (size_t)t * (size_t)hidden;
        r->hidden_layers = layers + 1;
        r->hidden = hidden;
        r->hidden_states = malloc(sizeof(float) * (size_t)r->hidden_layers * slice);
        memcpy(r->hidden_states, hid, sizeof(float) * (size_t)layers * slice);
        memcpy(r->hidden_states + (size_t)layers * slice, hid + (size_t)(taps - 1) * slice, sizeof(float) * slice);
        free(hid);
    }
    for (int64_t i = 0; i < t; i++) {
        int idx[5];
        rt_topk(r->logits + i * vocab, (int)vocab, 5, idx);
        for (int k = 0; k < 5; k++)
            r->top5[i * 5 + k] = idx[k];
    }
    return 0;
fail:
    ev_reference_free(r);
    return -1;
}

int ev_reference_write(const ev_reference *r, const char *path, const char *const *meta, mgc_error *e)
{
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)r->t);
    int64_t *top = malloc(sizeof(int64_t) * (size_t)r->t * 5);
    int64_t ngen = r->t - r->prompt_len;
    if (!ids || !top) {
        free(ids);
        free(top);
        return mgc_errorf(e, "out of memory");
    }
    for (int64_t i = 0; i < r->t; i++)
        ids[i] = r->input_ids[i];
    for (int64_t i = 0; i < r->t * 5; i++)
        top[i] = r->top5[i];
    rt_st_entry ent[5];
    size_t n = 0;
    memset(ent, 0, sizeof ent);
    ent[n] = (rt_st_entry){.name = "input_ids", .dtype = RT_ST_I64, .ndim = 1, .data = ids,
                           .nbytes = sizeof(int64_t) * (size_t)r->t};
    ent[n++].shape[0] = r->t;
    ent[n] = (rt_st_entry){.name = "generated_ids", .dtype = RT_ST_I64, .ndim = 1, .data = ids + r->prompt_len,
                           .nbytes = sizeof(int64_t) * (size_t)ngen};
    ent[n++].shape[0] = ngen;
    ent[n] = (rt_st_entry){.name = "logits", .dtype = RT_ST_F32, .ndim = 2, .data = r->logits,
                           .nbytes = sizeof(float) * (size_t)(r->t * r->vocab)};
    ent[n].shape[0] = r->t;
    ent[n++].shape[1] = r->vocab;
    ent[n] = (rt_st_entry){.name = "top5", .dtype = RT_ST_I64, .ndim = 2, .data = top,
                           .nbytes = sizeof(int64_t) * (size_t)r->t * 5};
    ent[n].shape[0] = r->t;
    ent[n++].shape[1] = 5;
    if (r->hidden_states) {
        ent[n] = (rt_st_entry){.name = "hidden_states", .dtype = RT_ST_F32, .ndim = 3, .data = r->hidden_states,
                               .nbytes = sizeof(float) * (size_t)(r->hidden_layers * r->t * r->hidden)};
        ent[n].shape[0] = r->hidden_layers;
        ent[n].shape[1] = r->t;
        ent[n++].shape[2] = r->hidden;
    }
    char plen[32];
    snprintf(plen, sizeof plen, "%lld", (long long)r->prompt_len);
    const char *kv[32];
    size_t k = 0;
    kv[k++] = "prompt_len";
    kv[k++] = plen;
    for (size_t i = 0; meta && meta[i] && meta[i + 1] && k < 30; i += 2) {
        kv[k++] = meta[i];
        kv[k++] = meta[i + 1];
    }
    kv[k] = NULL;
    int rc = rt_st_write(path, ent, n, kv, e);
    free(ids);
    free(top);
    return rc;
}
