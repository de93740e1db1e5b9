"""The tutorial's two Fashion-MNIST programs (shared/seeds/000_66039beab2607ca5.txt), run as
written with only their imports changed, on a slice of the data; and the tutorial CNN trained
on a slice of the real Fashion-MNIST (skipped when the data is absent)."""
import os
import textwrap

import numpy as np
import pytest

import pyconv
from pyconv import utils

DATA = "/usr/share/datasets/fashion-mnist"
HAVE_DATA = os.path.isdir(DATA) and len(os.listdir(DATA)) >= 4

# The tutorial's programs. Changed: the imports (tensorflow -> pyconv; matplotlib, unused, is
# dropped), and the closing quote of 'accuracy’ that the blog's typography curled (a
# SyntaxError in any Python).
DNN_PROGRAM = textwrap.dedent("""\
    import pyconv as keras
    import numpy as np
    from pyconv import datasets, layers, models

    fashion_mnist = keras.datasets.fashion_mnist
    (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()

    train_images = train_images / 255.0
    test_images = test_images / 255.0

    model = models.Sequential()
    model.add(layers.Flatten(input_shape=(28, 28)))
    model.add(layers.Dense(128, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))

    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
    metrics=['accuracy'])

    model.fit(train_images, train_labels, epochs=5)
    """)

CNN_PROGRAM = textwrap.dedent("""\
    from pyconv import datasets, layers, models

    (train_images, train_labels), (test_images, test_labels) = datasets.fashion_mnist.load_data()
    train_images = train_images / 255.0
    test_images = test_images / 255.0

    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    model.summary()

    model.fit(train_images, train_labels, epochs=5)

    test_loss, test_acc = model.evaluate(test_images, test_labels)
    """)


def _slice(n_train, n_test):
    """load_data returning a slice: of the real data when present, else synthetic uint8
    images (a class-dependent bright bar) of the same shapes and dtypes."""
    if HAVE_DATA:
        (xt, yt), (xs, ys) = pyconv.datasets.fashion_mnist.load_data()
        return (xt[:n_train], yt[:n_train]), (xs[:n_test], ys[:n_test])
    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(y):
            x[i, 2 * c + 3: 2 * c + 6, 4:24] = 255
        return x, y
    return make(n_train), make(n_test)


@pytest.fixture
def small_data(monkeypatch):
    data = _slice(640, 320)
    monkeypatch.setattr(pyconv.datasets.fashion_mnist, "load_data", lambda path=None: data)
    utils.clear_session()
    utils.set_random_seed(0)
    return data


def test_dnn_program_as_written(small_data, capsys):
    ns = {}
    exec(compile(DNN_PROGRAM, "tutorial_dnn.py", "exec"), ns)
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 5 and "20/20 - " in out
    model = ns["model"]
    assert model.count_params() == 101770
    acc = model.evaluate(ns["test_images"], ns["test_labels"], verbose=0)[1]
    assert acc > 0.5


def test_cnn_program_as_written(small_data, capsys):
    ns = {}
    exec(compile(CNN_PROGRAM, "tutorial_cnn.py", "exec"), ns)
    out = capsys.readouterr().out
    assert "Total params: 93,322 (364.54 KB)" in out and out.count("Epoch ") == 5
    assert out.rstrip().splitlines()[-1].startswith("10/10 - ")  # evaluate's line
    assert 0.0 <= ns["test_loss"] and ns["test_acc"] > 0.5


@pytest.mark.skipif(not HAVE_DATA, reason=f"Fashion-MNIST is not installed in {DATA}")
def test_tutorial_cnn_learns_real_fashion_mnist():
    from pyconv import datasets, layers, models
    (x, y), (xt, yt) = datasets.fashion_mnist.load_data()
    x, y, xt, yt = x[:4000] / 255.0, y[:4000], xt[:1000] / 255.0, yt[:1000]
    utils.clear_session()
    utils.set_random_seed(1)
    model = models.Sequential([
        layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'), layers.Flatten(),
        layers.Dense(64, activation='relu'), layers.Dense(10, activation='softmax')])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    before = model.evaluate(xt, yt, verbose=0)
    hist = model.fit(x, y, epochs=2, verbose=0)
    loss, acc = model.evaluate(xt, yt, verbose=0)
    assert hist.history["loss"][1] < hist.history["loss"][0] < before[0]
    assert acc > 0.72, acc  # chance is 0.10


def test_example_script_writes_its_table_and_json(small_data, tmp_path, capsys, monkeypatch):
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location(
        "fashion_mnist_example", os.path.join(os.path.dirname(__file__), "..", "examples", "fashion_mnist.py"))
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--epochs", "1", "--out", str(tmp_path), "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "model   test accuracy   s/epoch    params" in out
    assert "DNN" in out and "101,770" in out and "93,322" in out
    res = json.loads((tmp_path / "fashion_mnist.json").read_text())
    assert [r["model"] for r in res["results"]] == ["DNN", "CNN"] and res["epochs"] == 1
    assert all(0 <= r["test_accuracy"] <= 1 and r["seconds_per_epoch"] > 0 for r in res["results"])
