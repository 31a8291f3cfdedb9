/* Tests for runtime/safetensors.c and runtime/checkpoint.c: the fixture checkpoints,
 * dtype conversions, the writer, corrupt files, sharded checkpoints and atomic writes.
 * Run from the repository root (fixtures at tests/fixtures/). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "safetensors.h"

#define FIX "tests/fixtures"

#define assert_contains(hay, needle)                                                       \
    do {                                                                                   \
        if (!strstr((hay), (needle)))                                                      \
            fail_msg("expected \"%s\" in message: %s", (needle), (hay));                   \
    } while (0)

/* ---- temp directories -------------------------------------------------------------- */

static char *make_tmpdir(void)
{
    char *d = strdup("/tmp/mgc_test_st_XXXXXX");
    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    return d;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void remove_tree(char *d)
{
    nftw(d, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
}

static char *path_in(const char *dir, const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* A raw safetensors file: 8-byte length (len_field, or hlen if len_field == UINT64_MAX),
 * hlen header bytes, then data_len bytes of data. */
static char *write_raw_st(const char *dir, const char *name, const char *hdr, size_t hlen,
                          uint64_t len_field, size_t data_len)
{
    char *p = path_in(dir, name);
    size_t n = 8 + hlen + data_len;
    unsigned char *b = calloc(1, n);
    assert_non_null(b);
    uint64_t L = len_field == UINT64_MAX ? hlen : len_field;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(L >> (8 * i));
    memcpy(b + 8, hdr, hlen);
    for (size_t i = 0; i < data_len; i++)
        b[8 + hlen + i] = (unsigned char)i;
    write_bytes(p, b, n);
    free(b);
    return p;
}

/* Number of directory entries other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* ---- the fixture checkpoints ------------------------------------------------------- */

typedef struct {
    const char *name; /* "%d" = layer index for per-layer tensors */
    int64_t d0, d1;   /* d1 == 0: 1-D */
} expect_t;

typedef struct {
    const char *dir;
    const expect_t *t;
    size_t n;
} arch_t;

#define L "model.layers.%d."
static const expect_t mistral_t[] = {
    {"model.embed_tokens.weight", 512, 256}, {L "input_layernorm.weight", 256, 0},
    {L "post_attention_layernorm.weight", 256, 0}, {L "self_attn.q_proj.weight", 256, 256},
    {L "self_attn.k_proj.weight", 128, 256}, {L "self_attn.v_proj.weight", 128, 256},
    {L "self_attn.o_proj.weight", 256, 256}, {L "mlp.gate_proj.weight", 512, 256},
    {L "mlp.up_proj.weight", 512, 256}, {L "mlp.down_proj.weight", 256, 512},
    {"model.norm.weight", 256, 0}, {"lm_head.weight", 512, 256},
};
static const expect_t phi3_t[] = {
    {"model.embed_tokens.weight", 512, 256}, {L "input_layernorm.weight", 256, 0},
    {L "post_attention_layernorm.weight", 256, 0}, {L "self_attn.qkv_proj.weight", 768, 256},
    {L "self_attn.o_proj.weight", 256, 256}, {L "mlp.gate_up_proj.weight", 768, 256},
    {L "mlp.down_proj.weight", 256, 384}, {"model.norm.weight", 256, 0},
    {"lm_head.weight", 512, 256},
};
static const expect_t llama32_t[] = {
    {"model.embed_tokens.weight", 512, 256}, {L "input_layernorm.weight", 256, 0},
    {L "post_attention_layernorm.weight", 256, 0}, {L "self_attn.q_proj.weight", 256, 256},
    {L "self_attn.k_proj.weight", 128, 256}, {L "self_attn.v_proj.weight", 128, 256},
    {L "self_attn.o_proj.weight", 256, 256}, {L "mlp.gate_proj.weight", 512, 256},
    {L "mlp.up_proj.weight", 512, 256}, {L "mlp.down_proj.weight", 256, 512},
    {"model.norm.weight", 256, 0},
};
static const expect_t qwen3_t[] = {
    {"model.embed_tokens.weight", 512, 256}, {L "input_layernorm.weight", 256, 0},
    {L "post_attention_layernorm.weight", 256, 0}, {L "self_attn.q_proj.weight", 512, 256},
    {L "self_attn.k_proj.weight", 256, 256}, {L "self_attn.v_proj.weight", 256, 256},
    {L "self_attn.q_norm.weight", 32, 0}, {L "self_attn.k_norm.weight", 32, 0},
    {L "self_attn.o_proj.weight", 256, 512}, {L "mlp.gate_proj.weight", 320, 256},
    {L "mlp.up_proj.weight", 320, 256}, {L "mlp.down_proj.weight", 256, 320},
    {"model.norm.weight", 256, 0},
};
static const expect_t allam_t[] = {
    {"model.embed_tokens.weight", 512, 256}, {L "input_layernorm.weight", 256, 0},
    {L "post_attention_layernorm.weight", 256, 0}, {L "self_attn.q_proj.weight", 256, 256},
    {L "self_attn.k_proj.weight", 256, 256}, {L "self_attn.v_proj.weight", 256, 256},
    {L "self_attn.o_proj.weight", 256, 256}, {L "mlp.gate_proj.weight", 384, 256},
    {L "mlp.up_proj.weight", 384, 256}, {L "mlp.down_proj.weight", 256, 384},
    {"model.norm.weight", 256, 0}, {"lm_head.weight", 512, 256},
};
#undef L
#define ARCH(d, t) {d, t, sizeof t / sizeof t[0]}
static const arch_t archs[] = {
    ARCH("mistral", mistral_t), ARCH("phi3", phi3_t), ARCH("llama32", llama32_t),
    ARCH("qwen3", qwen3_t), ARCH("allam", allam_t),
};

static void check_arch(const arch_t *a, const rt_st_tensor *(*find)(const void *, const char *),
                       const void *h, size_t count)
{
    size_t expected = 0;
    for (size_t i = 0; i < a->n; i++) {
        int per_layer = strstr(a->t[i].name, "%d") != NULL;
        for (int layer = 0; layer < (per_layer ? 2 : 1); layer++) {
            char name[256];
            snprintf(name, sizeof name, a->t[i].name, layer);
            const rt_st_tensor *t = find(h, name);
            if (!t)
                fail_msg("%s: tensor %s missing", a->dir, name);
            assert_string_equal(t->name, name);
            assert_int_equal(t->dtype, RT_ST_BF16);
            int nd = a->t[i].d1 ? 2 : 1;
            assert_int_equal(t->ndim, nd);
            assert_int_equal(t->shape[0], a->t[i].d0);
            if (nd == 2)
                assert_int_equal(t->shape[1], a->t[i].d1);
            int64_t numel = a->t[i].d0 * (nd == 2 ? a->t[i].d1 : 1);
            assert_int_equal(t->numel, numel);
            assert_int_equal(t->nbytes, (size_t)numel * 2);
            expected++;
        }
    }
    assert_int_equal(count, expected);
}

static const rt_st_tensor *find_file(const void *h, const char *n)
{
    return rt_st_find(h, n);
}
static const rt_st_tensor *find_ckpt(const void *h, const char *n)
{
    return rt_ckpt_find(h, n);
}

static void test_fixture_checkpoints(void **state)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        char path[256];
        mgc_error e = {{0}};
        snprintf(path, sizeof path, FIX "/%s/model.safetensors", archs[i].dir);
        rt_st_file *f = NULL;
        if (rt_st_open(path, &f, &e) != 0)
            fail_msg("%s", e.msg);
        assert_string_equal(rt_st_path(f), path);
        check_arch(&archs[i], find_file, f, rt_st_count(f));
        assert_string_equal(rt_st_metadata(f, "format"), "pt");
        assert_null(rt_st_metadata(f, "nope"));
        assert_null(rt_st_find(f, "model.layers.2.input_layernorm.weight"));
        assert_null(rt_st_find(f, ""));
        /* sorted order, and every tensor's file is this one */
        for (size_t k = 0; k < rt_st_count(f); k++) {
            assert_string_equal(rt_st_at(f, k)->file, path);
            if (k)
                assert_true(strcmp(rt_st_at(f, k - 1)->name, rt_st_at(f, k)->name) < 0);
        }
        assert_null(rt_st_at(f, rt_st_count(f)));
        rt_st_close(f);

        /* the same through the checkpoint API on the directory */
        snprintf(path, sizeof path, FIX "/%s", archs[i].dir);
        rt_ckpt *ck = NULL;
        if (rt_ckpt_open(path, &ck, &e) != 0)
            fail_msg("%s", e.msg);
        assert_int_equal(rt_ckpt_nfiles(ck), 1);
        check_arch(&archs[i], find_ckpt, ck, rt_ckpt_count(ck));
        for (size_t k = 1; k < rt_ckpt_count(ck); k++)
            assert_true(strcmp(rt_ckpt_at(ck, k - 1)->name, rt_ckpt_at(ck, k)->name) < 0);
        assert_null(rt_ckpt_find(ck, "lm_head.weightx"));
        rt_ckpt_close(ck);
    }
    /* tied models have no lm_head */
    rt_ckpt *ck = NULL;
    mgc_error e;
    assert_int_equal(rt_ckpt_open(FIX "/llama32", &ck, &e), 0);
    assert_null(rt_ckpt_find(ck, "lm_head.weight"));
    rt_ckpt_close(ck);
}

/* Finds a tensor's begin offset with json-c, independently of the library. */
static size_t header_begin(const unsigned char *file, const char *tensor, size_t *data_start)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | file[i];
    char *h = strndup((const char *)file + 8, (size_t)n);
    json_object *root = json_tokener_parse(h), *t, *off;
    assert_non_null(root);
    assert_true(json_object_object_get_ex(root, tensor, &t));
    assert_true(json_object_object_get_ex(t, "data_offsets", &off));
    size_t b = (size_t)json_object_get_int64(json_object_array_get_idx(off, 0));
    json_object_put(root);
    free(h);
    *data_start = 8 + (size_t)n;
    return b;
}

static void test_bf16_slice_by_hand(void **state)
{
    const char *path = FIX "/llama32/model.safetensors";
    const char *name = "model.layers.1.self_attn.k_proj.weight"; /* [128, 256] */
    rt_st_file *f;
    mgc_error e;
    assert_int_equal(rt_st_open(path, &f, &e), 0);
    const rt_st_tensor *t = rt_st_find(f, name);
    assert_non_null(t);
    size_t fsize, ds;
    unsigned char *raw = read_bytes(path, &fsize);
    size_t begin = header_begin(raw, name, &ds);

    const int64_t r0 = 5, r1 = 9, c0 = 250, c1 = 256;
    float got[4 * 6];
    assert_int_equal(rt_st_read_f32(t, r0, r1, c0, c1, got, &e), 0);
    int nonzero = 0;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t c = c0; c < c1; c++) {
            size_t off = ds + begin + (size_t)(r * 256 + c) * 2;
            uint32_t bits = ((uint32_t)raw[off] | (uint32_t)raw[off + 1] << 8) << 16;
            float want;
            memcpy(&want, &bits, 4);
            float g = got[(r - r0) * 6 + (c - c0)];
            assert_memory_equal(&g, &want, 4);
            nonzero += want != 0.0f;
        }
    assert_true(nonzero > 0);
    /* 1-D is 1 x n; the full tensor equals concatenated slices */
    const rt_st_tensor *nw = rt_st_find(f, "model.norm.weight");
    float all[256], part[56];
    assert_int_equal(rt_st_read_f32(nw, 0, 1, 0, 256, all, &e), 0);
    assert_int_equal(rt_st_read_f32(nw, 0, 1, 200, 256, part, &e), 0);
    assert_memory_equal(all + 200, part, sizeof part);
    /* empty slice is fine, out of range is not */
    assert_int_equal(rt_st_read_f32(t, 3, 3, 0, 0, got, &e), 0);
    assert_int_equal(rt_st_read_f32(t, 0, 129, 0, 1, got, &e), -1);
    assert_contains(e.msg, path);
    assert_contains(e.msg, name);
    assert_contains(e.msg, "out of range");
    assert_contains(e.msg, "[128, 256]");
    assert_int_equal(rt_st_read_f32(t, 0, 1, 10, 5, got, &e), -1);
    assert_int_equal(rt_st_read_f32(t, -1, 1, 0, 1, got, &e), -1);
    assert_int_equal(rt_st_read_f32(nw, 0, 2, 0, 1, got, &e), -1);
    /* a BF16 tensor is not an integer tensor */
    int64_t iv[256];
    assert_int_equal(rt_st_read_i64(nw, iv, 256, &e), -1);
    assert_contains(e.msg, "BF16");
    assert_contains(e.msg, "model.norm.weight");
    free(raw);
    rt_st_close(f);
}

static void test_reference_files(void **state)
{
    rt_st_file *r, *r64;
    mgc_error e;
    if (rt_st_open(FIX "/llama32/reference.safetensors", &r, &e) != 0)
        fail_msg("%s", e.msg);
    if (rt_st_open(FIX "/llama32/reference_f64.safetensors", &r64, &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(rt_st_metadata(r, "arch"), "llama32");
    assert_string_equal(rt_st_metadata(r, "prompt_len"), "29");
    assert_string_equal(rt_st_metadata(r64, "compute_dtype"), "float64");
    assert_true(rt_st_metadata_count(r) > 10);
    const char *k, *v;
    assert_int_equal(rt_st_metadata_at(r, 0, &k, &v), 0);
    assert_string_equal(k, "format");
    assert_int_equal(rt_st_metadata_at(r, rt_st_metadata_count(r), &k, &v), -1);

    const rt_st_tensor *ids = rt_st_find(r, "input_ids"), *ids64 = rt_st_find(r64, "input_ids");
    assert_int_equal(ids->dtype, RT_ST_I64);
    assert_int_equal(ids->ndim, 1);
    assert_int_equal(ids->shape[0], 61);
    int64_t a[61], b[61];
    assert_int_equal(rt_st_read_i64(ids, a, 61, &e), 0);
    assert_int_equal(rt_st_read_i64(ids64, b, 61, &e), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(a[0], 510); /* bos of the tiny llama32 config */
    assert_int_equal(rt_st_read_i64(ids, a, 60, &e), -1);
    assert_contains(e.msg, "61 elements");
    float fids[61];
    assert_int_equal(rt_st_read_f32(ids, 0, 1, 0, 61, fids, &e), 0);
    assert_true(fids[1] == (float)b[1]);

    /* generated_ids = input_ids[29:] */
    const rt_st_tensor *gen = rt_st_find(r, "generated_ids");
    int64_t g[32];
    assert_int_equal(rt_st_read_i64(gen, g, 32, &e), 0);
    assert_memory_equal(g, a + 29, sizeof g);

    /* f32 logits vs f64 logits */
    const rt_st_tensor *lg = rt_st_find(r, "logits"), *lg64 = rt_st_find(r64, "logits");
    assert_int_equal(lg->dtype, RT_ST_F32);
    assert_int_equal(lg64->dtype, RT_ST_F64);
    assert_int_equal(lg->shape[0], 61);
    assert_int_equal(lg->shape[1], 512);
    size_t n = (size_t)lg64->numel;
    double *d = malloc(n * sizeof *d);
    float *f = malloc(n * sizeof *f);
    assert_int_equal(rt_st_read_f64(lg64, d, n, &e), 0);
    assert_int_equal(rt_st_read_f32(lg, 0, 61, 0, 512, f, &e), 0);
    double maxabs = 0, maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        maxabs = fmax(maxabs, fabs(d[i]));
        maxdiff = fmax(maxdiff, fabs(d[i] - f[i]));
    }
    assert_true(maxabs > 1.0);
    assert_true(maxdiff < 1e-4 * maxabs);
    double f64row[512];
    float f32row[512];
    assert_int_equal(rt_st_read_f32(lg64, 7, 8, 0, 512, f32row, &e), 0);
    for (int i = 0; i < 512; i++)
        f64row[i] = d[7 * 512 + i];
    for (int i = 0; i < 512; i++)
        assert_true(f32row[i] == (float)f64row[i]);
    free(d);
    free(f);

    /* a rank-3 tensor is viewed as [L+1 * T, H] */
    const rt_st_tensor *hs = rt_st_find(r, "hidden_states");
    assert_int_equal(hs->ndim, 3);
    assert_int_equal(hs->shape[0], 3);
    assert_int_equal(hs->shape[1], 61);
    assert_int_equal(hs->shape[2], 256);
    float row[256], dummy[1];
    assert_int_equal(rt_st_read_f32(hs, 2 * 61 + 5, 2 * 61 + 6, 0, 256, row, &e), 0);
    double *hd = malloc((size_t)hs->numel * sizeof *hd);
    assert_int_equal(rt_st_read_f64(hs, hd, (size_t)hs->numel, &e), 0);
    for (int i = 0; i < 256; i++)
        assert_true(row[i] == (float)hd[(2 * 61 + 5) * 256 + i]);
    free(hd);
    assert_int_equal(rt_st_read_f32(hs, 183, 184, 0, 1, dummy, &e), -1); /* 3 * 61 rows */
    rt_st_close(r);
    rt_st_close(r64);
}

/* ---- writer and conversions -------------------------------------------------------- */

static rt_st_entry entry(const char *name, rt_st_dtype dt, int ndim, const int64_t *shape,
                         const void *data, size_t nbytes)
{
    rt_st_entry en = {.name = name, .dtype = dt, .ndim = ndim, .data = data, .nbytes = nbytes};
    for (int i = 0; i < ndim; i++)
        en.shape[i] = shape[i];
    return en;
}

static void test_write_roundtrip_and_conversions(void **state)
{
    char *dir = make_tmpdir();
    char *p = path_in(dir, "conv.safetensors");
    const uint16_t f16[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x3555, 0x0400};
    const float f16_want[] = {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-08f, -0.0f,
                              INFINITY, 0.333251953125f, 6.103515625e-05f};
    const int32_t i32[] = {-7, 0, 123456, 2147483647};
    const int8_t i8[] = {-128, 127, 0};
    const uint8_t u8[] = {255, 0, 1};
    const uint8_t bl[] = {0, 1, 2};
    const int16_t i16[] = {-32768, 32767};
    const double f64[] = {0.1, -1e300, 3.0};
    const uint16_t bf16[] = {0x3F80, 0xC0A0}; /* 1, -5 */
    const float scalar = 2.5f;
    int64_t s8[] = {8}, s4[] = {2, 2}, s3[] = {3}, s2[] = {2}, s0[] = {0, 4};
    rt_st_entry ens[] = {
        entry("z.f16", RT_ST_F16, 1, s8, f16, sizeof f16),
        entry("i32", RT_ST_I32, 2, s4, i32, sizeof i32),
        entry("i8", RT_ST_I8, 1, s3, i8, sizeof i8),
        entry("u8", RT_ST_U8, 1, s3, u8, sizeof u8),
        entry("bool", RT_ST_BOOL, 1, s3, bl, sizeof bl),
        entry("i16", RT_ST_I16, 1, s2, i16, sizeof i16),
        entry("f64", RT_ST_F64, 1, s3, f64, sizeof f64),
        entry("bf16", RT_ST_BF16, 1, s2, bf16, sizeof bf16),
        entry("scalar", RT_ST_F32, 0, NULL, &scalar, 4),
        entry("empty", RT_ST_F32, 2, s0, NULL, 0),
        entry("name with \"quotes\" / slash \\ and é", RT_ST_U8, 1, s3, u8, 3),
    };
    const size_t n = sizeof ens / sizeof ens[0];
    const char *meta[] = {"format", "pt", "note", "quote\" and \\ and\nnewline", NULL};
    mgc_error e;
    if (rt_st_write(p, ens, n, meta, &e) != 0)
        fail_msg("%s", e.msg);

    /* layout: header padded with spaces to a multiple of 8, tensors in name order */
    size_t fsize;
    unsigned char *raw = read_bytes(p, &fsize);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = (hl << 8) | raw[i];
    assert_int_equal(hl % 8, 0);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += ens[i].nbytes;
    assert_int_equal(fsize, 8 + hl + total);
    size_t last = 8 + hl - 1;
    while (raw[last] == ' ')
        last--;
    assert_int_equal(raw[last], '}');
    free(raw);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    rt_st_file *f;
    if (rt_st_open(p, &f, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(rt_st_count(f), n);
    assert_string_equal(rt_st_metadata(f, "note"), "quote\" and \\ and\nnewline");
    assert_string_equal(rt_st_metadata(f, "format"), "pt");
    const unsigned char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        if (i)
            assert_true(strcmp(rt_st_at(f, i - 1)->name, t->name) < 0);
        if (t->nbytes) {
            assert_true(prev == NULL || (const unsigned char *)t->data >= prev);
            prev = (const unsigned char *)t->data + t->nbytes;
        }
        const rt_st_entry *src = NULL;
        for (size_t j = 0; j < n; j++)
            if (!strcmp(ens[j].name, t->name))
                src = &ens[j];
        assert_non_null(src);
        assert_int_equal(t->dtype, src->dtype);
        assert_int_equal(t->ndim, src->ndim);
        for (int d = 0; d < t->ndim; d++)
            assert_int_equal(t->shape[d], src->shape[d]);
        assert_int_equal(t->nbytes, src->nbytes);
        if (t->nbytes)
            assert_memory_equal(t->data, src->data, t->nbytes);
    }

    float out[8];
    assert_int_equal(rt_st_read_f32(rt_st_find(f, "z.f16"), 0, 1, 0, 8, out, &e), 0);
    for (int i = 0; i < 8; i++)
        assert_memory_equal(&out[i], &f16_want[i], 4);
    const uint16_t nan16 = 0x7E00;
    rt_st_entry nan_e = entry("n", RT_ST_F16, 0, NULL, &nan16, 2);
    char *pn = path_in(dir, "nan.safetensors");
    assert_int_equal(rt_st_write(pn, &nan_e, 1, NULL, &e), 0);
    rt_st_file *fn;
    assert_int_equal(rt_st_open(pn, &fn, &e), 0);
    assert_int_equal(rt_st_metadata_count(fn), 0);
    assert_int_equal(rt_st_read_f32(rt_st_at(fn, 0), 0, 1, 0, 1, out, &e), 0);
    assert_true(isnan(out[0]));
    rt_st_close(fn);
    free(pn);

    int64_t iv[4];
    assert_int_equal(rt_st_read_i64(rt_st_find(f, "i32"), iv, 4, &e), 0);
    assert_int_equal(iv[0], -7);
    assert_int_equal(iv[3], 2147483647);
    assert_int_equal(rt_st_read_f32(rt_st_find(f, "i32"), 1, 2, 0, 2, out, &e), 0);
    assert_true(out[0] == 123456.0f && out[1] == 2147483648.0f);
    assert_int_equal(rt_st_read_i64(rt_st_find(f, "i8"), iv, 3, &e), 0);
    assert_true(iv[0] == -128 && iv[1] == 127 && iv[2] == 0);
    assert_int_equal(rt_st_read_i64(rt_st_find(f, "u8"), iv, 3, &e), 0);
    assert_true(iv[0] == 255 && iv[1] == 0 && iv[2] == 1);
    assert_int_equal(rt_st_read_i64(rt_st_find(f, "bool"), iv, 3, &e), 0);
    assert_true(iv[0] == 0 && iv[1] == 1 && iv[2] == 1);
    assert_int_equal(rt_st_read_i64(rt_st_find(f, "i16"), iv, 2, &e), 0);
    assert_true(iv[0] == -32768 && iv[1] == 32767);
    double dv[3];
    assert_int_equal(rt_st_read_f64(rt_st_find(f, "f64"), dv, 3, &e), 0);
    assert_memory_equal(dv, f64, sizeof f64);
    assert_int_equal(rt_st_read_f32(rt_st_find(f, "f64"), 0, 1, 0, 3, out, &e), 0);
    assert_true(out[0] == 0.1f && isinf(out[1]) && out[1] < 0 && out[2] == 3.0f);
    assert_int_equal(rt_st_read_f64(rt_st_find(f, "bf16"), dv, 2, &e), 0);
    assert_true(dv[0] == 1.0 && dv[1] == -5.0);
    const rt_st_tensor *sc = rt_st_find(f, "scalar");
    assert_int_equal(sc->ndim, 0);
    assert_int_equal(sc->numel, 1);
    assert_int_equal(rt_st_read_f32(sc, 0, 1, 0, 1, out, &e), 0);
    assert_true(out[0] == 2.5f);
    const rt_st_tensor *em = rt_st_find(f, "empty");
    assert_int_equal(em->numel, 0);
    assert_int_equal(rt_st_read_f32(em, 0, 0, 0, 4, out, &e), 0);
    assert_int_equal(rt_st_read_f32(em, 0, 1, 0, 4, out, &e), -1);
    char sb[64];
    assert_string_equal(rt_st_shape_str(em, sb, sizeof sb), "[0, 4]");
    assert_string_equal(rt_st_shape_str(sc, sb, sizeof sb), "[]");
    assert_non_null(rt_st_find(f, "name with \"quotes\" / slash \\ and é"));
    rt_st_close(f);

    /* an empty file list is a valid file too */
    char *p0 = path_in(dir, "none.safetensors");
    assert_int_equal(rt_st_write(p0, NULL, 0, NULL, &e), 0);
    assert_int_equal(rt_st_open(p0, &f, &e), 0);
    assert_int_equal(rt_st_count(f), 0);
    rt_st_close(f);
    free(p0);

    /* dtype names */
    rt_st_dtype dt;
    assert_int_equal(rt_st_dtype_parse("BF16", &dt), 0);
    assert_int_equal(dt, RT_ST_BF16);
    assert_int_equal(rt_st_dtype_parse("bf16", &dt), -1);
    assert_string_equal(rt_st_dtype_name(RT_ST_BOOL), "BOOL");
    assert_int_equal(rt_st_dtype_size(RT_ST_F64), 8);
    assert_int_equal(rt_st_dtype_size(RT_ST_NDTYPES), 0);

    free(p);
    remove_tree(dir);
}

static void test_write_rejects_bad_entries(void **state)
{
    char *dir = make_tmpdir();
    char *p = path_in(dir, "bad.safetensors");
    mgc_error e;
    float x[4] = {0};
    int64_t s4[] = {4}, s3[] = {3}, neg[] = {-1};
    rt_st_entry two[] = {entry("a", RT_ST_F32, 1, s4, x, 16), entry("a", RT_ST_F32, 1, s4, x, 16)};
    assert_int_equal(rt_st_write(p, two, 2, NULL, &e), -1);
    assert_contains(e.msg, p);
    assert_contains(e.msg, "'a' is given twice");
    rt_st_entry wrong = entry("w", RT_ST_F32, 1, s3, x, 16);
    assert_int_equal(rt_st_write(p, &wrong, 1, NULL, &e), -1);
    assert_contains(e.msg, "16 bytes given but shape [3] of F32 needs 12 bytes");
    rt_st_entry ng = entry("n", RT_ST_F32, 1, neg, x, 0);
    assert_int_equal(rt_st_write(p, &ng, 1, NULL, &e), -1);
    assert_contains(e.msg, "'n'");
    rt_st_entry meta = entry("__metadata__", RT_ST_F32, 1, s4, x, 16);
    assert_int_equal(rt_st_write(p, &meta, 1, NULL, &e), -1);
    assert_contains(e.msg, "__metadata__");
    rt_st_entry ok = entry("ok", RT_ST_F32, 1, s4, x, 16);
    const char *odd[] = {"k", NULL};
    assert_int_equal(rt_st_write(p, &ok, 1, odd, &e), -1);
    assert_contains(e.msg, "metadata key 'k' has no value");
    const char *dup[] = {"k", "1", "k", "2", NULL};
    assert_int_equal(rt_st_write(p, &ok, 1, dup, &e), -1);
    assert_contains(e.msg, "'k' is given twice");
    char *nodir = path_in(dir, "no/such/dir.safetensors");
    assert_int_equal(rt_st_write(nodir, &ok, 1, NULL, &e), -1);
    assert_contains(e.msg, nodir);
    assert_contains(e.msg, "temporary file");
    free(nodir);
    assert_int_equal(count_entries(dir), 0); /* nothing left behind */
    free(p);
    remove_tree(dir);
}

/* The old file survives a failing write, and no temporary file is left behind. */
static void test_write_is_atomic(void **state)
{
    char *dir = make_tmpdir();
    char *p = path_in(dir, "model.safetensors");
    mgc_error e;
    float small[4] = {1, 2, 3, 4};
    int64_t s4[] = {4};
    rt_st_entry old = entry("old", RT_ST_F32, 1, s4, small, sizeof small);
    assert_int_equal(rt_st_write(p, &old, 1, NULL, &e), 0);
    assert_int_equal(chmod(p, 0600), 0);
    size_t n0;
    unsigned char *before = read_bytes(p, &n0);

    /* 1: invalid input is rejected before anything is written */
    rt_st_entry bad = entry("bad", RT_ST_F32, 1, s4, small, 12);
    assert_int_equal(rt_st_write(p, &bad, 1, NULL, &e), -1);

    /* 2: the disk "fills up" half way through the data (RLIMIT_FSIZE) */
    size_t big_n = 1 << 20;
    unsigned char *big = calloc(1, big_n);
    int64_t sb[] = {(int64_t)big_n};
    rt_st_entry large = entry("large", RT_ST_U8, 1, sb, big, big_n);
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old_lim;
    lim.rlim_cur = 64 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = rt_st_write(p, &large, 1, NULL, &e);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_sig);
    assert_int_equal(rc, -1);
    assert_contains(e.msg, p);
    assert_contains(e.msg, "'large'");
    free(big);

    size_t n1;
    unsigned char *after = read_bytes(p, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(after);
    assert_int_equal(count_entries(dir), 1);

    /* 3: the rename fails (the destination is a non-empty directory) */
    char *dd = path_in(dir, "d.safetensors");
    assert_int_equal(mkdir(dd, 0755), 0);
    char *inner = path_in(dd, "keep");
    write_bytes(inner, "x", 1);
    assert_int_equal(rt_st_write(dd, &old, 1, NULL, &e), -1);
    assert_contains(e.msg, "rename");
    assert_int_equal(count_entries(dir), 2);
    assert_int_equal(count_entries(dd), 1);
    free(inner);
    free(dd);

    /* a successful replace keeps the old mode and the reader sees the new file */
    float nv[2] = {9, 8};
    int64_t s2[] = {2};
    rt_st_entry nw = entry("new", RT_ST_F32, 1, s2, nv, sizeof nv);
    assert_int_equal(rt_st_write(p, &nw, 1, NULL, &e), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    rt_st_file *f;
    assert_int_equal(rt_st_open(p, &f, &e), 0);
    assert_non_null(rt_st_find(f, "new"));
    assert_null(rt_st_find(f, "old"));
    rt_st_close(f);
    assert_int_equal(count_entries(dir), 2);

    free(before);
    free(p);
    remove_tree(dir);
}

/* ---- corrupt files ----------------------------------------------------------------- */

typedef struct {
    const char *what;
    const char *header;   /* NULL: raw bytes below */
    size_t data_len;
    uint64_t len_field;   /* UINT64_MAX: the header's length */
    const char *expect1, *expect2;
} corrupt_case;

#define HDR(s) s, sizeof(s) - 1
static const corrupt_case corrupt[] = {
    {"not json", "{\"a\": {\"dtype\": \"F32\", ", 0, UINT64_MAX, "not valid JSON", NULL},
    {"trailing garbage", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4,
     UINT64_MAX, "not valid JSON", NULL},
    {"array", "[1, 2, 3]", 0, UINT64_MAX, "header is a JSON array, expected an object", NULL},
    {"string", "\"hello\"", 0, UINT64_MAX, "header is a JSON string, expected an object", NULL},
    {"unknown dtype", "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
     UINT64_MAX, "tensor 'w': unknown dtype 'Q4_K'", NULL},
    {"size mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
     UINT64_MAX, "tensor 'w'", "hold 8 bytes but shape [3] of F32 needs 12 bytes"},
    {"past end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 16,
     UINT64_MAX, "tensor 'w'", "past the end of the data section (16 bytes"},
    {"overlap",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, UINT64_MAX, "tensors 'a' (bytes [0, 8)) and 'b' (bytes [4, 12)) overlap", NULL},
    {"overlap inside",
     "{\"big\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
     "\"mid\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},"
     "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[5,5]}}",
     16, UINT64_MAX, "'big'", "'mid'"},
    {"negative shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
     UINT64_MAX, "tensor 'w': shape[0] is -1, expected a non-negative integer", NULL},
    {"float shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,0]}}", 0,
     UINT64_MAX, "shape[0] is 2.5", NULL},
    {"rank 9", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
     1, UINT64_MAX, "tensor 'w': shape has rank 9", NULL},
    {"overflow",
     "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0,
     UINT64_MAX, "tensor 'w'", "overflows"},
    {"begin > end", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", 4,
     UINT64_MAX, "tensor 'w'", "begin > end"},
    {"negative offset", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[-4,0]}}", 4,
     UINT64_MAX, "tensor 'w'", "non-negative"},
    {"one offset", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0]}}", 0, UINT64_MAX,
     "tensor 'w'", "expected [begin, end]"},
    {"no dtype", "{\"w\":{\"shape\":[0],\"data_offsets\":[0,0]}}", 0, UINT64_MAX,
     "tensor 'w': header entry has no \"dtype\"", NULL},
    {"no shape", "{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,0]}}", 0, UINT64_MAX,
     "tensor 'w': header entry has no \"shape\"", NULL},
    {"dtype number", "{\"w\":{\"dtype\":7,\"shape\":[0],\"data_offsets\":[0,0]}}", 0, UINT64_MAX,
     "tensor 'w': dtype is a JSON int", NULL},
    {"entry not object", "{\"w\":[1]}", 0, UINT64_MAX, "tensor 'w'", "expected an object"},
    {"metadata not strings", "{\"__metadata__\":{\"n\":3}}", 0, UINT64_MAX,
     "__metadata__ 'n' is a JSON int, expected a string", NULL},
    {"metadata not object", "{\"__metadata__\":\"x\"}", 0, UINT64_MAX,
     "__metadata__ is a JSON string", NULL},
    {"header length beyond file", "{}", 0, 1000, "header length 1000 runs past the end of the file",
     NULL},
    {"header length huge", "{}", 0, 200000000ull, "header length 200000000 is larger than", NULL},
    {"bad utf-8", "{\"w\xff\":{}}", 0, UINT64_MAX, "not valid JSON", NULL},
    {"empty header", "", 0, UINT64_MAX, "not valid JSON", NULL},
};

static void test_corrupt_headers(void **state)
{
    char *dir = make_tmpdir();
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        const corrupt_case *c = &corrupt[i];
        char name[64];
        snprintf(name, sizeof name, "case%02zu.safetensors", i);
        char *p = write_raw_st(dir, name, c->header, strlen(c->header), c->len_field, c->data_len);
        rt_st_file *f = (rt_st_file *)1;
        mgc_error e = {{0}};
        if (rt_st_open(p, &f, &e) == 0)
            fail_msg("case '%s' opened", c->what);
        assert_null(f);
        if (strncmp(e.msg, p, strlen(p)) != 0)
            fail_msg("case '%s': message does not start with the path: %s", c->what, e.msg);
        if (!strstr(e.msg, c->expect1) || (c->expect2 && !strstr(e.msg, c->expect2)))
            fail_msg("case '%s': expected \"%s\" / \"%s\" in: %s", c->what, c->expect1,
                     c->expect2 ? c->expect2 : "", e.msg);
        free(p);
    }
    remove_tree(dir);
}

static void test_corrupt_files(void **state)
{
    char *dir = make_tmpdir();
    mgc_error e;
    rt_st_file *f;

    char *p = path_in(dir, "empty.safetensors");
    write_bytes(p, "", 0);
    assert_int_equal(rt_st_open(p, &f, &e), -1);
    assert_contains(e.msg, p);
    assert_contains(e.msg, "file is empty");
    free(p);

    p = path_in(dir, "seven.safetensors");
    write_bytes(p, "\x02\0\0\0\0\0\0", 7);
    assert_int_equal(rt_st_open(p, &f, &e), -1);
    assert_contains(e.msg, p);
    assert_contains(e.msg, "only 7 bytes");
    free(p);

    /* NUL inside the header */
    static const char nulh[] = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}\0      ";
    p = write_raw_st(dir, "nul.safetensors", nulh, sizeof nulh - 1, UINT64_MAX, 1);
    assert_int_equal(rt_st_open(p, &f, &e), -1);
    assert_contains(e.msg, p);
    assert_contains(e.msg, "NUL byte at file offset 61");
    free(p);

    /* truncated data: a valid file cut short */
    float v[64] = {0};
    int64_t s[] = {64};
    rt_st_entry en = entry("weights", RT_ST_F32, 1, s, v, sizeof v);
    p = path_in(dir, "trunc.safetensors");
    assert_int_equal(rt_st_write(p, &en, 1, NULL, &e), 0);
    assert_int_equal(rt_st_open(p, &f, &e), 0);
    rt_st_close(f);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size - 10), 0);
    assert_int_equal(rt_st_open(p, &f, &e), -1);
    assert_contains(e.msg, p);
    assert_contains(e.msg, "tensor 'weights'");
    assert_contains(e.msg, "truncated");
    free(p);

    /* not there, not a file */
    p = path_in(dir, "missing.safetensors");
    assert_int_equal(rt_st_open(p, &f, &e), -1);
    assert_contains(e.msg, p);
    assert_contains(e.msg, "No such file");
    free(p);
    assert_int_equal(rt_st_open(dir, &f, &e), -1);
    assert_contains(e.msg, "not a regular file");
    remove_tree(dir);
}

/* ---- sharded checkpoints ----------------------------------------------------------- */

static void write_index(const char *dir, const char *body)
{
    char *p = path_in(dir, "model.safetensors.index.json");
    write_bytes(p, body, strlen(body));
    free(p);
}

/* Splits tests/fixtures/<arch> into two shards + index in a new temp dir. */
static char *make_sharded(const char *arch, rt_st_file **orig_out)
{
    char src[256];
    snprintf(src, sizeof src, FIX "/%s/model.safetensors", arch);
    mgc_error e;
    rt_st_file *orig;
    if (rt_st_open(src, &orig, &e) != 0)
        fail_msg("%s", e.msg);
    size_t n = rt_st_count(orig);
    rt_st_entry *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    size_t na = 0, nb = 0;
    json_object *idx = json_object_new_object(), *wm = json_object_new_object(),
                *meta = json_object_new_object();
    json_object_object_add(meta, "total_size", json_object_new_int64(0));
    json_object_object_add(idx, "metadata", meta);
    json_object_object_add(idx, "weight_map", wm);
    for (size_t i = 0; i < n; i++) {
        const rt_st_tensor *t = rt_st_at(orig, i);
        int first = i % 3 != 0;
        if (first)
            a[na++] = rt_st_entry_of(t);
        else
            b[nb++] = rt_st_entry_of(t);
        json_object_object_add(wm, t->name,
                               json_object_new_string(first ? "model-00001-of-00002.safetensors"
                                                            : "model-00002-of-00002.safetensors"));
    }
    char *dir = make_tmpdir();
    char *pa = path_in(dir, "model-00001-of-00002.safetensors");
    char *pb = path_in(dir, "model-00002-of-00002.safetensors");
    const char *meta_kv[] = {"format", "pt", NULL};
    assert_int_equal(rt_st_write(pa, a, na, meta_kv, &e), 0);
    assert_int_equal(rt_st_write(pb, b, nb, meta_kv, &e), 0);
    write_index(dir, json_object_to_json_string_ext(idx, JSON_C_TO_STRING_PRETTY));
    json_object_put(idx);
    free(pa);
    free(pb);
    free(a);
    free(b);
    *orig_out = orig;
    return dir;
}

static void test_sharded_checkpoint(void **state)
{
    rt_st_file *orig;
    char *dir = make_sharded("qwen3", &orig);
    mgc_error e;
    rt_ckpt *ck;
    if (rt_ckpt_open(dir, &ck, &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(rt_ckpt_path(ck), dir);
    assert_int_equal(rt_ckpt_nfiles(ck), 2);
    assert_null(rt_ckpt_file(ck, 2));
    assert_int_equal(rt_ckpt_count(ck), rt_st_count(orig));
    check_arch(&archs[3], find_ckpt, ck, rt_ckpt_count(ck));
    for (size_t i = 0; i < rt_st_count(orig); i++) {
        const rt_st_tensor *o = rt_st_at(orig, i), *t = rt_ckpt_at(ck, i);
        assert_string_equal(o->name, t->name); /* same sorted order */
        assert_ptr_equal(rt_ckpt_find(ck, o->name), t);
        assert_int_equal(o->dtype, t->dtype);
        assert_int_equal(o->ndim, t->ndim);
        assert_memory_equal(o->shape, t->shape, sizeof o->shape);
        assert_int_equal(o->nbytes, t->nbytes);
        assert_memory_equal(o->data, t->data, o->nbytes);
        assert_non_null(strstr(t->file, (i % 3) ? "model-00001-of-00002" : "model-00002-of-00002"));
    }
    assert_null(rt_ckpt_at(ck, rt_ckpt_count(ck)));
    rt_ckpt_close(ck);

    /* the index file itself can be given */
    char *ip = path_in(dir, "model.safetensors.index.json");
    if (rt_ckpt_open(ip, &ck, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(rt_ckpt_count(ck), rt_st_count(orig));
    rt_ckpt_close(ck);
    free(ip);

    /* a single model.safetensors wins over an index, as in transformers */
    char *single = path_in(dir, "model.safetensors");
    rt_st_entry one = rt_st_entry_of(rt_st_at(orig, 0));
    assert_int_equal(rt_st_write(single, &one, 1, NULL, &e), 0);
    assert_int_equal(rt_ckpt_open(dir, &ck, &e), 0);
    assert_int_equal(rt_ckpt_count(ck), 1);
    rt_ckpt_close(ck);
    /* ... and a .safetensors path opens that one file */
    assert_int_equal(rt_ckpt_open(single, &ck, &e), 0);
    assert_int_equal(rt_ckpt_count(ck), 1);
    rt_ckpt_close(ck);
    free(single);

    rt_st_close(orig);
    remove_tree(dir);
}

static void expect_index_error(const char *body, const char *e1, const char *e2)
{
    rt_st_file *orig;
    char *dir = make_sharded("llama32", &orig);
    write_index(dir, body);
    char *ip = path_in(dir, "model.safetensors.index.json");
    mgc_error e;
    rt_ckpt *ck = (rt_ckpt *)1;
    if (rt_ckpt_open(dir, &ck, &e) == 0)
        fail_msg("index opened: %s", body);
    assert_null(ck);
    assert_contains(e.msg, ip);
    assert_contains(e.msg, e1);
    if (e2)
        assert_contains(e.msg, e2);
    free(ip);
    rt_st_close(orig);
    remove_tree(dir);
}

static void test_index_errors(void **state)
{
    expect_index_error("{\"weight_map\":{\"model.norm.weight\":\"missing-shard.safetensors\"}}",
                       "shard 'missing-shard.safetensors'", "No such file");
    expect_index_error("{\"weight_map\":{\"model.norm.weight\":\"../x\"}}", "'../x'",
                       "not a plain file name");
    expect_index_error("{\"weight_map\":{\"model.norm.weight\":\"..\"}}", "'..'",
                       "not a plain file name");
    expect_index_error("{\"weight_map\":{\"model.norm.weight\":\"/etc/passwd\"}}", "'/etc/passwd'",
                       "not a plain file name");
    expect_index_error("{\"weight_map\":{\"model.norm.weight\":\"\"}}", "''",
                       "not a plain file name");
    expect_index_error("{\"weight_map\":{\"no.such.tensor\":\"model-00001-of-00002.safetensors\"}}",
                       "tensor 'no.such.tensor' is listed in weight_map for shard "
                       "'model-00001-of-00002.safetensors'", "no such tensor");
    expect_index_error(
        "{\"weight_map\":{\"model.embed_tokens.weight\":\"model-00002-of-00002.safetensors\"}}",
        "in shard 'model-00002-of-00002.safetensors' is not listed in weight_map", NULL);
    expect_index_error("{\"weight_map\":{\"model.norm.weight\":3}}", "tensor 'model.norm.weight'",
                       "JSON int");
    expect_index_error("{\"metadata\":{}}", "no \"weight_map\"", NULL);
    expect_index_error("{\"weight_map\":[]}", "\"weight_map\" is a JSON array", NULL);
    expect_index_error("{\"weight_map\":{}}", "\"weight_map\" is empty", NULL);
    expect_index_error("{\"weight_map\":{},\n \"metadata\": [1]}", "\"metadata\" is a JSON array",
                       NULL);
    expect_index_error("[]", "index is a JSON array", NULL);
    expect_index_error("{\n  \"weight_map\": {\n    \"a\": \"b\",,\n", ":3:", "invalid JSON");
    expect_index_error("", "invalid JSON", NULL);

    /* a tensor sits in the other shard than the index says */
    rt_st_file *orig;
    char *dir = make_sharded("llama32", &orig);
    char *ip = path_in(dir, "model.safetensors.index.json");
    size_t n;
    char *text = (char *)read_bytes(ip, &n);
    text[n] = 0;
    json_object *idx = json_tokener_parse(text), *wm;
    json_object_object_get_ex(idx, "weight_map", &wm);
    json_object_object_add(wm, "model.norm.weight",
                           json_object_new_string("model-00002-of-00002.safetensors"));
    json_object_object_add(wm, "model.embed_tokens.weight",
                           json_object_new_string("model-00001-of-00002.safetensors"));
    write_index(dir, json_object_to_json_string(idx));
    json_object_put(idx);
    free(text);
    mgc_error e;
    rt_ckpt *ck;
    assert_int_equal(rt_ckpt_open(dir, &ck, &e), -1);
    assert_contains(e.msg, "no such tensor");
    free(ip);
    rt_st_close(orig);
    remove_tree(dir);

    /* a corrupt shard: the error names the index, the shard and the cause */
    dir = make_sharded("llama32", &orig);
    char *sp = path_in(dir, "model-00002-of-00002.safetensors");
    assert_int_equal(truncate(sp, 100), 0);
    assert_int_equal(rt_ckpt_open(dir, &ck, &e), -1);
    assert_contains(e.msg, "model.safetensors.index.json: shard 'model-00002-of-00002.safetensors'");
    assert_contains(e.msg, "runs past the end of the file");
    free(sp);
    rt_st_close(orig);
    remove_tree(dir);

    /* neither file */
    dir = make_tmpdir();
    assert_int_equal(rt_ckpt_open(dir, &ck, &e), -1);
    assert_contains(e.msg, dir);
    assert_contains(e.msg, "no model.safetensors or model.safetensors.index.json");
    remove_tree(dir);
    assert_int_equal(rt_ckpt_open("tests/fixtures/no-such-model", &ck, &e), -1);
    assert_contains(e.msg, "tests/fixtures/no-such-model");
    assert_contains(e.msg, "No such file");
}

/* rt_st_open_memory validates bytes as rt_st_open validates a file: a hand-made
 * file of one F32 [2] tensor {1.5, -2} opens and reads back; a short buffer and a
 * header running past the end are refused, naming the label. */
static void test_open_memory(void **state)
{
    const char hdr[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char buf[8 + sizeof hdr - 1 + 8];
    uint64_t n = sizeof hdr - 1;
    memcpy(buf, &n, 8);
    memcpy(buf + 8, hdr, n);
    float v[2] = {1.5f, -2.0f};
    memcpy(buf + 8 + n, v, 8);
    rt_st_file *f;
    mgc_error e;
    assert_int_equal(rt_st_open_memory("mem.safetensors", buf, sizeof buf, &f, &e), 0);
    const rt_st_tensor *t = rt_st_find(f, "a");
    assert_non_null(t);
    float got[2];
    assert_int_equal(rt_st_read_f32(t, 0, 1, 0, 2, got, &e), 0);
    assert_true(got[0] == 1.5f && got[1] == -2.0f);
    assert_string_equal(t->file, "mem.safetensors");
    rt_st_close(f);
    assert_int_equal(rt_st_open_memory("mem.safetensors", buf, 5, &f, &e), -1);
    assert_null(f);
    assert_non_null(strstr(e.msg, "mem.safetensors: file is only 5 bytes"));
    assert_int_equal(rt_st_open_memory("mem.safetensors", buf, 20, &f, &e), -1);
    assert_non_null(strstr(e.msg, "mem.safetensors: header length"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_checkpoints),
        cmocka_unit_test(test_bf16_slice_by_hand),
        cmocka_unit_test(test_reference_files),
        cmocka_unit_test(test_write_roundtrip_and_conversions),
        cmocka_unit_test(test_write_rejects_bad_entries),
        cmocka_unit_test(test_write_is_atomic),
        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_sharded_checkpoint),
        cmocka_unit_test(test_index_errors),
        cmocka_unit_test(test_open_memory),
    };
    return cmocka_run_group_tests_name("safetensors", tests, NULL, NULL);
}
