/* gemm.c -- the blocked SGEMM driver: packing of plain matrices, the five-loop nest of
 * blocking.h around one micro-kernel, and the choice of micro-kernel per ISA.
 *
 * Promise: C = A.B (+ bias)(relu) over any M, N, K >= 0, overwritten, with each element's
 * K-sum taken in one fixed order (KC block by KC block, k ascending inside a block), so the
 * result is bitwise the same for any number of threads.
 */
#include <stdlib.h>
#include <string.h>
#include "target.h"
#include "blocking.h"
#include "gemm.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef void (*ukernel_fn)(int64_t, const float *, const float *, float *, int64_t, int,
                           const float *, int);
typedef void (*ukernel_ind_fn)(int64_t, int64_t, const float *const *, const float *, float *,
                               int64_t, int, const float *, int);

typedef void (*ukernel_indb_fn)(int64_t, const float *, int64_t, const float *const *, float *,
                                int64_t, int, const float *, int);

typedef void (*scatter_fn)(const gemm_scatter *, const float *, int, int64_t, int, int64_t, int);

typedef struct {
    ukernel_fn ukernel;
    ukernel_ind_fn ukernel_ind;
    ukernel_indb_fn ukernel_indb;
    scatter_fn scatter;
    int mr, nr, mc;
} gemm_isa;

static gemm_isa isa_table(void)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(return (gemm_isa){ukernel_avx512, ukernel_avx512_ind, ukernel_avx512_indb,
                                       scatter_tile_avx512, AVX512_MR, AVX512_NR, AVX512_MC};)
    PYCONV_ON_AVX2(return (gemm_isa){ukernel_avx2, ukernel_avx2_ind, ukernel_avx2_indb,
                                     scatter_tile_avx2, AVX2_MR, AVX2_NR, AVX2_MC};)
    PYCONV_ON_NEON(return (gemm_isa){ukernel_neon, ukernel_neon_ind, ukernel_neon_indb,
                                     scatter_tile_neon, NEON_MR, NEON_NR, NEON_MC};)
    default:
        return (gemm_isa){ukernel_generic, ukernel_generic_ind, ukernel_generic_indb,
                          scatter_tile_generic, GENERIC_MR, GENERIC_NR, GENERIC_MC};
    }
}

int gemm_nr(void) { return isa_table().nr; }
int gemm_mr(void) { return isa_table().mr; }

/* ---- packers for plain row-major matrices --------------------------------------------- */

// A^T stored (K x M) with stride ld: a panel's MR values at depth k are contiguous in memory.
// One pass over the stored rows (k outer), each row dealt out to the panels it feeds.
void gemm_pack_a_t(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0,
                   int64_t k, int mr)
{
    const int64_t full = m / mr, tail = m % mr;
    for (int64_t kk = 0; kk < k; kk++) {
        const float *src = op->data + (p0 + kk) * op->ld + i0;
        float *d = dst + kk * mr;
        for (int64_t ip = 0; ip < full; ip++, src += mr, d += k * mr)
            for (int r = 0; r < mr; r++)
                d[r] = src[r];
        if (tail) {
            for (int r = 0; r < tail; r++)
                d[r] = src[r];
            for (int r = (int)tail; r < mr; r++)
                d[r] = 0.0f;
        }
    }
}

// B (K x N) stored row-major: a panel's NR values at depth k are contiguous in memory.
void gemm_pack_b_n(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0,
                   int64_t k, int nr)
{
    for (int64_t jp = 0; jp < n; jp += nr) {
        int cols = n - jp < nr ? (int)(n - jp) : nr;
        for (int64_t kk = 0; kk < k; kk++) {
            const float *src = op->data + (p0 + kk) * op->ld + j0 + jp;
            memcpy(dst + kk * nr, src, (size_t)cols * sizeof(float));
            for (int c = cols; c < nr; c++)
                dst[kk * nr + c] = 0.0f;
        }
        dst += k * nr;
    }
}

// B^T stored (N x K) with stride ld: panel columns are rows of the stored matrix.
void gemm_pack_b_t(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0,
                   int64_t k, int nr)
{
    for (int64_t jp = 0; jp < n; jp += nr) {
        int cols = n - jp < nr ? (int)(n - jp) : nr;
        for (int c = 0; c < cols; c++) {
            const float *src = op->data + (j0 + jp + c) * op->ld + p0;
            for (int64_t kk = 0; kk < k; kk++)
                dst[kk * nr + c] = src[kk];
        }
        for (int c = cols; c < nr; c++)
            for (int64_t kk = 0; kk < k; kk++)
                dst[kk * nr + c] = 0.0f;
        dst += k * nr;
    }
}

// A (M x K) row-major as an indirect operand: row pointers, one tap of C = K values.
void gemm_rows_n(const float **dst, int64_t stride, const gemm_operand *op, int64_t row,
                 int64_t t0, int64_t nt, int64_t c0, const float *zeros)
{
    (void)stride, (void)t0, (void)nt, (void)zeros;
    dst[0] = op->data + row * op->ld + c0;
}

// B (K x N) row-major as an indirect operand: the address of row p0+kk at column j0.
void gemm_cols_n(const float **dst, const gemm_operand *op, int64_t j0, int64_t p0, int64_t k,
                 const float *zeros)
{
    (void)zeros;
    for (int64_t kk = 0; kk < k; kk++)
        dst[kk] = op->data + (p0 + kk) * op->ld + j0;
}

// B already packed over its whole depth (gemm_prepack_b): each panel's slice is one copy.
void gemm_pack_b_prepacked(float *dst, const gemm_operand *op, int64_t j0, int64_t n, int64_t p0,
                           int64_t k, int nr)
{
    for (int64_t jp = 0; jp < n; jp += nr, dst += k * nr)
        memcpy(dst, op->data + ((j0 + jp) / nr * op->ld + p0) * nr, (size_t)(k * nr) * sizeof(float));
}

float *gemm_prepack_b(const gemm_operand *b, int64_t N, int64_t K, gemm_operand *out)
{
    const int nr = isa_table().nr;
    float *packed = pyconv_aligned_alloc((size_t)(ceil_div(N, nr) * nr * K) * sizeof(float));
    if (packed) {
        b->pack(packed, b, 0, N, 0, K, nr);
        *out = (gemm_operand){.pack = gemm_pack_b_prepacked, .data = packed, .ld = K};
    }
    return packed;
}

/* ---- the loop nest ------------------------------------------------------------------------- */

/* The epilogue of one C tile, applied once its last KC block is in: bias, then relu. The
 * tile was just written, so it is still in L1. */
static void epilogue(float *c, int64_t ldc, int rows, int cols, const float *bias, int relu)
{
    for (int i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
        if (bias)
            for (int j = 0; j < cols; j++)
                ci[j] += bias[j];
        if (relu)
            for (int j = 0; j < cols; j++)
                ci[j] = ci[j] < 0.0f ? 0.0f : ci[j];   /* NaN stays NaN, as in relu_forward */
    }
}

/* Loops 2 and 1 over one packed A block (or an A^T read in place with row stride lda, when
 * lda > 0) and the packed B panel: mc x nc of C.
 * Edge tiles are computed whole into `tile` and only their valid part copied out; with a
 * scattered C (sc; i0, j0: this block's first row and column) every tile is computed into
 * `tile` and then added where sc sends its rows. */
static void macro_kernel(const gemm_isa *g, float *c, int64_t ldc, const float *pa, int64_t lda,
                         const float **pt, int64_t nt, const float *pb, const float *const *pbt,
                         int64_t mc, int64_t nc, int64_t kc, int first, int last,
                         const float *bias, int relu, const gemm_scatter *sc, int64_t i0, int64_t j0)
{
    _Alignas(64) float tile[GEMM_MAX_TILE];
    for (int64_t jr = 0; jr < nc; jr += g->nr) {          // loop 2 (jr, step NR): B micro-panel in L1
        int cols = nc - jr < g->nr ? (int)(nc - jr) : g->nr;
        const float *b = pb + jr * kc;
        const float *const *bt = pbt ? pbt + jr / g->nr * kc : NULL;   /* indirect B's rows */
        for (int64_t ir = 0; ir < mc; ir += g->mr) {      // loop 1 (ir, step MR): A micro-panel from L2
            int rows = mc - ir < g->mr ? (int)(mc - ir) : g->mr;
            float *cij = sc ? NULL : c + ir * ldc + jr;
            const int whole = rows == g->mr && cols == g->nr && !sc;
            /* A whole tile gets its epilogue in the micro-kernel, in registers; an edge tile
             * is computed into `tile`, copied, and finished by epilogue() below. */
            const float *eb = whole && last && bias ? bias + jr : NULL;
            const int er = whole && last && relu;
            if (pt)   // indirect A: nt taps of kc / nt values through the row pointers
                g->ukernel_ind(nt, kc / nt, pt + ir * nt, b, whole ? cij : tile,
                               whole ? ldc : g->nr, whole ? first : 1, eb, er);
            else if (bt)   // indirect B: its rows through pointers; A packed, or A^T in place (lda)
                g->ukernel_indb(kc, lda ? pa + ir : pa + ir * kc, lda ? lda : g->mr, bt,
                                whole ? cij : tile, whole ? ldc : g->nr, whole ? first : 1, eb, er);
            else
                g->ukernel(kc, pa + ir * kc, b, whole ? cij : tile, whole ? ldc : g->nr,
                           whole ? first : 1, eb, er);
            if (sc) {
                g->scatter(sc, tile, g->nr, i0 + ir, rows, j0 + jr, cols);
                continue;
            }
            if (!whole) {
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++)
                        cij[i * ldc + j] = first ? tile[i * g->nr + j]
                                                 : cij[i * ldc + j] + tile[i * g->nr + j];
            }
            if (last && !whole)
                epilogue(cij, ldc, rows, cols, bias ? bias + jr : NULL, relu);
        }
    }
}

int gemm(float *c, int64_t ldc, const gemm_operand *a, const gemm_operand *b,
         int64_t M, int64_t N, int64_t K, const float *bias, int relu, int nthreads)
{
    return gemm_slice(c, ldc, a, b, M, N, 0, K, bias, relu, nthreads);
}

/* Depth block of loop 4 starting at pc: the depth cut into the fewest blocks of at most KC,
 * all of one size but the last (576 = 288 + 288, not 320 + 256). An indirect A's blocks hold
 * whole taps (C <= KC: conv3's 9 taps of 64 as 5 + 4) or lie inside one tap (C > KC, each
 * tap cut the same way). The cut depends on the sizes only. */
static int64_t depth_block(const gemm_operand *a, int64_t pc, int64_t K)
{
    if (a->rows && a->C > GEMM_KC) {   // inside one tap
        const int64_t kc = ceil_div(a->C, ceil_div(a->C, GEMM_KC)), left = a->C - pc % a->C;
        return left < kc ? left : kc;
    }
    const int64_t unit = a->rows ? a->C : 1, units = ceil_div(K, unit);   // taps, or values
    const int64_t kc = ceil_div(units, ceil_div(units, GEMM_KC / unit)) * unit;
    return K - pc < kc ? K - pc : kc;
}

/* Fill the pointer table of one indirect A block: rows [ic, ic+mc), taps of depth block
 * [pc, pc+kc), laid out per MR-row tile as [tap][row] (what ukernel_*_ind reads). Rows past
 * M, up to the tile's end, read zeros. */
static void fill_rows(const float **pt, const gemm_operand *a, const gemm_isa *g, int64_t ic,
                      int64_t mc, int64_t M, int64_t pc, int64_t kc, const float *zeros)
{
    const int64_t t0 = pc / a->C, c0 = pc % a->C, nt = a->C <= GEMM_KC ? kc / a->C : 1;
    const int64_t rows = ceil_div(mc, g->mr) * g->mr;
    for (int64_t r = 0; r < rows; r++) {
        const float **dst = pt + (r / g->mr) * nt * g->mr + r % g->mr;
        if (ic + r < M)
            a->rows(dst, g->mr, a, ic + r, t0, nt, c0, zeros);
        else
            for (int64_t t = 0; t < nt; t++)
                dst[t * g->mr] = zeros;
    }
}

/* The loop nest, storing C (c, ldc) or scattering it (sc). */
static int gemm_run(float *c, int64_t ldc, const gemm_scatter *sc, const gemm_operand *a,
                    const gemm_operand *b, int64_t M, int64_t N, int64_t k0, int64_t K,
                    const float *bias, int relu, int nthreads)
{
    if (M <= 0 || N <= 0 || (sc && K <= 0))
        return PYCONV_OK;
    if (K <= 0) {   // an empty sum: C = 0 (+ bias)(relu)
        for (int64_t i = 0; i < M; i++) {
            memset(c + i * ldc, 0, (size_t)N * sizeof(float));
            epilogue(c + i * ldc, ldc, 1, (int)N, bias, relu);
        }
        return PYCONV_OK;
    }
    /* A parallel region costs microseconds: below ~1 MFLOP one thread is faster. */
    if (2.0 * (double)M * (double)N * (double)K < GEMM_PAR_MIN_FLOPS)
        nthreads = 1;
    const gemm_isa g = isa_table();
    if ((a->rows && k0 != 0) || (b->cols && (a->rows || N % g.nr)) || (sc && sc->C % g.nr))
        return PYCONV_EINVAL;
    if (sc)
        nthreads = 1;
    /* An A^T stored as a plain matrix under an indirect B, in whole MR tiles, is read in place:
     * the micro-kernel steps through it by its row stride (conv2d_backward_filter's dout^T:
     * no packing at all). */
    const int a_in_place = a->pack == gemm_pack_a_t && b->cols && M % g.mr == 0;
    const int64_t kc_max = K < GEMM_KC ? K : GEMM_KC;
    const int64_t nc_max = N < GEMM_NC ? N : GEMM_NC;
    const int64_t mc_max = M < g.mc ? ceil_div(M, g.mr) * g.mr : g.mc;

    /* Tasks of loop 3: row blocks of at most MC rows x groups of NR panels. The row blocks are
     * whole MR tiles, as many as a multiple of the thread count, all within one tile of the
     * same size: 3872 rows in 27 blocks of 144 would give one thread 14 blocks and the other
     * 13 (4% idle); 28 blocks of 136-144 rows do not. Splitting N as well keeps both threads
     * busy when M is small (a dense layer at batch 32). No split changes any sum's order. */
    const int64_t m_tiles = ceil_div(M, g.mr);
    int64_t n_mblocks = ceil_div(m_tiles, g.mc / g.mr);
    const int64_t n_panels_max = ceil_div(nc_max, g.nr);
    const int64_t panels_per_task = n_mblocks >= 4 ? n_panels_max : ceil_div(n_panels_max, 4);
    if (n_mblocks >= 4)
        n_mblocks = ceil_div(n_mblocks, nthreads) * nthreads;

    /* One allocation per call: the shared B panel (or an indirect B's row pointers), then per
     * thread an A block (packed) or a pointer table (indirect), and for an indirect operand a
     * row of zeros for the padding. Sizes in floats. */
    const size_t ptr = (sizeof(float *) + sizeof(float) - 1) / sizeof(float);   /* floats per pointer */
    const size_t b_size = b->cols ? (size_t)(ceil_div(nc_max, g.nr) * kc_max) * ptr
                                  : (size_t)(ceil_div(nc_max, g.nr) * g.nr * kc_max);
    const size_t a_size = a->rows ? (size_t)(mc_max * kc_max) * ptr : (size_t)(mc_max * kc_max);
    const size_t z_size = a->rows || b->cols ? (size_t)(kc_max > g.nr ? kc_max : g.nr) : 0;
    const size_t total = b_size + a_size * (size_t)nthreads + z_size;
    float *work = pyconv_aligned_alloc(total * sizeof(float));
    if (!work)
        return PYCONV_ENOMEM;
    float *pb = work, *zeros = work + b_size + a_size * (size_t)nthreads;
    memset(zeros, 0, z_size * sizeof(float));

    for (int64_t jc = 0; jc < N; jc += GEMM_NC) {                 // loop 5 (jc, step NC): B panel in L3
        const int64_t nc = N - jc < GEMM_NC ? N - jc : GEMM_NC;
        const int64_t n_panels = ceil_div(nc, g.nr);
        const int64_t n_groups = ceil_div(n_panels, panels_per_task);
        for (int64_t pc = 0, kc; pc < K; pc += kc) {              // loop 4 (pc, step KC): depth block
            kc = depth_block(a, pc, K);
            const int first = pc == 0, last = pc + kc == K;
            const int64_t nt = a->rows ? (a->C <= GEMM_KC ? kc / a->C : 1) : 0;
            /* A B prepacked over its whole depth, in one depth block, is already this panel:
             * read in place (conv2d_backward_input's groups), not copied. */
            const int prepacked = b->pack == gemm_pack_b_prepacked && k0 == 0 && kc == K && b->ld == K;
            const float *pbk = prepacked ? b->data + jc * K : pb;

            #pragma omp parallel num_threads(nthreads)
            {
                // Pack the B panel (or point at its rows): each NR micro-panel by one thread.
                #pragma omp for schedule(static)
                for (int64_t p = 0; p < (prepacked ? 0 : n_panels); p++) {
                    int64_t j0 = p * g.nr, w = nc - j0 < g.nr ? nc - j0 : g.nr;
                    if (b->cols)
                        b->cols((const float **)pb + p * kc, b, jc + j0, k0 + pc, kc, zeros);
                    else
                        b->pack(pb + j0 * kc, b, jc + j0, w, k0 + pc, kc, g.nr);
                }
                // (implicit barrier: the whole B panel is packed before anyone uses it)
#ifdef _OPENMP
                float *pa = work + b_size + a_size * (size_t)omp_get_thread_num();
#else
                float *pa = work + b_size;
#endif
                #pragma omp for schedule(static)
                for (int64_t t = 0; t < n_mblocks * n_groups; t++) {   // loop 3 (ic, <= MC rows): A block in L2
                    const int64_t mb = t / n_groups;   // block mb: tiles [mb*m_tiles/n, (mb+1)*m_tiles/n)
                    const int64_t ic = mb * m_tiles / n_mblocks * g.mr;
                    const int64_t ie = (mb + 1) * m_tiles / n_mblocks * g.mr;
                    const int64_t mc = (ie < M ? ie : M) - ic;
                    if (mc <= 0)
                        continue;   // more blocks than tiles (tiny M)
                    const int64_t j0 = (t % n_groups) * panels_per_task * g.nr;
                    const int64_t w = nc - j0 < panels_per_task * g.nr ? nc - j0 : panels_per_task * g.nr;
                    const float **pt = NULL;
                    const float *pat = pa;
                    if (a->rows) {
                        pt = (const float **)pa;
                        fill_rows(pt, a, &g, ic, mc, M, pc, kc, zeros);
                    } else if (a_in_place) {
                        pat = a->data + (k0 + pc) * a->ld + ic;
                    } else {
                        a->pack(pa, a, ic, mc, k0 + pc, kc, g.mr);
                    }
                    const float *const *pbt = b->cols ? (const float *const *)pb + j0 / g.nr * kc : NULL;
                    macro_kernel(&g, sc ? NULL : c + ic * ldc + jc + j0, ldc, pat, a_in_place ? a->ld : 0,
                                 pt, nt, pbk + j0 * kc, pbt, mc, w, kc, first, last,
                                 bias ? bias + jc + j0 : NULL, relu, sc, ic, jc + j0);
                }
            }
        }
    }
    pyconv_aligned_free(work);
    return PYCONV_OK;
}

int gemm_slice(float *c, int64_t ldc, const gemm_operand *a, const gemm_operand *b,
               int64_t M, int64_t N, int64_t k0, int64_t K, const float *bias, int relu,
               int nthreads)
{
    return gemm_run(c, ldc, NULL, a, b, M, N, k0, K, bias, relu, nthreads);
}

int gemm_scatter_add(const gemm_scatter *sc, const gemm_operand *a, const gemm_operand *b,
                     int64_t M, int64_t N, int64_t K)
{
    return gemm_run(NULL, 0, sc, a, b, M, N, 0, K, NULL, 0, 1);
}

int sgemm(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
{
    gemm_operand am = {.rows = gemm_rows_n, .C = K, .data = a, .ld = K};
    gemm_operand bm = {.pack = gemm_pack_b_n, .data = b, .ld = N};
    return gemm(c, N, &am, &bm, M, N, K, NULL, 0, pyconv_num_threads());
}

void sgemm_ref(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
{
    gemm_ref(c, a, b, M, N, K);
}

// C (M x N) = A (M x K) . B (K x N), all row-major, summed in double: the oracle.
void gemm_ref(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++)
                s += (double)a[i * K + k] * b[k * N + j];
            c[i * N + j] = (float)s;
        }
}
