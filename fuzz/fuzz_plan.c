/* Fuzz target: the plan reader (compiler/plan_read.c), parsing from memory, then the
 * plan validator that every reader of a plan runs before trusting it. */
#include <stdint.h>

#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mgc_error e = {{0}};
    mgc_plan p;
    if (mgc_plan_parse("fuzz.plan.yaml", (const char *)data, size, &p, &e) == 0) {
        mgc_plan_validate(&p, &e);
        mgc_plan_free(&p);
    }
    return 0;
}
