/* mgc reference: write a reference file with mgc's own f32 unsharded run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_ref.h"
#include "commands.h"
#include "prompt.h"
#include "reference.h"

void mgc_help_reference(FILE *out)
{
    fprintf(out,
            "usage: mgc reference SPEC --model DIR (--tokens LIST | --prompt TEXT | --prompt-file F)\n"
            "                     [--max-new-tokens N] -o REF.safetensors\n"
            "\n"
            "Runs SPEC unsharded on one device with f32 weights and activations and writes\n"
            "a reference file in the format of HuggingFace-made ones (input_ids, logits,\n"
            "top5, hidden_states, prompt_len), for `mgc eval --reference`.\n"
            "\n"
            "With --max-new-tokens N the prompt is continued greedily for N tokens.\n"
            "Without it the prompt is split as tt-metal does: its first half is the prompt,\n"
            "the second half the tokens to teacher-force.\n");
}

int mgc_reference_tokens(const char *model, const char *tokens, const char *prompt, const char *prompt_file,
                         int32_t **ids, int *n, mgc_error *e)
{
    if (!!tokens + !!prompt + !!prompt_file != 1)
        return mgc_errorf(e, "give exactly one of --tokens, --prompt or --prompt-file");
    if (tokens)
        return mgc_parse_token_list(tokens, ids, n, e);
    char *text = prompt ? strdup(prompt) : mgc_read_text_file(prompt_file, e);
    if (!text)
        return -1;
    if (!*text) {
        free(text);
        return mgc_errorf(e, "the prompt%s%s is empty", prompt_file ? " file " : "", prompt_file ? prompt_file : "");
    }
    int rc = mgc_tokenize_prompt(model, text, ids, n, e);
    free(text);
    if (rc == 0 && *n == 0) {
        free(*ids);
        return mgc_errorf(e, "the prompt is empty");
    }
    return rc;
}

int mgc_reference_build(rt_engine *en, const int32_t *ids, int n, long max_new, ev_reference *ref, mgc_error *e)
{
    if (max_new > 0)
        return ev_reference_make(en, ids, n, n, (int)max_new, ref, e);
    if (n < 2)
        return mgc_errorf(e, "a prompt of %d token%s cannot be split into a prompt and a continuation; give "
                             "--max-new-tokens", n, n == 1 ? "" : "s");
    return ev_reference_make(en, ids, n, n / 2, 0, ref, e);
}

int mgc_cmd_reference(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},      {"tokens", required_argument, 0, 't'},
        {"prompt", required_argument, 0, 'p'},     {"prompt-file", required_argument, 0, 'f'},
        {"max-new-tokens", required_argument, 0, 'n'}, {0, 0, 0, 0},
    };
    const char *model = NULL, *tokens = NULL, *prompt = NULL, *pfile = NULL, *out = NULL;
    long max_new = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'm': model = optarg; break;
        case 't': tokens = optarg; break;
        case 'p': prompt = optarg; break;
        case 'f': pfile = optarg; break;
        case 'o': out = optarg; break;
        case 'n':
            max_new = strtol(optarg, &end, 10);
            if (!*optarg || *end || max_new < 0 || max_new > 1 << 20) {
                fprintf(stderr, "mgc reference: --max-new-tokens needs a non-negative integer, got '%s'\n", optarg);
                return MGC_EXIT_USAGE;
            }
            break;
        default:
            fprintf(stderr, "mgc reference: unknown or incomplete option '%s' (see mgc reference --help)\n",
                    argv[optind - 1]);
            return MGC_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !model || !out || (!!tokens + !!prompt + !!pfile) != 1) {
        fprintf(stderr, "mgc reference: expected SPEC --model DIR, one of --tokens/--prompt/--prompt-file, and -o FILE\n");
        return MGC_EXIT_USAGE;
    }
    mgc_error err = {{0}};
    int32_t *ids = NULL;
    int n = 0;
    mgc_plan plan;
    memset(&plan, 0, sizeof plan);
    rt_engine *en = NULL;
    ev_reference ref;
    memset(&ref, 0, sizeof ref);
    int rc = MGC_EXIT_INPUT;
    if (mgc_reference_tokens(model, tokens, prompt, pfile, &ids, &n, &err) != 0 ||
        mgc_builtin_reference_engine(argv[optind], model, 0, &plan, &en, &err) != 0 ||
        mgc_reference_build(en, ids, n, max_new, &ref, &err) != 0)
        goto fail;
    const char *meta[] = {"producer", "mgc reference (f32, one device)", "spec", argv[optind], "model", plan.model,
                          NULL};
    if (ev_reference_write(&ref, out, meta, &err) != 0)
        goto fail;
    fprintf(stderr, "mgc reference: wrote %s: %lld tokens (prompt %lld), vocab %lld%s\n", out, (long long)ref.t,
            (long long)ref.prompt_len, (long long)ref.vocab, ref.hidden_states ? ", with hidden_states" : "");
    rc = MGC_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "mgc reference: %s\n", err.msg);
out:
    ev_reference_free(&ref);
    rt_engine_free(en);
    mgc_plan_free(&plan);
    free(ids);
    return rc;
}
