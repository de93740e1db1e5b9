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
    for field in ("compiler:", "OpenMP:", "ISA detected:", "ISA in use:", "caches:", "malloc:", "threads:"):
        assert field in out
    assert f"ISA detected: {_kernels.isa_detected()} (available: {', '.join(_kernels.isas_available())})" in out
    mr, nr = _kernels.gemm_tile()
    assert f"ISA in use:   {_kernels.isa_active()} (GEMM micro-kernel {mr}x{nr})" in out
    l1d = _kernels.cache_info()["l1d"][0]
    assert f"L1d {pyconv._bytes(l1d)}" in out


GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None \
    and "asan" not in os.environ.get("LD_PRELOAD", "")

# A fit of `model` (its layers after the input, at batch 32 of 320 inputs of `shape`, then a
# global average pool and Dense(2)); prints whether malloc keeps freed memory and the minor
# page faults of the last 10 steps.
FAULTS = """
import resource, numpy as np, pyconv
from pyconv import layers, models
m = models.Sequential([layers.Input({shape}), {model},
                       layers.GlobalAveragePooling2D(), layers.Dense(2)])
m.compile(optimizer="{optimizer}", loss="mse")
x, y = np.ones((320,) + {shape}, np.float32), np.zeros((320, 2), np.float32)
m.fit(x, y, batch_size=32, epochs=1, verbose=0)
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
m.fit(x, y, batch_size=32, epochs=1, verbose=0)
print(pyconv._malloc_keep, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""

# ~4 MiB activations each step.
FAULTS_CONV_BN = FAULTS.format(shape=(32, 32, 8), optimizer="sgd", model="""
    layers.Conv2D(32, 3, padding="same"), layers.BatchNormalization(), layers.ReLU()""")


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only (and not under ASan's)")
def test_malloc_keeps_a_steps_memory_for_the_next():
    """With glibc, pyconv keeps freed memory for reuse: ten more steps fault a few pages, not a
    step's arrays again (4 MiB = 1,024 pages each); PYCONV_MALLOC_KEEP=0, or any glibc malloc
    setting of the user's, leaves glibc as it is.
    The contrast runs with a fixed mmap threshold: glibc's own default adapts (a freed mapped
    chunk raises it), so its fault count varies from run to run (513 once in CI)."""
    keep, faults = run_py(FAULTS_CONV_BN).stdout.split()
    off, faults_off = run_py(FAULTS_CONV_BN, MALLOC_MMAP_THRESHOLD_="131072").stdout.split()
    assert (keep, off) == ("True", "False")
    assert int(faults) < 1024 < int(faults_off), (faults, faults_off)
    for setting in ({"PYCONV_MALLOC_KEEP": "0"}, {"MALLOC_TRIM_THRESHOLD_": "131072"}):
        r = run_py("import pyconv; print(pyconv._malloc_keep)", **setting)
        assert r.stdout.strip() == "False", setting
    r = run_py("import pyconv; pyconv.show_config()")
    assert "malloc:       freed memory kept for reuse (PYCONV_MALLOC_KEEP=unset)" in r.stdout


# Issue 12's layers in one training model: each pass's C workspaces are malloc'ed per call and
# freed, and the outputs are new arrays (4-16 MiB each).
FAULTS_NEW_LAYERS = FAULTS.format(shape=(32, 32, 3), optimizer="adam", model="""
    layers.RandomFlip(seed=1), layers.RandomRotation(0.1, seed=2), layers.RandomZoom(0.1, seed=3),
    layers.Conv2D(32, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
    layers.DepthwiseConv2D(3, padding="same"), layers.SeparableConv2D(32, 3, strides=2, padding="same"),
    layers.BatchNormalization(), layers.Conv2DTranspose(32, 3, strides=2, padding="same"),
    layers.UpSampling2D(2), layers.Conv2D(8, 3, strides=2, padding="same"),
    layers.UpSampling2D(2, interpolation="bilinear")""")


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only (and not under ASan's)")
def test_new_layers_reuse_a_steps_memory():
    """Issue 12: no allocation per step for the new layers' workspaces. Their C kernels still
    call malloc per pass (about 400 calls a step of this kind: counted in docs/benchmarks.md),
    but with freed memory kept each call is served from what the step before freed: ten steps
    fault fewer pages than one 16 MiB activation (4,096 pages) in all, where re-mapping the
    workspaces would fault at least one 4-16 MiB activation's worth every step (over 40,000
    here with PYCONV_MALLOC_KEEP=0). Seen: a few hundred with OpenMP, 1,025 in CI's build
    without it (its one thread frees and reuses in another order).
    (An array above the kept 32 MiB is still mapped afresh each step: outputs, not workspaces.)"""
    keep, faults = run_py(FAULTS_NEW_LAYERS).stdout.split()
    assert keep == "True"
    assert int(faults) < 4096, faults


def test_bytes_format():
    assert pyconv._bytes(48 * 1024) == "48 KiB"
    assert pyconv._bytes(1 << 20) == "1 MiB"
    assert pyconv._bytes(3 << 19) == "1.5 MiB"
    assert pyconv._bytes(512) == "512 B"


# The tile of each ISA's micro-kernel (csrc/blocking.h): the tests' GEMM edges (MR +- 1, NR +- 1)
# are chosen from these.
TILES = {"generic": (4, 8), "avx2": (6, 16), "avx512": (8, 32), "neon": (12, 8)}


def test_isas_available_and_tiles(isa):
    avail = _kernels.isas_available()
    assert avail[0] == "generic" and avail[-1] == _kernels.isa_detected()
    assert set(avail) <= set(TILES)
    # one architecture's ISAs only: x86-64's or aarch64's
    assert not ({"avx2", "avx512"} & set(avail) and "neon" in avail)
    assert _kernels.gemm_tile() == TILES[isa]


def _sysfs_caches():
    """{level: bytes} of CPU 0's data and unified caches, read here independently of C."""
    root = "/sys/devices/system/cpu/cpu0/cache"
    got = {}
    for d in sorted(os.listdir(root)) if os.path.isdir(root) else ():
        if not d.startswith("index"):
            continue
        read = lambda f: open(os.path.join(root, d, f)).read().strip()
        if read("type") == "Instruction":
            continue
        size = read("size")
        got[int(read("level"))] = int(size[:-1]) << {"K": 10, "M": 20, "G": 30}[size[-1]]
    return got


def test_cache_info():
    info = _kernels.cache_info()
    sizes = [info[k][0] for k in ("l1d", "l2", "l3")]
    assert all(s > 0 for s in sizes) and sizes[0] < sizes[1]
    sysfs = _sysfs_caches()
    if sys.platform.startswith("linux") and sysfs:
        assert info["source"] == "sysfs"
        for level, key in ((1, "l1d"), (2, "l2"), (3, "l3")):
            if level in sysfs:
                assert info[key][0] == sysfs[level] and not info[key][2], key
            else:   # not reported: the stated default
                assert info[key][2], key


def test_isa_env_forces_and_refuses():
    r = run_py("import pyconv; print(pyconv._kernels.isa_active())", PYCONV_ISA="generic")
    assert r.stdout.strip() == "generic"
    r = run_py("import pyconv", PYCONV_ISA="sse9")
    assert r.returncode != 0 and "`PYCONV_ISA` must be one of" in r.stderr
    missing = [n for n in _kernels.ISA_NAMES if n not in _kernels.isas_available()]
    assert missing   # x86-64 lacks neon, aarch64 avx2 and avx512
    r = run_py("import pyconv", PYCONV_ISA=missing[0])
    assert r.returncode != 0 and "this CPU supports only up to" in r.stderr


def test_isa_set_refuses_unsupported():
    before = _kernels.isa_active()
    for name in _kernels.ISA_NAMES:
        if name in _kernels.isas_available():
            _kernels.set_isa(name)
            assert _kernels.isa_active() == name
        else:
            with pytest.raises(RuntimeError, match=r"this CPU supports only up to '\w+': one of \('generic'"):
                _kernels.set_isa(name)
            assert _kernels.isa_active() != name
    _kernels.set_isa(before)


# ---- the GEMM's cache blocks (csrc/config.c, pyconv_blocking_derive; blocking.h) --------------

def test_blocking_rule_on_known_machines():
    """The rule (csrc/config.c) on known caches. KC: the B micro-panel in L1d less 2 ways, or in
    a twelfth of L2 where that holds more (it streams from L2), a multiple of 16, at most 1024;
    MC: the A block at L1's KC a sixth of L2, at most 3/4 of it at the KC in use, in MR rows;
    NC a quarter of L3 in NR columns."""
    zen4 = ((32 << 10, 1 << 20, 32 << 20), (8, 8, 16))
    # AVX-512: 1 MiB / 12 / 128 B = 682 -> 672 (L1 alone: 24 KiB / 128 B = 192); MC 1 MiB / 6 /
    # 768 B = 227 -> 232; AVX2 at the cap, so conv3's depth of 576 is one block on both
    assert _kernels.derive_blocking(8, 32, *zen4) == {"mc": 232, "kc": 672, "nc": 3104}
    assert _kernels.derive_blocking(6, 16, *zen4) == {"mc": 114, "kc": 1024, "nc": 2048}
    # a 48 KiB 12-way L1 (the Zen 5 the old constants were tuned on): KC 672 for its 320, MC 136
    zen5 = ((48 << 10, 1 << 20, 32 << 20), (12, 16, 16))
    assert _kernels.derive_blocking(8, 32, *zen5) == {"mc": 136, "kc": 672, "nc": 3104}
    # a 2 MiB L2: KC at the cap, MC bounded by 3/4 of L2 at that depth (1.5 MiB / 4 KiB = 384)
    assert _kernels.derive_blocking(8, 32, (32 << 10, 2 << 20, 32 << 20), (8, 16, 16))["mc"] == 384
    # a small L2 (256 KiB, Skylake client): L1's share is the larger, AVX2's KC 384 as before
    assert _kernels.derive_blocking(6, 16, (32 << 10, 256 << 10, 8 << 20), (8, 4, 16)) == \
        {"mc": 30, "kc": 384, "nc": 1360}
    # the defaults config.c assumes when nothing is reported (ways: 8): 512 KiB / 12 / 128 B
    assert _kernels.derive_blocking(8, 32, (32 << 10, 512 << 10, 8 << 20)) == {"mc": 120, "kc": 336, "nc": 1536}
    # tiny and huge caches stay inside the bounds (GEMM_KC_MIN/MAX, GEMM_NC_MAX); MC >= MR
    assert _kernels.derive_blocking(12, 8, (1 << 10, 4 << 10, 64 << 10), (4, 4, 4)) == {"mc": 12, "kc": 64, "nc": 64}
    assert _kernels.derive_blocking(4, 8, (1 << 20, 1 << 30, 1 << 34), (16, 16, 16))["kc"] == 1024
    assert _kernels.derive_blocking(4, 8, (1 << 20, 1 << 30, 1 << 34), (16, 16, 16))["nc"] == 16384


@pytest.mark.parametrize("mr,nr", [(4, 8), (6, 16), (8, 32), (12, 8)])
@pytest.mark.parametrize("l1,l2,l3,ways", [(32 << 10, 256 << 10, 8 << 20, (8, 4, 16)),
                                           (48 << 10, 2 << 20, 96 << 20, (12, 16, 16)),
                                           (64 << 10, 4 << 20, 0, (0, 0, 0)),
                                           (128 << 10, 16 << 20, 24 << 20, (8, 16, 12))])
def test_blocking_rule_invariants(mr, nr, l1, l2, l3, ways):
    b = _kernels.derive_blocking(mr, nr, (l1, l2, l3), ways)
    assert 64 <= b["kc"] <= 1024 and b["kc"] % 16 == 0
    # the B micro-panel fits in L1d or in a twelfth of L2, unless at the floor
    assert b["kc"] * nr * 4 <= max(l1, l2 / 12) or b["kc"] == 64
    assert b["kc"] * nr * 4 > max(l1 * (1 - 2 / (ways[0] or 8)), l2 / 12) - 16 * nr * 4 or b["kc"] == 1024
    assert b["mc"] % mr == 0 and b["mc"] >= mr
    assert b["mc"] * b["kc"] * 4 <= l2 * 3 / 4 + mr * b["kc"] * 4   # 3/4 of L2, up to one tile
    assert b["nc"] % nr == 0 and nr <= b["nc"] <= 16384


def test_blocking_in_use_and_show_config(capsys):
    b = _kernels.blocking()
    mr, nr = _kernels.gemm_tile()
    assert b["mc"] % mr == 0 and b["nc"] % nr == 0 and b["kc"] > 0
    if "PYCONV_BLOCKING" not in os.environ:
        info = _kernels.cache_info()
        sizes = tuple(info[k][0] for k in ("l1d", "l2", "l3"))
        assert b == _kernels.derive_blocking(mr, nr, sizes, info["ways"])
    pyconv.show_config()
    assert f"GEMM blocks:  MC {b['mc']}, KC {b['kc']}, NC {b['nc']}" in capsys.readouterr().out


def test_blocking_env_overrides_and_refuses():
    # the child's own tile and default blocks: run_py drops PYCONV_ISA, so the child may run
    # another ISA than this process (CI runs these tests under each PYCONV_ISA)
    code = ("import pyconv; b = pyconv._kernels.blocking(); "
            "print(b['mc'], b['kc'], b['nc'], *pyconv._kernels.gemm_tile())")
    default_nc = int(run_py(code).stdout.split()[2])
    r = run_py(code, PYCONV_BLOCKING="kc=96, MC=33")
    mc, kc, nc, mr, nr = map(int, r.stdout.split())
    assert (mc, kc) == (-(-33 // mr) * mr, 96) and nc == default_nc
    r = run_py(code, PYCONV_BLOCKING="nc=100")
    assert int(r.stdout.split()[2]) == 100 // nr * nr
    for bad in ("kc=0", "kc=4097", "mc=abc", "kc=64,kc=96", "lc=64", "kc", "kc=-3", "mc=8;kc=64"):
        r = run_py("import pyconv", PYCONV_BLOCKING=bad)
        assert r.returncode != 0, bad
        assert ("`PYCONV_BLOCKING` must be a comma-separated list of key=value with keys among mc, "
                f"kc, nc and int values from 1 to 8192 (mc), 4096 (kc), 65536 (nc). "
                f"Received: PYCONV_BLOCKING={bad!r}.") in r.stderr, r.stderr
    with pytest.raises(ValueError, match=r"Blocks out of range .* Received: mc=0, kc=5000, nc=0"):
        _kernels.set_blocking(kc=5000)


@pytest.fixture
def blocking_restored():
    before = _kernels.set_blocking()
    yield
    _kernels.set_blocking(**before)


def test_gemm_under_other_blocks_threads_bitwise(blocking_restored, each_thread_count):
    """Under blocks unlike the derived ones -- KC 48 (a depth of 600 in 13 blocks), MC one tile
    over a few MR, NC of 2 NR panels -- the GEMM and the convolution's passes still give the same
    bits for every thread count; and KC is where the sum is cut, so it changes the bits."""
    import numpy as np
    from pyconv import nn
    from pyconv._geometry import Window
    rng = np.random.default_rng(5)
    a = rng.standard_normal((333, 600)).astype(np.float32)
    b = rng.standard_normal((600, 200)).astype(np.float32)
    x = rng.standard_normal((6, 13, 13, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)
    g = rng.standard_normal((6, 11, 11, 64)).astype(np.float32)
    derived = _kernels.gemm(a, b, False)
    mr, nr = _kernels.gemm_tile()
    _kernels.set_blocking(mc=3 * mr + 1, kc=48, nc=2 * nr)
    out = []
    for _ in each_thread_count():
        out.append((_kernels.gemm(a, b, False), nn.conv2d(x, w),
                    nn.conv2d_backprop_input(x.shape, w, g, 1, "VALID"),
                    *_kernels.conv2d_bwd_filter(x, w.shape, g, Window(11, 11, 3, 3, 1, 1, 1, 1, 0, 0), True)))
    for o in out[1:]:
        for p, q in zip(out[0], o):
            assert np.array_equal(p, q)
    assert not np.array_equal(out[0][0], derived)
    exact = a.astype(np.float64) @ b
    assert np.abs(out[0][0] - exact).max() <= 600 * 2**-24 * (np.abs(a) @ np.abs(b)).max()
