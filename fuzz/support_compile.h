/* The compile step shared by the spec and config fuzz targets: compiles `spec` with
 * `config` (paths) for the system the spec names (graphs/systems), discarding the result.  An
 * input that reaches an "internal error" is a finding: the target aborts on it. */
#ifndef FUZZ_SUPPORT_COMPILE_H
#define FUZZ_SUPPORT_COMPILE_H

void fuzz_compile(const char *spec, const char *config);

#endif
