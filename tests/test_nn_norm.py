"""pyconv.nn.moments (batchnorm_stats + csrc/moments.c), batch_normalization and dropout."""
import doctest

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import pyconv
from pyconv import _kernels, _nn_norm, _tape, nn
from reference import assert_close, numeric_grad


def _axes(ndim, data):
    return data.draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                              unique_by=lambda a: a % ndim))


@settings(max_examples=40)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
                    elements=st.floats(-100, 100, width=32)),
       data=st.data(), keepdims=st.booleans())
def test_moments_vs_float64(x, data, keepdims):
    axes = _axes(x.ndim, data)
    m, v = nn.moments(x, axes, keepdims=keepdims)
    ax = tuple(a % x.ndim for a in axes)
    x64 = x.astype(np.float64)
    assert_close(m, x64.mean(ax, keepdims=keepdims), 1e-6, 1e-5, "mean")
    assert_close(v, x64.var(ax, keepdims=keepdims), 1e-5, 1e-4, "variance")
    gm = np.linspace(-1, 1, m.size, dtype=np.float32).reshape(m.shape)
    gv = np.linspace(2, -1, v.size, dtype=np.float32).reshape(v.shape)
    with _tape.recording() as recs:
        m2, v2 = nn.moments(x, axes, keepdims=keepdims)
    dx = _tape.gradients(recs, [m2, v2], [gm, gv], [x])[0]
    mk = x64.mean(ax, keepdims=True)
    count = x64.size // mk.size
    expected = (gm.reshape(mk.shape) + 2 * gv.reshape(mk.shape) * (x64 - mk)) / count
    assert_close(dx, expected, 2e-5, 1e-5, "dx")


def test_moments_gradient_finite_differences_and_large_means(rng):
    x = rng.standard_normal((3, 4, 2))
    gm, gv = rng.standard_normal(2), rng.standard_normal(2)
    num = numeric_grad(lambda v: (v.mean((0, 1)) * gm).sum() + (v.var((0, 1)) * gv).sum(), x)
    with _tape.recording() as recs:
        m, v = nn.moments(x, [0, 1])
    assert_close(_tape.gradients(recs, [m, v], [gm.astype(np.float32), gv.astype(np.float32)], [x])[0],
                 num, 1e-5, 1e-6, "moments gradient")
    # 1e4 + noise: no cancellation in the variance, nor in its gradient (x - mean first)
    big = (1e4 + rng.standard_normal((500, 3))).astype(np.float32)
    m, v = nn.moments(big, [0])
    assert_close(v, big.astype(np.float64).var(0), 1e-5, 0, "variance at a large mean")
    dx = _kernels.moments_bwd(None, np.ones(3, np.float32), big, m)
    # against the float32 mean it is given (x*a - mean*a would be off by ~1e4 * a * 6e-8)
    assert_close(dx, 2 * (big.astype(np.float64) - m) / 500, 1e-5, 1e-9, "dvar at a large mean")


def test_moments_backward_threads(each_thread_count, rng):
    x = rng.standard_normal((9000, 5)).astype(np.float32)
    m, _ = nn.moments(x, [0])
    dm, dv = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    one, *others = [_kernels.moments_bwd(dm, dv, x, m) for _ in each_thread_count()]
    for other in others:
        assert np.array_equal(one, other)


def _bn64(x, m, v, off, sc, eps):
    return (x - m) / np.sqrt(v + eps) * sc + off


def test_batch_normalization_and_its_gradients(rng):
    x = rng.standard_normal((2, 3, 4)) * 3 + 1
    m, v = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    off, sc = rng.standard_normal(4), rng.standard_normal(4)
    y = nn.batch_normalization(x, m, v, off, sc, 1e-3)
    assert_close(y, _bn64(x, m, v, off, sc, 1e-3), 2e-6, 1e-6, "y")
    assert_close(nn.batch_normalization(x, m.reshape(1, 1, 4), v, None, None, 0.0),
                 _bn64(x, m, v, 0, 1, 0), 2e-6, 1e-6, "y without offset/scale, keepdims stats")
    g = rng.standard_normal(x.shape)
    with _tape.recording() as recs:
        y = nn.batch_normalization(x, m, v, off, sc, 1e-3)
    grads = _tape.gradients(recs, [y], [g.astype(np.float32)], [x, m, v, off, sc])
    args = [x, m, v, off, sc]
    for k, name in enumerate(["x", "mean", "variance", "offset", "scale"]):
        def f(a, k=k):
            return (_bn64(*[a if j == k else args[j] for j in range(5)], 1e-3) * g).sum()
        assert_close(grads[k], numeric_grad(f, args[k]), 2e-5, 2e-5, name)


# tf.nn values (TensorFlow 2.21), made in the kvenv by (KERAS_BACKEND=tensorflow /work/kvenv/bin/python):
#   x = tf.constant(np.arange(24, dtype=np.float32).reshape(2, 3, 4) ** 1.5 / 10)
#   off, sc = tf.constant([0.5, -1.0, 0.0, 2.0]), tf.constant([1.0, 2.0, 0.5, -1.0])
#   g = tf.constant(np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4))
#   with tf.GradientTape(persistent=True) as t:
#       t.watch([x, off, sc])
#       m, v = tf.nn.moments(x, axes=[0, 1])
#       y = tf.nn.batch_normalization(x, m, v, off, sc, 1e-3)
#       s = tf.reduce_sum(y * g)
#       sm = tf.reduce_sum(m * [1., 2., 3., 4.]) + tf.reduce_sum(v * [-1., 0.5, 2., 1.])
#   print(m, v, y, t.gradient(s, x), t.gradient(s, off), t.gradient(s, sc), t.gradient(sm, x))
TF = {
    "mean": [3.760655641555786, 4.206323146820068, 4.684800148010254, 5.190287113189697],
    "var": [9.857467651367188, 11.016845703125, 12.132644653320312, 13.230917930603027],
    "y": [-0.6977297067642212, -3.4741997718811035, -0.6318590641021729, 3.284008741378784, -0.4429379999637604,
          -2.860799551010132, -0.46149784326553345, 2.917717456817627, 0.02292996644973755, -1.9076110124588013,
          -0.21854358911514282, 2.4239091873168945, 0.6262068748474121, -0.7102451324462891, 0.07945257425308228,
          1.829779863357544, 1.3406039476394653, 0.6888768672943115, 0.4237247705459595, 1.1500864028930664,
          2.150928020477295, 2.263979196548462, 0.8087234497070312, 0.394498348236084],
    "dx": [-0.053628355264663696, -0.08602547645568848, -0.01801495999097824, 0.030896469950675964,
           0.009644225239753723, 0.014983773231506348, 0.0031160861253738403, -0.005343332886695862,
           0.03356119617819786, 0.05585269629955292, 0.011976756155490875, -0.020911023020744324,
           0.03185797855257988, 0.05350382998585701, 0.011533730663359165, -0.020215298980474472,
           0.009436219930648804, 0.015445411205291748, 0.003268696367740631, -0.005648523569107056,
           -0.03087139129638672, -0.05376029014587402, -0.01188032329082489, 0.02122175693511963],
    "doff": [-0.782608687877655, -0.260869562625885, 0.2608696222305298, 0.7826087474822998],
    "dsc": [3.512554883956909, 3.524981737136841, 3.532721996307373, 3.53818678855896],
    "dx_moments": [1.420218586921692, -0.3510538637638092, -2.434638500213623, -0.890224039554596, 1.1535519361495972,
                   -0.18138155341148376, -1.643404245376587, -0.44608718156814575, 0.6659713983535767,
                   0.08227947354316711, -0.5150150060653687, 0.15266674757003784, 0.03457777202129364,
                   0.41348227858543396, 0.8690134882926941, 0.8730626106262207, -0.7131147980690002,
                   0.8004927635192871, 2.467968702316284, 1.697206974029541, -1.5612056255340576,
                   1.2361810207366943, 4.256076335906982, 2.613375186920166],
}


def test_values_match_tensorflow():
    """The chain moments -> batch_normalization, differentiated through the statistics too."""
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) ** 1.5 / 10
    off, sc = np.float32([0.5, -1.0, 0.0, 2.0]), np.float32([1.0, 2.0, 0.5, -1.0])
    g = np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)
    with _tape.recording() as recs:
        m, v = nn.moments(x, axes=[0, 1])
        y = nn.batch_normalization(x, m, v, off, sc, 1e-3)
    assert_close(m, TF["mean"], 1e-6, 0, "mean")
    assert_close(v, TF["var"], 2e-6, 0, "var")
    assert_close(y.ravel(), TF["y"], 2e-6, 2e-6, "y")
    dx, doff, dsc = _tape.gradients(recs, [y], [g], [x, off, sc])
    assert_close(dx.ravel(), TF["dx"], 1e-4, 2e-6, "dx")
    assert_close(doff, TF["doff"], 1e-6, 1e-7, "doffset")
    assert_close(dsc, TF["dsc"], 2e-6, 0, "dscale")
    with _tape.recording() as recs:
        m, v = nn.moments(x, axes=[0, 1])
    dxm = _tape.gradients(recs, [m, v], [np.float32([1, 2, 3, 4]), np.float32([-1, 0.5, 2, 1])], [x])[0]
    assert_close(dxm.ravel(), TF["dx_moments"], 2e-6, 1e-6, "dx of moments")


def test_dropout(rng):
    x = rng.standard_normal((200, 50)).astype(np.float32)
    assert np.array_equal(nn.dropout(x, 0.0), x)
    y = nn.dropout(x, 0.3, seed=7)
    assert np.array_equal(y, nn.dropout(x, 0.3, seed=7))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    assert_close(y[kept], x[kept] / np.float32(0.7), 1e-6, 0, "scaled")
    pyconv.utils.set_random_seed(4)
    a = nn.dropout(x, 0.5)
    pyconv.utils.set_random_seed(4)
    assert np.array_equal(a, nn.dropout(x, 0.5))
    z = nn.dropout(np.ones((4, 6, 3), np.float32), 0.5, noise_shape=(1, None, 3), seed=1)
    assert (z == z[:1]).all() and set(np.unique(z)) <= {0.0, 2.0}
    with _tape.recording() as recs:
        y = nn.dropout(x, 0.4, seed=3)
    assert np.array_equal(_tape.gradient(recs, y, np.ones_like(x), x), (y != 0) / np.float32(0.6))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.moments(np.ones((2, 3)), [2]), ValueError,
     r"`axes` must be an axis \(or distinct axes\) of the 2-D input, in \[-2, 2\). Received: axes=\(2,\)"),
    (lambda: nn.moments(np.ones((2, 3)), [0, -2]), ValueError, r"`axes` must be an axis \(or distinct axes\)"),
    (lambda: nn.batch_normalization(np.ones((2, 3)), np.ones(2), np.ones(3), None, None, 1e-3), ValueError,
     r"`mean` must hold one value per channel \(the last axis of `x`, 3\): shape \(3,\) or \(1, ..., 1, 3\). "
     r"Received: mean.shape=\(2,\)"),
    (lambda: nn.batch_normalization(np.ones((2, 3)), np.ones(3), np.ones((3, 1)), None, None, 1e-3), ValueError,
     r"`variance` must hold one value per channel"),
    (lambda: nn.batch_normalization(np.ones((2, 3)), np.ones(3), np.ones(3), None, None, -1.0), ValueError,
     r"`variance_epsilon` must be a float >= 0. Received: variance_epsilon=-1.0"),
    (lambda: nn.dropout(np.ones(3), 1.0), ValueError, r"`rate` must be a float in \[0, 1\). Received: rate=1.0"),
    (lambda: nn.dropout(np.ones(3), -0.1), ValueError, r"`rate` must be a float >= 0. Received: rate=-0.1"),
    (lambda: nn.dropout(np.ones((2, 3)), 0.5, noise_shape=(2, 2)), ValueError,
     r"`noise_shape` must broadcast to x's shape \(2, 3\) \(each entry 1, None or x's size\). Received: noise_shape=\(2, 2\)"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_docstring_examples():
    from pyconv import _nn_act
    from pyconv.layers import activations as layer_acts
    for mod in (_nn_norm, _nn_act, layer_acts):
        r = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert r.failed == 0 and r.attempted > 0, mod.__name__
