# Wrappers of csrc/act_more.c (Keras 3's other activations) and csrc/moments.c (the backward of
# nn.moments), included into _kernels.pyx after _batchnorm.pxi (whose bn_vec checks it uses).
#
# Elementwise kernels take x of any shape; their backward takes the forward's input x (the
# `unary_grad` helper of _kernels.pyx, whose second array is then x), except exponential's and
# log_softmax's, which take its output. `ref=True` calls the *_ref loop, for the tests.

cdef extern from "pyconv.h" nogil:
    void elu_forward(float *out, const float *x, int64_t n, float alpha)
    void elu_backward(float *dx, const float *dout, const float *x, int64_t n, float alpha)
    void elu_forward_ref(float *out, const float *x, int64_t n, float alpha)
    void selu_forward(float *out, const float *x, int64_t n)
    void selu_forward_ref(float *out, const float *x, int64_t n)
    void softplus_forward_ref(float *out, const float *x, int64_t n)
    void selu_backward(float *dx, const float *dout, const float *x, int64_t n)
    void gelu_forward(float *out, const float *x, int64_t n)
    void gelu_backward(float *dx, const float *dout, const float *x, int64_t n)
    void gelu_tanh_forward(float *out, const float *x, int64_t n)
    void gelu_tanh_backward(float *dx, const float *dout, const float *x, int64_t n)
    void silu_forward(float *out, const float *x, int64_t n)
    void silu_backward(float *dx, const float *dout, const float *x, int64_t n)
    void relu_general_forward(float *out, const float *x, int64_t n, float negative_slope,
                              float max_value, float threshold)
    void relu_general_forward_ref(float *out, const float *x, int64_t n, float negative_slope,
                                  float max_value, float threshold)
    void relu_general_backward(float *dx, const float *dout, const float *x, int64_t n,
                               float negative_slope, float max_value, float threshold)
    void relu_general_backward_ref(float *dx, const float *dout, const float *x, int64_t n,
                                   float negative_slope, float max_value, float threshold)
    void softplus_forward(float *out, const float *x, int64_t n)
    void softplus_backward(float *dx, const float *dout, const float *x, int64_t n)
    void softsign_forward(float *out, const float *x, int64_t n)
    void softsign_backward(float *dx, const float *dout, const float *x, int64_t n)
    void hard_sigmoid_forward(float *out, const float *x, int64_t n)
    void hard_sigmoid_backward(float *dx, const float *dout, const float *x, int64_t n)
    void hard_silu_forward(float *out, const float *x, int64_t n)
    void hard_silu_backward(float *dx, const float *dout, const float *x, int64_t n)
    void exponential_forward(float *out, const float *x, int64_t n)
    void exponential_forward_ref(float *out, const float *x, int64_t n)
    void exponential_backward(float *dx, const float *dout, const float *out, int64_t n)
    void log_softmax_forward(float *out, const float *x, int64_t M, int64_t C)
    void log_softmax_backward(float *dx, const float *dout, const float *out, int64_t M, int64_t C)
    void prelu_forward(float *out, const float *x, const float *alpha, const int64_t *idx,
                       int64_t M, int64_t A)
    void prelu_forward_ref(float *out, const float *x, const float *alpha, const int64_t *idx,
                           int64_t M, int64_t A)
    int prelu_backward(float *dx, float *dalpha, const float *dout, const float *x,
                       const float *alpha, const int64_t *idx, int64_t M, int64_t A, int64_t P)
    int prelu_backward_ref(float *dx, float *dalpha, const float *dout, const float *x,
                           const float *alpha, const int64_t *idx, int64_t M, int64_t A, int64_t P)


def elu_fwd(cnp.ndarray x, float alpha, bint ref=False):
    cdef cnp.ndarray out = np.empty_like(x)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(x, "x")
    cdef int64_t n = x.size
    with nogil:
        if ref:
            elu_forward_ref(po, px, n, alpha)
        else:
            elu_forward(po, px, n, alpha)
    return out

def elu_bwd(cnp.ndarray dout, cnp.ndarray x, float alpha):
    check_same_shape(dout, x, "dout", "x")
    cdef cnp.ndarray dx = np.empty_like(dout)
    cdef float *pdx = fptr(dx, "dx")
    cdef const float *pg = fptr(dout, "dout")
    cdef const float *px = fptr(x, "x")
    cdef int64_t n = x.size
    with nogil:
        elu_backward(pdx, pg, px, n, alpha)
    return dx

def relu_general_fwd(cnp.ndarray x, float negative_slope, float max_value, float threshold,
                     bint ref=False):
    """Keras 3's relu(x, negative_slope, max_value, threshold); max_value=inf means None."""
    cdef cnp.ndarray out = np.empty_like(x)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(x, "x")
    cdef int64_t n = x.size
    with nogil:
        if ref:
            relu_general_forward_ref(po, px, n, negative_slope, max_value, threshold)
        else:
            relu_general_forward(po, px, n, negative_slope, max_value, threshold)
    return out

def relu_general_bwd(cnp.ndarray dout, cnp.ndarray x, float negative_slope, float max_value,
                     float threshold, bint ref=False):
    check_same_shape(dout, x, "dout", "x")
    cdef cnp.ndarray dx = np.empty_like(dout)
    cdef float *pdx = fptr(dx, "dx")
    cdef const float *pg = fptr(dout, "dout")
    cdef const float *px = fptr(x, "x")
    cdef int64_t n = x.size
    with nogil:
        if ref:
            relu_general_backward_ref(pdx, pg, px, n, negative_slope, max_value, threshold)
        else:
            relu_general_backward(pdx, pg, px, n, negative_slope, max_value, threshold)
    return dx

def selu_fwd(cnp.ndarray x, bint ref=False):
    return unary(x, selu_forward_ref if ref else selu_forward)

def selu_bwd(cnp.ndarray dout, cnp.ndarray x):
    return unary_grad(dout, x, selu_backward)

def gelu_fwd(cnp.ndarray x, bint approximate):
    return unary(x, gelu_tanh_forward if approximate else gelu_forward)

def gelu_bwd(cnp.ndarray dout, cnp.ndarray x, bint approximate):
    return unary_grad(dout, x, gelu_tanh_backward if approximate else gelu_backward)

def silu_fwd(cnp.ndarray x):
    return unary(x, silu_forward)

def silu_bwd(cnp.ndarray dout, cnp.ndarray x):
    return unary_grad(dout, x, silu_backward)

def softplus_fwd(cnp.ndarray x, bint ref=False):
    return unary(x, softplus_forward_ref if ref else softplus_forward)

def softplus_bwd(cnp.ndarray dout, cnp.ndarray x):
    return unary_grad(dout, x, softplus_backward)

def softsign_fwd(cnp.ndarray x):
    return unary(x, softsign_forward)

def softsign_bwd(cnp.ndarray dout, cnp.ndarray x):
    return unary_grad(dout, x, softsign_backward)

def hard_sigmoid_fwd(cnp.ndarray x):
    return unary(x, hard_sigmoid_forward)

def hard_sigmoid_bwd(cnp.ndarray dout, cnp.ndarray x):
    return unary_grad(dout, x, hard_sigmoid_backward)

def hard_silu_fwd(cnp.ndarray x):
    return unary(x, hard_silu_forward)

def hard_silu_bwd(cnp.ndarray dout, cnp.ndarray x):
    return unary_grad(dout, x, hard_silu_backward)

def exponential_fwd(cnp.ndarray x, bint ref=False):
    return unary(x, exponential_forward_ref if ref else exponential_forward)

def exponential_bwd(cnp.ndarray dout, cnp.ndarray out):
    return unary_grad(dout, out, exponential_backward)

ctypedef void (*rows_fn)(float *, const float *, int64_t, int64_t) noexcept nogil
ctypedef void (*rows_grad_fn)(float *, const float *, const float *, int64_t, int64_t) noexcept nogil

cdef cnp.ndarray rows(cnp.ndarray x, rows_fn f):
    """out = f(x) over the last axis of x (any rank >= 1), seen as (M, C)."""
    cdef cnp.ndarray out = np.empty_like(x)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(x, "x")
    cdef int64_t C = x.shape[x.ndim - 1]
    cdef int64_t M = x.size // C if C > 0 else 0
    with nogil:
        f(po, px, M, C)
    return out

cdef cnp.ndarray rows_grad(cnp.ndarray dout, cnp.ndarray out, rows_grad_fn f):
    check_same_shape(dout, out, "dout", "out")
    cdef cnp.ndarray dx = np.empty_like(dout)
    cdef float *pdx = fptr(dx, "dx")
    cdef const float *pg = fptr(dout, "dout")
    cdef const float *py = fptr(out, "out")
    cdef int64_t C = out.shape[out.ndim - 1]
    cdef int64_t M = out.size // C if C > 0 else 0
    with nogil:
        f(pdx, pg, py, M, C)
    return dx

def log_softmax_fwd(cnp.ndarray x):
    return rows(x, log_softmax_forward)

def log_softmax_bwd(cnp.ndarray dout, cnp.ndarray out):
    return rows_grad(dout, out, log_softmax_backward)


cdef const int64_t *prelu_idx(object idx, int64_t A, int64_t P) except? NULL:
    """The pointer of the (A,) int64 alpha index, or NULL for None (alpha has A elements)."""
    if idx is None:
        if P != A:
            raise ValueError(f"`alpha` must have one value per position ({A}) when no index is "
                             f"given. Received: {P} values.")
        return NULL
    if (not isinstance(idx, np.ndarray) or idx.dtype != np.int64 or idx.shape != (A,)
            or not idx.flags.c_contiguous):
        raise ValueError(f"`idx` must be a C-contiguous int64 array of shape ({A},).")
    if A and (idx.min() < 0 or idx.max() >= P):
        raise ValueError(f"`idx` must be in [0, {P}).")
    return <const int64_t *>cnp.PyArray_DATA(idx)

def prelu_fwd(cnp.ndarray x, cnp.ndarray alpha, idx=None, bint ref=False):
    """x (M, ...) seen as (M, A); alpha (any shape, P values); idx (A,) int64 or None."""
    if x.ndim < 1:
        raise ValueError(f"`x` must have a batch axis. Received: x.shape={np.shape(x)}.")
    cdef int64_t M = x.shape[0]
    cdef int64_t A = x.size // M if M > 0 else int(np.prod(np.shape(x)[1:]))
    cdef const float *pa = fptr(alpha, "alpha")
    cdef const int64_t *pi = prelu_idx(idx, A, alpha.size)
    cdef cnp.ndarray out = np.empty_like(x)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(x, "x")
    with nogil:
        if ref:
            prelu_forward_ref(po, px, pa, pi, M, A)
        else:
            prelu_forward(po, px, pa, pi, M, A)
    return out

def prelu_bwd(cnp.ndarray dout, cnp.ndarray x, cnp.ndarray alpha, idx=None, bint need_dx=True,
              bint ref=False):
    """(dx or None, dalpha shaped like alpha)."""
    check_same_shape(dout, x, "dout", "x")
    if x.ndim < 1:
        raise ValueError(f"`x` must have a batch axis. Received: x.shape={np.shape(x)}.")
    cdef int64_t M = x.shape[0]
    cdef int64_t A = x.size // M if M > 0 else int(np.prod(np.shape(x)[1:]))
    cdef int64_t P = alpha.size
    cdef const float *pa = fptr(alpha, "alpha")
    cdef const int64_t *pi = prelu_idx(idx, A, P)
    cdef cnp.ndarray dx = np.empty_like(dout) if need_dx else None
    cdef cnp.ndarray dalpha = np.empty_like(alpha)
    cdef float *pdx = fptr(dx, "dx") if need_dx else NULL
    cdef float *pda = fptr(dalpha, "dalpha")
    cdef const float *pg = fptr(dout, "dout")
    cdef const float *px = fptr(x, "x")
    cdef int status
    with nogil:
        if ref:
            status = prelu_backward_ref(pdx, pda, pg, px, pa, pi, M, A, P)
        else:
            status = prelu_backward(pdx, pda, pg, px, pa, pi, M, A, P)
    check_status(status)
    return dx, dalpha


cdef extern from "pyconv.h" nogil:
    void moments_backward(float *dx, const float *dmean, const float *dvar, const float *x,
                          const float *mean, int64_t M, int64_t C)

def moments_bwd(dmean, dvar, cnp.ndarray x, cnp.ndarray mean):
    """dx of (mean, var) = moments over the rows of x (M, C): dmean, dvar (C,) or None."""
    cdef int64_t C = bn_channels(x, "x")
    cdef int64_t M = bn_rows(x, C)
    cdef const float *pdm = bn_vec(dmean, "dmean", C, True)
    cdef const float *pdv = bn_vec(dvar, "dvar", C, True)
    cdef const float *pm = bn_vec(mean, "mean", C)
    cdef const float *px = fptr(x, "x")
    cdef cnp.ndarray dx = np.empty_like(x)
    cdef float *pdx = fptr(dx, "dx")
    with nogil:
        moments_backward(pdx, pdm, pdv, px, pm, M, C)
    return dx
