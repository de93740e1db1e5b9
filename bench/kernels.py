"""Per-layer kernel benchmark: GFLOP/s of conv2d forward, backward_input, backward_filter and
dense for the tutorial CNN's layer shapes, beside the numpy float32 matmul rate (our practical
roofline) and PyTorch when it is installed; then the memory-bound depthwise convolution
(MobileNet's 3x3 blocks) and SeparableConv2D in GB/s, beside a numpy copy of the same bytes
and PyTorch's conv2d(groups=C) on channels_last tensors; then BatchNormalization (GB/s),
Conv2DTranspose and a BN-CNN's inference with and without BN folding (bench/bn_convt.py).

    python -m bench.kernels [--batch 32 256] [--dw-batch 32 128] [--threads 2] [--repeats 20]
                            [--json out.json]

Medians of `--repeats` timed calls after warm-up; pyconv and PyTorch alternate per repeat so
that both see the same machine state. FLOPs count 2 per multiply-add of the convolution as
defined (padding taps included), the same for every framework.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

import pyconv
from pyconv import _kernels
from pyconv._geometry import Window

from bench import bn_convt

# (name, input (H, W, C), filter (R, S, C, K)) -- the tutorial CNN, all 3x3 VALID stride 1.
CONV_LAYERS = [("conv1 28x28x1->32", (28, 28, 1), (3, 3, 1, 32)),
               ("conv2 13x13x32->64", (13, 13, 32), (3, 3, 32, 64)),
               ("conv3 5x5x64->64", (5, 5, 64), (3, 3, 64, 64))]
DENSE_LAYERS = [("dense 576->64", 576, 64)]
# (name, input (H, W, C)) -- MobileNet's depthwise 3x3 SAME stride 1 blocks.
DEPTHWISE_LAYERS = [("dw 3x3 56x56x64", (56, 56, 64)), ("dw 3x3 28x28x128", (28, 28, 128)),
                    ("dw 3x3 14x14x256", (14, 14, 256))]
# (name, input (H, W, C), filters): depthwise 3x3 SAME, then the pointwise 1x1 to `filters`.
SEPARABLE_LAYERS = [("sep 3x3 28x28x128->128", (28, 28, 128), 128)]


def median_time(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def matmul_roofline(threads, n=2048, repeats=10):
    """numpy float32 matmul GFLOP/s, measured in a subprocess with OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE unset (they pin an old, slower kernel here) and the thread count set."""
    code = (f"import numpy as np, time\n"
            f"a = np.random.rand({n}, {n}).astype(np.float32); b = a.copy()\n"
            f"a @ b; ts = []\n"
            f"for _ in range({repeats}):\n"
            f"    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)\n"
            f"print(2 * {n}**3 / sorted(ts)[len(ts) // 2] / 1e9)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return float(out.stdout.strip()) if out.returncode == 0 else float("nan")


def pyconv_conv_passes(x, w):
    P, Q = x.shape[1] - w.shape[0] + 1, x.shape[2] - w.shape[1] + 1
    g = np.random.default_rng(1).standard_normal((x.shape[0], P, Q, w.shape[3])).astype(np.float32)
    win = Window(P, Q, w.shape[0], w.shape[1], 1, 1, 1, 1, 0, 0)
    return {
        "forward": lambda: _kernels.conv2d_fwd(x, w, None, False, win),
        "backward_input": lambda: _kernels.conv2d_bwd_input(x.shape, w, g, win),
        "backward_filter": lambda: _kernels.conv2d_bwd_filter(x, w.shape, g, win, True),
    }


def torch_conv_passes(torch, x, w, channels_last):
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)          # NHWC -> NCHW view
    wt = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous()   # HWIO -> OIHW
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    xt = xt.contiguous(memory_format=fmt)
    wt = wt.contiguous(memory_format=fmt)
    F = torch.nn.functional
    y = F.conv2d(xt, wt)
    g = torch.randn_like(y).contiguous(memory_format=fmt)
    bi = torch.ops.aten.convolution_backward
    return {
        "forward": lambda: F.conv2d(xt, wt),
        "backward_input": lambda: bi(g, xt, wt, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                                     [True, False, False]),
        "backward_filter": lambda: bi(g, xt, wt, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                                      [False, True, True]),
    }


def set_threads(threads):
    """Set pyconv's (and PyTorch's) thread count; PyTorch's module, or None without it."""
    pyconv.set_num_threads(threads)
    torch = _torch()
    if torch:
        torch.set_num_threads(threads)
    return torch


def alternate(ours, theirs, repeats):
    """(our median seconds, PyTorch's or None, the memory format of PyTorch's or None): ours and
    each of `theirs` ({memory format: fn}, or None) called in turn, repeat by repeat, so that
    all see the same machine state; PyTorch's time is its faster format's."""
    theirs = theirs or {}
    t_o, t_t = [], {fmt: [] for fmt in theirs}
    for _ in range(repeats):
        t_o.append(median_time(ours, 1, warmup=1))
        for fmt, fn in theirs.items():
            t_t[fmt].append(median_time(fn, 1, warmup=1))
    if not theirs:
        return float(np.median(t_o)), None, None
    fmt = min(t_t, key=lambda f: np.median(t_t[f]))
    return float(np.median(t_o)), float(np.median(t_t[fmt])), fmt


def copy_rate(nbytes, repeats):
    """GB/s of a numpy copy that reads nbytes / 2 and writes nbytes / 2 (one thread, as numpy)."""
    a = np.ones(nbytes // 8, np.float32)
    b = np.empty_like(a)
    return nbytes / median_time(lambda: np.copyto(b, a), repeats) / 1e9


def depthwise_passes(torch, x, w, g, pkg=pyconv):
    """{pass: (ours, PyTorch's {memory format: fn} or None, bytes moved)}: a 3x3 SAME depthwise
    convolution of x (N,H,W,C) with w (3,3,C,1) by `pkg`'s kernels (pyconv, or an earlier
    build's: bench/dw_ab.py), PyTorch's on the same NHWC memory (channels_last) and on an NCHW
    copy; bytes = the activations each pass must read and write."""
    N, H, W, C = x.shape
    kern = pkg._kernels
    win = pkg._geometry.Window(H, W, 3, 3, 1, 1, 1, 1, 1, 1)
    act = x.nbytes
    ours = {
        "forward": lambda: kern.depthwise_fwd(x, w, None, False, win),
        "backward_input": lambda: kern.depthwise_bwd_input(x.shape, w, g, win),
        "backward_filter": lambda: kern.depthwise_bwd_filter(x, w.shape, g, win, True),
    }
    theirs = dict.fromkeys(ours)
    if torch:
        cl = torch.channels_last
        xt = torch.from_numpy(x).permute(0, 3, 1, 2)                 # NHWC memory: channels_last
        wt = torch.from_numpy(w).permute(2, 3, 0, 1).contiguous()   # (C, 1, 3, 3)
        gt = torch.from_numpy(g).permute(0, 3, 1, 2)
        assert xt.is_contiguous(memory_format=cl)
        bi = torch.ops.aten.convolution_backward
        args = (None, [1, 1], [1, 1], [1, 1], False, [0, 0], C)

        def passes(xx, gg):
            return {
                "forward": lambda: torch.nn.functional.conv2d(xx, wt, padding=1, groups=C),
                "backward_input": lambda: bi(gg, xx, wt, *args, [True, False, False]),
                "backward_filter": lambda: bi(gg, xx, wt, *args, [False, True, True]),
            }
        cl_p, nchw_p = passes(xt, gt), passes(xt.contiguous(), gt.contiguous())
        theirs = {p: {"channels_last": cl_p[p], "NCHW": nchw_p[p]} for p in ours}
    return {p: (ours[p], theirs[p], 2 * act) for p in ours}


def separable_passes(torch, x, dw, pw, g):
    """{pass: (ours, PyTorch's or None, bytes)}: SeparableConv2D (3x3 SAME depthwise, then the
    1x1 to K channels, bias) forward, and its backward (input and all weight gradients)."""
    from pyconv import layers
    N, H, W, C = x.shape
    K = pw.shape[3]
    layer = layers.SeparableConv2D(K, 3, padding="same")
    layer.build((None, H, W, C))
    layer.set_weights([dw, pw, np.zeros(K, np.float32)])
    ctx = layer._fwd(x, True)[1]
    ours = {"forward": lambda: layer._fwd(x, True), "backward": lambda: layer._bwd(ctx, g, True)}
    theirs = dict.fromkeys(ours)
    if torch:
        cl = torch.channels_last
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_()
        dwt = torch.from_numpy(dw).permute(2, 3, 0, 1).contiguous().requires_grad_()
        pwt = torch.from_numpy(pw).permute(3, 2, 0, 1).contiguous(memory_format=cl).requires_grad_()
        bt = torch.zeros(K, requires_grad=True)
        gt = torch.from_numpy(g).permute(0, 3, 1, 2)
        F = torch.nn.functional
        fwd = lambda: F.conv2d(F.conv2d(xt, dwt, padding=1, groups=C), pwt, bt)
        y = fwd()
        grad = lambda: torch.autograd.grad(y, (xt, dwt, pwt, bt), gt, retain_graph=True)
        theirs = {"forward": {"channels_last": lambda: fwd().detach()},
                  "backward": {"channels_last": grad}}
    act = x.nbytes + g.nbytes
    return {p: (ours[p], theirs[p], act if p == "forward" else 2 * act) for p in ours}


def run_depthwise(batches, threads, repeats):
    """Rows of the depthwise and separable table: ms, GB/s, and PyTorch's, side by side."""
    torch = set_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for N in batches:
        cases = []
        for name, (H, W, C) in DEPTHWISE_LAYERS:
            x = rng.standard_normal((N, H, W, C), np.float32)
            cases.append((name, depthwise_passes(torch, x, rng.standard_normal((3, 3, C, 1), np.float32),
                                                 rng.standard_normal(x.shape, np.float32))))
        for name, (H, W, C), K in SEPARABLE_LAYERS:
            x = rng.standard_normal((N, H, W, C), np.float32)
            cases.append((name, separable_passes(
                torch, x, rng.standard_normal((3, 3, C, 1), np.float32),
                rng.standard_normal((1, 1, C, K), np.float32) / np.float32(C ** 0.5),
                rng.standard_normal((N, H, W, K), np.float32))))
        for name, passes in cases:
            for p, (ours, theirs, nbytes) in passes.items():
                t, tt, fmt = alternate(ours, theirs, repeats)
                rows.append(dict(layer=name, batch=N, pass_=p, ms=t * 1e3, gbs=nbytes / t / 1e9,
                                 copy_gbs=copy_rate(nbytes, 5), torch_format=fmt,
                                 torch_ms=tt and tt * 1e3, torch_gbs=tt and nbytes / tt / 1e9))
    return rows


def run(batches, threads, repeats):
    torch = set_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for N in batches:
        for name, (H, W, C), fshape in CONV_LAYERS:
            x = rng.standard_normal((N, H, W, C)).astype(np.float32)
            w = rng.standard_normal(fshape).astype(np.float32)
            R, S, _, K = fshape
            flops = 2.0 * N * (H - R + 1) * (W - S + 1) * K * R * S * C
            ours = pyconv_conv_passes(x, w)
            theirs = [torch_conv_passes(torch, x, w, cl) for cl in (False, True)] if torch else []
            for p in ours:
                t_ours, t_theirs = [], [[] for _ in theirs]
                for _ in range(repeats):      # alternate frameworks, repeat by repeat
                    t_ours.append(median_time(ours[p], 1, warmup=1))
                    for i, th in enumerate(theirs):
                        t_theirs[i].append(median_time(th[p], 1, warmup=1))
                t = float(np.median(t_ours))
                tt = min(float(np.median(v)) for v in t_theirs) if theirs else None
                rows.append(dict(layer=name, batch=N, pass_=p, ms=t * 1e3, gflops=flops / t / 1e9,
                                 torch_ms=tt and tt * 1e3, torch_gflops=tt and flops / tt / 1e9))
        for name, C, K in DENSE_LAYERS:
            x = rng.standard_normal((N, C)).astype(np.float32)
            w = rng.standard_normal((C, K)).astype(np.float32)
            b = np.zeros(K, np.float32)
            g = rng.standard_normal((N, K)).astype(np.float32)
            flops = 2.0 * N * C * K
            passes = {"forward": (lambda: _kernels.dense_fwd(x, w, b), 1),
                      "backward (dx+dW)": (lambda: _kernels.dense_bwd(g, x, w), 2)}
            if torch:
                xt, wt, gt = (torch.from_numpy(a) for a in (x, w, g))
                tp = {"forward": lambda: xt @ wt, "backward (dx+dW)": lambda: (gt @ wt.T, xt.T @ gt)}
            for p, (fn, mult) in passes.items():
                t_o, t_t = [], []
                for _ in range(repeats):
                    t_o.append(median_time(fn, 1, warmup=1))
                    if torch:
                        t_t.append(median_time(tp[p], 1, warmup=1))
                t = float(np.median(t_o))
                tt = float(np.median(t_t)) if torch else None
                rows.append(dict(layer=name, batch=N, pass_=p, ms=t * 1e3, gflops=mult * flops / t / 1e9,
                                 torch_ms=tt and tt * 1e3, torch_gflops=tt and mult * flops / tt / 1e9))
    return rows, torch.__version__ if torch else None


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 256])
    ap.add_argument("--dw-batch", type=int, nargs="+", default=[32],
                    help="batch sizes of the depthwise and separable rows")
    ap.add_argument("--threads", type=int, default=pyconv.get_num_threads())
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", help="also write the rows to this JSON file")
    a = ap.parse_args(argv)
    roof = matmul_roofline(a.threads)
    rows, torch_version = run(a.batch, a.threads, a.repeats)
    print(f"pyconv {pyconv.__version__} ({_kernels.isa_active()}, {a.threads} threads); "
          f"PyTorch {torch_version or 'not installed'}; {platform.processor() or platform.machine()}")
    print(f"numpy float32 matmul roofline: {roof:.0f} GFLOP/s\n")
    print("| layer | batch | pass | pyconv ms | pyconv GFLOP/s | % roofline | PyTorch GFLOP/s | pyconv / PyTorch |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        tg = f"{r['torch_gflops']:.1f}" if r["torch_gflops"] else "-"
        ratio = f"{r['gflops'] / r['torch_gflops']:.2f}" if r["torch_gflops"] else "-"
        print(f"| {r['layer']} | {r['batch']} | {r['pass_']} | {r['ms']:.3f} | {r['gflops']:.1f} | "
              f"{100 * r['gflops'] / roof:.0f}% | {tg} | {ratio} |")
    dw_rows = run_depthwise(a.dw_batch, a.threads, a.repeats)
    print("\nDepthwise 3x3 SAME stride 1 (memory-bound): GB/s = activation bytes read and written "
          "per second; copy = a numpy copy of the same bytes (one thread)\n")
    print("| layer | batch | pass | pyconv ms | pyconv GB/s | % copy | PyTorch ms (faster format) | PyTorch GB/s | pyconv / PyTorch |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in dw_rows:
        tm = f"{r['torch_ms']:.3f} ({r['torch_format']})" if r["torch_ms"] else "-"
        tg = f"{r['torch_gbs']:.1f}" if r["torch_gbs"] else "-"
        ratio = f"{r['torch_ms'] / r['ms']:.2f}" if r["torch_ms"] else "-"
        print(f"| {r['layer']} | {r['batch']} | {r['pass_']} | {r['ms']:.3f} | {r['gbs']:.1f} | "
              f"{100 * r['gbs'] / r['copy_gbs']:.0f}% | {tm} | {tg} | {ratio} |")
    more = bn_convt.print_tables(a.batch, a.repeats, _torch())
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(roofline_gflops=roof, threads=a.threads, isa=_kernels.isa_active(),
                           torch=torch_version, rows=rows, depthwise_rows=dw_rows, **more), f, indent=1)


if __name__ == "__main__":
    main()
