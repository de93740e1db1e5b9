"""Epoch benchmark: the tutorial DNN and CNN trained on real Fashion-MNIST, the CNN with
BatchNormalization, and a MobileNet-style CIFAR-10-shaped network, in pyconv, PyTorch and
TensorFlow/Keras, side by side, one process per (framework, model, repeat).

    python -m bench [--quick] [--repeats 3] [--epochs 1] [--threads 2]
                    [--frameworks pyconv,torch,tf] [--models dnn,cnn,cnn_bn,mobilenet] [--json out.json]

Method (what makes the numbers comparable):
- Same data: the parent loads each model's data set (pyconv.datasets.fashion_mnist or cifar10),
  divides by 255.0, stores float32 .npy files; every worker trains on those arrays (batch 32,
  Adam lr 1e-3 eps 1e-7, sparse categorical cross-entropy, glorot-uniform weights, zero
  biases). Where CIFAR-10 is not on the machine (and cannot be downloaded), a synthetic set of
  the same shape stands in (`synthetic_cifar10`; the table says so): the timing depends on the
  shapes only.
- Same threads: OMP_NUM_THREADS (and the BLAS variables) in every worker's environment, plus
  pyconv.set_num_threads / torch.set_num_threads + set_num_interop_threads / TF's intra- and
  inter-op thread counts.
- Fair machine state: repeats alternate frameworks (the order rotates each repeat); a worker
  warms up on a few batches before its timed epochs; s/epoch is the median over repeats and
  epochs, extrapolated to a full epoch (60,000 or 50,000 images) when a slice is trained (--quick).
- PyTorch runs eager, in whichever memory format (NCHW or channels_last) a short calibration
  run at the start finds faster for each conv model; both times are printed.
- Peak RSS is the worker's own high-water mark (VmHWM; ru_maxrss would carry the parent's peak
  across exec), and includes the float32 data the worker holds (~210 MiB of Fashion-MNIST);
  import time is measured in fresh processes, median of a few.
"""
import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench import specs
from bench.worker import RESULT_TAG, data_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORKS = ("pyconv", "torch", "tf")
NAMES = {"pyconv": "pyconv", "torch": "PyTorch", "tf": "TensorFlow"}
MODULES = {"pyconv": "pyconv", "torch": "torch", "tf": "tensorflow"}
# What a user types: the tutorial's import line (PyTorch has no such line: `import torch`).
IMPORTS = {"pyconv": "from pyconv import datasets, layers, models",
           "torch": "import torch",
           "tf": "from tensorflow.keras import datasets, layers, models"}
MODEL_NAMES = specs.MODEL_NAMES
FLOP_NOTE = ("GFLOP/s counts conv/dense FLOPs only: forward 2 per multiply-add; a training step is "
             "3x forward per layer (forward, input gradient, weight gradient), 2x for the first "
             "layer (no input gradient)")


# ---- processes ---------------------------------------------------------------------------------
# Workers run from the data directory (holding only .npy files: nothing to shadow a module) and find `bench` by appending the repository to sys.path,
# so that pyconv is the one this interpreter installed (not shadowed by an unbuilt source tree).
WORKER_BOOT = f"import sys; sys.path.append({ROOT!r}); from bench.worker import main; sys.exit(main())"


def child_env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["KERAS_BACKEND"] = "tensorflow"
    return env


def installed(framework):
    return importlib.util.find_spec(MODULES[framework]) is not None


def busy_cpu_seconds():
    """CPU-seconds all cores spent busy since boot (/proc/stat), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_worker(cfg, threads, timeout=3600, cwd=None):
    """Run bench.worker in a fresh process; its result dict, or {"error": ...}.

    Also measures `other_load`: the cores that processes other than the worker kept busy during
    the run (machine-wide busy CPU time minus the worker's own, over the wall time). On this
    shared 2-core machine a busy neighbour slows OpenMP runtimes that spin at barriers by up to
    10x, so a run with other_load above the threshold is flagged (and retried by the driver).
    """
    b0, c0, t0 = busy_cpu_seconds(), children_cpu_seconds(), time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", WORKER_BOOT, json.dumps(cfg)], cwd=cwd or cfg.get("data"),
                           env=child_env(threads), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    wall = time.perf_counter() - t0
    b1, c1 = busy_cpu_seconds(), children_cpu_seconds()
    load = None if b0 is None or b1 is None else max(0.0, (b1 - b0) - (c1 - c0)) / wall
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return dict(json.loads(line[len(RESULT_TAG):]), other_load=load, wall_s=wall)
    tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
    return {"error": f"exit {p.returncode}: {tail[:200]}", "other_load": load, "wall_s": wall}


def import_seconds(statement, threads, repeats):
    """Median wall time of `statement` in fresh interpreters (interpreter start-up excluded)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    ts = []
    with tempfile.TemporaryDirectory(prefix="pyconv-bench-") as empty:  # nothing there to shadow a module
        for _ in range(repeats):
            p = subprocess.run([sys.executable, "-c", code], cwd=empty, env=child_env(threads),
                               capture_output=True, text=True)
            if p.returncode != 0:
                return None
            ts.append(float(p.stdout.strip().splitlines()[-1]))
    return statistics.median(ts)


def synthetic_cifar10(n_train, n_test, seed=0):
    """((x, y), (x_test, y_test)) shaped as CIFAR-10 after /255.0: float32 (N, 32, 32, 3) in
    [0, 1], int64 labels 0-9. Each class is a smooth random colour pattern (8x8 noise, upsampled)
    plus per-image noise, so a network can learn it and the accuracy column stays a sanity check."""
    rng = np.random.default_rng(seed)
    templates = np.repeat(np.repeat(rng.random((10, 8, 8, 3), dtype=np.float32), 4, axis=1), 4, axis=2)

    def draw(n):
        y = rng.integers(0, 10, n)
        x = rng.random((n, 32, 32, 3), dtype=np.float32)
        x *= 0.5
        x += 0.5 * templates[y]
        return x, y
    return draw(n_train), draw(n_test)


def prepare_data(directory, names, n_train=None):
    """Each data set in `names` as the tutorials prepare it (x / 255.0), stored as float32 .npy
    files (bench.worker.data_file). {name: {"train": images, "test": images, "source": ...}}.
    CIFAR-10 falls back to `synthetic_cifar10` (only `n_train` training images of it) where the
    real one is absent."""
    from pyconv import datasets
    out = {}
    for name in names:
        source = "real"
        try:
            (x, y), (xt, yt) = getattr(datasets, name).load_data()
            x, xt = (x / 255.0).astype(np.float32), (xt / 255.0).astype(np.float32)
        except datasets.DatasetNotFoundError:
            if name != "cifar10":
                raise
            n = min(n_train or specs.DATASETS[name]["train"], specs.DATASETS[name]["train"])
            (x, y), (xt, yt) = synthetic_cifar10(n, specs.DATASETS[name]["test"])
            source = "synthetic"
        for part, arr in (("x_train", x), ("y_train", y), ("x_test", xt), ("y_test", yt)):
            np.save(data_file(directory, name, part), arr)
        out[name] = {"train": len(x), "test": len(xt), "source": source}
    return out


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def roofline(measure, threads, max_other_load, retries, log=print):
    """bench.kernels.matmul_roofline, re-measured while other processes disturb it; (the best value
    -- a roofline is what the machine can do --, the other processes' load of the last try)."""
    best, load = float("nan"), None
    for attempt in range(1 + retries):
        b0, t0 = busy_cpu_seconds(), time.perf_counter()
        c0 = children_cpu_seconds()
        g = measure(threads)
        wall = time.perf_counter() - t0
        b1, c1 = busy_cpu_seconds(), children_cpu_seconds()
        best = g if best != best else max(best, g)
        load = None if b0 is None or b1 is None else max(0.0, (b1 - b0) - (c1 - c0)) / wall
        if not disturbed({"other_load": load}, max_other_load):
            break
        log(f"roofline {g:.0f} GFLOP/s measured while other processes kept {load:.2f} cores busy; again",
            file=sys.stderr, flush=True)
        time.sleep(5)
    return best, load


# ---- aggregation and table (pure: tested by tests/test_bench.py) --------------------------------
def per_model(value, model):
    """A setting given once for all models (an int) or per model (a dict)."""
    return value[model] if isinstance(value, dict) else value


def disturbed(run, max_other_load):
    """Did other processes keep more than `max_other_load` cores busy during this run?"""
    load = run.get("other_load")
    return load is not None and max_other_load is not None and load > max_other_load


def summarize(runs, models, frameworks, n_train, roofline, imports=None, status=None, max_other_load=0.3):
    """Table rows from the raw runs.

    runs: [{"model", "framework", "epoch_seconds": [...], "test_accuracy", "peak_rss_mib", ...}
    or {"model", "framework", "error"}]. Times are medians over every timed epoch of every repeat,
    scaled from `n_train` images (an int, or a dict per model) to a full epoch of the model's
    data set (specs.train_images). Runs marked "superseded" (disturbed,
    then retried) are left out; `disturbed` counts the kept runs that were disturbed all the same.
    """
    imports, status = imports or {}, status or {}
    rows = []
    for model in models:
        flops = specs.train_flops_per_image(model)
        n = per_model(n_train, model)
        per_fw = {}
        for fw in frameworks:
            mine = [r for r in runs if r["model"] == model and r["framework"] == fw
                    and not r.get("superseded")]
            ok = [r for r in mine if "error" not in r]
            row = {"model": model, "framework": fw, "import_s": imports.get(fw), "runs": len(ok)}
            if not ok:
                row["status"] = status.get(fw) or (mine[0]["error"] if mine else "not run")
                per_fw[fw] = row
                continue
            t = statistics.median([s for r in ok for s in r["epoch_seconds"]])
            row.update(status="ok", version=ok[0].get("version"), measured_s=t,
                       s_per_epoch=t * specs.train_images(model) / n, samples_per_s=n / t,
                       gflops=flops * n / t / 1e9,
                       peak_rss_mib=max(r["peak_rss_mib"] for r in ok),
                       test_accuracy=statistics.median(r["test_accuracy"] for r in ok),
                       errors=len(mine) - len(ok),
                       disturbed=sum(disturbed(r, max_other_load) for r in ok),
                       other_load_max=max((r.get("other_load") or 0.0) for r in ok))
            row["pct_roofline"] = 100 * row["gflops"] / roofline if roofline and roofline == roofline else None
            if ok[0].get("torch_format"):
                row["torch_format"] = ok[0]["torch_format"]
            per_fw[fw] = row
        ref = per_fw.get("torch", {}).get("s_per_epoch")
        for fw in frameworks:
            row = per_fw[fw]
            if row["status"] == "ok":
                row["vs_torch"] = row["s_per_epoch"] / ref if ref else None
            rows.append(row)
    return rows


def _f(v, fmt, none="-"):
    return none if v is None else format(v, fmt)


def format_table(rows):
    """A Markdown table, one line per (model, framework)."""
    head = ("| model | framework | s/epoch | samples/s | x PyTorch | GFLOP/s | % roofline "
            "| peak RSS MiB | import s | test acc |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = NAMES.get(r["framework"], r["framework"])
        if r.get("torch_format"):
            name += f" ({r['torch_format']})"
        model = MODEL_NAMES.get(r["model"], r["model"])
        imp = _f(r.get("import_s"), ".2f")
        if r["status"] != "ok":
            lines.append(f"| {model} | {name} | {r['status']} | | | | | | {imp} | |")
            continue
        mark = " *" if r.get("disturbed") else ""
        lines.append(f"| {model} | {name} | {r['s_per_epoch']:.2f}{mark} | {r['samples_per_s']:,.0f} | "
                     f"{_f(r.get('vs_torch'), '.2f')} | {r['gflops']:.1f} | {_f(r.get('pct_roofline'), '.1f')} | "
                     f"{r['peak_rss_mib']:.0f} | {imp} | {r['test_accuracy']:.4f} |")
    return "\n".join(lines)


def _disturbance(load, info):
    limit = info.get("max_other_load", 0.3)
    if disturbed({"other_load": load}, limit):
        return f" -- DISTURBED: other processes kept {load:.2f} cores busy meanwhile"
    return ""


def header(info):
    """The lines printed above the table: what ran, where, and how FLOPs are counted."""
    lines = [f"Machine: {info['machine']['cpu']}, {info['machine']['cores']} cores; Python "
             f"{info['machine']['python']}; {info['threads']} thread(s) per framework"]
    vers = ", ".join(f"{NAMES[fw]} {v}" for fw, v in info["versions"].items())
    lines.append(f"Versions: {vers}")
    for name in dict.fromkeys(specs.dataset(m) for m in info["models"]):
        m = next(m for m in info["models"] if specs.dataset(m) == name)
        n, full = per_model(info["n_train"], m), specs.DATASETS[name]["train"]
        src = (info.get("data") or {}).get(name, {}).get("source", "real")
        label = specs.DATASETS[name]["label"] + (
            " (SYNTHETIC: the real set is absent; random images of CIFAR-10's shape, 10 learnable "
            "classes)" if src == "synthetic" else "")
        lines.append(f"Data: {label}, {n:,} training images per epoch"
                     + (f" (s/epoch extrapolated to {full:,})" if n != full else "")
                     + f", {per_model(info['n_test'], m):,} test images")
    lines.append(f"Batch {specs.BATCH}; {info['epochs']} epoch(s) x {info['repeats']} repeat(s), "
                 "frameworks alternating; medians")
    for m in info["models"]:
        fl = specs.train_flops_per_image(m)
        lines.append(f"{MODEL_NAMES[m]}: {fl / 1e6:.3f} MFLOP per image per training step, "
                     f"{fl * specs.train_images(m) / 1e12:.3f} TFLOP per epoch")
    lines.append(FLOP_NOTE + ".")
    roof = info.get("roofline_gflops")
    lines.append(f"Roofline: numpy float32 2048^3 matmul, {_f(roof, '.0f')} GFLOP/s "
                 f"({info['threads']} thread(s))" + _disturbance(info.get("roofline_other_load"), info))
    for m, cal in (info.get("torch_calibration") or {}).items():
        if "error" in cal:
            lines.append(f"PyTorch memory format ({MODEL_NAMES[m]}): calibration failed ({cal['error']}); NCHW used")
        else:
            lines.append(f"PyTorch memory format ({MODEL_NAMES[m]}, ms/step): NCHW {cal['NCHW']:.2f}, channels_last "
                         f"{cal['channels_last']:.2f} -> {per_model(info['torch_format'], m)} used"
                         + _disturbance(cal.get("other_load"), info))
    return "\n".join(lines)


def footer(info, rows=()):
    lines = []
    bad = [f"{MODEL_NAMES.get(r['model'], r['model'])} {NAMES.get(r['framework'], r['framework'])} "
           f"({r['disturbed']} of {r['runs']})" for r in rows if r.get("disturbed")]
    if bad:
        lines.append(f"* disturbed: other processes kept more than {info.get('max_other_load')} cores busy "
                     f"during some of these runs, even after retries: {', '.join(bad)}. Treat them with care.")
    if info.get("import_pyconv_s") is not None:
        lines.append(f"`import pyconv` alone: {info['import_pyconv_s']:.3f} s; import s above is the "
                     "tutorial's line (" + "; ".join(f"{NAMES[k]}: `{IMPORTS[k]}`" for k in info["frameworks"]) + ")")
    lines.append("Peak RSS: each worker's own high-water mark (VmHWM; not ru_maxrss, which Linux carries "
                 "across exec from the parent), test evaluation included; a worker that only imports NumPy "
                 "and loads the same data peaks at " + ", ".join(
                     f"{_f(v, '.0f')} MiB ({specs.DATASETS[k]['label']})"
                     for k, v in (info.get("baseline_rss_mib") or {}).items()) + ".")
    return "\n".join(lines)


def to_json(info, rows, runs):
    return json.dumps({"info": info, "rows": rows, "runs": runs}, indent=1, default=float)


# ---- driver --------------------------------------------------------------------------------------
def parse_list(text, allowed, what):
    items = [s.strip().lower() for s in text.split(",") if s.strip()]
    aliases = {"tensorflow": "tf", "keras": "tf", "pytorch": "torch"}
    items = [aliases.get(s, s) for s in items]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"--{what} takes a comma-separated list of {', '.join(allowed)}; "
                                         f"received {text!r}")
    return list(dict.fromkeys(items))


def default_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def add_arguments(ap):
    ap.add_argument("--quick", action="store_true",
                    help="6,400 training and 2,000 test images, 1 repeat, short calibration: about a minute")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per (framework, model) (3)")
    ap.add_argument("--epochs", type=int, default=1, help="timed epochs per run (1)")
    ap.add_argument("--threads", type=int, default=default_threads(), help="threads per framework")
    ap.add_argument("--frameworks", default="pyconv,torch,tf", type=lambda s: parse_list(s, FRAMEWORKS, "frameworks"),
                    help="comma-separated, of pyconv, torch, tf (default: all; a missing one is 'not installed')")
    ap.add_argument("--models", default="dnn,cnn", type=lambda s: parse_list(s, tuple(specs.MODELS), "models"),
                    help="comma-separated, of " + ", ".join(specs.MODELS) + " (default: dnn,cnn)")
    ap.add_argument("--train-images", type=int, default=None,
                    help="train on the first N images (default: the whole set, 60,000 or 50,000; "
                         "6,400 with --quick)")
    ap.add_argument("--torch-format", choices=("auto", "nchw", "channels_last"), default="auto",
                    help="PyTorch's memory format for the conv models (auto: calibrate both per model, "
                         "use the faster)")
    ap.add_argument("--max-other-load", type=float, default=0.3, metavar="CORES",
                    help="a run during which other processes kept more cores busy is disturbed (0.3)")
    ap.add_argument("--retries", type=int, default=2, help="re-runs of a disturbed run, 5 s apart (2)")
    ap.add_argument("--seed", type=int, default=0, help="weight init and shuffling seed (0)")
    ap.add_argument("--json", metavar="PATH", help="also write the table, settings and raw runs here")


def run(a, log=print):
    from bench.kernels import matmul_roofline  # imports pyconv: the parent process only
    import pyconv
    repeats = a.repeats if a.repeats is not None else (1 if a.quick else 3)
    wanted = a.train_images or (6_400 if a.quick else None)
    if repeats < 1 or a.epochs < 1 or a.threads < 1 or (wanted is not None and wanted < specs.BATCH):
        raise SystemExit("--repeats, --epochs and --threads must be >= 1, --train-images >= 32")
    status = {fw: "not installed" for fw in a.frameworks if not installed(fw)}
    fws = [fw for fw in a.frameworks if fw not in status]
    info = {"machine": machine(), "threads": a.threads, "repeats": repeats, "epochs": a.epochs,
            "models": a.models, "frameworks": a.frameworks, "quick": a.quick,
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv), "flop_note": FLOP_NOTE,
            "isa": pyconv._kernels.isa_active(), "versions": {}, "max_other_load": a.max_other_load}
    info["roofline_gflops"], info["roofline_other_load"] = roofline(matmul_roofline, a.threads,
                                                                    a.max_other_load, a.retries, log)
    with tempfile.TemporaryDirectory(prefix="pyconv-bench-") as data:
        sets = prepare_data(data, dict.fromkeys(specs.dataset(m) for m in a.models), wanted)
        n_train = {m: min(wanted or sets[specs.dataset(m)]["train"], sets[specs.dataset(m)]["train"])
                   for m in a.models}
        n_test = {m: min(2_000 if a.quick else 10_000, sets[specs.dataset(m)]["test"]) for m in a.models}
        info.update(n_train=n_train, n_test=n_test, data=sets)
        base = {"task": "train", "data": data, "threads": a.threads,
                "epochs": a.epochs, "seed": a.seed, "warmup_steps": 10 if a.quick else 20}
        forced = {"nchw": "NCHW", "channels_last": "channels_last"}.get(a.torch_format, "NCHW")
        torch_format = {m: forced for m in a.models}
        info["torch_calibration"] = {}
        for m in a.models:
            if "torch" not in fws or len(specs.MODELS[m]["input"]) != 3 or a.torch_format != "auto":
                continue
            log(f"calibrating PyTorch's memory format for {m} ...", file=sys.stderr, flush=True)
            cal = run_worker(dict(base, task="calibrate", framework="torch", model=m,
                                  n_train=min(n_train[m], 3_200), n_test=0, steps=30 if a.quick else 100,
                                  rounds=2 if a.quick else 3), a.threads)
            info["torch_calibration"][m] = cal
            if "error" not in cal:
                torch_format[m] = min(("NCHW", "channels_last"), key=lambda k: cal[k])
        info["torch_format"] = torch_format
        info["baseline_rss_mib"] = {}
        for name in sets:
            m = next(m for m in a.models if specs.dataset(m) == name)
            info["baseline_rss_mib"][name] = run_worker(
                dict(base, task="baseline", framework="none", model=m, n_train=n_train[m],
                     n_test=n_test[m]), a.threads).get("peak_rss_mib")
        runs = []
        for rep in range(repeats):
            order = fws[rep % len(fws):] + fws[:rep % len(fws)] if fws else []
            for model in a.models:
                for fw in order:
                    cfg = dict(base, framework=fw, model=model, torch_format=torch_format[model],
                               n_train=n_train[model], n_test=n_test[model])
                    for attempt in range(1 + a.retries):
                        r = run_worker(cfg, a.threads)
                        r.update(model=model, framework=fw, repeat=rep, attempt=attempt)
                        if "version" in r:
                            info["versions"][fw] = r["version"]
                        msg = r["error"] if "error" in r else \
                            f"{statistics.median(r['epoch_seconds']):.2f} s/epoch on {n_train[model]:,} images"
                        busy = disturbed(r, a.max_other_load)
                        log(f"[{rep + 1}/{repeats}] {model} {NAMES[fw]}: {msg}; other processes kept "
                            f"{_f(r.get('other_load'), '.2f')} cores busy"
                            + (" -- disturbed" + (", again" if attempt < a.retries else "") if busy else ""),
                            file=sys.stderr, flush=True)
                        runs.append(r)
                        if not busy:
                            break
                        r["superseded"] = attempt < a.retries
                        if attempt < a.retries:
                            time.sleep(5)
    n_imp = 3
    imports = {fw: import_seconds(IMPORTS[fw], a.threads, n_imp) for fw in fws}
    if "pyconv" in fws:
        info["import_pyconv_s"] = import_seconds("import pyconv", a.threads, n_imp)
    for fw in a.frameworks:
        info["versions"].setdefault(fw, status.get(fw, "?"))
    rows = summarize(runs, a.models, a.frameworks, n_train, info["roofline_gflops"], imports, status,
                     a.max_other_load)
    return info, rows, runs


def report(info, rows):
    return "\n\n".join([header(info), format_table(rows), footer(info, rows)])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    a = ap.parse_args(argv)
    info, rows, runs = run(a)
    print(report(info, rows))
    if a.json:
        with open(a.json, "w") as f:
            f.write(to_json(info, rows, runs))
        print(f"\nwrote {a.json}")
    return 0
