"""Activations by Keras name, each a forward kernel and its backward kernel from pyconv.nn.

`get('relu')` returns an Activation object; layers call `y = act.forward(z)` after their own
kernel (the fusion Keras does with `activation=`), keep `act.saved(z, y)` (the forward's
output for relu, sigmoid, tanh, softmax, log_softmax and exponential, whose derivatives are
functions of it; the input for the others), and call `act.backward(dy, saved)` in backward.
The module-level functions (`relu(x)`, `elu(x)`, ...) mirror keras.activations and record
themselves on the gradient tape, so they train inside a Lambda layer.

Names and aliases as Keras 3: 'swish' is 'silu' and 'hard_swish' is 'hard_silu' (serialized
under the second name, as Keras does).
"""
import numpy as np

from . import _nn_act, _registry, nn

__all__ = ["Activation", "get", "serialize", "relu", "sigmoid", "tanh", "softmax", "linear",
           "elu", "selu", "gelu", "silu", "swish", "leaky_relu", "relu6", "softplus", "softsign",
           "hard_sigmoid", "hard_silu", "hard_swish", "exponential", "log_softmax"]


class Activation:
    """An activation: a name, a forward kernel and its backward kernel.

    `from_output` says which forward array the backward takes: the output (True) or the
    input (False); `config` holds the arguments of one bound to arguments (the ReLU,
    LeakyReLU, ELU and Softmax layers'), empty for the named ones."""

    __slots__ = ("name", "forward", "_backward", "from_output", "config")

    def __init__(self, name, forward, backward, from_output=False, config=None):
        self.name, self.forward, self._backward = name, forward, backward
        self.from_output, self.config = from_output, dict(config or {})

    def saved(self, x, y):
        """What backward needs from the forward of input `x` and output `y`."""
        return y if self.from_output else x

    def backward(self, dy, saved):
        """Gradient with respect to the activation's input, from the gradient `dy` of its
        output and `saved` (see `saved`)."""
        return self._backward(dy, saved)

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        return f"<activation {self.name}>"


def _identity(x):
    return x


def _identity_grad(dy, y):
    return dy


def _out(name, forward, backward):
    return Activation(name, forward, backward, from_output=True)


def _inp(name, forward, backward):
    return Activation(name, forward, backward, from_output=False)


_ACTS = {
    "linear": _out("linear", _identity, _identity_grad),
    "relu": _out("relu", nn.relu, nn.relu_grad),
    "sigmoid": _out("sigmoid", nn.sigmoid, nn.sigmoid_grad),
    "tanh": _out("tanh", nn.tanh, nn.tanh_grad),
    "softmax": _out("softmax", nn.softmax, nn.softmax_grad),
    "elu": _inp("elu", nn.elu, nn.elu_grad),
    "selu": _inp("selu", nn.selu, nn.selu_grad),
    "gelu": _inp("gelu", nn.gelu, nn.gelu_grad),
    "silu": _inp("silu", nn.silu, nn.silu_grad),
    "leaky_relu": _inp("leaky_relu", nn.leaky_relu, nn.leaky_relu_grad),
    "relu6": _inp("relu6", nn.relu6, nn.relu6_grad),
    "softplus": _inp("softplus", nn.softplus, nn.softplus_grad),
    "softsign": _inp("softsign", nn.softsign, nn.softsign_grad),
    "hard_sigmoid": _inp("hard_sigmoid", _nn_act.hard_sigmoid, _nn_act.hard_sigmoid_grad),
    "hard_silu": _inp("hard_silu", _nn_act.hard_silu, _nn_act.hard_silu_grad),
    "exponential": _out("exponential", _nn_act.exponential, _nn_act.exponential_grad),
    "log_softmax": _out("log_softmax", nn.log_softmax, nn.log_softmax_grad),
}
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}   # Keras 3 serializes the second name


def get(identifier):
    """The Activation for a Keras name ('relu', 'elu', 'swish', ...; any case), None (=
    'linear'), an Activation instance, or one of this module's functions (keras.activations.relu
    passed as a function).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value (a Python function cannot be differentiated:
            wrap it in a Lambda layer made of pyconv.nn ops instead).
    """
    return _REGISTRY.get(identifier)


def serialize(act):
    """The activation's name, as Keras 3 writes it in a layer's config ('swish' as 'silu')."""
    return _REGISTRY.serialize(act)


# ---- parametrised activations (the ReLU, LeakyReLU, ELU and Softmax layers') --------------------

def make_relu(negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's relu(x, negative_slope, max_value, threshold) as an Activation: the plain
    'relu' (its fused kernels) at the defaults."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return _ACTS["relu"]
    kw = {"negative_slope": negative_slope, "max_value": max_value, "threshold": threshold}
    _nn_act._relu_params(**kw)   # checked now, not at the first call
    return Activation("relu", lambda x: _nn_act.relu_general(x, **kw),
                      lambda g, x: _nn_act.relu_general_grad(g, x, **kw), config=kw)


def make_elu(alpha=1.0):
    if alpha == 1.0:
        return _ACTS["elu"]
    return Activation("elu", lambda x: nn.elu(x, alpha), lambda g, x: nn.elu_grad(g, x, alpha),
                      config={"alpha": alpha})


def make_softmax(axis=-1):
    if axis == -1:
        return _ACTS["softmax"]
    return Activation("softmax", lambda x: nn.softmax(x, axis), lambda g, y: nn.softmax_grad(g, y, axis),
                      from_output=True, config={"axis": axis})


# ---- keras.activations' functions ----------------------------------------------------------------

def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's relu: max(x, 0), or with `negative_slope` below `threshold` and clipped at
    `max_value` (each optional)."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return nn.relu(x)
    return _nn_act.relu_general(x, negative_slope, max_value, threshold)


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise (pyconv.nn.sigmoid)."""
    return nn.sigmoid(x)


def tanh(x):
    """tanh(x) elementwise (pyconv.nn.tanh)."""
    return nn.tanh(x)


def softmax(x, axis=-1):
    """Softmax over `axis` (pyconv.nn.softmax)."""
    return nn.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """log(softmax(x)) over `axis`, computed stably (pyconv.nn.log_softmax)."""
    return nn.log_softmax(x, axis=axis)


def linear(x):
    """The identity (as a float32 array)."""
    return np.asarray(x, dtype=np.float32)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return nn.elu(x, alpha)


def selu(x):
    """1.0507 * elu(x, 1.6733): the self-normalising constants."""
    return nn.selu(x)


def gelu(x, approximate=False):
    """x * Phi(x) (exact, with erf; Keras 3's default) or the tanh approximation."""
    return nn.gelu(x, approximate=approximate)


def silu(x):
    """x * sigmoid(x) (also `swish`)."""
    return nn.silu(x)


swish = silu


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope * x."""
    return nn.leaky_relu(x, alpha=negative_slope)


def relu6(x):
    """min(max(x, 0), 6)."""
    return nn.relu6(x)


def softplus(x):
    """log(1 + exp(x)), without overflow."""
    return nn.softplus(x)


def softsign(x):
    """x / (1 + |x|)."""
    return nn.softsign(x)


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3's definition)."""
    return _nn_act.hard_sigmoid(x)


def hard_silu(x):
    """x * hard_sigmoid(x) (also `hard_swish`)."""
    return _nn_act.hard_silu(x)


hard_swish = hard_silu


def exponential(x):
    """exp(x)."""
    return _nn_act.exponential(x)


# Defined last: the functions above stand for their Activation too (activation=activations.elu,
# or pyconv.nn.elu, the Activation's own forward).
_REGISTRY = _registry.Registry(
    "activation", Activation, {**_ACTS, **{a: _ACTS[n] for a, n in _ALIASES.items()}}, (),
    make=lambda act, identifier: act, none=_ACTS["linear"], to_config=lambda act: act.name,
    callables={**{act.forward: act for act in _ACTS.values()},
               **{globals()[n]: _ACTS[_ALIASES.get(n, n)] for n in (*_ACTS, *_ALIASES)}})
