/* accuracy_floors.h: the accuracy a bringup must reach in `mgc eval`.
 *
 * A spec states its floors with `expect top1=0.95 top5=1.0 pcc=0.999`; the
 * plan carries them (mgc_plan.expect_*).  `mgc eval` compares them with
 * the metrics of all positions (top1, top5, and pcc_min) after printing its
 * report, and fails when one is missed.  Flags override a floor
 * (--expect-top1 X ...) or drop them all (--no-expect). */
#ifndef MGC_ACCURACY_FLOORS_H
#define MGC_ACCURACY_FLOORS_H

#include <stdio.h>

enum { MGC_FLOOR_TOP1, MGC_FLOOR_TOP5, MGC_FLOOR_PCC, MGC_NFLOORS };

typedef struct mgc_floors {
    double v[MGC_NFLOORS];    /* < 0: no floor */
    char from[MGC_NFLOORS][64]; /* where it was set: "spec line 12", "--expect-top1" */
} mgc_floors;

/* No floors. */
void mgc_floors_init(mgc_floors *f);

/* The floors of the root spec's `expect` statement (literal numbers, as
 * the checker requires), recorded with its line.  Returns 1 if the spec
 * has one, 0 if not (or it cannot be read: eval then runs without). */
int mgc_floors_from_spec(mgc_floors *f, const char *spec_path);

/* Sets floor `which` (0 <= v <= 1) from `from`. */
void mgc_floors_set(mgc_floors *f, int which, double v, const char *from);

/* Prints "mgc eval: FAILED: top1 0.2300 < expected 0.9500 (spec line 12)"
 * to `out` for each missed floor; returns how many were missed. */
int mgc_floors_check(const mgc_floors *f, double top1, double top5, double pcc_min, FILE *out);

#endif
