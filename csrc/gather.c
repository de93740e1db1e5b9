/* gather.c -- a training batch from a dataset: out[i] = x[idx[i]], rows converted to float32.
 *
 * Model.fit shuffles by index, so every step reads batch-size rows from random places in a
 * dataset far larger than the caches: the copy is bound by memory latency, not by work. Two
 * threads keep twice as many rows in flight. A float64 dataset (the tutorial's `x / 255.0`)
 * is converted row by row here, never copied whole.
 */
#include "pyconv.h"

/* Below this many bytes read, one thread is faster than a parallel region. */
#define GATHER_PAR_MIN_BYTES 32768

// out (n, row) float32; x (N, row) float32, or float64 when x_is_f64; idx (n) in [0, N).
// Threads: over the n rows; each output row written by one thread.
int gather_rows(float *out, const void *x, int x_is_f64, const int64_t *idx, int64_t n,
                int64_t N, int64_t row)
{
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= N)
            return PYCONV_EINVAL;   // nothing written
    #pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) \
        if(n * row * (x_is_f64 ? 8 : 4) > GATHER_PAR_MIN_BYTES)
    for (int64_t i = 0; i < n; i++) {
        float *o = out + i * row;
        if (x_is_f64) {
            const double *s = (const double *)x + idx[i] * row;
            for (int64_t j = 0; j < row; j++)
                o[j] = (float)s[j];
        } else {
            const float *s = (const float *)x + idx[i] * row;
            for (int64_t j = 0; j < row; j++)
                o[j] = s[j];
        }
    }
    return PYCONV_OK;
}

// The specification: one element at a time, no threads.
int gather_rows_ref(float *out, const void *x, int x_is_f64, const int64_t *idx, int64_t n,
                    int64_t N, int64_t row)
{
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= N)
            return PYCONV_EINVAL;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < row; j++)
            out[i * row + j] = x_is_f64 ? (float)((const double *)x)[idx[i] * row + j]
                                        : ((const float *)x)[idx[i] * row + j];
    return PYCONV_OK;
}
