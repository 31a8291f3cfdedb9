#include "eos.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "json_strict.h"
#include "read_file.h"

/* 1 and ids filled when `path` declares eos_token_id, 0 when it does not, -1 on error. */
static int from_file(const char *path, int32_t *ids, int *n, mgc_error *e)
{
    if (access(path, F_OK) != 0)
        return 0;
    char *text = NULL;
    size_t len = 0;
    if (mgc_read_file(path, 16u << 20, &text, &len, e) != 0)
        return -1;
    const char *why = NULL;
    size_t at = 0;
    json_object *root = mgc_json_parse_strict(text, len, &why, &at);
    if (!root) {
        int line, col;
        mgc_text_line_col(text, at, &line, &col);
        free(text);
        return mgc_path_errorf(e, path, "line %d, column %d: invalid JSON: %s", line, col, why);
    }
    free(text);
    json_object *v = NULL;
    int rc = 0;
    if (!json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "eos_token_id", &v) ||
        !v)
        goto out;
    int count = json_object_is_type(v, json_type_array) ? (int)json_object_array_length(v) : 1;
    if (count > EV_EOS_MAX) {
        rc = mgc_path_errorf(e, path, "eos_token_id lists %d ids; at most %d are supported", count, EV_EOS_MAX);
        goto out;
    }
    for (int i = 0; i < count; i++) {
        json_object *x = json_object_is_type(v, json_type_array) ? json_object_array_get_idx(v, (size_t)i) : v;
        int64_t id = json_object_get_int64(x);
        if (!json_object_is_type(x, json_type_int) || id < 0 || id > INT32_MAX) {
            rc = mgc_path_errorf(e, path, "eos_token_id must be a non-negative integer or a list of them");
            goto out;
        }
        ids[i] = (int32_t)id;
    }
    *n = count;
    rc = 1;
out:
    json_object_put(root);
    return rc;
}

int ev_eos_ids(const char *model_dir, int32_t *ids, int *n, mgc_error *e)
{
    static const char *const files[] = {"generation_config.json", "config.json"};
    *n = 0;
    for (int i = 0; i < 2; i++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", model_dir, files[i]) >= sizeof path)
            return mgc_errorf(e, "%s: model directory path is too long", model_dir);
        int rc = from_file(path, ids, n, e);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    return 0;
}
