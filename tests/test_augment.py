"""The augmentation layers (RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
RandomContrast, RandomCrop) and Normalization: against Keras 3.15.1 for fixed draws
(tests/fixtures/resample_keras.npz, written by tests/fixtures/make_resample_keras.py: the maps
Keras builds and the images it makes with them; Normalization.adapt on an array and on
batches), seeded repeatability (pyconv.utils.set_random_seed and a layer's `seed`), the
identity (RandomCrop: its center crop and resize) at inference, backward passes by central
differences with the draws held fixed, training in a model, calls from several threads,
save/load with Keras 3's configs, and the errors.
"""
import os
import threading

import numpy as np
import pytest

import pyconv
from pyconv import _kernels, layers, models, utils
from pyconv.layers import augmentation as aug

FIX = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "resample_keras.npz"))
MODES = ("reflect", "wrap", "constant", "nearest")


def images(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def all_random_layers(seed=None):
    return [layers.RandomFlip(seed=seed), layers.RandomFlip("horizontal", seed=seed),
            layers.RandomFlip("vertical", seed=seed), layers.RandomRotation(0.2, seed=seed),
            layers.RandomRotation((-0.5, 0.1), fill_mode="constant", interpolation="nearest", seed=seed,
                                  fill_value=0.5),
            layers.RandomTranslation(0.2, (-0.3, 0.1), fill_mode="wrap", seed=seed),
            layers.RandomZoom(0.3, seed=seed), layers.RandomZoom((-0.2, 0.4), (0.1, 0.5), fill_mode="nearest", seed=seed),
            layers.RandomContrast(0.5, value_range=(-10, 10), seed=seed), layers.RandomCrop(4, 5, seed=seed)]


# ---- Keras 3 for fixed draws ----------------------------------------------------------------------

def test_maps_and_images_match_keras():
    x = FIX["x"]
    rot = aug.rotation_transforms(FIX["rot_angles"], 5, 7)
    np.testing.assert_allclose(rot, FIX["rot_matrix"], rtol=0, atol=1e-6)   # float32 cos/sin: 1 ulp
    for mode in MODES:
        # the sampler on Keras' own map: bitwise; on ours: within the map's last-bit difference
        np.testing.assert_array_equal(_kernels.affine_sample(x, FIX["rot_matrix"], "bilinear", mode, -1.0),
                                      FIX[f"rot_{mode}"])
        np.testing.assert_allclose(_kernels.affine_sample(x, rot, "bilinear", mode, -1.0), FIX[f"rot_{mode}"],
                                   rtol=0, atol=2e-5)
    z = FIX["zoom_zooms"]
    zm = aug.zoom_transforms(z[:, 0], z[:, 1], 5, 7)
    np.testing.assert_array_equal(zm, FIX["zoom_matrix"])
    for mode in ("reflect", "constant"):
        np.testing.assert_array_equal(_kernels.affine_sample(x, zm, "bilinear", mode), FIX[f"zoom_{mode}"])
    s = FIX["shift_pixels"]
    sm = aug.translation_transforms(s[:, 0], s[:, 1])
    np.testing.assert_array_equal(sm, FIX["shift_matrix"])
    np.testing.assert_array_equal(_kernels.affine_sample(x, sm, "bilinear", "wrap"), FIX["shift_wrap"])
    y, _ = aug.contrast_forward(x, FIX["contrast_factor"], (-1.0, 1.5))
    np.testing.assert_allclose(y, FIX["contrast"], rtol=0, atol=1e-6)   # TF's float32 mean order


def test_flip_is_keras_rule():
    """One coin per image: a flipped image is flipped along every axis of the mode."""
    x = images((16, 3, 4, 2))
    for mode, axes in (("horizontal", (2,)), ("vertical", (1,)), ("horizontal_and_vertical", (1, 2))):
        y = layers.RandomFlip(mode, seed=3)(x, training=True)
        flipped = [not np.array_equal(y[i], x[i]) for i in range(16)]
        assert 0 < sum(flipped) < 16
        for i in range(16):
            np.testing.assert_array_equal(y[i], np.flip(x[i], tuple(a - 1 for a in axes)) if flipped[i] else x[i])


@pytest.mark.parametrize("name,axis", [("last", -1), ("none", None), ("axes13", (1, 3))])
def test_normalization_adapt_matches_keras(name, axis):
    data = FIX["norm_data"]
    n = layers.Normalization(axis=axis)
    n.adapt(data)
    np.testing.assert_array_equal(np.stack([n.adapt_mean.ravel(), n.adapt_variance.ravel()]), FIX[f"norm_{name}_array"])
    np.testing.assert_array_equal(n(data[:3]), FIX[f"norm_{name}_array_y"])
    for batches in ([data[:16], data[16:24], data[24:]], iter([(data[:16], None), (data[16:24], None), (data[24:], None)])):
        n = layers.Normalization(axis=axis)
        n.adapt(batches)
        # float32 merges; TF's reductions sum in another order than NumPy's
        np.testing.assert_allclose(np.stack([n.adapt_mean.ravel(), n.adapt_variance.ravel()]),
                                   FIX[f"norm_{name}_batches"], rtol=2e-6, atol=0)


def test_normalization_float64_invert_pydataset_and_gradient():
    data = FIX["norm_data"]
    n = layers.Normalization()
    n.adapt(data.astype(np.float64))   # NumPy's float64 statistics, rounded once: Keras'
    np.testing.assert_array_equal(np.stack([n.adapt_mean, n.adapt_variance]), FIX["norm_f64"])
    inv = layers.Normalization(mean=[1.0, 2.0], variance=[0.0, 4.0], invert=True)
    np.testing.assert_array_equal(inv(data[:2]), FIX["norm_invert_y"])   # variance 0: the 1e-7 floor

    class Batches(utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return data[i * 10:(i + 1) * 10], np.zeros(10)
    n2 = layers.Normalization()
    n2.adapt(Batches())
    n3 = layers.Normalization()
    n3.adapt([data[:10], data[10:20], data[20:30]])
    np.testing.assert_array_equal(n2.adapt_mean, n3.adapt_mean)
    from test_layers import check_gradients
    check_gradients(n, data[:2])
    check_gradients(inv, data[:2])
    assert [w.shape for w in n.get_weights()] == [(2,), (2,), ()]   # Keras' mean, variance, count


# ---- randomness: seeds, repeatability, threads ------------------------------------------------------

def test_set_random_seed_repeats_and_layer_seed_is_private():
    x = images((6, 7, 8, 3), scale=3.0)
    for make in (lambda: all_random_layers(), lambda: all_random_layers(seed=11)):
        runs = []
        for _ in range(2):
            utils.set_random_seed(5)
            ls = make()
            runs.append([[l(x, training=True) for _ in range(2)] for l in ls])
        for la, lb, l in zip(runs[0], runs[1], make()):
            for a, b in zip(la, lb):
                np.testing.assert_array_equal(a, b, err_msg=type(l).__name__)
            assert not np.array_equal(la[0], la[1]), f"{type(l).__name__}: two calls drew the same"
    # a seeded layer does not touch pyconv's generator, and depends on its seed only
    utils.set_random_seed(1)
    before = utils.get_rng().bit_generator.state
    a = layers.RandomRotation(0.3, seed=4)(x, training=True)
    assert utils.get_rng().bit_generator.state == before
    utils.set_random_seed(2)
    np.testing.assert_array_equal(layers.RandomRotation(0.3, seed=4)(x, training=True), a)
    assert not np.array_equal(layers.RandomRotation(0.3, seed=5)(x, training=True), a)


def test_inference_is_identity_and_random_crop_center_rule():
    x = images((3, 7, 9, 2))
    for l in all_random_layers(seed=1)[:-1]:
        np.testing.assert_array_equal(l(x), x)
        np.testing.assert_array_equal(l(x, training=False), x)
    # RandomCrop at inference: Keras' documented rule (smart_resize): the largest centered
    # window with the aspect ratio 4:5 (7 x 8.75 -> 7 rows, int(7 * 5 / 4) = 8 columns from 0),
    # resized bilinearly to 4 x 5
    expected = layers.Resizing(4, 5)(x[:, :, 0:8])
    np.testing.assert_array_equal(layers.RandomCrop(4, 5)(x), expected)
    np.testing.assert_array_equal(layers.RandomCrop(7, 9)(x), x)   # same size: nothing to do
    # training: one window for the whole batch
    y = layers.RandomCrop(4, 5, seed=2)(x, training=True)
    hits = [(i, j) for i in range(4) for j in range(5) if np.array_equal(x[:, i:i + 4, j:j + 5], y)]
    assert len(hits) == 1
    # training on an image not larger: Keras' aspect-window offsets (7 x int(7 * 4 / 9) = 3
    # columns from int((9 - 3) / 2) = 3), the target size cut there (7 x 4), resized to 9 x 4
    small = layers.RandomCrop(9, 4, seed=2)(x, training=True)
    np.testing.assert_array_equal(small, layers.Resizing(9, 4)(np.ascontiguousarray(x[:, 0:9, 3:7])))


def test_random_values_lie_in_their_ranges():
    x = np.ones((400, 3, 3, 1), np.float32) * np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    c = layers.RandomContrast((0.2, 0.6), value_range=(-100, 100), seed=0)
    y = c(x, training=True)
    factors = (y[:, 0, 0, 0] - 4) / (0 - 4)   # (x - mean) * f + mean at x = 0, mean = 4
    assert 0.8 - 1e-5 <= factors.min() < 0.85 and 1.55 < factors.max() <= 1.6 + 1e-5
    single = (layers.RandomContrast(0.5, value_range=(-100, 100), seed=0)(x, training=True)[:, 0, 0, 0] - 4) / -4
    assert single.min() >= 1 - 1e-6   # Keras 3: factor f alone draws in [1, 1 + f]


def test_calls_from_threads_are_each_one_whole_draw():
    """A shared seeded layer called from 4 threads at once gives the outputs of 4 sequential
    calls, in some order: no call saw another's draws."""
    x = images((3, 16, 16, 3))
    seq = [layers.RandomRotation(0.4, seed=9) for _ in range(1)][0]
    expected = [seq(x, training=True) for _ in range(8)]
    shared = layers.RandomRotation(0.4, seed=9)
    got, lock = [], threading.Lock()

    def work():
        for _ in range(2):
            y = shared(x, training=True)
            with lock:
                got.append(y)
    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(got) == 8
    for e in expected:
        assert sum(np.array_equal(e, g) for g in got) == 1


# ---- backward passes ---------------------------------------------------------------------------------

def fd_check(make, x, n_checks=20, h=1e-2):
    """The backward of a training call of `make()` (a seeded layer: every instance draws the same)
    against central differences of fresh instances' forwards."""
    rng = np.random.default_rng(0)
    y, ctx = make()._fwd(x, True)
    r = rng.standard_normal(y.shape)
    dx, _ = make()._bwd(ctx, r.astype(np.float32), True)
    flat = x.reshape(-1)
    for i in rng.choice(flat.size, size=min(n_checks, flat.size), replace=False):
        old = flat[i]
        flat[i] = old + h
        lp = float((make()(x, training=True).astype(np.float64) * r).sum())
        flat[i] = old - h
        lm = float((make()(x, training=True).astype(np.float64) * r).sum())
        flat[i] = old
        num, ana = (lp - lm) / (2 * h), float(dx.reshape(-1)[i])
        assert abs(num - ana) <= 2e-3 + 1e-2 * abs(num), f"d/dx[{i}]: finite difference {num:.6f}, backward {ana:.6f}"


@pytest.mark.parametrize("k", range(10))
def test_training_backward_by_finite_differences(k):
    x = images((3, 6, 7, 2), seed=k)
    fd_check(lambda: all_random_layers(seed=20 + k)[k], x)


def test_contrast_clip_stops_the_gradient():
    x = images((2, 4, 4, 1), scale=4.0)
    y, ctx = aug.contrast_forward(x, np.full((2, 1, 1, 1), 1.5, np.float32), (-1.0, 1.0))
    dx = aug.contrast_backward(ctx, np.ones_like(y))
    inside = (y > -1) & (y < 1)
    assert inside.any() and (~inside).any()
    # with every output clipped, nothing flows back
    y, ctx = aug.contrast_forward(x + 100, np.full((2, 1, 1, 1), 1.5, np.float32), (-1.0, 1.0))
    np.testing.assert_array_equal(aug.contrast_backward(ctx, np.ones_like(y)), 0)
    assert np.isfinite(dx).all()


# ---- in a model: training, save/load, configs --------------------------------------------------------

def _model(norm):
    inp = layers.Input((12, 12, 3))
    h = norm(inp)
    for l in (layers.RandomFlip(seed=1), layers.RandomRotation(0.1, seed=2), layers.RandomZoom(0.1, seed=3),
              layers.RandomTranslation(0.1, 0.1, seed=4), layers.RandomContrast(0.2, value_range=(-5, 5), seed=5),
              layers.RandomCrop(10, 10, seed=6), layers.Resizing(8, 8),
              layers.Conv2D(4, 3, activation="relu"), layers.UpSampling2D(interpolation="bilinear"),
              layers.CenterCrop(6, 6), layers.Flatten(), layers.Dense(2)):
        h = l(h)
    return models.Model(inp, h)


def test_model_trains_repeatably_and_saves(tmp_path):
    x = images((32, 12, 12, 3), seed=1, scale=2.0) + 1.0
    y = images((32, 2), seed=2)
    runs = []
    for _ in range(2):
        utils.set_random_seed(0)
        norm = layers.Normalization()
        norm.adapt(x)
        m = _model(norm)
        m.compile(optimizer="adam", loss="mse")
        h = m.fit(x, y, batch_size=8, epochs=3, verbose=0)
        runs.append((h.history["loss"], m.get_weights(), m.predict(x, verbose=0)))
    assert runs[0][0] == runs[1][0] and runs[0][0][-1] < runs[0][0][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    m.save(tmp_path / "m.keras")
    back = models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(back.predict(x, verbose=0), runs[1][2])
    for a, b in zip(m.layers, back.layers):
        assert a.get_config() == b.get_config()


KERAS_CONFIG_KEYS = {   # keras 3.15.1's get_config() keys, beyond name/trainable/dtype
    "RandomCrop": ["data_format", "height", "width", "seed"],
    "RandomRotation": ["data_format", "factor", "fill_mode", "fill_value", "interpolation", "seed"],
    "RandomFlip": ["data_format", "seed", "mode"],
    "Normalization": ["axis", "invert", "mean", "variance"],
    "Resizing": ["data_format", "height", "width", "interpolation", "crop_to_aspect_ratio",
                 "pad_to_aspect_ratio", "fill_mode", "fill_value", "antialias"],
    "CenterCrop": ["data_format", "height", "width"],
    "RandomZoom": ["data_format", "height_factor", "width_factor", "fill_mode", "interpolation", "seed", "fill_value"],
    "RandomTranslation": ["data_format", "height_factor", "width_factor", "fill_mode", "interpolation", "seed",
                          "fill_value"],
    "RandomContrast": ["data_format", "factor", "value_range", "seed"],
}


def test_configs_are_keras_and_round_trip():
    ls = all_random_layers(seed=3) + [layers.Resizing(3, 4, "nearest", crop_to_aspect_ratio=True),
                                      layers.CenterCrop(2, 3), layers.Normalization(axis=(1, 2), mean=[1.0, 2.0],
                                                                                    variance=[3.0, 4.0], invert=True)]
    for l in ls:
        cfg = l.get_config()
        extra = set(cfg) - {"name", "trainable", "dtype"}
        assert extra == set(KERAS_CONFIG_KEYS[type(l).__name__]), type(l).__name__
        back = type(l).from_config(cfg)
        assert back.get_config() == cfg
        assert layers.deserialize(layers.serialize(l)).get_config() == cfg
    assert layers.RandomRotation(0.1).get_config()["factor"] == [-0.1, 0.1]
    assert layers.RandomContrast(0.1).get_config()["factor"] == [0.0, 0.1]
    assert layers.Normalization().get_config()["axis"] == [-1]
    # a Normalization given its statistics has no weights; an adapted one saves them
    assert layers.Normalization(mean=1.0, variance=2.0).weights == []


# ---- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,exc,match", [
    (lambda: layers.RandomRotation(1.5), ValueError,
     r"`factor` must be a number \(or a list of two numbers\) in the range \[-1.0, 1.0\]\. Received: factor=1.5\."),
    (lambda: layers.RandomRotation((0.1, 0.2, 0.3)), ValueError, r"Received: factor=\(0.1, 0.2, 0.3\)"),
    (lambda: layers.RandomRotation("big"), ValueError, r"Received: factor='big'"),
    (lambda: layers.RandomZoom(-1.0), ValueError,
     r"`height_factor` must be a number \(or a list of two numbers\) in the range \(-1.0, 1.0\]\. Received: height_factor=-1.0\."),
    (lambda: layers.RandomZoom(0.2, (0.1, 1.2)), ValueError, r"Received: width_factor=\(0.1, 1.2\)"),
    (lambda: layers.RandomTranslation(0.1, -1.5), ValueError, r"Received: width_factor=-1.5"),
    (lambda: layers.RandomContrast(-0.1), ValueError, r"in the range \[0.0, 1.0\]\. Received: factor=-0.1\."),
    (lambda: layers.RandomContrast(0.1, value_range=(1, 0)), ValueError,
     r"`value_range` must be \(low, high\) with low < high\. Received: value_range=\(1, 0\)\."),
    (lambda: layers.RandomFlip("diagonal"), ValueError,
     r"`mode` must be one of 'horizontal', 'vertical', 'horizontal_and_vertical'\. Received: mode='diagonal'\."),
    (lambda: layers.RandomRotation(0.1, fill_mode="mirror"), ValueError, r"`fill_mode` must be one of 'reflect', 'wrap', 'constant', 'nearest'\. Received: fill_mode='mirror'\."),
    (lambda: layers.RandomZoom(0.1, interpolation="bicubic"), ValueError, r"`interpolation` must be one of 'nearest', 'bilinear'\. Received: interpolation='bicubic'\."),
    (lambda: layers.RandomFlip(seed=-1), ValueError, r"`seed` must be None or an int >= 0\. Received: seed=-1\."),
    (lambda: layers.RandomCrop(0, 3), ValueError, r"`height` must be a positive int\. Received: height=0\."),
    (lambda: layers.Resizing(3, -2), ValueError, r"`width` must be a positive int\. Received: width=-2\."),
    (lambda: layers.CenterCrop(2.5, 3), ValueError, r"`height` must be a positive int\. Received: height=2.5\."),
    (lambda: layers.Resizing(3, 3, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), ValueError,
     r"Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`\."),
    (lambda: layers.Resizing(3, 3, fill_mode="reflect"), ValueError, r"`fill_mode` must be 'constant'"),
    (lambda: layers.Resizing(3, 3, antialias=True), ValueError, r"`antialias` must be False"),
    (lambda: layers.Resizing(3, 3, "bicubic"), ValueError, r"`interpolation` must be one of 'bilinear', 'nearest'"),
    (lambda: layers.Normalization(mean=1.0), ValueError, r"both `mean` and `variance` must be set"),
    (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0]), ValueError, r"must have the same shape"),
    (lambda: layers.Normalization(axis=None, mean=[1.0], variance=[1.0]), ValueError,
     r"The rank of `mean` must be less than or equal to the number of axes \(0\)"),
    (lambda: layers.Normalization(axis="x"), ValueError, r"`axis` must be an int, a tuple of ints, or None\. Received: axis='x'\."),
    (lambda: layers.RandomFlip(data_format="channels_first"), ValueError, r"`data_format` must be 'channels_last'"),
])
def test_constructor_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_call_and_adapt_errors():
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        layers.RandomFlip()(np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match=r"All `axis` values must be in the range \[-ndim, ndim\)\. Received inputs with ndim=2, while axis=\(3,\)"):
        layers.Normalization(axis=3).adapt(np.ones((4, 2)))
    n = layers.Normalization()
    n.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"adapt\(\) received data of an incompatible shape \(4, 2\)"):
        n.adapt(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r'Input 0 of layer "normalization.*" is incompatible with the layer: axis 1 must have size 3'):
        n(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"adapt\(\) received an empty iterable"):
        layers.Normalization().adapt([])
    with pytest.raises(TypeError, match=r"`data` must be an array or an iterable of batches.*Received: data of type int"):
        layers.Normalization().adapt(3)
    with pytest.raises(ValueError, match=r"was given `mean` and `variance`: it has nothing to adapt"):
        layers.Normalization(mean=1.0, variance=1.0).adapt(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"`mean` of shape \(3,\) does not broadcast to the kept axes \(2,\)"):
        layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 1.0, 1.0])(np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"`data` must be a real-valued numeric array"):
        layers.Normalization().adapt(np.array([["a"]]))
    assert pyconv.layers.RandomCrop(2, 2).compute_output_shape((None, 5, 5, 3)) == (None, 2, 2, 3)


def test_docstring_examples():
    import doctest
    from pyconv.layers import preprocessing, reshaping
    for module in (aug, preprocessing, reshaping):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def _interop_models():
    """One model per preprocessing layer (the Random* ones at inference: the identity in both
    libraries; RandomCrop's differs, see docs/api.md), and a functional model with several."""
    def one(layer):
        return models.Sequential([layers.Input((5, 6, 3)), layer])
    norm = layers.Normalization(axis=(1, 3))
    norm.adapt(images((10, 5, 6, 3), seed=3))
    inp = layers.Input((5, 6, 3))
    h = layers.RandomFlip("vertical", seed=2)(layers.Rescaling(0.5)(inp))
    h = layers.Resizing(4, 4, "nearest")(layers.RandomZoom((-0.1, 0.2))(h))
    return {"resizing": one(layers.Resizing(3, 4, crop_to_aspect_ratio=True)),
            "resizing_pad": one(layers.Resizing(7, 9, "nearest", pad_to_aspect_ratio=True, fill_value=0.5)),
            "center_crop": one(layers.CenterCrop(3, 4)), "normalization": one(norm),
            "normalization_given": one(layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0],
                                                            invert=True)),
            "up_sampling2d_bilinear": one(layers.UpSampling2D(2, interpolation="bilinear")),
            "random_flip": one(layers.RandomFlip("horizontal", seed=3)),
            "random_rotation": one(layers.RandomRotation(0.2, fill_mode="constant", seed=3)),
            "random_translation": one(layers.RandomTranslation(0.1, (-0.2, 0.3))),
            "random_zoom": one(layers.RandomZoom(0.1, 0.2, interpolation="nearest")),
            "random_contrast": one(layers.RandomContrast(0.3, value_range=(0, 1))),
            "functional": models.Model(inp, layers.CenterCrop(2, 3)(h))}


def test_keras_files_round_trip_through_real_keras(tmp_path):
    """pyconv saves .keras, Keras 3 loads it and predicts the same, saves it again with the same
    config.json, and pyconv loads Keras's file (tests/test_keras_interop.py's Keras side)."""
    import json
    import subprocess
    import zipfile
    interop = pytest.importorskip("test_keras_interop")
    if interop.KERAS_PYTHON is None:
        pytest.skip("TensorFlow/Keras 3 is not installed (set PYCONV_KERAS_PYTHON)")
    made = {}
    for name, m in _interop_models().items():
        x = images((3, 5, 6, 3), seed=len(name))
        np.save(tmp_path / f"{name}_x0.npy", x)
        m.save(tmp_path / f"{name}.keras")
        made[name] = (m, x)
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([interop.KERAS_PYTHON, "-c", interop.KERAS_SIDE, str(tmp_path)], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]
    for name, (m, x) in made.items():
        theirs = np.load(tmp_path / f"{name}_keras_y.npy")
        np.testing.assert_array_equal(m.predict(x, verbose=0), theirs, err_msg=name)
        np.testing.assert_array_equal(models.load_model(tmp_path / f"{name}_keras.keras").predict(x, verbose=0),
                                      theirs, err_msg=name)
        with zipfile.ZipFile(tmp_path / f"{name}.keras") as a, zipfile.ZipFile(tmp_path / f"{name}_keras.keras") as b:
            mine, keras_cfg = json.loads(a.read("config.json")), interop._strip(json.loads(b.read("config.json")))
        assert json.dumps(mine) == json.dumps(keras_cfg), name


def test_bench_resample_rows_run():
    """python -m bench.resample's rows (here, not in test_resample.py: the kernel tests run under
    the sanitizers in CI, where importing torch would report its own leaks)."""
    pytest.importorskip("torch")
    from bench import resample
    up = resample.upsampling_rows([(2, 4, 4, 8)], 1)
    assert [(r["layer"], r["pass_"]) for r in up] == [
        (f"UpSampling2D(2) {i}", p) for i in ("nearest", "bilinear") for p in ("forward", "backward")]
    assert all(r["torch_format"] in ("channels_last", "NCHW") and r["ms"] > 0 for r in up)
    resample.print_upsampling(up)
    rows = resample.sampler_rows(2, 8, 3, 1)
    assert len(rows) == 1 and "Mpixel/s" in rows[0]
