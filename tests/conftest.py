import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import pyconv
from pyconv import _kernels

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


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
