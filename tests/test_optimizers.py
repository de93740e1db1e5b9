"""Each optimizer against a hand-written NumPy (float64) transcription of Keras 3's update rule,
for a few steps; schedules; errors.

Tolerance: the optimizer computes in float32 (like Keras' float32 variables); over 4 steps
the relative difference to float64 stays near float32 epsilon (1e-7) times a few operations,
so rtol=1e-5 (atol=1e-7 for values near 0) catches any wrong coefficient or ordering.
"""
import math

import numpy as np
import pytest

from pyconv import optimizers
from pyconv.optimizers import schedules

STEPS = 4


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)]
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in params] for _ in range(STEPS)]
    return params, grads


def _run(opt, params, grads):
    ps = [p.copy() for p in params]
    for g in grads:
        opt.apply(g, ps)
    return ps


def ref_sgd(p, gs, lr, momentum=0.0, nesterov=False):
    p, m = p.astype(np.float64), np.zeros(p.shape)
    for g in gs:
        if momentum:
            m = -g * lr + m * momentum
            p = p + (-g * lr + m * momentum if nesterov else m)
        else:
            p = p - g * lr
    return p


def ref_adam(p, gs, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, wd=None):
    p, m, v, vh = p.astype(np.float64), np.zeros(p.shape), np.zeros(p.shape), np.zeros(p.shape)
    for t, g in enumerate(gs, start=1):
        lr_t = lr(t - 1) if callable(lr) else lr
        if wd:
            p = p - p * wd * lr_t
        alpha = lr_t * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        if amsgrad:
            vh = np.maximum(vh, v)
            p = p - m * alpha / (np.sqrt(vh) + eps)
        else:
            p = p - m * alpha / (np.sqrt(v) + eps)
    return p


def ref_rmsprop(p, gs, lr=1e-3, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    p, v, a, mom = p.astype(np.float64), np.zeros(p.shape), np.zeros(p.shape), np.zeros(p.shape)
    for g in gs:
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            den = v - a * a + eps
        else:
            den = v + eps
        inc = lr * g / np.sqrt(den)
        if momentum:
            mom = momentum * mom + inc
            p = p - mom
        else:
            p = p - inc
    return p


@pytest.mark.parametrize("opt,ref", [
    (lambda: optimizers.SGD(), lambda p, gs: ref_sgd(p, gs, 0.01)),
    (lambda: optimizers.SGD(0.1, momentum=0.9), lambda p, gs: ref_sgd(p, gs, 0.1, 0.9)),
    (lambda: optimizers.SGD(0.1, momentum=0.5, nesterov=True), lambda p, gs: ref_sgd(p, gs, 0.1, 0.5, True)),
    (lambda: optimizers.Adam(), lambda p, gs: ref_adam(p, gs)),
    (lambda: optimizers.Adam(0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-3), lambda p, gs: ref_adam(p, gs, 0.05, 0.8, 0.99, 1e-3)),
    (lambda: optimizers.Adam(0.01, amsgrad=True), lambda p, gs: ref_adam(p, gs, 0.01, amsgrad=True)),
    (lambda: optimizers.AdamW(), lambda p, gs: ref_adam(p, gs, wd=0.004)),
    (lambda: optimizers.AdamW(0.01, weight_decay=0.1), lambda p, gs: ref_adam(p, gs, 0.01, wd=0.1)),
    (lambda: optimizers.RMSprop(), lambda p, gs: ref_rmsprop(p, gs)),
    (lambda: optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
     lambda p, gs: ref_rmsprop(p, gs, 0.01, 0.8, 0.5, centered=True)),
    (lambda: optimizers.Adam(schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)),
     lambda p, gs: ref_adam(p, gs, lambda step: 0.01 * 0.5 ** (step / 2))),
])
def test_update_rules_match_keras(opt, ref):
    params, grads = _problem()
    got = _run(opt(), params, grads)
    for i, p in enumerate(params):
        want = ref(p, [g[i].astype(np.float64) for g in grads])
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-7)


def test_keras_defaults():
    a = optimizers.get("adam")
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)
    s = optimizers.get("sgd")
    assert (s.learning_rate, s.momentum, s.nesterov) == (0.01, 0.0, False)
    r = optimizers.get("rmsprop")
    assert (r.learning_rate, r.rho, r.momentum, r.epsilon, r.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    assert optimizers.get("adamw").weight_decay == 0.004


def test_state_iterations_and_round_trip():
    params, grads = _problem()
    a = optimizers.Adam(0.01)
    ps = [p.copy() for p in params]
    a.apply(grads[0], ps)
    assert a.iterations == 1 and len(a.variables) == 4
    st = a.get_state()
    b = optimizers.Adam.from_config(a.get_config())
    qs = [p.copy() for p in ps]
    b.set_state(qs, st["iterations"], st["variables"])
    a.apply(grads[1], ps)
    b.apply(grads[1], qs)
    for p, q in zip(ps, qs):
        assert np.array_equal(p, q)


def test_schedules():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert s(9) == 0.1 and s(10) == 0.05 and s(25) == 0.025
    assert optimizers.schedules.ExponentialDecay is schedules.ExponentialDecay
    opt = optimizers.SGD(s)
    assert opt.learning_rate == 0.1
    opt.iterations = 10
    assert opt.learning_rate == 0.05
    with pytest.raises(TypeError, match=r"created with a learning-rate schedule"):
        opt.learning_rate = 0.3
    assert schedules.PiecewiseConstantDecay([5], [1.0, 0.5])(6) == 0.5
    assert schedules.InverseTimeDecay(1.0, 1, 1.0)(1) == 0.5


def test_learning_rate_can_be_set_and_clipping():
    opt = optimizers.SGD(0.1, clipvalue=0.5)
    opt.learning_rate = 0.2
    p = [np.zeros(3, np.float32)]
    opt.apply([np.array([1.0, -2.0, 0.1], np.float32)], p)
    np.testing.assert_allclose(p[0], [-0.1, 0.1, -0.02], rtol=1e-6)
    opt = optimizers.SGD(1.0, global_clipnorm=1.0)
    p = [np.zeros(2, np.float32)]
    opt.apply([np.array([3.0, 4.0], np.float32)], p)
    np.testing.assert_allclose(p[0], [-0.6, -0.8], rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match=r"Unknown optimizer: 'adan'. Valid values are: 'adam', 'sgd', 'rmsprop', 'adamw'"):
        optimizers.get("adan")
    with pytest.raises(ValueError, match=r"`learning_rate` must be a positive float. Received: learning_rate=-1"):
        optimizers.Adam(-1)
    with pytest.raises(ValueError, match=r"`momentum` must be a float in \[0, 1\). Received: momentum=1.5"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(TypeError, match=r"`optimizer` must be a string"):
        optimizers.get(3)
    with pytest.raises(TypeError, match=r"unsupported argument: foo=1"):
        optimizers.Adam(foo=1)


def test_adam_c_update_is_bitwise_the_numpy_rule(isa):
    """The C Adam step (csrc/optim_loop.h), on every ISA, does Keras 3's float32 operations in
    NumPy's order: bitwise the same result."""
    rng = np.random.default_rng(7)
    opt = optimizers.Adam(learning_rate=0.01)
    p = rng.standard_normal(5000).astype(np.float32)
    q, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t in range(1, 6):
        g = rng.standard_normal(5000).astype(np.float32)
        opt.apply([g], [p])
        alpha = np.float32(0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t))
        m += (g - m) * np.float32(1 - 0.9)
        v += (g * g - v) * np.float32(1 - 0.999)
        q -= m / (np.sqrt(v) + np.float32(1e-7)) * alpha
        assert np.array_equal(p, q), np.abs(p - q).max()


def test_adam_whole_update_in_one_call_equals_the_per_parameter_path():
    """Adam's fast step (one adam_step_list call) and its per-parameter path (taken when a
    gradient is not C-contiguous) give bitwise the same parameters and slots."""
    from pyconv import _kernels
    rng = np.random.default_rng(3)
    shapes = [(7, 5), (5,), (3, 3, 2, 4)]
    p1 = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    p2 = [p.copy() for p in p1]
    a, b = optimizers.Adam(0.01), optimizers.Adam(0.01)
    for _ in range(3):
        gs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        a.apply(gs, p1)
        b.apply([gs[0], gs[1], np.asfortranarray(gs[2])], p2)   # not C-contiguous: per parameter
    for x, y in zip(p1 + a.variables, p2 + b.variables):
        assert np.array_equal(x, y)
    z = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"one momentum, velocity and gradient per parameter"):
        _kernels.adam_step_list([z], [z], [z, z], [z], 0.1, 0.1, 0.1, 1e-7)
    with pytest.raises(ValueError, match=r"must have one shape"):
        _kernels.adam_step_list([z], [z], [z], [np.zeros(4, np.float32)], 0.1, 0.1, 0.1, 1e-7)


def test_apply_checks_a_new_parameter_list():
    """Model.fit's _apply checks a params list once (by identity); a new list is checked again:
    the same arrays pass, other arrays -- even of the same shapes, another model's -- are refused
    rather than updated with this optimizer's moments."""
    opt = optimizers.Adam()
    w = np.zeros((2, 3), np.float32)
    p = [w]
    opt._apply([np.ones((2, 3), np.float32)], p)
    opt._apply([np.ones((2, 3), np.float32)], p)
    opt._apply([np.ones((2, 3), np.float32)], [w])          # a new list of the same arrays
    assert opt.iterations == 3
    state = [v.copy() for v in opt.variables]
    with pytest.raises(ValueError, match=r"built for other weight arrays"):
        opt._apply([np.ones((2, 3), np.float32)], [np.zeros((2, 3), np.float32)])
    with pytest.raises(ValueError, match=r"as many as when it was built \(1\)"):
        opt._apply([np.ones(4, np.float32)] * 2, [w, np.zeros(4, np.float32)])
    assert opt.iterations == 3 and all(np.array_equal(a, b) for a, b in zip(opt.variables, state))


def test_one_optimizer_for_two_models_is_refused():
    from pyconv import layers, models
    opt = optimizers.Adam()
    x, y = np.zeros((8, 3), np.float32), np.zeros(8, np.int64)
    a = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    a.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    a.fit(x, y, verbose=0)
    b = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    b.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"built for other weight arrays"):
        b.fit(x, y, verbose=0)
