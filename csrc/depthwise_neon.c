/* depthwise_neon.c -- the depthwise-convolution loops of depthwise_loops.h compiled for aarch64,
 * chosen by depthwise.c when the active ISA is neon. Advanced SIMD is aarch64's base ISA, so the
 * portable build already uses it, 4 floats wide (DW_VEC 4, the default): this translation unit
 * gives neon the same dispatch as every other ISA and is where NEON-specific code would go. No
 * FMA contraction (CMakeLists.txt), so the results stay bitwise the portable ones. */
#include "depthwise_loops.h"

void depthwise_forward_neon(float *out, const float *inp, const float *filt, const float *bias,
                            int relu, const conv2d_shape *sh, dw_tap *tapbuf)
{
    depthwise_forward_loop(out, inp, filt, bias, relu, sh, tapbuf);
}

void depthwise_backward_input_neon(float *dinp, const float *dout, const float *filt,
                                   const conv2d_shape *sh, dw_tap *tapbuf)
{
    depthwise_backward_input_loop(dinp, dout, filt, sh, tapbuf);
}

void depthwise_backward_filter_neon(float *part, const float *dout, const float *inp, int bias,
                                    int64_t rows, int64_t nchunks, const conv2d_shape *sh)
{
    depthwise_backward_filter_loop(part, dout, inp, bias, rows, nchunks, sh);
}
