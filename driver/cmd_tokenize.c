/* mgc tokenize: text to token ids and back through a model's tokenizer.json. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "tokenizer.h"

void mgc_help_tokenize(FILE *out)
{
    fprintf(out,
            "usage: mgc tokenize (--model DIR | --tokenizer FILE) [--decode] [--no-special]\n"
            "\n"
            "Reads standard input line by line (the newline is not part of the text; a\n"
            "carriage return before it is) and prints, for each line, the token ids of its\n"
            "text, separated by spaces, one output line per input line.  With --decode it\n"
            "reads lines of token ids (separated by spaces or tabs) and prints the text of\n"
            "each line followed by a newline (a text may itself contain newlines).\n"
            "\n"
            "The tokenizer is the model's own tokenizer.json (HuggingFace tokenizers\n"
            "format: byte-level BPE as Llama 3 / Qwen3, SentencePiece-style BPE with byte\n"
            "fallback as Llama 2 / Mistral / Phi-3 / ALLaM).  Bytes that are not valid UTF-8\n"
            "are tokenized as U+FFFD (one per maximal invalid sequence).\n"
            "\n"
            "  --model DIR        the checkpoint directory (uses DIR/tokenizer.json)\n"
            "  --tokenizer FILE   a tokenizer.json\n"
            "  --decode           ids to text instead of text to ids\n"
            "  --no-special       encode without the special tokens the post-processor\n"
            "                     adds (e.g. BOS); decode skipping special tokens\n"
            "\n"
            "Exit status: 0 success, 1 bad input (unreadable tokenizer, unknown id),\n"
            "2 bad usage.\n");
}

/* Parses one line of ids; returns 0, or -1 with the offending word in *bad. */
static int parse_ids(char *line, int32_t **ids, size_t *n, size_t *cap, char **bad)
{
    *n = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t\r\v\f", &save); w; w = strtok_r(NULL, " \t\r\v\f", &save)) {
        char *end;
        errno = 0;
        long long v = strtoll(w, &end, 10);
        if (*end || errno || v < 0 || v > INT32_MAX || w[0] == '-' || w[0] == '+') {
            *bad = w;
            return -1;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *ids = realloc(*ids, *cap * sizeof **ids);
            if (!*ids)
                abort();
        }
        (*ids)[(*n)++] = (int32_t)v;
    }
    return 0;
}

int mgc_cmd_tokenize(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},
        {"tokenizer", required_argument, 0, 't'},
        {"decode", no_argument, 0, 'd'},
        {"no-special", no_argument, 0, 'n'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *file = NULL;
    int decode = 0, no_special = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't': file = optarg; break;
        case 'd': decode = 1; break;
        case 'n': no_special = 1; break;
        default:
            fprintf(stderr, "mgc tokenize: unknown or incomplete option '%s' (see mgc tokenize --help)\n",
                    argv[optind - 1]);
            return MGC_EXIT_USAGE;
        }
    }
    if (optind != argc || !model == !file) {
        fprintf(stderr, "mgc tokenize: expected exactly one of --model DIR or --tokenizer FILE, and no other "
                        "arguments (see mgc tokenize --help)\n");
        return MGC_EXIT_USAGE;
    }
    char *path = NULL;
    if (model) {
        size_t n = strlen(model);
        path = malloc(n + sizeof "/tokenizer.json");
        if (!path)
            abort();
        memcpy(path, model, n);
        strcpy(path + n, n && model[n - 1] == '/' ? "tokenizer.json" : "/tokenizer.json");
    }
    mgc_error err = {{0}};
    tokenizer *tok = tok_load(model ? path : file, &err);
    free(path);
    if (!tok) {
        fprintf(stderr, "mgc tokenize: %s\n", err.msg);
        return MGC_EXIT_INPUT;
    }

    int rc = MGC_EXIT_OK;
    char *line = NULL;
    size_t linecap = 0, lineno = 0;
    ssize_t len;
    int32_t *ids = NULL;
    size_t nids = 0, idcap = 0;
    while ((len = getline(&line, &linecap, stdin)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = 0;
        if (!decode) {
            int32_t *out;
            size_t n;
            if (tok_encode(tok, line, (size_t)len, !no_special, &out, &n, &err) != 0) {
                fprintf(stderr, "mgc tokenize: line %zu: %s\n", lineno, err.msg);
                rc = MGC_EXIT_INPUT;
                break;
            }
            for (size_t i = 0; i < n; i++)
                printf(i ? " %ld" : "%ld", (long)out[i]);
            putchar('\n');
            free(out);
        } else {
            char *bad = NULL, *text;
            size_t tlen;
            if (parse_ids(line, &ids, &nids, &idcap, &bad) != 0) {
                fprintf(stderr, "mgc tokenize: line %zu: '%s' is not a token id\n", lineno, bad);
                rc = MGC_EXIT_INPUT;
                break;
            }
            if (tok_decode(tok, ids, nids, no_special, &text, &tlen, &err) != 0) {
                fprintf(stderr, "mgc tokenize: line %zu: %s\n", lineno, err.msg);
                rc = MGC_EXIT_INPUT;
                break;
            }
            fwrite(text, 1, tlen, stdout);
            putchar('\n');
            free(text);
        }
    }
    if (rc == MGC_EXIT_OK && ferror(stdin)) {
        fprintf(stderr, "mgc tokenize: error reading standard input: %s\n", strerror(errno));
        rc = MGC_EXIT_INPUT;
    }
    if (fflush(stdout) != 0 && rc == MGC_EXIT_OK) {
        fprintf(stderr, "mgc tokenize: error writing standard output: %s\n", strerror(errno));
        rc = MGC_EXIT_INPUT;
    }
    free(line);
    free(ids);
    tok_free(tok);
    return rc;
}
