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

/* Whether the caller is inside an active OpenMP parallel region (0 without OpenMP). */
static inline int pyconv_in_parallel(void)
{
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return 0;
#endif
}

/* ceil(a / b) for a >= 0, b >= 1: how many blocks of b cover a. */
static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Whether v replaces a max pooling's running max m: strictly greater (ties keep the first
 * max), or v is the first NaN (IEEE `>` is false for NaN, which would silently drop it).
 * Branch-free. (pool2d_loops.h; conv2d_smallc_loops.h's gradient from a pooling.) */
static inline int max_wins(float v, float m) { return (v > m) | ((v != v) & (m == m)); }

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

/* Streaming (non-temporal) stores for passes that overflow the L3: x86's MOVNTPS writes a line
 * without reading it first, a third of the traffic of a pass that reads one tensor and writes
 * another (the depthwise passes', depthwise_loops.h). Other targets store as usual. A pass that
 * reads and writes `moved` bytes in all streams its output, whose rows of `row` floats start at
 * `dst`, when pyconv_streams says so: `moved` more than half of pyconv_stream_min_bytes
 * (config.c: the L3), and every row 16-byte aligned (numpy aligns its arrays to 16). Half,
 * because the L3 is a victim cache shared with the other cores: a pass that moves more than
 * half of it leaves little of its output there for the next layer, and pays for reading every
 * output line before writing it (Zen 5, L3 32 MiB, the depthwise forward: streamed 1.2-3x faster
 * where it moves 25-100 MB, 0.9x where it moves 13 MB: docs/benchmarks.md section 3.6). Streaming
 * stores are weakly ordered: each thread ends its share of the pass with pyconv_stream_fence.
 * They change no value. */
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define PYCONV_CAN_STREAM 1
static inline void pyconv_stream_fence(void) { _mm_sfence(); }
#else
#define PYCONV_CAN_STREAM 0
static inline void pyconv_stream_fence(void) {}
#endif

/* Whether a pass that reads and writes `moved` bytes overflows what it can keep of the L3. */
static inline int pyconv_past_l3(int64_t moved)
{
    return moved > pyconv_stream_min_bytes() / 2;
}

static inline int pyconv_streams(const float *dst, int64_t row, int64_t moved)
{
    return PYCONV_CAN_STREAM && row % 4 == 0 && (uintptr_t)dst % 16 == 0 && pyconv_past_l3(moved);
}

/* Ask for the cache line of p in L1, ahead of its use: a hint, no value changes. For a loop
 * that walks a row one vector block of each pixel after another (the depthwise filter
 * gradient's, depthwise_loops.h), which the L1's own prefetcher does not follow. */
static inline void pyconv_prefetch_l1(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#elif defined(_M_X64)
    _mm_prefetch((const char *)p, _MM_HINT_T0);
#else
    (void)p;
#endif
}

/* Ask for the cache lines of [p, p + bytes) in L2, ahead of their use: a hint, no value changes.
 * For a loop whose next rows the hardware prefetchers do not fetch in time -- the depthwise
 * passes, which walk three rows at once, one vector block of each pixel at a time
 * (depthwise_loops.h), and an indirect A's rows (gemm.c, prefetch_rows). */
static inline void pyconv_prefetch_l2(const void *p, int64_t bytes)
{
    /* integer addresses: line starts below p are no pointer into p's array */
    const uintptr_t end = (uintptr_t)p + (uintptr_t)(bytes > 0 ? bytes : 0);
    for (uintptr_t a = (uintptr_t)p & ~(uintptr_t)63; a < end; a += 64) {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch((const void *)a, 0, 2);
#elif defined(_M_X64)
        _mm_prefetch((const char *)a, _MM_HINT_T1);
#endif
    }
}

#endif /* PYCONV_TARGET_H */
