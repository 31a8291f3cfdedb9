/* eos.h: a model's end-of-sequence token ids, where HuggingFace keeps them:
 * `eos_token_id` of generation_config.json, else of config.json (a number or a
 * list of numbers; absent or null: none). */
#ifndef EV_EOS_H
#define EV_EOS_H

#include <stdint.h>

#include "mgc_error.h"

#define EV_EOS_MAX 16

/* Fills ids (room for EV_EOS_MAX) and *n (0 when neither file declares one, or
 * the files are absent).  A file that is not valid JSON, or an eos_token_id
 * that is not a non-negative integer or a list of them, is an error naming the
 * file. */
int ev_eos_ids(const char *model_dir, int32_t *ids, int *n, mgc_error *e);

#endif
