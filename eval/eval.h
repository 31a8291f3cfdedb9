/* eval.h: teacher-forced evaluation of a loaded plan against a reference, as
 * tt-metal's accuracy tests do it: prefill the reference's prompt in one
 * pass, then decode one position at a time feeding the reference's own next
 * token whatever the model predicted, and compare every position's logits
 * with the reference's (top-1, top-5, PCC, max abs error, KL, NLL). */
#ifndef RT_EVAL_H
#define RT_EVAL_H

#include "engine.h"
#include "metrics.h"
#include "reference.h"

typedef struct ev_opts {
    int prefill_decode;     /* debug: run the prompt through the decode path too */
    int64_t max_positions;  /* stop after this many positions (0 = the whole reference) */
    float *logits_out;      /* if set: [positions][vocab] our logits */
    int32_t *top5_out;      /* if set: [positions][5] our five most likely tokens (the report) */
    void (*on_step)(void *ud, int64_t done, int64_t total); /* progress, may be NULL */
    void *ud;
} ev_opts;

typedef struct ev_result {
    int64_t positions;       /* positions compared */
    int64_t prompt_len;
    rt_pos_metrics *pos;     /* [positions] */
    ev_metrics_summary all, prefill, decode;
    double prefill_seconds, decode_seconds;
    int64_t decode_steps;
} ev_result;

int ev_teacher_forcing(rt_engine *en, const ev_reference *ref, const ev_opts *o, ev_result *out,
                            mgc_error *e);
void ev_result_free(ev_result *r);

/* Layer-by-layer comparison (the seeds' advice for localising a bringup bug):
 * one prefill over the reference's whole input_ids recording the residual
 * stream, compared with the reference's hidden_states: entry i < layers is
 * the value entering decoder layer i (0 = the embeddings), entry `layers` the
 * final norm's output. */
typedef struct ev_layer_cmp {
    int n;                  /* layers + 1 entries */
    double *pcc;            /* [n] over all positions and values */
    double *max_abs_err;    /* [n] */
} ev_layer_cmp;

int ev_layers(rt_engine *en, const ev_reference *ref, ev_layer_cmp *out, mgc_error *e);
void ev_layer_cmp_free(ev_layer_cmp *c);
/* The first entry whose PCC is below `threshold`, or -1. */
int ev_layer_cmp_first_below(const ev_layer_cmp *c, double threshold);

#endif
