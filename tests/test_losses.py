"""Losses against Keras 3: float64 NumPy transcriptions of keras/src/losses/losses.py (and the
TensorFlow backend's cross-entropies, keras/src/backend/tensorflow/nn.py), numbers pasted from
real Keras 3.15.1 (/work/kvenv, KERAS_BACKEND=tensorflow), gradients by central finite
differences of the transcriptions, reductions, names, configs, training, and every error."""
import doctest

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from pyconv import layers, losses, models, optimizers, utils

EPS = 1e-7  # keras.backend.epsilon()


# ---- float64 transcriptions of Keras 3 (per-entry values: y_pred's shape without its last axis) ----

def _smooth_binary(y, ls):
    return y * (1.0 - ls) + 0.5 * ls if ls else y


def _smooth_categorical(y, ls):
    return y * (1.0 - ls) + ls / y.shape[-1] if ls else y


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _log_softmax(z):
    zs = z - z.max(-1, keepdims=True)
    return zs - np.log(np.exp(zs).sum(-1, keepdims=True))


def _bce_tf(y, p, from_logits):
    """tf backend binary_crossentropy: sigmoid_cross_entropy_with_logits, or clipped probabilities."""
    if from_logits:
        return np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))
    pc = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(pc) + (1 - y) * np.log(1 - pc))


def r_mse(y, p):
    return np.mean((y - p) ** 2, -1)


def r_mae(y, p):
    return np.mean(np.abs(y - p), -1)


def r_mape(y, p):
    return 100.0 * np.mean(np.abs((y - p) / np.maximum(np.abs(y), EPS)), -1)


def r_msle(y, p):
    return np.mean((np.log(np.maximum(p, EPS) + 1.0) - np.log(np.maximum(y, EPS) + 1.0)) ** 2, -1)


def r_huber(y, p, delta=1.0):
    e = p - y
    a = np.abs(e)
    return np.mean(np.where(a <= delta, 0.5 * e ** 2, delta * a - 0.5 * delta ** 2), -1)


def r_log_cosh(y, p):
    x = p - y
    return np.mean(x + np.logaddexp(0.0, -2.0 * x) - np.log(2.0), -1)


def r_kld(y, p):
    yc, pc = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
    return np.sum(yc * np.log(yc / pc), -1)


def r_poisson(y, p):
    return np.mean(p - y * np.log(p + EPS), -1)


def r_cosine(y, p, axis=-1):
    def normalize(x):   # ops.normalize, order 2: x * min(rsqrt(sum(x^2)), 1 / epsilon)
        with np.errstate(divide="ignore"):
            return x * np.minimum(1 / np.sqrt(np.sum(x * x, axis, keepdims=True)), 1 / EPS)
    return -np.sum(normalize(y) * normalize(p), axis)


def _to_hinge(y):
    return 2.0 * y - 1.0 if np.all((y == 0) | (y == 1)) else y


def r_hinge(y, p):
    return np.mean(np.maximum(1.0 - _to_hinge(y) * p, 0.0), -1)


def r_squared_hinge(y, p):
    return np.mean(np.maximum(1.0 - _to_hinge(y) * p, 0.0) ** 2, -1)


def r_categorical_hinge(y, p):
    pos = np.sum(y * p, -1)
    neg = np.max((1.0 - y) * p, -1)
    return np.maximum(neg - pos + 1.0, 0.0)


def r_bce(y, p, from_logits=False, label_smoothing=0.0):
    return np.mean(_bce_tf(_smooth_binary(y, label_smoothing), p, from_logits), -1)


def r_cce(y, p, from_logits=False, label_smoothing=0.0):
    y = _smooth_categorical(y, label_smoothing)
    if from_logits:   # softmax_cross_entropy_with_logits
        return -np.sum(y * _log_softmax(p), -1)
    q = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.sum(y * np.log(q), -1)


def r_scce(labels, p, from_logits=False, ignore_class=None):
    """(values with 0 at ignored entries, the kept entries' mask)."""
    labels = np.asarray(labels).astype(np.int64)
    keep = np.ones(labels.shape, bool) if ignore_class is None else labels != ignore_class
    labels = np.where(keep, labels, 0)
    # tf backend: probabilities are clipped, logged, then given to sparse_softmax_xent as logits
    logits = p if from_logits else np.log(np.clip(p, EPS, 1 - EPS))
    v = -np.take_along_axis(_log_softmax(logits), labels[..., None], -1)[..., 0]
    return np.where(keep, v, 0.0), keep


def r_bfce(y, p, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
    y = _smooth_binary(y, label_smoothing)
    # tf: ops.sigmoid keeps the logits (_keras_logits): the cross-entropy then comes from them
    bce = _bce_tf(y, p, from_logits)
    p = 1 / (1 + np.exp(-p)) if from_logits else p
    p_t = y * p + (1 - y) * (1 - p)
    focal = (1.0 - p_t) ** gamma * bce
    if apply_class_balancing:
        focal = (y * alpha + (1 - y) * (1 - alpha)) * focal
    return np.mean(focal, -1)


def r_cfce(y, p, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
    y = _smooth_categorical(y, label_smoothing)
    if from_logits:
        p = _softmax(p)
    out = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    cce = -y * np.log(out)
    return np.sum((1.0 - out) ** gamma * np.asarray(alpha) * cce, -1)


# ---- comparisons ----------------------------------------------------------------------------------

def assert_close(got, want, rtol, atol, what):
    """Elementwise |got - want| <= atol + rtol |want|; on failure, the largest excess and where."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    excess = np.abs(got - want) - (atol + rtol * np.abs(want))
    if excess.size and excess.max() > 0:
        i = np.unravel_index(np.argmax(excess), excess.shape)
        raise AssertionError(f"{what}: largest difference {abs(got[i] - want[i]):.3g} at {i} "
                             f"(got {got[i]!r}, want {want[i]!r}; rtol {rtol}, atol {atol:.3g})")


def numeric_grad(f, p, h=1e-6):
    """Central differences of the float64 objective f at p: truncation h^2 f'''/6 ~ 1e-12 and
    rounding ~ 1e-16 |f| / h ~ 1e-10 for the O(1)-O(100) objectives here."""
    p = p.astype(np.float64)
    g = np.empty_like(p)
    for i in np.ndindex(p.shape):
        a, b = p.copy(), p.copy()
        a[i] += h
        b[i] -= h
        g[i] = (f(a) - f(b)) / (2 * h)
    return g


# ---- the cases: (id, loss factory (C -> Loss), reference, data kind, kwargs, use the logits method) ----

def _data(kind, n, c, seed):
    """(y_true, y_pred) float32 for a data kind, away from kinks and clip edges where the
    gradient has none (each kind says how)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    normal = lambda *s: rng.standard_normal(s).astype(f32)
    prob = lambda *s: rng.uniform(0.02, 0.98, s).astype(f32)   # inside the clip [eps, 1 - eps]
    onehot = np.eye(c, dtype=f32)[rng.integers(0, c, n)]
    if kind == "reg":
        y, p = normal(n, c), normal(n, c)
        p = np.where(np.abs(p - y) < 1e-3, p + f32(0.01), p)         # |x| kink of MAE
        p = np.where(np.abs(np.abs(p - y) - 0.5) < 1e-3, p + f32(0.01), p)   # Huber's delta=0.5
        return y, p
    if kind == "reg3":
        return normal(n, c, 2), normal(n, c, 2)
    if kind == "mape":   # |y| >= 0.1: 100 / |y| stays moderate; p != y (the |x| kink)
        y = (rng.uniform(0.1, 2.0, (n, c)) * rng.choice([-1, 1], (n, c))).astype(f32)
        p = normal(n, c)
        return y, np.where(np.abs(p - y) < 1e-3, p + f32(0.01), p)
    if kind == "pos":    # y >= 0 (some 0); p in [0.1, 3]: log(p + eps), max(p, eps) smooth
        return np.where(rng.random((n, c)) < 0.2, f32(0), np.abs(normal(n, c))), \
            rng.uniform(0.1, 3.0, (n, c)).astype(f32)
    if kind == "binary":
        return (rng.random((n, c)) < 0.5).astype(f32), prob(n, c)
    if kind == "soft":
        return rng.random((n, c)).astype(f32), prob(n, c)
    if kind == "onehot":
        return onehot, prob(n, c)
    if kind == "onehot_logits":
        return onehot, normal(n, c) * f32(2)
    if kind == "binary_logits":
        return (rng.random((n, c)) < 0.5).astype(f32), normal(n, c) * f32(2)
    if kind in ("labels", "labels_logits", "ignore", "ignore_logits"):
        lab = rng.integers(0, c, n)
        if kind.startswith("ignore"):
            lab = np.where(rng.random(n) < 0.3, -1, lab)
        return lab, (normal(n, c) * f32(2) if kind.endswith("logits") else prob(n, c))
    if kind in ("hinge01", "hinge_pm1"):
        y = (rng.random((n, c)) < 0.5).astype(f32)
        y = y if kind == "hinge01" else 2 * y - 1
        p = normal(n, c)
        yh = 2 * y - 1 if kind == "hinge01" else y
        return y, np.where(np.abs(1 - yh * p) < 1e-3, p + f32(0.01), p)   # the max(., 0) kink
    if kind == "cathinge":   # the max over (1 - y) p has one clear winner; the hinge is not at 0
        while True:
            y, p = onehot, normal(n, c)
            t = np.sort((1 - y) * p, -1)
            u = r_categorical_hinge(y.astype(np.float64), p.astype(np.float64))
            if (c < 2 or (t[:, -1] - t[:, -2] > 1e-3).all()) and (np.abs(u - 0) > 1e-3).all():
                return y, p
    raise AssertionError(kind)


CASES = [
    ("mse", lambda c: losses.MeanSquaredError(), r_mse, "reg", {}, False),
    ("mae", lambda c: losses.MeanAbsoluteError(), r_mae, "reg", {}, False),
    ("mape", lambda c: losses.MeanAbsolutePercentageError(), r_mape, "mape", {}, False),
    ("msle", lambda c: losses.MeanSquaredLogarithmicError(), r_msle, "pos", {}, False),
    ("huber", lambda c: losses.Huber(), r_huber, "reg", {}, False),
    ("huber_delta", lambda c: losses.Huber(delta=0.5), r_huber, "reg", {"delta": 0.5}, False),
    ("log_cosh", lambda c: losses.LogCosh(), r_log_cosh, "reg", {}, False),
    ("kld", lambda c: losses.KLDivergence(), r_kld, "soft", {}, False),
    ("poisson", lambda c: losses.Poisson(), r_poisson, "pos", {}, False),
    ("cosine", lambda c: losses.CosineSimilarity(), r_cosine, "reg", {}, False),
    ("cosine_axis1", lambda c: losses.CosineSimilarity(axis=1), r_cosine, "reg3", {"axis": 1}, False),
    ("hinge01", lambda c: losses.Hinge(), r_hinge, "hinge01", {}, False),
    ("hinge_pm1", lambda c: losses.Hinge(), r_hinge, "hinge_pm1", {}, False),
    ("squared_hinge", lambda c: losses.SquaredHinge(), r_squared_hinge, "hinge01", {}, False),
    ("categorical_hinge", lambda c: losses.CategoricalHinge(), r_categorical_hinge, "cathinge", {}, False),
    ("bce", lambda c: losses.BinaryCrossentropy(label_smoothing=0.2), r_bce, "binary",
     {"label_smoothing": 0.2}, False),
    ("bce_soft", lambda c: losses.BinaryCrossentropy(), r_bce, "soft", {}, False),
    ("bce_logits", lambda c: losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), r_bce,
     "binary_logits", {"from_logits": True, "label_smoothing": 0.1}, False),
    ("bce_fused", lambda c: losses.BinaryCrossentropy(), r_bce, "binary_logits", {"from_logits": True}, True),
    ("cce", lambda c: losses.CategoricalCrossentropy(), r_cce, "onehot", {}, False),
    ("cce_soft_ls", lambda c: losses.CategoricalCrossentropy(label_smoothing=0.1), r_cce, "soft",
     {"label_smoothing": 0.1}, False),
    ("cce_logits_ls", lambda c: losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), r_cce,
     "onehot_logits", {"from_logits": True, "label_smoothing": 0.1}, False),
    ("cce_fused", lambda c: losses.CategoricalCrossentropy(), r_cce, "onehot_logits", {"from_logits": True}, True),
    ("scce", lambda c: losses.SparseCategoricalCrossentropy(), r_scce, "labels", {}, False),
    ("scce_logits", lambda c: losses.SparseCategoricalCrossentropy(from_logits=True), r_scce, "labels_logits",
     {"from_logits": True}, False),
    ("scce_ignore", lambda c: losses.SparseCategoricalCrossentropy(ignore_class=-1), r_scce, "ignore",
     {"ignore_class": -1}, False),
    ("scce_ignore_fused", lambda c: losses.SparseCategoricalCrossentropy(ignore_class=-1), r_scce,
     "ignore_logits", {"ignore_class": -1, "from_logits": True}, True),
    ("bfce", lambda c: losses.BinaryFocalCrossentropy(), r_bfce, "binary", {}, False),
    ("bfce_balanced", lambda c: losses.BinaryFocalCrossentropy(True, alpha=0.3, gamma=0.5, label_smoothing=0.1),
     r_bfce, "binary", {"apply_class_balancing": True, "alpha": 0.3, "gamma": 0.5, "label_smoothing": 0.1}, False),
    ("bfce_logits", lambda c: losses.BinaryFocalCrossentropy(gamma=1.5, from_logits=True), r_bfce,
     "binary_logits", {"gamma": 1.5, "from_logits": True}, False),
    ("bfce_fused", lambda c: losses.BinaryFocalCrossentropy(True, alpha=0.6), r_bfce, "binary_logits",
     {"apply_class_balancing": True, "alpha": 0.6, "from_logits": True}, True),
    ("cfce", lambda c: losses.CategoricalFocalCrossentropy(), r_cfce, "onehot", {}, False),
    ("cfce_alpha_list", lambda c: losses.CategoricalFocalCrossentropy(
        alpha=list(np.linspace(0.1, 0.9, c)), gamma=1.5, label_smoothing=0.1), r_cfce, "onehot",
     {"alpha": "per-class", "gamma": 1.5, "label_smoothing": 0.1}, False),
    ("cfce_logits", lambda c: losses.CategoricalFocalCrossentropy(gamma=0.0, from_logits=True), r_cfce,
     "onehot_logits", {"gamma": 0.0, "from_logits": True}, False),
]


def _ref(case, c):
    _, _, ref, _, kw, _ = case
    kw = dict(kw)
    if kw.get("alpha") == "per-class":
        kw["alpha"] = np.linspace(0.1, 0.9, c)
    return lambda y, p: ref(y, p, **kw)


def _objective(ref, y, p):
    """What training minimises: the mean over the kept entries (all of them but ignored labels)."""
    out = ref(y, p)
    vals, keep = out if isinstance(out, tuple) else (out, np.ones(out.shape, bool))
    return float(np.sum(vals * keep) / keep.sum()) if keep.sum() else 0.0


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@settings(max_examples=20)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
@example(n=1, c=1, seed=4935)   # p ~ y: Poisson's 1 - y/p and MSLE's log difference cancel (_term)
@example(n=1, c=1, seed=2240037)   # y = 1 smoothed to 0.95, p = 0.978: the focal loss's two terms cancel
def test_values_and_gradient_match_keras_transcription(case, n, c, seed):
    name, make, _, kind, _, logits_method = case
    loss = make(c)
    y, p = _data(kind, n, c, seed)
    ref = _ref(case, c)
    y64 = y.astype(np.float64) if y.dtype.kind == "f" else y
    p64 = p.astype(np.float64)
    out = ref(y64, p64)
    want, keep = out if isinstance(out, tuple) else (out, None)
    yy = loss._prepare_targets(y, p.shape)
    method = loss._values_and_grad_logits if (logits_method or loss.from_logits) else loss._values_and_grad
    vals, grad = method(yy, p)
    assert vals.dtype == np.float32 and grad.dtype == np.float32 and grad.shape == p.shape
    # float32 evaluation of the same formula on the same (float32) inputs: about ten roundings
    # of 2^-24 = 6e-8 each (measured: <= 4e-7 over 150 draws per case), sums of <= 6 terms, and
    # log-cosh's x + softplus(-2x) - log 2 (absolute cancellation ~ 2^-24 |x|): 2e-6 relative,
    # 1e-6 absolute of the largest value.
    scale = 1.0 + np.abs(want).max(initial=0.0)
    if keep is None:
        assert_close(vals, want.reshape(-1), 2e-6, 1e-6 * scale, f"{name} values")
    else:   # training's values carry Keras' mask weight total/valid; __call__'s are the raw ones
        weight = keep.size / keep.sum() if keep.sum() else 0.0
        assert_close(vals, np.where(keep, want * weight, 0.0).reshape(-1), 2e-6, 1e-6 * scale * max(weight, 1),
                     f"{name} values")
        if not logits_method:
            raw, mask = loss._keras_values(yy, p)
            assert_close(raw, want, 2e-6, 1e-6 * scale, f"{name} values")
            np.testing.assert_array_equal(keep if mask is None else mask, True if mask is None else keep)
    objective = _objective(ref, y64, p64)
    assert np.mean(vals, dtype=np.float64) == pytest.approx(objective, rel=2e-6, abs=1e-6 * scale)
    if not logits_method:   # __call__ with the default reduction is the same mean
        assert loss(y, p) == pytest.approx(objective, rel=2e-6, abs=1e-6 * scale)
    # gradient: the derived float32 gradient against central differences of the float64
    # transcription (error <= 1e-9, see numeric_grad); the float32 side rounds the chain rule
    # (a few products and quotients, a row sum for the normalisations; measured <= 5e-6):
    # 2e-5 relative to each entry plus 1e-6 of the largest entry or term (see _term).
    num = numeric_grad(lambda q: _objective(ref, y64, q), p64)
    assert_close(grad, num, 2e-5, 1e-6 * max(np.abs(num).max(initial=0.0), _term(case, y64, p64)) + 1e-12,
                 f"{name} gradient")


def _term(case, y, p):
    """Where the gradient is a difference of larger terms, their size sets the absolute rounding
    (2^-24 of it): cosine's -yn r + (yn . p) r^3 p, terms of 1 / (M |p|), can cancel to ~0
    (C = 1, or p parallel to y); the cross-entropies of logits, softmax(z) sum(y) - y (or
    sigmoid(z) - y), terms of <= 1 / M, to ~0 for a confident right prediction; Poisson's
    (1 - y / (p + eps)) / (M C), terms of 1 / (M C) and y / ((p + eps) M C), and MSLE's difference
    of logs, to ~0 where p ~ y; the binary focal loss's product rule, -gamma (1 - p_t)^(gamma-1)
    bce dp_t/dp + (1 - p_t)^gamma dbce/dp (times sigmoid' for logits), opposite in sign where bce
    is near its minimum (a smoothed label: y = 0.95, p = 0.978 cancels 25-fold)."""
    name, kind, kw, m = case[0], case[3], case[4], np.prod(p.shape[:-1])
    if name.startswith("bfce"):
        logits = kw.get("from_logits", False)
        ys = _smooth_binary(y, kw.get("label_smoothing", 0.0))
        q = 1 / (1 + np.exp(-p)) if logits else p
        qc, g = np.clip(q, EPS, 1 - EPS), kw.get("gamma", 2.0)
        rest = np.maximum(1 - (ys * q + (1 - ys) * (1 - q)), EPS)   # 1 - p_t
        focal_side = g * rest ** (g - 1) * _bce_tf(ys, p, logits) * np.abs(2 * ys - 1)
        bce_side = rest ** g * np.abs(ys / qc - (1 - ys) / (1 - qc))
        big = np.maximum(focal_side, bce_side) * (q * (1 - q) if logits else 1.0)
        return max(1.0 / m if logits else 0.0, float(big.max(initial=0.0)) / (m * p.shape[-1]))
    if name.startswith("cosine"):
        return 1.0 / (m * np.sqrt((p * p).sum(kw.get("axis", -1))).min())
    if name == "poisson":
        return max(1.0, float((y / (p + EPS)).max(initial=0.0))) / (m * p.shape[-1])
    if name == "msle":   # 2 (log(p+1) - log(y+1)) / ((p+1) M C): terms 2 log(.+1) / ((p+1) M C)
        big = np.maximum(np.abs(np.log1p(np.maximum(p, EPS))), np.abs(np.log1p(np.maximum(y, EPS))))
        return 2.0 * float((big / (np.maximum(p, EPS) + 1)).max(initial=0.0)) / (m * p.shape[-1])
    return 1.0 / m if kind.endswith("logits") else 0.0


# ---- hand-worked cases: numbers from Keras 3.15.1 (TensorFlow backend) in /work/kvenv --------------

YT = np.array([[0., 1., 0.], [1., 0., 0.]], np.float32)
YP = np.array([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]], np.float32)
YR = np.array([[1.5, -0.3, 2.0], [0.2, 0.0, -1.0]], np.float32)
PR = np.array([[0.5, 0.4, 3.5], [-0.1, 0.8, 1.0]], np.float32)

# (loss, y_true, y_pred, Keras' per-example values with reduction=None), pasted from /work/kvenv
KERAS_VALUES = [
    (losses.Huber(delta=0.5, reduction=None), YR, PR, [0.40833333134651184, 0.3983333110809326]),
    (losses.LogCosh(reduction=None), YR, PR, [0.5054970979690552, 0.5533657073974609]),
    (losses.KLDivergence(reduction=None), YT, YP, [0.35667213797569275, 0.6931442618370056]),
    (losses.KLDivergence(reduction=None), YP, YT, [4.0336103439331055, 7.02939510345459]),
    (losses.Poisson(reduction=None), np.abs(YR), np.abs(PR) + 0.1, [1.037438154220581, 0.8088590502738953]),
    (losses.CosineSimilarity(reduction=None), YR, PR, [-0.8516537547111511, 0.7786486148834229]),
    (losses.CosineSimilarity(reduction=None), np.zeros((2, 3)), PR, [0.0, 0.0]),
    (losses.CategoricalHinge(reduction=None), YT, PR, [4.099999904632568, 2.0999999046325684]),
    (losses.Hinge(reduction=None), YT, PR, [2.200000047683716, 1.6333333253860474]),
    (losses.Hinge(reduction=None), 2 * YT - 1, PR, [2.200000047683716, 1.6333333253860474]),
    # labels not all 0/1: not converted
    (losses.Hinge(reduction=None), [[0., 1., -1.], [1., 0., 0.]], PR, [2.0333333015441895, 1.0333333015441895]),
    (losses.SquaredHinge(reduction=None), YT, PR, [7.62000036239624, 2.816666603088379]),
    (losses.MeanSquaredLogarithmicError(reduction=None), YR, PR, [0.1795194149017334, 0.2863956391811371]),
    (losses.MeanAbsolutePercentageError(reduction=None), YR, PR, [125.00001525878906, 266666768.0]),
    (losses.BinaryFocalCrossentropy(reduction=None), YT, YP, [0.014026697725057602, 0.0714377611875534]),
    (losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=1.5, label_smoothing=0.1,
                                    reduction=None), YT, YP, [0.01843353547155857, 0.054042499512434006]),
    (losses.BinaryFocalCrossentropy(from_logits=True, reduction=None), YT, PR,
     [1.2619622945785522, 0.48818206787109375]),
    # logits: the cross-entropy comes from them, unclipped (20, not -log(1e-7) = 16.1)
    (losses.BinaryFocalCrossentropy(from_logits=True, gamma=0.0, reduction=None), [[0.]], [[20.]], [20.0]),
    (losses.BinaryFocalCrossentropy(gamma=0.0, reduction=None), [[0.]], [[1.]], [15.942384719848633]),
    (losses.CategoricalFocalCrossentropy(reduction=None), YT, YP, [0.008025187067687511, 0.043321698904037476]),
    (losses.CategoricalFocalCrossentropy(alpha=[0.1, 0.5, 0.9], gamma=1.0, label_smoothing=0.2, reduction=None),
     YT, YP * 1.5, [0.1792909801006317, 0.13538210093975067]),
    (losses.CategoricalFocalCrossentropy(from_logits=True, reduction=None), YT, PR,
     [0.7333597540855408, 0.333360493183136]),
    (losses.CategoricalCrossentropy(label_smoothing=0.2, reduction=None), YT, YP,
     [0.5699198246002197, 0.7882882952690125]),
    (losses.CategoricalCrossentropy(label_smoothing=0.2, from_logits=True, reduction=None), YT, PR,
     [2.977271556854248, 1.7328792810440063]),
    (losses.CategoricalCrossentropy(reduction=None), YT, YP * 2, [0.3566749691963196, 0.6931471824645996]),
    (losses.BinaryCrossentropy(label_smoothing=0.2, reduction=None), YT, YP,
     [0.37608692049980164, 0.49877500534057617]),
    (losses.BinaryCrossentropy(label_smoothing=0.2, from_logits=True, reduction=None), YT, PR,
     [1.5522809028625488, 1.0129196643829346]),
    (losses.BinaryCrossentropy(label_smoothing=1.0, reduction=None), YT, YP, [0.9668624997138977, 0.7965872883796692]),
    # probabilities that do not sum to 1: TensorFlow's -log(p[label]) + log(sum(p))
    (losses.SparseCategoricalCrossentropy(reduction=None), [1, 0], YP * 2, [0.47000372409820557, 0.6931473016738892]),
    (losses.SparseCategoricalCrossentropy(ignore_class=-1, from_logits=True, reduction=None), [2, -1], PR,
     [0.09060479700565338, 0.0]),
]


@pytest.mark.parametrize("loss,y,p,want", KERAS_VALUES,
                         ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(KERAS_VALUES)])
def test_hand_worked_cases_from_keras(loss, y, p, want):
    # Keras computes in float32 too: 2e-6 relative covers the two float32 evaluation orders
    np.testing.assert_allclose(loss(y, p), want, rtol=2e-6, atol=1e-7)


# (loss, y_true, y_pred, Keras' value, Keras' gradient d(loss)/d(y_pred) by tf.GradientTape),
# pasted from /work/kvenv: where Keras clips, the gradient is 0; kinks take TensorFlow's subgradient
KERAS_GRADIENTS = [
    (losses.CategoricalCrossentropy(), [[0., 1., 0.]], [[0.0, 0.6, 0.4]], 0.5108255743980408,
     [[1.0, -0.6666666269302368, 1.0]]),
    (losses.BinaryCrossentropy(), [[0., 1., 1.]], [[1.0, 0.0, 0.5]], 10.917874336242676,
     [[0.0, 0.0, -0.6666666865348816]]),
    (losses.BinaryFocalCrossentropy(), [[0., 1., 1.]], [[1.0, 0.0, 0.5]], 10.744587898254395,
     [[10.628256797790527, -10.745397567749023, -0.3977157473564148]]),
    (losses.CategoricalFocalCrossentropy(), [[0., 1., 0.]], [[0.0, 0.6, 0.4]], 0.02043301984667778,
     [[0.10129906237125397, -0.06753270328044891, 0.10129906237125397]]),
    (losses.SparseCategoricalCrossentropy(), [1, 0], [[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]], 8.05904769897461,
     [[0.4999999403953552, 0.0, 0.4999999403953552], [0.0, 0.0, 0.0]]),
    (losses.KLDivergence(), [[0.5, 0.5, 0.]], [[0.0, 1.5, 0.5]], 7.365899562835693,
     [[0.0, 0.0, -2.0000000233721948e-07]]),
    (losses.MeanSquaredLogarithmicError(), [[0.5, 0.5]], [[-1.0, 0.5]], 0.08220092207193375, [[0.0, 0.0]]),
    (losses.CategoricalHinge(), [[0., 1., 0.]], [[2.0, 1.0, 2.0]], 2.0, [[0.5, -1.0, 0.5]]),   # tied max
    (losses.Hinge(), [[1., -1.]], [[1.0, -1.0]], 0.0, [[-0.5, 0.5]]),                            # at the kink
    (losses.CosineSimilarity(), [[1., 2.]], [[0.0, 0.0]], 0.0, [[-4472136.0, -8944272.0]]),   # zero vector
]


@pytest.mark.parametrize("loss,y,p,value,grad", KERAS_GRADIENTS,
                         ids=[type(c[0]).__name__ for c in KERAS_GRADIENTS])
def test_clipped_and_kinked_gradients_as_tensorflow(loss, y, p, value, grad):
    p = np.asarray(p, np.float32)
    _, g = loss._values_and_grad(loss._prepare_targets(y, p.shape), p)
    assert loss(y, p) == pytest.approx(value, rel=2e-6)
    np.testing.assert_allclose(g, grad, rtol=2e-6, atol=1e-12)


@pytest.mark.parametrize("loss,y,p", [
    (losses.BinaryFocalCrossentropy(from_logits=True, gamma=0.5), [[1.]], [[100.]]),
    (losses.BinaryFocalCrossentropy(gamma=0.5), [[1.]], [[1.]]),
    (losses.BinaryFocalCrossentropy(gamma=0.0), [[1.]], [[1.]]),
])
def test_focal_gradient_at_a_saturated_prediction_is_its_limit_not_nan(loss, y, p):
    # Keras 3.15.1 on TensorFlow (/work/kvenv) gives NaN here: pow's gradient gamma * 0^(gamma - 1)
    # times 0. The loss is flat at p_t = 1 (its value is 0, or the clip's 1.2e-7), and the limit
    # of the gradient is 0: pyconv keeps 0, which a saturated sigmoid in training needs.
    p = np.asarray(p, np.float32)
    f = loss._values_and_grad_logits if loss.from_logits else loss._values_and_grad
    vals, g = f(loss._prepare_targets(y, p.shape), p)
    assert vals[0] == pytest.approx(0.0, abs=2e-7) and g.tolist() == [[0.0]]


def test_docstring_examples():
    result = doctest.testmod(losses, raise_on_error=False)
    assert result.attempted >= 18 and result.failed == 0


# ---- reductions (Keras 3's reduce_weighted_values) -----------------------------------------------

LAB4 = np.array([1, 3, 0, 3])
P4 = np.array([[.2, .7, .1], [.5, .3, .2], [.6, .3, .1], [.1, .1, .8]], np.float32)
SW4 = np.array([1., 2., 3., 4.], np.float32)

# reduction -> (MSE(YR, PR), with sample_weight [0.5, 2], SCCE(ignore_class=3)(LAB4, P4), with SW4)
KERAS_REDUCTIONS = {
    "sum_over_batch_size": (1.4116666316986084, 1.8883333206176758, 0.4337502717971802, 0.9445757865905762),
    "mean": (1.4116666316986084, 1.8883333206176758, 0.4337502717971802, 0.9445757865905762),
    "sum": (2.823333263397217, 3.7766666412353516, 0.8675005435943604, 1.8891515731811523),
    "mean_with_sample_weight": (1.4116666316986084, 1.5106666088104248, 0.4337502717971802, 0.4722878932952881),
    None: ([1.246666669845581, 1.5766667127609253], [0.6233333349227905, 3.1533334255218506],
           [0.3566749691963196, 0.0, 0.5108255743980408, 0.0], [0.3566749691963196, 0.0, 1.5324766635894775, 0.0]),
    "none": ([1.246666669845581, 1.5766667127609253], [0.6233333349227905, 3.1533334255218506],
             [0.3566749691963196, 0.0, 0.5108255743980408, 0.0], [0.3566749691963196, 0.0, 1.5324766635894775, 0.0]),
}


@pytest.mark.parametrize("reduction", list(KERAS_REDUCTIONS))
def test_reductions_sample_weights_and_ignore_class_as_keras(reduction):
    mse = losses.MeanSquaredError(reduction=reduction)
    scce = losses.SparseCategoricalCrossentropy(ignore_class=3, reduction=reduction)
    got = (mse(YR, PR), mse(YR, PR, sample_weight=[0.5, 2.0]), scce(LAB4, P4), scce(LAB4, P4, sample_weight=SW4))
    for g, w in zip(got, KERAS_REDUCTIONS[reduction]):
        assert isinstance(g, np.ndarray) == (reduction in (None, "none"))
        np.testing.assert_allclose(g, w, rtol=2e-6)


def test_reduction_edge_cases_as_keras():
    # from /work/kvenv: 1-D inputs make one value (the mean), which no reduction sums
    mse = losses.MeanSquaredError
    assert mse()([1., 2., 3.], [1.5, 2., 2.]) == pytest.approx(0.4166666567325592)
    assert mse(reduction="sum")([1., 2., 3.], [1.5, 2., 2.]) == pytest.approx(0.4166666567325592)
    assert mse(reduction="sum")([1., 2., 3.], [1.5, 2., 2.], sample_weight=[1., 2., 3.]) == pytest.approx(2.5)
    np.testing.assert_allclose(mse(reduction=None)([1., 2., 3.], [[1.5], [2.], [2.]]), [0.25, 0.0, 1.0])
    assert mse()(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0,)       # an empty batch: []
    assert mse(reduction="mean_with_sample_weight")(YR, PR, sample_weight=[0., 0.]) == 0.0   # divide_no_nan
    assert mse()(YR, PR, sample_weight=2.0) == pytest.approx(2.823333263397217)
    assert mse(reduction="mean_with_sample_weight")(YR, PR, sample_weight=2.0) == pytest.approx(2.823333263397217)
    assert losses.SparseCategoricalCrossentropy(ignore_class=3)([3, 3], YP) == 0.0   # nothing kept
    assert mse()(YR, PR, sample_weight=[[0.5], [2.0]]) == pytest.approx(1.8883333206176758)   # (N, 1) weights
    # 1-D: the similarity runs along the only axis (Keras: 0.12182900309562683)
    assert losses.CosineSimilarity()([1., 2., 3.], [4., 5., -6.]) == pytest.approx(0.12182900309562683, rel=2e-6)


def test_training_with_ignore_class_is_keras_masked_mean():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    y[::3] = 255
    utils.set_random_seed(0)
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(4,))])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=255)
    model.compile(optimizer=optimizers.SGD(0.5), loss=loss)
    before = model.evaluate(x, y, batch_size=40, verbose=0)
    # evaluate takes the logits (fused softmax); the loss on the probabilities agrees
    assert before == pytest.approx(loss(y, model.predict(x, verbose=0)), rel=1e-5)
    model.fit(x, y, epochs=30, batch_size=40, verbose=0)
    assert model.evaluate(x, y, batch_size=40, verbose=0) < 0.6 * before


# ---- training through compile(loss=...) -----------------------------------------------------------

def _fit(loss, activation, y, x, lr=0.1):
    utils.set_random_seed(0)
    model = models.Sequential([layers.Dense(y.shape[-1] if y.ndim > 1 else 3, activation=activation,
                                            input_shape=(x.shape[1],))])
    model.compile(optimizer=optimizers.SGD(lr, momentum=0.9), loss=loss)
    return model.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]


@pytest.mark.parametrize("loss,activation,target", [
    ("huber", None, "reg"), ("log_cosh", None, "reg"), ("msle", "sigmoid", "pos"), ("mape", None, "shifted"),
    ("poisson", "sigmoid", "onehot"), ("kld", "softmax", "onehot"), ("cosine_similarity", None, "reg"),
    ("hinge", "tanh", "onehot"), ("squared_hinge", None, "onehot"), ("categorical_hinge", None, "onehot"),
    ("binary_focal_crossentropy", "sigmoid", "onehot"), ("categorical_focal_crossentropy", "softmax", "onehot"),
    (losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=True), None, "onehot"),
    (losses.CategoricalFocalCrossentropy(from_logits=True), None, "onehot"),
    (losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax", "onehot"),
])
def test_training_decreases_the_loss(loss, activation, target):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    z = (x @ rng.standard_normal((4, 3))).astype(np.float32)
    y = {"reg": z, "pos": np.abs(z) / 5, "shifted": z + 5,
         "onehot": np.eye(3, dtype=np.float32)[z.argmax(1)]}[target]
    h = _fit(loss, activation, y, x, lr=1e-3 if loss == "mape" else 0.1)   # MAPE's gradient is 100 / |y|
    assert np.isfinite(h).all() and h[-1] < 0.8 * h[0], h


def test_binary_focal_on_a_sigmoid_output_takes_the_logits():
    # as Keras on TensorFlow: the model's sigmoid is fused and the loss gets its logits
    x = np.random.default_rng(1).standard_normal((32, 2)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    utils.set_random_seed(0)
    model = models.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(2,))])
    loss = losses.BinaryFocalCrossentropy(gamma=2.0)
    model.compile(optimizer="sgd", loss=loss)
    assert loss.fused_activation == "sigmoid"
    assert model.evaluate(x, y, verbose=0) == pytest.approx(loss(y, model.predict(x, verbose=0)), rel=1e-5)


# ---- names, configs -------------------------------------------------------------------------------

# keras.losses.get in /work/kvenv: these names resolve (functions for the snake-case ones), ...
KERAS_NAMES = {
    "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy,
    "categorical_crossentropy": losses.CategoricalCrossentropy,
    "binary_crossentropy": losses.BinaryCrossentropy, "bce": losses.BinaryCrossentropy,
    "BCE": losses.BinaryCrossentropy, "binary_focal_crossentropy": losses.BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": losses.CategoricalFocalCrossentropy,
    "mean_squared_error": losses.MeanSquaredError, "mse": losses.MeanSquaredError, "MSE": losses.MeanSquaredError,
    "mean_absolute_error": losses.MeanAbsoluteError, "mae": losses.MeanAbsoluteError, "MAE": losses.MeanAbsoluteError,
    "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError,
    "mape": losses.MeanAbsolutePercentageError, "MAPE": losses.MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": losses.MeanSquaredLogarithmicError,
    "msle": losses.MeanSquaredLogarithmicError, "MSLE": losses.MeanSquaredLogarithmicError,
    "huber": losses.Huber, "log_cosh": losses.LogCosh, "kl_divergence": losses.KLDivergence,
    "kld": losses.KLDivergence, "KLD": losses.KLDivergence, "poisson": losses.Poisson,
    "cosine_similarity": losses.CosineSimilarity, "hinge": losses.Hinge, "squared_hinge": losses.SquaredHinge,
    "categorical_hinge": losses.CategoricalHinge,
    "Huber": losses.Huber, "LogCosh": losses.LogCosh, "KLDivergence": losses.KLDivergence,
    "CosineSimilarity": losses.CosineSimilarity, "BinaryFocalCrossentropy": losses.BinaryFocalCrossentropy,
    "MeanSquaredLogarithmicError": losses.MeanSquaredLogarithmicError,
    "MeanAbsolutePercentageError": losses.MeanAbsolutePercentageError,
    "SparseCategoricalCrossentropy": losses.SparseCategoricalCrossentropy,
}
# ... and these raise "Could not interpret loss identifier" (Keras 3.15 dropped the legacy aliases)
KERAS_UNKNOWN = ["logcosh", "huber_loss", "kullback_leibler_divergence", "Mse", "cce", "scce"]


@pytest.mark.parametrize("name", list(KERAS_NAMES))
def test_names_resolve_as_keras(name):
    assert type(losses.get(name)) is KERAS_NAMES[name]


@pytest.mark.parametrize("name", KERAS_UNKNOWN)
def test_unknown_names_raise_with_the_list(name):
    with pytest.raises(ValueError, match=rf"Unknown loss: '{name}'. Valid values are: "
                                         r"'sparse_categorical_crossentropy', .*'huber', 'log_cosh', .*"
                                         r"a class name \(.*Huber.*\) or a pyconv.losses.Loss instance"):
        losses.get(name)


def test_get_other_identifiers():
    assert losses.get(None) is None
    h = losses.Huber(0.3)
    assert losses.get(h) is h
    assert type(losses.get(losses.LogCosh)) is losses.LogCosh
    assert type(losses.get(losses.huber)) is losses.Huber
    assert type(losses.get(losses.kl_divergence)) is losses.KLDivergence
    assert losses.get({"class_name": "Huber", "config": {"delta": 0.3}}).delta == 0.3
    with pytest.raises(TypeError, match=r"`loss` must be a string \('sparse_categorical_crossentropy', .*\) "
                                        r"or a pyconv.losses.Loss instance. Received: loss=3"):
        losses.get(3)


# get_config from /work/kvenv (Keras 3.15.1), plus pyconv's kept extras: Huber's delta and
# CosineSimilarity's axis, which Keras' own get_config drops (so its round trip loses them)
KERAS_CONFIGS = [
    (losses.Huber(delta=2.0), {"name": "huber_loss", "reduction": "sum_over_batch_size", "delta": 2.0}),
    (losses.CosineSimilarity(axis=1), {"name": "cosine_similarity", "reduction": "sum_over_batch_size", "axis": 1}),
    (losses.LogCosh(), {"name": "log_cosh", "reduction": "sum_over_batch_size"}),
    (losses.SparseCategoricalCrossentropy(ignore_class=3),
     {"name": "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
      "ignore_class": 3}),
    (losses.BinaryFocalCrossentropy(),
     {"name": "binary_focal_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
      "label_smoothing": 0.0, "axis": -1, "apply_class_balancing": False, "alpha": 0.25, "gamma": 2.0}),
    (losses.CategoricalFocalCrossentropy(),
     {"name": "categorical_focal_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
      "label_smoothing": 0.0, "axis": -1, "alpha": 0.25, "gamma": 2.0}),
    (losses.BinaryCrossentropy(), {"name": "binary_crossentropy", "reduction": "sum_over_batch_size",
                                   "from_logits": False, "label_smoothing": 0.0, "axis": -1}),
    (losses.CategoricalCrossentropy(), {"name": "categorical_crossentropy", "reduction": "sum_over_batch_size",
                                        "from_logits": False, "label_smoothing": 0.0, "axis": -1}),
    (losses.MeanSquaredError(), {"name": "mean_squared_error", "reduction": "sum_over_batch_size"}),
    (losses.KLDivergence(), {"name": "kl_divergence", "reduction": "sum_over_batch_size"}),
    (losses.Hinge(), {"name": "hinge", "reduction": "sum_over_batch_size"}),
]


@pytest.mark.parametrize("loss,config", KERAS_CONFIGS, ids=[type(c[0]).__name__ for c in KERAS_CONFIGS])
def test_config_as_keras(loss, config):
    assert loss.get_config() == config


@pytest.mark.parametrize("loss", [
    losses.Huber(0.5, reduction="sum", name="h"), losses.LogCosh(reduction=None), losses.KLDivergence(),
    losses.Poisson(), losses.CosineSimilarity(axis=1), losses.Hinge(), losses.SquaredHinge(),
    losses.CategoricalHinge(), losses.MeanSquaredLogarithmicError(), losses.MeanAbsolutePercentageError(),
    losses.BinaryFocalCrossentropy(True, 0.4, 1.5, True, 0.1), losses.CategoricalFocalCrossentropy([0.2, 0.8], 1.0),
    losses.SparseCategoricalCrossentropy(True, ignore_class=-1, reduction="mean_with_sample_weight"),
    losses.CategoricalCrossentropy(label_smoothing=0.1), losses.BinaryCrossentropy(True, 0.2),
    losses.MeanSquaredError(), losses.MeanAbsoluteError(),
], ids=lambda l: type(l).__name__)
def test_serialize_round_trip(loss):
    d = losses.serialize(loss)
    back = losses.deserialize(d)
    assert type(back) is type(loss) and back.get_config() == loss.get_config()
    assert losses.get(d).get_config() == loss.get_config()
    # Keras' own serialized form reads too
    keras_form = {"module": "keras.losses", "class_name": d["class_name"], "config": d["config"],
                  "registered_name": None}
    assert losses.deserialize(keras_form).get_config() == loss.get_config()


def test_function_forms_return_the_unreduced_losses():
    np.testing.assert_allclose(losses.huber(YR, PR, delta=0.5), [0.40833333134651184, 0.3983333110809326], rtol=2e-6)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([2, -1], PR, from_logits=True, ignore_class=-1),
                               [0.09060479700565338, 0.0], rtol=2e-6)
    np.testing.assert_allclose(losses.cosine_similarity(YR, PR), [-0.8516537547111511, 0.7786486148834229], rtol=2e-6)
    for f, cls in losses._FUNCTIONS.items():
        y, p = ([1, 2, 0, 2], P4) if cls is losses.SparseCategoricalCrossentropy else (np.abs(YR), np.abs(PR) + 0.1)
        v = f(y, p)
        assert v.shape == (len(p),) and v.dtype == np.float32
        np.testing.assert_allclose(v, cls(reduction=None)(y, p), rtol=1e-6)


# ---- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,exc,match", [
    (lambda: losses.MeanSquaredError(reduction="auto"), ValueError,
     r"`reduction` must be one of 'sum_over_batch_size', 'sum', 'mean', 'mean_with_sample_weight', 'none' or "
     r"None. Received: reduction='auto'"),
    (lambda: losses.Huber(dtype="float64"), ValueError,
     r"`dtype` must be None or 'float32' \(pyconv computes in float32\). Received: dtype='float64'"),
    (lambda: losses.Huber(delta=0), ValueError, r"`delta` must be a float > 0. Received: delta=0"),
    (lambda: losses.Huber(delta="1"), TypeError, r"`delta` must be a float. Received: delta='1'"),
    (lambda: losses.BinaryFocalCrossentropy(gamma=-1), ValueError, r"`gamma` must be a float >= 0. Received: gamma=-1"),
    (lambda: losses.BinaryFocalCrossentropy(alpha=1.5), ValueError,
     r"`alpha` must be a float in \[0, 1\]. Received: alpha=1.5"),
    (lambda: losses.CategoricalFocalCrossentropy(alpha=[0.5, -1]), ValueError,
     r"`alpha` must be a float >= 0. Received: alpha=-1"),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=2), ValueError,
     r"`label_smoothing` must be a float in \[0, 1\]. Received: label_smoothing=2"),
    (lambda: losses.BinaryCrossentropy(label_smoothing=float("nan")), ValueError,
     r"`label_smoothing` must be a float in \[0, 1\]. Received: label_smoothing=nan"),
    (lambda: losses.SparseCategoricalCrossentropy(ignore_class=1.5), TypeError,
     r"`ignore_class` must be None or an int \(a label value\). Received: ignore_class=1.5"),
    (lambda: losses.SparseCategoricalCrossentropy(ignore_class=2**40), ValueError,
     r"`ignore_class` must be in the int32 range \[-2\*\*31, 2\*\*31\) \(labels are int32\). "
     r"Received: ignore_class=1099511627776"),
    (lambda: losses.Huber(dtype="nonsense"), ValueError, r"`dtype` must be None or 'float32'.*Received: dtype='nonsense'"),
    (lambda: losses.CosineSimilarity(axis=1.0), TypeError, r"`axis` must be an int. Received: axis=1.0"),
])
def test_constructor_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("call,exc,match", [
    (lambda: losses.CategoricalFocalCrossentropy(alpha=[0.5, 0.5])(YT, YP), ValueError,
     r"`alpha` must be a float or hold one weight per class \(3\). Received: alpha=\[0.5, 0.5\]"),
    (lambda: losses.CategoricalCrossentropy(axis=0)(YT, YP), ValueError,
     r"`axis` must be the last axis \(-1\) of `y_pred`, which has 2 axes. Received: axis=0"),
    (lambda: losses.CosineSimilarity(axis=0)(YR, PR), ValueError,
     r"`axis` must be a non-batch axis \(not 0\) of `y_pred`, which has 2 axes. Received: axis=0"),
    (lambda: losses.CosineSimilarity(axis=2)(YR, PR), ValueError,
     r"`axis` must be a non-batch axis \(not 0\) of `y_pred`, which has 2 axes. Received: axis=2"),
    (lambda: losses.SparseCategoricalCrossentropy(ignore_class=-1)([0, 3], YP), ValueError,
     r"Received a label value of 3 which is outside the valid range of \[0, 3\)"),
    (lambda: losses.SparseCategoricalCrossentropy()([0, -1], YP), ValueError,
     r"Received a label value of -1 which is outside the valid range of \[0, 3\)"),
    (lambda: losses.MeanSquaredError()(YR, PR, sample_weight=[1., 2., 3.]), ValueError,
     r"`sample_weight` must broadcast to the losses' shape \(2,\). Received: sample_weight.shape=\(3,\)"),
    (lambda: losses.MeanSquaredError()(YR, PR, sample_weight=["a", "b"]), TypeError,
     r"`sample_weight` must be numeric. Received: dtype=<U1"),
    (lambda: losses.Huber()(YR, PR[:1]), ValueError,
     r"`y_true` and `y_pred` must hold the same number of examples \(axis 0\). "
     r"Received: y_true.shape=\(2, 3\), y_pred.shape=\(1, 3\)"),
    (lambda: losses.deserialize({"class_name": "Dice", "config": {}}), ValueError,
     r"Unknown loss class 'Dice': pass it in `custom_objects`"),
])
def test_call_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
