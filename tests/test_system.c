/* Tests for compiler/system.c: the three system files under graphs/systems and the
 * validation errors.  Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "system.h"

#define assert_contains(hay, needle)                                                       \
    do {                                                                                   \
        if (!strstr((hay), (needle)))                                                      \
            fail_msg("expected \"%s\" in message: %s", (needle), (hay));                   \
    } while (0)

#define GIB (1024LL * 1024 * 1024)
#define MIB (1024LL * 1024)

static int affinity_cpus(void)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

static void test_n150(void **state)
{
    mgc_system s;
    mgc_error e;
    if (mgc_system_find("n150", NULL, &s, &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(s.name, "n150");
    assert_string_equal(s.path, "graphs/systems/n150.yaml");
    assert_string_equal(s.device, "wormhole_b0");
    assert_int_equal(s.mesh_rows, 1);
    assert_int_equal(s.mesh_cols, 1);
    assert_int_equal(s.num_devices, 1);
    assert_int_equal(s.topology, MGC_TOPO_LINEAR);
    assert_int_equal(s.dram_bytes, 12884901888LL);
    assert_int_equal(s.dram_bytes, 12 * GIB);
    assert_false(s.dram_from_host);
    assert_int_equal(s.dram_reserved, 256 * MIB);
    assert_int_equal(mgc_system_dram_usable(&s), 12 * GIB - 256 * MIB);
    assert_int_equal(s.l1_bytes, 1464 * 1024);
    assert_int_equal(s.tile, 32);
    assert_true(s.host_cores_auto);
    assert_int_equal(s.host_cores, affinity_cpus());
    assert_true(strlen(s.description) > 0);

    /* the same file by path */
    mgc_system s2;
    assert_int_equal(mgc_system_load("graphs/systems/n150.yaml", &s2, &e), 0);
    assert_memory_equal(&s, &s2, sizeof s);
}

static void test_t3000(void **state)
{
    mgc_system s;
    mgc_error e;
    if (mgc_system_find("t3000", "graphs/systems", &s, &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(s.name, "t3000");
    assert_int_equal(s.mesh_rows, 2);
    assert_int_equal(s.mesh_cols, 4);
    assert_int_equal(s.num_devices, 8);
    assert_int_equal(s.topology, MGC_TOPO_LINEAR);
    assert_string_equal(mgc_topology_name(s.topology), "linear");
    assert_int_equal(s.dram_bytes, 12884901888LL);
    assert_int_equal(s.dram_reserved, 268435456LL);
    assert_int_equal(s.tile, 32);
    assert_string_equal(s.device, "wormhole_b0");
}

static void test_cpu(void **state)
{
    mgc_system s;
    mgc_error e;
    if (mgc_system_find("cpu", NULL, &s, &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(s.device, "cpu");
    assert_int_equal(s.num_devices, 1);
    assert_true(s.dram_from_host);
    int64_t mem;
    assert_int_equal(mgc_system_host_memory(&mem, &e), 0);
    assert_int_equal(s.dram_bytes, mem);
    /* MemTotal agrees with the kernel's page count to within 1% */
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    assert_true(phys > 0);
    assert_true((double)mem > 0.99 * phys && (double)mem < 1.01 * phys);
    assert_int_equal(s.l1_bytes, 0);
    assert_int_equal(s.tile, 32);
    assert_true(s.host_cores >= 1);
    assert_int_equal(s.host_cores, affinity_cpus());
    assert_true(mgc_system_dram_usable(&s) > 0);
    assert_string_equal(mgc_topology_name(MGC_TOPO_RING), "ring");
    assert_string_equal(mgc_topology_name(MGC_TOPO_MESH), "mesh");
}

/* ---- errors ------------------------------------------------------------------------ */

static char tmpdir[64];

static int setup_dir(void **state)
{
    strcpy(tmpdir, "/tmp/mgc_test_sys_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int teardown_dir(void **state)
{
    return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *write_sys(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s.yaml", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define GOOD_TAIL "device: wormhole_b0\ntopology: ring\ndram: 1000\ntile: 32\n"

/* Loads `text` as <tmpdir>/bad.yaml and expects an error containing e1 (and e2). */
static void expect_error(const char *text, const char *e1, const char *e2)
{
    const char *p = write_sys("bad", text);
    mgc_system s;
    mgc_error e = {{0}};
    if (mgc_system_load(p, &s, &e) == 0)
        fail_msg("loaded: %s", text);
    assert_contains(e.msg, p);
    assert_contains(e.msg, e1);
    if (e2)
        assert_contains(e.msg, e2);
}

static void test_minimal_and_defaults(void **state)
{
    const char *p = write_sys("mini", "name: mini\nmesh: [4, 8]\n" GOOD_TAIL "host_cores: 3\n");
    mgc_system s;
    mgc_error e;
    if (mgc_system_load(p, &s, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(s.num_devices, 32);
    assert_int_equal(s.topology, MGC_TOPO_RING);
    assert_int_equal(s.dram_reserved, 0);
    assert_int_equal(s.l1_bytes, 0);
    assert_int_equal(s.host_cores, 3);
    assert_false(s.host_cores_auto);
    assert_string_equal(s.description, "");
    p = write_sys("big", "name: big\nmesh: [64, 64]\n" GOOD_TAIL "topology_unused: 1\n");
    assert_int_equal(mgc_system_load(p, &s, &e), -1); /* unknown key, after the others */
    p = write_sys("big", "name: big\nmesh: [64, 64]\n" GOOD_TAIL);
    assert_int_equal(mgc_system_load(p, &s, &e), 0);
    assert_int_equal(s.num_devices, 4096);
}

static void test_unknown_key(void **state)
{
    expect_error("name: bad\nmesh: [1, 1]\ndramm: 5\n" GOOD_TAIL,
                 "bad.yaml:3:1: unknown key 'dramm'", "known keys: name, description, device");
    expect_error("name: bad\nmesh: [1, 1]\n" GOOD_TAIL "  \nextra:\n  nested: 1\n",
                 "bad.yaml:8:1: unknown key 'extra'", NULL);
    expect_error("name: bad\nmesh: [1, 1]\n" GOOD_TAIL "tile: 32\n",
                 "bad.yaml:7:1: key 'tile' is given twice (first on line 6)", NULL);
    expect_error("name: bad\n" GOOD_TAIL, "missing required key 'mesh'", NULL);
    expect_error("mesh: [1, 1]\n" GOOD_TAIL, "missing required key 'name'", NULL);
}

static void test_bad_mesh(void **state)
{
    expect_error("name: bad\nmesh: [0, 4]\n" GOOD_TAIL, "bad.yaml:2:8: 'mesh' rows is 0",
                 "must be >= 1");
    expect_error("name: bad\nmesh: [2, 0]\n" GOOD_TAIL, "'mesh' cols is 0", "must be >= 1");
    expect_error("name: bad\nmesh: [-1, 4]\n" GOOD_TAIL, "'mesh rows' is '-1'", NULL);
    expect_error("name: bad\nmesh: [8]\n" GOOD_TAIL, "'mesh' has 1 entries, expected [rows, cols]",
                 NULL);
    expect_error("name: bad\nmesh: [1, 2, 3]\n" GOOD_TAIL, "'mesh' has 3 entries", NULL);
    expect_error("name: bad\nmesh: 8\n" GOOD_TAIL, "'mesh' is a scalar, expected [rows, cols]",
                 NULL);
    expect_error("name: bad\nmesh: [a, 2]\n" GOOD_TAIL, "'mesh rows' is 'a'", NULL);
    expect_error("name: bad\nmesh: [65, 64]\n" GOOD_TAIL, "'mesh' [65, 64] has 4160 devices",
                 "more than 4096");
    expect_error("name: bad\nmesh: [99999999999999999999, 1]\n" GOOD_TAIL, "'mesh rows'",
                 "expected an integer in");
    expect_error("name: bad\nmesh: [1, 5000]\n" GOOD_TAIL, "'mesh' cols is 5000", NULL);
}

static void test_bad_values(void **state)
{
    expect_error("name: bad\nmesh: [1, 1]\ndevice: x\ntopology: star\ndram: 1\ntile: 32\n",
                 "bad.yaml:4:11: 'topology' is 'star', expected linear, ring or mesh", NULL);
    expect_error("name: bad\nmesh: [1, 1]\ndevice: x\ntopology: mesh\ndram: \"12\"\ntile: 32\n",
                 "'dram (bytes, or host)' is the quoted string \"12\"", NULL);
    expect_error("name: bad\nmesh: [1, 1]\ndevice: x\ntopology: mesh\ndram: 12GiB\ntile: 32\n",
                 "'dram (bytes, or host)' is '12GiB'", NULL);
    expect_error("name: bad\nmesh: [1, 1]\ndevice: x\ntopology: mesh\ndram: 0\ntile: 32\n",
                 "expected an integer in [1,", NULL);
    expect_error("name: bad\nmesh: [1, 1]\ndevice: x\ntopology: mesh\ndram:\ntile: 32\n",
                 "'dram' has no value", NULL);
    expect_error("name: bad\nmesh: [1, 1]\ndevice: x\ntopology: mesh\ndram: [1]\ntile: 32\n",
                 "is a list, expected an integer", NULL);
    expect_error("name: bad\nmesh: [1, 1]\ndevice: x\ntopology: mesh\ndram: 100\ntile: 48\n",
                 "'tile' is 48, expected a power of two", NULL);
    expect_error("name: bad\nmesh: [1, 1]\ndevice: x\ntopology: mesh\ndram: 100\ntile: 2048\n",
                 "'tile' is 2048", NULL);
    expect_error("name: bad\nmesh: [1, 1]\n" GOOD_TAIL "dram_reserved: 1000\n",
                 "bad.yaml:7:16: 'dram_reserved' (1000 bytes) must be smaller than 'dram' (1000",
                 NULL);
    expect_error("name: bad\nmesh: [1, 1]\n" GOOD_TAIL "host_cores: 0\n", "host_cores", NULL);
    expect_error("name: bad\nmesh: [1, 1]\n" GOOD_TAIL "host_cores: many\n",
                 "'host_cores (a count, or auto)' is 'many'", NULL);
    expect_error("name: bad\nmesh: [1, 1]\n" GOOD_TAIL "l1: -3\n", "'l1' is '-3'", NULL);
    expect_error("name: bad\nmesh: [1, 1]\ndevice: [a]\ntopology: mesh\ndram: 100\ntile: 32\n",
                 "'device' is a list, expected a string", NULL);
    expect_error("name: n150\nmesh: [1, 1]\n" GOOD_TAIL,
                 "bad.yaml:1:7: 'name' is 'n150' but the file is named 'bad.yaml'", NULL);
    expect_error("name: b/ad\nmesh: [1, 1]\n" GOOD_TAIL, "'name' 'b/ad' may only contain", NULL);
    expect_error("", "empty file", NULL);
    expect_error("# only a comment\n", "empty file", NULL);
    expect_error("- name: bad\n", "bad.yaml:1:1: the file is a list, expected a mapping", NULL);
    expect_error("name: bad\nmesh: [1, 2\n" GOOD_TAIL, "invalid YAML", NULL);
    expect_error("name: bad\n  mesh: [1, 1]\n", "bad.yaml:2:", "invalid YAML");
    expect_error("name: bad\nmesh: [1, 1]\n" GOOD_TAIL "---\nname: other\n",
                 "second YAML document", NULL);
    expect_error("? [a, b]\n: 1\n", "a key is a list", NULL);
}

static void test_find_errors(void **state)
{
    mgc_system s;
    mgc_error e;
    assert_int_equal(mgc_system_find("n300", NULL, &s, &e), -1);
    assert_string_equal(e.msg,
                        "unknown system 'n300' (available in graphs/systems: cpu, n150, t3000, t3000x2)");
    assert_int_equal(mgc_system_find("../systems/n150", NULL, &s, &e), -1);
    assert_contains(e.msg, "invalid system name '../systems/n150'");
    assert_contains(e.msg, "cpu, n150, t3000, t3000x2");
    assert_int_equal(mgc_system_find("", NULL, &s, &e), -1);
    assert_contains(e.msg, "invalid system name ''");
    assert_int_equal(mgc_system_find("n150", "no/such/dir", &s, &e), -1);
    assert_contains(e.msg, "unknown system 'n150': cannot read the systems directory no/such/dir");

    /* another directory: only its own systems are listed */
    write_sys("alpha", "name: alpha\nmesh: [1, 2]\n" GOOD_TAIL);
    write_sys("bad", "name: bad\n");
    assert_int_equal(mgc_system_find("alpha", tmpdir, &s, &e), 0);
    assert_int_equal(s.num_devices, 2);
    assert_int_equal(mgc_system_find("t3000", tmpdir, &s, &e), -1);
    assert_contains(e.msg, "unknown system 't3000'");
    assert_contains(e.msg, ": alpha, bad");
    assert_int_equal(mgc_system_find("bad", tmpdir, &s, &e), -1);
    assert_contains(e.msg, "missing required key");

    assert_int_equal(mgc_system_load("graphs/systems/nope.yaml", &s, &e), -1);
    assert_string_equal(e.msg, "graphs/systems/nope.yaml: cannot open: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_n150),
        cmocka_unit_test(test_t3000),
        cmocka_unit_test(test_cpu),
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_bad_mesh),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_find_errors),
    };
    return cmocka_run_group_tests_name("system", tests, setup_dir, teardown_dir);
}
