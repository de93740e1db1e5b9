"""pyconv against an earlier commit of itself, in one process: training steps side by side.

    python -m bench --ab REV [--models dnn,cnn] [--steps 100] [--rounds 10] [--threads 2]

Two runs of `python -m bench` a minute apart differ by more than most changes do on a shared or
virtual machine (here: +-30% between idle runs). So both builds run in one process, in
alternating blocks: REV is checked out (a detached git worktree), built and installed into
~/.cache/pyconv-ab/REV (once; reused after), and imported as `pyconv_base` beside this tree's
`pyconv` -- pyconv's own imports are relative, so the package runs under another name, with its
own compiled extension. Each model is built from bench/specs.py in both, with the same seed,
and each round times one `fit` epoch of `--steps` batches of 32 per build, the order of the two
alternating from round to round. The data are random images and labels of the model's shapes
(the step's work does not depend on their values).

Printed per model: each build's median step time over the rounds and the ratio of the two
(base / this tree: above 1 means this tree is faster) per round, with its median and range.
"""
import argparse
import fcntl
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench import specs
from bench.worker import keras_like_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "pyconv-ab")


def base_package(rev):
    """Import REV's pyconv as `pyconv_base`, building it first if it is not in the cache.

    Several processes may ask for the same REV at once (helpers A/B-testing side by side): the
    build runs under a lock on the cache, in a directory of its own, and is renamed into place
    whole, so no process sees (or deletes) another's half-built package."""
    # This tree's pyconv first: REV's compiled extension, loaded first, would also register
    # itself as `pyconv._kernels`, and this tree's pyconv would then run REV's kernels.
    importlib.import_module("pyconv")
    sha = subprocess.run(["git", "-C", REPO, "rev-parse", "--verify", rev + "^{commit}"], check=True,
                         capture_output=True, text=True).stdout.strip()
    root = os.path.join(CACHE, sha)
    if not os.path.isdir(os.path.join(root, "pyconv_base")):
        os.makedirs(CACHE, exist_ok=True)
        with open(os.path.join(CACHE, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file closes
            if not os.path.isdir(os.path.join(root, "pyconv_base")):   # not built while we waited
                _build(rev, sha, root)
    sys.path.insert(0, root)
    return importlib.import_module("pyconv_base"), sha


def _build(rev, sha, root):
    work = tempfile.mkdtemp(prefix=f"{sha[:10]}-", dir=CACHE)
    src, target = os.path.join(work, "src"), os.path.join(work, "target")
    print(f"building {rev} ({sha[:10]}) into {root} ...", flush=True)
    try:
        subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", src, sha], check=True,
                       capture_output=True)
        try:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation",
                            "--no-deps", "--target", target, src], check=True)
        finally:
            subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", src], check=False)
        os.rename(os.path.join(target, "pyconv"), os.path.join(work, "pyconv_base"))
        shutil.rmtree(target)
        shutil.rmtree(root, ignore_errors=True)   # a leftover of a build that died half-way
        os.rename(work, root)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build(pkg, model, threads, seed):
    sub = {name: importlib.import_module(f"{pkg.__name__}.{name}") for name in ("layers", "models", "utils")}
    pkg.set_num_threads(threads)
    sub["utils"].set_random_seed(seed)
    return keras_like_model(sub["layers"], sub["models"], model)


def step_seconds(m, x, y, steps):
    t = time.perf_counter()
    m.fit(x, y, batch_size=specs.BATCH, epochs=1, verbose=0, shuffle=False)
    return (time.perf_counter() - t) / steps


def compare(pkgs, model, args):
    rng = np.random.default_rng(args.seed)
    n = args.steps * specs.BATCH
    x = rng.random((n, *specs.MODELS[model]["input"]), dtype=np.float32)
    y = rng.integers(0, 10, n)
    ms = [build(p, model, args.threads, args.seed) for p in pkgs]
    for m in ms:   # warm-up: first-call allocations, page faults, OpenMP's pool
        step_seconds(m, x[:4 * specs.BATCH], y[:4 * specs.BATCH], 4)
    times = ([], [])
    for r in range(args.rounds):
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            times[i].append(step_seconds(ms[i], x, y, args.steps))
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench --ab", description=__doc__.split("\n\n")[0])
    ap.add_argument("rev", help="the commit to compare against (anything git rev-parse takes)")
    ap.add_argument("--models", default="dnn,cnn", help="comma-separated, from bench/specs.py (dnn,cnn)")
    ap.add_argument("--steps", type=int, default=100, help="steps per timed block (100)")
    ap.add_argument("--rounds", type=int, default=10, help="blocks per build (10)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    models = args.models.split(",")
    unknown = [m for m in models if m not in specs.MODELS]
    if unknown:
        ap.error(f"--models: unknown {unknown}; choose from {sorted(specs.MODELS)}")
    import pyconv   # first: REV's extension, loaded first, would also register as pyconv._kernels
    base, sha = base_package(args.rev)
    assert base._kernels is not pyconv._kernels
    print(f"base {args.rev} ({sha[:10]}): {base.__file__}\nthis tree: {pyconv.__file__}")
    print(f"{args.rounds} rounds of {args.steps} steps (batch {specs.BATCH}), {args.threads} threads, "
          f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'model':<10} {'base ms/step':>13} {'this ms/step':>13} {'base/this median':>17} {'range':>13}")
    for model in models:
        tb, tt = compare((base, pyconv), model, args)
        ratios = [b / t for b, t in zip(tb, tt)]
        print(f"{model:<10} {1e3 * statistics.median(tb):>13.3f} {1e3 * statistics.median(tt):>13.3f} "
              f"{statistics.median(ratios):>17.3f} {min(ratios):>6.3f}-{max(ratios):.3f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
