"""The first layer's filter gradient straight from the max pooling above it
(_kernels.conv2d_bwd_filter_pooled, csrc/conv2d_smallc_loops.h): bitwise the two passes it
replaces (maxpool2d_bwd, then conv2d_bwd_filter) on every ISA and thread count, against the
float64 references (pooling's gradient, then the convolution's), ties and relu's zeros included;
None where its conditions do not hold; and in training (POOL_DEFER, pyconv/_graph.py) the same
weights as without it, planned only where it is exact."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from pyconv import _geometry, _graph, _kernels, _nn_pool, layers, models, utils
from ref_pool import max_pool_grad, same_pads
from reference import assert_sum_close, conv2d, conv2d_grads


def _case(N, H, W, C, K, R, stride, pool, pad, pool_pad, relu, ties, seed):
    """Inputs, filters, the conv's Window, its output y, the pooling's Window and dout, and
    the pooling's padding used."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((R, R, C, K)).astype(np.float32)
    win = _geometry.conv_window(x.shape, (R, R), (stride, stride), (1, 1), pad)
    y = _kernels.conv2d_fwd(x, w, None, relu, win)
    if ties:   # few distinct values: windows with equal maxima (and, under relu, all zeros)
        y = np.round(y).astype(np.float32)
    if y.shape[1] < pool[0] or y.shape[2] < pool[1]:
        pool_pad = "same"   # a valid window would not fit
    pwin = _nn_pool._Pool(y.shape, pool, pool, pool_pad.upper(), None, "max_pool").geom
    P, Q = pwin.P, pwin.Q
    dy = rng.standard_normal((N, P, Q, K)).astype(np.float32)
    return x, w, win, y, pwin, dy, pool_pad


def _two_passes(x, w, win, y, pwin, dy, relu):
    d = _kernels.maxpool2d_bwd(dy, y, pwin, relu_mask=relu)
    return _kernels.conv2d_bwd_filter(x, w.shape, d, win, True)


cases = st.fixed_dictionaries(dict(
    N=st.integers(1, 3), H=st.integers(4, 13), W=st.integers(4, 13), C=st.sampled_from([1, 2, 3]),
    K=st.sampled_from([1, 5, 16, 17, 32, 40]), R=st.sampled_from([1, 2, 3]),
    stride=st.sampled_from([1, 2]), pool=st.sampled_from([(2, 2), (3, 3), (2, 3), (1, 2)]),
    pad=st.sampled_from(["valid", "same"]), pool_pad=st.sampled_from(["valid", "same"]),
    relu=st.booleans(), ties=st.booleans(), seed=st.integers(0, 2**16)))


@given(case=cases)
@example(case=dict(N=2, H=28, W=28, C=1, K=32, R=3, stride=1, pool=(2, 2), pad="valid",
                   pool_pad="valid", relu=True, ties=False, seed=0)).via("the tutorial's first layer")
@example(case=dict(N=1, H=9, W=9, C=3, K=17, R=3, stride=1, pool=(2, 2), pad="valid",
                   pool_pad="valid", relu=True, ties=True, seed=1)).via("odd size: a row in no window")
@example(case=dict(N=1, H=8, W=8, C=1, K=16, R=3, stride=1, pool=(3, 3), pad="same",
                   pool_pad="same", relu=False, ties=True, seed=2)).via("padded windows")
def test_pooled_filter_grad_is_the_two_passes(isa, case):
    x, w, win, y, pwin, dy, pool_pad = _case(**case)
    if pwin.P == 0 or pwin.Q == 0:
        return
    relu = case["relu"]
    got = _kernels.conv2d_bwd_filter_pooled(x, w.shape, y, win, dy, pwin, relu, True)
    want = _two_passes(x, w, win, y, pwin, dy, relu)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    # the _ref twin and the float64 references: pooling's gradient, then the convolution's
    pads = [same_pads(n, p, p)[1] if pool_pad == "same" else (0, 0)
            for n, p in zip(y.shape[1:3], case["pool"])]
    d = max_pool_grad(y, dy.astype(np.float64), *case["pool"], *case["pool"], pads)
    if relu:
        d = d * (y > 0)
    _, dw = conv2d_grads(x, w, d, (case["stride"],) * 2, (1, 1), case["pad"])
    _, dw_abs = conv2d_grads(abs(x), abs(w), abs(d), (case["stride"],) * 2, (1, 1), case["pad"])
    depth = y.shape[0] * y.shape[1] * y.shape[2]
    for ref in (False, True):
        r = got if not ref else _kernels.conv2d_bwd_filter_pooled(x, w.shape, y, win, dy, pwin, relu,
                                                                  True, ref=True)
        assert_sum_close(r[0], dw, dw_abs, depth, "dfilters")
        assert_sum_close(r[1], d.sum(axis=(0, 1, 2)), abs(d).sum(axis=(0, 1, 2)), depth, "dbias")


def test_pooled_filter_grad_any_thread_count(each_thread_count):
    """Bitwise the same for 1, 2, 3, 8 and 16 threads, on enough pixels for several chunks."""
    x, w, win, y, pwin, dy, pool_pad = _case(16, 28, 28, 1, 32, 3, 1, (2, 2), "valid", "valid", True, False, 3)
    results = [_kernels.conv2d_bwd_filter_pooled(x, w.shape, y, win, dy, pwin, True, True)
               for _ in each_thread_count()]
    for r in results[1:]:
        assert np.array_equal(r[0], results[0][0]) and np.array_equal(r[1], results[0][1])
    want = _two_passes(x, w, win, y, pwin, dy, True)
    assert np.array_equal(results[0][0], want[0])


def test_pooled_filter_grad_declines_what_it_cannot_do():
    """None (the caller runs the two passes) for 8 or more input channels (the GEMM's layer) or
    overlapping windows; a ValueError naming the arrays for shapes that do not match."""
    x, w, win, y, pwin, dy, pool_pad = _case(1, 10, 10, 8, 16, 3, 1, (2, 2), "valid", "valid", True, False, 4)
    assert _kernels.conv2d_bwd_filter_pooled(x, w.shape, y, win, dy, pwin, True) is None
    x, w, win, y, _, _, _ = _case(1, 10, 10, 1, 16, 3, 1, (2, 2), "valid", "valid", True, False, 5)
    overlap = _nn_pool._Pool(y.shape, (3, 3), (2, 2), "VALID", None, "max_pool").geom
    dy = np.ones((1, overlap.P, overlap.Q, 16), np.float32)
    assert _kernels.conv2d_bwd_filter_pooled(x, w.shape, y, win, dy, overlap, True) is None
    with pytest.raises(ValueError, match="output"):
        _kernels.conv2d_bwd_filter_pooled(x, w.shape, y[:, :, :, :8], win, dy, overlap, True)


def _train(build, fuse, steps=3):
    """Weights after `steps` Adam steps, with POOL_DEFER planned or not."""
    defer = _graph.Plan.__dict__["_defer_pool_grads"]   # the staticmethod itself
    if not fuse:
        _graph.Plan._defer_pool_grads = staticmethod(lambda steps, by_out: None)
    try:
        utils.set_random_seed(7)
        m = build()
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        x = rng.random((40,) + m.inputs[0].shape[1:]).astype(np.float32)
        y = rng.integers(0, 10, 40)
        for _ in range(steps):
            m.train_on_batch(x, y)
        flags = [[s.fuse & _graph.POOL_DEFER for s in p.steps] for p in m._plans.values()]
        return m.get_weights(), flags
    finally:
        _graph.Plan._defer_pool_grads = defer


def _tutorial():
    return models.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                              layers.MaxPooling2D(2), layers.Conv2D(16, 3, activation="relu"),
                              layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10, activation="softmax")])


def test_training_with_the_fused_gradient_is_bitwise_the_same():
    fused, flags = _train(_tutorial, True)
    plain, off = _train(_tutorial, False)
    assert all(np.array_equal(a, b) for a, b in zip(fused, plain))
    assert [f for f in flags if any(f)] == [[0, 32, 0, 0, 0, 0]]   # the first pooling only
    assert not any(any(f) for f in off)


def test_fused_gradient_planned_only_where_exact():
    """Not when the conv's output has another reader, the conv has a non-relu activation, the
    pooling's windows overlap, or the input's gradient is asked for."""
    def branched():
        i = layers.Input((12, 12, 1))
        c = layers.Conv2D(8, 3, activation="relu")(i)
        p = layers.Flatten()(layers.MaxPooling2D(2)(c))
        return models.Model(i, layers.Dense(10, activation="softmax")(
            layers.Concatenate()([p, layers.Flatten()(c)])))

    def tanh():
        return models.Sequential([layers.Input((12, 12, 1)), layers.Conv2D(8, 3, activation="tanh"),
                                  layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10, activation="softmax")])

    def overlapping():
        return models.Sequential([layers.Input((12, 12, 1)), layers.Conv2D(8, 3, activation="relu"),
                                  layers.MaxPooling2D(3, strides=2), layers.Flatten(),
                                  layers.Dense(10, activation="softmax")])

    for build in (branched, tanh, overlapping):
        _, flags = _train(build, True, steps=1)
        assert not any(any(f) for f in flags), build.__name__
    m = _tutorial()
    plan = m._plan((), inputs_need_grad=True)
    assert not any(s.fuse & _graph.POOL_DEFER for s in plan.steps)


def test_bench_pooled_grad_runs(capsys, threads):   # threads: restores the count it sets
    """python -m bench.pooled_grad's rows (docs/benchmarks.md's command), on a tiny run."""
    from bench import pooled_grad
    pooled_grad.main(["--batch", "4", "--threads", "1", "--rounds", "2", "--steps", "1"])
    out = capsys.readouterr().out
    assert out.count("| kernels, ") == 2 and "| training step (pairs: " in out
