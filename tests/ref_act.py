"""float64 NumPy references of the activations of csrc/act_more.c: each forward as Keras 3
writes it (keras/src/backend/tensorflow/nn.py) and its derivative by hand (checked against
central finite differences in tests/test_act_more.py)."""
import math

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_d(x, alpha=1.0):
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def selu_d(x):
    return SELU_SCALE * np.where(x < 0, SELU_ALPHA * np.exp(np.minimum(x, 0)), 1.0)


def gelu(x):
    return 0.5 * x * _erfc(-x / math.sqrt(2))


def gelu_d(x):
    return 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


_K0, _K1 = math.sqrt(2 / math.pi), 0.044715


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(_K0 * (x + _K1 * x ** 3)))


def gelu_tanh_d(x):
    t = np.tanh(_K0 * (x + _K1 * x ** 3))
    sech2 = 1 - t * t
    return 0.5 * (1 + t) + np.where(sech2 > 0, 0.5 * x * sech2 * _K0 * (1 + 3 * _K1 * x * x), 0.0)


def silu(x):
    return x * sigmoid(x)


def silu_d(x):
    s = sigmoid(x)
    return s + np.where(s * (1 - s) > 0, x * s * (1 - s), 0.0)


def relu_general(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's ReLU.static_call, line by line."""
    a = np.where(x > threshold, x, 0.0) if threshold != 0 else np.maximum(x, 0.0)
    if max_value is not None:
        a = np.clip(a, 0.0, max_value)
    if negative_slope != 0:
        a = a - negative_slope * np.maximum(threshold - x, 0.0)
    return a


def relu_general_d(x, negative_slope=0.0, max_value=None, threshold=0.0):
    inside = np.ones_like(x) if max_value is None else ((x > 0) & (x < max_value)).astype(np.float64)
    return np.where(x > threshold, inside, negative_slope)


def softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_d(x):
    return sigmoid(x)


def softsign(x):
    return x / (1 + np.abs(x))


def softsign_d(x):
    return 1 / (1 + np.abs(x)) ** 2


def hard_sigmoid(x):
    return np.clip(x + 3, 0, 6) / 6


def hard_sigmoid_d(x):
    return np.where((x + 3 > 0) & (x + 3 < 6), 1 / 6, 0.0)


def hard_silu(x):
    return x * hard_sigmoid(x)


def hard_silu_d(x):
    return hard_sigmoid(x) + x * hard_sigmoid_d(x)


def exponential(x):
    with np.errstate(over="ignore"):
        return np.exp(x)


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def log_softmax_grad(g, z):
    """The vector-Jacobian product of log_softmax over the last axis."""
    return g - np.exp(log_softmax(z)) * g.sum(-1, keepdims=True)


def prelu(x, alpha):
    """x (N, ...) and alpha broadcast over it (shared axes have size 1)."""
    return np.where(x > 0, x, alpha * x)


def prelu_grads(x, alpha, g):
    """(dx, dalpha) of sum(prelu(x, alpha) * g)."""
    dx = np.where(x > 0, g, alpha * g)
    full = np.where(x > 0, 0.0, g * x).sum(0)
    axes = tuple(i for i in range(full.ndim) if alpha.shape[i] == 1 and full.shape[i] != 1)
    return dx, full.sum(axes, keepdims=True).reshape(alpha.shape)
