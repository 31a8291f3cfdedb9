/* The compile summary's memory figures and the KV cache's size under
 * --batch and --max-seq-len, on Llama-3.2-1B's t3000 spec at true size
 * (--config: no weights needed).
 *
 * Hand arithmetic: t3000 has 12 GiB DRAM per device with 256 MiB reserved
 * (graphs/systems/t3000.yaml), so 12032.0 MiB usable.  The KV cache of one
 * user and one position per device: 16 layers x (K and V) x 1 KV head
 * (8 heads over 8 devices) x head_dim 64 x 2 bytes (bf16) = 4096 bytes; the
 * spec's cache is 32 users x 1024 positions = 128 MiB, one user's 4 MiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_helpers.h"

#define SPEC "graphs/meta-llama/Llama-3.2-1B/t3000.graph"
#define CONFIG "graphs/meta-llama/Llama-3.2-1B/config.json"

/* mgc compile SPEC --config CONFIG -o DIR/plan [extra...]; stderr in *err */
static int compile(const char *a1, const char *v1, const char *a2, const char *v2, char **err)
{
    char *dir = e2e_tmpdir(), *plan = e2e_path(dir, "plan.yaml");
    char *argv[] = {(char *)e2e_mgc_path(), "compile", SPEC, "--config", CONFIG, "-o", plan,
                    (char *)a1, (char *)v1, (char *)a2, (char *)v2, NULL};
    int rc = e2e_spawn(argv, NULL, err);
    free(plan);
    e2e_rmtree(dir);
    return rc;
}

static void summary_prints_usable_dram(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(compile(NULL, NULL, NULL, NULL, &err), 0);
    e2e_assert_contains(err, "+ 128.0 MiB KV cache");
    e2e_assert_contains(err, "of 12032.0 MiB usable (12288.0 MiB DRAM less 256.0 MiB reserved)");
    e2e_assert_contains(err, "KV cache 32 users x 1024 positions");
    free(err);
}

static void smaller_batch_shrinks_the_cache(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(compile("--batch", "1", NULL, NULL, &err), 0);
    e2e_assert_contains(err, "+ 4.0 MiB KV cache");
    e2e_assert_contains(err, "KV cache 1 user x 1024 positions");
    free(err);
    assert_int_equal(compile("--batch", "4", NULL, NULL, &err), 0);
    e2e_assert_contains(err, "+ 16.0 MiB KV cache");
    free(err);
}

static void longer_seq_len_than_the_spec_when_it_fits(void **state)
{
    (void)state;
    char *err = NULL;
    /* 4096 positions: 32 users x 4096 x 4096 bytes = 512 MiB */
    assert_int_equal(compile("--max-seq-len", "4096", NULL, NULL, &err), 0);
    e2e_assert_contains(err, "+ 512.0 MiB KV cache");
    free(err);
    /* 262144 positions of 32 users would be 32 GiB of cache: refused with the numbers */
    assert_int_equal(compile("--max-seq-len", "262144", NULL, NULL, &err), 1);
    e2e_assert_contains(err, "does not fit on t3000");
    free(err);
    /* ... but one user's 262144 positions are 1 GiB, and fit */
    assert_int_equal(compile("--max-seq-len", "262144", "--batch", "1", &err), 0);
    e2e_assert_contains(err, "+ 1024.0 MiB KV cache");
    e2e_assert_contains(err, "KV cache 1 user x 262144 positions");
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(summary_prints_usable_dram),
        cmocka_unit_test(smaller_batch_shrinks_the_cache),
        cmocka_unit_test(longer_seq_len_than_the_spec_when_it_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
