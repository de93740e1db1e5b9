"""Thread scaling of pyconv's training on a shared machine: 1 against 2 threads, side by side.

    python -m bench --scaling [--models cnn] [--threads 1,2] [--steps 30] [--seconds 60] [--by-pass] [--json out.json]

Method: one process trains the tutorial model at batch 32 in chunks of `--steps` batches,
switching the thread count (pyconv.set_num_threads) after every chunk, for `--seconds`. Each
chunk's wall time per step is kept with the cores other processes kept busy meanwhile
(/proc/stat, as bench/epoch.py measures it). A chunk is a tenth of a second: short enough that
many fall between the bursts of other work on a shared machine, and the two thread counts see
the same conditions, chunk after chunk. Only chunks with other load below `--max-other-load`
(0.1 cores) count; the ratio is given both of the medians and as the median of the ratios of
adjacent quiet pairs (one chunk of each count, back to back).

`--by-pass` answers where the second thread idles: the chunks run with bench/stepprofile.py's
timers in place (every layer pass, the loss, the optimizer, the metrics, each kernel call), and
a second table gives each part's median ms per step at each thread count, their ratio, and the
excess over a perfect split (time at 2 threads - time at 1 / 2), which sums to the step's. The
timers add about a microsecond per kernel call to both counts alike. Why not whole epochs: on 2 cores a
single runnable neighbour slows a 2-thread OpenMP run 3-10x (every parallel region waits for
the thread that lost its core), and on this machine whole quiet epochs are rare.
"""
import argparse
import json
import os
import resource
import time

import numpy as np

import pyconv
from pyconv import datasets, layers, models, utils

from bench import specs, stepprofile
from bench.epoch import busy_cpu_seconds, parse_list
from bench.worker import keras_like_model


def self_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def summarize(records, counts, max_other_load):
    """records: [(threads, ms per step, other load, parts)] in the order run. Per thread count the
    quiet chunks' median and min; and for each count after the first, its speed-up over the
    first as a ratio of medians and as the median ratio of adjacent quiet pairs."""
    quiet = [r for r in records if r[2] < max_other_load]
    out = {"chunks": len(records), "quiet": len(quiet), "by_threads": {}}
    for t in counts:
        ms = [r[1] for r in quiet if r[0] == t]
        out["by_threads"][t] = {"n": len(ms), "median_ms": float(np.median(ms)) if ms else None,
                                "min_ms": min(ms) if ms else None}
    base = out["by_threads"][counts[0]]["median_ms"]
    for t in counts[1:]:
        pairs = [a[1] / b[1] for a, b in zip(records, records[1:])
                 if a[0] == counts[0] and b[0] == t and a[2] < max_other_load and b[2] < max_other_load]
        med = out["by_threads"][t]["median_ms"]
        out["by_threads"][t]["speedup_of_medians"] = base / med if base and med else None
        out["by_threads"][t]["speedup_median_pair"] = float(np.median(pairs)) if pairs else None
        out["by_threads"][t]["pairs"] = len(pairs)
    return out


def measure(model_name, counts, steps, seconds, prof=None):
    """[(threads, ms per step, other load, {part: ms per step} or None)] chunk by chunk; the
    parts (layer passes, kernels) only with a stepprofile.Profile `prof`."""
    (x, y), _ = datasets.fashion_mnist.load_data()
    n = steps * specs.BATCH
    x = (x[:n] / 255.0).astype(np.float32)
    x = x if model_name == "dnn" else x[..., None]
    utils.set_random_seed(0)
    m = keras_like_model(layers, models, model_name)
    w = min(20, steps) * specs.BATCH
    m.fit(x[:w], y[:w], batch_size=specs.BATCH, epochs=1, verbose=0)  # warm-up
    restore = stepprofile.instrument(m, prof) if prof is not None else None
    records, end = [], time.time() + seconds
    try:
        while time.time() < end:
            for t in counts:
                pyconv.set_num_threads(t)
                if prof is not None:
                    prof.__init__()   # this chunk's timers only
                b0, c0, w0 = busy_cpu_seconds(), self_cpu_seconds(), time.perf_counter()
                m.fit(x, y[:n], batch_size=specs.BATCH, epochs=1, verbose=0, shuffle=False)
                wall = time.perf_counter() - w0
                other = max(0.0, (busy_cpu_seconds() - b0) - (self_cpu_seconds() - c0)) / wall
                records.append((t, wall / steps * 1e3, other, parts(prof, wall, steps)))
    finally:
        if restore is not None:
            restore()
    return records


def parts(prof, wall, steps):
    """A chunk's ms per step in each layer pass ('layer pass', including its Python), in the
    rest of the step ('fit loop': wall time outside every pass), and in each kernel ('kernel
    name', also counted in its pass); None without timers."""
    if prof is None:
        return None
    out = {f"{a} {b}".strip(): v / steps * 1e3 for (a, b), v in prof.incl.items()}
    out["fit loop (outside the passes)"] = (wall - sum(prof.incl.values())) / steps * 1e3
    out.update({f"kernel {k}": v / steps * 1e3 for k, v in prof.by_kernel.items()})
    return out


def by_part(records, counts, max_other_load):
    """{part: {threads: median ms per step over the quiet chunks}} for the chunks with parts."""
    out = {}
    for t, _, other, p in records:
        if p is None or other >= max_other_load:
            continue
        for k, v in p.items():
            out.setdefault(k, {}).setdefault(t, []).append(v)
    return {k: {t: float(np.median(v[t])) for t in counts if t in v} for k, v in out.items()}


def format_parts(parts_ms, counts):
    """The passes first (in the order of their time on the base count), then the kernels."""
    base, other = counts[0], counts[-1]
    lines = [f"| part | {base} thread(s) ms | {other} threads ms | speed-up | excess over a perfect split, ms |",
             "|---|---:|---:|---:|---:|"]
    rows = [(k, v) for k, v in parts_ms.items() if base in v and other in v]
    passes = sorted((r for r in rows if not r[0].startswith("kernel ")), key=lambda r: -r[1][base])
    kernels = sorted((r for r in rows if r[0].startswith("kernel ")), key=lambda r: -r[1][base])
    for k, v in passes + kernels:
        a, b = v[base], v[other]
        lines.append(f"| {k} | {a:.3f} | {b:.3f} | {a / b:.2f} | {b - a * base / other:+.3f} |")
    return "\n".join(lines)


def format_summary(model_name, s, steps, max_other_load):
    counts = list(s["by_threads"])
    lines = [f"### {model_name.upper()}: ms per training step at batch {specs.BATCH}, chunks of {steps} steps "
             f"alternating {'/'.join(map(str, counts))} threads; {s['quiet']} of {s['chunks']} chunks quiet "
             f"(other processes < {max_other_load} cores)", "",
             "| threads | quiet chunks | median ms/step | min ms/step | speed-up (medians) | speed-up (median of adjacent pairs) |",
             "|---:|---:|---:|---:|---:|---:|"]
    fmt = lambda v, f: "-" if v is None else format(v, f)
    for t, r in s["by_threads"].items():
        lines.append(f"| {t} | {r['n']} | {fmt(r['median_ms'], '.3f')} | {fmt(r['min_ms'], '.3f')} | "
                     f"{fmt(r.get('speedup_of_medians', 1.0), '.2f')} | "
                     f"{fmt(r.get('speedup_median_pair', 1.0), '.2f')} ({r.get('pairs', '-')} pairs) |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench --scaling", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="cnn", type=lambda s: parse_list(s, tuple(specs.MODELS), "models"))
    ap.add_argument("--threads", default="1,2", help="thread counts to alternate, the first the base (1,2)")
    ap.add_argument("--steps", type=int, default=30, help="training steps per chunk (30)")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to alternate, per model (60)")
    ap.add_argument("--max-other-load", type=float, default=0.1,
                    help="cores other processes may keep busy during a chunk that counts (0.1)")
    ap.add_argument("--by-pass", action="store_true",
                    help="time each layer pass and kernel too, and tabulate where the threads idle")
    ap.add_argument("--json", metavar="PATH")
    a = ap.parse_args(argv)
    try:
        counts = [int(t) for t in a.threads.split(",")]
    except ValueError:
        counts = []
    if len(counts) < 2 or min(counts) < 1 or a.steps < 1 or a.seconds <= 0:
        ap.error("--threads takes two or more positive ints; --steps and --seconds must be positive")
    print(f"pyconv {pyconv.__version__}; {os.cpu_count()} CPUs; method in bench/scaling.py\n")
    out = {}
    for name in a.models:
        records = measure(name, counts, a.steps, a.seconds, stepprofile.Profile() if a.by_pass else None)
        s = summarize(records, counts, a.max_other_load)
        out[name] = {"records": records, "summary": s}
        print(format_summary(name, s, a.steps, a.max_other_load) + "\n")
        if a.by_pass:
            out[name]["parts"] = by_part(records, counts, a.max_other_load)
            print("Each part's median over the quiet chunks (the timers in place):\n")
            print(format_parts(out[name]["parts"], counts) + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {a.json}")
    return 0
