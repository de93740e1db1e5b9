"""gather_rows (csrc/gather.c): fit's shuffled batches, rows taken by index and converted to
float32, against NumPy's take; its refusals."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from pyconv import _kernels


@settings(max_examples=40)
@given(n_rows=st.integers(1, 300), row=st.integers(1, 40), n=st.integers(0, 70),
       f64=st.booleans(), seed=st.integers(0, 2**31))
@example(n_rows=5000, row=784, n=32, f64=False, seed=0)   # two threads: above the parallel cut-off
@example(n_rows=5000, row=784, n=32, f64=True, seed=0)
def test_gather_equals_take(n_rows, row, n, f64, seed, threads):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, row)).astype(np.float64 if f64 else np.float32)
    idx = rng.integers(0, n_rows, n)
    for ref in (False, True):   # the fast kernel and its _ref, against NumPy's take
        out = np.full((n, row), np.nan, np.float32)
        assert _kernels.gather_rows_into(out, x, idx, ref) is out
        assert np.array_equal(out, np.take(x, idx, axis=0).astype(np.float32))


def test_gather_keeps_trailing_shape():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    out = np.empty((3, 3, 4, 5), np.float32)
    _kernels.gather_rows_into(out, x, np.array([1, 0, 1]))
    assert np.array_equal(out, x[[1, 0, 1]])


def test_gather_refusals():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = np.full((2, 3), -1, np.float32)
    with pytest.raises(IndexError, match=r"`idx` must lie in \[0, 4\). Received: indices from 0 to 4"):
        _kernels.gather_rows_into(out, x, np.array([0, 4]))
    with pytest.raises(IndexError, match=r"from -1 to 0"):
        _kernels.gather_rows_into(out, x, np.array([-1, 0]))
    with pytest.raises(TypeError, match=r"`x` must be a C-contiguous float32 or float64 array"):
        _kernels.gather_rows_into(out, x.astype(np.int32), np.array([0, 1]))
    with pytest.raises(TypeError, match=r"`x` must be a C-contiguous"):
        _kernels.gather_rows_into(out, np.zeros((3, 4), np.float32).T, np.array([0, 1]))
    with pytest.raises(TypeError, match=r"in native byte order"):
        _kernels.gather_rows_into(out, x.astype(x.dtype.newbyteorder()), np.array([0, 1]))
    with pytest.raises(TypeError, match=r"`out` must be a float32 array \(native byte order\)"):
        _kernels.gather_rows_into(out.astype(out.dtype.newbyteorder()), x, np.array([0, 1]))
    with pytest.raises(TypeError, match=r"`idx` must be a 1-D C-contiguous int64 array"):
        _kernels.gather_rows_into(out, x, np.array([0, 1], np.int32))
    with pytest.raises(ValueError, match=r"`out` must have shape \(len\(idx\),\) \+ x.shape\[1:\]"):
        _kernels.gather_rows_into(np.zeros((2, 4), np.float32), x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"`out` must have shape"):
        _kernels.gather_rows_into(np.zeros((3, 3), np.float32), x, np.array([0, 1]))
    with pytest.raises(TypeError, match=r"`out` must be a float32 array"):
        _kernels.gather_rows_into(np.zeros((2, 3)), x, np.array([0, 1]))
    assert (out == -1).all()   # a refused call writes nothing (the first has a valid index 0)
