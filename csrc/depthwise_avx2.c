/* depthwise_avx2.c -- the depthwise-convolution loops of depthwise_loops.h compiled with AVX2
 * flags (and no FMA contraction, so the results stay bitwise the portable ones). */
#define DW_VEC 8   /* floats per vector register */
#include "depthwise_loops.h"

void depthwise_forward_avx2(float *out, const float *inp, const float *filt, const float *bias,
                            int relu, const conv2d_shape *sh, dw_tap *tapbuf)
{
    depthwise_forward_loop(out, inp, filt, bias, relu, sh, tapbuf);
}

void depthwise_backward_input_avx2(float *dinp, const float *dout, const float *filt,
                                   const conv2d_shape *sh, dw_tap *tapbuf)
{
    depthwise_backward_input_loop(dinp, dout, filt, sh, tapbuf);
}

void depthwise_backward_filter_avx2(float *part, const float *dout, const float *inp, int bias,
                                    int64_t rows, int64_t nchunks, const conv2d_shape *sh)
{
    depthwise_backward_filter_loop(part, dout, inp, bias, rows, nchunks, sh);
}
