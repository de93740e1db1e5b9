"""Callbacks (keras.callbacks names, hooks and semantics).

A callback sees `self.model` and `self.params` ({'verbose', 'epochs', 'steps'}) and gets
Keras' hooks: on_train_begin/end, on_epoch_begin/end, on_train_batch_begin/end,
on_test_begin/end, on_test_batch_begin/end, on_predict_begin/end,
on_predict_batch_begin/end. Setting `self.model.stop_training = True` ends `fit` after the
current batch.

Hooks are called as Keras 3 calls them: `on_train_begin(logs)`, `on_epoch_begin(epoch, logs)`,
`on_train_batch_end(batch, logs)`, ..., with `logs` a dict (empty when there is nothing to
report); `on_train_end` gets the logs of the last epoch.

Files: `ModelCheckpoint` and `BackupAndRestore` write atomically (pyconv/_saving.py);
`CSVLogger` appends a line per epoch; `TensorBoard` writes TensorBoard event files with a
writer of its own (TFRecord framing, Event and Summary protobufs encoded here), no TensorFlow
needed.
"""
import collections.abc
import csv
import itertools
import json
import math
import os
import socket
import struct
import time
import warnings

import numpy as np

from . import _progress, _validate, utils

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "LearningRateScheduler", "TerminateOnNaN", "LambdaCallback",
           "ReduceLROnPlateau", "CSVLogger", "BackupAndRestore", "TensorBoard"]


class Callback:
    """Base class: override the hooks you need."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    # Keras' older names
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass


_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin",
          "on_test_batch_end", "on_predict_begin", "on_predict_end", "on_predict_batch_begin",
          "on_predict_batch_end")


def as_list(callbacks):
    """`callbacks` as a list: None -> [], a single Callback -> [it] (Keras accepts both)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"`callbacks` must be a list of pyconv.callbacks.Callback instances. "
                        f"Received: callbacks={callbacks!r}.")
    return list(callbacks)


class CallbackList:
    """Calls a hook on every callback in order; only the callbacks that override a hook are
    called for it (so the per-batch cost is nil when nobody listens).

    As in Keras: a callback that overrides Keras' older `on_batch_begin`/`on_batch_end` (and
    not `on_train_batch_*`) gets them for training batches; only the first ProgbarLogger is
    kept (the one a user passes, not fit's own); `on_train_end` gets the last epoch's logs.
    """

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"`callbacks` must hold pyconv.callbacks.Callback instances. "
                                f"Received: {cb!r}.")
        bars = [cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)]
        self.callbacks = [cb for cb in self.callbacks if not isinstance(cb, ProgbarLogger) or cb is bars[0]]
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        for hook in _HOOKS:
            fns = [getattr(cb, hook) for cb in self.callbacks if _overrides(cb, hook)]
            old = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}.get(hook)
            if old:   # Keras' Callback.on_train_batch_* calls on_batch_*
                fns = [getattr(cb, hook) if _overrides(cb, hook) else getattr(cb, old) for cb in self.callbacks
                       if _overrides(cb, hook) or _overrides(cb, old)]
            setattr(self, hook, _caller(hook, fns) if fns else _noop)
        if self.on_train_end is not _noop:   # Keras passes the last epoch's logs to on_train_end
            self._last_logs = {}
            epoch_end, train_end = self.on_epoch_end, self.on_train_end

            def on_epoch_end(epoch, logs=None):
                self._last_logs = logs if logs is not None else {}
                epoch_end(epoch, self._last_logs)

            def on_train_end(logs=None):
                train_end(self._last_logs if logs is None else logs)
            self.on_epoch_end, self.on_train_end = on_epoch_end, on_train_end

    def start_position(self, initial_epoch):
        """(epoch, step) where `fit` starts, asked after on_train_begin: (initial_epoch, 0),
        unless a BackupAndRestore restored a backup; then the epoch and the number of that
        epoch's batches that were trained before the interruption (which fit draws from the
        data, in the same order, but does not train on)."""
        for cb in self.callbacks:
            if isinstance(cb, BackupAndRestore):
                pos = cb._start_position()
                if pos is not None:
                    return pos
        return initial_epoch, 0


def _overrides(cb, hook):
    return getattr(type(cb), hook, None) is not getattr(Callback, hook)


def _noop(*args, **kwargs):
    pass


def _caller(hook, fns):
    """One function calling `fns` with Keras' arguments for `hook`: (logs), (epoch, logs) or
    (batch, logs), logs a dict ({} for none). Outside batches, as Keras' pythonify_logs does, the
    callbacks share a copy of the logs with sorted keys."""
    if "batch" in hook:
        def call(batch, logs=None):
            logs = {} if logs is None else logs
            for f in fns:
                f(batch, logs)
    elif hook in ("on_epoch_begin", "on_epoch_end"):
        def call(epoch, logs=None):
            logs = dict(sorted(logs.items())) if logs else {}
            for f in fns:
                f(epoch, logs)
    else:
        def call(logs=None):
            logs = dict(sorted(logs.items())) if logs else {}
            for f in fns:
                f(logs)
    return call


class History(Callback):
    """Records the epoch logs: `history.history['loss']`, `history.epoch`. Returned by fit."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []  # Keras: the epochs of the latest fit

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints 'Epoch i/n' (when n > 1) and Keras' progress bar (verbose=1) or one line per epoch (verbose=2)."""

    def __init__(self):
        super().__init__()
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        verbose = self.params.get("verbose", 1)
        if verbose:
            if self.params.get("epochs", 1) > 1:  # Keras 3 prints no header for a single epoch
                print(f"Epoch {epoch + 1}/{self.params.get('epochs')}", flush=True)
            self._bar = _progress.Progbar(self.params.get("steps") or 0, verbose=verbose)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(batch + 1, logs, finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            steps = self._bar.target
            self._bar.update(steps, logs, finalize=True)
            self._bar = None


def _monitor_op(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`mode` must be 'auto', 'min' or 'max'. Received: mode={mode!r}.")
    if mode == "auto":
        m = monitor.removeprefix("val_")
        mode = "max" if (m in ("acc", "accuracy", "auc") or m.endswith("accuracy") or m.endswith("_acc")) else "min"
    return mode


class EarlyStopping(Callback):
    """Stops training when `monitor` has not improved for `patience` epochs.

    Args:
        monitor: the log to watch ('val_loss').
        min_delta: smallest change that counts as an improvement (0).
        patience: epochs without improvement before stopping (0).
        verbose: 1 prints when stopping / restoring.
        mode: 'auto' (max for accuracies, min otherwise), 'min' or 'max'.
        baseline: a value the monitor must beat to reset the patience.
        restore_best_weights: restore the weights of the best epoch at the end of training.
        start_from_epoch: epochs to wait before watching (0).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"`monitor` must be the name of a log (a string). Received: monitor={monitor!r}.")
        self.monitor = monitor
        self.patience = _validate.non_negative_int(patience, "patience")
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(float(min_delta))
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _validate.non_negative_int(start_from_epoch, "start_from_epoch")
        self.mode = _monitor_op(mode, monitor)
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _better(self, value, reference):
        if reference is None:
            return True
        if self.mode == "max":
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, None, None, 0

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join((logs or {}).keys())}",
                          stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) at the end of each epoch, atomically.

    Args:
        filepath: path, may hold Keras' fields: '{epoch:02d}', '{val_loss:.2f}', ...
        monitor: the log compared with `save_best_only` ('val_loss').
        verbose: 1 prints a line when saving.
        save_best_only: save only when `monitor` improves (the file is overwritten unless the
            path has fields).
        save_weights_only: save the weights only (Model.save_weights) instead of the whole
            model (Model.save).
        mode: 'auto', 'min' or 'max'.
        initial_value_threshold: the value to beat at the first epoch.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch":
            raise ValueError(f"`save_freq` must be 'epoch'. Received: save_freq={save_freq!r}.")
        self.filepath = _validate.filepath(filepath)
        if not isinstance(monitor, str):
            raise TypeError(f"`monitor` must be the name of a log (a string). Received: monitor={monitor!r}.")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _monitor_op(mode, monitor)
        self.best = initial_value_threshold if initial_value_threshold is not None else (
            -math.inf if self.mode == "max" else math.inf)

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except KeyError as e:
            raise KeyError(f"Failed to format this callback filepath: \"{self.filepath}\". "
                           f"Reason: {e!r} is not in the logs ({', '.join(logs or {})}).") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._path(epoch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=2)
                return
            better = current > self.best if self.mode == "max" else current < self.best
            if not better:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to `schedule(epoch, lr)`
    (or `schedule(epoch)`), and logs it as 'learning_rate'."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"`schedule` must be callable. Received: schedule={schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(opt.learning_rate)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # a schedule of the epoch only
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, int, np.floating, np.integer)) or isinstance(lr, bool):
            raise ValueError(f'The output of the "schedule" function should be a float. Got: {lr!r}')
        opt.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stops training as soon as the loss of a batch is NaN or infinite.

    Args:
        raise_error: False (default): print "Batch i: Invalid loss, terminating training" and
            set `model.stop_training` (the epoch ends, `on_train_end` runs). True: raise a
            RuntimeError at once, so that no `on_train_end` runs (a BackupAndRestore keeps its
            backup).
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   f"Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of functions, called with Keras' arguments: `on_epoch_begin(epoch, logs)`,
    `on_epoch_end(epoch, logs)`, `on_train_begin(logs)`, `on_train_end(logs)`,
    `on_train_batch_begin(batch, logs)`, `on_train_batch_end(batch, logs)`; any other hook by
    its name (`on_test_end=...`, `on_predict_batch_end=...`, `on_batch_end=...`).

    Raises:
        ValueError: a name that is not a hook (Keras would set it as an attribute; pyconv
            refuses it, as it is most likely a misspelt hook).
        TypeError: a hook that is not callable.

    Example:
        >>> from pyconv import callbacks
        >>> ends = []
        >>> cb = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(epoch))
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **kwargs}
        valid = _HOOKS + ("on_batch_begin", "on_batch_end")
        for name, fn in hooks.items():
            if name not in valid:
                raise ValueError(f"Unknown callback hook {name!r}. Valid hooks: {', '.join(valid)}.")
            if fn is not None and not callable(fn):
                raise TypeError(f"`{name}` must be a function. Received: {name}={fn!r}.")
        hooks = {k: fn for k, fn in hooks.items() if fn is not None}
        # the CallbackList looks at the class to see which hooks are overridden
        self.__class__ = type("LambdaCallback", (LambdaCallback,), {k: staticmethod(v) for k, v in hooks.items()})


def _number(v, name, ok, expected):
    """`v` as a float if it is a real number for which ok(v) holds, else a ValueError/TypeError
    saying `expected` (the callbacks' float arguments)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be {expected}. Received: {name}={v!r}.")
    if not ok(float(v)):
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={v!r}.")
    return float(v)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs (Keras 3's rule, step by step), and logs the learning rate as 'learning_rate'.

    Args:
        monitor: the log to watch ('val_loss').
        factor: the learning rate becomes `lr * factor` (0.1), a float in (0, 1).
        patience: epochs without improvement before the rate is reduced (10).
        verbose: 1 prints "Epoch i: ReduceLROnPlateau reducing learning rate to lr." on each
            reduction.
        mode: 'auto' (max for accuracies, min otherwise), 'min' or 'max'.
        min_delta: an improvement must beat the best value by more than this (1e-4).
        cooldown: epochs to wait after a reduction before counting again (0).
        min_lr: the learning rate never goes below this (0.0).

    As in Keras, values are compared in float32 (Keras compares with float32 tensor ops and
    keeps the learning rate in a float32 variable): an improvement is
    `float32(current + min_delta) < float32(best)` in 'min' mode, and the rate is reduced only
    while `float32(lr) > float32(min_lr)`. pyconv's optimizer holds the rate as a Python float,
    so the logged values are `lr * factor**k` rather than Keras' float32 roundings of them.

    Raises:
        ValueError/TypeError: a bad argument (factor >= 1 among them, as in Keras).

    Example:
        >>> from pyconv import callbacks
        >>> reduce_lr = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"`monitor` must be the name of a log (a string). Received: monitor={monitor!r}.")
        self.monitor = monitor
        self.factor = _number(factor, "factor", lambda f: 0 < f < 1,
                              "a float in (0, 1) (ReduceLROnPlateau does not support a factor >= 1.0)")
        self.patience = _validate.non_negative_int(patience, "patience")
        self.verbose = verbose
        self.mode = _monitor_op(mode, monitor)
        self.min_delta = abs(_number(min_delta, "min_delta", math.isfinite, "a finite float"))
        self.cooldown = _validate.non_negative_int(cooldown, "cooldown")
        self.min_lr = _number(min_lr, "min_lr", lambda v: 0 <= v < math.inf, "a float >= 0")
        self._reset()

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_improvement(self, current, best):
        if best is None:
            return True
        if self.mode == "min":
            return np.float32(current + self.min_delta) < np.float32(best)
        return np.float32(current - self.min_delta) > np.float32(best)

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        opt = self.model.optimizer
        logs["learning_rate"] = float(opt.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(opt.learning_rate)
                if np.float32(old_lr) > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    opt.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Writes the logs of each epoch as a line of a CSV file, exactly as Keras 3 does.

    The header is `epoch` and the sorted names of the first epoch's logs -- with a `val_`
    column added for each of them when that epoch has no validation logs (which show 'NA'
    until validation runs); a log missing from a later epoch is 'NA', one that was not there
    at the first epoch is left out. Values are written by Python's `csv` module (floats as
    `repr`: 0.6931471824645996), a list or array as "[1.5, 2.0]"; lines end in '\\r\\n'
    (the 'excel' dialect with `separator` as the delimiter). The file is flushed after each
    line.

    Args:
        filename: the CSV file.
        separator: a 1-character string between the fields (',').
        append: append to an existing file (writing the header only if it is empty), e.g.
            when resuming training; otherwise the file is overwritten when training begins.

    Example:
        >>> from pyconv import callbacks
        >>> csv_logger = callbacks.CSVLogger("training.log")
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = _validate.filepath(filename, "filename")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"`separator` must be a 1-character string. Received: separator={separator!r}.")
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self.writer = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8", newline="") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, encoding="utf-8", newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            class _Dialect(csv.excel):
                delimiter = self.sep
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=_Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, _csv_value(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(v):
    """Keras' CSVLogger.handle_value: a string as it is, an iterable (not a 0-d array) as
    "[a, b]", anything else as the csv module writes it."""
    if isinstance(v, str):
        return v
    if isinstance(v, collections.abc.Iterable) and not (isinstance(v, np.ndarray) and v.ndim == 0):
        return f'"[{", ".join(map(str, v))}]"'
    return v


_STATE_FORMAT = "pyconv.BackupAndRestore"
_STATE_VERSION = 1
_SLOTS = tuple(f"backup.{k}.pcv" for k in range(3))   # the model files a state may name


class BackupAndRestore(Callback):
    """Backs up the training state, and restores it when an interrupted `fit` is run again:
    training resumes at the epoch and the batch where the last backup was taken, and ends
    with the weights an uninterrupted `fit` would have given (bitwise, for the same data).

    A backup is: the model saved by `model.save` (weights, optimizer state, the learning rate
    in the compile configuration) to `backup_dir/backup.<k>.pcv`, and a small JSON state,
    `backup_dir/training_metadata.json`: the epoch, the number of that epoch's batches already
    trained, the optimizer's `iterations`, the state of pyconv's random generator (at the
    backup and at the start of the epoch, which the shuffling of that epoch was drawn from),
    the seeded layers' generators, and, inside an epoch, the running values of the metrics (so
    the epoch's logs are those of the whole epoch). Both files are written atomically and the
    JSON state, written last, names the model file it goes with: a crash at any point leaves
    the previous backup whole.

    Restoring happens in `on_train_begin`; `fit` then starts at the saved epoch and draws that
    epoch's first batches (the same batches, in the same order) without training on them.
    Array and PyDataset data are replayed exactly; a generator is read from where the new one
    starts. Other callbacks' state (EarlyStopping's patience, ...) is not backed up, as in
    Keras. When `fit` ends normally (`on_train_end`), the backup is deleted (with
    `delete_checkpoint`); an exception leaves it for the next `fit`.

    Args:
        backup_dir: the directory for the backup (created when needed). It must not be used
            for anything else; files of other programs in it are left alone.
        save_freq: 'epoch' (a backup at the end of each epoch) or a positive int N (a backup
            every N batches, counted across epochs; none at the ends of epochs).
        double_checkpoint: also keep the previous backup (`training_metadata.json.bkp` and its
            model file), restored (with a warning) when the latest cannot be read.
        delete_checkpoint: delete the backup when `fit` ends normally (True).

    Raises:
        ValueError: in `fit`, a backup that cannot be restored (a damaged or inconsistent file,
            another architecture), naming the file and the problem.

    Example:
        >>> from pyconv import callbacks
        >>> backup = callbacks.BackupAndRestore(backup_dir="/tmp/backup", save_freq=100)
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        self.backup_dir = _validate.filepath(backup_dir, "backup_dir")
        if not self.backup_dir:
            raise ValueError("`backup_dir` must be a non-empty path. Received: backup_dir=''.")
        if isinstance(save_freq, str) and save_freq == "epoch":
            pass
        elif not _validate.is_int(save_freq) or save_freq < 1:
            raise ValueError(f"`save_freq` must be 'epoch' or a positive int (a number of batches). "
                             f"Received: save_freq={save_freq!r}.")
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._state_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_state_path = self._state_path + ".bkp"
        self._resume = None

    # ---- the position fit starts at ----------------------------------------------------------
    def _start_position(self):
        """(epoch, step) of the restored backup, or None; asked by CallbackList.start_position."""
        self._asked = True
        return None if self._resume is None else (self._resume["epoch"], self._resume["step"])

    def on_train_begin(self, logs=None):
        self._epoch, self._since_save, self._epoch_rng = 0, 0, None
        self._resume, self._asked, self._pending = None, False, False
        self._latest, self._previous = None, None   # (JSON text, model file) of the committed backups
        self._resume = self._restore()

    def on_epoch_begin(self, epoch, logs=None):
        r = self._resume
        if r is not None and not r.get("begun"):
            r["begun"] = True
            if not self._asked and (epoch != r["epoch"] or r["step"] > 0):
                raise RuntimeError(
                    f"BackupAndRestore restored the backup in '{self.backup_dir}', taken at epoch {r['epoch'] + 1} "
                    f"after {r['step']} batches, but fit started epoch {epoch + 1} at its first batch: this "
                    f"fit does not ask the callbacks where to start (CallbackList.start_position).")
            if r["step"] > 0:   # the epoch's shuffling is drawn again from the same state
                utils.get_rng().bit_generator.state = r["epoch_rng"]
                self._pending = True
                self._set_metric_states(r["metrics"])
        self._epoch = epoch
        self._epoch_rng = utils.get_rng().bit_generator.state

    def _finish_resume(self):
        """At the first batch trained after a resume inside an epoch (or at that epoch's end):
        the generator state and learning rate of the backup (a LearningRateScheduler may have
        set the rate again at the epoch's start), and the metrics again (fit may reset them
        at its first batch)."""
        self._pending = False
        r = self._resume
        utils.get_rng().bit_generator.state = r["rng"]
        if r["learning_rate"] is not None:
            self.model.optimizer.learning_rate = r["learning_rate"]
        return r

    def on_train_batch_begin(self, batch, logs=None):
        if self._pending:
            self._set_metric_states(self._finish_resume()["metrics"])

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._since_save += 1
            if self._since_save >= self.save_freq:
                self._since_save = 0
                self._save(self._epoch, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self._pending:   # every batch of the epoch had been trained before the interruption
            self._finish_resume()
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0)

    def on_train_end(self, logs=None):
        self._resume = None
        if self.delete_checkpoint:
            self._delete()

    # ---- saving -----------------------------------------------------------------------------
    def _save(self, epoch, step):
        os.makedirs(self.backup_dir, exist_ok=True)
        keep = {b[1] for b in (self._latest, self._previous) if b is not None}
        name = next(n for n in _SLOTS if n not in keep)
        model = self.model
        model.save(os.path.join(self.backup_dir, name))
        state = {"format": _STATE_FORMAT, "format_version": _STATE_VERSION, "epoch": epoch, "step": step,
                 "iterations": int(model.optimizer.iterations), "model_file": name,
                 "rng": utils.get_rng().bit_generator.state,
                 "epoch_rng": self._epoch_rng if step else None,
                 "layer_rngs": [g.bit_generator.state for g in _layer_generators(model)],
                 "metrics": [_metric_state(m) for m in model.metrics] if step else None}
        text = json.dumps(state)
        if self.double_checkpoint and self._latest is not None:
            _write_text_atomic(self._prev_state_path, self._latest[0])
            self._previous = self._latest
        _write_text_atomic(self._state_path, text)   # the commit: the backup is now this one
        self._latest = (text, name)
        keep = {b[1] for b in (self._latest, self._previous) if b is not None}
        for n in _SLOTS:   # the model files no state names (the backup before, a crash's leftovers)
            if n not in keep:
                _remove(os.path.join(self.backup_dir, n))

    def _delete(self):
        for n in (self._state_path, self._prev_state_path) + tuple(os.path.join(self.backup_dir, s) for s in _SLOTS):
            _remove(n)
        try:
            for n in os.listdir(self.backup_dir):   # temporary files of writes that a crash cut short
                if n.startswith(".pyconv-") and n.endswith(".tmp"):
                    _remove(os.path.join(self.backup_dir, n))
            os.rmdir(self.backup_dir)
        except OSError:   # missing, or holding files that are not the backup's
            pass

    # ---- restoring --------------------------------------------------------------------------
    def _restore(self):
        """Restore the latest backup (or, with double_checkpoint, the previous one when the
        latest cannot be read) into the model; returns its state, or None without a backup."""
        paths = [self._state_path] + ([self._prev_state_path] if self.double_checkpoint else [])
        for k, path in enumerate(paths):
            if not os.path.exists(path):
                continue
            try:
                text, state = self._read_state(path)
                header, weights, opt_vars, model_path = self._read_model(state)
            except ValueError as e:
                if k + 1 < len(paths) and os.path.exists(paths[k + 1]):
                    warnings.warn(f"{e} Restoring the previous backup instead.", RuntimeWarning, stacklevel=3)
                    continue
                raise
            self._apply(state, header, weights, opt_vars, model_path)
            self._latest = (text, state["model_file"])
            if k == 0 and self.double_checkpoint and os.path.exists(self._prev_state_path):
                try:
                    text, prev = self._read_state(self._prev_state_path)
                    self._previous = (text, prev["model_file"])
                except ValueError:
                    pass
            return state
        return None

    def _bad(self, problem):
        return ValueError(f"Cannot restore the backup in '{self.backup_dir}': {problem} Delete the directory "
                          f"to train from the start.")

    def _read_state(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            state = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
            raise self._bad(f"'{path}' is not a backup state ({type(e).__name__}: {e}).") from None
        problem = _state_problem(state)
        if problem:
            raise self._bad(f"'{path}' is corrupted: {problem}.")
        return text, state

    def _read_model(self, state):
        from . import _saving
        path = os.path.join(self.backup_dir, state["model_file"])
        try:
            header, weights, opt_vars = _saving.load(path)
        except (OSError, ValueError) as e:
            raise self._bad(f"{e}") from None
        st = header.get("optimizer_state") or {}
        if st.get("iterations", 0) != state["iterations"]:
            raise self._bad(f"'{path}' holds the model after {st.get('iterations', 0)} steps, the state says "
                            f"{state['iterations']}: the two files are not of one backup.")
        return header, weights, opt_vars, path

    def _apply(self, state, header, weights, opt_vars, path):
        from .models import serialization
        from .models.sequential import Sequential
        model = self.model
        if not model.built and not isinstance(model, Sequential):
            raise ValueError(f"To use the BackupAndRestore callback, your model must be built before you call "
                             f"`fit()`. Model \"{model.name}\" is unbuilt: build it by calling it on a batch of data.")
        gens = _layer_generators(model)
        if len(gens) != len(state["layer_rngs"]):
            raise self._bad(f"the backup has {len(state['layer_rngs'])} seeded layer generators, the model "
                            f"{len(gens)} (another architecture).")
        try:
            scratch = np.random.PCG64()   # the generator states are checked before anything changes
            for s in [state["rng"], state["epoch_rng"]] + state["layer_rngs"]:
                if s is not None:
                    scratch.state = s
        except (TypeError, ValueError, KeyError) as e:
            raise self._bad(f"a random generator state in '{self._state_path}' is invalid ({e}).") from None
        try:
            serialization._load_weights_checked(model, path, header, weights)
            if header.get("optimizer_state"):
                model.optimizer.set_state(model._state().params, state["iterations"], opt_vars)
        except ValueError as e:
            raise self._bad(f"{e}") from None
        lr = (((header.get("compile") or {}).get("optimizer") or {}).get("config") or {}).get("learning_rate")
        ok = isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0 and \
            getattr(model.optimizer, "_schedule", None) is None
        state["learning_rate"] = lr if ok else None
        if ok:
            model.optimizer.learning_rate = lr   # as a LearningRateScheduler or ReduceLROnPlateau left it
        for g, s in zip(gens, state["layer_rngs"]):
            g.bit_generator.state = s
        if state["step"] == 0:
            utils.get_rng().bit_generator.state = state["rng"]

    def _set_metric_states(self, saved):
        metrics = self.model.metrics
        if saved is None:
            return
        if len(saved) != len(metrics) or any(s["name"] != m.name for s, m in zip(saved, metrics)):
            self._resume["metrics"] = None   # warned once
            warnings.warn(f"The backup's metrics ({[s['name'] for s in saved]}) are not the model's "
                          f"({[m.name for m in metrics]}): the logs of epoch {self._resume['epoch'] + 1} cover "
                          f"only the batches trained after the resume.", RuntimeWarning, stacklevel=3)
            return
        for s, m in zip(saved, metrics):
            for k, v in s["state"].items():
                setattr(m, k, np.asarray(v["data"], v["dtype"]).reshape(v["shape"]) if isinstance(v, dict) else v)


def _state_problem(s):
    """What is wrong with a BackupAndRestore state read from JSON (None if nothing)."""
    if not isinstance(s, dict) or s.get("format") != _STATE_FORMAT:
        return "not a BackupAndRestore state"
    v = s.get("format_version")
    if not _validate.is_int(v) or not 1 <= v <= _STATE_VERSION:
        return f"unknown format_version {v!r} (this pyconv reads up to {_STATE_VERSION})"
    for k in ("epoch", "step", "iterations"):
        if not _validate.is_int(s.get(k)) or s[k] < 0:
            return f"`{k}` must be an int >= 0, not {s.get(k)!r}"
    if s.get("model_file") not in _SLOTS:
        return f"unknown model file {s.get('model_file')!r}"
    if not isinstance(s.get("rng"), dict) or not isinstance(s.get("layer_rngs"), list) or \
            not all(isinstance(g, dict) for g in s["layer_rngs"]):
        return "no random generator states"
    if s["step"] > 0 and (not isinstance(s.get("epoch_rng"), dict) or not isinstance(s.get("metrics"), list) or
                          not all(isinstance(m, dict) and isinstance(m.get("name"), str) and
                                  isinstance(m.get("state"), dict) for m in s["metrics"])):
        return "a backup inside an epoch needs `epoch_rng` and `metrics`"
    return None


def _metric_state(m):
    """A metric's running state for JSON: its number and numeric-array attributes."""
    state = {}
    for k, v in vars(m).items():
        if isinstance(v, (bool, int, float, np.integer, np.floating)):
            state[k] = v.item() if isinstance(v, np.generic) else v
        elif isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
            state[k] = {"dtype": v.dtype.str, "shape": list(v.shape), "data": v.ravel().tolist()}
    return {"name": m.name, "state": state}


def _layer_generators(layer, out=None, seen=None):
    """The random generators of the layers under `layer` (a seeded Dropout's), in layer order."""
    out, seen = ([], set()) if out is None else (out, seen)
    for sub in getattr(layer, "layers", None) or []:
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        g = getattr(sub, "_gen", None)
        if isinstance(g, np.random.Generator):
            out.append(g)
        _layer_generators(sub, out, seen)
    return out


def _write_text_atomic(path, text):
    """Write `text` to `path` atomically, as pyconv/_saving.py writes models."""
    from . import _saving
    _saving.write_file_atomic(path, lambda f: f.write(text.encode("utf-8")))


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# ---- TensorBoard event files, written without TensorFlow -------------------------------------------
# An event file is a sequence of TFRecords: uint64 length (little-endian), uint32 masked CRC-32C
# of those 8 bytes, the data, uint32 masked CRC-32C of the data. Each record's data is an `Event`
# protobuf (tensorflow/core/util/event.proto), encoded here field by field:
#   Event   {1: wall_time double, 2: step int64, 3: file_version string, 5: summary Summary,
#            10: source_metadata {1: writer string}}
#   Summary {1: value Value (repeated)}
#   Value   {1: tag string, 8: tensor TensorProto, 9: metadata SummaryMetadata}
#   TensorProto     {1: dtype enum (1 DT_FLOAT, 7 DT_STRING), 2: tensor_shape {} (a scalar),
#                    4: tensor_content bytes, 8: string_val bytes (repeated)}
#   SummaryMetadata {1: plugin_data {1: plugin_name string, 2: content bytes}}
# The layout of each summary is the one TensorFlow 2.21 writes for Keras 3.15 (checked byte for
# byte): a scalar is a float32 tensor with the 'scalars' plugin.

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1   # the Castagnoli polynomial, reflected
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def _crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc32c(data):
    """TFRecord's checksum: the CRC-32C rotated right by 15 bits plus a constant."""
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _pb_varint(n):
    out = bytearray()
    n &= 0xFFFFFFFFFFFFFFFF   # int64 as protobuf's two's complement
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_int(field, n):
    return _pb_varint(field << 3) + _pb_varint(n)


def _pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _pb_varint(field << 3 | 2) + _pb_varint(len(data)) + data


def _pb_double(field, x):
    return _pb_varint(field << 3 | 1) + struct.pack("<d", x)


_SCALAR_METADATA = _pb_bytes(9, _pb_bytes(1, _pb_bytes(1, "scalars")))


class _EventFileWriter:
    """One TensorBoard event file in `logdir`, named as TensorFlow names them
    (events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2)."""

    _numbers = itertools.count()   # TensorFlow numbers the writers of a process

    def __init__(self, logdir):
        os.makedirs(logdir, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.{next(self._numbers)}.v2"
        self.path = os.path.join(logdir, name)
        self._f = open(self.path, "ab")
        self._write(_pb_double(1, float(int(now))) + _pb_bytes(3, "brain.Event:2") +
                    _pb_bytes(10, _pb_bytes(1, "pyconv.callbacks.TensorBoard")))
        self._f.flush()

    def _write(self, event):
        head = struct.pack("<Q", len(event))
        self._f.write(head + struct.pack("<I", _masked_crc32c(head)) + event +
                      struct.pack("<I", _masked_crc32c(event)))

    def _summary(self, step, value):
        self._write(_pb_double(1, time.time()) + (_pb_int(2, step) if step else b"") +
                    _pb_bytes(5, _pb_bytes(1, value)))

    def scalar(self, tag, value, step):
        tensor = _pb_int(1, 1) + _pb_bytes(2, b"") + _pb_bytes(4, struct.pack("<f", float(value)))
        self._summary(step, _pb_bytes(1, tag) + _pb_bytes(8, tensor) + _SCALAR_METADATA)

    def keras_model(self, tag, config_json, step):
        """A model's JSON config for TensorBoard's graph plugin ('graph_keras_model')."""
        tensor = _pb_int(1, 7) + _pb_bytes(2, b"") + _pb_bytes(8, config_json)
        meta = _pb_bytes(9, _pb_bytes(1, _pb_bytes(1, "graph_keras_model") + _pb_bytes(2, b"1")))
        self._summary(step, _pb_bytes(1, tag) + _pb_bytes(8, tensor) + meta)

    def flush(self):
        self._f.flush()

    def close(self):
        self._f.close()


class TensorBoard(Callback):
    """Writes TensorBoard event files, as Keras 3's TensorBoard does, without TensorFlow.

    In `log_dir/train`: `epoch_<name>` for each training log and `epoch_learning_rate` (the
    optimizer's), at step = the epoch; with `update_freq`, `batch_<name>` for each batch's logs
    at step = the batch count since training began (1, 2, ...). In `log_dir/validation`:
    `epoch_<name>` for each `val_<name>` log, and `evaluation_<name>_vs_iterations` at step =
    the optimizer's iterations (after fit's validation, and after `evaluate(callbacks=[tb])`).
    With `write_graph`, the model's configuration is written to `train/` for TensorBoard's
    graph tab (Sequential and functional models, tag 'keras'). Values are float32, as in
    Keras. Files are flushed at the end of each epoch and closed when training ends.

    Args:
        log_dir: the directory of the run ('logs').
        histogram_freq: 0 only (weight histograms are not written).
        write_graph: write the model's configuration (True).
        write_images: False only.
        write_steps_per_second: also log `steps_per_second` each epoch (and
            `batch_steps_per_second` with `update_freq`).
        update_freq: 'epoch' (default), 'batch' (= 1) or an int N: the batch logs of every
            N-th batch are written too.
        profile_batch: 0 only (profiling needs TensorFlow's profiler).
        embeddings_freq: 0 only.
        embeddings_metadata: None only.

    Raises:
        ValueError: an option pyconv does not write (histograms, images, profiles,
            embeddings), or a bad `update_freq`.

    Example:
        >>> from pyconv import callbacks
        >>> tb = callbacks.TensorBoard(log_dir="./logs")   # then: tensorboard --logdir ./logs
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self.log_dir = _validate.filepath(log_dir, "log_dir")
        for name, value, default in (("histogram_freq", histogram_freq, 0), ("write_images", write_images, False),
                                     ("profile_batch", profile_batch, 0), ("embeddings_freq", embeddings_freq, 0),
                                     ("embeddings_metadata", embeddings_metadata, None)):
            if value != default or type(value) is not type(default):
                raise ValueError(f"`{name}` must be {default!r}: pyconv's TensorBoard writes scalars and the "
                                 f"model's configuration, not histograms, images, profiles or embeddings. "
                                 f"Received: {name}={value!r}.")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (not _validate.is_int(update_freq) or update_freq < 1):
            raise ValueError(f"`update_freq` must be 'epoch', 'batch' or a positive int. "
                             f"Received: update_freq={update_freq!r}.")
        self.histogram_freq = 0
        self.write_graph = bool(write_graph)
        self.write_images = False
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self._writers = {}
        self._global_train_batch = 0
        self._evaluated = False

    def set_model(self, model):
        super().set_model(model)
        self._close_writers()   # Keras: new writers for each fit / evaluate
        from .models import serialization
        if self.write_graph and serialization._class_name(model) in ("Sequential", "Functional"):
            self._writer("train").keras_model("keras", json.dumps(serialization.serialize_layer(model)), 0)

    def _writer(self, which):
        if which not in self._writers:
            self._writers[which] = _EventFileWriter(os.path.join(self.log_dir, which))
        return self._writers[which]

    def _close_writers(self):
        for w in self._writers.values():
            w.close()
        self._writers = {}

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._evaluated = False
        if self.write_steps_per_second:
            self._epoch_start = (time.time(), self.model.optimizer.iterations)

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        w, step = self._writer("train"), self._global_train_batch
        if self.write_steps_per_second:
            w.scalar("batch_steps_per_second", 1.0 / max(time.time() - self._batch_start, 1e-9), step)
        for name, value in _scalars(logs):
            w.scalar(f"batch_{name}", value, step)

    def on_test_end(self, logs=None):
        self._evaluated = True
        self._evaluation(logs or {})

    def _evaluation(self, logs):
        opt = self.model.optimizer
        if opt is not None and logs:
            w = self._writer("validation")
            for name, value in _scalars(logs):
                w.scalar(f"evaluation_{name}_vs_iterations", value, opt.iterations)
            w.flush()

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if self.model.optimizer is not None:
            train["learning_rate"] = float(self.model.optimizer.learning_rate)
        if self.write_steps_per_second:
            t0, it0 = self._epoch_start
            train["steps_per_second"] = (self.model.optimizer.iterations - it0) / max(time.time() - t0, 1e-9)
        w = self._writer("train")
        for name, value in _scalars(train):
            w.scalar(f"epoch_{name}", value, epoch)
        w.flush()
        if val:
            if not self._evaluated:   # pyconv's fit validates without the test hooks
                self._evaluation(val)
            w = self._writer("validation")
            for name, value in _scalars(val):
                w.scalar(f"epoch_{name}", value, epoch)
            w.flush()


def _scalars(logs):
    """The (name, value) of the logs that are numbers (an F1Score per class is an array: not a
    scalar summary)."""
    return [(k, v) for k, v in (logs or {}).items()
            if isinstance(v, (int, float, np.number)) or (isinstance(v, np.ndarray) and v.ndim == 0)]
