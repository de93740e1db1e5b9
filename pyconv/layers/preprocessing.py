"""Preprocessing layers (Keras 3's names, arguments and numerics): Resizing, CenterCrop,
Normalization (with `adapt`). Images are NHWC float32 batches.

Resizing interpolates with the resize kernel of csrc/resample.c (TensorFlow's half-pixel
tf.image.resize, bitwise); crops and pads are NumPy slices. Every pass has a backward (the
transpose of the resize, of the crop, of the normalization), so the layers may sit inside a
trained model.
"""
import math
import numbers

import numpy as np

from .. import _kernels, _validate
from .base import Layer

__all__ = ["Resizing", "CenterCrop", "Normalization"]

# keras.backend.epsilon(): the floor of the standard deviation Normalization divides by
_EPSILON = np.float32(1e-7)


def _channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"`data_format` must be 'channels_last' (pyconv is NHWC). Received: data_format={data_format!r}.")


def _f32_int(a, b):
    """int(float32(a) / float32(b)): TensorFlow's `tf.cast(tf.cast(a, 'float32') / b, 'int32')`."""
    return int(np.float32(a) / np.float32(b))


def aspect_crop_box(h, w, height, width, f32=False):
    """(top, left, crop height, crop width) of the largest centered window of `h` x `w` with
    the aspect ratio of `height` x `width` (Keras' crop_to_aspect_ratio and smart_resize; the
    first in float32 arithmetic, as TensorFlow runs it, the second in Python floats)."""
    div = _f32_int if f32 else (lambda a, b: int(float(a) / b))
    ch = max(min(h, div(w * height, width)), 1)
    cw = max(min(w, div(h * width, height)), 1)
    return div(h - ch, 2), div(w - cw, 2), ch, cw


class _Crop:
    """A crop of an (N, H, W, C) batch and its backward (the gradient put back in place)."""

    @staticmethod
    def forward(x, top, left, ch, cw):
        return np.ascontiguousarray(x[:, top:top + ch, left:left + cw])

    @staticmethod
    def backward(dy, shape, top, left):
        dx = np.zeros(shape, np.float32)
        dx[:, top:top + dy.shape[1], left:left + dy.shape[2]] = dy
        return dx


def resize_forward(x, height, width, interpolation):
    """x resized to (height, width) (a no-op for the same size) and the context of its backward."""
    return _kernels.resize(x, height, width, interpolation), (x.shape[1], x.shape[2])


def resize_backward(hw, dy, interpolation):
    return _kernels.resize_grad(dy, hw[0], hw[1], interpolation)


def _size(v, name):
    if not _validate.is_int(v) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={v!r}.")
    return _validate.window_param((int(v),), name, v)[0]


class Resizing(Layer):
    """Resizes each image to (height, width), as Keras 3's Resizing (tf.image.resize with
    half-pixel centers and no antialiasing; bitwise TensorFlow's values).

    Args:
        height, width: the output size (positive ints).
        interpolation: 'bilinear' (default) or 'nearest'.
        crop_to_aspect_ratio: first crop the largest centered window with the output's aspect
            ratio (no distortion).
        pad_to_aspect_ratio: first pad the short side evenly with `fill_value` to the output's
            aspect ratio (Keras' rule: the same number of rows or columns on both sides).
        fill_mode: 'constant' (the only mode Keras supports).
        fill_value: the padding's value (0.0).

    Input shape: (batch, H, W, C). Output shape: (batch, height, width, C).

    Raises:
        ValueError: a size < 1, an unknown interpolation, both aspect-ratio options.

    Example:
        >>> import numpy as np
        >>> Resizing(2, 3)(np.ones((1, 4, 4, 1))).shape
        (1, 2, 3, 1)
    """

    _input_ndim = 4

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(data_format)
        self.height, self.width = _size(height, "height"), _size(width, "width")
        self.interpolation = _validate.one_of(interpolation, "interpolation", ("bilinear", "nearest"))
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`. "
                             f"Received: crop_to_aspect_ratio={crop_to_aspect_ratio!r}, "
                             f"pad_to_aspect_ratio={pad_to_aspect_ratio!r}.")
        if fill_mode != "constant":
            raise ValueError(f"`fill_mode` must be 'constant' (the only mode of Keras' Resizing). "
                             f"Received: fill_mode={fill_mode!r}.")
        if antialias:
            raise ValueError(f"`antialias` must be False (antialiased resizing has no kernel in pyconv). "
                             f"Received: antialias={antialias!r}.")
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(_validate.as_float32(fill_value, "fill_value", ndim=0))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def _pad_box(self, h, w):
        """(rows added above and below, columns added left and right): Keras' TF rule."""
        ph = max(h, _f32_int(w * self.height, self.width))
        pw = max(w, _f32_int(h * self.width, self.height))
        return _f32_int(ph - h, 2), _f32_int(pw - w, 2)

    def _fwd(self, x, training, fuse=0):
        n, h, w, c = x.shape
        pre = None
        if self.crop_to_aspect_ratio:
            box = aspect_crop_box(h, w, self.height, self.width, f32=True)
            pre = ("crop", x.shape, box)
            x = _Crop.forward(x, *box)
        elif self.pad_to_aspect_ratio:
            dh, dw = self._pad_box(h, w)
            if dh or dw:
                pre = ("pad", x.shape, (dh, dw))
                padded = np.full((n, h + 2 * dh, w + 2 * dw, c), self.fill_value, np.float32)
                padded[:, dh:dh + h, dw:dw + w] = x
                x = padded
        y, rctx = resize_forward(x, self.height, self.width, self.interpolation)
        return y, (pre, rctx)

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        pre, rctx = ctx
        dx = resize_backward(rctx, dy, self.interpolation)
        if pre is not None:
            kind, shape, box = pre
            dx = _Crop.backward(dx, shape, *box[:2]) if kind == "crop" else \
                np.ascontiguousarray(dx[:, box[0]:box[0] + shape[1], box[1]:box[1] + shape[2]])
        return dx, []

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last", "height": self.height,
                "width": self.width, "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": False}


class CenterCrop(Layer):
    """The centered (height, width) window of each image, as Keras 3's CenterCrop: an image
    smaller than that along an axis is instead cropped to the output's aspect ratio and
    resized (bilinear) to (height, width) (Keras' smart_resize).

    Args:
        height, width: the output size (positive ints).

    Input shape: (batch, H, W, C). Output shape: (batch, height, width, C).

    Example:
        >>> import numpy as np
        >>> CenterCrop(2, 2)(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
        array([[ 5.,  6.],
               [ 9., 10.]], dtype=float32)
    """

    _input_ndim = 4

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(data_format)
        self.height, self.width = _size(height, "height"), _size(width, "width")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def _fwd(self, x, training, fuse=0):
        return center_crop_forward(x, self.height, self.width)

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        return (center_crop_backward(ctx, dy) if need_dx else None), []

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last", "height": self.height,
                "width": self.width}


def center_crop_forward(x, height, width):
    """CenterCrop's pass: (y, ctx)."""
    n, h, w, c = x.shape
    if h >= height and w >= width:
        box = ((h - height) // 2, (w - width) // 2, height, width)
        return _Crop.forward(x, *box), (x.shape, box, None)
    return smart_resize_forward(x, height, width)


def smart_resize_forward(x, height, width):
    """Keras' smart_resize: the largest centered window with the aspect ratio of (height,
    width), resized (bilinear) to it. (y, ctx)."""
    box = aspect_crop_box(x.shape[1], x.shape[2], height, width)
    y, rctx = resize_forward(_Crop.forward(x, *box), height, width, "bilinear")
    return y, (x.shape, box, rctx)


def center_crop_backward(ctx, dy):
    """The backward of center_crop_forward and smart_resize_forward."""
    shape, box, rctx = ctx
    if rctx is not None:
        dy = resize_backward(rctx, dy, "bilinear")
    return _Crop.backward(dy, shape, box[0], box[1])


def _axes(axis):
    if axis is None:
        return ()
    if _validate.is_int(axis):
        return (int(axis),)
    if isinstance(axis, (tuple, list)) and all(_validate.is_int(a) for a in axis):
        return tuple(int(a) for a in axis)
    raise ValueError(f"`axis` must be an int, a tuple of ints, or None. Received: axis={axis!r}.")


def _batch_of(b):
    """The inputs of a batch given as x, (x, y) or (x, y, sample_weight) (Keras' rule)."""
    return b[0] if isinstance(b, tuple) else b


class Normalization(Layer):
    """(x - mean) / max(sqrt(variance), 1e-7) per position of the kept `axis`, with the mean
    and variance given or learned by `adapt` (Keras 3's layer and numerics; `invert=True`
    computes mean + x * max(sqrt(variance), 1e-7)).

    Args:
        axis: the axis or axes that keep their own statistics (-1: per feature / channel;
            None: one mean and variance for everything).
        mean, variance: the statistics (numbers or arrays broadcast to the kept axes), both
            or neither; neither: call `adapt(data)` before use.
        invert: undo the normalization instead.

    Example:
        >>> import numpy as np
        >>> norm = Normalization()
        >>> norm.adapt(np.array([[1.0, 10.0], [3.0, 30.0]]))
        >>> norm(np.array([[2.0, 20.0]]))
        array([[0., 0.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes(axis)
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean!r} and variance={variance!r}.")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("When setting values directly, `mean` and `variance` must have the "
                                 f"same shape. Received: mean shape {np.shape(mean)} and variance shape "
                                 f"{np.shape(variance)}.")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis "
                                 f"{self.axis}.")
            _validate.as_float32(mean, "mean")
            _validate.as_float32(variance, "variance")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self._stats = None   # (mean, variance) broadcastable float32, set by build / adapt

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs "
                             f"with ndim={ndim}, while axis={self.axis}.")
        keep = tuple(sorted(a % ndim for a in self.axis))
        for d in keep:
            if input_shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. Received "
                                 f"axis={self.axis}, inputs.shape={tuple(input_shape)}, with unknown "
                                 f"axis at index {d}.")
        self._keep = keep
        self._reduce = tuple(d for d in range(ndim) if d not in keep)
        self._bshape = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        stat_shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stat_shape, initializer="zeros",
                                              trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=stat_shape, initializer="ones",
                                                  trainable=False)
            # Keras keeps an integer `count` (always 0) for older files: here a float32 0
            self.count = self.add_weight(name="count", shape=(), initializer="zeros", trainable=False)
        else:
            exp = [1] * ndim
            mean = np.asarray(self.input_mean, np.float32)
            var = np.asarray(self.input_variance, np.float32)
            for i in range(1, mean.ndim + 1):   # Keras: mean's axes align with the kept ones, right to left
                exp[keep[-i]] = mean.shape[-i]
            try:
                self._stats = (np.broadcast_to(mean.reshape(exp), self._bshape),
                               np.broadcast_to(var.reshape(exp), self._bshape))
            except ValueError:
                raise ValueError(f"`mean` of shape {mean.shape} does not broadcast to the kept axes "
                                 f"{tuple(stat_shape)} of inputs of shape {tuple(input_shape)}.") from None

    def _check_built_shape(self, shape):
        if len(shape) != len(self._bshape):
            raise self._incompatible(f"expected ndim={len(self._bshape)}, found ndim={len(shape)}", shape)
        for d in self._keep:
            if shape[d] != self._bshape[d]:
                raise self._incompatible(f"axis {d} must have size {self._bshape[d]} (the statistics')", shape)

    def _mean_std(self):
        if self._stats is not None:
            mean, var = self._stats
        else:
            mean = self.adapt_mean.reshape(self._bshape)
            var = self.adapt_variance.reshape(self._bshape)
        return mean, np.maximum(np.sqrt(var), _EPSILON)

    def _fwd(self, x, training, fuse=0):
        mean, std = self._mean_std()
        y = mean + x * std if self.invert else (x - mean) / std
        return y.astype(np.float32, copy=False), std

    def _bwd(self, std, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        return (dy * std if self.invert else dy / std).astype(np.float32, copy=False), []

    def adapt(self, data):
        """Set the mean and variance from `data`: an array (its statistics over the reduced
        axes, computed by NumPy in the array's own precision), or an iterable of batches (a
        list, a generator, a PyDataset; (x, y) batches use x), merged batch by batch in float32
        by Keras' formula.

        Raises:
            ValueError: the layer was given `mean` and `variance`, no batch, or a batch whose
                kept axes differ from the layer's.
        """
        from ..models.data_adapters import PyDataset
        if self.input_mean is not None:
            raise ValueError(f'Layer "{self.name}" was given `mean` and `variance`: it has nothing to adapt.')
        if isinstance(data, np.ndarray):
            arr = _validate.as_float32(data, "data", convert=False)
            self._ensure_adapt_built(arr.shape)
            mean, var = np.mean(arr, axis=self._reduce), np.var(arr, axis=self._reduce)
        else:
            if isinstance(data, PyDataset):
                ds = data
                data = (ds[i] for i in range(len(ds)))
            elif not hasattr(data, "__iter__"):
                raise TypeError(f"`data` must be an array or an iterable of batches (a list, a generator, "
                                f"a PyDataset). Received: data of type {type(data).__name__}.")
            mean = var = None
            count = 0
            for b in data:
                b = _validate.as_float32(_batch_of(b), "data")
                self._ensure_adapt_built(b.shape)
                if mean is None:
                    mean = np.zeros(self.adapt_mean.shape, np.float32)
                    var = np.zeros(self.adapt_mean.shape, np.float32)
                bm = np.mean(b, axis=self._reduce, dtype=np.float32)
                bv = np.var(b, axis=self._reduce, dtype=np.float32)
                n = math.prod(b.shape[d] for d in self._reduce)
                count += n
                bw = np.float32(n / count)
                ew = np.float32(1.0 - n / count)
                new_mean = mean * ew + bm * bw
                var = (var + (mean - new_mean) ** 2) * ew + (bv + (bm - new_mean) ** 2) * bw
                mean = new_mean
            if mean is None:
                raise ValueError("adapt() received an empty iterable (no batches). Expected at least one "
                                 "batch, e.g. layer.adapt([x]).")
        np.copyto(self.adapt_mean, np.asarray(mean, np.float32).reshape(self.adapt_mean.shape))
        np.copyto(self.adapt_variance, np.asarray(var, np.float32).reshape(self.adapt_variance.shape))

    def _ensure_adapt_built(self, shape):
        if not self.built:
            self._maybe_build(tuple(shape))
            return
        if len(shape) != len(self._bshape) or any(shape[d] != self._bshape[d] for d in self._keep):
            raise ValueError(f'Layer "{self.name}" was built for inputs of shape {self.input_shape}, but '
                             f"adapt() received data of an incompatible shape {tuple(shape)}.")

    def get_config(self):
        def plain(v):
            return None if v is None else (float(v) if isinstance(v, numbers.Real) else np.asarray(v).tolist())
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": plain(self.input_mean), "variance": plain(self.input_variance)}
