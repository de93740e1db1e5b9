"""Depthwise and grouped convolution (csrc/depthwise.c, csrc/conv2d_grouped.c): the C fast path
and the C `_ref` against the float64 references of tests/reference.py (themselves checked by
central finite differences here), on every ISA and thread counts 1 and 2, with hypothesis
drawing the shapes; nn.depthwise_conv2d / separable_conv2d; the layers DepthwiseConv2D,
SeparableConv2D and Conv2D(groups) against real Keras 3 outputs, saved and trained."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import pyconv
from pyconv import _kernels, layers, models, nn
from pyconv._geometry import Window, window
from reference import (assert_close, assert_sum_close, conv2d, conv_pads, depthwise_conv2d,
                       depthwise_conv2d_grads, grouped_conv2d, grouped_conv2d_grads, numeric_grad)


@st.composite
def dw_cases(draw, max_c=20):
    R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same", "explicit"]))
    if padding == "explicit":
        padding = ((draw(st.integers(0, 2)), draw(st.integers(0, 2))),
                   (draw(st.integers(0, 2)), draw(st.integers(0, 2))))
    H = draw(st.integers((R - 1) * dil[0] + 1, 9))
    W = draw(st.integers((S - 1) * dil[1] + 1, 9))
    return dict(N=draw(st.integers(1, 3)), H=H, W=W, C=draw(st.integers(1, max_c)),
                M=draw(st.integers(1, 3)), R=R, S=S, stride=stride, dil=dil, padding=padding)


def edge(N, H, W, C, M, R, S, stride=(1, 1), dil=(1, 1), padding="valid"):
    return dict(N=N, H=H, W=W, C=C, M=M, R=R, S=S, stride=stride, dil=dil, padding=padding)


EDGES = [
    edge(1, 5, 5, 3, 1, 1, 1),                                   # batch 1, 1x1
    edge(2, 4, 3, 5, 2, 4, 3),                                   # kernel = input size
    edge(2, 7, 6, 17, 1, 3, 3, (2, 2), padding="same"),          # C not a multiple of 4/8/16
    edge(1, 5, 6, 64, 1, 3, 3, padding="same"),                  # one full AVX-512 block
    edge(2, 4, 5, 65, 1, 3, 3, (1, 2), padding="same"),          # a full block and a tail of 1
    edge(1, 6, 6, 33, 2, 3, 3, padding="same"),                  # M > 1: K = 66 past a block
    edge(1, 9, 7, 6, 3, 3, 2, (1, 3), (2, 3), ((2, 0), (1, 2))),  # dilations, explicit padding
    edge(2, 5, 5, 16, 1, 2, 2, (3, 3), padding="same"),          # stride past the kernel
    edge(2, 6, 7, 32, 1, 3, 3, padding="same"),                  # MobileNet's first: 2 AVX-512 vectors
    edge(1, 6, 6, 53, 1, 3, 3, (2, 1), padding="same"),          # vector tails of 2 and 1, then 5
    edge(2, 5, 21, 24, 1, 3, 3, (1, 2), padding="same"),         # input gradient's runs, stride 2
    edge(1, 4, 30, 9, 1, 3, 4, (2, 3), (1, 2), padding="same"),  # runs at stride 3, dilated
    edge(1, 3, 2, 16, 1, 1, 1, (1, 4)),                          # a column class past the image
    edge(2, 4, 7, 117, 1, 3, 3, padding="same"),                 # 3-tap filter gradient: 4+2+1 vectors, tail 5
]


def case_arrays(case, rng):
    N, H, W, C, M, R, S = (case[k] for k in "NHWCMRS")
    P, Q, (top, _), (left, _) = conv_pads(H, W, R, S, case["stride"], case["dil"], case["padding"])
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((R, S, C, M)).astype(np.float32)
    b = rng.standard_normal(C * M).astype(np.float32)
    g = rng.standard_normal((N, P, Q, C * M)).astype(np.float32)
    return x, w, b, g, Window(P, Q, R, S, *case["stride"], *case["dil"], top, left)


def run_depthwise(case, ref, rng):
    x, w, b, g, win = case_arrays(case, rng)
    out = _kernels.depthwise_fwd(x, w, b, False, win, ref=ref)
    dx = _kernels.depthwise_bwd_input(x.shape, w, g, win, ref=ref)
    dw, db = _kernels.depthwise_bwd_filter(x, w.shape, g, win, True, ref=ref)
    args = (case["stride"], case["dil"], case["padding"])
    RS, M = case["R"] * case["S"], case["M"]
    assert_sum_close(out, depthwise_conv2d(x, w, *args) + b,
                     depthwise_conv2d(abs(x), abs(w), *args) + abs(b), RS + 1, "forward")
    edx, edw = depthwise_conv2d_grads(x, w, g, *args)
    adx, adw = depthwise_conv2d_grads(abs(x), abs(w), abs(g), *args)
    assert_sum_close(dx, edx, adx, RS * M, "backward_input")
    npq = g.shape[0] * g.shape[1] * g.shape[2]
    assert_sum_close(dw, edw, adw, npq, "backward_filter")
    assert_sum_close(db, g.astype(np.float64).sum((0, 1, 2)), abs(g).sum((0, 1, 2)), npq, "bias")


def with_edges(test):
    for e in EDGES:
        test = example(case=e).via("edge")(test)
    return test


@pytest.mark.parametrize("ref", [False, True], ids=["fast", "ref"])
@settings(max_examples=25)
@given(case=dw_cases())
@with_edges
def test_depthwise_against_reference(isa, ref, case):
    run_depthwise(case, ref, np.random.default_rng(0))


def test_fused_relu_and_no_bias(isa, rng):
    x = rng.standard_normal((2, 6, 6, 20)).astype(np.float32)
    w = rng.standard_normal((3, 3, 20, 1)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    geo = Window(4, 4, 3, 3, 1, 1, 1, 1, 0, 0)
    plain = _kernels.depthwise_fwd(x, w, None, False, geo)
    biased = _kernels.depthwise_fwd(x, w, b, False, geo)   # bias first, then the taps
    assert np.array_equal(_kernels.depthwise_fwd(x, w, b, True, geo), nn.relu(biased))
    assert_close(biased, plain + b, 1e-6, 1e-5, "bias")
    assert np.array_equal(plain, nn.depthwise_conv2d(x, w, 1, "VALID"))


@settings(max_examples=8)
@given(case=dw_cases(max_c=4))
@example(case=edge(1, 4, 4, 2, 2, 3, 3, (2, 1), padding="same")).via("edge")
def test_reference_gradients_by_finite_differences(case):
    """The float64 reference's adjoint is the derivative of its forward."""
    rng = np.random.default_rng(1)
    x, w, _, g, _ = case_arrays(case, rng)
    x, w, g = x.astype(np.float64), w.astype(np.float64), g.astype(np.float64)
    args = (case["stride"], case["dil"], case["padding"])
    dx, dw = depthwise_conv2d_grads(x, w, g, *args)
    assert_close(dx, numeric_grad(lambda v: (depthwise_conv2d(v, w, *args) * g).sum(), x), 1e-6, 1e-7, "dx")
    assert_close(dw, numeric_grad(lambda v: (depthwise_conv2d(x, v, *args) * g).sum(), w), 1e-6, 1e-7, "dw")


def test_depthwise_is_grouped_conv2d_with_groups_c():
    """The reference's channel order (c*M + m) is TensorFlow's: a Conv2D with groups = C whose
    (R, S, 1, C*M) kernel holds the same numbers."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 2, 3, 2))
    assert_close(depthwise_conv2d(x, w, (2, 1), (1, 1), "same"),
                 grouped_conv2d(x, w.reshape(3, 2, 1, 6), 3, (2, 1), (1, 1), "same"), 1e-12, 1e-12)
    assert_close(grouped_conv2d(x, w.reshape(3, 2, 3, 2)[..., :1].repeat(2, -1), 1),
                 conv2d(x, w.reshape(3, 2, 3, 2)[..., :1].repeat(2, -1)), 1e-12, 1e-12)


def kernel_results(x, w, g, geo, groups=0):
    return (_kernels.depthwise_fwd(x, w, None, False, geo, groups),
            _kernels.depthwise_bwd_input(x.shape, w, g, geo, groups),
            *_kernels.depthwise_bwd_filter(x, w.shape, g, geo, True, groups))


@pytest.mark.parametrize("shape,stride", [((4, 30, 30, 24), 1), ((3, 17, 19, 67), 1), ((2, 11, 9, 53), 1),
                                          ((2, 12, 34, 40), 2)],
                         ids=["chunks", "tail", "vector tails", "stride 2"])
def test_bitwise_for_any_thread_count_and_isa(isa, each_thread_count, shape, stride, rng):
    """Many filter-gradient chunks (N*P*Q well past DW_CHUNK) and channel tails: the bits do not
    depend on the thread count, nor on the ISA (compared with the portable build)."""
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((3, 3, shape[3], 1)).astype(np.float32)
    geo = window(shape[1], shape[2], 3, 3, (1, stride), (1, 1), "same")
    g = rng.standard_normal((shape[0], geo.P, geo.Q, shape[3])).astype(np.float32)
    results = []
    for _ in each_thread_count():
        results.append(kernel_results(x, w, g, geo))
    _kernels.set_isa("generic")
    results.append(kernel_results(x, w, g, geo))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_streamed_outputs_are_the_cached_ones(isa, each_thread_count, rng):
    """The forward and the input gradient stream their outputs when the pass moves more than half
    the L3 (target.h's pyconv_streams; the batch: 16 MiB read and 16 written, past half of an L3
    up to 64 MiB): the batch at once gives the bits of each image alone (4 MiB, stored as usual),
    with bias and relu, for any thread count."""
    x = rng.standard_normal((4, 64, 64, 256)).astype(np.float32)
    w = rng.standard_normal((3, 3, 256, 1)).astype(np.float32)
    b = rng.standard_normal(256).astype(np.float32)
    geo = window(64, 64, 3, 3, (1, 1), (1, 1), "same")
    alone = [_kernels.depthwise_fwd(x[n:n + 1], w, b, True, geo) for n in range(4)]
    alone_dx = [_kernels.depthwise_bwd_input((1, 64, 64, 256), w, x[n:n + 1], geo) for n in range(4)]
    for _ in each_thread_count():
        out = _kernels.depthwise_fwd(x, w, b, True, geo)
        dx = _kernels.depthwise_bwd_input(x.shape, w, x, geo)
        assert out.ctypes.data % 16 == 0 and dx.ctypes.data % 16 == 0   # so they streamed
        for n in range(4):
            assert np.array_equal(out[n:n + 1], alone[n])
            assert np.array_equal(dx[n:n + 1], alone_dx[n])


# ---- grouped convolution ------------------------------------------------------------------------

@pytest.mark.parametrize("ref", [False, True], ids=["fast", "ref"])
@settings(max_examples=15)
@given(case=dw_cases(max_c=4), groups=st.integers(1, 3), kg=st.integers(1, 5))
@example(case=edge(1, 5, 5, 2, 1, 1, 1), groups=3, kg=2).via("edge: batch 1, 1x1")
@example(case=edge(2, 4, 3, 3, 1, 4, 3), groups=2, kg=9).via("edge: kernel = input size")
@example(case=edge(1, 6, 6, 16, 1, 3, 3, padding="same"), groups=2, kg=16).via("edge: wide groups")
def test_grouped_against_reference(isa, ref, case, groups, kg):
    rng = np.random.default_rng(3)
    N, H, W, cg, R, S = (case[k] for k in "NHWCRS")
    C, K = cg * groups, kg * groups
    P, Q, (top, _), (left, _) = conv_pads(H, W, R, S, case["stride"], case["dil"], case["padding"])
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((R, S, cg, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    g = rng.standard_normal((N, P, Q, K)).astype(np.float32)
    win = Window(P, Q, R, S, *case["stride"], *case["dil"], top, left)
    args = (case["stride"], case["dil"], case["padding"])
    out = _kernels.depthwise_fwd(x, w, b, False, win, groups, ref)
    dx = _kernels.depthwise_bwd_input(x.shape, w, g, win, groups, ref)
    dw, db = _kernels.depthwise_bwd_filter(x, w.shape, g, win, True, groups, ref)
    D = R * S * cg
    assert_sum_close(out, grouped_conv2d(x, w, groups, *args) + b,
                     grouped_conv2d(abs(x), abs(w), groups, *args) + abs(b), D + 1, "forward")
    edx, edw = grouped_conv2d_grads(x, w, g, groups, *args)
    adx, adw = grouped_conv2d_grads(abs(x), abs(w), abs(g), groups, *args)
    assert_sum_close(dx, edx, adx, R * S * kg, "backward_input")
    assert_sum_close(dw, edw, adw, N * P * Q, "backward_filter")
    assert_sum_close(db, g.astype(np.float64).sum((0, 1, 2)), abs(g).sum((0, 1, 2)), N * P * Q, "bias")


def test_grouped_bitwise_for_any_thread_count(each_thread_count, rng):
    x = rng.standard_normal((4, 12, 12, 8)).astype(np.float32)
    w = rng.standard_normal((3, 3, 2, 12)).astype(np.float32)
    g = rng.standard_normal((4, 10, 10, 12)).astype(np.float32)
    results = []
    for _ in each_thread_count():
        results.append(kernel_results(x, w, g, Window(10, 10, 3, 3, 1, 1, 1, 1, 0, 0), groups=4))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


# ---- pyconv.nn ----------------------------------------------------------------------------------

def test_nn_functions_and_their_gradients(rng):
    x = rng.standard_normal((2, 7, 6, 3))
    w = rng.standard_normal((3, 3, 3, 2))
    pw = rng.standard_normal((1, 1, 6, 4))
    y = nn.depthwise_conv2d(x, w, strides=[1, 2, 2, 1], padding="SAME", dilations=None)
    assert y.dtype == np.float32 and y.shape == (2, 4, 3, 6)
    assert_close(y, depthwise_conv2d(x.astype(np.float32), w.astype(np.float32), (2, 2), (1, 1), "same"),
                 1e-5, 1e-5, "depthwise_conv2d")
    g = rng.standard_normal(y.shape)
    edx, edw = depthwise_conv2d_grads(x.astype(np.float32), w.astype(np.float32), g.astype(np.float32),
                                      (2, 2), (1, 1), "same")
    assert_close(nn.depthwise_conv2d_backprop_input(x.shape, w, g, 2, "SAME"), edx, 1e-5, 1e-5, "dx")
    assert_close(nn.depthwise_conv2d_backprop_filter(x, w.shape, g, 2, "SAME"), edw, 1e-5, 1e-5, "dw")
    sep = nn.separable_conv2d(x, w, pw, 1, [[0, 0], [1, 0], [0, 2], [0, 0]], dilations=(2, 1))
    z = depthwise_conv2d(x, w, (1, 1), (2, 1), ((1, 0), (0, 2)))
    assert_close(sep, conv2d(z, pw), 1e-4, 1e-4, "separable_conv2d")


def test_nn_ops_record_on_the_tape(rng):
    """A Lambda of nn.separable_conv2d trains: the gradients reach both filters."""
    x = rng.standard_normal((2, 5, 5, 2)).astype(np.float32)
    dw = rng.standard_normal((3, 3, 2, 1)).astype(np.float32)
    pw = rng.standard_normal((1, 1, 2, 3)).astype(np.float32)
    from pyconv import _tape
    with _tape.recording() as recs:
        y = nn.separable_conv2d(x, dw, pw, 1, "VALID")
    gx, gdw, gpw = _tape.gradients(recs, [y], [np.ones_like(y)], [x, dw, pw])
    f = lambda d, p: nn.separable_conv2d(x, d, p, 1, "VALID").astype(np.float64).sum()
    assert_close(gdw, numeric_grad(lambda v: f(v.astype(np.float32), pw), dw, 1e-2), 2e-2, 2e-2, "ddw")
    assert_close(gpw, numeric_grad(lambda v: f(dw, v.astype(np.float32)), pw, 1e-2), 2e-2, 2e-2, "dpw")
    assert gx.shape == x.shape


@pytest.mark.parametrize("fn, kwargs, exc, match", [
    ("depthwise_conv2d", dict(input=np.zeros((5, 5, 1)), filter=np.zeros((3, 3, 1, 1)), strides=1, padding="VALID"),
     ValueError, r"`input` must be a 4-D array. Received: input.shape=\(5, 5, 1\)"),
    ("depthwise_conv2d", dict(input=np.zeros((1, 5, 5, 2)), filter=np.zeros((3, 3, 1, 1)), strides=1, padding="VALID"),
     ValueError, r"`filter` must have as many input channels \(axis 2\) as `input` has channels"),
    ("depthwise_conv2d", dict(input=np.zeros((1, 5, 5, 1)), filter=np.zeros((3, 3, 1, 0)), strides=1, padding="VALID"),
     ValueError, r"`filter` must have no zero-sized axis. Received: filter.shape=\(3, 3, 1, 0\)"),
    ("depthwise_conv2d", dict(input=np.zeros((1, 2, 2, 1)), filter=np.zeros((3, 3, 1, 1)), strides=1, padding="VALID"),
     ValueError, r"The filter window \(3, 3\) \(dilated\) is larger than the padded input"),
    ("depthwise_conv2d", dict(input=np.zeros((1, 5, 5, 1)), filter=np.zeros((3, 3, 1, 1)), strides=(0, 1), padding="VALID"),
     ValueError, r"`strides` must be .* Received: strides=\(0, 1\)"),
    ("depthwise_conv2d", dict(input=np.zeros((1, 5, 5, 1)), filter=np.zeros((3, 3, 1, 1)), strides=1, padding="full"),
     ValueError, r"`padding` must be .* Received: padding='full'"),
    ("depthwise_conv2d", dict(input=np.zeros((1, 5, 5, 1)), filter=np.zeros((3, 3, 1, 1)), strides=1, padding="SAME",
                              data_format="NCHW"), ValueError, r"`data_format` must be 'NHWC'. Received: data_format='NCHW'"),
    ("depthwise_conv2d", dict(input=np.zeros((1, 5, 5, 1)), filter=np.zeros((3, 3, 1, 1)), strides=1, padding="SAME",
                              dilations=(1, 0)), ValueError, r"Received: dilations=\(1, 0\)"),
    ("depthwise_conv2d_backprop_input", dict(input_sizes=(1, 5, 5, 1), filter=np.zeros((3, 3, 1, 2)),
                                             out_backprop=np.zeros((1, 4, 4, 2)), strides=1, padding="VALID"),
     ValueError, r"`out_backprop` must have the convolution's output shape \(1, 3, 3, 2\)"),
    ("depthwise_conv2d_backprop_filter", dict(input=np.zeros((1, 5, 5, 1)), filter_sizes=(3, 3),
                                              out_backprop=np.zeros((1, 3, 3, 2)), strides=1, padding="VALID"),
     ValueError, r"`filter_sizes` must be 4 non-negative ints \(R, S, C, M\)"),
    ("separable_conv2d", dict(input=np.zeros((1, 5, 5, 2)), depthwise_filter=np.zeros((3, 3, 2, 2)),
                              pointwise_filter=np.zeros((1, 1, 2, 3)), strides=1, padding="VALID"),
     ValueError, r"`pointwise_filter` must have shape \(1, 1, C\*M, K\) .* pointwise_filter.shape=\(1, 1, 2, 3\)"),
])
def test_nn_errors(fn, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(nn, fn)(**kwargs)


def test_kernel_wrapper_errors():
    x = np.zeros((1, 5, 5, 4), np.float32)
    with pytest.raises(ValueError, match=r"`input` and `filter` do not match \(groups=4\)"):
        _kernels.depthwise_fwd(x, np.zeros((3, 3, 3, 1), np.float32), None, False, Window(3, 3, 3, 3, 1, 1, 1, 1, 0, 0))
    with pytest.raises(ValueError, match=r"`input` and `filter` do not match \(groups=3\)"):
        _kernels.depthwise_fwd(x, np.zeros((3, 3, 1, 3), np.float32), None, False, Window(3, 3, 3, 3, 1, 1, 1, 1, 0, 0), 3)
    with pytest.raises(ValueError, match=r"`out_backprop` must have shape \(1, P, Q, 4\)"):
        _kernels.depthwise_bwd_input(x.shape, np.zeros((3, 3, 4, 1), np.float32), np.zeros((1, 3, 3, 2), np.float32),
                                     Window(3, 3, 3, 3, 1, 1, 1, 1, 0, 0))
    with pytest.raises(TypeError, match=r"`filter` must be a float32 array"):
        _kernels.depthwise_fwd(x, np.zeros((3, 3, 4, 1)), None, False, Window(3, 3, 3, 3, 1, 1, 1, 1, 0, 0))


# ---- layers: against real Keras 3 ---------------------------------------------------------------
# The expected arrays come from Keras 3.15.1 (TensorFlow 2.21 backend) with this script:
#
#   import numpy as np, keras
#   def arr(shape, mul, mod, off, scale):
#       n = int(np.prod(shape))
#       return (((np.arange(n) * mul) % mod - off) / scale).astype(np.float32).reshape(shape)
#   x = arr((1, 5, 5, 4), 7, 23, 11, 10)
#   cases = {
#     "depthwise": (keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
#                   [arr((3, 3, 4, 2), 5, 13, 6, 8), arr((8,), 3, 7, 3, 4)]),
#     "separable": (keras.layers.SeparableConv2D(3, 3, depth_multiplier=2, activation="relu"),
#                   [arr((3, 3, 4, 2), 5, 13, 6, 8), arr((1, 1, 8, 3), 3, 11, 5, 6), arr((3,), 1, 3, 1, 2)]),
#     "grouped": (keras.layers.Conv2D(4, (2, 3), strides=(2, 1), groups=2),
#                 [arr((2, 3, 2, 4), 5, 13, 6, 8), arr((4,), 3, 7, 3, 4)]),
#   }
#   for name, (layer, ws) in cases.items():
#       layer.build(x.shape); layer.set_weights(ws)
#       print(name, np.asarray(layer(x)).ravel())

def arr(shape, mul, mod, off, scale):
    n = int(np.prod(shape))
    return (((np.arange(n) * mul) % mod - off) / scale).astype(np.float32).reshape(shape)


KERAS_X = arr((1, 5, 5, 4), 7, 23, 11, 10)
KERAS_CASES = {
    "depthwise": (lambda: layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
                  [arr((3, 3, 4, 2), 5, 13, 6, 8), arr((8,), 3, 7, 3, 4)], (1, 3, 3, 8), [
        -0.6125, -1.0875001, 0.9625, -0.1625, 0.475, -0.6875, -0.9375, -0.4375,
        -0.3875, -0.6125, -0.4375, -0.25, -0.2, -0.5625, 0.0875, -1.0125,
        -0.9875, 1.6375, 0.8625, -0.825, 0.35, -0.2125, 1.2125, -1.6624999,
        0.15, -0.7875, 0.4625, 0.2375, 0.5, -1.6, -0.575, -0.4375,
        -0.6, 0.2125, 0.1375001, -1.1500001, 0.1874998, 1.9625001, 1.3000001, -1.7375,
        -2.0375, -0.225, 0.975, 0.35, 0.2625, -0.9875, 0.1625, -0.55,
        -0.3875, -0.0125, 0.7, -0.3875, 0.5500001, -0.85, 0.2125, -0.85,
        -1.675, -0.1125, 0.05, -0.2, 0.075, -0.5875, 0.7625, -1.175,
        -0.4375, -0.625, 0.625, 0.1375, 1.3125, -1.325, 0.1, 0.4]),
    "separable": (lambda: layers.SeparableConv2D(3, 3, depth_multiplier=2, activation="relu"),
                  [arr((3, 3, 4, 2), 5, 13, 6, 8), arr((1, 1, 8, 3), 3, 11, 5, 6), arr((3,), 1, 3, 1, 2)],
                  (1, 3, 3, 3), [
        0.0, 0.8645833, 0.7270834, 0.0, 0.4770833, 2.1145835, 3.1479168, 0.0,
        0.5312501, 0.0, 0.2687501, 1.0999999, 0.0, 0.0, 2.4875, 1.8916669,
        0.0, 0.56875, 0.0, 0.3916667, 0.8979166, 2.6020834, 0.0, 0.5604166,
        1.4979166, 0.6708333, 0.0]),
    "grouped": (lambda: layers.Conv2D(4, (2, 3), strides=(2, 1), groups=2),
                [arr((2, 3, 2, 4), 5, 13, 6, 8), arr((4,), 3, 7, 3, 4)], (1, 2, 3, 4), [
        1.8125, -1.1624999, -0.4250001, -1.1375, 0.0875001, -0.8999999, 0.3375, -1.2625,
        -2.2125, 1.0875001, 1.1, 0.0499999, 0.0875, -0.8375001, 0.3, -1.2375,
        -2.2125, 1.15, 1.0625, 0.075, -2.5, 2.2749999, 0.3875, 1.3875]),
}


@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_layer_matches_keras(name, tmp_path):
    make, weights, shape, expected = KERAS_CASES[name]
    layer = make()
    layer.build(KERAS_X.shape)
    assert [w.shape for w in layer.weights] == [w.shape for w in weights]   # Keras's shapes and order
    layer.set_weights(weights)
    y = layer(KERAS_X)
    assert_close(y, np.reshape(expected, shape), 1e-6, 2e-6, name)
    # save/load round trip: the same layer, the same outputs
    model = models.Sequential([layers.Input(KERAS_X.shape[1:]), layer])
    model.save(tmp_path / "m.keras")
    again = models.load_model(tmp_path / "m.keras")
    assert type(again.layers[-1]) is type(layer)
    assert again.layers[-1].get_config() == layer.get_config()
    assert np.array_equal(again.predict(KERAS_X, verbose=0), y)


def test_layer_weight_names_and_config():
    sep = layers.SeparableConv2D(5, 3, depth_multiplier=2, pointwise_regularizer="l2",
                                 depthwise_constraint="non_neg")
    sep.build((None, 8, 8, 3))
    assert [n for _, n in sep._weight_names()] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert [w.shape for w in sep.weights] == [(3, 3, 3, 2), (1, 1, 6, 5), (5,)]
    cfg = sep.get_config()
    for k in ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
              "depth_multiplier", "activation", "use_bias", "depthwise_initializer",
              "pointwise_initializer", "bias_initializer", "pointwise_regularizer", "depthwise_constraint"):
        assert k in cfg, k
    again = layers.SeparableConv2D.from_config(cfg)
    assert again.get_config() == cfg
    assert len(sep.losses) == 1 and sep.losses[0] > 0   # the pointwise kernel's L2 penalty
    dw = layers.DepthwiseConv2D((3, 2), depth_multiplier=3, use_bias=False)
    dw.build((None, 8, 8, 4))
    assert [(n, w.shape) for (_, n), w in zip(dw._weight_names(), dw.weights)] == [("kernel", (3, 2, 4, 3))]
    assert dw.compute_output_shape((None, 8, 8, 4)) == (None, 6, 7, 12)
    conv = layers.Conv2D(6, 3, groups=3)
    assert conv.get_config()["groups"] == 3
    conv.build((None, 8, 8, 3))
    assert conv.kernel.shape == (3, 3, 1, 6)


@pytest.mark.parametrize("make, shape, exc, match", [
    (lambda: layers.Conv2D(5, 3, groups=2), None, ValueError,
     r"The number of filters must be evenly divisible by the number of groups. Received: groups=2, filters=5."),
    (lambda: layers.Conv2D(6, 3, groups=0), None, ValueError, r"`groups` must be a positive int. Received: groups=0."),
    (lambda: layers.Conv2D(6, 3, groups=3), (2, 8, 8, 4), ValueError,
     r"The number of input channels must be evenly divisible by the number of groups. Received groups=3, "
     r"but the input has 4 channels \(full input shape is \(None, 8, 8, 4\)\)."),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), None, ValueError,
     r"`depth_multiplier` must be a positive int. Received: depth_multiplier=0."),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=1.5), None, TypeError,
     r"`depth_multiplier` must be a positive int. Received: depth_multiplier=1.5."),
    (lambda: layers.DepthwiseConv2D(3, strides=2, dilation_rate=2), None, ValueError,
     r"`strides > 1` is not supported together with `dilation_rate > 1`"),
    (lambda: layers.DepthwiseConv2D(3, data_format="channels_first"), None, ValueError,
     r"`data_format` must be 'channels_last' \(pyconv is NHWC\). Received: data_format='channels_first'."),
    (lambda: layers.DepthwiseConv2D(3, padding="full"), None, ValueError,
     r"`padding` must be one of 'valid', 'same'. Received: padding='full'."),
    (lambda: layers.SeparableConv2D(0, 3), None, ValueError, r"`filters` must be a positive int. Received: filters=0."),
    (lambda: layers.SeparableConv2D(4, (3, 0)), None, ValueError, r"`kernel_size` must be .* Received: kernel_size=\(3, 0\)."),
    (lambda: layers.DepthwiseConv2D(3), (1, 2, 2, 3), ValueError,
     r'Layer "depthwise_conv2d\w*" cannot take input shape \(None, 2, 2, 3\): a 3x3 kernel'),
    (lambda: layers.SeparableConv2D(4, 3), (1, 8, 8), ValueError, r"expected ndim=4, found ndim=3"),
])
def test_layer_errors(make, shape, exc, match):
    with pytest.raises(exc, match=match):
        layer = make()
        layer(np.zeros(shape, np.float32))


def test_built_layer_refuses_other_channels():
    layer = layers.DepthwiseConv2D(3)
    layer(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3, but received "
                                         r"input with shape \(None, 5, 5, 4\)"):
        layer(np.zeros((1, 5, 5, 4), np.float32))
    conv = layers.Conv2D(4, 3, groups=2)
    conv(np.zeros((1, 5, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 4"):
        conv(np.zeros((1, 5, 5, 2), np.float32))


@pytest.mark.parametrize("make, cin", [
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="tanh"), 3),
    (lambda: layers.SeparableConv2D(4, 3, strides=2, activation="sigmoid"), 3),
    (lambda: layers.Conv2D(4, 3, groups=2, padding="same"), 4),
    (lambda: layers.Conv2D(6, 2, groups=3, dilation_rate=2), 3),   # groups = C: the depthwise kernels
], ids=["depthwise", "separable", "grouped", "groups=C"])
def test_layer_gradients_by_finite_differences(make, cin):
    """The layer's backward (weights and input) against central differences of its forward
    (smooth activations: a relu kink inside the difference step would make it fail)."""
    pyconv.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    layer = make()
    x = rng.standard_normal((2, 6, 6, cin)).astype(np.float32)
    g = rng.standard_normal(layer(x).shape).astype(np.float32)   # builds the layer
    _, ctx = layer._fwd(x, True)
    dx, grads = layer._bwd(ctx, g, True)
    loss = lambda: float((layer._fwd(x, True)[0].astype(np.float64) * g).sum())
    for w, dw in zip(layer.trainable_weights, grads):
        def f(v, w=w):
            old = w.copy()
            w[...] = v
            try:
                return loss()
            finally:
                w[...] = old
        assert_close(dw, numeric_grad(f, w, 1e-2), 3e-2, 3e-2, "dweight")
    assert_close(dx, numeric_grad(lambda v: float((layer._fwd(v.astype(np.float32), True)[0].astype(np.float64)
                                                   * g).sum()), x, 1e-2), 3e-2, 3e-2, "dx")


def test_mobilenet_style_model_trains():
    """Conv -> separable blocks (DepthwiseConv2D + 1x1 Conv2D, SeparableConv2D, grouped Conv2D)
    -> pooling -> Dense, on a learnable task: the loss goes down (0.69 -> about 0.46)."""
    pyconv.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 12, 12, 3)).astype(np.float32)
    y = rng.integers(0, 2, 128).astype(np.int32)
    x[..., 0] += (2 * y[:, None, None] - 1) * 0.5   # the class shifts channel 0
    model = models.Sequential([
        layers.Input((12, 12, 3)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.DepthwiseConv2D(3, padding="same", activation="relu"),
        layers.Conv2D(16, 1, activation="relu"),
        layers.SeparableConv2D(16, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(16, 3, groups=4, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(2)])
    model.compile(optimizer=pyconv.optimizers.Adam(3e-3), loss=pyconv.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, batch_size=32, epochs=6, verbose=0).history["loss"]
    assert hist[-1] < 0.75 * hist[0], hist
