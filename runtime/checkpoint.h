/* checkpoint: a HuggingFace model's weights as one set of named tensors.
 *
 * A checkpoint is a directory with a single `model.safetensors`, or with
 * `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor name: shard
 * file name}}) and its shards.  rt_ckpt_open opens and validates every file (see
 * safetensors.h) and presents all tensors as one name-sorted set; the data stay
 * memory-mapped until rt_ckpt_close.  Errors name the file and the cause.
 */
#ifndef RT_CHECKPOINT_H
#define RT_CHECKPOINT_H

#include "safetensors.h"

typedef struct rt_ckpt rt_ckpt;

/* Opens `path`, which is either
 *   - a directory holding model.safetensors (preferred, as transformers does) or
 *     model.safetensors.index.json and its shards, or
 *   - a .safetensors file, or a *.index.json file (its shards are next to it).
 * Index rules: a JSON object with an object "weight_map" of tensor name -> shard file
 * name (a string, plain file name: no '/', not "." or ".."), optional object "metadata";
 * each shard is opened once; every weight_map entry must exist in the shard it names and
 * every tensor of a shard must be listed in weight_map for that shard. */
int rt_ckpt_open(const char *path, rt_ckpt **out, mgc_error *e);
/* The same, but of a sharded checkpoint only the shards that hold one of
 * `names` are opened (and checked); the others need not exist.  A process that
 * holds some devices of a mesh, on a machine that has only the files it needs. */
int rt_ckpt_open_only(const char *path, const char *const *names, size_t n, rt_ckpt **out, mgc_error *e);
void rt_ckpt_close(rt_ckpt *ck);           /* NULL is fine */

/* The path given to rt_ckpt_open. */
const char *rt_ckpt_path(const rt_ckpt *ck);
const rt_st_tensor *rt_ckpt_find(const rt_ckpt *ck, const char *name);
/* All tensors of all shards in sorted-name order (for "unused weight" warnings). */
size_t rt_ckpt_count(const rt_ckpt *ck);
const rt_st_tensor *rt_ckpt_at(const rt_ckpt *ck, size_t i);
/* The opened files (1 for a single file). */
size_t rt_ckpt_nfiles(const rt_ckpt *ck);
const rt_st_file *rt_ckpt_file(const rt_ckpt *ck, size_t i);

#endif
