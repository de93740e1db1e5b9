/* act_more.c -- Keras 3's other activations: elu/selu, gelu (erf and tanh), silu, the general
 * relu (negative_slope, max_value, threshold: leaky_relu and relu6 are instances of it),
 * softplus, softsign, hard_sigmoid, hard_silu, exponential, log_softmax and PReLU.
 *
 * What these loops promise:
 *   - each forward is Keras 3's formula (keras/src/backend/tensorflow/nn.py), written in a form
 *     that stays finite where the plain one overflows or cancels (named at each kernel);
 *   - each backward takes the forward's INPUT x (unlike act.c's, which take the output: these
 *     derivatives are not functions of the output alone, or not stably so), except
 *     exponential and log_softmax, whose derivatives are functions of the output;
 *   - NaN propagates through every forward, as through relu_forward;
 *   - at a kink the gradient is that of TensorFlow's kernels: relu6'(0) = relu6'(6) = 0,
 *     hard_sigmoid' = 0 at -3 and 3, a leaky relu's slope at its threshold is negative_slope;
 *   - threads split elements (or rows) statically and no sum crosses a thread boundary, so
 *     results are the same bits for any thread count.
 * No -ffast-math: exp, expm1 and log1p are branch-free polynomials here (exp_k, expm1_k,
 * log1p_k, within 4.4 ulps) that the compiler vectorises; erfc is the C library's. The _ref
 * twins of elu, selu, softplus and exponential use the library's expm1f, log1pf and expf; the
 * general relu's and PReLU's are their plain loops.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pyconv.h"
#include "exp_k.h"

/* expm1: its Taylor polynomial of degree 9 for |x| < ln2/2 (where exp(x) - 1 would cancel),
 * exp_k(x) - 1 outside. */
static inline float expm1_k(float x)
{
    float p = x + x * x * (0.5f + x * (1.0f / 6 + x * (1.0f / 24 + x * (1.0f / 120 + x * (1.0f / 720
              + x * (1.0f / 5040 + x * (1.0f / 40320 + x * (1.0f / 362880))))))));
    return sel(fabsf(x) < 0.3466f, p, exp_k(x) - 1.0f);
}

/* log1p(e) for e in [0, 1] as 2 atanh(s), s = e / (2 + e) <= 1/3: 2 s (1 + s^2/3 + ... +
 * s^14/15), remainder < 5e-9; no cancellation for small e (the answer is ~e). */
static inline float log1p_k(float e)
{
    float s = e / (2.0f + e), s2 = s * s;
    float q = 1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9 + s2 * (1.0f / 11
              + s2 * (1.0f / 13 + s2 * (1.0f / 15)))))));
    return 2.0f * s * q;
}

/* 1/(1+exp(-x)) without overflow: exp(-|x|) <= 1 (the same form as sigmoid_forward). */
static inline float sigm(float x)
{
    float e = exp_k(-fabsf(x));
    return sel(x >= 0.0f, 1.0f / (1.0f + e), e / (1.0f + e));
}

/* ---- elu, selu ------------------------------------------------------------------------- */

// x, out (n). out = x > 0 ? x : alpha * expm1(x) (Keras 3: where(x > 0, elu(x), alpha elu(x))).
// expm1 (expm1_k) instead of exp(x) - 1: no cancellation near 0. Threads: over elements.
void elu_forward(float *out, const float *x, int64_t n, float alpha)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = sel(x[i] > 0.0f, x[i], alpha * expm1_k(x[i]));
}

// The plain formula with the C library's expm1f: the oracle of elu_forward's expm1_k.
void elu_forward_ref(float *out, const float *x, int64_t n, float alpha)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i]);
}

// dx = dout * (x > 0 ? 1 : alpha exp(x)): at 0 the slope is alpha, as TF differentiates
// Keras' where(x > 0, ...). Threads: over elements.
void elu_backward(float *dx, const float *dout, const float *x, int64_t n, float alpha)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dout[i] * sel(x[i] > 0.0f, 1.0f, alpha * exp_k(x[i]));
}

#define SELU_ALPHA 1.67326324235437728f   /* Klambauer et al. 2017, as tf.nn.selu */
#define SELU_SCALE 1.05070098735548049f

// out = scale * (x > 0 ? x : alpha expm1(x)). Threads: over elements.
void selu_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = sel(x[i] > 0.0f, SELU_SCALE * x[i], (SELU_SCALE * SELU_ALPHA) * expm1_k(x[i]));
}

void selu_forward_ref(float *out, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] > 0.0f ? SELU_SCALE * x[i] : (SELU_SCALE * SELU_ALPHA) * expm1f(x[i]);
}

// dx = dout * scale * (x < 0 ? alpha exp(x) : 1): at 0 the slope is scale (TF's SeluGrad),
// unlike elu's. Threads: over elements.
void selu_backward(float *dx, const float *dout, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dout[i] * sel(x[i] < 0.0f, (SELU_SCALE * SELU_ALPHA) * exp_k(x[i]), SELU_SCALE);
}

/* ---- gelu ------------------------------------------------------------------------------ */

#define GELU_SQRT1_2 0.70710678118654752f    /* 1/sqrt(2) */
#define GELU_INV_SQRT_2PI 0.39894228040143268f  /* 1/sqrt(2 pi) */
#define GELU_K0 0.79788456080286536f         /* sqrt(2/pi) */
#define GELU_K1 0.044715f

// out = x * Phi(x) = 0.5 x erfc(-x/sqrt 2). erfc, not 1 + erf: for x << 0 the sum 1 + erf
// cancels to nothing (x = -6: 1 + erf is 2e-9, all of it rounding), erfc keeps full precision.
void gelu_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = 0.5f * x[i] * erfcf(-x[i] * GELU_SQRT1_2);
}

// dx = dout * (Phi(x) + x phi(x)). For |x| > ~13, x*x overflows to inf or exp underflows:
// phi is 0 and x*0 = 0 for finite x. Threads: over elements.
void gelu_backward(float *dx, const float *dout, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * erfcf(-v * GELU_SQRT1_2);
        float pdf = GELU_INV_SQRT_2PI * exp_k(-0.5f * v * v);
        dx[i] = dout[i] * (cdf + v * pdf);
    }
}

// The tanh approximation 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
// x * sigmoid(2u) (the same function: 1 + tanh(u) = 2 sigmoid(2u)) so that x << 0 does not
// cancel, and x^3 overflowing to inf gives sigmoid 0 or 1, not NaN. Threads: over elements.
void gelu_tanh_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float u = GELU_K0 * (v + GELU_K1 * v * v * v);
        out[i] = v * sigm(2.0f * u);
    }
}

// d/dx x s(2u) = s + 2 x s(1-s) u'. s(1-s) is formed as e/(1+e)^2 with e = exp(-|2u|): it is
// exactly 0 once e underflows, and then the term is skipped (u' may be inf there: 0*inf = NaN).
void gelu_tanh_backward(float *dx, const float *dout, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float u2 = 2.0f * GELU_K0 * (v + GELU_K1 * v * v * v);
        float e = exp_k(-fabsf(u2));
        float s = sel(u2 >= 0.0f, 1.0f / (1.0f + e), e / (1.0f + e));
        float p = e / ((1.0f + e) * (1.0f + e));
        float du2 = 2.0f * GELU_K0 * (1.0f + 3.0f * GELU_K1 * v * v);
        float t = sel(p > 0.0f, v * p * du2, 0.0f);
        dx[i] = dout[i] * (s + t);
    }
}

/* ---- silu (swish) ----------------------------------------------------------------------- */

// out = x * sigmoid(x). Threads: over elements.
void silu_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * sigm(x[i]);
}

// dx = dout * (s + x s (1 - s)), s = sigmoid(x). Threads: over elements.
void silu_backward(float *dx, const float *dout, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float s = sigm(x[i]);
        dx[i] = dout[i] * (s + x[i] * s * (1.0f - s));
    }
}

/* ---- the general relu ------------------------------------------------------------------- */
/* Keras 3's relu(x, negative_slope, max_value, threshold):
 *     a = x > threshold ? x : 0;  if max_value: a = clip(a, 0, max_value)
 *     out = a - negative_slope * max(threshold - x, 0)      (the last term only if slope != 0)
 * max_value = INFINITY means None. The fast loops unswitch the two options out of the loop
 * (one branch-free loop per case, which the compiler vectorises); the _ref twins are the
 * formula above, one element at a time. Comparisons are written so that NaN passes. */

static inline float relu_pos(float v, float thr)
{
    return sel(!(v <= thr), v, 0.0f);              /* NaN <= thr is false: keep it as it is */
}

static inline float relu_clip(float a, float mx)
{
    a = sel(a < 0.0f, 0.0f, a);                    /* NaN compares false both times */
    return sel(a > mx, mx, a);
}

static inline float relu_neg(float v, float thr)
{
    float d = thr - v;
    return sel(d > 0.0f, d, 0.0f);
}

// x, out (n). Threads: over elements.
void relu_general_forward(float *out, const float *x, int64_t n, float negative_slope,
                          float max_value, float threshold)
{
    const float ns = negative_slope, mx = max_value, thr = threshold;
    if (isinf(mx) && ns == 0.0f) {
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            out[i] = relu_pos(x[i], thr);
    } else if (isinf(mx)) {
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            out[i] = relu_pos(x[i], thr) - ns * relu_neg(x[i], thr);
    } else if (ns == 0.0f) {    /* relu6 and the like; 0 * relu_neg would be NaN at -inf */
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            out[i] = relu_clip(relu_pos(x[i], thr), mx);
    } else {
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            out[i] = relu_clip(relu_pos(x[i], thr), mx) - ns * relu_neg(x[i], thr);
    }
}

void relu_general_forward_ref(float *out, const float *x, int64_t n, float negative_slope,
                              float max_value, float threshold)
{
    for (int64_t i = 0; i < n; i++) {
        float a = relu_pos(x[i], threshold);
        if (!isinf(max_value))
            a = relu_clip(a, max_value);
        if (negative_slope != 0.0f)
            a -= negative_slope * relu_neg(x[i], threshold);
        out[i] = a;
    }
}

// dx = dout * slope: 1 where x > threshold (and inside (0, max_value) when clipped), else
// negative_slope. Threads: over elements.
void relu_general_backward(float *dx, const float *dout, const float *x, int64_t n,
                           float negative_slope, float max_value, float threshold)
{
    const float ns = negative_slope, mx = max_value, thr = threshold;
    if (isinf(mx)) {
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            dx[i] = dout[i] * sel(x[i] > thr, 1.0f, ns);
    } else {
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            dx[i] = dout[i] * sel(x[i] > thr, sel((x[i] > 0.0f) & (x[i] < mx), 1.0f, 0.0f), ns);
    }
}

void relu_general_backward_ref(float *dx, const float *dout, const float *x, int64_t n,
                               float negative_slope, float max_value, float threshold)
{
    for (int64_t i = 0; i < n; i++) {
        float slope;
        if (!(x[i] > threshold))
            slope = negative_slope;
        else if (isinf(max_value))
            slope = 1.0f;
        else
            slope = x[i] > 0.0f && x[i] < max_value ? 1.0f : 0.0f;
        dx[i] = dout[i] * slope;
    }
}

/* ---- softplus, softsign ------------------------------------------------------------------- */

// out = log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)) (log1p_k): exp never overflows, and
// for x >> 0 the result is x exactly. NaN: log1p(exp(NaN)) is NaN. Threads: over elements.
void softplus_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = sel(x[i] > 0.0f, x[i], 0.0f) + log1p_k(exp_k(-fabsf(x[i])));
}

// The plain formula with the C library's log1pf: the oracle of softplus_forward's log1p_k.
void softplus_forward_ref(float *out, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = (x[i] > 0.0f ? x[i] : 0.0f) + log1pf(expf(-fabsf(x[i])));
}

// dx = dout * sigmoid(x). Threads: over elements.
void softplus_backward(float *dx, const float *dout, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dout[i] * sigm(x[i]);
}

// out = x / (1 + |x|). Threads: over elements.
void softsign_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] / (1.0f + fabsf(x[i]));
}

// dx = dout / (1 + |x|)^2, as two divisions: the square overflows for |x| > 1.8e19 where the
// quotient does not underflow yet. Threads: over elements.
void softsign_backward(float *dx, const float *dout, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float d = 1.0f + fabsf(x[i]);
        dx[i] = dout[i] / d / d;
    }
}

/* ---- hard_sigmoid, hard_silu -------------------------------------------------------------- */

// Keras 3: hard_sigmoid(x) = relu6(x + 3) / 6 (a division, as Keras writes it: x * (1/6)
// would differ in the last bit). Threads: over elements.
static inline float hard_sig(float v)
{
    return relu_clip(v + 3.0f, 6.0f) / 6.0f;
}

void hard_sigmoid_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = hard_sig(x[i]);
}

// dx = dout / 6 strictly inside (-3, 3) (TF's relu6 gradient: 0 at both kinks). The test is on
// x + 3, as the forward computes it. Threads: over elements.
static inline int hard_inside(float v)
{
    float t = v + 3.0f;
    return (t > 0.0f) & (t < 6.0f);
}

void hard_sigmoid_backward(float *dx, const float *dout, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] = sel(hard_inside(x[i]), dout[i] / 6.0f, 0.0f);
}

// out = x * hard_sigmoid(x). Threads: over elements.
void hard_silu_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * hard_sig(x[i]);
}

// The product rule as TF differentiates x * hard_sigmoid(x): dout * hs(x) + (dout * x) / 6
// inside (-3, 3). Threads: over elements.
void hard_silu_backward(float *dx, const float *dout, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        dx[i] = dout[i] * hard_sig(v) + sel(hard_inside(v), dout[i] * v / 6.0f, 0.0f);
    }
}

/* ---- exponential -------------------------------------------------------------------------- */

// out = exp(x) (inf above ~88.7, as Keras). Threads: over elements.
void exponential_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = exp_k(x[i]);
}

void exponential_forward_ref(float *out, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = expf(x[i]);
}

// dx = dout * out: the derivative of exp is its output. Threads: over elements.
void exponential_backward(float *dx, const float *dout, const float *out, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dout[i] * out[i];
}

/* ---- log_softmax -------------------------------------------------------------------------- */

// x, out (M,C). out = x - max - log(sum exp(x - max)) per row: the max subtraction keeps exp
// <= 1, and the log of the sum (>= 1) never is -inf. Threads: over rows.
void log_softmax_forward(float *out, const float *x, int64_t M, int64_t C)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < M; i++) {
        const float *z = x + i * C;
        float m = z[0];
        for (int64_t c = 1; c < C; c++)
            m = z[c] > m ? z[c] : m;
        float s = 0.0f;
        for (int64_t c = 0; c < C; c++)
            s += exp_k(z[c] - m);
        float lse = logf(s);
        for (int64_t c = 0; c < C; c++)
            out[i * C + c] = (z[c] - m) - lse;
    }
}

// dx_c = dout_c - exp(out_c) * sum_j dout_j (softmax = exp(out)). Threads: over rows.
void log_softmax_backward(float *dx, const float *dout, const float *out, int64_t M, int64_t C)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < M; i++) {
        const float *g = dout + i * C, *y = out + i * C;
        float sum = 0.0f;
        for (int64_t c = 0; c < C; c++)
            sum += g[c];
        for (int64_t c = 0; c < C; c++)
            dx[i * C + c] = g[c] - exp_k(y[c]) * sum;
    }
}

/* ---- PReLU -------------------------------------------------------------------------------- */
/* x, out, dx, dout (M,A): M examples of A values each. alpha (P) with P <= A, and idx (A) the
 * alpha element of each of the A positions (NULL: idx[a] = a, P = A). Keras' shared_axes make
 * several positions share one alpha; the caller builds idx from the broadcast. */

#define PRELU_COLS 256   /* columns per block of the dalpha pass: 1 KiB of each row, in L1 */

// out = x > 0 ? x : alpha[idx[a]] * x (Keras: relu(x) - alpha relu(-x), the same values).
// Threads: over rows.
void prelu_forward(float *out, const float *x, const float *alpha, const int64_t *idx,
                   int64_t M, int64_t A)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * A > ELEMWISE_PAR_MIN)
    for (int64_t m = 0; m < M; m++)
        for (int64_t a = 0; a < A; a++) {
            float v = x[m * A + a];
            out[m * A + a] = sel(v > 0.0f, v, alpha[idx ? idx[a] : a] * v);
        }
}

void prelu_forward_ref(float *out, const float *x, const float *alpha, const int64_t *idx,
                       int64_t M, int64_t A)
{
    for (int64_t i = 0; i < M * A; i++) {
        int64_t a = i % A;
        out[i] = x[i] > 0.0f ? x[i] : alpha[idx ? idx[a] : a] * x[i];
    }
}

// dx (M,A) or NULL = dout * (x > 0 ? 1 : alpha); dalpha (P), overwritten, = sum over the rows
// and over the positions sharing it of dout * min(x, 0).
// Threads: dx over rows; dalpha in two steps so that no sum crosses a thread: per-position
// sums over the rows (threads split the columns into blocks of PRELU_COLS, each summing its
// rows in order), then one thread adds the positions into their alpha in position order.
// PYCONV_ENOMEM if the (A) workspace cannot be allocated.
int prelu_backward(float *dx, float *dalpha, const float *dout, const float *x,
                   const float *alpha, const int64_t *idx, int64_t M, int64_t A, int64_t P)
{
    float *part = pyconv_scratch_alloc((size_t)A * sizeof(float));
    if (!part)
        return PYCONV_ENOMEM;
    if (dx) {
        #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * A > ELEMWISE_PAR_MIN)
        for (int64_t m = 0; m < M; m++)
            for (int64_t a = 0; a < A; a++) {
                int64_t i = m * A + a;
                dx[i] = sel(x[i] > 0.0f, dout[i], alpha[idx ? idx[a] : a] * dout[i]);
            }
    }
    const int64_t nb = (A + PRELU_COLS - 1) / PRELU_COLS;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * A > ELEMWISE_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t a0 = b * PRELU_COLS, a1 = a0 + PRELU_COLS < A ? a0 + PRELU_COLS : A;
        for (int64_t a = a0; a < a1; a++)
            part[a] = 0.0f;
        for (int64_t m = 0; m < M; m++)                  /* rows in order: the same sum always */
            for (int64_t a = a0; a < a1; a++) {
                float v = x[m * A + a];
                part[a] += sel(v > 0.0f, 0.0f, dout[m * A + a] * v);
            }
    }
    for (int64_t p = 0; p < P; p++)
        dalpha[p] = 0.0f;
    for (int64_t a = 0; a < A; a++)
        dalpha[idx ? idx[a] : a] += part[a];
    pyconv_scratch_free(part);
    return PYCONV_OK;
}

// The plain loop: every element adds into its alpha directly, in memory order.
int prelu_backward_ref(float *dx, float *dalpha, const float *dout, const float *x,
                       const float *alpha, const int64_t *idx, int64_t M, int64_t A, int64_t P)
{
    for (int64_t p = 0; p < P; p++)
        dalpha[p] = 0.0f;
    for (int64_t i = 0; i < M * A; i++) {
        int64_t k = idx ? idx[i % A] : i % A;
        if (dx)
            dx[i] = x[i] > 0.0f ? dout[i] : alpha[k] * dout[i];
        if (!(x[i] > 0.0f))
            dalpha[k] += dout[i] * x[i];
    }
    return PYCONV_OK;
}
