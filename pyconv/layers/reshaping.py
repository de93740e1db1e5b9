"""Spatial reshaping layers (NHWC): ZeroPadding2D, Cropping2D, UpSampling2D, and the
preprocessing layer Rescaling.

These mostly move data (or scale it): each pass is one NumPy slice assignment or broadcast,
a strided copy bound by memory bandwidth, with no arithmetic a C kernel would do better.
UpSampling2D(interpolation="bilinear") interpolates: the resize kernel of csrc/resample.c.
"""
import numpy as np

from .. import _kernels, _validate
from .base import Layer, _shape_str

__all__ = ["ZeroPadding2D", "Cropping2D", "UpSampling2D", "Rescaling"]


def _pairs(v, name):
    """((top, bottom), (left, right)) from an int, 2 ints, or 2 pairs of ints >= 0 (Keras)."""
    what = f"`{name}` must be an int, a tuple of 2 ints, or a tuple of 2 tuples of 2 ints, all >= 0"
    if _validate.is_int(v):
        p = ((v, v), (v, v))
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(_validate.is_int(e) for e in v):
        p = ((v[0], v[0]), (v[1], v[1]))
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(
            isinstance(e, (tuple, list)) and len(e) == 2 and all(_validate.is_int(d) for d in e) for e in v):
        p = (tuple(v[0]), tuple(v[1]))
    else:
        raise ValueError(f"{what}. Received: {name}={v!r}.")
    if any(d < 0 for e in p for d in e):
        raise ValueError(f"{what}. Received: {name}={v!r}.")
    return tuple(tuple(int(d) for d in e) for e in p)


def _channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"`data_format` must be 'channels_last' (pyconv is NHWC). Received: data_format={data_format!r}.")


class ZeroPadding2D(Layer):
    """Zeros added around each image: (batch, H, W, C) -> (batch, H + top + bottom, W + left + right, C).

    Args:
        padding: an int (all sides), (symmetric height, symmetric width), or
            ((top, bottom), (left, right)).

    Example:
        >>> import numpy as np
        >>> ZeroPadding2D(((1, 0), (0, 2)))(np.ones((1, 2, 2, 1))).shape
        (1, 3, 4, 1)
    """

    _input_ndim = 4

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(data_format)
        self.padding = _pairs(padding, "padding")

    def compute_output_shape(self, input_shape):
        (t, b), (l, r) = self.padding
        n, h, w, c = input_shape
        return (n, None if h is None else h + t + b, None if w is None else w + l + r, c)

    def _fwd(self, x, training, fuse=0):
        (t, b), (l, r) = self.padding
        n, h, w, c = x.shape
        y = np.zeros((n, h + t + b, w + l + r, c), np.float32)
        y[:, t:t + h, l:l + w] = x
        return y, (h, w)

    def _bwd(self, hw, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        (t, _), (l, _) = self.padding
        h, w = hw
        return np.ascontiguousarray(dy[:, t:t + h, l:l + w]), []

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": "channels_last"}


class Cropping2D(Layer):
    """Rows and columns cut from each image's borders.

    Args:
        cropping: an int, (symmetric height, symmetric width), or ((top, bottom), (left, right)).

    Example:
        >>> import numpy as np
        >>> Cropping2D(((1, 0), (1, 1)))(np.ones((1, 4, 4, 1))).shape
        (1, 3, 2, 1)
    """

    _input_ndim = 4

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(data_format)
        self.cropping = _pairs(cropping, "cropping")

    def compute_output_shape(self, input_shape):
        (t, b), (l, r) = self.cropping
        n, h, w, c = input_shape
        oh = None if h is None else h - t - b
        ow = None if w is None else w - l - r
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(f'Layer "{self.name}": cropping={self.cropping} leaves nothing of inputs of shape '
                             f"{_shape_str(input_shape)}.")
        return (n, oh, ow, c)

    def _fwd(self, x, training, fuse=0):
        (t, b), (l, r) = self.cropping
        n, h, w, c = x.shape
        if h - t - b < 1 or w - l - r < 1:
            self.compute_output_shape(x.shape)
        return np.ascontiguousarray(x[:, t:h - b, l:w - r]), x.shape

    def _bwd(self, shape, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        (t, b), (l, r) = self.cropping
        dx = np.zeros(shape, np.float32)
        dx[:, t:shape[1] - b, l:shape[2] - r] = dy
        return dx, []

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping], "data_format": "channels_last"}


class UpSampling2D(Layer):
    """Each image enlarged `size` times along H and W: each pixel repeated (interpolation
    'nearest'), or TensorFlow's half-pixel bilinear resize to (H * rows, W * cols) ('bilinear',
    as Keras 3 computes it with `ops.image.resize`: bitwise the same values).

    Args:
        size: an int or (rows, cols) (2, 2).
        interpolation: 'nearest' (default) or 'bilinear' (Keras' 'bicubic' and 'lanczos' are
            not supported: a clear error).

    Example:
        >>> import numpy as np
        >>> UpSampling2D(2)(np.arange(4.0).reshape(1, 2, 2, 1))[0, :, :, 0]
        array([[0., 0., 1., 1.],
               [0., 0., 1., 1.],
               [2., 2., 3., 3.],
               [2., 2., 3., 3.]], dtype=float32)
        >>> UpSampling2D(2, interpolation="bilinear")(np.arange(2.0).reshape(1, 1, 2, 1))[0, 0, :, 0]
        array([0.  , 0.25, 0.75, 1.  ], dtype=float32)
    """

    _input_ndim = 4

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        _channels_last(data_format)
        self.size = _validate.int_pair(size, "size", allow_nhwc=False)
        self.interpolation = _validate.one_of(interpolation, "interpolation", ("nearest", "bilinear"))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        sh, sw = self.size
        return (n, None if h is None else h * sh, None if w is None else w * sw, c)

    def _fwd(self, x, training, fuse=0):
        _, h, w, _ = x.shape
        sh, sw = self.size
        # TF's half-pixel nearest resize by a whole factor reads row o // sh: a repeat.
        return _kernels.resize(x, h * sh, w * sw, self.interpolation), (h, w)

    def _bwd(self, hw, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        return _kernels.resize_grad(dy, hw[0], hw[1], self.interpolation), []

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": "channels_last",
                "interpolation": self.interpolation}


class Rescaling(Layer):
    """x * scale + offset (e.g. Rescaling(1 / 255) for 8-bit images), in training and inference.

    Args:
        scale: a float (or a per-channel list).
        offset: a float (or a per-channel list) (0.0).

    Example:
        >>> import numpy as np
        >>> Rescaling(1 / 255)(np.array([[0.0, 255.0]]))
        array([[0., 1.]], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = np.asarray(_validate.as_float32(scale, "scale"))
        self.offset = np.asarray(_validate.as_float32(offset, "offset"))
        if self.scale.ndim > 1 or self.offset.ndim > 1:
            raise ValueError(f"`scale` and `offset` must be numbers or 1-D (per channel). Received: "
                             f"scale.shape={self.scale.shape}, offset.shape={self.offset.shape}.")

    def _fwd(self, x, training, fuse=0):
        y = x * self.scale
        y += self.offset
        return y.astype(np.float32, copy=False), None

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        return ((dy * self.scale).astype(np.float32, copy=False) if need_dx else None), []

    def get_config(self):
        as_json = lambda a: float(a) if a.ndim == 0 else a.tolist()   # noqa: E731
        return {**super().get_config(), "scale": as_json(self.scale), "offset": as_json(self.offset)}
