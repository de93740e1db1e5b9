"""Activations by Keras name, each a forward kernel and its backward kernel from pyconv.nn.

`get('relu')` returns an Activation object; layers call `act.forward(z)` after their own
kernel (the fusion Keras does with `activation=`), and `act.backward(dy, y)` in backward.
The module-level functions (`relu(x)`, `softmax(x)`, ...) mirror keras.activations.
"""
import numpy as np

from . import nn

__all__ = ["Activation", "get", "serialize", "relu", "sigmoid", "tanh", "softmax", "linear"]


class Activation:
    """An activation: a name, a forward kernel and its backward kernel (from the output)."""

    __slots__ = ("name", "forward", "_backward")

    def __init__(self, name, forward, backward):
        self.name, self.forward, self._backward = name, forward, backward

    def backward(self, dy, y):
        """Gradient with respect to the activation's input, from the gradient `dy` of its
        output `y`."""
        return self._backward(dy, y)

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        return f"<activation {self.name}>"


def _identity(x):
    return x


def _identity_grad(dy, y):
    return dy


_ACTS = {
    "linear": Activation("linear", _identity, _identity_grad),
    "relu": Activation("relu", nn.relu, nn.relu_grad),
    "sigmoid": Activation("sigmoid", nn.sigmoid, nn.sigmoid_grad),
    "tanh": Activation("tanh", nn.tanh, nn.tanh_grad),
    "softmax": Activation("softmax", nn.softmax, nn.softmax_grad),
}


def get(identifier):
    """The Activation for a Keras name ('relu', 'softmax', ...), None (= 'linear') or an
    Activation instance.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value (a Python function cannot be differentiated:
            wrap it in a Lambda layer made of pyconv.nn ops instead).
    """
    if identifier is None:
        return _ACTS["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        act = _ACTS.get(identifier.lower())
        if act is None:
            raise ValueError(f"Unknown activation: {identifier!r}. Valid values are: "
                             f"{', '.join(repr(k) for k in _ACTS)} (or None).")
        return act
    for act in _ACTS.values():  # keras.activations.relu passed as a function
        if identifier is act.forward or identifier is globals().get(act.name):
            return act
    raise TypeError(f"`activation` must be a string ({', '.join(repr(k) for k in _ACTS)}), None "
                    f"or a pyconv activation. Received: activation={identifier!r}.")


def serialize(act):
    return act.name


def relu(x):
    """max(x, 0) elementwise (pyconv.nn.relu)."""
    return nn.relu(x)


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise (pyconv.nn.sigmoid)."""
    return nn.sigmoid(x)


def tanh(x):
    """tanh(x) elementwise (pyconv.nn.tanh)."""
    return nn.tanh(x)


def softmax(x, axis=-1):
    """Softmax over `axis` (pyconv.nn.softmax)."""
    return nn.softmax(x, axis=axis)


def linear(x):
    """The identity (as a float32 array)."""
    return np.asarray(x, dtype=np.float32)
