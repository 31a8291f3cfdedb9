/* Fuzz target: a config.json, compiled with the bundled Llama 3.2 bringup
 * (graphs/meta-llama/Llama-3.2-1B/t3000.graph): every value the compiler reads from
 * the config passes its checks or is refused, and never reaches an internal error. */
#include <stdint.h>
#include <stdio.h>

#include "support_compile.h"
#include "support_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char spec[4200], config[4200];
    /* The spec is fixed: parsed and checked once (that was half of every run's time);
     * each input goes through the stages that read the config (elaboration onwards).
     * Never freed: it lives as long as the process. */
    static mgc_program *prog;
    if (!prog) {
        snprintf(spec, sizeof spec, "%s/graphs/meta-llama/Llama-3.2-1B/t3000.graph", fuzz_repo_root());
        snprintf(config, sizeof config, "%s/config.json", fuzz_scratch_dir());
        prog = fuzz_load_checked(spec);
    }
    fuzz_write_file(config, data, size);
    fuzz_compile_program(prog, spec, config);
    return 0;
}
