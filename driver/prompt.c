#include "prompt.h"

#include "read_file.h"

#include "tokenizer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mgc_parse_token_list(const char *s, int32_t **out, int *n, mgc_error *e)
{
    int cap = 16, k = 0;
    int32_t *v = malloc(sizeof(int32_t) * (size_t)cap);
    const char *p = s;
    while (v && *p) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX || (*end && *end != ',')) {
            free(v);
            return mgc_errorf(e, "token lists are comma-separated non-negative integers, got '%s'", s);
        }
        if (k == cap) {
            cap *= 2;
            int32_t *nv = realloc(v, sizeof(int32_t) * (size_t)cap);
            if (!nv) {
                free(v);
                return mgc_errorf(e, "out of memory");
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = *end ? end + 1 : end;
    }
    if (k == 0) {
        free(v);
        return mgc_errorf(e, "the token list is empty");
    }
    *out = v;
    *n = k;
    return 0;
}

char *mgc_read_text_file(const char *path, mgc_error *e)
{
    char *buf;
    size_t len;
    return mgc_read_file(path, 64u << 20, &buf, &len, e) == 0 ? buf : NULL;
}

int mgc_tokenize_prompt(const char *model_dir, const char *text, int32_t **out, int *n, mgc_error *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", model_dir);
    tokenizer *t = tok_load(path, e);
    if (!t)
        return -1;
    size_t k = 0;
    /* as the HF references are made: add_special_tokens=True (BOS where the
     * model's post-processor adds one) */
    int rc = tok_encode(t, text, strlen(text), 1, out, &k, e);
    tok_free(t);
    if (rc != 0)
        return -1;
    if (k > INT32_MAX) {
        free(*out);
        return mgc_errorf(e, "%s: the prompt has too many tokens", path);
    }
    *n = (int)k;
    return 0;
}
