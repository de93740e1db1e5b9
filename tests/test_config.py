"""Threads, ISA selection and show_config."""
import os
import subprocess
import tempfile
import sys

import pytest

import pyconv
from pyconv import _kernels


def test_set_num_threads(threads):
    pyconv.set_num_threads(3)
    assert pyconv.get_num_threads() == (3 if _kernels.has_openmp() else 1)
    with pytest.raises(ValueError, match=r"`n` must be a positive int. Received: n=0"):
        pyconv.set_num_threads(0)
    with pytest.raises(TypeError, match=r"`n` must be a positive int. Received: n=2.0"):
        pyconv.set_num_threads(2.0)
    with pytest.raises(TypeError, match=r"Received: n=True"):
        pyconv.set_num_threads(True)


def run_py(code, **env):
    e = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "PYCONV_ISA")}
    e.update(env)
    # cwd: not the repository root, where ./pyconv is the source tree without its extension
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())


def test_default_threads_from_environment():
    r = run_py("import pyconv; print(pyconv.get_num_threads())", OMP_NUM_THREADS="1")
    assert r.stdout.strip() == "1"
    r = run_py("import pyconv, os; print(pyconv.get_num_threads(), len(os.sched_getaffinity(0)))")
    got, cpus = r.stdout.split()
    assert int(got) == (int(cpus) if _kernels.has_openmp() else 1)


def test_show_config(capsys):
    pyconv.show_config()
    out = capsys.readouterr().out
    assert f"pyconv {pyconv.__version__}" in out
    for field in ("compiler:", "OpenMP:", "ISA detected:", "ISA in use:", "threads:"):
        assert field in out
    assert _kernels.isa_detected() in out


def test_isa_env_forces_and_refuses():
    r = run_py("import pyconv; print(pyconv._kernels.isa_active())", PYCONV_ISA="generic")
    assert r.stdout.strip() == "generic"
    r = run_py("import pyconv", PYCONV_ISA="sse9")
    assert r.returncode != 0 and "`PYCONV_ISA` must be one of" in r.stderr
    if _kernels.isa_detected() != "avx512":
        r = run_py("import pyconv", PYCONV_ISA="avx512")
        assert r.returncode != 0 and "this CPU supports only up to" in r.stderr


def test_isa_set_refuses_unsupported():
    order = ("generic", "avx2", "avx512")
    best = order.index(_kernels.isa_detected())
    for name in order[best + 1:]:
        with pytest.raises(RuntimeError, match="this CPU supports only up to"):
            _kernels.set_isa(name)
