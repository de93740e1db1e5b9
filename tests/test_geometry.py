"""pyconv/_geometry.py: the window rules every layer, nn op and the ONNX export share."""
from hypothesis import example, given, strategies as st

from pyconv import _geometry as g


@given(n=st.integers(1, 60), k=st.integers(1, 9), s=st.integers(1, 6), d=st.integers(1, 4))
@example(n=1, k=1, s=1, d=1).via("edge")
@example(n=5, k=3, s=2, d=2).via("window = input")
def test_valid_counts_the_window_positions(n, k, s, d):
    w = g.extent(k, d)
    positions = len(range(0, n - w + 1, s)) if n >= w else 0
    out, before = g.out_size(n, w, s, "valid")
    assert before == 0 and max(out, 0) == positions
    assert g.out_length(n, k, s, d, "valid") == out


@given(n=st.integers(1, 60), w=st.integers(1, 17), s=st.integers(1, 6))
def test_same_is_tensorflows_rule(n, w, s):
    """ceil(n / s) outputs; the windows span exactly the padded input's needed part; the extra
    row of an odd total padding goes after."""
    out, before = g.out_size(n, w, s, "same")
    b, a = g.same_padding(n, w, s)
    assert out == -(-n // s) and b == before and a in (b, b + 1)
    assert (out - 1) * s + w == n + b + a or (b, a) == (0, 0) and (out - 1) * s + w <= n
    assert g.out_length(n, w, s, 1, "same") == out


def test_explicit_padding_and_unknown_lengths():
    assert g.out_size(7, 3, 2, ((1, 2), (0, 0)), axis=0) == (4, 1)
    assert g.out_size(7, 3, 2, ((1, 2), (3, 0)), axis=1) == (4, 3)
    assert g.out_length(None, 3, 1, 1, "same") is None
    assert g.conv_transpose_size(None, 3, 2, 1, "same", None) is None


def test_conv_transpose_size_is_keras_3s():
    # keras.src.backend.common.backend_utils.compute_conv_transpose_output_shape, Keras 3.15.1:
    # (n, k, s, d, padding, output_padding) -> length
    cases = {(5, 3, 2, 1, "valid", None): 11, (5, 3, 2, 1, "same", None): 10,
             (5, 3, 2, 1, "same", 1): 10, (5, 3, 2, 1, "valid", 1): 12, (4, 1, 3, 1, "valid", None): 12,
             (4, 2, 3, 1, "valid", None): 12, (3, 3, 1, 2, "valid", None): 7, (3, 4, 2, 1, "same", 0): 4}
    assert {c: g.conv_transpose_size(*c) for c in cases} == cases
