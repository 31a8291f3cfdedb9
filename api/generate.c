/* generate.c: prompt in, tokens (and their text, streamed) out. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "generate.h"
#include "sampling.h"
#include "text_stream.h"

MGC_API void mgc_generate_options_init(mgc_generate_options *o)
{
    if (o) {
        memset(o, 0, sizeof *o);
        o->max_new_tokens = 32;
        o->top_p = 1.0f;
    }
}

typedef struct stream_ctx {
    const mgc_generate_options *o;
    ev_text_stream text;
    int has_text;
    int callback_stopped;
    mgc_error err;
} stream_ctx;

static int on_token(void *ud, int user, int32_t token)
{
    stream_ctx *s = ud;
    const char *piece = "";
    if (s->has_text && ev_text_stream_push(&s->text, token, &piece, &s->err) != 0)
        return -1;
    if (s->o->on_token && s->o->on_token(s->o->user_data, token, piece) != 0) {
        s->callback_stopped = 1;
        return -1;
    }
    return 0;
}

MGC_API mgc_code mgc_generate(mgc_model_t *m, const int32_t *prompt, int n_prompt, const mgc_generate_options *o,
                              int32_t *out, int *n_out, mgc_status *st)
{
    if (n_out)
        *n_out = 0;
    if (!m || !prompt || !out || !n_out)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_generate: model, prompt, out and n_out must not be NULL");
    mgc_generate_options defaults;
    mgc_generate_options_init(&defaults);
    if (!o)
        o = &defaults;
    if (n_prompt < 1)
        return api_failf(st, MGC_ERR_ARGUMENT, "the prompt is empty");
    if (o->max_new_tokens < 0 || o->n_stop_ids < 0 || (o->n_stop_ids > 0 && !o->stop_ids))
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_generate: max_new_tokens and n_stop_ids must not be negative");
    int64_t vocab = rt_engine_vocab(m->en);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= vocab)
            return api_failf(st, MGC_ERR_ARGUMENT, "prompt token %d (at %d) is outside the vocabulary of %lld",
                             prompt[i], i, (long long)vocab);
    mgc_error err = {{0}};
    ev_sampler sampler;
    if (ev_sampler_init(&sampler, o->temperature, o->top_k, o->top_p, o->seed, &err) != 0)
        return api_fail(st, MGC_ERR_ARGUMENT, &err);
    int nstop = o->n_stop_ids + (o->ignore_eos ? 0 : m->neos);
    int32_t *stop = malloc(sizeof(int32_t) * (size_t)(nstop ? nstop : 1));
    if (!stop)
        return api_failf(st, MGC_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < o->n_stop_ids; i++)
        stop[k++] = o->stop_ids[i];
    for (int i = 0; !o->ignore_eos && i < m->neos; i++)
        stop[k++] = m->eos[i];
    stream_ctx s = {.o = o, .has_text = m->tok && o->on_token};
    ev_text_stream_init(&s.text, m->tok ? m->tok->tok : NULL);
    ev_generate_ctl ctl = {.stop = stop, .nstop = nstop, .on_token = on_token, .ud = &s, .n_out = n_out};
    ev_generate_stats stats;
    const int32_t *prompts[1] = {prompt};
    int32_t *outs[1] = {out};
    int rc = ev_generate_ctl_run(m->en, 1, prompts, n_prompt, o->max_new_tokens, &sampler, &ctl, outs, &stats, &err);
    mgc_code c = MGC_OK;
    if (rc != 0)
        c = s.callback_stopped ? api_failf(st, MGC_ERR_CANCELLED, "generation stopped by the callback")
            : s.err.msg[0]     ? api_fail(st, MGC_ERR_INPUT, &s.err)
                               : api_fail(st, MGC_ERR_INPUT, &err);
    else if (s.has_text) {
        /* the text held back (an incomplete character at the very end) */
        const char *piece = "";
        if (ev_text_stream_finish(&s.text, &piece, &err) != 0)
            c = api_fail(st, MGC_ERR_INPUT, &err);
        else if (*piece)
            o->on_token(o->user_data, -1, piece);
    }
    if (c == MGC_OK)
        api_ok(st);
    ev_text_stream_free(&s.text);
    free(stop);
    return c;
}
