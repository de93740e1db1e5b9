/* blocking.h -- the GEMM's block sizes, one row per ISA, one reason per value.
 *
 * The GEMM (gemm.c) is the Goto / BLIS loop nest around one register-tile micro-kernel:
 *
 *   loop 5  jc over N, step NC   B panel  (KC x NC)  packed, lives in L3
 *   loop 4  pc over K, step KC   depth block; B panel packed once per (jc, pc)
 *   loop 3  ic over M, <= MC     A block  (MC x KC)  packed per thread (or read in place), L2
 *   loop 2  jr over NC, step NR  B micro-panel (KC x NR) stays in L1 across loop 1
 *   loop 1  ir over MC, step MR  A micro-panel (MR x KC) streams from L2
 *           micro-kernel: C tile (MR x NR) held in registers for the whole KC loop
 *
 * Packed layouts (what the micro-kernel reads, in order, with unit stride):
 *
 *   A micro-panel, MR rows:           B micro-panel, NR columns:
 *     k=0: a[0][0] a[1][0] .. a[MR-1][0]    k=0: b[0][0] b[0][1] .. b[0][NR-1]
 *     k=1: a[0][1] a[1][1] .. a[MR-1][1]    k=1: b[1][0] b[1][1] .. b[1][NR-1]
 *     ...                                   ...
 *   Rows/columns past the edge of the matrix are packed as zeros, so the micro-kernel
 *   always computes a whole MR x NR tile; the driver copies back only the valid part.
 *
 * Machine these were chosen for: AMD EPYC (Zen 5 class), L1d 48 KiB, L2 1 MiB per core,
 * L3 32 MiB shared. They are reasonable on any x86-64 of the last decade.
 */
#ifndef PYCONV_BLOCKING_H
#define PYCONV_BLOCKING_H

/*            MR   NR    MC    KC     NC   reasons
 * avx512      8   32   144   320   4096   16 zmm accumulators (8 rows x 2 vectors) + 2 for B:
 *                                         twice the 8 chains two FMA pipes of latency 4 need.
 *                                         8 rows, not 12: our M are multiples of 8 and 32 --
 *                                         64 output channels (the filter gradient's rows),
 *                                         batch 32 -- which 12 leaves 11% idle (measured:
 *                                         docs/benchmarks.md, "What the profile showed").
 *                                         B micro-panel 320*32*4 = 40 KiB sits in the 48 KiB
 *                                         L1; A block 144*320*4 = 180 KiB is a sixth of L2.
 * avx2        6   16    72   320   4096   12 ymm accumulators + 2 B + 1 broadcast of 16 ymm.
 *                                         B micro-panel 20 KiB in L1; A block 90 KiB in L2.
 * neon       12    8   120   320   4096   aarch64, 32 q registers of 4 floats: 24 accumulators
 *                                         (12 rows x 2 vectors) + 2 for B + 3 for A's 12 values,
 *                                         each FMA taking its A value by lane (FMLA v.4s, v.s[i]),
 *                                         so no broadcasts. 24 independent chains cover the 8-16
 *                                         that 2 (Neoverse N1) to 4 (Apple M) FMA pipes of
 *                                         latency 3-4 need. NR = 8, not 12: our N are channel
 *                                         counts, multiples of 8 (32, 64), which 12 would pad by
 *                                         a third and which the indirect-B and scattered paths
 *                                         need whole (conv2d.c). B micro-panel 320*8*4 = 10 KiB
 *                                         in a 64 KiB L1; A block 120*320*4 = 150 KiB in L2
 *                                         (1 MiB on N1, 4+ MiB on Apple M). Not measured on
 *                                         ARM hardware (none here): chosen on paper.
 * generic     4    8    64   320   4096   plain C the compiler may vectorise for SSE2:
 *                                         32 scalar accumulators stay in 8 xmm registers.
 * KC: at most 320, and the depth is cut into equal blocks (gemm.c, depth_block): conv2's
 *     3x3x32 = 288 is one block, so each C tile is stored once (KC = 256 took two passes,
 *     256 + 32, and a second load and store of every C tile; the timing: docs/benchmarks.md).
 * NC: the B panel (KC x NC) = 5 MiB at most, well inside L3; our conv GEMMs have N <= 512.
 * MC is a multiple of MR; KC is the same for all so that results stay comparable.
 */
#define AVX512_MR 8
#define AVX512_NR 32
#define AVX512_MC 144

#define AVX2_MR 6
#define AVX2_NR 16
#define AVX2_MC 72

#define NEON_MR 12
#define NEON_NR 8
#define NEON_MC 120

#define GENERIC_MR 4
#define GENERIC_NR 8
#define GENERIC_MC 64

#define GEMM_KC 320
#define GEMM_NC 4096

/* Below this many FLOPs a GEMM runs on one thread: waking a second one costs a few
 * microseconds, which is what ~1 MFLOP takes at ~200 GFLOP/s. */
#define GEMM_PAR_MIN_FLOPS 1.0e6

/* The largest MR x NR tile of any ISA: the size of the driver's edge-tile buffer. */
#define GEMM_MAX_TILE (AVX512_MR * AVX512_NR)

#endif /* PYCONV_BLOCKING_H */
