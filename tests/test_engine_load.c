/* Loading places a matrix's row blocks in parallel over the device's pool
 * (runtime/engine_load.c) into storage from rt_pages_alloc
 * (runtime/pages.c).  The weights placed must be the same bytes with any
 * number of threads; a non-finite weight must be reported at the first
 * place a sequential load would meet it; and the page allocator must hand
 * out zeroed, aligned, writable memory of every size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_helpers.h"
#include "engine.h"
#include "engine_internal.h"
#include "pages.h"

static void test_pages(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 63, 4096, ((size_t)2 << 20) - 1, (size_t)2 << 20, ((size_t)5 << 20) + 3};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *p = rt_pages_alloc(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % (n >= ((size_t)2 << 20) ? ((size_t)2 << 20) : 64), 0);
        for (size_t k = 0; k < n; k++)
            if (p[k] != 0)
                fail_msg("byte %zu of %zu is not zero", k, n);
        memset(p, 0xa5, n);
        rt_pages_free(p, n);
    }
    rt_pages_free(NULL, 123);
}

static rt_engine *load(const mgc_plan *plan, const char *dir, int cores, mgc_error *e)
{
    rt_engine *en = NULL;
    rt_engine_opts eo = {.n_cores = cores};
    return rt_engine_load(plan, dir, &eo, &en, e) == 0 ? en : NULL;
}

/* Every matrix of every architecture (f32 and the spec's precision: bf16,
 * bf8_b for Mixtral), placed by 1 and by 3 threads: the same bytes. */
static void test_same_weights_any_threads(void **state)
{
    (void)state;
    for (size_t a = 0; a < e2e_narchs; a++)
        for (int f32 = 0; f32 < 2; f32++) {
            char dir[512];
            e2e_model_dir(&e2e_archs[a], dir, sizeof dir);
            mgc_plan plan;
            assert_int_equal(e2e_compile(e2e_archs[a].spec, dir, "cpu", f32 ? MGC_F32 : -1, f32 ? MGC_F32 : -1,
                                         E2E_MAX_SEQ, &plan),
                             0);
            mgc_error e = {{0}};
            rt_engine *one = load(&plan, dir, 1, &e), *three = load(&plan, dir, 3, &e);
            assert_non_null(one);
            assert_non_null(three);
            assert_int_equal(rt_pool_threads(three->dev[0].pool), 3);
            for (size_t i = 0; i < plan.nweights; i++) {
                const rt_matrix *x = &one->dev[0].mats[i], *y = &three->dev[0].mats[i];
                assert_int_equal(x->bytes, y->bytes);
                if (!x->data)
                    continue;
                size_t eb = x->exps ? (size_t)((x->n + 15) / 16) * (size_t)x->k : 0; /* exps [nb][k] */
                if (memcmp(x->data, y->data, x->bytes - eb) != 0 || (eb && memcmp(x->exps, y->exps, eb) != 0))
                    fail_msg("%s: weight %s differs between 1 and 3 loading threads", e2e_archs[a].name,
                             plan.weights[i].hf_name);
                assert_int_equal(x->nonfinite, y->nonfinite);
            }
            rt_engine_free(one);
            rt_engine_free(three);
            mgc_plan_free(&plan);
        }
}

/* The embedding [512][256] loads as two blocks of 256 rows, one per thread.
 * NaN at rows `bad` (-1: none) of a copy of the fixture; the error names the
 * first of them. */
static void expect_first_nan(const int bad[2], const char *want)
{
    const e2e_arch *a = e2e_arch_find("llama32");
    char dir[512];
    e2e_model_dir(a, dir, sizeof dir);
    char *src = e2e_path(dir, "model.safetensors");
    rt_st_file *f = NULL;
    mgc_error e = {{0}};
    assert_int_equal(rt_st_open(src, &f, &e), 0);
    const rt_st_tensor *t = rt_st_find(f, "model.embed_tokens.weight");
    assert_non_null(t);
    assert_int_equal(t->shape[0], 512);
    rt_st_entry ent = rt_st_entry_of(t);
    unsigned char *data = malloc(ent.nbytes);
    memcpy(data, ent.data, ent.nbytes);
    size_t es = t->dtype == RT_ST_F32 ? 4 : 2, cols = (size_t)t->shape[1];
    for (int i = 0; i < 2; i++)
        if (bad[i] >= 0)
            memset(data + ((size_t)bad[i] * cols + 7) * es, 0xff, es); /* all ones: a NaN in f32 and bf16 */
    ent.data = data;
    char *variant = e2e_fixture_variant(dir, NULL, &ent);
    rt_st_close(f);
    free(data);
    free(src);
    mgc_plan plan;
    assert_int_equal(e2e_compile(a->spec, variant, "cpu", -1, -1, E2E_MAX_SEQ, &plan), 0);
    for (int run = 0; run < 5; run++) { /* whichever thread meets its NaN first */
        memset(&e, 0, sizeof e);
        rt_engine *en = load(&plan, variant, 2, &e);
        assert_null(en);
        if (!strstr(e.msg, want))
            fail_msg("expected '%s' in: %s", want, e.msg);
    }
    mgc_plan_free(&plan);
    e2e_rmtree(variant);
}

static void test_first_nonfinite_reported(void **state)
{
    (void)state;
    expect_first_nan((const int[2]){100, 300}, "has a non-finite value (nan) at [100, 7]");
    expect_first_nan((const int[2]){300, 400}, "has a non-finite value (nan) at [300, 7]");
    expect_first_nan((const int[2]){-1, 511}, "has a non-finite value (nan) at [511, 7]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_same_weights_any_threads),
        cmocka_unit_test(test_first_nonfinite_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
