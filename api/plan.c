/* plan.c: compiling specs into plans, plan files and YAML, facts about a plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "compile.h"
#include "datadir.h"
#include "diag.h"
#include "model_dir.h"

static mgc_plan_t *new_plan(void)
{
    mgc_plan_t *p = calloc(1, sizeof *p);
    if (p)
        atomic_init(&p->refs, 1);
    return p;
}

void api_plan_retain(mgc_plan_t *p)
{
    atomic_fetch_add(&p->refs, 1);
}

MGC_API void mgc_plan_destroy(mgc_plan_t *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
        mgc_plan_free(&p->plan);
        free(p);
    }
}

MGC_API void mgc_compile_options_init(mgc_compile_options *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

static int dtype_option(const char *name, const char *value, int weights, int *out, mgc_status *st)
{
    mgc_dtype dt;
    if (!value)
        return 0;
    if (mgc_dtype_parse(value, &dt) != 0 || dt == MGC_I32 || (!weights && dt != MGC_F32 && dt != MGC_BF16)) {
        api_failf(st, MGC_ERR_ARGUMENT, "%s takes %s, not '%s'", name,
                  weights ? "f32, bf16, bf8_b or bf4_b" : "f32 or bf16", value);
        return -1;
    }
    *out = dt;
    return 0;
}

/* Every diagnostic, as `mgc compile` prints them without colour. */
static mgc_code diags_fail(const mgc_diags *d, mgc_status *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return api_failf(st, MGC_ERR_NOMEM, "out of memory");
    mgc_diags_print(d, f, 0);
    fclose(f);
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = 0;
    mgc_code c = api_failf(st, MGC_ERR_INPUT, "%s", len ? buf : "compilation failed");
    free(buf);
    return c;
}

MGC_API mgc_code mgc_plan_compile(const mgc_compile_options *o, mgc_plan_t **out, mgc_status *st)
{
    if (!o || !out)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_plan_compile: options and out must not be NULL");
    *out = NULL;
    if (!o->spec)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_plan_compile: no spec file given");
    if (!o->model_dir == !o->config)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_plan_compile: give exactly one of a model directory or a config");
    if (o->max_seq_len < 0 || o->batch < 0)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_plan_compile: max_seq_len and batch must not be negative");
    mgc_compile_opts co;
    mgc_compile_opts_init(&co);
    co.spec_path = o->spec;
    co.system = o->system;
    co.systems_dir = o->systems_dir;
    co.max_seq_len = o->max_seq_len;
    co.batch = o->batch;
    if (dtype_option("weights_dtype", o->weights_dtype, 1, &co.weights_dtype, st) != 0 ||
        dtype_option("activations_dtype", o->activations_dtype, 0, &co.act_dtype, st) != 0)
        return st ? st->code : MGC_ERR_ARGUMENT;
    mgc_model_dir md;
    memset(&md, 0, sizeof md);
    mgc_error err = {{0}};
    if (o->model_dir) {
        if (mgc_model_dir_open(&md, o->model_dir, 0, &err) != 0)
            return api_fail(st, MGC_ERR_INPUT, &err);
        mgc_model_dir_apply(&md, &co);
    } else {
        co.config_path = o->config;
    }
    mgc_plan_t *p = new_plan();
    if (!p) {
        mgc_model_dir_close(&md);
        return api_failf(st, MGC_ERR_NOMEM, "out of memory");
    }
    mgc_diags d;
    mgc_diags_init(&d);
    int rc = mgc_compile(&co, &d, NULL, &p->plan);
    mgc_code c = rc == 0 ? api_ok(st) : diags_fail(&d, st);
    mgc_diags_free(&d);
    mgc_model_dir_close(&md);
    if (c != MGC_OK) {
        free(p);
        return c;
    }
    *out = p;
    return MGC_OK;
}

MGC_API mgc_code mgc_plan_load(const char *path, mgc_plan_t **out, mgc_status *st)
{
    if (!path || !out)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_plan_load: path and out must not be NULL");
    *out = NULL;
    mgc_plan_t *p = new_plan();
    if (!p)
        return api_failf(st, MGC_ERR_NOMEM, "out of memory");
    mgc_error err = {{0}};
    if (mgc_plan_read(path, &p->plan, &err) != 0) {
        mgc_plan_free(&p->plan);
        free(p);
        return api_fail(st, MGC_ERR_INPUT, &err);
    }
    *out = p;
    return api_ok(st);
}

MGC_API mgc_code mgc_plan_from_yaml(const char *label, const char *yaml, size_t len, mgc_plan_t **out,
                                    mgc_status *st)
{
    if (!yaml || !out)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_plan_from_yaml: yaml and out must not be NULL");
    *out = NULL;
    mgc_plan_t *p = new_plan();
    if (!p)
        return api_failf(st, MGC_ERR_NOMEM, "out of memory");
    mgc_error err = {{0}};
    if (mgc_plan_parse(label ? label : "(plan text)", yaml, len, &p->plan, &err) != 0) {
        mgc_plan_free(&p->plan);
        free(p);
        return api_fail(st, MGC_ERR_INPUT, &err);
    }
    *out = p;
    return api_ok(st);
}

MGC_API mgc_code mgc_plan_save(const mgc_plan_t *p, const char *path, mgc_status *st)
{
    if (!p || !path)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_plan_save: plan and path must not be NULL");
    mgc_error err = {{0}};
    if (mgc_plan_write(&p->plan, path, &err) != 0)
        return api_fail(st, MGC_ERR_INPUT, &err);
    return api_ok(st);
}

MGC_API mgc_code mgc_plan_yaml(const mgc_plan_t *p, char **yaml, size_t *len, mgc_status *st)
{
    if (!p || !yaml)
        return api_failf(st, MGC_ERR_ARGUMENT, "mgc_plan_yaml: plan and yaml must not be NULL");
    mgc_error err = {{0}};
    *yaml = mgc_plan_to_string(&p->plan, &err);
    if (!*yaml)
        return api_fail(st, MGC_ERR_NOMEM, &err);
    if (len)
        *len = strlen(*yaml);
    return api_ok(st);
}

MGC_API const char *mgc_plan_model_name(const mgc_plan_t *p)
{
    return p ? p->plan.model : NULL;
}

MGC_API const char *mgc_plan_system(const mgc_plan_t *p)
{
    return p ? p->plan.system : NULL;
}

MGC_API int mgc_plan_devices(const mgc_plan_t *p)
{
    return p ? p->plan.ndevices : 0;
}

MGC_API const char *mgc_plan_weights_dtype(const mgc_plan_t *p)
{
    return p ? mgc_dtype_name(p->plan.weights_dtype) : NULL;
}

MGC_API const char *mgc_plan_activations_dtype(const mgc_plan_t *p)
{
    return p ? mgc_dtype_name(p->plan.act_dtype) : NULL;
}

MGC_API const char *mgc_data_dir(void)
{
    return mgc_datadir();
}
