/* The examples are run so that what their pages show stays true.  Each
 * check below is a fact the walkthrough states, with its independent reason
 * in a comment (hand arithmetic, the head-divisibility rule), not a copy of
 * an earlier run's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_helpers.h"

static char *run_capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len - 1 == 0)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    pclose(p);
    return buf;
}

static void expect_in(const char *out, const char *needle)
{
    if (!strstr(out, needle)) {
        fprintf(stderr, "expected to find:\n  %s\nin the example's output:\n%s\n", needle, out);
        fail();
    }
}

static void smollm2_walkthrough(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "MGC=%s sh examples/smollm2-135m/run.sh 2>&1", e2e_mgc_path());
    char *out = run_capture(cmd);
    /* step 1: the spec checks */
    expect_in(out, "(no output: the spec checks)");
    /* step 2: nine query heads cannot split over eight devices; the error
     * points at the shared decoder and the notes walk back to the spec */
    expect_in(out, "error: heads: 9 heads do not split over the 8 devices of t3000");
    expect_in(out, "examples/smollm2-135m/n150.graph:15:9: note: in 'llama_decoder', called from here");
    expect_in(out, "(exit status 1)");
    /* on n150: bf16 weights = (49152*576 + 30*3538944) * 2 bytes for the
     * checkpoint's tensors + 49152*576*2 for the tied lm_head stored again +
     * 61*576*4 for the f32 norms = 325,723,392 B = 310.6 MiB; KV cache =
     * 30 layers * 2 * 32 users * 3 heads * 2048 * 64 * 2 B = 1440 MiB */
    expect_in(out, "310.6 MiB weights + 1440.0 MiB KV cache");
    expect_in(out, "on n150 (1 device), 273 weights"); /* 30 layers x 9 tensors + embed + norm + tied lm_head */
    /* step 3: bf16 against the f32 builtin reference keeps every top token
     * (the fixtures README: HF's own bf16 run keeps top-1 >= 0.96 and
     * PCC >= 0.9997 on these architectures) */
    expect_in(out, "reference builtin reference (f32, one device): 26 tokens, prompt 10, vocab 512");
    expect_in(out, "every layer has pcc >= 0.99");
    expect_in(out, "\"top1\":1.000000,\"top5\":1.000000");
    expect_in(out, "YT_METRICS={\"model\":\"HuggingFaceTB/SmolLM2-135M\",\"system\":\"n150\"");
    free(out);
}

/* The walkthrough page shows the commands run.sh runs. */
static void smollm2_page_matches_script(void **state)
{
    (void)state;
    char *script = e2e_slurp("examples/smollm2-135m/run.sh", NULL);
    char *page = e2e_slurp("examples/smollm2-135m/README.md", NULL);
    const char *cmds[] = {
        "$ mgc check examples/smollm2-135m/n150.graph",
        "$ mgc compile examples/smollm2-135m/n150.graph --config examples/smollm2-135m/config.json --system t3000",
        "$ mgc compile examples/smollm2-135m/n150.graph --config examples/smollm2-135m/config.json -o smollm2.plan.yaml",
        "$ mgc compile examples/smollm2-135m/n150.graph --model tests/fixtures/llama32 --max-seq-len 128 -o tiny.plan.yaml",
        "$ mgc eval tiny.plan.yaml --model tests/fixtures/llama32 --reference builtin --tokens 1,5,9,200,31,7,77,300,12,4 --max-new-tokens 16 --layers",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        expect_in(script, cmds[i]);
        expect_in(page, cmds[i]);
    }
    free(script);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(smollm2_walkthrough),
        cmocka_unit_test(smollm2_page_matches_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
