/* pool2d_neon.c -- the pooling loops of pool2d_loops.h compiled for aarch64, chosen by pool2d.c
 * when the active ISA is neon. Advanced SIMD is aarch64's base ISA, so the compiler already
 * vectorises its channel loops with it, 4 floats wide, in the portable build too: this translation
 * unit gives neon the same dispatch as every other ISA and is where NEON-specific code for
 * these loops would go. No FMA contraction (CMakeLists.txt), so the results stay bitwise the
 * portable ones. */
#include "pool2d_loops.h"

void maxpool2d_forward_neon(float *out, const float *inp, const pool2d_shape *sh)
{
    maxpool2d_forward_loop(out, inp, sh);
}

void maxpool2d_backward_neon(float *dinp, const float *dout, const float *inp, int relu_mask,
                             const pool2d_shape *sh)
{
    maxpool2d_backward_loop(dinp, dout, inp, relu_mask, sh);
}

void avgpool2d_forward_neon(float *out, const float *inp, const pool2d_shape *sh)
{
    avgpool2d_forward_loop(out, inp, sh);
}

void avgpool2d_backward_neon(float *dinp, const float *dout, const pool2d_shape *sh)
{
    avgpool2d_backward_loop(dinp, dout, sh);
}
