"""pyconv: a deep-learning microframework with hand-written C kernels and a Keras-like API.

    from pyconv import datasets, layers, models   # in place of tensorflow.keras
    import pyconv.nn as nn                         # in place of tf.nn

Submodules are imported on first use, so `import pyconv` stays cheap.
"""
import importlib as _importlib
import os as _os

# OpenMP threads that finish a parallel region spin before they sleep; libgomp's default spin
# (300,000 iterations) is long. A training step is dozens of short regions, so on a machine
# where another process holds a core, the spinning thread steals the time of the thread it
# waits for: measured on 2 cores with one busy, the tutorial CNN went from 2.8 to 364 ms a
# step. 5,000 keeps the quiet-machine speed (2.8 ms) and cuts that to ~13 ms. It is read
# when libgomp loads, so it is set before the extension is imported, and only if the user
# has not chosen (OMP_WAIT_POLICY=passive is the most robust on a busy machine).
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "5000")

try:
    from . import _kernels  # noqa: E402
except ImportError as e:  # the source tree's pyconv/ shadowing the installed package
    raise ImportError(
        f"pyconv's compiled extension (pyconv/_kernels) cannot be imported from {__path__[0]}: "
        f"{e}. If this is the source tree, run Python from another directory (the installed "
        f"package is then used), or build in place with `pip install --no-build-isolation -e .`."
    ) from e

__version__ = "0.1.0"

_SUBMODULES = ("nn", "ops", "layers", "models", "optimizers", "losses", "metrics", "callbacks",
               "datasets", "utils", "activations", "initializers", "regularizers", "constraints")
# Keras 3's top-level names: where each lives
_NAMES = {"Model": "models", "Sequential": "models", "Input": "layers", "Layer": "layers",
          "KerasTensor": "_graph", "PyDataset": "models.data_adapters", "load_model": "models"}

__all__ = ["get_num_threads", "set_num_threads", "show_config", "__version__", *_SUBMODULES, *_NAMES]


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(_importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'pyconv' has no attribute {name!r}")


def get_num_threads():
    """The number of threads a kernel may use (1 in a build without OpenMP)."""
    return _kernels.num_threads()


def set_num_threads(n):
    """Set how many threads the kernels may use.

    Args:
        n: a positive int. Results do not depend on it: they are bitwise the same for
            any thread count.

    Raises:
        TypeError: `n` is not an int.
        ValueError: `n` < 1.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"`n` must be a positive int. Received: n={n!r} of type {type(n).__name__}.")
    if n < 1:
        raise ValueError(f"`n` must be a positive int. Received: n={n!r}.")
    _kernels.set_num_threads(_capped(n, "set_num_threads"))


def _max_threads():
    """4 threads per core at most: beyond that OpenMP only adds waiting (and a million threads
    would exhaust the process)."""
    return 4 * (_os.cpu_count() or 1)


def _capped(n, where):
    cap = _max_threads()
    if n > cap:
        import warnings
        warnings.warn(f"{where}: {n} threads is more than 4 per core; using {cap}.", RuntimeWarning, stacklevel=3)
        return cap
    return n


def _default_threads():
    env = _os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return _capped(int(env), "OMP_NUM_THREADS")
    try:
        return len(_os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return _os.cpu_count() or 1


def _bytes(n):
    """48 KiB, 1 MiB, 1.5 MiB: a cache size as people write it."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} B"


def _caches():
    """The caches line of show_config: each level, whom it is shared by, and where the figures
    come from; a level the system does not report shows the default the kernels assume."""
    info = _kernels.cache_info()
    parts = []
    for name, label in (("l1d", "L1d"), ("l2", "L2"), ("l3", "L3")):
        size, shared, default = info[name]
        note = " (default: not reported)" if default else (f" shared by {shared} CPUs" if shared > 1 else "")
        parts.append(f"{label} {_bytes(size)}{note}")
    return ", ".join(parts) + f" (from {info['source']})"


def _blocks():
    """The blocking line of show_config: the blocks in use with the active ISA, and whence."""
    b = _kernels.blocking()
    env = _os.environ.get("PYCONV_BLOCKING", "").strip()
    whence = f"PYCONV_BLOCKING={env!r} over the caches" if env else "from the caches"
    return f"MC {b['mc']}, KC {b['kc']}, NC {b['nc']} ({whence}; docs/kernels.md has the rule)"


def show_config():
    """Print pyconv's build and run-time configuration."""
    mr, nr = _kernels.gemm_tile()
    print(f"pyconv {__version__}\n"
          f"  compiler:     {_kernels.compiler()}\n"
          f"  OpenMP:       {'on' if _kernels.has_openmp() else 'off (single-threaded build)'}\n"
          f"  ISA detected: {_kernels.isa_detected()} (available: {', '.join(_kernels.isas_available())})\n"
          f"  ISA in use:   {_kernels.isa_active()} (GEMM micro-kernel {mr}x{nr})\n"
          f"  caches:       {_caches()}\n"
          f"  GEMM blocks:  {_blocks()}\n"
          f"  malloc:       {'freed memory kept for reuse' if _malloc_keep else 'as the C library does'}"
          f" (PYCONV_MALLOC_KEEP={_os.environ.get('PYCONV_MALLOC_KEEP', 'unset')})\n"
          f"  threads:      {get_num_threads()}"
          f" (OMP_WAIT_POLICY={_os.environ.get('OMP_WAIT_POLICY', 'unset')},"
          f" GOMP_SPINCOUNT={_os.environ.get('GOMP_SPINCOUNT', 'unset')})")


# glibc's malloc keeps what a training step frees for the next step (csrc/config.c
# pyconv_malloc_keep): 1 GiB of freed heap top, blocks up to 32 MiB from the heap. Without it
# each step faults its activations' pages back in, zeroed (12,000 faults a step for a small
# MobileNet at batch 32: half the step, docs/benchmarks.md). Not when the user tuned glibc's
# malloc (its MALLOC_*_ variables, GLIBC_TUNABLES) or set PYCONV_MALLOC_KEEP=0.
_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_",
               "GLIBC_TUNABLES")
_malloc_keep = (_os.environ.get("PYCONV_MALLOC_KEEP", "1").strip() != "0"
                and not any(k in _os.environ for k in _MALLOC_ENV)
                and _kernels.malloc_keep(1 << 30, 32 << 20))

_kernels.set_num_threads(_default_threads())
if _os.environ.get("PYCONV_ISA"):
    _kernels.set_isa(_os.environ["PYCONV_ISA"].strip().lower())
if _os.environ.get("PYCONV_BLOCKING", "").strip():   # for experiments: "mc=96,kc=256,nc=4096", any of them
    from . import _validate
    _kernels.set_blocking(**_validate.blocking_spec(_os.environ["PYCONV_BLOCKING"], "PYCONV_BLOCKING",
                                                    _kernels.BLOCKING_SET_MAX))
