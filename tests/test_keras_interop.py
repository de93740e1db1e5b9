"""Round trips through real Keras 3 (skipped where TensorFlow is not installed): pyconv saves a
model as `.keras`, Keras 3 loads it and predicts the same (within 1e-5), Keras saves it again and
pyconv loads Keras's file and predicts the same; Keras's config.json equals the one pyconv wrote
(every layer's module, class, registered_name and config). Models: the tutorial CNN and DNN, a
functional toy ResNet, a nested model and one model per layer type both libraries have.

Keras runs in a subprocess: the interpreter in $PYCONV_KERAS_PYTHON, else this one if it has
keras and tensorflow (bench/requirements.txt installs them).
"""
import importlib.util
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

pytest.importorskip("h5py")

from pyconv import layers, models  # noqa: E402
from tutorial_models import tutorial_cnn, tutorial_dnn  # noqa: E402


def _keras_python():
    env = os.environ.get("PYCONV_KERAS_PYTHON")
    if env:
        return env
    if importlib.util.find_spec("tensorflow") and importlib.util.find_spec("keras"):
        return sys.executable
    return None


KERAS_PYTHON = _keras_python()
pytestmark = pytest.mark.skipif(KERAS_PYTHON is None, reason="TensorFlow/Keras 3 is not installed "
                                                             "(set PYCONV_KERAS_PYTHON to an interpreter that has it)")

# For each pyconv file <name>.keras with inputs <name>_x<i>.npy: Keras loads it, predicts into
# <name>_keras_y.npy and saves itself as <name>_keras.keras.
KERAS_SIDE = r"""
import glob, os, sys
import numpy as np
import keras
d = sys.argv[1]
for path in sorted(glob.glob(os.path.join(d, "*.keras"))):
    if path.endswith("_keras.keras"):
        continue
    name = path[:-len(".keras")]
    m = keras.saving.load_model(path)
    xs = [np.load(p) for p in sorted(glob.glob(name + "_x*.npy"))]
    np.save(name + "_keras_y.npy", m.predict(xs if len(xs) > 1 else xs[0], verbose=0))
    m.save(name + "_keras.keras")
    if os.path.exists(name + ".h5"):   # Keras 3.15 cannot compile its own legacy files ("mse"): compile=False
        legacy = keras.saving.load_model(name + ".h5", compile=False)
        np.save(name + "_legacy_y.npy", legacy.predict(xs if len(xs) > 1 else xs[0], verbose=0))
print("ok")
"""


def _resnet():
    x = layers.Input((8, 8, 3), name="image")
    h = layers.Conv2D(4, 3, padding="same", use_bias=False)(x)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU()(h)
    for _ in range(2):
        r = layers.Conv2D(4, 3, padding="same", activation="relu")(h)
        r = layers.Conv2D(4, 3, padding="same")(r)
        h = layers.Activation("relu")(layers.Add()([h, r]))
    h = layers.MaxPooling2D()(h)
    y = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(h))
    return models.Model(x, y, name="toy_resnet")


def _nested():
    block = models.Sequential([layers.Dense(4, activation="relu"), layers.BatchNormalization()], name="block")
    inner_in = layers.Input((4,))
    inner = models.Model(inner_in, layers.Dense(4, activation="tanh")(inner_in), name="inner")
    i = layers.Input((5,))
    h = block(layers.Dense(4)(i))
    return models.Model(i, layers.Dense(2)(layers.Add()([inner(h), h])), name="outer")


def _merge(layer_cls, **kw):
    a, b = layers.Input((3,)), layers.Input((3,))
    return models.Model([a, b], layer_cls(**kw)([layers.Dense(3)(a), layers.Dense(3)(b)]))


def _one(layer, shape):
    return models.Sequential([layers.Input(shape), layer])


LAYER_MODELS = {
    "conv2d": lambda: _one(layers.Conv2D(3, (2, 3), strides=(1, 2), dilation_rate=1, padding="same",
                                         activation="tanh"), (6, 7, 2)),
    "conv2d_dilated": lambda: _one(layers.Conv2D(2, 3, dilation_rate=2, use_bias=False), (7, 7, 2)),
    "dense": lambda: _one(layers.Dense(4, activation="sigmoid"), (5,)),
    "dense_3d": lambda: _one(layers.Dense(2), (3, 4)),
    "max_pooling2d": lambda: _one(layers.MaxPooling2D((3, 2), strides=(1, 2), padding="same"), (5, 6, 2)),
    "average_pooling2d": lambda: _one(layers.AveragePooling2D(2, padding="same"), (5, 5, 2)),
    "global_average_pooling2d": lambda: _one(layers.GlobalAveragePooling2D(keepdims=True), (4, 4, 3)),
    "global_max_pooling2d": lambda: _one(layers.GlobalMaxPooling2D(), (4, 4, 3)),
    "flatten": lambda: _one(layers.Flatten(), (2, 3, 2)),
    "reshape": lambda: _one(layers.Reshape((3, 4)), (12,)),
    "dropout": lambda: _one(layers.Dropout(0.3, seed=1), (4,)),
    "activation": lambda: _one(layers.Activation("softmax"), (4,)),
    "relu": lambda: _one(layers.ReLU(), (6,)),
    "softmax": lambda: _one(layers.Softmax(), (5,)),
    "zero_padding2d": lambda: _one(layers.ZeroPadding2D(((1, 2), (0, 1))), (3, 3, 1)),
    "cropping2d": lambda: _one(layers.Cropping2D(((1, 0), (1, 1))), (4, 5, 2)),
    "up_sampling2d": lambda: _one(layers.UpSampling2D((2, 3)), (2, 2, 1)),
    "rescaling": lambda: _one(layers.Rescaling(1 / 255.0, offset=-0.5), (3,)),
    "batch_normalization": lambda: _one(layers.BatchNormalization(momentum=0.9, epsilon=1e-2, center=False), (4,)),
    "conv2d_groups": lambda: _one(layers.Conv2D(4, 3, groups=2, padding="same"), (5, 5, 4)),
    "depthwise_conv2d": lambda: _one(layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same"),
                                     (6, 6, 3)),
    "separable_conv2d": lambda: _one(layers.SeparableConv2D(4, (3, 2), dilation_rate=(1, 2), activation="relu"),
                                     (6, 7, 3)),
    "conv2d_transpose": lambda: _one(layers.Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 4, 2)),
    "conv2d_transpose_valid": lambda: _one(layers.Conv2DTranspose(2, (2, 3), strides=(2, 1)), (3, 4, 2)),
    "elu": lambda: _one(layers.ELU(alpha=0.5), (6,)),
    "leaky_relu": lambda: _one(layers.LeakyReLU(negative_slope=0.2), (6,)),
    "prelu": lambda: _one(layers.PReLU(shared_axes=[1, 2]), (4, 4, 3)),
    "normalization": lambda: _one(layers.Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 1.0]), (3,)),
    "center_crop": lambda: _one(layers.CenterCrop(2, 3), (4, 5, 2)),
    "resizing": lambda: _one(layers.Resizing(3, 4), (5, 6, 2)),
    "resizing_nearest": lambda: _one(layers.Resizing(7, 9, interpolation="nearest"), (5, 6, 2)),
    "random_flip": lambda: _one(layers.RandomFlip("horizontal", seed=1), (4, 4, 1)),
    "random_contrast": lambda: _one(layers.RandomContrast(0.2, seed=1), (4, 4, 1)),
    "random_rotation": lambda: _one(layers.RandomRotation(0.1, seed=1), (4, 4, 1)),
    "random_translation": lambda: _one(layers.RandomTranslation(0.1, 0.2, seed=1), (4, 4, 1)),
    "random_zoom": lambda: _one(layers.RandomZoom(0.1, seed=1), (4, 4, 1)),
    "add": lambda: _merge(layers.Add),
    "subtract": lambda: _merge(layers.Subtract),
    "multiply": lambda: _merge(layers.Multiply),
    "average": lambda: _merge(layers.Average),
    "maximum": lambda: _merge(layers.Maximum),
    "minimum": lambda: _merge(layers.Minimum),
    "concatenate": lambda: _merge(layers.Concatenate, axis=-1),
}

# Not RandomCrop: Keras 3.15 returns its input uncropped at inference (while its compute_output_shape
# says cropped); pyconv center-crops, so the two predictions have different shapes.
MODELS = {"tutorial_cnn": tutorial_cnn, "tutorial_dnn": tutorial_dnn, "toy_resnet": _resnet, "nested": _nested,
          **LAYER_MODELS}


def _perturb(model, rng):
    """Weights away from their initial values (BN statistics too), so that a mix-up shows."""
    for w in model.weights:
        w[...] = rng.uniform(0.5, 1.5, w.shape) if w.ndim == 1 else rng.normal(0, 0.5, w.shape)   # variances > 0


def _strip(c):
    if isinstance(c, dict):
        return {k: _strip(v) for k, v in c.items() if k != "shared_object_id"}
    if isinstance(c, list):
        return [_strip(v) for v in c]
    return c


LEGACY = ("tutorial_cnn", "toy_resnet", "nested", "batch_normalization", "concatenate")   # also saved as .h5


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    d = tmp_path_factory.mktemp("keras_interop")
    rng = np.random.default_rng(0)
    made = {}
    for name, make in MODELS.items():
        m = make()
        _perturb(m, rng)
        if name == "tutorial_cnn":
            m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        shapes = m.input_shape if isinstance(m.input_shape, list) else [m.input_shape]
        xs = [rng.random((3,) + tuple(s[1:])).astype(np.float32) for s in shapes]
        if name == "tutorial_cnn":
            m.fit(xs[0], np.arange(3), verbose=0)
        for i, x in enumerate(xs):
            np.save(d / f"{name}_x{i}.npy", x)
        m.save(d / f"{name}.keras")
        if name in LEGACY:
            m.save(d / f"{name}.h5")
        made[name] = (m, xs)
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([KERAS_PYTHON, "-c", KERAS_SIDE, str(d)], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]
    return d, made


@pytest.mark.parametrize("name", list(MODELS))
def test_pyconv_to_keras_to_pyconv(round_trip, name):
    d, made = round_trip
    m, xs = made[name]
    ours = m.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    theirs = np.load(d / f"{name}_keras_y.npy")
    err = np.abs(ours - theirs)
    assert err.max() <= 1e-5, f"Keras's prediction differs by {err.max()} at {np.unravel_index(err.argmax(), err.shape)}"
    back = models.load_model(d / f"{name}_keras.keras")
    again = back.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    assert np.abs(again - theirs).max() <= 1e-5
    # what Keras wrote is what pyconv wrote
    with zipfile.ZipFile(d / f"{name}.keras") as a, zipfile.ZipFile(d / f"{name}_keras.keras") as b:
        mine, keras_cfg = json.loads(a.read("config.json")), _strip(json.loads(b.read("config.json")))
    assert json.dumps(mine) == json.dumps(keras_cfg)
    if name == "tutorial_cnn":   # the optimizer state went through Keras and back
        assert back.optimizer.iterations == m.optimizer.iterations == 1
        for a, b in zip(back.optimizer.variables, m.optimizer.variables):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", LEGACY)
def test_pyconv_legacy_h5_loads_in_keras(round_trip, name):
    d, made = round_trip
    m, xs = made[name]
    err = np.abs(np.load(d / f"{name}_legacy_y.npy") - m.predict(xs if len(xs) > 1 else xs[0], verbose=0))
    assert err.max() <= 1e-5, f"Keras's prediction from the .h5 file differs by {err.max()}"
