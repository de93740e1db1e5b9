/* target.h -- what differs between build targets, in one place: which SIMD kernels this build
 * has (the dispatch guards) and the few things compilers spell differently.
 *
 * CMake compiles csrc/<name>_avx2.c and <name>_avx512.c only for x86-64, <name>_neon.c only for
 * aarch64, and defines PYCONV_HAVE_AVX2 / _AVX512 / _NEON for each ISA it compiled
 * (CMakeLists.txt). A dispatch names a per-ISA function only inside the matching guard, so that
 * a build for another target never references a symbol that does not exist:
 *
 *     switch (pyconv_isa_active()) {
 *     PYCONV_ON_AVX512(adam_update_avx512(p, m, v, vhat, g, n, c); break;)
 *     PYCONV_ON_AVX2(adam_update_avx2(p, m, v, vhat, g, n, c); break;)
 *     PYCONV_ON_NEON(adam_update_neon(p, m, v, vhat, g, n, c); break;)
 *     default: adam_loop(p, m, v, vhat, g, n, c); break;
 *     }
 *
 * Each guard expands to `case PYCONV_ISA_<X>: <its statements>` when that ISA is built, and to
 * nothing otherwise; the statements stay written out in full, so every call can be grepped.
 * pyconv_isa_set refuses an ISA this build lacks, so `default` only ever serves generic.
 */
#ifndef PYCONV_TARGET_H
#define PYCONV_TARGET_H

#include <stdlib.h>
#ifdef _WIN32
#include <malloc.h>
#endif
#include "pyconv.h"

#ifdef PYCONV_HAVE_AVX512
#define PYCONV_ON_AVX512(...) case PYCONV_ISA_AVX512: __VA_ARGS__
#else
#define PYCONV_ON_AVX512(...)
#endif
#ifdef PYCONV_HAVE_AVX2
#define PYCONV_ON_AVX2(...) case PYCONV_ISA_AVX2: __VA_ARGS__
#else
#define PYCONV_ON_AVX2(...)
#endif
#ifdef PYCONV_HAVE_NEON
#define PYCONV_ON_NEON(...) case PYCONV_ISA_NEON: __VA_ARGS__
#else
#define PYCONV_ON_NEON(...)
#endif

/* A helper the compiler must inline (a micro-kernel's store, whose array of vector registers
 * would otherwise go through memory). */
#ifdef _MSC_VER
#define PYCONV_ALWAYS_INLINE static __forceinline
#else
#define PYCONV_ALWAYS_INLINE static inline __attribute__((always_inline))
#endif

/* 64-byte aligned workspaces (a cache line; a whole AVX-512 vector), size rounded up as C11's
 * aligned_alloc requires. Windows' C runtimes (MSVC's, MinGW's) have no aligned_alloc: their
 * _aligned_malloc must be freed with _aligned_free, hence the pair. NULL when the allocation
 * fails. */
static inline void *pyconv_aligned_alloc(size_t bytes)
{
#ifdef _WIN32
    return _aligned_malloc(bytes ? bytes : 1, 64);
#else
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
#endif
}

static inline void pyconv_aligned_free(void *p)
{
#ifdef _WIN32
    _aligned_free(p);
#else
    free(p);
#endif
}

#endif /* PYCONV_TARGET_H */
