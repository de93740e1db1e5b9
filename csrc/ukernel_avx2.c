/* ukernel_avx2.c -- AVX2+FMA micro-kernel, 6 x 16: per step of k, two 8-float loads of B
 * and six broadcasts of A feed twelve FMAs into twelve ymm accumulators (blocking.h).
 * Compiled with -mavx2 -mfma in its own translation unit; only called when the CPU has it. */
#include <immintrin.h>
#include "target.h"
#include "blocking.h"
#include "gemm.h"

_Static_assert(AVX2_MR == 6, "the *_rows kernels below have a case for each m < AVX2_MR");

/* C tile = (overwrite ? 0 : C) + acc, then + bias unless NULL, then max(0, .) if relu: the
 * epilogue, applied on the last depth block while the tile is still in registers. */
PYCONV_ALWAYS_INLINE void
store_tile(const int m, __m256 acc[AVX2_MR][2], float *c, int64_t ldc, int overwrite,
           const float *bias, int relu)
{
    #pragma GCC unroll 6   /* whole: the accumulators stay in registers */
    for (int i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (!overwrite) {
            acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(ci), acc[i][0]);
            acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc[i][1]);
        }
        if (bias) {
            acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(bias));
            acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(bias + 8));
        }
        if (relu) {   /* max(0, x): with a NaN, max returns its second operand, so NaN stays */
            acc[i][0] = _mm256_max_ps(_mm256_setzero_ps(), acc[i][0]);
            acc[i][1] = _mm256_max_ps(_mm256_setzero_ps(), acc[i][1]);
        }
        _mm256_storeu_ps(ci, acc[i][0]);
        _mm256_storeu_ps(ci + 8, acc[i][1]);
    }
}

// Packed A and B: rows [0, m) of the tile.
PYCONV_ALWAYS_INLINE void
rows_packed(const int m, int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
            int overwrite, const float *bias, int relu)
{
    __m256 acc[AVX2_MR][2];
    #pragma GCC unroll 6   /* whole: the accumulators stay in registers */
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        #pragma GCC unroll 6
        for (int i = 0; i < m; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX2_MR;
        b += AVX2_NR;
    }
    store_tile(m, acc, c, ldc, overwrite, bias, relu);
}

void ukernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite,
                  const float *bias, int relu)
{
    rows_packed(AVX2_MR, kc, a, b, c, ldc, overwrite, bias, relu);
}

/* The indirect variant's sum (see ukernel_avx512_ind): MR row pointers per tap instead of a
 * packed A panel. Inlined whole into both callers, so the accumulators stay in registers. */
PYCONV_ALWAYS_INLINE void
sum_ind(const int m, __m256 acc[AVX2_MR][2], int64_t ntaps, int64_t kc, const float *const *a,
        const float *b, int64_t ldb)
{
    #pragma GCC unroll 6   /* whole: the accumulators stay in registers */
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t t = 0; t < ntaps; t++, a += AVX2_MR) {
        for (int64_t k = 0; k < kc; k++) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            #pragma GCC unroll 6
            for (int i = 0; i < m; i++) {
                __m256 ai = _mm256_broadcast_ss(a[i] + k);
                acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            }
            b += ldb;
        }
    }
}

PYCONV_ALWAYS_INLINE void
rows_ind(const int m, int64_t ntaps, int64_t kc, const float *const *a, const float *b, int64_t ldb,
         float *c, int64_t ldc, int overwrite, const float *bias, int relu)
{
    __m256 acc[AVX2_MR][2];
    sum_ind(m, acc, ntaps, kc, a, b, ldb);
    store_tile(m, acc, c, ldc, overwrite, bias, relu);
}

void ukernel_avx2_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                      int64_t ldb, float *c, int64_t ldc, int overwrite, const float *bias, int relu)
{
    rows_ind(AVX2_MR, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu);
}

/* The indirect variant into a scattered C (see ukernel_avx512_ind_add): row i of the tile
 * added to the NR floats at c[i], or dropped where c[i] is NULL. */
void ukernel_avx2_ind_add(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                          float *const *c)
{
    __m256 acc[AVX2_MR][2];
    sum_ind(AVX2_MR, acc, ntaps, kc, a, b, AVX2_NR);
    #pragma GCC unroll 6   /* whole: the accumulators stay in registers */
    for (int i = 0; i < AVX2_MR; i++)
        if (c[i]) {
            _mm256_storeu_ps(c[i], _mm256_add_ps(_mm256_loadu_ps(c[i]), acc[i][0]));
            _mm256_storeu_ps(c[i] + 8, _mm256_add_ps(_mm256_loadu_ps(c[i] + 8), acc[i][1]));
        }
}

/* The variant with an indirect B (see ukernel_avx512_indb). */
PYCONV_ALWAYS_INLINE void
rows_indb(const int m, int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
          int64_t ldc, int overwrite, const float *bias, int relu)
{
    __m256 acc[AVX2_MR][2];
    #pragma GCC unroll 6   /* whole: the accumulators stay in registers */
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b[k]), b1 = _mm256_loadu_ps(b[k] + 8);
        #pragma GCC unroll 6
        for (int i = 0; i < m; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += lda;
    }
    store_tile(m, acc, c, ldc, overwrite, bias, relu);
}

void ukernel_avx2_indb(int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
                       int64_t ldc, int overwrite, const float *bias, int relu)
{
    rows_indb(AVX2_MR, kc, a, lda, b, c, ldc, overwrite, bias, relu);
}

/* The edge tiles (see ukernel_avx512_rows): rows [0, m) of the three kernels above, 1 <= m < MR;
 * m is a constant in each case, so each is its own unrolled copy. */
void ukernel_avx2_rows(int m, int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                       int overwrite, const float *bias, int relu)
{
    switch (m) {
    case 1: rows_packed(1, kc, a, b, c, ldc, overwrite, bias, relu); break;
    case 2: rows_packed(2, kc, a, b, c, ldc, overwrite, bias, relu); break;
    case 3: rows_packed(3, kc, a, b, c, ldc, overwrite, bias, relu); break;
    case 4: rows_packed(4, kc, a, b, c, ldc, overwrite, bias, relu); break;
    default: rows_packed(5, kc, a, b, c, ldc, overwrite, bias, relu); break;
    }
}

void ukernel_avx2_ind_rows(int m, int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                           int64_t ldb, float *c, int64_t ldc, int overwrite, const float *bias,
                           int relu)
{
    switch (m) {
    case 1: rows_ind(1, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    case 2: rows_ind(2, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    case 3: rows_ind(3, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    case 4: rows_ind(4, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    default: rows_ind(5, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    }
}

void ukernel_avx2_indb_rows(int m, int64_t kc, const float *a, int64_t lda, const float *const *b,
                            float *c, int64_t ldc, int overwrite, const float *bias, int relu)
{
    switch (m) {
    case 1: rows_indb(1, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    case 2: rows_indb(2, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    case 3: rows_indb(3, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    case 4: rows_indb(4, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    default: rows_indb(5, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    }
}
