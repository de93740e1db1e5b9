"""Utilities: pyconv's random generator, `set_random_seed`, `clear_session`.

Every random draw pyconv makes (weight initializers, shuffling in `fit`, dropout masks) comes
from one NumPy Generator held here, so that `set_random_seed(seed)` makes training bitwise
reproducible.
"""
import random as _random

import numpy as np

from . import _validate

__all__ = ["set_random_seed", "clear_session", "get_rng", "PyDataset"]


def __getattr__(name):
    if name == "PyDataset":   # keras.utils.PyDataset (lives with the data adapters)
        from .models.data_adapters import PyDataset
        return PyDataset
    raise AttributeError(f"module 'pyconv.utils' has no attribute {name!r}")

_rng = np.random.default_rng()


def get_rng():
    """The numpy.random.Generator every pyconv random draw comes from."""
    return _rng


def set_random_seed(seed):
    """Seed pyconv's generator (and, like Keras, Python's `random` and NumPy's global one).

    Args:
        seed: an int >= 0.

    Raises:
        TypeError: `seed` is not an int.
        ValueError: `seed` is negative.

    Example:
        >>> from pyconv import layers, utils
        >>> utils.set_random_seed(1); a = layers.Dense(2); a.build((None, 3))
        >>> utils.set_random_seed(1); b = layers.Dense(2); b.build((None, 3))
        >>> bool((a.kernel == b.kernel).all())
        True
    """
    global _rng
    if not _validate.is_int(seed):
        raise TypeError(f"`seed` must be an int. Received: seed={seed!r} of type {type(seed).__name__}.")
    if seed < 0:
        raise ValueError(f"`seed` must be >= 0. Received: seed={seed!r}.")
    _rng = np.random.default_rng(int(seed))
    _random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)


_uids = {}


def _unique_name(prefix):
    """Keras' automatic names: 'dense', then 'dense_1', 'dense_2', ..."""
    n = _uids.get(prefix, 0)
    _uids[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session():
    """Reset the automatic layer and model names ('dense', 'dense_1', ... start again)."""
    _uids.clear()


# ---- plotting --------------------------------------------------------------------------------
# plot_history(history, path) lives below this line (owned by whoever adds it; matplotlib is an
# optional dependency and must be imported inside the function).
__all__ += ["plot_history"]


def plot_history(history, path, title=None):
    """Training curves (loss, accuracy, ... per epoch; train and validation) saved to `path`.

    A thin wrapper: the drawing lives in pyconv/plotting.py, which imports matplotlib (the
    optional `[plot]` extra) only when called. `history` is a History returned by `fit`, its
    `.history` dict, or a dict {label: History} to overlay several models (DNN against CNN).
    See `pyconv.plotting.plot_history` for the arguments, return value and errors.
    """
    from . import plotting
    return plotting.plot_history(history, path, title=title)
