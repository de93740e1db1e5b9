/* optim_avx2.c -- the Adam loop of optim_loop.h compiled with this ISA's flags (and no FMA
 * contraction, so the result stays bitwise the portable one). */
#include "optim_loop.h"

void adam_update_avx2(float *p, float *m, float *v, const float *g, int64_t n, float alpha,
                      float c1, float c2, float epsilon)
{
    adam_loop(p, m, v, g, n, alpha, c1, c2, epsilon);
}
