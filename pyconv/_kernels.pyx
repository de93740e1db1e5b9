# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The Cython boundary: every C kernel of csrc/ is called from here, and only from here.

Each wrapper checks what C cannot (dtype, contiguity, shapes against each other), allocates
the outputs, then releases the GIL for the C call. C returns an int status, turned here into
a Python exception. User-facing argument checking (names, tuples, strings) lives in
pyconv/_validate.py and pyconv/nn.py; by the time an array reaches this module it is meant to
be right, and these checks are the last line, not the first.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, int32_t

cnp.import_array()

cdef extern from "pyconv.h" nogil:
    enum:
        PYCONV_OK
        PYCONV_ENOMEM
        PYCONV_EINVAL
        PYCONV_EISA
        PYCONV_ISA_GENERIC
        PYCONV_ISA_AVX2
        PYCONV_ISA_AVX512
        PYCONV_ISA_NEON
        PYCONV_ISA_COUNT
    ctypedef struct pyconv_caches:
        int64_t size[3]
        int shared[3]
        int ways[3]
        int defaulted
        const char *source
    ctypedef struct pyconv_blocking:
        int64_t mc, kc, nc
    int pyconv_isa_available(int isa)
    int pyconv_isa_detected()
    int pyconv_isa_active()
    int pyconv_isa_set(int isa)
    int pyconv_num_threads()
    void pyconv_set_num_threads(int n)
    int pyconv_set_thread_cap(int n)
    int pyconv_set_pool_width(int n)
    int pyconv_has_openmp()
    const char *pyconv_compiler()
    int pyconv_malloc_keep(int trim_bytes, int mmap_bytes)
    ctypedef struct pyconv_scratch_info:
        int arena
        int64_t blocks, arenas, kept, depth, keep_max
    void pyconv_scratch_stats(pyconv_scratch_info *info)
    void pyconv_cache_info(pyconv_caches *out)
    void pyconv_blocking_derive(pyconv_blocking *out, int mr, int nr, const pyconv_caches *c)
    void pyconv_blocking_init()
    void pyconv_blocking_active(pyconv_blocking *out)
    int pyconv_blocking_override(int64_t mc, int64_t kc, int64_t nc, pyconv_blocking *previous)

cdef extern from "gemm.h" nogil:
    int gemm_mr()
    int gemm_nr()

    void relu_forward(float *out, const float *x, int64_t n)
    void relu_backward(float *dx, const float *dout, const float *out, int64_t n)
    void sigmoid_forward(float *out, const float *x, int64_t n)
    void sigmoid_backward(float *dx, const float *dout, const float *out, int64_t n)
    void tanh_forward(float *out, const float *x, int64_t n)
    void tanh_backward(float *dx, const float *dout, const float *out, int64_t n)
    void softmax_forward(float *out, const float *x, int64_t M, int64_t C)
    void softmax_forward_ref(float *out, const float *x, int64_t M, int64_t C)
    void softmax_backward(float *dx, const float *dout, const float *out, int64_t M, int64_t C)
    int softmax_xent_forward_backward(float *loss, float *dlogits, const float *logits,
                                       const int32_t *labels, int64_t M, int64_t C, float scale)
    void bias_add_forward(float *out, const float *x, const float *b, int64_t M, int64_t C)
    int bias_add_backward(float *db, const float *dout, int64_t M, int64_t C)
    int gather_rows(float *out, const void *x, int x_is_f64, const int64_t *idx, int64_t n,
                    int64_t N, int64_t row)
    int gather_rows_ref(float *out, const void *x, int x_is_f64, const int64_t *idx, int64_t n,
                        int64_t N, int64_t row)
    int64_t argmax_hits(const float *p, const int32_t *labels, int64_t M, int64_t C)

# Indexed by csrc/pyconv.h's PYCONV_ISA_* values. Which of them a build has depends on its
# target (isas_available).
ISA_NAMES = ("generic", "avx2", "avx512", "neon")
if len(ISA_NAMES) != PYCONV_ISA_COUNT:
    raise ImportError("pyconv: _kernels.pyx's ISA_NAMES does not match csrc/pyconv.h's ISAs.")


# ---- checks shared by every wrapper -------------------------------------------------------

cdef inline float *fptr(cnp.ndarray a, str name) except NULL:
    """The data pointer of a C-contiguous float32 array, or a TypeError/ValueError."""
    if cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT32 or not cnp.PyArray_ISNOTSWAPPED(a):
        raise TypeError(f"`{name}` must be a float32 array (native byte order). Received: dtype={a.dtype}.")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"`{name}` must be C-contiguous.")
    return <float *>cnp.PyArray_DATA(a)


cdef inline void check_same_shape(cnp.ndarray a, cnp.ndarray b, str na, str nb) except *:
    if not cnp.PyArray_SAMESHAPE(a, b):
        raise ValueError(f"`{na}` and `{nb}` must have the same shape. "
                         f"Received: {na}.shape={np.shape(a)}, {nb}.shape={np.shape(b)}.")


cdef inline int window_fields(object win, int64_t *f) except -1:
    """f[0..9] = the fields of `win`, a pyconv._geometry.Window (P, Q, R, S, stride_h,
    stride_w, dil_h, dil_w, pad_top, pad_left): the one form in which every windowed kernel
    takes its geometry. A ValueError if it has another length or a negative field."""
    if not isinstance(win, tuple) or len(<tuple>win) != 10:
        raise ValueError(f"`window` must be a pyconv._geometry.Window (P, Q, R, S, stride_h, stride_w, "
                         f"dil_h, dil_w, pad_top, pad_left). Received: window={win!r}.")
    cdef tuple t = <tuple>win   # a named tuple: read as the tuple it is, item by item in C
    cdef int i
    for i in range(10):
        f[i] = t[i]
        if f[i] < 0:
            raise ValueError(f"`window`'s fields must be non-negative ints. Received: window={win!r}.")
    return 0


cdef inline int check_status(int status) except -1:
    if status == PYCONV_OK:
        return 0
    if status == PYCONV_ENOMEM:
        raise MemoryError("pyconv: a kernel could not allocate its workspace.")
    if status == PYCONV_EISA:
        raise ValueError("pyconv: the requested ISA is not supported by this CPU.")
    raise ValueError(f"pyconv: a kernel refused its sizes (status {status}).")


# ---- configuration -------------------------------------------------------------------------

def isas_available():
    """The ISAs this build has and this CPU runs, generic first and the best (isa_detected) last:
    ('generic', 'avx2', 'avx512') on an AVX-512 x86-64, ('generic', 'neon') on aarch64."""
    return tuple(n for i, n in enumerate(ISA_NAMES) if pyconv_isa_available(i))

def isa_detected():
    return ISA_NAMES[pyconv_isa_detected()]

def isa_active():
    return ISA_NAMES[pyconv_isa_active()]

def set_isa(str name):
    if name not in ISA_NAMES:
        raise ValueError(f"`PYCONV_ISA` must be one of {ISA_NAMES}. Received: {name!r}.")
    if pyconv_isa_set(ISA_NAMES.index(name)) != PYCONV_OK:
        raise RuntimeError(f"PYCONV_ISA={name!r} was requested, but this CPU supports "
                           f"only up to {isa_detected()!r}: one of {isas_available()}.")

def gemm_tile():
    """(MR, NR): the register tile of the GEMM micro-kernel of the ISA in use (csrc/blocking.h)."""
    return gemm_mr(), gemm_nr()

def cache_info():
    """The CPU's data caches as the C kernels read them at run time (csrc/config.c): a dict with
    'l1d', 'l2', 'l3' -> (bytes, logical CPUs sharing it or 0 if not reported, is_default),
    'ways' -> the associativity of each (0 if not reported) and 'source' -> where the figures
    came from."""
    cdef pyconv_caches c
    pyconv_cache_info(&c)
    info = {name: (c.size[i], c.shared[i], bool(c.defaulted & (1 << i)))
            for i, name in enumerate(("l1d", "l2", "l3"))}
    info["ways"] = (c.ways[0], c.ways[1], c.ways[2])
    info["source"] = c.source.decode()
    return info

BLOCKING_SET_MAX = {"mc": 8192, "kc": 4096, "nc": 65536}   # csrc/blocking.h's BLOCKING_SET_MAX_*
pyconv_blocking_init()   # now, under the GIL: no kernel call on another thread derives them

def blocking():
    """{'mc', 'kc', 'nc'}: the GEMM's cache blocks in use with the active ISA (csrc/config.c:
    derived from the caches, or set by set_blocking)."""
    cdef pyconv_blocking b
    pyconv_blocking_active(&b)
    return {"mc": b.mc, "kc": b.kc, "nc": b.nc}

def derive_blocking(int mr, int nr, sizes, ways=(0, 0, 0)):
    """The rule alone (csrc/config.c's pyconv_blocking_derive) for a tile of mr x nr on caches
    of `sizes` bytes (L1d, L2, L3) and `ways` (0: not reported): {'mc', 'kc', 'nc'}."""
    cdef pyconv_caches c
    cdef pyconv_blocking b
    for i in range(3):
        c.size[i], c.ways[i], c.shared[i] = sizes[i], ways[i], 0
    pyconv_blocking_derive(&b, mr, nr, &c)
    return {"mc": b.mc, "kc": b.kc, "nc": b.nc}

def set_blocking(int64_t mc=0, int64_t kc=0, int64_t nc=0):
    """Override the blocks for every ISA (0: the derived value); returns the overrides it
    replaces, {'mc', 'kc', 'nc'} (0: none). pyconv checks PYCONV_BLOCKING before it calls this."""
    cdef pyconv_blocking prev
    if pyconv_blocking_override(mc, kc, nc, &prev) != PYCONV_OK:
        raise ValueError(f"Blocks out of range (each 0 or 1 to {BLOCKING_SET_MAX}). "
                         f"Received: mc={mc}, kc={kc}, nc={nc}.")
    return {"mc": prev.mc, "kc": prev.kc, "nc": prev.nc}

def num_threads():
    return pyconv_num_threads()

def set_num_threads(int n):
    pyconv_set_num_threads(n)

def set_thread_cap(int n):
    """The kernels called from this thread use at most n threads (0: no cap); returns the
    previous cap. A per-thread setting (pyconv/_inference.py)."""
    return pyconv_set_thread_cap(n)

def set_pool_width(int n):
    """The GEMMs called from this thread that would run on one thread run on up to n of pool.c's
    helper threads instead (0 or 1: none); returns the previous width. A per-thread setting
    (pyconv/_inference.py)."""
    return pyconv_set_pool_width(n)

def has_openmp():
    return bool(pyconv_has_openmp())

def compiler():
    return pyconv_compiler().decode()

def malloc_keep(int trim_bytes, int mmap_bytes):
    """csrc/config.c pyconv_malloc_keep: True when glibc took both thresholds."""
    return bool(pyconv_malloc_keep(trim_bytes, mmap_bytes))

def scratch_stats():
    """csrc/scratch.c's counters: `arena` (False: a malloc per workspace, and the rest 0),
    `blocks` malloc'd for workspaces so far by all threads, `arenas` (threads holding a stack),
    and the calling thread's `kept` bytes and `depth` (workspaces not yet freed: 0 between
    calls); `keep_max`, the largest block a thread keeps."""
    cdef pyconv_scratch_info info
    pyconv_scratch_stats(&info)
    return {"arena": bool(info.arena), "blocks": info.blocks, "arenas": info.arenas,
            "kept": info.kept, "depth": info.depth, "keep_max": info.keep_max}


# ---- elementwise ---------------------------------------------------------------------------

ctypedef void (*unary_fn)(float *, const float *, int64_t) noexcept nogil
ctypedef void (*unary_grad_fn)(float *, const float *, const float *, int64_t) noexcept nogil


cdef cnp.ndarray unary(cnp.ndarray x, unary_fn f):
    """out = f(x), elementwise, into a new array."""
    cdef cnp.ndarray out = np.empty_like(x)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(x, "x")
    cdef int64_t n = x.size
    with nogil:
        f(po, px, n)
    return out


cdef cnp.ndarray unary_grad(cnp.ndarray dout, cnp.ndarray out, unary_grad_fn f):
    """dx = f(dout, out): an activation's backward from its forward output."""
    check_same_shape(dout, out, "dout", "out")
    cdef cnp.ndarray dx = np.empty_like(dout)
    cdef float *pdx = fptr(dx, "dx")
    cdef const float *pg = fptr(dout, "dout")
    cdef const float *py = fptr(out, "out")
    cdef int64_t n = dout.size
    with nogil:
        f(pdx, pg, py, n)
    return dx


def relu_fwd(cnp.ndarray x):
    return unary(x, relu_forward)

def relu_bwd(cnp.ndarray dout, cnp.ndarray out):
    return unary_grad(dout, out, relu_backward)

def sigmoid_fwd(cnp.ndarray x):
    return unary(x, sigmoid_forward)

def sigmoid_bwd(cnp.ndarray dout, cnp.ndarray out):
    return unary_grad(dout, out, sigmoid_backward)

def tanh_fwd(cnp.ndarray x):
    return unary(x, tanh_forward)

def tanh_bwd(cnp.ndarray dout, cnp.ndarray out):
    return unary_grad(dout, out, tanh_backward)

def softmax_fwd(cnp.ndarray x, bint ref=False):
    """Softmax over the last axis of x (any rank >= 1). `ref=True`: the _ref loop (expf)."""
    cdef cnp.ndarray out = np.empty_like(x)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(x, "x")
    cdef int64_t C = x.shape[x.ndim - 1]
    cdef int64_t M = x.size // C if C > 0 else 0
    with nogil:
        if ref:
            softmax_forward_ref(po, px, M, C)
        else:
            softmax_forward(po, px, M, C)
    return out

def softmax_bwd(cnp.ndarray dout, cnp.ndarray out):
    check_same_shape(dout, out, "dout", "out")
    cdef cnp.ndarray dx = np.empty_like(dout)
    cdef float *pdx = fptr(dx, "dx")
    cdef const float *pg = fptr(dout, "dout")
    cdef const float *py = fptr(out, "out")
    cdef int64_t C = out.shape[out.ndim - 1]
    cdef int64_t M = out.size // C if C > 0 else 0
    with nogil:
        softmax_backward(pdx, pg, py, M, C)
    return dx

def softmax_xent(cnp.ndarray logits, cnp.ndarray labels, bint want_grad=True, float scale=1.0):
    """(loss (M,), dlogits (M,C) * scale or None) for logits (M,C) and int32 labels (M,) in [0,C)."""
    if logits.ndim != 2 or labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ValueError(f"`logits` must be (M, C) and `labels` (M,). Received: "
                         f"logits.shape={np.shape(logits)}, labels.shape={np.shape(labels)}.")
    if cnp.PyArray_TYPE(labels) != cnp.NPY_INT32 or not cnp.PyArray_IS_C_CONTIGUOUS(labels):
        raise TypeError(f"`labels` must be a C-contiguous int32 array. Received: dtype={labels.dtype}.")
    cdef int64_t M = logits.shape[0], C = logits.shape[1]
    if C < 1:
        raise ValueError(f"`logits` must have at least one class. Received: shape={np.shape(logits)}.")
    cdef cnp.ndarray loss = np.empty(M, np.float32)
    cdef cnp.ndarray grad = np.empty_like(logits) if want_grad else None
    cdef float *pl = fptr(loss, "loss")
    cdef float *pg = fptr(grad, "dlogits") if want_grad else NULL
    cdef const float *pz = fptr(logits, "logits")
    cdef const int32_t *py = <const int32_t *>cnp.PyArray_DATA(labels)
    cdef int status
    with nogil:
        status = softmax_xent_forward_backward(pl, pg, pz, py, M, C, scale)
    if status == PYCONV_EINVAL:
        raise ValueError(f"`labels` must be in [0, {C}) for {C} classes. Received: labels from "
                         f"{int(labels.min())} to {int(labels.max())}.")
    return loss, grad

def bias_add_fwd(cnp.ndarray x, cnp.ndarray b):
    cdef int64_t C = b.shape[0]
    if b.ndim != 1 or x.ndim < 1 or x.shape[x.ndim - 1] != C:
        raise ValueError(f"`bias` must be 1-D and match the last axis of `value`. Received: "
                         f"value.shape={np.shape(x)}, bias.shape={np.shape(b)}.")
    cdef cnp.ndarray out = np.empty_like(x)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(x, "value")
    cdef const float *pb = fptr(b, "bias")
    cdef int64_t M = x.size // C if C > 0 else 0
    with nogil:
        bias_add_forward(po, px, pb, M, C)
    return out

def bias_add_bwd(cnp.ndarray dout):
    cdef int64_t C = dout.shape[dout.ndim - 1]
    cdef cnp.ndarray db = np.empty(C, np.float32)
    cdef float *pdb = fptr(db, "db")
    cdef const float *pg = fptr(dout, "dout")
    cdef int64_t M = dout.size // C if C > 0 else 0
    cdef int status
    with nogil:
        status = bias_add_backward(pdb, pg, M, C)
    check_status(status)
    return db


def gather_rows_into(cnp.ndarray out, cnp.ndarray x, cnp.ndarray idx, bint ref=False):
    """out[i] = x[idx[i]] for a C-contiguous float32 or float64 dataset x (N, ...), int64
    indices idx (n,) in [0, N) and a float32 batch out (n, ...): fit's shuffled batches."""
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64 or not cnp.PyArray_IS_C_CONTIGUOUS(x) \
            or not cnp.PyArray_ISNOTSWAPPED(x):
        raise TypeError(f"`x` must be a C-contiguous float32 or float64 array in native byte "
                        f"order. Received: dtype={x.dtype}.")
    if cnp.PyArray_TYPE(idx) != cnp.NPY_INT64 or idx.ndim != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(idx) \
            or not cnp.PyArray_ISNOTSWAPPED(idx):
        raise TypeError(f"`idx` must be a 1-D C-contiguous int64 array. Received: dtype={idx.dtype}, "
                        f"shape={np.shape(idx)}.")
    if x.ndim < 1 or out.ndim != x.ndim or out.shape[0] != idx.shape[0] or \
            any(out.shape[d] != x.shape[d] for d in range(1, x.ndim)):
        raise ValueError(f"`out` must have shape (len(idx),) + x.shape[1:]. Received: out.shape="
                         f"{np.shape(out)}, x.shape={np.shape(x)}, {idx.shape[0]} indices.")
    cdef float *po = fptr(out, "out")
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef const int64_t *pi = <const int64_t *>cnp.PyArray_DATA(idx)
    cdef int64_t n = idx.shape[0], N = x.shape[0]
    cdef int64_t row = cnp.PyArray_SIZE(x) // N if N > 0 else 0
    cdef int status
    with nogil:
        if ref:
            status = gather_rows_ref(po, px, t == cnp.NPY_FLOAT64, pi, n, N, row)
        else:
            status = gather_rows(po, px, t == cnp.NPY_FLOAT64, pi, n, N, row)
    if status != PYCONV_OK:
        raise IndexError(f"`idx` must lie in [0, {N}). Received: indices from {int(idx.min())} to "
                         f"{int(idx.max())}.")
    return out


# ---- operator families, one .pxi each ----------------------------------------------------
include "_conv.pxi"
include "_conv_transpose.pxi"
include "_pool.pxi"
include "_optim.pxi"
include "_batchnorm.pxi"
include "_depthwise.pxi"
include "_act.pxi"
include "_resample.pxi"


def argmax_hits_count(cnp.ndarray p, cnp.ndarray labels):
    """How many rows of scores p (M, C) have argmax == labels (M,) (int32), or None when the
    arrays are not of that form (the caller then counts with NumPy). NumPy's argmax: the first
    maximum, the first NaN."""
    if p.ndim != 2 or labels.ndim != 1 or labels.shape[0] != p.shape[0] or p.shape[1] < 1 \
            or cnp.PyArray_TYPE(p) != cnp.NPY_FLOAT32 or cnp.PyArray_TYPE(labels) != cnp.NPY_INT32 \
            or not cnp.PyArray_IS_C_CONTIGUOUS(p) or not cnp.PyArray_IS_C_CONTIGUOUS(labels) \
            or not cnp.PyArray_ISNOTSWAPPED(p) or not cnp.PyArray_ISNOTSWAPPED(labels):
        return None
    cdef const float *pp = <const float *>cnp.PyArray_DATA(p)
    cdef const int32_t *pl = <const int32_t *>cnp.PyArray_DATA(labels)
    cdef int64_t M = p.shape[0], C = p.shape[1], hits
    with nogil:
        hits = argmax_hits(pp, pl, M, C)
    return hits
