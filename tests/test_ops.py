"""pyconv.ops: forward against float64 NumPy, gradients (tape) against float64 central
differences, the tape rules (original objects recorded, new outputs, ops without gradient,
stop_gradient), and every error message.

How a gradient is checked: the inputs are drawn in float64 and rounded to float32, so that the
float32 op and its float64 NumPy transcription (`ref`) see exactly the same point. The op runs
under `_tape.recording()`, a random float32 cotangent `c` is pulled back with
`_tape.gradients`, and the result is compared with the central difference of
sum(c * ref(...)) in float64 (step 1e-6). That difference is accurate to ~1e-9: truncation
h^2 |f'''| / 6 ~ 1e-11 for the smooth ops at these magnitudes, rounding eps64 |sum| / h ~ 1e-9.
So the comparison measures the float32 error of the tape's backward only.

Tolerances are in units of the float32 unit roundoff U32 = 2**-24 (6e-8), times a magnitude:
- forward: per element, `ULPS_FWD` * U32 * mag, where mag is |expected| for ops computed
  elementwise, and the same computation on absolute values (sum|terms|) for the ops that add
  (add, subtract, sum, mean, matmul, dot, log_softmax): float32 summation of n terms is only
  accurate to ~n * U32 * sum|terms|, and n <= 64 here;
- gradient: normwise, `ULPS_GRAD` * U32 * max(1, max|fd|). The backward is a few float32
  operations per element plus sums of at most 64 terms (unbroadcast, matmul), so its error is
  a small multiple of U32 times the gradient's size.
Measured over 1,000 examples per test: worst 15.6 U32 forward (softmax's kernel), 10.8 U32
gradient. The bounds leave a factor ~3, and are far below any real bug (a wrong sign, a
missing unbroadcast or a float16-sized error are >= 2**11 U32).

Non-smooth ops (abs, relu, maximum, minimum, clip, max, min) are checked on data that keep
every kink and tie at least 0.09 away (values on offset grids of step 0.37), so that the
finite difference (step 1e-6) never straddles one; ties are checked separately, exactly.
"""
import doctest
import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from pyconv import _tape, nn, ops
from reference import U32, numeric_grad

MAX_EXAMPLES = 25
ULPS_FWD = 48
ULPS_GRAD = 32


# ---- comparison helpers -----------------------------------------------------------------------

def assert_within(actual, expected, bound, what):
    """|actual - expected| <= bound elementwise; a failure prints the worst element."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    bound = np.broadcast_to(np.asarray(bound, np.float64) + 1e-30, expected.shape)
    with np.errstate(invalid="ignore"):
        err = np.abs(actual - expected) / bound
    same_nonfinite = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    err = np.where(same_nonfinite, 0.0, np.nan_to_num(err, nan=np.inf))
    if err.size and err.max() > 1:
        i = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{what}: largest excess difference at {i}: actual {actual[i]!r}, "
                             f"expected {expected[i]!r}, |diff| {abs(actual[i] - expected[i]):.3g} "
                             f"> bound {bound[i]:.3g}")


def fd_grad(ref, args64, i, cot):
    """Central differences (float64) of sum(cot * ref(*args)) with respect to args[i]."""
    def f(xi):
        return np.sum(cot * ref(*(xi if j == i else a for j, a in enumerate(args64))))
    return numeric_grad(f, args64[i])


def check(op, ref, args, seed, diff=None, mag=None, what=""):
    """Forward of op(*float32 args) against ref(*float64 args), and the tape's gradient for the
    inputs `diff` (default: all) against finite differences of ref."""
    args32 = [np.asarray(a, np.float32) for a in args]           # one new float32 object each
    args64 = [a.astype(np.float64) for a in args32]              # exactly the same point
    with _tape.recording() as records:
        y = op(*args32)
    expected = np.asarray(ref(*args64), np.float64)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32, f"{what}: {type(y)} {getattr(y, 'dtype', '')}"
    assert all(y is not a for a in args32), f"{what}: the output is an input object"
    m = np.abs(expected) if mag is None else mag(*args64)
    assert_within(y, expected, ULPS_FWD * U32 * m, f"{what} forward")
    cot = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    diff = range(len(args)) if diff is None else diff
    grads = _tape.gradients(records, [y], [cot], [args32[i] for i in diff])
    for i, g in zip(diff, grads):
        fd = fd_grad(ref, args64, i, cot.astype(np.float64))
        assert g is not None, f"{what}: no gradient for input {i}"
        assert g.shape == args32[i].shape and g.dtype == np.float32, f"{what}: grad {i} {g.shape} {g.dtype}"
        scale = max(1.0, float(np.abs(fd).max(initial=0.0)))
        assert_within(g, fd, ULPS_GRAD * U32 * scale, f"{what} gradient of input {i}")


def grid(rng, shape, offset=0.5, k=5):
    """Values (j + offset) * 0.37 for random ints j in [-k, k]: apart from any other grid with
    a different offset by >= 0.37 * |offset difference|, and from 0 when offset is not 0."""
    return (rng.integers(-k, k + 1, size=shape) + offset) * 0.37


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return 0.5 + np.abs(rng.standard_normal(shape))


def away_from_zero(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1, 1) * positive(rng, shape)


seeds = st.integers(0, 2**32 - 1)


# ---- elementwise ops with broadcasting --------------------------------------------------------

def _abs_sum(*xs):
    return sum(np.abs(x) for x in xs)


BINARY = {  # name: (op, float64 reference, input generators, forward magnitude or None)
    "add": (ops.add, np.add, (normal, normal), _abs_sum),
    "subtract": (ops.subtract, np.subtract, (normal, normal), _abs_sum),
    "multiply": (ops.multiply, np.multiply, (normal, normal), None),
    "divide": (ops.divide, np.divide, (normal, away_from_zero), None),
    "true_divide": (ops.true_divide, np.true_divide, (normal, away_from_zero), None),
    "maximum": (ops.maximum, np.maximum, (grid, lambda r, s: grid(r, s, 0.0)), None),
    "minimum": (ops.minimum, np.minimum, (grid, lambda r, s: grid(r, s, 0.0)), None),
    "power": (ops.power, np.power, (lambda r, s: 0.5 + 1.5 * r.random(s), normal), None),
}
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                    max_side=4).map(lambda b: b.input_shapes)


@pytest.mark.parametrize("name", list(BINARY))
@settings(max_examples=MAX_EXAMPLES)
@given(shapes=broadcast_pairs, seed=seeds)
@example(shapes=((3, 1), (1, 4)), seed=1)
@example(shapes=((5,), (2, 5)), seed=2)
@example(shapes=((), (2, 3)), seed=3)
@example(shapes=((2, 3), ()), seed=4)
@example(shapes=((), ()), seed=5)
def test_binary(name, shapes, seed):
    op, ref, gens, mag = BINARY[name]
    rng = np.random.default_rng(seed)
    args = [gen(rng, s) for gen, s in zip(gens, shapes)]
    check(op, ref, args, seed, mag=mag, what=f"{name}{shapes}")


UNARY = {  # name: (op, float64 reference, input generator)
    "negative": (ops.negative, np.negative, normal),
    "exp": (ops.exp, np.exp, normal),
    "log": (ops.log, np.log, positive),
    "sqrt": (ops.sqrt, np.sqrt, positive),
    "square": (ops.square, np.square, normal),
    "abs": (ops.abs, np.abs, grid),
    "absolute": (ops.absolute, np.abs, grid),
    "relu": (ops.relu, lambda x: np.maximum(x, 0), grid),
    "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x)), normal),
    "tanh": (ops.tanh, np.tanh, normal),
    "cast": (lambda x: ops.cast(x, "float32"), lambda x: x, normal),
    "convert_to_tensor": (ops.convert_to_tensor, lambda x: x, normal),
}
shapes_0_to_3 = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)


@pytest.mark.parametrize("name", list(UNARY))
@settings(max_examples=MAX_EXAMPLES)
@given(shape=shapes_0_to_3, seed=seeds)
@example(shape=(), seed=1)
@example(shape=(3, 1), seed=2)
def test_unary(name, shape, seed):
    op, ref, gen = UNARY[name]
    rng = np.random.default_rng(seed)
    check(op, ref, [3 * gen(rng, shape) if gen is normal else gen(rng, shape)], seed,
          what=f"{name}{shape}")


@settings(max_examples=MAX_EXAMPLES)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4)
       .map(lambda b: b.input_shapes), seed=seeds)
@example(shapes=((3, 1), (1, 4), ()), seed=1)
@example(shapes=((), (5,), (2, 5)), seed=2)
def test_where(shapes, seed):
    rng = np.random.default_rng(seed)
    args = [rng.random(shapes[0]) < 0.5, normal(rng, shapes[1]), normal(rng, shapes[2])]
    check(ops.where, lambda c, a, b: np.where(c != 0, a, b), args, seed, diff=[1, 2],
          what=f"where{shapes}")


@settings(max_examples=MAX_EXAMPLES)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4)
       .map(lambda b: b.input_shapes), seed=seeds)
@example(shapes=((3, 4), (), ()), seed=1)
@example(shapes=((2, 5), (5,), (2, 1)), seed=2)
def test_clip(shapes, seed):
    """Bounds on grids offset from x's and from each other (x_min > x_max happens too)."""
    rng = np.random.default_rng(seed)
    args = [grid(rng, shapes[0]), grid(rng, shapes[1], 0.25, 2) - 0.37,
            grid(rng, shapes[2], -0.25, 2) + 0.37]
    check(ops.clip, lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), args, seed,
          what=f"clip{shapes}")


def test_clip_python_bounds():
    x = np.array([-2.0, 0.5, 3.0], np.float32)
    with _tape.recording() as records:
        y = ops.clip(x, -1, 1.0)
    np.testing.assert_array_equal(y, [-1, 0.5, 1])
    np.testing.assert_array_equal(_tape.gradient(records, y, np.ones(3, np.float32), x), [0, 1, 0])


# ---- softmax, reductions ----------------------------------------------------------------------

def _axis_case(min_dims=0, allow_none=True):
    """(shape, axis): axis None, an int (possibly negative) or a tuple of distinct axes."""
    def axes(shape):
        nd = len(shape)
        options = [st.none()] if allow_none else []
        if nd:
            options += [st.integers(-nd, nd - 1),
                        st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)]
        return st.tuples(st.just(shape), st.one_of(options))
    return hnp.array_shapes(min_dims=min_dims, max_dims=3, max_side=4).flatmap(axes)


def _softmax64(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax64(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@settings(max_examples=MAX_EXAMPLES)
@given(case=_axis_case(min_dims=1, allow_none=False), seed=seeds)
@example(case=((5,), -1), seed=1)
@example(case=((3, 4), 0), seed=2)
@example(case=((2, 3, 4), (0, 2)), seed=3)
@example(case=((3, 1), 1), seed=4)
def test_softmax(name, case, seed):
    shape, axis = case
    x = 3 * normal(np.random.default_rng(seed), shape)
    if name == "softmax":
        check(lambda t: ops.softmax(t, axis=axis), lambda t: _softmax64(t, axis), [x], seed,
              what=f"softmax{shape} axis={axis}")
    else:  # log_softmax = s - lse: an output near 0 is a difference of O(1) terms
        check(lambda t: ops.log_softmax(t, axis=axis), lambda t: _log_softmax64(t, axis), [x], seed,
              mag=lambda t: np.abs(t - t.max(axis=axis, keepdims=True)) + 1 + np.abs(_log_softmax64(t, axis)),
              what=f"log_softmax{shape} axis={axis}")


REDUCTIONS = {  # name: (op, float64 reference, input generator, forward magnitude or None)
    "sum": (ops.sum, np.sum, normal, lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k)),
    "mean": (ops.mean, np.mean, normal, lambda x, a, k: np.mean(np.abs(x), axis=a, keepdims=k)),
    "max": (ops.max, np.max, grid, None),
    "min": (ops.min, np.min, grid, None),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@settings(max_examples=MAX_EXAMPLES)
@given(case=_axis_case(), keepdims=st.booleans(), seed=seeds)
@example(case=((), None), keepdims=False, seed=1)
@example(case=((3, 4), 1), keepdims=True, seed=2)
@example(case=((2, 3, 4), (0, -1)), keepdims=False, seed=3)
def test_reduction(name, case, keepdims, seed):
    """max/min on distinct values 0.37 apart (a permutation), so that no tie is near."""
    op, ref, gen, mag = REDUCTIONS[name]
    shape, axis = case
    rng = np.random.default_rng(seed)
    x = gen(rng, shape) if gen is normal else rng.permutation(math.prod(shape)).reshape(shape) * 0.37 - 5
    norm_axis = axis if not isinstance(axis, int) else (axis,)
    check(lambda t: op(t, axis=axis, keepdims=keepdims),
          lambda t: ref(t, axis=norm_axis, keepdims=keepdims), [x], seed,
          mag=None if mag is None else lambda t: mag(t, norm_axis, keepdims),
          what=f"{name}{shape} axis={axis} keepdims={keepdims}")


# ---- linear algebra ---------------------------------------------------------------------------

def _abs_product(fn):
    return lambda a, b: fn(np.abs(a), np.abs(b))


@settings(max_examples=MAX_EXAMPLES)
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=4)
       .map(lambda b: b.input_shapes), seed=seeds)
@example(shapes=((3,), (3,)), seed=1)
@example(shapes=((2, 3), (3,)), seed=2)
@example(shapes=((3,), (3, 4)), seed=3)
@example(shapes=((2, 1, 2, 3), (4, 3, 2)), seed=4)
def test_matmul(shapes, seed):
    rng = np.random.default_rng(seed)
    check(ops.matmul, np.matmul, [normal(rng, s) for s in shapes], seed,
          mag=_abs_product(np.matmul), what=f"matmul{shapes}")


@st.composite
def dot_shapes(draw):
    na, nb = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    side = st.integers(1, 4)
    a = tuple(draw(st.lists(side, min_size=na, max_size=na)))
    b = list(draw(st.lists(side, min_size=nb, max_size=nb)))
    if na and nb:
        b[0 if nb == 1 else nb - 2] = a[-1]
    return a, tuple(b)


@settings(max_examples=MAX_EXAMPLES)
@given(shapes=dot_shapes(), seed=seeds)
@example(shapes=((3,), (3,)), seed=1)
@example(shapes=((2, 3), (3, 4)), seed=2)
@example(shapes=((2, 3), (3,)), seed=3)
@example(shapes=((2, 2, 3), (4, 3, 2)), seed=4)
@example(shapes=((), (2, 3)), seed=5)
def test_dot(shapes, seed):
    rng = np.random.default_rng(seed)
    check(ops.dot, np.dot, [normal(rng, s) for s in shapes], seed,
          mag=_abs_product(np.dot), what=f"dot{shapes}")


# ---- shapes -----------------------------------------------------------------------------------

@st.composite
def reshape_case(draw):
    shape = draw(shapes_0_to_3)
    n = math.prod(shape)
    target = draw(st.sampled_from([(-1,), (n,), tuple(reversed(shape)), (1,) + shape + (1,),
                                   (n, -1) if n else (0, 1)]))
    return shape, target


@settings(max_examples=MAX_EXAMPLES)
@given(case=reshape_case(), seed=seeds)
@example(case=((3, 4), (2, -1)), seed=1)
@example(case=((), (1, 1)), seed=2)
def test_reshape(case, seed):
    shape, newshape = case
    x = normal(np.random.default_rng(seed), shape)
    check(lambda t: ops.reshape(t, newshape), lambda t: np.reshape(t, newshape), [x], seed,
          what=f"reshape{shape}->{newshape}")


@settings(max_examples=MAX_EXAMPLES)
@given(case=shapes_0_to_3.flatmap(lambda s: st.tuples(
    st.just(s), st.one_of(st.none(), st.permutations(range(len(s))).map(tuple)))), seed=seeds)
@example(case=((2, 3, 4), (2, 0, 1)), seed=1)
@example(case=((2, 3), None), seed=2)
def test_transpose(case, seed):
    shape, axes = case
    x = normal(np.random.default_rng(seed), shape)
    check(lambda t: ops.transpose(t, axes), lambda t: np.transpose(t, axes), [x], seed,
          what=f"transpose{shape} axes={axes}")


@settings(max_examples=MAX_EXAMPLES)
@given(case=shapes_0_to_3.flatmap(lambda s: st.tuples(st.just(s), st.integers(-len(s) - 1, len(s)))),
       seed=seeds)
@example(case=((3,), -1), seed=1)
@example(case=((), 0), seed=2)
def test_expand_dims(case, seed):
    shape, axis = case
    x = normal(np.random.default_rng(seed), shape)
    check(lambda t: ops.expand_dims(t, axis), lambda t: np.expand_dims(t, axis), [x], seed,
          what=f"expand_dims{shape} axis={axis}")


@settings(max_examples=MAX_EXAMPLES)
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=3), data=st.data(), seed=seeds)
@example(shape=(3, 1), data=None, seed=1)
def test_squeeze(shape, data, seed):
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = None if data is None else data.draw(st.one_of(
        st.none(), st.lists(st.sampled_from(ones), unique=True).map(tuple) if ones else st.none()))
    x = normal(np.random.default_rng(seed), shape)
    check(lambda t: ops.squeeze(t, axis), lambda t: np.squeeze(t, axis), [x], seed,
          what=f"squeeze{shape} axis={axis}")


@st.composite
def join_case(draw, new_axis):
    base = draw(hnp.array_shapes(min_dims=0 if new_axis else 1, max_dims=3, max_side=3))
    n = draw(st.integers(1, 3))
    axis = draw(st.integers(-len(base) - new_axis, len(base) - 1 + new_axis))
    if new_axis:
        return [base] * n, axis
    ax = axis % len(base)
    sizes = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    return [base[:ax] + (k,) + base[ax + 1:] for k in sizes], axis


@settings(max_examples=MAX_EXAMPLES)
@given(case=join_case(new_axis=False), seed=seeds)
@example(case=([(2, 1), (2, 3)], 1), seed=1)
@example(case=([(4,)], 0), seed=2)
def test_concatenate(case, seed):
    shapes, axis = case
    rng = np.random.default_rng(seed)
    check(lambda *xs: ops.concatenate(list(xs), axis=axis),
          lambda *xs: np.concatenate(xs, axis=axis), [normal(rng, s) for s in shapes], seed,
          what=f"concatenate{shapes} axis={axis}")


@settings(max_examples=MAX_EXAMPLES)
@given(case=join_case(new_axis=True), seed=seeds)
@example(case=([(2, 3)] * 3, -1), seed=1)
@example(case=([()] * 2, 0), seed=2)
def test_stack(case, seed):
    shapes, axis = case
    rng = np.random.default_rng(seed)
    check(lambda *xs: ops.stack(xs, axis=axis), lambda *xs: np.stack(xs, axis=axis),
          [normal(rng, s) for s in shapes], seed, what=f"stack{shapes} axis={axis}")


# ---- a chain of ops ---------------------------------------------------------------------------

def test_chain_mse_of_affine():
    """mean(square(subtract(matmul(x, w), b))): gradients for x, w and b at once."""
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((5, 3), (3, 4), (4,)))
    with _tape.recording() as records:
        loss = ops.mean(ops.square(ops.subtract(ops.matmul(x, w), b)))
    grads = _tape.gradients(records, [loss], [np.float32(1.0)], [x, w, b])
    args64 = [t.astype(np.float64) for t in (x, w, b)]

    def ref(x, w, b):
        return np.mean(np.square(x @ w - b))
    assert_within(loss, ref(*args64), ULPS_FWD * U32 * np.mean((np.abs(x) @ np.abs(w) + np.abs(b)) ** 2),
                  "loss")
    for i, g in enumerate(grads):
        fd = fd_grad(ref, args64, i, 1.0)
        assert_within(g, fd, ULPS_GRAD * U32 * max(1.0, np.abs(fd).max()), f"gradient {i}")


def test_chain_mixes_ops_and_nn():
    """ops feeding pyconv.nn and back: sum(log_softmax(relu(x @ w) + b, axis=0) * sigmoid(x2))."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)
    b, x2 = rng.standard_normal(2).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    with _tape.recording() as records:
        h = ops.add(nn.relu(ops.matmul(x, w)), b)
        y = ops.sum(ops.multiply(ops.log_softmax(h, axis=0), ops.sigmoid(x2)))
    grads = _tape.gradients(records, [y], [np.float32(1.0)], [x, w, b, x2])

    def ref(x, w, b, x2):
        return np.sum(_log_softmax64(np.maximum(x @ w, 0) + b, 0) / (1 + np.exp(-x2)))
    args64 = [t.astype(np.float64) for t in (x, w, b, x2)]
    for i, g in enumerate(grads):
        fd = fd_grad(ref, args64, i, 1.0)
        assert_within(g, fd, ULPS_GRAD * U32 * max(1.0, np.abs(fd).max()), f"gradient {i}")


# ---- the tape's rules -------------------------------------------------------------------------

def test_records_the_original_objects():
    """A float64 array gets its gradient (in float32); lists, scalars and ints get None."""
    x64 = np.array([1.0, 2.0])
    ints = np.array([3, 4])
    lst = [5.0, 6.0]
    with _tape.recording() as records:
        y = ops.multiply(ops.add(x64, lst), ops.add(ints, 2.0))
    g = _tape.gradients(records, [y], [np.ones(2, np.float32)], [x64, ints, lst])
    np.testing.assert_array_equal(g[0], [5.0, 6.0])
    assert g[0].dtype == np.float32
    assert g[1] is None and g[2] is None


def test_same_array_twice():
    x = np.array([1.0, -3.0], np.float32)
    with _tape.recording() as records:
        y = ops.add(ops.multiply(x, x), x)
    np.testing.assert_array_equal(_tape.gradient(records, y, np.ones(2, np.float32), x), [3, -5])


def test_nothing_recorded_for_constants_or_without_tape():
    with _tape.recording() as records:
        ops.add([1.0], 2.0)
        ops.sum([[1, 2]])
        ops.argmax([1.0, 2.0])           # a list: no array is involved
        ops.zeros_like(np.ones(2))       # no gradient by design (see below)
        ops.stop_gradient(np.ones(2))
    assert records == []
    ops.argmax(np.ones(3))               # no tape: nothing to record, nothing raised


SAMPLE_CALLS = {  # name: (function of float32 arrays (a (2, 3), b (2, 3), v (3,)), inputs used)
    "add": lambda a, b, v: ops.add(a, b), "subtract": lambda a, b, v: ops.subtract(a, b),
    "multiply": lambda a, b, v: ops.multiply(a, b), "divide": lambda a, b, v: ops.divide(a, b),
    "true_divide": lambda a, b, v: ops.true_divide(a, b), "negative": lambda a, b, v: ops.negative(a),
    "matmul": lambda a, b, v: ops.matmul(a, v), "dot": lambda a, b, v: ops.dot(a, v),
    "reshape": lambda a, b, v: ops.reshape(a, (2, 3)), "transpose": lambda a, b, v: ops.transpose(a, (0, 1)),
    "expand_dims": lambda a, b, v: ops.expand_dims(a, 0), "squeeze": lambda a, b, v: ops.squeeze(a),
    "concatenate": lambda a, b, v: ops.concatenate([a]), "stack": lambda a, b, v: ops.stack([a]),
    "mean": lambda a, b, v: ops.mean(a), "sum": lambda a, b, v: ops.sum(a, axis=()),
    "max": lambda a, b, v: ops.max(a), "min": lambda a, b, v: ops.min(a),
    "maximum": lambda a, b, v: ops.maximum(a, b), "minimum": lambda a, b, v: ops.minimum(a, b),
    "exp": lambda a, b, v: ops.exp(a), "log": lambda a, b, v: ops.log(a), "sqrt": lambda a, b, v: ops.sqrt(a),
    "square": lambda a, b, v: ops.square(a), "abs": lambda a, b, v: ops.abs(a),
    "power": lambda a, b, v: ops.power(a, b), "clip": lambda a, b, v: ops.clip(a, -10.0, 10.0),
    "where": lambda a, b, v: ops.where(a > 0, a, b), "relu": lambda a, b, v: ops.relu(a),
    "sigmoid": lambda a, b, v: ops.sigmoid(a), "tanh": lambda a, b, v: ops.tanh(a),
    "softmax": lambda a, b, v: ops.softmax(a), "log_softmax": lambda a, b, v: ops.log_softmax(a),
    "softmax_axis0": lambda a, b, v: ops.softmax(a, axis=0),
    "cast": lambda a, b, v: ops.cast(a, "float32"),
    "convert_to_tensor": lambda a, b, v: ops.convert_to_tensor(a),
    "zeros_like": lambda a, b, v: ops.zeros_like(a), "ones_like": lambda a, b, v: ops.ones_like(a),
    "stop_gradient": lambda a, b, v: ops.stop_gradient(a), "argmax": lambda a, b, v: ops.argmax(a),
    "argmin": lambda a, b, v: ops.argmin(a),
}


@pytest.mark.parametrize("name", list(SAMPLE_CALLS))
def test_output_is_a_new_object(name):
    """Identity is the tape's key: even an op that changes nothing (a reshape to the same
    shape, a cast to the same dtype) returns a new array object."""
    a = np.full((2, 3), 1.5, np.float32)
    b, v = np.full((2, 3), 2.5, np.float32), np.ones(3, np.float32)
    y = SAMPLE_CALLS[name](a, b, v)
    assert isinstance(y, np.ndarray)
    assert y is not a and y is not b and y is not v


@pytest.mark.parametrize("name", list(SAMPLE_CALLS))
def test_one_record_per_op(name):
    """Each op records itself once (relu, sigmoid, tanh and softmax on the last axis are
    pyconv.nn's records, not a second one); the constants record nothing."""
    a = np.full((2, 3), 1.5, np.float32)
    b, v = np.full((2, 3), 2.5, np.float32), np.ones(3, np.float32)
    with _tape.recording() as records:
        y = SAMPLE_CALLS[name](a, b, v)
    assert len(records) == (0 if name in ("zeros_like", "ones_like", "stop_gradient") else 1)
    assert all(out is y for _, out, _ in records)


def test_every_public_op_is_covered():
    assert set(ops.__all__) - set(SAMPLE_CALLS) == {"shape", "absolute"}


# ---- gradient semantics at kinks and ties -----------------------------------------------------

def _grad(fn, *xs, cot=None):
    xs = [np.asarray(x, np.float32) for x in xs]
    with _tape.recording() as records:
        y = fn(*xs)
    cot = np.ones(y.shape, np.float32) if cot is None else np.asarray(cot, np.float32)
    return y, _tape.gradients(records, [y], [cot], xs)


def test_max_min_split_ties_evenly():
    _, (g,) = _grad(ops.max, [1.0, 3.0, 3.0])
    np.testing.assert_array_equal(g, [0, 0.5, 0.5])
    _, (g,) = _grad(lambda t: ops.min(t, axis=1), [[2.0, 2.0, 2.0, 5.0], [0.0, 1.0, 1.0, 0.0]],
                    cot=[3.0, 1.0])
    np.testing.assert_array_equal(g, [[1, 1, 1, 0], [0.5, 0, 0, 0.5]])


def test_max_nan_is_the_maximum():
    y, (g,) = _grad(ops.max, [1.0, np.nan, 3.0])
    assert np.isnan(y)
    np.testing.assert_array_equal(g, [0, 1, 0])


def test_max_initial():
    y, (g,) = _grad(lambda t: ops.max(t, axis=1, initial=2.0), [[1.0, 0.0], [1.0, 4.0]])
    np.testing.assert_array_equal(y, [2, 4])
    np.testing.assert_array_equal(g, [[0, 0], [0, 1]])  # where `initial` won, nothing flows to x
    np.testing.assert_array_equal(ops.min(np.zeros((0, 2)), axis=0, initial=7), [7, 7])


def test_maximum_minimum_ties_go_to_x1():
    """TensorFlow's rule: x1 gets the gradient where x1 >= x2 (maximum) / x1 <= x2 (minimum)."""
    for op in (ops.maximum, ops.minimum):
        _, (g1, g2) = _grad(op, [1.0, 2.0], [1.0, 2.0])
        np.testing.assert_array_equal(g1, [1, 1])
        np.testing.assert_array_equal(g2, [0, 0])


def test_clip_bounds_are_inclusive_for_x():
    _, (g, glo, ghi) = _grad(ops.clip, [-1.0, 1.0, -2.0, 2.0], -1.0, 1.0)
    np.testing.assert_array_equal(g, [1, 1, 0, 0])
    assert glo == 1 and ghi == 1


def test_abs_relu_at_zero_and_numpy_infinities():
    _, (g,) = _grad(ops.abs, [0.0, -2.0])
    np.testing.assert_array_equal(g, [0, -1])
    _, (g,) = _grad(ops.relu, [0.0, 2.0])
    np.testing.assert_array_equal(g, [0, 1])
    with np.errstate(divide="ignore"):
        y, (g,) = _grad(ops.sqrt, [0.0])
        np.testing.assert_array_equal(y, [0])
        np.testing.assert_array_equal(g, [np.inf])
        y, (g,) = _grad(ops.log, [0.0])
        np.testing.assert_array_equal(y, [-np.inf])
        np.testing.assert_array_equal(g, [np.inf])


def test_power_gradient_for_non_positive_base():
    """d/dx2 of x1**x2 is x1**x2 * log(x1) for x1 > 0, and 0 elsewhere (TensorFlow)."""
    y, (g1, g2) = _grad(ops.power, [-2.0, 2.0], [2.0, 3.0])
    np.testing.assert_array_equal(y, [4, 8])
    np.testing.assert_array_equal(g1, [-4, 12])
    np.testing.assert_allclose(g2, [0, 8 * np.log(2)], rtol=1e-6)


# ---- ops without a gradient, stop_gradient, constants ----------------------------------------

@pytest.mark.parametrize("name", ["argmax", "argmin", "shape"])
def test_no_gradient_op_raises_on_the_path(name):
    x = np.array([[1.0, 3.0], [4.0, 2.0]], np.float32)
    with _tape.recording() as records:
        y = getattr(ops, name)(x)
    with pytest.raises(ValueError, match=rf"pyconv\.ops\.{name} has no gradient: a gradient "
                                         rf"reached its output .* ops\.stop_gradient"):
        _tape.gradients(records, [y], [np.float32(1.0)], [x])


def test_argmax_fed_to_a_differentiable_op():
    """An nn op that differentiates with respect to argmax's output raises; an op for which
    argmax's output is a constant (an int array) does not, and the other input's gradient is right."""
    x = np.array([[1.0, 3.0], [4.0, 2.0]], np.float32)
    with _tape.recording() as records:
        y = nn.relu(ops.argmax(x, axis=1))
    with pytest.raises(ValueError, match=r"pyconv\.ops\.argmax has no gradient"):
        _tape.gradient(records, y, np.ones(2, np.float32), x)
    with _tape.recording() as records:
        y = ops.multiply(ops.argmax(x, axis=1), ops.sum(x, axis=1))
    np.testing.assert_array_equal(_tape.gradient(records, y, np.ones(2, np.float32), x), [[1, 1], [0, 0]])


def test_stop_gradient_blocks():
    x = np.array([1.0, 2.0], np.float32)
    w = np.array([3.0, 4.0], np.float32)
    with _tape.recording() as records:
        s = ops.stop_gradient(w)
        y = ops.multiply(ops.multiply(ops.stop_gradient(x), x), s)
    assert s is not w and np.array_equal(s, w)
    gx, gw = _tape.gradients(records, [y], [np.ones(2, np.float32)], [x, w])
    np.testing.assert_array_equal(gx, [3.0, 8.0])  # x * w: the stopped factor is a constant
    assert gw is None                              # reached only through stop_gradient


def test_zeros_like_ones_like_are_constants():
    """No record (the gradient through them is exactly zero): where(c, x, zeros_like(x)) works."""
    x = np.array([-1.0, 2.0], np.float32)
    with _tape.recording() as records:
        y = ops.where(x > 0, x, ops.zeros_like(x))
        z = ops.multiply(ops.ones_like(x), 2.0)
    np.testing.assert_array_equal(y, [0, 2])
    (gx,) = _tape.gradients(records, [y, z], [np.ones(2, np.float32)] * 2, [x])
    np.testing.assert_array_equal(gx, [0, 1])  # from `where` only: z depends on x's shape alone
    assert ops.zeros_like(np.ones(2)).dtype == np.float32
    assert ops.ones_like(np.ones(2, np.int64)).dtype == np.int64
    assert ops.zeros_like([1.0], dtype="int32").dtype == np.int32


# ---- dtypes and conversions -------------------------------------------------------------------

def test_cast():
    x = np.array([1.7, -2.2], np.float32)
    with _tape.recording() as records:
        y64 = ops.cast(x, "float64")
        yi = ops.cast(x, np.int32)
    assert y64.dtype == np.float64 and yi.dtype == np.int32
    np.testing.assert_array_equal(yi, [1, -2])
    g64, gi = _tape.gradients(records, [y64, yi], [np.ones(2), np.ones(2)], [x, x])
    np.testing.assert_array_equal(g64, [1, 1])
    with _tape.recording() as records:
        yi = ops.cast(x, "int32")
    assert records == []  # a cast to int has no gradient: nothing flows back


def test_convert_to_tensor_dtypes():
    assert ops.convert_to_tensor(np.zeros(2)).dtype == np.float32
    assert ops.convert_to_tensor([1.5]).dtype == np.float32
    assert ops.convert_to_tensor(np.array([1, 2], np.int32)).dtype == np.int32
    assert ops.convert_to_tensor([True]).dtype == bool
    assert ops.convert_to_tensor([1, 2], dtype="float64").dtype == np.float64
    x = np.ones(2, np.float32)
    y = ops.convert_to_tensor(x)
    assert y is not x and np.shares_memory(x, y)


def test_where_without_values_gives_indices():
    rows, cols = ops.where([[True, False], [False, True]])
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_array_equal(cols, [0, 1])


def test_shape_and_arg_extremes():
    assert ops.shape(np.zeros((2, 3))) == (2, 3)
    assert ops.shape(3.0) == ()
    x = np.array([[10, 11, 12], [15, 14, 13]])
    np.testing.assert_array_equal(ops.argmax(x), 3)
    np.testing.assert_array_equal(ops.argmax(x, axis=0), [1, 1, 1])
    np.testing.assert_array_equal(ops.argmin(x, axis=-1, keepdims=True), [[0], [2]])
    assert ops.argmax(x).dtype == np.int32


def test_integer_inputs_compute_in_float32():
    y = ops.add(np.array([1, 2]), 1)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [2, 3])


def test_doctests():
    result = doctest.testmod(ops, raise_on_error=False)
    assert result.attempted > 40 and result.failed == 0


# ---- errors -----------------------------------------------------------------------------------

def _keras_tensor():
    _graph = pytest.importorskip("pyconv._graph")
    return _graph.KerasTensor((None, 3))


SYMBOLIC_CALLS = {  # name: (call with the symbolic tensor t, argument named in the message)
    "add": (lambda t: ops.add(1.0, t), "x2"), "matmul": (lambda t: ops.matmul(t, t), "x1"),
    "concatenate": (lambda t: ops.concatenate([np.ones(3), t]), r"xs\[1\]"),
    "stack": (lambda t: ops.stack((t,)), r"x\[0\]"),
    "where": (lambda t: ops.where(t, 1.0, 2.0), "condition"),
    "clip": (lambda t: ops.clip(1.0, 0.0, t), "x_max"),
    "stop_gradient": (lambda t: ops.stop_gradient(t), "variable"),
    **{n: ((lambda n: lambda t: getattr(ops, n)(t))(n), "x")
       for n in ["negative", "exp", "log", "sqrt", "square", "abs", "relu", "sigmoid", "tanh",
                 "softmax", "log_softmax", "mean", "sum", "max", "min", "argmax", "argmin", "shape",
                 "convert_to_tensor", "zeros_like", "ones_like", "squeeze", "transpose"]},
    "reshape": (lambda t: ops.reshape(t, (-1,)), "x"), "expand_dims": (lambda t: ops.expand_dims(t, 0), "x"),
    "cast": (lambda t: ops.cast(t, "float32"), "x"),
    **{n: ((lambda n: lambda t: getattr(ops, n)(t, 2.0))(n), "x1")
       for n in ["subtract", "multiply", "divide", "true_divide", "maximum", "minimum", "power", "dot"]},
}


@pytest.mark.parametrize("name", list(SYMBOLIC_CALLS))
def test_an_op_on_a_symbolic_tensor_is_a_graph_node(name):
    """An op on KerasTensors records a node; the model computes what the op computes."""
    import pyconv
    if name == "shape":
        assert ops.shape(_keras_tensor()) == (None, 3)
        return
    if name in ("reshape", "mean", "sum", "max", "min", "argmax", "argmin", "dot", "matmul", "concatenate",
                "stack"):
        pytest.skip("this call reduces, reshapes or joins along the batch axis: no per-example shape")
    call, _ = SYMBOLIC_CALLS[name]
    inp = pyconv.Input((3,))
    out = call(inp)
    assert isinstance(out, pyconv.KerasTensor)
    model = pyconv.Model(inp, out)
    x = np.random.default_rng(0).random((2, 3)).astype(np.float32) + 0.5
    want = np.asarray(call(x), np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), want)


def test_symbolic_operator_goes_through_ops():
    import pyconv
    t = pyconv.Input((3,))
    y = 1.0 - t
    assert y.shape == (None, 3) and type(y.node.layer).__name__ == "OpLayer"
    m = pyconv.Model(t, y)
    np.testing.assert_array_equal(m.predict(np.ones((2, 3)), verbose=0), np.zeros((2, 3)))


OBJ = np.array([object(), object()], dtype=object)
BAD_INPUT_CALLS = {  # name: (call with a bad value `bad`, argument named in the message)
    "add": (lambda bad: ops.add(np.ones(2), bad), "x2"),
    "matmul": (lambda bad: ops.matmul(bad, np.ones(2)), "x1"),
    "dot": (lambda bad: ops.dot(np.ones(2), bad), "x2"),
    "concatenate": (lambda bad: ops.concatenate([np.ones(2), bad]), r"xs\[1\]"),
    "stack": (lambda bad: ops.stack([bad]), r"x\[0\]"),
    "where": (lambda bad: ops.where(bad, 1.0, 2.0), "condition"),
    "where_x2": (lambda bad: ops.where([True, False], 1.0, bad), "x2"),
    "clip": (lambda bad: ops.clip(np.ones(2), bad, 1.0), "x_min"),
    "max_initial": (lambda bad: ops.max(np.ones(2), initial=bad), "initial"),
    "stop_gradient": (lambda bad: ops.stop_gradient(bad), "variable"),
    "cast": (lambda bad: ops.cast(bad, "float32"), "x"),
    **{n: ((lambda n: lambda bad: getattr(ops, n)(bad))(n), "x")
       for n in ["negative", "exp", "log", "sqrt", "square", "abs", "relu", "sigmoid", "tanh",
                 "softmax", "log_softmax", "mean", "sum", "max", "min", "argmax", "argmin", "shape",
                 "convert_to_tensor", "zeros_like", "ones_like", "squeeze", "transpose"]},
    **{n: ((lambda n: lambda bad: getattr(ops, n)(bad, 2.0))(n), "x1")
       for n in ["subtract", "multiply", "divide", "true_divide", "maximum", "minimum", "power"]},
    "reshape": (lambda bad: ops.reshape(bad, (-1,)), "x"),
    "expand_dims": (lambda bad: ops.expand_dims(bad, 0), "x"),
}


@pytest.mark.parametrize("bad", ["abc", OBJ, np.array(["a", "b"])], ids=["str", "object", "str_array"])
@pytest.mark.parametrize("name", list(BAD_INPUT_CALLS))
def test_non_numeric_input_is_a_type_error(name, bad):
    call, arg = BAD_INPUT_CALLS[name]
    with pytest.raises(TypeError,
                       match=rf"^`{arg}` must be a(n array of numbers| real-valued numeric array)"):
        call(bad)


BAD_ARGS = [  # (call, exception, message pattern)
    (lambda: ops.add(np.ones(3), np.ones(4)), ValueError,
     r"pyconv\.ops\.add: the inputs must be broadcastable to one shape \(NumPy's rules\)\. "
     r"Received: x1\.shape=\(3,\), x2\.shape=\(4,\)\."),
    (lambda: ops.clip(np.ones(3), np.zeros(2), 1.0), ValueError,
     r"pyconv\.ops\.clip: .* Received: x\.shape=\(3,\), x_min\.shape=\(2,\), x_max\.shape=\(\)\."),
    (lambda: ops.where([True, False, True], np.ones(2), 0.0), ValueError,
     r"pyconv\.ops\.where: .* Received: condition\.shape=\(3,\), x1\.shape=\(2,\), x2\.shape=\(\)\."),
    (lambda: ops.where([True], np.ones(1)), ValueError,
     r"`x1` and `x2` must be both None or both given\. Received: x1=array\(\[1\.\]\), x2=None\."),
    (lambda: ops.matmul(np.ones((2, 3)), np.ones((2, 3))), ValueError,
     r"pyconv\.ops\.matmul: the last axis of `x1` must match .* "
     r"Received: x1\.shape=\(2, 3\), x2\.shape=\(2, 3\)\."),
    (lambda: ops.matmul(np.ones(3), 2.0), ValueError,
     r"pyconv\.ops\.matmul: `x1` and `x2` must have at least 1 dimension "
     r"\(use ops\.multiply for scalars\)\."),
    (lambda: ops.dot(np.ones((2, 3)), np.ones((2, 3))), ValueError,
     r"pyconv\.ops\.dot: the last axis of `x1` must match the second-to-last axis of `x2`\. "
     r"Received: x1\.shape=\(2, 3\), x2\.shape=\(2, 3\)\."),
    (lambda: ops.dot(np.ones(2), np.ones(3)), ValueError, r"must match the only axis of `x2`"),
    (lambda: ops.reshape(np.ones(6), (4, -1)), ValueError,
     r"`newshape` must hold as many elements as `x` \(one entry may be -1\)\. "
     r"Received: newshape=\(4, -1\) for x\.shape=\(6,\)\."),
    (lambda: ops.reshape(np.ones(6), "6"), TypeError,
     r"`newshape` must be an int or a tuple of ints\. Received: newshape='6'\."),
    (lambda: ops.transpose(np.ones((2, 3)), (0,)), ValueError,
     r"`axes` must be a permutation of the 2 axes of `x`\. Received: axes=\(0,\) for x\.shape=\(2, 3\)\."),
    (lambda: ops.transpose(np.ones((2, 3)), (0, 0)), ValueError,
     r"`axes` must be None, an int or a tuple of distinct ints in \[-2, 2\) \(for a 2-D input\)\. "
     r"Received: axes=\(0, 0\)\."),
    (lambda: ops.sum(np.ones((2, 3)), axis=2), ValueError,
     r"`axis` must be None, an int or a tuple of distinct ints in \[-2, 2\) \(for a 2-D input\)\. "
     r"Received: axis=2\."),
    (lambda: ops.mean(np.ones(3), axis=0.5), TypeError,
     r"`axis` must be None, an int or a tuple of distinct ints in \[-1, 1\)\. Received: axis=0\.5\."),
    (lambda: ops.softmax(np.ones((2, 3)), axis=-3), ValueError, r"`axis` must be .* Received: axis=-3\."),
    (lambda: ops.softmax(1.0), ValueError,
     r"`x` must have at least 1 dimension\. Received: x\.shape=\(\)\."),
    (lambda: ops.log_softmax(1.0), ValueError,
     r"`x` must have at least 1 dimension\. Received: x\.shape=\(\)\."),
    (lambda: ops.expand_dims(np.ones(3), 3), ValueError,
     r"`axis` must be .* in \[-2, 2\) \(for a 2-D input\)\. Received: axis=3\."),
    (lambda: ops.squeeze(np.ones((1, 3)), 1), ValueError,
     r"`axis` must name axes of size 1 only\. Received: axis=1 for x\.shape=\(1, 3\)\."),
    (lambda: ops.concatenate([np.ones((2, 3)), np.ones((3, 2))]), ValueError,
     r"pyconv\.ops\.concatenate: the inputs must have the same rank \(at least 1\) and the same "
     r"shape except along axis 0\. Received: shapes \[\(2, 3\), \(3, 2\)\]\."),
    (lambda: ops.concatenate([1.0, 2.0]), ValueError, r"the same rank \(at least 1\)"),
    (lambda: ops.concatenate([]), TypeError,
     r"`xs` must be a non-empty list or tuple of arrays\. Received: xs=\[\] of type list\."),
    (lambda: ops.concatenate(np.ones((2, 3))), TypeError,
     r"`xs` must be a non-empty list or tuple of arrays\. Received: xs=array"),
    (lambda: ops.stack([np.ones(2), np.ones(3)]), ValueError,
     r"pyconv\.ops\.stack: the inputs must all have the same shape\. Received: shapes \[\(2,\), \(3,\)\]\."),
    (lambda: ops.stack([np.ones(2)], axis=2), ValueError,
     r"`axis` must be .* \(for a 2-D input\)\. Received: axis=2\."),
    (lambda: ops.stack([np.ones(2)], axis="0"), TypeError,
     r"`axis` must be an int in \[-2, 2\)\. Received: axis='0'\."),
    (lambda: ops.argmax(np.ones(3), axis=(0,)), TypeError,
     r"`axis` must be an int in \[-1, 1\)\. Received: axis=\(0,\)\."),
    (lambda: ops.argmin(np.zeros((0, 2))), ValueError,
     r"pyconv\.ops\.argmin of an empty array has no answer\. Received: x\.shape=\(0, 2\)\."),
    (lambda: ops.max(np.zeros((0, 2)), axis=0), ValueError,
     r"pyconv\.ops\.max of an empty array needs `initial`\. "
     r"Received: x\.shape=\(0, 2\), axis=0, initial=None\."),
    (lambda: ops.cast(np.ones(2), "complex64"), TypeError,
     r"`dtype` must be a real numeric dtype such as 'float32', 'int32' or 'bool'\. "
     r"Received: dtype='complex64'\."),
    (lambda: ops.cast(np.ones(2), "no_such_type"), TypeError, r"Received: dtype='no_such_type'\."),
    (lambda: ops.zeros_like(np.ones(2), dtype=object), TypeError, r"`dtype` must be a real numeric dtype"),
    (lambda: ops.convert_to_tensor([1.0], sparse=True), ValueError,
     r"`sparse` must be None or False: pyconv has no sparse tensors\. Received: sparse=True\."),
    (lambda: ops.convert_to_tensor([1.0], ragged=True), ValueError,
     r"`ragged` must be None or False: pyconv has no ragged tensors\. Received: ragged=True\."),
]


@pytest.mark.parametrize("call, exc, pattern", BAD_ARGS, ids=[f"bad_arg_{i}" for i in range(len(BAD_ARGS))])
def test_bad_arguments(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
