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
