/* pool2d.c -- max and average pooling over an R x S window, global pooling and depth-wise
 * (channel) max pooling, forward and backward, NHWC float32.
 *
 * What it promises:
 *   - Every kernel overwrites its outputs and returns PYCONV_OK, or PYCONV_EINVAL (before
 *     touching any memory) when the sizes are inconsistent; nothing allocates, prints or exits.
 *   - Windows are clipped to the input, so padding is never read: for max this is the same as
 *     padding with -inf that never wins, for average the padding is left out of the count
 *     (TensorFlow's rule). pool2d_check refuses a window that would hold padding only.
 *   - Max picks the FIRST maximum of its window in row-major (r, s) scan order: a value
 *     replaces the running max only if it is strictly greater. Max backward sends each
 *     gradient to that element, so with ties (e.g. a constant input) the whole gradient goes
 *     to the top-left-most maximum. NaN propagates (as np.max): a NaN beats any number and
 *     nothing beats a NaN (max_wins), so a window holding a NaN gives NaN and its gradient
 *     goes to the window's first NaN.
 *   - Fast path: NHWC puts the C channels of one pixel next to each other, so every fast
 *     kernel keeps c as its innermost loop, unit stride, lanes independent: the compiler
 *     vectorises it (C running maxima or sums advance at once). The *_ref loop nests put c
 *     outside the window loops, as the definition reads; they are the specification.
 *   - Threads: forward kernels split output rows. Backward kernels either GATHER (average:
 *     each dinp row is written by one thread) or SCATTER inside an (image, channel block)
 *     that one thread owns (max: overlapping windows add into dinp without races). No sum
 *     crosses a thread boundary and every sum runs in the same order as in its _ref, so the
 *     results are bitwise the same for any thread count, and bitwise equal to the _ref.
 */
#include <string.h>
#include "pyconv.h"

/* Below this many elements touched a parallel region costs more than it saves. */
#define POOL_PAR_MIN 32768
/* Channel block of the (n, c-block) splits: a running max (512 B) and its positions (1 KiB)
 * stay on the stack, in L1; 128 channels are 8 AVX-512 or 16 AVX2 vectors per pixel. */
#define POOL_CB 128

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
/* Whether v replaces the running max m: strictly greater (ties keep the first max), or v is
 * the first NaN (IEEE `>` is false for NaN, which would silently drop it). Branch-free. */
static inline int max_wins(float v, float m) { return (v > m) | ((v != v) & (m == m)); }

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
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    *hi = min64((h + pad) / stride + 1, P);
}

int pool2d_check(const pool2d_shape *s)
{
    if (s->N < 0 || s->H < 0 || s->W < 0 || s->C < 0 || s->P < 0 || s->Q < 0)
        return PYCONV_EINVAL;
    if (s->R < 1 || s->S < 1 || s->stride_h < 1 || s->stride_w < 1
        || s->pad_top < 0 || s->pad_left < 0)
        return PYCONV_EINVAL;
    /* Every window must hold at least one input element: the first starts before the end
     * of its padding, the last starts inside the input. */
    if (s->P > 0 && (s->H < 1 || s->pad_top >= s->R || (s->P - 1) * s->stride_h - s->pad_top >= s->H))
        return PYCONV_EINVAL;
    if (s->Q > 0 && (s->W < 1 || s->pad_left >= s->S || (s->Q - 1) * s->stride_w - s->pad_left >= s->W))
        return PYCONV_EINVAL;
    return PYCONV_OK;
}

/* ---- max pooling ----------------------------------------------------------------------- */

// inp (N,H,W,C), out (N,P,Q,C), overwritten.
// Threads: over the N*P output rows; each output element is written by one thread.
int maxpool2d_forward(float *out, const float *inp, const pool2d_shape *s)
{
    int status = pool2d_check(s);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = s->N, H = s->H, W = s->W, C = s->C, P = s->P, Q = s->Q;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C * s->R * s->S > POOL_PAR_MIN)
    for (int64_t np = 0; np < N * P; np++) {
        const int64_t n = np / P, p = np % P;
        int64_t h0, h1;
        window_span(p, s->stride_h, s->pad_top, s->R, H, &h0, &h1);
        for (int64_t q = 0; q < Q; q++) {
            int64_t w0, w1;
            window_span(q, s->stride_w, s->pad_left, s->S, W, &w0, &w1);
            float *restrict o = out + (np * Q + q) * C;
            /* The window's first element starts the running max; scanning it again is a
             * no-op (max_wins(x, x) is false, NaN or not), which keeps the loop below branch-free. */
            const float *x0 = inp + ((n * H + h0) * W + w0) * C;
            for (int64_t c = 0; c < C; c++)
                o[c] = x0[c];
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) {
                    const float *restrict x = inp + ((n * H + h) * W + w) * C;
                    for (int64_t c = 0; c < C; c++)   /* vectorised: C lanes, unit stride */
                        o[c] = max_wins(x[c], o[c]) ? x[c] : o[c];
                }
        }
    }
    return PYCONV_OK;
}

// inp (N,H,W,C), out (N,P,Q,C), overwritten. The definition, one output element at a time.
int maxpool2d_forward_ref(float *out, const float *inp, const pool2d_shape *s)
{
    int status = pool2d_check(s);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = s->N, H = s->H, W = s->W, C = s->C, P = s->P, Q = s->Q;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    float m = 0.0f;
                    int found = 0;
                    for (int64_t r = 0; r < s->R; r++)
                        for (int64_t k = 0; k < s->S; k++) {
                            int64_t h = p * s->stride_h - s->pad_top + r;
                            int64_t w = q * s->stride_w - s->pad_left + k;
                            if (h < 0 || h >= H || w < 0 || w >= W)
                                continue;   /* padding: never wins */
                            float v = inp[((n * H + h) * W + w) * C + c];
                            if (!found || max_wins(v, m)) {   /* strictly greater: the first max stays */
                                m = v;
                                found = 1;
                            }
                        }
                    out[((n * P + p) * Q + q) * C + c] = m;
                }
    return PYCONV_OK;
}

// dout (N,P,Q,C); inp (N,H,W,C) the forward's input; dinp (N,H,W,C), overwritten.
// Each dout element goes to the first maximum of its window (see the file's opening).
// relu_mask: the input is a relu's output, and the gradient is that of relu then max pool:
// a window whose maximum is not > 0 sends nothing (relu' = 0 there), which saves the
// separate relu_backward pass over the whole input.
// Threads: over (n, channel block of POOL_CB). A thread owns dinp[n, :, :, c0:c0+POOL_CB]
// outright, so overlapping windows (stride < window) add into it without races, in (p, q)
// order as in the _ref.
int maxpool2d_backward(float *dinp, const float *dout, const float *inp, int relu_mask,
                       const pool2d_shape *s)
{
    int status = pool2d_check(s);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = s->N, H = s->H, W = s->W, C = s->C, P = s->P, Q = s->Q;
    const int64_t nb = (C + POOL_CB - 1) / POOL_CB;
    /* disjoint: windows do not overlap; covered: together they cover the whole input. */
    const int disjoint = s->stride_h == s->R && s->stride_w == s->S;
    const int covered = disjoint && s->pad_top == 0 && s->pad_left == 0
                        && P * s->R >= H && Q * s->S >= W;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C * s->R * s->S > POOL_PAR_MIN)
    for (int64_t t = 0; t < N * nb; t++) {
        const int64_t n = t / nb, c0 = (t % nb) * POOL_CB, cn = min64(C - c0, POOL_CB);
        float m[POOL_CB];     /* running max of each channel in the block */
        int64_t at[POOL_CB];  /* and its pixel, h * W + w */
        const float *x = inp + n * H * W * C + c0;
        float *d = dinp + n * H * W * C + c0;
        if (!disjoint || !covered)
            for (int64_t hw = 0; hw < H * W; hw++)
                for (int64_t c = 0; c < cn; c++)
                    d[hw * C + c] = 0.0f;
        for (int64_t p = 0; p < P && disjoint; p++) {
            /* Windows that do not overlap (stride = window, the usual 2x2/2): every input
             * element is in at most one window, so each is WRITTEN once -- the gradient where
             * it is the window's first maximum, zero elsewhere -- with no zeroing pass and no
             * scalar scatter. The mask keeps the write branch-free and vectorised. */
            int64_t h0, h1;
            window_span(p, s->stride_h, s->pad_top, s->R, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) {
                int64_t w0, w1;
                window_span(q, s->stride_w, s->pad_left, s->S, W, &w0, &w1);
                int32_t win[POOL_CB];   /* the first maximum's index in the window, row-major */
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
                const float *g = dout + ((n * P + p) * Q + q) * C + c0;
                idx = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++, idx++) {
                        float *dp = d + (h * W + w) * C;
                        for (int64_t c = 0; c < cn; c++) {
                            uint32_t gb, mask = -(uint32_t)((win[c] == idx) & ((m[c] > 0.0f) | !relu_mask));
                            memcpy(&gb, g + c, sizeof gb);
                            gb &= mask;
                            memcpy(dp + c, &gb, sizeof gb);
                        }
                    }
            }
        }
        for (int64_t p = 0; p < P && !disjoint; p++) {
            int64_t h0, h1;
            window_span(p, s->stride_h, s->pad_top, s->R, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) {
                int64_t w0, w1;
                window_span(q, s->stride_w, s->pad_left, s->S, W, &w0, &w1);
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
                const float *g = dout + ((n * P + p) * Q + q) * C + c0;
                for (int64_t c = 0; c < cn; c++)
                    if (!relu_mask || m[c] > 0.0f)
                        d[at[c] * C + c] += g[c];
            }
        }
    }
    return PYCONV_OK;
}

// dout (N,P,Q,C); inp (N,H,W,C) the forward's input; dinp (N,H,W,C), overwritten.
int maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp, int relu_mask,
                           const pool2d_shape *s)
{
    int status = pool2d_check(s);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = s->N, H = s->H, W = s->W, C = s->C, P = s->P, Q = s->Q;
    for (int64_t i = 0; i < N * H * W * C; i++)
        dinp[i] = 0.0f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    float m = 0.0f;
                    int64_t best = -1;   /* index into inp of the first max; -1: none yet */
                    for (int64_t r = 0; r < s->R; r++)
                        for (int64_t k = 0; k < s->S; k++) {
                            int64_t h = p * s->stride_h - s->pad_top + r;
                            int64_t w = q * s->stride_w - s->pad_left + k;
                            if (h < 0 || h >= H || w < 0 || w >= W)
                                continue;
                            int64_t i = ((n * H + h) * W + w) * C + c;
                            if (best < 0 || max_wins(inp[i], m)) {
                                m = inp[i];
                                best = i;
                            }
                        }
                    if (!relu_mask || m > 0.0f)
                        dinp[best] += dout[((n * P + p) * Q + q) * C + c];
                }
    return PYCONV_OK;
}

/* ---- average pooling ------------------------------------------------------------------- */

// inp (N,H,W,C), out (N,P,Q,C), overwritten: the mean over the window's input elements
// (padding not counted). The sum runs in (r, s) order, then one division, as in the _ref.
// Threads: over the N*P output rows; each output element is written by one thread.
int avgpool2d_forward(float *out, const float *inp, const pool2d_shape *s)
{
    int status = pool2d_check(s);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = s->N, H = s->H, W = s->W, C = s->C, P = s->P, Q = s->Q;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C * s->R * s->S > POOL_PAR_MIN)
    for (int64_t np = 0; np < N * P; np++) {
        const int64_t n = np / P, p = np % P;
        int64_t h0, h1;
        window_span(p, s->stride_h, s->pad_top, s->R, H, &h0, &h1);
        for (int64_t q = 0; q < Q; q++) {
            int64_t w0, w1;
            window_span(q, s->stride_w, s->pad_left, s->S, W, &w0, &w1);
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
    return PYCONV_OK;
}

// inp (N,H,W,C), out (N,P,Q,C), overwritten. The definition, one output element at a time.
int avgpool2d_forward_ref(float *out, const float *inp, const pool2d_shape *s)
{
    int status = pool2d_check(s);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = s->N, H = s->H, W = s->W, C = s->C, P = s->P, Q = s->Q;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    float sum = 0.0f;
                    int64_t count = 0;
                    for (int64_t r = 0; r < s->R; r++)
                        for (int64_t k = 0; k < s->S; k++) {
                            int64_t h = p * s->stride_h - s->pad_top + r;
                            int64_t w = q * s->stride_w - s->pad_left + k;
                            if (h < 0 || h >= H || w < 0 || w >= W)
                                continue;   /* padding: not summed, not counted */
                            sum += inp[((n * H + h) * W + w) * C + c];
                            count++;
                        }
                    out[((n * P + p) * Q + q) * C + c] = sum / (float)count;
                }
    return PYCONV_OK;
}

// dout (N,P,Q,C), dinp (N,H,W,C), overwritten (the forward's input is not needed: s has
// its shape). dinp[h,w] = sum over the windows (p,q) covering (h,w) of dout[p,q] / count(p,q).
// Threads: over the N*H input rows. Each dinp element is written by one thread, which
// GATHERS its windows in (p, q) order: the order in which the _ref scatters into it.
int avgpool2d_backward(float *dinp, const float *dout, const pool2d_shape *s)
{
    int status = pool2d_check(s);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = s->N, H = s->H, W = s->W, C = s->C, P = s->P, Q = s->Q;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * P * Q * C * s->R * s->S > POOL_PAR_MIN)
    for (int64_t nh = 0; nh < N * H; nh++) {
        const int64_t n = nh / H, h = nh % H;
        int64_t p0, p1;
        covering_span(h, s->stride_h, s->pad_top, s->R, P, &p0, &p1);
        for (int64_t w = 0; w < W; w++) {
            int64_t q0, q1;
            covering_span(w, s->stride_w, s->pad_left, s->S, Q, &q0, &q1);
            float *restrict d = dinp + (nh * W + w) * C;
            for (int64_t c = 0; c < C; c++)
                d[c] = 0.0f;
            for (int64_t p = p0; p < p1; p++) {
                int64_t h0, h1;
                window_span(p, s->stride_h, s->pad_top, s->R, H, &h0, &h1);
                for (int64_t q = q0; q < q1; q++) {
                    int64_t w0, w1;
                    window_span(q, s->stride_w, s->pad_left, s->S, W, &w0, &w1);
                    const float count = (float)((h1 - h0) * (w1 - w0));
                    const float *restrict g = dout + ((n * P + p) * Q + q) * C;
                    for (int64_t c = 0; c < C; c++)   /* vectorised over C */
                        d[c] += g[c] / count;
                }
            }
        }
    }
    return PYCONV_OK;
}

// dout (N,P,Q,C), dinp (N,H,W,C), overwritten. The definition: each window scatters
// dout / count to its input elements.
int avgpool2d_backward_ref(float *dinp, const float *dout, const pool2d_shape *s)
{
    int status = pool2d_check(s);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = s->N, H = s->H, W = s->W, C = s->C, P = s->P, Q = s->Q;
    for (int64_t i = 0; i < N * H * W * C; i++)
        dinp[i] = 0.0f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    int64_t count = 0;
                    for (int64_t r = 0; r < s->R; r++)
                        for (int64_t k = 0; k < s->S; k++) {
                            int64_t h = p * s->stride_h - s->pad_top + r;
                            int64_t w = q * s->stride_w - s->pad_left + k;
                            count += h >= 0 && h < H && w >= 0 && w < W;
                        }
                    float g = dout[((n * P + p) * Q + q) * C + c] / (float)count;
                    for (int64_t r = 0; r < s->R; r++)
                        for (int64_t k = 0; k < s->S; k++) {
                            int64_t h = p * s->stride_h - s->pad_top + r;
                            int64_t w = q * s->stride_w - s->pad_left + k;
                            if (h >= 0 && h < H && w >= 0 && w < W)
                                dinp[((n * H + h) * W + w) * C + c] += g;
                        }
                }
    return PYCONV_OK;
}

/* ---- global pooling: inp (N,H,W,C) -> out (N,C) ---------------------------------------- */

static int global_check(int64_t N, int64_t H, int64_t W, int64_t C)
{
    /* An empty image has no mean and no max. */
    return N < 0 || C < 0 || H < 1 || W < 1 ? PYCONV_EINVAL : PYCONV_OK;
}

// inp (N,H,W,C), out (N,C), overwritten: the mean over the H*W pixels, summed in pixel order.
// Threads: over (n, channel block); each output element is written by one thread.
int global_avgpool2d_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C)
{
    int status = global_check(N, H, W, C);
    if (status != PYCONV_OK)
        return status;
    const int64_t HW = H * W, nb = (C + POOL_CB - 1) / POOL_CB;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * HW * C > POOL_PAR_MIN)
    for (int64_t t = 0; t < N * nb; t++) {
        const int64_t n = t / nb, c0 = (t % nb) * POOL_CB, cn = min64(C - c0, POOL_CB);
        float *restrict o = out + n * C + c0;
        const float *x = inp + n * HW * C + c0;
        for (int64_t c = 0; c < cn; c++)
            o[c] = 0.0f;
        for (int64_t hw = 0; hw < HW; hw++)
            for (int64_t c = 0; c < cn; c++)   /* vectorised: cn running sums */
                o[c] += x[hw * C + c];
        const float count = (float)HW;
        for (int64_t c = 0; c < cn; c++)
            o[c] = o[c] / count;
    }
    return PYCONV_OK;
}

// inp (N,H,W,C), out (N,C), overwritten.
int global_avgpool2d_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C)
{
    int status = global_check(N, H, W, C);
    if (status != PYCONV_OK)
        return status;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            float sum = 0.0f;
            for (int64_t hw = 0; hw < H * W; hw++)
                sum += inp[(n * H * W + hw) * C + c];
            out[n * C + c] = sum / (float)(H * W);
        }
    return PYCONV_OK;
}

// dout (N,C), dinp (N,H,W,C), overwritten: every pixel gets dout / (H*W).
// Threads: over the N*H*W pixels; each dinp element is written by one thread.
int global_avgpool2d_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W, int64_t C)
{
    int status = global_check(N, H, W, C);
    if (status != PYCONV_OK)
        return status;
    const int64_t HW = H * W;
    const float count = (float)HW;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * HW * C > POOL_PAR_MIN)
    for (int64_t i = 0; i < N * HW; i++) {
        const float *restrict g = dout + (i / HW) * C;
        float *restrict d = dinp + i * C;
        for (int64_t c = 0; c < C; c++)
            d[c] = g[c] / count;
    }
    return PYCONV_OK;
}

// dout (N,C), dinp (N,H,W,C), overwritten.
int global_avgpool2d_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W, int64_t C)
{
    int status = global_check(N, H, W, C);
    if (status != PYCONV_OK)
        return status;
    for (int64_t n = 0; n < N; n++)
        for (int64_t hw = 0; hw < H * W; hw++)
            for (int64_t c = 0; c < C; c++)
                dinp[(n * H * W + hw) * C + c] = dout[n * C + c] / (float)(H * W);
    return PYCONV_OK;
}

// inp (N,H,W,C), out (N,C), overwritten: the max over the H*W pixels.
// Threads: over (n, channel block); each output element is written by one thread.
int global_maxpool2d_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C)
{
    int status = global_check(N, H, W, C);
    if (status != PYCONV_OK)
        return status;
    const int64_t HW = H * W, nb = (C + POOL_CB - 1) / POOL_CB;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * HW * C > POOL_PAR_MIN)
    for (int64_t t = 0; t < N * nb; t++) {
        const int64_t n = t / nb, c0 = (t % nb) * POOL_CB, cn = min64(C - c0, POOL_CB);
        float *restrict o = out + n * C + c0;
        const float *x = inp + n * HW * C + c0;
        for (int64_t c = 0; c < cn; c++)
            o[c] = x[c];
        for (int64_t hw = 1; hw < HW; hw++)
            for (int64_t c = 0; c < cn; c++)   /* vectorised: cn running maxima */
                o[c] = max_wins(x[hw * C + c], o[c]) ? x[hw * C + c] : o[c];
    }
    return PYCONV_OK;
}

// inp (N,H,W,C), out (N,C), overwritten.
int global_maxpool2d_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C)
{
    int status = global_check(N, H, W, C);
    if (status != PYCONV_OK)
        return status;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            float m = inp[n * H * W * C + c];
            for (int64_t hw = 1; hw < H * W; hw++) {
                float v = inp[(n * H * W + hw) * C + c];
                if (max_wins(v, m))
                    m = v;
            }
            out[n * C + c] = m;
        }
    return PYCONV_OK;
}

// dout (N,C); inp (N,H,W,C) the forward's input; dinp (N,H,W,C), overwritten: dout goes to
// the first maximum pixel (in h, w order) of each (n, c), zero elsewhere.
// Threads: over (n, channel block); a thread owns dinp[n, :, :, block].
int global_maxpool2d_backward(float *dinp, const float *dout, const float *inp,
                              int64_t N, int64_t H, int64_t W, int64_t C)
{
    int status = global_check(N, H, W, C);
    if (status != PYCONV_OK)
        return status;
    const int64_t HW = H * W, nb = (C + POOL_CB - 1) / POOL_CB;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(N * HW * C > POOL_PAR_MIN)
    for (int64_t t = 0; t < N * nb; t++) {
        const int64_t n = t / nb, c0 = (t % nb) * POOL_CB, cn = min64(C - c0, POOL_CB);
        float m[POOL_CB];
        int64_t at[POOL_CB];
        const float *x = inp + n * HW * C + c0;
        float *d = dinp + n * HW * C + c0;
        for (int64_t c = 0; c < cn; c++) {
            m[c] = x[c];
            at[c] = 0;
        }
        for (int64_t hw = 1; hw < HW; hw++)
            for (int64_t c = 0; c < cn; c++) {   /* vectorised: a bit mask, as in maxpool2d_backward */
                const float v = x[hw * C + c], mc = m[c];
                const int64_t gt = -(int64_t)max_wins(v, mc);
                at[c] = (hw & gt) | (at[c] & ~gt);
                m[c] = max_wins(v, mc) ? v : mc;
            }
        for (int64_t hw = 0; hw < HW; hw++)
            for (int64_t c = 0; c < cn; c++)
                d[hw * C + c] = 0.0f;
        for (int64_t c = 0; c < cn; c++)
            d[at[c] * C + c] = dout[n * C + c0 + c];
    }
    return PYCONV_OK;
}

// dout (N,C); inp (N,H,W,C) the forward's input; dinp (N,H,W,C), overwritten.
int global_maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp,
                                  int64_t N, int64_t H, int64_t W, int64_t C)
{
    int status = global_check(N, H, W, C);
    if (status != PYCONV_OK)
        return status;
    for (int64_t i = 0; i < N * H * W * C; i++)
        dinp[i] = 0.0f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t best = n * H * W * C + c;
            for (int64_t hw = 1; hw < H * W; hw++) {
                int64_t i = (n * H * W + hw) * C + c;
                if (max_wins(inp[i], inp[best]))
                    best = i;
            }
            dinp[best] = dout[n * C + c];
        }
    return PYCONV_OK;
}

/* ---- depth-wise max pooling: windows of D channels, stride D ---------------------------- */

static int depthwise_check(int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
{
    return N < 0 || H < 0 || W < 0 || C < 0 || D < 1 || C % D != 0 ? PYCONV_EINVAL : PYCONV_OK;
}

// inp (N,H,W,C), out (N,H,W,K) with K = C/D, overwritten: out[.., k] = max inp[.., kD:kD+D].
// The windows do not overlap, so pixels are independent; the inner loop runs over the K
// windows of a pixel (stride D: the compiler vectorises it with strided loads, or not; the
// loop is memory-bound either way).
// Threads: over the N*H*W pixels; each output element is written by one thread.
int depthwise_maxpool2d_forward(float *out, const float *inp,
                                int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
{
    int status = depthwise_check(N, H, W, C, D);
    if (status != PYCONV_OK)
        return status;
    const int64_t M = N * H * W, K = C / D;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > POOL_PAR_MIN)
    for (int64_t m = 0; m < M; m++) {
        const float *restrict x = inp + m * C;
        float *restrict o = out + m * K;
        for (int64_t k = 0; k < K; k++)
            o[k] = x[k * D];
        for (int64_t i = 1; i < D; i++)
            for (int64_t k = 0; k < K; k++)
                o[k] = max_wins(x[k * D + i], o[k]) ? x[k * D + i] : o[k];
    }
    return PYCONV_OK;
}

// inp (N,H,W,C), out (N,H,W,C/D), overwritten.
int depthwise_maxpool2d_forward_ref(float *out, const float *inp,
                                    int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
{
    int status = depthwise_check(N, H, W, C, D);
    if (status != PYCONV_OK)
        return status;
    const int64_t K = C / D;
    for (int64_t m = 0; m < N * H * W; m++)
        for (int64_t k = 0; k < K; k++) {
            float b = inp[m * C + k * D];
            for (int64_t i = 1; i < D; i++)
                if (max_wins(inp[m * C + k * D + i], b))
                    b = inp[m * C + k * D + i];
            out[m * K + k] = b;
        }
    return PYCONV_OK;
}

// dout (N,H,W,K); inp (N,H,W,C) the forward's input; dinp (N,H,W,C), overwritten: dout
// goes to the first maximum channel of each window, zero elsewhere. Every input element is
// in exactly one window, so each is written once (no zeroing pass, no sum).
// Threads: over the N*H*W pixels.
int depthwise_maxpool2d_backward(float *dinp, const float *dout, const float *inp,
                                 int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
{
    int status = depthwise_check(N, H, W, C, D);
    if (status != PYCONV_OK)
        return status;
    const int64_t M = N * H * W, K = C / D;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > POOL_PAR_MIN)
    for (int64_t m = 0; m < M; m++) {
        const float *x = inp + m * C;
        float *d = dinp + m * C;
        for (int64_t k = 0; k < K; k++) {
            int64_t best = 0;
            for (int64_t i = 1; i < D; i++)
                best = max_wins(x[k * D + i], x[k * D + best]) ? i : best;
            for (int64_t i = 0; i < D; i++)
                d[k * D + i] = i == best ? dout[m * K + k] : 0.0f;
        }
    }
    return PYCONV_OK;
}

// dout (N,H,W,C/D); inp (N,H,W,C) the forward's input; dinp (N,H,W,C), overwritten.
int depthwise_maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp,
                                     int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
{
    int status = depthwise_check(N, H, W, C, D);
    if (status != PYCONV_OK)
        return status;
    const int64_t K = C / D;
    for (int64_t i = 0; i < N * H * W * C; i++)
        dinp[i] = 0.0f;
    for (int64_t m = 0; m < N * H * W; m++)
        for (int64_t k = 0; k < K; k++) {
            int64_t best = m * C + k * D;
            for (int64_t i = 1; i < D; i++)
                if (max_wins(inp[m * C + k * D + i], inp[best]))
                    best = m * C + k * D + i;
            dinp[best] = dout[m * K + k];
        }
    return PYCONV_OK;
}
