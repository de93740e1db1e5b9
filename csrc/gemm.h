/* gemm.h -- pyconv's internal GEMM engine (not a public BLAS).
 *
 *   C (M x N)  =  A (M x K) . B (K x N)   [+ bias[j]] [then relu]
 *
 * One entry point, gemm(), whose loop nest never reads A or B directly: each is an OPERAND
 * DESCRIPTOR (gemm_operand) with a hook the nest calls for one block --
 *   pack   copy the block into the micro-kernel's panel layout (blocking.h),
 *   rows   (A) or cols (B): write pointers to the block's rows in place (indirect),
 *   view   the block's address where it already is in panel layout (in place),
 * and C is a descriptor too (gemm_out): stored with its epilogue, or scattered into a tensor.
 * That is what lets the convolutions run as implicit GEMMs: their hooks gather input patches
 * straight from the NHWC tensor, so no im2col matrix for the whole batch ever exists.
 * gemm.c starts with the same nest on plain matrices, no descriptors (sgemm_blocked, pyconv.h).
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

/* An operand already laid out as the micro-kernel reads it, read IN PLACE (no copy): micro-panel
 * i (MR rows of A, NR columns of B) starts at p + i * ps, and its values at successive depths
 * are ld floats apart (MR or NR in a packed panel). */
typedef struct {
    const float *p;
    int64_t ps, ld;
} gemm_panels;

/* The panels of an in-place operand from row/column i0 and depth p0; width is MR or NR. */
typedef gemm_panels (*gemm_view_fn)(const gemm_operand *op, int64_t i0, int64_t p0, int width);

/* One operand of the GEMM: exactly one of pack, rows (A only) and cols (B only) -- or view
 * alone (a B prepacked by gemm_prepack_b). A view beside pack is an offer: the driver reads A
 * in place where the micro-kernel can (under an indirect B, in whole MR tiles), and packs it
 * elsewhere. */
struct gemm_operand {
    gemm_pack_fn pack;     /* a packed operand: copies blocks into panels */
    gemm_rows_fn rows;     /* or (A only) an indirect one: row pointers per tap */
    gemm_cols_fn cols;     /* or (B only, N a multiple of NR, A not indirect) an indirect one */
    gemm_view_fn view;     /* or, or as well: read in place */
    int64_t C;             /* an A of taps (indirect, or a packer of patches): depth values
                            * per tap, so that its depth blocks hold whole taps; else 0 */
    const float *data;     /* the matrix, or the tensor a packer gathers from */
    int64_t ld;            /* row stride of a plain matrix */
    int64_t k0;            /* the operand's depth starts here: GEMM depth k is its depth k0 + k
                            * (one chunk of a longer reduction); 0 for an indirect A */
    const void *ctx;       /* extra description (a convolution's shape), or NULL */
    int far;               /* an indirect A of a pass past the L3 (pyconv_past_l3): read from
                            * memory, not cache, so each block prefetches the next one's rows
                            * (fill_rows) */
};

/* B packed once for several GEMMs that share it (conv2d_backward_input's image groups):
 * returns the buffer (pyconv_scratch_free() it after) and sets *out to an operand that reads it
 * in place (a view), or returns NULL if it cannot be allocated. */
float *gemm_prepack_b(const gemm_operand *b, int64_t N, int64_t K, gemm_operand *out);

/* A plain row-major matrix (M x K, stride ld) as an indirect operand: one tap of C = K. */
void gemm_rows_n(const float **dst, int64_t stride, const gemm_operand *op, int64_t row,
                 int64_t t0, int64_t nt, int64_t c0, const float *zeros);

/* A plain row-major B (K x N, stride ld) as an indirect operand: for the NR columns from j0,
 * the address of each of its rows p0..p0+k (N a multiple of NR; nothing copied). */
void gemm_cols_n(const float **dst, const gemm_operand *op, int64_t j0, int64_t p0, int64_t k,
                 const float *zeros);

/* A^T stored (K x M, stride ld) read in place: MR consecutive values of a stored row are a
 * micro-panel's values at one depth (conv2d_backward_filter's dout^T: no packing at all). */
gemm_panels gemm_view_a_t(const gemm_operand *op, int64_t i0, int64_t p0, int mr);

/* B stored (K x N, stride ld) read in place by the indirect-A micro-kernels: a micro-panel's NR
 * values at one depth are a stored row's, the next depth ld floats on (N a multiple of NR, a
 * stored C). Nothing packed: conv2d's forward of a few rows, where packing the filter cost as
 * much as the FMAs. */
gemm_panels gemm_view_b_n(const gemm_operand *op, int64_t j0, int64_t p0, int nr);

/* Plain row-major matrices: as stored ("n"), or stored transposed ("t": A^T stored K x M,
 * B^T stored N x K). A plain A as stored is read in place (gemm_rows_n), or packed under an
 * indirect B (a few rows: dense_forward_form). */
void gemm_pack_a_n(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0, int64_t k, int mr);
void gemm_pack_a_t(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0, int64_t k, int mr);
void gemm_pack_b_n(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0, int64_t k, int nr);
void gemm_pack_b_t(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0, int64_t k, int nr);

/* A SCATTERED C: no C matrix is stored; each finished tile row -- C row i, the NR columns
 * from j, inside tap t = j / C of a tap-major (taps x C) column space -- is ADDED to the NR
 * floats at out + tab[i * taps + t] + j % C, or dropped where that offset is -1. This is how
 * conv2d's input gradient adds its column gradient into the image (col2im in the GEMM's store,
 * no column matrix in memory), each tile added by the micro-kernel itself (ukernel_*_ind_add).
 * Requires C a multiple of NR and an indirect A; one thread (rows of different blocks add into
 * the same pixels), so the adds run in one fixed order. */
typedef struct {
    float *out;           /* the tensor the rows are added into */
    const int64_t *tab;   /* M x taps offsets into out, or -1 */
    int64_t taps, C;
} gemm_scatter;

/* Where C goes: stored (data, row stride ld), overwritten, with the epilogue "+ bias[j], then
 * relu" applied as each tile is finished; or, with data NULL, scattered (no epilogue). */
typedef struct {
    float *data;                  /* C (M x N), or NULL: scattered */
    int64_t ld;
    const float *bias;            /* N floats, or NULL */
    int relu;
    const gemm_scatter *scatter;  /* with data NULL: where the tiles are added */
} gemm_out;

/* C = A.B (+ bias)(relu) over depth K, for M, N, K >= 0 (K = 0: C = 0 (+ bias)(relu)).
 * Threads: `nthreads` (one for a scattered C or a small product), over (MC-block, NR-panel-group)
 * tasks; each element of C is computed by one thread, its K-sum always in the same order (depth
 * block by depth block, k ascending inside one), so the result does not depend on the thread
 * count. Returns PYCONV_OK, PYCONV_ENOMEM, or PYCONV_EINVAL for operand forms it cannot combine
 * (an indirect A with k0 > 0 or under an indirect B; an indirect B with N not a multiple of NR;
 * a scatter's C not a multiple of NR, or its A not indirect). */
int gemm(const gemm_out *c, const gemm_operand *a, const gemm_operand *b, int64_t M, int64_t N,
         int64_t K, int nthreads);

/* The naive triple loop over plain row-major matrices, double accumulation: the oracle. */
void gemm_ref(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K);

/* Every micro-kernel starts on a 64-byte boundary, so that its code sits in the same place
 * relative to the instruction-fetch blocks whatever size the code linked before it has. At
 * GCC's default 16 it moved with unrelated changes: this file's rework left ukernel_avx512 on
 * a 16-byte boundary, and conv1's forward pass (tiles 9 deep, where a call's entry and exit
 * count) took 1.61 -> 1.82 ms at batch 256 on one thread; aligned, 1.59 (docs/benchmarks.md
 * section 8). */
#ifdef __GNUC__
#define PYCONV_UKERNEL __attribute__((aligned(64)))
#else
#define PYCONV_UKERNEL
#endif

/* Micro-kernels, one per ISA (ukernel_<isa>.c; only those of the target are built: target.h):
 * C tile (MR x NR, row stride ldc) = (overwrite ? 0 : C) + sum_k a[k][0..MR) x b[k][0..NR)
 * over packed panels a, b, then + bias[0..NR) unless bias is NULL, then max(0, .) if relu (the fused epilogue). */
PYCONV_UKERNEL void ukernel_avx512(int64_t kc, const float *a, const float *b, float *c,
                                   int64_t ldc, int overwrite, const float *bias, int relu);
PYCONV_UKERNEL void ukernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                                 int overwrite, const float *bias, int relu);
PYCONV_UKERNEL void ukernel_neon(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                                 int overwrite, const float *bias, int relu);
PYCONV_UKERNEL void ukernel_generic(int64_t kc, const float *a, const float *b, float *c,
                                    int64_t ldc, int overwrite, const float *bias, int relu);

/* The NR and MR of the micro-kernel in use: an indirect B needs N to be a multiple of NR;
 * M past a multiple of MR fills rows that are computed anyway. */
int gemm_nr(void);
int gemm_mr(void);
/* The depth block KC in use: a sum no deeper than it is one block, summed from zero in one
 * micro-kernel call (what conv2d.c's first-layer forward reproduces bitwise). */
int64_t gemm_kc(void);
/* Whether a forward GEMM of M rows and N columns reads its weights (B) in place as strided
 * panels (gemm_view_b_n) rather than packed: NR divides N, and M or N is small (blocking.h's
 * VIEW_B_ROWS and VIEW_B_COLS). conv2d_forward and dense_forward ask it. */
int gemm_view_b_pays(int64_t M, int64_t N);

/* Micro-kernels with an indirect B: the same tile, B's row k read through b[k] (NR floats),
 * A's MR values for depth k at a + k * lda (lda = MR: a packed panel; or A^T read in place). */
PYCONV_UKERNEL void ukernel_avx512_indb(int64_t kc, const float *a, int64_t lda,
                                        const float *const *b, float *c, int64_t ldc, int overwrite,
                                        const float *bias, int relu);
PYCONV_UKERNEL void ukernel_avx2_indb(int64_t kc, const float *a, int64_t lda,
                                      const float *const *b, float *c, int64_t ldc, int overwrite,
                                      const float *bias, int relu);
PYCONV_UKERNEL void ukernel_neon_indb(int64_t kc, const float *a, int64_t lda,
                                      const float *const *b, float *c, int64_t ldc, int overwrite,
                                      const float *bias, int relu);
PYCONV_UKERNEL void ukernel_generic_indb(int64_t kc, const float *a, int64_t lda,
                                         const float *const *b, float *c, int64_t ldc,
                                         int overwrite, const float *bias, int relu);

/* Indirect micro-kernels: the same tile, A read through ntaps x MR row pointers (a[t*MR+i]),
 * kc values each; B's NR values at successive depths (ntaps * kc of them) ldb floats apart: NR
 * in a packed panel, or a B read in place (a row-major filter's row stride: gemm_view_b_n). */
PYCONV_UKERNEL void ukernel_avx512_ind(int64_t ntaps, int64_t kc, const float *const *a,
                                       const float *b, int64_t ldb, float *c, int64_t ldc,
                                       int overwrite, const float *bias, int relu);
PYCONV_UKERNEL void ukernel_avx2_ind(int64_t ntaps, int64_t kc, const float *const *a,
                                     const float *b, int64_t ldb, float *c, int64_t ldc,
                                     int overwrite, const float *bias, int relu);
PYCONV_UKERNEL void ukernel_neon_ind(int64_t ntaps, int64_t kc, const float *const *a,
                                     const float *b, int64_t ldb, float *c, int64_t ldc,
                                     int overwrite, const float *bias, int relu);
PYCONV_UKERNEL void ukernel_generic_ind(int64_t ntaps, int64_t kc, const float *const *a,
                                        const float *b, int64_t ldb, float *c, int64_t ldc,
                                        int overwrite, const float *bias, int relu);

/* Edge tiles of m < MR rows (1 <= m): the three kernels above, for rows [0, m) of the tile only
 * -- the same sums, so the same bits as those rows of a whole tile, at m rows' cost (a 9-row
 * product's ninth row cost a whole tile). AVX-512 and AVX2; on the portable and NEON
 * kernels the driver computes an edge tile whole. */
PYCONV_UKERNEL void ukernel_avx512_rows(int m, int64_t kc, const float *a, const float *b,
                                        float *c, int64_t ldc, int overwrite, const float *bias,
                                        int relu);
PYCONV_UKERNEL void ukernel_avx512_ind_rows(int m, int64_t ntaps, int64_t kc,
                                            const float *const *a, const float *b, int64_t ldb,
                                            float *c, int64_t ldc, int overwrite,
                                            const float *bias, int relu);
PYCONV_UKERNEL void ukernel_avx512_indb_rows(int m, int64_t kc, const float *a, int64_t lda,
                                             const float *const *b, float *c, int64_t ldc,
                                             int overwrite, const float *bias, int relu);

PYCONV_UKERNEL void ukernel_avx2_rows(int m, int64_t kc, const float *a, const float *b, float *c,
                                      int64_t ldc, int overwrite, const float *bias, int relu);
PYCONV_UKERNEL void ukernel_avx2_ind_rows(int m, int64_t ntaps, int64_t kc, const float *const *a,
                                          const float *b, int64_t ldb, float *c, int64_t ldc,
                                          int overwrite, const float *bias, int relu);
PYCONV_UKERNEL void ukernel_avx2_indb_rows(int m, int64_t kc, const float *a, int64_t lda,
                                           const float *const *b, float *c, int64_t ldc,
                                           int overwrite, const float *bias, int relu);

/* Indirect micro-kernels into a scattered C: the same tile and sum, then row i ADDED to the NR
 * floats at c[i] (c[i][j] + acc), or dropped where c[i] is NULL -- the add in registers, with no
 * trip of the tile through memory (conv2d's input gradient: gemm_scatter). */
PYCONV_UKERNEL void ukernel_avx512_ind_add(int64_t ntaps, int64_t kc, const float *const *a,
                                           const float *b, float *const *c);
PYCONV_UKERNEL void ukernel_avx2_ind_add(int64_t ntaps, int64_t kc, const float *const *a,
                                         const float *b, float *const *c);
PYCONV_UKERNEL void ukernel_neon_ind_add(int64_t ntaps, int64_t kc, const float *const *a,
                                         const float *b, float *const *c);
PYCONV_UKERNEL void ukernel_generic_ind_add(int64_t ntaps, int64_t kc, const float *const *a,
                                            const float *b, float *const *c);

#endif /* PYCONV_GEMM_H */
