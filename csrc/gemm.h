/* gemm.h -- pyconv's internal GEMM engine (not a public BLAS).
 *
 *   C (M x N, row stride ldc)  =  A (M x K) . B (K x N)   [+ bias[j]] [then relu]
 *
 * A and B are never read directly by the loop nest: each is described by a PACKER that
 * copies a block of it into the micro-kernel's panel layout (blocking.h). That is what lets
 * the convolutions run as implicit GEMMs: their packers gather input patches straight from
 * the NHWC tensor into the panels, so no im2col matrix for the whole batch ever exists.
 */
#ifndef PYCONV_GEMM_H
#define PYCONV_GEMM_H

#include <stdint.h>

typedef struct gemm_operand gemm_operand;

/* Pack rows [i0, i0+m) x depth [p0, p0+k) of A into ceil(m/mr) micro-panels of mr rows
 * (dst[panel][kk][r]), or columns [i0, i0+m) x depth [p0, p0+k) of B into micro-panels of
 * nr columns (dst[panel][kk][c]). Rows/columns past m are written as zeros. */
typedef void (*gemm_pack_fn)(float *dst, const gemm_operand *op,
                             int64_t i0, int64_t m, int64_t p0, int64_t k, int width);

/* An INDIRECT A operand is not packed at all: its depth is `taps` x C (tap-major), and for
 * GEMM row `row` this writes nt pointers, for taps t0..t0+nt, each to the row's C contiguous
 * values under that tap plus c0 -- or `zeros` where the tap reads padding -- to dst[t*stride].
 * The micro-kernel then broadcasts straight from the tensor (an indirection buffer, as in
 * XNNPACK's indirect convolution), which saves the copy that packing A would cost. */
typedef void (*gemm_rows_fn)(const float **dst, int64_t stride, const gemm_operand *op,
                             int64_t row, int64_t t0, int64_t nt, int64_t c0, const float *zeros);

/* An INDIRECT B operand: for the NR columns [j0, j0+nr) -- which must be contiguous in memory
 * for every depth row -- and depth rows [p0, p0+k), writes k pointers (dst[kk]) to those nr
 * floats, or `zeros`. The micro-kernel then loads B straight from the tensor. */
typedef void (*gemm_cols_fn)(const float **dst, const gemm_operand *op, int64_t j0, int64_t p0,
                             int64_t k, const float *zeros);

struct gemm_operand {
    gemm_pack_fn pack;     /* a packed operand: copies blocks into panels */
    gemm_rows_fn rows;     /* or (A only) an indirect one: row pointers per tap */
    gemm_cols_fn cols;     /* or (B only, N a multiple of NR, A packed) an indirect one */
    int64_t C;             /* indirect: depth values per tap */
    const float *data;     /* the matrix, or the tensor a packer gathers from */
    int64_t ld;            /* row stride of a plain matrix */
    const void *ctx;       /* extra description (a convolution's shape), or NULL */
};

/* B packed once for several GEMMs that share it (conv2d_backward_input's image groups):
 * returns the buffer (pyconv_aligned_free() it after) and sets *out to an operand that reads it -- in place
 * when one depth block covers it, else copied panel by panel -- or returns NULL if it cannot
 * be allocated. */
float *gemm_prepack_b(const gemm_operand *b, int64_t N, int64_t K, gemm_operand *out);
void gemm_pack_b_prepacked(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0,
                           int64_t k, int nr);

/* A plain row-major matrix (M x K, stride ld) as an indirect operand: one tap of C = K. */
void gemm_rows_n(const float **dst, int64_t stride, const gemm_operand *op, int64_t row,
                 int64_t t0, int64_t nt, int64_t c0, const float *zeros);

/* A plain row-major B (K x N, stride ld) as an indirect operand: for the NR columns from j0,
 * the address of each of its rows p0..p0+k (N a multiple of NR; nothing copied). */
void gemm_cols_n(const float **dst, const gemm_operand *op, int64_t j0, int64_t p0, int64_t k,
                 const float *zeros);

/* Plain row-major matrices: B (K x N) as stored ("n"), or stored transposed ("t": A^T
 * stored K x M, B^T stored N x K). A plain A as stored is read in place (gemm_rows_n). */
void gemm_pack_a_t(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0, int64_t k, int mr);
void gemm_pack_b_n(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0, int64_t k, int nr);
void gemm_pack_b_t(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0, int64_t k, int nr);

/* C = A.B (+ bias) (relu), overwritten. bias: N floats or NULL. Threads: `nthreads`, over
 * (MC-block, NR-panel-group) tasks; each element of C is computed by one thread, its K-sum
 * always in the same order, so the result does not depend on the thread count.
 * Returns PYCONV_OK or PYCONV_ENOMEM. */
int gemm(float *c, int64_t ldc, const gemm_operand *a, const gemm_operand *b,
         int64_t M, int64_t N, int64_t K, const float *bias, int relu, int nthreads);

/* A SCATTERED C: no C matrix is stored; each finished tile row -- C row i, the NR columns
 * from j, inside tap t = j / C of a tap-major (taps x C) column space -- is ADDED to the NR
 * floats at out + tab[i * taps + t] + j % C, or dropped where that offset is -1. This is how
 * conv2d's input gradient adds its column gradient into the image (col2im in the GEMM's store,
 * no column matrix in memory). Requires C a multiple of NR; one thread (rows of different
 * blocks add into the same pixels), so the adds run in one fixed order. */
typedef struct {
    float *out;           /* the tensor the rows are added into */
    const int64_t *tab;   /* M x taps offsets into out, or -1 */
    int64_t taps, C;
} gemm_scatter;

int gemm_scatter_add(const gemm_scatter *sc, const gemm_operand *a, const gemm_operand *b,
                     int64_t M, int64_t N, int64_t K);

/* Add a finished tile (rows x cols, row stride ld) where sc sends C rows i0.. and columns j0..
 * (inside one tap). Compiled once per ISA (in ukernel_<isa>.c) so the adds are as wide as the
 * micro-kernel's: scatter_tile_generic, _avx2, _avx512, _neon. */
static inline void scatter_tile_loop(const gemm_scatter *sc, const float *tile, int ld, int64_t i0,
                                     int rows, int64_t j0, int cols)
{
    const int64_t t = j0 / sc->C, c0 = j0 % sc->C;
    for (int i = 0; i < rows; i++) {
        const int64_t off = sc->tab[(i0 + i) * sc->taps + t];
        if (off < 0)
            continue;
        float *d = sc->out + off + c0;
        for (int j = 0; j < cols; j++)
            d[j] += tile[i * ld + j];
    }
}
void scatter_tile_generic(const gemm_scatter *sc, const float *tile, int ld, int64_t i0, int rows,
                          int64_t j0, int cols);
void scatter_tile_avx2(const gemm_scatter *sc, const float *tile, int ld, int64_t i0, int rows,
                       int64_t j0, int cols);
void scatter_tile_avx512(const gemm_scatter *sc, const float *tile, int ld, int64_t i0, int rows,
                         int64_t j0, int cols);
void scatter_tile_neon(const gemm_scatter *sc, const float *tile, int ld, int64_t i0, int rows,
                       int64_t j0, int cols);

/* The same over the depth slice [k0, k0+K) of A's columns and B's rows only: one chunk of a
 * longer reduction (conv2d_backward_filter). A must be packed (not indirect) when k0 > 0. */
int gemm_slice(float *c, int64_t ldc, const gemm_operand *a, const gemm_operand *b,
               int64_t M, int64_t N, int64_t k0, int64_t K, const float *bias, int relu,
               int nthreads);

/* The naive triple loop over plain row-major matrices, double accumulation: the oracle. */
void gemm_ref(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K);

/* Micro-kernels, one per ISA (ukernel_<isa>.c; only those of the target are built: target.h): C tile (MR x NR, row stride ldc)
 *   = (overwrite ? 0 : C) + sum_k a[k][0..MR) x b[k][0..NR)   over packed panels a, b,
 * then + bias[0..NR) unless bias is NULL, then max(0, .) if relu (the fused epilogue). */
void ukernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite,
                    const float *bias, int relu);
void ukernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite,
                  const float *bias, int relu);
void ukernel_neon(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite,
                  const float *bias, int relu);
void ukernel_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite,
                     const float *bias, int relu);

/* The NR and MR of the micro-kernel in use: an indirect B needs N to be a multiple of NR;
 * M past a multiple of MR fills rows that are computed anyway. */
int gemm_nr(void);
int gemm_mr(void);

/* Micro-kernels with an indirect B: the same tile, B's row k read through b[k] (NR floats),
 * A's MR values for depth k at a + k * lda (lda = MR: a packed panel; or A^T read in place). */
void ukernel_avx512_indb(int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
                         int64_t ldc, int overwrite, const float *bias, int relu);
void ukernel_avx2_indb(int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
                       int64_t ldc, int overwrite, const float *bias, int relu);
void ukernel_neon_indb(int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
                       int64_t ldc, int overwrite, const float *bias, int relu);
void ukernel_generic_indb(int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
                          int64_t ldc, int overwrite, const float *bias, int relu);

/* Indirect micro-kernels: the same tile, A read through ntaps x MR row pointers (a[t*MR+i]),
 * kc values each; B packed as above with depth ntaps * kc. */
void ukernel_avx512_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                        float *c, int64_t ldc, int overwrite, const float *bias, int relu);
void ukernel_avx2_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                      float *c, int64_t ldc, int overwrite, const float *bias, int relu);
void ukernel_neon_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                      float *c, int64_t ldc, int overwrite, const float *bias, int relu);
void ukernel_generic_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                         float *c, int64_t ldc, int overwrite, const float *bias, int relu);

#endif /* PYCONV_GEMM_H */
