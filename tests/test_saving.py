"""Save/load: identical predictions, optimizer state restored (training continues identically),
weights-only files, the Lambda rule, atomic writes, and clear errors for damaged, newer or
mismatched files. The format never unpickles (np.load with allow_pickle=False)."""
import json
import os

import numpy as np
import pytest

import pyconv.nn as nn
from pyconv import _saving, layers, models, optimizers, utils


@pytest.fixture(autouse=True)
def _fresh():
    utils.clear_session()
    utils.set_random_seed(0)


def data(n=64):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = rng.random((n, 6, 6)) + y[:, None, None] * 0.3
    return x, y


def cnn(opt="adam"):
    m = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(6, 6, 1)),
                           layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.1),
                           layers.Dense(3, activation="softmax")])
    m.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.mark.parametrize("opt", ["adam", "sgd", "rmsprop", "adamw",
                                 optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                                 optimizers.Adam(optimizers.schedules.ExponentialDecay(0.01, 3, 0.5))])
def test_round_trip_and_training_continues_identically(tmp_path, opt):
    x, y = data()
    m = cnn(opt)
    m.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.pyconv"
    m.save(path)
    r = models.load_model(path)
    np.testing.assert_array_equal(r.predict(x, verbose=0), m.predict(x, verbose=0))
    assert [l.name for l in r.layers] == [l.name for l in m.layers] and r.name == m.name
    assert type(r.optimizer) is type(m.optimizer) and r.optimizer.iterations == m.optimizer.iterations == 8
    assert r.metrics_names == ["loss", "accuracy"]
    # the same continuation: same seed for shuffling and dropout, same optimizer state
    utils.set_random_seed(7)
    m.fit(x, y, epochs=1, batch_size=16, verbose=0)
    utils.set_random_seed(7)
    r.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(m.get_weights(), r.get_weights()):
        assert np.array_equal(a, b)


def test_file_is_an_npz_without_pickles(tmp_path):
    m = cnn()
    path = tmp_path / "m.pcv"
    m.save(path)
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(bytes(z["header"]).decode())
        assert header["format"] == "pyconv" and header["format_version"] == 1 and header["kind"] == "model"
        assert [w["shape"] for w in header["weights"]] == [[3, 3, 1, 4], [4], [16, 3], [3]]
        assert all(z[k].dtype == np.float32 for k in z.files if k != "header")
    assert sorted(os.listdir(tmp_path)) == ["m.pcv"]  # no temporary file left


def test_save_weights_and_load_weights(tmp_path):
    x, _ = data()
    m = cnn()
    m(x[:1])
    m.save_weights(tmp_path / "w")
    other = cnn()
    other.load_weights(tmp_path / "w")
    np.testing.assert_array_equal(other.predict(x, verbose=0), m.predict(x, verbose=0))
    with pytest.raises(ValueError, match=r"it holds weights only"):
        models.load_model(tmp_path / "w")


def test_mismatched_architecture(tmp_path):
    m = cnn()
    m.save_weights(tmp_path / "w")
    other = models.Sequential([layers.Conv2D(5, 3, input_shape=(6, 6, 1)), layers.Flatten(), layers.Dense(3)])
    with pytest.raises(ValueError, match=r"Cannot load '.*w' into model \"sequential_1\": weight conv2d_1/kernel has "
                                         r"shape \(3, 3, 1, 5\) but the file's conv2d/kernel has shape \(3, 3, 1, 4\)"):
        other.load_weights(tmp_path / "w")
    small = models.Sequential([layers.Dense(3, input_shape=(2,))])
    with pytest.raises(ValueError, match=r"the file holds 4 weight arrays, the model has 2"):
        small.load_weights(tmp_path / "w")


def test_truncated_corrupted_newer_and_foreign_files(tmp_path):
    m = cnn()
    good = tmp_path / "good"
    m.save(good)
    blob = good.read_bytes()
    (tmp_path / "trunc").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"Cannot load '.*trunc': the file is truncated or corrupted"):
        models.load_model(tmp_path / "trunc")
    damaged = bytearray(blob)
    i = blob.index(b"w0.npy") + 200  # inside the first weight array's data
    damaged[i] ^= 0xFF
    (tmp_path / "crc").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match=r"Cannot load '.*crc': the file is truncated or corrupted"):
        models.load_model(tmp_path / "crc")
    (tmp_path / "junk").write_bytes(b"\x80\x04not a pyconv file" * 10)
    with pytest.raises(ValueError, match=r"Cannot load '.*junk'"):
        models.load_model(tmp_path / "junk")
    header, weights, opt = _saving.load(good)
    header["format_version"] = 99
    header["pyconv_version"] = "9.0"
    _saving.save(tmp_path / "newer", header, weights, opt)
    with pytest.raises(ValueError, match=r"Cannot load '.*newer': written with format version 99 by pyconv 9.0; "
                                         r"this pyconv reads format versions up to 1"):
        models.load_model(tmp_path / "newer")
    header["format_version"] = 1
    header["weights"][0]["shape"] = [1, 2]
    _saving.save(tmp_path / "lying", header, weights, opt)
    with pytest.raises(ValueError, match=r"weight 0 \(conv2d/kernel\) has shape \(3, 3, 1, 4\) and dtype float32; "
                                         r"the header says \(1, 2\) float32"):
        models.load_model(tmp_path / "lying")
    with pytest.raises(FileNotFoundError, match=r"No such file"):
        models.load_model(tmp_path / "missing")


def test_atomic_write_keeps_the_previous_file(tmp_path, monkeypatch):
    m = cnn()
    path = tmp_path / "m"
    m.save(path)
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m"]


def test_lambda_needs_custom_objects(tmp_path):
    pool = lambda X: nn.max_pool(X, ksize=(1, 1, 1, 2), strides=(1, 1, 1, 2), padding="valid")
    m = models.Sequential([layers.Conv2D(4, 3, input_shape=(6, 6, 1)), layers.Lambda(pool),
                           layers.Flatten(), layers.Dense(2)])
    m.compile(optimizer="sgd", loss="mse")
    m.save(tmp_path / "lam")
    with pytest.raises(ValueError, match=r"Lambda layer 'lambda': its function \(<lambda>\) is code, which pyconv "
                                         r"never stores nor executes on load. Pass it to load_model as "
                                         r"custom_objects=\{'lambda': function\}"):
        models.load_model(tmp_path / "lam")
    r = models.load_model(tmp_path / "lam", custom_objects={"lambda": pool})
    x = np.random.default_rng(0).random((3, 6, 6, 1))
    np.testing.assert_array_equal(r.predict(x, verbose=0), m.predict(x, verbose=0))


def test_save_unbuilt_model_and_overwrite(tmp_path):
    with pytest.raises(ValueError, match=r"is not built yet: nothing to save"):
        models.Sequential([layers.Dense(2)]).save(tmp_path / "x")
    m = cnn()
    m.save(tmp_path / "x")
    with pytest.raises(FileExistsError, match=r"exists and overwrite=False"):
        m.save(tmp_path / "x", overwrite=False)
