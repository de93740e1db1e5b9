"""conv2d forward, backward_input, backward_filter: the C fast path and the C `_ref` against
the float64 references of tests/reference.py, on every ISA, with hypothesis drawing the shapes."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from pyconv import _kernels, nn
from pyconv._geometry import Window
from reference import assert_sum_close, conv2d as conv_ref, conv2d_grads, conv_pads


@st.composite
def conv_cases(draw):
    R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same", "explicit"]))
    if padding == "explicit":
        padding = ((draw(st.integers(0, 2)), draw(st.integers(0, 2))),
                   (draw(st.integers(0, 2)), draw(st.integers(0, 2))))
    H = draw(st.integers((R - 1) * dil[0] + 1, 10))
    W = draw(st.integers((S - 1) * dil[1] + 1, 10))
    return dict(N=draw(st.integers(1, 3)), H=H, W=W, C=draw(st.integers(1, 9)),
                K=draw(st.integers(1, 35)), R=R, S=S, stride=stride, dil=dil, padding=padding)


def run(case, ref, rng):
    N, H, W, C, K, R, S = (case[k] for k in "NHWCKRS")
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((R, S, C, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    P, Q, (top, _), (left, _) = conv_pads(H, W, R, S, case["stride"], case["dil"], case["padding"])
    win = Window(P, Q, R, S, *case["stride"], *case["dil"], top, left)
    out = _kernels.conv2d_fwd(x, w, b, False, win, ref)
    g = rng.standard_normal(out.shape).astype(np.float32)
    dx = _kernels.conv2d_bwd_input(x.shape, w, g, win, ref)
    dw, db = _kernels.conv2d_bwd_filter(x, w.shape, g, win, True, ref)

    args = (case["stride"], case["dil"], case["padding"])
    D = R * S * C
    assert_sum_close(out, conv_ref(x, w, *args) + b, conv_ref(abs(x), abs(w), *args) + abs(b), D + 1, "forward")
    edx, edw = conv2d_grads(x, w, g, *args)
    adx, adw = conv2d_grads(abs(x), abs(w), abs(g), *args)
    assert_sum_close(dx, edx, adx, R * S * K, "backward_input")
    assert_sum_close(dw, edw, adw, N * P * Q, "backward_filter")
    assert_sum_close(db, g.astype(np.float64).sum((0, 1, 2)), abs(g).sum((0, 1, 2)), N * P * Q, "bias")


EDGES = [
    dict(N=1, H=5, W=5, C=3, K=4, R=1, S=1, stride=(1, 1), dil=(1, 1), padding="valid"),   # batch 1, 1x1
    dict(N=2, H=4, W=3, C=2, K=5, R=4, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),   # kernel = input
    dict(N=1, H=7, W=8, C=1, K=32, R=3, S=3, stride=(2, 2), dil=(1, 1), padding="same"),   # SAME, odd pad, C_in 1
    dict(N=2, H=28, W=28, C=1, K=32, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),  # the tutorial's conv1:
    # MR-pixel panels inside one output row (packed tap by tap) and panels across two rows
    dict(N=2, H=6, W=6, C=3, K=11, R=3, S=3, stride=(2, 2), dil=(1, 1), padding="same"),  # C_in 3, MR-1 K
    dict(N=1, H=5, W=5, C=2, K=13, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="same"),   # MR+1, NR-ish
    dict(N=1, H=4, W=4, C=2, K=33, R=2, S=2, stride=(1, 1), dil=(1, 1), padding="valid"),  # NR+1
    dict(N=1, H=5, W=5, C=29, K=3, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="same"),   # depth 261: one block
    dict(N=1, H=9, W=7, C=2, K=3, R=3, S=2, stride=(1, 3), dil=(2, 3), padding=((2, 0), (1, 2))),
    # C a multiple of NR (8 / 16 / 32): backward_filter reads the patches in place (patch_cols)
    dict(N=2, H=7, W=6, C=32, K=5, R=3, S=3, stride=(2, 1), dil=(1, 2), padding="same"),
    dict(N=1, H=5, W=5, C=16, K=7, R=2, S=3, stride=(1, 1), dil=(1, 1), padding=((1, 0), (0, 2))),
    dict(N=1, H=4, W=4, C=64, K=3, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),
    # depth blocks: 9 taps of 36 (324 = KC + 4) as 5 + 4 taps; one tap of 330 > KC cut inside it
    dict(N=1, H=4, W=5, C=36, K=6, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="same"),
    dict(N=2, H=3, W=3, C=330, K=5, R=1, S=2, stride=(1, 1), dil=(1, 1), padding="valid"),
    # first layer, R*S*C = 24 a multiple of every MR (4 / 6 / 8): no spare row for the bias
    dict(N=2, H=6, W=6, C=6, K=9, R=2, S=2, stride=(1, 1), dil=(1, 1), padding="same"),
    # C = 32 with padding only at the bottom and right: not every window is inside the image
    dict(N=2, H=5, W=6, C=32, K=4, R=3, S=3, stride=(1, 1), dil=(1, 1), padding=((0, 2), (0, 1))),
    # K a multiple of every MR and C of every NR: the filter gradient reads dout^T in place
    dict(N=2, H=6, W=6, C=32, K=24, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),
    dict(N=2, H=7, W=5, C=64, K=48, R=2, S=3, stride=(2, 1), dil=(1, 1), padding="same"),
    # input gradient scattered into the image with a depth (K = 330) past KC: several blocks
    dict(N=1, H=4, W=4, C=32, K=330, R=2, S=2, stride=(1, 1), dil=(1, 1), padding="valid"),
    # stride 2 with no padding read: patch_cols' pointer stepping across rows and images
    dict(N=2, H=9, W=8, C=32, K=8, R=3, S=3, stride=(2, 2), dil=(1, 1), padding="valid"),
    # K = 64 + 1 output channels: the filter gradient's rows one past a multiple of MR = 8
    dict(N=1, H=5, W=5, C=32, K=65, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),
]


@pytest.mark.parametrize("ref", [False, True], ids=["fast", "ref"])
@settings(max_examples=60)
@given(case=conv_cases())
@example(case=EDGES[0]).via("edge")
@example(case=EDGES[1]).via("edge")
@example(case=EDGES[2]).via("edge")
@example(case=EDGES[3]).via("edge")
@example(case=EDGES[4]).via("edge")
@example(case=EDGES[5]).via("edge")
@example(case=EDGES[6]).via("edge")
@example(case=EDGES[7]).via("edge")
@example(case=EDGES[8]).via("edge")
@example(case=EDGES[9]).via("edge")
@example(case=EDGES[10]).via("edge")
@example(case=EDGES[11]).via("edge")
@example(case=EDGES[12]).via("edge")
@example(case=EDGES[13]).via("edge")
@example(case=EDGES[14]).via("edge")
@example(case=EDGES[15]).via("edge")
@example(case=EDGES[16]).via("edge")
@example(case=EDGES[17]).via("edge")
@example(case=EDGES[18]).via("edge")
@example(case=EDGES[19]).via("edge")
def test_conv2d_against_reference(isa, ref, case):
    run(case, ref, np.random.default_rng(0))


def test_backward_filter_chunked_reduction(isa):
    """More pixels than one reduction chunk: the partial sums must add up in order -- for the
    first layer's orientation (bias as a row of ones) and the swapped one with dout^T read in
    place from a chunk's first pixel on (C a multiple of NR, K of MR)."""
    run(dict(N=6, H=16, W=16, C=3, K=8, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),
        False, np.random.default_rng(1))
    run(dict(N=2, H=25, W=25, C=32, K=16, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),
        False, np.random.default_rng(2))



def test_backward_filter_partials_capped(isa, each_thread_count, rng):
    """K x RSC = 160 x 1,024 partials (a 1x1 filter): 4,225 pixels would make 8 chunks, whose
    partials (5.2 MB) pass BWF_PARTS_BYTES, so they are 4 longer ones -- against the float64
    reference (here one matrix product), and bitwise the same for any thread count."""
    x = rng.standard_normal((1, 65, 65, 1024)).astype(np.float32)
    g = rng.standard_normal((1, 65, 65, 160)).astype(np.float32)
    win = Window(65, 65, 1, 1, 1, 1, 1, 1, 0, 0)
    results = [_kernels.conv2d_bwd_filter(x, (1, 1, 1024, 160), g, win, True)
               for _ in each_thread_count()]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)
    x2, g2 = x.reshape(-1, 1024).astype(np.float64), g.reshape(-1, 160).astype(np.float64)
    assert_sum_close(results[0][0][0, 0], x2.T @ g2, abs(x2).T @ abs(g2), 65 * 65, "backward_filter")


def test_convt_gradient_shapes_threads(isa, each_thread_count, rng):
    """The Conv2DTranspose's input gradient (a 3x3 stride-2 SAME conv2d of 64 channels to 128):
    its GEMM takes 2 depth blocks over several row blocks, so B is got whole and each task runs
    both (loop 4 inside loop 3) -- against the float64 reference, and bitwise the same for any
    thread count, which changes the tasks."""
    g = rng.standard_normal((3, 28, 28, 64)).astype(np.float32)
    w = rng.standard_normal((3, 3, 64, 128)).astype(np.float32)
    win = Window(14, 14, 3, 3, 2, 2, 1, 1, 0, 0)
    outs = [_kernels.conv2d_fwd(g, w, None, False, win) for _ in each_thread_count()]
    for other in outs[1:]:
        assert np.array_equal(outs[0], other)
    e = conv_ref(g, w, (2, 2), (1, 1), "same")
    assert_sum_close(outs[0], e, conv_ref(abs(g), abs(w), (2, 2), (1, 1), "same"), 576, "forward")


def test_forward_far_input_is_the_cached_one(isa, each_thread_count, rng):
    """A pass past the L3 (pyconv_past_l3: more than half of it moved, 16 MiB here; 43 MB) has
    its row pointers' next block prefetched (gemm.c's prefetch_rows): the batch at once gives
    the bits of a few of its images alone (2 MB), for any thread count."""
    x = rng.standard_normal((130, 64, 64, 16), np.float32)
    w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    win = Window(32, 32, 3, 3, 2, 2, 1, 1, 0, 0)
    ends = [_kernels.conv2d_fwd(x[n:n + 2], w, None, False, win) for n in (0, 64, 128)]
    for _ in each_thread_count():
        out = _kernels.conv2d_fwd(x, w, None, False, win)
        for n, end in zip((0, 64, 128), ends):
            assert np.array_equal(out[n:n + 2], end)

@st.composite
def small_c_cases(draw):
    """C < SMALL_C (8): the filter gradient's direct loop nest (conv2d_smallc_loops.h) -- K
    with and without a tail past every vector width, filters taller than a register tile."""
    case = draw(conv_cases())
    case.update(C=draw(st.integers(1, 4)), K=draw(st.sampled_from([1, 3, 7, 16, 21, 32, 37, 64])))
    return case


@settings(max_examples=40)
@given(case=small_c_cases())
@example(case=dict(N=2, H=12, W=9, C=4, K=37, R=4, S=4, stride=(1, 1), dil=(1, 1), padding="same")).via("edge")
@example(case=dict(N=1, H=5, W=11, C=1, K=3, R=1, S=4, stride=(1, 3), dil=(1, 2), padding="valid")).via("edge")
def test_small_c_filter_gradient(isa, case):
    run(case, False, np.random.default_rng(3))


@settings(max_examples=40)
@given(case=small_c_cases(), relu=st.booleans(), bias=st.booleans())
@example(case=dict(N=2, H=28, W=28, C=1, K=32, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),
         relu=True, bias=True).via("the tutorial's conv1")
@example(case=dict(N=1, H=5, W=5, C=3, K=37, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="same"),
         relu=True, bias=True).via("rows shorter than a tile; a K tail")
def test_small_c_forward_is_the_gemm_bitwise(isa, each_thread_count, case, relu, bias):
    """C < SMALL_C: conv2d_forward's direct loop nest (conv2d_smallc_loops.h) gives the bits of
    the GEMM with the patches packed (form=0) -- the sum from zero in one depth block, then the
    bias, then relu -- on every thread count."""
    N, H, W, C, K, R, S = (case[k] for k in "NHWCKRS")
    rng = np.random.default_rng(K * 7 + C)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    x[x < -1.5] = -0.0
    w = rng.standard_normal((R, S, C, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32) if bias else None
    P, Q, (top, _), (left, _) = conv_pads(H, W, R, S, case["stride"], case["dil"], case["padding"])
    win = Window(P, Q, R, S, *case["stride"], *case["dil"], top, left)
    gemm = _kernels.conv2d_fwd(x, w, b, relu, win, form=0)
    for _ in each_thread_count():
        np.testing.assert_array_equal(_kernels.conv2d_fwd(x, w, b, relu, win), gemm)


def test_small_c_filter_gradient_threads(isa, each_thread_count, rng):
    """8 pixel chunks (their ends inside output rows), border pixels on every side: bitwise
    the same for any thread count, with and without the bias gradient."""
    x = rng.standard_normal((6, 30, 30, 3)).astype(np.float32)
    g = rng.standard_normal((6, 30, 30, 21)).astype(np.float32)
    win = Window(30, 30, 3, 3, 1, 1, 1, 1, 1, 1)
    results = [(*_kernels.conv2d_bwd_filter(x, (3, 3, 3, 21), g, win, True),
                _kernels.conv2d_bwd_filter(x, (3, 3, 3, 21), g, win, False)[0])
               for _ in each_thread_count()]
    assert np.array_equal(results[0][0], results[0][2])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


TUTORIAL_LAYERS = [((4, 28, 28, 1), (3, 3, 1, 32)), ((4, 13, 13, 32), (3, 3, 32, 64)),
                   ((4, 5, 5, 64), (3, 3, 64, 64))]


@pytest.mark.parametrize("shapes", TUTORIAL_LAYERS, ids=["conv1", "conv2", "conv3"])
def test_threads_bitwise_identical(isa, each_thread_count, shapes, rng):
    x = rng.standard_normal(shapes[0]).astype(np.float32)
    w = rng.standard_normal(shapes[1]).astype(np.float32)
    results = []
    for _ in each_thread_count():
        y = nn.conv2d(x, w)
        g = np.ascontiguousarray(y[::-1])
        results.append((y, nn.conv2d_backprop_input(x.shape, w, g, 1, "VALID"),
                        *_kernels.conv2d_bwd_filter(x, w.shape, g, Window(*y.shape[1:3], *w.shape[:2],
                                                                          1, 1, 1, 1, 0, 0), True)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


@settings(max_examples=30)
@given(case=conv_cases(), panels=st.integers(1, 3), C=st.sampled_from([1, 3, 8, 16, 64, 100]))
@example(case=dict(N=1, H=5, W=5, C=64, K=64, R=3, S=3, stride=(1, 1), dil=(1, 1), padding="valid"),
         panels=2, C=64).via("the tutorial's conv3 at batch 1: the filter read in place")
@example(case=EDGES[13], panels=1, C=330).via("one tap of 330 > KC, cut inside it")
@example(case=EDGES[12], panels=1, C=36).via("9 taps of 36: blocks of whole taps")
def test_filter_in_place_is_bitwise_the_packed_form(isa, each_thread_count, case, panels, C):
    """conv2d_forward_form: the filter read in place -- through row pointers (the patches packed)
    or as strided panels (the patches read through pointers) -- gives the bits of the filter
    packed (the patches read in place, or packed for C < 8) on every thread count, and
    conv2d_forward takes one of them; all within the float64 reference's bound."""
    nr = _kernels.gemm_tile()[1]
    case = dict(case, C=C, K=panels * nr)
    N, H, W, K, R, S = (case[k] for k in "NHWKRS")
    rng = np.random.default_rng(C * 31 + K)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((R, S, C, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    P, Q, (top, _), (left, _) = conv_pads(H, W, R, S, case["stride"], case["dil"], case["padding"])
    win = Window(P, Q, R, S, *case["stride"], *case["dil"], top, left)
    outs = [tuple(_kernels.conv2d_fwd(x, w, b, True, win, form=f) for f in (0, 1, 2))
            for _ in each_thread_count()]
    for packed, *in_place in outs:
        for form, got in enumerate(in_place, 1):
            d = np.abs(packed.astype(np.float64) - got)
            assert np.array_equal(packed, got), \
                f"form {form}: largest difference {d.max()} at {np.unravel_index(d.argmax(), d.shape)}"
        np.testing.assert_array_equal(packed, outs[0][0])
    np.testing.assert_array_equal(_kernels.conv2d_fwd(x, w, b, True, win), outs[0][0])
    args = (case["stride"], case["dil"], case["padding"])
    e = np.maximum(conv_ref(x, w, *args) + b, 0)
    assert_sum_close(outs[0][1], e, conv_ref(abs(x), abs(w), *args) + abs(b), R * S * C + 1, "in place")


@pytest.mark.parametrize("layer", [(5, 64, 64), (13, 32, 64)], ids=["conv3", "conv2"])
@pytest.mark.parametrize("form", [0, 1, 2])
def test_edge_tiles_are_whole_tiles_bitwise(isa, each_thread_count, layer, form):
    """The tutorial's conv3 (9 rows an image) and conv2 (121) on batches of 1-7 images end in an
    edge tile of 1-7 rows past the last whole MR tile (1-5 past AVX2's 6; the edge kernels of both
    compute only those rows): each image's output is bitwise its output in a batch of 8 -- 72 and 968 rows, whole
    tiles -- in every form (filter packed, in place through pointers or as strided panels) and on
    every thread count; and within
    the float64 reference's bound."""
    H, C, K = layer
    rng = np.random.default_rng(H)
    x = rng.standard_normal((8, H, H, C)).astype(np.float32)
    w = rng.standard_normal((3, 3, C, K)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    win = Window(H - 2, H - 2, 3, 3, 1, 1, 1, 1, 0, 0)
    whole = _kernels.conv2d_fwd(x, w, b, True, win, form=form)
    for _ in each_thread_count():
        for n in range(1, 8):
            got = _kernels.conv2d_fwd(x[:n], w, b, True, win, form=form)
            d = np.abs(got.astype(np.float64) - whole[:n])
            assert np.array_equal(got, whole[:n]), \
                f"batch {n}: largest difference {d.max()} at {np.unravel_index(d.argmax(), d.shape)}"
    e = np.maximum(conv_ref(x, w, (1, 1), (1, 1), "valid") + b, 0)
    bound = conv_ref(abs(x), abs(w), (1, 1), (1, 1), "valid") + abs(b)
    assert_sum_close(whole, e, bound, 9 * C + 1, "whole tiles")


def test_form_errors():
    x, w = np.zeros((1, 3, 3, 2), np.float32), np.zeros((1, 1, 2, 1), np.float32)
    win = Window(3, 3, 1, 1, 1, 1, 1, 1, 0, 0)
    with pytest.raises(ValueError, match=r"`form` must be -1, 0, 1 or 2. Received: form=3."):
        _kernels.conv2d_fwd(x, w, None, False, win, form=3)
    for form in (1, 2):
        with pytest.raises(ValueError, match=rf"`form={form}` reads the filters in place, which needs "
                                             r"its last axis to be a multiple of \d+. Received: 1."):
            _kernels.conv2d_fwd(x, w, None, False, win, form=form)


def test_fused_bias_relu_epilogue(isa, rng):
    x = rng.standard_normal((2, 6, 6, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 4, 40)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    fused = _kernels.conv2d_fwd(x, w, b, True, Window(4, 4, 3, 3, 1, 1, 1, 1, 0, 0))
    assert np.array_equal(fused, nn.relu(nn.bias_add(nn.conv2d(x, w), b)))


def test_tutorial_edge_filters():
    """The tutorial's tf.nn code: a vertical and a horizontal 7x7 line filter, SAME."""
    images = np.zeros((2, 28, 28, 1), np.float32)
    images[0, :, 10, 0] = 1.0   # a vertical line
    images[1, 14, :, 0] = 1.0   # a horizontal line
    channels = 1
    filters = np.zeros(shape=(7, 7, channels, 2), dtype=np.float32)
    filters[:, 3, :, 0] = 1    # vertical
    filters[3, :, :, 1] = 1    # horizontal
    output = nn.conv2d(images, filters, strides=1, padding="SAME")
    assert output.shape == (2, 28, 28, 2)
    assert output[0, 14, 10, 0] == 7 and output[0, 14, 10, 1] == 1
    assert output[1, 14, 10, 1] == 7 and output[1, 14, 10, 0] == 1


def test_public_api_conventions(rng):
    x = rng.standard_normal((1, 6, 7, 2))          # float64: converted
    w = rng.standard_normal((3, 3, 2, 4))
    ref = conv_ref(x.astype(np.float32), w.astype(np.float32), (2, 1), (1, 1), "same")
    for strides in (2, (2, 1), [1, 2, 1, 1]):
        s = (strides, strides) if isinstance(strides, int) else tuple(strides)[-3:-1] if len(strides) == 4 else strides
        y = nn.conv2d(x, w, strides=strides, padding="Same")
        assert y.dtype == np.float32
        assert y.shape == conv_ref(x, w, tuple(s), (1, 1), "same").shape
    y = nn.conv2d(x[:, :, ::-1], w, strides=(2, 1), padding="SAME")   # negative-stride view
    assert np.allclose(y, conv_ref(x[:, :, ::-1].astype(np.float32), w.astype(np.float32), (2, 1), (1, 1), "same"), atol=1e-5)
    assert np.allclose(nn.conv2d(x, w, strides=(2, 1), padding="SAME"), ref, atol=1e-5)
    explicit = nn.conv2d(x, w, padding=[[0, 0], [1, 1], [2, 0], [0, 0]])
    assert np.allclose(explicit, conv_ref(x, w, (1, 1), (1, 1), ((1, 1), (2, 0))), atol=1e-5)


def test_empty_batch():
    y = nn.conv2d(np.zeros((0, 5, 5, 2), np.float32), np.ones((3, 3, 2, 4), np.float32))
    assert y.shape == (0, 3, 3, 4)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(input=np.zeros((5, 5, 1)), filters=np.zeros((3, 3, 1, 1))), ValueError, r"`input` must be a 4-D array. Received: input.shape=\(5, 5, 1\)"),
    (dict(input=np.zeros((1, 5, 5, 2)), filters=np.zeros((3, 3, 1, 1))), ValueError, r"as many input channels"),
    (dict(input=np.zeros((1, 2, 2, 1)), filters=np.zeros((3, 3, 1, 1))), ValueError, r"larger than the padded input"),
    (dict(input=np.zeros((1, 5, 5, 1)), filters=np.zeros((3, 3, 1, 1)), strides=0), ValueError, r"`strides` must be .* Received: strides=0"),
    (dict(input=np.zeros((1, 5, 5, 1)), filters=np.zeros((3, 3, 1, 1)), dilations=(1, 0)), ValueError, r"Received: dilations=\(1, 0\)"),
    (dict(input=np.zeros((1, 5, 5, 1)), filters=np.zeros((3, 3, 1, 1)), padding="full"), ValueError, r"`padding` must be .* Received: padding='full'"),
    (dict(input=np.zeros((1, 5, 5, 1), complex), filters=np.zeros((3, 3, 1, 1))), TypeError, r"`input` must be a real-valued"),
    (dict(input=np.zeros((1, 5, 5, 1)), filters=np.zeros((3, 3, 1, 1)), strides=(2, 2, 2, 2)), ValueError, r"1 at batch and channel"),
])
def test_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        nn.conv2d(**kwargs)


def test_backprop_shape_errors():
    with pytest.raises(ValueError, match=r"`out_backprop` must have the convolution's output shape \(1, 3, 3, 2\)"):
        nn.conv2d_backprop_input((1, 5, 5, 1), np.zeros((3, 3, 1, 2)), np.zeros((1, 4, 4, 2)), 1, "VALID")
    with pytest.raises(ValueError, match=r"`filter_sizes` must be 4 non-negative ints"):
        nn.conv2d_backprop_filter(np.zeros((1, 5, 5, 1)), (3, 3), np.zeros((1, 3, 3, 2)), 1, "VALID")
