/* model_dir.h: a HuggingFace model directory as the commands use it: its
 * config.json, and, when present, its checkpoint, whose tensor names and
 * shapes the compiler sees through mgc_tensor_lookup (without depending on
 * the runtime library that reads them). */
#ifndef MGC_MODEL_DIR_H
#define MGC_MODEL_DIR_H

#include "checkpoint.h"
#include "compile.h"

typedef struct mgc_model_dir {
    char dir[3072];            /* the checkpoint directory --model named (resolved) */
    char config[4096];         /* DIR/config.json */
    rt_ckpt *ck;               /* NULL when DIR holds no checkpoint */
    mgc_tensor_lookup lookup;  /* answers from ck */
} mgc_model_dir;

/* Where the checkpoint named by --model is.  `arg` is a local directory, a
 * HuggingFace cache entry (`models--ORG--NAME`, whose snapshot is taken), or
 * a hub id `ORG/NAME` found in the local HF cache ($HF_HUB_CACHE, else
 * $HF_HOME/hub, else ~/.cache/huggingface/hub): the snapshot refs/main
 * points at, or the only one.  mgc never downloads: anything else is an
 * error that says so.  Writes the directory to out[size]. */
int mgc_model_dir_resolve(const char *arg, char *out, size_t size, mgc_error *e);

/* need_weights: a directory without model.safetensors (or its index) is an
 * error; otherwise it is compiled from config.json alone. */
int mgc_model_dir_open(mgc_model_dir *m, const char *dir, int need_weights, mgc_error *e);
void mgc_model_dir_close(mgc_model_dir *m);

/* Sets the compile options' config and checkpoint from the directory. */
void mgc_model_dir_apply(const mgc_model_dir *m, mgc_compile_opts *o);

#endif
