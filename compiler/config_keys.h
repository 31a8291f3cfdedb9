/* config_keys.h: config.json keys that change a model's math.  A spec that
 * never reads one that is set (and does not say `ignore config.KEY`) would
 * compile a different model from the one the checkpoint holds: a silent
 * bug until eval.  This table says which keys and when they count. */
#ifndef MGC_CONFIG_KEYS_H
#define MGC_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"

typedef struct mgc_config_key_rule {
    const char *key;
    const char *when;   /* when it counts, for messages and docs */
    const char *read;   /* how a spec reads it, for the hint */
} mgc_config_key_rule;

extern const mgc_config_key_rule mgc_config_key_rules[];
extern const size_t mgc_nconfig_key_rules;

/* 1 if rule r's key is set in cfg in a way that changes the math; its value
 * is written to val (a short rendering) when it is. */
int mgc_config_key_active(const mgc_config *cfg, const mgc_config_key_rule *r, char *val, size_t valsize);

#endif
