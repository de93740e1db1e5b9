"""CIFAR-10: 60,000 32x32 colour images in 10 classes, as Keras loads it, from the binary archive.

Keras reads the Python version of the archive (pickles, loaded through a restricted unpickler);
pyconv reads the official *binary* version, `cifar-10-binary.tar.gz`: fixed-size records, no
pickle at all, no file written to disk (pyconv/datasets/_cifar.py). The two versions are the
same batches in two layouts (https://www.cs.toronto.edu/~kriz/cifar.html). Where the archive is
looked for, in this order (pyconv/datasets/_store.py, shared by every loader):

    1. $PYCONV_DATA                    a directory holding cifar-10-binary.tar.gz
    2. ~/.pyconv/datasets/cifar-10     the download cache
    3. /usr/share/datasets/cifar-10    (no Debian package has CIFAR; an
                                        administrator can put it here)
    4. a download from the dataset's home page (cs.toronto.edu) into the cache

The SHA-256 and size are those TensorFlow Datasets records for this URL
(tensorflow_datasets/url_checksums/cifar10.txt); the home page publishes the archive's MD5,
c32a1d4ab5d03f1284b67883e8d87530. The archive is checked each time it is loaded.
"""
import urllib.request

import numpy as np

from . import _cifar, _store

__all__ = ["load_data", "class_names"]

class_names = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")  # Keras's docstring, label 0 to 9

_ARCHIVE = "cifar-10-binary.tar.gz"
_SHA256 = {_ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"}
_SIZE = {_ARCHIVE: 170052171}
_URLS = ("https://www.cs.toronto.edu/~kriz/",)
_SYSTEM_DIR = "/usr/share/datasets/cifar-10"
_PREFIX = "cifar-10-batches-bin/"
_TRAIN = ("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
          "data_batch_5.bin")
_TEST = ("test_batch.bin",)
_RECORDS = dict.fromkeys(_TRAIN + _TEST, 10000)  # records per member
_RECORD_LEN = 1 + _cifar.PIXELS  # <label><3072 pixels>
_urlopen = urllib.request.urlopen  # replaced in the tests


def _source():
    """This data set for the shared search (built at each call: tests replace the attributes)."""
    return _store.Source("CIFAR-10", (_ARCHIVE,), _URLS, _store.cache_dir("cifar-10"),
                         _SYSTEM_DIR, check=_store.file_check(_SHA256, _SIZE), urlopen=_urlopen)


def _layout():
    return _cifar.Layout(_ARCHIVE, _PREFIX, _TRAIN, _TEST, _RECORDS, _RECORD_LEN)


def load_data(path=None):
    """Load CIFAR-10, from disk when it is there, else by downloading it once (162 MiB).

    The directories looked in are, in order: `$PYCONV_DATA`, `~/.pyconv/datasets/cifar-10` and
    `/usr/share/datasets/cifar-10`. The first that holds `cifar-10-binary.tar.gz` is used; when
    none does, it is downloaded from https://www.cs.toronto.edu/~kriz/ into
    `~/.pyconv/datasets/cifar-10`, with a progress line on stderr. The archive is checked
    against its SHA-256 each time it is loaded, and read without being extracted.

    The classes are, label 0 to 9: airplane, automobile, bird, cat, deer, dog, frog, horse,
    ship, truck (`class_names`).

    Args:
        path: optional directory holding `cifar-10-binary.tar.gz`, or the archive itself.
            When given, it is the only place looked in and nothing is downloaded. (Keras's
            `load_data` takes no argument.)

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **x_train**: uint8 array of RGB image data with shape (50000, 32, 32, 3) (channels
        last), containing the training data. Pixel values range from 0 to 255.

        **y_train**: uint8 array of labels (integers in range 0-9) with shape (50000, 1) for
        the training data.

        **x_test**: uint8 array of RGB image data with shape (10000, 32, 32, 3).

        **y_test**: uint8 array of labels with shape (10000, 1).

    Raises:
        DatasetNotFoundError: (a FileNotFoundError) the archive is nowhere and cannot be
            downloaded; the message lists the places looked and how to provide it.
        ValueError: the archive is damaged or is not the official one (its size or SHA-256
            differs), or a download delivered such a file. The message names the file.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, y_train.shape, x_test.shape, y_test.shape
    ((50000, 32, 32, 3), (50000, 1), (10000, 32, 32, 3), (10000, 1))
    >>> x_train.dtype, y_train.dtype
    (dtype('uint8'), dtype('uint8'))
    """
    return _cifar.load(_source(), path, _layout(), label_column=0, num_classes=10,
                       label_dtype=np.uint8)
