/* Tests of plan serialization (compiler/plan_write.c, plan_read.c) and
 * validation (compiler/plan.c): exact round trips, stable bytes, one test per
 * validation rule (each names its cause and line), and atomic writes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"
#include "plan_sample.h"

#define LABEL "t.plan.yaml"

/* ---- helpers ---------------------------------------------------------- */

static char *sample_text(void)
{
    mgc_plan p;
    mgc_error e = { { 0 } };
    mgc_test_sample_plan(&p);
    char *s = mgc_plan_to_string(&p, &e);
    if (!s)
        fail_msg("%s", e.msg);
    mgc_plan_free(&p);
    return s;
}

/* `text` with the nth (1-based) occurrence of `from` replaced by `to`. */
static char *replace(const char *text, const char *from, const char *to, int nth)
{
    const char *at = text;
    for (int i = 0; i < nth; i++) {
        at = strstr(i ? at + 1 : at, from);
        if (!at)
            fail_msg("'%s' occurs fewer than %d times", from, nth);
    }
    size_t a = (size_t)(at - text), lf = strlen(from), lt = strlen(to), n = strlen(text);
    char *s = malloc(n - lf + lt + 1);
    assert_non_null(s);
    memcpy(s, text, a);
    memcpy(s + a, to, lt);
    memcpy(s + a + lt, at + lf, n - a - lf + 1);
    return s;
}

/* 1-based line of the nth occurrence of `needle`. */
static int line_at(const char *text, const char *needle, int nth)
{
    const char *at = text;
    for (int i = 0; i < nth; i++) {
        at = strstr(i ? at + 1 : at, needle);
        if (!at)
            fail_msg("'%s' not found", needle);
    }
    int line = 1;
    for (const char *c = text; c < at; c++)
        line += *c == '\n';
    return line;
}

/* Replaces the nth `from` by `to` in the sample's YAML, reads it, and expects
 * "LABEL:LINE: ...cause..." where LINE is that of the nth `anchor` in the
 * edited text (or of the replacement when anchor is NULL). */
static void expect_error(const char *from, const char *to, int nth, const char *cause,
                         const char *anchor, int anchor_nth)
{
    char *orig = sample_text();
    char *text = replace(orig, from, to, nth);
    int line = anchor ? line_at(text, anchor, anchor_nth) : line_at(orig, from, nth);
    mgc_plan p;
    mgc_error e = { { 0 } };
    int rc = mgc_plan_parse(LABEL, text, strlen(text), &p, &e);
    if (rc == 0)
        fail_msg("'%s' -> '%s' was accepted", from, to);
    char want[64];
    snprintf(want, sizeof want, LABEL ":%d: ", line);
    if (strncmp(e.msg, want, strlen(want)) != 0 || !strstr(e.msg, cause))
        fail_msg("'%s' -> '%s': got \"%s\", want \"%s...%s...\"", from, to, e.msg, want, cause);
    /* a failed read leaves an empty plan */
    assert_null(p.weights);
    assert_null(p.model);
    assert_int_equal(p.prefill.nops, 0);
    free(text);
    free(orig);
}

static void assert_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_entry_equal(const mgc_plan_entry *a, const mgc_plan_entry *b)
{
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->input, b->input);
    assert_int_equal(a->arena_values, b->arena_values);
    assert_int_equal(a->nbufs, b->nbufs);
    assert_int_equal(a->nops, b->nops);
    for (size_t i = 0; i < a->nbufs; i++) {
        const mgc_plan_buffer *x = &a->bufs[i], *y = &b->bufs[i];
        assert_int_equal(x->id, y->id);
        assert_str_eq(x->name, y->name);
        assert_int_equal(x->cols, y->cols);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->offset, y->offset);
        assert_int_equal(x->size, y->size);
        assert_int_equal(x->first, y->first);
        assert_int_equal(x->last, y->last);
    }
    for (size_t i = 0; i < a->nops; i++) {
        const mgc_plan_op *x = &a->ops[i], *y = &b->ops[i];
        assert_int_equal(x->kernel, y->kernel);
        for (int k = 0; k < 3; k++)
            assert_int_equal(x->in[k], y->in[k]);
        assert_int_equal(x->out, y->out);
        assert_int_equal(x->weight, y->weight);
        assert_int_equal(x->layer, y->layer);
        assert_int_equal(x->rope, y->rope);
        assert_int_equal(x->n_heads, y->n_heads);
        assert_int_equal(x->n_kv_heads, y->n_kv_heads);
        assert_int_equal(x->head_dim, y->head_dim);
        assert_int_equal(x->group, y->group);
        assert_true(x->eps == y->eps);
        assert_true(x->scale == y->scale);
        assert_int_equal(x->vocab, y->vocab);
        assert_str_eq(x->where, y->where);
    }
}

static void assert_plan_equal(const mgc_plan *a, const mgc_plan *b)
{
    assert_str_eq(a->model, b->model);
    assert_str_eq(a->spec, b->spec);
    assert_str_eq(a->system, b->system);
    assert_int_equal(a->mesh[0], b->mesh[0]);
    assert_int_equal(a->mesh[1], b->mesh[1]);
    assert_int_equal(a->ndevices, b->ndevices);
    assert_str_eq(a->topology, b->topology);
    assert_int_equal(a->dram_bytes, b->dram_bytes);
    assert_int_equal(a->tile, b->tile);
    assert_int_equal(a->hidden, b->hidden);
    assert_int_equal(a->vocab, b->vocab);
    assert_int_equal(a->padded_vocab, b->padded_vocab);
    assert_int_equal(a->n_layers, b->n_layers);
    assert_int_equal(a->weights_dtype, b->weights_dtype);
    assert_int_equal(a->act_dtype, b->act_dtype);
    assert_int_equal(a->kv_dtype, b->kv_dtype);
    assert_int_equal(a->cache_users, b->cache_users);
    assert_int_equal(a->cache_kv_heads, b->cache_kv_heads);
    assert_int_equal(a->cache_len, b->cache_len);
    assert_int_equal(a->cache_head_dim, b->cache_head_dim);
    assert_int_equal(a->cache_layers, b->cache_layers);
    assert_int_equal(a->nropes, b->nropes);
    for (size_t i = 0; i < a->nropes; i++) {
        const mgc_plan_rope *x = &a->ropes[i], *y = &b->ropes[i];
        assert_int_equal(x->kind, y->kind);
        assert_true(x->theta == y->theta);
        assert_int_equal(x->dim, y->dim);
        assert_true(x->factor == y->factor);
        assert_true(x->low_freq_factor == y->low_freq_factor);
        assert_true(x->high_freq_factor == y->high_freq_factor);
        assert_int_equal(x->original_max, y->original_max);
        assert_int_equal(x->max_pos, y->max_pos);
        assert_true(!x->short_factor == !y->short_factor);
        assert_true(!x->long_factor == !y->long_factor);
        for (int k = 0; x->short_factor && k < x->dim / 2; k++) {
            assert_memory_equal(&x->short_factor[k], &y->short_factor[k], sizeof(double));
            assert_memory_equal(&x->long_factor[k], &y->long_factor[k], sizeof(double));
        }
    }
    assert_int_equal(a->nweights, b->nweights);
    for (size_t i = 0; i < a->nweights; i++) {
        const mgc_plan_weight *x = &a->weights[i], *y = &b->weights[i];
        assert_str_eq(x->id, y->id);
        assert_str_eq(x->hf_name, y->hf_name);
        assert_int_equal(x->rank, y->rank);
        for (int d = 0; d < x->rank; d++) {
            assert_int_equal(x->hf_shape[d], y->hf_shape[d]);
            assert_int_equal(x->shape[d], y->shape[d]);
        }
        assert_int_equal(x->row0, y->row0);
        assert_int_equal(x->role, y->role);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->shard, y->shard);
        if (x->shard == MGC_SHARD_SPLIT) {
            assert_int_equal(x->dim, y->dim);
            assert_int_equal(x->padded, y->padded);
        }
        assert_int_equal(x->bytes_per_device, y->bytes_per_device);
        for (int dev = 0; dev < a->ndevices; dev++)
            for (int d = 0; d < x->rank; d++) {
                assert_int_equal(x->slices[dev].range[d].lo, y->slices[dev].range[d].lo);
                assert_int_equal(x->slices[dev].range[d].hi, y->slices[dev].range[d].hi);
                assert_int_equal(x->slices[dev].local_shape[d], y->slices[dev].local_shape[d]);
            }
    }
    assert_entry_equal(&a->prefill, &b->prefill);
    assert_entry_equal(&a->decode, &b->decode);
    assert_int_equal(a->memory.weights, b->memory.weights);
    assert_int_equal(a->memory.kv_cache, b->memory.kv_cache);
    assert_int_equal(a->memory.activations, b->memory.activations);
    assert_int_equal(a->memory.total, b->memory.total);
    assert_int_equal(a->memory.dram, b->memory.dram);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = calloc(1, 1 << 20);
    assert_non_null(s);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

static void spit(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

/* A fresh directory for file tests. */
static char *temp_dir(void)
{
    char *d = strdup("/tmp/mgc_test_plan_io.XXXXXX");
    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    return d;
}

static int count_entries(const char *dir)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)))
        n += de->d_name[0] != '.';
    closedir(dp);
    return n;
}

static void remove_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(dp);
    rmdir(dir);
}

/* ---- names and sizes -------------------------------------------------- */

static void test_dtype_and_kernel_names(void **state)
{
    (void)state;
    const char *dn[] = { "f32", "bf16", "bf8_b", "bf4_b", "i32" };
    for (int i = 0; i < 5; i++) {
        mgc_dtype t;
        assert_string_equal(mgc_dtype_name((mgc_dtype)i), dn[i]);
        assert_int_equal(mgc_dtype_parse(dn[i], &t), 0);
        assert_int_equal(t, i);
    }
    mgc_dtype t;
    assert_int_equal(mgc_dtype_parse("bf8", &t), -1);
    assert_int_equal(mgc_dtype_parse("F32", &t), -1);
    assert_int_equal(mgc_dtype_parse(NULL, &t), -1);
    assert_int_equal(mgc_dtype_bytes(MGC_F32, 10), 40);
    assert_int_equal(mgc_dtype_bytes(MGC_BF16, 10), 20);
    assert_int_equal(mgc_dtype_bytes(MGC_I32, 3), 12);
    assert_int_equal(mgc_dtype_bytes(MGC_BF8_B, 1024), 1024 + 64);
    assert_int_equal(mgc_dtype_bytes(MGC_BF8_B, 17), 17 + 2);
    assert_int_equal(mgc_dtype_bytes(MGC_BF4_B, 1024), 512 + 64);
    assert_int_equal(mgc_dtype_bytes(MGC_BF4_B, 17), 9 + 2);
    assert_int_equal(mgc_dtype_bytes(MGC_BF4_B, 0), 0);

    for (int k = 0; k < MGC_K_COUNT; k++) {
        mgc_kernel out;
        const char *n = mgc_kernel_name((mgc_kernel)k);
        assert_int_equal(mgc_kernel_parse(n, &out), 0);
        assert_int_equal(out, k);
    }
    assert_string_equal(mgc_kernel_name(MGC_K_SDPA_DECODE), "sdpa_decode");
    assert_string_equal(mgc_kernel_name(MGC_K_GELU_TANH), "gelu_tanh");
    mgc_kernel k;
    assert_int_equal(mgc_kernel_parse("Linear", &k), -1);
    assert_int_equal(mgc_kernel_parse("", &k), -1);
}

/* ---- round trips ------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    mgc_plan p, q;
    mgc_error e = { { 0 } };
    mgc_test_sample_plan(&p);
    assert_int_equal(mgc_plan_validate(&p, &e), 0);
    char *a = mgc_plan_to_string(&p, &e);
    assert_non_null(a);
    char *b = mgc_plan_to_string(&p, &e);
    assert_non_null(b);
    assert_string_equal(a, b); /* same plan, same bytes */
    if (mgc_plan_parse(LABEL, a, strlen(a), &q, &e))
        fail_msg("%s", e.msg);
    assert_plan_equal(&p, &q);
    char *c = mgc_plan_to_string(&q, &e);
    assert_non_null(c);
    assert_string_equal(a, c); /* read -> write gives the same bytes */
    /* what the text promises */
    assert_non_null(strstr(a, "mgc_plan: 2\nnote: \"generated by `mgc compile`"));
    assert_non_null(strstr(a, "SPMD"));
    assert_non_null(strstr(a, "  mesh: [1, 2]\n"));
    assert_non_null(strstr(a, "  shard: {split: 0, padded: 128}\n"));
    assert_non_null(strstr(a, "  - {device: 1, read: [[64, 100], [0, 64]], local: [64, 64]}\n"));
    assert_non_null(strstr(a, "  - {op: linear, in: [2], out: 3, weight: 2, where: \"graphs/common/llama.graph:15:7\"}\n"));
    assert_non_null(strstr(a, "  theta: 500000.0\n"));
    assert_non_null(strstr(a, "fits: true\n"));
    free(a);
    free(b);
    free(c);
    mgc_plan_free(&p);
    mgc_plan_free(&q);
}

static void test_file_round_trip(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/x.plan.yaml", dir);
    mgc_plan p, q, r;
    mgc_error e = { { 0 } };
    mgc_test_sample_plan(&p);
    spit(path, "old contents\n");
    if (mgc_plan_write(&p, path, &e))
        fail_msg("%s", e.msg);
    assert_int_equal(count_entries(dir), 1); /* no temporary left */
    if (mgc_plan_read(path, &q, &e))
        fail_msg("%s", e.msg);
    assert_plan_equal(&p, &q);
    char *first = slurp(path);
    assert_non_null(first);
    /* read -> write over the same file: identical bytes */
    if (mgc_plan_write(&q, path, &e))
        fail_msg("%s", e.msg);
    char *second = slurp(path);
    assert_string_equal(first, second);
    if (mgc_plan_read(path, &r, &e))
        fail_msg("%s", e.msg);
    assert_plan_equal(&p, &r);
    free(first);
    free(second);
    mgc_plan_free(&p);
    mgc_plan_free(&q);
    mgc_plan_free(&r);
    remove_dir(dir);
    free(dir);
}

/* Edge values survive: floats that need 17 digits, odd strings, empty lists. */
static void test_round_trip_edges(void **state)
{
    (void)state;
    mgc_plan p, q;
    mgc_error e = { { 0 } };
    mgc_test_sample_plan(&p);
    p.ropes[0].short_factor[0] = 0.1 + 0.2;
    p.ropes[0].long_factor[1] = 5e-324;
    p.ropes[0].long_factor[2] = 1.7976931348623157e308;
    p.ropes[1].theta = 1e16;
    p.prefill.ops[1].eps = 1e-6;
    p.decode.ops[13].scale = -0.0 - 2.5e-7;
    free(p.model);
    p.model = strdup("org/name: with \"quotes\", tabs\t, newline\n and \\ backslash, ünïcode");
    free(p.prefill.ops[0].where);
    p.prefill.ops[0].where = strdup("");
    char *a = mgc_plan_to_string(&p, &e);
    assert_non_null(a);
    if (mgc_plan_parse(LABEL, a, strlen(a), &q, &e))
        fail_msg("%s\n%s", e.msg, a);
    assert_plan_equal(&p, &q);
    char *b = mgc_plan_to_string(&q, &e);
    assert_string_equal(a, b);
    free(a);
    free(b);
    mgc_plan_free(&p);
    mgc_plan_free(&q);
}

/* ---- one test per rule ------------------------------------------------ */

static void test_reject_syntax(void **state)
{
    (void)state;
    expect_error("  tile: 32\n", "  tile: 32\n  tiles: 3\n", 1, "unknown key 'tiles'", "tiles", 1);
    expect_error("  tile: 32\n", "", 1, "missing key 'tile'", "name: \"t2\"", 1);
    expect_error("  tile: 32\n", "  tile: 32\n  tile: 32\n", 1, "duplicate key 'tile'", "tile", 2);
    expect_error("hidden: 64", "hidden: [64]", 1, "expected a scalar", NULL, 0);
    expect_error("hidden: 64", "hidden: sixty", 1, "expected an integer", NULL, 0);
    expect_error("hidden: 64", "hidden: \"64\"", 1, "unquoted", NULL, 0);
    expect_error("hidden: 64", "hidden: 64.0", 1, "expected an integer", NULL, 0);
    expect_error("theta: 500000.0", "theta: fast", 1, "expected a number", NULL, 0);
    expect_error("model: \"test-org/Tiny-Llama\"", "model: [a]", 1, "model: expected a scalar", NULL, 0);
    expect_error("  mesh: [1, 2]", "  mesh: {r: 1}", 1, "expected a list", NULL, 0);
    expect_error("  mesh: [1, 2]", "  mesh: [1, 2, 1]", 1, "expected 2 items, found 3", NULL, 0);
    expect_error("{id: 0, name: \"tokens\", cols: 1, dtype: i32, offset: 0, size: 32, first: 0, last: 0}",
                 "[0, tokens]", 1, "buffer: expected a mapping", NULL, 0);
    expect_error("mgc_plan: 2", "mgc_plan: 3", 1, "version 3 is not one this mgc reads (1..2)", NULL, 0);
    expect_error("mgc_plan: 2", "mgc_plan: 0", 1, "version 0 is not one", NULL, 0);
    expect_error("  weights: bf8_b", "  weights: bf9", 1, "unknown dtype 'bf9'", NULL, 0);
    expect_error("{op: add", "{op: addd", 1, "unknown kernel 'addd'", NULL, 0);
    expect_error("{op: linear, in: [2], out: 3,", "{op: linear, in: [2], out: 3, eps: 1e-5, bogus: 1,", 1,
                 "unknown key 'bogus'", NULL, 0);
    expect_error("  role: linear", "  role: conv", 1, "unknown value 'conv'", NULL, 0);
    expect_error("  shard: replicated", "  shard: everywhere", 1, "unknown value 'everywhere'", NULL, 0);
    expect_error("kind: llama3", "kind: yarn", 1, "unknown value 'yarn'", NULL, 0);
    expect_error("kind: llama3\n", "kind: default\n", 1, "'factor' does not apply to kind default",
                 "  factor: 32.0", 1);
    expect_error("  factor: 32.0\n", "", 1, "missing key 'factor' for kind llama3", "kind: llama3", 1);
    /* YAML-level problems */
    expect_error("  tile: 32\n", "  tile: [32\n", 1, "invalid YAML", "model_facts:", 1);
    expect_error("  hidden: 64\n", "  hidden: &h 64\n  vocab: *h\n", 1, "used twice", "vocab", 1);
    expect_error("  hidden: 64\n", "  hidden: !!int 64\n", 1, "tags are not allowed", NULL, 0);
}

static void test_reject_numbers(void **state)
{
    (void)state;
    expect_error("  rows: 32", "  rows: -5", 1, "prefill.rows", NULL, 0);
    expect_error("  devices: 2", "  devices: 65", 1, "outside 1..64", NULL, 0);
    expect_error("  dram_bytes: 1073741824", "  dram_bytes: 99999999999999999999999", 1, "outside", NULL, 0);
    expect_error("  dram_bytes: 1073741824", "  dram_bytes: -1", 1, "outside", NULL, 0);
    expect_error("offset: 4128", "offset: 2199023255553", 1, "buffer.offset: 2199023255553 is outside", NULL, 0);
    expect_error("cols: 32,", "cols: 0,", 1, "buffer.cols", NULL, 0);
    expect_error("  hf_shape: [64]", "  hf_shape: [-64]", 1, "weight.hf_shape", NULL, 0);
    expect_error("eps: 1e-05", "eps: nan", 1, "eps and scale must be finite", NULL, 0);
    expect_error("  theta: 10000.0", "  theta: -1.0", 1, "theta must be positive", "kind: longrope", 1);
    expect_error("  users: 32", "  users: 1099511627776", 1, "absurd", "  users:", 1);
}

static void test_reject_structure(void **state)
{
    (void)state;
    /* index out of range */
    expect_error("out: 9, weight: 6", "out: 9, weight: 9", 1, "weight 9 is out of range (7 weights)", NULL, 0);
    expect_error("in: [6, 7, 5]", "in: [6, 7, 55]", 1, "input 55 is not a buffer", NULL, 0);
    expect_error("rope: 1, n_heads: 4", "rope: 2, n_heads: 4", 1, "rope 2 is out of range", NULL, 0);
    expect_error("{op: fill_cache, in: [7, 5], layer: 0", "{op: fill_cache, in: [7, 5], layer: 1", 1,
                 "cache layer 1 is out of range", NULL, 0);
    expect_error("  input: 0", "  input: 13", 1, "input 13 is not a buffer", "  rows: 32", 1);
    /* a slice outside hf_shape */
    expect_error("read: [[64, 100], [0, 64]]", "read: [[64, 101], [0, 64]]", 1, "outside hf_shape", NULL, 0);
    expect_error("read: [[112, 128], [0, 64]]", "read: [[112, 129], [0, 64]]", 1, "outside hf_shape", NULL, 0);
    /* ... or outside its part of a fused tensor, or not covering it */
    expect_error("read: [[80, 96], [0, 64]]", "read: [[80, 97], [0, 64]]", 1, "outside the weight's [64, 96)", NULL, 0);
    expect_error("read: [[32, 64], [0, 64]]", "read: [[33, 64], [0, 64]]", 1, "contiguous", NULL, 0);
    expect_error("read: [[0, 64], [32, 64]]", "read: [[0, 63], [32, 64]]", 1, "must read all", NULL, 0);
    expect_error("local: [64, 32]}", "local: [64, 33]}", 1, "padded/2 pieces", NULL, 0);
    expect_error("local: [64, 32]}", "local: [64, 31]}", 1, "smaller than the range read", NULL, 0);
    expect_error("{device: 1, read: [[0, 64]]", "{device: 0, read: [[0, 64]]", 1, "not the slice's position", NULL, 0);
    /* devices != mesh product */
    expect_error("  mesh: [1, 2]", "  mesh: [1, 3]", 1, "devices 2 is not the mesh product 1 x 3", "  devices: 2", 1);
    /* number of slices != devices */
    expect_error("  - {device: 1, read: [[64, 100], [0, 64]], local: [64, 64]}\n", "", 1,
                 "1 slices for 2 devices", "  - {device: 0, read: [[0, 64], [0, 64]], local: [64, 64]}", 1);
    /* shapes */
    expect_error("  shape: [32, 64]\n  row0: 96", "  shape: [32]\n  row0: 96", 1, "expected 2 items, found 1", NULL, 0);
    expect_error("  row0: 96", "  row0: 97", 1, "rows [97, 129) are outside hf_shape 128", "#v\"", 1);
    expect_error("  bytes_per_device: 1152", "  bytes_per_device: 2048", 1, "bytes_per_device 2048 is not 1152",
                 "o_proj.weight\"", 1);
    expect_error("  shard: {split: 0, padded: 128}", "  shard: {split: 0, padded: 127}", 1,
                 "multiple of 2 pieces", "id: \"lm_head.weight\"", 1);
    expect_error("  role: norm", "  role: linear", 1, "needs rank 2", "input_layernorm.weight\"", 1);
    expect_error("id: \"lm_head.weight\"", "id: \"model.embed_tokens.weight\"", 1, "id also used by weight 0", NULL, 0);
    /* buffers: used before first / after last, overlap, arena, sizes, ids */
    expect_error("first: 2, last: 5", "first: 3, last: 5", 1, "outside its lifetime [3, 5]",
                 "{op: linear, in: [2], out: 3", 1);
    expect_error("first: 2, last: 5", "first: 2, last: 4", 1, "outside its lifetime [2, 4]",
                 "{op: rotary, in: [3]", 1);
    expect_error("offset: 4128", "offset: 4000", 1, "overlaps buffer 2 'l0.attn_norm'", NULL, 0);
    expect_error("offset: 2080, size: 2048, first: 12", "offset: 12000, size: 2048, first: 12", 1,
                 "overlaps buffer 11 'l0.h'", NULL, 0);
    expect_error("  arena_values: 14880", "  arena_values: 14000", 1, "past arena_values 14000", "offset: 12832", 1);
    expect_error("size: 1024, first: 2", "size: 1000, first: 2", 1, "is not rows x cols", NULL, 0);
    expect_error("{id: 4, name", "{id: 5, name", 1, "id 5 is not its position", NULL, 0);
    expect_error("last: 13}", "last: 14}", 1, "not within ops 0..13", NULL, 0);
    expect_error("{op: all_reduce, in: [9], out: 10}", "{op: all_reduce, in: [3], out: 10}", 1,
                 "outside its lifetime", NULL, 0);
    expect_error("{op: linear, in: [8], out: 9", "{op: linear, in: [9], out: 9", 1, "reads buffer 9 'l0.attn.o_partial' before any op writes it", NULL, 0);
    expect_error("{id: 0, name: \"tokens\", cols: 1, dtype: i32", "{id: 0, name: \"tokens\", cols: 1, dtype: f32", 1,
                 "must be i32", "  rows: 32", 1);
    /* ropes */
    expect_error("[1.0, 1.0000000000000002, 1.1, 3.0517578125e-05]", "[1.0, 1.0000000000000002, 1.1]", 1,
                 "short_factor: expected 4 items, found 3", NULL, 0);
    expect_error("  dim: 8\n  factor: 0.0", "  dim: 10\n  factor: 0.0", 1, "expected 5 items, found 4",
                 "short_factor", 1);
    expect_error("  dim: 8\n  factor: 32.0", "  dim: 7\n  factor: 32.0", 1, "rope.dim: 7 is odd", NULL, 0);
    /* ops missing what their kernel needs */
    expect_error("{op: linear, in: [8], out: 9, weight: 6,", "{op: linear, in: [8], out: 9,", 1,
                 "(linear): missing weight", NULL, 0);
    expect_error("{op: rms_norm, in: [1], out: 2, weight: 1, eps: 1e-05,", "{op: rms_norm, in: [1], out: 2, weight: 1,", 1,
                 "missing eps", NULL, 0);
    expect_error("{op: sdpa, in: [6, 7, 5]", "{op: sdpa, in: [6, 7]", 1, "missing input 2", NULL, 0);
    expect_error("{op: embedding, in: [0], out: 1, weight: 0", "{op: embedding, in: [0], out: 1, weight: 2", 1,
                 "wrong role", NULL, 0);
    expect_error("{op: rotary, in: [3], out: 6, rope: 0,", "{op: rotary, in: [3], out: 6,", 1, "missing rope", NULL, 0);
    expect_error("{op: output, in: [12], vocab: 100", "{op: output, in: [12]", 1, "missing vocab", NULL, 0);
    expect_error("{op: output, in: [12], vocab: 100", "{op: output, in: [12], vocab: 101", 1, "outside 0..100", NULL, 0);
    expect_error("{op: fill_cache, in: [7, 5], layer: 0", "{op: update_cache, in: [7, 5], layer: 0", 1,
                 "does not belong in prefill", NULL, 0);
    expect_error("{op: fill_cache, in: [7, 5], layer: 0", "{op: fill_cache, in: [7, 5], out: 11, layer: 0", 1,
                 "has no output buffer", NULL, 0);
    /* memory summary */
    expect_error("  total: 191680", "  total: 191681", 1, "total 191681 is not weights + kv_cache + activations",
                 NULL, 0);
    expect_error("  dram: 1073741824\n  fits: true", "  dram: 1073741824\n  fits: false", 1,
                 "memory.fits: says false", "  fits:", 1);
    expect_error("  dram: 1073741824\n", "  dram: 1073741823\n", 1, "is not the system's dram_bytes", "  total:", 1);
    /* model facts */
    expect_error("  padded_vocab: 128", "  padded_vocab: 99", 1, "padded_vocab 99 is below vocab 100", "  hidden:", 1);
}

static void test_reject_documents(void **state)
{
    (void)state;
    mgc_plan p;
    mgc_error e = { { 0 } };
    assert_int_equal(mgc_plan_parse(LABEL, "", 0, &p, &e), -1);
    assert_string_equal(e.msg, LABEL ":1: empty plan");
    assert_int_equal(mgc_plan_parse(LABEL, "- 1\n", 4, &p, &e), -1);
    assert_string_equal(e.msg, LABEL ":1: plan: expected a mapping");
    assert_int_equal(mgc_plan_parse(LABEL, "a: b\0c", 6, &p, &e), -1);
    assert_true(strncmp(e.msg, LABEL ":1: invalid YAML", strlen(LABEL ":1: invalid YAML")) == 0);

    char *text = sample_text();
    size_t n = strlen(text);
    char *two = malloc(2 * n + 8);
    sprintf(two, "%s---\n%s", text, text);
    assert_int_equal(mgc_plan_parse(LABEL, two, strlen(two), &p, &e), -1);
    assert_non_null(strstr(e.msg, "one YAML document"));
    /* every truncation fails cleanly (checked more broadly by test_plan_mutation) */
    for (size_t cut = 0; cut < n; cut += 97) {
        int rc = mgc_plan_parse(LABEL, text, cut, &p, &e);
        assert_int_equal(rc, -1);
        assert_true(strncmp(e.msg, LABEL ":", strlen(LABEL ":")) == 0);
    }
    free(two);
    free(text);
}

/* Validation on its own (as the compiler runs it) says which record. */
static void test_validate_where(void **state)
{
    (void)state;
    mgc_plan p;
    mgc_error e = { { 0 } };
    mgc_plan_where w;
    mgc_test_sample_plan(&p);
    assert_int_equal(mgc_plan_validate_where(&p, &w, &e), 0);
    p.decode.bufs[5].offset = 5152 + 100; /* overlaps k (live 3..6) */
    assert_int_equal(mgc_plan_validate_where(&p, &w, &e), -1);
    assert_int_equal(w.part, MGC_PART_BUFFER);
    assert_int_equal(w.entry, 1);
    assert_int_equal(w.index, 5);
    assert_non_null(strstr(e.msg, "decode buffer 5 'l0.attn.v'"));
    p.decode.bufs[5].offset = 5664;
    p.weights[3].slices[1].range[0].hi = 200;
    assert_int_equal(mgc_plan_validate(&p, &e), -1);
    assert_int_equal(mgc_plan_validate_where(&p, &w, &e), -1);
    assert_int_equal(w.part, MGC_PART_SLICE);
    assert_int_equal(w.index, 3);
    assert_int_equal(w.sub, 1);
    mgc_plan_free(&p);
}

/* ---- atomic writes ---------------------------------------------------- */

static void test_write_missing_dir(void **state)
{
    (void)state;
    mgc_plan p;
    mgc_error e = { { 0 } };
    mgc_test_sample_plan(&p);
    char *dir = temp_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/no/such/dir/x.plan.yaml", dir);
    assert_int_equal(mgc_plan_write(&p, path, &e), -1);
    assert_non_null(strstr(e.msg, path));
    assert_int_equal(count_entries(dir), 0);
    /* the rename fails (the path is a directory): the temporary is removed */
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(mgc_plan_write(&p, path, &e), -1);
    assert_non_null(strstr(e.msg, "cannot rename"));
    assert_int_equal(count_entries(dir), 1);
    rmdir(path);
    mgc_plan_free(&p);
    remove_dir(dir);
    free(dir);
}

static void test_write_invalid_keeps_old_file(void **state)
{
    (void)state;
    mgc_plan p;
    mgc_error e = { { 0 } };
    mgc_test_sample_plan(&p);
    char *dir = temp_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/x.plan.yaml", dir);
    spit(path, "the good old plan\n");
    p.ndevices = 3; /* not the mesh product */
    assert_int_equal(mgc_plan_write(&p, path, &e), -1);
    assert_non_null(strstr(e.msg, "mesh product"));
    char *s = slurp(path);
    assert_string_equal(s, "the good old plan\n");
    assert_int_equal(count_entries(dir), 1);
    free(s);
    /* reading a missing file names it */
    mgc_plan q;
    snprintf(path, sizeof path, "%s/missing.plan.yaml", dir);
    assert_int_equal(mgc_plan_read(path, &q, &e), -1);
    assert_non_null(strstr(e.msg, path));
    mgc_plan_free(&p);
    remove_dir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_and_kernel_names),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_round_trip_edges),
        cmocka_unit_test(test_reject_syntax),
        cmocka_unit_test(test_reject_numbers),
        cmocka_unit_test(test_reject_structure),
        cmocka_unit_test(test_reject_documents),
        cmocka_unit_test(test_validate_where),
        cmocka_unit_test(test_write_missing_dir),
        cmocka_unit_test(test_write_invalid_keeps_old_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
