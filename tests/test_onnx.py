"""ONNX export (pyconv/_onnx_export.py): every exported graph runs in onnxruntime and is compared
with `model.predict` on the same inputs, at batch sizes 1 and 5 from one file (the batch
dimension is symbolic).

Tolerance: |onnx - pyconv| <= 1e-5 + 1e-5 * |pyconv|. Both compute in float32 with the same
operations but sum in different orders (pyconv's blocked GEMM against onnxruntime's MLAS): a
float32 sum of n products differs by at most about n * 2**-24 * sum|terms| between two orders.
The largest sums here (a 3x3x64 convolution, a Dense over 576 features) are n <= 600 with
sum|terms| of order 1 on these inputs, hence ~1e-5 absolute; outputs larger than 1 (the toy
ResNet's logits, unnormalized sums) carry the same relative error, hence the relative term.
The differences actually seen are below 1e-6.
"""
import builtins
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import pyconv  # noqa: E402
from pyconv import _onnx_export, layers, models, nn, ops  # noqa: E402

from test_functional import toy_resnet  # noqa: E402
from tutorial_models import tutorial_cnn  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)
BATCHES = (1, 5)


def _inputs(model, n, seed=0):
    g = np.random.default_rng(seed)
    return [g.uniform(-1, 1, (n,) + tuple(t.shape[1:])).astype(np.float32) for t in model.inputs]


def _session(model, path, **kw):
    model.export(str(path), format="onnx", verbose=False, **kw)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), proto


def check_export(model, tmp_path, batches=BATCHES, make_inputs=_inputs, **kw):
    """Export, then compare onnxruntime with predict at each batch size; returns the proto."""
    sess, proto = _session(model, tmp_path / "m.onnx", **kw)
    assert [i.name for i in sess.get_inputs()] == model.input_names
    for i, t in zip(sess.get_inputs(), model.inputs):
        assert i.shape == ["batch"] + [d if d is not None else i.shape[k + 1] for k, d in enumerate(t.shape[1:])]
        assert i.type == "tensor(float)"
    for n in batches:
        xs = make_inputs(model, n)
        got = sess.run(None, dict(zip(model.input_names, xs)))
        want = model.predict(xs if len(xs) > 1 else xs[0], verbose=0, batch_size=n)
        want = pyconv.layers.base.flatten(want)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            same = (g == w) | (np.isnan(g) & np.isnan(w))   # equal infinities (exp overflowing) too
            with np.errstate(invalid="ignore"):
                err = np.where(same, 0, np.abs(g - w) - TOL["rtol"] * np.abs(w))
            k = np.unravel_index(np.argmax(err), err.shape) if err.size else ()
            assert err.size == 0 or err[k] <= TOL["atol"], \
                f"batch {n}: largest difference at {k}: onnx {g[k]} vs pyconv {w[k]}"
    return proto


def op_types(proto):
    return [n.op_type for n in proto.graph.node]


# ---- whole models -------------------------------------------------------------------------------
def test_tutorial_cnn_matches_and_has_one_transpose_each_way(tmp_path):
    model = tutorial_cnn()
    proto = check_export(model, tmp_path, batches=(1, 5, 32))
    # NHWC in, NCHW through the three convs and pools, NHWC once before Flatten
    assert op_types(proto).count("Transpose") == 2
    assert proto.opset_import[0].version == 17
    assert [o.name for o in proto.graph.output] == model.output_names


def test_tutorial_dnn_matches(tmp_path):
    model = models.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(128, activation="relu"),
                               layers.Dense(10, activation="softmax")])
    proto = check_export(model, tmp_path)
    assert "Transpose" not in op_types(proto)


def test_toy_resnet_matches(tmp_path):
    proto = check_export(toy_resnet(), tmp_path)
    # the residual adds stay NCHW: one Transpose in, one before Dense (after the global pooling's Flatten: none)
    assert op_types(proto).count("Transpose") == 1


def test_multi_input_multi_output_shared_layers_and_ops(tmp_path):
    img = pyconv.Input(shape=(8, 8, 3), name="img")
    meta = pyconv.Input(shape=(8,), name="meta")
    shared = layers.Dense(6, activation="tanh", name="shared")
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(img)
    x = layers.BatchNormalization()(x)
    x = layers.concatenate([layers.MaxPooling2D()(x), layers.AveragePooling2D()(x)])
    a = shared(layers.GlobalAveragePooling2D()(x))
    b = shared(meta)
    merged = layers.concatenate([a, b, ops.multiply(a, 2.0)])
    score = ops.sum(ops.square(merged), axis=-1, keepdims=True)
    cls = layers.Dense(3, activation="softmax", name="cls")(merged)
    model = pyconv.Model([img, meta], [cls, layers.Activation("sigmoid", name="score")(score)])
    [l for l in model.layers if isinstance(l, layers.BatchNormalization)][0].set_weights([np.linspace(0.5, 1.5, 4, dtype=np.float32), np.linspace(-0.2, 0.2, 4, dtype=np.float32),
                                 np.linspace(-0.1, 0.3, 4, dtype=np.float32), np.linspace(0.5, 2, 4, dtype=np.float32)])
    proto = check_export(model, tmp_path)
    assert [i.name for i in proto.graph.input] == ["img", "meta"]
    assert [o.name for o in proto.graph.output] == ["cls", "score"]
    # the shared Dense's kernel is stored once
    assert len([i for i in proto.graph.initializer if i.name.startswith("shared/kernel")]) == 1


def test_nested_functional_and_sequential_models(tmp_path):
    inner_in = pyconv.Input(shape=(6, 6, 2))
    y = layers.Conv2D(2, 3, padding="same", activation="relu")(inner_in)
    inner = pyconv.Model(inner_in, layers.add([y, layers.Conv2D(2, 1)(inner_in)]), name="block")
    head = models.Sequential([layers.Flatten(), layers.Dense(4)], name="head")
    inp = pyconv.Input(shape=(6, 6, 2), name="x")
    out = head(inner(inner(layers.Conv2D(2, 1)(inp))))   # the nested model used twice
    check_export(pyconv.Model(inp, out), tmp_path)


def test_model_output_that_is_its_input_and_a_duplicated_output(tmp_path):
    inp = pyconv.Input(shape=(3,), name="x")
    d = layers.Dense(2, name="d")(inp)
    model = pyconv.Model(inp, [inp, d, d])
    proto = check_export(model, tmp_path)
    assert [o.name for o in proto.graph.output] == ["x_1", "d", "d_1"]


def test_unknown_spatial_sizes_stay_symbolic(tmp_path):
    inp = pyconv.Input(shape=(None, None, 3), name="img")
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inp)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.AveragePooling2D(2, padding="same")(x)
    x = layers.Cropping2D(((1, 0), (0, 1)))(layers.ZeroPadding2D(1)(x))
    model = pyconv.Model(inp, layers.GlobalMaxPooling2D()(x))
    sess, proto = _session(model, tmp_path / "m.onnx")
    assert sess.get_inputs()[0].shape == ["batch", "img_dim1", "img_dim2", 3]
    for n, h, w in ((1, 9, 7), (3, 16, 11)):
        x = np.random.default_rng(h).uniform(-1, 1, (n, h, w, 3)).astype(np.float32)
        np.testing.assert_allclose(sess.run(None, {"img": x})[0], model.predict(x, verbose=0), **TOL)


@pytest.mark.parametrize("opset", [17, 18, 21])
def test_opsets_17_and_newer(tmp_path, opset):
    inp = pyconv.Input(shape=(4, 5), name="x")
    y = ops.mean(inp, axis=1) + ops.squeeze(ops.max(inp, axis=(1, 2), keepdims=True), axis=2) + ops.min(inp, axis=1)
    model = pyconv.Model(inp, ops.sum(y, axis=-1))
    proto = check_export(model, tmp_path, opset_version=opset)
    assert proto.opset_import[0].version == opset


# ---- one model per layer type: on the NHWC input, and after a conv (values stored NCHW) --------
def one_layer(layer, shape, after_conv=False):
    inp = pyconv.Input(shape=shape, name="x")
    x = layers.Conv2D(shape[-1], 1, name="pre")(inp) if after_conv else inp
    return pyconv.Model(inp, layer(x))


@settings(max_examples=12)
@given(h=st.integers(4, 9), w=st.integers(4, 9), c=st.integers(1, 3), k=st.integers(1, 4),
       r=st.integers(1, 3), s=st.integers(1, 3), stride=st.integers(1, 3), dil=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same"]), act=st.sampled_from(["linear", "relu", "sigmoid", "tanh", "softmax"]),
       bias=st.booleans())
@example(h=4, w=4, c=1, k=1, r=1, s=1, stride=1, dil=1, padding="valid", act="linear", bias=False)
@example(h=5, w=8, c=3, k=4, r=3, s=2, stride=2, dil=1, padding="same", act="relu", bias=True)
@example(h=9, w=7, c=2, k=3, r=3, s=3, stride=1, dil=2, padding="same", act="softmax", bias=True)
def test_conv2d(tmp_path_factory, h, w, c, k, r, s, stride, dil, padding, act, bias):
    if dil > 1:
        stride = 1   # pyconv refuses strides > 1 with dilation > 1, as Keras does
    if padding == "valid" and (h < (r - 1) * dil + 1 or w < (s - 1) * dil + 1):
        return
    layer = layers.Conv2D(k, (r, s), strides=stride, padding=padding, dilation_rate=dil, activation=act, use_bias=bias,
                          bias_initializer="random_uniform")
    check_export(one_layer(layer, (h, w, c)), tmp_path_factory.mktemp("conv"))


@settings(max_examples=12)
@given(h=st.integers(4, 8), w=st.integers(4, 8), groups=st.sampled_from([2, 3]), per_group=st.integers(1, 2),
       k_per_group=st.integers(1, 3), r=st.integers(1, 3), stride=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same"]), act=st.sampled_from(["linear", "relu", "gelu"]))
@example(h=4, w=5, groups=3, per_group=1, k_per_group=1, r=3, stride=1, padding="same", act="linear")
@example(h=8, w=7, groups=2, per_group=2, k_per_group=3, r=3, stride=2, padding="valid", act="relu")
def test_grouped_conv2d(tmp_path_factory, h, w, groups, per_group, k_per_group, r, stride, padding, act):
    layer = layers.Conv2D(groups * k_per_group, r, strides=stride, padding=padding, groups=groups, activation=act,
                          bias_initializer="random_uniform")
    check_export(one_layer(layer, (h, w, groups * per_group), after_conv=True), tmp_path_factory.mktemp("grouped"))


@settings(max_examples=12)
@given(h=st.integers(3, 8), w=st.integers(3, 8), c=st.integers(1, 4), m=st.integers(1, 3), r=st.integers(1, 3),
       stride=st.integers(1, 2), dil=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]),
       separable=st.booleans(), bias=st.booleans(), act=st.sampled_from(["linear", "relu", "silu"]))
@example(h=3, w=3, c=1, m=1, r=3, stride=1, dil=1, padding="valid", separable=False, bias=False, act="linear")
@example(h=7, w=6, c=3, m=2, r=3, stride=2, dil=1, padding="same", separable=True, bias=True, act="relu")
@example(h=8, w=8, c=4, m=3, r=2, stride=1, dil=2, padding="same", separable=False, bias=True, act="silu")
def test_depthwise_and_separable_conv2d(tmp_path_factory, h, w, c, m, r, stride, dil, padding, separable, bias, act):
    if dil > 1:
        stride = 1
    if padding == "valid" and min(h, w) < (r - 1) * dil + 1:
        return
    kw = dict(strides=stride, padding=padding, dilation_rate=dil, depth_multiplier=m, use_bias=bias, activation=act,
              bias_initializer="random_uniform")
    layer = layers.SeparableConv2D(5, r, **kw) if separable else layers.DepthwiseConv2D(r, **kw)
    check_export(one_layer(layer, (h, w, c), after_conv=separable), tmp_path_factory.mktemp("depthwise"))


def test_shared_depthwise_layer_weights_stored_once(tmp_path):
    inp = pyconv.Input(shape=(5, 5, 3), name="x")
    dw = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")
    sep = layers.SeparableConv2D(3, 3, padding="same", name="sep")
    model = pyconv.Model(inp, layers.add([sep(dw(inp)), sep(dw(layers.Conv2D(3, 1)(inp)))]))
    proto = check_export(model, tmp_path)
    names = [i.name for i in proto.graph.initializer]
    assert sum(n.startswith("dw/kernel") for n in names) == 1 and sum(n.startswith("sep/kernel") for n in names) == 2


@settings(max_examples=12)
@given(h=st.integers(1, 6), w=st.integers(1, 6), c=st.integers(1, 3), k=st.integers(1, 4), r=st.integers(1, 4),
       s=st.integers(1, 3), stride=st.integers(1, 3), dil=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]),
       out_pad=st.sampled_from([None, 0, 1, 2]), act=st.sampled_from(["linear", "relu", "tanh"]), bias=st.booleans())
@example(h=1, w=1, c=1, k=1, r=1, s=1, stride=1, dil=1, padding="valid", out_pad=None, act="linear", bias=False)
@example(h=5, w=4, c=3, k=4, r=3, s=4, stride=2, dil=1, padding="same", out_pad=None, act="relu", bias=True)
@example(h=3, w=6, c=2, k=2, r=1, s=2, stride=3, dil=1, padding="same", out_pad=2, act="linear", bias=True)
@example(h=4, w=5, c=2, k=3, r=3, s=2, stride=1, dil=2, padding="valid", out_pad=None, act="tanh", bias=True)
@example(h=3, w=4, c=2, k=3, r=3, s=3, stride=2, dil=1, padding="same", out_pad=None, act="relu", bias=True)
@example(h=2, w=3, c=1, k=2, r=2, s=2, stride=3, dil=1, padding="valid", out_pad=None, act="linear", bias=True)
@example(h=3, w=3, c=2, k=2, r=4, s=3, stride=2, dil=1, padding="same", out_pad=1, act="linear", bias=False)
@example(h=4, w=3, c=2, k=2, r=3, s=2, stride=2, dil=1, padding="valid", out_pad=1, act="linear", bias=True)
@example(h=5, w=4, c=3, k=2, r=3, s=2, stride=1, dil=2, padding="same", out_pad=None, act="tanh", bias=True)
def test_conv2d_transpose(tmp_path_factory, h, w, c, k, r, s, stride, dil, padding, out_pad, act, bias):
    if dil > 1:
        stride = 1
    if out_pad is not None and out_pad >= stride:
        out_pad = stride - 1
    layer = layers.Conv2DTranspose(k, (r, s), strides=stride, padding=padding, output_padding=out_pad,
                                   dilation_rate=dil, activation=act, use_bias=bias, bias_initializer="random_uniform")
    try:
        model = one_layer(layer, (h, w, c), after_conv=True)
    except ValueError as e:   # an output size that does not map back (TensorFlow refuses it too)
        assert "does not map back" in str(e)
        return
    check_export(model, tmp_path_factory.mktemp("convt"))


def test_conv2d_transpose_unknown_sizes(tmp_path):
    inp = pyconv.Input(shape=(None, None, 2), name="x")
    y = layers.Conv2DTranspose(3, 3, strides=2, padding="same")(inp)
    y = layers.Conv2DTranspose(2, (2, 3), strides=(3, 2), padding="same", output_padding=(1, 1))(y)
    model = pyconv.Model(inp, layers.Conv2DTranspose(2, 2, strides=3)(y))
    sess, _ = _session(model, tmp_path / "m.onnx")
    for n, h, w in ((1, 3, 4), (2, 5, 2)):
        x = np.random.default_rng(h).uniform(-1, 1, (n, h, w, 2)).astype(np.float32)
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], model.predict(x, verbose=0), **TOL)

    # an output size that never maps back (an even kernel, output_padding 0): refused for any size
    bad = pyconv.Model(inp, layers.Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0, name="bad")(inp))
    with pytest.raises(ValueError, match=r"(?s)1 layer\(s\).*bad \(Conv2DTranspose\): .*does not map back"):
        bad.export(str(tmp_path / "bad.onnx"), format="onnx")


@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 2, "same"), ((2, 3), (1, 2), "same"),
                                                  ((3, 1), 1, "valid"), (4, 3, "same")])
@pytest.mark.parametrize("after_conv", [False, True])
def test_pooling(tmp_path, cls, pool, strides, padding, after_conv):
    check_export(one_layer(cls(pool, strides=strides, padding=padding), (7, 6, 3), after_conv), tmp_path)


@pytest.mark.parametrize("cls", [layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(tmp_path, cls, keepdims):
    check_export(one_layer(cls(keepdims=keepdims), (5, 4, 3), after_conv=True), tmp_path)


@pytest.mark.parametrize("make", [
    lambda: layers.Flatten(), lambda: layers.Reshape((12, 5)), lambda: layers.Reshape((-1, 3, 2)),
    lambda: layers.Dropout(0.5), lambda: layers.ReLU(), lambda: layers.Softmax(),
    lambda: layers.Activation("tanh"), lambda: layers.Activation("linear"), lambda: layers.Dense(3, activation="sigmoid"),
    lambda: layers.Rescaling(1 / 255), lambda: layers.Rescaling(2.0, offset=-1.0),
    lambda: layers.Rescaling([1.0, 2.0, 3.0, 0.5, -1.0], offset=[0.0, 1.0, -1.0, 2.0, 0.5]),
    lambda: layers.ZeroPadding2D(((1, 2), (0, 3))), lambda: layers.Cropping2D(((1, 2), (0, 1))),
    lambda: layers.UpSampling2D((2, 3)), lambda: layers.UpSampling2D(3),
    lambda: layers.UpSampling2D((2, 3), interpolation="bilinear"), lambda: layers.UpSampling2D(3, interpolation="bilinear"),
    lambda: layers.BatchNormalization(), lambda: layers.BatchNormalization(center=False, scale=False, epsilon=0.1),
], ids=["flatten", "reshape", "reshape-1", "dropout", "relu", "softmax", "tanh", "linear", "dense",
        "rescale", "rescale-offset", "rescale-channels", "zeropad", "crop", "upsample23", "upsample3",
        "upsample23-bilinear", "upsample3-bilinear", "bn", "bn-bare"])
@pytest.mark.parametrize("after_conv", [False, True])
def test_layer(tmp_path, make, after_conv):
    layer = make()
    model = one_layer(layer, (4, 3, 5), after_conv)
    if isinstance(layer, layers.BatchNormalization):   # weights and moving statistics away from 0 and 1
        ranges = {"gamma": (0.5, 1.5), "beta": (-1, 1), "moving_mean": (-1, 1), "moving_variance": (0.5, 1.5)}
        names = ["gamma"] * layer.scale + ["beta"] * layer.center + ["moving_mean", "moving_variance"]
        g = np.random.default_rng(3)
        layer.set_weights([g.uniform(*ranges[n], 5).astype(np.float32) for n in names])
    check_export(model, tmp_path)


def test_batchnorm_on_vectors_and_sequences(tmp_path):
    for shape in ((7,), (3, 7)):
        bn = layers.BatchNormalization()
        model = one_layer(bn, shape)
        bn.set_weights([np.full(7, 2, np.float32), np.ones(7, np.float32), np.linspace(-1, 1, 7, dtype=np.float32),
                        np.linspace(0.5, 3, 7, dtype=np.float32)])
        check_export(model, tmp_path)


@pytest.mark.parametrize("make", [
    lambda: layers.Resizing(5, 7), lambda: layers.Resizing(3, 2), lambda: layers.Resizing(9, 4, interpolation="nearest"),
    lambda: layers.Resizing(3, 5, interpolation="nearest"), lambda: layers.Resizing(6, 6),
    lambda: layers.Resizing(4, 9, crop_to_aspect_ratio=True), lambda: layers.Resizing(9, 3, crop_to_aspect_ratio=True),
    lambda: layers.Resizing(4, 9, pad_to_aspect_ratio=True, fill_value=0.5),
    lambda: layers.Resizing(9, 3, pad_to_aspect_ratio=True, interpolation="nearest"),
    lambda: layers.CenterCrop(4, 3), lambda: layers.CenterCrop(6, 5), lambda: layers.CenterCrop(3, 8),
    lambda: layers.CenterCrop(9, 9), lambda: layers.RandomCrop(4, 4, seed=1), lambda: layers.RandomCrop(8, 3, seed=1),
    lambda: layers.RandomFlip(seed=1), lambda: layers.RandomRotation(0.2, seed=1),
    lambda: layers.RandomTranslation(0.1, 0.2, seed=1), lambda: layers.RandomZoom(0.2, seed=1),
    lambda: layers.RandomContrast(0.3, seed=1),
], ids=["up", "down", "nearest-up", "nearest-down", "same", "crop-wide", "crop-tall", "pad-wide", "pad-tall-nearest",
        "center", "center-all", "center-smart", "center-bigger", "random-crop", "random-crop-tall", "flip", "rotation",
        "translation", "zoom", "contrast"])
@pytest.mark.parametrize("after_conv", [False, True])
def test_preprocessing_and_augmentation_layers(tmp_path, make, after_conv):
    check_export(one_layer(make(), (6, 5, 2), after_conv), tmp_path)


@pytest.mark.parametrize("kw,adapt", [({"mean": [0.5, -1.0], "variance": [4.0, 0.25]}, False),
                                      ({"mean": 0.3, "variance": 2.0, "invert": True}, False),
                                      ({"axis": None}, True), ({"axis": (1, 2)}, True), ({"axis": (-1, 1)}, True),
                                      ({"axis": -1, "invert": True}, True)])
@pytest.mark.parametrize("after_conv", [False, True])
def test_normalization(tmp_path, kw, adapt, after_conv):
    layer = layers.Normalization(**kw)
    if adapt:
        layer.adapt(np.random.default_rng(2).normal(1.0, 3.0, (10, 4, 3, 2)).astype(np.float32))
    check_export(one_layer(layer, (4, 3, 2), after_conv), tmp_path)


def test_resizing_unknown_sizes(tmp_path):
    inp = pyconv.Input(shape=(None, None, 3), name="x")
    model = pyconv.Model(inp, [layers.Resizing(4, 5)(inp), layers.Resizing(3, 3, interpolation="nearest")(inp)])
    sess, _ = _session(model, tmp_path / "m.onnx")
    for n, h, w in ((1, 7, 2), (2, 3, 9)):
        x = np.random.default_rng(h).uniform(-1, 1, (n, h, w, 3)).astype(np.float32)
        for got, want in zip(sess.run(None, {"x": x}), model.predict(x, verbose=0)):
            np.testing.assert_allclose(got, want, **TOL)
    for layer in (layers.Resizing(4, 5, crop_to_aspect_ratio=True, name="r"), layers.CenterCrop(2, 2, name="r")):
        bad = pyconv.Model(inp, layer(inp))
        with pytest.raises(ValueError, match=r"(?s)r \(\w+\): its output depends on the image size, unknown here "
                                             r"\(\(None, None, None, 3\)\): give the model's Input a height and width"):
            bad.export(str(tmp_path / "bad.onnx"), format="onnx")


def _wide_inputs(model, n, seed=0):
    """Inputs in [-8, 8]: past the kinks of relu6, hard_sigmoid (+-3) and the thresholds below."""
    return [8 * x for x in _inputs(model, n, seed)]


@pytest.mark.parametrize("name", sorted(set(pyconv.activations._ACTS) | set(pyconv.activations._ALIASES)))
def test_every_activation_by_name(tmp_path, name):
    inp = pyconv.Input(shape=(4, 4, 3), name="x")
    y = layers.Conv2D(4, 3, padding="same", activation=name)(inp)   # on NCHW values
    model = pyconv.Model(inp, [y, layers.Dense(3, activation=name)(layers.Flatten()(y)), layers.Activation(name)(inp)])
    # exp of a wide input's conv outputs (e^30) then summed by Dense cancels: [-1, 1] for it
    check_export(model, tmp_path, make_inputs=_inputs if name == "exponential" else _wide_inputs)


@pytest.mark.parametrize("make", [
    lambda: layers.ReLU(max_value=6.0), lambda: layers.ReLU(negative_slope=0.1), lambda: layers.ReLU(threshold=1.5),
    lambda: layers.ReLU(max_value=4.0, negative_slope=0.5, threshold=2.0), lambda: layers.ReLU(4.0, 0.0, 1.0),
    lambda: layers.ReLU(negative_slope=0.25, threshold=0.5), lambda: layers.LeakyReLU(), lambda: layers.LeakyReLU(0.01),
    lambda: layers.ELU(), lambda: layers.ELU(alpha=0.3), lambda: layers.Softmax(axis=1), lambda: layers.Softmax(axis=(1, 2)),
    lambda: layers.Softmax(axis=(2,)),
    lambda: layers.PReLU(alpha_initializer="random_uniform"),
    lambda: layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2]),
    lambda: layers.PReLU(alpha_initializer="random_uniform", shared_axes=2),
], ids=["relu6", "leaky", "threshold", "all-three", "clip-threshold", "slope-threshold", "leaky-default", "leaky-0.01",
        "elu", "elu-0.3", "softmax-1", "softmax-12", "softmax-(2,)", "prelu", "prelu-channel", "prelu-shared-w"])
@pytest.mark.parametrize("after_conv", [False, True])
def test_activation_layers_with_arguments(tmp_path, make, after_conv):
    check_export(one_layer(make(), (3, 4, 5), after_conv), tmp_path, make_inputs=_wide_inputs)


MERGES = [layers.Add, layers.Subtract, layers.Multiply, layers.Average, layers.Maximum, layers.Minimum,
          layers.Concatenate]


@pytest.mark.parametrize("cls", MERGES)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_merge_layers_after_convs(tmp_path, cls, n):
    if cls is layers.Subtract and n != 2:
        return
    inp = pyconv.Input(shape=(5, 4, 3), name="x")
    branches = [layers.Conv2D(3, 3, padding="same")(inp) for _ in range(n)]
    proto = check_export(pyconv.Model(inp, cls()(branches)), tmp_path)
    assert op_types(proto).count("Transpose") == 2   # in, and back for the output


@pytest.mark.parametrize("cls", MERGES[:-1])
def test_merge_rank_alignment(tmp_path, cls):
    a, b = pyconv.Input(shape=(3, 5), name="a"), pyconv.Input(shape=(5,), name="b")   # (batch, 5) -> (batch, 1, 5)
    check_export(pyconv.Model([a, b], cls()([a, b])), tmp_path)


@pytest.mark.parametrize("axis", [-1, 1, 2, 3])
def test_concatenate_axes_mixed_layouts(tmp_path, axis):
    inp = pyconv.Input(shape=(4, 4, 2), name="x")
    check_export(pyconv.Model(inp, layers.Concatenate(axis=axis)([layers.Conv2D(2, 1)(inp), inp])), tmp_path)


# ---- pyconv.ops nodes and Lambda ---------------------------------------------------------------
OPS = {
    "arith": lambda x: ops.divide(ops.subtract(ops.add(x, 1.5), [0.5, 1.0, 2.0]), 2.0) * x - ops.negative(x),
    "unary": lambda x: ops.exp(x) + ops.log(ops.abs(x) + 1) + ops.sqrt(ops.square(x)) + ops.absolute(x),
    "power": lambda x: ops.power(ops.abs(x) + 0.5, 1.5) + ops.true_divide(x, 3.0),
    "minmax": lambda x: ops.maximum(x, 0.1) + ops.minimum(0.2, x) + ops.clip(x, -0.3, 0.4),
    "acts": lambda x: ops.relu(x) + ops.sigmoid(x) + ops.tanh(x) + ops.softmax(x, axis=1) + ops.log_softmax(x)
                     + ops.softmax(x, axis=(1, 2)) + ops.log_softmax(x, axis=[-1, 1]),
    "matmul": lambda x: ops.matmul(x, np.arange(12, dtype=np.float32).reshape(3, 4) / 10),
    "dot": lambda x: ops.dot(ops.dot(x, np.ones((3, 2), np.float32)), 2.0),
    "shape": lambda x: ops.squeeze(ops.expand_dims(ops.transpose(ops.reshape(x, (-1, 2, 3, 2)), (0, 3, 1, 2)), 1),
                                   axis=1),
    "stack": lambda x: ops.concatenate([ops.stack([x, x * 2], axis=-1), ops.stack([x, x], axis=-1)], axis=1),
    "reduce": lambda x: ops.mean(x, axis=(1, 2)) + ops.sum(x, axis=(1, 2)) + ops.max(ops.min(x, axis=-1), axis=1)
                        + ops.min(x) + ops.sum(ops.sum(x, axis=()), axis=(-1, -2)),
    "fill": lambda x: ops.zeros_like(x) + ops.ones_like(x) * ops.stop_gradient(x) + ops.cast(x, "float32"),
    "arg": lambda x: ops.cast(ops.argmax(x, axis=-1), "float32") + ops.argmin(x, axis=-1) + ops.argmax(x)
                     + ops.squeeze(ops.argmax(ops.convert_to_tensor(x), axis=-1, keepdims=True), axis=-1)
                     + ops.reshape(ops.argmin(x, keepdims=True), (1,)),
    "where": lambda x: ops.where(ops.relu(x), x, ops.negative(x)) + ops.where([1.0, 0.0, 1.0], x, 0.5),
    "cast": lambda x: ops.cast(ops.cast(x * 4, "int32"), "float32"),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_ops_nodes(tmp_path, name):
    inp = pyconv.Input(shape=(4, 3), name="x")
    check_export(pyconv.Model(inp, OPS[name](inp)), tmp_path)


def test_lambda_of_ops_is_traced_once_names_untouched(tmp_path):
    inp = pyconv.Input(shape=(4, 4, 2), name="x")
    y = layers.Conv2D(2, 1)(inp)
    lam = layers.Lambda(lambda t, k: ops.tanh(t) * k + ops.mean(t, axis=-1, keepdims=True), arguments={"k": 3.0})
    model = pyconv.Model(inp, lam(y))
    before = dict(pyconv.utils._uids)
    check_export(model, tmp_path)
    assert pyconv.utils._uids == before   # the trace gave back the automatic names it took


def test_every_registered_layer_activation_and_op_has_a_converter():
    """A new layer (activation, op) adds its converter in pyconv/_onnx_export.py, with a test here."""
    E = _onnx_export
    assert [n for n, c in layers._REGISTRY.items() if c not in E._CONVERTERS and c is not layers.InputLayer] == []
    assert sorted(set(pyconv.activations._ACTS) - set(E._ACTIVATIONS)) == []
    assert sorted(set(ops.__all__) - set(E._OPS)) == ["shape"]   # a tuple of ints on symbolic tensors, no node


# ---- what is refused --------------------------------------------------------------------------
class Custom(layers.Layer):
    def call(self, x):
        return ops.multiply(x, 2.0)


def test_every_unsupported_layer_is_listed_at_once(tmp_path):
    inp = pyconv.Input(shape=(4, 4, 6), name="x")
    pool = layers.Lambda(lambda X: nn.max_pool(X, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="valid"),
                         name="depth_pool")
    y = Custom(name="custom")(pool(inp))
    y = layers.Activation("relu")(y)
    sub = models.Sequential([Custom(name="inner_custom")], name="sub")
    model = pyconv.Model(inp, sub(ops.argmin(y, axis=-1)))
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=r'(?s)Model "\S+" cannot be exported to ONNX: 3 layer\(s\) have no ONNX '
                                         r"equivalent:\n  - depth_pool \(Lambda\): its function is not made of "
                                         r"pyconv.ops calls on its input \(called on symbolic tensors it raised "
                                         r"TypeError: .*\n  - custom \(Custom\): its computation is Python code "
                                         r".*\n  - sub/inner_custom \(Custom\): its computation is Python code"):
        model.export(str(path), format="onnx")
    assert not path.exists()


def test_unsupported_op_and_options():
    inp = pyconv.Input(shape=(3, 4), name="x")
    model = pyconv.Model(inp, [ops.dot(inp, np.ones((2, 4, 1), np.float32)), ops.max(inp, initial=0.0),
                               ops.where(inp), ops.cast(inp, "longdouble"),
                               layers.Lambda(lambda t: ops.reshape(t, ops.shape(t)[:1] + (12,)))(inp),
                               layers.Lambda(lambda t: t.reshape(len(t), -1))(inp)])
    with pytest.raises(ValueError, match=r"(?s)6 layer\(s\).*pyconv.ops.dot with a second operand of rank > 2.*"
                                         r"pyconv.ops.max with initial=0.0.*pyconv.ops.where with one argument.*"
                                         r"pyconv.ops.cast to dtype 'longdouble'.*"
                                         r"lambda\S* \(Lambda\): its function is not made of pyconv.ops calls on its "
                                         r"input \(called on symbolic tensors it raised TypeError: `newshape` must be.*"
                                         r"lambda\S* \(Lambda\): .* it raised AttributeError: "):
        _onnx_export.to_proto(model)


def test_subclassed_and_unbuilt_models_are_refused(tmp_path):
    class Sub(pyconv.Model):
        def call(self, x):
            return x * 2

    with pytest.raises(ValueError, match=r'Model "\S+" is a subclassed model \(its computation is Python code in '
                                         r"`call`\): ONNX export takes functional and Sequential models\."):
        Sub().export(str(tmp_path / "m.onnx"), format="onnx")
    with pytest.raises(ValueError, match=r'Model "unbuilt" has no input shape yet: build it'):
        models.Sequential([layers.Dense(2)], name="unbuilt").export(str(tmp_path / "m.onnx"), format="onnx")


def test_format_and_argument_errors(tmp_path):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    path = str(tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"pyconv cannot export format='tf_saved_model': .* "
                                         r"model.export\(path, format='onnx'\)"):
        model.export(path)   # Keras 3's default format
    for fmt in ("openvino", "litert", "torch"):
        with pytest.raises(ValueError, match=f"pyconv cannot export format='{fmt}'"):
            model.export(path, format=fmt)
    with pytest.raises(ValueError, match=r"Unrecognized format='tflite'. Supported formats are: \['onnx'\]"):
        model.export(path, format="tflite")
    with pytest.raises(ValueError, match=r"`input_signature` is not supported: .* Received: input_signature=\[\(1, 3\)\]"):
        model.export(path, format="onnx", input_signature=[(1, 3)])
    with pytest.raises(TypeError, match=r"Unexpected keyword argument\(s\) for format='onnx': \['opset'\]"):
        model.export(path, format="onnx", opset=17)
    for bad in (16, 10**6, "17", 17.0):
        with pytest.raises(ValueError, match=r"`opset_version` must be an int from 17 to \d+ .* Received: "
                                             rf"opset_version={bad!r}\."):
            model.export(path, format="onnx", opset_version=bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.export(str(tmp_path / "no" / "m.onnx"), format="onnx", verbose=False)


def test_verbose_prints_as_keras(tmp_path, capsys):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    path = tmp_path / "m.onnx"   # a pathlib.Path, as Keras accepts
    model.export(path, format="onnx")
    assert capsys.readouterr().out == f"Saved artifact at '{path}'.\n"
    model.export(path, format="onnx", verbose=False)
    assert capsys.readouterr().out == ""


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def blocked(name, *a, **k):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *a, **k)
    for mod in [m for m in sys.modules if m == "onnx" or m.startswith("onnx.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", blocked)
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ImportError, match=r'Exporting to ONNX needs the `onnx` package \(the \[onnx\] extra\): '
                                          r'pip install "pyconv\[onnx\]"'):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("make", [
    lambda: layers.Conv2D(6, 3, groups=2, padding="same", activation="relu"),
    lambda: layers.Conv2D(8, (2, 3), groups=4, strides=2),                   # groups = C
    lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same", activation="tanh"),
    lambda: layers.DepthwiseConv2D((3, 2), dilation_rate=2, use_bias=False),
    lambda: layers.SeparableConv2D(5, 3, depth_multiplier=2, padding="same", activation="relu"),
    lambda: layers.SeparableConv2D(3, 2, use_bias=False),
], ids=["grouped", "groups=C", "depthwise", "depthwise-dilated", "separable", "separable-nobias"])
@pytest.mark.parametrize("after_conv", [False, True])
def test_grouped_depthwise_separable_export(tmp_path, make, after_conv):
    """ONNX Conv with `group` (depthwise: group = C), onnxruntime against predict. (Here, not in
    test_depthwise.py: the kernel tests also run under ASan, where onnxruntime's own
    allocations at exit would read as leaks.)"""
    layer = make()
    model = one_layer(layer, (7, 6, 4), after_conv)
    rng = np.random.default_rng(5)
    layer.set_weights([rng.uniform(-1, 1, w.shape).astype(np.float32) for w in layer.weights])
    check_export(model, tmp_path)
