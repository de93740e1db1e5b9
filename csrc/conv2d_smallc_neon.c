/* conv2d_smallc_neon.c -- the small-C filter gradient and forward of conv2d_smallc_loops.h
 * compiled for aarch64: 4-float vectors, a tile of 9 filter rows x 2 vectors (23 of the 32 q
 * registers with the bias, the dout row and the broadcast), a forward tile of 12 pixels x 2
 * vectors (27), each multiply-add fused (FMLA). */
#include <arm_neon.h>
#define SC_VEC 4
#define SC_DB 9
#define VEC_FMA(acc, x, g) ((vec_t)vfmaq_f32((float32x4_t)(acc), (float32x4_t)(x), (float32x4_t)(g)))
#define SCF_NP 12
#include "conv2d_smallc_loops.h"

void conv2d_bwf_smallc_neon(float *part, const float *dout, const float *inp, int64_t chunk,
                            int64_t nchunks, const conv2d_shape *sh, const conv_tap *depth,
                            const sc_pooled *pooled, void *work)
{
    conv2d_bwf_smallc_loop(part, dout, inp, chunk, nchunks, sh, depth, pooled, work);
}

void conv2d_fwd_smallc_neon(float *out, const float *inp, const float *w, int64_t Kp, const float *bias,
                            int relu, const conv2d_shape *sh, const conv_tap *depth, void *work,
                            int threads)
{
    conv2d_fwd_smallc_loop(out, inp, w, Kp, bias, relu, sh, depth, work, threads);
}
