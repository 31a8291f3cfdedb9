/* read_file.h: a whole file into memory, with a size cap. */
#ifndef MGC_READ_FILE_H
#define MGC_READ_FILE_H

#include <stddef.h>

#include "mgc_error.h"

/* Reads `path` into a malloc'd, NUL-terminated buffer (*len bytes, not
 * counting the NUL).  A file larger than max_bytes, a directory, or a read
 * error is an error naming the file. */
int mgc_read_file(const char *path, size_t max_bytes, char **out, size_t *len, mgc_error *e);

#endif
