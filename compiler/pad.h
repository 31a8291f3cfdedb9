/* pad.h: per-device widths of split values (see pad.c). */
#ifndef MGC_PAD_H
#define MGC_PAD_H

#include "diag.h"
#include "ir.h"

/* Sets `padded` on every node and split weight of `ir`. */
int mgc_pad(mgc_ir *ir, int tile, mgc_diags *d);

#endif
