"""Activation ops in tf.nn style (elu, selu, gelu, silu/swish, leaky_relu, relu6, softplus,
softsign, log_softmax), Keras 3's others (the general relu, hard_sigmoid, hard_silu,
exponential), softmax over any axes, and their gradients. The work is done by csrc/act_more.c
(and act.c's softmax) through pyconv._kernels.

Re-exported by pyconv.nn (the tf.nn names and their `_grad` functions). Each forward converts
its input to C-contiguous float32 and records itself on the gradient tape (pyconv._tape), so
these ops train inside a Lambda layer or a subclassed model's `call`. A `*_grad(gradients,
features)` takes the forward's INPUT, except `log_softmax_grad` and `exponential_grad`, which
take its output (as `softmax_grad` does).

Example (pyconv.nn.elu is this elu):
    >>> import numpy as np
    >>> elu(np.array([-1.0, 0.0, 2.0]))
    array([-0.63212055,  0.        ,  2.        ], dtype=float32)
"""
import math

import numpy as np

from . import _kernels, _tape, _validate
from ._validate import as_float32

__all__ = ["elu", "elu_grad", "selu", "selu_grad", "gelu", "gelu_grad", "silu", "silu_grad",
           "swish", "leaky_relu", "leaky_relu_grad", "relu6", "relu6_grad", "softplus",
           "softplus_grad", "softsign", "softsign_grad", "log_softmax", "log_softmax_grad"]

def _unary(x, fwd, bwd, from_output=False):
    """y = fwd(x) on float32, recorded on the tape with the gradient bwd(g, saved), where saved
    is the forward's input (or output)."""
    xx = as_float32(x, "features")
    y = fwd(xx)
    saved = y if from_output else xx
    _tape.record((x,), y, lambda g: (bwd(as_float32(g, "gradients"), saved),))
    return y


def _grad(gradients, saved, bwd, name="features"):
    return bwd(as_float32(gradients, "gradients"), as_float32(saved, name))


# ---- elu, selu ---------------------------------------------------------------------------------

def elu(features, alpha=1.0, name=None):
    """x if x > 0 else alpha * (exp(x) - 1), elementwise (alpha: keras.activations.elu's;
    tf.nn.elu has none: 1)."""
    a = _validate.real(alpha, "alpha")
    return _unary(features, lambda x: _kernels.elu_fwd(x, a),
                  lambda g, x: _kernels.elu_bwd(g, x, a))


def elu_grad(gradients, features, alpha=1.0):
    """The gradient of elu, from its input `features`."""
    a = _validate.real(alpha, "alpha")
    return _grad(gradients, features, lambda g, x: _kernels.elu_bwd(g, x, a))


def selu(features, name=None):
    """scale * elu(x, alpha) with Keras' (tf.nn's) constants alpha = 1.67326324,
    scale = 1.05070098."""
    return _unary(features, _kernels.selu_fwd, _kernels.selu_bwd)


def selu_grad(gradients, features):
    """The gradient of selu, from its input `features`."""
    return _grad(gradients, features, _kernels.selu_bwd)


# ---- gelu, silu ----------------------------------------------------------------------------------

def gelu(features, approximate=False, name=None):
    """x * Phi(x) (the normal CDF, with erf) or, with approximate=True, the tanh approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Default False, as tf.nn.gelu and
    keras.activations.gelu."""
    ap = _bool(approximate, "approximate")
    return _unary(features, lambda x: _kernels.gelu_fwd(x, ap), lambda g, x: _kernels.gelu_bwd(g, x, ap))


def gelu_grad(gradients, features, approximate=False):
    """The gradient of gelu, from its input `features`."""
    ap = _bool(approximate, "approximate")
    return _grad(gradients, features, lambda g, x: _kernels.gelu_bwd(g, x, ap))


def _bool(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool. Received: {name}={v!r}.")
    return bool(v)


def silu(features, beta=1.0):
    """x * sigmoid(x) (tf.nn.silu; only beta=1, Keras' silu/swish)."""
    if beta != 1.0:
        raise ValueError(f"`beta` must be 1.0 (pyconv's silu kernel is x * sigmoid(x)). Received: beta={beta!r}.")
    return _unary(features, _kernels.silu_fwd, _kernels.silu_bwd)


swish = silu


def silu_grad(gradients, features):
    """The gradient of silu, from its input `features`."""
    return _grad(gradients, features, _kernels.silu_bwd)


# ---- the relu family ---------------------------------------------------------------------------

def relu_general(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's relu(x, negative_slope, max_value, threshold): x above `threshold` (clipped
    to [0, max_value] when given), negative_slope * (x - threshold) below it."""
    ns, mx, thr = _relu_params(negative_slope, max_value, threshold)
    return _unary(x, lambda v: _kernels.relu_general_fwd(v, ns, mx, thr),
                  lambda g, v: _kernels.relu_general_bwd(g, v, ns, mx, thr))


def relu_general_grad(gradients, features, negative_slope=0.0, max_value=None, threshold=0.0):
    ns, mx, thr = _relu_params(negative_slope, max_value, threshold)
    return _grad(gradients, features, lambda g, v: _kernels.relu_general_bwd(g, v, ns, mx, thr))


def _relu_params(negative_slope, max_value, threshold):
    ns = _validate.real(negative_slope, "negative_slope")
    mx = _validate.real(max_value, "max_value", allow_none=True)
    return ns, math.inf if mx is None else mx, _validate.real(threshold, "threshold")


def leaky_relu(features, alpha=0.2, name=None):
    """x if x > 0 else alpha * x (tf.nn.leaky_relu; alpha is Keras' negative_slope)."""
    return relu_general(features, negative_slope=alpha)


def leaky_relu_grad(gradients, features, alpha=0.2):
    """The gradient of leaky_relu: 1 where features > 0, else alpha."""
    return relu_general_grad(gradients, features, negative_slope=alpha)


def relu6(features, name=None):
    """min(max(x, 0), 6)."""
    return relu_general(features, max_value=6.0)


def relu6_grad(gradients, features):
    """The gradient of relu6: 1 strictly inside (0, 6), else 0 (as TF)."""
    return relu_general_grad(gradients, features, max_value=6.0)


# ---- softplus, softsign, hard_sigmoid, hard_silu, exponential ------------------------------------

def softplus(features, name=None):
    """log(1 + exp(x)), without overflow (x itself for large x)."""
    return _unary(features, _kernels.softplus_fwd, _kernels.softplus_bwd)


def softplus_grad(gradients, features):
    """The gradient of softplus: gradients * sigmoid(features)."""
    return _grad(gradients, features, _kernels.softplus_bwd)


def softsign(features, name=None):
    """x / (1 + |x|)."""
    return _unary(features, _kernels.softsign_fwd, _kernels.softsign_bwd)


def softsign_grad(gradients, features):
    """The gradient of softsign: gradients / (1 + |features|)^2."""
    return _grad(gradients, features, _kernels.softsign_bwd)


def hard_sigmoid(x):
    """Keras 3's relu6(x + 3) / 6."""
    return _unary(x, _kernels.hard_sigmoid_fwd, _kernels.hard_sigmoid_bwd)


def hard_sigmoid_grad(gradients, features):
    return _grad(gradients, features, _kernels.hard_sigmoid_bwd)


def hard_silu(x):
    """Keras 3's x * hard_sigmoid(x) (hard_swish)."""
    return _unary(x, _kernels.hard_silu_fwd, _kernels.hard_silu_bwd)


def hard_silu_grad(gradients, features):
    return _grad(gradients, features, _kernels.hard_silu_bwd)


def exponential(x):
    """exp(x) elementwise."""
    return _unary(x, _kernels.exponential_fwd, _kernels.exponential_bwd, from_output=True)


def exponential_grad(gradients, outputs):
    """gradients * outputs: the derivative of exp is its output."""
    return _grad(gradients, outputs, _kernels.exponential_bwd, "outputs")


# ---- softmax and log_softmax over any axes ------------------------------------------------------

def axes_to_last(shape, axis, name="axis"):
    """(perm, n) to bring the `n` axes named by `axis` (an int, a tuple of ints, or None = -1)
    last, in their order: perm is None when `axis` is the last axis alone.

    Raises ValueError for an axis out of range or repeated."""
    ndim = len(shape)
    if ndim and (axis is None or (type(axis) is int and axis == -1)):
        return None, 1   # the usual case (a softmax layer's), without the general checks
    axes = (-1,) if axis is None else (tuple(axis) if isinstance(axis, (tuple, list)) else (axis,))
    if not axes or not all(_validate.is_int(a) and -ndim <= a < ndim for a in axes) \
            or len({a % ndim for a in axes}) != len(axes):
        raise ValueError(f"`{name}` must be an axis (or distinct axes) of the {ndim}-D input, in "
                         f"[{-ndim}, {ndim}). Received: {name}={axis!r}.")
    axes = tuple(a % ndim for a in axes)
    if axes == (ndim - 1,):
        return None, 1
    return [i for i in range(ndim) if i not in axes] + list(axes), len(axes)


def over_axes(arrays, axis, kernel):
    """kernel(*arrays') where each array has `axis` moved last and merged into one axis, and
    the result moved back: the row kernels (softmax, log_softmax) over any axes. A transposed
    copy only when axis is not the last one alone."""
    perm, n = axes_to_last(arrays[0].shape, axis)
    if perm is None:
        return kernel(*arrays)
    shp = tuple(arrays[0].shape[i] for i in perm)
    rows = shp[:len(shp) - n] + (math.prod(shp[len(shp) - n:]),)
    moved = [np.ascontiguousarray(a.transpose(perm)).reshape(rows) for a in arrays]
    return np.ascontiguousarray(kernel(*moved).reshape(shp).transpose(np.argsort(perm)))


def softmax(logits, axis=-1, name=None):
    """exp(logits) / sum(exp(logits)) over `axis` (an int, or a tuple of axes as Keras'
    Softmax layer takes; None = -1 as tf.nn), stable for large logits."""
    x = as_float32(logits, "logits", min_ndim=1)
    y = over_axes([x], axis, _kernels.softmax_fwd)
    _tape.record((logits,), y, lambda g: (softmax_grad(g, y, axis),))
    return y


def softmax_grad(gradients, outputs, axis=-1):
    """The gradient of softmax over `axis`, given its forward `outputs`."""
    g, y = as_float32(gradients, "gradients"), as_float32(outputs, "outputs", min_ndim=1)
    if g.shape != y.shape:
        raise ValueError(f"`gradients` and `outputs` must have the same shape. Received: "
                         f"gradients.shape={g.shape}, outputs.shape={y.shape}.")
    return over_axes([g, y], axis, _kernels.softmax_bwd)


def log_softmax(logits, axis=-1, name=None):
    """logits - log(sum(exp(logits))) over `axis`, with the max subtracted first (finite for
    any finite logits). None = -1, as tf.nn.log_softmax."""
    x = as_float32(logits, "logits", min_ndim=1)
    y = over_axes([x], axis, _kernels.log_softmax_fwd)
    _tape.record((logits,), y, lambda g: (log_softmax_grad(g, y, axis),))
    return y


def log_softmax_grad(gradients, outputs, axis=-1):
    """The gradient of log_softmax over `axis`, given its forward `outputs`:
    g - exp(outputs) * sum(g)."""
    g, y = as_float32(gradients, "gradients"), as_float32(outputs, "outputs", min_ndim=1)
    if g.shape != y.shape:
        raise ValueError(f"`gradients` and `outputs` must have the same shape. Received: "
                         f"gradients.shape={g.shape}, outputs.shape={y.shape}.")
    return over_axes([g, y], axis, _kernels.log_softmax_bwd)
