"""docs/kernels.md's figures and counts, computed from the code and compared with what it says.

tests/test_kernels_guide.py checks the guide's citations and names; this file checks its numbers.
Each test computes a figure from the code and asserts that the guide states it, word for word:
a change to either the figure in the guide or the code that produces it fails here.

- The micro-kernels' inner loops: each ukernel_<isa>.c is compiled to assembly with the flags
  CMakeLists.txt gives it (gcc for x86-64, aarch64-linux-gnu-gcc for NEON; skipped, saying
  so, where the compiler is missing), and the loads, broadcasts, FMAs, accumulators and stack
  references of the loop that holds the FMAs are counted.
- The cache blocks MC, KC, NC: csrc/config.c's rule itself (`_kernels.derive_blocking`) on
  the caches the guide names, with the rule's constants read from csrc/blocking.h.
- The work partitions (loop 3's row blocks and column groups, the depth blocks, the filter
  gradient's pixel chunks, the input gradient's image groups): a Python mirror of each rule.
  The C lines each mirror copies are pinned here and must stand in the C source as written,
  so a change to the rule fails until its mirror is updated with it.
- Constants the guide quotes with their value (`POOL_CB` = 128, ...): read from their #define.
"""
import collections
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pyconv import _inference, _kernels

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "kernels.md"
CSRC = ROOT / "csrc"


def _squash(text):
    return re.sub(r"\s+", " ", text)


def guide():
    """The guide with every run of white space (line breaks included) as one space."""
    return _squash(GUIDE.read_text(encoding="utf-8"))


def assert_states(*phrases):
    text = guide()
    missing = [p for p in phrases if _squash(p) not in text]
    assert not missing, "docs/kernels.md does not state what the code gives:\n" + \
        "\n".join(f"  {p!r}" for p in missing)


def define(name, path=None):
    """The value of `#define name value` in csrc/ (the first file that defines it)."""
    files = [CSRC / path] if path else sorted(CSRC.glob("*.[ch]"))
    for f in files:
        m = re.search(r"^#define %s\s+(.+?)\s*(?:/[*/].*)?$" % name, f.read_text(encoding="utf-8"),
                      re.M)
        if m:
            return eval(m.group(1), {})   # 128, 1.0e6, (4 * 256)
    raise AssertionError(f"#define {name} not found in csrc/")


def pinned(path, *lines):
    """Assert that the C lines a mirror copies stand in `path` as written (white space aside)."""
    src = _squash((ROOT / path).read_text(encoding="utf-8"))
    gone = [ln for ln in lines if _squash(ln) not in src]
    assert not gone, f"{path} changed the lines this test mirrors: update the mirror and " \
        "these lines together:\n" + "\n".join(f"  {ln}" for ln in gone)


def fmt(n):
    return f"{n:,}"


# ---- the micro-kernels, counted in their assembly ---------------------------------------------

# isa: (the compiler's target, its flags from CMakeLists.txt, floats per vector (x86: from the
# registers the FMAs name), the FMA's mnemonic)
ISAS = {
    "avx512": ("x86_64", ["-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"], None, "vfmadd231ps"),
    "avx2": ("x86_64", ["-mavx2", "-mfma"], None, "vfmadd231ps"),
    "neon": ("aarch64", [], 4, "fmla"),
}
X86_WIDTH = {"zmm": 16, "ymm": 8, "xmm": 4}


def _compiler(target):
    for cc in (f"{target}-linux-gnu-gcc", "gcc", "cc"):
        path = shutil.which(cc)
        if not path:
            continue
        out = subprocess.run([path, "-dumpmachine"], capture_output=True, text=True).stdout
        if out.startswith(target):
            return path
    return None


_ASM = {}


def assembly(isa):
    """csrc/ukernel_<isa>.c compiled to assembly as the build compiles it (Release flags)."""
    if isa not in _ASM:
        target, flags = ISAS[isa][:2]
        cc = _compiler(target)
        if cc is None:
            pytest.skip(f"no C compiler for {target} (install gcc, or gcc-{target}-linux-gnu for "
                        f"NEON: .ci/aarch64 does) to count ukernel_{isa}'s instructions")
        res = subprocess.run([cc, "-O3", "-fno-math-errno", "-ffp-contract=off", *flags,
                              "-I", str(CSRC), "-S", "-o", "-", str(CSRC / f"ukernel_{isa}.c")],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        _ASM[isa] = res.stdout
    return _ASM[isa]


def _function(asm, name):
    m = re.search(r"^%s:\n(.*?)^\s*\.size\s+%s," % (name, name), asm, re.S | re.M)
    assert m, f"{name} not found in the assembly"
    return [ln.split("//")[0].split("#")[0].strip() for ln in m.group(1).splitlines()]


def k_loop(asm, name, fma):
    """The instructions of the innermost loop of `name` that holds FMAs (a label, and the
    backward branch to it with no other loop between)."""
    lines = _function(asm, name)
    labels = {ln[:-1]: i for i, ln in enumerate(lines) if re.fullmatch(r"\.?\w+:", ln)}
    loops = []
    for j, ln in enumerate(lines):
        m = re.fullmatch(r"(j\w+|b\.?\w*|cbn?z|tbn?z)\s+(?:.*,\s*)?(\.\w+)", ln)
        if m and m.group(2) in labels and labels[m.group(2)] < j:
            loops.append((labels[m.group(2)], j))
    inner = [(a, b) for a, b in loops
             if not any(a <= c and d <= b and (c, d) != (a, b) for c, d in loops)]
    bodies = [[ln for ln in lines[a + 1:b + 1] if ln and not ln.startswith(".")]
              for a, b in inner]
    bodies = [b for b in bodies if any(ln.split()[0] == fma for ln in b)]
    assert len(bodies) == 1, f"{name}: {len(bodies)} innermost loops with {fma}, expected 1"
    return bodies[0]


def x86_counts(loop):
    """Per trip of an x86 k loop: vector loads, broadcasts, FMAs, accumulators, registers."""
    ops = collections.Counter(ln.split()[0] for ln in loop)
    fmas = [ln for ln in loop if ln.startswith("vfmadd231ps")]
    loads = [ln for ln in loop if re.match(r"vmov[au]ps\s+[^%]*\(", ln)]
    widths = {X86_WIDTH[r] for ln in fmas for r in re.findall(r"%(zmm|ymm|xmm)", ln)}
    assert len(widths) == 1, widths
    return {
        "fma": len(fmas), "loads": len(loads), "width": widths.pop(),
        "broadcast": ops["vbroadcastss"], "embedded": sum("{1to" in ln for ln in fmas),
        "acc": len({ln.split(",")[-1].strip() for ln in fmas}),
        "regs": len(set(re.findall(r"%[xyz]mm\d+", "\n".join(loop)))),
        "stack": sum(bool(re.search(r"\(%[re]sp\)|\(%[re]bp\)", ln)) for ln in loop),
    }


def neon_counts(loop):
    """Per trip of the NEON k loop: B and A vector loads (a B register is an fmla's vector
    operand, an A register gives it a lane), fmlas, accumulators, the A values, registers."""
    fmas = [re.match(r"fmla\s+(v\d+)\.4s,\s*(v\d+)\.4s,\s*(v\d+)\.s\[(\d)\]", ln) for ln in loop
            if ln.startswith("fmla")]
    assert all(fmas), "an fmla not by lane"
    b_regs = {m.group(2) for m in fmas}
    a_regs = {m.group(3) for m in fmas}
    loaded = collections.Counter()
    for ln in loop:
        m = re.match(r"(ldp|ldr)\s+(q\d+)(?:,\s*(q\d+))?,\s*\[", ln)
        if m:
            for q in filter(None, m.group(2, 3)):
                loaded["b" if "v" + q[1:] in b_regs else "a" if "v" + q[1:] in a_regs else "?"] += 1
    return {
        "fma": len(fmas), "b_loads": loaded["b"], "a_loads": loaded["a"], "other": loaded["?"],
        "acc": len({m.group(1) for m in fmas}), "b_regs": len(b_regs), "a_regs": len(a_regs),
        "a_values": len({m.group(3, 4) for m in fmas}),
        "stack": sum("[sp" in ln for ln in loop),
    }


def counts(isa, suffix=""):
    name = f"ukernel_{isa}{suffix}"
    loop = k_loop(assembly(isa), name, ISAS[isa][3])
    c = neon_counts(loop) if isa == "neon" else x86_counts(loop)
    assert c["stack"] == 0, f"{name} reads or writes the stack in its k loop (a spill):\n" + \
        "\n".join(loop)
    return c


@pytest.mark.parametrize("isa", ["avx512", "avx2"])
def test_x86_micro_kernel_loop(isa):
    c = counts(isa)
    mr, nr = c["broadcast"] + c["embedded"], c["loads"] * c["width"]
    assert c["fma"] == mr * c["loads"] and c["acc"] == c["fma"], c
    # the tile is blocking.h's, and the register file holds the loop
    assert (mr, nr) == (define(f"{isa.upper()}_MR"), define(f"{isa.upper()}_NR"))
    reg = {16: "zmm", 8: "ymm"}[c["width"]]
    assert c["regs"] <= (32 if reg == "zmm" else 16), c
    if isa == "avx512":
        assert_states(f"| AVX-512 (`ukernel_avx512`) | {mr} x {nr} | {c['acc']} {reg} |",
                      f"Per step of k the AVX-512 kernel issues {c['loads']} loads of B "
                      f"({c['width']} floats each), {mr} broadcasts of A",
                      f"and {c['fma']} `vfmadd231ps` ({mr} rows x {c['loads']} vectors)",
                      f"C tile c_ij: {mr} x {nr} floats = {c['acc']} {reg} registers")
        # GCC broadcasts each A value once for its two FMAs: no {1to16} operand to fold into
        assert c["embedded"] == 0 and c["broadcast"] == mr
        assert_states(f"{mr} broadcasts of A (`vbroadcastss`: each value feeds {c['loads']} FMAs")
    else:
        b_regs, a_regs = c["loads"], 1
        assert c["regs"] == c["acc"] + b_regs + a_regs, c
        assert_states(f"| AVX2+FMA (`ukernel_avx2`) | {mr} x {nr} | {c['acc']} {reg} | "
                      f"{c['acc']} + {b_regs} B + {a_regs} broadcast of 16 registers |",
                      f"the AVX2 kernel {c['loads']} loads, {c['broadcast']} broadcasts and "
                      f"{c['fma']} `vfmadd231ps`")


def test_x86_indirect_kernels_loops():
    """The trace (10.1, 10.2): the indirect-A and indirect-B kernels' steps."""
    ind, indb = counts("avx512", "_ind"), counts("avx512", "_indb")
    for c in (ind, indb):
        assert c["embedded"] == 0
    assert_states(f"{ind['loads']} loads of B, {ind['broadcast']} broadcasts from the row "
                  f"pointers and {ind['fma']} FMAs",
                  f"per pixel {indb['loads']} loads of B through that pixel's pointer, "
                  f"{indb['broadcast']} broadcasts of dout's values for the tile's "
                  f"{indb['broadcast']} output channels, {indb['fma']} FMAs")
    for isa in ("avx512", "avx2"):   # every variant does the plain kernel's step
        plain = counts(isa)
        for suffix in ("_ind", "_indb"):
            c = counts(isa, suffix)
            assert (c["loads"], c["broadcast"], c["fma"], c["acc"]) == \
                (plain["loads"], plain["broadcast"], plain["fma"], plain["acc"]), (isa, suffix)


def test_neon_micro_kernel_loop():
    c = counts("neon")
    width = ISAS["neon"][2]
    mr, nr = c["a_values"], c["b_regs"] * width
    assert (mr, nr) == (define("NEON_MR"), define("NEON_NR"))
    assert c["other"] == 0 and c["fma"] == mr * c["b_regs"] and c["acc"] == c["fma"], c
    assert c["a_regs"] * width == mr and c["b_loads"] == c["b_regs"], c
    assert c["acc"] + c["b_regs"] + c["a_regs"] <= 32
    assert_states(f"| NEON, aarch64 (`ukernel_neon`) | {mr} x {nr} | {c['acc']} q (128-bit) | "
                  f"of 32 registers: {c['acc']} + {c['b_regs']} B + {c['a_regs']} A;",
                  f"the NEON kernel {c['b_loads']} loads of B and {c['a_loads']} of A "
                  f"({mr} values, {width} a register) and {c['fma']} `fmla` by lane",
                  f"One {mr} x {nr} step is {c['fma']} FMLAs ({c['fma'] * width * 2} FLOP) "
                  f"against {c['b_loads'] + c['a_loads']} loads")
    for suffix in ("_ind", "_indb"):
        v = counts("neon", suffix)
        assert (v["fma"], v["acc"], v["a_values"]) == (c["fma"], c["acc"], c["a_values"]), suffix


def test_generic_tile():
    mr, nr = define("GENERIC_MR"), define("GENERIC_NR")
    assert_states(f"| portable C (`ukernel_generic`) | {mr} x {nr} | {mr * nr} floats |")


def test_neon_peak_arithmetic():
    """Section 8's expected NEON rates: FLOP per cycle x clock, as stated."""
    per_fma = 4 * 2   # a 128-bit fmla: 4 lanes, a multiply and an add
    for fmas, ghz, gflops in ((2, 2.5, 40), (2, 3.0, 48), (4, 2.6, 83), (4, 3.2, 102)):
        assert round(fmas * per_fma * ghz) == gflops
    assert_states("issues 2 128-bit FMAs per cycle, 16 FLOP/cycle: 40-48 GFLOP/s per core at "
                  "2.5-3.0 GHz", "issue 4, 32 FLOP/cycle: about 83 GFLOP/s at 2.6 GHz and "
                  "102 GFLOP/s at 3.2 GHz")


# ---- the cache blocks: csrc/config.c's rule on the caches the guide names ---------------------

KiB, MiB = 1 << 10, 1 << 20
# the machine of benchmarks.md, whose caches the guide's figures are worked out on (2.5)
BENCH_CACHES = (32 * KiB, 1 * MiB, 32 * MiB)   # the Zen 4 of benchmarks.md sections 18-24
BENCH_WAYS = (8, 8, 16)


def test_blocks_from_the_caches():
    tiles = {isa: (define(f"{isa.upper()}_MR"), define(f"{isa.upper()}_NR")) for isa in ("avx512", "avx2")}
    b512 = _kernels.derive_blocking(*tiles["avx512"], BENCH_CACHES, BENCH_WAYS)
    b2 = _kernels.derive_blocking(*tiles["avx2"], BENCH_CACHES, BENCH_WAYS)
    free, l2, l3 = define("BLOCK_L1_WAYS_FREE"), define("BLOCK_L2_PART"), define("BLOCK_L3_PART")
    l2b = define("BLOCK_L2_B_PART")
    ways = BENCH_WAYS[0]
    mr, nr = tiles["avx512"]
    kc_l1 = {isa: BENCH_CACHES[0] // ways * (ways - free) // (t[1] * 4) for isa, t in tiles.items()}
    kc_l2 = {isa: BENCH_CACHES[1] // l2b // (t[1] * 4) for isa, t in tiles.items()}
    assert b512["kc"] == kc_l2["avx512"] // 16 * 16 > kc_l1["avx512"]
    assert b2["kc"] == define("GEMM_KC_MAX") < kc_l2["avx2"]
    row = b512["kc"] * 4   # bytes of an A block's row, and of a B panel's column
    assert_states(
        f"| KC | the B micro-panel (KC x NR x S) fills L1d less {free} of its W ways",
        f"or a {'twelfth' if l2b == 12 else l2b} of L2 where that is more (it then streams from L2); "
        f"a multiple of 16, {define('GEMM_KC_MIN')} to {define('GEMM_KC_MAX')} | "
        f"1 MiB / {l2b} / {nr * 4} B -> **{b512['kc']}** (L1d alone: 32 KiB x {ways - free}/{ways} / "
        f"{nr * 4} B = {kc_l1['avx512']}) | 1 MiB / {l2b} / {tiles['avx2'][1] * 4} B -> **{b2['kc']}**, "
        f"the cap (L1d alone: {kc_l1['avx2']}) |",
        f"| MC | the A block at L1's depth (MC x the KC of L1 alone x S) is a "
        f"{'sixth' if l2 == 6 else l2} of L2, and at the KC in use at most 3/4 of it; rounded up to "
        f"a multiple of MR | 1 MiB / {l2} / {fmt(kc_l1['avx512'] * 4)} B -> **{b512['mc']}** | "
        f"1 MiB / {l2} / {fmt(kc_l1['avx2'] * 4)} B -> **{b2['mc']}** |",
        f"| NC | the B panel (KC x NC x S) is a {'quarter' if l3 == 4 else l3} of L3; a multiple "
        f"of NR, at most {fmt(define('GEMM_NC_MAX'))} | 32 MiB / {l3} / {fmt(row)} B -> "
        f"**{fmt(b512['nc'])}** | **{fmt(b2['nc'])}** |",
        f"whose 32 KiB L1d alone gave AVX-512 a KC of\n{kc_l1['avx512']} and AVX2 {kc_l1['avx2']}",
        f"GEMM blocks:  MC {b512['mc']}, KC {b512['kc']}, NC {b512['nc']} (from the caches",
        # the picture of one step of loop 4 (section 2)
        f"each micro-panel KC x {nr} floats = {b512['kc'] * nr * 4 // KiB} KiB (KC = {b512['kc']} "
        "here) in L2",
        f"MC = {b512['mc']} rows per task at most here (A block {b512['mc']} x {b512['kc']} floats "
        f"= {b512['mc'] * b512['kc'] * 4 // KiB} KiB in L2)")
    assert b512["kc"] * nr * 4 % KiB == 0 and b512["mc"] * b512["kc"] * 4 % KiB == 0
    assert b512["mc"] == -(-(BENCH_CACHES[1] // l2 // (kc_l1["avx512"] * 4)) // mr) * mr
    assert define("BLOCK_L2_A_MAX_NUM") * BENCH_CACHES[1] // define("BLOCK_L2_A_MAX_DEN") >= \
        b512["mc"] * b512["kc"] * 4
    # the Zen 5 class machine the constants were first tuned on: L1 alone gave the old KC 320
    zen5 = _kernels.derive_blocking(mr, nr, (48 * KiB, 1 * MiB, 32 * MiB), (12, 16, 16))
    assert zen5["kc"] == b512["kc"] and 48 * KiB // 12 * (12 - free) // (nr * 4) == 320
    assert_states(f"L1\nalone gave AVX-512 the old hand-tuned KC = 320; the L2 share gives it {zen5['kc']} there too.")


def test_blocks_on_zen1():
    """2.5's other machines: the AVX2 tile on a Zen 1's caches (sysfs: 8, 8 and 16 ways), and
    on a 256 KiB L2, where L1's share is the larger."""
    b = _kernels.derive_blocking(define("AVX2_MR"), define("AVX2_NR"), (32 * KiB, 512 * KiB, 8 * MiB),
                                 (8, 8, 16))
    assert_states(f"On an AVX2-only AMD Zen 1 (L1d 32 KiB 8-way, L2 512 KiB,\nL3 8 MiB) the same rule "
                  f"gives the {define('AVX2_MR')} x {define('AVX2_NR')} tile KC {b['kc']}, MC {b['mc']} "
                  f"and NC {fmt(b['nc'])};")
    small = _kernels.derive_blocking(define("AVX2_MR"), define("AVX2_NR"), (32 * KiB, 256 * KiB, 8 * MiB),
                                     (8, 4, 16))
    assert_states(f"on a 256 KiB L2 (Skylake client) L1's share is the larger: KC {small['kc']} as before.")


def test_blocking_defaults_and_bounds():
    src = (CSRC / "config.c").read_text(encoding="utf-8")
    assert "PYCONV_CACHE_DEFAULTS[3] = {32 << 10, 512 << 10, 8 << 20}" in src
    ways = define("BLOCK_WAYS_DEFAULT")
    mx = _kernels.BLOCKING_SET_MAX
    assert_states(f"defaults of 32 KiB / 512 KiB / 8 MiB with {ways} ways where nothing is reported",
                  f"(bounds: mc <= {fmt(mx['mc'])}, kc <= {fmt(mx['kc'])}, nc <= {fmt(mx['nc'])})")
    for name, value in mx.items():   # the Python table is csrc/blocking.h's
        assert define(f"BLOCKING_SET_MAX_{name.upper()}") == value


# ---- the work partitions: mirrors of the rules, their C lines pinned --------------------------

def ceil_div(a, b):
    return -(-a // b)


GEMM_RULE = (   # (OpenMP's threads: gemm passes min_flops = GEMM_PAR_MIN_FLOPS off the inference pool)
    "plan_call(&pl, nthreads, GEMM_PAR_MIN_FLOPS);",
    "pl->nthreads = 2.0 * (double)pl->M * (double)pl->N * (double)pl->K < min_flops "
    "|| !c->data ? 1 : nthreads;",
    "pl->m_tiles = ceil_div(pl->M, g->mr);",
    "pl->n_mblocks = ceil_div(pl->m_tiles, g->mc / g->mr);",
    "pl->col_groups = pl->n_mblocks >= 4 || pl->nthreads == 1 ? 1 : ceil_div(4, pl->nthreads) * "
    "pl->nthreads;",
    "if (pl->n_mblocks >= 4) pl->n_mblocks = ceil_div(pl->n_mblocks, pl->nthreads) * pl->nthreads;",
    "const int64_t n_panels = ceil_div(nc_cur, pl.g.nr);",
    "const int64_t n_groups = pl.col_groups < n_panels ? pl.col_groups : n_panels;",
    "const int64_t tasks = pl->n_mblocks * st->n_groups;",
    "#pragma omp for schedule(static) for (int64_t t = 0; t < tasks; t++)",
    "const int64_t mb = t / st->n_groups;",
    "const int64_t ic = mb * pl->m_tiles / pl->n_mblocks * mr;",
    "const int64_t ie = (mb + 1) * pl->m_tiles / pl->n_mblocks * mr;",
    "const int64_t grp = t % st->n_groups;",
    "const int64_t j0 = grp * st->n_panels / st->n_groups * nr;",
    "const int64_t je = (grp + 1) * st->n_panels / st->n_groups * nr;",
    "if (mc_cur <= 0) return;",
)
DEPTH_RULE = (
    "const int64_t unit = a->C ? a->C : 1, units = ceil_div(K, unit);",
    "const int64_t kc = ceil_div(units, ceil_div(units, KC / unit)) * unit;",
)
BWF_RULE = (
    "#define BWF_CHUNK (4 * 256)",
    ".npix = sh->N * sh->P * sh->Q, .swapped = sh->C >= SMALL_C};",
    "pl.bias_row = has_bias && !pl.swapped;",
    "pl.M = pl.swapped ? sh->K : pl.RSC + 1;",
    "pl.Ncol = pl.swapped ? pl.RSC : sh->K;",
    "int64_t nchunks = ceil_div(npix, BWF_CHUNK);",
    "if (nchunks > 1) nchunks = ceil_div(nchunks, 4) * 4;",
    "const int64_t most = BWF_PARTS_BYTES / (int64_t)sizeof(float) / (pl.M * pl.Ncol) / 4 * 4;",
    "if (pl.swapped && nchunks > most) nchunks = most > 4 ? most : 4;",
    "pl.chunk = ceil_div(npix, nchunks);",
    "pl.nchunks = ceil_div(npix, pl.chunk);",
    "#pragma omp parallel for schedule(dynamic, 1) num_threads(pyconv_num_threads())",
    "gemm(&(gemm_out){.data = part + ch * pl->M * pl->Ncol, .ld = pl->Ncol}, &a_ch, &b_ch, pl->M, "
    "pl->Ncol, len, 1);",
)
BWI_RULE = (
    "#define BWI_ROWS 256",
    "int64_t ngroups = ceil_div(sh->N * sh->P * sh->Q, BWI_ROWS);",
    "ngroups = ngroups < 4 ? 4 : ceil_div(ngroups, 4) * 4;",
    "ngroups = ngroups > sh->N ? sh->N : ngroups;",
    "const int64_t G = ceil_div(sh->N, ngroups);",
    "ngroups = ceil_div(sh->N, G);",
    "#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if(ngroups > 1)",
)
POOL_RULE = (
    "const int64_t NP = sh->N * sh->P, touched = NP * sh->Q * sh->C * sh->R * sh->S;",
    "const int threads = touched > POOL_PAR_MIN ? pyconv_num_threads() : 1;",
    "#pragma omp parallel for schedule(static) num_threads(threads) for (int64_t np = 0; np < NP; np++)",
    "const int64_t nb = ceil_div(C, POOL_CB);",
    "#pragma omp parallel for schedule(static) num_threads(pyconv_num_threads()) "
    "if(N * P * Q * C * sh->R * sh->S > POOL_PAR_MIN) for (int64_t t = 0; t < N * nb; t++) {",
)


def test_the_mirrors_copy_the_code():
    pinned("csrc/gemm.c", *GEMM_RULE)
    pinned("csrc/gemm.c", *DEPTH_RULE)
    pinned("csrc/conv2d.c", *BWF_RULE)
    pinned("csrc/conv2d.c", *BWI_RULE)
    pinned("csrc/pool2d_loops.h", *POOL_RULE)
    pinned("csrc/act.c", "if(n > ELEMWISE_PAR_MIN) for (int64_t i = 0; i < n; i++) {")
    pinned("csrc/conv2d.c", "const int threads = 2.0 * (double)(sh->N * sh->P * sh->Q) * (double)K "
           "* (double)RSC >= GEMM_PAR_MIN_FLOPS && sh->N * sh->P > 1 ? pyconv_num_threads() : 1;")
    pinned("csrc/conv2d_smallc_loops.h", "#pragma omp parallel for schedule(static) num_threads(threads) "
           "for (int64_t row = 0; row < rows; row++) {")
    pinned("csrc/dense_loops.h", "blocks > 1 && 2.0 * (double)N * (double)C * (double)K >= "
           "DENSE_ROWS_PAR_MIN ? pyconv_num_threads() : 1;")


MR, NR = define("AVX512_MR"), define("AVX512_NR")   # the tile the guide's partitions use


def bench_mc():
    return _kernels.derive_blocking(MR, NR, BENCH_CACHES, BENCH_WAYS)["mc"]


def gemm_offers(M, N, K):
    """How many tasks a GEMM offers: those of loop 3 at a thread count above any (one below
    GEMM_PAR_MIN_FLOPS, where it stays on one thread)."""
    return len({owner for owner, _, _ in gemm_tasks(M, N, K, MANY, bench_mc())})


def gemm_tasks(M, N, K, threads, mc):
    """Loop 3's tasks as the threads take them (GEMM_RULE): [(thread, tiles x panels)]."""
    nthreads = 1 if 2.0 * M * N * K < define("GEMM_PAR_MIN_FLOPS") else threads
    m_tiles = ceil_div(M, MR)
    n_mblocks = ceil_div(m_tiles, mc // MR)
    col_groups = 1 if n_mblocks >= 4 or nthreads == 1 else ceil_div(4, nthreads) * nthreads
    if n_mblocks >= 4:
        n_mblocks = ceil_div(n_mblocks, nthreads) * nthreads
    n_panels = ceil_div(N, NR)
    n_groups = min(col_groups, n_panels)
    T = n_mblocks * n_groups
    tasks = []
    for t in range(T):
        mb, grp = t // n_groups, t % n_groups
        tiles = (mb + 1) * m_tiles // n_mblocks - mb * m_tiles // n_mblocks
        panels = (grp + 1) * n_panels // n_groups - grp * n_panels // n_groups
        if tiles > 0:
            tasks.append((_static_owner(t, T, nthreads), tiles, panels))
    return tasks


def _static_owner(t, T, P):
    """The thread of iteration t under OpenMP's schedule(static) without a chunk: P contiguous
    runs, the first T % P one longer (libgomp's split)."""
    q, r = divmod(T, P)
    return t // (q + 1) if t < r * (q + 1) else r + (t - r * (q + 1)) // q


def dynamic(loads, P):
    """schedule(dynamic, 1): each task in order to the thread that is free first."""
    free = [0] * P
    for w in loads:
        i = free.index(min(free))
        free[i] += w
    return free


def busy(per_thread):
    """Mean over max of the threads' loads, in percent."""
    return 100 * sum(per_thread) / len(per_thread) / max(per_thread)


def gemm_busy(M, N, K, P, mc):
    load = [0] * P
    for owner, tiles, panels in gemm_tasks(M, N, K, P, mc):
        load[owner] += tiles * panels
    return busy(load)


def bwf_plan(N, P_, Q, C, K, RS=9, has_bias=True):
    npix, swapped, RSC = N * P_ * Q, C >= define("SMALL_C"), RS * C
    bias_row = int(has_bias and not swapped)   # below SMALL_C: the small-C loop nest's bias row
    M, Ncol = (K, RSC) if swapped else (RSC + 1, K)
    nchunks = ceil_div(npix, define("BWF_CHUNK"))
    if nchunks > 1:
        nchunks = ceil_div(nchunks, 4) * 4
    most = define("BWF_PARTS_BYTES") // 4 // (M * Ncol) // 4 * 4
    if swapped and nchunks > most:
        nchunks = max(most, 4)
    chunk = ceil_div(npix, nchunks)
    nchunks = ceil_div(npix, chunk)
    return dict(npix=npix, M=M, Ncol=Ncol, nchunks=nchunks, chunk=chunk, bias_row=bias_row,
                swapped=swapped)


def bwi_groups(N, P_, Q):
    ngroups = ceil_div(N * P_ * Q, define("BWI_ROWS"))
    ngroups = 4 if ngroups < 4 else ceil_div(ngroups, 4) * 4
    ngroups = min(ngroups, N)
    G = ceil_div(N, ngroups)
    ngroups = ceil_div(N, G)
    return ngroups, G


def test_conv2_forward_partition():
    """Sections 2 and 10.1: conv2 at batch 32 on 2 threads, here and under an MC of 136 (the
    rule's on a 48 KiB L1 alone), where equal shares matter: 29 blocks would be odd."""
    mc = bench_mc()
    M = 32 * 11 * 11
    tasks = gemm_tasks(M, 64, 288, 2, mc)
    rows = sorted({tiles * MR for _, tiles, _ in tasks})
    old = gemm_tasks(M, 64, 288, 2, 136)
    old_rows = sorted({tiles * MR for _, tiles, _ in old})
    naive = ceil_div(ceil_div(M, MR), 136 // MR)
    assert_states(f"(M = {fmt(M)} output pixels, N = 64 channels, depth 288: a single depth block)",
                  f"(conv2's {fmt(M)} rows at batch 32: {len(tasks)} blocks of {rows[0]}-{rows[-1]} "
                  f"rows here; under an MC of 136, {len(old)} blocks of {old_rows[0]}-{old_rows[-1]} "
                  f"rows rather than {naive} of 136",
                  f"M = 32 x 11 x 11 = {fmt(M)} output pixels, N = K = 64 channels, depth R x S x C "
                  "= 288",
                  f"{fmt(M)} rows are {ceil_div(M, MR)} tiles of MR = {MR}, in {len(tasks)} blocks "
                  f"of {rows[0]}-{rows[-1]} rows",
                  f"the threads pack B's {ceil_div(64, NR)} micro-panels of NR = {NR} columns")
    assert naive % 2 == 1 and len(old) % 2 == 0 and len(tasks) % 2 == 0


def test_depth_blocks():
    kc_here = _kernels.derive_blocking(MR, NR, BENCH_CACHES, BENCH_WAYS)["kc"]
    kc = 320   # the guide's and gemm.c's example: the KC of a 48 KiB L1 alone

    def cut(K, unit=1):
        units = ceil_div(K, unit)
        step = ceil_div(units, ceil_div(units, kc // unit)) * unit
        return [min(step, K - p) for p in range(0, K, step)]
    assert cut(288) == [288] and cut(288, 32) == [288]
    a, b = cut(576)
    assert_states(f"a 576-deep sum under a KC of {kc} is {a} + {b}, not {kc} + {576 - kc})",
                  f"288 <= KC = {kc_here}, so each C tile is stored once")
    taps = [d // 64 for d in cut(576, 64)]
    src = _squash((CSRC / "gemm.c").read_text(encoding="utf-8"))
    assert f"(576 = {a} + {b}, not {kc} + {576 - kc})" in src
    assert f"conv3's 9 taps of 64 as {taps[0]} + {taps[1]}" in src


def test_filter_gradient_chunks():
    """Sections 3, 6.2 and 10.2: backward_filter's pixel chunks, from bwf_plan_make's rule."""
    conv2 = bwf_plan(32, 11, 11, 32, 64)
    conv3_256 = bwf_plan(256, 3, 3, 64, 64)
    conv1 = bwf_plan(32, 26, 26, 1, 32)
    assert conv2["npix"] == 3872
    assert_states(f"sums over all {fmt(conv2['npix'])} output pixels",
                  f"{conv2['nchunks']} chunks of {conv2['chunk']} here",
                  f"`BWF_CHUNK` = {fmt(define('BWF_CHUNK'))} pixels",
                  f"conv3's filter gradient ({conv3_256['nchunks']} chunks of {conv3_256['chunk']} "
                  "pixels)",
                  f"conv2's filter-gradient chunks ({conv2['nchunks']} of ~1,000 pixels")
    # the first layer: no GEMM, the small-C loop nest's partials (R*S*C + the bias row) x K
    assert not conv1["swapped"] and conv1["bias_row"] == 1 and (conv1["M"], conv1["Ncol"]) == (10, 32)
    swapped = bwf_plan(32, 11, 11, 32, 64)
    assert_states(f"dW^T ({swapped['M']} x {swapped['Ncol']}) = dout^T . patches")


def test_input_gradient_groups():
    assert_states(f"backward_input's groups in general (whole images: {bwi_groups(32, 11, 11)[0]} "
                  "at batch 32)",
                  f"groups of whole images, about {define('BWI_ROWS')} output pixels each, at least 4, "
                  "a multiple of 4, at most N")


# The many-cores table (6.2): the tutorial CNN (28x28x1 -> conv1 3x3x32 -> pool 2 -> conv2
# 3x3x64 -> pool 2 -> conv3 3x3x64 -> dense 64 -> dense 10) and the DNN's 784 -> 128 layer.
CORES = (8, 16, 64)
BATCHES = (1, 32, 256)
MANY = 1 << 16   # more threads than any pass has tasks: the count each pass offers


def _pct(x):
    return f"{round(x)}"


def _gemm_pass(M_per, N, K, dense_rows=False):
    """(tasks, busy) of a GEMM whose M is M_per rows an example."""
    def tasks(n):
        if dense_rows and n <= define("DENSE_ROWS_MAX"):
            return 1   # dense_forward_rows: one thread below DENSE_ROWS_PAR_MIN (all rows here)
        return gemm_offers(M_per * n, N, K(n) if callable(K) else K)

    def load(n, P):
        return gemm_busy(M_per * n, N, K(n) if callable(K) else K, P, bench_mc())
    return tasks, load


def _rows_pass(rows_per, touched_per, threshold):
    def tasks(n):
        return 1 if touched_per * n <= threshold else rows_per * n

    def load(n, P):
        T = tasks(n)
        return 100 * T / P / ceil_div(T, P) if T > 1 else 100 / P
    return tasks, load


def _dynamic_pass(loads_of):
    def tasks(n):
        return len(loads_of(n))

    def load(n, P):
        return busy(dynamic(loads_of(n), P))
    return tasks, load


def _bwf_pass(P_, Q, C, K):
    def tasks(n):   # a single chunk: the GEMM's threads, or below SMALL_C one thread
        pl = bwf_plan(n, P_, Q, C, K)
        if pl["nchunks"] == 1:
            return gemm_offers(pl["M"], pl["Ncol"], pl["npix"]) if pl["swapped"] else 1
        return pl["nchunks"]

    def load(n, P):
        pl = bwf_plan(n, P_, Q, C, K)
        if pl["nchunks"] == 1 and not pl["swapped"]:
            return 100 / P
        if pl["nchunks"] == 1:
            return gemm_busy(pl["M"], pl["Ncol"], pl["npix"], P, bench_mc())
        sizes = [min(pl["chunk"], pl["npix"] - c * pl["chunk"]) for c in range(pl["nchunks"])]
        return busy(dynamic(sizes, P))
    return tasks, load


def _bwi_loads(P_, Q):
    def loads(n):
        ngroups, G = bwi_groups(n, P_, Q)
        return [min(G, n - g * G) for g in range(ngroups)]
    return loads


def _dense10(n):
    """The last dense layer's GEMMs, (M, N, K): forward, dx, dW."""
    return (n, 10, 64), (n, 64, 10), (64, 10, n)


PASSES = {
    # the direct loop (conv2d_smallc_loops.h): output rows, one thread below GEMM_PAR_MIN_FLOPS
    "conv1 forward (direct loop, 3.3: N·P output rows of 26 pixels)":
        _rows_pass(26, 2 * 26 * 26 * 32 * 9, define("GEMM_PAR_MIN_FLOPS")),
    "pool1 forward": _rows_pass(13, 13 * 13 * 32 * 4, define("POOL_PAR_MIN")),
    "conv2 forward (3,872 x 64 x 288)": _gemm_pass(11 * 11, 64, 288),
    "pool2 forward": _rows_pass(5, 5 * 5 * 64 * 4, define("POOL_PAR_MIN")),
    "conv3 forward (288 x 64 x 576)": _gemm_pass(3 * 3, 64, 576),
    "dense 576->64 forward": _gemm_pass(1, 64, 576, dense_rows=True),
    "dense 576->64 dx": _gemm_pass(1, 576, 64),
    "dense 576->64 dW": (lambda n: gemm_offers(576, 64, n),
                         lambda n, P: gemm_busy(576, 64, n, P, bench_mc())),
    "dense 64->10, all passes": (
        lambda n: max(gemm_offers(*mnk) for mnk in _dense10(n)),
        lambda n, P: min(gemm_busy(*mnk, P, bench_mc()) for mnk in _dense10(n))),
    "conv3 relu backward": _rows_pass(3 * 3 * 64, 3 * 3 * 64, define("ELEMWISE_PAR_MIN")),
    "conv3 backward_filter": _bwf_pass(3, 3, 64, 64),
    "conv3 backward_input": _dynamic_pass(_bwi_loads(3, 3)),
    "pool2 backward": _rows_pass(1, 5 * 5 * 64 * 4, define("POOL_PAR_MIN")),
    "conv2 backward_filter": _bwf_pass(11, 11, 32, 64),
    "conv2 backward_input": _dynamic_pass(_bwi_loads(11, 11)),
    "pool1 backward": _rows_pass(1, 13 * 13 * 32 * 4, define("POOL_PAR_MIN")),
    "conv1 backward_filter": _bwf_pass(26, 26, 1, 32),
    "DNN dense 784->128 forward": _gemm_pass(1, 128, 784, dense_rows=True),
    "DNN dense 784->128 dW": (lambda n: gemm_offers(784, 128, n),
                              lambda n, P: gemm_busy(784, 128, n, P, bench_mc())),
}


def _table_rows():
    rows = {}
    in_table = False
    for ln in GUIDE.read_text(encoding="utf-8").splitlines():
        if ln.startswith("| pass | tasks at batch 1 |"):
            in_table = True
            continue
        if in_table and not ln.startswith("|"):
            break
        if in_table and not ln.startswith("|---"):
            cells = [c.strip() for c in ln.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _split(name, cells):
    """A row for two passes ('dense 576->64 dx / dW', cells 'a / b', busy 'x; y') as two rows."""
    base, *two = re.fullmatch(r"(.*) (\w+) / (\w+)", name).groups()
    tasks = [c.split(" / ") for c in cells[:3]]
    busy_ = [c.split("; ") for c in cells[3:]]
    return {f"{base} {p}": [t[i] for t in tasks] + [b[i] for b in busy_] for i, p in enumerate(two)}


def test_many_cores_table():
    """6.2: every pass's task count at batch 1, 32, 256, and the share of 8 / 16 / 64 cores they
    keep busy at batch 32 and 256, from the mirrors (the tasks at a thread count above any)."""
    table = {}
    for name, cells in _table_rows().items():
        table.update(_split(name, cells) if " / " in name else {name: cells})
    assert set(table) == set(PASSES), sorted(set(PASSES) ^ set(table))
    bad = []
    for name, (tasks, load) in PASSES.items():
        cells = table[name]
        for i, n in enumerate(BATCHES):
            got = tasks(n)
            want = re.sub(r"\s*\(.*\)$", "", cells[i]).replace(",", "")
            if want == "elements":   # an elementwise pass, split at any count
                ok = got > max(CORES)
            elif want.endswith("chunks"):
                ok = str(got) == want.split()[0]
            else:
                ok = str(got) == want
            if not ok:
                bad.append(f"{name}, batch {n}: the code gives {got} tasks, the table {cells[i]}")
        for col, n in ((3, 32), (4, 256)):
            want = cells[col].rstrip("%")
            got = " / ".join(_pct(load(n, P)) for P in CORES)
            if want != got and not (want == "100" and got == "100 / 100 / 100"):
                bad.append(f"{name}, batch {n}: busy {got}%, the table {cells[col]}")
    assert not bad, "\n".join(bad)


def test_many_cores_prose():
    """6.2's reading of the table: which passes split at batch 1, the fewest tasks at 256."""
    at1 = {name: tasks(1) for name, (tasks, _) in PASSES.items() if tasks(1) > 1}
    assert at1 == {"conv2 forward (3,872 x 64 x 288)": 2, "conv2 backward_filter": 9}, at1
    assert_states("only conv2's forward and filter gradient pass it, and split their 2 and 9 "
                  "column panels")
    few = {name: tasks(256) for name, (tasks, _) in PASSES.items() if tasks(256) < 8}
    assert few == {"dense 576->64 forward": 4, "dense 576->64 dW": 6, "dense 64->10, all passes": 1,
                   "conv3 backward_filter": 4}, few
    conv3 = bwf_plan(256, 3, 3, 64, 64)
    assert_states(f"**Batch 256** offers at least 8 tasks in every pass but the dense layers "
                  f"(576->64's forward {few['dense 576->64 forward']} and filter gradient "
                  f"{few['dense 576->64 dW']}, 64->10's passes {few['dense 64->10, all passes']}) "
                  f"and conv3's filter gradient ({conv3['nchunks']} chunks of {conv3['chunk']} pixels)")
    at32 = {name: tasks(32) for name, (tasks, _) in PASSES.items()}
    conv2 = bwf_plan(32, 11, 11, 32, 64)
    finer = ceil_div(conv2["npix"], 4 * conv2["nchunks"])   # 4x the chunks, each 1/4
    assert_states(f"conv2's filter gradient ({at32['conv2 backward_filter']} chunks), conv3's "
                  f"forward and input gradient ({at32['conv3 forward (288 x 64 x 576)']} and "
                  f"{at32['conv3 backward_input']} tasks) and the dense layers' forward and filter "
                  f"gradient ({at32['dense 576->64 forward']} and {at32['dense 576->64 dW']})",
                  f"feed up to {max(at32['conv3 backward_filter'], at32['dense 576->64 dx'])}",
                  f"({conv2['nchunks']} of ~1,000 pixels: {4 * conv2['nchunks']} of "
                  f"{finer} would feed {4 * conv2['nchunks']} cores",
                  f"conv3's input gradient ({at32['conv3 backward_input']} image groups)")


def test_the_constants_the_guide_quotes():
    d = define
    assert_states(
        f"`POOL_CB` = {d('POOL_CB')}) is a running max and its positions held on the stack, "
        f"{d('POOL_CB') * (4 + 8) / KiB:g} KiB",
        f"at {d('BN_BLOCK')} rows x 64 channels = {d('BN_BLOCK') * 64 * 4 // KiB} KiB",
        f"a {d('BN_BLOCK')} x C block is {d('BN_BLOCK') * 64 * 4 // KiB} KiB at C = 64",
        f"(image, block of {d('POOL_CB')} channels)",
        f"blocks of `BN_BLOCK` = {d('BN_BLOCK')} rows",
        f"the passes prefetch their rows `BN_PF_ROWS` = {d('BN_PF_ROWS')} ahead into L2",
        f"(`BN_SCRATCH`: a row computed in pieces of {d('BN_SCRATCH')} floats into an L1 buffer",
        f"one thread below {fmt(d('POOL_PAR_MIN'))} values touched",
        f"one thread below {fmt(d('ELEMWISE_PAR_MIN'))} elements (Adam: "
        f"{fmt(d('OPTIM_PAR_MIN'))} per array; the gather: rows, one thread below "
        f"{fmt(d('GATHER_PAR_MIN_BYTES'))} bytes read)",
        "below 1 MFLOP one thread, `GEMM_PAR_MIN_FLOPS`",
        f"fixed blocks of {d('BIAS_BLOCK')} rows summed in parallel",
        f"in column blocks of {d('PRELU_COLS')}",
        f"blocks of `DENSE_COLS` = {d('DENSE_COLS')} output columns, from `DENSE_ROWS_PAR_MIN` FLOPs",
        f"chunks of about `DW_CHUNK` = {fmt(d('DW_CHUNK'))} output pixels")
    assert d("GEMM_PAR_MIN_FLOPS") == d("DENSE_ROWS_PAR_MIN") == 1e6
    pinned("csrc/conv2d.c", "if(pl->nchunks * size > 32768)")
    assert_states("reduced in parallel over filter elements when there are more than 32,768 values")


def test_dense_rows_figures():
    rows, cols = define("DENSE_ROWS_MAX"), define("DENSE_COLS")
    assert_states(f"`dense_forward` therefore sends N <= `DENSE_ROWS_MAX` ({rows}) rows to",
                  f"loop 2 (jb, step DENSE_COLS = {cols})",
                  f"acc[r][0..{cols}) += x[r][i] * W[i][jb..jb+{cols})     "
                  f"(acc: {rows * cols * 4 // KiB} KiB, in L1)",
                  f"the tutorial DNN's 784 x 128 layer at batch 1 reads {784 * 128 * 4 // 1000} KB "
                  "of W")


def test_depthwise_figures():
    qb, nq, nv = define("DW_QB"), define("DW_NQ"), define("DW_NV")
    vec = (define("DW_VEC", "depthwise_avx512.c"), define("DW_VEC", "depthwise_avx2.c"),
           define("DW_VEC", "depthwise_loops.h"))
    # per tap, qb pixels: qb input loads and one filter load; a 3-wide row at unit step: the
    # qb + 2 input columns and 3 filter vectors for 3 * qb multiply-adds
    per_tap, quad3 = (qb + 1) / qb, (qb + 2 + 3) / (3 * qb)
    assert_states(f"interior columns (every tap inside the image) DW_QB = {qb} at a time",
                  f"DW_NQ = {nq} vectors x {qb} pixels = {nq * qb} accumulators (interior)",
                  f"or DW_NV = {nv} vectors (border)",
                  f"each filter vector loaded once for the {qb} pixels: {per_tap:g} loads per "
                  "multiply-add instead of 2",
                  f"read {qb + 2} adjacent input columns for the {qb} pixels, each loaded once "
                  f"(dw_quad3): {quad3:g} loads per multiply-add",
                  f"DW_VEC = {vec[0]} / {vec[1]} / {vec[2]} floats for AVX-512 / AVX2 / portable")
    # the filter gradient's 3-tap path (dw_bwf_tri_vecs): 3*nt accumulators, 2*nt input columns
    # kept, nt input and nt dout vectors loaded per pixel, for 3*nt multiply-adds
    src = (CSRC / "depthwise_loops.h").read_text(encoding="utf-8")
    nts = [int(v) for v in re.findall(r"^#define DW_NT (\d+)$", src, re.M)]   # AVX-512, the rest
    assert len(nts) == 2 and "#if DW_VEC >= 16\n#define DW_NT" in src
    assert_states(f"DW_NT = {nts[0]} vectors under AVX-512, {nts[1]} otherwise: {7 * nts[0]} and "
                  f"{7 * nts[1]} registers",
                  f"({2 / 3:.2f} loads per multiply-add instead of 2)")


def test_tile_choices():
    """2.2's reasons for the tiles, worked on our shapes."""
    m = 64   # conv2's and conv3's output channels: the filter gradient's M
    for mr in (8, 12):
        idle = 1 - m / (ceil_div(m, mr) * mr)
        if mr == 12:
            assert_states(f"where {mr} left {round(100 * idle)}% of the tile idle")
        else:
            assert idle == 0
    # a packed element of A feeds N / 16 FMAs (one per 16-float vector of B's columns)
    assert_states(f"each packed element feeds only {32 // 16} to {64 // 16} FMA instructions")
    generic, neon = define("GENERIC_NR"), define("NEON_NR")
    assert 32 % neon == 0 and 64 % neon == 0 and 32 % generic == 0


def test_thread_counts_tested():
    src = (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")
    counts = re.search(r"^THREAD_COUNTS = \(([\d, ]+)\)", src, re.M).group(1).split(", ")
    said = ", ".join(counts[:-1]) + " and " + counts[-1]
    text = guide()
    assert text.count(f"at {said} threads") >= 2, f"the guide should say: at {said} threads"


def test_inference_chunk_constants():
    inf = _inference
    macs = f"{inf.MIN_CHUNK_MACS:.0e}".replace("e+0", "e")   # 3e6
    assert_states(f"Chunks hold at most {inf.L2_MULTIPLE:g}x L2 of one step's input and output",
                  f"{inf.CHUNKS_PER_THREAD} a thread where each still pays for its hand-off "
                  f"({macs} multiply-adds)",
                  f"more than {inf.TAIL_WAIT:g} of the caller's own chunk times",
                  f"the batch-256 CNN's {256 * 26 * 26 * 32 * 4 // 10**6} MB first activation",
                  f"Helpers take chunks only where the batch has "
                  f"{inf.MIN_THREAD_MACS:.0e}".replace("e+0", "e") + " multiply-adds a thread")


# ---- timings: the guide quotes benchmarks.md, and the two agree ------------------------------

BENCH = ROOT / "docs" / "benchmarks.md"


def bench_section(title_start):
    text = BENCH.read_text(encoding="utf-8")
    m = re.search(r"^## %s.*?(?=^## )" % re.escape(title_start), text, re.S | re.M)
    assert m, f"benchmarks.md has no section '{title_start}'"
    return _squash(m.group(0))


def test_timings_are_benchmarks_figures():
    """A time or speed the guide gives is one benchmarks.md measured, in the section it names."""
    sec8 = bench_section("8. ")
    pct = re.search(r"conv1's forward \(tiles 9 deep\) was (\d+)% slower", sec8).group(1)
    hook = re.search(r"tile call through a pointer per tile, conv1's forward stayed ([\d-]+)% "
                     "slower", sec8).group(1)
    assert_states(f"and with it {pct}% of a first-layer pass, whose tiles are only 9 deep "
                  "(docs/benchmarks.md section 8)",
                  f"a hook called per tile cost conv1's forward {hook}%")
    # section 9's "65-99% of the roofline": conv2's and conv3's passes in benchmarks.md's table
    sec3 = BENCH.read_text(encoding="utf-8").split("## 3. Per layer", 1)[1].split("\n## ", 1)[0]
    shares = [int(row.split("|")[6].strip().rstrip("%")) for row in sec3.splitlines()
              if row.startswith(("| conv2 13x13", "| conv3 5x5"))]
    assert len(shares) == 12
    assert_states(f"the three passes run at {min(shares)}-{max(shares)}% of the roofline")
    sec7 = bench_section("7. ")
    for moved in ("6.2x on 8 cores, 8.5x on 16 and 10.5x on 64", "in 5.6 µs on one AVX-512"):
        assert moved in sec7
    assert_states("(the figures: benchmarks.md section 7, 'Many cores')",
                  "(its time against the GEMM's: benchmarks.md section 10, 'DNN at batch 1')")
    assert "**DNN at batch 1" in bench_section("10. ")


# ---- act_more.c's polynomials: their error, measured on a sample of every float -------------

ULP_SCAN = r"""
#include "act_more.c"
#include <float.h>
#include <stdio.h>

static double ulp_of(double y)   /* the float32 ulp at |y| (below the normals, 2^-149) */
{
    int e;
    if (fabs(y) < FLT_MIN)
        return ldexp(1.0, -149);
    frexp(fabs(y), &e);   /* |y| = m 2^e, m in [0.5, 1) */
    return ldexp(1.0, e - 24);
}

static float exp_f(float x) { return exp_k(x); }
static float expm1_f(float x) { return expm1_k(x); }
static float log1p_f(float x) { return log1p_k(x); }

/* the largest error over every STRIDE-th float of [lo, hi], in ulps of the exact result */
static double scan(float (*f)(float), double (*g)(double), float lo, float hi)
{
    double worst = 0;
    for (int neg = 0; neg < 2; neg++)
        for (uint32_t b = 0; b < 0x7f800000u; b += STRIDE) {
            uint32_t bits = b | (neg ? 0x80000000u : 0);
            float x;
            memcpy(&x, &bits, sizeof x);
            if (x < lo || x > hi)
                continue;
            double want = g(x), err = fabs((double)f(x) - want) / ulp_of(want);
            worst = err > worst ? err : worst;
        }
    return worst;
}

int main(void)
{
    printf("%.4f %.4f %.4f %.4f\n", scan(exp_f, exp, -104.0f, 88.7f),
           scan(expm1_f, expm1, -104.0f, 88.7f), scan(log1p_f, log1p, 0.0f, 1.0f),
           scan(expm1_f, expm1, -104.0f, 0.0f));
    return 0;
}
"""


def test_polynomial_errors(tmp_path):
    """5.3's ulps of exp_k, expm1_k, log1p_k: the guide gives the worst error over every float
    of their range (benchmarks.md section 7); a sample of every 1009th float must come within
    half an ulp of it, and never above it."""
    cc = _compiler("x86_64") or _compiler("aarch64")
    if cc is None:
        pytest.skip("no C compiler to build the ulp scan of act_more.c's polynomials")
    src, exe = tmp_path / "ulp_scan.c", tmp_path / "ulp_scan"
    src.write_text(ULP_SCAN, encoding="utf-8")
    res = subprocess.run([cc, "-O2", "-fno-math-errno", "-ffp-contract=off", "-DSTRIDE=1009",
                          "-I", str(CSRC), "-o", str(exe), str(src), str(CSRC / "scratch.c"),
                          "-pthread", "-lm"], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    got = [float(v) for v in subprocess.run([str(exe)], capture_output=True, text=True,
                                            check=True).stdout.split()]
    m = re.search(r"within ([\d.]+), ([\d.]+) and ([\d.]+) ulps of the exact result over their "
                  r"range \(every float32: expm1_k ([\d.]+) on the negative half", guide())
    assert m, "5.3 should give the polynomials' errors in ulps of the exact result"
    stated = [float(v) for v in m.groups()]
    for name, s, g in zip(("exp_k", "expm1_k", "log1p_k", "expm1_k below 0"), stated, got):
        assert s - 0.5 <= g <= s, f"{name}: the guide says {s} ulps, a sample of the floats gives {g:.3f}"
