/* resample_loops.h -- the loop nests of resample.c's fast kernels (bilinear resize forward and
 * backward, the projective sampler forward and backward) and the per-pixel helpers they share
 * with the _ref twins, written once and compiled once per ISA (resample.c for the portable
 * build, resample_avx2.c, resample_avx512.c, resample_neon.c with their own flags). The channel
 * loop is innermost, unit stride, its lanes independent: the compiler vectorises it, 4 floats
 * wide in the portable build, 8 with AVX2, 16 with AVX-512. No FMA contraction on any ISA
 * (CMakeLists.txt), and every lane computes in TF's order, so the results are bitwise the same
 * everywhere. resample.c's opening comment lists the promises. */
#ifndef PYCONV_RESAMPLE_LOOPS_H
#define PYCONV_RESAMPLE_LOOPS_H

#include <math.h>
#include <string.h>
#include "pyconv.h"

/* Below this many output elements a parallel region costs more than it saves (as act.c). */
#define RESAMPLE_PAR_MIN 32768

typedef struct {
    int64_t lower, upper;
    float lerp;
} lerp_tap;

/* Whether two output rows read the same two input rows. */
static inline int same_rows(lerp_tap a, lerp_tap b) { return a.lower == b.lower && a.upper == b.upper; }

/* Whether output row p is the second of a pair of the forward's (below): the rows that read the
 * same two input rows are paired in order from the first of them, so p is a second when an odd
 * number of rows before it read the same two. */
static inline int bilinear_pair_second(const lerp_tap *ys, int64_t p)
{
    int64_t k = 0;
    while (p - k > 0 && same_rows(ys[p - k - 1], ys[p]))
        k++;
    return k % 2;
}

/* Output rows that read the same two input rows `top` and `bot` (each W*C), nrow <= 2 of them,
 * out + i*Q*C with vertical lerp ly[i]: out[q, c] = t + (b - t) * ly, t and b the horizontal
 * lerps of the two rows, computed once for both output rows (an upsampling by 2 pairs every
 * output row but the first and last with the next: 4 loads per 2 outputs instead of per 1). The
 * same operations in the same order for each output as one row at a time: the same bits. */
static inline void bilinear_rows(float *restrict out, const float *restrict top, const float *restrict bot,
                                 const lerp_tap *xs, const float *ly, int nrow, int64_t Q, int64_t C)
{
    for (int64_t q = 0; q < Q; q++) {
        const float *tl = top + xs[q].lower * C, *tr = top + xs[q].upper * C;
        const float *bl = bot + xs[q].lower * C, *br = bot + xs[q].upper * C;
        const float lx = xs[q].lerp;
        float *o = out + q * C;
        if (nrow == 2) {
            float *o2 = o + Q * C;
            const float ly0 = ly[0], ly1 = ly[1];
            for (int64_t c = 0; c < C; c++) {
                const float t = tl[c] + (tr[c] - tl[c]) * lx;
                const float b = bl[c] + (br[c] - bl[c]) * lx;
                const float d = b - t;
                o[c] = t + d * ly0;
                o2[c] = t + d * ly1;
            }
            continue;
        }
        for (int64_t c = 0; c < C; c++) {
            const float t = tl[c] + (tr[c] - tl[c]) * lx;
            const float b = bl[c] + (br[c] - bl[c]) * lx;
            o[c] = t + (b - t) * ly[0];
        }
    }
}

/* d out / d corner: (1 - ly)(1 - lx) for the top-left, ..., each product rounded once. */
static inline void bilinear_weights(float w[4], float ly, float lx)
{
    w[0] = (1.0f - ly) * (1.0f - lx);
    w[1] = (1.0f - ly) * lx;
    w[2] = ly * (1.0f - lx);
    w[3] = ly * lx;
}

/* Into one input row `d` (W*C): the contributions of output row `g` (Q*C) whose vertical
 * weights for this row are (wy_lo_used ? top : -) and (wy_hi_used ? bottom : -), in the order
 * the _ref scatter adds them: per q, top-left, top-right, bottom-left, bottom-right. */
static inline void bilinear_gather_row(float *restrict d, const float *restrict g, const lerp_tap *xs,
                                float ly, int top, int bot, int64_t Q, int64_t C)
{
    for (int64_t q = 0; q < Q; q++) {
        float w[4];
        bilinear_weights(w, ly, xs[q].lerp);
        float *dl = d + xs[q].lower * C, *dr = d + xs[q].upper * C;
        const float *gq = g + q * C;
        if (top) {
            for (int64_t c = 0; c < C; c++)
                dl[c] += w[0] * gq[c];
            for (int64_t c = 0; c < C; c++)
                dr[c] += w[1] * gq[c];
        }
        if (bot) {
            for (int64_t c = 0; c < C; c++)
                dl[c] += w[2] * gq[c];
            for (int64_t c = 0; c < C; c++)
                dr[c] += w[3] * gq[c];
        }
    }
}

/* TF's MapCoordinate for each fill mode, float32 in TF's order (reflect's `in < sz2` test is
 * TF's, always true for a negative coordinate: kept, so that the results are TF's). */
static inline float map_coordinate(float in, int64_t len, int mode)
{
    switch (mode) {
    case PYCONV_FILL_REFLECT:
        if (in < 0) {
            if (len <= 1) {
                in = 0;
            } else {
                const int64_t sz2 = 2 * len;
                if (in < (float)sz2)
                    in = (float)(sz2 * (int64_t)(-in / (float)sz2)) + in;
                in = (in < (float)-len) ? in + (float)sz2 : -in - 1.0f;
            }
        } else if (in > (float)(len - 1)) {
            if (len <= 1) {
                in = 0;
            } else {
                const int64_t sz2 = 2 * len;
                in -= (float)(sz2 * (int64_t)(in / (float)sz2));
                if (in >= (float)len)
                    in = (float)sz2 - in - 1.0f;
            }
        }
        break;
    case PYCONV_FILL_WRAP:
        if (in < 0) {
            if (len <= 1) {
                in = 0;
            } else {
                const int64_t sz = len - 1;
                in += (float)(len * ((int64_t)(-in / (float)sz) + 1));
            }
        } else if (in > (float)(len - 1)) {
            if (len <= 1) {
                in = 0;
            } else {
                const int64_t sz = len - 1;
                in -= (float)(len * (int64_t)(in / (float)sz));
            }
        }
        break;
    case PYCONV_FILL_CONSTANT:
        return in;
    default:   /* PYCONV_FILL_NEAREST: the clamp below */
        break;
    }
    /* Eigen's scalar_clamp_op: min(max(in, 0), len - 1) */
    const float hi = (float)(len - 1);
    in = in > 0.0f ? in : 0.0f;
    return in < hi ? in : hi;
}

/* floorf and roundf (half away from zero), exact, inlined: without SSE4.1 in the baseline ISA
 * the libm calls cost more than the rest of a pixel's coordinate work. A float of magnitude
 * >= 2^23 (or NaN) is its own floor; below, the int32 truncation is exact. floor(-0.0) is
 * -0.0, as floorf's. */
static inline float floor_exact(float x)
{
    if (!(fabsf(x) < 8388608.0f))
        return x;
    const float t = (float)(int32_t)x;
    if (t == 0.0f)
        return x < 0.0f ? -1.0f : (x == 0.0f ? x : 0.0f);
    return t > x ? t - 1.0f : t;
}

static inline int64_t round_exact(float x)
{
    if (!(fabsf(x) < 8388608.0f))
        return (int64_t)x;
    const int32_t t = (int32_t)x;
    const float d = x - (float)t;   /* exact: |x| < 2^23 */
    return (int64_t)t + (d >= 0.5f) - (d <= -0.5f);
}

/* The offset of pixel (y, x) of an H x W image, or -1 (the fill value) outside it. */
static inline int64_t pixel_offset(int64_t y, int64_t x, int64_t H, int64_t W)
{
    return (y >= 0 && y < H && x >= 0 && x < W) ? y * W + x : -1;
}

/* Where output pixel (p, q) reads: up to 4 corner offsets into the image (in pixels; -1: the
 * fill value) and the weights TF multiplies them by. Returns 0 when the whole pixel is the
 * fill value (k == 0, as TF; or a NaN coordinate, where TF reads undefined corners). */
typedef struct {
    int64_t off[4];           /* tl, tr, bl, br (bilinear); off[0] only (nearest) */
    float wx0, wx1, wy0, wy1; /* x_ceil - x, x - x_floor, y_ceil - y, y - y_floor */
} sample_taps;

static inline int affine_taps(sample_taps *s, const float *t, int64_t p, int64_t q, int64_t H, int64_t W,
                       int interp, int mode)
{
    const float fq = (float)q, fp = (float)p;
    const float k = t[6] * fq + t[7] * fp + 1.0f;
    if (k == 0.0f)
        return 0;
    float xr = (t[0] * fq + t[1] * fp + t[2]) / k, yr = (t[3] * fq + t[4] * fp + t[5]) / k;
    if (xr != xr || yr != yr)
        return 0;   /* NaN: no pixel to read */
    /* Far outside any image (|coordinate| > 2^40): clamped, so that the fill modes' integer
     * casts stay defined; the mapped point is the same as TF's for every coordinate TF can
     * cast. */
    const float far = 1099511627776.0f;
    xr = xr < -far ? -far : (xr > far ? far : xr);
    yr = yr < -far ? -far : (yr > far ? far : yr);
    const float x = map_coordinate(xr, W, mode);
    const float y = map_coordinate(yr, H, mode);
    /* Only constant mode leaves a point outside the image: its corners outside read the fill
     * value (TF's read_with_fill_value), blended by the same weights. */
    if (interp == PYCONV_INTERP_NEAREST) {
        s->off[0] = pixel_offset(round_exact(y), round_exact(x), H, W);
        s->off[1] = s->off[2] = s->off[3] = -1;
        s->wx0 = s->wy0 = 1.0f;   /* unused by nearest; set so that no field is undefined */
        s->wx1 = s->wy1 = 0.0f;
        return 1;
    }
    const float yf = floor_exact(y), xf = floor_exact(x), yc = yf + 1.0f, xc = xf + 1.0f;
    const int64_t y0 = (int64_t)yf, x0 = (int64_t)xf, y1 = (int64_t)yc, x1 = (int64_t)xc;
    s->off[0] = pixel_offset(y0, x0, H, W);
    s->off[1] = pixel_offset(y0, x1, H, W);
    s->off[2] = pixel_offset(y1, x0, H, W);
    s->off[3] = pixel_offset(y1, x1, H, W);
    s->wx0 = xc - x;
    s->wx1 = x - xf;
    s->wy0 = yc - y;
    s->wy1 = y - yf;
    return 1;
}

/* The weight of each corner in the output: (y weight) * (x weight), rounded once. */
static inline int corner_weights(float w[4], const sample_taps *s, int interp)
{
    if (interp == PYCONV_INTERP_NEAREST) {
        w[0] = 1.0f;
        return 1;
    }
    w[0] = s->wy0 * s->wx0;
    w[1] = s->wy0 * s->wx1;
    w[2] = s->wy1 * s->wx0;
    w[3] = s->wy1 * s->wx1;
    return 4;
}

// The loop nest of resize_bilinear_forward (tables made, sizes checked there). Plain stores
// even past L3: streamed through a row buffer, it measured 25-30% slower on one thread on Zen 1,
// and again with the row pairs below on Zen 4 (0.70-0.82x for UpSampling2D(2) of 32x28x28x64,
// 1 and 2 threads; the nearest resize, a pure copy, gains 30-45%; docs/benchmarks.md 3.5, 3.7).
//   loop 1 (n,p: output rows)   parallel; rows that read the same two input rows go in pairs
//                               (bilinear_rows), the second done in the first's iteration
//                               (bilinear_pair_second: nothing left to do in its own)
//   loop 2 (q)                  output pixels, the horizontal lerps of the two rows
//   loop 3 (c)                  channels, the vector loop
// Threads: over N*P output rows; each output row written by one thread.
static inline void resample_bilinear_forward_loop(float *out, const float *inp, const lerp_tap *ys,
                                                  const lerp_tap *xs, int64_t N, int64_t H, int64_t W,
                                                  int64_t C, int64_t P, int64_t Q)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C > RESAMPLE_PAR_MIN)
    for (int64_t np = 0; np < N * P; np++) {   /* loop 1: output rows */
        const int64_t n = np / P, p = np % P;
        if (bilinear_pair_second(ys, p))
            continue;   /* done with the row before */
        const int nrow = p + 1 < P && same_rows(ys[p + 1], ys[p]) ? 2 : 1;
        const float ly[2] = {ys[p].lerp, nrow == 2 ? ys[p + 1].lerp : 0.0f};
        const float *img = inp + n * H * W * C;
        bilinear_rows(out + np * Q * C, img + ys[p].lower * W * C, img + ys[p].upper * W * C,
                      xs, ly, nrow, Q, C);
    }
}

/* Output row g (Q*C), whose vertical tap is ty, scattered into its two input rows of one
 * image `img` (H*W*C): per q, top-left, top-right, bottom-left, bottom-right, as the _ref. */
static inline void bilinear_scatter_row(float *img, const float *g, lerp_tap ty, const lerp_tap *xs,
                                        int64_t W, int64_t Q, int64_t C)
{
    float *top = img + ty.lower * W * C, *bot = img + ty.upper * W * C;
    for (int64_t q = 0; q < Q; q++) {
        float w[4];
        bilinear_weights(w, ty.lerp, xs[q].lerp);
        float *d[4] = {top + xs[q].lower * C, top + xs[q].upper * C, bot + xs[q].lower * C,
                       bot + xs[q].upper * C};
        const float *gq = g + q * C;
        for (int k = 0; k < 4; k++)
            for (int64_t c = 0; c < C; c++)
                d[k][c] += w[k] * gq[c];
    }
}

// The loop nest of resize_bilinear_backward (dinp zeroed here, an image or row just before it
// is added into, while it is in cache). Two orders with the same bits
// (each element's contributions added in output order, as the _ref scatter adds them):
//   at least as many images as threads: loop 1 over images, one thread each; loop 2 over the
//     output rows, each read once and scattered into its two input rows (the image's gradient
//     stays in cache);
//   fewer: loop 1 over the N*H input rows, each gathering the output rows that read it (an
//     output row is read twice, but every thread has work).
static inline void resample_bilinear_backward_loop(float *dinp, const float *dout, const lerp_tap *ys,
                                                   const lerp_tap *xs, int64_t N, int64_t H, int64_t W,
                                                   int64_t C, int64_t P, int64_t Q)
{
    const int nt = pyconv_num_threads();
    if (N >= nt) {
        #pragma omp parallel for schedule(static) num_threads(nt) if(N * P * Q * C > RESAMPLE_PAR_MIN)
        for (int64_t n = 0; n < N; n++) {          /* loop 1: images */
            memset(dinp + n * H * W * C, 0, (size_t)(H * W * C) * sizeof(float));
            for (int64_t p = 0; p < P; p++)        /* loop 2: output rows, in order */
                bilinear_scatter_row(dinp + n * H * W * C, dout + (n * P + p) * Q * C, ys[p], xs, W, Q, C);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(nt) if(N * P * Q * C > RESAMPLE_PAR_MIN)
    for (int64_t nh = 0; nh < N * H; nh++) {   /* loop 1: input rows */
        const int64_t n = nh / H, h = nh % H;
        memset(dinp + nh * W * C, 0, (size_t)(W * C) * sizeof(float));
        /* ys[p].lower and .upper grow with p: the rows that read h are one run of p. */
        for (int64_t p = 0; p < P; p++) {
            const int top = ys[p].lower == h, bot = ys[p].upper == h;
            if (top || bot)
                bilinear_gather_row(dinp + nh * W * C, dout + (n * P + p) * Q * C, xs, ys[p].lerp,
                                    top, bot, Q, C);
            else if (ys[p].lower > h)
                break;
        }
    }
}

// The loop nest of affine_sample_forward; fill: C copies of the fill value.
// Threads: over N*P output rows; each output row written by one thread.
static inline void resample_affine_forward_loop(float *out, const float *inp, const float *fill,
                                                const float *transforms, int64_t T, int64_t N,
                                                int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                                                int interp, int fill_mode)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C > RESAMPLE_PAR_MIN / 2)
    for (int64_t np = 0; np < N * P; np++) {   /* loop 1: output rows */
        const int64_t n = np / P, p = np % P;
        const float *img = inp + n * H * W * C, *t = transforms + (T == 1 ? 0 : n) * 8;
        for (int64_t q = 0; q < Q; q++) {      /* loop 2: output pixels */
            float *restrict o = out + (np * Q + q) * C;
            sample_taps s;
            if (!affine_taps(&s, t, p, q, H, W, interp, fill_mode)) {
                memcpy(o, fill, (size_t)C * sizeof(float));
                continue;
            }
            const float *v[4];
            for (int k = 0; k < (interp == PYCONV_INTERP_NEAREST ? 1 : 4); k++)
                v[k] = s.off[k] >= 0 ? img + s.off[k] * C : fill;
            if (interp == PYCONV_INTERP_NEAREST) {
                memcpy(o, v[0], (size_t)C * sizeof(float));
                continue;
            }
            for (int64_t c = 0; c < C; c++) {  /* loop 3: channels, the weights fixed */
                const float top = s.wx0 * v[0][c] + s.wx1 * v[1][c];
                const float bot = s.wx0 * v[2][c] + s.wx1 * v[3][c];
                o[c] = s.wy0 * top + s.wy1 * bot;
            }
        }
    }
}

// The loop nest of affine_sample_backward (dinp zeroed here, image by image).
// Threads: over N images; each image's dinp written by one thread, in output order.
static inline void resample_affine_backward_loop(float *dinp, const float *dout, const float *transforms,
                                                 int64_t T, int64_t N, int64_t H, int64_t W, int64_t C,
                                                 int64_t P, int64_t Q, int interp, int fill_mode)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N > 1 && N * P * Q * C > RESAMPLE_PAR_MIN / 2)
    for (int64_t n = 0; n < N; n++) {          /* loop 1: images */
        float *img = dinp + n * H * W * C;
        const float *t = transforms + (T == 1 ? 0 : n) * 8;
        memset(img, 0, (size_t)(H * W * C) * sizeof(float));   /* in cache, before the adds */
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++) {  /* loop 2: output pixels, in order */
                sample_taps s;
                if (!affine_taps(&s, t, p, q, H, W, interp, fill_mode))
                    continue;
                float w[4];
                const int nk = corner_weights(w, &s, interp);
                const float *restrict g = dout + ((n * P + p) * Q + q) * C;
                for (int k = 0; k < nk; k++) {
                    if (s.off[k] < 0)
                        continue;
                    float *restrict d = img + s.off[k] * C;
                    for (int64_t c = 0; c < C; c++)   /* loop 3: channels */
                        d[c] += w[k] * g[c];
                }
            }
    }
}

/* The nearest resize's input gradient for one input row d (W*C floats, overwritten): the sum of
 * the nrow output rows from g (Q*C floats each) that copied it, output pixel q of each added into
 * input pixel xs[q], in output order -- the _ref's order. Additions only: the same bits on every
 * ISA. */
static inline void resample_nearest_backward_row_loop(float *restrict d, const float *restrict g,
                                                      int64_t nrow, const int64_t *xs, int64_t W,
                                                      int64_t C, int64_t Q)
{
    memset(d, 0, (size_t)(W * C) * sizeof(float));
    for (int64_t p = 0; p < nrow; p++, g += Q * C)   /* loop 1: the output rows, in order */
        for (int64_t q = 0; q < Q; q++) {             /* loop 2: their pixels */
            float *restrict dq = d + xs[q] * C;
            const float *restrict gq = g + q * C;
            for (int64_t c = 0; c < C; c++)           /* loop 3: channels */
                dq[c] += gq[c];
        }
}

/* The loops above compiled per ISA (resample_avx2.c, resample_avx512.c, resample_neon.c). */
void resample_bilinear_forward_avx2(float *out, const float *inp, const lerp_tap *ys, const lerp_tap *xs,
                                    int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q);
void resample_bilinear_backward_avx2(float *dinp, const float *dout, const lerp_tap *ys, const lerp_tap *xs,
                                     int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q);
void resample_affine_forward_avx2(float *out, const float *inp, const float *fill, const float *transforms,
                                  int64_t T, int64_t N, int64_t H, int64_t W, int64_t C, int64_t P,
                                  int64_t Q, int interp, int fill_mode);
void resample_affine_backward_avx2(float *dinp, const float *dout, const float *transforms, int64_t T,
                                   int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                                   int interp, int fill_mode);
void resample_nearest_backward_row_avx2(float *d, const float *g, int64_t nrow, const int64_t *xs,
                                      int64_t W, int64_t C, int64_t Q);
void resample_bilinear_forward_avx512(float *out, const float *inp, const lerp_tap *ys, const lerp_tap *xs,
                                      int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q);
void resample_bilinear_backward_avx512(float *dinp, const float *dout, const lerp_tap *ys, const lerp_tap *xs,
                                       int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q);
void resample_affine_forward_avx512(float *out, const float *inp, const float *fill, const float *transforms,
                                    int64_t T, int64_t N, int64_t H, int64_t W, int64_t C, int64_t P,
                                    int64_t Q, int interp, int fill_mode);
void resample_affine_backward_avx512(float *dinp, const float *dout, const float *transforms, int64_t T,
                                     int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                                     int interp, int fill_mode);
void resample_nearest_backward_row_avx512(float *d, const float *g, int64_t nrow, const int64_t *xs,
                                      int64_t W, int64_t C, int64_t Q);
void resample_bilinear_forward_neon(float *out, const float *inp, const lerp_tap *ys, const lerp_tap *xs,
                                    int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q);
void resample_bilinear_backward_neon(float *dinp, const float *dout, const lerp_tap *ys, const lerp_tap *xs,
                                     int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q);
void resample_affine_forward_neon(float *out, const float *inp, const float *fill, const float *transforms,
                                  int64_t T, int64_t N, int64_t H, int64_t W, int64_t C, int64_t P,
                                  int64_t Q, int interp, int fill_mode);
void resample_affine_backward_neon(float *dinp, const float *dout, const float *transforms, int64_t T,
                                   int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                                   int interp, int fill_mode);
void resample_nearest_backward_row_neon(float *d, const float *g, int64_t nrow, const int64_t *xs,
                                      int64_t W, int64_t C, int64_t Q);

#endif /* PYCONV_RESAMPLE_LOOPS_H */
