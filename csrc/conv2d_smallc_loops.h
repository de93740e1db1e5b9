/* conv2d_smallc_loops.h -- the filter (and bias) gradient of a convolution with few input
 * channels (C < SMALL_C: the first layer, C = 1 or 3) as a direct loop nest, and below it
 * (conv2d_fwd_smallc_loop) its forward pass as another; written once and compiled once per ISA (conv2d.c for the portable build, conv2d_smallc_avx2.c,
 * conv2d_smallc_avx512.c and conv2d_smallc_neon.c with their own flags); conv2d.c picks the
 * ISA and adds the chunks' partials.
 *
 * Why not the GEMM: with R*S*C = 9 (3x3, one channel) a patch is 9 scattered floats, and
 * packing them for the GEMM cost more than the multiply (pack_patches_t was 41% of the pass).
 * Here nothing is packed. Per output pixel, its dout row of K values is loaded once, in vectors,
 * and each of the patch's R*S*C input values is broadcast from where it lies in the image and
 * multiplied into the accumulators of its filter row: a register tile of SC_DB depth rows
 * (r,s,c) x SC_NV vectors of output channels that stays in registers over a whole output row
 * of pixels, plus SC_NV accumulators of the bias gradient (the sum of dout). Loop nest:
 *
 *   loop 1 (chunks of output pixels)     threads; each chunk sums into its own partial
 *   loop 2 (n,p: the chunk's output rows, ascending; the first and last may be partial)
 *   loop 3 (q: segments of the row)      interior pixels (every tap in the image) in one run;
 *                                        each border pixel alone, its patch gathered with zeros
 *   loop 4 (k0, step SC_NV*SC_VEC)       a block of output channels
 *   loop 5 (d0, step <= SC_DB)           a block of filter rows; both blocks' accumulators are
 *                                        loaded from the chunk's partial, kept in registers over
 *                                        the segment, stored back (the partial lives in L1)
 *   loop 6 (q in the segment)            dout row: SC_NV vector loads; input: db broadcasts
 *   loop 7 (d, v)                        db * SC_NV multiply-adds, unrolled
 *
 * What bounds it: per pixel and channel block, SC_NV loads of dout and db broadcasts feed
 * db * SC_NV multiply-adds (18 of each per 2 + 9 loads for AVX-512's 3x3x1 tile): the FMA units,
 * not memory -- dout's row and the R input rows are read from L1.
 *
 * Sums: each partial element adds its pixels in the chunk's order (rows ascending, columns
 * ascending); the chunks are the GEMM path's, fixed by the sizes (conv2d.c's bwf_plan_make),
 * so the result does not depend on the thread count. The AVX2, AVX-512 and NEON builds fuse each multiply-add (VEC_FMA), the
 * portable one rounds twice: ISAs may differ in the last bits, as the GEMM's micro-kernels do.
 * The channels past the last whole vector (K not a multiple of SC_VEC) are copied, zero-padded,
 * into a vector per pixel and take the same tile.
 */
#ifndef PYCONV_CONV2D_SMALLC_LOOPS_H
#define PYCONV_CONV2D_SMALLC_LOOPS_H

#include <string.h>
#include "target.h"
#include "conv2d_geometry.h"

/* Floats per vector: each ISA file defines it before including this header (16 for AVX-512, 8
 * for AVX2); the portable build takes 4 (SSE2 / NEON). */
#ifndef SC_VEC
#define SC_VEC 4
#endif
/* One ISA vector of SC_VEC floats (vec_t: vec_portable.h); its multiply-add fused where the ISA
 * file defines VEC_FMA, its broadcast the ISA's where it defines VEC_SPLAT. */
#define VEC_FLOATS SC_VEC
#include "vec_portable.h"
/* Filter rows per register tile: the tile is SC_DB x SC_NV accumulators, plus SC_NV for the
 * bias, SC_NV for the dout row and one broadcast: 5 x 2 + 2 + 2 + 1 = 15 of the 16 registers
 * of AVX2 and SSE2; AVX-512 (32 registers) takes 9, the whole 3x3x1 patch in one tile (23). */
#ifndef SC_DB
#define SC_DB 5
#endif
/* Vectors of output channels per tile: 2 (K = 32 is 2 AVX-512 vectors, 4 AVX2 ones). */
#define SC_NV 2
/* The largest SC_DB any ISA file sets: the cases of sc_bwf_tile's switch. */
#define SC_DB_MAX 9

/* One segment of pixels i < nq through one register tile (loops 6-7): for d < db, v < nv,
 *   part[d*ldp + v*SC_VEC ..] += sum over i of x[i*xstep + off[d]] * g[i*ldg + v*SC_VEC ..],
 * and, unless pbias is NULL, pbias[v*SC_VEC ..] += sum over i of g[i*ldg + v*SC_VEC ..]; i
 * ascending. db, nv and pbias's nullness are constants where it is inlined (sc_bwf_nv), so the
 * accumulators and the offsets stay in registers. */
PYCONV_ALWAYS_INLINE void sc_bwf_vecs(float *part, float *pbias, int64_t ldp, const float *x,
                                     int64_t xstep, const int64_t *off, const float *g,
                                     int64_t ldg, int64_t nq, int db, int nv)
{
    vec_t acc[SC_DB_MAX][SC_NV], accb[SC_NV];
    int64_t o[SC_DB_MAX];
    for (int d = 0; d < db; d++) {
        o[d] = off[d];
        for (int v = 0; v < nv; v++)
            acc[d][v] = vec_load(part + d * ldp + v * SC_VEC);
    }
    for (int v = 0; pbias && v < nv; v++)
        accb[v] = vec_load(pbias + v * SC_VEC);
    for (int64_t i = 0; i < nq; i++, x += xstep, g += ldg) {   // loop 6
        vec_t gv[SC_NV];
        for (int v = 0; v < nv; v++)
            gv[v] = vec_load(g + v * SC_VEC);
        for (int d = 0; d < db; d++) {                           // loop 7
            const vec_t xb = vec_splat(x[o[d]]);
            for (int v = 0; v < nv; v++)
                acc[d][v] = vec_madd(acc[d][v], xb, gv[v]);
        }
        for (int v = 0; pbias && v < nv; v++)
            accb[v] = vec_add(accb[v], gv[v]);
    }
    for (int d = 0; d < db; d++)
        for (int v = 0; v < nv; v++)
            vec_store(part + d * ldp + v * SC_VEC, acc[d][v]);
    for (int v = 0; pbias && v < nv; v++)
        vec_store(pbias + v * SC_VEC, accb[v]);
}

/* sc_bwf_vecs with db and nv as constants: one case per tile height. */
PYCONV_ALWAYS_INLINE void sc_bwf_nv(float *part, float *pbias, int64_t ldp, const float *x,
                                   int64_t xstep, const int64_t *off, const float *g, int64_t ldg,
                                   int64_t nq, int db, int nv)
{
    switch (db) {
    case 1: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 1, nv); break;
    case 2: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 2, nv); break;
    case 3: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 3, nv); break;
    case 4: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 4, nv); break;
    case 5: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 5 <= SC_DB ? 5 : 1, nv); break;
    case 6: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 6 <= SC_DB ? 6 : 1, nv); break;
    case 7: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 7 <= SC_DB ? 7 : 1, nv); break;
    case 8: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 8 <= SC_DB ? 8 : 1, nv); break;
    default: sc_bwf_vecs(part, pbias, ldp, x, xstep, off, g, ldg, nq, 9 <= SC_DB ? 9 : 1, nv); break;
    }
}

/* One tile (loop 5's body): db filter rows of a partial at row stride ldp (and the bias row
 * when pbias), nv = SC_NV or 1 vectors of channels, over a segment's nq pixels. Out of line,
 * one copy per (nv, bias) -- each holds the switch over db -- keeps the code small. */
static void sc_bwf_tile(float *part, float *pbias, int64_t ldp, const float *x, int64_t xstep,
                        const int64_t *off, const float *g, int64_t ldg, int64_t nq, int db, int nv)
{
    if (nv == SC_NV) {
        if (pbias)
            sc_bwf_nv(part, pbias, ldp, x, xstep, off, g, ldg, nq, db, SC_NV);
        else
            sc_bwf_nv(part, NULL, ldp, x, xstep, off, g, ldg, nq, db, SC_NV);
    } else {
        if (pbias)
            sc_bwf_nv(part, pbias, ldp, x, xstep, off, g, ldg, nq, db, 1);
        else
            sc_bwf_nv(part, NULL, ldp, x, xstep, off, g, ldg, nq, db, 1);
    }
}

/* A segment of nq pixels (dout rows at g, K apart), all channels and filter rows of the
 * chunk's partial pf (R*S*C rows of K, then the bias row; loops 4-5). Channel blocks of SC_NV
 * vectors, then single vectors; the last K mod SC_VEC channels are copied, zero-padded, into
 * one vector per pixel (gtail: nq*SC_VEC floats) and summed in a tile of their own, so that
 * they too run on vectors. Filter rows in tiles of nearly equal height (9 rows on AVX2: 5 + 4,
 * not 5 + 4 with a wasted half tile); the bias gradient rides with the first. */
static inline void sc_bwf_segment(float *pf, int64_t RSC, int64_t K, const float *x, int64_t xstep,
                                  const int64_t *off, const float *g, int64_t nq, float *gtail)
{
    const int64_t nb = ceil_div(RSC, SC_DB), kv = K / SC_VEC * SC_VEC;
    for (int64_t k0 = 0; k0 < kv;) {                                         // loop 4
        const int nv = kv - k0 >= SC_NV * SC_VEC ? SC_NV : 1;
        for (int64_t b = 0, d0 = 0; b < nb; b++) {                           // loop 5
            const int db = (int)(RSC / nb + (b < RSC % nb));
            sc_bwf_tile(pf + d0 * K + k0, d0 == 0 ? pf + RSC * K + k0 : NULL, K, x, xstep,
                        off + d0, g + k0, K, nq, db, nv);
            d0 += db;
        }
        k0 += nv * SC_VEC;
    }
    const int kt = (int)(K - kv);
    if (kt == 0)
        return;
    float tile[(SC_DB_MAX + 1) * SC_VEC];   /* the tail's partial rows, SC_VEC apart */
    for (int64_t i = 0; i < nq; i++)
        for (int k = 0; k < SC_VEC; k++)
            gtail[i * SC_VEC + k] = k < kt ? g[i * K + kv + k] : 0.0f;
    for (int64_t b = 0, d0 = 0; b < nb; b++) {
        const int db = (int)(RSC / nb + (b < RSC % nb));
        const int bias = d0 == 0;
        for (int d = 0; d < db + bias; d++)   /* row db: the bias */
            for (int k = 0; k < SC_VEC; k++)
                tile[d * SC_VEC + k] = k < kt ? pf[(d < db ? d0 + d : RSC) * K + kv + k] : 0.0f;
        sc_bwf_tile(tile, bias ? tile + db * SC_VEC : NULL, SC_VEC, x, xstep, off + d0, gtail,
                    SC_VEC, nq, db, 1);
        for (int d = 0; d < db + bias; d++)
            for (int k = 0; k < kt; k++)
                pf[(d < db ? d0 + d : RSC) * K + kv + k] = tile[d * SC_VEC + k];
        d0 += db;
    }
}

/* Scratch per thread of conv2d_bwf_smallc_loop, in floats, for any ISA's SC_VEC (<= 16): R*S*C
 * offsets (int64, 2 floats each), a gathered patch of R*S*C floats, and Q rows of one vector
 * (the channel tail); rounded up to whole cache lines, so that the threads' slices neither
 * misalign an offset nor share a line. */
static inline int64_t conv2d_bwf_smallc_work(const conv2d_shape *sh)
{
    return ceil_div(3 * sh->R * sh->S * sh->C + 16 * (sh->Q > 0 ? sh->Q : 1), 16) * 16;
}

/* ---- the filter gradient straight from a max pooling's gradient ----------------------------
 * Training never needs the first layer's input gradient. When its output y is read by a max
 * pooling alone, whose windows do not overlap (stride = window: the usual 2x2/2), the pooling's
 * input gradient -- this layer's dout -- need not be written out and read back (2.8 MB each way
 * for the tutorial CNN at batch 32): loop 2 computes the dout rows that one pooling row covers
 * into a per-thread buffer (the pooling window's R rows of Q*K floats, in L1/L2) and takes them
 * from there. Each value is maxpool2d_backward's (pool2d_loops.h): the pooling gradient where y
 * is its window's first maximum (and, with relu, that maximum > 0), zero elsewhere; and they
 * are summed in the same order, so the result is bitwise that of the two passes. */
typedef struct {
    const float *dy;          /* the pooling's dout (N, psh->P, psh->Q, K) */
    const float *y;           /* its input: this convolution's output (N, P, Q, K) */
    const pool2d_shape *psh;  /* stride = window; its input (N, P, Q, K) */
    int relu;                 /* y is a relu's output: a maximum <= 0 passes no gradient */
} sc_pooled;

/* Floats per thread of the rows buffer. */
static inline int64_t sc_pooled_work(const conv2d_shape *sh, const pool2d_shape *psh)
{
    return ceil_div(psh->R * sh->Q * sh->K, 16) * 16;
}

/* One window (rows [lo, hi), columns [w0, w1) of y, pixel (h, w) at (h*Q + w)*K) and cn <= SC_VEC
 * channels: its first maximum's position found, then every element of the window written to
 * buf (laid out as y from row lo): the gradient g there, zero elsewhere. (The channel tail, and
 * every block where vec_t is not a vector extension.) */
PYCONV_ALWAYS_INLINE void sc_pool_window(float *buf, const float *y, const float *g, int64_t Q,
                                         int64_t K, int64_t lo, int64_t hi, int64_t w0, int64_t w1,
                                         int64_t cn, int relu)
{
    float m[SC_VEC];       /* running max of each channel */
    int32_t win[SC_VEC];   /* the first maximum's index in the window, row-major */
    for (int64_t c = 0; c < cn; c++) {
        m[c] = y[(lo * Q + w0) * K + c];
        win[c] = 0;
    }
    int32_t idx = 0;
    for (int64_t h = lo; h < hi; h++)
        for (int64_t w = w0; w < w1; w++, idx++) {
            const float *yp = y + (h * Q + w) * K;
            for (int64_t c = 0; c < cn; c++) {
                const int32_t gt = -(int32_t)max_wins(yp[c], m[c]);
                win[c] = (idx & gt) | (win[c] & ~gt);
                m[c] = max_wins(yp[c], m[c]) ? yp[c] : m[c];
            }
        }
    idx = 0;
    for (int64_t h = lo; h < hi; h++)
        for (int64_t w = w0; w < w1; w++, idx++) {
            float *dp = buf + ((h - lo) * Q + w) * K;
            for (int64_t c = 0; c < cn; c++) {
                uint32_t gb, mask = -(uint32_t)((win[c] == idx) & ((m[c] > 0.0f) | !relu));
                memcpy(&gb, g + c, sizeof gb);
                gb &= mask;
                memcpy(dp + c, &gb, sizeof gb);
            }
        }
}

#if VEC_EXT
/* sc_pool_window for SC_VEC channels in vector registers: the same compares and selects, lane
 * by lane (a comparison of vector extensions gives -1 where true). */
typedef int32_t sc_veci __attribute__((vector_size(SC_VEC * sizeof(int32_t))));

PYCONV_ALWAYS_INLINE void sc_pool_window_vec(float *buf, const float *y, const float *g, int64_t Q,
                                             int64_t K, int64_t lo, int64_t hi, int64_t w0,
                                             int64_t w1, int relu)
{
    vec_t m = vec_load(y + (lo * Q + w0) * K);
    sc_veci win = (sc_veci){0};
    int32_t idx = 0;
    for (int64_t h = lo; h < hi; h++)
        for (int64_t w = w0; w < w1; w++, idx++) {
            const vec_t v = vec_load(y + (h * Q + w) * K);
            const sc_veci gt = (v > m) | ((v != v) & (m == m));   /* max_wins, lane-wise */
            win = (idx & gt) | (win & ~gt);
            m = (vec_t)(((sc_veci)v & gt) | ((sc_veci)m & ~gt));
        }
    const sc_veci pass = relu ? (m > vec_zero()) : ~(sc_veci){0};
    const sc_veci gb = (sc_veci)vec_load(g) & pass;
    idx = 0;
    for (int64_t h = lo; h < hi; h++)
        for (int64_t w = w0; w < w1; w++, idx++)
            vec_store(buf + ((h - lo) * Q + w) * K, (vec_t)(gb & (win == idx)));
}
#endif

/* Image n's dout rows [lo, hi), those of pooling row i, into buf (row h at (h - lo)*Q*K). */
static void sc_pooled_rows(float *buf, const sc_pooled *pl, const conv2d_shape *sh, int64_t n,
                           int64_t i, int64_t lo, int64_t hi)
{
    const pool2d_shape *ps = pl->psh;
    const int64_t Q = sh->Q, K = sh->K, kv = K / SC_VEC * SC_VEC;
    const float *y = pl->y + n * sh->P * Q * K, *gp = pl->dy + (n * ps->P + i) * ps->Q * K;
    const int64_t end = ps->Q * ps->S - ps->pad_left;   /* columns [end, Q): in no window */
    for (int64_t h = lo; end < Q && h < hi; h++)
        memset(buf + ((h - lo) * Q + end) * K, 0, (size_t)((Q - end) * K) * sizeof(float));
    for (int64_t j = 0; j < ps->Q; j++) {
        const int64_t w = j * ps->stride_w - ps->pad_left, w0 = w > 0 ? w : 0;
        const int64_t w1 = w + ps->S < Q ? w + ps->S : Q;
        for (int64_t c0 = 0; c0 < kv; c0 += SC_VEC)
#if VEC_EXT
            sc_pool_window_vec(buf + c0, y + c0, gp + j * K + c0, Q, K, lo, hi, w0, w1, pl->relu);
#else
            sc_pool_window(buf + c0, y + c0, gp + j * K + c0, Q, K, lo, hi, w0, w1, SC_VEC, pl->relu);
#endif
        if (kv < K)
            sc_pool_window(buf + kv, y + kv, gp + j * K + kv, Q, K, lo, hi, w0, w1, K - kv, pl->relu);
    }
}

/* Output row p of image n's dout, from buf: filled when row p lies in another pooling row than
 * the one *held (n * psh->P + i; -1 none, -2 a zero row: p in no window). */
static inline const float *sc_pooled_dout(float *buf, const sc_pooled *pl, const conv2d_shape *sh,
                                          int64_t n, int64_t p, int64_t *held)
{
    const pool2d_shape *ps = pl->psh;
    const int64_t i = (p + ps->pad_top) / ps->stride_h;
    if (i >= ps->P) {
        if (*held != -2)
            memset(buf, 0, (size_t)(sh->Q * sh->K) * sizeof(float));
        *held = -2;
        return buf;
    }
    const int64_t top = i * ps->stride_h - ps->pad_top, lo = top > 0 ? top : 0;
    if (*held != n * ps->P + i)
        sc_pooled_rows(buf, pl, sh, n, i, lo, top + ps->R < sh->P ? top + ps->R : sh->P);
    *held = n * ps->P + i;
    return buf + (p - lo) * sh->Q * sh->K;
}

// dout (N,P,Q,K), inp (N,H,W,C); depth (R*S*C): tap (r,s,c)'s (r*dil_h, s*dil_w) and its
// element offset from the window's corner; part (nchunks, R*S*C + 1, K): chunk ch's partial
// filter gradient (rows (r,s,c)) and bias gradient (the last row) over the output pixels
// [ch*chunk, (ch+1)*chunk) in NHWC order, overwritten. work: conv2d_bwf_smallc_work(sh) floats
// per thread, 8-byte aligned (and sc_pooled_work more with pooled). pooled: dout is NULL and
// computed from a max pooling's gradient instead (above).
// Threads: over chunks (loop 1); each partial written by one thread, in a fixed order.
static inline void conv2d_bwf_smallc_loop(float *part, const float *dout, const float *inp,
                                          int64_t chunk, int64_t nchunks, const conv2d_shape *sh,
                                          const conv_tap *depth, const sc_pooled *pooled, void *work)
{
    const int64_t work_floats = conv2d_bwf_smallc_work(sh) + (pooled ? sc_pooled_work(sh, pooled->psh) : 0);
    const int64_t K = sh->K, RSC = sh->R * sh->S * sh->C, npix = sh->N * sh->P * sh->Q;
    const int64_t xstep = sh->stride_w * sh->C;
    /* interior columns [qa, qb): every tap's column in [0, W) */
    const int64_t qa = ceil_div(sh->pad_left, sh->stride_w);
    const int64_t last = sh->W - 1 + sh->pad_left - (sh->S - 1) * sh->dil_w;   /* q*stride_w <= last */
    const int64_t qb = last < 0 ? 0 : last / sh->stride_w + 1 < sh->Q ? last / sh->stride_w + 1 : sh->Q;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(pyconv_num_threads()) if(nchunks > 1)
    for (int64_t ch = 0; ch < nchunks; ch++) {                                 // loop 1
        float *pf = part + ch * (RSC + 1) * K;
        int64_t *off = (int64_t *)((float *)work + pyconv_thread_num() * work_floats);
        float *xs = (float *)(off + RSC), *gtail = xs + RSC;
        float *grows = (float *)off + conv2d_bwf_smallc_work(sh);   /* pooled: dout's rows */
        int64_t held = -1;
        memset(pf, 0, (size_t)((RSC + 1) * K) * sizeof(float));
        const int64_t p0 = ch * chunk, p1 = p0 + chunk < npix ? p0 + chunk : npix;
        for (int64_t row = p0 / (sh->Q > 0 ? sh->Q : 1); row * sh->Q < p1; row++) {   // loop 2
            const int64_t n = row / sh->P, p = row % sh->P, h0 = window_h0(p, sh);
            const float *g = pooled ? sc_pooled_dout(grows, pooled, sh, n, p, &held) : dout + row * sh->Q * K;
            const float *img = inp + n * sh->H * sh->W * sh->C;
            /* the chunk's columns of this row, [qs, qe); the interior run within them, [a, b) */
            const int64_t qs = p0 > row * sh->Q ? p0 - row * sh->Q : 0;
            const int64_t qe = p1 < (row + 1) * sh->Q ? p1 - row * sh->Q : sh->Q;
            const int rows_in = h0 >= 0 && h0 + (sh->R - 1) * sh->dil_h < sh->H;
            const int64_t a = qa > qs ? qa : qs, b = qb < qe ? qb : qe;
            const int run = rows_in && a < b;
            for (int64_t q = qs; q < qe; q++) {                                // loop 3
                if (run && q == a) {   // the interior run: read in place, the corner stepping by xstep
                    for (int64_t d = 0; d < RSC; d++)
                        off[d] = depth[d].off;
                    sc_bwf_segment(pf, RSC, K, img + (h0 * sh->W + window_w0(q, sh)) * sh->C, xstep,
                                   off, g + q * K, b - a, gtail);
                    q = b - 1;
                    continue;
                }
                // a border pixel: its patch gathered, zeros in the padding
                const int64_t w0 = window_w0(q, sh);
                for (int64_t d = 0; d < RSC; d++) {
                    const int64_t h = h0 + depth[d].dh, w = w0 + depth[d].dw;
                    xs[d] = in_image(h, w, sh) ? img[(h0 * sh->W + w0) * sh->C + depth[d].off] : 0.0f;
                    off[d] = d;
                }
                sc_bwf_segment(pf, RSC, K, xs, 0, off, g + q * K, 1, gtail);
            }
        }
    }
}

/* ---- the forward pass: the same kind of loop nest ------------------------------------------- */

/* Output pixels per forward tile: SCF_NP pixels x SC_NV vectors of output channels in
 * accumulators, plus SC_NV filter vectors and one broadcast: 6 x 2 + 2 + 1 = 15 of the 16
 * registers of AVX2 and SSE2; 12 x 2 + 3 = 27 of AVX-512's and NEON's 32. */
#ifndef SCF_NP
#define SCF_NP 6
#endif
#define SCF_NP_MAX 12

/* x where x >= 0 or NaN, +0 where x < 0 (-0 stays -0): bitwise the micro-kernels' epilogue,
 * max(0, x) with x as the second operand. */
#if VEC_EXT
typedef int32_t sc_ivec __attribute__((vector_size(SC_VEC * sizeof(float))));

PYCONV_ALWAYS_INLINE vec_t sc_relu(vec_t x)
{
    const sc_ivec neg = x < vec_splat(0.0f);   /* all ones where x < 0 */
    return (vec_t)((sc_ivec)x & ~neg);
}
#else
PYCONV_ALWAYS_INLINE vec_t sc_relu(vec_t x)
{
    for (int j = 0; j < SC_VEC; j++)
        x.f[j] = x.f[j] < 0.0f ? 0.0f : x.f[j];
    return x;
}
#endif

/* One forward tile: np pixels x nv vectors of channels, for i < np, v < nv,
 *   out[i*K + v*SC_VEC ..] = relu?(sum over d < RSC, in order, of x[i*xstep + off[d]] * w[d*ldw + v*SC_VEC ..]
 *                                  (+ bias[v*SC_VEC ..]))
 * the sum from zero, each multiply-add fused where the ISA's micro-kernel fuses it, then the
 * bias, then relu: the micro-kernels' arithmetic on one depth block, so the GEMM's bits. `kt`
 * channels of the last vector are stored (SC_VEC: all). np and nv are constants where it is
 * inlined; every loop over the accumulators is unrolled whole, so that they stay in registers
 * (GCC keeps an array it indexes in a loop on the stack, as in the micro-kernels). */
PYCONV_ALWAYS_INLINE void sc_fwd_vecs(float *out, int64_t K, const float *x, int64_t xstep,
                                     const int64_t *off, int64_t RSC, const float *w, int64_t ldw,
                                     const float *bias, int relu, int kt, int np, int nv)
{
    vec_t acc[SCF_NP_MAX][SC_NV];
    #pragma GCC unroll 12
    for (int i = 0; i < np; i++)
        #pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            acc[i][v] = vec_splat(0.0f);
    for (int64_t d = 0; d < RSC; d++, w += ldw) {
        const float *xd = x + off[d];
        vec_t wv[SC_NV];
        #pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            wv[v] = vec_load(w + v * SC_VEC);
        #pragma GCC unroll 12
        for (int i = 0; i < np; i++) {
            const vec_t xb = vec_splat(xd[i * xstep]);
            #pragma GCC unroll 2
            for (int v = 0; v < nv; v++)
                acc[i][v] = vec_madd(acc[i][v], xb, wv[v]);
        }
    }
    #pragma GCC unroll 12
    for (int i = 0; i < np; i++)
        #pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            vec_t y = acc[i][v];
            if (bias)
                y = vec_add(y, vec_load(bias + v * SC_VEC));
            if (relu)
                y = sc_relu(y);
            if (v < nv - 1 || kt == SC_VEC) {
                vec_store(out + i * K + v * SC_VEC, y);
            } else {   /* the channel tail: kt < SC_VEC lanes */
                float lanes[SC_VEC];
                vec_store(lanes, y);
                memcpy(out + i * K + v * SC_VEC, lanes, (size_t)kt * sizeof(float));
            }
        }
}

/* sc_fwd_vecs with np (1..SCF_NP) and nv as constants: a case per tile width. */
PYCONV_ALWAYS_INLINE void sc_fwd_np(float *out, int64_t K, const float *x, int64_t xstep,
                                   const int64_t *off, int64_t RSC, const float *w, int64_t ldw,
                                   const float *bias, int relu, int kt, int np, int nv)
{
#define SCF_CASE(n) case n: sc_fwd_vecs(out, K, x, xstep, off, RSC, w, ldw, bias, relu, kt, n, nv); break;
    switch (np) {
    SCF_CASE(2) SCF_CASE(3) SCF_CASE(4) SCF_CASE(5) SCF_CASE(6)
#if SCF_NP >= 12
    SCF_CASE(7) SCF_CASE(8) SCF_CASE(9) SCF_CASE(10) SCF_CASE(11) SCF_CASE(12)
#endif
    default: sc_fwd_vecs(out, K, x, xstep, off, RSC, w, ldw, bias, relu, kt, 1, nv); break;
    }
#undef SCF_CASE
}

/* nq pixels of a run (pixel i's window at x + i*xstep, its output at out + i*K), nv vectors
 * of channels, in the fewest tiles of at most SCF_NP pixels, of two widths one apart: 26
 * pixels (the tutorial's conv1) are 6+5+5+5+5 on AVX2 and 9+9+8 on AVX-512, where tiles of
 * SCF_NP and one more overlapping the last computed 30 and 36. Out of line, one copy per nv
 * (SC_NV or 1). */
static void sc_fwd_block(float *out, int64_t K, const float *x, int64_t xstep, const int64_t *off,
                         int64_t RSC, const float *w, int64_t ldw, const float *bias, int relu,
                         int kt, int64_t nq, int nv)
{
    const int64_t t = ceil_div(nq, SCF_NP), s = t ? ceil_div(nq, t) : 0, big = nq - t * (s - 1);
    for (int64_t j = 0, i = 0; j < t; j++) {
        const int np = (int)(j < big ? s : s - 1);
        if (nv == SC_NV)
            sc_fwd_np(out + i * K, K, x + i * xstep, xstep, off, RSC, w, ldw, bias, relu, kt, np, SC_NV);
        else
            sc_fwd_np(out + i * K, K, x + i * xstep, xstep, off, RSC, w, ldw, bias, relu, kt, np, 1);
        i += np;
    }
}

/* A run of nq pixels of one output row (outputs at out, K apart; pixel i's window at
 * x + i*xstep), every channel: blocks of SC_NV vectors, then one. w: the filter, its rows Kp
 * apart and zero-padded past K to whole vectors; bias likewise or NULL. */
static inline void sc_fwd_run(float *out, int64_t K, const float *x, int64_t xstep,
                              const int64_t *off, int64_t RSC, const float *w, int64_t Kp,
                              const float *bias, int relu, int64_t nq)
{
    const int64_t kv = ceil_div(K, SC_VEC) * SC_VEC;   /* <= Kp */
    for (int64_t k0 = 0; k0 < kv;) {
        const int nv = kv - k0 >= SC_NV * SC_VEC ? SC_NV : 1;
        const int64_t lastv = k0 + (nv - 1) * SC_VEC;
        const int kt = K - lastv < SC_VEC ? (int)(K - lastv) : SC_VEC;
        sc_fwd_block(out + k0, K, x, xstep, off, RSC, w + k0, Kp, bias ? bias + k0 : NULL, relu,
                     kt, nq, nv);
        k0 += nv * SC_VEC;
    }
}

/* Scratch per thread of conv2d_fwd_smallc_loop, in floats: R*S*C offsets (int64, 2 floats
 * each) and a gathered patch of R*S*C floats, in whole cache lines. */
static inline int64_t conv2d_fwd_smallc_work(const conv2d_shape *sh)
{
    return ceil_div(3 * sh->R * sh->S * sh->C, 16) * 16;
}

/* One output row (n, p) of conv2d_fwd_smallc_loop: its border pixels one by one, their
 * patches gathered with zeros in the padding, and its interior run (every tap in the image)
 * read in place, the window's corner stepping by xstep. */
PYCONV_ALWAYS_INLINE void sc_fwd_row(float *out, const float *inp, const float *w, int64_t Kp,
                                    const float *bias, int relu, const conv2d_shape *sh,
                                    const conv_tap *depth, int64_t *off, float *xs, int64_t row,
                                    int64_t qa, int64_t qb)
{
    const int64_t K = sh->K, RSC = sh->R * sh->S * sh->C;
    const int64_t n = row / sh->P, p = row % sh->P, h0 = window_h0(p, sh);
    const float *img = inp + n * sh->H * sh->W * sh->C;
    float *o = out + row * sh->Q * K;
    const int run = h0 >= 0 && h0 + (sh->R - 1) * sh->dil_h < sh->H && qa < qb;
    const int64_t a = run ? qa : sh->Q, b = run ? qb : sh->Q;
    for (int64_t q = 0; q < sh->Q; q++) {
        if (q == a) {   // the interior run
            for (int64_t d = 0; d < RSC; d++)
                off[d] = depth[d].off;
            sc_fwd_run(o + a * K, K, img + (h0 * sh->W + window_w0(a, sh)) * sh->C,
                       sh->stride_w * sh->C, off, RSC, w, Kp, bias, relu, b - a);
            q = b - 1;
            continue;
        }
        const int64_t w0 = window_w0(q, sh);   // a border pixel
        for (int64_t d = 0; d < RSC; d++) {
            const int64_t h = h0 + depth[d].dh, wc = w0 + depth[d].dw;
            xs[d] = in_image(h, wc, sh) ? img[(h0 * sh->W + w0) * sh->C + depth[d].off] : 0.0f;
            off[d] = d;
        }
        sc_fwd_run(o + q * K, K, xs, 0, off, RSC, w, Kp, bias, relu, 1);
    }
}

// inp (N,H,W,C) with C < SMALL_C, out (N,P,Q,K) overwritten: out = relu?(conv(inp, w) + bias).
// w: the filter (R*S*C rows, (r,s,c) order), its rows Kp apart and zero-padded from K to a
// multiple of 16 (whole vectors of any ISA), bias likewise or NULL; depth: the R*S*C depth taps (conv2d.c's make_ctx); work:
// conv2d_fwd_smallc_work(sh) floats per thread, 8-byte aligned.
// Threads: over the N*P output rows, static; each output written by one thread. One thread
// opens no parallel region (a region of one still forms a team: gemm.c).
static inline void conv2d_fwd_smallc_loop(float *out, const float *inp, const float *w, int64_t Kp,
                                          const float *bias, int relu, const conv2d_shape *sh,
                                          const conv_tap *depth, void *work, int threads)
{
    const int64_t RSC = sh->R * sh->S * sh->C, rows = sh->N * sh->P;
    /* interior columns [qa, qb): every tap's column in [0, W) */
    const int64_t qa = ceil_div(sh->pad_left, sh->stride_w);
    const int64_t last = sh->W - 1 + sh->pad_left - (sh->S - 1) * sh->dil_w;   /* q*stride_w <= last */
    const int64_t qb = last < 0 ? 0 : last / sh->stride_w + 1 < sh->Q ? last / sh->stride_w + 1 : sh->Q;
    if (threads > 1) {
        #pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t row = 0; row < rows; row++) {
            int64_t *off = (int64_t *)((float *)work + pyconv_thread_num() * conv2d_fwd_smallc_work(sh));
            sc_fwd_row(out, inp, w, Kp, bias, relu, sh, depth, off, (float *)(off + RSC), row, qa, qb);
        }
    } else {
        int64_t *off = (int64_t *)work;
        for (int64_t row = 0; row < rows; row++)
            sc_fwd_row(out, inp, w, Kp, bias, relu, sh, depth, off, (float *)(off + RSC), row, qa, qb);
    }
}

/* The loop above compiled for AVX2 (conv2d_smallc_avx2.c), AVX-512 (conv2d_smallc_avx512.c)
 * and aarch64 (conv2d_smallc_neon.c). */
void conv2d_bwf_smallc_avx2(float *part, const float *dout, const float *inp, int64_t chunk,
                            int64_t nchunks, const conv2d_shape *sh, const conv_tap *depth,
                            const sc_pooled *pooled, void *work);
void conv2d_bwf_smallc_avx512(float *part, const float *dout, const float *inp, int64_t chunk,
                              int64_t nchunks, const conv2d_shape *sh, const conv_tap *depth,
                              const sc_pooled *pooled, void *work);
void conv2d_bwf_smallc_neon(float *part, const float *dout, const float *inp, int64_t chunk,
                            int64_t nchunks, const conv2d_shape *sh, const conv_tap *depth,
                            const sc_pooled *pooled, void *work);
void conv2d_fwd_smallc_avx2(float *out, const float *inp, const float *w, int64_t Kp, const float *bias,
                            int relu, const conv2d_shape *sh, const conv_tap *depth, void *work,
                            int threads);
void conv2d_fwd_smallc_avx512(float *out, const float *inp, const float *w, int64_t Kp,
                              const float *bias, int relu, const conv2d_shape *sh,
                              const conv_tap *depth, void *work, int threads);
void conv2d_fwd_smallc_neon(float *out, const float *inp, const float *w, int64_t Kp, const float *bias,
                            int relu, const conv2d_shape *sh, const conv_tap *depth, void *work,
                            int threads);

#endif /* PYCONV_CONV2D_SMALLC_LOOPS_H */
