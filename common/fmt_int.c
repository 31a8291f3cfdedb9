#include "fmt_int.h"

size_t mgc_fmt_u64(char *buf, uint64_t x)
{
    char tmp[MGC_FMT_INT_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return n;
}

size_t mgc_fmt_i64(char *buf, int64_t x)
{
    if (x >= 0)
        return mgc_fmt_u64(buf, (uint64_t)x);
    buf[0] = '-';
    /* -(x + 1) + 1 in unsigned: INT64_MIN has no positive int64 */
    return 1 + mgc_fmt_u64(buf + 1, (uint64_t)(-(x + 1)) + 1);
}
