/* conv2d_grouped.c -- grouped 2-D convolution (Keras's Conv2D(groups=G)): the C input and K
 * output channels are cut into G equal groups, and group g's K/G outputs see only its C/G inputs.
 *   inp (N,H,W,C), filt (R,S,C/G,K), bias (K) or NULL, out (N,P,Q,K); geometry as conv2d's.
 *
 * What it promises: each group is exactly conv2d_forward / _backward_input / _backward_filter
 * (conv2d.c, the implicit GEMMs) on that group's channels, so it inherits their guarantees --
 * every output overwritten, bitwise the same for any thread count. The existing kernels take
 * dense NHWC tensors, not channel strides, so a group's channel slices are first copied into
 * contiguous buffers (a strided 2-D copy, parallel over pixels) and its result copied back: one
 * extra read and write of each tensor, small beside a GEMM whose depth is R*S*C/G. (With
 * G = C the layer calls the depthwise kernels instead, depthwise.c: there a GEMM has nothing
 * to block.) The _ref twins are the direct loop nests in double.
 * PYCONV_EINVAL (nothing written) unless G >= 1 divides C and K; PYCONV_ENOMEM if the group
 * buffers cannot be allocated. Nothing prints, exits or aborts.
 */
#include <stdlib.h>
#include "conv2d_geometry.h"

/* dst[i*dld + j] = src[i*sld + j] for i < rows, j < width: one group's channels of each pixel.
 * Threads: over rows, when there are enough floats to pay for a parallel region. */
static void copy_slice(float *dst, int64_t dld, const float *src, int64_t sld, int64_t rows,
                       int64_t width)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(rows * width > 32768)
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < width; j++)
            dst[i * dld + j] = src[i * sld + j];
}

static int group_check(const conv2d_shape *sh, int64_t groups)
{
    return groups >= 1 && sh->C % groups == 0 && sh->K % groups == 0 ? PYCONV_OK : PYCONV_EINVAL;
}

/* One group's shape: conv2d_shape with C/G input and K/G output channels. */
static conv2d_shape group_shape(const conv2d_shape *sh, int64_t groups)
{
    conv2d_shape g = *sh;
    g.C = sh->C / groups;
    g.K = sh->K / groups;
    return g;
}

/* Three contiguous buffers of a, b, c floats in one allocation (NULL: PYCONV_ENOMEM). */
static float *buffers(int64_t a, int64_t b, int64_t c, float **pb, float **pc)
{
    float *p = malloc((size_t)(a + b + c) * sizeof(float) + 1);
    if (p) {
        *pb = p + a;
        *pc = p + a + b;
    }
    return p;
}

// inp (N,H,W,C), filt (R,S,C/G,K), bias (K) or NULL, out (N,P,Q,K), overwritten.
// Threads: conv2d_forward's, group after group.
int conv2d_grouped_forward(float *out, const float *inp, const float *filt, const float *bias,
                           int relu, const conv2d_shape *sh, int64_t groups)
{
    if (group_check(sh, groups) != PYCONV_OK)
        return PYCONV_EINVAL;
    if (groups == 1)
        return conv2d_forward(out, inp, filt, bias, relu, sh);
    const conv2d_shape g = group_shape(sh, groups);
    const int64_t NHW = sh->N * sh->H * sh->W, NPQ = sh->N * sh->P * sh->Q, RSC = sh->R * sh->S * g.C;
    float *fg, *og, *xg = buffers(NHW * g.C, RSC * g.K, NPQ * g.K, &fg, &og);
    if (!xg)
        return PYCONV_ENOMEM;
    int status = PYCONV_OK;
    for (int64_t i = 0; i < groups && status == PYCONV_OK; i++) {
        copy_slice(xg, g.C, inp + i * g.C, sh->C, NHW, g.C);
        copy_slice(fg, g.K, filt + i * g.K, sh->K, RSC, g.K);
        status = conv2d_forward(og, xg, fg, bias ? bias + i * g.K : NULL, relu, &g);
        copy_slice(out + i * g.K, sh->K, og, g.K, NPQ, g.K);
    }
    free(xg);
    return status;
}

// dout (N,P,Q,K), filt (R,S,C/G,K), dinp (N,H,W,C), overwritten.
// Threads: conv2d_backward_input's, group after group.
int conv2d_grouped_backward_input(float *dinp, const float *dout, const float *filt,
                                  const conv2d_shape *sh, int64_t groups)
{
    if (group_check(sh, groups) != PYCONV_OK)
        return PYCONV_EINVAL;
    if (groups == 1)
        return conv2d_backward_input(dinp, dout, filt, sh);
    const conv2d_shape g = group_shape(sh, groups);
    const int64_t NHW = sh->N * sh->H * sh->W, NPQ = sh->N * sh->P * sh->Q, RSC = sh->R * sh->S * g.C;
    float *fg, *gg, *dxg = buffers(NHW * g.C, RSC * g.K, NPQ * g.K, &fg, &gg);
    if (!dxg)
        return PYCONV_ENOMEM;
    int status = PYCONV_OK;
    for (int64_t i = 0; i < groups && status == PYCONV_OK; i++) {
        copy_slice(gg, g.K, dout + i * g.K, sh->K, NPQ, g.K);
        copy_slice(fg, g.K, filt + i * g.K, sh->K, RSC, g.K);
        status = conv2d_backward_input(dxg, gg, fg, &g);
        copy_slice(dinp + i * g.C, sh->C, dxg, g.C, NHW, g.C);
    }
    free(dxg);
    return status;
}

// dout (N,P,Q,K), inp (N,H,W,C), dfilt (R,S,C/G,K) and dbias (K) or NULL, overwritten.
// Threads: conv2d_backward_filter's (fixed chunks, bitwise for any thread count), per group.
int conv2d_grouped_backward_filter(float *dfilt, float *dbias, const float *dout,
                                   const float *inp, const conv2d_shape *sh, int64_t groups)
{
    if (group_check(sh, groups) != PYCONV_OK)
        return PYCONV_EINVAL;
    if (groups == 1)
        return conv2d_backward_filter(dfilt, dbias, dout, inp, sh);
    const conv2d_shape g = group_shape(sh, groups);
    const int64_t NHW = sh->N * sh->H * sh->W, NPQ = sh->N * sh->P * sh->Q, RSC = sh->R * sh->S * g.C;
    float *dfg, *gg, *xg = buffers(NHW * g.C, RSC * g.K, NPQ * g.K, &dfg, &gg);
    if (!xg)
        return PYCONV_ENOMEM;
    int status = PYCONV_OK;
    for (int64_t i = 0; i < groups && status == PYCONV_OK; i++) {
        copy_slice(xg, g.C, inp + i * g.C, sh->C, NHW, g.C);
        copy_slice(gg, g.K, dout + i * g.K, sh->K, NPQ, g.K);
        status = conv2d_backward_filter(dfg, dbias ? dbias + i * g.K : NULL, gg, xg, &g);
        copy_slice(dfilt + i * g.K, sh->K, dfg, g.K, RSC, g.K);
    }
    free(xg);
    return status;
}

/* ---- the specification: direct loop nests, double accumulation ------------------------------ */

int conv2d_grouped_forward_ref(float *out, const float *inp, const float *filt, const float *bias,
                               int relu, const conv2d_shape *sh, int64_t groups)
{
    if (group_check(sh, groups) != PYCONV_OK)
        return PYCONV_EINVAL;
    const int64_t Cg = sh->C / groups, Kg = sh->K / groups;
    for (int64_t n = 0; n < sh->N; n++)
    for (int64_t p = 0; p < sh->P; p++)
    for (int64_t q = 0; q < sh->Q; q++)
    for (int64_t k = 0; k < sh->K; k++) {
        const int64_t c0 = k / Kg * Cg;   /* the group's first input channel */
        double acc = bias ? bias[k] : 0.0;
        for (int64_t r = 0; r < sh->R; r++)
        for (int64_t s = 0; s < sh->S; s++) {
            const int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
            const int64_t w = q * sh->stride_w - sh->pad_left + s * sh->dil_w;
            if (!in_image(h, w, sh))
                continue;
            for (int64_t c = 0; c < Cg; c++)
                acc += (double)inp[((n * sh->H + h) * sh->W + w) * sh->C + c0 + c]
                       * filt[((r * sh->S + s) * Cg + c) * sh->K + k];
        }
        out[((n * sh->P + p) * sh->Q + q) * sh->K + k] = relu && acc <= 0.0 ? 0.0f : (float)acc;
    }
    return PYCONV_OK;
}

int conv2d_grouped_backward_input_ref(float *dinp, const float *dout, const float *filt,
                                      const conv2d_shape *sh, int64_t groups)
{
    if (group_check(sh, groups) != PYCONV_OK)
        return PYCONV_EINVAL;
    const int64_t Cg = sh->C / groups, Kg = sh->K / groups, size = sh->N * sh->H * sh->W * sh->C;
    double *acc = calloc((size_t)(size > 0 ? size : 1), sizeof(double));
    if (!acc)
        return PYCONV_ENOMEM;
    for (int64_t n = 0; n < sh->N; n++)
    for (int64_t p = 0; p < sh->P; p++)
    for (int64_t q = 0; q < sh->Q; q++)
    for (int64_t r = 0; r < sh->R; r++)
    for (int64_t s = 0; s < sh->S; s++) {
        const int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
        const int64_t w = q * sh->stride_w - sh->pad_left + s * sh->dil_w;
        if (!in_image(h, w, sh))
            continue;
        for (int64_t k = 0; k < sh->K; k++)
            for (int64_t c = 0; c < Cg; c++)
                acc[((n * sh->H + h) * sh->W + w) * sh->C + k / Kg * Cg + c] +=
                    (double)dout[((n * sh->P + p) * sh->Q + q) * sh->K + k]
                    * filt[((r * sh->S + s) * Cg + c) * sh->K + k];
    }
    for (int64_t i = 0; i < size; i++)
        dinp[i] = (float)acc[i];
    free(acc);
    return PYCONV_OK;
}

int conv2d_grouped_backward_filter_ref(float *dfilt, float *dbias, const float *dout,
                                       const float *inp, const conv2d_shape *sh, int64_t groups)
{
    if (group_check(sh, groups) != PYCONV_OK)
        return PYCONV_EINVAL;
    const int64_t Cg = sh->C / groups, Kg = sh->K / groups;
    for (int64_t r = 0; r < sh->R; r++)
    for (int64_t s = 0; s < sh->S; s++)
    for (int64_t c = 0; c < Cg; c++)
    for (int64_t k = 0; k < sh->K; k++) {
        double acc = 0.0;
        for (int64_t n = 0; n < sh->N; n++)
        for (int64_t p = 0; p < sh->P; p++)
        for (int64_t q = 0; q < sh->Q; q++) {
            const int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
            const int64_t w = q * sh->stride_w - sh->pad_left + s * sh->dil_w;
            if (!in_image(h, w, sh))
                continue;
            acc += (double)inp[((n * sh->H + h) * sh->W + w) * sh->C + k / Kg * Cg + c]
                   * dout[((n * sh->P + p) * sh->Q + q) * sh->K + k];
        }
        dfilt[((r * sh->S + s) * Cg + c) * sh->K + k] = (float)acc;
    }
    if (dbias)
        bias_add_backward_ref(dbias, dout, sh->N * sh->P * sh->Q, sh->K);
    return PYCONV_OK;
}
