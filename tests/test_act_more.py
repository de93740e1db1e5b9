"""Keras 3's other activations (csrc/act_more.c): kernels vs float64 references, gradients vs
central finite differences, fast vs _ref, thread counts, values from real Keras 3, the layers
(ReLU, LeakyReLU, ELU, PReLU, Softmax), the `activation=` protocol, the tape, and training."""
import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import pyconv
import ref_act as R
from pyconv import _kernels, _tape, activations, layers, models, nn
from reference import assert_close, numeric_grad

# name -> (forward, gradient(g, saved), float64 forward, float64 derivative, backward takes the
# output, kinks (where finite differences are not taken)). The gradient functions are the
# public nn.*_grad where tf.nn has the op, else pyconv._nn_act's.
from pyconv import _nn_act as A

ACTS = {
    "elu": (nn.elu, nn.elu_grad, R.elu, R.elu_d, False, [0.0]),
    "elu_0.5": (lambda x: nn.elu(x, 0.5), lambda g, x: nn.elu_grad(g, x, 0.5),
                lambda x: R.elu(x, 0.5), lambda x: R.elu_d(x, 0.5), False, [0.0]),
    "selu": (nn.selu, nn.selu_grad, R.selu, R.selu_d, False, [0.0]),
    "gelu": (nn.gelu, nn.gelu_grad, R.gelu, R.gelu_d, False, []),
    "gelu_tanh": (lambda x: nn.gelu(x, approximate=True), lambda g, x: nn.gelu_grad(g, x, True),
                  R.gelu_tanh, R.gelu_tanh_d, False, []),
    "silu": (nn.silu, nn.silu_grad, R.silu, R.silu_d, False, []),
    "leaky_relu": (nn.leaky_relu, nn.leaky_relu_grad, lambda x: R.relu_general(x, 0.2),
                   lambda x: R.relu_general_d(x, 0.2), False, [0.0]),
    "relu6": (nn.relu6, nn.relu6_grad, lambda x: R.relu_general(x, max_value=6.0),
              lambda x: R.relu_general_d(x, max_value=6.0), False, [0.0, 6.0]),
    "relu_general": (lambda x: A.relu_general(x, 0.1, 4.0, 1.0),
                     lambda g, x: A.relu_general_grad(g, x, 0.1, 4.0, 1.0),
                     lambda x: R.relu_general(x, 0.1, 4.0, 1.0),
                     lambda x: R.relu_general_d(x, 0.1, 4.0, 1.0), False, [1.0, 4.0]),
    "softplus": (nn.softplus, nn.softplus_grad, R.softplus, R.softplus_d, False, []),
    "softsign": (nn.softsign, nn.softsign_grad, R.softsign, R.softsign_d, False, [0.0]),
    "hard_sigmoid": (A.hard_sigmoid, A.hard_sigmoid_grad, R.hard_sigmoid, R.hard_sigmoid_d, False,
                     [-3.0, 3.0]),
    "hard_silu": (A.hard_silu, A.hard_silu_grad, R.hard_silu, R.hard_silu_d, False, [-3.0, 3.0]),
    "exponential": (A.exponential, A.exponential_grad, R.exponential, R.exponential, True, []),
}

values = st.one_of(st.floats(-12, 12, width=32), st.floats(-2.0 ** 100, 2.0 ** 100, width=32))
arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=7), elements=values)


def _cases():
    return pytest.mark.parametrize("name", list(ACTS))


def _f32_range(v):
    """Beyond float32's range a float64 value is +-inf, as the float32 result is."""
    return np.where(np.abs(v) > np.finfo(np.float32).max, np.sign(v) * np.inf, v)


def close(actual, expected, rtol, atol, what):
    """assert_close where the infinities and NaNs must be the same, element by element."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    special = ~np.isfinite(expected)
    assert np.array_equal(actual[special], expected[special], equal_nan=True), \
        f"{what}: non-finite values differ: {actual[special]} != {expected[special]}"
    assert np.isfinite(actual[~special]).all(), f"{what}: a non-finite value where a finite one is expected"
    assert_close(actual[~special], expected[~special], rtol, atol, what)


@_cases()
@settings(max_examples=25)
@given(x=arrays)
@example(x=np.array([0.0, -0.0, 1e-30, -1e-30], np.float32))
@example(x=np.array([-3.0, 3.0, 6.0, 1.0, 4.0, -6.0, 88.0, -88.0, 89.0, -104.0], np.float32))
@example(x=np.array([1e30, -1e30, 3e38, -3e38, 1e19, -1e19], np.float32))
def test_forward_and_backward_vs_float64(name, x):
    fwd, grad, ref, dref, from_output, _ = ACTS[name]
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        y = fwd(x)
        assert y.dtype == np.float32 and y.shape == x.shape
        close(y, _f32_range(ref(x64)), 3e-6, 1e-7, f"{name} forward")
        g = np.linspace(-1, 2, x.size, dtype=np.float32).reshape(x.shape)
        dx = grad(g, y if from_output else x)
        # exponential's backward is dout * out: past float32's range out is inf, and so is dx
        expected = g * y.astype(np.float64) if from_output else _f32_range(g * dref(x64))
    # the float32 forward value the derivative uses (exp's output) carries its own rounding
    close(dx, expected, 3e-6 if not from_output else 4e-7 + 3e-6, 1e-7, f"{name} backward")


@_cases()
def test_float64_derivatives_match_finite_differences(name, rng):
    """The hand-written derivatives (the references the kernels are held to) against central
    differences of the float64 forwards, away from the kinks."""
    _, _, ref, dref, _, kinks = ACTS[name]
    x = np.concatenate([rng.uniform(-8, 8, 60), [-0.3, 0.2, 2.5, -2.5, 5.9, 6.1, 0.9, 1.1, 3.9, 4.1]])
    x = x[np.all(np.abs(x[:, None] - np.array(kinks + [1e9])[None]) > 1e-3, axis=1)]
    h = 1e-6 * np.maximum(1.0, np.abs(x))   # elementwise functions: one difference per element
    num = (ref(x + h) - ref(x - h)) / (2 * h)
    assert_close(dref(x), num, 1e-6, 1e-7, f"{name}: derivative vs finite differences")


def test_the_kinks_take_tensorflows_gradient():
    """At a kink the gradient is TensorFlow's (checked against it in test_keras_values)."""
    g = np.ones(5, np.float32)
    assert np.array_equal(nn.relu6_grad(g, np.float32([0, 6, 3, -1, 7])), [0, 0, 1, 0, 0])
    assert np.array_equal(nn.leaky_relu_grad(g, np.float32([0, 1, -1, 2, -2])), np.float32([0.2, 1, 0.2, 1, 0.2]))
    assert np.array_equal(A.hard_sigmoid_grad(g, np.float32([-3, 3, 0, -4, 4])), np.float32([0, 0, 1 / 6, 0, 0]))
    assert nn.selu_grad(g[:1], np.float32([0]))[0] == np.float32(R.SELU_SCALE)
    assert nn.elu_grad(g[:1], np.float32([0]), alpha=0.5)[0] == 0.5


def test_nan_propagates():
    x = np.float32([np.nan, 1.0, -1.0])
    for name, (fwd, *_rest) in ACTS.items():
        y = fwd(x)
        assert np.isnan(y[0]), name
        assert not np.isnan(y[1:]).any(), name
    assert np.isnan(nn.log_softmax(np.float32([[np.nan, 1.0]]))).all()
    assert np.isnan(layers.PReLU()(np.float32([[np.nan, 1.0]])))[0, 0]


# ---- values from real Keras 3.15.1 (TensorFlow 2.21 CPU) ------------------------------------------
# Made in the kvenv with (KERAS_BACKEND=tensorflow /work/kvenv/bin/python):
#   import numpy as np, tensorflow as tf, keras
#   A = keras.activations
#   x = np.array([-20, -3, -1.5, -0.5, 0, 0.5, 1.5, 3, 6.5, 20], np.float32)
#   cases = {"elu": A.elu, "selu": A.selu, "gelu": A.gelu,
#            "gelu_tanh": lambda v: A.gelu(v, approximate=True), "silu": A.silu,
#            "leaky_relu": A.leaky_relu, "relu6": A.relu6, "softplus": A.softplus,
#            "softsign": A.softsign, "hard_sigmoid": A.hard_sigmoid, "hard_silu": A.hard_silu,
#            "exponential": A.exponential, "log_softmax": A.log_softmax,
#            "relu_general": lambda v: A.relu(v, negative_slope=0.1, max_value=4.0, threshold=1.0),
#            "LeakyReLU": keras.layers.LeakyReLU(), "ELU_0.5": keras.layers.ELU(0.5)}
#   for name, f in cases.items():
#       xt = tf.constant(x)
#       with tf.GradientTape() as t:
#           t.watch(xt)
#           y = f(xt)
#           s = tf.reduce_sum(y * tf.constant(np.linspace(0.5, 1.5, 10, dtype=np.float32)))
#       print(name, np.asarray(y), np.asarray(t.gradient(s, xt)))
KX = np.array([-20, -3, -1.5, -0.5, 0, 0.5, 1.5, 3, 6.5, 20], np.float32)
KERAS = {
    "elu": ([-1., -0.95021296, -0.77686983, -0.39346933, 0., 0.5, 1.5, 3., 6.5, 20.],
            [0., 0.030425416, 0.16114956, 0.5054422, 0.9444444, 1.0555556, 1.1666666, 1.2777778, 1.3888888, 1.5]),
    "selu": ([-1.7580993, -1.6705687, -1.3658143, -0.69175816, 0., 0.5253505, 1.5760515, 3.152103, 6.8295565, 21.01402],
             [0., 0.05349093, 0.28331694, 0.88861763, 0.9923287, 1.1090733, 1.2258178, 1.3425624, 1.459307, 1.5760515]),
    "gelu": ([-0.0, -4.0496965e-03, -1.0021080e-01, -1.5426877e-01, 0.0, 3.4573123e-01, 1.3997892e+00, 2.9959502e+00, 6.5, 20.0],
             [0., -0.00730012, -0.09206107, 0.11042072, 0.4722222, 0.91568935, 1.3153807, 1.2930416, 1.3888888, 1.5]),
    "gelu_tanh": ([-0.0, -3.6374331e-03, -1.0042843e-01, -1.5428600e-01, 0.0, 3.4571400e-01, 1.3995715e+00, 2.9963627e+00, 6.5, 20.0],
                  [0., -0.007079259, -0.09223557, 0.11052507, 0.4722222, 0.91555715, 1.3156625, 1.2925799, 1.3888888, 1.5]),
    "silu": ([-4.1223082e-08, -1.4227760e-01, -2.7363831e-01, -1.8877034e-01, 0.0, 3.1122968e-01, 1.2263616e+00, 2.8577223e+00, 6.4902420e+00, 20.0],
             [-1.9580964e-08, -5.3841390e-02, -2.9823560e-02, 2.1669902e-01, 4.7222221e-01, 7.8107017e-01, 1.2148432e+00, 1.3903553e+00, 1.4003359e+00, 1.5]),
    "leaky_relu": ([-4., -0.6, -0.3, -0.1, 0., 0.5, 1.5, 3., 6.5, 20.],
                   [0.1, 0.12222222, 0.14444445, 0.16666667, 0.18888889, 1.0555556, 1.1666666, 1.2777778, 1.3888888, 1.5]),
    "relu6": ([0., 0., 0., 0., 0., 0.5, 1.5, 3., 6., 6.],
              [0., 0., 0., 0., 0., 1.0555556, 1.1666666, 1.2777778, 0., 0.]),
    "softplus": ([2.0611537e-09, 4.8587356e-02, 2.0141326e-01, 4.7407699e-01, 6.9314718e-01, 9.7407693e-01, 1.7014133e+00, 3.0485871e+00, 6.5015025e+00, 20.0],
                 [1.0305771e-09, 2.8982474e-02, 1.3175178e-01, 3.1461722e-01, 4.7222221e-01, 6.5704042e-01, 9.5383680e-01, 1.2171781e+00, 1.3868039e+00, 1.5]),
    "softsign": ([-0.95238096, -0.75, -0.6, -0.33333334, 0., 0.33333334, 0.6, 0.75, 0.8666667, 0.95238096],
                 [0.001133787, 0.038194444, 0.115555555, 0.37037036, 0.9444444, 0.46913582, 0.18666667, 0.07986111, 0.024691356, 0.00340136]),
    "hard_sigmoid": ([0., 0., 0.25, 0.41666666, 0.5, 0.5833333, 0.75, 1., 1., 1.],
                     [0., 0., 0.120370366, 0.13888888, 0.1574074, 0.17592593, 0.19444443, 0., 0., 0.]),
    "hard_silu": ([-0., -0., -0.375, -0.20833333, 0., 0.29166666, 1.125, 3., 6.5, 20.],
                  [0., 0., 1.4901161e-08, 2.7777776e-01, 4.7222221e-01, 7.0370370e-01, 1.1666666e+00, 1.2777778e+00, 1.3888888e+00, 1.5]),
    "exponential": ([2.0611537e-09, 4.9787071e-02, 2.2313017e-01, 6.0653067e-01, 1.0, 1.6487212e+00, 4.4816890e+00, 2.0085537e+01, 6.6514166e+02, 4.8516518e+08],
                    [1.0305768e-09, 3.0425431e-02, 1.6114956e-01, 5.0544220e-01, 9.4444442e-01, 1.7403169e+00, 5.2286367e+00, 2.5664852e+01, 9.2380780e+02, 7.2774778e+08]),
    "log_softmax": ([-40., -23.000002, -21.500002, -20.500002, -20.000002, -19.500002, -18.500002, -17.000002, -13.500001, -1.4305105e-06],
                    [0.5, 0.6111111, 0.7222222, 0.8333333, 0.9444444, 1.0555556, 1.1666665, 1.2777774, 1.3888751, -8.499986]),
    "relu_general": ([-2.1000001, -0.4, -0.25, -0.15, -0.1, -0.05, 1.5, 3., 4., 4.],
                     [0.05, 0.06111111, 0.072222225, 0.083333336, 0.094444446, 0.10555556, 1.1666666, 1.2777778, 0., 0.]),
    "LeakyReLU": ([-6., -0.90000004, -0.45000002, -0.15, 0., 0.5, 1.5, 3., 6.5, 20.],
                  [0.15, 0.18333334, 0.21666667, 0.25, 0.28333333, 1.0555556, 1.1666666, 1.2777778, 1.3888888, 1.5]),
    "ELU_0.5": ([-0.5, -0.47510648, -0.38843492, -0.19673467, 0., 0.5, 1.5, 3., 6.5, 20.],
                [0., 0.015212708, 0.08057478, 0.2527211, 0.4722222, 1.0555556, 1.1666666, 1.2777778, 1.3888888, 1.5]),
}


def _keras_case(name):
    """(forward, gradient) of pyconv's counterpart of a KERAS entry."""
    if name in ACTS:
        fwd, grad, *_ = ACTS[name]
        return fwd, lambda g, x, y: grad(g, y if ACTS[name][4] else x)
    if name == "log_softmax":
        return activations.log_softmax, lambda g, x, y: nn.log_softmax_grad(g, y)
    layer = {"LeakyReLU": layers.LeakyReLU(), "ELU_0.5": layers.ELU(0.5)}[name]

    def grad(g, x, y):
        _, ctx = layer._fwd(x, True)
        return layer._bwd(ctx, g, True)[0]
    return layer, grad


@pytest.mark.parametrize("name", list(KERAS))
def test_keras_values(name):
    fwd, grad = _keras_case(name)
    y_k, g_k = (np.array(v, np.float32) for v in KERAS[name])
    y = np.asarray(fwd(KX))
    assert_close(y, y_k, 2e-6, 1e-7, f"{name} vs Keras")
    dy = np.linspace(0.5, 1.5, 10, dtype=np.float32)
    assert_close(grad(dy, KX, y), g_k, 2e-6, 1e-7, f"{name} gradient vs TensorFlow")


def test_keras_names_and_serialization():
    """Keras 3 serializes the aliases under the canonical name; gelu is exact by default."""
    for name, canonical in [("swish", "silu"), ("hard_swish", "hard_silu"), ("ELU", "elu"), ("gelu", "gelu")]:
        assert activations.serialize(activations.get(name)) == canonical
        assert layers.Dense(2, activation=name).get_config()["activation"] == canonical
        assert layers.Conv2D(2, 3, activation=name).get_config()["activation"] == canonical
    assert activations.get(activations.swish) is activations.get("silu")
    assert activations.get(nn.elu) is activations.get("elu")
    assert np.array_equal(activations.gelu(KX), nn.gelu(KX, approximate=False))
    assert np.array_equal(activations.leaky_relu(KX), nn.leaky_relu(KX, alpha=0.2))
    assert np.array_equal(activations.relu(KX, max_value=6.0), nn.relu6(KX))
    assert np.array_equal(activations.relu(KX), nn.relu(KX))


# ---- log_softmax and softmax over any axes ---------------------------------------------------------

@settings(max_examples=30)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                    elements=st.floats(-1e4, 1e4, width=32)), data=st.data())
@example(x=np.float32([[1e4, -1e4, 0.0]]), data=None)
def test_log_softmax_and_softmax_over_axes(x, data):
    axis = -1 if data is None else data.draw(st.sampled_from(
        [-1] + list(range(x.ndim)) + ([(0, x.ndim - 1)] if x.ndim > 1 else [])))
    perm = [i for i in range(x.ndim) if i not in ((axis % x.ndim,) if isinstance(axis, int) else axis)]
    moved = perm + list((axis % x.ndim,) if isinstance(axis, int) else axis)
    x64 = np.moveaxis(x.astype(np.float64).transpose(moved).reshape(
        [x.shape[i] for i in perm] + [-1]), -1, -1)

    def back(v):   # undo: (kept..., merged) -> x's layout
        return v.reshape([x.shape[i] for i in moved]).transpose(np.argsort(moved))
    ref = back(R.log_softmax(x64))
    assert_close(nn.log_softmax(x, axis=axis), ref, 2e-6, 2e-5 * max(1, np.abs(x).max() * 1e-3), "log_softmax")
    assert_close(nn.softmax(x, axis=axis), np.exp(ref), 3e-6, 1e-7, "softmax")
    g = np.linspace(-1, 1, x.size, dtype=np.float32).reshape(x.shape)
    g64 = g.astype(np.float64).transpose(moved).reshape(x64.shape)
    assert_close(nn.log_softmax_grad(g, nn.log_softmax(x, axis=axis), axis=axis),
                 back(R.log_softmax_grad(g64, x64)), 3e-6, 2e-6, "log_softmax grad")


def test_log_softmax_grad_finite_differences(rng):
    z = rng.standard_normal((3, 5))
    g = rng.standard_normal((3, 5))
    num = numeric_grad(lambda v: (R.log_softmax(v) * g).sum(), z)
    assert_close(R.log_softmax_grad(g, z), num, 1e-6, 1e-7, "reference vs finite differences")
    assert_close(nn.log_softmax_grad(g, nn.log_softmax(z)), num, 2e-6, 1e-6, "kernel")


def test_softmax_grad_over_axis_finite_differences(rng):
    z = rng.standard_normal((3, 4, 2))
    g = rng.standard_normal((3, 4, 2))

    def f(v):
        e = np.exp(v - v.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True) * g).sum()
    assert_close(nn.softmax_grad(g, nn.softmax(z, axis=1), axis=1), numeric_grad(f, z), 2e-6, 1e-6, "softmax axis=1")


# ---- fast vs _ref, thread counts -------------------------------------------------------------------

@settings(max_examples=30)
@given(x=arrays, ns=st.sampled_from([0.0, 0.2, 1.5]), mx=st.sampled_from([math.inf, 6.0, 0.5]),
       thr=st.sampled_from([0.0, 1.0, -0.5]))
@example(x=np.float32([np.nan, -np.inf, np.inf, 0.0, -0.0]), ns=0.0, mx=6.0, thr=0.0)
@example(x=np.float32([-1.1754944e-38]), ns=0.2, mx=math.inf, thr=0.0).via("a slope into the subnormals")
@example(x=np.float32([-7.256143]), ns=0.2, mx=math.inf, thr=1.0).via("three roundings")
def test_relu_general_fast_equals_ref(x, ns, mx, thr):
    fast = _kernels.relu_general_fwd(x, ns, mx, thr)
    assert np.array_equal(fast, _kernels.relu_general_fwd(x, ns, mx, thr, ref=True), equal_nan=True)
    g = np.linspace(-1, 1, x.size, dtype=np.float32).reshape(x.shape)
    assert np.array_equal(_kernels.relu_general_bwd(g, x, ns, mx, thr),
                          _kernels.relu_general_bwd(g, x, ns, mx, thr, ref=True), equal_nan=True)
    with np.errstate(invalid="ignore"):
        expected = R.relu_general(x.astype(np.float64), ns, None if math.isinf(mx) else mx, thr)
    finite = np.isfinite(x)
    # float32 against the float64 composition: the slope rounded to float32, x - threshold
    # rounded, the product rounded -- three half-ulps, 3 * 2^-24 relative (hypothesis found
    # (-7.256143 - 1) * 0.2 off by 1.0e-7); and where the slope takes a value into the subnormal
    # range, the subnormal grid's half spacing 2^-150 (it found -1.18e-38 * 0.2)
    assert_close(fast[finite], expected[finite], 3 * 2.0 ** -24, 2.0 ** -150, "relu_general vs Keras' composition")


@settings(max_examples=30)
@given(x=arrays)
@example(x=np.float32([0.0, -0.0, 1e-30, -1e-30, 3e-8, -3e-8, 1e-4, -1e-4, -17.0, -18.0, -88.0, -104.0, np.nan]))
def test_exp_expm1_log1p_polynomials_vs_ref(x):
    """elu, selu, softplus and exponential use exp/expm1/log1p polynomials (exp_k, expm1_k,
    log1p_k): within 4 float32 ulps of their _ref twins, which use the C library's."""
    for fast, ref in [(_kernels.elu_fwd(x, 0.7), _kernels.elu_fwd(x, 0.7, ref=True)),
                      (_kernels.selu_fwd(x), _kernels.selu_fwd(x, ref=True)),
                      (_kernels.softplus_fwd(x), _kernels.softplus_fwd(x, ref=True)),
                      (_kernels.exponential_fwd(x), _kernels.exponential_fwd(x, ref=True))]:
        # 4 ulps, relative; among the denormals 4 ulps of the smallest normal (4 * 2^-149);
        # infinities and NaNs where the _ref has them
        close(fast, ref, 4 * 2.0 ** -23, 4 * 2.0 ** -149, "fast vs _ref")


SHAPES_SHARED = [((2, 3, 4, 5), None), ((2, 3, 4, 5), [1, 2]), ((3, 7), None), ((2, 3, 4, 5), [3]),
                 ((1, 600, 3), [1]), ((4, 2, 3), [1, 2])]


@pytest.mark.parametrize("shape, shared", SHAPES_SHARED)
def test_prelu_kernels(shape, shared, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[0] = 0.0
    p = layers.PReLU(alpha_initializer="random_normal", shared_axes=shared)
    p.build((None,) + shape[1:])
    alpha, idx = p.alpha, p._idx
    alpha[...] = rng.standard_normal(alpha.shape).astype(np.float32)
    y = _kernels.prelu_fwd(x, alpha, idx)
    assert np.array_equal(y, _kernels.prelu_fwd(x, alpha, idx, ref=True))
    assert_close(y, R.prelu(x.astype(np.float64), alpha.astype(np.float64)), 1e-7, 0, "prelu")
    g = rng.standard_normal(shape).astype(np.float32)
    dx, da = _kernels.prelu_bwd(g, x, alpha, idx)
    dx_r, da_r = _kernels.prelu_bwd(g, x, alpha, idx, ref=True)
    rdx, rda = R.prelu_grads(x.astype(np.float64), alpha.astype(np.float64), g.astype(np.float64))
    assert np.array_equal(dx, dx_r)
    assert_close(dx, rdx, 1e-7, 0, "prelu dx")
    scale = np.abs(g * x).sum() * 2 ** -22
    assert_close(da, rda, 0, scale, "prelu dalpha")
    assert_close(da_r, rda, 0, scale, "prelu dalpha (ref)")
    assert _kernels.prelu_bwd(g, x, alpha, idx, need_dx=False)[0] is None
    # finite differences of the float64 reference, with respect to alpha
    num = numeric_grad(lambda a: (R.prelu(x.astype(np.float64), a) * g).sum(), alpha.astype(np.float64))
    assert_close(rda, num, 1e-6, 1e-6, "reference dalpha vs finite differences")


def test_results_do_not_depend_on_the_thread_count(each_thread_count, rng):
    """Above the parallel threshold (ELEMWISE_PAR_MIN = 32768 elements), every thread count
    gives the same bits, for every kernel."""
    x = (rng.standard_normal((40, 1100)) * 4).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    alpha = rng.standard_normal((1, 1100)).astype(np.float32)
    idx = np.arange(1100, dtype=np.int64)

    def run():
        out = []
        for fwd, grad, *_r, from_output, _k in ACTS.values():
            y = fwd(x)
            out += [y, grad(g, y if from_output else x)]
        out += [nn.log_softmax(x), nn.log_softmax_grad(g, nn.log_softmax(x)), nn.softmax(x, axis=0),
                _kernels.prelu_fwd(x, alpha, idx), *_kernels.prelu_bwd(g, x, alpha, idx)]
        out += list(_kernels.prelu_bwd(g.reshape(x3.shape), x3, p3.alpha, p3._idx))   # shared alpha
        return out
    x3 = x.reshape(40, 100, 11)
    p3 = layers.PReLU(alpha_initializer="random_normal", shared_axes=[1])
    p3.build((None, 100, 11))
    one, *others = [run() for _ in each_thread_count()]
    for other in others:
        for k, (a, b) in enumerate(zip(one, other)):
            assert np.array_equal(a, b, equal_nan=True), k


# ---- layers ------------------------------------------------------------------------------------------

# Keras 3.15.1's get_config keys beyond name/trainable/dtype (printed in the kvenv by
# `keras.layers.<Name>().get_config()`).
KERAS_KEYS = {"ReLU": {"max_value", "negative_slope", "threshold"}, "LeakyReLU": {"negative_slope"},
              "ELU": {"alpha"}, "Softmax": {"axis"},
              "PReLU": {"alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"}}


@pytest.mark.parametrize("layer", [
    layers.ReLU(), layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5), layers.LeakyReLU(),
    layers.LeakyReLU(negative_slope=0.01), layers.ELU(), layers.ELU(alpha=0.3), layers.Softmax(),
    layers.Softmax(axis=1), layers.Softmax(axis=(1, 2)), layers.PReLU(),
    layers.PReLU(alpha_initializer="ones", alpha_regularizer="l2", alpha_constraint="non_neg", shared_axes=[1, 2]),
], ids=lambda l: type(l).__name__)
def test_layer_config_and_save_load(layer, tmp_path, rng):
    cfg = layer.get_config()
    assert set(cfg) - {"name", "trainable", "dtype"} == KERAS_KEYS[type(layer).__name__]
    again = type(layer).from_config(cfg)
    assert again.get_config() == cfg
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    m = models.Sequential([layers.Input((3, 4, 5)), layers.Conv2D(5, 1), layer])
    if isinstance(layer, layers.PReLU):
        layer.alpha[...] = rng.uniform(0.1, 0.5, layer.alpha.shape)
    m.save(tmp_path / "m.keras")
    r = models.load_model(tmp_path / "m.keras")
    assert np.array_equal(r.predict(x, verbose=0), m.predict(x, verbose=0))
    assert r.layers[-1].get_config() == {**cfg, "name": r.layers[-1].name}


def test_layers_forward_values():
    x = np.float32([[-2.0, -0.5, 0.0, 0.7, 3.0, 8.0]])
    assert_close(layers.ReLU(max_value=4.0, negative_slope=0.5, threshold=1.0)(x),
                 R.relu_general(x.astype(np.float64), 0.5, 4.0, 1.0), 1e-7, 0, "ReLU")
    assert np.array_equal(layers.ReLU()(x), nn.relu(x))
    assert_close(layers.LeakyReLU()(x), np.where(x > 0, x, 0.3 * x), 1e-7, 0, "LeakyReLU")
    assert_close(layers.LeakyReLU(alpha=0.1)(x), np.where(x > 0, x, 0.1 * x), 1e-7, 0, "LeakyReLU(alpha)")
    assert_close(layers.ELU(alpha=2.0)(x), R.elu(x.astype(np.float64), 2.0), 1e-7, 1e-7, "ELU")
    x3 = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 5
    assert_close(layers.Softmax(axis=(1, 2))(x3).sum((1, 2)), np.ones(2), 1e-6, 0, "Softmax over 2 axes")
    assert_close(layers.Softmax(axis=1)(x3).sum(1), np.ones((2, 4)), 1e-6, 0, "Softmax(axis=1)")


def test_prelu_gradients_match_finite_differences(rng):
    """The layer's backward (dx and dalpha) against finite differences of the float64 reference."""
    p = layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1])
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    p(x)
    y, ctx = p._fwd(x, True)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx, (da,) = p._bwd(ctx, g, True)
    a64 = p.alpha.astype(np.float64)
    assert_close(dx, numeric_grad(lambda v: (R.prelu(v, a64) * g).sum(), x.astype(np.float64)), 1e-5, 1e-6, "dx")
    assert_close(da, numeric_grad(lambda a: (R.prelu(x.astype(np.float64), a) * g).sum(), a64), 1e-5, 1e-6, "dalpha")


def test_prelu_with_an_unknown_shared_axis(rng):
    """Built on (None, None, 3) with the unknown axis shared: the index is made per call."""
    i = layers.Input((None, 3))
    p = layers.PReLU(alpha_initializer="ones", shared_axes=[1])
    m = models.Model(i, p(i))
    p.alpha[...] = [0.1, 0.2, 0.3]
    for n in (2, 5):
        x = rng.standard_normal((2, n, 3)).astype(np.float32)
        assert_close(m.predict(x, verbose=0), R.prelu(x.astype(np.float64), p.alpha.astype(np.float64)), 1e-7, 0, "y")


def test_activation_protocol_in_dense_and_conv(rng):
    """Dense/Conv2D with an activation whose backward takes its input: the layer's gradients
    equal the float64 composition (kernel, then the activation's derivative at z)."""
    x = rng.standard_normal((4, 6)).astype(np.float32)
    d = layers.Dense(3, activation="softplus")
    d(x)
    y, ctx = d._fwd(x, True)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx, (dk, db) = d._bwd(ctx, g, True)
    z = x.astype(np.float64) @ d.kernel + d.bias
    assert_close(y, R.softplus(z), 2e-6, 1e-7, "y")
    dz = g * R.sigmoid(z)
    assert_close(dk, x.T.astype(np.float64) @ dz, 1e-5, 1e-6, "dkernel")
    assert_close(db, dz.sum(0), 1e-5, 1e-6, "dbias")
    assert_close(dx, dz @ d.kernel.T.astype(np.float64), 1e-5, 1e-6, "dx")
    c = layers.Conv2D(2, 3, activation="gelu")
    xi = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    c(xi)
    y, ctx = c._fwd(xi, True)
    g = rng.standard_normal(y.shape).astype(np.float32)
    _, (dk, db) = c._bwd(ctx, g, False)
    z = nn.conv2d(xi, c.kernel) + c.bias
    dz = g * R.gelu_d(z.astype(np.float64))
    assert_close(db, dz.sum((0, 1, 2)), 1e-5, 1e-5, "conv dbias through gelu")


def test_fused_relu_still_fused():
    assert layers.Dense(2, activation="relu")._fused_relu
    assert not layers.Dense(2, activation="relu6")._fused_relu
    assert not layers.ReLU(max_value=6.0)._fused_relu


# ---- the tape: nn ops and activations inside user code train ----------------------------------------

@pytest.mark.parametrize("f, grad", [
    (nn.elu, nn.elu_grad), (nn.selu, nn.selu_grad), (nn.gelu, nn.gelu_grad), (nn.silu, nn.silu_grad),
    (nn.swish, nn.silu_grad), (nn.leaky_relu, nn.leaky_relu_grad), (nn.relu6, nn.relu6_grad),
    (nn.softplus, nn.softplus_grad), (nn.softsign, nn.softsign_grad),
    (activations.hard_sigmoid, A.hard_sigmoid_grad), (activations.hard_swish, A.hard_silu_grad),
    (lambda v: activations.relu(v, 0.1, 3.0, 0.5), lambda g, v: A.relu_general_grad(g, v, 0.1, 3.0, 0.5)),
])
def test_tape_records_each_op(f, grad, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32) * 3
    g = rng.standard_normal((3, 4)).astype(np.float32)
    with _tape.recording() as recs:
        y = f(x)
    assert np.array_equal(_tape.gradient(recs, y, g, x), grad(g, x))


def test_tape_through_output_based_ops(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    for f, grad in [(activations.exponential, A.exponential_grad), (nn.log_softmax, nn.log_softmax_grad),
                    (lambda v: nn.softmax(v, axis=0), lambda g, y: nn.softmax_grad(g, y, axis=0))]:
        with _tape.recording() as recs:
            y = f(x)
        assert np.array_equal(_tape.gradient(recs, y, g, x), grad(g, y))


# ---- training -----------------------------------------------------------------------------------------

NEW = ["elu", "selu", "gelu", "silu", "swish", "leaky_relu", "relu6", "softplus", "softsign",
       "hard_sigmoid", "hard_silu", "hard_swish", "exponential", "log_softmax"]


@pytest.mark.parametrize("act", NEW)
def test_each_activation_trains(act):
    pyconv.utils.set_random_seed(3)
    r = np.random.default_rng(0)
    x = r.standard_normal((128, 4)).astype(np.float32)
    y = (np.sin(x[:, :1] * 2) + x[:, 1:2] * x[:, 2:3]).astype(np.float32)
    m = models.Sequential([layers.Input((4,)), layers.Dense(16, activation=act, kernel_initializer="glorot_uniform"),
                           layers.Dense(16), layers.Activation(act), layers.Dense(1)])
    m.compile(optimizer=pyconv.optimizers.Adam(0.01), loss="mse")
    h = m.fit(x, y, batch_size=32, epochs=12, verbose=0)
    assert h.history["loss"][-1] < 0.8 * h.history["loss"][0], (act, h.history["loss"])


def test_layers_train_and_prelu_alpha_moves():
    pyconv.utils.set_random_seed(5)
    r = np.random.default_rng(1)
    x = r.standard_normal((64, 6, 6, 2)).astype(np.float32)
    y = (x[..., 0].mean((1, 2)) > 0).astype(np.int64)
    prelu = layers.PReLU(alpha_initializer=pyconv.initializers.Constant(0.25), shared_axes=[1, 2])
    m = models.Sequential([layers.Input((6, 6, 2)), layers.Conv2D(4, 3, activation="elu"), prelu,
                           layers.Conv2D(4, 3), layers.LeakyReLU(), layers.ELU(), layers.ReLU(max_value=6.0),
                           layers.Flatten(), layers.Dense(2), layers.Softmax()])
    m.compile(optimizer=pyconv.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    before = prelu.alpha.copy()
    h = m.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert h.history["loss"][-1] < 0.8 * h.history["loss"][0], h.history["loss"]
    assert prelu.alpha.shape == (1, 1, 4) and not np.array_equal(prelu.alpha, before)


def test_lambda_of_nn_ops_trains():
    pyconv.utils.set_random_seed(2)
    r = np.random.default_rng(2)
    x = r.standard_normal((96, 3)).astype(np.float32)
    y = np.abs(x[:, :1]).astype(np.float32)
    m = models.Sequential([layers.Input((3,)), layers.Dense(8),
                           layers.Lambda(lambda v: nn.gelu(nn.leaky_relu(v), approximate=True)), layers.Dense(1)])
    m.compile(optimizer=pyconv.optimizers.Adam(0.02), loss="mse")
    h = m.fit(x, y, batch_size=32, epochs=10, verbose=0)
    assert h.history["loss"][-1] < 0.6 * h.history["loss"][0]


# ---- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, exc, match", [
    (lambda: layers.ReLU(max_value=-1.0), ValueError, r"`max_value` must be a float >= 0 or None. Received: max_value=-1.0"),
    (lambda: layers.ReLU(negative_slope=-0.1), ValueError, r"`negative_slope` must be a float >= 0. Received: negative_slope=-0.1"),
    (lambda: layers.ReLU(threshold=-1), ValueError, r"`threshold` must be a float >= 0. Received: threshold=-1"),
    (lambda: layers.ReLU(threshold="1"), TypeError, r"`threshold` must be a float >= 0. Received: threshold='1'"),
    (lambda: layers.ReLU(max_value=float("nan")), ValueError, r"`max_value` must be a float >= 0 or None. Received: max_value=nan"),
    (lambda: layers.LeakyReLU(negative_slope=None), TypeError, r"`negative_slope` must be a float >= 0. Received: negative_slope=None"),
    (lambda: layers.LeakyReLU(alpha=-2), ValueError, r"`negative_slope` must be a float >= 0. Received: negative_slope=-2"),
    (lambda: layers.ELU(alpha="a"), TypeError, r"`alpha` must be a float. Received: alpha='a'"),
    (lambda: layers.Softmax(axis="x"), TypeError, r"`axis` must be an int or a tuple of ints. Received: axis='x'"),
    (lambda: layers.Softmax(axis=3)(np.ones((2, 3))), ValueError,
     r"`axis` must be an axis \(or distinct axes\) of the 2-D input, in \[-2, 2\). Received: axis=3"),
    (lambda: layers.PReLU(shared_axes=0), ValueError, r"`shared_axes` must be an int >= 1 or a list of them \(axis 0 is the batch\). Received: shared_axes=0"),
    (lambda: layers.PReLU(shared_axes=[3])(np.ones((2, 3, 4))), ValueError,
     r"`shared_axes` must name axes of the 3-D input \(1 to 2\). Received: shared_axes=\[3\], input shape \(None, 3, 4\)"),
    (lambda: models.Model(*(lambda i: (i, layers.PReLU()(i)))(layers.Input((None, 3)))), ValueError,
     r'Layer "p_re_lu.*": the axes that are not shared must be known. Received: input_shape=\(None, None, 3\)'),
    (lambda: (lambda p: (p(np.ones((2, 3))), p(np.ones((2, 4)))))(layers.PReLU()), ValueError,
     r"is incompatible with the layer: expected shape \(None, 3\) on the axes that are not shared"),
    (lambda: nn.gelu(np.ones(2), approximate="yes"), TypeError, r"`approximate` must be a bool. Received: approximate='yes'"),
    (lambda: nn.silu(np.ones(2), beta=2.0), ValueError, r"`beta` must be 1.0 \(pyconv's silu kernel is x \* sigmoid\(x\)\). Received: beta=2.0"),
    (lambda: nn.leaky_relu(np.ones(2), alpha=float("inf")), ValueError, r"`negative_slope` must be a float. Received: negative_slope=inf"),
    (lambda: nn.log_softmax(np.ones((2, 3)), axis=(0, -2)), ValueError,
     r"`axis` must be an axis \(or distinct axes\) of the 2-D input, in \[-2, 2\). Received: axis=\(0, -2\)"),
    (lambda: nn.log_softmax(np.float32(1.0)), ValueError, r"`logits` must have at least 1 dimensions"),
    (lambda: nn.log_softmax_grad(np.ones(3), np.ones(4)), ValueError,
     r"`gradients` and `outputs` must have the same shape. Received: gradients.shape=\(3,\), outputs.shape=\(4,\)"),
    (lambda: nn.elu_grad(np.ones(3), np.ones(4)), ValueError,
     r"`dout` and `x` must have the same shape. Received: dout.shape=\(3,\), x.shape=\(4,\)"),
    (lambda: nn.elu(["a"]), TypeError, r"`features` must be a real-valued numeric array"),
    (lambda: activations.get("relu7"), ValueError,
     r"Unknown activation: 'relu7'. Valid values are: 'linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'elu', "
     r"'selu', 'gelu', 'silu', 'leaky_relu', 'relu6', 'softplus', 'softsign', 'hard_sigmoid', 'hard_silu', "
     r"'exponential', 'log_softmax', 'swish', 'hard_swish' \(or None\)"),
    (lambda: activations.get(lambda v: v), TypeError, r"`activation` must be a string \('linear', .*Received: activation=<function"),
    (lambda: _kernels.prelu_fwd(np.array(1.0, np.float32), np.ones(1, np.float32)), ValueError,
     r"`x` must have a batch axis. Received: x.shape=\(\)"),
    (lambda: _kernels.prelu_bwd(np.array(1.0, np.float32), np.array(1.0, np.float32), np.ones(1, np.float32)),
     ValueError, r"`x` must have a batch axis. Received: x.shape=\(\)"),
    (lambda: nn.softmax_grad(np.ones(3), np.ones(4)), ValueError,
     r"`gradients` and `outputs` must have the same shape. Received: gradients.shape=\(3,\), outputs.shape=\(4,\)"),
    (lambda: _kernels.prelu_fwd(np.ones((2, 3), np.float32), np.ones(2, np.float32)), ValueError,
     r"`alpha` must have one value per position \(3\) when no index is given. Received: 2 values"),
    (lambda: _kernels.prelu_fwd(np.ones((2, 3), np.float32), np.ones(2, np.float32), np.array([0, 1, 2])), ValueError,
     r"`idx` must be in \[0, 2\)"),
    (lambda: _kernels.prelu_fwd(np.ones((2, 3), np.float32), np.ones(2, np.float32), np.array([0, 1])), ValueError,
     r"`idx` must be a C-contiguous int64 array of shape \(3,\)"),
], ids=lambda v: None if callable(v) else str(v)[:30])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("act", ["relu", "elu", "log_softmax", "linear", "softmax"])
def test_only_a_softmax_output_hands_its_logits_to_the_loss(act):
    """A cross-entropy takes the pre-activation values as logits only from a plain softmax (or
    sigmoid) output; from any other activation it takes the output as it is, as Keras does."""
    pyconv.utils.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    m = models.Sequential([layers.Input((4,)), layers.Dense(3, activation=act)])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    expected = float(np.mean(pyconv.losses.sparse_categorical_crossentropy(y, m.predict(x, verbose=0))))
    assert m.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-6)
    assert m.train_on_batch(x, y) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("act,loss,y", [
    ("sigmoid", "sparse_categorical_crossentropy", np.array([0, 1, 2, 0, 1, 2, 0, 1])),
    ("sigmoid", "categorical_crossentropy", np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2, 0, 1]]),
    ("softmax", "binary_crossentropy", np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2, 0, 1]]),
    ("sigmoid", "binary_crossentropy", np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2, 0, 1]]),
])
def test_a_loss_takes_logits_only_from_its_own_activation(act, loss, y):
    """Categorical cross-entropies take a softmax output's logits, binary ones a sigmoid's;
    the other pairings (a sigmoid under a categorical loss...) take the output as it is."""
    pyconv.utils.set_random_seed(0)
    x = np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32)
    m = models.Sequential([layers.Input((4,)), layers.Dense(3, activation=act)])
    m.compile(optimizer="sgd", loss=loss)
    expected = float(np.mean(pyconv.losses.get(loss)(y, m.predict(x, verbose=0))))
    assert m.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)
    assert m.train_on_batch(x, y) == pytest.approx(expected, rel=1e-5)
