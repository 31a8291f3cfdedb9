/* config: a HuggingFace model's config.json, read with json-c.
 *
 * Values are looked up by dotted path: "hidden_size", "rope_scaling.factor",
 * "rope_scaling.long_factor", and array elements by index: "architectures.0",
 * "eos_token_id.1".  A lookup never fails: a missing key (or a path through something that
 * is not an object/array, e.g. "rope_scaling.factor" when rope_scaling is null) is
 * MGC_CV_ABSENT.  The typed helpers (mgc_config_int, ...) turn absence and type
 * mismatches into errors of the form
 *     "<path of config.json>: 'hidden_size' is a string, expected an integer".
 *
 * Numbers: JSON integers are MGC_CV_INT (int64); numbers with a fraction or exponent are
 * MGC_CV_FLOAT (double).  mgc_config_float accepts both; mgc_config_int accepts a float
 * only when it is integral and fits (HF writes e.g. "factor": 32.0).  An array whose
 * elements are all numbers is MGC_CV_NUMBERS with its values as doubles; any other array
 * is MGC_CV_ARRAY (index into it by path).
 *
 * Lifetime: every pointer returned stays valid until mgc_config_free.
 */
#ifndef MGC_CONFIG_H
#define MGC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgc_error.h"

typedef struct mgc_config mgc_config;

typedef enum mgc_cv_kind {
    MGC_CV_ABSENT,
    MGC_CV_NULL,
    MGC_CV_BOOL,
    MGC_CV_INT,
    MGC_CV_FLOAT,
    MGC_CV_STRING,
    MGC_CV_NUMBERS, /* array of numbers (possibly empty) */
    MGC_CV_ARRAY,   /* array with a non-number element */
    MGC_CV_OBJECT,
} mgc_cv_kind;

typedef struct mgc_config_value {
    mgc_cv_kind kind;
    bool b;              /* BOOL */
    int64_t i;           /* INT */
    double f;            /* INT and FLOAT (an INT's value as double) */
    const char *s;       /* STRING */
    const double *nums;  /* NUMBERS: len values */
    size_t len;          /* NUMBERS, ARRAY: elements; OBJECT: keys; STRING: bytes */
} mgc_config_value;

/* Reads and parses `path`; the root must be a JSON object. */
int mgc_config_load(const char *path, mgc_config **out, mgc_error *e);
/* Parses `len` bytes of JSON text; `name` stands for the file in messages. */
int mgc_config_parse(const char *text, size_t len, const char *name, mgc_config **out,
                     mgc_error *e);
void mgc_config_free(mgc_config *cfg); /* NULL is fine */

/* The file it came from (the `name` given to mgc_config_parse). */
const char *mgc_config_path(const mgc_config *cfg);

/* "absent", "null", "a boolean", "an integer", "a float", "a string", "an array of
 * numbers", "an array", "an object" (for messages). */
const char *mgc_config_kind_name(mgc_cv_kind kind);

/* Looks `path` up; returns the kind (also stored in out->kind).  "" is the root. */
mgc_cv_kind mgc_config_get(const mgc_config *cfg, const char *path, mgc_config_value *out);
/* Present and not null. */
bool mgc_config_has(const mgc_config *cfg, const char *path);

/* Typed lookups: 0 on success, -1 with a message if absent or of another type.
 * (null counts as "is null, expected ...".) */
int mgc_config_int(const mgc_config *cfg, const char *path, int64_t *out, mgc_error *e);
int mgc_config_float(const mgc_config *cfg, const char *path, double *out, mgc_error *e);
int mgc_config_bool(const mgc_config *cfg, const char *path, bool *out, mgc_error *e);
int mgc_config_string(const mgc_config *cfg, const char *path, const char **out, mgc_error *e);
int mgc_config_numbers(const mgc_config *cfg, const char *path, const double **vals, size_t *n,
                       mgc_error *e);

/* As above, but absent or null gives `dflt` (a present value of another type is still an
 * error). */
int mgc_config_int_or(const mgc_config *cfg, const char *path, int64_t dflt, int64_t *out,
                      mgc_error *e);
int mgc_config_float_or(const mgc_config *cfg, const char *path, double dflt, double *out,
                        mgc_error *e);
int mgc_config_bool_or(const mgc_config *cfg, const char *path, bool dflt, bool *out,
                       mgc_error *e);
int mgc_config_string_or(const mgc_config *cfg, const char *path, const char *dflt,
                         const char **out, mgc_error *e);

/* Calls fn(key, ud) for each key of the object at `path` ("" = root), in file order;
 * stops early if fn returns non-zero.  Returns the number of keys visited, or -1 if
 * `path` is not an object. */
typedef int (*mgc_config_key_fn)(const char *key, void *ud);
int mgc_config_keys(const mgc_config *cfg, const char *path, mgc_config_key_fn fn, void *ud);

/* For "did you mean": the key of the object at `obj_path` closest to `key` by edit
 * distance (at most 1 + strlen(key)/5 edits; case-insensitive), or NULL if none is close.
 * e.g. (cfg, "", "num_hiden_layers") -> "num_hidden_layers". */
const char *mgc_config_closest_key(const mgc_config *cfg, const char *obj_path, const char *key);

#endif
