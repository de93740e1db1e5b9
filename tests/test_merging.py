"""Tests of pyconv/layers/merging.py: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.

The chain of trust:
  1. A float64 NumPy transcription of each forward (`ref_forward`, with Keras 3's rank alignment).
  2. The layers' float32 forwards against it, on arrays, with 1, 2 and 3 inputs and broadcasting.
  3. The layers' `_bwd` against central finite differences of (1), on shapes drawn by hypothesis.

Tolerances: a maximum, a minimum and a concatenation are exact. A float32 sum of n terms is within
(n - 1) * u * sum |terms| of the exact sum (u = 2**-24), a product of n factors within (n - 1) * u
relative, a division adds u: `assert_sum_close` checks (n + 2) * u * (the same op on |inputs|).
A gradient element sums at most m terms (m: the output elements one input element reaches), each
a product of at most n factors of magnitude <= 1 (inputs and dy are drawn in [-1, 1]): its float32
error is at most (m + n + 2) * u * m. The finite differences are exact up to rounding (every op is
multilinear or piecewise linear, and the drawn values are at least 2 / 729 apart, far more than
the step), so 1e-8 covers them.

Keras 3 semantics pinned here (keras/src/layers/merging/base_merge.py, concatenate.py,
subtract.py and merging_test.py):
  - a list of at least 1 input (a single one is allowed since keras-team/keras#16230); Subtract
    exactly 2; a tensor that is not in a list is refused;
  - elementwise layers: one batch size; the other axes broadcast right-aligned (1 stretches,
    None gives None); a lower-rank input gets size-1 axes after its batch axis;
  - Concatenate: one rank, equal sizes except on `axis` (None matches any size).
"""
import doctest
import functools
import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pyconv import layers
from pyconv.layers import merging
from pyconv.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply,
                                   Subtract)
from reference import U32, assert_close, assert_sum_close, numeric_grad

ELEMENTWISE = [Add, Subtract, Multiply, Average, Maximum, Minimum]
ALL = ELEMENTWISE + [Concatenate]
FUNCTIONAL = {Add: merging.add, Subtract: merging.subtract, Multiply: merging.multiply,
              Average: merging.average, Maximum: merging.maximum, Minimum: merging.minimum,
              Concatenate: merging.concatenate}


@pytest.fixture(autouse=True)
def exported(monkeypatch):
    """`layers.Add`, `layers.add`, ...: checked to be merging's once pyconv/layers/__init__.py
    exports them; set for the test until then (the docstrings use them)."""
    for name in merging.__all__:
        if hasattr(layers, name):
            assert getattr(layers, name) is getattr(merging, name), name
        else:
            monkeypatch.setattr(layers, name, getattr(merging, name), raising=False)


# ---- the float64 reference ---------------------------------------------------------------------
def ref_forward(cls, xs, axis=-1):
    """The layer's output in float64, from float64 arrays (Keras 3's rank alignment first)."""
    if cls is Concatenate:
        return np.concatenate(xs, axis=axis)
    nd = max(x.ndim for x in xs)
    xs = [x.reshape(x.shape[:1] + (1,) * (nd - x.ndim) + x.shape[1:]) for x in xs]
    op = {Add: np.add, Subtract: np.subtract, Multiply: np.multiply, Average: np.add,
          Maximum: np.maximum, Minimum: np.minimum}[cls]
    y = functools.reduce(op, xs)
    return y / len(xs) if cls is Average else y + 0.0   # + 0.0: a fresh array for one input


def abs_bound_terms(cls, xs):
    """For `assert_sum_close`: the same computation on absolute values."""
    a = [np.abs(x) for x in xs]
    if cls is Multiply:
        return np.abs(ref_forward(Multiply, a))
    return ref_forward(Average if cls is Average else Add, a)


def distinct_inputs(shapes, seed):
    """float32 arrays of `shapes` whose values are all different, in (-1, 1), >= 2/total apart:
    no ties for Maximum/Minimum, and no crossing within a finite-difference step."""
    rng = np.random.default_rng(seed)
    total = sum(int(np.prod(s)) for s in shapes)
    vals = ((rng.permutation(total) + 0.5) / total * 2 - 1).astype(np.float32)
    out, k = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(vals[k:k + n].reshape(s))
        k += n
    return out


def check_backward(layer, cls, xs, seed, axis=-1):
    y, ctx = layer._fwd(xs, True)
    dy = np.random.default_rng(seed + 1).uniform(-1, 1, y.shape).astype(np.float32)
    dx, grads = layer._bwd(ctx, dy, True)
    assert grads == [] and isinstance(dx, list) and len(dx) == len(xs)
    x64 = [x.astype(np.float64) for x in xs]
    for i, (x, g) in enumerate(zip(xs, dx)):
        assert g.shape == x.shape and g.dtype == np.float32 and g.flags.c_contiguous, (i, g.shape)

        def loss(xi, i=i):
            return float(np.sum(ref_forward(cls, x64[:i] + [xi] + x64[i + 1:], axis) * dy))
        m = y.size // x.size
        atol = (m + len(xs) + 2) * U32 * m + 1e-8
        assert_close(g, numeric_grad(loss, x64[i], eps=1e-4), 0, atol, f"{cls.__name__} dx[{i}]")


# ---- forward on arrays -------------------------------------------------------------------------
FORWARD_SHAPES = [
    [(2, 3, 4), (2, 3, 4)],
    [(2, 3, 4), (2, 3, 4), (2, 3, 4)],
    [(3, 1, 5), (3, 4, 1)],               # both stretch: (3, 4, 5)
    [(2, 5), (2, 3, 5), (2, 1, 5)],       # (2, 5) -> (2, 1, 5): Keras' axes after the batch axis
    [(4, 3), (4, 1)],
    [(1, 6), (1, 6), (1, 6)],             # batch 1
    [(5,), (5,)],                         # no axis but the batch axis
]


@pytest.mark.parametrize("cls", ELEMENTWISE)
@pytest.mark.parametrize("shapes", FORWARD_SHAPES, ids=str)
def test_elementwise_forward_vs_float64(cls, shapes, rng):
    if cls is Subtract and len(shapes) != 2:
        shapes = shapes[:2]
    xs = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    before = [x.copy() for x in xs]
    y = cls()(xs)
    expected = ref_forward(cls, [x.astype(np.float64) for x in xs])
    assert y.dtype == np.float32 and y.flags.c_contiguous and y.shape == expected.shape
    if cls in (Maximum, Minimum):
        np.testing.assert_array_equal(y, expected)
    else:
        assert_sum_close(y, expected, abs_bound_terms(cls, xs), len(xs), cls.__name__)
    for x, b in zip(xs, before):                       # inputs untouched, output fresh
        np.testing.assert_array_equal(x, b)
        assert not np.shares_memory(x, y)


def test_keras_rank_alignment_differs_from_numpy():
    # NumPy would align (3, 5) with (3, 4, 5) as (1, 3, 5): the 3s clash with the 4s. Keras 3
    # inserts the axis after the batch axis: (3, 1, 5).
    a = np.arange(15, dtype=np.float32).reshape(3, 5)
    b = np.ones((3, 4, 5), np.float32)
    np.testing.assert_array_equal(Add()([a, b]), a[:, None, :] + b)
    np.testing.assert_array_equal(Add()([b, a]), a[:, None, :] + b)


@pytest.mark.parametrize("axis, shapes", [
    (-1, [(2, 3), (2, 5)]),
    (-1, [(2, 3, 4), (2, 3, 1), (2, 3, 2)]),
    (1, [(2, 3, 4), (2, 1, 4)]),
    (-2, [(2, 3, 4), (2, 2, 4), (2, 5, 4)]),
    (0, [(2, 3), (4, 3)]),                             # the batch axis, as Keras allows
    (-1, [(1, 1, 1, 1, 5), (1, 1, 1, 1, 4)]),          # Keras' merging_test case
])
def test_concatenate_forward(axis, shapes, rng):
    xs = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    y = Concatenate(axis=axis)(xs)
    np.testing.assert_array_equal(y, np.concatenate(xs, axis=axis))
    assert y.dtype == np.float32 and y.flags.c_contiguous


@pytest.mark.parametrize("cls", [c for c in ALL if c is not Subtract])
def test_single_input_is_copied(cls, rng):
    # Keras 3 (keras-team/keras#16230): a list of one input is allowed, and returns its values.
    x = rng.uniform(-1, 1, (2, 3)).astype(np.float32)
    y = cls()([x])
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(x, y)
    y, ctx = cls()._fwd([x], True)
    dy = rng.uniform(-1, 1, y.shape).astype(np.float32)
    (dx,), _ = cls()._bwd(ctx, dy, True)
    np.testing.assert_array_equal(dx, dy)


@pytest.mark.parametrize("cls", ALL)
def test_functional_forms(cls, rng):
    n = 2 if cls is Subtract else 3
    xs = [rng.uniform(-1, 1, (2, 4)).astype(np.float32) for _ in range(n)]
    np.testing.assert_array_equal(FUNCTIONAL[cls](xs), cls()(xs))
    a, b = layers.Input((4,)), layers.Input((4,))
    y = FUNCTIONAL[cls]([a, b], name=f"my_{cls.__name__.lower()}")
    assert y.node.layer.name == f"my_{cls.__name__.lower()}" and isinstance(y.node.layer, cls)
    np.testing.assert_array_equal(merging.concatenate(xs, axis=0), np.concatenate(xs, axis=0))


def test_inputs_converted_and_tuple_accepted():
    y = Add()((np.ones((2, 2), np.float64), np.ones((2, 2), np.int32)))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.full((2, 2), 2.0, np.float32))


# ---- backward ----------------------------------------------------------------------------------
@st.composite
def elementwise_case(draw):
    cls = draw(st.sampled_from(ELEMENTWISE))
    n = 2 if cls is Subtract else draw(st.integers(1, 3))
    batch = draw(st.integers(1, 3))
    rest = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    shapes = []
    for _ in range(n):
        kept = draw(st.integers(0, len(rest)))        # a lower-rank input keeps the last axes
        dims = rest[len(rest) - kept:]
        ones = draw(st.lists(st.booleans(), min_size=kept, max_size=kept))   # broadcast axes
        shapes.append((batch,) + tuple(1 if o else d for d, o in zip(dims, ones)))
    return cls, shapes, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=40)
@given(elementwise_case())
@example((Add, [(2, 3, 4), (2, 3, 4)], 0))
@example((Multiply, [(2, 3), (2, 1), (2, 3)], 1))
@example((Maximum, [(1, 4), (1, 3, 4), (1, 3, 1)], 2))
@example((Minimum, [(3, 2, 1), (3, 1, 2), (3, 2, 2)], 3))
@example((Average, [(2,), (2, 2, 2), (2, 1, 2)], 4))
@example((Subtract, [(2, 1, 3), (2, 4, 1)], 5))
def test_elementwise_backward_vs_finite_differences(case):
    cls, shapes, seed = case
    check_backward(cls(), cls, distinct_inputs(shapes, seed), seed)


@st.composite
def concatenate_case(draw):
    ndim = draw(st.integers(1, 4))
    base = [draw(st.integers(1, 3)) for _ in range(ndim)]
    axis = draw(st.integers(-ndim, ndim - 1))
    shapes = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(base)
        s[axis] = draw(st.integers(1, 3))
        shapes.append(tuple(s))
    return axis, shapes, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=25)
@given(concatenate_case())
@example((-1, [(2, 3), (2, 5)], 0))
@example((1, [(2, 1, 3), (2, 2, 3), (2, 3, 3)], 1))
@example((0, [(1, 2), (3, 2)], 2))
def test_concatenate_backward_vs_finite_differences(case):
    axis, shapes, seed = case
    check_backward(Concatenate(axis=axis), Concatenate, distinct_inputs(shapes, seed), seed, axis)


@pytest.mark.parametrize("cls, winner", [(Maximum, np.max), (Minimum, np.min)])
def test_extremum_ties_go_to_the_first_input(cls, winner):
    # TensorFlow's rule: tf.maximum(x, y) sends the gradient to x where x >= y; folded over the
    # list, to the first input holding the extremum.
    a = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    b = np.array([[1.0, 0.0, 3.0, 9.0]], np.float32) if cls is Maximum else \
        np.array([[1.0, 5.0, 3.0, 0.0]], np.float32)
    c = b.copy()
    layer = cls()
    y, ctx = layer._fwd([a, b, c], True)
    np.testing.assert_array_equal(y, winner(np.stack([a, b, c]), axis=0))
    dy = np.array([[10.0, 20.0, 30.0, 40.0]], np.float32)
    (da, db, dc), _ = layer._bwd(ctx, dy, True)
    np.testing.assert_array_equal(da, [[10, 20, 30, 0]])   # ties at 0 and 2: the first input
    np.testing.assert_array_equal(db, [[0, 0, 0, 40]])     # b and c tie at 3: b, the earlier
    np.testing.assert_array_equal(dc, [[0, 0, 0, 0]])


def test_extremum_ties_with_broadcasting():
    a = np.array([[2.0], [5.0]], np.float32)               # (2, 1), stretched over 3 columns
    b = np.array([[2.0, 1.0, 3.0], [5.0, 5.0, 0.0]], np.float32)
    y, ctx = Maximum()._fwd([a, b], True)
    (da, db), _ = Maximum()._bwd(ctx, np.ones_like(y), True)
    np.testing.assert_array_equal(da, [[2.0], [3.0]])       # wins or ties: 2 of 3, then 3 of 3
    np.testing.assert_array_equal(db, [[0, 0, 1], [0, 0, 0]])


def test_multiply_gradient_with_zeros():
    # No division by the output: an input of 0 still gives the others their gradient.
    xs = [np.array([[0.0, 2.0]], np.float32), np.array([[3.0, 0.0]], np.float32),
          np.array([[5.0, 7.0]], np.float32)]
    y, ctx = Multiply()._fwd(xs, True)
    dx, _ = Multiply()._bwd(ctx, np.ones_like(y), True)
    np.testing.assert_array_equal(dx[0], [[15.0, 0.0]])
    np.testing.assert_array_equal(dx[1], [[0.0, 14.0]])
    np.testing.assert_array_equal(dx[2], [[0.0, 0.0]])


@pytest.mark.parametrize("cls", ALL)
def test_backward_without_dx(cls, rng):
    xs = [rng.uniform(-1, 1, (2, 3)).astype(np.float32) for _ in range(2)]
    y, ctx = cls()._fwd(xs, True)
    assert cls()._bwd(ctx, np.ones_like(y), False) == (None, [])


def test_backward_leaves_dy_alone(rng):
    xs = [rng.uniform(-1, 1, (2, 1, 3)).astype(np.float32), rng.uniform(-1, 1, (2, 4, 3)).astype(np.float32)]
    for cls in ALL:
        layer = Concatenate(axis=1) if cls is Concatenate else cls()
        y, ctx = layer._fwd(xs, True)
        dy = rng.uniform(-1, 1, y.shape).astype(np.float32)
        keep = dy.copy()
        layer._bwd(ctx, dy, True)
        np.testing.assert_array_equal(dy, keep)


def test_inside_a_subclassed_layer(rng):
    # A user layer's `call` runs on the gradient tape: the merge's list input and list dx
    # go through `Layer._recorded_call`.
    class Residual(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(3)

        def call(self, x):
            return layers.add([x, self.dense(x)])

    layer = Residual()
    x = rng.uniform(-1, 1, (2, 3)).astype(np.float32)
    y, ctx = layer._fwd(x, True)
    dy = rng.uniform(-1, 1, y.shape).astype(np.float32)
    dx, (dk, db) = layer._bwd(ctx, dy, True)
    # each value sums at most 4 terms of magnitude <= 1 (glorot_uniform's limit is 1 for a 3x3
    # kernel): within (4 + 2) * u * 4, checked against 8 * u * 4
    k = layer.dense.kernel.astype(np.float64)
    assert_close(dx, dy + dy.astype(np.float64) @ k.T, 0, 8 * U32 * 4, "dx")
    assert_close(dk, x.T.astype(np.float64) @ dy, 0, 8 * U32 * 4, "dkernel")
    assert_close(db, dy.sum(axis=0, dtype=np.float64), 0, 8 * U32 * 4, "dbias")


# ---- symbolic use ------------------------------------------------------------------------------
def test_symbolic_shapes():
    a, b = layers.Input((4,)), layers.Input((4,))
    y = layers.add([a, b])
    assert type(y).__name__ == "KerasTensor" and y.shape == (None, 4)
    layer = y.node.layer
    assert layer.built and layer.input_shape == [(None, 4), (None, 4)] and layer.output_shape == (None, 4)
    assert layers.concatenate([layers.Input((3,)), layers.Input((5,))]).shape == (None, 8)
    assert layers.Concatenate(axis=1)([layers.Input((2, 7)), layers.Input((3, 7))]).shape == (None, 5, 7)
    assert layers.Concatenate(axis=0)([layers.Input((3,)), layers.Input((3,))]).shape == (None, 3)
    assert layers.multiply([layers.Input((3, 5)), layers.Input((5,))]).shape == (None, 3, 5)
    assert layers.maximum([layers.Input((1, 5)), layers.Input((4, 1))]).shape == (None, 4, 5)
    assert layers.subtract([layers.Input((None, 5)), layers.Input((2, 5))]).shape == (None, None, 5)
    assert layers.concatenate([layers.Input((None, 3)), layers.Input((4, 2))]).shape == (None, 4, 5)
    assert layers.concatenate([layers.Input((2, None)), layers.Input((2, 2))]).shape == (None, 2, None)


def test_symbolic_layer_built_once_and_reusable(rng):
    layer = Add()
    a, b = layers.Input((4,)), layers.Input((4,))
    layer([a, b])
    assert layer([layers.Input((3, 2)), layers.Input((3, 2))]).shape == (None, 3, 2)  # no weights: any shape
    assert layer.input_shape == [(None, 4), (None, 4)]
    x = rng.uniform(-1, 1, (5, 6)).astype(np.float32)
    np.testing.assert_array_equal(layer([x, x]), x + x)


def test_compute_output_shape_keeps_a_known_batch():
    assert Add().compute_output_shape([(2, 4), (None, 4)]) == (2, 4)
    assert Concatenate().compute_output_shape([(2, 3), (2, 5)]) == (2, 8)


# ---- errors ------------------------------------------------------------------------------------
def test_mismatched_symbolic_shapes():
    with pytest.raises(ValueError, match=re.escape('Layer "m": Inputs have incompatible shapes. Received '
                                                   "shapes (3,) and (5,) (full input shapes: [(None, 3), "
                                                   "(None, 5)])")):
        layers.Add(name="m")([layers.Input((3,)), layers.Input((5,))])
    with pytest.raises(ValueError, match=re.escape("Inputs have incompatible shapes. Received shapes "
                                                   "(2, 3) and (2, 4)")):
        layers.maximum([layers.Input((2, 3)), layers.Input((2, 4))])
    with pytest.raises(ValueError, match=re.escape(
            'Layer "c": A `Concatenate` layer requires inputs with matching shapes except for the '
            "concatenation axis. Received: input_shape=[(None, 3, 4), (None, 5, 6)]")):
        layers.Concatenate(name="c")([layers.Input((3, 4)), layers.Input((5, 6))])
    with pytest.raises(ValueError, match="requires inputs with matching shapes except for the concatenation axis"):
        layers.concatenate([layers.Input((3,)), layers.Input((3, 4))])


def test_mismatched_array_shapes():
    with pytest.raises(ValueError, match=re.escape("Cannot merge tensors with different batch sizes. "
                                                   "Received tensors with shapes [(2, 4), (1, 4)]")):
        Add()([np.ones((2, 4)), np.ones((1, 4))])
    with pytest.raises(ValueError, match=re.escape("Inputs have incompatible shapes. Received shapes "
                                                   "(3, 4) and (2, 4)")):
        Multiply()([np.ones((2, 3, 4)), np.ones((2, 2, 4))])
    # Keras' merging_test cases
    with pytest.raises(ValueError, match="requires inputs with matching shapes except for the concatenation axis"):
        Concatenate(axis=-1)([np.ones((1, 2, 1, 1, 5)), np.ones((1, 1, 1, 1, 4))])
    with pytest.raises(ValueError, match="requires inputs with matching shapes except for the concatenation axis"):
        Concatenate(axis=1)([np.ones((1, 2, 1, 2, 1)), np.ones((1, 1, 1, 3, 1))])
    with pytest.raises(ValueError, match=re.escape('Layer "c": `axis` must be in [-2, 2) for inputs of rank 2. '
                                                   "Received: axis=2, input_shape=[(2, 3), (2, 3)]")):
        Concatenate(axis=2, name="c")([np.ones((2, 3)), np.ones((2, 3))])


@pytest.mark.parametrize("cls", ALL)
def test_not_a_list(cls):
    layer = cls(name="m")
    what = {Subtract: "A `Subtract` layer", Concatenate: "A `Concatenate` layer"}.get(cls, "A merge layer")
    with pytest.raises(ValueError, match=re.escape(f'Layer "m": {what} should be called on a list of inputs. '
                                                   "Received: input_shape=(2, 4) (not a list of shapes).")):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=re.escape(f'Layer "m": {what} should be called on a list of inputs. '
                                                   "Received: input_shape=(None, 4) (not a list of shapes).")):
        layer(layers.Input((4,)))
    with pytest.raises(ValueError, match=re.escape(f"{what} should be called on a list of inputs. Received: "
                                                   "input_shape={'a': (2, 4), 'b': (2, 4)} (not a list of shapes).")):
        layer({"a": np.ones((2, 4)), "b": np.ones((2, 4))})
    with pytest.raises(ValueError, match="should be called on a list of inputs"):
        layer([np.ones((2, 4)), [np.ones((2, 4))]])             # nested
    with pytest.raises(ValueError, match="should be called on a list of inputs"):
        layer._fwd(np.ones((2, 4), np.float32), True)           # the graph's entry point checks too


@pytest.mark.parametrize("cls", [c for c in ALL if c is not Subtract])
def test_empty_list(cls):
    what = "A `Concatenate` layer" if cls is Concatenate else "A merge layer"
    with pytest.raises(ValueError, match=re.escape(f'Layer "m": {what} should be called on a list of at least '
                                                   "1 input. Received 0 inputs. Full input_shape received: []")):
        cls(name="m")([])


@pytest.mark.parametrize("n", [0, 1, 3])
def test_subtract_takes_exactly_two(n):
    xs = [np.ones((2, 4))] * n
    with pytest.raises(ValueError, match=re.escape(
            f'Layer "s": A `Subtract` layer should be called on exactly 2 inputs. Received: '
            f"input_shape=[{', '.join(['(2, 4)'] * n)}]")):
        Subtract(name="s")(xs)
    with pytest.raises(ValueError, match="layer should be called on exactly 2 inputs"):   # Keras' test
        layers.subtract([layers.Input((4, 5)) for _ in range(n)])


def test_inputs_without_batch_axis():
    with pytest.raises(ValueError, match=re.escape('Layer "m": every input must have a batch axis (rank >= 1). '
                                                   "Received: input_shape=[(), (2,)]")):
        Add(name="m")([np.float32(1.0), np.ones(2)])


def test_bad_arguments():
    with pytest.raises(TypeError, match=re.escape("`axis` must be an int. Received: axis='last'.")):
        Concatenate(axis="last")
    with pytest.raises(TypeError, match=re.escape("`axis` must be an int. Received: axis=True.")):
        Concatenate(axis=True)
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Add: {'axis': 1}"):
        Add(axis=1)
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Concatenate: {'axes': 1}"):
        layers.concatenate([np.ones((1, 2))] * 2, axes=1)


# ---- configuration and docs --------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL)
def test_config_round_trip(cls, rng):
    kwargs = {"axis": 1} if cls is Concatenate else {}
    layer = cls(name="merge_me", trainable=False, **kwargs)
    cfg = layer.get_config()
    assert cfg == {"name": "merge_me", "trainable": False, "dtype": "float32", **kwargs}
    clone = cls.from_config(cfg)
    assert type(clone) is cls and clone.get_config() == cfg
    assert layer.weights == [] and layer.count_params() == 0
    xs = [rng.uniform(-1, 1, (2, 3)).astype(np.float32) for _ in range(2)]
    np.testing.assert_array_equal(clone(xs), layer(xs))
    assert cls().get_config()["trainable"] is True
    if cls is Concatenate:
        assert cls().get_config()["axis"] == -1


def test_docstring_examples():
    res = doctest.testmod(merging, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted >= 14 * 3
