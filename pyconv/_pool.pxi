# Pooling wrappers (csrc/pool2d.c), included into _kernels.pyx.
#
# The window geometry travels as one `win`, a pyconv._geometry.Window as the convolutions take
# it (dilation 1), computed by pyconv/_nn_pool.py from ksize/strides/padding (the SAME rule is
# pyconv/_geometry.py's). Here we check what C cannot: ranks, dtypes, and that dout matches the
# geometry; C checks the geometry itself once more (pool2d_check) and returns PYCONV_EINVAL,
# turned into a ValueError by check_status.
#
# Every wrapper takes ref=False; ref=True calls the naive *_ref loop nest instead of the fast
# kernel, so that tests can compare the two.

cdef extern from "pyconv.h" nogil:
    ctypedef struct pool2d_shape:
        int64_t N, H, W, C, P, Q, R, S
        int stride_h, stride_w, pad_top, pad_left

    int pool2d_check(const pool2d_shape *s)
    int maxpool2d_forward(float *out, const float *inp, const pool2d_shape *s)
    int maxpool2d_forward_ref(float *out, const float *inp, const pool2d_shape *s)
    int maxpool2d_backward(float *dinp, const float *dout, const float *inp, int relu_mask,
                           const pool2d_shape *s)
    int maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp, int relu_mask,
                               const pool2d_shape *s)
    int conv2d_backward_filter_pooled(float *dfilt, float *dbias, const float *pool_dout,
                                      const float *out, const float *inp, int relu_mask,
                                      const conv2d_shape *sh, const pool2d_shape *psh)
    int conv2d_backward_filter_pooled_ref(float *dfilt, float *dbias, const float *pool_dout,
                                          const float *out, const float *inp, int relu_mask,
                                          const conv2d_shape *sh, const pool2d_shape *psh)
    int avgpool2d_forward(float *out, const float *inp, const pool2d_shape *s)
    int avgpool2d_forward_ref(float *out, const float *inp, const pool2d_shape *s)
    int avgpool2d_backward(float *dinp, const float *dout, const pool2d_shape *s)
    int avgpool2d_backward_ref(float *dinp, const float *dout, const pool2d_shape *s)

    int global_avgpool2d_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C)
    int global_avgpool2d_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C)
    int global_avgpool2d_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W, int64_t C)
    int global_avgpool2d_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W, int64_t C)
    int global_maxpool2d_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C)
    int global_maxpool2d_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W, int64_t C)
    int global_maxpool2d_backward(float *dinp, const float *dout, const float *inp,
                                  int64_t N, int64_t H, int64_t W, int64_t C)
    int global_maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp,
                                      int64_t N, int64_t H, int64_t W, int64_t C)

    int depthwise_maxpool2d_forward(float *out, const float *inp,
                                    int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
    int depthwise_maxpool2d_forward_ref(float *out, const float *inp,
                                        int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
    int depthwise_maxpool2d_backward(float *dinp, const float *dout, const float *inp,
                                     int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)
    int depthwise_maxpool2d_backward_ref(float *dinp, const float *dout, const float *inp,
                                         int64_t N, int64_t H, int64_t W, int64_t C, int64_t D)


# ---- checks ---------------------------------------------------------------------------------

cdef int check_4d(cnp.ndarray a, str name) except -1:
    if a.ndim != 4:
        raise ValueError(f"`{name}` must be a 4-D array (N, H, W, C). "
                         f"Received: {name}.shape={np.shape(a)}.")
    return 0


cdef int fill_pool2d_shape(pool2d_shape *s, tuple ishape, object win) except -1:
    """s from the input shape (N, H, W, C) and the window; a ValueError if it is malformed."""
    if len(ishape) != 4:
        raise ValueError(f"`input_sizes` must be (N, H, W, C). Received: {ishape!r}.")
    cdef int64_t f[10]
    window_fields(win, f)
    cdef int i
    for i in range(10):   # pool2d_shape's strides and pads are ints
        if f[i] >= 2**31:
            raise ValueError(f"pool2d: the window's fields must be ints in [0, 2**31). "
                             f"Received: window={win!r}.")
    if f[6] != 1 or f[7] != 1:
        raise ValueError(f"pool2d: pooling windows are not dilated (dil_h = dil_w = 1). "
                         f"Received: window={win!r}.")
    s.N, s.H, s.W, s.C = ishape[0], ishape[1], ishape[2], ishape[3]
    s.P, s.Q, s.R, s.S = f[0], f[1], f[2], f[3]
    s.stride_h, s.stride_w, s.pad_top, s.pad_left = f[4], f[5], f[8], f[9]
    if pool2d_check(s) != PYCONV_OK:
        raise ValueError(f"pool2d: every pooling window must hold at least one input element. "
                         f"Received: input shape={ishape}, window={win!r}.")
    return 0


cdef int check_dout(cnp.ndarray dout, tuple expected) except -1:
    if np.shape(dout) != expected:
        raise ValueError(f"`out_backprop` must have the shape of the pooled output {expected}. "
                         f"Received: out_backprop.shape={np.shape(dout)}.")
    return 0


# ---- max and average pooling -----------------------------------------------------------------

def maxpool2d_fwd(cnp.ndarray inp, object win, bint ref=False):
    """out (N,P,Q,C): max pooling of inp (N,H,W,C) float32."""
    check_4d(inp, "input")
    cdef pool2d_shape s
    fill_pool2d_shape(&s, (<object>inp).shape, win)
    cdef cnp.ndarray out = np.empty((s.N, s.P, s.Q, s.C), np.float32)
    if out.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return out
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(inp, "input")
    cdef int status
    with nogil:
        status = maxpool2d_forward_ref(po, px, &s) if ref else maxpool2d_forward(po, px, &s)
    check_status(status)
    return out


def maxpool2d_bwd(cnp.ndarray dout, cnp.ndarray inp, object win, bint ref=False,
                  bint relu_mask=False):
    """dinp (N,H,W,C) from dout (N,P,Q,C) and the forward's input inp (with relu_mask: the
    gradient through a relu whose output inp is, too)."""
    check_4d(inp, "input")
    cdef pool2d_shape s
    fill_pool2d_shape(&s, np.shape(inp), win)
    check_dout(dout, (s.N, s.P, s.Q, s.C))
    cdef cnp.ndarray dinp = np.empty(np.shape(inp), np.float32)
    if dinp.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return dinp
    cdef float *pd = fptr(dinp, "dinp")
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef const float *px = fptr(inp, "input")
    cdef int status
    with nogil:
        if ref:
            status = maxpool2d_backward_ref(pd, pg, px, relu_mask, &s)
        else:
            status = maxpool2d_backward(pd, pg, px, relu_mask, &s)
    check_status(status)
    return dinp


def conv2d_bwd_filter_pooled(cnp.ndarray inp, tuple filt_shape, cnp.ndarray out, object win,
                             cnp.ndarray pool_dout, object pool_win, bint relu_mask=False,
                             bint need_db=False, bint ref=False):
    """conv2d_bwd_filter(inp, filt_shape, maxpool2d_bwd(pool_dout, out, pool_win, relu_mask=...),
    win, need_db), bitwise, without that middle array: the first layer (fewer than 8 input
    channels) under a max pooling whose windows do not overlap. None where those conditions
    do not hold (the caller takes the two passes)."""
    if pool_dout.ndim != 4 or out.ndim != 4 or inp.ndim != 4 or len(filt_shape) != 4 \
            or out.shape[3] != filt_shape[3] or inp.shape[3] != filt_shape[2] \
            or inp.shape[0] != out.shape[0]:
        raise ValueError(f"`input` {np.shape(inp)}, `filter_sizes` {filt_shape} and "
                         f"`output` {np.shape(out)} do not match.")
    cdef conv2d_shape s = make_shape((<object>inp).shape, filt_shape, win)
    check_dout_window(out, &s)
    cdef pool2d_shape ps
    fill_pool2d_shape(&ps, np.shape(out), pool_win)
    check_dout(pool_dout, (ps.N, ps.P, ps.Q, ps.C))
    if out.size == 0 or ps.P == 0 or ps.Q == 0:
        return None
    cdef cnp.ndarray dw = np.empty(filt_shape, np.float32)
    cdef cnp.ndarray db = np.empty(s.K, np.float32) if need_db else None
    cdef float *pdw = fptr(dw, "dfilters")
    cdef float *pdb = fptr(db, "dbias") if need_db else NULL
    cdef const float *pg = fptr(pool_dout, "pool_dout")
    cdef const float *py = fptr(out, "output")
    cdef const float *px = fptr(inp, "input")
    cdef int st
    with nogil:
        if ref:
            st = conv2d_backward_filter_pooled_ref(pdw, pdb, pg, py, px, relu_mask, &s, &ps)
        else:
            st = conv2d_backward_filter_pooled(pdw, pdb, pg, py, px, relu_mask, &s, &ps)
    if st == PYCONV_EINVAL:
        return None
    check_status(st)
    return dw, db


def avgpool2d_fwd(cnp.ndarray inp, object win, bint ref=False):
    """out (N,P,Q,C): average pooling of inp (N,H,W,C) float32, padding not counted."""
    check_4d(inp, "input")
    cdef pool2d_shape s
    fill_pool2d_shape(&s, np.shape(inp), win)
    cdef cnp.ndarray out = np.empty((s.N, s.P, s.Q, s.C), np.float32)
    if out.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return out
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(inp, "input")
    cdef int status
    with nogil:
        status = avgpool2d_forward_ref(po, px, &s) if ref else avgpool2d_forward(po, px, &s)
    check_status(status)
    return out


def avgpool2d_bwd(cnp.ndarray dout, tuple input_shape, object win, bint ref=False):
    """dinp of shape input_shape (N,H,W,C) from dout (N,P,Q,C)."""
    cdef pool2d_shape s
    fill_pool2d_shape(&s, input_shape, win)
    check_dout(dout, (s.N, s.P, s.Q, s.C))
    cdef cnp.ndarray dinp = np.empty((s.N, s.H, s.W, s.C), np.float32)
    if dinp.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return dinp
    cdef float *pd = fptr(dinp, "dinp")
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef int status
    with nogil:
        status = avgpool2d_backward_ref(pd, pg, &s) if ref else avgpool2d_backward(pd, pg, &s)
    check_status(status)
    return dinp


# ---- global pooling: (N,H,W,C) <-> (N,C) ---------------------------------------------------

def global_avgpool2d_fwd(cnp.ndarray inp, bint ref=False):
    check_4d(inp, "input")
    cdef int64_t N = inp.shape[0], H = inp.shape[1], W = inp.shape[2], C = inp.shape[3]
    cdef cnp.ndarray out = np.empty((N, C), np.float32)
    if out.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return out
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(inp, "input")
    cdef int status
    with nogil:
        if ref:
            status = global_avgpool2d_forward_ref(po, px, N, H, W, C)
        else:
            status = global_avgpool2d_forward(po, px, N, H, W, C)
    check_status(status)
    return out


def global_avgpool2d_bwd(cnp.ndarray dout, tuple input_shape, bint ref=False):
    if len(input_shape) != 4:
        raise ValueError(f"`input_sizes` must be (N, H, W, C). Received: {input_shape!r}.")
    cdef int64_t N = input_shape[0], H = input_shape[1], W = input_shape[2], C = input_shape[3]
    check_dout(dout, (N, C))
    cdef cnp.ndarray dinp = np.empty((N, H, W, C), np.float32)
    if dinp.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return dinp
    cdef float *pd = fptr(dinp, "dinp")
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef int status
    with nogil:
        if ref:
            status = global_avgpool2d_backward_ref(pd, pg, N, H, W, C)
        else:
            status = global_avgpool2d_backward(pd, pg, N, H, W, C)
    check_status(status)
    return dinp


def global_maxpool2d_fwd(cnp.ndarray inp, bint ref=False):
    check_4d(inp, "input")
    cdef int64_t N = inp.shape[0], H = inp.shape[1], W = inp.shape[2], C = inp.shape[3]
    cdef cnp.ndarray out = np.empty((N, C), np.float32)
    if out.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return out
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(inp, "input")
    cdef int status
    with nogil:
        if ref:
            status = global_maxpool2d_forward_ref(po, px, N, H, W, C)
        else:
            status = global_maxpool2d_forward(po, px, N, H, W, C)
    check_status(status)
    return out


def global_maxpool2d_bwd(cnp.ndarray dout, cnp.ndarray inp, bint ref=False):
    check_4d(inp, "input")
    cdef int64_t N = inp.shape[0], H = inp.shape[1], W = inp.shape[2], C = inp.shape[3]
    check_dout(dout, (N, C))
    cdef cnp.ndarray dinp = np.empty(np.shape(inp), np.float32)
    if dinp.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return dinp
    cdef float *pd = fptr(dinp, "dinp")
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef const float *px = fptr(inp, "input")
    cdef int status
    with nogil:
        if ref:
            status = global_maxpool2d_backward_ref(pd, pg, px, N, H, W, C)
        else:
            status = global_maxpool2d_backward(pd, pg, px, N, H, W, C)
    check_status(status)
    return dinp


# ---- depth-wise max pooling: windows of D channels, stride D ------------------------------

def depthwise_maxpool2d_fwd(cnp.ndarray inp, int64_t D, bint ref=False):
    """out (N,H,W,C/D) from inp (N,H,W,C); D must divide C."""
    check_4d(inp, "input")
    cdef int64_t N = inp.shape[0], H = inp.shape[1], W = inp.shape[2], C = inp.shape[3]
    if D < 1 or C % D != 0:
        raise ValueError(f"the depth window must divide the input depth. "
                         f"Received: depth window={D}, input.shape={np.shape(inp)}.")
    cdef cnp.ndarray out = np.empty((N, H, W, C // D), np.float32)
    if out.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return out
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(inp, "input")
    cdef int status
    with nogil:
        if ref:
            status = depthwise_maxpool2d_forward_ref(po, px, N, H, W, C, D)
        else:
            status = depthwise_maxpool2d_forward(po, px, N, H, W, C, D)
    check_status(status)
    return out


def depthwise_maxpool2d_bwd(cnp.ndarray dout, cnp.ndarray inp, int64_t D, bint ref=False):
    """dinp (N,H,W,C) from dout (N,H,W,C/D) and the forward's input inp."""
    check_4d(inp, "input")
    cdef int64_t N = inp.shape[0], H = inp.shape[1], W = inp.shape[2], C = inp.shape[3]
    if D < 1 or C % D != 0:
        raise ValueError(f"the depth window must divide the input depth. "
                         f"Received: depth window={D}, input.shape={np.shape(inp)}.")
    check_dout(dout, (N, H, W, C // D))
    cdef cnp.ndarray dinp = np.empty(np.shape(inp), np.float32)
    if dinp.size == 0:   # no image or no channel: nothing to do (and no loop over H x W)
        return dinp
    cdef float *pd = fptr(dinp, "dinp")
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef const float *px = fptr(inp, "input")
    cdef int status
    with nogil:
        if ref:
            status = depthwise_maxpool2d_backward_ref(pd, pg, px, N, H, W, C, D)
        else:
            status = depthwise_maxpool2d_backward(pd, pg, px, N, H, W, C, D)
    check_status(status)
    return dinp
