/* conv2d.c -- 2-D convolution, forward and backward, as implicit GEMMs.
 *
 * Promise: NHWC input, HWIO filters, any kernel size, strides, dilations and padding; every
 * output overwritten; results bitwise the same for any thread count. Each pass is one GEMM
 * (gemm.c) whose A or B operand is a PACKER that gathers straight from the tensors, so the
 * im2col matrix of the whole batch never exists -- only one MC x KC block of it, in L2:
 *
 *   pass              GEMM  M x N x K           A (M x K), packed by           B (K x N)
 *   forward           (N*P*Q) x K x (R*S*C)     pack_patches: input patches    filt as stored
 *   backward_input    (N*H*W) x C x (R*S*K)     pack_dout_gather: dout values  filt, C<->K swapped
 *   backward_filter   (R*S*C) x K x (N*P*Q)     pack_patches_t: patches^T      dout as stored
 *
 * NHWC is what makes the packing cheap: for one pixel and one filter tap (r,s) the C input
 * channels are contiguous, so a patch row is R*S runs of C floats.
 *
 * backward_input gathers instead of scattering: each input pixel (row of the GEMM) collects
 * the dout values of the output pixels that read it, so no two threads write the same dinp
 * element and there is no col2im race. With stride > 1 most taps have no such output pixel
 * and are packed as zeros (wasted FMAs, correct result); the tutorial's CNN has stride 1.
 *
 * backward_filter sums over N*P*Q, a long reduction. It is cut into a fixed number of pixel
 * chunks that depends on the sizes only; each chunk's partial dfilt is one single-threaded
 * GEMM (chunks run in parallel), and the partials are added in chunk order. Same order for
 * any thread count, hence the same bits.
 */
#include <stdlib.h>
#include <string.h>
#include "pyconv.h"
#include "gemm.h"

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- packers -------------------------------------------------------------------------------- */

/* What a packer needs besides the tensor: the shape and, per filter tap t = r*S + s, its
 * offsets -- precomputed once per call so that the packing loops do no division. */
typedef struct {
    int64_t dh, dw;     /* r*dil_h, s*dil_w: the tap's row/column offset in the input */
    int64_t off;        /* (r*dil_h*W + s*dil_w) * C: the same as an element offset */
} conv_tap;

typedef struct {
    const conv2d_shape *s;
    const conv_tap *taps;   /* R*S of them */
} conv_ctx;

/* Copy depth [d0, d0+k) of one patch row -- output pixel (n,p,q), depth d = (r*S+s)*C + c --
 * to dst[i*stride], zeros where a tap falls in the padding. Each tap is a contiguous run of
 * C channels in NHWC, so this is R*S short copies; pixels whose window lies inside the image
 * (most of them) skip the bounds checks. */
static void patch_row(float *dst, int64_t stride, const float *inp, const conv_ctx *cx,
                      int64_t n, int64_t p, int64_t q, int64_t d0, int64_t k)
{
    const conv2d_shape *s = cx->s;
    const int64_t h0 = p * s->stride_h - s->pad_top, w0 = q * s->stride_w - s->pad_left;
    const int inside = h0 >= 0 && w0 >= 0 && h0 + (s->R - 1) * s->dil_h < s->H
                       && w0 + (s->S - 1) * s->dil_w < s->W;
    const int64_t base = ((n * s->H + h0) * s->W + w0) * s->C;  /* may be "negative": used only in range */
    int64_t t = d0 / s->C, c = d0 % s->C, i = 0;
    while (i < k) {
        const conv_tap *tp = &cx->taps[t];
        int64_t run = s->C - c < k - i ? s->C - c : k - i;
        float *o = dst + i * stride;
        int64_t h = h0 + tp->dh, w = w0 + tp->dw;
        if (inside || (h >= 0 && h < s->H && w >= 0 && w < s->W)) {
            const float *src = inp + (base + tp->off + c);
            if (stride == 1)
                memcpy(o, src, (size_t)run * sizeof(float));
            else
                for (int64_t j = 0; j < run; j++)
                    o[j * stride] = src[j];
        } else {
            for (int64_t j = 0; j < run; j++)
                o[j * stride] = 0.0f;
        }
        i += run;
        c = 0;
        t++;
    }
}

// A of the forward pass: rows are output pixels m = (n*P + p)*Q + q, depth is (r,s,c).
static void pack_patches(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0,
                         int64_t k, int mr)
{
    const conv_ctx *cx = op->ctx;
    const conv2d_shape *s = cx->s;
    int64_t q = i0 % s->Q, p = (i0 / s->Q) % s->P, n = i0 / (s->Q * s->P);
    for (int64_t ip = 0; ip < m; ip += mr) {
        int rows = m - ip < mr ? (int)(m - ip) : mr;
        for (int r = 0; r < rows; r++) {
            patch_row(dst + r, mr, op->data, cx, n, p, q, p0, k);
            if (++q == s->Q) {      // step to the next output pixel without dividing
                q = 0;
                if (++p == s->P) {
                    p = 0;
                    n++;
                }
            }
        }
        for (int r = rows; r < mr; r++)
            for (int64_t kk = 0; kk < k; kk++)
                dst[kk * mr + r] = 0.0f;
        dst += k * mr;
    }
}

/* A of backward_filter: rows are depth indices (r,s,c), depth is output pixels. At one pixel
 * the panel's rows are consecutive (r,s,c), so each run of channels is a contiguous copy. */
static void pack_patches_t(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0,
                           int64_t k, int mr)
{
    const conv_ctx *cx = op->ctx;
    const conv2d_shape *s = cx->s;
    for (int64_t ip = 0; ip < m; ip += mr) {
        int rows = m - ip < mr ? (int)(m - ip) : mr;
        int64_t q = p0 % s->Q, p = (p0 / s->Q) % s->P, n = p0 / (s->Q * s->P);
        for (int64_t kk = 0; kk < k; kk++) {
            float *o = dst + kk * mr;
            patch_row(o, 1, op->data, cx, n, p, q, i0 + ip, rows);
            for (int r = rows; r < mr; r++)
                o[r] = 0.0f;
            if (++q == s->Q) {
                q = 0;
                if (++p == s->P) {
                    p = 0;
                    n++;
                }
            }
        }
        dst += k * mr;
    }
}

/* A of backward_input: rows are input pixels (n,h,w), depth is (r,s,k). Input pixel (h,w)
 * was read by tap (r,s) of output pixel (p,q) iff h + pad_top - r*dil_h = p*stride_h (and
 * likewise for w) with p, q in range; that dout[n,p,q,:] run is copied, else zeros. */
static void pack_dout_gather(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0,
                             int64_t k, int mr)
{
    const conv_ctx *cx = op->ctx;
    const conv2d_shape *s = cx->s;
    const float *dout = op->data;
    int64_t w = i0 % s->W, h = (i0 / s->W) % s->H, n = i0 / (s->W * s->H);
    for (int64_t ip = 0; ip < m; ip += mr) {
        int rows = m - ip < mr ? (int)(m - ip) : mr;
        for (int r = 0; r < rows; r++) {
            int64_t t = p0 / s->K, kc = p0 % s->K, i = 0;
            while (i < k) {
                int64_t run = s->K - kc < k - i ? s->K - kc : k - i;
                int64_t hh = h + s->pad_top - cx->taps[t].dh;
                int64_t ww = w + s->pad_left - cx->taps[t].dw;
                float *o = dst + i * mr + r;
                int64_t pp = hh / s->stride_h, qq = ww / s->stride_w;
                if (hh < 0 || ww < 0 || pp >= s->P || qq >= s->Q
                    || (s->stride_h > 1 && hh % s->stride_h) || (s->stride_w > 1 && ww % s->stride_w)) {
                    for (int64_t j = 0; j < run; j++)
                        o[j * mr] = 0.0f;
                } else {
                    const float *src = dout + ((n * s->P + pp) * s->Q + qq) * s->K + kc;
                    for (int64_t j = 0; j < run; j++)
                        o[j * mr] = src[j];
                }
                i += run;
                kc = 0;
                t++;
            }
            if (++w == s->W) {
                w = 0;
                if (++h == s->H) {
                    h = 0;
                    n++;
                }
            }
        }
        for (int r = rows; r < mr; r++)
            for (int64_t kk = 0; kk < k; kk++)
                dst[kk * mr + r] = 0.0f;
        dst += k * mr;
    }
}

/* B of backward_input: B[(r,s,k)][c] = filt[r,s,c,k], the filter with C and K swapped. */
static void pack_filt_swapped(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0,
                              int64_t k, int nr)
{
    const conv2d_shape *s = ((const conv_ctx *)op->ctx)->s;
    for (int64_t jp = 0; jp < n; jp += nr) {
        int cols = n - jp < nr ? (int)(n - jp) : nr;
        for (int64_t kk = 0; kk < k; kk++) {
            int64_t d = p0 + kk, rs = d / s->K, ko = d % s->K;
            const float *src = op->data + (rs * s->C + j0 + jp) * s->K + ko;
            float *o = dst + kk * nr;
            for (int c = 0; c < cols; c++)
                o[c] = src[c * s->K];
            for (int c = cols; c < nr; c++)
                o[c] = 0.0f;
        }
        dst += k * nr;
    }
}

/* ---- the three passes ---------------------------------------------------------------------- */

/* The tap table of conv_ctx, or NULL if it cannot be allocated. */
static conv_tap *make_taps(const conv2d_shape *s)
{
    conv_tap *taps = malloc((size_t)(s->R * s->S) * sizeof(conv_tap));
    if (taps)
        for (int64_t r = 0; r < s->R; r++)
            for (int64_t t = 0; t < s->S; t++)
                taps[r * s->S + t] = (conv_tap){r * s->dil_h, t * s->dil_w,
                                                (r * s->dil_h * s->W + t * s->dil_w) * s->C};
    return taps;
}

// inp (N,H,W,C), filt (R,S,C,K), bias (K) or NULL, out (N,P,Q,K), overwritten.
// Threads: the GEMM's, over blocks of output pixels.
int conv2d_forward(float *out, const float *inp, const float *filt, const float *bias,
                   int relu, const conv2d_shape *s)
{
    conv_ctx cx = {s, make_taps(s)};
    if (!cx.taps)
        return PYCONV_ENOMEM;
    gemm_operand a = {pack_patches, inp, 0, &cx};
    gemm_operand b = {gemm_pack_b_n, filt, s->K, NULL};
    int status = gemm(out, s->K, &a, &b, s->N * s->P * s->Q, s->K, s->R * s->S * s->C, bias, relu,
                      pyconv_num_threads());
    free((void *)cx.taps);
    return status;
}

// dout (N,P,Q,K), filt (R,S,C,K), dinp (N,H,W,C), overwritten.
// Threads: the GEMM's, over blocks of input pixels; each dinp element written by one thread.
int conv2d_backward_input(float *dinp, const float *dout, const float *filt, const conv2d_shape *s)
{
    conv_ctx cx = {s, make_taps(s)};
    if (!cx.taps)
        return PYCONV_ENOMEM;
    gemm_operand a = {pack_dout_gather, dout, 0, &cx};
    gemm_operand b = {pack_filt_swapped, filt, 0, &cx};
    int status = gemm(dinp, s->C, &a, &b, s->N * s->H * s->W, s->C, s->R * s->S * s->K, NULL, 0,
                      pyconv_num_threads());
    free((void *)cx.taps);
    return status;
}

/* Pixels per chunk of the backward_filter reduction: a multiple of KC so that chunking adds
 * no extra K blocks, large enough to amortise a GEMM call. */
#define BWF_CHUNK (4 * 256)

// dout (N,P,Q,K), inp (N,H,W,C), dfilt (R,S,C,K) and dbias (K) or NULL, overwritten.
// Threads: over fixed pixel chunks, each a single-threaded GEMM into its own partial; the
// partials are then summed in chunk order (per element, in parallel over elements).
int conv2d_backward_filter(float *dfilt, float *dbias, const float *dout, const float *inp,
                           const conv2d_shape *s)
{
    const int64_t M = s->R * s->S * s->C, Ncol = s->K, npix = s->N * s->P * s->Q;
    const int64_t nchunks = npix > 0 ? ceil_div(npix, BWF_CHUNK) : 1;
    if (dbias)
        bias_add_backward(dbias, dout, npix, s->K);
    conv_ctx cx = {s, make_taps(s)};
    float *part = nchunks > 1 ? malloc((size_t)(nchunks * M * Ncol) * sizeof(float)) : NULL;
    if (!cx.taps || (nchunks > 1 && !part)) {
        free((void *)cx.taps);
        free(part);
        return PYCONV_ENOMEM;
    }
    gemm_operand a = {pack_patches_t, inp, 0, &cx};
    gemm_operand b = {gemm_pack_b_n, dout, s->K, NULL};
    int status = PYCONV_OK;
    if (nchunks == 1) {   // one chunk: the GEMM's own threads, straight into dfilt
        status = gemm(dfilt, Ncol, &a, &b, M, Ncol, npix, NULL, 0, pyconv_num_threads());
    } else {
        #pragma omp parallel for schedule(dynamic, 1) num_threads(pyconv_num_threads())
        for (int64_t ch = 0; ch < nchunks; ch++) {
            // The chunk is the sub-GEMM over the depth (= pixel) slice [p0, p0+len), one thread.
            int64_t p0 = ch * BWF_CHUNK, len = npix - p0 < BWF_CHUNK ? npix - p0 : BWF_CHUNK;
            int st = gemm_slice(part + ch * M * Ncol, Ncol, &a, &b, M, Ncol, p0, len, NULL, 0, 1);
            if (st != PYCONV_OK) {
                #pragma omp atomic write
                status = st;
            }
        }
        if (status == PYCONV_OK) {
            #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads())
            for (int64_t i = 0; i < M * Ncol; i++) {
                float acc = part[i];
                for (int64_t ch = 1; ch < nchunks; ch++)
                    acc += part[ch * M * Ncol + i];
                dfilt[i] = acc;
            }
        }
    }
    free(part);
    free((void *)cx.taps);
    return status;
}

/* ---- the specification: direct loop nests, double accumulation ------------------------------ */

void conv2d_forward_ref(float *out, const float *inp, const float *filt, const float *bias,
                        int relu, const conv2d_shape *s)
{
    for (int64_t n = 0; n < s->N; n++)
    for (int64_t p = 0; p < s->P; p++)
    for (int64_t q = 0; q < s->Q; q++)
    for (int64_t k = 0; k < s->K; k++) {
        double acc = bias ? bias[k] : 0.0;
        for (int64_t r = 0; r < s->R; r++)
        for (int64_t t = 0; t < s->S; t++) {
            int64_t h = p * s->stride_h - s->pad_top + r * s->dil_h;
            int64_t w = q * s->stride_w - s->pad_left + t * s->dil_w;
            if (h < 0 || h >= s->H || w < 0 || w >= s->W)
                continue;
            for (int64_t c = 0; c < s->C; c++)
                acc += (double)inp[((n * s->H + h) * s->W + w) * s->C + c]
                       * filt[((r * s->S + t) * s->C + c) * s->K + k];
        }
        out[((n * s->P + p) * s->Q + q) * s->K + k] = relu && acc < 0.0 ? 0.0f : (float)acc;
    }
}

void conv2d_backward_input_ref(float *dinp, const float *dout, const float *filt, const conv2d_shape *s)
{
    int64_t size = s->N * s->H * s->W * s->C;
    double *acc = calloc((size_t)(size > 0 ? size : 1), sizeof(double));
    if (!acc)
        return;   /* a test oracle; the tests use small sizes */
    for (int64_t n = 0; n < s->N; n++)
    for (int64_t p = 0; p < s->P; p++)
    for (int64_t q = 0; q < s->Q; q++)
    for (int64_t r = 0; r < s->R; r++)
    for (int64_t t = 0; t < s->S; t++) {
        int64_t h = p * s->stride_h - s->pad_top + r * s->dil_h;
        int64_t w = q * s->stride_w - s->pad_left + t * s->dil_w;
        if (h < 0 || h >= s->H || w < 0 || w >= s->W)
            continue;
        for (int64_t c = 0; c < s->C; c++)
            for (int64_t k = 0; k < s->K; k++)
                acc[((n * s->H + h) * s->W + w) * s->C + c] +=
                    (double)dout[((n * s->P + p) * s->Q + q) * s->K + k]
                    * filt[((r * s->S + t) * s->C + c) * s->K + k];
    }
    for (int64_t i = 0; i < size; i++)
        dinp[i] = (float)acc[i];
    free(acc);
}

void conv2d_backward_filter_ref(float *dfilt, float *dbias, const float *dout, const float *inp,
                                const conv2d_shape *s)
{
    for (int64_t r = 0; r < s->R; r++)
    for (int64_t t = 0; t < s->S; t++)
    for (int64_t c = 0; c < s->C; c++)
    for (int64_t k = 0; k < s->K; k++) {
        double acc = 0.0;
        for (int64_t n = 0; n < s->N; n++)
        for (int64_t p = 0; p < s->P; p++)
        for (int64_t q = 0; q < s->Q; q++) {
            int64_t h = p * s->stride_h - s->pad_top + r * s->dil_h;
            int64_t w = q * s->stride_w - s->pad_left + t * s->dil_w;
            if (h < 0 || h >= s->H || w < 0 || w >= s->W)
                continue;
            acc += (double)inp[((n * s->H + h) * s->W + w) * s->C + c]
                   * dout[((n * s->P + p) * s->Q + q) * s->K + k];
        }
        dfilt[((r * s->S + t) * s->C + c) * s->K + k] = (float)acc;
    }
    if (dbias)
        for (int64_t k = 0; k < s->K; k++) {
            double acc = 0.0;
            for (int64_t i = 0; i < s->N * s->P * s->Q; i++)
                acc += dout[i * s->K + k];
            dbias[k] = (float)acc;
        }
}
