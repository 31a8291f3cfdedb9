/* e2e_helpers.h: shared plumbing for the end-to-end runtime tests
 * (test_runtime_e2e.c, test_runtime_bad_input.c, test_run_cmd.c): the fixture
 * table, compile + load in-process, extra reference tensors, temporary
 * directories, capturing stderr, and running the built `mgc` binary.
 * Everything runs from the repository root (fixtures at tests/fixtures/). */
#ifndef MGC_TEST_E2E_HELPERS_H
#define MGC_TEST_E2E_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "plan.h"
#include "safetensors.h"

#define E2E_FIX "tests/fixtures"
#define E2E_MAX_SEQ 128

/* One fixture architecture: its directory under tests/fixtures, the spec of
 * its bringup, and its reference files (1 or 2, NULL-terminated). */
typedef struct e2e_arch {
    const char *name;        /* "llama32" */
    const char *spec;        /* graphs/.../t3000.graph */
    const char *refs[3];     /* "reference", or "reference_short", "reference_long" */
} e2e_arch;

extern const e2e_arch e2e_archs[];
extern const size_t e2e_narchs;
const e2e_arch *e2e_arch_find(const char *name);

/* "tests/fixtures/<arch>" and "tests/fixtures/<arch>/<ref>.safetensors" into buf. */
const char *e2e_model_dir(const e2e_arch *a, char *buf, size_t size);
const char *e2e_ref_path(const e2e_arch *a, const char *ref, char *buf, size_t size);

/* Compiles `spec` against the checkpoint in `model_dir` (config.json and
 * tensor shapes), for `system` (NULL: the spec's), with dtypes overridden
 * (-1: as the spec says), cache max_seq (0: the spec's).  Prints the
 * diagnostics and returns -1 on failure. */
/* Where e2e_compile finds systems (NULL: graphs/systems). */
extern const char *e2e_systems_dir;

int e2e_compile(const char *spec, const char *model_dir, const char *system, int weights_dtype, int act_dtype,
                int64_t max_seq, mgc_plan *out);

/* A compiled plan and the engine that runs it (the engine points into the plan). */
typedef struct e2e_model {
    mgc_plan plan;
    rt_engine *en;
} e2e_model;

/* Compiles the arch's spec with `model_dir` = its fixture directory and loads
 * it.  f32 != 0: weights and activations f32; else the spec's precision.
 * Fails the running test on error. */
void e2e_model_open(e2e_model *m, const e2e_arch *a, const char *system, int f32);
void e2e_model_close(e2e_model *m);

/* Loads `plan` on the checkpoint in `dir` with `opts` (cores, schedule),
 * failing the running test with the error otherwise. */
rt_engine *e2e_engine_load(const mgc_plan *plan, const char *dir, const rt_engine_opts *opts);

/* A fixed workload for comparing two engines of one plan bit for bit (the
 * schedule tests): a 40-token prefill of user 0, a 13-token prefill of user
 * 1 continued by a chunk of 6 against the cache, 2 tokens of user 2, 4
 * decode steps of the 3 users (greedy), a last-row prefill of a 5-token
 * chunk of user 2 and a 7-token prefill of user 3 recording the residual
 * stream.  Writes every logit (and residual value) in that order into out,
 * which holds e2e_sequence_values(en) floats, and returns that count.
 * Needs a plan of at least 4 users. */
size_t e2e_sequence_values(const rt_engine *en);
size_t e2e_run_sequence(rt_engine *en, float *out);

/* Reads an integer tensor of a safetensors file into a malloc'd int32 array
 * (*n elements), or a float tensor into a malloc'd f32 array (*rows x *cols,
 * a vector being one row).  Fail the running test if absent. */
int32_t *e2e_read_ids(const char *path, const char *name, int64_t *n);
float *e2e_read_f32(const char *path, const char *name, int64_t *rows, int64_t *cols);

/* max |x[i]| */
double e2e_max_abs(const float *x, size_t n);
/* argmax (ties to the lowest index) */
int e2e_argmax(const float *x, int64_t n);

/* Temporary directories under /tmp (mkdtemp) and recursive removal. */
char *e2e_tmpdir(void);
void e2e_rmtree(char *dir); /* also frees dir */
char *e2e_path(const char *dir, const char *name); /* malloc'd "dir/name" */
/* A copy of the checkpoint in `fixture_dir` (its config.json and
 * model.safetensors) in a new temporary directory, without tensor `skip`
 * (NULL: none; it must exist) and with `repl` (NULL: none) replacing the
 * tensor of its name, or added if there is none.  The caller removes the
 * directory with e2e_rmtree. */
char *e2e_fixture_variant(const char *fixture_dir, const char *skip, const rt_st_entry *repl);

/* Copies a file byte for byte; keeps only the first `limit` bytes if limit >= 0. */
void e2e_copy_file(const char *from, const char *to, long limit);
/* Whole file into a malloc'd NUL-terminated buffer (*len bytes if len). */
char *e2e_slurp(const char *path, size_t *len);

/* Redirects this process's stderr into a temporary file until
 * e2e_stderr_end, which returns what was written (malloc'd). */
void e2e_stderr_begin(void);
char *e2e_stderr_end(void);

/* The mgc binary: $MGC or build/mgc. */
const char *e2e_mgc_path(void);
/* Runs argv (argv[0] = program path; NULL-terminated) with stdout and stderr
 * captured (malloc'd, may be NULL if not wanted) and returns its exit status,
 * or 128 + signal if it was killed, -1 if it could not be started. */
int e2e_spawn(char *const argv[], char **out, char **err);

#define e2e_assert_contains(hay, needle)                                                  \
    do {                                                                                  \
        const char *e2e_h_ = (hay);                                                       \
        if (!e2e_h_ || !strstr(e2e_h_, (needle)))                                         \
            fail_msg("expected \"%s\" in: %s", (needle), e2e_h_ ? e2e_h_ : "(null)");     \
    } while (0)

#endif
