"""DepthwiseConv2D's kernels against an earlier commit's and PyTorch's, in one process.

    python -m bench.dw_ab REV [--batch 32 128] [--threads 1 2] [--repeats 15]

REV is built once and imported as `pyconv_base` beside this tree's pyconv (bench/ab.py's
base_package). For MobileNet's 3x3 SAME stride-1 shapes (bench/kernels.py's DEPTHWISE_LAYERS)
each pass is called with this tree's kernels, REV's and PyTorch's conv2d(groups=C) on
channels_last tensors in turn, round after round, so that all three see the same machine state
(two runs a minute apart differ by more than most changes on a shared machine). Printed per
row: the medians in ms, this tree's GB/s (activations read and written), PyTorch's time over
ours and REV's time over ours (above 1: this tree is faster), and the load average.
"""
import argparse
import importlib
import os
import time

import numpy as np

import pyconv   # first: REV's extension, loaded first, would also register as pyconv._kernels
from bench.ab import base_package
from bench.kernels import DEPTHWISE_LAYERS, depthwise_passes

PASSES = ("forward", "backward_input", "backward_filter")


def rounds(fns, repeats):
    """Median seconds of each of fns, called in turn, repeats rounds after two warm-ups each."""
    for f in fns:
        f()
        f()
    ts = [[] for _ in fns]
    for _ in range(repeats):
        for i, f in enumerate(fns):
            t = time.perf_counter()
            f()
            ts[i].append(time.perf_counter() - t)
    return [float(np.median(t)) for t in ts]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.dw_ab", description=__doc__.split("\n\n")[0])
    ap.add_argument("rev", help="the commit to compare against (anything git rev-parse takes)")
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args(argv)
    import torch
    base, sha = base_package(a.rev)
    importlib.import_module("pyconv_base._geometry")
    print(f"this tree against {a.rev} ({sha[:10]}) and PyTorch {torch.__version__}, channels_last; "
          f"load {os.getloadavg()[0]:.2f}\n")
    print("| threads | layer | batch | pass | ours ms | ours GB/s | REV ms | PyTorch ms | "
          "PyTorch / ours | REV / ours |")
    print("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for threads in a.threads:
        for pkg in (pyconv, base, torch):
            pkg.set_num_threads(threads)
        for n in a.batch:
            for name, (h, w, c) in DEPTHWISE_LAYERS:
                x = rng.standard_normal((n, h, w, c), np.float32)
                f = rng.standard_normal((3, 3, c, 1), np.float32)
                g = rng.standard_normal(x.shape, np.float32)
                ours = depthwise_passes(torch, x, f, g)
                theirs = depthwise_passes(torch, x, f, g, pkg=base)
                for p in PASSES:
                    fn, tfn, nbytes = ours[p]
                    t, tb, tt = rounds([fn, theirs[p][0], tfn["channels_last"]], a.repeats)
                    print(f"| {threads} | {name} | {n} | {p} | {t * 1e3:.3f} | {nbytes / t / 1e9:.1f} | "
                          f"{tb * 1e3:.3f} | {tt * 1e3:.3f} | {tt / t:.2f} | {tb / t:.2f} |", flush=True)
    print(f"\nload {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
