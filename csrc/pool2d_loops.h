/* pool2d_loops.h -- the fast pooling loops, written once and compiled once per ISA
 * (pool2d.c for the portable build, pool2d_avx2.c, pool2d_avx512.c, pool2d_neon.c with their
 * own flags):
 * their channel loops are what the compiler vectorises, so they run as wide as the CPU
 * allows -- 4 lanes in the portable build, 16 with AVX-512 (what it gained:
 * docs/benchmarks.md). Compares, selects and sums run in the same order on every
 * ISA (no FMA contraction), so the results are bitwise the same. pool2d.c checks the sizes
 * (pool2d_check) and picks the ISA; the promises are listed at the top of pool2d.c. */
#ifndef PYCONV_POOL2D_LOOPS_H
#define PYCONV_POOL2D_LOOPS_H

#include <string.h>
#include "target.h"

/* Floats per vector: each ISA file defines it before including this header (16 for AVX-512, 8
 * for AVX2); the portable build takes 4 (SSE2 / NEON). */
#ifndef POOL_VEC
#define POOL_VEC 4
#endif
#define VEC_FLOATS POOL_VEC
#include "vec_portable.h"

/* Below this many elements touched a parallel region costs more than it saves. */
#define POOL_PAR_MIN 32768
/* On the inference path's helper threads (pool.c), from this many: a task costs an atomic,
 * not a region -- the tutorial CNN's first pooling at batch 1 touches 21,632. */
#define POOL_HELPERS_MIN 4096
/* Channel block of the (n, c-block) splits: a running max (512 B) and its positions (1 KiB)
 * stay on the stack, in L1; 128 channels are 8 AVX-512 or 16 AVX2 vectors per pixel. */
#define POOL_CB 128

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* The input rows [*lo, *hi) covered by the window of output row p, clipped to [0, H).
 * The same helper serves columns (q, stride_w, pad_left, S, W). */
static inline void window_span(int64_t p, int stride, int pad, int64_t R, int64_t H,
                               int64_t *lo, int64_t *hi)
{
    int64_t h0 = p * stride - pad;
    *lo = max64(h0, 0);
    *hi = min64(h0 + R, H);
}

/* The output rows [*lo, *hi) whose windows cover input row h (the inverse of window_span):
 * p * stride - pad <= h < p * stride - pad + R, with 0 <= p < P. */
static inline void covering_span(int64_t h, int stride, int pad, int64_t R, int64_t P,
                                 int64_t *lo, int64_t *hi)
{
    int64_t a = h + pad - R + 1;   /* may be negative: then every p from 0 reaches h */
    *lo = a <= 0 ? 0 : ceil_div(a, stride);
    *hi = min64((h + pad) / stride + 1, P);
}

/* The max of one window (rows [h0, h1) x columns [w0, w1) of image img, C channels a pixel)
 * over the vector of channels from c: a running max in a register, started from the window's
 * first element and taking the others in row-major order (max_wins: the first maximum; NaN
 * wins). Kept in memory instead, each compare waited for the last store, and each (element, C
 * channels) loop paid its own set-up (GCC 12 vectorises no chain of selects, so the vector is
 * vec_portable.h's). */
PYCONV_ALWAYS_INLINE vec_t window_max(const float *img, int64_t W, int64_t C, int64_t h0,
                                      int64_t h1, int64_t w0, int64_t w1, int64_t c)
{
    vec_t m = vec_load(img + (h0 * W + w0) * C + c);
    for (int64_t h = h0; h < h1; h++)
        for (int64_t w = h == h0 ? w0 + 1 : w0; w < w1; w++)
            m = vec_max_first(m, vec_load(img + (h * W + w) * C + c));
    return m;
}

/* Output row np = n*P + p of the max pooling forward. Each output vector is a chain of
 * dependent selects (compare, mask, blend: ~6 cycles an element), so two neighbouring
 * windows of one width run side by side, two independent chains: conv1's 2 x 2 pooling of the
 * tutorial CNN at batch 1 (13 x 13 x 32 outputs) took 4.6 us one window at a time (docs/
 * benchmarks.md 24). The elements of each window are taken in the same order either way: the
 * same bits. */
PYCONV_ALWAYS_INLINE void maxpool2d_forward_row(float *out, const float *inp, const pool2d_shape *sh,
                                                int64_t np)
{
    const int64_t H = sh->H, W = sh->W, C = sh->C, P = sh->P, Q = sh->Q;
    const int64_t n = np / P, p = np % P;
    const float *img = inp + n * H * W * C;
    int64_t h0, h1;
    window_span(p, sh->stride_h, sh->pad_top, sh->R, H, &h0, &h1);
    for (int64_t q = 0; q < Q;) {
        int64_t w0, w1, v0 = 0, v1 = -1;
        window_span(q, sh->stride_w, sh->pad_left, sh->S, W, &w0, &w1);
        if (q + 1 < Q)
            window_span(q + 1, sh->stride_w, sh->pad_left, sh->S, W, &v0, &v1);
        const int two = v1 - v0 == w1 - w0;
        float *restrict o = out + (np * Q + q) * C;
        int64_t c = 0;
        for (; c + POOL_VEC <= C; c += POOL_VEC) {
            if (two) {   /* two chains, one loop: the compiler interleaves them */
                vec_t m = vec_load(img + (h0 * W + w0) * C + c);
                vec_t m2 = vec_load(img + (h0 * W + v0) * C + c);
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t k = h == h0 ? 1 : 0; k < w1 - w0; k++) {
                        m = vec_max_first(m, vec_load(img + (h * W + w0 + k) * C + c));
                        m2 = vec_max_first(m2, vec_load(img + (h * W + v0 + k) * C + c));
                    }
                vec_store(o + c, m);
                vec_store(o + C + c, m2);
            } else {
                vec_store(o + c, window_max(img, W, C, h0, h1, w0, w1, c));
            }
        }
        for (; c < C; c++)   /* the last C mod POOL_VEC channels */
            for (int j = 0; j <= two; j++) {
                const int64_t a = j ? v0 : w0, b = j ? v1 : w1;
                float m = img[(h0 * W + a) * C + c];
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = h == h0 ? a + 1 : a; w < b; w++) {
                        const float v = img[(h * W + w) * C + c];
                        m = max_wins(v, m) ? v : m;
                    }
                o[j * C + c] = m;
            }
        q += 1 + two;
    }
}

/* A task of pool.c's helpers: output rows [t*NP/n, (t+1)*NP/n) of n tasks. */
typedef struct {
    float *out;
    const float *inp;
    const pool2d_shape *sh;
    int64_t tasks;
} maxpool_rows_job;

static void maxpool2d_forward_rows(const void *ctx, int64_t t, int tid)
{
    const maxpool_rows_job *j = ctx;
    const int64_t NP = j->sh->N * j->sh->P;
    (void)tid;
    for (int64_t np = t * NP / j->tasks; np < (t + 1) * NP / j->tasks; np++)
        maxpool2d_forward_row(j->out, j->inp, j->sh, np);
}

// inp (N,H,W,C), out (N,P,Q,C), overwritten.
// Threads: over the N*P output rows; each output element is written by one thread. One thread
// opens no parallel region (its barrier is a futex call: inference at batch 1, gemm.c); on one
// thread with a pool width (the inference path), the rows go to pool.c's helpers.
static inline void maxpool2d_forward_loop(float *out, const float *inp, const pool2d_shape *sh)
{
    const int64_t NP = sh->N * sh->P, touched = NP * sh->Q * sh->C * sh->R * sh->S;
    const int threads = touched > POOL_PAR_MIN ? pyconv_num_threads() : 1;
    const int width = threads == 1 ? pyconv_pool_width() : 1;
    if (width > 1 && touched >= POOL_HELPERS_MIN && NP > 1 && !pyconv_in_parallel()) {
        const maxpool_rows_job job = {out, inp, sh, NP < 2 * width ? NP : 2 * width};
        pyconv_pool_run(maxpool2d_forward_rows, &job, job.tasks, width, 0);
    } else if (threads > 1) {
        #pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t np = 0; np < NP; np++)
            maxpool2d_forward_row(out, inp, sh, np);
    } else {
        for (int64_t np = 0; np < NP; np++)
            maxpool2d_forward_row(out, inp, sh, np);
    }
}

/* The two loops of maxpool2d_backward_loop, each over one task: image n's block of cn channels
 * from c0, x and d its input and gradient (pixel (h,w) at (h*W + w)*C), g its dout (pixel (p,q)
 * at (p*Q + q)*C). Each dout element goes to the first maximum of its window. Both are inlined
 * into the task loop (GCC would leave them out of line, called from the OpenMP region's body). */

/* Windows that do not overlap (stride = window, the usual 2x2/2): every input element is in at
 * most one window, so each is WRITTEN once -- the gradient where it is the window's first
 * maximum, zero elsewhere -- with no scalar scatter. The mask keeps the write branch-free and
 * vectorised. Elements in no window are left as they are (zeroed by the caller). */
PYCONV_ALWAYS_INLINE void maxpool2d_backward_disjoint(float *d, const float *x, const float *g,
                                                      int64_t cn, int relu_mask,
                                                      const pool2d_shape *sh)
{
    const int64_t H = sh->H, W = sh->W, C = sh->C, Q = sh->Q;
    float m[POOL_CB];       /* running max of each channel in the block */
    int32_t win[POOL_CB];   /* the first maximum's index in the window, row-major */
    for (int64_t p = 0; p < sh->P; p++) {
        int64_t h0, h1;
        window_span(p, sh->stride_h, sh->pad_top, sh->R, H, &h0, &h1);
        for (int64_t q = 0; q < Q; q++) {
            int64_t w0, w1;
            window_span(q, sh->stride_w, sh->pad_left, sh->S, W, &w0, &w1);
            const float *x0 = x + (h0 * W + w0) * C;
            for (int64_t c = 0; c < cn; c++) {
                m[c] = x0[c];
                win[c] = 0;
            }
            int32_t idx = 0;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++, idx++) {
                    const float *xp = x + (h * W + w) * C;
                    for (int64_t c = 0; c < cn; c++) {
                        const int32_t gt = -(int32_t)max_wins(xp[c], m[c]);
                        win[c] = (idx & gt) | (win[c] & ~gt);
                        m[c] = max_wins(xp[c], m[c]) ? xp[c] : m[c];
                    }
                }
            const float *gq = g + (p * Q + q) * C;
            idx = 0;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++, idx++) {
                    float *dp = d + (h * W + w) * C;
                    for (int64_t c = 0; c < cn; c++) {
                        uint32_t gb, mask = -(uint32_t)((win[c] == idx) & ((m[c] > 0.0f) | !relu_mask));
                        memcpy(&gb, gq + c, sizeof gb);
                        gb &= mask;
                        memcpy(dp + c, &gb, sizeof gb);
                    }
                }
        }
    }
}

/* Windows that overlap (stride < window): an input element may be the maximum of several
 * windows, so each window ADDS its gradient into d (zeroed by the caller), in (p, q) order as
 * in the _ref. */
PYCONV_ALWAYS_INLINE void maxpool2d_backward_overlapping(float *d, const float *x,
                                                         const float *g, int64_t cn, int relu_mask,
                                                         const pool2d_shape *sh)
{
    const int64_t H = sh->H, W = sh->W, C = sh->C, Q = sh->Q;
    float m[POOL_CB];       /* running max of each channel in the block */
    int64_t at[POOL_CB];    /* and its pixel, h * W + w */
    for (int64_t p = 0; p < sh->P; p++) {
        int64_t h0, h1;
        window_span(p, sh->stride_h, sh->pad_top, sh->R, H, &h0, &h1);
        for (int64_t q = 0; q < Q; q++) {
            int64_t w0, w1;
            window_span(q, sh->stride_w, sh->pad_left, sh->S, W, &w0, &w1);
            const int64_t first = h0 * W + w0;
            for (int64_t c = 0; c < cn; c++) {
                m[c] = x[first * C + c];
                at[c] = first;
            }
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) {
                    const int64_t off = h * W + w;
                    const float *xp = x + off * C;
                    /* Vectorised: the position update is a bit mask, not a branch
                     * (GCC does not if-convert `gt ? off : at[c]` here). */
                    for (int64_t c = 0; c < cn; c++) {
                        const float v = xp[c], mc = m[c];
                        const int64_t gt = -(int64_t)max_wins(v, mc);   /* all ones if v wins */
                        at[c] = (off & gt) | (at[c] & ~gt);
                        m[c] = max_wins(v, mc) ? v : mc;
                    }
                }
            /* The scatter: each channel lands on its own pixel, so this loop is scalar. */
            const float *gq = g + (p * Q + q) * C;
            for (int64_t c = 0; c < cn; c++)
                if (!relu_mask || m[c] > 0.0f)
                    d[at[c] * C + c] += gq[c];
        }
    }
}

// dout (N,P,Q,C); inp (N,H,W,C) the forward's input; dinp (N,H,W,C), overwritten.
// Each dout element goes to the first maximum of its window (see the file's opening).
// relu_mask: the input is a relu's output, and the gradient is that of relu then max pool:
// a window whose maximum is not > 0 sends nothing (relu' = 0 there), which saves the
// separate relu_backward pass over the whole input.
// Threads: over (n, channel block of POOL_CB). A thread owns dinp[n, :, :, c0:c0+POOL_CB]
// outright, so overlapping windows (stride < window) add into it without races, in (p, q)
// order as in the _ref.
static inline void maxpool2d_backward_loop(float *dinp, const float *dout, const float *inp,
                                           int relu_mask, const pool2d_shape *sh)
{
    const int64_t N = sh->N, H = sh->H, W = sh->W, C = sh->C, P = sh->P, Q = sh->Q;
    const int64_t nb = ceil_div(C, POOL_CB);
    /* disjoint: windows do not overlap; covered: moreover, together they cover the whole
     * input, so the disjoint loop writes every element and nothing needs zeroing first. */
    const int disjoint = sh->stride_h == sh->R && sh->stride_w == sh->S;
    const int covered = disjoint && sh->pad_top == 0 && sh->pad_left == 0
                        && P * sh->R >= H && Q * sh->S >= W;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C * sh->R * sh->S > POOL_PAR_MIN)
    for (int64_t t = 0; t < N * nb; t++) {
        const int64_t n = t / nb, c0 = (t % nb) * POOL_CB, cn = min64(C - c0, POOL_CB);
        const float *x = inp + n * H * W * C + c0, *g = dout + n * P * Q * C + c0;
        float *d = dinp + n * H * W * C + c0;
        if (!covered)
            for (int64_t hw = 0; hw < H * W; hw++)
                for (int64_t c = 0; c < cn; c++)
                    d[hw * C + c] = 0.0f;
        if (disjoint)
            maxpool2d_backward_disjoint(d, x, g, cn, relu_mask, sh);
        else
            maxpool2d_backward_overlapping(d, x, g, cn, relu_mask, sh);
    }
}

// inp (N,H,W,C), out (N,P,Q,C), overwritten: the mean over the window's input elements
// (padding not counted). The sum runs in (r, s) order, then one division, as in the _ref.
// Threads: over the N*P output rows; each output element is written by one thread.
static inline void avgpool2d_forward_loop(float *out, const float *inp, const pool2d_shape *sh)
{
    const int64_t N = sh->N, H = sh->H, W = sh->W, C = sh->C, P = sh->P, Q = sh->Q;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C * sh->R * sh->S > POOL_PAR_MIN)
    for (int64_t np = 0; np < N * P; np++) {
        const int64_t n = np / P, p = np % P;
        int64_t h0, h1;
        window_span(p, sh->stride_h, sh->pad_top, sh->R, H, &h0, &h1);
        for (int64_t q = 0; q < Q; q++) {
            int64_t w0, w1;
            window_span(q, sh->stride_w, sh->pad_left, sh->S, W, &w0, &w1);
            float *restrict o = out + (np * Q + q) * C;
            for (int64_t c = 0; c < C; c++)
                o[c] = 0.0f;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) {
                    const float *restrict x = inp + ((n * H + h) * W + w) * C;
                    for (int64_t c = 0; c < C; c++)   /* vectorised: C running sums */
                        o[c] += x[c];
                }
            const float count = (float)((h1 - h0) * (w1 - w0));
            for (int64_t c = 0; c < C; c++)
                o[c] = o[c] / count;
        }
    }
}

// dout (N,P,Q,C), dinp (N,H,W,C), overwritten (the forward's input is not needed: s has
// its shape). dinp[h,w] = sum over the windows (p,q) covering (h,w) of dout[p,q] / count(p,q).
// Threads: over the N*H input rows. Each dinp element is written by one thread, which
// GATHERS its windows in (p, q) order: the order in which the _ref scatters into it.
static inline void avgpool2d_backward_loop(float *dinp, const float *dout, const pool2d_shape *sh)
{
    const int64_t N = sh->N, H = sh->H, W = sh->W, C = sh->C, P = sh->P, Q = sh->Q;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C * sh->R * sh->S > POOL_PAR_MIN)
    for (int64_t nh = 0; nh < N * H; nh++) {
        const int64_t n = nh / H, h = nh % H;
        int64_t p0, p1;
        covering_span(h, sh->stride_h, sh->pad_top, sh->R, P, &p0, &p1);
        for (int64_t w = 0; w < W; w++) {
            int64_t q0, q1;
            covering_span(w, sh->stride_w, sh->pad_left, sh->S, Q, &q0, &q1);
            float *restrict d = dinp + (nh * W + w) * C;
            for (int64_t c = 0; c < C; c++)
                d[c] = 0.0f;
            for (int64_t p = p0; p < p1; p++) {
                int64_t h0, h1;
                window_span(p, sh->stride_h, sh->pad_top, sh->R, H, &h0, &h1);
                for (int64_t q = q0; q < q1; q++) {
                    int64_t w0, w1;
                    window_span(q, sh->stride_w, sh->pad_left, sh->S, W, &w0, &w1);
                    const float count = (float)((h1 - h0) * (w1 - w0));
                    const float *restrict g = dout + ((n * P + p) * Q + q) * C;
                    for (int64_t c = 0; c < C; c++)   /* vectorised over C */
                        d[c] += g[c] / count;
                }
            }
        }
    }
}

/* The loops above compiled for AVX2 (pool2d_avx2.c) and AVX-512 (pool2d_avx512.c). */
void maxpool2d_forward_avx2(float *out, const float *inp, const pool2d_shape *sh);
void maxpool2d_forward_avx512(float *out, const float *inp, const pool2d_shape *sh);
void maxpool2d_backward_avx2(float *dinp, const float *dout, const float *inp, int relu_mask,
                             const pool2d_shape *sh);
void maxpool2d_backward_avx512(float *dinp, const float *dout, const float *inp, int relu_mask,
                               const pool2d_shape *sh);
void avgpool2d_forward_avx2(float *out, const float *inp, const pool2d_shape *sh);
void avgpool2d_forward_avx512(float *out, const float *inp, const pool2d_shape *sh);
void avgpool2d_backward_avx2(float *dinp, const float *dout, const pool2d_shape *sh);
void avgpool2d_backward_avx512(float *dinp, const float *dout, const pool2d_shape *sh);
/* ... and for aarch64 (pool2d_neon.c). */
void maxpool2d_forward_neon(float *out, const float *inp, const pool2d_shape *sh);
void maxpool2d_backward_neon(float *dinp, const float *dout, const float *inp, int relu_mask,
                             const pool2d_shape *sh);
void avgpool2d_forward_neon(float *out, const float *inp, const pool2d_shape *sh);
void avgpool2d_backward_neon(float *dinp, const float *dout, const pool2d_shape *sh);

#endif
