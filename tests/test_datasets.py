"""pyconv.datasets: the IDX reader/writer and fashion_mnist.load_data.

The tests write their own small IDX files and never touch the network or the real home
directory: the autouse fixture points HOME, $PYCONV_DATA and the system directory into tmp_path
and replaces the URL opener with one that fails the test. Only test_real_data reads the real
files, when Debian's package dataset-fashion-mnist is installed.
"""
import doctest
import gzip
import hashlib
import io
import os
import re
import urllib.error

import numpy as np
import pytest

import pyconv
from pyconv import datasets
from pyconv.datasets import DatasetNotFoundError, _idx, fashion_mnist as fm, read_idx, write_idx

REAL_SYSTEM_DIR = fm._SYSTEM_DIR
ZALANDO = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = fm._FILES


# ---------------------------------------------------------------------------------------------
# helpers


def idx_bytes(arr, compress=False):
    buf = io.BytesIO()
    write_idx(buf, arr, gzip=compress)
    return buf.getvalue()


def small_set(seed):
    """A Fashion-MNIST-shaped set in miniature: 6 train and 3 test images of 4x4."""
    rng = np.random.default_rng(seed)
    return {TRAIN_IMAGES: rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
            TRAIN_LABELS: rng.integers(0, 10, 6, dtype=np.uint8),
            TEST_IMAGES: rng.integers(0, 256, (3, 4, 4), dtype=np.uint8),
            TEST_LABELS: rng.integers(0, 10, 3, dtype=np.uint8)}


def write_set(directory, arrays, names=None, compress=True):
    os.makedirs(directory, exist_ok=True)
    for name in names or arrays:
        write_idx(os.path.join(directory, name), arrays[name], gzip=compress)
    return str(directory)


def check_loaded(result, arrays):
    assert isinstance(result, tuple) and len(result) == 2
    (x_train, y_train), (x_test, y_test) = result
    for got, name in zip((x_train, y_train, x_test, y_test), fm._FILES):
        np.testing.assert_array_equal(got, arrays[name])
        assert got.dtype == np.uint8


class Response:
    """A stand-in for urlopen's response; raises `exc` once `fail_at` bytes have been read."""

    def __init__(self, data, fail_at=None, exc=None, on_fail=None):
        self._buf = io.BytesIO(data)
        self.headers = {"Content-Length": str(len(data))}
        self._fail_at, self._exc, self._on_fail = fail_at, exc, on_fail

    def read(self, n=-1):
        pos = self._buf.tell()
        if self._fail_at is not None:
            if pos >= self._fail_at:
                if self._on_fail:
                    self._on_fail()
                raise self._exc
            n = self._fail_at - pos if n < 0 else min(n, self._fail_at - pos)
        return self._buf.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._buf.close()


class Opener:
    """A stub for fm._urlopen: serves `files` (url -> bytes or exception), records the calls."""

    def __init__(self, files, **response_kwargs):
        self.files, self.kwargs, self.calls = files, response_kwargs, []

    def __call__(self, url, timeout=None):
        self.calls.append(url)
        got = self.files.get(url, urllib.error.URLError("stub: no route to host"))
        if isinstance(got, BaseException):
            raise got
        return Response(got, **self.kwargs)


def serve(arrays, base=ZALANDO):
    return {base + name: idx_bytes(arr, compress=True) for name, arr in arrays.items()}


def no_network(url, timeout=None):
    pytest.fail(f"a test tried to open {url}")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """HOME, $PYCONV_DATA and the system directory inside tmp_path; no network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PYCONV_DATA", raising=False)
    monkeypatch.setattr(fm, "_SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.setattr(fm, "_urlopen", no_network)


@pytest.fixture
def small(monkeypatch):
    """A small set whose checksums stand in for the official ones."""
    arrays = small_set(0)
    monkeypatch.setattr(fm, "_SHA256", {name: hashlib.sha256(idx_bytes(arr)).hexdigest()
                                        for name, arr in arrays.items()})
    return arrays


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "home" / ".pyconv" / "datasets" / "fashion-mnist")


@pytest.fixture
def reads(monkeypatch):
    """The directories load_data reads files from, in order."""
    seen = []

    def spy(path, **kwargs):
        seen.append(os.path.dirname(path))
        return read_idx(path, **kwargs)

    monkeypatch.setattr(fm, "read_idx", spy)
    return seen


# ---------------------------------------------------------------------------------------------
# read_idx / write_idx


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(tmp_path, dtype, compress):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
    arr = np.array([info.min, info.max, 0, 1, 2, 3], dtype=dtype).reshape(3, 1, 2)
    path = tmp_path / "a.idx"
    write_idx(path, arr, gzip=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    for source in (path, str(path), io.BytesIO(path.read_bytes())):
        got = read_idx(source)
        assert got.dtype == np.dtype(dtype) and got.dtype.isnative and got.flags.writeable
        np.testing.assert_array_equal(got, arr)


def test_idx_layout_is_big_endian():
    data = idx_bytes(np.array([[1, -2, 0x01020304]], dtype=np.int32))
    assert data == (b"\x00\x00\x0c\x02" b"\x00\x00\x00\x01\x00\x00\x00\x03"
                    b"\x00\x00\x00\x01\xff\xff\xff\xfe\x01\x02\x03\x04")
    np.testing.assert_array_equal(read_idx(io.BytesIO(data)), [[1, -2, 0x01020304]])
    # Byte order of the input does not matter; the gzip output is reproducible (no time stamp).
    assert idx_bytes(np.array([[1, -2, 0x01020304]], dtype=">i4")) == data
    assert idx_bytes(np.arange(5.0), compress=True) == idx_bytes(np.arange(5.0), compress=True)


class Unseekable:
    """A pipe-like file object: `read` only."""

    def __init__(self, data):
        self._buf = io.BytesIO(data)

    def read(self, n=-1):
        return self._buf.read(n)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_idx_reads_unseekable_file_objects(compress):
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(Unseekable(idx_bytes(arr, compress))), arr)


def test_idx_doctests():
    result = doctest.testmod(_idx, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0


GOOD = idx_bytes(np.arange(48, dtype=np.uint8).reshape(3, 4, 4))  # 16 header + 48 data bytes

BROKEN = {  # IDX content -> what the message must say
    "bad magic": (b"\x01\x00" + GOOD[2:], r"not an IDX file: its magic number must start with "
                                          r"two zero bytes\. Received first 4 bytes: 01 00 08 03"),
    "bad dtype": (GOOD[:2] + b"\x07" + GOOD[3:], r"unknown dtype code 0x07 in the magic number; "
                                                 r"expected one of 0x08 \(uint8\), 0x09 \(int8\)"),
    "no dims": (b"\x00\x00\x08\x00", r"the header declares 0 dimensions; expected 1 to 255"),
    "empty": (b"", r"truncated header: the 4-byte magic number is incomplete"),
    "short header": (GOOD[:10], r"truncated header: 3 dimensions need 16 header bytes, "
                                r"the file ends after 10"),
    "short data": (GOOD[:-1], r"truncated data: the header declares shape \(3, 4, 4\) of uint8, "
                              r"48 data bytes, the file holds (only )?47 after its header"),
    "trailing": (GOOD + b"\x00\x00", r"trailing bytes after the data: the header declares shape "
                                     r"\(3, 4, 4\) of uint8, 48 data bytes, the file holds 50"),
}


@pytest.mark.parametrize("source", ["path", "fileobj"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("case", BROKEN)
def test_idx_broken_files(tmp_path, case, compress, source):
    content, message = BROKEN[case]
    data = gzip.compress(content, mtime=0) if compress else content
    path = tmp_path / "broken.idx"
    path.write_bytes(data)
    name = str(path) if source == "path" else "<stream>"
    fileobj = io.BytesIO(data)
    fileobj.name = "<stream>"
    with pytest.raises(ValueError, match=f"^Cannot read IDX file '{re.escape(name)}': {message}"):
        read_idx(path if source == "path" else fileobj)


def test_idx_corrupted_gzip(tmp_path):
    packed = gzip.compress(GOOD, mtime=0)
    cases = {
        # byte 10 opens the deflate stream; 0xff makes its first block type the reserved one
        "bad block": (packed[:10] + b"\xff" + packed[11:], r"corrupted gzip stream \(zlib: .*"),
        "bad crc": (packed[:-8] + bytes([packed[-8] ^ 1]) + packed[-7:],
                    r"corrupted gzip stream \(CRC check failed.*"),
        "garbage after": (packed + b"junk", r"corrupted gzip stream \(Not a gzipped file.*"),
        "cut": (packed[:len(packed) // 2], r"the gzip stream is truncated: it ends before its "
                                           r"end-of-stream marker\."),
    }
    for case, (data, message) in cases.items():
        path = tmp_path / f"{case}.gz"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=f"^Cannot read IDX file '{re.escape(str(path))}': "
                                             f"{message}"):
            read_idx(path)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_idx_checksum(tmp_path, compress):
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(GOOD) if compress else GOOD)
    good = hashlib.sha256(GOOD).hexdigest()  # of the decompressed bytes, whatever the gzip header
    np.testing.assert_array_equal(read_idx(path, sha256=good.upper()).ravel(), np.arange(48))
    with pytest.raises(ValueError, match=f"^Cannot read IDX file '{re.escape(str(path))}': SHA-256 "
                                         f"mismatch: the decompressed data hashes to {good}, "
                                         f"expected 0{{64}}. The file is corrupted or is not the "
                                         f"expected one.$"):
        read_idx(path, sha256="0" * 64)


def test_idx_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match=r"`array` must have dtype uint8, int8, int16, int32, "
                                        r"float32 or float64 \(the types IDX can hold\)\. "
                                        r"Received: dtype=int64\."):
        write_idx(tmp_path / "a", np.zeros(3, np.int64))
    with pytest.raises(TypeError, match=r"Received: dtype=bool\."):
        write_idx(tmp_path / "a", np.zeros(3, bool))
    with pytest.raises(ValueError, match=r"`array` must have 1 to 255 dimensions, each smaller "
                                         r"than 2\*\*32\. Received: array\.shape=\(\)\."):
        write_idx(tmp_path / "a", np.uint8(3))
    with pytest.raises(TypeError, match=r"`path` must be a path or a binary file object\. "
                                        r"Received: path of type int\."):
        write_idx(3, np.zeros(3, np.uint8))
    with pytest.raises(TypeError, match=r"`path_or_fileobj` must be a path or a binary file "
                                        r"object\. Received: path_or_fileobj of type int\."):
        read_idx(3)
    with pytest.raises(TypeError, match=r"must be opened in binary mode"):
        read_idx(io.StringIO("\0\0\x08\x01"))
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.idx")


# ---------------------------------------------------------------------------------------------
# fashion_mnist.load_data: the search


def test_public_names():
    import pyconv as keras
    assert keras.datasets.fashion_mnist.load_data is fm.load_data
    assert datasets.fashion_mnist is fm and pyconv.datasets is datasets
    assert fm.class_names == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                              "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    assert issubclass(DatasetNotFoundError, FileNotFoundError)
    assert issubclass(DatasetNotFoundError, OSError)


def test_official_checksums_table():
    assert fm._SHA256 == {  # as the brief gives them; checked on the real files by test_real_data
        TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }
    assert fm._FILES == ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    assert fm._URLS[0] == ZALANDO and fm._URLS[1] == KERAS
    assert REAL_SYSTEM_DIR == "/usr/share/datasets/fashion-mnist"


def test_search_order(tmp_path, monkeypatch, small, cache, reads):
    env = write_set(tmp_path / "env", small)
    write_set(cache, small, compress=False)  # plain files with the .gz names are read too
    system = write_set(fm._SYSTEM_DIR, small)
    monkeypatch.setenv("PYCONV_DATA", env)
    check_loaded(fm.load_data(), small)
    assert reads == [env] * 4

    monkeypatch.setenv("PYCONV_DATA", str(tmp_path / "nowhere"))  # set, but holds nothing
    check_loaded(fm.load_data(), small)
    assert reads[4:] == [cache] * 4

    os.makedirs(tmp_path / "empty")
    monkeypatch.setenv("PYCONV_DATA", str(tmp_path / "empty"))
    for name in small:
        os.remove(os.path.join(cache, name))
    check_loaded(fm.load_data(), small)
    assert reads[8:] == [system] * 4


def test_explicit_path(tmp_path, monkeypatch, small, reads):
    monkeypatch.setenv("PYCONV_DATA", write_set(tmp_path / "env", small_set(1)))  # not looked at
    mine = write_set(tmp_path / "mine", small)
    check_loaded(fm.load_data(path=tmp_path / "mine"), small)
    assert reads == [mine] * 4
    with pytest.raises(DatasetNotFoundError, match=re.escape(
            f"Fashion-MNIST in {tmp_path / 'empty'} is incomplete: it lacks {TRAIN_IMAGES}, "
            f"{TRAIN_LABELS}, {TEST_IMAGES}, {TEST_LABELS} (it has none of them).")):
        fm.load_data(path=str(tmp_path / "empty"))


@pytest.mark.parametrize("where", ["env", "cache"])
def test_bad_file_in_earlier_dir_is_an_error(tmp_path, monkeypatch, small, cache, reads, where):
    earlier = str(tmp_path / "env") if where == "env" else cache
    write_set(earlier, small)
    write_idx(os.path.join(earlier, TEST_LABELS), small[TEST_LABELS][::-1])  # wrong content
    write_set(fm._SYSTEM_DIR, small)  # a good copy later on: must not be used
    if where == "env":
        monkeypatch.setenv("PYCONV_DATA", earlier)
    fix = ("delete it to have it downloaded again" if where == "cache" else
           f"replace it with a good copy from {ZALANDO}{TEST_LABELS}")
    bad = os.path.join(earlier, TEST_LABELS)
    with pytest.raises(ValueError, match=f"^Cannot read IDX file '{re.escape(bad)}': SHA-256 "
                                         f"mismatch: .* Fashion-MNIST cannot be loaded from "
                                         f"{re.escape(earlier)}: {fix}\\.$"):
        fm.load_data()
    assert fm._SYSTEM_DIR not in reads


def test_damaged_file_is_an_error(tmp_path, monkeypatch, small):
    env = write_set(tmp_path / "env", small)
    write_set(fm._SYSTEM_DIR, small)
    path = os.path.join(env, TRAIN_IMAGES)
    with open(path, "r+b") as f:  # cut the gzip stream short
        f.truncate(os.path.getsize(path) - 20)
    monkeypatch.setenv("PYCONV_DATA", env)
    with pytest.raises(ValueError, match=f"^Cannot read IDX file '{re.escape(path)}': the gzip "
                                         f"stream is truncated"):
        fm.load_data()


@pytest.mark.parametrize("where", ["env", "system"])
def test_incomplete_dir_is_an_error(tmp_path, monkeypatch, small, cache, where):
    directory = str(tmp_path / "env") if where == "env" else fm._SYSTEM_DIR
    write_set(directory, small, names=[TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES])
    if where == "env":
        monkeypatch.setenv("PYCONV_DATA", directory)
        write_set(cache, small)  # complete, but later in the order
    with pytest.raises(DatasetNotFoundError, match=re.escape(
            f"Fashion-MNIST in {directory} is incomplete: it lacks {TEST_LABELS} (it has "
            f"{TRAIN_IMAGES}, {TRAIN_LABELS}, {TEST_IMAGES}). A directory holding any of the four "
            f"files must hold all of them: add the missing ones (from {ZALANDO}) or remove the "
            f"others.")):
        fm.load_data()


def test_inconsistent_shapes(tmp_path, monkeypatch, small):
    small[TRAIN_LABELS] = small[TRAIN_LABELS][:5]
    monkeypatch.setattr(fm, "_SHA256", {name: hashlib.sha256(idx_bytes(arr)).hexdigest()
                                        for name, arr in small.items()})
    with pytest.raises(ValueError, match=re.escape(
            f"{TRAIN_IMAGES} and {TRAIN_LABELS} in {tmp_path / 'd'} must hold uint8 images "
            f"(n, height, width) and n uint8 labels. Received: images of uint8 (6, 4, 4), "
            f"labels of uint8 (5,).")):
        fm.load_data(path=write_set(tmp_path / "d", small))


# ---------------------------------------------------------------------------------------------
# fashion_mnist.load_data: offline and download


def test_offline_error(tmp_path, monkeypatch, cache):
    opener = Opener({})
    monkeypatch.setattr(fm, "_urlopen", opener)
    with pytest.raises(DatasetNotFoundError, match=(
            r"^Fashion-MNIST was not found and could not be downloaded\.\n"
            r"Looked for its four files in:\n"
            r"  \$PYCONV_DATA \(not set\)\n"
            f"  {re.escape(cache)} \\(no such directory\\)\n"
            f"  {re.escape(fm._SYSTEM_DIR)} \\(no such directory\\)\n"
            r"The download failed:\n"
            f"  {re.escape(ZALANDO + TRAIN_IMAGES)}: <urlopen error stub: no route to host>\n"
            f"  {re.escape(KERAS + TRAIN_IMAGES)}: <urlopen error stub: no route to host>\n"
            r"To provide the files, do one of:\n"
            r"  - install Debian's package: sudo apt-get install dataset-fashion-mnist\n"
            f"  - fetch {TRAIN_IMAGES}, {TRAIN_LABELS}, {TEST_IMAGES}, {TEST_LABELS} by hand "
            f"from {re.escape(ZALANDO)} into {re.escape(cache)}, or into any directory and set "
            r"the environment variable PYCONV_DATA to it\n"
            r"  - connect to the internet and call load_data\(\) again$")):
        fm.load_data()
    assert opener.calls == [ZALANDO + TRAIN_IMAGES, KERAS + TRAIN_IMAGES]  # gave up at once
    assert not os.path.exists(cache)

    os.makedirs(tmp_path / "env")
    monkeypatch.setenv("PYCONV_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError, match=f"\n  {re.escape(str(tmp_path / 'env'))} "
                                                f"\\(none of the files\\)\n"):
        fm.load_data()


def test_download(monkeypatch, small, cache, capsys):
    opener = Opener(serve(small))
    monkeypatch.setattr(fm, "_urlopen", opener)
    check_loaded(fm.load_data(), small)
    assert opener.calls == [ZALANDO + name for name in fm._FILES]
    assert sorted(os.listdir(cache)) == sorted(fm._FILES)  # no temporary file left
    for name in fm._FILES:
        with open(os.path.join(cache, name), "rb") as f:
            assert f.read() == opener.files[ZALANDO + name]
    err = capsys.readouterr().err
    size = len(opener.files[ZALANDO + TRAIN_IMAGES]) / 2**10
    assert f"\rDownloading {ZALANDO}{TRAIN_IMAGES}: {size:.1f} of {size:.1f} KiB (100%)\n" in err

    check_loaded(fm.load_data(), small)  # from the cache now
    assert len(opener.calls) == 4


def test_download_falls_back_to_the_second_mirror(monkeypatch, small, cache):
    files = serve(small, base=KERAS)
    files[ZALANDO + TRAIN_IMAGES] = urllib.error.HTTPError(ZALANDO, 503, "busy", {}, None)
    files[ZALANDO + TEST_IMAGES] = b"<html>not found</html>"  # wrong bytes: try the next one
    monkeypatch.setattr(fm, "_urlopen", Opener(files))
    check_loaded(fm.load_data(), small)
    assert sorted(os.listdir(cache)) == sorted(fm._FILES)


def test_download_resumes_an_incomplete_cache(monkeypatch, small, cache):
    write_set(cache, small, names=[TRAIN_IMAGES, TEST_LABELS])
    opener = Opener(serve(small))
    monkeypatch.setattr(fm, "_urlopen", opener)
    check_loaded(fm.load_data(), small)
    assert opener.calls == [ZALANDO + TRAIN_LABELS, ZALANDO + TEST_IMAGES]

    os.remove(os.path.join(cache, TEST_IMAGES))
    monkeypatch.setattr(fm, "_urlopen", Opener({}))
    with pytest.raises(DatasetNotFoundError, match=re.escape(
            f"\n  {cache} (has {TRAIN_IMAGES}, {TRAIN_LABELS}, {TEST_LABELS}; lacks "
            f"{TEST_IMAGES})\n")):
        fm.load_data()


@pytest.mark.parametrize("exc", [ConnectionResetError("stub: reset"), KeyboardInterrupt()],
                         ids=["reset", "ctrl-c"])
def test_interrupted_download_leaves_nothing(monkeypatch, small, cache, exc):
    seen = []

    def look():  # at the moment of the interruption, a temporary file is being written
        seen.append([(f, os.path.getsize(os.path.join(cache, f))) for f in os.listdir(cache)])

    files = {**serve(small), **serve(small, base=KERAS)}
    size = len(files[ZALANDO + TRAIN_IMAGES])
    monkeypatch.setattr(fm, "_urlopen", Opener(files, fail_at=size // 2, exc=exc, on_fail=look))
    if isinstance(exc, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            fm.load_data()
    else:
        with pytest.raises(DatasetNotFoundError, match=f"\n  {re.escape(ZALANDO + TRAIN_IMAGES)}: "
                                                       f"stub: reset\n"):
            fm.load_data()
    [(part, part_size)] = seen[0]
    assert part.startswith(f".{TRAIN_IMAGES}.") and part.endswith(".part")
    assert part_size <= size // 2  # (what is on disk depends on the file's buffering)
    assert os.listdir(cache) == []

    monkeypatch.setattr(fm, "_urlopen", Opener(files))  # the next call starts clean
    check_loaded(fm.load_data(), small)
    assert sorted(os.listdir(cache)) == sorted(fm._FILES)


def test_download_of_wrong_bytes_keeps_nothing(monkeypatch, small, cache):
    other = small_set(1)
    files = {**serve(other), KERAS + TRAIN_IMAGES: b"\x00\x00\x08\x03junk"}
    monkeypatch.setattr(fm, "_urlopen", Opener(files))
    with pytest.raises(ValueError, match=(
            f"^Could not download a good copy of {TRAIN_IMAGES}; nothing was kept in "
            f"{re.escape(cache)}\\.\n"
            f"  {re.escape(ZALANDO + TRAIN_IMAGES)}: Cannot read IDX file "
            f"'{re.escape(ZALANDO + TRAIN_IMAGES)}': SHA-256 mismatch: .*\n"
            f"  {re.escape(KERAS + TRAIN_IMAGES)}: Cannot read IDX file "
            f"'{re.escape(KERAS + TRAIN_IMAGES)}': truncated header: 3 dimensions need 16 "
            f"header bytes, the file ends after 8\\.$")):
        fm.load_data()
    assert os.listdir(cache) == []


# ---------------------------------------------------------------------------------------------
# the real data


@pytest.mark.skipif(not os.path.isdir(REAL_SYSTEM_DIR),
                    reason=f"{REAL_SYSTEM_DIR} is absent (apt-get install dataset-fashion-mnist)")
def test_real_data(monkeypatch):
    monkeypatch.setattr(fm, "_SYSTEM_DIR", REAL_SYSTEM_DIR)
    (x_train, y_train), (x_test, y_test) = fm.load_data()
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8 and a.flags.c_contiguous and a.flags.writeable
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    np.testing.assert_array_equal(y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    np.testing.assert_array_equal(y_test[:10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    assert x_train.min() == 0 and x_train.max() == 255
    result = doctest.testmod(fm, raise_on_error=False)  # the docstring's example loads it too
    assert result.attempted > 0 and result.failed == 0
