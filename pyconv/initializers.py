"""Weight initializers (Keras 3 names, defaults and formulas), drawing from pyconv's generator.

A kernel's fans follow Keras: for a Dense kernel (in, out), fan_in=in and fan_out=out; for a
Conv2D kernel (R, S, C, K), fan_in = R*S*C and fan_out = R*S*K.
"""
import math

import numpy as np

from . import _registry, utils

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
           "LecunUniform", "LecunNormal", "get", "serialize", "deserialize"]


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: `init(shape, dtype='float32') -> ndarray`."""

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.zeros(shape, dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.ones(shape, dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype="float32"):
        return np.full(shape, self.value, dtype)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def _gen(self):
        return np.random.default_rng(self.seed) if self.seed is not None else utils.get_rng()

    def __call__(self, shape, dtype="float32"):
        return self._gen().normal(self.mean, self.stddev, shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal draws, redrawn when more than two standard deviations from the mean."""

    def __call__(self, shape, dtype="float32"):
        g = self._gen()
        z = g.standard_normal(shape)
        bad = np.abs(z) > 2
        while bad.any():
            z[bad] = g.standard_normal(int(bad.sum()))
            bad = np.abs(z) > 2
        return (self.mean + self.stddev * z).astype(dtype)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, shape, dtype="float32"):
        g = np.random.default_rng(self.seed) if self.seed is not None else utils.get_rng()
        return g.uniform(self.minval, self.maxval, shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class _VarianceScaling(Initializer):
    scale, mode, distribution = 1.0, "fan_avg", "uniform"

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = _fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            lim = math.sqrt(3.0 * var)
            return RandomUniform(-lim, lim, self.seed)(shape, dtype)
        # Keras' truncated normal: stddev corrected for truncation at 2 sigma
        return TruncatedNormal(0.0, math.sqrt(var) / 0.87962566103423978, self.seed)(shape, dtype)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_VarianceScaling):
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)); Keras' default kernel initializer."""


class GlorotNormal(_VarianceScaling):
    distribution = "normal"


class HeUniform(_VarianceScaling):
    scale, mode = 2.0, "fan_in"


class HeNormal(_VarianceScaling):
    scale, mode, distribution = 2.0, "fan_in", "normal"


class LecunUniform(_VarianceScaling):
    mode = "fan_in"


class LecunNormal(_VarianceScaling):
    mode, distribution = "fan_in", "normal"


_ALIASES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}
_CLASSES = {c.__name__: c for c in _ALIASES.values()}


_REGISTRY = _registry.Registry("initializer", Initializer, _ALIASES, _CLASSES.values(), callables=True,
                               allow_none=False)


def get(identifier):
    """An Initializer from a Keras name ('glorot_uniform', 'zeros', ...; any case), a class
    name, a config dict, a class or an instance; a plain callable (shape, dtype) -> array is
    taken as it is (it cannot be saved).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value.
    """
    return _REGISTRY.get(identifier)


def serialize(init):
    return _REGISTRY.serialize(init)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)
