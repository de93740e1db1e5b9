"""pyconv's file format for models and weights (no pickle, no code executed on load).

A file is a ZIP archive in NumPy's .npz layout (written by `np.savez`, read by `np.load` with
`allow_pickle=False`), whatever its extension. It holds:

    header      uint8 array: UTF-8 JSON, the description below
    w0, w1, ... float32 arrays: the model's weights, in `model.weights` order
    o0, o1, ... float32 arrays: the optimizer's state arrays (slot by slot), if saved

The JSON header:

    {"format": "pyconv", "format_version": 1, "pyconv_version": "0.1.0",
     "kind": "model" | "weights",
     "model": {"class_name": "Sequential", "config": {"name", "build_input_shape", "layers": [
                {"class_name": "Conv2D", "config": {...}}, ...]}},
     "weights": [{"layer": "conv2d", "name": "kernel", "shape": [3, 3, 1, 32]}, ...],
     "compile": null | {"optimizer": {"class_name", "config"}, "loss": {...}, "metrics": [...]},
     "optimizer_state": null | {"iterations": 1875, "count": 20}}

Every array is checked against the header (names, shapes, dtype) before anything is copied
into a model, and the ZIP members carry CRC-32 checksums, so a truncated or damaged file is
refused with an error naming the file and the problem. A header whose `format_version` is
newer than FORMAT_VERSION is refused. A Lambda layer's function (code) is never stored: its
config says so, and `load_model` needs the function through `custom_objects`.

Writes are atomic: the archive goes to a temporary file in the destination's directory, is
flushed and fsync'ed, then renamed over the destination (os.replace), so a crash mid-write
leaves the previous file intact.
"""
import json
import math
import os
import tempfile
import zipfile

import numpy as np

from . import _validate

FORMAT = "pyconv"
FORMAT_VERSION = 1


class FileFormatError(ValueError):
    """A file that pyconv cannot load (a ValueError)."""


MAX_HEADER_BYTES = 64 * 2**20   # a header is a few KB; more is a hostile file
_NPY_SLACK = 4096               # an .npy member is its array's bytes plus a small header


def _target(path):
    """Where a save to `path` writes: through a symbolic link to the file it names (the link
    stays a link), as `open(path, "w")` would."""
    return os.path.realpath(path) if os.path.islink(path) else path


def write_atomic(path, arrays):
    """Write `arrays` (name -> ndarray) as an .npz archive at `path`, atomically."""
    write_file_atomic(path, lambda f: np.savez(f, **arrays))


def write_file_atomic(path, write):
    """Call `write(f)` on a temporary file beside `path`, then make it `path`, atomically.

    The temporary file is flushed and fsync'ed, then renamed over the destination (os.replace),
    so a crash or an exception mid-write leaves the previous file intact and nothing behind.
    The file gets the mode a new file gets under the umask (or keeps an existing file's mode),
    and a symbolic link is written through, not replaced."""
    path = _validate.filepath(path)
    target = _target(path)
    d = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(d):
        raise FileNotFoundError(f"Cannot save to '{path}': the directory '{d}' does not exist.")
    if os.path.isdir(target):
        raise IsADirectoryError(f"Cannot save to '{path}': it is a directory.")
    try:
        mode = os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    # a short temporary name: the destination's own name may already be as long as allowed
    fd, tmp = tempfile.mkstemp(prefix=".pyconv-", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (best effort: not every platform can fsync a directory)
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _header_array(header):
    return np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)


def save(path, header, weights, opt_vars=None):
    arrays = {"header": _header_array(header)}
    for i, w in enumerate(weights):
        arrays[f"w{i}"] = np.asarray(w, dtype=np.float32, order="C")  # 0-d stays 0-d
    for i, a in enumerate(opt_vars or ()):
        arrays[f"o{i}"] = np.asarray(a, dtype=np.float32, order="C")
    write_atomic(path, arrays)


def load(path):
    """(header, weights, optimizer arrays) from a pyconv file, every part checked.

    Every size is checked before anything is decompressed or allocated: the header's member at
    most MAX_HEADER_BYTES, each array's member the size its shape in the header implies. Any
    failure to parse the file, whatever its cause, is a FileFormatError naming the file.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError (ValueError): not a pyconv file, truncated, corrupted, hostile, or newer.
    """
    path = _validate.filepath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: '{path}'.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot load '{path}': it is a directory, not a pyconv file.")

    def bad(problem):
        return FileFormatError(f"Cannot load '{path}': {problem}")

    try:
        with open(path, "rb") as f:
            if f.read(6) == b"\x93NUMPY":
                raise bad("not a pyconv file (a single .npy array, not an archive).")
        with zipfile.ZipFile(path) as z:
            members = {(n[:-4] if n.endswith(".npy") else n): info
                       for n, info in check_members(z, bad).items()}

            def read(key, max_bytes, what):
                with open_member(z, members.get(key), max_bytes, what, bad) as f:
                    return np.lib.format.read_array(f, allow_pickle=False)

            if "header" not in members:
                raise bad("not a pyconv file (no header).")
            raw = read("header", MAX_HEADER_BYTES, "the header")
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise bad("not a pyconv file (unknown header).")
            try:
                header = json.loads(bytes(raw).decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                raise bad(f"the header is corrupted ({type(e).__name__}).") from None
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise bad("not a pyconv file (unknown header).")
            version = header.get("format_version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise bad(f"invalid format_version {version!r}.")
            if version > FORMAT_VERSION:
                raise bad(f"written with format version {version} by pyconv "
                          f"{header.get('pyconv_version', '?')}; this pyconv reads format versions up to "
                          f"{FORMAT_VERSION}. Upgrade pyconv to load it.")
            specs = header.get("weights")
            if not isinstance(specs, list):
                raise bad("the header has no weight list.")
            weights = []
            for i, spec in enumerate(specs):
                shape = spec.get("shape") if isinstance(spec, dict) else None
                name = f"{spec.get('layer')}/{spec.get('name')}" if isinstance(spec, dict) else "?"
                if not isinstance(shape, list) or not all(_validate.is_int(d) and 0 <= d < 2**40 for d in shape):
                    raise bad(f"weight {i} ({name}) has an invalid shape {shape!r} in the header.")
                nbytes = 4 * math.prod(shape)
                a = read(f"w{i}", nbytes + _NPY_SLACK, f"weight {i} ({name})")
                if a.dtype != np.float32 or list(a.shape) != shape:
                    raise bad(f"weight {i} ({name}) has shape {a.shape} and dtype {a.dtype}; the header "
                              f"says {tuple(shape)} float32.")
                weights.append(a)
            opt = []
            st = header.get("optimizer_state")
            if st:
                if not isinstance(st, dict):
                    raise bad("invalid optimizer_state.")
                count, it = st.get("count"), st.get("iterations")
                if not _validate.is_int(count) or not 0 <= count <= 16 * max(len(specs), 1):
                    raise bad(f"invalid optimizer array count {count!r}.")
                if not _validate.is_int(it) or it < 0:
                    raise bad(f"invalid optimizer iterations {it!r}: an int >= 0 is expected.")
                biggest = max((4 * math.prod(sp["shape"]) for sp in specs), default=0)
                for i in range(count):
                    a = read(f"o{i}", biggest + _NPY_SLACK, f"optimizer array {i}")
                    if a.dtype != np.float32:
                        raise bad(f"optimizer array {i} has dtype {a.dtype}; float32 is expected.")
                    opt.append(a)
    except FileFormatError:
        raise
    except MemoryError:
        raise
    except Exception as e:   # any other failure to parse is the file's: one documented error
        msg = str(e) or type(e).__name__
        raise bad(f"the file is truncated or corrupted ({type(e).__name__}: {msg}).") from None
    return header, weights, opt


def check_members(z, bad):
    """{name: ZipInfo} of an open archive whose members are all plainly readable: no encryption,
    stored or deflated only (`bad(problem)` makes the exception)."""
    members = {}
    for info in z.infolist():
        if info.flag_bits & 0x1:
            raise bad("an encrypted archive member.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise bad(f"an archive member with compression method {info.compress_type}.")
        members[info.filename] = info
    return members


def open_member(z, info, max_bytes, what, bad):
    """The member `info` opened for reading, once its declared size is known to be at most
    `max_bytes` (nothing is decompressed before; the CRC-32 is checked as it is read)."""
    if info is None:
        raise bad(f"{what} is missing.")
    if info.file_size > max_bytes:
        raise bad(f"{what} would decompress to {info.file_size} bytes; at most {max_bytes} are expected.")
    return z.open(info)


def read_member(z, info, max_bytes, what, bad):
    """The bytes of the member `info`, its size checked first (open_member)."""
    with open_member(z, info, max_bytes, what, bad) as f:
        return f.read()


def weight_budget(header):
    """The number of weight values a file holds: a model rebuilt from it may allocate no more."""
    return sum(math.prod(spec["shape"]) for spec in header["weights"])
