#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "safetensors.h"

/* The dtypes the format allows: ids as I64 (I32 read too), values as F32 (F64 for the
 * f64 references).  Anything else (an I32 `logits`, a BF16 `input_ids`) is a file
 * that is not a reference. */
static int is_id_dtype(rt_st_dtype d) { return d == RT_ST_I64 || d == RT_ST_I32; }
static int is_value_dtype(rt_st_dtype d) { return d == RT_ST_F32 || d == RT_ST_F64; }

static int check_dtype(const rt_st_tensor *t, const char *path, mgc_error *e)
{
    int ids = strcmp(t->name, "input_ids") == 0 || strcmp(t->name, "top5") == 0;
    if (ids ? is_id_dtype(t->dtype) : is_value_dtype(t->dtype))
        return 0;
    return mgc_errorf(e, "%s: '%s' is %s, expected %s", path, t->name, rt_st_dtype_name(t->dtype),
                      ids ? "I64 (or I32) token ids" : "F32 (or F64) values");
}

/* `name`, present, of a dtype the format allows and of rank `ndim`. */
static const rt_st_tensor *need(const rt_st_file *f, const char *path, const char *name, int ndim, mgc_error *e)
{
    const rt_st_tensor *t = rt_st_find(f, name);
    if (!t) {
        mgc_errorf(e, "%s: the reference has no '%s' tensor", path, name);
        return NULL;
    }
    if (check_dtype(t, path, e) != 0)
        return NULL;
    if (t->ndim != ndim) {
        char s[96];
        rt_st_shape_str(t, s, sizeof s);
        mgc_errorf(e, "%s: '%s' is %s, expected %d dimensions", path, name, s, ndim);
        return NULL;
    }
    return t;
}

int ev_reference_load(const char *path, ev_reference *r, mgc_error *e)
{
    memset(r, 0, sizeof *r);
    rt_st_file *f = NULL;
    if (rt_st_open(path, &f, e) != 0)
        return -1;
    int rc = -1;
    int64_t *ids = NULL, *top = NULL;
    const rt_st_tensor *ti = need(f, path, "input_ids", 1, e);
    if (!ti)
        goto out;
    r->t = ti->shape[0];
    if (r->t < 2 || r->t > (1 << 24)) {
        mgc_errorf(e, "%s: input_ids has %lld tokens; a reference needs at least 2", path, (long long)r->t);
        goto out;
    }
    ids = malloc(sizeof(int64_t) * (size_t)r->t);
    if (rt_st_read_i64(ti, ids, (size_t)r->t, e) != 0)
        goto out;
    r->input_ids = malloc(sizeof(int32_t) * (size_t)r->t);
    for (int64_t i = 0; i < r->t; i++) {
        if (ids[i] < 0 || ids[i] > INT32_MAX) {
            mgc_errorf(e, "%s: input_ids[%lld] = %lld is not a token id", path, (long long)i, (long long)ids[i]);
            goto out;
        }
        r->input_ids[i] = (int32_t)ids[i];
    }
    const rt_st_tensor *tl = need(f, path, "logits", 2, e);
    if (!tl)
        goto out;
    if (tl->shape[0] != r->t) {
        mgc_errorf(e, "%s: logits has %lld rows but input_ids has %lld tokens", path, (long long)tl->shape[0],
                   (long long)r->t);
        goto out;
    }
    r->vocab = tl->shape[1];
    if (r->vocab < 5) {
        mgc_errorf(e, "%s: logits rows have %lld values; a vocabulary needs at least 5", path, (long long)r->vocab);
        goto out;
    }
    r->logits = malloc(sizeof(float) * (size_t)(r->t * r->vocab));
    if (!r->logits || rt_st_read_f32(tl, 0, r->t, 0, r->vocab, r->logits, e) != 0)
        goto out;
    /* the reference is input data: a NaN or inf in it is the file's fault, said here with its name */
    for (int64_t i = 0; i < r->t * r->vocab; i++)
        if (!isfinite(r->logits[i])) {
            mgc_errorf(e, "%s: logits[%lld][%lld] is %g; reference logits must be finite", path,
                       (long long)(i / r->vocab), (long long)(i % r->vocab), (double)r->logits[i]);
            goto out;
        }
    for (int64_t i = 0; i < r->t; i++)
        if (r->input_ids[i] >= r->vocab) {
            mgc_errorf(e, "%s: input_ids[%lld] = %d is outside the vocabulary of %lld", path, (long long)i,
                       r->input_ids[i], (long long)r->vocab);
            goto out;
        }
    r->top5 = malloc(sizeof(int32_t) * (size_t)r->t * 5);
    const rt_st_tensor *t5 = rt_st_find(f, "top5");
    if (t5) {
        if (check_dtype(t5, path, e) != 0)
            goto out;
        if (t5->ndim != 2 || t5->shape[0] != r->t || t5->shape[1] != 5) {
            mgc_errorf(e, "%s: top5 must be [%lld, 5]", path, (long long)r->t);
            goto out;
        }
        top = malloc(sizeof(int64_t) * (size_t)r->t * 5);
        if (rt_st_read_i64(t5, top, (size_t)r->t * 5, e) != 0)
            goto out;
        for (int64_t i = 0; i < r->t * 5; i++) {
            if (top[i] < 0 || top[i] >= r->vocab) {
                mgc_errorf(e, "%s: top5 holds %lld, outside the vocabulary", path, (long long)top[i]);
                goto out;
            }
            r->top5[i] = (int32_t)top[i];
        }
    } else {
        for (int64_t i = 0; i < r->t; i++) {
            int idx[5];
            rt_topk(r->logits + i * r->vocab, (int)r->vocab, 5, idx);
            for (int k = 0; k < 5; k++)
                r->top5[i * 5 + k] = idx[k];
        }
    }
    const char *pl = rt_st_metadata(f, "prompt_len");
    if (!pl) {
        mgc_errorf(e, "%s: the metadata has no prompt_len", path);
        goto out;
    }
    char *end;
    long long p = strtoll(pl, &end, 10);
    if (*end || p < 1 || p >= r->t) {
        mgc_errorf(e, "%s: prompt_len '%s' must be between 1 and %lld", path, pl, (long long)r->t - 1);
        goto out;
    }
    r->prompt_len = p;
    const rt_st_tensor *th = rt_st_find(f, "hidden_states");
    if (th) {
        if (check_dtype(th, path, e) != 0)
            goto out;
        if (th->ndim != 3 || th->shape[1] != r->t || th->shape[0] < 2 || th->shape[2] < 1) {
            char s[96];
            rt_st_shape_str(th, s, sizeof s);
            mgc_errorf(e, "%s: hidden_states is %s, expected [L+1, %lld, H] with L >= 1 and H >= 1", path, s,
                       (long long)r->t);
            goto out;
        }
        r->hidden_layers = th->shape[0];
        r->hidden = th->shape[2];
        r->hidden_states = malloc(sizeof(float) * (size_t)(th->numel));
        if (!r->hidden_states ||
            rt_st_read_f32(th, 0, r->hidden_layers * r->t, 0, r->hidden, r->hidden_states, e) != 0)
            goto out;
        for (int64_t i = 0; i < th->numel; i++)
            if (!isfinite(r->hidden_states[i])) {
                int64_t per = r->t * r->hidden;
                mgc_errorf(e, "%s: hidden_states[%lld][%lld][%lld] is %g; reference values must be finite", path,
                           (long long)(i / per), (long long)(i % per / r->hidden), (long long)(i % r->hidden),
                           (double)r->hidden_states[i]);
                goto out;
            }
    }
    r->path = strdup(path);
    rc = 0;
out:
    free(ids);
    free(top);
    rt_st_close(f);
    if (rc != 0)
        ev_reference_free(r);
    return rc;
}

void ev_reference_free(ev_reference *r)
{
    free(r->path);
    free(r->input_ids);
    free(r->logits);
    free(r->top5);
    free(r->hidden_states);
    memset(r, 0, sizeof *r);
}
