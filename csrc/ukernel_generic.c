/* ukernel_generic.c -- the portable micro-kernel: GENERIC_MR x GENERIC_NR in plain C.
 * Always built and always tested; it is also the clearest statement of what every
 * micro-kernel computes: an outer-product update of a register tile per step of k. */
#include "blocking.h"
#include "gemm.h"

/* C tile = (overwrite ? 0 : C) + acc, then + bias, then max(0, .) if relu -- the epilogue is
 * applied on the last depth block only (the driver passes bias = NULL, relu = 0 before). */
static void store_tile(float *c, int64_t ldc, float acc[GENERIC_MR][GENERIC_NR], int overwrite,
                       const float *bias, int relu)
{
    for (int i = 0; i < GENERIC_MR; i++)
        for (int j = 0; j < GENERIC_NR; j++) {
            float v = overwrite ? acc[i][j] : c[i * ldc + j] + acc[i][j];
            if (bias)
                v += bias[j];
            if (relu)
                v = v < 0.0f ? 0.0f : v;   /* NaN stays NaN */
            c[i * ldc + j] = v;
        }
}

void ukernel_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite,
                     const float *bias, int relu)
{
    float acc[GENERIC_MR][GENERIC_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < GENERIC_MR; i++)
            for (int j = 0; j < GENERIC_NR; j++)
                acc[i][j] += a[i] * b[j];       /* rank-1 update: column of A x row of B */
        a += GENERIC_MR;
        b += GENERIC_NR;
    }
    store_tile(c, ldc, acc, overwrite, bias, relu);
}

/* The indirect variant's sum: for each of `ntaps` taps, MR row pointers to kc contiguous
 * floats (a[t*MR + i]) take the place of a packed A panel; see gemm.c. */
static void sum_ind(float acc[GENERIC_MR][GENERIC_NR], int64_t ntaps, int64_t kc,
                    const float *const *a, const float *b, int64_t ldb)
{
    for (int64_t t = 0; t < ntaps; t++, a += GENERIC_MR)
        for (int64_t k = 0; k < kc; k++) {
            for (int i = 0; i < GENERIC_MR; i++)
                for (int j = 0; j < GENERIC_NR; j++)
                    acc[i][j] += a[i][k] * b[j];
            b += ldb;
        }
}

void ukernel_generic_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                         int64_t ldb, float *c, int64_t ldc, int overwrite, const float *bias,
                         int relu)
{
    float acc[GENERIC_MR][GENERIC_NR] = {{0}};
    sum_ind(acc, ntaps, kc, a, b, ldb);
    store_tile(c, ldc, acc, overwrite, bias, relu);
}

/* The indirect variant into a scattered C (gemm_scatter): row i of the tile added to the NR
 * floats at c[i], or dropped where c[i] is NULL. */
void ukernel_generic_ind_add(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                             float *const *c)
{
    float acc[GENERIC_MR][GENERIC_NR] = {{0}};
    sum_ind(acc, ntaps, kc, a, b, GENERIC_NR);
    for (int i = 0; i < GENERIC_MR; i++)
        if (c[i])
            for (int j = 0; j < GENERIC_NR; j++)
                c[i][j] = c[i][j] + acc[i][j];
}

/* The variant with an indirect B: row k of the B micro-panel is read through b[k]; A's MR
 * values for depth k at a[k * lda ..] (lda = MR when packed). */
void ukernel_generic_indb(int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
                          int64_t ldc, int overwrite, const float *bias, int relu)
{
    float acc[GENERIC_MR][GENERIC_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < GENERIC_MR; i++)
            for (int j = 0; j < GENERIC_NR; j++)
                acc[i][j] += a[i] * b[k][j];
        a += lda;
    }
    store_tile(c, ldc, acc, overwrite, bias, relu);
}
