/* A sharded HuggingFace checkpoint (model.safetensors.index.json plus its
 * shards) compiles and runs exactly as the single file it was split from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "eval.h"
#include "safetensors.h"

/* Splits tests/fixtures/<arch>/model.safetensors into two shards (tensors
 * alternating between them) with an index, beside a copy of config.json. */
static char *shard_fixture(const char *arch)
{
    char *dir = e2e_tmpdir();
    char src[256];
    snprintf(src, sizeof src, "tests/fixtures/%s/model.safetensors", arch);
    rt_st_file *f = NULL;
    mgc_error e = {{0}};
    assert_int_equal(rt_st_open(src, &f, &e), 0);
    size_t n = rt_st_count(f);
    rt_st_entry *part[2];
    size_t np[2] = {0, 0};
    part[0] = calloc(n, sizeof(rt_st_entry));
    part[1] = calloc(n, sizeof(rt_st_entry));
    FILE *idx = NULL;
    char *ipath = e2e_path(dir, "model.safetensors.index.json");
    idx = fopen(ipath, "w");
    assert_non_null(idx);
    fprintf(idx, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (size_t i = 0; i < n; i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        int s = (int)(i % 2);
        part[s][np[s]++] = rt_st_entry_of(t);
        fprintf(idx, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "", t->name, s + 1);
    }
    fprintf(idx, "}}\n");
    fclose(idx);
    for (int s = 0; s < 2; s++) {
        char name[64];
        snprintf(name, sizeof name, "model-0000%d-of-00002.safetensors", s + 1);
        char *p = e2e_path(dir, name);
        assert_int_equal(rt_st_write(p, part[s], np[s], NULL, &e), 0);
        free(p);
        free(part[s]);
    }
    rt_st_close(f);
    char cfg[256];
    snprintf(cfg, sizeof cfg, "tests/fixtures/%s/config.json", arch);
    char *to = e2e_path(dir, "config.json");
    e2e_copy_file(cfg, to, -1);
    free(to);
    free(ipath);
    return dir;
}

static void eval_logits(const char *spec, const char *model_dir, const char *ref_path, float **logits,
                        ev_result *res)
{
    mgc_plan plan;
    assert_int_equal(e2e_compile(spec, model_dir, "t3000", MGC_F32, MGC_F32, E2E_MAX_SEQ, &plan), 0);
    rt_engine *en = NULL;
    mgc_error e = {{0}};
    rt_engine_opts o = {0};
    assert_int_equal(rt_engine_load(&plan, model_dir, &o, &en, &e), 0);
    ev_reference ref;
    assert_int_equal(ev_reference_load(ref_path, &ref, &e), 0);
    *logits = malloc(sizeof(float) * (size_t)(ref.t * ref.vocab));
    ev_opts eo = {.logits_out = *logits};
    assert_int_equal(ev_teacher_forcing(en, &ref, &eo, res, &e), 0);
    ev_reference_free(&ref);
    rt_engine_free(en);
    mgc_plan_free(&plan);
}

static void sharded_checkpoint_runs_like_the_single_file(void **state)
{
    (void)state;
    const char *archs[] = {"qwen3", "phi3"};
    const char *specs[] = {"graphs/Qwen/Qwen3-0.6B/t3000.graph", "graphs/microsoft/Phi-3-mini-128k-instruct/t3000.graph"};
    const char *refs[] = {"tests/fixtures/qwen3/reference.safetensors", "tests/fixtures/phi3/reference_short.safetensors"};
    for (int a = 0; a < 2; a++) {
        char *dir = shard_fixture(archs[a]);
        char single[128];
        snprintf(single, sizeof single, "tests/fixtures/%s", archs[a]);
        float *x = NULL, *y = NULL;
        ev_result rx, ry;
        eval_logits(specs[a], dir, refs[a], &x, &rx);
        eval_logits(specs[a], single, refs[a], &y, &ry);
        assert_int_equal(rx.positions, ry.positions);
        assert_true(rx.all.top1 == 1.0 && rx.all.top5 == 1.0);
        assert_true(rx.all.pcc_min >= 0.99999);
        /* the same bytes, placed the same way: the same logits to the bit */
        assert_memory_equal(x, y, sizeof(float) * (size_t)rx.positions * 512);
        free(x);
        free(y);
        ev_result_free(&rx);
        ev_result_free(&ry);
        e2e_rmtree(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sharded_checkpoint_runs_like_the_single_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
