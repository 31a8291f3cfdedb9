/* --model: a local directory, a HuggingFace cache entry, or an ORG/NAME hub
 * id found in the local HF cache (models--ORG--NAME/snapshots/REV/); an id
 * that is not there is an error saying --model takes a local directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "model_dir.h"

static void mkdirs(const char *root, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static void put(const char *root, const char *rel, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void hub_id_found_in_the_cache(void **state)
{
    (void)state;
    char *home = e2e_tmpdir(), want[1024], got[3072];
    mgc_error e = {{0}};
    setenv("HF_HOME", home, 1);
    unsetenv("HF_HUB_CACHE");
    /* refs/main names the snapshot among several */
    mkdirs(home, "hub/models--org--tiny/snapshots/aaaa");
    mkdirs(home, "hub/models--org--tiny/snapshots/bbbb");
    mkdirs(home, "hub/models--org--tiny/refs");
    put(home, "hub/models--org--tiny/refs/main", "bbbb\n");
    assert_int_equal(mgc_model_dir_resolve("org/tiny", got, sizeof got, &e), 0);
    snprintf(want, sizeof want, "%s/hub/models--org--tiny/snapshots/bbbb", home);
    assert_string_equal(got, want);
    /* the cache entry itself given as a directory */
    snprintf(want, sizeof want, "%s/hub/models--org--tiny", home);
    assert_int_equal(mgc_model_dir_resolve(want, got, sizeof got, &e), 0);
    e2e_assert_contains(got, "/snapshots/bbbb");
    /* no refs/main: the only snapshot, or an error when there are several */
    mkdirs(home, "hub/models--org--one/snapshots/cccc");
    assert_int_equal(mgc_model_dir_resolve("org/one", got, sizeof got, &e), 0);
    e2e_assert_contains(got, "models--org--one/snapshots/cccc");
    snprintf(want, sizeof want, "%s/hub/models--org--tiny/refs/main", home);
    remove(want);
    assert_int_equal(mgc_model_dir_resolve("org/tiny", got, sizeof got, &e), -1);
    e2e_assert_contains(e.msg, "several snapshots");
    /* a plain local directory is itself */
    assert_int_equal(mgc_model_dir_resolve("tests/fixtures/llama32", got, sizeof got, &e), 0);
    assert_string_equal(got, "tests/fixtures/llama32");
    unsetenv("HF_HOME");
    e2e_rmtree(home);
}

static void hub_id_not_in_the_cache(void **state)
{
    (void)state;
    char *home = e2e_tmpdir(), got[3072];
    mgc_error e = {{0}};
    setenv("HF_HOME", home, 1);
    assert_int_equal(mgc_model_dir_resolve("meta-llama/Llama-3.2-1B", got, sizeof got, &e), -1);
    e2e_assert_contains(e.msg, "not a local directory");
    e2e_assert_contains(e.msg, "models--meta-llama--Llama-3.2-1B");
    e2e_assert_contains(e.msg, "downloads nothing");
    /* the command: exit status 1 and the same message */
    char *err = NULL;
    char *argv[] = {(char *)e2e_mgc_path(), "run", "plan.yaml", "--model", "meta-llama/Llama-3.2-1B", "--tokens",
                    "1,2", NULL};
    assert_int_equal(e2e_spawn(argv, NULL, &err), 1);
    e2e_assert_contains(err, "--model takes a local checkpoint directory");
    free(err);
    unsetenv("HF_HOME");
    e2e_rmtree(home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hub_id_found_in_the_cache),
        cmocka_unit_test(hub_id_not_in_the_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
