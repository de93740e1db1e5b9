"""Utilities: pyconv's random generator, `set_random_seed`, `clear_session`; labels and arrays
(`to_categorical`, `normalize`, `split_dataset`); images (`load_img`, `img_to_array`,
`array_to_img`, `save_img`, `image_dataset_from_directory`).

Every random draw pyconv makes (weight initializers, shuffling in `fit`, dropout masks) comes
from one NumPy Generator held here, so that `set_random_seed(seed)` makes training bitwise
reproducible.

The image functions live in pyconv/datasets/_image.py and are imported on first use (they need
Pillow, the optional `[image]` extra, and `image_dataset_from_directory` returns a PyDataset,
which lives with the data adapters).
"""
import importlib as _importlib
import math as _math
import numbers as _numbers
import random as _random

import numpy as np

from . import _validate

__all__ = ["set_random_seed", "clear_session", "get_rng", "PyDataset", "to_categorical",
           "normalize", "split_dataset", "load_img", "img_to_array", "array_to_img", "save_img",
           "image_dataset_from_directory"]

# Names defined elsewhere, imported when first asked for: name -> module (relative to pyconv).
_LAZY = {"PyDataset": ".models.data_adapters",   # keras.utils.PyDataset, with the data adapters
         "load_img": ".datasets._image", "img_to_array": ".datasets._image",
         "array_to_img": ".datasets._image", "save_img": ".datasets._image",
         "image_dataset_from_directory": ".datasets._image"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(_importlib.import_module(_LAZY[name], __package__), name)
    raise AttributeError(f"module 'pyconv.utils' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


_rng = np.random.default_rng()


def get_rng():
    """The numpy.random.Generator every pyconv random draw comes from."""
    return _rng


def set_random_seed(seed):
    """Seed pyconv's generator (and, like Keras, Python's `random` and NumPy's global one).

    Args:
        seed: an int >= 0.

    Raises:
        TypeError: `seed` is not an int.
        ValueError: `seed` is negative.

    Example:
        >>> from pyconv import layers, utils
        >>> utils.set_random_seed(1); a = layers.Dense(2); a.build((None, 3))
        >>> utils.set_random_seed(1); b = layers.Dense(2); b.build((None, 3))
        >>> bool((a.kernel == b.kernel).all())
        True
    """
    global _rng
    if not _validate.is_int(seed):
        raise TypeError(f"`seed` must be an int. Received: seed={seed!r} of type {type(seed).__name__}.")
    if seed < 0:
        raise ValueError(f"`seed` must be >= 0. Received: seed={seed!r}.")
    _rng = np.random.default_rng(int(seed))
    _random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)


_uids = {}


def _unique_name(prefix):
    """Keras' automatic names: 'dense', then 'dense_1', 'dense_2', ..."""
    n = _uids.get(prefix, 0)
    _uids[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session():
    """Reset the automatic layer and model names ('dense', 'dense_1', ... start again)."""
    _uids.clear()


# ---- labels and arrays -------------------------------------------------------------------------


def to_categorical(x, num_classes=None):
    """Convert a vector of class indices to a one-hot matrix (Keras's "binary class matrix").

    Args:
        x: array-like of class indices, 0 to `num_classes - 1`: any integer or bool dtype, or
            floats holding whole numbers. Shape (N,) gives (N, num_classes); a last axis of size
            1, as in (N, 1), is dropped first (as Keras does), so (N, 1) also gives
            (N, num_classes); any other shape S gives S + (num_classes,); a scalar gives
            (num_classes,).
        num_classes: the number of classes, a positive int; None: `max(x) + 1`.

    Returns:
        A float64 array (the dtype Keras 3 returns) of 0s and one 1 per label, the class axis
        last.

    Raises:
        TypeError: `x` is not numeric (strings, objects, complex), or `num_classes` is not an
            int.
        ValueError: a label is negative, is not a whole number, or is >= `num_classes`;
            `num_classes` < 1; `x` is empty and `num_classes` is None.

    Example:

    >>> to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    >>> to_categorical(np.array([[1], [0]])).shape
    (2, 2)
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`x` must hold class indices (integers). Received: x of dtype "
                        f"{arr.dtype}.")
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.floor(arr)) & (np.abs(arr) < 2.0 ** 62)
        if not whole.all():
            at = np.unravel_index(int(np.argmin(whole)), arr.shape)
            raise ValueError(f"`x` must hold class indices (whole numbers). Received: "
                             f"{arr[at].item()!r} at index {_index(at)}.")
    labels = arr.astype(np.int64)
    if labels.size and labels.min() < 0:
        at = np.unravel_index(int(np.argmin(labels)), labels.shape)
        raise ValueError(f"`x` must hold class indices >= 0. Received: {labels[at]} at index "
                         f"{_index(at)}.")
    if num_classes is None:
        if not labels.size:
            raise ValueError("`x` is empty: the number of classes cannot be inferred from it. "
                             "Pass `num_classes`.")
        num_classes = int(labels.max()) + 1
    else:
        num_classes = _validate.positive_int(num_classes, "num_classes")
        if labels.size and labels.max() >= num_classes:
            at = np.unravel_index(int(np.argmax(labels)), labels.shape)
            raise ValueError(f"`x` holds label {labels[at]} (at index {_index(at)}), which "
                             f"needs num_classes >= {labels[at] + 1}. Received: "
                             f"num_classes={num_classes}.")
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    flat = labels.reshape(-1)
    out = np.zeros((flat.size, num_classes))
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(shape + (num_classes,))


def _index(at):
    """An index tuple as text: 3 for (3,), (1, 2) for (1, 2), () for a scalar."""
    return at[0] if len(at) == 1 else tuple(int(i) for i in at)


def normalize(x, axis=-1, order=2):
    """Divide `x` by its `order`-norm along `axis` (a zero norm leaves its slice as it is).

    Args:
        x: array to normalize, of at least 1 dimension. A NumPy array keeps its float dtype
            (integers give float64: NumPy's division); any other array-like is converted to
            float32 first (as Keras converts a non-NumPy input to a tensor of floatx).
        axis: the axis along which to normalize (an int), or None for the whole array as one
            vector.
        order: the norm's order, as `numpy.linalg.norm`'s `ord` for vectors: 2 (Euclidean),
            1, `np.inf`, 0 (the number of nonzero entries), any other number.

    Returns:
        A normalized copy of `x`, of the same shape.

    Raises:
        TypeError: `x` is not real-valued; `axis` is not an int or None; `order` is not a
            number.
        ValueError: `x` is a scalar, or `axis` is out of range.

    Example:

    >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    arr = x if isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float32)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`x` must be a real-valued array. Received: x of dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise ValueError(f"`x` must have at least 1 dimension. Received: x.shape={arr.shape}.")
    if isinstance(order, bool) or not isinstance(order, _numbers.Real) or _math.isnan(order):
        raise TypeError(f"`order` must be a number (2, 1, np.inf, ...). Received: "
                        f"order={order!r}.")
    if axis is None:
        norm = np.linalg.norm(arr.reshape(-1), ord=order).reshape((1,) * arr.ndim)
    else:
        if not _validate.is_int(axis):
            raise TypeError(f"`axis` must be an int or None. Received: axis={axis!r}.")
        if not -arr.ndim <= axis < arr.ndim:
            raise ValueError(f"`axis` must be in [-{arr.ndim}, {arr.ndim}) for x of shape "
                             f"{arr.shape}. Received: axis={axis}.")
        norm = np.linalg.norm(arr, ord=order, axis=int(axis), keepdims=True)
    norm[norm == 0] = 1
    return arr / norm


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split arrays into a left part and a right part (e.g. train / test), as Keras does.

    Keras returns two `tf.data.Dataset`s; pyconv returns the parts as NumPy arrays in the
    structure given: an array gives `(left, right)` arrays, a tuple (or list) of arrays
    `(x, y, ...)` gives two tuples (lists) `(x_left, y_left, ...)`, `(x_right, y_right, ...)`,
    ready for `fit(*left)`. The parts are new arrays, never views of `dataset`.

    The left part is the first `left_size` samples (after shuffling) and the right part the
    last `right_size`: when both sizes are given and add up to less than the length, the
    samples between them are in neither.

    Args:
        dataset: a NumPy array, or a tuple or list of NumPy arrays with the same length (axis
            0).
        left_size: an int (a number of samples, 0 < left_size < len) or a float (a fraction,
            0 < left_size < 1, rounded to a number of samples with Python's `round`). None:
            the complement of `right_size`.
        right_size: the same, for the right part. None: the complement of `left_size`.
        shuffle: shuffle the samples before splitting them.
        seed: the shuffle's seed, an int >= 0. The permutation is the one Keras draws for
            the same seed (`random.Random(seed).shuffle`), without touching Python's global
            random state as Keras does. None: a seed drawn from pyconv's generator (so that
            `set_random_seed` makes it reproducible).

    Returns:
        `(left, right)`, each of the same structure as `dataset`.

    Raises:
        TypeError: `dataset` is not an array or a tuple/list of arrays; a size is neither an
            int nor a float.
        ValueError: the arrays differ in length or are empty; both sizes are None; a size is
            out of range; the sizes add up to more than the length; a part would be empty.

    Example:

    >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> (x_train, y_train), (x_test, y_test) = split_dataset((x, y), left_size=0.8)
    >>> y_train, y_test
    (array([0, 1, 2, 3]), array([4]))
    """
    arrays = _split_arrays(dataset)
    n = len(arrays[0])
    left, right = _split_sizes(left_size, right_size, n)
    if shuffle:
        if seed is None:
            seed = int(get_rng().integers(0, 2**31))
        seed = _validate.non_negative_int(seed, "seed")
        order = list(range(n))
        _random.Random(seed).shuffle(order)  # Keras: random.seed(seed); random.shuffle(samples)
        order = np.array(order, dtype=np.intp)
    else:
        order = np.arange(n)
    parts = ([a[order[:left]] for a in arrays], [a[order[n - right:]] for a in arrays])
    if isinstance(dataset, np.ndarray):
        return parts[0][0], parts[1][0]
    return type(dataset)(parts[0]), type(dataset)(parts[1])


def _split_arrays(dataset):
    """The arrays of split_dataset's `dataset`, checked: one length, not empty."""
    if isinstance(dataset, np.ndarray):
        arrays = [dataset]
    elif type(dataset) in (tuple, list):
        arrays = list(dataset)
        if not arrays:
            raise ValueError(f"`dataset` must hold at least one array. Received: "
                             f"dataset={dataset!r}.")
        for i, a in enumerate(arrays):
            if not isinstance(a, np.ndarray) or a.ndim == 0:
                what = f"array of shape {a.shape}" if isinstance(a, np.ndarray) else \
                    type(a).__name__
                raise TypeError(f"`dataset` must be a NumPy array or a tuple/list of NumPy "
                                f"arrays (of rank >= 1). Received: a {what} at index {i}.")
    else:
        raise TypeError(f"`dataset` must be a NumPy array or a tuple/list of NumPy arrays. "
                        f"Received: dataset of type {type(dataset).__name__}.")
    if arrays[0].ndim == 0:
        raise ValueError("`dataset` must be an array of rank >= 1 (samples along axis 0). "
                         "Received: a scalar array.")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"The arrays of `dataset` must have the same length (axis 0). "
                         f"Received lengths {lengths}.")
    if not lengths[0]:
        raise ValueError(f"`dataset` is empty: there is nothing to split. Received arrays of "
                         f"shape {[a.shape for a in arrays]}.")
    return arrays


def _split_sizes(left_size, right_size, n):
    """(left, right) numbers of samples, by Keras's rules (_rescale_dataset_split_sizes)."""
    if left_size is None and right_size is None:
        raise ValueError("At least one of `left_size` and `right_size` must be given. "
                         "Received: left_size=None, right_size=None.")
    sizes = {}
    for name, v in (("left_size", left_size), ("right_size", right_size)):
        if v is None:
            continue
        if _validate.is_int(v):
            if not 0 < v < n:
                raise ValueError(f"`{name}` must be an int in [1, {n - 1}] (a number of "
                                 f"samples, fewer than the {n} there are) or a float in "
                                 f"(0, 1). Received: {name}={v!r}.")
            sizes[name] = int(v)
        elif isinstance(v, _numbers.Real) and not isinstance(v, bool):
            if not 0 < v < 1:
                raise ValueError(f"`{name}` must be a float in (0, 1) (a fraction of the "
                                 f"samples) or an int in [1, {n - 1}]. Received: {name}={v!r}.")
            sizes[name] = round(float(v) * n)
        else:
            raise TypeError(f"`{name}` must be an int, a float or None. Received: "
                            f"{name}={v!r} of type {type(v).__name__}.")
    if (isinstance(left_size, float) and isinstance(right_size, float)
            and left_size + right_size > 1):
        raise ValueError(f"`left_size` + `right_size` must be at most 1. Received: "
                         f"left_size={left_size}, right_size={right_size}.")
    left = sizes.get("left_size", n - sizes.get("right_size", 0))
    right = sizes.get("right_size", n - left)
    if left + right > n:
        raise ValueError(f"`left_size` and `right_size` ask for {left} + {right} samples, more "
                         f"than the {n} in `dataset`. Received: left_size={left_size!r}, "
                         f"right_size={right_size!r}.")
    for side, k in (("left", left), ("right", right)):
        if k == 0:
            raise ValueError(f"The {side} part would be empty: with {n} samples, "
                             f"left_size={left_size!r} and right_size={right_size!r} give "
                             f"{left} and {right} samples. Adjust the sizes.")
    return left, right


# ---- plotting --------------------------------------------------------------------------------
# plot_history(history, path) lives below this line (owned by whoever adds it; matplotlib is an
# optional dependency and must be imported inside the function).
__all__ += ["plot_history"]


def plot_history(history, path, title=None):
    """Training curves (loss, accuracy, ... per epoch; train and validation) saved to `path`.

    A thin wrapper: the drawing lives in pyconv/plotting.py, which imports matplotlib (the
    optional `[plot]` extra) only when called. `history` is a History returned by `fit`, its
    `.history` dict, or a dict {label: History} to overlay several models (DNN against CNN).
    See `pyconv.plotting.plot_history` for the arguments, return value and errors.
    """
    from . import plotting
    return plotting.plot_history(history, path, title=title)
