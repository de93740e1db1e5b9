/* batchnorm_loops.h -- the four row loops of batch normalization, written once and compiled once
 * per ISA (batchnorm.c for the portable build, batchnorm_avx2.c, batchnorm_avx512.c and
 * batchnorm_neon.c with their own flags). Each keeps the channel loop c innermost, unit stride, lanes independent: the
 * compiler vectorises it, 2 doubles / 4 floats wide in the portable build, 8 / 16 with AVX-512.
 * Every lane adds and multiplies in the same order on every ISA (no FMA contraction), so the
 * results are bitwise the same. batchnorm.c picks the ISA and does the serial combines; its
 * opening comment lists the promises. */
#ifndef PYCONV_BATCHNORM_LOOPS_H
#define PYCONV_BATCHNORM_LOOPS_H

#include <string.h>
#include "pyconv.h"
#include "target.h"

/* Rows per block: 128 rows x 64 channels x 4 bytes = 32 KB, so a block's second pass (stats) reads
 * L1/L2, not memory; the first layer's 21,632 rows give 169 blocks, plenty for any threads. The
 * blocks depend on M only: that is what makes the sums independent of the thread count. */
#define BN_BLOCK 128
/* Below this many elements a parallel region costs more than it saves (as act.c). */
#define BN_PAR_MIN 32768
/* Where one tensor overflows what a pass can keep of the L3 (pyconv_past_l3 of its bytes), the
 * passes ask for their rows' lines in L2 this many rows ahead: every 4 KiB page starts the
 * hardware prefetcher cold (it does not cross pages), and the sums read four rows at once;
 * without it the passes wait on memory (perf, 128x14x14x256 on AVX2: the sums' loads hot,
 * 10 GB/s). With 2-3 tensors of 8-11 MB, which the L3 still holds, the hints cost more than they
 * save (0.81-0.90x), and from L2 too (0.86-0.92x at MobileNet's batch-32 shapes): off there.
 * docs/benchmarks.md section 3.8. */
#define BN_PF_ROWS 8

static inline int64_t bn_nblocks(int64_t M) { return M > 0 ? (M + BN_BLOCK - 1) / BN_BLOCK : 0; }

static inline int64_t bn_block_end(int64_t b, int64_t M)
{
    return (b + 1) * BN_BLOCK < M ? (b + 1) * BN_BLOCK : M;
}

/* How the threads share a pass (its blocks, or its rows), in each loop below. In cache: OpenMP's guided schedule,
 * shares halving from 1/threads of the pass down to one block of BN_BLOCK rows, each taken by
 * whichever thread comes for it, so a thread that starts late -- one woken from its sleep after
 * a pause, 40-260 us on this VM (docs/benchmarks.md 3.9), or one that lost its core -- finds its
 * work taken by the others rather than making them wait for its fixed half. Past the L3 (pf): a
 * static split, each thread's rows one contiguous range in every pass, its prefetched stream
 * unbroken (there the guided one measured 0.93-1.0x, the passes wait on memory, not on a
 * thread). Which thread computes a block or a row changes no value: the sums' partials are per
 * block, combined in block order. */

/* Block b of batchnorm_stats_blocks_loop: its mean and M2 into part. */
static inline void bn_stats_block(double *part, const float *x, int64_t b, int64_t M, int64_t C,
                                  int pf)
{
    double *restrict mu = part + 2 * b * C, *restrict m2 = mu + C;
    const int64_t i0 = b * BN_BLOCK, i1 = bn_block_end(b, M);
    for (int64_t c = 0; c < C; c++)
        mu[c] = m2[c] = 0.0;
    /* pass 1: the block's mean. Four rows per step, added pairwise before they reach the
     * accumulator: a quarter of the dependent adds through mu[] (the chain that bounds this
     * loop), in one fixed order. */
    int64_t i = i0;
    for (; i + 4 <= i1; i += 4) {
        const float *restrict x0 = x + i * C, *restrict x1 = x0 + C, *restrict x2 = x1 + C,
                    *restrict x3 = x2 + C;
        if (pf && i + BN_PF_ROWS + 4 <= M)
            pyconv_prefetch_l2(x0 + BN_PF_ROWS * C, 4 * C * (int64_t)sizeof(float));
        for (int64_t c = 0; c < C; c++)
            mu[c] += ((double)x0[c] + (double)x1[c]) + ((double)x2[c] + (double)x3[c]);
    }
    for (; i < i1; i++)
        for (int64_t c = 0; c < C; c++)
            mu[c] += x[i * C + c];
    for (int64_t c = 0; c < C; c++)
        mu[c] /= (double)(i1 - i0);
    /* pass 2: squared deviations from it (the block is in cache): no cancellation */
    for (i = i0; i + 4 <= i1; i += 4) {
        const float *restrict x0 = x + i * C, *restrict x1 = x0 + C, *restrict x2 = x1 + C,
                    *restrict x3 = x2 + C;
        for (int64_t c = 0; c < C; c++) {
            const double d0 = x0[c] - mu[c], d1 = x1[c] - mu[c];
            const double d2 = x2[c] - mu[c], d3 = x3[c] - mu[c];
            m2[c] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
        }
    }
    for (; i < i1; i++)
        for (int64_t c = 0; c < C; c++) {
            const double d = x[i * C + c] - mu[c];
            m2[c] += d * d;
        }
}

// x (M,C); part (nb, 2, C) doubles: block b's mean and M2 (sum of squared deviations from the
// block's own mean), overwritten.
// Threads: over blocks, shared as "How the threads share a pass" above says; each block's
// partials are written by one thread.
static inline void batchnorm_stats_blocks_loop(double *part, const float *x, int64_t M, int64_t C)
{
    const int64_t nb = bn_nblocks(M);
    const int pf = pyconv_past_l3(M * C * (int64_t)sizeof(float));   /* BN_PF_ROWS */
    #pragma omp parallel num_threads(pyconv_num_threads()) if(M * C > BN_PAR_MIN)
    if (pf) {
        #pragma omp for schedule(static)
        for (int64_t b = 0; b < nb; b++)
            bn_stats_block(part, x, b, M, C, pf);
    } else {
        #pragma omp for schedule(guided)
        for (int64_t b = 0; b < nb; b++)
            bn_stats_block(part, x, b, M, C, pf);
    }
}

static inline float bn_relu1(float v) { return !(v <= 0.0f) ? v : 0.0f; }   /* as relu_forward */

/* Past the L3 (BN_PF_ROWS's rule, and pyconv_streams: rows 16-byte aligned, C a multiple of 4) the
 * elementwise passes (forward, dx) stream their output: a row is computed in BN_SCRATCH-float
 * pieces into a buffer on the stack (L1), then written with non-temporal stores, which skip
 * reading each output line before writing it (a quarter of such a pass's traffic). The values
 * are the same; each thread ends its share with pyconv_stream_fence. */
#define BN_SCRATCH 256

/* dst[0..n) = src[0..n), streamed 16 bytes at a time (dst 16-byte aligned, n a multiple of 4) */
static inline void bn_stream_copy(float *dst, const float *src, int64_t n)
{
#if PYCONV_CAN_STREAM
    for (int64_t j = 0; j < n; j += 4)
        _mm_stream_ps(dst + j, _mm_loadu_ps(src + j));
#else
    memcpy(dst, src, (size_t)n * sizeof(float));
#endif
}

/* y[0..n) = x*scale + shift (two roundings), then relu. */
static inline void bn_forward_row(float *restrict yi, const float *restrict xi, const float *scale,
                                  const float *shift, int64_t n, int relu)
{
    if (relu)
        for (int64_t c = 0; c < n; c++) {
            const float p = xi[c] * scale[c];
            yi[c] = bn_relu1(p + shift[c]);
        }
    else
        for (int64_t c = 0; c < n; c++) {
            const float p = xi[c] * scale[c];
            yi[c] = p + shift[c];
        }
}

/* Row i of batchnorm_forward_loop; st: streamed through buf. */
static inline void bn_forward_one(float *y, const float *x, const float *scale, const float *shift,
                                  int64_t i, int64_t M, int64_t C, int relu, int pf, int st,
                                  float *buf)
{
    const float *xi = x + i * C;
    float *yi = y + i * C;
    if (pf && i + BN_PF_ROWS < M)
        pyconv_prefetch_l2(xi + BN_PF_ROWS * C, C * (int64_t)sizeof(float));
    if (!st) {
        bn_forward_row(yi, xi, scale, shift, C, relu);
        return;
    }
    for (int64_t c0 = 0; c0 < C; c0 += BN_SCRATCH) {
        const int64_t n = C - c0 < BN_SCRATCH ? C - c0 : BN_SCRATCH;
        bn_forward_row(buf, xi + c0, scale + c0, shift + c0, n, relu);
        bn_stream_copy(yi + c0, buf, n);
    }
}

// x, y (M,C), overwritten; scale, shift (C). y = x*scale + shift (two roundings), then relu.
// Threads: over rows, shared as "How the threads share a pass" above says (in cache, at least
// BN_BLOCK rows a share); each element written by one thread.
static inline void batchnorm_forward_loop(float *y, const float *x, const float *scale,
                                          const float *shift, int64_t M, int64_t C, int relu)
{
    const int pf = pyconv_past_l3(M * C * (int64_t)sizeof(float));   /* BN_PF_ROWS */
    const int st = pf && pyconv_streams(y, C, 2 * M * C * (int64_t)sizeof(float));   /* BN_SCRATCH */
    #pragma omp parallel num_threads(pyconv_num_threads()) if(M * C > BN_PAR_MIN)
    {
        float buf[BN_SCRATCH];
        if (pf) {
            #pragma omp for schedule(static)
            for (int64_t i = 0; i < M; i++)
                bn_forward_one(y, x, scale, shift, i, M, C, relu, pf, st, buf);
        } else {
            #pragma omp for schedule(guided, BN_BLOCK)
            for (int64_t i = 0; i < M; i++)
                bn_forward_one(y, x, scale, shift, i, M, C, relu, pf, st, buf);
        }
        if (st)
            pyconv_stream_fence();
    }
}

/* The gradient reaching BN's output through a relu folded into its forward (BN_RELU): dy where
 * the forward's output relu(x*scale + shift) is > 0, else +0 -- the forward's two roundings
 * recomputed from x (no FMA: the same bits), so the mask needs no pass over the output; NaN
 * masks, as relu_backward, and a kept dy keeps its bits. rs NULL: no relu, dy as it is. */
static inline float bn_relu_grad1(float dy, float x, float scale, float shift)
{
    /* branch-free, as relu_backward: a mask of the comparison ANDed with dy's bits (a select
     * here kept GCC from vectorising the sums' loop: 3x slower than the separate pass) */
    const float p = x * scale;
    uint32_t g, mask = -(uint32_t)(p + shift > 0.0f);
    memcpy(&g, &dy, sizeof g);
    g &= mask;
    memcpy(&dy, &g, sizeof g);
    return dy;
}

/* Block b of batchnorm_bwd_sums_loop: its two sums into part. */
static inline void bn_bwd_sums_block(double *part, const float *dy, const float *x,
                                     const float *mean, const float *rs, const float *rt, int64_t b,
                                     int64_t M, int64_t C, int pf)
{
    double *restrict s1 = part + 2 * b * C, *restrict s2 = s1 + C;
    const int64_t i1 = bn_block_end(b, M);
    for (int64_t c = 0; c < C; c++)
        s1[c] = s2[c] = 0.0;
    /* four rows per step, as the stats: a quarter of the dependent adds */
    int64_t i = b * BN_BLOCK;
    if (rs)
        for (; i + 4 <= i1; i += 4) {
            const float *restrict g0 = dy + i * C, *restrict x0 = x + i * C;
            if (pf && i + BN_PF_ROWS + 4 <= M) {
                pyconv_prefetch_l2(g0 + BN_PF_ROWS * C, 4 * C * (int64_t)sizeof(float));
                pyconv_prefetch_l2(x0 + BN_PF_ROWS * C, 4 * C * (int64_t)sizeof(float));
            }
            for (int64_t c = 0; c < C; c++) {
                const double m = mean[c];
                const double a0 = bn_relu_grad1(g0[c], x0[c], rs[c], rt[c]);
                const double a1 = bn_relu_grad1(g0[C + c], x0[C + c], rs[c], rt[c]);
                const double a2 = bn_relu_grad1(g0[2 * C + c], x0[2 * C + c], rs[c], rt[c]);
                const double a3 = bn_relu_grad1(g0[3 * C + c], x0[3 * C + c], rs[c], rt[c]);
                s1[c] += (a0 + a1) + (a2 + a3);
                s2[c] += (a0 * ((double)x0[c] - m) + a1 * ((double)x0[C + c] - m))
                       + (a2 * ((double)x0[2 * C + c] - m) + a3 * ((double)x0[3 * C + c] - m));
            }
        }
    else
        for (; i + 4 <= i1; i += 4) {
            const float *restrict g0 = dy + i * C, *restrict x0 = x + i * C;
            if (pf && i + BN_PF_ROWS + 4 <= M) {
                pyconv_prefetch_l2(g0 + BN_PF_ROWS * C, 4 * C * (int64_t)sizeof(float));
                pyconv_prefetch_l2(x0 + BN_PF_ROWS * C, 4 * C * (int64_t)sizeof(float));
            }
            for (int64_t c = 0; c < C; c++) {
                const double m = mean[c];
                const double a0 = g0[c], a1 = g0[C + c], a2 = g0[2 * C + c], a3 = g0[3 * C + c];
                s1[c] += (a0 + a1) + (a2 + a3);
                s2[c] += (a0 * ((double)x0[c] - m) + a1 * ((double)x0[C + c] - m))
                       + (a2 * ((double)x0[2 * C + c] - m) + a3 * ((double)x0[3 * C + c] - m));
            }
        }
    for (; i < i1; i++)
        if (rs)
            for (int64_t c = 0; c < C; c++) {
                const double g = bn_relu_grad1(dy[i * C + c], x[i * C + c], rs[c], rt[c]);
                s1[c] += g;
                s2[c] += g * ((double)x[i * C + c] - (double)mean[c]);
            }
        else
            for (int64_t c = 0; c < C; c++) {
                const double g = dy[i * C + c];
                s1[c] += g;
                s2[c] += g * ((double)x[i * C + c] - (double)mean[c]);
            }
}

// dy, x (M,C); mean (C); part (nb, 2, C) doubles: block b's sum g and sum g*(x-mean), overwritten;
// g = dy, or with rs/rt (C, the forward's scale and shift) the relu's gradient bn_relu_grad1.
// Threads: over blocks, shared as "How the threads share a pass" above says; each block's
// partials are written by one thread.
static inline void batchnorm_bwd_sums_loop(double *part, const float *dy, const float *x,
                                           const float *mean, const float *rs, const float *rt,
                                           int64_t M, int64_t C)
{
    const int64_t nb = bn_nblocks(M);
    const int pf = pyconv_past_l3(M * C * (int64_t)sizeof(float));   /* BN_PF_ROWS */
    #pragma omp parallel num_threads(pyconv_num_threads()) if(M * C > BN_PAR_MIN)
    if (pf) {
        #pragma omp for schedule(static)
        for (int64_t b = 0; b < nb; b++)
            bn_bwd_sums_block(part, dy, x, mean, rs, rt, b, M, C, pf);
    } else {
        #pragma omp for schedule(guided)
        for (int64_t b = 0; b < nb; b++)
            bn_bwd_sums_block(part, dy, x, mean, rs, rt, b, M, C, pf);
    }
}

/* One element of dx: k * ((dy - mb) - xhat * mg), xhat = (x - mean) * invstd; the _ref uses it
 * too, so the two round identically. */
static inline float bn_dx1(float x, float dy, float mean, float invstd, float k, float mb, float mg)
{
    const float xhat = (x - mean) * invstd;
    const float t = dy - mb;
    const float u = xhat * mg;
    return k * (t - u);
}

/* dx[0..n) of one row (bn_dx1), dy through the relu's mask where rs is not NULL. */
static inline void bn_dx_row(float *restrict di, const float *restrict gi, const float *restrict xi,
                             const float *mean, const float *invstd, const float *k, const float *mb,
                             const float *mg, const float *rs, const float *rt, int64_t n)
{
    if (rs)
        for (int64_t c = 0; c < n; c++)
            di[c] = bn_dx1(xi[c], bn_relu_grad1(gi[c], xi[c], rs[c], rt[c]), mean[c], invstd[c],
                           k[c], mb[c], mg[c]);
    else
        for (int64_t c = 0; c < n; c++)
            di[c] = bn_dx1(xi[c], gi[c], mean[c], invstd[c], k[c], mb[c], mg[c]);
}

/* The per-channel operands of batchnorm_dx_loop, as its arguments say. */
typedef struct {
    const float *mean, *invstd, *k, *mb, *mg, *rs, *rt;
} bn_dx_coefs;

/* Row i of batchnorm_dx_loop; st: streamed through buf. */
static inline void bn_dx_one(float *dx, const float *dy, const float *x, const bn_dx_coefs *q,
                             int64_t i, int64_t M, int64_t C, int pf, int st, float *buf)
{
    const float *gi = dy + i * C, *xi = x + i * C;
    float *di = dx + i * C;
    if (pf && i + BN_PF_ROWS < M) {
        pyconv_prefetch_l2(gi + BN_PF_ROWS * C, C * (int64_t)sizeof(float));
        pyconv_prefetch_l2(xi + BN_PF_ROWS * C, C * (int64_t)sizeof(float));
    }
    if (!st) {
        bn_dx_row(di, gi, xi, q->mean, q->invstd, q->k, q->mb, q->mg, q->rs, q->rt, C);
        return;
    }
    for (int64_t c0 = 0; c0 < C; c0 += BN_SCRATCH) {
        const int64_t n = C - c0 < BN_SCRATCH ? C - c0 : BN_SCRATCH;
        bn_dx_row(buf, gi + c0, xi + c0, q->mean + c0, q->invstd + c0, q->k + c0, q->mb + c0,
                  q->mg + c0, q->rs ? q->rs + c0 : NULL, q->rt ? q->rt + c0 : NULL, n);
        bn_stream_copy(di + c0, buf, n);
    }
}

// dy, x, dx (M,C); mean, invstd, k, mb, mg (C); rs, rt (C) or NULL, as batchnorm_bwd_sums_loop.
// dx overwritten. Threads: over rows, shared as "How the threads share a pass" above says (in
// cache, at least BN_BLOCK rows a share); each element written by one thread.
static inline void batchnorm_dx_loop(float *dx, const float *dy, const float *x, const float *mean,
                                     const float *invstd, const float *k, const float *mb,
                                     const float *mg, const float *rs, const float *rt,
                                     int64_t M, int64_t C)
{
    const int pf = pyconv_past_l3(M * C * (int64_t)sizeof(float));   /* BN_PF_ROWS */
    const int st = pf && pyconv_streams(dx, C, 3 * M * C * (int64_t)sizeof(float));   /* BN_SCRATCH */
    const bn_dx_coefs q = {mean, invstd, k, mb, mg, rs, rt};
    #pragma omp parallel num_threads(pyconv_num_threads()) if(M * C > BN_PAR_MIN)
    {
        float buf[BN_SCRATCH];
        if (pf) {
            #pragma omp for schedule(static)
            for (int64_t i = 0; i < M; i++)
                bn_dx_one(dx, dy, x, &q, i, M, C, pf, st, buf);
        } else {
            #pragma omp for schedule(guided, BN_BLOCK)
            for (int64_t i = 0; i < M; i++)
                bn_dx_one(dx, dy, x, &q, i, M, C, pf, st, buf);
        }
        if (st)
            pyconv_stream_fence();
    }
}

/* The loops above compiled for AVX2 (batchnorm_avx2.c) and AVX-512 (batchnorm_avx512.c). */
void batchnorm_stats_blocks_avx2(double *part, const float *x, int64_t M, int64_t C);
void batchnorm_stats_blocks_avx512(double *part, const float *x, int64_t M, int64_t C);
void batchnorm_forward_avx2(float *y, const float *x, const float *scale, const float *shift,
                            int64_t M, int64_t C, int relu);
void batchnorm_forward_avx512(float *y, const float *x, const float *scale, const float *shift,
                              int64_t M, int64_t C, int relu);
void batchnorm_bwd_sums_avx2(double *part, const float *dy, const float *x, const float *mean,
                             const float *rs, const float *rt, int64_t M, int64_t C);
void batchnorm_bwd_sums_avx512(double *part, const float *dy, const float *x, const float *mean,
                               const float *rs, const float *rt, int64_t M, int64_t C);
void batchnorm_dx_avx2(float *dx, const float *dy, const float *x, const float *mean,
                       const float *invstd, const float *k, const float *mb, const float *mg,
                       const float *rs, const float *rt, int64_t M, int64_t C);
void batchnorm_dx_avx512(float *dx, const float *dy, const float *x, const float *mean,
                         const float *invstd, const float *k, const float *mb, const float *mg,
                         const float *rs, const float *rt, int64_t M, int64_t C);
/* ... and for aarch64 (batchnorm_neon.c). */
void batchnorm_stats_blocks_neon(double *part, const float *x, int64_t M, int64_t C);
void batchnorm_forward_neon(float *y, const float *x, const float *scale, const float *shift,
                            int64_t M, int64_t C, int relu);
void batchnorm_bwd_sums_neon(double *part, const float *dy, const float *x, const float *mean,
                             const float *rs, const float *rt, int64_t M, int64_t C);
void batchnorm_dx_neon(float *dx, const float *dy, const float *x, const float *mean,
                       const float *invstd, const float *k, const float *mb, const float *mg,
                       const float *rs, const float *rt, int64_t M, int64_t C);

#endif
