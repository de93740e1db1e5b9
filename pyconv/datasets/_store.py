"""Where a data set's files are found, and how they are downloaded: one search for all loaders.

A loader (fashion_mnist, mnist, cifar10, cifar100) describes its files in a `Source`, and
`locate` returns the directory to read them from, looking in this order:

    1. $PYCONV_DATA                       a directory holding the files (one directory can hold
                                          every data set's files: their names differ)
    2. ~/.pyconv/datasets/<name>          the download cache
    3. /usr/share/datasets/<name>         where Debian's dataset-* packages put them
    4. a download from each mirror in turn, into the cache

The first directory that holds any of the files is the one used: a damaged or missing file there
is an error, never a reason to go on looking. A download goes to a temporary file in the cache
directory, renamed only once `Source.check` accepts it: whatever happens, the cache holds whole,
checked files or nothing.

What `locate` promises: a directory holding every file of the source, or one
DatasetNotFoundError (nothing anywhere and no download possible; an incomplete directory) whose
message lists the places looked and the ways to provide the files, or a ValueError when a
mirror delivered a file that fails its check.
"""
import hashlib
import http.client
import os
import sys
import tempfile

from . import DatasetNotFoundError

ENV = "PYCONV_DATA"
TIMEOUT = 30  # seconds without a byte before a download is given up
NETWORK_ERRORS = (OSError, http.client.HTTPException)  # URLError, timeouts, resets, short reads
_COUNT = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def cache_dir(name):
    """~/.pyconv/datasets/<name>: where downloads go (HOME read at each call)."""
    return os.path.join(os.path.expanduser("~"), ".pyconv", "datasets", name)


class Source:
    """What `locate` needs to know about a data set.

    A loader builds one at each call from its module's attributes, so that a test can replace
    any of them (the system directory, the checksums, the URL opener) on the module.

    Args:
        title: the data set's name in messages ("CIFAR-10").
        files: the file names, all in one directory.
        urls: mirror base URLs, tried in order; a file's URL is base + name.
        cache: the download directory (`cache_dir(name)`).
        system_dir: the system-wide directory (/usr/share/datasets/<name>).
        check: `check(path, name, shown)` raises ValueError unless the file at `path` is the
            good `name`; `shown` stands for the file in the message (the URL, for a download).
        urlopen: `urllib.request.urlopen` or a stand-in.
        debian_package: the Debian package that installs `system_dir`, or None.
    """

    def __init__(self, title, files, urls, cache, system_dir, check, urlopen,
                 debian_package=None):
        self.title, self.files, self.urls = title, tuple(files), tuple(urls)
        self.cache, self.system_dir = cache, system_dir
        self.check, self.urlopen, self.debian_package = check, urlopen, debian_package

    def search_dirs(self):
        """The directories to look in, in order ($PYCONV_DATA only when it is set)."""
        env = os.environ.get(ENV)
        return ([env] if env else []) + [self.cache, self.system_dir]


def locate(src, path=None):
    """The directory holding all of `src.files`, downloading them into the cache if need be.

    With `path`, only that directory is looked in and nothing is downloaded.
    """
    if path is not None:
        directory = os.fspath(path)
        present = _present(src, directory)
        if len(present) < len(src.files):
            raise DatasetNotFoundError(_incomplete_message(src, directory, present))
        return directory

    looked = []
    for directory in src.search_dirs():
        present = _present(src, directory)
        if present:
            break
        looked.append(directory)
    else:
        directory, present = src.cache, []

    if len(present) == len(src.files):
        return directory
    if not same_dir(directory, src.cache):
        raise DatasetNotFoundError(_incomplete_message(src, directory, present))
    # Nothing anywhere, or the cache lacks files (an earlier download was interrupted between
    # two files): download what is missing into the cache.
    _download(src, [n for n in src.files if n not in present], looked, present)
    return src.cache


def locate_file(src, path=None):
    """(directory, file) for a one-file source; `path` may also name the file itself."""
    if path is not None and os.path.isfile(path):
        file = os.fspath(path)
        return os.path.dirname(os.path.abspath(file)), file
    directory = locate(src, path)
    return directory, os.path.join(directory, src.files[0])


def bad_file(src, directory, name, error):
    """The ValueError for file `name` in `directory` failing its check: `error`'s message, then
    what to do about it (delete it from the cache, or replace it)."""
    fix = ("delete it to have it downloaded again" if same_dir(directory, src.cache)
           else f"replace it with a good copy from {src.urls[0]}{name}")
    return ValueError(f"{error} {src.title} cannot be loaded from {directory}: {fix}.")


def check_sha256(path, sha256, size=None, shown=None):
    """A ValueError unless the file at `path` has `size` bytes (when given) and SHA-256 `sha256`.

    The size is checked first: a truncated download is named as such without hashing it.
    """
    shown = shown or path
    actual = os.path.getsize(path)
    if size is not None and actual != size:
        what = "truncated" if actual < size else "longer than the official file"
        raise ValueError(f"Cannot read '{shown}': it holds {actual} bytes, expected {size} (it "
                         f"is {what}).")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != sha256.lower():
        raise ValueError(f"Cannot read '{shown}': SHA-256 mismatch: the file hashes to "
                         f"{digest.hexdigest()}, expected {sha256.lower()}. The file is "
                         f"corrupted or is not the expected one.")


def file_check(sha256, sizes):
    """A `Source.check` for whole files: the size (when `sizes` has it), then the SHA-256."""
    def check(path, name, shown):
        check_sha256(path, sha256[name], sizes.get(name), shown=shown)
    return check


def same_dir(a, b):
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _present(src, directory):
    return [n for n in src.files if os.path.isfile(os.path.join(directory, n))]


def _files_word(src):
    """"the four files" / "the file": how messages speak of a source's files."""
    n = len(src.files)
    return "the file" if n == 1 else f"the {_COUNT.get(n, n)} files"


def _incomplete_message(src, directory, present):
    missing = [n for n in src.files if n not in present]
    if len(src.files) == 1:
        return (f"{src.title} is not in {directory}: it lacks {missing[0]} (get it from "
                f"{src.urls[0]}{missing[0]}).")
    have = ", ".join(present) if present else "none of them"
    return (f"{src.title} in {directory} is incomplete: it lacks {', '.join(missing)} "
            f"(it has {have}). A directory holding any of {_files_word(src)} must hold all of "
            f"them: add the missing ones (from {src.urls[0]}) or remove the others.")


def _download(src, names, looked, present):
    """Download `names` into the cache, each from the first mirror that delivers a good copy."""
    for name in names:
        failures = []
        for base in src.urls:
            url = base + name
            try:
                _fetch(src, url, name)
                break
            except ValueError as e:  # the mirror answered with a damaged or wrong file
                failures.append((url, e))
            except NETWORK_ERRORS as e:
                failures.append((url, e))
        else:
            if any(isinstance(e, ValueError) for _, e in failures):
                raise ValueError(
                    f"Could not download a good copy of {name}; nothing was kept in "
                    f"{src.cache}.\n" + "\n".join(f"  {url}: {e}" for url, e in failures))
            raise DatasetNotFoundError(_offline_message(src, looked, present, failures))


def _fetch(src, url, name):
    """One file from `url` into the cache, through a temporary file renamed once checked."""
    with src.urlopen(url, timeout=TIMEOUT) as response:
        headers = getattr(response, "headers", None)
        try:
            total = int(headers.get("Content-Length")) if headers is not None else None
        except (TypeError, ValueError):
            total = None
        os.makedirs(src.cache, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=src.cache)
        try:
            with os.fdopen(fd, "wb") as out:
                _copy(response, out, url, total)
            src.check(tmp, name, url)  # the whole check, before the rename
            os.replace(tmp, os.path.join(src.cache, name))
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


def _offline_message(src, looked, present, failures):
    env = os.environ.get(ENV)
    one = len(src.files) == 1
    lines = [f"{src.title} was not found and could not be downloaded.",
             f"Looked for {src.files[0] if one else 'its ' + _files_word(src)[4:]} in:"]
    if not env:
        lines.append(f"  ${ENV} (not set)")
    for directory in looked:
        why = ("no such directory" if not os.path.isdir(directory) else
               "not there" if one else "none of the files")
        lines.append(f"  {directory} ({why})")
    if present:
        missing = [n for n in src.files if n not in present]
        lines.append(f"  {src.cache} (has {', '.join(present)}; lacks {', '.join(missing)})")
    lines.append("The download failed:")
    lines += [f"  {url}: {e}" for url, e in failures]
    lines.append(f"To provide the file{'' if one else 's'}, do one of:")
    if src.debian_package:
        lines.append(f"  - install Debian's package: sudo apt-get install {src.debian_package}")
    lines += [f"  - fetch {', '.join(src.files)} by hand from {src.urls[0]} into {src.cache}, "
              f"or into any directory and set the environment variable {ENV} to it",
              "  - connect to the internet and call load_data() again"]
    return "\n".join(lines)
