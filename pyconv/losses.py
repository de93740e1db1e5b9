"""Losses (Keras 3 names, defaults and reduction: the mean over the batch).

Each loss gives, for a batch, the per-example losses and the gradient of their mean with
respect to the predictions. With `from_logits=False` and a softmax (sigmoid) output, the model
hands the loss the *logits* instead (`fused_activation`), as Keras on TensorFlow does: the
softmax + cross-entropy gradient then comes from one fused pyconv.nn kernel.
"""
import numpy as np

from . import _kernels, _validate, nn

__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "sparse_categorical_crossentropy",
           "categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
           "mean_absolute_error", "get", "serialize", "deserialize"]

_EPS = 1e-7  # Keras' backend.epsilon(): probabilities are clipped to [eps, 1 - eps]


class Loss:
    """Base class. Subclasses implement `_values_and_grad(y_true, y_pred)` -> (per-example
    losses (M,), d(mean loss)/d(y_pred)) and, when they can take logits,
    `_values_and_grad_logits(y_true, logits)`."""

    fused_activation = None  # the output activation whose logits this loss can take directly

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "mean", "auto"):
            raise ValueError(f"`reduction` must be 'sum_over_batch_size'. Received: reduction={reduction!r}.")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction

    def __call__(self, y_true, y_pred):
        """The mean loss over the batch, as a Python float (Keras: a scalar tensor)."""
        y_pred = np.asarray(y_pred, dtype=np.float32)
        _validate.same_batch(y_true, y_pred)
        y_true = self._prepare_targets(y_true, y_pred.shape)
        if getattr(self, "from_logits", False):
            vals, _ = self._values_and_grad_logits(y_true, y_pred)
        else:
            vals, _ = self._values_and_grad(y_true, y_pred)
        return float(np.mean(vals, dtype=np.float64))

    def _prepare_targets(self, y, pred_shape):
        """Check and convert the targets once (fit converts the whole `y` up front)."""
        y = np.asarray(y)
        if y.dtype.kind not in "fiub":
            raise TypeError(f"`y` must be numeric. Received: dtype={y.dtype}.")
        y = y.astype(np.float32, copy=False)
        if pred_shape is not None and y.shape[1:] != tuple(pred_shape[1:]):
            if y.size and len(y) and int(np.prod(y.shape[1:])) == int(np.prod(pred_shape[1:])):
                return np.ascontiguousarray(y.reshape((len(y),) + tuple(pred_shape[1:])))
            raise ValueError(f"`y` must have shape (batch,) + {tuple(pred_shape[1:])} to match the "
                             f"model's output (None, {', '.join(str(d) for d in pred_shape[1:])}). "
                             f"Received: y.shape={y.shape}.")
        return np.ascontiguousarray(y)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _snake(name):
    import re
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _check_labels(y, n_classes):
    """Integer class labels in [0, n_classes) as a flat int32 array."""
    y = np.asarray(y)
    if y.dtype.kind not in "iufb":
        raise TypeError(f"`y` must hold integer class labels. Received: dtype={y.dtype}.")
    if y.size == 0:
        return np.zeros(y.shape, np.int32)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            bad = y[~np.isfinite(y) | (y != np.round(y))].flat[0]
            raise ValueError(f"`y` must hold integer class labels in [0, {n_classes}). "
                             f"Received: a label value of {bad!r}.")
    lo, hi = y.min(), y.max()
    if lo < 0 or hi >= n_classes:
        bad = lo if lo < 0 else hi
        raise ValueError(f"Received a label value of {bad.item()!r} which is outside the valid range "
                         f"of [0, {n_classes}) for a model with {n_classes} outputs. "
                         f"Label values: min {lo.item()}, max {hi.item()}.")
    return y.astype(np.int32)


class SparseCategoricalCrossentropy(Loss):
    """-log p[label] for integer labels (N,) and class scores (N, C).

    Args:
        from_logits: whether `y_pred` are logits (else probabilities, e.g. a softmax output).
        name: the loss' name.
    """

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(name, reduction)
        if ignore_class is not None:
            raise ValueError("`ignore_class` is not supported by pyconv. Received: "
                             f"ignore_class={ignore_class!r}.")
        self.from_logits = bool(from_logits)
        self.fused_activation = None if self.from_logits else "softmax"

    def _prepare_targets(self, y, pred_shape):
        y = np.asarray(y)
        n = pred_shape[-1]
        want = tuple(pred_shape[1:-1])
        if y.shape[1:] != want:
            if y.shape[1:] == want + (1,):
                y = y.reshape(y.shape[:-1])
            else:
                raise ValueError(f"`y` must hold one integer label per example, shape (batch,"
                                 f"{''.join(' ' + str(d) + ',' for d in want)}) for class scores of shape "
                                 f"(None, {', '.join(str(d) for d in pred_shape[1:])}). "
                                 f"Received: y.shape={y.shape}.")
        return np.ascontiguousarray(_check_labels(y, n))

    def _values_and_grad_logits(self, y, z):
        # y comes from _prepare_targets: int32 labels already checked to lie in [0, c)
        c = z.shape[-1]
        m = len(y.reshape(-1))
        loss, dz = _kernels.softmax_xent(np.ascontiguousarray(z.reshape(-1, c), np.float32), y.reshape(-1),
                                         True, 1.0 / m if m else 0.0)
        return loss, dz.reshape(z.shape)

    def _values_and_grad(self, y, p):
        if self.from_logits:
            return self._values_and_grad_logits(y, p)
        c = p.shape[-1]
        p2 = p.reshape(-1, c)
        rows = np.arange(p2.shape[0])
        pick = p2[rows, y.reshape(-1)]
        clipped = np.clip(pick, _EPS, 1 - _EPS)
        loss = -np.log(clipped)
        dp = np.zeros_like(p2)
        inside = (pick > _EPS) & (pick < 1 - _EPS)
        dp[rows, y.reshape(-1)] = np.where(inside, -1.0 / clipped, 0.0) / max(len(rows), 1)
        return loss.astype(np.float32), dp.reshape(p.shape)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """-sum(y * log p) for one-hot (or probability) targets (N, C).

    One-hot targets go through the same fused kernel as the sparse loss.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy"):
        super().__init__(name, reduction)
        if axis != -1:
            raise ValueError(f"`axis` must be -1. Received: axis={axis!r}.")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"`label_smoothing` must be in [0, 1). Received: label_smoothing={label_smoothing!r}.")
        self.fused_activation = None if self.from_logits else "softmax"

    def _prepare_targets(self, y, pred_shape):
        y = super()._prepare_targets(y, pred_shape)
        if self.label_smoothing:
            c = y.shape[-1]
            return (y * (1 - self.label_smoothing) + self.label_smoothing / c).astype(np.float32)
        if y.ndim == 2 and y.size and ((y == 0) | (y == 1)).all() and (y.sum(1) == 1).all():
            return np.ascontiguousarray(y.argmax(1).astype(np.int32))  # one-hot: as labels
        return y

    def _values_and_grad_logits(self, y, z):
        if y.dtype == np.int32:
            return SparseCategoricalCrossentropy._values_and_grad_logits(self, y, z)
        p = nn.softmax(z)
        m = max(len(y), 1)
        loss = -(y * np.log(np.maximum(p, np.finfo(np.float32).tiny))).sum(-1)
        dz = (p * y.sum(-1, keepdims=True) - y) / np.float32(m)
        return loss.astype(np.float32), dz.astype(np.float32)

    def _values_and_grad(self, y, p):
        if self.from_logits:
            return self._values_and_grad_logits(y, p)
        if y.dtype == np.int32:
            return SparseCategoricalCrossentropy._values_and_grad(self, y, p)
        # Keras: p / sum(p), clipped to [eps, 1 - eps]
        s = p.sum(-1, keepdims=True)
        q = p / s
        qc = np.clip(q, _EPS, 1 - _EPS)
        loss = -(y * np.log(qc)).sum(-1)
        m = max(len(y), 1)
        dq = np.where((q > _EPS) & (q < 1 - _EPS), -y / qc, 0.0)
        dp = (dq - (dq * q).sum(-1, keepdims=True)) / s / m
        return loss.astype(np.float32), dp.astype(np.float32)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class BinaryCrossentropy(Loss):
    """-(y log p + (1 - y) log(1 - p)), averaged over the last axis, for targets in [0, 1]."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy"):
        super().__init__(name, reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.fused_activation = None if self.from_logits else "sigmoid"

    def _prepare_targets(self, y, pred_shape):
        y = super()._prepare_targets(y, pred_shape)
        if self.label_smoothing:
            y = (y * (1 - self.label_smoothing) + 0.5 * self.label_smoothing).astype(np.float32)
        return y

    def _values_and_grad_logits(self, y, z):
        m = max(len(z), 1)
        k = z.size // m if z.size else 1
        zd = z.astype(np.float64)
        loss = np.maximum(zd, 0) - zd * y + np.log1p(np.exp(-np.abs(zd)))
        dz = (nn.sigmoid(z) - y) * np.float32(1.0 / (m * k))
        return loss.reshape(m, -1).mean(1).astype(np.float32), dz.astype(np.float32)

    def _values_and_grad(self, y, p):
        if self.from_logits:
            return self._values_and_grad_logits(y, p)
        m = max(len(p), 1)
        k = p.size // m if p.size else 1
        pc = np.clip(p, _EPS, 1 - _EPS)
        loss = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        dp = np.where((p > _EPS) & (p < 1 - _EPS), (pc - y) / (pc * (1 - pc)), 0.0) / (m * k)
        return loss.reshape(m, -1).mean(1).astype(np.float32), dp.astype(np.float32)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)**2) over the last axis, then over the batch."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(name, reduction)

    def _values_and_grad(self, y, p):
        m = max(len(p), 1)
        d = p - y
        k = d.size // m if d.size else 1
        return (d * d).reshape(m, -1).mean(1), (d * np.float32(2.0 / (m * k))).astype(np.float32)


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over the last axis, then over the batch."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(name, reduction)

    def _values_and_grad(self, y, p):
        m = max(len(p), 1)
        d = p - y
        k = d.size // m if d.size else 1
        return np.abs(d).reshape(m, -1).mean(1), (np.sign(d) * np.float32(1.0 / (m * k))).astype(np.float32)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-example losses (Keras' functional form)."""
    l = SparseCategoricalCrossentropy(from_logits)
    y_pred = np.asarray(y_pred, np.float32)
    y = l._prepare_targets(y_true, y_pred.shape)
    return (l._values_and_grad_logits if from_logits else l._values_and_grad)(y, y_pred)[0]


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    l = CategoricalCrossentropy(from_logits)
    y_pred = np.asarray(y_pred, np.float32)
    return l._values_and_grad(l._prepare_targets(y_true, y_pred.shape), y_pred)[0]


def binary_crossentropy(y_true, y_pred, from_logits=False):
    l = BinaryCrossentropy(from_logits)
    y_pred = np.asarray(y_pred, np.float32)
    return l._values_and_grad(l._prepare_targets(y_true, y_pred.shape), y_pred)[0]


def mean_squared_error(y_true, y_pred):
    y_pred = np.asarray(y_pred, np.float32)
    l = MeanSquaredError()
    return l._values_and_grad(l._prepare_targets(y_true, y_pred.shape), y_pred)[0]


def mean_absolute_error(y_true, y_pred):
    y_pred = np.asarray(y_pred, np.float32)
    l = MeanAbsoluteError()
    return l._values_and_grad(l._prepare_targets(y_true, y_pred.shape), y_pred)[0]


_ALIASES = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}
_CLASSES = {c.__name__: c for c in _ALIASES.values()}


def get(identifier):
    """A Loss from a Keras name ('sparse_categorical_crossentropy', 'mse', ...) or an instance.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss: {identifier!r}. Valid values are: "
                             f"{', '.join(repr(k) for k in _ALIASES)} (or a pyconv.losses.Loss instance).")
        return cls()
    for name in _ALIASES:
        if identifier is globals().get(name):
            return _ALIASES[name]()
    raise TypeError(f"`loss` must be a string ({', '.join(repr(k) for k in _ALIASES)}) or a "
                    f"pyconv.losses.Loss instance. Received: loss={identifier!r}.")


def serialize(loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown loss class {name!r}: pass it in `custom_objects`.")
    return cls.from_config(config.get("config", {}))
