/* atomic_file.h: replace a file's contents all at once.  The data goes to a
 * temporary file in the same directory, is flushed to disk, and is renamed
 * over the target (then the directory is synced): readers see the old file or
 * the new one, never a part, and on any error the old file is untouched and
 * no temporary is left.  A replaced file keeps its mode; a new one gets 0644. */
#ifndef MGC_ATOMIC_FILE_H
#define MGC_ATOMIC_FILE_H

#include <stddef.h>

#include "mgc_error.h"

typedef struct mgc_atomic_file {
    char *path, *tmp;
    int fd;
} mgc_atomic_file;

/* Creates the temporary file beside `path`. */
int mgc_atomic_open(mgc_atomic_file *f, const char *path, mgc_error *e);
int mgc_atomic_write(mgc_atomic_file *f, const void *data, size_t len, mgc_error *e);
/* fsync, rename over the target, sync the directory; frees *f either way. */
int mgc_atomic_commit(mgc_atomic_file *f, mgc_error *e);
/* Removes the temporary file; frees *f.  Safe after a failed call. */
void mgc_atomic_abort(mgc_atomic_file *f);

/* All of the above for one buffer. */
int mgc_write_file_atomic(const char *path, const void *data, size_t len, mgc_error *e);

#endif
