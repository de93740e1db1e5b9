"""The optimizers (pyconv/optimizers.py, csrc/optim.c): each rule against a hand-written float64
transcription of Keras 3's formula for a few steps; the C loops bitwise equal to the NumPy
rule and to their `_ref` twins on every ISA and thread count; EMA, gradient accumulation,
loss scaling, clipping; schedules; state, configuration and saving; every error message.
(tests/test_optimizers_keras.py compares with numbers from Keras 3 itself.)

Tolerance against float64: the optimizer computes in float32 (like Keras' float32 variables);
each step is at most ~15 float32 operations, each off by at most half an ulp (6e-8 relative),
and none of these rules amplifies an error by more than a small factor (sqrt halves it; the
divisions are by quantities bounded away from 0 by epsilon), so over 4 steps the relative
difference stays below ~15 * 4 * 6e-8 = 3.6e-6: rtol=1e-5 (atol=1e-7 for values near 0)
still catches any wrong coefficient, sign or order of steps, which moves results by 1e-3 or more.
"""
import doctest
import json
import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from pyconv import _kernels, layers, models, optimizers
from pyconv.optimizers import schedules

STEPS = 4


def _problem(seed=0, shapes=((3, 4), (4,))):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in params] for _ in range(STEPS)]
    return params, grads


def _run(opt, params, grads):
    ps = [p.copy() for p in params]
    for g in grads:
        opt.apply(g, ps)
    return ps


# ---- float64 transcriptions of Keras 3's formulas (keras/src/optimizers/*.py) ------------------

def ref_sgd(p, gs, lr=0.01, momentum=0.0, nesterov=False, wd=None):
    p, m = p.astype(np.float64), np.zeros(p.shape)
    for g in gs:
        if wd:
            p = p - p * wd * lr
        if momentum:
            m = m * momentum - g * lr
            p = p + (m * momentum - g * lr if nesterov else m)
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


def ref_nadam(p, gs, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7, wd=None):
    p, m, v, u_product = p.astype(np.float64), np.zeros(p.shape), np.zeros(p.shape), 1.0
    for t, g in enumerate(gs, start=1):
        if wd:
            p = p - p * wd * lr
        u_t = b1 * (1 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_product = u_product * u_t
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - b2 ** t)
        p = p - m_hat * lr / (np.sqrt(v_hat) + eps)
    return p


def ref_adagrad(p, gs, lr=1e-3, init=0.1, eps=1e-7):
    p, acc = p.astype(np.float64), np.full(p.shape, init)
    for g in gs:
        acc = acc + g * g
        p = p - lr * g / np.sqrt(acc + eps)
    return p


def ref_adadelta(p, gs, lr=1e-3, rho=0.95, eps=1e-7):
    p, ag, ad = p.astype(np.float64), np.zeros(p.shape), np.zeros(p.shape)
    for g in gs:
        ag = rho * ag + (1 - rho) * g * g
        d = -np.sqrt(ad + eps) * g / np.sqrt(ag + eps)
        ad = rho * ad + (1 - rho) * d * d
        p = p + lr * d
    return p


def ref_adamax(p, gs, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    p, m, u = p.astype(np.float64), np.zeros(p.shape), np.zeros(p.shape)
    for t, g in enumerate(gs, start=1):
        m = m + (g - m) * (1 - b1)
        u = np.maximum(b2 * u, np.abs(g))
        p = p - lr * m / ((1 - b1 ** t) * (u + eps))
    return p


def ref_lion(p, gs, lr=1e-3, b1=0.9, b2=0.99, wd=None):
    p, m = p.astype(np.float64), np.zeros(p.shape)
    for g in gs:
        if wd:
            p = p - p * wd * lr
        p = p - lr * np.sign(m * b1 + g * (1 - b1))
        m = m * b2 + g * (1 - b2)
    return p


def ref_ftrl(p, gs, lr=1e-3, power=-0.5, init=0.1, l1=0.0, l2=0.0, shrink=0.0, beta=0.0):
    p, acc, lin = p.astype(np.float64), np.full(p.shape, init), np.zeros(p.shape)
    for g in gs:
        l2_t = l2 + beta / (2 * lr)
        new = acc + g * g
        lin = lin + g + 2 * shrink * p - (new ** -power - acc ** -power) / lr * p
        p = (np.clip(lin, -l1, l1) - lin) / (new ** -power / lr + 2 * l2_t)
        acc = new
    return p


RULES = [
    (lambda: optimizers.SGD(), lambda p, gs: ref_sgd(p, gs)),
    (lambda: optimizers.SGD(0.1, momentum=0.9), lambda p, gs: ref_sgd(p, gs, 0.1, 0.9)),
    (lambda: optimizers.SGD(0.1, momentum=0.5, nesterov=True), lambda p, gs: ref_sgd(p, gs, 0.1, 0.5, True)),
    (lambda: optimizers.SGD(0.1, momentum=0.5, weight_decay=0.1), lambda p, gs: ref_sgd(p, gs, 0.1, 0.5, wd=0.1)),
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
    (lambda: optimizers.Nadam(), lambda p, gs: ref_nadam(p, gs)),
    (lambda: optimizers.Nadam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-4, weight_decay=0.05),
     lambda p, gs: ref_nadam(p, gs, 0.01, 0.8, 0.99, 1e-4, wd=0.05)),
    (lambda: optimizers.Adagrad(), lambda p, gs: ref_adagrad(p, gs)),
    (lambda: optimizers.Adagrad(0.1, initial_accumulator_value=0.5, epsilon=1e-3),
     lambda p, gs: ref_adagrad(p, gs, 0.1, 0.5, 1e-3)),
    (lambda: optimizers.Adadelta(), lambda p, gs: ref_adadelta(p, gs)),
    (lambda: optimizers.Adadelta(1.0, rho=0.7, epsilon=1e-4), lambda p, gs: ref_adadelta(p, gs, 1.0, 0.7, 1e-4)),
    (lambda: optimizers.Adamax(), lambda p, gs: ref_adamax(p, gs)),
    (lambda: optimizers.Adamax(0.02, beta_1=0.7, beta_2=0.9, epsilon=1e-3), lambda p, gs: ref_adamax(p, gs, 0.02, 0.7, 0.9, 1e-3)),
    (lambda: optimizers.Lion(), lambda p, gs: ref_lion(p, gs)),
    (lambda: optimizers.Lion(0.01, beta_1=0.8, beta_2=0.95, weight_decay=0.1),
     lambda p, gs: ref_lion(p, gs, 0.01, 0.8, 0.95, wd=0.1)),
    (lambda: optimizers.Ftrl(), lambda p, gs: ref_ftrl(p, gs)),
    (lambda: optimizers.Ftrl(0.1, learning_rate_power=-0.7, initial_accumulator_value=0.2,
                             l1_regularization_strength=0.001, l2_regularization_strength=0.02,
                             l2_shrinkage_regularization_strength=0.03, beta=0.1),
     lambda p, gs: ref_ftrl(p, gs, 0.1, -0.7, 0.2, 0.001, 0.02, 0.03, 0.1)),
]


@pytest.mark.parametrize("opt,ref", RULES)
def test_update_rules_match_keras_formulas(opt, ref):
    params, grads = _problem()
    got = _run(opt(), params, grads)
    for i, p in enumerate(params):
        want = ref(p, [g[i].astype(np.float64) for g in grads])
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-7)


# ---- C == NumPy == _ref, bitwise, on every ISA and thread count ----------------------------------

C_RULES = [
    lambda: optimizers.SGD(0.1),
    lambda: optimizers.SGD(0.1, momentum=0.9, weight_decay=0.01),
    lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: optimizers.RMSprop(0.01),
    lambda: optimizers.RMSprop(0.01, momentum=0.5, weight_decay=0.01),
    lambda: optimizers.RMSprop(0.01, centered=True),
    lambda: optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
    lambda: optimizers.Adam(0.01),
    lambda: optimizers.Adam(0.01, amsgrad=True, weight_decay=0.01),
    lambda: optimizers.AdamW(0.01),
    lambda: optimizers.Nadam(0.01),
    lambda: optimizers.Nadam(0.01, weight_decay=0.1),
    lambda: optimizers.Adamax(0.01),
    lambda: optimizers.Adamax(0.01, weight_decay=0.1),
    lambda: optimizers.Adagrad(0.1),
    lambda: optimizers.Adagrad(0.1, weight_decay=0.1),
    lambda: optimizers.Adadelta(1.0),
    lambda: optimizers.Adadelta(1.0, weight_decay=0.1),
    lambda: optimizers.Lion(0.01),
    lambda: optimizers.Lion(0.01, weight_decay=0.1),
    lambda: optimizers.SGD(0.1, momentum=0.5, use_ema=True, ema_momentum=0.9),
]
# The big array has more elements than OPTIM_PAR_MIN (16384): it is split over the threads.
BIG_SHAPES = ((150, 130), (7,), (3, 5))


def _same_bits(a, b):
    """Equal bit patterns, NaNs apart (only their position must match: a NaN's payload is not
    specified by IEEE 754 and may depend on the order of a commutative operation's operands)."""
    nan = np.isnan(a)
    return np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.uint32), b[~nan].view(np.uint32))


def _three_paths(make, params, grads):
    out = []
    for path in ("c", "ref", "numpy"):
        opt = make()
        opt._path = path
        ps = _run(opt, params, grads)
        out.append((path, ps + opt.variables))
    return out


def _assert_paths_agree(runs):
    (_, base), *others = runs
    for path, arrays in others:
        for k, (a, b) in enumerate(zip(base, arrays)):
            assert _same_bits(a, b), (path, k, np.nanmax(np.abs(a - b)), np.unravel_index(np.nanargmax(np.abs(a - b)), a.shape))


@pytest.mark.parametrize("make", C_RULES)
def test_c_loops_are_bitwise_the_numpy_rule(make, isa, each_thread_count):
    """Each rule in C (the active ISA's loop, threaded over the big array), its serial `_ref`
    twin, and NumPy's float32 operations give the same bits, parameters and state, for every
    thread count."""
    params, grads = _problem(1, BIG_SHAPES)
    for _ in each_thread_count():
        _assert_paths_agree(_three_paths(make, params, grads))


@pytest.mark.parametrize("make", C_RULES)
def test_c_loops_on_special_values(make):
    """Zeros of both signs, infinities and NaNs in the weights and gradients: NaN where NumPy
    has NaN (max and sign as NumPy's, not fmaxf's), the same bits elsewhere."""
    params, grads = _problem(2, ((4, 10),))
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-38, -1e-38, 3e38, -3e38, 1.0], np.float32)
    params[0][0] = special
    grads[0][0][1] = special
    grads[1][0][2] = special[::-1]
    with np.errstate(all="ignore"):
        _assert_paths_agree(_three_paths(make, params, grads))


def test_one_step_list_call_skips_absent_gradients_and_checks_first():
    """A None gradient leaves its parameter alone; an array that is not C-contiguous float32 makes
    the call decline with nothing written (the optimizer then takes NumPy's path); lists of other
    lengths or arrays of other shapes are refused before anything is written."""
    p = [np.ones(3, np.float32), np.ones(4, np.float32)]
    m = [np.zeros(3, np.float32), np.zeros(4, np.float32)]
    g = [None, np.full(4, 2.0, np.float32)]
    assert _kernels.sgd_step_list(p, g, m, 0.5, 0.0, 0.9, False)
    assert p[0].tolist() == [1, 1, 1] and p[1].tolist() == [0, 0, 0, 0] and m[1].tolist() == [-1] * 4
    before = [a.copy() for a in p + m]
    assert not _kernels.sgd_step_list(p, [np.ones(3), np.ones(4, np.float32)], m, 0.5, 0.0, 0.9, False)
    assert not _kernels.sgd_step_list(p, [np.ones(3, np.float32), np.ones(8, np.float32)[::2]], m, 0.5, 0.0, 0.9, False)
    ro = np.ones(3, np.float32)
    ro.flags.writeable = False
    assert not _kernels.sgd_step_list([ro, p[1]], [np.ones(3, np.float32), None], m, 0.5, 0.0, 0.9, False)
    with pytest.raises(ValueError, match=r"SGD: one gradient and one array of each slot per parameter. "
                                         r"Received: 2 parameters, 2 gradients, slot lists of lengths \[1\]"):
        _kernels.sgd_step_list(p, g, m[:1], 0.5, 0.0, 0.9, False)
    with pytest.raises(ValueError, match=r"Adam: a gradient must have its parameter's shape. Received for "
                                         r"parameter 1: \(4,\), gradient: \(2, 2\)"):
        _kernels.adam_step_list(p, [None, np.ones((2, 2), np.float32)], m, m, None, 0.1, 0.0, 0.1, 0.1, 0.1, 1e-7)
    with pytest.raises(ValueError, match=r"RMSprop: a slot must have its parameter's shape. Received for "
                                         r"parameter 0: \(3,\), slot 0: \(4,\)"):
        _kernels.rmsprop_step_list(p, g[::-1], m[::-1], None, None, 0.1, 0.0, 0.9, 0.1, 0.0, 1e-7)
    assert all(np.array_equal(a, b) for a, b in zip(p + m, before))


def test_gradients_of_another_dtype_or_layout_and_weights_not_c_contiguous():
    """A float64 or Fortran-ordered gradient is made C-contiguous float32 first (Keras casts a
    gradient to its weight's dtype) and takes the C loop; a weight that is not C-contiguous
    takes NumPy's rule. Every combination gives bitwise the same weights and state."""
    shapes = [(7, 5), (5,), (3, 3, 2, 4)]
    for make in C_RULES:
        params, grads = _problem(3, shapes)
        a, b, c = make(), make(), make()
        p1, p2 = [p.copy() for p in params], [p.copy() for p in params]
        p3 = [np.asfortranarray(p) for p in params]
        for gs in grads:
            a.apply(gs, p1)
            b.apply([gs[0].astype(np.float64), gs[1], np.asfortranarray(gs[2])], p2)
            c.apply(gs, p3)
        assert a._scratch is None and b._scratch is None and c._scratch is not None   # only c: NumPy
        for x, y, z in zip(p1 + a.variables, p2 + b.variables, p3 + c.variables):
            assert np.array_equal(x, y) and np.array_equal(x, z)


class CustomSGD(optimizers.SGD):
    """A subclass that changes the NumPy rule (here: twice the step) gets its rule, not the C loop."""

    def _update(self, i, p, g, k):
        super()._update(i, p, g * np.float32(2), k)


def test_a_subclass_overriding_the_numpy_rule_is_not_replaced_by_the_c_loop():
    p1, p2 = [np.zeros(3, np.float32)], [np.zeros(3, np.float32)]
    CustomSGD(0.5).apply([np.ones(3, np.float32)], p1)
    optimizers.SGD(0.5).apply([np.ones(3, np.float32)], p2)
    assert p1[0].tolist() == [-1.0] * 3 and p2[0].tolist() == [-0.5] * 3


# ---- common arguments: EMA, gradient accumulation, loss scaling, clipping -----------------------

def test_ema_follows_keras_rule_and_finalize_overwrites():
    params, grads = _problem()
    opt = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9)
    ps = [p.copy() for p in params]
    avg = None
    for t, g in enumerate(grads):
        opt.apply(g, ps)
        # Keras: the first step copies the weights, then average = 0.9*average + 0.1*weights
        avg = [p.astype(np.float64) for p in ps] if t == 0 else [0.9 * a + 0.1 * p for a, p in zip(avg, ps)]
    assert len(opt.variables) == 2
    for a, want in zip(opt.variables, avg):
        np.testing.assert_allclose(a, want, rtol=1e-6)
    plain = _run(optimizers.SGD(0.1), params, grads)
    assert all(np.array_equal(p, q) for p, q in zip(ps, plain))   # without overwrite the weights are SGD's
    opt.finalize_variable_values(ps)
    assert all(np.array_equal(p, a) for p, a in zip(ps, opt.variables))
    optimizers.SGD(0.1).finalize_variable_values(ps)            # no EMA: nothing to do
    with pytest.raises(ValueError, match=r"The length of model variables \(1\) to override does not match "
                                         r"the length of model variables stored in the optimizer \(2\)"):
        opt.finalize_variable_values(ps[:1])


def test_ema_overwrite_frequency():
    params, grads = _problem()
    opt = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)
    ps = [p.copy() for p in params]
    for t, g in enumerate(grads):
        before = [p.copy() for p in ps]
        opt.apply(g, ps)
        overwritten = (t + 1) % 2 == 0
        assert all(np.array_equal(p, a) for p, a in zip(ps, opt.variables)) == (overwritten or t == 0)
        if overwritten:   # the weights took the average of the SGD step and the previous average
            assert not np.array_equal(ps[0], before[0] - np.float32(0.1) * g[0])


def test_gradient_accumulation_applies_the_mean_every_n_steps():
    """Keras 3: steps 1..n-1 only add the gradients; step n updates with their mean; `iterations`
    counts updates; a schedule sees every step."""
    params, grads = _problem()
    acc = optimizers.Adam(0.01, gradient_accumulation_steps=2)
    ref = optimizers.Adam(0.01)
    p1, p2 = [p.copy() for p in params], [p.copy() for p in params]
    for t, g in enumerate(grads):
        before = [p.copy() for p in p1]
        acc.apply(g, p1)
        if t % 2 == 0:
            assert all(np.array_equal(a, b) for a, b in zip(p1, before)) and acc.iterations == t // 2
        else:
            ref.apply([(a + b) / np.float32(2) for a, b in zip(grads[t - 1], g)], p2)
            assert all(np.array_equal(a, b) for a, b in zip(p1, p2)) and acc.iterations == (t + 1) // 2
    assert acc._iterations == 4 and acc.iterations == 2
    sched = optimizers.SGD(schedules.PiecewiseConstantDecay([1], [1.0, 0.5]), gradient_accumulation_steps=2)
    ps = [p.copy() for p in params]
    sched.apply(grads[0], ps)
    assert sched.learning_rate == 1.0 and sched.iterations == 0       # the schedule at step 1
    sched.apply(grads[1], ps)
    assert sched.learning_rate == 0.5 and sched.iterations == 1       # at step 2, after 1 update
    sched.iterations = 3
    assert sched._iterations == 6


def test_gradient_accumulation_state_round_trip_mid_cycle():
    """The steps accumulated since the last update are part of `variables`: a state saved
    between two updates continues exactly."""
    params, grads = _problem(shapes=((3, 4),))
    a = optimizers.Nadam(0.01, gradient_accumulation_steps=3, use_ema=True)
    pa = [p.copy() for p in params]
    for g in grads[:2]:
        a.apply(g, pa)
    st = a.get_state()
    assert st["iterations"] == 0 and float(st["variables"][-1]) == 2.0
    # averages, accumulators, momentum, velocity, u_product, the accumulated-step count
    assert [v.shape for v in st["variables"]] == [(3, 4)] * 4 + [(), ()]
    b = optimizers.Nadam.from_config(a.get_config())
    pb = [p.copy() for p in pa]
    b.set_state(pb, st["iterations"], st["variables"])
    for g in grads[2:]:
        a.apply(g, pa)
        b.apply(g, pb)
    assert a._iterations == b._iterations == 4
    assert all(np.array_equal(x, y) for x, y in zip(pa + a.variables, pb + b.variables))
    with pytest.raises(ValueError, match=r"accumulated step count must be an int in \[0, 3\). Received: 3.0"):
        b.set_state(pb, 0, st["variables"][:-1] + [np.float32(3)])


def test_loss_scale_factor_divides_the_gradients():
    params, grads = _problem()
    opt = optimizers.SGD(0.1, momentum=0.9, loss_scale_factor=8.0)
    scaled = _run(opt, params, [[g * np.float32(8) for g in gs] for gs in grads])
    plain = _run(optimizers.SGD(0.1, momentum=0.9), params, grads)
    assert all(np.array_equal(a, b) for a, b in zip(scaled, plain))   # powers of 2: exact
    assert opt.scale_loss(1.5) == 12.0 and optimizers.SGD().scale_loss(1.5) == 1.5


def test_clipping():
    opt = optimizers.SGD(0.1, clipvalue=0.5)
    opt.learning_rate = 0.2
    p = [np.zeros(3, np.float32)]
    opt.apply([np.array([1.0, -2.0, 0.1], np.float32)], p)
    np.testing.assert_allclose(p[0], [-0.1, 0.1, -0.02], rtol=1e-6)
    opt = optimizers.SGD(1.0, global_clipnorm=1.0)
    p = [np.zeros(2, np.float32), np.zeros(1, np.float32)]
    opt.apply([np.array([3.0, 0.0], np.float32), np.array([4.0], np.float32)], p)
    np.testing.assert_allclose(np.concatenate(p), [-0.6, 0.0, -0.8], rtol=1e-6)
    opt = optimizers.SGD(1.0, clipnorm=1.0)   # each gradient on its own
    p = [np.zeros(2, np.float32), np.zeros(1, np.float32)]
    opt.apply([np.array([3.0, 4.0], np.float32), np.array([0.5], np.float32)], p)
    np.testing.assert_allclose(np.concatenate(p), [-0.6, -0.8, -0.5], rtol=1e-6)
    opt = optimizers.SGD(1.0, global_clipnorm=1.0)   # a non-finite norm makes every gradient NaN (Keras)
    p = [np.zeros(2, np.float32)]
    opt.apply([np.array([np.inf, 1.0], np.float32)], p)
    assert np.isnan(p[0]).all()


# ---- schedules ---------------------------------------------------------------------------------

def test_schedules_values():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert s(9) == 0.1 and s(10) == 0.05 and s(25) == 0.025
    assert optimizers.schedules.ExponentialDecay is schedules.ExponentialDecay is optimizers.ExponentialDecay
    assert schedules.PiecewiseConstantDecay([5], [1.0, 0.5])(6) == 0.5
    assert schedules.InverseTimeDecay(1.0, 1, 1.0)(1) == 0.5
    assert schedules.InverseTimeDecay(1.0, 2, 1.0, staircase=True)(3) == 0.5
    p = schedules.PolynomialDecay(1.0, 4, end_learning_rate=0.0, power=2.0)
    assert [p(t) for t in (0, 2, 4, 9)] == [1.0, 0.25, 0.0, 0.0]
    pc = schedules.PolynomialDecay(1.0, 4, end_learning_rate=0.0, cycle=True)
    assert [pc(t) for t in (0, 2, 4, 6, 8)] == [1.0, 0.5, 0.0, 0.25, 0.0]   # periods of 4, then 8
    c = schedules.CosineDecay(1.0, 10, alpha=0.2)
    assert [round(c(t), 12) for t in (0, 5, 10, 50)] == [1.0, 0.6, 0.2, 0.2]
    w = schedules.CosineDecay(0.0, 10, warmup_target=0.5, warmup_steps=5)
    assert [round(w(t), 12) for t in (0, 1, 5, 10, 15, 99)] == [0.0, 0.1, 0.5, 0.25, 0.0, 0.0]
    r = schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5, alpha=0.0)
    # periods [0, 10), [10, 30), [30, 70) starting at 1, 0.5, 0.25
    assert [round(r(t), 12) for t in (0, 5, 10, 20, 30, 50)] == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    r1 = schedules.CosineDecayRestarts(1.0, 4, t_mul=1.0, alpha=0.5)
    assert [round(r1(t), 12) for t in (0, 2, 4, 6)] == [1.0, 0.75, 1.0, 0.75]


def test_schedule_drives_the_learning_rate():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    opt = optimizers.SGD(s)
    assert opt.learning_rate == 0.1
    opt.iterations = 10
    assert opt.learning_rate == 0.05
    with pytest.raises(TypeError, match=r"created with a learning-rate schedule"):
        opt.learning_rate = 0.3


ALL_SCHEDULES = [
    schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True, name="e"),
    schedules.InverseTimeDecay(0.1, 10, 0.5),
    schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.5, 0.1]),
    schedules.PolynomialDecay(0.1, 10, 0.01, power=0.5, cycle=True),
    schedules.CosineDecay(0.0, 10, alpha=0.1, warmup_target=0.2, warmup_steps=5),
    schedules.CosineDecayRestarts(0.1, 4, t_mul=3.0, m_mul=0.9, alpha=0.05),
]


@pytest.mark.parametrize("s", ALL_SCHEDULES, ids=lambda s: type(s).__name__)
def test_schedule_config_round_trip(s):
    d = json.loads(json.dumps(schedules.serialize(s)))   # as model.save's header stores it
    assert d == {"class_name": type(s).__name__, "config": s.get_config()}
    back = schedules.deserialize(d)
    assert type(back) is type(s) and back.get_config() == s.get_config()
    assert [back(t) for t in range(0, 60, 3)] == [s(t) for t in range(0, 60, 3)]
    opt = optimizers.deserialize(optimizers.serialize(optimizers.Adam(s)))
    assert opt.get_config()["learning_rate"] == d


class HalvingSchedule(schedules.LearningRateSchedule):
    def __init__(self, lr):
        self.lr = lr

    def __call__(self, step):
        return self.lr / 2 ** step

    def get_config(self):
        return {"lr": self.lr}


@pytest.mark.parametrize("opt", [
    lambda: optimizers.Nadam(schedules.CosineDecay(0.01, 20, warmup_target=0.02, warmup_steps=3), use_ema=True),
    lambda: optimizers.SGD(HalvingSchedule(0.1), momentum=0.9, gradient_accumulation_steps=2),
    lambda: optimizers.Ftrl(0.05, l1_regularization_strength=0.001),
    lambda: optimizers.Lion(schedules.PolynomialDecay(1e-3, 50), weight_decay=0.01),
    lambda: optimizers.Adagrad(0.05, clipnorm=1.0),
    lambda: optimizers.Adadelta(1.0, global_clipnorm=2.0),
    lambda: optimizers.Adamax(schedules.PiecewiseConstantDecay([2], [1e-3, 5e-4]), loss_scale_factor=4.0),
], ids=["nadam_cosine_ema", "sgd_custom_accumulation", "ftrl", "lion_polynomial", "adagrad", "adadelta", "adamax"])
def test_model_save_load_continues_exactly(opt, tmp_path):
    """Through model.save/load_model: the optimizer (schedule and common arguments included) and
    its state come back; training goes on exactly as without the interruption."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((24, 5)).astype(np.float32), rng.integers(0, 3, 24)

    def model():
        m = models.Sequential([layers.Dense(4, activation="relu", input_shape=(5,)),
                               layers.Dense(3, activation="softmax")])
        m.compile(optimizer=opt(), loss="sparse_categorical_crossentropy")
        return m

    a = model()
    a.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)   # 3 steps: mid accumulation cycle
    path = str(tmp_path / "m.pyconv")
    a.save(path)
    b = models.load_model(path, custom_objects={"HalvingSchedule": HalvingSchedule})
    assert b.optimizer.get_config() == a.optimizer.get_config()
    assert b.optimizer.iterations == a.optimizer.iterations and b.optimizer._iterations == a.optimizer._iterations
    for m in (a, b):
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for u, v in zip(a.get_weights() + a.optimizer.variables, b.get_weights() + b.optimizer.variables):
        assert np.array_equal(u, v)


# ---- state, configuration, names ----------------------------------------------------------------

ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Nadam", "Adagrad", "Adadelta", "Adamax", "Lion", "Ftrl"]


@pytest.mark.parametrize("name", ALL)
def test_state_round_trip_and_config(name):
    cls = getattr(optimizers, name)
    params, grads = _problem()
    kw = {"momentum": 0.5} if name == "SGD" else {}
    a = cls(use_ema=True, **kw)
    ps = [p.copy() for p in params]
    a.apply(grads[0], ps)
    assert a.iterations == 1
    n_slots = len(a._slot_names)
    assert len(a.variables) == 2 + 2 * n_slots + (name == "Nadam")   # averages, slots, u_product
    st = a.get_state()
    b = cls.from_config(a.get_config())
    assert b.get_config() == a.get_config() and type(optimizers.get(optimizers.serialize(a))) is cls
    qs = [p.copy() for p in ps]
    b.set_state(qs, st["iterations"], st["variables"])
    for g in grads[1:]:
        a.apply(g, ps)
        b.apply(g, qs)
    assert all(np.array_equal(p, q) for p, q in zip(ps + a.variables, qs + b.variables))


def test_keras_defaults_and_names():
    a = optimizers.get("adam")
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)
    s = optimizers.get("sgd")
    assert (s.learning_rate, s.momentum, s.nesterov, s.name) == (0.01, 0.0, False, "sgd")
    r = optimizers.get("rmsprop")
    assert (r.learning_rate, r.rho, r.momentum, r.epsilon, r.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    assert optimizers.get("adamw").weight_decay == 0.004
    n = optimizers.get("Nadam")
    assert (n.learning_rate, n.beta_1, n.beta_2, n.epsilon, n.name) == (0.001, 0.9, 0.999, 1e-7, "nadam")
    g = optimizers.get("adagrad")
    assert (g.learning_rate, g.initial_accumulator_value, g.epsilon) == (0.001, 0.1, 1e-7)
    d = optimizers.get("adadelta")
    assert (d.learning_rate, d.rho, d.epsilon) == (0.001, 0.95, 1e-7)
    x = optimizers.get("ADAMAX")
    assert (x.learning_rate, x.beta_1, x.beta_2, x.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    li = optimizers.get("lion")
    assert (li.learning_rate, li.beta_1, li.beta_2) == (0.001, 0.9, 0.99)
    f = optimizers.get("ftrl")
    assert (f.learning_rate, f.learning_rate_power, f.initial_accumulator_value, f.l1_regularization_strength,
            f.l2_regularization_strength, f.l2_shrinkage_regularization_strength, f.beta) == \
        (0.001, -0.5, 0.1, 0.0, 0.0, 0.0, 0.0)
    assert (a.use_ema, a.ema_momentum, a.ema_overwrite_frequency, a.loss_scale_factor,
            a.gradient_accumulation_steps) == (False, 0.99, None, None, None)
    assert optimizers.get(optimizers.Lion).name == "lion"
    assert optimizers.SGD(gradient_accumulation_steps=0).gradient_accumulation_steps is None   # Keras: 0 = off


def test_summary_counts_every_state_array():
    """Keras 3 counts the iteration and learning-rate variables, the slots, EMA averages,
    accumulators and Nadam's u_product; not pyconv's accumulated-step count."""
    opt = optimizers.Nadam(use_ema=True, gradient_accumulation_steps=2)
    opt.apply([np.ones((2, 3), np.float32)], [np.zeros((2, 3), np.float32)])
    assert opt._count_variables() == (6 * 4 + 1 + 2, 4 * (6 * 4 + 1) + 12)


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
    opt = optimizers.Adam()
    x, y = np.zeros((8, 3), np.float32), np.zeros(8, np.int64)
    a = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    a.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    a.fit(x, y, verbose=0)
    b = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    b.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"built for other weight arrays"):
        b.fit(x, y, verbose=0)


@pytest.mark.parametrize("name", ALL)
def test_every_optimizer_trains_a_model(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    m = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(4,))])
    lr = {"Adadelta": 10.0, "Ftrl": 0.5, "Adagrad": 0.5, "SGD": 0.5}.get(name, 0.05)   # Adadelta starts slowly
    m.compile(optimizer=getattr(optimizers, name)(lr), loss="sparse_categorical_crossentropy")
    h = m.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert h.history["loss"][-1] < 0.8 * h.history["loss"][0]


def test_doctests():
    result = doctest.testmod(optimizers, raise_on_error=False)
    assert result.failed == 0 and result.attempted >= 8


# ---- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,exc,match", [
    (lambda: optimizers.get("adan"), ValueError, r"Unknown optimizer: 'adan'. Valid values are: 'adam', 'sgd', "
     r"'rmsprop', 'adamw', 'nadam', 'adagrad', 'adadelta', 'adamax', 'lion', 'ftrl'"),
    (lambda: optimizers.get(3), TypeError, r"`optimizer` must be a string \('adam', .*'ftrl'\) or a "
     r"pyconv.optimizers.Optimizer instance. Received: optimizer=3"),
    (lambda: optimizers.deserialize({"class_name": "Adan"}), ValueError,
     r"Unknown optimizer class 'Adan': pass it in `custom_objects`"),
    (lambda: optimizers.Adam(-1), ValueError, r"`learning_rate` must be a positive float. Received: learning_rate=-1"),
    (lambda: optimizers.SGD(momentum=1.5), ValueError, r"`momentum` must be a float in \[0, 1\). Received: momentum=1.5"),
    (lambda: optimizers.Adam(foo=1), TypeError, r"Adam\(\) got an unsupported argument: foo=1"),
    (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), ValueError,
     r"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: clipnorm=1.0, clipvalue=1.0"),
    (lambda: optimizers.SGD(weight_decay=-0.1), ValueError, r"`weight_decay` must be a float >= 0. Received: weight_decay=-0.1"),
    (lambda: optimizers.SGD(weight_decay="x"), TypeError, r"`weight_decay` must be a float >= 0. Received: weight_decay='x'"),
    (lambda: optimizers.SGD(use_ema=True, ema_momentum=1.5), ValueError,
     r"`ema_momentum` must be a float in \[0, 1\]. Received: ema_momentum=1.5"),
    (lambda: optimizers.SGD(use_ema=True, ema_overwrite_frequency=0), ValueError,
     r"`ema_overwrite_frequency` must be an int >= 1 or None. Received: ema_overwrite_frequency=0"),
    (lambda: optimizers.SGD(ema_overwrite_frequency=2.5), ValueError,
     r"`ema_overwrite_frequency` must be an int >= 1 or None. Received: ema_overwrite_frequency=2.5"),
    (lambda: optimizers.SGD(gradient_accumulation_steps=1), ValueError,
     r"`gradient_accumulation_steps` must be an int >= 2 or None. Received: gradient_accumulation_steps=1"),
    (lambda: optimizers.SGD(gradient_accumulation_steps=2.0), ValueError,
     r"`gradient_accumulation_steps` must be an int >= 2 or None. Received: gradient_accumulation_steps=2.0"),
    (lambda: optimizers.SGD(loss_scale_factor=0), ValueError,
     r"`loss_scale_factor` must be a positive float. Received: loss_scale_factor=0"),
    (lambda: optimizers.AdamW(weight_decay=None), ValueError, r"`weight_decay` must be a float for AdamW"),
    (lambda: optimizers.Nadam(beta_2=1.0), ValueError, r"`beta_2` must be a float in \[0, 1\). Received: beta_2=1.0"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1), ValueError,
     r"`initial_accumulator_value` must be a float >= 0. Received: initial_accumulator_value=-1"),
    (lambda: optimizers.Adadelta(rho=-0.1), ValueError, r"`rho` must be a float in \[0, 1\). Received: rho=-0.1"),
    (lambda: optimizers.Adamax(epsilon=0.0), ValueError, r"`epsilon` must be a positive float. Received: epsilon=0.0"),
    (lambda: optimizers.Lion(beta_1=0), ValueError, r"`beta_1` must be a float in \(0, 1\]. Received: beta_1=0"),
    (lambda: optimizers.Lion(beta_2=1.5), ValueError, r"`beta_2` must be a float in \[0, 1\]. Received: beta_2=1.5"),
    (lambda: optimizers.Ftrl(learning_rate_power=0.5), ValueError,
     r"`learning_rate_power` must be a float <= 0. Received: learning_rate_power=0.5"),
    (lambda: optimizers.Ftrl(l1_regularization_strength=-1), ValueError,
     r"`l1_regularization_strength` must be a float >= 0. Received: l1_regularization_strength=-1"),
    (lambda: optimizers.Ftrl(l2_shrinkage_regularization_strength=-1), ValueError,
     r"`l2_shrinkage_regularization_strength` must be a float >= 0"),
    (lambda: optimizers.Ftrl(beta=float("inf")), ValueError, r"`beta` must be a float. Received: beta=inf"),
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.9), ValueError, r"`decay_steps` must be a positive int. Received: decay_steps=0"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [1.0]), ValueError,
     r"`values` must have one more entry than `boundaries`. Received: boundaries=\[1, 2\], values=\[1.0\]"),
    (lambda: schedules.PiecewiseConstantDecay([2, 2], [1.0, 0.5, 0.1]), ValueError,
     r"`boundaries` must be strictly increasing. Received: boundaries=\[2, 2\]"),
    (lambda: schedules.PiecewiseConstantDecay([1], [1.0, "x"]), TypeError, r"`values\[1\]` must be a number. Received: values\[1\]='x'"),
    (lambda: schedules.PiecewiseConstantDecay([None], [1.0, 2.0]), TypeError,
     r"`boundaries\[0\]` must be a number. Received: boundaries\[0\]=None"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=-1.0), ValueError,
     r"`warmup_target` must be a float >= 0. Received: warmup_target=-1.0"),
    (lambda: schedules.PolynomialDecay(0.1, 10, power="2"), TypeError, r"`power` must be a float. Received: power='2'"),
    (lambda: schedules.PolynomialDecay(0.1, 10, end_learning_rate=-1), ValueError,
     r"`end_learning_rate` must be a float >= 0. Received: end_learning_rate=-1"),
    (lambda: schedules.CosineDecay(-0.1, 10), ValueError,
     r"`initial_learning_rate` must be a float >= 0. Received: initial_learning_rate=-0.1"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1), ValueError,
     r"`warmup_steps` must be an int >= 0. Received: warmup_steps=-1"),
    (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0), ValueError, r"`t_mul` must be a positive float. Received: t_mul=0"),
    (lambda: schedules.CosineDecayRestarts(0.1, 0), ValueError,
     r"`first_decay_steps` must be a positive int. Received: first_decay_steps=0"),
    (lambda: schedules.deserialize({"class_name": "Nope", "config": {}}), ValueError,
     r"Unknown learning-rate schedule 'Nope': pass its class in `custom_objects`. Built in: ExponentialDecay"),
    (lambda: schedules.deserialize("ExponentialDecay"), TypeError,
     r"A serialized schedule must be a dict with 'class_name' and 'config'. Received: 'ExponentialDecay'"),
    (lambda: schedules.LearningRateSchedule()(0), NotImplementedError,
     r"Learning rate schedule 'LearningRateSchedule' must override `__call__\(self, step\)`"),
    (lambda: optimizers.Adam(schedules.LearningRateSchedule()).get_config(), NotImplementedError,
     r"Learning rate schedule 'LearningRateSchedule' must override `get_config\(\)` in order to be serializable"),
])
def test_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_decay_argument_warns_and_is_ignored():
    with pytest.warns(UserWarning, match=r"Argument `decay` is no longer supported and will be ignored."):
        opt = optimizers.SGD(decay=0.1)
    assert "decay" not in opt.get_config()


def test_state_and_apply_errors():
    opt = optimizers.Adam()
    w = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"Adam.apply: parameter 0 must be a writeable float32 ndarray \(updated "
                                         r"in place\). Received: a float64 ndarray."):
        optimizers.Adam().apply([np.ones(3)], [np.zeros(3)])
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"parameter 0 must be a writeable float32 ndarray \(updated in place\). "
                                         r"Received: a float32 ndarray, read-only."):
        optimizers.Adam().apply([np.ones(3, np.float32)], [ro])
    with pytest.raises(ValueError, match=r"parameter 0 must be a writeable float32 ndarray \(updated in place\). "
                                         r"Received: list."):
        optimizers.Adam().apply([np.ones(3, np.float32)], [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"The optimizer state has 1 arrays; this Adam for these weights needs 2"):
        opt.set_state([w], 0, [np.zeros(3, np.float32)])
    with pytest.raises(ValueError, match=r"Optimizer state array of shape \(4,\) does not fit a parameter of shape \(3,\)"):
        opt.set_state([w], 0, [np.zeros(3, np.float32), np.zeros(4, np.float32)])
    with pytest.raises(ValueError, match=r"The optimizer's `iterations` must be an int >= 0. Received: -1"):
        opt.set_state([w], -1, [])
    with pytest.raises(ValueError, match=r"The optimizer's `iterations` must be an int >= 0. Received: 1.5"):
        opt.iterations = 1.5
    assert not opt.built   # the refused set_state calls left it untouched


def test_fit_applies_loss_scale_factor_and_ends_with_the_ema_weights():
    """The trainer's two hooks: gradients of the scaled loss (the optimizer divides them back:
    with a power of two the weights are bitwise those of no scaling), and, at the end of fit,
    the EMA averages written into the weights (Keras 3's finalize_variable_values)."""
    from pyconv import layers, models, utils
    x = np.random.default_rng(0).random((32, 4))
    y = np.arange(32) % 3

    def train(**kw):
        utils.set_random_seed(0)
        m = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
        m.compile(optimizer=optimizers.SGD(0.1, **kw), loss="sparse_categorical_crossentropy")
        h = m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return m, h.history["loss"]
    plain, lp = train()
    scaled, ls = train(loss_scale_factor=128.0)
    assert lp == ls
    for a, b in zip(plain.get_weights(), scaled.get_weights()):
        assert np.array_equal(a, b)
    ema, _ = train(use_ema=True, ema_momentum=0.9)
    averages = ema.optimizer.variables[:len(ema.weights)]
    for w, a in zip(ema.weights, averages):
        np.testing.assert_array_equal(w, a)
    assert not all(np.array_equal(a, b) for a, b in zip(ema.get_weights(), plain.get_weights()))


@settings(max_examples=200, deadline=None)
@given(lr=st.floats(float(np.float32(1e-6)), 10.0, width=32), t=st.integers(1, 2**26),
       b1=st.floats(0.0, float(np.float32(0.999999)), width=32),
       b2=st.floats(0.0, float(np.float32(0.999999)), width=32))
@example(lr=0.001, t=1, b1=0.9, b2=0.999).via("Keras' defaults, first step")
@example(lr=0.001, t=2**24 + 1, b1=0.9, b2=0.999).via("t past float32's exact integers")
def test_adam_alpha_is_bitwise_the_numpy_float32_formula(lr, t, b1, b2):
    """Adam's per-step size from one C call: the same bits as the NumPy float32 scalars
    (the rule's documented form) give, so the C and NumPy update paths still agree."""
    f = np.float32
    with np.errstate(all="ignore"):
        want = f(lr) * np.sqrt(f(1) - f(b2) ** f(t)) / (f(1) - f(b1) ** f(t))
    got = np.float32(_kernels.adam_alpha(lr, t, b1, b2))
    assert np.array_equal(got, want, equal_nan=True), (got, want)
