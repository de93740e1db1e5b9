"""Callbacks (keras.callbacks names, hooks and semantics).

A callback sees `self.model` and `self.params` ({'verbose', 'epochs', 'steps'}) and gets
Keras' hooks: on_train_begin/end, on_epoch_begin/end, on_train_batch_begin/end,
on_test_begin/end, on_test_batch_begin/end, on_predict_begin/end,
on_predict_batch_begin/end. Setting `self.model.stop_training = True` ends `fit` after the
current batch.
"""
import math
import warnings

import numpy as np

from . import _progress, _validate

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "LearningRateScheduler", "TerminateOnNaN", "LambdaCallback"]


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
    called for it (so the per-batch cost is nil when nobody listens)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"`callbacks` must hold pyconv.callbacks.Callback instances. "
                                f"Received: {cb!r}.")
            cb.set_model(model)
            cb.set_params(params)
        for hook in _HOOKS:
            fns = [getattr(cb, hook) for cb in self.callbacks
                   if getattr(type(cb), hook, None) is not getattr(Callback, hook)]
            if hook == "on_train_batch_begin":
                fns += [cb.on_batch_begin for cb in self.callbacks
                        if type(cb).on_batch_begin is not Callback.on_batch_begin]
            if hook == "on_train_batch_end":
                fns += [cb.on_batch_end for cb in self.callbacks
                        if type(cb).on_batch_end is not Callback.on_batch_end]
            setattr(self, hook, _caller(fns) if fns else _noop)


def _noop(*args, **kwargs):
    pass


def _caller(fns):
    def call(*args):
        for f in fns:
            f(*args)
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
    """Stops training as soon as the loss of a batch is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: LambdaCallback(on_epoch_end=lambda epoch, logs: ...)."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if name not in _HOOKS and name not in ("on_batch_begin", "on_batch_end"):
                raise ValueError(f"Unknown callback hook {name!r}. Valid hooks: {', '.join(_HOOKS)}.")
            setattr(self, name, fn)
        # the CallbackList looks at the class to see which hooks are overridden
        self.__class__ = type("LambdaCallback", (LambdaCallback,), {k: staticmethod(v) for k, v in hooks.items()})
