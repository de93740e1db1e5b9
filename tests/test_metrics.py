"""Metrics: running (weighted) means, as Keras 3 computes them (reduce_to_samplewise_values:
values averaged to one per sample, weighted, counted by the sum of the weights)."""
import numpy as np
import pytest

from pyconv import metrics


def test_metrics_sample_weight_is_a_weighted_mean():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0], sample_weight=[1, 0, 1])
    m.update_state(5.0, 2)
    assert m.result() == pytest.approx((1 + 3 + 10) / 4)
    a = metrics.SparseCategoricalAccuracy()
    a.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]], sample_weight=[1, 3])
    a.update_state(np.array([1]), np.array([[0.1, 0.9]]))      # fit's integer fast path
    assert a.result() == pytest.approx(2 / 5)
    e = metrics.MeanAbsoluteError()
    e.update_state(np.zeros((2, 3)), np.ones((2, 3)) * [[1], [3]], sample_weight=[3, 1])
    assert e.result() == pytest.approx((3 * 1 + 1 * 3) / 4)
    with pytest.raises(ValueError, match=r"`sample_weight` must broadcast to the values' shape \(2,\)"):
        a.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]], sample_weight=[1, 2, 3])


def test_keras_rank_rules():
    # a scalar weight on a batch: the batch's mean counts once, with that weight (Keras 3: 4.67)
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0], sample_weight=2)
    m.update_state(10.0)
    assert m.result() == pytest.approx((2 * 2 + 10) / 3)
    # (B, 1) weights are matched to (B,) values
    a = metrics.SparseCategoricalAccuracy()
    a.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]], sample_weight=[[1], [3]])
    assert a.result() == pytest.approx(1 / 4)
    # unweighted values of several axes: one value per sample, each sample counted once
    m = metrics.Mean()
    m.update_state([[1.0, 2.0], [3.0, 5.0]])
    m.update_state([[0.0, 0.0, 0.0, 0.0]])
    assert m.result() == pytest.approx((1.5 + 4.0 + 0.0) / 3)


def test_accuracy_count_in_c_is_numpy_argmax():
    """SparseCategoricalAccuracy counts fit's int32 labels against float32 scores in C:
    NumPy's argmax exactly -- the first of tied maxima, the first NaN, -inf rows, one class."""
    from pyconv import _kernels
    rng = np.random.default_rng(0)
    p = rng.integers(0, 3, (200, 7)).astype(np.float32)      # many ties
    p[5, 2] = np.nan
    p[6, [1, 4]] = np.nan
    p[7] = -np.inf
    p[8, 0] = np.nan
    for labels in (rng.integers(0, 7, 200).astype(np.int32), p.argmax(-1).astype(np.int32)):
        assert _kernels.argmax_hits_count(p, labels) == int((p.argmax(-1) == labels).sum())
    one = np.zeros((4, 1), np.float32)
    assert _kernels.argmax_hits_count(one, np.array([0, 0, 1, 0], np.int32)) == 3
    assert _kernels.argmax_hits_count(p.astype(np.float64), labels) is None   # NumPy counts
    assert _kernels.argmax_hits_count(p[:, ::2], labels) is None
    m = metrics.SparseCategoricalAccuracy()
    for dtype in (np.int32, np.int64):   # the C count and NumPy's agree through the metric
        m.reset_state()
        m.update_state(labels.astype(dtype), p)
        assert m.result() == pytest.approx(float((p.argmax(-1) == labels).mean()))
