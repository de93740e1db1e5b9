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

from . import _kernels, _tape
from ._validate import as_float32

__all__ = ["relu", "relu_grad", "sigmoid", "sigmoid_grad", "tanh", "tanh_grad",
           "softmax", "softmax_grad", "bias_add", "bias_add_grad",
           "sparse_softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits_grad"]


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


def _last_axis(axis, ndim, name="axis"):
    if axis not in (-1, ndim - 1):
        raise ValueError(f"`{name}` must be the last axis (-1 or {ndim - 1}). Received: {name}={axis!r}.")


def softmax(logits, axis=-1, name=None):
    """exp(logits) / sum(exp(logits)) over the last axis, stable for large logits."""
    x = as_float32(logits, "logits", min_ndim=1)
    _last_axis(axis, x.ndim)
    y = _kernels.softmax_fwd(x)
    _tape.record((logits,), y, lambda g: (softmax_grad(g, y),))
    return y


def softmax_grad(gradients, outputs):
    """The gradient of softmax over the last axis, given its forward `outputs`."""
    return _kernels.softmax_bwd(as_float32(gradients, "gradients"), as_float32(outputs, "outputs"))


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
