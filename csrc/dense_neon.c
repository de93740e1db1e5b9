/* dense_neon.c -- the small-batch dense forward of dense_loops.h compiled for aarch64, whose
 * base ISA has Advanced SIMD; no FMA contraction, so the results stay bitwise the portable ones. */
#include "dense_loops.h"

void dense_forward_rows_neon(float *out, const float *x, const float *w, const float *b, int relu,
                             int64_t N, int64_t C, int64_t K)
{
    dense_forward_rows_loop(out, x, w, b, relu, N, C, K);
}
