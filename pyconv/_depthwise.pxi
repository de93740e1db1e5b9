# Depthwise and grouped convolution wrappers (csrc/depthwise.c, csrc/conv2d_grouped.c), included
# into _kernels.pyx after _conv.pxi (whose conv2d_shape, make_shape and opt_fptr they use).
# Shapes are checked against each other here; the geometry comes as one `win`, a
# pyconv._geometry.Window computed and validated by pyconv/nn.py or the layer. ref=True calls the
# *_ref loop nest, for the tests.
#
# Depthwise: inp (N,H,W,C), filt (R,S,C,M), out (N,P,Q,C*M). Grouped: filt (R,S,C/G,K).

cdef extern from "pyconv.h" nogil:
    int depthwise_conv2d_forward(float *out, const float *inp, const float *filt,
                                 const float *bias, int relu, const conv2d_shape *s)
    int depthwise_conv2d_backward_input(float *dinp, const float *dout, const float *filt,
                                        const conv2d_shape *s)
    int depthwise_conv2d_backward_filter(float *dfilt, float *dbias, const float *dout,
                                         const float *inp, const conv2d_shape *s)
    int depthwise_conv2d_forward_ref(float *out, const float *inp, const float *filt,
                                     const float *bias, int relu, const conv2d_shape *s)
    int depthwise_conv2d_backward_input_ref(float *dinp, const float *dout, const float *filt,
                                            const conv2d_shape *s)
    int depthwise_conv2d_backward_filter_ref(float *dfilt, float *dbias, const float *dout,
                                             const float *inp, const conv2d_shape *s)
    int conv2d_grouped_forward(float *out, const float *inp, const float *filt, const float *bias,
                               int relu, const conv2d_shape *s, int64_t groups)
    int conv2d_grouped_backward_input(float *dinp, const float *dout, const float *filt,
                                      const conv2d_shape *s, int64_t groups)
    int conv2d_grouped_backward_filter(float *dfilt, float *dbias, const float *dout,
                                       const float *inp, const conv2d_shape *s, int64_t groups)
    int conv2d_grouped_forward_ref(float *out, const float *inp, const float *filt,
                                   const float *bias, int relu, const conv2d_shape *s,
                                   int64_t groups)
    int conv2d_grouped_backward_input_ref(float *dinp, const float *dout, const float *filt,
                                          const conv2d_shape *s, int64_t groups)
    int conv2d_grouped_backward_filter_ref(float *dfilt, float *dbias, const float *dout,
                                           const float *inp, const conv2d_shape *s,
                                           int64_t groups)


cdef conv2d_shape grouped_shape(tuple in_shape, tuple filt_shape, object win, int64_t groups,
                                str names) except *:
    """The conv2d_shape of a depthwise (groups = 0: filt (R,S,C,M), K = C*M) or grouped
    (filt (R,S,C/groups,K)) convolution over the window `win`, after checking that the shapes
    agree."""
    if len(in_shape) != 4 or len(filt_shape) != 4:
        raise ValueError(f"{names} must be 4-D. Received: {in_shape}, {filt_shape}.")
    C = in_shape[3]
    if groups == 0:
        ok = filt_shape[2] == C and C >= 1
        K = C * filt_shape[3]
    else:
        ok = groups >= 1 and filt_shape[2] * groups == C and filt_shape[3] % groups == 0
        K = filt_shape[3]
    if not ok:
        raise ValueError(f"{names} do not match (groups={groups or C}). Received: input "
                         f"{in_shape}, filter {filt_shape}.")
    cdef conv2d_shape s = make_shape(in_shape, filt_shape, win)
    s.C, s.K = C, K
    return s


cdef int check_dout_grouped(cnp.ndarray dout, const conv2d_shape *s) except -1:
    if dout.ndim != 4 or dout.shape[0] != s.N or dout.shape[3] != s.K:
        raise ValueError(f"`out_backprop` must have shape ({s.N}, P, Q, {s.K}). "
                         f"Received: out_backprop.shape={np.shape(dout)}.")
    return check_dout_window(dout, s)


def depthwise_fwd(cnp.ndarray inp, cnp.ndarray filt, object bias, bint relu, object win,
                  int64_t groups=0, bint ref=False):
    """out (N,P,Q,K) of the depthwise (groups=0) or grouped convolution (+ bias, then relu)."""
    cdef conv2d_shape s = grouped_shape(np.shape(inp), np.shape(filt), win, groups,
                                        "`input` and `filter`")
    cdef cnp.ndarray out = np.empty((s.N, s.P, s.Q, s.K), np.float32)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(inp, "input")
    cdef const float *pw = fptr(filt, "filter")
    cdef const float *pb = opt_fptr(bias, "bias", s.K)
    cdef int st
    with nogil:
        if groups == 0:
            st = depthwise_conv2d_forward_ref(po, px, pw, pb, relu, &s) if ref else \
                 depthwise_conv2d_forward(po, px, pw, pb, relu, &s)
        else:
            st = conv2d_grouped_forward_ref(po, px, pw, pb, relu, &s, groups) if ref else \
                 conv2d_grouped_forward(po, px, pw, pb, relu, &s, groups)
    check_status(st)
    return out


def depthwise_bwd_input(tuple in_shape, cnp.ndarray filt, cnp.ndarray dout, object win,
                        int64_t groups=0, bint ref=False):
    """dinp (N,H,W,C) of the depthwise (groups=0) or grouped convolution."""
    cdef conv2d_shape s = grouped_shape(in_shape, np.shape(filt), win, groups,
                                        "`input_sizes` and `filter`")
    check_dout_grouped(dout, &s)
    cdef cnp.ndarray dinp = np.empty(in_shape, np.float32)
    cdef float *pdx = fptr(dinp, "dinp")
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef const float *pw = fptr(filt, "filter")
    cdef int st
    with nogil:
        if groups == 0:
            st = depthwise_conv2d_backward_input_ref(pdx, pg, pw, &s) if ref else \
                 depthwise_conv2d_backward_input(pdx, pg, pw, &s)
        else:
            st = conv2d_grouped_backward_input_ref(pdx, pg, pw, &s, groups) if ref else \
                 conv2d_grouped_backward_input(pdx, pg, pw, &s, groups)
    check_status(st)
    return dinp


def depthwise_bwd_filter(cnp.ndarray inp, tuple filt_shape, cnp.ndarray dout, object win,
                         bint need_db=False, int64_t groups=0, bint ref=False):
    """(dfilter, dbias or None) of the depthwise (groups=0) or grouped convolution."""
    cdef conv2d_shape s = grouped_shape(np.shape(inp), filt_shape, win, groups,
                                        "`input` and `filter_sizes`")
    check_dout_grouped(dout, &s)
    cdef cnp.ndarray dw = np.empty(filt_shape, np.float32)
    cdef cnp.ndarray db = np.empty(s.K, np.float32) if need_db else None
    cdef float *pdw = fptr(dw, "dfilter")
    cdef float *pdb = fptr(db, "dbias") if need_db else NULL
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef const float *px = fptr(inp, "input")
    cdef int st
    with nogil:
        if groups == 0:
            st = depthwise_conv2d_backward_filter_ref(pdw, pdb, pg, px, &s) if ref else \
                 depthwise_conv2d_backward_filter(pdw, pdb, pg, px, &s)
        else:
            st = conv2d_grouped_backward_filter_ref(pdw, pdb, pg, px, &s, groups) if ref else \
                 conv2d_grouped_backward_filter(pdw, pdb, pg, px, &s, groups)
    check_status(st)
    return dw, db
