/* config_keys.h: config.json keys that change the math (docs/language.md,
 * "What the compiler refuses to ignore").
 *
 * A new architecture often differs from Llama by one config.json key: a
 * bias, a sliding window, a soft cap, a different activation.  A spec that
 * never reads such a key would compile and run, and be wrong, with the
 * first sign of it a bad number in eval.  Elaboration records every config
 * path the spec reads (and each prefix of it); after elaboration the table
 * here says which of the keys present in config.json are "active" (change
 * what HF computes), and each active key the spec did not read, and did not
 * `ignore config.KEY`, is an error. */
#ifndef MGC_CONFIG_KEYS_H
#define MGC_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"
#include "diag.h"

/* The set of config paths a spec read. */
typedef struct mgc_config_reads {
    char **paths;
    size_t n, cap;
} mgc_config_reads;

/* Records `path` ("rope_scaling.factor") and every prefix ("rope_scaling"). */
void mgc_config_reads_add(mgc_config_reads *r, const char *path);
int mgc_config_reads_has(const mgc_config_reads *r, const char *path);
void mgc_config_reads_free(mgc_config_reads *r);

/* One rule of the table. */
typedef struct mgc_config_key_rule {
    const char *key;
    const char *when; /* when the key is active, as docs/language.md states it */
    const char *why;  /* what it changes */
    int test;         /* how "when" is decided (config_keys.c) */
} mgc_config_key_rule;

const mgc_config_key_rule *mgc_config_key_rules(size_t *n);

/* Whether rule `r` is active in `cfg`; when it is, *value gets a short
 * rendering of the key's value (for the message). */
int mgc_config_key_active(const mgc_config *cfg, const mgc_config_key_rule *r, char *value, size_t cap);

/* Reports (as errors at `at`) every active key neither read nor ignored.
 * ignored: the keys of the spec's `ignore config.KEY` statements.  Returns
 * the number of errors. */
int mgc_config_keys_check(const mgc_config *cfg, const mgc_config_reads *reads, const char *const *ignored,
                          size_t nignored, mgc_diags *d, mgc_span at);

#endif
