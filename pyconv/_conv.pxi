# GEMM, dense and conv2d wrappers (csrc/gemm.c, dense.c, conv2d.c), included into _kernels.pyx.
# Shapes are checked against each other here; the geometry comes as one `win`, a
# pyconv._geometry.Window computed and validated by pyconv/nn.py or the layer.

cdef extern from "pyconv.h" nogil:
    int sgemm(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
    int sgemm_blocked(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
    void sgemm_ref(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K)
    int dense_forward(float *out, const float *x, const float *w, const float *b, int relu,
                      int64_t N, int64_t C, int64_t K)
    enum: DENSE_ROWS_MAX
    int dense_forward_rows(float *out, const float *x, const float *w, const float *b, int relu,
                           int64_t N, int64_t C, int64_t K)
    int dense_forward_form(float *out, const float *x, const float *w, const float *b, int relu,
                           int64_t N, int64_t C, int64_t K, int form)
    int dense_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                       const float *w, int64_t N, int64_t C, int64_t K)
    void dense_forward_ref(float *out, const float *x, const float *w, const float *b, int relu,
                           int64_t N, int64_t C, int64_t K)
    void dense_backward_ref(float *dx, float *dw, float *db, const float *dout, const float *x,
                            const float *w, int64_t N, int64_t C, int64_t K)
    ctypedef struct conv2d_shape:
        int64_t N, H, W, C, K, R, S, P, Q
        int64_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left
    int conv2d_forward(float *out, const float *inp, const float *filt, const float *bias,
                       int relu, const conv2d_shape *s)
    int conv2d_forward_form(float *out, const float *inp, const float *filt, const float *bias,
                            int relu, const conv2d_shape *s, int form)
    int conv2d_backward_input(float *dinp, const float *dout, const float *filt, const conv2d_shape *s)
    int conv2d_backward_filter(float *dfilt, float *dbias, const float *dout, const float *inp,
                               const conv2d_shape *s)
    void conv2d_forward_ref(float *out, const float *inp, const float *filt, const float *bias,
                            int relu, const conv2d_shape *s)
    void conv2d_backward_input_ref(float *dinp, const float *dout, const float *filt, const conv2d_shape *s)
    void conv2d_backward_filter_ref(float *dfilt, float *dbias, const float *dout, const float *inp,
                                    const conv2d_shape *s)


cdef inline float *opt_fptr(object a, str name, int64_t n) except? NULL:
    """Pointer to an optional 1-D float32 array of n elements (None -> NULL)."""
    if a is None:
        return NULL
    if (<cnp.ndarray>a).ndim != 1 or (<cnp.ndarray>a).shape[0] != n:
        raise ValueError(f"`{name}` must have shape ({n},). Received: {name}.shape={np.shape(a)}.")
    return fptr(a, name)


def gemm(cnp.ndarray a, cnp.ndarray b, bint ref=False, bint blocked=False):
    """c = a @ b for 2-D float32 arrays, by the fast GEMM -- or the naive loop if ref, or the
    single-threaded spine (sgemm_blocked) if blocked."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"`a` (M,K) and `b` (K,N) do not match. Received: "
                         f"a.shape={np.shape(a)}, b.shape={np.shape(b)}.")
    cdef int64_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    cdef cnp.ndarray c = np.empty((M, N), np.float32)
    cdef float *pc = fptr(c, "c")
    cdef const float *pa = fptr(a, "a")
    cdef const float *pb = fptr(b, "b")
    cdef int st = PYCONV_OK
    with nogil:
        if ref:
            sgemm_ref(pc, pa, pb, M, N, K)
        elif blocked:
            st = sgemm_blocked(pc, pa, pb, M, N, K)
        else:
            st = sgemm(pc, pa, pb, M, N, K)
    check_status(st)
    return c


def dense_rows_max():
    """The largest batch dense_fwd runs on dense_forward_rows (W read in place, not packed)."""
    return DENSE_ROWS_MAX


cdef inline int check_form(int form, int64_t K, str name, int most=1) except -1:
    """A GEMM form a test asks for: -1 (the kernel chooses), 0 (weights packed), 1 (read in
    place through row pointers) or, up to `most`, 2 (read in place as strided panels); 1 and 2
    need K a multiple of the micro-kernel's NR."""
    if form < -1 or form > most:
        allowed = ", ".join(str(f) for f in range(-1, most)) + f" or {most}"
        raise ValueError(f"`form` must be {allowed}. Received: form={form}.")
    if form >= 1 and K % gemm_nr():
        raise ValueError(f"`form={form}` reads the {name} in place, which needs its last axis to be a "
                         f"multiple of {gemm_nr()}. Received: {K}.")
    return 0


def dense_fwd(cnp.ndarray x, cnp.ndarray w, object b=None, bint relu=False, bint ref=False,
              bint rows=False, int form=-1):
    """relu?(x . w + b) for x (N,C), w (C,K): on the GEMM, or dense_forward_rows when
    N <= dense_rows_max(); rows=True asks for dense_forward_rows (a test of that kernel), form
    0, 1 or 2 for the GEMM with W packed, read in place through row pointers, or read in place
    as strided panels (dense_forward_form)."""
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"`x` (N,C) and `kernel` (C,K) do not match. Received: "
                         f"x.shape={np.shape(x)}, kernel.shape={np.shape(w)}.")
    if rows and x.shape[0] > DENSE_ROWS_MAX:
        raise ValueError(f"dense_forward_rows takes at most {DENSE_ROWS_MAX} rows. Received: "
                         f"x.shape={np.shape(x)}.")
    check_form(form, w.shape[1], "kernel", 2)
    cdef int64_t N = x.shape[0], C = x.shape[1], K = w.shape[1]
    cdef cnp.ndarray out = np.empty((N, K), np.float32)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(x, "x")
    cdef const float *pw = fptr(w, "kernel")
    cdef const float *pb = opt_fptr(b, "bias", K)
    cdef int st = PYCONV_OK
    with nogil:
        if ref:
            dense_forward_ref(po, px, pw, pb, relu, N, C, K)
        elif rows:
            st = dense_forward_rows(po, px, pw, pb, relu, N, C, K)
        elif form >= 0:
            st = dense_forward_form(po, px, pw, pb, relu, N, C, K, form)
        else:
            st = dense_forward(po, px, pw, pb, relu, N, C, K)
    check_status(st)
    return out


def dense_bwd(cnp.ndarray dout, cnp.ndarray x, cnp.ndarray w, bint need_dx=True,
              bint need_db=True, bint ref=False, cnp.ndarray relu_out=None):
    """(dx or None, dkernel, dbias or None). With `relu_out`, the output of a fused
    relu(x . W + b), `dout` is first masked by relu's derivative [relu_out > 0] (the relu's
    backward in the same call, so that a Dense with activation="relu" makes one call a pass)."""
    if x.ndim != 2 or w.ndim != 2 or dout.ndim != 2 or x.shape[1] != w.shape[0] \
            or dout.shape[0] != x.shape[0] or dout.shape[1] != w.shape[1]:
        raise ValueError(f"`out_backprop` (N,O), `x` (N,C) and `kernel` (C,K) do not match. "
                         f"Received: {np.shape(dout)}, {np.shape(x)}, {np.shape(w)}.")
    cdef int64_t N = x.shape[0], C = x.shape[1], K = w.shape[1]
    cdef cnp.ndarray dz = None
    cdef const float *pr = NULL
    if relu_out is not None:
        check_same_shape(relu_out, dout, "relu_out", "out_backprop")
        pr = fptr(relu_out, "relu_out")
        dz = np.empty((N, K), np.float32)
    cdef cnp.ndarray dx = np.empty((N, C), np.float32) if (need_dx or ref) else None
    cdef cnp.ndarray dw = np.empty((C, K), np.float32)
    cdef cnp.ndarray db = np.empty(K, np.float32) if (need_db or ref) else None
    cdef float *pdx = fptr(dx, "dx") if dx is not None else NULL
    cdef float *pdw = fptr(dw, "dkernel")
    cdef float *pdb = fptr(db, "dbias") if db is not None else NULL
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef const float *px = fptr(x, "x")
    cdef const float *pw = fptr(w, "kernel")
    cdef float *pdz = fptr(dz, "dz") if dz is not None else NULL
    cdef int st = PYCONV_OK
    with nogil:
        if pdz != NULL:
            relu_backward(pdz, pg, pr, N * K)
            pg = pdz
        if ref:
            dense_backward_ref(pdx, pdw, pdb, pg, px, pw, N, C, K)
        else:
            st = dense_backward(pdx, pdw, pdb, pg, px, pw, N, C, K)
    check_status(st)
    return dx, dw, db


cdef conv2d_shape make_shape(tuple in_shape, tuple filt_shape, object win) except *:
    """The conv2d_shape of an input in_shape (N,H,W,C), a filter filt_shape (R,S,C,K) and the
    window `win` (pyconv._geometry.Window), whose R, S must be the filter's."""
    cdef conv2d_shape s
    cdef int64_t f[10]
    window_fields(win, f)
    s.N, s.H, s.W, s.C = in_shape
    s.R, s.S, _, s.K = filt_shape
    if f[2] != s.R or f[3] != s.S:
        raise ValueError(f"`window` must be the filter's: R, S = ({s.R}, {s.S}). Received: window={win!r}.")
    s.P, s.Q = f[0], f[1]
    s.stride_h, s.stride_w, s.dil_h, s.dil_w, s.pad_top, s.pad_left = f[4], f[5], f[6], f[7], f[8], f[9]
    return s


cdef int check_dout_window(cnp.ndarray dout, const conv2d_shape *s) except -1:
    """An output gradient (N,P,Q,K) must have the window's P and Q."""
    if dout.shape[1] != s.P or dout.shape[2] != s.Q:
        raise ValueError(f"`out_backprop` must have the window's output size ({s.P}, {s.Q}). "
                         f"Received: out_backprop.shape={np.shape(dout)}.")
    return 0


def conv2d_fwd(cnp.ndarray inp, cnp.ndarray filt, object bias, bint relu, object win, bint ref=False,
               int form=-1):
    """out (N,P,Q,K) = relu?(bias + inp (N,H,W,C) convolved with filt (R,S,C,K)) over `win`;
    form 0, 1 or 2: the GEMM with the filter packed, read in place through row pointers, or read
    in place as strided panels (conv2d_forward_form)."""
    if inp.ndim != 4 or filt.ndim != 4 or inp.shape[3] != filt.shape[2]:
        raise ValueError(f"`input` (N,H,W,C) and `filters` (R,S,C,K) do not match. Received: "
                         f"input.shape={np.shape(inp)}, filters.shape={np.shape(filt)}.")
    check_form(form, filt.shape[3], "filters", 2)
    cdef conv2d_shape s = make_shape((<object>inp).shape, (<object>filt).shape, win)
    cdef cnp.ndarray out = np.empty((s.N, s.P, s.Q, s.K), np.float32)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(inp, "input")
    cdef const float *pw = fptr(filt, "filters")
    cdef const float *pb = opt_fptr(bias, "bias", s.K)
    cdef int st = PYCONV_OK
    with nogil:
        if ref:
            conv2d_forward_ref(po, px, pw, pb, relu, &s)
        elif form >= 0:
            st = conv2d_forward_form(po, px, pw, pb, relu, &s, form)
        else:
            st = conv2d_forward(po, px, pw, pb, relu, &s)
    check_status(st)
    return out


def conv2d_bwd_input(tuple in_shape, cnp.ndarray filt, cnp.ndarray dout, object win, bint ref=False):
    """dinp (in_shape: N,H,W,C) from dout (N,P,Q,K) and filt (R,S,C,K)."""
    if dout.ndim != 4 or filt.ndim != 4 or dout.shape[3] != filt.shape[3] \
            or len(in_shape) != 4 or in_shape[3] != filt.shape[2] or in_shape[0] != dout.shape[0]:
        raise ValueError(f"`input_sizes` {in_shape}, `filters` {np.shape(filt)} and "
                         f"`out_backprop` {np.shape(dout)} do not match.")
    cdef conv2d_shape s = make_shape(in_shape, (<object>filt).shape, win)
    check_dout_window(dout, &s)
    cdef cnp.ndarray dinp = np.empty(in_shape, np.float32)
    cdef float *pdx = fptr(dinp, "dinp")
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef const float *pw = fptr(filt, "filters")
    cdef int st = PYCONV_OK
    with nogil:
        if ref:
            conv2d_backward_input_ref(pdx, pg, pw, &s)
        else:
            st = conv2d_backward_input(pdx, pg, pw, &s)
    check_status(st)
    return dinp


def conv2d_bwd_filter(cnp.ndarray inp, tuple filt_shape, cnp.ndarray dout, object win,
                      bint need_db=False, bint ref=False):
    """(dfilters (filt_shape: R,S,C,K), dbias or None) from inp (N,H,W,C) and dout (N,P,Q,K)."""
    if dout.ndim != 4 or inp.ndim != 4 or len(filt_shape) != 4 or dout.shape[3] != filt_shape[3] \
            or inp.shape[3] != filt_shape[2] or inp.shape[0] != dout.shape[0]:
        raise ValueError(f"`input` {np.shape(inp)}, `filter_sizes` {filt_shape} and "
                         f"`out_backprop` {np.shape(dout)} do not match.")
    cdef conv2d_shape s = make_shape((<object>inp).shape, filt_shape, win)
    check_dout_window(dout, &s)
    cdef cnp.ndarray dw = np.empty(filt_shape, np.float32)
    cdef cnp.ndarray db = np.empty(s.K, np.float32) if need_db else None
    cdef float *pdw = fptr(dw, "dfilters")
    cdef float *pdb = fptr(db, "dbias") if need_db else NULL
    cdef const float *pg = fptr(dout, "out_backprop")
    cdef const float *px = fptr(inp, "input")
    cdef int st = PYCONV_OK
    with nogil:
        if ref:
            conv2d_backward_filter_ref(pdw, pdb, pg, px, &s)
        else:
            st = conv2d_backward_filter(pdw, pdb, pg, px, &s)
    check_status(st)
    return dw, db
