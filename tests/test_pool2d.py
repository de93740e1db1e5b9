"""Tests of csrc/pool2d.c and pyconv/_nn_pool.py: max/avg pooling, global and depth-wise pooling.

The chain of trust:
  1. tests/ref_pool.py (float64 NumPy, padded-array formulation) is checked by central finite
     differences: its gradients are the derivatives of its forwards.
  2. The C `_ref` loop nests and the C fast kernels are both checked against ref_pool on
     shapes, windows, strides and paddings drawn by hypothesis, and against each other BITWISE
     (they sum in the same order by design, see csrc/pool2d.c).
  3. Thread counts 1 and 2 and every ISA give bitwise the same results.

Tolerances, against float64: a max (forward) is exact. A float32 sum of n terms a_i is within
(n - 1) * u * sum |a_i| of the exact sum (u = 2**-24, Higham's bound); a division adds u
relative. So every comparison uses atol = (n + 2) * u * (the same op applied to |input|) with
n the most terms any output can have, plus 1e-30 for exact zeros: tight (a few ulps of the
terms' magnitudes), and justified term by term rather than guessed.
"""
import doctest

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import pyconv
import ref_pool as ref
from pyconv import _kernels, _nn_pool, _tape
from pyconv._geometry import Window
from pyconv._nn_pool import (avg_pool, avg_pool2d, avg_pool_grad, global_avg_pool,
                             global_avg_pool_grad, global_max_pool, global_max_pool_grad,
                             max_pool, max_pool2d, max_pool_grad)

U = 2.0 ** -24  # float32 unit roundoff
HYP = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_close(actual, expected, atol, what):
    """|actual - expected| <= atol elementwise (atol an array or a scalar); on failure, say
    how large the largest difference is and where."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.size == 0:
        return
    err = np.abs(actual - expected)
    excess = err - atol
    if not (excess <= 0).all():
        i = np.unravel_index(np.argmax(excess), err.shape)
        j = np.unravel_index(np.argmax(err), err.shape)
        bound = np.broadcast_to(atol, err.shape)[i]
        raise AssertionError(
            f"{what}: largest difference {err[j]:.3g} at index {j}; worst against the bound at "
            f"{i}: actual {actual[i]!r}, expected {expected[i]!r}, |diff| {err[i]:.3g} > "
            f"bound {bound:.3g} (shape {err.shape}).")


def assert_bitwise(a, b, what):
    """The same float32 bits (so +0/-0 and NaN payloads count); the first mismatch named."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32, \
        f"{what}: {a.shape}/{a.dtype} vs {b.shape}/{b.dtype}"
    diff = a.view(np.uint32) != b.view(np.uint32)
    if diff.any():
        i = tuple(int(v) for v in np.argwhere(diff)[0])
        raise AssertionError(f"{what}: {int(diff.sum())} elements differ; first at {i}: "
                             f"{a[i]!r} vs {b[i]!r}; largest difference "
                             f"{np.abs(a.astype(np.float64) - b).max():.3g}.")


# ---- the drawn geometry --------------------------------------------------------------------
# A case is (N, H, W, C, R, S, sh, sw, padding) with padding "valid", "same" or
# ((top, bottom), (left, right)), always one the API accepts.

def pads_of(case):
    """((top, bottom), (left, right)), P, Q computed here, independently of _nn_pool."""
    N, H, W, C, R, S, sh, sw, padding = case
    if padding == "same":
        P, ph = ref.same_pads(H, R, sh)
        Q, pw = ref.same_pads(W, S, sw)
        return (ph, pw), P, Q
    pads = ((0, 0), (0, 0)) if padding == "valid" else padding
    return pads, ref.out_size(H, R, sh, pads[0]), ref.out_size(W, S, sw, pads[1])


def api_padding(padding):
    if isinstance(padding, str):
        return padding.upper()
    (t, b), (l, r) = padding
    return [[0, 0], [t, b], [l, r], [0, 0]]


@st.composite
def cases(draw):
    N = draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    C = draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["valid", "same", "explicit"]))
    if mode == "same":
        R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        return (N, H, W, C, R, S, sh, sw, "same")
    if mode == "valid":
        R, S = draw(st.integers(1, min(H, 4))), draw(st.integers(1, min(W, 4)))
        return (N, H, W, C, R, S, sh, sw, "valid")
    R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    t, b = draw(st.integers(0, R - 1)), draw(st.integers(0, R - 1))
    l, r = draw(st.integers(0, S - 1)), draw(st.integers(0, S - 1))
    if H + t + b < R or W + l + r < S:  # does not fit: make it fit by growing the input
        H, W = max(H, R), max(W, S)
    return (N, H, W, C, R, S, sh, sw, ((t, b), (l, r)))


EDGE_CASES = [
    (1, 5, 6, 2, 2, 2, 2, 2, "valid"),               # batch 1
    (2, 4, 5, 3, 4, 5, 1, 1, "valid"),               # window = input size, C = 3
    (2, 3, 4, 1, 1, 1, 1, 1, "valid"),               # 1x1 window, C = 1
    (2, 3, 4, 3, 1, 1, 2, 2, "same"),                # 1x1 window, strided
    (1, 6, 7, 3, 2, 2, 2, 2, "same"),                # SAME with odd padding (W), stride 2
    (2, 7, 7, 2, 3, 3, 2, 2, "valid"),               # overlapping windows: 3, stride 2
    (1, 7, 8, 1, 3, 3, 2, 2, "same"),                # overlapping and SAME, C = 1
    (1, 5, 5, 2, 3, 3, 1, 1, ((2, 2), (1, 2))),      # explicit, windows overlapping a lot
    (2, 4, 4, 3, 5, 5, 3, 3, "same"),                # window larger than the input (SAME)
]


def inputs(case, ties, seed):
    N, H, W, C = case[:4]
    rng = np.random.default_rng(seed)
    if ties:  # few distinct values: the first-maximum rule decides
        x = rng.integers(-2, 3, size=(N, H, W, C)).astype(np.float32)
    else:
        x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    return x, rng


def geom_of(case):
    N, H, W, C, R, S, sh, sw, padding = case
    (ph, pw), P, Q = pads_of(case)
    return Window(P, Q, R, S, sh, sw, 1, 1, ph[0], pw[0])


def max_terms(R, S, sh, sw):
    """The most windows that can cover one input element: terms of a backward sum."""
    return -(-R // sh) * -(-S // sw)


# ---- 1. the NumPy references, checked by central finite differences -------------------------

FD_CASES = [(1, 5, 5, 2, 2, 2, 2, 2, "valid"), (2, 5, 6, 1, 3, 3, 2, 2, "same"),
            (1, 4, 5, 2, 3, 2, 1, 1, ((1, 2), (1, 0))), (1, 4, 4, 1, 4, 4, 1, 1, "valid")]


def numeric_grad(f, x, g, eps):
    """d/dx sum(f(x) * g), by central differences, element by element."""
    dx = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        dx[i] = ((f(xp) * g).sum() - (f(xm) * g).sum()) / (2 * eps)
    return dx


def distinct_inputs(shape, seed):
    """Values 0.1 apart in random order: every max is unique and stays so within eps."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0


@pytest.mark.parametrize("case", FD_CASES)
def test_reference_grads_by_finite_differences(case):
    N, H, W, C, R, S, sh, sw, _ = case
    pads, P, Q = pads_of(case)
    x = distinct_inputs((N, H, W, C), 1)
    g = np.random.default_rng(2).standard_normal((N, P, Q, C))
    # Both pools are piecewise linear in x, so central differences are exact up to rounding
    # (~1e-16 / eps): 1e-8 is far above that and far below any real error.
    num = numeric_grad(lambda v: ref.max_pool(v, R, S, sh, sw, pads), x, g, 1e-3)
    assert_close(ref.max_pool_grad(x, g, R, S, sh, sw, pads), num, 1e-8, "max_pool_grad ref")
    num = numeric_grad(lambda v: ref.avg_pool(v, R, S, sh, sw, pads), x, g, 1e-3)
    assert_close(ref.avg_pool_grad(x.shape, g, R, S, sh, sw, pads), num, 1e-8, "avg_pool_grad ref")


def test_reference_global_and_depthwise_grads_by_finite_differences():
    x = distinct_inputs((2, 3, 4, 6), 3)
    g = np.random.default_rng(4).standard_normal((2, 6))
    assert_close(ref.global_max_pool_grad(x, g),
                 numeric_grad(ref.global_max_pool, x, g, 1e-3), 1e-8, "global max ref")
    assert_close(ref.global_avg_pool_grad(x.shape, g),
                 numeric_grad(ref.global_avg_pool, x, g, 1e-3), 1e-8, "global avg ref")
    g = np.random.default_rng(5).standard_normal((2, 3, 4, 2))
    assert_close(ref.depthwise_max_pool_grad(x, g, 3),
                 numeric_grad(lambda v: ref.depthwise_max_pool(v, 3), x, g, 1e-3), 1e-8,
                 "depthwise max ref")


def test_reference_pools_by_hand():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    assert ref.max_pool(x, 2, 2, 2, 2, ((0, 0), (0, 0)))[0, :, :, 0].tolist() == [[5, 7], [13, 15]]
    # SAME, 3x3 input, 2x2 window, stride 2: pads (0, 1); the corner window holds one element.
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    assert ref.same_pads(3, 2, 2) == (2, (0, 1))
    assert ref.avg_pool(x, 2, 2, 2, 2, ((0, 1), (0, 1)))[0, :, :, 0].tolist() == [[2, 3.5], [6.5, 8]]


# ---- 2. C fast and C _ref against the references -------------------------------------------

def check_max_pool(case, ties, seed=0):
    N, H, W, C, R, S, sh, sw, padding = case
    pads, P, Q = pads_of(case)
    geom = geom_of(case)
    x, rng = inputs(case, ties, seed)
    want = ref.max_pool(x, R, S, sh, sw, pads)
    y = max_pool(x, (R, S), (sh, sw), api_padding(padding))
    assert_close(y, want, 0.0, f"max_pool {case}")                  # a max is exact
    assert_bitwise(_kernels.maxpool2d_fwd(x, geom, ref=True), y, f"max_pool _ref {case}")

    g = rng.standard_normal((N, P, Q, C)).astype(np.float32)
    want = ref.max_pool_grad(x, g, R, S, sh, sw, pads)
    bound = (max_terms(R, S, sh, sw) + 2) * U * ref.max_pool_grad(x, np.abs(g), R, S, sh, sw, pads)
    dx = max_pool_grad(x, g, (R, S), (sh, sw), api_padding(padding))
    assert_close(dx, want, bound + 1e-30, f"max_pool_grad {case}")
    assert_bitwise(_kernels.maxpool2d_bwd(g, x, geom, ref=True), dx, f"max_pool_grad _ref {case}")


def check_avg_pool(case, seed=0):
    N, H, W, C, R, S, sh, sw, padding = case
    pads, P, Q = pads_of(case)
    geom = geom_of(case)
    x, rng = inputs(case, False, seed)
    want = ref.avg_pool(x, R, S, sh, sw, pads)
    bound = (R * S + 2) * U * ref.avg_pool(np.abs(x), R, S, sh, sw, pads)
    y = avg_pool(x, (1, R, S, 1), (1, sh, sw, 1), api_padding(padding))
    assert_close(y, want, bound + 1e-30, f"avg_pool {case}")
    assert_bitwise(_kernels.avgpool2d_fwd(x, geom, ref=True), y, f"avg_pool _ref {case}")

    g = rng.standard_normal((N, P, Q, C)).astype(np.float32)
    want = ref.avg_pool_grad(x.shape, g, R, S, sh, sw, pads)
    bound = (max_terms(R, S, sh, sw) + 2) * U * ref.avg_pool_grad(x.shape, np.abs(g), R, S, sh, sw, pads)
    dx = avg_pool_grad(x.shape, g, (R, S), (sh, sw), api_padding(padding))
    assert_close(dx, want, bound + 1e-30, f"avg_pool_grad {case}")
    assert_bitwise(_kernels.avgpool2d_bwd(g, x.shape, geom, ref=True), dx, f"avg_pool_grad _ref {case}")


@HYP
@given(case=cases(), ties=st.booleans(), seed=st.integers(0, 2**16))
@example(case=EDGE_CASES[0], ties=False, seed=0)
@example(case=EDGE_CASES[1], ties=False, seed=0)
@example(case=EDGE_CASES[2], ties=True, seed=0)
@example(case=EDGE_CASES[3], ties=False, seed=0)
@example(case=EDGE_CASES[4], ties=False, seed=0)
@example(case=EDGE_CASES[5], ties=True, seed=0)
@example(case=EDGE_CASES[6], ties=False, seed=0)
@example(case=EDGE_CASES[7], ties=True, seed=0)
@example(case=EDGE_CASES[8], ties=False, seed=0)
def test_max_pool_against_reference(case, ties, seed):
    check_max_pool(case, ties, seed)


@HYP
@given(case=cases(), seed=st.integers(0, 2**16))
@example(case=EDGE_CASES[0], seed=0)
@example(case=EDGE_CASES[1], seed=0)
@example(case=EDGE_CASES[2], seed=0)
@example(case=EDGE_CASES[3], seed=0)
@example(case=EDGE_CASES[4], seed=0)
@example(case=EDGE_CASES[5], seed=0)
@example(case=EDGE_CASES[6], seed=0)
@example(case=EDGE_CASES[7], seed=0)
@example(case=EDGE_CASES[8], seed=0)
def test_avg_pool_against_reference(case, seed):
    check_avg_pool(case, seed)


@HYP
@given(N=st.integers(1, 3), H=st.integers(1, 6), W=st.integers(1, 6), C=st.integers(1, 140),
       ties=st.booleans(), seed=st.integers(0, 2**16))
@example(N=1, H=1, W=1, C=1, ties=False, seed=0)
@example(N=2, H=3, W=3, C=130, ties=True, seed=0)   # two channel blocks (POOL_CB = 128)
def test_global_pools_against_reference(N, H, W, C, ties, seed):
    x, rng = inputs((N, H, W, C), ties, seed)
    g = rng.standard_normal((N, C)).astype(np.float32)

    y = global_max_pool(x)
    assert_close(y, ref.global_max_pool(x), 0.0, "global_max_pool")
    assert_bitwise(_kernels.global_maxpool2d_fwd(x, ref=True), y, "global_max_pool _ref")
    dx = global_max_pool_grad(x, g)
    assert_close(dx, ref.global_max_pool_grad(x, g), 0.0, "global_max_pool_grad")  # a copy
    assert_bitwise(_kernels.global_maxpool2d_bwd(g, x, ref=True), dx, "global_max_pool_grad _ref")

    y = global_avg_pool(x)
    bound = (H * W + 2) * U * ref.global_avg_pool(np.abs(x))
    assert_close(y, ref.global_avg_pool(x), bound + 1e-30, "global_avg_pool")
    assert_bitwise(_kernels.global_avgpool2d_fwd(x, ref=True), y, "global_avg_pool _ref")
    dx = global_avg_pool_grad(x.shape, g)
    assert_close(dx, ref.global_avg_pool_grad(x.shape, g),
                 U * np.abs(ref.global_avg_pool_grad(x.shape, g)), "global_avg_pool_grad")
    assert_bitwise(_kernels.global_avgpool2d_bwd(g, x.shape, ref=True), dx,
                   "global_avg_pool_grad _ref")


@HYP
@given(N=st.integers(1, 3), H=st.integers(1, 4), W=st.integers(1, 4), K=st.integers(1, 5),
       k=st.integers(1, 5), ties=st.booleans(), seed=st.integers(0, 2**16))
@example(N=1, H=2, W=2, K=1, k=3, ties=False, seed=0)   # the tutorial's RGB -> 1 channel
@example(N=1, H=1, W=1, K=3, k=1, ties=False, seed=0)   # k = 1: a copy
def test_depthwise_max_pool_against_reference(N, H, W, K, k, ties, seed):
    x, rng = inputs((N, H, W, K * k), ties, seed)
    y = max_pool(x, (1, 1, 1, k), (1, 1, 1, k), "VALID")
    assert_close(y, ref.depthwise_max_pool(x, k), 0.0, "depthwise max_pool")
    assert_bitwise(_kernels.depthwise_maxpool2d_fwd(x, k, ref=True), y, "depthwise _ref")
    g = rng.standard_normal((N, H, W, K)).astype(np.float32)
    dx = max_pool_grad(x, g, (1, 1, 1, k), (1, 1, 1, k), "VALID")
    assert_close(dx, ref.depthwise_max_pool_grad(x, g, k), 0.0, "depthwise max_pool_grad")
    assert_bitwise(_kernels.depthwise_maxpool2d_bwd(g, x, k, ref=True), dx,
                   "depthwise max_pool_grad _ref")


# ---- ties: the gradient goes to the FIRST maximum ------------------------------------------

def test_ties_send_the_gradient_to_the_first_maximum():
    x = np.ones((1, 4, 4, 2), np.float32)
    dx = max_pool_grad(x, np.ones((1, 2, 2, 2)), 2, 2, "VALID")
    want = np.zeros((4, 4))
    want[::2, ::2] = 1                       # the top-left of each window
    assert (dx[0, :, :, 0] == want).all() and (dx[0, :, :, 1] == want).all()
    # Overlapping windows (3x3, stride 1) on a constant: window (p, q) picks pixel (p, q).
    dx = max_pool_grad(np.zeros((1, 4, 4, 1)), np.ones((1, 2, 2, 1)), 3, 1, "VALID")
    assert dx[0, :, :, 0].tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    # SAME with padding above and left: padding never wins, the first input element does.
    x = np.full((1, 2, 2, 1), -5.0)
    dx = max_pool_grad(x, np.ones((1, 2, 2, 1)), 3, 1, "SAME")
    assert dx[0, :, :, 0].tolist() == [[4, 0], [0, 0]]
    assert (max_pool(x, 3, 1, "SAME") == -5).all()
    # Global and depth-wise pooling: the first pixel, the first channel of the window.
    assert global_max_pool_grad(np.ones((1, 2, 2, 1)), [[3.0]])[0, :, :, 0].tolist() == [[3, 0], [0, 0]]
    dx = max_pool_grad(np.ones((1, 1, 1, 6)), np.ones((1, 1, 1, 2)), (1, 1, 1, 3), (1, 1, 1, 3), "VALID")
    assert dx.ravel().tolist() == [1, 0, 0, 1, 0, 0]


# ---- 3. threads and ISAs: bitwise the same -------------------------------------------------

def all_ops(x):
    """Every pooling kernel, forward and backward, on x (N, H, W, C), C divisible by 3: large
    enough to cross POOL_PAR_MIN and, for C > 128, to split channels into blocks."""
    N, H, W, C = x.shape
    rng = np.random.default_rng(7)
    g = rng.standard_normal(x.shape).astype(np.float32)
    out = {}
    for name, ksize, strides, pad in [("3s2same", 3, 2, "SAME"), ("2s2valid", 2, 2, "VALID"),
                                      ("3s1explicit", 3, 1, [[0, 0], [1, 2], [2, 0], [0, 0]])]:
        out["max " + name] = y = max_pool(x, ksize, strides, pad)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        out["max grad " + name] = max_pool_grad(x, gy, ksize, strides, pad)
        out["avg " + name] = avg_pool(x, ksize, strides, pad)
        out["avg grad " + name] = avg_pool_grad(x.shape, gy, ksize, strides, pad)
    out["gmax"] = global_max_pool(x)
    out["gmax grad"] = global_max_pool_grad(x, g[:, 0, 0])
    out["gavg"] = global_avg_pool(x)
    out["gavg grad"] = global_avg_pool_grad(x.shape, g[:, 0, 0])
    out["depth"] = max_pool(x, (1, 1, 1, 3), (1, 1, 1, 3), "VALID")
    out["depth grad"] = max_pool_grad(x, g[..., :C // 3], (1, 1, 1, 3), (1, 1, 1, 3), "VALID")
    return out


@pytest.fixture
def restore_config():
    threads, isa = pyconv.get_num_threads(), _kernels.isa_active()
    yield
    pyconv.set_num_threads(threads)
    _kernels.set_isa(isa)


@pytest.mark.parametrize("shape", [(2, 17, 19, 195), (1, 30, 31, 6), (5, 9, 9, 3)])
def test_thread_counts_bitwise_equal(shape, each_thread_count):
    x = np.random.default_rng(8).integers(-3, 4, size=shape).astype(np.float32)  # with ties
    x += np.random.default_rng(9).standard_normal(shape).astype(np.float32) * (np.arange(shape[3]) % 2)
    (_, one), *others = [(n, all_ops(x)) for n in each_thread_count()]
    for n, other in others:
        for k in one:
            assert_bitwise(other[k], one[k], f"{k}, {n} threads vs 1, shape {shape}")


@pytest.mark.parametrize("shape", [(2, 9, 10, 6), (2, 17, 19, 195)])
def test_every_isa_gives_the_same_bits(shape, restore_config):
    """Max/avg pooling's loops are compiled once per ISA (pool2d_loops.h): same bits, with ties,
    NaN, channels past a vector's width and past a channel block (195 > POOL_CB)."""
    isas = _kernels.isas_available()
    rng = np.random.default_rng(10)
    x = (rng.integers(-3, 4, size=shape) + rng.standard_normal(shape) * (np.arange(shape[3]) % 2)).astype(np.float32)
    x[0, 1, 2, 1] = np.nan
    _kernels.set_isa("generic")
    base = all_ops(x)
    for isa in isas:
        _kernels.set_isa(isa)
        for k, v in all_ops(x).items():
            assert_bitwise(v, base[k], f"{k} with ISA {isa} vs generic")


# ---- the public API --------------------------------------------------------------------------

def test_aliases_and_argument_forms():
    x = np.random.default_rng(11).standard_normal((2, 6, 5, 3)).astype(np.float32)
    y = max_pool(x, 2, 2, "VALID")
    for ksize, strides in [((2, 2), (2, 2)), ([2], [2]), ((1, 2, 2, 1), (1, 2, 2, 1)),
                           (np.array([2, 2]), np.array([1, 2, 2, 1]))]:
        assert_bitwise(max_pool2d(x, ksize, strides, "valid"), y, f"ksize={ksize!r}")
    assert max_pool2d is max_pool and avg_pool2d is avg_pool
    assert_bitwise(avg_pool(x, 3, 2, "same"), avg_pool(x, 3, 2, "SAME"), "padding case")
    # Explicit padding all zero is VALID; explicit equal to SAME's padding is SAME.
    assert_bitwise(max_pool(x, 2, 2, [[0, 0], [0, 0], [0, 0], [0, 0]]), y, "explicit zero")
    assert_bitwise(avg_pool(x, 3, 2, ((0, 0), (0, 1), (1, 1), (0, 0))),
                   avg_pool(x, 3, 2, "SAME"), "explicit = SAME")
    assert max_pool(x, (2, 3), (1, 2), "VALID", data_format=None, name="p").shape == (2, 5, 2, 3)


def test_tutorial_depthwise_pooling():
    images = np.random.default_rng(12).random((2, 8, 8, 3)) * 255   # float64 RGB
    y = max_pool(images, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="valid")
    assert y.shape == (2, 8, 8, 1) and y.dtype == np.float32
    assert_bitwise(y, images.astype(np.float32).max(axis=3, keepdims=True), "tutorial")
    assert_bitwise(max_pool(images, (1, 1, 1, 3), (1, 1, 1, 3), "SAME"), y, "SAME = VALID here")


def test_input_conversion_and_views():
    rng = np.random.default_rng(13)
    x64 = rng.standard_normal((2, 8, 9, 4))
    view = x64[:, ::2, 1:, ::-1]                        # not contiguous, negative strides
    want = ref.max_pool(view.astype(np.float32), 2, 2, 1, 1, ((0, 0), (0, 0)))
    assert_close(max_pool(view, 2, 1, "VALID"), want, 0.0, "non-contiguous view")
    xi = rng.integers(-5, 5, size=(1, 4, 4, 2))
    assert_close(avg_pool(xi, 2, 2, "VALID"), ref.avg_pool(xi, 2, 2, 2, 2, ((0, 0), (0, 0))),
                 1e-6, "int input")
    assert_close(global_max_pool(view), ref.global_max_pool(view.astype(np.float32)), 0.0, "view")
    assert max_pool([[[[1.0]]]], 1, 1, "VALID").dtype == np.float32


def test_empty_batch():
    x = np.zeros((0, 5, 5, 3), np.float32)
    assert max_pool(x, 2, 2, "SAME").shape == (0, 3, 3, 3)
    assert avg_pool(x, 2, 2, "VALID").shape == (0, 2, 2, 3)
    assert max_pool_grad(x, np.zeros((0, 3, 3, 3)), 2, 2, "SAME").shape == (0, 5, 5, 3)
    assert avg_pool_grad((0, 5, 5, 3), np.zeros((0, 2, 2, 3)), 2, 2, "VALID").shape == (0, 5, 5, 3)
    assert global_avg_pool(x).shape == (0, 3) and global_max_pool(x).shape == (0, 3)
    assert global_avg_pool_grad((0, 5, 5, 3), np.zeros((0, 3))).shape == (0, 5, 5, 3)
    assert global_max_pool_grad(x, np.zeros((0, 3))).shape == (0, 5, 5, 3)
    assert max_pool(x, (1, 1, 1, 3), (1, 1, 1, 3), "VALID").shape == (0, 5, 5, 1)


def test_tape_records_the_original_argument():
    x = np.random.default_rng(14).standard_normal((2, 6, 6, 3))   # float64: converted inside
    with _tape.recording() as records:
        y = max_pool(x, 3, 2, "SAME")
        z = global_avg_pool(y)
    assert len(records) == 2 and records[0][0][0] is x
    g = np.ones_like(z)
    dx = _tape.gradient(records, z, g, x)
    want = max_pool_grad(x, global_avg_pool_grad(y.shape, g), 3, 2, "SAME")
    assert_bitwise(dx, want, "tape gradient")
    for op, grad in [(avg_pool, lambda v, g: avg_pool_grad(v.shape, g, 2, 1, "VALID")),
                     (max_pool, lambda v, g: max_pool_grad(v, g, 2, 1, "VALID"))]:
        with _tape.recording() as records:
            y = op(x, 2, 1, "VALID")
        assert_bitwise(_tape.gradient(records, y, np.ones_like(y), x),
                       grad(x, np.ones_like(y)), f"tape {op.__name__}")
    with _tape.recording() as records:
        y = global_max_pool(x)
        w = max_pool(x, (1, 1, 1, 3), (1, 1, 1, 3), "VALID")
    assert [r[0][0] is x for r in records] == [True, True]
    assert_bitwise(_tape.gradient(records, y, np.ones_like(y), x),
                   global_max_pool_grad(x, np.ones_like(y)), "tape global_max_pool")
    assert_bitwise(_tape.gradient(records, w, np.ones_like(w), x),
                   max_pool_grad(x, np.ones_like(w), (1, 1, 1, 3), (1, 1, 1, 3), "VALID"),
                   "tape depthwise")


def test_docstring_examples():
    result = doctest.testmod(_nn_pool, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ---- errors: each message pinned ------------------------------------------------------------

X = np.zeros((1, 3, 3, 6), np.float32)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: max_pool(X, (2, 2, 1, 1), 1, "VALID"), ValueError,
     r"`ksize` must be 1 at the batch axis: pooling over the batch axis is not supported.*"
     r"Received: ksize=\(2, 2, 1, 1\)\."),
    (lambda: avg_pool(X, 2, (2, 1, 1, 1), "VALID"), ValueError,
     r"`strides` must be 1 at the batch axis.*Received: strides=\(2, 1, 1, 1\)\."),
    (lambda: max_pool(X, 0, 1, "VALID"), ValueError,
     r"`ksize` must be a positive int, a tuple of 2 positive ints, or 4 positive ints NHWC\. "
     r"Received: ksize=0\."),
    (lambda: max_pool(X, 2, (1, -1), "VALID"), ValueError, r"Received: strides=\(1, -1\)\."),
    (lambda: max_pool(X, (1, 2, 3), 1, "VALID"), ValueError, r"Received: ksize=\(1, 2, 3\)\."),
    (lambda: max_pool(X, "2", 1, "VALID"), TypeError, r"`ksize` must be .* Received: ksize='2'\."),
    (lambda: max_pool(X, (2.0, 2), 1, "VALID"), TypeError, r"Received: ksize=\(2\.0, 2\)\."),
    (lambda: max_pool(X, 4, 1, "VALID"), ValueError,
     r"`ksize` must fit in the \(padded\) input: a window of 4 along the height does not fit "
     r"in 3\. Received: ksize=4, input.shape=\(1, 3, 3, 6\)\."),
    (lambda: avg_pool(X, (1, 6), 1, [[0, 0], [0, 0], [1, 1], [0, 0]]), ValueError,
     r"`ksize` must fit in the \(padded\) input: a window of 6 along the width does not fit "
     r"in 5\. Received: ksize=\(1, 6\), input.shape=\(1, 3, 3, 6\)\."),
    (lambda: max_pool(X, 2, 1, "full"), ValueError,
     r"`padding` must be 'VALID', 'SAME' \(any case\) or explicit .* Received: padding='full'\."),
    (lambda: max_pool(X, 2, 1, [[0, 0], [1, 1], [1, 1]]), ValueError,
     r"`padding` must be .* Received: padding=\[\[0, 0\], \[1, 1\], \[1, 1\]\]\."),
    (lambda: max_pool(X, 2, 1, [[0, 0], [-1, 0], [0, 0], [0, 0]]), ValueError,
     r"zero at the batch and channel axes\)\. Received: padding=\[\[0, 0\], \[-1, 0\]"),
    (lambda: max_pool(X, 2, 1, [[1, 0], [0, 0], [0, 0], [0, 0]]), ValueError,
     r"zero at the batch and channel axes\)\. Received: padding=\[\[1, 0\]"),
    (lambda: max_pool(X, 2, 1, [[0, 0], [2, 0], [0, 0], [0, 0]]), ValueError,
     r"explicit `padding` must be smaller than the window along each axis.*"
     r"Received: padding \(2, 0\) along the height for a window of 2\."),
    (lambda: max_pool(X, 2, 1, "VALID", data_format="NCHW"), ValueError,
     r"`data_format` must be 'NHWC' .* Received: data_format='NCHW'\."),
    (lambda: max_pool(X[0], 2, 1, "VALID"), ValueError,
     r"`input` must be a 4-D array\. Received: input.shape=\(3, 3, 6\)\."),
    (lambda: max_pool(X.astype(np.complex64), 2, 1, "VALID"), TypeError,
     r"`input` must be a real-valued numeric array .* Received: dtype=complex64\."),
    (lambda: avg_pool(np.array([["a"]]), 2, 1, "VALID"), TypeError, r"Received: dtype=<U1\."),
    (lambda: max_pool(np.zeros((1, 0, 3, 1)), 1, 1, "SAME"), ValueError,
     r"`input` must have a non-empty height and width\. Received: input.shape=\(1, 0, 3, 1\)\."),
    (lambda: max_pool(X, (1, 1, 1, 4), (1, 1, 1, 4), "VALID"), ValueError,
     r"depth-wise max pooling needs ksize\[3\] to divide the input depth\. "
     r"Received: ksize=\(1, 1, 1, 4\), input.shape=\(1, 3, 3, 6\)\."),
    (lambda: max_pool(X, (1, 1, 1, 3), (1, 1, 1, 2), "VALID"), ValueError,
     r"depth-wise max pooling needs strides \(1, 1, 1, k\) with k = ksize\[3\]\. "
     r"Received: ksize=\(1, 1, 1, 3\), strides=\(1, 1, 1, 2\)\."),
    (lambda: max_pool(X, (1, 2, 2, 3), (1, 1, 1, 3), "VALID"), ValueError,
     r"`ksize` may pool over the spatial axes or over the depth axis, not both\. "
     r"Received: ksize=\(1, 2, 2, 3\)\."),
    (lambda: avg_pool(X, (1, 1, 1, 3), (1, 1, 1, 3), "VALID"), ValueError,
     r"depth-wise pooling \(ksize\[3\] > 1\) is supported by max_pool only\. "
     r"Received: ksize=\(1, 1, 1, 3\) in avg_pool\."),
    (lambda: max_pool(X, 2, (1, 1, 1, 2), "VALID"), ValueError,
     r"`strides` must be 1 at the channel axis .* Received: strides=\(1, 1, 1, 2\)\."),
    (lambda: max_pool(X, (1, 1, 1, 3), (1, 1, 1, 3), [[0, 0], [1, 0], [0, 0], [0, 0]]),
     ValueError, r"depth-wise max pooling takes no spatial padding\. Received: padding=\[\[0, 0\], \[1, 0\]"),
    (lambda: max_pool_grad(X, np.zeros((1, 2, 2, 5)), 2, 1, "VALID"), ValueError,
     r"`out_backprop` must have the shape of the pooled output \(1, 2, 2, 6\)\. "
     r"Received: out_backprop.shape=\(1, 2, 2, 5\)\."),
    (lambda: avg_pool_grad((1, 3, 3), np.zeros((1, 2, 2, 6)), 2, 1, "VALID"), ValueError,
     r"`input_sizes` must be 4 non-negative ints \(N, H, W, C\)\. Received: input_sizes=\(1, 3, 3\)\."),
    (lambda: avg_pool_grad((1, 3, 3, -6), np.zeros((1, 2, 2, 6)), 2, 1, "VALID"), ValueError,
     r"Received: input_sizes=\(1, 3, 3, -6\)\."),
    (lambda: global_avg_pool(np.zeros((2, 0, 4, 3))), ValueError,
     r"`input` must have a non-empty height and width for global pooling\. "
     r"Received: input.shape=\(2, 0, 4, 3\)\."),
    (lambda: global_max_pool_grad(X, np.zeros((1, 5))), ValueError,
     r"`out_backprop` must have the shape of the pooled output \(1, 6\)\. "
     r"Received: out_backprop.shape=\(1, 5\)\."),
    (lambda: global_avg_pool_grad((1, 3, 0, 6), np.zeros((1, 6))), ValueError,
     r"`input_sizes` must have a non-empty height and width for global pooling"),
    (lambda: _kernels.maxpool2d_fwd(X, Window(3, 3, 2, 2, 1, 1, 1, 1, 2, 0)), ValueError,
     r"pool2d: every pooling window must hold at least one input element"),
    (lambda: _kernels.depthwise_maxpool2d_fwd(X, 4), ValueError,
     r"the depth window must divide the input depth\. Received: depth window=4"),
])
def test_error_messages(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("ref", [False, True], ids=["fast", "ref"])
@pytest.mark.parametrize("ksize, strides, padding", [
    (2, 2, "VALID"), (3, 2, "VALID"), (2, 2, "SAME"), (3, 1, "SAME"), ((2, 3), (2, 3), "VALID")])
def test_max_pool_grad_relu_mask_is_relu_grad_after(isa, ref, ksize, strides, padding):
    """relu_mask folds relu's backward into max pooling's: bitwise relu_grad(max_pool_grad)."""
    rng = np.random.default_rng(3)
    x = np.maximum(rng.standard_normal((2, 7, 9, 5)), 0).astype(np.float32)   # a relu output
    x[0, :3] = 0.0                      # whole windows of zeros: nothing may flow there
    y = max_pool(x, ksize, strides, padding)
    g = rng.standard_normal(y.shape).astype(np.float32)
    geom = _nn_pool._Pool(x.shape, ksize, strides, padding, None, "max_pool_grad").geom
    want = _kernels.relu_bwd(_kernels.maxpool2d_bwd(g, x, geom, ref=ref), x)
    got = _kernels.maxpool2d_bwd(g, x, geom, ref=ref, relu_mask=True)
    assert np.array_equal(got, want)
