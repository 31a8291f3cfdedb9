/* metrics: per-position teacher-forcing metrics and their aggregation.  See metrics.h. */
#include "metrics.h"

#include <math.h>

/* ---- helpers ------------------------------------------------------------------------ */

/* Index of the largest value; ties to the lowest index; NaN skipped; -1 if all NaN. */
static int argmax(const float *x, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i]) && (best < 0 || x[i] > x[best]))
            best = i;
    return best;
}

/* The k largest of x into idx[0..k), best first, ties to the lowest index;
 * entries beyond the non-NaN values are -1. */
static void topk(const float *x, int n, int k, int *idx)
{
    int have = 0;
    for (int j = 0; j < k; j++)
        idx[j] = -1;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i]))
            continue;
        if (have == k && !(x[i] > x[idx[k - 1]]))
            continue;
        int j = have < k ? have++ : k - 1;
        while (j > 0 && x[i] > x[idx[j - 1]]) { /* strictly: equal values keep order */
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

/* log(sum(exp(x))) in double with the maximum subtracted.  NaN if x holds a
 * NaN or +inf or is all -inf (softmax undefined). */
static double log_sum_exp(const float *x, int n)
{
    double m = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i]))
            return NAN;
        if (x[i] > m)
            m = x[i];
    }
    if (!isfinite(m))
        return NAN;
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += exp((double)x[i] - m);
    return m + log(s);
}

double ev_pcc(const float *x, const float *y, size_t n)
{
    int equal = 1, xconst = 1, yconst = 1;
    double sx = 0.0, sy = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return NAN;
        equal &= x[i] == y[i];
        xconst &= x[i] == x[0];
        yconst &= y[i] == y[0];
        sx += x[i];
        sy += y[i];
    }
    if (equal)
        return 1.0;
    if (xconst || yconst)
        return 0.0;
    double mx = sx / (double)n, my = sy / (double)n;
    double sxx = 0.0, syy = 0.0, sxy = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    if (!(sxx > 0.0) || !(syy > 0.0)) /* underflow of a tiny spread */
        return 0.0;
    double r = sxy / (sqrt(sxx) * sqrt(syy));
    return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
}

/* ---- one position ---------------------------------------------------------------------- */

int ev_metrics_row(const float *ours, const float *ref, int vocab, const int *ref_top5,
                   int next_token, rt_pos_metrics *out, mgc_error *e)
{
    if (!out)
        return mgc_errorf(e, "metrics: no output");
    if (!ours)
        return mgc_errorf(e, "metrics: no logits row");
    if (vocab < 1)
        return mgc_errorf(e, "metrics: vocabulary of %d tokens", vocab);
    if (next_token < -1 || next_token >= vocab)
        return mgc_errorf(e, "metrics: next token %d outside a vocabulary of %d", next_token,
                          vocab);
    if (ref_top5) {
        for (int j = 0; j < RT_METRICS_TOPK; j++) {
            int t = ref_top5[j];
            if (t >= vocab || t < -1 || (t == -1 && j == 0))
                return mgc_errorf(e, "metrics: reference top-5 entry %d is token %d, outside "
                                     "a vocabulary of %d",
                                  j, t, vocab);
        }
    }
    if (ref)
        for (int i = 0; i < vocab; i++)
            if (!isfinite(ref[i]))
                return mgc_errorf(e, "metrics: reference logit %d is %g (not finite)", i,
                                  (double)ref[i]);

    rt_pos_metrics m = {0};
    for (int j = 0; j < RT_METRICS_TOPK; j++)
        m.ref_top5[j] = -1;
    m.top1 = argmax(ours, vocab);
    m.next_token = next_token;
    m.pcc = m.max_abs_err = m.kl = m.nll = NAN;

    if (ref_top5 || ref) {
        m.has_ref_top5 = 1;
        if (ref_top5)
            for (int j = 0; j < RT_METRICS_TOPK; j++)
                m.ref_top5[j] = ref_top5[j];
        else
            topk(ref, vocab, vocab < RT_METRICS_TOPK ? vocab : RT_METRICS_TOPK, m.ref_top5);
        m.top1_match = m.top1 >= 0 && m.top1 == m.ref_top5[0];
        for (int j = 0; j < RT_METRICS_TOPK; j++)
            m.top5_match |= m.top1 >= 0 && m.top1 == m.ref_top5[j];
    }

    double lse_ours = log_sum_exp(ours, vocab);
    if (next_token >= 0)
        m.nll = isnan(lse_ours) ? NAN : lse_ours - (double)ours[next_token];

    if (ref) {
        m.has_ref_logits = 1;
        m.pcc = ev_pcc(ours, ref, (size_t)vocab);
        double err = 0.0;
        for (int i = 0; i < vocab; i++) {
            double d = fabs((double)ours[i] - (double)ref[i]);
            if (isnan(d)) {
                err = NAN;
                break;
            }
            if (d > err)
                err = d;
        }
        m.max_abs_err = err;

        double lse_ref = log_sum_exp(ref, vocab); /* finite: ref is checked */
        if (isnan(lse_ours)) {
            m.kl = NAN;
        } else {
            double kl = 0.0;
            for (int i = 0; i < vocab; i++) {
                double lp = (double)ref[i] - lse_ref;
                double p = exp(lp);
                if (p > 0.0)
                    kl += p * (lp - ((double)ours[i] - lse_ours));
            }
            m.kl = kl < 0.0 ? 0.0 : kl; /* rounding can leave a hair below 0 */
        }
    }
    *out = m;
    return 0;
}

/* ---- aggregation -------------------------------------------------------------------------- */

void ev_metrics_acc_init(ev_metrics_acc *acc)
{
    *acc = (ev_metrics_acc){0};
    acc->pcc_min = INFINITY;
}

/* min/max that keep a NaN once one was seen */
static double sticky_min(double a, double v)
{
    return isnan(a) || isnan(v) ? NAN : v < a ? v : a;
}

static double sticky_max(double a, double v)
{
    return isnan(a) || isnan(v) ? NAN : v > a ? v : a;
}

void ev_metrics_acc_add(ev_metrics_acc *acc, const rt_pos_metrics *m)
{
    acc->positions++;
    if (m->has_ref_top5) {
        acc->n_top++;
        acc->top1_hits += m->top1_match != 0;
        acc->top5_hits += m->top5_match != 0;
    }
    if (m->has_ref_logits) {
        acc->n_logits++;
        acc->pcc_sum += m->pcc;
        acc->pcc_min = sticky_min(acc->pcc_min, m->pcc);
        acc->max_abs_err = sticky_max(acc->max_abs_err, m->max_abs_err);
        acc->kl_sum += m->kl;
        acc->kl_max = sticky_max(acc->kl_max, m->kl);
    }
    if (m->next_token >= 0) {
        acc->n_nll++;
        acc->nll_sum += m->nll;
    }
}

void ev_metrics_acc_finish(const ev_metrics_acc *acc, ev_metrics_summary *out)
{
    ev_metrics_summary s = {0};
    s.positions = acc->positions;
    s.n_top = acc->n_top;
    s.top1 = acc->n_top ? (double)acc->top1_hits / (double)acc->n_top : NAN;
    s.top5 = acc->n_top ? (double)acc->top5_hits / (double)acc->n_top : NAN;
    s.n_logits = acc->n_logits;
    if (acc->n_logits) {
        s.pcc_min = acc->pcc_min;
        s.pcc_mean = acc->pcc_sum / (double)acc->n_logits;
        s.max_abs_err = acc->max_abs_err;
        s.kl_mean = acc->kl_sum / (double)acc->n_logits;
        s.kl_max = acc->kl_max;
    } else {
        s.pcc_min = s.pcc_mean = s.max_abs_err = s.kl_mean = s.kl_max = NAN;
    }
    s.n_nll = acc->n_nll;
    s.nll_mean = acc->n_nll ? acc->nll_sum / (double)acc->n_nll : NAN;
    s.perplexity = exp(s.nll_mean);
    *out = s;
}
