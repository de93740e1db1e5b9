/* config.c -- run-time configuration shared by every kernel: which SIMD kernels run (detected
 * from the CPU among those this build has, or forced), how many threads a kernel may use, and
 * what the CPU's caches are (reported by show_config()).
 * The settings are process-wide, written from Python with the GIL held. Detection asks the CPU
 * itself: __builtin_cpu_supports on GCC/Clang, CPUID and XGETBV on MSVC (the OS must also save
 * the wide registers); on aarch64 Advanced SIMD (NEON) is part of the base ISA. */
#include <stdio.h>
#include <string.h>
#include "target.h"
#include "blocking.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(_MSC_VER) && (defined(PYCONV_HAVE_AVX2) || defined(PYCONV_HAVE_AVX512))
#include <intrin.h>
#endif
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#else
#include <unistd.h>
#endif

#ifndef PYCONV_COMPILER
#define PYCONV_COMPILER "unknown"
#endif

static int isa_active = -1;   /* -1: not chosen yet, take the detected one */
static int num_threads = 0;   /* 0: not set yet, take OpenMP's default */
/* The one setting that is not process-wide: a cap on the threads of the kernels this thread
 * calls (0: none). The batch-parallel inference (pyconv/_inference.py) runs a chunk of the
 * batch per thread, each chunk's kernels on that thread alone. */
#if defined(_MSC_VER) && !defined(__clang__)
static __declspec(thread) int thread_cap = 0;
#else
static _Thread_local int thread_cap = 0;
#endif

/* ---- x86-64: what the CPU and the OS support ------------------------------------------- */
#if defined(PYCONV_HAVE_AVX2) || defined(PYCONV_HAVE_AVX512)
#ifdef _MSC_VER
/* CPUID leaf 1 ECX: FMA bit 12, OSXSAVE 27, AVX 28; leaf 7 EBX: AVX2 bit 5, AVX512F 16,
 * AVX512DQ 17, AVX512VL 31. XCR0: the OS saves XMM|YMM (bits 1-2) and the AVX-512 state
 * (opmask 5, ZMM upper halves 6, ZMM16-31 7). */
static int x86_has(int isa)
{
    int r[4];
    __cpuid(r, 0);
    const int max_leaf = r[0];
    __cpuid(r, 1);
    const int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (!osxsave || !avx || max_leaf < 7)
        return 0;
    const unsigned long long xcr0 = _xgetbv(0);
    __cpuidex(r, 7, 0);
    const unsigned ebx = (unsigned)r[1];
    const int avx2 = fma && ((ebx >> 5) & 1) && (xcr0 & 0x6) == 0x6;
    if (isa == PYCONV_ISA_AVX2)
        return avx2;
    return avx2 && ((ebx >> 16) & 1) && ((ebx >> 17) & 1) && ((ebx >> 31) & 1)
           && (xcr0 & 0xe6) == 0xe6;
}
#else
/* libgcc's and compiler-rt's checks include the OS's XSAVE support. */
static int x86_has(int isa)
{
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == PYCONV_ISA_AVX2)
        return avx2;
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
           && __builtin_cpu_supports("avx512vl");
}
#endif
#endif

int pyconv_isa_available(int isa)
{
    switch (isa) {
    case PYCONV_ISA_GENERIC:
        return 1;
    PYCONV_ON_AVX2(return x86_has(PYCONV_ISA_AVX2);)
    PYCONV_ON_AVX512(return x86_has(PYCONV_ISA_AVX512);)
    PYCONV_ON_NEON(return 1;)   /* Advanced SIMD is in every aarch64 CPU */
    default:
        return 0;   /* not built for this target */
    }
}

int pyconv_isa_detected(void)
{
    /* The best first: AVX-512 implies AVX2 here (x86_has), and NEON exists alone. */
    static const int best_first[] = {PYCONV_ISA_AVX512, PYCONV_ISA_AVX2, PYCONV_ISA_NEON};
    for (size_t i = 0; i < sizeof best_first / sizeof best_first[0]; i++)
        if (pyconv_isa_available(best_first[i]))
            return best_first[i];
    return PYCONV_ISA_GENERIC;
}

int pyconv_isa_active(void)
{
    if (isa_active < 0)
        isa_active = pyconv_isa_detected();
    return isa_active;
}

int pyconv_isa_set(int isa)
{
    if (!pyconv_isa_available(isa))
        return PYCONV_EISA;
    isa_active = isa;
    return PYCONV_OK;
}

int pyconv_num_threads(void)
{
#ifdef _OPENMP
    if (num_threads < 1)
        num_threads = omp_get_max_threads();
    return thread_cap > 0 && thread_cap < num_threads ? thread_cap : num_threads;
#else
    return 1;
#endif
}

void pyconv_set_num_threads(int n)
{
    num_threads = n < 1 ? 1 : n;
}

int pyconv_set_thread_cap(int n)
{
    const int prev = thread_cap;
    thread_cap = n < 0 ? 0 : n;
    return prev;
}

int pyconv_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

const char *pyconv_compiler(void) { return PYCONV_COMPILER; }

/* Why: a step allocates its activations and gradients (MiBs each) and frees them at its end.
 * glibc returns a freed heap top above M_TRIM_THRESHOLD to the system and serves blocks above
 * M_MMAP_THRESHOLD by fresh mmaps, so the next step faults every page back in, zeroed by the
 * kernel: 12,000 minor faults a step for bench's MobileNet-style net at batch 32, half of its
 * step time on this VM (docs/benchmarks.md). Setting either also stops glibc's own adjustment
 * of the thresholds. */
int pyconv_malloc_keep(int trim_bytes, int mmap_bytes)
{
#ifdef __GLIBC__
    const int trim = mallopt(M_TRIM_THRESHOLD, trim_bytes);
    const int mmap = mallopt(M_MMAP_THRESHOLD, mmap_bytes);
    return trim == 1 && mmap == 1;
#else
    (void)trim_bytes;
    (void)mmap_bytes;
    return 0;
#endif
}

/* ---- caches ---------------------------------------------------------------------------------
 * PYCONV_CACHE_DEFAULTS: what a level gets when the system does not say -- 32 KiB L1d, 512 KiB
 * L2, 8 MiB L3: at or below the caches of x86-64 and aarch64 cores of the last decade, so that
 * anything sized from them fits. */
static const int64_t PYCONV_CACHE_DEFAULTS[3] = {32 << 10, 512 << 10, 8 << 20};

#if !defined(_WIN32) && !defined(__APPLE__)
/* The number of CPUs in a sysfs CPU list such as "0-3,8-11" or "5". */
static int cpu_list_count(const char *s)
{
    int count = 0;
    while (*s >= '0' && *s <= '9') {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        count += (int)(b - a + 1);
        s = *end == ',' ? end + 1 : end;
    }
    return count;
}

/* The first line of a sysfs file into buf ("" if it cannot be read). */
static void read_line(const char *path, char *buf, int len)
{
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (f) {
        if (!fgets(buf, len, f))
            buf[0] = '\0';
        fclose(f);
    }
}

/* Linux: /sys/devices/system/cpu/cpu0/cache/index<i>/{level,type,size,shared_cpu_list}, where
 * size reads like "48K". Returns the levels found as bits (1: L1d, 2: L2, 4: L3). */
static int caches_sysfs(pyconv_caches *c)
{
    int found = 0;
    for (int i = 0; i < 16; i++) {
        char path[96], level[16], type[32], size[32], shared[256], ways[16];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        read_line(path, level, sizeof level);
        if (!level[0])
            break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        read_line(path, type, sizeof type);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        read_line(path, size, sizeof size);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/shared_cpu_list", i);
        read_line(path, shared, sizeof shared);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/ways_of_associativity", i);
        read_line(path, ways, sizeof ways);
        const int lv = atoi(level);
        if (lv < 1 || lv > 3 || strncmp(type, "Instruction", 11) == 0)
            continue;
        char *unit;
        int64_t bytes = strtol(size, &unit, 10);
        bytes <<= *unit == 'K' ? 10 : *unit == 'M' ? 20 : *unit == 'G' ? 30 : 0;
        if (bytes <= 0)
            continue;
        c->size[lv - 1] = bytes;
        c->shared[lv - 1] = cpu_list_count(shared);
        c->ways[lv - 1] = atoi(ways);
        found |= 1 << (lv - 1);
    }
    return found;
}

/* glibc's sysconf, where sysfs is missing (some containers). It reports CPUID's figures, which
 * on some AMD parts are the whole package's L3, not the part that CPU 0 shares: second choice. */
static int caches_sysconf(pyconv_caches *c)
{
    int found = 0;
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    const long v[3] = {sysconf(_SC_LEVEL1_DCACHE_SIZE), sysconf(_SC_LEVEL2_CACHE_SIZE),
                       sysconf(_SC_LEVEL3_CACHE_SIZE)};
    const long w[3] = {sysconf(_SC_LEVEL1_DCACHE_ASSOC), sysconf(_SC_LEVEL2_CACHE_ASSOC),
                       sysconf(_SC_LEVEL3_CACHE_ASSOC)};
    for (int l = 0; l < 3; l++)
        if (v[l] > 0) {
            c->size[l] = v[l];
            c->ways[l] = w[l] > 0 ? (int)w[l] : 0;
            found |= 1 << l;
        }
#else
    (void)c;
#endif
    return found;
}
#endif

#ifdef __APPLE__
static int64_t sysctl_int(const char *name)
{
    int64_t v = 0;
    size_t len = sizeof v;
    if (sysctlbyname(name, &v, &len, NULL, 0) != 0)
        return 0;
    if (len == sizeof(int32_t)) {   /* some hw.* entries are 32-bit */
        int32_t v32;
        memcpy(&v32, &v, sizeof v32);
        return v32;
    }
    return v;
}

/* macOS: Apple Silicon describes its performance cores as hw.perflevel0.* (L2 shared by a
 * cluster: cpusperl2); Intel Macs have hw.l1dcachesize, hw.l2cachesize, hw.l3cachesize. */
static int caches_sysctl(pyconv_caches *c)
{
    static const char *const names[2][3] = {
        {"hw.perflevel0.l1dcachesize", "hw.perflevel0.l2cachesize", "hw.perflevel0.l3cachesize"},
        {"hw.l1dcachesize", "hw.l2cachesize", "hw.l3cachesize"}};
    static const char *const shared[3] = {NULL, "hw.perflevel0.cpusperl2", "hw.perflevel0.cpusperl3"};
    int found = 0;
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < 2 && !(found & (1 << l)); k++) {
            const int64_t v = sysctl_int(names[k][l]);
            if (v > 0) {
                c->size[l] = v;
                c->shared[l] = k == 0 && shared[l] ? (int)sysctl_int(shared[l]) : 0;
                found |= 1 << l;
            }
        }
    return found;
}
#endif

#ifdef _WIN32
/* Windows: the caches whose processor mask holds CPU 0. The first call asks for the size. */
static int caches_windows(pyconv_caches *c)
{
    DWORD len = 0;
    int found = 0;
    GetLogicalProcessorInformation(NULL, &len);
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION *info = len ? malloc(len) : NULL;
    if (!info || !GetLogicalProcessorInformation(info, &len)) {
        free(info);
        return 0;
    }
    for (DWORD i = 0; i < len / sizeof info[0]; i++) {
        const CACHE_DESCRIPTOR *d = &info[i].Cache;
        if (info[i].Relationship != RelationCache || !(info[i].ProcessorMask & 1)
            || d->Level < 1 || d->Level > 3 || d->Type == CacheInstruction)
            continue;
        int cpus = 0;
        for (ULONG_PTR m = info[i].ProcessorMask; m; m &= m - 1)
            cpus++;
        c->size[d->Level - 1] = d->Size;
        c->shared[d->Level - 1] = cpus;
        c->ways[d->Level - 1] = d->Associativity == CACHE_FULLY_ASSOCIATIVE ? 0 : d->Associativity;
        found |= 1 << (d->Level - 1);
    }
    free(info);
    return found;
}
#endif

void pyconv_cache_info(pyconv_caches *out)
{
    pyconv_caches c = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, 0, "none"};
    int found = 0;
#if defined(_WIN32)
    if ((found = caches_windows(&c)))
        c.source = "GetLogicalProcessorInformation";
#elif defined(__APPLE__)
    if ((found = caches_sysctl(&c)))
        c.source = "sysctl";
#else
    if ((found = caches_sysfs(&c)))
        c.source = "sysfs";
    else if ((found = caches_sysconf(&c)))
        c.source = "sysconf";
#endif
    for (int l = 0; l < 3; l++)
        if (!(found & (1 << l))) {
            c.size[l] = PYCONV_CACHE_DEFAULTS[l];
            c.shared[l] = 0;
            c.ways[l] = 0;
            c.defaulted |= 1 << l;
        }
    *out = c;
}

/* ---- cache blocks of the GEMM ---------------------------------------------------------------
 * The rule (blocking.h's table gives the reasons, docs/kernels.md the figures per machine),
 * with S = 4 bytes a float and W a cache's ways (BLOCK_WAYS_DEFAULT where it is not reported):
 *   KC: the B micro-panel (KC x NR) fills L1d but for BLOCK_L1_WAYS_FREE ways, or
 *       1 / BLOCK_L2_B_PART of L2 where that is more, rounded down to a multiple of 16 and
 *       clamped to [GEMM_KC_MIN, GEMM_KC_MAX];
 *   MC: the A block at L1's depth (MC x L1's KC) is 1 / BLOCK_L2_PART of L2, and at the KC in
 *       use at most BLOCK_L2_A_MAX of it; rounded up to a multiple of MR;
 *   NC: the B panel (KC x NC) is 1 / BLOCK_L3_PART of L3, rounded down to a multiple of NR
 *       and clamped to [NR, GEMM_NC_MAX]. */
static int64_t round_down(int64_t v, int64_t m) { return v / m * m; }
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

void pyconv_blocking_derive(pyconv_blocking *out, int mr, int nr, const pyconv_caches *c)
{
    const int w1 = c->ways[0] > BLOCK_L1_WAYS_FREE ? c->ways[0] : BLOCK_WAYS_DEFAULT;
    const int64_t in_l1 = c->size[0] / w1 * (w1 - BLOCK_L1_WAYS_FREE);   /* bytes for KC x NR */
    const int64_t kc_l1 = clamp64(round_down(in_l1 / (nr * 4), 16), GEMM_KC_MIN, GEMM_KC_MAX);
    const int64_t kc_l2 = clamp64(round_down(c->size[1] / BLOCK_L2_B_PART / (nr * 4), 16),
                                  GEMM_KC_MIN, GEMM_KC_MAX);
    const int64_t kc = kc_l1 > kc_l2 ? kc_l1 : kc_l2;
    int64_t rows = c->size[1] / BLOCK_L2_PART / (kc_l1 * 4);
    const int64_t cap = c->size[1] / BLOCK_L2_A_MAX_DEN * BLOCK_L2_A_MAX_NUM / (kc * 4);
    rows = (rows < cap ? rows : cap) + mr - 1;
    const int64_t nc = round_down(c->size[2] / BLOCK_L3_PART / (kc * 4), nr);
    out->kc = kc;
    out->mc = rows / mr * mr > mr ? rows / mr * mr : mr;
    out->nc = clamp64(nc, nr, GEMM_NC_MAX);
}

static pyconv_blocking blocking_of_isa[PYCONV_ISA_COUNT];   /* kc 0: not derived yet */
static int64_t l3_bytes;                                     /* set with them */
static pyconv_blocking blocking_set;                        /* overrides, 0: none */

void pyconv_blocking_init(void)
{
    if (blocking_of_isa[0].kc)
        return;   /* the caches do not change while the process runs: read them once */
    pyconv_caches c;
    pyconv_cache_info(&c);
    l3_bytes = c.size[2];
    for (int isa = 0; isa < PYCONV_ISA_COUNT; isa++) {
        int mr, nr;
        isa_tile(isa, &mr, &nr);
        pyconv_blocking_derive(&blocking_of_isa[isa], mr, nr, &c);
    }
}

int64_t pyconv_stream_min_bytes(void)
{
    if (!blocking_of_isa[0].kc)
        pyconv_blocking_init();
    return l3_bytes;
}

void pyconv_blocking_active(pyconv_blocking *out)
{
    const int isa = pyconv_isa_active();
    int mr, nr;
    isa_tile(isa, &mr, &nr);
    if (!blocking_of_isa[isa].kc)
        pyconv_blocking_init();
    *out = blocking_of_isa[isa];
    if (blocking_set.kc)
        out->kc = blocking_set.kc;
    if (blocking_set.mc)
        out->mc = (blocking_set.mc + mr - 1) / mr * mr;
    if (blocking_set.nc)   /* whole NR panels: an indirect B's panels must not straddle two */
        out->nc = blocking_set.nc > nr ? blocking_set.nc / nr * nr : nr;
}

int pyconv_blocking_override(int64_t mc, int64_t kc, int64_t nc, pyconv_blocking *previous)
{
    *previous = blocking_set;
    if (mc < 0 || kc < 0 || nc < 0 || mc > BLOCKING_SET_MAX_MC || kc > BLOCKING_SET_MAX_KC
        || nc > BLOCKING_SET_MAX_NC)
        return PYCONV_EINVAL;
    blocking_set = (pyconv_blocking){mc, kc, nc};
    return PYCONV_OK;
}
