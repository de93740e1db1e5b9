/* dense_loops.h -- the dense forward of a small batch (N <= DENSE_ROWS_MAX rows), written once
 * and compiled once per ISA (dense.c for the portable build, dense_avx2.c, dense_avx512.c,
 * dense_neon.c with their own flags): its column loops are what the compiler vectorises.
 *
 * Why not the GEMM: at batch 1 a dense layer is a matrix-vector product, bound by reading W
 * (C x K floats) once. The GEMM packs all of W into panels first -- a read, a write and a read
 * again, 3x the traffic -- to reuse each panel over many rows that a small batch does not
 * have. Here W is read in place, row by row, each row used by every row of x while it is in L1.
 *
 *   loop 2 (jb, step DENSE_COLS): a block of output columns; threads split these
 *     loop 1 (i, all of C): row i of W's block, from L2 (or memory) to L1
 *       rows r of x (<= DENSE_ROWS_MAX): acc[r][0..cols) += x[r][i] * W[i][block]
 *   then out = acc + b, relu
 *
 * Each output element is the sum over i ascending of products rounded to float32 (no FMA
 * contraction: CMakeLists.txt), then the bias, then relu: the same operations on every ISA and
 * for any thread count, so the results are bitwise the same on all of them. They differ in the
 * last bits from the GEMM's (which fuses multiply-adds and sums in KC blocks): a batch of
 * DENSE_ROWS_MAX rows or fewer may round differently from the same rows inside a bigger batch.
 */
#ifndef PYCONV_DENSE_LOOPS_H
#define PYCONV_DENSE_LOOPS_H

#include "pyconv.h"
#include "target.h"

/* A block of output columns: DENSE_ROWS_MAX x 64 running sums (1 KiB) stay in L1 beside the
 * W row being read; 64 floats are 4 AVX-512, 8 AVX2 or 16 NEON vectors per row. */
#define DENSE_COLS 64
/* Below this many FLOPs (2 N C K) one thread is faster than a parallel region (as the GEMM's
 * GEMM_PAR_MIN_FLOPS): the tutorial DNN's 784 x 128 layer at batch 1 is 0.2 MFLOP. */
#define DENSE_ROWS_PAR_MIN 1.0e6
/* On the inference path's helper threads (pool.c), from this many FLOPs: a task costs an
 * atomic, not a region, and each thread then streams its own columns of W, which stay in its
 * own L2 from call to call (the DNN's 784 x 128 layer: 200 KB a thread of its 400 KB; 4.85 ->
 * 3.16 us a call with the helper awake). The job does not wake a sleeping helper (it is far
 * short of POOL_WAKE_FLOPS): it runs on a helper a larger GEMM of the call, or of a call just
 * before, woke. Waking for it made the tutorial DNN at batch 1 (which has no such GEMM) faster
 * from the third call of a block of 5 after a pause and slower in the first two (the futex
 * call, the helper arriving after the job): no gain in `bench --inference` (benchmarks.md 10.5). */
#define DENSE_ROWS_POOL_MIN 1.0e5

/* Columns [j0, j0 + cols) of out (N,K), N <= DENSE_ROWS_MAX, from x (N,C), w (C,K), b. Inlined
 * with cols = DENSE_COLS for the whole blocks, so that their loops have a constant length. */
static inline void dense_rows_block(float *out, const float *x, const float *w, const float *b,
                                    int relu, int64_t N, int64_t C, int64_t K, int64_t j0,
                                    int64_t cols)
{
    float acc[DENSE_ROWS_MAX][DENSE_COLS];
    for (int64_t r = 0; r < N; r++)
        for (int64_t j = 0; j < cols; j++)
            acc[r][j] = 0.0f;
    for (int64_t i = 0; i < C; i++) {                    // loop 1 (i): one W row, into L1
        const float *restrict wi = w + i * K + j0;
        for (int64_t r = 0; r < N; r++) {
            const float xr = x[r * C + i];
            for (int64_t j = 0; j < cols; j++)           /* vectorised: cols lanes, unit stride */
                acc[r][j] += xr * wi[j];
        }
    }
    for (int64_t r = 0; r < N; r++) {
        float *restrict o = out + r * K + j0;
        for (int64_t j = 0; j < cols; j++) {
            const float v = b ? acc[r][j] + b[j0 + j] : acc[r][j];
            o[j] = relu && v < 0.0f ? 0.0f : v;          /* NaN stays NaN, as in relu_forward */
        }
    }
}

/* Block jb of DENSE_COLS output columns: the whole blocks with a constant length. */
static inline void dense_rows_cols(float *out, const float *x, const float *w, const float *b,
                                   int relu, int64_t N, int64_t C, int64_t K, int64_t jb)
{
    const int64_t j0 = jb * DENSE_COLS;
    if (K - j0 >= DENSE_COLS)
        dense_rows_block(out, x, w, b, relu, N, C, K, j0, DENSE_COLS);
    else
        dense_rows_block(out, x, w, b, relu, N, C, K, j0, K - j0);
}

/* A task of pool.c's helpers: column blocks [t*blocks/n, (t+1)*blocks/n) of n tasks. */
typedef struct {
    float *out;
    const float *x, *w, *b;
    int relu;
    int64_t N, C, K, blocks, tasks;
} dense_rows_job;

static void dense_rows_task(const void *ctx, int64_t t, int tid)
{
    const dense_rows_job *j = ctx;
    (void)tid;
    for (int64_t jb = t * j->blocks / j->tasks; jb < (t + 1) * j->blocks / j->tasks; jb++)
        dense_rows_cols(j->out, j->x, j->w, j->b, j->relu, j->N, j->C, j->K, jb);
}

// x (N,C), w (C,K), b (K) or NULL, out (N,K) overwritten; N <= DENSE_ROWS_MAX.
// Threads: over blocks of DENSE_COLS output columns (a small batch has too few rows to split);
// each output element is computed by one thread, its sum always in the same order. On one
// thread with a pool width (the inference path), the blocks go to pool.c's helpers.
static inline void dense_forward_rows_loop(float *out, const float *x, const float *w,
                                           const float *b, int relu, int64_t N, int64_t C,
                                           int64_t K)
{
    const int64_t blocks = (K + DENSE_COLS - 1) / DENSE_COLS;
    const int threads = blocks > 1 && 2.0 * (double)N * (double)C * (double)K >= DENSE_ROWS_PAR_MIN
                        ? pyconv_num_threads() : 1;
    const int width = threads == 1 ? pyconv_pool_width() : 1;
    if (width > 1 && blocks > 1 && 2.0 * (double)N * (double)C * (double)K >= DENSE_ROWS_POOL_MIN
        && !pyconv_in_parallel()) {
        const dense_rows_job job = {out, x, w, b, relu, N, C, K, blocks,
                                    blocks < width ? blocks : width};
        pyconv_pool_run(dense_rows_task, &job, job.tasks, width, 0);
    } else if (threads > 1) {   /* (one thread opens no region: its barrier is a futex call, gemm.c) */
        #pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t jb = 0; jb < blocks; jb++)          // loop 2 (jb, step DENSE_COLS)
            dense_rows_cols(out, x, w, b, relu, N, C, K, jb);
    } else {
        for (int64_t jb = 0; jb < blocks; jb++)
            dense_rows_cols(out, x, w, b, relu, N, C, K, jb);
    }
}

/* The same loop compiled with each ISA's flags (dense_<isa>.c), chosen by dense.c. */
void dense_forward_rows_avx2(float *out, const float *x, const float *w, const float *b, int relu,
                             int64_t N, int64_t C, int64_t K);
void dense_forward_rows_avx512(float *out, const float *x, const float *w, const float *b, int relu,
                               int64_t N, int64_t C, int64_t K);
void dense_forward_rows_neon(float *out, const float *x, const float *w, const float *b, int relu,
                             int64_t N, int64_t C, int64_t K);

#endif /* PYCONV_DENSE_LOOPS_H */
