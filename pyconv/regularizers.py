"""Weight regularizers (keras.regularizers): a penalty added to the training loss, and its
gradient added to the weight's gradient.

    layers.Dense(64, kernel_regularizer="l2", activity_regularizer=regularizers.L1(1e-4))

Keras 3's values: L1(l1=0.01): l1 * sum(|w|); L2(l2=0.01): l2 * sum(w**2); L1L2(l1=0, l2=0):
both. An activity regularizer's penalty on a layer's output is divided by the batch size, as
Keras 3 does. Penalties are summed in float64; gradients are float32 arrays like the weight.
"""
import numpy as np

from . import _registry

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize", "deserialize"]


def _factor(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not np.isfinite(v) \
            or v < 0:
        raise ValueError(f"`{name}` must be a float >= 0. Received: {name}={v!r}.")
    return float(v)


class Regularizer:
    """Base class: `__call__(x)` is the penalty (a float), `gradient(x)` its gradient."""

    def __call__(self, x):
        raise NotImplementedError

    def gradient(self, x):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x**2).

    Example:
        >>> import numpy as np
        >>> L1L2(l1=0.5, l2=0.1)(np.array([1.0, -2.0]))
        2.0
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, x):
        x = np.asarray(x, np.float64)
        v = 0.0
        if self.l1:
            v += self.l1 * float(np.abs(x).sum())
        if self.l2:
            v += self.l2 * float((x * x).sum())
        return v

    def gradient(self, x):
        g = np.zeros_like(x, dtype=np.float32)
        if self.l1:
            g += np.float32(self.l1) * np.sign(x, dtype=np.float32)
        if self.l2:
            g += np.float32(2 * self.l2) * x
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum(|x|) (l1=0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum(x**2) (l2=0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


_ALIASES = {"l1": L1, "l2": L2, "l1l2": L1L2}
_CLASSES = {c.__name__: c for c in (L1, L2, L1L2)}
_REGISTRY = _registry.Registry('regularizer', Regularizer, _ALIASES, _CLASSES.values(), style="interpret")


def get(identifier):
    """A regularizer from None, a name (see _ALIASES), a config dict or an instance."""
    return _REGISTRY.get(identifier)


def serialize(obj):
    return _REGISTRY.serialize(obj)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)
