/* optim.c -- optimizer updates, in place, one pass over each parameter array.
 *
 * The Python optimizers (pyconv/optimizers.py) would need ten NumPy calls per array for an
 * Adam step; this is one loop, with the same float32 operations in the same order as Keras 3's
 * rule, so the result is bitwise that of the NumPy transcription (no FMA contraction in this
 * portable translation unit). Threads: over elements, each written by one thread.
 */
#include <math.h>
#include "pyconv.h"

/* Below this many elements one thread is faster (a parallel region costs a few microseconds). */
#define OPTIM_PAR_MIN 16384

// p, m, v, g: n floats; p, m, v updated in place. c1 = 1 - beta_1, c2 = 1 - beta_2 (float32).
//   m += (g - m) * c1;  v += (g*g - v) * c2;  p -= m / (sqrt(v) + epsilon) * alpha
void adam_update(float *p, float *m, float *v, const float *g, int64_t n, float alpha,
                 float c1, float c2, float epsilon)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > OPTIM_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        p[i] -= m[i] / (sqrtf(v[i]) + epsilon) * alpha;
    }
}
