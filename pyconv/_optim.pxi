# Included from _kernels.pyx: the optimizer steps of csrc/optim.c.
#
# Each `<rule>_step_list` updates a whole parameter list in one call from Python: it checks
# every parameter, gradient and slot first (all or nothing), then runs the C loop on each
# array with the GIL released. A parameter whose gradient is None is skipped, as in
# Optimizer.apply. The coefficients are float32 scalars computed by pyconv/optimizers.py; the
# rules are written out in csrc/pyconv.h. `ref=True` runs the serial `_ref` twins.

cdef extern from "pyconv.h" nogil:
    ctypedef struct sgd_coefs:
        float lr, wd, momentum
        int nesterov
    ctypedef struct rmsprop_coefs:
        float lr, wd, rho, c_rho, momentum, epsilon
    ctypedef struct adam_coefs:
        float lr, wd, alpha, c1, c2, epsilon
    ctypedef struct nadam_coefs:
        float lr, wd, c1, c2, u_next, d_next, c_u, d_now, d_v, epsilon
    ctypedef struct adamax_coefs:
        float lr, wd, c1, beta_2, d, epsilon
    ctypedef struct adagrad_coefs:
        float lr, wd, epsilon
    ctypedef struct adadelta_coefs:
        float lr, wd, rho, c_rho, epsilon
    ctypedef struct lion_coefs:
        float lr, wd, beta_1, c1, beta_2, c2

    void sgd_update(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c)
    void sgd_update_ref(float *p, float *m, const float *g, int64_t n, const sgd_coefs *c)
    void rmsprop_update(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                        const rmsprop_coefs *c)
    void rmsprop_update_ref(float *p, float *v, float *mom, float *avg, const float *g, int64_t n,
                            const rmsprop_coefs *c)
    void adam_update(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                     const adam_coefs *c)
    void adam_update_ref(float *p, float *m, float *v, float *vhat, const float *g, int64_t n,
                         const adam_coefs *c)
    void nadam_update(float *p, float *m, float *v, const float *g, int64_t n, const nadam_coefs *c)
    void nadam_update_ref(float *p, float *m, float *v, const float *g, int64_t n,
                          const nadam_coefs *c)
    void adamax_update(float *p, float *m, float *u, const float *g, int64_t n,
                       const adamax_coefs *c)
    void adamax_update_ref(float *p, float *m, float *u, const float *g, int64_t n,
                           const adamax_coefs *c)
    void adagrad_update(float *p, float *acc, const float *g, int64_t n, const adagrad_coefs *c)
    void adagrad_update_ref(float *p, float *acc, const float *g, int64_t n,
                            const adagrad_coefs *c)
    void adadelta_update(float *p, float *ag, float *ad, const float *g, int64_t n,
                         const adadelta_coefs *c)
    void adadelta_update_ref(float *p, float *ag, float *ad, const float *g, int64_t n,
                             const adadelta_coefs *c)
    void lion_update(float *p, float *m, const float *g, int64_t n, const lion_coefs *c)
    void lion_update_ref(float *p, float *m, const float *g, int64_t n, const lion_coefs *c)
    void ema_update(float *avg, const float *p, int64_t n, float momentum, float c)
    void ema_update_ref(float *avg, const float *p, int64_t n, float momentum, float c)


from libc.math cimport powf, sqrtf


def adam_alpha(float lr, float t, float beta_1, float beta_2):
    """Adam's step size lr * sqrt(1 - beta_2**t) / (1 - beta_1**t), each operation in float32
    as NumPy's float32 scalars do it (powf, sqrtf, IEEE single rounding: bitwise the same, see
    tests/test_optimizers.py), in one call instead of a dozen NumPy scalar operations a step.
    Returns the float32 value as a Python float."""
    cdef float one = 1.0
    cdef float num = sqrtf(one - powf(beta_2, t))
    cdef float den = one - powf(beta_1, t)
    cdef float a = lr * num
    return a / den


cdef inline bint c_float32(object a, bint writeable):
    return isinstance(a, cnp.ndarray) and cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_FLOAT32 \
        and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a) and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>a) \
        and (not writeable or cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a))


cdef inline float *fdata(object a):
    """The data of an array step_lists_ok accepted."""
    return <float *>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline float *fdata_or_null(list arrays, Py_ssize_t i):
    return NULL if arrays is None else <float *>cnp.PyArray_DATA(<cnp.ndarray>arrays[i])


cdef int step_lists_ok(str rule, list params, list grads, tuple slots) except -1:
    """1 if, for every parameter with a gradient, the parameter, the gradient and the
    parameter's array in each slot list are C-contiguous, writeable float32 ndarrays of one
    shape; 0 if one is not such an array (the caller then takes NumPy's path). A ValueError for
    lists of other lengths or arrays of other shapes. Nothing is written.
    (A read-only parameter or slot, e.g. one loaded from a memory map, also gets 0.)"""
    cdef Py_ssize_t i, k, n = len(params)
    cdef bint same_lengths = len(grads) == n
    for s in slots:
        same_lengths = same_lengths and len(<list>s) == n
    if not same_lengths:
        raise ValueError(f"{rule}: one gradient and one array of each slot per parameter. Received: "
                         f"{n} parameters, {len(grads)} gradients, slot lists of lengths "
                         f"{[len(s) for s in slots]}.")
    for i in range(n):
        g = grads[i]
        if g is None:
            continue
        p = params[i]
        if not (c_float32(p, True) and c_float32(g, False)):
            return 0
        for k in range(len(slots)):
            a = (<list>slots[k])[i]
            if not c_float32(a, True):
                return 0
            if not cnp.PyArray_SAMESHAPE(<cnp.ndarray>p, <cnp.ndarray>a):
                raise ValueError(f"{rule}: a slot must have its parameter's shape. Received for "
                                 f"parameter {i}: {np.shape(p)}, slot {k}: {np.shape(a)}.")
        if not cnp.PyArray_SAMESHAPE(<cnp.ndarray>p, <cnp.ndarray>g):
            raise ValueError(f"{rule}: a gradient must have its parameter's shape. Received for "
                             f"parameter {i}: {np.shape(p)}, gradient: {np.shape(g)}.")
    return 1


def step_lists_usable(list params, list grads, list slots):
    """Whether the `<rule>_step_list` calls would take these lists (see step_lists_ok): an
    optimizer asks before its commit, so that NumPy's path can get its scratch arrays first."""
    return bool(step_lists_ok("optimizer", params, grads, tuple(slots)))


def sgd_step_list(list params, list grads, list momentums, float lr, float wd, float momentum,
                  bint nesterov, bint ref=False):
    """SGD on every parameter with a gradient; `momentums` None when momentum == 0. Returns
    False, having written nothing, if an array is not a C-contiguous float32 ndarray."""
    if not step_lists_ok("SGD", params, grads, () if momentums is None else (momentums,)):
        return False
    cdef sgd_coefs c
    c.lr, c.wd, c.momentum, c.nesterov = lr, wd, momentum, nesterov
    cdef Py_ssize_t i
    cdef float *pp
    cdef float *pm
    cdef const float *pg
    cdef int64_t n
    for i in range(len(params)):
        if grads[i] is None:
            continue
        pp, pg, pm = fdata(params[i]), fdata(grads[i]), fdata_or_null(momentums, i)
        n = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        with nogil:
            if ref:
                sgd_update_ref(pp, pm, pg, n, &c)
            else:
                sgd_update(pp, pm, pg, n, &c)
    return True


def rmsprop_step_list(list params, list grads, list velocities, list momentums, list averages,
                      float lr, float wd, float rho, float c_rho, float momentum, float epsilon,
                      bint ref=False):
    """RMSprop; `momentums` None when momentum == 0, `averages` None unless centered."""
    cdef tuple slots = (velocities,) + (() if momentums is None else (momentums,)) + \
        (() if averages is None else (averages,))
    if not step_lists_ok("RMSprop", params, grads, slots):
        return False
    cdef rmsprop_coefs c
    c.lr, c.wd, c.rho, c.c_rho, c.momentum, c.epsilon = lr, wd, rho, c_rho, momentum, epsilon
    cdef Py_ssize_t i
    cdef float *pp
    cdef float *pv
    cdef float *pmom
    cdef float *pavg
    cdef const float *pg
    cdef int64_t n
    for i in range(len(params)):
        if grads[i] is None:
            continue
        pp, pg, pv = fdata(params[i]), fdata(grads[i]), fdata(velocities[i])
        pmom, pavg = fdata_or_null(momentums, i), fdata_or_null(averages, i)
        n = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        with nogil:
            if ref:
                rmsprop_update_ref(pp, pv, pmom, pavg, pg, n, &c)
            else:
                rmsprop_update(pp, pv, pmom, pavg, pg, n, &c)
    return True


def adam_step_list(list params, list grads, list momentums, list velocities, list velocity_hats,
                   float lr, float wd, float alpha, float c1, float c2, float epsilon,
                   bint ref=False):
    """Adam (AdamW when wd != 0); `velocity_hats` None unless amsgrad."""
    cdef tuple slots = (momentums, velocities) + (() if velocity_hats is None else (velocity_hats,))
    if not step_lists_ok("Adam", params, grads, slots):
        return False
    cdef adam_coefs c
    c.lr, c.wd, c.alpha, c.c1, c.c2, c.epsilon = lr, wd, alpha, c1, c2, epsilon
    cdef Py_ssize_t i
    cdef float *pp
    cdef float *pm
    cdef float *pv
    cdef float *pvh
    cdef const float *pg
    cdef int64_t n
    for i in range(len(params)):
        if grads[i] is None:
            continue
        pp, pg, pm, pv = fdata(params[i]), fdata(grads[i]), fdata(momentums[i]), fdata(velocities[i])
        pvh = fdata_or_null(velocity_hats, i)
        n = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        with nogil:
            if ref:
                adam_update_ref(pp, pm, pv, pvh, pg, n, &c)
            else:
                adam_update(pp, pm, pv, pvh, pg, n, &c)
    return True


def nadam_step_list(list params, list grads, list momentums, list velocities, float lr, float wd,
                    float c1, float c2, float u_next, float d_next, float c_u, float d_now,
                    float d_v, float epsilon, bint ref=False):
    """Nadam (the coefficients as named in csrc/pyconv.h)."""
    if not step_lists_ok("Nadam", params, grads, (momentums, velocities)):
        return False
    cdef nadam_coefs c
    c.lr, c.wd, c.c1, c.c2, c.epsilon = lr, wd, c1, c2, epsilon
    c.u_next, c.d_next, c.c_u, c.d_now, c.d_v = u_next, d_next, c_u, d_now, d_v
    cdef Py_ssize_t i
    cdef float *pp
    cdef float *pm
    cdef float *pv
    cdef const float *pg
    cdef int64_t n
    for i in range(len(params)):
        if grads[i] is None:
            continue
        pp, pg, pm, pv = fdata(params[i]), fdata(grads[i]), fdata(momentums[i]), fdata(velocities[i])
        n = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        with nogil:
            if ref:
                nadam_update_ref(pp, pm, pv, pg, n, &c)
            else:
                nadam_update(pp, pm, pv, pg, n, &c)
    return True


def adamax_step_list(list params, list grads, list momentums, list norms, float lr, float wd,
                     float c1, float beta_2, float d, float epsilon, bint ref=False):
    """Adamax; d = 1 - beta_1**t."""
    if not step_lists_ok("Adamax", params, grads, (momentums, norms)):
        return False
    cdef adamax_coefs c
    c.lr, c.wd, c.c1, c.beta_2, c.d, c.epsilon = lr, wd, c1, beta_2, d, epsilon
    cdef Py_ssize_t i
    cdef float *pp
    cdef float *pm
    cdef float *pu
    cdef const float *pg
    cdef int64_t n
    for i in range(len(params)):
        if grads[i] is None:
            continue
        pp, pg, pm, pu = fdata(params[i]), fdata(grads[i]), fdata(momentums[i]), fdata(norms[i])
        n = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        with nogil:
            if ref:
                adamax_update_ref(pp, pm, pu, pg, n, &c)
            else:
                adamax_update(pp, pm, pu, pg, n, &c)
    return True


def adagrad_step_list(list params, list grads, list accumulators, float lr, float wd,
                      float epsilon, bint ref=False):
    """Adagrad."""
    if not step_lists_ok("Adagrad", params, grads, (accumulators,)):
        return False
    cdef adagrad_coefs c
    c.lr, c.wd, c.epsilon = lr, wd, epsilon
    cdef Py_ssize_t i
    cdef float *pp
    cdef float *pa
    cdef const float *pg
    cdef int64_t n
    for i in range(len(params)):
        if grads[i] is None:
            continue
        pp, pg, pa = fdata(params[i]), fdata(grads[i]), fdata(accumulators[i])
        n = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        with nogil:
            if ref:
                adagrad_update_ref(pp, pa, pg, n, &c)
            else:
                adagrad_update(pp, pa, pg, n, &c)
    return True


def adadelta_step_list(list params, list grads, list accumulated_grads, list accumulated_deltas,
                       float lr, float wd, float rho, float c_rho, float epsilon, bint ref=False):
    """Adadelta."""
    if not step_lists_ok("Adadelta", params, grads, (accumulated_grads, accumulated_deltas)):
        return False
    cdef adadelta_coefs c
    c.lr, c.wd, c.rho, c.c_rho, c.epsilon = lr, wd, rho, c_rho, epsilon
    cdef Py_ssize_t i
    cdef float *pp
    cdef float *pag
    cdef float *pad
    cdef const float *pg
    cdef int64_t n
    for i in range(len(params)):
        if grads[i] is None:
            continue
        pp, pg = fdata(params[i]), fdata(grads[i])
        pag, pad = fdata(accumulated_grads[i]), fdata(accumulated_deltas[i])
        n = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        with nogil:
            if ref:
                adadelta_update_ref(pp, pag, pad, pg, n, &c)
            else:
                adadelta_update(pp, pag, pad, pg, n, &c)
    return True


def lion_step_list(list params, list grads, list momentums, float lr, float wd, float beta_1,
                   float c1, float beta_2, float c2, bint ref=False):
    """Lion."""
    if not step_lists_ok("Lion", params, grads, (momentums,)):
        return False
    cdef lion_coefs c
    c.lr, c.wd, c.beta_1, c.c1, c.beta_2, c.c2 = lr, wd, beta_1, c1, beta_2, c2
    cdef Py_ssize_t i
    cdef float *pp
    cdef float *pm
    cdef const float *pg
    cdef int64_t n
    for i in range(len(params)):
        if grads[i] is None:
            continue
        pp, pg, pm = fdata(params[i]), fdata(grads[i]), fdata(momentums[i])
        n = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
        with nogil:
            if ref:
                lion_update_ref(pp, pm, pg, n, &c)
            else:
                lion_update(pp, pm, pg, n, &c)
    return True


def ema_step_list(list averages, list params, float momentum, float c, bint ref=False):
    """averages[i] = momentum*averages[i] + c*params[i] for every parameter (use_ema). Returns
    False, having written nothing, if an array is not a C-contiguous float32 ndarray."""
    if not step_lists_ok("EMA", averages, params, ()):
        return False
    cdef Py_ssize_t i
    cdef float *pa
    cdef const float *pp
    cdef int64_t n
    for i in range(len(params)):
        pa, pp = fdata(averages[i]), fdata(params[i])
        n = cnp.PyArray_SIZE(<cnp.ndarray>averages[i])
        with nogil:
            if ref:
                ema_update_ref(pa, pp, n, momentum, c)
            else:
                ema_update(pa, pp, n, momentum, c)
    return True
