/* moments.c -- the backward of pyconv.nn.moments (tf.nn.moments): the forward is
 * batchnorm_stats (batchnorm.c), whose mean and biased variance over the rows of x (M,C) it
 * differentiates.
 *
 * What it promises: dx = dmean/M + dvar * 2 (x - mean) / M, with x - mean formed first, so a
 * large mean does not cancel the deviations (x*a - mean*a would, for x = 1e4 + noise).
 * Threads: over rows, each element written by one thread; no sums, so the same bits for any
 * thread count. Nothing can fail.
 */
#include "pyconv.h"

// dx, x (M,C); dmean, dvar, mean (C) (dmean or dvar NULL: zero). dx overwritten.
// Threads: over rows.
void moments_backward(float *dx, const float *dmean, const float *dvar, const float *x,
                      const float *mean, int64_t M, int64_t C)
{
    const float inv_m = M > 0 ? 1.0f / (float)M : 0.0f;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < M; i++)
        for (int64_t c = 0; c < C; c++) {
            float d = dmean ? dmean[c] * inv_m : 0.0f;
            if (dvar)
                d += (2.0f * inv_m) * dvar[c] * (x[i * C + c] - mean[c]);
            dx[i * C + c] = d;
        }
}
