"""The trainer: compile, fit, evaluate, predict and the *_on_batch calls, for any Model.

Keras 3 splits a model into layers (the graph) and a trainer; so does pyconv. The trainer
talks to the model through a plan (pyconv/_graph.py's Plan for functional and Sequential
models, `_CallPlan` for subclassed ones): forward(inputs, training) -> (outputs, ctx) and
backward(ctx, output gradients) -> (_, weight gradients). A training step is: the forward,
each output's loss and its gradient, the backward, then the optimizer's in-place update.

With a softmax (sigmoid) output and a cross-entropy loss, the loss takes that output's logits
and the softmax backward is skipped: the gradient comes from the fused softmax-cross-entropy
kernel, as in Keras on TensorFlow.

State: everything one call creates lives in that call. The compiled state (losses, metric
objects, the plan) is one immutable `_Compiled` object, replaced, never edited. `evaluate`
and `predict` use their own metric objects, so they can run from several threads on one
model; `fit` (and `train_on_batch`) may run in one thread at a time per model.

Faults: the update of a step is all-or-nothing. A signal (Ctrl-C's KeyboardInterrupt, a
SIGTERM handler's SystemExit, an alarm) that arrives while the optimizer writes the weights is
delivered when the step's update is complete, so an interrupted `fit` leaves the weights of
the last completed step with the optimizer state that matches them; `model.history` keeps
the finished epochs and `fit` can be called again.
"""
import copy
import dataclasses
import math
import sys
import threading
import warnings

import numpy as np

from .. import _atomic, _validate, callbacks as callbacks_module, losses, metrics as metrics_module, optimizers
from .._progress import Progbar
from . import data_adapters

__all__ = ["Trainer"]


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


class _EpochLineLogger(callbacks_module.ProgbarLogger):
    """verbose=2: 'Epoch i/n' then one line per epoch (no per-batch hook)."""
    on_train_batch_end = callbacks_module.Callback.on_train_batch_end


def _per_output(spec, names, what, allow_flat_list):
    """Keras' forms of a per-output argument: one value for every output, a list aligned with
    the outputs, or a dict by output name. Returns a list aligned with `names`."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"`{what}` has keys {unknown} that are not output names. The model's outputs "
                             f"are: {names}.")
        return [spec.get(k) for k in names]
    if isinstance(spec, (list, tuple)) and allow_flat_list == "list-per-output":
        if n == 1:
            return [list(spec)]
        if len(spec) == n and all(isinstance(s, (list, tuple)) or s is None for s in spec):
            return [list(s) if s is not None else [] for s in spec]
        raise ValueError(f"For a model with {n} outputs, `{what}` must be a dict by output name or a list "
                         f"of {n} lists (one per output). Received: {what}={spec!r}.")
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ValueError(f"`{what}` must have one entry per output ({n}: {names}). "
                             f"Received: {len(spec)} entries.")
        return list(spec)
    return [spec] * n


class _Compiled:
    """What compile() and the built model fix: losses, weights and metrics per output, the
    plan, the trainable weights. Made once per (compile, build, trainable flags)."""

    def __init__(self, model, spec):
        names = model.output_names
        shapes = model._output_shapes()
        self.names = names
        self.shapes = shapes
        loss = spec["loss"]
        per = _per_output(loss, names, "loss", False) if len(names) > 1 or isinstance(loss, dict) else [loss]
        self.losses = [None if l is None else losses.get(l) for l in per]
        if len(names) == 1 and isinstance(model.loss, losses.Loss):
            self.losses = [model.loss]   # the object compile() made, which `model.loss` shows
        if all(l is None for l in self.losses):
            raise ValueError("`loss` must be given to compile() (e.g. loss='sparse_categorical_crossentropy'). "
                             "Received: loss=None.")
        lw = spec["loss_weights"]
        self.loss_weights = [1.0] * len(names) if lw is None else [
            1.0 if w is None else float(w) for w in _per_output(lw, names, "loss_weights", False)]
        self.metrics = self._metrics(spec["metrics"], "metrics")
        self.weighted = self._metrics(spec["weighted_metrics"], "weighted_metrics")
        multi = len(names) > 1
        for k in range(len(names)):   # Keras 3: a metric in both lists is "weighted_<name>" there
            plain = {m.name for m in self.metrics[k]}
            for m in self.weighted[k]:
                if m.name in plain:
                    m.name = f"weighted_{m.name}"
        if multi:   # Keras 3's names: "<output>_<metric>"
            for k, name in enumerate(names):
                for m in self.metrics[k] + self.weighted[k]:
                    m.name = f"{name}_{m.name}"
        self.loss_tracker = metrics_module.Mean(name="loss")
        self.output_trackers = [None if l is None else metrics_module.Mean(name=f"{n}_loss")
                                for n, l in zip(names, self.losses)] if multi else []
        for k, l in enumerate(self.losses):
            if l is None and (self.metrics[k] or self.weighted[k]):
                raise ValueError(f"Output {names[k]!r} has metrics but no loss: give it a loss (its targets "
                                 f"come with the loss), or no metrics.")
        self._set_plan(model)

    def _set_plan(self, model):
        names = self.names
        # the softmax/sigmoid outputs whose loss can take their logits (if that is the output's
        # activation: the plan checks)
        want = []
        for k, l in enumerate(self.losses):
            if l is not None and l.fused_activation is not None:
                want.append((k, l.fused_activation))
        self.plan = model._train_plan(tuple(want))
        self.fused = [k in self.plan.fused_outputs for k in range(len(names))]
        self.acts = [getattr(model._output_layer(k), "activation", None) for k in range(len(names))]
        self.logits_out = [getattr(l, "from_logits", False) for l in self.losses]
        self.need_probs = [any(not isinstance(m, metrics_module.SparseCategoricalAccuracy)
                               for m in self.metrics[k] + self.weighted[k]) for k in range(len(names))]
        self.logit_path = [f or lo for f, lo in zip(self.fused, self.logits_out)]
        self.probs_of_logits = [f and p for f, p in zip(self.fused, self.need_probs)]
        self.params = self.plan.params
        # weight regularizers (their penalty counts for every weight; their gradient for those
        # trained) and constraints (applied after each update, inside the same commit)
        extras = model._weight_extras()
        pos = {id(p): i for i, p in enumerate(self.params)}
        self.penalized = [(a, r) for a, r, _ in extras if r is not None]
        self.reg_grads = [(pos[id(a)], r) for a, r, _ in extras if r is not None and id(a) in pos]
        self.constrained = [(a, c) for a, _, c in extras if c is not None and id(a) in pos]

    def _metrics(self, spec, what):
        n = len(self.names)
        if spec is None:
            return [[] for _ in range(n)]
        if isinstance(spec, (str, metrics_module.Metric)):
            spec = [spec]
        if not isinstance(spec, (list, tuple, dict)):
            raise TypeError(f"`{what}` must be a list. Received: {what}={spec!r}.")
        if n == 1 and isinstance(spec, (list, tuple)):
            per = [list(spec)]
        elif isinstance(spec, (list, tuple)) and len(spec) == n and \
                all(isinstance(s, (str, metrics_module.Metric)) or s is None for s in spec):
            per = [[s] if s is not None else [] for s in spec]   # Keras 3: one metric per output
        else:
            per = _per_output(spec, self.names, what, "list-per-output")
        out = []
        for k, ms in enumerate(per):
            if ms is None:
                ms = []
            if isinstance(ms, (str, metrics_module.Metric)):
                ms = [ms]
            out.append([copy.deepcopy(metrics_module.get(m, self.losses[k], self.shapes[k])) for m in ms])
        return out

    def replan(self, model):
        """The same losses and metric objects with a plan for the current trainable flags."""
        c = copy.copy(self)
        c._set_plan(model)
        return c

    def all_metrics(self):
        return [self.loss_tracker] + [t for t in self.output_trackers if t is not None] + \
            [m for ms in self.metrics for m in ms] + [m for ms in self.weighted for m in ms]

    def fresh(self):
        """Copies of the metric objects with no state: for one evaluate call."""
        c = copy.copy(self)
        c.loss_tracker = metrics_module.Mean(name="loss")
        c.output_trackers = [None if m is None else metrics_module.Mean(name=m.name) for m in self.output_trackers]
        c.metrics = [[_fresh_metric(m) for m in ms] for ms in self.metrics]
        c.weighted = [[_fresh_metric(m) for m in ms] for ms in self.weighted]
        return c


def _fresh_metric(m):
    c = copy.deepcopy(m)
    c.reset_state()
    return c


@dataclasses.dataclass
class _FitRun:
    """One `fit` call: its checked arguments and what it builds from them (its data adapters,
    callbacks and counters). The call's own state, never kept on the model."""
    x: object
    y: object
    batch_size: int
    epochs: int
    verbose: int
    callbacks: object
    validation_split: float
    validation_data: object
    shuffle: bool
    class_weight: object
    sample_weight: object
    initial_epoch: int
    steps_per_epoch: object
    validation_steps: object
    validation_batch_size: int
    validation_freq: int
    adapter: object = None      # the training batches (_fit_data)
    convert: bool = False       # they still need checking and converting (generators, PyDatasets)
    val: object = None          # the validation batches, or None
    st: object = None           # the compiled state (None until the model is built)
    cbl: object = None          # the CallbackList
    nan_warned: bool = False    # the NaN warning was given, or TerminateOnNaN reports it
    skip: int = 0               # batches still to draw without training (BackupAndRestore)


class Trainer:
    """compile / fit / evaluate / predict for a Model (mixed into pyconv.Model)."""

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self._compile_spec = None
        self._compiled_state = None
        self._compiled_key = None
        self.stop_training = False
        self.history = None
        self._fit_lock = threading.Lock()
        self._state_lock = threading.Lock()

    # ---- compile ----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1, jit_compile="auto",
                auto_scale_loss=True):
        """Configure training.

        Args:
            optimizer: 'adam', 'sgd', 'rmsprop', 'adamw' or an Optimizer (Keras' default 'rmsprop').
            loss: a loss name or Loss instance; for several outputs, a list (one per output) or a
                dict by output name (None for an output without a loss).
            loss_weights: the weight of each output's loss in the total (list or dict).
            metrics: 'accuracy'/'acc', Keras' metric names, or Metric instances; for several
                outputs a list of lists or a dict by output name.
            weighted_metrics: metrics that `sample_weight` and `class_weight` weigh.

        Raises:
            ValueError/TypeError: an unknown optimizer, loss or metric (listing the valid ones).
        """
        if steps_per_execution != 1:
            raise ValueError(f"`steps_per_execution` must be 1. Received: steps_per_execution={steps_per_execution!r}.")
        if self._fit_lock.locked():
            raise RuntimeError(f'Model "{self.name}" is training (fit is running): compile it after fit returns.')
        opt = optimizers.get(optimizer)
        if loss is None:
            raise ValueError("`loss` must be given to compile() (e.g. loss='sparse_categorical_crossentropy'). "
                             "Received: loss=None.")
        # resolve names now, so that a typo fails here
        for l in (loss.values() if isinstance(loss, dict) else loss if isinstance(loss, (list, tuple)) else [loss]):
            if l is not None:
                losses.get(l)
        for spec in (metrics, weighted_metrics):
            for m in _all_metric_specs(spec):
                metrics_module.get(m, None, None)
        self.optimizer = opt
        self.loss = losses.get(loss) if not isinstance(loss, (list, tuple, dict)) else loss
        self._compile_spec = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                              "weighted_metrics": weighted_metrics}
        self._compiled_state = None
        self.compiled = True

    def _check_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    def _state(self):
        """The _Compiled for the current compile, build and trainable flags (made on first use)."""
        from ..layers import base
        key = (id(self._compile_spec), base._generation[0])
        st = self._compiled_state
        if st is None or self._compiled_key != key:
            with self._state_lock:
                st = self._compiled_state
                if st is None or self._compiled_key != key:
                    if st is not None and self._compiled_key[0] == key[0]:
                        st = st.replan(self)   # the metric objects (running values) are kept
                    else:
                        st = _Compiled(self, self._compile_spec)
                    self._compiled_state, self._compiled_key = st, key
        return st

    @property
    def metrics(self):
        """The loss tracker(s) then the compiled metrics (their running values)."""
        if not self.compiled or not self.built:
            return []
        return self._state().all_metrics()

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    # ---- data ---------------------------------------------------------------------------------
    def _xs(self, x, where="x", convert=True):
        """x as a list of arrays aligned with the model's inputs (checked; converted unless
        convert=False); builds the model on first data."""
        if type(x) is np.ndarray and x.ndim and x.dtype == np.float32 and x.flags.c_contiguous:
            return self._check_inputs([x])   # the usual case (predict_on_batch at batch 1: ~2 us less)
        if x is None:
            raise ValueError(f"`{where}` must be given (the inputs). Received: {where}=None.")
        if isinstance(x, dict):
            names = self.input_names if self.built else None
            if names is None:
                raise ValueError(f"`{where}` is a dict, but the model's inputs are not known yet (build it first).")
            missing = [n for n in names if n not in x]
            if missing:
                raise ValueError(f"`{where}` is missing the model input(s) {missing}. Its keys: {sorted(x)}.")
            xs = [x[n] for n in names]
        elif isinstance(x, (list, tuple)) and (len(x) and not isinstance(x[0], (int, float, np.number))
                                                and np.ndim(x[0]) >= 1) and \
                (self._n_inputs() is None or self._n_inputs() > 1):
            xs = list(x)
        else:
            xs = [x]
        xs = [_validate.as_float32(a, where, min_ndim=1, convert=convert) for a in xs]
        n = len(xs[0])
        for a in xs[1:]:
            if len(a) != n:
                raise ValueError(f"All inputs must have the same number of samples. Received: "
                                 f"{[len(a) for a in xs]}.")
        return self._check_inputs(xs)

    def _ys(self, y, n, st, where="y"):
        """The targets as a list aligned with the outputs (prepared by each output's loss)."""
        names = st.names
        if y is None:
            raise ValueError(f"`{where}` must be given (the targets). Received: {where}=None.")
        if isinstance(y, dict):
            ys = [y.get(k) for k in names]
        elif len(names) > 1 and isinstance(y, (list, tuple)):
            if len(y) != len(names):
                raise ValueError(f"`{where}` must have one array per output ({len(names)}: {names}). "
                                 f"Received: {len(y)}.")
            ys = list(y)
        else:
            ys = [y]
        out = []
        for k, (yk, l) in enumerate(zip(ys, st.losses)):
            if l is None:
                out.append(None)
                continue
            if yk is None:
                raise ValueError(f"`{where}` has no targets for output {names[k]!r}, which has a loss.")
            ny = len(yk) if hasattr(yk, "__len__") else None
            if ny != n:
                raise ValueError(f"Data cardinality is ambiguous: `x` and `{where}` must contain the same number "
                                 f"of samples. Received: x.shape[0]={n}, {where}.shape[0]={ny}.")
            out.append(l._prepare_targets(yk, st.shapes[k]))
        return out

    def _sample_weight(self, sw, class_weight, ys, n, st):
        """One float32 weight per sample, or None (Keras 3: class_weight becomes sample weights)."""
        if class_weight is not None:
            if sw is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            if len(st.names) != 1:
                raise ValueError("`class_weight` is only supported for models with a single output.")
            if not isinstance(class_weight, dict):
                raise TypeError(f"`class_weight` must be a dict {{class index: weight}}. "
                                f"Received: {type(class_weight).__name__}.")
            y = ys[0]
            labels = y.reshape(len(y), -1).argmax(-1) if (y.ndim >= 2 and y.shape[-1] > 1) else \
                y.reshape(len(y)).astype(np.int64)
            table = np.ones(int(max(max(class_weight) + 1, labels.max() + 1 if len(labels) else 1)), np.float32)
            for c, w in class_weight.items():
                if not _validate.is_int(c) or c < 0:
                    raise ValueError(f"`class_weight` keys must be class indices (ints >= 0). Received: {c!r}.")
                table[c] = w
            cw = table[labels]
            sw = cw if sw is None else np.asarray(sw, np.float32).reshape(n) * cw
        if sw is None:
            return None
        sw = np.asarray(sw)
        if sw.dtype.kind not in "fiub":
            raise TypeError(f"`sample_weight` must be numeric. Received: dtype={sw.dtype}.")
        if sw.ndim == 2 and sw.shape[1] == 1:
            sw = sw[:, 0]
        if sw.shape != (n,):
            raise ValueError(f"`sample_weight` must have shape ({n},), one weight per sample. "
                             f"Received: sample_weight.shape={sw.shape}.")
        return np.ascontiguousarray(sw, np.float32)

    # ---- steps --------------------------------------------------------------------------------
    def _losses(self, st, outs, ys, sw):
        """(total loss, per-output losses, output gradients, predictions for the metrics)."""
        total, per, douts, preds = 0.0, [], [], []
        for k, (out, y, loss, lw) in enumerate(zip(outs, ys, st.losses, st.loss_weights)):
            if loss is None:
                per.append(None)
                douts.append(None)
                preds.append(out)
                continue
            if st.logit_path[k]:
                vals, d = loss._values_and_grad_logits(y, out)
            else:
                vals, d = loss._values_and_grad(y, out)
            if sw is not None:   # Keras 3: sum(w * loss) / N, and so the gradient
                vals = (vals.reshape(len(sw), -1) * sw[:, None]).reshape(vals.shape)
                d = d * sw.reshape((len(sw),) + (1,) * (d.ndim - 1))
            lk = _mean64(vals) if vals.size else 0.0
            if lw != 1.0:
                d = d * np.float32(lw)
            total += lw * lk
            per.append(lk)
            douts.append(d)
            preds.append(st.acts[k].forward(out) if st.probs_of_logits[k] else out)
        return total, per, douts, preds

    def _track(self, st, bs, total, per, ys, preds, sw):
        st.loss_tracker.update_state(total, bs)
        for t, v in zip(st.output_trackers, per):
            if t is not None:
                t.update_state(v, bs)
        for k in range(len(st.names)):
            for m in st.metrics[k]:
                m.update_state(ys[k], preds[k])
            for m in st.weighted[k]:
                m.update_state(ys[k], preds[k], sample_weight=sw)

    @staticmethod
    def _penalty(st, ctx):
        """The regularizers' share of the loss: weight penalties and this call's activity ones."""
        p = st.plan.penalty(ctx)
        for a, r in st.penalized:
            p += r(a)
        return p

    def _train_step(self, st, xs, ys, sw):
        """One step on a batch; returns the batch's total loss. The optimizer's update (and the
        weight constraints and the moving statistics after it) is all-or-nothing: signals
        deferred while it writes, see pyconv/_atomic.py."""
        outs, ctx = st.plan.forward(xs, True)
        total, per, douts, preds = self._losses(st, outs, ys, sw)
        scale = self.optimizer.loss_scale_factor   # Keras 3: the gradients of the scaled loss;
        if scale is not None:                      # the optimizer divides them back
            douts = [None if d is None else d * np.float32(scale) for d in douts]
        _, grads = st.plan.backward(ctx, douts)
        if st.penalized or st.plan.has_act:
            total += self._penalty(st, ctx)
            for i, r in st.reg_grads:
                g = r.gradient(st.params[i])
                grads[i] = grads[i] + (g if scale is None else g * np.float32(scale))
        # the new moving statistics (BatchNormalization) of this step, written with its update
        state = st.plan.state_updates(ctx) if st.plan.stateful else []
        if st.constrained or state:
            with _atomic.committing():
                self.optimizer._apply(grads, st.params)
                for a, c in st.constrained:
                    np.copyto(a, c(a))
                for a, v in state:
                    np.copyto(a, v)
        else:
            self.optimizer._apply(grads, st.params)
        self._track(st, len(xs[0]), total, per, ys, preds, sw)
        return total

    def _test_step(self, st, xs, ys, sw):
        outs, ctx = st.plan.forward(xs, False)
        total, per, _, preds = self._losses(st, outs, ys, sw)
        if st.penalized or st.plan.has_act:
            total += self._penalty(st, ctx)
        self._track(st, len(xs[0]), total, per, ys, preds, sw)

    @staticmethod
    def _logs(st):
        return dict(sorted((m.name, m.result()) for m in st.all_metrics()))

    # ---- fit ----------------------------------------------------------------------------------
    def _adapter(self, x, y, sw, class_weight, batch_size, shuffle, steps, st, where="x", convert=True):
        """(adapter, whether its batches need converting) for any kind of data."""
        if data_adapters.is_batched(x):
            if y is not None or sw is not None:
                raise ValueError(f"`y` and `sample_weight` must not be given when `{where}` is a generator or a "
                                 f"PyDataset: it yields them with the inputs.")
            return data_adapters.get_adapter(x, steps, f"`{where}`"), True
        xs = self._xs(x, where, convert=convert)
        n = len(xs[0])
        ys = self._ys(y, n, st, "y" if where == "x" else f"{where}'s y") if st is not None else None
        swa = self._sample_weight(sw, class_weight, ys, n, st) if st is not None else None
        return data_adapters.ArrayAdapter(xs, ys, swa, batch_size, shuffle, steps), False

    def _convert_batch(self, st, xb, yb, sw, class_weight=None, need_y=True):
        xs = self._xs(xb, "the batch's x")
        n = len(xs[0])
        ys = self._ys(yb, n, st, "the batch's y") if need_y else None
        return xs, ys, self._sample_weight(sw, class_weight, ys, n, st) if need_y else None

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs; returns a History.

        Args:
            x: inputs: an array (N, ...) (float64/int converted to float32 batch by batch), a
                list or dict of arrays for several inputs, a generator or iterator yielding
                (x, y) or (x, y, sample_weight), or a `utils.PyDataset`.
            y: targets for array inputs: (N,) integer labels for the sparse loss, (N, C) for
                the others; a list or dict for several outputs.
            batch_size: a positive int (32), for array inputs.
            epochs: the epoch to stop at (trains epochs initial_epoch .. epochs-1).
            verbose: 'auto' (1 on a terminal, else 2), 0 silent, 1 progress bar, 2 a line per epoch.
            callbacks: list of pyconv.callbacks.Callback.
            validation_split: fraction in [0, 1) of array data, taken from the end before
                shuffling, to validate on after each epoch.
            validation_data: (x_val, y_val), (x_val, y_val, sample_weight), a generator or a
                PyDataset.
            shuffle: shuffle array data every epoch (from pyconv's generator).
            class_weight: {class index: weight}, weighing each sample's loss by its class.
            sample_weight: one weight per sample (array inputs).
            initial_epoch: the epoch to start from (to resume).
            steps_per_epoch: batches per epoch (required for an endless generator).
            validation_steps: batches of validation data per validation.

        Returns:
            A History: `history.history` maps 'loss', metrics and 'val_' ones to lists.

        Raises:
            ValueError/TypeError: not compiled; bad arguments; x and y of different lengths;
                labels out of range; an input shape the model cannot take.
            RuntimeError: the model is already training in another thread.
        """
        self._check_compiled()
        batch_size = 32 if batch_size is None else _validate.positive_int(batch_size, "batch_size")
        val_bs = batch_size if validation_batch_size is None else _validate.positive_int(
            validation_batch_size, "validation_batch_size")
        if not _validate.is_int(epochs) or epochs < 0:
            raise ValueError(f"`epochs` must be an int >= 0. Received: epochs={epochs!r}.")
        if not _validate.is_int(initial_epoch) or initial_epoch < 0:
            raise ValueError(f"`initial_epoch` must be an int >= 0. Received: initial_epoch={initial_epoch!r}.")
        validation_freq = _validate.positive_int(validation_freq, "validation_freq")
        if steps_per_epoch is not None:
            steps_per_epoch = _validate.positive_int(steps_per_epoch, "steps_per_epoch")
        if validation_steps is not None:
            validation_steps = _validate.positive_int(validation_steps, "validation_steps")
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) or \
                not 0 <= validation_split < 1:
            raise ValueError(f"`validation_split` must be a float in [0, 1). "
                             f"Received: validation_split={validation_split!r}.")
        if shuffle not in (True, False):
            raise ValueError(f"`shuffle` must be True or False. Received: shuffle={shuffle!r}.")
        verbose = _resolve_verbose(verbose)
        if x is None:
            raise ValueError("`x` must be given (the inputs). Received: x=None.")
        run = _FitRun(x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                      validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                      class_weight=class_weight, sample_weight=sample_weight, initial_epoch=initial_epoch,
                      steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                      validation_batch_size=val_bs, validation_freq=validation_freq)
        if not self._fit_lock.acquire(blocking=False):
            raise RuntimeError(f'Model "{self.name}" is already training (fit or train_on_batch is running '
                               f"in another thread): one model trains in one thread at a time.")
        try:
            return self._fit(run)
        finally:
            self._fit_lock.release()

    def _fit(self, run):
        self._fit_data(run)
        history = callbacks_module.History()
        cbs = callbacks_module.as_list(run.callbacks)
        if run.verbose == 1:
            cbs.append(callbacks_module.ProgbarLogger())
        elif run.verbose == 2:
            cbs.append(_EpochLineLogger())
        cbs.append(history)
        params = {"verbose": run.verbose, "epochs": run.epochs, "steps": run.adapter.num_batches}
        run.cbl = callbacks_module.CallbackList(cbs, self, params)
        run.nan_warned = any(isinstance(c, callbacks_module.TerminateOnNaN) for c in cbs)  # it reports
        self.history = history
        self.stop_training = False
        with _atomic.SignalGuard():
            self._epochs(run)
        return history

    def _fit_data(self, run):
        """run.adapter (the training batches), run.convert (whether they still need checking
        and converting: generators, PyDatasets), run.val (the validation batches or None) and
        run.st (the compiled state, None until the model is built)."""
        x, batched = run.x, data_adapters.is_batched(run.x)
        if not batched:
            self._xs(x, convert=False)   # builds the model from the data
        run.st = self._state() if self.built else None   # (batches: built from the first one)
        if batched:
            if run.validation_split:
                raise ValueError("`validation_split` is only supported for array inputs; pass `validation_data`.")
            run.adapter, run.convert = data_adapters.get_adapter(x, run.steps_per_epoch, shuffle=run.shuffle), True
        else:
            # x stays in the caller's dtype: a float64 dataset (the tutorial's `/ 255.0`) is
            # converted one batch at a time, not copied whole.
            xs = self._xs(x, convert=False)
            n = len(xs[0])
            ys = self._ys(run.y, n, run.st)
            sw = self._sample_weight(run.sample_weight, run.class_weight, ys, n, run.st)
            if run.validation_split and run.validation_data is None:
                split = int(math.floor(n * (1.0 - run.validation_split)))
                run.val = data_adapters.ArrayAdapter([_validate.as_float32(a[split:], "x") for a in xs],
                                                     [None if a is None else a[split:] for a in ys],
                                                     None if sw is None else sw[split:],
                                                     run.validation_batch_size, False, run.validation_steps)
                xs, ys = [a[:split] for a in xs], [None if a is None else a[:split] for a in ys]
                sw = None if sw is None else sw[:split]
                n = split
            if n == 0:
                raise ValueError(f"`x` has no samples to train on. Received: x.shape={xs[0].shape}.")
            run.adapter = data_adapters.ArrayAdapter(xs, ys, sw, run.batch_size, run.shuffle, run.steps_per_epoch)
        if run.validation_data is not None:
            run.val = self._validation_adapter(run.validation_data, run.validation_batch_size,
                                               run.validation_steps, run.st)

    def _epochs(self, run):
        cbl = run.cbl
        cbl.on_train_begin()
        initial_epoch, run.skip = cbl.start_position(run.initial_epoch)   # a BackupAndRestore resumes
        for epoch in range(initial_epoch, run.epochs):
            if run.st is not None:
                self.reset_metrics()
            cbl.on_epoch_begin(epoch)
            if self._epoch(run, epoch) < 0:
                if epoch == initial_epoch:
                    raise ValueError("The training data gave no batch (an empty generator or PyDataset): "
                                     "nothing to train on.")
                break   # a finite generator ended: Keras would replay its first batches
            logs = self._logs(run.st)
            if run.val is not None and (epoch + 1) % run.validation_freq == 0:
                vlogs = self._evaluate_adapter(run.val, run.st.fresh(),
                                               not isinstance(run.val, data_adapters.ArrayAdapter))
                logs.update({"val_" + k: v for k, v in sorted(vlogs.items())})
            cbl.on_epoch_end(epoch, logs)
            run.adapter.on_epoch_end()
            if self.stop_training or getattr(run.adapter, "exhausted", False):
                break
        if run.epochs > initial_epoch and run.st is not None:   # Keras 3: EMA weights replace the trained ones
            self.optimizer.finalize_variable_values(run.st.params)
        cbl.on_train_end()

    def _epoch(self, run, epoch):
        """One epoch's steps; returns the last step's index (-1: the data gave no batch)."""
        train_step, cbl, st, convert = self._train_step, run.cbl, run.st, run.convert
        batch_hooks = cbl.on_train_batch_end is not callbacks_module._noop
        batch_begin_hooks = cbl.on_train_batch_begin is not callbacks_module._noop
        step = -1
        for step, (xb, yb, swb) in enumerate(run.adapter.epoch()):
            if convert:
                if not self.built:
                    self._xs(xb, "the batch's x")
                if st is None or st is not self._compiled_state:
                    st = run.st = self._state()
                    self.reset_metrics() if step == 0 else None
                xb, yb, swb = self._convert_batch(st, xb, yb, swb, run.class_weight)
            if run.skip:   # trained before the interruption: drawn, in the same order, not trained on
                run.skip -= 1
                continue
            if batch_begin_hooks:
                cbl.on_train_batch_begin(step)
            loss = train_step(st, xb, yb, swb)
            if not run.nan_warned and not math.isfinite(loss):
                run.nan_warned = True
                warnings.warn(f"The loss became {loss} at epoch {epoch + 1}, step {step + 1} "
                              f"(the weights may now hold NaN/inf). Add "
                              f"callbacks.TerminateOnNaN() to stop training when this happens.",
                              RuntimeWarning, stacklevel=5)
            if batch_hooks:
                cbl.on_train_batch_end(step, self._logs(st))
            if self.stop_training:
                break
            if st is not self._compiled_state and self._compiled_state is not None:
                st = run.st = self._compiled_state   # a callback recompiled: the next step uses it
        return step

    def _validation_adapter(self, vd, batch_size, steps, st):
        if data_adapters.is_batched(vd):
            return data_adapters.get_adapter(vd, steps, "`validation_data`")
        if not isinstance(vd, (tuple, list)) or len(vd) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight), "
                             f"a generator or a PyDataset. Received: {type(vd).__name__} of length "
                             f"{len(vd) if hasattr(vd, '__len__') else '?'}.")
        xs = self._xs(vd[0], "validation_data[0]")
        n = len(xs[0])
        ys = self._ys(vd[1], n, st, "validation_data[1]")
        sw = self._sample_weight(vd[2] if len(vd) == 3 else None, None, ys, n, st)
        return data_adapters.ArrayAdapter(xs, ys, sw, batch_size, False, steps)

    # ---- evaluate / predict ---------------------------------------------------------------------
    def _evaluate_adapter(self, adapter, st, convert, cbl=None, bar=None):
        """Loss and metrics over the adapter's batches, with the metric objects of `st`
        (fresh ones: this call's own)."""
        step = -1
        for step, (xb, yb, swb) in enumerate(adapter.epoch()):
            if convert:
                xb, yb, swb = self._convert_batch(st, xb, yb, swb)
            if cbl is not None:
                cbl.on_test_batch_begin(step)
            self._test_step(st, xb, yb, swb)
            if cbl is not None:
                cbl.on_test_batch_end(step, self._logs(st))
            if bar is not None:
                bar.update(step + 1, self._logs(st), finalize=False)
        logs = {m.name: m.result() for m in st.all_metrics()}
        if bar is not None:
            bar.update(step + 1, dict(sorted(logs.items())), finalize=True)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss and metrics on (x, y), batch by batch (any data `fit` takes).

        Returns:
            the loss (a float) without metrics, else [loss, *metrics] in Keras' order (or a
            dict with return_dict=True).
        """
        self._check_compiled()
        batch_size = 32 if batch_size is None else _validate.positive_int(batch_size, "batch_size")
        if steps is not None:
            steps = _validate.positive_int(steps, "steps")
        verbose = _resolve_verbose(verbose)
        if not data_adapters.is_batched(x):
            xs = self._xs(x)
            if len(xs[0]) == 0:
                raise ValueError(f"`x` has no samples to evaluate on. Received: x.shape={xs[0].shape}.")
        elif not self.built:
            raise ValueError(f'Model "{self.name}" is not built: fit it or call it on data before evaluating '
                             f"it on a generator.")
        st = self._state().fresh()
        adapter, convert = self._adapter(x, y, sample_weight, None, batch_size, False, steps, st)
        cbl = callbacks_module.CallbackList(callbacks_module.as_list(callbacks), self,
                                            {"verbose": verbose, "epochs": 1, "steps": adapter.num_batches})
        bar = Progbar(adapter.num_batches, verbose=verbose) if verbose else None
        cbl.on_test_begin()
        logs = self._evaluate_adapter(adapter, st, convert, cbl, bar)
        cbl.on_test_end(logs)
        return self._result(st, logs, return_dict)

    @staticmethod
    def _result(st, logs, return_dict):
        if return_dict:
            return logs
        first = [st.loss_tracker.name] + [t.name for t in st.output_trackers if t is not None]
        rest = [m.name for m in st.all_metrics()[len(first):]]
        if len(st.names) > 1:
            rest = sorted(rest)
        vals = [logs[k] for k in first + rest]
        return vals[0] if len(vals) == 1 else vals

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for `x` (any data `fit` takes; targets ignored), batch by batch."""
        batch_size = 32 if batch_size is None else _validate.positive_int(batch_size, "batch_size")
        if steps is not None:
            steps = _validate.positive_int(steps, "steps")
        verbose = _resolve_verbose(verbose)
        batched = data_adapters.is_batched(x)
        if batched:
            adapter = data_adapters.get_adapter(x, steps)
        else:
            adapter = data_adapters.ArrayAdapter(self._xs(x), None, None, batch_size, False, steps)
        cbl = callbacks_module.CallbackList(callbacks_module.as_list(callbacks), self,
                                            {"verbose": verbose, "epochs": 1, "steps": adapter.num_batches})
        nb = adapter.num_batches
        bar = Progbar(nb, verbose=verbose) if verbose and nb != 0 else None
        cbl.on_predict_begin()
        parts = []
        for step, (xb, _, _) in enumerate(adapter.epoch()):
            if batched:
                xb = self._xs(xb, "the batch's x")
            cbl.on_predict_batch_begin(step)
            outs = self._infer(xb)
            parts.append(outs)
            cbl.on_predict_batch_end(step, {"outputs": self._pack_outputs(outs)})
            if bar is not None:
                bar.update(step + 1, finalize=nb is not None and step + 1 == nb)
        cbl.on_predict_end()
        if not parts:
            shapes = self._output_shapes()
            return self._pack_outputs([np.empty((0,) + tuple(s[1:]), np.float32) for s in shapes])
        return self._pack_outputs([np.concatenate([p[k] for p in parts]) if len(parts) > 1 else parts[0][k]
                                   for k in range(len(parts[0]))])

    def predict_on_batch(self, x):
        return self._pack_outputs(self._infer(self._xs(x)))

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns the running loss (and metrics), like Keras 3
        (the running values accumulate until `reset_metrics()`)."""
        self._check_compiled()
        if not self._fit_lock.acquire(blocking=False):
            raise RuntimeError(f'Model "{self.name}" is already training in another thread.')
        try:
            xs = self._xs(x)
            st = self._state()
            ys = self._ys(y, len(xs[0]), st)
            sw = self._sample_weight(sample_weight, class_weight, ys, len(xs[0]), st)
            with _atomic.SignalGuard():
                self._train_step(st, xs, ys, sw)
            return self._result(st, {m.name: m.result() for m in st.all_metrics()}, return_dict)
        finally:
            self._fit_lock.release()

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on one batch, without training (running values, as Keras 3)."""
        self._check_compiled()
        xs = self._xs(x)
        st = self._state()
        ys = self._ys(y, len(xs[0]), st)
        sw = self._sample_weight(sample_weight, None, ys, len(xs[0]), st)
        self._test_step(st, xs, ys, sw)
        return self._result(st, {m.name: m.result() for m in st.all_metrics()}, return_dict)


def _all_metric_specs(spec):
    if spec is None:
        return []
    if isinstance(spec, (str, metrics_module.Metric)):
        return [spec]
    if isinstance(spec, dict):
        return [m for v in spec.values() for m in _all_metric_specs(v)]
    if isinstance(spec, (list, tuple)):
        return [m for v in spec for m in _all_metric_specs(v)]
    raise TypeError(f"`metrics` must be a list. Received: metrics={spec!r}.")
