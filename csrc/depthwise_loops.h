/* depthwise_loops.h -- the loops of the depthwise convolution, written once and compiled once
 * per ISA (depthwise.c for the portable build, depthwise_avx2.c, depthwise_avx512.c and
 * depthwise_neon.c with their own flags). The innermost loop always runs over channels, unit stride in NHWC, lanes
 * independent: 4 floats wide in the portable build, 8 with AVX2, 16 with AVX-512 (DW_VEC). Every lane multiplies, then adds (two roundings: the ISA files are built with
 * -ffp-contract=off), in the same order on every ISA, so the results are bitwise the same.
 * depthwise.c allocates the workspaces, picks the ISA and combines the filter-gradient chunks;
 * its opening comment lists the promises and says why this is not a GEMM.
 *
 * Sizes are conv2d_shape's (pyconv.h): K = C*M output channels, output channel k = c*M + m reads
 * input channel c = k / M. The plain loops (dw_*_block) take any M and any block width; the
 * common case -- M = 1 (MobileNet's) -- runs on explicit vectors (vec_t) instead: blocks of
 * DW_NV vectors, then one of 2 and one of 1 for the whole vectors left (C = 32 with AVX-512),
 * the plain loop only for the last C mod DW_VEC channels. */
#ifndef PYCONV_DEPTHWISE_LOOPS_H
#define PYCONV_DEPTHWISE_LOOPS_H

#include <string.h>
#include "target.h"

/* Floats per vector: each ISA file defines it before including this header (16 for AVX-512, 8
 * for AVX2); the portable build takes 4 (SSE2 / NEON). */
#ifndef DW_VEC
#define DW_VEC 4
#endif
#define VEC_FLOATS DW_VEC
#include "vec_portable.h"
/* Output channels per register block: 4 vectors, accumulators that stay in registers across all
 * the taps of one output pixel, so that each tap costs two loads (input, filter) and one multiply
 * and add per vector, and 4 independent add chains hide the add latency. Each lane is one channel
 * with its own sum, so the block width changes no result: every ISA gives the same bits. */
#define DW_NV 4
#define DW_CB (DW_NV * DW_VEC)
/* Interior pixels (every tap inside the image) go DW_QB at a time, DW_NQ vectors of channels
 * each: 8 accumulators, and each filter vector loaded once for DW_QB pixels, so a multiply-add
 * costs 1.25 loads instead of 2 (oneDNN's register blocking over output columns). */
#define DW_QB 4
#define DW_NQ 2
#define DW_CBQ (DW_NQ * DW_VEC)
/* Vectors per block of the filter gradient's 3-tap path (dw_bwf_tri_vecs): 3*DW_NT accumulators,
 * 2*DW_NT input columns kept, DW_NT input and DW_NT dout vectors loaded per pixel -- 28 of
 * AVX-512's 32 registers at 4 (1.0-1.2x faster than 2 vectors: docs/benchmarks.md 3.6), 14 of
 * the 16 of AVX2 at 2. */
#if DW_VEC >= 16
#define DW_NT 4
#else
#define DW_NT 2
#endif
/* The filter gradient's 3-tap path asks for the input and dout vectors this many pixels ahead
 * in L1 (pyconv_prefetch_l1): 6-12 KiB ahead at MobileNet's 64-128 channels. 1.0-1.4x at batch
 * 32 and 128 (16 to 32 pixels measured alike, 4 and 8 less: docs/benchmarks.md 3.6). */
#define DW_PF_AHEAD 24
/* Output pixels per chunk of the filter-gradient reduction: enough work to amortise zeroing a
 * chunk's partial filter (R*S*K floats), few enough partials to stay small. Chosen from the sizes
 * only, never the thread count: that is what makes the gradient independent of it. */
#define DW_CHUNK 1024
/* At most this many floats of partial filters: past it, chunks grow (huge R*S*K only). */
#define DW_PART_MAX (4 << 20)
/* Below this many output elements a parallel region costs more than it saves (as act.c). */
#define DW_PAR_MIN 32768

/* One filter tap that lands inside the image, for one output (or input) pixel: the element
 * offset of the pixel it reads within the image (x), and of its (r,s) filter row (f). A pixel's
 * taps are listed once, then every channel block walks the list: no bounds test per channel. */
typedef struct {
    int64_t x, f;
} dw_tap;

static inline float dw_relu1(float v) { return !(v <= 0.0f) ? v : 0.0f; }   /* as relu_forward */

/* The full channel blocks with M = 1 are written with DW_NV explicit vectors (vec_t, one ISA
 * vector of DW_VEC floats: vec_portable.h), so that their accumulators stay in registers
 * whatever the auto-vectoriser decides (left to itself, it unrolls-and-jams the tap loop and
 * falls back to scalar code). Per lane: multiply, then add -- the same two roundings as the
 * plain loops, which handle the tail blocks and M > 1. */

/* acc[v] = bias[v*DW_VEC..] (or 0) for n vectors. */
PYCONV_ALWAYS_INLINE void dw_init_v(vec_t *acc, int n, const float *bias)
{
    for (int v = 0; v < n; v++)
        acc[v] = bias ? vec_load(bias + DW_VEC * v) : vec_zero();
}

/* How the vector blocks store an output pixel (the `store` flags): relu first, and stream past
 * the caches (target.h: pyconv_streams says when; no read of each output line before it is
 * written, a third of the traffic). The forward and the input gradient stream: both write each
 * row's pixels in column order, so that every line is filled by consecutive stores. */
#define DW_STORE_RELU 1
#define DW_STORE_STREAM 2

/* p[0..DW_VEC) = v, streamed 16 bytes at a time (p 16-byte aligned: pyconv_streams) */
PYCONV_ALWAYS_INLINE void dw_stream(float *p, vec_t v)
{
#if PYCONV_CAN_STREAM
    for (int j = 0; j < DW_VEC; j += 4) {
        __m128 h;
        memcpy(&h, (const float *)&v + j, sizeof h);
        _mm_stream_ps(p + j, h);
    }
#else
    vec_store(p, v);
#endif
}

/* relu on lanes, as dw_relu1: v <= 0 (and -0) becomes +0, NaN stays. */
#if VEC_EXT
typedef int32_t dw_ivec __attribute__((vector_size(DW_VEC * sizeof(float))));
PYCONV_ALWAYS_INLINE vec_t dw_relu_vec(vec_t v)
{
    return (vec_t)((dw_ivec)v & ~(v <= vec_zero()));
}
#else
PYCONV_ALWAYS_INLINE vec_t dw_relu_vec(vec_t v)
{
    for (int j = 0; j < DW_VEC; j++)
        v.f[j] = dw_relu1(v.f[j]);
    return v;
}
#endif

/* The store flags for an output at `out`, K floats a pixel, of a pass that reads and writes
 * `moved` bytes. */
static inline int dw_store_flags(const float *out, int64_t K, int64_t moved, int relu)
{
    return (relu ? DW_STORE_RELU : 0) | (pyconv_streams(out, K, moved) ? DW_STORE_STREAM : 0);
}

/* Each loop nest below reads rows of one tensor (the input, or dout) three at a time (3x3), one
 * vector block of a pixel after another, and each next row of the nest needs one row more: the
 * hardware prefetchers do not fetch it in time (the forward at 28x28x128, batch 64: 6.4 ms
 * without prefetching, 1.7-2.5 ms with; docs/benchmarks.md 3.6). So each row asks for the one row
 * its successor adds, a part of it per block of pixels (dw_prefetch_part), into L2 (1 MiB here;
 * a row is W*C floats, 14 KiB at MobileNet's shapes) -- when the pass moves more than a quarter
 * of the L3 (dw_prefetches). From an L3 that holds the pass, the prefetches cost 2-8% (Zen 4,
 * batch 1-4, one thread); but the L3 is shared with the other cores, and a pass of 13 MB
 * (14x14x256, batch 32) found its input there or not depending on what ran before it: called
 * after PyTorch's NCHW pass as `bench --layers` calls it, it ran 1.4-1.6x faster with them
 * (docs/benchmarks.md 3.7). Prefetching changes no value. */

/* Whether a pass that reads and writes `moved` bytes prefetches the rows it adds (above): more
 * than a quarter of the L3 (pyconv_stream_min_bytes), 8 MiB of Zen 4's 32. It streams its
 * output past half (pyconv_streams). */
static inline int dw_prefetches(int64_t moved)
{
    return moved > pyconv_stream_min_bytes() / 4;
}

/* floor(a / b) for b >= 1, any sign of a */
static inline int64_t dw_floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* The rows a row of a loop nest reads that the row before it did not: rows [lo, hi] of image n
 * (of img_rows rows, rowlen floats each, from base), less those up to prev_hi (what the row
 * before read; -1 at the image's first row), clipped to the image. Returns the first of them
 * and their floats in *len (0: none). */
static inline const float *dw_new_rows(const float *base, int64_t n, int64_t img_rows,
                                       int64_t rowlen, int64_t lo, int64_t hi, int64_t prev_hi,
                                       int64_t *len)
{
    lo = lo > prev_hi + 1 ? lo : prev_hi + 1;
    lo = lo > 0 ? lo : 0;
    hi = hi < img_rows - 1 ? hi : img_rows - 1;
    *len = hi >= lo ? (hi - lo + 1) * rowlen : 0;
    return *len ? base + (n * img_rows + lo) * rowlen : base;
}

/* The input rows output row `row` (of N*P) adds to those of the output row before it (*len
 * floats; 0 past the last row). */
static inline const float *dw_fwd_new_rows(const float *inp, const conv2d_shape *sh, int64_t row,
                                           int64_t *len)
{
    *len = 0;
    if (row >= sh->N * sh->P)
        return inp;
    const int64_t n = row / sh->P, p = row % sh->P;
    const int64_t lo = p * sh->stride_h - sh->pad_top, hi = lo + (sh->R - 1) * sh->dil_h;
    return dw_new_rows(inp, n, sh->H, sh->W * sh->C, lo, hi, p > 0 ? hi - sh->stride_h : -1, len);
}

/* The dout rows input row `row` (of N*H) adds to those of the input row before it: output rows
 * p with h = p*stride_h - pad_top + r*dil_h for some r (*len floats; 0 past the last row). */
static inline const float *dw_bwi_new_rows(const float *dout, const conv2d_shape *sh, int64_t row,
                                           int64_t *len)
{
    *len = 0;
    if (row >= sh->N * sh->H)
        return dout;
    const int64_t n = row / sh->H, h = row % sh->H, sh_ = sh->stride_h;
    const int64_t hi = dw_floor_div(h + sh->pad_top, sh_);
    const int64_t lo = -dw_floor_div(-(h + sh->pad_top - (sh->R - 1) * sh->dil_h), sh_);   /* ceil */
    const int64_t prev = h > 0 ? dw_floor_div(h - 1 + sh->pad_top, sh_) : -1;
    return dw_new_rows(dout, n, sh->P, sh->Q * sh->K, lo, hi, prev, len);
}

/* The output row p that input row h meets through filter row r (h = p*stride_h - pad_top +
 * r*dil_h), or -1 when there is none. */
static inline int64_t dw_bwi_out_row(const conv2d_shape *sh, int64_t h, int64_t r)
{
    const int64_t ph = h + sh->pad_top - r * sh->dil_h;   /* = p * stride_h */
    return ph < 0 || ph % sh->stride_h || ph / sh->stride_h >= sh->P ? -1 : ph / sh->stride_h;
}

/* Prefetch part i of n of the len floats at `rows` into L2. */
static inline void dw_prefetch_part(const float *rows, int64_t len, int64_t i, int64_t n)
{
    if (len > 0 && n > 0) {
        const int64_t a = len * i / n, b = len * (i + 1) / n;
        pyconv_prefetch_l2(rows + a, (b - a) * (int64_t)sizeof(float));
    }
}

/* out[v*DW_VEC..] = acc[v] (then relu) for n vectors; `store`: the flags above. */
PYCONV_ALWAYS_INLINE void dw_store_v(float *out, const vec_t *acc, int n, int store)
{
    for (int v = 0; v < n; v++) {
        const vec_t a = store & DW_STORE_RELU ? dw_relu_vec(acc[v]) : acc[v];
        if (store & DW_STORE_STREAM)
            dw_stream(out + DW_VEC * v, a);
        else
            vec_store(out + DW_VEC * v, a);
    }
}

/* acc[v] += x[v*DW_VEC..] * f[v*DW_VEC..] for n vectors (n a constant where it is inlined). */
PYCONV_ALWAYS_INLINE void dw_madd_v(vec_t *acc, const float *x, const float *f, int n)
{
    for (int v = 0; v < n; v++)
        acc[v] = vec_madd(acc[v], vec_load(x + DW_VEC * v), vec_load(f + DW_VEC * v));
}

/* The vector blocks of the channels [*j0, K) with M = 1: as many of DW_NV vectors as fit, then
 * one of 2 and one of 1 vector, each by `block(..., j0, nv)`; *j0 is left at the first channel
 * not done (fewer than DW_VEC remain). A macro so that every block call sees nv as a constant
 * and keeps its accumulators in registers; each lane's sum is the same whatever its block. */
#define DW_VEC_BLOCKS(j0, K, block)                                      \
    do {                                                                 \
        for (; (j0) + DW_CB <= (K); (j0) += DW_CB)                       \
            block(j0, DW_NV);                                            \
        if ((j0) + 2 * DW_VEC <= (K)) {                                  \
            block(j0, 2);                                                \
            (j0) += 2 * DW_VEC;                                          \
        }                                                                \
        if ((j0) + DW_VEC <= (K)) {                                      \
            block(j0, 1);                                                \
            (j0) += DW_VEC;                                              \
        }                                                                \
    } while (0)

/* out[j0..j0+jb) of one output pixel = bias + sum over its taps of x[k/M] * f[k], taps in list
 * order: the tail block and M > 1. */
static inline void
dw_fwd_block(float *restrict o, const dw_tap *taps, int64_t nt, const float *img,
             const float *filt, const float *bias, int64_t j0, int64_t jb, int64_t M, int store)
{
    float acc[DW_CB];
    if (bias)
        for (int64_t j = 0; j < jb; j++)
            acc[j] = bias[j0 + j];
    else
        for (int64_t j = 0; j < jb; j++)
            acc[j] = 0.0f;
    for (int64_t t = 0; t < nt; t++) {
        const float *restrict x = img + taps[t].x;            /* the tap's C input channels */
        const float *restrict f = filt + taps[t].f + j0;      /* its K filter values */
        for (int64_t j = 0; j < jb; j++) {
            const float prod = x[(j0 + j) / M] * f[j];
            acc[j] += prod;
        }
    }
    if (store & DW_STORE_RELU)
        for (int64_t j = 0; j < jb; j++)
            o[j0 + j] = dw_relu1(acc[j]);
    else
        for (int64_t j = 0; j < jb; j++)
            o[j0 + j] = acc[j];
}

/* Channels [j0, j0 + nv*DW_VEC) of one output pixel, M = 1, in nv vectors. */
PYCONV_ALWAYS_INLINE void dw_fwd_vecs(float *o, const dw_tap *taps, int64_t nt, const float *img,
                                     const float *filt, const float *bias, int64_t j0, int nv,
                                     int store)
{
    vec_t acc[DW_NV];
    dw_init_v(acc, nv, bias ? bias + j0 : NULL);
    for (int64_t t = 0; t < nt; t++)
        dw_madd_v(acc, img + taps[t].x + j0, filt + taps[t].f + j0, nv);
    dw_store_v(o + j0, acc, nv, store);
}

/* One output pixel, channels [j0, K): vector blocks when M = 1, the rest by dw_fwd_block. */
static inline void dw_fwd_pixel(float *o, const dw_tap *taps, int64_t nt, const float *img,
                                const float *filt, const float *bias, int64_t j0, int64_t K,
                                int64_t M, int store)
{
#define DW_FWD_BLOCK(j, nv) dw_fwd_vecs(o, taps, nt, img, filt, bias, j, nv, store)
    if (M == 1)
        DW_VEC_BLOCKS(j0, K, DW_FWD_BLOCK);
#undef DW_FWD_BLOCK
    for (; j0 < K; j0 += DW_CB)
        dw_fwd_block(o, taps, nt, img, filt, bias, j0, K - j0 < DW_CB ? K - j0 : DW_CB, M, store);
}

/* DW_QB pixels i at once (M = 1), channels [j0, j0 + DW_CBQ): o[i*ostep + j] = (bias or 0) +
 * sum over taps of x_i[j] * f[j], pixel i reading xq + i*xstep + taps[t].x. The same lanes, the
 * same order as dw_fwd_pixel: the same bits. */
PYCONV_ALWAYS_INLINE void dw_quad(float *o, int64_t ostep, const dw_tap *taps, int64_t nt,
                                 const float *xq, int64_t xstep, const float *filt,
                                 const float *bias, int64_t j0, int store)
{
    vec_t acc[DW_QB][DW_NQ];
    for (int i = 0; i < DW_QB; i++)
        dw_init_v(acc[i], DW_NQ, bias ? bias + j0 : NULL);
    for (int64_t t = 0; t < nt; t++) {
        const float *x = xq + taps[t].x + j0, *f = filt + taps[t].f + j0;
        for (int v = 0; v < DW_NQ; v++) {
            const vec_t fv = vec_load(f + DW_VEC * v);   /* loaded once for DW_QB pixels */
            for (int i = 0; i < DW_QB; i++)
                acc[i][v] = vec_madd(acc[i][v], vec_load(x + i * xstep + DW_VEC * v), fv);
        }
    }
    for (int i = 0; i < DW_QB; i++)
        dw_store_v(o + i * ostep + j0, acc[i], DW_NQ, store);
}

/* dw_quad for a tap list made of rows of 3 taps one pixel apart (3 wide, stride 1, no
 * dilation: the forward's 3x3), pixels xstep = C floats apart: a filter row's taps read the
 * DW_QB + 2 input columns q-1 .. q+4, loaded once for the 12 (pixel, tap) pairs instead of 12
 * times (0.75 loads per multiply-add instead of 1.25), kept in registers with the 8
 * accumulators. dir = 1: tap u of a row reads the column u to the right of its first (the
 * forward's); dir = -1: u to the left (the input gradient's, whose taps walk dout's columns
 * backwards). A constant where it is inlined. Each output adds its taps in list order as
 * dw_quad does: the same bits. */
PYCONV_ALWAYS_INLINE void dw_quad3(float *o, int64_t ostep, const dw_tap *taps, int64_t nt,
                                  const float *xq, int64_t xstep, const float *filt,
                                  const float *bias, int64_t j0, int64_t K, int store, int dir)
{
    vec_t acc[DW_QB][DW_NQ];
    for (int i = 0; i < DW_QB; i++)
        dw_init_v(acc[i], DW_NQ, bias ? bias + j0 : NULL);
    for (int64_t t = 0; t + 3 <= nt; t += 3) {
        /* xv[j]: column j of the row's first tap (dir 1), or j - 2 (dir -1) */
        const float *x = xq + taps[t].x + j0 - (dir < 0 ? 2 * xstep : 0), *f = filt + taps[t].f + j0;
        for (int v = 0; v < DW_NQ; v++) {
            vec_t xv[DW_QB + 2];
            for (int j = 0; j < DW_QB + 2; j++)
                xv[j] = vec_load(x + j * xstep + DW_VEC * v);
            for (int u = 0; u < 3; u++) {
                const vec_t fv = vec_load(f + u * K + DW_VEC * v);
                for (int i = 0; i < DW_QB; i++)
                    acc[i][v] = vec_madd(acc[i][v], xv[dir > 0 ? i + u : i - u + 2], fv);
            }
        }
    }
    for (int i = 0; i < DW_QB; i++)
        dw_store_v(o + i * ostep + j0, acc[i], DW_NQ, store);
}

/* DW_QB interior pixels sharing one tap list (offsets relative to pixel i's xq + i*xstep), all
 * K channels, M = 1: quads of DW_CBQ channels, then the tail pixel by pixel. tri: 0, or the
 * list is dw_quad3's (rows of 3 taps xstep floats apart) and tri its dir (1 or -1). */
static inline void dw_quad_pixels(float *o, int64_t ostep, const dw_tap *taps, int64_t nt,
                                  const float *xq, int64_t xstep, const float *filt,
                                  const float *bias, int64_t K, int store, int tri)
{
    int64_t j0 = 0;
    for (; tri > 0 && j0 + DW_CBQ <= K; j0 += DW_CBQ)
        dw_quad3(o, ostep, taps, nt, xq, xstep, filt, bias, j0, K, store, 1);
    for (; tri < 0 && j0 + DW_CBQ <= K; j0 += DW_CBQ)
        dw_quad3(o, ostep, taps, nt, xq, xstep, filt, bias, j0, K, store, -1);
    for (; j0 + DW_CBQ <= K; j0 += DW_CBQ)
        dw_quad(o, ostep, taps, nt, xq, xstep, filt, bias, j0, store);
    for (int i = 0; j0 < K && i < DW_QB; i++)
        dw_fwd_pixel(o + i * ostep, taps, nt, xq + i * xstep, filt, bias, j0, K, 1, store);
}

// inp (N,H,W,C), filt (R,S,C,M), bias (K) or NULL, out (N,P,Q,K), overwritten.
// tapbuf: 2*R*S taps per thread. Loop nest:
//   loop 1 (n,p: output rows)        parallel; a row's input rows (R of them) stay in L2, the
//                                    one the next row adds prefetched into L2
//   loop 2 (q: output pixels)        interior: DW_QB at a time, one tap list for the row, each
//                                    block prefetching its part of the next row's new row;
//                                    border: list the taps inside the image, pixel by pixel
//   loop 3 (k0, step DW_CBQ/DW_CB)   accumulators in registers
//   loop 4 (taps of the pixel)       input pixel and filter row from L1
//   loop 5 (k in the block)          the vector loop
// Threads: over N*P output rows; each output element is written by one thread, its taps added
// in one fixed order (r, then s): bitwise the same for any thread count.
static inline void depthwise_forward_loop(float *out, const float *inp, const float *filt,
                                          const float *bias, int relu, const conv2d_shape *sh,
                                          dw_tap *tapbuf)
{
    const int64_t K = sh->K, M = sh->K / sh->C, RS = sh->R * sh->S;
    /* interior columns [q_lo, q_hi): every tap's input column inside [0, W) */
    const int64_t q_lo = (sh->pad_left + sh->stride_w - 1) / sh->stride_w;
    const int64_t last = sh->W - 1 + sh->pad_left - (sh->S - 1) * sh->dil_w;   /* q*stride_w <= last */
    const int64_t q_hi = last < 0 ? 0 : (last / sh->stride_w + 1 < sh->Q ? last / sh->stride_w + 1 : sh->Q);
    /* 3 wide, unit column step: a row's taps are 3 adjacent input columns (dw_quad3) */
    const int tri = sh->S == 3 && sh->dil_w == 1 && sh->stride_w == 1;
    const int64_t moved = (sh->N * sh->H * sh->W * sh->C + sh->N * sh->P * sh->Q * K) * (int64_t)sizeof(float);
    const int store = dw_store_flags(out, K, moved, relu), prefetch = dw_prefetches(moved);
    const int64_t nquads = q_hi - q_lo >= DW_QB ? ceil_div(q_hi - q_lo, DW_QB) : 0;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) \
        if(sh->N * sh->P * sh->Q * K > DW_PAR_MIN)
    for (int64_t row = 0; row < sh->N * sh->P; row++) {    // loop 1
        const int64_t n = row / sh->P, p = row % sh->P;
        const float *img = inp + n * sh->H * sh->W * sh->C;
        dw_tap *taps = tapbuf + pyconv_thread_num() * 2 * RS, *rel = taps + RS;
        int64_t nrel = 0;   /* the row's taps, relative to an interior pixel's column */
        for (int64_t r = 0; r < sh->R; r++) {
            const int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
            for (int64_t t = 0; h >= 0 && h < sh->H && t < sh->S; t++)
                rel[nrel++] = (dw_tap){(h * sh->W + t * sh->dil_w - sh->pad_left) * sh->C, (r * sh->S + t) * K};
        }
        int64_t nlen = 0;   /* the rows the next output row adds: prefetched, a part a block */
        const float *next = prefetch ? dw_fwd_new_rows(inp, sh, row + 1, &nlen) : inp;
        for (int64_t q = 0; q < sh->Q;) {                  // loop 2
            if (M == 1 && q >= q_lo && q < q_hi && q_hi - q_lo >= DW_QB) {
                dw_prefetch_part(next, nlen, (q - q_lo) / DW_QB, nquads);
                /* the last interior pixels (fewer than DW_QB) in a block that overlaps the one
                 * before: recomputed in the same order, the same bits */
                const int64_t q0 = q + DW_QB <= q_hi ? q : q_hi - DW_QB;
                dw_quad_pixels(out + (row * sh->Q + q0) * K, K, rel, nrel,
                               img + q0 * sh->stride_w * sh->C, sh->stride_w * sh->C, filt, bias, K, store,
                               tri);
                q = q0 + DW_QB;
                continue;
            }
            int64_t nt = 0;
            for (int64_t r = 0; r < sh->R; r++) {
                const int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
                if (h < 0 || h >= sh->H)
                    continue;
                for (int64_t t = 0; t < sh->S; t++) {
                    const int64_t w = q * sh->stride_w - sh->pad_left + t * sh->dil_w;
                    if (w >= 0 && w < sh->W)
                        taps[nt++] = (dw_tap){(h * sh->W + w) * sh->C, (r * sh->S + t) * K};
                }
            }
            dw_fwd_pixel(out + (row * sh->Q + q) * K, taps, nt, img, filt, bias, 0, K, M, store);
            q++;
        }
        if (store & DW_STORE_STREAM)
            pyconv_stream_fence();
    }
}

/* dinp[c0..c0+cb) of one input pixel = sum over the output pixels and taps that read it of
 * sum over m of g[c*M + m] * f[c*M + m], taps in list order, m ascending. */
static inline void
dw_bwi_block(float *restrict d, const dw_tap *taps, int64_t nt, const float *gimg,
             const float *filt, int64_t c0, int64_t cb, int64_t M)
{
    float acc[DW_CB];
    for (int64_t c = 0; c < cb; c++)
        acc[c] = 0.0f;
    for (int64_t t = 0; t < nt; t++) {
        const float *restrict g = gimg + taps[t].x + c0 * M;   /* dout of the output pixel */
        const float *restrict f = filt + taps[t].f + c0 * M;
        for (int64_t c = 0; c < cb; c++)
            for (int64_t m = 0; m < M; m++) {
                const float prod = g[c * M + m] * f[c * M + m];
                acc[c] += prod;
            }
    }
    for (int64_t c = 0; c < cb; c++)
        d[c0 + c] = acc[c];
}

/* One input pixel: vector blocks when M = 1 (the forward's, with dout for the input and no
 * bias), the rest by dw_bwi_block. */
static inline void dw_bwi_pixel(float *d, const dw_tap *taps, int64_t nt, const float *gimg,
                                const float *filt, int64_t C, int64_t M, int store)
{
    int64_t c0 = 0;
#define DW_BWI_BLOCK(j, nv) dw_fwd_vecs(d, taps, nt, gimg, filt, NULL, j, nv, store)
    if (M == 1)
        DW_VEC_BLOCKS(c0, C, DW_BWI_BLOCK);
#undef DW_BWI_BLOCK
    for (; c0 < C; c0 += DW_CB)
        dw_bwi_block(d, taps, nt, gimg, filt, c0, C - c0 < DW_CB ? C - c0 : DW_CB, M);
}


/* Column strides up to this take the interior runs of the input gradient (below); a larger one
 * goes pixel by pixel. */
#define DW_BWI_MAX_STRIDE 4

/* One input row's interior run for the input columns w = rho + i*stride_w (stride_w = sw):
 * their taps (r,t) are those with (rho + pad_left - t*dil_w) divisible by sw, and pixel i reads
 * output column i + (rho + pad_left - t*dil_w)/sw, so every pixel of the class with all of them
 * inside [0, Q) shares one tap list relative to dout column i. dw_bwi_run_taps lists those taps
 * in rel (returns how many) and sets [*ilo, *ilo + *nrun): the run's columns i, *nrun 0 when
 * the class has fewer than DW_QB of them. */
static inline int64_t dw_bwi_run_taps(dw_tap *rel, const conv2d_shape *sh, int64_t h, int64_t rho,
                                      int64_t *ilo, int64_t *nrun)
{
    const int64_t K = sh->K, sw = sh->stride_w;
    int64_t nrel = 0, dmin = 0, dmax = 0;
    *ilo = *nrun = 0;
    if (rho >= sh->W)   /* a class with no column in this image */
        return 0;
    for (int64_t r = 0; r < sh->R; r++) {
        const int64_t p = dw_bwi_out_row(sh, h, r);
        for (int64_t t = 0; p >= 0 && t < sh->S; t++) {
            const int64_t d = rho + sh->pad_left - t * sh->dil_w;
            if (d % sw)
                continue;
            dmin = nrel == 0 || d < dmin ? d : dmin;
            dmax = nrel == 0 || d > dmax ? d : dmax;
            rel[nrel++] = (dw_tap){(p * sh->Q + d / sw) * K, (r * sh->S + t) * K};
        }
    }
    if (nrel == 0)
        return 0;
    /* i in [ilo, ihi]: 0 <= i + dmin/sw, i + dmax/sw <= Q - 1, rho + i*sw <= W - 1 */
    *ilo = -dmin / sw > 0 ? -dmin / sw : 0;
    int64_t ihi = sh->Q - 1 - dmax / sw;
    ihi = ihi < (sh->W - 1 - rho) / sw ? ihi : (sh->W - 1 - rho) / sw;
    *nrun = ihi - *ilo + 1 >= DW_QB ? ihi - *ilo + 1 : 0;
    return nrel;
}

/* The run's pixels DW_QB at a time (dw_quad_pixels: dinp pixels sw*C floats apart, dout columns
 * K), from ilo, the last block ending at the run's end (it may overlap the one before:
 * recomputed in the same order, the same bits); block k also prefetches part k of the nlen
 * floats at `next` (the dout rows the next input row adds). */
static inline void dw_bwi_run(float *drow, const float *gimg, const float *filt, const conv2d_shape *sh,
                              const dw_tap *rel, int64_t nrel, int64_t rho, int64_t ilo, int64_t nrun,
                              int store, const float *next, int64_t nlen)
{
    const int64_t sw = sh->stride_w;
    /* 3 wide at unit column step: each filter row's 3 taps read 3 adjacent dout columns, right
     * to left (dw_quad3 with dir -1) */
    const int tri = sh->S == 3 && sh->dil_w == 1 && sw == 1 ? -1 : 0;
    for (int64_t k = 0; k < nrun; k += DW_QB) {
        dw_prefetch_part(next, nlen, k / DW_QB, ceil_div(nrun, DW_QB));
        const int64_t i = k + DW_QB <= nrun ? ilo + k : ilo + nrun - DW_QB;
        dw_quad_pixels(drow + (rho + i * sw) * sh->C, sw * sh->C, rel, nrel, gimg + i * sh->K,
                       sh->K, filt, NULL, sh->K, store, tri);
    }
}

// dout (N,P,Q,K), filt (R,S,C,M), dinp (N,H,W,C), overwritten. tapbuf: 2*R*S taps per thread.
// The adjoint of the forward written as a gather: input pixel (h,w) collects the output pixels
// (p,q) and taps (r,s) with h = p*stride_h - pad_top + r*dil_h (likewise w), so no two threads
// ever add into one element. Loop nest:
//   loop 1 (n,h: input rows)          parallel; the dout rows a row reads stay in L2, the one
//                                     the next row adds prefetched
//   loop 2 (rho: column classes w mod stride_w, 1 class unless M = 1 and stride_w <= 4)
//     loop 3 (w in the class)         columns left of the interior run pixel by pixel, the run
//                                     (M = 1: one tap list, DW_QB pixels at a time, the
//                                     forward's blocks with dout for the input), then the
//                                     columns right of it: each row in column order, so that
//                                     streamed lines fill in order
// A pixel's taps are added in the same order (r, then t) on both paths: the same bits.
// Threads: over N*H input rows; each dinp element written by one thread, in a fixed order.
static inline void depthwise_backward_input_loop(float *dinp, const float *dout, const float *filt,
                                                 const conv2d_shape *sh, dw_tap *tapbuf)
{
    const int64_t K = sh->K, M = sh->K / sh->C, RS = sh->R * sh->S, sw = sh->stride_w;
    const int runs = M == 1 && sw <= DW_BWI_MAX_STRIDE;
    const int64_t step = runs ? sw : 1;   /* columns w = rho, rho + step, ... are one class */
    const int64_t moved = (sh->N * sh->P * sh->Q * K + sh->N * sh->H * sh->W * sh->C) * (int64_t)sizeof(float);
    const int store = dw_store_flags(dinp, sh->C, moved, 0), prefetch = dw_prefetches(moved);
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) \
        if(sh->N * sh->H * sh->W * sh->C > DW_PAR_MIN)
    for (int64_t row = 0; row < sh->N * sh->H; row++) {                       // loop 1
        const int64_t n = row / sh->H, h = row % sh->H;
        const float *gimg = dout + n * sh->P * sh->Q * K;
        float *drow = dinp + row * sh->W * sh->C;
        dw_tap *taps = tapbuf + pyconv_thread_num() * 2 * RS, *rel = taps + RS;
        int64_t nlen = 0;   /* the dout rows the next input row adds: prefetched by the runs */
        const float *next = prefetch ? dw_bwi_new_rows(dout, sh, row + 1, &nlen) : dout;
        for (int64_t rho = 0; rho < step; rho++) {                             // loop 2
            int64_t ilo = 0, nrun = 0;
            const int64_t nrel = runs ? dw_bwi_run_taps(rel, sh, h, rho, &ilo, &nrun) : 0;
            const int64_t wa = rho + ilo * sw;   /* the run's first column */
            for (int64_t w = rho; w < sh->W; w += step) {                       // loop 3
                if (nrun && w == wa) {
                    dw_bwi_run(drow, gimg, filt, sh, rel, nrel, rho, ilo, nrun, store,
                               rho == 0 ? next : NULL, rho == 0 ? nlen : 0);
                    w += (nrun - 1) * step;   /* on to the column after the run */
                    continue;
                }
                int64_t nt = 0;
                for (int64_t r = 0; r < sh->R; r++) {
                    const int64_t p = dw_bwi_out_row(sh, h, r);
                    for (int64_t t = 0; p >= 0 && t < sh->S; t++) {
                        const int64_t qw = w + sh->pad_left - t * sh->dil_w;
                        if (qw < 0 || qw % sh->stride_w || qw / sh->stride_w >= sh->Q)
                            continue;
                        taps[nt++] = (dw_tap){(p * sh->Q + qw / sh->stride_w) * K, (r * sh->S + t) * K};
                    }
                }
                dw_bwi_pixel(drow + w * sh->C, taps, nt, gimg, filt, sh->C, M, store);
            }
        }
        if (store & DW_STORE_STREAM)
            pyconv_stream_fence();
    }
}

/* part[k0..k0+kb) of one filter tap += sum over q in [q0,q1) of x(q)[k/M] * g(q)[k], q ascending:
 * x(q) the input pixel the tap reads for output pixel q (xstep floats apart), g(q) its dout. */
static inline void
dw_bwf_block(float *restrict part, const float *x, int64_t xstep, const float *g, int64_t K,
             int64_t nq, int64_t k0, int64_t kb, int64_t M)
{
    float acc[DW_CB];
    for (int64_t k = 0; k < kb; k++)
        acc[k] = part[k0 + k];
    for (int64_t i = 0; i < nq; i++) {
        const float *restrict xi = x + i * xstep;
        const float *restrict gi = g + i * K + k0;
        for (int64_t k = 0; k < kb; k++) {
            const float prod = xi[(k0 + k) / M] * gi[k];
            acc[k] += prod;
        }
    }
    for (int64_t k = 0; k < kb; k++)
        part[k0 + k] = acc[k];
}

/* Channels [k0, k0 + nv*DW_VEC) of one filter tap over a run of nq output pixels, M = 1. */
PYCONV_ALWAYS_INLINE void dw_bwf_vecs(float *part, const float *x, int64_t xstep, const float *g,
                                     int64_t K, int64_t nq, int64_t k0, int nv)
{
    vec_t acc[DW_NV];
    dw_init_v(acc, nv, part + k0);
    for (int64_t i = 0; i < nq; i++)
        dw_madd_v(acc, x + i * xstep + k0, g + i * K + k0, nv);
    dw_store_v(part + k0, acc, nv, 0);
}

/* One filter tap over a run of nq output pixels: vector blocks when M = 1, the rest by
 * dw_bwf_block. */
static inline void dw_bwf_tap(float *part, const float *x, int64_t xstep, const float *g,
                              int64_t K, int64_t nq, int64_t M)
{
    int64_t k0 = 0;
#define DW_BWF_BLOCK(j, nv) dw_bwf_vecs(part, x, xstep, g, K, nq, j, nv)
    if (M == 1)
        DW_VEC_BLOCKS(k0, K, DW_BWF_BLOCK);
#undef DW_BWF_BLOCK
    for (; k0 < K; k0 += DW_CB)
        dw_bwf_block(part, x, xstep, g, K, nq, k0, K - k0 < DW_CB ? K - k0 : DW_CB, M);
}

/* Channels [k0, k0 + nv*DW_VEC) of the bias gradient: part += sum over a row of nq pixels of
 * g(q), q ascending. */
PYCONV_ALWAYS_INLINE void dw_bsum_vecs(float *part, const float *g, int64_t K, int64_t nq, int64_t k0,
                                      int nv)
{
    vec_t acc[DW_NV];
    dw_init_v(acc, nv, part + k0);
    for (int64_t i = 0; i < nq; i++)
        for (int v = 0; v < nv; v++)
            acc[v] = vec_add(acc[v], vec_load(g + i * K + k0 + DW_VEC * v));
    dw_store_v(part + k0, acc, nv, 0);
}

/* The bias gradient of one output row: part[k] += sum over its nq pixels of g(q)[k], q
 * ascending; vector blocks, then the last K mod DW_VEC channels one at a time. */
static inline void dw_bias_row(float *part, const float *g, int64_t K, int64_t nq)
{
    int64_t k0 = 0;
#define DW_BSUM_BLOCK(j, nv) dw_bsum_vecs(part, g, K, nq, j, nv)
    DW_VEC_BLOCKS(k0, K, DW_BSUM_BLOCK);
#undef DW_BSUM_BLOCK
    for (; k0 < K; k0++) {
        float acc = part[k0];
        for (int64_t i = 0; i < nq; i++)
            acc += g[i * K + k0];
        part[k0] = acc;
    }
}

/* Channels [k0, k0 + nv*DW_VEC) of the 3 taps of one filter row (3 wide, stride 1, no dilation)
 * over the output columns q in [0, nq) where all three are inside the image, M = 1: tap u of
 * pixel q reads input column q + u of x (x: the column tap 0 reads for q = 0; pixels C floats
 * apart, dout pixels K), so each input vector is loaded once for the 3 taps and each dout
 * vector once for 3 multiply-adds (0.67 loads per multiply-add instead of dw_bwf_vecs' 2), in
 * 3*nv independent sums. part: the row's 3 taps, K floats apart. Each tap adds q ascending, as
 * dw_bwf_vecs does: the same bits. */
PYCONV_ALWAYS_INLINE void dw_bwf_tri_vecs(float *part, const float *x, const float *g, int64_t C,
                                         int64_t K, int64_t nq, int64_t k0, int nv)
{
    vec_t acc[3][DW_NV], x0[DW_NV], x1[DW_NV];
    for (int u = 0; u < 3; u++)
        dw_init_v(acc[u], nv, part + u * K + k0);
    for (int v = 0; v < nv; v++) {
        x0[v] = vec_load(x + k0 + DW_VEC * v);
        x1[v] = vec_load(x + C + k0 + DW_VEC * v);
    }
    for (int64_t i = 0; i < nq; i++)
        for (int v = 0; v < nv; v++) {   /* x0, x1, x2: columns i, i+1, i+2 */
            /* past the row's end these fetch the next rows' pixels: read next, or harmless */
            pyconv_prefetch_l1(x + (i + 2 + DW_PF_AHEAD) * C + k0 + DW_VEC * v);
            pyconv_prefetch_l1(g + (i + DW_PF_AHEAD) * K + k0 + DW_VEC * v);
            const vec_t x2 = vec_load(x + (i + 2) * C + k0 + DW_VEC * v);
            const vec_t gv = vec_load(g + i * K + k0 + DW_VEC * v);
            acc[0][v] = vec_madd(acc[0][v], x0[v], gv);
            acc[1][v] = vec_madd(acc[1][v], x1[v], gv);
            acc[2][v] = vec_madd(acc[2][v], x2, gv);
            x0[v] = x1[v];
            x1[v] = x2;
        }
    for (int u = 0; u < 3; u++)
        dw_store_v(part + u * K + k0, acc[u], nv, 0);
}

/* The output columns q in [*q0, *q1) whose tap column t reads inside the image:
 * 0 <= q*stride_w - pad_left + t*dil_w < W. */
static inline void dw_bwf_cols(const conv2d_shape *sh, int64_t t, int64_t *q0, int64_t *q1)
{
    const int64_t off = sh->pad_left - t * sh->dil_w;
    const int64_t top = sh->W - 1 + off;   /* q*stride_w <= top */
    *q0 = off > 0 ? (off + sh->stride_w - 1) / sh->stride_w : 0;
    *q1 = top < 0 ? 0 : top / sh->stride_w + 1;
    *q1 = *q1 < sh->Q ? *q1 : sh->Q;
}

/* Tap (r,t) of one output row over its columns [qa, qb) (none when empty): xrow the input row
 * the tap's filter row reads, g the dout row, pf the chunk's partial filter. */
static inline void dw_bwf_span(float *pf, const float *xrow, const float *g, const conv2d_shape *sh,
                               int64_t r, int64_t t, int64_t qa, int64_t qb)
{
    if (qa >= qb)
        return;
    const int64_t off = sh->pad_left - t * sh->dil_w;
    dw_bwf_tap(pf + (r * sh->S + t) * sh->K, xrow + (qa * sh->stride_w - off) * sh->C,
               sh->stride_w * sh->C, g + qa * sh->K, sh->K, qb - qa, sh->K / sh->C);
}

/* Filter row r of one output row, 3 wide at stride 1 without dilation, M = 1: the columns where
 * some tap is outside the image tap by tap, the rest by dw_bwf_tri_vecs (each tap's columns
 * still ascending: left edge, middle, right edge). */
static inline void dw_bwf_tri_row(float *pf, const float *xrow, const float *g,
                                  const conv2d_shape *sh, int64_t r)
{
    const int64_t K = sh->K, C = sh->C;
    int64_t q0[3], q1[3], qa = 0, qb = sh->Q;
    for (int64_t t = 0; t < 3; t++) {
        dw_bwf_cols(sh, t, q0 + t, q1 + t);
        qa = q0[t] > qa ? q0[t] : qa;
        qb = q1[t] < qb ? q1[t] : qb;
    }
    qb = qb > qa ? qb : qa;
    for (int64_t t = 0; t < 3; t++)
        dw_bwf_span(pf, xrow, g, sh, r, t, q0[t], q0[t] < qa ? qa : q0[t]);
    if (qb > qa) {
        float *prow = pf + r * 3 * K;
        const float *x = xrow + (qa - sh->pad_left) * C, *gq = g + qa * K;
        int64_t k0 = 0;
        for (; k0 + DW_NT * DW_VEC <= K; k0 += DW_NT * DW_VEC)
            dw_bwf_tri_vecs(prow, x, gq, C, K, qb - qa, k0, DW_NT);
        if (DW_NT > 2 && k0 + 2 * DW_VEC <= K) {
            dw_bwf_tri_vecs(prow, x, gq, C, K, qb - qa, k0, 2);
            k0 += 2 * DW_VEC;
        }
        for (; k0 + DW_VEC <= K; k0 += DW_VEC)
            dw_bwf_tri_vecs(prow, x, gq, C, K, qb - qa, k0, 1);
        for (int64_t t = 0; k0 < K && t < 3; t++)
            dw_bwf_block(prow + t * K, x + t * C, C, gq, K, qb - qa, k0, K - k0, 1);
    }
    for (int64_t t = 0; t < 3; t++)
        dw_bwf_span(pf, xrow, g, sh, r, t, qb > q0[t] ? qb : q0[t], q1[t]);
}

// dout (N,P,Q,K), inp (N,H,W,C); part (nchunks, R*S*K + K): chunk ch's partial filter gradient
// and (when bias) partial bias gradient over output rows [ch*rows, (ch+1)*rows), overwritten.
// Loop nest, per chunk:
//   loop 1 (n,p: output rows of the chunk, ascending)   the next row's dout row and the input
//                                       rows it adds prefetched, a part a filter row
//   loop 2 (r: filter rows)             skipped when its input row is outside the image
//     3 wide, stride 1, M = 1 (3x3):    the row's 3 taps at once where all are inside the image
//                                       (dw_bwf_tri_row: 3*DW_NT accumulators, each input
//                                       vector loaded once for the 3 taps), the edges tap by tap
//     else loop 3 (t: taps)             the columns q in [q0,q1) whose tap is inside the image
//   loop 4 (k0, step DW_CB, or DW_NT    accumulators in registers across the whole row
//           vectors on the 3-tap path)
//   loop 5 (q)                          input pixel and dout pixel, from L2; on the 3-tap path
//                                       asked for in L1 DW_PF_AHEAD pixels ahead
//   loop 6 (k in the block)             the vector loop
// Threads: over chunks; each chunk's partial is written by one thread, in a fixed order.
static inline void depthwise_backward_filter_loop(float *part, const float *dout, const float *inp,
                                                  int bias, int64_t rows, int64_t nchunks,
                                                  const conv2d_shape *sh)
{
    const int64_t K = sh->K, M = sh->K / sh->C, RS = sh->R * sh->S, NP = sh->N * sh->P;
    const int tri = sh->S == 3 && sh->stride_w == 1 && sh->dil_w == 1 && M == 1;
    const int prefetch = pyconv_past_l3((sh->N * sh->H * sh->W * sh->C + NP * sh->Q * K) * (int64_t)sizeof(float));
    #pragma omp parallel for schedule(dynamic, 1) num_threads(pyconv_num_threads()) if(nchunks > 1)
    for (int64_t ch = 0; ch < nchunks; ch++) {
        float *pf = part + ch * (RS * K + K), *pb = pf + RS * K;
        for (int64_t i = 0; i < RS * K + K; i++)
            pf[i] = 0.0f;
        const int64_t row1 = (ch + 1) * rows < NP ? (ch + 1) * rows : NP;
        for (int64_t row = ch * rows; row < row1; row++) {         // loop 1
            const int64_t n = row / sh->P, p = row % sh->P;
            const float *g = dout + row * sh->Q * K;
            /* the next output row's dout row and the input rows it adds: prefetched, a part a
             * filter row */
            const int64_t glen = prefetch && row + 1 < NP ? sh->Q * K : 0;
            int64_t xlen = 0;
            const float *xnext = prefetch ? dw_fwd_new_rows(inp, sh, row + 1, &xlen) : inp;
            for (int64_t r = 0; r < sh->R; r++) {                    // loop 2
                dw_prefetch_part(g + sh->Q * K, glen, r, sh->R);
                dw_prefetch_part(xnext, xlen, r, sh->R);
                const int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
                if (h < 0 || h >= sh->H)
                    continue;
                const float *xrow = inp + (n * sh->H + h) * sh->W * sh->C;
                if (tri) {
                    dw_bwf_tri_row(pf, xrow, g, sh, r);
                    continue;
                }
                for (int64_t t = 0; t < sh->S; t++) {                // loop 3
                    int64_t q0, q1;
                    dw_bwf_cols(sh, t, &q0, &q1);
                    dw_bwf_span(pf, xrow, g, sh, r, t, q0, q1);
                }
            }
            if (bias)
                dw_bias_row(pb, g, K, sh->Q);
        }
    }
}

/* The loops above compiled for AVX2 (depthwise_avx2.c), AVX-512 (depthwise_avx512.c) and
 * aarch64 (depthwise_neon.c). */
void depthwise_forward_avx2(float *out, const float *inp, const float *filt, const float *bias,
                            int relu, const conv2d_shape *sh, dw_tap *tapbuf);
void depthwise_forward_avx512(float *out, const float *inp, const float *filt, const float *bias,
                              int relu, const conv2d_shape *sh, dw_tap *tapbuf);
void depthwise_backward_input_avx2(float *dinp, const float *dout, const float *filt,
                                   const conv2d_shape *sh, dw_tap *tapbuf);
void depthwise_backward_input_avx512(float *dinp, const float *dout, const float *filt,
                                     const conv2d_shape *sh, dw_tap *tapbuf);
void depthwise_backward_filter_avx2(float *part, const float *dout, const float *inp, int bias,
                                    int64_t rows, int64_t nchunks, const conv2d_shape *sh);
void depthwise_backward_filter_avx512(float *part, const float *dout, const float *inp, int bias,
                                      int64_t rows, int64_t nchunks, const conv2d_shape *sh);
void depthwise_forward_neon(float *out, const float *inp, const float *filt, const float *bias,
                            int relu, const conv2d_shape *sh, dw_tap *tapbuf);
void depthwise_backward_input_neon(float *dinp, const float *dout, const float *filt,
                                   const conv2d_shape *sh, dw_tap *tapbuf);
void depthwise_backward_filter_neon(float *part, const float *dout, const float *inp, int bias,
                                    int64_t rows, int64_t nchunks, const conv2d_shape *sh);

#endif
