/* act.c -- elementwise activations, softmax, the fused softmax cross-entropy and bias.
 *
 * These are memory-bound loops: one pass over the data, written so that the compiler
 * vectorises them. Threads split rows (or elements) statically; each output element is
 * written by one thread and no sum crosses a thread boundary, so results do not depend on
 * the thread count. Every backward takes the forward's OUTPUT (not its input) where that
 * is enough: relu'(x) = [out > 0], sigmoid' = out(1-out), tanh' = 1-out^2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pyconv.h"
#include "exp_k.h"

void relu_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = !(x[i] <= 0.0f) ? x[i] : 0.0f;   /* NaN propagates; -0 gives +0 */
}

void relu_backward(float *dx, const float *dout, const float *out, int64_t n)
{
    /* Branch-free: the sign of `out` is random in training, so `out > 0 ? dout : 0` as a
     * branch mispredicts half the time (measured: 50x slower than this). The comparison
     * becomes an all-ones / all-zeros mask ANDed with the bits of dout, which vectorises. */
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        uint32_t g, mask = -(uint32_t)(out[i] > 0.0f);
        memcpy(&g, dout + i, sizeof g);
        g &= mask;
        memcpy(dx + i, &g, sizeof g);
    }
}

void sigmoid_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        /* Two branches so that exp never overflows: exp(-|x|) <= 1. */
        float e = expf(-fabsf(x[i]));
        out[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

void sigmoid_backward(float *dx, const float *dout, const float *out, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dout[i] * out[i] * (1.0f - out[i]);
}

void tanh_forward(float *out, const float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = tanhf(x[i]);
}

void tanh_backward(float *dx, const float *dout, const float *out, int64_t n)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(n > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dout[i] * (1.0f - out[i] * out[i]);
}

/* One row: out = exp(x - max) / sum. Returns log(sum) relative to the max, for the loss. */
static float softmax_row(float *out, const float *x, int64_t C)
{
    float m = x[0];
    for (int64_t c = 1; c < C; c++)
        m = x[c] > m ? x[c] : m;
    float s = 0.0f;
    for (int64_t c = 0; c < C; c++) {
        out[c] = expf(x[c] - m);
        s += out[c];
    }
    float inv = 1.0f / s;
    for (int64_t c = 0; c < C; c++)
        out[c] *= inv;
    return logf(s);
}

/* Softmax of a block of rows (out may be x): per row, out = x - max; then exp_k over the whole
 * block at once -- a row of the tutorial's 10 classes is shorter than a vector, the block's
 * values are not, and exp_k gives each value the same bits wherever it falls (exp_k.h); then
 * per row the sum, in column order, and the scale. */
static void softmax_block(float *out, const float *x, int64_t rows, int64_t C)
{
    for (int64_t i = 0; i < rows; i++) {
        const float *z = x + i * C;
        float m = z[0];
        for (int64_t c = 1; c < C; c++)
            m = z[c] > m ? z[c] : m;
        for (int64_t c = 0; c < C; c++)
            out[i * C + c] = z[c] - m;
    }
    for (int64_t k = 0; k < rows * C; k++)
        out[k] = exp_k(out[k]);
    for (int64_t i = 0; i < rows; i++) {
        float *o = out + i * C, s = 0.0f;
        for (int64_t c = 0; c < C; c++)
            s += o[c];
        const float inv = 1.0f / s;
        for (int64_t c = 0; c < C; c++)
            o[c] *= inv;
    }
}

/* Rows a block: its values (1,024 floats, 4 KB) stay in L1 between softmax_block's passes. */
#define SOFTMAX_BLOCK_FLOATS 1024

// x, out (M,C), overwritten (out may be x). Threads: over blocks of rows; a row's values
// depend on that row alone, so any split gives the same bits. One thread opens no parallel
// region (a region of one thread still costs libgomp futex calls: inference at batch 1, gemm.c).
// exp_k, not expf: the tutorial DNN's (256, 10) took 17 us with expf, 2560 scalar calls
// (benchmarks.md 10.5); softmax_forward_ref keeps expf.
void softmax_forward(float *out, const float *x, int64_t M, int64_t C)
{
    if (M <= 0 || C <= 0)
        return;
    const int64_t rows = C < SOFTMAX_BLOCK_FLOATS ? SOFTMAX_BLOCK_FLOATS / C : 1;
    const int64_t blocks = (M + rows - 1) / rows;
    const int threads = M * C > ELEMWISE_PAR_MIN ? pyconv_num_threads() : 1;
    if (threads > 1) {
        #pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t b = 0; b < blocks; b++) {
            const int64_t i0 = b * rows, n = M - i0 < rows ? M - i0 : rows;
            softmax_block(out + i0 * C, x + i0 * C, n, C);
        }
    } else {
        for (int64_t b = 0; b < blocks; b++) {
            const int64_t i0 = b * rows, n = M - i0 < rows ? M - i0 : rows;
            softmax_block(out + i0 * C, x + i0 * C, n, C);
        }
    }
}

// The specification: the C library's expf, one row at a time.
void softmax_forward_ref(float *out, const float *x, int64_t M, int64_t C)
{
    for (int64_t i = 0; i < M; i++)
        softmax_row(out + i * C, x + i * C, C);
}

// dx_c = out_c * (dout_c - sum_j dout_j out_j). Threads: over rows.
void softmax_backward(float *dx, const float *dout, const float *out, int64_t M, int64_t C)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < M; i++) {
        const float *g = dout + i * C, *y = out + i * C;
        float dot = 0.0f;
        for (int64_t c = 0; c < C; c++)
            dot += g[c] * y[c];
        for (int64_t c = 0; c < C; c++)
            dx[i * C + c] = y[c] * (g[c] - dot);
    }
}

// logits, dlogits (M,C); loss, labels (M). loss_i = log(sum exp(z - max)) - (z_label - max).
// dlogits = (softmax - onehot(label)) * scale: scale times the gradient of loss_i w.r.t. row i.
int softmax_xent_forward_backward(float *loss, float *dlogits, const float *logits,
                                  const int32_t *labels, int64_t M, int64_t C, float scale)
{
    int bad = 0;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > ELEMWISE_PAR_MIN) reduction(|:bad)
    for (int64_t i = 0; i < M; i++) {
        const float *z = logits + i * C;
        if (labels[i] < 0 || labels[i] >= C) {  // refused, not read out of bounds
            bad = 1;
            loss[i] = NAN;
            for (int64_t c = 0; dlogits && c < C; c++)
                dlogits[i * C + c] = 0.0f;
            continue;
        }
        float m = z[0];
        for (int64_t c = 1; c < C; c++)
            m = z[c] > m ? z[c] : m;
        float s = 0.0f;
        for (int64_t c = 0; c < C; c++)
            s += expf(z[c] - m);
        int32_t y = labels[i];
        loss[i] = logf(s) - (z[y] - m);
        if (dlogits) {
            float inv = 1.0f / s;
            for (int64_t c = 0; c < C; c++)
                dlogits[i * C + c] = (expf(z[c] - m) * inv - (c == y ? 1.0f : 0.0f)) * scale;
        }
    }
    return bad ? PYCONV_EINVAL : PYCONV_OK;
}

// x, out (M,C); b (C). out may alias x.
void bias_add_forward(float *out, const float *x, const float *b, int64_t M, int64_t C)
{
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > ELEMWISE_PAR_MIN)
    for (int64_t i = 0; i < M; i++)
        for (int64_t c = 0; c < C; c++)
            out[i * C + c] = x[i * C + c] + b[c];
}

// dout (M,C), db (C). One running sum per column would be a chain of M dependent adds (the
// first layer's 21,632 rows: ~90k cycles of add latency); instead the rows are cut into
// blocks of BIAS_BLOCK, summed independently (in parallel), and the block sums added in
// block order. The blocks depend on M only: the same bits for any thread count.
#define BIAS_BLOCK 64

int bias_add_backward(float *db, const float *dout, int64_t M, int64_t C)
{
    const int64_t nb = M > 0 ? (M + BIAS_BLOCK - 1) / BIAS_BLOCK : 1;
    float *part = pyconv_scratch_alloc((size_t)(nb * C) * sizeof(float));
    if (!part)
        return PYCONV_ENOMEM;
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) if(M * C > ELEMWISE_PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        float *acc = part + b * C;
        const int64_t end = (b + 1) * BIAS_BLOCK < M ? (b + 1) * BIAS_BLOCK : M;
        for (int64_t c = 0; c < C; c++)
            acc[c] = 0.0f;
        for (int64_t i = b * BIAS_BLOCK; i < end; i++)
            for (int64_t c = 0; c < C; c++)
                acc[c] += dout[i * C + c];
    }
    for (int64_t c = 0; c < C; c++)
        db[c] = part[c];
    for (int64_t b = 1; b < nb; b++)
        for (int64_t c = 0; c < C; c++)
            db[c] += part[b * C + c];
    pyconv_scratch_free(part);
    return PYCONV_OK;
}

// The specification: one double sum per column, rounded once.
void bias_add_backward_ref(float *db, const float *dout, int64_t M, int64_t C)
{
    for (int64_t c = 0; c < C; c++) {
        double acc = 0.0;
        for (int64_t i = 0; i < M; i++)
            acc += dout[i * C + c];
        db[c] = (float)acc;
    }
}
