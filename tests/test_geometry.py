"""pyconv/_geometry.py: the window rules every layer, nn op and the ONNX export share, and the
Window in which the geometry crosses the Cython boundary."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from pyconv import _geometry as g, _kernels


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


@given(H=st.integers(1, 30), W=st.integers(1, 30), R=st.integers(1, 5), S=st.integers(1, 5),
       sh=st.integers(1, 3), sw=st.integers(1, 3), dh=st.integers(1, 3), dw=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same", ((1, 0), (2, 1))]))
def test_window_is_out_size_per_axis(H, W, R, S, sh, sw, dh, dw, padding):
    win = g.window(H, W, R, S, (sh, sw), (dh, dw), padding)
    assert (win.P, win.pad_top) == g.out_size(H, g.extent(R, dh), sh, padding, 0)
    assert (win.Q, win.pad_left) == g.out_size(W, g.extent(S, dw), sw, padding, 1)
    assert win[2:8] == (R, S, sh, sw, dh, dw)


def test_conv_window_refuses_a_window_with_no_output():
    assert g.conv_window((2, 5, 6, 3), (3, 2), (1, 2), (1, 1), "valid") == g.Window(3, 3, 3, 2, 1, 2, 1, 1, 0, 0)
    with pytest.raises(ValueError, match=r"The filters window \(5, 3\) \(dilated\) is larger than the padded "
                                         r"input: no output pixel. Received: input shape \(1, 4, 4, 1\), "
                                         r"window \(3, 3\), padding='valid'"):
        g.conv_window((1, 4, 4, 1), (3, 3), (1, 1), (2, 1), "valid")


def test_the_kernels_check_the_window_against_the_arrays():
    """Every windowed kernel takes a Window; the boundary refuses one that is malformed or that
    disagrees with the arrays, before C runs."""
    x, w = np.ones((1, 5, 5, 2), np.float32), np.ones((3, 3, 2, 4), np.float32)
    win = g.Window(3, 3, 3, 3, 1, 1, 1, 1, 0, 0)
    calls = [
        (lambda: _kernels.conv2d_fwd(x, w, None, False, (3, 3, 1, 1, 0, 0)),
         r"`window` must be a pyconv._geometry.Window \(P, Q, R, S, stride_h, stride_w, dil_h, dil_w, pad_top, "
         r"pad_left\). Received: window=\(3, 3, 1, 1, 0, 0\)"),
        (lambda: _kernels.conv2d_fwd(x, w, None, False, win._replace(pad_top=-1)),
         r"`window`'s fields must be non-negative ints. Received: window=Window\(P=3, Q=3, R=3, S=3, stride_h=1, "
         r"stride_w=1, dil_h=1, dil_w=1, pad_top=-1, pad_left=0\)"),
        (lambda: _kernels.avgpool2d_fwd(x, g.Window(2, 2, 2, 2, 2**31, 2, 1, 1, 0, 0)),
         r"pool2d: the window's fields must be ints in \[0, 2\*\*31\)"),
        (lambda: _kernels.conv2d_fwd(x, w, None, False, win._replace(S=2)),
         r"`window` must be the filter's: R, S = \(3, 3\). Received: window=Window\(P=3, Q=3, R=3, S=2"),
        (lambda: _kernels.conv2d_bwd_input(x.shape, w, np.ones((1, 3, 2, 4), np.float32), win),
         r"`out_backprop` must have the window's output size \(3, 3\). Received: out_backprop.shape=\(1, 3, 2, 4\)"),
        (lambda: _kernels.conv2d_bwd_filter(x, w.shape, np.ones((1, 2, 3, 4), np.float32), win),
         r"`out_backprop` must have the window's output size \(3, 3\)"),
        (lambda: _kernels.depthwise_bwd_filter(x, (3, 3, 2, 2), np.ones((1, 4, 3, 4), np.float32), win),
         r"`out_backprop` must have the window's output size \(3, 3\)"),
        (lambda: _kernels.conv2d_transpose_fwd(np.ones((1, 2, 3, 4), np.float32), w, None, False, x.shape, win),
         r"`input` must have the window's output size \(3, 3\). Received: input.shape=\(1, 2, 3, 4\)"),
        (lambda: _kernels.maxpool2d_fwd(x, g.Window(2, 2, 2, 2, 2, 2, 1, 2, 0, 0)),
         r"pool2d: pooling windows are not dilated \(dil_h = dil_w = 1\)"),
    ]
    for call, match in calls:
        with pytest.raises(ValueError, match=match):
            call()
    assert _kernels.conv2d_fwd(x, w, None, False, win).shape == (1, 3, 3, 4)
