"""Losses: Keras 3's names, arguments, defaults, reductions and numerics (TensorFlow backend).

Each loss gives, for a batch, its unreduced values (what Keras' `call` returns: one value per
entry of `y_pred` without its last axis, flattened here to (M,)) and the gradient of their
mean with respect to the predictions. The trainer takes that mean (and applies sample weights
itself); `Loss.__call__` applies the loss' `reduction` as Keras 3's `reduce_weighted_values`.

Gradients are derived, not numeric. Where Keras clips (to [epsilon, 1 - epsilon] or
max(x, epsilon), epsilon = 1e-7), the gradient is 0 where the clip is active, and kinks take
TensorFlow's subgradient: maximum(x, c) passes the gradient to x where x >= c, a clip passes
it where lo <= x <= hi, a max over an axis shares it equally among ties.

With `from_logits=False` and a softmax (sigmoid) output, the model hands the cross-entropy
(and binary focal) losses the *logits* instead (`fused_activation`), as Keras on TensorFlow
does (the `_keras_logits` a softmax or sigmoid output carries): the softmax + cross-entropy
gradient then comes from one fused kernel.
"""
import numbers

import numpy as np

from . import _kernels, _registry, _validate

__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "MeanSquaredError",
           "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber",
           "LogCosh", "KLDivergence", "Poisson", "CosineSimilarity", "Hinge", "SquaredHinge",
           "CategoricalHinge", "sparse_categorical_crossentropy", "categorical_crossentropy",
           "binary_crossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy",
           "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
           "mean_squared_logarithmic_error", "huber", "log_cosh", "kl_divergence", "poisson",
           "cosine_similarity", "hinge", "squared_hinge", "categorical_hinge", "get", "serialize",
           "deserialize"]

_EPS = 1e-7  # Keras' backend.epsilon()
_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ---- argument checks (one message shape: what, expected, received) --------------------------

def _reduction(v):
    if not (v is None or (isinstance(v, str) and v in _REDUCTIONS)):
        raise ValueError(f"`reduction` must be one of 'sum_over_batch_size', 'sum', 'mean', "
                         f"'mean_with_sample_weight', 'none' or None. Received: reduction={v!r}.")
    return v


def _dtype(v):
    try:
        ok = v is None or np.dtype(v) == np.float32
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"`dtype` must be None or 'float32' (pyconv computes in float32). "
                         f"Received: dtype={v!r}.")


def _real(v, name, lo=None, hi=None, lo_open=False):
    """`v` as a float, checked to lie in [lo, hi] ((lo, hi] with lo_open)."""
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"`{name}` must be a float. Received: {name}={v!r}.")
    f = float(v)
    if (not np.isfinite(f) or (lo is not None and (f <= lo if lo_open else f < lo))
            or (hi is not None and f > hi)):
        where = (f"in {'(' if lo_open else '['}{lo:g}, {hi:g}]" if hi is not None
                 else f"{'>' if lo_open else '>='} {lo:g}")
        raise ValueError(f"`{name}` must be a float {where}. Received: {name}={v!r}.")
    return f


def _axis_arg(v):
    if not _validate.is_int(v):
        raise TypeError(f"`axis` must be an int. Received: axis={v!r}.")
    return int(v)


def _axis(axis, ndim, last_only):
    """`axis` as a non-negative index into ndim axes: the last one when `last_only`, else any
    but the batch axis 0 (1-D predictions have only that one, which Keras then reduces)."""
    ok = -ndim <= axis < ndim and (axis % ndim == ndim - 1 if last_only else axis % ndim != 0 or ndim == 1)
    if not ok:
        what = "the last axis (-1)" if last_only else "a non-batch axis (not 0)"
        raise ValueError(f"`axis` must be {what} of `y_pred`, which has {ndim} axes. "
                         f"Received: axis={axis}.")
    return axis % ndim


def _inside(x, lo, hi):
    """Where clip(x, lo, hi) passes the gradient (TensorFlow: lo <= x <= hi)."""
    return (x >= lo) & (x <= hi)


def _scale(n):
    """1/n as float32, 0 for an empty batch."""
    return np.float32(1.0 / n) if n else np.float32(0.0)


def _mean_last(e, de):
    """A loss that averages `e` (elementwise, shaped like y_pred) over the last axis: the
    values flattened to (M,) and the gradient of their mean, from de/dy_pred elementwise."""
    vals = e.mean(-1) if e.shape[-1] else np.zeros(e.shape[:-1], np.float32)
    return (np.asarray(vals, np.float32).reshape(-1),
            np.asarray(de * _scale(e.size), np.float32))


# ---- Keras 3's reduction (keras/src/losses/loss.py), transcribed ------------------------------

def _same_rank(x1, x2):
    """squeeze_or_expand_to_same_rank: a rank difference of 1 with a trailing 1 is removed."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _weights(sample_weight):
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "fiub":
        raise TypeError(f"`sample_weight` must be numeric. Received: dtype={sw.dtype}.")
    return sw.astype(np.float32)


def _reduce(values, sample_weight, mask, reduction):
    """Keras 3's reduce_weighted_values: the mask merged into the weights (a masked entry
    weighs 0; for the mean reductions a kept one weighs total/valid, so the mean runs over the
    kept entries), the weights multiplied in, then the reduction. A scalar reduction is
    returned as a Python float; 'none', None and an empty batch as a float32 array."""
    values = np.asarray(values, np.float32)
    sw = None if sample_weight is None else _weights(sample_weight)
    if mask is not None:
        if reduction in ("mean", "sum_over_batch_size"):
            valid = int(mask.sum())
            fm = np.where(mask, np.float32(mask.size / valid if valid else 0.0), np.float32(0))
        else:
            fm = mask.astype(np.float32)
        if sw is None:
            sw = fm
        else:
            fm, sw = _same_rank(fm, sw)
            sw = sw * fm
    if sw is not None:
        values, sw = _same_rank(values, sw)
        try:
            values = values * sw
        except ValueError:
            raise ValueError(f"`sample_weight` must broadcast to the losses' shape {values.shape}. "
                             f"Received: sample_weight.shape={np.shape(sample_weight)}.") from None
    if reduction in (None, "none") or values.shape == (0,):
        return values
    if values.shape == ():   # Keras returns a scalar as it is: 1-D predictions make one value
        return float(values)
    loss = float(np.sum(values, dtype=np.float64))
    if reduction != "sum":
        divisor = (float(np.sum(sw, dtype=np.float64))
                   if reduction == "mean_with_sample_weight" and sw is not None else values.size)
        loss = loss / divisor if divisor else 0.0   # Keras: divide_no_nan
    return loss


# ---- base class -------------------------------------------------------------------------------

class Loss:
    """Base class, as Keras 3's `keras.losses.Loss`.

    Subclasses implement `_values_and_grad(y_true, y_pred)` -> (unreduced losses (M,) float32,
    d(mean of them)/d(y_pred) float32) and, when they take logits,
    `_values_and_grad_logits(y_true, logits)`; `_prepare_targets` converts the targets once
    (fit converts the whole `y` up front).

    Args:
        name: the loss' name.
        reduction: what `__call__` returns: "sum_over_batch_size" (default) and "mean": the
            sum over the batch divided by its number of entries; "sum"; "mean_with_sample_weight":
            the sum divided by the sum of the sample weights; "none" or None: no reduction.
            Training always takes the mean over the batch (sample weights included).
        dtype: None or "float32" (pyconv computes in float32).

    Raises:
        ValueError: an unknown reduction, a dtype other than float32.
    """

    fused_activation = None  # the output activation whose logits this loss can take directly
    from_logits = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _registry.to_snake_case(type(self).__name__)
        self.reduction = _reduction(reduction)
        _dtype(dtype)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss (a Python float), or the unreduced losses (float32, y_pred's shape
        without its last axis) for reduction "none"/None, as Keras 3's `Loss.__call__`.

        Args:
            y_true: the targets.
            y_pred: the predictions (logits with `from_logits=True`).
            sample_weight: None, a scalar, or weights broadcastable to the unreduced losses
                (e.g. one per example).
        """
        y_pred = np.asarray(y_pred, dtype=np.float32)
        _validate.same_batch(y_true, y_pred)
        y = self._prepare_targets(y_true, y_pred.shape)
        vals, mask = self._keras_values(y, y_pred)
        return _reduce(vals, sample_weight, mask, self.reduction)

    def _keras_values(self, y, p):
        """What Keras' `call` returns: the unreduced losses shaped like y_pred without its
        last axis, and the entries' mask (None: all count)."""
        f = self._values_and_grad_logits if self.from_logits else self._values_and_grad
        return f(y, p)[0].reshape(self._values_shape(p.shape)), None

    def _values_shape(self, pred_shape):
        return tuple(pred_shape[:-1])

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
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# ---- cross-entropies --------------------------------------------------------------------------

def _check_labels(y, n_classes, ignore_class=None):
    """Integer class labels in [0, n_classes) (or equal to `ignore_class`) as an int32 array."""
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
    kept = y if ignore_class is None else y[y != ignore_class]
    if kept.size:
        lo, hi = kept.min(), kept.max()
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"Received a label value of {bad.item()!r} which is outside the valid range "
                             f"of [0, {n_classes}) for a model with {n_classes} outputs. "
                             f"Label values: min {lo.item()}, max {hi.item()}.")
    return y.astype(np.int32)


def _onehot(labels, c):
    y = np.zeros((labels.size, c), np.float32)
    y[np.arange(labels.size), labels.reshape(-1)] = 1
    return y


def _softmax_xent_logits(labels, z, scale=None):
    """(losses (M,), d(mean)/dz, or the gradient times `scale`) of -log softmax(z)[label] for
    labels (M,) in [0, C): one fused kernel pass."""
    shape, c = z.shape, z.shape[-1]
    scale = _scale(labels.size) if scale is None else scale
    if z.ndim != 2 or z.dtype != np.float32 or not z.flags.c_contiguous:   # (fit's z already is)
        z = np.ascontiguousarray(z.reshape(-1, c), np.float32)
    if labels.ndim != 1 or labels.dtype != np.int32 or not labels.flags.c_contiguous:
        labels = np.ascontiguousarray(labels.reshape(-1), np.int32)
    loss, dz = _kernels.softmax_xent(z, labels, True, scale)
    return loss, dz if len(shape) == 2 else dz.reshape(shape)


def _cce_probs(y, p):
    """Keras' categorical cross-entropy of probabilities along the last axis:
    q = p / sum(p), -sum(y * log(clip(q, eps, 1 - eps))). Returns (losses, dlosses/dp
    elementwise per row, not yet divided by the batch)."""
    s = p.sum(-1, keepdims=True)
    q = p / s
    qc = np.clip(q, _EPS, 1 - _EPS)
    loss = -(y * np.log(qc)).sum(-1)
    dq = np.where(_inside(q, _EPS, 1 - _EPS), -y / qc, np.float32(0))
    return loss, (dq - (dq * q).sum(-1, keepdims=True)) / s




class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer labels (N,) (or (N, 1)) and class scores (N, C).

    With probabilities it is TensorFlow's: p clipped to [eps, 1 - eps], then the softmax
    cross-entropy of log(p): -log(p[label]) + log(sum(p)) (the row renormalised).

    Args:
        from_logits: whether `y_pred` are logits (else probabilities, e.g. a softmax output).
        ignore_class: None, or a label value (e.g. -1 or 255 for a "void" class) whose entries
            count 0 and are left out of the mean: with "sum_over_batch_size" the loss is the
            mean over the other entries (Keras' mask weight total/valid); training does the same.
        reduction: see `Loss`.
        axis: -1 (the class axis must be the last).
        name: the loss' name.
        dtype: None or "float32".

    Example:

    >>> loss = SparseCategoricalCrossentropy(ignore_class=3)
    >>> round(loss([1, 3, 0, 3], [[.2, .7, .1], [.5, .3, .2], [.6, .3, .1], [.1, .1, .8]]), 5)
    0.43375
    """

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        if ignore_class is not None and not _validate.is_int(ignore_class):
            raise TypeError(f"`ignore_class` must be None or an int (a label value). "
                            f"Received: ignore_class={ignore_class!r}.")
        if ignore_class is not None and not -2**31 <= ignore_class < 2**31:
            raise ValueError(f"`ignore_class` must be in the int32 range [-2**31, 2**31) (labels are "
                             f"int32). Received: ignore_class={ignore_class!r}.")
        self.from_logits = bool(from_logits)
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.axis = _axis_arg(axis)
        self.fused_activation = None if self.from_logits else "softmax"

    def _prepare_targets(self, y, pred_shape):
        y = np.asarray(y)
        n = pred_shape[-1]
        _axis(self.axis, len(pred_shape), True)
        want = tuple(pred_shape[1:-1])
        if y.shape[1:] != want:
            if y.shape[1:] == want + (1,):
                y = y.reshape(y.shape[:-1])
            else:
                raise ValueError(f"`y` must hold one integer label per example, shape (batch,"
                                 f"{''.join(' ' + str(d) + ',' for d in want)}) for class scores of shape "
                                 f"(None, {', '.join(str(d) for d in pred_shape[1:])}). "
                                 f"Received: y.shape={y.shape}.")
        return np.ascontiguousarray(_check_labels(y, n, self.ignore_class))

    def _split(self, y):
        """(labels with the ignored ones set to 0, the kept entries' mask or None)."""
        y = y.reshape(-1)
        if self.ignore_class is None:
            return y, None
        keep = y != self.ignore_class
        return np.where(keep, y, 0).astype(np.int32), keep

    def _raw(self, y, p, logits):
        """(losses, d(sum of the kept ones)/dp, mask or None), masked entries 0."""
        labels, keep = self._split(y)
        c = p.shape[-1]
        if logits:
            loss, d = _softmax_xent_logits(labels, p, np.float32(1))
            d = d.reshape(-1, c)
        else:
            p2 = p.reshape(-1, c)
            rows = np.arange(p2.shape[0])
            pc = np.clip(p2, _EPS, 1 - _EPS)
            s = pc.sum(-1)
            pick = pc[rows, labels]
            loss = np.log(s) - np.log(pick)
            inside = _inside(p2, _EPS, 1 - _EPS)
            d = np.where(inside, (1 / s)[:, None], np.float32(0))
            d[rows, labels] -= np.where(inside[rows, labels], 1 / pick, np.float32(0))
        if keep is not None:
            loss = np.where(keep, loss, np.float32(0))
            d[~keep] = 0
        return np.asarray(loss, np.float32), d.reshape(p.shape), keep

    def _masked_mean(self, y, p, logits):
        loss, d, keep = self._raw(y, p, logits)
        valid = loss.size if keep is None else int(keep.sum())
        if keep is not None and valid:
            loss = loss * np.float32(loss.size / valid)   # Keras' mask weight total/valid
        return loss, np.asarray(d * _scale(valid), np.float32)

    def _values_and_grad_logits(self, y, z):
        if self.ignore_class is None:    # the fast path: the kernel's gradient is already scaled
            return _softmax_xent_logits(y.reshape(-1), z)
        return self._masked_mean(y, z, True)

    def _values_and_grad(self, y, p):
        return self._masked_mean(y, p, self.from_logits)

    def _keras_values(self, y, p):
        loss, _, keep = self._raw(y, p, self.from_logits)
        shape = self._values_shape(p.shape)
        return loss.reshape(shape), None if keep is None else keep.reshape(shape)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}


class CategoricalCrossentropy(Loss):
    """-sum(y * log p) for one-hot (or probability) targets (N, C).

    With probabilities, as Keras: p / sum(p) clipped to [eps, 1 - eps]. One-hot targets are
    kept as labels and go through the same fused kernel as the sparse loss.

    Args:
        from_logits: whether `y_pred` are logits.
        label_smoothing: in [0, 1]: targets become y * (1 - label_smoothing) + label_smoothing / C.
        axis: -1.
        reduction, name, dtype: see `Loss`.

    Example:

    >>> round(CategoricalCrossentropy()([[0, 1, 0], [0, 0, 1]], [[.05, .95, 0], [.1, .8, .1]]), 4)
    1.1769
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _real(label_smoothing, "label_smoothing", 0.0, 1.0)
        self.axis = _axis_arg(axis)
        self.fused_activation = None if self.from_logits else "softmax"

    def _prepare_targets(self, y, pred_shape):
        _axis(self.axis, len(pred_shape), True)
        y = super()._prepare_targets(y, pred_shape)
        if self.label_smoothing:
            c = y.shape[-1]
            return (y * (1 - self.label_smoothing) + self.label_smoothing / c).astype(np.float32)
        if y.ndim == 2 and y.size and ((y == 0) | (y == 1)).all() and (y.sum(1) == 1).all():
            return np.ascontiguousarray(y.argmax(1).astype(np.int32))  # one-hot: as labels
        return y

    def _values_and_grad_logits(self, y, z):
        if y.dtype == np.int32:
            return _softmax_xent_logits(y, z)
        zs = z - z.max(-1, keepdims=True)
        logp = zs - np.log(np.exp(zs).sum(-1, keepdims=True))
        loss = -(y * logp).sum(-1)
        dz = np.exp(logp) * y.sum(-1, keepdims=True) - y
        return np.asarray(loss, np.float32).reshape(-1), np.asarray(dz * _scale(loss.size), np.float32)

    def _values_and_grad(self, y, p):
        if self.from_logits:
            return self._values_and_grad_logits(y, p)
        if y.dtype == np.int32:
            y = _onehot(y, p.shape[-1]).reshape(p.shape)
        loss, dp = _cce_probs(y, p)
        return np.asarray(loss, np.float32).reshape(-1), np.asarray(dp * _scale(loss.size), np.float32)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


def _bce_probs(y, p):
    """(elementwise -(y log p + (1 - y) log(1 - p)) with p clipped, d/dp)."""
    pc = np.clip(p, _EPS, 1 - _EPS)
    e = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    return e, np.where(_inside(p, _EPS, 1 - _EPS), (pc - y) / (pc * (1 - pc)), np.float32(0))


def _bce_logits(y, z):
    """(elementwise sigmoid cross-entropy of logits, as tf.nn computes it, d/dz, sigmoid(z))."""
    zd = z.astype(np.float64)
    e = (np.maximum(zd, 0) - zd * y + np.log1p(np.exp(-np.abs(zd)))).astype(np.float32)
    s = _kernels.sigmoid_fwd(np.ascontiguousarray(z, np.float32))
    return e, s - y, s


def _smooth_binary(y, label_smoothing):
    return (y * (1 - label_smoothing) + 0.5 * label_smoothing).astype(np.float32) if label_smoothing else y


class BinaryCrossentropy(Loss):
    """-(y log p + (1 - y) log(1 - p)), averaged over the last axis, for targets in [0, 1].

    Args:
        from_logits: whether `y_pred` are logits.
        label_smoothing: in [0, 1]: targets become y * (1 - label_smoothing) + 0.5 * label_smoothing.
        axis: -1.
        reduction, name, dtype: see `Loss`.

    Example:

    >>> round(BinaryCrossentropy(from_logits=True)([[0, 1], [0, 0]], [[-18.6, .51], [2.94, -12.8]]), 4)
    0.8655
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _real(label_smoothing, "label_smoothing", 0.0, 1.0)
        self.axis = _axis_arg(axis)
        self.fused_activation = None if self.from_logits else "sigmoid"

    def _prepare_targets(self, y, pred_shape):
        _axis(self.axis, len(pred_shape), True)
        return _smooth_binary(Loss._prepare_targets(self, y, pred_shape), self.label_smoothing)

    def _values_and_grad_logits(self, y, z):
        e, de, _ = _bce_logits(y, z)
        return _mean_last(e, de)

    def _values_and_grad(self, y, p):
        if self.from_logits:
            return self._values_and_grad_logits(y, p)
        return _mean_last(*_bce_probs(y, p))

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryFocalCrossentropy(Loss):
    """Binary cross-entropy times the focal factor (1 - p_t) ** gamma, averaged over the last
    axis (Lin et al., 2018), p_t = y p + (1 - y)(1 - p).

    As Keras on TensorFlow, logits (from_logits=True, or a sigmoid output in training) give
    the cross-entropy from the logits, unclipped; probabilities are clipped to [eps, 1 - eps]
    for the cross-entropy only.

    Args:
        apply_class_balancing: weigh class 1 by `alpha` and class 0 by 1 - alpha.
        alpha: in [0, 1], the weight of class 1 (with apply_class_balancing).
        gamma: >= 0, the focusing parameter (0: the binary cross-entropy).
        from_logits: whether `y_pred` are logits.
        label_smoothing: in [0, 1], as in BinaryCrossentropy.
        axis: -1.
        reduction, name, dtype: see `Loss`.

    Example:

    >>> loss = BinaryFocalCrossentropy(gamma=2, from_logits=True)
    >>> round(loss([[0, 1, 0, 0]], [[-18.6, 0.51, 2.94, -12.8]]), 3)
    0.691
    """

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        self.apply_class_balancing = bool(apply_class_balancing)
        self.alpha = _real(alpha, "alpha", 0.0, 1.0)
        self.gamma = _real(gamma, "gamma", 0.0)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _real(label_smoothing, "label_smoothing", 0.0, 1.0)
        self.axis = _axis_arg(axis)
        self.fused_activation = None if self.from_logits else "sigmoid"

    _prepare_targets = BinaryCrossentropy._prepare_targets

    def _focal(self, y, p, bce, dbce, dp):
        """Values and gradient of mean(w (1 - p_t)^gamma bce) from the cross-entropy `bce`, its
        derivative `dbce` and dp (d p / d y_pred: 1 for probabilities, p (1 - p) for logits)."""
        g = self.gamma
        q = 1 - (y * p + (1 - y) * (1 - p))        # 1 - p_t; dq/dp = 1 - 2y
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.power(q, np.float32(g))
            df = np.float32(g) * np.power(q, np.float32(g - 1)) if g else np.zeros_like(q)
        if 0 < g < 1:   # q = 0: df is infinite but df * bce -> 0 (bce vanishes as fast as q)
            df = np.where(q == 0, np.float32(0), df)
        e = f * bce
        de = df * (1 - 2 * y) * dp * bce + f * dbce
        if self.apply_class_balancing:
            w = y * np.float32(self.alpha) + (1 - y) * np.float32(1 - self.alpha)
            e, de = w * e, w * de
        return _mean_last(e, de)

    def _values_and_grad_logits(self, y, z):
        bce, dbce, p = _bce_logits(y, z)
        return self._focal(y, p, bce, dbce, p * (1 - p))

    def _values_and_grad(self, y, p):
        if self.from_logits:
            return self._values_and_grad_logits(y, p)
        return self._focal(y, p, *_bce_probs(y, p), np.float32(1))

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis,
                "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}


class CategoricalFocalCrossentropy(Loss):
    """sum(alpha (1 - q)^gamma (-y log q)) over the last axis, q = p / sum(p) clipped to
    [eps, 1 - eps] (with logits, p = softmax(logits) first), as Keras 3.

    Args:
        alpha: >= 0, a float or a list of one float per class.
        gamma: >= 0, the focusing parameter.
        from_logits: whether `y_pred` are logits.
        label_smoothing: in [0, 1], as in CategoricalCrossentropy.
        axis: -1.
        reduction, name, dtype: see `Loss`.

    Example:

    >>> loss = CategoricalFocalCrossentropy()
    >>> round(loss([[0., 1., 0.], [0., 0., 1.]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]), 5)
    0.23315
    """

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        if isinstance(alpha, (list, tuple, np.ndarray)):
            self.alpha = [_real(a, "alpha", 0.0) for a in np.asarray(alpha, dtype=object).reshape(-1)]
        else:
            self.alpha = _real(alpha, "alpha", 0.0)
        self.gamma = _real(gamma, "gamma", 0.0)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _real(label_smoothing, "label_smoothing", 0.0, 1.0)
        self.axis = _axis_arg(axis)

    def _prepare_targets(self, y, pred_shape):
        _axis(self.axis, len(pred_shape), True)
        y = super()._prepare_targets(y, pred_shape)
        if self.label_smoothing:
            y = (y * (1 - self.label_smoothing) + self.label_smoothing / y.shape[-1]).astype(np.float32)
        return y

    def _alpha(self, c):
        a = np.asarray(self.alpha, np.float32)
        if a.ndim and a.size != c:
            raise ValueError(f"`alpha` must be a float or hold one weight per class ({c}). "
                             f"Received: alpha={self.alpha!r}.")
        return a

    def _values_and_grad(self, y, p):
        if self.from_logits:
            return self._values_and_grad_logits(y, p)
        loss, dp = self._probs(y, p)
        return loss, np.asarray(dp * _scale(loss.size), np.float32)

    def _probs(self, y, p):
        a, g = self._alpha(p.shape[-1]), np.float32(self.gamma)
        s = p.sum(-1, keepdims=True)
        q = p / s
        qc = np.clip(q, _EPS, 1 - _EPS)
        ce = -y * np.log(qc)
        mod = np.power(1 - qc, g)              # 1 - qc >= eps: no 0 ** negative
        loss = (a * mod * ce).sum(-1)
        dqc = a * (-g * np.power(1 - qc, g - 1) * ce - mod * y / qc)
        dq = np.where(_inside(q, _EPS, 1 - _EPS), dqc, np.float32(0))
        dp = (dq - (dq * q).sum(-1, keepdims=True)) / s
        return np.asarray(loss, np.float32).reshape(-1), dp

    def _values_and_grad_logits(self, y, z):
        p = _kernels.softmax_fwd(np.ascontiguousarray(z, np.float32))
        loss, dp = self._probs(y, p)
        # d/dz from d/dp through p = softmax(z): the softmax kernel's backward
        return loss, _kernels.softmax_bwd(np.ascontiguousarray(dp * _scale(loss.size), np.float32), p)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis, "alpha": self.alpha,
                "gamma": self.gamma}


# ---- regression -------------------------------------------------------------------------------

class MeanSquaredError(Loss):
    """mean((y_pred - y_true)**2) over the last axis.

    Example:

    >>> round(MeanSquaredError()([[0., 1.], [0., 0.]], [[1., 1.], [1., 0.]]), 4)
    0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        d = p - y
        return _mean_last(d * d, d * np.float32(2))


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over the last axis.

    Example:

    >>> round(MeanAbsoluteError()([[0., 1.], [0., 0.]], [[1., 1.], [1., 0.]]), 4)
    0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        d = p - y
        return _mean_last(np.abs(d), np.sign(d))


class MeanAbsolutePercentageError(Loss):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps)) over the last axis.

    Example:

    >>> round(MeanAbsolutePercentageError()([[100., 200., 300.]], [[90., 210., 310.]]), 4)
    6.1111
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        den = np.maximum(np.abs(y), np.float32(_EPS))
        return _mean_last(np.float32(100) * np.abs((y - p) / den), np.float32(100) * np.sign(p - y) / den)


class MeanSquaredLogarithmicError(Loss):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2) over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        pm = np.maximum(p, np.float32(_EPS)) + 1
        a = np.log(pm) - np.log(np.maximum(y, np.float32(_EPS)) + 1)
        return _mean_last(a * a, np.where(p >= np.float32(_EPS), 2 * a / pm, np.float32(0)))


class Huber(Loss):
    """mean(0.5 x**2 if |x| <= delta else delta |x| - 0.5 delta**2) over the last axis,
    x = y_pred - y_true.

    Args:
        delta: > 0, where the loss turns from quadratic to linear.
        reduction, name, dtype: see `Loss`.

    Example:

    >>> round(Huber()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]), 3)
    0.155
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name, reduction, dtype)
        self.delta = _real(delta, "delta", 0.0, lo_open=True)

    def _values_and_grad(self, y, p):
        x = p - y
        ax, d = np.abs(x), np.float32(self.delta)
        small = ax <= d
        return _mean_last(np.where(small, np.float32(0.5) * x * x, d * ax - np.float32(0.5) * d * d),
                          np.where(small, x, d * np.sign(x)))

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}   # Keras 3.15 drops it (see docs)


class LogCosh(Loss):
    """mean(log(cosh(x))) over the last axis, x = y_pred - y_true, computed as Keras:
    x + softplus(-2x) - log(2).

    Example:

    >>> round(LogCosh()([[0., 1.], [0., 0.]], [[1., 1.], [0., 0.]]), 3)
    0.108
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        x = p - y
        e = x + np.logaddexp(np.float32(0), np.float32(-2) * x) - np.float32(np.log(2.0))
        return _mean_last(e, np.tanh(x))


# ---- probabilistic ----------------------------------------------------------------------------

class KLDivergence(Loss):
    """sum(y log(y / p)) over the last axis, y and p clipped to [eps, 1].

    Example:

    >>> round(KLDivergence()([[0., 1.], [0., 0.]], [[0.6, 0.4], [0.4, 0.6]]), 3)
    0.458
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        yc = np.clip(y, _EPS, 1)
        pc = np.clip(p, _EPS, 1)
        loss = (yc * np.log(yc / pc)).sum(-1)
        dp = np.where(_inside(p, _EPS, 1), -yc / pc, np.float32(0))
        return np.asarray(loss, np.float32).reshape(-1), np.asarray(dp * _scale(loss.size), np.float32)


class Poisson(Loss):
    """mean(y_pred - y_true * log(y_pred + eps)) over the last axis.

    Example:

    >>> round(Poisson()([[0., 1.], [0., 0.]], [[1., 1.], [0., 0.]]), 1)
    0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        pe = p + np.float32(_EPS)
        return _mean_last(p - y * np.log(pe), 1 - y / pe)


class CosineSimilarity(Loss):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) along `axis`; l2_normalize(x) =
    x * min(rsqrt(sum(x**2)), 1 / eps) as Keras 3 (a zero vector gives 0).

    Args:
        axis: the axis the similarity runs along (any but the batch axis); -1 by default.
        reduction, name, dtype: see `Loss`.

    Example:

    >>> loss = CosineSimilarity(reduction=None)
    >>> [round(float(v), 4) for v in loss([[0., 1.], [1., 1.]], [[1., 0.], [1., 1.]])]
    [-0.0, -1.0]
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(name, reduction, dtype)
        self.axis = _axis_arg(axis)

    def _values_shape(self, pred_shape):
        ax = _axis(self.axis, len(pred_shape), False)
        return tuple(d for i, d in enumerate(pred_shape) if i != ax)

    def _values_and_grad(self, y, p):
        ax = _axis(self.axis, p.ndim, False)
        cap = np.float32(1 / _EPS)
        with np.errstate(divide="ignore"):
            ry = 1 / np.sqrt((y * y).sum(ax, keepdims=True))
            rp_free = 1 / np.sqrt((p * p).sum(ax, keepdims=True))
        yn = y * np.minimum(ry, cap)
        rp = np.minimum(rp_free, cap)
        dot = (yn * p).sum(ax, keepdims=True)
        loss = -(dot * rp)
        # d/dp of -(yn . p) r, r = rsqrt(|p|^2) = -r^3 p where the cap is not active
        dp = -yn * rp + np.where(rp_free <= cap, dot * rp * rp * rp, np.float32(0)) * p
        loss = np.asarray(loss, np.float32).reshape(-1)
        return loss, np.asarray(dp * _scale(loss.size), np.float32)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}   # Keras 3.15 drops it (see docs)


# ---- hinge ------------------------------------------------------------------------------------

def _hinge_labels(y):
    """Keras' convert_binary_labels_to_hinge: 0/1 labels become -1/1 when the whole batch is
    0/1 (decided per call, as Keras decides per batch)."""
    return 2 * y - 1 if ((y == 0) | (y == 1)).all() else y


class Hinge(Loss):
    """mean(max(1 - y_true * y_pred, 0)) over the last axis; y_true in {-1, 1} (or {0, 1},
    converted).

    Example:

    >>> round(Hinge()([[0., 1.], [0., 0.]], [[0.6, 0.4], [0.4, 0.6]]), 2)
    1.3
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        y = _hinge_labels(y)
        u = 1 - y * p
        return _mean_last(np.maximum(u, np.float32(0)), np.where(u >= 0, -y, np.float32(0)))


class SquaredHinge(Loss):
    """mean(max(1 - y_true * y_pred, 0)**2) over the last axis; y_true as in Hinge.

    Example:

    >>> round(SquaredHinge()([[0., 1.], [0., 0.]], [[0.6, 0.4], [0.4, 0.6]]), 2)
    1.86
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        y = _hinge_labels(y)
        h = np.maximum(1 - y * p, np.float32(0))
        return _mean_last(h * h, -2 * h * y)


class CategoricalHinge(Loss):
    """max(neg - pos + 1, 0) per example, pos = sum(y_true * y_pred),
    neg = max((1 - y_true) * y_pred) (over the last axis).

    Example:

    >>> round(CategoricalHinge()([[0., 1.], [0., 0.]], [[0.6, 0.4], [0.4, 0.6]]), 1)
    1.4
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(name, reduction, dtype)

    def _values_and_grad(self, y, p):
        pos = (y * p).sum(-1)
        t = (1 - y) * p
        neg = t.max(-1) if t.shape[-1] else np.zeros(t.shape[:-1], np.float32)
        u = neg - pos + 1
        ties = (t == neg[..., None]).astype(np.float32)     # the max's gradient, shared by ties
        share = ties / np.maximum(ties.sum(-1, keepdims=True), np.float32(1))
        dp = np.where((u >= 0)[..., None], share * (1 - y) - y, np.float32(0))
        loss = np.maximum(u, np.float32(0)).astype(np.float32).reshape(-1)
        return loss, np.asarray(dp * _scale(loss.size), np.float32)


# ---- function forms (Keras: the unreduced losses) ---------------------------------------------

def _unreduced(loss, y_true, y_pred):
    y_pred = np.asarray(y_pred, np.float32)
    _validate.same_batch(y_true, y_pred)
    vals, _ = loss._keras_values(loss._prepare_targets(y_true, y_pred.shape), y_pred)
    return vals


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """The unreduced losses (y_pred's shape without its last axis; 0 at ignored entries)."""
    return _unreduced(SparseCategoricalCrossentropy(from_logits, ignore_class, axis=axis), y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(CategoricalCrossentropy(from_logits, label_smoothing, axis), y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(BinaryCrossentropy(from_logits, label_smoothing, axis), y_true, y_pred)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits,
                                              label_smoothing, axis), y_true, y_pred)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing, axis),
                      y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(MeanSquaredError(), y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(MeanAbsoluteError(), y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(MeanAbsolutePercentageError(), y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(MeanSquaredLogarithmicError(), y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(Huber(delta), y_true, y_pred)


def log_cosh(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(LogCosh(), y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(KLDivergence(), y_true, y_pred)


def poisson(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(Poisson(), y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """The unreduced losses (y_pred's shape without `axis`)."""
    return _unreduced(CosineSimilarity(axis), y_true, y_pred)


def hinge(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(Hinge(), y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(SquaredHinge(), y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """The unreduced losses (y_pred's shape without its last axis)."""
    return _unreduced(CategoricalHinge(), y_true, y_pred)


# ---- names ------------------------------------------------------------------------------------

# keras.losses.get's string names, exactly (case-sensitive, as Keras 3.15): the function names
# and the aliases of ALL_OBJECTS_DICT. Keras resolves them to the function; pyconv to the class.
_ALIASES = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber, "log_cosh": LogCosh,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "poisson": Poisson, "cosine_similarity": CosineSimilarity,
    "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
}
_CLASSES = {c.__name__: c for c in _ALIASES.values()}
_FUNCTIONS = {f: _ALIASES[f.__name__] for f in (
    sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy,
    binary_focal_crossentropy, categorical_focal_crossentropy, mean_squared_error,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error, huber,
    log_cosh, kl_divergence, poisson, cosine_similarity, hinge, squared_hinge, categorical_hinge)}


_REGISTRY = _registry.Registry("loss", Loss, _ALIASES, _CLASSES.values(), lower=False, callables=_FUNCTIONS)


def get(identifier):
    """A Loss from a Keras name ('sparse_categorical_crossentropy', 'mse', 'Huber', ...; as
    written, as Keras 3 matches them), a config dict, a loss function of this module, a Loss
    class or instance (None gives None).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value.
    """
    return _REGISTRY.get(identifier)


def serialize(loss):
    return _REGISTRY.serialize(loss)


def deserialize(config, custom_objects=None):
    """A Loss from `serialize`'s dict (Keras' own, with "module" and "registered_name", is read
    too) or from a name as `get` takes."""
    return _REGISTRY.deserialize(config, custom_objects)
