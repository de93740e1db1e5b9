"""Thread scaling of pyconv's training on a shared machine: 1 against 2 threads, side by side.

    python -m bench --scaling [--models cnn] [--threads 1,2] [--steps 30] [--seconds 60] [--json out.json]

Method: one process trains the tutorial model at batch 32 in chunks of `--steps` batches,
switching the thread count (pyconv.set_num_threads) after every chunk, for `--seconds`. Each
chunk's wall time per step is kept with the cores other processes kept busy meanwhile
(/proc/stat, as bench/epoch.py measures it). A chunk is a tenth of a second: short enough that
many fall between the bursts of other work on a shared machine, and the two thread counts see
the same conditions, chunk after chunk. Only chunks with other load below `--max-other-load`
(0.1 cores) count; the ratio is given both of the medians and as the median of the ratios of
adjacent quiet pairs (one chunk of each count, back to back). Why not whole epochs: on 2 cores a
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

from bench import specs
from bench.epoch import busy_cpu_seconds, parse_list
from bench.worker import keras_like_model


def self_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def summarize(records, counts, max_other_load):
    """records: [(threads, ms per step, other load)] in the order run. Per thread count the
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


def measure(model_name, counts, steps, seconds):
    (x, y), _ = datasets.fashion_mnist.load_data()
    n = steps * specs.BATCH
    x = (x[:n] / 255.0).astype(np.float32)
    x = x if model_name == "dnn" else x[..., None]
    utils.set_random_seed(0)
    m = keras_like_model(layers, models, model_name)
    m.fit(x[:20 * specs.BATCH], y[:20 * specs.BATCH], batch_size=specs.BATCH, epochs=1, verbose=0)  # warm-up
    records, end = [], time.time() + seconds
    while time.time() < end:
        for t in counts:
            pyconv.set_num_threads(t)
            b0, c0, w0 = busy_cpu_seconds(), self_cpu_seconds(), time.perf_counter()
            m.fit(x, y[:n], batch_size=specs.BATCH, epochs=1, verbose=0, shuffle=False)
            wall = time.perf_counter() - w0
            other = max(0.0, (busy_cpu_seconds() - b0) - (self_cpu_seconds() - c0)) / wall
            records.append((t, wall / steps * 1e3, other))
    return records


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
        records = measure(name, counts, a.steps, a.seconds)
        s = summarize(records, counts, a.max_other_load)
        out[name] = {"records": records, "summary": s}
        print(format_summary(name, s, a.steps, a.max_other_load) + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {a.json}")
    return 0
