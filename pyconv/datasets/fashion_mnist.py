"""Fashion-MNIST: 70,000 28x28 grayscale images of clothing in 10 classes, as Keras loads it.

Where the four files are looked for, in this order (pyconv/datasets/_store.py, shared by every
loader); the first directory that holds any of them is the one used (a damaged or missing file
there is an error, never a reason to go on looking):

    1. $PYCONV_DATA                           a directory holding the four files
    2. ~/.pyconv/datasets/fashion-mnist       the download cache
    3. /usr/share/datasets/fashion-mnist      Debian's package dataset-fashion-mnist
    4. a download from the Zalando mirror (Keras's mirror as a fallback) into the cache

A download goes to a temporary file in the cache directory, which is renamed only once its
SHA-256 holds: whatever happens, the cache holds whole, checked files or nothing.
"""
import os
import urllib.request

from . import _store
from ._idx import _read_path, read_idx

__all__ = ["load_data", "class_names"]

class_names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# SHA-256 of the *decompressed* files: gzip headers (time stamp, name) differ between copies.
_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz":
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz":
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz":
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
_FILES = tuple(_SHA256)  # x_train, y_train, x_test, y_test

_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's, official
         "https://storage.googleapis.com/tensorflow/tf-keras-datasets/")  # the one Keras uses
_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
_DEBIAN_PACKAGE = "dataset-fashion-mnist"
_urlopen = urllib.request.urlopen  # replaced by a stub in the tests


def _source():
    """This data set for the shared search (built at each call: tests replace the attributes)."""
    return _store.Source(
        "Fashion-MNIST", _FILES, _URLS, _store.cache_dir("fashion-mnist"), _SYSTEM_DIR,
        check=lambda tmp, name, shown: _read_path(tmp, _SHA256[name], name=shown),
        urlopen=_urlopen, debian_package=_DEBIAN_PACKAGE)


def load_data(path=None):
    """Load Fashion-MNIST, from disk when it is there, else by downloading it once.

    The directories looked in are, in order: `$PYCONV_DATA`, `~/.pyconv/datasets/fashion-mnist`
    and `/usr/share/datasets/fashion-mnist` (Debian's package `dataset-fashion-mnist`). The
    first that holds any of the four files (train-images-idx3-ubyte.gz,
    train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) is used;
    when none does, they are downloaded into `~/.pyconv/datasets/fashion-mnist`, with a progress
    line on stderr. Every file is checked against its SHA-256 each time it is loaded.

    Args:
        path: optional directory holding the four files. When given, it is the only place looked
            in and nothing is downloaded.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **x_train**: uint8 array of grayscale image data with shape (60000, 28, 28), containing
        the training data. Pixel values range from 0 to 255.

        **y_train**: uint8 array of labels (integers in range 0-9) with shape (60000,) for the
        training data; `class_names[y]` names label `y`.

        **x_test**: uint8 array of grayscale image data with shape (10000, 28, 28), containing
        the test data. Pixel values range from 0 to 255.

        **y_test**: uint8 array of labels (integers in range 0-9) with shape (10000,) for the
        test data.

    Raises:
        DatasetNotFoundError: (a FileNotFoundError) the files are nowhere and cannot be
            downloaded; the message lists the places looked and how to provide the files.
            Also raised when the directory used lacks some of the four files.
        ValueError: a file is damaged or is not the official one (its SHA-256 differs), or a
            download delivered such a file. The message names the file.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, y_train.shape, x_test.shape, y_test.shape
    ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    >>> x_train.dtype, y_train.dtype
    (dtype('uint8'), dtype('uint8'))
    >>> class_names[y_train[0]]
    'Ankle boot'
    """
    src = _source()
    return _load(src, _store.locate(src, path))


def _load(src, directory):
    arrays = []
    for name in _FILES:
        file = os.path.join(directory, name)
        try:
            arrays.append(read_idx(file, sha256=_SHA256[name]))
        except ValueError as e:
            raise _store.bad_file(src, directory, name, e) from None
    x_train, y_train, x_test, y_test = arrays
    # The checksums pin the official shapes; this guards against a checksum table that does not.
    for (x, y), (xname, yname) in (((x_train, y_train), _FILES[:2]),
                                   ((x_test, y_test), _FILES[2:])):
        if x.dtype != "uint8" or x.ndim != 3 or y.dtype != "uint8" or y.shape != x.shape[:1]:
            raise ValueError(f"{xname} and {yname} in {directory} must hold uint8 images "
                             f"(n, height, width) and n uint8 labels. Received: images of "
                             f"{x.dtype} {x.shape}, labels of {y.dtype} {y.shape}.")
    return (x_train, y_train), (x_test, y_test)
