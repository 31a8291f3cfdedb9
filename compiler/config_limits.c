/* config_limits: the range of every config.json value mgc reads, checked once when the
 * file is parsed (mgc_config_parse), before any value reaches arithmetic or an
 * allocation.  docs/language.md ("Limits") lists the same table: keep them together.
 *
 * Why at parse time: the spec decides which keys are read, but a value is either
 * sane for a model or not whatever reads it, and one place with the file and key at
 * hand gives one clear message ("config.json: 'hidden_size' is 1, expected an integer
 * in [2, 65536]") instead of a failure far away in lowering or the runtime. */
#include "config_limits.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *key;
    int is_int;      /* 1: an integer (an integral float such as 32.0 is accepted) */
    int nullable;    /* null allowed (HF writes e.g. "sliding_window": null) */
    double lo, hi;   /* inclusive range */
    int lo_open;     /* floats: lo itself excluded (a positive value) */
} limit;

/* Integers: large enough for every published model (Llama 3.1 405B has 126 layers,
 * hidden 16384, intermediate 53248; the largest vocabularies are ~262k), small enough
 * that products of two sizes never come near 2^63. */
static const limit limits[] = {
    {"vocab_size", 1, 0, 1, 16777216, 0},
    {"hidden_size", 1, 0, 2, 65536, 0},
    {"intermediate_size", 1, 0, 1, 1048576, 0},
    {"moe_intermediate_size", 1, 0, 1, 1048576, 0},
    {"num_hidden_layers", 1, 0, 1, 1024, 0},
    {"num_attention_heads", 1, 0, 1, 1024, 0},
    {"num_key_value_heads", 1, 1, 1, 1024, 0},
    {"head_dim", 1, 1, 1, 4096, 0},
    {"max_position_embeddings", 1, 0, 1, 16777216, 0},
    {"original_max_position_embeddings", 1, 1, 1, 16777216, 0},
    {"sliding_window", 1, 1, 1, 16777216, 0},
    {"max_window_layers", 1, 1, 0, 1024, 0},
    {"num_local_experts", 1, 0, 1, 1024, 0},
    {"num_experts", 1, 1, 1, 1024, 0},
    {"num_experts_per_tok", 1, 0, 1, 1024, 0},
    {"rope_theta", 0, 0, 0, 1e12, 1},
    {"rms_norm_eps", 0, 0, 0, 1, 1},
    {"layer_norm_eps", 0, 0, 0, 1, 1},
    {"layer_norm_epsilon", 0, 0, 0, 1, 1},
    {"partial_rotary_factor", 0, 0, 0, 1, 1},
    {"attn_logit_softcapping", 0, 1, 0, 1e6, 1},
    {"final_logit_softcapping", 0, 1, 0, 1e6, 1},
    {"query_pre_attn_scalar", 0, 0, 0, 1e6, 1},
    {"rope_scaling.factor", 0, 1, 0, 1e6, 1},
    {"rope_scaling.low_freq_factor", 0, 1, 0, 1e6, 1},
    {"rope_scaling.high_freq_factor", 0, 1, 0, 1e6, 1},
    {"rope_scaling.original_max_position_embeddings", 1, 1, 1, 16777216, 0},
};

const char *mgc_config_limit_range(const char *key, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        const limit *l = &limits[i];
        if (strcmp(l->key, key) != 0)
            continue;
        if (l->is_int)
            snprintf(buf, size, "an integer in [%.0f, %.0f]", l->lo, l->hi);
        else
            snprintf(buf, size, "a number in %s%g, %g]", l->lo_open ? "(" : "[", l->lo, l->hi);
        return buf;
    }
    return NULL;
}

static int check_one(const mgc_config *cfg, const limit *l, mgc_error *e)
{
    mgc_config_value v;
    mgc_cv_kind k = mgc_config_get(cfg, l->key, &v);
    if (k == MGC_CV_ABSENT || (k == MGC_CV_NULL && l->nullable))
        return 0;
    char range[96];
    mgc_config_limit_range(l->key, range, sizeof range);
    if (k != MGC_CV_INT && k != MGC_CV_FLOAT)
        return mgc_path_errorf(e, mgc_config_path(cfg), "'%s' is %s, expected %s", l->key,
                               mgc_config_kind_name(k), range);
    double x = v.f;
    int bad = !isfinite(x) || x < l->lo || x > l->hi || (l->lo_open && x <= l->lo);
    if (l->is_int && k == MGC_CV_FLOAT && !bad && x != floor(x))
        bad = 1;
    if (!bad)
        return 0;
    if (k == MGC_CV_INT)
        return mgc_path_errorf(e, mgc_config_path(cfg), "'%s' is %lld, expected %s", l->key,
                               (long long)v.i, range);
    return mgc_path_errorf(e, mgc_config_path(cfg), "'%s' is %g, expected %s", l->key, x, range);
}

int mgc_config_check_limits(const mgc_config *cfg, mgc_error *e)
{
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++)
        if (check_one(cfg, &limits[i], e) != 0)
            return -1;
    return 0;
}
