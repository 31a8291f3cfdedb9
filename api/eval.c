/* eval.c: teacher-forced evaluation against a reference file. */
#include <math.h>
#include <string.h>

#include "api_internal.h"
#include "eval.h"
#include "reference.h"

/* NaN (no such figure) as 0, as the YT_METRICS line prints it. */
static double nz(double x)
{
    return isnan(x) ? 0 : x;
}

MGC_API mgc_code mgc_model_eval(mgc_model_t *m, const char *reference, int64_t max_positions,
                                mgc_eval_metrics *out, mgc_status *st)
{
    if (!m || !reference || !out)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_model_eval: model, reference and out must not be NULL");
    if (max_positions < 0)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_model_eval: max_positions must not be negative");
    memset(out, 0, sizeof *out);
    mgc_error err = {{0}};
    ev_reference ref;
    memset(&ref, 0, sizeof ref);
    if (ev_reference_load(reference, &ref, &err) != 0)
        return api_fail(st, MGC_ERR_INPUT, &err);
    ev_opts o = {.max_positions = max_positions};
    ev_result r;
    memset(&r, 0, sizeof r);
    if (ev_teacher_forcing(m->en, &ref, &o, &r, &err) != 0) {
        ev_reference_free(&ref);
        return api_fail(st, MGC_ERR_INPUT, &err);
    }
    out->tokens = r.positions;
    out->prompt_len = r.prompt_len;
    out->top1 = nz(r.all.top1);
    out->top5 = nz(r.all.top5);
    out->pcc_min = nz(r.all.pcc_min);
    out->pcc_mean = nz(r.all.pcc_mean);
    out->max_abs_err = nz(r.all.max_abs_err);
    out->kl_mean = nz(r.all.kl_mean);
    out->perplexity = nz(r.decode.perplexity);
    out->prefill_tok_s = r.prefill_seconds > 0 ? (double)r.prompt_len / r.prefill_seconds : 0;
    out->decode_tok_s_u = r.decode_seconds > 0 ? (double)r.decode_steps / r.decode_seconds : 0;
    ev_result_free(&r);
    ev_reference_free(&ref);
    return api_ok(st);
}
