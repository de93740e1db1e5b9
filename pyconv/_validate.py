"""Argument checks shared by every public function, so that every message has one shape:

    "`strides` must be a positive int or a tuple of 2 positive ints. Received: strides=(0, 1)."

Raise ValueError/TypeError, never assert (asserts vanish under python -O).
"""
import numbers

import numpy as np

_FLOAT_KINDS = "f"
_OK_INPUT_KINDS = "fiub"  # converted to float32; anything else is a TypeError


def as_float32(x, name, ndim=None, min_ndim=None):
    """`x` as a C-contiguous float32 ndarray (a copy only when needed).

    float64, integer and bool arrays are converted; complex, object and strings are refused.
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous:
        arr = x
    else:
        if isinstance(x, (str, bytes)):
            raise TypeError(f"`{name}` must be an array of numbers. Received: {name}={x!r}.")
        try:
            arr = np.asarray(x)
        except Exception as e:
            raise TypeError(f"`{name}` must be an array of numbers. Received: {name} of type "
                            f"{type(x).__name__} ({e}).") from None
        if arr.dtype.kind not in _OK_INPUT_KINDS:
            raise TypeError(f"`{name}` must be a real-valued numeric array (float32 is native; "
                            f"float64, int and bool are converted). Received: dtype={arr.dtype}.")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must be a {ndim}-D array. Received: {name}.shape={arr.shape}.")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"`{name}` must have at least {min_ndim} dimensions. "
                         f"Received: {name}.shape={arr.shape}.")
    return arr


def is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def positive_int(v, name):
    if not is_int(v):
        raise TypeError(f"`{name}` must be a positive int. Received: {name}={v!r}.")
    if v < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={v!r}.")
    return int(v)


def int_pair(v, name, allow_nhwc=True, min_value=1):
    """An int, a 2-tuple, or (when allowed) a 4-tuple NHWC with 1 at batch and channel,
    as a (height, width) pair of ints >= min_value."""
    what = f"a positive int or a tuple of 2 positive ints"
    if allow_nhwc:
        what += " (or 4 ints NHWC with 1 at batch and channel)"
    bad = ValueError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    if is_int(v):
        vals = (int(v), int(v))
    elif isinstance(v, (tuple, list, np.ndarray)):
        vals = tuple(v)
        if not all(is_int(e) for e in vals):
            raise TypeError(f"`{name}` must be {what}. Received: {name}={v!r}.")
        if len(vals) == 4 and allow_nhwc:
            if vals[0] != 1 or vals[3] != 1:
                raise bad
            vals = vals[1:3]
        elif len(vals) == 1:
            vals = (vals[0], vals[0])
        elif len(vals) != 2:
            raise bad
        vals = (int(vals[0]), int(vals[1]))
    else:
        raise TypeError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    if min(vals) < min_value:
        raise bad
    return vals


def one_of(v, name, options):
    """A case-insensitive choice among `options` (lower-case strings)."""
    if not isinstance(v, str) or v.lower() not in options:
        raise ValueError(f"`{name}` must be one of {', '.join(repr(o) for o in options)}. "
                         f"Received: {name}={v!r}.")
    return v.lower()
