/* Helpers shared by the fuzz targets whose code under test reads paths, not memory:
 * each input is written to a file on a private scratch directory (under $TMPDIR or
 * /tmp; put TMPDIR on a tmpfs for speed) before the call. */
#ifndef FUZZ_SUPPORT_FILES_H
#define FUZZ_SUPPORT_FILES_H

#include <stddef.h>

/* Absolute path of the repository (MGC_ROOT, or the current directory: run the targets
 * from the repository root). */
const char *fuzz_repo_root(void);
/* A fresh scratch directory (created once per process, removed at exit). */
const char *fuzz_scratch_dir(void);
/* Writes `size` bytes to `path`; aborts on an I/O error (not the input's fault). */
void fuzz_write_file(const char *path, const void *data, size_t size);

#endif
