/* json_strict.h: one strict JSON parse with json-c (strict mode, UTF-8
 * validated, the whole input consumed), shared by every reader of JSON files
 * (config.json, safetensors headers and indexes, tokenizer.json). */
#ifndef MGC_JSON_STRICT_H
#define MGC_JSON_STRICT_H

#include <json-c/json.h>
#include <stddef.h>

/* Returns the root (caller releases it with json_object_put), or NULL with
 * *why (json-c's description) and *at (byte offset of the problem) set. */
json_object *mgc_json_parse_strict(const char *text, size_t len, const char **why, size_t *at);

/* 1-based line and column of byte `offset` in text (for messages). */
void mgc_text_line_col(const char *text, size_t offset, int *line, int *col);

#endif
