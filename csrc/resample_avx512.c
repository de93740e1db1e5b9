/* resample_avx512.c -- the resampling loops of resample_loops.h compiled with AVX-512 flags, chosen by
 * resample.c when the active ISA is avx512. No FMA contraction (CMakeLists.txt), so the results
 * stay bitwise the portable ones. */
#include "resample_loops.h"

void resample_bilinear_forward_avx512(float *out, const float *inp, const lerp_tap *ys, const lerp_tap *xs,
                                      int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q)
{
    resample_bilinear_forward_loop(out, inp, ys, xs, N, H, W, C, P, Q);
}

void resample_bilinear_backward_avx512(float *dinp, const float *dout, const lerp_tap *ys, const lerp_tap *xs,
                                       int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q)
{
    resample_bilinear_backward_loop(dinp, dout, ys, xs, N, H, W, C, P, Q);
}

void resample_affine_forward_avx512(float *out, const float *inp, const float *fill, const float *transforms,
                                    int64_t T, int64_t N, int64_t H, int64_t W, int64_t C, int64_t P,
                                    int64_t Q, int interp, int fill_mode)
{
    resample_affine_forward_loop(out, inp, fill, transforms, T, N, H, W, C, P, Q, interp, fill_mode);
}

void resample_affine_backward_avx512(float *dinp, const float *dout, const float *transforms, int64_t T,
                                     int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                                     int interp, int fill_mode)
{
    resample_affine_backward_loop(dinp, dout, transforms, T, N, H, W, C, P, Q, interp, fill_mode);
}

void resample_nearest_backward_row_avx512(float *d, const float *g, int64_t nrow, const int64_t *xs,
                                      int64_t W, int64_t C, int64_t Q)
{
    resample_nearest_backward_row_loop(d, g, nrow, xs, W, C, Q);
}
