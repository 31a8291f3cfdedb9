/* report_html.h: the eval report as one self-contained HTML file: inline CSS
 * and SVG only (no script, no network, no fonts), readable offline and
 * attachable to an issue.  It holds the summary and YT_METRICS, the
 * evaluated text with every position marked hit / top-5 / miss and our top
 * tokens beside the reference's (on hover and in a table), PCC, KL and max
 * abs error per position as charts, the per-layer PCC chart with the first
 * layer below the threshold marked (with --layers), and the plan's summary. */
#ifndef EV_REPORT_HTML_H
#define EV_REPORT_HTML_H

#include "eval.h"
#include "tokenizer.h"

typedef struct ev_report_in {
    const mgc_plan *plan;
    const ev_reference *ref;
    const ev_result *res;
    const int32_t *our_top5;      /* [positions][5] (ev_opts.top5_out), or NULL */
    const ev_layer_cmp *layers;   /* NULL without --layers */
    double layers_threshold;
    const tokenizer *tok;         /* tokens as text; NULL: as ids */
    const char *yt_metrics;       /* the YT_METRICS JSON object */
} ev_report_in;

/* Writes the report to `path` (atomically). */
int ev_report_html_write(const ev_report_in *in, const char *path, mgc_error *e);

#endif
