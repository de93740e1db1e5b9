"""The resampling kernels (csrc/resample.c) beside PyTorch, on channels_last tensors:

    python -m bench.resample [--threads 2] [--repeats 30] [--batch 32 128]

- UpSampling2D(2), interpolation "nearest" and "bilinear": the layer's forward and input
  gradient vs aten's upsample_nearest2d / upsample_bilinear2d (align_corners=False: the same
  half-pixel rule) and their backward ops, PyTorch in both memory formats (the faster one is
  compared). Memory-bound: GB/s of the bytes a pass must touch once (input + output), the same
  count for both, beside a numpy copy of the output (read + write: the machine's practical
  bandwidth).
- The projective sampler (RandomRotation's pass) on a CIFAR-shaped batch vs
  affine_grid + grid_sample (bilinear, reflection padding), forward only: pixels per second.

Medians of `repeats` calls; the frameworks alternate call by call.
"""
import argparse

import numpy as np

import pyconv
from pyconv import _kernels, layers
from pyconv.layers import augmentation

from .bn_convt import _median_alternating


def _torch_upsampling(torch, interpolation, n, h, w, c):
    """PyTorch's forward and backward of a x2 upsampling (aten's own ops, as the layer's passes
    are called: no autograd), each taking its tensor."""
    A = torch.ops.aten
    if interpolation == "nearest":
        return (lambda x: A.upsample_nearest2d(x, [2 * h, 2 * w], 2.0, 2.0),
                lambda g: A.upsample_nearest2d_backward(g, [2 * h, 2 * w], [n, c, h, w], 2.0, 2.0))
    return (lambda x: A.upsample_bilinear2d(x, [2 * h, 2 * w], False, 2.0, 2.0),
            lambda g: A.upsample_bilinear2d_backward(g, [2 * h, 2 * w], [n, c, h, w], False, 2.0, 2.0))


def upsampling_rows(shapes, repeats):
    """UpSampling2D(2) both interpolations, the layer's forward and input gradient, against
    PyTorch in both memory formats (NCHW and channels_last, each on its own copy of the data):
    a dict per (interpolation, shape, pass) with the times and GB/s."""
    import torch
    rows = []
    for interpolation in ("nearest", "bilinear"):
        for n, h, w, c in shapes:
            rng = np.random.default_rng(0)
            x = rng.random((n, h, w, c), dtype=np.float32)
            g = rng.random((n, 2 * h, 2 * w, c), dtype=np.float32)
            layer = layers.UpSampling2D(2, interpolation=interpolation)
            layer(x[:1])
            xcl, gcl = (torch.from_numpy(a).permute(0, 3, 1, 2) for a in (x, g))   # NHWC memory
            xnc, gnc = xcl.contiguous(), gcl.contiguous()
            tf, tb = _torch_upsampling(torch, interpolation, n, h, w, c)
            t = _median_alternating({
                "forward": lambda: layer._fwd(x, True), "backward": lambda: layer._bwd((h, w), g, True),
                "forward channels_last": lambda: tf(xcl), "forward NCHW": lambda: tf(xnc),
                "backward channels_last": lambda: tb(gcl), "backward NCHW": lambda: tb(gnc),
                "copy": g.copy}, repeats)
            nbytes = x.nbytes + g.nbytes   # each pass reads one and writes the other
            copy_gbps = 2 * g.nbytes / t["copy"] / 1e9
            for p in ("forward", "backward"):
                fmt = min(("channels_last", "NCHW"), key=lambda f: t[f"{p} {f}"])
                rows.append(dict(layer=f"UpSampling2D(2) {interpolation}", shape=f"{n}x{h}x{w}x{c}",
                                 pass_=p, ms=t[p] * 1e3, gbps=nbytes / t[p] / 1e9, copy_gbps=copy_gbps,
                                 torch_ms=t[f"{p} {fmt}"] * 1e3, torch_format=fmt,
                                 torch_gbps=nbytes / t[f"{p} {fmt}"] / 1e9))
    return rows


def print_upsampling(rows):
    print("\n| layer | input | pass | pyconv ms | pyconv GB/s | % numpy copy | PyTorch ms (faster format) "
          "| PyTorch GB/s | pyconv speed / PyTorch |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['layer']} | {r['shape']} | {r['pass_']} | {r['ms']:.3f} | {r['gbps']:.1f} | "
              f"{100 * r['gbps'] / r['copy_gbps']:.0f}% | {r['torch_ms']:.3f} ({r['torch_format']}) | "
              f"{r['torch_gbps']:.1f} | {r['torch_ms'] / r['ms']:.2f} |")


def sampler_rows(n, hw, c, repeats):
    import torch
    import torch.nn.functional as F
    rng = np.random.default_rng(0)
    x = rng.random((n, hw, hw, c), dtype=np.float32)
    deg = rng.uniform(-36, 36, n).astype(np.float32)
    t = augmentation.rotation_transforms(deg, hw, hw)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    a = torch.from_numpy(np.deg2rad(deg))
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = torch.cos(a)
    theta[:, 0, 1], theta[:, 1, 0] = -torch.sin(a), torch.sin(a)

    def torch_rotate():
        grid = F.affine_grid(theta, list(xt.shape), align_corners=False)
        F.grid_sample(xt, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    tm = _median_alternating({"ours": lambda: _kernels.affine_sample(x, t, "bilinear", "reflect"),
                              "torch": torch_rotate}, repeats)
    px = n * hw * hw
    return [f"RandomRotation's sampler {n}x{hw}x{hw}x{c} bilinear reflect: {tm['ours'] * 1e3:.2f} ms "
            f"({px / tm['ours'] / 1e6:.0f} Mpixel/s); PyTorch affine_grid + grid_sample "
            f"{tm['torch'] * 1e3:.2f} ms; speed vs PyTorch {tm['torch'] / tm['ours']:.2f}x"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    pyconv.set_num_threads(a.threads)
    print(f"threads {a.threads}, medians of {a.repeats} alternating calls")
    print_upsampling(upsampling_rows([(n, h, w, c) for n in a.batch for h, w, c in ((28, 28, 64), (14, 14, 128))],
                                     a.repeats))
    for c in (3, 32):
        for row in sampler_rows(128, 32, c, a.repeats):
            print(row)


if __name__ == "__main__":
    main()
