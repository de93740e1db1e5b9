/* conv2d.c -- 2-D convolution, forward and backward, as implicit GEMMs.
 *
 * Promise: NHWC input, HWIO filters, any kernel size, strides, dilations and padding; every
 * output overwritten; results bitwise the same for any thread count. Each pass is one GEMM
 * (gemm.c) whose A or B operand is gathered straight from the tensors -- through row pointers
 * (an indirect operand: nothing copied) or a PACKER -- so the im2col matrix of the batch never
 * exists; at most one MC x KC block of it, in L2:
 *
 *   pass              GEMM  M x N x K           A (M x K)                       B (K x N)
 *   forward           (N*P*Q) x K x (R*S*C)     patch_rows: row pointers        filt as stored
 *     (first layer)   no GEMM where R*S*C <= KC: a direct loop nest (conv2d_smallc_loops.h), the
 *                     GEMM's bits; deeper, A = pack_patches: copied patches
 *   backward_input    (G*P*Q) x (R*S*C) x K     dout, row pointers              filt transposed,
 *                     per group of G images, then col2im adds the columns     packed once
 *                     into dinp (when NR divides C: the GEMM adds its tiles
 *                     into dinp itself: a scattered C, gemm_scatter)
 *   transpose_forward the same GEMM as backward_input, with the transposed conv's input as dout;
 *                     each image starts from the bias and ends with relu (conv2d_transpose_forward)
 *   backward_filter   K x (R*S*C) x (N*P*Q)     dout^T, in place (or packed)    patch_cols: row pointers
 *                                                                               (or pack_patches_b)
 *     (first layer)   no GEMM: a direct loop nest (conv2d_smallc_loops.h), nothing packed
 *
 * NHWC is what makes the packing cheap: for one pixel and one filter tap (r,s) the C input
 * channels are contiguous, so a patch row is R*S runs of C floats.
 *
 * backward_input computes the column gradient of a few images at a time and scatters it
 * back (col2im) into those images only: a thread owns whole images, so the scatter has no
 * race, and each image is summed in one fixed order. It does exactly the forward's FLOPs for
 * any stride or dilation, and its A operand (dout) is a plain matrix, read in place.
 *
 * backward_filter sums over N*P*Q, a long reduction. It is cut into a fixed number of pixel
 * chunks that depends on the sizes only; each chunk's partial dfilt is one single-threaded
 * GEMM (chunks run in parallel), and the partials are added in chunk order. Same order for
 * any thread count, hence the same bits. Below SMALL_C input channels the chunks' partials
 * come from a direct loop nest instead (conv2d_smallc_loops.h, one build per ISA).
 */
#include <stdlib.h>
#include <string.h>
#include "target.h"
#include "blocking.h"
#include "conv2d_geometry.h"
#include "conv2d_smallc_loops.h"
#include "gemm.h"

/* ---- packers -------------------------------------------------------------------------------- */

/* What a packer needs besides the tensor: the shape and, per filter tap t = r*S + s, its
 * offsets (conv_tap) -- precomputed once per call so that the packing loops do no division. */
typedef struct {
    const conv2d_shape *sh;
    conv_tap *taps;         /* R*S of them */
    conv_tap *depth;        /* small C only: one per depth index d = t*C + c, off + c included */
} conv_ctx;

/* Below this many input channels a tap's run is too short for a copy loop to pay: the
 * forward's packer then gathers element by element through `depth`, and backward_filter
 * takes the direct loop nest of conv2d_smallc_loops.h (the first layer: C = 1 or 3). */
#define SMALL_C 8

/* Copy one element of a patch: tap entry e of the window at (h0, w0), element offset base. */
static inline float patch_elem(const float *inp, const conv2d_shape *sh, const conv_tap *e,
                               int64_t h0, int64_t w0, int64_t base, int inside)
{
    return inside || in_image(h0 + e->dh, w0 + e->dw, sh) ? inp[base + e->off] : 0.0f;
}

/* dst[0..n) = src[0..n): the library memcpy (wide vector moves) for long runs, an inline loop
 * for the short ones, where a call would cost more than the copy. */
static inline void copy_run(float *dst, const float *src, int64_t n)
{
    if (n >= 16) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t j = 0; j < n; j++)
        dst[j] = src[j];
}

/* Deal a run of `run` floats (zeros where src is NULL) into consecutive positions of the panel
 * row at *row, from position *pos of `width`; where the row is full, carry on in the same row of
 * the next panel, `panel_step` floats further. Both backward_filter packers lay patch rows out
 * this way. */
static inline void deal_run(float **row, int *pos, int width, int64_t panel_step,
                            const float *src, int64_t run)
{
    for (int64_t i = 0; i < run;) {
        int64_t seg = run - i < width - *pos ? run - i : width - *pos;
        if (src)
            copy_run(*row + *pos, src + i, seg);
        else
            memset(*row + *pos, 0, (size_t)seg * sizeof(float));
        *pos += (int)seg;
        i += seg;
        if (*pos == width) {
            *pos = 0;
            *row += panel_step;
        }
    }
}

/* The forward pass's A, indirect: for output pixel `row` = (n*P + p)*Q + q and taps
 * t0..t0+nt, the address of the C input channels each tap reads (plus c0), or `zeros` where
 * the tap falls in the padding. No patch is ever copied. */
static void patch_rows(const float **dst, int64_t stride, const gemm_operand *op, int64_t row,
                       int64_t t0, int64_t nt, int64_t c0, const float *zeros)
{
    const conv_ctx *cx = op->ctx;
    const conv2d_shape *sh = cx->sh;
    int64_t n, p, q;
    pixel_of_row(row, sh, &n, &p, &q);
    const int64_t h0 = window_h0(p, sh), w0 = window_w0(q, sh);
    const int64_t base = ((n * sh->H + h0) * sh->W + w0) * sh->C + c0;
    for (int64_t t = 0; t < nt; t++) {
        const conv_tap *tp = &cx->taps[t0 + t];
        dst[t * stride] = in_image(h0 + tp->dh, w0 + tp->dw, sh) ? op->data + (base + tp->off)
                                                                 : zeros;
    }
}

/* Copy depth [d0, d0+kc) of one patch row -- output pixel (n,p,q), depth d = (r*S+s)*C + c -- to
 * dst[i*stride], zeros where a tap falls in the padding. Each tap is a contiguous run of C
 * channels in NHWC, so this is R*S short copies; pixels whose window lies inside the image
 * (most of them) skip the bounds checks. */
static void patch_row(float *dst, int64_t stride, const float *inp, const conv_ctx *cx,
                      int64_t n, int64_t p, int64_t q, int64_t d0, int64_t kc)
{
    const conv2d_shape *sh = cx->sh;
    const int64_t h0 = window_h0(p, sh), w0 = window_w0(q, sh);
    const int inside = window_inside(h0, w0, sh);
    const int64_t base = ((n * sh->H + h0) * sh->W + w0) * sh->C;  /* may be "negative": used only in range */
    if (cx->depth) {   // small C: element by element through the depth table
        for (int64_t i = 0; i < kc; i++)
            dst[i * stride] = patch_elem(inp, sh, &cx->depth[d0 + i], h0, w0, base, inside);
        return;
    }
    int64_t t = d0 / sh->C, c = d0 % sh->C, i = 0;
    while (i < kc) {
        const conv_tap *tp = &cx->taps[t];
        int64_t run = sh->C - c < kc - i ? sh->C - c : kc - i;
        float *o = dst + i * stride;
        if (inside || in_image(h0 + tp->dh, w0 + tp->dw, sh)) {
            const float *src = inp + (base + tp->off + c);
            if (stride == 1)
                copy_run(o, src, run);
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

/* A panel of `rows` pixels of one output row whose windows all lie inside the image, small C:
 * depth d of pixel (n, p, q + i) is inp[base + depth[d].off + i*stride_w*C], so the panel is
 * packed depth by depth, each a run of `rows` floats read at a fixed step -- contiguous for the
 * usual first layer (C = 1, stride 1), where patch_row's per-pixel gathers cost more than the
 * GEMM. */
static void pack_panel_inside(float *dst, const float *inp, const conv_ctx *cx, int64_t n,
                              int64_t p, int64_t q, int64_t d0, int64_t kc, int rows, int mr)
{
    const conv2d_shape *sh = cx->sh;
    const int64_t base = ((n * sh->H + window_h0(p, sh)) * sh->W + window_w0(q, sh)) * sh->C;
    const int64_t step = sh->stride_w * sh->C;
    for (int64_t kk = 0; kk < kc; kk++) {
        const float *src = inp + base + cx->depth[d0 + kk].off;
        float *o = dst + kk * mr;
        if (step == 1)
            for (int i = 0; i < rows; i++)
                o[i] = src[i];
        else
            for (int i = 0; i < rows; i++)
                o[i] = src[i * step];
    }
}

// A of the forward pass: rows are output pixels m = (n*P + p)*Q + q, depth is (r,s,c).
static void pack_patches(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0,
                         int64_t kc, int mr)
{
    const conv_ctx *cx = op->ctx;
    const conv2d_shape *sh = cx->sh;
    int64_t n, p, q;
    pixel_of_row(i0, sh, &n, &p, &q);
    for (int64_t ip = 0; ip < m; ip += mr) {
        int rows = m - ip < mr ? (int)(m - ip) : mr;
        const int64_t h0 = window_h0(p, sh);
        if (cx->depth && q + rows <= sh->Q && window_inside(h0, window_w0(q, sh), sh)
            && window_inside(h0, window_w0(q + rows - 1, sh), sh)) {
            pack_panel_inside(dst, op->data, cx, n, p, q, p0, kc, rows, mr);
            for (int i = 0; i < rows; i++)
                next_pixel(&n, &p, &q, sh);
        } else {
            for (int i = 0; i < rows; i++) {
                patch_row(dst + i, mr, op->data, cx, n, p, q, p0, kc);
                next_pixel(&n, &p, &q, sh);
            }
        }
        for (int i = rows; i < mr; i++)
            for (int64_t kk = 0; kk < kc; kk++)
                dst[kk * mr + i] = 0.0f;
        dst += kc * mr;
    }
}

/* B of backward_filter in its swapped orientation, indirect (when NR divides C, so that an
 * NR-column panel lies inside one tap's run of channels): for output pixels p0..p0+kc, the
 * address of the NR channels that tap reads, or `zeros` in the padding. Nothing is copied. */
static void patch_cols(const float **dst, const gemm_operand *op, int64_t j0, int64_t p0, int64_t kc,
                       const float *zeros)
{
    const conv_ctx *cx = op->ctx;
    const conv2d_shape *sh = cx->sh;
    const conv_tap *tp = &cx->taps[j0 / sh->C];
    const int64_t c = j0 % sh->C;
    int64_t n, p, q;
    pixel_of_row(p0, sh, &n, &p, &q);
    /* the first and the last window inside: so is every one (no padding read, VALID) */
    if (window_inside(window_h0(0, sh), window_w0(0, sh), sh)
        && window_inside(window_h0(sh->P - 1, sh), window_w0(sh->Q - 1, sh), sh)) {
        /* no test per pixel; the address steps as the pixel does */
        const float *row = op->data + ((n * sh->H + p * sh->stride_h) * sh->W) * sh->C + tp->off + c;
        for (int64_t kk = 0; kk < kc; kk++) {
            dst[kk] = row + q * sh->stride_w * sh->C;
            if (++q == sh->Q) {   // next output row, or the next image's first
                q = 0;
                row += sh->stride_h * sh->W * sh->C;
                if (++p == sh->P) {
                    p = 0;
                    row += (sh->H - sh->P * sh->stride_h) * sh->W * sh->C;
                }
            }
        }
        return;
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        const int64_t h = window_h0(p, sh) + tp->dh, w = window_w0(q, sh) + tp->dw;
        dst[kk] = in_image(h, w, sh) ? op->data + ((n * sh->H + h) * sh->W + w) * sh->C + c : zeros;
        next_pixel(&n, &p, &q, sh);
    }
}

/* B of backward_filter in its swapped orientation: depth is output pixels, columns are the
 * patch's depth indices (r,s,c). One walk per pixel over its patch row [j0, j0+cols) -- runs of
 * C contiguous floats per tap -- deals each run into the NR-wide panel rows it spans
 * (dst[panel][kk][col]): plain copies, no transposition. */
static void pack_patches_b(float *dst, const gemm_operand *op, int64_t j0, int64_t cols, int64_t p0,
                           int64_t kc, int nr)
{
    const conv_ctx *cx = op->ctx;
    const conv2d_shape *sh = cx->sh;
    const float *inp = op->data;
    const int64_t t0 = j0 / sh->C, c0 = j0 % sh->C;
    int64_t n, p, q;
    pixel_of_row(p0, sh, &n, &p, &q);
    for (int64_t kk = 0; kk < kc; kk++) {
        const int64_t h0 = window_h0(p, sh), w0 = window_w0(q, sh);
        const int64_t base = ((n * sh->H + h0) * sh->W + w0) * sh->C;
        float *row = dst + kk * nr;
        int col = 0;
        for (int64_t j = 0, t = t0, c = c0; j < cols; t++, c = 0) {
            const int64_t run = sh->C - c < cols - j ? sh->C - c : cols - j;
            const conv_tap *tp = &cx->taps[t];
            const float *src = in_image(h0 + tp->dh, w0 + tp->dw, sh) ? inp + (base + tp->off + c)
                                                                      : NULL;
            deal_run(&row, &col, nr, kc * nr, src, run);
            j += run;
        }
        if (col)   // the last panel's columns past `cols` are zeros
            memset(row + col, 0, (size_t)(nr - col) * sizeof(float));
        next_pixel(&n, &p, &q, sh);
    }
}

/* ---- the three passes ---------------------------------------------------------------------- */

/* Fill cx's tables (one workspace, freed with pyconv_scratch_free(cx->taps)); PYCONV_ENOMEM if
 * it fails. */
static int make_ctx(conv_ctx *cx, const conv2d_shape *sh)
{
    const int64_t RS = sh->R * sh->S, D = sh->C < SMALL_C ? RS * sh->C : 0;
    cx->sh = sh;
    cx->taps = pyconv_scratch_alloc((size_t)(RS + D) * sizeof(conv_tap));
    cx->depth = D ? cx->taps + RS : NULL;
    if (!cx->taps)
        return PYCONV_ENOMEM;
    for (int64_t r = 0; r < sh->R; r++)
        for (int64_t s = 0; s < sh->S; s++)
            cx->taps[r * sh->S + s] = (conv_tap){r * sh->dil_h, s * sh->dil_w,
                                                 (r * sh->dil_h * sh->W + s * sh->dil_w) * sh->C};
    for (int64_t d = 0; d < D; d++) {
        cx->depth[d] = cx->taps[d / sh->C];
        cx->depth[d].off += d % sh->C;
    }
    return PYCONV_OK;
}

// inp (N,H,W,C), filt (R,S,C,K), bias (K) or NULL, out (N,P,Q,K), overwritten.
// Threads: the GEMM's, over blocks of output pixels. The filter (form, CONV_FILT_*) packed, or
// read in place -- through row pointers (an indirect B, with the patches packed) or as strided
// panels (gemm_view_b_n, with the patches read in place; C < SMALL_C packs the filter) -- K a
// multiple of gemm_nr() in place, else PYCONV_EINVAL; the same depth cut (whole taps, gemm.c's
// depth_block) and micro-kernel arithmetic in every form: the same bits.
int conv2d_forward_form(float *out, const float *inp, const float *filt, const float *bias,
                        int relu, const conv2d_shape *sh, int form)
{
    if (form < CONV_FILT_PACKED || form > CONV_FILT_VIEW)
        return PYCONV_EINVAL;
    if (sh->C < SMALL_C && form == CONV_FILT_VIEW)
        form = CONV_FILT_PACKED;   /* a packed A: the packed micro-kernel reads B packed */
    conv_ctx cx;
    if (make_ctx(&cx, sh) != PYCONV_OK)
        return PYCONV_ENOMEM;
    /* A: read in place through row pointers (patch_rows) -- except in the first layer, where
     * a tap is only C < SMALL_C floats and a pointer per tap costs more than copying them
     * (its depth then cut by values, not taps), and under an indirect B, which needs A packed. */
    const int64_t moved = (sh->N * sh->H * sh->W * sh->C + sh->N * sh->P * sh->Q * sh->K)
                          * (int64_t)sizeof(float);   /* the input read, the output written */
    gemm_operand a = {.rows = patch_rows, .C = sh->C, .data = inp, .ctx = &cx,
                      .far = pyconv_past_l3(moved)};
    if (sh->C < SMALL_C || form == CONV_FILT_ROWS)
        a = (gemm_operand){.pack = pack_patches, .C = sh->C < SMALL_C ? 0 : sh->C, .data = inp,
                           .ctx = &cx};
    gemm_operand b = {.pack = gemm_pack_b_n, .data = filt, .ld = sh->K};
    if (form == CONV_FILT_ROWS)
        b = (gemm_operand){.cols = gemm_cols_n, .data = filt, .ld = sh->K};
    else if (form == CONV_FILT_VIEW)
        b = (gemm_operand){.view = gemm_view_b_n, .data = filt, .ld = sh->K};
    const gemm_out c = {.data = out, .ld = sh->K, .bias = bias, .relu = relu};
    int status = gemm(&c, &a, &b, sh->N * sh->P * sh->Q, sh->K, sh->R * sh->S * sh->C,
                      pyconv_num_threads());
    pyconv_scratch_free(cx.taps);
    return status;
}

/* The first layer's forward (C < SMALL_C) as a direct loop nest (conv2d_smallc_loops.h), for
 * the ISA in use: nothing packed, each input value broadcast from the image. The filter and
 * bias are copied once, their rows zero-padded to Kp, a multiple of 16 floats. */
static int forward_smallc(float *out, const float *inp, const float *filt, const float *bias,
                          int relu, const conv2d_shape *sh)
{
    const int64_t RSC = sh->R * sh->S * sh->C, K = sh->K, Kp = ceil_div(K, 16) * 16;
    const int threads = 2.0 * (double)(sh->N * sh->P * sh->Q) * (double)K * (double)RSC
                        >= GEMM_PAR_MIN_FLOPS && sh->N * sh->P > 1 ? pyconv_num_threads() : 1;
    conv_ctx cx;
    if (make_ctx(&cx, sh) != PYCONV_OK)
        return PYCONV_ENOMEM;
    const int64_t work = conv2d_fwd_smallc_work(sh);
    float *wp = pyconv_scratch_alloc((size_t)((RSC + 1) * Kp + threads * work) * sizeof(float));
    if (!wp) {
        pyconv_scratch_free(cx.taps);
        return PYCONV_ENOMEM;
    }
    for (int64_t d = 0; d <= RSC; d++) {
        const float *src = d < RSC ? filt + d * K : bias;
        if (src)
            memcpy(wp + d * Kp, src, (size_t)K * sizeof(float));
        memset(wp + d * Kp + (src ? K : 0), 0, (size_t)(src ? Kp - K : Kp) * sizeof(float));
    }
    const float *bp = bias ? wp + RSC * Kp : NULL;
    float *scratch = wp + (RSC + 1) * Kp;
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(conv2d_fwd_smallc_avx512(out, inp, wp, Kp, bp, relu, sh, cx.depth, scratch,
                                              threads); break;)
    PYCONV_ON_AVX2(conv2d_fwd_smallc_avx2(out, inp, wp, Kp, bp, relu, sh, cx.depth, scratch,
                                          threads); break;)
    PYCONV_ON_NEON(conv2d_fwd_smallc_neon(out, inp, wp, Kp, bp, relu, sh, cx.depth, scratch,
                                          threads); break;)
    default:
        conv2d_fwd_smallc_loop(out, inp, wp, Kp, bp, relu, sh, cx.depth, scratch, threads);
        break;
    }
    pyconv_scratch_free(wp);
    pyconv_scratch_free(cx.taps);
    return PYCONV_OK;
}

int conv2d_forward(float *out, const float *inp, const float *filt, const float *bias,
                   int relu, const conv2d_shape *sh)
{
    /* The first layer (C < SMALL_C) whose patch is one depth block (R*S*C <= KC: the GEMM
     * would sum it from zero in one micro-kernel call): the direct loop nest, the GEMM's bits. */
    if (sh->C < SMALL_C && sh->R * sh->S * sh->C <= gemm_kc() && sh->K > 0)
        return forward_smallc(out, inp, filt, bias, relu, sh);
    /* The filter read in place as strided panels (nothing packed, blocking.h's VIEW_B_*) for
     * few output pixels, or few channels; else packed. */
    const int view = gemm_view_b_pays(sh->N * sh->P * sh->Q, sh->K);
    return conv2d_forward_form(out, inp, filt, bias, relu, sh,
                               view ? CONV_FILT_VIEW : CONV_FILT_PACKED);
}

/* Output pixels per GEMM of backward_input: whole images, at least this many rows, so that
 * the filter's packing is amortised and the column buffer stays in L2. */
#define BWI_ROWS 256

/* The epilogue of backward_input's images (used by conv2d_transpose_forward): before the sum,
 * each pixel of `imgs` images of HW pixels starts from the bias (or zero); after it, relu if
 * asked. A thread calls both on the images it owns, while they are still in its cache. */
typedef struct {
    const float *bias;      /* (C) or NULL */
    int relu;
} bwi_epilogue;

static void images_init(float *d, int64_t imgs, int64_t HW, int64_t C, const bwi_epilogue *ep)
{
    if (!ep->bias) {
        memset(d, 0, (size_t)(imgs * HW * C) * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < imgs * HW; i++, d += C)
        memcpy(d, ep->bias, (size_t)C * sizeof(float));
}

static void images_relu(float *d, int64_t n, const bwi_epilogue *ep)
{
    if (ep->relu)
        for (int64_t i = 0; i < n; i++)
            d[i] = d[i] < 0.0f ? 0.0f : d[i];
}

/* col2im for one image: dinp[n] = (bias or 0) + sum over output pixels (p,q) and taps (r,s) of
 * dcol[(p,q)][(r,s,:)], added in that fixed order, then relu if asked. Taps in the padding are
 * dropped. Kept out of line: inlined into backward_input's group loop, its code changed with the
 * group's GEMM call around it (a new gemm() signature made conv1's input gradient 14% slower). */
PYCONV_NOINLINE void col2im(float *dimg, const float *dcol, const conv_ctx *cx, const bwi_epilogue *ep)
{
    const conv2d_shape *sh = cx->sh;
    images_init(dimg, 1, sh->H * sh->W, sh->C, ep);
    for (int64_t p = 0; p < sh->P; p++)
        for (int64_t q = 0; q < sh->Q; q++) {
            const int64_t h0 = window_h0(p, sh), w0 = window_w0(q, sh);
            for (int64_t t = 0; t < sh->R * sh->S; t++, dcol += sh->C) {
                const int64_t h = h0 + cx->taps[t].dh, w = w0 + cx->taps[t].dw;
                if (!in_image(h, w, sh))
                    continue;
                float *d = dimg + (h * sh->W + w) * sh->C;
                for (int64_t c = 0; c < sh->C; c++)
                    d[c] += dcol[c];
            }
        }
    images_relu(dimg, sh->H * sh->W * sh->C, ep);
}

/* What every group of backward_input needs: the filter, packed once for all the groups, and the
 * workspace of the way the group's column gradient reaches the images (one of the two below). */
typedef struct {
    const conv2d_shape *sh;
    const bwi_epilogue *ep;
    int64_t G;             /* images per group */
    conv_ctx cx;
    gemm_operand b;        /* B[k][rsc] = filt[rsc][k], read from bpacked */
    float *bpacked;
    float *dcol;           /* group_col2im: a (G*P*Q, R*S*C) column buffer per thread */
    int64_t *tab;          /* group_scattered: (G*P*Q, R*S) offsets into the group, or -1 */
} bwi_plan;

/* Images n0 .. n0+imgs by a GEMM into the calling thread's column buffer, dcol = dout . filt^T,
 * then col2im image by image. */
static int group_col2im(float *dinp, const float *dout, const bwi_plan *pl, int64_t n0, int64_t imgs)
{
    const conv2d_shape *sh = pl->sh;
    const int64_t PQ = sh->P * sh->Q, RSC = sh->R * sh->S * sh->C;
    float *col = pl->dcol + (size_t)pyconv_thread_num() * (size_t)(pl->G * PQ * RSC);
    gemm_operand a = {.rows = gemm_rows_n, .C = sh->K, .data = dout + n0 * PQ * sh->K, .ld = sh->K};
    int st = gemm(&(gemm_out){.data = col, .ld = RSC}, &a, &pl->b, imgs * PQ, RSC, sh->K, 1);
    if (st != PYCONV_OK)
        return st;
    for (int64_t i = 0; i < imgs; i++)
        col2im(dinp + (n0 + i) * sh->H * sh->W * sh->C, col + i * PQ * RSC, &pl->cx, pl->ep);
    return PYCONV_OK;
}

/* Images n0 .. n0+imgs when NR divides C: the same GEMM, but each finished tile of dcol is added
 * straight into the images from the micro-kernel's tile (a scattered C), so the column
 * gradient never goes to memory and there is no separate col2im pass. */
static int group_scattered(float *dinp, const float *dout, const bwi_plan *pl, int64_t n0,
                           int64_t imgs)
{
    const conv2d_shape *sh = pl->sh;
    const int64_t PQ = sh->P * sh->Q, RS = sh->R * sh->S, HWC = sh->H * sh->W * sh->C;
    images_init(dinp + n0 * HWC, imgs, sh->H * sh->W, sh->C, pl->ep);
    gemm_operand a = {.rows = gemm_rows_n, .C = sh->K, .data = dout + n0 * PQ * sh->K, .ld = sh->K};
    gemm_scatter sc = {.out = dinp + n0 * HWC, .tab = pl->tab, .taps = RS, .C = sh->C};
    int st = gemm(&(gemm_out){.scatter = &sc}, &a, &pl->b, imgs * PQ, RS * sh->C, sh->K, 1);
    images_relu(dinp + n0 * HWC, imgs * HWC, pl->ep);
    return st;
}

/* For row i of a group's GEMM (image i / PQ, output pixel i % PQ) and tap t, the offset of the
 * input pixel the tap reads from the group's first image, or -1 in the padding. */
static void scatter_table(int64_t *tab, const bwi_plan *pl)
{
    const conv2d_shape *sh = pl->sh;
    const int64_t RS = sh->R * sh->S, HWC = sh->H * sh->W * sh->C;
    int64_t n = 0, p = 0, q = 0;
    for (int64_t i = 0; i < pl->G * sh->P * sh->Q; i++, next_pixel(&n, &p, &q, sh))
        for (int64_t t = 0; t < RS; t++) {
            const int64_t h = window_h0(p, sh) + pl->cx.taps[t].dh;
            const int64_t w = window_w0(q, sh) + pl->cx.taps[t].dw;
            tab[i * RS + t] = in_image(h, w, sh) ? n * HWC + (h * sh->W + w) * sh->C : -1;
        }
}

// The workspaces of bwi_plan_make, in the reverse order (scratch.c's rule).
static void bwi_plan_free(bwi_plan *pl)
{
    pyconv_scratch_free(pl->dcol);
    pyconv_scratch_free(pl->tab);
    pyconv_scratch_free(pl->bpacked);
    pyconv_scratch_free(pl->cx.taps);
}

/* Fill pl (its sh, ep and G set) for the scattered or the col2im path; PYCONV_ENOMEM if an
 * allocation fails (then bwi_plan_free still frees what was allocated). */
static int bwi_plan_make(bwi_plan *pl, const float *filt, int scattered, int nthreads)
{
    const conv2d_shape *sh = pl->sh;
    const int64_t rows = pl->G * sh->P * sh->Q, RS = sh->R * sh->S;
    if (make_ctx(&pl->cx, sh) != PYCONV_OK)
        return PYCONV_ENOMEM;
    const gemm_operand bt = {.pack = gemm_pack_b_t, .data = filt, .ld = sh->K};
    pl->bpacked = gemm_prepack_b(&bt, RS * sh->C, sh->K, &pl->b);
    if (scattered)
        pl->tab = pyconv_scratch_alloc((size_t)(rows * RS) * sizeof(int64_t));
    else
        pl->dcol = pyconv_scratch_alloc((size_t)(nthreads * rows * RS * sh->C) * sizeof(float));
    if (!pl->bpacked || (scattered ? !pl->tab : !pl->dcol))
        return PYCONV_ENOMEM;
    if (scattered)
        scatter_table(pl->tab, pl);
    return PYCONV_OK;
}

/* dout (N,P,Q,K), filt (R,S,C,K), dinp (N,H,W,C), overwritten.
 * Per group of G images: dcol (G*P*Q, R*S*C) = dout . filt^T (a plain GEMM: dout rows are
 * contiguous, the filter is packed transposed once), then col2im adds each row's R*S runs of
 * C into the image (group_col2im), or the GEMM adds its tiles there itself (group_scattered,
 * when NR divides C). Threads: over image groups, each by one thread (with its own dcol
 * buffer); an image's dinp is written only by the thread that owns it, in a fixed order, so
 * there is no race and no dependence on the thread count. `ep`: each image starts from the
 * bias (or zero) and ends with relu if asked, in the owning thread. */
static int backward_input(float *dinp, const float *dout, const float *filt, const conv2d_shape *sh,
                          const bwi_epilogue *ep)
{
    if (sh->N == 0)
        return PYCONV_OK;
    /* Groups of about BWI_ROWS rows, but at least 4 when there are 4 images, in equal sizes,
     * so that the threads share the work evenly (a choice made from the sizes only). */
    int64_t ngroups = ceil_div(sh->N * sh->P * sh->Q, BWI_ROWS);
    ngroups = ngroups < 4 ? 4 : ceil_div(ngroups, 4) * 4;
    ngroups = ngroups > sh->N ? sh->N : ngroups;
    const int64_t G = ceil_div(sh->N, ngroups);
    ngroups = ceil_div(sh->N, G);
    const int scattered = sh->C % gemm_nr() == 0, nthreads = pyconv_num_threads();
    bwi_plan pl = {.sh = sh, .ep = ep, .G = G};
    int status = bwi_plan_make(&pl, filt, scattered, nthreads);
    if (status == PYCONV_OK) {
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if(ngroups > 1)
        for (int64_t g = 0; g < ngroups; g++) {
            const int64_t n0 = g * G, imgs = sh->N - n0 < G ? sh->N - n0 : G;
            const int st = scattered ? group_scattered(dinp, dout, &pl, n0, imgs)
                                     : group_col2im(dinp, dout, &pl, n0, imgs);
            if (st != PYCONV_OK) {
                #pragma omp atomic write
                status = st;
            }
        }
    }
    bwi_plan_free(&pl);
    return status;
}

// dout (N,P,Q,K), filt (R,S,C,K), dinp (N,H,W,C), overwritten. Threads: see backward_input.
int conv2d_backward_input(float *dinp, const float *dout, const float *filt, const conv2d_shape *sh)
{
    const bwi_epilogue none = {NULL, 0};
    return backward_input(dinp, dout, filt, sh, &none);
}

/* The transposed convolution: the input gradient of the convolution described by sh, with a
 * bias and relu epilogue. In sh's names (those of the convolution it transposes):
 * inp (N,P,Q,K) -- the transposed conv's input, filt (R,S,C,K), bias (C) or NULL,
 * out (N,H,W,C) -- its output, overwritten: out = relu?(bias + sum of inp's pixels scattered
 * through the filter's taps). Threads: backward_input's, over image groups. */
int conv2d_transpose_forward(float *out, const float *inp, const float *filt, const float *bias,
                             int relu, const conv2d_shape *sh)
{
    const bwi_epilogue ep = {bias, relu};
    return backward_input(out, inp, filt, sh, &ep);
}

/* Pixels per chunk of the backward_filter reduction, roughly: large enough to amortise a
 * GEMM call and its packing. */
#define BWF_CHUNK (4 * 256)

/* The GEMM path's partials together at most this many bytes (but 4 partials at least): each
 * partial is a whole K x RSC filter, written by its chunk's GEMM and read back by bwf_reduce,
 * and within an eighth of L3 (32 MiB on the machine of docs/benchmarks.md) they are still
 * there when it does. At batch 256 the Conv2DTranspose's filter gradient (50,176 pixels,
 * 128 x 576) had 52 partials, 15 MB, and their sum took a fifth of the pass; 12 now (conv2's
 * 32 of 72 KiB stay 32). A chunk's GEMM sums its pixels in depth blocks of KC whatever its
 * length, so a long chunk costs no accuracy. (The small-C loop nest keeps a running sum over
 * a chunk's pixels: its chunks stay short.) */
#define BWF_PARTS_BYTES (4 << 20)

/* How backward_filter lays out its sum over pixels: the GEMM's orientation (or the small-C
 * loop nest) and its chunks, chosen from the sizes only (never the threads). */
typedef struct {
    const conv2d_shape *sh;
    const float *dout, *inp;
    const sc_pooled *pooled;  // the small-C loop nest's dout from a max pooling's (dout NULL)
    int64_t RSC, npix;        // dfilt's rows; the pixels summed over (the GEMM's depth)
    int64_t M, Ncol;          // a partial: K x RSC swapped (the GEMM's), else RSC + the bias row x K
    int64_t nchunks, chunk;   // pixel chunks, each summed by one thread into its own partial
    int swapped, bias_row;
} bwf_plan;

static bwf_plan bwf_plan_make(const conv2d_shape *sh, const float *dout, const float *inp, int has_bias)
{
    bwf_plan pl = {.sh = sh, .dout = dout, .inp = inp, .RSC = sh->R * sh->S * sh->C,
                   .npix = sh->N * sh->P * sh->Q, .swapped = sh->C >= SMALL_C};
    /* Below SMALL_C (the small-C loop nest), a partial's last row is the bias gradient. */
    pl.bias_row = has_bias && !pl.swapped;
    pl.M = pl.swapped ? sh->K : pl.RSC + 1;
    pl.Ncol = pl.swapped ? pl.RSC : sh->K;
    /* Chunks of about BWF_CHUNK pixels, in equal sizes and a multiple of 4 of them, so that
     * the threads share the work evenly. */
    const int64_t npix = pl.npix > 0 ? pl.npix : 1;
    int64_t nchunks = ceil_div(npix, BWF_CHUNK);
    if (nchunks > 1)
        nchunks = ceil_div(nchunks, 4) * 4;
    const int64_t most = BWF_PARTS_BYTES / (int64_t)sizeof(float) / (pl.M * pl.Ncol) / 4 * 4;
    if (pl.swapped && nchunks > most)
        nchunks = most > 4 ? most : 4;
    pl.chunk = ceil_div(npix, nchunks);
    pl.nchunks = ceil_div(npix, pl.chunk);
    return pl;
}

/* The GEMM's operands (C >= SMALL_C; see conv2d_backward_filter); the patches through cx. */
static void bwf_operands(gemm_operand *a, gemm_operand *b, const bwf_plan *pl, const conv_ctx *cx)
{
    const conv2d_shape *sh = pl->sh;
    *a = (gemm_operand){.pack = gemm_pack_a_t, .view = gemm_view_a_t, .data = pl->dout, .ld = sh->K};
    *b = sh->C % gemm_nr() == 0 ? (gemm_operand){.cols = patch_cols, .data = pl->inp, .ctx = cx}
                               : (gemm_operand){.pack = pack_patches_b, .data = pl->inp, .ctx = cx};
}

// Each chunk: the sub-GEMM over the depth (= pixel) slice [p0, p0+len), one thread, its partial.
static int bwf_chunks(float *part, const gemm_operand *a, const gemm_operand *b, const bwf_plan *pl)
{
    int status = PYCONV_OK;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(pyconv_num_threads())
    for (int64_t ch = 0; ch < pl->nchunks; ch++) {
        const int64_t p0 = ch * pl->chunk, len = pl->npix - p0 < pl->chunk ? pl->npix - p0 : pl->chunk;
        gemm_operand a_ch = *a, b_ch = *b;
        a_ch.k0 = b_ch.k0 = p0;
        const int st = gemm(&(gemm_out){.data = part + ch * pl->M * pl->Ncol, .ld = pl->Ncol}, &a_ch,
                            &b_ch, pl->M, pl->Ncol, len, 1);
        if (st != PYCONV_OK) {
            #pragma omp atomic write
            status = st;
        }
    }
    return status;
}

/* Below SMALL_C: every chunk through conv2d_smallc_loops.h's loop nest, for the ISA in use;
 * work: its scratch, conv2d_bwf_smallc_work floats per thread. */
static void bwf_smallc(float *part, const bwf_plan *pl, const conv_ctx *cx, void *work)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(conv2d_bwf_smallc_avx512(part, pl->dout, pl->inp, pl->chunk, pl->nchunks, pl->sh,
                                              cx->depth, pl->pooled, work); break;)
    PYCONV_ON_AVX2(conv2d_bwf_smallc_avx2(part, pl->dout, pl->inp, pl->chunk, pl->nchunks, pl->sh,
                                          cx->depth, pl->pooled, work); break;)
    PYCONV_ON_NEON(conv2d_bwf_smallc_neon(part, pl->dout, pl->inp, pl->chunk, pl->nchunks, pl->sh,
                                          cx->depth, pl->pooled, work); break;)
    default:
        conv2d_bwf_smallc_loop(part, pl->dout, pl->inp, pl->chunk, pl->nchunks, pl->sh, cx->depth,
                               pl->pooled, work);
        break;
    }
}

/* The side of bwf_reduce's square tiles: 16 x 16 floats, 1 KiB of accumulators. */
#define BWF_TILE 16

/* dfilt[rsc][k] (and dbias, row RSC) = the sum over chunks, in chunk order, of the partials.
 * Swapped (the GEMM's K x RSC partials), in tiles of BWF_TILE x BWF_TILE: each tile's rows are
 * summed chunk by chunk as contiguous vectors, then written to dfilt transposed. (The partials
 * were read one element at a time, down their columns: 7 ms of the Conv2DTranspose's 34 ms at
 * batch 256; docs/benchmarks.md section 16.) Each element's sum runs in chunk order either way. */
static void bwf_reduce(float *dfilt, float *dbias, const float *part, const bwf_plan *pl)
{
    const int64_t K = pl->sh->K, size = pl->M * pl->Ncol, RSC = pl->RSC;
    if (!pl->swapped) {
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(pl->nchunks * size > 32768)
        for (int64_t i = 0; i < RSC + pl->bias_row; i++)
            for (int64_t k = 0; k < K; k++) {
                float acc = part[i * K + k];
                for (int64_t ch = 1; ch < pl->nchunks; ch++)
                    acc += part[ch * size + i * K + k];
                (i < RSC ? dfilt + i * K : dbias)[k] = acc;
            }
        return;
    }
    const int64_t ti = ceil_div(RSC, BWF_TILE), tk = ceil_div(K, BWF_TILE);
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(pl->nchunks * size > 32768)
    for (int64_t t = 0; t < ti * tk; t++) {
        const int64_t k0 = t / ti * BWF_TILE, i0 = t % ti * BWF_TILE;
        const int kn = K - k0 < BWF_TILE ? (int)(K - k0) : BWF_TILE;
        const int in = RSC - i0 < BWF_TILE ? (int)(RSC - i0) : BWF_TILE;
        float acc[BWF_TILE][BWF_TILE];
        for (int kk = 0; kk < kn; kk++)
            memcpy(acc[kk], part + (k0 + kk) * RSC + i0, (size_t)in * sizeof(float));
        for (int64_t ch = 1; ch < pl->nchunks; ch++)
            for (int kk = 0; kk < kn; kk++) {
                const float *src = part + ch * size + (k0 + kk) * RSC + i0;
                for (int ii = 0; ii < in; ii++)
                    acc[kk][ii] += src[ii];
            }
        for (int ii = 0; ii < in; ii++)
            for (int kk = 0; kk < kn; kk++)
                dfilt[(i0 + ii) * K + k0 + kk] = acc[kk][ii];
    }
}

/* dout (N,P,Q,K), inp (N,H,W,C), dfilt (R,S,C,K) and dbias (K) or NULL, overwritten.
 *
 *   C >= SMALL_C: one GEMM, dfilt^T (K x RSC) = dout^T . patches. B, the big operand, is read
 *     in place through one pointer per pixel (patch_cols) when NR divides C, else packed from
 *     patch rows in runs of C contiguous floats (pack_patches_b); A, dout^T, is read in place
 *     when MR divides K (the micro-kernel steps through dout's rows), else packed in runs of
 *     MR; the result is transposed while the chunks are reduced. dbias: bias_add_backward.
 *   C <  SMALL_C (the first layer): no GEMM, the direct loop nest of conv2d_smallc_loops.h
 *     (bwf_smallc), the bias gradient summed with the filter's, in the same chunks.
 * Threads: over fixed pixel chunks, each summed by one thread into its own partial; the
 * partials are then summed in chunk order (per element, in parallel over elements). The
 * chunks depend on the sizes only, so the result does not depend on the thread count. */
static int backward_filter(float *dfilt, float *dbias, const float *dout, const float *inp,
                           const conv2d_shape *sh, const sc_pooled *pooled)
{
    bwf_plan pl = bwf_plan_make(sh, dout, inp, dbias != NULL);
    pl.pooled = pooled;
    if (dbias && pl.swapped && bias_add_backward(dbias, dout, pl.npix, sh->K) != PYCONV_OK)
        return PYCONV_ENOMEM;
    conv_ctx cx;
    const int ctx_status = make_ctx(&cx, sh);
    float *part = pyconv_scratch_alloc((size_t)(pl.nchunks * pl.M * pl.Ncol) * sizeof(float));
    const int64_t work_floats = conv2d_bwf_smallc_work(sh) + (pooled ? sc_pooled_work(sh, pooled->psh) : 0);
    float *work = pl.swapped ? NULL : pyconv_scratch_alloc((size_t)(pyconv_num_threads() * work_floats)
                                                           * sizeof(float));
    int status = ctx_status != PYCONV_OK || !part || (!pl.swapped && !work) ? PYCONV_ENOMEM : PYCONV_OK;
    if (status == PYCONV_OK && !pl.swapped) {
        bwf_smallc(part, &pl, &cx, work);
    } else if (status == PYCONV_OK) {
        gemm_operand a, b;
        bwf_operands(&a, &b, &pl, &cx);
        if (pl.nchunks > 1)
            status = bwf_chunks(part, &a, &b, &pl);
        else   // one chunk: the GEMM's own threads
            status = gemm(&(gemm_out){.data = part, .ld = pl.Ncol}, &a, &b, pl.M, pl.Ncol, pl.npix,
                          pyconv_num_threads());
    }
    if (status == PYCONV_OK)
        bwf_reduce(dfilt, dbias, part, &pl);
    pyconv_scratch_free(work);
    pyconv_scratch_free(part);
    pyconv_scratch_free(cx.taps);
    return status;
}

int conv2d_backward_filter(float *dfilt, float *dbias, const float *dout, const float *inp,
                           const conv2d_shape *sh)
{
    return backward_filter(dfilt, dbias, dout, inp, sh, NULL);
}

/* Whether a max pooling psh reads exactly sh's output with windows that do not overlap, and
 * sh takes the small-C loop nest: conv2d_backward_filter_pooled's conditions. */
static int pooled_fits(const conv2d_shape *sh, const pool2d_shape *psh)
{
    return pool2d_check(psh) == PYCONV_OK && sh->C < SMALL_C && psh->N == sh->N && psh->H == sh->P
           && psh->W == sh->Q && psh->C == sh->K && psh->stride_h == psh->R && psh->stride_w == psh->S;
}

int conv2d_backward_filter_pooled(float *dfilt, float *dbias, const float *pool_dout,
                                  const float *out, const float *inp, int relu_mask,
                                  const conv2d_shape *sh, const pool2d_shape *psh)
{
    if (!pooled_fits(sh, psh))
        return PYCONV_EINVAL;
    const sc_pooled pooled = {.dy = pool_dout, .y = out, .psh = psh, .relu = relu_mask};
    return backward_filter(dfilt, dbias, NULL, inp, sh, &pooled);
}

int conv2d_backward_filter_pooled_ref(float *dfilt, float *dbias, const float *pool_dout,
                                      const float *out, const float *inp, int relu_mask,
                                      const conv2d_shape *sh, const pool2d_shape *psh)
{
    if (!pooled_fits(sh, psh))
        return PYCONV_EINVAL;
    float *dout = malloc((size_t)(sh->N * sh->P * sh->Q * sh->K) * sizeof(float) + 1);
    if (!dout)
        return PYCONV_ENOMEM;
    int status = maxpool2d_backward_ref(dout, pool_dout, out, relu_mask, psh);
    if (status == PYCONV_OK)
        conv2d_backward_filter_ref(dfilt, dbias, dout, inp, sh);
    free(dout);
    return status;
}

/* ---- the specification: direct loop nests, double accumulation ------------------------------ */

void conv2d_forward_ref(float *out, const float *inp, const float *filt, const float *bias,
                        int relu, const conv2d_shape *sh)
{
    for (int64_t n = 0; n < sh->N; n++)
    for (int64_t p = 0; p < sh->P; p++)
    for (int64_t q = 0; q < sh->Q; q++)
    for (int64_t k = 0; k < sh->K; k++) {
        double acc = bias ? bias[k] : 0.0;
        for (int64_t r = 0; r < sh->R; r++)
        for (int64_t s = 0; s < sh->S; s++) {
            int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
            int64_t w = q * sh->stride_w - sh->pad_left + s * sh->dil_w;
            if (!in_image(h, w, sh))
                continue;
            for (int64_t c = 0; c < sh->C; c++)
                acc += (double)inp[((n * sh->H + h) * sh->W + w) * sh->C + c]
                       * filt[((r * sh->S + s) * sh->C + c) * sh->K + k];
        }
        out[((n * sh->P + p) * sh->Q + q) * sh->K + k] = relu && acc < 0.0 ? 0.0f : (float)acc;
    }
}

void conv2d_backward_input_ref(float *dinp, const float *dout, const float *filt, const conv2d_shape *sh)
{
    int64_t size = sh->N * sh->H * sh->W * sh->C;
    double *acc = calloc((size_t)(size > 0 ? size : 1), sizeof(double));
    if (!acc)
        return;   /* a test oracle; the tests use small sizes */
    for (int64_t n = 0; n < sh->N; n++)
    for (int64_t p = 0; p < sh->P; p++)
    for (int64_t q = 0; q < sh->Q; q++)
    for (int64_t r = 0; r < sh->R; r++)
    for (int64_t s = 0; s < sh->S; s++) {
        int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
        int64_t w = q * sh->stride_w - sh->pad_left + s * sh->dil_w;
        if (!in_image(h, w, sh))
            continue;
        for (int64_t c = 0; c < sh->C; c++)
            for (int64_t k = 0; k < sh->K; k++)
                acc[((n * sh->H + h) * sh->W + w) * sh->C + c] +=
                    (double)dout[((n * sh->P + p) * sh->Q + q) * sh->K + k]
                    * filt[((r * sh->S + s) * sh->C + c) * sh->K + k];
    }
    for (int64_t i = 0; i < size; i++)
        dinp[i] = (float)acc[i];
    free(acc);
}

/* The transposed convolution's specification: the scatter of each input pixel (p,q) through
 * each tap (r,s) -- the same sum as conv2d_backward_input_ref -- from the bias, then relu. */
void conv2d_transpose_forward_ref(float *out, const float *inp, const float *filt, const float *bias,
                                  int relu, const conv2d_shape *sh)
{
    conv2d_backward_input_ref(out, inp, filt, sh);
    for (int64_t i = 0; i < sh->N * sh->H * sh->W; i++)
        for (int64_t c = 0; c < sh->C; c++) {
            float *o = &out[i * sh->C + c];
            /* the double sum rounded once, then the bias added in float: within the tests'
             * float32 bound of the fast path, which accumulates from the bias */
            *o = bias ? *o + bias[c] : *o;
            *o = relu && *o < 0.0f ? 0.0f : *o;
        }
}

void conv2d_backward_filter_ref(float *dfilt, float *dbias, const float *dout, const float *inp,
                                const conv2d_shape *sh)
{
    for (int64_t r = 0; r < sh->R; r++)
    for (int64_t s = 0; s < sh->S; s++)
    for (int64_t c = 0; c < sh->C; c++)
    for (int64_t k = 0; k < sh->K; k++) {
        double acc = 0.0;
        for (int64_t n = 0; n < sh->N; n++)
        for (int64_t p = 0; p < sh->P; p++)
        for (int64_t q = 0; q < sh->Q; q++) {
            int64_t h = p * sh->stride_h - sh->pad_top + r * sh->dil_h;
            int64_t w = q * sh->stride_w - sh->pad_left + s * sh->dil_w;
            if (!in_image(h, w, sh))
                continue;
            acc += (double)inp[((n * sh->H + h) * sh->W + w) * sh->C + c]
                   * dout[((n * sh->P + p) * sh->Q + q) * sh->K + k];
        }
        dfilt[((r * sh->S + s) * sh->C + c) * sh->K + k] = (float)acc;
    }
    if (dbias)
        bias_add_backward_ref(dbias, dout, sh->N * sh->P * sh->Q, sh->K);
}
