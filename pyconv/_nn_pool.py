"""Pooling ops in tf.nn style: max/average pooling, their gradients, global and depth-wise pooling.

Re-exported by pyconv.nn (`from ._nn_pool import *`). NHWC float32 in and out; the work is
done by csrc/pool2d.c through pyconv._kernels. Conventions, as in tf.nn:

- `ksize` and `strides`: an int, a tuple of 1 or 2 ints (height, width), or 4 ints NHWC.
  The batch entry must be 1: pooling over the batch axis is not supported (nor by TF).
- A 4-tuple ksize (1, 1, 1, k) with strides (1, 1, 1, k) is depth-wise max pooling: windows of
  k channels, out (N, H, W, C/k); k must divide C. Depth-wise AVERAGE pooling is refused
  (ValueError); so is a window over the spatial axes and the depth axis at once.
- `padding`: "VALID" or "SAME" (any case; SAME is TensorFlow's rule: P = ceil(H / stride),
  the odd padding row/column at the bottom/right), or explicit
  [[0, 0], [top, bottom], [left, right], [0, 0]]. Explicit padding is accepted by max_pool
  and avg_pool alike; each pad must be smaller than the window along its axis, so that every
  window holds at least one input element.
- Padding never wins a max, and average pooling leaves padding out of the count (as TF).
- Max pooling's gradient goes to the FIRST maximum of each window in row-major scan order:
  with ties (e.g. a constant input) the top-left-most maximum gets it all.

Every forward op records itself on the gradient tape (pyconv._tape) with the argument the
caller passed as its input identity.

Example (pyconv.nn.max_pool is this max_pool):
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    >>> max_pool(x, ksize=2, strides=2, padding="VALID")[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
"""
import numpy as np

from . import _geometry, _kernels, _tape, _validate
from ._validate import as_float32, check_alloc, is_int, sizes, window_param

__all__ = ["max_pool", "max_pool2d", "avg_pool", "avg_pool2d", "max_pool_grad", "avg_pool_grad",
           "global_max_pool", "global_avg_pool", "global_max_pool_grad", "global_avg_pool_grad"]


# ---- argument checks -------------------------------------------------------------------------

def _window(v, name):
    """ksize or strides as 4 positive ints (batch, height, width, depth)."""
    what = "a positive int, a tuple of 2 positive ints, or 4 positive ints NHWC"
    if is_int(v):
        vals = (1, int(v), int(v), 1)
    elif isinstance(v, (tuple, list, np.ndarray)):
        vals = tuple(np.asarray(v).ravel().tolist()) if isinstance(v, np.ndarray) else tuple(v)
        if not all(is_int(e) for e in vals):
            raise TypeError(f"`{name}` must be {what}. Received: {name}={v!r}.")
        if len(vals) == 1:
            vals = (1, vals[0], vals[0], 1)
        elif len(vals) == 2:
            vals = (1, vals[0], vals[1], 1)
        elif len(vals) != 4:
            raise ValueError(f"`{name}` must be {what}. Received: {name}={v!r}.")
        vals = tuple(int(e) for e in vals)
    else:
        raise TypeError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    if min(vals) < 1:
        raise ValueError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    window_param(vals, name, v)
    if vals[0] != 1:
        raise ValueError(f"`{name}` must be 1 at the batch axis: pooling over the batch axis is "
                         f"not supported (nor by TensorFlow); for a 2x2 window write "
                         f"(1, 2, 2, 1) or 2. Received: {name}={v!r}.")
    return vals


def _data_format(data_format):
    if data_format not in (None, "NHWC"):
        raise ValueError(f"`data_format` must be 'NHWC' (the only layout pyconv supports). "
                         f"Received: data_format={data_format!r}.")


def _out_size(size, window, stride, padding, ksize, shape, axis):
    """(output size, pad before) along spatial axis `axis` (0: height, 1: width), refusing
    a window that would hold padding only or does not fit."""
    name = ("height", "width")[axis]
    before, after = padding[axis] if isinstance(padding, tuple) else (0, 0)
    if before >= window or after >= window:
        raise ValueError(f"explicit `padding` must be smaller than the window along each axis, "
                         f"so that every window holds an input element. Received: padding "
                         f"{(before, after)} along the {name} for a window of {window}.")
    if padding != "same" and size + before + after < window:
        raise ValueError(f"`ksize` must fit in the (padded) input: a window of {window} along "
                         f"the {name} does not fit in {size + before + after}. "
                         f"Received: ksize={ksize!r}, input.shape={shape}.")
    return _geometry.out_size(size, window, stride, padding, axis)


class _Pool:
    """The checked geometry of one pooling call: either depth-wise (depth = k) or spatial
    (geom: the Window, pyconv._geometry's, that pyconv._kernels' pooling takes)."""

    def __init__(self, shape, ksize, strides, padding, data_format, op):
        _data_format(data_format)
        k, st = _window(ksize, "ksize"), _window(strides, "strides")
        mode = _validate.padding(padding)
        N, H, W, C = shape
        self.depth = None
        if k[3] > 1:
            if k[1] > 1 or k[2] > 1:
                raise ValueError(f"`ksize` may pool over the spatial axes or over the depth axis, "
                                 f"not both. Received: ksize={ksize!r}.")
            if op != "max_pool":
                raise ValueError(f"depth-wise pooling (ksize[3] > 1) is supported by max_pool "
                                 f"only. Received: ksize={ksize!r} in {op}.")
            if st != (1, 1, 1, k[3]):
                raise ValueError(f"depth-wise max pooling needs strides (1, 1, 1, k) with k = "
                                 f"ksize[3]. Received: ksize={ksize!r}, strides={strides!r}.")
            if C % k[3] != 0:
                raise ValueError(f"depth-wise max pooling needs ksize[3] to divide the input "
                                 f"depth. Received: ksize={ksize!r}, input.shape={shape}.")
            if isinstance(mode, tuple) and any(mode[0] + mode[1]):
                raise ValueError(f"depth-wise max pooling takes no spatial padding. "
                                 f"Received: padding={padding!r}.")
            self.depth = k[3]
            self.out_shape = (N, H, W, C // k[3])
            return
        if st[3] != 1:
            raise ValueError(f"`strides` must be 1 at the channel axis unless ksize is a "
                             f"depth-wise window (1, 1, 1, k). Received: strides={strides!r}.")
        if H < 1 or W < 1:
            raise ValueError(f"`input` must have a non-empty height and width. "
                             f"Received: input.shape={shape}.")
        P, pad_top = _out_size(H, k[1], st[1], mode, ksize, shape, 0)
        Q, pad_left = _out_size(W, k[2], st[2], mode, ksize, shape, 1)
        self.geom = _geometry.Window(P, Q, k[1], k[2], st[1], st[2], 1, 1, pad_top, pad_left)
        self.out_shape = (N, P, Q, C)
        check_alloc(self.out_shape, f"The output of {op}")


# ---- max and average pooling --------------------------------------------------------------

def max_pool(input, ksize, strides, padding, data_format="NHWC", name=None):
    """Max pooling over windows of an NHWC batch of images (tf.nn.max_pool).

    Args:
        input: (N, H, W, C) array; float64, int and bool are converted to float32.
        ksize: the window: an int, (height, width), or 4 ints NHWC. (1, 1, 1, k) is
            depth-wise pooling over k channels (then strides must be (1, 1, 1, k)).
        strides: the window's step, in the same forms.
        padding: "VALID", "SAME" (any case) or [[0, 0], [top, bottom], [left, right], [0, 0]].
        data_format: "NHWC" (the only layout).
        name: ignored (tf.nn compatibility).

    Input shape:
        (N, H, W, C).

    Output shape:
        (N, P, Q, C) float32 with P = (H + pads - R) // stride_h + 1 (VALID, explicit) or
        ceil(H / stride_h) (SAME); (N, H, W, C // k) for depth-wise pooling.

    Raises:
        TypeError: `input` is not real-valued, or ksize/strides are not ints.
        ValueError: `input` is not 4-D; ksize/strides are not positive, pool over the batch
            axis, or mix spatial and depth windows; the window does not fit in the (padded)
            input with VALID/explicit padding; bad `padding` or `data_format`.

    Example:
        >>> import numpy as np
        >>> x = np.array([1., 5., 2., 3., 4., 0.]).reshape(1, 1, 2, 3)
        >>> max_pool(x, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="valid")[0, 0]
        array([[5.],
               [4.]], dtype=float32)
    """
    x = as_float32(input, "input", ndim=4)
    pool = _Pool(x.shape, ksize, strides, padding, data_format, "max_pool")
    if pool.depth is not None:
        y = _kernels.depthwise_maxpool2d_fwd(x, pool.depth)
    else:
        y = _kernels.maxpool2d_fwd(x, pool.geom)
    _tape.record((input,), y, lambda g: (max_pool_grad(x, g, ksize, strides, padding),))
    return y


def avg_pool(input, ksize, strides, padding, data_format="NHWC", name=None):
    """Average pooling over windows of an NHWC batch of images (tf.nn.avg_pool).

    Padding is left out of each window's count, as in TensorFlow. Depth-wise windows are not
    supported here (only max_pool pools over channels).

    Args:
        input: (N, H, W, C) array; float64, int and bool are converted to float32.
        ksize: the window: an int, (height, width), or 4 ints NHWC with 1 at batch and channel.
        strides: the window's step, in the same forms.
        padding: "VALID", "SAME" (any case) or [[0, 0], [top, bottom], [left, right], [0, 0]].
        data_format: "NHWC" (the only layout).
        name: ignored (tf.nn compatibility).

    Input shape:
        (N, H, W, C).

    Output shape:
        (N, P, Q, C) float32, P and Q as in max_pool.

    Raises:
        TypeError, ValueError: as max_pool; and ValueError for a depth-wise window.

    Example:
        >>> import numpy as np
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> avg_pool(x, ksize=2, strides=2, padding="SAME")[0, :, :, 0]
        array([[2. , 3.5],
               [6.5, 8. ]], dtype=float32)
    """
    x = as_float32(input, "input", ndim=4)
    pool = _Pool(x.shape, ksize, strides, padding, data_format, "avg_pool")
    y = _kernels.avgpool2d_fwd(x, pool.geom)
    _tape.record((input,), y, lambda g: (avg_pool_grad(x.shape, g, ksize, strides, padding),))
    return y


max_pool2d = max_pool
avg_pool2d = avg_pool


def max_pool_grad(input, out_backprop, ksize, strides, padding, data_format="NHWC", name=None):
    """The gradient of max_pool with respect to its input.

    Each element of `out_backprop` goes to the first maximum (row-major scan order) of its
    window in `input`; overlapping windows add up. Depth-wise windows (1, 1, 1, k) as in
    max_pool.

    Args:
        input: the forward's (N, H, W, C) input.
        out_backprop: the gradient of the pooled output, shaped like max_pool's result.
        ksize, strides, padding, data_format, name: as given to max_pool.

    Output shape:
        (N, H, W, C) float32.

    Raises:
        ValueError: as max_pool, or `out_backprop` not shaped like the pooled output.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1., 3.], [3., 0.]]).reshape(1, 2, 2, 1)
        >>> max_pool_grad(x, np.ones((1, 1, 1, 1)), 2, 2, "VALID")[0, :, :, 0]
        array([[0., 1.],
               [0., 0.]], dtype=float32)
    """
    x = as_float32(input, "input", ndim=4)
    g = as_float32(out_backprop, "out_backprop")
    pool = _Pool(x.shape, ksize, strides, padding, data_format, "max_pool")
    _validate.out_backprop(g, pool.out_shape, "the shape of the pooled output")
    if pool.depth is not None:
        return _kernels.depthwise_maxpool2d_bwd(g, x, pool.depth)
    return _kernels.maxpool2d_bwd(g, x, pool.geom)


def avg_pool_grad(input_sizes, out_backprop, ksize, strides, padding, data_format="NHWC",
                  name=None):
    """The gradient of avg_pool with respect to its input.

    Each element of `out_backprop` is shared equally among the input elements of its window
    (padding excluded); overlapping windows add up.

    Args:
        input_sizes: the forward input's shape, 4 non-negative ints (N, H, W, C).
        out_backprop: the gradient of the pooled output, shaped like avg_pool's result.
        ksize, strides, padding, data_format, name: as given to avg_pool.

    Output shape:
        `input_sizes`, float32.

    Raises:
        ValueError: as avg_pool, a malformed `input_sizes`, or `out_backprop` not shaped
            like the pooled output.

    Example:
        >>> import numpy as np
        >>> avg_pool_grad((1, 2, 2, 1), np.ones((1, 1, 1, 1)), 2, 2, "VALID")[0, :, :, 0]
        array([[0.25, 0.25],
               [0.25, 0.25]], dtype=float32)
    """
    shape = sizes(input_sizes, "input_sizes")
    g = as_float32(out_backprop, "out_backprop")
    pool = _Pool(shape, ksize, strides, padding, data_format, "avg_pool")
    _validate.out_backprop(g, pool.out_shape, "the shape of the pooled output")
    return _kernels.avgpool2d_bwd(g, shape, pool.geom)


# ---- global pooling ------------------------------------------------------------------------

def _global_input(input):
    x = as_float32(input, "input", ndim=4)
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"`input` must have a non-empty height and width for global pooling. "
                         f"Received: input.shape={x.shape}.")
    return x


def global_avg_pool(input):
    """The mean over the height and width of each image and channel.

    Args:
        input: (N, H, W, C) array, H and W >= 1.

    Output shape:
        (N, C) float32.

    Raises:
        TypeError: `input` is not real-valued.
        ValueError: `input` is not 4-D, or has no pixels.

    Example:
        >>> import numpy as np
        >>> global_avg_pool(np.arange(8.).reshape(1, 2, 2, 2))
        array([[3., 4.]], dtype=float32)
    """
    x = _global_input(input)
    y = _kernels.global_avgpool2d_fwd(x)
    _tape.record((input,), y, lambda g: (global_avg_pool_grad(x.shape, g),))
    return y


def global_max_pool(input):
    """The max over the height and width of each image and channel.

    Args:
        input: (N, H, W, C) array, H and W >= 1.

    Output shape:
        (N, C) float32.

    Raises:
        TypeError: `input` is not real-valued.
        ValueError: `input` is not 4-D, or has no pixels.

    Example:
        >>> import numpy as np
        >>> global_max_pool(np.arange(8.).reshape(1, 2, 2, 2))
        array([[6., 7.]], dtype=float32)
    """
    x = _global_input(input)
    y = _kernels.global_maxpool2d_fwd(x)
    _tape.record((input,), y, lambda g: (global_max_pool_grad(x, g),))
    return y


def global_avg_pool_grad(input_sizes, out_backprop):
    """The gradient of global_avg_pool: out_backprop (N, C) / (H * W) at every pixel.

    Args:
        input_sizes: the forward input's shape, 4 non-negative ints (N, H, W, C), H, W >= 1.
        out_backprop: (N, C).

    Output shape:
        `input_sizes`, float32.

    Raises:
        ValueError: a malformed `input_sizes`, or `out_backprop` not (N, C).
    """
    shape = sizes(input_sizes, "input_sizes")
    if shape[1] < 1 or shape[2] < 1:
        raise ValueError(f"`input_sizes` must have a non-empty height and width for global "
                         f"pooling. Received: input_sizes={input_sizes!r}.")
    g = as_float32(out_backprop, "out_backprop")
    _validate.out_backprop(g, (shape[0], shape[3]), "the shape of the pooled output")
    return _kernels.global_avgpool2d_bwd(g, shape)


def global_max_pool_grad(input, out_backprop):
    """The gradient of global_max_pool: out_backprop (N, C) at the first maximum pixel (in
    row-major order) of each image and channel, zero elsewhere.

    Args:
        input: the forward's (N, H, W, C) input.
        out_backprop: (N, C).

    Output shape:
        (N, H, W, C) float32.

    Raises:
        ValueError: as global_max_pool, or `out_backprop` not (N, C).
    """
    x = _global_input(input)
    g = as_float32(out_backprop, "out_backprop")
    _validate.out_backprop(g, (x.shape[0], x.shape[3]), "the shape of the pooled output")
    return _kernels.global_maxpool2d_bwd(g, x)
