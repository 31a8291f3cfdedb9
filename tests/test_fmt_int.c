/* fmt_int: decimal integers without printf, checked against printf itself (an
 * independent implementation) at the edges and on random values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fmt_int.h"

static void same_as_printf_i64(int64_t x)
{
    char want[64], got[MGC_FMT_INT_MAX];
    snprintf(want, sizeof want, "%" PRId64, x);
    size_t n = mgc_fmt_i64(got, x);
    assert_string_equal(got, want);
    assert_int_equal(n, strlen(want));
}

static void same_as_printf_u64(uint64_t x)
{
    char want[64], got[MGC_FMT_INT_MAX];
    snprintf(want, sizeof want, "%" PRIu64, x);
    size_t n = mgc_fmt_u64(got, x);
    assert_string_equal(got, want);
    assert_int_equal(n, strlen(want));
}

static void edges(void **state)
{
    (void)state;
    const int64_t s[] = {0, 1, -1, 9, 10, -10, 99, 100, 123456789, -987654321, INT32_MAX, INT32_MIN,
                         INT64_MAX, INT64_MIN, INT64_MIN + 1, 1000000000000000000ll};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        same_as_printf_i64(s[i]);
    const uint64_t u[] = {0, 1, 10, UINT32_MAX, UINT64_MAX, UINT64_MAX - 1, 10000000000000000000ull};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        same_as_printf_u64(u[i]);
    /* the longest output fits the stated size exactly */
    char b[MGC_FMT_INT_MAX];
    assert_true(mgc_fmt_i64(b, INT64_MIN) + 1 <= MGC_FMT_INT_MAX);
    assert_true(mgc_fmt_u64(b, UINT64_MAX) + 1 <= MGC_FMT_INT_MAX);
}

static void random_values(void **state)
{
    (void)state;
    uint64_t r = 0x243f6a8885a308d3ull;
    for (int i = 0; i < 100000; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        /* every magnitude: shift the random bits down by 0..63 */
        uint64_t v = r >> (i % 64);
        same_as_printf_u64(v);
        same_as_printf_i64((int64_t)v);
        same_as_printf_i64(-(int64_t)(v >> 1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edges),
        cmocka_unit_test(random_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
