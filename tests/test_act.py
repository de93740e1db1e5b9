"""Elementwise activations, softmax, bias_add and the fused softmax cross-entropy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from pyconv import _tape, nn
from reference import assert_close, numeric_grad, softmax as softmax_ref, sparse_xent

floats = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=9),
                    elements=st.floats(-30, 30, width=32))


@settings(max_examples=50)
@given(x=floats)
def test_activations(x):
    x64 = x.astype(np.float64)
    assert np.array_equal(nn.relu(x), np.maximum(x, 0))
    assert_close(nn.sigmoid(x), 1 / (1 + np.exp(-x64)), 2e-7, 1e-7, "sigmoid")
    assert_close(nn.tanh(x), np.tanh(x64), 2e-7, 1e-7, "tanh")
    assert_close(nn.softmax(x), softmax_ref(x64), 1e-6, 1e-7, "softmax")
    g = np.linspace(-1, 1, x.size, dtype=np.float32).reshape(x.shape)
    assert np.array_equal(nn.relu_grad(g, nn.relu(x)), np.where(x > 0, g, 0))
    s = 1 / (1 + np.exp(-x64))
    assert_close(nn.sigmoid_grad(g, nn.sigmoid(x)), g * s * (1 - s), 1e-6, 1e-7, "sigmoid'")
    assert_close(nn.tanh_grad(g, nn.tanh(x)), g * (1 - np.tanh(x64) ** 2), 1e-6, 1e-7, "tanh'")


@pytest.mark.parametrize("shape", [(1, 10), (257, 10), (5, 1500), (4000, 10), (3, 4, 7)])
def test_softmax_kernel_vs_ref_and_thread_counts(shape, rng, each_thread_count):
    """softmax_fwd's exp_k (act.c, blocks of rows) against its _ref (the C library's expf), each
    value within (C + 4) ulps relative (exp_k 1.3 ulps, expf 0.5, a sum of C terms rounding
    apart at each add: kernel_check's bound) and within the float64 bound of test_activations;
    the same bits at every thread count (4000 x 10 is above ELEMWISE_PAR_MIN: threads split
    its blocks), and a row's bits do not depend on the rows beside it (row by row); against
    float64, test_activations' bound (or, for a row of 1500, its float32 sum's: C roundings)."""
    from pyconv import _kernels
    x = (rng.standard_normal(shape) * 8).astype(np.float32)
    C = shape[-1]
    ref = _kernels.softmax_fwd(x, True)
    x64 = x.astype(np.float64)
    first = None
    for _ in each_thread_count():
        got = _kernels.softmax_fwd(x)
        first = got if first is None else first
        assert np.array_equal(got, first)
    assert_close(first, ref, (C + 4) * 2 * 2.0 ** -24, 1e-38, "softmax vs _ref")
    # test_activations' bound, or for a long row that of its float32 sum of C terms
    assert_close(first, softmax_ref(x64), max(1e-6, 2 * C * 2.0 ** -24), 1e-7, "softmax vs float64")
    rows = x.reshape(-1, C)
    assert np.array_equal(np.concatenate([_kernels.softmax_fwd(r[None]) for r in rows[:300]]),
                          first.reshape(-1, C)[:300])


def test_softmax_kernel_nonfinite():
    """NaN or +inf in a row: the row is NaN, as the _ref's; -inf gives 0 and a value 200 below
    the max underflows to 0 in both."""
    from pyconv import _kernels
    x = np.array([[0, np.nan, 1], [np.inf, 0, 1], [-np.inf, 0, 1], [-200, 0, 0]], np.float32)
    got, ref = _kernels.softmax_fwd(x), _kernels.softmax_fwd(x, True)
    assert np.isnan(got[:2]).all() and np.isnan(ref[:2]).all()
    assert np.array_equal(got[2:, 0], [0, 0]) and np.array_equal(ref[2:, 0], [0, 0])
    assert_close(got[2:], ref[2:], 4 * 2.0 ** -24, 0, "softmax finite rows")


def test_softmax_grad_finite_differences(rng):
    z = rng.standard_normal((3, 5))
    g = rng.standard_normal((3, 5))
    num = numeric_grad(lambda v: (softmax_ref(v) * g).sum(), z)
    assert_close(nn.softmax_grad(g, nn.softmax(z)), num, 1e-5, 1e-6, "softmax grad")


def test_sparse_xent_and_grad(rng):
    z = rng.standard_normal((6, 10)) * 5
    y = rng.integers(0, 10, 6)
    loss, grad = sparse_xent(y, z)
    assert_close(nn.sparse_softmax_cross_entropy_with_logits(y, z), loss, 1e-5, 1e-6, "loss")
    l2, g2 = nn.sparse_softmax_cross_entropy_with_logits_grad(y, z)
    assert_close(l2, loss, 1e-5, 1e-6, "loss")
    assert_close(g2, grad, 1e-6, 1e-6, "dlogits")
    num = numeric_grad(lambda v: sparse_xent(y, v)[0].sum(), z)
    assert_close(grad, num, 1e-5, 1e-6, "reference gradient")


def test_sparse_xent_stable_for_large_logits():
    z = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]], np.float32)
    loss, grad = nn.sparse_softmax_cross_entropy_with_logits_grad(np.array([0, 2]), z)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert_close(loss, [0.0, np.log(2)], 1e-6, 1e-6, "loss")


def test_sparse_xent_label_errors():
    with pytest.raises(ValueError, match=r"`labels` must be in \[0, 3\) for 3 classes. Received: a label 3"):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([0, 3]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"`labels` must have shape \(batch,\)"):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([0]), np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"`labels` must be integer class indices"):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([0.5, 1.0]), np.zeros((2, 3)))


def test_bias_add(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    assert np.array_equal(nn.bias_add(x, b), x + b)
    assert_close(nn.bias_add_grad(x), x.astype(np.float64).sum((0, 1)), 1e-6, 1e-6, "db")
    with pytest.raises(ValueError, match=r"`bias` must have as many elements"):
        nn.bias_add(x, np.zeros(3))


def test_tape_through_ops(rng):
    """Gradients flow through a chain of nn ops recorded on the tape."""
    x = rng.standard_normal((2, 6, 6, 3))
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    g = rng.standard_normal((2, 4, 4, 4)).astype(np.float32)

    def f(v):
        return nn.tanh(nn.relu(nn.conv2d(v, w)))
    with _tape.recording() as recs:
        y = f(x)
    dx = _tape.gradient(recs, y, g, x)
    num = numeric_grad(lambda v: float((f(v).astype(np.float64) * g).sum()), x, eps=1e-3)
    assert_close(dx, num, 2e-2, 2e-3, "tape gradient")


def test_sparse_xent_kernel_scale_and_refusal(rng):
    """The kernel scales the gradient in its own pass (bitwise (softmax - onehot) * scale, as
    NumPy would do after it) and refuses out-of-range labels itself: never an out-of-bounds read."""
    from pyconv import _kernels
    z = (rng.standard_normal((5, 4)) * 3).astype(np.float32)
    y = np.array([0, 3, 1, 2, 3], np.int32)
    loss, g = _kernels.softmax_xent(z, y, True)
    loss2, g2 = _kernels.softmax_xent(z, y, True, 1.0 / 5)
    assert np.array_equal(loss, loss2) and np.array_equal(g2, g * np.float32(1.0 / 5))
    for bad in (4, -1, 2**31 - 1):
        with pytest.raises(ValueError, match=r"`labels` must be in \[0, 4\) for 4 classes"):
            _kernels.softmax_xent(z, np.array([0, 1, bad, 2, 3], np.int32), True)
