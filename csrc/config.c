/* config.c -- run-time configuration shared by every kernel: which SIMD micro-kernel
 * the GEMM uses (detected from the CPU, or forced) and how many threads a kernel may use.
 * Both are process-wide settings, written from Python with the GIL held. */
#include "pyconv.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef PYCONV_COMPILER
#define PYCONV_COMPILER "unknown"
#endif

static int isa_active = -1;   /* -1: not chosen yet, take the detected one */
static int num_threads = 0;   /* 0: not set yet, take OpenMP's default */

int pyconv_isa_detected(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl"))
        return PYCONV_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return PYCONV_ISA_AVX2;
#endif
    return PYCONV_ISA_GENERIC;
}

int pyconv_isa_active(void)
{
    if (isa_active < 0)
        isa_active = pyconv_isa_detected();
    return isa_active;
}

int pyconv_isa_set(int isa)
{
    if (isa < PYCONV_ISA_GENERIC || isa > pyconv_isa_detected())
        return PYCONV_EISA;   /* ISAs are ordered: each one implies those below it */
    isa_active = isa;
    return PYCONV_OK;
}

int pyconv_num_threads(void)
{
#ifdef _OPENMP
    if (num_threads < 1)
        num_threads = omp_get_max_threads();
    return num_threads;
#else
    return 1;
#endif
}

void pyconv_set_num_threads(int n)
{
    num_threads = n < 1 ? 1 : n;
}

int pyconv_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

const char *pyconv_compiler(void) { return PYCONV_COMPILER; }
