"""CIFAR-100: 60,000 32x32 colour images in 100 classes (20 superclasses), as Keras loads it.

Keras reads the Python version of the archive (pickles, loaded through a restricted unpickler);
pyconv reads the official *binary* version, `cifar-100-binary.tar.gz`: fixed-size records, no
pickle at all, no file written to disk (pyconv/datasets/_cifar.py). The two versions are the
same batches in two layouts (https://www.cs.toronto.edu/~kriz/cifar.html). Where the archive is
looked for, in this order (pyconv/datasets/_store.py, shared by every loader):

    1. $PYCONV_DATA                     a directory holding cifar-100-binary.tar.gz
    2. ~/.pyconv/datasets/cifar-100     the download cache
    3. /usr/share/datasets/cifar-100    (no Debian package has CIFAR; an
                                         administrator can put it here)
    4. a download from the dataset's home page (cs.toronto.edu) into the cache

The SHA-256 and size are those TensorFlow Datasets records for this URL
(tensorflow_datasets/url_checksums/cifar100.txt); the home page publishes the archive's MD5,
03b5dce01913d631647c71ecec9e9cb8. The archive is checked each time it is loaded.
"""
import urllib.request

import numpy as np

from . import _cifar, _store

__all__ = ["load_data"]

_ARCHIVE = "cifar-100-binary.tar.gz"
_SHA256 = {_ARCHIVE: "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"}
_SIZE = {_ARCHIVE: 168513733}
_URLS = ("https://www.cs.toronto.edu/~kriz/",)
_SYSTEM_DIR = "/usr/share/datasets/cifar-100"
_PREFIX = "cifar-100-binary/"
_TRAIN = ("train.bin",)
_TEST = ("test.bin",)
_RECORDS = {"train.bin": 50000, "test.bin": 10000}
_RECORD_LEN = 2 + _cifar.PIXELS  # <coarse label><fine label><3072 pixels>
_LABELS = {"coarse": (0, 20), "fine": (1, 100)}  # label_mode -> (record column, classes)
_urlopen = urllib.request.urlopen  # replaced in the tests


def _source():
    """This data set for the shared search (built at each call: tests replace the attributes)."""
    return _store.Source("CIFAR-100", (_ARCHIVE,), _URLS, _store.cache_dir("cifar-100"),
                         _SYSTEM_DIR, check=_store.file_check(_SHA256, _SIZE), urlopen=_urlopen)


def _layout():
    return _cifar.Layout(_ARCHIVE, _PREFIX, _TRAIN, _TEST, _RECORDS, _RECORD_LEN)


def load_data(label_mode="fine", path=None):
    """Load CIFAR-100, from disk when it is there, else by downloading it once (161 MiB).

    The directories looked in are, in order: `$PYCONV_DATA`, `~/.pyconv/datasets/cifar-100` and
    `/usr/share/datasets/cifar-100`. The first that holds `cifar-100-binary.tar.gz` is used;
    when none does, it is downloaded from https://www.cs.toronto.edu/~kriz/ into
    `~/.pyconv/datasets/cifar-100`, with a progress line on stderr. The archive is checked
    against its SHA-256 each time it is loaded, and read without being extracted.

    Args:
        label_mode: `"fine"` (100 classes) or `"coarse"` (the 20 superclasses).
        path: optional directory holding `cifar-100-binary.tar.gz`, or the archive itself.
            When given, it is the only place looked in and nothing is downloaded.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **x_train**: uint8 array of RGB image data with shape (50000, 32, 32, 3) (channels
        last). Pixel values range from 0 to 255.

        **y_train**: int64 array of labels (0-99 fine, 0-19 coarse) with shape (50000, 1). (int64
        as Keras 3.15 returns them: its pickles hold the labels as Python lists.)

        **x_test**: uint8 array of RGB image data with shape (10000, 32, 32, 3).

        **y_test**: int64 array of labels with shape (10000, 1).

    Raises:
        ValueError: `label_mode` is neither "fine" nor "coarse"; the archive is damaged or is
            not the official one (its size or SHA-256 differs), or a download delivered such a
            file (the message names the file).
        DatasetNotFoundError: (a FileNotFoundError) the archive is nowhere and cannot be
            downloaded; the message lists the places looked and how to provide it.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data(label_mode="coarse")
    >>> x_train.shape, y_train.shape, x_test.shape, y_test.shape
    ((50000, 32, 32, 3), (50000, 1), (10000, 32, 32, 3), (10000, 1))
    >>> x_train.dtype, y_train.dtype, int(y_train.max())
    (dtype('uint8'), dtype('int64'), 19)
    """
    if not isinstance(label_mode, str) or label_mode not in _LABELS:
        raise ValueError(f'`label_mode` must be one of "fine", "coarse". '
                         f"Received: label_mode={label_mode!r}.")
    column, classes = _LABELS[label_mode]
    return _cifar.load(_source(), path, _layout(), label_column=column, num_classes=classes,
                       label_dtype=np.int64)
