/* model_dir.h: a HuggingFace model directory as the commands use it: its
 * config.json, and, when present, its checkpoint, whose tensor names and
 * shapes the compiler sees through mgc_tensor_lookup (without depending on
 * the runtime library that reads them). */
#ifndef MGC_MODEL_DIR_H
#define MGC_MODEL_DIR_H

#include "checkpoint.h"
#include "compile.h"

typedef struct mgc_model_dir {
    char config[4096];         /* DIR/config.json */
    rt_ckpt *ck;               /* NULL when DIR holds no checkpoint */
    mgc_tensor_lookup lookup;  /* answers from ck */
} mgc_model_dir;

/* need_weights: a directory without model.safetensors (or its index) is an
 * error; otherwise it is compiled from config.json alone. */
int mgc_model_dir_open(mgc_model_dir *m, const char *dir, int need_weights, mgc_error *e);
void mgc_model_dir_close(mgc_model_dir *m);

/* Sets the compile options' config and checkpoint from the directory. */
void mgc_model_dir_apply(const mgc_model_dir *m, mgc_compile_opts *o);

#endif
