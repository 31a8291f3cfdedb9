/* CPU feature detection and kernel selection: the runtime's only global
 * mutable state, a table written once under pthread_once. */
#include "kernels.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static rt_isa isa_best = RT_ISA_SCALAR;
static rt_isa isa_used = RT_ISA_SCALAR;
static int isa_env_bad; /* MGC_KERNELS held an unknown value */

const char *rt_isa_name(rt_isa isa)
{
    switch (isa) {
    case RT_ISA_SCALAR:
        return "scalar";
    case RT_ISA_AVX2:
        return "avx2";
    case RT_ISA_AVX512:
        return "avx512";
    }
    return "?";
}

static void isa_detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("fma"))
        isa_best = RT_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        isa_best = RT_ISA_AVX2;
#endif
    isa_env_bad = rt_isa_from_env(getenv("MGC_KERNELS"), isa_best, &isa_used) != 0;
}

rt_isa rt_cpu_best_isa(void)
{
    pthread_once(&isa_once, isa_detect);
    return isa_best;
}

rt_isa rt_kernels_isa(void)
{
    pthread_once(&isa_once, isa_detect);
    return isa_used;
}

int rt_isa_from_env(const char *value, rt_isa best, rt_isa *out)
{
    *out = best;
    if (!value || !*value || strcmp(value, "auto") == 0)
        return 0;
    rt_isa want;
    if (strcmp(value, "scalar") == 0)
        want = RT_ISA_SCALAR;
    else if (strcmp(value, "avx2") == 0)
        want = RT_ISA_AVX2;
    else if (strcmp(value, "avx512") == 0 || strcmp(value, "avx512bf16") == 0)
        want = RT_ISA_AVX512; /* avx512bf16: also the bf16 dot (kernels_bf16dot.c) */
    else
        return -1;
    *out = want < best ? want : best;
    return 0;
}

int rt_kernels_init(int blas_threads, mgc_error *e)
{
    pthread_once(&isa_once, isa_detect);
    openblas_set_num_threads(blas_threads > 0 ? blas_threads : 1);
    if (isa_env_bad)
        return mgc_errorf(e, "MGC_KERNELS='%s' is not one of auto, scalar, avx2, avx512, avx512bf16", getenv("MGC_KERNELS"));
    return 0;
}
