/* depthwise.c -- depthwise 2-D convolution (TensorFlow's depthwise_conv2d, Keras's
 * DepthwiseConv2D): every input channel c convolved with its own M filters (M the depth
 * multiplier) into output channels c*M .. c*M+M-1. inp (N,H,W,C), filt (R,S,C,M), out (N,P,Q,K),
 * K = C*M; any kernel size, stride, dilation and padding (conv2d's geometry, pyconv.h).
 *
 * Why not a GEMM: each output element is a dot product of only R*S terms (9 for 3x3), and no
 * input value meets more than M filter values. A GEMM would have depth R*S and width M: its
 * packing would cost more than the arithmetic, and there is nothing to block for reuse. The work
 * is ~2*R*S FLOPs per output element against ~8 bytes of memory traffic (an input and an output
 * float): memory-bound on any CPU, like batch normalization. So the kernels are direct loop
 * nests that read every tensor in NHWC order once, from memory, and keep everything else in
 * registers or L1: the loops live in depthwise_loops.h (their loop nests are drawn there).
 *
 * What it promises:
 *   - forward: out = bias + sum over in-image taps (r,s) in row-major order of x * f (then relu).
 *     Threads over the N*P output rows; each output element is written by one thread.
 *   - backward_input: the adjoint, written as a gather over the output pixels that read each
 *     input pixel (no scatter, no race). Threads over the N*H input rows.
 *   - backward_filter: a reduction over all N*P*Q output pixels, cut into FIXED chunks of output
 *     rows (DW_CHUNK pixels, chosen from the sizes only); each chunk writes its own partial filter
 *     and bias gradient (per-chunk buffers, one thread each), and the partials are added in chunk
 *     order. So every result is bitwise the same for any thread count.
 *   - Every ISA (portable here, depthwise_avx2.c, depthwise_avx512.c, depthwise_neon.c, chosen
 *     at run time) runs the same lanes in the same order without FMA contraction: bitwise the
 *     same results.
 *   - The _ref twins are the definitions: conv2d_grouped.c's serial loop nests with C groups,
 *     accumulating in double, rounded once; they agree with the fast kernels to float32 rounding.
 *   - PYCONV_EINVAL (nothing written) unless C >= 1, C divides K and the geometry is sane;
 *     PYCONV_ENOMEM if a workspace cannot be allocated. Nothing prints, exits or aborts.
 */
#include <stdlib.h>
#include "depthwise_loops.h"

/* The loops of depthwise_loops.h, compiled for the ISA in use. */
typedef struct {
    void (*forward)(float *, const float *, const float *, const float *, int, const conv2d_shape *,
                    dw_tap *);
    void (*backward_input)(float *, const float *, const float *, const conv2d_shape *, dw_tap *);
    void (*backward_filter)(float *, const float *, const float *, int, int64_t, int64_t,
                            const conv2d_shape *);
} dw_loops;

static void forward_generic(float *out, const float *inp, const float *filt, const float *bias,
                            int relu, const conv2d_shape *sh, dw_tap *tapbuf)
{
    depthwise_forward_loop(out, inp, filt, bias, relu, sh, tapbuf);
}

static void backward_input_generic(float *dinp, const float *dout, const float *filt,
                                   const conv2d_shape *sh, dw_tap *tapbuf)
{
    depthwise_backward_input_loop(dinp, dout, filt, sh, tapbuf);
}

static void backward_filter_generic(float *part, const float *dout, const float *inp, int bias,
                                    int64_t rows, int64_t nchunks, const conv2d_shape *sh)
{
    depthwise_backward_filter_loop(part, dout, inp, bias, rows, nchunks, sh);
}

static dw_loops isa_loops(void)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(return (dw_loops){depthwise_forward_avx512, depthwise_backward_input_avx512,
                                       depthwise_backward_filter_avx512};)
    PYCONV_ON_AVX2(return (dw_loops){depthwise_forward_avx2, depthwise_backward_input_avx2,
                                     depthwise_backward_filter_avx2};)
    PYCONV_ON_NEON(return (dw_loops){depthwise_forward_neon, depthwise_backward_input_neon,
                                     depthwise_backward_filter_neon};)
    default:
        return (dw_loops){forward_generic, backward_input_generic, backward_filter_generic};
    }
}

/* The sizes every kernel needs (the Python side checks them first, with messages). */
static int dw_check(const conv2d_shape *sh)
{
    if (sh->N < 0 || sh->H < 0 || sh->W < 0 || sh->C < 1 || sh->K < sh->C || sh->K % sh->C
        || sh->R < 1 || sh->S < 1 || sh->P < 0 || sh->Q < 0 || sh->stride_h < 1 || sh->stride_w < 1
        || sh->dil_h < 1 || sh->dil_w < 1 || sh->pad_top < 0 || sh->pad_left < 0)
        return PYCONV_EINVAL;
    return PYCONV_OK;
}

/* Two lists of R*S taps for each thread a parallel loop may use (NULL: PYCONV_ENOMEM). */
static dw_tap *tap_buffers(const conv2d_shape *sh)
{
    return pyconv_scratch_alloc((size_t)(pyconv_num_threads() * 2 * sh->R * sh->S) * sizeof(dw_tap));
}

// inp (N,H,W,C), filt (R,S,C,M), bias (K) or NULL, out (N,P,Q,K), overwritten.
// Threads: over N*P output rows (depthwise_forward_loop).
int depthwise_conv2d_forward(float *out, const float *inp, const float *filt, const float *bias,
                             int relu, const conv2d_shape *sh)
{
    if (dw_check(sh) != PYCONV_OK)
        return PYCONV_EINVAL;
    dw_tap *taps = tap_buffers(sh);
    if (!taps)
        return PYCONV_ENOMEM;
    isa_loops().forward(out, inp, filt, bias, relu, sh, taps);
    pyconv_scratch_free(taps);
    return PYCONV_OK;
}

// dout (N,P,Q,K), filt (R,S,C,M), dinp (N,H,W,C), overwritten.
// Threads: over N*H input rows (depthwise_backward_input_loop).
int depthwise_conv2d_backward_input(float *dinp, const float *dout, const float *filt,
                                    const conv2d_shape *sh)
{
    if (dw_check(sh) != PYCONV_OK)
        return PYCONV_EINVAL;
    dw_tap *taps = tap_buffers(sh);
    if (!taps)
        return PYCONV_ENOMEM;
    isa_loops().backward_input(dinp, dout, filt, sh, taps);
    pyconv_scratch_free(taps);
    return PYCONV_OK;
}

// dout (N,P,Q,K), inp (N,H,W,C), dfilt (R,S,C,M) and dbias (K) or NULL, overwritten.
// Threads: over fixed chunks of output rows, each into its own partial (per-chunk buffers), then
// the partials summed in chunk order, in parallel over filter elements. The chunks depend on the
// sizes only: bitwise the same for any thread count.
int depthwise_conv2d_backward_filter(float *dfilt, float *dbias, const float *dout,
                                     const float *inp, const conv2d_shape *sh)
{
    if (dw_check(sh) != PYCONV_OK)
        return PYCONV_EINVAL;
    const int64_t K = sh->K, RSK = sh->R * sh->S * K, NP = sh->N * sh->P;
    /* Output rows per chunk: about DW_CHUNK pixels, more when the partials would be too big. */
    int64_t rows = sh->Q > 0 && sh->Q < DW_CHUNK ? DW_CHUNK / sh->Q : 1;
    int64_t nchunks = NP > 0 ? ceil_div(NP, rows) : 1;
    while (nchunks > 1 && nchunks * (RSK + K) > DW_PART_MAX) {
        rows *= 2;
        nchunks = ceil_div(NP, rows);
    }
    float *part = pyconv_scratch_alloc((size_t)(nchunks * (RSK + K)) * sizeof(float));
    if (!part)
        return PYCONV_ENOMEM;
    isa_loops().backward_filter(part, dout, inp, dbias != NULL, rows, nchunks, sh);
    /* dfilt (then dbias) = the partials added in chunk order: the same order for any threads. */
    const int64_t total = RSK + (dbias ? K : 0);
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) \
        if(nchunks * total > DW_PAR_MIN)
    for (int64_t i = 0; i < total; i++) {
        float acc = part[i];
        for (int64_t ch = 1; ch < nchunks; ch++)
            acc += part[ch * (RSK + K) + i];
        (i < RSK ? dfilt + i : dbias + (i - RSK))[0] = acc;
    }
    pyconv_scratch_free(part);
    return PYCONV_OK;
}

/* ---- the specification ----------------------------------------------------------------------
 * Depthwise with multiplier M is the grouped convolution with C groups of one input channel and
 * M output channels each: the same sums over the same filter memory ((R,S,C,M) is (R,S,1,K)),
 * so its definition is conv2d_grouped.c's direct loop nests (double accumulation) with
 * groups = C. */

int depthwise_conv2d_forward_ref(float *out, const float *inp, const float *filt,
                                 const float *bias, int relu, const conv2d_shape *sh)
{
    if (dw_check(sh) != PYCONV_OK)
        return PYCONV_EINVAL;
    return conv2d_grouped_forward_ref(out, inp, filt, bias, relu, sh, sh->C);
}

int depthwise_conv2d_backward_input_ref(float *dinp, const float *dout, const float *filt,
                                        const conv2d_shape *sh)
{
    if (dw_check(sh) != PYCONV_OK)
        return PYCONV_EINVAL;
    return conv2d_grouped_backward_input_ref(dinp, dout, filt, sh, sh->C);
}

int depthwise_conv2d_backward_filter_ref(float *dfilt, float *dbias, const float *dout,
                                         const float *inp, const conv2d_shape *sh)
{
    if (dw_check(sh) != PYCONV_OK)
        return PYCONV_EINVAL;
    return conv2d_grouped_backward_filter_ref(dfilt, dbias, dout, inp, sh, sh->C);
}
