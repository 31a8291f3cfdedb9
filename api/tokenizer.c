/* tokenizer.c: HF tokenizer.json encode and decode. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "api_internal.h"

MGC_API mgc_code mgc_tokenizer_load(const char *path, mgc_tokenizer_t **out, mgc_status *st)
{
    if (!path || !out)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_tokenizer_load: path and out must not be NULL");
    *out = NULL;
    char file[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if ((size_t)snprintf(file, sizeof file, "%s/tokenizer.json", path) >= sizeof file)
            return api_failf(st, MGC_ERR_ARGUMENT, "%s: path too long", path);
        path = file;
    }
    mgc_tokenizer_t *t = calloc(1, sizeof *t);
    if (!t)
        return api_failf(st, MGC_ERR_NOMEM, "out of memory");
    mgc_error err = {{0}};
    t->tok = tok_load(path, &err);
    if (!t->tok) {
        free(t);
        return api_fail(st, MGC_ERR_INPUT, &err);
    }
    *out = t;
    return api_ok(st);
}

MGC_API void mgc_tokenizer_destroy(mgc_tokenizer_t *t)
{
    if (t) {
        tok_free(t->tok);
        free(t);
    }
}

MGC_API mgc_code mgc_tokenize(const mgc_tokenizer_t *t, const char *text, size_t len, int add_special_tokens,
                              int32_t **ids, size_t *n, mgc_status *st)
{
    if (!t || (!text && len) || !ids || !n)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_tokenize: tokenizer, text, ids and n must not be NULL");
    mgc_error err = {{0}};
    if (tok_encode(t->tok, text ? text : "", len, add_special_tokens, ids, n, &err) != 0)
        return api_fail(st, MGC_ERR_INPUT, &err);
    return api_ok(st);
}

MGC_API mgc_code mgc_detokenize(const mgc_tokenizer_t *t, const int32_t *ids, size_t n, int skip_special_tokens,
                                char **text, size_t *len, mgc_status *st)
{
    if (!t || (!ids && n) || !text)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_detokenize: tokenizer, ids and text must not be NULL");
    mgc_error err = {{0}};
    if (tok_decode(t->tok, ids, n, skip_special_tokens, text, len, &err) != 0)
        return api_fail(st, MGC_ERR_ARGUMENT, &err);
    return api_ok(st);
}

MGC_API int32_t mgc_tokenizer_bos(const mgc_tokenizer_t *t)
{
    return t ? tok_bos_id(t->tok) : -1;
}

MGC_API int32_t mgc_tokenizer_eos(const mgc_tokenizer_t *t)
{
    return t ? tok_eos_id(t->tok) : -1;
}

MGC_API int64_t mgc_tokenizer_vocab(const mgc_tokenizer_t *t)
{
    return t ? (int64_t)tok_vocab_size(t->tok) : 0;
}
