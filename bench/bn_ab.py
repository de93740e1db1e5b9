"""BatchNormalization's kernels against an earlier commit's, in one process (benchmarks.md 3.8).

    python -m bench.bn_ab REV [--shapes 32x32x32x32,128x14x14x256] [--threads 2] [--rounds 8]

REV is built once and imported as `pyconv_base` beside this tree's pyconv (bench/ab.py's
base_package). Per NHWC shape, three calls: the backward (dx, dgamma, dbeta), the backward
with the folded relu's mask (`relu_coefs`; REV without it runs `relu_bwd` first, as its layer
did: pass --base-relu-pass), and the training forward with relu (stats, then the normalize
pass). Each round times each build's call for ~50 ms (median), the order of the two
alternating from round to round. Printed per row: each build's median ms, this tree's GB/s
over the tensor passes it makes (backward: dy and x twice, dx once; forward: x twice, y once)
beside a numpy copy of one tensor (read + write), the ratio REV / this tree per round (above 1:
this tree is faster) with its median and range, and whether both give the same bits.
PYCONV_ISA picks both builds' ISA.

--gap sleep|torch times single calls instead, each after a pause: a 2 ms sleep (the kernels'
threads have gone to sleep: the wake-up is paid inside the call), or PyTorch's BatchNorm2d
doing the same pass on the same data (channels_last), as `python -m bench --layers` alternates
the frameworks. --gap none: single calls back to back.
"""
import argparse
import os
import time

import numpy as np

import pyconv   # first: REV's extension, loaded first, would also register as pyconv._kernels
from bench.ab import base_package
from bench.kernels import median_time


def _median(f, n):
    return median_time(f, n, warmup=1)


def calls(K, data, base_relu_pass):
    """{name: fn} of kernel module K on data = (x, dy, gamma, beta, mean, invstd, scale, shift, y)."""
    x, dy, gamma, beta, mean, invstd, scale, shift, y = data
    if base_relu_pass:
        relu = lambda: K.bn_backward(K.relu_bwd(dy, y), x, mean, invstd, gamma)   # noqa: E731
    else:
        relu = lambda: K.bn_backward(dy, x, mean, invstd, gamma, relu_coefs=(scale, shift))   # noqa: E731
    return {"backward": lambda: K.bn_backward(dy, x, mean, invstd, gamma),
            "backward+relu": relu,
            "train forward+relu": lambda: K.bn_train(x, gamma, beta, 1e-3, relu=True)}


def _torch_calls(x, dy):
    """{name: fn}: PyTorch's BatchNorm2d passes on x (NHWC viewed as channels_last NCHW)."""
    import torch
    C = x.shape[-1]
    tb = torch.nn.BatchNorm2d(C, eps=1e-3, momentum=0.01)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_(True)
    gt = torch.from_numpy(dy).permute(0, 3, 1, 2)
    yt = tb(xt)
    params = [xt, tb.weight, tb.bias]
    bwd = lambda: torch.autograd.grad(yt, params, gt, retain_graph=True)   # noqa: E731
    return {"backward": bwd, "backward+relu": bwd, "train forward+relu": lambda: tb(xt)}


def _single_calls(f, g, n):
    """Seconds of n single calls of f, each after g()."""
    out = []
    for _ in range(n):
        g()
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return np.array(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.bn_ab", description=__doc__.split("\n\n")[0])
    ap.add_argument("rev")
    ap.add_argument("--shapes", default="32x32x32x32,32x32x32x64,32x16x16x128,32x8x8x256,128x14x14x256")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--gap", choices=("sleep", "torch", "none"), default=None,
                    help="time single calls, each after a 2 ms sleep, a PyTorch call or nothing")
    ap.add_argument("--base-relu-pass", action="store_true",
                    help="REV has no relu_coefs: its backward+relu is relu_bwd, then bn_backward")
    args = ap.parse_args(argv)
    base, sha = base_package(args.rev)
    pyconv.set_num_threads(args.threads)
    base.set_num_threads(args.threads)
    if args.gap == "torch":
        import torch
        torch.set_num_threads(args.threads)
    a = np.random.default_rng(9).standard_normal((2048, 2048)).astype(np.float32)
    roof = 2 * 2048 ** 3 / _median(lambda: a @ a, 5) / 1e9
    print(f"base {args.rev} ({sha[:10]}), ISA {pyconv._kernels.isa_active()}, {args.threads} threads, "
          f"numpy matmul {roof:.0f} GFLOP/s, load average {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(0)
    for spec in args.shapes.split(","):
        sh = tuple(int(v) for v in spec.split("x"))
        C = sh[-1]
        x = (rng.standard_normal(sh) * 2 + 3).astype(np.float32)
        dy = rng.standard_normal(sh).astype(np.float32)
        gamma, beta = (rng.standard_normal(C).astype(np.float32) for _ in range(2))
        y, mean, _, invstd, scale, shift = pyconv._kernels.bn_train(x, gamma, beta, 1e-3, relu=True, coefs=True)
        data = (x, dy, gamma, beta, mean, invstd, scale, shift, y)
        out = np.empty_like(x)
        copy = 2 * x.nbytes / _median(lambda: np.copyto(out, x), 20) / 1e9
        ours, theirs = calls(pyconv._kernels, data, False), calls(base._kernels, data, args.base_relu_pass)
        gaps = {"sleep": lambda: lambda: time.sleep(0.002), "none": lambda: lambda: None,
                "torch": lambda: _torch_calls(x, dy)}
        gap = gaps[args.gap]() if args.gap else None
        for name in ours:
            fo, fn = theirs[name], ours[name]
            same = all(np.array_equal(p, q) for p, q in zip(fo(), fn()))
            n = max(5, int(0.05 / max(_median(fo, 3), 1e-5)))
            to, tn = [], []
            for r in range(args.rounds):
                for f, acc in ((fo, to), (fn, tn)) if r % 2 == 0 else ((fn, tn), (fo, to)):
                    if gap is None:
                        acc.append(_median(f, n))
                    else:   # single calls, each after the gap: the median of n
                        acc.append(np.median(_single_calls(f, gap[name] if isinstance(gap, dict) else gap,
                                                           max(5, n // 2))))
            to, tn = np.array(to), np.array(tn)
            passes = 3 if name.startswith("train") else 5
            print(f"{spec:>16} {name:>19}: base {np.median(to) * 1e3:7.3f} ms  this {np.median(tn) * 1e3:7.3f} ms "
                  f"({passes * x.nbytes / np.median(tn) / 1e9:5.1f} GB/s; copy {copy:5.1f})  base/this "
                  f"{np.median(to / tn):.2f} [{(to / tn).min():.2f}-{(to / tn).max():.2f}]  same bits {same}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
