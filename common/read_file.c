#include "read_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int mgc_read_file(const char *path, size_t max_bytes, char **out, size_t *len, mgc_error *e)
{
    *out = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mgc_path_errorf(e, path, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        return mgc_path_errorf(e, path, "is a directory, not a file");
    }
    size_t n = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (cap - n < 4096) {
            size_t ncap = cap ? cap * 2 : 16384;
            char *nb = ncap > 2 * max_bytes + 16384 ? NULL : realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                fclose(fp);
                return mgc_path_errorf(e, path, "larger than %zu bytes", max_bytes);
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (n > max_bytes) {
            free(buf);
            fclose(fp);
            return mgc_path_errorf(e, path, "larger than %zu bytes", max_bytes);
        }
        if (r == 0)
            break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return mgc_path_errorf(e, path, "read error");
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}
