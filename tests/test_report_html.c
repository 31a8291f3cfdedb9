/* The eval report (mgc eval --report) in a real browser: Debian's chromium,
 * headless, loads the report of a fixture eval with no console message, the
 * rendered DOM holds the figures the eval printed, and a screenshot of it is
 * not blank.  Also: the report is self-contained (nothing fetched), and the
 * first layer below the threshold is marked.
 *
 * Needs chromium (scripts/setup.sh installs it) and node (already needed by
 * the tokenizer suite) for reading the screenshot's pixels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "eval.h"
#include "report_html.h"

static const char *chromium(void)
{
    const char *env = getenv("CHROMIUM");
    if (env && access(env, X_OK) == 0)
        return env;
    if (access("/usr/bin/chromium", X_OK) == 0)
        return "/usr/bin/chromium";
    fail_msg("chromium not found: run scripts/setup.sh (Debian's chromium package) or set CHROMIUM");
    return NULL;
}

/* Runs headless chromium on file `html` with `action` (--dump-dom or
 * --screenshot=PNG); returns its stdout, and its stderr in *err. */
static char *browse(const char *html, const char *action, char **err)
{
    char *ud = e2e_tmpdir();
    char udarg[600], url[1200], abs[1024];
    if (!realpath(html, abs))
        fail_msg("no %s", html);
    snprintf(udarg, sizeof udarg, "--user-data-dir=%s", ud);
    snprintf(url, sizeof url, "file://%s", abs);
    char *argv[] = {(char *)chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--hide-scrollbars", "--window-size=1000,1400", "--enable-logging=stderr",
                    "--v=0", udarg, (char *)action, url, NULL};
    char *out = NULL;
    int rc = e2e_spawn(argv, &out, err);
    e2e_rmtree(ud);
    if (rc != 0)
        fail_msg("chromium exited with %d: %s", rc, *err ? *err : "");
    return out;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *s = hay; (s = strstr(s, needle)); s += strlen(needle))
        n++;
    return n;
}

/* The value of "key": in the YT_METRICS line of `out`. */
static double yt(const char *out, const char *key)
{
    const char *line = strstr(out, "YT_METRICS=");
    assert_non_null(line);
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *v = strstr(line, k);
    assert_non_null(v);
    return strtod(v + strlen(k), NULL);
}

/* The detector of console messages is not vacuous: a page that logs an
 * error shows up on chromium's stderr as a CONSOLE line. */
static void console_messages_are_seen(void **state)
{
    (void)state;
    char *dir = e2e_tmpdir(), *page = e2e_path(dir, "bad.html");
    FILE *f = fopen(page, "w");
    assert_non_null(f);
    fputs("<!DOCTYPE html><html><body><script>console.error('broken page')</script><p>x</p></body></html>", f);
    fclose(f);
    char *err = NULL, *dom = browse(page, "--dump-dom", &err);
    e2e_assert_contains(err, "CONSOLE");
    e2e_assert_contains(err, "broken page");
    free(dom);
    free(err);
    free(page);
    e2e_rmtree(dir);
}

static void fixture_report_in_a_browser(void **state)
{
    (void)state;
    char *dir = e2e_tmpdir(), *plan = e2e_path(dir, "plan.yaml"), *html = e2e_path(dir, "report.html"),
         *png = e2e_path(dir, "shot.png");
    char *c_argv[] = {(char *)e2e_mgc_path(), "compile", "graphs/meta-llama/Llama-3.2-1B/t3000.graph", "--model",
                      "tests/fixtures/llama32", "--max-seq-len", "128", "-o", plan, NULL};
    assert_int_equal(e2e_spawn(c_argv, NULL, NULL), 0);
    char *e_argv[] = {(char *)e2e_mgc_path(), "eval", plan, "--model", "tests/fixtures/llama32", "--reference",
                      "tests/fixtures/llama32/reference.safetensors", "--layers", "--report", html, NULL};
    char *out = NULL;
    assert_int_equal(e2e_spawn(e_argv, &out, NULL), 0);

    /* self-contained: nothing to fetch */
    char *text = e2e_slurp(html, NULL);
    assert_null(strstr(text, "http://"));
    assert_null(strstr(text, "https://"));
    assert_null(strstr(text, "<script"));
    assert_null(strstr(text, "src="));
    assert_null(strstr(text, "url("));
    assert_null(strstr(text, "@import"));
    free(text);

    char *err = NULL, *dom = browse(html, "--dump-dom", &err);
    if (strstr(err, "CONSOLE"))
        fail_msg("the report logged to the console:\n%s", err);
    /* the figures the eval printed */
    char want[128];
    snprintf(want, sizeof want, "<td class=\"c-pcc-min\">%.6f</td>", yt(out, "pcc_min"));
    e2e_assert_contains(dom, want);
    snprintf(want, sizeof want, "<td class=\"c-top1\">%.3f</td>", yt(out, "top1"));
    e2e_assert_contains(dom, want);
    e2e_assert_contains(dom, "id=\"yt-metrics\"");
    e2e_assert_contains(dom, "\"model\":\"meta-llama/Llama-3.2-1B\"");
    /* the reference's 61 tokens, the first unmarked; top-1 of 1.000 means
     * every prediction is a hit; 29 of them are the prompt */
    assert_true(yt(out, "top1") == 1.0);
    assert_int_equal(count(dom, "data-pos="), 61);
    assert_int_equal(count(dom, "\"tok hit\" data-pos=") + count(dom, "\"tok hit prefill\" data-pos="), 60);
    assert_int_equal(count(dom, "\"tok first-tok prefill\" data-pos=\"0\""), 1);
    assert_int_equal(count(dom, " prefill\" data-pos="), 29);
    /* per-position charts of all 61 positions and the layer chart */
    e2e_assert_contains(dom, "id=\"chart-pcc\"");
    e2e_assert_contains(dom, "id=\"chart-kl\"");
    e2e_assert_contains(dom, "id=\"chart-err\"");
    assert_int_equal(count(dom, "<polyline"), 3);
    e2e_assert_contains(dom, "id=\"chart-layers\"");
    assert_int_equal(count(dom, "<rect class=\"bar"), 3); /* embeddings, layer 0, final norm */
    e2e_assert_contains(dom, "id=\"first-below\" data-layer=\"none\"");
    /* the plan */
    e2e_assert_contains(dom, "8 (mesh 2x4");
    e2e_assert_contains(dom, "weights bf16, activations bf16, KV cache bf16");
    e2e_assert_contains(dom, "model.layers.*.self_attn.q_proj.weight");
    free(dom);
    free(err);

    /* a screenshot that is not blank: coloured tokens, text, chart lines */
    char shot[1200];
    snprintf(shot, sizeof shot, "--screenshot=%s", png);
    err = NULL;
    free(browse(html, shot, &err));
    free(err);
    char *n_argv[] = {"/usr/bin/env", "node", "tests/report/png_stats.js", png, NULL};
    char *stats = NULL;
    assert_int_equal(e2e_spawn(n_argv, &stats, NULL), 0);
    int w = 0, h = 0, colors = 0;
    double nonwhite = 0;
    assert_int_equal(sscanf(stats, "%d %d %lf %d", &w, &h, &nonwhite, &colors), 4);
    printf("screenshot %dx%d: %.1f%% not white, %d colours\n", w, h, 100 * nonwhite, colors);
    assert_int_equal(w, 1000);
    assert_true(nonwhite > 0.05);
    assert_true(colors >= 16);
    free(stats);
    free(out);
    free(plan);
    free(html);
    free(png);
    e2e_rmtree(dir);
}

/* The first layer whose PCC is below the threshold is marked (red bar and
 * its name), from a layer comparison made up by hand. */
static void first_layer_below_is_marked(void **state)
{
    (void)state;
    const e2e_arch *a = e2e_arch_find("llama32");
    e2e_model m;
    e2e_model_open(&m, a, "cpu", 1);
    char path[512];
    ev_reference ref;
    mgc_error e = {{0}};
    assert_int_equal(ev_reference_load(e2e_ref_path(a, "reference", path, sizeof path), &ref, &e), 0);
    ev_result r;
    assert_int_equal(ev_teacher_forcing(m.en, &ref, NULL, &r, &e), 0);
    double pcc[4] = {1.0, 0.9999, 0.42, 0.40}, err[4] = {0, 0.01, 3, 4};
    ev_layer_cmp lc = {.n = 4, .pcc = pcc, .max_abs_err = err};
    ev_report_in in = {.plan = &m.plan, .ref = &ref, .res = &r, .layers = &lc, .layers_threshold = 0.99};
    char *dir = e2e_tmpdir(), *html = e2e_path(dir, "r.html");
    assert_int_equal(ev_report_html_write(&in, html, &e), 0);
    char *text = e2e_slurp(html, NULL);
    e2e_assert_contains(text, "id=\"first-below\" data-layer=\"1\"");
    e2e_assert_contains(text, "First below 0.99: layer 1");
    assert_int_equal(count(text, "<rect class=\"bar first\""), 1);
    assert_int_equal(count(text, "<rect class=\"bar low\""), 1);
    assert_int_equal(count(text, "<rect class=\"bar ok\""), 2);
    e2e_assert_contains(text, "data-pcc=\"0.42000000\"");
    free(text);
    free(html);
    e2e_rmtree(dir);
    ev_result_free(&r);
    ev_reference_free(&ref);
    e2e_model_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_layer_below_is_marked),
        cmocka_unit_test(console_messages_are_seen),
        cmocka_unit_test(fixture_report_in_a_browser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
