/* atomic_file.h: replace a file's contents all at once.  The data goes to a
 * temporary file in the same directory, is flushed to disk, and is renamed
 * over the target: readers see the old file or the new one, never a part,
 * and on any error the old file is untouched and no temporary is left. */
#ifndef MGC_ATOMIC_FILE_H
#define MGC_ATOMIC_FILE_H

#include <stddef.h>

#include "mgc_error.h"

int mgc_write_file_atomic(const char *path, const void *data, size_t len, mgc_error *e);

#endif
