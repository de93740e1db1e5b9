"""One framework, one model, one timed run -- the child process of bench/epoch.py.

    python -m bench.worker '{"task": "train", "framework": "torch", "model": "cnn", ...}'
    (bench/epoch.py starts it as `python -c WORKER_BOOT '{...}'` from a neutral directory)

Each run is its own process so that one framework's thread pools, allocator and imports never
touch another's, and so that its peak RSS is its own. The parent sets OMP_NUM_THREADS (and the
BLAS ones) in the environment; the worker also sets the framework's own thread counts. Only the
framework under test is imported (plus NumPy, which every one of them loads anyway).

The data come from the parent as .npy files (float32 images already /255.0, int labels), so every
framework trains on the very same arrays. The result is printed as one JSON line that starts
with RESULT_TAG; anything else on stdout/stderr is the framework's own chatter.

Timing: `warmup_steps` batches are trained first (TensorFlow traces its graph, PyTorch and pyconv
touch their allocators), then `epochs` epochs over `n_train` images are timed one by one with a
wall clock (time.perf_counter); each epoch shuffles, as Keras' fit does.
"""
import json
import os
import resource
import sys
import time

import numpy as np

from bench import specs

RESULT_TAG = "BENCH_RESULT "


def data_file(directory, name, part):
    """Where the parent stores one array of a data set: e.g. cifar10_x_train.npy."""
    return os.path.join(directory, f"{name}_{part}.npy")


def load(cfg):
    """The model's data set, sliced to n_train / n_test images (memory-mapped first, so a
    slice reads only its own pages); Fashion-MNIST gets the channel axis a conv model wants."""
    d, name = cfg["data"], specs.dataset(cfg["model"])
    arr = lambda part, n: np.array(np.load(data_file(d, name, part), mmap_mode="r")[:n])  # noqa: E731
    x, y = arr("x_train", cfg["n_train"]), arr("y_train", cfg["n_train"])
    xt, yt = arr("x_test", cfg["n_test"]), arr("y_test", cfg["n_test"])
    if len(specs.MODELS[cfg["model"]]["input"]) == 3 and x.ndim == 3:  # the tutorial's (N, 28, 28, 1)
        x, xt = x[..., None], xt[..., None]
    return x, y, xt, yt


def peak_rss_mib():
    """This process's peak resident set, MiB: VmHWM from /proc/self/status where there is one.

    Not ru_maxrss alone: Linux carries ru_maxrss across execve, so a worker started by the parent
    (which holds the whole data set and pyconv) would report the parent's peak if it was higher.
    VmHWM belongs to the address space that exec created, i.e. to this worker alone.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---- pyconv and TensorFlow: the tutorial's code, written with Keras' API -------------------------
def keras_layer(layers, layer, **kw):
    """One layer of a specs.MODELS description, built with Keras' API (pyconv's or Keras')."""
    kind, *args = layer
    if kind == "conv":
        return layers.Conv2D(args[0], (args[1], args[1]), activation=args[2],
                             padding=specs.conv_padding(layer), **kw)
    if kind == "sepconv":
        return layers.SeparableConv2D(args[0], (args[1], args[1]), strides=args[2], padding="same", **kw)
    if kind == "bn":
        return layers.BatchNormalization(**kw)
    if kind == "relu":
        return layers.ReLU(**kw)
    if kind == "pool":
        return layers.MaxPooling2D((args[0], args[0]), **kw)
    if kind == "gap":
        return layers.GlobalAveragePooling2D(**kw)
    if kind == "flatten":
        return layers.Flatten(**kw)
    return layers.Dense(args[0], activation=args[1], **kw)


def keras_like_model(layers, models, model, input_layer=None):
    m = models.Sequential()
    spec = specs.MODELS[model]
    first = True
    if input_layer is not None:  # Keras 3 wants an Input; pyconv takes input_shape= like Keras 2
        m.add(input_layer(spec["input"]))
    for layer in spec["layers"]:
        kw = {"input_shape": spec["input"]} if first and input_layer is None else {}
        first = False
        m.add(keras_layer(layers, layer, **kw))
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def run_keras_like(cfg, callbacks_base, fit_model, version):
    x, y, xt, yt = load(cfg)
    times = []

    class EpochTimer(callbacks_base):
        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self._t)

    w = cfg["warmup_steps"] * specs.BATCH
    if w:
        fit_model.fit(x[:w], y[:w], batch_size=specs.BATCH, epochs=1, verbose=0)
    hist = fit_model.fit(x, y, batch_size=specs.BATCH, epochs=cfg["epochs"], verbose=0,
                         callbacks=[EpochTimer()])
    _loss, acc = fit_model.evaluate(xt, yt, batch_size=specs.BATCH, verbose=0)
    return dict(epoch_seconds=times, test_accuracy=float(acc),
                train_loss=float(hist.history["loss"][-1]), version=version)


def train_pyconv(cfg):
    import pyconv
    from pyconv import callbacks, layers, models, utils
    pyconv.set_num_threads(cfg["threads"])
    utils.set_random_seed(cfg["seed"])
    m = keras_like_model(layers, models, cfg["model"])
    out = run_keras_like(cfg, callbacks.Callback, m, pyconv.__version__)
    out["threads_in_use"] = pyconv.get_num_threads()
    return out


def train_tf(cfg):
    import tensorflow as tf
    n = cfg["threads"]
    tf.config.threading.set_intra_op_parallelism_threads(n)  # before any op runs
    tf.config.threading.set_inter_op_parallelism_threads(n)
    keras = tf.keras
    keras.utils.set_random_seed(cfg["seed"])
    m = keras_like_model(keras.layers, keras, cfg["model"], input_layer=lambda s: keras.Input(shape=s))
    out = run_keras_like(cfg, keras.callbacks.Callback, m, f"{tf.__version__} (Keras {keras.__version__})")
    out["threads_in_use"] = [tf.config.threading.get_intra_op_parallelism_threads(),
                             tf.config.threading.get_inter_op_parallelism_threads()]
    return out


# ---- PyTorch: the same architecture, the idiomatic eager loop ------------------------------------
def torch_layers(nn, kind, args, ins, outs):
    """The PyTorch modules of one specs.MODELS layer (ins, outs: its shapes, channels last).
    A stride-2 'same' conv pads one pixel on each side where Keras pads (0, 1): the same output
    size and FLOPs, the window shifted by one pixel."""
    if kind == "conv":
        pad = "same" if specs.conv_padding((kind,) + tuple(args)) == "same" else 0
        mods = [nn.Conv2d(ins[2], args[0], args[1], padding=pad)]
    elif kind == "sepconv":
        c, (k, r, s) = ins[2], args
        mods = [nn.Conv2d(c, c, r, stride=s, padding=r // 2, groups=c, bias=False),  # depthwise
                nn.Conv2d(c, k, 1)]                                                 # pointwise + bias
    elif kind == "bn":   # Keras' epsilon 1e-3, momentum 0.99 (PyTorch's momentum is 1 - Keras')
        mods = [nn.BatchNorm2d(ins[-1], eps=1e-3, momentum=0.01)]
    elif kind == "relu":
        mods = [nn.ReLU()]
    elif kind == "pool":
        mods = [nn.MaxPool2d(args[0])]
    elif kind == "gap":
        mods = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    elif kind == "flatten":
        mods = [nn.Flatten()]
    else:
        mods = [nn.Linear(ins[0], outs[0])]
    if kind in ("conv", "dense") and args[2 if kind == "conv" else 1] == "relu":
        mods.append(nn.ReLU())
    return mods


def torch_model(torch, model, channels_last):
    """Same layers as specs.MODELS; glorot-uniform weights and zero biases as in Keras. The final
    softmax is folded into CrossEntropyLoss (Keras fuses it with the loss too)."""
    nn = torch.nn
    mods = []
    for kind, args, ins, outs in specs.layer_shapes(model):
        mods += torch_layers(nn, kind, args, ins, outs)
    net = nn.Sequential(*mods)
    for mod in net:
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(mod.weight)  # fans as Keras: C_in*R*S and C_out*R*S
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


class TorchRun:
    def __init__(self, torch, cfg, x, y, channels_last):
        self.torch = torch
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        xt = torch.from_numpy(x)
        if x.ndim == 4:  # NHWC -> NCHW (channels_last keeps NHWC memory under NCHW indexing)
            xt = xt.permute(0, 3, 1, 2).contiguous(memory_format=self.fmt)
        self.x, self.y = xt, torch.from_numpy(y.astype(np.int64))
        self.net = torch_model(torch, cfg["model"], channels_last)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
        self.lossf = torch.nn.CrossEntropyLoss()

    def steps(self, x, y):
        """One pass over (x, y) in batches; loss and accuracy tracked as Keras' fit does."""
        torch = self.torch
        self.net.train()
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for i in range(0, len(y), specs.BATCH):
            xb, yb = x[i:i + specs.BATCH], y[i:i + specs.BATCH]
            self.opt.zero_grad(set_to_none=True)
            out = self.net(xb)
            loss = self.lossf(out, yb)
            loss.backward()
            self.opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * len(yb)
                correct += (out.argmax(1) == yb).sum()
        return float(loss_sum) / max(len(y), 1)

    def epoch(self):
        perm = self.torch.randperm(len(self.y))
        x = self.x[perm]
        if x.ndim == 4:
            x = x.contiguous(memory_format=self.fmt)
        return self.steps(x, self.y[perm])

    def accuracy(self, xt, yt):
        torch = self.torch
        x = torch.from_numpy(xt)
        if x.ndim == 4:
            x = x.permute(0, 3, 1, 2).contiguous(memory_format=self.fmt)
        y = torch.from_numpy(yt.astype(np.int64))
        self.net.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(y), specs.BATCH):
                correct += int((self.net(x[i:i + specs.BATCH]).argmax(1) == y[i:i + specs.BATCH]).sum())
        return correct / max(len(y), 1)


def import_torch(cfg):
    import torch
    torch.set_num_threads(cfg["threads"])
    torch.set_num_interop_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    return torch


def train_torch(cfg):
    torch = import_torch(cfg)
    x, y, xt, yt = load(cfg)
    channels_last = cfg.get("torch_format") == "channels_last"
    run = TorchRun(torch, cfg, x, y, channels_last)
    w = cfg["warmup_steps"] * specs.BATCH
    if w:
        run.steps(run.x[:w], run.y[:w])
    times, loss = [], float("nan")
    for _ in range(cfg["epochs"]):
        t0 = time.perf_counter()
        loss = run.epoch()
        times.append(time.perf_counter() - t0)
    return dict(epoch_seconds=times, test_accuracy=run.accuracy(xt, yt), train_loss=loss,
                version=torch.__version__, threads_in_use=[torch.get_num_threads(),
                                                           torch.get_num_interop_threads()],
                torch_format=("channels_last" if channels_last else "NCHW") if x.ndim == 4 else None)


def calibrate_torch(cfg):
    """ms per training step of the CNN in NCHW and in channels_last, alternating the two formats
    `rounds` times after a warm-up; the parent picks the faster for the timed runs."""
    torch = import_torch(cfg)
    x, y, _, _ = load(cfg)
    runs = {name: TorchRun(torch, cfg, x, y, name == "channels_last") for name in ("NCHW", "channels_last")}
    n = cfg["steps"] * specs.BATCH
    ts = {name: [] for name in runs}
    for r in runs.values():
        r.steps(r.x[:10 * specs.BATCH], r.y[:10 * specs.BATCH])
    for _ in range(cfg.get("rounds", 3)):
        for name, r in runs.items():
            t0 = time.perf_counter()
            r.steps(r.x[:n], r.y[:n])
            ts[name].append((time.perf_counter() - t0) / cfg["steps"] * 1e3)
    return {name: float(np.median(v)) for name, v in ts.items()}


def baseline(cfg):
    """Only NumPy and the data: the floor under every framework's peak RSS."""
    x, y, xt, yt = load(cfg)
    return dict(images=len(x) + len(xt))


TASKS = {("baseline", "none"): baseline, ("train", "pyconv"): train_pyconv, ("train", "torch"): train_torch, ("train", "tf"): train_tf,
         ("calibrate", "torch"): calibrate_torch}


def main(argv=None):
    cfg = json.loads((argv or sys.argv[1:])[0])
    out = TASKS[cfg["task"], cfg["framework"]](cfg)
    out["peak_rss_mib"] = peak_rss_mib()
    out["ru_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
