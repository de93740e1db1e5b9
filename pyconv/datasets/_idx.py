"""IDX files (the format of MNIST and Fashion-MNIST): read and write, plain or gzip-compressed.

An IDX file is a header and the array's bytes, all big-endian:

    byte 0-1   0x00 0x00
    byte 2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte 3     ndim (1 to 255)
    then       ndim sizes, each a 4-byte unsigned int
    then       prod(sizes) items, row-major, nothing after them

`read_idx` promises: either the array the file holds (native byte order, writable, read straight
into its final buffer: no Python loop over bytes, no second copy of the data), or one ValueError
that names the file and says what is wrong with it. It never returns a prefix of a damaged file.
"""
import gzip as _gzip
import hashlib
import io
import os
import struct
import zlib
from contextlib import nullcontext as _nullcontext

import numpy as np

__all__ = ["read_idx", "write_idx"]

# dtype code -> item type (big-endian on disk). One table serves the reader and the writer.
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}
_CODES_TEXT = ", ".join(f"0x{c:02X} ({dt.newbyteorder('=').name})" for c, dt in _DTYPES.items())

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 22  # read 4 MiB at a time: GzipFile.readinto would otherwise build one bytes object
                  # as large as the whole array before copying it


def read_idx(path_or_fileobj, *, sha256=None):
    """Read an array from an IDX file, plain or gzip-compressed.

    Gzip is recognised by its magic bytes (1f 8b), not by the file's name.

    Args:
        path_or_fileobj: a path (str or os.PathLike), or a binary file object open for reading.
        sha256: optional hex digest that the *decompressed* bytes (header and data) must have.
            Gzip headers differ between copies of the same data, so the compressed bytes are not
            checked.

    Returns:
        A NumPy array in native byte order, with the dtype and shape the header declares.

    Raises:
        ValueError: the file is not a well-formed IDX file (bad magic number, unknown dtype code,
            truncated header or data, bytes after the data), its gzip stream is corrupted, or its
            SHA-256 is not `sha256`. The message names the file and what is wrong.
        TypeError: `path_or_fileobj` is neither a path nor a readable binary file object.
        OSError: the file cannot be opened or read.

    Example:

    >>> import io
    >>> import numpy as np
    >>> buf = io.BytesIO()
    >>> write_idx(buf, np.arange(6, dtype=np.uint8).reshape(2, 3), gzip=True)
    >>> _ = buf.seek(0)
    >>> read_idx(buf)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    if isinstance(path_or_fileobj, (str, bytes, os.PathLike)):
        return _read_path(path_or_fileobj, sha256)
    if not hasattr(path_or_fileobj, "read"):
        raise TypeError(f"`path_or_fileobj` must be a path or a binary file object. "
                        f"Received: path_or_fileobj of type {type(path_or_fileobj).__name__}.")
    f = path_or_fileobj
    return _read(f, str(getattr(f, "name", repr(f))), sha256, size=None)


def _read_path(path, sha256, name=None):
    """read_idx of a path; `name` stands for the file in error messages (default: the path)."""
    with open(path, "rb") as f:
        return _read(f, name or os.fsdecode(path), sha256, size=os.fstat(f.fileno()).st_size)


def _read(raw, name, sha256, size):
    """`raw` positioned at the start of the file; `size` its length in bytes when known."""
    def fail(what):
        return ValueError(f"Cannot read IDX file '{name}': {what}")

    raw = _peekable(raw)
    head = raw.peek(2)[:2]
    if isinstance(head, str):
        raise TypeError(f"`path_or_fileobj` must be opened in binary mode ('rb'). "
                        f"Received: a text file object {name!r}.")
    gz = _gzip.GzipFile(fileobj=raw, mode="rb") if head == _GZIP_MAGIC else None
    if gz is not None:
        size = None  # the decompressed size is known only by decompressing
    digest = hashlib.sha256()
    try:
        with gz or _nullcontext():  # closing the GzipFile leaves `raw` open
            arr = _read_body(gz or raw, size, digest, fail)
    except _gzip.BadGzipFile as e:  # bad header or CRC: raised lazily, while reading
        raise fail(f"corrupted gzip stream ({e}).") from None
    except zlib.error as e:
        raise fail(f"corrupted gzip stream (zlib: {e}).") from None
    except EOFError:
        raise fail("the gzip stream is truncated: it ends before its end-of-stream marker.") \
            from None
    if sha256 is not None and digest.hexdigest() != sha256.lower():
        raise fail(f"SHA-256 mismatch: the decompressed data hashes to {digest.hexdigest()}, "
                   f"expected {sha256.lower()}. The file is corrupted or is not the expected one.")
    if not arr.dtype.isnative:
        arr = arr.byteswap(inplace=True).view(arr.dtype.newbyteorder("="))
    return arr


def _read_body(f, size, digest, fail):
    magic = _read_exact(f, 4)
    if len(magic) < 4:
        raise fail(f"truncated header: the 4-byte magic number is incomplete "
                   f"(the file holds {len(magic)} bytes).")
    if magic[:2] != b"\0\0":
        raise fail(f"not an IDX file: its magic number must start with two zero bytes. "
                   f"Received first 4 bytes: {magic.hex(' ')}.")
    code, ndim = magic[2], magic[3]
    if code not in _DTYPES:
        raise fail(f"unknown dtype code 0x{code:02X} in the magic number; expected one of "
                   f"{_CODES_TEXT}.")
    if ndim == 0:
        raise fail("the header declares 0 dimensions; expected 1 to 255.")
    header_len = 4 + 4 * ndim
    dims = _read_exact(f, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise fail(f"truncated header: {ndim} dimensions need {header_len} header bytes, "
                   f"the file ends after {4 + len(dims)}.")
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = _DTYPES[code]
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize  # exact: no int64 overflow
    declared = (f"the header declares shape {shape} of {dtype.newbyteorder('=').name}, "
                f"{nbytes} data bytes")
    if size is not None and size - header_len != nbytes:
        what = "truncated data" if size - header_len < nbytes else "trailing bytes after the data"
        raise fail(f"{what}: {declared}, the file holds {size - header_len} after its header.")
    digest.update(magic)
    digest.update(dims)

    try:
        arr = np.empty(shape, dtype)
    except (MemoryError, ValueError):
        raise fail(f"{declared}, which cannot be allocated (corrupted header?).") from None
    buf = memoryview(arr.reshape(-1).view(np.uint8))
    got = 0
    while got < nbytes:
        n = f.readinto(buf[got:got + _CHUNK])
        if not n:
            raise fail(f"truncated data: {declared}, the file holds only {got} after its header.")
        got += n
    digest.update(buf)
    extra = 0
    while chunk := f.read(_CHUNK):  # also makes GzipFile check the stream's CRC and length
        extra += len(chunk)
    if extra:
        raise fail(f"trailing bytes after the data: {declared}, the file holds "
                   f"{nbytes + extra} after its header ({extra} too many).")
    return arr


def _read_exact(f, n):
    """Up to `n` bytes: fewer only at the end of the file."""
    parts, got = [], 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def _peekable(f):
    """`f` itself if it can show its first bytes without consuming them, else a stand-in."""
    if hasattr(f, "peek"):
        return f
    if getattr(f, "seekable", lambda: False)():
        return _SeekPeek(f)
    return io.BufferedReader(_RawAdapter(f))


class _SeekPeek:
    """A seekable file object with `peek` (io.BytesIO has none)."""

    def __init__(self, f):
        self._f = f

    def peek(self, n):
        pos = self._f.tell()
        data = self._f.read(n)
        self._f.seek(pos)
        return data

    def __getattr__(self, attr):
        return getattr(self._f, attr)


class _RawAdapter(io.RawIOBase):
    """Lets io.BufferedReader buffer (and so peek into) any object with a `read` method."""

    def __init__(self, f):
        self._f = f

    def readable(self):
        return True

    def readinto(self, b):
        data = self._f.read(len(b))
        b[:len(data)] = data
        return len(data)


def write_idx(path, array, gzip=False):
    """Write an array to an IDX file, plain or gzip-compressed.

    Args:
        path: a path (str or os.PathLike), or a binary file object open for writing.
        array: an array of dtype uint8, int8, int16, int32, float32 or float64 (the types IDX can
            hold) with 1 to 255 dimensions, each smaller than 2**32.
        gzip: compress the file with gzip. The gzip header holds no time stamp and no name, so
            the same array always gives the same bytes.

    Raises:
        TypeError: `array`'s dtype is not one of the six above.
        ValueError: `array` has 0 or more than 255 dimensions, or a dimension of 2**32 or more.

    Example:

    >>> import io
    >>> import numpy as np
    >>> buf = io.BytesIO()
    >>> write_idx(buf, np.array([1, -2], dtype=np.int16))
    >>> buf.getvalue().hex(" ")
    '00 00 0b 01 00 00 00 02 00 01 ff fe'
    """
    arr = np.asarray(array)
    code = _CODES.get(arr.dtype.newbyteorder("=")) if arr.dtype.kind in "uif" else None
    if code is None:
        raise TypeError(f"`array` must have dtype uint8, int8, int16, int32, float32 or float64 "
                        f"(the types IDX can hold). Received: dtype={arr.dtype}.")
    if not 1 <= arr.ndim <= 255 or max(arr.shape) >= 2**32:
        raise ValueError(f"`array` must have 1 to 255 dimensions, each smaller than 2**32. "
                         f"Received: array.shape={arr.shape}.")
    header = bytes((0, 0, code, arr.ndim)) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = np.ascontiguousarray(arr, dtype=_DTYPES[code])  # a copy only to swap bytes
    if isinstance(path, (str, bytes, os.PathLike)):
        with open(path, "wb") as f:
            _write(f, header, data, gzip)
    elif hasattr(path, "write"):
        _write(path, header, data, gzip)
    else:
        raise TypeError(f"`path` must be a path or a binary file object. "
                        f"Received: path of type {type(path).__name__}.")


def _write(f, header, data, compress):
    if compress:
        with _gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=6, mtime=0) as gz:
            _write(gz, header, data, False)
        return
    f.write(header)
    f.write(memoryview(data.reshape(-1).view(np.uint8)))
