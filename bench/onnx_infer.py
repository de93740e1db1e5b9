"""Inference of the tutorial CNN and DNN: pyconv's `predict_on_batch` against onnxruntime running
the same model exported with `model.export(path, format="onnx")`, and where pyconv's time goes.

    python -m bench --inference [--models cnn dnn] [--batches 1 256] [--threads 2] [--repeats 50]
                                [--block 5] [--base REV] [--json out.json]   (--onnx is the same mode)

Both run the same weights on the same batch with the same thread count (pyconv.set_num_threads,
onnxruntime's intra_op_num_threads; inter-op 1, all graph optimizations on, its defaults
otherwise). Each figure is the median of `--repeats` calls after warm-up, the two frameworks
alternating in blocks of `--block` calls, each block started once this process has gone idle
and then SETTLE_LEAST seconds after the last (`settle`, see BLOCK), so that both see the same
machine state: blocks of 5 weigh the first calls after a pause (a client's bursts), blocks of
25 or more calls back to back (a server under load). The outputs are checked to agree (1e-5)
before anything is timed. With --base REV,
REV's pyconv (built aside and imported as `pyconv_base`, as bench/ab.py does) runs the same
weights in the same alternation, a third framework: before and after a change, in one run.

The breakdown (`--breakdown-batch`, 1 by default) splits one pyconv call as bench/stepprofile.py
splits a training step: every function of pyconv._kernels (each is one C kernel run without the
GIL) is wrapped with a timer; "kernels" is the median of their sum per call, "outside" is the
median of the plain calls (no timers, alternating with the timed ones) minus that: Python,
NumPy, the interpreter between kernels. The timers' own cost is printed beside it.
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np

import pyconv
from pyconv import _kernels, layers, models

from bench import specs
from bench.epoch import busy_cpu_seconds
from bench.stepprofile import Profile, instrument, self_cpu_seconds
from bench.worker import keras_like_model


# The frameworks alternate in blocks of BLOCK calls, each started once the process is idle
# (`settle`). Call by call, the second framework would run while onnxruntime's pool threads
# still spin after its call (its default, session.intra_op.allow_spinning), on the core the
# other needs: measured, the CNN at batch 256 on 2 threads took pyconv 35 ms right after
# onnxruntime and 18 ms after a pause. That spin lasts ~45 ms after onnxruntime's last call
# (one core busy in each 5 ms window, the tutorial CNN and DNN at batch 1 and 256), so the
# 30 ms pause this bench used to take left pyconv's blocks sharing a core with it; pyconv's own
# helpers spin for ~0.2 ms (pool.c) and GOMP_SPINCOUNT (README).
BLOCK = 5
# settle: the process counts as idle when its threads used less than IDLE_CORES of a core
# in each of two successive windows of IDLE_WINDOW seconds; it waits at least SETTLE_LEAST
# (every block starts after the same idle time, whichever framework ran before: a first call
# after a longer idle runs slower) and at most SETTLE_MAX.
IDLE_WINDOW, IDLE_CORES, SETTLE_LEAST, SETTLE_MAX = 0.005, 0.1, 0.06, 0.5


def settle(window=IDLE_WINDOW, idle=IDLE_CORES, least=SETTLE_LEAST, most=SETTLE_MAX):
    """Sleep until this process's threads have been idle for two windows in a row (a thread
    pool's spin after its last call has ended) and `least` seconds have passed, or `most`
    seconds. Returns the seconds slept."""
    t0 = time.perf_counter()
    quiet = 0
    while (quiet < 2 or time.perf_counter() - t0 < least) and time.perf_counter() - t0 < most:
        c0, w0 = self_cpu_seconds(), time.perf_counter()
        time.sleep(window)
        busy = (self_cpu_seconds() - c0) / (time.perf_counter() - w0)
        quiet = quiet + 1 if busy < idle else 0
    return time.perf_counter() - t0


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench --inference", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=sorted(specs.MODELS), default=["cnn", "dnn"])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--block", type=int, default=BLOCK,
                   help="calls of one framework in a row, after the process has been idle "
                        "(`settle`): 5, the first calls after a pause; 25 or more, back to back")
    p.add_argument("--breakdown-batch", type=int, default=1,
                   help="the batch size of the per-call breakdown (0: none)")
    p.add_argument("--base", help="also time this commit's pyconv (bench/ab.py's base_package)")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args(argv)
    if a.threads < 1 or a.repeats < 5 or min(a.batches) < 1 or a.block < 1:
        p.error("--threads, --batches and --block must be >= 1, --repeats >= 5 (a median of at least 5)")
    return a


def session(model, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.onnx")
        model.export(path, format="onnx", verbose=False)
        return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"]), ort.__version__


def alternating_medians(fns, repeats, warmup=3, block=1, pause=None):
    """The median seconds per call of each function, calling them in turn `repeats` times:
    `block` calls of one, then `block` of the next..., calling `pause()` before each block."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    ts = [[] for _ in fns]
    for _ in range(-(-repeats // block)):
        for k, fn in enumerate(fns):
            if pause:
                pause()
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                ts[k].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in ts]


def other_load(fn):
    """Run fn(); return (its result, how many cores other processes kept busy meanwhile or None)."""
    b0, c0, t0 = busy_cpu_seconds(), self_cpu_seconds(), time.perf_counter()
    out = fn()
    b1, c1, wall = busy_cpu_seconds(), self_cpu_seconds(), time.perf_counter() - t0
    if b0 is None or b1 is None:
        return out, None
    return out, max(0.0, (b1 - b0) - (c1 - c0)) / wall


def breakdown(model, x, repeats):
    """One call of predict_on_batch(x), split: (median ms without timers, median ms in the C
    kernels, kernel calls, {kernel: median ms}, median ms with the timers). Medians per call,
    the instrumented and the plain calls alternating."""
    prof = Profile()
    plain, timed, kern, per = [], [], [], {}
    for k in range(repeats + 3):
        t0 = time.perf_counter()
        model.predict_on_batch(x)
        plain.append(time.perf_counter() - t0)
        before = dict(prof.by_kernel)
        restore = instrument(model, prof)
        try:
            t0 = time.perf_counter()
            model.predict_on_batch(x)
            timed.append(time.perf_counter() - t0)
        finally:
            restore()
        spent = {name: t - before.get(name, 0.0) for name, t in prof.by_kernel.items()}
        kern.append(sum(spent.values()))
        for name, t in spent.items():
            per.setdefault(name, []).append(t)
    warm = slice(3, None)   # the first calls warm the caches up
    calls = sum(prof.kcalls.values()) / (repeats + 3)
    by = {name: float(np.median(t[warm])) * 1e3 for name, t in sorted(per.items(), key=lambda kv: -sum(kv[1]))}
    return (float(np.median(plain[warm])) * 1e3, float(np.median(kern[warm])) * 1e3, calls, by,
            float(np.median(timed[warm])) * 1e3)


def main(argv=None):
    args = parse(argv)
    pyconv.set_num_threads(args.threads)
    base = None
    if args.base:
        from bench.ab import base_package
        base, _ = base_package(args.base)
        base.set_num_threads(args.threads)
    rows, notes = [], []
    ort_version = None
    for name in args.models:
        model = keras_like_model(layers, models, name)
        sess, ort_version = session(model, args.threads)
        inp = sess.get_inputs()[0].name
        old = None
        if base is not None:
            import importlib
            old = keras_like_model(importlib.import_module("pyconv_base.layers"),
                                   importlib.import_module("pyconv_base.models"), name)
            old.set_weights(model.get_weights())
        for n in args.batches:
            x = np.random.default_rng(n).uniform(0, 1, (n,) + tuple(specs.MODELS[name]["input"])).astype(np.float32)
            want = model.predict_on_batch(x)
            got = sess.run(None, {inp: x})[0]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
            fns = [lambda: model.predict_on_batch(x), lambda: sess.run(None, {inp: x})]
            if old is not None:
                np.testing.assert_allclose(old.predict_on_batch(x), want, rtol=1e-5, atol=1e-5)
                fns.append(lambda: old.predict_on_batch(x))
            ts, load = other_load(lambda: alternating_medians(fns, args.repeats, block=args.block, pause=settle))
            tp, to = ts[0], ts[1]
            rows.append({"model": name, "batch": n, "pyconv_ms": tp * 1e3, "onnxruntime_ms": to * 1e3,
                         "ratio": tp / to, "other_load": load})
            if old is not None:
                rows[-1].update(base_ms=ts[2] * 1e3, base_ratio=ts[2] / to)
        if args.breakdown_batch:
            x = np.random.default_rng(0).uniform(
                0, 1, (args.breakdown_batch,) + tuple(specs.MODELS[name]["input"])).astype(np.float32)
            plain, kern, calls, per, timed = breakdown(model, x, 4 * args.repeats)
            notes.append({"model": name, "batch": args.breakdown_batch, "call_ms": plain, "kernel_ms": kern,
                          "outside_ms": plain - kern, "kernel_calls": calls, "by_kernel": per,
                          "instrumented_ms": timed})
    print(f"inference, {args.threads} thread(s), pyconv {pyconv.__version__} ({_kernels.isa_active()}) vs "
          f"onnxruntime {ort_version}; median of {args.repeats} calls each, alternating in blocks of "
          f"{args.block} after {SETTLE_LEAST * 1e3:.0f} ms idle\n")
    extra = f" {args.base} ms | {args.base} / ort |" if base is not None else ""
    print("| model | batch | pyconv ms | onnxruntime ms | pyconv / ort |" + extra + " other load (cores) |")
    print("|---|---:|---:|---:|---:|" + ("---:|---:|" if base is not None else "") + "---:|")
    for r in rows:
        load = "-" if r["other_load"] is None else f"{r['other_load']:.2f}"
        old = f" {r['base_ms']:.4f} | {r['base_ratio']:.2f} |" if base is not None else ""
        print(f"| {r['model']} | {r['batch']} | {r['pyconv_ms']:.4f} | {r['onnxruntime_ms']:.4f} | "
              f"{r['ratio']:.2f} |{old} {load} |")
    if any(r["other_load"] is not None and r["other_load"] > 0.3 for r in rows):
        print("\nWARNING: other processes kept cores busy during some rows: those times are disturbed")
    for b in notes:
        share = 100 * b["outside_ms"] / b["call_ms"] if b["call_ms"] else 0.0
        print(f"\n{b['model'].upper()} predict_on_batch at batch {b['batch']}: {b['call_ms'] * 1e3:.1f} us per call "
              f"= C kernels {b['kernel_ms'] * 1e3:.1f} us ({b['kernel_calls']:.0f} calls) + outside the "
              f"kernels {b['outside_ms'] * 1e3:.1f} us ({share:.0f}% Python/NumPy); with the timers "
              f"{b['instrumented_ms'] * 1e3:.1f} us")
        print("  " + ", ".join(f"{k} {v * 1e3:.1f} us" for k, v in b["by_kernel"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "repeats": args.repeats, "onnxruntime": ort_version,
                       "isa": _kernels.isa_active(), "rows": rows, "breakdown": notes}, f, indent=1)
    return 0
