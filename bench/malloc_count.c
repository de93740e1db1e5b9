/* malloc_count.c -- an LD_PRELOAD counter of the heap allocations made by one shared library:
 * malloc, calloc, realloc, aligned_alloc, posix_memalign and memalign calls whose caller (the
 * return address) lies in a library whose path contains $MALLOC_COUNT_LIB (default
 * "_kernels": pyconv's extension). glibc only (its __libc_* entry points). bench/allocs.py
 * builds it and reads the counts through ctypes:
 *
 *   gcc -O2 -shared -fPIC -o /tmp/malloc_count.so bench/malloc_count.c -ldl
 *   LD_PRELOAD=/tmp/malloc_count.so python -m bench.allocs
 *
 * malloc_count_read(&calls, &bytes) returns the totals so far. Measurement only: a dladdr per
 * allocation.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_llong calls, bytes;

static void count(const void *caller, size_t n)
{
    static const char *lib;
    if (!lib) {
        const char *e = getenv("MALLOC_COUNT_LIB");
        lib = e && *e ? e : "_kernels";
    }
    Dl_info info;
    if (dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, lib)) {
        atomic_fetch_add(&calls, 1);
        atomic_fetch_add(&bytes, (long long)n);
    }
}

void malloc_count_read(long long *c, long long *b)
{
    *c = atomic_load(&calls);
    *b = atomic_load(&bytes);
}

void *malloc(size_t n)
{
    count(__builtin_return_address(0), n);
    return __libc_malloc(n);
}

void *calloc(size_t m, size_t n)
{
    count(__builtin_return_address(0), m * n);
    return __libc_calloc(m, n);
}

void *realloc(void *p, size_t n)
{
    count(__builtin_return_address(0), n);
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    count(__builtin_return_address(0), n);
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
    count(__builtin_return_address(0), n);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    count(__builtin_return_address(0), n);
    void *p = __libc_memalign(align, n);
    if (!p)
        return 12;   /* ENOMEM */
    *out = p;
    return 0;
}
