"""Random image augmentation layers (Keras 3's names, arguments, transforms and numerics):
RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast, RandomCrop.

Active only when training (`fit`, or `training=True`); otherwise the identity (RandomCrop:
its inference rule, Keras' documented center crop and resize). Rotations, translations and
zooms build one 2x3 map per image exactly as Keras 3 does and sample with the projective
sampler of csrc/resample.c (ImageProjectiveTransformV3's numerics, every fill mode).

Randomness: each training call draws ONE 64-bit seed from the layer's own generator (a
`seed` was given) or from pyconv's (pyconv.utils.set_random_seed), and makes a private
numpy Generator from it for all of that call's draws. The one draw is atomic (a numpy
Generator serializes its draws on its bit generator's lock), so calls from several threads
never share a generator mid-call, and nothing of a call is stored on the layer: the draws and
the transforms live in the call's ctx. The stream is pyconv's, not Keras's (same
distributions, other numbers).

Backward: each layer has the transpose of its pass (flips flip the gradient back; the sampler
scatters it; contrast and crop as their formulas), so a model that trains through them gets
the gradients TensorFlow gives (Keras 3 on TensorFlow differentiates through them too).
"""
import math
import numbers

import numpy as np

from .. import _kernels, _validate, utils
from .base import Layer
from .preprocessing import (_Crop, _channels_last, _size, aspect_crop_box, center_crop_backward,
                            resize_backward, resize_forward, smart_resize_forward)

__all__ = ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast",
           "RandomCrop", "rotation_transforms", "translation_transforms", "zoom_transforms",
           "contrast_forward", "contrast_backward"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _factor_pair(v, name, lo, hi, lo_open=False):
    """(lower, upper) from a number f (-|f|, |f|) or a pair (sorted), each in [lo, hi] (or
    (lo, hi] with lo_open): Keras' factor rule; the lower end clipped at lo."""
    what = (f"`{name}` must be a number (or a list of two numbers) in the range "
            f"{'(' if lo_open else '['}{lo}, {hi}]")
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(_real(e) for e in v):
        vals = sorted(float(e) for e in v)
    elif _real(v):
        vals = [-abs(float(v)), abs(float(v))]
    else:
        raise ValueError(f"{what}. Received: {name}={v!r}.")
    scalar = _real(v)
    for e in ([float(v)] if scalar else vals):
        if not (lo < e <= hi if lo_open else lo <= e <= hi):
            raise ValueError(f"{what}. Received: {name}={v!r}.")
    return max(vals[0], lo), vals[1]


def _real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _seed(seed):
    if seed is not None and (not _validate.is_int(seed) or seed < 0):
        raise ValueError(f"`seed` must be None or an int >= 0. Received: seed={seed!r}.")
    return None if seed is None else int(seed)


class _RandomLayer(Layer):
    """Base: the seed, one private generator per training call, identity at inference."""

    _input_ndim = 4

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(data_format)
        self.seed = _seed(seed)
        self._gen = None if self.seed is None else np.random.default_rng(self.seed)

    def _call_rng(self):
        """A generator of this call's own, from one draw of the layer's (or pyconv's) generator."""
        source = self._gen if self._gen is not None else utils.get_rng()
        return np.random.default_rng(int(source.integers(0, 2**63)))

    def _fwd(self, x, training, fuse=0):
        if not training:
            return x, None
        return self._train_fwd(x, self._call_rng())

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        return (dy if ctx is None else self._train_bwd(ctx, dy)), []

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last", "seed": self.seed}


def _uniform(rng, lo, hi, shape):
    """float32 uniforms in [lo, hi) (keras.random.uniform's float32 arithmetic)."""
    return rng.random(shape, dtype=np.float32) * np.float32(hi - lo) + np.float32(lo)


class RandomFlip(_RandomLayer):
    """While training, flips each image with probability 1/2.

    Args:
        mode: 'horizontal', 'vertical' or 'horizontal_and_vertical' (default). As in Keras 3,
            'horizontal_and_vertical' draws ONE coin per image: a flipped image is flipped
            along both axes.
        seed: an int for the layer's own generator (default: pyconv's generator).

    Example:
        >>> import numpy as np
        >>> x = np.arange(4.0).reshape(1, 2, 2, 1)
        >>> bool((RandomFlip()(x) == x).all())   # inference: the identity
        True
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = _validate.one_of(mode, "mode", ("horizontal", "vertical", "horizontal_and_vertical"))
        self._axes = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (2, 1)}[self.mode]

    def _flip(self, x, flips):
        y = x.copy()
        for ax in self._axes:
            y[flips] = np.flip(y[flips], axis=ax)
        return y

    def _train_fwd(self, x, rng):
        flips = _uniform(rng, 0.0, 1.0, x.shape[0]) <= np.float32(0.5)
        return self._flip(x, flips), flips

    def _train_bwd(self, flips, dy):
        return self._flip(dy, flips)   # a flip is its own transpose

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def rotation_transforms(angles_deg, height, width):
    """(N, 8) float32 maps of a rotation by `angles_deg` (N,) about the image center, in
    Keras 3's float32 arithmetic (BaseImagePreprocessingLayer._compute_affine_matrix with no
    translation, shear or scaling)."""
    theta = np.asarray(angles_deg, np.float32) * np.float32(math.pi / 180.0)
    cos, sin = np.cos(theta), np.sin(theta)
    cx = np.float32(0.5) * (np.float32(width) - np.float32(1))
    cy = np.float32(0.5) * (np.float32(height) - np.float32(1))
    t = np.zeros((theta.shape[0], 8), np.float32)
    t[:, 0], t[:, 1] = cos, -sin
    t[:, 2] = cx - cx * cos - cy * -sin
    t[:, 3], t[:, 4] = sin, cos
    t[:, 5] = cy - cx * sin - cy * cos
    return t


def translation_transforms(dx, dy):
    """(N, 8) float32 maps of a shift by (dx, dy) pixels (N,) each (RandomTranslation's)."""
    t = np.zeros((len(dx), 8), np.float32)
    t[:, 0] = t[:, 4] = 1.0
    t[:, 2], t[:, 5] = -np.asarray(dx, np.float32), -np.asarray(dy, np.float32)
    return t


def zoom_transforms(zx, zy, height, width):
    """(N, 8) float32 maps of a zoom by (zx, zy) (N,) each about the center (RandomZoom's:
    a factor > 1 shows more of the image, smaller)."""
    zx, zy = np.asarray(zx, np.float32), np.asarray(zy, np.float32)
    t = np.zeros((len(zx), 8), np.float32)
    t[:, 0], t[:, 4] = zx, zy
    t[:, 2] = (np.float32(width) - np.float32(1)) / np.float32(2) * (np.float32(1) - zx)
    t[:, 5] = (np.float32(height) - np.float32(1)) / np.float32(2) * (np.float32(1) - zy)
    return t


class _AffineLayer(_RandomLayer):
    """A random map per image, sampled by affine_sample (fill mode, interpolation, fill value)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.fill_mode = _validate.one_of(fill_mode, "fill_mode", _FILL_MODES)
        self.interpolation = _validate.one_of(interpolation, "interpolation", _INTERPOLATIONS)
        self.fill_value = float(_validate.as_float32(fill_value, "fill_value", ndim=0))

    def _train_fwd(self, x, rng):
        t = self._transforms(rng, *x.shape[:3])
        return _kernels.affine_sample(x, t, self.interpolation, self.fill_mode, self.fill_value), t

    def _train_bwd(self, t, dy):
        return _kernels.affine_sample_grad(dy, t, self.interpolation, self.fill_mode)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


class RandomRotation(_AffineLayer):
    """While training, rotates each image by a random angle about its center.

    Args:
        factor: a fraction of a full turn: f (angles in [-f * 360, f * 360] degrees) or
            (lower, upper), each in [-1, 1].
        fill_mode: how points outside the image are filled: 'reflect' (default), 'wrap',
            'constant' (with `fill_value`), 'nearest'.
        interpolation: 'bilinear' (default) or 'nearest'.
        seed: an int for the layer's own generator (default: pyconv's generator).
        fill_value: the value of 'constant' (0.0).

    Example:
        >>> import numpy as np
        >>> RandomRotation(0.1, seed=1)(np.ones((2, 4, 4, 1)), training=True).shape
        (2, 4, 4, 1)
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_pair(factor, "factor", -1.0, 1.0)

    def _transforms(self, rng, n, h, w):
        lo, hi = self.factor
        return rotation_transforms(_uniform(rng, lo * 360.0, hi * 360.0, n), h, w)

    def get_config(self):
        return _keras_order(super().get_config(), {"factor": list(self.factor)},
                            ("fill_mode", "fill_value", "interpolation", "seed"))


class RandomTranslation(_AffineLayer):
    """While training, shifts each image by a random fraction of its height and width.

    Args:
        height_factor, width_factor: f (shifts in [-f, f] of the size) or (lower, upper), each
            in [-1, 1]; positive moves the image down / right.
        fill_mode, interpolation, seed, fill_value: as RandomRotation's.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_pair(height_factor, "height_factor", -1.0, 1.0)
        self._w = _factor_pair(width_factor, "width_factor", -1.0, 1.0)

    def _transforms(self, rng, n, h, w):
        dy = _uniform(rng, *self._h, n) * np.float32(h)   # Keras draws the height's first
        dx = _uniform(rng, *self._w, n) * np.float32(w)
        return translation_transforms(dx, dy)

    def get_config(self):
        return _height_width_config(self, super().get_config())


def _keras_order(base, own, after):
    """A config in Keras 3's key order: the base keys (name, ..., data_format), this layer's
    `own` keys, then the keys `after` (from `base`) in that order."""
    cfg = {k: v for k, v in base.items() if k not in after}
    cfg.update(own)
    cfg.update((k, base[k]) for k in after)
    return cfg


def _height_width_config(layer, base):
    """RandomTranslation's and RandomZoom's config, in Keras 3's order."""
    return _keras_order(base, {"height_factor": _plain(layer.height_factor),
                               "width_factor": _plain(layer.width_factor)},
                        ("fill_mode", "interpolation", "seed", "fill_value"))


def _plain(v):
    return list(v) if isinstance(v, (tuple, list)) else v


class RandomZoom(_AffineLayer):
    """While training, zooms each image about its center by a random factor.

    Args:
        height_factor: f (zoom in [1 - f, 1 + f]) or (lower, upper), each in (-1, 1]; a
            positive value zooms OUT (the image gets smaller), a negative one zooms in.
        width_factor: the same for the width, or None (default): the height's factor, so that
            the aspect ratio is kept.
        fill_mode, interpolation, seed, fill_value: as RandomRotation's.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_pair(height_factor, "height_factor", -1.0, 1.0, lo_open=True)
        self._w = None if width_factor is None else \
            _factor_pair(width_factor, "width_factor", -1.0, 1.0, lo_open=True)

    def _transforms(self, rng, n, h, w):
        zy = _uniform(rng, 1.0 + self._h[0], 1.0 + self._h[1], n)
        zx = zy if self._w is None else _uniform(rng, 1.0 + self._w[0], 1.0 + self._w[1], n)
        return zoom_transforms(zx, zy, h, w)

    def get_config(self):
        return _height_width_config(self, super().get_config())


class RandomContrast(_RandomLayer):
    """While training, scales each image's deviation from its per-channel mean by a random
    factor c, then clips to `value_range`: clip((x - mean) * c + mean, *value_range).

    Args:
        factor: f or (lower, upper), each in [0, 1]: c is drawn in [1 - lower, 1 + upper].
            As Keras 3 computes it, a single f gives lower = 0, so c lies in [1, 1 + f];
            pass (f, f) for [1 - f, 1 + f].
        value_range: the range of the images' values, (0, 255) by default.
        seed: an int for the layer's own generator (default: pyconv's generator).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_pair(factor, "factor", 0.0, 1.0)
        if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2
                and all(_real(v) for v in value_range) and value_range[0] < value_range[1]):
            raise ValueError(f"`value_range` must be (low, high) with low < high. "
                             f"Received: value_range={value_range!r}.")
        self.value_range = tuple(value_range)

    def _train_fwd(self, x, rng):
        c = _uniform(rng, 1.0 - self.factor[0], 1.0 + self.factor[1], (x.shape[0], 1, 1, 1))
        return contrast_forward(x, c, self.value_range)

    def _train_bwd(self, ctx, dy):
        return contrast_backward(ctx, dy)

    def get_config(self):
        return _keras_order(super().get_config(), {"factor": list(self.factor),
                                                   "value_range": list(self.value_range)}, ("seed",))


def contrast_forward(x, c, value_range):
    """clip((x - mean) * c + mean, *value_range), mean over H then W per image and channel, c
    (N, 1, 1, 1): RandomContrast's pass for given factors. (y, ctx)."""
    mean = x.mean(axis=1, keepdims=True, dtype=np.float32).mean(axis=2, keepdims=True, dtype=np.float32)
    z = (x - mean) * c + mean
    lo, hi = np.float32(value_range[0]), np.float32(value_range[1])
    return np.clip(z, lo, hi), (c, (z >= lo) & (z <= hi))


def contrast_backward(ctx, dy):
    c, inside = ctx
    g = np.where(inside, dy, np.float32(0))   # the clip passes the gradient inside its range
    hw = g.shape[1] * g.shape[2]
    # d/dx of (x - mean) c + mean: c, plus (1 - c) / (H W) through the mean, summed over H, W
    return (g * c + (1 - c) * g.sum(axis=(1, 2), keepdims=True, dtype=np.float32) / np.float32(hw)
            ).astype(np.float32, copy=False)


class RandomCrop(_RandomLayer):
    """While training, crops every image of the batch at one random (height, width) window
    (one offset per batch, as Keras 3). At inference, and in training for an image not larger
    than (height, width) in both axes, Keras' documented rule instead: the largest centered
    window with the output's aspect ratio, resized (bilinear) to (height, width).

    Args:
        height, width: the output size (positive ints).
        seed: an int for the layer's own generator (default: pyconv's generator).

    Input shape: (batch, H, W, C). Output shape: (batch, height, width, C).
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height, self.width = _size(height, "height"), _size(width, "width")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def _fwd(self, x, training, fuse=0):
        if not training:
            y, ctx = smart_resize_forward(x, self.height, self.width)
            return y, ("center", ctx)
        return self._train_fwd(x, self._call_rng())

    def _train_fwd(self, x, rng):
        h, w = x.shape[1], x.shape[2]
        if h > self.height and w > self.width:
            top = int(_uniform(rng, 0.0, float(h - self.height + 1), ()))
            left = int(_uniform(rng, 0.0, float(w - self.width + 1), ()))
            top, left = min(top, h - self.height), min(left, w - self.width)   # float32 rounding up
        else:   # Keras: the offsets of the aspect-ratio window, the target size cut there
            top, left = aspect_crop_box(h, w, self.height, self.width)[:2]
        y = _Crop.forward(x, top, left, self.height, self.width)
        rctx = None
        if y.shape[1:3] != (self.height, self.width):
            y, rctx = resize_forward(y, self.height, self.width, "bilinear")
        return y, ("random", (x.shape, (top, left), rctx))

    def _train_bwd(self, ctx, dy):
        kind, c = ctx
        if kind == "center":
            return center_crop_backward(c, dy)
        shape, (top, left), rctx = c
        if rctx is not None:
            dy = resize_backward(rctx, dy, "bilinear")
        return _Crop.backward(dy, shape, top, left)

    def get_config(self):
        return _keras_order(super().get_config(), {"height": self.height, "width": self.width}, ("seed",))
