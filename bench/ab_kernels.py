"""One kernel call of this tree against an earlier commit's, in one process (docs/benchmarks.md 16).

    python -m bench.ab_kernels REV [--threads 1] [--rounds 8] [CASE ...]

A CASE is LAYER_PASS_BATCH: LAYER conv1, conv2, conv3 (the tutorial CNN's 3x3 VALID layers,
bench/kernels.py), pool1, pool2 (its 2x2 max poolings, of 26x26x32 and 11x11x64: PASS fw only) or convt (Conv2DTranspose 3x3 stride 2 'same', 14x14x128 -> 28x28x64:
bench/bn_convt.py); PASS fw, bi (input gradient) or bf (filter gradient, with the bias
gradient for conv*); e.g. convt_bi_256. REV is built and imported as `pyconv_base` beside this
tree's `pyconv` (bench/ab.py, base_package), each with its own `_kernels` .so. Per round, each
build runs about 50 ms of calls (one warm-up, then the median), the order of the two alternating
from round to round. Printed per case: each build's median time and GFLOP/s over the rounds, the
ratio base / this tree per round (above 1: this tree is faster) with its median and range, and
whether the two give the same bits.
"""
import argparse
import importlib
import os
import time

import numpy as np

import pyconv   # before base_package: pyconv_base must not shadow this tree's extension

from bench.ab import base_package

CONVS = {"conv1": (28, 1, 32), "conv2": (13, 32, 64), "conv3": (5, 64, 64)}
POOLS = {"pool1": (26, 32), "pool2": (11, 64)}
CASES = ["convt_bi_32", "convt_bi_256", "convt_bf_32", "convt_bf_256", "conv3_bf_256",
         "conv2_bf_256", "conv1_fw_256"]


def make_call(pkg, case):
    """(fn, FLOPs) of CASE on package `pkg` (pyconv or pyconv_base), data from fixed seeds."""
    kern = importlib.import_module(pkg.__name__ + "._kernels")
    window = importlib.import_module(pkg.__name__ + "._geometry").Window
    layer, pass_, n = case.rsplit("_", 2)
    n = int(n)
    rng = [np.random.default_rng(s) for s in (1, 2, 3)]
    if layer == "convt":
        lay = importlib.import_module(pkg.__name__ + ".layers").Conv2DTranspose(
            64, 3, strides=2, padding="same", use_bias=False)
        x = rng[0].standard_normal((n, 14, 14, 128)).astype(np.float32)
        lay(x[:1])
        lay.kernel[...] = rng[1].standard_normal(lay.kernel.shape)
        g = rng[2].standard_normal((n, 28, 28, 64)).astype(np.float32)
        _, win = lay._geometry(x.shape)
        fns = {"fw": lambda: lay._fwd(x, True)[0],
               "bi": lambda: kern.conv2d_fwd(g, lay.kernel, None, False, win),
               "bf": lambda: kern.conv2d_bwd_filter(g, lay.kernel.shape, x, win)}
        return fns[pass_], 2.0 * n * 14 * 14 * 128 * 64 * 9
    if layer in POOLS:
        h, c = POOLS[layer]
        x = rng[0].standard_normal((n, h, h, c)).astype(np.float32)
        win = window(h // 2, h // 2, 2, 2, 2, 2, 1, 1, 0, 0)
        fns = {"fw": lambda: kern.maxpool2d_fwd(x, win)}
        return fns[pass_], float(n * (h // 2) ** 2 * 4 * c)   # compares, one per element read
    h, c, k = CONVS[layer]
    p = h - 2
    x = rng[0].standard_normal((n, h, h, c)).astype(np.float32)
    w = rng[1].standard_normal((3, 3, c, k)).astype(np.float32)
    g = rng[2].standard_normal((n, p, p, k)).astype(np.float32)
    win = window(p, p, 3, 3, 1, 1, 1, 1, 0, 0)
    fns = {"fw": lambda: kern.conv2d_fwd(x, w, None, False, win),
           "bi": lambda: kern.conv2d_bwd_input(x.shape, w, g, win),
           "bf": lambda: kern.conv2d_bwd_filter(x, w.shape, g, win, True)}
    return fns[pass_], 2.0 * n * p * p * k * 9 * c


def median_block(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def compare(base, case, rounds):
    fa, flops = make_call(base, case)
    fb, _ = make_call(pyconv, case)
    outs = [f() for f in (fa, fb)]
    outs = [o if isinstance(o, tuple) else (o,) for o in outs]
    same = all(np.array_equal(a, b) for a, b in zip(*outs))
    reps = max(3, int(0.05 / median_block(fa, 1)))
    ta, tb, ratios = [], [], []
    for r in range(rounds):
        pair = [(fa, ta), (fb, tb)] if r % 2 == 0 else [(fb, tb), (fa, ta)]
        for fn, acc in pair:
            acc.append(median_block(fn, reps))
        ratios.append(ta[-1] / tb[-1])
    a, b = float(np.median(ta)), float(np.median(tb))
    return (f"{case:14s} base {a * 1e3:8.3f} ms {flops / a / 1e9:6.1f} GFLOP/s | "
            f"this tree {b * 1e3:8.3f} ms {flops / b / 1e9:6.1f} GFLOP/s | base / this "
            f"{np.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}] same bits: {same}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rev")
    ap.add_argument("cases", nargs="*", default=CASES)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=8)
    a = ap.parse_intermixed_args(argv)
    base, sha = base_package(a.rev)
    for pkg in (pyconv, base):
        pkg.set_num_threads(a.threads)
    print(f"base {a.rev} ({sha[:10]}), {a.threads} thread(s), load {os.getloadavg()[0]:.2f}",
          flush=True)
    for case in a.cases:
        print(compare(base, case, a.rounds), flush=True)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
