/* accuracy_floors.c: see accuracy_floors.h. */
#include "accuracy_floors.h"

#include <math.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "parse.h"

static const char *const names[MGC_NFLOORS] = {"top1", "top5", "pcc"};

void mgc_floors_init(mgc_floors *f)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < MGC_NFLOORS; i++)
        f->v[i] = -1;
}

void mgc_floors_set(mgc_floors *f, int which, double v, const char *from)
{
    f->v[which] = v;
    snprintf(f->from[which], sizeof f->from[which], "%s", from);
}

int mgc_floors_from_spec(mgc_floors *f, const char *spec_path)
{
    if (!spec_path || !*spec_path)
        return 0;
    mgc_diags d;
    mgc_diags_init(&d);
    mgc_ast_file *a = mgc_parse_file(spec_path, &d);
    int found = 0;
    for (size_t i = 0; a && !d.nerrors && i < a->nstmts && !found; i++) {
        const mgc_ast_stmt *s = a->stmts[i];
        if (s->kind != MGC_ST_EXPECT)
            continue;
        found = 1;
        char from[64];
        snprintf(from, sizeof from, "spec line %d", s->span.line);
        for (size_t k = 0; k < s->nsettings; k++) {
            const mgc_ast_expr *v = s->settings[k].value;
            double x = v->kind == MGC_EX_INT ? (double)v->ival : v->kind == MGC_EX_FLOAT ? v->fval : -1;
            for (int w = 0; w < MGC_NFLOORS; w++)
                if (strcmp(s->settings[k].key, names[w]) == 0 && x >= 0 && x <= 1)
                    mgc_floors_set(f, w, x, from);
        }
    }
    mgc_ast_free(a);
    mgc_diags_free(&d);
    return found;
}

int mgc_floors_check(const mgc_floors *f, double top1, double top5, double pcc_min, FILE *out)
{
    const double got[MGC_NFLOORS] = {top1, top5, pcc_min};
    int missed = 0;
    for (int i = 0; i < MGC_NFLOORS; i++) {
        if (f->v[i] < 0)
            continue;
        /* a NaN metric (no positions) misses every floor */
        if (!(got[i] >= f->v[i])) {
            fprintf(out, "mgc eval: FAILED: %s %.4f < expected %.4f (%s)\n", names[i], got[i], f->v[i], f->from[i]);
            missed++;
        }
    }
    return missed;
}
