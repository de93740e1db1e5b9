"""MNIST: 70,000 28x28 grayscale images of handwritten digits, as Keras loads it.

The file is Keras's own `mnist.npz` (the arrays x_train, y_train, x_test, y_test), read with
`allow_pickle=False`: whatever the file holds, loading it runs no code. Where it is looked for,
in this order (pyconv/datasets/_store.py, shared by every loader); the first directory that
holds it is the one used:

    1. $PYCONV_DATA                   a directory holding mnist.npz
    2. ~/.pyconv/datasets/mnist       the download cache
    3. /usr/share/datasets/mnist      (no Debian package has MNIST; an administrator can put
                                      it here)
    4. a download from Keras's bucket into the cache

The SHA-256 and the size are those of Keras's file: `file_hash=` in keras/src/datasets/mnist.py
(Keras 3.15.1), and the size its download reports (11,490,434 bytes). The file is checked each
time it is loaded, and a download is renamed into the cache only once it passes.
"""
import os
import urllib.request
import zipfile

import numpy as np

from . import _store

__all__ = ["load_data"]

_FILE = "mnist.npz"
_SHA256 = {_FILE: "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"}
_SIZE = {_FILE: 11490434}
_KEYS = ("x_train", "y_train", "x_test", "y_test")
_URLS = ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",)  # Keras's origin
_SYSTEM_DIR = "/usr/share/datasets/mnist"
_urlopen = urllib.request.urlopen  # replaced in the tests


def _source():
    """This data set for the shared search (built at each call: tests replace the attributes)."""
    return _store.Source("MNIST", (_FILE,), _URLS, _store.cache_dir("mnist"), _SYSTEM_DIR,
                         check=_store.file_check(_SHA256, _SIZE), urlopen=_urlopen)


def load_data(path=None):
    """Load MNIST, from disk when it is there, else by downloading it once.

    The directories looked in are, in order: `$PYCONV_DATA`, `~/.pyconv/datasets/mnist` and
    `/usr/share/datasets/mnist`. The first that holds `mnist.npz` is used; when none does, it
    is downloaded from Keras's origin into `~/.pyconv/datasets/mnist`, with a progress line on
    stderr. The file is checked against its SHA-256 each time it is loaded.

    Args:
        path: optional directory holding `mnist.npz`, or the file itself. When given, it is
            the only place looked in and nothing is downloaded. (Keras's `path` is a file name
            inside `~/.keras/datasets`; its default, "mnist.npz", is taken here as None unless
            such a file or directory exists.)

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **x_train**: uint8 array of grayscale image data with shape (60000, 28, 28), containing
        the training data. Pixel values range from 0 to 255.

        **y_train**: uint8 array of digit labels (integers in range 0-9) with shape (60000,)
        for the training data.

        **x_test**: uint8 array of grayscale image data with shape (10000, 28, 28), containing
        the test data.

        **y_test**: uint8 array of digit labels with shape (10000,) for the test data.

    Raises:
        DatasetNotFoundError: (a FileNotFoundError) the file is nowhere and cannot be
            downloaded; the message lists the places looked and how to provide it.
        ValueError: the file is damaged or is not Keras's (its size or SHA-256 differs), or a
            download delivered such a file. The message names the file.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, y_train.shape, x_test.shape, y_test.shape
    ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    >>> x_train.dtype, y_train.dtype
    (dtype('uint8'), dtype('uint8'))
    """
    if path is not None and os.fspath(path) == _FILE and not os.path.exists(path):
        path = None  # Keras's default argument, a file name inside ~/.keras/datasets
    src = _source()
    directory, file = _store.locate_file(src, path)
    try:
        src.check(file, _FILE, file)
        x_train, y_train, x_test, y_test = _read_npz(file)
    except ValueError as e:
        raise _store.bad_file(src, directory, _FILE, e) from None
    return (x_train, y_train), (x_test, y_test)


def _read_npz(file):
    """The four arrays of an .npz file, checked: uint8 images (n, h, w) and n uint8 labels."""
    def fail(what):
        return ValueError(f"Cannot read '{file}': {what}")

    bad = (ValueError, zipfile.BadZipFile, EOFError, OSError)  # pickled objects, a broken zip
    try:
        npz = np.load(file, allow_pickle=False)
    except bad as e:
        raise fail(f"not a readable .npz archive ({e}).") from None
    if not hasattr(npz, "files"):
        raise fail("it is a .npy file, not an .npz archive of x_train, y_train, x_test and "
                   "y_test.")
    with npz:
        missing = [k for k in _KEYS if k not in npz.files]
        if missing:
            raise fail(f"it lacks the array{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(missing)} (it holds {', '.join(npz.files) or 'none'}).")
        try:
            arrays = [npz[k] for k in _KEYS]
        except bad as e:
            raise fail(f"not a readable .npz archive ({e}).") from None
    for x, y, part in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "test")):
        if x.dtype != np.uint8 or x.ndim != 3 or y.dtype != np.uint8 or y.shape != x.shape[:1]:
            raise fail(f"x_{part} and y_{part} must be uint8 images (n, height, width) and n "
                       f"uint8 labels. Received: x_{part} of {x.dtype} {x.shape}, y_{part} of "
                       f"{y.dtype} {y.shape}.")
    return arrays
