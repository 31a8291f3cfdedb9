/* report_html.c: the eval report as one self-contained HTML file (see
 * report_html.h).  Element ids and classes are part of its contract: the
 * browser test reads the figures back from the rendered DOM. */
#include "report_html.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "strbuf.h"

static void esc(mgc_strbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '<': mgc_sb_puts(b, "&lt;"); break;
        case '>': mgc_sb_puts(b, "&gt;"); break;
        case '&': mgc_sb_puts(b, "&amp;"); break;
        case '"': mgc_sb_puts(b, "&quot;"); break;
        case '\n': mgc_sb_puts(b, "\\n"); break;
        default:
            if (c < 0x20)
                mgc_sb_printf(b, "\\x%02x", c);
            else
                mgc_sb_putc(b, (char)c);
        }
    }
}

static void esc_s(mgc_strbuf *b, const char *s) { esc(b, s ? s : "", s ? strlen(s) : 0); }

/* A token as text (through the tokenizer when there is one), else its id. */
static void token(mgc_strbuf *b, const tokenizer *tok, int32_t id)
{
    char *text = NULL;
    size_t len = 0;
    mgc_error e = {{0}};
    if (id >= 0 && tok && tok_decode(tok, &id, 1, 0, &text, &len, &e) == 0 && len > 0)
        esc(b, text, len);
    else
        mgc_sb_printf(b, "%d", id);
    free(text);
}

static double fin(double x) { return isfinite(x) ? x : 0; }

static void summary_row(mgc_strbuf *b, const char *name, const ev_metrics_summary *s)
{
    if (s->positions == 0)
        return;
    mgc_sb_printf(b,
                  "<tr id=\"row-%s\"><th>%s</th><td>%ld</td><td class=\"c-top1\">%.3f</td><td class=\"c-top5\">%.3f</td>"
                  "<td class=\"c-pcc-min\">%.6f</td><td>%.6f</td><td>%.4g</td><td>%.4g</td><td>%.4g</td></tr>\n",
                  name, name, s->positions, fin(s->top1), fin(s->top5), fin(s->pcc_min), fin(s->pcc_mean),
                  fin(s->max_abs_err), fin(s->kl_mean), fin(s->perplexity));
}

/* An SVG line chart of values[0..n) over positions, with the prefill/decode
 * boundary at `split` and an optional horizontal threshold. */
static void line_chart(mgc_strbuf *b, const char *id, const char *title, const double *v, int64_t n, int64_t split,
                       int log_y)
{
    const double W = 720, H = 180, L = 64, R = 12, T = 24, B = 28;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double y = log_y ? log10(fmax(v[i], 1e-12)) : v[i];
        if (isfinite(y)) {
            lo = fmin(lo, y);
            hi = fmax(hi, y);
        }
    }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo < 1e-12) {
        hi += 0.5;
        lo -= 0.5;
    }
    mgc_sb_printf(b, "<figure><svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
                     "role=\"img\" aria-label=\"%s\">\n", id, W, H, W, H, title);
    mgc_sb_printf(b, "<text x=\"%.0f\" y=\"16\" class=\"ct\">%s</text>\n", L, title);
    mgc_sb_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n", L, T, W - L - R,
                  H - T - B);
    for (int k = 0; k <= 2; k++) {
        double y = lo + (hi - lo) * k / 2, py = H - B - (H - T - B) * k / 2;
        if (log_y)
            mgc_sb_printf(b, "<text x=\"%.0f\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">1e%.1f</text>\n", L - 4,
                          py + 4, y);
        else
            mgc_sb_printf(b, "<text x=\"%.0f\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">%.4g</text>\n", L - 4, py + 4,
                          y);
    }
    double dx = n > 1 ? (W - L - R) / (double)(n - 1) : 0;
    if (split > 0 && split < n)
        mgc_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" class=\"split\"/>"
                         "<text x=\"%.1f\" y=\"%.0f\" class=\"ax\">decode &#8594;</text>\n",
                      L + dx * (double)split, L + dx * (double)split, T, H - B, L + dx * (double)split + 3, T + 12);
    mgc_sb_printf(b, "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\">position 0</text><text x=\"%.0f\" y=\"%.0f\" "
                     "class=\"ax\" text-anchor=\"end\">%lld</text>\n",
                  L, H - 8, W - R, H - 8, (long long)(n - 1));
    mgc_sb_puts(b, "<polyline class=\"series\" points=\"");
    for (int64_t i = 0; i < n; i++) {
        double y = log_y ? log10(fmax(v[i], 1e-12)) : v[i];
        if (!isfinite(y))
            y = lo;
        mgc_sb_printf(b, "%.1f,%.1f ", L + dx * (double)i, H - B - (H - T - B) * (y - lo) / (hi - lo));
    }
    mgc_sb_puts(b, "\"/>\n</svg></figure>\n");
}

static void layers_chart(mgc_strbuf *b, const ev_layer_cmp *lc, double threshold)
{
    int first = ev_layer_cmp_first_below(lc, threshold);
    const double W = 720, H = 200, L = 64, R = 12, T = 24, B = 40;
    double lo = threshold;
    for (int i = 0; i < lc->n; i++)
        if (isfinite(lc->pcc[i]))
            lo = fmin(lo, lc->pcc[i]);
    lo = fmax(-1, lo - (1 - lo) * 0.1 - 1e-9);
    double bw = (W - L - R) / lc->n;
    mgc_sb_printf(b, "<figure><svg id=\"chart-layers\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
                     "height=\"%.0f\" role=\"img\" aria-label=\"PCC per layer\">\n", W, H, W, H);
    mgc_sb_printf(b, "<text x=\"%.0f\" y=\"16\" class=\"ct\">PCC of the residual stream per layer (threshold %g)</text>\n",
                  L, threshold);
    mgc_sb_printf(b, "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\" text-anchor=\"end\">%.4g</text><text x=\"%.0f\" "
                     "y=\"%.0f\" class=\"ax\" text-anchor=\"end\">1</text>\n", L - 4, H - B, lo, L - 4, T + 4);
    for (int i = 0; i < lc->n; i++) {
        double p = isfinite(lc->pcc[i]) ? lc->pcc[i] : lo;
        double h = (H - T - B) * (p - lo) / (1 - lo);
        const char *cls = i == first ? "bar first" : p >= threshold ? "bar ok" : "bar low";
        mgc_sb_printf(b, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" data-pcc=\"%.8f\">"
                         "<title>%s%d: pcc %.8f, max abs err %.4g</title></rect>\n",
                      cls, L + bw * i + 2, H - B - h, bw - 4, h, lc->pcc[i], i == 0 ? "embeddings " : "entry ", i,
                      lc->pcc[i], lc->max_abs_err[i]);
        const char *label = i == 0 ? "emb" : i == lc->n - 1 ? "norm" : NULL;
        if (label)
            mgc_sb_printf(b, "<text x=\"%.1f\" y=\"%.0f\" class=\"ax\" text-anchor=\"middle\">%s</text>", L + bw * (i + 0.5),
                          H - B + 14, label);
        else
            mgc_sb_printf(b, "<text x=\"%.1f\" y=\"%.0f\" class=\"ax\" text-anchor=\"middle\">L%d</text>",
                          L + bw * (i + 0.5), H - B + 14, i - 1);
    }
    double ty = H - B - (H - T - B) * (threshold - lo) / (1 - lo);
    mgc_sb_printf(b, "<line class=\"threshold\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\"/>\n</svg></figure>\n", L,
                  W - R, ty, ty);
    if (first < 0)
        mgc_sb_printf(b, "<p id=\"first-below\" data-layer=\"none\">Every layer has PCC &#8805; %g.</p>\n", threshold);
    else if (first == 0)
        mgc_sb_printf(b, "<p id=\"first-below\" data-layer=\"embeddings\" class=\"bad\">First below %g: the "
                         "embeddings.</p>\n", threshold);
    else if (first == lc->n - 1)
        mgc_sb_printf(b, "<p id=\"first-below\" data-layer=\"final-norm\" class=\"bad\">First below %g: the final "
                         "norm.</p>\n", threshold);
    else
        mgc_sb_printf(b, "<p id=\"first-below\" data-layer=\"%d\" class=\"bad\">First below %g: layer %d (its output; "
                         "its input matched).</p>\n", first - 1, threshold, first - 1);
}

/* Weight groups: checkpoint names with the layer index replaced by '*', and
 * their storage dtypes. */
static void weight_groups(mgc_strbuf *b, const mgc_plan *p)
{
    size_t n = 0;
    char(*names)[160] = calloc(p->nweights ? p->nweights : 1, sizeof *names);
    int *dt = calloc(p->nweights ? p->nweights : 1, sizeof *dt), *count = calloc(p->nweights ? p->nweights : 1, sizeof *count);
    if (!names || !dt || !count)
        goto out;
    for (size_t i = 0; i < p->nweights; i++) {
        char g[160];
        const char *s = p->weights[i].id;
        size_t o = 0;
        while (*s && o + 2 < sizeof g) {
            if ((s == p->weights[i].id || s[-1] == '.') && *s >= '0' && *s <= '9') {
                while (*s >= '0' && *s <= '9')
                    s++;
                g[o++] = '*';
            } else {
                g[o++] = *s++;
            }
        }
        g[o] = 0;
        size_t k = 0;
        while (k < n && (strcmp(names[k], g) || dt[k] != (int)p->weights[i].dtype))
            k++;
        if (k == n) {
            snprintf(names[n], sizeof names[n], "%s", g);
            dt[n++] = (int)p->weights[i].dtype;
        }
        count[k]++;
    }
    mgc_sb_puts(b, "<table id=\"weight-groups\"><tr><th>weights</th><th>count</th><th>dtype</th></tr>\n");
    for (size_t k = 0; k < n; k++) {
        mgc_sb_puts(b, "<tr><td><code>");
        esc_s(b, names[k]);
        mgc_sb_printf(b, "</code></td><td>%d</td><td>%s</td></tr>\n", count[k], mgc_dtype_name((mgc_dtype)dt[k]));
    }
    mgc_sb_puts(b, "</table>\n");
out:
    free(names);
    free(dt);
    free(count);
}

static const char css[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2327;max-width:1000px}"
    "h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccd}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccd;padding:2px 8px;text-align:right}"
    "th{background:#f0f2f5}td:first-child,th:first-child{text-align:left}"
    "pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:8px;font-size:12px}"
    "#text{font:13px/2 ui-monospace,monospace;border:1px solid #ccd;padding:8px}"
    ".tok{display:inline-block;padding:0 2px;margin:1px;border-radius:3px;white-space:pre}"
    ".hit{background:#c9f2cf}.top5{background:#ffe7a8}.miss{background:#ffb3b3}.first-tok{background:#e4e6ea}"
    ".prefill{border-bottom:2px dotted #7a8}.legend span{margin-right:12px}"
    ".chart{background:#fff;max-width:100%}.ct{font-size:13px;font-weight:600}.ax{font-size:11px;fill:#556}"
    ".frame{fill:none;stroke:#ccd}.series{fill:none;stroke:#2463c5;stroke-width:1.5}"
    ".split{stroke:#999;stroke-dasharray:4 3}.threshold{stroke:#c22;stroke-dasharray:5 3}"
    ".bar.ok{fill:#4a9d5b}.bar.low{fill:#e0a030}.bar.first{fill:#c22}.bad{color:#c22;font-weight:600}"
    "figure{margin:8px 0}";

int ev_report_html_write(const ev_report_in *in, const char *path, mgc_error *e)
{
    const mgc_plan *p = in->plan;
    const ev_reference *ref = in->ref;
    const ev_result *r = in->res;
    mgc_strbuf b = {0};
    mgc_sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>mgc eval: ");
    esc_s(&b, p->model);
    mgc_sb_printf(&b, " on %s</title>\n<style>%s</style></head>\n<body>\n<h1>mgc eval: ", p->system, css);
    esc_s(&b, p->model);
    mgc_sb_printf(&b, " on %s (%d device%s)</h1>\n", p->system, p->ndevices, p->ndevices == 1 ? "" : "s");
    mgc_sb_puts(&b, "<p>Reference <code>");
    esc_s(&b, ref->path);
    mgc_sb_printf(&b, "</code>: %lld tokens, prompt %lld, vocab %lld. Teacher forcing: the prompt in one prefill, then "
                      "one decode step per position fed the reference's token.</p>\n",
                  (long long)ref->t, (long long)ref->prompt_len, (long long)ref->vocab);

    mgc_sb_puts(&b, "<h2>Summary</h2>\n<table id=\"summary\"><tr><th></th><th>positions</th><th>top1</th><th>top5</th>"
                    "<th>pcc_min</th><th>pcc_mean</th><th>max_abs_err</th><th>kl_mean</th><th>ppl</th></tr>\n");
    summary_row(&b, "prefill", &r->prefill);
    summary_row(&b, "decode", &r->decode);
    summary_row(&b, "all", &r->all);
    mgc_sb_puts(&b, "</table>\n");
    mgc_sb_printf(&b, "<p id=\"speed\">prefill: %lld tokens in %.3f s; decode: %lld steps in %.3f s</p>\n",
                  (long long)r->prompt_len, r->prefill_seconds, (long long)r->decode_steps, r->decode_seconds);
    if (in->yt_metrics) {
        mgc_sb_puts(&b, "<pre id=\"yt-metrics\">YT_METRICS=");
        esc_s(&b, in->yt_metrics);
        mgc_sb_puts(&b, "</pre>\n");
    }

    /* the text: token p is marked by our prediction for it at p - 1 */
    mgc_sb_puts(&b, "<h2>Text</h2>\n<p class=\"legend\"><span class=\"tok hit\">hit</span><span class=\"tok top5\">"
                    "in the reference's top 5</span><span class=\"tok miss\">miss</span><span class=\"tok prefill\">"
                    "prompt (prefill)</span> Each token is coloured by our prediction of it from the position before; "
                    "hover for both top-5 lists.</p>\n<div id=\"text\">");
    for (int64_t i = 0; i < r->positions; i++) {
        const char *cls = "first-tok";
        const rt_pos_metrics *m = i > 0 ? &r->pos[i - 1] : NULL;
        if (m)
            cls = m->top1_match ? "hit" : m->top5_match ? "top5" : "miss";
        mgc_sb_printf(&b, "<span class=\"tok %s%s\" data-pos=\"%lld\"", cls, i < r->prompt_len ? " prefill" : "",
                      (long long)i);
        if (m) {
            mgc_sb_printf(&b, " title=\"position %lld predicts this token&#10;ours: ", (long long)(i - 1));
            for (int k = 0; k < 5; k++) {
                int32_t id = in->our_top5 ? in->our_top5[(i - 1) * 5 + k] : k == 0 ? m->top1 : -1;
                if (id < 0)
                    break;
                mgc_sb_puts(&b, k ? " | " : "");
                token(&b, in->tok, id);
            }
            mgc_sb_puts(&b, "&#10;reference: ");
            for (int k = 0; k < 5 && m->ref_top5[k] >= 0; k++) {
                mgc_sb_puts(&b, k ? " | " : "");
                token(&b, in->tok, m->ref_top5[k]);
            }
            mgc_sb_printf(&b, "&#10;pcc %.6f, kl %.3g\"", fin(m->pcc), fin(m->kl));
        }
        mgc_sb_puts(&b, ">");
        token(&b, in->tok, ref->input_ids[i]);
        mgc_sb_puts(&b, "</span>");
    }
    mgc_sb_puts(&b, "</div>\n");

    /* per-position charts */
    mgc_sb_puts(&b, "<h2>Per position</h2>\n");
    double *v = malloc(sizeof(double) * (size_t)(r->positions ? r->positions : 1));
    if (!v) {
        mgc_sb_free(&b);
        return mgc_errorf(e, "out of memory");
    }
    for (int64_t i = 0; i < r->positions; i++)
        v[i] = r->pos[i].pcc;
    line_chart(&b, "chart-pcc", "PCC of our logits with the reference's", v, r->positions, r->prompt_len, 0);
    for (int64_t i = 0; i < r->positions; i++)
        v[i] = r->pos[i].kl;
    line_chart(&b, "chart-kl", "KL(reference || ours), nats (log scale)", v, r->positions, r->prompt_len, 1);
    for (int64_t i = 0; i < r->positions; i++)
        v[i] = r->pos[i].max_abs_err;
    line_chart(&b, "chart-err", "max abs logit error", v, r->positions, r->prompt_len, 0);
    free(v);

    if (in->layers && in->layers->n > 0) {
        mgc_sb_puts(&b, "<h2>Layer by layer</h2>\n");
        layers_chart(&b, in->layers, in->layers_threshold);
    }

    /* top tokens side by side */
    mgc_sb_puts(&b, "<h2>Top tokens per position</h2>\n<details><summary>ours against the reference's, every "
                    "position</summary>\n<table id=\"positions\"><tr><th>pos</th><th>phase</th><th>ours (top 5)</th>"
                    "<th>reference (top 5)</th><th>pcc</th><th>max_abs_err</th><th>kl</th></tr>\n");
    for (int64_t i = 0; i < r->positions; i++) {
        const rt_pos_metrics *m = &r->pos[i];
        mgc_sb_printf(&b, "<tr class=\"%s\"><td>%lld</td><td>%s</td><td>", m->top1_match ? "hit" : m->top5_match ? "top5" : "miss",
                      (long long)i, i < r->prompt_len ? "prefill" : "decode");
        for (int k = 0; k < 5; k++) {
            int32_t id = in->our_top5 ? in->our_top5[i * 5 + k] : k == 0 ? m->top1 : -1;
            if (id < 0)
                break;
            mgc_sb_puts(&b, k ? " | " : "");
            token(&b, in->tok, id);
        }
        mgc_sb_puts(&b, "</td><td>");
        for (int k = 0; k < 5 && m->ref_top5[k] >= 0; k++) {
            mgc_sb_puts(&b, k ? " | " : "");
            token(&b, in->tok, m->ref_top5[k]);
        }
        mgc_sb_printf(&b, "</td><td>%.7f</td><td>%.4g</td><td>%.4g</td></tr>\n", fin(m->pcc), fin(m->max_abs_err),
                      fin(m->kl));
    }
    mgc_sb_puts(&b, "</table></details>\n");

    /* the plan */
    mgc_sb_puts(&b, "<h2>Plan</h2>\n<table id=\"plan\">");
    mgc_sb_printf(&b, "<tr><th>system</th><td>%s</td></tr><tr><th>devices</th><td>%d (mesh %dx%d, %s)</td></tr>\n",
                  p->system, p->ndevices, p->mesh[0], p->mesh[1], p->topology ? p->topology : "");
    mgc_sb_printf(&b, "<tr><th>dtypes</th><td>weights %s, activations %s, KV cache %s</td></tr>\n",
                  mgc_dtype_name(p->weights_dtype), mgc_dtype_name(p->act_dtype), mgc_dtype_name(p->kv_dtype));
    mgc_sb_printf(&b, "<tr><th>KV cache</th><td>%lld users x %lld positions</td></tr>\n", (long long)p->cache_users,
                  (long long)p->cache_len);
    mgc_sb_printf(&b, "<tr><th>memory per device</th><td id=\"memory\">%.1f MiB weights + %.1f MiB KV cache + %.1f MiB "
                      "activations = %.1f MiB of %.1f MiB DRAM</td></tr>\n",
                  (double)p->memory.weights / 1048576.0, (double)p->memory.kv_cache / 1048576.0,
                  (double)p->memory.activations / 1048576.0, (double)p->memory.total / 1048576.0,
                  (double)p->memory.dram / 1048576.0);
    mgc_sb_printf(&b, "<tr><th>ops</th><td>prefill %zu, decode %zu</td></tr></table>\n", p->prefill.nops,
                  p->decode.nops);
    weight_groups(&b, p);
    mgc_sb_puts(&b, "</body></html>\n");
    int rc = mgc_write_file_atomic(path, b.s, b.len, e);
    mgc_sb_free(&b);
    return rc;
}
