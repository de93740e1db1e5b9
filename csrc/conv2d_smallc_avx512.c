/* conv2d_smallc_avx512.c -- the small-C filter gradient and forward of conv2d_smallc_loops.h
 * compiled with AVX-512 flags: 16-float vectors, a tile of 9 filter rows x 2 vectors (a 3x3
 * filter on one channel, 32 output channels, in one tile: 23 of the 32 zmm registers with the
 * bias, the dout row and the broadcast), a forward tile of 12 pixels x 2 vectors (SCF_NP: 27
 * with the filter vectors and the broadcast), each multiply-add fused. */
#include <immintrin.h>
#define SC_VEC 16
#define SC_DB 9
#define VEC_FMA(acc, x, g) ((vec_t)_mm512_fmadd_ps((__m512)(x), (__m512)(g), (__m512)(acc)))
#define VEC_SPLAT(x) ((vec_t)_mm512_set1_ps(x))
#define SCF_NP 12
#include "conv2d_smallc_loops.h"

void conv2d_bwf_smallc_avx512(float *part, const float *dout, const float *inp, int64_t chunk,
                              int64_t nchunks, const conv2d_shape *sh, const conv_tap *depth,
                              const sc_pooled *pooled, void *work)
{
    conv2d_bwf_smallc_loop(part, dout, inp, chunk, nchunks, sh, depth, pooled, work);
}

void conv2d_fwd_smallc_avx512(float *out, const float *inp, const float *w, int64_t Kp, const float *bias,
                            int relu, const conv2d_shape *sh, const conv_tap *depth, void *work,
                            int threads)
{
    conv2d_fwd_smallc_loop(out, inp, w, Kp, bias, relu, sh, depth, work, threads);
}
