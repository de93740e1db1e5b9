/* conv2d_smallc_avx2.c -- the small-C filter gradient and forward of conv2d_smallc_loops.h
 * compiled with AVX2 flags: 8-float vectors, a tile of 5 filter rows x 2 vectors (15 of the 16
 * ymm registers with the bias, the dout row and the broadcast), a forward tile of 6 pixels x 2
 * vectors (15 with the filter vectors and the broadcast), each multiply-add fused. */
#include <immintrin.h>
#define SC_VEC 8
#define SC_DB 5
#define VEC_FMA(acc, x, g) ((vec_t)_mm256_fmadd_ps((__m256)(x), (__m256)(g), (__m256)(acc)))
#define VEC_SPLAT(x) ((vec_t)_mm256_set1_ps(x))
#include "conv2d_smallc_loops.h"

void conv2d_bwf_smallc_avx2(float *part, const float *dout, const float *inp, int64_t chunk,
                            int64_t nchunks, const conv2d_shape *sh, const conv_tap *depth,
                            const sc_pooled *pooled, void *work)
{
    conv2d_bwf_smallc_loop(part, dout, inp, chunk, nchunks, sh, depth, pooled, work);
}

void conv2d_fwd_smallc_avx2(float *out, const float *inp, const float *w, int64_t Kp, const float *bias,
                            int relu, const conv2d_shape *sh, const conv_tap *depth, void *work,
                            int threads)
{
    conv2d_fwd_smallc_loop(out, inp, w, Kp, bias, relu, sh, depth, work, threads);
}
