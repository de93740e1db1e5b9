"""The tutorial CNN's first layer (Conv2D(32, 3x3, valid) on 28x28x1), its two training passes
-- forward and the filter (and bias) gradient -- beside PyTorch, both limited to one ISA.

    python -m bench.first_layer [--isa avx2] [--batch 32 256] [--threads 2] [--rounds 7]
                                [--repeats 20]

`--isa avx2` sets pyconv's ISA and, before PyTorch is imported, ONEDNN_MAX_CPU_ISA=AVX2 and
ATEN_CPU_CAPABILITY=avx2 (`avx512`: AVX512_CORE and avx512). Each round times every pass of
pyconv and of PyTorch (at both of its memory formats, the faster kept) alternating call by
call, `--repeats` calls each; a round's figure is the median call. Printed: the min and median
over rounds of each side's time and of the speed ratio PyTorch time / pyconv time (> 1: pyconv
faster), and the load averages before and after.
"""
import argparse
import os

import numpy as np

TORCH_ISA = {"avx2": ("AVX2", "avx2"), "avx512": ("AVX512_CORE", "avx512")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isa", choices=sorted(TORCH_ISA), help="both frameworks limited to this ISA")
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 256])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args(argv)
    if a.isa:   # before torch is imported: oneDNN and ATen read these once
        os.environ["ONEDNN_MAX_CPU_ISA"], os.environ["ATEN_CPU_CAPABILITY"] = TORCH_ISA[a.isa]
    import torch

    import pyconv
    from pyconv import _kernels

    from bench.kernels import median_time, pyconv_conv_passes, torch_conv_passes
    if a.isa:
        _kernels.set_isa(a.isa)
    pyconv.set_num_threads(a.threads)
    torch.set_num_threads(a.threads)
    load0 = os.getloadavg()
    print(f"pyconv {_kernels.isa_active()}, PyTorch {torch.__version__} "
          f"(ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', '-')}), {a.threads} threads; "
          f"load {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print("| batch | pass | pyconv ms (min / median) | PyTorch ms (min / median) "
          "| speed ratio (min / median) |")
    print("|---:|---|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for N in a.batch:
        x = rng.standard_normal((N, 28, 28, 1)).astype(np.float32)
        w = rng.standard_normal((3, 3, 1, 32)).astype(np.float32)
        ours = pyconv_conv_passes(x, w)
        theirs = [torch_conv_passes(torch, x, w, cl) for cl in (False, True)]
        for p in ("forward", "backward_filter"):
            t_o, t_t = [], []
            for _ in range(a.rounds):
                o, t = [], [[] for _ in theirs]
                for _ in range(a.repeats):
                    o.append(median_time(ours[p], 1, warmup=1))
                    for i, th in enumerate(theirs):
                        t[i].append(median_time(th[p], 1, warmup=1))
                t_o.append(float(np.median(o)))
                t_t.append(min(float(np.median(v)) for v in t))
            ratio = np.array(t_t) / np.array(t_o)
            print(f"| {N} | {p} | {1e3 * min(t_o):.3f} / {1e3 * np.median(t_o):.3f} "
                  f"| {1e3 * min(t_t):.3f} / {1e3 * np.median(t_t):.3f} "
                  f"| {ratio.min():.2f} / {np.median(ratio):.2f} |")
    load1 = os.getloadavg()
    print(f"load after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
