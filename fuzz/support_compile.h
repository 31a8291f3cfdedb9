/* The compile step shared by the spec and config fuzz targets: compiles `spec` with
 * `config` (paths) for the system the spec names (graphs/systems), discarding the result.  An
 * input that reaches an "internal error" is a finding: the target aborts on it. */
#ifndef FUZZ_SUPPORT_COMPILE_H
#define FUZZ_SUPPORT_COMPILE_H

#include "program.h"

void fuzz_compile(const char *spec, const char *config);
/* The same for a program already loaded and checked from `spec` (the config target
 * parses its fixed spec once: parsing was half of each run's time). */
void fuzz_compile_program(const mgc_program *prog, const char *spec, const char *config);
/* Loads and checks `spec` once; aborts if it fails (a fixed, bundled spec must pass). */
mgc_program *fuzz_load_checked(const char *spec);

#endif
