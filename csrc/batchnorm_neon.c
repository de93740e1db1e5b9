/* batchnorm_neon.c -- the batch-normalization loops of batchnorm_loops.h compiled for aarch64, chosen by batchnorm.c
 * when the active ISA is neon. Advanced SIMD is aarch64's base ISA, so the compiler already
 * vectorises its channel loops with it, 4 floats wide, in the portable build too: this translation
 * unit gives neon the same dispatch as every other ISA and is where NEON-specific code for
 * these loops would go. No FMA contraction (CMakeLists.txt), so the results stay bitwise the
 * portable ones. */
#include "batchnorm_loops.h"

void batchnorm_stats_blocks_neon(double *part, const float *x, int64_t M, int64_t C)
{
    batchnorm_stats_blocks_loop(part, x, M, C);
}

void batchnorm_forward_neon(float *y, const float *x, const float *scale, const float *shift,
                            int64_t M, int64_t C, int relu)
{
    batchnorm_forward_loop(y, x, scale, shift, M, C, relu);
}

void batchnorm_bwd_sums_neon(double *part, const float *dy, const float *x, const float *mean,
                             const float *rs, const float *rt, int64_t M, int64_t C)
{
    batchnorm_bwd_sums_loop(part, dy, x, mean, rs, rt, M, C);
}

void batchnorm_dx_neon(float *dx, const float *dy, const float *x, const float *mean,
                       const float *invstd, const float *k, const float *mb, const float *mg,
                       const float *rs, const float *rt, int64_t M, int64_t C)
{
    batchnorm_dx_loop(dx, dy, x, mean, invstd, k, mb, mg, rs, rt, M, C);
}
