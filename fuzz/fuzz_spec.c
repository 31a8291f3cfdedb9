/* Fuzz target: a graph spec, parsed, checked and compiled (through lowering, memory
 * planning and plan validation) with the Llama 3.2 fixture's config.json.  The spec
 * is written two directories below a scratch directory whose `common` links to
 * graphs/common, so the bundled bringups' `import "../../common/llama.graph"` works. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

#include "support_compile.h"
#include "support_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char spec[4200], config[4200];

static void setup(void)
{
    const char *s = fuzz_scratch_dir();
    char p[4200], target[4200];
    snprintf(p, sizeof p, "%s/org", s);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/org/model", s);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/common", s);
    snprintf(target, sizeof target, "%s/graphs/common", fuzz_repo_root());
    if (symlink(target, p) != 0)
        perror(p);
    snprintf(spec, sizeof spec, "%s/org/model/t3000.graph", s);
    snprintf(config, sizeof config, "%s/tests/fixtures/llama32/config.json", fuzz_repo_root());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!spec[0])
        setup();
    fuzz_write_file(spec, data, size);
    fuzz_compile(spec, config);
    return 0;
}
