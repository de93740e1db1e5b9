/* vec_portable.h -- one ISA vector of floats for the loop headers that are compiled once per ISA
 * (depthwise_loops.h, conv2d_smallc_loops.h, pool2d_loops.h): its type and the few operations their register
 * blocks need, written once. The including header sets the width first:
 *
 *     #define VEC_FLOATS DW_VEC          // 16 for AVX-512, 8 for AVX2, 4 portable (SSE2 / NEON)
 *     #include "vec_portable.h"
 *
 * With GCC and Clang, vec_t is a vector extension, lowered to the ISA's registers: a register
 * block written as an array of vec_t keeps its accumulators in registers whatever the
 * auto-vectoriser decides. Other compilers (MSVC), and -DVEC_PLAIN (to test this path), get a
 * struct of VEC_FLOATS floats and plain loops: the same results, lane by lane.
 *
 * vec_madd multiplies, then adds: two roundings (the files are built with -ffp-contract=off), so
 * every ISA gives the portable build's bits. An ISA file that may fuse (conv2d_smallc's, whose
 * ISAs may differ in the last bits as the GEMM's do) defines VEC_FMA(acc, x, g) before including;
 * one whose broadcast should be a single instruction defines VEC_SPLAT(x) (a literal serves the
 * 4 lanes of the portable build), on the vector-extension path only. On the struct path a
 * VEC_FMA file fuses each lane with fmaf: the same single rounding, so that conv2d_smallc's
 * forward keeps the micro-kernels' bits there too (kernel_check built with -DVEC_PLAIN).
 *
 * One width per translation unit: a second include with another VEC_FLOATS is an error. */
#ifndef PYCONV_VEC_PORTABLE_H
#define PYCONV_VEC_PORTABLE_H

#include <math.h>
#include <string.h>
#include "target.h"

#ifndef VEC_FLOATS
#error "define VEC_FLOATS (floats per vector) before including vec_portable.h"
#endif
#if VEC_FLOATS == 4   /* the width of the first include, as a number (checked below) */
#define VEC_PORTABLE_FLOATS 4
#elif VEC_FLOATS == 8
#define VEC_PORTABLE_FLOATS 8
#elif VEC_FLOATS == 16
#define VEC_PORTABLE_FLOATS 16
#else
#error "VEC_FLOATS must be 4, 8 or 16"
#endif

/* 1 where vec_t is a vector extension (lane-wise operators, comparisons as masks) */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(VEC_PLAIN)
#define VEC_EXT 1
#else
#define VEC_EXT 0
#endif

#if VEC_EXT
typedef float vec_t __attribute__((vector_size(VEC_FLOATS * sizeof(float))));

PYCONV_ALWAYS_INLINE vec_t vec_zero(void) { return (vec_t){0}; }

/* x in every lane: the ISA's broadcast where the ISA file defines VEC_SPLAT (a loop of lane
 * stores compiles to a chain of inserts), else a literal of the portable build's 4 lanes; none
 * for wider vectors without VEC_SPLAT (the depthwise loops, which never broadcast). */
#if defined(VEC_SPLAT)
PYCONV_ALWAYS_INLINE vec_t vec_splat(float x) { return VEC_SPLAT(x); }
#elif VEC_FLOATS == 4
PYCONV_ALWAYS_INLINE vec_t vec_splat(float x) { return (vec_t){x, x, x, x}; }
#endif

/* acc + x*g: fused where the ISA file defines VEC_FMA, else two roundings */
PYCONV_ALWAYS_INLINE vec_t vec_madd(vec_t acc, vec_t x, vec_t g)
{
#ifdef VEC_FMA
    return VEC_FMA(acc, x, g);
#else
    const vec_t prod = x * g;
    return acc + prod;
#endif
}

PYCONV_ALWAYS_INLINE vec_t vec_add(vec_t a, vec_t b) { return a + b; }

typedef int vec_mask_t __attribute__((vector_size(VEC_FLOATS * sizeof(int))));

/* The running max m after element v, as the max pooling's scalar rule has it (pool2d_loops.h,
 * max_wins): v replaces m where v > m, or where v is NaN and m is not; ties keep m. Lane-wise
 * compares give the masks, and a bitwise blend picks (no arithmetic: the bits of v or m). */
PYCONV_ALWAYS_INLINE vec_t vec_max_first(vec_t m, vec_t v)
{
    const vec_mask_t wins = (v > m) | ((v != v) & (m == m));
    return (vec_t)((wins & (vec_mask_t)v) | (~wins & (vec_mask_t)m));
}
#else
typedef struct { float f[VEC_FLOATS]; } vec_t;

PYCONV_ALWAYS_INLINE vec_t vec_zero(void)
{
    vec_t v;
    for (int j = 0; j < VEC_FLOATS; j++)
        v.f[j] = 0.0f;
    return v;
}

PYCONV_ALWAYS_INLINE vec_t vec_splat(float x)
{
    vec_t v;
    for (int j = 0; j < VEC_FLOATS; j++)
        v.f[j] = x;
    return v;
}

PYCONV_ALWAYS_INLINE vec_t vec_madd(vec_t acc, vec_t x, vec_t g)
{
    for (int j = 0; j < VEC_FLOATS; j++) {
#ifdef VEC_FMA
        acc.f[j] = fmaf(x.f[j], g.f[j], acc.f[j]);
#else
        const float prod = x.f[j] * g.f[j];
        acc.f[j] += prod;
#endif
    }
    return acc;
}

PYCONV_ALWAYS_INLINE vec_t vec_add(vec_t a, vec_t b)
{
    for (int j = 0; j < VEC_FLOATS; j++)
        a.f[j] += b.f[j];
    return a;
}

PYCONV_ALWAYS_INLINE vec_t vec_max_first(vec_t m, vec_t v)
{
    for (int j = 0; j < VEC_FLOATS; j++)
        if ((v.f[j] > m.f[j]) | ((v.f[j] != v.f[j]) & (m.f[j] == m.f[j])))
            m.f[j] = v.f[j];
    return m;
}
#endif

/* Unaligned load and store, one vector at a time: whole-array copies would keep a register
 * block's accumulators in memory. */
PYCONV_ALWAYS_INLINE vec_t vec_load(const float *p)
{
    vec_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

PYCONV_ALWAYS_INLINE void vec_store(float *p, vec_t v)
{
    memcpy(p, &v, sizeof v);
}

#elif VEC_PORTABLE_FLOATS != VEC_FLOATS
#error "vec_portable.h: one vector width per translation unit"
#endif /* PYCONV_VEC_PORTABLE_H */
