/* optim_loop.h -- the Adam step's loop, written once and compiled once per ISA (optim.c for
 * the portable build, optim_avx2.c, optim_avx512.c with their own flags), so the compiler
 * vectorises the square root and the division as wide as the CPU allows. Every build runs
 * the same float32 operations in the same order, with FMA contraction off, and sqrt and
 * division are correctly rounded: the result is bitwise the same on every ISA, and bitwise
 * Keras 3's rule as NumPy computes it. */
#ifndef PYCONV_OPTIM_LOOP_H
#define PYCONV_OPTIM_LOOP_H

#include <math.h>
#include <stdint.h>
#include "pyconv.h"

/* Below this many elements one thread is faster (a parallel region costs a few microseconds). */
#define OPTIM_PAR_MIN 16384

// p, m, v, g: n floats; p, m, v updated in place. c1 = 1 - beta_1, c2 = 1 - beta_2 (float32).
//   m += (g - m) * c1;  v += (g*g - v) * c2;  p -= m / (sqrt(v) + epsilon) * alpha
// Threads: over elements, each written by one thread.
static inline void adam_loop(float *p, float *m, float *v, const float *g, int64_t n,
                             float alpha, float c1, float c2, float epsilon)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        p[i] -= m[i] / (sqrtf(v[i]) + epsilon) * alpha;
    }
}

void adam_update_avx2(float *p, float *m, float *v, const float *g, int64_t n, float alpha,
                      float c1, float c2, float epsilon);
void adam_update_avx512(float *p, float *m, float *v, const float *g, int64_t n, float alpha,
                        float c1, float c2, float epsilon);

#endif /* PYCONV_OPTIM_LOOP_H */
