"""pyconv's benchmarks (python -m bench; see bench/README.md).

`python -m bench` run from the repository root puts the root first on sys.path, where
./pyconv is the source tree; after `pip install .` that tree has no compiled extension, and
importing it would fail. So when the source tree's pyconv/ holds no built extension, the
repository root leaves sys.path before anything imports pyconv: the installed package is used
(an editable install still maps `pyconv` to the source tree through its own import hook).
The bench package itself is already imported by then and keeps working.
"""
import os as _os
import sys as _sys

_ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))


def _source_tree_has_extension():
    d = _os.path.join(_ROOT, "pyconv")
    try:
        names = _os.listdir(d)
    except OSError:
        return False
    return any(n.startswith("_kernels") and n.endswith((".so", ".pyd")) for n in names)


if not _source_tree_has_extension():
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or _os.curdir) != _ROOT]
