"""CIFAR's binary archives (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz), never unpickled.

Each archive is a gzip-compressed tar whose data members are fixed-size records, one per image
(https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"):

    CIFAR-10    <1 x label><3072 x pixel>                     3073 bytes a record
    CIFAR-100   <1 x coarse label><1 x fine label><3072 x pixel>   3074 bytes a record

The 3072 pixel bytes are the red plane, then the green, then the blue, each 32x32 row-major: a
record's pixels are (3, 32, 32), turned here into Keras's channels-last (32, 32, 3).

`read_members` promises: the records of every wanted member, read straight from the
decompressed stream into their final buffer (nothing is written to disk, whatever the names in
the archive), or one ValueError naming the archive and what is wrong with it. Every member's
name is checked (no absolute paths, no `..`), a wanted member must be a regular file of exactly
its expected size (checked from its header before a byte of it is read), and a member that is
not wanted is skipped only while they stay small together (1 MiB) and few (64 members): an
archive cannot make the reader allocate or decompress much more than the official one needs.
"""
import collections
import gzip
import os
import tarfile
import zlib

import numpy as np

from . import _store

PIXELS = 3 * 32 * 32
# The official archives hold fewer than ten members, those not read (readme.html, *.txt) a few
# KiB together: these bounds keep a hostile archive from making the reader decompress much more.
_SKIP_LIMIT = 1 << 20  # bytes, all skipped members together
_MAX_MEMBERS = 64
_CHUNK = 1 << 22

# An archive's layout: the file name, the members' directory, the members (in the archive's
# directory) whose records make the training and the test split, in order, each member's record
# count, and the record length in bytes.
Layout = collections.namedtuple("Layout", "archive prefix train test records record_len")


def read_members(archive, members, record_len, shown=None):
    """{name: (n, record_len) uint8 array} for `members` ({name: n records}) of the .tar.gz file.

    Raises:
        ValueError: the file is not a gzip-compressed tar; a member has an absolute name or one
            with a `..` component; a wanted member is missing, repeated, not a regular file, or
            of another size than `n * record_len`; the other members add up to more than 1 MiB;
            the archive has more than 64 members.
    """
    shown = shown or archive

    def fail(what):
        return ValueError(f"Cannot read CIFAR archive '{shown}': {what}")

    out, skipped, count = {}, 0, 0
    try:
        with tarfile.open(archive, mode="r|gz") as tar:  # a stream: one pass, no seeking
            for m in tar:
                count += 1
                if count > _MAX_MEMBERS:
                    raise fail(f"more than {_MAX_MEMBERS} members (the official archive has "
                               f"fewer than ten).")
                parts = m.name.replace("\\", "/").split("/")
                if m.name.startswith(("/", "\\")) or ".." in parts or os.path.isabs(m.name):
                    raise fail(f"member name {m.name!r} points outside the archive (absolute or "
                               f"with '..'): a hostile archive.")
                n = members.get(m.name)
                if n is None:
                    skipped += m.size
                    if skipped > _SKIP_LIMIT:
                        raise fail(f"unexpected member {m.name!r} of {m.size} bytes (the official "
                                   f"archive's other members are small).")
                    continue
                if m.name in out:
                    raise fail(f"member {m.name!r} appears twice.")
                if not m.isfile():
                    raise fail(f"member {m.name!r} must be a regular file; it is a "
                               f"{_kind(m)}.")
                if m.size != n * record_len:
                    raise fail(f"member {m.name!r} holds {m.size} bytes; expected {n} records "
                               f"of {record_len} bytes ({n * record_len} bytes).")
                out[m.name] = _read_exact(tar.extractfile(m), n, record_len, m.name, fail)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise fail(f"not a readable .tar.gz archive ({type(e).__name__}: {e}).") from None
    missing = [name for name in members if name not in out]
    if missing:
        raise fail(f"it lacks the member{'s' if len(missing) > 1 else ''} "
                   f"{', '.join(missing)}.")
    return out


def _kind(m):
    if m.issym():
        return f"symbolic link to {m.linkname!r}"
    if m.islnk():
        return f"hard link to {m.linkname!r}"
    return "directory" if m.isdir() else "special file"


def _read_exact(f, n, record_len, name, fail):
    buf = np.empty((n, record_len), np.uint8)
    view = memoryview(buf.reshape(-1))
    got = 0
    while got < len(view):
        k = f.readinto(view[got:got + _CHUNK])
        if not k:
            raise fail(f"member {name!r} ends after {got} of its {len(view)} bytes.")
        got += k
    return buf


def to_split(parts, label_bytes, label_column, num_classes, label_dtype, shown):
    """(x, y) from [(member name, records)]: x (n, 32, 32, 3) uint8 channels-last, C-contiguous;
    y (n, 1) of `label_dtype`, column `label_column` of the records, each below `num_classes`."""
    n = sum(len(r) for _, r in parts)
    x = np.empty((n, 32, 32, 3), np.uint8)
    y = np.empty((n, 1), label_dtype)
    at = 0
    for name, r in parts:
        k = len(r)
        top = int(r[:, label_column].max()) if k else 0
        if top >= num_classes:
            raise ValueError(f"Cannot read CIFAR archive '{shown}': member {name!r} holds label "
                             f"{top}; labels must be 0 to {num_classes - 1}.")
        x[at:at + k] = r[:, label_bytes:].reshape(k, 3, 32, 32).transpose(0, 2, 3, 1)
        y[at:at + k] = r[:, label_column:label_column + 1]
        at += k
    return x, y


def load(src, path, layout, label_column, num_classes, label_dtype):
    """((x_train, y_train), (x_test, y_test)) from the archive `src` locates (a `Layout`);
    labels from byte `label_column` of each record."""
    directory, file = _store.locate_file(src, path)
    try:
        src.check(file, layout.archive, file)
        wanted = {layout.prefix + name: layout.records[name]
                  for name in layout.train + layout.test}
        got = read_members(file, wanted, layout.record_len, shown=file)
        label_bytes = layout.record_len - PIXELS
        return tuple(to_split([(layout.prefix + name, got.pop(layout.prefix + name))
                               for name in names],
                              label_bytes, label_column, num_classes, label_dtype, file)
                     for names in (layout.train, layout.test))
    except ValueError as e:
        raise _store.bad_file(src, directory, layout.archive, e) from None
