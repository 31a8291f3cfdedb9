/* engine_head: the ops of the logits head, for a prefill that needs only the
 * last row's logits.
 *
 * Generating from a prompt needs the logits of its last position only, yet a
 * plain prefill computes the head (final norm, lm_head, soft-cap, the vocab
 * gather) for every position: for a 150k vocabulary that is a quarter of a
 * 0.6B model's prefill FLOPs, and a [rows][vocab] buffer to fill.  At load,
 * the prefill entry's head is found going back from its output op: an op
 * joins when it works row by row and only head ops (or the output) read its
 * result: that is the lm_head and final norm, and back to the last attention
 * (o_proj, the last layer's MLP and residual adds).  A last-row prefill
 * (rt_engine_prefill_last) runs those ops on the last row alone; every other
 * op runs as usual, so the cache is filled exactly as by a full prefill. */
#ifndef RT_ENGINE_HEAD_H
#define RT_ENGINE_HEAD_H

#include "mgc_error.h"
#include "plan.h"

/* head[i] != 0: op i of `en` is part of the logits head.  *head is NULL (no
 * head ops) when the entry has no output op; free() it. */
int rt_head_ops_find(const mgc_plan_entry *en, unsigned char **head, mgc_error *e);

#endif
