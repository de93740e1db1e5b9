"""Where one pyconv training step spends its time: per layer and pass, C kernels vs the rest.

    python -m bench --profile [--models cnn,dnn,cnn_bn,mobilenet] [--steps 200] [--threads 2] [--json out.json]

Method: instrumentation, not sampling. In this process only, every public function of
pyconv._kernels (the Cython boundary: each call is one C kernel run without the GIL) is replaced
by a wrapper that adds its wall time to the scope it runs in; the scopes are each layer's forward
and backward pass, the loss, the optimizer update, the metrics, and "fit loop" -- everything else
in Model.fit (batch slicing, shuffling, callbacks, bookkeeping). Then `--steps` batches of real
Fashion-MNIST (CIFAR-10 for the MobileNet-style model, synthetic where it is absent: see
bench.epoch.synthetic_cifar10) are trained with model.fit at batch 32 (after an uninstrumented
warm-up), and

    total step time  = the epoch's wall time / steps        (measured by a callback, as in bench)
    kernel time      = the sum of the wrapped kernel calls
    outside kernels  = total - kernel time   (Python, NumPy -- the Adam update is NumPy -- and
                                              the interpreter's calls between kernels)

The same fit is also timed without the wrappers; the difference is the instrumentation's own
cost (a few microseconds per step), printed so that the reader can discount it. The rows are
exclusive: a layer's row holds its own pass, not the loss or the optimizer.

The Python share is computed two ways. The figure in bold subtracts the instrumented run's
kernel time from the median uninstrumented step ("plain"): the real step, with the timers'
whole cost in place excluded; it mixes two runs, so the kernels' run-to-run variation lands in
it (for the CNN it is larger than the overhead itself). The second takes everything from the
instrumented runs and removes the timers' cost as `calibrate()` measures it in isolation (a
wrapped no-op against a bare one). In place the timers cost more than in isolation (their code
and data are cold after each kernel: the DNN's instrumented step is 10-20 us longer than the
plain one, where the isolated cost accounts for 7-8 us), so this second figure is an upper
bound on the share; it is steady where the plain one is noise (the CNN).
"""
import argparse
import collections
import json
import resource
import time

import numpy as np

import pyconv
from pyconv import _kernels, callbacks, datasets, layers, models, utils

from bench import specs
from bench.worker import keras_like_model

SKIP = {"compiler", "has_openmp", "isa_active", "isa_detected", "isas_available", "gemm_tile",
        "cache_info", "blocking", "derive_blocking", "set_blocking", "num_threads", "set_isa",
        "set_thread_cap", "set_pool_width", "dense_rows_max",
        "set_num_threads", "np", "ISA_NAMES"}
ROOT = ("fit loop", "")
_MISSING = object()


class Profile:
    """Scoped timers. `stack[-1]` is the scope a kernel call is charged to."""

    def __init__(self):
        self.stack = [ROOT]
        self.incl = collections.defaultdict(float)      # scope -> wall seconds inside it
        self.calls = collections.defaultdict(int)       # scope -> entries
        self.kernel = collections.defaultdict(float)    # scope -> seconds in C kernels
        self.kernels_in = collections.defaultdict(collections.Counter)  # scope -> kernel -> calls
        self.by_kernel = collections.defaultdict(float)  # kernel name -> seconds
        self.kcalls = collections.Counter()              # kernel name -> calls
        self.order = []                                  # scopes in first-entry order

    def kernel_wrapper(self, name, fn):
        clock = time.perf_counter

        def wrapped(*args, **kwargs):
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = clock() - t0
                scope = self.stack[-1]
                self.kernel[scope] += dt
                self.kernels_in[scope][name] += 1
                self.by_kernel[name] += dt
                self.kcalls[name] += 1
        wrapped.__wrapped__ = fn
        return wrapped

    def scope_wrapper(self, key, fn):
        clock = time.perf_counter

        def wrapped(*args, **kwargs):
            if self.stack[-1] == key:  # a pass that calls itself: one scope, not two
                return fn(*args, **kwargs)
            if key not in self.incl:
                self.order.append(key)
            self.stack.append(key)
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.incl[key] += clock() - t0
                self.calls[key] += 1
                self.stack.pop()
        return wrapped


def instrument(model, prof):
    """Wrap the model's passes and pyconv._kernels' functions; returns a function that undoes it."""
    undo = []

    def patch(obj, attr, new):
        undo.append((obj, attr, vars(obj).get(attr, _MISSING)))
        setattr(obj, attr, new)

    for name in dir(_kernels):
        fn = getattr(_kernels, name)
        if not name.startswith("_") and name not in SKIP and callable(fn):
            patch(_kernels, name, prof.kernel_wrapper(name, fn))
    for layer in model.layers:
        for attr, pass_ in (("_fwd", "forward"), ("_bwd", "backward")):
            if hasattr(layer, attr):
                patch(layer, attr, prof.scope_wrapper((layer.name, pass_), getattr(layer, attr)))
    for attr in ("_values_and_grad_logits", "_values_and_grad"):
        if hasattr(model.loss, attr):
            patch(model.loss, attr, prof.scope_wrapper(("loss", "forward+backward"), getattr(model.loss, attr)))
    patch(model.optimizer, "_apply", prof.scope_wrapper(("optimizer", "update"), model.optimizer._apply))
    for m in model.metrics:
        patch(m, "update_state", prof.scope_wrapper(("metrics", "update"), m.update_state))

    def restore():
        for obj, attr, prev in reversed(undo):
            if prev is _MISSING:
                delattr(obj, attr)  # the class's method shows through again
            else:
                setattr(obj, attr, prev)
    return restore


def calibrate(n=20000, rounds=7):
    """The timers' own cost per call, in seconds: (a kernel wrapper's part inside the interval
    it times, its part outside it, a scope wrapper's whole cost). Measured on a wrapped no-op C
    function against the bare one (whose own cost cancels); the round with the fastest wrapped
    calls is kept."""
    noop = _kernels.num_threads
    clock = time.perf_counter

    def per_call(fn):
        t0 = clock()
        for _ in range(n):
            fn()
        return (clock() - t0) / n

    bare = min(per_call(noop) for _ in range(rounds))
    best, scope = None, float("inf")
    for _ in range(rounds):
        prof = Profile()
        total = per_call(prof.kernel_wrapper("noop", noop)) - bare
        inside = prof.by_kernel["noop"] / n - bare
        if best is None or total < best[0]:
            best = (total, inside)
        prof = Profile()
        prof.stack.append(("calibration", ""))   # below the root, as a layer's pass is
        scope = min(scope, per_call(prof.scope_wrapper(("noop", ""), noop)) - bare)
    total, inside = best
    inside = min(max(inside, 0.0), max(total, 0.0))
    return inside, max(total, 0.0) - inside, max(scope, 0.0)


class EpochTimer(callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.t0


def self_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def timed_fit(model, x, y, loads=None):
    """Seconds of one epoch of fit; appends to `loads` the cores other processes kept busy."""
    from bench.epoch import busy_cpu_seconds
    t = EpochTimer()
    b0, c0, t0 = busy_cpu_seconds(), self_cpu_seconds(), time.perf_counter()
    model.fit(x, y, batch_size=specs.BATCH, epochs=1, verbose=0, callbacks=[t])
    b1, c1, wall = busy_cpu_seconds(), self_cpu_seconds(), time.perf_counter() - t0
    if loads is not None and b0 is not None and b1 is not None:
        loads.append(max(0.0, (b1 - b0) - (c1 - c0)) / wall)
    return t.seconds


def profile_model(model_name, x, y, steps, seed=0, rounds=3):
    """Profile `steps` training steps of a fresh tutorial model; a dict of per-step figures."""
    utils.set_random_seed(seed)
    m = keras_like_model(layers, models, model_name)
    n = steps * specs.BATCH
    xs = x[:n] if x.ndim == len(specs.MODELS[model_name]["input"]) + 1 else x[:n, ..., None]
    ys = y[:n]
    timed_fit(m, xs[:20 * specs.BATCH], ys[:20 * specs.BATCH])  # warm-up, builds the metrics
    inside, outside, scope = calibrate()
    plain, instrumented, calibrated, loads = [], [], [], []
    prof = None
    for _ in range(rounds):  # alternate plain / instrumented; keep the last instrumented profile
        plain.append(timed_fit(m, xs, ys, loads))
        prof = Profile()
        restore = instrument(m, prof)
        try:
            instrumented.append(timed_fit(m, xs, ys, loads))
        finally:
            restore()
        kcalls, scalls = sum(prof.kcalls.values()), sum(prof.calls.values())
        kern = sum(prof.kernel.values()) - kcalls * inside
        out = instrumented[-1] - sum(prof.kernel.values()) - kcalls * outside - scalls * scope
        calibrated.append((kern, out))
    total = instrumented[-1]
    rows = []
    accounted = 0.0
    for key in prof.order + [ROOT]:
        incl = prof.incl[key] if key != ROOT else None
        kern = prof.kernel[key]
        if key == ROOT:
            incl = total - accounted
        accounted += incl if key != ROOT else 0.0
        rows.append({"part": key[0], "pass": key[1], "calls_per_step": prof.calls[key] / steps,
                     "kernel_ms": kern / steps * 1e3, "outside_ms": (incl - kern) / steps * 1e3,
                     "total_ms": incl / steps * 1e3, "pct_of_step": 100 * incl / total,
                     "kernels": dict(prof.kernels_in[key])})
    kernel_total = sum(prof.kernel.values())
    return {"model": model_name, "steps": steps, "threads": pyconv.get_num_threads(),
            "instrumented_runs": [t / steps * 1e3 for t in instrumented],
            "step_ms": total / steps * 1e3, "plain_step_ms": float(np.median(plain)) / steps * 1e3,
            "kernel_ms": kernel_total / steps * 1e3, "outside_ms": (total - kernel_total) / steps * 1e3,
            "python_overhead_pct": 100 * (total - kernel_total) / total,
            # the same split with the timers' own cost taken out: they run outside the kernels,
            # so the uninstrumented step minus the kernel time is the overhead without them
            "plain_outside_ms": (np.median(plain) - kernel_total) / steps * 1e3,
            "plain_overhead_pct": 100 * (np.median(plain) - kernel_total) / np.median(plain),
            # the timers' cost taken out of the instrumented runs themselves (see calibrate())
            "calibrated_outside_ms": float(np.median([o for _, o in calibrated])) / steps * 1e3,
            "calibrated_overhead_pct": float(np.median([100 * o / (k + o) for k, o in calibrated])),
            "calibrated_overhead_pct_range": [min(100 * o / (k + o) for k, o in calibrated),
                                              max(100 * o / (k + o) for k, o in calibrated)],
            "timer_cost_us": {"kernel_inside": inside * 1e6, "kernel_outside": outside * 1e6,
                              "scope": scope * 1e6},
            "kernel_calls_per_step": sum(prof.kcalls.values()) / steps,
            "other_load_max": max(loads) if loads else None,
            "rows": rows,
            "by_kernel": sorted(({"kernel": k, "calls_per_step": prof.kcalls[k] / steps,
                                  "ms": v / steps * 1e3} for k, v in prof.by_kernel.items()),
                                key=lambda r: -r["ms"])}


def format_profile(p):
    lines = [f"### {p['model'].upper()}: one training step at batch {specs.BATCH}, {p['threads']} thread(s), "
             f"mean of {p['steps']} steps",
             f"step {p['step_ms']:.3f} ms instrumented ({p['plain_step_ms']:.3f} ms without the timers); "
             f"C kernels {p['kernel_ms']:.3f} ms in {p['kernel_calls_per_step']:.0f} calls; outside the kernels "
             f"{p['outside_ms']:.3f} ms = {p['python_overhead_pct']:.1f}% of the instrumented step",
             f"Python overhead (step without timers - kernel time): "
             f"{p['plain_outside_ms']:.3f} ms = **{p['plain_overhead_pct']:.1f}% of a step**",
             f"Upper bound from the instrumented runs alone (the timers' cost measured in isolation, "
             f"{p['timer_cost_us']['kernel_inside']:.2f} + {p['timer_cost_us']['kernel_outside']:.2f} us per kernel "
             f"call and {p['timer_cost_us']['scope']:.2f} us per scope, removed; median of "
             f"{len(p['instrumented_runs'])} run(s)): {p['calibrated_outside_ms']:.3f} ms = "
             f"{p['calibrated_overhead_pct']:.1f}% (runs {p['calibrated_overhead_pct_range'][0]:.1f}-"
             f"{p['calibrated_overhead_pct_range'][1]:.1f}%)"]
    cost = p["step_ms"] - p["plain_step_ms"]
    if cost > 0.05 * p["plain_step_ms"]:
        lines.append(f"NOTE: the timers add {cost:.3f} ms to a {p['plain_step_ms']:.3f} ms step "
                     f"({100 * cost / p['plain_step_ms']:.0f}%): on a step this short the split is approximate")
    if p.get("other_load_max") is not None and p["other_load_max"] > 0.3:
        lines.append(f"WARNING: other processes kept up to {p['other_load_max']:.2f} cores busy meanwhile: "
                     "the times are disturbed")
    lines += ["", "| part | pass | kernel ms | outside ms | total ms | % of step | kernels called (per step) |",
              "|---|---|---:|---:|---:|---:|---|"]
    steps = p["steps"]
    for r in p["rows"]:
        ks = ", ".join(f"{k}" + (f" x{c / steps:g}" if c != steps else "") for k, c in r["kernels"].items())
        lines.append(f"| {r['part']} | {r['pass']} | {r['kernel_ms']:.3f} | {r['outside_ms']:.3f} | "
                     f"{r['total_ms']:.3f} | {r['pct_of_step']:.1f}% | {ks or '-'} |")
    lines += ["", "| kernel | calls/step | ms/step |", "|---|---:|---:|"]
    lines += [f"| {r['kernel']} | {r['calls_per_step']:g} | {r['ms']:.3f} |" for r in p["by_kernel"]]
    return "\n".join(lines)


def training_data(name, n):
    """The first n training images of a data set, /255.0, float32; synthetic CIFAR-10 where the
    real one is absent."""
    from bench.epoch import synthetic_cifar10
    try:
        (x, y), _ = getattr(datasets, name).load_data()
    except datasets.DatasetNotFoundError:
        if name != "cifar10":
            raise
        print("CIFAR-10 is absent: synthetic images of its shape (bench.epoch.synthetic_cifar10)\n")
        return synthetic_cifar10(n, 0)[0]
    return (x[:n] / 255.0).astype(np.float32), y[:n]


def main(argv=None):
    from bench.epoch import default_threads, parse_list
    ap = argparse.ArgumentParser(prog="python -m bench --profile", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="cnn,dnn", type=lambda s: parse_list(s, tuple(specs.MODELS), "models"))
    ap.add_argument("--steps", type=int, default=200, help="training steps profiled per round (200)")
    ap.add_argument("--rounds", type=int, default=3, help="plain/instrumented alternations (3)")
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--quick", action="store_true", help="50 steps, 1 round")
    ap.add_argument("--json", metavar="PATH")
    a = ap.parse_args(argv)
    steps, rounds = (50, 1) if a.quick else (a.steps, a.rounds)
    if steps < 1 or rounds < 1 or a.threads < 1:
        ap.error("--steps, --rounds and --threads must be >= 1")
    pyconv.set_num_threads(a.threads)
    data = {}
    print(f"pyconv {pyconv.__version__} ({_kernels.isa_active()}). Method: every pyconv._kernels function "
          f"wrapped with a timer, charged to the layer pass it runs in; 'outside' = wall time - kernel "
          f"time (Python, NumPy, interpreter); details in bench/stepprofile.py.\n")
    out = []
    for name in a.models:
        if specs.dataset(name) not in data:
            data[specs.dataset(name)] = training_data(specs.dataset(name), steps * specs.BATCH)
        x, y = data[specs.dataset(name)]
        p = profile_model(name, x, y, steps, rounds=rounds)
        out.append(p)
        print(format_profile(p) + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"profiles": out}, f, indent=1)
        print(f"wrote {a.json}")
    return 0
