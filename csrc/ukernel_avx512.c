/* ukernel_avx512.c -- AVX-512 micro-kernel, 8 x 32: per step of k, two 16-float loads of
 * B and eight broadcasts of A feed 16 FMAs into 16 zmm accumulators (blocking.h). With two
 * FMA pipes of latency 4, at least 8 independent accumulators are needed to keep them busy;
 * 16 are twice that, and the 10 loads per step fit this core's load ports. Compiled with
 * -mavx512f in its own translation unit; only called when the CPU has it.
 *
 * Each kernel's body is an inlined function of the tile's row count m: the whole tile is
 * m = AVX512_MR, and the *_rows kernels run an edge tile of m < MR rows (the rows past M) with
 * only m rows of FMAs -- the ninth row of a 9-row product (conv3 of the tutorial CNN at batch 1)
 * cost a whole 8-row tile. A row's sum is the same chain of FMAs in either, so the same bits. */
#include <immintrin.h>
#include "target.h"
#include "blocking.h"
#include "gemm.h"

_Static_assert(AVX512_MR == 8, "the *_rows kernels below have a case for each m < AVX512_MR");

/* C tile = (overwrite ? 0 : C) + acc, then + bias unless NULL, then max(0, .) if relu: the
 * epilogue, applied on the last depth block while the tile is still in registers. */
PYCONV_ALWAYS_INLINE void
store_tile(const int m, __m512 acc[AVX512_MR][2], float *c, int64_t ldc, int overwrite,
           const float *bias, int relu)
{
    #pragma GCC unroll 8   /* whole: the accumulators stay in registers */
    for (int i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (!overwrite) {
            acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(ci), acc[i][0]);
            acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(ci + 16), acc[i][1]);
        }
        if (bias) {
            acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(bias));
            acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(bias + 16));
        }
        if (relu) {   /* max(0, x): with a NaN, max returns its second operand, so NaN stays */
            acc[i][0] = _mm512_max_ps(_mm512_setzero_ps(), acc[i][0]);
            acc[i][1] = _mm512_max_ps(_mm512_setzero_ps(), acc[i][1]);
        }
        _mm512_storeu_ps(ci, acc[i][0]);
        _mm512_storeu_ps(ci + 16, acc[i][1]);
    }
}

// Packed A and B: rows [0, m) of the tile.
PYCONV_ALWAYS_INLINE void
rows_packed(const int m, int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
            int overwrite, const float *bias, int relu)
{
    __m512 acc[AVX512_MR][2];
    #pragma GCC unroll 8   /* whole: the accumulators stay in registers */
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        #pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);   /* one vbroadcastss for both FMAs */
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX512_MR;
        b += AVX512_NR;
    }
    store_tile(m, acc, c, ldc, overwrite, bias, relu);
}

void ukernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite,
                    const float *bias, int relu)
{
    rows_packed(AVX512_MR, kc, a, b, c, ldc, overwrite, bias, relu);
}

/* The indirect variant's sum: A is not packed. For each of `ntaps` taps the caller gives MR row
 * pointers (a[t*MR + i]), each to kc contiguous floats -- for a convolution, the C channels
 * of one input pixel under one filter tap (or a zero row for the padding). B is packed as
 * above, its depth running over (tap, channel). Inlined whole into both callers below. */
PYCONV_ALWAYS_INLINE void
sum_ind(const int m, __m512 acc[AVX512_MR][2], int64_t ntaps, int64_t kc, const float *const *a,
        const float *b, int64_t ldb)
{
    #pragma GCC unroll 8   /* whole: the accumulators stay in registers */
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t t = 0; t < ntaps; t++, a += AVX512_MR) {
        for (int64_t k = 0; k < kc; k++) {
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
            #pragma GCC unroll 8
            for (int i = 0; i < m; i++) {
                __m512 ai = _mm512_set1_ps(a[i][k]);
                acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            }
            b += ldb;
        }
    }
}

// The indirect variant, into a stored C tile with the epilogue.
PYCONV_ALWAYS_INLINE void
rows_ind(const int m, int64_t ntaps, int64_t kc, const float *const *a, const float *b, int64_t ldb,
         float *c, int64_t ldc, int overwrite, const float *bias, int relu)
{
    __m512 acc[AVX512_MR][2];
    sum_ind(m, acc, ntaps, kc, a, b, ldb);
    store_tile(m, acc, c, ldc, overwrite, bias, relu);
}

void ukernel_avx512_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                        int64_t ldb, float *c, int64_t ldc, int overwrite, const float *bias,
                        int relu)
{
    rows_ind(AVX512_MR, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu);
}

/* The indirect variant into a scattered C (gemm_scatter): row i of the tile is added to the NR
 * floats at c[i] (an input-gradient pixel's channels under one tap), or dropped where c[i] is
 * NULL (a tap in the padding, a row past M). The add is c[i][j] + acc, the bits of adding a
 * finished tile afterwards, without the tile's trip through memory. */
void ukernel_avx512_ind_add(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                            float *const *c)
{
    __m512 acc[AVX512_MR][2];
    sum_ind(AVX512_MR, acc, ntaps, kc, a, b, AVX512_NR);
    #pragma GCC unroll 8   /* whole: the accumulators stay in registers */
    for (int i = 0; i < AVX512_MR; i++)
        if (c[i]) {
            _mm512_storeu_ps(c[i], _mm512_add_ps(_mm512_loadu_ps(c[i]), acc[i][0]));
            _mm512_storeu_ps(c[i] + 16, _mm512_add_ps(_mm512_loadu_ps(c[i] + 16), acc[i][1]));
        }
}

/* The variant with an indirect B: row k of the B micro-panel is read through b[k], 32
 * contiguous floats of the tensor itself (conv2d_backward_filter's patches), not a packed copy.
 * A's MR values for depth k are a[k * lda ..]: lda = MR for a packed panel, or the row stride
 * of an A^T read in place (dout, in the filter gradient). */
PYCONV_ALWAYS_INLINE void
rows_indb(const int m, int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
          int64_t ldc, int overwrite, const float *bias, int relu)
{
    __m512 acc[AVX512_MR][2];
    #pragma GCC unroll 8   /* whole: the accumulators stay in registers */
    for (int i = 0; i < m; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(b[k]), b1 = _mm512_loadu_ps(b[k] + 16);
        #pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += lda;
    }
    store_tile(m, acc, c, ldc, overwrite, bias, relu);
}

void ukernel_avx512_indb(int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
                         int64_t ldc, int overwrite, const float *bias, int relu)
{
    rows_indb(AVX512_MR, kc, a, lda, b, c, ldc, overwrite, bias, relu);
}

/* The edge tiles: rows [0, m) of the three kernels above, 1 <= m < MR (the driver calls these
 * only for an edge; m is a constant in each case, so each is its own unrolled copy). */
void ukernel_avx512_rows(int m, int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                         int overwrite, const float *bias, int relu)
{
    switch (m) {
    case 1: rows_packed(1, kc, a, b, c, ldc, overwrite, bias, relu); break;
    case 2: rows_packed(2, kc, a, b, c, ldc, overwrite, bias, relu); break;
    case 3: rows_packed(3, kc, a, b, c, ldc, overwrite, bias, relu); break;
    case 4: rows_packed(4, kc, a, b, c, ldc, overwrite, bias, relu); break;
    case 5: rows_packed(5, kc, a, b, c, ldc, overwrite, bias, relu); break;
    case 6: rows_packed(6, kc, a, b, c, ldc, overwrite, bias, relu); break;
    default: rows_packed(7, kc, a, b, c, ldc, overwrite, bias, relu); break;
    }
}

void ukernel_avx512_ind_rows(int m, int64_t ntaps, int64_t kc, const float *const *a,
                             const float *b, int64_t ldb, float *c, int64_t ldc, int overwrite,
                             const float *bias, int relu)
{
    switch (m) {
    case 1: rows_ind(1, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    case 2: rows_ind(2, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    case 3: rows_ind(3, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    case 4: rows_ind(4, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    case 5: rows_ind(5, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    case 6: rows_ind(6, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    default: rows_ind(7, ntaps, kc, a, b, ldb, c, ldc, overwrite, bias, relu); break;
    }
}

void ukernel_avx512_indb_rows(int m, int64_t kc, const float *a, int64_t lda,
                              const float *const *b, float *c, int64_t ldc, int overwrite,
                              const float *bias, int relu)
{
    switch (m) {
    case 1: rows_indb(1, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    case 2: rows_indb(2, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    case 3: rows_indb(3, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    case 4: rows_indb(4, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    case 5: rows_indb(5, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    case 6: rows_indb(6, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    default: rows_indb(7, kc, a, lda, b, c, ldc, overwrite, bias, relu); break;
    }
}
