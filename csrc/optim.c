/* optim.c -- optimizer updates, in place, one pass over each parameter array.
 *
 * The Python optimizers (pyconv/optimizers.py) would need ten NumPy calls per array for an
 * Adam step; this is one loop (optim_loop.h), with the same float32 operations in the same
 * order as Keras 3's rule, so the result is bitwise that of the NumPy transcription. The loop
 * is compiled once per ISA and chosen here like the GEMM's micro-kernel.
 */
#include "optim_loop.h"

void adam_update(float *p, float *m, float *v, const float *g, int64_t n, float alpha,
                 float c1, float c2, float epsilon)
{
    switch (pyconv_isa_active()) {
    case PYCONV_ISA_AVX512: adam_update_avx512(p, m, v, g, n, alpha, c1, c2, epsilon); break;
    case PYCONV_ISA_AVX2:   adam_update_avx2(p, m, v, g, n, alpha, c1, c2, epsilon); break;
    default:                adam_loop(p, m, v, g, n, alpha, c1, c2, epsilon); break;
    }
}
