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
#include "pool2d_loops.h"
#include "target.h"

int pool2d_check(const pool2d_shape *sh)
{
    if (sh->N < 0 || sh->H < 0 || sh->W < 0 || sh->C < 0 || sh->P < 0 || sh->Q < 0)
        return PYCONV_EINVAL;
    if (sh->R < 1 || sh->S < 1 || sh->stride_h < 1 || sh->stride_w < 1
        || sh->pad_top < 0 || sh->pad_left < 0)
        return PYCONV_EINVAL;
    /* Every window must hold at least one input element: the first starts before the end
     * of its padding, the last starts inside the input. */
    if (sh->P > 0 && (sh->H < 1 || sh->pad_top >= sh->R || (sh->P - 1) * sh->stride_h - sh->pad_top >= sh->H))
        return PYCONV_EINVAL;
    if (sh->Q > 0 && (sh->W < 1 || sh->pad_left >= sh->S || (sh->Q - 1) * sh->stride_w - sh->pad_left >= sh->W))
        return PYCONV_EINVAL;
    return PYCONV_OK;
}

/* Whether input pixel (h, w) lies in the image: a window's pixels outside it are padding, never
 * read (the _ref loop nests). */
static int in_input(int64_t h, int64_t w, const pool2d_shape *sh)
{
    return h >= 0 && h < sh->H && w >= 0 && w < sh->W;
}

/* The loops of pool2d_loops.h, compiled for the ISA in use. */
typedef struct {
    void (*max_fwd)(float *, const float *, const pool2d_shape *);
    void (*max_bwd)(float *, const float *, const float *, int, const pool2d_shape *);
    void (*avg_fwd)(float *, const float *, const pool2d_shape *);
    void (*avg_bwd)(float *, const float *, const pool2d_shape *);
} pool_loops;

static pool_loops isa_loops(void)
{
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(return (pool_loops){maxpool2d_forward_avx512, maxpool2d_backward_avx512,
                                         avgpool2d_forward_avx512, avgpool2d_backward_avx512};)
    PYCONV_ON_AVX2(return (pool_loops){maxpool2d_forward_avx2, maxpool2d_backward_avx2,
                                       avgpool2d_forward_avx2, avgpool2d_backward_avx2};)
    PYCONV_ON_NEON(return (pool_loops){maxpool2d_forward_neon, maxpool2d_backward_neon,
                                       avgpool2d_forward_neon, avgpool2d_backward_neon};)
    default:
        return (pool_loops){maxpool2d_forward_loop, maxpool2d_backward_loop,
                            avgpool2d_forward_loop, avgpool2d_backward_loop};
    }
}

/* ---- max pooling ----------------------------------------------------------------------- */

// inp (N,H,W,C), out (N,P,Q,C), overwritten.
// The loop and its threads: maxpool2d_forward_loop in pool2d_loops.h, for the ISA in use.
int maxpool2d_forward(float *out, const float *inp, const pool2d_shape *sh)
{
    int status = pool2d_check(sh);
    if (status == PYCONV_OK)
        isa_loops().max_fwd(out, inp, sh);
    return status;
}

// inp (N,H,W,C), out (N,P,Q,C), overwritten. The definition, one output element at a time.
int maxpool2d_forward_ref(float *out, const float *inp, const pool2d_shape *sh)
{
    int status = pool2d_check(sh);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = sh->N, H = sh->H, W = sh->W, C = sh->C, P = sh->P, Q = sh->Q;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    float m = 0.0f;
                    int found = 0;
                    for (int64_t r = 0; r < sh->R; r++)
                        for (int64_t s = 0; s < sh->S; s++) {
                            int64_t h = p * sh->stride_h - sh->pad_top + r;
                            int64_t w = q * sh->stride_w - sh->pad_left + s;
                            if (!in_input(h, w, sh))
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
// The loop and its threads: maxpool2d_backward_loop in pool2d_loops.h, for the ISA in use.
int maxpool2d_backward(float *dinp, const float *dout, const float *inp, int relu_mask,
                       const pool2d_shape *sh)
{
    int status = pool2d_check(sh);
    if (status == PYCONV_OK)
        isa_loops().max_bwd(dinp, dout, inp, relu_mask, sh);
    return status;
}

// dout (N,P,Q,C); inp (N,H,W,C) the forward's input; dinp (N,H,W,C), overwritten.
int maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp, int relu_mask,
                           const pool2d_shape *sh)
{
    int status = pool2d_check(sh);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = sh->N, H = sh->H, W = sh->W, C = sh->C, P = sh->P, Q = sh->Q;
    for (int64_t i = 0; i < N * H * W * C; i++)
        dinp[i] = 0.0f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    float m = 0.0f;
                    int64_t best = -1;   /* index into inp of the first max; -1: none yet */
                    for (int64_t r = 0; r < sh->R; r++)
                        for (int64_t s = 0; s < sh->S; s++) {
                            int64_t h = p * sh->stride_h - sh->pad_top + r;
                            int64_t w = q * sh->stride_w - sh->pad_left + s;
                            if (!in_input(h, w, sh))
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

// inp (N,H,W,C), out (N,P,Q,C), overwritten: the mean over each window's input elements.
// The loop and its threads: avgpool2d_forward_loop in pool2d_loops.h, for the ISA in use.
int avgpool2d_forward(float *out, const float *inp, const pool2d_shape *sh)
{
    int status = pool2d_check(sh);
    if (status == PYCONV_OK)
        isa_loops().avg_fwd(out, inp, sh);
    return status;
}

// inp (N,H,W,C), out (N,P,Q,C), overwritten. The definition, one output element at a time.
int avgpool2d_forward_ref(float *out, const float *inp, const pool2d_shape *sh)
{
    int status = pool2d_check(sh);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = sh->N, H = sh->H, W = sh->W, C = sh->C, P = sh->P, Q = sh->Q;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    float sum = 0.0f;
                    int64_t count = 0;
                    for (int64_t r = 0; r < sh->R; r++)
                        for (int64_t s = 0; s < sh->S; s++) {
                            int64_t h = p * sh->stride_h - sh->pad_top + r;
                            int64_t w = q * sh->stride_w - sh->pad_left + s;
                            if (!in_input(h, w, sh))
                                continue;   /* padding: not summed, not counted */
                            sum += inp[((n * H + h) * W + w) * C + c];
                            count++;
                        }
                    out[((n * P + p) * Q + q) * C + c] = sum / (float)count;
                }
    return PYCONV_OK;
}

// dout (N,P,Q,C), dinp (N,H,W,C), overwritten (the forward's input is not needed).
// The loop and its threads: avgpool2d_backward_loop in pool2d_loops.h, for the ISA in use.
int avgpool2d_backward(float *dinp, const float *dout, const pool2d_shape *sh)
{
    int status = pool2d_check(sh);
    if (status == PYCONV_OK)
        isa_loops().avg_bwd(dinp, dout, sh);
    return status;
}

// dout (N,P,Q,C), dinp (N,H,W,C), overwritten. The definition: each window scatters
// dout / count to its input elements.
int avgpool2d_backward_ref(float *dinp, const float *dout, const pool2d_shape *sh)
{
    int status = pool2d_check(sh);
    if (status != PYCONV_OK)
        return status;
    const int64_t N = sh->N, H = sh->H, W = sh->W, C = sh->C, P = sh->P, Q = sh->Q;
    for (int64_t i = 0; i < N * H * W * C; i++)
        dinp[i] = 0.0f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++)
                for (int64_t c = 0; c < C; c++) {
                    int64_t count = 0;
                    for (int64_t r = 0; r < sh->R; r++)
                        for (int64_t s = 0; s < sh->S; s++) {
                            int64_t h = p * sh->stride_h - sh->pad_top + r;
                            int64_t w = q * sh->stride_w - sh->pad_left + s;
                            count += in_input(h, w, sh);
                        }
                    float g = dout[((n * P + p) * Q + q) * C + c] / (float)count;
                    for (int64_t r = 0; r < sh->R; r++)
                        for (int64_t s = 0; s < sh->S; s++) {
                            int64_t h = p * sh->stride_h - sh->pad_top + r;
                            int64_t w = q * sh->stride_w - sh->pad_left + s;
                            if (in_input(h, w, sh))
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
    const int64_t HW = H * W, nb = ceil_div(C, POOL_CB);
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
    const int64_t HW = H * W, nb = ceil_div(C, POOL_CB);
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
    const int64_t HW = H * W, nb = ceil_div(C, POOL_CB);
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
