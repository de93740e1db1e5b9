/* metrics.c -- the counts behind accuracy metrics, for Model.fit's per-step bookkeeping.
 *
 * A training step of a small model takes a fraction of a millisecond; NumPy's argmax, compare
 * and count (three passes and two temporaries) then cost more than the loop itself. This is
 * one pass. It is a plain loop and its own specification: tests/test_metrics.py checks it
 * against NumPy's argmax, ties and NaN included.
 */
#include <math.h>
#include "pyconv.h"

// p (M, C) scores, labels (M) int32. Returns how many rows have argmax(p[m]) == labels[m],
// argmax as NumPy's: the first maximum, and the first NaN if the row has one.
// Serial: M is a batch (tens of rows); a parallel region would cost more than the count.
int64_t argmax_hits(const float *p, const int32_t *labels, int64_t M, int64_t C)
{
    int64_t hits = 0;
    for (int64_t m = 0; m < M; m++) {
        const float *row = p + m * C;
        int64_t best = 0;
        if (!isnan(row[0]))
            for (int64_t j = 1; j < C; j++) {
                if (isnan(row[j])) {
                    best = j;
                    break;
                }
                if (row[j] > row[best])
                    best = j;
            }
        hits += best == labels[m];
    }
    return hits;
}
