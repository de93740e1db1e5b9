"""Keras 3 files without TensorFlow: the fixtures real Keras 3.15.1 wrote (tests/fixtures/keras,
made by make_fixtures.py there) load and predict as Keras did; pyconv's `.keras` files have
Keras's exact layout (checked against those fixtures); hostile files are refused before
anything is allocated; without h5py the error names the extra."""
import glob
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import pyconv  # noqa: E402
from pyconv import layers, models, optimizers  # noqa: E402
from pyconv.models import keras_format  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "keras")


def _inputs(name):
    xs = [np.load(p) for p in sorted(glob.glob(os.path.join(HERE, f"{name}_x*.npy")))]
    return xs if len(xs) > 1 else xs[0]


def _check_prediction(model, name):
    got, want = model.predict(_inputs(name), verbose=0), np.load(os.path.join(HERE, f"{name}_y.npy"))
    err = np.abs(got - want)
    assert err.max() <= 1e-5, f"{name}: largest difference {err.max()} at {np.unravel_index(err.argmax(), err.shape)}"


# ---- Keras -> pyconv: files real Keras 3 wrote -----------------------------------------------------
@pytest.mark.parametrize("name,ext", [("sequential_cnn", ".keras"), ("functional_two_inputs", ".keras"),
                                      ("nested", ".keras"), ("legacy", ".h5")])
def test_keras_written_models_load_and_predict_as_keras(name, ext):
    model = models.load_model(os.path.join(HERE, name + ext))
    _check_prediction(model, name)
    assert model.compiled and isinstance(model.optimizer, optimizers.Adam)
    if ext == ".keras":   # the optimizer state came back: one step done, moments not zero
        assert model.optimizer.iterations == 1
        assert all(np.any(v != 0) for v in model.optimizer.variables)


def test_keras_weights_file_loads_into_the_same_architecture():
    m = models.Sequential([layers.Input((5, 5, 2)), layers.Conv2D(2, 2), layers.GlobalAveragePooling2D(),
                           layers.Dense(2)])
    m.load_weights(os.path.join(HERE, "weights.weights.h5"))
    _check_prediction(m, "weights")
    other = models.Sequential([layers.Input((5, 5, 2)), layers.Conv2D(3, 2), layers.GlobalAveragePooling2D(),
                               layers.Dense(2)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"dataset '0' has shape \(2, 2, 2, 2\), the layer's weight has shape "
                                         r"\(2, 2, 2, 3\) \(a different architecture\)"):
        other.load_weights(os.path.join(HERE, "weights.weights.h5"))
    assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))   # untouched


def test_keras2_weights_file_loads_by_layer_order():
    """Keras 2's weights-only HDF5 layout (layer_names at the root): the layers with weights match
    in order, whatever their names (the file's are conv2d_2 and dense_9)."""
    m = models.Sequential([layers.Input((5, 5, 2)), layers.Conv2D(2, 2), layers.GlobalAveragePooling2D(),
                           layers.Dense(2)])
    m.load_weights(os.path.join(HERE, "keras2_weights.h5"))
    _check_prediction(m, "weights")
    fewer = models.Sequential([layers.Input((5, 5, 2)), layers.Conv2D(2, 2), layers.GlobalAveragePooling2D()])
    with pytest.raises(ValueError, match=r"the file holds weights for 2 layers, the model has 1 layers with weights"):
        fewer.load_weights(os.path.join(HERE, "keras2_weights.h5"))


def test_keras_archive_loads_weights_into_a_built_model():
    m = models.load_model(os.path.join(HERE, "nested.keras"))
    fresh = models.Model.from_config(m.get_config())
    fresh.load_weights(os.path.join(HERE, "nested.keras"))
    _check_prediction(fresh, "nested")


def test_a_loaded_keras_model_trains_on():
    m = models.load_model(os.path.join(HERE, "sequential_cnn.keras"))
    x = _inputs("sequential_cnn")
    m.fit(x, np.arange(len(x)) % 5, epochs=1, verbose=0)
    assert m.optimizer.iterations == 2


# ---- pyconv -> Keras layout, compared with what Keras wrote ------------------------------------------
def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _strip_ids(c):
    if isinstance(c, dict):
        return {k: _strip_ids(v) for k, v in c.items() if k != "shared_object_id"}
    if isinstance(c, list):
        return [_strip_ids(v) for v in c]
    return c


def _h5_tree(data):
    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, (o[()].tolist() if isinstance(o, h5py.Dataset) else None,
                                                      dict(o.attrs))))
    return out


@pytest.mark.parametrize("name", ["sequential_cnn", "functional_two_inputs", "nested"])
def test_a_saved_keras_file_is_written_back_as_keras_wrote_it(tmp_path, name):
    """Load a file Keras wrote and save it again: config.json (every layer's module, class,
    registered_name, key order and values, build configs, compile config) and the HDF5 groups,
    attributes and arrays are Keras's, byte for byte in values."""
    model = models.load_model(os.path.join(HERE, name + ".keras"))
    out = tmp_path / "again.keras"
    model.save(out)
    theirs, ours = _members(os.path.join(HERE, name + ".keras")), _members(out)
    assert sorted(ours) == sorted(theirs) == ["config.json", "metadata.json", "model.weights.h5"]
    want, got = _strip_ids(json.loads(theirs["config.json"])), json.loads(ours["config.json"])
    assert json.dumps(got) == json.dumps(want)   # the same keys in the same order
    meta = json.loads(ours["metadata.json"])
    assert meta["keras_version"] == "3.15.1" and meta["pyconv_version"] == pyconv.__version__
    t_want, t_got = _h5_tree(theirs["model.weights.h5"]), _h5_tree(ours["model.weights.h5"])
    assert sorted(t_got) == sorted(t_want)
    for k in t_want:
        assert t_got[k][1] == t_want[k][1], k
        if t_want[k][0] is not None:
            np.testing.assert_allclose(np.asarray(t_got[k][0], np.float64), np.asarray(t_want[k][0], np.float64),
                                       rtol=0, atol=0, err_msg=k)


def test_pyconv_only_layers_and_lambdas_round_trip(tmp_path):
    """An op on symbolic tensors (OpLayer) is written under pyconv's module (Keras would need it as
    a custom object); a Lambda's function is never written: it comes back through custom_objects."""
    i = pyconv.Input((4,))
    h = layers.Dense(3)(i)
    out = layers.Lambda(lambda t: t - 1.0, name="minus")(pyconv.ops.relu(h) * 2.0 + h)
    m = models.Model(i, out)
    m.save(tmp_path / "op.keras")
    entries = json.loads(_members(tmp_path / "op.keras")["config.json"])["config"]["layers"]
    assert {(e["class_name"], e["module"], e["registered_name"]) for e in entries[2:5]} == \
        {("OpLayer", "pyconv.layers.core", "pyconv>OpLayer")}
    assert entries[5]["config"]["function"] == {"module": "builtins", "class_name": "function", "config": "<lambda>",
                                                "registered_name": "function"}
    with pytest.raises(ValueError, match=r"the Lambda's function '<lambda>' is code, which pyconv never stores nor "
                                         r"runs: pass it as custom_objects=\{'minus': function\}"):
        models.load_model(tmp_path / "op.keras")
    back = models.load_model(tmp_path / "op.keras", custom_objects={"minus": lambda t: t - 1.0})
    x = np.random.default_rng(0).random((2, 4)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))


def test_format_version_1_files_still_load_whatever_their_name(tmp_path):
    m = models.Sequential([layers.Dense(3, input_shape=(4,))])
    m.compile("adam", "mse")
    x = np.random.default_rng(0).random((4, 4))
    m.fit(x, x[:, :3], verbose=0)
    m.save(tmp_path / "m.pcv")
    shutil.copy(tmp_path / "m.pcv", tmp_path / "old.keras")   # what pyconv wrote for a .keras name before
    back = models.load_model(tmp_path / "old.keras")
    np.testing.assert_array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))
    assert back.optimizer.iterations == 1


OPTIMIZERS = [lambda: optimizers.Adam(amsgrad=True), lambda: optimizers.RMSprop(momentum=0.5, centered=True),
              lambda: optimizers.Nadam(), lambda: optimizers.SGD(momentum=0.9),
              lambda: optimizers.Adam(use_ema=True, gradient_accumulation_steps=2), lambda: optimizers.Ftrl(),
              lambda: optimizers.Adadelta(), lambda: optimizers.Adamax(), lambda: optimizers.Lion(),
              lambda: optimizers.Adagrad(), lambda: optimizers.AdamW(
                  learning_rate=optimizers.schedules.ExponentialDecay(0.01, 3, 0.5))]


@pytest.mark.parametrize("make", OPTIMIZERS, ids=lambda f: type(f()).__name__)
def test_optimizer_state_round_trips_through_keras_files(tmp_path, make):
    rng = np.random.default_rng(1)
    x, y = rng.random((12, 4)), rng.random((12, 2))
    m = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="tanh"), layers.BatchNormalization(),
                           layers.Dense(2)])
    m.compile(make(), "mse")
    m.fit(x, y, batch_size=4, verbose=0, shuffle=False)   # 3 steps: with accumulation, mid-way
    m.save(tmp_path / "m.keras")
    back = models.load_model(tmp_path / "m.keras")
    assert back.optimizer.iterations == m.optimizer.iterations
    m.fit(x, y, batch_size=4, verbose=0, shuffle=False)
    back.fit(x, y, batch_size=4, verbose=0, shuffle=False)
    for a, b in zip(m.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_weights_h5_round_trip_and_refusals(tmp_path):
    m = models.Sequential([layers.Input((4,)), layers.Dense(3), layers.BatchNormalization()])
    m.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert sorted(f["layers"]) == ["batch_normalization", "dense"] and len(f["layers/batch_normalization/vars"]) == 4
    other = models.Sequential([layers.Input((4,)), layers.Dense(3), layers.BatchNormalization()])
    other.load_weights(tmp_path / "w.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), other.get_weights()))
    with pytest.raises(ValueError, match=r"The filename must end in `\.weights\.h5`"):
        m.save_weights(tmp_path / "w.keras")
    assert sorted(os.listdir(tmp_path)) == ["w.weights.h5"]


def test_a_legacy_h5_file_is_written_back_as_keras_wrote_it(tmp_path):
    """Keras's legacy HDF5 fixture loaded and saved again under an .h5 name: the same attributes
    (model_config key for key, training_config, layer_names, weight_names) and arrays."""
    src = os.path.join(HERE, "legacy.h5")
    model = models.load_model(src)
    model.save(tmp_path / "again.h5")
    with h5py.File(src, "r") as a, h5py.File(tmp_path / "again.h5", "r") as b:
        assert json.loads(b.attrs["model_config"]) == json.loads(a.attrs["model_config"])
        assert json.loads(b.attrs["training_config"]) == json.loads(a.attrs["training_config"])
        assert list(a["model_weights"].attrs["layer_names"]) == list(b["model_weights"].attrs["layer_names"])
        for name in a["model_weights"].attrs["layer_names"]:
            ga, gb = a["model_weights"][name], b["model_weights"][name]
            assert len(ga.attrs["weight_names"]) == len(gb.attrs["weight_names"])
            for wa, wb in zip(ga.attrs["weight_names"], gb.attrs["weight_names"]):
                np.testing.assert_array_equal(ga[wa][()], gb[wb][()])
    _check_prediction(models.load_model(tmp_path / "again.h5"), "legacy")


# ---- what pyconv lacks: one error listing everything ---------------------------------------------------
def test_layers_and_options_pyconv_lacks_are_listed_in_one_error():
    with pytest.raises(ValueError, match=r"3 layer\(s\) or option\(s\) in it cannot be loaded \(what pyconv does not "
                                         r"have, or code it does not run\):\n"
                                         r"  - .*'Conv1D'.*\n  - .*'LSTM'.*\n  - .*Unknown initializer class "
                                         r"'Orthogonal'"):
        models.load_model(os.path.join(HERE, "unsupported_layers.keras"))


def _rewrite(src, dst, config=None, h5=None, raw=None):
    """A copy of the archive `src` with config.json and/or model.weights.h5 changed."""
    members = _members(src)
    if config is not None:
        c = json.loads(members["config.json"])
        config(c)
        members["config.json"] = json.dumps(c).encode()
    if h5 is not None:
        buf = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buf, "a") as f:
            h5(f)
        members["model.weights.h5"] = buf.getvalue()
    if raw is not None:
        raw(members)
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    return dst


def _cnn_layers(c):
    return c["config"]["layers"]


def test_unsupported_values_of_known_layers_are_listed_together(tmp_path):
    def edit(c):
        ls = _cnn_layers(c)
        ls[1]["config"]["data_format"] = "channels_first"
        ls[1]["config"]["groups"] = 3
        ls[2]["config"]["dtype"] = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"},
                                    "registered_name": None}
        ls[2]["config"]["renorm"] = True
    p = _rewrite(os.path.join(HERE, "sequential_cnn.keras"), tmp_path / "m.keras", config=edit)
    with pytest.raises(ValueError) as e:
        models.load_model(p)
    msg = str(e.value)
    assert "dtype 'mixed_float16'" in msg and "'conv2d'" in msg.lower() and "renorm" in msg, msg
    assert msg.count("\n  - ") >= 3, msg


# ---- hostile files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("module,cls,reg", [("os", "system", None), ("keras.layers", "Dense", "Custom>Dense"),
                                            ("builtins", "eval", "eval"), ("keras.layers", "TFSMLayer", None)])
def test_unknown_modules_and_registered_names_are_refused(tmp_path, module, cls, reg):
    def edit(c):
        e = _cnn_layers(c)[-1]
        e.update(module=module, class_name=cls, registered_name=reg)
    p = _rewrite(os.path.join(HERE, "sequential_cnn.keras"), tmp_path / "m.keras", config=edit)
    with pytest.raises(ValueError, match=rf"layer class '{cls}' \(module '{module}', registered_name {reg!r}\) is not "
                                         rf"a layer pyconv has"):
        models.load_model(p)


def test_lambda_bytecode_needs_safe_mode_off_and_the_function():
    p = os.path.join(HERE, "lambda_bytecode.keras")
    with pytest.raises(ValueError, match=r"a Lambda holding Python bytecode, refused with safe_mode=True"):
        models.load_model(p, custom_objects={"double": lambda t: t * 2.0})
    with pytest.raises(ValueError, match=r"a Lambda holding Python bytecode, which pyconv never runs: pass the "
                                         r"function as custom_objects=\{'double': function\}"):
        models.load_model(p, safe_mode=False)
    m = models.load_model(p, safe_mode=False, custom_objects={"double": lambda t: t * 2.0})
    x = np.ones((2, 3), np.float32)
    k, b = m.layers[-1].get_weights()
    np.testing.assert_allclose(m.predict(x, verbose=0), (2 * x) @ k + b, rtol=1e-6)


def test_truncated_archives_give_documented_errors(tmp_path):
    data = open(os.path.join(HERE, "nested.keras"), "rb").read()
    bad = tmp_path / "t.keras"
    for cut in (10, 100, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"Cannot load '.*t\.keras'"):
            models.load_model(bad)


def test_flipped_bytes_give_documented_errors(tmp_path):
    data = open(os.path.join(HERE, "sequential_cnn.keras"), "rb").read()
    rng = np.random.default_rng(0)
    bad = tmp_path / "f.keras"
    for _ in range(40):
        b = bytearray(data)
        for i in rng.integers(0, len(b), 3):
            b[i] = int(rng.integers(0, 256))
        bad.write_bytes(bytes(b))
        try:
            models.load_model(bad)
        except ValueError:
            pass


def _set_declared_size(path, member, size):
    """Patch the central directory: `member` declares `size` uncompressed bytes."""
    data = bytearray(open(path, "rb").read())
    name = member.encode()
    i = data.rfind(b"PK\x01\x02" + b"", 0)
    while i >= 0:
        n = struct.unpack_from("<H", data, i + 28)[0]
        if bytes(data[i + 46:i + 46 + n]) == name:
            struct.pack_into("<I", data, i + 24, size)
            break
        i = data.rfind(b"PK\x01\x02", 0, i)
    open(path, "wb").write(bytes(data))


@pytest.mark.parametrize("member,match", [("model.weights.h5", r"declares 2147483647 bytes from \d+ stored: a "
                                                               r"decompression bomb"),
                                          ("config.json", r"config\.json would decompress to 2147483647 bytes")])
def test_huge_declared_sizes_are_refused_before_reading(tmp_path, member, match):
    p = tmp_path / "h.keras"
    shutil.copy(os.path.join(HERE, "sequential_cnn.keras"), p)
    _set_declared_size(p, member, 2**31 - 1)
    with pytest.raises(ValueError, match=match):
        models.load_model(p)


def test_a_weights_member_larger_than_the_model_needs_is_refused(tmp_path):
    def pad(members):
        members["model.weights.h5"] += b"\0" * (8 * 2**20)
    p = _rewrite(os.path.join(HERE, "nested.keras"), tmp_path / "p.keras", raw=pad)
    with pytest.raises(ValueError, match=r"model\.weights\.h5 declares \d+ bytes; the model's weights and optimizer "
                                         r"state need at most \d+"):
        models.load_model(p)


def test_wrong_shapes_and_links_in_the_weights_are_refused(tmp_path):
    src = os.path.join(HERE, "sequential_cnn.keras")

    def reshape(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((7, 5), np.float32)
    with pytest.raises(ValueError, match=r"layer 'dense' at 'layers/dense': dataset '0' has shape \(7, 5\), the "
                                         r"layer's weight has shape \(\d+, 5\)"):
        models.load_model(_rewrite(src, tmp_path / "a.keras", h5=reshape))

    def external(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink("/etc/passwd", "/x")
    with pytest.raises(ValueError, match=r"dataset '0' is a ExternalLink, which pyconv refuses"):
        models.load_model(_rewrite(src, tmp_path / "b.keras", h5=external))

    def soft(f):
        del f["layers/dense/vars"]
        f["layers/dense/vars"] = h5py.SoftLink("/layers/conv2d/vars")
    with pytest.raises(ValueError, match=r"links 'layers/dense/vars' elsewhere \(SoftLink\)"):
        models.load_model(_rewrite(src, tmp_path / "c.keras", h5=soft))

    def extra(f):
        f["layers/dense/vars/2"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"layer 'dense' has 2 weight\(s\), the file holds 3 at 'layers/dense'"):
        models.load_model(_rewrite(src, tmp_path / "d.keras", h5=extra))


def test_hostile_legacy_h5_files_are_refused(tmp_path):
    src = os.path.join(HERE, "legacy.h5")
    bad = tmp_path / "bad.h5"
    shutil.copy(src, bad)
    with h5py.File(bad, "a") as f:
        name = [n for n in f["model_weights"].attrs["layer_names"] if len(f["model_weights"][n].attrs["weight_names"])][0]
        g = f["model_weights"][name]
        w = g.attrs["weight_names"][0]
        del g[w]
        g[w] = np.zeros((9, 9), np.float32)
    with pytest.raises(ValueError, match=r"dataset 'kernel' has shape \(9, 9\), the layer's weight has shape"):
        models.load_model(bad)
    shutil.copy(src, bad)
    with h5py.File(bad, "a") as f:
        c = json.loads(f.attrs["model_config"])
        c["config"]["layers"][1]["class_name"] = "Eval"
        f.attrs["model_config"] = json.dumps(c)
    with pytest.raises(ValueError, match=r"layer class 'Eval' \(module None, registered_name None\) is not a layer "
                                         r"pyconv has"):
        models.load_model(bad)
    bad.write_bytes(open(src, "rb").read()[:5000])
    with pytest.raises(ValueError, match=r"Cannot load '.*bad\.h5'"):
        models.load_model(bad)


def test_npz_weights_are_refused_without_unpickling(tmp_path):
    def to_npz(members):
        members.pop("model.weights.h5")
        buf = io.BytesIO()
        np.savez(buf, **{"layers/dense": np.array({"0": np.zeros(2)}, dtype=object)})
        members["model.weights.npz"] = buf.getvalue()
    p = _rewrite(os.path.join(HERE, "nested.keras"), tmp_path / "n.keras", raw=to_npz)
    with pytest.raises(ValueError, match=r"its weights are model\.weights\.npz, which Keras 3 writes as pickled object "
                                         r"arrays; pyconv never unpickles"):
        models.load_model(p)


# ---- without h5py --------------------------------------------------------------------------------------
def test_without_h5py_the_error_names_the_extra_and_pyconv_files_still_work(tmp_path, monkeypatch):
    m = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    monkeypatch.setitem(sys.modules, "h5py", None)
    msg = r'needs h5py: pip install "pyconv\[keras\]"'
    with pytest.raises(ImportError, match=msg):
        m.save(tmp_path / "m.keras")
    with pytest.raises(ImportError, match=msg):
        models.load_model(os.path.join(HERE, "nested.keras"))
    with pytest.raises(ImportError, match=msg):
        m.save_weights(tmp_path / "w.weights.h5")
    assert os.listdir(tmp_path) == []
    m.save(tmp_path / "m.pcv")
    x = np.ones((1, 3), np.float32)
    np.testing.assert_array_equal(models.load_model(tmp_path / "m.pcv").predict(x, verbose=0), m.predict(x, verbose=0))


def test_is_keras_archive_and_is_hdf5_sniff_content_not_names(tmp_path):
    assert keras_format.is_keras_archive(os.path.join(HERE, "nested.keras"))
    assert keras_format.is_hdf5(os.path.join(HERE, "legacy.h5"))
    assert not keras_format.is_hdf5(os.path.join(HERE, "nested.keras"))
    assert not keras_format.is_keras_archive(tmp_path / "missing.keras")


def test_keras2_functional_h5_layout_loads(tmp_path):
    """A Keras 2 (tf.keras 2.x) whole-model file, written here by hand in its layout: class_name
    "Model", inbound nodes as [[name, node, tensor, kwargs], ...], batch_input_shape, dtype
    strings, weights named kernel:0."""
    dense = {"class_name": "Dense", "name": "dense", "config": {
        "name": "dense", "trainable": True, "dtype": "float32", "units": 3, "activation": "relu", "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None},
        "inbound_nodes": [[["input_1", 0, 0, {}]]]}
    config = {"class_name": "Model", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 3], "dtype": "float32", "sparse": False, "ragged": False,
                    "name": "input_1"}},
        dense,
        {"class_name": "Add", "name": "add", "config": {"name": "add", "trainable": True, "dtype": "float32"},
         "inbound_nodes": [[["dense", 0, 0, {}], ["input_1", 0, 0, {}]]]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["add", 0, 0]]}}
    rng = np.random.default_rng(0)
    k, b = rng.random((3, 3)).astype(np.float32), rng.random(3).astype(np.float32)
    path = tmp_path / "k2.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.13.1"
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"input_1", b"dense", b"add"])
        for name in ("input_1", "add"):
            g.create_group(name).attrs["weight_names"] = np.zeros((0,), np.float64)
        d = g.create_group("dense")
        d.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
        d["dense/kernel:0"], d["dense/bias:0"] = k, b
    m = models.load_model(path)
    x = rng.random((4, 3)).astype(np.float32)
    out = m.predict(x, verbose=0)
    out = out[0] if isinstance(out, list) else out
    np.testing.assert_allclose(out, np.maximum(x @ k + b, 0) + x, rtol=1e-6)
