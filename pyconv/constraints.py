"""Weight constraints (keras.constraints): applied to a weight after each optimizer update.

Keras 3's rules, with its epsilon 1e-7 and norms over `axis` (0: each column of a Dense
kernel (in, out); [0, 1, 2] for a conv kernel (R, S, C, K): each filter):

    MaxNorm(max_value=2, axis=0):   w * clip(n, 0, max_value) / (eps + n)
    UnitNorm(axis=0):               w / (eps + n)
    MinMaxNorm(0.0, 1.0, rate=1.0, axis=0):
                                    w * (rate * clip(n, min, max) + (1 - rate) * n) / (eps + n)
    NonNeg():                       w * (w >= 0)
"""
import numpy as np

from . import _registry

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "get", "serialize", "deserialize"]

_EPS = 1e-7


class Constraint:
    """Base class: `__call__(w)` returns the constrained weight (a new float32 array)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w, dtype=np.float32), axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Each slice's L2 norm along `axis` at most `max_value`.

    Example:
        >>> import numpy as np
        >>> MaxNorm(2.0)(np.array([[3.0], [4.0]], np.float32))
        array([[1.2],
               [1.6]], dtype=float32)
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        n = _norms(w, self.axis)
        return (w * (np.clip(n, 0, self.max_value) / (np.float32(_EPS) + n))).astype(np.float32)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights set to 0."""

    def __call__(self, w):
        return (w * (w >= 0)).astype(np.float32)


class UnitNorm(Constraint):
    """Each slice along `axis` scaled to norm 1."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return (w / (np.float32(_EPS) + _norms(w, self.axis))).astype(np.float32)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Each slice's norm moved toward [min_value, max_value] at `rate`."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        n = _norms(w, self.axis)
        desired = self.rate * np.clip(n, self.min_value, self.max_value) + (1 - self.rate) * n
        return (w * (desired / (np.float32(_EPS) + n))).astype(np.float32)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


_ALIASES = {"max_norm": MaxNorm, "maxnorm": MaxNorm, "non_neg": NonNeg, "nonneg": NonNeg,
            "unit_norm": UnitNorm, "unitnorm": UnitNorm, "min_max_norm": MinMaxNorm, "minmaxnorm": MinMaxNorm}
_CLASSES = {c.__name__: c for c in (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
_REGISTRY = _registry.Registry('constraint', Constraint, _ALIASES, _CLASSES.values(), callables=True, style="interpret")


def get(identifier):
    """A constraint from None, a name (see _ALIASES), a config dict or an instance, or a callable w -> w."""
    return _REGISTRY.get(identifier)


def serialize(obj):
    return _REGISTRY.serialize(obj)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)
