"""The blocked GEMM and dense forward/backward against float64 references, on every ISA."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from pyconv import _kernels, nn
from reference import assert_sum_close, dense as dense_ref, dense_grads

# Edges: MR +- 1 and NR +- 1 of every ISA (4/6/8 rows, 8/16/32 columns), KC = 320 +- 1 and
# depths cut into several equal blocks (blocking.h, gemm.c's depth_block).
@settings(max_examples=60)
@given(M=st.integers(0, 40), N=st.integers(0, 70), K=st.integers(0, 700))
@example(M=1, N=1, K=1).via("edge")
@example(M=11, N=31, K=257).via("edge")
@example(M=13, N=33, K=321).via("edge: KC + 1, two blocks of 161 and 160")
@example(M=12, N=32, K=320).via("edge: KC, one block")
@example(M=7, N=9, K=961).via("edge: four blocks")
@example(M=13, N=33, K=256).via("edge")
@example(M=5, N=17, K=7).via("edge")
@example(M=9, N=31, K=5).via("edge")
@example(M=7, N=15, K=9).via("edge")
@example(M=145, N=9, K=3).via("edge")
@example(M=3, N=0, K=5).via("edge")
@example(M=3872, N=64, K=288).via("conv2 forward at batch 32: 27 row blocks, balanced as 28")
@example(M=700, N=40, K=20).via("5 row blocks of MC: re-cut into tiles per thread")
@pytest.mark.parametrize("ref", [False, True], ids=["fast", "ref"])
def test_gemm(isa, ref, M, N, K):
    rng = np.random.default_rng(M * 1000 + N)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = _kernels.gemm(a, b, ref)
    expected = a.astype(np.float64) @ b
    assert_sum_close(c, expected, abs(a).astype(np.float64) @ abs(b), K, "gemm")


# The spine (gemm.c's sgemm_blocked): the five loops on plain matrices, one thread. Edges: the
# depth cut (KC + 1, several blocks), MC + 1 rows (two A blocks on every ISA), NC + 4 columns
# (two B panels), the empty product and the empty sum.
@settings(max_examples=60)
@given(M=st.integers(0, 40), N=st.integers(0, 70), K=st.integers(0, 700))
@example(M=13, N=33, K=321).via("edge: KC + 1, two blocks of 161 and 160")
@example(M=7, N=9, K=961).via("edge: four blocks")
@example(M=145, N=9, K=3).via("edge: MC + 1 rows")
@example(M=300, N=70, K=700).via("edge: B got whole, 3 depth blocks inside each task")
@example(M=3, N=4100, K=5).via("edge: NC + 4 columns")
@example(M=3, N=0, K=5).via("edge: empty product")
@example(M=3, N=4, K=0).via("edge: empty sum, C = 0")
def test_gemm_blocked(isa, M, N, K):
    """The spine against float64, and bitwise the fast driver: the same depth cut and the same
    micro-kernel give every element the same sum in the same order."""
    rng = np.random.default_rng(M * 1000 + N)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = _kernels.gemm(a, b, blocked=True)
    expected = a.astype(np.float64) @ b
    assert_sum_close(c, expected, abs(a).astype(np.float64) @ abs(b), K, "gemm spine")
    fast = _kernels.gemm(a, b)
    assert np.array_equal(c, fast), f"spine vs fast: largest difference {np.abs(c - fast).max()}"


# dense_forward_rows (csrc/dense_loops.h): a batch of at most dense_rows_max() rows, W read in
# place; DENSE_COLS = 64 columns a block (64 +- 1: a tail block), split over threads from 1 MFLOP.
@settings(max_examples=40)
@given(N=st.integers(0, 4), C=st.integers(0, 300), K=st.integers(1, 200), relu=st.booleans())
@example(N=1, C=784, K=128, relu=True).via("tutorial DNN dense at batch 1")
@example(N=1, C=576, K=64, relu=True).via("tutorial CNN dense at batch 1: one whole block")
@example(N=1, C=64, K=10, relu=False).via("tutorial CNN output: a tail block only")
@example(N=4, C=1000, K=130, relu=True).via("3 blocks over 2 threads: 2 N C K >= 1e6")
@example(N=3, C=5, K=65, relu=False).via("edge: a block and a 1-column tail")
@example(N=2, C=0, K=63, relu=True).via("edge: an empty sum, bias only")
def test_dense_rows(isa, each_thread_count, N, C, K, relu):
    rng = np.random.default_rng(N * 1000 + C * 7 + K)
    x = rng.standard_normal((N, C)).astype(np.float32)
    w = rng.standard_normal((C, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    outs = [_kernels.dense_fwd(x, w, b, relu, rows=True) for _ in each_thread_count()]
    y = outs[0]
    for other in outs[1:]:
        np.testing.assert_array_equal(other, y)   # the same bits on every thread count
    np.testing.assert_array_equal(_kernels.dense_fwd(x, w, b, relu), y)   # dense_forward takes it
    e = dense_ref(x, w, b)
    if relu:   # relu(e) is within the same bound of relu(y), and e ~ 0 can flip sign
        e = np.maximum(e, 0)
    assert_sum_close(y, e, abs(x).astype(np.float64) @ abs(w) + abs(b), C + 1, "dense_forward_rows")
    y0 = _kernels.dense_fwd(x, w, None, False, rows=True)   # no bias: the sums alone
    assert_sum_close(y0, dense_ref(x, w, np.zeros(K)), abs(x).astype(np.float64) @ abs(w), C, "no bias")


def test_dense_rows_is_the_same_on_every_isa_and_keeps_nan(rng):
    x = rng.standard_normal((3, 300)).astype(np.float32)
    w = rng.standard_normal((300, 100)).astype(np.float32)
    b = rng.standard_normal(100).astype(np.float32)
    w[5, 7] = np.nan   # column 7 is NaN in every row: relu keeps it
    before = _kernels.isa_active()
    try:
        got = []
        for isa in _kernels.isas_available():   # no FMA contraction anywhere: the same bits
            _kernels.set_isa(isa)
            got.append(_kernels.dense_fwd(x, w, b, True, rows=True))
    finally:
        _kernels.set_isa(before)
    for g in got[1:]:
        np.testing.assert_array_equal(g, got[0])
    assert np.isnan(got[0][:, 7]).all() and not np.isnan(np.delete(got[0], 7, axis=1)).any()


def test_dense_rows_refuses_a_big_batch():
    n = _kernels.dense_rows_max() + 1
    with pytest.raises(ValueError, match=f"at most {n - 1} rows. Received: x.shape=\\({n}, 3\\)"):
        _kernels.dense_fwd(np.ones((n, 3), np.float32), np.ones((3, 2), np.float32), rows=True)


@settings(max_examples=40)
@given(N=st.integers(1, 40), C=st.integers(1, 80), K=st.integers(1, 40), relu=st.booleans())
@example(N=32, C=576, K=64, relu=True).via("tutorial dense1")
@example(N=32, C=784, K=128, relu=True).via("tutorial DNN dense")
@pytest.mark.parametrize("ref", [False, True], ids=["fast", "ref"])
def test_dense(isa, ref, N, C, K, relu):
    rng = np.random.default_rng(N * 7 + C)
    x = rng.standard_normal((N, C)).astype(np.float32)
    w = rng.standard_normal((C, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    y = _kernels.dense_fwd(x, w, b, relu, ref)
    e = dense_ref(x, w, b)
    bound = abs(x).astype(np.float64) @ abs(w) + abs(b)
    if relu:   # relu(e) is within the same bound of relu(y), and e ~ 0 can flip sign
        e = np.maximum(e, 0)
    assert_sum_close(y, e, bound, C + 1, "dense forward")
    g = rng.standard_normal((N, K)).astype(np.float32)
    dx, dw, db = _kernels.dense_bwd(g, x, w, True, True, ref)
    ex, ew, eb = dense_grads(x, w, g)
    ax, aw, ab = dense_grads(abs(x), abs(w), abs(g))
    assert_sum_close(dx, ex, ax, K, "dx")
    assert_sum_close(dw, ew, aw, N, "dw")
    assert_sum_close(db, eb, ab, N, "db")


@settings(max_examples=30)
@given(N=st.integers(5, 70), C=st.integers(1, 800), panels=st.integers(1, 4), relu=st.booleans())
@example(N=16, C=576, panels=2, relu=True).via("the tutorial CNN's dense in a chunk of 16: W in place")
@example(N=128, C=784, panels=4, relu=True).via("the DNN's first layer in a chunk of 128")
def test_dense_w_in_place_is_bitwise_w_packed(isa, each_thread_count, N, C, panels, relu):
    """dense_forward_form: W read in place -- through row pointers (x packed) or as strided
    panels (x through row pointers) -- gives the bits of W packed (x read in place) on every
    thread count, and dense_forward takes one of them."""
    K = panels * _kernels.gemm_tile()[1]
    rng = np.random.default_rng(N * 1000 + C)
    x = rng.standard_normal((N, C)).astype(np.float32)
    w = rng.standard_normal((C, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    outs = [tuple(_kernels.dense_fwd(x, w, b, relu, form=f) for f in (0, 1, 2))
            for _ in each_thread_count()]
    for packed, *in_place in outs:
        for form, got in enumerate(in_place, 1):
            d = np.abs(packed.astype(np.float64) - got)
            assert np.array_equal(packed, got), \
                f"form {form}: largest difference {d.max()} at {np.unravel_index(d.argmax(), d.shape)}"
        np.testing.assert_array_equal(packed, outs[0][0])
    np.testing.assert_array_equal(_kernels.dense_fwd(x, w, b, relu), outs[0][0])
    e = dense_ref(x, w, b)
    if relu:
        e = np.maximum(e, 0)
    assert_sum_close(outs[0][1], e, abs(x).astype(np.float64) @ abs(w) + abs(b), C + 1, "W in place")


def test_dense_threads_bitwise(isa, each_thread_count, rng):
    x = rng.standard_normal((32, 576)).astype(np.float32)
    w = rng.standard_normal((576, 64)).astype(np.float32)
    g = rng.standard_normal((32, 64)).astype(np.float32)
    out = []
    for _ in each_thread_count():
        out.append((nn.dense(x, w), *nn.dense_grad(g, x, w)))
    for o in out[1:]:
        for a, b in zip(out[0], o):
            assert np.array_equal(a, b)


def test_gemm_threads_bitwise(isa, each_thread_count, rng):
    """Row blocks are re-cut for the thread count (whole MR tiles, equal shares): the sums'
    order, hence every bit, stays the same for every thread count."""
    a = rng.standard_normal((3872, 288)).astype(np.float32)
    b = rng.standard_normal((288, 64)).astype(np.float32)
    out = []
    for _ in each_thread_count():
        out.append(_kernels.gemm(a, b, False))
    for o in out[1:]:
        assert np.array_equal(out[0], o)


def test_dense_errors():
    with pytest.raises(ValueError, match=r"`x` \(N, C\), `kernel` \(C, K\) and `bias` \(K,\) must match"):
        nn.dense(np.zeros((2, 3)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"`kernel` must be a 2-D array"):
        nn.dense(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(TypeError, match=r"`x` must be a real-valued numeric array"):
        nn.dense(np.array([["a"]]), np.zeros((1, 1)))


@pytest.mark.parametrize("need_dx", [True, False])
def test_dense_backward_with_relu_mask_is_relu_backward_then_dense_backward(isa, rng, need_dx):
    """A Dense with activation="relu" hands relu's output to dense_bwd, which masks the
    gradient itself: bitwise the two calls it replaces (relu_bwd, then dense_bwd)."""
    x = rng.standard_normal((33, 70)).astype(np.float32)
    w = rng.standard_normal((70, 17)).astype(np.float32)
    y = _kernels.dense_fwd(x, w, None, True)
    y[0, :3] = [0.0, -0.0, np.float32(1e-30)]   # the mask's edges: 0 and -0 stop, tiny passes
    g = rng.standard_normal((33, 17)).astype(np.float32)
    g0 = g.copy()
    got = _kernels.dense_bwd(g, x, w, need_dx, True, False, y)
    assert np.array_equal(g, g0)   # the caller's gradient is not overwritten
    want = _kernels.dense_bwd(_kernels.relu_bwd(g, y), x, w, need_dx, True)
    for a, b in zip(got, want):
        assert (a is None and b is None) or np.array_equal(a, b)
    with pytest.raises(ValueError, match=r"`relu_out` and `out_backprop` must have the same shape"):
        _kernels.dense_bwd(g, x, w, True, True, False, y[:, :5].copy())


def test_dense_layer_relu_gradient_matches_central_differences():
    """The layer path that uses the fused mask: d(sum(dense(x) * r))/dW against central
    differences in float64 (away from relu's kink)."""
    from pyconv import layers
    layer = layers.Dense(5, activation="relu")
    x = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
    r = np.random.default_rng(4).standard_normal((4, 5)).astype(np.float32)
    layer(x)
    for seed in range(100):   # weights (fixed, not the global generator's) whose z is off the kink
        g = np.random.default_rng(seed)
        layer.set_weights([g.uniform(-1, 1, (6, 5)).astype(np.float32), g.uniform(-1, 1, 5).astype(np.float32)])
        z = x.astype(np.float64) @ layer.kernel.astype(np.float64) + layer.bias
        if np.abs(z).min() > 1e-2 and (z > 0).any() and (z < 0).any():
            break
    y, ctx = layer._fwd(x, True)
    _, (dk, db) = layer._bwd(ctx, r, False)
    k0, b0 = layer.kernel.astype(np.float64), layer.bias.astype(np.float64)
    f = lambda k, b: float((np.maximum(x.astype(np.float64) @ k + b, 0) * r).sum())
    assert np.abs(x.astype(np.float64) @ k0 + b0).min() > 1e-2
    h = 1e-6
    num = np.zeros_like(k0)
    for i in np.ndindex(k0.shape):
        e = np.zeros_like(k0)
        e[i] = h
        num[i] = (f(k0 + e, b0) - f(k0 - e, b0)) / (2 * h)
    np.testing.assert_allclose(dk, num, rtol=1e-4, atol=1e-5)
    numb = np.array([(f(k0, b0 + h * np.eye(5)[j]) - f(k0, b0 - h * np.eye(5)[j])) / (2 * h) for j in range(5)])
    np.testing.assert_allclose(db, numb, rtol=1e-4, atol=1e-5)
