/* metrics: teacher-forcing eval of our logits against a reference, as tt-metal
 * scores its models (REFERENCE.md, "Teacher-forcing accuracy").
 *
 * Per position (one row of `vocab` logits):
 *   top1         our argmax (ties go to the lowest index; NaN never wins)
 *   top1_match   top1 == ref_top5[0]           (tt-metal: top5[i,0] == pred[i])
 *   top5_match   top1 is one of ref_top5[0..4]  (tt-metal: pred[i] in top5[i,:])
 *   pcc          Pearson correlation of our row with the reference row
 *   max_abs_err  max |ours[i] - ref[i]|
 *   kl           KL(ref || ours) of the two softmax distributions, in nats
 *   nll          -log softmax(ours)[next_token], the teacher-forced token
 * All arithmetic is in double; log-softmax subtracts the row maximum first.
 *
 * PCC, defined everywhere:
 *   - rows that are element-wise equal: 1 (also when both are constant);
 *   - otherwise, when either row is constant (zero variance): 0.  A collapsed,
 *     constant row of logits carries no signal and must not pass a PCC bar
 *     (stricter than treating an undefined correlation as a pass);
 *   - otherwise cov(x,y) / (sd(x) sd(y)) by two passes around the means,
 *     clamped to [-1, 1].
 * Non-finite logits of ours (a broken model): NaN or +inf makes pcc, kl and nll
 * NaN; -inf (a masked token) makes pcc NaN and kl/nll +inf where the reference
 * or the target puts mass on it.  max_abs_err is NaN if any difference is NaN.
 * NaN is sticky in the aggregates, so a broken position cannot hide.
 *
 * The reference: `ref` (its logits row) may be NULL when only its top-5 tokens
 * are known (tt-metal's .refpt files); pcc, max_abs_err and kl are then NaN
 * and not aggregated.  `ref_top5` may be NULL when `ref` is given: it is then
 * taken from `ref` (ties to the lowest index).  With neither, only top1 and nll
 * are computed.  ref_top5[0] must be a token in [0, vocab); ref_top5[1..4] may
 * be -1 (absent, for a vocabulary of fewer than 5 tokens).  Reference logits
 * must be finite: the reference is input data, and a NaN in it is an error. */
#ifndef RT_METRICS_H
#define RT_METRICS_H

#include <stddef.h>

#include "mgc_error.h"

#define RT_METRICS_TOPK 5

typedef struct rt_pos_metrics {
    int top1;                     /* our argmax; -1 if every logit is NaN */
    int has_ref_top5;             /* top1_match/top5_match/ref_top5 are meaningful */
    int ref_top5[RT_METRICS_TOPK]; /* the reference's top-5 used (given or derived) */
    int top1_match;
    int top5_match;
    int has_ref_logits;           /* pcc/max_abs_err/kl are meaningful */
    double pcc;
    double max_abs_err;
    double kl;
    int next_token;               /* -1 if none */
    double nll;                   /* NaN if next_token is -1 */
} rt_pos_metrics;

/* Fills *out for one position.  Returns -1 on bad input (vocab < 1, a NULL
 * row, a token out of range, a non-finite reference logit). */
int ev_metrics_row(const float *ours, const float *ref, int vocab, const int *ref_top5,
                   int next_token, rt_pos_metrics *out, mgc_error *e);

/* Pearson correlation of two rows as defined above. */
double ev_pcc(const float *x, const float *y, size_t n);

/* Aggregation over positions. */
typedef struct ev_metrics_acc {
    long positions;
    long n_top, top1_hits, top5_hits;
    long n_logits;
    double pcc_sum, pcc_min, max_abs_err, kl_sum, kl_max;
    long n_nll;
    double nll_sum;
} ev_metrics_acc;

typedef struct ev_metrics_summary {
    long positions; /* rows added */
    long n_top;     /* rows with a reference top-5 */
    double top1;    /* fraction of them with top1_match (NaN if none) */
    double top5;    /* fraction with top5_match (NaN if none) */
    long n_logits;  /* rows with reference logits */
    double pcc_min, pcc_mean, max_abs_err, kl_mean, kl_max; /* NaN if none */
    long n_nll;      /* rows with a teacher-forced next token */
    double nll_mean; /* mean NLL in nats (NaN if none) */
    double perplexity; /* exp(nll_mean) */
} ev_metrics_summary;

void ev_metrics_acc_init(ev_metrics_acc *acc);
void ev_metrics_acc_add(ev_metrics_acc *acc, const rt_pos_metrics *m);
void ev_metrics_acc_finish(const ev_metrics_acc *acc, ev_metrics_summary *out);

#endif
