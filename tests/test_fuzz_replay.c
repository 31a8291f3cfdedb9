/* Keeps the fuzz targets (fuzz/) from rotting: each target, linked with a plain
 * main by `make test` (under the same sanitizers as the suites), replays its seed
 * corpus (fuzz/seeds.sh) and the inputs of past findings (fuzz/regressions/TARGET/)
 * and must exit 0: no crash, no sanitizer report, no internal error (the compile
 * targets abort on one).  libFuzzer itself needs clang: `make fuzz` (CI runs each
 * target for a short while).  $REPLAY_DIR names the binaries' directory and $MGC
 * the mgc binary (the plan seeds are compiled with it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void replay(const char *target)
{
    const char *bindir = getenv("REPLAY_DIR");
    if (!bindir || !*bindir)
        bindir = "build/replay";
    const char *mgc = getenv("MGC");
    if (!mgc || !*mgc)
        mgc = "build/mgc";
    char bin[512];
    snprintf(bin, sizeof bin, "%s/fuzz_%s", bindir, target);
    if (access(bin, X_OK) != 0)
        fail_msg("%s is missing (built by make test)", bin);
    char dir[] = "/tmp/mgc_fuzz_seeds_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "MGC='%s' sh fuzz/seeds.sh %s '%s/seeds'", mgc, target, dir);
    assert_int_equal(system(cmd), 0);
    char regress[256];
    snprintf(regress, sizeof regress, "fuzz/regressions/%s", target);
    struct stat st;
    int has_regress = stat(regress, &st) == 0;
    snprintf(cmd, sizeof cmd, "TMPDIR='%s' MGC_ROOT=\"$(pwd)\" '%s' '%s/seeds' %s > '%s/log' 2>&1", dir, bin, dir,
             has_regress ? regress : "", dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s/log'", dir);
        if (system(cmd) != 0)
            print_error("(no log)\n");
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rc, 0);
}

static void test_safetensors(void **state) { replay("safetensors"); }
static void test_plan(void **state) { replay("plan"); }
static void test_spec(void **state) { replay("spec"); }
static void test_config(void **state) { replay("config"); }
static void test_tokenizer(void **state) { replay("tokenizer"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors), cmocka_unit_test(test_plan), cmocka_unit_test(test_spec),
        cmocka_unit_test(test_config),      cmocka_unit_test(test_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
