"""Sequential end to end: training on synthetic data, summary(), the progress bar, evaluate and
predict, fused softmax-cross-entropy, faults (Ctrl-C, failing callbacks, NaN), reproducibility,
and Keras-quality errors."""
import io
import os
import re
import signal

import numpy as np
import pytest

import pyconv.nn as nn
from pyconv import _progress, callbacks, layers, losses, models, optimizers, utils
from tutorial_models import tutorial_cnn


@pytest.fixture(autouse=True)
def _fresh():
    utils.clear_session()
    utils.set_random_seed(0)


def blobs(n=200, seed=0):
    """Two separable 2-D clusters, labels 0/1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)) * 0.5 + np.where(y[:, None] == 1, 2.0, -2.0)
    return x, y


def images(n=64, seed=0, classes=3):
    """Tiny 8x8 images whose class is where a bright square sits."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.random((n, 8, 8)) * 0.2
    for i, c in enumerate(y):
        x[i, 2 * c: 2 * c + 3, 2: 5] += 1.0
    return x, y


CNN_SUMMARY = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_2 (Conv2D)               │ (None, 3, 3, 64)       │        36,928 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 576)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 64)             │        36,928 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │           650 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 93,322 (364.54 KB)
 Trainable params: 93,322 (364.54 KB)
 Non-trainable params: 0 (0.00 B)
"""

DNN_SUMMARY = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ flatten (Flatten)               │ (None, 784)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 128)            │       100,480 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │         1,290 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 101,770 (397.54 KB)
 Trainable params: 101,770 (397.54 KB)
 Non-trainable params: 0 (0.00 B)
"""


def test_summary_tutorial_cnn(capsys):
    model = tutorial_cnn()
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    model.summary()
    assert capsys.readouterr().out == CNN_SUMMARY
    assert [l.count_params() for l in model.layers] == [320, 0, 18496, 0, 36928, 0, 36928, 650]


def test_summary_tutorial_dnn_and_optimizer_params(capsys):
    model = models.Sequential()
    model.add(layers.Flatten(input_shape=(28, 28)))
    model.add(layers.Dense(128, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    model.summary()
    assert capsys.readouterr().out == DNN_SUMMARY
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(np.zeros((2, 28, 28)), np.array([0, 1]))
    model.summary()
    out = capsys.readouterr().out
    # as Keras 3: the optimizer's variables (m, v, iterations, learning rate) join the total
    assert " Total params: 305,312 (1.16 MB)\n" in out and " Optimizer params: 203,542 (795.09 KB)\n" in out


def test_summary_long_names_wrap_and_unbuilt():
    model = models.Sequential([layers.GlobalAveragePooling2D(), layers.Dense(2)])
    text = []
    model.summary(print_fn=text.append)
    lines = text[0].splitlines()
    # pinned against Keras 3.15's output for the same model
    assert lines[4:9] == [
        "│ global_average_pooling2d        │ ?                      │             0 │",
        "│ (GlobalAveragePooling2D)        │                        │               │",
        "├─────────────────────────────────┼────────────────────────┼───────────────┤",
        "│ dense (Dense)                   │ ?                      │   0 (unbuilt) │",
        "└─────────────────────────────────┴────────────────────────┴───────────────┘"]
    assert all(len(l) == 76 for l in lines[1:-3])


def test_separable_two_class_problem_reaches_100_percent():
    x, y = blobs()
    model = models.Sequential([layers.Input(shape=(2,)), layers.Dense(8, activation="relu"),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0] / 3
    assert hist.history["accuracy"][-1] == 1.0
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc == 1.0 and loss < 0.2
    assert hist.epoch == list(range(15)) and hist.params == {"verbose": 0, "epochs": 15, "steps": 13}


@pytest.mark.parametrize("loss,last,ytrans", [
    ("binary_crossentropy", lambda: layers.Dense(1, activation="sigmoid"), lambda y: y.astype(float)),
    ("categorical_crossentropy", lambda: layers.Dense(2, activation="softmax"), lambda y: np.eye(2)[y]),
    ("mse", lambda: layers.Dense(1), lambda y: y.astype(float)),
    ("mae", lambda: layers.Dense(1), lambda y: y.astype(float)),
])
def test_other_losses_train(loss, last, ytrans):
    x, y = blobs()
    model = models.Sequential([layers.Dense(8, activation="tanh", input_shape=(2,)), last()])
    model.compile(optimizer=optimizers.Adam(0.01), loss=loss, metrics=["accuracy"] if "entropy" in loss else ["mae"])
    hist = model.fit(x, ytrans(y), epochs=8, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    if "entropy" in loss:
        assert hist.history["accuracy"][-1] == 1.0


def test_small_cnn_learns_and_accepts_images_without_channel_axis():
    x, y = images(96)
    model = models.Sequential([
        layers.Conv2D(8, 3, activation="relu", padding="same", input_shape=(8, 8, 1)),
        layers.MaxPooling2D(2), layers.Conv2D(8, 3, activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    hist = model.fit(x, y, epochs=12, batch_size=16, verbose=0)  # (N, 8, 8): no channel axis
    assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0]
    assert hist.history["acc"][-1] > 0.8
    p = model.predict(x[:5], verbose=0)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(p, model(x[:5]))


def test_lambda_depthwise_pool_model_trains():
    x, y = images(64)
    model = models.Sequential([
        layers.Conv2D(6, 3, activation="relu", input_shape=(8, 8, 1)),
        layers.Lambda(lambda X: nn.max_pool(X, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="valid")),
        layers.Flatten(), layers.Dense(3, activation="softmax")])
    assert model.output_shape == (None, 3) and model.layers[1].output_shape == (None, 6, 6, 2)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    w0 = model.layers[0].get_weights()[0]
    hist = model.fit(x, y, epochs=6, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert not np.array_equal(model.layers[0].get_weights()[0], w0)  # gradients reached the conv


def test_fused_softmax_gradient_equals_unfused():
    """Dense(softmax) + cross-entropy goes through the fused kernel; a softmax Lambda (not
    fused: probability-space loss gradient, then softmax_grad) must give the same step."""
    x, y = blobs(32)
    a = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(2,))])
    b = models.Sequential([layers.Dense(3, input_shape=(2,)), layers.Lambda(lambda z: nn.softmax(z))])
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    assert a.train_on_batch(x, y) == pytest.approx(b.train_on_batch(x, y), rel=1e-5)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-6)
    assert a._state().fused == [True] and b._state().fused == [False]


def test_progress_bar_verbose_2_and_auto_when_not_a_terminal(capsys):
    x, y = blobs(100)
    model = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, validation_split=0.2)  # verbose='auto', stdout is not a terminal
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    num = r"(\d\.\d{4}|\d\.\d{4}e[+-]\d\d)"  # Keras: 4 decimals, or e-notation below 1e-3
    assert re.fullmatch(rf"3/3 - \d+s - \d+(ms|us)/step - accuracy: {num} - loss: {num} - "
                        rf"val_accuracy: {num} - val_loss: {num}", lines[1]), lines[1]
    model.evaluate(x, y)
    assert re.fullmatch(rf"4/4 - \d+s - \d+(ms|us)/step - accuracy: {num} - loss: {num}\n",
                        capsys.readouterr().out)
    model.predict(x)
    assert re.fullmatch(r"4/4 - \d+s - \d+(ms|us)/step\n", capsys.readouterr().out)
    model.fit(x, y, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_verbose_1_on_a_terminal(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr("sys.stdout", buf)
    bar = _progress.Progbar(1875, verbose=1, interval=0, dynamic=True)
    bar.update(1, {"accuracy": 0.5, "loss": 1.25})
    bar.update(938, {"accuracy": 0.75, "loss": 0.5})
    bar.update(1875, {"accuracy": 0.8224, "loss": 0.00042}, finalize=True)
    out = buf.getvalue()
    frames = out.split("\r")
    plain = [re.sub(r"\x1b\[\d+m", "", f).rstrip("\b") for f in frames[1:]]
    # A frame shorter than the one before is padded with spaces over its rest (as Keras does):
    # the per-step time can shrink from "12us" to "0us".
    assert re.fullmatch(r"   1/1875 ━{20} \d+s \d+(us|ms)/step - accuracy: 0.5000 - loss: 1.2500", plain[0])
    assert re.fullmatch(r" 938/1875 ━{20} \d+s \d+(us|ms)/step - accuracy: 0.7500 - loss: 0.5000 *", plain[1])
    assert re.fullmatch(r"1875/1875 ━{20} \d+s \d+(us|ms)/step - accuracy: 0.8224 - loss: 4.2000e-04 *\n", plain[2])
    assert "\x1b[32m" + "━" * 10 + "\x1b[0m\x1b[37m" + "━" * 10 in frames[2]  # half done: green, then grey
    assert "\x1b[1m1875/1875\x1b[0m" in frames[3]


def test_progress_bar_verbose_1_in_fit(capsys, monkeypatch):
    x, y = blobs(64)
    model = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=1)
    out = re.sub(r"\x1b\[\d+m", "", capsys.readouterr().out)
    assert not out.startswith("Epoch")  # Keras 3: no 'Epoch 1/1' header for one epoch
    num = r"(\d\.\d{4}|\d\.\d{4}e[+-]\d\d)"
    assert re.search(rf"\n2/2 ━{{20}} \d+s \d+(ms|us)/step - accuracy: {num} - loss: {num}\n$", out), out


def test_evaluate_and_predict_batch_by_batch():
    x, y = blobs(70)
    model = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0, batch_size=32)
    assert isinstance(loss, float)
    p = model.predict(x, batch_size=32, verbose=0)
    expected = losses.SparseCategoricalCrossentropy()(y, p)
    assert loss == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(model.predict(x, batch_size=7, verbose=0), p, rtol=1e-6)
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(d) == {"loss"}


def test_reproducible_with_the_same_seed():
    x, y = images(48)

    def run():
        utils.clear_session()
        utils.set_random_seed(42)
        m = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
                               layers.Flatten(), layers.Dropout(0.3), layers.Dense(3, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(x, y, epochs=2, batch_size=8, verbose=0)
        return m.get_weights()

    a, b = run(), run()
    for wa, wb in zip(a, b):
        assert np.array_equal(wa, wb)


def _sgd_model(steps_seen):
    m = models.Sequential([layers.Dense(4, activation="relu", input_shape=(2,)),
                           layers.Dense(2, activation="softmax")])
    m.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return m


class _Raiser(callbacks.Callback):
    def __init__(self, epoch, batch, exc):
        super().__init__()
        self.at, self.exc, self.snap = (epoch, batch), exc, None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.snap = (self.model.get_weights(), self.model.optimizer.iterations,
                         [v.copy() for v in self.model.optimizer.variables])
            raise self.exc


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("callback failed")])
def test_interrupt_or_failing_callback_leaves_model_consistent(exc):
    x, y = blobs(64)
    model = _sgd_model(0)
    cb = _Raiser(1, 2, exc)
    with pytest.raises(type(exc)):
        model.fit(x, y, epochs=3, batch_size=16, callbacks=[cb], verbose=0)
    w, it, slots = cb.snap
    assert it == 4 + 3  # one full epoch of 4 steps, then 3 steps
    for a, b in zip(model.get_weights(), w):
        assert np.array_equal(a, b)
    for a, b in zip(model.optimizer.variables, slots):
        assert np.array_equal(a, b)
    assert model.history.epoch == [0] and len(model.history.history["loss"]) == 1
    hist = model.fit(x, y, epochs=1, verbose=0)  # fit works again
    assert len(hist.history["loss"]) == 1 and model.optimizer.iterations == 7 + 2


def test_sigint_during_the_update_is_held_until_the_step_is_complete(monkeypatch):
    x, y = blobs(32)
    model = _sgd_model(0)
    model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    real = optimizers.SGD._update
    calls = []

    def update(self, i, p, g, lr):
        if not calls:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the first weight is written
        calls.append(i)
        real(self, i, p, g, lr)

    monkeypatch.setattr(optimizers.SGD, "_update", update)
    # Ctrl-C as a terminal delivers it, even where this test process was started with SIGINT
    # ignored (nohup, a background job): that case is test_robustness's
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # put back after fit
    finally:
        signal.signal(signal.SIGINT, old)
    assert calls == [0, 1, 2, 3] and model.optimizer.iterations == 1  # the whole step was applied
    assert all(not np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_nan_loss_warns_with_the_step():
    x, y = blobs(64)
    x[40] = np.nan
    model = models.Sequential([layers.Dense(4, activation="tanh", input_shape=(2,)),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.warns(RuntimeWarning, match=r"The loss became nan at epoch 1, step 3"):
        hist = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert np.isnan(hist.history["loss"][-1])


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = blobs(100)
    seen = []
    model = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    orig = model._evaluate_adapter
    model._evaluate_adapter = lambda ad, *a: (seen.append((ad.xs[0].copy(), ad.ys[0].copy())), orig(ad, *a))[1]
    hist = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    np.testing.assert_array_equal(seen[0][0], x[75:].astype(np.float32))
    np.testing.assert_array_equal(seen[0][1], y[75:])
    assert hist.params["steps"] == 3 and "val_loss" in hist.history
    hist = model.fit(x, y, epochs=1, validation_data=(x[:10], y[:10]), verbose=0)
    assert len(seen[1][0]) == 10


def test_pop_add_weights_and_call():
    model = models.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    assert model.count_params() == 16 + 10 and len(model.weights) == 4
    popped = model.pop()
    assert popped.name == "dense_1" and model.output_shape == (None, 4)
    model.add(layers.Dense(5))
    assert model(np.ones((2, 3))).shape == (2, 5)
    w = model.get_weights()
    w[0][:] = 1
    model.set_weights(w)
    assert (model.layers[0].kernel == 1).all()
    with pytest.raises(ValueError, match=r'Model "sequential" has 4 weight arrays; the list has 1'):
        model.set_weights(w[:1])
    with pytest.raises(ValueError, match=r"should have unique names. Name 'dense' is already"):
        model.add(layers.Dense(2, name="dense"))


def test_errors_are_keras_quality():
    x, y = blobs(20)
    model = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))])
    with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the model"):
        model.fit(x, y)
    with pytest.raises(ValueError, match=r"Unknown optimizer: 'adamm'. Valid values are: 'adam', 'sgd', 'rmsprop', 'adamw'"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match=r"Unknown loss: 'crossentropy'. Valid values are: 'sparse_categorical_crossentropy'"):
        model.compile(optimizer="adam", loss="crossentropy")
    with pytest.raises(ValueError, match=r"Unknown metric: 'acuracy'. Valid values are: 'accuracy', 'acc'"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"Received a label value of 2 which is outside the valid range of \[0, 2\)"):
        model.fit(x, np.where(y == 1, 2, 0), verbose=0)
    with pytest.raises(ValueError, match=r"Received a label value of -1 which is outside the valid range"):
        model.fit(x, y - 1, verbose=0)
    with pytest.raises(ValueError, match=r"`x` and `y` must contain the same number of samples. "
                                         r"Received: x.shape\[0\]=20, y.shape\[0\]=19"):
        model.fit(x, y[:19], verbose=0)
    with pytest.raises(ValueError, match=r'Input 0 of layer "dense" is incompatible with the layer: '
                                         r"expected shape=\(None, 2\), found shape=\(20, 3\)"):
        model.fit(np.zeros((20, 3)), y, verbose=0)
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive int. Received: batch_size=0"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive int. Received: batch_size=-4"):
        model.predict(x, batch_size=-4)
    with pytest.raises(ValueError, match=r"`validation_split` must be a float in \[0, 1\). Received: validation_split=1.5"):
        model.fit(x, y, validation_split=1.5)
    with pytest.raises(ValueError, match=r"`verbose` must be 'auto', 0, 1 or 2. Received: verbose=3"):
        model.fit(x, y, verbose=3)
    with pytest.raises(TypeError, match=r"Only instances of `pyconv.layers.Layer` can be added"):
        model.add("dense")
    cnn = tutorial_cnn()
    cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r'Input 0 of layer "conv2d" is incompatible with the layer: expected '
                                         r"shape=\(None, 28, 28, 1\), found shape=\(4, 32, 32, 3\)"):
        cnn.fit(np.zeros((4, 32, 32, 3)), np.zeros(4, int), verbose=0)


def test_predict_from_four_threads_matches_serial():
    import threading
    x, y = images(256)
    model = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
                               layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5),
                               layers.Dense(3, activation="softmax")])
    serial = model.predict(x, verbose=0)
    out = [None] * 4

    def work(i):
        out[i] = model.predict(x, batch_size=16, verbose=0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in out:
        np.testing.assert_array_equal(o, serial)


def test_same_weights_with_one_and_two_threads(tmp_path):
    """set_random_seed + fit: bitwise the same weights whatever the thread count (subprocesses,
    since the thread count is read from OMP_NUM_THREADS at import)."""
    import subprocess
    import sys
    script = (
        "import sys, numpy as np\n"
        "from pyconv import layers, models, utils\n"
        "utils.set_random_seed(3)\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.random((96, 12, 12)); y = rng.integers(0, 4, 96)\n"
        "m = models.Sequential([layers.Conv2D(8, 3, activation='relu', input_shape=(12, 12, 1)),\n"
        "    layers.MaxPooling2D(2), layers.Conv2D(8, 3, activation='relu'), layers.Flatten(),\n"
        "    layers.Dropout(0.2), layers.Dense(4, activation='softmax')])\n"
        "m.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
        "m.fit(x, y, epochs=2, batch_size=16, verbose=0)\n"
        "np.savez(sys.argv[1], *m.get_weights())\n")
    results = []
    for threads in ("1", "2"):
        out = tmp_path / f"w{threads}.npz"
        env = {**os.environ, "OMP_NUM_THREADS": threads}
        subprocess.run([sys.executable, "-c", script, str(out)], env=env, check=True, timeout=120,
                       cwd=tmp_path)
        with np.load(out) as z:
            results.append([z[k] for k in sorted(z.files)])
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_tutorial_cnn_trains_to_the_same_bits_at_every_thread_count(each_thread_count):
    """The tutorial's CNN at batch 32 -- every pass above its kernel's parallel threshold, as in
    the tutorial -- fitted from the same seed under 1, 2, 3, 8 and 16 threads: the same weights,
    bit for bit (the partitions of docs/kernels.md's "Many cores" table never change a sum)."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    results = []
    for _ in each_thread_count():
        utils.set_random_seed(3)
        m = tutorial_cnn()
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(x, y, epochs=1, batch_size=32, verbose=0)
        results.append(m.get_weights())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_docstring_examples():
    import doctest
    import pyconv.layers.convolutional
    import pyconv.layers.core
    import pyconv.layers.pooling
    import pyconv.layers.base
    import pyconv.models.model
    import pyconv.models.sequential
    import pyconv.models.data_adapters
    for mod in (pyconv.layers.core, pyconv.layers.convolutional, pyconv.layers.pooling, pyconv.layers.base,
                pyconv.models.model, pyconv.models.sequential, pyconv.models.data_adapters, utils, optimizers):
        utils.clear_session()
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert res.failed == 0, f"{mod.__name__}: {res.failed} failed docstring examples"
        assert res.attempted > 0, f"{mod.__name__} has no docstring example"


def test_relu_folded_into_max_pool_backward_changes_nothing():
    """Sequential folds Conv2D(relu) -> MaxPooling2D's relu mask into the pooling's backward;
    the weights after training are bitwise those of the unfolded computation."""
    from pyconv.layers.base import POOL_DEFER, RELU_FOLDED, RELU_MASK, _ActivatedLayer

    def train(fold):
        utils.set_random_seed(5)
        model = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
                                   layers.MaxPooling2D(2), layers.Flatten(),
                                   layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).random((64, 8, 8, 1))
        y = np.arange(64) % 3
        model.fit(x[:32], y[:32], epochs=1, verbose=0)       # plans the model
        steps = model._state().plan.steps
        assert steps[0].fuse & RELU_FOLDED and steps[1].fuse & RELU_MASK
        if not fold:
            for s in steps:
                s.fuse &= ~(RELU_FOLDED | RELU_MASK | POOL_DEFER)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
        return model.get_weights()

    assert isinstance(layers.Conv2D(1, 1), _ActivatedLayer)
    for a, b in zip(train(True), train(False)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("shuffle, split", [(True, 0.0), (False, 0.0), (True, 0.25)])
def test_fit_converts_float64_batch_by_batch(shuffle, split):
    """A float64 dataset trains exactly as its float32 copy would, without fit making that copy."""
    import tracemalloc

    def train(x):
        utils.set_random_seed(3)
        model = models.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(8, activation="relu"),
                                   layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        h = model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=shuffle, validation_split=split)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return model.get_weights(), h.history, peak

    rng = np.random.default_rng(0)
    x64 = rng.random((4000, 28, 28))            # 25 MB; a float32 copy would be 12.5 MB
    y = rng.integers(0, 3, 4000)
    w64, h64, peak = train(x64)
    w32, h32, _ = train(x64.astype(np.float32))
    assert h64 == h32
    for a, b in zip(w64, w32):
        assert np.array_equal(a, b)
    assert peak < 6e6 + split * 12.5e6, peak   # no whole-dataset float32 copy (only the validation part)


def test_backward_stops_at_the_first_layer_with_weights_to_train():
    """No input gradient below the lowest trainable layer: Flatten's backward and the first
    Dense's dx are never computed, nor anything under a frozen layer; training is unchanged."""
    def train(freeze, stop_early):
        utils.set_random_seed(2)
        model = models.Sequential([layers.Flatten(input_shape=(4, 4)), layers.Dense(6, activation="relu"),
                                   layers.Dense(5, activation="relu"), layers.Dense(3, activation="softmax")])
        model.layers[1].trainable = not freeze
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).random((64, 4, 4))
        y = np.arange(64) % 3
        first_kernel = model.layers[1].kernel.copy()
        calls = []
        for l in model.layers:
            l._bwd = (lambda f, l: lambda c, dy, need_dx, fuse=0: calls.append((l.name, need_dx)) or f(c, dy, need_dx, fuse))(l._bwd, l)
        model.fit(x[:16], y[:16], epochs=1, verbose=0)       # plans the model
        if not stop_early:
            for i, s in enumerate(model._state().plan.steps):
                s.run_bwd, s.need_dx = True, i > 0
        calls.clear()
        model.fit(x, y, epochs=1, batch_size=64, verbose=0, shuffle=False)   # one step
        return model.get_weights(), calls, first_kernel

    w, calls, _ = train(False, True)
    assert [c[1] for c in calls] == [True, True, False], calls          # dense_2, dense_1, dense
    w_all, calls_all, _ = train(False, False)
    assert [c[1] for c in calls_all] == [True, True, True, False], calls_all
    for a, b in zip(w, w_all):
        assert np.array_equal(a, b)
    w_frozen, calls_frozen, k0 = train(True, True)
    assert [c[1] for c in calls_frozen] == [True, False], calls_frozen  # nothing under dense_1
    assert np.array_equal(w_frozen[0], k0)                              # the frozen kernel stays
    for a, b in zip(w_frozen, train(True, False)[0]):
        assert np.array_equal(a, b)


def test_fit_gathers_non_contiguous_and_integer_data_like_contiguous_float32():
    """fit's batches come from C (contiguous float32/float64) or NumPy (anything else): the same."""
    def train(x):
        utils.set_random_seed(4)
        model = models.Sequential([layers.Flatten(input_shape=(6, 5)), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        h = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        return model.get_weights(), h.history

    rng = np.random.default_rng(1)
    base = rng.integers(0, 5, (100, 5, 6)).astype(np.float32)
    y = rng.integers(0, 3, 100)
    ref_w, ref_h = train(np.ascontiguousarray(base.transpose(0, 2, 1)))
    for x in (base.transpose(0, 2, 1), base.transpose(0, 2, 1).astype(np.int64),
              base.astype(np.float64).transpose(0, 2, 1),
              np.ascontiguousarray(base.transpose(0, 2, 1)).astype(">f4")):   # big-endian
        w, h = train(x)
        assert h == ref_h and all(np.array_equal(a, b) for a, b in zip(w, ref_w))


def test_fit_with_nothing_to_train():
    """Every layer frozen: fit computes and reports the loss, runs no backward pass, and
    changes no weight (the optimizer still counts its steps, as Keras' does)."""
    model = models.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)),
                               layers.Dense(2, activation="softmax")])
    for l in model.layers:
        l.trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(0).random((16, 3)), np.arange(16) % 2
    before = model.get_weights()
    for l in model.layers:
        l._bwd = lambda *a, **k: pytest.fail("a backward pass ran with nothing to train")
    h = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert not any(s.run_bwd for s in model._state().plan.steps) and len(h.history["loss"]) == 2
    assert np.isfinite(h.history["loss"]).all()
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_sequential_input_layer_is_named_once_however_many_adds():
    """Keras 3.15: Sequential().add(Conv2D(..., input_shape=...)) then more add()s gives one
    InputLayer, named as the first one made (not one new name per add)."""
    m = models.Sequential()
    m.add(layers.Conv2D(4, 3, input_shape=(8, 8, 1)))
    first = m.inputs[0].node.layer
    m.add(layers.Flatten())
    m.add(layers.Dense(2))
    assert m.inputs[0].node.layer is first
    n = int(re.fullmatch(r"input_layer(?:_(\d+))?", first.name).group(1) or 0)
    m2 = models.Sequential([layers.Conv2D(4, 3, input_shape=(8, 8, 1)), layers.Flatten(), layers.Dense(2)])
    assert m2.inputs[0].node.layer.name == f"input_layer_{n + 1}"   # the next name: none skipped
    assert m.predict(np.ones((1, 8, 8, 1)), verbose=0).shape == (1, 2)
