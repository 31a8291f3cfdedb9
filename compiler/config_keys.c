/* config_keys.c: the keys of config.json that change the math (config_keys.h). */
#include "config_keys.h"

#include <stdio.h>
#include <string.h>

const mgc_config_key_rule mgc_config_key_rules[] = {
    {"rope_scaling", "is not null", "rope_llama3(config.rope_theta, head_dim, config.rope_scaling) or rope_longrope(...)"},
    {"attention_bias", "is true", "linear(..., bias=w\"...q_proj.bias\")"},
    {"mlp_bias", "is true", "linear(..., bias=w\"...up_proj.bias\")"},
    {"qk_layernorm", "is true", "layer_norm(...) of q and k, reading config.qk_layernorm"},
    {"sliding_window", "is set, use_sliding_window is not false, and it is shorter than max_position_embeddings",
     "attention(..., window=config.sliding_window)"},
    {"attn_logit_softcapping", "is not null", "attention(..., softcap=config.attn_logit_softcapping)"},
    {"final_logit_softcapping", "is not null", "softcap(logits, config.final_logit_softcapping)"},
    {"partial_rotary_factor", "is below 1", "rope_default(config.rope_theta, int(head_dim * config.partial_rotary_factor))"},
    {"query_pre_attn_scalar", "is set", "attention(..., scale=config.query_pre_attn_scalar ** -0.5)"},
    {"num_local_experts", "is set", "moe(..., experts=config.num_local_experts, top_k=config.num_experts_per_tok)"},
    {"tie_word_embeddings", "is true", "linear(x, tied w\"model.embed_tokens.weight\", out=vocab)"},
    {"hidden_act", "is not \"silu\"", "act(x, config.hidden_act)"},
    {"hidden_activation", "is not \"silu\"", "act(x, config.hidden_activation)"},
    {"head_dim", "differs from hidden_size / num_attention_heads", "let head_dim = config.head_dim ?? hidden / nq"},
};
const size_t mgc_nconfig_key_rules = sizeof mgc_config_key_rules / sizeof mgc_config_key_rules[0];

static int num(const mgc_config *cfg, const char *key, double *out)
{
    mgc_config_value v;
    switch (mgc_config_get(cfg, key, &v)) {
    case MGC_CV_INT: *out = (double)v.i; return 1;
    case MGC_CV_FLOAT: *out = v.f; return 1;
    default: return 0;
    }
}

int mgc_config_key_active(const mgc_config *cfg, const mgc_config_key_rule *r, char *val, size_t valsize)
{
    mgc_config_value v;
    mgc_cv_kind k = mgc_config_get(cfg, r->key, &v);
    const char *key = r->key;
    int active = 0;
    snprintf(val, valsize, "set");
    if (k == MGC_CV_ABSENT || k == MGC_CV_NULL)
        return 0;
    if (!strcmp(key, "attention_bias") || !strcmp(key, "mlp_bias") || !strcmp(key, "qk_layernorm") ||
        !strcmp(key, "tie_word_embeddings")) {
        active = k == MGC_CV_BOOL && v.b;
        snprintf(val, valsize, "true");
    } else if (!strcmp(key, "hidden_act") || !strcmp(key, "hidden_activation")) {
        active = k == MGC_CV_STRING && strcmp(v.s, "silu") != 0;
        if (k == MGC_CV_STRING)
            snprintf(val, valsize, "\"%s\"", v.s);
    } else if (!strcmp(key, "sliding_window")) {
        double w = 0, maxp = 0;
        mgc_config_value u;
        int off = mgc_config_get(cfg, "use_sliding_window", &u) == MGC_CV_BOOL && !u.b;
        active = num(cfg, key, &w) && !off && !(num(cfg, "max_position_embeddings", &maxp) && w >= maxp);
        snprintf(val, valsize, "%g", w);
    } else if (!strcmp(key, "partial_rotary_factor")) {
        double f = 1;
        active = num(cfg, key, &f) && f < 1;
        snprintf(val, valsize, "%g", f);
    } else if (!strcmp(key, "head_dim")) {
        double hd = 0, h = 0, n = 0;
        active = num(cfg, key, &hd) && num(cfg, "hidden_size", &h) && num(cfg, "num_attention_heads", &n) && n > 0 &&
                 hd * n != h;
        snprintf(val, valsize, "%g", hd);
    } else {
        /* rope_scaling, soft-caps, query_pre_attn_scalar, num_local_experts: present and not null */
        active = 1;
        double x;
        if (num(cfg, key, &x))
            snprintf(val, valsize, "%g", x);
        else if (k == MGC_CV_OBJECT)
            snprintf(val, valsize, "{...}");
    }
    return active;
}
