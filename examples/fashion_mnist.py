"""The tutorial's comparison: a DNN and a CNN on Fashion-MNIST, written as in Keras.

    python examples/fashion_mnist.py              # 5 epochs each, the full data
    python examples/fashion_mnist.py --quick      # a small slice, 1 epoch: well under a minute
    python examples/fashion_mnist.py --out results/

Prints a table of test accuracy, seconds per epoch and parameter count, and writes to --out DIR
(default ./out) fashion_mnist.json (the table and every epoch's history) and
fashion_mnist_history.png: loss and accuracy per epoch, training and validation (the test set,
as in TensorFlow's tutorial), DNN against CNN. The picture needs matplotlib (the [plot] extra:
pip install "pyconv[plot]"); without it the example still trains, prints and writes the JSON,
and says that it skipped the picture.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

import pyconv
from pyconv import callbacks, datasets, layers, models, utils


def build_dnn():
    model = models.Sequential()
    model.add(layers.Flatten(input_shape=(28, 28)))
    model.add(layers.Dense(128, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    return model


def build_cnn():
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    return model


class EpochTimer(callbacks.Callback):
    """Wall-clock seconds of each epoch's training steps (the validation pass after the last
    step is left out, so that the column measures training alone)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(self._last - self._t)


def run(name, build, data, epochs, verbose, seed):
    (x, y), (xt, yt) = data
    utils.set_random_seed(seed)
    model = build()
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    timer = EpochTimer()
    print(f"\n== {name} ==", flush=True)
    hist = model.fit(x, y, epochs=epochs, callbacks=[timer], verbose=verbose,
                     validation_data=(xt, yt))
    test_loss, test_acc = model.evaluate(xt, yt, verbose=verbose)
    return {"model": name, "test_accuracy": float(test_acc), "test_loss": float(test_loss),
            "seconds_per_epoch": float(np.mean(timer.seconds)), "epoch_seconds": timer.seconds,
            "params": model.count_params(), "history": hist.history}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5, help="epochs per model (default 5)")
    p.add_argument("--quick", action="store_true", help="a slice (6000 train, 1000 test) and 1 epoch")
    p.add_argument("--out", metavar="DIR", default="out",
                   help="directory for fashion_mnist.json and the curves' PNG (default ./out)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", default="auto", help="fit's verbose: auto, 0, 1 or 2")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)

    (x, y), (xt, yt) = datasets.fashion_mnist.load_data()
    epochs = args.epochs
    if args.quick:
        x, y, xt, yt, epochs = x[:6000], y[:6000], xt[:1000], yt[:1000], 1
    data = ((x / 255.0, y), (xt / 255.0, yt))

    results = [run("DNN", build_dnn, data, epochs, verbose, args.seed),
               run("CNN", build_cnn, data, epochs, verbose, args.seed)]

    print(f"\nFashion-MNIST, {len(x)} training and {len(xt)} test images, {epochs} epoch(s), "
          f"batch 32, Adam; pyconv {pyconv.__version__}, {pyconv.get_num_threads()} thread(s)")
    print(f"{'model':<6} {'test accuracy':>14} {'s/epoch':>9} {'params':>9}")
    for r in results:
        print(f"{r['model']:<6} {r['test_accuracy']:>14.4f} {r['seconds_per_epoch']:>9.2f} {r['params']:>9,}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "fashion_mnist.json")
    with open(path, "w") as f:
        json.dump({"epochs": epochs, "train_images": len(x), "test_images": len(xt),
                   "threads": pyconv.get_num_threads(), "results": results}, f, indent=2)
    print(f"wrote {path}")

    # The picture is optional: matplotlib is the [plot] extra, not a dependency.
    path = os.path.join(args.out, "fashion_mnist_history.png")
    try:
        utils.plot_history({r["model"]: r["history"] for r in results}, path,
                           title=f"Fashion-MNIST, {len(x)} training images "
                                 f"(validation: {len(xt)} test images)")
    except ImportError as e:
        print(f"skipped {path}: {e}", file=sys.stderr)
    else:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
