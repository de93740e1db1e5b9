"""The first layer's filter gradient straight from the max pooling above it
(`_kernels.conv2d_bwd_filter_pooled`, docs/kernels.md 3.4) against the two passes it replaces
(`maxpool2d_bwd` with relu's mask, then `conv2d_bwd_filter`), in one process:

    python -m bench.pooled_grad [--batch 32 256] [--threads 1 2] [--rounds 40] [--steps 20]

1. The kernels, on the tutorial CNN's first layer (28x28x1 -> 26x26x32, relu, 2x2 pooling):
   each round calls both sides alternately, once after evicting the caches (a 256 MB sweep:
   the activations come from memory, as at batch 256) and once warm; medians of the rounds.
2. The whole training step of the tutorial CNN (`train_on_batch`), the plan with POOL_DEFER
   against the plan without it (`Plan._defer_pool_grads` switched off), alternating chunks of
   `--steps` steps; the median ms per step of each, and the median of adjacent chunk ratios.
Ratios are two-pass time / fused time (> 1: the fused kernel is faster). The load averages
are printed before and after: on 2 cores, another process makes these numbers meaningless.
"""
import argparse
import os
import time

import numpy as np


def kernel_rows(batch, rounds):
    from pyconv import _geometry, _kernels, _nn_pool
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 28, 28, 1)).astype(np.float32)
    w = rng.standard_normal((3, 3, 1, 32)).astype(np.float32)
    win = _geometry.conv_window(x.shape, (3, 3), (1, 1), (1, 1), "valid")
    y = _kernels.conv2d_fwd(x, w, None, True, win)
    pwin = _nn_pool._Pool(y.shape, (2, 2), (2, 2), "VALID", None, "max_pool").geom
    dy = rng.standard_normal((batch, 13, 13, 32)).astype(np.float32)
    sweep = np.ones(1 << 26, np.float32)

    def two():
        d = _kernels.maxpool2d_bwd(dy, y, pwin, relu_mask=True)
        return _kernels.conv2d_bwd_filter(x, w.shape, d, win, True)

    def fused():
        return _kernels.conv2d_bwd_filter_pooled(x, w.shape, y, win, dy, pwin, True, True)

    assert all(np.array_equal(a, b) for a, b in zip(two(), fused()))
    t = {(c, f): [] for c in ("cold", "warm") for f in ("two", "fused")}
    for r in range(rounds):
        for cache in ("cold", "warm"):
            for name, f in (("two", two), ("fused", fused))[::1 if r % 2 else -1]:
                if cache == "cold":
                    sweep += 1.0
                t0 = time.perf_counter()
                f()
                t[cache, name].append(time.perf_counter() - t0)
    return [(cache, np.median(t[cache, "two"]) * 1e3, np.median(t[cache, "fused"]) * 1e3)
            for cache in ("cold", "warm")]


def step_row(batch, rounds, steps):
    import pyconv
    from pyconv import _graph, layers, models
    from pyconv.layers import base
    on = _graph.Plan.__dict__["_defer_pool_grads"]
    off = staticmethod(lambda steps, by_out: None)
    pyconv.utils.set_random_seed(1)
    m = models.Sequential([
        layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((batch * steps, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, batch * steps)
    t = {True: [], False: []}
    try:
        for r in range(rounds):
            fuse = (r % 2 == 0) == (r // 2 % 2 == 0)   # on off off on on off ...: no drift bias
            _graph.Plan._defer_pool_grads = on if fuse else off
            base._generation[0] += 1   # the model and its trainer make their plans again
            m.train_on_batch(x[:batch], y[:batch])
            now = [p for k, p in m._plans.items() if k[-1] == base._generation[0]]
            assert now and all(any(s.fuse & _graph.POOL_DEFER for s in p.steps) == fuse for p in now), \
                "the switch did not reach the plan"
            t0 = time.perf_counter()
            for i in range(steps):
                m.train_on_batch(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
            t[fuse].append((time.perf_counter() - t0) / steps * 1e3)
    finally:
        _graph.Plan._defer_pool_grads = on
    pairs = np.array(t[False]) / np.array(t[True])
    return np.median(t[False]), np.median(t[True]), np.median(pairs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 256])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args(argv)
    import pyconv
    print(f"pyconv {pyconv.__version__} ({pyconv._kernels.isa_active()}); load {os.getloadavg()[:2]}")
    print("| threads | batch | what | two passes ms | fused ms | two / fused |")
    print("|---:|---:|---|---:|---:|---:|")
    for threads in a.threads:
        pyconv.set_num_threads(threads)
        for batch in a.batch:
            for cache, two, fused in kernel_rows(batch, a.rounds):
                print(f"| {threads} | {batch} | kernels, {cache} | {two:.3f} | {fused:.3f} | {two / fused:.2f} |")
            two, fused, pair = step_row(batch, max(a.rounds // 2, 2), a.steps)
            print(f"| {threads} | {batch} | training step (pairs: {pair:.3f}) | {two:.3f} | {fused:.3f} | "
                  f"{two / fused:.3f} |", flush=True)
    print(f"load {os.getloadavg()[:2]}")


if __name__ == "__main__":
    main()
