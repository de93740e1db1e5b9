/* scratch.c -- the kernels' workspaces: one stack of memory per calling thread, kept between
 * calls, so that a training step in steady state allocates nothing in C.
 *
 * Every kernel takes its workspaces (GEMM packing buffers, tap tables, per-chunk partial sums)
 * with pyconv_scratch_alloc and gives them back with pyconv_scratch_free, in the reverse order,
 * before it returns: a stack. Nested users work as they are written (conv2d's tap table, then
 * the GEMM's packing buffers inside it, freed first).
 *
 *   kept block   | a (conv taps) | b (GEMM floats) | c (GEMM pointers) |   free ...   |
 *                ^ base                                               ^ top          ^ size
 *
 * An allocation is carved from the calling thread's kept block at `top` (64-byte aligned: a
 * cache line, a whole AVX-512 vector); a free moves `top` back. A request that does not fit
 * gets a block of its own from malloc (a "spill", freed by its free). When the outermost free
 * of a call brings the thread's stack back to empty, the kept block grows, if the call needed
 * more, to the most the call had in use at once (its `peak`), so the next call of the same
 * sizes fits and calls malloc not at all. Sizes only ever grow the block, never shrink it; a
 * peak above SCRATCH_KEEP_MAX is not kept (its spills come and go with the call), so that one
 * huge call does not pin its memory for the rest of the process.
 *
 * Threads. "State of one call lives in that call": each thread has its own stack (a pthread
 * key whose destructor frees it when the thread ends: a Python thread that ends leaks nothing),
 * so two threads may run kernels of the same model at once. An OpenMP worker that runs a kernel
 * inside a parallel region (conv2d_backward_input's image groups, conv2d_backward_filter's
 * chunks each run a one-thread GEMM) uses its own stack the same way; libgomp keeps its workers,
 * so their blocks are kept too.
 *
 * Where there are no POSIX threads (Windows), and in sanitizer builds (PYCONV_SCRATCH_MALLOC,
 * which CMakeLists.txt defines with PYCONV_SANITIZE, so that AddressSanitizer sees each
 * workspace as an allocation of its own and catches an overrun of any one), every allocation
 * is a plain 64-byte aligned malloc and every free a free.
 *
 * Contents are never zeroed: every kernel writes a workspace before it reads it. Nothing here
 * prints or aborts; a failed allocation returns NULL (the kernel returns PYCONV_ENOMEM).
 */
#include "target.h"
#include "pyconv.h"

#if (defined(__unix__) || defined(__APPLE__)) && !defined(PYCONV_SCRATCH_MALLOC)
#define PYCONV_ARENA 1
#endif

/* The largest block a thread keeps between calls. A training step of issue 12's layers keeps
 * 0.75 MB at batch 32 and 2.4 MB at batch 256 (docs/benchmarks.md 19): 64 MiB leaves room for
 * far bigger layers, and bounds what one thread holds after a rare huge call. */
#define SCRATCH_KEEP_MAX ((size_t)64 << 20)
#define SCRATCH_ALIGN 64

// n bytes rounded up to whole cache lines, at least one (a zero-size workspace is not NULL).
static size_t lines(size_t n) { return n ? (n + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN : SCRATCH_ALIGN; }

#ifdef PYCONV_ARENA
#include <pthread.h>
#include <stdatomic.h>

typedef struct {
    char *base;       // the kept block (NULL before the first call ends)
    size_t size;      // its bytes
    size_t top;       // bytes of it in use
    size_t spilled;   // bytes in use in spills
    size_t peak;      // the most of top + spilled since the stack was last empty
    int64_t depth;    // allocations not yet freed
} arena;

static _Thread_local arena *mine;
static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int key_made;
static atomic_llong blocks_made, arenas_alive;   // pyconv_scratch_stats

static void arena_destroy(void *p)
{
    arena *a = p;
    pyconv_aligned_free(a->base);
    free(a);
    atomic_fetch_sub(&arenas_alive, 1);
}

static void make_key(void) { key_made = pthread_key_create(&key, arena_destroy) == 0; }

// The calling thread's stack, made on its first use (NULL if it cannot be).
static arena *this_arena(void)
{
    if (mine)
        return mine;
    pthread_once(&once, make_key);
    arena *a = calloc(1, sizeof *a);
    if (!a || !key_made || pthread_setspecific(key, a) != 0) {
        free(a);
        return NULL;
    }
    atomic_fetch_add(&arenas_alive, 1);
    return mine = a;
}

void *pyconv_scratch_alloc(size_t bytes)
{
    arena *a = this_arena();
    if (!a || bytes > SIZE_MAX / 2)
        return NULL;
    const size_t n = lines(bytes);
    char *p;
    if (a->size - a->top >= n) {   // carved from the kept block
        p = a->base + a->top;
        a->top += n;
    } else {   // a spill: a block of its own, its size in the line before it
        char *s = pyconv_aligned_alloc(n + SCRATCH_ALIGN);
        if (!s)
            return NULL;
        atomic_fetch_add(&blocks_made, 1);
        *(size_t *)s = n;
        p = s + SCRATCH_ALIGN;
        a->spilled += n;
    }
    a->depth++;
    if (a->top + a->spilled > a->peak)
        a->peak = a->top + a->spilled;
    return p;
}

void pyconv_scratch_free(void *p)
{
    arena *a = mine;
    if (!p || !a)
        return;
    char *c = p;
    if (a->base && c >= a->base && c < a->base + a->size) {
        a->top = (size_t)(c - a->base);   // the last allocation (the stack rule): it and above
    } else {
        char *s = c - SCRATCH_ALIGN;
        a->spilled -= *(size_t *)s;
        pyconv_aligned_free(s);
    }
    if (--a->depth > 0)
        return;
    /* The stack is empty: keep one block of the call's peak, if it outgrew the kept one. */
    a->top = a->spilled = 0;
    if (a->peak > a->size && a->peak <= SCRATCH_KEEP_MAX) {
        pyconv_aligned_free(a->base);
        a->base = pyconv_aligned_alloc(a->peak);
        a->size = a->base ? a->peak : 0;
        if (a->base)
            atomic_fetch_add(&blocks_made, 1);
    }
    a->peak = 0;
}

void pyconv_scratch_stats(pyconv_scratch_info *info)
{
    const arena *a = mine;
    *info = (pyconv_scratch_info){.arena = 1, .blocks = atomic_load(&blocks_made),
                                  .arenas = atomic_load(&arenas_alive),
                                  .kept = a ? (int64_t)a->size : 0, .depth = a ? a->depth : 0,
                                  .keep_max = (int64_t)SCRATCH_KEEP_MAX};
}

#else   // no arena: a malloc per workspace

void *pyconv_scratch_alloc(size_t bytes)
{
    return bytes > SIZE_MAX / 2 ? NULL : pyconv_aligned_alloc(lines(bytes));
}

void pyconv_scratch_free(void *p) { pyconv_aligned_free(p); }

void pyconv_scratch_stats(pyconv_scratch_info *info)
{
    *info = (pyconv_scratch_info){.arena = 0, .keep_max = (int64_t)SCRATCH_KEEP_MAX};
}

#endif
