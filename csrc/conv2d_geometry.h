/* conv2d_geometry.h -- the geometry of pyconv.h's conv2d_shape, each rule written once: which
 * output pixel a GEMM row is, where its window lies, and which input pixels are in the image.
 * Used by the convolution kernels (conv2d.c) and the direct loop nests of the specification
 * (conv2d.c, conv2d_grouped.c). Output pixel (p,q), tap (r,s) reads input pixel
 *   h = p*stride_h - pad_top + r*dil_h,   w = q*stride_w - pad_left + s*dil_w,
 * and a pixel outside [0,H) x [0,W) is padding: it reads zero. */
#ifndef PYCONV_CONV2D_GEOMETRY_H
#define PYCONV_CONV2D_GEOMETRY_H

#include "pyconv.h"

/* GEMM rows (and the filter gradient's depth) run over output pixels in NHWC order,
 * row = (n*P + p)*Q + q: image n, output row p, column q. */
static inline void pixel_of_row(int64_t row, const conv2d_shape *sh, int64_t *n, int64_t *p,
                                int64_t *q)
{
    *q = row % sh->Q;
    *p = (row / sh->Q) % sh->P;
    *n = row / (sh->Q * sh->P);
}

/* Step output pixel (n, p, q) to the next one in NHWC order, without dividing. (Three scalars,
 * not a struct: with a pixel struct, by pointer or by value, the first layer's patch packer
 * then in use measured 5-15% slower.) */
static inline void next_pixel(int64_t *n, int64_t *p, int64_t *q, const conv2d_shape *sh)
{
    if (++*q == sh->Q) {
        *q = 0;
        if (++*p == sh->P) {
            *p = 0;
            ++*n;
        }
    }
}

/* The input row and column under tap (0,0) of output row p and column q: the corner of the
 * window, which may lie in the padding. Tap (r,s) reads (h0 + r*dil_h, w0 + s*dil_w). */
static inline int64_t window_h0(int64_t p, const conv2d_shape *sh)
{
    return p * sh->stride_h - sh->pad_top;
}

static inline int64_t window_w0(int64_t q, const conv2d_shape *sh)
{
    return q * sh->stride_w - sh->pad_left;
}

/* Whether input pixel (h, w) lies in the image (else it is padding, read as zero). */
static inline int in_image(int64_t h, int64_t w, const conv2d_shape *sh)
{
    return h >= 0 && h < sh->H && w >= 0 && w < sh->W;
}

/* Whether every tap of the window whose corner is (h0, w0) lies in the image: such a pixel
 * (most of them) needs no bounds test per tap. */
static inline int window_inside(int64_t h0, int64_t w0, const conv2d_shape *sh)
{
    return h0 >= 0 && w0 >= 0 && h0 + (sh->R - 1) * sh->dil_h < sh->H
           && w0 + (sh->S - 1) * sh->dil_w < sh->W;
}

/* One filter tap (r,s), or one depth index (r,s,c) of a patch: where it reads relative to the
 * window's corner (h0, w0) -- tables of them, made once per call, spare the loops a division. */
typedef struct {
    int64_t dh, dw;     /* r*dil_h, s*dil_w: the tap's row/column offset in the input */
    int64_t off;        /* (r*dil_h*W + s*dil_w) * C (+ c): the same as an element offset */
} conv_tap;

#endif /* PYCONV_CONV2D_GEOMETRY_H */
