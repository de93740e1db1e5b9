"""Metrics against Keras 3.15.1: the numbers of real Keras on fixed data (scripts in the comments,
run with /work/kvenv/bin/python and KERAS_BACKEND=tensorflow), float64 NumPy transcriptions on
Hypothesis-drawn data, compile's names in fit/evaluate, configs and serialization, and every
error message.

Tolerances: Keras accumulates float32 counts and sums of at most 12 weights with one decimal
(relative error below 12 * 2**-24 = 7e-7), and its numbers are pasted rounded to 7 decimals;
pyconv accumulates in float64. Hence rtol 2e-6, atol 2e-7 against Keras, 1e-9 against the
float64 transcriptions.
"""
import copy
import doctest

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pyconv import layers, metrics, models
from reference import assert_close

KERAS_RTOL, KERAS_ATOL = 2e-6, 2e-7

# ---- fixed data: the same code is in /tmp/kref/cases.py, which the Keras script imports -------
BATCHES = (slice(0, 5), slice(5, 9), slice(9, 12))


def fixed_data():
    rng = np.random.default_rng(20240613)
    probs = np.round(rng.random((12, 4)), 1).astype(np.float32)        # 1 decimal: ties in rows
    labels = rng.integers(0, 4, 12)
    d = {"cat": (np.eye(4, dtype=np.float32)[labels], probs),
         "sparse": (labels, probs)}
    # 0, 0.5, 1 and two of AUC's bucket edges (k / 199) test the strict "> threshold"
    p_bin = np.array([0.0, 0.5, 1.0, 50 / 199, 100 / 199, 0.25, 0.75, 0.1, 0.9, 0.35, 0.62, 0.5], np.float32)
    y_bin = np.array([0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0], np.float32)
    d["bin"] = (y_bin[:, None], p_bin[:, None])
    d["bin1d"] = (y_bin, p_bin)
    d["multi"] = ((rng.random((12, 4)) < 0.4).astype(np.float32), np.round(rng.random((12, 4)), 2).astype(np.float32))
    d["logits"] = (y_bin[:, None], np.round(rng.normal(size=(12, 1)) * 3, 2).astype(np.float32))
    d["reg"] = (np.round(rng.normal(size=(12, 4)), 2).astype(np.float32),
                np.round(rng.normal(size=(12, 4)), 2).astype(np.float32))
    d["exact"] = (rng.integers(0, 3, 12).astype(np.float32), rng.integers(0, 3, 12).astype(np.float32))
    d["values"] = (np.round(rng.normal(size=(12, 3)), 2).astype(np.float32), None)
    w = np.round(rng.random(12) * 2, 1).astype(np.float32)
    weights = {None: None, "w": w, "w1": w[:, None], "w2d": np.round(rng.random((12, 4)) * 2, 1).astype(np.float32)}
    return d, weights


def test_fixed_data_is_what_keras_saw():
    d, _ = fixed_data()
    total = sum(np.asarray(a, np.float64).sum() + (0 if b is None else np.asarray(b, np.float64).sum())
                for a, b in d.values())
    assert total == pytest.approx(174.38753797113895, abs=1e-9)   # printed by the Keras script


CASES = [  # (class, kwargs, data, weights)
    ("TopKCategoricalAccuracy", {"k": 2}, "cat", None),
    ("TopKCategoricalAccuracy", {"k": 2}, "cat", "w"),
    ("TopKCategoricalAccuracy", {"k": 1}, "cat", "w1"),
    ("TopKCategoricalAccuracy", {}, "cat", "w"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse", None),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse", "w"),
    ("SparseTopKCategoricalAccuracy", {"k": 1}, "sparse", "w1"),
    ("Precision", {}, "bin", None),
    ("Precision", {}, "bin", "w"),
    ("Precision", {}, "bin1d", "w"),
    ("Recall", {}, "bin", None),
    ("Recall", {}, "bin", "w1"),
    ("Precision", {"thresholds": [0.3, 0.5, 0.7]}, "bin", "w"),
    ("Recall", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "bin", "w"),
    ("Precision", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "bin", None),
    ("Precision", {"top_k": 2}, "multi", "w"),
    ("Recall", {"top_k": 2}, "multi", None),
    ("Recall", {"class_id": 0}, "multi", "w"),
    ("Precision", {"top_k": 2, "class_id": 2}, "cat", None),
    ("Precision", {}, "cat", "w"),
    ("Recall", {"thresholds": 0.35}, "multi", "w2d"),
    ("AUC", {}, "bin", None),
    ("AUC", {}, "bin", "w"),
    ("AUC", {}, "bin1d", "w"),
    ("AUC", {"curve": "PR"}, "bin", None),
    ("AUC", {"curve": "PR"}, "bin", "w"),
    ("AUC", {"summation_method": "minoring"}, "bin", "w"),
    ("AUC", {"summation_method": "majoring"}, "bin", None),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, "bin", "w"),
    ("AUC", {"curve": "PRGAIN"}, "bin", "w"),
    ("AUC", {"num_thresholds": 7}, "bin", "w"),
    ("AUC", {"thresholds": [0.2, 0.5, 0.9]}, "bin", "w"),
    ("AUC", {"thresholds": [0.25, 0.5, 0.75]}, "bin", None),
    ("AUC", {"multi_label": True}, "multi", "w"),
    ("AUC", {"multi_label": True, "label_weights": [1.0, 2.0, 0.5, 1.0]}, "multi", None),
    ("AUC", {"multi_label": True, "curve": "PR", "num_labels": 4}, "multi", "w"),
    ("AUC", {"label_weights": [1.0, 2.0, 0.5, 1.0]}, "multi", "w"),
    ("AUC", {"from_logits": True}, "logits", "w"),
    ("AUC", {}, "cat", "w"),
    ("AUC", {"curve": "PR"}, "multi", "w2d"),
    ("F1Score", {}, "cat", None),
    ("F1Score", {}, "cat", "w"),
    ("F1Score", {"average": "micro"}, "cat", "w"),
    ("F1Score", {"average": "macro"}, "cat", "w"),
    ("F1Score", {"average": "weighted"}, "cat", "w"),
    ("F1Score", {"threshold": 0.5}, "multi", "w"),
    ("F1Score", {"average": "macro", "threshold": 0.3}, "multi", None),
    ("FBetaScore", {"beta": 2.0, "average": "weighted"}, "multi", "w"),
    ("FBetaScore", {"beta": 0.5}, "cat", None),
    ("MeanSquaredError", {}, "reg", None),
    ("MeanSquaredError", {}, "reg", "w"),
    ("MeanSquaredError", {}, "reg", "w2d"),
    ("MeanAbsoluteError", {}, "reg", "w1"),
    ("MeanAbsoluteError", {}, "reg", "w2d"),
    ("BinaryAccuracy", {}, "bin", "w"),
    ("BinaryAccuracy", {"threshold": 0.3}, "bin1d", None),
    ("CategoricalAccuracy", {}, "cat", "w"),
    ("SparseCategoricalAccuracy", {}, "sparse", "w1"),
    ("Accuracy", {}, "exact", "w"),
    ("Mean", {}, "values", "w"),
    ("Mean", {}, "values", "w1"),
    ("Mean", {}, "values", None),
    ("Sum", {}, "values", "w"),
    ("Sum", {}, "values", None),
]


def _run(case):
    """[result after the three batches, result after reset_state() and the first batch], as
    the Keras script computes them; the last batch goes through __call__, which returns the result."""
    cls, kwargs, data, wkey = case
    d, weights = fixed_data()
    y, p = d[data]
    w = weights[wkey]
    m = getattr(metrics, cls)(**kwargs)
    out = []
    for batches in (BATCHES, BATCHES[:1]):
        m.reset_state()
        for i, s in enumerate(batches):
            sw = None if w is None else w[s]
            args = (y[s],) if p is None else (y[s], p[s])
            if i < len(batches) - 1:
                m.update_state(*args, sample_weight=sw)
            else:
                r = m(*args, sample_weight=sw)
                assert np.array_equal(r, m.result())
        out.append(m.result())
    return out


# /tmp/kref/keras_metrics_ref.py: for each case, [result after the three batches,
# result after reset_state() and the first batch], rounded to 7 decimals.
KERAS = {
    0: [0.5833333, 0.6],  # TopKCategoricalAccuracy {'k': 2} cat None
    1: [0.5338345, 0.3673469],  # TopKCategoricalAccuracy {'k': 2} cat w
    2: [0.1203008, 0.0816327],  # TopKCategoricalAccuracy {'k': 1} cat w1
    3: [1.0, 1.0],  # TopKCategoricalAccuracy {} cat w
    4: [0.5833333, 0.6],  # SparseTopKCategoricalAccuracy {'k': 2} sparse None
    5: [0.5338345, 0.3673469],  # SparseTopKCategoricalAccuracy {'k': 2} sparse w
    6: [0.1203008, 0.0816327],  # SparseTopKCategoricalAccuracy {'k': 1} sparse w1
    7: [0.8, 1.0],  # Precision {} bin None
    8: [0.7164179, 1.0],  # Precision {} bin w
    9: [0.7164179, 1.0],  # Precision {} bin1d w
    10: [0.6666667, 0.6666667],  # Recall {} bin None
    11: [0.8, 0.7857143],  # Recall {} bin w1
    12: [[0.7317073, 0.7164179, 1.0], [1.0, 1.0, 1.0]],  # Precision {'thresholds': [0.3, 0.5, 0.7]} bin w
    13: [[1.0, 1.0, 0.8, 0.3666667, 0.0], [1.0, 1.0, 0.7857143, 0.2857143, 0.0]],  # Recall, 5 even thresholds, bin w
    14: [[0.5454546, 0.6666667, 0.8, 1.0, 0.0], [0.75, 0.75, 1.0, 1.0, 0.0]],  # Precision, 5 even thresholds
    15: [0.424812, 0.244898],  # Precision {'top_k': 2} multi w
    16: [0.4736842, 0.3],  # Recall {'top_k': 2} multi None
    17: [0.5238095, 0.5833333],  # Recall {'class_id': 0} multi w
    18: [0.4285714, 0.5],  # Precision {'top_k': 2, 'class_id': 2} cat None
    19: [0.1952192, 0.2364865],  # Precision {} cat w
    20: [0.5393258, 0.4390244],  # Recall {'thresholds': 0.35} multi w2d
    21: [0.8611111, 1.0],  # AUC {} bin None
    22: [0.8762556, 0.9999999],  # AUC {} bin w
    23: [0.8762556, 0.9999999],  # AUC {} bin1d w
    24: [0.865105, 1.0],  # AUC {'curve': 'PR'} bin None
    25: [0.8655205, 0.9999999],  # AUC {'curve': 'PR'} bin w
    26: [0.8694063, 0.9999999],  # AUC {'summation_method': 'minoring'} bin w
    27: [0.8888889, 1.0],  # AUC {'summation_method': 'majoring'} bin None
    28: [0.8766795, 0.9999999],  # AUC {'curve': 'PR', 'summation_method': 'majoring'} bin w
    29: [0.7576361, 0.9999999],  # AUC {'curve': 'PRGAIN'} bin w
    30: [0.9134703, 1.0],  # AUC {'num_thresholds': 7} bin w
    31: [0.8187214, 0.9132653],  # AUC {'thresholds': [0.2, 0.5, 0.9]} bin w
    32: [0.8611111, 0.9166667],  # AUC {'thresholds': [0.25, 0.5, 0.75]} bin None
    33: [0.5461955, 0.359651],  # AUC {'multi_label': True} multi w
    34: [0.5360377, 0.2962963],  # AUC {'multi_label': True, 'label_weights': [1.0, 2.0, 0.5, 1.0]} multi None
    35: [0.501296, 0.4323521],  # AUC {'multi_label': True, 'curve': 'PR', 'num_labels': 4} multi w
    36: [0.5915936, 0.3266904],  # AUC {'label_weights': [1.0, 2.0, 0.5, 1.0]} multi w
    37: [0.347032, 0.9047619],  # AUC {'from_logits': True} logits w
    38: [0.4375789, 0.3119534],  # AUC {} cat w
    39: [0.4955853, 0.4296694],  # AUC {'curve': 'PR'} multi w2d
    40: [[0.0, 0.0, 0.4444444, 0.0], [0.0, 0.0, 0.4999999, 0.0]],  # F1Score {} cat None
    41: [[0.0, 0.0, 0.3516483, 0.0], [0.0, 0.0, 0.2051282, 0.0]],  # F1Score {} cat w
    42: [0.1077441, 0.0620155],  # F1Score {'average': 'micro'} cat w
    43: [0.0879121, 0.051282],  # F1Score {'average': 'macro'} cat w
    44: [0.1110469, 0.0879121],  # F1Score {'average': 'weighted'} cat w
    45: [[0.5546218, 0.5999999, 0.0, 0.3943661], [0.6086955, 0.2051282, 0.0, 0.0]],  # F1Score thr 0.5 multi w
    46: [0.436272, 0.3333333],  # F1Score {'average': 'macro', 'threshold': 0.3} multi None
    47: [0.1693366, 0.2085235],  # FBetaScore {'beta': 2.0, 'average': 'weighted'} multi w
    48: [[0.0, 0.0, 0.4761904, 0.0], [0.0, 0.0, 0.4999999, 0.0]],  # FBetaScore {'beta': 0.5} cat None
    49: [1.9359103, 2.4368451],  # MeanSquaredError {} reg None
    50: [2.1136, 2.6079636],  # MeanSquaredError {} reg w
    51: "error",  # MSE reg w2d: Keras raises InvalidArgumentError (BroadcastTo)
    52: [1.0653195, 1.2637755],  # MeanAbsoluteError {} reg w1
    53: "error",  # MeanAbsoluteError {} reg w2d: Keras raises InvalidArgumentError likewise
    54: [0.7669173, 0.877551],  # BinaryAccuracy {} bin w
    55: [0.8333333, 1.0],  # BinaryAccuracy {'threshold': 0.3} bin1d None
    56: [0.1203008, 0.0816327],  # CategoricalAccuracy {} cat w
    57: [0.1203008, 0.0816327],  # SparseCategoricalAccuracy {} sparse w1
    58: [0.4210526, 0.6326531],  # Accuracy {} exact w
    59: [0.0617043, 0.1246258],  # Mean {} values w
    60: [0.0617043, 0.1246259],  # Mean {} values w1
    61: [0.1547222, 0.0706667],  # Mean {} values None
    62: [2.4619999, 1.832],  # Sum {} values w
    63: [5.5699997, 1.0599999],  # Sum {} values None
}


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{i}-{c[0]}-{c[2]}-{c[3]}" for i, c in enumerate(CASES)])
def test_matches_keras(i):
    if KERAS[i] == "error":
        with pytest.raises(ValueError, match=r"`sample_weight` must broadcast to the values' shape \(5,\). "
                                             r"Received: sample_weight.shape=\(5, 4\)"):
            _run(CASES[i])
        return
    got = _run(CASES[i])
    for r, k in zip(got, KERAS[i]):
        if isinstance(k, list):   # Keras gives a tensor: pyconv a float32 array
            assert isinstance(r, np.ndarray) and r.dtype == np.float32
        else:
            assert type(r) is float
        assert_close(r, k, KERAS_RTOL, KERAS_ATOL, f"case {i} {CASES[i]}")


# /tmp/kref/probe.py: edge cases, Keras 3.15.1 on TensorFlow.
def test_edges_match_keras():
    # in_top_k: ties count in; a label outside [0, classes) or a row with a non-finite score misses
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state([0, 1, 2, 5], np.array([[.5, .5, 0], [.5, .5, 0], [.2, .2, .2], [.1, .2, .3]], np.float32))
    assert m.result() == 0.75
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    assert m([0, 1], np.array([[np.nan, .5, 0], [np.nan, .5, 0]], np.float32)) == 0.0
    m = metrics.SparseTopKCategoricalAccuracy(k=2)
    assert m([0, 1], np.array([[np.inf, .5, 0], [.1, np.inf, 0]], np.float32)) == 0.0
    # MSE of 1-D inputs: one value per batch (Keras averages over the last axis)
    m = metrics.MeanSquaredError()
    m.update_state([0., 1.], [1., 1.])
    m.update_state([0., 0., 0., 0.], [0., 0., 0., 0.])
    assert m.result() == 0.25
    # Precision: (B,) labels with (B, 1) predictions; even thresholds clip predictions to [0, 1]
    assert metrics.Precision()([0, 1, 1], [[.6], [.7], [.2]]) == 0.5
    m = metrics.Precision(thresholds=[0.0, 0.5, 1.0])
    assert m([0, 1, 1, 1], [0.0, 0.5, 1.0, 1.5]).tolist() == [1.0, 1.0, 0.0]
    m = metrics.Precision(thresholds=[0.0, 0.4, 1.0])
    assert m([0, 1, 1, 1], [0.0, 0.5, 1.0, 1.5]).tolist() == [1.0, 1.0, 1.0]
    assert metrics.Recall(class_id=1, top_k=1)([[0, 1, 0], [0, 1, 0]], [[.2, .5, .3], [.5, .4, .1]]) == 0.5
    y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    assert metrics.AUC()(y, p) == pytest.approx(0.75, abs=1e-7)
    assert metrics.AUC(curve="PR")(y, p) == pytest.approx(0.7972674369812012, rel=KERAS_RTOL)
    assert metrics.Sum()([[1., 2.], [3., 4.]], sample_weight=[1., 0.5]) == 6.5
    assert metrics.AUC(thresholds=[0.6, 0.3]).thresholds == [-1e-07, 0.3, 0.6, 1.0000001]


# /tmp/kref/keras_configs.py: get_config() of each metric (Keras numbers default names
# auc_1, auc_2, ...; pyconv keeps the plain name: no global counter).
KERAS_CONFIGS = [
    ('TopKCategoricalAccuracy', {'k': 3}, {'name': 'top_k_categorical_accuracy', 'dtype': 'float32', 'k': 3}),
    ('SparseTopKCategoricalAccuracy', {}, {'name': 'sparse_top_k_categorical_accuracy', 'dtype': 'float32', 'k': 5}),
    ('SparseTopKCategoricalAccuracy', {'from_sorted_ids': True}, {'name': 'sparse_top_k_categorical_accuracy',
                                                                  'dtype': 'float32', 'k': 5, 'from_sorted_ids': True}),
    ('Precision', {'thresholds': [0.2, 0.7], 'class_id': 1}, {'name': 'precision', 'dtype': 'float32',
                                                              'thresholds': [0.2, 0.7], 'top_k': None, 'class_id': 1}),
    ('Recall', {'top_k': 2}, {'name': 'recall', 'dtype': 'float32', 'thresholds': None, 'top_k': 2, 'class_id': None}),
    ('AUC', {'curve': 'PR', 'multi_label': True, 'num_labels': 3, 'label_weights': [1.0, 2.0, 3.0]},
     {'name': 'auc', 'dtype': 'float32', 'num_thresholds': 200, 'curve': 'PR', 'summation_method': 'interpolation',
      'multi_label': True, 'num_labels': 3, 'label_weights': [1.0, 2.0, 3.0], 'from_logits': False}),
    ('AUC', {'thresholds': [0.3, 0.6], 'from_logits': True},
     {'name': 'auc', 'dtype': 'float32', 'num_thresholds': 4, 'curve': 'ROC', 'summation_method': 'interpolation',
      'multi_label': False, 'num_labels': None, 'label_weights': None, 'from_logits': True, 'thresholds': [0.3, 0.6]}),
    ('F1Score', {'average': 'macro', 'threshold': 0.4}, {'name': 'f1_score', 'dtype': 'float32', 'average': 'macro',
                                                         'threshold': 0.4}),
    ('FBetaScore', {'beta': 2.0}, {'name': 'fbeta_score', 'dtype': 'float32', 'average': None, 'beta': 2.0,
                                   'threshold': None}),
    ('Mean', {}, {'name': 'mean', 'dtype': 'float32'}),
    ('Sum', {}, {'name': 'sum', 'dtype': 'float32'}),
    ('MeanSquaredError', {}, {'name': 'mean_squared_error', 'dtype': 'float32'}),
    ('MeanAbsoluteError', {}, {'name': 'mean_absolute_error', 'dtype': 'float32'}),
    ('BinaryAccuracy', {'threshold': 0.7}, {'name': 'binary_accuracy', 'dtype': 'float32', 'threshold': 0.7}),
    ('CategoricalAccuracy', {}, {'name': 'categorical_accuracy', 'dtype': 'float32'}),
    ('SparseCategoricalAccuracy', {}, {'name': 'sparse_categorical_accuracy', 'dtype': 'float32'}),
    ('Accuracy', {}, {'name': 'accuracy', 'dtype': 'float32'}),
]


@pytest.mark.parametrize("cls, kwargs, config", KERAS_CONFIGS, ids=[c[0] for c in KERAS_CONFIGS])
def test_config_matches_keras_and_round_trips(cls, kwargs, config):
    m = getattr(metrics, cls)(**kwargs)
    assert m.get_config() == config
    again = metrics.deserialize(metrics.serialize(m))
    assert type(again) is type(m) and again.get_config() == config
    assert type(metrics.get(metrics.serialize(m))) is type(m)
    assert repr(m) == f"<{cls} name={config['name']}>"


def test_serialized_state_is_not_kept_and_copies_are_independent():
    d, weights = fixed_data()
    y, p = d["multi"]
    for m in (metrics.AUC(multi_label=True), metrics.F1Score(), metrics.Precision(thresholds=[0.3, 0.6]),
              metrics.SparseTopKCategoricalAccuracy(k=2), metrics.Sum()):
        args = (y[:6],) if isinstance(m, metrics.Sum) else (y[:6], p[:6])
        m.update_state(*args)
        before = np.copy(m.result())
        c = copy.deepcopy(m)
        c.update_state(*((y[6:],) if isinstance(m, metrics.Sum) else (y[6:], p[6:])))
        assert np.array_equal(m.result(), before)            # the copy has its own state
        fresh = metrics.deserialize(metrics.serialize(m))
        fresh.update_state(*args)
        assert np.array_equal(fresh.result(), before)        # a config holds no running values
        c.reset_state()
        c.update_state(*args)
        assert np.array_equal(c.result(), before)


def test_thresholds_config_is_plain_floats():
    m = metrics.Precision(thresholds=np.array([0.25, 0.5], np.float32))
    assert m.get_config()["thresholds"] == [0.25, 0.5] and type(m.get_config()["thresholds"][0]) is float
    assert metrics.Recall(thresholds=np.float32(0.5)).get_config()["thresholds"] == 0.5


def test_results_before_any_update():
    assert metrics.AUC(multi_label=True).result() == 0.0
    assert metrics.AUC().result() == 0.0
    assert metrics.Precision().result() == 0.0
    assert metrics.F1Score(average="macro").result() == 0.0
    r = metrics.F1Score().result()
    assert isinstance(r, np.ndarray) and r.shape == (0,) and r.dtype == np.float32
    assert metrics.TopKCategoricalAccuracy().result() == 0.0
    assert metrics.Sum().result() == 0.0


def test_loss_labels_count_as_one_hot():
    """Targets a cross-entropy loss turned into int32 labels give what the one-hot rows give."""
    d, weights = fixed_data()
    y, p = d["cat"]
    labels = y.argmax(1).astype(np.int32)
    w = weights["w"]
    for make in (metrics.TopKCategoricalAccuracy, lambda: metrics.Precision(top_k=2), metrics.Recall,
                 lambda: metrics.AUC(multi_label=True), metrics.AUC, metrics.F1Score,
                 lambda: metrics.FBetaScore(beta=2.0, average="weighted"), metrics.MeanSquaredError,
                 metrics.MeanAbsoluteError, metrics.CategoricalAccuracy):
        a, b = make(), make()
        a.update_state(y, p, sample_weight=w)
        b.update_state(labels, p, sample_weight=w)
        assert np.array_equal(a.result(), b.result()), a
    # the sparse metrics take float one-hot rows too (argmax)
    a, b = metrics.SparseTopKCategoricalAccuracy(k=2), metrics.SparseTopKCategoricalAccuracy(k=2)
    a.update_state(y, p)
    b.update_state(labels[:, None], p)
    assert a.result() == b.result()


def test_from_sorted_ids():
    # Keras's docstring example: 0.5
    m = metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True)
    assert m([2, 1], [[1, 0, 3], [1, 2, 3]]) == 0.5
    m = metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    assert m([2, 1], [[1, 1, 2], [1, 2, 3]]) == 0.5    # an id listed twice counts once


def test_doctests():
    result = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


# ---- float64 NumPy transcriptions on drawn data ----------------------------------------------
def _draw(data, classes_min=2):
    """Batches of (labels, scores on a 1/97 grid, weights) from drawn sizes and a drawn seed.
    Scores k/97 never lie within float32 rounding of a threshold i/199 or i/(T-1) with T - 1
    prime to 97, so the bucket route and a plain comparison agree exactly."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    c = data.draw(st.integers(classes_min, 5), label="classes")
    sizes = data.draw(st.lists(st.integers(1, 7), min_size=1, max_size=3), label="batch sizes")
    weighted = data.draw(st.booleans(), label="weighted")
    out = []
    for n in sizes:
        y = rng.integers(0, c, n)
        p = (rng.integers(0, 98, (n, c)) / 97).astype(np.float32)
        w = np.round(rng.random(n) * 2, 1).astype(np.float32) if weighted else None   # float32, as fit passes
        out.append((y, p, w))
    return c, out


def _cat(batches):
    y = np.concatenate([b[0] for b in batches])
    p = np.concatenate([b[1] for b in batches])
    w = None if batches[0][2] is None else np.concatenate([b[2] for b in batches])
    return y, p, (np.ones(len(y)) if w is None else w.astype(np.float64))


@settings(max_examples=20)
@given(data=st.data())
def test_top_k_vs_numpy(data):
    c, batches = _draw(data)
    k = data.draw(st.integers(1, c), label="k")
    m, ms = metrics.TopKCategoricalAccuracy(k=k), metrics.SparseTopKCategoricalAccuracy(k=k)
    for y, p, w in batches:
        m.update_state(np.eye(c)[y], p, sample_weight=w)
        ms.update_state(y, p, sample_weight=w)
    y, p, w = _cat(batches)
    hit = np.array([sum(p[i] > p[i, y[i]]) < k for i in range(len(y))])
    ref = (w * hit).sum() / w.sum() if w.sum() else 0.0
    assert_close(m.result(), ref, 1e-9, 1e-12, "top-k")
    assert_close(ms.result(), ref, 1e-9, 1e-12, "sparse top-k")


def _counts(truth, p, w, thresholds):
    """tp, fp, fn, tn per threshold: elements above the threshold (float32), weights added."""
    out = []
    for t in np.asarray(thresholds, np.float32):
        pos = p > t
        out.append([(w * (pos & truth)).sum(), (w * (pos & ~truth)).sum(),
                    (w * (~pos & truth)).sum(), (w * (~pos & ~truth)).sum()])
    return np.array(out).T


def _div(a, b):
    return a / b if b else 0.0


@settings(max_examples=20)
@given(data=st.data())
def test_precision_recall_vs_numpy(data):
    c, batches = _draw(data)
    thresholds = data.draw(st.sampled_from([None, [0.3, 0.5, 0.8], [0.0, 0.25, 0.5, 0.75, 1.0]]), label="thr")
    top_k = data.draw(st.sampled_from([None, 1, 2]), label="top_k")
    class_id = data.draw(st.sampled_from([None, 0, 1]), label="class_id")
    kw = {"thresholds": thresholds, "top_k": top_k, "class_id": class_id}
    prec, rec = metrics.Precision(**kw), metrics.Recall(**kw)
    for y, p, w in batches:
        prec.update_state(np.eye(c)[y], p, sample_weight=w)
        rec.update_state(y.astype(np.int32), p, sample_weight=w)   # the loss's labels
    y, p, w = _cat(batches)
    truth = np.eye(c, dtype=bool)[y]
    p = p.copy()
    if top_k is not None:   # the top k of each row (ties: the lower index) keep their score
        for i in range(len(p)):
            drop = np.argsort(-p[i], kind="stable")[top_k:]
            p[i, drop] = -1e10
    if class_id is not None:
        truth, p = truth[:, class_id:class_id + 1], p[:, class_id:class_id + 1]
    thr = thresholds if thresholds is not None else [0.5 if top_k is None else -1e10]
    if isinstance(thr, list) and len(thr) == 5:   # Keras's even-threshold route clips to [0, 1]
        p = np.clip(p, 0, 1)
    tp, fp, fn, _ = _counts(truth, p, np.broadcast_to(w[:, None], truth.shape), thr)
    ref_p = [_div(a, a + b) for a, b in zip(tp, fp)]
    ref_r = [_div(a, a + b) for a, b in zip(tp, fn)]
    rtol = 1e-9 if len(thr) == 1 else 1e-7    # several thresholds: a float32 array, as Keras
    assert_close(prec.result(), ref_p[0] if len(thr) == 1 else ref_p, rtol, 1e-12, "precision")
    assert_close(rec.result(), ref_r[0] if len(thr) == 1 else ref_r, rtol, 1e-12, "recall")


def _auc_ref(tp, fp, fn, tn, curve, summation):
    """Keras 3's AUC.result as a loop over the intervals between thresholds."""
    total = 0.0
    for i in range(len(tp) - 1):
        if curve == "PR" and summation == "interpolation":
            dtp = tp[i] - tp[i + 1]
            pa, pb = tp[i] + fp[i], tp[i + 1] + fp[i + 1]
            slope = _div(dtp, max(pa - pb, 0))
            intercept = tp[i + 1] - slope * pb
            ratio = pa / pb if pa > 0 and pb > 0 else 1.0
            total += _div(slope * (dtp + intercept * np.log(ratio)), max(tp[i + 1] + fn[i + 1], 0))
            continue
        if curve == "ROC":
            xa, xb = _div(fp[i], fp[i] + tn[i]), _div(fp[i + 1], fp[i + 1] + tn[i + 1])
            ya, yb = _div(tp[i], tp[i] + fn[i]), _div(tp[i + 1], tp[i + 1] + fn[i + 1])
        else:
            xa, xb = _div(tp[i], tp[i] + fn[i]), _div(tp[i + 1], tp[i + 1] + fn[i + 1])
            ya, yb = _div(tp[i], tp[i] + fp[i]), _div(tp[i + 1], tp[i + 1] + fp[i + 1])
        h = {"interpolation": (ya + yb) / 2, "minoring": min(ya, yb), "majoring": max(ya, yb)}[summation]
        total += (xa - xb) * h
    return total


@settings(max_examples=20)
@given(data=st.data())
def test_auc_vs_numpy(data):
    c, batches = _draw(data)
    curve = data.draw(st.sampled_from(["ROC", "PR"]), label="curve")
    summation = data.draw(st.sampled_from(["interpolation", "minoring", "majoring"]), label="summation")
    num = data.draw(st.sampled_from([200, 7, 2]), label="num_thresholds")
    multi = data.draw(st.booleans(), label="multi_label")
    m = metrics.AUC(num_thresholds=num, curve=curve, summation_method=summation, multi_label=multi)
    for y, p, w in batches:
        m.update_state(np.eye(c)[y], p, sample_weight=w)
    y, p, w = _cat(batches)
    truth = np.eye(c, dtype=bool)[y]
    thr = [-1e-7] + [(i + 1) / (num - 1) for i in range(num - 2)] + [1 + 1e-7]
    ww = np.broadcast_to(w[:, None], truth.shape)
    if multi:
        ref = np.mean([_auc_ref(*_counts(truth[:, j], p[:, j], ww[:, j], thr), curve, summation) for j in range(c)])
    else:
        ref = _auc_ref(*_counts(truth.ravel(), p.ravel(), ww.ravel(), thr), curve, summation)
    assert_close(m.result(), ref, 1e-9, 1e-12, "AUC")


@settings(max_examples=20)
@given(data=st.data())
def test_roc_auc_between_every_score_is_mann_whitney(data):
    """Thresholds between all grid scores: the trapezoid ROC area is the (weighted) probability
    that a positive scores above a negative, ties counted half -- an independent oracle."""
    _, batches = _draw(data)
    m = metrics.AUC(thresholds=[(k + 0.5) / 97 for k in range(97)])
    for y, p, w in batches:
        m.update_state(y % 2, p[:, 0], sample_weight=w)
    y, p, w = _cat(batches)
    y, p = y % 2 == 1, p[:, 0].astype(np.float64)
    wp, wn = w[y], w[~y]
    pos, neg = p[y][:, None], p[~y][None, :]
    num = (wp[:, None] * wn[None, :] * ((pos > neg) + 0.5 * (pos == neg))).sum()
    den = wp.sum() * wn.sum()
    if den == 0:
        return
    assert_close(m.result(), num / den, 1e-9, 1e-12, "Mann-Whitney")


@settings(max_examples=20)
@given(data=st.data())
def test_f_scores_vs_numpy(data):
    c, batches = _draw(data)
    average = data.draw(st.sampled_from([None, "micro", "macro", "weighted"]), label="average")
    threshold = data.draw(st.sampled_from([None, 0.5]), label="threshold")
    beta = data.draw(st.sampled_from([1.0, 2.0, 0.5]), label="beta")
    m = metrics.FBetaScore(average=average, beta=beta, threshold=threshold)
    for y, p, w in batches:
        m.update_state(np.eye(c)[y], p, sample_weight=w)
    y, p, w = _cat(batches)
    truth = np.eye(c)[y]
    if threshold is None:
        pred = ((p == p.max(1, keepdims=True)) & (p != 0)).astype(float)
    else:
        pred = (p > threshold).astype(float)
    tp, fp, fn, sup = (np.array([(w * a[:, j]).sum() for j in range(c)])
                       for a in (pred * truth, pred * (1 - truth), (1 - pred) * truth, truth))
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    eps, b2 = 1e-7, beta ** 2
    prec, rec = tp / (tp + fp + eps), tp / (tp + fn + eps)
    score = (1 + b2) * prec * rec / (b2 * prec + rec + eps)
    ref = {None: score, "micro": score, "macro": np.mean(score),
           "weighted": np.sum(score * sup / (sup.sum() + eps))}[average]
    if average is None:
        assert m.result().dtype == np.float32
        assert_close(m.result(), ref, 1e-6, 1e-7, "F-beta per class (float32)")
    else:
        assert_close(m.result(), ref, 1e-9, 1e-12, f"F-beta {average}")


@settings(max_examples=20)
@given(data=st.data())
def test_mean_sum_mse_vs_numpy(data):
    c, batches = _draw(data)
    mean, total, mse, mae = metrics.Mean(), metrics.Sum(), metrics.MeanSquaredError(), metrics.MeanAbsoluteError()
    for y, p, w in batches:
        v = p * 3 - 1
        mean.update_state(v, sample_weight=w)
        total.update_state(v, sample_weight=w)
        mse.update_state(v, p, sample_weight=w)
        mae.update_state(v, p, sample_weight=w)
    y, p, w = _cat(batches)
    v32 = (p * 3 - 1).astype(np.float64)   # the float32 values the metrics were given
    assert_close(mean.result(), (w * v32.mean(1)).sum() / w.sum() if w.sum() else 0.0, 1e-9, 1e-12, "Mean")
    assert_close(total.result(), (w * v32.sum(1)).sum(), 1e-9, 1e-12, "Sum")
    d = p.astype(np.float64) - v32
    assert_close(mse.result(), (w * (d * d).mean(1)).sum() / w.sum() if w.sum() else 0.0, 1e-9, 1e-12, "MSE")
    assert_close(mae.result(), (w * np.abs(d).mean(1)).sum() / w.sum() if w.sum() else 0.0, 1e-9, 1e-12, "MAE")


# ---- compile, fit, evaluate ------------------------------------------------------------------
def _compile_data():
    """The data and weights of /tmp/kref/keras_compile_ref.py."""
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=(24, 4)), 2).astype("float32")
    kernel = np.round(rng.normal(size=(4, 3)), 2).astype("float32")
    bias = np.array([0.1, -0.2, 0.05], "float32")
    labels = rng.integers(0, 3, 24)
    w = np.round(rng.random(24) * 2, 1).astype("float32")
    kb = np.round(rng.normal(size=(4, 1)), 2).astype("float32")
    yb = (rng.random(24) < 0.5).astype("float32")[:, None]
    return x, kernel, bias, labels, w, kb, yb


# /tmp/kref/keras_compile_ref.py: evaluate(batch_size=8, return_dict=True) with fixed weights
KERAS_EVALUATE = {
    "cat": {'auc': 0.4279513955116272, 'categorical_accuracy': 0.2857142984867096, 'f1': 0.24934963881969452,
            'loss': 1.5890207290649414, 'mae': 0.47487005591392517, 'mse': 0.3449426591396332,
            'pr_auc': 0.3302665948867798, 'precision': 0.2777777910232544, 'recall': 0.2083333283662796,
            'top2': 0.5416666865348816, 'top_k_categorical_accuracy': 1.0},
    "sparse": {'loss': 2.100120782852173, 'sparse_top_k_categorical_accuracy': 1.0, 'top1': 0.25},
    "bin": {'accuracy': 0.4583333432674408, 'auc': 0.46785715222358704, 'loss': 1.2651053667068481,
            'precision': 0.3636363744735718, 'recall': 0.4000000059604645, 'weighted_auc': 0.41021692752838135},
}


def test_compiled_metrics_match_keras_evaluate():
    x, kernel, bias, labels, w, kb, yb = _compile_data()
    m = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    m.layers[0].set_weights([kernel, bias])
    m.compile("sgd", "categorical_crossentropy",
              metrics=["top_k_categorical_accuracy", "precision", "recall", "auc", "mse", "mae",
                       metrics.TopKCategoricalAccuracy(k=2, name="top2"), metrics.F1Score(average="macro", name="f1")],
              weighted_metrics=[metrics.AUC(curve="PR", name="pr_auc"), "categorical_accuracy"])
    got = m.evaluate(x, np.eye(3, dtype="float32")[labels], batch_size=8, sample_weight=w, verbose=0, return_dict=True)
    assert got.keys() == KERAS_EVALUATE["cat"].keys()
    for k, v in KERAS_EVALUATE["cat"].items():
        assert got[k] == pytest.approx(v, rel=1e-5), k     # a softmax and a float32 loss in between
    m.compile("sgd", "sparse_categorical_crossentropy",
              metrics=["sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy(k=1, name="top1")])
    got = m.evaluate(x, labels, batch_size=8, verbose=0, return_dict=True)
    assert got == pytest.approx(KERAS_EVALUATE["sparse"], rel=1e-5)
    mb = models.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    mb.layers[0].set_weights([kb, np.zeros(1, "float32")])
    mb.compile("sgd", "binary_crossentropy", metrics=["auc", "precision", "recall", "accuracy"],
               weighted_metrics=["auc"])
    got = mb.evaluate(x, yb, batch_size=8, sample_weight=w, verbose=0, return_dict=True)
    assert got == pytest.approx(KERAS_EVALUATE["bin"], rel=1e-5)
    # fit: Keras's history keys (/tmp/kref/keras_compile_ref.py), the names as written
    h = m.fit(x, labels, batch_size=8, epochs=1, verbose=0, validation_data=(x, labels))
    assert sorted(h.history) == ['loss', 'sparse_top_k_categorical_accuracy', 'top1', 'val_loss',
                                 'val_sparse_top_k_categorical_accuracy', 'val_top1']
    logs = m.evaluate(x, labels, verbose=0, return_dict=True)
    assert m.evaluate(x, labels, verbose=0) == [logs[k] for k in ("loss", "sparse_top_k_categorical_accuracy", "top1")]


def test_compile_names_fit_and_save(tmp_path):
    x, kernel, bias, labels, w, kb, yb = _compile_data()
    names = ["top_k_categorical_accuracy", "precision", "recall", "auc", "AUC", "f1_score", "f_beta_score", "mse",
             "MAE", "mean_squared_error", "categorical_accuracy"]
    m = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    m.compile("sgd", "categorical_crossentropy", metrics=names)
    h = m.fit(x, np.eye(3)[labels], batch_size=8, epochs=2, verbose=0)
    assert sorted(h.history) == sorted(names + ["loss"])
    assert isinstance(h.history["f1_score"][0], np.ndarray) and h.history["f1_score"][0].shape == (3,)
    assert all(isinstance(h.history[k][-1], float) for k in names if k not in ("f1_score", "f_beta_score"))
    before = m.evaluate(x, np.eye(3)[labels], verbose=0, return_dict=True)
    assert before.keys() == set(names + ["loss"])
    m2 = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    m2.compile("sgd", "categorical_crossentropy", metrics=[metrics.AUC(curve="PR", name="pr"),
                                                           metrics.F1Score(average="weighted", threshold=0.4),
                                                           metrics.Precision(thresholds=[0.3, 0.6], name="p2")])
    m2.fit(x, np.eye(3)[labels], batch_size=8, epochs=1, verbose=0)
    m2.save(tmp_path / "m.keras")
    loaded = models.load_model(tmp_path / "m.keras")
    a = m2.evaluate(x, np.eye(3)[labels], verbose=0, return_dict=True)
    b = loaded.evaluate(x, np.eye(3)[labels], verbose=0, return_dict=True)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_get_names():
    """Keras 3.15's metrics.get keys (/tmp/kref/k_keys.py) that pyconv has; a name is kept as
    written, as compile names metrics."""
    for name, cls in [("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
                      ("sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy),
                      ("precision", metrics.Precision), ("recall", metrics.Recall), ("auc", metrics.AUC),
                      ("AUC", metrics.AUC), ("f1_score", metrics.F1Score), ("f_beta_score", metrics.FBetaScore),
                      ("FBetaScore", metrics.FBetaScore), ("mean", metrics.Mean), ("sum", metrics.Sum),
                      ("mse", metrics.MeanSquaredError), ("MSE", metrics.MeanSquaredError),
                      ("mae", metrics.MeanAbsoluteError), ("mean_absolute_error", metrics.MeanAbsoluteError),
                      ("binary_accuracy", metrics.BinaryAccuracy), ("Precision", metrics.Precision)]:
        m = metrics.get(name)
        assert type(m) is cls and m.name == name
    assert type(metrics.get(metrics.AUC)) is metrics.AUC
    assert metrics.get({"class_name": "F1Score", "config": {"average": "micro"}}).average == "micro"


# ---- errors ----------------------------------------------------------------------------------
y3, p3 = np.eye(3, dtype=np.float32)[[0, 1, 2]], np.full((3, 3), 1 / 3, np.float32)
ERRORS = [
    (lambda: metrics.TopKCategoricalAccuracy(k=0), ValueError, r"`k` must be a positive int. Received: k=0"),
    (lambda: metrics.SparseTopKCategoricalAccuracy(k=1.5), TypeError, r"`k` must be a positive int. Received: k=1.5"),
    (lambda: metrics.TopKCategoricalAccuracy()(np.ones((3, 2)), p3), ValueError,
     r"`y_true` must hold one-hot rows shaped like y_pred, or one class label per example, shape \(3,\) or \(3, 1\). "
     r"Received: y_true.shape=\(3, 2\), y_pred.shape=\(3, 3\)"),
    (lambda: metrics.SparseTopKCategoricalAccuracy()(np.ones((3, 2)), p3), ValueError,
     r"`y_true` must hold one class label per example, shape \(3,\) or \(3, 1\). Received: y_true.shape=\(3, 2\)"),
    (lambda: metrics.TopKCategoricalAccuracy()(["a", "b", "c"], p3), TypeError,
     r"`y_true` must be an array of numbers. Received: y_true.dtype=<U1"),
    (lambda: metrics.Precision()(y3, p3[:2]), ValueError,
     r"`y_true` and `y_pred` must hold the same number of examples \(axis 0\). "
     r"Received: y_true.shape=\(3, 3\), y_pred.shape=\(2, 3\)"),
    (lambda: metrics.Precision(thresholds=1.5), ValueError,
     r"`thresholds` must be a float or a list of floats in \[0, 1\]. Received: thresholds=1.5"),
    (lambda: metrics.Recall(thresholds=[0.5, None]), ValueError,
     r"`thresholds` must be a float or a list of floats in \[0, 1\]. Received: thresholds=\[0.5, None\]"),
    (lambda: metrics.Precision(top_k=0), ValueError, r"`top_k` must be a positive int. Received: top_k=0"),
    (lambda: metrics.Precision(class_id=-1), ValueError, r"`class_id` must be an int >= 0. Received: class_id=-1"),
    (lambda: metrics.Precision(top_k=4)(y3, p3), ValueError,
     r"`top_k` must be at most the number of classes 3. Received: top_k=4"),
    (lambda: metrics.Recall(class_id=3)(y3, p3), ValueError,
     r"`class_id` must be less than the number of classes 3. Received: class_id=3"),
    (lambda: metrics.Recall(class_id=0)([0, 1], [0.2, 0.7]), ValueError,
     r"`class_id` needs y_pred of shape \(num_samples, num_classes\). Received: y_pred.shape=\(2,\)"),
    (lambda: metrics.Precision()(y3[:, :2], p3), ValueError,
     r"`y_true` must have the shape of `y_pred` \(or hold int32 class labels for it\). "
     r"Received: y_true.shape=\(3, 2\), y_pred.shape=\(3, 3\)"),
    (lambda: metrics.Precision()(np.array([0, 1, 7], np.int32), p3), ValueError,
     r"`y_true` holds class labels for 3 classes, which must lie in \[0, 3\). Received: a label value of 7"),
    (lambda: metrics.AUC()(y3, p3, sample_weight=[1, 2]), ValueError,
     r"`sample_weight` must broadcast to y_pred's shape \(3, 3\) \(a scalar, one weight per sample, or one per "
     r"element\). Received: sample_weight.shape=\(2,\)"),
    (lambda: metrics.AUC(num_thresholds=1), ValueError,
     r"`num_thresholds` must be an int > 1. Received: num_thresholds=1"),
    (lambda: metrics.AUC(curve="XX"), ValueError,
     r"`curve` must be one of 'ROC', 'PR', 'PRGAIN'. Received: curve='XX'"),
    (lambda: metrics.AUC(summation_method="trapezoid"), ValueError,
     r"`summation_method` must be one of 'interpolation', 'minoring', 'majoring'. "
     r"Received: summation_method='trapezoid'"),
    (lambda: metrics.AUC(num_labels=3), ValueError,
     r"`num_labels` is needed only when `multi_label` is True. Received: num_labels=3, multi_label=False"),
    (lambda: metrics.AUC(thresholds=[0.5, 2.0]), ValueError,
     r"`thresholds` must be a float or a list of floats in \[0, 1\]. Received: thresholds=\[0.5, 2.0\]"),
    (lambda: metrics.AUC(label_weights=[1.0, 2.0])(y3, p3), ValueError,
     r"`label_weights` must hold one weight per label \(3\). Received: label_weights.shape=\(2,\)"),
    (lambda: metrics.AUC(multi_label=True)(np.ones((2, 3, 1)), np.ones((2, 3, 1))), ValueError,
     r"`y_pred` must have rank 2 \(batch, labels\) when `multi_label=True`. Received: y_pred.shape=\(2, 3, 1\)"),
    (lambda: metrics.AUC(multi_label=True, num_labels=2)(y3, p3), ValueError,
     r"`y_pred` must have 2 labels, as before. Received: y_pred.shape=\(3, 3\)"),
    (lambda: metrics.F1Score(average="binary"), ValueError,
     r"`average` must be one of None, 'micro', 'macro', 'weighted'. Received: average='binary'"),
    (lambda: metrics.FBetaScore(beta=0.0), ValueError, r"`beta` must be a float > 0. Received: beta=0.0"),
    (lambda: metrics.FBetaScore(beta="2"), ValueError, r"`beta` must be a float > 0. Received: beta='2'"),
    (lambda: metrics.F1Score(threshold=0.0), ValueError,
     r"`threshold` must be None or a float in \(0, 1\]. Received: threshold=0.0"),
    (lambda: metrics.F1Score()([0, 1], [0.2, 0.7]), ValueError,
     r"F1Score expects 2-D inputs of one shape \(batch_size, output_dim\). Received: y_true.shape=\(2,\), "
     r"y_pred.shape=\(2,\)"),
    (lambda: metrics.F1Score()(y3, p3, sample_weight=np.ones((3, 3))), ValueError,
     r"`sample_weight` must hold one weight per sample, shape \(3,\). Received: sample_weight.shape=\(3, 3\)"),
    (lambda: metrics.Mean(dtype="int32"), ValueError,
     r"`dtype` must be a floating-point dtype such as 'float32'. Received: dtype='int32'"),
    (lambda: metrics.get("top5"), ValueError,
     r"Unknown metric: 'top5'. Valid values are: 'accuracy', 'acc', .*'top_k_categorical_accuracy'"),
    (lambda: metrics.get(5), TypeError, r"`metrics` must be a string \('accuracy', .*Received: metrics=5"),
    (lambda: metrics.deserialize({"class_name": "Top5"}), ValueError,
     r"Unknown metric class 'Top5': pass it in `custom_objects`"),
    (lambda: metrics.MeanMetricWrapper()([1], [1]), TypeError,
     r"MeanMetricWrapper needs `fn`, a function of \(y_true, y_pred\). Received: fn=None"),
    (lambda: metrics.MeanMetricWrapper(fn=np.subtract).get_config(), TypeError,
     r"Cannot serialize MeanMetricWrapper 'mean_metric_wrapper': it wraps the function 'subtract'"),
    (lambda: metrics.Metric().update_state([1], [1]), NotImplementedError, r"Metric must define update_state\(\)"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    call, exc, match = ERRORS[i]
    with pytest.raises(exc, match=match):
        call()


def test_f1_class_count_is_fixed_by_the_first_batch():
    m = metrics.F1Score()
    m.update_state(y3, p3)
    with pytest.raises(ValueError, match=r"F1Score was built for 3 classes. Received: y_pred.shape=\(2, 2\)"):
        m.update_state(np.eye(2), np.eye(2))


def test_mean_metric_wrapper_and_custom_metric():
    m = metrics.MeanMetricWrapper(fn=lambda t, p: np.abs(t - p), name="l1")
    assert m([1.0, 2.0], [1.5, 2.0], sample_weight=[1.0, 3.0]) == pytest.approx(0.5 / 4)

    class Count(metrics.Metric):   # Keras 3's pattern: state set in reset_state, three methods
        def __init__(self, name="count", dtype=None):
            super().__init__(name, dtype)
            self.reset_state()

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.n += len(y_true)

        def result(self):
            return float(self.n)

        def reset_state(self):
            self.n = 0

    c = Count()
    assert c([1, 2], [1, 2]) == 2.0 and c.get_config() == {"name": "count", "dtype": "float32"}
    assert type(metrics.deserialize(metrics.serialize(c), custom_objects={"Count": Count})) is Count
