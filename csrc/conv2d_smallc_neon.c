/* conv2d_smallc_neon.c -- the small-C filter gradient of conv2d_smallc_loops.h compiled for
 * aarch64: 4-float vectors, a tile of 9 filter rows x 2 vectors (23 of the 32 q registers with
 * the bias, the dout row and the broadcast), each multiply-add fused (FMLA). */
#include <arm_neon.h>
#define SC_VEC 4
#define SC_DB 9
#define VEC_FMA(acc, x, g) ((vec_t)vfmaq_f32((float32x4_t)(acc), (float32x4_t)(x), (float32x4_t)(g)))
#include "conv2d_smallc_loops.h"

void conv2d_bwf_smallc_neon(float *part, const float *dout, const float *inp, int64_t chunk,
                            int64_t nchunks, const conv2d_shape *sh, const conv_tap *depth, void *work)
{
    conv2d_bwf_smallc_loop(part, dout, inp, chunk, nchunks, sh, depth, work);
}
