"""The functional API, nested and subclassed models, and the trainer over any data (issue 11).

Gradients of a graph (shared layers, merges, nested models, subclassed layers on the tape) are
checked by central finite differences against the float32 forward accumulated in float64, as in
tests/test_layers.py (the same step h and tolerances, justified there)."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyconv
from pyconv import layers, losses, models, optimizers, utils
from tutorial_models import tutorial_cnn

H = 1e-2


@pytest.fixture(autouse=True)
def _fresh():
    utils.clear_session()
    utils.set_random_seed(0)


def check_model_gradients(model, xs, n_checks=12, seed=0, smooth=True, no_grad_inputs=()):
    """A model's weight (and input) gradients from its plan vs central differences of
    sum(outputs * R) computed with its float32 forward. The inputs `no_grad_inputs` (indices:
    a Softmax's mask) must get no gradient."""
    rng = np.random.default_rng(seed)
    xs = [np.asarray(x, np.float32) for x in xs]
    plan = model._plan((), True)
    outs, ctx = plan.forward(xs, True)
    rs = [rng.standard_normal(o.shape) for o in outs]
    dins, grads = plan.backward(ctx, [r.astype(np.float32) for r in rs])

    def loss():
        o = model._plan().forward(xs, False)[0]
        return sum(float((a.astype(np.float64) * r).sum()) for a, r in zip(o, rs))

    assert all(dins[i] is None for i in no_grad_inputs)
    targets = [(f"input {i}", x, d) for i, (x, d) in enumerate(zip(xs, dins)) if i not in no_grad_inputs] + \
              [(f"weight {i}", w, g) for i, (w, g) in enumerate(zip(plan.params, grads))]
    assert len(grads) == len(model.trainable_weights)
    for what, arr, g in targets:
        assert g.shape == arr.shape, what
        flat = arr.reshape(-1)
        for i in rng.choice(flat.size, size=min(n_checks, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + H
            lp = loss()
            flat[i] = old - H
            lm = loss()
            flat[i] = old
            num = (lp - lm) / (2 * H)
            ana = float(g.reshape(-1)[i])
            assert abs(num - ana) <= 2e-3 + 1e-2 * abs(num), f"d/d{what}[{i}]: fd {num:.6f}, backward {ana:.6f}"


def toy_resnet():
    """keras-io's functional-API guide, "A toy ResNet model"."""
    inputs = pyconv.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    return pyconv.Model(inputs, outputs, name="toy_resnet")


# Keras 3.15.1's text for the same model, on a 76-column log (COLUMNS unset): the first rows
TOY_RESNET_TOP = """\
Model: "toy_resnet"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ img (InputLayer)    │ (None, 32, 32, 3) │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ conv2d (Conv2D)     │ (None, 30, 30,    │        896 │ img[0][0]         │
│                     │ 32)               │            │                   │
"""

TWO_IO = """\
Model: "two_io"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ in_a (InputLayer)   │ (None, 8)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ in_b (InputLayer)   │ (None, 8)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ shared (Dense)      │ (None, 8)         │         72 │ in_a[0][0],       │
│                     │                   │            │ in_b[0][0]        │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add (Add)           │ (None, 8)         │          0 │ shared[0][0],     │
│                     │                   │            │ shared[1][0]      │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ concat              │ (None, 16)        │          0 │ shared[0][0],     │
│ (Concatenate)       │                   │            │ shared[1][0]      │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ out_sum (Dense)     │ (None, 1)         │          9 │ add[0][0]         │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ out_cat (Dense)     │ (None, 3)         │         51 │ concat[0][0]      │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 132 (528.00 B)
 Trainable params: 132 (528.00 B)
 Non-trainable params: 0 (0.00 B)
"""


def two_io():
    a, b = pyconv.Input((8,), name="in_a"), pyconv.Input((8,), name="in_b")
    shared = layers.Dense(8, name="shared")
    sa, sb = shared(a), shared(b)
    s = layers.Dense(1, name="out_sum")(layers.add([sa, sb], name="add"))
    c = layers.Dense(3, activation="softmax", name="out_cat")(layers.concatenate([sa, sb], name="concat"))
    return pyconv.Model([a, b], [s, c], name="two_io")


# ---- names and symbolic tensors ---------------------------------------------------------------
def test_keras_top_level_names():
    for name in ("Sequential", "Model", "Input", "layers", "ops", "optimizers", "losses", "metrics",
                 "callbacks", "utils", "datasets", "models", "initializers", "activations"):
        assert getattr(pyconv, name) is not None
    assert pyconv.Model is models.Model and pyconv.Sequential is models.Sequential
    assert pyconv.utils.PyDataset is pyconv.models.data_adapters.PyDataset


def test_input_is_a_symbolic_tensor():
    x = pyconv.Input((4,))
    assert x.shape == (None, 4) and x.dtype == "float32" and x.ndim == 2
    assert repr(x).startswith("<KerasTensor shape=(None, 4), dtype=float32")
    y = layers.Dense(3)(x)
    assert y.shape == (None, 3)
    with pytest.raises(TypeError, match="A symbolic KerasTensor .* has no value"):
        np.asarray(y)
    with pytest.raises(TypeError, match=r'Layer "dense_1" was called on a mix of symbolic tensors'):
        layers.Dense(2)([x, np.ones((1, 4))])


def test_graph_disconnected_and_bad_io():
    a, b = pyconv.Input((4,)), pyconv.Input((4,))
    y = layers.add([a, b])
    with pytest.raises(ValueError, match=r"Graph disconnected: cannot find parent for tensor"):
        pyconv.Model(a, y)
    with pytest.raises(TypeError, match="must be symbolic tensors"):
        pyconv.Model(a, np.ones(3))
    with pytest.raises(ValueError, match=r"A model's inputs must come from `Input`"):
        pyconv.Model(y, layers.Dense(1)(y))


def test_two_inputs_two_outputs_shared_layer_summary_and_introspection(capsys):
    model = two_io()
    model.summary()
    assert capsys.readouterr().out == TWO_IO
    assert [l.name for l in model.layers] == ["in_a", "in_b", "shared", "add", "concat", "out_sum", "out_cat"]
    assert model.get_layer(index=0).name == "in_a" and model.get_layer("shared").count_params() == 72
    assert model.output_names == ["out_sum", "out_cat"] and model.input_names == ["in_a", "in_b"]
    assert len(model.inputs) == 2 and len(model.outputs) == 2
    assert model.input_shape == [(None, 8), (None, 8)]
    assert model.get_layer("add").output.shape == (None, 8)
    assert model.get_layer("shared").output is model.get_layer("shared")._inbound_nodes[0].outputs[0]
    with pytest.raises(ValueError, match=r"No such layer: nope"):
        model.get_layer("nope")
    with pytest.raises(AttributeError, match=r"The layer dense has never been called and thus has no defined input"):
        layers.Dense(2).input
    # a shared layer's weights are one set
    assert len(model.weights) == 2 + 2 + 2 and model.count_params() == 132


def test_shared_layer_merges_and_two_outputs_gradients():
    model = two_io()
    rng = np.random.default_rng(1)
    check_model_gradients(model, [rng.standard_normal((3, 8)), rng.standard_normal((3, 8))])


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 5), k=st.integers(1, 4), branch=st.sampled_from(
    ["add", "subtract", "multiply", "average", "concatenate"]))
def test_graph_gradients_match_finite_differences(n, c, k, branch):
    """A diamond (one input read by two branches, merged) with a nested model on one branch.
    (Maximum and Minimum have a kink where the branches meet, which a step of 1e-2 may cross:
    tests/test_merging.py checks them on inputs drawn apart.)"""
    utils.clear_session()
    inp = pyconv.Input((c,))
    inner_in = pyconv.Input((c,))
    inner = pyconv.Model(inner_in, layers.Dense(k, activation="tanh")(inner_in))
    a = inner(inp)
    b = layers.Dense(k, activation="sigmoid")(inp)
    merged = getattr(layers, branch)([a, b])
    model = pyconv.Model(inp, layers.Dense(2)(merged))
    x = np.random.default_rng(n * 31 + c).standard_normal((n, c))
    check_model_gradients(model, [x])


# ---- the toy ResNet and the tutorial CNN -------------------------------------------------------
def test_toy_resnet_counts_223242_parameters_and_trains(capsys):
    model = toy_resnet()
    assert model.count_params() == 223242
    model.summary()
    out = capsys.readouterr().out
    assert out.startswith(TOY_RESNET_TOP)
    assert "│ add_1 (Add)         │ (None, 9, 9, 64)  │          0 │ conv2d_5[0][0],   │" in out
    assert " Total params: 223,242 (872.04 KB)" in out
    model.compile(optimizer=optimizers.RMSprop(1e-3), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["acc"])
    rng = np.random.default_rng(0)
    x = rng.random((16, 32, 32, 3))
    y = rng.integers(0, 10, 16)
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, batch_size=8, epochs=4, verbose=0)
    assert model.evaluate(x, y, verbose=0)[0] < before
    assert model.predict(x[:2], verbose=0).shape == (2, 10)


def functional_tutorial_cnn():
    inputs = pyconv.Input((28, 28, 1))
    x = layers.Conv2D(32, (3, 3), activation="relu")(inputs)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Conv2D(64, (3, 3), activation="relu")(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Conv2D(64, (3, 3), activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    return pyconv.Model(inputs, layers.Dense(10, activation="softmax")(x))


def test_functional_tutorial_cnn_trains_bitwise_like_the_sequential_one():
    rng = np.random.default_rng(0)
    x = rng.random((96, 28, 28))
    y = rng.integers(0, 10, 96)
    weights = []
    for make in (tutorial_cnn, functional_tutorial_cnn):
        utils.set_random_seed(7)
        m = make()
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        h = m.fit(x, y, batch_size=32, epochs=2, verbose=0)
        weights.append((m.get_weights(), h.history))
    (wa, ha), (wb, hb) = weights
    assert ha == hb
    for a, b in zip(wa, wb):
        assert np.array_equal(a, b)


# ---- nested models -----------------------------------------------------------------------------
def test_autoencoder_of_two_nested_models_trains_and_shares_weights():
    enc_in = pyconv.Input((8, 8, 1))
    h = layers.Conv2D(4, 3, activation="relu", padding="same")(enc_in)
    h = layers.MaxPooling2D(2)(h)
    code = layers.Dense(6, activation="relu")(layers.Flatten()(h))
    encoder = pyconv.Model(enc_in, code, name="encoder")
    dec_in = pyconv.Input((6,))
    out = layers.Reshape((8, 8, 1))(layers.Dense(64, activation="sigmoid")(dec_in))
    decoder = pyconv.Model(dec_in, out, name="decoder")
    auto_in = pyconv.Input((8, 8, 1))
    auto = pyconv.Model(auto_in, decoder(encoder(auto_in)), name="autoencoder")
    assert auto.count_params() == encoder.count_params() + decoder.count_params()
    assert all(a is b for a, b in zip(auto.weights, encoder.weights + decoder.weights))
    auto.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((64, 8, 8, 1))
    k0 = encoder.layers[1].kernel.copy()
    h = auto.fit(x, x, batch_size=16, epochs=5, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert not np.array_equal(k0, encoder.layers[1].kernel)   # trained through the nesting
    np.testing.assert_array_equal(auto.predict(x[:4], verbose=0),
                                  decoder.predict(encoder.predict(x[:4], verbose=0), verbose=0))
    # a nested model's trainable flag freezes its layers
    encoder.trainable = False
    auto.compile(optimizer="adam", loss="mse")
    k1 = encoder.layers[1].kernel.copy()
    auto.fit(x, x, batch_size=16, epochs=1, verbose=0)
    assert np.array_equal(k1, encoder.layers[1].kernel)
    assert len(auto.trainable_weights) == len(decoder.trainable_weights)


def test_sequential_of_a_model_and_softmax(capsys):
    inp = pyconv.Input((4,))
    logits = pyconv.Model(inp, layers.Dense(3)(layers.Dense(5, activation="relu")(inp)), name="inner")
    probs = pyconv.Sequential([logits, layers.Softmax()])
    p = probs.predict(np.ones((2, 4)), verbose=0)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    probs.summary()
    out = capsys.readouterr().out
    assert "│ inner (Functional)              │ (None, 3)              │            43 │" in out
    probs.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    probs.fit(np.ones((4, 4)), np.array([0, 1, 2, 0]), verbose=0)


# ---- subclassing -----------------------------------------------------------------------------------
class Affine(layers.Layer):
    """A user layer: add_weight in build, pyconv.ops in call."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x):
        return pyconv.ops.add(pyconv.ops.matmul(x, self.w), self.b)


class MLP(pyconv.Model):
    def __init__(self, hidden=8, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.hidden = Affine(hidden)
        self.out = layers.Dense(classes)

    def call(self, x, training=None):
        h = pyconv.ops.tanh(self.hidden(x))
        return self.out(pyconv.ops.multiply(h, 0.5))


def test_subclassed_layer_and_model_train():
    model = MLP()
    x = np.random.default_rng(0).standard_normal((64, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    model.compile(optimizer=optimizers.Adam(0.02), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    h = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]
    assert len(model.trainable_weights) == 4 and model.count_params() == 4 * 8 + 8 + 8 * 3 + 3
    assert model.predict(x[:3], verbose=0).shape == (3, 3)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 5), u=st.integers(1, 4))
def test_subclassed_model_gradients_match_finite_differences(n, c, u):
    model = MLP(hidden=u, classes=2)
    x = np.random.default_rng(n + 10 * c).standard_normal((n, c)).astype(np.float32)
    model(x)
    rng = np.random.default_rng(3)
    y, ctx = model._fwd(x, True)
    r = rng.standard_normal(y.shape)
    dx, grads = model._bwd(ctx, r.astype(np.float32), True)
    params = model.trainable_weights

    def loss():
        return float((model.forward(x, False).astype(np.float64) * r).sum())
    for what, arr, g in [("x", x, dx)] + [(f"w{i}", p, g) for i, (p, g) in enumerate(zip(params, grads))]:
        flat = arr.reshape(-1)
        for i in range(min(flat.size, 6)):
            old = flat[i]
            flat[i] = old + H
            lp = loss()
            flat[i] = old - H
            lm = loss()
            flat[i] = old
            num = (lp - lm) / (2 * H)
            assert abs(num - g.reshape(-1)[i]) <= 2e-3 + 1e-2 * abs(num), (what, i, num, g.reshape(-1)[i])


def test_subclassed_layer_in_a_functional_model_and_numpy_cuts_the_chain():
    inp = pyconv.Input((5,))
    model = pyconv.Model(inp, layers.Dense(2)(Affine(3)(inp)))
    check_model_gradients(model, [np.random.default_rng(0).standard_normal((4, 5))])

    class Cut(layers.Layer):
        def call(self, x):
            return x * 2.0   # NumPy, not an op: no gradient can flow

    m = pyconv.Sequential([layers.Input((3,)), layers.Dense(2), Cut()])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r'Layer "cut": no gradient flows from its output back to its input'):
        m.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)


def test_ops_and_operators_on_symbolic_tensors_train():
    """`x + y`, `ops.relu`, `ops.mean(..., axis=-1)` in a functional graph: OpLayer nodes that
    train, save and load (the op is stored by name: no code)."""
    inp = pyconv.Input((6,))
    h = layers.Dense(6)(inp)
    r = pyconv.ops.relu(h + inp) * 0.5
    out = layers.Dense(2)(pyconv.ops.concatenate([r, pyconv.ops.mean(r, axis=-1, keepdims=True)], axis=-1))
    model = pyconv.Model(inp, out)
    assert out.shape == (None, 2)
    check_model_gradients(model, [np.random.default_rng(2).standard_normal((3, 6))])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((32, 6))
    h = model.fit(x, x[:, :2], epochs=10, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    back = pyconv.Model.from_config(model.get_config())
    back.set_weights(model.get_weights())
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_add_weight_keras_signature():
    l = layers.Layer()
    w = l.add_weight(shape=(2, 3))
    assert w.shape == (2, 3) and w.dtype == np.float32 and np.abs(w).sum() > 0   # glorot_uniform
    assert l.add_weight((4,), "ones", name="g").tolist() == [1, 1, 1, 1]
    assert l.add_weight(shape=(2,), trainable=False).tolist() == [0, 0]
    assert [n for n, _, _ in l._params] == ["variable", "g", "variable_2"]
    assert len(l.trainable_weights) == 2 and len(l.non_trainable_weights) == 1


# ---- multi-output training ----------------------------------------------------------------------
def two_heads(named=True):
    inp = pyconv.Input((4,))
    h = layers.Dense(8, activation="relu")(inp)
    a = layers.Dense(1, activation="sigmoid", name="out_a" if named else None)(h)
    b = layers.Dense(3, activation="softmax", name="out_b" if named else None)(h)
    return pyconv.Model(inp, [a, b])


@pytest.mark.parametrize("kw, keys, order", [
    (dict(loss=["binary_crossentropy", "categorical_crossentropy"]),
     ["loss", "out_a_loss", "out_b_loss"], ["loss", "out_a_loss", "out_b_loss"]),
    (dict(loss="mse"), ["loss", "out_a_loss", "out_b_loss"], ["loss", "out_a_loss", "out_b_loss"]),
    (dict(loss=["binary_crossentropy", "categorical_crossentropy"], loss_weights=[1.0, 0.5],
          metrics=[["accuracy"], ["accuracy", "mse"]]),
     ["loss", "out_a_accuracy", "out_a_loss", "out_b_accuracy", "out_b_loss", "out_b_mse"],
     ["loss", "out_a_loss", "out_b_loss", "out_a_accuracy", "out_b_accuracy", "out_b_mse"]),
    (dict(loss={"out_a": "binary_crossentropy", "out_b": "categorical_crossentropy"},
          metrics={"out_a": ["accuracy"], "out_b": ["accuracy", "mse"]}),
     ["loss", "out_a_accuracy", "out_a_loss", "out_b_accuracy", "out_b_loss", "out_b_mse"],
     ["loss", "out_a_loss", "out_b_loss", "out_a_accuracy", "out_b_accuracy", "out_b_mse"]),
    (dict(loss=["binary_crossentropy", "categorical_crossentropy"], metrics=["accuracy", "mse"]),
     ["loss", "out_a_accuracy", "out_a_loss", "out_b_loss", "out_b_mse"],
     ["loss", "out_a_loss", "out_b_loss", "out_a_accuracy", "out_b_mse"]),
])
def test_multi_output_history_keys_and_evaluate_order_as_keras(kw, keys, order):
    """Keras 3.15.1's names and order (recorded from it for the same compile arguments)."""
    model = two_heads()
    model.compile(optimizer="sgd", **kw)
    rng = np.random.default_rng(0)
    x = rng.random((16, 4))
    ya = rng.integers(0, 2, (16, 1)).astype(np.float32)
    yb = np.eye(3)[rng.integers(0, 3, 16)]
    h = model.fit(x, [ya, yb], validation_data=(x, [ya, yb]), epochs=1, batch_size=8, verbose=0)
    assert sorted(h.history) == sorted(keys + ["val_" + k for k in keys])
    d = model.evaluate(x, {"out_a": ya, "out_b": yb}, verbose=0, return_dict=True)
    vals = model.evaluate(x, [ya, yb], verbose=0)
    assert vals == [d[k] for k in order]
    lw = kw.get("loss_weights", [1.0, 1.0])
    assert d["loss"] == pytest.approx(lw[0] * d["out_a_loss"] + lw[1] * d["out_b_loss"], rel=1e-6)


def test_multi_output_bad_metrics_and_default_names():
    model = two_heads(named=False)
    assert model.output_names == ["dense_1", "dense_2"]
    with pytest.raises(ValueError, match=r"For a model with 2 outputs, `metrics` must be a dict by output name"):
        model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
        model.evaluate(np.ones((2, 4)), [np.ones((2, 1)), np.ones((2, 3))], verbose=0)
    with pytest.raises(ValueError, match=r"`loss` has keys \['nope'\] that are not output names"):
        model.compile(optimizer="sgd", loss={"nope": "mse"})
        model.evaluate(np.ones((2, 4)), [np.ones((2, 1)), np.ones((2, 3))], verbose=0)


def test_an_output_without_a_loss():
    model = two_heads()
    rng = np.random.default_rng(0)
    x, yb = rng.random((16, 4)), np.eye(3)[rng.integers(0, 3, 16)]
    model.compile(optimizer="adam", loss={"out_b": "categorical_crossentropy"}, metrics={"out_a": ["mse"]})
    with pytest.raises(ValueError, match=r"Output 'out_a' has metrics but no loss"):
        model.fit(x, {"out_b": yb}, verbose=0)
    model.compile(optimizer="adam", loss={"out_b": "categorical_crossentropy"}, metrics={"out_b": ["mse"]})
    h = model.fit(x, {"out_b": yb}, epochs=2, batch_size=8, verbose=0)
    assert sorted(h.history) == ["loss", "out_b_loss", "out_b_mse"]
    assert h.history["loss"] == h.history["out_b_loss"]


def test_multi_input_data_as_list_or_dict():
    model = two_io()
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"])
    rng = np.random.default_rng(0)
    xa, xb = rng.random((20, 8)), rng.random((20, 8))
    ys, yc = rng.random((20, 1)), rng.integers(0, 3, 20)
    r1 = model.evaluate([xa, xb], [ys, yc], verbose=0)
    r2 = model.evaluate({"in_a": xa, "in_b": xb}, {"out_sum": ys, "out_cat": yc}, verbose=0)
    assert r1 == r2
    model.fit({"in_a": xa, "in_b": xb}, [ys, yc], epochs=1, verbose=0)
    p = model.predict([xa, xb], verbose=0)
    assert isinstance(p, list) and p[0].shape == (20, 1) and p[1].shape == (20, 3)


# ---- data adapters -------------------------------------------------------------------------------
def small_model():
    utils.set_random_seed(11)
    m = pyconv.Sequential([layers.Input((5,)), layers.Dense(4, activation="relu"),
                           layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


class Batches(pyconv.utils.PyDataset):
    def __init__(self, x, y, bs, w=None, **kw):
        super().__init__(**kw)
        self.x, self.y, self.bs, self.w = x, y, bs, w
        self.ends = 0

    def __len__(self):
        return -(-len(self.x) // self.bs)

    def __getitem__(self, i):
        s = slice(i * self.bs, (i + 1) * self.bs)
        return (self.x[s], self.y[s]) if self.w is None else (self.x[s], self.y[s], self.w[s])

    def on_epoch_end(self):
        self.ends += 1


@pytest.mark.parametrize("kind", ["generator", "iterator", "pydataset", "pydataset-threads"])
def test_every_adapter_gives_the_results_of_arrays(kind):
    rng = np.random.default_rng(0)
    x, y, w = rng.random((22, 5)), rng.integers(0, 3, 22), rng.random(22)
    ref = small_model()
    ref.fit(x, y, sample_weight=w, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ref_eval = ref.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    ref_pred = ref.predict(x, batch_size=8, verbose=0)

    def data(with_y=True, weights=True):
        if kind.startswith("pydataset"):
            return Batches(x, y if with_y else x, 8, w if weights else None,
                           workers=2 if kind.endswith("threads") else 1)
        batches = [(x[i:i + 8], y[i:i + 8], w[i:i + 8]) if weights else
                   ((x[i:i + 8], y[i:i + 8]) if with_y else (x[i:i + 8],)) for i in range(0, 22, 8)]
        if kind == "iterator":
            return iter(batches * 4)

        def gen():
            while True:
                yield from batches
        return gen()

    m = small_model()
    steps = None if kind.startswith("pydataset") else 3
    m.fit(data(), steps_per_epoch=steps, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(m.get_weights(), ref.get_weights()):
        assert np.array_equal(a, b)
    assert m.evaluate(data(weights=False), steps=steps, verbose=0, return_dict=True) == ref_eval
    np.testing.assert_array_equal(m.predict(data(with_y=False, weights=False), steps=steps, verbose=0), ref_pred)


def test_pydataset_short_last_batch_on_epoch_end_and_validation():
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 5)), rng.integers(0, 3, 10)
    ds, val = Batches(x, y, 4), Batches(x, y, 4)
    seen = []
    m = small_model()
    orig = m._train_step
    m._train_step = lambda st, xs, *a: (seen.append(len(xs[0])), orig(st, xs, *a))[1]
    h = m.fit(ds, validation_data=val, epochs=2, verbose=0)
    assert sorted(seen[:3]) == [2, 4, 4] and len(seen) == 6 and ds.ends == 2
    assert h.params["steps"] == 3 and len(h.history["val_loss"]) == 2


def test_generator_without_steps_runs_to_its_end_and_an_empty_one_is_an_error():
    rng = np.random.default_rng(0)
    x, y = rng.random((12, 5)), rng.integers(0, 3, 12)
    m = small_model()
    h = m.fit(((x[i:i + 4], y[i:i + 4]) for i in range(0, 12, 4)), epochs=3, verbose=0)
    assert len(h.history["loss"]) == 1   # the generator ended in epoch 1: fit stops there
    with pytest.warns(RuntimeWarning, match="Your input ran out of data after 1 batches of 2"):
        m.fit(iter([(x[:4], y[:4])]), steps_per_epoch=2, epochs=2, verbose=0)
    with pytest.raises(ValueError, match=r"The training data gave no batch"):
        m.fit(iter([]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"must yield \(x,\), \(x, y\) or \(x, y, sample_weight\)"):
        m.fit(iter([(x, y, y, y)]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"`y` and `sample_weight` must not be given when `x` is a generator"):
        m.evaluate(iter([(x, y)]), y, verbose=0)


# ---- weights ---------------------------------------------------------------------------------------
def keras_weighting_model():
    """Keras 3's own example (tests recorded from keras 3.15.1)."""
    inp = pyconv.Input((2,))
    out = layers.Dense(3, activation="softmax", name="d")(inp)
    m = pyconv.Model(inp, out)
    m.get_layer("d").set_weights([np.array([[1., -1., 0.5], [0., 2., -1.]]), np.array([0.1, 0., -0.1])])
    return m


def test_sample_and_class_weights_as_keras_3():
    x = np.array([[1., 0.], [0., 1.], [1., 1.], [0.5, -1.]])
    y = np.array([0, 1, 2, 1])
    w = np.array([3.0, 2.0, 0.0, 1.0])
    m = keras_weighting_model()
    m.compile(optimizer=optimizers.SGD(1e-9), loss="sparse_categorical_crossentropy", metrics=["accuracy"],
              weighted_metrics=["accuracy"])
    p = m.predict(x, verbose=0).astype(np.float64)
    l = -np.log(p[np.arange(4), y])
    assert l == pytest.approx([0.4818344, 0.1778264, 2.4359772, 4.12184], rel=1e-5)
    for bs in (4, 2, 3):
        d = m.evaluate(x, y, sample_weight=w, batch_size=bs, verbose=0, return_dict=True)
        assert d["loss"] == pytest.approx((w * l).sum() / 4, rel=1e-6) == pytest.approx(1.4807489, rel=1e-6)
        assert d["accuracy"] == 0.5 and d["weighted_accuracy"] == pytest.approx(5 / 6)
    cw = {0: 1.0, 1: 2.0, 2: 0.5}
    h = m.fit(x, y, class_weight=cw, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert h.history["loss"][0] == pytest.approx(2.574789, rel=1e-6)
    assert h.history["weighted_accuracy"][0] == pytest.approx(0.5454545, rel=1e-6)
    with pytest.raises(ValueError, match="You cannot `class_weight` and `sample_weight` at the same time"):
        m.fit(x, y, class_weight=cw, sample_weight=w, verbose=0)
    with pytest.raises(ValueError, match=r"`sample_weight` must have shape \(4,\)"):
        m.evaluate(x, y, sample_weight=w[:3], verbose=0)


def test_sample_weight_weighs_the_gradient():
    """A weight of 2 on every sample is the gradient of twice the loss; 0 trains nothing."""
    x = np.random.default_rng(0).random((8, 2))
    y = np.arange(8) % 3
    got = []
    for sw in (np.full(8, 2.0), None, np.zeros(8)):
        m = keras_weighting_model()
        m.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        w0 = m.get_weights()
        m.fit(x, y, sample_weight=sw, batch_size=8, verbose=0, shuffle=False)
        got.append([a - b for a, b in zip(m.get_weights(), w0)])
    for a, b in zip(got[0], got[1]):
        np.testing.assert_allclose(a, 2 * b, rtol=1e-5, atol=1e-7)
    assert all(not d.any() for d in got[2])


# ---- save / load -----------------------------------------------------------------------------------
def test_save_load_functional_nested_and_subclassed(tmp_path):
    rng = np.random.default_rng(0)
    model = two_io()
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"], metrics=[["mae"], ["accuracy"]])
    xs, ys = [rng.random((8, 8)), rng.random((8, 8))], [rng.random((8, 1)), rng.integers(0, 3, 8)]
    model.fit(xs, ys, verbose=0)
    model.save(tmp_path / "f.keras")
    back = models.load_model(tmp_path / "f.keras")
    for a, b in zip(model.predict(xs, verbose=0), back.predict(xs, verbose=0)):
        np.testing.assert_array_equal(a, b)
    assert back.summary.__self__ is back and [l.name for l in back.layers] == [l.name for l in model.layers]
    model.fit(xs, ys, verbose=0, shuffle=False)
    back.fit(xs, ys, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)   # the optimizer state came back too

    inner_in = pyconv.Input((4,))
    inner = pyconv.Model(inner_in, layers.Dense(3)(inner_in), name="inner")
    seq = pyconv.Sequential([inner, layers.Softmax()])
    seq.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seq.save(tmp_path / "n.keras")
    back = models.load_model(tmp_path / "n.keras")
    x = rng.random((3, 4))
    np.testing.assert_array_equal(seq.predict(x, verbose=0), back.predict(x, verbose=0))

    sub = MLP(hidden=5)
    sub.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    sub.fit(rng.random((8, 4)), rng.integers(0, 3, 8), verbose=0)
    sub.save(tmp_path / "s.keras")
    with pytest.raises(ValueError, match=r"layer class 'MLP'.*custom_objects"):
        models.load_model(tmp_path / "s.keras")
    back = models.load_model(tmp_path / "s.keras", custom_objects={"MLP": MLP, "Affine": Affine})
    np.testing.assert_array_equal(sub.predict(x, verbose=0), back.predict(x, verbose=0))
    assert back.get_config()["hidden"] == 5


def test_functional_config_round_trip_is_keras_layout():
    model = two_io()
    cfg = model.get_config()
    assert set(cfg) == {"name", "trainable", "layers", "input_layers", "output_layers"}
    shared = next(l for l in cfg["layers"] if l["name"] == "shared")
    assert [n["args"][0]["config"]["keras_history"] for n in shared["inbound_nodes"]] == [["in_a", 0, 0], ["in_b", 0, 0]]
    assert cfg["input_layers"] == [["in_a", 0, 0], ["in_b", 0, 0]]
    back = pyconv.Model.from_config(cfg)
    back.set_weights(model.get_weights())
    x = [np.ones((2, 8)), np.zeros((2, 8))]
    for a, b in zip(model.predict(x, verbose=0), back.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


# ---- state of one call lives in that call ------------------------------------------------------------
def test_threads_predict_and_evaluate_on_one_model_and_fit_once():
    m = tutorial_cnn()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    xs = [rng.random((24, 28, 28)) for _ in range(4)]
    ys = [rng.integers(0, 10, 24) for _ in range(4)]
    want_p = [m.predict(x, verbose=0) for x in xs]
    want_e = [m.evaluate(x, y, verbose=0) for x, y in zip(xs, ys)]
    got = {}

    def work(i):
        for _ in range(3):
            got[i] = (m.predict(xs[i], verbose=0), m.evaluate(xs[i], ys[i], verbose=0))
    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i in range(4):
        np.testing.assert_array_equal(got[i][0], want_p[i])
        assert got[i][1] == want_e[i]

    entered, release = threading.Event(), threading.Event()

    class Hold(pyconv.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            entered.set()
            release.wait(10)
    t = threading.Thread(target=lambda: m.fit(xs[0], ys[0], epochs=1, verbose=0, callbacks=[Hold()]))
    t.start()
    entered.wait(10)
    try:
        with pytest.raises(RuntimeError, match=r'Model "sequential" is already training'):
            m.fit(xs[1], ys[1], verbose=0)
    finally:
        release.set()
        t.join()


def test_lazy_build_from_several_threads_builds_once():
    for _ in range(5):
        m = pyconv.Sequential([layers.Conv2D(8, 3, activation="relu"), layers.Flatten(), layers.Dense(5)])
        x = np.random.default_rng(0).random((2, 8, 8, 1))
        outs = []
        ts = [threading.Thread(target=lambda: outs.append(m.predict(x, verbose=0))) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(m.weights) == 4 and m.count_params() == 8069 - 8 * 9 * 1 - 8 + 80 + 8 if False else len(m.weights) == 4
        for o in outs[1:]:
            np.testing.assert_array_equal(o, outs[0])


def test_two_threads_fit_two_models_with_trainable_lambdas():
    import pyconv.nn as nn
    errors = []

    def train(seed):
        try:
            m = pyconv.Sequential([layers.Input((4,)), layers.Dense(6),
                                   layers.Lambda(lambda t: nn.relu(t)), layers.Dense(2, activation="softmax")])
            m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            r = np.random.default_rng(seed)
            for _ in range(20):
                m.fit(r.random((16, 4)), r.integers(0, 2, 16), verbose=0)
        except Exception as e:   # noqa: BLE001 -- reported below
            errors.append(e)
    ts = [threading.Thread(target=train, args=(s,)) for s in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    from pyconv import _tape
    assert not _tape.is_recording()
