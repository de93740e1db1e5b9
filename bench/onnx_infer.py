"""Inference of the tutorial CNN: pyconv's `predict_on_batch` against onnxruntime running the
same model exported with `model.export(path, format="onnx")`.

    python -m bench --onnx [--batches 1 256] [--threads 2] [--repeats 50] [--json out.json]

Both run the same weights on the same batch with the same thread count (pyconv.set_num_threads,
onnxruntime's intra_op_num_threads; inter-op 1, all graph optimizations on). Medians of
`--repeats` calls after warm-up, the two frameworks alternating call by call so that both see
the same machine state. The outputs are checked to agree (1e-5) before anything is timed.
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np

import pyconv
from pyconv import layers, models

from bench import specs
from bench.worker import keras_like_model


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench --onnx", description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--json", help="also write the results here")
    return p.parse_args(argv)


def session(model, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cnn.onnx")
        model.export(path, format="onnx", verbose=False)
        return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"]), ort.__version__


def alternating_medians(fns, repeats, warmup=3):
    """The median seconds per call of each function, calling them in turn `repeats` times."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    ts = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in ts]


def main(argv=None):
    args = parse(argv)
    pyconv.set_num_threads(args.threads)
    model = keras_like_model(layers, models, "cnn")
    sess, ort_version = session(model, args.threads)
    name = sess.get_inputs()[0].name
    shape = specs.MODELS["cnn"]["input"]
    rows = []
    print(f"tutorial CNN inference, {args.threads} threads, pyconv {pyconv.__version__} vs onnxruntime "
          f"{ort_version}; median of {args.repeats} alternating calls")
    print(f"{'batch':>6} {'pyconv ms':>10} {'onnxruntime ms':>15} {'pyconv / ort':>13}")
    for n in args.batches:
        x = np.random.default_rng(n).uniform(0, 1, (n,) + tuple(shape)).astype(np.float32)
        want = model.predict_on_batch(x)
        got = sess.run(None, {name: x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        tp, to = alternating_medians([lambda: model.predict_on_batch(x), lambda: sess.run(None, {name: x})],
                                     args.repeats)
        rows.append({"batch": n, "pyconv_s": tp, "onnxruntime_s": to, "ratio": tp / to})
        print(f"{n:>6} {tp * 1e3:>10.3f} {to * 1e3:>15.3f} {tp / to:>13.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "repeats": args.repeats, "onnxruntime": ort_version,
                       "rows": rows}, f, indent=1)
    return 0
