/* sampling: greedy, temperature, top-k and top-p draws with a seeded PRNG.  See sampling.h.
 *
 * A draw with top-p over the whole vocabulary does not sort the vocabulary.
 * Candidates are binned by their log-weight below the maximum, (max - x) / T,
 * one nat per bin (64 bins, the last open-ended); the bins are monotone in the
 * logit, so the nucleus lies within the first bins whose mass reaches top_p,
 * and only those candidates are sorted. */
#include "sampling.h"

#include <math.h>
#include <stdlib.h>

/* ---- PRNG: splitmix64 seeding, xoshiro256** ---------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ev_rng_seed(ev_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x); /* never all zero: splitmix64 is a bijection of a counter */
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t ev_rng_next(ev_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ev_rng_uniform(ev_rng *r)
{
    return (double)(ev_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- parameters ------------------------------------------------------------------------ */

int ev_sampler_check(float temperature, int top_k, float top_p, mgc_error *e)
{
    if (!isfinite(temperature) || temperature < 0.0f)
        return mgc_errorf(e, "sampling: temperature %g must be a finite number >= 0 (0 is greedy)",
                          (double)temperature);
    if (top_k < 0)
        return mgc_errorf(e, "sampling: top_k %d must be >= 0 (0 keeps every token)", top_k);
    if (!(top_p > 0.0f && top_p <= 1.0f))
        return mgc_errorf(e, "sampling: top_p %g must be in (0, 1] (1 keeps every token)",
                          (double)top_p);
    return 0;
}

int ev_sampler_init(ev_sampler *s, float temperature, int top_k, float top_p, uint64_t seed,
                    mgc_error *e)
{
    if (!s)
        return mgc_errorf(e, "sampling: no sampler");
    if (ev_sampler_check(temperature, top_k, top_p, e))
        return -1;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    ev_rng_seed(&s->rng, seed);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* The first index of the largest logit, NaN skipped (-1 if there is none),
 * and *nonfinite set when some logit is NaN or +inf, in one pass over 8
 * interleaved lanes: one chain of compares against logits[best] ran at
 * about a nanosecond a logit, 5 ms a decode step for 32 users of a 152k
 * vocabulary.  Each lane keeps its first value above -inf (strict >); the
 * lanes merge by value, then by the lower index: the first maximum
 * overall.  Only a row with nothing above -inf is scanned again for its
 * first non-NaN. */
static int greedy_scan(const float *logits, int vocab, int *nonfinite)
{
    enum { LANES = 8 };
    float bv[LANES];
    int bi[LANES], bad = 0;
    for (int j = 0; j < LANES; j++) {
        bv[j] = -INFINITY;
        bi[j] = -1;
    }
    int i = 0;
    for (; i + LANES <= vocab; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float x = logits[i + j];
            bad |= (x != x) | (x == INFINITY);
            if (x > bv[j]) {
                bv[j] = x;
                bi[j] = i + j;
            }
        }
    for (int j = 0; i + j < vocab; j++) {
        float x = logits[i + j];
        bad |= (x != x) | (x == INFINITY);
        if (x > bv[j]) {
            bv[j] = x;
            bi[j] = i + j;
        }
    }
    int best = -1;
    for (int j = 0; j < LANES; j++)
        if (bi[j] >= 0 && (best < 0 || bv[j] > logits[best] || (bv[j] == logits[best] && bi[j] < best)))
            best = bi[j];
    for (int k = 0; best < 0 && k < vocab; k++)
        if (!isnan(logits[k]))
            best = k; /* every logit -inf or NaN: the first -inf */
    *nonfinite = bad;
    return best;
}

int ev_sample_greedy(const float *logits, int vocab)
{
    int nonfinite;
    return greedy_scan(logits, vocab, &nonfinite);
}

/* Candidate order: larger logit first, then lower token id.  A total order, so
 * sorting with it is deterministic whatever the algorithm. */
static int better(const float *logits, const ev_sample_cand *a, const ev_sample_cand *b)
{
    float xa = logits[a->id], xb = logits[b->id];
    return xa > xb || (xa == xb && a->id < b->id);
}

/* Restores a heap with the *worst* candidate on top. */
static void sift_down(const float *logits, ev_sample_cand *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(logits, &h[w], &h[l]))
            w = l;
        if (r < n && better(logits, &h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        ev_sample_cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Heapsort into best-first order: deterministic, in place, and unlike qsort it
 * can compare by the logits the candidates point at. */
static void sort_cands(const float *logits, ev_sample_cand *c, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(logits, c, n, i);
    for (int end = n - 1; end > 0; end--) {
        ev_sample_cand t = c[0]; /* the worst goes to the back */
        c[0] = c[end];
        c[end] = t;
        sift_down(logits, c, end, 0);
    }
}

/* Moves the k best of c[0..n) into c[0..k), best first. */
static void select_top_k(const float *logits, ev_sample_cand *c, int n, int k)
{
    for (int i = k / 2 - 1; i >= 0; i--)
        sift_down(logits, c, k, i);
    for (int i = k; i < n; i++) {
        if (better(logits, &c[i], &c[0])) {
            c[0] = c[i];
            sift_down(logits, c, k, 0);
        }
    }
    sort_cands(logits, c, k);
}

/* ---- the draw -------------------------------------------------------------------------------- */

#define NBINS 64

int ev_sample(ev_sampler *s, const float *logits, int vocab, ev_sample_cand *scratch,
              mgc_error *e)
{
    if (!s || !logits)
        return mgc_errorf(e, "sampling: no sampler or no logits");
    if (vocab < 1)
        return mgc_errorf(e, "sampling: vocabulary of %d tokens", vocab);
    int bad = 0, best = greedy_scan(logits, vocab, &bad);
    for (int i = 0; bad && i < vocab; i++) {
        float x = logits[i];
        if (isnan(x) || x == INFINITY)
            return mgc_errorf(e, "sampling: logit %d is %g", i, (double)x);
    }
    if (best < 0 || logits[best] == -INFINITY)
        return mgc_errorf(e, "sampling: every one of the %d logits is -inf", vocab);
    if (s->temperature == 0.0f || s->top_k == 1)
        return best;
    if (!scratch)
        return mgc_errorf(e, "sampling: no scratch for a draw at temperature %g",
                          (double)s->temperature);

    const double m = logits[best], inv_t = 1.0 / (double)s->temperature;
    int n = 0;
    double z = 0.0;
    for (int i = 0; i < vocab; i++) {
        if (logits[i] == -INFINITY)
            continue;
        float w = (float)exp(((double)logits[i] - m) * inv_t);
        scratch[n].w = w;
        scratch[n].id = i;
        z += w;
        n++;
    }

    int sorted = 0;
    if (s->top_k > 0 && s->top_k < n) {
        select_top_k(logits, scratch, n, s->top_k);
        n = s->top_k;
        sorted = 1;
        z = 0.0;
        for (int i = 0; i < n; i++)
            z += scratch[i].w;
    }

    if (s->top_p < 1.0f) {
        double want = (double)s->top_p * z;
        if (!sorted) {
            /* keep only the bins that hold the nucleus, then sort those */
            double mass[NBINS] = {0};
            for (int i = 0; i < n; i++) {
                double d = (m - (double)logits[scratch[i].id]) * inv_t;
                int b = d < NBINS - 1 ? (int)d : NBINS - 1;
                mass[b] += scratch[i].w;
            }
            int last = NBINS - 1;
            double acc = 0.0;
            for (int b = 0; b < NBINS; b++) {
                acc += mass[b];
                if (acc >= want) {
                    last = b;
                    break;
                }
            }
            int kept = 0;
            for (int i = 0; i < n; i++) {
                double d = (m - (double)logits[scratch[i].id]) * inv_t;
                int b = d < NBINS - 1 ? (int)d : NBINS - 1;
                if (b <= last)
                    scratch[kept++] = scratch[i];
            }
            n = kept;
            sort_cands(logits, scratch, n);
        }
        double acc = 0.0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            acc += scratch[i].w;
            if (acc >= want) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
        z = 0.0;
        for (int i = 0; i < n; i++)
            z += scratch[i].w;
    }

    double target = ev_rng_uniform(&s->rng) * z, acc = 0.0;
    int last_pos = -1;
    for (int i = 0; i < n; i++) {
        if (scratch[i].w <= 0.0f)
            continue;
        acc += scratch[i].w;
        last_pos = i;
        if (target < acc)
            return scratch[i].id;
    }
    /* rounding left the target at the very top: the last token with weight */
    return last_pos >= 0 ? scratch[last_pos].id : best;
}
