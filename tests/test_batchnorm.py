"""Tests of csrc/batchnorm.c and pyconv/layers/normalization.py (BatchNormalization).

The chain of trust:
  1. tests/reference.py's float64 batch norm: its gradients are checked by central finite
     differences (float64, so 1e-6 agreement).
  2. The C kernels and their `_ref` twins are checked against it on shapes drawn by hypothesis
     (M = N*H*W rows, C channels: C not a multiple of the vector width, M = 1, M = BN_BLOCK +- 1,
     large M), and against each other: forward BITWISE (same op order), stats and backward to one
     float32 rounding (both sum in double, grouped differently). Thread counts 1, 2, 3 and every
     ISA this CPU has (the loops are compiled once per ISA): bitwise the same.
  3. The layer: finite differences through `_fwd`/`_bwd`, Keras 3.15.1's own numbers, the moving
     statistics written once per step inside the step's commit, saving, errors.

Tolerances against float64 (u = 2**-24): the sums run in double and are rounded once, so a
statistic is within ~u of its value (plus (M+2)*2**-53 of its terms' magnitudes for the double
sum itself). y = x*scale + shift rounds twice and inherits scale's and shift's roundings and the
statistics': within 8u of |x*scale| + |shift| + |mean*scale|. dx = k*((dy - mb) - xhat*mg)
rounds five times on terms of size |k|*(|dy| + |mb| + |xhat*mg|), xhat itself carrying the
rounding of x - mean and of mean: 16u of that bound. Each a few ulps: a wrong index or formula
(errors of order 1) fails.
"""
import doctest

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import reference as ref
from pyconv import _kernels, layers, models, optimizers, utils
from pyconv.layers import normalization
from conftest import ISAS, THREAD_COUNTS
from test_layers import check_gradients

U = 2.0 ** -24
D = 2.0 ** -53
HYP = settings(max_examples=60, deadline=None)


def close(actual, expected, atol, what):
    """|actual - expected| <= atol elementwise; a failure names the largest excess and where."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    err = np.abs(a - e) - (np.asarray(atol, np.float64) + 1e-30)
    if err.size and err.max() > 0:
        i = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{what}: at {i}: actual {a[i]!r}, expected {e[i]!r}, "
                             f"|diff| {abs(a[i] - e[i]):.3g}, excess {err[i]:.3g}")


def data(M, C, seed=0, loc=0.0):
    rng = np.random.default_rng(seed)
    x = (loc + rng.standard_normal((M, C)) * rng.uniform(0.5, 3.0, C)).astype(np.float32)
    dy = rng.standard_normal((M, C)).astype(np.float32)
    gamma = rng.uniform(-2, 2, C).astype(np.float32)
    beta = rng.uniform(-1, 1, C).astype(np.float32)
    return x, dy, gamma, beta


# ---- 1. the float64 reference ----------------------------------------------------------------

def test_reference_gradients_are_its_derivatives():
    x, dy, gamma, beta = (a.astype(np.float64) for a in data(7, 3, seed=3))
    dx, dgamma, dbeta = ref.batchnorm_grads(x, gamma, dy)
    L = lambda x_, g_=gamma, b_=beta: float((ref.batchnorm(x_, g_, b_)[0] * dy).sum())  # noqa: E731
    np.testing.assert_allclose(dx, ref.numeric_grad(L, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dgamma, ref.numeric_grad(lambda g: L(x, g), gamma), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dbeta, ref.numeric_grad(lambda b: L(x, gamma, b), beta), rtol=1e-6, atol=1e-7)


# ---- 2. kernels --------------------------------------------------------------------------------

shapes = given(M=st.integers(1, 600), C=st.integers(1, 70), seed=st.integers(0, 2**16))


def check_kernels(M, C, seed, loc=0.0):
    x, dy, gamma, beta = data(M, C, seed, loc)
    x64 = x.astype(np.float64)
    mean, var = _kernels.bn_stats(x)
    mr, vr = _kernels.bn_stats(x, ref=True)
    _, m64, v64 = ref.batchnorm(x, eps=1e-3)
    absx = np.abs(x64).mean(0)
    close(mean, m64, U * np.abs(m64) + (M + 2) * D * absx, "mean vs float64")
    close(var, v64, U * v64 + (M + 2) * D * (absx + np.abs(m64)) ** 2, "var vs float64")
    close(mean, mr, 2 * U * np.abs(m64) + 2 * (M + 2) * D * absx, "mean vs _ref")
    close(var, vr, 2 * U * v64 + 2 * (M + 2) * D * (absx + np.abs(m64)) ** 2, "var vs _ref")

    scale, shift, invstd = _kernels.bn_coefs(mean, var, gamma, beta, 1e-3)
    for relu in (False, True):
        y = _kernels.bn_forward(x, scale, shift, relu)
        np.testing.assert_array_equal(y, _kernels.bn_forward(x, scale, shift, relu, ref=True))
        y64 = ref.batchnorm(x, gamma, beta)[0]
        s64 = gamma / np.sqrt(v64 + 1e-3)
        bound = 8 * U * (np.abs(x64 * s64) + np.abs(beta) + np.abs(m64 * s64)) + 4 * U * np.abs(s64) * \
            (M + 2) * D * (absx + np.abs(m64)) ** 2 / (v64 + 1e-3) * (absx + np.abs(m64))
        close(y, np.maximum(y64, 0) if relu else y64, bound, f"forward (relu={relu}) vs float64")
    y, mean2, var2, invstd2 = _kernels.bn_train(x, gamma, beta, 1e-3)
    np.testing.assert_array_equal(y, _kernels.bn_forward(x, scale, shift))
    np.testing.assert_array_equal(invstd2, invstd)

    dx, dgamma, dbeta = _kernels.bn_backward(dy, x, mean, invstd, gamma)
    dxr, dgr, dbr = _kernels.bn_backward(dy, x, mean, invstd, gamma, ref=True)
    dx64, dg64, db64 = ref.batchnorm_grads(x, gamma, dy)
    inv64 = 1 / np.sqrt(v64 + 1e-3)
    xhat = np.abs((x64 - m64) * inv64)
    sdy = np.abs(dy.astype(np.float64)).sum(0)
    db_bound = U * np.abs(db64) + (M + 2) * D * sdy
    dg_bound = 4 * U * (np.abs(dy * xhat).sum(0) + sdy * np.abs(m64) * inv64) + \
        (M + 2) * D * sdy * xhat.max(0)
    close(dbeta, db64, db_bound, "dbeta vs float64")
    close(dgamma, dg64, dg_bound, "dgamma vs float64")
    close(dbr, dbeta, 2 * db_bound, "dbeta vs _ref")
    close(dgr, dgamma, 2 * dg_bound, "dgamma vs _ref")
    k = np.abs(gamma * inv64)
    dx_terms = k * (np.abs(dy) + np.abs(db64) / M + (xhat + (np.abs(x64) + np.abs(m64)) * inv64)
                    * (np.abs(dg64) + dg_bound) / M) + k * db_bound / M
    close(dx, dx64, 16 * U * dx_terms, "dx vs float64")
    close(dx, dxr, 16 * U * dx_terms, "dx vs _ref")
    none, dg2, db2 = _kernels.bn_backward(dy, x, mean, invstd, gamma, need_dx=False)
    assert none is None
    np.testing.assert_array_equal(dg2, dgamma)
    np.testing.assert_array_equal(db2, dbeta)
    check_relu_backward(dy, x, mean, invstd, gamma, scale, shift)


def check_relu_backward(dy, x, mean, invstd, gamma, scale, shift):
    """The backward with the forward's relu folded in (relu_coefs): bitwise relu_bwd on the
    forward's output followed by the plain backward -- the fast kernel and the _ref each."""
    y = _kernels.bn_forward(x, scale, shift, True)
    g = _kernels.relu_bwd(dy, y)
    for ref_ in (False, True):
        fused = _kernels.bn_backward(dy, x, mean, invstd, gamma, ref=ref_, relu_coefs=(scale, shift))
        plain = _kernels.bn_backward(g, x, mean, invstd, gamma, ref=ref_)
        for a, b in zip(fused, plain):
            np.testing.assert_array_equal(a, b)
    _, dg, db = _kernels.bn_backward(dy, x, mean, invstd, gamma, need_dx=False, relu_coefs=(scale, shift))
    np.testing.assert_array_equal(dg, plain[1])
    np.testing.assert_array_equal(db, plain[2])


@HYP
@shapes
@example(M=1, C=1, seed=0)
@example(M=127, C=17, seed=1)
@example(M=129, C=33, seed=2)
@example(M=256, C=64, seed=3)
def test_kernels_vs_ref_and_float64(isa, M, C, seed):
    check_kernels(M, C, seed)


def test_kernels_large_m(isa):
    check_kernels(40_000, 3, seed=5)
    check_kernels(3_000, 37, seed=6)


def test_past_the_l3(threads):
    """Tensors of 32 MiB, past half of an L3 up to 64 MiB (pyconv_past_l3): the passes prefetch
    ahead (BN_PF_ROWS). The forward bitwise the same as on slices of 4 MiB (which do not); the backward
    (plain and with the relu) bitwise the same for 1, 2 and 3 threads, and against float64 and
    the _ref as any shape (check_kernels, on this ISA: the loops are the same code on each)."""
    M, C = 32768, 256
    x, dy, gamma, beta = data(M, C, seed=12)
    mean, var = _kernels.bn_stats(x)
    scale, shift, invstd = _kernels.bn_coefs(mean, var, gamma, beta, 1e-3)
    first = None
    for n in (1, 2, 3):
        _kernels.set_num_threads(n)
        for relu in (False, True):
            y = _kernels.bn_forward(x, scale, shift, relu)
            for i in range(0, M, 4096):
                np.testing.assert_array_equal(y[i:i + 4096], _kernels.bn_forward(x[i:i + 4096], scale, shift, relu))
        out = (_kernels.bn_train(x, gamma, beta, 1e-3, relu=True)
               + _kernels.bn_backward(dy, x, mean, invstd, gamma, relu_coefs=(scale, shift))
               + _kernels.bn_backward(dy, x, mean, invstd, gamma))
        if first is None:
            first = out
        for a, b in zip(first, out):
            np.testing.assert_array_equal(a, b)
    del x, dy, first, out, y
    check_kernels(M, C, seed=12)


def test_variance_of_large_mean_data_is_accurate():
    """x = 1e4 + noise: E[x^2] - E[x]^2 in float32 would lose every digit (1e8 * 6e-8 = 6)."""
    for M, C in ((5000, 5), (1, 3), (130, 16)):
        x, *_ = data(M, C, seed=M, loc=1e4)
        mean, var = _kernels.bn_stats(x)
        _, m64, v64 = ref.batchnorm(x)
        close(var, v64, 4 * U * v64 + 1e-30, "var with mean 1e4")
        close(mean, m64, U * np.abs(m64), "mean 1e4")
    check_kernels(2000, 9, seed=8, loc=1e4)


def test_thread_counts_and_isas_bitwise(each_thread_count):
    x, dy, gamma, beta = data(20_000, 19, seed=9)
    before = _kernels.isa_active()
    res = []
    try:
        for isa in ISAS:
            _kernels.set_isa(isa)
            for _ in each_thread_count():
                y, mean, var, invstd = _kernels.bn_train(x, gamma, beta, 1e-3)
                yr = _kernels.bn_forward(x, *_kernels.bn_coefs(mean, var, gamma, beta, 1e-3)[:2], True)
                scale, shift = _kernels.bn_coefs(mean, var, gamma, beta, 1e-3)[:2]
                res.append((y, mean, var, invstd, yr) + _kernels.bn_backward(dy, x, mean, invstd, gamma)
                           + _kernels.bn_backward(dy, x, mean, invstd, gamma, relu_coefs=(scale, shift)))
    finally:
        _kernels.set_isa(before)
    assert len(res) == len(THREAD_COUNTS) * len(ISAS)
    for r in res[1:]:
        for a, b in zip(res[0], r):
            np.testing.assert_array_equal(a, b)


def test_relu_backward_at_zero_nan_and_inf():
    """The mask recomputed from x is relu_bwd's on the output: 0 where x*scale + shift is exactly
    0 or -0 (relu gives 0: masked), NaN (masked) or below; kept at +inf and above 0."""
    x = np.array([[1.0, -2.0, 0.5, np.nan, np.inf, -np.inf, 3.0, 2.0]] * 3, np.float32)
    x[1] += 0.25
    scale = np.full(8, 2.0, np.float32)
    shift = np.array([-2.0, 4.0, -1.0, 0.0, 0.0, 0.0, -6.0, -4.0], np.float32)   # 0 in columns 0-2, 6-7
    dy = np.arange(24, dtype=np.float32).reshape(3, 8) - 11.5
    mean = np.zeros(8, np.float32)
    invstd = np.ones(8, np.float32)
    y = _kernels.bn_forward(x, scale, shift, True)
    assert (y[0, [0, 1, 2, 6, 7]] == 0).all()
    for ref_ in (False, True):
        fused = _kernels.bn_backward(dy, x, mean, invstd, None, ref=ref_, relu_coefs=(scale, shift))
        plain = _kernels.bn_backward(_kernels.relu_bwd(dy, y), x, mean, invstd, None, ref=ref_)
        for a, b in zip(fused, plain):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"`relu_coefs\[1\] \(shift\)` must be a float32 array of shape \(8,\)"):
        _kernels.bn_backward(dy, x, mean, invstd, None, relu_coefs=(scale, shift[:3]))


def test_empty_sizes_are_nothing_to_do():
    mean, var = _kernels.bn_stats(np.zeros((0, 4), np.float32))
    assert np.isnan(mean).all() and np.isnan(var).all()
    assert _kernels.bn_stats(np.zeros((5, 0), np.float32))[0].shape == (0,)
    dx, dg, db = _kernels.bn_backward(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32),
                                      np.zeros(3, np.float32), np.ones(3, np.float32), None)
    assert dx.shape == (0, 3) and (dg == 0).all() and (db == 0).all()
    y = layers.BatchNormalization()(np.zeros((0, 4), np.float32), training=True)
    assert y.shape == (0, 4)


def test_moving_update_is_keras_float32_rule():
    mm, mv = np.array([0.5, -1.0], np.float32), np.array([2.0, 1.0], np.float32)
    m, v = np.array([1.0, 3.0], np.float32), np.array([0.25, 4.0], np.float32)
    nm, nv = _kernels.bn_moving(mm, mv, m, v, 0.99)
    c = np.float32(1.0 - 0.99)
    np.testing.assert_array_equal(nm, mm * np.float32(0.99) + m * c)
    np.testing.assert_array_equal(nv, mv * np.float32(0.99) + v * c)


def test_kernel_argument_errors():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"`scale` must be a float32 array of shape \(3,\)"):
        _kernels.bn_forward(x, np.ones(2, np.float32), np.ones(3, np.float32))
    with pytest.raises(TypeError, match="`x` must be a float32 array"):
        _kernels.bn_stats(x.astype(np.float64))
    with pytest.raises(ValueError, match="`dy` and `x` must have the same shape"):
        _kernels.bn_backward(np.ones((2, 3), np.float32), x, np.ones(3, np.float32),
                             np.ones(3, np.float32), None)


# ---- 3. the layer ------------------------------------------------------------------------------

@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False)])
def test_layer_gradients_by_finite_differences(center, scale):
    rng = np.random.default_rng(4)
    layer = layers.BatchNormalization(center=center, scale=scale)
    x = rng.standard_normal((4, 3, 3, 5)) * 2 + 1
    layer(x.astype(np.float32))
    for w in layer.trainable_weights:
        w[:] = rng.uniform(0.5, 1.5, w.shape)
    assert len(layer.trainable_weights) == int(center) + int(scale)
    check_gradients(layer, x)


def test_inference_gradients_by_finite_differences():
    """training=False: y = x*scale + shift with the moving statistics, linear in x, gamma, beta."""
    rng = np.random.default_rng(5)
    layer = layers.BatchNormalization()
    x = rng.standard_normal((6, 4)).astype(np.float32)
    layer(x)
    layer.set_weights([rng.uniform(0.5, 1.5, 4), rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4),
                       rng.uniform(0.5, 2, 4)])
    r = rng.standard_normal((6, 4))
    y, ctx = layer._fwd(x, False)
    dx, (dg, db) = layer._bwd(ctx, r.astype(np.float32), True)
    mm, mv = layer.moving_mean.astype(np.float64), layer.moving_variance.astype(np.float64)
    inv = 1 / np.sqrt(mv + 1e-3)
    np.testing.assert_allclose(dx, r * layer.gamma * inv, rtol=1e-6)
    np.testing.assert_allclose(dg, (r * (x - mm) * inv).sum(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(db, r.sum(0), rtol=1e-6, atol=1e-6)


# Keras 3.15.1 (TensorFlow backend), the script: Input((3,3,2)) -> BatchNormalization(momentum=0.9)
# -> Flatten -> Dense(2) with the weights below; mse; SGD(0.1); fit(batch_size=4, shuffle=False)
# on the 8 examples below (2 steps). Printed with float(...).tolist().
def _keras_data():
    x = (np.arange(144, dtype=np.float32).reshape(8, 3, 3, 2) % 7) * 0.5 - 1.0 + \
        np.linspace(0, 2, 144, dtype=np.float32).reshape(8, 3, 3, 2)
    y = (np.arange(16, dtype=np.float32).reshape(8, 2) % 3) - 1.0
    return x, y


def _keras_model():
    w = ((np.arange(36, dtype=np.float32).reshape(18, 2) % 5) - 2.0) * 0.1
    inp = layers.Input((3, 3, 2))
    bn = layers.BatchNormalization(momentum=0.9)
    out = layers.Dense(2, kernel_initializer="zeros")(layers.Flatten()(bn(inp)))
    m = models.Model(inp, out)
    m.layers[-1].set_weights([w, np.zeros(2, np.float32)])
    bn.set_weights([np.array([1.5, 0.5]), np.array([0.1, -0.2]), np.zeros(2), np.ones(2)])
    return m, bn


K_OUT_TRAIN0 = [[0.28332364559173584, 0.13855117559432983], [0.3260534107685089, 0.24588629603385925],
                [0.5204256772994995, -0.4003395140171051], [-0.6430072784423828, 0.3112398386001587],
                [0.0028039002791047096, 0.5690545439720154], [0.19717605412006378, 0.22495077550411224],
                [-0.3631754219532013, -0.5729176998138428], [0.4354410171508789, -0.012980755418539047]]
K_DGAMMA, K_DBETA = [0.11195927858352661, 0.08366867899894714], [0.009488003328442574, -0.047074127942323685]
K_DX000 = [-0.039624620229005814, 0.0018759703962132335]
K_DX722 = [0.014881315641105175, -0.016828685998916626]
# after an eager training call on all 8 examples: moving = 0.9 * init + 0.1 * batch (biased var)
K_MOVING_ALL8 = [[0.14652292430400848, 0.1493104249238968], [1.0344507694244385, 1.0351448059082031]]
K_LOSS = 1.2105857133865356
K_WEIGHTS = [[1.4170645475387573, 0.44464635848999023], [0.10860644280910492, -0.1872352659702301],
             [0.2835673987865448, 0.2888636291027069], [1.0140537023544312, 1.0156434774398804]]
K_PRED = [[0.45771294832229614, -0.27002444863319397], [0.6510816216468811, -0.059544987976551056]]
K_FROZEN_DENSE = [[0.22970689833164215, -0.12837915122509003], [0.0894501730799675, 0.05146697908639908]]


def test_keras_training_forward_and_gradients():
    x, y = _keras_data()
    m, bn = _keras_model()
    plan = m._plan((), True)
    (out,), ctx = plan.forward([x], True)
    np.testing.assert_allclose(out, K_OUT_TRAIN0, rtol=1e-5, atol=1e-6)
    (dx,), grads = plan.backward(ctx, [(2 * (out - y) / out.size).astype(np.float32)])
    np.testing.assert_allclose(grads[0], K_DGAMMA, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[1], K_DBETA, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dx[0, 0, 0], K_DX000, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dx[7, 2, 2], K_DX722, rtol=1e-5, atol=1e-7)
    # the moving statistics this pass computed (Keras writes them in the call; here the step does)
    ups = plan.state_updates(ctx)
    assert [a is w for (a, _), w in zip(ups, bn.weights[2:])] == [True, True]
    np.testing.assert_allclose([v for _, v in ups], K_MOVING_ALL8, rtol=1e-6)
    np.testing.assert_array_equal(bn.moving_mean, [0, 0])   # the forward wrote nothing


def _bn_relu_model(relu):
    utils.set_random_seed(3)
    return models.Sequential([layers.Input((6, 6, 3)), layers.Conv2D(8, 3), layers.BatchNormalization(), relu,
                              layers.SeparableConv2D(4, 3, padding="same"), layers.BatchNormalization(),
                              layers.ReLU(), layers.MaxPooling2D(), layers.BatchNormalization(),
                              layers.ReLU(max_value=6.0), layers.Flatten(), layers.Dense(3)])


@pytest.mark.parametrize("relu", ["ReLU", "Activation"])
def test_relu_after_bn_runs_in_its_kernels_bitwise(relu, monkeypatch):
    """A plain relu that only reads a BatchNormalization runs inside the BN's kernels (forward
    and backward, training and inference): the plan marks the pair, and two fit steps, the
    moving statistics, predict and evaluate give the same bits as the two layers run apart."""
    from pyconv import _graph
    from pyconv.layers.base import BN_RELU, RELU_IN_BN
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 6, 6, 3)).astype(np.float32)
    y = rng.standard_normal((8, 3)).astype(np.float32)
    results = []
    for fold in (True, False):
        if not fold:
            monkeypatch.setattr(_graph.Plan, "_fold_relus_into_bn", staticmethod(lambda *a: None))
        m = _bn_relu_model(layers.ReLU() if relu == "ReLU" else layers.Activation("relu"))
        m.compile(optimizer=optimizers.SGD(0.1), loss="mse")
        h = m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        plan = _graph.Plan(m._graph, m.trainable_weights, [], False)
        fuse = [s.fuse & (BN_RELU | RELU_IN_BN) for s in plan.steps]
        # (the third BN's relu has max_value: not the plain relu, not folded)
        assert fuse == ([0, BN_RELU, RELU_IN_BN, 0, BN_RELU, RELU_IN_BN, 0, 0, 0, 0, 0] if fold else [0] * 11)
        results.append([h.history["loss"]] + m.get_weights() + [m.predict(x, verbose=0),
                                                               m.evaluate(x, y, verbose=0)])
        m.layers[1].trainable = False   # frozen: inference-mode BN inside fit, relu folded still
        m.compile(optimizer=optimizers.SGD(0.1), loss="mse")
        m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        results[-1] += m.get_weights()
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_keras_two_step_fit():
    x, y = _keras_data()
    m, bn = _keras_model()
    m.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    h = m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"], [K_LOSS], rtol=1e-6)
    for a, e in zip(bn.get_weights(), K_WEIGHTS):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m.predict(x[:2], verbose=0), K_PRED, rtol=1e-5, atol=1e-6)


def test_trainable_false_runs_in_inference_mode_in_fit():
    x, y = _keras_data()
    m, bn = _keras_model()
    bn.trainable = False
    m.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, e in zip(bn.get_weights(), [[1.5, 0.5], [0.1, -0.2], [0, 0], [1, 1]]):
        np.testing.assert_array_equal(a, np.float32(e))
    np.testing.assert_allclose(m.layers[-1].get_weights()[0][:2], K_FROZEN_DENSE, rtol=1e-5, atol=1e-7)
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def test_moving_statistics_updated_once_per_step():
    x, y = _keras_data()
    m, bn = _keras_model()
    m.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    m.train_on_batch(x, y)
    mean, var = _kernels.bn_stats(x)
    nm, nv = _kernels.bn_moving(np.zeros(2, np.float32), np.ones(2, np.float32), mean, var, 0.9)
    np.testing.assert_array_equal(bn.moving_mean, nm)
    np.testing.assert_array_equal(bn.moving_variance, nv)
    m.evaluate(x, y, verbose=0)
    m.predict(x, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean, nm)   # inference passes change nothing


def test_no_moving_update_when_the_step_fails_before_its_commit(monkeypatch):
    x, y = _keras_data()
    m, bn = _keras_model()
    m.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    before = [w.copy() for w in m.get_weights()]

    def boom(grads, params):
        raise RuntimeError("optimizer failed")
    monkeypatch.setattr(m.optimizer, "_apply", boom)
    with pytest.raises(RuntimeError, match="optimizer failed"):
        m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_eager_call_does_not_write_the_moving_statistics():
    """A difference kept from Keras: `bn(x, training=True)` outside fit returns the training
    output but leaves the moving statistics (a pass writes no layer state)."""
    bn = layers.BatchNormalization()
    bn(np.ones((4, 2), np.float32) * 3, training=True)
    np.testing.assert_array_equal(bn.moving_mean, [0, 0])


def test_nested_model_state_is_updated():
    x, y = _keras_data()
    inner, bn = _keras_model()
    inp = layers.Input((3, 3, 2))
    m = models.Model(inp, inner(inp))
    m.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    m.train_on_batch(x, y)
    np.testing.assert_allclose([bn.moving_mean, bn.moving_variance], K_MOVING_ALL8, rtol=1e-6)


def test_tutorial_cnn_with_batchnorm_trains():
    rng = np.random.default_rng(0)
    n = 256
    labels = rng.integers(0, 10, n)
    x = rng.standard_normal((n, 28, 28, 1)).astype(np.float32) * 0.3
    for k in range(10):   # each class lights its own 6x6 square
        r, c = 2 + (k // 5) * 12, 2 + (k % 5) * 5
        x[labels == k, r:r + 6, c:c + 4, 0] += 1.5
    # momentum 0.9: 48 steps bring the moving statistics to the data's (0.99 would leave the
    # variances near their initial 1, and inference far from training, as in Keras)
    bn = lambda: layers.BatchNormalization(momentum=0.9)   # noqa: E731
    m = models.Sequential([
        layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        bn(), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), bn(),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), bn(),
        layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, labels, epochs=6, batch_size=32, verbose=0)
    loss = h.history["loss"]
    assert loss[-1] < 0.1 * loss[0], loss
    assert m.evaluate(x, labels, verbose=0)[1] > 0.9   # inference, with the moving statistics
    bns = [l for l in m.layers if isinstance(l, layers.BatchNormalization)]
    assert all(np.abs(l.moving_mean).max() > 0 for l in bns)


def test_save_load_round_trip(tmp_path):
    x, y = _keras_data()
    m, bn = _keras_model()
    m.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "bn.pyconv"
    m.save(path)
    r = models.load_model(path)
    np.testing.assert_array_equal(r.predict(x, verbose=0), m.predict(x, verbose=0))
    rb = [l for l in r.layers if isinstance(l, layers.BatchNormalization)][0]
    for a, b in zip(rb.get_weights(), bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert rb.get_config() == {**bn.get_config(), "name": rb.name}


def test_config_has_keras_keys_and_round_trips():
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=False,
                                   gamma_regularizer="l2", gamma_constraint="non_neg")
    cfg = bn.get_config()
    keras_keys = {"axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
                  "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
                  "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
                  "synchronized", "renorm", "renorm_clipping", "renorm_momentum", "name", "trainable",
                  "dtype"}
    assert keras_keys <= set(cfg)
    assert cfg["beta_regularizer"] is None and cfg["gamma_regularizer"]["class_name"] == "L2"
    again = layers.BatchNormalization.from_config(cfg)
    assert again.get_config() == cfg
    again(np.ones((3, 4), np.float32))
    assert [w.shape for w in again.weights] == [(4,)] * 3 and len(again.trainable_weights) == 1
    assert len(again.losses) == 1   # gamma's l2


def test_errors():
    with pytest.raises(ValueError, match=r"normalizes over the last axis only: `axis` must be -1 or 3 "
                                         r"for inputs of rank 4\. Received: axis=1"):
        layers.BatchNormalization(axis=1)(np.ones((2, 3, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"`axis` must be -1 \(or the last axis's index\)\. "
                                         r"Received: axis=-2"):
        layers.BatchNormalization(axis=-2)
    with pytest.raises(TypeError, match=r"`axis` must be an int\. Received: axis=\[1, 2\]"):
        layers.BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match=r"renormalization is not supported\. Received: renorm=True"):
        layers.BatchNormalization(renorm=True)
    with pytest.raises(TypeError, match=r"`momentum` must be a number\. Received: momentum='x'"):
        layers.BatchNormalization(momentum="x")
    with pytest.raises(ValueError, match=r"`epsilon` must be a number >= 0.0\. Received: epsilon=-1"):
        layers.BatchNormalization(epsilon=-1)
    bn = layers.BatchNormalization()
    bn(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 4"):
        bn(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=1"):
        layers.BatchNormalization()(np.ones(3, np.float32))
    # a 4-D model: axis=3 is the last axis, accepted
    assert layers.BatchNormalization(axis=3)(np.ones((1, 2, 2, 3), np.float32)).shape == (1, 2, 2, 3)


def test_docstring_examples():
    result = doctest.testmod(normalization, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_moving_statistics_in_a_subclassed_model_and_a_nested_one():
    """BatchNormalization inside a subclassed model's `call` (the tape path) and inside a
    functional model nested in another: fit updates the moving statistics exactly as the same
    layers in a plain Sequential do."""
    import pyconv
    from pyconv import layers, utils

    class Net(pyconv.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.dense = layers.Dense(6)
            self.bn = layers.BatchNormalization(momentum=0.5)
            self.out = layers.Dense(2, activation="softmax")

        def call(self, x, training=None):
            return self.out(pyconv.ops.relu(self.bn(self.dense(x))))

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 4)) * 3 + 5, np.arange(32) % 2
    got = []
    for kind in ("sequential", "subclassed", "nested"):
        utils.set_random_seed(1)
        dense, bn, out = layers.Dense(6), layers.BatchNormalization(momentum=0.5), layers.Dense(2, activation="softmax")
        if kind == "sequential":
            m = pyconv.Sequential([layers.Input((4,)), dense, bn, layers.ReLU(), out])
        elif kind == "subclassed":
            m = Net()
            m(np.zeros((1, 4)))
            dense, bn, out = m.dense, m.bn, m.out
        else:
            i = pyconv.Input((4,))
            inner = pyconv.Model(i, layers.ReLU()(bn(dense(i))))
            j = pyconv.Input((4,))
            m = pyconv.Model(j, out(inner(j)))
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        got.append((bn.moving_mean.copy(), bn.moving_variance.copy()))
    assert not np.allclose(got[0][0], 0)   # it moved
    for mm, mv in got[1:]:
        np.testing.assert_allclose(mm, got[0][0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(mv, got[0][1], rtol=1e-5, atol=1e-6)
