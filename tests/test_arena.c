/* The compiler's bump allocator (common/arena.c): zeroed, aligned memory;
 * blocks of a freed arena reused by the next one (zeroed again); arenas on
 * several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

static void test_zeroed_and_aligned(void **state)
{
    (void)state;
    mgc_arena a = {0};
    const size_t sizes[] = {1, 15, 16, 17, 1000, 65536, 65537, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = mgc_arena_alloc(&a, sizes[i]);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t k = 0; k < sizes[i]; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xaa, sizes[i]);
    }
    assert_true(a.total >= 1 + 15 + 16 + 17 + 1000 + 65536 + 65537 + 300000);
    assert_string_equal(mgc_arena_strndup(&a, "compile", 4), "comp");
    mgc_arena_free(&a);
    assert_null(a.head);
    assert_int_equal(a.total, 0);
}

/* A freed arena's block serves the next arena, with its old bytes cleared. */
static void test_blocks_reused(void **state)
{
    (void)state;
    mgc_arena a = {0}, b = {0};
    unsigned char *p = mgc_arena_alloc(&a, 100);
    memset(p, 0x5c, 100);
    mgc_arena_free(&a);
    unsigned char *q = mgc_arena_alloc(&b, 100);
    assert_ptr_equal(q, p);
    for (int k = 0; k < 100; k++)
        assert_int_equal(q[k], 0);
    mgc_arena_free(&b);
}

static void *churn(void *arg)
{
    (void)arg;
    for (int round = 0; round < 200; round++) {
        mgc_arena a = {0};
        for (int i = 0; i < 40; i++) {
            char *s = mgc_arena_alloc(&a, 4000);
            s[0] = (char)i;
        }
        mgc_arena_free(&a);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed_and_aligned),
        cmocka_unit_test(test_blocks_reused),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
