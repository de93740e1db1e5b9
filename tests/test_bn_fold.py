"""BatchNormalization folded into the Conv2D / Dense before it at inference (pyconv/_graph.py
Plan.predict): which pairs fold, predictions with and without folding against float64, and
training untouched.

The tolerance, derived: with scale s and shift t per channel (float32, from bn_coefs in double,
the same values on both paths), a depth-D linear layer and its bias b, the float64 value is
e = (x.W + b) s + t. Unfolded, the layer's float32 sum of D + 1 terms errs by at most
(D + 1) u (sum|x W| + |b|), and y = z s + t adds at most 2u (|z s| + |t|). Folded, W s and
b s + t are each rounded once (u and 2u), then the D + 1 term sum as before. Both stay within
(D + 3) u A, A = sum|x||W||s| + |b s| + |t| -- assert_sum_close's bound with depth D + 1 -- so
the two predictions differ by at most twice that.
"""
import numpy as np
import pytest

import pyconv
from pyconv import _kernels, layers, models
from reference import U32, conv2d as conv_ref


def bn_weights(bn, rng, C, offset):
    """Nontrivial statistics: means far from zero (the subtraction that folding moves into the
    bias), variances over two decades, gamma of both signs."""
    bn.set_weights([rng.uniform(-2, 2, C), rng.standard_normal(C),
                    offset + rng.standard_normal(C), np.exp(rng.uniform(-2.5, 2.5, C))])


def cnn(functional, rng):
    """Conv2D -> BN -> ReLU -> Conv2D(no bias) -> BN -> Flatten -> Dense -> BN."""
    mk = [layers.Conv2D(16, 3, padding="same"), layers.BatchNormalization(), layers.Activation("relu"),
          layers.Conv2D(8, 3, strides=2, use_bias=False), layers.BatchNormalization(epsilon=1e-5),
          layers.Flatten(), layers.Dense(5), layers.BatchNormalization()]
    if functional:
        inp = layers.Input((9, 9, 3))
        h = inp
        for l in mk:
            h = l(h)
        m = models.Model(inp, h)
    else:
        m = models.Sequential([layers.Input((9, 9, 3))] + mk)
    for l in m.layers:
        if isinstance(l, layers.BatchNormalization):
            bn_weights(l, rng, l.moving_mean.shape[0], offset=30.0)
        elif l.weights:
            l.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in l.weights])
    return m


def reference_and_bound(m, x):
    """The prediction in float64 and the absolute error bounds (first pair, whole model) of
    any float32 evaluation: each layer's (D + 3) u A of the module's docstring, plus the
    error it inherits from its input, carried through |W| |s| (relu and flatten do not grow it;
    the float32 activations the reference reads add one rounding, u |value|)."""
    def coefs(bn):
        s, t, _ = _kernels.bn_coefs(bn.moving_mean, bn.moving_variance, bn.gamma, bn.beta, bn.epsilon)
        return s.astype(np.float64), t.astype(np.float64)
    conv1, bn1, _, conv2, bn2, _, dense, bn3 = [l for l in m.layers if not isinstance(l, layers.InputLayer)]
    s, t = coefs(bn1)
    y1 = (conv_ref(x, conv1.kernel, padding="same") + conv1.bias) * s + t
    e1 = 30 * U32 * ((conv_ref(abs(x), abs(conv1.kernel), padding="same") + abs(conv1.bias)) * abs(s) + abs(t))
    h = np.maximum(y1, 0).astype(np.float32)    # the second conv reads float32 activations
    eh = e1 + U32 * abs(h)
    s, t = coefs(bn2)
    y2 = conv_ref(h, conv2.kernel, (2, 2)) * s + t
    e2 = (147 * U32 * (conv_ref(abs(h), abs(conv2.kernel), (2, 2)) * abs(s) + abs(t))
          + conv_ref(eh, abs(conv2.kernel), (2, 2)) * abs(s))
    f = y2.reshape(len(x), -1).astype(np.float32)
    ef = e2.reshape(len(x), -1) + U32 * abs(f)
    s, t = coefs(bn3)
    y3 = (f.astype(np.float64) @ dense.kernel + dense.bias) * s + t
    e3 = ((f.shape[1] + 3) * U32 * ((abs(f) @ abs(dense.kernel) + abs(dense.bias)) * abs(s) + abs(t))
          + (ef @ abs(dense.kernel)) * abs(s))
    return y1, e1, y3, e3


def assert_within(actual, expected, bound, what):
    err = abs(np.asarray(actual, np.float64) - expected) - bound
    i = np.unravel_index(np.argmax(err), err.shape)
    assert err[i] <= 0, f"{what}: at {i}: actual {actual[i]!r}, expected {expected[i]!r}, bound {bound[i]:.3g}"


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_predict_folded_within_the_derived_bound(functional, threads, monkeypatch):
    pyconv.set_num_threads(2)
    rng = np.random.default_rng(0)
    m = cnn(functional, rng)
    x = rng.standard_normal((4, 9, 9, 3)).astype(np.float32)
    plan = m._plan()
    # conv + BN + relu as one call, conv + BN, dense + BN
    assert plan.folds == {0: (1, 2), 3: (4, None), 6: (7, None)}
    unfolded = plan.forward([x], False)[0][0]
    # the folded path runs no BatchNormalization kernel at all
    monkeypatch.setattr(_kernels, "bn_infer", None)
    folded = m.predict(x, verbose=0)
    assert not np.array_equal(folded, unfolded)   # the rounding moved: it did fold
    y1, e1, y3, e3 = reference_and_bound(m, x)
    assert_within(folded, y3, e3, "folded")
    assert_within(unfolded, y3, e3, "unfolded")
    assert_within(folded, unfolded, 2 * e3, "folded vs unfolded")
    # the first pair on its own, from the same input as the reference's
    conv1, bn1 = [l for l in m.layers if not isinstance(l, layers.InputLayer)][:2]
    first = models.Sequential([layers.Input((9, 9, 3)), conv1, bn1])
    assert len(first._plan().folds) == 1
    assert_within(first.predict(x, verbose=0), y1, e1, "conv + BN")


def test_what_does_not_fold():
    inp = layers.Input((6, 6, 2))
    relu_conv = layers.Conv2D(4, 3, activation="relu")(inp)            # an activation between
    a = layers.BatchNormalization()(relu_conv)
    shared = layers.Conv2D(4, 3)(inp)                                 # read by BN and by Add
    b = layers.Add()([layers.BatchNormalization()(shared), shared])
    tconv = layers.BatchNormalization()(layers.Conv2DTranspose(4, 3)(inp))  # not a Conv2D/Dense
    m = models.Model(inp, [a, b, tconv])
    assert m._plan().folds == {}
    # the BN's output is read twice: the BN folds, the relu runs on its own
    bn = layers.BatchNormalization()(layers.Dense(3)(layers.Flatten()(inp)))
    r = layers.ReLU()(bn)
    m = models.Model(inp, [r, layers.Add()([bn, r])])
    assert m._plan().folds == {1: (2, None)}
    x = np.random.default_rng(5).standard_normal((2, 6, 6, 2)).astype(np.float32)
    dense = m.layers[2]
    bn = m.layers[3]
    s, _, _ = _kernels.bn_coefs(bn.moving_mean, bn.moving_variance, bn.gamma, bn.beta, bn.epsilon)
    a = (abs(x.reshape(2, -1)).astype(np.float64) @ abs(dense.kernel)) * abs(s)   # bias 0, shift 0
    folded, unfolded = m.predict(x, verbose=0)[0], m._plan().forward([x], False)[0][0]
    assert_within(folded, unfolded.astype(np.float64), 2 * (72 + 3) * U32 * a, "dense + BN, relu apart")


def test_training_and_evaluate_are_unchanged():
    """fit runs Plan.forward, which never folds: the training pass normalizes with
    the batch statistics, and the moving ones change as before."""
    rng = np.random.default_rng(1)
    m = cnn(False, rng)
    x = rng.standard_normal((8, 9, 9, 3)).astype(np.float32)
    y = rng.standard_normal((8, 5)).astype(np.float32)
    m.compile(optimizer="sgd", loss="mse")
    bn = m.layers[1]
    before = bn.moving_mean.copy()
    out, _ = m._plan().forward([x], True)
    manual = x
    for l in m.layers:
        manual = l(manual, training=True)
    np.testing.assert_array_equal(out[0], manual)
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.array_equal(bn.moving_mean, before)
    # after the update the fold follows the new weights (nothing cached)
    _, _, y3, e3 = reference_and_bound(m, x)
    assert_within(m.predict(x, verbose=0), y3, e3, "folded after fit")


def test_threads_share_a_folding_model():
    """The fold writes nothing on the model: four threads predicting at once get bitwise the
    results of one thread."""
    import threading
    rng = np.random.default_rng(4)
    m = cnn(True, rng)
    xs = [rng.standard_normal((3, 9, 9, 3)).astype(np.float32) for _ in range(4)]
    want = [m.predict(x, verbose=0) for x in xs]
    got = [None] * 4

    def work(i):
        for _ in range(5):
            got[i] = m.predict(xs[i], verbose=0)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
