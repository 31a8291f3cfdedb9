#include "builtin_ref.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_lookup.h"
#include "commands.h"
#include "compile.h"

int mgc_builtin_reference_engine(const char *spec, const char *model_dir, int64_t max_seq, mgc_plan *plan,
                                 rt_engine **en, mgc_error *e)
{
    memset(plan, 0, sizeof *plan);
    *en = NULL;
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/config.json", model_dir);
    rt_ckpt *ck = NULL;
    if (rt_ckpt_open(model_dir, &ck, e) != 0)
        return -1;
    mgc_tensor_lookup lk;
    mgc_ckpt_lookup_init(&lk, ck, model_dir);
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    o.config_path = cfg;
    o.tensors = &lk;
    o.system = "cpu";
    o.max_seq_len = max_seq;
    o.weights_dtype = MGC_F32;
    o.act_dtype = MGC_F32;
    mgc_diags d;
    mgc_diags_init(&d);
    int rc = mgc_compile(&o, &d, NULL, plan);
    if (rc != 0 || d.nerrors)
        mgc_diags_print(&d, stderr, mgc_use_color(stderr));
    mgc_diags_free(&d);
    rt_ckpt_close(ck);
    if (rc != 0)
        return mgc_errorf(e, "%s: compiling the builtin reference (cpu, f32) failed", spec);
    rt_engine_opts eo = {.progress = isatty(2)};
    if (rt_engine_load(plan, model_dir, &eo, en, e) != 0) {
        mgc_plan_free(plan);
        return -1;
    }
    return 0;
}
