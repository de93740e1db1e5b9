"""layers.Softmax's `mask` call argument, as Keras 3 (keras/src/layers/activations/softmax.py,
the same in 3.15.1 and on master): the mask broadcasts to the inputs (no more dimensions, each
1 or equal), a non-bool mask keeps where > 0.5 cast to its dtype (> 0 for integers), the masked
logits become -1e9 before the softmax and the output is 0 where masked.

Values against a float64 NumPy reference; gradients (the direct call on the tape, a functional
model's plan) against the reference's analytic gradient and central finite differences of it;
Keras' own test cases and Keras 3.15.1's outputs and gradients for fixed inputs
(tests/fixtures/softmax_mask_keras.npz, written by tests/fixtures/make_softmax_mask_keras.py);
the bad-input messages; saving a functional model with a mask input."""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyconv
from pyconv import _tape, layers, utils
from reference import assert_close, numeric_grad
from test_functional import check_model_gradients


@pytest.fixture(autouse=True)
def _fresh():
    utils.clear_session()
    utils.set_random_seed(0)


def keep_ref(mask):
    m = np.asarray(mask)
    if m.dtype == bool:
        return m
    return m > (0 if m.dtype.kind in "iu" else 0.5)


def masked_softmax_ref(x, mask, axis=-1):
    """float64: where(keep, softmax(where(keep, x, -1e9)), 0) over `axis` (an int or a tuple)."""
    keep = keep_ref(mask)
    z = np.where(keep, np.asarray(x, np.float64), -1e9)
    ax = axis if isinstance(axis, tuple) else (axis,)
    e = np.exp(z - z.max(axis=ax, keepdims=True))
    return np.where(keep, e / e.sum(axis=ax, keepdims=True), 0.0)


def masked_softmax_grad_ref(x, mask, g, axis=-1):
    """float64 analytic gradient of sum(masked_softmax(x) * g) with respect to x."""
    keep = np.broadcast_to(keep_ref(mask), np.shape(x))
    z = np.where(keep, np.asarray(x, np.float64), -1e9)
    ax = axis if isinstance(axis, tuple) else (axis,)
    e = np.exp(z - z.max(axis=ax, keepdims=True))
    s = e / e.sum(axis=ax, keepdims=True)
    gk = np.where(keep, g, 0.0)
    ds = s * (gk - (gk * s).sum(axis=ax, keepdims=True))
    return np.where(keep, ds, 0.0)


# ---- Keras 3.15.1's own tests (softmax_test.py), the same values ------------------------------------

def test_keras_correctness_with_mask_over_two_axes():
    y = layers.Softmax(axis=(1, 0))(np.array([[1.0, 2.0, 1.0], [1.0, 2.0, 1.0]]),
                                    mask=np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    assert_close(y, [[0.21194154, 0.0, 0.21194154], [0.0, 0.57611686, 0.0]], 1e-6, 1e-6, "axis=(1, 0)")


def test_keras_masked_values_are_zero_including_fully_masked():
    x = np.array([[1.0, 2.0, 5.0, 1.0], [1.0, 1.0, 1.0, 1.0], [3.0, 1.0, 2.0, 4.0]], np.float32)
    mask = np.array([[True, True, False, False], [False] * 4, [True] * 4])
    y = layers.Softmax()(x, mask=mask)
    assert_close(y, [[0.268941, 0.731059, 0.0, 0.0], [0.0] * 4, [0.236883, 0.032059, 0.087144, 0.643914]],
                 1e-6, 1e-6, "masked")
    assert np.all(y[1] == 0) and np.all(y[0, 2:] == 0)


@pytest.mark.parametrize("mask", [np.array([[1.0, 0.0, 1.0]]), np.array([1.0, 0.0, 1.0])])
def test_keras_mask_broadcastable(mask):
    y = layers.Softmax()(np.array([[1.0, 2.0, 1.0], [3.0, 4.0, 5.0]]), mask=mask)
    assert np.all(y[:, 1] == 0)
    assert_close(y, masked_softmax_ref([[1.0, 2.0, 1.0], [3.0, 4.0, 5.0]], mask), 1e-6, 1e-7, "broadcast")


def test_keras_shape_errors():
    with pytest.raises(ValueError, match=r"broadcastable.*Each mask dimension must be 1 or match.*"
                                         r"inputs.shape=\(1, 3\), mask.shape=\(2, 3\)"):
        layers.Softmax()(np.array([[1.0, 2.0, 1.0]]), mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"must not have more dimensions. Received: inputs.shape=\(1, 3\), "
                                         r"mask.shape=\(1, 1, 3\)"):
        layers.Softmax()(np.array([[1.0, 2.0, 1.0]]), mask=np.ones((1, 1, 3)))


def test_against_keras_outputs_and_gradients():
    """Keras 3.15.1 on TensorFlow 2.21: the same zeros where masked, and within 2 float32 ulps
    of 1 elsewhere (TensorFlow's softmax kernel rounds in another order); the gradient to 2e-7."""
    fix = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "softmax_mask_keras.npz"))
    for k in range(6):
        x, m, g, a = fix[f"x{k}"], fix[f"m{k}"], fix[f"g{k}"], fix[f"axis{k}"]
        axis = tuple(int(v) for v in a) if a.ndim else int(a)
        with _tape.recording() as recs:
            y = layers.Softmax(axis=axis)(x, mask=m)
        dx = _tape.gradient(recs, y, g, x)
        assert np.array_equal(y == 0, fix[f"y{k}"] == 0), k
        assert_close(y, fix[f"y{k}"], 0, 2.4e-7, f"case {k}: output")
        assert_close(dx, fix[f"dx{k}"], 0, 2e-7, f"case {k}: gradient")


# ---- values against the float64 reference ---------------------------------------------------------

MASK_DTYPES = [np.bool_, np.int8, np.int32, np.uint8, np.float16, np.float32, np.float64]


@st.composite
def cases(draw):
    rank = draw(st.integers(2, 4))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    if draw(st.booleans()):
        axis = draw(st.integers(-rank, rank - 1))
    else:
        axis = tuple(draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True)))
    mrank = draw(st.integers(1, rank))
    mshape = tuple(d if draw(st.booleans()) else 1 for d in shape[rank - mrank:])
    dtype = draw(st.sampled_from(MASK_DTYPES))
    seed = draw(st.integers(0, 2 ** 16))
    return shape, axis, mshape, dtype, seed


def draw_mask(rng, mshape, dtype):
    if dtype is np.bool_:
        return rng.random(mshape) > 0.4
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-1 if np.dtype(dtype).kind == "i" else 0, 3, mshape).astype(dtype)
    # floats around the 0.5 threshold, 0.5 itself (masked: Keras keeps > 0.5) and NaN (masked)
    return rng.choice(np.array([0.0, 0.25, 0.5, 0.75, 1.0, np.nan]), mshape).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(case=cases())
def test_values_match_float64_reference(case):
    shape, axis, mshape, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    mask = draw_mask(rng, mshape, dtype)
    y = layers.Softmax(axis=axis)(x, mask=mask)
    assert y.dtype == np.float32 and y.shape == x.shape
    ref = masked_softmax_ref(x, mask, axis)
    assert_close(y, ref, 1e-6, 1e-7, f"shape {shape} axis {axis} mask {mshape} {np.dtype(dtype)}")
    assert np.all(y[~np.broadcast_to(keep_ref(mask), shape)] == 0)   # exactly 0 where masked


def test_integer_mask_keeps_above_zero_float_mask_above_half():
    x = np.zeros((1, 4), np.float32)
    y = layers.Softmax()(x, mask=np.array([[-1, 0, 1, 2]], np.int32))
    assert np.array_equal(y, [[0, 0, 0.5, 0.5]])
    y = layers.Softmax()(x, mask=np.array([[0.5, 0.51, np.nan, 2.0]]))
    assert np.array_equal(y, [[0, 0.5, 0, 0.5]])


def test_masked_logit_is_minus_1e9():
    # a kept logit far below -1e9 loses to the masked ones' -1e9: its output is 0, as in Keras
    x = np.array([[-3e9, 0.0]], np.float32)
    assert np.array_equal(layers.Softmax()(x, mask=np.array([True, False])), [[0.0, 0.0]])
    x = np.array([[-1e9 + 256, -5e8]], np.float32)
    assert_close(layers.Softmax()(x, mask=np.array([True, True])), [[0.0, 1.0]], 0, 0, "no mask effect")


def test_no_mask_and_all_true_mask_are_the_softmax():
    x = np.random.default_rng(1).standard_normal((3, 7)).astype(np.float32)
    sm = layers.Softmax()
    assert np.array_equal(sm(x, mask=np.ones((3, 7), bool)), sm(x))
    assert np.array_equal(sm(x, mask=None), sm(x))


# ---- gradients -----------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(case=cases())
def test_direct_call_gradient_on_the_tape(case):
    shape, axis, mshape, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    mask = draw_mask(rng, mshape, dtype)
    g = rng.standard_normal(shape)
    sm = layers.Softmax(axis=axis)
    with _tape.recording() as recs:
        y = sm(x, mask=mask)
    dx = _tape.gradient(recs, y, g.astype(np.float32), x)
    ref = masked_softmax_grad_ref(x, mask, g, axis)
    assert_close(dx, ref, 2e-6, 1e-6, f"dx shape {shape} axis {axis} mask {mshape}")


def test_reference_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    for shape, axis, mshape in [((3, 5), -1, (3, 5)), ((2, 3, 4), 1, (3, 1)), ((2, 3, 4), (0, 2), (4,))]:
        x = rng.standard_normal(shape)
        mask = rng.random(mshape) > 0.4
        g = rng.standard_normal(shape)
        num = numeric_grad(lambda v: (masked_softmax_ref(v, mask, axis) * g).sum(), x)
        assert_close(masked_softmax_grad_ref(x, mask, g, axis), num, 1e-6, 1e-7, "reference vs fd")


def masked_model(shape, mshape, axis=-1):
    xi, mi = pyconv.Input(shape), pyconv.Input(mshape)
    h = layers.Dense(shape[-1])(xi)
    y = layers.Softmax(axis=axis)(h, mask=mi)
    return pyconv.Model([xi, mi], y)


@pytest.mark.parametrize("shape,mshape,axis", [((6,), (6,), -1), ((3, 5), (3, 5), -1), ((3, 5), (1, 5), 1),
                                               ((3, 5), (3, 5), (1, 2))])
def test_functional_gradients_by_finite_differences(shape, mshape, axis):
    """The plan's gradients of a Dense -> masked Softmax model (weights and the input) against
    central differences of its float32 forward accumulated in float64 (tests/test_functional.py's
    step and tolerance)."""
    rng = np.random.default_rng(0)
    model = masked_model(shape, mshape, axis)
    x = rng.standard_normal((4,) + shape).astype(np.float32)
    m = (rng.random((4,) + mshape) > 0.35).astype(np.float32)
    m[0] = 0   # one example fully masked
    check_model_gradients(model, [x, m], no_grad_inputs=(1,))
    dins = model._plan((), True).backward(model._plan((), True).forward([x, m], True)[1],
                                          [np.ones((4,) + shape, np.float32)])[0]
    assert np.all(dins[0][0] == 0)   # the fully masked example


def test_functional_predict_equals_direct_call_and_fit_trains():
    rng = np.random.default_rng(0)
    model = masked_model((3, 5), (3, 5))
    x = rng.standard_normal((8, 3, 5)).astype(np.float32)
    m = rng.random((8, 3, 5)) > 0.3
    h = model.layers[2](x)
    assert np.array_equal(model.predict([x, m], verbose=0), layers.Softmax()(h, mask=m))
    y = np.where(m, rng.random((8, 3, 5)), 0).astype(np.float32)
    model.compile("adam", "mse")
    before = model.evaluate([x, m], y, verbose=0)
    model.fit([x, m], y, epochs=20, verbose=0)
    assert model.evaluate([x, m], y, verbose=0) < before


def test_masked_softmax_output_keeps_no_logits_for_the_loss():
    """Under a categorical cross-entropy a masked Softmax output is taken as probabilities (its
    masked zeros clipped to 1e-7), as Keras: the plan does not hand the logits to the loss."""
    xi, mi = pyconv.Input((4,)), pyconv.Input((4,))
    model = pyconv.Model([xi, mi], layers.Softmax()(layers.Dense(4)(xi), mask=mi))
    model.compile("sgd", "sparse_categorical_crossentropy")
    plan = model._plan(((0, "softmax"),))
    assert not plan.fused_outputs
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    m = np.array([[1, 1, 0, 0]] * 5, np.float32)
    p = model.predict([x, m], verbose=0)
    y = np.array([0, 1, 0, 1, 2])
    expect = -np.log(np.clip(p[np.arange(5), y].astype(np.float64), 1e-7, 1 - 1e-7)).mean()
    assert_close(model.evaluate([x, m], y, verbose=0), expect, 1e-5, 1e-6, "loss")


def test_compute_mask_and_supports_masking():
    sm = layers.Softmax()
    m = np.array([True, False])
    assert sm.supports_masking is True
    assert sm.compute_mask(np.ones((1, 2)), m) is m and sm.compute_mask(np.ones((1, 2))) is None


def test_functional_save_and_load_keeps_the_mask(tmp_path):
    rng = np.random.default_rng(0)
    model = masked_model((3, 5), (1, 5))
    node = model.get_config()["layers"][-1]["inbound_nodes"][0]
    assert node["kwargs"]["mask"]["config"]["keras_history"][0] == model.layers[1].name
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    m = rng.random((4, 1, 5)) > 0.5
    for path in (tmp_path / "m.keras", tmp_path / "m.pyconv"):
        model.save(path)
        back = pyconv.models.load_model(path)
        assert np.array_equal(back.predict([x, m], verbose=0), model.predict([x, m], verbose=0))


def test_loads_keras_saved_masked_softmax():
    """A functional model Keras 3.15.1 saved (tests/fixtures/keras/softmax_mask.keras: Dense, then
    Softmax with a float32 0/1 mask Input, the mask in the node's kwargs): the same zeros, outputs
    within 2 float32 ulps of 1."""
    here = os.path.dirname(__file__)
    fix = np.load(os.path.join(here, "fixtures", "softmax_mask_keras.npz"))
    model = pyconv.models.load_model(os.path.join(here, "fixtures", "keras", "softmax_mask.keras"))
    y = model.predict([fix["model_x"], fix["model_m"]], verbose=0)
    assert np.array_equal(y == 0, fix["model_y"] == 0)
    assert_close(y, fix["model_y"], 0, 2.4e-7, "Keras' saved model")


def test_models_first_import_order(tmp_path):
    """pyconv.models imported before pyconv.layers (as load_model does from a fresh process):
    Softmax's masked call and the graph share KwargsCall without an import cycle."""
    import subprocess
    import sys
    code = "import pyconv.models, pyconv._graph, pyconv.layers; assert pyconv._graph.KwargsCall"
    # from another directory: `python -c` puts the current one first on sys.path, and from the
    # repository root that is the source tree, without its compiled extension (a non-editable
    # install, as CI's)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_thread_count_does_not_change_bits(each_thread_count):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 65)).astype(np.float32)
    m = rng.random((300, 65)) > 0.5
    g = rng.standard_normal((300, 65)).astype(np.float32)
    out = []
    for _ in each_thread_count():
        with _tape.recording() as recs:
            y = layers.Softmax()(x, mask=m)
        out.append((y, _tape.gradient(recs, y, g, x)))
    for y, dx in out[1:]:
        assert np.array_equal(y, out[0][0]) and np.array_equal(dx, out[0][1])


# ---- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mask,err,msg", [
    (np.array(["a", "b"]), TypeError, r"`mask` must be a boolean or numeric \(int, float\) array. Received: mask "
                                      r"with dtype=<U1"),
    (np.array([1 + 1j, 0j]), TypeError, r"`mask`.*dtype=complex128"),
    ("ab", TypeError, r"`mask` must be a boolean or numeric array. Received: mask='ab'"),
    (np.ones((2, 3)), ValueError, r"inputs.shape=\(1, 2\), mask.shape=\(2, 3\)"),
])
def test_bad_masks(mask, err, msg):
    with pytest.raises(err, match=msg):
        layers.Softmax()(np.ones((1, 2)), mask=mask)


def test_functional_bad_masks():
    xi = pyconv.Input((3, 4))
    with pytest.raises(ValueError, match=r"inputs.shape=\(None, 3, 4\), mask.shape=\(None, 2, 4\)"):
        layers.Softmax()(xi, mask=pyconv.Input((2, 4)))
    with pytest.raises(TypeError, match=r"`inputs` and `mask` must both be symbolic tensors.*mask of type ndarray"):
        layers.Softmax()(xi, mask=np.ones((3, 4), bool))
    with pytest.raises(TypeError, match=r"takes `inputs`, `training` and `mask`. Received also: \['foo'\]"):
        layers.Softmax()(xi, mask=pyconv.Input((3, 4)), foo=1)
    model = masked_model((3, 4), (3, 4))
    with pytest.raises(ValueError, match=r"mask.shape=\(3, 2, 4\)"):
        model._plan().forward([np.ones((3, 3, 4), np.float32), np.ones((3, 2, 4), np.float32)], False)


def test_onnx_export_refuses_a_masked_softmax(tmp_path):
    pytest.importorskip("onnx")
    model = masked_model((4,), (4,))
    with pytest.raises(Exception, match="mask"):
        model.export(tmp_path / "m.onnx", format="onnx")
