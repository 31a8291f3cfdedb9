/* mgc run: execute a plan: prefill a prompt, then generate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "engine.h"
#include "plan.h"
#include "sampling.h"

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
            "  --users B            decode B users as one batch, each from the same prompt\n");
}

static int parse_tokens(const char *s, int32_t **out, int *n)
{
    int cap = 16, k = 0;
    int32_t *v = malloc(sizeof(int32_t) * (size_t)cap);
    const char *p = s;
    while (*p) {
        char *end;
        long long x = strtoll(p, &end, 10);
        if (end == p || x < 0 || x > INT32_MAX) {
            free(v);
            return -1;
        }
        if (k == cap) {
            cap *= 2;
            v = realloc(v, sizeof(int32_t) * (size_t)cap);
        }
        v[k++] = (int32_t)x;
        p = end;
        if (*p == ',')
            p++;
        else if (*p) {
            free(v);
            return -1;
        }
    }
    if (k == 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = k;
    return 0;
}

/* LongRoPE (Phi-3) picks its short or long factors per forward call, from the
 * call's sequence length.  HF's generate() drops the KV cache, filled with
 * short-factor keys, the first time the sequence reaches
 * original_max_position_embeddings + 1 tokens and runs the whole sequence
 * again with the long factors (Phi3ForCausalLM.prepare_inputs_for_generation).
 * The position at which that happens, or 0 if the plan has no LongRoPE. */
static int64_t longrope_refill_pos(const mgc_plan *p)
{
    for (size_t k = 0; k < p->nropes; k++)
        if (p->ropes[k].kind == MGC_ROPE_LONGROPE)
            return p->ropes[k].original_max;
    return 0;
}

/* Prefills user u's whole sequence (the prompt and its first ngen tokens)
 * again; the last row of *rows (allocated on first use) is the next token's. */
static int refill(rt_engine *en, int u, const int32_t *prompt, int nprompt, const int32_t *gen, long ngen,
                  float **rows, mgc_error *e)
{
    int n = nprompt + (int)ngen;
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)n);
    if (!*rows)
        *rows = malloc(sizeof(float) * (size_t)n * (size_t)rt_engine_vocab(en));
    if (!seq || !*rows) {
        free(seq);
        return mgc_errorf(e, "out of memory");
    }
    memcpy(seq, prompt, sizeof(int32_t) * (size_t)nprompt);
    memcpy(seq + nprompt, gen, sizeof(int32_t) * (size_t)ngen);
    int rc = rt_engine_prefill(en, u, seq, n, 0, *rows, e);
    free(seq);
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int mgc_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},       {"tokens", required_argument, 0, 't'},
        {"prompt", required_argument, 0, 'p'},      {"max-new-tokens", required_argument, 0, 'n'},
        {"temperature", required_argument, 0, 'T'}, {"top-k", required_argument, 0, 'k'},
        {"top-p", required_argument, 0, 'P'},       {"seed", required_argument, 0, 's'},
        {"users", required_argument, 0, 'u'},       {0, 0, 0, 0},
    };
    const char *model = NULL, *tokens = NULL, *prompt = NULL;
    long max_new = 32, users = 1, top_k = 0;
    double temperature = 0, top_p = 1;
    unsigned long long seed = 0;
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
    if (prompt) {
        fprintf(stderr, "mgc run: text prompts need tokenizer support, which this build does not have yet; "
                        "give the prompt as --tokens\n");
        return MGC_EXIT_USAGE;
    }
    if (max_new < 0 || max_new > 1 << 20 || users < 1 || users > 1024 || top_k < 0) {
        fprintf(stderr, "mgc run: --max-new-tokens, --users and --top-k must be non-negative (users at least 1)\n");
        return MGC_EXIT_USAGE;
    }
    mgc_error err = {{0}};
    if (rt_sampler_check((float)temperature, (int)top_k, (float)top_p, &err) != 0) {
        fprintf(stderr, "mgc run: %s\n", err.msg);
        return MGC_EXIT_USAGE;
    }
    int32_t *prompt_ids = NULL;
    int nprompt = 0;
    if (parse_tokens(tokens, &prompt_ids, &nprompt) != 0) {
        fprintf(stderr, "mgc run: --tokens takes comma-separated non-negative integers, got '%s'\n", tokens);
        return MGC_EXIT_USAGE;
    }
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);
    rt_engine *en = NULL;
    int rc = MGC_EXIT_INPUT;
    float *logits = NULL, *refill_rows = NULL;
    int32_t **gen = NULL;
    rt_sampler *samplers = NULL;
    rt_sample_cand *cand = NULL;
    if (mgc_plan_read(argv[optind], &plan, &err) != 0)
        goto fail;
    rt_engine_opts eo = {.progress = isatty(2)};
    if (rt_engine_load(&plan, model, &eo, &en, &err) != 0)
        goto fail;
    if (users > rt_engine_max_users(en) || users > plan.cache_users) {
        mgc_errorf(&err, "the plan decodes at most %lld users (compile with --batch)", (long long)plan.cache_users);
        goto fail;
    }
    if (nprompt + max_new > rt_engine_max_seq(en)) {
        mgc_errorf(&err, "a prompt of %d tokens plus %ld new ones exceeds the plan's maximum sequence of %lld",
                   nprompt, max_new, (long long)rt_engine_max_seq(en));
        goto fail;
    }
    int64_t vocab = rt_engine_vocab(en);
    logits = malloc(sizeof(float) * (size_t)vocab * (size_t)(nprompt > users ? nprompt : users));
    gen = calloc((size_t)users, sizeof *gen);
    samplers = calloc((size_t)users, sizeof *samplers);
    cand = malloc(sizeof *cand * (size_t)vocab);
    int32_t *next = calloc((size_t)users, sizeof(int32_t)), *pos = calloc((size_t)users, sizeof(int32_t));
    int *ulist = calloc((size_t)users, sizeof(int));
    double t0 = now();
    for (int u = 0; u < users && max_new > 0; u++) {
        gen[u] = malloc(sizeof(int32_t) * (size_t)max_new);
        rt_sampler_init(&samplers[u], (float)temperature, (int)top_k, (float)top_p, seed + (unsigned long long)u, &err);
        if (rt_engine_prefill(en, u, prompt_ids, nprompt, 0, logits, &err) != 0)
            goto fail_loop;
        int tok = rt_sample(&samplers[u], logits + (size_t)(nprompt - 1) * (size_t)vocab, (int)vocab, cand, &err);
        if (tok < 0)
            goto fail_loop;
        gen[u][0] = tok;
        next[u] = tok;
        pos[u] = nprompt;
        ulist[u] = u;
    }
    double t1 = now();
    int64_t refill_pos = longrope_refill_pos(&plan);
    for (long step = 1; step < max_new; step++) {
        /* every user has the same length: all cross LongRoPE's switch together */
        int again = refill_pos > 0 && pos[0] == refill_pos;
        if (!again && rt_engine_decode(en, (int)users, ulist, next, pos, logits, &err) != 0)
            goto fail_loop;
        for (int u = 0; u < users; u++) {
            const float *row = logits + (size_t)u * (size_t)vocab;
            if (again) {
                if (refill(en, u, prompt_ids, nprompt, gen[u], step, &refill_rows, &err) != 0)
                    goto fail_loop;
                row = refill_rows + (size_t)pos[u] * (size_t)vocab;
            }
            int tok = rt_sample(&samplers[u], row, (int)vocab, cand, &err);
            if (tok < 0)
                goto fail_loop;
            gen[u][step] = tok;
            next[u] = tok;
            pos[u]++;
        }
    }
    double t2 = now();
    for (int u = 0; u < users; u++) {
        printf("user %d:", u);
        for (long i = 0; i < max_new; i++)
            printf(" %d", gen[u][i]);
        printf("\n");
    }
    fprintf(stderr, "mgc run: prefill %d tokens x %ld user%s in %.3f s; decode %ld steps in %.3f s (%.1f tok/s/user)\n",
            nprompt, users, users == 1 ? "" : "s", t1 - t0, max_new > 0 ? max_new - 1 : 0, t2 - t1,
            max_new > 1 && t2 > t1 ? (double)(max_new - 1) / (t2 - t1) : 0.0);
    rc = MGC_EXIT_OK;
    goto done;
fail_loop:
    fprintf(stderr, "mgc run: %s\n", err.msg);
done:
    free(next);
    free(pos);
    free(ulist);
    goto out;
fail:
    fprintf(stderr, "mgc run: %s\n", err.msg);
out:
    for (int u = 0; gen && u < users; u++)
        free(gen[u]);
    free(gen);
    free(samplers);
    free(cand);
    free(logits);
    free(refill_rows);
    free(prompt_ids);
    rt_engine_free(en);
    mgc_plan_free(&plan);
    return rc;
}
