"""Pooling layers: one pooling kernel forward (pyconv._kernels, csrc/pool2d.c), its gradient
kernel backward; the window checked by pyconv.nn's pooling checks once per input shape."""
from .. import _geometry, _kernels, _nn_pool, _validate
from .base import POOL_DEFER, RELU_MASK, Layer, _shape_str

__all__ = ["MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
           "GlobalAvgPool2D", "GlobalMaxPooling2D", "GlobalMaxPool2D"]


def _channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"`data_format` must be 'channels_last' (pyconv is NHWC). "
                         f"Received: data_format={data_format!r}.")


class _Pooling2D(Layer):
    _input_ndim = 4

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(data_format)
        self.pool_size = _validate.int_pair(pool_size, "pool_size", allow_nhwc=False)
        self.strides = self.pool_size if strides is None else _validate.int_pair(strides, "strides", allow_nhwc=False)
        self.padding = _validate.one_of(padding, "padding", ("valid", "same"))
        self._pad = self.padding.upper()
        self._geom = None

    def _geometry(self, shape, op):
        """The kernels' Window (pyconv._geometry) for an input shape, computed once per shape."""
        g = self._geom
        if g is None or g[0] != shape:
            g = self._geom = (shape, _nn_pool._Pool(shape, self.pool_size, self.strides, self._pad,
                                                    None, op).geom)
        return g[1]

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        p = _geometry.out_length(h, self.pool_size[0], self.strides[0], 1, self.padding)
        q = _geometry.out_length(w, self.pool_size[1], self.strides[1], 1, self.padding)
        if (p is not None and p < 1) or (q is not None and q < 1):
            raise ValueError(f'Layer "{self.name}" cannot take input shape {_shape_str(input_shape)}: a '
                             f"{self.pool_size[0]}x{self.pool_size[1]} pool with padding='valid' needs "
                             f"inputs of at least that size.")
        return (n, p, q, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    """Max over `pool_size` windows moved by `strides` (default: pool_size).

    Args:
        pool_size: an int or a tuple of 2 ints ((2, 2)).
        strides: an int, a tuple of 2 ints, or None (= pool_size).
        padding: 'valid' or 'same'.

    Input shape: (batch, H, W, C). Output shape: (batch, P, Q, C).

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.MaxPooling2D((2, 2))(np.ones((1, 26, 26, 32))).shape
        (1, 13, 13, 32)
    """

    def _fwd(self, x, training, fuse=0):
        x = _validate.as_float32(x, "inputs", ndim=4)
        return _kernels.maxpool2d_fwd(x, self._geometry(x.shape, "max_pool")), x

    def _bwd(self, x, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        # with RELU_MASK, the previous layer's relu is folded in: its mask applied in the same pass
        grad = PooledGrad(_validate.as_float32(dy, "dy", ndim=4), x, self._geometry(x.shape, "max_pool"),
                          bool(fuse & RELU_MASK))
        # POOL_DEFER is planned with RELU_MASK only (the conv below has no other reader)
        return (grad if fuse & POOL_DEFER and fuse & RELU_MASK else grad.array()), []


class PooledGrad:
    """A max pooling's input gradient, not yet computed: what a POOL_DEFER pooling hands the
    Conv2D below it (pyconv/_graph.py), whose filter gradient is then computed from the
    pooling's dout without it (_kernels.conv2d_bwd_filter_pooled). `array()` computes it."""
    __slots__ = ("dy", "x", "win", "relu_mask")

    def __init__(self, dy, x, win, relu_mask):
        self.dy, self.x, self.win, self.relu_mask = dy, x, win, relu_mask

    def array(self):
        return _kernels.maxpool2d_bwd(self.dy, self.x, self.win, relu_mask=self.relu_mask)


class AveragePooling2D(_Pooling2D):
    """Mean over `pool_size` windows (with 'same' padding, over the valid pixels only)."""

    def _fwd(self, x, training, fuse=0):
        x = _validate.as_float32(x, "inputs", ndim=4)
        return _kernels.avgpool2d_fwd(x, self._geometry(x.shape, "avg_pool")), x.shape

    def _bwd(self, shape, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        return _kernels.avgpool2d_bwd(_validate.as_float32(dy, "dy", ndim=4), shape,
                                      self._geometry(shape, "avg_pool")), []


class _GlobalPooling2D(Layer):
    _input_ndim = 4

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        _channels_last(data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def _out(self, y):
        return y.reshape(len(y), 1, 1, -1) if self.keepdims else y

    def _dy(self, dy):
        return dy.reshape(len(dy), -1) if self.keepdims else dy

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over H and W: (batch, H, W, C) -> (batch, C) (or (batch, 1, 1, C) with keepdims)."""

    def _fwd(self, x, training, fuse=0):
        x = _nn_pool._global_input(x)
        return self._out(_kernels.global_avgpool2d_fwd(x)), x.shape

    def _bwd(self, shape, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        return _kernels.global_avgpool2d_bwd(_validate.as_float32(self._dy(dy), "dy"), shape), []


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over H and W: (batch, H, W, C) -> (batch, C) (or (batch, 1, 1, C) with keepdims)."""

    def _fwd(self, x, training, fuse=0):
        x = _nn_pool._global_input(x)
        return self._out(_kernels.global_maxpool2d_fwd(x)), x

    def _bwd(self, x, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        return _kernels.global_maxpool2d_bwd(_validate.as_float32(self._dy(dy), "dy"), x), []


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
