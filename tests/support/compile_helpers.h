/* compile_helpers.h: shared helpers of the compiler suites (test_compile*.c)
 * and the compile benchmark: the five bringups, in-process compiles with
 * their diagnostics kept, a checkpoint made of a table of tensor shapes,
 * diagnostic search, files and temporary directories, and running the `mgc`
 * binary.  Nothing here uses cmocka; failures of the helpers themselves
 * abort (they only fail when the test machine is broken). */
#ifndef MGC_TEST_COMPILE_HELPERS_H
#define MGC_TEST_COMPILE_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "compile.h"

/* One of the five bringups under graphs/, with its real config.json and the
 * tiny checkpoint of the same architecture under tests/fixtures/. */
typedef struct mgc_test_bringup {
    const char *name;       /* "llama32", ... (the fixture directory's name) */
    const char *spec;       /* graphs/.../SYSTEM.graph */
    const char *config;     /* the real config.json beside it */
    const char *fixture;    /* tests/fixtures/NAME */
    const char *system;     /* the system the spec declares */
} mgc_test_bringup;

#define MGC_TEST_NBRINGUPS 5
extern const mgc_test_bringup mgc_test_bringups[MGC_TEST_NBRINGUPS];
/* By fixture name ("phi3"); NULL if unknown. */
const mgc_test_bringup *mgc_test_bringup_named(const char *name);

/* A compile and everything it produced.  rc is mgc_compile's result; ir and
 * plan are filled only when rc == 0.  Free with mgc_test_result_free. */
typedef struct mgc_test_result {
    int rc;
    mgc_diags d;
    mgc_ir ir;
    mgc_plan plan;
} mgc_test_result;

/* Runs mgc_compile(o) in-process into *r; returns r->rc. */
int mgc_test_compile(const mgc_compile_opts *o, mgc_test_result *r);
/* The common case: SPEC with CONFIG (no checkpoint) for SYSTEM (NULL = the
 * spec's own). */
int mgc_test_compile_simple(const char *spec, const char *config, const char *system, mgc_test_result *r);
void mgc_test_result_free(mgc_test_result *r);

/* The first diagnostic of `level` whose message contains `needle`, or NULL. */
const mgc_diagnostic *mgc_test_find_diag(const mgc_diags *d, mgc_diag_level level, const char *needle);
/* Count of diagnostics of `level`. */
size_t mgc_test_count_diags(const mgc_diags *d, mgc_diag_level level);
/* Everything mgc_diags_print would show, as a malloc'd string (for failure
 * messages and for checks on the rendered form). */
char *mgc_test_diags_text(const mgc_diags *d);

/* Fails the running test with `why` and every diagnostic of result *r. */
#define FAIL_WITH_DIAGS(r, why)                                    \
    do {                                                           \
        char *t_ = mgc_test_diags_text(&(r)->d);                   \
        print_error("%s\n%s", (why), t_);                          \
        free(t_);                                                  \
        fail();                                                    \
    } while (0)

/* A checkpoint given as a table of tensor shapes, seen by the compiler
 * through mgc_tensor_lookup (the compiler never reads weight bytes). */
typedef struct mgc_test_tensor {
    const char *name;
    int rank;
    int64_t shape[2];
    const char *dtype;      /* NULL = "BF16" */
} mgc_test_tensor;

typedef struct mgc_test_ckpt {
    const mgc_test_tensor *t;
    size_t n;
    mgc_tensor_lookup lookup;
} mgc_test_ckpt;

/* Makes c->lookup answer from t[0..n) (which must outlive c). */
void mgc_test_ckpt_init(mgc_test_ckpt *c, const mgc_test_tensor *t, size_t n, const char *label);

/* Files.  read: malloc'd, NUL-terminated, *len set if non-NULL; NULL if the
 * file cannot be read.  write: 0 or -1. */
char *mgc_test_read_file(const char *path, size_t *len);
int mgc_test_write_file(const char *path, const char *text, size_t len);
int mgc_test_file_exists(const char *path);

/* A fresh directory under $TMPDIR (or /tmp), malloc'd path; and removal of a
 * directory tree (one level of plain files, as the tests make). */
char *mgc_test_tempdir(const char *tag);

/* A temporary directory for a whole suite: pass these as the group setup and
 * teardown of cmocka_run_group_tests; the directory is mgc_test_suite_dir. */
extern char *mgc_test_suite_dir;
int mgc_test_suite_dir_setup(void **state);
int mgc_test_suite_dir_teardown(void **state);
void mgc_test_rmtree(const char *dir);

/* The mgc binary to run: $MGC if set (the Makefile sets it), else build/mgc. */
const char *mgc_test_mgc_path(void);
/* Runs `mgc ARGS` through /bin/sh with stdout and stderr captured; returns
 * the exit status (or -1 if it did not exit normally).  *out and *err, if
 * non-NULL, receive malloc'd copies of what the command printed. */
int mgc_test_run_mgc(const char *args, char **out, char **err);

/* Number of ops of kernel k in an entry point. */
size_t mgc_test_count_kernel(const mgc_plan_entry *en, mgc_kernel k);
/* The index of the plan weight with this id, or -1. */
int mgc_test_weight_index(const mgc_plan *p, const char *id);
/* Number of IR nodes with opcode op (inserted: -1 any, 0 written, 1 inserted). */
size_t mgc_test_count_ir(const mgc_ir *ir, mgc_ir_opcode op, int inserted);

#endif
