/* ckpt_lookup.h: lets the compiler see a checkpoint's tensor names and
 * shapes (through mgc_tensor_lookup) without depending on the runtime. */
#ifndef MGC_CKPT_LOOKUP_H
#define MGC_CKPT_LOOKUP_H

#include "checkpoint.h"
#include "compile.h"

/* Fills *l to answer from `ck` (which must outlive *l). */
void mgc_ckpt_lookup_init(mgc_tensor_lookup *l, rt_ckpt *ck, const char *label);

/* True if DIR holds a checkpoint (model.safetensors or its index). */
int mgc_dir_has_checkpoint(const char *dir);

#endif
