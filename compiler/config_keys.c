/* config_keys.c: the config.json keys a spec may not leave unread (see
 * config_keys.h). */
#include "config_keys.h"
#include "xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_one(mgc_config_reads *r, const char *path, size_t len)
{
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->paths[i]) == len && memcmp(r->paths[i], path, len) == 0)
            return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        r->paths = mgc_xrealloc(r->paths, r->cap * sizeof *r->paths);
    }
    char *s = mgc_xrealloc(NULL, len + 1);
    memcpy(s, path, len);
    s[len] = 0;
    r->paths[r->n++] = s;
}

void mgc_config_reads_add(mgc_config_reads *r, const char *path)
{
    if (!path || !*path)
        return;
    for (const char *p = path; *p; p++)
        if (*p == '.')
            add_one(r, path, (size_t)(p - path));
    add_one(r, path, strlen(path));
}

int mgc_config_reads_has(const mgc_config_reads *r, const char *path)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (strcmp(r->paths[i], path) == 0)
            return 1;
    return 0;
}

void mgc_config_reads_free(mgc_config_reads *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->paths[i]);
    free(r->paths);
    memset(r, 0, sizeof *r);
}

enum { NON_NULL, IS_TRUE, PRESENT, BELOW_ONE, NOT_SILU, WINDOW, HEAD_DIM };

/* The table docs/language.md states ("What the compiler refuses to ignore"). */
static const mgc_config_key_rule rules[] = {
    {"rope_scaling", "not null", "rescales the RoPE frequencies", NON_NULL},
    {"attention_bias", "true", "the q/k/v (and o) projections have biases", IS_TRUE},
    {"mlp_bias", "true", "the MLP projections have biases", IS_TRUE},
    {"qk_layernorm", "true", "queries and keys are normalised per head", IS_TRUE},
    {"sliding_window", "not null, use_sliding_window not false, and smaller than max_position_embeddings",
     "attention only sees the last sliding_window positions", WINDOW},
    {"attn_logit_softcapping", "not null", "attention scores are soft-capped: cap * tanh(s / cap)", NON_NULL},
    {"final_logit_softcapping", "not null", "the logits are soft-capped: cap * tanh(x / cap)", NON_NULL},
    {"partial_rotary_factor", "smaller than 1", "only part of each head is rotated", BELOW_ONE},
    {"query_pre_attn_scalar", "present", "the attention scale is query_pre_attn_scalar^-0.5, not head_dim^-0.5",
     PRESENT},
    {"num_local_experts", "present", "the MLP is a mixture of experts", PRESENT},
    {"tie_word_embeddings", "true", "the LM head is the embedding table: tied w\"...\"", IS_TRUE},
    {"hidden_act", "not \"silu\"", "the MLP's activation", NOT_SILU},
    {"hidden_activation", "not \"silu\"", "the MLP's activation", NOT_SILU},
    {"head_dim", "different from hidden_size / num_attention_heads", "the heads' size is not hidden / heads",
     HEAD_DIM},
};

const mgc_config_key_rule *mgc_config_key_rules(size_t *n)
{
    *n = sizeof rules / sizeof rules[0];
    return rules;
}

static void render(const mgc_config_value *v, char *out, size_t cap)
{
    switch (v->kind) {
    case MGC_CV_NULL: snprintf(out, cap, "null"); break;
    case MGC_CV_BOOL: snprintf(out, cap, "%s", v->b ? "true" : "false"); break;
    case MGC_CV_INT: snprintf(out, cap, "%lld", (long long)v->i); break;
    case MGC_CV_FLOAT: snprintf(out, cap, "%g", v->f); break;
    case MGC_CV_STRING: snprintf(out, cap, "\"%.60s\"", v->s); break;
    case MGC_CV_OBJECT: snprintf(out, cap, "an object"); break;
    default: snprintf(out, cap, "a list"); break;
    }
}

static int num_of(const mgc_config *cfg, const char *key, double *out)
{
    mgc_config_value v;
    mgc_cv_kind k = mgc_config_get(cfg, key, &v);
    if (k != MGC_CV_INT && k != MGC_CV_FLOAT)
        return -1;
    *out = v.f;
    return 0;
}

int mgc_config_key_active(const mgc_config *cfg, const mgc_config_key_rule *r, char *value, size_t cap)
{
    mgc_config_value v;
    mgc_cv_kind k = mgc_config_get(cfg, r->key, &v);
    if (k == MGC_CV_ABSENT)
        return 0;
    render(&v, value, cap);
    switch (r->test) {
    case NON_NULL: return k != MGC_CV_NULL;
    case IS_TRUE: return k == MGC_CV_BOOL && v.b;
    case PRESENT: return 1;
    case BELOW_ONE: return (k == MGC_CV_INT || k == MGC_CV_FLOAT) && v.f < 1;
    case NOT_SILU: return k != MGC_CV_NULL && !(k == MGC_CV_STRING && strcmp(v.s, "silu") == 0);
    case WINDOW: {
        if (k == MGC_CV_NULL)
            return 0;
        mgc_config_value u;
        if (mgc_config_get(cfg, "use_sliding_window", &u) == MGC_CV_BOOL && !u.b)
            return 0;
        double maxpos;
        /* a window at least as long as any sequence changes nothing */
        if ((k == MGC_CV_INT || k == MGC_CV_FLOAT) && num_of(cfg, "max_position_embeddings", &maxpos) == 0 &&
            v.f >= maxpos)
            return 0;
        return 1;
    }
    case HEAD_DIM: {
        if (k == MGC_CV_NULL)
            return 0;
        double hidden, heads;
        if ((k == MGC_CV_INT || k == MGC_CV_FLOAT) && num_of(cfg, "hidden_size", &hidden) == 0 &&
            num_of(cfg, "num_attention_heads", &heads) == 0 && heads > 0 && v.f == hidden / heads)
            return 0;
        return 1;
    }
    }
    return 0;
}

int mgc_config_keys_check(const mgc_config *cfg, const mgc_config_reads *reads, const char *const *ignored,
                          size_t nignored, mgc_diags *d, mgc_span at)
{
    int errors = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const mgc_config_key_rule *r = &rules[i];
        char value[96];
        if (!mgc_config_key_active(cfg, r, value, sizeof value) || mgc_config_reads_has(reads, r->key))
            continue;
        int skip = 0;
        for (size_t j = 0; j < nignored && !skip; j++)
            skip = strcmp(ignored[j], r->key) == 0;
        if (skip)
            continue;
        mgc_error_at(d, at, "'%s' is %s, which changes the math (%s), but the spec never reads it", r->key, value,
                     r->why);
        mgc_diag_hint(d, "use config.%s in the spec, or write 'ignore config.%s' if it makes no difference here",
                      r->key, r->key);
        errors++;
    }
    return errors;
}
