"""The float64 references are themselves checked: their gradients against central finite
differences of their forward functions."""
import numpy as np
import pytest

from reference import assert_close, conv2d, conv2d_grads, dense, dense_grads, numeric_grad


@pytest.mark.parametrize("strides, dilations, padding", [
    ((1, 1), (1, 1), "valid"), ((2, 2), (1, 1), "same"), ((1, 2), (2, 1), "same"),
    ((2, 1), (1, 1), ((1, 0), (2, 1))), ((3, 2), (1, 2), "valid")])
def test_conv2d_reference_gradients(strides, dilations, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 2))
    w = rng.standard_normal((3, 2, 2, 3))
    g = rng.standard_normal(conv2d(x, w, strides, dilations, padding).shape)
    dx, dw = conv2d_grads(x, w, g, strides, dilations, padding)
    assert_close(dx, numeric_grad(lambda v: (conv2d(v, w, strides, dilations, padding) * g).sum(), x), 1e-6, 1e-7, "dx")
    assert_close(dw, numeric_grad(lambda v: (conv2d(x, v, strides, dilations, padding) * g).sum(), w), 1e-6, 1e-7, "dw")


def test_conv2d_reference_same_shape_rule():
    # TensorFlow's SAME: out = ceil(in / stride); odd total padding puts the extra at the bottom.
    x = np.arange(1, 6, dtype=np.float64).reshape(1, 5, 1, 1)
    w = np.ones((2, 1, 1, 1))
    y = conv2d(x, w, (2, 1), (1, 1), "same")        # total pad 1 -> (0 top, 1 bottom)
    assert y[0, :, 0, 0].tolist() == [3.0, 7.0, 5.0]


def test_dense_reference_gradients():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    g = rng.standard_normal((3, 2))
    dx, dw, db = dense_grads(x, w, g)
    assert_close(dx, numeric_grad(lambda v: (dense(v, w, b) * g).sum(), x), 1e-7, 1e-8, "dx")
    assert_close(dw, numeric_grad(lambda v: (dense(x, v, b) * g).sum(), w), 1e-7, 1e-8, "dw")
    assert_close(db, numeric_grad(lambda v: (dense(x, w, v) * g).sum(), b), 1e-7, 1e-8, "db")
