"""pyconv.nn -- tf.nn-style functional ops on numpy arrays, backed by the C kernels.

Names and argument conventions follow tf.nn: NHWC tensors, HWIO filters, strides/ksize as an
int, a 2-tuple or a 4-tuple NHWC, padding "VALID"/"SAME" (any case) or explicit. Inputs are
converted to C-contiguous float32 (float64, int and bool are converted; a copy is made only
when needed); the outputs are new float32 arrays.

Every differentiable op records itself on the gradient tape (pyconv._tape) when one is
recording, so a `layers.Lambda` made of these ops trains.

Example:
    >>> import numpy as np
    >>> from pyconv import nn
    >>> nn.relu(np.array([-1.0, 2.0]))
    array([0., 2.], dtype=float32)
"""
import numpy as np

from . import _geometry, _kernels, _nn_act, _nn_norm, _nn_pool, _tape, _validate
from ._nn_pool import *  # noqa: F401,F403 -- max_pool, avg_pool, their gradients, global pools
from ._nn_act import *  # noqa: F401,F403 -- elu, selu, gelu, silu, leaky_relu, ..., log_softmax
from ._nn_act import softmax, softmax_grad
from ._nn_norm import *  # noqa: F401,F403 -- moments, batch_normalization, dropout
from ._validate import as_float32, check_alloc, int_pair, sizes

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose",
           "depthwise_conv2d", "depthwise_conv2d_backprop_input", "depthwise_conv2d_backprop_filter",
           "separable_conv2d", "dense", "dense_grad",
           "relu", "relu_grad", "sigmoid", "sigmoid_grad", "tanh", "tanh_grad",
           "softmax", "softmax_grad", "bias_add", "bias_add_grad",
           "sparse_softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits_grad", *_nn_pool.__all__, *_nn_act.__all__,
           *_nn_norm.__all__]


# ---- activations ---------------------------------------------------------------------------

def relu(features, name=None):
    """max(features, 0), elementwise."""
    y = _kernels.relu_fwd(as_float32(features, "features"))
    _tape.record((features,), y, lambda g: (relu_grad(g, y),))
    return y


def relu_grad(gradients, outputs):
    """The gradient of relu: `gradients` where the forward `outputs` > 0, else 0."""
    g = as_float32(gradients, "gradients")
    return _kernels.relu_bwd(g, as_float32(outputs, "outputs"))


def sigmoid(x, name=None):
    """1 / (1 + exp(-x)), elementwise, without overflow."""
    y = _kernels.sigmoid_fwd(as_float32(x, "x"))
    _tape.record((x,), y, lambda g: (sigmoid_grad(g, y),))
    return y


def sigmoid_grad(gradients, outputs):
    """gradients * y * (1 - y), where y are the forward outputs."""
    return _kernels.sigmoid_bwd(as_float32(gradients, "gradients"), as_float32(outputs, "outputs"))


def tanh(x, name=None):
    """tanh(x), elementwise."""
    y = _kernels.tanh_fwd(as_float32(x, "x"))
    _tape.record((x,), y, lambda g: (tanh_grad(g, y),))
    return y


def tanh_grad(gradients, outputs):
    """gradients * (1 - y^2), where y are the forward outputs."""
    return _kernels.tanh_bwd(as_float32(gradients, "gradients"), as_float32(outputs, "outputs"))


def bias_add(value, bias, data_format=None, name=None):
    """value + bias, with `bias` (C,) broadcast over the last axis of `value`."""
    x = as_float32(value, "value", min_ndim=1)
    b = as_float32(bias, "bias", ndim=1)
    if x.shape[-1] != b.shape[0]:
        raise ValueError(f"`bias` must have as many elements as the last axis of `value`. "
                         f"Received: value.shape={x.shape}, bias.shape={b.shape}.")
    y = _kernels.bias_add_fwd(x, b)
    _tape.record((value, bias), y, lambda g: (g, bias_add_grad(g)))
    return y


def bias_add_grad(out_backprop):
    """The bias gradient: `out_backprop` summed over every axis but the last."""
    return _kernels.bias_add_bwd(as_float32(out_backprop, "out_backprop", min_ndim=1))


# ---- loss ------------------------------------------------------------------------------------

def _labels_logits(labels, logits):
    z = as_float32(logits, "logits", ndim=2)
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"`labels` must be integer class indices. Received: dtype={y.dtype}.")
    if y.shape != z.shape[:1]:
        raise ValueError(f"`labels` must have shape (batch,) matching `logits` (batch, classes). "
                         f"Received: labels.shape={y.shape}, logits.shape={z.shape}.")
    if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
        bad = y.min() if y.min() < 0 else y.max()
        raise ValueError(f"`labels` must be in [0, {z.shape[1]}) for {z.shape[1]} classes. "
                         f"Received: a label {int(bad)}.")
    return np.ascontiguousarray(y, dtype=np.int32), z


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """The per-example loss -log softmax(logits)[label], as tf.nn returns it.

    Args:
        labels: (batch,) integer class indices in [0, classes).
        logits: (batch, classes) unnormalised scores.

    Returns:
        (batch,) float32 losses. Stable for large logits: the row max is subtracted.
    """
    y, z = _labels_logits(labels, logits)
    loss, _ = _kernels.softmax_xent(z, y, False)
    _tape.record((logits,), loss,
                 lambda g: (sparse_softmax_cross_entropy_with_logits_grad(y, z)[1]
                            * as_float32(g, "g")[:, None],))
    return loss


def sparse_softmax_cross_entropy_with_logits_grad(labels, logits):
    """(loss, dlogits) in one fused pass: dlogits = softmax(logits) - onehot(labels),
    per example (not divided by the batch size)."""
    y, z = _labels_logits(labels, logits)
    return _kernels.softmax_xent(z, y, True)


# ---- convolution -----------------------------------------------------------------------------

def _conv_args(in_shape, filt_shape, strides, padding, dilations):
    """The Window (pyconv._geometry) of a convolution, checked."""
    st = int_pair(strides, "strides")
    dl = int_pair(dilations, "dilations")
    pad = _validate.padding(padding)
    if filt_shape[2] != in_shape[3]:
        raise ValueError(f"`filters` must have as many input channels (axis 2) as `input` has "
                         f"channels (axis 3). Received: input.shape={tuple(in_shape)}, "
                         f"filters.shape={tuple(filt_shape)}.")
    if min(filt_shape) < 1:
        raise ValueError(f"`filters` must have no zero-sized axis. Received: filters.shape={tuple(filt_shape)}.")
    win = _geometry.conv_window(in_shape, filt_shape[:2], st, dl, pad)
    check_alloc((in_shape[0], win.P, win.Q, filt_shape[3]), "The output of conv2d")
    return win


def conv2d(input, filters, strides=1, padding="VALID", dilations=1, data_format="NHWC", name=None):
    """2-D convolution (cross-correlation, as in every framework) of NHWC input with HWIO filters.

    Args:
        input: (N, H, W, C) array.
        filters: (R, S, C, K) array.
        strides: int, (sh, sw), or (1, sh, sw, 1).
        padding: "VALID", "SAME" (TensorFlow's rule; any case) or
            [[0, 0], [top, bottom], [left, right], [0, 0]].
        dilations: int, (dh, dw), or (1, dh, dw, 1).

    Returns:
        (N, P, Q, K) float32 array.

    Raises:
        ValueError: ranks, channel counts, strides, dilations or padding are wrong, or the
            window does not fit in the padded input.
        TypeError: non-numeric input.

    Example:
        >>> import numpy as np
        >>> from pyconv import nn
        >>> x = np.ones((1, 5, 5, 1), np.float32)
        >>> nn.conv2d(x, np.ones((3, 3, 1, 2), np.float32), strides=1, padding="SAME").shape
        (1, 5, 5, 2)
    """
    if data_format != "NHWC":
        raise ValueError(f"`data_format` must be 'NHWC'. Received: data_format={data_format!r}.")
    x = as_float32(input, "input", ndim=4)
    w = as_float32(filters, "filters", ndim=4)
    win = _conv_args(x.shape, w.shape, strides, padding, dilations)
    y = _kernels.conv2d_fwd(x, w, None, False, win)
    _tape.record((input, filters), y, lambda g: (
        _kernels.conv2d_bwd_input(x.shape, w, as_float32(g, "g"), win),
        _kernels.conv2d_bwd_filter(x, w.shape, as_float32(g, "g"), win)[0]))
    return y


def conv2d_backprop_input(input_sizes, filters, out_backprop, strides, padding, dilations=1,
                          data_format="NHWC", name=None):
    """The gradient of conv2d with respect to its input.

    Args:
        input_sizes: the input's shape (N, H, W, C).
        filters: (R, S, C, K).
        out_backprop: (N, P, Q, K), the gradient of the output.

    Returns:
        (N, H, W, C) float32 array.
    """
    in_shape = sizes(input_sizes, "input_sizes")
    w = as_float32(filters, "filters", ndim=4)
    g = as_float32(out_backprop, "out_backprop", ndim=4)
    win = _conv_args(in_shape, w.shape, strides, padding, dilations)
    _validate.out_backprop(g, (in_shape[0], win.P, win.Q, w.shape[3]), "the convolution's output shape")
    return _kernels.conv2d_bwd_input(in_shape, w, g, win)


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, dilations=1,
                           data_format="NHWC", name=None):
    """The gradient of conv2d with respect to its filters.

    Args:
        input: (N, H, W, C).
        filter_sizes: the filters' shape (R, S, C, K).
        out_backprop: (N, P, Q, K).

    Returns:
        (R, S, C, K) float32 array.
    """
    x = as_float32(input, "input", ndim=4)
    f_shape = sizes(filter_sizes, "filter_sizes", what="(R, S, C, K)")
    g = as_float32(out_backprop, "out_backprop", ndim=4)
    win = _conv_args(x.shape, f_shape, strides, padding, dilations)
    _validate.out_backprop(g, (x.shape[0], win.P, win.Q, f_shape[3]), "the convolution's output shape")
    return _kernels.conv2d_bwd_filter(x, f_shape, g, win)[0]


# ---- depthwise and separable convolution -------------------------------------------------------

def _nhwc(data_format):
    if data_format not in (None, "NHWC"):
        raise ValueError(f"`data_format` must be 'NHWC'. Received: data_format={data_format!r}.")


def _depthwise_args(in_shape, filt_shape, strides, padding, dilations):
    """The Window (pyconv._geometry) of a depthwise convolution, checked."""
    if filt_shape[2] != in_shape[3]:
        raise ValueError(f"`filter` must have as many input channels (axis 2) as `input` has "
                         f"channels (axis 3). Received: input.shape={tuple(in_shape)}, "
                         f"filter.shape={tuple(filt_shape)}.")
    if min(filt_shape) < 1:
        raise ValueError(f"`filter` must have no zero-sized axis. Received: filter.shape={tuple(filt_shape)}.")
    st = int_pair(strides, "strides")
    dl = int_pair(1 if dilations is None else dilations, "dilations")
    win = _geometry.conv_window(in_shape, filt_shape[:2], st, dl, _validate.padding(padding),
                                what="filter")
    check_alloc((in_shape[0], win.P, win.Q, filt_shape[2] * filt_shape[3]), "The output of depthwise_conv2d")
    return win


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):
    """Depthwise 2-D convolution (tf.nn.depthwise_conv2d): each input channel c convolved with
    its own M filters into output channels c*M .. c*M + M - 1.

    Args:
        input: (N, H, W, C) array.
        filter: (R, S, C, M) array, M the channel (depth) multiplier.
        strides: int, (sh, sw), or (1, sh, sw, 1).
        padding: "VALID", "SAME" (any case) or [[0, 0], [top, bottom], [left, right], [0, 0]].
        dilations: None (1), int, (dh, dw) or (1, dh, dw, 1). Unlike tf.nn, strides and
            dilations may both exceed 1.

    Returns:
        (N, P, Q, C*M) float32 array.

    Raises:
        ValueError: ranks, channel counts, strides, dilations or padding are wrong, or the
            window does not fit in the padded input.

    Example:
        >>> import numpy as np
        >>> from pyconv import nn
        >>> x = np.ones((1, 5, 5, 3), np.float32)
        >>> nn.depthwise_conv2d(x, np.ones((3, 3, 3, 2), np.float32), 1, "SAME").shape
        (1, 5, 5, 6)
    """
    _nhwc(data_format)
    x = as_float32(input, "input", ndim=4)
    w = as_float32(filter, "filter", ndim=4)
    win = _depthwise_args(x.shape, w.shape, strides, padding, dilations)
    y = _kernels.depthwise_fwd(x, w, None, False, win)
    _tape.record((input, filter), y, lambda g: (
        _kernels.depthwise_bwd_input(x.shape, w, as_float32(g, "g"), win),
        _kernels.depthwise_bwd_filter(x, w.shape, as_float32(g, "g"), win)[0]))
    return y


def depthwise_conv2d_backprop_input(input_sizes, filter, out_backprop, strides, padding,
                                    data_format="NHWC", dilations=1, name=None):
    """The gradient of depthwise_conv2d with respect to its input: (N, H, W, C) float32, for
    `input_sizes` (N, H, W, C), `filter` (R, S, C, M) and `out_backprop` (N, P, Q, C*M)."""
    _nhwc(data_format)
    in_shape = sizes(input_sizes, "input_sizes")
    w = as_float32(filter, "filter", ndim=4)
    g = as_float32(out_backprop, "out_backprop", ndim=4)
    win = _depthwise_args(in_shape, w.shape, strides, padding, dilations)
    _validate.out_backprop(g, (in_shape[0], win.P, win.Q, w.shape[2] * w.shape[3]),
                           "the convolution's output shape")
    return _kernels.depthwise_bwd_input(in_shape, w, g, win)


def depthwise_conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding,
                                     data_format="NHWC", dilations=1, name=None):
    """The gradient of depthwise_conv2d with respect to its filter: (R, S, C, M) float32, for
    `input` (N, H, W, C), `filter_sizes` (R, S, C, M) and `out_backprop` (N, P, Q, C*M)."""
    _nhwc(data_format)
    x = as_float32(input, "input", ndim=4)
    f_shape = sizes(filter_sizes, "filter_sizes", what="(R, S, C, M)")
    g = as_float32(out_backprop, "out_backprop", ndim=4)
    win = _depthwise_args(x.shape, f_shape, strides, padding, dilations)
    _validate.out_backprop(g, (x.shape[0], win.P, win.Q, f_shape[2] * f_shape[3]),
                           "the convolution's output shape")
    return _kernels.depthwise_bwd_filter(x, f_shape, g, win)[0]


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding,
                     data_format=None, dilations=None, name=None):
    """Depthwise convolution, then a 1x1 convolution (tf.nn.separable_conv2d).

    Args:
        input: (N, H, W, C) array.
        depthwise_filter: (R, S, C, M) array.
        pointwise_filter: (1, 1, C*M, K) array.
        strides, padding, dilations: as depthwise_conv2d's (they apply to the depthwise step).

    Returns:
        (N, P, Q, K) float32 array.

    Example:
        >>> import numpy as np
        >>> from pyconv import nn
        >>> x = np.ones((2, 6, 6, 3), np.float32)
        >>> dw, pw = np.ones((3, 3, 3, 1), np.float32), np.ones((1, 1, 3, 8), np.float32)
        >>> nn.separable_conv2d(x, dw, pw, 1, "VALID").shape
        (2, 4, 4, 8)
    """
    pw = as_float32(pointwise_filter, "pointwise_filter", ndim=4)
    dw_shape = np.shape(depthwise_filter)
    if pw.shape[:2] != (1, 1) or len(dw_shape) != 4 or pw.shape[2] != dw_shape[2] * dw_shape[3]:
        raise ValueError(f"`pointwise_filter` must have shape (1, 1, C*M, K) for a "
                         f"`depthwise_filter` (R, S, C, M). Received: "
                         f"depthwise_filter.shape={dw_shape}, pointwise_filter.shape={pw.shape}.")
    z = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format, dilations)
    return conv2d(z, pointwise_filter, 1, "VALID")


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",
                     dilations=None, name=None):
    """The transposed convolution (tf.nn.conv2d_transpose): the gradient of conv2d with
    respect to its input, taken of `input`.

    Args:
        input: (N, P, Q, K) array.
        filters: (R, S, C, K) array: [height, width, output_channels, in_channels].
        output_shape: the output's shape (N, H, W, C): a conv2d of that shape with these
            strides, padding and dilations must give `input`'s (P, Q).
        strides: int, (sh, sw), or (1, sh, sw, 1).
        padding: "VALID", "SAME" (any case) or [[0, 0], [top, bottom], [left, right], [0, 0]]:
            the padding of that conv2d.
        dilations: None (1), int, (dh, dw), or (1, dh, dw, 1).

    Returns:
        (N, H, W, C) float32 array.

    Raises:
        ValueError: ranks, channel counts, strides, dilations or padding are wrong, or
            `output_shape` does not map back to `input`'s shape.

    Example:
        >>> import numpy as np
        >>> from pyconv import nn
        >>> x = np.ones((1, 2, 2, 1), np.float32)
        >>> nn.conv2d_transpose(x, np.ones((3, 3, 1, 1), np.float32), (1, 4, 4, 1), 2)[0, :, :, 0]
        array([[1., 1., 2., 1.],
               [1., 1., 2., 1.],
               [2., 2., 4., 2.],
               [1., 1., 2., 1.]], dtype=float32)
    """
    if data_format != "NHWC":
        raise ValueError(f"`data_format` must be 'NHWC'. Received: data_format={data_format!r}.")
    x = as_float32(input, "input", ndim=4)
    w = as_float32(filters, "filters", ndim=4)
    out_shape = sizes(output_shape, "output_shape")
    if w.shape[3] != x.shape[3] or out_shape[3] != w.shape[2] or out_shape[0] != x.shape[0]:
        raise ValueError(f"`filters` (R, S, C, K) must match `input` (N, P, Q, K) and `output_shape` "
                         f"(N, H, W, C). Received: input.shape={x.shape}, filters.shape={w.shape}, "
                         f"output_shape={out_shape}.")
    win = _conv_args(out_shape, w.shape, strides, padding, 1 if dilations is None else dilations)
    if (win.P, win.Q) != x.shape[1:3]:
        raise ValueError(f"`output_shape` {out_shape} does not map back to `input`'s shape {x.shape}: a "
                         f"conv2d of it with these strides, padding and dilations gives ({win.P}, {win.Q}) "
                         f"pixels.")
    y = _kernels.conv2d_transpose_fwd(x, w, None, False, out_shape, win)
    _tape.record((input, filters), y, lambda g: (
        _kernels.conv2d_fwd(as_float32(g, "g"), w, None, False, win),
        _kernels.conv2d_bwd_filter(as_float32(g, "g"), w.shape, x, win)[0]))
    return y


# ---- dense -------------------------------------------------------------------------------------

def dense(x, kernel, bias=None):
    """x @ kernel (+ bias): the fully connected layer on the blocked GEMM.

    Args:
        x: (N, C) array.
        kernel: (C, K) array.
        bias: (K,) array or None.

    Returns:
        (N, K) float32 array.
    """
    xx = as_float32(x, "x", ndim=2)
    w = as_float32(kernel, "kernel", ndim=2)
    b = None if bias is None else as_float32(bias, "bias", ndim=1)
    if w.shape[0] != xx.shape[1] or (b is not None and b.shape[0] != w.shape[1]):
        raise ValueError(f"`x` (N, C), `kernel` (C, K) and `bias` (K,) must match. Received: "
                         f"x.shape={xx.shape}, kernel.shape={w.shape}, "
                         f"bias.shape={None if b is None else b.shape}.")
    y = _kernels.dense_fwd(xx, w, b)

    def backward(g):
        dx, dw, db = dense_grad(g, xx, w, use_bias=b is not None)
        return (dx, dw) if b is None else (dx, dw, db)
    _tape.record((x, kernel) if b is None else (x, kernel, bias), y, backward)
    return y


def dense_grad(out_backprop, x, kernel, use_bias=True):
    """(dx, dkernel, dbias or None) of dense for the output gradient `out_backprop` (N, K)."""
    g = as_float32(out_backprop, "out_backprop", ndim=2)
    return _kernels.dense_bwd(g, as_float32(x, "x", ndim=2), as_float32(kernel, "kernel", ndim=2),
                              True, use_bias)
