"""Every layer: output shape, parameter count, Keras names, errors, and the input and weight
gradients of its float32 backward checked by central finite differences.

Finite differences: L(x) = sum(forward(x) * R) for a fixed random R, evaluated with the
float32 forward and accumulated in float64; dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h with
h = 1e-2. For the layers here L is linear or piecewise linear in each input (conv, dense,
pooling, relu away from its kink) or smooth (sigmoid, tanh, softmax), so the truncation error
is 0 or O(h^2) ~ 1e-4 relative; the float32 rounding of L (about 1e-7 * sum|y*R|, a few 1e-6
here) divided by 2h adds ~1e-4 absolute. Hence atol=2e-3, rtol=1e-2: tight enough that a
wrong index, stride, or transposition (errors of order 1) fails.
"""
import numpy as np
import pytest

import pyconv.nn as nn
from pyconv import activations, layers, utils

H = 1e-2


def _loss(layer, x, r):
    y = layer.forward(x.astype(np.float32), training=True)
    return float((y.astype(np.float64) * r).sum()), y > 0


def _has_kink(layer):
    act = getattr(layer, "activation", None)
    return act is not None and act.name == "relu"


def check_gradients(layer, x, n_checks=24, seed=0):
    """Compare the layer's backward (dx and every weight gradient) with central differences."""
    rng = np.random.default_rng(seed)
    x = x.astype(np.float32)
    y, ctx = layer._fwd(x, True)
    r = rng.standard_normal(y.shape)
    dx, grads = layer._bwd(ctx, r.astype(np.float32), True)
    targets = [("input", x, dx)] + [(f"weight {i}", w, g) for i, (w, g) in
                                    enumerate(zip(layer.trainable_weights, grads))]
    base = y > 0
    for what, arr, g in targets:
        assert g.shape == arr.shape, what
        flat = arr.reshape(-1)
        picks = rng.choice(flat.size, size=min(n_checks, flat.size), replace=False)
        skipped = 0
        for i in picks:
            old = flat[i]
            flat[i] = old + H
            lp, sp = _loss(layer, x, r)
            flat[i] = old - H
            lm, sm = _loss(layer, x, r)
            flat[i] = old
            if _has_kink(layer) and not (np.array_equal(sp, base) and np.array_equal(sm, base)):
                skipped += 1  # the step crossed relu's kink: the difference quotient is not a derivative
                continue
            num = (lp - lm) / (2 * H)
            ana = float(g.reshape(-1)[i])
            assert abs(num - ana) <= 2e-3 + 1e-2 * abs(num), \
                f"{type(layer).__name__} d/d{what}[{i}]: finite difference {num:.6f}, backward {ana:.6f}"
        assert skipped <= len(picks) // 2, f"{what}: {skipped} of {len(picks)} checks crossed a kink"


def away_from_zero(shape, seed=1):
    """Distinct inputs 3h apart and at least 1.5h from 0: a step of h never changes which input
    a max picks, nor the sign seen by relu."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    grid = (np.arange(n) - n // 2) * 3 * H + 1.5 * H
    return rng.permutation(grid).reshape(shape)


@pytest.fixture(autouse=True)
def _fresh_names():
    utils.clear_session()
    utils.set_random_seed(0)


@pytest.mark.parametrize("kw,in_shape,out_shape", [
    (dict(filters=4, kernel_size=3), (2, 6, 7, 3), (2, 4, 5, 4)),
    (dict(filters=4, kernel_size=3, padding="same"), (2, 6, 7, 3), (2, 6, 7, 4)),
    (dict(filters=2, kernel_size=(2, 3), strides=2), (2, 7, 7, 3), (2, 3, 3, 2)),
    (dict(filters=2, kernel_size=3, strides=2, padding="same"), (1, 7, 6, 2), (1, 4, 3, 2)),
    (dict(filters=3, kernel_size=3, dilation_rate=2), (2, 7, 7, 2), (2, 3, 3, 3)),
    (dict(filters=3, kernel_size=1, use_bias=False), (2, 3, 3, 2), (2, 3, 3, 3)),
    (dict(filters=3, kernel_size=3, activation="relu"), (2, 5, 5, 2), (2, 3, 3, 3)),
    (dict(filters=3, kernel_size=5), (1, 5, 5, 2), (1, 1, 1, 3)),  # kernel = input size
])
def test_conv2d(kw, in_shape, out_shape):
    layer = layers.Conv2D(**kw)
    x = away_from_zero(in_shape)
    y = layer(x)
    assert y.shape == out_shape and y.dtype == np.float32
    r, s = layer.kernel_size
    assert layer.kernel.shape == (r, s, in_shape[-1], kw["filters"])
    assert layer.count_params() == r * s * in_shape[-1] * kw["filters"] + (kw["filters"] if kw.get("use_bias", True) else 0)
    if kw.get("activation") == "relu":
        layer.bias[...] = 0.05  # keep pre-activations off the kink at 0
    check_gradients(layer, x)


def test_dense_shapes_params_and_gradients():
    layer = layers.Dense(5, activation="tanh")
    x = away_from_zero((4, 7))
    assert layer(x).shape == (4, 5)
    assert layer.count_params() == 7 * 5 + 5
    assert [w.shape for w in layer.get_weights()] == [(7, 5), (5,)]
    check_gradients(layer, x)
    d3 = layers.Dense(3, use_bias=False)
    assert d3(np.ones((2, 4, 6))).shape == (2, 4, 3) and d3.count_params() == 18
    check_gradients(d3, away_from_zero((2, 4, 6)))


@pytest.mark.parametrize("act", ["relu", "sigmoid", "softmax", "linear"])
def test_dense_activations(act):
    layer = layers.Dense(4, activation=act)
    x = away_from_zero((3, 5))
    layer(x)
    layer.bias[...] = 0.05
    check_gradients(layer, x)


@pytest.mark.parametrize("cls,kw,in_shape,out_shape", [
    (layers.MaxPooling2D, dict(pool_size=(2, 2)), (2, 6, 6, 3), (2, 3, 3, 3)),
    (layers.MaxPool2D, dict(pool_size=3, strides=2, padding="same"), (1, 7, 5, 2), (1, 4, 3, 2)),
    (layers.MaxPooling2D, dict(pool_size=2), (1, 5, 5, 2), (1, 2, 2, 2)),
    (layers.AveragePooling2D, dict(pool_size=2), (2, 6, 6, 3), (2, 3, 3, 3)),
    (layers.AvgPool2D, dict(pool_size=3, strides=2, padding="same"), (1, 7, 5, 2), (1, 4, 3, 2)),
    (layers.GlobalAveragePooling2D, {}, (2, 4, 5, 3), (2, 3)),
    (layers.GlobalAvgPool2D, dict(keepdims=True), (2, 4, 5, 3), (2, 1, 1, 3)),
    (layers.GlobalMaxPooling2D, {}, (2, 4, 5, 3), (2, 3)),
    (layers.GlobalMaxPool2D, {}, (1, 3, 3, 4), (1, 4)),
])
def test_pooling(cls, kw, in_shape, out_shape):
    layer = cls(**kw)
    x = away_from_zero(in_shape)
    assert layer(x).shape == out_shape
    assert layer.count_params() == 0 and layer.weights == []
    check_gradients(layer, x)


def test_flatten_reshape_activation_relu_softmax():
    for layer, in_shape, out_shape in [
            (layers.Flatten(), (2, 3, 4, 5), (2, 60)),
            (layers.Reshape((4, -1)), (2, 3, 4), (2, 4, 3)),
            (layers.Activation("sigmoid"), (2, 5), (2, 5)),
            (layers.Activation("tanh"), (2, 3, 3, 2), (2, 3, 3, 2)),
            (layers.ReLU(), (2, 6), (2, 6)),
            (layers.Softmax(), (3, 4), (3, 4))]:
        x = away_from_zero(in_shape)
        assert layer(x).shape == out_shape
        check_gradients(layer, x)


def test_dropout():
    layer = layers.Dropout(0.5)
    x = np.ones((64, 50), np.float32)
    assert layer(x) is not None and np.array_equal(layer(x), x)  # inference: identity
    y, ctx = layer._fwd(x, True)
    kept = y != 0
    assert 0.35 < kept.mean() < 0.65
    np.testing.assert_array_equal(y[kept], 2.0)  # scaled by 1 / (1 - rate)
    dy = np.arange(y.size, dtype=np.float32).reshape(y.shape)
    np.testing.assert_array_equal(layer._bwd(ctx, dy, True)[0], dy * y)  # the same mask and scale
    with pytest.raises(ValueError, match=r"`rate` must be a float in \[0, 1\). Received: rate=1.5"):
        layers.Dropout(1.5)


def test_lambda_depthwise_max_pool_gradient_flows():
    """The tutorial's depth-wise max pooling Lambda: its gradient is max_pool's."""
    pool = layers.Lambda(lambda X: nn.max_pool(X, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="valid"))
    x = away_from_zero((2, 3, 3, 6))
    assert pool(x).shape == (2, 3, 3, 2)
    check_gradients(pool, x)
    chain = layers.Lambda(lambda X: nn.relu(nn.max_pool(X, ksize=2, strides=2, padding="VALID")))
    check_gradients(chain, away_from_zero((1, 4, 4, 2)))


def test_lambda_without_pyconv_ops_explains():
    lam = layers.Lambda(lambda X: X * 2.0)
    x = np.ones((1, 3), np.float32)
    _, ctx = lam._fwd(x, True)
    with pytest.raises(ValueError, match=r'Lambda layer "lambda": no gradient flows'):
        lam._bwd(ctx, np.ones((1, 3), np.float32), True)


def test_keras_automatic_names():
    names = [layers.Conv2D(1, 1).name, layers.Conv2D(1, 1).name, layers.MaxPooling2D().name,
             layers.MaxPool2D().name, layers.Dense(1).name, layers.Dense(1).name, layers.Flatten().name,
             layers.GlobalAvgPool2D().name, layers.ReLU().name, layers.AveragePooling2D().name]
    assert names == ["conv2d", "conv2d_1", "max_pooling2d", "max_pooling2d_1", "dense", "dense_1",
                     "flatten", "global_average_pooling2d", "re_lu", "average_pooling2d"]
    assert layers.Dense(2, name="out").name == "out"


def test_weights_api_and_config():
    layer = layers.Conv2D(2, 3, input_shape=(5, 5, 1))
    layer(np.zeros((1, 5, 5, 1)))
    assert layer.trainable_weights[0] is layer.kernel and layer.weights[1] is layer.bias
    w = [np.full((3, 3, 1, 2), 0.5, np.float32), np.ones(2, np.float32)]
    layer.set_weights(w)
    np.testing.assert_array_equal(layer.get_weights()[0], w[0])
    with pytest.raises(ValueError, match=r'Layer "conv2d" weight "kernel" has shape \(3, 3, 1, 2\); received an array of shape \(3, 3\)'):
        layer.set_weights([np.zeros((3, 3)), np.zeros(2)])
    cfg = layer.get_config()
    assert cfg["filters"] == 2 and cfg["kernel_size"] == [3, 3] and cfg["padding"] == "valid"
    clone = layers.Conv2D.from_config({**cfg, "name": "clone"})
    assert clone.kernel_size == (3, 3) and clone.name == "clone"


def test_shape_errors_name_the_layer_and_the_shapes():
    conv = layers.Conv2D(4, 3)
    with pytest.raises(ValueError, match=r'Input 0 of layer "conv2d" is incompatible with the layer: '
                                         r"expected ndim=4, found ndim=3. Full shape received: \(None, 28, 28\)"):
        conv(np.zeros((2, 28, 28)))
    conv(np.zeros((1, 8, 8, 2)))
    with pytest.raises(ValueError, match=r'layer "conv2d" is incompatible with the layer: expected axis -1 of '
                                         r"input shape to have value 2, but received input with shape \(None, 8, 8, 3\)"):
        conv(np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r'Layer "conv2d_1" cannot take input shape \(None, 2, 2, 1\): a 3x3 kernel'):
        layers.Conv2D(1, 3)(np.zeros((1, 2, 2, 1)))
    dense = layers.Dense(3)
    dense(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r'layer "dense" is incompatible with the layer: expected axis -1 of '
                                         r"input shape to have value 4, but received input with shape \(None, 5\)"):
        dense(np.zeros((2, 5)))


def test_argument_errors():
    with pytest.raises(ValueError, match=r"Unknown activation: 'relux'. Valid values are: 'linear', 'relu', "
                                         r"'sigmoid', 'tanh', 'softmax'"):
        layers.Dense(3, activation="relux")
    with pytest.raises(ValueError, match=r"`padding` must be one of 'valid', 'same'. Received: padding='full'"):
        layers.Conv2D(3, 3, padding="full")
    with pytest.raises(ValueError, match=r"`units` must be a positive int. Received: units=0"):
        layers.Dense(0)
    with pytest.raises(TypeError, match=r"`filters` must be a positive int. Received: filters=2.5"):
        layers.Conv2D(2.5, 3)
    with pytest.raises(ValueError, match=r"`strides` must be a positive int or a tuple of 2 positive ints. "
                                         r"Received: strides=\(0, 1\)"):
        layers.Conv2D(2, 3, strides=(0, 1))
    with pytest.raises(ValueError, match=r"`strides > 1` is not supported together with `dilation_rate > 1`"):
        layers.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"Unknown initializer: 'glorot'. Valid values are: 'zeros'"):
        layers.Dense(2, kernel_initializer="glorot")
    with pytest.raises(TypeError, match=r"Unrecognized keyword arguments passed to Dense: \{'unit': 3\}"):
        layers.Dense(2, unit=3)


def test_glorot_uniform_limits_follow_keras_fans():
    layer = layers.Conv2D(64, 3)
    layer(np.zeros((1, 5, 5, 32)))
    limit = np.sqrt(6 / (3 * 3 * 32 + 3 * 3 * 64))
    assert np.abs(layer.kernel).max() <= limit and np.abs(layer.kernel).max() > 0.95 * limit
    assert not layer.bias.any()


def test_activation_functions_module():
    x = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_allclose(activations.relu(x), [[0, 0, 2]])
    np.testing.assert_allclose(activations.softmax(x).sum(), 1.0, rtol=1e-6)
    assert activations.get(None).name == "linear"
