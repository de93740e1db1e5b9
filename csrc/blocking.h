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
 * MR and NR are the register tile, fixed per ISA (the table below). MC, KC and NC are derived
 * from the caches of the machine at first use (config.c, pyconv_blocking_derive), as BLIS's
 * analytical model sizes them (Low et al., "Analytical modeling is enough for high-performance
 * BLIS", TOMS 2016: B micro-panel in L1 less the ways the streaming A and C need, A block in
 * L2, B panel in L3), with the fractions below -- and a B micro-panel allowed to stream from L2
 * when a share of L2 holds more of it than L1 does (BLOCK_L2_B_PART: why, below);
 * PYCONV_BLOCKING overrides them for experiments;
 * show_config() prints those in use. MC and NC only cut the work into tasks: no sum depends on
 * them. KC cuts the K-sum, so the bits depend on it (as they do on the ISA) -- never on the
 * thread count. On the Zen 4 of docs/benchmarks.md section 24 (L1d 32 KiB 8-way, L2 1 MiB,
 * L3 32 MiB) the rule gives AVX-512 KC 672, MC 232, NC 3104, and AVX2 KC 1024, MC 114, NC 2048.
 */
#ifndef PYCONV_BLOCKING_H
#define PYCONV_BLOCKING_H

#include "pyconv.h"

/*            MR   NR   MC, KC, NC on the Zen 4      reasons
 * avx512      8   32   232   672   3104   16 zmm accumulators (8 rows x 2 vectors) + 2 for B:
 *                                         twice the 8 chains two FMA pipes of latency 4 need.
 *                                         8 rows, not 12: our M are multiples of 8 and 32 --
 *                                         64 output channels (the filter gradient's rows),
 *                                         batch 32 -- which 12 leaves 11% idle (measured:
 *                                         docs/benchmarks.md, "What the profile showed").
 *                                         B micro-panel 672*32*4 = 84 KiB, a twelfth of L2
 *                                         (L1 less 2 ways would take 192); A block 232*672*4
 *                                         = 609 KiB, a sixth of L2 at 192. (A 48 KiB 12-way L1
 *                                         of a Zen 5 alone gave 320, the old hand-tuned KC.)
 * avx2        6   16   114  1024   2048   12 ymm accumulators + 2 B + 1 broadcast of 16 ymm.
 *                                         KC at the cap; B micro-panel 64 KiB in L2, A block
 *                                         456 KiB (a sixth of L2 at L1's 384). Takes a depth of 576 (conv3's 3x3x64,
 *                                         the dense layer's 576 inputs) in one block, which L1
 *                                         alone (384 here) cut in two.
 * neon       12    8   (no ARM here)      aarch64, 32 q registers of 4 floats: 24 accumulators
 *                                         (12 rows x 2 vectors) + 2 for B + 3 for A's 12 values,
 *                                         each FMA taking its A value by lane (FMLA v.4s, v.s[i]),
 *                                         so no broadcasts. 24 independent chains cover the 8-16
 *                                         that 2 (Neoverse N1) to 4 (Apple M) FMA pipes of
 *                                         latency 3-4 need. NR = 8, not 12: our N are channel
 *                                         counts, multiples of 8 (32, 64), which 12 would pad by
 *                                         a third and which the indirect-B and scattered paths
 *                                         need whole (conv2d.c). On a 64 KiB L1 (N1) KC is 1024
 *                                         (B micro-panel 32 KiB); chosen on paper.
 * generic     4    8    44  1024   2048   plain C the compiler may vectorise for SSE2:
 *                                         32 scalar accumulators stay in 8 xmm registers.
 * The depth is cut into equal blocks of at most KC (gemm.c, depth_block): conv2's 3x3x32 = 288
 * is one block at KC = 320, so each C tile is stored once (KC = 256 took two passes, 256 + 32,
 * and a second load and store of every C tile; the timing: docs/benchmarks.md). The L2 share
 * (BLOCK_L2_B_PART) makes conv3's 3x3x64 = 576 one block on every ISA of a 1 MiB L2.
 */
#define AVX512_MR 8
#define AVX512_NR 32

#define AVX2_MR 6
#define AVX2_NR 16

#define NEON_MR 12
#define NEON_NR 8

#define GENERIC_MR 4
#define GENERIC_NR 8

/* The register tile of an ISA (PYCONV_ISA_*; pyconv.h): the one table the GEMM's dispatch
 * (gemm.c, isa_table) and the block rule (config.c) read. */
static inline void isa_tile(int isa, int *mr, int *nr)
{
    switch (isa) {
    case PYCONV_ISA_AVX512: *mr = AVX512_MR, *nr = AVX512_NR; return;
    case PYCONV_ISA_AVX2: *mr = AVX2_MR, *nr = AVX2_NR; return;
    case PYCONV_ISA_NEON: *mr = NEON_MR, *nr = NEON_NR; return;
    default: *mr = GENERIC_MR, *nr = GENERIC_NR; return;
    }
}

/* The rule's fractions and bounds (config.c, pyconv_blocking_derive):
 *   BLOCK_L1_WAYS_FREE  2   L1d ways left to what streams past the B micro-panel: the A micro-
 *                           panel (MR values a step, read once) and the C tile's stores; BLIS's
 *                           model leaves A ceil((W-1)/(1+NR/MR)) ways because its kernels load
 *                           A as vectors -- ours broadcast it, a quarter of B's traffic or less.
 *                           On a 48 KiB 12-way L1 the B micro-panel gets 40 KiB: KC 320 (AVX-512).
 *   BLOCK_L2_B_PART    12   ... or, where more, the B micro-panel is a twelfth of L2 and streams
 *                           from there. The kernel reads B at 4 * VL / MR bytes per cycle of
 *                           FMAs (8 B a cycle for AVX-512's 8 x 32 at one zmm FMA a cycle), a
 *                           fraction of what any L2 feeds L1 (32-64 B a cycle), so B need not
 *                           sit in L1; a deeper block means fewer depth blocks: fewer passes
 *                           over C, fewer pointer tables and packing calls, and fewer parallel
 *                           regions where a stretch is one block. On a Zen 4 (L1d 32 KiB, where
 *                           L1 alone gave AVX-512 KC 192 and AVX2 384): the training step of the
 *                           tutorial CNN 1.07x faster on 2 threads (1.01x on one), AVX2's 1.12x,
 *                           its GEMM passes 1.00-1.47x, none slower beyond the noise
 *                           (docs/benchmarks.md section 24).
 *   BLOCK_WAYS_DEFAULT  8   the ways assumed where the system does not report them.
 *   BLOCK_L2_PART       6   the A block at L1's depth (MC x the KC of L1 alone) is a sixth of
 *                           L2, about the share the hand-tuned MC = 144 had (1 MiB L2, KC 320:
 *                           18%); the rest holds the next block being packed, the B micro-panels
 *                           and C rows streaming through, and what the kernels around the GEMM
 *                           keep there. A deeper KC from L2 keeps that MC (the tasks' size) and
 *                           so a bigger A block -- up to BLOCK_L2_A_MAX, 3/4 of L2, about BLIS's
 *                           bound: on the Zen 4, MC 232 at KC 672 (58% of L2) ran the GEMM passes
 *                           and the DNN's step 1-4% faster than the sixth of L2 at KC 672 (MC 72).
 *                           A larger MC means fewer, longer tasks for the threads at batch 32.
 *   BLOCK_L3_PART       4   the B panel, shared by all threads, in a quarter of L3.
 *   GEMM_KC_MIN/MAX 64/1024 a tiny or unreported L1 still gets depth blocks that amortise the C
 *                           tile's load and store; the cap only bounds a huge reported L1. It
 *                           was 512, which cut AVX2's 640 here: a depth of 576 (conv3, the
 *                           dense layer) then took two blocks, two parallel regions and a second
 *                           pass over C, and conv3's forward at batch 32 ran 0.83x PyTorch's speed
 *                           (1.24x in one block; docs/benchmarks.md section 15).
 *   GEMM_NC_MAX       16384 bounds the B panel on a machine reporting a huge L3.
 * KC is rounded down to a multiple of 16 (a packed A micro-panel is then whole 64-byte lines
 * for any MR), MC up to a multiple of MR, NC down to a multiple of NR. */
#define BLOCK_L1_WAYS_FREE 2
#define BLOCK_WAYS_DEFAULT 8
#define BLOCK_L2_PART 6
#define BLOCK_L2_B_PART 12
#define BLOCK_L2_A_MAX_NUM 3
#define BLOCK_L2_A_MAX_DEN 4
#define BLOCK_L3_PART 4
#define GEMM_KC_MIN 64
#define GEMM_KC_MAX 1024
#define GEMM_NC_MAX 16384

/* PYCONV_BLOCKING's bounds: wide, for experiments, but no block so large that a workspace of
 * MC x KC per thread or KC x NC could not be allocated. */
#define BLOCKING_SET_MAX_MC 8192
#define BLOCKING_SET_MAX_KC 4096
#define BLOCKING_SET_MAX_NC 65536

/* Below this many FLOPs a GEMM runs on one thread: waking a second one costs a few
 * microseconds, which is what ~1 MFLOP takes at ~200 GFLOP/s. */
#define GEMM_PAR_MIN_FLOPS 1.0e6

/* The inference path's pool (pool.c; gemm.c, gemm_stretch_pool): a GEMM from POOL_MIN_FLOPS
 * splits over helpers that are awake -- a claimed task costs an atomic, not a region, so the
 * first layer of the tutorial CNN at batch 1 (0.39 MFLOP, ~5 us) still gains -- and from
 * POOL_WAKE_FLOPS (~20 us on one core) it wakes sleeping ones, a futex call. */
#define POOL_MIN_FLOPS 2.5e5
#define POOL_WAKE_FLOPS 2.0e6

/* conv2d_forward reads its filter, and dense_forward its kernel, in place as strided panels
 * (gemm_view_b_n, when gemm_view_b_pays: the indirect-A micro-kernel loads B's rows K floats
 * apart, where a packed panel's are NR apart), nothing
 * packed at all, when NR divides K and either M <= VIEW_B_ROWS output pixels (packing the
 * whole filter for them cost a fair part of their FMAs: the tutorial CNN at batch 1, conv2
 * 29.0 -> 23.4 us and conv3 10.3 -> 7.5 us on 2 threads of the inference pool) or K <=
 * VIEW_B_COLS (rows at most 256 B apart: conv2 at batch 32, 3,872 rows, 1.04x). Past both,
 * the packed panel's unit stride wins: 16x16x256 -> 256 at batch 16 ran 0.95x in place, 9x9x512
 * -> 512 at batch 8 0.93x (a stride of 1-2 KB maps B's rows onto a few L1 sets).
 * docs/benchmarks.md 24. */
#define VIEW_B_ROWS 256
#define VIEW_B_COLS 64

/* The largest MR x NR tile of any ISA: the size of the driver's edge-tile buffer. */
#define GEMM_MAX_TILE (AVX512_MR * AVX512_NR)
/* The tallest tile of any ISA (NEON's 12 rows): the size of a scattered C's row pointers. */
#define GEMM_MAX_MR NEON_MR

#endif /* PYCONV_BLOCKING_H */
