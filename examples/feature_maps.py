"""What the tutorial's CNN learned: its first-layer filters, its feature maps, its confusions.

    python examples/feature_maps.py                        # train 5 epochs on all 60000 images
    python examples/feature_maps.py --quick                # 3000 images, 1 epoch: seconds
    python examples/feature_maps.py --weights out/feature_maps_cnn.keras   # no training
    python examples/feature_maps.py --out pics/ --image 12

Trains the tutorial's CNN (Conv2D 32 -> MaxPooling2D -> Conv2D 64 -> MaxPooling2D -> Conv2D 64
-> Flatten -> Dense 64 -> Dense 10) and saves it to DIR/feature_maps_cnn.keras (model.save), or
with --weights PATH loads the weights of that CNN from a file written by model.save or
model.save_weights (model.load_weights reads both), then writes to --out DIR (default ./out):

- feature_maps_filters.png: the 32 first-layer 3x3 filters (red positive, blue negative);
- feature_maps_conv2d.png, feature_maps_conv2d_1.png, feature_maps_conv2d_2.png: the
  feature maps (after ReLU) of each conv layer for one test image (--image, default 0);
- feature_maps_confusion.png: the confusion matrix on the test set, with the class names.

The model has no functional API to ask for an inner layer's output, so the feature maps are
computed by calling the layers one after the other on the image (`x = layer(x)`).

Needs matplotlib (the [plot] extra: pip install "pyconv[plot]"): drawing is the point of this
example, so without it it stops at once (before any training) with that message and exit
status 1.
"""
import argparse
import math
import os
import sys

import numpy as np

try:
    from matplotlib.figure import Figure
except ImportError:
    sys.exit("feature_maps.py draws pictures and needs matplotlib, which is not installed; "
             "it is pyconv's optional [plot] extra: pip install \"pyconv[plot]\" (or pip install matplotlib)")

from pyconv import datasets, layers, models, utils

CLASSES = datasets.fashion_mnist.class_names


def build_cnn():
    """The tutorial's CNN, as written there."""
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    return model


def conv_outputs(model, image):
    """[(conv layer, its output)] for one image (1, 28, 28, 1), calling the layers in turn."""
    out, x = [], image
    for layer in model.layers:
        x = layer(x)
        if isinstance(layer, layers.Conv2D):
            out.append((layer, x))
    return out


def confusion_matrix(y_true, y_pred, n=10):
    """counts[i, j]: images of class i predicted as class j."""
    return np.bincount(y_true.astype(np.int64) * n + y_pred, minlength=n * n).reshape(n, n)


def draw_filters(kernel, path):
    """kernel (3, 3, 1, 32) HWIO."""
    k = kernel.shape[-1]
    cols = 8
    rows = math.ceil(k / cols)
    fig = Figure(figsize=(1.25 * cols, 1.4 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    fig.suptitle(f"The {k} learned 3x3 filters of the first Conv2D layer (kernel {kernel.shape}, HWIO)\n"
                 "red: positive weight, blue: negative, white: 0; each filter scaled to its own "
                 "largest |weight| (in its title)", fontsize=10)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= k:
            ax.axis("off")
            continue
        w = kernel[:, :, 0, i]
        lim = float(np.abs(w).max()) or 1.0
        ax.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"{i}: |w| <= {lim:.2f}", fontsize=8)
    fig.savefig(path, dpi=100)


def draw_maps(image, label, index, layer, maps, path):
    """maps (1, P, Q, K): one panel per channel, each scaled to its own maximum."""
    k = maps.shape[-1]
    cols = 8
    rows = math.ceil(k / cols)
    size = 1.3
    fig = Figure(figsize=(size * (cols + 2), size * rows + 0.9), layout="constrained")
    grid = fig.add_gridspec(rows, cols + 2)
    fig.suptitle(f"Layer {layer.name}: {k} feature maps {maps.shape[1]}x{maps.shape[2]} after ReLU, "
                 f"output {maps.shape}, for test image #{index} ({label})\n"
                 "each map scaled to its own maximum (black = 0); 'dead' = 0 everywhere for this image",
                 fontsize=10)
    ax = fig.add_subplot(grid[:min(rows, 2), :2])
    ax.imshow(image[0, :, :, 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"input: {label}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    for i in range(k):
        ax = fig.add_subplot(grid[i // cols, 2 + i % cols])
        m = maps[0, :, :, i]
        top = float(m.max())
        ax.imshow(m, cmap="magma", vmin=0, vmax=top if top > 0 else 1)
        ax.set_title(f"{i}: max {top:.2f}" if top > 0 else f"{i}: dead", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path, dpi=100)


def draw_confusion(cm, accuracy, n, path):
    from matplotlib.colors import PowerNorm
    fig = Figure(figsize=(8.2, 7.2), layout="constrained")
    ax = fig.subplots()
    norm = PowerNorm(gamma=0.5, vmin=0, vmax=cm.max())  # square root: the few errors stay visible
    im = ax.imshow(cm, cmap="Blues", norm=norm)
    ax.set_title(f"Confusion matrix on {n} test images (accuracy {accuracy:.1%})", fontsize=11)
    ax.set_xticks(range(10), CLASSES, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(10), CLASSES, fontsize=9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if norm(cm[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8, label="images (square-root colour scale)")
    fig.savefig(path, dpi=100)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    p.add_argument("--quick", action="store_true",
                   help="train on 3000 images for 1 epoch, evaluate on 1000")
    p.add_argument("--weights", metavar="PATH",
                   help="load the CNN's weights (a model.save or save_weights file) instead of training")
    p.add_argument("--out", metavar="DIR", default="out", help="directory for the PNGs (default ./out)")
    p.add_argument("--image", type=int, default=0, help="test image whose feature maps are drawn (default 0)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")

    (x, y), (xt, yt) = datasets.fashion_mnist.load_data()
    epochs = args.epochs
    if args.quick:
        x, y, xt, yt, epochs = x[:3000], y[:3000], xt[:1000], yt[:1000], 1
    if not 0 <= args.image < len(xt):
        p.error(f"--image must be in [0, {len(xt)}), got {args.image}")
    x, xt = x / 255.0, xt / 255.0
    os.makedirs(args.out, exist_ok=True)

    utils.set_random_seed(args.seed)
    model = build_cnn()
    if args.weights:
        model.load_weights(args.weights)
        print(f"loaded {args.weights}")
    else:
        model.fit(x, y, epochs=epochs, verbose=2)
        path = os.path.join(args.out, "feature_maps_cnn.keras")
        model.save(path)
        print(f"wrote {path} (reuse it with --weights {path})")

    probs = model.predict(xt, verbose=0)
    pred = probs.argmax(axis=1)
    cm = confusion_matrix(yt, pred)
    accuracy = float(np.mean(pred == yt))
    print(f"test accuracy on {len(xt)} images: {accuracy:.4f}")

    written = []
    path = os.path.join(args.out, "feature_maps_filters.png")
    draw_filters(model.layers[0].kernel, path)
    written.append(path)

    image = xt[args.image:args.image + 1, :, :, None].astype(np.float32)
    label = CLASSES[int(yt[args.image])]
    for layer, maps in conv_outputs(model, image):
        path = os.path.join(args.out, f"feature_maps_{layer.name}.png")
        draw_maps(image, label, args.image, layer, maps, path)
        written.append(path)

    path = os.path.join(args.out, "feature_maps_confusion.png")
    draw_confusion(cm, accuracy, len(xt), path)
    written.append(path)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
