"""Metrics (Keras 3 names): running means over the batches seen since the last reset.

`update_state(y_true, y_pred)` adds a batch, `result()` gives the running value,
`reset_state()` starts again. Compile's 'accuracy' (or 'acc') becomes binary, sparse
categorical or categorical accuracy from the loss and the output shape, as in Keras, and keeps
the name it was given.
"""
import numpy as np

from . import _validate

__all__ = ["Metric", "Mean", "Accuracy", "SparseCategoricalAccuracy", "CategoricalAccuracy",
           "BinaryAccuracy", "MeanSquaredError", "MeanAbsoluteError", "get", "serialize",
           "deserialize"]


class Metric:
    """Base class: a weighted running mean of per-example values."""

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.total = 0.0
        self.count = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch: the per-example values, weighted by `sample_weight` when given."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        _validate.same_batch(y_true, y_pred)
        self._add(self._values(y_true, y_pred), sample_weight)

    def _add(self, vals, sample_weight):
        """Keras 3's rule (reduce_to_samplewise_values): the values are averaged down to the
        weights' rank (a (B, 1) or (B,) weight and (B,) or (B, 1) values are first matched by
        squeezing or expanding the last axis), multiplied by the weights, then averaged to one
        value per sample; the total gains their sum, the count the sum of the weights (without
        weights: the number of samples, 1 for a scalar)."""
        v = np.asarray(vals, np.float64)
        if sample_weight is None:
            if v.ndim > 1:
                v = v.reshape(len(v), -1).mean(1)
            self.total += float(v.sum())
            self.count += len(v) if v.ndim else 1
            return
        w = np.asarray(sample_weight, np.float64)
        if v.ndim == w.ndim + 1 and v.shape[-1] == 1:
            w, v = (w[:, None], v) if w.ndim == 1 else (w, v[..., 0])
        elif w.ndim == v.ndim + 1 and w.shape[-1] == 1:
            v, w = (v[:, None], w) if v.ndim == 1 else (v, w[..., 0])
        vnd, wnd = v.ndim, w.ndim
        if vnd > wnd:
            v = v.mean(axis=tuple(range(wnd, vnd)))
        try:
            w = np.broadcast_to(w, v.shape)
        except ValueError:
            raise ValueError(f"`sample_weight` must broadcast to the values' shape {np.shape(vals)}. "
                             f"Received: sample_weight.shape={np.shape(sample_weight)}.") from None
        v = v * w
        if vnd > 1 and wnd > 1:
            w = w.mean(axis=tuple(range(1, wnd)))
        if v.ndim > 1:
            v = v.mean(axis=tuple(range(1, v.ndim)))
        self.total += float(v.sum())
        self.count += float(w.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.4f}>"


class Mean(Metric):
    """The (weighted) mean of the values given to `update_state(values, sample_weight=None)`."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name)

    def update_state(self, values, sample_weight=None):
        if type(values) is float and type(sample_weight) is int:  # fit's loss tracker: (loss, batch size)
            self.total += values * sample_weight
            self.count += sample_weight
            return
        self._add(values, sample_weight)


def _labels(y_true, n_classes):
    """Class labels from integer labels (N,), (N, 1) or one-hot rows (N, C)."""
    if y_true.ndim >= 2 and y_true.shape[-1] == n_classes and n_classes > 1 and y_true.dtype.kind == "f":
        return y_true.argmax(-1)
    if y_true.ndim >= 2 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return y_true


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name)

    def _values(self, y_true, y_pred):
        return y_pred.argmax(-1) == _labels(y_true, y_pred.shape[-1]).reshape(y_pred.shape[:-1])

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None and type(y_true) is np.ndarray and type(y_pred) is np.ndarray and \
                y_true.dtype.kind in "iu" and y_true.shape == y_pred.shape[:-1]:
            # integer labels, as fit passes them: a count, no float64 sum
            self.total += int(np.count_nonzero(y_pred.argmax(-1) == y_true))
            self.count += y_true.size
            return
        super().update_state(y_true, y_pred, sample_weight)


class CategoricalAccuracy(SparseCategoricalAccuracy):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot targets)."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        Metric.__init__(self, name)


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals y_true."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name)
        self.threshold = float(threshold)

    def _values(self, y_true, y_pred):
        return (y_pred > self.threshold) == (y_true.reshape(y_pred.shape) > 0.5)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}


class Accuracy(Metric):
    """How often y_pred equals y_true exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name)

    def _values(self, y_true, y_pred):
        return y_pred == y_true.reshape(y_pred.shape)


def _dense(y_true, y_pred):
    """y_true shaped like y_pred: one-hot targets that a cross-entropy loss kept as int32 labels
    (its fused kernel's form) are expanded back."""
    if y_true.dtype == np.int32 and y_true.size * y_pred.shape[-1] == y_pred.size and y_pred.shape[-1] > 1:
        return np.eye(y_pred.shape[-1], dtype=np.float32)[y_true.reshape(-1)].reshape(y_pred.shape)
    return y_true.reshape(y_pred.shape)


class MeanSquaredError(Metric):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name)

    def _values(self, y_true, y_pred):
        d = y_pred.astype(np.float64) - _dense(y_true, y_pred)
        return (d * d).reshape(len(d), -1).mean(1)


class MeanAbsoluteError(Metric):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name)

    def _values(self, y_true, y_pred):
        d = y_pred.astype(np.float64) - _dense(y_true, y_pred)
        return np.abs(d).reshape(len(d), -1).mean(1)


_ALIASES = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}
_CLASSES = {c.__name__: c for c in (*_ALIASES.values(), Accuracy, Mean)}
_VALID = ("accuracy", "acc", *_ALIASES)


def get(identifier, loss=None, output_shape=None):
    """A Metric from a Keras name or an instance.

    'accuracy'/'acc' resolve like Keras: binary accuracy for a binary cross-entropy loss or a
    single output unit, categorical accuracy for a categorical cross-entropy loss, sparse
    categorical accuracy otherwise; the metric keeps the name it was given.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if not isinstance(identifier, str):
        raise TypeError(f"`metrics` must hold strings ({', '.join(repr(v) for v in _VALID)}) or "
                        f"pyconv.metrics.Metric instances. Received: {identifier!r}.")
    key = identifier.lower()
    if key in ("accuracy", "acc"):
        lname = type(loss).__name__ if loss is not None else ""
        if lname == "BinaryCrossentropy" or (output_shape is not None and output_shape[-1] == 1):
            return BinaryAccuracy(name=identifier)
        if lname == "CategoricalCrossentropy":
            return CategoricalAccuracy(name=identifier)
        return SparseCategoricalAccuracy(name=identifier)
    cls = _ALIASES.get(key) or _CLASSES.get(identifier)
    if cls is None:
        raise ValueError(f"Unknown metric: {identifier!r}. Valid values are: "
                         f"{', '.join(repr(v) for v in _VALID)} (or a pyconv.metrics.Metric instance).")
    return cls(name=identifier) if key in _ALIASES else cls()


def serialize(metric):
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown metric class {name!r}: pass it in `custom_objects`.")
    return cls.from_config(config.get("config", {}))
