"""pyconv.utils: to_categorical, normalize, split_dataset, and the image functions.

Expected numbers marked "Keras 3.15.1" were printed by keras.utils in /work/kvenv
(KERAS_BACKEND=tensorflow) for the same inputs and pasted here. Where pyconv differs on
purpose, the test says what Keras does and why pyconv does not.

The image tests write their own small images with Pillow and skip, with a reason, when Pillow
is absent (it is the optional `[image]` extra); the ImportError message is tested either way.
"""
import doctest
import io
import os
import random
import sys

import numpy as np
import pytest

import pyconv
from pyconv import utils


def _has_pillow():
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


needs_pillow = pytest.mark.skipif(not _has_pillow(),
                                  reason='Pillow is absent: pip install "pyconv[image]"')


def test_public_names():
    for name in ("to_categorical", "normalize", "split_dataset", "set_random_seed", "load_img",
                 "img_to_array", "array_to_img", "save_img", "image_dataset_from_directory",
                 "PyDataset"):
        assert name in utils.__all__ and name in dir(utils)
    assert utils.PyDataset is pyconv.PyDataset
    with pytest.raises(AttributeError, match="module 'pyconv.utils' has no attribute 'nope'"):
        utils.nope  # noqa: B018


def test_doctests():
    result = doctest.testmod(utils, raise_on_error=False)
    assert result.attempted >= 5 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# to_categorical


def test_to_categorical_as_keras():
    tc = utils.to_categorical
    # Keras 3.15.1: to_categorical([0, 1, 2, 3], 4) -> float64 (4, 4) identity
    got = tc([0, 1, 2, 3], num_classes=4)
    assert got.dtype == np.float64 and got.shape == (4, 4)
    np.testing.assert_array_equal(got, np.eye(4))
    # Keras 3.15.1: to_categorical([2, 0, 1]) -> [[0,0,1],[1,0,0],[0,1,0]] (num_classes inferred)
    np.testing.assert_array_equal(tc([2, 0, 1]), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    # Keras 3.15.1: (N, 1) loses its last axis: [[1],[0],[2]] -> (3, 3)
    np.testing.assert_array_equal(tc(np.array([[1], [0], [2]])),
                                  [[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    # Keras 3.15.1: [[1, 0]] (shape (1, 2)) -> (1, 2, 2); [1] (shape (1,)) -> (1, 2)
    np.testing.assert_array_equal(tc(np.array([[1, 0]])), [[[0, 1], [1, 0]]])
    assert tc([1]).shape == (1, 2)
    # Keras 3.15.1: a scalar -> (num_classes,): to_categorical(3, 5) -> [0, 0, 0, 1, 0]
    np.testing.assert_array_equal(tc(3, 5), [0, 0, 0, 1, 0])
    # Keras 3.15.1: only the last axis of size 1 goes: (2, 1, 1) -> (2, 1, 2);
    # (2, 3, 1) -> (2, 3, 6)
    assert tc(np.ones((2, 1, 1), int), 2).shape == (2, 1, 2)
    assert tc(np.arange(6).reshape(2, 3, 1), 6).shape == (2, 3, 6)
    # Keras 3.15.1: uint8 and bool labels work; [] with num_classes=3 -> float64 (0, 3)
    np.testing.assert_array_equal(tc(np.array([1, 2], np.uint8), 3), [[0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(tc([True, False]), [[0, 1], [1, 0]])
    empty = tc([], 3)
    assert empty.shape == (0, 3) and empty.dtype == np.float64
    # whole floats are labels too (Keras truncates any float; see the next test)
    np.testing.assert_array_equal(tc(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(tc([1, 0], np.int64(2)), [[0, 1], [1, 0]])


def test_to_categorical_errors():
    tc = utils.to_categorical
    # Keras 3.15.1 wraps a negative label around: to_categorical([-1, 0], 3) -> [[0,0,1],[1,0,0]],
    # a silent wrong answer. pyconv refuses it.
    with pytest.raises(ValueError, match=r"^`x` must hold class indices >= 0\. Received: -1 at "
                                         r"index 0\.$"):
        tc([-1, 0], 3)
    with pytest.raises(ValueError, match=r"Received: -2 at index \(1, 0\)\.$"):
        tc(np.array([[0], [-2]]), 3)
    # Keras 3.15.1: IndexError "index 3 is out of bounds for axis 1 with size 3"
    with pytest.raises(ValueError, match=r"^`x` holds label 3 \(at index 1\), which needs "
                                         r"num_classes >= 4\. Received: num_classes=3\.$"):
        tc([0, 3], 3)
    # Keras 3.15.1 truncates floats: to_categorical([1.7, 0.2], 3) -> [[0,1,0],[1,0,0]].
    with pytest.raises(ValueError, match=r"^`x` must hold class indices \(whole numbers\)\. "
                                         r"Received: 1\.7 at index 0\.$"):
        tc([1.7, 0.2], 3)
    with pytest.raises(ValueError, match=r"Received: nan at index 1\."):
        tc([1.0, np.nan], 3)
    # Keras 3.15.1: ValueError "zero-size array to reduction operation maximum which has no
    # identity"
    with pytest.raises(ValueError, match=r"^`x` is empty: the number of classes cannot be "
                                         r"inferred from it\. Pass `num_classes`\.$"):
        tc([])
    # Keras 3.15.1 parses strings (to_categorical(['1', '0']) works); pyconv wants numbers.
    with pytest.raises(TypeError, match=r"^`x` must hold class indices \(integers\)\. Received: "
                                        r"x of dtype <U1\.$"):
        tc(["1", "0"])
    # Keras 3.15.1: num_classes=0 is taken as None (inferred); 2.0 is a TypeError.
    with pytest.raises(ValueError, match=r"^`num_classes` must be a positive int\. Received: "
                                         r"num_classes=0\.$"):
        tc([1, 0], 0)
    with pytest.raises(TypeError, match=r"^`num_classes` must be a positive int\. Received: "
                                        r"num_classes=2\.0\.$"):
        tc([1, 0], 2.0)


# ---------------------------------------------------------------------------------------------
# normalize

X = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 1.0]])


def test_normalize_as_keras():
    nz = utils.normalize
    # Keras 3.15.1: normalize(X) -> float64 [[0.6, 0.8], [0, 0], [0.70710678, 0.70710678]]
    got = nz(X)
    assert got.dtype == np.float64 and got.shape == (3, 2)
    np.testing.assert_allclose(got, [[0.6, 0.8], [0, 0], [0.70710678, 0.70710678]], rtol=1e-8)
    # Keras 3.15.1: float32 stays float32 ([0.70710677, 0.70710677]); int -> float64
    got = nz(X.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[2], [0.70710677, 0.70710677], rtol=1e-7)
    got = nz(np.array([[3, 4]]))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [[0.6, 0.8]])
    # Keras 3.15.1, orders 1, inf, 0 and 3:
    np.testing.assert_allclose(nz(X, order=1), [[0.42857143, 0.57142857], [0, 0], [0.5, 0.5]],
                               rtol=1e-7)
    np.testing.assert_allclose(nz(X, order=np.inf), [[0.75, 1.0], [0, 0], [1.0, 1.0]])
    np.testing.assert_allclose(nz(X, order=0), [[1.5, 2.0], [0, 0], [0.5, 0.5]])
    np.testing.assert_allclose(nz(X, order=3), [[0.66697178, 0.8892957], [0, 0],
                                                [0.79370053, 0.79370053]], rtol=1e-7)
    # Keras 3.15.1: normalize(np.array([[1., -2., 2.]]), order=1) -> [[0.2, -0.4, 0.4]]
    np.testing.assert_allclose(nz(np.array([[1.0, -2.0, 2.0]]), order=1), [[0.2, -0.4, 0.4]])
    # Keras 3.15.1, a 3-D array along axis 1:
    np.testing.assert_allclose(nz(np.arange(8.0).reshape(2, 2, 2), axis=1),
                               [[[0.0, 0.31622777], [1.0, 0.9486833]],
                                [[0.5547002, 0.58123819], [0.83205029, 0.81373347]]], rtol=1e-7)
    # Keras 3.15.1: a list goes through the backend and comes back float32 ([[0.6, 0.8]]).
    got = nz([[3.0, 4.0]])
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_allclose(got, [[0.6, 0.8]], rtol=1e-7)


def test_normalize_where_pyconv_differs():
    nz = utils.normalize
    # Keras 3.15.1 returns (1, 2) for a 1-D array (np.atleast_1d then expand_dims); its
    # docstring promises "a normalized copy of the array", which pyconv returns: shape (2,).
    np.testing.assert_allclose(nz(np.array([3.0, 4.0])), [0.6, 0.8])
    # Keras 3.15.1 turns axis=0 into -1 (`axis = axis or -1`: "operands could not be
    # broadcast"); fixed after 3.15 (keras-team/keras#23328). pyconv normalizes along axis 0.
    np.testing.assert_allclose(nz(X, axis=0), X / np.sqrt([[10.0, 17.0]]), rtol=1e-12)
    # axis=None: the whole array as one vector (Keras 3.15.1 takes the 2-D matrix 2-norm, the
    # largest singular value, and fails for 3-D).
    np.testing.assert_allclose(nz(X, axis=None), X / np.sqrt(27.0), rtol=1e-12)
    assert nz(np.ones((2, 2, 2)), axis=None).shape == (2, 2, 2)


def test_normalize_errors():
    with pytest.raises(ValueError, match=r"^`x` must have at least 1 dimension\. Received: "
                                         r"x\.shape=\(\)\.$"):
        utils.normalize(np.float64(3.0))
    with pytest.raises(TypeError, match=r"^`x` must be a real-valued array\. Received: x of dtype "
                                        r"complex128\.$"):
        utils.normalize(np.ones(2, complex))
    with pytest.raises(ValueError, match=r"^`axis` must be in \[-2, 2\) for x of shape \(3, 2\)\. "
                                         r"Received: axis=2\.$"):
        utils.normalize(X, axis=2)
    with pytest.raises(TypeError, match=r"^`axis` must be an int or None\. Received: "
                                        r"axis=\(0, 1\)\.$"):
        utils.normalize(X, axis=(0, 1))
    with pytest.raises(TypeError, match=r"^`order` must be a number \(2, 1, np\.inf, \.\.\.\)\. "
                                        r"Received: order='fro'\.$"):
        utils.normalize(X, order="fro")


# ---------------------------------------------------------------------------------------------
# split_dataset


def test_split_dataset_as_keras():
    sd = utils.split_dataset
    x = np.arange(10)
    # Keras 3.15.1 (elements of the two tf.data datasets), left_size=0.8 -> [0..7] | [8, 9]
    left, right = sd(x, left_size=0.8)
    assert left.tolist() == list(range(8)) and right.tolist() == [8, 9]
    # right_size=3 -> [0..6] | [7, 8, 9]; left_size=3, right_size=2 -> [0, 1, 2] | [8, 9]
    assert [a.tolist() for a in sd(x, right_size=3)] == [list(range(7)), [7, 8, 9]]
    assert [a.tolist() for a in sd(x, left_size=3, right_size=2)] == [[0, 1, 2], [8, 9]]
    # Python's round: left_size=0.25 of 10 -> 2 (2.5 rounds to even); 0.45 -> 4;
    # n=5: left_size=0.5 -> [0, 1] | [2, 3, 4]; right_size=0.5 -> [0, 1, 2] | [3, 4]
    assert [a.tolist() for a in sd(x, left_size=0.25)] == [[0, 1], list(range(2, 10))]
    assert len(sd(x, left_size=0.45)[0]) == 4
    assert [a.tolist() for a in sd(np.arange(5), left_size=0.5)] == [[0, 1], [2, 3, 4]]
    assert [a.tolist() for a in sd(np.arange(5), right_size=0.5)] == [[0, 1, 2], [3, 4]]
    # a tuple (x, y) -> [(0, 0), (1, 10)] | [(2, 20), (3, 30), (4, 40)]: here two tuples
    (xl, yl), (xr, yr) = sd((np.arange(5), np.arange(5) * 10), left_size=2)
    assert (xl.tolist(), yl.tolist(), xr.tolist(), yr.tolist()) == \
        ([0, 1], [0, 10], [2, 3, 4], [20, 30, 40])
    # rows of a 2-D array: [[0,1],[2,3],[4,5]] | [[6,7],[8,9],[10,11]]
    left, right = sd(np.arange(12).reshape(6, 2), left_size=0.5)
    assert left.tolist() == [[0, 1], [2, 3], [4, 5]] and right.shape == (3, 2)


def test_split_dataset_shuffle_is_keras_permutation():
    sd = utils.split_dataset
    # Keras 3.15.1, shuffle=True, seed=1, left_size=6: [6, 8, 9, 7, 5, 3] | [0, 4, 1, 2]
    left, right = sd(np.arange(10), left_size=6, shuffle=True, seed=1)
    assert left.tolist() == [6, 8, 9, 7, 5, 3] and right.tolist() == [0, 4, 1, 2]
    # Keras 3.15.1, seed=42, left_size=0.5: [7, 3, 2, 8, 5] | [6, 9, 4, 0, 1]
    left, right = sd(np.arange(10), left_size=0.5, shuffle=True, seed=42)
    assert left.tolist() == [7, 3, 2, 8, 5] and right.tolist() == [6, 9, 4, 0, 1]
    # Keras 3.15.1, a tuple with seed=1: the pairs stay together
    (xl, yl), (xr, yr) = sd([np.arange(10), np.arange(10) * 10], left_size=6, shuffle=True,
                            seed=1)
    assert yl.tolist() == [60, 80, 90, 70, 50, 30] and (yr == 10 * xr).all()
    # Keras reseeds Python's global random; pyconv leaves it alone.
    random.seed(123)
    expected = random.random()
    random.seed(123)
    sd(np.arange(10), left_size=5, shuffle=True, seed=1)
    assert random.random() == expected
    # seed=None: drawn from pyconv's generator, so set_random_seed makes it reproducible
    utils.set_random_seed(5)
    a = sd(np.arange(50), left_size=25, shuffle=True)[0]
    utils.set_random_seed(5)
    b = sd(np.arange(50), left_size=25, shuffle=True)[0]
    assert a.tolist() == b.tolist() and a.tolist() != list(range(25))


def test_split_dataset_returns_copies_in_the_given_structure():
    x, y = np.arange(6.0).reshape(3, 2), np.arange(3)
    left, right = utils.split_dataset([x, y], right_size=1)
    assert isinstance(left, list) and isinstance(right, list)
    left[0][0, 0] = 99.0
    assert x[0, 0] == 0.0  # not a view


def test_split_dataset_errors():
    sd = utils.split_dataset
    x = np.arange(10)
    with pytest.raises(ValueError, match=r"^At least one of `left_size` and `right_size` must be "
                                         r"given\. Received: left_size=None, right_size=None\.$"):
        sd(x)
    # Keras 3.15.1: "`left_size` should be either a positive integer smaller than 10, or a
    # float within the range `[0, 1]`. Received: left_size=10" (also for 0, -1 and 1.0)
    for bad in (10, 0, -1):
        with pytest.raises(ValueError, match=rf"^`left_size` must be an int in \[1, 9\] \(a "
                                             rf"number of samples, fewer than the 10 there are\) "
                                             rf"or a float in \(0, 1\)\. Received: "
                                             rf"left_size={bad}\.$"):
            sd(x, left_size=bad)
    with pytest.raises(ValueError, match=r"^`right_size` must be a float in \(0, 1\) .* "
                                         r"Received: right_size=1\.0\.$"):
        sd(x, right_size=1.0)
    # Keras 3.15.1: "The sum of `left_size` and `right_size` is greater than 1."
    with pytest.raises(ValueError, match=r"^`left_size` \+ `right_size` must be at most 1\. "
                                         r"Received: left_size=0\.6, right_size=0\.6\.$"):
        sd(x, left_size=0.6, right_size=0.6)
    with pytest.raises(ValueError, match=r"^`left_size` and `right_size` ask for 6 \+ 6 samples, "
                                         r"more than the 10 in `dataset`\."):
        sd(x, left_size=6, right_size=6)
    # Keras 3.15.1: left_size=0.05 of 10 -> "Resulting left side dataset split will be empty."
    with pytest.raises(ValueError, match=r"^The left part would be empty: with 10 samples, "
                                         r"left_size=0\.05 and right_size=None give 0 and 10 "
                                         r"samples\. Adjust the sizes\.$"):
        sd(x, left_size=0.05)
    # Keras 3.15.1 refuses bool (TypeError) and also np.int64 (pyconv takes any integer)
    with pytest.raises(TypeError, match=r"^`left_size` must be an int, a float or None\. "
                                        r"Received: left_size=True of type bool\.$"):
        sd(x, left_size=True)
    assert len(sd(x, left_size=np.int64(3))[0]) == 3
    with pytest.raises(ValueError, match=r"^The arrays of `dataset` must have the same length "
                                         r"\(axis 0\)\. Received lengths \[5, 4\]\.$"):
        sd((np.arange(5), np.arange(4)), left_size=2)
    with pytest.raises(ValueError, match=r"^`dataset` is empty: there is nothing to split\."):
        sd(np.zeros((0, 2)), left_size=0.5)
    with pytest.raises(TypeError, match=r"^`dataset` must be a NumPy array or a tuple/list of "
                                        r"NumPy arrays \(of rank >= 1\)\. Received: a list at "
                                        r"index 0\.$"):
        sd([[1, 2], [3, 4]], left_size=1)
    with pytest.raises(TypeError, match=r"^`dataset` must be a NumPy array or a tuple/list of "
                                        r"NumPy arrays\. Received: dataset of type str\.$"):
        sd("abc", left_size=1)
    with pytest.raises(ValueError, match=r"^`seed` must be an int >= 0\. Received: seed=-1\.$"):
        sd(x, left_size=5, shuffle=True, seed=-1)


# ---------------------------------------------------------------------------------------------
# images: Pillow is optional


def test_image_functions_say_how_to_install_pillow(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now fails, as without Pillow
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    expected = (r"^pyconv's image functions need Pillow, which is not installed\. Install it "
                r"with: pip install \"pyconv\[image\]\" \(or pip install Pillow\)\.$")
    for call in (lambda: utils.load_img(tmp_path / "a.png"),
                 lambda: utils.array_to_img(np.zeros((2, 2, 3))),
                 lambda: utils.save_img(tmp_path / "a.png", np.zeros((2, 2, 3))),
                 lambda: utils.image_dataset_from_directory(tmp_path)):
        with pytest.raises(ImportError, match=expected):
            call()
    assert utils.img_to_array(np.zeros((2, 3))).shape == (2, 3, 1)  # needs no Pillow


A = np.array([[[0, 10, 20], [30, 40, 50]], [[60, 70, 80], [90, 100, 110]]], np.uint8)


@pytest.fixture
def pngs(tmp_path):
    from PIL import Image
    Image.fromarray(A, "RGB").save(tmp_path / "a.png")
    Image.fromarray(A[..., 0], "L").save(tmp_path / "g.png")
    Image.fromarray(np.concatenate([A, np.full((2, 2, 1), 128, np.uint8)], -1),
                    "RGBA").save(tmp_path / "rgba.png")
    return tmp_path


def pixels(img):
    return np.asarray(img).tolist()


@needs_pillow
def test_load_img_as_keras(pngs):
    load = utils.load_img
    a = pngs / "a.png"
    img = load(a)
    assert img.mode == "RGB" and img.size == (2, 2) and pixels(img) == A.tolist()
    # Keras 3.15.1: grayscale of a.png -> mode L [[8, 38], [68, 98]]
    img = load(a, color_mode="grayscale")
    assert img.mode == "L" and pixels(img) == [[8, 38], [68, 98]]
    # Keras 3.15.1: rgba of a.png -> alpha 255; rgb of g.png -> channels repeated
    assert pixels(load(a, color_mode="rgba"))[0][1] == [30, 40, 50, 255]
    assert pixels(load(pngs / "g.png"))[1] == [[60, 60, 60], [90, 90, 90]]
    assert pixels(load(pngs / "rgba.png")) == A.tolist()
    # Keras 3.15.1: target_size=(4, 3) (nearest) -> size (3, 4), rows 0,0,1,1, columns 0,1,1
    img = load(a, target_size=(4, 3))
    assert img.size == (3, 4)
    assert pixels(img) == A[[0, 0, 1, 1]][:, [0, 1, 1]].tolist()
    # Keras 3.15.1: target_size=(3, 3), bilinear -> middle pixel [45, 55, 65]
    assert pixels(load(a, target_size=(3, 3), interpolation="bilinear")) == \
        [[[0, 10, 20], [15, 25, 35], [30, 40, 50]], [[30, 40, 50], [45, 55, 65], [60, 70, 80]],
         [[60, 70, 80], [75, 85, 95], [90, 100, 110]]]
    # Keras 3.15.1: keep_aspect_ratio, target (2, 1) -> the centred column crop
    # [[[0, 10, 20]], [[60, 70, 80]]]
    assert pixels(load(a, target_size=(2, 1), keep_aspect_ratio=True)) == \
        [[[0, 10, 20]], [[60, 70, 80]]]
    # a file object, a str path, bytes
    assert pixels(load(io.BytesIO(a.read_bytes()))) == A.tolist()
    assert pixels(load(str(a))) == pixels(load(os.fsencode(a))) == A.tolist()


@needs_pillow
def test_load_img_errors(pngs):
    a = pngs / "a.png"
    # Keras 3.15.1: 'color_mode must be "grayscale", "rgb", or "rgba"'
    with pytest.raises(ValueError, match=r'^`color_mode` must be one of "grayscale", "rgb", '
                                         r'"rgba"\. Received: color_mode=\'hsv\'\.$'):
        utils.load_img(a, color_mode="hsv")
    # Keras 3.15.1: "Invalid interpolation method cubic specified. Supported methods are
    # nearest, bilinear, bicubic, hamming, box, lanczos" (only when a resize is needed;
    # pyconv checks it always)
    with pytest.raises(ValueError, match=r"^`interpolation` must be one of 'nearest', "
                                         r"'bilinear', 'bicubic', 'hamming', 'box', 'lanczos'\. "
                                         r"Received: interpolation='cubic'\.$"):
        utils.load_img(a, target_size=(2, 2), interpolation="cubic")
    with pytest.raises(ValueError, match=r"^`target_size` must be \(height, width\), two positive "
                                         r"ints\. Received: target_size=\(0, 2\)\.$"):
        utils.load_img(a, target_size=(0, 2))
    # Keras 3.15.1: TypeError "path should be path-like or io.BytesIO, not <class 'int'>"
    with pytest.raises(TypeError, match=r"^`path` must be a path \(str, bytes or os\.PathLike\) "
                                        r"or a binary file object\. Received: path of type int\.$"):
        utils.load_img(3)
    with pytest.raises(FileNotFoundError):
        utils.load_img(pngs / "missing.png")
    # Keras 3.15.1: PIL.UnidentifiedImageError "cannot identify image file <_io.BytesIO ...>";
    # pyconv names the file.
    (pngs / "t.png").write_text("hello")
    with pytest.raises(ValueError, match=rf"^Cannot read image '{_re(pngs / 't.png')}': cannot "
                                         rf"identify image file"):
        utils.load_img(pngs / "t.png")
    (pngs / "cut.png").write_bytes(a.read_bytes()[:-30])
    with pytest.raises(ValueError, match=rf"^Cannot read image '{_re(pngs / 'cut.png')}': "):
        utils.load_img(pngs / "cut.png")


def _re(path):
    import re
    return re.escape(str(path))


def test_img_to_array_as_keras():
    # Keras 3.15.1: float32 by default; (2, 2) -> (2, 2, 1); dtype="uint8" kept;
    # channels_first transposes; a 1-D array: "Unsupported image shape: (3,)"
    got = utils.img_to_array(A)
    assert got.dtype == np.float32 and got.tolist() == A.tolist()
    assert utils.img_to_array(A[..., 0]).shape == (2, 2, 1)
    assert utils.img_to_array(A, dtype="uint8").dtype == np.uint8
    assert utils.img_to_array(A, data_format="channels_first").tolist() == \
        [[[0, 30], [60, 90]], [[10, 40], [70, 100]], [[20, 50], [80, 110]]]
    assert utils.img_to_array(A[..., 0], data_format="channels_first").shape == (1, 2, 2)
    with pytest.raises(ValueError, match=r"^`img` must be an image of 2 or 3 dimensions\. "
                                         r"Received: an array of shape \(3,\)\.$"):
        utils.img_to_array(np.zeros(3))
    with pytest.raises(ValueError, match=r"^`data_format` must be 'channels_last' or "
                                         r"'channels_first' \(or None: 'channels_last'\)\. "
                                         r"Received: data_format='nhwc'\.$"):
        utils.img_to_array(A, data_format="nhwc")


@needs_pillow
def test_img_to_array_of_a_pil_image(pngs):
    from PIL import Image
    with Image.open(pngs / "a.png") as img:
        assert utils.img_to_array(img).tolist() == A.tolist()
    with Image.open(pngs / "g.png") as img:
        assert utils.img_to_array(img).shape == (2, 2, 1)


@needs_pillow
def test_array_to_img_as_keras():
    a2i = utils.array_to_img
    g = np.array([[[0.0], [0.5]], [[1.0], [0.25]]])
    # Keras 3.15.1: scaled to 0..255 and truncated -> L [[0, 127], [255, 63]]
    img = a2i(g)
    assert img.mode == "L" and pixels(img) == [[0, 127], [255, 63]]
    # Keras 3.15.1: scale=False -> L [[0, 0], [1, 0]] (truncation)
    assert pixels(a2i(g, scale=False)) == [[0, 0], [1, 0]]
    # Keras 3.15.1: RGB scaled -> [[[0,23,46],[69,92,115]],[[139,162,185],[208,231,255]]]
    scaled = [[[0, 23, 46], [69, 92, 115]], [[139, 162, 185], [208, 231, 255]]]
    assert pixels(a2i(A.astype(np.float32))) == scaled
    assert pixels(a2i(A, scale=False)) == A.tolist()
    # Keras 3.15.1: 4 channels -> RGBA, alpha [0, 69, 139, 208]
    img = a2i(np.concatenate([A, A[..., :1]], -1))
    assert img.mode == "RGBA" and [p[3] for row in pixels(img) for p in row] == [0, 69, 139, 208]
    # Keras 3.15.1: one channel above 255 unscaled -> mode I [[0, 300]]; constant -> zeros
    img = a2i(np.array([[[0.0], [300.0]]]), scale=False)
    assert img.mode == "I" and pixels(img) == [[0, 300]]
    assert pixels(a2i(np.full((1, 2, 3), 7.0))) == [[[0, 0, 0], [0, 0, 0]]]
    # Keras 3.15.1: [[1.7], [254.9]] unscaled -> [[1, 254]]; channels_first (3, 2, 4) -> size (4, 2)
    assert pixels(a2i(np.array([[[1.7], [254.9]]]), scale=False)) == [[1, 254]]
    assert a2i(np.zeros((3, 2, 4)), data_format="channels_first").size == (4, 2)


@needs_pillow
def test_array_to_img_errors():
    a2i = utils.array_to_img
    # Keras 3.15.1: "Unsupported channel number: 2"
    with pytest.raises(ValueError, match=r"^`x` must have 1, 3 or 4 channels \(grayscale, RGB, "
                                         r"RGBA\)\. Received: 2 channels, x\.shape=\(2, 2, 2\)\.$"):
        a2i(np.zeros((2, 2, 2)))
    # Keras 3.15.1: "Expected image array to have rank 3 (single image). Got array with
    # shape: (2, 2)"
    with pytest.raises(ValueError, match=r"^`x` must be a single image of rank 3\. Received: "
                                         r"x\.shape=\(2, 2\)\.$"):
        a2i(np.zeros((2, 2)))
    # Keras 3.15.1 wraps unscaled values outside 0..255 around (astype uint8); pyconv refuses.
    with pytest.raises(ValueError, match=r"^`x` holds values outside \[0, 255\], which an 8-bit "
                                         r"image cannot hold \(pass scale=True, or clip them\)\. "
                                         r"Received: values from -3\.0 to 20\.0\.$"):
        a2i(np.array([[[-3.0, 20.0, 0.0]]]), scale=False)
    with pytest.raises(ValueError, match=r"values from 0\.0 to 300\.0"):
        a2i(np.array([[[0.0, 0.0, 300.0]]]), scale=False)
    with pytest.raises(ValueError, match=r"^`x` holds NaN or infinity: it cannot be made an "
                                         r"image\.$"):
        a2i(np.array([[[np.nan]]]))


@needs_pillow
def test_save_img_as_keras(tmp_path):
    from PIL import Image
    # Keras 3.15.1: scaled by default, unscaled with scale=False
    utils.save_img(tmp_path / "s.png", A)
    utils.save_img(str(tmp_path / "s2.png"), A, scale=False)
    with Image.open(tmp_path / "s.png") as img:
        assert pixels(img) == [[[0, 23, 46], [69, 92, 115]], [[139, 162, 185], [208, 231, 255]]]
    with Image.open(tmp_path / "s2.png") as img:
        assert pixels(img) == A.tolist()
    # Keras 3.15.1: RGBA as JPEG -> a warning and an RGB file
    with pytest.warns(UserWarning, match=r"^The JPEG format does not support RGBA images, "
                                         r"converting to RGB\.$"):
        utils.save_img(tmp_path / "s3.jpg", np.concatenate([A, A[..., :1]], -1))
    with Image.open(tmp_path / "s3.jpg") as img:
        assert img.mode == "RGB" and img.format == "JPEG"
    buf = io.BytesIO()
    utils.save_img(buf, A, file_format="png", scale=False)
    assert pixels(utils.load_img(io.BytesIO(buf.getvalue()))) == A.tolist()
    utils.save_img(tmp_path / "s.tif", A, scale=False)  # Keras passes "tif" to Pillow, which fails
    with Image.open(tmp_path / "s.tif") as img:
        assert img.format == "TIFF" and pixels(img) == A.tolist()
    utils.save_img(tmp_path / "q.jpeg", A, file_format="jpg", quality=95)  # kwargs reach Pillow


@needs_pillow
def test_save_img_errors(tmp_path):
    # Keras 3.15.1: Pillow's "unknown file extension: " for both
    with pytest.raises(ValueError, match=r"^The format cannot be told from the extension "
                                         r"'\(none\)' of `path`: pass file_format='png', "
                                         r"'jpeg', \.\.\. "):
        utils.save_img(tmp_path / "noext", A)
    with pytest.raises(ValueError, match=r"^`file_format` must be given when `path` is a file "
                                         r"object\. Received: path of type BytesIO\.$"):
        utils.save_img(io.BytesIO(), A)
    with pytest.raises(ValueError, match=r"^`file_format` must be a format Pillow can write "
                                         r"\(such as 'png', 'jpeg', 'bmp'\)\. Received: "
                                         r"file_format='nope'\.$"):
        utils.save_img(tmp_path / "a.png", A, file_format="nope")
    assert not os.path.exists(tmp_path / "a.png")


@needs_pillow
def test_image_doctests():
    from pyconv.datasets import _image
    result = doctest.testmod(_image, extraglobs={"np": np}, raise_on_error=False)
    assert result.attempted >= 3 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# image_dataset_from_directory

def make_image(path, seed, h, w, mode="RGB"):
    """The image k3.py/k7.py (the Keras scripts) wrote: random uint8 pixels from `seed`."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    c = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    a = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(a[..., 0] if c == 1 else a, mode).save(path)


TREE = {"b_cls/x1.png": (1, 3, 5, "RGB"), "b_cls/x0.png": (2, 4, 4, "RGB"),
        "a_cls/z.png": (3, 5, 2, "RGB"), "a_cls/y.PNG": (4, 2, 2, "L"), "a_cls/notes.txt": None,
        "c_cls/sub/deep.png": (5, 3, 3, "RGBA"), ".hidden/h.png": (6, 2, 2, "RGB"),
        "c_cls/w.bmp": (7, 2, 3, "RGB")}


@pytest.fixture
def tree(tmp_path):
    """The directory of the Keras script: 3 classes, a nested file, a hidden directory, a .txt."""
    root = tmp_path / "imgs"
    for rel, spec in TREE.items():
        if spec is None:
            os.makedirs(root / os.path.dirname(rel), exist_ok=True)
            (root / rel).write_text("x")
        else:
            make_image(str(root / rel), *spec)
    return root


def rel(ds, root):
    return [os.path.relpath(p, root) for p in ds.file_paths]


@needs_pillow
def test_files_and_labels_as_keras(tree, capsys):
    idfd = utils.image_dataset_from_directory
    ds = idfd(tree, shuffle=False, image_size=(2, 3), batch_size=4)
    # Keras 3.15.1 prints "Found 6 files belonging to 3 classes." and finds, in this order:
    assert capsys.readouterr().out == "Found 6 files belonging to 3 classes.\n"
    assert ds.class_names == ["a_cls", "b_cls", "c_cls"]
    assert rel(ds, tree) == ["a_cls/y.PNG", "a_cls/z.png", "b_cls/x0.png", "b_cls/x1.png",
                             "c_cls/w.bmp", "c_cls/sub/deep.png"]
    assert isinstance(ds, pyconv.PyDataset) and len(ds) == 2
    # Keras 3.15.1: batches of 4 and 2; float32 (4, 2, 3, 3); int32 labels [0, 0, 1, 1], [2, 2]
    (x0, y0), (x1, y1) = ds
    assert x0.dtype == np.float32 and x0.shape == (4, 2, 3, 3) and x1.shape == (2, 2, 3, 3)
    assert y0.dtype == np.int32 and y0.tolist() == [0, 0, 1, 1] and y1.tolist() == [2, 2]
    # Keras 3.15.1: class_names=["c_cls", "a_cls"] -> 4 files, c_cls first, labels [0, 0, 1, 1]
    ds = idfd(tree, shuffle=False, image_size=(2, 2), class_names=["c_cls", "a_cls"],
              verbose=False)
    assert rel(ds, tree) == ["c_cls/w.bmp", "c_cls/sub/deep.png", "a_cls/y.PNG", "a_cls/z.png"]
    assert ds[0][1].tolist() == [0, 0, 1, 1]
    # Keras 3.15.1: label_mode="binary" -> float32 (4, 1) [[0], [0], [1], [1]]
    x, y = idfd(tree, shuffle=False, image_size=(2, 2), class_names=["c_cls", "a_cls"],
                label_mode="binary", verbose=False)[0]
    assert y.dtype == np.float32 and y.tolist() == [[0.0], [0.0], [1.0], [1.0]]
    # Keras 3.15.1: label_mode="categorical" -> float32 one-hot (6, 3)
    x, y = idfd(tree, shuffle=False, image_size=(2, 2), label_mode="categorical",
                verbose=False)[0]
    assert y.dtype == np.float32 and y.tolist() == np.eye(3)[[0, 0, 1, 1, 2, 2]].tolist()
    # Keras 3.15.1: labels=None (or label_mode=None) index the whole directory, hidden ones too:
    # "Found 7 files.", class_names None, batches of images alone
    for kwargs in ({"labels": None}, {"label_mode": None}):
        ds = idfd(tree, shuffle=False, image_size=(2, 2), color_mode="rgba", **kwargs)
        assert capsys.readouterr().out == "Found 7 files.\n"
        assert ds.class_names is None
        assert rel(ds, tree) == [".hidden/h.png", "a_cls/y.PNG", "a_cls/z.png", "b_cls/x0.png",
                                 "b_cls/x1.png", "c_cls/w.bmp", "c_cls/sub/deep.png"]
        assert ds[0].shape == (7, 2, 2, 4) and ds[0].dtype == np.float32
    # Keras 3.15.1: explicit labels, one per file of the whole directory ->
    # class_names ['0', '1', '2', '3', '4', '5']
    ds = idfd(tree, shuffle=False, labels=[5, 1, 2, 3, 4, 0, 1], image_size=(2, 2),
              verbose=False)
    assert ds.class_names == ["0", "1", "2", "3", "4", "5"]
    assert ds[0][1].tolist() == [5, 1, 2, 3, 4, 0, 1]
    # Keras 3.15.1: batch_size=None -> single images (2, 2, 3)
    ds = idfd(tree, shuffle=False, batch_size=None, image_size=(2, 2), verbose=False)
    assert len(ds) == 6 and ds[0][0].shape == (2, 2, 3) and ds[5][1] == 2


@needs_pillow
def test_validation_split_as_keras(tree, capsys):
    idfd = utils.image_dataset_from_directory
    # Keras 3.15.1, seed=7, validation_split=0.4: "Using 4 files for training." with
    # ['b_cls/x1.png', 'c_cls/sub/deep.png', 'a_cls/y.PNG', 'b_cls/x0.png'], "Using 2 files for
    # validation." with ['a_cls/z.png', 'c_cls/w.bmp']
    train = idfd(tree, seed=7, validation_split=0.4, subset="training", image_size=(2, 2))
    assert capsys.readouterr().out == ("Found 6 files belonging to 3 classes.\n"
                                       "Using 4 files for training.\n")
    assert rel(train, tree) == ["b_cls/x1.png", "c_cls/sub/deep.png", "a_cls/y.PNG",
                                "b_cls/x0.png"]
    val = idfd(tree, seed=7, validation_split=0.4, subset="validation", image_size=(2, 2),
               verbose=False)
    assert rel(val, tree) == ["a_cls/z.png", "c_cls/w.bmp"]
    both = idfd(tree, seed=7, validation_split=0.4, subset="both", image_size=(2, 2),
                verbose=False)
    assert isinstance(both, list) and [rel(d, tree) for d in both] == [rel(train, tree),
                                                                       rel(val, tree)]
    # labels follow their files through the shuffle
    names = {"a_cls": 0, "b_cls": 1, "c_cls": 2}
    labels = np.concatenate([y for _, y in both[0]])
    assert sorted(labels.tolist()) == sorted(names[p.split("/")[0]] for p in rel(train, tree))
    # the validation part is not shuffled; the training order is drawn anew each epoch
    assert [y.tolist() for _, y in both[1]] == [[0, 2]]
    orders = []
    for _ in range(4):
        orders.append(tuple(np.concatenate([x.reshape(len(x), -1)[:, 0] for x, _ in both[0]])))
        both[0].on_epoch_end()
    assert len(set(orders)) > 1 and len({tuple(sorted(o)) for o in orders}) == 1


RESIZED = {  # Keras 3.15.1, image_dataset_from_directory(small, shuffle=False, ...) (k7.py)
    "bilinear": [[[[78, 78, 78], [58.5, 58.5, 58.5], [39, 39, 39]], [[248, 248, 248], [216.5, 216.5, 216.5], [185, 185, 185]]], [[[239.75, 64.25, 231.25], [224.875, 140.125, 135.75], [210, 216, 40.25]], [[90.75, 36.25, 182.75], [103.875, 37.25, 186.5], [117, 38.25, 190.25]]], [[[217.9167, 209.5833, 88.75], [45.5, 156, 85.5], [188, 133.75, 132.4167]], [[197.6667, 207.0833, 124.75], [161, 93, 168], [132.25, 167.25, 106.1667]]]],  # noqa: E501
    "nearest": [[[[78, 78, 78], [39, 39, 39]], [[248, 248, 248], [185, 185, 185]], [[248, 248, 248], [185, 185, 185]]], [[[248, 194, 190], [207, 147, 26]], [[5, 157, 159], [60, 54, 236]], [[36, 7, 134], [222, 57, 146]]], [[[121, 243, 189], [168, 82, 193]], [[236, 8, 246], [210, 111, 172]], [[114, 205, 63], [79, 72, 112]]]],  # noqa: E501
    "crop": [[[[78, 78, 78], [78, 78, 78]], [[163, 163, 163], [163, 163, 163]], [[248, 248, 248], [248, 248, 248]]], [[[237, 21, 245], [211, 239, 45]], [[5, 157, 159], [60, 54, 236]], [[109, 46, 199], [82, 32, 205]]], [[[121, 243, 189], [6, 131, 102]], [[236, 8, 246], [164, 231, 36]], [[114, 205, 63], [160, 47, 212]]]],  # noqa: E501
    "pad": [[[[78, 78, 78], [39, 39, 39]], [[248, 248, 248], [185, 185, 185]], [[0, 0, 0], [0, 0, 0]]], [[[226.3333, 157, 120.3333], [0, 0, 0]], [[32.5, 105.5, 197.5], [0, 0, 0]], [[117.8333, 34.3333, 160.6667], [0, 0, 0]]], [[[237.75, 57.25, 190.5], [210, 126.75, 173]], [[0, 0, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]]],  # noqa: E501
    "grayscale": [[[[78], [39]], [[248], [185]]], [[[135.5], [193.75]], [[69], [78.5]]], [[[183.9375], [135.25]], [[164.4375], [115.5625]]]],  # noqa: E501
}
RESIZE_ARGS = {"bilinear": {"image_size": (2, 3)},
               "nearest": {"image_size": (3, 2), "interpolation": "nearest"},
               "crop": {"image_size": (3, 2), "crop_to_aspect_ratio": True},
               "pad": {"image_size": (3, 2), "pad_to_aspect_ratio": True},
               "grayscale": {"image_size": (2, 2), "color_mode": "grayscale"}}


@needs_pillow
@pytest.mark.parametrize("case", list(RESIZED))
def test_resized_pixels_as_keras(tmp_path, case):
    for rel_path, spec in (("a_cls/y.PNG", (4, 2, 2, "L")), ("a_cls/z.png", (3, 5, 2, "RGB")),
                           ("b_cls/x1.png", (1, 3, 5, "RGB"))):
        make_image(str(tmp_path / rel_path), *spec)
    x, y = utils.image_dataset_from_directory(tmp_path, shuffle=False, verbose=False,
                                              **RESIZE_ARGS[case])[0]
    expected = np.array(RESIZED[case], np.float32)
    assert x.dtype == np.float32 and x.shape == expected.shape and y.tolist() == [0, 0, 1]
    diff = np.abs(x - expected)
    # The pasted numbers are rounded to 4 decimals. Grayscale from a colour PNG: TensorFlow's
    # decoder (libpng's rgb_to_gray) and Pillow's convert("L") (ITU-R 601-2 luma) round
    # differently, by at most 1 level before the resize (k6.py: 1 on 256x256 random pixels).
    tol = 1.0 if case == "grayscale" else 1e-4
    at = np.unravel_index(np.argmax(diff), diff.shape)
    assert diff.max() <= tol, f"largest difference {diff.max()} at {at}"
    if case != "grayscale":  # the first image (grayscale PNG) decodes identically
        np.testing.assert_allclose(x[0], expected[0], atol=1e-4)


@needs_pillow
def test_image_dataset_trains_with_fit(tree):
    from pyconv import layers, models
    ds = utils.image_dataset_from_directory(tree, image_size=(4, 4), batch_size=4, seed=1,
                                            verbose=False)
    model = models.Sequential([layers.Input((4, 4, 3)), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(ds, verbose=0).shape == (6, 3)


@needs_pillow
def test_image_dataset_errors(tree, tmp_path):
    idfd = utils.image_dataset_from_directory
    cases = [  # (kwargs, exception, message); Keras 3.15.1's message in the comment
        # "If `subset` is set, `validation_split` must be set, and inversely."
        ({"validation_split": 0.4}, ValueError,
         r"^`subset` and `validation_split` must be given together\. Received: "
         r"validation_split=0\.4, subset=None\.$"),
        ({"subset": "training"}, ValueError, r"^`subset` and `validation_split` must be given "),
        # "`validation_split` must be between 0 and 1, received: 1.5"
        ({"validation_split": 1.5, "subset": "training", "seed": 1}, ValueError,
         r"^`validation_split` must be a float between 0 and 1 \(exclusive\)\. Received: "
         r"validation_split=1\.5\.$"),
        # "If using `validation_split` and shuffling the data, you must provide a `seed` ..."
        ({"validation_split": 0.4, "subset": "training"}, ValueError,
         r"^`seed` must be given with `validation_split` and shuffle=True, so that the training "
         r"and validation subsets do not overlap\.$"),
        # '`subset` must be either "training", "validation" or "both", received: train'
        ({"validation_split": 0.4, "subset": "train", "seed": 1}, ValueError,
         r'^`subset` must be one of "training", "validation", "both"\. Received: '
         r"subset='train'\.$"),
        # 'When passing `label_mode="binary"`, there must be exactly 2 class_names. ...'
        ({"label_mode": "binary"}, ValueError,
         r'^label_mode="binary" needs exactly 2 classes\. Received: class_names=\[\'a_cls\', '
         r"'b_cls', 'c_cls'\]\.$"),
        # '`color_mode` must be one of {"rgb", "rgba", "grayscale"}. Received: color_mode=hsv'
        ({"color_mode": "hsv"}, ValueError, r'^`color_mode` must be one of "grayscale", "rgb", '
                                            r'"rgba"\. Received: color_mode=\'hsv\'\.$'),
        # "Argument `interpolation` should be one of ('bilinear', 'nearest', 'bicubic', ...)"
        ({"interpolation": "cubic"}, ValueError,
         r"^`interpolation` must be one of 'bilinear', 'nearest'\. Received: "
         r"interpolation='cubic'\.$"),
        # Keras resizes with "bicubic" too; pyconv only as tf.image.resize does for two methods
        ({"interpolation": "bicubic"}, ValueError,
         r"^`interpolation` must be one of 'bilinear', 'nearest': pyconv resizes as "
         r"tf.image.resize does for these two only\. Received: interpolation='bicubic'\.$"),
        # "Invalid `image_size` value. Expected a tuple of 2 integers. Received:
        # image_size=(2, 2, 3)"
        ({"image_size": (2, 2, 3)}, ValueError, r"^`image_size` must be \(height, width\), two "
                                                r"positive ints\. Received: "
                                                r"image_size=\(2, 2, 3\)\.$"),
        # '`labels` argument should be a list/tuple of integer labels, ... Received: labels=auto'
        ({"labels": "auto"}, ValueError, r'^`labels` must be "inferred", None, or a list/tuple '
                                         r"of int labels, one per image file\. Received: "
                                         r"labels='auto'\.$"),
        # "The `class_names` passed did not match the names of the subdirectories ..."
        ({"class_names": ["zzz"]}, ValueError,
         r"^`class_names` must be sub-directories of .*imgs \(\['a_cls', 'b_cls', 'c_cls'\]\)\. "
         r"Received: class_names=\['zzz'\], of which \['zzz'\] are not\.$"),
        # "Expected the lengths of `labels` to match the number of files in the target
        # directory. len(labels) is 2 while we found 7 files in directory ..."
        ({"labels": [1, 2]}, ValueError, r"^`labels` must hold one label per image file: 7 files "
                                         r"were found in .*imgs\. Received: 2 labels\.$"),
        ({"labels": [0, 1, 2, 3, 4, 5, 6], "class_names": ["a_cls"]}, ValueError,
         r"^`class_names` can only be given with labels=\"inferred\"\."),
        ({"label_mode": "sparse"}, ValueError, r'^`label_mode` must be one of "int", '
                                               r'"categorical", "binary", None\. Received: '
                                               r"label_mode='sparse'\.$"),
        ({"data_format": "channels_first"}, ValueError,
         r"^`data_format` must be 'channels_last' \(or None: 'channels_last'\)\. Received: "
         r"data_format='channels_first'\.$"),
        ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, ValueError,
         r"^Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True\."),
        ({"batch_size": 0}, ValueError, r"^`batch_size` must be a positive int\. Received: "
                                        r"batch_size=0\.$"),
    ]
    for kwargs, exc, message in cases:
        with pytest.raises(exc, match=message):
            idfd(tree, verbose=False, **kwargs)
    # Keras 3.15.1: "No images found in directory .... Allowed formats: ('.bmp', '.gif', ...)"
    os.makedirs(tmp_path / "empty" / "k")
    with pytest.raises(ValueError, match=r"^No images found in directory .*empty\. Allowed "
                                         r"formats: \('\.bmp', '\.gif', '\.jpeg', '\.jpg', "
                                         r"'\.png'\)\.$"):
        idfd(tmp_path / "empty", verbose=False)
    # Keras 3.15.1: FileNotFoundError "[Errno 2] No such file or directory: ..."
    with pytest.raises(FileNotFoundError, match=r"^`directory` '.*nowhere' does not exist or is "
                                                r"not a directory\.$"):
        idfd(tmp_path / "nowhere", verbose=False)
    # a damaged image: the batch that holds it names it
    (tree / "a_cls" / "z.png").write_bytes(b"not a png")
    ds = idfd(tree, shuffle=False, image_size=(2, 2), batch_size=1, verbose=False)
    with pytest.raises(ValueError, match=r"^Cannot read image '.*z\.png': cannot identify image"):
        ds[1]
    with pytest.raises(IndexError, match=r"^Batch index 6 out of range: the dataset has 6 "
                                         r"batches\.$"):
        ds[6]


@needs_pillow
def test_jpeg_and_gif(tmp_path):
    """JPEG and GIF decode (GIF: the first frame). Keras's TensorFlow decoder and Pillow's
    libjpeg settings differ, so JPEG pixels may differ from Keras's by a few levels (k6.py:
    at most 4 on random pixels); PNG, BMP and GIF decode identically."""
    from PIL import Image
    os.makedirs(tmp_path / "k")
    smooth = np.stack(np.mgrid[0:16, 0:16], -1).sum(-1, keepdims=True).repeat(3, -1) * 7
    Image.fromarray(smooth.astype(np.uint8)).save(tmp_path / "k" / "a.jpg", quality=95)
    frames = [Image.fromarray(np.full((4, 4), v, np.uint8), "L") for v in (10, 200)]
    frames[0].save(tmp_path / "k" / "b.gif", save_all=True, append_images=frames[1:])
    (x, _), = utils.image_dataset_from_directory(tmp_path, shuffle=False, image_size=(4, 4),
                                                 color_mode="grayscale", verbose=False)
    assert x.shape == (2, 4, 4, 1)
    assert np.allclose(x[1], 10)  # the first frame
    assert abs(float(x[0].mean()) - smooth.mean()) < 8
