"""pyconv.ops -- a subset of Keras 3's `keras.ops` on NumPy arrays, differentiable through the tape.

Names, argument names and defaults follow `keras.ops`; the values are NumPy arrays. Every op
computes in float32: float64, int and bool inputs (arrays, Python scalars, nested lists) are
converted, as in the rest of pyconv (Keras would keep integer dtypes). The exceptions are
`cast` and `convert_to_tensor` (which may produce any real dtype), `argmax`/`argmin` (int32
indices, as Keras) and `shape` (a tuple). NumPy broadcasting applies to every elementwise op.

The gradient tape (pyconv/_tape.py): while `_tape.recording()` is active, each differentiable
op appends one record (inputs, output, backward), where `backward(g)` maps the gradient of the
output to one gradient per input, each reduced to that input's shape (a broadcast input gets
the sum over the axes it was broadcast along). `_tape.gradients` walks the records backwards.
Arrays are identified by object identity (`id`), which gives two rules every op here keeps:

- the record holds the ORIGINAL argument objects (not the float32 copies made from them), so a
  gradient can be asked for the very float64 array or layer weight that was passed in;
- the output is always a NEW array object, never an input (a reshape returns a new view), so
  two values never share an identity on the tape.

Only float arrays receive gradients: a Python scalar, a list or an integer array is a constant
(its gradient is None). A NumPy expression between two ops (`ops.exp(x) * 2`) makes a new
array the tape has never seen, which cuts the chain: use `ops.multiply` instead.

Ops without a gradient (`argmax`, `argmin`, `shape`) record a backward that raises a ValueError
naming the op, so that a gradient that would have to flow through one is never silently
dropped; `stop_gradient` records nothing, by design. `zeros_like` and `ones_like` record
nothing either: their output does not depend on the values of `x`, so the gradient through
them is exactly zero (TensorFlow declares them not differentiable the same way), and the
common `where(c, x, zeros_like(x))` keeps working.

Symbolic tensors (`KerasTensor`, from `Input`) are refused with a TypeError for now: wrap the
computation in a `layers.Lambda`.

Example:
    >>> import numpy as np
    >>> from pyconv import ops, _tape
    >>> x = np.array([1.0, 2.0, 3.0], np.float32)
    >>> with _tape.recording() as records:
    ...     y = ops.sum(ops.square(x))
    >>> y
    array(14., dtype=float32)
    >>> _tape.gradient(records, y, np.float32(1.0), x)
    array([2., 4., 6.], dtype=float32)
"""
import builtins
import math
import functools
import sys

import numpy as np

from . import _tape, nn
from ._validate import as_float32, is_int

__all__ = ["add", "subtract", "multiply", "divide", "true_divide", "negative", "matmul", "dot",
           "reshape", "transpose", "expand_dims", "squeeze", "concatenate", "stack",
           "mean", "sum", "max", "min", "maximum", "minimum", "exp", "log", "sqrt", "square",
           "abs", "absolute", "power", "clip", "where", "relu", "sigmoid", "tanh", "softmax",
           "log_softmax", "cast", "convert_to_tensor", "zeros_like", "ones_like", "stop_gradient",
           "argmax", "argmin", "shape"]

# This module defines sum, max, min and abs: the built-ins are reached as builtins.<name>.


# ---- helpers: one per idea ------------------------------------------------------------------

def _any_symbolic(args, kwargs):
    """Whether an argument (or an element of a list argument) is a symbolic KerasTensor.

    pyconv._graph is looked up, not imported: if it was never imported, no KerasTensor exists.
    """
    graph = sys.modules.get("pyconv._graph")
    if graph is None:
        return False
    return graph.any_symbolic(list(args)) or graph.any_symbolic(list(kwargs.values()))


def _symbolic_aware(fn):
    """On symbolic tensors an op becomes a node of the functional graph (an OpLayer), as in
    Keras 3; on arrays it computes."""
    name = fn.__name__

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _any_symbolic(args, kwargs):
            graph = sys.modules["pyconv._graph"]
            if name == "shape":
                return args[0].shape if args else kwargs["x"].shape
            return graph.symbolic_op(name, args, kwargs)
        return fn(*args, **kwargs)
    return op


def _f32(x, name):
    """`x` as a float32 array (a TypeError naming `name` for strings, objects, complex)."""
    return as_float32(x, name)


def _numeric(x, name):
    """`x` as an array in its own dtype, checked to be real numbers (bool, int or float)."""
    return as_float32(x, name, convert=False)


def _dtype(dtype, name="dtype"):
    """`dtype` as a NumPy real numeric dtype (bool, int, uint or float)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind not in "biuf":
        raise TypeError(f"`{name}` must be a real numeric dtype such as 'float32', 'int32' or "
                        f"'bool'. Received: {name}={dtype!r}.")
    return dt


def _default_dtype(arr):
    """float32 for float input (pyconv computes in float32), else the input's own dtype."""
    return np.dtype(np.float32) if arr.dtype.kind == "f" else arr.dtype


def _axes(axis, ndim, name="axis"):
    """`axis` (an int or a tuple/list of distinct ints, each in [-ndim, ndim)) as a tuple of
    non-negative ints in the given order; None stays None."""
    if axis is None:
        return None
    vals = (axis,) if is_int(axis) else tuple(axis) if isinstance(axis, (tuple, list)) else None
    what = f"None, an int or a tuple of distinct ints in [{-ndim}, {ndim})"
    if vals is None or not all(is_int(a) for a in vals):
        raise TypeError(f"`{name}` must be {what}. Received: {name}={axis!r}.")
    out = tuple(int(a) % ndim if -ndim <= a < ndim else None for a in vals)
    if None in out or len(set(out)) != len(out):
        raise ValueError(f"`{name}` must be {what} (for a {ndim}-D input). Received: {name}={axis!r}.")
    return out


def _one_axis(axis, ndim, name="axis"):
    """`axis` as one non-negative int < ndim."""
    if not is_int(axis):
        raise TypeError(f"`{name}` must be an int in [{-ndim}, {ndim}). Received: {name}={axis!r}.")
    return _axes(axis, ndim, name)[0]


def _broadcast(op, **arrays):
    """The broadcast shape of the arrays, or a ValueError naming them and their shapes."""
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        got = ", ".join(f"{k}.shape={a.shape}" for k, a in arrays.items())
        raise ValueError(f"pyconv.ops.{op}: the inputs must be broadcastable to one shape "
                         f"(NumPy's rules). Received: {got}.") from None


def _binary(op, x1, x2):
    """Both operands of an elementwise op as float32 arrays, checked to broadcast."""
    a, b = _f32(x1, "x1"), _f32(x2, "x2")
    _broadcast(op, x1=a, x2=b)
    return a, b


def _unbroadcast(g, shape):
    """`g` (the gradient of a broadcast result) summed back to an input's `shape`: over the
    leading axes the input lacks, and (keepdims) over the axes where the input has size 1."""
    g = np.asarray(g, dtype=np.float32)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if ones:
        g = g.sum(axis=ones, keepdims=True)
    return np.asarray(g, dtype=np.float32).reshape(shape)


def _differentiable(x):
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def _record(inputs, out, backward):
    """Put `out` on the tape as computed from `inputs` (the caller's original objects).

    `backward(g)` gets the output gradient as float32 and returns one gradient per input,
    shaped like the output (broadcast) or like the input; this reduces each to its input's
    shape, and gives None to inputs that are not float arrays (scalars, lists, ints).
    Nothing is recorded when no input can receive a gradient.
    """
    if not _tape.is_recording():
        return
    shapes = tuple(x.shape if _differentiable(x) else None for x in inputs)
    if all(s is None for s in shapes):
        return

    def reduced(g):
        grads = backward(np.asarray(g, dtype=np.float32))
        return tuple(None if s is None or gx is None else _unbroadcast(gx, s)
                     for s, gx in zip(shapes, grads))
    _tape.record(inputs, out, reduced)


def _record_no_grad(op, inputs, out):
    """Record an op without a gradient: if a gradient ever reaches `out`, backward raises."""
    if not _tape.is_recording() or not any(isinstance(x, np.ndarray) for x in inputs):
        return

    def backward(g):
        raise ValueError(f"pyconv.ops.{op} has no gradient: a gradient reached its output while "
                         f"differentiating, and it cannot flow on to {op}'s input. If the value is "
                         f"meant as a constant, pass it through ops.stop_gradient(...) first.")
    _tape.record(inputs, out, backward)


def _reduced_shape(shape_, axes):
    """`shape_` with the reduced `axes` kept as size 1 (the keepdims shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape_))


# ---- elementwise arithmetic -------------------------------------------------------------------

def add(x1, x2):
    """Add arguments elementwise, with broadcasting.

    Args:
        x1: first input (array, list or scalar).
        x2: second input, broadcastable with `x1`.

    Returns:
        A float32 array, `x1 + x2`.

    Example:
        >>> from pyconv import ops
        >>> ops.add([1, 2], [[10], [20]])
        array([[11., 12.],
               [21., 22.]], dtype=float32)
    """
    a, b = _binary("add", x1, x2)
    y = np.asarray(a + b)
    _record((x1, x2), y, lambda g: (g, g))
    return y


def subtract(x1, x2):
    """Subtract arguments elementwise, with broadcasting.

    Args:
        x1: first input.
        x2: second input, broadcastable with `x1`.

    Returns:
        A float32 array, `x1 - x2`.

    Example:
        >>> from pyconv import ops
        >>> ops.subtract([3.0, 4.0], 1.0)
        array([2., 3.], dtype=float32)
    """
    a, b = _binary("subtract", x1, x2)
    y = np.asarray(a - b)
    _record((x1, x2), y, lambda g: (g, -g))
    return y


def multiply(x1, x2):
    """Multiply arguments elementwise, with broadcasting.

    Args:
        x1: first input.
        x2: second input, broadcastable with `x1`.

    Returns:
        A float32 array, `x1 * x2`.

    Example:
        >>> from pyconv import ops
        >>> ops.multiply([1.0, 2.0], [[3.0], [4.0]])
        array([[3., 6.],
               [4., 8.]], dtype=float32)
    """
    a, b = _binary("multiply", x1, x2)
    y = np.asarray(a * b)
    _record((x1, x2), y, lambda g: (g * b, g * a))
    return y


def _divide(op, x1, x2):
    a, b = _binary(op, x1, x2)
    y = np.asarray(a / b)
    _record((x1, x2), y, lambda g: (g / b, -g * y / b))
    return y


def divide(x1, x2):
    """Divide arguments elementwise, with broadcasting (division by 0 gives inf or nan, as NumPy).

    Args:
        x1: numerator.
        x2: denominator, broadcastable with `x1`.

    Returns:
        A float32 array, `x1 / x2`.

    Example:
        >>> from pyconv import ops
        >>> ops.divide([1.0, 3.0], 2.0)
        array([0.5, 1.5], dtype=float32)
    """
    return _divide("divide", x1, x2)


def true_divide(x1, x2):
    """Alias of `divide` (Keras keeps both names).

    Args:
        x1: numerator.
        x2: denominator, broadcastable with `x1`.

    Returns:
        A float32 array, `x1 / x2`.

    Example:
        >>> from pyconv import ops
        >>> ops.true_divide(1, 4)
        array(0.25, dtype=float32)
    """
    return _divide("true_divide", x1, x2)


def negative(x):
    """Numerical negative, elementwise.

    Args:
        x: input.

    Returns:
        A float32 array, `-x`.

    Example:
        >>> from pyconv import ops
        >>> ops.negative([1.0, -2.0])
        array([-1.,  2.], dtype=float32)
    """
    y = np.asarray(-_f32(x, "x"))
    _record((x,), y, lambda g: (-g,))
    return y


def maximum(x1, x2):
    """Elementwise maximum, with broadcasting.

    The gradient follows TensorFlow: it goes to `x1` where x1 >= x2 (ties included) and to
    `x2` where x2 > x1 (JAX and PyTorch split ties evenly instead).

    Args:
        x1: first input.
        x2: second input, broadcastable with `x1`.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.maximum([1.0, 5.0], 3.0)
        array([3., 5.], dtype=float32)
    """
    a, b = _binary("maximum", x1, x2)
    y = np.asarray(np.maximum(a, b))
    _record((x1, x2), y, lambda g: (np.where(a >= b, g, 0), np.where(a >= b, 0, g)))
    return y


def minimum(x1, x2):
    """Elementwise minimum, with broadcasting.

    The gradient follows TensorFlow: it goes to `x1` where x1 <= x2 (ties included) and to
    `x2` where x2 < x1.

    Args:
        x1: first input.
        x2: second input, broadcastable with `x1`.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.minimum([1.0, 5.0], 3.0)
        array([1., 3.], dtype=float32)
    """
    a, b = _binary("minimum", x1, x2)
    y = np.asarray(np.minimum(a, b))
    _record((x1, x2), y, lambda g: (np.where(a <= b, g, 0), np.where(a <= b, 0, g)))
    return y


def power(x1, x2):
    """First tensor elements raised to powers from the second, elementwise, with broadcasting.

    Gradients as TensorFlow: d/dx1 = x2 * x1**(x2 - 1) (inf or nan at x1 = 0 with x2 < 1, as
    NumPy computes it); d/dx2 = x1**x2 * log(x1) where x1 > 0, and 0 where x1 <= 0.

    Args:
        x1: the bases.
        x2: the exponents, broadcastable with `x1`.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.power([2.0, 3.0], 2)
        array([4., 9.], dtype=float32)
    """
    a, b = _binary("power", x1, x2)
    y = np.asarray(np.power(a, b))

    def backward(g):
        log_a = np.log(np.where(a > 0, a, 1))  # 0 where a <= 0: no nan from log of a negative
        return g * b * np.power(a, b - 1), g * y * log_a
    _record((x1, x2), y, backward)
    return y


def clip(x, x_min, x_max):
    """Clip (limit) the values of `x` to [x_min, x_max]: minimum(maximum(x, x_min), x_max).

    The bounds may be arrays broadcastable with `x`; if x_min > x_max the result is x_max
    (NumPy's rule). Gradient as TensorFlow's clip_by_value: to `x` where x_min <= x <= x_max
    (bounds included), to `x_min` where x < x_min, to `x_max` where x > x_max.

    Args:
        x: input.
        x_min: the lower bound (scalar or array).
        x_max: the upper bound (scalar or array).

    Returns:
        A float32 array of the broadcast shape.

    Example:
        >>> from pyconv import ops
        >>> ops.clip([-2.0, 0.5, 3.0], -1, 1)
        array([-1. ,  0.5,  1. ], dtype=float32)
    """
    a, lo, hi = _f32(x, "x"), _f32(x_min, "x_min"), _f32(x_max, "x_max")
    _broadcast("clip", x=a, x_min=lo, x_max=hi)
    m = np.maximum(a, lo)
    y = np.asarray(np.minimum(m, hi))

    def backward(g):
        below = np.where(m <= hi, g, 0)  # the part that passed the upper bound's minimum
        return np.where(a >= lo, below, 0), np.where(a >= lo, 0, below), np.where(m <= hi, 0, g)
    _record((x, x_min, x_max), y, backward)
    return y


def where(condition, x1=None, x2=None):
    """Elements chosen from `x1` where `condition` is true, else from `x2`, with broadcasting.

    With neither `x1` nor `x2`, returns the indices where `condition` is true (as NumPy's
    `np.where(condition)`, a tuple of int arrays). The condition has no gradient; `x1` gets the
    output gradient where the condition holds, `x2` elsewhere.

    Args:
        condition: array of bools (or numbers, true when nonzero).
        x1: values where `condition` is true.
        x2: values where `condition` is false.

    Returns:
        A float32 array of the broadcast shape (or a tuple of index arrays).

    Raises:
        ValueError: only one of `x1`, `x2` is given, or the shapes do not broadcast.

    Example:
        >>> from pyconv import ops
        >>> ops.where([True, False, True], [1.0, 2.0, 3.0], 0.0)
        array([1., 0., 3.], dtype=float32)
    """
    c = _numeric(condition, "condition").astype(bool)
    if x1 is None and x2 is None:
        return tuple(np.asarray(i) for i in np.nonzero(c))
    if x1 is None or x2 is None:
        raise ValueError(f"`x1` and `x2` must be both None or both given. "
                         f"Received: x1={x1!r}, x2={x2!r}.")
    a, b = _f32(x1, "x1"), _f32(x2, "x2")
    _broadcast("where", condition=c, x1=a, x2=b)
    y = np.asarray(np.where(c, a, b))
    _record((condition, x1, x2), y, lambda g: (None, np.where(c, g, 0), np.where(c, 0, g)))
    return y


# ---- elementwise math -------------------------------------------------------------------------

def exp(x):
    """Exponential, elementwise.

    Args:
        x: input.

    Returns:
        A float32 array, e**x.

    Example:
        >>> from pyconv import ops
        >>> ops.exp([0.0])
        array([1.], dtype=float32)
    """
    y = np.asarray(np.exp(_f32(x, "x")))
    _record((x,), y, lambda g: (g * y,))
    return y


def log(x):
    """Natural logarithm, elementwise (log(0) = -inf, log(negative) = nan, as NumPy).

    Args:
        x: input.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.log([1.0])
        array([0.], dtype=float32)
    """
    a = _f32(x, "x")
    y = np.asarray(np.log(a))
    _record((x,), y, lambda g: (g / a,))
    return y


def sqrt(x):
    """Non-negative square root, elementwise (its gradient at 0 is inf, as NumPy computes it).

    Args:
        x: input.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.sqrt([4.0, 9.0])
        array([2., 3.], dtype=float32)
    """
    y = np.asarray(np.sqrt(_f32(x, "x")))
    _record((x,), y, lambda g: (g / (2 * y),))
    return y


def square(x):
    """Square, elementwise.

    Args:
        x: input.

    Returns:
        A float32 array, x * x.

    Example:
        >>> from pyconv import ops
        >>> ops.square([-3.0])
        array([9.], dtype=float32)
    """
    a = _f32(x, "x")
    y = np.asarray(np.square(a))
    _record((x,), y, lambda g: (2 * g * a,))
    return y


def abs(x):
    """Absolute value, elementwise. The gradient is sign(x): 0 at x = 0, as TensorFlow.

    Args:
        x: input.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.abs([-1.5, 2.0])
        array([1.5, 2. ], dtype=float32)
    """
    a = _f32(x, "x")
    y = np.asarray(np.abs(a))
    _record((x,), y, lambda g: (g * np.sign(a),))
    return y


absolute = abs  # Keras's alias


# ---- activations (pyconv.nn's kernels, which record themselves) ------------------------------

def relu(x):
    """Rectified linear unit, max(x, 0), elementwise (pyconv.nn.relu's kernel).

    Args:
        x: input.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.relu([-1.0, 2.0])
        array([0., 2.], dtype=float32)
    """
    _numeric(x, "x")  # checked here so that a bad `x` is named as ops names it
    return nn.relu(x)  # records itself, on the original `x`


def sigmoid(x):
    """Sigmoid, 1 / (1 + exp(-x)), elementwise (pyconv.nn.sigmoid's kernel).

    Args:
        x: input.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.sigmoid([0.0])
        array([0.5], dtype=float32)
    """
    _numeric(x, "x")
    return nn.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent, elementwise (pyconv.nn.tanh's kernel).

    Args:
        x: input.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.tanh([0.0])
        array([0.], dtype=float32)
    """
    _numeric(x, "x")
    return nn.tanh(x)


def softmax(x, axis=-1):
    """Softmax, exp(x) / sum(exp(x)) along `axis`, stable for large inputs.

    The last axis runs pyconv.nn.softmax's kernel; any other axis (or a tuple of axes, which
    Keras also accepts) is computed with NumPy.

    Args:
        x: input, at least 1-D.
        axis: int or tuple of ints, the axis (axes) normalised over. Defaults to -1.

    Returns:
        A float32 array shaped like `x`.

    Example:
        >>> from pyconv import ops
        >>> ops.softmax([[2.0, 0.0], [2.0, 0.0]], axis=0)
        array([[0.5, 0.5],
               [0.5, 0.5]], dtype=float32)
    """
    a = _numeric(x, "x")
    if a.ndim < 1:
        raise ValueError(f"`x` must have at least 1 dimension. Received: x.shape={a.shape}.")
    axes = _axes(axis, a.ndim)
    if axes == (a.ndim - 1,):
        return nn.softmax(x)  # records itself, on the original `x`
    a = _f32(x, "x")
    e = np.exp(a - np.max(a, axis=axes, keepdims=True))
    y = np.asarray(e / np.sum(e, axis=axes, keepdims=True))
    _record((x,), y, lambda g: (y * (g - np.sum(g * y, axis=axes, keepdims=True)),))
    return y


def log_softmax(x, axis=-1):
    """Log-softmax, x - max(x) - log(sum(exp(x - max(x)))) along `axis`.

    Args:
        x: input, at least 1-D.
        axis: int or tuple of ints. Defaults to -1.

    Returns:
        A float32 array shaped like `x`.

    Example:
        >>> from pyconv import ops
        >>> ops.log_softmax([0.0, 0.0])
        array([-0.6931472, -0.6931472], dtype=float32)
    """
    a = _f32(x, "x")
    if a.ndim < 1:
        raise ValueError(f"`x` must have at least 1 dimension. Received: x.shape={a.shape}.")
    axes = _axes(axis, a.ndim)
    s = a - np.max(a, axis=axes, keepdims=True)
    y = np.asarray(s - np.log(np.sum(np.exp(s), axis=axes, keepdims=True)))
    _record((x,), y, lambda g: (g - np.exp(y) * np.sum(g, axis=axes, keepdims=True),))
    return y


# ---- linear algebra ---------------------------------------------------------------------------

def matmul(x1, x2):
    """Matrix product of two arrays, with NumPy's `matmul` rules.

    A 1-D `x1` is a row vector and a 1-D `x2` a column vector (the added axis is removed from
    the result); leading (batch) axes broadcast.

    Args:
        x1: (..., n, k) or (k,) array.
        x2: (..., k, m) or (k,) array.

    Returns:
        A float32 array, (..., n, m) with the 1-D axes removed.

    Raises:
        ValueError: a 0-D input, inner sizes that differ, or batch axes that do not broadcast.

    Example:
        >>> import numpy as np
        >>> from pyconv import ops
        >>> ops.matmul(np.ones((2, 3)), np.ones((3, 4))).shape
        (2, 4)
    """
    a, b = _f32(x1, "x1"), _f32(x2, "x2")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"pyconv.ops.matmul: `x1` and `x2` must have at least 1 dimension "
                         f"(use ops.multiply for scalars). Received: x1.shape={a.shape}, x2.shape={b.shape}.")
    A = a if a.ndim > 1 else a[None, :]   # (..., n, k)
    B = b if b.ndim > 1 else b[:, None]   # (..., k, m)
    try:
        Y = np.matmul(A, B)               # (..., n, m)
    except ValueError:
        raise ValueError(f"pyconv.ops.matmul: the last axis of `x1` must match the second-to-last "
                         f"of `x2` (the first, if 1-D), and the batch axes must broadcast. "
                         f"Received: x1.shape={a.shape}, x2.shape={b.shape}.") from None
    # drop the axes that the 1-D inputs gained (n from a row vector, m from a column vector)
    y = Y.reshape(Y.shape[:-2] + Y.shape[-2:-1] * (a.ndim > 1) + Y.shape[-1:] * (b.ndim > 1))

    def backward(g):
        G = g.reshape(Y.shape)
        dA = _unbroadcast(np.matmul(G, np.swapaxes(B, -1, -2)), A.shape)
        dB = _unbroadcast(np.matmul(np.swapaxes(A, -1, -2), G), B.shape)
        return dA.reshape(a.shape), dB.reshape(b.shape)
    _record((x1, x2), y, backward)
    return y


def dot(x1, x2):
    """Dot product, with NumPy's `dot` rules.

    Both 1-D: the inner product. 2-D: the matrix product. One 0-D: multiply. N-D with M-D:
    a sum product over the last axis of `x1` and the second-to-last of `x2` (its only axis if
    1-D): dot(a, b)[i, j, k, m] = sum(a[i, j, :] * b[k, :, m]).

    Args:
        x1: first input.
        x2: second input.

    Returns:
        A float32 array of shape x1.shape[:-1] + (x2.shape without its contracted axis).

    Raises:
        ValueError: the contracted axes differ in size.

    Example:
        >>> from pyconv import ops
        >>> ops.dot([1.0, 2.0], [3.0, 4.0])
        array(11., dtype=float32)
    """
    a, b = _f32(x1, "x1"), _f32(x2, "x2")
    if a.ndim == 0 or b.ndim == 0:
        _broadcast("dot", x1=a, x2=b)
        y = np.asarray(a * b)
        _record((x1, x2), y, lambda g: (g * b, g * a))
        return y
    bk = 0 if b.ndim == 1 else b.ndim - 2  # the contracted axis of b
    if a.shape[-1] != b.shape[bk]:
        raise ValueError(f"pyconv.ops.dot: the last axis of `x1` must match the "
                         f"{'only' if b.ndim == 1 else 'second-to-last'} axis of `x2`. "
                         f"Received: x1.shape={a.shape}, x2.shape={b.shape}.")
    y = np.asarray(np.tensordot(a, b, axes=([a.ndim - 1], [bk])))
    b_rest = [i for i in range(b.ndim) if i != bk]
    lead = list(range(a.ndim - 1))

    def backward(g):
        # g: a.shape[:-1] + b's other axes. da = g . b over b's other axes; db = a . g over a's
        # leading axes, which comes out (K, *b_rest) and has K moved back to axis bk.
        da = np.tensordot(g, b, axes=(list(range(a.ndim - 1, g.ndim)), b_rest))
        db = np.moveaxis(np.tensordot(a, g, axes=(lead, lead)), 0, bk)
        return da, db
    _record((x1, x2), y, backward)
    return y


# ---- shapes -----------------------------------------------------------------------------------

def _reshaped(x, a, y):
    """Record a shape-only op (its gradient is the output gradient reshaped back); `y` is
    made a new view if NumPy returned `a` itself (np.squeeze of a 0-D array does)."""
    y = a.view() if y is a else y
    _record((x,), y, lambda g: (g.reshape(a.shape),))
    return y


def reshape(x, newshape):
    """Give a new shape to an array without changing its data.

    Args:
        x: input.
        newshape: an int or a tuple of ints; one entry may be -1 (inferred).

    Returns:
        A float32 array (a new view of `x`'s float32 data).

    Raises:
        ValueError: the sizes do not match.

    Example:
        >>> from pyconv import ops
        >>> ops.reshape([1, 2, 3, 4], (2, -1))
        array([[1., 2.],
               [3., 4.]], dtype=float32)
    """
    a = _f32(x, "x")
    dims = (newshape,) if is_int(newshape) else newshape
    if not isinstance(dims, (tuple, list)) or not all(is_int(d) for d in dims):
        raise TypeError(f"`newshape` must be an int or a tuple of ints. Received: newshape={newshape!r}.")
    try:
        y = a.reshape(tuple(int(d) for d in dims))
    except ValueError:
        raise ValueError(f"`newshape` must hold as many elements as `x` (one entry may be -1). "
                         f"Received: newshape={newshape!r} for x.shape={a.shape}.") from None
    return _reshaped(x, a, y)


def transpose(x, axes=None):
    """Permute the axes of an array.

    Args:
        x: input.
        axes: a permutation of range(x.ndim) (negative ints allowed), or None to reverse.

    Returns:
        A float32 array (a view).

    Example:
        >>> from pyconv import ops
        >>> ops.transpose([[1, 2, 3]]).shape
        (3, 1)
    """
    a = _f32(x, "x")
    perm = tuple(reversed(range(a.ndim))) if axes is None else _axes(axes, a.ndim, "axes")
    if len(perm) != a.ndim:
        raise ValueError(f"`axes` must be a permutation of the {a.ndim} axes of `x`. "
                         f"Received: axes={axes!r} for x.shape={a.shape}.")
    y = np.transpose(a, perm)
    y = a.view() if y is a else y
    _record((x,), y, lambda g: (np.transpose(g, np.argsort(perm)),))
    return y


def expand_dims(x, axis):
    """Insert new size-1 axes at `axis` (an int or a tuple of ints: positions in the output).

    Args:
        x: input.
        axis: where the new axes go, in the result's axes.

    Returns:
        A float32 array (a view).

    Example:
        >>> from pyconv import ops
        >>> ops.expand_dims([1.0, 2.0], -1).shape
        (2, 1)
    """
    a = _f32(x, "x")
    n_new = len(axis) if isinstance(axis, (tuple, list)) else 1
    y = np.expand_dims(a, _axes(axis, a.ndim + n_new))
    return _reshaped(x, a, y)


def squeeze(x, axis=None):
    """Remove size-1 axes: all of them, or those named by `axis`.

    Args:
        x: input.
        axis: None, an int or a tuple of ints; each named axis must have size 1.

    Returns:
        A float32 array (a view).

    Raises:
        ValueError: an axis named by `axis` does not have size 1.

    Example:
        >>> from pyconv import ops
        >>> ops.squeeze([[1.0], [2.0]]).shape
        (2,)
    """
    a = _f32(x, "x")
    axes = _axes(axis, a.ndim)
    if axes is not None and any(a.shape[i] != 1 for i in axes):
        raise ValueError(f"`axis` must name axes of size 1 only. Received: axis={axis!r} for "
                         f"x.shape={a.shape}.")
    return _reshaped(x, a, np.squeeze(a, axes))


def concatenate(xs, axis=0):
    """Join a sequence of arrays along an existing axis.

    Args:
        xs: a list or tuple of arrays, equal in shape except along `axis`.
        axis: the axis to join along. Defaults to 0.

    Returns:
        A float32 array.

    Raises:
        ValueError: `xs` is empty, ranks differ, or shapes differ off `axis`.

    Example:
        >>> from pyconv import ops
        >>> ops.concatenate([[1.0], [2.0, 3.0]])
        array([1., 2., 3.], dtype=float32)
    """
    arrs = _sequence(xs, "xs")
    ax = _one_axis(axis, arrs[0].ndim) if arrs[0].ndim else None
    if ax is None or any(t.shape[:ax] + t.shape[ax + 1:] != arrs[0].shape[:ax] + arrs[0].shape[ax + 1:]
                         or t.ndim != arrs[0].ndim for t in arrs):
        raise ValueError(f"pyconv.ops.concatenate: the inputs must have the same rank (at least 1) "
                         f"and the same shape except along axis {axis!r}. "
                         f"Received: shapes {[t.shape for t in arrs]}.")
    y = np.concatenate(arrs, axis=ax)
    splits = np.cumsum([t.shape[ax] for t in arrs])[:-1]
    _record(tuple(xs), y, lambda g: tuple(np.split(g, splits, axis=ax)))
    return y


def stack(x, axis=0):
    """Join a sequence of arrays of the same shape along a new axis.

    Args:
        x: a list or tuple of arrays of one shape.
        axis: the position of the new axis in the result. Defaults to 0.

    Returns:
        A float32 array.

    Raises:
        ValueError: `x` is empty or the shapes differ.

    Example:
        >>> from pyconv import ops
        >>> ops.stack([[1.0, 2.0], [3.0, 4.0]], axis=1)
        array([[1., 3.],
               [2., 4.]], dtype=float32)
    """
    arrs = _sequence(x, "x")
    if any(t.shape != arrs[0].shape for t in arrs):
        raise ValueError(f"pyconv.ops.stack: the inputs must all have the same shape. "
                         f"Received: shapes {[t.shape for t in arrs]}.")
    ax = _one_axis(axis, arrs[0].ndim + 1)
    y = np.stack(arrs, axis=ax)
    _record(tuple(x), y, lambda g: tuple(np.moveaxis(g, ax, 0)))
    return y


def _sequence(xs, name):
    """A non-empty list or tuple of arrays, each converted to float32 (named `name[i]`)."""
    if not isinstance(xs, (list, tuple)) or not xs:
        raise TypeError(f"`{name}` must be a non-empty list or tuple of arrays. "
                        f"Received: {name}={xs!r} of type {type(xs).__name__}.")
    return [_f32(t, f"{name}[{i}]") for i, t in enumerate(xs)]


# ---- reductions -------------------------------------------------------------------------------

def _reduction(op, x, axis):
    """(float32 x, the reduced axes as a tuple, the keepdims shape)."""
    a = _f32(x, "x")
    axes = _axes(axis, a.ndim)
    axes = tuple(range(a.ndim)) if axes is None else axes
    return a, axes, _reduced_shape(a.shape, axes)


def sum(x, axis=None, keepdims=False):
    """Sum of array elements over the given axes.

    Args:
        x: input.
        axis: None (all axes), an int or a tuple of ints.
        keepdims: keep the reduced axes with size 1.

    Returns:
        A float32 array (0-D when all axes are reduced without keepdims).

    Example:
        >>> from pyconv import ops
        >>> ops.sum([[1.0, 2.0], [3.0, 4.0]], axis=0)
        array([4., 6.], dtype=float32)
    """
    a, axes, kshape = _reduction("sum", x, axis)
    y = np.asarray(np.sum(a, axis=axes, keepdims=bool(keepdims)))
    _record((x,), y, lambda g: (np.broadcast_to(g.reshape(kshape), a.shape),))
    return y


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over the given axes (nan for an empty reduction, as NumPy).

    Args:
        x: input.
        axis: None (all axes), an int or a tuple of ints.
        keepdims: keep the reduced axes with size 1.

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.mean([[1.0, 2.0], [3.0, 4.0]])
        array(2.5, dtype=float32)
    """
    a, axes, kshape = _reduction("mean", x, axis)
    y = np.asarray(np.mean(a, axis=axes, keepdims=bool(keepdims)))
    count = builtins.max(math.prod(a.shape[i] for i in axes), 1)
    _record((x,), y, lambda g: (np.broadcast_to(g.reshape(kshape) / count, a.shape),))
    return y


def _extreme(op, fn, x, axis, keepdims, initial):
    """max or min over axes. Gradient as TensorFlow's reduce_max: split evenly among the
    positions equal to the result (a NaN result counts the NaNs as the positions)."""
    a, axes, kshape = _reduction(op, x, axis)
    kw = {} if initial is None else {"initial": float(_f32(initial, "initial"))}
    if a.size == 0 and initial is None:
        raise ValueError(f"pyconv.ops.{op} of an empty array needs `initial`. "
                         f"Received: x.shape={a.shape}, axis={axis!r}, initial=None.")
    y = np.asarray(fn(a, axis=axes, keepdims=bool(keepdims), **kw))

    def backward(g):
        yk = y.reshape(kshape)
        hit = (a == yk) | (np.isnan(a) & np.isnan(yk))
        count = np.maximum(np.sum(hit, axis=axes, keepdims=True), 1)  # 0 where `initial` won
        return (np.where(hit, g.reshape(kshape) / count, 0),)
    _record((x,), y, backward)
    return y


def max(x, axis=None, keepdims=False, initial=None):
    """Maximum over the given axes.

    The gradient goes to the positions that equal the maximum, split evenly among ties (as
    TensorFlow's reduce_max); none goes to `x` where `initial` is the maximum.

    Args:
        x: input.
        axis: None (all axes), an int or a tuple of ints.
        keepdims: keep the reduced axes with size 1.
        initial: the minimum value of an output element (needed for an empty reduction).

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.max([[1.0, 5.0], [3.0, 2.0]], axis=1)
        array([5., 3.], dtype=float32)
    """
    return _extreme("max", np.max, x, axis, keepdims, initial)


def min(x, axis=None, keepdims=False, initial=None):
    """Minimum over the given axes (gradient as `max`: split evenly among ties).

    Args:
        x: input.
        axis: None (all axes), an int or a tuple of ints.
        keepdims: keep the reduced axes with size 1.
        initial: the maximum value of an output element (needed for an empty reduction).

    Returns:
        A float32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.min([[1.0, 5.0], [3.0, 2.0]], axis=1)
        array([1., 2.], dtype=float32)
    """
    return _extreme("min", np.min, x, axis, keepdims, initial)


def _arg_extreme(op, fn, x, axis, keepdims):
    a = _f32(x, "x")
    ax = None if axis is None else _one_axis(axis, a.ndim)
    if a.size == 0:
        raise ValueError(f"pyconv.ops.{op} of an empty array has no answer. "
                         f"Received: x.shape={a.shape}.")
    y = np.asarray(fn(a, axis=ax, keepdims=bool(keepdims)).astype(np.int32))
    _record_no_grad(op, (x,), y)
    return y


def argmax(x, axis=None, keepdims=False):
    """Indices of the maximum values along an axis (the first one among ties, as NumPy).

    No gradient: backward raises a ValueError if a gradient reaches the result.

    Args:
        x: input.
        axis: None (index into the flattened array) or an int.
        keepdims: keep the reduced axis with size 1.

    Returns:
        An int32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.argmax([[10, 11, 12], [13, 14, 15]], axis=1)
        array([2, 2], dtype=int32)
    """
    return _arg_extreme("argmax", np.argmax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Indices of the minimum values along an axis (the first one among ties, as NumPy).

    No gradient: backward raises a ValueError if a gradient reaches the result.

    Args:
        x: input.
        axis: None (index into the flattened array) or an int.
        keepdims: keep the reduced axis with size 1.

    Returns:
        An int32 array.

    Example:
        >>> from pyconv import ops
        >>> ops.argmin([3.0, 1.0, 2.0])
        array(1, dtype=int32)
    """
    return _arg_extreme("argmin", np.argmin, x, axis, keepdims)


# ---- dtypes, constants and gradient control ---------------------------------------------------

def cast(x, dtype):
    """Cast an array to another dtype (any real dtype, float64 included).

    Float to float passes the gradient on (in float32); a cast to or from an integer or bool
    dtype has no gradient (as TensorFlow: nothing flows back through it).

    Args:
        x: input.
        dtype: the target dtype: a name ('float32', 'int32', 'bool', ...) or a NumPy dtype.

    Returns:
        A new array of `dtype`.

    Example:
        >>> from pyconv import ops
        >>> ops.cast([1.7, -2.2], "int32")
        array([ 1, -2], dtype=int32)
    """
    a = _numeric(x, "x")
    dt = _dtype(dtype)
    y = np.asarray(a.astype(dt))  # astype copies: always a new object
    if dt.kind == "f":
        _record((x,), y, lambda g: (g,))
    return y


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """Convert a NumPy array, a (nested) list or a scalar to an array.

    Float inputs become float32 by default (pyconv's dtype); integer and bool inputs keep
    their dtype. A float-to-float conversion passes the gradient on. The result is always a
    new array object (a view when no conversion is needed).

    Args:
        x: the value.
        dtype: the target dtype, or None.
        sparse: None or False (pyconv has no sparse tensors).
        ragged: None or False (pyconv has no ragged tensors).

    Returns:
        An array.

    Example:
        >>> import numpy as np
        >>> from pyconv import ops
        >>> ops.convert_to_tensor(np.array([1.0, 2.0])).dtype
        dtype('float32')
    """
    for name, flag in (("sparse", sparse), ("ragged", ragged)):
        if flag:
            raise ValueError(f"`{name}` must be None or False: pyconv has no {name} tensors. "
                             f"Received: {name}={flag!r}.")
    a = _numeric(x, "x")
    dt = _default_dtype(a) if dtype is None else _dtype(dtype)
    y = a.astype(dt, copy=False)
    y = y.view() if y is x else y
    if dt.kind == "f":
        _record((x,), y, lambda g: (g,))
    return y


def zeros_like(x, dtype=None):
    """An array of zeros with the shape of `x`.

    Records nothing: the result does not depend on the values of `x`, so the gradient through
    it is exactly zero (TensorFlow's zeros_like is not differentiable either).

    Args:
        x: input.
        dtype: the result's dtype; None: float32 for float input, else `x`'s dtype.

    Returns:
        A new array.

    Example:
        >>> from pyconv import ops
        >>> ops.zeros_like([[1.0, 2.0]])
        array([[0., 0.]], dtype=float32)
    """
    a = _numeric(x, "x")
    return np.zeros(a.shape, _default_dtype(a) if dtype is None else _dtype(dtype))


def ones_like(x, dtype=None):
    """An array of ones with the shape of `x` (records nothing, as `zeros_like`).

    Args:
        x: input.
        dtype: the result's dtype; None: float32 for float input, else `x`'s dtype.

    Returns:
        A new array.

    Example:
        >>> from pyconv import ops
        >>> ops.ones_like([1, 2], dtype="float32")
        array([1., 1.], dtype=float32)
    """
    a = _numeric(x, "x")
    return np.ones(a.shape, _default_dtype(a) if dtype is None else _dtype(dtype))


def stop_gradient(variable):
    """The value of `variable`, cut from the tape: no gradient flows back through it.

    Args:
        variable: input (float input becomes float32, as everywhere in pyconv.ops).

    Returns:
        A new array object (a view when no conversion is needed) that no record produced.

    Example:
        >>> from pyconv import ops
        >>> ops.stop_gradient([1.0, 2.0])
        array([1., 2.], dtype=float32)
    """
    a = _numeric(variable, "variable")
    y = a.astype(_default_dtype(a), copy=False)
    return y.view() if y is variable else y


def shape(x):
    """The shape of `x`, as a tuple of ints (Keras 3 returns a tuple too).

    No gradient: backward raises a ValueError if a gradient reaches the result.

    Args:
        x: input.

    Returns:
        A tuple of ints.

    Example:
        >>> from pyconv import ops
        >>> ops.shape([[1, 2, 3], [4, 5, 6]])
        (2, 3)
    """
    out = tuple(int(d) for d in _numeric(x, "x").shape)
    _record_no_grad("shape", (x,), out)
    return out


for _name in __all__:
    globals()[_name] = _symbolic_aware(globals()[_name])
del _name
