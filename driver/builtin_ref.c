#include "builtin_ref.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model_dir.h"
#include "commands.h"
#include "compile.h"

int mgc_builtin_reference_engine(const char *spec, const char *model_dir, int64_t max_seq, mgc_plan *plan,
                                 rt_engine **en, mgc_error *e)
{
    memset(plan, 0, sizeof *plan);
    *en = NULL;
    mgc_model_dir md;
    if (mgc_model_dir_open(&md, model_dir, 1, e) != 0)
        return -1;
    mgc_compile_opts o;
    mgc_compile_opts_init(&o);
    o.spec_path = spec;
    mgc_model_dir_apply(&md, &o);
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
    mgc_model_dir_close(&md);
    if (rc != 0)
        return mgc_errorf(e, "%s: compiling the builtin reference (cpu, f32) failed", spec);
    rt_engine_opts eo = {.progress = isatty(2)};
    if (rt_engine_load(plan, md.dir, &eo, en, e) != 0) {
        mgc_plan_free(plan);
        return -1;
    }
    return 0;
}
