/* mgc compile: spec + config.json (+ checkpoint shapes) -> plan. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"
#include "atomic_file.h"
#include "model_dir.h"
#include "commands.h"
#include "compile.h"
#include "parse.h"

void mgc_help_compile(FILE *out)
{
    fprintf(out,
            "usage: mgc compile SPEC (--model DIR | --config FILE) [options]\n"
            "\n"
            "Binds a graph spec to a model's config.json, checks it, shards it over the\n"
            "system's mesh, lowers it to a scheduled op list per device, plans memory, and\n"
            "writes the plan (YAML).  With --model, every weight the spec binds is checked\n"
            "against the checkpoint's tensors (names, shapes, dtypes).\n"
            "\n"
            "  --model DIR              HuggingFace model directory (config.json and, if\n"
            "                           present, model.safetensors or its sharded index)\n"
            "  --config FILE            a config.json alone: compile at true size, no weights\n"
            "  --system NAME            n150, t3000, cpu, or graphs/systems/NAME.yaml\n"
            "                           (default: the system the spec declares)\n"
            "  --systems-dir DIR        where system files live (default graphs/systems)\n"
            "  --max-seq-len N          KV-cache length (default the spec's cache max_len;\n"
            "                           longer is allowed when the plan still fits)\n"
            "  --batch N                users the KV cache holds (default the spec's; decode\n"
            "                           rows are padded to 32, the cache is not)\n"
            "  --weights-dtype D        f32, bf16, bf8_b or bf4_b for every weight\n"
            "  --activations-dtype D    f32 or bf16 for activations and the KV cache\n"
            "  -o PLAN                  write the plan there (atomically); - or no -o: standard\n"
            "                           output (on a terminal only the summary is shown)\n"
            "  --emit WHAT              ast, ir, dot (Graphviz) or plan (default)\n");
}

static int parse_count(const char *opt, const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v <= 0 || v > (1ll << 24)) {
        fprintf(stderr, "mgc compile: %s needs a positive integer, got '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int mgc_cmd_compile(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},       {"config", required_argument, 0, 'c'},
        {"system", required_argument, 0, 's'},      {"systems-dir", required_argument, 0, 'S'},
        {"max-seq-len", required_argument, 0, 'L'}, {"batch", required_argument, 0, 'b'},
        {"weights-dtype", required_argument, 0, 'w'}, {"activations-dtype", required_argument, 0, 'a'},
        {"emit", required_argument, 0, 'e'},        {0, 0, 0, 0},
    };
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    const char *model = NULL, *config = NULL, *outpath = NULL, *emit = "plan";
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        mgc_dtype dt;
        switch (c) {
        case 'm': model = optarg; break;
        case 'c': config = optarg; break;
        case 's': o.system = optarg; break;
        case 'S': o.systems_dir = optarg; break;
        case 'o': outpath = optarg; break;
        case 'e': emit = optarg; break;
        case 'L':
            if (parse_count("--max-seq-len", optarg, &o.max_seq_len) < 0)
                return MGC_EXIT_USAGE;
            break;
        case 'b':
            if (parse_count("--batch", optarg, &o.batch) < 0)
                return MGC_EXIT_USAGE;
            break;
        case 'w':
            if (mgc_dtype_parse(optarg, &dt) != 0 || dt == MGC_I32) {
                fprintf(stderr, "mgc compile: --weights-dtype takes f32, bf16, bf8_b or bf4_b, not '%s'\n", optarg);
                return MGC_EXIT_USAGE;
            }
            o.weights_dtype = dt;
            break;
        case 'a':
            if (mgc_dtype_parse(optarg, &dt) != 0 || (dt != MGC_F32 && dt != MGC_BF16)) {
                fprintf(stderr, "mgc compile: --activations-dtype takes f32 or bf16, not '%s'\n", optarg);
                return MGC_EXIT_USAGE;
            }
            o.act_dtype = dt;
            break;
        default:
            fprintf(stderr, "mgc compile: unknown or incomplete option '%s' (see mgc compile --help)\n",
                    argv[optind - 1]);
            return MGC_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "mgc compile: expected exactly one SPEC file (see mgc compile --help)\n");
        return MGC_EXIT_USAGE;
    }
    if (!!model == !!config) {
        fprintf(stderr, "mgc compile: give either --model DIR or --config FILE\n");
        return MGC_EXIT_USAGE;
    }
    if (strcmp(emit, "plan") && strcmp(emit, "ir") && strcmp(emit, "dot") && strcmp(emit, "ast")) {
        fprintf(stderr, "mgc compile: --emit takes ast, ir, dot or plan, not '%s'\n", emit);
        return MGC_EXIT_USAGE;
    }
    o.spec_path = argv[optind];

    mgc_diags d;
    mgc_diags_init(&d);
    int rc = MGC_EXIT_INPUT;
    mgc_model_dir md;
    memset(&md, 0, sizeof md);

    if (!strcmp(emit, "ast")) {
        mgc_ast_file *f = mgc_parse_file(o.spec_path, &d);
        if (f && !d.nerrors) {
            char *s = mgc_ast_dump(f);
            fputs(s, stdout);
            free(s);
            rc = MGC_EXIT_OK;
        }
        if (f)
            mgc_ast_free(f);
        goto out;
    }
    if (model) {
        mgc_error err = {{0}};
        if (mgc_model_dir_open(&md, model, 0, &err) != 0) {
            fprintf(stderr, "mgc compile: %s\n", err.msg);
            goto out;
        }
        mgc_model_dir_apply(&md, &o);
    } else {
        o.config_path = config;
    }
    mgc_ir ir;
    mgc_plan plan;
    int ok = mgc_compile(&o, &d, &ir, &plan) == 0;
    if (ok) {
        mgc_error err = {{0}};
        if (!strcmp(emit, "plan")) {
            /* a plan is hundreds of KiB of YAML: on a terminal, without -o,
             * show what was compiled instead of flooding the screen */
            int to_tty = !outpath && isatty(1);
            if (!to_tty && mgc_plan_write(&plan, outpath ? outpath : "-", &err) != 0) {
                fprintf(stderr, "mgc compile: %s\n", err.msg);
                ok = 0;
            } else if (outpath || to_tty) {
                size_t nc = 0;
                for (size_t i = 0; i < plan.decode.nops; i++)
                    nc += plan.decode.ops[i].kernel == MGC_K_ALL_REDUCE || plan.decode.ops[i].kernel == MGC_K_ALL_GATHER;
                fprintf(stderr,
                        "mgc compile: %s%s: %s on %s (%d device%s), %zu weights, prefill %zu ops, decode %zu ops "
                        "(%zu collectives); per device %.1f MiB weights + %.1f MiB KV cache + %.1f MiB activations "
                        "= %.1f MiB of %.1f MiB usable (%.1f MiB DRAM less %.1f MiB reserved); KV cache %lld user%s x %lld "
                        "positions\n",
                        to_tty ? "compiled " : "wrote ", to_tty ? o.spec_path : outpath, plan.model, plan.system,
                        plan.ndevices, plan.ndevices == 1 ? "" : "s", plan.nweights, plan.prefill.nops,
                        plan.decode.nops, nc, (double)plan.memory.weights / 1048576.0,
                        (double)plan.memory.kv_cache / 1048576.0, (double)plan.memory.activations / 1048576.0,
                        (double)plan.memory.total / 1048576.0, (double)plan.memory.usable / 1048576.0,
                        (double)plan.memory.dram / 1048576.0,
                        (double)(plan.memory.dram - plan.memory.usable) / 1048576.0, (long long)plan.cache_users,
                        plan.cache_users == 1 ? "" : "s", (long long)plan.cache_len);
                if (to_tty)
                    fprintf(stderr, "mgc compile: plan not written: give -o FILE (or -o - for standard output)\n");
            }
        } else {
            char *s = !strcmp(emit, "ir") ? mgc_ir_to_text(&ir) : mgc_ir_to_dot(&ir);
            if (outpath) {
                if (mgc_write_file_atomic(outpath, s, strlen(s), &err) != 0) {
                    fprintf(stderr, "mgc compile: %s\n", err.msg);
                    ok = 0;
                }
            } else {
                fputs(s, stdout);
            }
            free(s);
        }
        mgc_ir_free(&ir);
        mgc_plan_free(&plan);
    }
    rc = ok ? MGC_EXIT_OK : MGC_EXIT_INPUT;
out:
    mgc_diags_print(&d, stderr, mgc_use_color(stderr));
    mgc_diags_free(&d);
    mgc_model_dir_close(&md);
    return rc;
}
