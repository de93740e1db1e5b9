"""tf.nn's moments, batch_normalization and dropout, on pyconv's kernels.

Re-exported by pyconv.nn. moments runs batchnorm_stats (one numerically sound pass: no
E[x^2] - E[x]^2 cancellation) over x seen as (rows, channels) with the reduced axes as rows;
its gradient is moments_backward (csrc/moments.c). batch_normalization takes per-channel
statistics (over the last axis, the layout moments(x, axes=[0, 1, 2]) gives for NHWC) and runs
batchnorm_coefs + batchnorm_forward; its gradients come from batchnorm_backward's sums.
dropout draws its mask from pyconv's seeded generator (the Dropout layer's, `dropout_mask`).
Each op records itself on the gradient tape.

Example (pyconv.nn.moments is this moments):
    >>> import numpy as np
    >>> mean, var = moments(np.array([[1.0, 2.0], [3.0, 6.0]]), axes=[0])
    >>> mean, var
    (array([2., 4.], dtype=float32), array([1., 4.], dtype=float32))
"""
import math

import numpy as np

from . import _kernels, _tape, _validate, utils
from ._nn_act import axes_to_last
from ._validate import as_float32

__all__ = ["moments", "batch_normalization", "dropout"]


def moments(x, axes, shift=None, keepdims=False, name=None):
    """(mean, variance) of x over `axes` (biased variance, as tf.nn.moments).

    Args:
        x: an array.
        axes: the axes to reduce (a list of ints; [0, 1, 2] for per-channel NHWC statistics).
        shift: ignored, as in TensorFlow 2.
        keepdims: keep the reduced axes with size 1.

    Returns:
        Two float32 arrays, of x's shape without the reduced axes (or with them as 1).

    Raises:
        ValueError: an axis out of range or repeated.
    """
    xx = as_float32(x, "x", min_ndim=1)
    axes_t = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    perm, n = axes_to_last(xx.shape, axes_t, "axes")
    perm = list(range(xx.ndim)) if perm is None else perm
    perm = perm[len(perm) - n:] + perm[:len(perm) - n]       # reduced axes first, kept last
    red, kept = [xx.shape[i] for i in perm[:n]], [xx.shape[i] for i in perm[n:]]
    x2 = np.ascontiguousarray(xx.transpose(perm)).reshape(math.prod(red), math.prod(kept))
    mean, var = _kernels.bn_stats(x2)
    out_shape = tuple(1 if i in perm[:n] else d for i, d in enumerate(xx.shape)) if keepdims else \
        tuple(d for i, d in enumerate(xx.shape) if i not in perm[:n])
    mean_o, var_o = mean.reshape(out_shape), var.reshape(out_shape)

    def back(dm, dv):
        dx2 = _kernels.moments_bwd(dm, dv, x2, mean)
        return np.ascontiguousarray(dx2.reshape(red + kept).transpose(np.argsort(perm)))
    _tape.record((x,), mean_o, lambda g: (back(as_float32(g, "g").reshape(-1), None),))
    _tape.record((x,), var_o, lambda g: (back(None, as_float32(g, "g").reshape(-1)),))
    return mean_o, var_o


def _channels(v, name, C, optional=False):
    """A per-channel statistic as a float32 (C,) array: shape (C,) or (1, ..., 1, C)."""
    if v is None and optional:
        return None
    a = as_float32(v, name)
    if a.size != C or a.ndim < 1 or a.shape[-1] != C:
        raise ValueError(f"`{name}` must hold one value per channel (the last axis of `x`, {C}): "
                         f"shape ({C},) or (1, ..., 1, {C}). Received: {name}.shape={a.shape}.")
    return a.reshape(C)


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) / sqrt(variance + variance_epsilon) * scale + offset, per channel.

    Computed as tf.nn.batch_normalization does, x * k + (offset - mean * k) with
    k = scale / sqrt(variance + epsilon) (k and the shift in double, rounded once).

    Args:
        x: an array, channels on its last axis.
        mean, variance: per-channel statistics, shape (C,) or (1, ..., 1, C).
        offset, scale: per-channel, or None (0 and 1).
        variance_epsilon: a float >= 0.

    Raises:
        ValueError: a statistic that is not per channel (pyconv's difference from tf.nn, which
            broadcasts any shape), or a negative epsilon.
    """
    xx = as_float32(x, "x", min_ndim=1)
    C = xx.shape[-1]
    m, v = _channels(mean, "mean", C), _channels(variance, "variance", C)
    off, sc = _channels(offset, "offset", C, True), _channels(scale, "scale", C, True)
    eps = _validate.real(variance_epsilon, "variance_epsilon", min_value=0)
    k, shift, invstd = _kernels.bn_coefs(m, v, sc, off, eps)
    y = _kernels.bn_forward(xx, k, shift)

    def backward(g):
        g = as_float32(g, "g")
        dx = _kernels.bn_forward(g, k, np.zeros(C, np.float32))
        _, sum_gxhat, sum_g = _kernels.bn_backward(g, xx, m, invstd, None, need_dx=False)
        s = np.float32(1) if sc is None else sc
        grads = (dx, -(k * sum_g), np.float32(-0.5) * s * invstd * invstd * sum_gxhat, sum_g, sum_gxhat)
        return tuple(None if a is None else np.reshape(d, np.shape(a))
                     for a, d in zip((x, mean, variance, offset, scale), grads))
    _tape.record((x, mean, variance, offset, scale), y, backward)
    return y


def dropout_mask(gen, shape, rate, noise_shape=None):
    """The float32 mask of dropout: 0 with probability `rate`, else 1 / (1 - rate), drawn from
    `gen` over `noise_shape` (None entries: the input's size) and broadcast to `shape`."""
    ns = shape if noise_shape is None else tuple(shape[i] if d is None else d for i, d in enumerate(noise_shape))
    mask = (gen.random(ns, dtype=np.float32) >= np.float32(rate)).astype(np.float32)
    mask *= np.float32(1.0 / (1.0 - rate))
    return mask


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zeroes each element of x with probability `rate` and scales the others by
    1 / (1 - rate), as tf.nn.dropout.

    Args:
        x: an array.
        rate: a float in [0, 1).
        noise_shape: the mask's shape, broadcast to x's (entries 1 share a draw; None: x's).
        seed: an int: the mask is drawn from a generator made from it (so the same seed gives
            the same mask at every call); None: from pyconv's generator (utils.set_random_seed).

    Raises:
        ValueError: `rate` outside [0, 1), or a noise_shape that does not broadcast to x.
    """
    xx = as_float32(x, "x")
    r = _validate.real(rate, "rate", min_value=0)
    if r >= 1:
        raise ValueError(f"`rate` must be a float in [0, 1). Received: rate={rate!r}.")
    if noise_shape is not None:
        ns = tuple(noise_shape)
        if len(ns) != xx.ndim or not all(d is None or d == 1 or d == s for d, s in zip(ns, xx.shape)):
            raise ValueError(f"`noise_shape` must broadcast to x's shape {xx.shape} (each entry 1, "
                             f"None or x's size). Received: noise_shape={noise_shape!r}.")
    gen = utils.get_rng() if seed is None else np.random.default_rng(seed)
    mask = dropout_mask(gen, xx.shape, r, noise_shape)
    y = xx * mask
    _tape.record((x,), y, lambda g: (as_float32(g, "g") * mask,))
    return y
