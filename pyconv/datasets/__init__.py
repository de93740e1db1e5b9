"""Datasets, loaded as `keras.datasets` loads them: `mnist`, `fashion_mnist`, `cifar10`, `cifar100`.

    from pyconv import datasets
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist.load_data()

Data is looked for on disk first ($PYCONV_DATA, ~/.pyconv/datasets/<name>, then
/usr/share/datasets/<name>) and downloaded only when it is nowhere; every file is checked
against its SHA-256 before it is used (pyconv/datasets/_store.py). The directory names are
`mnist`, `fashion-mnist`, `cifar-10` and `cifar-100`.
"""

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "DatasetNotFoundError", "read_idx",
           "write_idx"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is on none of the searched paths and could not be downloaded.

    The message lists the places looked and the ways to provide the files.
    """


# Imported after DatasetNotFoundError is defined: the loaders import it from here.
from . import cifar10, cifar100, fashion_mnist, mnist  # noqa: E402
from ._idx import read_idx, write_idx  # noqa: E402
