"""The GEMM's passes under other cache blocks, or the forward's weight forms, in one process
(docs/benchmarks.md 24).

    python -m bench.blocking [--blocks 232:192,0:0] [--threads 2] [--rounds 11] [--step [--model dnn]]
    python -m bench.blocking --forms [--threads 2] [--rounds 11]

--blocks lists MC:KC pairs (0:0 is the rule's blocks for this machine, show_config's; any 0
keeps the rule's value), set in turn with pyconv._kernels.set_blocking, as PYCONV_BLOCKING
would at import. Each round runs every pair on every case in the same order; a case's figure
is its fastest of 5 calls (after one untimed call) in a round, and the table gives each pair's
median over the rounds in GFLOP/s and its speed over the first pair's. The cases are the
tutorial CNN's GEMM passes (conv2 and conv3: forward, input and filter gradients) at batch 32
and 256, the DNN's 784->128 forward at batch 256 and the 576->64 dense backward at batch 32.
--step times the tutorial CNN's (--model dnn: the DNN's) training step (train_on_batch, batch
32, Adam) instead: the median of 15 steps per pair and round. PYCONV_ISA picks the ISA.

KC cuts each K-sum (the depth blocks), so results differ in their last bits between pairs with
another KC; MC changes no bit.

--forms times conv2d's and dense's forward in each form of the weights (0 packed, 1 read in
place through row pointers with the activations packed, 2 read in place as strided panels:
_kernels.conv2d_fwd / dense_fwd's `form`, the same bits) on the tutorial CNN's conv2 and conv3
and the dense layers at several batches, each on the kernels' own threads (OpenMP) and as the
inference path runs them (one thread capped, pool.c's helpers: `pool`); the median of 7 calls
per round, rounds alternating the forms, then the median over rounds, in microseconds.
"""
import argparse
import time

import numpy as np

import pyconv
from pyconv import _kernels, layers, models
from pyconv._geometry import window


def parse(argv):
    ap = argparse.ArgumentParser(prog="python -m bench.blocking", description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", default="232:192,0:0",
                    help="MC:KC pairs, comma-separated; 0 keeps the rule's value (default: "
                         "232:192, what a 32 KiB L1 alone gave on docs/benchmarks.md's Zen 4, against the rule)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--step", action="store_true", help="time a tutorial model's training step")
    ap.add_argument("--model", default="cnn", choices=["cnn", "dnn"], help="--step's model")
    ap.add_argument("--forms", action="store_true", help="time the forward's weight forms instead")
    args = ap.parse_args(argv)
    try:
        args.blocks = [tuple(int(v) for v in pair.split(":")) for pair in args.blocks.split(",")]
    except ValueError:
        ap.error(f"--blocks takes MC:KC pairs such as 0:0,232:192. Received: {args.blocks!r}")
    if any(len(p) != 2 or min(p) < 0 for p in args.blocks):
        ap.error(f"--blocks takes MC:KC pairs of numbers >= 0. Received: {args.blocks!r}")
    return args


def cases(batches=(32, 256), seed=0):
    """{name: (call, flops)}: the GEMM passes timed."""
    rng = np.random.default_rng(seed)
    out = {}
    for n in batches:
        for tag, h, c, k in (("conv2", 13, 32, 64), ("conv3", 5, 64, 64)):
            x = rng.standard_normal((n, h, h, c), dtype=np.float32)
            w = rng.standard_normal((3, 3, c, k), dtype=np.float32)
            win = window(h, h, 3, 3, (1, 1), (1, 1), "valid")
            d = rng.standard_normal((n, win.P, win.Q, k), dtype=np.float32)
            flops = 2 * n * win.P * win.Q * 9 * c * k
            out[f"{tag} forward b{n}"] = (lambda x=x, w=w, win=win: _kernels.conv2d_fwd(x, w, None, True, win), flops)
            out[f"{tag} input grad b{n}"] = (lambda x=x, w=w, d=d, win=win: _kernels.conv2d_bwd_input(x.shape, w, d, win), flops)
            out[f"{tag} filter grad b{n}"] = (lambda x=x, w=w, d=d, win=win: _kernels.conv2d_bwd_filter(x, w.shape, d, win), flops)
    x = rng.standard_normal((256, 784), dtype=np.float32)
    w = rng.standard_normal((784, 128), dtype=np.float32)
    out["dense 784->128 forward b256"] = (lambda: _kernels.dense_fwd(x, w), 2 * 256 * 784 * 128)
    x2 = rng.standard_normal((32, 576), dtype=np.float32)
    w2 = rng.standard_normal((576, 64), dtype=np.float32)
    d2 = rng.standard_normal((32, 64), dtype=np.float32)
    out["dense 576->64 backward b32"] = (lambda: _kernels.dense_bwd(d2, x2, w2), 4 * 32 * 576 * 64)
    return out


FORM_CASES = [("conv", 1, 13, 32, 64), ("conv", 1, 5, 64, 64), ("conv", 8, 5, 64, 64),
              ("conv", 32, 13, 32, 64), ("conv", 32, 5, 64, 64), ("conv", 256, 13, 32, 64),
              ("conv", 16, 16, 256, 256), ("conv", 8, 9, 512, 512),
              ("dense", 16, 576, 64), ("dense", 32, 576, 64), ("dense", 256, 784, 128),
              ("dense", 1024, 784, 128)]


def form_cases(seed=0):
    """{name: (call(form), rows, flops)}: conv2d's and dense's forward, any weight form."""
    rng = np.random.default_rng(seed)
    out = {}
    for kind, n, *dims in FORM_CASES:
        if kind == "conv":
            h, c, k = dims
            x = rng.standard_normal((n, h, h, c), dtype=np.float32)
            w = rng.standard_normal((3, 3, c, k), dtype=np.float32)
            win = window(h, h, 3, 3, (1, 1), (1, 1), "valid")
            out[f"conv {n}x{h}x{h}x{c}->{k}"] = (
                lambda f, x=x, w=w, win=win: _kernels.conv2d_fwd(x, w, None, True, win, form=f),
                2 * n * win.P * win.Q * 9 * c * k)
        else:
            c, k = dims
            x = rng.standard_normal((n, c), dtype=np.float32)
            w = rng.standard_normal((c, k), dtype=np.float32)
            out[f"dense {n}x{c}->{k}"] = (lambda f, x=x, w=w: _kernels.dense_fwd(x, w, None, True, form=f),
                                          2 * n * c * k)
    return out


def measure_forms(cases_, threads, rounds, forms=(0, 1, 2)):
    """{(case, mode, form): [per-round median]}, mode "omp" (the kernels' threads) or "pool"."""
    res = {}
    for mode in ("omp", "pool"):
        prev = (_kernels.set_thread_cap(1), _kernels.set_pool_width(threads)) if mode == "pool" else None
        try:
            for _ in range(rounds):
                for c, (fn, _) in cases_.items():
                    for f in forms:
                        ts = call_times(lambda: fn(f), 7, 1)
                        res.setdefault((c, mode, f), []).append(float(np.median(ts)))
        finally:
            if prev:
                _kernels.set_thread_cap(prev[0])
                _kernels.set_pool_width(prev[1])
    return res


def print_forms(cases_, res, threads):
    print(f"{_kernels.isa_active()}, {threads} threads; the forward's weight forms, us (median of "
          "rounds)\n")
    print("| case | mode | packed (0) | rows (1) | panels (2) | panels / packed speed |")
    print("|---|---|---:|---:|---:|---:|")
    for c in cases_:
        for mode in ("omp", "pool"):
            t = [np.median(res[(c, mode, f)]) * 1e6 for f in (0, 1, 2)]
            print(f"| {c} | {mode} | {t[0]:.1f} | {t[1]:.1f} | {t[2]:.1f} | {t[0] / t[2]:.2f}x |")


def step_case(model="cnn"):
    from bench.worker import keras_like_model
    m = keras_like_model(layers, models, model)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (32,) + tuple(m.input_shape[1:])).astype(np.float32)
    y = rng.integers(0, 10, 32)
    return {f"{model.upper()} training step b32": (lambda: m.train_on_batch(x, y), None)}


def call_times(fn, calls, warm):
    """Seconds of each of `calls` calls of fn, after `warm` untimed ones."""
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return ts


def measure(fns, blocks, rounds, calls=5, warm=1):
    """{(case, pair): [per-round time]}: every pair on every case each round, fastest of
    `calls` (median for steps) after `warm` untimed calls."""
    res = {(c, b): [] for c in fns for b in blocks}
    try:
        for _ in range(rounds):
            for b in blocks:
                _kernels.set_blocking(mc=b[0], kc=b[1])
                for c, (fn, flops) in fns.items():
                    ts = call_times(fn, calls, warm)
                    res[(c, b)].append(min(ts) if flops else float(np.median(ts)))
    finally:
        _kernels.set_blocking()
    return res


def main(argv=None):
    args = parse(argv)
    pyconv.set_num_threads(args.threads)
    if args.forms:
        fc = form_cases()
        print_forms(fc, measure_forms(fc, args.threads, args.rounds), args.threads)
        return 0
    fns = step_case(args.model) if args.step else cases()
    res = measure(fns, args.blocks, args.rounds, calls=15 if args.step else 5, warm=3 if args.step else 1)
    rule = _kernels.blocking()
    print(f"{_kernels.isa_active()}, {args.threads} thread(s), the rule's blocks here: MC {rule['mc']}, "
          f"KC {rule['kc']}; median of {args.rounds} rounds\n")
    head = ["case"] + [f"{mc or 'rule'}:{kc or 'rule'}" for mc, kc in args.blocks]
    print("| " + " | ".join(head) + " |")
    print("|---" + "|---:" * len(args.blocks) + "|")
    for c, (_, flops) in fns.items():
        base = np.median(res[(c, args.blocks[0])])
        cells = []
        for b in args.blocks:
            t = np.median(res[(c, b)])
            fig = f"{flops / t / 1e9:.1f} GFLOP/s" if flops else f"{t * 1e3:.3f} ms"
            cells.append(fig if b == args.blocks[0] else f"{fig}, {base / t:.3f}x")
        print(f"| {c} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
