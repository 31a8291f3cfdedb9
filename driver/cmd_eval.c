/* mgc eval: teacher-forced accuracy of a plan against a reference file. */
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accuracy_floors.h"
#include "atomic_file.h"
#include "builtin_ref.h"
#include "commands.h"
#include "mesh_mpi.h"
#include "eval.h"
#include "model_dir.h"
#include "plan.h"
#include "profile.h"
#include "report_html.h"
#include "tokenizer.h"
#include "safetensors.h"

void mgc_help_eval(FILE *out)
{
    fprintf(out,
            "usage: mgc eval PLAN --model DIR --reference REF.safetensors [options]\n"
            "       mgc eval PLAN --model DIR --reference builtin (--tokens L | --prompt T | --prompt-file F)\n"
            "\n"
            "Teacher forcing as tt-metal measures it: prefills the reference's prompt\n"
            "(prompt_len in its metadata) in one pass, then decodes one position at a time\n"
            "feeding the reference's next token, and compares every position's logits with\n"
            "the reference's: top-1 (our argmax is the reference's), top-5 (our argmax is in\n"
            "the reference's top 5), Pearson correlation (PCC), max abs error, KL divergence\n"
            "and perplexity.  The last line is YT_METRICS={...} (JSON) for automation.\n"
            "\n"
            "  --model DIR              the HuggingFace checkpoint directory\n"
            "  --reference FILE         reference outputs (input_ids, logits, top5; safetensors)\n"
            "  --reference builtin      make the reference here: the plan's spec unsharded on\n"
            "                           one device in f32 (greedy continuation of the prompt\n"
            "                           with --max-new-tokens, else the prompt split in halves)\n"
            "  --tokens L, --prompt T, --prompt-file F   the prompt of a builtin reference\n"
            "  --max-new-tokens N       compare only the prompt and N decoded positions\n"
            "  --prefill-decode         debug: run the prompt through the decode path one\n"
            "                           token at a time (metrics are then not final)\n"
            "  --json FILE              write the per-position report as JSON\n"
            "  --positions              print a per-position table\n"
            "  --layers                 compare the residual stream after every decoder layer\n"
            "                           with the reference's hidden_states (PCC per layer) and\n"
            "                           name the first layer below --layers-threshold\n"
            "  --layers-threshold X     default 0.99\n"
            "  --expect-top1 X, --expect-top5 X, --expect-pcc X\n"
            "                           accuracy floors (in [0, 1]) over all positions (pcc:\n"
            "                           the minimum); they override the spec's `expect`.  A\n"
            "                           missed floor prints FAILED after the report, exit 1\n"
            "  --no-expect              ignore every accuracy floor\n"
            "  --report FILE.html       write a self-contained HTML report (no network needed):\n"
            "                           summary, text marked hit/top-5/miss, metric charts\n"
            "  --profile                print where the time goes per op kind and per layer\n"
            "  --profile-csv FILE       write the full per-op profile as CSV\n"
            "  --logits-out FILE        write our logits [positions][vocab] (f32 safetensors)\n"
            "  --mesh local|mpi         local (default): every device a thread of this process;\n"
            "                           mpi: one device per rank, under mpirun -np DEVICES\n"
            "  --cores N                cores to use (default: all this process may run on,\n"
            "                           shared by the devices; under --mesh mpi: 1 per rank)\n");
}

static double nz(double x) { return isnan(x) ? 0 : x; }

static void progress(void *ud, int64_t done, int64_t total)
{
    (void)ud;
    fprintf(stderr, "\rdecode %lld/%lld", (long long)done, (long long)total);
    if (done == total)
        fprintf(stderr, "\r\033[K");
    fflush(stderr);
}

static void row(const char *name, const ev_metrics_summary *s)
{
    if (s->positions == 0)
        return;
    printf("%-8s %9ld  %6.3f  %6.3f  %9.6f  %9.6f  %11.4g  %9.4g  %9.4g\n", name, s->positions, s->top1, s->top5,
           s->pcc_min, s->pcc_mean, s->max_abs_err, s->kl_mean, s->perplexity);
}

static int write_json(const char *path, const mgc_plan *plan, const ev_reference *ref, const ev_result *r,
                      mgc_error *e)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(plan->model));
    json_object_object_add(o, "system", json_object_new_string(plan->system));
    json_object_object_add(o, "reference", json_object_new_string(ref->path));
    json_object_object_add(o, "prompt_len", json_object_new_int64(r->prompt_len));
    json_object *arr = json_object_new_array();
    for (int64_t i = 0; i < r->positions; i++) {
        const rt_pos_metrics *m = &r->pos[i];
        json_object *p = json_object_new_object();
        json_object_object_add(p, "position", json_object_new_int64(i));
        json_object_object_add(p, "phase", json_object_new_string(i < r->prompt_len ? "prefill" : "decode"));
        json_object_object_add(p, "token", json_object_new_int(ref->input_ids[i]));
        json_object_object_add(p, "top1", json_object_new_int(m->top1));
        json_object_object_add(p, "ref_top1", json_object_new_int(m->ref_top5[0]));
        json_object_object_add(p, "top1_match", json_object_new_boolean(m->top1_match));
        json_object_object_add(p, "top5_match", json_object_new_boolean(m->top5_match));
        json_object_object_add(p, "pcc", json_object_new_double(nz(m->pcc)));
        json_object_object_add(p, "max_abs_err", json_object_new_double(nz(m->max_abs_err)));
        json_object_object_add(p, "kl", json_object_new_double(nz(m->kl)));
        if (m->next_token >= 0)
            json_object_object_add(p, "nll", json_object_new_double(nz(m->nll)));
        json_object_array_add(arr, p);
    }
    json_object_object_add(o, "positions", arr);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
    int rc = mgc_write_file_atomic(path, s, strlen(s), e);
    json_object_put(o);
    return rc;
}

int mgc_cmd_eval(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},     {"reference", required_argument, 0, 'r'},
        {"max-new-tokens", required_argument, 0, 'n'}, {"prefill-decode", no_argument, 0, 'p'},
        {"json", required_argument, 0, 'j'},      {"positions", no_argument, 0, 'P'},
        {"layers", no_argument, 0, 'l'},          {"layers-threshold", required_argument, 0, 'L'},
        {"tokens", required_argument, 0, 't'},    {"prompt", required_argument, 0, 'T'},
        {"prompt-file", required_argument, 0, 'F'},
        {"expect-top1", required_argument, 0, '1'}, {"expect-top5", required_argument, 0, '5'},
        {"expect-pcc", required_argument, 0, 'c'},  {"no-expect", no_argument, 0, 'x'},
        /* the bringup workflow: an HTML report, a per-op profile */
        {"report", required_argument, 0, 'R'},   {"profile", no_argument, 0, 'Q'},
        {"profile-csv", required_argument, 0, 'C'},
        {"mesh", required_argument, 0, 'M'},    {"logits-out", required_argument, 0, 'O'},
        {"cores", required_argument, 0, 'K'},
        {0, 0, 0, 0},
    };
    const char *logits_path = NULL; /* --logits-out */
    float *our_logits = NULL;
    const char *model = NULL, *refpath = NULL, *json = NULL, *tokens = NULL, *prompt = NULL, *pfile = NULL;
    long long max_new = -1;
    int prefill_decode = 0, positions = 0, layers = 0, mesh_mpi = 0, n_cores = 0;
    double threshold = 0.99;
    double flag_floor[MGC_NFLOORS] = {-1, -1, -1};
    int no_expect = 0;
    const char *report = NULL, *profile_csv = NULL;
    int profile = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'r': refpath = optarg; break;
        case 'j': json = optarg; break;
        case 'p': prefill_decode = 1; break;
        case 'P': positions = 1; break;
        case 'l': layers = 1; break;
        case 't': tokens = optarg; break;
        case 'T': prompt = optarg; break;
        case 'F': pfile = optarg; break;
        case 'O': logits_path = optarg; break;
        case 'M':
            if ((mesh_mpi = mgc_mesh_parse("eval", optarg)) < 0)
                return MGC_EXIT_USAGE;
            break;
        case 'K':
            if ((n_cores = mgc_cores_parse("eval", optarg)) < 0)
                return MGC_EXIT_USAGE;
            break;
        case 'R': report = optarg; break;
        case 'Q': profile = 1; break;
        case 'C': profile_csv = optarg; break;
        case 'L': {
            char *end;
            threshold = strtod(optarg, &end);
            if (!*optarg || *end || !(threshold >= -1 && threshold <= 1)) {
                fprintf(stderr, "mgc eval: --layers-threshold takes a number in [-1, 1], got '%s'\n", optarg);
                return MGC_EXIT_USAGE;
            }
            layers = 1;
            break;
        }
        case '1':
        case '5':
        case 'c': {
            char *end;
            double v = strtod(optarg, &end);
            if (!*optarg || *end || !(v >= 0 && v <= 1)) {
                fprintf(stderr, "mgc eval: --expect-%s takes a number in [0, 1], got '%s'\n",
                        c == '1' ? "top1" : c == '5' ? "top5" : "pcc", optarg);
                return MGC_EXIT_USAGE;
            }
            flag_floor[c == '1' ? MGC_FLOOR_TOP1 : c == '5' ? MGC_FLOOR_TOP5 : MGC_FLOOR_PCC] = v;
            break;
        }
        case 'x': no_expect = 1; break;
        case 'n': {
            char *end;
            max_new = strtoll(optarg, &end, 10);
            if (!*optarg || *end || max_new < 0) {
                fprintf(stderr, "mgc eval: --max-new-tokens needs a non-negative integer, got '%s'\n", optarg);
                return MGC_EXIT_USAGE;
            }
            break;
        }
        default:
            fprintf(stderr, "mgc eval: unknown or incomplete option '%s' (see mgc eval --help)\n", argv[optind - 1]);
            return MGC_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !model || !refpath) {
        fprintf(stderr, "mgc eval: expected PLAN --model DIR --reference FILE (see mgc eval --help)\n");
        return MGC_EXIT_USAGE;
    }
    const char *planpath = argv[optind];
    int builtin = strcmp(refpath, "builtin") == 0;
    if (builtin != (!!tokens + !!prompt + !!pfile == 1) || !!tokens + !!prompt + !!pfile > 1) {
        fprintf(stderr, "mgc eval: --reference builtin needs exactly one of --tokens, --prompt or --prompt-file "
                        "(and they only go with it)\n");
        return MGC_EXIT_USAGE;
    }
    /* --mesh mpi: ranks other than 0 only serve rank 0's engine (driver/mesh_mpi.c) */
    if (mesh_mpi) {
        int r = mgc_mesh_mpi_start("eval", planpath, model, n_cores);
        if (r >= 0)
            return r;
    }
    mgc_error err = {{0}};
    char mdir[3072]; /* --model as a local directory (HF cache layouts resolved) */
    if (mgc_model_dir_resolve(model, mdir, sizeof mdir, &err) != 0) {
        fprintf(stderr, "mgc eval: %s\n", err.msg);
        return MGC_EXIT_INPUT;
    }
    model = mdir;
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);
    ev_reference ref;
    memset(&ref, 0, sizeof ref);
    rt_engine *en = NULL;
    ev_result res;
    memset(&res, 0, sizeof res);
    ev_layer_cmp lc;
    memset(&lc, 0, sizeof lc);
    rt_profile *pf = NULL;
    int32_t *top5 = NULL; /* our top-5 per position, for the report */
    int rc = MGC_EXIT_INPUT;
    if (mgc_plan_read(planpath, &plan, &err) != 0)
        goto fail;
    if (builtin) {
        int32_t *ids = NULL;
        int n = 0;
        mgc_plan rplan;
        rt_engine *ren = NULL;
        int ok = mgc_reference_tokens(model, tokens, prompt, pfile, &ids, &n, &err) == 0 &&
                 mgc_builtin_reference_engine(plan.spec, model, plan.cache_len, &rplan, &ren, &err) == 0 &&
                 mgc_reference_build(ren, ids, n, max_new > 0 ? max_new : 0, &ref, &err) == 0;
        free(ids);
        if (ren) {
            rt_engine_free(ren);
            mgc_plan_free(&rplan);
        }
        if (!ok)
            goto fail;
        ref.path = strdup("builtin reference (f32, one device)");
    } else if (ev_reference_load(refpath, &ref, &err) != 0)
        goto fail;
    rt_engine_opts eo = {.progress = isatty(2), .mpi = mesh_mpi, .n_cores = n_cores};
    if (rt_engine_load(&plan, model, &eo, &en, &err) != 0)
        goto fail;
    if (layers && ev_layers(en, &ref, &lc, &err) != 0)
        goto fail;
    if (profile || profile_csv) {
        if (!(pf = rt_profile_new(&plan))) {
            mgc_errorf(&err, "out of memory");
            goto fail;
        }
        rt_profile_attach(en, pf);
    }
    ev_opts o = {.prefill_decode = prefill_decode};
    if (logits_path && !(o.logits_out = our_logits = calloc((size_t)ref.t * (size_t)ref.vocab, sizeof(float)))) {
        mgc_errorf(&err, "out of memory for --logits-out");
        goto fail;
    }
    if (report) {
        int64_t np = max_new >= 0 && !builtin && ref.prompt_len + max_new < ref.t ? ref.prompt_len + max_new : ref.t;
        if (!(top5 = malloc(sizeof(int32_t) * 5 * (size_t)(np > 0 ? np : 1)))) {
            mgc_errorf(&err, "out of memory");
            goto fail;
        }
        o.top5_out = top5;
    }
    if (max_new >= 0 && !builtin)
        o.max_positions = ref.prompt_len + max_new;
    if (isatty(2))
        o.on_step = progress;
    if (ev_teacher_forcing(en, &ref, &o, &res, &err) != 0)
        goto fail;
    if (logits_path) {
        rt_st_entry le = {.name = "logits", .dtype = RT_ST_F32, .ndim = 2, .shape = {res.positions, ref.vocab},
                          .data = our_logits, .nbytes = sizeof(float) * (size_t)res.positions * (size_t)ref.vocab};
        int wr = rt_st_write(logits_path, &le, 1, NULL, &err);
        if (wr != 0)
            goto fail;
    }

    printf("mgc eval: %s on %s (%d device%s), weights %s, activations %s, kv cache %s\n", plan.model, plan.system,
           plan.ndevices, plan.ndevices == 1 ? "" : "s", mgc_dtype_name(plan.weights_dtype),
           mgc_dtype_name(plan.act_dtype), mgc_dtype_name(plan.kv_dtype));
    printf("reference %s: %lld tokens, prompt %lld, vocab %lld\n", ref.path, (long long)ref.t,
           (long long)ref.prompt_len, (long long)ref.vocab);
    if (prefill_decode)
        printf("NOTE: --prefill-decode: the prompt went through the decode path; these metrics are for debugging, not final\n");
    if (positions) {
        printf("\n%5s  %-7s  %6s  %6s  %6s  %3s  %10s  %10s\n", "pos", "phase", "token", "ours", "ref", "hit", "pcc",
               "max_abs");
        for (int64_t i = 0; i < res.positions; i++) {
            const rt_pos_metrics *m = &res.pos[i];
            printf("%5lld  %-7s  %6d  %6d  %6d  %3s  %10.7f  %10.4g\n", (long long)i,
                   i < res.prompt_len ? "prefill" : "decode", ref.input_ids[i], m->top1, m->ref_top5[0],
                   m->top1_match ? "x" : m->top5_match ? "-" : ".", m->pcc, m->max_abs_err);
        }
    }
    if (layers) {
        printf("\nlayer by layer: the residual stream against the reference's hidden_states (%lld positions)\n",
               (long long)ref.t);
        printf("  %-22s  %12s  %12s\n", "entry", "pcc", "max_abs_err");
        for (int i = 0; i < lc.n; i++) {
            char name[64];
            if (i == 0)
                snprintf(name, sizeof name, "embeddings");
            else if (i < lc.n - 1)
                snprintf(name, sizeof name, "layer %d output", i - 1);
            else
                snprintf(name, sizeof name, "final norm");
            printf("  %-22s  %12.8f  %12.6g%s\n", name, lc.pcc[i], lc.max_abs_err[i],
                   lc.pcc[i] >= threshold ? "" : "   < threshold");
        }
        int first = ev_layer_cmp_first_below(&lc, threshold);
        if (first < 0)
            printf("every layer has pcc >= %g\n", threshold);
        else if (first == 0)
            printf("first below %g: the embeddings\n", threshold);
        else if (first == lc.n - 1)
            printf("first below %g: the final norm\n", threshold);
        else
            printf("first below %g: layer %d (its output; its input matched)\n", threshold, first - 1);
    }
    printf("\n%-8s %9s  %6s  %6s  %9s  %9s  %11s  %9s  %9s\n", "", "positions", "top1", "top5", "pcc_min", "pcc_mean",
           "max_abs_err", "kl_mean", "ppl");
    row("prefill", &res.prefill);
    row("decode", &res.decode);
    row("all", &res.all);
    double pre_tps = res.prefill_seconds > 0 ? (double)res.prompt_len / res.prefill_seconds : 0;
    double dec_tps = res.decode_seconds > 0 ? (double)res.decode_steps / res.decode_seconds : 0;
    printf("\nprefill: %lld tokens in %.3f s (%.1f tok/s); decode: %lld steps in %.3f s (%.1f tok/s/user)\n",
           (long long)res.prompt_len, res.prefill_seconds, pre_tps, (long long)res.decode_steps, res.decode_seconds,
           dec_tps);
    if (json && write_json(json, &plan, &ref, &res, &err) != 0)
        goto fail;
    if (profile)
        rt_profile_print(pf, stdout);
    if (profile_csv && rt_profile_write_csv(pf, profile_csv, &err) != 0)
        goto fail;
    char yt[2048];
    snprintf(yt, sizeof yt, "{\"model\":\"%s\",\"system\":\"%s\",\"weights_dtype\":\"%s\",\"activations_dtype\":\"%s\","
           "\"tokens\":%lld,\"prompt_len\":%lld,\"top1\":%.6f,\"top5\":%.6f,\"pcc_min\":%.8f,\"pcc_mean\":%.8f,"
           "\"max_abs_err\":%.6g,\"kl_mean\":%.6g,\"perplexity\":%.6g,\"prefill_tok_s\":%.2f,\"decode_tok_s_u\":%.2f%s}",
           plan.model, plan.system, mgc_dtype_name(plan.weights_dtype), mgc_dtype_name(plan.act_dtype),
           (long long)res.positions, (long long)res.prompt_len, nz(res.all.top1), nz(res.all.top5), nz(res.all.pcc_min),
           nz(res.all.pcc_mean), nz(res.all.max_abs_err), nz(res.all.kl_mean), nz(res.decode.perplexity), pre_tps, dec_tps,
           prefill_decode ? ",\"final\":false" : "");
    if (report) {
        /* tokens as text when the model has a tokenizer */
        char tokpath[4096];
        snprintf(tokpath, sizeof tokpath, "%s/tokenizer.json", model);
        mgc_error terr = {{0}};
        tokenizer *tok = access(tokpath, F_OK) == 0 ? tok_load(tokpath, &terr) : NULL;
        if (!tok && access(tokpath, F_OK) == 0)
            fprintf(stderr, "mgc eval: the report shows token ids: %s\n", terr.msg);
        ev_report_in ri = {.plan = &plan, .ref = &ref, .res = &res, .our_top5 = top5, .layers = layers ? &lc : NULL,
                           .layers_threshold = threshold, .tok = tok, .yt_metrics = yt};
        int wrc = ev_report_html_write(&ri, report, &err);
        tok_free(tok);
        if (wrc != 0)
            goto fail;
        fprintf(stderr, "mgc eval: wrote the report %s\n", report);
    }
    printf("YT_METRICS=%s\n", yt);
    rc = MGC_EXIT_OK;
    if (!no_expect) {
        /* the plan's floors; a plan that carries none (written before plans
         * recorded them) gets its spec's `expect`, and the flags override */
        mgc_floors fl;
        mgc_floors_init(&fl);
        const double floor_of_plan[MGC_NFLOORS] = {plan.expect_top1, plan.expect_top5, plan.expect_pcc};
        if (floor_of_plan[0] > 0 || floor_of_plan[1] > 0 || floor_of_plan[2] > 0) {
            mgc_floors_from_spec(&fl, plan.spec); /* for the spec line in messages */
            for (int i = 0; i < MGC_NFLOORS; i++) {
                char from[sizeof fl.from[i]];
                snprintf(from, sizeof from, "%s", fl.from[i][0] ? fl.from[i] : "the plan's expect");
                if (floor_of_plan[i] >= 0)
                    mgc_floors_set(&fl, i, floor_of_plan[i], from);
                else
                    fl.v[i] = -1;
            }
        } else {
            mgc_floors_from_spec(&fl, plan.spec);
        }
        static const char *const flag_names[MGC_NFLOORS] = {"--expect-top1", "--expect-top5", "--expect-pcc"};
        for (int i = 0; i < MGC_NFLOORS; i++)
            if (flag_floor[i] >= 0)
                mgc_floors_set(&fl, i, flag_floor[i], flag_names[i]);
        fflush(stdout);
        if (mgc_floors_check(&fl, res.all.top1, res.all.top5, res.all.pcc_min, stderr) > 0)
            rc = MGC_EXIT_INPUT;
    }
    goto out;
fail:
    fprintf(stderr, "mgc eval: %s\n", err.msg);
out:
    free(our_logits);
    rt_profile_free(pf);
    free(top5);
    ev_result_free(&res);
    ev_layer_cmp_free(&lc);
    rt_engine_free(en);
    ev_reference_free(&ref);
    mgc_plan_free(&plan);
    return rc;
}
