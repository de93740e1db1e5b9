# The transposed convolution (csrc/conv2d.c conv2d_transpose_forward), included into _kernels.pyx
# after _conv.pxi (whose conv2d_shape and make_shape it uses). Its gradients are the existing
# conv2d_fwd (input) and conv2d_bwd_filter with inp and dout swapped (filter); see pyconv.h.

cdef extern from "pyconv.h" nogil:
    int conv2d_transpose_forward(float *out, const float *inp, const float *filt, const float *bias,
                                 int relu, const conv2d_shape *s)
    void conv2d_transpose_forward_ref(float *out, const float *inp, const float *filt,
                                      const float *bias, int relu, const conv2d_shape *s)


def conv2d_transpose_fwd(cnp.ndarray inp, cnp.ndarray filt, object bias, bint relu, tuple out_shape,
                         object win, bint ref=False):
    """out (out_shape: N, H, W, C) = relu?(bias + the transposed convolution of inp (N, P, Q, K)
    with filt (R, S, C, K)); `win` is the window of the convolution it transposes (out_shape
    -> inp's P, Q)."""
    if inp.ndim != 4 or filt.ndim != 4 or len(out_shape) != 4 or inp.shape[3] != filt.shape[3] \
            or out_shape[3] != filt.shape[2] or out_shape[0] != inp.shape[0]:
        raise ValueError(f"`input` {np.shape(inp)}, `filters` {np.shape(filt)} and `output_shape` "
                         f"{out_shape} do not match: input (N,P,Q,K), filters (R,S,C,K), output (N,H,W,C).")
    cdef conv2d_shape s = make_shape(out_shape, np.shape(filt), win)
    if inp.shape[1] != s.P or inp.shape[2] != s.Q:
        raise ValueError(f"`input` must have the window's output size ({s.P}, {s.Q}). "
                         f"Received: input.shape={np.shape(inp)}.")
    cdef cnp.ndarray out = np.empty(out_shape, np.float32)
    cdef float *po = fptr(out, "out")
    cdef const float *px = fptr(inp, "input")
    cdef const float *pw = fptr(filt, "filters")
    cdef const float *pb = opt_fptr(bias, "bias", s.C)
    cdef int st = PYCONV_OK
    with nogil:
        if ref:
            conv2d_transpose_forward_ref(po, px, pw, pb, relu, &s)
        else:
            st = conv2d_transpose_forward(po, px, pw, pb, relu, &s)
    check_status(st)
    return out
