# Resampling wrappers (csrc/resample.c), included into _kernels.pyx.
#
# Images are float32 NHWC, C-contiguous. `method` / `interpolation` is "bilinear" or "nearest";
# `fill_mode` one of "reflect", "wrap", "constant", "nearest" (keras.ops.image.affine_transform's
# names). ref=True calls the *_ref loop nest, for the tests. Backward wrappers return the
# gradient with respect to the input (N, H, W, C), H and W given: the transpose of the forward.

cdef extern from "pyconv.h" nogil:
    enum:
        PYCONV_INTERP_NEAREST
        PYCONV_INTERP_BILINEAR
        PYCONV_FILL_REFLECT
        PYCONV_FILL_WRAP
        PYCONV_FILL_CONSTANT
        PYCONV_FILL_NEAREST
    int resize_bilinear_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                                int64_t C, int64_t P, int64_t Q)
    int resize_bilinear_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                                    int64_t C, int64_t P, int64_t Q)
    int resize_bilinear_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                                 int64_t C, int64_t P, int64_t Q)
    int resize_bilinear_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H,
                                     int64_t W, int64_t C, int64_t P, int64_t Q)
    int resize_nearest_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                               int64_t C, int64_t P, int64_t Q)
    int resize_nearest_forward_ref(float *out, const float *inp, int64_t N, int64_t H, int64_t W,
                                   int64_t C, int64_t P, int64_t Q)
    int resize_nearest_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W,
                                int64_t C, int64_t P, int64_t Q)
    int resize_nearest_backward_ref(float *dinp, const float *dout, int64_t N, int64_t H,
                                    int64_t W, int64_t C, int64_t P, int64_t Q)
    int affine_sample_forward(float *out, const float *inp, const float *transforms, int64_t T,
                              int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                              int interp, int fill_mode, float fill_value)
    int affine_sample_forward_ref(float *out, const float *inp, const float *transforms, int64_t T,
                                  int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                                  int interp, int fill_mode, float fill_value)
    int affine_sample_backward(float *dinp, const float *dout, const float *transforms, int64_t T,
                               int64_t N, int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q,
                               int interp, int fill_mode)
    int affine_sample_backward_ref(float *dinp, const float *dout, const float *transforms,
                                   int64_t T, int64_t N, int64_t H, int64_t W, int64_t C,
                                   int64_t P, int64_t Q, int interp, int fill_mode)

ctypedef int (*resize_fn)(float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t,
                          int64_t) noexcept nogil

INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")


cdef void check_images(cnp.ndarray x, str name) except *:
    if x.ndim != 4:
        raise ValueError(f"`{name}` must be a 4-D array (N, H, W, C). Received: {name}.shape={np.shape(x)}.")


cdef int interp_code(str interpolation) except -1:
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation!r}.")
    return PYCONV_INTERP_NEAREST if interpolation == "nearest" else PYCONV_INTERP_BILINEAR


cdef int fill_code(str fill_mode) except -1:
    if fill_mode not in FILL_MODES:
        raise ValueError(f"`fill_mode` must be one of {FILL_MODES}. Received: fill_mode={fill_mode!r}.")
    return (PYCONV_FILL_REFLECT, PYCONV_FILL_WRAP, PYCONV_FILL_CONSTANT,
            PYCONV_FILL_NEAREST)[FILL_MODES.index(fill_mode)]


cdef resize_fn resize_kernel(str method, bint backward, bint ref) except NULL:
    interp_code(method)
    if method == "bilinear":
        if backward:
            return resize_bilinear_backward_ref if ref else resize_bilinear_backward
        return resize_bilinear_forward_ref if ref else resize_bilinear_forward
    if backward:
        return resize_nearest_backward_ref if ref else resize_nearest_backward
    return resize_nearest_forward_ref if ref else resize_nearest_forward


def resize(cnp.ndarray x, int64_t P, int64_t Q, str method="bilinear", bint ref=False):
    """x (N,H,W,C) -> (N,P,Q,C), TensorFlow's half-pixel resize (tf.image.resize)."""
    check_images(x, "x")
    if P < 1 or Q < 1:
        raise ValueError(f"The output size must be positive. Received: size=({P}, {Q}).")
    cdef resize_fn f = resize_kernel(method, False, ref)
    cdef int64_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    if N * C > 0 and (H < 1 or W < 1):
        raise ValueError(f"`x` must have H and W >= 1 to be resized. Received: x.shape={np.shape(x)}.")
    cdef const float *px = fptr(x, "x")
    cdef cnp.ndarray out = np.empty((N, P, Q, C), np.float32)
    cdef float *po = fptr(out, "out")
    cdef int status
    with nogil:
        status = f(po, px, N, H, W, C, P, Q)
    check_status(status)
    return out


def resize_grad(cnp.ndarray dy, int64_t H, int64_t W, str method="bilinear", bint ref=False):
    """The gradient of resize(x (N,H,W,C), P, Q) for dy (N,P,Q,C): (N,H,W,C)."""
    check_images(dy, "dy")
    if H < 1 or W < 1:
        raise ValueError(f"The input size must be positive. Received: size=({H}, {W}).")
    cdef resize_fn f = resize_kernel(method, True, ref)
    cdef int64_t N = dy.shape[0], P = dy.shape[1], Q = dy.shape[2], C = dy.shape[3]
    cdef const float *pg = fptr(dy, "dy")
    cdef cnp.ndarray dx = np.empty((N, H, W, C), np.float32)
    cdef float *pd = fptr(dx, "dx")
    cdef int status
    with nogil:
        status = f(pd, pg, N, H, W, C, P, Q)
    check_status(status)
    return dx


cdef int64_t check_transforms(cnp.ndarray t, int64_t N) except -1:
    if t.ndim != 2 or t.shape[1] != 8 or (t.shape[0] != N and t.shape[0] != 1):
        raise ValueError(f"`transforms` must have shape ({N}, 8) or (1, 8). "
                         f"Received: transforms.shape={np.shape(t)}.")
    fptr(t, "transforms")
    return t.shape[0]


def affine_sample(cnp.ndarray x, cnp.ndarray transforms, str interpolation="bilinear",
                  str fill_mode="constant", float fill_value=0.0, bint ref=False):
    """x (N,H,W,C) sampled at the projective map of each image (transforms (N,8) or (1,8),
    float32: keras.ops.image.affine_transform's rows): (N,H,W,C)."""
    check_images(x, "x")
    cdef int ic = interp_code(interpolation), fc = fill_code(fill_mode)
    cdef int64_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef int64_t T = check_transforms(transforms, N)
    cdef const float *px = fptr(x, "x")
    cdef const float *pt = fptr(transforms, "transforms")
    cdef cnp.ndarray out = np.empty((N, H, W, C), np.float32)
    cdef float *po = fptr(out, "out")
    cdef int status
    with nogil:
        if ref:
            status = affine_sample_forward_ref(po, px, pt, T, N, H, W, C, H, W, ic, fc, fill_value)
        else:
            status = affine_sample_forward(po, px, pt, T, N, H, W, C, H, W, ic, fc, fill_value)
    check_status(status)
    return out


def affine_sample_grad(cnp.ndarray dy, cnp.ndarray transforms, str interpolation="bilinear",
                       str fill_mode="constant", bint ref=False):
    """The gradient of affine_sample with respect to x, for dy (N,H,W,C): (N,H,W,C)."""
    check_images(dy, "dy")
    cdef int ic = interp_code(interpolation), fc = fill_code(fill_mode)
    cdef int64_t N = dy.shape[0], H = dy.shape[1], W = dy.shape[2], C = dy.shape[3]
    cdef int64_t T = check_transforms(transforms, N)
    cdef const float *pg = fptr(dy, "dy")
    cdef const float *pt = fptr(transforms, "transforms")
    cdef cnp.ndarray dx = np.empty((N, H, W, C), np.float32)
    cdef float *pd = fptr(dx, "dx")
    cdef int status
    with nogil:
        if ref:
            status = affine_sample_backward_ref(pd, pg, pt, T, N, H, W, C, H, W, ic, fc)
        else:
            status = affine_sample_backward(pd, pg, pt, T, N, H, W, C, H, W, ic, fc)
    check_status(status)
    return dx
