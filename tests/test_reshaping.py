"""ZeroPadding2D, Cropping2D, UpSampling2D, Rescaling: against NumPy, gradients by central
differences (test_layers' check), symbolic shapes, configs and errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyconv
from pyconv import layers
from test_layers import check_gradients

PAIR = st.tuples(st.integers(0, 2), st.integers(0, 2))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 5), w=st.integers(1, 5), c=st.integers(1, 3), hp=PAIR, wp=PAIR)
def test_zero_padding_and_cropping(n, h, w, c, hp, wp):
    x = np.random.default_rng(h * 7 + w).standard_normal((n, h, w, c)).astype(np.float32)
    pad = layers.ZeroPadding2D((hp, wp))
    y = pad(x)
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0), hp, wp, (0, 0))))
    check_gradients(pad, x)
    crop = layers.Cropping2D((hp, wp))
    np.testing.assert_array_equal(crop(y), x)   # cropping undoes the padding
    check_gradients(crop, y)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 4), w=st.integers(1, 4), c=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3))
def test_upsampling_nearest(n, h, w, c, sh, sw):
    x = np.random.default_rng(h + 5 * w).standard_normal((n, h, w, c)).astype(np.float32)
    up = layers.UpSampling2D((sh, sw))
    np.testing.assert_array_equal(up(x), np.repeat(np.repeat(x, sh, axis=1), sw, axis=2))
    check_gradients(up, x)


def test_rescaling_and_symbolic_shapes_and_configs():
    x = np.random.default_rng(0).random((2, 3, 3, 2)) * 255
    r = layers.Rescaling(1 / 127.5, offset=-1)
    np.testing.assert_allclose(r(x), x / 127.5 - 1, rtol=1e-6, atol=1e-6)   # float32 scale and sum
    check_gradients(layers.Rescaling([0.5, 2.0]), x.astype(np.float32))
    inp = pyconv.Input((28, 28, 1))
    y = layers.UpSampling2D(2)(layers.Cropping2D(((2, 1), (0, 3)))(layers.ZeroPadding2D(2)(inp)))
    assert y.shape == (None, 58, 58, 1)
    for l in (layers.ZeroPadding2D(((1, 2), (3, 4))), layers.Cropping2D(1), layers.UpSampling2D((2, 3)),
              layers.Rescaling(0.5, 0.1)):
        back = type(l).from_config(l.get_config())
        assert back.get_config() == l.get_config()


def test_errors():
    with pytest.raises(ValueError, match=r"`padding` must be an int, a tuple of 2 ints, or a tuple of 2 tuples"):
        layers.ZeroPadding2D((1, -1))
    with pytest.raises(ValueError, match=r'Layer "cropping2d.*": cropping=\(\(2, 2\), \(0, 0\)\) leaves nothing'):
        layers.Cropping2D(((2, 2), (0, 0)))(np.ones((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"`interpolation` must be one of 'nearest', 'bilinear'\. Received: interpolation='bicubic'"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        layers.ZeroPadding2D()(np.ones((1, 2, 2)))
