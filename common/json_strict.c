#include "json_strict.h"

#include <limits.h>

json_object *mgc_json_parse_strict(const char *text, size_t len, const char **why, size_t *at)
{
    *why = "out of memory";
    *at = 0;
    if (len > INT_MAX) {
        *why = "too large";
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (je == json_tokener_continue) { /* signal the end of input */
        root = json_tokener_parse_ex(tok, "", 1);
        je = json_tokener_get_error(tok);
        end = len;
    }
    json_tokener_free(tok);
    if (je != json_tokener_success || !root) {
        json_object_put(root);
        *why = json_tokener_error_desc(je);
        *at = end > len ? len : end;
        return NULL;
    }
    return root;
}

void mgc_text_line_col(const char *text, size_t offset, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}
