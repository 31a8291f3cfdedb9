/* simd_target.h: compile a region of a file for an instruction set the
 * build does not assume (the code runs only after a run-time CPU check).
 *
 *   RT_TARGET_AVX2_BEGIN ... RT_TARGET_END
 *   RT_TARGET_AVX512_BEGIN ... RT_TARGET_END
 *   RT_TARGET_AVX512BF16_BEGIN ... RT_TARGET_END   (AVX-512 plus vdpbf16ps)
 *
 * gcc takes `#pragma GCC push_options / target`; clang ignores those (and
 * -Werror makes that an error), and instead applies a target attribute to
 * every function of the region with `#pragma clang attribute`. */
#ifndef RT_SIMD_TARGET_H
#define RT_SIMD_TARGET_H

#if defined(__clang__)
#define RT_TARGET_BEGIN_(isa) _Pragma(RT_TARGET_STR_(clang attribute push(__attribute__((target(isa))), apply_to = function)))
#define RT_TARGET_STR_(x) #x
#define RT_TARGET_AVX2_BEGIN RT_TARGET_BEGIN_("avx2,fma")
#define RT_TARGET_AVX512_BEGIN RT_TARGET_BEGIN_("avx512f,avx512bw,avx512vl,avx512dq,fma")
#define RT_TARGET_AVX512BF16_BEGIN RT_TARGET_BEGIN_("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")
#define RT_TARGET_END _Pragma("clang attribute pop")
#else
#define RT_TARGET_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define RT_TARGET_AVX512_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512vl,avx512dq,fma\")")
#define RT_TARGET_AVX512BF16_BEGIN                                                                                    \
    _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16\")")
#define RT_TARGET_END _Pragma("GCC pop_options")
#endif

#endif
