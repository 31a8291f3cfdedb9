/* fmt_int.h: decimal integers without printf.  The plan writer and the
 * lowering format tens of thousands of numbers per compile, and glibc's
 * snprintf costs about 100 instructions of parsing per call: these cost a
 * few per digit. */
#ifndef MGC_FMT_INT_H
#define MGC_FMT_INT_H

#include <stddef.h>
#include <stdint.h>

/* Room for any int64/uint64 in decimal, its sign and the NUL. */
#define MGC_FMT_INT_MAX 22

/* Writes x in decimal (a '-' first when negative) and a NUL into buf, which
 * holds MGC_FMT_INT_MAX chars; returns the length. */
size_t mgc_fmt_i64(char *buf, int64_t x);
size_t mgc_fmt_u64(char *buf, uint64_t x);

#endif
