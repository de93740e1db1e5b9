"""pyconv.datasets: mnist, cifar10 and cifar100 (and the search and download they share with
fashion_mnist, pyconv/datasets/_store.py).

The tests write their own small files in the official formats (an .npz like Keras's mnist.npz;
.tar.gz archives with the official member names and fixed-size records) and replace the
checksum tables with the checksums of those files. Downloads are real HTTP requests to a server
on 127.0.0.1 that the tests start; the autouse fixture points HOME, $PYCONV_DATA and the system
directories into tmp_path, and replaces every module's URL opener with one that fails the test,
so that no test touches the network or the real home directory. Only test_real_data reads real
files, when they are present.
"""
import doctest
import hashlib
import http.server
import io
import os
import re
import socket
import tarfile
import threading
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest

import pyconv
from pyconv import datasets
from pyconv.datasets import DatasetNotFoundError, _store, cifar10, cifar100, mnist

MODULES = {"mnist": mnist, "cifar-10": cifar10, "cifar-100": cifar100}
# Where the real files would be, looked up before any fixture changes HOME.
REAL = {name: [d for d in ([os.environ["PYCONV_DATA"]] if os.environ.get("PYCONV_DATA") else [])
               + [_store.cache_dir(name), m._SYSTEM_DIR]
               if os.path.isfile(os.path.join(d, (m._FILE if m is mnist else m._ARCHIVE)))]
        for name, m in MODULES.items()}
C10 = "cifar-10-binary.tar.gz"
C100 = "cifar-100-binary.tar.gz"
TORONTO = "https://www.cs.toronto.edu/~kriz/"


# ---------------------------------------------------------------------------------------------
# fixtures and helpers


def no_network(url, timeout=None):
    pytest.fail(f"a test tried to open {url}")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """HOME, $PYCONV_DATA and the system directories inside tmp_path; no network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PYCONV_DATA", raising=False)
    for name, module in MODULES.items():
        monkeypatch.setattr(module, "_SYSTEM_DIR", str(tmp_path / "system" / name))
        monkeypatch.setattr(module, "_urlopen", no_network)


def cache(name):
    return _store.cache_dir(name)  # inside tmp_path: HOME is patched


def install(monkeypatch, module, name, data):
    """Make `data` the official `name` of `module`: its SHA-256 and size in the tables."""
    monkeypatch.setattr(module, "_SHA256", {name: hashlib.sha256(data).hexdigest()})
    monkeypatch.setattr(module, "_SIZE", {name: len(data)})
    return data


def put(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
    return str(directory)


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 serving `files` (path -> bytes), logging each request."""
    files, requests = {}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            requests.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404, "not here")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(base=f"http://127.0.0.1:{httpd.server_address[1]}/", files=files,
                          requests=requests)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def real_opener():
    """urllib's opener without proxies (a proxy set in the environment must not see 127.0.0.1)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({})).open


def serve_from(monkeypatch, module, server):
    monkeypatch.setattr(module, "_URLS", (server.base,))
    monkeypatch.setattr(module, "_urlopen", real_opener())


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there now: connection refused


# ---- MNIST in miniature: Keras's mnist.npz layout, 6 train and 3 test images of 4x4 ----------


def mnist_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
            "y_train": rng.integers(0, 10, 6, dtype=np.uint8),
            "x_test": rng.integers(0, 256, (3, 4, 4), dtype=np.uint8),
            "y_test": rng.integers(0, 10, 3, dtype=np.uint8)}


def npz_bytes(arrays, **kwargs):
    buf = io.BytesIO()
    np.savez(buf, **arrays, **kwargs)
    return buf.getvalue()


def check_mnist(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, key in zip((x_train, y_train, x_test, y_test), mnist._KEYS):
        np.testing.assert_array_equal(got, arrays[key])
        assert got.dtype == np.uint8 and got.flags.c_contiguous and got.flags.writeable


# ---- CIFAR in miniature: the official binary layout, fewer records ---------------------------

C10_RECORDS = {"data_batch_1.bin": 2, "data_batch_2.bin": 1, "data_batch_3.bin": 2,
               "data_batch_4.bin": 1, "data_batch_5.bin": 2, "test_batch.bin": 3}
C100_RECORDS = {"train.bin": 5, "test.bin": 2}


def records(images, *label_columns):
    """Binary CIFAR records: label bytes, then the red, green and blue 32x32 planes."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # NHWC -> N, 3*32*32
    return np.concatenate([np.stack(label_columns, 1).astype(np.uint8), planes], 1).tobytes()


def tar_gz(members, fmt=tarfile.GNU_FORMAT):
    """A .tar.gz of `members`: (name, bytes) for regular files, or a ready TarInfo and None."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as tar:
        for name, data in members:
            if isinstance(name, tarfile.TarInfo):
                tar.addfile(name)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def directory_entry(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def cifar10_set(seed=0, label_top=10):
    """(archive members, x_train, y_train, x_test, y_test) of a small CIFAR-10."""
    rng = np.random.default_rng(seed)
    members, xs, ys = [(directory_entry("cifar-10-batches-bin"), None)], {}, {}
    for name, n in C10_RECORDS.items():
        xs[name] = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        ys[name] = rng.integers(0, label_top, n, dtype=np.uint8)
        members.append(("cifar-10-batches-bin/" + name, records(xs[name], ys[name])))
    members += [("cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\n"),
                ("cifar-10-batches-bin/readme.html", b"<html></html>")]
    train = cifar10._TRAIN
    return (members, np.concatenate([xs[n] for n in train]),
            np.concatenate([ys[n] for n in train])[:, None], xs["test_batch.bin"],
            ys["test_batch.bin"][:, None])


@pytest.fixture
def c10(monkeypatch):
    """A small CIFAR-10 archive whose checksum and record counts stand in for the official."""
    monkeypatch.setattr(cifar10, "_RECORDS", dict(C10_RECORDS))
    members, *arrays = cifar10_set()
    data = install(monkeypatch, cifar10, C10, tar_gz(members))
    return SimpleNamespace(data=data, members=members, arrays=arrays)


def check_cifar(result, arrays, label_dtype):
    (x_train, y_train), (x_test, y_test) = result
    for got, want in zip((x_train, y_train, x_test, y_test), arrays):
        np.testing.assert_array_equal(got, want)
        assert got.flags.c_contiguous and got.flags.writeable
    assert x_train.dtype == x_test.dtype == np.uint8
    assert y_train.dtype == y_test.dtype == label_dtype
    assert x_train.shape[1:] == (32, 32, 3) and y_train.shape == (len(x_train), 1)


# ---------------------------------------------------------------------------------------------
# the tables


def test_public_names():
    import pyconv as keras
    assert keras.datasets.mnist.load_data is mnist.load_data
    assert keras.datasets.cifar10.load_data is cifar10.load_data
    assert keras.datasets.cifar100.load_data is cifar100.load_data
    assert {"mnist", "fashion_mnist", "cifar10", "cifar100"} <= set(datasets.__all__)
    # the classes of Keras's cifar10 docstring, label 0 to 9
    assert cifar10.class_names == ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                   "frog", "horse", "ship", "truck")
    assert pyconv.datasets is datasets


def test_official_tables():
    # mnist.npz: `file_hash=` in keras/src/datasets/mnist.py (Keras 3.15.1); 11,490,434 bytes as
    # Keras's download reports it.
    assert mnist._SHA256 == {"mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"}  # noqa: E501
    assert mnist._SIZE == {"mnist.npz": 11490434}
    assert mnist._URLS == ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",)
    # The binary archives (Keras reads the pickled ones): SHA-256 and size from TensorFlow
    # Datasets' tensorflow_datasets/url_checksums/cifar10.txt and cifar100.txt; the home page
    # publishes their MD5s (c32a1d4ab5d03f1284b67883e8d87530, 03b5dce01913d631647c71ecec9e9cb8).
    assert cifar10._SHA256 == {C10: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"}  # noqa: E501
    assert cifar10._SIZE == {C10: 170052171}
    assert cifar100._SHA256 == {C100: "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"}  # noqa: E501
    assert cifar100._SIZE == {C100: 168513733}
    assert cifar10._URLS == cifar100._URLS == (TORONTO,)
    # The binary layout (cs.toronto.edu/~kriz/cifar.html): members and record sizes
    assert [cifar10._PREFIX + n for n in cifar10._TRAIN + cifar10._TEST] == \
        [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)] + \
        ["cifar-10-batches-bin/test_batch.bin"]
    assert cifar10._RECORDS == dict.fromkeys(cifar10._TRAIN + cifar10._TEST, 10000)
    assert cifar10._RECORD_LEN == 3073 and cifar100._RECORD_LEN == 3074
    assert [cifar100._PREFIX + n for n in cifar100._TRAIN + cifar100._TEST] == \
        ["cifar-100-binary/train.bin", "cifar-100-binary/test.bin"]
    assert cifar100._RECORDS == {"train.bin": 50000, "test.bin": 10000}
    assert cifar100._LABELS == {"coarse": (0, 20), "fine": (1, 100)}


def test_directories(tmp_path):
    # Debian (bookworm) ships only dataset-fashion-mnist: `apt-cache search mnist` and
    # `apt-cache search cifar` list nothing else. The same /usr/share/datasets/<name> layout is
    # still searched, for files an administrator puts there.
    for name, module in MODULES.items():
        src = module._source()
        assert src.cache == str(tmp_path / "home" / ".pyconv" / "datasets" / name)
        assert src.debian_package is None
    assert mnist._source().files == ("mnist.npz",)
    assert cifar10._source().files == (C10,) and cifar100._source().files == (C100,)


# ---------------------------------------------------------------------------------------------
# MNIST


def test_mnist_search_order(tmp_path, monkeypatch):
    arrays = {name: mnist_arrays(seed) for name, seed in (("env", 1), ("cache", 2), ("sys", 3))}
    data = {name: npz_bytes(a) for name, a in arrays.items()}
    env = put(tmp_path / "env", "mnist.npz", data["env"])
    put(cache("mnist"), "mnist.npz", data["cache"])
    put(mnist._SYSTEM_DIR, "mnist.npz", data["sys"])
    monkeypatch.setenv("PYCONV_DATA", env)
    for name in ("env", "cache", "sys"):
        install(monkeypatch, mnist, "mnist.npz", data[name])
        check_mnist(mnist.load_data(), arrays[name])
        os.remove(os.path.join({"env": env, "cache": cache("mnist")}.get(name, mnist._SYSTEM_DIR),
                               "mnist.npz"))
    # an explicit directory is the only place looked in
    mine = put(tmp_path / "mine", "mnist.npz", data["env"])
    install(monkeypatch, mnist, "mnist.npz", data["env"])
    check_mnist(mnist.load_data(path=mine), arrays["env"])
    check_mnist(mnist.load_data(path=os.path.join(mine, "mnist.npz")), arrays["env"])  # the file
    with pytest.raises(DatasetNotFoundError, match=re.escape(
            f"MNIST is not in {tmp_path / 'nowhere'}: it lacks mnist.npz (get it from "
            f"https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz).")):
        mnist.load_data(path=tmp_path / "nowhere")
    # Keras's default argument path="mnist.npz" (a name in ~/.keras/datasets) searches as usual
    monkeypatch.chdir(tmp_path)
    put(cache("mnist"), "mnist.npz", data["env"])
    check_mnist(mnist.load_data("mnist.npz"), arrays["env"])


def test_one_pyconv_data_directory_for_every_data_set(tmp_path, monkeypatch, c10):
    arrays = mnist_arrays()
    install(monkeypatch, mnist, "mnist.npz", npz_bytes(arrays))
    shared = put(tmp_path / "shared", "mnist.npz", npz_bytes(arrays))
    put(shared, C10, c10.data)
    monkeypatch.setenv("PYCONV_DATA", shared)
    check_mnist(mnist.load_data(), arrays)
    check_cifar(cifar10.load_data(), c10.arrays, np.uint8)


def test_mnist_download(monkeypatch, server, capsys):
    arrays = mnist_arrays()
    data = install(monkeypatch, mnist, "mnist.npz", npz_bytes(arrays))
    server.files["/mnist.npz"] = data
    serve_from(monkeypatch, mnist, server)
    check_mnist(mnist.load_data(), arrays)
    assert server.requests == ["/mnist.npz"]
    assert os.listdir(cache("mnist")) == ["mnist.npz"]  # no temporary file left
    with open(os.path.join(cache("mnist"), "mnist.npz"), "rb") as f:
        assert f.read() == data
    size = len(data) / 2**10
    assert (f"\rDownloading {server.base}mnist.npz: {size:.1f} of {size:.1f} KiB (100%)\n"
            in capsys.readouterr().err)
    check_mnist(mnist.load_data(), arrays)  # from the cache now
    assert server.requests == ["/mnist.npz"]


def test_mnist_download_checksum_failure_keeps_nothing(monkeypatch, server):
    data = install(monkeypatch, mnist, "mnist.npz", npz_bytes(mnist_arrays()))
    server.files["/mnist.npz"] = data[:-1] + bytes([data[-1] ^ 1])  # same size, one bit off
    serve_from(monkeypatch, mnist, server)
    good = hashlib.sha256(data).hexdigest()
    with pytest.raises(ValueError, match=(
            rf"^Could not download a good copy of mnist\.npz; nothing was kept in "
            rf"{re.escape(cache('mnist'))}\.\n"
            rf"  {re.escape(server.base)}mnist\.npz: Cannot read '{re.escape(server.base)}"
            rf"mnist\.npz': SHA-256 mismatch: the file hashes to [0-9a-f]{{64}}, expected {good}\. "
            rf"The file is corrupted or is not the expected one\.$")):
        mnist.load_data()
    assert os.listdir(cache("mnist")) == []
    server.files["/mnist.npz"] = data[:100]  # a truncated answer: named by its size
    with pytest.raises(ValueError, match=rf"mnist\.npz': it holds 100 bytes, expected "
                                         rf"{len(data)} \(it is truncated\)\.$"):
        mnist.load_data()
    assert os.listdir(cache("mnist")) == []


def test_mnist_offline_error(tmp_path, monkeypatch):
    url = closed_port_url()
    monkeypatch.setattr(mnist, "_URLS", (url,))
    monkeypatch.setattr(mnist, "_urlopen", real_opener())
    os.makedirs(mnist._SYSTEM_DIR)
    with pytest.raises(DatasetNotFoundError, match=(
            r"^MNIST was not found and could not be downloaded\.\n"
            r"Looked for mnist\.npz in:\n"
            r"  \$PYCONV_DATA \(not set\)\n"
            rf"  {re.escape(cache('mnist'))} \(no such directory\)\n"
            rf"  {re.escape(mnist._SYSTEM_DIR)} \(not there\)\n"
            r"The download failed:\n"
            rf"  {re.escape(url)}mnist\.npz: <urlopen error \[Errno \d+\] Connection refused>\n"
            r"To provide the file, do one of:\n"
            rf"  - fetch mnist\.npz by hand from {re.escape(url)} into "
            rf"{re.escape(cache('mnist'))}, or into any directory and set the environment "
            r"variable PYCONV_DATA to it\n"
            r"  - connect to the internet and call load_data\(\) again$")):
        mnist.load_data()
    assert not os.path.exists(cache("mnist"))


def test_mnist_damaged_cache_file(monkeypatch):
    data = install(monkeypatch, mnist, "mnist.npz", npz_bytes(mnist_arrays()))
    path = os.path.join(put(cache("mnist"), "mnist.npz", data[:-10]), "mnist.npz")
    with pytest.raises(ValueError, match=(
            rf"^Cannot read '{re.escape(path)}': it holds {len(data) - 10} bytes, expected "
            rf"{len(data)} \(it is truncated\)\. MNIST cannot be loaded from "
            rf"{re.escape(cache('mnist'))}: delete it to have it downloaded again\.$")):
        mnist.load_data()


def _npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


HOSTILE_NPZ = {  # what the file holds -> what the message says
    "pickled objects": (npz_bytes({**mnist_arrays(), "y_test": np.array([{"a": 1}], object)}),
                        r"not a readable \.npz archive \(Object arrays cannot be loaded when "
                        r"allow_pickle=False\)\."),
    "a missing array": (npz_bytes({k: v for k, v in mnist_arrays().items() if k != "y_test"}),
                        r"it lacks the array y_test \(it holds x_train, y_train, x_test\)\."),
    "int64 labels": (npz_bytes({**mnist_arrays(), "y_train": np.zeros(6, np.int64)}),
                     r"x_train and y_train must be uint8 images \(n, height, width\) and n uint8 "
                     r"labels\. Received: x_train of uint8 \(6, 4, 4\), y_train of int64 \(6,\)\."),
    "fewer labels": (npz_bytes({**mnist_arrays(), "y_test": np.zeros(2, np.uint8)}),
                     r"x_test and y_test must be uint8 images \(n, height, width\) and n uint8 "
                     r"labels\. Received: x_test of uint8 \(3, 4, 4\), y_test of uint8 \(2,\)\."),
    "an .npy file": (_npy_bytes(np.zeros(3, np.uint8)),
                     r"it is a \.npy file, not an \.npz archive of x_train, y_train, x_test and "
                     r"y_test\."),
    "a broken zip": (npz_bytes(mnist_arrays())[:-60],
                     r"not a readable \.npz archive \(File is not a zip file\)\."),
    # NumPy's words for "this would need unpickling" change between versions
    "not a zip": (b"hello" * 10, r"not a readable \.npz archive \(.*pickle.*\)\."),
}


@pytest.mark.parametrize("case", list(HOSTILE_NPZ))
def test_mnist_hostile_npz(tmp_path, monkeypatch, case):
    data, message = HOSTILE_NPZ[case]
    install(monkeypatch, mnist, "mnist.npz", data)  # its checksum passes: the reader must hold
    d = put(tmp_path / "d", "mnist.npz", data)
    path = os.path.join(d, "mnist.npz")
    with pytest.raises(ValueError, match=(
            rf"^Cannot read '{re.escape(path)}': {message} MNIST cannot be loaded from "
            rf"{re.escape(d)}: replace it with a good copy from "
            rf"https://storage\.googleapis\.com/tensorflow/tf-keras-datasets/mnist\.npz\.$")):
        mnist.load_data(path=d)


# ---------------------------------------------------------------------------------------------
# CIFAR-10 and CIFAR-100


def test_cifar10_layout(tmp_path, c10):
    d = put(tmp_path / "d", C10, c10.data)
    result = cifar10.load_data(path=d)
    check_cifar(cifar10.load_data(path=os.path.join(d, C10)), c10.arrays, np.uint8)  # the file
    # Keras 3.15.1 (k5.py, its loader over pickles in the official layout): x uint8
    # (N, 32, 32, 3), y uint8 (N, 1). (Keras's x is a transposed view, not C-contiguous;
    # pyconv's is contiguous.)
    check_cifar(result, c10.arrays, np.uint8)
    (x_train, _), _ = result
    # record 0 of data_batch_1: its first 1024 pixel bytes are the red plane, row-major
    first = records(c10.arrays[0][:1], c10.arrays[1][:1, 0])
    assert x_train[0, 0, 1, 0] == first[2] and x_train[0, 1, 0, 0] == first[1 + 32]
    assert x_train[0, 0, 0, 1] == first[1 + 1024] and x_train[0, 0, 0, 2] == first[1 + 2048]
    written = [os.path.join(r, f) for r, _, fs in os.walk(tmp_path) for f in fs]
    assert written == [os.path.join(d, C10)]  # read in place: nothing extracted


def cifar100_set(seed=0, coarse_top=20, fine_top=100):
    rng = np.random.default_rng(seed)
    members, out = [(directory_entry("cifar-100-binary"), None)], []
    for name in ("train.bin", "test.bin"):
        n = C100_RECORDS[name]
        x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        coarse = rng.integers(0, coarse_top, n, dtype=np.uint8)
        fine = rng.integers(0, fine_top, n, dtype=np.uint8)
        members.append(("cifar-100-binary/" + name, records(x, coarse, fine)))
        out.append((x, coarse, fine))
    members += [("cifar-100-binary/coarse_label_names.txt", b"aquatic_mammals\n"),
                ("cifar-100-binary/fine_label_names.txt", b"apple\n")]
    return members, out


def test_cifar100_label_modes(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar100, "_RECORDS", dict(C100_RECORDS))
    members, ((x, coarse, fine), (xt, coarse_t, fine_t)) = cifar100_set()
    d = put(tmp_path / "d", C100, install(monkeypatch, cifar100, C100, tar_gz(members)))
    # Keras 3.15.1 (k5.py): x uint8 (N, 32, 32, 3); y int64 (N, 1) for "fine" and "coarse"
    # (its pickles hold the labels as Python lists, which np.reshape makes int64)
    check_cifar(cifar100.load_data(path=d), (x, fine[:, None], xt, fine_t[:, None]), np.int64)
    check_cifar(cifar100.load_data(label_mode="coarse", path=d),
                (x, coarse[:, None], xt, coarse_t[:, None]), np.int64)
    # Keras 3.15.1: ValueError '`label_mode` must be one of `"fine"`, `"coarse"`. Received:
    # label_mode=medium.'
    with pytest.raises(ValueError, match=r'^`label_mode` must be one of "fine", "coarse"\. '
                                         r"Received: label_mode='medium'\.$"):
        cifar100.load_data("medium", path=d)
    with pytest.raises(ValueError, match=r"Received: label_mode=\['fine'\]\.$"):
        cifar100.load_data(["fine"])


def test_cifar_search_order(tmp_path, monkeypatch, c10):
    other = bytearray(c10.data)
    other[100] ^= 1  # the same size, another SHA-256
    put(cache("cifar-10"), C10, c10.data)
    put(cifar10._SYSTEM_DIR, C10, bytes(other))  # later in the order: not read
    check_cifar(cifar10.load_data(), c10.arrays, np.uint8)
    os.remove(os.path.join(cache("cifar-10"), C10))
    with pytest.raises(ValueError, match=rf"SHA-256 mismatch: .* CIFAR-10 cannot be loaded from "
                                         rf"{re.escape(cifar10._SYSTEM_DIR)}: replace it with a "
                                         rf"good copy from {re.escape(TORONTO + C10)}\.$"):
        cifar10.load_data()


def test_cifar_download(monkeypatch, server, c10, capsys):
    server.files["/" + C10] = c10.data
    serve_from(monkeypatch, cifar10, server)
    check_cifar(cifar10.load_data(), c10.arrays, np.uint8)
    assert server.requests == ["/" + C10] and os.listdir(cache("cifar-10")) == [C10]
    assert f"Downloading {server.base}{C10}: " in capsys.readouterr().err
    check_cifar(cifar10.load_data(), c10.arrays, np.uint8)
    assert len(server.requests) == 1


def test_cifar_download_checksum_failure_keeps_nothing(monkeypatch, server, c10):
    bad = bytearray(c10.data)
    bad[len(bad) // 2] ^= 0xFF
    server.files["/" + C10] = bytes(bad)
    serve_from(monkeypatch, cifar10, server)
    with pytest.raises(ValueError, match=(
            rf"^Could not download a good copy of {re.escape(C10)}; nothing was kept in "
            rf"{re.escape(cache('cifar-10'))}\.\n  {re.escape(server.base + C10)}: Cannot read "
            rf"'{re.escape(server.base + C10)}': SHA-256 mismatch: ")):
        cifar10.load_data()
    assert os.listdir(cache("cifar-10")) == []
    del server.files["/" + C10]  # a 404 is a failed download, not a damaged file
    with pytest.raises(DatasetNotFoundError, match=rf"\n  {re.escape(server.base + C10)}: HTTP "
                                                   rf"Error 404: not here\n"):
        cifar10.load_data()


def test_cifar100_offline_error(monkeypatch):
    url = closed_port_url()
    monkeypatch.setattr(cifar100, "_URLS", (url,))
    monkeypatch.setattr(cifar100, "_urlopen", real_opener())
    with pytest.raises(DatasetNotFoundError, match=(
            r"^CIFAR-100 was not found and could not be downloaded\.\n"
            r"Looked for cifar-100-binary\.tar\.gz in:\n"
            r"  \$PYCONV_DATA \(not set\)\n"
            rf"  {re.escape(cache('cifar-100'))} \(no such directory\)\n"
            rf"  {re.escape(cifar100._SYSTEM_DIR)} \(no such directory\)\n"
            r"The download failed:\n"
            rf"  {re.escape(url + C100)}: <urlopen error \[Errno \d+\] Connection refused>\n"
            r"To provide the file, do one of:\n"
            rf"  - fetch cifar-100-binary\.tar\.gz by hand from {re.escape(url)} into "
            rf"{re.escape(cache('cifar-100'))}, or into any directory and set the environment "
            r"variable PYCONV_DATA to it\n"
            r"  - connect to the internet and call load_data\(\) again$")):
        cifar100.load_data()


def _symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def _hostile(case):
    """(archive bytes, message) for a CIFAR-10 archive that is wrong in one way."""
    members = cifar10_set()[0]
    batch1 = "cifar-10-batches-bin/data_batch_1.bin"
    one = dict(members[1:])[batch1]
    replace = {
        "path traversal": [("../../evil.bin", b"x" * 10)],
        "absolute name": [("/tmp/evil.bin", b"x")],
        "oversize member": [(batch1, one + one[:3073])],
        "wrong record size": [(batch1, one[:-1])],
        "symbolic link": [(_symlink(batch1, "/etc/passwd"), None)],
        "repeated member": [(batch1, one)],
        "large unexpected member": [("cifar-10-batches-bin/readme.html", bytes((1 << 20) + 1))],
        "label out of range": None,
        "missing member": None,
        "many members": [(f"cifar-10-batches-bin/extra{i}.txt", b"x") for i in range(60)],
    }[case]
    if case == "missing member":
        members = [m for m in members if m[0] != "cifar-10-batches-bin/test_batch.bin"]
    elif case == "label out of range":  # the first test record says label 10
        members = [(n, bytes([10]) + data[1:] if str(n).endswith("test_batch.bin") else data)
                   for n, data in members]
    elif case in ("symbolic link", "oversize member", "wrong record size"):
        members = [m for m in members if m[0] != batch1] + replace
    else:
        members = members + replace
    message = {
        "path traversal": r"member name '\.\./\.\./evil\.bin' points outside the archive "
                          r"\(absolute or with '\.\.'\): a hostile archive\.",
        "absolute name": r"member name '/tmp/evil\.bin' points outside the archive",
        "oversize member": rf"member '{batch1}' holds 9219 bytes; expected 2 records of 3073 "
                           rf"bytes \(6146 bytes\)\.",
        "wrong record size": rf"member '{batch1}' holds 6145 bytes; expected 2 records of 3073 "
                             rf"bytes \(6146 bytes\)\.",
        "symbolic link": rf"member '{batch1}' must be a regular file; it is a symbolic link to "
                         rf"'/etc/passwd'\.",
        "repeated member": rf"member '{batch1}' appears twice\.",
        "large unexpected member": r"unexpected member 'cifar-10-batches-bin/readme\.html' of "
                                   r"1048577 bytes \(the official archive's other members are "
                                   r"small\)\.",
        "label out of range": r"member 'cifar-10-batches-bin/test_batch\.bin' holds label 10; "
                              r"labels must be 0 to 9\.",
        "missing member": r"it lacks the member cifar-10-batches-bin/test_batch\.bin\.",
        "many members": r"more than 64 members \(the official archive has fewer than ten\)\.",
    }[case]
    return tar_gz(members), message


NOT_ARCHIVES = {
    "plain tar": (lambda data: __import__("gzip").decompress(data),
                  r"not a readable \.tar\.gz archive \(ReadError: "),
    "garbage": (lambda data: b"\x1f\x8b" + b"\x00" * 100, r"not a readable \.tar\.gz archive"),
    "truncated": (lambda data: data[: len(data) // 2], r"not a readable \.tar\.gz archive|ends "
                                                       r"after"),
}


@pytest.mark.parametrize("case", ["path traversal", "absolute name", "oversize member",
                                  "wrong record size", "symbolic link", "repeated member",
                                  "large unexpected member", "label out of range",
                                  "missing member", "many members"] + list(NOT_ARCHIVES))
def test_cifar_hostile_archives(tmp_path, monkeypatch, case):
    monkeypatch.setattr(cifar10, "_RECORDS", dict(C10_RECORDS))
    if case in NOT_ARCHIVES:
        make, message = NOT_ARCHIVES[case]
        data = make(tar_gz(cifar10_set()[0]))
    else:
        data, message = _hostile(case)
    install(monkeypatch, cifar10, C10, data)  # its checksum passes: the reader must hold
    d = put(tmp_path / "work" / "d", C10, data)
    path = os.path.join(d, C10)
    with pytest.raises(ValueError, match=(
            rf"^Cannot read CIFAR archive '{re.escape(path)}': ({message}).* CIFAR-10 cannot be "
            rf"loaded from {re.escape(d)}: replace it with a good copy from "
            rf"{re.escape(TORONTO + C10)}\.$")):
        cifar10.load_data(path=d)
    # nothing was written anywhere: not next to the archive, not where '..' would lead
    written = [os.path.join(r, f) for r, _, fs in os.walk(tmp_path) for f in fs]
    assert written == [path]


# ---------------------------------------------------------------------------------------------
# the real data, when it is there


@pytest.mark.parametrize("name", list(MODULES))
def test_real_data(name, monkeypatch):
    if not REAL[name]:
        pytest.skip(f"the real {name} file is absent ($PYCONV_DATA, "
                    f"~/.pyconv/datasets/{name}, /usr/share/datasets/{name})")
    module = MODULES[name]
    (x_train, y_train), (x_test, y_test) = module.load_data(path=REAL[name][0])
    if module is mnist:
        assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
        assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
        assert x_train.dtype == y_train.dtype == np.uint8
        assert set(np.unique(y_test).tolist()) == set(range(10))
    else:
        assert x_train.shape == (50000, 32, 32, 3) and y_train.shape == (50000, 1)
        assert x_test.shape == (10000, 32, 32, 3) and y_test.shape == (10000, 1)
        # the home page: 1000 test images per class (CIFAR-10), 100 per fine class (CIFAR-100)
        classes = 10 if module is cifar10 else 100
        np.testing.assert_array_equal(np.bincount(y_test.ravel(), minlength=classes),
                                      [10000 // classes] * classes)
        assert x_train.dtype == np.uint8 and x_train.flags.c_contiguous
    monkeypatch.setenv("PYCONV_DATA", REAL[name][0])  # the docstring's example loads it too
    result = doctest.testmod(module, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0
