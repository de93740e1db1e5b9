"""csrc/resample.c: resize (bilinear, nearest) and the projective sampler, forward and backward.

- the C kernels vs their _ref loop nests (bitwise, thread counts 1 and 2, every ISA this CPU
  has: the `isa` fixture) and vs the float64
  NumPy references of tests/ref_resample.py (the references' backward checked to be their
  forward's adjoint: <f(x), g> = <x, f^T(g)>, which for a linear map is the derivative check);
- vs real Keras 3.15.1 / TensorFlow 2.21 for fixed inputs (tests/fixtures/resample_keras.npz,
  written by tests/fixtures/make_resample_keras.py): resize, UpSampling2D(bilinear), Resizing
  (crop and pad to aspect ratio), CenterCrop and affine_transform in every interpolation and
  fill mode bitwise; ResizeBilinearGrad to float32 rounding;
- the layers' gradients (Resizing, UpSampling2D bilinear) by central differences, hypothesis
  drawing shapes and scales; errors pinned.

Tolerances: the fast kernels compute in float32 with TF's operation order; against the float64
references the difference is float32 rounding of a few products of values of order 1 (~1e-6):
atol 2e-5 (1e-4 for gradients that sum up to ~10 contributions).
"""
import os

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import ref_resample as ref
from pyconv import _kernels, layers
from test_layers import check_gradients

FIX = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "resample_keras.npz"))
MODES = ("reflect", "wrap", "constant", "nearest")


def close(actual, expected, atol, what):
    d = np.abs(np.asarray(actual, np.float64) - expected)
    i = np.unravel_index(np.argmax(d), d.shape) if d.size else ()
    assert d.size == 0 or d.max() <= atol, f"{what}: largest difference {d.max():.3g} at {i}"


def images(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def random_transforms(n, h, w, seed, projective):
    """Maps that reach outside the image (rotations by up to 180 degrees, zooms 0.5-2,
    shifts of up to one image), with small projective terms when asked."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-np.pi, np.pi, n)
    z = rng.uniform(0.5, 2.0, (n, 2))
    t = np.zeros((n, 8), np.float32)
    t[:, 0], t[:, 1], t[:, 3], t[:, 4] = z[:, 0] * np.cos(a), -z[:, 0] * np.sin(a), z[:, 1] * np.sin(a), z[:, 1] * np.cos(a)
    t[:, 2], t[:, 5] = rng.uniform(-w, w, n), rng.uniform(-h, h, n)
    if projective:
        t[:, 6:] = rng.uniform(-0.05, 0.05, (n, 2))
    return t


# ---- resize -------------------------------------------------------------------------------------

def check_resize(N, H, W, C, P, Q, method, seed):
    x = images((N, H, W, C), seed)
    g = images((N, P, Q, C), seed + 1)
    y = _kernels.resize(x, P, Q, method)
    np.testing.assert_array_equal(y, _kernels.resize(x, P, Q, method, ref=True))
    close(y, ref.resize(x, P, Q, method), 2e-5, f"resize {method} forward")
    dx = _kernels.resize_grad(g, H, W, method)
    np.testing.assert_array_equal(dx, _kernels.resize_grad(g, H, W, method, ref=True))
    close(dx, ref.resize_grad(g, H, W, method), 1e-4, f"resize {method} backward")


@settings(max_examples=30)
@given(N=st.integers(1, 3), H=st.integers(1, 9), W=st.integers(1, 9), C=st.integers(1, 9),
       P=st.integers(1, 13), Q=st.integers(1, 13), method=st.sampled_from(("bilinear", "nearest")),
       seed=st.integers(0, 99))
@example(N=1, H=1, W=1, C=1, P=1, Q=1, method="bilinear", seed=0)       # 1x1 to 1x1: a copy
@example(N=2, H=1, W=1, C=3, P=5, Q=4, method="bilinear", seed=1)       # one pixel spread
@example(N=1, H=7, W=5, C=2, P=7, Q=5, method="bilinear", seed=2)       # same size
@example(N=1, H=8, W=8, C=17, P=1, Q=1, method="bilinear", seed=3)      # everything to one pixel
@example(N=1, H=4, W=6, C=1, P=2, Q=3, method="nearest", seed=4)        # exact halving (ties)
@example(N=1, H=3, W=9, C=4, P=12, Q=2, method="nearest", seed=5)
@example(N=2, H=3, W=4, C=5, P=6, Q=8, method="bilinear", seed=6)       # x2: rows in pairs
@example(N=1, H=2, W=3, C=3, P=11, Q=5, method="bilinear", seed=7)      # runs of 5 rows: 2 pairs + 1
def test_resize_vs_ref_and_float64(isa, N, H, W, C, P, Q, method, seed):
    check_resize(N, H, W, C, P, Q, method, seed)


def test_resize_threads_bitwise(isa, each_thread_count):
    x, g = images((3, 40, 37, 19), 0), images((3, 61, 29, 19), 1)
    out = []
    for _ in each_thread_count():
        out.append([_kernels.resize(x, 61, 29, m) for m in ("bilinear", "nearest")] +
                   [_kernels.resize_grad(g, 40, 37, m) for m in ("bilinear", "nearest")] +
                   # one image: 1 thread scatters per image, 2 gather per input row
                   [_kernels.resize_grad(g[:1], 40, 37, "bilinear")])
    for other in out[1:]:
        for a, b in zip(out[0], other):
            np.testing.assert_array_equal(a, b)
    check_resize(3, 40, 37, 19, 61, 29, "bilinear", 7)   # above the threading threshold
    # row pairs (the bilinear forward) across the threads' shares of the 3 x 15 rows (above the
    # threshold: 52,200 output elements)
    x = images((3, 5, 37, 40), 2)
    out = [_kernels.resize(x, 15, 29, "bilinear") for _ in each_thread_count()]
    for other in out[1:]:
        np.testing.assert_array_equal(out[0], other)
    np.testing.assert_array_equal(out[0], _kernels.resize(x, 15, 29, "bilinear", ref=True))


@pytest.mark.parametrize("C", [3, 64])
def test_resize_streamed_past_l3(isa, each_thread_count, C):
    """An output larger than L3: the nearest resize writes it by non-temporal stores through a
    row buffer (rows of C = 3 are not 16-byte aligned; 64: a row is longer than the buffer);
    both resizes give the _ref's bits at any thread count. So does the nearest backward, whose
    input gradient is streamed from a row buffer when a row fits it (C = 3), written in
    place otherwise (64)."""
    l3 = _kernels.cache_info()["l3"][0]
    side = int(np.sqrt(l3 / 4 / C / 2 / 4)) + 8   # 2 images, upsampled 2x: > L3
    x = images((2, side, side + 3, C), 0)
    for method in ("bilinear", "nearest"):
        want = _kernels.resize(x, 2 * side, 2 * side + 6, method, ref=True)
        assert want.nbytes > l3
        for _ in each_thread_count():
            np.testing.assert_array_equal(_kernels.resize(x, 2 * side, 2 * side + 6, method), want)
    g = images((2, 2 * side, 2 * side + 6, C), 1)
    want = _kernels.resize_grad(g, side, side + 3, "nearest", ref=True)
    for _ in each_thread_count():
        np.testing.assert_array_equal(_kernels.resize_grad(g, side, side + 3, "nearest"), want)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_reference_backward_is_the_forwards_adjoint(method):
    rng = np.random.default_rng(0)
    for H, W, P, Q in ((5, 7, 9, 4), (6, 3, 2, 8), (4, 4, 4, 4)):
        x, g = rng.standard_normal((2, H, W, 3)), rng.standard_normal((2, P, Q, 3))
        lhs = (ref.resize(x, P, Q, method) * g).sum()
        assert abs(lhs - (x * ref.resize_grad(g, H, W, method)).sum()) < 1e-10 * (1 + abs(lhs))
    t = random_transforms(2, 5, 6, 3, projective=True)
    for interp in ("bilinear", "nearest"):
        for mode in MODES:
            x, g = rng.standard_normal((2, 5, 6, 3)), rng.standard_normal((2, 5, 6, 3))
            lhs = (ref.affine_sample(x, t, interp, mode, 0.0) * g).sum()
            rhs = (x * ref.affine_sample_grad(g, t, interp, mode)).sum()
            assert abs(lhs - rhs) < 1e-10 * (1 + abs(lhs)), (interp, mode)


# ---- the projective sampler ---------------------------------------------------------------------

def check_affine(N, H, W, C, interp, mode, seed, projective, shared=False):
    x = images((N, H, W, C), seed)
    g = images((N, H, W, C), seed + 1)
    t = random_transforms(1 if shared else N, H, W, seed, projective)
    fill = 0.75
    y = _kernels.affine_sample(x, t, interp, mode, fill)
    np.testing.assert_array_equal(y, _kernels.affine_sample(x, t, interp, mode, fill, ref=True))
    close(y, ref.affine_sample(x, t, interp, mode, fill), 2e-5, f"affine {interp} {mode} forward")
    dx = _kernels.affine_sample_grad(g, t, interp, mode)
    np.testing.assert_array_equal(dx, _kernels.affine_sample_grad(g, t, interp, mode, ref=True))
    close(dx, ref.affine_sample_grad(g, t, interp, mode), 1e-4, f"affine {interp} {mode} backward")


@settings(max_examples=40)
@given(N=st.integers(1, 3), H=st.integers(1, 8), W=st.integers(1, 8), C=st.integers(1, 6),
       interp=st.sampled_from(("bilinear", "nearest")), mode=st.sampled_from(MODES),
       seed=st.integers(0, 99), projective=st.booleans(), shared=st.booleans())
@example(N=1, H=1, W=1, C=1, interp="bilinear", mode="reflect", seed=0, projective=False, shared=False)
@example(N=2, H=1, W=5, C=2, interp="bilinear", mode="wrap", seed=1, projective=True, shared=False)
@example(N=2, H=6, W=1, C=3, interp="nearest", mode="reflect", seed=2, projective=False, shared=True)
@example(N=1, H=5, W=7, C=17, interp="bilinear", mode="constant", seed=3, projective=True, shared=False)
def test_affine_vs_ref_and_float64(isa, N, H, W, C, interp, mode, seed, projective, shared):
    check_affine(N, H, W, C, interp, mode, seed, projective, shared)


def test_affine_identity_far_points_and_k_zero():
    x = images((2, 4, 5, 3), 0)
    ident = np.array([[1, 0, 0, 0, 1, 0, 0, 0]], np.float32)
    for mode in MODES:
        for interp in ("bilinear", "nearest"):
            np.testing.assert_array_equal(_kernels.affine_sample(x, ident, interp, mode), x)
            np.testing.assert_array_equal(_kernels.affine_sample_grad(x, ident, interp, mode), x)
    # k = 0 on column 1 (t6 = -1): TF's fill value there; points 1e30 away stay defined
    t = np.array([[1, 0, 0, 0, 1, 0, -1, 0], [1e30, 0, 0, 0, 1, -1e30, 0, 0]], np.float32)
    for mode in MODES:
        y = _kernels.affine_sample(x, t, "bilinear", mode, 2.5)
        np.testing.assert_array_equal(y[0, :, 1], 2.5)
        np.testing.assert_array_equal(y, _kernels.affine_sample(x, t, "bilinear", mode, 2.5, ref=True))
        assert np.isfinite(y).all()
    # coordinates in [2^23, 2^24) (every float an integer there; beyond 2^24 TF's y_floor + 1
    # rounds back to y_floor and both weights vanish, which a float64 reference cannot mimic),
    # and at -0.5 / +0.5 steps, every mode
    t = np.array([[1, 0, -1.2e7, 0, 1, 1.5e7, 0, 0], [-1, 0, -0.5, 0, 1, 0.5, 0, 0]], np.float32)
    for mode in MODES:
        for interp in ("bilinear", "nearest"):
            close(_kernels.affine_sample(x, t, interp, mode, 2.5), ref.affine_sample(x, t, interp, mode, 2.5),
                  2e-5, f"far {interp} {mode}")


def test_affine_threads_bitwise(isa, each_thread_count):
    x, g = images((4, 33, 31, 8), 0), images((4, 33, 31, 8), 1)
    t = random_transforms(4, 33, 31, 2, projective=True)
    out = []
    for _ in each_thread_count():
        out.append([_kernels.affine_sample(x, t, "bilinear", m) for m in MODES] +
                   [_kernels.affine_sample_grad(g, t, "bilinear", m) for m in MODES])
    for other in out[1:]:
        for a, b in zip(out[0], other):
            np.testing.assert_array_equal(a, b)
    check_affine(4, 33, 31, 8, "bilinear", "reflect", 2, True)


# ---- Keras 3 / TensorFlow -----------------------------------------------------------------------

def _fixture_keys(prefix):
    return [k for k in FIX.files if k.startswith(prefix)]


def test_resizing_and_upsampling_bitwise_keras(isa):
    x = FIX["x"]
    keys = _fixture_keys("resize_bilinear") + _fixture_keys("resize_nearest")
    assert len(keys) == 12
    for k in keys:
        _, method, P, Q = k.split("_")
        np.testing.assert_array_equal(layers.Resizing(int(P), int(Q), method)(x), FIX[k], err_msg=k)
    for k in _fixture_keys("resize_crop") + _fixture_keys("resize_pad"):
        _, kind, P, Q = k.split("_")
        opt = {"crop_to_aspect_ratio": True} if kind == "crop" else {"pad_to_aspect_ratio": True, "fill_value": 0.25}
        np.testing.assert_array_equal(layers.Resizing(int(P), int(Q), **opt)(x), FIX[k], err_msg=k)
    for k in _fixture_keys("up_bilinear"):
        sh, sw = map(int, k.split("_")[2:])
        np.testing.assert_array_equal(layers.UpSampling2D((sh, sw), interpolation="bilinear")(x), FIX[k], err_msg=k)
    for k in _fixture_keys("center_crop"):
        P, Q = map(int, k.split("_")[2:])
        np.testing.assert_array_equal(layers.CenterCrop(P, Q)(x), FIX[k], err_msg=k)


def test_nearest_rounds_halves_away_from_zero_as_keras(isa):
    x, t = FIX["x"], FIX["half_t"]
    for mode in MODES:
        y = _kernels.affine_sample(x, t, "nearest", mode, 0.5)
        np.testing.assert_array_equal(y, FIX[f"half_{mode}"], err_msg=mode)
        np.testing.assert_array_equal(y, ref.affine_sample(x, t, "nearest", mode, 0.5), err_msg=mode)
    # column q reads q + 0.5 -> q + 1 (half to even would read 0, 2, 2, 4, ...); row p reads
    # p - 1.5 -> p - 1 (0.5 -> 1, 1.5 -> 2, 2.5 -> 3)
    y = _kernels.affine_sample(x, t, "nearest", "constant", 0.5)
    np.testing.assert_array_equal(y[0, 2:, :6], x[0, 1:4, 1:7])


def test_resize_gradient_matches_tensorflow():
    dx = _kernels.resize_grad(FIX["resize_grad_g"], 5, 7, "bilinear")
    close(dx, FIX["resize_grad_9_4"], 2e-6, "ResizeBilinearGrad")


def test_affine_transform_bitwise_keras(isa):
    x, t = FIX["x"], FIX["affine_t"]
    for interp in ("bilinear", "nearest"):
        for mode in MODES:
            for r in (False, True):
                np.testing.assert_array_equal(_kernels.affine_sample(x, t, interp, mode, 0.5, ref=r),
                                              FIX[f"affine_{interp}_{mode}"], err_msg=f"{interp} {mode}")


# ---- layers: gradients, errors ------------------------------------------------------------------

@settings(max_examples=12)
@given(N=st.integers(1, 2), H=st.integers(1, 6), W=st.integers(1, 6), C=st.integers(1, 3),
       P=st.integers(1, 9), Q=st.integers(1, 9), method=st.sampled_from(("bilinear", "nearest")),
       crop=st.booleans())
@example(N=1, H=2, W=3, C=1, P=6, Q=9, method="bilinear", crop=False)
def test_resizing_gradients_by_finite_differences(N, H, W, C, P, Q, method, crop):
    x = images((N, H, W, C), H * 10 + W)
    check_gradients(layers.Resizing(P, Q, method, crop_to_aspect_ratio=crop), x)
    check_gradients(layers.Resizing(P, Q, method, pad_to_aspect_ratio=True, fill_value=3.0), x)


@settings(max_examples=10)
@given(N=st.integers(1, 2), H=st.integers(1, 5), W=st.integers(1, 5), C=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3))
def test_upsampling_bilinear_gradients_by_finite_differences(N, H, W, C, sh, sw):
    up = layers.UpSampling2D((sh, sw), interpolation="bilinear")
    x = images((N, H, W, C), H + 7 * W)
    close(up(x), ref.resize(x, H * sh, W * sw, "bilinear"), 2e-5, "UpSampling2D bilinear")
    check_gradients(up, x)
    check_gradients(layers.CenterCrop(max(1, H - 1), W + 1), x)


def test_kernel_argument_errors():
    x = np.ones((1, 3, 3, 2), np.float32)
    t = np.zeros((1, 8), np.float32)
    with pytest.raises(ValueError, match=r"`interpolation` must be one of \('nearest', 'bilinear'\)\. Received: interpolation='bicubic'"):
        _kernels.resize(x, 2, 2, "bicubic")
    with pytest.raises(ValueError, match=r"`fill_mode` must be one of .*Received: fill_mode='mirror'"):
        _kernels.affine_sample(x, t, "bilinear", "mirror")
    with pytest.raises(ValueError, match=r"`transforms` must have shape \(1, 8\) or \(1, 8\)\. Received: transforms.shape=\(1, 6\)"):
        _kernels.affine_sample(x, np.zeros((1, 6), np.float32))
    with pytest.raises(ValueError, match=r"`transforms` must have shape \(2, 8\) or \(1, 8\)\. Received: transforms.shape=\(3, 8\)"):
        _kernels.affine_sample_grad(np.ones((2, 3, 3, 1), np.float32), np.zeros((3, 8), np.float32))
    with pytest.raises(TypeError, match=r"`transforms` must be a float32 array"):
        _kernels.affine_sample(x, np.zeros((1, 8)))
    with pytest.raises(ValueError, match=r"`x` must be a 4-D array \(N, H, W, C\)\. Received: x.shape=\(3, 3, 2\)"):
        _kernels.resize(x[0], 2, 2)
    with pytest.raises(ValueError, match=r"The output size must be positive\. Received: size=\(0, 2\)"):
        _kernels.resize(x, 0, 2)
    with pytest.raises(ValueError, match=r"The input size must be positive\. Received: size=\(2, -1\)"):
        _kernels.resize_grad(x, 2, -1)
    with pytest.raises(ValueError, match=r"`x` must have H and W >= 1 to be resized"):
        _kernels.resize(np.ones((1, 0, 3, 2), np.float32), 2, 2)
    with pytest.raises(ValueError, match=r"`interpolation` must be one of 'nearest', 'bilinear'\. Received: interpolation='bicubic'"):
        layers.UpSampling2D(interpolation="bicubic")
