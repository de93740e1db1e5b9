"""Conv2DTranspose and nn.conv2d_transpose: the C kernel (fast and `_ref`) and both gradients
against the float64 scatter loop of tests/reference.py (itself checked by central finite
differences), on every ISA; outputs equal to Keras 3's; errors; save/load; training."""
import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st

import pyconv
from pyconv import _kernels, _tape, layers, models, nn, optimizers
from pyconv._geometry import Window
from reference import assert_sum_close, conv_pads, conv2d_transpose as tconv_ref, conv2d_transpose_grads, numeric_grad


@st.composite
def cases(draw):
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dil = (1, 1)
    if stride == (1, 1):   # Keras: strides > 1 and dilation_rate > 1 never together
        dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    op = draw(st.one_of(st.none(), st.tuples(st.integers(0, stride[0] - 1), st.integers(0, stride[1] - 1))))
    return dict(N=draw(st.integers(1, 3)), H=draw(st.integers(1, 5)), W=draw(st.integers(1, 5)),
                C=draw(st.integers(1, 9)), K=draw(st.integers(1, 12)), R=draw(st.integers(1, 4)),
                S=draw(st.integers(1, 4)), stride=stride, dil=dil, op=op,
                padding=draw(st.sampled_from(["valid", "same"])))


def make(case, rng, activation=None):
    """The layer (built, random weights and bias) and an input for a case; None when Keras's
    'same' rule gives an output that does not map back (pinned in test_errors)."""
    N, H, W, C, K, R, S = (case[k] for k in "NHWCKRS")
    layer = layers.Conv2DTranspose(K, (R, S), strides=case["stride"], padding=case["padding"],
                                   output_padding=case["op"], dilation_rate=case["dil"],
                                   activation=activation)
    try:
        layer.compute_output_shape((None, H, W, C))
    except ValueError:
        return None, None
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    layer(x[:1])
    layer.set_weights([rng.standard_normal(layer.kernel.shape).astype(np.float32),
                       rng.standard_normal(K).astype(np.float32)])
    return layer, x


def geometry(layer, x):
    """(output shape, top, left) from the layer's output size and reference.conv_pads (the
    padding of the convolution that maps the output back to x: TensorFlow's rule)."""
    out = layer.compute_output_shape(x.shape)
    P, Q, (top, _), (left, _) = conv_pads(*out[1:3], *layer.kernel_size, layer.strides,
                                           layer.dilation_rate, layer.padding)
    assert (P, Q) == x.shape[1:3]
    return out, top, left


def run(case, rng):
    layer, x = make(case, rng)
    assume(layer is not None)
    out, top, left = geometry(layer, x)
    st_, dl, w, b = case["stride"], case["dil"], layer.kernel, layer.bias
    geo = (st_, dl, top, left)
    R, S, K = case["R"], case["S"], case["K"]
    y, ctx = layer._fwd(x, True)
    y_ref = _kernels.conv2d_transpose_fwd(x, w, b, False, out, Window(*x.shape[1:3], R, S, *st_, *dl, top, left), True)
    expect, mag = tconv_ref(x, w, out[1:3], *geo) + b, tconv_ref(abs(x), abs(w), out[1:3], *geo) + abs(b)
    for got, what in ((y, "forward"), (y_ref, "forward _ref")):
        assert_sum_close(got, expect, mag, R * S * case["C"] + 1, what)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx, (dw, db) = layer._bwd(ctx, g, True)
    edx, edw = conv2d_transpose_grads(x, w, g, *geo)
    adx, adw = conv2d_transpose_grads(abs(x), abs(w), abs(g), *geo)
    assert_sum_close(dx, edx, adx, R * S * K, "input gradient")
    assert_sum_close(dw, edw, adw, x.shape[0] * x.shape[1] * x.shape[2], "filter gradient")
    assert_sum_close(db, g.astype(np.float64).sum((0, 1, 2)), abs(g).sum((0, 1, 2)), g.size // K, "bias")


EDGES = [
    dict(N=1, H=1, W=1, C=1, K=1, R=1, S=1, stride=(1, 1), dil=(1, 1), op=None, padding="valid"),  # 1x1 all
    dict(N=2, H=3, W=4, C=3, K=32, R=3, S=3, stride=(2, 2), dil=(1, 1), op=None, padding="same"),  # NR | filters
    dict(N=1, H=4, W=3, C=16, K=1, R=3, S=3, stride=(2, 2), dil=(1, 1), op=(1, 0), padding="valid"),
    dict(N=2, H=3, W=3, C=2, K=5, R=2, S=2, stride=(3, 3), dil=(1, 1), op=None, padding="valid"),  # s > k
    dict(N=1, H=4, W=5, C=3, K=4, R=4, S=2, stride=(2, 3), dil=(1, 1), op=(1, 2), padding="same"),
    dict(N=1, H=5, W=5, C=4, K=3, R=3, S=2, stride=(1, 1), dil=(2, 2), op=None, padding="same"),   # dilated
    dict(N=1, H=2, W=2, C=9, K=64, R=2, S=2, stride=(2, 2), dil=(1, 1), op=None, padding="same"),  # even kernel
]


@settings(max_examples=25)
@given(case=cases())
@example(case=EDGES[0]).via("edge")
@example(case=EDGES[1]).via("edge")
@example(case=EDGES[2]).via("edge")
@example(case=EDGES[3]).via("edge")
@example(case=EDGES[4]).via("edge")
@example(case=EDGES[5]).via("edge")
@example(case=EDGES[6]).via("edge")
def test_against_reference(isa, case):
    run(case, np.random.default_rng(0))


@settings(max_examples=10)
@given(case=cases())
@example(case=dict(EDGES[4], N=1, C=2, K=2)).via("edge")
def test_reference_gradients_by_finite_differences(case):
    """The float64 reference's adjoint is the derivative of its forward (a bilinear map: the
    central difference is exact up to rounding, ~1e-9 here)."""
    rng = np.random.default_rng(3)
    layer, x = make(dict(case, N=1, C=min(case["C"], 2), K=min(case["K"], 2)), rng)
    assume(layer is not None)
    out, top, left = geometry(layer, x)
    geo = (layer.strides, layer.dilation_rate, top, left)
    w = layer.kernel.astype(np.float64)
    g = rng.standard_normal(out[:1] + out[1:]).astype(np.float64)
    dx, dw = conv2d_transpose_grads(x, w, g, *geo)
    np.testing.assert_allclose(dx, numeric_grad(lambda a: (tconv_ref(a, w, out[1:3], *geo) * g).sum(), x),
                               atol=1e-7)
    np.testing.assert_allclose(dw, numeric_grad(lambda a: (tconv_ref(x, a, out[1:3], *geo) * g).sum(), w),
                               atol=1e-7)


def test_relu_fused_and_threads_bitwise(isa, each_thread_count, rng):
    """activation='relu' is the kernel's epilogue (equal to relu of the linear output), and
    every pass is bitwise the same for every thread count, on both backward_input paths
    (filters a multiple of NR: scattered by the GEMM; else col2im)."""
    for K in (32, 5):
        case = dict(N=4, H=6, W=6, C=8, K=K, R=3, S=3, stride=(2, 2), dil=(1, 1), op=None, padding="same")
        layer, x = make(case, np.random.default_rng(K), activation="relu")
        out, top, left = geometry(layer, x)
        lin = _kernels.conv2d_transpose_fwd(x, layer.kernel, layer.bias, False, out,
                                            Window(*x.shape[1:3], 3, 3, 2, 2, 1, 1, top, left))
        results = []
        for _ in each_thread_count():
            y, ctx = layer._fwd(x, True)
            dx, grads = layer._bwd(ctx, np.ascontiguousarray(y[::-1]), True)
            results.append([y, dx, *grads])
        np.testing.assert_array_equal(results[0][0], np.maximum(lin, 0))
        for other in results[1:]:
            for a, b in zip(results[0], other):
                np.testing.assert_array_equal(a, b)


def test_nn_conv2d_transpose_explicit_padding_and_tape(rng):
    """nn.conv2d_transpose with tf.nn's explicit padding list; its tape gradients are the
    reference's; it is the adjoint of nn.conv2d (<conv2d(y), x> = <y, conv2d_transpose(x)>)."""
    y_shape, w = (2, 7, 6, 3), rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    pad = [[0, 0], [2, 1], [0, 1], [0, 0]]
    yy = rng.standard_normal(y_shape).astype(np.float32)
    x = rng.standard_normal(nn.conv2d(yy, w, 2, pad).shape).astype(np.float32)
    out = nn.conv2d_transpose(x, w, y_shape, 2, pad)
    lhs = (nn.conv2d(yy, w, 2, pad).astype(np.float64) * x).sum()
    np.testing.assert_allclose((out.astype(np.float64) * yy).sum(), lhs, rtol=1e-5)
    geo = ((2, 2), (1, 1), 2, 0)
    assert_sum_close(out, tconv_ref(x, w, (7, 6), *geo), tconv_ref(abs(x), abs(w), (7, 6), *geo), 24, "nn")
    with _tape.recording() as recs:
        out = nn.conv2d_transpose(x, w, y_shape, 2, pad)
    dx, dw = _tape.gradients(recs, [out], [yy], [x, w])
    edx, edw = conv2d_transpose_grads(x, w, yy, *geo)
    adx, adw = conv2d_transpose_grads(abs(x), abs(w), abs(yy), *geo)
    assert_sum_close(dx, edx, adx, 18, "nn dx")
    assert_sum_close(dw, edw, adw, x[..., 0].size, "nn dw")


# Keras 3.15 (TensorFlow backend), by this script (kept here as the record of where the numbers
# come from): dyadic inputs, weights and bias, so every output is exact in float32 and x8 an int.
#
#   import numpy as np, keras
#   x = ((np.arange(12) * 7 % 5 - 2) / 2).reshape(1, 2, 3, 2).astype(np.float32)
#   for kw in CASES:
#       layer = keras.layers.Conv2DTranspose(2, **kw)
#       layer.build(x.shape)
#       k = ((np.arange(np.prod(layer.kernel.shape)) * 3 % 5 - 2) / 4).reshape(layer.kernel.shape)
#       layer.set_weights([k.astype(np.float32), np.array([1 / 8, -3 / 8], np.float32)])
#       y = np.asarray(layer(x)) * 8
#       print(f"    ({tuple(y.shape)}, {y.astype(int).ravel().tolist()}),")
KERAS_CASES = [dict(kernel_size=3, strides=2, padding="same"),
               dict(kernel_size=(2, 3), strides=(2, 1), padding="valid"),
               dict(kernel_size=3, strides=2, padding="same", output_padding=(0, 1)),
               dict(kernel_size=3, strides=1, padding="same", dilation_rate=2),
               dict(kernel_size=2, strides=3, padding="valid"),
               dict(kernel_size=4, strides=2, padding="same", output_padding=1, activation="relu"),
               dict(kernel_size=3, strides=2, padding="valid", output_padding=(1, 0))]
KERAS_OUT = [
    ((1, 4, 6, 2), [5, -1, 1, -5, -8, -3, 3, 0, 1, -13, 5, 0, 3, -3, -1, -7, 1, 1, 4, 1, -9, -3, 4, -1, 3, -1, -7, -1, 8, 5, 3, -10, 3, 7, 3, -9, 5, -7, -1, -3, 6, -1, -1, -5, 6, 0, -1, -7]),  # noqa: E501
    ((1, 4, 5, 2), [5, -1, -4, -9, -5, -1, 9, -5, 3, -7, 3, -3, -5, -5, 3, 7, -1, -5, -3, -8, 3, 1, 0, -2, 3, -1, -1, -2, -3, 1, 5, -7, 2, -5, 3, -1, 2, -4, 5, -1]),  # noqa: E501
    ((1, 3, 6, 2), [3, -3, -1, -7, 1, 1, 4, 1, -9, -3, 4, -1, 3, -1, -7, -1, 8, 5, 3, -10, 3, 7, 3, -9, 5, -7, -1, -3, 6, -1, -1, -5, 6, 0, -1, -7]),  # noqa: E501
    ((1, 2, 3, 2), [-6, -3, 4, 1, 8, 1, 1, -3, -1, -5, 1, -3]),
    ((1, 6, 9, 2), [5, -1, 1, -5, 1, -3, -4, -7, 3, 0, 1, -3, -3, -8, 5, 0, 1, -3, -3, 1, 3, -3, 1, -3, 5, -8, -3, -1, 1, -3, 3, -7, -4, 1, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 3, 1, -3, -5, 1, -3, 4, 0, -1, -5, 1, -3, 5, -1, 1, -5, 1, -3, 1, -1, 5, -7, 1, -3, -1, 0, 4, -5, 1, -3, -3, 1, 3, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3]),  # noqa: E501
    ((1, 3, 5, 2), [5, 0, 4, 0, 0, 0, 6, 2, 1, 0, 0, 0, 4, 6, 6, 0, 0, 2, 9, 0, 5, 1, 0, 0, 4, 6, 2, 0, 0, 2]),
    ((1, 6, 7, 2), [5, -1, 1, -5, -8, -3, 3, 0, 1, -13, 5, 0, 3, -7, 3, -3, -1, -7, 1, 1, 4, 1, -9, -3, 4, -1, -3, -8, 3, -1, -7, -1, 8, 5, 3, -10, 3, 7, 3, -9, -8, 5, 5, -7, -1, -3, 6, -1, -1, -5, 6, 0, -1, -7, 5, -1, -3, -5, 1, -1, 3, -9, -1, 0, 4, -7, -3, 1, 3, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3, 1, -3]),  # noqa: E501
]


@pytest.mark.parametrize("kw, expected", zip(KERAS_CASES, KERAS_OUT), ids=range(len(KERAS_CASES)))
def test_equals_keras(kw, expected):
    x = ((np.arange(12) * 7 % 5 - 2) / 2).reshape(1, 2, 3, 2).astype(np.float32)
    layer = layers.Conv2DTranspose(2, **kw)
    layer.build(x.shape)
    k = ((np.arange(layer.kernel.size) * 3 % 5 - 2) / 4).reshape(layer.kernel.shape)
    layer.set_weights([k.astype(np.float32), np.array([1 / 8, -3 / 8], np.float32)])
    shape, values = expected
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + shape[1:]
    np.testing.assert_array_equal(layer(x) * 8, np.array(values, np.float32).reshape(shape))


def test_config_defaults_and_round_trip():
    layer = layers.Conv2DTranspose(3, 3)
    cfg = layer.get_config()
    assert {k: cfg[k] for k in ("strides", "padding", "output_padding", "dilation_rate", "activation",
                                "use_bias", "data_format")} == \
        {"strides": [1, 1], "padding": "valid", "output_padding": None, "dilation_rate": [1, 1],
         "activation": "linear", "use_bias": True, "data_format": "channels_last"}
    other = layers.Conv2DTranspose.from_config(layers.Conv2DTranspose(4, (2, 3), 2, "same", 1).get_config())
    assert (other.output_padding, other.strides, other.kernel_size) == ((1, 1), (2, 2), (2, 3))
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(strides=2, output_padding=2), ValueError,
     r"`output_padding` must be strictly less than `strides` for all dimensions\. At dimension 0, "
     r"`output_padding` is 2 but `strides` is 2"),
    (dict(strides=1, output_padding=(0, 1)), ValueError, r"At dimension 1, `output_padding` is 1 but `strides` is 1"),
    (dict(output_padding=-1), ValueError, r"`output_padding` must be .*Received: output_padding=-1"),
    (dict(strides=2, dilation_rate=2), ValueError, r"`strides > 1` is not supported together with `dilation_rate"),
    (dict(strides=0), ValueError, r"`strides` must be a positive int .*Received: strides=0"),
    (dict(padding="full"), ValueError, r"`padding` must be one of 'valid', 'same'\. Received: padding='full'"),
    (dict(data_format="channels_first"), ValueError, r"`data_format` must be 'channels_last'"),
    (dict(kernel_size=0), ValueError, r"`kernel_size` must be a positive int"),
])
def test_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        layers.Conv2DTranspose(**{"filters": 2, "kernel_size": 3, **kwargs})


def test_shape_errors(rng):
    # an even kernel with 'same' and output_padding 0: the output does not map back (TF refuses it)
    with pytest.raises(ValueError, match=r"cannot take input shape \(None, 3, 3, 2\): with padding='same', "
                                         r"output_padding=\(0, 0\) .* the output size 4x4 does not map back"):
        layers.Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0)(layers.Input((3, 3, 2)))
    layer = layers.Conv2DTranspose(2, 3)
    layer(np.ones((1, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3"):
        layer(np.ones((1, 4, 4, 2), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        layer(np.ones((4, 4, 3), np.float32))
    x, w = np.ones((1, 3, 3, 2), np.float32), np.ones((3, 3, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"`output_shape` \(1, 9, 9, 4\) does not map back to `input`'s "
                                         r"shape \(1, 3, 3, 2\).* gives \(5, 5\) pixels"):
        nn.conv2d_transpose(x, w, (1, 9, 9, 4), 2)
    with pytest.raises(ValueError, match=r"`filters` \(R, S, C, K\) must match `input` \(N, P, Q, K\) and "
                                         r"`output_shape`"):
        nn.conv2d_transpose(x, w, (1, 6, 6, 3), 2)
    with pytest.raises(ValueError, match=r"`output_shape` must be 4 non-negative ints"):
        nn.conv2d_transpose(x, w, (6, 6), 2)
    with pytest.raises(ValueError, match=r"`data_format` must be 'NHWC'"):
        nn.conv2d_transpose(x, w, (1, 6, 6, 4), 2, data_format="NCHW")


def autoencoder():
    inp = layers.Input((8, 8, 1))
    h = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(h)
    out = layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")(h)
    return models.Model(inp, out)


def test_autoencoder_trains_and_round_trips(tmp_path):
    pyconv.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # images of one bright rectangle each: learnable structure, not noise
    x = np.zeros((64, 8, 8, 1), np.float32)
    for i in range(64):
        r, c = rng.integers(0, 5, 2)
        x[i, r:r + 3, c:c + 4] = 1.0
    m = autoencoder()
    m.compile(optimizer=optimizers.Adam(0.01), loss="mse")
    first = m.evaluate(x, x, verbose=0)
    m.fit(x, x, epochs=30, batch_size=16, verbose=0)
    assert m.evaluate(x, x, verbose=0) < 0.35 * first
    path = tmp_path / "ae.pyconv"
    m.save(path)
    r = models.load_model(path)
    np.testing.assert_array_equal(r.predict(x, verbose=0), m.predict(x, verbose=0))
    assert [type(l).__name__ for l in r.layers][-1] == "Conv2DTranspose"


def test_relu_mask_folded_into_max_pooling(rng):
    """Conv2DTranspose(relu) -> MaxPooling2D: the plan lets the pooling apply relu's mask
    (RELU_FOLDED); the gradients are bitwise those of a separate relu layer."""
    def model(fused):
        inp = layers.Input((4, 4, 3))
        t = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu" if fused else None)
        h = t(inp) if fused else layers.Activation("relu")(t(inp))
        return models.Model(inp, layers.Dense(2)(layers.Flatten()(layers.MaxPooling2D()(h))))
    a, b = model(True), model(False)
    b.set_weights(a.get_weights())
    x = rng.standard_normal((3, 4, 4, 3)).astype(np.float32)
    g = rng.standard_normal((3, 2)).astype(np.float32)
    pa, pb = a._plan((), True), b._plan((), True)
    assert any(s.fuse for s in pa.steps)
    (da, ga), (db, gb) = (p.backward(p.forward([x], True)[1], [g]) for p in (pa, pb))
    np.testing.assert_array_equal(da[0], db[0])
    for u, v in zip(ga, gb):
        np.testing.assert_array_equal(u, v)
