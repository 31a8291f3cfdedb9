/* safetensors: read (memory-mapped, validated) and write HuggingFace .safetensors files.
 *
 * File format: an 8-byte little-endian u64 header length N, N bytes of JSON
 *   { "__metadata__": {string: string, ...},            (optional)
 *     "<name>": {"dtype": "BF16", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ... }
 * then the raw little-endian tensor bytes; offsets are relative to the first byte after
 * the header.
 *
 * Reading.  rt_st_open maps the file read-only and validates everything before returning:
 * the header length is sane (<= RT_ST_MAX_HEADER bytes and inside the file), the header
 * is a JSON object without NUL bytes, every entry has a known dtype, a shape of rank
 * <= RT_ST_MAX_DIMS with non-negative dims whose byte size does not overflow, data_offsets
 * [begin, end] with begin <= end <= data size and end - begin == numel * dtype size, no two
 * tensors' byte ranges overlap, and __metadata__ (if present) maps strings to strings.
 * After a successful open no accessor can read outside the mapping.  Every error message
 * starts with the file's path and names the tensor and the cause.
 *
 * Tensor data is little-endian and is NOT necessarily aligned to its element size (a
 * file may place a tensor at any byte offset); read it with memcpy or the rt_st_read_*
 * converters below, which handle any alignment.
 *
 * Lifetime: every pointer returned (tensors, names, data, metadata strings, file path)
 * stays valid until rt_st_close of its file.  The file is mapped, not copied: it must not
 * be truncated or rewritten in place while open (rt_st_write replaces files by rename,
 * which is safe).
 *
 * Checkpoints (a model directory, possibly sharded) are in checkpoint.h.
 *
 * Writing.  rt_st_write writes a valid file atomically (temp file in the same directory,
 * fsync, rename): on any error the previous file at that path is untouched.
 */
#ifndef RT_SAFETENSORS_H
#define RT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "mgc_error.h"

#define RT_ST_MAX_DIMS 8
/* Largest header accepted by rt_st_open (100 MB, the same bound as the reference
 * implementation). */
#define RT_ST_MAX_HEADER (100u * 1000u * 1000u)

typedef enum rt_st_dtype {
    RT_ST_F64,
    RT_ST_F32,
    RT_ST_F16,
    RT_ST_BF16,
    RT_ST_I64,
    RT_ST_I32,
    RT_ST_I16,
    RT_ST_I8,
    RT_ST_U8,
    RT_ST_BOOL,
    RT_ST_NDTYPES
} rt_st_dtype;

/* "F64", "BF16", ... as written in headers; "?" for an out-of-range value. */
const char *rt_st_dtype_name(rt_st_dtype dt);
/* Bytes per element (BOOL = 1); 0 for an out-of-range value. */
size_t rt_st_dtype_size(rt_st_dtype dt);
/* Parses a header dtype name (exact, case-sensitive).  Returns 0, or -1 if unknown. */
int rt_st_dtype_parse(const char *name, rt_st_dtype *out);

typedef struct rt_st_tensor {
    const char *name;
    rt_st_dtype dtype;
    int ndim;                       /* 0 (a scalar) .. RT_ST_MAX_DIMS */
    int64_t shape[RT_ST_MAX_DIMS];  /* entries >= ndim are 0 */
    int64_t numel;                  /* product of shape (1 for a scalar) */
    const void *data;               /* little-endian, possibly unaligned */
    size_t nbytes;                  /* numel * rt_st_dtype_size(dtype) */
    const char *file;               /* path of the file holding it */
} rt_st_tensor;

typedef struct rt_st_file rt_st_file;

/* Maps and validates `path`.  On success *out owns the mapping; on error *out is NULL. */
int rt_st_open(const char *path, rt_st_file **out, mgc_error *e);
/* Validates `size` bytes already in memory exactly as rt_st_open validates a file;
 * `label` stands for the file in messages.  The bytes are not copied: they must outlive
 * the returned handle.  (Used by the fuzz target, which must not touch the disk.) */
int rt_st_open_memory(const char *label, const void *bytes, size_t size, rt_st_file **out,
                      mgc_error *e);
void rt_st_close(rt_st_file *f);           /* NULL is fine */

const char *rt_st_path(const rt_st_file *f);
/* Tensors in sorted-name order (strcmp). */
size_t rt_st_count(const rt_st_file *f);
const rt_st_tensor *rt_st_at(const rt_st_file *f, size_t i);      /* NULL if i >= count */
const rt_st_tensor *rt_st_find(const rt_st_file *f, const char *name); /* NULL if absent */

/* __metadata__, in the file's order. */
const char *rt_st_metadata(const rt_st_file *f, const char *key);  /* NULL if absent */
size_t rt_st_metadata_count(const rt_st_file *f);
/* Returns 0 and sets *key, *value for entry i; -1 if i >= count. */
int rt_st_metadata_at(const rt_st_file *f, size_t i, const char **key, const char **value);

/* "[512, 256]" into buf (always NUL-terminated); returns buf. */
const char *rt_st_shape_str(const rt_st_tensor *t, char *buf, size_t size);

/* Converts the 2-D slice rows [r0,r1) x cols [c0,c1) of `t` to f32 into dst, row-major
 * [(r1-r0)][(c1-c0)].  The tensor is viewed as 2-D: a scalar as 1 x 1, a vector [n] as
 * 1 x n, a rank-k tensor (k >= 2) as [shape[0]*...*shape[k-2], shape[k-1]] (so
 * hidden_states [L+1, T, H] row l*T + t is position t of layer l).  Every dtype converts
 * (F64 rounds to nearest; integers convert as C does; BOOL to 0/1).  Errors if the slice
 * is out of range or empty bounds are reversed. */
int rt_st_read_f32(const rt_st_tensor *t, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                   float *dst, mgc_error *e);
/* Gives back the resident pages of rows [r0, r1) of `t` (2-D view as above; pages
 * shared with neighbouring data go too).  The data stay readable: a later read
 * brings them back from the file.  For a process that reads only its own slices
 * and must not keep the whole file resident. */
void rt_st_release_rows(const rt_st_tensor *t, int64_t r0, int64_t r1);
/* The same for the whole tensor.  Releasing only the rows read is not enough:
 * on a page fault the kernel also maps neighbouring pages already in the page
 * cache (fault-around), which other processes reading the same file put
 * there, so a rank's resident set grew by about 1 MiB per tensor. */
void rt_st_release_tensor(const rt_st_tensor *t);
/* The whole tensor, n == t->numel elements, to int64.  Integer dtypes and BOOL only. */
int rt_st_read_i64(const rt_st_tensor *t, int64_t *dst, size_t n, mgc_error *e);
/* The whole tensor, n == t->numel elements, to double (exact for F64/F32/F16/BF16 and
 * integers below 2^53). */
int rt_st_read_f64(const rt_st_tensor *t, double *dst, size_t n, mgc_error *e);

/* ---- writing ---------------------------------------------------------------------- */

typedef struct rt_st_entry {
    const char *name;               /* non-empty, unique, not "__metadata__" */
    rt_st_dtype dtype;
    int ndim;
    int64_t shape[RT_ST_MAX_DIMS];
    const void *data;               /* nbytes bytes, little-endian; may be NULL if 0 */
    size_t nbytes;                  /* must equal numel * dtype size */
} rt_st_entry;

/* Fills an rt_st_entry that copies `t` (same name, dtype, shape and bytes). */
rt_st_entry rt_st_entry_of(const rt_st_tensor *t);

/* Writes `n` tensors (any order; stored in sorted-name order, contiguous) and the
 * metadata pairs meta_kv = {key0, value0, key1, value1, ..., NULL} (may be NULL) to
 * `path`.  The header is space-padded to a multiple of 8 bytes.  Atomic: the data go to a
 * temporary file in the same directory which is fsync'ed and renamed over `path`; on any
 * error the temporary is removed and an existing file at `path` is left untouched.  A new
 * file gets mode 0644; a replaced file keeps its mode. */
int rt_st_write(const char *path, const rt_st_entry *tensors, size_t n,
                const char *const *meta_kv, mgc_error *e);

#endif
