/* generate.c: the whole workflow through libmgc's public API (mgc.h):
 * compile a spec for a model, load it onto its mesh, generate from a prompt
 * (streaming each token as it comes), and evaluate it against a reference.
 *
 *   cc generate.c $(pkg-config --cflags --libs mgc) -o generate
 *   ./generate SPEC MODEL_DIR REFERENCE 1,2,3 [N]
 *
 * SPEC is a graph spec (the installed ones are in $(pkg-config
 * --variable=datadir mgc)/graphs), MODEL_DIR a HuggingFace model directory,
 * REFERENCE a reference file in the HF fixtures' format, then the prompt as
 * token ids and the number of tokens to generate (default 8).  Prints the
 * generated ids on one line, then the eval figures. */
#include <mgc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_token(void *user_data, int32_t token, const char *text)
{
    (void)user_data;
    (void)text; /* the text of the token, when the model has a tokenizer.json */
    if (token >= 0)
        printf(" %d", token);
    fflush(stdout);
    return 0; /* nonzero would stop generating */
}

static int fail(const char *what, const mgc_status *st)
{
    fprintf(stderr, "generate: %s: %s\n", what, st->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s SPEC MODEL_DIR REFERENCE 1,2,3 [N]\n", argv[0]);
        return 2;
    }
    int32_t prompt[1024];
    int n_prompt = 0;
    for (char *s = argv[4]; *s && n_prompt < 1024; s += *s == ',') {
        char *end;
        prompt[n_prompt++] = (int32_t)strtol(s, &end, 10);
        if (end == s) {
            fprintf(stderr, "generate: '%s' is not a list of token ids\n", argv[4]);
            return 2;
        }
        s = end;
    }
    int n_new = argc > 5 ? atoi(argv[5]) : 8;
    if (n_new < 1 || n_new > 4096) {
        fprintf(stderr, "generate: N must be in 1..4096\n");
        return 2;
    }
    printf("libmgc %s\n", mgc_version());

    mgc_status st;
    mgc_compile_options co;
    mgc_compile_options_init(&co);
    co.spec = argv[1];
    co.model_dir = argv[2];
    co.weights_dtype = "f32"; /* full precision: HF's own figures */
    co.activations_dtype = "f32";
    mgc_plan_t *plan = NULL;
    if (mgc_plan_compile(&co, &plan, &st) != MGC_OK)
        return fail("compile", &st);
    printf("compiled %s for %s (%d devices)\n", mgc_plan_model_name(plan), mgc_plan_system(plan),
           mgc_plan_devices(plan));

    mgc_model_t *model = NULL;
    if (mgc_model_load(plan, argv[2], NULL, &model, &st) != MGC_OK) {
        mgc_plan_destroy(plan);
        return fail("load", &st);
    }
    mgc_plan_destroy(plan); /* the model keeps what it needs */

    mgc_generate_options go;
    mgc_generate_options_init(&go);
    go.max_new_tokens = n_new;
    go.on_token = print_token;
    int32_t *out = malloc(sizeof *out * (size_t)n_new);
    int n_out = 0;
    printf("generated:");
    mgc_code rc = mgc_generate(model, prompt, n_prompt, &go, out, &n_out, &st);
    printf("\n");
    free(out);
    if (rc != MGC_OK) {
        mgc_model_destroy(model);
        return fail("generate", &st);
    }

    mgc_eval_metrics em;
    if (mgc_model_eval(model, argv[3], 0, &em, &st) != MGC_OK) {
        mgc_model_destroy(model);
        return fail("eval", &st);
    }
    printf("eval: %lld positions, top1 %.6f, top5 %.6f, pcc_min %.8f\n", (long long)em.tokens, em.top1, em.top5,
           em.pcc_min);
    mgc_model_destroy(model);
    return 0;
}
