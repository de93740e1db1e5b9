"""Metrics: running (weighted) means, as Keras 3 computes them."""
import numpy as np
import pytest

from pyconv import metrics


def test_metrics_sample_weight_is_a_weighted_mean():
    """Keras' rule: sum(value * weight) / sum(weight), weights broadcast over trailing axes."""
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
    with pytest.raises(ValueError, match=r"`sample_weight` must have the shape of the values \(2,\)"):
        a.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]], sample_weight=[1, 2, 3])
