/* prompt.h: where the driver's commands get prompt tokens from. */
#ifndef MGC_PROMPT_H
#define MGC_PROMPT_H

#include <stdint.h>

#include "mgc_error.h"

/* "1,2,3" -> malloc'd ids.  -1 with a message on anything else. */
int mgc_parse_token_list(const char *s, int32_t **out, int *n, mgc_error *e);

/* Text (from --prompt or --prompt-file) -> ids through DIR/tokenizer.json. */
int mgc_tokenize_prompt(const char *model_dir, const char *text, int32_t **out, int *n, mgc_error *e);

/* Reads a whole text file (at most 64 MiB); malloc'd, NUL-terminated. */
char *mgc_read_text_file(const char *path, mgc_error *e);

#endif
