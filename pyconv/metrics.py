"""Metrics (Keras 3 names, arguments, defaults and numerics): running values over the batches
seen since the last reset.

`update_state(y_true, y_pred, sample_weight=None)` adds a batch, `result()` gives the running
value (a Python float; a float32 array for `F1Score(average=None)` and for several thresholds),
`reset_state()` starts again, and calling the metric does the first two at once, as in Keras 3.
The state is plain attributes (floats and NumPy arrays): `copy.deepcopy` gives an independent
metric, and nothing is shared between metric objects.

Three families, each with Keras 3's rule for `sample_weight`:

- means of per-example values (accuracies, top-k, MSE, MAE, `Mean`; `Sum` sums): Keras's
  `reduce_to_samplewise_values` -- the values are averaged to the weights' rank, multiplied by
  them, averaged to one value per sample; the count gains the sum of the weights.
- confusion-matrix metrics (`Precision`, `Recall`, `AUC`): every (label, prediction) element
  adds its weight to the true/false positive/negative counts of each threshold.
- F-scores (`F1Score`, `FBetaScore`): one weight per sample, multiplied into the per-class counts.

Targets: where a cross-entropy loss handed one-hot targets on as int32 class labels (its fused
kernel's form, see `losses.CategoricalCrossentropy._prepare_targets`), the metrics that need
one-hot rows expand them back, so a metric sees what Keras would have given it.

Compile's 'accuracy' (or 'acc') becomes binary, sparse categorical or categorical accuracy
from the loss and the output shape, as in Keras; a metric given by its name keeps that name.
"""
import numpy as np

from . import _kernels, _registry, _validate, nn

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "Precision",
           "Recall", "AUC", "FBetaScore", "F1Score", "get", "serialize", "deserialize"]

_EPS = 1e-7        # Keras' backend.epsilon(): the F-scores' guard, AUC's end thresholds
_NEG_INF = -1e10   # Keras' metrics_utils.NEG_INF: the threshold with `top_k`, and the filler it uses


class Metric:
    """Base class: a name, a dtype, and the state that `update_state` accumulates.

    Subclasses keep their state in plain attributes, set it in `reset_state()` (which their
    `__init__` calls), and define `update_state(...)` and `result()`.

    Args:
        name: the metric's name (in logs). Defaults to the class name in snake case.
        dtype: the dtype of array results. Defaults to 'float32'.
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or _registry.to_snake_case(type(self).__name__)
        self.dtype = _dtype(dtype)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define update_state().")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result().")

    def reset_state(self):
        raise NotImplementedError(f"{type(self).__name__} must define reset_state().")

    def __call__(self, *args, **kwargs):
        """Adds the batch (`update_state`) and returns the running `result()`, as Keras 3."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _dtype(dtype):
    try:
        d = np.dtype("float32" if dtype is None else dtype)
    except TypeError:
        d = None
    if d is None or d.kind != "f":
        raise ValueError(f"`dtype` must be a floating-point dtype such as 'float32'. Received: dtype={dtype!r}.")
    return d.name


def _inputs(y_true, y_pred):
    """(y_true, y_pred) as numeric arrays with as many examples (axis 0)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    for a, what in ((y_true, "y_true"), (y_pred, "y_pred")):
        if a.dtype.kind not in "fiub":
            raise TypeError(f"`{what}` must be an array of numbers. Received: {what}.dtype={a.dtype}.")
    _validate.same_batch(y_true, y_pred)
    return y_true, y_pred


def _ratio(num, den):
    """num / den, 0 where den is 0 (Keras' divide_no_nan)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.where(den == 0, 0.0, num / np.where(den == 0, 1.0, den))


def _out(value, dtype):
    """A result as Keras gives it: a Python float for one value, else an array of `dtype`."""
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value.astype(dtype)


# ---- means and sums of per-example values ----------------------------------------------------
def _samplewise(values, sample_weight, reduce):
    """Keras 3's reduce_to_samplewise_values: (weighted values, one per sample; the weights
    per sample, or None). A (B, 1) weight and (B,) values (or the reverse) are first matched by
    squeezing or expanding the last axis; the values are reduced (`reduce`: np.mean or np.sum)
    to the weights' rank, multiplied by them, then reduced to one value per sample."""
    v = np.asarray(values, np.float64)
    if sample_weight is None:
        return (reduce(v.reshape(len(v), -1), axis=1) if v.ndim > 1 else v), None
    w = np.asarray(sample_weight, np.float64)
    if v.ndim == w.ndim + 1 and v.shape[-1] == 1:
        w, v = (w[:, None], v) if w.ndim == 1 else (w, v[..., 0])
    elif w.ndim == v.ndim + 1 and w.shape[-1] == 1:
        v, w = (v[:, None], w) if v.ndim == 1 else (v, w[..., 0])
    vnd, wnd = v.ndim, w.ndim
    if vnd > wnd:
        v = reduce(v, axis=tuple(range(wnd, vnd)))
    try:
        w = np.broadcast_to(w, v.shape)
    except ValueError:
        raise ValueError(f"`sample_weight` must broadcast to the values' shape {np.shape(values)}. "
                         f"Received: sample_weight.shape={np.shape(sample_weight)}.") from None
    v = v * w
    if wnd > 1:
        w = reduce(w, axis=tuple(range(1, wnd)))
    if v.ndim > 1:
        v = reduce(v, axis=tuple(range(1, v.ndim)))
    return v, w


class Mean(Metric):
    """The (weighted) mean of the values given to `update_state(values, sample_weight=None)`.

    Values of several axes count once per sample (their mean); with `sample_weight`, the mean
    is sum(w * value) / sum(w) by Keras 3's rule (see `_samplewise`).

    Example:

    >>> m = Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None):
        if type(values) is float and type(sample_weight) is int:  # fit's loss tracker: (loss, batch size)
            self.total += values * sample_weight
            self.count += sample_weight
            return
        self._add(values, sample_weight)

    def _add(self, values, sample_weight):
        v, w = _samplewise(values, sample_weight, np.mean)
        self.total += float(v.sum())
        self.count += (len(v) if v.ndim else 1) if w is None else float(w.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0

    def reset_state(self):
        self.total, self.count = 0.0, 0


class Sum(Metric):
    """The (weighted) sum of the values given to `update_state(values, sample_weight=None)`.

    Example:

    >>> m = Sum()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    4.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None):
        v, _ = _samplewise(values, sample_weight, np.sum)
        self.total += float(v.sum())

    def result(self):
        return self.total

    def reset_state(self):
        self.total = 0.0


class MeanMetricWrapper(Mean):
    """The running mean of `fn(y_true, y_pred, **kwargs)`, the per-example values of a batch.

    The accuracies, MSE and MAE are this with their own values (`_values`). `update_state`
    takes `(y_true, y_pred, sample_weight=None)` and weighs as `Mean` does.

    Args:
        fn: a function of (y_true, y_pred, **kwargs) giving an array of per-example values.
        name: the metric's name. Defaults to fn's name.
        dtype: as for `Metric`.
        **kwargs: passed on to `fn`.
    """

    def __init__(self, fn=None, name=None, dtype=None, **kwargs):
        super().__init__(name=name or _registry.to_snake_case(type(self).__name__), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _inputs(y_true, y_pred)
        self._add(self._values(y_true, y_pred), sample_weight)

    def _values(self, y_true, y_pred):
        if self._fn is None:
            raise TypeError(f"{type(self).__name__} needs `fn`, a function of (y_true, y_pred). Received: fn=None.")
        return self._fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        if self._fn is not None:   # a function cannot be saved by name: the caller re-creates the metric
            raise TypeError(f"Cannot serialize MeanMetricWrapper {self.name!r}: it wraps the function "
                            f"{getattr(self._fn, '__name__', self._fn)!r}. Subclass it with a `_values` "
                            f"method and `get_config`, or re-create it after loading.")
        return super().get_config()


# ---- accuracies ------------------------------------------------------------------------------
def _one_hot_labels(y_true, y_pred):
    """One-hot rows shaped like y_pred, float32, when y_true holds the int32 class labels (shape
    y_pred.shape[:-1], or with a trailing 1) that a cross-entropy loss turns one-hot targets
    into; None otherwise."""
    c = y_pred.shape[-1] if y_pred.ndim else 0
    if y_true.dtype != np.int32 or y_pred.ndim < 2 or c < 2 or \
            y_true.shape not in (y_pred.shape[:-1], y_pred.shape[:-1] + (1,)):
        return None
    labels = y_true.reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise ValueError(f"`y_true` holds class labels for {c} classes, which must lie in [0, {c}). "
                         f"Received: a label value of {int(bad)}.")
    return np.eye(c, dtype=np.float32)[labels].reshape(y_pred.shape)


def _class_ids(y_true, y_pred, one_hot):
    """The class label of every example, shaped y_pred.shape[:-1]. `one_hot`: y_true holds
    one-hot (or soft) rows shaped like y_pred, reduced by argmax as Keras does; labels (a loss's
    int32 form, or any integer labels) are taken as they are. Sparse: integer labels (N,) or
    (N, 1); float one-hot rows are reduced by argmax."""
    lead = y_pred.shape[:-1]
    c = y_pred.shape[-1]
    if y_true.shape == y_pred.shape and (one_hot or (c > 1 and y_true.dtype.kind == "f")):
        return y_true.argmax(-1)
    if y_true.shape == lead + (1,):
        return y_true.reshape(lead)
    if y_true.shape == lead:
        return y_true
    raise ValueError(f"`y_true` must hold {'one-hot rows shaped like y_pred, or ' if one_hot else ''}one class "
                     f"label per example, shape {lead} or {lead + (1,)}. Received: y_true.shape={y_true.shape}, "
                     f"y_pred.shape={y_pred.shape}.")


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals the integer label.

    Example:

    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    >>> round(m.result(), 6)
    0.3
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _values(self, y_true, y_pred):
        return y_pred.argmax(-1) == _class_ids(y_true, y_pred, False)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None and type(y_true) is np.ndarray and type(y_pred) is np.ndarray and \
                y_true.dtype.kind in "iu" and y_true.shape == y_pred.shape[:-1]:
            # integer labels, as fit passes them: a count, no float64 sum (int32 labels and
            # 2-D float32 scores, fit's usual case: one C pass)
            hits = _kernels.argmax_hits_count(y_pred, y_true)
            self.total += int(np.count_nonzero(y_pred.argmax(-1) == y_true)) if hits is None else hits
            self.count += y_true.size
            return
        super().update_state(y_true, y_pred, sample_weight)


class CategoricalAccuracy(SparseCategoricalAccuracy):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot rows, or class labels)."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _values(self, y_true, y_pred):
        return y_pred.argmax(-1) == _class_ids(y_true, y_pred, True)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals y_true."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name=name, dtype=dtype)
        self.threshold = float(threshold)

    def _values(self, y_true, y_pred):
        return (y_pred > self.threshold) == (y_true.reshape(y_pred.shape) > 0.5)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _values(self, y_true, y_pred):
        return y_pred == y_true.reshape(y_pred.shape)


def _in_top_k(labels, scores, k):
    """TensorFlow's in_top_k: fewer than k scores of the row lie strictly above the label's
    (ties count in); False for a label outside [0, classes) or a row with a non-finite score."""
    c = scores.shape[-1]
    s = scores.reshape(-1, c)
    lab = labels.reshape(-1).astype(np.int64)
    inside = (lab >= 0) & (lab < c)
    at = s[np.arange(len(s)), np.where(inside, lab, 0)]
    above = np.count_nonzero(s > at[:, None], axis=1)
    return (inside & np.isfinite(s).all(1) & (above < k)).reshape(labels.shape)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the target class is among the `k` highest scores.

    Args:
        k: how many of the highest scores count. Defaults to 5.
        name, dtype: as for `Metric`.

    Input shape: y_true one-hot rows (or a loss's int32 labels), y_pred (batch, ..., classes).

    Ties count in (TensorFlow's in_top_k): a target whose score ties the k-th is a hit.

    Raises:
        TypeError/ValueError: `k` not a positive int.

    Example:

    >>> m = TopKCategoricalAccuracy(k=1)
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.k = _validate.positive_int(k, "k")

    def _values(self, y_true, y_pred):
        return _in_top_k(_class_ids(y_true, y_pred, True), y_pred, self.k)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the `k` highest scores.

    Args:
        k: how many of the highest scores count. Defaults to 5.
        name, dtype: as for `Metric`.
        from_sorted_ids: y_pred holds, per example, class ids sorted from the highest score
            down (at least k of them) rather than scores. Defaults to False.

    Raises:
        TypeError/ValueError: `k` not a positive int.

    Example:

    >>> m = SparseTopKCategoricalAccuracy(k=1)
    >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    >>> round(m.result(), 6)
    0.3
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(name=name, dtype=dtype)
        self.k = _validate.positive_int(k, "k")
        self.from_sorted_ids = bool(from_sorted_ids)

    def _values(self, y_true, y_pred):
        labels = _class_ids(y_true, y_pred, False)
        if self.from_sorted_ids:
            ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :self.k]
            return (ids == labels.reshape(-1, 1).astype(ids.dtype)).any(1).reshape(labels.shape)
        return _in_top_k(labels, y_pred, self.k)

    def get_config(self):
        config = {**super().get_config(), "k": self.k}
        if self.from_sorted_ids:   # Keras writes it only when set
            config["from_sorted_ids"] = True
        return config


# ---- regression ------------------------------------------------------------------------------
def _dense(y_true, y_pred):
    """y_true shaped like y_pred: one-hot targets that a cross-entropy loss kept as int32 labels
    (its fused kernel's form) are expanded back."""
    one_hot = _one_hot_labels(y_true, y_pred)
    return one_hot if one_hot is not None else y_true.reshape(y_pred.shape)


class MeanSquaredError(MeanMetricWrapper):
    """mean((y_true - y_pred)**2) over the last axis, then a running mean over the samples
    (Keras: 1-D inputs give one value per batch)."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _values(self, y_true, y_pred):
        d = y_pred.astype(np.float64) - _dense(y_true, y_pred)
        return (d * d).mean(-1)


class MeanAbsoluteError(MeanMetricWrapper):
    """mean(|y_true - y_pred|) over the last axis, then a running mean over the samples."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _values(self, y_true, y_pred):
        return np.abs(y_pred.astype(np.float64) - _dense(y_true, y_pred)).mean(-1)


# ---- confusion-matrix metrics ----------------------------------------------------------------
def _like_pred(y_true, y_pred):
    """(y_true, y_pred float32) of one shape: a loss's int32 labels become one-hot rows, else
    Keras's squeeze_or_expand_to_same_rank (a trailing axis of 1 added or removed)."""
    y_pred = np.asarray(y_pred, np.float32)
    one_hot = _one_hot_labels(y_true, y_pred)
    if one_hot is not None:
        return one_hot, y_pred
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None] if y_true.ndim == 1 else y_true
        y_pred = y_pred if y_true.ndim == y_pred.ndim else y_pred[..., 0]
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_pred = y_pred[..., None] if y_pred.ndim == 1 else y_pred
        y_true = y_true if y_true.ndim == y_pred.ndim else y_true[..., 0]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"`y_true` must have the shape of `y_pred` (or hold int32 class labels for it). "
                         f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}.")
    return y_true, y_pred


def _element_weights(sample_weight, y_true):
    """Keras's confusion-matrix weights before broadcasting: expanded by a last axis, then
    matched to y_true's rank by squeezing it; per-sample weights (B,) on labels of rank > 2
    are laid along the batch axis (where Keras would broadcast them against the last axes)."""
    w = np.asarray(sample_weight, np.float32)[..., None]
    if w.ndim == y_true.ndim + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    if 1 <= w.ndim < y_true.ndim and w.shape[0] == len(y_true) > 1:
        w = w.reshape(w.shape + (1,) * (y_true.ndim - w.ndim))
    return w


def _filter_top_k(x, k):
    """Keras's _filter_top_k: the k highest scores of the last axis kept (ties: the lower index
    first, as top_k), the others set to NEG_INF."""
    if k > x.shape[-1]:
        raise ValueError(f"`top_k` must be at most the number of classes {x.shape[-1]}. Received: top_k={k}.")
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, np.float32)
    np.put_along_axis(keep, idx, 1.0, axis=-1)
    return (x * keep + np.float32(_NEG_INF) * (1 - keep)).astype(np.float32)


def _evenly(thresholds):
    """Keras's is_evenly_distributed_thresholds: 3 or more thresholds i / (T - 1)."""
    t = len(thresholds)
    return t >= 3 and np.allclose(thresholds, np.arange(t, dtype=np.float32) / (t - 1), atol=_EPS)


def _confusion(y_true, y_pred, thresholds, evenly, sample_weight=None, top_k=None, class_id=None,
               multi_label=False, label_weights=None):
    """Keras 3's update_confusion_matrix_variables: the weighted (tp, fp, tn, fn) of a batch,
    float64 arrays (T,) -- or (T, labels) with multi_label -- for thresholds (T,).

    A prediction is positive where it is > the threshold (float32 comparison); a label is true
    where it is non-zero; each element adds its weight (sample_weight broadcast to y_pred,
    times label_weights along the last axis without multi_label). NaN predictions are negative.

    Evenly spaced thresholds take Keras's bucket route, which the numbers follow exactly:
    predictions clipped to [0, 1], bucket = ceil(p * (T - 1)) - 1 in float32 (raised to 0 when
    the end thresholds hold AUC's epsilon), counts cumulated from the top bucket down.
    """
    y_true, y_pred = _like_pred(y_true, y_pred)
    w = None if sample_weight is None else _element_weights(sample_weight, y_true)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(f"`class_id` needs y_pred of shape (num_samples, num_classes). "
                             f"Received: y_pred.shape={y_pred.shape}.")
        if class_id >= y_pred.shape[-1]:
            raise ValueError(f"`class_id` must be less than the number of classes {y_pred.shape[-1]}. "
                             f"Received: class_id={class_id}.")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    weights = np.ones(y_pred.shape, np.float64)
    if w is not None:
        try:
            weights = weights * np.broadcast_to(w, y_pred.shape)
        except ValueError:
            raise ValueError(f"`sample_weight` must broadcast to y_pred's shape {y_pred.shape} (a scalar, one "
                             f"weight per sample, or one per element). Received: "
                             f"sample_weight.shape={np.shape(sample_weight)}.") from None
    if label_weights is not None and not multi_label:
        weights = weights * np.broadcast_to(label_weights, y_pred.shape)
    cols = y_pred.shape[-1] if multi_label else 1
    nan = np.isnan(y_pred).reshape(-1, cols)
    p = np.where(nan, np.float32(-np.inf), y_pred.reshape(-1, cols)).astype(np.float32)
    truth = (y_true != 0).reshape(-1, cols)
    wt = np.where(truth, weights.reshape(-1, cols), 0.0)      # weight of each true label
    wf = np.where(truth, 0.0, weights.reshape(-1, cols))      # ... of each false one
    t = len(thresholds)
    tp, fp = np.zeros((t, cols)), np.zeros((t, cols))
    thr = np.asarray(thresholds, np.float32)
    for j in range(cols):
        if evenly:
            b = np.ceil(np.clip(p[:, j], np.float32(0), np.float32(1)) * np.float32(t - 1)) - np.float32(1)
            if thr[0] < 0 or thr[-1] > 1:   # AUC's epsilon ends: every prediction is above the first
                b = np.maximum(b, 0)
            b = b.astype(np.int64)
            ok = (b >= 0) & ~nan[:, j]
            tp[:, j] = np.cumsum(np.bincount(b[ok], wt[ok, j], t)[::-1])[::-1]
            fp[:, j] = np.cumsum(np.bincount(b[ok], wf[ok, j], t)[::-1])[::-1]
        else:   # the count of predictions > each threshold, from the sorted predictions
            order = np.argsort(p[:, j], kind="stable")
            below = np.searchsorted(p[order, j], thr, side="right")
            ct = np.concatenate([[0.0], np.cumsum(wt[order, j])])
            cf = np.concatenate([[0.0], np.cumsum(wf[order, j])])
            tp[:, j], fp[:, j] = ct[-1] - ct[below], cf[-1] - cf[below]
    fn = wt.sum(0) - tp
    tn = wf.sum(0) - fp
    if not multi_label:
        tp, fp, tn, fn = tp[:, 0], fp[:, 0], tn[:, 0], fn[:, 0]
    return tp, fp, tn, fn


def _thresholds(thresholds, default):
    """Keras's parse_init_thresholds: a list of floats in [0, 1] (the default when None)."""
    if thresholds is None:
        return [default]
    vals = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    if not vals or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                           and 0 <= v <= 1 for v in vals):
        raise ValueError(f"`thresholds` must be a float or a list of floats in [0, 1]. "
                         f"Received: thresholds={thresholds!r}.")
    return [float(v) for v in vals]


class _PrecisionRecall(Metric):
    """Precision and Recall: counts per threshold (`_counts`, Keras's variable names); a
    prediction is positive above the threshold."""
    _counts = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.top_k = None if top_k is None else _validate.positive_int(top_k, "top_k")
        self.class_id = None if class_id is None else _validate.non_negative_int(class_id, "class_id")
        self.thresholds = _thresholds(thresholds, 0.5 if top_k is None else _NEG_INF)
        # as given (for the config), in plain floats
        self.init_thresholds = None if thresholds is None else \
            self.thresholds if isinstance(thresholds, (list, tuple, np.ndarray)) else self.thresholds[0]
        self._evenly = _evenly(self.thresholds)
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = _confusion(*_inputs(y_true, y_pred), self.thresholds, self._evenly, sample_weight,
                                   self.top_k, self.class_id)
        batch = {"true_positives": tp, "false_positives": fp, "false_negatives": fn}
        for n in self._counts:
            setattr(self, n, getattr(self, n) + batch[n])

    def result(self):
        tp, other = (getattr(self, n) for n in self._counts)
        r = _ratio(tp, tp + other)
        return float(r[0]) if len(self.thresholds) == 1 else r.astype(self.dtype)

    def reset_state(self):
        for n in self._counts:
            setattr(self, n, np.zeros(len(self.thresholds)))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp): how many of the predicted positives are true, weighted by `sample_weight`.

    Args:
        thresholds: a float or a list of floats in [0, 1]; y_pred above a threshold is a
            positive. Defaults to 0.5 (to -1e10 with `top_k`: the top k are the positives).
            Several thresholds give an array of results, one per threshold.
        top_k: only the k highest scores of each row can be positives.
        class_id: only this class (the last axis's index) is scored.
        name, dtype: as for `Metric`.

    Input shape: y_true like y_pred (or the loss's int32 labels), y_pred any shape; binary,
    multi-label and one-hot targets are all flattened to (label, prediction) pairs.

    Raises:
        ValueError: a threshold outside [0, 1]; `top_k` > classes or `class_id` >= classes at
            update; shapes that do not agree.

    Example:

    >>> m = Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    >>> m.result()
    1.0
    """
    _counts = ("true_positives", "false_positives")


class Recall(_PrecisionRecall):
    """tp / (tp + fn): how many of the true labels are predicted, weighted by `sample_weight`.

    Args, Input shape and Raises: as for `Precision`.

    Example:

    >>> m = Recall()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    >>> m.result()
    1.0
    """
    _counts = ("true_positives", "false_negatives")


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """The area under the ROC or the precision-recall curve, from confusion counts at
    `num_thresholds` thresholds, as Keras 3 computes it.

    Args:
        num_thresholds: thresholds (an int > 1) spread evenly over [0, 1]; the first lies at
            -1e-7 and the last at 1 + 1e-7 so that predictions of 0 and 1 are counted. Defaults
            to 200.
        curve: 'ROC' (true positive rate against false positive rate), 'PR' (precision against
            recall) or 'PRGAIN'. Defaults to 'ROC'.
        summation_method: 'interpolation' (ROC: the trapezoid rule; PR: Davis & Goadrich's
            interpolation of tp and fp between thresholds), 'minoring' or 'majoring' (the lower
            or higher of two neighbouring heights). Defaults to 'interpolation'.
        name, dtype: as for `Metric`.
        thresholds: explicit thresholds in [0, 1] instead of `num_thresholds` (sorted; the two
            end thresholds are added).
        multi_label: y (batch, labels) holds independent labels: one curve per label, their
            areas averaged (weighted by `label_weights`). Default False: all flattened.
        num_labels: the number of labels with `multi_label` (else taken at the first update).
        label_weights: one weight per label (multi_label: for the average; else multiplied
            into the counts).
        from_logits: y_pred are logits: a sigmoid is applied first. Defaults to False.

    Raises:
        ValueError: a bad `num_thresholds`, `curve`, `summation_method` or threshold;
            `num_labels` without `multi_label`; y_pred not 2-D with `multi_label`.

    Example:

    >>> m = AUC(num_thresholds=3)
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> round(m.result(), 6)
    0.75
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 dtype=None, thresholds=None, multi_label=False, num_labels=None, label_weights=None,
                 from_logits=False):
        super().__init__(name, dtype)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_thresholds(thresholds, None))
            self.num_thresholds = len(inner) + 2
            self._evenly = _evenly(np.array([0.0] + inner + [1.0]))
        else:
            if not _validate.is_int(num_thresholds) or num_thresholds <= 1:
                raise ValueError(f"`num_thresholds` must be an int > 1. Received: num_thresholds={num_thresholds!r}.")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - _EPS] + inner + [1.0 + _EPS])
        self.curve = _CURVES.get(curve.lower()) if isinstance(curve, str) else None
        if self.curve is None:
            raise ValueError(f"`curve` must be one of 'ROC', 'PR', 'PRGAIN'. Received: curve={curve!r}.")
        self.summation_method = _validate.one_of(summation_method, "summation_method", _SUMMATIONS)
        self.multi_label = bool(multi_label)
        if num_labels is not None:
            if not self.multi_label:
                raise ValueError(f"`num_labels` is needed only when `multi_label` is True. "
                                 f"Received: num_labels={num_labels!r}, multi_label={multi_label!r}.")
            num_labels = _validate.positive_int(num_labels, "num_labels")
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, np.float32)
        self.from_logits = bool(from_logits)
        self._labels = num_labels if self.multi_label else None
        self.reset_state()

    @property
    def thresholds(self):
        """The thresholds used, the two end ones included."""
        return list(self._thresholds)

    def reset_state(self):
        if self.multi_label and self._labels is None:   # shapes come with the first batch
            self.true_positives = self.false_positives = self.true_negatives = self.false_negatives = None
            return
        shape = (self.num_thresholds,) if not self.multi_label else (self.num_thresholds, self._labels)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.true_negatives, self.false_negatives = np.zeros(shape), np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _inputs(y_true, y_pred)
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError(f"`y_pred` must have rank 2 (batch, labels) when `multi_label=True`. "
                                 f"Received: y_pred.shape={y_pred.shape}.")
            if self._labels is None:
                self._labels = y_pred.shape[1]
                self.reset_state()
            elif y_pred.shape[1] != self._labels:
                raise ValueError(f"`y_pred` must have {self._labels} labels, as before. "
                                 f"Received: y_pred.shape={y_pred.shape}.")
        if self.label_weights is not None and self.label_weights.shape != y_pred.shape[-1:]:
            raise ValueError(f"`label_weights` must hold one weight per label ({y_pred.shape[-1]}). "
                             f"Received: label_weights.shape={self.label_weights.shape}.")
        if self.from_logits:
            y_pred = nn.sigmoid(np.asarray(y_pred, np.float32))
        counts = _confusion(y_true, y_pred, self._thresholds, self._evenly, sample_weight,
                            multi_label=self.multi_label,
                            label_weights=None if self.multi_label else self.label_weights)
        self.true_positives += counts[0]
        self.false_positives += counts[1]
        self.true_negatives += counts[2]
        self.false_negatives += counts[3]

    def _average(self, by_label):
        if not self.multi_label:
            return float(by_label)
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_ratio(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def _interpolate_pr_auc(self):
        """Keras's closed form of Davis & Goadrich's PR interpolation: between two thresholds
        tp and p = tp + fp vary linearly, and precision = tp / p is integrated over recall."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _ratio(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _ratio(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = _ratio(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return self._average(inc.sum(0))

    def result(self):
        if self.true_positives is None:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _ratio(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _ratio(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _ratio(tp, tp + fp)
        else:   # PRGAIN: recall and precision gains, with Keras's fixes for tp == 0 and gains < 0
            scale = _ratio(tp + fn, tn + fp)
            x = np.where(tp == 0, 0.0, np.maximum(1.0 - scale * _ratio(fn, tp), 0.0))
            y = np.where(tp == 0, 1.0, 1.0 - scale * _ratio(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average(((x[:-1] - x[1:]) * heights).sum(0))

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self.from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config


# ---- F-scores --------------------------------------------------------------------------------
_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """(1 + beta**2) * precision * recall / (beta**2 * precision + recall), per class or averaged.

    Args:
        average: None (one score per class: `result()` is a float32 array), 'micro' (from the
            counts summed over classes), 'macro' (the mean of the class scores) or 'weighted'
            (their mean weighted by each class's share of true labels). Defaults to None.
        beta: the weight of recall, a float > 0. Defaults to 1.
        threshold: y_pred above it is a positive; None: the row's highest score (if not 0) is.
            A float in (0, 1]. Defaults to None.
        name, dtype: as for `Metric`.

    Input shape: y_true and y_pred (batch, classes) (or the loss's int32 labels for y_true);
    `sample_weight` one weight per sample (batch,), (batch, 1) or a scalar.

    Numerics (Keras's): precision = tp / (tp + fp + 1e-7), recall likewise, and the score's
    denominator gains 1e-7, so a class without positives scores 0.

    Raises:
        ValueError: a bad `average`, `beta` or `threshold`; inputs not 2-D, or a class count
            different from the first batch's.

    Example:

    >>> m = F1Score(threshold=0.5)
    >>> m.update_state([[1, 1, 1], [1, 0, 0], [1, 1, 0]],
    ...                [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
    >>> np.round(m.result(), 4)
    array([0.5   , 0.8   , 0.6667], dtype=float32)
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name, dtype)
        if average not in _AVERAGES:
            raise ValueError(f"`average` must be one of None, 'micro', 'macro', 'weighted'. "
                             f"Received: average={average!r}.")
        if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) or not beta > 0:
            raise ValueError(f"`beta` must be a float > 0. Received: beta={beta!r}.")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(
                threshold, (int, float, np.integer, np.floating)) or not 0 < threshold <= 1):
            raise ValueError(f"`threshold` must be None or a float in (0, 1]. Received: threshold={threshold!r}.")
        self.average = average
        self.beta = float(beta)
        self.threshold = None if threshold is None else float(threshold)
        self._classes = None
        self.reset_state()

    def reset_state(self):
        shape = () if self.average == "micro" else (self._classes or 0,)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.false_negatives, self.intermediate_weights = np.zeros(shape), np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _inputs(y_true, y_pred)
        y_pred = y_pred.astype(np.float32)
        one_hot = _one_hot_labels(y_true, y_pred)
        y_true = one_hot if one_hot is not None else y_true.astype(np.float32)
        if y_pred.ndim != 2 or y_true.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(f"{type(self).__name__} expects 2-D inputs of one shape (batch_size, output_dim). "
                             f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}.")
        if self._classes is None:
            self._classes = y_pred.shape[1]
            self.reset_state()
        elif y_pred.shape[1] != self._classes:
            raise ValueError(f"{type(self).__name__} was built for {self._classes} classes. "
                             f"Received: y_pred.shape={y_pred.shape}.")
        if self.threshold is None:   # the row's maximum; a row of zeros stays all negative
            pred = (y_pred >= y_pred.max(-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            pred = y_pred > np.float32(self.threshold)
        pred = pred.astype(np.float64)
        t = y_true.astype(np.float64)
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float64)
            if w.ndim == 2 and w.shape[1] == 1:
                w = w[:, 0]
            if w.shape not in ((), (len(t),)):
                raise ValueError(f"`sample_weight` must hold one weight per sample, shape ({len(t)},). "
                                 f"Received: sample_weight.shape={np.shape(sample_weight)}.")
            w = np.broadcast_to(w, (len(t),))[:, None]
        else:
            w = 1.0
        axis = None if self.average == "micro" else 0
        self.true_positives = self.true_positives + (pred * t * w).sum(axis)
        self.false_positives = self.false_positives + (pred * (1 - t) * w).sum(axis)
        self.false_negatives = self.false_negatives + ((1 - pred) * t * w).sum(axis)
        self.intermediate_weights = self.intermediate_weights + (t * w).sum(axis)

    def result(self):
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + _EPS)
        recall = tp / (tp + self.false_negatives + _EPS)
        b2 = self.beta ** 2
        score = (1 + b2) * (precision * recall) / (b2 * precision + recall + _EPS)
        if self.average == "weighted":
            return float(np.sum(score * self.intermediate_weights / (np.sum(self.intermediate_weights) + _EPS)))
        if self.average is not None:
            return float(np.mean(score)) if score.size else 0.0
        return _out(score, self.dtype)

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """2 * precision * recall / (precision + recall): `FBetaScore` with beta = 1.

    Args:
        average, threshold, name, dtype: as for `FBetaScore`.
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


# ---- names -----------------------------------------------------------------------------------
_CLASSES = {c.__name__: c for c in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, Precision, Recall, AUC,
    FBetaScore, F1Score, Mean, Sum)}
# Keras 3's metrics.get keys: each class's snake-case name, and the short aliases
_NAMES = {**{_registry.to_snake_case(n): c for n, c in _CLASSES.items() if c is not Accuracy},
          "mse": MeanSquaredError, "mae": MeanAbsoluteError}
# 'accuracy'/'acc' come first in the message; get() resolves them before the registry does
_REGISTRY = _registry.Registry("metric", Metric, {"accuracy": Accuracy, "acc": Accuracy, **_NAMES},
                               _CLASSES.values(), arg="metrics", make=lambda cls, name: cls(name=name),
                               allow_none=False)


def get(identifier, loss=None, output_shape=None):
    """A Metric from a Keras name, a class, a config dict or an instance.

    'accuracy'/'acc' resolve like Keras's compile: binary accuracy for a binary cross-entropy
    loss or a single output unit, categorical accuracy for a categorical cross-entropy loss,
    sparse categorical accuracy otherwise. A metric made from a name keeps that name, as
    compile names it ('mse' logs as 'mse', 'AUC' as 'AUC'). Snake-case names match in any case.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value.
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        lname = type(loss).__name__ if loss is not None else ""
        if lname == "BinaryCrossentropy" or (output_shape is not None and output_shape[-1] == 1):
            return BinaryAccuracy(name=identifier)
        if lname == "CategoricalCrossentropy":
            return CategoricalAccuracy(name=identifier)
        return SparseCategoricalAccuracy(name=identifier)
    return _REGISTRY.get(identifier)


def serialize(metric):
    """{'class_name', 'config'} of a Metric (what model.save writes)."""
    return _REGISTRY.serialize(metric)


def deserialize(config, custom_objects=None):
    """The Metric that `serialize` described; custom classes come from `custom_objects`."""
    return _REGISTRY.deserialize(config, custom_objects)
