"""The resampling kernels (csrc/resample.c) beside PyTorch, on channels_last tensors:

    python -m bench.resample [--threads 2] [--repeats 30]

- UpSampling2D(2, interpolation="bilinear"): pyconv's resize_bilinear forward and backward vs
  torch.nn.functional.interpolate(scale_factor=2, mode="bilinear", align_corners=False) (the
  same half-pixel rule) and its backward. Memory-bound: GB/s of the bytes a pass must touch
  once (input + output), the same count for both, beside a numpy copy of the output (read +
  write: the machine's practical bandwidth).
- The projective sampler (RandomRotation's pass) on a CIFAR-shaped batch vs
  affine_grid + grid_sample (bilinear, reflection padding), forward only: pixels per second.

Medians of `repeats` calls; the frameworks alternate call by call.
"""
import argparse

import numpy as np

import pyconv
from pyconv import _kernels
from pyconv.layers import augmentation

from .bn_convt import _median_alternating


def upsampling_rows(shapes, repeats):
    import torch
    import torch.nn.functional as F
    rows = []
    for n, h, w, c in shapes:
        rng = np.random.default_rng(0)
        x = rng.random((n, h, w, c), dtype=np.float32)
        g = rng.random((n, 2 * h, 2 * w, c), dtype=np.float32)
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_()   # NHWC memory: channels_last
        gt = torch.from_numpy(g).permute(0, 3, 1, 2)

        def t_fwd():
            with torch.no_grad():
                F.interpolate(xt, scale_factor=2, mode="bilinear", align_corners=False)

        def t_fwd_bwd():
            F.interpolate(xt, scale_factor=2, mode="bilinear", align_corners=False).backward(gt)
            xt.grad = None
        t = _median_alternating({
            "fwd": lambda: _kernels.resize(x, 2 * h, 2 * w, "bilinear"),
            "bwd": lambda: _kernels.resize_grad(g, h, w, "bilinear"),
            "torch_fwd": t_fwd, "torch_fwd_bwd": t_fwd_bwd, "copy": g.copy}, repeats)
        nbytes = x.nbytes + g.nbytes
        rows.append(f"UpSampling2D bilinear x2 {n}x{h}x{w}x{c}: fwd {t['fwd'] * 1e3:.2f} ms "
                    f"({nbytes / t['fwd'] / 1e9:.0f} GB/s), bwd {t['bwd'] * 1e3:.2f} ms "
                    f"({nbytes / t['bwd'] / 1e9:.0f} GB/s); PyTorch fwd {t['torch_fwd'] * 1e3:.2f} ms, "
                    f"fwd+bwd {t['torch_fwd_bwd'] * 1e3:.2f} ms; speed vs PyTorch: fwd "
                    f"{t['torch_fwd'] / t['fwd']:.2f}x, fwd+bwd {t['torch_fwd_bwd'] / (t['fwd'] + t['bwd']):.2f}x; "
                    f"numpy copy of the output {2 * g.nbytes / t['copy'] / 1e9:.0f} GB/s")
    return rows


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
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    pyconv.set_num_threads(a.threads)
    print(f"threads {a.threads}, medians of {a.repeats} alternating calls")
    for row in upsampling_rows([(32, 28, 28, 64), (32, 14, 14, 128), (128, 14, 14, 64)], a.repeats):
        print(row)
    for c in (3, 32):
        for row in sampler_rows(128, 32, c, a.repeats):
            print(row)


if __name__ == "__main__":
    main()
