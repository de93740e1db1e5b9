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
import os
import tempfile
import zipfile

import numpy as np

from . import _validate

FORMAT = "pyconv"
FORMAT_VERSION = 1


class FileFormatError(ValueError):
    """A file that pyconv cannot load (a ValueError)."""


def write_atomic(path, arrays):
    """Write `arrays` (name -> ndarray) as an .npz archive at `path`, atomically."""
    path = _validate.filepath(path)
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise FileNotFoundError(f"Cannot save to '{path}': the directory '{d}' does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot save to '{path}': it is a directory.")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
        arrays[f"w{i}"] = np.ascontiguousarray(w, dtype=np.float32)
    for i, a in enumerate(opt_vars or ()):
        arrays[f"o{i}"] = np.ascontiguousarray(a, dtype=np.float32)
    write_atomic(path, arrays)


def load(path):
    """(header, weights, optimizer arrays) from a pyconv file, every part checked.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError (ValueError): not a pyconv file, truncated, corrupted, or newer.
    """
    path = _validate.filepath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: '{path}'.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot load '{path}': it is a directory, not a pyconv file.")

    def bad(problem):
        return FileFormatError(f"Cannot load '{path}': {problem}")

    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise bad("not a pyconv file (a single .npy array, not an archive).")
        with z:
            names = set(z.files)
            if "header" not in names:
                raise bad("not a pyconv file (no header).")
            try:
                header = json.loads(bytes(z["header"]).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise bad(f"the header is corrupted ({e}).") from None
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise bad("not a pyconv file (unknown header).")
            version = header.get("format_version")
            if not isinstance(version, int) or version < 1:
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
                key = f"w{i}"
                if key not in names:
                    raise bad(f"weight {i} ({spec.get('layer')}/{spec.get('name')}) is missing.")
                a = z[key]
                if a.dtype != np.float32 or list(a.shape) != list(spec.get("shape", [])):
                    raise bad(f"weight {i} ({spec.get('layer')}/{spec.get('name')}) has shape {a.shape} "
                              f"and dtype {a.dtype}; the header says {tuple(spec.get('shape', []))} float32.")
                weights.append(a)
            opt = []
            st = header.get("optimizer_state")
            if st:
                for i in range(int(st.get("count", 0))):
                    if f"o{i}" not in names:
                        raise bad(f"optimizer array {i} is missing.")
                    opt.append(z[f"o{i}"])
    except FileFormatError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zipfile.LargeZipFile) as e:
        msg = str(e) or type(e).__name__
        raise bad(f"the file is truncated or corrupted ({msg}).") from None
    return header, weights, opt
