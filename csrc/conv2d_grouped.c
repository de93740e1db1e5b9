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

/* Where one group's channels lie in a tensor: `rows` rows of `ld` floats, of which group i owns
 * the `width` from i * width on. */
typedef struct {
    int64_t rows, width, ld;
} group_slice;

/* A group's three contiguous buffers, one per tensor role, and the slices they copy: the image
 * (inp or dinp: N*H*W pixels, C/G of C channels), the filter (R*S*C/G rows, K/G of K) and the
 * output (out or dout: N*P*Q pixels, K/G of K). g is one group's shape for conv2d.c. */
typedef struct {
    conv2d_shape g;
    group_slice img, filt, out;
    float *img_buf, *filt_buf, *out_buf;   /* one workspace: pyconv_scratch_free(img_buf) */
} group_plan;

/* The plan of `groups` > 1 groups (sizes checked): PYCONV_ENOMEM if the buffers cannot be
 * allocated. */
static int group_plan_make(group_plan *gp, const conv2d_shape *sh, int64_t groups)
{
    gp->g = *sh;
    gp->g.C = sh->C / groups;
    gp->g.K = sh->K / groups;
    gp->img = (group_slice){sh->N * sh->H * sh->W, gp->g.C, sh->C};
    gp->filt = (group_slice){sh->R * sh->S * gp->g.C, gp->g.K, sh->K};
    gp->out = (group_slice){sh->N * sh->P * sh->Q, gp->g.K, sh->K};
    const int64_t ni = gp->img.rows * gp->img.width, nf = gp->filt.rows * gp->filt.width;
    gp->img_buf = pyconv_scratch_alloc((size_t)(ni + nf + gp->out.rows * gp->out.width) * sizeof(float));
    if (!gp->img_buf)
        return PYCONV_ENOMEM;
    gp->filt_buf = gp->img_buf + ni;
    gp->out_buf = gp->filt_buf + nf;
    return PYCONV_OK;
}

/* buf = group i's channels of tensor t (as a dense tensor), and back. */
static void take_slice(float *buf, const float *t, group_slice sl, int64_t i)
{
    copy_slice(buf, sl.width, t + i * sl.width, sl.ld, sl.rows, sl.width);
}

static void put_slice(float *t, const float *buf, group_slice sl, int64_t i)
{
    copy_slice(t + i * sl.width, sl.ld, buf, sl.width, sl.rows, sl.width);
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
    group_plan gp;
    int status = group_plan_make(&gp, sh, groups);
    for (int64_t i = 0; i < groups && status == PYCONV_OK; i++) {
        take_slice(gp.img_buf, inp, gp.img, i);
        take_slice(gp.filt_buf, filt, gp.filt, i);
        status = conv2d_forward(gp.out_buf, gp.img_buf, gp.filt_buf, bias ? bias + i * gp.g.K : NULL,
                                relu, &gp.g);
        put_slice(out, gp.out_buf, gp.out, i);
    }
    pyconv_scratch_free(gp.img_buf);
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
    group_plan gp;
    int status = group_plan_make(&gp, sh, groups);
    for (int64_t i = 0; i < groups && status == PYCONV_OK; i++) {
        take_slice(gp.out_buf, dout, gp.out, i);
        take_slice(gp.filt_buf, filt, gp.filt, i);
        status = conv2d_backward_input(gp.img_buf, gp.out_buf, gp.filt_buf, &gp.g);
        put_slice(dinp, gp.img_buf, gp.img, i);
    }
    pyconv_scratch_free(gp.img_buf);
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
    group_plan gp;
    int status = group_plan_make(&gp, sh, groups);
    for (int64_t i = 0; i < groups && status == PYCONV_OK; i++) {
        take_slice(gp.img_buf, inp, gp.img, i);
        take_slice(gp.out_buf, dout, gp.out, i);
        status = conv2d_backward_filter(gp.filt_buf, dbias ? dbias + i * gp.g.K : NULL, gp.out_buf,
                                        gp.img_buf, &gp.g);
        put_slice(dfilt, gp.filt_buf, gp.filt, i);
    }
    pyconv_scratch_free(gp.img_buf);
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
