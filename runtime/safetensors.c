/* safetensors: validated memory-mapped reader, dtype converters and an atomic writer.
 * See safetensors.h for the format and the rules enforced. */
#include "safetensors.h"

#include "atomic_file.h"
#include "json_strict.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (the file format is little-endian)"
#endif

struct rt_st_file {
    char *path;
    void *map;                  /* whole file, read-only */
    size_t map_size;
    const unsigned char *data;  /* first byte after the header */
    size_t data_size;
    rt_st_tensor *tensors;      /* sorted by name */
    size_t ntensors;
    char **meta_keys, **meta_vals;
    size_t nmeta;
};

/* ---- dtypes ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    size_t size;
} dtype_info[RT_ST_NDTYPES] = {
    [RT_ST_F64] = {"F64", 8},  [RT_ST_F32] = {"F32", 4}, [RT_ST_F16] = {"F16", 2},
    [RT_ST_BF16] = {"BF16", 2}, [RT_ST_I64] = {"I64", 8}, [RT_ST_I32] = {"I32", 4},
    [RT_ST_I16] = {"I16", 2},  [RT_ST_I8] = {"I8", 1},   [RT_ST_U8] = {"U8", 1},
    [RT_ST_BOOL] = {"BOOL", 1},
};

const char *rt_st_dtype_name(rt_st_dtype dt)
{
    return (unsigned)dt < RT_ST_NDTYPES ? dtype_info[dt].name : "?";
}

size_t rt_st_dtype_size(rt_st_dtype dt)
{
    return (unsigned)dt < RT_ST_NDTYPES ? dtype_info[dt].size : 0;
}

int rt_st_dtype_parse(const char *name, rt_st_dtype *out)
{
    for (int i = 0; i < RT_ST_NDTYPES; i++)
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (rt_st_dtype)i;
            return 0;
        }
    return -1;
}

static bool dtype_is_float(rt_st_dtype dt)
{
    return dt == RT_ST_F64 || dt == RT_ST_F32 || dt == RT_ST_F16 || dt == RT_ST_BF16;
}

/* ---- helpers ----------------------------------------------------------------------- */

/* "<path>: <message>" */
const char *rt_st_shape_str(const rt_st_tensor *t, char *buf, size_t size)
{
    size_t k = 0;
    if (size == 0)
        return buf;
    buf[0] = 0;
    k += (size_t)snprintf(buf + k, size - k, "[");
    for (int i = 0; i < t->ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* numel and nbytes of a shape; -1 on overflow of int64 / size_t. */
static int shape_size(const int64_t *shape, int ndim, rt_st_dtype dt, int64_t *numel,
                      size_t *nbytes)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n))
            return -1;
    int64_t b;
    if (__builtin_mul_overflow(n, (int64_t)rt_st_dtype_size(dt), &b) || (uint64_t)b > SIZE_MAX)
        return -1;
    *numel = n;
    *nbytes = (size_t)b;
    return 0;
}

/* ---- reading ----------------------------------------------------------------------- */

static void free_file(rt_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->ntensors; i++)
        free((char *)f->tensors[i].name);
    for (size_t i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_vals);
    if (f->map)
        munmap(f->map, f->map_size);
    free(f->path);
    free(f);
}

void rt_st_close(rt_st_file *f)
{
    free_file(f);
}

/* Reads a non-negative JSON integer.  -1 if `v` is not one. */
static int json_nonneg_int(json_object *v, int64_t *out)
{
    if (!v || !json_object_is_type(v, json_type_int))
        return -1;
    int64_t x = json_object_get_int64(v);
    if (x < 0)
        return -1;
    if (x == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
        return -1;
    *out = x;
    return 0;
}

static const char *json_kind(json_object *v)
{
    return json_type_to_name(json_object_get_type(v));
}

/* Parses one tensor entry into t (name already set); `path` for messages. */
static int parse_entry(const char *path, const char *name, json_object *v, size_t data_size,
                       rt_st_tensor *t, int64_t *begin, mgc_error *e)
{
    if (!json_object_is_type(v, json_type_object))
        return mgc_path_errorf(e, path, "tensor '%s': header entry is a JSON %s, expected an object",
                      name, json_kind(v));
    json_object *jdt, *jshape, *joff;
    if (!json_object_object_get_ex(v, "dtype", &jdt))
        return mgc_path_errorf(e, path, "tensor '%s': header entry has no \"dtype\"", name);
    if (!json_object_object_get_ex(v, "shape", &jshape))
        return mgc_path_errorf(e, path, "tensor '%s': header entry has no \"shape\"", name);
    if (!json_object_object_get_ex(v, "data_offsets", &joff))
        return mgc_path_errorf(e, path, "tensor '%s': header entry has no \"data_offsets\"", name);

    if (!json_object_is_type(jdt, json_type_string))
        return mgc_path_errorf(e, path, "tensor '%s': dtype is a JSON %s, expected a string", name,
                      json_kind(jdt));
    const char *dts = json_object_get_string(jdt);
    if (rt_st_dtype_parse(dts, &t->dtype) != 0)
        return mgc_path_errorf(e, path,
                      "tensor '%s': unknown dtype '%s' (known: F64, F32, F16, BF16, I64, I32, "
                      "I16, I8, U8, BOOL)", name, dts);

    if (!json_object_is_type(jshape, json_type_array))
        return mgc_path_errorf(e, path, "tensor '%s': shape is a JSON %s, expected an array", name,
                      json_kind(jshape));
    size_t nd = json_object_array_length(jshape);
    if (nd > RT_ST_MAX_DIMS)
        return mgc_path_errorf(e, path, "tensor '%s': shape has rank %zu, more than the %d supported",
                      name, nd, RT_ST_MAX_DIMS);
    t->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        json_object *d = json_object_array_get_idx(jshape, i);
        if (json_nonneg_int(d, &t->shape[i]) != 0)
            return mgc_path_errorf(e, path,
                          "tensor '%s': shape[%zu] is %s, expected a non-negative integer",
                          name, i, d ? json_object_to_json_string(d) : "null");
    }
    char sb[256];
    if (shape_size(t->shape, t->ndim, t->dtype, &t->numel, &t->nbytes) != 0)
        return mgc_path_errorf(e, path, "tensor '%s': shape %s of %s overflows the addressable size",
                      name, rt_st_shape_str(t, sb, sizeof sb), dts);

    if (!json_object_is_type(joff, json_type_array) || json_object_array_length(joff) != 2)
        return mgc_path_errorf(e, path, "tensor '%s': data_offsets is %s, expected [begin, end]", name,
                      json_object_to_json_string(joff));
    int64_t b, en;
    if (json_nonneg_int(json_object_array_get_idx(joff, 0), &b) != 0 ||
        json_nonneg_int(json_object_array_get_idx(joff, 1), &en) != 0)
        return mgc_path_errorf(e, path,
                      "tensor '%s': data_offsets %s must be two non-negative integers", name,
                      json_object_to_json_string_ext(joff, JSON_C_TO_STRING_PLAIN));
    if (b > en)
        return mgc_path_errorf(e, path, "tensor '%s': data_offsets [%lld, %lld] has begin > end", name,
                      (long long)b, (long long)en);
    if ((uint64_t)en > data_size)
        return mgc_path_errorf(e, path,
                      "tensor '%s': data_offsets [%lld, %lld] run past the end of the data "
                      "section (%zu bytes; is the file truncated?)",
                      name, (long long)b, (long long)en, data_size);
    if ((uint64_t)(en - b) != t->nbytes)
        return mgc_path_errorf(e, path,
                      "tensor '%s': data_offsets [%lld, %lld] hold %lld bytes but shape %s of "
                      "%s needs %zu bytes",
                      name, (long long)b, (long long)en, (long long)(en - b),
                      rt_st_shape_str(t, sb, sizeof sb), dts, t->nbytes);
    *begin = b;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const rt_st_tensor *)a)->name, ((const rt_st_tensor *)b)->name);
}

/* For the overlap check: tensor indices ordered by their first byte. */
typedef struct {
    int64_t begin, end;
    size_t idx;
} st_range;

static int cmp_range(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int parse_metadata(rt_st_file *f, json_object *m, mgc_error *e)
{
    if (!json_object_is_type(m, json_type_object))
        return mgc_path_errorf(e, f->path, "__metadata__ is a JSON %s, expected an object of strings",
                      json_kind(m));
    size_t n = (size_t)json_object_object_length(m);
    f->meta_keys = calloc(n ? n : 1, sizeof *f->meta_keys);
    f->meta_vals = calloc(n ? n : 1, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals)
        return mgc_path_errorf(e, f->path, "out of memory");
    json_object_object_foreach(m, key, val)
    {
        if (!json_object_is_type(val, json_type_string))
            return mgc_path_errorf(e, f->path, "__metadata__ '%s' is a JSON %s, expected a string", key,
                          json_kind(val));
        const char *s = json_object_get_string(val);
        if (strlen(s) != (size_t)json_object_get_string_len(val))
            return mgc_path_errorf(e, f->path, "__metadata__ '%s' contains a NUL character", key);
        char *k = strdup(key), *vs = strdup(s);
        if (!k || !vs) {
            free(k);
            free(vs);
            return mgc_path_errorf(e, f->path, "out of memory");
        }
        f->meta_keys[f->nmeta] = k;
        f->meta_vals[f->nmeta] = vs;
        f->nmeta++;
    }
    return 0;
}

/* Parses and checks the header JSON; fills f->tensors (sorted) and the metadata. */
static int parse_header(rt_st_file *f, const char *hdr, size_t n, mgc_error *e)
{
    const char *why;
    size_t end;
    json_object *root = mgc_json_parse_strict(hdr, n, &why, &end);
    if (!root)
        return mgc_path_errorf(e, f->path, "header is not valid JSON (%s near byte %zu of %zu)", why, 8 + end, 8 + n);
    int rc = -1;
    st_range *ranges = NULL;
    if (!json_object_is_type(root, json_type_object)) {
        mgc_path_errorf(e, f->path, "header is a JSON %s, expected an object", json_kind(root));
        goto out;
    }
    size_t nent = (size_t)json_object_object_length(root);
    f->tensors = calloc(nent ? nent : 1, sizeof *f->tensors);
    ranges = calloc(nent ? nent : 1, sizeof *ranges);
    if (!f->tensors || !ranges) {
        mgc_path_errorf(e, f->path, "out of memory");
        goto out;
    }
    json_object_object_foreach(root, key, val)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if (parse_metadata(f, val, e) != 0)
                goto out;
            continue;
        }
        rt_st_tensor *t = &f->tensors[f->ntensors];
        int64_t begin = 0;
        if (parse_entry(f->path, key, val, f->data_size, t, &begin, e) != 0)
            goto out;
        if (!(t->name = strdup(key))) {
            mgc_path_errorf(e, f->path, "out of memory");
            goto out;
        }
        t->data = f->data + begin;
        t->file = f->path;
        ranges[f->ntensors] = (st_range){begin, begin + (int64_t)t->nbytes, f->ntensors};
        f->ntensors++;
    }

    /* No two non-empty byte ranges may share a byte. */
    qsort(ranges, f->ntensors, sizeof *ranges, cmp_range);
    int64_t max_end = -1;
    size_t max_idx = 0;
    for (size_t i = 0; i < f->ntensors; i++) {
        if (ranges[i].begin == ranges[i].end)
            continue;
        if (ranges[i].begin < max_end) {
            const rt_st_tensor *a = &f->tensors[max_idx], *b = &f->tensors[ranges[i].idx];
            int64_t ab = (const unsigned char *)a->data - f->data;
            mgc_path_errorf(e, f->path,
                   "tensors '%s' (bytes [%lld, %lld)) and '%s' (bytes [%lld, %lld)) overlap",
                   a->name, (long long)ab, (long long)(ab + (int64_t)a->nbytes), b->name,
                   (long long)ranges[i].begin, (long long)ranges[i].end);
            goto out;
        }
        max_end = ranges[i].end;
        max_idx = ranges[i].idx;
    }
    qsort(f->tensors, f->ntensors, sizeof *f->tensors, cmp_tensor_name);
    rc = 0;
out:
    free(ranges);
    json_object_put(root);
    return rc;
}

/* Checks the header length, finds the header and data and parses the header of the
 * `size` bytes at `base` (size >= 8).  Shared by rt_st_open and rt_st_open_memory. */
static int validate_bytes(rt_st_file *f, const unsigned char *base, size_t size, mgc_error *e)
{
    const char *path = f->path;
    uint64_t n = load_le64(base);
    if (n > RT_ST_MAX_HEADER)
        return mgc_path_errorf(e, path, "header length %llu is larger than the %u-byte limit (is this a "
               "safetensors file?)",
               (unsigned long long)n, RT_ST_MAX_HEADER);
    if (n > size - 8)
        return mgc_path_errorf(e, path, "header length %llu runs past the end of the file (%zu bytes)",
               (unsigned long long)n, size);
    const char *hdr = (const char *)base + 8;
    const char *nul = memchr(hdr, 0, (size_t)n);
    if (nul)
        return mgc_path_errorf(e, path, "header contains a NUL byte at file offset %zu",
               (size_t)(nul - (const char *)base));
    f->data = base + 8 + n;
    f->data_size = size - 8 - (size_t)n;
    return parse_header(f, hdr, (size_t)n, e);
}

static int too_short(const char *path, size_t size, mgc_error *e)
{
    if (size == 0)
        return mgc_path_errorf(e, path, "file is empty, not a safetensors file");
    return mgc_path_errorf(e, path, "file is only %zu bytes, too short for the 8-byte header length",
                           size);
}

int rt_st_open_memory(const char *label, const void *bytes, size_t size, rt_st_file **out,
                      mgc_error *e)
{
    *out = NULL;
    if (size < 8)
        return too_short(label, size, e);
    rt_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(label))) {
        free(f);
        return mgc_path_errorf(e, label, "out of memory");
    }
    if (validate_bytes(f, bytes, size, e) != 0) {
        free_file(f);
        return -1;
    }
    *out = f;
    return 0;
}

int rt_st_open(const char *path, rt_st_file **out, mgc_error *e)
{
    *out = NULL;
    rt_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return mgc_path_errorf(e, path, "out of memory");
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mgc_path_errorf(e, path, "cannot open: %s", strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        mgc_path_errorf(e, path, "cannot stat: %s", strerror(errno));
        close(fd);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        mgc_path_errorf(e, path, "not a regular file");
        close(fd);
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    if (size < 8) {
        too_short(path, size, e);
        close(fd);
        goto fail;
    }
    f->map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        mgc_path_errorf(e, path, "cannot mmap %zu bytes: %s", size, strerror(errno));
        goto fail;
    }
    f->map_size = size;
    if (validate_bytes(f, f->map, size, e) != 0)
        goto fail;
    *out = f;
    return 0;
fail:
    free_file(f);
    return -1;
}

const char *rt_st_path(const rt_st_file *f)
{
    return f->path;
}

size_t rt_st_count(const rt_st_file *f)
{
    return f->ntensors;
}

const rt_st_tensor *rt_st_at(const rt_st_file *f, size_t i)
{
    return i < f->ntensors ? &f->tensors[i] : NULL;
}

const rt_st_tensor *rt_st_find(const rt_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->ntensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->tensors[mid].name);
        if (c == 0)
            return &f->tensors[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *rt_st_metadata(const rt_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_vals[i];
    return NULL;
}

size_t rt_st_metadata_count(const rt_st_file *f)
{
    return f->nmeta;
}

int rt_st_metadata_at(const rt_st_file *f, size_t i, const char **key, const char **value)
{
    if (i >= f->nmeta)
        return -1;
    *key = f->meta_keys[i];
    *value = f->meta_vals[i];
    return 0;
}

/* ---- converters -------------------------------------------------------------------- */

static float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t ex = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (ex == 0) {
        /* zero or subnormal: man * 2^-24, exact in f32 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (ex == 31)
        u = sign | 0x7f800000u | (man << 13);
    else
        u = sign | ((ex + 112u) << 23) | (man << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Loads n elements of dtype dt from possibly unaligned src, converting each with CONV. */
#define CONVERT_LOOP(CTYPE, CONV)                                                          \
    for (size_t j = 0; j < n; j++) {                                                       \
        CTYPE x_;                                                                          \
        memcpy(&x_, src + j * sizeof(CTYPE), sizeof(CTYPE));                               \
        dst[j] = CONV(x_);                                                                 \
    }
#define AS_IS(x) (x)
#define AS_BOOL(x) ((x) != 0)

static void row_to_f32(const unsigned char *src, rt_st_dtype dt, size_t n, float *dst)
{
    switch (dt) {
    case RT_ST_F32: memcpy(dst, src, n * 4); break;
    case RT_ST_BF16: CONVERT_LOOP(uint16_t, bf16_to_f32) break;
    case RT_ST_F16: CONVERT_LOOP(uint16_t, f16_to_f32) break;
    case RT_ST_F64: CONVERT_LOOP(double, (float)) break;
    case RT_ST_I64: CONVERT_LOOP(int64_t, (float)) break;
    case RT_ST_I32: CONVERT_LOOP(int32_t, (float)) break;
    case RT_ST_I16: CONVERT_LOOP(int16_t, (float)) break;
    case RT_ST_I8: CONVERT_LOOP(int8_t, (float)) break;
    case RT_ST_U8: CONVERT_LOOP(uint8_t, (float)) break;
    case RT_ST_BOOL: CONVERT_LOOP(uint8_t, (float)AS_BOOL) break;
    case RT_ST_NDTYPES: break;
    }
}

int rt_st_read_f32(const rt_st_tensor *t, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                   float *dst, mgc_error *e)
{
    int64_t rows = 1, cols = 1;
    if (t->ndim >= 1)
        cols = t->shape[t->ndim - 1];
    for (int i = 0; i + 1 < t->ndim; i++)
        rows *= t->shape[i]; /* cannot overflow: numel was checked at open */
    if (r0 < 0 || r0 > r1 || r1 > rows || c0 < 0 || c0 > c1 || c1 > cols) {
        char sb[256];
        return mgc_errorf(e,
                          "%s: tensor '%s': slice rows [%lld, %lld) x cols [%lld, %lld) is out "
                          "of range for shape %s (viewed as %lld x %lld)",
                          t->file, t->name, (long long)r0, (long long)r1, (long long)c0,
                          (long long)c1, rt_st_shape_str(t, sb, sizeof sb), (long long)rows,
                          (long long)cols);
    }
    size_t es = rt_st_dtype_size(t->dtype), w = (size_t)(c1 - c0);
    const unsigned char *base = t->data;
    for (int64_t r = r0; r < r1; r++)
        row_to_f32(base + ((size_t)r * (size_t)cols + (size_t)c0) * es, t->dtype, w,
                   dst + (size_t)(r - r0) * w);
    return 0;
}

void rt_st_release_rows(const rt_st_tensor *t, int64_t r0, int64_t r1)
{
    int64_t cols = t->ndim >= 1 ? t->shape[t->ndim - 1] : 1;
    if (r1 <= r0 || !t->nbytes)
        return;
    size_t es = rt_st_dtype_size(t->dtype), page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)t->data + (size_t)r0 * (size_t)cols * es;
    uintptr_t b = (uintptr_t)t->data + (size_t)r1 * (size_t)cols * es;
    a &= ~(uintptr_t)(page - 1);
    b = (b + page - 1) & ~(uintptr_t)(page - 1);
    /* a read-only private file mapping: dropped pages are read again from the
     * file if touched, so this only gives memory back */
    madvise((void *)a, (size_t)(b - a), MADV_DONTNEED);
}

void rt_st_release_tensor(const rt_st_tensor *t)
{
    int64_t cols = t->ndim >= 1 ? t->shape[t->ndim - 1] : 1;
    if (cols > 0)
        rt_st_release_rows(t, 0, t->numel / cols);
}

static int check_whole(const rt_st_tensor *t, size_t n, const char *what, mgc_error *e)
{
    if (n != (size_t)t->numel) {
        char sb[256];
        return mgc_errorf(e,
                          "%s: tensor '%s': reading %zu %s values but shape %s has %lld "
                          "elements",
                          t->file, t->name, n, what, rt_st_shape_str(t, sb, sizeof sb),
                          (long long)t->numel);
    }
    return 0;
}

int rt_st_read_i64(const rt_st_tensor *t, int64_t *dst, size_t n, mgc_error *e)
{
    if (dtype_is_float(t->dtype))
        return mgc_errorf(e, "%s: tensor '%s' is %s, expected an integer dtype", t->file,
                          t->name, rt_st_dtype_name(t->dtype));
    if (check_whole(t, n, "int64", e) != 0)
        return -1;
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case RT_ST_I64: memcpy(dst, src, n * 8); break;
    case RT_ST_I32: CONVERT_LOOP(int32_t, AS_IS) break;
    case RT_ST_I16: CONVERT_LOOP(int16_t, AS_IS) break;
    case RT_ST_I8: CONVERT_LOOP(int8_t, AS_IS) break;
    case RT_ST_U8: CONVERT_LOOP(uint8_t, AS_IS) break;
    case RT_ST_BOOL: CONVERT_LOOP(uint8_t, AS_BOOL) break;
    default: break;
    }
    return 0;
}

int rt_st_read_f64(const rt_st_tensor *t, double *dst, size_t n, mgc_error *e)
{
    if (check_whole(t, n, "float64", e) != 0)
        return -1;
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case RT_ST_F64: memcpy(dst, src, n * 8); break;
    case RT_ST_F32: CONVERT_LOOP(float, (double)) break;
    case RT_ST_BF16: CONVERT_LOOP(uint16_t, (double)bf16_to_f32) break;
    case RT_ST_F16: CONVERT_LOOP(uint16_t, (double)f16_to_f32) break;
    case RT_ST_I64: CONVERT_LOOP(int64_t, (double)) break;
    case RT_ST_I32: CONVERT_LOOP(int32_t, (double)) break;
    case RT_ST_I16: CONVERT_LOOP(int16_t, (double)) break;
    case RT_ST_I8: CONVERT_LOOP(int8_t, (double)) break;
    case RT_ST_U8: CONVERT_LOOP(uint8_t, (double)) break;
    case RT_ST_BOOL: CONVERT_LOOP(uint8_t, (double)AS_BOOL) break;
    case RT_ST_NDTYPES: break;
    }
    return 0;
}

/* ---- writing ----------------------------------------------------------------------- */

rt_st_entry rt_st_entry_of(const rt_st_tensor *t)
{
    rt_st_entry en = {.name = t->name, .dtype = t->dtype, .ndim = t->ndim,
                      .data = t->data, .nbytes = t->nbytes};
    memcpy(en.shape, t->shape, sizeof en.shape);
    return en;
}

static int cmp_entry_ptr(const void *a, const void *b)
{
    const rt_st_entry *x = *(const rt_st_entry *const *)a, *y = *(const rt_st_entry *const *)b;
    return strcmp(x->name, y->name);
}

/* Validates the entries and builds the space-padded header text (caller frees). */
static char *build_header(const char *path, const rt_st_entry *const *sorted, size_t n,
                          const char *const *meta_kv, size_t *hlen, mgc_error *e)
{
    json_object *root = json_object_new_object(), *meta = NULL;
    char *out = NULL;
    if (!root) {
        mgc_path_errorf(e, path, "out of memory");
        return NULL;
    }
    if (meta_kv) {
        meta = json_object_new_object();
        if (!meta || json_object_object_add(root, "__metadata__", meta) != 0) {
            json_object_put(meta);
            mgc_path_errorf(e, path, "out of memory");
            goto out;
        }
        for (size_t i = 0; meta_kv[i]; i += 2) {
            if (!meta_kv[i + 1]) {
                mgc_path_errorf(e, path, "metadata key '%s' has no value", meta_kv[i]);
                goto out;
            }
            if (json_object_object_get_ex(meta, meta_kv[i], NULL)) {
                mgc_path_errorf(e, path, "metadata key '%s' is given twice", meta_kv[i]);
                goto out;
            }
            json_object_object_add(meta, meta_kv[i], json_object_new_string(meta_kv[i + 1]));
        }
    }
    int64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const rt_st_entry *t = sorted[i];
        json_object *o = json_object_new_object(), *sh = json_object_new_array(),
                    *of = json_object_new_array();
        if (!o || !sh || !of) {
            json_object_put(o);
            json_object_put(sh);
            json_object_put(of);
            mgc_path_errorf(e, path, "out of memory");
            goto out;
        }
        json_object_object_add(root, t->name, o);
        json_object_object_add(o, "dtype", json_object_new_string(rt_st_dtype_name(t->dtype)));
        for (int d = 0; d < t->ndim; d++)
            json_object_array_add(sh, json_object_new_int64(t->shape[d]));
        json_object_object_add(o, "shape", sh);
        json_object_array_add(of, json_object_new_int64(off));
        off += (int64_t)t->nbytes;
        json_object_array_add(of, json_object_new_int64(off));
        json_object_object_add(o, "data_offsets", of);
    }
    const char *s =
        json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t len = strlen(s), padded = (len + 7) / 8 * 8;
    if (padded > RT_ST_MAX_HEADER) {
        mgc_path_errorf(e, path, "header would be %zu bytes, more than the %u-byte limit", padded,
               RT_ST_MAX_HEADER);
        goto out;
    }
    if (!(out = malloc(padded + 1))) {
        mgc_path_errorf(e, path, "out of memory");
        goto out;
    }
    memcpy(out, s, len);
    memset(out + len, ' ', padded - len);
    out[padded] = 0;
    *hlen = padded;
out:
    json_object_put(root);
    return out;
}

static int check_entries(const char *path, const rt_st_entry *const *sorted, size_t n,
                         mgc_error *e)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const rt_st_entry *t = sorted[i];
        if (!t->name || !t->name[0])
            return mgc_path_errorf(e, path, "cannot write a tensor with an empty name");
        if (strcmp(t->name, "__metadata__") == 0)
            return mgc_path_errorf(e, path, "cannot write a tensor named '__metadata__'");
        if (i > 0 && strcmp(sorted[i - 1]->name, t->name) == 0)
            return mgc_path_errorf(e, path, "tensor '%s' is given twice", t->name);
        if ((unsigned)t->dtype >= RT_ST_NDTYPES)
            return mgc_path_errorf(e, path, "tensor '%s': invalid dtype %d", t->name, (int)t->dtype);
        if (t->ndim < 0 || t->ndim > RT_ST_MAX_DIMS)
            return mgc_path_errorf(e, path, "tensor '%s': rank %d is outside 0..%d", t->name, t->ndim,
                          RT_ST_MAX_DIMS);
        rt_st_tensor view = {.name = t->name, .ndim = t->ndim};
        memcpy(view.shape, t->shape, sizeof view.shape);
        int64_t numel;
        size_t nbytes;
        char sb[256];
        if (shape_size(t->shape, t->ndim, t->dtype, &numel, &nbytes) != 0)
            return mgc_path_errorf(e, path, "tensor '%s': shape %s is negative or overflows", t->name,
                          rt_st_shape_str(&view, sb, sizeof sb));
        if (nbytes != t->nbytes)
            return mgc_path_errorf(e, path,
                          "tensor '%s': %zu bytes given but shape %s of %s needs %zu bytes",
                          t->name, t->nbytes, rt_st_shape_str(&view, sb, sizeof sb),
                          rt_st_dtype_name(t->dtype), nbytes);
        if (nbytes && !t->data)
            return mgc_path_errorf(e, path, "tensor '%s': no data", t->name);
        if (__builtin_add_overflow(total, (int64_t)nbytes, &total))
            return mgc_path_errorf(e, path, "total tensor size overflows");
    }
    return 0;
}

int rt_st_write(const char *path, const rt_st_entry *tensors, size_t n,
                const char *const *meta_kv, mgc_error *e)
{
    const rt_st_entry **sorted = calloc(n ? n : 1, sizeof *sorted);
    char *hdr = NULL;
    int rc = -1;
    if (!sorted)
        return mgc_path_errorf(e, path, "out of memory");
    for (size_t i = 0; i < n; i++)
        sorted[i] = &tensors[i];
    for (size_t i = 0; i < n; i++)
        if (!sorted[i]->name) {
            mgc_path_errorf(e, path, "cannot write a tensor without a name");
            goto out;
        }
    qsort(sorted, n, sizeof *sorted, cmp_entry_ptr);
    if (check_entries(path, sorted, n, e) != 0)
        goto out;
    size_t hlen = 0;
    if (!(hdr = build_header(path, sorted, n, meta_kv, &hlen, e)))
        goto out;
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    mgc_atomic_file f;
    if (mgc_atomic_open(&f, path, e) != 0)
        goto out;
    if (mgc_atomic_write(&f, lenbuf, 8, e) != 0 || mgc_atomic_write(&f, hdr, hlen, e) != 0) {
        mgc_atomic_abort(&f);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (sorted[i]->nbytes && mgc_atomic_write(&f, sorted[i]->data, sorted[i]->nbytes, e) != 0) {
            mgc_error_prefix(e, "writing tensor '%s'", sorted[i]->name);
            mgc_atomic_abort(&f);
            goto out;
        }
    if (mgc_atomic_commit(&f, e) != 0)
        goto out;
    rc = 0;
out:
    free(hdr);
    free(sorted);
    return rc;
}
