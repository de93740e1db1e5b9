"""Regularizers and constraints (issue 12): Keras 3's numbers, the gradient they add checked
by central differences of the loss fit reports, constraints after each update, saving."""
import numpy as np
import pytest

import pyconv
from pyconv import constraints, layers, models, optimizers, regularizers, utils


@pytest.fixture(autouse=True)
def _fresh():
    utils.clear_session()
    utils.set_random_seed(0)


def keras_example():
    """Keras 3.15.1, TF backend, gave for this model and data: m.losses == [0.91, 0.75] and
    evaluate == train_on_batch == 35.41 (mse 28.125 + 0.91 + 0.75 + activity 11.25 / 2)."""
    inp = pyconv.Input((3,))
    d = layers.Dense(2, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.5),
                     activity_regularizer=regularizers.L2(0.1), name="d")
    m = pyconv.Model(inp, d(inp))
    m.get_layer("d").set_weights([np.array([[1., 2.], [3., 4.], [5., 6.]]), np.array([0.5, -1.])])
    return m


def test_keras_numbers():
    m = keras_example()
    x, y = np.array([[1., 0., 1.], [0., 1., 0.]]), np.zeros((2, 2))
    m.compile(optimizer=optimizers.SGD(1e-12), loss="mse")
    assert m.losses == pytest.approx([0.91, 0.75], rel=1e-6)
    assert m.evaluate(x, y, verbose=0) == pytest.approx(35.41, rel=1e-6)
    assert m.train_on_batch(x, y) == pytest.approx(35.41, rel=1e-6)
    assert regularizers.get("l2").get_config() == {"l2": 0.01}
    assert regularizers.get("l1").l1 == pytest.approx(0.01)
    assert regularizers.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}


def test_constraints_keras_numbers():
    w = np.array([[3., 0.], [4., 1.]], np.float32)
    # Keras 3.15.1's outputs for the same w
    np.testing.assert_allclose(constraints.MaxNorm(2.0)(w), [[1.2, 0.], [1.6, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(constraints.UnitNorm()(w), [[0.6, 0.], [0.8, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(constraints.MinMaxNorm(1.0, 2.0, rate=0.5)(w), [[2.1, 0.], [2.8, 1.0]], rtol=1e-6)
    np.testing.assert_array_equal(constraints.NonNeg()(np.array([-1., 2.], np.float32)), [0., 2.])
    assert constraints.get("max_norm").get_config() == {"max_value": 2, "axis": 0}


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_penalty_gradients_match_finite_differences_of_the_reported_loss(kind):
    """One SGD step moves each weight by -lr * (the gradient fit used); that gradient must be
    the derivative of the loss evaluate reports (data loss + every penalty)."""
    rng = np.random.default_rng(1)
    if kind == "dense":
        x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
        layer = layers.Dense(3, activation="tanh", kernel_regularizer=regularizers.L1L2(0.01, 0.02),
                             bias_regularizer="l2", activity_regularizer=regularizers.L1L2(0.0, 0.5))
        model = pyconv.Sequential([layers.Input((4,)), layer])
    else:
        x, y = rng.standard_normal((3, 5, 5, 2)), rng.standard_normal((3, 3, 3, 2))
        layer = layers.Conv2D(2, 3, activation="sigmoid", kernel_regularizer="l2",
                              activity_regularizer=regularizers.L2(0.03))
        model = pyconv.Sequential([layers.Input((5, 5, 2)), layer])
    lr = 1e-3
    model.compile(optimizer=optimizers.SGD(lr), loss="mse")
    w0 = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    grads = [(a - b) / -lr for a, b in zip(model.get_weights(), w0)]
    model.set_weights(w0)
    h = 1e-2
    rng2 = np.random.default_rng(0)
    for wi, (w, g) in enumerate(zip(model.weights, grads)):
        flat = w.reshape(-1)
        for i in rng2.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[i]
            if abs(old) < 2 * h:   # L1's kink at 0
                continue
            flat[i] = old + h
            lp = model.evaluate(x, y, verbose=0)
            flat[i] = old - h
            lm = model.evaluate(x, y, verbose=0)
            flat[i] = old
            num = (lp - lm) / (2 * h)
            # the step's float32 rounding over lr (1e-3) is ~1e-4 relative to each weight
            assert abs(num - g.reshape(-1)[i]) <= 5e-3 + 2e-2 * abs(num), (wi, i, num, g.reshape(-1)[i])


def test_constraints_hold_after_every_update_and_everything_saves(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 4)) * 10, rng.integers(0, 3, 64)
    m = pyconv.Sequential([layers.Input((4,)),
                           layers.Dense(8, activation="relu", kernel_constraint=constraints.MaxNorm(0.5),
                                        bias_constraint="non_neg", kernel_regularizer="l2"),
                           layers.Dense(3, activation="softmax", kernel_constraint="unit_norm")])
    m.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")

    class Check(pyconv.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            k = m.layers[0].kernel
            assert (np.sqrt((k.astype(np.float64) ** 2).sum(0)) <= 0.5 + 1e-6).all()
            assert (m.layers[0].bias >= 0).all()
            np.testing.assert_allclose(np.sqrt((m.layers[1].kernel.astype(np.float64) ** 2).sum(0)), 1, rtol=1e-5)
    m.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[Check()])
    m.save(tmp_path / "m.keras")
    back = models.load_model(tmp_path / "m.keras")
    d = back.layers[0]
    assert isinstance(d.kernel_constraint, constraints.MaxNorm) and d.kernel_constraint.max_value == 0.5
    assert isinstance(d.bias_constraint, constraints.NonNeg) and isinstance(d.kernel_regularizer, regularizers.L2)
    assert back.losses == pytest.approx(m.losses)
    assert m.evaluate(x, y, verbose=0) == pytest.approx(back.evaluate(x, y, verbose=0), rel=1e-6)
    cfg = layers.Conv2D(2, 3, activity_regularizer="l1").get_config()
    assert cfg["activity_regularizer"] == {"class_name": "L1", "config": {"l1": 0.01}}
    assert layers.Conv2D.from_config(cfg).activity_regularizer.l1 == 0.01


def test_bad_regularizers_and_constraints():
    with pytest.raises(ValueError, match=r"Could not interpret regularizer identifier: 'l3'"):
        layers.Dense(2, kernel_regularizer="l3")
    with pytest.raises(ValueError, match=r"`l2` must be a float >= 0. Received: l2=-1"):
        regularizers.L2(-1)
    with pytest.raises(ValueError, match=r"Could not interpret regularizer identifier: <function .*a pyconv.regularizers.Regularizer is expected"):
        layers.Dense(2, kernel_regularizer=lambda w: 0.0)
    with pytest.raises(ValueError, match=r"Could not interpret constraint identifier: 'max'"):
        layers.Dense(2, kernel_constraint="max")
