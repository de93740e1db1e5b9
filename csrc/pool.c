/* pool.c -- pyconv's own helper threads for the inference path: a job of n independent tasks
 * run by the caller and up to width - 1 helpers, which spin for a bounded time after a job.
 *
 * Why not OpenMP's threads. Inference runs its kernels back to back for tens to hundreds of
 * microseconds a call, often after an idle pause (a server, the bench's blocks). libgomp's
 * workers, after pyconv's short GOMP_SPINCOUNT (kept short for training on a busy machine:
 * README), sleep in a futex; waking one costs 20-120 us on a virtual machine, and the woken
 * thread may land on the caller's core, where the region's barrier then waits for it: the
 * tutorial DNN at batch 256 took 1.5-2 ms on OpenMP's 2 threads after a pause against 0.29-0.58
 * on one (docs/benchmarks.md 10.2). Here:
 *   - the caller never waits for a helper that has not started: tasks are claimed one at a
 *     time from a shared counter, so a helper that wakes late finds none left (the caller has
 *     run them), and the caller waits only for tasks a helper has started;
 *   - a helper that finishes a job spins for POOL_SPIN_NS, watching for the next one, before
 *     it sleeps: kernels called back to back, and predict calls back to back, find it awake
 *     (onnxruntime's intra-op pool spins after a call the same way). The spin is bounded in
 *     time and happens only after a job: no core is burned once calls stop coming. A helper
 *     that finds itself on the caller's core stops spinning at once;
 *   - a job is posted with a wake flag: only a job long enough to pay for a futex call wakes
 *     sleeping helpers; a short one is run by whoever is awake.
 * Which thread runs a task changes no result: each task writes its own outputs (the GEMM's
 * B micro-panels, its loop-3 tasks), and its `tid` only selects a per-thread workspace.
 *
 * Only where POSIX threads exist (Linux, macOS, the BSDs); elsewhere pyconv_pool_run runs the
 * tasks on the caller. A forked child starts its own helpers (pthread_atfork). The C code never
 * prints nor aborts: a helper that cannot be created is simply not there (the caller runs
 * its tasks).
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE   /* sched_getcpu, sched_setaffinity */
#endif
#include "target.h"
#include "pyconv.h"

#if (defined(__unix__) || defined(__APPLE__)) && !defined(PYCONV_NO_POOL)
#define PYCONV_POOL 1
#endif

/* The calling thread's pool width for the kernels it calls (0 or 1: none), set by the
 * inference path around one call (pyconv/_inference.py), like the thread cap (config.c). */
#if defined(_MSC_VER) && !defined(__clang__)
static __declspec(thread) int pool_width = 0;
#else
static _Thread_local int pool_width = 0;
#endif

int pyconv_set_pool_width(int n)
{
    const int prev = pool_width;
    pool_width = n < 0 ? 0 : n > POOL_MAX_WIDTH ? POOL_MAX_WIDTH : n;
    return prev;
}

int pyconv_pool_width(void) { return pool_width; }

#ifdef PYCONV_POOL
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* The job in one 64-bit word, so that a claim is one compare-and-swap that also checks that
 * the job is still the one the claimer saw and how many tasks and threads it has:
 *   bits 63..40  generation (one per job)     bits 39..34  width - 1
 *   bits 33..17  tasks n (< 2^17)             bits 16..0   next task to claim
 * A claim succeeds only on the current job with a task left, so a helper that stalled between
 * two jobs can never run a task of the next one with the last one's function: it reads fn and
 * ctx only after its claim, when the job cannot end before its task does. */
#define T_IDX_BITS 17
#define T_N_SHIFT 17
#define T_W_SHIFT 34
#define T_GEN_SHIFT 40
#define T_MASK ((UINT64_C(1) << T_IDX_BITS) - 1)
#define T_GEN_MASK ((UINT64_C(1) << 24) - 1)

static struct {
    _Atomic uint64_t ticket;
    _Atomic int64_t done;            /* tasks of the current job finished */
    _Atomic int sleepers;            /* helpers asleep on cv (or about to be) */
    _Atomic int caller_cpu;          /* the CPU the job's caller posted it from (-1: unknown) */
    pyconv_task_fn fn;               /* the current job's; written before its ticket */
    const void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_wake_ns;           /* no wake before (the caller's, under `busy`) */
    uint64_t solo_until, solo_ns;    /* after a stall: no helpers until, and for how long */
    int helpers;                     /* started, with ids 1..helpers */
} P = {.caller_cpu = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int current_cpu(void)
{
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
}

#ifdef __linux__
static cpu_set_t allowed;   /* the process's CPUs when the helpers started */
#endif

/* Move the calling helper off CPU `cpu` (the caller's): it may then run anywhere else the
 * process may. The scheduler of a virtual machine wakes a helper on its waker's CPU even with
 * the other one idle (measured: every wake of the tutorial DNN's GEMM after a pause, other
 * load 0.00), and there it only takes turns with the caller; libgomp's OMP_PROC_BIND did the
 * same for OpenMP's threads (docs/benchmarks.md 10.2). 0 where it cannot. */
static int move_off(int cpu)
{
#ifdef __linux__
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return 0;
    cpu_set_t set = allowed;
    CPU_CLR(cpu, &set);
    return CPU_COUNT(&set) > 0 && sched_setaffinity(0, sizeof set, &set) == 0;
#else
    (void)cpu;
    return 0;
#endif
}

/* Claim the next task of job `gen` for a thread of id `id` (0: the caller): its index, or -1
 * when the job is over, has no task left, or is too narrow for `id`. */
static int64_t claim(uint64_t gen, int id)
{
    uint64_t t = atomic_load_explicit(&P.ticket, memory_order_acquire);
    for (;;) {
        const uint64_t idx = t & T_MASK, n = (t >> T_N_SHIFT) & T_MASK;
        const int width = (int)((t >> T_W_SHIFT) & 63) + 1;
        if ((t >> T_GEN_SHIFT) != gen || idx >= n || id >= width)
            return -1;
        if (atomic_compare_exchange_weak_explicit(&P.ticket, &t, t + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return (int64_t)idx;
    }
}

/* Run tasks of job `gen` until none is left to claim; how many this thread ran. */
static int64_t work(uint64_t gen, int id)
{
    int64_t ran = 0;
    /* A helper the scheduler put on the caller's core would only take turns with it: it moves
     * to another, or leaves the job to the caller. */
    const int cpu = atomic_load_explicit(&P.caller_cpu, memory_order_relaxed);
    if (id && current_cpu() == cpu) {
        if (!move_off(cpu))
            return 0;
    }
    for (int64_t k; (k = claim(gen, id)) >= 0;) {
        P.fn(P.ctx, k, id);   // stable: the job cannot end before this task is counted
        atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
        ran++;
    }
    return ran;
}

/* A helper: join each new job, then spin for POOL_SPIN_NS watching for the next (unless on
 * the caller's core), then sleep until a job wakes it. */
static void *helper_main(void *arg)
{
    const int id = (int)(intptr_t)arg;
    uint64_t seen = atomic_load_explicit(&P.ticket, memory_order_acquire) >> T_GEN_SHIFT;
    for (;;) {
        const uint64_t until = now_ns() + POOL_SPIN_NS;
        uint64_t gen = seen;
        for (unsigned spins = 1;; spins++) {
            gen = atomic_load_explicit(&P.ticket, memory_order_acquire) >> T_GEN_SHIFT;
            if (gen != seen)
                break;
            if (spins % 64 == 0) {
                const int cpu = atomic_load_explicit(&P.caller_cpu, memory_order_relaxed);
                if (now_ns() > until || (current_cpu() == cpu && !move_off(cpu)))
                    break;
            }
            CPU_RELAX();
        }
        if (gen == seen) {   // nothing came: sleep (a poster reads sleepers after its ticket)
            pthread_mutex_lock(&P.mu);
            atomic_fetch_add(&P.sleepers, 1);
            while ((gen = atomic_load(&P.ticket) >> T_GEN_SHIFT) == seen)
                pthread_cond_wait(&P.cv, &P.mu);
            atomic_fetch_sub(&P.sleepers, 1);
            pthread_mutex_unlock(&P.mu);
        }
        seen = gen;
        work(gen, id);
    }
    return NULL;
}

/* One job at a time: a second caller thread (two Python threads predicting at once) runs its
 * job alone rather than wait. */
static atomic_flag busy = ATOMIC_FLAG_INIT;

/* A forked child has none of the parent's helpers, and the mutex may have been held by one of
 * them at the fork (or `busy` by a job of another thread): it starts from a fresh state. */
static void after_fork_child(void)
{
    P.helpers = 0;
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    atomic_store(&P.sleepers, 0);
    atomic_flag_clear(&busy);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void first_use(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
#ifdef __linux__
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        CPU_ZERO(&allowed);
#endif
}

/* Start helpers up to ids 1..want (the caller holds `busy`). */
static void ensure_helpers(int want)
{
    pthread_once(&once, first_use);
    pthread_mutex_lock(&P.mu);
    while (P.helpers < want) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 1 << 20);
        const int fail = pthread_create(&th, &attr, helper_main, (void *)(intptr_t)(P.helpers + 1));
        pthread_attr_destroy(&attr);
        if (fail)
            break;
        P.helpers++;
    }
    pthread_mutex_unlock(&P.mu);
}


void pyconv_pool_run(pyconv_task_fn fn, const void *ctx, int64_t n, int width, int wake)
{
    if (width > POOL_MAX_WIDTH)
        width = POOL_MAX_WIDTH;
    if (width <= 1 || n <= 1 || n > (int64_t)T_MASK || atomic_flag_test_and_set(&busy)) {
        for (int64_t k = 0; k < n; k++)
            fn(ctx, k, 0);
        return;
    }
    if (P.solo_until && now_ns() < P.solo_until) {   // after a stall: alone for a while
        atomic_flag_clear(&busy);
        for (int64_t k = 0; k < n; k++)
            fn(ctx, k, 0);
        return;
    }

    if (P.helpers < width - 1)
        ensure_helpers(width - 1);
    const uint64_t gen = ((atomic_load_explicit(&P.ticket, memory_order_relaxed) >> T_GEN_SHIFT) + 1)
                         & T_GEN_MASK;
    P.fn = fn, P.ctx = ctx;
    atomic_store_explicit(&P.done, 0, memory_order_relaxed);
    atomic_store_explicit(&P.caller_cpu, current_cpu(), memory_order_relaxed);
    // publish: fn, ctx and done are written before the ticket that lets helpers claim
    atomic_store(&P.ticket, gen << T_GEN_SHIFT
                            | (uint64_t)(width - 1) << T_W_SHIFT | (uint64_t)n << T_N_SHIFT);
    int woke = 0;
    if (wake && atomic_load(&P.sleepers) > 0 && now_ns() >= P.next_wake_ns) {
        pthread_mutex_lock(&P.mu);
        pthread_cond_broadcast(&P.cv);
        pthread_mutex_unlock(&P.mu);
        woke = 1;
    }
    const uint64_t t0 = now_ns();
    const int64_t mine = work(gen, 0);
    const uint64_t t1 = now_ns();
    // the tasks helpers hold: spin, yielding now and then to a helper that shares this core
    for (unsigned spins = 1; atomic_load_explicit(&P.done, memory_order_acquire) < n; spins++) {
        CPU_RELAX();
        if (spins % 1024 == 0)
            sched_yield();
    }
    /* A wake that brought no helper into the job (it woke on this core, or too late): none
     * for POOL_WAKE_BACKOFF_NS. On a loaded machine the woken helper shares the caller's core,
     * and each futex call and switch cost more than the job gained. */
    if (woke && mine == n)
        P.next_wake_ns = now_ns() + POOL_WAKE_BACKOFF_NS;
    /* The caller waited for the helpers' tasks longer than it would have taken to run them
     * itself: a helper lost its core to another process, or runs at a fraction of its speed
     * beside one. The machine is busy, and the caller runs its jobs alone for a while (twice as
     * long after each such job in a row, up to POOL_SOLO_MAX_NS). */
    if (mine > 0 && mine < n) {
        const uint64_t waited = now_ns() - t1, per_task = (t1 - t0) / (uint64_t)mine;
        if (waited > per_task * (uint64_t)(n - mine) + POOL_STALL_NS) {
            P.solo_ns = P.solo_ns ? (2 * P.solo_ns < POOL_SOLO_MAX_NS ? 2 * P.solo_ns : POOL_SOLO_MAX_NS)
                                  : POOL_SOLO_NS;
            P.solo_until = now_ns() + P.solo_ns;
        } else {
            P.solo_ns = 0;
        }
    }
    atomic_flag_clear(&busy);
}

#else   /* no POSIX threads: the caller runs every task */

void pyconv_pool_run(pyconv_task_fn fn, const void *ctx, int64_t n, int width, int wake)
{
    (void)width, (void)wake;
    for (int64_t k = 0; k < n; k++)
        fn(ctx, k, 0);
}

#endif
