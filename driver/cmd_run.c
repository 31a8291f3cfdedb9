/* mgc run: execute a plan: prefill a prompt, then generate. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "engine.h"
#include "eos.h"
#include "text_stream.h"
#include "plan.h"
#include "profile.h"
#include "generate.h"
#include "mesh_mpi.h"
#include "model_dir.h"
#include "prompt.h"
#include "sampling.h"
#include "tokenizer.h"

void mgc_help_run(FILE *out)
{
    fprintf(out,
            "usage: mgc run PLAN --model DIR --tokens 1,2,3 [options]\n"
            "\n"
            "Loads the plan's weight slices onto its devices, prefills the prompt (one pass\n"
            "per user, filling the KV cache), then decodes all users together one token at a\n"
            "time.  Prints the generated token ids of each user.\n"
            "\n"
            "  --model DIR          the HuggingFace checkpoint directory\n"
            "  --tokens LIST        the prompt as comma-separated token ids\n"
            "  --prompt TEXT        the prompt as text (needs the model's tokenizer.json)\n"
            "  --max-new-tokens N   tokens to generate (default 32)\n"
            "  --temperature T      0 = greedy (default); > 0 samples\n"
            "  --top-k K            sample among the K most likely (0 = all)\n"
            "  --top-p P            nucleus sampling mass in (0, 1] (default 1)\n"
            "  --seed S             sampling seed (default 0); user u uses S + u\n"
            "  --users B            decode B users as one batch, each from the same prompt\n"
            "  --mesh local|mpi     local (default): every device a thread of this process;\n"
            "                       mpi: one device per rank, under mpirun -np DEVICES\n"
            "  --cores N            cores to use (default: all this process may run on, shared\n"
            "                       by the devices; under --mesh mpi: 1 per rank)\n"
            "  --profile            print where the time goes per op kind and per layer\n"
            "  --profile-csv FILE   write the full per-op profile as CSV\n"
            "  --ignore-eos         generate all --max-new-tokens tokens; by default a user stops\n"
            "                       at the model's end-of-sequence token (eos_token_id of\n"
            "                       generation_config.json or config.json), which is printed\n"
            "\n"
            "With a tokenizer.json in DIR and one user, the text is printed as it is generated.\n");
}

/* One user's text, printed as its tokens arrive. */
typedef struct run_stream {
    const tokenizer *tok; /* NULL: nothing to stream */
    ev_text_stream text;
    mgc_error err;
} run_stream;

static int stream_token(void *ud, int user, int32_t token)
{
    run_stream *rs = ud;
    const char *piece = "";
    if (!rs->tok)
        return 0;
    if (ev_text_stream_push(&rs->text, token, &piece, &rs->err) != 0) {
        /* the ids still matter: say why there is no text and go on */
        fprintf(stderr, "%smgc run: cannot decode the text: %s\n", rs->text.emitted ? "\n" : "", rs->err.msg);
        rs->tok = NULL;
        rs->err.msg[0] = 0;
        return 0;
    }
    fputs(piece, stdout);
    fflush(stdout);
    return 0;
}

int mgc_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},       {"tokens", required_argument, 0, 't'},
        {"prompt", required_argument, 0, 'p'},      {"max-new-tokens", required_argument, 0, 'n'},
        {"temperature", required_argument, 0, 'T'}, {"top-k", required_argument, 0, 'k'},
        {"top-p", required_argument, 0, 'P'},       {"seed", required_argument, 0, 's'},
        {"users", required_argument, 0, 'u'},       {"ignore-eos", no_argument, 0, 'E'},
        {"mesh", required_argument, 0, 'M'},       {"cores", required_argument, 0, 'K'},
        /* per-op profile */
        {"profile", no_argument, 0, 'Q'},           {"profile-csv", required_argument, 0, 'C'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *tokens = NULL, *prompt = NULL;
    long max_new = 32, users = 1, top_k = 0;
    double temperature = 0, top_p = 1;
    unsigned long long seed = 0;
    int mesh_mpi = 0, n_cores = 0;
    const char *profile_csv = NULL;
    int profile = 0;
    int ignore_eos = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'm': model = optarg; break;
        case 't': tokens = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n': max_new = strtol(optarg, &end, 10); break;
        case 'T': temperature = strtod(optarg, &end); break;
        case 'k': top_k = strtol(optarg, &end, 10); break;
        case 'P': top_p = strtod(optarg, &end); break;
        case 's': seed = strtoull(optarg, &end, 10); break;
        case 'u': users = strtol(optarg, &end, 10); break;
        case 'M':
            if ((mesh_mpi = mgc_mesh_parse("run", optarg)) < 0)
                return MGC_EXIT_USAGE;
            break;
        case 'K':
            if ((n_cores = mgc_cores_parse("run", optarg)) < 0)
                return MGC_EXIT_USAGE;
            break;
        case 'Q': profile = 1; break;
        case 'C': profile_csv = optarg; break;
        case 'E': ignore_eos = 1; break;
        default:
            fprintf(stderr, "mgc run: unknown or incomplete option '%s' (see mgc run --help)\n", argv[optind - 1]);
            return MGC_EXIT_USAGE;
        }
        if (end && (end == optarg || *end)) {
            fprintf(stderr, "mgc run: '%s' is not a valid value for %s\n", optarg, argv[optind - 2]);
            return MGC_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !model || (!tokens == !prompt)) {
        fprintf(stderr, "mgc run: expected PLAN --model DIR and one of --tokens or --prompt (see mgc run --help)\n");
        return MGC_EXIT_USAGE;
    }
    /* one message per option, with its range (strtol saturates: 99999999999 is out of
     * range, not negative) */
    if (max_new < 0 || max_new > 1 << 20) {
        fprintf(stderr, "mgc run: --max-new-tokens %ld is out of range: it must be in [0, %d]\n", max_new, 1 << 20);
        return MGC_EXIT_USAGE;
    }
    if (users < 1 || users > 1024) {
        fprintf(stderr, "mgc run: --users %ld is out of range: it must be in [1, 1024]\n", users);
        return MGC_EXIT_USAGE;
    }
    if (top_k < 0 || top_k > INT32_MAX) {
        fprintf(stderr, "mgc run: --top-k %ld is out of range: it must be in [0, %d] (0: no limit)\n", top_k,
                INT32_MAX);
        return MGC_EXIT_USAGE;
    }
    mgc_error err = {{0}};
    char mdir[3072]; /* --model as a local directory (HF cache layouts resolved) */
    if (mgc_model_dir_resolve(model, mdir, sizeof mdir, &err) != 0) {
        fprintf(stderr, "mgc run: %s\n", err.msg);
        return MGC_EXIT_INPUT;
    }
    model = mdir;
    if (ev_sampler_check((float)temperature, (int)top_k, (float)top_p, &err) != 0) {
        fprintf(stderr, "mgc run: %s\n", err.msg);
        return MGC_EXIT_USAGE;
    }
    /* --mesh mpi: ranks other than 0 only serve rank 0's engine (driver/mesh_mpi.c) */
    if (mesh_mpi) {
        int r = mgc_mesh_mpi_start("run", argv[optind], model, n_cores);
        if (r >= 0)
            return r;
    }
    int32_t *prompt_ids = NULL;
    int nprompt = 0;
    if (tokens && mgc_parse_token_list(tokens, &prompt_ids, &nprompt, &err) != 0) {
        fprintf(stderr, "mgc run: --tokens: %s\n", err.msg);
        return MGC_EXIT_USAGE;
    }
    if (prompt && mgc_tokenize_prompt(model, prompt, &prompt_ids, &nprompt, &err) != 0) {
        fprintf(stderr, "mgc run: %s\n", err.msg);
        return MGC_EXIT_INPUT;
    }
    if (nprompt == 0) {
        free(prompt_ids);
        fprintf(stderr, "mgc run: the prompt is empty\n");
        return MGC_EXIT_INPUT;
    }
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);
    rt_engine *en = NULL;
    rt_profile *pf = NULL;
    int rc = MGC_EXIT_INPUT;
    int32_t **gen = calloc((size_t)users, sizeof *gen);
    const int32_t **prompts = calloc((size_t)users, sizeof *prompts);
    ev_sampler *samplers = calloc((size_t)users, sizeof *samplers);
    if (!gen || !prompts || !samplers) {
        mgc_errorf(&err, "out of memory");
        goto fail;
    }
    for (int u = 0; u < users; u++) {
        gen[u] = calloc((size_t)(max_new ? max_new : 1), sizeof(int32_t));
        prompts[u] = prompt_ids;
        /* each user its own stream, so users draw different samples */
        ev_sampler_init(&samplers[u], (float)temperature, (int)top_k, (float)top_p, seed + (unsigned long long)u, &err);
    }
    if (mgc_plan_read(argv[optind], &plan, &err) != 0)
        goto fail;
    rt_engine_opts eo = {.progress = isatty(2), .mpi = mesh_mpi, .n_cores = n_cores};
    if (rt_engine_load(&plan, model, &eo, &en, &err) != 0)
        goto fail;
    if (profile || profile_csv) {
        if (!(pf = rt_profile_new(&plan))) {
            mgc_errorf(&err, "out of memory");
            goto fail;
        }
        rt_profile_attach(en, pf);
    }
    /* Stopping at EOS and streaming the text: the ids come from the model
     * directory as HF's generate() takes them; one user's text is printed
     * piece by piece as its tokens arrive (several users at the end). */
    int32_t eos[EV_EOS_MAX];
    int neos = 0;
    if (!ignore_eos && ev_eos_ids(model, eos, &neos, &err) != 0)
        goto fail;
    char tokpath[4096];
    snprintf(tokpath, sizeof tokpath, "%s/tokenizer.json", model);
    tokenizer *tok = access(tokpath, F_OK) == 0 ? tok_load(tokpath, &err) : NULL;
    if (!tok && access(tokpath, F_OK) == 0)
        fprintf(stderr, "mgc run: not decoding the text: %s\n", err.msg);
    run_stream rs = {.tok = users == 1 ? tok : NULL};
    ev_text_stream_init(&rs.text, rs.tok);
    int *nout = calloc((size_t)users, sizeof *nout);
    ev_generate_ctl ctl = {.stop = eos, .nstop = neos, .on_token = stream_token, .ud = &rs, .n_out = nout};
    ev_generate_stats st;
    if (rs.tok) {
        printf("user 0 text: ");
        fflush(stdout);
    }
    if (!nout ||
        ev_generate_ctl_run(en, (int)users, prompts, nprompt, (int)max_new, samplers, &ctl, gen, &st, &err) != 0) {
        if (!nout)
            mgc_errorf(&err, "out of memory");
        if (rs.err.msg[0])
            err = rs.err;
        if (users == 1 && tok)
            printf("\n");
        ev_text_stream_free(&rs.text);
        free(nout);
        tok_free(tok);
        goto fail;
    }
    if (users == 1 && tok) {
        const char *rest = "";
        if (rs.tok && ev_text_stream_finish(&rs.text, &rest, &err) == 0)
            fputs(rest, stdout);
        printf("\n");
    }
    ev_text_stream_free(&rs.text);
    for (int u = 0; u < users; u++) {
        printf("user %d:", u);
        for (int i = 0; i < nout[u]; i++)
            printf(" %d", gen[u][i]);
        printf("\n");
        if (nout[u] < max_new)
            fprintf(stderr, "mgc run: user %d stopped at end-of-sequence token %d after %d tokens\n", u,
                    gen[u][nout[u] - 1], nout[u]);
        char *text = NULL;
        size_t len = 0;
        if (tok && users > 1 && tok_decode(tok, gen[u], (size_t)nout[u], 0, &text, &len, &err) == 0)
            printf("user %d text: %s\n", u, text);
        else if (tok && users > 1)
            fprintf(stderr, "mgc run: user %d: cannot decode the text: %s\n", u, err.msg);
        free(text);
    }
    free(nout);
    tok_free(tok);
    fprintf(stderr, "mgc run: prefill %d tokens x %ld user%s in %.3f s; decode %d steps in %.3f s (%.1f tok/s/user)\n",
            nprompt, users, users == 1 ? "" : "s", st.prefill_seconds, st.decode_steps, st.decode_seconds,
            st.decode_steps && st.decode_seconds > 0 ? st.decode_steps / st.decode_seconds : 0.0);
    if (profile)
        rt_profile_print(pf, stdout);
    if (profile_csv && rt_profile_write_csv(pf, profile_csv, &err) != 0)
        goto fail;
    rc = MGC_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "mgc run: %s\n", err.msg);
out:
    for (int u = 0; gen && u < users; u++)
        free(gen[u]);
    free(gen);
    free(prompts);
    free(samplers);
    free(prompt_ids);
    rt_profile_free(pf);
    rt_engine_free(en);
    mgc_plan_free(&plan);
    return rc;
}
