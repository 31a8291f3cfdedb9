#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mgc_atomic_open(mgc_atomic_file *f, const char *path, mgc_error *e)
{
    f->fd = -1;
    f->tmp = NULL;
    f->path = strdup(path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) {
        free(f->path);
        f->path = NULL;
        return mgc_path_errorf(e, path, "not a file name");
    }
    size_t n = strlen(path) + 32;
    f->tmp = malloc(n);
    if (!f->path || !f->tmp) {
        mgc_atomic_abort(f);
        return mgc_path_errorf(e, path, "out of memory");
    }
    /* a hidden name in the same directory, so the rename stays on one filesystem */
    snprintf(f->tmp, n, "%.*s.%s.tmp-XXXXXX", (int)(base - path), path, base);
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd < 0) {
        int err = errno;
        free(f->tmp);
        f->tmp = NULL;
        mgc_atomic_abort(f);
        return mgc_path_errorf(e, path, "cannot create a temporary file in its directory: %s", strerror(err));
    }
    struct stat st;
    mode_t mode = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? st.st_mode & 07777 : 0644;
    if (fchmod(f->fd, mode) != 0) {
        int err = errno;
        mgc_atomic_abort(f);
        return mgc_path_errorf(e, path, "cannot set the mode of the temporary file: %s", strerror(err));
    }
    return 0;
}

int mgc_atomic_write(mgc_atomic_file *f, const void *data, size_t len, mgc_error *e)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return mgc_path_errorf(e, f->path, "cannot write: %s", strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int mgc_atomic_commit(mgc_atomic_file *f, mgc_error *e)
{
    const char *what = NULL;
    int err = 0;
    if (fsync(f->fd) != 0)
        what = "cannot sync", err = errno;
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0 && !what)
        what = "cannot close", err = errno;
    if (!what && rename(f->tmp, f->path) != 0)
        what = "cannot rename the temporary file over it", err = errno;
    if (what) {
        mgc_path_errorf(e, f->path, "%s: %s", what, strerror(err));
        mgc_atomic_abort(f);
        return -1;
    }
    /* make the rename itself durable (best effort: some filesystems refuse) */
    const char *slash = strrchr(f->path, '/');
    char *dir = slash ? strndup(f->path, (size_t)(slash - f->path) + 1) : strdup(".");
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    free(f->tmp);
    f->tmp = NULL;
    mgc_atomic_abort(f);
    return 0;
}

void mgc_atomic_abort(mgc_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    f->fd = -1;
    f->tmp = f->path = NULL;
}

int mgc_write_file_atomic(const char *path, const void *data, size_t len, mgc_error *e)
{
    mgc_atomic_file f;
    if (mgc_atomic_open(&f, path, e) != 0)
        return -1;
    if (mgc_atomic_write(&f, data, len, e) != 0) {
        mgc_atomic_abort(&f);
        return -1;
    }
    return mgc_atomic_commit(&f, e);
}
