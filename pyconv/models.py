"""Sequential models: build, compile, fit, evaluate, predict, summary, save and load.

A training step is: every layer's forward (training=True), the loss and its gradient, every
layer's backward in reverse, then the optimizer's in-place update of all weights. With a
softmax (sigmoid) output and a cross-entropy loss, the loss takes the last layer's logits and
the softmax backward is skipped: the gradient comes from the fused softmax-cross-entropy
kernel, as in Keras on TensorFlow.

Faults: the update of a step is all-or-nothing. A Ctrl-C (KeyboardInterrupt) that arrives
while the optimizer writes the weights is held until the step's update is complete, so an
interrupted `fit` leaves the weights of the last completed step with the optimizer state that
matches them; `model.history` keeps the finished epochs and `fit` can be called again.
"""
import math
import signal
import sys
import threading
import warnings

import numpy as np

from . import _kernels, _saving, _validate, callbacks as callbacks_module, layers as layers_module
from . import losses, metrics as metrics_module, optimizers, utils
from ._progress import Progbar
from .layers.base import Layer, _ActivatedLayer, _shape_str
from .layers.core import InputLayer

__all__ = ["Sequential", "load_model"]

_LINE = (33, 24, 15)  # Keras 3's summary columns on an 80-column console


def _mean64(vals):
    """vals.mean(dtype=float64) as a Python float, bitwise, without NumPy's Python-level wrapper
    (a few microseconds a step, which the DNN's 0.11 ms step notices)."""
    return float(np.add.reduce(vals, axis=None, dtype=np.float64)) / vals.size


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1 if (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) else 2
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}.")
    return verbose


def _readable_size(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n / 1024 < 1:
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} PB"


def _wrap(text, width):
    """Rich's wrapping of a table cell: at spaces, long words cut."""
    lines, cur = [], ""
    for word in text.split(" "):
        while len(word) > width:
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(word[:width])
            word = word[width:]
        if not cur:
            cur = word
        elif len(cur) + 1 + len(word) <= width:
            cur += " " + word
        else:
            lines.append(cur)
            cur = word
    lines.append(cur)
    return lines


class _InterruptGuard:
    """Holds a SIGINT that arrives during a weight update until the update is complete."""

    def __init__(self):
        self.in_update = False
        self.pending = False
        self._prev = None

    def _handler(self, signum, frame):
        if self.in_update:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self):
        self.in_update = self.pending = False
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._prev = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._prev is not None:
            signal.signal(signal.SIGINT, self._prev)
            self._prev = None
        return False


class _EpochLineLogger(callbacks_module.ProgbarLogger):
    """verbose=2: 'Epoch i/n' then one line per epoch (no per-batch hook)."""
    on_train_batch_end = callbacks_module.Callback.on_train_batch_end


class Sequential:
    """A linear stack of layers (keras.Sequential).

    Args:
        layers: optional list of layers (an InputLayer/Input first declares the input shape).
        name: the model's name (default 'sequential', 'sequential_1', ...).

    Example:
        >>> import numpy as np
        >>> from pyconv import layers, models
        >>> model = models.Sequential([layers.Flatten(input_shape=(4, 4)), layers.Dense(3, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> model.predict(np.zeros((2, 4, 4)), verbose=0).shape
        (2, 3)
    """

    def __init__(self, layers=None, trainable=True, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}.")
        self.name = name or utils._unique_name("sequential")
        self.trainable = bool(trainable)
        self._layers = []
        self._input_layer = None
        self._input_shape = None   # (None, ...) once known
        self._output_shape = None
        self.built = False
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self._metric_ids = []
        self._metrics = []
        self._compile_metrics_built = False
        self.stop_training = False
        self.history = None
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._train_layers = None  # the training plan (see _plan), reset by build and compile
        if layers is not None:
            for layer in layers:
                self.add(layer)

    # ---- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        """The layers, without the InputLayer (as in Keras)."""
        return list(self._layers)

    def add(self, layer):
        """Append a layer (building it at once when the input shape is known).

        Raises:
            TypeError: `layer` is not a pyconv layer.
            ValueError: a duplicate name, a misplaced InputLayer, or a layer that cannot take
                the output of the previous one.
        """
        if not isinstance(layer, Layer):
            raise TypeError(f"Only instances of `pyconv.layers.Layer` can be added to a Sequential model. "
                            f"Received: {layer!r} (of type {type(layer).__name__}).")
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An InputLayer (layers.Input) can only be the first layer of a Sequential "
                                 f"model. Received: {layer.name!r} after {len(self._layers)} layers.")
            self._input_layer = layer
            self._input_shape = layer._declared_input_shape
            return
        names = {l.name for l in self._layers}
        if layer.name in names:
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name "
                             f"{layer.name!r} is already the name of a layer in this model.")
        if not self._layers and self._input_shape is None and layer._declared_input_shape is not None:
            self._input_shape = layer._declared_input_shape
        self._layers.append(layer)
        self.built = False
        self._compile_metrics_built = False
        if self._input_shape is not None:
            self.build(self._input_shape)

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        self._compile_metrics_built = False
        if self._layers and self._input_shape is not None:
            self.build(self._input_shape)
        return layer

    def build(self, input_shape=None):
        """Build every layer for inputs of `input_shape` ((batch, ...), batch may be None)."""
        if input_shape is None:
            input_shape = self._input_shape
        if input_shape is None:
            raise ValueError(f'Model "{self.name}": the input shape is unknown. Pass `input_shape=` to '
                             f"the first layer, start with layers.Input(shape), or call the model on data.")
        shape = (None,) + tuple(input_shape[1:])
        if self._input_shape is None:
            self._input_shape = shape
        for layer in self._layers:
            shape = layer._ensure_built(shape)
        self._output_shape = shape
        self.built = bool(self._layers)
        self._train_layers = None

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        return self._output_shape

    @property
    def weights(self):
        return [w for l in self._layers for w in l.weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for l in self._layers for w in l.trainable_weights]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for l in self._layers for w in l.non_trainable_weights]

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        """Copies of every weight, layer by layer."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy a list of arrays (as from get_weights) into the model's weights.

        Raises:
            ValueError: wrong number of arrays or a shape mismatch (naming the layer).
        """
        weights = list(weights)
        n = sum(len(l.weights) for l in self._layers)
        if len(weights) != n:
            raise ValueError(f'Model "{self.name}" has {n} weight arrays; the list has {len(weights)}.')
        i = 0
        for l in self._layers:
            k = len(l.weights)
            l.set_weights(weights[i:i + k])
            i += k

    # ---- data --------------------------------------------------------------------------------
    def _prepare_x(self, x, name="x", convert=True):
        """x as float32 (N, ...) matching the input shape; builds the model on first data.
        convert=False: checked, but left in its own dtype (fit converts batch by batch)."""
        x = _validate.as_float32(x, name, min_ndim=1, convert=convert)
        if not self._layers:
            raise ValueError(f'Model "{self.name}" has no layers: add some before using it.')
        want = self._input_shape
        if want is not None:
            got = x.shape[1:]
            exp = tuple(want[1:])
            if len(got) == len(exp) and all(e is None or e == g for e, g in zip(exp, got)):
                pass
            elif exp and exp[-1] == 1 and len(got) == len(exp) - 1 and \
                    all(e is None or e == g for e, g in zip(exp[:-1], got)):
                x = x.reshape(x.shape + (1,))  # Keras: a single channel axis may be left out
            else:
                first = self._layers[0].name
                raise ValueError(f'Input 0 of layer "{first}" is incompatible with the layer: expected '
                                 f"shape={_shape_str(want)}, found shape={_shape_str(x.shape)}")
        if not self.built:
            self.build((None,) + x.shape[1:])
        return x

    def _check_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    def _prepare_y(self, y, x):
        if y is None:
            raise ValueError("`y` must be given (the targets). Received: y=None.")
        ny = len(y) if hasattr(y, "__len__") else None
        if ny != len(x):
            raise ValueError(f"Data cardinality is ambiguous: `x` and `y` must contain the same number of "
                             f"samples. Received: x.shape[0]={len(x)}, y.shape[0]={ny}.")
        return self.loss._prepare_targets(y, self._output_shape)

    # ---- compile ----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1, jit_compile="auto",
                auto_scale_loss=True):
        """Configure training.

        Args:
            optimizer: 'adam', 'sgd', 'rmsprop', 'adamw' or an Optimizer (Keras' default 'rmsprop').
            loss: 'sparse_categorical_crossentropy', 'categorical_crossentropy',
                'binary_crossentropy', 'mse'/'mean_squared_error', 'mae'/'mean_absolute_error',
                or a Loss instance.
            metrics: list of 'accuracy'/'acc' and Keras' metric names, or Metric instances.

        Raises:
            ValueError/TypeError: an unknown optimizer, loss or metric (listing the valid ones).
        """
        if loss_weights is not None or weighted_metrics is not None:
            raise ValueError("`loss_weights` and `weighted_metrics` are not supported by pyconv (one output, "
                             "no sample weights).")
        if steps_per_execution != 1:
            raise ValueError(f"`steps_per_execution` must be 1. Received: steps_per_execution={steps_per_execution!r}.")
        self.optimizer = optimizers.get(optimizer)
        if loss is None:
            raise ValueError("`loss` must be given to compile() (e.g. loss='sparse_categorical_crossentropy'). "
                             "Received: loss=None.")
        self.loss = losses.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        elif not isinstance(metrics, (list, tuple)):
            raise TypeError(f"`metrics` must be a list. Received: metrics={metrics!r}.")
        for m in metrics:  # fail early on unknown names
            metrics_module.get(m, self.loss, self._output_shape)
        self._metric_ids = list(metrics)
        self._compile_metrics_built = False
        self.compiled = True
        self._train_layers = None

    def _build_metrics(self):
        if not self._compile_metrics_built:
            self._metrics = [metrics_module.get(m, self.loss, self._output_shape) for m in self._metric_ids]
            self._compile_metrics_built = True

    @property
    def metrics(self):
        return [self._loss_tracker] + list(self._metrics)

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self._metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _plan(self):
        """The training plan, computed once per (model, compile): fused output, parameters."""
        last = self._layers[-1]
        self._fused = isinstance(last, _ActivatedLayer) and \
            self.loss.fused_activation is not None and last.activation.name == self.loss.fused_activation
        self._logits_out = getattr(self.loss, "from_logits", False)
        self._need_probs = any(not isinstance(m, metrics_module.SparseCategoricalAccuracy)
                               for m in self._metrics)
        self._train_layers = [l for l in self._layers if l.trainable_weights] if self.trainable else []
        self._params = [w for l in self._train_layers for w in l.trainable_weights]
        # Backward runs down to the first layer with weights to train, and that one computes no
        # input gradient (Flatten -> Dense: no dense dx; frozen lower layers: no pass at all).
        self._grad_stop = self._layers.index(self._train_layers[0]) if self._train_layers else None
        # A relu layer followed by max pooling: the pooling's backward applies relu's mask too
        # (one pass over the activations instead of two; the result is bitwise the same).
        for l in self._layers:
            l._relu_folded = l._relu_mask = False
        for a, b in zip(self._layers, self._layers[1:]):
            if isinstance(a, _ActivatedLayer) and a._fused_relu and type(b) is layers_module.MaxPooling2D:
                a._relu_folded = b._relu_mask = True

    # ---- passes -----------------------------------------------------------------------------
    def _forward_loss(self, x, y, training):
        """(per-example losses, output for the metrics, gradient w.r.t. the last layer's output
        or logits)."""
        layers = self._layers
        h = x
        for l in layers[:-1]:
            h = l.forward(h, training)
        last = layers[-1]
        if self._fused:
            z = last.forward_pre(h, training)
            vals, dz = self.loss._values_and_grad_logits(y, z)
            out = last.activation.forward(z) if self._need_probs else z
            return vals, out, dz
        out = last.forward(h, training)
        if self._logits_out:
            vals, d = self.loss._values_and_grad_logits(y, out)
        else:
            vals, d = self.loss._values_and_grad(y, out)
        return vals, out, d

    def _train_step(self, x, y, guard=None):
        """One step on a batch; returns the batch's mean loss."""
        vals, out, d = self._forward_loss(x, y, True)
        layers = self._layers
        stop = self._grad_stop
        if stop is not None:
            n = len(layers)
            if self._fused:
                g = layers[-1].backward(d, n - 1 > stop, from_logits=True)
            else:
                g = layers[-1].backward(d, n - 1 > stop)
            for i in range(n - 2, stop - 1, -1):
                g = layers[i].backward(g, i > stop)
        grads = [g for l in self._train_layers for g in l.grads]
        # the update: all-or-nothing (a SIGINT meanwhile is held by the guard)
        if guard is not None:
            guard.in_update = True
        try:
            self.optimizer._apply(grads, self._params)
        finally:
            if guard is not None:
                guard.in_update = False
        if guard is not None and guard.pending:
            guard.pending = False
            raise KeyboardInterrupt
        bs = len(x)
        loss = _mean64(vals) if bs else 0.0
        self._loss_tracker.update_state(loss, bs)
        for m in self._metrics:
            m.update_state(y, out)
        return loss

    def _test_step(self, x, y):
        vals, out, _ = self._forward_loss(x, y, False)
        bs = len(x)
        self._loss_tracker.update_state(_mean64(vals) if bs else 0.0, bs)
        for m in self._metrics:
            m.update_state(y, out)

    def _logs(self):
        logs = {m.name: m.result() for m in self.metrics}
        return dict(sorted(logs.items()))

    def _ready(self, x, y=None, convert=True):
        self._check_compiled()
        x = self._prepare_x(x, convert=convert)
        self._build_metrics()
        if self._train_layers is None:
            self._plan()
        return x, self._prepare_y(y, x)

    # ---- fit ----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs over NumPy arrays; returns a History.

        Args:
            x: inputs (N, ...); float64/int arrays are converted to float32.
            y: targets (N,) integer labels for the sparse loss, (N, C) for the others.
            batch_size: a positive int (32).
            epochs: the epoch to stop at (trains epochs initial_epoch .. epochs-1).
            verbose: 'auto' (1 on a terminal, else 2), 0 silent, 1 progress bar, 2 a line per epoch.
            callbacks: list of pyconv.callbacks.Callback.
            validation_split: fraction in [0, 1) of the data, taken from the end before
                shuffling, to validate on after each epoch.
            validation_data: (x_val, y_val), used instead of validation_split.
            shuffle: shuffle the training data every epoch (from pyconv's generator).
            initial_epoch: the epoch to start from (to resume).

        Returns:
            A History: `history.history` maps 'loss', metrics and 'val_' ones to lists.

        Raises:
            ValueError/TypeError: not compiled; bad arguments; x and y of different lengths;
                labels out of range; an input shape the first layer cannot take.
        """
        self._check_compiled()
        for k, v in (("class_weight", class_weight), ("sample_weight", sample_weight),
                     ("steps_per_epoch", steps_per_epoch), ("validation_steps", validation_steps)):
            if v is not None:
                raise ValueError(f"`{k}` is not supported by pyconv. Received: {k}={v!r}.")
        batch_size = 32 if batch_size is None else _validate.positive_int(batch_size, "batch_size")
        val_bs = batch_size if validation_batch_size is None else _validate.positive_int(
            validation_batch_size, "validation_batch_size")
        if not _validate.is_int(epochs) or epochs < 0:
            raise ValueError(f"`epochs` must be an int >= 0. Received: epochs={epochs!r}.")
        if not _validate.is_int(initial_epoch) or initial_epoch < 0:
            raise ValueError(f"`initial_epoch` must be an int >= 0. Received: initial_epoch={initial_epoch!r}.")
        validation_freq = _validate.positive_int(validation_freq, "validation_freq")
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) or \
                not 0 <= validation_split < 1:
            raise ValueError(f"`validation_split` must be a float in [0, 1). "
                             f"Received: validation_split={validation_split!r}.")
        if shuffle not in (True, False):
            raise ValueError(f"`shuffle` must be True or False. Received: shuffle={shuffle!r}.")
        verbose = _resolve_verbose(verbose)
        if x is None:
            raise ValueError("`x` must be given (the inputs). Received: x=None.")
        # x stays in the caller's dtype: a float64 dataset (the tutorial's `/ 255.0`) is
        # converted one batch at a time, not copied whole.
        x, y = self._ready(x, y, convert=False)

        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("`validation_data` must be a tuple (x_val, y_val). "
                                 f"Received: {type(validation_data).__name__} of length "
                                 f"{len(validation_data) if hasattr(validation_data, '__len__') else '?'}.")
            xv = self._prepare_x(validation_data[0], "validation_data[0]")
            yv = self._prepare_y(validation_data[1], xv)
        elif validation_split:
            split = int(math.floor(len(x) * (1.0 - validation_split)))
            x, xv = x[:split], _validate.as_float32(x[split:], "x")
            y, yv = y[:split], y[split:]
        else:
            xv = yv = None
        n = len(x)
        if n == 0:
            raise ValueError(f"`x` has no samples to train on. Received: x.shape={x.shape}.")
        steps = -(-n // batch_size)

        history = callbacks_module.History()
        cbs = callbacks_module.as_list(callbacks)
        if verbose == 1:
            cbs.append(callbacks_module.ProgbarLogger())
        elif verbose == 2:
            cbs.append(_EpochLineLogger())
        cbs.append(history)
        params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        cbl = callbacks_module.CallbackList(cbs, self, params)
        self.history = history
        self.stop_training = False
        batch_hooks = cbl.on_train_batch_end is not callbacks_module._noop
        batch_begin_hooks = cbl.on_train_batch_begin is not callbacks_module._noop
        rng = utils.get_rng()
        xbuf = np.empty((min(batch_size, n),) + x.shape[1:], np.float32) if shuffle else None
        ybuf = np.empty((min(batch_size, n),) + y.shape[1:], y.dtype) if shuffle else None
        nan_warned = any(isinstance(c, callbacks_module.TerminateOnNaN) for c in cbs)  # it reports
        in_c = x.dtype in (np.float32, np.float64) and x.flags.c_contiguous

        with _InterruptGuard() as guard:
            cbl.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                cbl.on_epoch_begin(epoch)
                order = rng.permutation(n).astype(np.int64, copy=False) if shuffle else None
                for step in range(steps):
                    lo = step * batch_size
                    hi = min(lo + batch_size, n)
                    if shuffle:   # gathered (and converted to float32) into one buffer
                        idx = order[lo:hi]
                        xb = xbuf[:hi - lo]
                        if in_c:   # C gathers (and converts) with both threads
                            _kernels.gather_rows_into(xb, x, idx)
                        elif x.dtype == np.float32:   # mode="clip": idx is valid, no buffering
                            np.take(x, idx, axis=0, out=xb, mode="clip")
                        else:   # (take's out= would cast its own garbage first: a warning)
                            np.copyto(xb, x[idx], casting="unsafe")
                        yb = np.take(y, idx, axis=0, out=ybuf[:hi - lo], mode="clip")
                    else:
                        xb, yb = _validate.as_float32(x[lo:hi], "x"), y[lo:hi]
                    if batch_begin_hooks:
                        cbl.on_train_batch_begin(step)
                    loss = self._train_step(xb, yb, guard)
                    if not nan_warned and not math.isfinite(loss):
                        nan_warned = True
                        warnings.warn(f"The loss became {loss} at epoch {epoch + 1}, step {step + 1} "
                                      f"(the weights may now hold NaN/inf). Add "
                                      f"callbacks.TerminateOnNaN() to stop training when this happens.",
                                      RuntimeWarning, stacklevel=2)
                    if batch_hooks:
                        cbl.on_train_batch_end(step, self._logs())
                    if self.stop_training:
                        break
                logs = self._logs()
                if xv is not None and len(xv) and (epoch + 1) % validation_freq == 0:
                    val = self._evaluate_arrays(xv, yv, val_bs)
                    logs.update({"val_" + k: v for k, v in sorted(val.items())})
                cbl.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbl.on_train_end()
        return history

    # ---- evaluate / predict ---------------------------------------------------------------------
    def _evaluate_arrays(self, x, y, batch_size, cbl=None, bar=None):
        self.reset_metrics()
        n = len(x)
        steps = -(-n // batch_size)
        for step in range(steps):
            lo = step * batch_size
            if cbl is not None:
                cbl.on_test_batch_begin(step)
            self._test_step(x[lo:lo + batch_size], y[lo:lo + batch_size])
            if cbl is not None:
                cbl.on_test_batch_end(step, self._logs())
            if bar is not None:
                bar.update(step + 1, self._logs(), finalize=False)
        logs = {m.name: m.result() for m in self.metrics}
        if bar is not None:
            bar.update(steps, dict(sorted(logs.items())), finalize=True)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss and metrics on (x, y), batch by batch.

        Returns:
            the loss (a float) without metrics, else [loss, *metrics] in compile order (or a
            dict with return_dict=True).
        """
        if sample_weight is not None or steps is not None:
            raise ValueError("`sample_weight` and `steps` are not supported by pyconv.")
        batch_size = 32 if batch_size is None else _validate.positive_int(batch_size, "batch_size")
        verbose = _resolve_verbose(verbose)
        x, y = self._ready(x, y)
        steps_n = -(-len(x) // batch_size)
        if len(x) == 0:
            raise ValueError(f"`x` has no samples to evaluate on. Received: x.shape={x.shape}.")
        cbl = callbacks_module.CallbackList(callbacks_module.as_list(callbacks), self,
                                            {"verbose": verbose, "epochs": 1, "steps": steps_n})
        bar = Progbar(steps_n, verbose=verbose) if verbose else None
        cbl.on_test_begin()
        logs = self._evaluate_arrays(x, y, batch_size, cbl, bar)
        cbl.on_test_end(logs)
        if return_dict:
            return logs
        vals = [logs["loss"]] + [logs[m.name] for m in self._metrics]
        return vals[0] if len(vals) == 1 else vals

    def _forward(self, x, training=False):
        h = x
        for l in self._layers:
            h = l.forward(h, training)
        return h

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for `x`, computed batch by batch (32 by default)."""
        if steps is not None:
            raise ValueError(f"`steps` is not supported by pyconv. Received: steps={steps!r}.")
        batch_size = 32 if batch_size is None else _validate.positive_int(batch_size, "batch_size")
        verbose = _resolve_verbose(verbose)
        x = self._prepare_x(x)
        n = len(x)
        steps_n = -(-n // batch_size)
        out = np.empty((n,) + tuple(self._output_shape[1:]), np.float32)
        cbl = callbacks_module.CallbackList(callbacks_module.as_list(callbacks), self,
                                            {"verbose": verbose, "epochs": 1, "steps": steps_n})
        bar = Progbar(steps_n, verbose=verbose) if verbose and n else None
        cbl.on_predict_begin()
        for step in range(steps_n):
            lo = step * batch_size
            cbl.on_predict_batch_begin(step)
            out[lo:lo + batch_size] = self._forward(x[lo:lo + batch_size])
            cbl.on_predict_batch_end(step, {"outputs": out[lo:lo + batch_size]})
            if bar is not None:
                bar.update(step + 1, finalize=step + 1 == steps_n)
        cbl.on_predict_end()
        return out

    def __call__(self, inputs, training=False):
        """The model's output for one batch of inputs (a NumPy array)."""
        return self._forward(self._prepare_x(inputs, "inputs"), training)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns the running loss (and metrics), like Keras 3
        (the running values accumulate until `reset_metrics()`)."""
        if sample_weight is not None or class_weight is not None:
            raise ValueError("`sample_weight` and `class_weight` are not supported by pyconv.")
        x, y = self._ready(x, y)
        with _InterruptGuard() as guard:
            self._train_step(x, y, guard)
        return self._batch_result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on one batch, without training."""
        if sample_weight is not None:
            raise ValueError("`sample_weight` is not supported by pyconv.")
        x, y = self._ready(x, y)
        self._test_step(x, y)
        return self._batch_result(return_dict)

    def predict_on_batch(self, x):
        return self._forward(self._prepare_x(x))

    def _batch_result(self, return_dict):
        logs = {m.name: m.result() for m in self.metrics}
        if return_dict:
            return logs
        vals = [logs["loss"]] + [logs[m.name] for m in self._metrics]
        return vals[0] if len(vals) == 1 else vals

    # ---- summary -------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras 3's summary table (the 80-column layout of a log or notebook)."""
        w = _LINE
        inner = [c - 2 for c in w]

        def rule(l, m, r, ch):
            return l + m.join(ch * c for c in w) + r

        def row(cells, sep, aligns=("<", "<", ">")):
            wrapped = [_wrap(c, iw) for c, iw in zip(cells, inner)]
            h = max(len(c) for c in wrapped)
            lines = []
            for i in range(h):
                parts = [f" {(c[i] if i < len(c) else ''):{a}{iw}} " for c, iw, a in zip(wrapped, inner, aligns)]
                lines.append(sep + sep.join(parts) + sep)
            return lines

        out = [f'Model: "{self.name}"', rule("┏", "┳", "┓", "━")]
        out += row(["Layer (type)", "Output Shape", "Param #"], "┃")
        out.append(rule("┡", "╇", "┩", "━"))
        for i, l in enumerate(self._layers):
            if i:
                out.append(rule("├", "┼", "┤", "─"))
            shape = _shape_str(l.output_shape) if l.built else "?"
            # Keras: a layer without a build step (no weights) counts as built from the start
            unbuilt = not l.built and type(l).build is not Layer.build
            params = "0 (unbuilt)" if unbuilt else f"{l.count_params():,}"
            out += row([f"{l.name} ({type(l).__name__})", shape, params], "│")
        out.append(rule("└", "┴", "┘", "─"))
        tw, nw = self.trainable_weights, self.non_trainable_weights
        tn, nn_ = sum(a.size for a in tw), sum(a.size for a in nw)
        on, ob = (0, 0)
        if self.optimizer is not None and self.optimizer.built:
            on, ob = self.optimizer._count_variables()
        out.append(f" Total params: {tn + nn_ + on:,} ({_readable_size(4 * (tn + nn_) + ob)})")
        out.append(f" Trainable params: {tn:,} ({_readable_size(4 * tn)})")
        out.append(f" Non-trainable params: {nn_:,} ({_readable_size(4 * nn_)})")
        if on:
            out.append(f" Optimizer params: {on:,} ({_readable_size(ob)})")
        text = "\n".join(out) + "\n"
        if print_fn is not None:
            print_fn(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    # ---- config and files ---------------------------------------------------------------------------
    def get_config(self):
        layers = [layers_module.serialize(l) for l in self._layers]
        return {"name": self.name, "trainable": self.trainable,
                "build_input_shape": None if self._input_shape is None else list(self._input_shape),
                "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"))
        for lc in config.get("layers", []):
            if lc.get("class_name") == "Lambda":
                model.add(_lambda_from_config(lc["config"], custom_objects))
            else:
                model.add(layers_module.deserialize(lc, custom_objects))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built and model._layers:
            model.build(tuple(shape))
        return model

    def _header(self, kind, with_optimizer):
        specs = [{"layer": l.name, "name": wname, "shape": list(a.shape)}
                 for l in self._layers for wname, a, _ in l._params]
        header = {"format": _saving.FORMAT, "format_version": _saving.FORMAT_VERSION,
                  "pyconv_version": _pyconv_version(), "kind": kind,
                  "model": {"class_name": "Sequential", "config": self.get_config()},
                  "weights": specs, "compile": None, "optimizer_state": None}
        opt_vars = []
        if self.compiled and kind == "model":
            header["compile"] = {"optimizer": optimizers.serialize(self.optimizer),
                                 "loss": losses.serialize(self.loss),
                                 "metrics": [m if isinstance(m, str) else metrics_module.serialize(m)
                                             for m in self._metric_ids]}
        if with_optimizer and self.compiled and self.optimizer.built:
            opt_vars = self.optimizer.variables
            header["optimizer_state"] = {"iterations": self.optimizer.iterations, "count": len(opt_vars)}
        return header, opt_vars

    def save(self, filepath, overwrite=True):
        """Save architecture, weights, compile configuration and optimizer state to one file,
        atomically (format: pyconv/_saving.py)."""
        _check_overwrite(filepath, overwrite)
        if not self.built:
            raise ValueError(f'Model "{self.name}" is not built yet: nothing to save. Call it on data or '
                             f"give the first layer an input_shape.")
        header, opt_vars = self._header("model", True)
        _saving.save(filepath, header, self.weights, opt_vars)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights only, atomically."""
        _check_overwrite(filepath, overwrite)
        header, _ = self._header("weights", False)
        _saving.save(filepath, header, self.weights)

    def load_weights(self, filepath):
        """Load weights saved by save_weights or save into this (same-architecture) model.

        Raises:
            ValueError: the file is damaged or holds weights of another architecture (the
                message names the file and the first mismatch).
        """
        header, weights, _ = _saving.load(filepath)
        self._load_weights_checked(filepath, header, weights)

    def _load_weights_checked(self, filepath, header, weights):
        if not self.built:
            shape = header["model"]["config"].get("build_input_shape")
            if shape is not None:
                self.build(tuple(shape))
        mine = [(l.name, wname, a.shape) for l in self._layers for wname, a, _ in l._params]
        specs = header["weights"]
        if len(mine) != len(specs):
            raise ValueError(f"Cannot load '{filepath}' into model \"{self.name}\": the file holds "
                             f"{len(specs)} weight arrays, the model has {len(mine)} (a different architecture).")
        for (lname, wname, shape), spec, w in zip(mine, specs, weights):
            if tuple(shape) != w.shape:
                raise ValueError(f"Cannot load '{filepath}' into model \"{self.name}\": weight "
                                 f"{lname}/{wname} has shape {tuple(shape)} but the file's "
                                 f"{spec['layer']}/{spec['name']} has shape {w.shape} (a different architecture).")
        for a, w in zip(self.weights, weights):
            np.copyto(a, w)


def _pyconv_version():
    import pyconv
    return pyconv.__version__


def _check_overwrite(filepath, overwrite):
    import os
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists and overwrite=False.")


def _lambda_from_config(cfg, custom_objects):
    name = cfg.get("name")
    fn = (custom_objects or {}).get(name) or (custom_objects or {}).get(cfg.get("function"))
    if fn is None or not callable(fn):
        raise ValueError(f"Lambda layer {name!r}: its function ({cfg.get('function')}) is code, which pyconv "
                         f"never stores nor executes on load. Pass it to load_model as "
                         f"custom_objects={{{name!r}: function}}.")
    return layers_module.Lambda(fn, output_shape=cfg.get("output_shape"), arguments=cfg.get("arguments"),
                                name=name, trainable=cfg.get("trainable", True),
                                batch_input_shape=cfg.get("batch_input_shape"))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by `model.save`: architecture, weights, compile configuration and
    optimizer state (training continues exactly where it stopped).

    Args:
        filepath: the file.
        custom_objects: dict name -> object for what cannot be stored: a Lambda layer's
            function (keyed by the layer's name), custom loss/metric/optimizer classes.
        compile: whether to compile the model as it was saved.
        safe_mode: accepted for Keras compatibility; pyconv never executes code from a file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated, corrupted, newer-version or inconsistent file, or a Lambda
            layer without its function in custom_objects.
    """
    header, weights, opt_vars = _saving.load(filepath)
    if header.get("kind") != "model":
        raise ValueError(f"Cannot load '{filepath}' as a model: it holds weights only (saved by "
                         f"save_weights); build the model and call model.load_weights.")
    mc = header.get("model") or {}
    if mc.get("class_name") != "Sequential":
        raise ValueError(f"Cannot load '{filepath}': unknown model class {mc.get('class_name')!r}.")
    try:
        model = Sequential.from_config(mc.get("config", {}), custom_objects)
    except (TypeError, KeyError) as e:
        raise ValueError(f"Cannot load '{filepath}': the architecture in the file is inconsistent ({e}).") from None
    model._load_weights_checked(filepath, header, weights)
    cc = header.get("compile")
    if compile and cc:
        opt = optimizers.deserialize(cc["optimizer"], custom_objects)
        loss = losses.deserialize(cc["loss"], custom_objects)
        mets = [m if isinstance(m, str) else metrics_module.deserialize(m, custom_objects) for m in cc["metrics"]]
        model.compile(optimizer=opt, loss=loss, metrics=mets)
        st = header.get("optimizer_state")
        if st:
            model._build_metrics()
            model._plan()
            try:
                opt.set_state(model._params, st["iterations"], opt_vars)
            except ValueError as e:
                raise ValueError(f"Cannot load '{filepath}': {e}") from None
    return model
