/* ukernel_generic.c -- the portable micro-kernel: GENERIC_MR x GENERIC_NR in plain C.
 * Always built and always tested; it is also the clearest statement of what every
 * micro-kernel computes: an outer-product update of a register tile per step of k. */
#include "blocking.h"
#include "gemm.h"

void ukernel_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite)
{
    float acc[GENERIC_MR][GENERIC_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < GENERIC_MR; i++)
            for (int j = 0; j < GENERIC_NR; j++)
                acc[i][j] += a[i] * b[j];       /* rank-1 update: column of A x row of B */
        a += GENERIC_MR;
        b += GENERIC_NR;
    }
    for (int i = 0; i < GENERIC_MR; i++)
        for (int j = 0; j < GENERIC_NR; j++)
            c[i * ldc + j] = overwrite ? acc[i][j] : c[i * ldc + j] + acc[i][j];
}

/* The indirect variant: for each of `ntaps` taps, MR row pointers to kc contiguous floats
 * (a[t*MR + i]) take the place of a packed A panel; see gemm.c. */
void ukernel_generic_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                         float *c, int64_t ldc, int overwrite)
{
    float acc[GENERIC_MR][GENERIC_NR] = {{0}};
    for (int64_t t = 0; t < ntaps; t++, a += GENERIC_MR)
        for (int64_t k = 0; k < kc; k++) {
            for (int i = 0; i < GENERIC_MR; i++)
                for (int j = 0; j < GENERIC_NR; j++)
                    acc[i][j] += a[i][k] * b[j];
            b += GENERIC_NR;
        }
    for (int i = 0; i < GENERIC_MR; i++)
        for (int j = 0; j < GENERIC_NR; j++)
            c[i * ldc + j] = overwrite ? acc[i][j] : c[i * ldc + j] + acc[i][j];
}
