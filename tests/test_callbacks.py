"""Each callback's behaviour: hooks and params, History, EarlyStopping, ModelCheckpoint,
LearningRateScheduler, TerminateOnNaN."""
import os

import numpy as np
import pytest

from pyconv import callbacks, layers, models, optimizers, utils


@pytest.fixture(autouse=True)
def _fresh():
    utils.clear_session()
    utils.set_random_seed(0)


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)) * 0.5 + np.where(y[:, None] == 1, 1.5, -1.5)
    return x, y


def model(lr=0.01):
    m = models.Sequential([layers.Dense(4, activation="tanh", input_shape=(2,)), layers.Dense(2, activation="softmax")])
    m.compile(optimizer=optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None): self.calls.append(("train_begin",))
    def on_train_end(self, logs=None): self.calls.append(("train_end",))
    def on_epoch_begin(self, epoch, logs=None): self.calls.append(("epoch_begin", epoch))
    def on_epoch_end(self, epoch, logs=None): self.calls.append(("epoch_end", epoch, sorted(logs)))
    def on_train_batch_begin(self, batch, logs=None): self.calls.append(("batch_begin", batch))
    def on_train_batch_end(self, batch, logs=None): self.calls.append(("batch_end", batch, sorted(logs)))
    def on_test_begin(self, logs=None): self.calls.append(("test_begin",))
    def on_test_end(self, logs=None): self.calls.append(("test_end",))
    def on_predict_begin(self, logs=None): self.calls.append(("predict_begin",))
    def on_predict_batch_end(self, batch, logs=None): self.calls.append(("predict_batch_end", batch))


def test_hooks_order_params_and_model():
    x, y = data(40)
    m, rec = model(), Recorder()
    m.fit(x, y, epochs=2, batch_size=16, callbacks=[rec], verbose=0, validation_data=(x[:8], y[:8]))
    assert rec.model is m and rec.params == {"verbose": 0, "epochs": 2, "steps": 3}
    assert rec.calls[0] == ("train_begin",) and rec.calls[-1] == ("train_end",)
    assert rec.calls[1:5] == [("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0, ["accuracy", "loss"]),
                              ("batch_begin", 1)]
    assert ("epoch_end", 0, ["accuracy", "loss", "val_accuracy", "val_loss"]) in rec.calls
    m.evaluate(x, y, callbacks=[rec], verbose=0)
    m.predict(x, batch_size=32, callbacks=[rec], verbose=0)
    assert rec.calls[-4:] == [("test_end",), ("predict_begin",), ("predict_batch_end", 0), ("predict_batch_end", 1)]


def test_history_and_initial_epoch():
    x, y = data()
    m = model()
    h = m.fit(x, y, epochs=3, verbose=0)
    assert isinstance(h, callbacks.History) and h.epoch == [0, 1, 2] and m.history is h
    assert set(h.history) == {"loss", "accuracy"} and len(h.history["loss"]) == 3
    h2 = m.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert h2.epoch == [3, 4]


def test_early_stopping_patience_and_restore_best_weights():
    x, y = data()
    m = model()
    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    snaps = []

    class Fake(callbacks.Callback):  # drives val_loss, remembers the weights of each epoch
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(losses)
            snaps.append(self.model.get_weights())

    es = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = m.fit(x, y, epochs=7, callbacks=[Fake(), es], verbose=0)
    assert h.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best_epoch == 1
    for a, b in zip(m.get_weights(), snaps[1]):
        assert np.array_equal(a, b)
    with pytest.warns(UserWarning, match=r"Early stopping conditioned on metric `val_acc` which is not available"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.EarlyStopping(monitor="val_acc")])


def test_early_stopping_mode_min_delta_and_start_from_epoch():
    es = callbacks.EarlyStopping(monitor="accuracy", min_delta=0.1, patience=1, start_from_epoch=1)
    assert es.mode == "max"
    x, y = data()
    m = model()
    vals = iter([0.1, 0.5, 0.55, 0.58, 0.9])

    class Fake(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["accuracy"] = next(vals)

    h = m.fit(x, y, epochs=5, callbacks=[Fake(), es], verbose=0)
    assert h.epoch == [0, 1, 2]  # 0.55 is not 0.1 better than 0.5


def test_model_checkpoint_best_only_and_epoch_in_name(tmp_path):
    x, y = data()
    m = model()
    vals = iter([0.9, 0.5, 0.7, 0.4])

    class Fake(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(vals)

    path = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.1f}.pyconv")
    ck = callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    m.fit(x, y, epochs=4, callbacks=[Fake(), ck], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01-0.9.pyconv", "ckpt-02-0.5.pyconv", "ckpt-04-0.4.pyconv"]
    best = models.load_model(tmp_path / "ckpt-04-0.4.pyconv")
    np.testing.assert_array_equal(best.predict(x, verbose=0), m.predict(x, verbose=0))
    wpath = tmp_path / "w.weights"
    m.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(wpath, save_weights_only=True)])
    fresh = model()
    fresh.load_weights(wpath)
    np.testing.assert_array_equal(fresh.get_weights()[0], m.get_weights()[0])
    with pytest.raises(KeyError, match=r"Failed to format this callback filepath"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "{nope}.x"))])


def test_learning_rate_scheduler():
    x, y = data()
    m = model(lr=0.1)
    seen = []

    class Spy(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    h = m.fit(x, y, epochs=3, callbacks=[sched, Spy()], verbose=0)
    assert seen == [0.1, 0.05, 0.025] and h.history["learning_rate"] == [0.1, 0.05, 0.025]
    m2 = model()
    m2.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.5 / (epoch + 1))])
    assert m2.optimizer.learning_rate == 0.25


def test_terminate_on_nan(capsys):
    x, y = data()
    x[20] = np.nan
    m = model()
    h = m.fit(x, y, epochs=3, batch_size=8, shuffle=False, callbacks=[callbacks.TerminateOnNaN()], verbose=0)
    assert m.optimizer.iterations == 3 and h.epoch == [0]  # stopped after the batch 2, the first NaN
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out


def test_lambda_callback_and_bad_callbacks():
    x, y = data()
    ends = []
    model().fit(x, y, epochs=2, verbose=0,
                callbacks=[callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(epoch))])
    assert ends == [0, 1]
    with pytest.raises(TypeError, match=r"`callbacks` must hold pyconv.callbacks.Callback instances"):
        model().fit(x, y, verbose=0, callbacks=[print])
