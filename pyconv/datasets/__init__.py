"""Datasets, loaded as `keras.datasets` loads them: `fashion_mnist.load_data()`.

    from pyconv import datasets
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist.load_data()

Data is looked for on disk first (the user's directories, then the Debian package) and downloaded
only when it is nowhere; every file is checked against its SHA-256 before it is used.
"""

__all__ = ["fashion_mnist", "DatasetNotFoundError", "read_idx", "write_idx"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is on none of the searched paths and could not be downloaded.

    The message lists the places looked and the ways to provide the files.
    """


# Imported after DatasetNotFoundError is defined: the loaders import it from here.
from . import fashion_mnist  # noqa: E402
from ._idx import read_idx, write_idx  # noqa: E402
