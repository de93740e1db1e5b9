/* pyconv.h -- the C API of pyconv's kernels: every kernel the Cython boundary
 * (pyconv/_kernels.pyx) and the C test driver (tests/c/kernel_check.c) call, with its contract.
 * The other headers of csrc/ are internal to the kernel files: the GEMM engine (gemm.h; the
 * boundary reads only its tile sizes, gemm_mr and gemm_nr), the per-ISA builds of a kernel's
 * loops (<name>_loops.h, e.g. maxpool2d_backward_avx2: the same loops compiled with one ISA's
 * flags, called only by the .c file that dispatches), the convolution geometry
 * (conv2d_geometry.h) and what differs between build targets (target.h).
 *
 * Layout rules (fixed for every kernel):
 *   tensors  NHWC float32, C-contiguous: inp (N,H,W,C), out (N,P,Q,K)
 *   filters  HWIO: filt (R,S,C,K)
 *   dense    x (N,C), weights (C,K), out (N,K): a 1x1 convolution of N pixels
 *
 * Size names, fixed once and never reused for something else:
 *   N batch   H,W input height/width   C input channels
 *   K output channels   R,S filter (or pool window) height/width   P,Q output height/width
 *   stride_h/stride_w, dil_h/dil_w, pad_top/pad_left (padding before the first row/column;
 *   padding after is implied by P and Q).
 * Loop indices take the lower-case letter of the size they run over (n < N, ..., r < R, s < S),
 * which is why the kernels here name their shape argument `sh`, never `s`.
 *
 * Argument order: outputs first, then inputs, then sizes. Backward: gradients out, then dout,
 * then the tensors saved from forward. Every kernel OVERWRITES its outputs (never accumulates).
 *
 * Return codes: every kernel that can fail returns an int status; nothing here prints, exits or
 * aborts. The Cython boundary (pyconv/_kernels.pyx) turns a status into a Python exception.
 */
#ifndef PYCONV_H
#define PYCONV_H

#include <stddef.h>
#include <stdint.h>

enum {
    PYCONV_OK = 0,
    PYCONV_ENOMEM = 1,   /* a workspace allocation failed */
    PYCONV_EINVAL = 2,   /* sizes the kernel cannot take (caught in Python first) */
    PYCONV_EISA = 3,     /* the requested ISA is not supported by this CPU */
};

/* ---- configuration: config.c ---------------------------------------------------------- */
/* The ISAs a kernel may be built for; each value is its index in pyconv/_kernels.pyx's
 * ISA_NAMES. Which ones a build has depends on its target (x86-64: generic, avx2, avx512;
 * aarch64: generic, neon; any other: generic) and which one runs, on the CPU. */
enum { PYCONV_ISA_GENERIC = 0, PYCONV_ISA_AVX2 = 1, PYCONV_ISA_AVX512 = 2, PYCONV_ISA_NEON = 3,
       PYCONV_ISA_COUNT = 4 };

int pyconv_isa_available(int isa);      /* 1 if this build has its kernels and the CPU runs them */
int pyconv_isa_detected(void);          /* the best available ISA */
int pyconv_isa_active(void);            /* the ISA the kernels use now */
int pyconv_isa_set(int isa);            /* PYCONV_EISA unless available */
int pyconv_num_threads(void);           /* threads a kernel may use */
void pyconv_set_num_threads(int n);     /* n >= 1, checked by the caller */
int pyconv_set_thread_cap(int n);       /* the calling thread's kernels use at most n threads
                                           (0: no cap); returns the previous cap */
int pyconv_has_openmp(void);

/* ---- the inference path's helper threads: pool.c ----------------------------------------- */
/* A job: tasks 0..n-1, each run once, by the caller (tid 0) or a helper (tid 1..width-1);
 * which thread runs a task must not change its result (tid selects a workspace only). */
typedef void (*pyconv_task_fn)(const void *ctx, int64_t t, int tid);
/* Run the job on the caller and up to width - 1 helpers, returning when every task is done.
 * The caller never waits for a helper that has not started (it runs the tasks left itself);
 * helpers spin POOL_SPIN_NS after a job, then sleep; `wake`: the job is long enough to wake
 * sleeping ones (a futex call). Without POSIX threads, or width <= 1, the caller runs all. */
void pyconv_pool_run(pyconv_task_fn fn, const void *ctx, int64_t n, int width, int wake);
/* The calling thread's pool width for the kernels it calls (0 or 1: no pool; at most
 * POOL_MAX_WIDTH); returns the previous one. Only the GEMM uses it, when it runs on one
 * thread otherwise (gemm.c). Per thread, like the thread cap. */
int pyconv_set_pool_width(int n);
int pyconv_pool_width(void);
#define POOL_MAX_WIDTH 64
/* How long a helper spins after a job before it sleeps: kernels and predict calls that come
 * back to back (gaps of a few to tens of microseconds) find it awake; once calls stop, it
 * sleeps within this. */
#define POOL_SPIN_NS 200000
/* After a wake that brought no helper into its job, the next wake waits this long. */
#define POOL_WAKE_BACKOFF_NS 2000000
/* A caller that waited for the helpers' tasks longer than running them itself would have taken
 * (at its own mean task time), plus this, runs its jobs alone for POOL_SOLO_NS: the helpers lost
 * their core to other processes. Twice as long after each such job in a row, up to
 * POOL_SOLO_MAX_NS. 200 us, between the two kinds of late task measured on this VM (the
 * tutorial CNN's conv2 and whole batch-1 calls, ~48,000 jobs a run): quiet, a helper's tasks end
 * within 5 us of the caller's estimate in 99.9% of jobs, 5-200 us late in ~1 in 1,000 (an
 * interrupt, a VM exit), later in 1-2 of 48,000; beside a CPU hog, 66 of 35,700 are over 1 ms
 * late (the helper lost its core for a time slice), 2 at 0.2-1 ms. At 5 us, the quiet
 * machine's late tasks kept the caller alone most of the time (benchmarks.md 10.5). */
#define POOL_STALL_NS 200000
#define POOL_SOLO_NS 20000000
#define POOL_SOLO_MAX_NS 640000000

const char *pyconv_compiler(void);
/* glibc's malloc keeps memory freed at the top of its heap up to trim_bytes, and serves blocks
 * up to mmap_bytes (at most 32 MiB) from the heap instead of fresh mmaps: a training step's
 * arrays then reuse the previous step's pages instead of faulting in new zeroed ones. 1 when
 * applied, 0 elsewhere (another C library, or glibc refused a value). Process-wide. */
int pyconv_malloc_keep(int trim_bytes, int mmap_bytes);

/* ---- workspaces: scratch.c ------------------------------------------------------------- */
/* A kernel's workspace: `bytes` (0 allowed), 64-byte aligned, contents undefined; NULL when it
 * cannot be had (the kernel returns PYCONV_ENOMEM). The rule: a thread frees its workspaces in
 * the reverse order it allocated them (a stack), all of them before its kernel returns; free of
 * NULL does nothing. Served from a block the calling thread keeps between calls: a kernel
 * called again with sizes it has seen calls malloc not at all. */
void *pyconv_scratch_alloc(size_t bytes);
void pyconv_scratch_free(void *p);
typedef struct {
    int arena;          /* 1: kept blocks; 0: a malloc per workspace (no POSIX threads, or a
                           sanitizer build: PYCONV_SCRATCH_MALLOC); blocks..depth then 0 */
    int64_t blocks;     /* blocks malloc'd for workspaces so far, by all threads */
    int64_t arenas;     /* threads that have a stack now (freed when a thread ends) */
    int64_t kept;       /* bytes of the calling thread's kept block */
    int64_t depth;      /* the calling thread's workspaces not yet freed */
    int64_t keep_max;   /* the largest block a thread keeps (SCRATCH_KEEP_MAX) */
} pyconv_scratch_info;
void pyconv_scratch_stats(pyconv_scratch_info *info);

/* The data caches of the CPU the process runs on (CPU 0's; on a hybrid CPU, the first cores'),
 * read at run time: sizes in bytes, and how many logical CPUs share each. A level the system
 * does not report gets the default written beside PYCONV_CACHE_DEFAULTS in config.c, and its
 * bit (1: L1d, 2: L2, 4: L3) in `defaulted`. */
typedef struct {
    int64_t size[3];      /* L1d, L2, L3 in bytes */
    int shared[3];        /* logical CPUs sharing each (0: not reported) */
    int ways[3];          /* associativity of each (0: not reported) */
    int defaulted;        /* bit i set: size[i] is the default, not the machine's */
    const char *source;   /* where the rest came from: "sysfs", "sysconf", "sysctl", "GetLogicalProcessorInformation" or "none" */
} pyconv_caches;
void pyconv_cache_info(pyconv_caches *out);

/* The GEMM's cache blocks (blocking.h has the loop nest and the rule): MC rows of A (a multiple
 * of MR) in L2, KC depth in L1, NC columns of B in L3. MC and NC only cut the work into tasks
 * (no sum changes with them); KC is where the K-sum is cut, so results depend on it -- never
 * on the thread count. */
typedef struct {
    int64_t mc, kc, nc;
} pyconv_blocking;
/* The rule: the blocks for a micro-kernel of mr x nr on caches c (pure; tested on made-up
 * caches). */
void pyconv_blocking_derive(pyconv_blocking *out, int mr, int nr, const pyconv_caches *c);
/* Derive every ISA's blocks from this CPU's caches (once; the Python module calls it at import,
 * before any kernel can run on another thread). */
void pyconv_blocking_init(void);
/* An output larger than this (the L3 cache, read by pyconv_blocking_init) cannot stay in cache
 * for the pass that reads it next: a memory-bound kernel writes it with non-temporal stores,
 * which do not read each line in before overwriting it (resample.c). */
int64_t pyconv_stream_min_bytes(void);
/* The blocks the GEMM uses with the active ISA: the derived ones (pyconv_blocking_init runs
 * first if nothing has called it: a C driver), but those pyconv_blocking_override set. */
void pyconv_blocking_active(pyconv_blocking *out);
/* Override mc, kc, nc (each 0: keep the derived value) for every ISA, or return PYCONV_EINVAL
 * and change nothing if one is negative or above BLOCKING_SET_MAX_* (blocking.h). Where they
 * are used, mc is rounded up to a multiple of the ISA's MR and nc down to one of its NR.
 * The overrides before the call go to *previous (0: none). Written from Python with the GIL
 * held (PYCONV_BLOCKING, checked there). */
int pyconv_blocking_override(int64_t mc, int64_t kc, int64_t nc, pyconv_blocking *previous);

/* ---- elementwise: act.c ------------------------------------------------------------------ */
/* Below this many elements a parallel region costs more than it saves (act.c, act_more.c). */
#define ELEMWISE_PAR_MIN 32768
/* x, out, dx, dout: n floats. out may alias x; dx may alias dout. */
void relu_forward(float *out, const float *x, int64_t n);
void relu_backward(float *dx, const float *dout, const float *out, int64_t n); /* out: forward's */
void sigmoid_forward(float *out, const float *x, int64_t n);
void sigmoid_backward(float *dx, const float *dout, const float *out, int64_t n);
void tanh_forward(float *out, const float *x, int64_t n);
void tanh_backward(float *dx, const float *dout, const float *out, int64_t n);
/* Rows of C: softmax over the last axis. x, out (M,C). The forward's exp is the polynomial
 * exp_k (exp_k.h, within 1.3 ulps); its _ref twin uses the C library's expf. */
void softmax_forward(float *out, const float *x, int64_t M, int64_t C);
void softmax_forward_ref(float *out, const float *x, int64_t M, int64_t C);
void softmax_backward(float *dx, const float *dout, const float *out, int64_t M, int64_t C);
/* Fused sparse softmax cross-entropy: loss (M) per row, dlogits (M,C) = (softmax - onehot) *
 * scale (NULL to skip; scale 1/M gives the gradient of the mean loss). labels (M) int32 in
 * [0,C). Stable: subtracts the row max.
 * PYCONV_EINVAL if a label lies outside [0,C) (its row gets a NaN loss and zero gradient). */
int softmax_xent_forward_backward(float *loss, float *dlogits, const float *logits,
                                   const int32_t *labels, int64_t M, int64_t C, float scale);

/* ---- more activations: act_more.c -------------------------------------------------------
 * Elementwise: x, out, dx, dout: n floats. Each backward takes the forward's INPUT x (except
 * exponential's and log_softmax's, which take its output). Threads over elements (rows for
 * log_softmax); the same bits for any thread count. Outputs overwritten. */
void elu_forward(float *out, const float *x, int64_t n, float alpha);  /* x > 0 ? x : alpha expm1(x) */
void elu_backward(float *dx, const float *dout, const float *x, int64_t n, float alpha);
void elu_forward_ref(float *out, const float *x, int64_t n, float alpha);
void selu_forward(float *out, const float *x, int64_t n);          /* 1.0507 elu(x, 1.6733) */
void selu_forward_ref(float *out, const float *x, int64_t n);
void selu_backward(float *dx, const float *dout, const float *x, int64_t n);
void gelu_forward(float *out, const float *x, int64_t n);          /* x Phi(x), with erfc */
void gelu_backward(float *dx, const float *dout, const float *x, int64_t n);
void gelu_tanh_forward(float *out, const float *x, int64_t n);     /* the tanh approximation */
void gelu_tanh_backward(float *dx, const float *dout, const float *x, int64_t n);
void silu_forward(float *out, const float *x, int64_t n);          /* x sigmoid(x) */
void silu_backward(float *dx, const float *dout, const float *x, int64_t n);
/* Keras 3's relu(x, negative_slope, max_value, threshold); max_value INFINITY = None. */
void relu_general_forward(float *out, const float *x, int64_t n, float negative_slope,
                          float max_value, float threshold);
void relu_general_forward_ref(float *out, const float *x, int64_t n, float negative_slope,
                              float max_value, float threshold);
void relu_general_backward(float *dx, const float *dout, const float *x, int64_t n,
                           float negative_slope, float max_value, float threshold);
void relu_general_backward_ref(float *dx, const float *dout, const float *x, int64_t n,
                               float negative_slope, float max_value, float threshold);
void softplus_forward(float *out, const float *x, int64_t n);     /* max(x,0) + log1p(exp(-|x|)) */
void softplus_forward_ref(float *out, const float *x, int64_t n);
void softplus_backward(float *dx, const float *dout, const float *x, int64_t n);
void softsign_forward(float *out, const float *x, int64_t n);
void softsign_backward(float *dx, const float *dout, const float *x, int64_t n);
void hard_sigmoid_forward(float *out, const float *x, int64_t n);  /* relu6(x + 3) / 6 */
void hard_sigmoid_backward(float *dx, const float *dout, const float *x, int64_t n);
void hard_silu_forward(float *out, const float *x, int64_t n);     /* x hard_sigmoid(x) */
void hard_silu_backward(float *dx, const float *dout, const float *x, int64_t n);
void exponential_forward(float *out, const float *x, int64_t n);
void exponential_forward_ref(float *out, const float *x, int64_t n);
void exponential_backward(float *dx, const float *dout, const float *out, int64_t n);
/* Rows of C, over the last axis: x, out (M,C); backward from the output. */
void log_softmax_forward(float *out, const float *x, int64_t M, int64_t C);
void log_softmax_backward(float *dx, const float *dout, const float *out, int64_t M, int64_t C);
/* PReLU: x, out, dx, dout (M,A); alpha (P); idx (A) in [0,P): the alpha of each position
 * (NULL: idx[a] = a and P = A). dx may be NULL (not wanted); dalpha (P) overwritten.
 * Threads over rows (forward, dx) and column blocks (dalpha's per-position sums, then added
 * in position order by one thread). prelu_backward: PYCONV_ENOMEM if its (A) workspace fails. */
void prelu_forward(float *out, const float *x, const float *alpha, const int64_t *idx,
                   int64_t M, int64_t A);
void prelu_forward_ref(float *out, const float *x, const float *alpha, const int64_t *idx,
                       int64_t M, int64_t A);
int prelu_backward(float *dx, float *dalpha, const float *dout, const float *x,
                   const float *alpha, const int64_t *idx, int64_t M, int64_t A, int64_t P);
int prelu_backward_ref(float *dx, float *dalpha, const float *dout, const float *x,
                       const float *alpha, const int64_t *idx, int64_t M, int64_t A, int64_t P);

/* ---- moments' backward: moments.c (its forward is batchnorm_stats) -------------------------
 * dx, x (M,C); dmean, dvar, mean (C), dmean or dvar NULL for zero: dx = dmean/M +
 * dvar 2 (x - mean)/M. Threads over rows; overwritten. */
void moments_backward(float *dx, const float *dmean, const float *dvar, const float *x,
                      const float *mean, int64_t M, int64_t C);
/* bias: out (M,C) = x + b (broadcast over rows); db (C) = column sums of dout, summed in
 * fixed blocks of rows (PYCONV_ENOMEM, nothing written, if the block sums cannot be allocated). */
void bias_add_forward(float *out, const float *x, const float *b, int64_t M, int64_t C);
int bias_add_backward(float *db, const float *dout, int64_t M, int64_t C);
void bias_add_backward_ref(float *db, const float *dout, int64_t M, int64_t C);

/* ---- metrics: metrics.c -------------------------------------------------------------------- */
/* p (M, C), labels (M): how many rows have argmax(p[m]) == labels[m] (NumPy's argmax: the first
 * maximum, the first NaN). Serial. Requires C >= 1. */
int64_t argmax_hits(const float *p, const int32_t *labels, int64_t M, int64_t C);

/* ---- gather: gather.c ---------------------------------------------------------------------- */
/* A batch from a dataset: out (n,row) float32 = rows idx (n) of x (N,row), float32 or (x_is_f64)
 * float64 converted. PYCONV_EINVAL, nothing written, if an index lies outside [0,N). */
int gather_rows(float *out, const void *x, int x_is_f64, const int64_t *idx, int64_t n,
                int64_t N, int64_t row);
int gather_rows_ref(float *out, const void *x, int x_is_f64, const int64_t *idx, int64_t n,
                    int64_t N, int64_t row);

/* ---- dense: dense.c (GEMM in gemm.c) ------------------------------------------------------ */
/* x (N,C), w (C,K), b (K) or NULL, out (N,K) = x.w + b, then max(.,0) if relu. Batches of
 * N <= DENSE_ROWS_MAX rows run dense_forward_rows. */
int dense_forward(float *out, const float *x, const float *w, const float *b, int relu,
                  int64_t N, int64_t C, int64_t K);
/* dense_forward on the GEMM with its form chosen by the caller: W packed (DENSE_W_PACKED), or
 * read in place through row pointers with x packed (DENSE_W_ROWS) or as strided panels
 * (DENSE_W_VIEW); in place, PYCONV_EINVAL unless K is a multiple of the micro-kernel's NR. The
 * same bits in every form, and as dense_forward's for N > DENSE_ROWS_MAX. */
enum { DENSE_W_PACKED = 0, DENSE_W_ROWS = 1, DENSE_W_VIEW = 2 };
int dense_forward_form(float *out, const float *x, const float *w, const float *b, int relu,
                       int64_t N, int64_t C, int64_t K, int form);
/* The same for a small batch, W read in place (dense_loops.h; its _ref twin: dense_forward_ref);
 * PYCONV_EINVAL, nothing written, when N > DENSE_ROWS_MAX. */
#define DENSE_ROWS_MAX 4
int dense_forward_rows(float *out, const float *x, const float *w, const float *b, int relu,
                       int64_t N, int64_t C, int64_t K);
/* dx (N,C), dw (C,K), db (K): any of them NULL to skip. dout (N,K); x, w from forward. */
int dense_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                   const float *w, int64_t N, int64_t C, int64_t K);
void dense_forward_ref(float *out, const float *x, const float *w, const float *b, int relu,
                       int64_t N, int64_t C, int64_t K);
void dense_backward_ref(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *w, int64_t N, int64_t C, int64_t K);

/* ---- convolution: conv2d.c ------------------------------------------------------------------ */
/* inp (N,H,W,C), filt (R,S,C,K), out (N,P,Q,K). Output pixel (p,q) reads input rows
 * h = p*stride_h - pad_top + r*dil_h and columns w = q*stride_w - pad_left + s*dil_w; rows
 * and columns outside [0,H) x [0,W) read zeros (padding). */
typedef struct {
    int64_t N, H, W, C;     /* input */
    int64_t K, R, S;        /* filters */
    int64_t P, Q;           /* output */
    int64_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
} conv2d_shape;

/* out = conv(inp, filt) (+ bias (K) or NULL) (then relu if relu). */
int conv2d_forward(float *out, const float *inp, const float *filt, const float *bias,
                   int relu, const conv2d_shape *sh);
/* The same with the GEMM's form chosen by the caller (conv2d_forward chooses by size): the
 * filter packed (CONV_FILT_PACKED), or read in place through row pointers with the patches
 * packed (CONV_FILT_ROWS) or as strided panels with the patches read through pointers
 * (CONV_FILT_VIEW); in place, PYCONV_EINVAL unless K is a multiple of the micro-kernel's NR.
 * All give conv2d_forward's bits. */
enum { CONV_FILT_PACKED = 0, CONV_FILT_ROWS = 1, CONV_FILT_VIEW = 2 };
int conv2d_forward_form(float *out, const float *inp, const float *filt, const float *bias,
                        int relu, const conv2d_shape *sh, int form);
/* dinp (N,H,W,C) from dout (N,P,Q,K) and filt. */
int conv2d_backward_input(float *dinp, const float *dout, const float *filt, const conv2d_shape *sh);
/* dfilt (R,S,C,K) from dout and inp; dbias (K) too unless NULL. */
int conv2d_backward_filter(float *dfilt, float *dbias, const float *dout, const float *inp,
                           const conv2d_shape *sh);
/* The transposed convolution (Conv2DTranspose) is the input gradient of the convolution s
 * describes, so its sizes keep s's names: inp (N,P,Q,K) is ITS input, out (N,H,W,C) its output,
 * filt (R,S,C,K) (Keras's (kh, kw, filters, in_channels)), bias (C) or NULL, then relu if relu.
 * Its input gradient is conv2d_forward(dinp <- dout), its filter gradient
 * conv2d_backward_filter(dfilt, NULL, inp, dout) (the roles of inp and dout swapped). */
int conv2d_transpose_forward(float *out, const float *inp, const float *filt, const float *bias,
                             int relu, const conv2d_shape *sh);
void conv2d_transpose_forward_ref(float *out, const float *inp, const float *filt, const float *bias,
                                  int relu, const conv2d_shape *sh);
void conv2d_forward_ref(float *out, const float *inp, const float *filt, const float *bias,
                        int relu, const conv2d_shape *sh);
void conv2d_backward_input_ref(float *dinp, const float *dout, const float *filt, const conv2d_shape *sh);
void conv2d_backward_filter_ref(float *dfilt, float *dbias, const float *dout, const float *inp,
                                const conv2d_shape *sh);

/* ---- depthwise and grouped convolution: depthwise.c (loops in depthwise_loops.h, one build
 * per ISA), conv2d_grouped.c ----------------------------------------------------------------
 * Depthwise: the conv2d_shape above with K = C*M output channels, M the depth multiplier:
 *   inp (N,H,W,C), filt (R,S,C,M), bias (K) or NULL, out (N,P,Q,K), output channel k = c*M + m
 *   out[n,p,q,c*M+m] = sum over (r,s) of inp[n,h,w,c] * filt[r,s,c,m]   (h, w as conv2d's)
 * (TensorFlow's depthwise_conv2d). The filter is the (R,S,1,K) HWIO filter of Conv2D with
 * groups = C: the same memory. PYCONV_EINVAL (nothing written) unless C >= 1 and C divides K.
 * Forward and backward_input bitwise the same for any thread count and on every ISA (each lane
 * adds its taps in one fixed order, no FMA contraction); backward_filter too (fixed pixel chunks,
 * combined in chunk order). PYCONV_ENOMEM if a workspace cannot be allocated. */
int depthwise_conv2d_forward(float *out, const float *inp, const float *filt, const float *bias,
                             int relu, const conv2d_shape *sh);
/* dinp (N,H,W,C) from dout (N,P,Q,K) and filt. */
int depthwise_conv2d_backward_input(float *dinp, const float *dout, const float *filt,
                                    const conv2d_shape *sh);
/* dfilt (R,S,C,M) from dout and inp; dbias (K) too unless NULL. */
int depthwise_conv2d_backward_filter(float *dfilt, float *dbias, const float *dout,
                                     const float *inp, const conv2d_shape *sh);
int depthwise_conv2d_forward_ref(float *out, const float *inp, const float *filt,
                                 const float *bias, int relu, const conv2d_shape *sh);
int depthwise_conv2d_backward_input_ref(float *dinp, const float *dout, const float *filt,
                                        const conv2d_shape *sh);
int depthwise_conv2d_backward_filter_ref(float *dfilt, float *dbias, const float *dout,
                                         const float *inp, const conv2d_shape *sh);

/* Grouped convolution (Keras's Conv2D(groups=groups)): C and K split into `groups` equal
 * groups; group g's K/groups output channels see only its C/groups input channels.
 *   inp (N,H,W,C), filt (R,S,C/groups,K), bias (K) or NULL, out (N,P,Q,K)
 * Each group runs through conv2d_forward / _backward_input / _backward_filter on contiguous
 * copies of its channel slices (so it is bitwise what conv2d gives on those slices: any thread
 * count). PYCONV_EINVAL (nothing written) unless groups >= 1 divides C and K;
 * PYCONV_ENOMEM if the slices cannot be allocated. */
int conv2d_grouped_forward(float *out, const float *inp, const float *filt, const float *bias,
                           int relu, const conv2d_shape *sh, int64_t groups);
int conv2d_grouped_backward_input(float *dinp, const float *dout, const float *filt,
                                  const conv2d_shape *sh, int64_t groups);
int conv2d_grouped_backward_filter(float *dfilt, float *dbias, const float *dout,
                                   const float *inp, const conv2d_shape *sh, int64_t groups);
int conv2d_grouped_forward_ref(float *out, const float *inp, const float *filt, const float *bias,
                               int relu, const conv2d_shape *sh, int64_t groups);
int conv2d_grouped_backward_input_ref(float *dinp, const float *dout, const float *filt,
                                      const conv2d_shape *sh, int64_t groups);
int conv2d_grouped_backward_filter_ref(float *dfilt, float *dbias, const float *dout,
                                       const float *inp, const conv2d_shape *sh, int64_t groups);

/* The GEMM on plain row-major matrices, exposed for tests and benchmarks, in its three steps
 * (gemm.c): c (M,N) = a (M,K) . b (K,N), overwritten. sgemm: the fast driver, threaded;
 * sgemm_blocked: the spine, the same loop nest on one thread, bitwise sgemm's result;
 * sgemm_ref: the triple loop, summed in double. PYCONV_ENOMEM if a workspace fails. */
int sgemm(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K);
int sgemm_blocked(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K);
void sgemm_ref(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K);

/* ---- pooling: pool2d.c ------------------------------------------------------------------ */
/* Max and average pooling over an R x S window: inp (N,H,W,C) -> out (N,P,Q,C). Output pixel
 * (p,q) covers input rows h = p*stride_h - pad_top + r (0 <= r < R) and columns
 * w = q*stride_w - pad_left + s (0 <= s < S), clipped to [0,H) x [0,W): padding is never
 * read (max: -inf that never wins; average: not counted, as in TensorFlow). P, Q and the
 * padding are computed by the caller (pyconv/_nn_pool.py), which also applies the SAME rule.
 * Max (forward and backward) takes the FIRST maximum in row-major (r,s) order: ties send the
 * gradient to the top-left-most maximum. Backward kernels take the forward's INPUT.
 * All return PYCONV_OK, or PYCONV_EINVAL if pool2d_check refuses the sizes (nothing written). */
typedef struct {
    int64_t N, H, W, C;     /* input */
    int64_t P, Q;           /* output height/width */
    int64_t R, S;           /* window height/width */
    int stride_h, stride_w, pad_top, pad_left;
} pool2d_shape;

/* PYCONV_OK iff sizes >= 0, R, S, strides >= 1, pads >= 0 and every window holds at least
 * one input element (pad_top < R, (P-1)*stride_h - pad_top < H, and likewise for columns). */
int pool2d_check(const pool2d_shape *sh);
int maxpool2d_forward(float *out, const float *inp, const pool2d_shape *sh);
int maxpool2d_forward_ref(float *out, const float *inp, const pool2d_shape *sh);
/* relu_mask: the gradient of max_pool(relu(.)) with respect to relu's input (a window whose
 * max is not > 0 gets nothing). */
int maxpool2d_backward(float *dinp, const float *dout, const float *inp, int relu_mask,
                       const pool2d_shape *sh);
int maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp, int relu_mask,
                           const pool2d_shape *sh);
/* The first layer's filter (and bias) gradient when its output `out` (N,P,Q,K) is read by a max
 * pooling psh alone: from that pooling's dout (N,psh->P,psh->Q,K), without writing this layer's
 * dout -- bitwise conv2d_backward_filter(maxpool2d_backward(pool_dout, out, relu_mask, psh)).
 * PYCONV_EINVAL (nothing written) unless C < SMALL_C (the small-C loop nest), the pooling's
 * input is (N,P,Q,K) and its windows do not overlap (stride = window), and pool2d_check(psh). */
int conv2d_backward_filter_pooled(float *dfilt, float *dbias, const float *pool_dout,
                                  const float *out, const float *inp, int relu_mask,
                                  const conv2d_shape *sh, const pool2d_shape *psh);
int conv2d_backward_filter_pooled_ref(float *dfilt, float *dbias, const float *pool_dout,
                                      const float *out, const float *inp, int relu_mask,
                                      const conv2d_shape *sh, const pool2d_shape *psh);
int avgpool2d_forward(float *out, const float *inp, const pool2d_shape *sh);
int avgpool2d_forward_ref(float *out, const float *inp, const pool2d_shape *sh);
/* dinp (N,H,W,C) from dout (N,P,Q,C); the forward's input is not needed, only its shape. */
int avgpool2d_backward(float *dinp, const float *dout, const pool2d_shape *sh);
int avgpool2d_backward_ref(float *dinp, const float *dout, const pool2d_shape *sh);

/* Global pooling over all H*W pixels: inp, dinp (N,H,W,C); out, dout (N,C).
 * PYCONV_EINVAL if H < 1 or W < 1 (an empty image has no mean and no max). */
int global_avgpool2d_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C);
int global_avgpool2d_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C);
int global_avgpool2d_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W, int64_t C);
int global_avgpool2d_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W, int64_t C);
int global_maxpool2d_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C);
int global_maxpool2d_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C);
int global_maxpool2d_backward(float *dinp, const float *dout, const float *inp,
                              int64_t N, int64_t H, int64_t W, int64_t C);
int global_maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp,
                                  int64_t N, int64_t H, int64_t W, int64_t C);

/* Depth-wise (channel) max pooling: windows of D consecutive channels with stride D (no
 * padding): inp, dinp (N,H,W,C) -> out, dout (N,H,W,K), K = C/D. PYCONV_EINVAL unless
 * D >= 1 and D divides C. First maximum, as above. */
int depthwise_maxpool2d_forward(float *out, const float *inp,
                                int64_t N, int64_t H, int64_t W, int64_t C, int64_t D);
int depthwise_maxpool2d_forward_ref(float *out, const float *inp,
                                    int64_t N, int64_t H, int64_t W, int64_t C, int64_t D);
int depthwise_maxpool2d_backward(float *dinp, const float *dout, const float *inp,
                                 int64_t N, int64_t H, int64_t W, int64_t C, int64_t D);
int depthwise_maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp,
                                     int64_t N, int64_t H, int64_t W, int64_t C, int64_t D);

/* ---- optimizers: optim.c (loops in optim_loop.h, one build per ISA) ----------------------
 * One optimizer step on ONE parameter array of n floats, in place: p (the parameter), its
 * slots (Keras 3's optimizer variables of the same shape: m, v, ...) updated in place, g (the
 * gradient) read. Every kernel first applies weight decay when wd != 0 -- p -= p * wd * lr,
 * Keras 3's BaseOptimizer rule -- then the rule written beside it, in float32, in exactly that
 * order of operations, with no FMA contraction: the result is bitwise the NumPy rule of
 * pyconv/optimizers.py on every ISA and thread count. The coefficients are float32 scalars
 * computed in Python once per step (Keras computes them from `iterations`).
 * A slot that exists only for some settings (SGD's momentum, RMSprop's momentum and average,
 * Adam's vhat) is NULL otherwise, and the rule skips it. The kernels cannot fail: pointers and
 * sizes are checked by the caller (pyconv/_optim.pxi checks a whole parameter list before
 * updating any of it).
 * Each has a `_ref` twin: the plain serial loop, the specification and the tests' oracle. */

/* SGD. momentum == 0: p -= g*lr (m NULL). Else m = m*momentum - g*lr, then
 * p += m, or with nesterov p += m*momentum - g*lr. */
typedef struct { float lr, wd, momentum; int nesterov; } sgd_coefs;
void sgd_update(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c);
void sgd_update_ref(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c);

/* RMSprop. c_rho = 1 - rho (rounded once).  v = rho*v + c_rho*(g*g);
 * centered (avg not NULL): avg = rho*avg + c_rho*g, den = (v - avg*avg) + epsilon,
 * else den = v + epsilon;  inc = (lr*g) / sqrt(den);
 * mom not NULL (momentum > 0): mom = momentum*mom + inc, p -= mom;  else p -= inc. */
typedef struct { float lr, wd, rho, c_rho, momentum, epsilon; } rmsprop_coefs;
void rmsprop_update(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                    const rmsprop_coefs *c);
void rmsprop_update_ref(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                        const rmsprop_coefs *c);

/* Adam (AdamW: wd != 0). c1 = 1 - beta_1, c2 = 1 - beta_2, alpha = lr*sqrt(1 - beta_2^t)
 * / (1 - beta_1^t).  m += (g - m)*c1;  v += (g*g - v)*c2;  amsgrad (vhat not NULL):
 * vhat = max(vhat, v) (NaN wins, as NumPy's maximum), used for v;
 * p -= (m*alpha) / (sqrt(v) + epsilon). */
typedef struct { float lr, wd, alpha, c1, c2, epsilon; } adam_coefs;
void adam_update(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                 const adam_coefs *c);
void adam_update_ref(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                     const adam_coefs *c);

/* Nadam. m += (g - m)*c1;  v += (g*g - v)*c2;
 * m_hat = (u_next*m)/d_next + (c_u*g)/d_now;  v_hat = v/d_v;
 * p -= (m_hat*lr) / (sqrt(v_hat) + epsilon)
 * with Keras's u_t_1 = u_next, 1 - u_t = c_u, 1 - u_product_t_1 = d_next,
 * 1 - u_product_t = d_now, 1 - beta_2^t = d_v. */
typedef struct { float lr, wd, c1, c2, u_next, d_next, c_u, d_now, d_v, epsilon; } nadam_coefs;
void nadam_update(float *p, float *m, float *v, const float *g, int64_t n, const nadam_coefs *c);
void nadam_update_ref(float *p, float *m, float *v, const float *g, int64_t n,
                      const nadam_coefs *c);

/* Adamax. m += (g - m)*c1;  u = max(beta_2*u, |g|) (NaN wins, as NumPy's maximum);
 * p -= (lr*m) / (d*(u + epsilon)), d = 1 - beta_1^t. */
typedef struct { float lr, wd, c1, beta_2, d, epsilon; } adamax_coefs;
void adamax_update(float *p, float *m, float *u, const float *g, int64_t n,
                   const adamax_coefs *c);
void adamax_update_ref(float *p, float *m, float *u, const float *g, int64_t n,
                       const adamax_coefs *c);

/* Adagrad. acc += g*g;  p -= (lr*g) / sqrt(acc + epsilon). */
typedef struct { float lr, wd, epsilon; } adagrad_coefs;
void adagrad_update(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c);
void adagrad_update_ref(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c);

/* Adadelta. c_rho = 1 - rho.  ag = rho*ag + c_rho*(g*g);
 * d = -((sqrt(ad + epsilon)*g) / sqrt(ag + epsilon));  ad = rho*ad + c_rho*(d*d);  p += lr*d. */
typedef struct { float lr, wd, rho, c_rho, epsilon; } adadelta_coefs;
void adadelta_update(float *p, float *ag, float *ad, const float *g, int64_t n,
                     const adadelta_coefs *c);
void adadelta_update_ref(float *p, float *ag, float *ad, const float *g, int64_t n,
                         const adadelta_coefs *c);

/* Lion. c1 = 1 - beta_1, c2 = 1 - beta_2 (each rounded from float32 beta, as Keras).
 * p -= lr * sign(m*beta_1 + g*c1) (sign as NumPy's: 0 for +-0, NaN for NaN);
 * m = m*beta_2 + g*c2. */
typedef struct { float lr, wd, beta_1, c1, beta_2, c2; } lion_coefs;
void lion_update(float *p, float *m, const float *g, int64_t n, const lion_coefs *c);
void lion_update_ref(float *p, float *m, const float *g, int64_t n, const lion_coefs *c);

/* The exponential moving average of the weights (use_ema): avg = momentum*avg + c*p,
 * c = 1 - momentum (rounded once). */
void ema_update(float *avg, const float *p, int64_t n, float momentum, float c);
void ema_update_ref(float *avg, const float *p, int64_t n, float momentum, float c);

/* ---- batch normalization: batchnorm.c ---------------------------------------------------
 * Over the last axis: x, y, dy, dx (M,C), M = N*H*W rows (NHWC seen as rows of C channels);
 * mean, var, invstd, gamma, beta, scale, shift, dgamma, dbeta (C). Every output is overwritten.
 * Sums run over fixed blocks of rows combined in block order: the bits do not depend on the
 * thread count. M = 0 or C = 0: nothing to compute (the stats of no rows are NaN).
 * PYCONV_ENOMEM (nothing written) if a workspace cannot be allocated. */
/* mean and the BIASED variance (sum (x-mean)^2 / M) per channel; per-block two-pass, Chan's
 * merge: no E[x^2]-E[x]^2 cancellation. */
int batchnorm_stats(float *mean, float *var, const float *x, int64_t M, int64_t C);
int batchnorm_stats_ref(float *mean, float *var, const float *x, int64_t M, int64_t C);
/* In double, rounded once: invstd = 1/sqrt(var+eps), scale = gamma*invstd,
 * shift = beta - mean*scale. gamma/beta NULL: 1/0. invstd NULL to skip. */
void batchnorm_coefs(float *scale, float *shift, float *invstd, const float *mean, const float *var,
                     const float *gamma, const float *beta, double eps, int64_t C);
/* new = moving*momentum + batch*c (float32, c = 1 - momentum rounded by the caller; Keras 3). */
void batchnorm_moving_update(float *new_mean, float *new_var, const float *moving_mean,
                             const float *moving_var, const float *mean, const float *var,
                             float momentum, float c, int64_t C);
/* y = x*scale + shift (two roundings, no FMA), then max(.,0) if relu. y may alias x. */
int batchnorm_forward(float *y, const float *x, const float *scale, const float *shift,
                      int64_t M, int64_t C, int relu);
int batchnorm_forward_ref(float *y, const float *x, const float *scale, const float *shift,
                          int64_t M, int64_t C, int relu);
/* Training-mode backward (mean, invstd: the batch's, from forward): dbeta = sum dy,
 * dgamma = sum dy*xhat, dx = gamma*invstd*(dy - dbeta/M - xhat*dgamma/M), xhat = (x-mean)*invstd.
 * gamma NULL: 1. dx, dgamma, dbeta: any NULL to skip. relu_scale, relu_shift (C): the forward's
 * scale and shift when it applied relu; dy is then first masked where x*scale + shift is not
 * > 0 (relu_backward's bits); NULL: no relu. */
int batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                       const float *mean, const float *invstd, const float *gamma,
                       const float *relu_scale, const float *relu_shift, int64_t M, int64_t C);
int batchnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                           const float *mean, const float *invstd, const float *gamma,
                           const float *relu_scale, const float *relu_shift, int64_t M, int64_t C);

/* ---- resampling: resample.c ------------------------------------------------------------
 * inp (N,H,W,C), out (N,P,Q,C), NHWC. Forwards overwrite out; backwards overwrite dinp
 * (N,H,W,C) from dout (N,P,Q,C) with the transpose of the forward. Threads: forwards over N*P
 * output rows; resize_bilinear_backward over N images (N >= threads) or N*H input rows,
 * resize_nearest_backward over N*H input rows, affine_sample_backward over N images; every
 * one bitwise its serial _ref scatter for any thread count and ISA.
 * resize_*: TensorFlow's ResizeBilinear / ResizeNearestNeighbor with half_pixel_centers=True
 * (tf.image.resize, Keras 3's Resizing and UpSampling2D). */
int resize_bilinear_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                            int64_t C, int64_t P, int64_t Q);
int resize_bilinear_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                                int64_t C, int64_t P, int64_t Q);
int resize_bilinear_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                             int64_t C, int64_t P, int64_t Q);
int resize_bilinear_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                                 int64_t C, int64_t P, int64_t Q);
int resize_nearest_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                           int64_t C, int64_t P, int64_t Q);
int resize_nearest_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                               int64_t C, int64_t P, int64_t Q);
int resize_nearest_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                            int64_t C, int64_t P, int64_t Q);
int resize_nearest_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                                int64_t C, int64_t P, int64_t Q);
/* affine_sample_*: ImageProjectiveTransformV3 (keras.ops.image.affine_transform). transforms
 * (T,8) float32, T = N (one per image) or 1 (shared): output pixel (p,q) reads the input at
 * ((t0 q + t1 p + t2) / k, (t3 q + t4 p + t5) / k), k = t6 q + t7 p + 1, mapped by fill_mode,
 * read by interp; fill_value where TF fills. PYCONV_EINVAL for an unknown interp or mode. */
enum { PYCONV_INTERP_NEAREST = 0, PYCONV_INTERP_BILINEAR = 1 };
enum { PYCONV_FILL_REFLECT = 0, PYCONV_FILL_WRAP = 1, PYCONV_FILL_CONSTANT = 2, PYCONV_FILL_NEAREST = 3 };
int affine_sample_forward(float *out, const float *inp, const float *transforms, int64_t T,
                          int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                          int interp, int fill_mode, float fill_value);
int affine_sample_forward_ref(float *out, const float *inp, const float *transforms, int64_t T,
                              int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                              int interp, int fill_mode, float fill_value);
int affine_sample_backward(float *dinp, const float *dout, const float *transforms, int64_t T,
                           int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                           int interp, int fill_mode);
int affine_sample_backward_ref(float *dinp, const float *dout, const float *transforms, int64_t T,
                               int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                               int interp, int fill_mode);

#endif /* PYCONV_H */
