/* ukernel_neon.c -- aarch64 Advanced SIMD (NEON) micro-kernel, 12 x 8: per step of k, two
 * 4-float loads of B and three of A feed 24 FMAs into 24 q-register accumulators, each FMA
 * taking its A value straight from a lane of the loaded vector (FMLA v.4s, v.4s, v.s[lane]):
 * no broadcasts, 5 loads per 24 FMAs, 29 of the 32 vector registers (blocking.h says why 12 x 8).
 * Built only for aarch64, where NEON is part of the base ISA (no flag); chosen at run time as
 * PYCONV_ISA_NEON like the x86 kernels. Each accumulator runs its k-sum in k order with one
 * rounding per FMA, as the AVX kernels do, so results do not depend on the thread count. */
#include <arm_neon.h>
#include "target.h"
#include "blocking.h"
#include "gemm.h"

/* C tile = (overwrite ? 0 : C) + acc, then + bias unless NULL, then relu if asked: the epilogue,
 * applied on the last depth block while the tile is still in registers. The loops over the
 * accumulators are unrolled whole (here and where they are zeroed): GCC 12 otherwise keeps the
 * array in memory and stores all 24 accumulators to the stack on every step of k. relu keeps x unless
 * x < 0, as relu_forward and the other ISAs do: NaN stays NaN and -0 stays -0 (vmaxq_f32 would
 * turn -0 into +0). */
PYCONV_ALWAYS_INLINE void
store_tile(float32x4_t acc[NEON_MR][2], float *c, int64_t ldc, int overwrite, const float *bias, int relu)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    #pragma GCC unroll 12
    for (int i = 0; i < NEON_MR; i++) {
        float *ci = c + i * ldc;
        #pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            float32x4_t v = acc[i][h];
            if (!overwrite)
                v = vaddq_f32(vld1q_f32(ci + 4 * h), v);
            if (bias)
                v = vaddq_f32(v, vld1q_f32(bias + 4 * h));
            if (relu)
                v = vbslq_f32(vcltq_f32(v, zero), zero, v);
            vst1q_f32(ci + 4 * h, v);
        }
    }
}

/* Rows r..r+3 of the tile += (the 4 values of a, lane i for row r+i) x (b0, b1). The lane of an
 * FMLA by element is an immediate, hence written out. */
PYCONV_ALWAYS_INLINE void
fma_4rows(float32x4_t acc[][2], float32x4_t a, float32x4_t b0, float32x4_t b1)
{
    acc[0][0] = vfmaq_laneq_f32(acc[0][0], b0, a, 0);
    acc[0][1] = vfmaq_laneq_f32(acc[0][1], b1, a, 0);
    acc[1][0] = vfmaq_laneq_f32(acc[1][0], b0, a, 1);
    acc[1][1] = vfmaq_laneq_f32(acc[1][1], b1, a, 1);
    acc[2][0] = vfmaq_laneq_f32(acc[2][0], b0, a, 2);
    acc[2][1] = vfmaq_laneq_f32(acc[2][1], b1, a, 2);
    acc[3][0] = vfmaq_laneq_f32(acc[3][0], b0, a, 3);
    acc[3][1] = vfmaq_laneq_f32(acc[3][1], b1, a, 3);
}

/* One step of k: the whole tile += A's 12 contiguous values at a x B's 8 (b0, b1). */
PYCONV_ALWAYS_INLINE void
rank1(float32x4_t acc[NEON_MR][2], const float *a, float32x4_t b0, float32x4_t b1)
{
    fma_4rows(acc, vld1q_f32(a), b0, b1);
    fma_4rows(acc + 4, vld1q_f32(a + 4), b0, b1);
    fma_4rows(acc + 8, vld1q_f32(a + 8), b0, b1);
}

void ukernel_neon(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int overwrite,
                  const float *bias, int relu)
{
    float32x4_t acc[NEON_MR][2];
    #pragma GCC unroll 12
    for (int i = 0; i < NEON_MR; i++)
        acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (int64_t k = 0; k < kc; k++) {
        rank1(acc, a, vld1q_f32(b), vld1q_f32(b + 4));
        a += NEON_MR;
        b += NEON_NR;
    }
    store_tile(acc, c, ldc, overwrite, bias, relu);
}

/* Four rows' values at depth k, each from its own row pointer, gathered into the lanes of one
 * vector (LD1 by lane), so that the tile update is the same 24 FMLAs by element as above. Loaded
 * as 12 scalars instead, they would need 12 registers on top of 26 and spill. */
PYCONV_ALWAYS_INLINE float32x4_t gather_4rows(const float *const *a, int64_t k)
{
    float32x4_t v = vld1q_dup_f32(a[0] + k);
    v = vld1q_lane_f32(a[1] + k, v, 1);
    v = vld1q_lane_f32(a[2] + k, v, 2);
    return vld1q_lane_f32(a[3] + k, v, 3);
}

/* The indirect variant's sum (see ukernel_avx512_ind): MR row pointers per tap instead of a
 * packed A panel. Inlined whole into both callers, so the accumulators stay in registers. */
PYCONV_ALWAYS_INLINE void
sum_ind(float32x4_t acc[NEON_MR][2], int64_t ntaps, int64_t kc, const float *const *a,
        const float *b, int64_t ldb)
{
    #pragma GCC unroll 12
    for (int i = 0; i < NEON_MR; i++)
        acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (int64_t t = 0; t < ntaps; t++, a += NEON_MR) {
        for (int64_t k = 0; k < kc; k++) {
            const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
            fma_4rows(acc, gather_4rows(a, k), b0, b1);
            fma_4rows(acc + 4, gather_4rows(a + 4, k), b0, b1);
            fma_4rows(acc + 8, gather_4rows(a + 8, k), b0, b1);
            b += ldb;
        }
    }
}

void ukernel_neon_ind(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                      int64_t ldb, float *c, int64_t ldc, int overwrite, const float *bias, int relu)
{
    float32x4_t acc[NEON_MR][2];
    sum_ind(acc, ntaps, kc, a, b, ldb);
    store_tile(acc, c, ldc, overwrite, bias, relu);
}

/* The indirect variant into a scattered C (see ukernel_avx512_ind_add): row i of the tile
 * added to the NR floats at c[i], or dropped where c[i] is NULL. */
void ukernel_neon_ind_add(int64_t ntaps, int64_t kc, const float *const *a, const float *b,
                          float *const *c)
{
    float32x4_t acc[NEON_MR][2];
    sum_ind(acc, ntaps, kc, a, b, NEON_NR);
    #pragma GCC unroll 12   /* whole: the accumulators stay in registers */
    for (int i = 0; i < NEON_MR; i++)
        if (c[i]) {
            vst1q_f32(c[i], vaddq_f32(vld1q_f32(c[i]), acc[i][0]));
            vst1q_f32(c[i] + 4, vaddq_f32(vld1q_f32(c[i] + 4), acc[i][1]));
        }
}

/* The variant with an indirect B (see ukernel_avx512_indb): B's row k read through b[k]; A's 12
 * values for depth k at a + k * lda (a packed panel, or an A^T read in place). */
void ukernel_neon_indb(int64_t kc, const float *a, int64_t lda, const float *const *b, float *c,
                       int64_t ldc, int overwrite, const float *bias, int relu)
{
    float32x4_t acc[NEON_MR][2];
    #pragma GCC unroll 12
    for (int i = 0; i < NEON_MR; i++)
        acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (int64_t k = 0; k < kc; k++) {
        rank1(acc, a, vld1q_f32(b[k]), vld1q_f32(b[k] + 4));
        a += lda;
    }
    store_tile(acc, c, ldc, overwrite, bias, relu);
}
