/* batchnorm.c -- batch normalization over the last axis: x (M,C), M = N*H*W rows of C channels.
 *
 * What it promises:
 *   - batchnorm_stats: the per-channel mean and the BIASED variance (sum (x-mean)^2 / M), with
 *     no E[x^2] - E[x]^2 cancellation: each fixed block of BN_BLOCK rows gets its own mean and
 *     sum of squared deviations (two passes over the block, in double, the second from cache),
 *     then the blocks are merged in block order by Chan's parallel formula. x = 1e4 + noise
 *     keeps a variance accurate to float32 rounding.
 *   - batchnorm_forward: y = x * scale[c] + shift[c] (then relu), scale and shift computed once
 *     per call by batchnorm_coefs in double and rounded to float32.
 *   - batchnorm_backward: the fused backward of y = gamma * xhat + beta, xhat = (x-mean)*invstd,
 *     with mean and invstd those of the forward (training mode: the batch's statistics):
 *     dbeta = sum dy, dgamma = sum dy * xhat,
 *     dx = gamma * invstd * (dy - dbeta/M - xhat * dgamma/M).
 *     With the forward's scale and shift (a relu folded into the forward, BN_RELU), dy is first
 *     the relu's gradient, its mask recomputed from x (relu(x*scale + shift) > 0, the forward's
 *     two roundings): bitwise relu_backward on the kept output, then the backward, in the same
 *     two passes over dy and x.
 *   - Threads: every sum runs over FIXED blocks of BN_BLOCK rows (the partition depends on M
 *     only); the blocks run in parallel, each writing its own partials, and the partials are
 *     combined serially in block order. Elementwise passes split rows; each output element is
 *     written by one thread. So results are bitwise the same for any thread count.
 *   - Fast path: the row loops live in batchnorm_loops.h, compiled once per ISA (portable here,
 *     batchnorm_avx2.c, batchnorm_avx512.c, batchnorm_neon.c), chosen at run time; bitwise the
 *     same on every ISA.
 *   - The _ref twins are the definitions, serial, sums over all rows in one double accumulator:
 *     forward (same op order) is bitwise the fast one; stats and backward agree to float32
 *     rounding (their sums are grouped differently).
 *   - M = 0 or C = 0: nothing to compute (stats of no rows: NaN, as the mean of nothing). Only the
 *     workspaces can fail (PYCONV_ENOMEM, nothing written); nothing prints, exits or aborts.
 */
#include <math.h>
#include <stdlib.h>
#include "batchnorm_loops.h"
#include "target.h"

/* The loops of batchnorm_loops.h, compiled for the ISA in use. */
typedef struct {
    void (*stats_blocks)(double *, const float *, int64_t, int64_t);
    void (*forward)(float *, const float *, const float *, const float *, int64_t, int64_t, int);
    void (*bwd_sums)(double *, const float *, const float *, const float *, const float *,
                     const float *, int64_t, int64_t);
    void (*dx)(float *, const float *, const float *, const float *, const float *, const float *,
               const float *, const float *, const float *, const float *, int64_t, int64_t);
} bn_loops;

static void stats_blocks_generic(double *part, const float *x, int64_t M, int64_t C)
{
    batchnorm_stats_blocks_loop(part, x, M, C);
}

static void forward_generic(float *y, const float *x, const float *scale, const float *shift,
                            int64_t M, int64_t C, int relu)
{
    batchnorm_forward_loop(y, x, scale, shift, M, C, relu);
}

static void bwd_sums_generic(double *part, const float *dy, const float *x, const float *mean,
                             const float *rs, const float *rt, int64_t M, int64_t C)
{
    batchnorm_bwd_sums_loop(part, dy, x, mean, rs, rt, M, C);
}

static void dx_generic(float *dx, const float *dy, const float *x, const float *mean,
                       const float *invstd, const float *k, const float *mb, const float *mg,
                       const float *rs, const float *rt, int64_t M, int64_t C)
{
    batchnorm_dx_loop(dx, dy, x, mean, invstd, k, mb, mg, rs, rt, M, C);
}

static bn_loops isa_loops(void)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(return (bn_loops){batchnorm_stats_blocks_avx512, batchnorm_forward_avx512,
                                       batchnorm_bwd_sums_avx512, batchnorm_dx_avx512};)
    PYCONV_ON_AVX2(return (bn_loops){batchnorm_stats_blocks_avx2, batchnorm_forward_avx2,
                                     batchnorm_bwd_sums_avx2, batchnorm_dx_avx2};)
    PYCONV_ON_NEON(return (bn_loops){batchnorm_stats_blocks_neon, batchnorm_forward_neon,
                                     batchnorm_bwd_sums_neon, batchnorm_dx_neon};)
    default:
        return (bn_loops){stats_blocks_generic, forward_generic, bwd_sums_generic, dx_generic};
    }
}

// x (M,C); mean, var (C), overwritten. var is the biased variance.
// Threads: the block partials (batchnorm_stats_blocks_loop, over blocks), then Chan's merge,
// serial, in block order: the bits do not depend on the thread count.
int batchnorm_stats(float *mean, float *var, const float *x, int64_t M, int64_t C)
{
    if (C <= 0)
        return PYCONV_OK;
    if (M <= 0) {
        for (int64_t c = 0; c < C; c++)
            mean[c] = var[c] = NAN;
        return PYCONV_OK;
    }
    const int64_t nb = bn_nblocks(M);
    /* part: nb blocks x (mean, M2); then the running mean and M2 of the merge */
    double *part = pyconv_scratch_alloc((size_t)(2 * nb * C + 2 * C) * sizeof(double));
    if (!part)
        return PYCONV_ENOMEM;
    double *restrict mu = part + 2 * nb * C, *restrict m2 = mu + C;
    isa_loops().stats_blocks(part, x, M, C);
    /* Chan's merge, in block order: (n_a, mean_a, M2_a) + (n_b, mean_b, M2_b). The channels
     * innermost, the block's two weights computed once for all of them: each channel's
     * arithmetic is the one-channel-at-a-time loop's, in the same order (the same bits), and
     * the loop vectorises (the serial merge was 2-4% of a 32x14x14x256 training forward,
     * its channels' dependent chains through two divisions each). */
    for (int64_t c = 0; c < C; c++)
        mu[c] = m2[c] = 0.0;
    double n = 0.0;
    for (int64_t b = 0; b < nb; b++) {
        const double nbk = (double)(bn_block_end(b, M) - b * BN_BLOCK);
        const double tot = n + nbk, w_mu = nbk / tot, w_m2 = n * nbk / tot;
        const double *restrict mub = part + 2 * b * C, *restrict m2b = mub + C;
        for (int64_t c = 0; c < C; c++) {
            const double delta = mub[c] - mu[c];
            mu[c] += delta * w_mu;
            m2[c] += m2b[c] + delta * delta * w_m2;
        }
        n = tot;
    }
    for (int64_t c = 0; c < C; c++) {
        mean[c] = (float)mu[c];
        var[c] = (float)(m2[c] / (double)M);
    }
    pyconv_scratch_free(part);
    return PYCONV_OK;
}

// x (M,C); mean, var (C), overwritten. The definition: two passes over all rows, in double.
int batchnorm_stats_ref(float *mean, float *var, const float *x, int64_t M, int64_t C)
{
    for (int64_t c = 0; c < C; c++) {
        double s = 0.0, q = 0.0;
        for (int64_t i = 0; i < M; i++)
            s += x[i * C + c];
        const double mu = s / (double)M;   /* NaN for M = 0 */
        for (int64_t i = 0; i < M; i++) {
            double d = x[i * C + c] - mu;
            q += d * d;
        }
        mean[c] = (float)mu;
        var[c] = (float)(q / (double)M);
    }
    return PYCONV_OK;
}

// mean, var (C) -> scale, shift (C), and invstd (C) unless NULL, overwritten. gamma, beta (C) or
// NULL (scale=False: 1; center=False: 0). In double, rounded once:
//   invstd = 1/sqrt(var + eps), scale = gamma * invstd, shift = beta - mean * scale.
void batchnorm_coefs(float *scale, float *shift, float *invstd, const float *mean, const float *var,
                     const float *gamma, const float *beta, double eps, int64_t C)
{
    for (int64_t c = 0; c < C; c++) {
        const double inv = 1.0 / sqrt((double)var[c] + eps);
        const double sc = (gamma ? (double)gamma[c] : 1.0) * inv;
        scale[c] = (float)sc;
        shift[c] = (float)((beta ? (double)beta[c] : 0.0) - (double)mean[c] * sc);
        if (invstd)
            invstd[c] = (float)inv;
    }
}

// moving (C) <- moving * momentum + batch * c, c = 1 - momentum (rounded once by the caller), in
// float32 and in that order: Keras 3's assign. new_* may alias moving_*.
void batchnorm_moving_update(float *new_mean, float *new_var, const float *moving_mean,
                             const float *moving_var, const float *mean, const float *var,
                             float momentum, float c, int64_t C)
{
    for (int64_t k = 0; k < C; k++) {
        float a = moving_mean[k] * momentum, b = mean[k] * c;
        new_mean[k] = a + b;
        a = moving_var[k] * momentum;
        b = var[k] * c;
        new_var[k] = a + b;
    }
}

// x, y (M,C), overwritten (y may alias x); scale, shift (C). y = x*scale + shift, then relu.
// The loop and its threads: batchnorm_forward_loop in batchnorm_loops.h, for the ISA in use.
int batchnorm_forward(float *y, const float *x, const float *scale, const float *shift,
                      int64_t M, int64_t C, int relu)
{
    isa_loops().forward(y, x, scale, shift, M, C, relu);
    return PYCONV_OK;
}

// As batchnorm_forward: the definition, one channel at a time, the same two roundings.
int batchnorm_forward_ref(float *y, const float *x, const float *scale, const float *shift,
                          int64_t M, int64_t C, int relu)
{
    for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < M; i++) {
            float p = x[i * C + c] * scale[c];
            float v = p + shift[c];
            y[i * C + c] = relu ? bn_relu1(v) : v;
        }
    return PYCONV_OK;
}

/* Per channel: k, mb, mg from the sums (double, rounded once). */
static void bwd_coefs(float *k, float *mb, float *mg, const double *sdy, const double *sdyx,
                      const float *invstd, const float *gamma, int64_t M, int64_t C)
{
    for (int64_t c = 0; c < C; c++) {
        k[c] = (float)((gamma ? (double)gamma[c] : 1.0) * (double)invstd[c]);
        mb[c] = (float)(sdy[c] / (double)M);
        mg[c] = (float)(sdyx[c] * (double)invstd[c] / (double)M);
    }
}

// dy, x, dx (M,C); mean, invstd, gamma (C) (gamma NULL: 1); dgamma, dbeta (C). All outputs
// overwritten; any of dx, dgamma, dbeta NULL to skip it. relu_scale, relu_shift (C) or NULL: the
// forward's scale and shift when it applied relu (BN_RELU); then dy is first masked where
// relu(x*scale + shift) is not > 0 (bn_relu_grad1: relu_backward's bits, with no pass of its own).
// Threads: the block sums (batchnorm_bwd_sums_loop, over blocks) combined serially in block order,
// then dx (batchnorm_dx_loop, over rows); both loops in batchnorm_loops.h, for the ISA in use.
int batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                       const float *mean, const float *invstd, const float *gamma,
                       const float *relu_scale, const float *relu_shift, int64_t M, int64_t C)
{
    if (!relu_scale || !relu_shift)
        relu_scale = relu_shift = NULL;
    if (C <= 0)
        return PYCONV_OK;
    const int64_t nb = bn_nblocks(M);
    /* part: nb blocks x (sum dy, sum dy*(x-mean)); then the totals; then k, mb, mg (floats) */
    double *part = pyconv_scratch_alloc((size_t)(2 * nb * C + 2 * C) * sizeof(double)
                                        + (size_t)(3 * C) * sizeof(float));
    if (!part)
        return PYCONV_ENOMEM;
    double *sdy = part + 2 * nb * C, *sdyx = sdy + C;
    float *k = (float *)(sdyx + C), *mb = k + C, *mg = mb + C;
    const bn_loops loops = isa_loops();
    loops.bwd_sums(part, dy, x, mean, relu_scale, relu_shift, M, C);
    for (int64_t c = 0; c < C; c++)
        sdy[c] = sdyx[c] = 0.0;
    for (int64_t b = 0; b < nb; b++)   /* block order: deterministic */
        for (int64_t c = 0; c < C; c++) {
            sdy[c] += part[2 * b * C + c];
            sdyx[c] += part[(2 * b + 1) * C + c];
        }
    for (int64_t c = 0; c < C; c++) {
        if (dbeta)
            dbeta[c] = (float)sdy[c];
        if (dgamma)
            dgamma[c] = (float)(sdyx[c] * (double)invstd[c]);
    }
    if (dx && M > 0) {
        bwd_coefs(k, mb, mg, sdy, sdyx, invstd, gamma, M, C);
        loops.dx(dx, dy, x, mean, invstd, k, mb, mg, relu_scale, relu_shift, M, C);
    }
    pyconv_scratch_free(part);
    return PYCONV_OK;
}

/* The gradient reaching the BN output in the _ref: dy, or relu's (its definition: the forward's
 * output recomputed, then relu_backward's rule out > 0). */
static float ref_grad(const float *dy, const float *x, const float *rs, const float *rt, int64_t i,
                      int64_t c, int64_t C)
{
    if (!rs || !rt)
        return dy[i * C + c];
    const float p = x[i * C + c] * rs[c];
    const float out = bn_relu1(p + rt[c]);
    return out > 0.0f ? dy[i * C + c] : 0.0f;
}

// As batchnorm_backward: the definition, one channel at a time, sums over all rows in double.
int batchnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                           const float *mean, const float *invstd, const float *gamma,
                           const float *relu_scale, const float *relu_shift, int64_t M, int64_t C)
{
    for (int64_t c = 0; c < C; c++) {
        double s1 = 0.0, s2 = 0.0;
        for (int64_t i = 0; i < M; i++) {
            const double g = ref_grad(dy, x, relu_scale, relu_shift, i, c, C);
            s1 += g;
            s2 += g * ((double)x[i * C + c] - (double)mean[c]);
        }
        if (dbeta)
            dbeta[c] = (float)s1;
        if (dgamma)
            dgamma[c] = (float)(s2 * (double)invstd[c]);
        if (!dx || M <= 0)
            continue;
        float k, mb, mg;
        bwd_coefs(&k, &mb, &mg, &s1, &s2, invstd + c, gamma ? gamma + c : NULL, M, 1);
        for (int64_t i = 0; i < M; i++)
            dx[i * C + c] = bn_dx1(x[i * C + c], ref_grad(dy, x, relu_scale, relu_shift, i, c, C), mean[c],
                                   invstd[c], k, mb, mg);
    }
    return PYCONV_OK;
}
