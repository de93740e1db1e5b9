/* dense.c -- the fully connected layer, forward and backward, on the GEMM.
 *
 *   forward   out (N,K) = x (N,C) . W (C,K) + b            one GEMM (A = x read in place through
 *                                                          row pointers), bias and relu in its epilogue;
 *                                                          few rows or columns (VIEW_B_*): W read in
 *                                                          place as strided panels (dense_forward_form);
 *                                                          N <= DENSE_ROWS_MAX: dense_forward_rows, W
 *                                                          read in place (dense_loops.h)
 *   backward  dx  (N,C) = dout (N,K) . W^T                 GEMM with B packed from W transposed
 *             dW  (C,K) = x^T . dout                       GEMM with x and dout read in place when
 *                                                          NR divides K (A packed from x transposed
 *                                                          otherwise)
 *             db  (K)   = column sums of dout              bias_add_backward
 * Every output is overwritten. Threads: those of the GEMM (each output element is computed
 * by one thread, its sum in a fixed order), so results do not depend on the thread count.
 */
#include "target.h"
#include "blocking.h"
#include "gemm.h"
#include "dense_loops.h"

int dense_forward_rows(float *out, const float *x, const float *w, const float *b, int relu,
                       int64_t N, int64_t C, int64_t K)
{
    if (N < 0 || N > DENSE_ROWS_MAX || C < 0 || K < 0)
        return PYCONV_EINVAL;
    switch (pyconv_isa_active()) {
    PYCONV_ON_AVX512(dense_forward_rows_avx512(out, x, w, b, relu, N, C, K); break;)
    PYCONV_ON_AVX2(dense_forward_rows_avx2(out, x, w, b, relu, N, C, K); break;)
    PYCONV_ON_NEON(dense_forward_rows_neon(out, x, w, b, relu, N, C, K); break;)
    default: dense_forward_rows_loop(out, x, w, b, relu, N, C, K); break;
    }
    return PYCONV_OK;
}

// Threads: the GEMM's. x read in place through row pointers and W packed (form
// DENSE_W_PACKED); x packed and W read through row pointers (DENSE_W_ROWS); or x through row
// pointers and W read in place as strided panels (DENSE_W_VIEW). In place, K a multiple of
// gemm_nr(), else PYCONV_EINVAL. One tap of C values in every form (depth blocks cut alike),
// one micro-kernel arithmetic: the same bits.
int dense_forward_form(float *out, const float *x, const float *w, const float *b, int relu,
                       int64_t N, int64_t C, int64_t K, int form)
{
    if (form < DENSE_W_PACKED || form > DENSE_W_VIEW)
        return PYCONV_EINVAL;
    gemm_operand a = {.rows = gemm_rows_n, .C = C, .data = x, .ld = C};
    gemm_operand bm = {.pack = gemm_pack_b_n, .data = w, .ld = K};
    if (form == DENSE_W_ROWS) {
        a = (gemm_operand){.pack = gemm_pack_a_n, .C = C, .data = x, .ld = C};
        bm = (gemm_operand){.cols = gemm_cols_n, .data = w, .ld = K};
    } else if (form == DENSE_W_VIEW) {
        bm = (gemm_operand){.view = gemm_view_b_n, .data = w, .ld = K};
    }
    return gemm(&(gemm_out){.data = out, .ld = K, .bias = b, .relu = relu}, &a, &bm, N, K, C,
                pyconv_num_threads());
}

int dense_forward(float *out, const float *x, const float *w, const float *b, int relu,
                  int64_t N, int64_t C, int64_t K)
{
    if (N <= DENSE_ROWS_MAX)   // a small batch: W read once, in place, not packed (dense_loops.h)
        return dense_forward_rows(out, x, w, b, relu, N, C, K);
    /* W read in place as strided panels, nothing packed, for few rows or few columns (as
     * conv2d_forward's filter: blocking.h's VIEW_B_*); else packed. */
    return dense_forward_form(out, x, w, b, relu, N, C, K,
                              gemm_view_b_pays(N, K) ? DENSE_W_VIEW : DENSE_W_PACKED);
}

int dense_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                   const float *w, int64_t N, int64_t C, int64_t K)
{
    int status = PYCONV_OK;
    if (dx) {   // dx = dout . W^T: B[o][i] = W[i][o], W stored (C x K) = B^T
        gemm_operand a = {.rows = gemm_rows_n, .C = K, .data = dout, .ld = K};
        gemm_operand bm = {.pack = gemm_pack_b_t, .data = w, .ld = K};
        status = gemm(&(gemm_out){.data = dx, .ld = C}, &a, &bm, N, C, K, pyconv_num_threads());
    }
    if (status == PYCONV_OK && dw) {   // dW = x^T . dout: A[i][n] = x[n][i], x stored (N x C) = A^T
        /* Nothing copied when NR divides K: dout's rows are B's, and x's rows are A's MR values
         * at one depth (the view, where MR divides C), as conv2d_backward_filter reads dout^T.
         * The same sums in the same order as packed: bitwise the same dW. */
        gemm_operand a = {.pack = gemm_pack_a_t, .view = gemm_view_a_t, .data = x, .ld = C};
        gemm_operand bm = K % gemm_nr() == 0
                          ? (gemm_operand){.cols = gemm_cols_n, .data = dout, .ld = K}
                          : (gemm_operand){.pack = gemm_pack_b_n, .data = dout, .ld = K};
        status = gemm(&(gemm_out){.data = dw, .ld = K}, &a, &bm, C, K, N, pyconv_num_threads());
    }
    if (status == PYCONV_OK && db)
        status = bias_add_backward(db, dout, N, K);
    return status;
}

// The specification: plain loops, double accumulation.
void dense_forward_ref(float *out, const float *x, const float *w, const float *b, int relu,
                       int64_t N, int64_t C, int64_t K)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < K; o++) {
            double s = b ? b[o] : 0.0;
            for (int64_t i = 0; i < C; i++)
                s += (double)x[n * C + i] * w[i * K + o];
            out[n * K + o] = relu && s < 0.0 ? 0.0f : (float)s;
        }
}

void dense_backward_ref(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *w, int64_t N, int64_t C, int64_t K)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < C; i++) {
            double s = 0.0;
            for (int64_t o = 0; o < K; o++)
                s += (double)dout[n * K + o] * w[i * K + o];
            dx[n * C + i] = (float)s;
        }
    for (int64_t i = 0; i < C; i++)
        for (int64_t o = 0; o < K; o++) {
            double s = 0.0;
            for (int64_t n = 0; n < N; n++)
                s += (double)x[n * C + i] * dout[n * K + o];
            dw[i * K + o] = (float)s;
        }
    bias_add_backward_ref(db, dout, N, K);
}
