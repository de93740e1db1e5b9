"""Heap allocations per training step made by pyconv's C kernels (docs/benchmarks.md 3.5, 19).

    python -m bench.allocs [--base REV] [--batch 32] [--steps 10] [--threads 2]
    python -m bench.allocs --time --base REV [--rounds 10] [--steps 20]   # step time, A/B

Builds bench/malloc_count.c (an LD_PRELOAD counter of the malloc family called from one shared
library), runs itself again with it preloaded, and trains issue 12's layers (section 3.5's
model, plus pooling and a Dense layer) with `train_on_batch`: after 3 warm-up steps, the calls
and bytes asked of malloc by the extension's C code per step, and the blocks csrc/scratch.c
malloc'd (`scratch_stats`). --base REV measures REV's build instead (bench/ab.py's cache: one
build, reused), e.g. --base main for the "before".

--time: no counter; this tree's and REV's builds in one process (bench/ab.py's way), the same
model and weights in each, `--steps` train_on_batch steps a block, alternating block by block
for `--rounds`: each one's median ms a step and the ratio base / this per round.
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = "/tmp/pyconv_malloc_count.so"


def model(pc, batch, side=32, width=32, seed=0):
    """Issue 12's layers in one trainable model (docs/benchmarks.md 3.5, plus pooling and Dense)
    of `pc` (pyconv, or bench/ab.py's pyconv_base), on side x side x 3 images, and a batch."""
    L = pc.layers
    m = pc.models.Sequential([
        L.Input((side, side, 3)), L.RandomFlip(seed=1), L.RandomRotation(0.1, seed=2),
        L.Conv2D(width, 3, padding="same"), L.BatchNormalization(), L.ReLU(),
        L.DepthwiseConv2D(3, padding="same"), L.SeparableConv2D(width, 3, strides=2, padding="same"),
        L.BatchNormalization(), L.Conv2DTranspose(width, 3, strides=2, padding="same"),
        L.UpSampling2D(2), L.MaxPooling2D(2), L.Conv2D(width // 2, 3, strides=2, padding="same"),
        L.UpSampling2D(2, interpolation="bilinear"), L.AveragePooling2D(2),
        L.GlobalAveragePooling2D(), L.Dense(10)])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, side, side, 3)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return m, x, y


def measure(args):
    if args.base:
        from bench.ab import base_package
        pc, sha = base_package(args.base)
        label = f"{args.base} ({sha[:10]})"
    else:
        import pyconv as pc
        label = "this tree"
    pc.set_num_threads(args.threads)
    shim = ctypes.CDLL(None)
    counts = (ctypes.c_longlong(), ctypes.c_longlong())
    read = lambda: (shim.malloc_count_read(ctypes.byref(counts[0]), ctypes.byref(counts[1])),
                    counts[0].value, counts[1].value)[1:]
    stats = getattr(pc._kernels, "scratch_stats", lambda: {"blocks": None})
    m, x, y = model(pc, args.batch)
    for _ in range(3):
        m.train_on_batch(x, y)
    c0, b0 = read()
    k0 = stats()["blocks"]
    for _ in range(args.steps):
        m.train_on_batch(x, y)
    c1, b1 = read()
    k1 = stats()["blocks"]
    blocks = "n/a" if k0 is None else (k1 - k0) / args.steps
    print(f"{label}: batch {args.batch}, {args.threads} threads, {args.steps} steps: "
          f"{(c1 - c0) / args.steps:.1f} malloc-family calls a step from {os.environ['MALLOC_COUNT_LIB']}, "
          f"{(b1 - b0) / args.steps / 1e6:.2f} MB a step; scratch blocks a step: {blocks}")


def step_times(args):
    import pyconv
    from bench.ab import base_package
    base, sha = base_package(args.base)
    runs = {}
    for name, pc in (("this", pyconv), ("base", base)):
        pc.set_num_threads(args.threads)
        runs[name] = model(pc, args.batch)
        runs[name][0].train_on_batch(*runs[name][1:])
    runs["base"][0].set_weights(runs["this"][0].get_weights())
    ms = {"this": [], "base": []}
    print(f"{args.rounds} rounds of {args.steps} steps, batch {args.batch}, {args.threads} threads, "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    for r in range(args.rounds):
        for name in (("this", "base") if r % 2 else ("base", "this")):
            m, x, y = runs[name]
            t0 = time.perf_counter()
            for _ in range(args.steps):
                m.train_on_batch(x, y)
            ms[name].append((time.perf_counter() - t0) * 1e3 / args.steps)
    ratios = [b / t for b, t in zip(ms["base"], ms["this"])]
    print(f"{args.base} ({sha[:10]}) {statistics.median(ms['base']):.3f} ms/step, this tree "
          f"{statistics.median(ms['this']):.3f}; base/this median {statistics.median(ratios):.3f}, "
          f"range {min(ratios):.3f}-{max(ratios):.3f}; load average after: {os.getloadavg()[0]:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="measure this commit's build instead (bench/ab.py's cache)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time", action="store_true", help="step times against --base, no counter")
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    if args.time:
        return step_times(args)
    if SHIM not in os.environ.get("LD_PRELOAD", ""):
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", SHIM,
                        os.path.join(HERE, "malloc_count.c"), "-ldl"], check=True)
        env = dict(os.environ, LD_PRELOAD=SHIM,
                   MALLOC_COUNT_LIB="pyconv_base/_kernels" if args.base else "pyconv/_kernels")
        sys.exit(subprocess.run([sys.executable, "-m", "bench.allocs"] + sys.argv[1:], env=env,
                                cwd=os.path.dirname(HERE)).returncode)
    measure(args)


if __name__ == "__main__":
    main()
