"""Argument checks shared by every public function, so that every message has one shape:

    "`strides` must be a positive int or a tuple of 2 positive ints. Received: strides=(0, 1)."

Raise ValueError/TypeError, never assert (asserts vanish under python -O).
"""
import math
import numbers
import sys

import numpy as np

_FLOAT_KINDS = "f"
_OK_INPUT_KINDS = "fiub"  # converted to float32; anything else is a TypeError
# Window parameters (strides, dilations, window sizes, explicit padding) are at most this: the
# pooling kernels keep them in C ints, and with array extents below 2**32 every index the
# kernels compute (p * stride + r * dilation - pad) then stays far inside int64_t.
MAX_WINDOW_PARAM = 2**31 - 1


def as_float32(x, name, ndim=None, min_ndim=None, convert=True):
    """`x` as a C-contiguous float32 ndarray (a copy only when needed).

    float64, integer and bool arrays are converted; complex, object and strings are refused.
    With convert=False the array is checked the same way but returned in its own dtype and
    layout (a dataset that `fit` converts batch by batch rather than copying whole).
    """
    if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous:
        arr = x
    else:
        if isinstance(x, np.ma.MaskedArray):
            raise TypeError(f"`{name}` is a masked array: pyconv would ignore its mask. Fill it first "
                            f"(`{name}.filled(value)`) or pass `np.asarray({name})` knowingly.")
        if isinstance(x, (str, bytes)):
            raise TypeError(f"`{name}` must be an array of numbers. Received: {name}={x!r}.")
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError, OverflowError) as e:
            raise TypeError(f"`{name}` must be an array of numbers. Received: {name} of type "
                            f"{type(x).__name__} ({e}).") from None
        if arr.dtype.kind not in _OK_INPUT_KINDS:
            raise TypeError(f"`{name}` must be a real-valued numeric array (float32 is native; "
                            f"float64, int and bool are converted). Received: dtype={arr.dtype}.")
        if convert:
            arr = np.asarray(arr, dtype=np.float32, order="C")  # keeps 0-d as 0-d (ascontiguousarray does not)
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
    as a (height, width) pair of ints in [min_value, MAX_WINDOW_PARAM]."""
    what = "a positive int or a tuple of 2 positive ints"
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
    return window_param(vals, name, v)


def window_param(vals, name, received):
    """`vals` (ints) unchanged, or a ValueError if one exceeds MAX_WINDOW_PARAM."""
    if max(vals, default=0) > MAX_WINDOW_PARAM:
        raise ValueError(f"`{name}` must be at most 2**31 - 1 = {MAX_WINDOW_PARAM} (larger windows, "
                         f"strides, dilations or padding would overflow the kernels' index arithmetic). "
                         f"Received: {name}={received!r}.")
    return vals


def sizes(v, name, ndim=4, what="(N, H, W, C)"):
    """A shape given as an argument (e.g. conv2d_backprop_input's `input_sizes`): `ndim`
    non-negative ints (a tuple, list or 1-D integer array) whose product can be allocated."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if (not isinstance(v, (tuple, list)) or len(v) != ndim
            or not all(is_int(e) and e >= 0 for e in v)):
        raise ValueError(f"`{name}` must be {ndim} non-negative ints {what}. Received: {name}={v!r}.")
    t = tuple(int(e) for e in v)
    check_alloc(t, f"`{name}`")
    return t


def check_alloc(shape, what):
    """A ValueError if a float32 array of `shape` could not even be addressed (its byte size
    exceeds the largest signed 64-bit size): such a size must be refused, never wrapped. A size
    that can be addressed but not allocated raises MemoryError from NumPy."""
    n = math.prod(int(d) for d in shape)
    if 4 * n > sys.maxsize:
        raise ValueError(f"{what} would have shape {tuple(shape)}: {n} float32 elements ({4 * n} "
                         f"bytes), more than can be addressed (at most {sys.maxsize} bytes).")


def same_batch(y_true, y_pred):
    """A ValueError unless `y_true` and `y_pred` (arrays of rank >= 1) hold as many examples."""
    ts, ps = np.shape(y_true), np.shape(y_pred)
    if not ts or not ps or ts[0] != ps[0]:
        raise ValueError(f"`y_true` and `y_pred` must hold the same number of examples (axis 0). "
                         f"Received: y_true.shape={ts}, y_pred.shape={ps}.")


def non_negative_int(v, name):
    if not is_int(v):
        raise TypeError(f"`{name}` must be an int >= 0. Received: {name}={v!r}.")
    if v < 0:
        raise ValueError(f"`{name}` must be an int >= 0. Received: {name}={v!r}.")
    return int(v)


def filepath(v, name="filepath"):
    """A str path from a str or os.PathLike (a TypeError naming the argument otherwise)."""
    import os
    try:
        p = os.fspath(v)
    except TypeError:
        raise TypeError(f"`{name}` must be a path (str or os.PathLike). Received: {name}={v!r}.") from None
    if not isinstance(p, str):
        raise TypeError(f"`{name}` must be a path (str or os.PathLike). Received: {name}={v!r}.")
    return p


_PADDING = ("'VALID', 'SAME' (any case) or explicit [[0, 0], [top, bottom], [left, right], "
            "[0, 0]] of non-negative ints")


def padding(v, name="padding"):
    """"valid" | "same" (any case), or ((top, bottom), (left, right)) from tf.nn's explicit
    [[0, 0], [top, bottom], [left, right], [0, 0]] (a nested list, tuple or integer array)."""
    if isinstance(v, str):
        if v.lower() in ("valid", "same"):
            return v.lower()
    else:
        try:
            pairs = [tuple(e) for e in (v.tolist() if isinstance(v, np.ndarray) else v)]
        except TypeError:
            pairs = None
        if (pairs is not None and len(pairs) == 4
                and all(len(e) == 2 and all(is_int(x) for x in e) for e in pairs)):
            if pairs[0] != (0, 0) or pairs[3] != (0, 0):
                raise ValueError(f"`{name}` must not pad the batch or channel axes: it must be "
                                 f"{_PADDING} (zero at the batch and channel axes). "
                                 f"Received: {name}={v!r}.")
            if min(x for e in pairs for x in e) < 0:
                raise ValueError(f"`{name}` must be {_PADDING} (zero at the batch and channel "
                                 f"axes). Received: {name}={v!r}.")
            window_param([x for e in pairs for x in e], name, v)
            return tuple(map(int, pairs[1])), tuple(map(int, pairs[2]))
    raise ValueError(f"`{name}` must be {_PADDING}. Received: {name}={v!r}.")


def out_backprop(g, expected, what):
    """A ValueError unless the gradient `g` has the forward output's shape `expected`
    (`what` names it: "the convolution's output shape")."""
    if g.shape != tuple(expected):
        raise ValueError(f"`out_backprop` must have {what} {tuple(expected)}. "
                         f"Received: out_backprop.shape={g.shape}.")


def one_of(v, name, options):
    """A case-insensitive choice among `options` (lower-case strings)."""
    if not isinstance(v, str) or v.lower() not in options:
        raise ValueError(f"`{name}` must be one of {', '.join(repr(o) for o in options)}. "
                         f"Received: {name}={v!r}.")
    return v.lower()


def real(v, name, min_value=None, allow_none=False):
    """A finite real number (float), optionally >= min_value, or None when allowed."""
    if v is None and allow_none:
        return None
    what = "a float" + ("" if min_value is None else f" >= {min_value}") + (" or None" if allow_none else "")
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    if not math.isfinite(v) or (min_value is not None and v < min_value):
        raise ValueError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    return float(v)


def blocking_spec(text, name, limits):
    """A PYCONV_BLOCKING-style list such as "mc=96,kc=256": each key of `limits` at most once,
    each value an int in [1, limits[key]]; returns {key: value} for the keys given."""
    what = (f"a comma-separated list of key=value with keys among {', '.join(limits)} and int "
            f"values from 1 to " + ", ".join(f"{v} ({k})" for k, v in limits.items()))
    out = {}
    for item in text.replace(" ", "").lower().split(","):
        key, eq, value = item.partition("=")
        if (not eq or key not in limits or key in out or not value.isdigit()
                or not 1 <= int(value) <= limits[key]):
            raise ValueError(f"`{name}` must be {what}. Received: {name}={text!r}.")
        out[key] = int(value)
    return out
