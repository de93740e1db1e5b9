"""The benchmark's one entry point.

    python -m bench [options]            # the epoch benchmark (bench/epoch.py): pyconv vs PyTorch vs TF
    python -m bench --profile [options]  # one pyconv training step, per layer and pass (bench/stepprofile.py)
    python -m bench --scaling [options]  # 1 against 2 threads, alternating chunks of steps (bench/scaling.py)
    python -m bench --layers [options]   # per-layer kernel GFLOP/s (bench/kernels.py)
    python -m bench --inference [options]  # CNN and DNN inference: pyconv vs onnxruntime (bench/onnx_infer.py;
                                           # --onnx is the same)
    python -m bench --ab REV [options]   # training steps against commit REV, in one process (bench/ab.py)
    python bench/run.py ...              # the same, without -m

Timed runs share the machine: hold the lock, `flock /tmp/pyconv-bench.lock python -m bench ...`.
`python -m bench --help`, `--profile --help`, `--layers --help` and `--inference --help` list each mode's options.
"""
import os
import sys

if __package__ in (None, ""):  # run as a script: import `bench` from the repository, not bench/
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--layers" in argv:
        argv.remove("--layers")
        from bench import kernels
        return kernels.main(argv) or 0
    if "--inference" in argv or "--onnx" in argv:
        argv = [a for a in argv if a not in ("--inference", "--onnx")]
        from bench import onnx_infer
        return onnx_infer.main(argv)
    if "--scaling" in argv:
        argv.remove("--scaling")
        from bench import scaling
        return scaling.main(argv)
    if "--ab" in argv:
        argv.remove("--ab")
        from bench import ab
        return ab.main(argv)
    if "--profile" in argv:
        argv.remove("--profile")
        from bench import stepprofile
        return stepprofile.main(argv)
    from bench import epoch
    return epoch.main(argv)


if __name__ == "__main__":
    sys.exit(main())
