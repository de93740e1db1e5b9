"""Fashion-MNIST: 70,000 28x28 grayscale images of clothing in 10 classes, as Keras loads it.

Where the four files are looked for, in this order; the first directory that holds any of them
is the one used (a damaged or missing file there is an error, never a reason to go on looking):

    1. $PYCONV_DATA                           a directory holding the four files
    2. ~/.pyconv/datasets/fashion-mnist       the download cache
    3. /usr/share/datasets/fashion-mnist      Debian's package dataset-fashion-mnist
    4. a download from the Zalando mirror (Keras's mirror as a fallback) into the cache

A download goes to a temporary file in the cache directory, which is renamed only once its
SHA-256 holds: whatever happens, the cache holds whole, checked files or nothing.
"""
import http.client
import os
import sys
import tempfile
import urllib.request

from . import DatasetNotFoundError
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
_ENV = "PYCONV_DATA"
_TIMEOUT = 30  # seconds without a byte before a download is given up
_urlopen = urllib.request.urlopen  # replaced by a stub in the tests
_NETWORK_ERRORS = (OSError, http.client.HTTPException)  # URLError, timeouts, resets, short reads


def _cache_dir():
    return os.path.join(os.path.expanduser("~"), ".pyconv", "datasets", "fashion-mnist")


def _search_dirs():
    """The directories to look in, in order ($PYCONV_DATA only when it is set)."""
    dirs = [os.environ[_ENV]] if os.environ.get(_ENV) else []
    return dirs + [_cache_dir(), _SYSTEM_DIR]


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
    if path is not None:
        directory = os.fspath(path)
        present = _present(directory)
        if len(present) < len(_FILES):
            raise DatasetNotFoundError(_incomplete_message(directory, present))
        return _load(directory)

    cache = _cache_dir()
    looked = []
    for directory in _search_dirs():
        present = _present(directory)
        if present:
            break
        looked.append(directory)
    else:
        directory, present = cache, []

    if len(present) == len(_FILES):
        return _load(directory)
    if not _same_dir(directory, cache):
        raise DatasetNotFoundError(_incomplete_message(directory, present))
    # Nothing anywhere, or the cache lacks files (an earlier download was interrupted between
    # two files): download what is missing into the cache.
    _download([n for n in _FILES if n not in present], cache, looked, present)
    return _load(cache)


def _present(directory):
    return [n for n in _FILES if os.path.isfile(os.path.join(directory, n))]


def _same_dir(a, b):
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _load(directory):
    arrays = []
    for name in _FILES:
        file = os.path.join(directory, name)
        try:
            arrays.append(read_idx(file, sha256=_SHA256[name]))
        except ValueError as e:
            fix = ("delete it to have it downloaded again" if _same_dir(directory, _cache_dir())
                   else f"replace it with a good copy from {_URLS[0]}{name}")
            raise ValueError(f"{e} Fashion-MNIST cannot be loaded from {directory}: {fix}.") \
                from None
    x_train, y_train, x_test, y_test = arrays
    # The checksums pin the official shapes; this guards against a checksum table that does not.
    for (x, y), (xname, yname) in (((x_train, y_train), _FILES[:2]),
                                   ((x_test, y_test), _FILES[2:])):
        if x.dtype != "uint8" or x.ndim != 3 or y.dtype != "uint8" or y.shape != x.shape[:1]:
            raise ValueError(f"{xname} and {yname} in {directory} must hold uint8 images "
                             f"(n, height, width) and n uint8 labels. Received: images of "
                             f"{x.dtype} {x.shape}, labels of {y.dtype} {y.shape}.")
    return (x_train, y_train), (x_test, y_test)


def _incomplete_message(directory, present):
    missing = [n for n in _FILES if n not in present]
    have = ", ".join(present) if present else "none of them"
    return (f"Fashion-MNIST in {directory} is incomplete: it lacks {', '.join(missing)} "
            f"(it has {have}). A directory holding any of the four files must hold all of them: "
            f"add the missing ones (from {_URLS[0]}) or remove the others.")


def _download(names, cache, looked, present):
    """Download `names` into `cache`, each from the first mirror that delivers a good copy."""
    for name in names:
        failures = []
        for base in _URLS:
            url = base + name
            try:
                _fetch(url, cache, name)
                break
            except ValueError as e:  # the mirror answered with a damaged or wrong file
                failures.append((url, e))
            except _NETWORK_ERRORS as e:
                failures.append((url, e))
        else:
            if any(isinstance(e, ValueError) for _, e in failures):
                raise ValueError(
                    f"Could not download a good copy of {name}; nothing was kept in {cache}.\n"
                    + "\n".join(f"  {url}: {e}" for url, e in failures))
            raise DatasetNotFoundError(_offline_message(cache, looked, present, failures))


def _fetch(url, cache, name):
    """One file from `url` into `cache`/`name`, through a temporary file renamed when checked."""
    with _urlopen(url, timeout=_TIMEOUT) as response:
        headers = getattr(response, "headers", None)
        try:
            total = int(headers.get("Content-Length")) if headers is not None else None
        except (TypeError, ValueError):
            total = None
        os.makedirs(cache, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=cache)
        try:
            with os.fdopen(fd, "wb") as out:
                _copy(response, out, url, total)
            _read_path(tmp, _SHA256[name], name=url)  # the whole check, before the rename
            os.replace(tmp, os.path.join(cache, name))
        except BaseException:  # includes KeyboardInterrupt: never leave a partial file
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise


def _copy(response, out, url, total):
    """Copy the response to `out`, with a progress line on stderr."""
    done, shown = 0, -1
    try:
        while chunk := response.read(1 << 16):
            out.write(chunk)
            done += len(chunk)
            if done >> 20 != shown:  # at most one update per MiB
                shown = done >> 20
                _progress(url, done, total)
        _progress(url, done, total)
    finally:
        sys.stderr.write("\n")
        sys.stderr.flush()


def _progress(url, done, total):
    scale, unit = (1 << 20, "MiB") if (total or done) >= 1 << 20 else (1 << 10, "KiB")
    if total:
        text = f"{done / scale:.1f} of {total / scale:.1f} {unit} ({100 * done // total}%)"
    else:
        text = f"{done / scale:.1f} {unit}"
    sys.stderr.write(f"\rDownloading {url}: {text}")
    sys.stderr.flush()


def _offline_message(cache, looked, present, failures):
    env = os.environ.get(_ENV)
    lines = ["Fashion-MNIST was not found and could not be downloaded.",
             "Looked for its four files in:"]
    if not env:
        lines.append(f"  ${_ENV} (not set)")
    for directory in looked:
        why = "none of the files" if os.path.isdir(directory) else "no such directory"
        lines.append(f"  {directory} ({why})")
    if present:
        missing = [n for n in _FILES if n not in present]
        lines.append(f"  {cache} (has {', '.join(present)}; lacks {', '.join(missing)})")
    lines.append("The download failed:")
    lines += [f"  {url}: {e}" for url, e in failures]
    lines += ["To provide the files, do one of:",
              f"  - install Debian's package: sudo apt-get install {_DEBIAN_PACKAGE}",
              f"  - fetch {', '.join(_FILES)} by hand from {_URLS[0]} into {cache}, or into "
              f"any directory and set the environment variable {_ENV} to it",
              "  - connect to the internet and call load_data() again"]
    return "\n".join(lines)
