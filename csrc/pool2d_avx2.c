/* pool2d_avx2.c -- the pooling loops of pool2d_loops.h compiled with AVX2 flags (and no FMA
 * contraction, so the results stay bitwise the portable ones). */
#define POOL_VEC 8   /* floats per vector register */
#include "pool2d_loops.h"

void maxpool2d_forward_avx2(float *out, const float *inp, const pool2d_shape *sh)
{
    maxpool2d_forward_loop(out, inp, sh);
}

void maxpool2d_backward_avx2(float *dinp, const float *dout, const float *inp, int relu_mask,
                             const pool2d_shape *sh)
{
    maxpool2d_backward_loop(dinp, dout, inp, relu_mask, sh);
}

void avgpool2d_forward_avx2(float *out, const float *inp, const pool2d_shape *sh)
{
    avgpool2d_forward_loop(out, inp, sh);
}

void avgpool2d_backward_avx2(float *dinp, const float *dout, const pool2d_shape *sh)
{
    avgpool2d_backward_loop(dinp, dout, sh);
}
