"""Rows of `python -m bench --layers` for BatchNormalization, Conv2DTranspose and a BN-CNN's
inference with and without folding BN into the convolutions (bench/kernels.py prints them).

- BatchNormalization (the layer's passes, moving-statistics update included) vs PyTorch's
  BatchNorm2d on channels_last tensors of the same shape, same dtype: training forward,
  training backward (dx, dgamma, dbeta) and inference. Memory-bound, so reported in GB/s of the
  tensors each pass must touch once (forward x + y, backward dy + x + dx, inference x + y),
  the same byte count for both frameworks, beside a numpy copy of the same bytes
  (read + write: the machine's practical bandwidth).
- Conv2DTranspose 3x3 stride 2 'same' vs ConvTranspose2d (padding 1, output_padding 1, the
  same output size): forward and both gradients, GFLOP/s (2 per multiply-add).
- The tutorial CNN with BatchNormalization after each convolution (conv without activation,
  BN, ReLU): Plan.predict (BN folded into the convolutions) vs Plan.forward(training=False)
  (BN run), and PyTorch's eval-mode eager model of the same layers, one batch.

Medians of `repeats` calls; the frameworks alternate call by call.
"""
import numpy as np

from pyconv import _kernels, layers, models


def _median_alternating(fns, repeats):
    """Median seconds of each fn in `fns` (a dict), taking turns repeat by repeat; each timed
    call comes right after an untimed call of the same fn, as bench.kernels.alternate times the
    conv and depthwise rows. A call timed straight after another framework's found its own
    threads asleep (their spin ran out during the other's call; waking one costs 40-260 us on
    this VM) and the other's threads still spinning: up to 5x the back-to-back time of a
    0.5 ms BatchNormalization pass (docs/benchmarks.md 3.9), where a training step runs its
    kernels back to back."""
    import time
    ts = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            f()
            t0 = time.perf_counter()
            f()
            ts[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in ts.items()}


def _time_passes(ours, theirs, repeats):
    """[(pass, (our median s, PyTorch's or None))] for dicts pass -> fn (theirs may be {})."""
    out = []
    for p in ours:
        fns = {"ours": ours[p]}
        if theirs:
            fns["theirs"] = theirs[p]
        t = _median_alternating(fns, repeats)
        out.append((p, (t["ours"], t.get("theirs"))))
    return out


def copy_gbps(nbytes, repeats):
    """numpy copy of `nbytes` (read + write) in GB/s: the reference for memory-bound passes."""
    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    t = _median_alternating({"copy": lambda: np.copyto(b, a)}, repeats)["copy"]
    return 2 * nbytes / t / 1e9


BN_SHAPES = [("BN 26x26x32", (26, 26, 32)), ("BN 14x14x256", (14, 14, 256))]


def bn_rows(batches, repeats, torch):
    rng = np.random.default_rng(0)
    rows = []
    for N in batches:
        for name, hwc in BN_SHAPES:
            C = hwc[-1]
            x = rng.standard_normal((N,) + hwc).astype(np.float32) * 2 + 3
            g = rng.standard_normal(x.shape).astype(np.float32)
            bn = layers.BatchNormalization()
            bn(x[:1])
            ctx = bn._fwd(x, True)[1]
            ours = {"train forward": lambda: bn._fwd(x, True),
                    "train backward": lambda: bn._bwd(ctx, g, True),
                    "inference": lambda: bn._fwd(x, False)}
            theirs = {}
            if torch:
                tb = torch.nn.BatchNorm2d(C, eps=1e-3, momentum=0.01)
                xt = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_(True)   # channels_last
                gt = torch.from_numpy(g).permute(0, 3, 1, 2)
                yt = tb(xt)
                params = [xt, tb.weight, tb.bias]

                def t_infer():
                    tb.eval()
                    with torch.no_grad():
                        tb(xt)
                    tb.train()
                theirs = {"train forward": lambda: tb(xt),
                          "train backward": lambda: torch.autograd.grad(yt, params, gt, retain_graph=True),
                          "inference": t_infer}
            size = x.nbytes
            copy = copy_gbps(size, repeats)
            touched = {"train forward": 2 * size, "train backward": 3 * size, "inference": 2 * size}
            for p, (t, tt) in _time_passes(ours, theirs, repeats):
                rows.append(dict(layer=name, batch=N, pass_=p, ms=t * 1e3, gbps=touched[p] / t / 1e9,
                                 copy_gbps=copy,
                                 torch_ms=tt and tt * 1e3, torch_gbps=tt and touched[p] / tt / 1e9))
    return rows


def convt_rows(batches, repeats, torch):
    """Conv2DTranspose 3x3 stride 2 'same': 14x14x128 -> 28x28x64."""
    rng = np.random.default_rng(1)
    rows = []
    for N in batches:
        layer = layers.Conv2DTranspose(64, 3, strides=2, padding="same", use_bias=False)
        x = rng.standard_normal((N, 14, 14, 128)).astype(np.float32)
        layer(x[:1])
        y, ctx = layer._fwd(x, True)
        g = rng.standard_normal(y.shape).astype(np.float32)
        flops = 2.0 * N * 14 * 14 * 128 * 64 * 9
        out, win = layer._geometry(x.shape)
        ours = {"forward": lambda: layer._fwd(x, True),
                "backward_input": lambda: _kernels.conv2d_fwd(g, layer.kernel, None, False, win),
                "backward_filter": lambda: _kernels.conv2d_bwd_filter(g, layer.kernel.shape, x, win)}
        theirs = {}
        if torch:
            cl = torch.channels_last
            xt = torch.from_numpy(x).permute(0, 3, 1, 2)
            wt = torch.from_numpy(layer.kernel).permute(3, 2, 0, 1).contiguous()   # (Cin, F, R, S)
            gt = torch.from_numpy(g).permute(0, 3, 1, 2)
            wt = wt.contiguous(memory_format=cl)
            F = torch.nn.functional
            bi = torch.ops.aten.convolution_backward
            args = ([2, 2], [1, 1], [1, 1], True, [1, 1], 1)
            theirs = {"forward": lambda: F.conv_transpose2d(xt, wt, None, 2, 1, 1),
                      "backward_input": lambda: bi(gt, xt, wt, None, *args, [True, False, False]),
                      "backward_filter": lambda: bi(gt, xt, wt, None, *args, [False, True, False])}
        for p, (t, tt) in _time_passes(ours, theirs, repeats):
            rows.append(dict(layer="Conv2DTranspose 14x14x128->28x28x64", batch=N, pass_=p,
                             ms=t * 1e3, gflops=flops / t / 1e9,
                             torch_ms=tt and tt * 1e3, torch_gflops=tt and flops / tt / 1e9))
    return rows


def bn_cnn():
    """The tutorial CNN with BatchNormalization after each convolution (conv, BN, ReLU)."""
    return models.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(32, 3), layers.BatchNormalization(), layers.ReLU(), layers.MaxPooling2D(),
        layers.Conv2D(64, 3), layers.BatchNormalization(), layers.ReLU(), layers.MaxPooling2D(),
        layers.Conv2D(64, 3), layers.BatchNormalization(), layers.ReLU(),
        layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])


def torch_bn_cnn(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.Flatten(),
                         nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(1)).eval()


def bn_cnn_rows(batches, repeats, torch):
    rng = np.random.default_rng(2)
    m = bn_cnn()
    for l in m.layers:   # non-trivial moving statistics
        if isinstance(l, layers.BatchNormalization):
            C = l.moving_mean.shape[0]
            l.set_weights([rng.uniform(0.5, 2, C), rng.standard_normal(C), rng.standard_normal(C),
                           rng.uniform(0.5, 2, C)])
    plan = m._plan()
    rows = []
    for N in batches:
        x = rng.standard_normal((N, 28, 28, 1)).astype(np.float32)
        fns = {"folded": lambda: plan.predict([x]), "unfolded": lambda: plan.forward([x], False)}
        if torch:
            tm = torch_bn_cnn(torch).to(memory_format=torch.channels_last)
            xt = torch.from_numpy(x).permute(0, 3, 1, 2)

            def t_infer():
                with torch.no_grad():
                    tm(xt)
            fns["torch"] = t_infer
        t = _median_alternating(fns, repeats)
        rows.append(dict(model="BN-CNN (tutorial + BN)", batch=N, folded_ms=t["folded"] * 1e3,
                         unfolded_ms=t["unfolded"] * 1e3, torch_ms=t.get("torch", 0) * 1e3 or None,
                         folds=len(plan.folds)))
    return rows


def print_tables(batches, repeats, torch):
    """Run the three benchmarks and print their markdown tables; returns the rows."""
    bn = bn_rows(batches, repeats, torch)
    print("\n| layer | batch | pass | pyconv ms | pyconv GB/s | % numpy copy | PyTorch ms | PyTorch GB/s "
          "| pyconv speed / PyTorch |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in bn:
        tm = f"{r['torch_ms']:.3f} | {r['torch_gbps']:.1f} | {r['torch_ms'] / r['ms']:.2f}" if r["torch_ms"] \
            else "- | - | -"
        print(f"| {r['layer']} | {r['batch']} | {r['pass_']} | {r['ms']:.3f} | {r['gbps']:.1f} | "
              f"{100 * r['gbps'] / r['copy_gbps']:.0f}% | {tm} |")
    ct = convt_rows(batches, repeats, torch)
    print("\n| layer | batch | pass | pyconv ms | pyconv GFLOP/s | PyTorch GFLOP/s | pyconv speed / PyTorch |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in ct:
        tm = f"{r['torch_gflops']:.1f} | {r['torch_ms'] / r['ms']:.2f}" if r["torch_ms"] else "- | -"
        print(f"| {r['layer']} | {r['batch']} | {r['pass_']} | {r['ms']:.3f} | {r['gflops']:.1f} | {tm} |")
    cnn = bn_cnn_rows(batches, repeats, torch)
    print("\n| model (inference, one batch) | batch | BN folded ms | BN run ms | folded speed-up | "
          "PyTorch eval ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in cnn:
        tm = f"{r['torch_ms']:.3f}" if r["torch_ms"] else "-"
        print(f"| {r['model']} ({r['folds']} BN folded) | {r['batch']} | {r['folded_ms']:.3f} | "
              f"{r['unfolded_ms']:.3f} | {r['unfolded_ms'] / r['folded_ms']:.2f} | {tm} |")
    return dict(batchnorm=bn, conv_transpose=ct, bn_cnn=cnn)
