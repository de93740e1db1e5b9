"""Keras 3 callbacks against real Keras: ReduceLROnPlateau, CSVLogger, BackupAndRestore,
TensorBoard, LambdaCallback, TerminateOnNaN, ProgbarLogger.

The KERAS_* constants were recorded with Keras 3.15.1 on TensorFlow 2.21 (tensorboard 2.21 for
the summaries) by driving the Keras callback through the same scenario as the test beside it:
the same calls, the same fake logs. Where pyconv differs on purpose, the test says so.

BackupAndRestore's resume tests need fit to ask `CallbackList.start_position` after
on_train_begin (the hook in pyconv/models/trainer.py's `_epochs`).
"""
import contextlib
import glob
import io
import json
import os
import re
import struct

import numpy as np
import pytest

from pyconv import callbacks, layers, models, optimizers, utils


@pytest.fixture(autouse=True)
def _fresh():
    utils.clear_session()
    utils.set_random_seed(0)


def small_model(lr=0.01):
    m = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))])
    m.compile(optimizer=optimizers.SGD(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return (rng.standard_normal((n, 2)) + y[:, None]).astype(np.float32), y


# ---- ReduceLROnPlateau ---------------------------------------------------------------------------
# (config, val_loss per epoch) -> Keras' learning rate after each epoch's on_epoch_end, starting
# from SGD(0.01); its logged 'learning_rate' at epoch e is the rate after epoch e - 1. Keras holds
# the rate in a float32 variable, so its values are float32 roundings (0.009999999776482582).
RLR_SCENARIOS = [
    ({"patience": 2}, [1.0, 0.9, 0.9, 0.95, 0.9, 0.85, 0.86, 0.87, 0.88]),
    ({"patience": 1, "factor": 0.5, "cooldown": 2}, [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 0.5, 0.6, 0.7, 0.8]),
    ({"patience": 0, "factor": 0.5, "min_lr": 0.003}, [1.0, 1.0, 1.0, 1.0, 1.0]),
    ({"patience": 1, "min_delta": 0.1}, [1.0, 0.95, 0.85, 0.8, 0.79, 0.7]),
    ({"patience": 1, "min_delta": 1e-4}, [1.0, 0.9999, 0.9998, 0.99969, 0.9996]),   # at min_delta's edge
    ({"patience": 1, "mode": "max"}, [0.5, 0.6, 0.6, 0.7, 0.65, 0.64]),
    ({"patience": 1, "monitor": "val_accuracy"}, [0.5, 0.6, 0.6, 0.7, 0.65, 0.64]),   # 'auto': max
]
KERAS_RLR_AFTER = [
    [0.009999999776482582, 0.009999999776482582, 0.009999999776482582, 0.0009999999310821295, 0.0009999999310821295, 0.0009999999310821295, 0.0009999999310821295, 9.99999901978299e-05, 9.99999901978299e-05],
    [0.009999999776482582, 0.004999999888241291, 0.004999999888241291, 0.0024999999441206455, 0.0024999999441206455, 0.0012499999720603228, 0.0012499999720603228, 0.0006249999860301614, 0.0006249999860301614, 0.0003124999930150807],
    [0.009999999776482582, 0.004999999888241291, 0.003000000026077032, 0.003000000026077032, 0.003000000026077032],
    [0.009999999776482582, 0.0009999999310821295, 0.0009999999310821295, 9.99999901978299e-05, 9.99999883788405e-06, 9.99999883788405e-06],
    [0.009999999776482582, 0.0009999999310821295, 0.0009999999310821295, 0.0009999999310821295, 9.99999901978299e-05],
    [0.009999999776482582, 0.009999999776482582, 0.0009999999310821295, 0.0009999999310821295, 9.99999901978299e-05, 9.99999883788405e-06],
    [0.009999999776482582, 0.009999999776482582, 0.0009999999310821295, 0.0009999999310821295, 9.99999901978299e-05, 9.99999883788405e-06],
]


def drive_rlr(cfg, vals, lr=0.01):
    """What the Keras recording did: on_train_begin, then on_epoch_end with fake logs."""
    cfg = dict(cfg)
    monitor = cfg.pop("monitor", "val_loss")
    m = small_model(lr)
    cb = callbacks.ReduceLROnPlateau(monitor=monitor, **cfg)
    cb.set_model(m)
    cb.on_train_begin()
    logged, after = [], []
    for epoch, v in enumerate(vals):
        logs = {"loss": 1.0, monitor: v}
        cb.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
        after.append(m.optimizer.learning_rate)
    return logged, after


@pytest.mark.parametrize("k", range(len(RLR_SCENARIOS)))
def test_reduce_lr_on_plateau_sequence_is_keras(k):
    logged, after = drive_rlr(*RLR_SCENARIOS[k])
    want = KERAS_RLR_AFTER[k]
    # the same epochs reduce the rate ...
    assert [a != b for a, b in zip(after, [0.01] + after)] == [a != b for a, b in zip(want, [want[0]] + want)]
    # ... to the same values, up to Keras' float32 roundings (a few ulp after several reductions)
    np.testing.assert_allclose(after, want, rtol=5e-7)
    np.testing.assert_allclose(logged, [0.01] + want[:-1], rtol=5e-7)
    assert logged == [0.01] + after[:-1]


def test_reduce_lr_on_plateau_messages(capsys):
    drive_rlr({"patience": 0, "verbose": 1}, [1.0, 1.0])
    # Keras prints its float32 rate times the factor: "... to 0.0009999999776482583."
    assert capsys.readouterr().out == "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.001.\n"
    m = small_model()
    cb = callbacks.ReduceLROnPlateau()
    cb.set_model(m)
    logs = {"loss": 1.0}
    with pytest.warns(UserWarning, match=r"^Learning rate reduction is conditioned on metric `val_loss` which is "
                                         r"not available\. Available metrics are: loss,learning_rate\.$"):
        cb.on_epoch_end(0, logs)
    assert logs == {"loss": 1.0, "learning_rate": 0.01}


def test_reduce_lr_on_plateau_in_fit_and_defaults():
    cb = callbacks.ReduceLROnPlateau()
    assert (cb.monitor, cb.factor, cb.patience, cb.verbose, cb.mode, cb.min_delta, cb.cooldown, cb.min_lr) == \
        ("val_loss", 0.1, 10, 0, "min", 1e-4, 0, 0.0)
    x, y = data()
    m = small_model(0.5)
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.ReduceLROnPlateau(monitor="loss", patience=0, min_delta=10)])
    assert h.history["learning_rate"] == [0.5, 0.5, 0.05]   # the rate of each epoch


@pytest.mark.parametrize("kwargs, err, match", [
    ({"factor": 1.0}, ValueError, r"`factor` must be a float in \(0, 1\) \(ReduceLROnPlateau does not support a "
                                  r"factor >= 1\.0\)\. Received: factor=1\.0\."),
    ({"factor": 0}, ValueError, r"`factor` must be a float in \(0, 1\).*Received: factor=0\."),
    ({"factor": "0.5"}, TypeError, r"`factor` must be a float in \(0, 1\).*Received: factor='0\.5'\."),
    ({"min_lr": -1.0}, ValueError, r"`min_lr` must be a float >= 0\. Received: min_lr=-1\.0\."),
    ({"min_delta": float("nan")}, ValueError, r"`min_delta` must be a finite float\. Received: min_delta=nan\."),
    ({"patience": -1}, ValueError, r"`patience` must be an int >= 0\. Received: patience=-1\."),
    ({"cooldown": 1.5}, TypeError, r"`cooldown` must be an int >= 0\. Received: cooldown=1\.5\."),
    # Keras warns "ReduceLROnPlateau mode 'bogus' is unknown, fallback to auto mode."; pyconv refuses,
    # as its EarlyStopping does
    ({"mode": "bogus"}, ValueError, r"`mode` must be 'auto', 'min' or 'max'\. Received: mode='bogus'\."),
    ({"monitor": 3}, TypeError, r"`monitor` must be the name of a log \(a string\)\. Received: monitor=3\."),
])
def test_reduce_lr_on_plateau_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        callbacks.ReduceLROnPlateau(**kwargs)


# ---- CSVLogger -------------------------------------------------------------------------------------
# The bytes Keras' CSVLogger writes for the epochs of each case below (note the '\r\n' line ends,
# the val_ columns added when the first epoch has none, and 'NA' for a missing log).
KERAS_CSV = {
    "no_val": "epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.5,0.6931471824645996,NA,NA\r\n1,1.0,0.25,NA,NA\r\n",
    "val_sep": "epoch;accuracy;learning_rate;loss;val_accuracy;val_loss\r\n0;0.1;0.001;0.5;1e-20;0.75\r\n1;3;NA;nan;0.1;inf\r\n",
    "missing": "epoch,loss,val_loss\r\n0,0.5,0.75\r\n1,0.4,NA\r\n",
    "append": "epoch,loss,val_loss\r\n0,0.5,0.75\r\n1,0.4,NA\r\n2,0.3,0.7\r\n",
    "odd": "epoch,extra,i,loss,s,val_loss,z,zz\r\n0,\"\"\"[1.5, 2.0]\"\"\",7,0.5,\"a,b\",0.5,2.5,3.0\r\n",
    "empty": "epoch\r\n0\r\n",
    "append_empty_file": "epoch,loss,val_loss\r\n0,1.0,NA\r\n",
    "new_key": "epoch,loss,val_loss\r\n0,1.0,NA\r\n1,0.5,NA\r\n",
}


def drive_csv(path, epochs_logs, **kwargs):
    cb = callbacks.CSVLogger(path, **kwargs)
    cb.on_train_begin()
    for epoch, logs in epochs_logs:
        cb.on_epoch_end(epoch, logs)
    cb.on_train_end()
    with open(path, newline="") as f:
        return f.read()


def test_csv_logger_writes_what_keras_writes(tmp_path):
    p = lambda name: str(tmp_path / f"{name}.csv")
    got = {}
    got["no_val"] = drive_csv(p("a"), [(0, {"loss": 0.6931471824645996, "accuracy": 0.5}),
                                       (1, {"loss": 0.25, "accuracy": 1.0})])
    got["val_sep"] = drive_csv(p("b"), [
        (0, {"loss": 0.5, "val_loss": 0.75, "accuracy": 0.1, "val_accuracy": 1e-20, "learning_rate": 0.001}),
        (1, {"loss": float("nan"), "val_loss": float("inf"), "accuracy": 3, "val_accuracy": np.float32(0.1)})],
        separator=";")
    got["missing"] = drive_csv(p("c"), [(0, {"loss": 0.5, "val_loss": 0.75}), (1, {"loss": 0.4})])
    got["append"] = drive_csv(p("c"), [(2, {"loss": 0.3, "val_loss": 0.7})], append=True)
    got["odd"] = drive_csv(p("e"), [(0, {"loss": 0.5, "val_loss": 0.5, "extra": np.array([1.5, 2.0]), "s": "a,b",
                                         "z": np.float64(2.5), "i": np.int64(7), "zz": np.array(3.0)})])
    got["empty"] = drive_csv(p("f"), [(0, {})])
    open(p("g"), "w").close()
    got["append_empty_file"] = drive_csv(p("g"), [(0, {"loss": 1.0})], append=True)
    got["new_key"] = drive_csv(p("h"), [(0, {"loss": 1.0}), (1, {"loss": 0.5, "new": 2.0})])
    assert got == KERAS_CSV


def test_csv_logger_in_fit(tmp_path):
    x, y = data()
    m = small_model()
    path = tmp_path / "log.csv"
    h = m.fit(x, y, epochs=2, verbose=0, validation_data=(x[:8], y[:8]), callbacks=[callbacks.CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert lines[2] == ",".join(["1"] + [repr(h.history[k][1]) for k in ("accuracy", "loss", "val_accuracy", "val_loss")])
    m.fit(x, y, epochs=3, initial_epoch=2, verbose=0, validation_data=(x[:8], y[:8]),
          callbacks=[callbacks.CSVLogger(path, append=True)])
    assert [l.split(",")[0] for l in path.read_text().splitlines()] == ["epoch", "0", "1", "2"]


@pytest.mark.parametrize("kwargs, err, match", [
    ({"filename": None}, TypeError, r"`filename` must be a path \(str or os\.PathLike\)\. Received: filename=None\."),
    ({"filename": "x.csv", "separator": ";;"}, ValueError,
     r"`separator` must be a 1-character string\. Received: separator=';;'\."),
    ({"filename": "x.csv", "separator": 0}, ValueError, r"`separator` must be a 1-character string\. Received: separator=0\."),
])
def test_csv_logger_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        callbacks.CSVLogger(**kwargs)


# ---- LambdaCallback, TerminateOnNaN, ProgbarLogger ---------------------------------------------------
# [hook, its arguments (a logs dict as its sorted keys)] as Keras calls a LambdaCallback holding
# every hook, and one holding only the older on_batch_begin/on_batch_end, in
# fit(4 samples, batch_size=2, epochs=2), evaluate(2 samples), predict(2 samples). on_train_end
# gets the last epoch's logs. (Keras passes a batch hook's logs as `logs=`; pyconv passes them
# by position, which the same functions accept.)
KERAS_HOOKS = [
    ["on_train_begin", []],
    ["on_epoch_begin", 0, []],
    ["on_train_batch_begin", 0, []],
    ["on_batch_begin", 0, []],
    ["on_train_batch_end", 0, ["accuracy", "loss"]],
    ["on_batch_end", 0, ["accuracy", "loss"]],
    ["on_train_batch_begin", 1, []],
    ["on_batch_begin", 1, []],
    ["on_train_batch_end", 1, ["accuracy", "loss"]],
    ["on_batch_end", 1, ["accuracy", "loss"]],
    ["on_epoch_end", 0, ["accuracy", "loss"]],
    ["on_epoch_begin", 1, []],
    ["on_train_batch_begin", 0, []],
    ["on_batch_begin", 0, []],
    ["on_train_batch_end", 0, ["accuracy", "loss"]],
    ["on_batch_end", 0, ["accuracy", "loss"]],
    ["on_train_batch_begin", 1, []],
    ["on_batch_begin", 1, []],
    ["on_train_batch_end", 1, ["accuracy", "loss"]],
    ["on_batch_end", 1, ["accuracy", "loss"]],
    ["on_epoch_end", 1, ["accuracy", "loss"]],
    ["on_train_end", ["accuracy", "loss"]],
    ["on_test_begin", []],
    ["on_test_batch_begin", 0, []],
    ["on_test_batch_end", 0, ["accuracy", "loss"]],
    ["on_test_end", ["accuracy", "loss"]],
    ["on_predict_begin", []],
    ["on_predict_batch_begin", 0, []],
    ["on_predict_batch_end", 0, ["outputs"]],
    ["on_predict_end", []],
]

HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
         "on_batch_begin", "on_batch_end"]


def test_lambda_callback_hooks_are_called_as_keras_calls_them():
    calls = []

    def rec(hook):
        def f(*args):
            calls.append([hook] + [sorted(a) if isinstance(a, dict) else a for a in args])
        return f
    every = callbacks.LambdaCallback(**{h: rec(h) for h in HOOKS})   # on_batch_*: not called, as in Keras
    old = callbacks.LambdaCallback(on_batch_begin=rec("on_batch_begin"), on_batch_end=rec("on_batch_end"))
    m = small_model()
    m.fit(np.zeros((4, 2)), np.zeros(4), epochs=2, batch_size=2, callbacks=[every, old], verbose=0)
    m.evaluate(np.zeros((2, 2)), np.zeros(2), callbacks=[every], verbose=0)
    m.predict(np.zeros((2, 2)), callbacks=[every], verbose=0)
    assert calls == KERAS_HOOKS


def test_lambda_callback_keras_signatures():
    seen = []
    # Keras' own docstring examples: positional and keyword functions, with `logs` named
    cb = callbacks.LambdaCallback(lambda epoch, logs: seen.append(("begin", epoch)),
                                  on_train_begin=lambda logs: seen.append(("train", logs)),
                                  on_train_batch_begin=lambda batch, logs: seen.append(("batch", batch)),
                                  on_epoch_end=None)
    small_model().fit(np.zeros((2, 2)), np.zeros(2), epochs=1, callbacks=[cb], verbose=0)
    assert seen == [("train", {}), ("begin", 0), ("batch", 0)]
    with pytest.raises(ValueError, match=r"Unknown callback hook 'on_epoch_ends'\. Valid hooks: on_train_begin, "):
        callbacks.LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match=r"`on_train_end` must be a function\. Received: on_train_end=3\."):
        callbacks.LambdaCallback(on_train_end=3)


def test_terminate_on_nan(capsys):
    x = np.array([[np.nan, 1.0]] * 4)
    m = small_model()
    h = m.fit(x, np.zeros(4), epochs=3, batch_size=2, callbacks=[callbacks.TerminateOnNaN()], verbose=0)
    assert capsys.readouterr().out == "Batch 0: Invalid loss, terminating training\n"   # as Keras prints
    assert h.epoch == [0] and np.isnan(h.history["loss"][0])
    ends = []
    with pytest.raises(RuntimeError, match=r"^NaN or Inf loss encountered at batch 0\. Loss value: nan\. "
                                           r"Terminating training immediately\.$"):
        m.fit(x, np.zeros(4), epochs=3, batch_size=2, verbose=0,
              callbacks=[callbacks.TerminateOnNaN(raise_error=True),
                         callbacks.LambdaCallback(on_train_end=lambda logs: ends.append(1))])
    assert ends == []   # raise_error skips on_train_end, as in Keras


def test_progbar_logger_passed_by_the_user_is_the_only_one():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        small_model().fit(np.zeros((4, 2)), np.zeros(4), epochs=2, verbose=2, callbacks=[callbacks.ProgbarLogger()])
        small_model().fit(np.zeros((4, 2)), np.zeros(4), epochs=2, verbose=0, callbacks=[callbacks.ProgbarLogger()])
    lines = out.getvalue().splitlines()
    assert [l for l in lines if l.startswith("Epoch")] == ["Epoch 1/2", "Epoch 2/2"] and len(lines) == 4


# ---- BackupAndRestore ------------------------------------------------------------------------------
def bar_model():
    """Random draws of every kind: shuffling and an unseeded Dropout (pyconv's generator), a
    seeded Dropout (its own), an optimizer with state."""
    utils.set_random_seed(1)
    m = models.Sequential([layers.Dense(8, activation="relu", input_shape=(2,)), layers.Dropout(0.3),
                           layers.Dropout(0.2, seed=3), layers.Dense(2, activation="softmax")])
    m.compile(optimizer=optimizers.RMSprop(0.01, momentum=0.5), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


class Interrupt(callbacks.Callback):
    """Raises at the end of batch `step` of epoch `epoch` (before the callbacks after it run)."""

    def __init__(self, epoch, step, exc=KeyboardInterrupt):
        super().__init__()
        self.at, self.exc = (epoch, step), exc

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise self.exc("interrupted")


FIT = dict(epochs=4, batch_size=8, shuffle=True, verbose=0)   # 5 batches an epoch


def lr_schedule():   # depends on the rate it is given: the backup must hold the rate
    return callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.7)


def uninterrupted(x, y):
    m = bar_model()
    h = m.fit(x, y, validation_data=(x[:8], y[:8]), callbacks=[lr_schedule()], **FIT)
    return m, h


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("save_freq", ["epoch", 1, 2])
def test_backup_and_restore_resumes_bitwise(tmp_path, save_freq):
    x, y = data()
    ref, ref_h = uninterrupted(x, y)
    d = str(tmp_path / "backup")
    bar = callbacks.BackupAndRestore(d, save_freq=save_freq)
    with pytest.raises(KeyboardInterrupt):
        bar_model().fit(x, y, validation_data=(x[:8], y[:8]), callbacks=[Interrupt(2, 3), bar, lr_schedule()], **FIT)
    state = json.loads(open(os.path.join(d, "training_metadata.json")).read())
    # the last backup before the end of batch 3 of epoch 2 (the interruption comes before it)
    assert (state["epoch"], state["step"]) == {"epoch": (2, 0), 1: (2, 3), 2: (2, 2)}[save_freq]
    assert sorted(os.listdir(d)) == [state["model_file"], "training_metadata.json"]
    m = bar_model()
    utils.set_random_seed(99)   # the generator's state comes from the backup
    h = m.fit(x, y, validation_data=(x[:8], y[:8]), callbacks=[bar, lr_schedule()], **FIT)
    assert same_weights(m.get_weights(), ref.get_weights())
    assert m.optimizer.iterations == ref.optimizer.iterations == 20
    assert same_weights(m.optimizer.variables, ref.optimizer.variables)
    # the resumed epochs' logs are the uninterrupted run's, the interrupted epoch's included
    assert h.epoch == [2, 3] and {k: v[2:] for k, v in ref_h.history.items()} == h.history
    assert not os.path.exists(d)   # deleted at the end, as in Keras


def test_backup_and_restore_keeps_the_previous_backup_when_a_write_fails(tmp_path, monkeypatch):
    x, y = data()
    ref, _ = uninterrupted(x, y)
    d = str(tmp_path / "b")
    bar = callbacks.BackupAndRestore(d, save_freq=3)
    real, n = callbacks._write_text_atomic, [0]

    def failing(path, text):   # the 4th state write fails (disk full): after its model file was written
        n[0] += 1
        if n[0] == 4:
            raise OSError(28, "No space left on device")
        real(path, text)
    monkeypatch.setattr(callbacks, "_write_text_atomic", failing)
    with pytest.raises(OSError, match="No space left on device"):
        bar_model().fit(x, y, callbacks=[bar, lr_schedule()], **FIT)
    monkeypatch.setattr(callbacks, "_write_text_atomic", real)
    state = json.loads(open(os.path.join(d, "training_metadata.json")).read())
    assert (state["epoch"], state["step"], state["iterations"]) == (1, 4, 9)   # the 3rd backup, whole
    m = bar_model()
    m.fit(x, y, callbacks=[bar, lr_schedule()], **FIT)
    assert same_weights(m.get_weights(), ref.get_weights()) and not os.path.exists(d)


def test_backup_and_restore_double_checkpoint(tmp_path):
    x, y = data()
    ref, _ = uninterrupted(x, y)
    d = str(tmp_path / "b")
    bar = callbacks.BackupAndRestore(d, save_freq=2, double_checkpoint=True)
    with pytest.raises(KeyboardInterrupt):
        bar_model().fit(x, y, validation_data=(x[:8], y[:8]), callbacks=[Interrupt(1, 4), bar, lr_schedule()], **FIT)
    # backups after batches 2, 4, 6, 8 (in slots 0, 1, 2, 0): the last two are kept
    assert sorted(os.listdir(d)) == ["backup.0.pcv", "backup.2.pcv", "training_metadata.json",
                                     "training_metadata.json.bkp"]
    with open(os.path.join(d, "training_metadata.json"), "w") as f:
        f.write("{damaged")
    m = bar_model()
    with pytest.warns(RuntimeWarning, match=r"Cannot restore the backup in '.*b': '.*training_metadata\.json' is "
                                            r"not a backup state \(JSONDecodeError: .*\)\. Delete the directory to "
                                            r"train from the start\. Restoring the previous backup instead\."):
        m.fit(x, y, validation_data=(x[:8], y[:8]), callbacks=[bar, lr_schedule()], **FIT)
    assert same_weights(m.get_weights(), ref.get_weights()) and not os.path.exists(d)


def test_backup_and_restore_delete_checkpoint_false_and_other_files(tmp_path):
    x, y = data()
    d = tmp_path / "b"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    bar = callbacks.BackupAndRestore(d, delete_checkpoint=False)
    bar_model().fit(x, y, callbacks=[bar], **FIT)
    assert sorted(os.listdir(d)) == ["backup.1.pcv", "notes.txt", "training_metadata.json"]
    bar.delete_checkpoint = True
    h = bar_model().fit(x, y, callbacks=[bar], **FIT)   # the backup says: all 4 epochs done
    assert h.epoch == [] and sorted(os.listdir(d)) == ["notes.txt"]   # other files are left alone


@pytest.fixture
def backup_dir(tmp_path):
    """A backup taken at the end of epoch 1 (fit interrupted in epoch 2)."""
    x, y = data()
    d = str(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        bar_model().fit(x, y, callbacks=[Interrupt(1, 2), callbacks.BackupAndRestore(d)], **FIT)
    return d


def _state(d, **changes):
    p = os.path.join(d, "training_metadata.json")
    s = json.loads(open(p).read())
    s.update(changes)
    with open(p, "w") as f:
        json.dump(s, f)
    return s


def _truncate(d):
    name = json.loads(open(os.path.join(d, "training_metadata.json")).read())["model_file"]
    p = os.path.join(d, name)
    data_ = open(p, "rb").read()
    with open(p, "wb") as f:
        f.write(data_[:len(data_) // 2])


DAMAGE = [
    ("garbage", lambda d: open(os.path.join(d, "training_metadata.json"), "w").write("\x00\x01"),
     r"'.*training_metadata\.json' is not a backup state \(JSONDecodeError: "),
    ("not a state", lambda d: open(os.path.join(d, "training_metadata.json"), "w").write("[1, 2]"),
     r"'.*training_metadata\.json' is corrupted: not a BackupAndRestore state\."),
    ("newer format", lambda d: _state(d, format_version=2),
     r"'.*training_metadata\.json' is corrupted: unknown format_version 2 \(this pyconv reads up to 1\)\."),
    ("negative step", lambda d: _state(d, step=-1), r"'.*training_metadata\.json' is corrupted: `step` must be an int >= 0, not -1\."),
    ("a path outside", lambda d: _state(d, model_file="../evil.pcv"), r"'.*training_metadata\.json' is corrupted: unknown model file '\.\./evil\.pcv'\."),
    ("model file missing", lambda d: _state(d, model_file="backup.2.pcv"), r"No such file: '.*backup\.2\.pcv'\."),
    ("model file truncated", _truncate, r"Cannot load '.*backup\.\d\.pcv': the file is truncated or corrupted"),
    ("files of two backups", lambda d: _state(d, iterations=4),
     r"'.*backup\.\d\.pcv' holds the model after 5 steps, the state says 4: the two files are not of one backup\."),
    ("bad generator state", lambda d: _state(d, rng={"bit_generator": "MT19937"}),
     r"a random generator state in '.*training_metadata\.json' is invalid"),
]


@pytest.mark.parametrize("name, damage, match", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_backup_and_restore_damaged_backup_is_a_clear_error(backup_dir, name, damage, match):
    damage(backup_dir)
    x, y = data()
    with pytest.raises(ValueError, match=r"^Cannot restore the backup in '.*b': " + match +
                       r".*Delete the directory to train from the start\.$"):
        bar_model().fit(x, y, callbacks=[callbacks.BackupAndRestore(backup_dir)], **FIT)
    assert os.path.exists(backup_dir)   # nothing deleted


def test_backup_and_restore_another_architecture(backup_dir):
    x, y = data()
    m = models.Sequential([layers.Dense(3, input_shape=(2,)), layers.Dense(2, activation="softmax")])
    m.compile(optimizer=optimizers.RMSprop(0.01), loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"^Cannot restore the backup in '.*b': the backup has 1 seeded layer "
                                         r"generators, the model 0 \(another architecture\)\. Delete the directory"):
        m.fit(x, y, callbacks=[callbacks.BackupAndRestore(backup_dir)], **FIT)
    m = models.Sequential([layers.Dense(9, input_shape=(2,)), layers.Dropout(0.2, seed=1),
                           layers.Dense(2, activation="softmax")])
    m.compile(optimizer=optimizers.RMSprop(0.01), loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"^Cannot restore the backup in '.*b': Cannot load '.*backup\.\d\.pcv' into "
                                         r"model .* \(a different architecture\)\. Delete the directory"):
        m.fit(x, y, callbacks=[callbacks.BackupAndRestore(backup_dir)], **FIT)


def test_backup_and_restore_needs_fit_to_start_where_the_backup_was_taken(backup_dir):
    """Driven by hand, without CallbackList.start_position: a clear error, not a silent restart."""
    bar = callbacks.BackupAndRestore(backup_dir)
    bar.set_model(bar_model())
    bar.on_train_begin()
    with pytest.raises(RuntimeError, match=r"^BackupAndRestore restored the backup in '.*b', taken at epoch 2 after 0 "
                                           r"batches, but fit started epoch 1 at its first batch: this fit does not "
                                           r"ask the callbacks where to start \(CallbackList\.start_position\)\.$"):
        bar.on_epoch_begin(0)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"backup_dir": ""}, ValueError, r"`backup_dir` must be a non-empty path\. Received: backup_dir=''\."),
    ({"backup_dir": None}, TypeError, r"`backup_dir` must be a path \(str or os\.PathLike\)\. Received: backup_dir=None\."),
    ({"backup_dir": "b", "save_freq": 0}, ValueError,
     r"`save_freq` must be 'epoch' or a positive int \(a number of batches\)\. Received: save_freq=0\."),
    ({"backup_dir": "b", "save_freq": "batch"}, ValueError, r"Received: save_freq='batch'\."),
    ({"backup_dir": "b", "save_freq": True}, ValueError, r"Received: save_freq=True\."),
])
def test_backup_and_restore_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        callbacks.BackupAndRestore(**kwargs)


def test_backup_and_restore_unbuilt_subclassed_model(backup_dir):
    class Net(models.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2, activation="softmax")

        def call(self, x):
            return self.dense(x)
    m = Net()
    m.compile(optimizer=optimizers.RMSprop(0.01), loss="sparse_categorical_crossentropy")
    bar = callbacks.BackupAndRestore(backup_dir)
    bar.set_model(m)
    with pytest.raises(ValueError, match=r"^To use the BackupAndRestore callback, your model must be built before you "
                                         r"call `fit\(\)`\. Model \".*\" is unbuilt: build it by calling it on a "
                                         r"batch of data\.$"):
        bar.on_train_begin()


def test_backup_and_restore_other_metrics_warn(tmp_path):
    x, y = data()
    d = str(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        bar_model().fit(x, y, callbacks=[Interrupt(1, 2), callbacks.BackupAndRestore(d, save_freq=1)], **FIT)
    m = bar_model()
    m.compile(optimizer=optimizers.RMSprop(0.01, momentum=0.5), loss="sparse_categorical_crossentropy")
    with pytest.warns(RuntimeWarning, match=r"^The backup's metrics \(\['loss', 'accuracy'\]\) are not the model's "
                                            r"\(\['loss'\]\): the logs of epoch 2 cover only the batches trained "
                                            r"after the resume\.$"):
        h = m.fit(x, y, callbacks=[callbacks.BackupAndRestore(d, save_freq=1)], **FIT)
    assert h.epoch == [1, 2, 3]


# ---- TensorBoard -----------------------------------------------------------------------------------
# [writer, step, Summary protobuf (hex)] of each event Keras writes after the file_version event,
# for tb_scenario(update_freq="batch"). Keras' fit validates through the test hooks (its
# TensorBoard writes `evaluation_*_vs_iterations` in on_test_end); pyconv's fit gives the val_
# logs to on_epoch_end only, where its TensorBoard writes them: per file, the same records.
KERAS_TB = [
    ["train", 1, "0a290a0e62617463685f6163637572616379420a080112002204000000004a0b0a090a077363616c617273"],
    ["train", 1, "0a250a0a62617463685f6c6f7373420a0801120022040000803f4a0b0a090a077363616c617273"],
    ["train", 2, "0a290a0e62617463685f6163637572616379420a0801120022040000803e4a0b0a090a077363616c617273"],
    ["train", 2, "0a250a0a62617463685f6c6f7373420a0801120022040000003f4a0b0a090a077363616c617273"],
    ["train", 3, "0a290a0e62617463685f6163637572616379420a0801120022040000003f4a0b0a090a077363616c617273"],
    ["train", 3, "0a250a0a62617463685f6c6f7373420a080112002204abaaaa3e4a0b0a090a077363616c617273"],
    ["train", 0, "0a290a0e65706f63685f6163637572616379420a0801120022040000403f4a0b0a090a077363616c617273"],
    ["train", 0, "0a250a0a65706f63685f6c6f7373420a0801120022040000003f4a0b0a090a077363616c617273"],
    ["train", 0, "0a2e0a1365706f63685f6c6561726e696e675f72617465420a080112002204cdcc4c3d4a0b0a090a077363616c617273"],
    ["train", 4, "0a290a0e62617463685f6163637572616379420a080112002204000000004a0b0a090a077363616c617273"],
    ["train", 4, "0a250a0a62617463685f6c6f7373420a0801120022040000003f4a0b0a090a077363616c617273"],
    ["train", 5, "0a290a0e62617463685f6163637572616379420a0801120022040000803e4a0b0a090a077363616c617273"],
    ["train", 5, "0a250a0a62617463685f6c6f7373420a080112002204abaaaa3e4a0b0a090a077363616c617273"],
    ["train", 6, "0a290a0e62617463685f6163637572616379420a0801120022040000003f4a0b0a090a077363616c617273"],
    ["train", 6, "0a250a0a62617463685f6c6f7373420a0801120022040000803e4a0b0a090a077363616c617273"],
    ["train", 1, "0a290a0e65706f63685f6163637572616379420a0801120022040000403f4a0b0a090a077363616c617273"],
    ["train", 1, "0a250a0a65706f63685f6c6f7373420a0801120022040000803e4a0b0a090a077363616c617273"],
    ["train", 1, "0a2e0a1365706f63685f6c6561726e696e675f72617465420a080112002204cdcc4c3d4a0b0a090a077363616c617273"],
    ["validation", 3, "0a3c0a216576616c756174696f6e5f61636375726163795f76735f697465726174696f6e73420a0801120022040000003f4a0b0a090a077363616c617273"],
    ["validation", 3, "0a380a1d6576616c756174696f6e5f6c6f73735f76735f697465726174696f6e73420a0801120022043333333f4a0b0a090a077363616c617273"],
    ["validation", 0, "0a290a0e65706f63685f6163637572616379420a0801120022040000003f4a0b0a090a077363616c617273"],
    ["validation", 0, "0a250a0a65706f63685f6c6f7373420a0801120022043333333f4a0b0a090a077363616c617273"],
    ["validation", 6, "0a3c0a216576616c756174696f6e5f61636375726163795f76735f697465726174696f6e73420a0801120022040000203f4a0b0a090a077363616c617273"],
    ["validation", 6, "0a380a1d6576616c756174696f6e5f6c6f73735f76735f697465726174696f6e73420a0801120022049a99193f4a0b0a090a077363616c617273"],
    ["validation", 1, "0a290a0e65706f63685f6163637572616379420a0801120022040000203f4a0b0a090a077363616c617273"],
    ["validation", 1, "0a250a0a65706f63685f6c6f7373420a0801120022049a99193f4a0b0a090a077363616c617273"],
]


def tb_scenario(log_dir, update_freq):
    m = small_model(0.05)
    cb = callbacks.TensorBoard(log_dir, write_graph=False, update_freq=update_freq)
    cb.set_model(m)
    cb.on_train_begin()
    for epoch in range(2):
        cb.on_epoch_begin(epoch)
        for b in range(3):
            cb.on_train_batch_begin(b)
            m.optimizer.iterations += 1
            cb.on_train_batch_end(b, {"accuracy": 0.25 * b, "loss": 1.0 / (b + 1 + epoch)})
        val = {"accuracy": 0.5 + epoch / 8, "loss": 0.7 - epoch / 10}
        cb.on_epoch_end(epoch, {"accuracy": 0.75, "loss": 0.5 / (epoch + 1), **{"val_" + k: v for k, v in val.items()}})
    cb.on_train_end()


# An event file read back with a reader of its own (a bitwise CRC-32C, not the writer's table).
def crc32c_bitwise(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    raw, i, out = open(path, "rb").read(), 0, []
    while i < len(raw):
        head = raw[i:i + 8]
        (n,), (hcrc,) = struct.unpack("<Q", head), struct.unpack("<I", raw[i + 8:i + 12])
        assert hcrc == masked(crc32c_bitwise(head)), f"length CRC of the record at byte {i}"
        rec, (dcrc,) = raw[i + 12:i + 12 + n], struct.unpack("<I", raw[i + 12 + n:i + 16 + n])
        assert len(rec) == n and dcrc == masked(crc32c_bitwise(rec)), f"data CRC of the record at byte {i}"
        out.append(rec)
        i += 16 + n
    return out


def pb_fields(b):
    """A protobuf message as {field: [values]} (varints as ints, fixed64 as doubles, fixed32 as
    floats, length-delimited as bytes)."""
    i, out = 0, {}

    def varint():
        nonlocal i
        r = s = 0
        while True:
            c = b[i]
            i += 1
            r |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return r
    while i < len(b):
        key = varint()
        f, w = key >> 3, key & 7
        if w == 0:
            v = varint()
        elif w == 1:
            v, i = struct.unpack("<d", b[i:i + 8])[0], i + 8
        elif w == 5:
            v, i = struct.unpack("<f", b[i:i + 4])[0], i + 4
        else:
            n = varint()
            v, i = b[i:i + n], i + n
        out.setdefault(f, []).append(v)
    return out


def read_events(log_dir):
    """{writer: [(step, tag, value or tensor fields, plugin name)]} and the first events."""
    out, first = {}, {}
    for path in sorted(glob.glob(os.path.join(log_dir, "*", "events.out.tfevents.*"))):
        which = os.path.basename(os.path.dirname(path))
        assert re.fullmatch(r"events\.out\.tfevents\.\d+\..+\.\d+\.\d+\.v2", os.path.basename(path))
        recs = [pb_fields(r) for r in read_records(path)]
        first[which] = recs[0]
        for ev in recs[1:]:
            for value in pb_fields(ev[5][0])[1]:
                v = pb_fields(value)
                t = pb_fields(v[8][0])
                plugin = pb_fields(pb_fields(v[9][0])[1][0])[1][0].decode()
                x = struct.unpack("<f", t[4][0])[0] if t[1] == [1] else t
                out.setdefault(which, []).append((ev.get(2, [0])[0], v[1][0].decode(), x, plugin))
    return out, first


def summaries(log_dir):
    got = []
    for path in sorted(glob.glob(os.path.join(log_dir, "*", "events.out.tfevents.*"))):
        for rec in read_records(path)[1:]:
            ev = pb_fields(rec)
            got.append([os.path.basename(os.path.dirname(path)), ev.get(2, [0])[0], ev[5][0].hex()])
    return got


def test_tensorboard_summaries_are_the_bytes_keras_writes(tmp_path):
    tb_scenario(str(tmp_path / "batch"), "batch")
    assert summaries(str(tmp_path / "batch")) == KERAS_TB
    tb_scenario(str(tmp_path / "epoch"), "epoch")   # Keras writes the same without the batch_ records
    assert summaries(str(tmp_path / "epoch")) == [r for r in KERAS_TB if b"batch_" not in bytes.fromhex(r[2])]
    # update_freq=2: every 2nd batch. (Keras 3.15 then also drops the epoch summaries of an epoch
    # that ends on an odd batch count, a side effect of its record_if; pyconv writes them.)
    tb_scenario(str(tmp_path / "two"), 2)
    steps = [r[1] for r in summaries(str(tmp_path / "two")) if b"batch_" in bytes.fromhex(r[2])]
    assert steps == [2, 2, 4, 4, 6, 6]


def test_tensorboard_in_fit_read_back(tmp_path):
    x, y = data()
    m = small_model()
    log_dir = str(tmp_path / "logs")
    h = m.fit(x, y, epochs=3, verbose=0, validation_data=(x[:8], y[:8]), callbacks=[callbacks.TensorBoard(log_dir)])
    events, first = read_events(log_dir)
    assert sorted(events) == sorted(first) == ["train", "validation"]
    for ev in first.values():   # file_version, then who wrote the file
        assert ev[3] == [b"brain.Event:2"] and pb_fields(ev[10][0])[1] == [b"pyconv.callbacks.TensorBoard"]
    train = events["train"]
    assert train[0][:2] == (0, "keras") and train[0][3] == "graph_keras_model"   # write_graph
    config = json.loads(train[0][2][8][0])
    assert config["class_name"] == "Sequential" and config["config"]["layers"][0]["class_name"] == "Dense"
    for which, prefix in (("train", ""), ("validation", "val_")):
        for name in ("loss", "accuracy"):
            got = [(s, v) for s, t, v, p in events[which] if t == f"epoch_{name}"]
            assert got == [(e, float(np.float32(v))) for e, v in enumerate(h.history[prefix + name])]
    assert [v for s, t, v, p in train if t == "epoch_learning_rate"] == [float(np.float32(0.01))] * 3
    evals = [(s, v) for s, t, v, p in events["validation"] if t == "evaluation_loss_vs_iterations"]
    assert evals == [(2 * (e + 1), float(np.float32(v))) for e, v in enumerate(h.history["val_loss"])]
    assert {p for evs in events.values() for s, t, v, p in evs if t != "keras"} == {"scalars"}
    # evaluate(callbacks=[tb]) writes evaluation_* at the optimizer's iterations
    loss, acc = m.evaluate(x, y, verbose=0, callbacks=[callbacks.TensorBoard(str(tmp_path / "ev"), write_graph=False)])
    events, _ = read_events(str(tmp_path / "ev"))
    assert events == {"validation": [(6, "evaluation_accuracy_vs_iterations", float(np.float32(acc)), "scalars"),
                                     (6, "evaluation_loss_vs_iterations", float(np.float32(loss)), "scalars")]}


def test_crc32c_check_values():
    for data_, crc in ((b"", 0), (b"123456789", 0xE3069283), (b"\x00" * 32, 0x8A9136AA), (b"\xff" * 32, 0x62A8AB43)):
        assert callbacks._crc32c(data_) == crc_bitwise(data_) == crc


crc_bitwise = crc32c_bitwise


def test_tensorboard_reads_the_files(tmp_path):
    """TensorBoard's own reader (skipped when the tensorboard package is absent)."""
    ea_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from tensorboard.plugins.graph import keras_util
    from tensorboard.util import tensor_util
    x, y = data()
    inp = layers.Input((2,))
    out = layers.Dense(2, activation="softmax")(layers.Dense(4, activation="relu")(inp))
    m = models.Model(inp, out)
    m.compile(optimizer=optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, epochs=2, verbose=0, validation_data=(x[:8], y[:8]),
              callbacks=[callbacks.TensorBoard(str(tmp_path), update_freq=2)])
    for which, prefix in (("train", ""), ("validation", "val_")):
        ea = ea_module.EventAccumulator(str(tmp_path / which))
        ea.Reload()
        for name in ("loss", "accuracy"):
            got = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in ea.Tensors(f"epoch_{name}")]
            assert got == [(k, float(np.float32(v))) for k, v in enumerate(h.history[prefix + name])]
    ea = ea_module.EventAccumulator(str(tmp_path / "train"))
    ea.Reload()
    assert [e.step for e in ea.Tensors("batch_loss")] == [2, 4]
    config = json.loads(tensor_util.make_ndarray(ea.Tensors("keras")[0].tensor_proto).item())
    graph = keras_util.keras_model_to_graph_def(config)   # what TensorBoard's graph tab draws
    assert [(n.name.split("/")[-1], [i.split("/")[-1] for i in n.input]) for n in graph.node] == \
        [(m.layers[0].name, []), (m.layers[1].name, [m.layers[0].name]), (m.layers[2].name, [m.layers[1].name])]


@pytest.mark.parametrize("kwargs, match", [
    ({"histogram_freq": 1}, r"`histogram_freq` must be 0: pyconv's TensorBoard writes scalars and the model's "
                            r"configuration, not histograms, images, profiles or embeddings\. Received: histogram_freq=1\."),
    ({"write_images": True}, r"`write_images` must be False: .*Received: write_images=True\."),
    ({"profile_batch": 2}, r"`profile_batch` must be 0: .*Received: profile_batch=2\."),
    ({"embeddings_freq": 1}, r"`embeddings_freq` must be 0: .*Received: embeddings_freq=1\."),
    ({"update_freq": 0}, r"`update_freq` must be 'epoch', 'batch' or a positive int\. Received: update_freq=0\."),
    ({"update_freq": "never"}, r"`update_freq` must be 'epoch', 'batch' or a positive int\. Received: update_freq='never'\."),
])
def test_tensorboard_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.TensorBoard("logs", **kwargs)


def test_docstring_examples(tmp_path, monkeypatch):
    import doctest
    monkeypatch.chdir(tmp_path)   # the examples create no file; if one did, it would land here
    result = doctest.testmod(callbacks, raise_on_error=False)
    assert result.failed == 0 and result.attempted >= 6
    assert os.listdir(tmp_path) == []


def test_tensorboard_skips_what_is_not_a_scalar_and_a_subclassed_graph(tmp_path):
    class Net(models.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)
    m = Net()
    m.compile(optimizer=optimizers.SGD(0.01), loss="mse")
    cb = callbacks.TensorBoard(str(tmp_path))
    cb.set_model(m)   # Keras writes the graph of Sequential and functional models only
    assert not os.path.exists(tmp_path / "train")
    cb.on_epoch_begin(0)
    cb.on_epoch_end(0, {"f1_score": np.array([0.5, 0.25], np.float32), "loss": np.float32(2.0), "n": 3})
    cb.on_train_end()
    events, _ = read_events(str(tmp_path))
    assert [e[1:3] for e in events["train"]] == [("epoch_loss", 2.0), ("epoch_n", 3.0),
                                                 ("epoch_learning_rate", float(np.float32(0.01)))]
