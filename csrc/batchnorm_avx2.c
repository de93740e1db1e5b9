/* batchnorm_avx2.c -- the batch-normalization loops of batchnorm_loops.h compiled with AVX2 flags
 * (and no FMA contraction, so the results stay bitwise the portable ones). */
#include "batchnorm_loops.h"

void batchnorm_stats_blocks_avx2(double *part, const float *x, int64_t M, int64_t C)
{
    batchnorm_stats_blocks_loop(part, x, M, C);
}

void batchnorm_forward_avx2(float *y, const float *x, const float *scale, const float *shift,
                            int64_t M, int64_t C, int relu)
{
    batchnorm_forward_loop(y, x, scale, shift, M, C, relu);
}

void batchnorm_bwd_sums_avx2(double *part, const float *dy, const float *x, const float *mean,
                             const float *rs, const float *rt, int64_t M, int64_t C)
{
    batchnorm_bwd_sums_loop(part, dy, x, mean, rs, rt, M, C);
}

void batchnorm_dx_avx2(float *dx, const float *dy, const float *x, const float *mean,
                       const float *invstd, const float *k, const float *mb, const float *mg,
                       const float *rs, const float *rt, int64_t M, int64_t C)
{
    batchnorm_dx_loop(dx, dy, x, mean, invstd, k, mb, mg, rs, rt, M, C);
}
