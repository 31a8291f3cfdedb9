/* The kernels of plan version 2 (layer_norm, bias, scalar and unary ops,
 * softcap, MoE routing, expert scaling, sharding; sliding-window and
 * soft-capped attention; partial rotary) against plain double-precision
 * references written here, on random inputs of awkward sizes, and against
 * hand-worked cases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rnd_unit(void) /* uniform [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rnd_vec(size_t n, float scale)
{
    float *v = malloc(sizeof(float) * (n ? n : 1));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = rnd_unit() * scale;
    return v;
}

/* |got - want| <= tol * max(1, |want|) for every element. */
static void assert_close(const float *got, const double *want, size_t n, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]), lim = tol * fmax(1.0, fabs(want[i]));
        if (!(err <= lim))
            fail_msg("%s[%zu]: got %.9g, want %.9g", what, i, (double)got[i], want[i]);
    }
}

/* ---- layer norm ------------------------------------------------------- */

static void ref_layer_norm(const float *x, int rows, int dim, const float *w, const float *b, double eps,
                           double *out)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        double m = 0, v = 0;
        for (int i = 0; i < dim; i++)
            m += xr[i];
        m /= dim;
        for (int i = 0; i < dim; i++)
            v += (xr[i] - m) * (xr[i] - m);
        v /= dim; /* biased */
        for (int i = 0; i < dim; i++)
            out[(size_t)r * dim + i] = (xr[i] - m) / sqrt(v + eps) * w[i] + (b ? b[i] : 0.0);
    }
}

static void test_layer_norm(void **state)
{
    (void)state;
    const int dims[] = { 1, 7, 33, 161 };
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        int dim = dims[k], rows = 5;
        float *x = rnd_vec((size_t)rows * dim, 3.0f), *w = rnd_vec((size_t)dim, 1.5f), *b = rnd_vec((size_t)dim, 0.5f);
        for (int i = 0; i < dim; i++) /* an offset row: the mean matters */
            x[i] += 100.0f;
        float *out = malloc(sizeof(float) * (size_t)rows * dim);
        double *want = malloc(sizeof(double) * (size_t)rows * dim);
        for (int withb = 0; withb < 2; withb++) {
            rt_layer_norm(x, rows, dim, w, withb ? b : NULL, 1e-5f, out);
            ref_layer_norm(x, rows, dim, w, withb ? b : NULL, 1e-5, want);
            assert_close(out, want, (size_t)rows * dim, 2e-5, "layer_norm");
        }
        /* in place */
        rt_layer_norm(x, rows, dim, w, b, 1e-5f, x);
        assert_close(x, want, (size_t)rows * dim, 2e-5, "layer_norm in place");
        free(x), free(w), free(b), free(out), free(want);
    }
    /* hand-worked: [1, 2, 3, 4]: mean 2.5, biased var 1.25 */
    const float x4[4] = { 1, 2, 3, 4 }, one[4] = { 1, 1, 1, 1 }, zero[4] = { 0 };
    float o4[4];
    rt_layer_norm(x4, 1, 4, one, zero, 0.0f, o4);
    assert_true(fabs(o4[0] + 1.5 / sqrt(1.25)) < 1e-6 && fabs(o4[3] - 1.5 / sqrt(1.25)) < 1e-6);
}

/* ---- elementwise ------------------------------------------------------ */

static void test_elementwise(void **state)
{
    (void)state;
    const size_t n = 1037;
    float *x = rnd_vec(n, 6.0f), *y = rnd_vec(n, 2.0f), *out = malloc(sizeof(float) * n);
    double *want = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++)
        if (fabsf(y[i]) < 0.01f)
            y[i] = 0.5f;
    x[3] = -0.0f;
    x[5] = 0.0f;

    rt_add_scalar(x, 1.25f, out, n);
    for (size_t i = 0; i < n; i++) want[i] = (double)x[i] + 1.25;
    assert_close(out, want, n, 1.2e-7, "add_scalar");
    rt_div_scalar(x, 3.0f, out, n);
    for (size_t i = 0; i < n; i++) {
        want[i] = (double)x[i] / 3.0;
        assert_true(out[i] == (float)want[i]); /* a true division is correctly rounded */
    }
    rt_div(x, y, out, n);
    for (size_t i = 0; i < n; i++)
        assert_true(out[i] == (float)((double)x[i] / (double)y[i]));
    rt_tanh(x, out, n);
    for (size_t i = 0; i < n; i++) want[i] = tanh((double)x[i]);
    assert_close(out, want, n, 3e-7, "tanh");
    rt_exp_f32(x, out, n);
    for (size_t i = 0; i < n; i++) want[i] = exp((double)x[i]);
    assert_close(out, want, n, 3e-7, "exp");
    rt_sigmoid(x, out, n);
    for (size_t i = 0; i < n; i++) want[i] = 1.0 / (1.0 + exp(-(double)x[i]));
    assert_close(out, want, n, 3e-7, "sigmoid");
    rt_relu(x, out, n);
    for (size_t i = 0; i < n; i++) want[i] = x[i] > 0 ? x[i] : 0.0;
    assert_close(out, want, n, 0, "relu");
    float nan = NAN;
    rt_relu(&nan, out, 1);
    assert_true(isnan(out[0]));
    rt_softcap(x, 2.5f, out, n);
    for (size_t i = 0; i < n; i++) {
        want[i] = tanh((double)x[i] / 2.5) * 2.5;
        assert_true(fabsf(out[i]) <= 2.5f);
    }
    assert_close(out, want, n, 5e-7, "softcap");

    /* bias over rows of 13 */
    const int rows = 7, cols = 13;
    float *b = rnd_vec(cols, 1.0f);
    rt_add_bias(x, rows, cols, b, out);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            want[r * cols + c] = (double)x[r * cols + c] + b[c];
    assert_close(out, want, (size_t)rows * cols, 1.2e-7, "add_bias");
    free(x), free(y), free(out), free(want), free(b);
}

/* ---- MoE ---------------------------------------------------------------- */

static void test_route_hand_worked(void **state)
{
    (void)state;
    /* row 0: logits ln(1), ln(2), ln(3), ln(4) -> softmax 0.1 0.2 0.3 0.4;
     * top 2 = experts 3 and 2, renormalised 4/7 and 3/7.
     * row 1: a tie between experts 1 and 3 for second place: the lower index
     * (1) wins; top 2 = {0, 1}, each 1/2 of their sum. */
    const float x[2][4] = { { 0.0f, logf(2), logf(3), logf(4) }, { 2.0f, 1.0f, -1.0f, 1.0f } };
    float out[2][4];
    rt_route(&x[0][0], 2, 4, 2, &out[0][0]);
    assert_true(out[0][0] == 0 && out[0][1] == 0);
    assert_true(fabs(out[0][3] - 4.0 / 7.0) < 1e-6 && fabs(out[0][2] - 3.0 / 7.0) < 1e-6);
    double e2 = exp(2.0), e1 = exp(1.0);
    assert_true(fabs(out[1][0] - e2 / (e2 + e1)) < 1e-6 && fabs(out[1][1] - e1 / (e2 + e1)) < 1e-6);
    assert_true(out[1][2] == 0 && out[1][3] == 0);
    /* top_k = E keeps the plain softmax; in place works */
    float y[4] = { 0.0f, logf(2), logf(3), logf(4) };
    rt_route(y, 1, 4, 4, y);
    for (int j = 0; j < 4; j++)
        assert_true(fabs(y[j] - 0.1 * (j + 1)) < 1e-6);
}

static void test_route_random(void **state)
{
    (void)state;
    const int rows = 9, e = 11, k = 3;
    float *x = rnd_vec((size_t)rows * e, 4.0f), *out = malloc(sizeof(float) * rows * e);
    rt_route(x, rows, e, k, out);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + r * e;
        /* reference: exact softmax, then the k largest by a plain selection */
        double p[11], mx = -INFINITY, s = 0;
        for (int j = 0; j < e; j++) mx = fmax(mx, xr[j]);
        for (int j = 0; j < e; j++) s += p[j] = exp(xr[j] - mx);
        int taken[11] = { 0 };
        double kept = 0;
        for (int t = 0; t < k; t++) {
            int best = -1;
            for (int j = 0; j < e; j++)
                if (!taken[j] && (best < 0 || p[j] > p[best]))
                    best = j;
            taken[best] = 1;
            kept += p[best] / s;
        }
        double want[11];
        for (int j = 0; j < e; j++) want[j] = taken[j] ? p[j] / s / kept : 0.0;
        assert_close(out + r * e, want, (size_t)e, 1e-6, "route");
    }
    free(x), free(out);
}

static void test_expert_scale_and_shard(void **state)
{
    (void)state;
    const int rows = 5, cols = 19, e = 6;
    float *x = rnd_vec((size_t)rows * cols, 2.0f), *w = rnd_vec((size_t)rows * e, 1.0f);
    float *out = malloc(sizeof(float) * rows * cols);
    double *want = malloc(sizeof(double) * rows * cols);
    rt_expert_scale(x, rows, cols, w, e, 4, out);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            want[r * cols + c] = (double)x[r * cols + c] * w[r * e + 4];
    assert_close(out, want, (size_t)rows * cols, 1.2e-7, "expert_scale");

    /* 19 columns in pieces of 5 over 8 devices with 2 replicas: devices 6, 7
     * hold piece 3 = columns 15..19 and one zero column */
    float piece[5 * 5];
    for (int dv = 0; dv < 8; dv++) {
        rt_shard_cols(x, rows, cols, dv, 2, 5, piece);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < 5; j++) {
                int c = (dv / 2) * 5 + j;
                assert_true(piece[r * 5 + j] == (c < cols ? x[r * cols + c] : 0.0f));
            }
    }
    free(x), free(w), free(out), free(want);
}

/* ---- attention: window and softcap --------------------------------------- */

/* Plain causal attention in double; window 0 = none, softcap 0 = none. */
static void ref_attention(const float *q, const float *k, const float *v, int s, int hq, int hkv, int hd,
                          double scale, int window, double cap, double *out)
{
    double *sc = malloc(sizeof(double) * (size_t)s);
    for (int i = 0; i < s; i++)
        for (int h = 0; h < hq; h++) {
            int kh = h / (hq / hkv), lo = window && i + 1 > window ? i + 1 - window : 0;
            double mx = -INFINITY, sum = 0;
            for (int j = lo; j <= i; j++) {
                double d = 0;
                for (int t = 0; t < hd; t++)
                    d += (double)q[((size_t)i * hq + h) * hd + t] * k[((size_t)j * hkv + kh) * hd + t];
                d *= scale;
                if (cap > 0)
                    d = tanh(d / cap) * cap;
                sc[j] = d;
                mx = fmax(mx, d);
            }
            for (int j = lo; j <= i; j++)
                sum += sc[j] = exp(sc[j] - mx);
            for (int t = 0; t < hd; t++) {
                double o = 0;
                for (int j = lo; j <= i; j++)
                    o += sc[j] / sum * v[((size_t)j * hkv + kh) * hd + t];
                out[((size_t)i * hq + h) * hd + t] = o;
            }
        }
    free(sc);
}

static void check_attention(int window, float cap)
{
    const int s = 37, hq = 6, hkv = 2, hd = 19;
    const float scale = 1.0f / sqrtf((float)hd);
    size_t nq = (size_t)s * hq * hd, nk = (size_t)s * hkv * hd;
    float *q = rnd_vec(nq, 2.0f), *k = rnd_vec(nk, 2.0f), *v = rnd_vec(nk, 1.0f);
    float *out = malloc(sizeof(float) * nq), *scratch = malloc(sizeof(float) * rt_attention_prefill_scratch_floats(s));
    double *want = malloc(sizeof(double) * nq);
    char what[64];
    snprintf(what, sizeof what, "prefill window %d softcap %g", window, (double)cap);
    ref_attention(q, k, v, s, hq, hkv, hd, scale, window, cap, want);
    rt_attention_prefill_ex(q, k, v, s, hq, hkv, hd, scale, window, cap, out, scratch);
    assert_close(out, want, nq, 2e-5, what);

    /* the same through the cache: chunked prefill (17 then 20 rows), and
     * decode of every position on every ISA, each equal to its prefill row */
    rt_kv_cache c;
    mgc_error e = { { 0 } };
    assert_int_equal(rt_kv_cache_init(&c, RT_F32, 2, hkv, 48, hd, &e), 0);
    rt_cache_fill(&c, 1, k, v, s, 0);
    float *sc2 = malloc(sizeof(float) * rt_attention_prefill_cached_scratch_floats(&c, 20, 17));
    rt_attention_prefill_cached_ex(q + (size_t)17 * hq * hd, &c, 1, 20, 17, hq, scale, window, cap, out, sc2);
    snprintf(what, sizeof what, "chunked prefill window %d softcap %g", window, (double)cap);
    assert_close(out, want + (size_t)17 * hq * hd, (size_t)20 * hq * hd, 2e-5, what);
    float *dsc = malloc(sizeof(float) * rt_attention_decode_scratch_floats(&c, hq));
    for (int isa = RT_ISA_SCALAR; isa <= (int)rt_cpu_best_isa(); isa++)
        for (int pos = 0; pos < s; pos++) {
            int user = 1;
            int32_t len = pos + 1;
            rt_attention_decode_ex((rt_isa)isa, q + (size_t)pos * hq * hd, &c, 1, &user, &len, hq, scale, window, cap,
                                   out, dsc);
            snprintf(what, sizeof what, "decode %s pos %d window %d softcap %g", rt_isa_name((rt_isa)isa), pos,
                     window, (double)cap);
            assert_close(out, want + (size_t)pos * hq * hd, (size_t)hq * hd, 2e-5, what);
        }
    rt_kv_cache_free(&c);
    free(q), free(k), free(v), free(out), free(scratch), free(want), free(sc2), free(dsc);
}

static void test_attention_window_softcap(void **state)
{
    (void)state;
    check_attention(0, 0.0f);
    check_attention(5, 0.0f);
    check_attention(0, 0.7f);   /* a small cap, so that it changes the scores a lot */
    check_attention(16, 1.5f);
    check_attention(1, 0.0f);   /* sees only itself: out = v */
    check_attention(100, 0.0f); /* wider than the sequence: no window */
}

/* A window really masks: with window 1 every query sees only its own key,
 * so the output is its own value row whatever q and k are. */
static void test_window_one_is_identity(void **state)
{
    (void)state;
    const int s = 9, hd = 5;
    float *q = rnd_vec((size_t)s * hd, 3.0f), *k = rnd_vec((size_t)s * hd, 3.0f), *v = rnd_vec((size_t)s * hd, 1.0f);
    float out[9 * 5], scratch[RT_ATTN_QBLOCK * 9];
    rt_attention_prefill_ex(q, k, v, s, 1, 1, hd, 0.5f, 1, 0.0f, out, scratch);
    for (int i = 0; i < s * hd; i++)
        assert_true(fabsf(out[i] - v[i]) < 1e-6f);
    free(q), free(k), free(v);
}

/* ---- partial rotary ------------------------------------------------------ */

/* head_dim 6, rotary dim 4 (Phi-2's partial_rotary_factor): pairs (0, 2)
 * and (1, 3) rotate, dims 4 and 5 pass through.  At position 1 with
 * inv_freq = {pi/2, pi}: pair 0 turns by 90 degrees, pair 1 by 180. */
static void test_partial_rotary(void **state)
{
    (void)state;
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    const float inv[2] = { (float)(M_PI / 2), (float)M_PI };
    const int32_t pos = 1;
    rt_rope_apply(x, 1, 1, 6, 4, &pos, inv, 1.0f, 0);
    /* x'[i] = x[i] cos - x[i+2] sin, x'[i+2] = x[i+2] cos + x[i] sin */
    const float want[6] = { -3, -2, 1, -4, 5, 6 };
    for (int i = 0; i < 6; i++)
        assert_true(fabsf(x[i] - want[i]) < 1e-6f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_norm),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_route_hand_worked),
        cmocka_unit_test(test_route_random),
        cmocka_unit_test(test_expert_scale_and_shard),
        cmocka_unit_test(test_attention_window_softcap),
        cmocka_unit_test(test_window_one_is_identity),
        cmocka_unit_test(test_partial_rotary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
