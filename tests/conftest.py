import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import pyconv
from pyconv import _kernels

# `bench` (the harness some tests drive) lives at the repository root. Appended, after pyconv is
# imported: the installed pyconv, not the source tree's ./pyconv, is the one under test.
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Fixtures such as `isa` set state for the whole test, not per example: that is intended.
settings.register_profile("pyconv", deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("pyconv")

ISAS = list(_kernels.isas_available())   # x86-64: generic avx2 avx512 (as the CPU has); aarch64: generic neon


@pytest.fixture(params=ISAS)
def isa(request):
    """Run the test once per ISA this CPU supports, then restore the one in use."""
    before = _kernels.isa_active()
    _kernels.set_isa(request.param)
    yield request.param
    _kernels.set_isa(before)


@pytest.fixture
def threads():
    """Restore the thread count a test changes."""
    before = pyconv.get_num_threads()
    yield
    pyconv.set_num_threads(before)


# The thread counts every determinism test compares, bitwise: one thread, this machine's two, an
# odd split (3), and the 8 and 16 of a workstation, where most kernels have fewer tasks than
# threads at these tests' sizes (docs/kernels.md, "Many cores").
THREAD_COUNTS = (1, 2, 3, 8, 16)


@pytest.fixture
def each_thread_count(threads):
    """A function whose iterator sets each of THREAD_COUNTS in turn (and yields it); the count
    before the test is restored after it. Set on the C layer itself: pyconv.set_num_threads
    caps a count at 4 per core, so 16 would run as 8 on a 2-core machine."""
    def counts():
        for n in THREAD_COUNTS:
            _kernels.set_num_threads(n)
            assert _kernels.num_threads() == (n if _kernels.has_openmp() else 1)
            yield n
    return counts


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
