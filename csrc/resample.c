/* resample.c -- image resampling, NHWC: resize (bilinear, nearest) and the per-image projective
 * sampler behind the augmentation layers, with their backward passes.
 *
 * What it promises:
 *   - resize_bilinear_*: TensorFlow's ResizeBilinear with half_pixel_centers=True (what
 *     tf.image.resize and so Keras 3's Resizing and UpSampling2D(interpolation="bilinear") run):
 *     source coordinate in = (o + 0.5f) * (in_size / (float)out_size) - 0.5f, lower =
 *     max(floor(in), 0), upper = min(ceil(in), in_size - 1), lerp = in - floor(in), and
 *     out = top + (bottom - top) * ly with top = tl + (tr - tl) * lx, all in float32 in TF's
 *     order: the forward is bitwise TF's. Same size in and out is a copy (as in TF).
 *   - resize_nearest_*: ResizeNearestNeighbor, half_pixel_centers=True, align_corners=False:
 *     in = min(floor((o + 0.5f) * scale), in_size - 1), at least 0.
 *   - affine_sample_*: ImageProjectiveTransformV3 (keras.ops.image.affine_transform): for each
 *     output pixel (p, q) of image n, with the 8 numbers t of that image's transform (one row
 *     shared by all images when T = 1), k = t6*q + t7*p + 1 (k == 0: the fill value),
 *     x = (t0*q + t1*p + t2) / k, y = (t3*q + t4*p + t5) / k, mapped into the image by the fill
 *     mode (reflect, wrap, nearest: TF's formulas, quirks included; constant: unchanged), then
 *     read by round-half-away (nearest) or by bilinear weights (x_ceil - x, x - x_floor) in
 *     TF's order, a corner outside the image reading the fill value (so constant mode blends
 *     the fill value in along the border, as TF 2.21 does).
 *   - Backward passes are the transposes of the forwards (the gradient of the sum of dout times
 *     the output with respect to the input; the fill value is a constant): the weights each
 *     input pixel received in the forward, scattered back. dinp is OVERWRITTEN.
 *   - Threads: forwards over N*P output rows (each output row written by one thread).
 *     The bilinear resize backward scatters per image (over N, when there are at least as many
 *     images as threads) or gathers per input row (over N*H rows otherwise); either way each
 *     element's contributions are added in output order, so any thread count gives the same
 *     bits as the _ref scatter. The nearest one gathers per input row. affine_sample_backward
 *     scatters within one image per thread (over N): an output row can reach any input row, so
 *     images are the unit that cannot overlap.
 *   - Vectorized over channels: the innermost loop runs over C contiguous floats with the
 *     weights fixed; a corner that reads the fill value reads a row of C fill values, so the
 *     loop has no branch. The bilinear and projective loop nests live in resample_loops.h,
 *     compiled once per ISA (here portable; resample_avx2.c, _avx512.c, _neon.c) and chosen at
 *     run time, bitwise the same on every ISA (no FMA contraction, TF's order in every lane).
 *     Nearest resize is a row of copies (past L3, non-temporal stores from an L1 buffer):
 *     portable only; its backward's row sums are resample_loops.h's.
 *   - The _ref twins are the definitions: one output element at a time, serial. Forwards and
 *     resize backwards are bitwise the fast ones; affine_sample_backward too (same order).
 *   - Only the fill row and the coordinate tables are allocated: PYCONV_ENOMEM, nothing
 *     written. Nothing prints, exits or aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "resample_loops.h"
#include "target.h"
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define RESAMPLE_STREAM 1   /* x86-64: SSE's non-temporal store is in the baseline ISA */
#else
#define RESAMPLE_STREAM 0
#endif

/* ---- the loops of resample_loops.h, compiled for the ISA in use ------------------------------ */

static void bilinear_forward_generic(float *out, const float *inp, const lerp_tap *ys, const lerp_tap *xs,
                                     int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q)
{
    resample_bilinear_forward_loop(out, inp, ys, xs, N, H, W, C, P, Q);
}

static void bilinear_backward_generic(float *dinp, const float *dout, const lerp_tap *ys,
                                      const lerp_tap *xs, int64_t N, int64_t H, int64_t W, int64_t C,
                                      int64_t P, int64_t Q)
{
    resample_bilinear_backward_loop(dinp, dout, ys, xs, N, H, W, C, P, Q);
}

static void affine_forward_generic(float *out, const float *inp, const float *fill, const float *transforms,
                                   int64_t T, int64_t N, int64_t H, int64_t W, int64_t C, int64_t P,
                                   int64_t Q, int interp, int fill_mode)
{
    resample_affine_forward_loop(out, inp, fill, transforms, T, N, H, W, C, P, Q, interp, fill_mode);
}

static void affine_backward_generic(float *dinp, const float *dout, const float *transforms, int64_t T,
                                    int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                                    int interp, int fill_mode)
{
    resample_affine_backward_loop(dinp, dout, transforms, T, N, H, W, C, P, Q, interp, fill_mode);
}

static void nearest_backward_row_generic(float *d, const float *g, int64_t nrow, const int64_t *xs,
                                         int64_t W, int64_t C, int64_t Q)
{
    resample_nearest_backward_row_loop(d, g, nrow, xs, W, C, Q);
}

/* A bilinear resize loop, forward or backward: dst from src through the row and column taps. */
typedef void bilinear_loop(float *dst, const float *src, const lerp_tap *ys, const lerp_tap *xs,
                           int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q);

typedef struct {
    bilinear_loop *bilinear_forward;
    bilinear_loop *bilinear_backward;
    void (*affine_forward)(float *, const float *, const float *, const float *, int64_t, int64_t,
                           int64_t, int64_t, int64_t, int64_t, int64_t, int, int);
    void (*affine_backward)(float *, const float *, const float *, int64_t, int64_t, int64_t,
                            int64_t, int64_t, int64_t, int64_t, int, int);
    void (*nearest_backward_row)(float *, const float *, int64_t, const int64_t *, int64_t, int64_t,
                                 int64_t);
} resample_loops;

static resample_loops isa_loops(void)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(return (resample_loops){resample_bilinear_forward_avx512, resample_bilinear_backward_avx512,
                                             resample_affine_forward_avx512, resample_affine_backward_avx512,
                                             resample_nearest_backward_row_avx512};)
    PYCONV_ON_AVX2(return (resample_loops){resample_bilinear_forward_avx2, resample_bilinear_backward_avx2,
                                           resample_affine_forward_avx2, resample_affine_backward_avx2,
                                           resample_nearest_backward_row_avx2};)
    PYCONV_ON_NEON(return (resample_loops){resample_bilinear_forward_neon, resample_bilinear_backward_neon,
                                           resample_affine_forward_neon, resample_affine_backward_neon,
                                           resample_nearest_backward_row_neon};)
    default:
        return (resample_loops){bilinear_forward_generic, bilinear_backward_generic,
                                affine_forward_generic, affine_backward_generic,
                                nearest_backward_row_generic};
    }
}

/* ---- coordinate tables (resize) ------------------------------------------------------------ */

/* TF's CalculateResizeScale (align_corners=False): a float division of the sizes. */
static float resize_scale(int64_t in_size, int64_t out_size)
{
    return (float)in_size / (float)out_size;
}

/* TF's compute_interpolation_weights with the HalfPixelScaler, for output index i. */
static lerp_tap bilinear_tap(int64_t i, int64_t out_size, int64_t in_size)
{
    const float in = ((float)i + 0.5f) * resize_scale(in_size, out_size) - 0.5f;
    const float in_f = floorf(in);
    const int64_t lo = (int64_t)in_f, hi = (int64_t)ceilf(in);
    return (lerp_tap){lo > 0 ? lo : 0, hi < in_size - 1 ? hi : in_size - 1, in - in_f};
}

/* The taps of every output row (P) and column (Q), in one allocation: ys, then xs = ys + P.
 * NULL when it cannot be allocated. */
static lerp_tap *bilinear_tables(int64_t P, int64_t H, int64_t Q, int64_t W)
{
    lerp_tap *ys = pyconv_scratch_alloc((size_t)(P + Q) * sizeof(lerp_tap));
    if (!ys)
        return NULL;
    for (int64_t p = 0; p < P; p++)
        ys[p] = bilinear_tap(p, P, H);
    for (int64_t q = 0; q < Q; q++)
        ys[P + q] = bilinear_tap(q, Q, W);
    return ys;
}

/* ResizeNearestNeighbor's source index (HalfPixelScalerForNN, then floor, clamped). */
static int64_t nearest_index(int64_t o, int64_t out_size, int64_t in_size)
{
    const float scale = resize_scale(in_size, out_size);
    int64_t i = (int64_t)floorf(((float)o + 0.5f) * scale);
    if (i > in_size - 1)
        i = in_size - 1;
    return i < 0 ? 0 : i;
}

/* The source row of every output row (P) and column (Q): ys, then xs = ys + P, then H + 1 more
 * entries for the caller's runs (nearest_runs); or NULL. */
static int64_t *nearest_tables(int64_t P, int64_t H, int64_t Q, int64_t W)
{
    int64_t *ys = pyconv_scratch_alloc((size_t)(P + Q + H + 1) * sizeof(int64_t));
    if (!ys)
        return NULL;
    for (int64_t p = 0; p < P; p++)
        ys[p] = nearest_index(p, P, H);
    for (int64_t q = 0; q < Q; q++)
        ys[P + q] = nearest_index(q, Q, W);
    return ys;
}

/* Run `loop` (a bilinear forward or backward, for the ISA in use) over the taps of every output
 * row and column; PYCONV_ENOMEM if the tables cannot be allocated. */
static int run_bilinear(bilinear_loop *loop, float *dst, const float *src, int64_t N, int64_t H,
                        int64_t W, int64_t C, int64_t P, int64_t Q)
{
    lerp_tap *ys = bilinear_tables(P, H, Q, W);
    if (!ys)
        return PYCONV_ENOMEM;
    loop(dst, src, ys, ys + P, N, H, W, C, P, Q);
    pyconv_scratch_free(ys);
    return PYCONV_OK;
}

/* A backward's first step: 0 when nothing is left to do -- no input element, or no output pixel
 * to send it anything (then dinp is zeroed here). The loops zero dinp themselves otherwise,
 * each part just before adding into it, while it is in cache. */
static int backward_start(float *dinp, int64_t N, int64_t H, int64_t W, int64_t C, int64_t P,
                          int64_t Q)
{
    if (N * H * W * C == 0)
        return 0;
    if (P * Q == 0)
        memset(dinp, 0, (size_t)(N * H * W * C) * sizeof(float));
    return P * Q > 0;
}

/* ---- resize, bilinear ------------------------------------------------------------------------ */

// inp (N,H,W,C), out (N,P,Q,C), overwritten.
// Threads: over N*P output rows; each output row written by one thread.
int resize_bilinear_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                            int64_t C, int64_t P, int64_t Q)
{
    if (N * P * Q * C == 0)
        return PYCONV_OK;
    if (P == H && Q == W) {   /* TF copies: the half-pixel rule would give the same values */
        memcpy(out, inp, (size_t)(N * H * W * C) * sizeof(float));
        return PYCONV_OK;
    }
    return run_bilinear(isa_loops().bilinear_forward, out, inp, N, H, W, C, P, Q);
}

// As resize_bilinear_forward: the definition, one element at a time.
int resize_bilinear_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                                int64_t C, int64_t P, int64_t Q)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    const float *img = inp + n * H * W * C;
                    float *o = out + ((n * P + p) * Q + q) * C + c;
                    if (P == H && Q == W) {
                        *o = img[(p * W + q) * C + c];
                        continue;
                    }
                    const lerp_tap ty = bilinear_tap(p, P, H), tx = bilinear_tap(q, Q, W);
                    const float tl = img[(ty.lower * W + tx.lower) * C + c];
                    const float tr = img[(ty.lower * W + tx.upper) * C + c];
                    const float bl = img[(ty.upper * W + tx.lower) * C + c];
                    const float br = img[(ty.upper * W + tx.upper) * C + c];
                    const float t = tl + (tr - tl) * tx.lerp, b = bl + (br - bl) * tx.lerp;
                    *o = t + (b - t) * ty.lerp;
                }
    return PYCONV_OK;
}

// dout (N,P,Q,C), dinp (N,H,W,C), overwritten: the transpose of resize_bilinear_forward.
// Threads: over N*H input rows; each gathers the output rows that read it (in output order).
int resize_bilinear_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                             int64_t C, int64_t P, int64_t Q)
{
    if (!backward_start(dinp, N, H, W, C, P, Q))   /* zeroes dinp only when P * Q == 0 */
        return PYCONV_OK;
    if (P == H && Q == W) {
        memcpy(dinp, dout, (size_t)(N * H * W * C) * sizeof(float));
        return PYCONV_OK;
    }
    /* The loop zeroes each image (or row) itself, just before adding into it: in cache. */
    return run_bilinear(isa_loops().bilinear_backward, dinp, dout, N, H, W, C, P, Q);
}

// As resize_bilinear_backward: the definition, a serial scatter of each output element.
int resize_bilinear_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                                 int64_t C, int64_t P, int64_t Q)
{
    memset(dinp, 0, (size_t)(N * H * W * C) * sizeof(float));
    if (P == H && Q == W) {
        for (int64_t i = 0; i < N * H * W * C; i++)
            dinp[i] = dout[i];
        return PYCONV_OK;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++) {
                const lerp_tap ty = bilinear_tap(p, P, H), tx = bilinear_tap(q, Q, W);
                float w[4];
                bilinear_weights(w, ty.lerp, tx.lerp);
                const int64_t corner[4] = {ty.lower * W + tx.lower, ty.lower * W + tx.upper,
                                           ty.upper * W + tx.lower, ty.upper * W + tx.upper};
                for (int64_t c = 0; c < C; c++)
                    for (int k = 0; k < 4; k++)
                        dinp[(n * H * W + corner[k]) * C + c] += w[k] * dout[((n * P + p) * Q + q) * C + c];
            }
    return PYCONV_OK;
}

/* ---- resize, nearest ------------------------------------------------------------------------- */

/* A streamed output row goes through a buffer of this many floats (16 KiB: in L1) on each
 * thread's stack, a part of the row at a time. */
#define RESAMPLE_ROW_BUF 4096

/* Whether to stream an output of `floats` floats with `C` channels a pixel: larger than L3
 * (pyconv_stream_min_bytes), on a target with non-temporal stores, and a pixel fits the
 * buffer. Writing 2x-upsampled rows with plain stores reads every output line in first: 9
 * bytes moved per input byte instead of 5 (docs/benchmarks.md: 1.4x the time). */
static inline int resample_stream(int64_t floats, int64_t C)
{
    return RESAMPLE_STREAM && C <= RESAMPLE_ROW_BUF
           && floats * (int64_t)sizeof(float) > pyconv_stream_min_bytes();
}

/* dst[0..n) = src[0..n) by non-temporal stores (16-byte aligned; the unaligned head and the
 * tail stored plainly), then a store fence: the row is in memory, for any thread, when the call
 * returns. memcpy where the target has no such store. */
static inline void stream_floats(float *restrict dst, const float *restrict src, int64_t n)
{
#if RESAMPLE_STREAM
    int64_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 15); i++)
        dst[i] = src[i];
    for (; i + 4 <= n; i += 4)
        _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
    for (; i < n; i++)
        dst[i] = src[i];
    _mm_sfence();
#else
    memcpy(dst, src, (size_t)n * sizeof(float));
#endif
}

/* The output rows that copy input row h: [run[h], run[h + 1]) (ys is monotone); run has H + 1
 * entries. Empty for an input row no output row reads (a downscale). */
static void nearest_runs(int64_t *run, const int64_t *ys, int64_t P, int64_t H)
{
    int64_t p = 0;
    for (int64_t h = 0; h <= H; h++) {
        while (p < P && ys[p] < h)
            p++;
        run[h] = p;
    }
}

/* dst[0..n) = src[0..n): memcpy for a run long enough to pay for the call, else a loop. */
static inline void copy_floats(float *restrict dst, const float *restrict src, int64_t n)
{
    if (n >= 16) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; i++)
        dst[i] = src[i];
}

// inp (N,H,W,C), out (N,P,Q,C), overwritten.
// Threads: over N*H input rows; each writes the run of output rows that copy it. The first
// row of a run is gathered pixel by pixel, the others are one memcpy of it (UpSampling2D's
// factor 2 copies each row twice: half the rows cost one long copy). An output larger than
// L3 is gathered a part of a row at a time into L1 and streamed to every row of the run.
int resize_nearest_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                           int64_t C, int64_t P, int64_t Q)
{
    if (N * P * Q * C == 0)
        return PYCONV_OK;
    int64_t *ys = nearest_tables(P, H, Q, W);
    if (!ys)
        return PYCONV_ENOMEM;
    const int64_t *xs = ys + P, *run = xs + Q;
    nearest_runs(ys + P + Q, ys, P, H);
    const size_t row_bytes = (size_t)(Q * C) * sizeof(float);
    const int stream = resample_stream(N * P * Q * C, C);
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C > RESAMPLE_PAR_MIN)
    for (int64_t nh = 0; nh < N * H; nh++) {   /* loop 1: input rows */
        const int64_t n = nh / H, h = nh % H;
        if (run[h] == run[h + 1])
            continue;
        const float *src = inp + nh * W * C;
        float *first = out + (n * P + run[h]) * Q * C;
        if (!stream) {
            for (int64_t q = 0; q < Q; q++)    /* loop 2: the first output row, by pixel */
                copy_floats(first + q * C, src + xs[q] * C, C);
            for (int64_t p = run[h] + 1; p < run[h + 1]; p++)   /* loop 3: the copies of it */
                memcpy(out + (n * P + p) * Q * C, first, row_bytes);
            continue;
        }
        float buf[RESAMPLE_ROW_BUF];
        const int64_t step = RESAMPLE_ROW_BUF / C;
        for (int64_t q0 = 0; q0 < Q; q0 += step) {   /* loop 2: parts of the rows, via L1 */
            const int64_t nq = Q - q0 < step ? Q - q0 : step;
            for (int64_t q = 0; q < nq; q++)
                copy_floats(buf + q * C, src + xs[q0 + q] * C, C);
            for (int64_t p = run[h]; p < run[h + 1]; p++)   /* loop 3: streamed to each row */
                stream_floats(out + ((n * P + p) * Q + q0) * C, buf, nq * C);
        }
    }
    pyconv_scratch_free(ys);
    return PYCONV_OK;
}

// As resize_nearest_forward: the definition.
int resize_nearest_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                               int64_t C, int64_t P, int64_t Q)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++)
                    out[((n * P + p) * Q + q) * C + c] =
                        inp[((n * H + nearest_index(p, P, H)) * W + nearest_index(q, Q, W)) * C + c];
    return PYCONV_OK;
}

// dout (N,P,Q,C), dinp (N,H,W,C), overwritten: each input pixel gets the sum of the outputs
// that copied it. Threads: over N*H input rows, each zeroed (in cache, not in a pass over
// dinp of its own) and then gathering its run of output rows in order: the _ref's bits (the
// row's loops are resample_loops.h's, vectorised for the ISA in use).
// A pass past the L3 (dout and dinp together) sums each row in a buffer on the stack and
// streams it out, so that no line of dinp is read in only to be overwritten (resample_stream).
int resize_nearest_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                            int64_t C, int64_t P, int64_t Q)
{
    if (N * H * W * C == 0)
        return PYCONV_OK;
    int64_t *ys = nearest_tables(P, H, Q, W);
    if (!ys)
        return PYCONV_ENOMEM;
    const int64_t *xs = ys + P, *run = xs + Q;
    nearest_runs(ys + P + Q, ys, P, H);
    const int stream = resample_stream(N * (H * W + P * Q) * C, W * C);
    const resample_loops loops = isa_loops();
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C > RESAMPLE_PAR_MIN)
    for (int64_t nh = 0; nh < N * H; nh++) {   /* input rows */
        const int64_t n = nh / H, h = nh % H;
        float buf[RESAMPLE_ROW_BUF];
        loops.nearest_backward_row(stream ? buf : dinp + nh * W * C, dout + (n * P + run[h]) * Q * C,
                                   run[h + 1] - run[h], xs, W, C, Q);
        if (stream)
            stream_floats(dinp + nh * W * C, buf, W * C);
    }
    pyconv_scratch_free(ys);
    return PYCONV_OK;
}

// As resize_nearest_backward: the definition, a serial scatter.
int resize_nearest_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                                int64_t C, int64_t P, int64_t Q)
{
    memset(dinp, 0, (size_t)(N * H * W * C) * sizeof(float));
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++)
                    dinp[((n * H + nearest_index(p, P, H)) * W + nearest_index(q, Q, W)) * C + c] +=
                        dout[((n * P + p) * Q + q) * C + c];
    return PYCONV_OK;
}

/* ---- projective sampler (ImageProjectiveTransformV3) ----------------------------------------- */

static int check_modes(int interp, int mode)
{
    if (interp != PYCONV_INTERP_NEAREST && interp != PYCONV_INTERP_BILINEAR)
        return PYCONV_EINVAL;
    if (mode < PYCONV_FILL_REFLECT || mode > PYCONV_FILL_NEAREST)
        return PYCONV_EINVAL;
    return PYCONV_OK;
}

// inp (N,H,W,C), transforms (T,8) with T = N or 1, out (N,P,Q,C), overwritten.
// Threads: over N*P output rows; each output row written by one thread.
int affine_sample_forward(float *out, const float *inp, const float *transforms, int64_t T,
                          int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                          int interp, int fill_mode, float fill_value)
{
    if (check_modes(interp, fill_mode) != PYCONV_OK)
        return PYCONV_EINVAL;
    if (N * P * Q * C == 0)
        return PYCONV_OK;
    float *fill = pyconv_scratch_alloc((size_t)C * sizeof(float));   /* the row a fill-value corner reads */
    if (!fill)
        return PYCONV_ENOMEM;
    for (int64_t c = 0; c < C; c++)
        fill[c] = fill_value;
    isa_loops().affine_forward(out, inp, fill, transforms, T, N, H, W, C, P, Q, interp, fill_mode);
    pyconv_scratch_free(fill);
    return PYCONV_OK;
}

// As affine_sample_forward: the definition, one element at a time.
int affine_sample_forward_ref(float *out, const float *inp, const float *transforms, int64_t T,
                              int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                              int interp, int fill_mode, float fill_value)
{
    if (check_modes(interp, fill_mode) != PYCONV_OK)
        return PYCONV_EINVAL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    const float *img = inp + n * H * W * C, *t = transforms + (T == 1 ? 0 : n) * 8;
                    float *o = out + ((n * P + p) * Q + q) * C + c;
                    sample_taps s;
                    if (!affine_taps(&s, t, p, q, H, W, interp, fill_mode)) {
                        *o = fill_value;
                        continue;
                    }
                    float v[4];
                    for (int k = 0; k < 4; k++)
                        v[k] = s.off[k] >= 0 ? img[s.off[k] * C + c] : fill_value;
                    if (interp == PYCONV_INTERP_NEAREST)
                        *o = v[0];
                    else
                        *o = s.wy0 * (s.wx0 * v[0] + s.wx1 * v[1]) + s.wy1 * (s.wx0 * v[2] + s.wx1 * v[3]);
                }
    return PYCONV_OK;
}

// dout (N,P,Q,C), transforms (T,8), dinp (N,H,W,C), overwritten: the transpose of
// affine_sample_forward (a fill-value corner has no input to reach).
// Threads: over N images; each image's dinp written by one thread, in output order.
int affine_sample_backward(float *dinp, const float *dout, const float *transforms, int64_t T,
                           int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                           int interp, int fill_mode)
{
    if (check_modes(interp, fill_mode) != PYCONV_OK)
        return PYCONV_EINVAL;
    if (!backward_start(dinp, N, H, W, C, P, Q))
        return PYCONV_OK;
    isa_loops().affine_backward(dinp, dout, transforms, T, N, H, W, C, P, Q, interp, fill_mode);
    return PYCONV_OK;
}

// As affine_sample_backward: the definition, one element at a time, serial.
int affine_sample_backward_ref(float *dinp, const float *dout, const float *transforms, int64_t T,
                               int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                               int interp, int fill_mode)
{
    if (check_modes(interp, fill_mode) != PYCONV_OK)
        return PYCONV_EINVAL;
    memset(dinp, 0, (size_t)(N * H * W * C) * sizeof(float));
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++) {
                sample_taps s;
                if (!affine_taps(&s, transforms + (T == 1 ? 0 : n) * 8, p, q, H, W, interp, fill_mode))
                    continue;
                float w[4];
                const int nk = corner_weights(w, &s, interp);
                for (int k = 0; k < nk; k++)
                    for (int64_t c = 0; c < C; c++)
                        if (s.off[k] >= 0)
                            dinp[(n * H * W + s.off[k]) * C + c] += w[k] * dout[((n * P + p) * Q + q) * C + c];
            }
    return PYCONV_OK;
}
