# Batch-normalization wrappers (csrc/batchnorm.c), included into _kernels.pyx.
#
# x of any rank >= 1 is seen as (M, C): C its last axis, M the product of the others. Channel
# vectors (mean, var, invstd, gamma, beta, scale, shift) are float32 of shape (C,); gamma or beta
# None means scale=False / center=False (1 / 0). Kernel-level wrappers take ref=False; ref=True
# calls the *_ref loop nest, for the tests. The layer's entry points (batchnorm_train,
# batchnorm_infer) run their kernels in one `with nogil:` block.

cdef extern from "pyconv.h" nogil:
    int batchnorm_stats(float *mean, float *var, const float *x, int64_t M, int64_t C)
    int batchnorm_stats_ref(float *mean, float *var, const float *x, int64_t M, int64_t C)
    void batchnorm_coefs(float *scale, float *shift, float *invstd, const float *mean,
                         const float *var, const float *gamma, const float *beta, double eps,
                         int64_t C)
    void batchnorm_moving_update(float *new_mean, float *new_var, const float *moving_mean,
                                 const float *moving_var, const float *mean, const float *var,
                                 float momentum, float c, int64_t C)
    int batchnorm_forward(float *y, const float *x, const float *scale, const float *shift,
                          int64_t M, int64_t C, int relu)
    int batchnorm_forward_ref(float *y, const float *x, const float *scale, const float *shift,
                              int64_t M, int64_t C, int relu)
    int batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                           const float *x, const float *mean, const float *invstd,
                           const float *gamma, const float *relu_scale, const float *relu_shift,
                           int64_t M, int64_t C)
    int batchnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *mean, const float *invstd,
                               const float *gamma, const float *relu_scale,
                               const float *relu_shift, int64_t M, int64_t C)


cdef int64_t bn_channels(cnp.ndarray x, str name) except -1:
    if x.ndim < 1:
        raise ValueError(f"`{name}` must have at least 1 axis (the channels). "
                         f"Received: {name}.shape={np.shape(x)}.")
    return x.shape[x.ndim - 1]


cdef int64_t bn_rows(cnp.ndarray x, int64_t C):
    if C > 0:
        return x.size // C
    r = 1
    for d in np.shape(x)[:-1]:
        r *= d
    return r


cdef float *bn_vec(object a, str name, int64_t C, bint optional=False) except? NULL:
    """The pointer of a float32 (C,) channel vector; NULL for None when optional."""
    if a is None:
        if optional:
            return NULL
        raise TypeError(f"`{name}` must be a float32 array of shape ({C},). Received: None.")
    if not isinstance(a, np.ndarray) or np.shape(a) != (C,):
        raise ValueError(f"`{name}` must be a float32 array of shape ({C},) (one value per channel). "
                         f"Received: {name}.shape={np.shape(a)}.")
    return fptr(a, name)


def bn_stats(cnp.ndarray x, bint ref=False):
    """(mean, biased variance) over all axes but the last, float32 (C,) each."""
    cdef int64_t C = bn_channels(x, "x")
    cdef int64_t M = bn_rows(x, C)
    cdef const float *px = fptr(x, "x")
    cdef cnp.ndarray mean = np.empty(C, np.float32), var = np.empty(C, np.float32)
    cdef float *pm = fptr(mean, "mean")
    cdef float *pv = fptr(var, "var")
    cdef int status
    with nogil:
        status = batchnorm_stats_ref(pm, pv, px, M, C) if ref else batchnorm_stats(pm, pv, px, M, C)
    check_status(status)
    return mean, var


def bn_coefs(cnp.ndarray mean, cnp.ndarray var, gamma, beta, double eps):
    """(scale, shift, invstd), float32 (C,) each, computed in double and rounded once."""
    cdef int64_t C = bn_channels(mean, "mean")
    cdef const float *pm = bn_vec(mean, "mean", C)
    cdef const float *pv = bn_vec(var, "var", C)
    cdef const float *pg = bn_vec(gamma, "gamma", C, True)
    cdef const float *pb = bn_vec(beta, "beta", C, True)
    cdef cnp.ndarray scale = np.empty(C, np.float32), shift = np.empty(C, np.float32)
    cdef cnp.ndarray invstd = np.empty(C, np.float32)
    cdef float *ps = fptr(scale, "scale")
    cdef float *pt = fptr(shift, "shift")
    cdef float *pi = fptr(invstd, "invstd")
    with nogil:
        batchnorm_coefs(ps, pt, pi, pm, pv, pg, pb, eps, C)
    return scale, shift, invstd


def bn_forward(cnp.ndarray x, cnp.ndarray scale, cnp.ndarray shift, bint relu=False, bint ref=False):
    """y = x * scale + shift (then relu), scale and shift per channel."""
    cdef int64_t C = bn_channels(x, "x")
    cdef int64_t M = bn_rows(x, C)
    cdef const float *px = fptr(x, "x")
    cdef const float *ps = bn_vec(scale, "scale", C)
    cdef const float *pt = bn_vec(shift, "shift", C)
    cdef cnp.ndarray y = np.empty_like(x)
    cdef float *py = fptr(y, "y")
    cdef int status
    with nogil:
        if ref:
            status = batchnorm_forward_ref(py, px, ps, pt, M, C, relu)
        else:
            status = batchnorm_forward(py, px, ps, pt, M, C, relu)
    check_status(status)
    return y


def bn_train(cnp.ndarray x, gamma, beta, double eps, bint relu=False, bint coefs=False):
    """Training forward: (y, mean, var, invstd) with the batch's mean and biased variance; with
    coefs=True also (scale, shift), the per-channel map y = x * scale + shift it applied (what
    bn_backward's relu_coefs takes)."""
    cdef int64_t C = bn_channels(x, "x")
    cdef int64_t M = bn_rows(x, C)
    cdef const float *px = fptr(x, "x")
    cdef const float *pg = bn_vec(gamma, "gamma", C, True)
    cdef const float *pb = bn_vec(beta, "beta", C, True)
    cdef cnp.ndarray y = np.empty_like(x)
    cdef cnp.ndarray mean = np.empty(C, np.float32), var = np.empty(C, np.float32)
    cdef cnp.ndarray invstd = np.empty(C, np.float32)
    cdef cnp.ndarray scale = np.empty(C, np.float32), shift = np.empty(C, np.float32)
    cdef float *py = fptr(y, "y")
    cdef float *pm = fptr(mean, "mean")
    cdef float *pv = fptr(var, "var")
    cdef float *pi = fptr(invstd, "invstd")
    cdef float *ps = fptr(scale, "scale")
    cdef float *pt = fptr(shift, "shift")
    cdef int status
    with nogil:
        status = batchnorm_stats(pm, pv, px, M, C)
        if status == PYCONV_OK:
            batchnorm_coefs(ps, pt, pi, pm, pv, pg, pb, eps, C)
            status = batchnorm_forward(py, px, ps, pt, M, C, relu)
    check_status(status)
    if coefs:
        return y, mean, var, invstd, scale, shift
    return y, mean, var, invstd


def bn_infer(cnp.ndarray x, mean, var, gamma, beta, double eps, bint relu=False):
    """Inference forward with given (moving) statistics: one pass over x."""
    cdef int64_t C = bn_channels(x, "x")
    cdef int64_t M = bn_rows(x, C)
    cdef const float *px = fptr(x, "x")
    cdef const float *pm = bn_vec(mean, "mean", C)
    cdef const float *pv = bn_vec(var, "var", C)
    cdef const float *pg = bn_vec(gamma, "gamma", C, True)
    cdef const float *pb = bn_vec(beta, "beta", C, True)
    cdef cnp.ndarray y = np.empty_like(x)
    cdef cnp.ndarray scale = np.empty(C, np.float32), shift = np.empty(C, np.float32)
    cdef float *py = fptr(y, "y")
    cdef float *ps = fptr(scale, "scale")
    cdef float *pt = fptr(shift, "shift")
    cdef int status
    with nogil:
        batchnorm_coefs(ps, pt, NULL, pm, pv, pg, pb, eps, C)
        status = batchnorm_forward(py, px, ps, pt, M, C, relu)
    check_status(status)
    return y


def bn_moving(moving_mean, moving_var, mean, var, double momentum):
    """The new moving statistics (new arrays): moving * momentum + batch * (1 - momentum), in
    float32 with 1 - momentum computed in double and rounded once (Keras 3's assign)."""
    cdef int64_t C = np.shape(moving_mean)[0] if np.ndim(moving_mean) == 1 else -1
    cdef const float *pmm = bn_vec(moving_mean, "moving_mean", C)
    cdef const float *pmv = bn_vec(moving_var, "moving_variance", C)
    cdef const float *pm = bn_vec(mean, "mean", C)
    cdef const float *pv = bn_vec(var, "var", C)
    cdef cnp.ndarray nm = np.empty(C, np.float32), nv = np.empty(C, np.float32)
    cdef float *pnm = fptr(nm, "new_mean")
    cdef float *pnv = fptr(nv, "new_var")
    cdef float mom = <float>momentum, c = <float>(1.0 - momentum)
    with nogil:
        batchnorm_moving_update(pnm, pnv, pmm, pmv, pm, pv, mom, c, C)
    return nm, nv


def bn_backward(cnp.ndarray dy, cnp.ndarray x, cnp.ndarray mean, cnp.ndarray invstd, gamma,
                bint need_dx=True, bint ref=False, relu_coefs=None):
    """(dx or None, dgamma, dbeta) of the training-mode forward. relu_coefs: None, or the
    forward's (scale, shift) when it applied relu (bn_train(..., relu=True, coefs=True)): dy is
    then the gradient of relu's output, masked in the same passes (bitwise relu_bwd first)."""
    check_same_shape(dy, x, "dy", "x")
    cdef int64_t C = bn_channels(x, "x")
    cdef int64_t M = bn_rows(x, C)
    cdef const float *pdy = fptr(dy, "dy")
    cdef const float *px = fptr(x, "x")
    cdef const float *pm = bn_vec(mean, "mean", C)
    cdef const float *pi = bn_vec(invstd, "invstd", C)
    cdef const float *pg = bn_vec(gamma, "gamma", C, True)
    cdef const float *prs = NULL
    cdef const float *prt = NULL
    if relu_coefs is not None:
        prs = bn_vec(relu_coefs[0], "relu_coefs[0] (scale)", C)
        prt = bn_vec(relu_coefs[1], "relu_coefs[1] (shift)", C)
    cdef cnp.ndarray dx = np.empty_like(x) if need_dx else None
    cdef cnp.ndarray dgamma = np.empty(C, np.float32), dbeta = np.empty(C, np.float32)
    cdef float *pdx = fptr(dx, "dx") if need_dx else NULL
    cdef float *pdg = fptr(dgamma, "dgamma")
    cdef float *pdb = fptr(dbeta, "dbeta")
    cdef int status
    with nogil:
        if ref:
            status = batchnorm_backward_ref(pdx, pdg, pdb, pdy, px, pm, pi, pg, prs, prt, M, C)
        else:
            status = batchnorm_backward(pdx, pdg, pdb, pdy, px, pm, pi, pg, prs, prt, M, C)
    check_status(status)
    return dx, dgamma, dbeta
