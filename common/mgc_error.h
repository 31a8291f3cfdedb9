/* mgc_error: how library functions report failure.
 *
 * Errors are values: a function that can fail takes an `mgc_error *` and returns
 * 0 on success or -1 after writing one human-readable sentence into it (naming
 * the file, the tensor and the cause where there is one).  Nothing in the
 * runtime prints; the driver prints the message once. */
#ifndef MGC_ERROR_H
#define MGC_ERROR_H

#include <stddef.h>

typedef struct mgc_error {
    char msg[1024];
} mgc_error;

/* Formats the message into `e` (if non-NULL) and returns -1. */
int mgc_errorf(mgc_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats "path: message" into `e` and returns -1 (the usual shape of an
 * error about a file). */
int mgc_path_errorf(mgc_error *e, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (used to add a file name). */
int mgc_error_prefix(mgc_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
