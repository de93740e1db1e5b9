"""Merge layers (Keras 3's keras/src/layers/merging): Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate, and their functional forms add(), subtract(), ..., concatenate().

Each takes a list of arrays and returns one array. They have no weights.

Shapes, as Keras 3 checks them (base_merge.py, concatenate.py):
- Elementwise layers: the inputs have one batch size; the other axes broadcast right-aligned (two
  sizes must be equal, or one of them 1; a None size gives None, checked when arrays arrive). An
  input of lower rank first gets size-1 axes after its batch axis, as Keras' `expand_dims(x, 1)`:
  (batch, 5) with (batch, 3, 5) gives (batch, 3, 5).
- Concatenate: the inputs have one rank and equal sizes on every axis but `axis` (None matches
  any size); the batch axis is one of them.
- Add, Multiply, Average, Maximum, Minimum and Concatenate take a list of at least 1 input (Keras
  3 allows a single one since keras-team/keras#16230); Subtract takes exactly 2.

Why NumPy here, not a C kernel: these are memory-bound passes (read each input once, write the
output once); a NumPy ufunc writing into one fresh float32 array does exactly that, so a kernel
would gain nothing. Sums of n inputs accumulate in place in the output: no n temporaries.

Backward reads `dy` and never writes it; a returned gradient may be `dy` itself (Add without
broadcasting), as the graph treats gradients as read-only. Gradients of broadcast inputs are
summed over their broadcast axes.
"""
import numpy as np

from .. import _validate
from .base import Layer, _shape_str

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate"]


def _shapes_str(shapes):
    return "[" + ", ".join(_shape_str(s) for s in shapes) + "]"


def _is_shape(s):
    return isinstance(s, tuple) and all(d is None or _validate.is_int(d) for d in s)


def _rank_aligned(shape, ndim):
    """`shape` with size-1 axes inserted after the batch axis, up to `ndim` axes."""
    return shape[:1] + (1,) * (ndim - len(shape)) + shape[1:]


def _reduce_to(g, shape):
    """`g` (the output's shape) summed over the axes where `shape` (same rank) broadcast."""
    if g.shape == shape:
        return g
    axes = tuple(i for i, (d, e) in enumerate(zip(shape, g.shape)) if d == 1 and e != 1)
    return g.sum(axis=axes, keepdims=True, dtype=np.float32)


def _fold(ufunc, xs):
    """ufunc(...ufunc(ufunc(x0, x1), x2)..., xn) into one fresh float32 array (Keras' order)."""
    y = np.empty(np.broadcast_shapes(*(a.shape for a in xs)), np.float32)
    if len(xs) == 1:
        np.copyto(y, xs[0])
        return y
    ufunc(xs[0], xs[1], out=y)
    for a in xs[2:]:
        ufunc(y, a, out=y)
    return y


class _Merge(Layer):
    """A layer on a list of arrays: checks the list and its shapes, builds once.

    Subclasses define `_output_shape(shapes)` (checks; shapes with batch axis) and the passes.
    """

    _what = "A merge layer"
    _exactly = None  # Subtract: 2

    def _ensure_built(self, input_shape):
        # One tensor (an array or a KerasTensor), not a list of them.
        raise ValueError(f'Layer "{self.name}": {self._what} should be called on a list of inputs. '
                         f"Received: input_shape={_shape_str(tuple(input_shape))} (not a list of shapes).")

    def _check_list(self, shapes):
        """`shapes` as a list of shape tuples, or the error Keras 3 raises for it."""
        if not isinstance(shapes, (list, tuple)) or not all(_is_shape(s) for s in shapes):
            raise ValueError(f'Layer "{self.name}": {self._what} should be called on a list of inputs. '
                             f"Received: input_shape={shapes!r} (not a list of shapes).")
        shapes = [tuple(s) for s in shapes]
        if self._exactly is not None and len(shapes) != self._exactly:
            raise ValueError(f'Layer "{self.name}": {self._what} should be called on exactly '
                             f"{self._exactly} inputs. Received: input_shape={_shapes_str(shapes)}")
        if not shapes:
            raise ValueError(f'Layer "{self.name}": {self._what} should be called on a list of at least '
                             f"1 input. Received 0 inputs. Full input_shape received: []")
        if any(len(s) == 0 for s in shapes):
            raise ValueError(f'Layer "{self.name}": every input must have a batch axis (rank >= 1). '
                             f"Received: input_shape={_shapes_str(shapes)}")
        return shapes

    def compute_output_shape(self, input_shape):
        """The output shape for a list of input shapes (batch axis first; Keras keeps a known one)."""
        return self._output_shape(self._check_list(input_shape))

    def _ensure_built_multi(self, shapes):
        """Check a list of input shapes, build on first use, return the output shape (batch None)."""
        shapes = self._check_list(shapes)
        out = (None,) + tuple(self._output_shape(shapes)[1:])
        if not self.built:
            with self._build_lock:
                if not self.built:
                    self.input_shape = [(None,) + s[1:] for s in shapes]
                    self.output_shape = out
                    self.built = True
        return out

    def _inputs(self, x):
        """The arrays of a call, checked as a list (the graph calls `_fwd` without `__call__`)."""
        if not isinstance(x, (list, tuple)):
            self._ensure_built(np.shape(x))
        self._output_shape(self._check_list([tuple(a.shape) for a in x]))
        return list(x)


class _Elementwise(_Merge):
    """Elementwise merges: Keras 3's broadcasting rule; inputs aligned to one rank."""

    def _output_shape(self, shapes):
        batches = {s[0] for s in shapes} - {None}
        if len(batches) > 1:
            raise ValueError(f'Layer "{self.name}": Cannot merge tensors with different batch sizes. '
                             f"Received tensors with shapes {_shapes_str(shapes)}")
        out = shapes[0][1:]
        for s in shapes[1:]:
            out = self._broadcast(out, s[1:], shapes)
        return (batches.pop() if batches else None,) + out

    def _broadcast(self, a, b, shapes):
        """Keras 3's `_compute_elemwise_op_output_shape`: right-aligned, 1 stretches, None wins."""
        if len(a) < len(b):
            a, b = b, a
        out = list(a[:len(a) - len(b)])
        for i, j in zip(a[len(a) - len(b):], b):
            if i is None or j is None:
                out.append(None)
            elif i == 1 or j == 1:
                out.append(j if i == 1 else i)
            elif i != j:
                raise ValueError(f'Layer "{self.name}": Inputs have incompatible shapes. Received shapes '
                                 f"{_shape_str(a)} and {_shape_str(b)} (full input shapes: "
                                 f"{_shapes_str(shapes)})")
            else:
                out.append(i)
        return tuple(out)

    def _fwd(self, x, training, fuse=0):
        x = self._inputs(x)
        ndim = max(a.ndim for a in x)
        xs = [a if a.ndim == ndim else a.reshape(_rank_aligned(a.shape, ndim)) for a in x]
        y = self._merge(xs)
        return y, (xs, [a.shape for a in x], y)

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        xs, shapes, y = ctx
        dy = _validate.as_float32(dy, "dy")
        gs = self._grads(xs, y, dy)
        return [_reduce_to(g, a.shape).reshape(s) for g, a, s in zip(gs, xs, shapes)], []

    def _merge(self, xs):
        raise NotImplementedError

    def _grads(self, xs, y, dy):
        """The gradient of each input, in the output's shape (`_bwd` reduces them)."""
        raise NotImplementedError


class Add(_Elementwise):
    """Adds a list of inputs elementwise.

    Args:
        **kwargs: standard layer arguments (`name`, `trainable`, `dtype`).

    Input shape:
        a list of arrays of the same shape, or of shapes that broadcast (see the module's
        docstring), each with the batch axis first.

    Output shape:
        the broadcast shape of the inputs.

    Raises:
        ValueError: the inputs are not a list, the list is empty, or their shapes do not
            broadcast.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Add()([np.ones((2, 3)), np.full((2, 3), 2.0)])
        array([[3., 3., 3.],
               [3., 3., 3.]], dtype=float32)
        >>> a, b = layers.Input((4,)), layers.Input((4,))
        >>> layers.add([a, b]).shape
        (None, 4)
    """

    def _merge(self, xs):
        return _fold(np.add, xs)

    def _grads(self, xs, y, dy):
        return [dy] * len(xs)


class Subtract(_Elementwise):
    """Subtracts two inputs elementwise: `inputs[0] - inputs[1]`.

    Args:
        **kwargs: standard layer arguments (`name`, `trainable`, `dtype`).

    Input shape:
        a list of exactly 2 arrays of the same shape, or of shapes that broadcast.

    Output shape:
        the broadcast shape of the inputs.

    Raises:
        ValueError: the inputs are not a list of exactly 2 arrays, or their shapes do not
            broadcast.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Subtract()([np.full((1, 2), 5.0), np.ones((1, 2))])
        array([[4., 4.]], dtype=float32)
    """

    _what = "A `Subtract` layer"
    _exactly = 2

    def _merge(self, xs):
        return _fold(np.subtract, xs)

    def _grads(self, xs, y, dy):
        return [dy, np.negative(dy)]


class Multiply(_Elementwise):
    """Multiplies a list of inputs elementwise.

    The gradient of each input is `dy` times the product of the other inputs (computed from
    prefix and suffix products: no division, so zeros are fine).

    Args:
        **kwargs: standard layer arguments (`name`, `trainable`, `dtype`).

    Input shape:
        a list of arrays of the same shape, or of shapes that broadcast.

    Output shape:
        the broadcast shape of the inputs.

    Raises:
        ValueError: the inputs are not a list, the list is empty, or their shapes do not
            broadcast.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Multiply()([np.full((1, 2), 3.0), np.full((1, 2), 2.0)])
        array([[6., 6.]], dtype=float32)
    """

    def _merge(self, xs):
        return _fold(np.multiply, xs)

    def _grads(self, xs, y, dy):
        # prefix[i] = x0 * ... * x(i-1); walking back, s = dy * x(i+1) * ... * x(n-1)
        n = len(xs)
        prefix = [None, xs[0]]
        for a in xs[1:n - 1]:
            prefix.append(prefix[-1] * a)
        gs = [None] * n
        s = dy
        for i in range(n - 1, 0, -1):
            gs[i] = s * prefix[i]
            s = s * xs[i]
        gs[0] = s
        return gs


class Average(_Elementwise):
    """Averages a list of inputs elementwise: their sum divided by their number.

    Args:
        **kwargs: standard layer arguments (`name`, `trainable`, `dtype`).

    Input shape:
        a list of arrays of the same shape, or of shapes that broadcast.

    Output shape:
        the broadcast shape of the inputs.

    Raises:
        ValueError: the inputs are not a list, the list is empty, or their shapes do not
            broadcast.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Average()([np.ones((1, 2)), np.full((1, 2), 4.0)])
        array([[2.5, 2.5]], dtype=float32)
    """

    def _merge(self, xs):
        y = _fold(np.add, xs)
        return np.divide(y, len(xs), out=y)

    def _grads(self, xs, y, dy):
        return [np.divide(dy, len(xs))] * len(xs)


class _Extremum(_Elementwise):
    """Maximum and Minimum: the gradient goes, at each element, to the first input that
    holds the extremum (TensorFlow's rule for `tf.maximum(x, y)`, which sends it to x where
    x >= y, folded over the list; JAX and PyTorch split ties evenly instead)."""

    _ufunc = None

    def _merge(self, xs):
        return _fold(self._ufunc, xs)

    def _grads(self, xs, y, dy):
        gs, taken = [], np.zeros(y.shape, bool)
        for a in xs:
            won = np.equal(a, y)
            won &= ~taken
            taken |= won
            gs.append(np.where(won, dy, np.float32(0)))
        return gs


class Maximum(_Extremum):
    """The elementwise maximum of a list of inputs.

    Where inputs tie, the gradient goes to the first of them (TensorFlow's rule).

    Args:
        **kwargs: standard layer arguments (`name`, `trainable`, `dtype`).

    Input shape:
        a list of arrays of the same shape, or of shapes that broadcast.

    Output shape:
        the broadcast shape of the inputs.

    Raises:
        ValueError: the inputs are not a list, the list is empty, or their shapes do not
            broadcast.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Maximum()([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])])
        array([[3., 5.]], dtype=float32)
    """

    _ufunc = np.maximum


class Minimum(_Extremum):
    """The elementwise minimum of a list of inputs.

    Where inputs tie, the gradient goes to the first of them (TensorFlow's rule).

    Args:
        **kwargs: standard layer arguments (`name`, `trainable`, `dtype`).

    Input shape:
        a list of arrays of the same shape, or of shapes that broadcast.

    Output shape:
        the broadcast shape of the inputs.

    Raises:
        ValueError: the inputs are not a list, the list is empty, or their shapes do not
            broadcast.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Minimum()([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])])
        array([[1., 2.]], dtype=float32)
    """

    _ufunc = np.minimum


class Concatenate(_Merge):
    """Concatenates a list of inputs along `axis`.

    Args:
        axis: the axis to concatenate along (an int; negative counts from the end; the batch
            axis is 0). Default -1.
        **kwargs: standard layer arguments (`name`, `trainable`, `dtype`).

    Input shape:
        a list of arrays of one rank, with equal sizes on every axis but `axis`.

    Output shape:
        that shape, with the sum of the inputs' sizes on `axis` (None if one is None).

    Raises:
        TypeError: `axis` is not an int.
        ValueError: the inputs are not a list, the list is empty, `axis` is out of range, or
            the shapes differ elsewhere than on `axis`.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Concatenate()([np.zeros((2, 3)), np.ones((2, 5))]).shape
        (2, 8)
        >>> layers.concatenate([layers.Input((3,)), layers.Input((5,))]).shape
        (None, 8)
    """

    _what = "A `Concatenate` layer"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not _validate.is_int(axis):
            raise TypeError(f"`axis` must be an int. Received: axis={axis!r}.")
        self.axis = int(axis)

    def _output_shape(self, shapes):
        ndim = len(shapes[0])
        mismatch = ValueError(
            f'Layer "{self.name}": A `Concatenate` layer requires inputs with matching shapes except '
            f"for the concatenation axis. Received: input_shape={_shapes_str(shapes)}")
        if any(len(s) != ndim for s in shapes):
            raise mismatch
        if not -ndim <= self.axis < ndim:
            raise ValueError(f'Layer "{self.name}": `axis` must be in [-{ndim}, {ndim}) for inputs of '
                             f"rank {ndim}. Received: axis={self.axis}, input_shape={_shapes_str(shapes)}")
        axis = self.axis % ndim
        out = []
        for k in range(ndim):
            dims = [s[k] for s in shapes]
            if k == axis:
                out.append(None if None in dims else sum(dims))
                continue
            known = set(dims) - {None}
            if len(known) > 1:
                raise mismatch
            out.append(known.pop() if known else None)
        return tuple(out)

    def _fwd(self, x, training, fuse=0):
        x = self._inputs(x)
        axis = self.axis % x[0].ndim
        return np.concatenate(x, axis=axis), (axis, [a.shape[axis] for a in x])

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        axis, sizes = ctx
        parts = np.split(_validate.as_float32(dy, "dy"), np.cumsum(sizes)[:-1], axis=axis)
        return [np.ascontiguousarray(p) for p in parts], []

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def add(inputs, **kwargs):
    """Functional form of `Add`: `Add(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.add([np.ones((1, 2)), np.ones((1, 2))])
        array([[2., 2.]], dtype=float32)
    """
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of `Subtract`: `Subtract(**kwargs)(inputs)` (exactly 2 inputs).

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.subtract([np.ones((1, 2)), np.ones((1, 2))])
        array([[0., 0.]], dtype=float32)
    """
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of `Multiply`: `Multiply(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.multiply([np.full((1, 2), 2.0), np.full((1, 2), 3.0)])
        array([[6., 6.]], dtype=float32)
    """
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of `Average`: `Average(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.average([np.zeros((1, 2)), np.ones((1, 2))])
        array([[0.5, 0.5]], dtype=float32)
    """
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of `Maximum`: `Maximum(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.maximum([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])])
        array([[3., 5.]], dtype=float32)
    """
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of `Minimum`: `Minimum(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.minimum([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])])
        array([[1., 2.]], dtype=float32)
    """
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: `Concatenate(axis=axis, **kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.concatenate([np.zeros((1, 2)), np.ones((1, 1))])
        array([[0., 0., 1.]], dtype=float32)
    """
    return Concatenate(axis=axis, **kwargs)(inputs)
