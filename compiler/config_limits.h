/* config_limits: the allowed range of each config.json key mgc reads (see
 * config_limits.c for the table and docs/language.md, "Limits"). */
#ifndef MGC_CONFIG_LIMITS_H
#define MGC_CONFIG_LIMITS_H

#include <stddef.h>

#include "config.h"

/* 0 if every key of the table that is present is in range; else -1 with
 * "<path>: '<key>' is <value>, expected an integer in [lo, hi]". */
int mgc_config_check_limits(const mgc_config *cfg, mgc_error *e);
/* "an integer in [1, 1024]" for a key of the table into buf; NULL for other keys. */
const char *mgc_config_limit_range(const char *key, char *buf, size_t size);

#endif
