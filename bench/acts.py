"""Activation kernels (csrc/act.c, csrc/act_more.c): elements per second and GB/s of each
forward and backward on n float32 values, beside a numpy copy of the same bytes (the memory
roofline) and PyTorch's forward when it is installed.

    python -m bench.acts [--n 1048576] [--threads 1 2] [--repeats 20]

Medians of `--repeats` calls after warm-up; pyconv, numpy and PyTorch alternate per repeat.
Bytes: a forward reads x and writes y (8 bytes per element), a backward reads two arrays and
writes one (12).
"""
import argparse
import time

import numpy as np

import pyconv
from pyconv import _kernels as K


def cases(x, g):
    y_exp = K.exponential_fwd(x)
    return [  # (name, pyconv call, bytes per element, torch forward or None)
        ("relu fwd", lambda: K.relu_fwd(x), 8, "relu"),
        ("leaky_relu fwd", lambda: K.relu_general_fwd(x, 0.2, np.inf, 0.0), 8, "leaky_relu"),
        ("relu6 bwd", lambda: K.relu_general_bwd(g, x, 0.0, 6.0, 0.0), 12, None),
        ("elu fwd", lambda: K.elu_fwd(x, 1.0), 8, "elu"),
        ("elu bwd", lambda: K.elu_bwd(g, x, 1.0), 12, None),
        ("selu fwd", lambda: K.selu_fwd(x), 8, "selu"),
        ("gelu fwd", lambda: K.gelu_fwd(x, False), 8, "gelu"),
        ("gelu bwd", lambda: K.gelu_bwd(g, x, False), 12, None),
        ("gelu_tanh fwd", lambda: K.gelu_fwd(x, True), 8, None),
        ("silu fwd", lambda: K.silu_fwd(x), 8, "silu"),
        ("silu bwd", lambda: K.silu_bwd(g, x), 12, None),
        ("softplus fwd", lambda: K.softplus_fwd(x), 8, "softplus"),
        ("softsign fwd", lambda: K.softsign_fwd(x), 8, "softsign"),
        ("hard_sigmoid fwd", lambda: K.hard_sigmoid_fwd(x), 8, "hardsigmoid"),
        ("hard_silu fwd", lambda: K.hard_silu_fwd(x), 8, "hardswish"),
        ("exponential bwd", lambda: K.exponential_bwd(g, y_exp), 12, None),
        ("sigmoid fwd (act.c)", lambda: K.sigmoid_fwd(x), 8, "sigmoid"),
    ]


def median(fn, repeats):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2**20)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args(argv)
    x = (np.random.default_rng(0).standard_normal(a.n) * 3).astype(np.float32)
    g = np.ones_like(x)
    try:
        import torch
        import torch.nn.functional as F
        tx = torch.from_numpy(x)
    except ImportError:
        torch = None
    print(f"{'kernel':22s} thr  {'ms':>7s}  {'Gelem/s':>7s}  {'GB/s':>6s}  {'copy GB/s':>9s}  {'torch ms':>8s}")
    for t in a.threads:
        pyconv.set_num_threads(t)
        if torch is not None:
            torch.set_num_threads(t)
        for name, fn, nbytes, tname in cases(x, g):
            s = median(fn, a.repeats)
            c = median(lambda: x.copy(), a.repeats)
            ts = median(lambda: getattr(F, tname)(tx), a.repeats) if torch is not None and tname else None
            print(f"{name:22s} {t:3d}  {s * 1e3:7.3f}  {a.n / s / 1e9:7.2f}  {nbytes * a.n / s / 1e9:6.1f}  "
                  f"{8 * a.n / c / 1e9:9.1f}  {'' if ts is None else f'{ts * 1e3:8.3f}'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
