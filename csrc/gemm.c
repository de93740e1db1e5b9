/* gemm.c -- the GEMM in three steps, each tested against the one before:
 *
 *   gemm_ref        the triple loop, summed in double: the specification
 *   sgemm_blocked   the SPINE: the five loops of blocking.h around one micro-kernel, on plain
 *                   row-major matrices, A and B packed, one thread -- read this first
 *   gemm            the fast driver: the same nest, threaded, whose operands are descriptors
 *                   (gemm.h) -- packed, indirect (row pointers), in place or scattered -- that
 *                   the nest calls through small hooks (a_block, b_panel, tile_*, put_*)
 *
 * Promise: C = A.B (+ bias)(relu) over any M, N, K >= 0, overwritten, with each element's
 * K-sum taken in one fixed order (depth block by depth block, k ascending inside a block), so
 * the result is bitwise the same for any number of threads -- and the spine's bits are the fast
 * driver's on the same matrices (same depth cut, same micro-kernel).
 */
#include <stdlib.h>
#include <string.h>
#include "target.h"
#include "blocking.h"
#include "gemm.h"

typedef void (*ukernel_fn)(int64_t, const float *, const float *, float *, int64_t, int,
                           const float *, int);
typedef void (*ukernel_ind_fn)(int64_t, int64_t, const float *const *, const float *, int64_t,
                               float *, int64_t, int, const float *, int);

typedef void (*ukernel_indb_fn)(int64_t, const float *, int64_t, const float *const *, float *,
                                int64_t, int, const float *, int);

typedef void (*ukernel_ind_add_fn)(int64_t, int64_t, const float *const *, const float *,
                                   float *const *);

// The edge-tile kernels: the same with a row count m < MR first (gemm.h).
typedef void (*ukernel_rows_fn)(int, int64_t, const float *, const float *, float *, int64_t, int,
                                const float *, int);
typedef void (*ukernel_ind_rows_fn)(int, int64_t, int64_t, const float *const *, const float *,
                                    int64_t, float *, int64_t, int, const float *, int);
typedef void (*ukernel_indb_rows_fn)(int, int64_t, const float *, int64_t, const float *const *,
                                     float *, int64_t, int, const float *, int);

typedef struct {
    ukernel_fn ukernel;
    ukernel_ind_fn ukernel_ind;
    ukernel_indb_fn ukernel_indb;
    ukernel_ind_add_fn ukernel_ind_add;
    /* edge tiles of fewer than MR rows, or all three NULL: an edge tile computed whole */
    ukernel_rows_fn ukernel_rows;
    ukernel_ind_rows_fn ukernel_ind_rows;
    ukernel_indb_rows_fn ukernel_indb_rows;
    int mr, nr;
    int64_t mc, kc, nc;   /* the cache blocks in use (config.c: from the caches, or PYCONV_BLOCKING) */
} gemm_isa;

static gemm_isa isa_table(void)
{
    gemm_isa g;
    const int isa = pyconv_isa_active();
    switch (isa) {
    /* (the sizes are set below, from isa_tile and the blocking in use) */
    PYCONV_ON_AVX512(g = (gemm_isa){.ukernel = ukernel_avx512, .ukernel_ind = ukernel_avx512_ind,
                                    .ukernel_indb = ukernel_avx512_indb,
                                    .ukernel_ind_add = ukernel_avx512_ind_add,
                                    .ukernel_rows = ukernel_avx512_rows,
                                    .ukernel_ind_rows = ukernel_avx512_ind_rows,
                                    .ukernel_indb_rows = ukernel_avx512_indb_rows};
                     break;)
    PYCONV_ON_AVX2(g = (gemm_isa){.ukernel = ukernel_avx2, .ukernel_ind = ukernel_avx2_ind,
                                  .ukernel_indb = ukernel_avx2_indb,
                                  .ukernel_ind_add = ukernel_avx2_ind_add,
                                  .ukernel_rows = ukernel_avx2_rows,
                                  .ukernel_ind_rows = ukernel_avx2_ind_rows,
                                  .ukernel_indb_rows = ukernel_avx2_indb_rows};
                   break;)
    PYCONV_ON_NEON(g = (gemm_isa){.ukernel = ukernel_neon, .ukernel_ind = ukernel_neon_ind,
                                  .ukernel_indb = ukernel_neon_indb,
                                  .ukernel_ind_add = ukernel_neon_ind_add};
                   break;)
    default:
        g = (gemm_isa){.ukernel = ukernel_generic, .ukernel_ind = ukernel_generic_ind,
                       .ukernel_indb = ukernel_generic_indb,
                       .ukernel_ind_add = ukernel_generic_ind_add};
    }
    isa_tile(isa, &g.mr, &g.nr);
    pyconv_blocking b;
    pyconv_blocking_active(&b);
    g.mc = b.mc, g.kc = b.kc, g.nc = b.nc;
    return g;
}

int gemm_nr(void) { return isa_table().nr; }
int gemm_mr(void) { return isa_table().mr; }
int64_t gemm_kc(void) { return isa_table().kc; }

int gemm_view_b_pays(int64_t M, int64_t N)
{
    return N % gemm_nr() == 0 && (M <= VIEW_B_ROWS || N <= VIEW_B_COLS);
}

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

/* ---- views: operands read in place ----------------------------------------------------------- */

// A^T stored (K x M) with stride ld, in place: at depth p0 + k, rows i0.. are contiguous.
gemm_panels gemm_view_a_t(const gemm_operand *op, int64_t i0, int64_t p0, int mr)
{
    return (gemm_panels){op->data + p0 * op->ld + i0, mr, op->ld};
}

// B stored (K x N) with stride ld, in place: micro-panel j is columns j0.., its depth rows ld
// floats apart (N a multiple of NR: plan_call; only the indirect-A micro-kernels read it).
gemm_panels gemm_view_b_n(const gemm_operand *op, int64_t j0, int64_t p0, int nr)
{
    return (gemm_panels){op->data + p0 * op->ld + j0, nr, op->ld};
}

// B prepacked over its whole depth ld (gemm_prepack_b), in place: micro-panel j holds ld rows.
static gemm_panels view_prepacked(const gemm_operand *op, int64_t j0, int64_t p0, int nr)
{
    return (gemm_panels){op->data + (j0 / nr * op->ld + p0) * nr, op->ld * nr, nr};
}

float *gemm_prepack_b(const gemm_operand *b, int64_t N, int64_t K, gemm_operand *out)
{
    const int nr = isa_table().nr;
    float *packed = pyconv_scratch_alloc((size_t)(ceil_div(N, nr) * nr * K) * sizeof(float));
    if (packed) {
        b->pack(packed, b, 0, N, b->k0, K, nr);
        *out = (gemm_operand){.view = view_prepacked, .data = packed, .ld = K};
    }
    return packed;
}

/* ---- step 1: the specification ------------------------------------------------------------- */

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

void sgemm_ref(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
{
    gemm_ref(c, a, b, M, N, K);
}

/* ---- step 2: the spine ----------------------------------------------------------------------- */

/* Depth block of loop 4 starting at pc: the depth cut into the fewest blocks of at most KC,
 * all of one size but the last (576 = 288 + 288, not 320 + 256). The blocks of an A made of
 * taps (C set: indirect, or a packer of patches) hold whole taps
 * (C <= KC: conv3's 9 taps of 64 as 5 + 4) or lie inside one tap (C > KC, each tap cut the
 * same way) -- the same cut for both forms, so a convolution gives the same bits with its A
 * packed or indirect. The cut depends on the sizes only. */
static int64_t depth_block(const gemm_operand *a, int64_t pc, int64_t K, int64_t KC)
{
    if (a->C > KC) {   // inside one tap
        const int64_t kc = ceil_div(a->C, ceil_div(a->C, KC)), left = a->C - pc % a->C;
        return left < kc ? left : kc;
    }
    const int64_t unit = a->C ? a->C : 1, units = ceil_div(K, unit);   // taps, or values
    const int64_t kc = ceil_div(units, ceil_div(units, KC / unit)) * unit;
    return K - pc < kc ? K - pc : kc;
}

// A (M x K) stored row-major: the spine's A. Rows past m are packed as zeros.
void gemm_pack_a_n(float *dst, const gemm_operand *op, int64_t i0, int64_t m, int64_t p0,
                     int64_t k, int mr)
{
    for (int64_t ip = 0; ip < m; ip += mr, dst += k * mr)
        for (int r = 0; r < mr; r++)
            for (int64_t kk = 0; kk < k; kk++)
                dst[kk * mr + r] = ip + r < m ? op->data[(i0 + ip + r) * op->ld + p0 + kk] : 0.0f;
}

/* The valid rows x cols of a tile computed whole (t, row stride ldt) into C: copied on the
 * first depth block, added after it -- what the micro-kernel does itself for a whole tile. */
static void tile_out(float *c, int64_t ldc, const float *t, int ldt, int rows, int cols, int first)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            c[i * ldc + j] = first ? t[i * ldt + j] : c[i * ldc + j] + t[i * ldt + j];
}

/* C (M x N) = A (M x K) . B (K x N), all row-major, overwritten; one thread. The five loops of
 * blocking.h as BLIS's var1 writes them (bls_gemm_bp_var1.c): each operand named by the loop
 * that cuts it (b_pc, a_ic, b_jr, a_ir, c_ir), edge sizes *_cur. Packing pads the edges with
 * zeros, so the micro-kernel always computes a whole MR x NR tile. PYCONV_ENOMEM if the two
 * packing buffers cannot be allocated. */
int sgemm_blocked(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
{
    if (M <= 0 || N <= 0 || K <= 0) {   // an empty product, or an empty sum: C = 0
        memset(c, 0, (size_t)(M > 0 && N > 0 ? M * N : 0) * sizeof(float));
        return PYCONV_OK;
    }
    const gemm_isa g = isa_table();
    const gemm_operand a_op = {.pack = gemm_pack_a_n, .data = a, .ld = K};
    const gemm_operand b_op = {.pack = gemm_pack_b_n, .data = b, .ld = N};
    const int64_t kc_max = K < g.kc ? K : g.kc, nc_max = N < g.nc ? N : g.nc;
    float *a_ic = pyconv_scratch_alloc((size_t)(g.mc * kc_max) * sizeof(float));
    const size_t b_floats = (size_t)(ceil_div(nc_max, g.nr) * g.nr * kc_max);
    float *b_pc = pyconv_scratch_alloc(b_floats * sizeof(float));
    _Alignas(64) float t[GEMM_MAX_TILE];
    if (!a_ic || !b_pc) {
        pyconv_scratch_free(b_pc), pyconv_scratch_free(a_ic);
        return PYCONV_ENOMEM;
    }
    // loop 5 (jc, step NC): B panel packed, lives in L3
    for (int64_t jc = 0; jc < N; jc += g.nc) {
        const int64_t nc_cur = N - jc < g.nc ? N - jc : g.nc;
        // loop 4 (pc, step KC): depth block; the B panel kc_cur x nc_cur packed once per block
        for (int64_t pc = 0, kc_cur; pc < K; pc += kc_cur) {
            kc_cur = depth_block(&a_op, pc, K, g.kc);
            b_op.pack(b_pc, &b_op, jc, nc_cur, pc, kc_cur, g.nr);
            // loop 3 (ic, step MC): A block mc_cur x kc_cur packed, lives in L2
            for (int64_t ic = 0; ic < M; ic += g.mc) {
                const int64_t mc_cur = M - ic < g.mc ? M - ic : g.mc;
                a_op.pack(a_ic, &a_op, ic, mc_cur, pc, kc_cur, g.mr);
                // loop 2 (jr, step NR): B micro-panel kc_cur x NR, stays in L1
                for (int64_t jr = 0; jr < nc_cur; jr += g.nr) {
                    const int nr_cur = nc_cur - jr < g.nr ? (int)(nc_cur - jr) : g.nr;
                    const float *b_jr = b_pc + jr * kc_cur;
                    // loop 1 (ir, step MR): A micro-panel MR x kc_cur, streams from L2
                    for (int64_t ir = 0; ir < mc_cur; ir += g.mr) {
                        const int mr_cur = mc_cur - ir < g.mr ? (int)(mc_cur - ir) : g.mr;
                        const float *a_ir = a_ic + ir * kc_cur;
                        float *c_ir = c + (ic + ir) * N + jc + jr;
                        // micro-kernel: the MR x NR tile in registers; the first block overwrites
                        if (mr_cur == g.mr && nr_cur == g.nr) {
                            g.ukernel(kc_cur, a_ir, b_jr, c_ir, N, pc == 0, NULL, 0);
                        } else {   // an edge tile: computed whole into t, its valid part copied
                            g.ukernel(kc_cur, a_ir, b_jr, t, g.nr, 1, NULL, 0);
                            tile_out(c_ir, N, t, g.nr, mr_cur, nr_cur, pc == 0);
                        }
                    }
                }
            }
        }
    }
    pyconv_scratch_free(b_pc), pyconv_scratch_free(a_ic);
    return PYCONV_OK;
}

/* ---- step 3: the fast driver ------------------------------------------------------------- */

/* One block of an operand as the micro-kernel reads it: panels (packed, or in place), or for
 * an indirect operand pointers, `step` of them per micro-panel (A: taps x MR, tap-major; B: one
 * per depth). */
typedef struct {
    gemm_panels pan;
    const float *const *ptr;
    int64_t step;
} op_block;

// The same block from its micro-panel i on.
static op_block op_from(op_block o, int64_t i)
{
    if (o.ptr)
        o.ptr += i * o.step;
    else
        o.pan.p += i * o.pan.ps;
    return o;
}

typedef struct gemm_plan gemm_plan;

/* What loop 3 hands to loops 2 and 1: C rows [ic, ic+mc) x columns [jc, jc+nc), depth block kc,
 * and the A block and B micro-panels that feed it. */
typedef struct {
    const gemm_plan *pl;
    op_block a, b;
    int64_t ic, mc, jc, nc, kc;
    int first, last;   /* the first depth block overwrites C; the last applies the epilogue */
} gemm_block;

/* The hook: one micro-kernel call for the operands' forms: rows [0, m) of tile i, j of the block
 * into c -- m < MR only where the ISA has edge kernels (g.ukernel_rows), else the whole tile. */
typedef void (*tile_fn)(const gemm_block *blk, int64_t i, int64_t j, int m, float *c, int64_t ldc,
                        int overwrite, const float *bias, int relu);

/* The call's buffers, each of one type: the B panel (packed) or an indirect B's row pointers,
 * then per thread an A block (packed) or an indirect A's pointer table, and a row of zeros
 * that the pointers of the padding point at. */
typedef struct {
    float *floats;          /* [B panel][A block per thread][zeros] */
    const float **ptrs;     /* [B row pointers][A pointer table per thread] */
    float *b, *a, *zeros;
    const float **b_ptrs, **a_ptrs;
    size_t a_size;          /* floats or pointers per thread */
} gemm_workspace;

/* Everything the nest reads, fixed before its first loop. */
struct gemm_plan {
    gemm_isa g;
    const gemm_out *c;
    const gemm_operand *a, *b;
    int64_t M, N, K;
    int nthreads;
    int pool;            /* the threads are pool.c's helpers (the inference path), not OpenMP's */
    int a_in_place;      /* A read through its view (A^T under an indirect B, whole MR tiles) */
    void (*macro_kernel)(const gemm_block *blk);   /* loops 2 and 1 for the operands' forms */
    int64_t m_tiles, n_mblocks, col_groups;   /* loop 3's tasks */
    int b_whole;         /* B got for all its depth blocks at once, loop 4 inside loop 3 */
    gemm_workspace ws;
};

// Packed A and B: the plain micro-kernel.
static void tile_packed(const gemm_block *blk, int64_t i, int64_t j, int m, float *c, int64_t ldc,
                        int overwrite, const float *bias, int relu)
{
    const gemm_isa *g = &blk->pl->g;
    const float *a_ir = blk->a.pan.p + i * blk->a.pan.ps, *b_jr = blk->b.pan.p + j * blk->b.pan.ps;
    if (m < g->mr)
        g->ukernel_rows(m, blk->kc, a_ir, b_jr, c, ldc, overwrite, bias, relu);
    else
        g->ukernel(blk->kc, a_ir, b_jr, c, ldc, overwrite, bias, relu);
}

// Indirect A (nt taps of kc / nt values each, through row pointers), packed B.
static void tile_indirect_a(const gemm_block *blk, int64_t i, int64_t j, int m, float *c,
                            int64_t ldc, int overwrite, const float *bias, int relu)
{
    const gemm_isa *g = &blk->pl->g;
    const int64_t nt = blk->a.step / g->mr;
    const float *const *a_ir = blk->a.ptr + i * blk->a.step;
    const float *b_jr = blk->b.pan.p + j * blk->b.pan.ps;
    const int64_t ldb = blk->b.pan.ld;
    if (m < g->mr)
        g->ukernel_ind_rows(m, nt, blk->kc / nt, a_ir, b_jr, ldb, c, ldc, overwrite, bias, relu);
    else
        g->ukernel_ind(nt, blk->kc / nt, a_ir, b_jr, ldb, c, ldc, overwrite, bias, relu);
}

// Indirect B (its rows through pointers); A packed, or in place (depth stride a.pan.ld).
static void tile_indirect_b(const gemm_block *blk, int64_t i, int64_t j, int m, float *c,
                            int64_t ldc, int overwrite, const float *bias, int relu)
{
    const gemm_isa *g = &blk->pl->g;
    const float *a_ir = blk->a.pan.p + i * blk->a.pan.ps;
    const float *const *b_jr = blk->b.ptr + j * blk->b.step;
    if (m < g->mr)
        g->ukernel_indb_rows(m, blk->kc, a_ir, blk->a.pan.ld, b_jr, c, ldc, overwrite, bias, relu);
    else
        g->ukernel_indb(blk->kc, a_ir, blk->a.pan.ld, b_jr, c, ldc, overwrite, bias, relu);
}

/* The epilogue of one C tile, applied once its last depth block is in: bias, then relu. The
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

// A stored C's edge tile: its valid part copied (first depth block) or added, then the epilogue.
static void put_stored(const gemm_block *blk, const float *tile, int64_t ir, int rows, int64_t jr,
                       int cols)
{
    const gemm_out *out = blk->pl->c;
    float *c_ir = out->data + (blk->ic + ir) * out->ld + blk->jc + jr;
    tile_out(c_ir, out->ld, tile, blk->pl->g.nr, rows, cols, blk->first);
    if (blk->last)
        epilogue(c_ir, out->ld, rows, cols, out->bias ? out->bias + blk->jc + jr : NULL, out->relu);
}

/* Loops 2 and 1 over one block of a stored C, with `tile` the micro-kernel call for the
 * operands' forms. A whole tile is written by the micro-kernel itself, with the epilogue in
 * registers on the last depth block -- and so is an edge of fewer rows where the ISA has edge
 * kernels (g.ukernel_rows: only the rows there are computed); an edge of fewer columns is
 * computed into `tile_buf` (its rows only, with edge kernels; else whole) and its valid part
 * stored by put_stored. */
PYCONV_ALWAYS_INLINE void macro_kernel(const gemm_block *blk, tile_fn tile)
{
    const gemm_plan *pl = blk->pl;
    const gemm_out *out = pl->c;
    const int mr = pl->g.mr, nr = pl->g.nr, edge_rows = pl->g.ukernel_rows != NULL;
    _Alignas(64) float tile_buf[GEMM_MAX_TILE];
    // loop 2 (jr, step NR): B micro-panel kc x NR, stays in L1
    for (int64_t jr = 0; jr < blk->nc; jr += nr) {
        const int nr_cur = blk->nc - jr < nr ? (int)(blk->nc - jr) : nr;
        // loop 1 (ir, step MR): A micro-panel MR x kc, streams from L2
        for (int64_t ir = 0; ir < blk->mc; ir += mr) {
            const int mr_cur = blk->mc - ir < mr ? (int)(blk->mc - ir) : mr;
            const int m = edge_rows ? mr_cur : mr;   /* the rows the micro-kernel computes */
            if (m == mr_cur && nr_cur == nr) {
                float *c_ir = out->data + (blk->ic + ir) * out->ld + blk->jc + jr;
                const float *bias = blk->last && out->bias ? out->bias + blk->jc + jr : NULL;
                const int relu = blk->last && out->relu;
                tile(blk, ir / mr, jr / nr, m, c_ir, out->ld, blk->first, bias, relu);
            } else {
                tile(blk, ir / mr, jr / nr, m, tile_buf, nr, 1, NULL, 0);
                put_stored(blk, tile_buf, ir, mr_cur, jr, nr_cur);
            }
        }
    }
}

/* Loops 2 and 1 over one block of a scattered C (its A indirect: plan_call). The micro-kernel
 * adds each tile into the tensor itself, through a pointer per row: where the scatter's table
 * sends the row under the panel's tap, or NULL for a tap in the padding or a row past the
 * block. An NR panel lies inside one tap, since the scatter's C is a multiple of NR. (The tile
 * had gone through a buffer and a separate add: 10% of conv2's input gradient under AVX2,
 * docs/benchmarks.md section 15.) */
static void macro_kernel_scattered(const gemm_block *blk)
{
    const gemm_plan *pl = blk->pl;
    const gemm_scatter *sc = pl->c->scatter;
    const int mr = pl->g.mr, nr = pl->g.nr;
    const int64_t nt = blk->a.step / mr;
    float *c_rows[GEMM_MAX_MR];
    // loop 2 (jr, step NR): B micro-panel kc x NR, stays in L1; channels c0.. of tap t
    for (int64_t jr = 0; jr < blk->nc; jr += nr) {
        const int64_t t = (blk->jc + jr) / sc->C, c0 = (blk->jc + jr) % sc->C;
        const float *b_jr = blk->b.pan.p + jr / nr * blk->b.pan.ps;
        // loop 1 (ir, step MR): A micro-panel MR x kc, streams from L2
        for (int64_t ir = 0; ir < blk->mc; ir += mr) {
            const int64_t *tab_ir = sc->tab + (blk->ic + ir) * sc->taps + t;
            for (int i = 0; i < mr; i++) {
                const int64_t off = ir + i < blk->mc ? tab_ir[i * sc->taps] : -1;
                c_rows[i] = off < 0 ? NULL : sc->out + off + c0;
            }
            const float *const *a_ir = blk->a.ptr + ir / mr * blk->a.step;
            pl->g.ukernel_ind_add(nt, blk->kc / nt, a_ir, b_jr, c_rows);
        }
    }
}

/* The macro-kernel once per operand form, the hook the nest calls per block: inside, the tile
 * call is direct. (A hook called per tile cost conv1's forward 4-14%: its tiles are 9 deep, so
 * one more indirect call is a fair part of one; docs/benchmarks.md section 8.) */
static void macro_kernel_packed(const gemm_block *blk) { macro_kernel(blk, tile_packed); }
static void macro_kernel_indirect_a(const gemm_block *blk) { macro_kernel(blk, tile_indirect_a); }
static void macro_kernel_indirect_b(const gemm_block *blk) { macro_kernel(blk, tile_indirect_b); }

/* NR micro-panel j of loop 4's B panel (columns jc.. of depth block [pc, pc+kc)), at depth `at`
 * of the workspace: packed, or its row pointers (indirect). */
static void b_micropanel(const gemm_plan *pl, int64_t jc, int64_t nc, int64_t pc, int64_t kc,
                         int64_t at, int64_t j)
{
    const gemm_operand *b = pl->b;
    const int nr = pl->g.nr;
    const int64_t np = ceil_div(nc, nr), j0 = j * nr, w = nc - j0 < nr ? nc - j0 : nr;
    if (b->cols)
        b->cols(pl->ws.b_ptrs + at * np + j * kc, b, jc + j0, b->k0 + pc, kc, pl->ws.zeros);
    else
        b->pack(pl->ws.b + (at * np + j * kc) * nr, b, jc + j0, w, b->k0 + pc, kc, nr);
}

/* Loop 4's B panel, columns [jc, jc+nc) x depth block [pc, pc+kc), at depth `at` of the
 * workspace (0, or pc - pc0 when a stretch of several depth blocks is got at once: plan_call):
 * packed, or its row pointers (indirect), each NR micro-panel by one thread; nothing for a view.
 * In a team (team = 1) called by every thread of the parallel region, it returns after the
 * barrier that ends it; alone, the caller gets every micro-panel itself (gemm_stretch). */
static void b_fill(const gemm_plan *pl, int team, int64_t jc, int64_t nc, int64_t pc, int64_t kc,
                   int64_t at)
{
    if (pl->b->view)
        return;
    const int64_t np = ceil_div(nc, pl->g.nr);
    if (team) {
        #pragma omp for schedule(static)
        for (int64_t j = 0; j < np; j++)
            b_micropanel(pl, jc, nc, pc, kc, at, j);
    } else {
        for (int64_t j = 0; j < np; j++)
            b_micropanel(pl, jc, nc, pc, kc, at, j);
    }
}

// The B panel b_fill got (or B's view) as the micro-kernels read it.
static op_block b_panel(const gemm_plan *pl, int64_t jc, int64_t nc, int64_t pc, int64_t kc,
                        int64_t at)
{
    const gemm_operand *b = pl->b;
    const int nr = pl->g.nr;
    const int64_t np = ceil_div(nc, nr);
    if (b->view)
        return (op_block){.pan = b->view(b, jc, b->k0 + pc, nr)};
    if (b->cols)
        return (op_block){.ptr = pl->ws.b_ptrs + at * np, .step = kc};
    return (op_block){.pan = {pl->ws.b + at * np * nr, nr * kc, nr}};
}

/* Prefetch, into L2, what rows [r0, r1) of an indirect A read under taps t0..t0+nt (kc / nt
 * floats each, from channel c0): the next block's rows, while this one computes, for an A that
 * comes from memory (`far`). Its first reads would otherwise wait on memory, tile by tile: the
 * Conv2DTranspose's input gradient at batch 256 (a 51 MB A) ran 1.11x faster with them
 * (docs/benchmarks.md section 16). A prefetch changes no value. */
static void prefetch_rows(const gemm_plan *pl, int64_t r0, int64_t r1, int64_t t0, int64_t nt,
                          int64_t c0, int64_t kc)
{
    const gemm_operand *a = pl->a;
    const float *ptr[16];
    for (int64_t r = r0; r < r1 && r < pl->M; r++)
        for (int64_t t = 0; t < nt; t += 16) {
            const int64_t n = nt - t < 16 ? nt - t : 16;
            a->rows(ptr, 1, a, r, t0 + t, n, c0, pl->ws.zeros);
            for (int64_t i = 0; i < n; i++)
                pyconv_prefetch_l2(ptr[i], kc / nt * (int64_t)sizeof(float));
        }
}

/* Fill the pointer table of one indirect A block: rows [ic, ic+mc), taps of depth block
 * [pc, pc+kc), laid out per MR-row tile as [tap][row] (what ukernel_*_ind reads). Rows past
 * M, up to the tile's end, read zeros. Returns the taps per tile. */
static int64_t fill_rows(const float **pt, const gemm_plan *pl, int64_t ic, int64_t mc,
                         int64_t pc, int64_t kc)
{
    const gemm_operand *a = pl->a;
    const int mr = pl->g.mr;
    const int64_t t0 = pc / a->C, c0 = pc % a->C, nt = a->C <= pl->g.kc ? kc / a->C : 1;
    for (int64_t r = 0; r < ceil_div(mc, mr) * mr; r++) {
        const float **dst = pt + (r / mr) * nt * mr + r % mr;
        if (ic + r < pl->M)
            a->rows(dst, mr, a, ic + r, t0, nt, c0, pl->ws.zeros);
        else
            for (int64_t t = 0; t < nt; t++)
                dst[t * mr] = pl->ws.zeros;
    }
    if (a->far)
        prefetch_rows(pl, ic + mc, ic + 2 * mc, t0, nt, c0, kc);
    return nt;
}

/* Loop 3's A block, rows [ic, ic+mc) x depth block [pc, pc+kc), in thread tid's workspace:
 * its row pointers (indirect), or its view (in place), or packed. */
static op_block a_block(const gemm_plan *pl, int tid, int64_t ic, int64_t mc, int64_t pc,
                        int64_t kc)
{
    const gemm_operand *a = pl->a;
    const int mr = pl->g.mr;
    if (a->rows) {
        const float **pt = pl->ws.a_ptrs + (size_t)tid * pl->ws.a_size;
        return (op_block){.ptr = pt, .step = fill_rows(pt, pl, ic, mc, pc, kc) * mr};
    }
    if (pl->a_in_place)
        return (op_block){.pan = a->view(a, ic, a->k0 + pc, mr)};
    float *packed = pl->ws.a + (size_t)tid * pl->ws.a_size;
    a->pack(packed, a, ic, mc, a->k0 + pc, kc, mr);
    return (op_block){.pan = {packed, mr * kc, mr}};
}

/* One allocation per type: floats (the B panel, an A block per thread, a row of zeros) and,
 * for indirect operands, pointers (an indirect B's rows, a pointer table per thread). */
static int workspace_alloc(gemm_workspace *ws, const gemm_plan *pl)
{
    const gemm_isa *g = &pl->g;
    const int64_t kc_max = pl->K < g->kc ? pl->K : g->kc;
    const int64_t nc_max = pl->N < g->nc ? pl->N : g->nc;
    const int64_t mc_max = pl->M < g->mc ? ceil_div(pl->M, g->mr) * g->mr : g->mc;
    const gemm_operand *a = pl->a, *b = pl->b;
    const size_t panels = (size_t)(ceil_div(nc_max, g->nr) * (pl->b_whole ? pl->K : kc_max));
    const size_t threads = (size_t)pl->nthreads;
    const size_t b_floats = b->view || b->cols ? 0 : panels * (size_t)g->nr;
    const size_t b_ptrs = b->cols ? panels : 0;
    const size_t a_size = a->rows || !pl->a_in_place ? (size_t)(mc_max * kc_max) : 0;
    const size_t a_floats = a->rows ? 0 : a_size * threads, a_ptrs = a->rows ? a_size * threads : 0;
    const size_t z_floats = a->rows || b->cols ? (size_t)(kc_max > g->nr ? kc_max : g->nr) : 0;
    const size_t n_floats = b_floats + a_floats + z_floats, n_ptrs = b_ptrs + a_ptrs;
    *ws = (gemm_workspace){.a_size = a_size};
    ws->floats = n_floats ? pyconv_scratch_alloc(n_floats * sizeof(float)) : NULL;
    ws->ptrs = n_ptrs ? pyconv_scratch_alloc(n_ptrs * sizeof(const float *)) : NULL;
    if ((n_floats && !ws->floats) || (n_ptrs && !ws->ptrs)) {
        pyconv_scratch_free(ws->ptrs), pyconv_scratch_free(ws->floats);
        return PYCONV_ENOMEM;
    }
    ws->b = ws->floats, ws->a = ws->floats + b_floats, ws->zeros = ws->a + a_floats;
    ws->b_ptrs = ws->ptrs, ws->a_ptrs = n_ptrs ? ws->ptrs + b_ptrs : NULL;
    memset(ws->zeros, 0, z_floats * sizeof(float));
    return PYCONV_OK;
}

/* Fix the call's plan: the thread count, the hooks for the operands' forms, loop 3's tasks and
 * the workspace. PYCONV_EINVAL for forms that cannot be combined (gemm.h). */
static int plan_call(gemm_plan *pl, int nthreads, double min_flops)
{
    const gemm_operand *a = pl->a, *b = pl->b;
    const gemm_out *c = pl->c;
    const gemm_isa *g = &pl->g;
    if ((a->rows && (a->k0 || b->cols)) || (b->cols && pl->N % g->nr)
        || (b->view == gemm_view_b_n && (pl->N % g->nr || !a->rows || !c->data))
        || (!c->data && (!c->scatter || c->scatter->C % g->nr || !a->rows)))
        return PYCONV_EINVAL;
    /* A parallel region costs microseconds: below ~1 MFLOP one thread is faster. A scattered C
     * takes one: rows of different blocks add into the same pixels. */
    pl->nthreads = 2.0 * (double)pl->M * (double)pl->N * (double)pl->K < min_flops
                   || !c->data ? 1 : nthreads;
    pl->a_in_place = a->view && b->cols && pl->M % g->mr == 0;
    if (!a->rows && !a->pack && !pl->a_in_place)
        return PYCONV_EINVAL;
    pl->macro_kernel = !c->data ? macro_kernel_scattered
                       : a->rows ? macro_kernel_indirect_a
                       : b->cols ? macro_kernel_indirect_b : macro_kernel_packed;

    /* Tasks of loop 3: row blocks of at most MC rows x groups of NR panels. The row blocks are
     * whole MR tiles, as many as a multiple of the thread count, all within one tile of the
     * same size: 3872 rows (conv2 at batch 32) in 29 blocks of MC = 136 would give one thread
     * 15 blocks and the other 14; 30 blocks of 128-136 rows do not. When M is small (fewer than 4 blocks: a
     * dense layer or conv3 at batch 32) N is split as well, into groups of whole NR panels in
     * equal shares (within one panel), at least 4 and a multiple of the thread count: conv3's
     * filter gradient at batch 32, 18 panels, was 5 + 5 | 5 + 3 on 2 threads (10% idle), and
     * is 4 + 5 | 4 + 5. No split changes any sum's order. */
    pl->m_tiles = ceil_div(pl->M, g->mr);
    pl->n_mblocks = ceil_div(pl->m_tiles, g->mc / g->mr);
    if (pl->pool && pl->nthreads > 1 && pl->m_tiles >= pl->nthreads) {
        /* On the pool, tasks are claimed one by one, and one thread may run them all (a helper
         * asleep, or on another's core): the row blocks are cut smaller, up to 4 a thread, and N
         * is not split -- a group of panels would fill or pack its rows' A again (conv3 of the
         * tutorial CNN at batch 1: 15.8 -> 20.4 us on one thread in 2 column groups). */
        const int64_t want = 4 * (int64_t)pl->nthreads;
        if (pl->n_mblocks < want)
            pl->n_mblocks = pl->m_tiles < want ? pl->m_tiles : want;
        pl->col_groups = 1;
    } else {
        pl->col_groups = pl->n_mblocks >= 4 || pl->nthreads == 1
                         ? 1 : ceil_div(4, pl->nthreads) * pl->nthreads;
        if (pl->n_mblocks >= 4)
            pl->n_mblocks = ceil_div(pl->n_mblocks, pl->nthreads) * pl->nthreads;
    }

    /* Loop 4 inside loop 3 when B, whole, is no larger than one B panel (KC x NC) and there are
     * several depth blocks and several tasks: each task then runs all its depth blocks while its
     * C block (and its A rows) are still in L2, where loop 4 outside loop 3 had every task
     * store its C block and come back for it in the next depth block from L3 or memory -- the
     * Conv2DTranspose's input gradient at batch 256 (50,176 x 128 x 576: a 26 MB C and a 51 MB
     * A, twice) streamed 180 MB for 77 (docs/benchmarks.md section 16). Each element's sum is
     * taken in the same order, block by block: the same bits. */
    const int64_t b_whole = ceil_div(pl->N, g->nr) * pl->K * (b->cols ? 1 : g->nr);
    pl->b_whole = depth_block(a, 0, pl->K, g->kc) < pl->K && pl->N <= g->nc
                  && pl->n_mblocks * pl->col_groups > 1 && b_whole <= g->kc * g->nc;
    return workspace_alloc(&pl->ws, pl);
}

/* What loop 5 and the stretch of depth hand to loop 3: the B panels of columns [jc, jc+nc) over
 * depth [p0, p1), whose tasks are row blocks x groups of its n_panels NR panels. */
typedef struct {
    int64_t jc, nc, n_panels, n_groups, p0, p1;
} depth_stretch;

/* Loop 3's task t over stretch st, on thread tid: rows of whole MR tiles x a group of panels,
 * and loop 4 over the stretch's depth blocks, in order (the plan's macro-kernel per block). */
static void loop3_task(const gemm_plan *pl, const depth_stretch *st, int64_t t, int tid)
{
    const int nr = pl->g.nr, mr = pl->g.mr;
    const int64_t mb = t / st->n_groups;   // tiles [mb*m_tiles/n, (mb+1)*m_tiles/n)
    const int64_t ic = mb * pl->m_tiles / pl->n_mblocks * mr;
    const int64_t ie = (mb + 1) * pl->m_tiles / pl->n_mblocks * mr;
    const int64_t mc_cur = (ie < pl->M ? ie : pl->M) - ic;
    const int64_t grp = t % st->n_groups;   // panels [grp*n/groups, (grp+1)*n/groups)
    const int64_t j0 = grp * st->n_panels / st->n_groups * nr;
    const int64_t je = (grp + 1) * st->n_panels / st->n_groups * nr;
    const int64_t nc_task = (je < st->nc ? je : st->nc) - j0;
    if (mc_cur <= 0)
        return;   // more blocks than tiles (tiny M)
    // loop 4 (pc, step KC): the stretch's depth blocks, in order
    for (int64_t pc = st->p0, kc_cur; pc < st->p1; pc += kc_cur) {
        kc_cur = depth_block(pl->a, pc, pl->K, pl->g.kc);
        const op_block b_pc = b_panel(pl, st->jc, st->nc, pc, kc_cur, pc - st->p0);
        const gemm_block blk = {.pl = pl, .ic = ic, .mc = mc_cur, .jc = st->jc + j0, .nc = nc_task,
                                .kc = kc_cur, .first = pc == 0, .last = pc + kc_cur == pl->K,
                                .b = op_from(b_pc, j0 / nr),
                                .a = a_block(pl, tid, ic, mc_cur, pc, kc_cur)};
        pl->macro_kernel(&blk);
    }
}

/* One stretch of depth: its B panels got once, then loop 3's tasks. Run by every thread of
 * gemm's parallel region alike (team = 1: the worksharing loops split micro-panels and tasks),
 * or by the caller alone (team = 0) with no OpenMP construct at all -- so also from a thread of
 * another kernel's region (backward_input's image groups), whose team a worksharing loop here
 * would bind to. */
static void gemm_stretch(const gemm_plan *pl, const depth_stretch *st, int team)
{
    for (int64_t pc = st->p0, kc_cur; pc < st->p1; pc += kc_cur) {
        kc_cur = depth_block(pl->a, pc, pl->K, pl->g.kc);
        b_fill(pl, team, st->jc, st->nc, pc, kc_cur, pc - st->p0);
    }
    const int64_t tasks = pl->n_mblocks * st->n_groups;
    // loop 3 (ic, <= MC rows): A block, lives in L2; a task: rows x a group of panels
    if (team) {
        #pragma omp for schedule(static)
        for (int64_t t = 0; t < tasks; t++)
            loop3_task(pl, st, t, pyconv_thread_num());
    } else {
        for (int64_t t = 0; t < tasks; t++)
            loop3_task(pl, st, t, 0);
    }
}

/* One stretch of depth on pool.c's threads (the inference path): the same two steps as
 * gemm_stretch's, each a pool job -- the B micro-panels over the stretch's depth blocks (task j:
 * micro-panel j of every block), then loop 3's tasks. The pool's caller waits for the first job's
 * tasks before it posts the second: the barrier between them. */
typedef struct {
    const gemm_plan *pl;
    const depth_stretch *st;
} stretch_job;

static void pool_b_task(const void *ctx, int64_t j, int tid)
{
    const stretch_job *s = ctx;
    (void)tid;
    for (int64_t pc = s->st->p0, kc_cur; pc < s->st->p1; pc += kc_cur) {
        kc_cur = depth_block(s->pl->a, pc, s->pl->K, s->pl->g.kc);
        b_micropanel(s->pl, s->st->jc, s->st->nc, pc, kc_cur, pc - s->st->p0, j);
    }
}

static void pool_loop3_task(const void *ctx, int64_t t, int tid)
{
    const stretch_job *s = ctx;
    loop3_task(s->pl, s->st, t, tid);
}

static void gemm_stretch_pool(const gemm_plan *pl, const depth_stretch *st)
{
    const stretch_job s = {pl, st};
    const double flops = 2.0 * (double)pl->M * (double)st->nc * (double)(st->p1 - st->p0);
    const int wake = flops >= POOL_WAKE_FLOPS;
    if (!pl->b->view)
        pyconv_pool_run(pool_b_task, &s, ceil_div(st->nc, pl->g.nr), pl->nthreads, wake);
    pyconv_pool_run(pool_loop3_task, &s, pl->n_mblocks * st->n_groups, pl->nthreads, wake);
}

/* The fast driver: the spine's five loops, threaded over loop 3, with each operand's block got
 * through its descriptor (b_fill and b_panel, a_block) and each tile through the plan's hooks;
 * loop 4 inside loop 3 when B is got whole (plan_call's b_whole). One thread opens no parallel
 * region: with libgomp a region of one thread still made a team whose barriers each cost a
 * futex system call (the tutorial CNN's convolutions at batch 1, where inference runs them on
 * one thread; docs/benchmarks.md 10.2). */
int gemm(const gemm_out *c, const gemm_operand *a, const gemm_operand *b, int64_t M, int64_t N,
         int64_t K, int nthreads)
{
    if (M <= 0 || N <= 0 || (K <= 0 && !c->data))
        return PYCONV_OK;
    if (K <= 0) {   // an empty sum: C = 0 (+ bias)(relu)
        for (int64_t i = 0; i < M; i++) {
            memset(c->data + i * c->ld, 0, (size_t)N * sizeof(float));
            epilogue(c->data + i * c->ld, c->ld, 1, (int)N, c->bias, c->relu);
        }
        return PYCONV_OK;
    }
    gemm_plan pl = {.g = isa_table(), .c = c, .a = a, .b = b, .M = M, .N = N, .K = K};
    /* On one thread, from the inference path (a pool width, outside any OpenMP region): pool.c's
     * helpers, which are awake while calls come back to back, from POOL_MIN_FLOPS. */
    const int width = nthreads == 1 ? pyconv_pool_width() : 1;
    pl.pool = width > 1 && c->data && !pyconv_in_parallel();
    const int status = pl.pool ? plan_call(&pl, width, POOL_MIN_FLOPS)
                               : plan_call(&pl, nthreads, GEMM_PAR_MIN_FLOPS);
    if (status != PYCONV_OK)
        return status;
    // loop 5 (jc, step NC): B panel, lives in L3
    for (int64_t jc = 0; jc < N; jc += pl.g.nc) {
        const int64_t nc_cur = N - jc < pl.g.nc ? N - jc : pl.g.nc;
        const int64_t n_panels = ceil_div(nc_cur, pl.g.nr);
        const int64_t n_groups = pl.col_groups < n_panels ? pl.col_groups : n_panels;
        // a stretch of depth: one depth block, or all of them (b_whole: loop 4 inside loop 3)
        for (int64_t p0 = 0, p1; p0 < K; p0 = p1) {
            p1 = pl.b_whole ? K : p0 + depth_block(a, p0, K, pl.g.kc);
            const depth_stretch st = {.jc = jc, .nc = nc_cur, .n_panels = n_panels,
                                       .n_groups = n_groups, .p0 = p0, .p1 = p1};
            if (pl.nthreads > 1 && pl.pool) {
                gemm_stretch_pool(&pl, &st);
            } else if (pl.nthreads > 1) {
                #pragma omp parallel num_threads(pl.nthreads)
                gemm_stretch(&pl, &st, 1);
            } else {
                gemm_stretch(&pl, &st, 0);
            }
        }
    }
    pyconv_scratch_free(pl.ws.ptrs), pyconv_scratch_free(pl.ws.floats);
    return PYCONV_OK;
}

// The fast GEMM on plain row-major matrices (pyconv.h): A read in place through row pointers.
int sgemm(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
{
    const gemm_operand a_op = {.rows = gemm_rows_n, .C = K, .data = a, .ld = K};
    const gemm_operand b_op = {.pack = gemm_pack_b_n, .data = b, .ld = N};
    return gemm(&(gemm_out){.data = c, .ld = N}, &a_op, &b_op, M, N, K, pyconv_num_threads());
}
