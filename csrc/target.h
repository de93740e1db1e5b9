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
 *
 * Also the small helpers every kernel file shares, written once here: ceil_div, the thread
 * number, aligned workspaces.
 */
#ifndef PYCONV_TARGET_H
#define PYCONV_TARGET_H

#include <stdlib.h>
#ifdef _WIN32
#include <malloc.h>
#endif
#include "pyconv.h"
#ifdef _OPENMP
#include <omp.h>
#endif

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

/* A function the compiler must keep out of line: a hot loop whose code should not change with
 * the register pressure of the function it would be inlined into (col2im, conv2d.c). */
#ifdef _MSC_VER
#define PYCONV_NOINLINE static __declspec(noinline)
#else
#define PYCONV_NOINLINE static __attribute__((noinline))
#endif

/* The calling thread's number in its parallel region (0 outside one, and without OpenMP): the
 * index of its own slice of a per-thread workspace. */
static inline int pyconv_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* ceil(a / b) for a >= 0, b >= 1: how many blocks of b cover a. */
static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

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

/* Streaming (non-temporal) stores for outputs larger than the L3: x86's MOVNTPS writes a line
 * without reading it first, a third of the traffic of a pass that reads one tensor and writes
 * another (the depthwise forward's, depthwise_loops.h). Other targets store as usual. A pass
 * streams a tensor `bytes` long whose rows of `row` floats start at `dst` when pyconv_streams
 * says so: more than pyconv_stream_min_bytes (config.c: the L3, so that an output the next
 * layer could find in cache is left there) and every row 16-byte aligned (numpy aligns its
 * arrays to 16). Streaming stores are weakly ordered: each thread ends its share of the pass
 * with pyconv_stream_fence. They change no value. */
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define PYCONV_CAN_STREAM 1
static inline void pyconv_stream_fence(void) { _mm_sfence(); }
#else
#define PYCONV_CAN_STREAM 0
static inline void pyconv_stream_fence(void) {}
#endif

static inline int pyconv_streams(const float *dst, int64_t row, int64_t bytes)
{
    return PYCONV_CAN_STREAM && row % 4 == 0 && (uintptr_t)dst % 16 == 0
           && bytes > pyconv_stream_min_bytes();
}

#endif /* PYCONV_TARGET_H */
