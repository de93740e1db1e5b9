/* dense_avx2.c -- the small-batch dense forward of dense_loops.h compiled with AVX2 flags
 * and no FMA contraction, so the results stay bitwise the portable ones. */
#include "dense_loops.h"

void dense_forward_rows_avx2(float *out, const float *x, const float *w, const float *b, int relu,
                             int64_t N, int64_t C, int64_t K)
{
    dense_forward_rows_loop(out, x, w, b, relu, N, C, K);
}
