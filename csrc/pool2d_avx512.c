/* pool2d_avx512.c -- the pooling loops of pool2d_loops.h compiled with AVX-512 flags (and no FMA
 * contraction, so the results stay bitwise the portable ones). */
#define POOL_VEC 16   /* floats per vector register */
#include "pool2d_loops.h"

void maxpool2d_forward_avx512(float *out, const float *inp, const pool2d_shape *sh)
{
    maxpool2d_forward_loop(out, inp, sh);
}

void maxpool2d_backward_avx512(float *dinp, const float *dout, const float *inp, int relu_mask,
                               const pool2d_shape *sh)
{
    maxpool2d_backward_loop(dinp, dout, inp, relu_mask, sh);
}

void avgpool2d_forward_avx512(float *out, const float *inp, const pool2d_shape *sh)
{
    avgpool2d_forward_loop(out, inp, sh);
}

void avgpool2d_backward_avx512(float *dinp, const float *dout, const pool2d_shape *sh)
{
    avgpool2d_backward_loop(dinp, dout, sh);
}
