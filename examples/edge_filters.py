"""The tutorial's hand-made filters: a vertical-line and a horizontal-line 7x7 filter on Fashion-MNIST.

    python examples/edge_filters.py               # 5 test images
    python examples/edge_filters.py --quick       # 3 images
    python examples/edge_filters.py --out pics/

As in the tutorial (with pyconv.nn for tf.nn):

    filters = np.zeros(shape=(7, 7, channels, 2), dtype=np.float32)
    filters[:, 3, :, 0] = 1    # vertical line
    filters[3, :, :, 1] = 1    # horizontal line
    output = nn.conv2d(images, filters, strides=1, padding="SAME")

Each output pixel is the sum of the 7 input pixels on a vertical (or horizontal) line through
it, so the first feature map is bright where the image has vertical strokes (a trouser's legs)
and the second where it has horizontal ones (a bag's top edge, a sole). Writes
DIR/edge_filters.png (default ./out): the two filters, then each input with its two feature maps.

Needs matplotlib (the [plot] extra: pip install "pyconv[plot]"): drawing is all this example
does, so without it it stops at once with that message and exit status 1.
"""
import argparse
import os
import sys

import numpy as np

try:
    from matplotlib.figure import Figure
except ImportError:
    sys.exit("edge_filters.py draws a picture and needs matplotlib, which is not installed; "
             "it is pyconv's optional [plot] extra: pip install \"pyconv[plot]\" (or pip install matplotlib)")

from pyconv import datasets, nn

CLASSES = datasets.fashion_mnist.class_names
SHOW = ("Trouser", "Bag", "Sneaker", "Ankle boot", "T-shirt/top")  # strong vertical or horizontal strokes


def make_filters(channels=1):
    """The tutorial's two 7x7 filters, HWIO (7, 7, channels, 2)."""
    filters = np.zeros(shape=(7, 7, channels, 2), dtype=np.float32)
    filters[:, 3, :, 0] = 1  # vertical line: the middle column
    filters[3, :, :, 1] = 1  # horizontal line: the middle row
    return filters


def pick_images(x, y, names):
    """The first test image of each named class, as (N, 28, 28, 1) floats in [0, 1]."""
    idx = [int(np.flatnonzero(y == CLASSES.index(n))[0]) for n in names]
    return (x[idx] / 255.0).astype(np.float32)[..., None], idx


def draw(images, labels, idx, filters, output, path):
    n = len(images)
    vmax = float(output.max())
    fig = Figure(figsize=(8.6, 2.3 * (n + 1)), layout="constrained")
    axes = fig.subplots(n + 1, 3, squeeze=False)
    fig.suptitle("Hand-made filters on Fashion-MNIST: nn.conv2d(images, filters, strides=1, "
                 "padding=\"SAME\")", fontsize=11)

    # Row 0: the filters themselves (white = 1, black = 0).
    axes[0, 0].axis("off")
    axes[0, 0].text(0.05, 0.5, f"images {images.shape}\nfilters {filters.shape} (HWIO)\n"
                    f"output {output.shape}\n\nEach output pixel sums\nthe 7 input pixels on\n"
                    f"the filter's line.", va="center", fontsize=9, family="monospace")
    for j, what in enumerate(("vertical-line filter\nfilters[:, 3, :, 0] = 1",
                              "horizontal-line filter\nfilters[3, :, :, 1] = 1")):
        ax = axes[0, 1 + j]
        ax.imshow(filters[:, :, 0, j], cmap="gray", vmin=0, vmax=1)
        ax.set_title(what, fontsize=9)
        ax.set_xticks(range(7))
        ax.set_yticks(range(7))
        ax.tick_params(labelsize=7)

    # Rows 1..n: an input and its two feature maps (one colour scale for all maps).
    for i in range(n):
        ax = axes[i + 1, 0]
        ax.imshow(images[i, :, :, 0], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"input (0 to 1): test image #{idx[i]}\n{labels[i]}", fontsize=9)
        for j, what in enumerate(("vertical", "horizontal")):
            ax = axes[i + 1, 1 + j]
            im_map = ax.imshow(output[i, :, :, j], cmap="inferno", vmin=0, vmax=vmax)
            ax.set_title(f"feature map {j}: {what} lines", fontsize=9)
        for ax in axes[i + 1]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(im_map, ax=axes[1:, 1:], shrink=0.6, label="sum of 7 pixels")
    fig.savefig(path, dpi=90)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 images instead of 5")
    p.add_argument("--out", metavar="DIR", default="out", help="directory for the PNG (default ./out)")
    args = p.parse_args(argv)

    _, (xt, yt) = datasets.fashion_mnist.load_data()
    names = SHOW[:3] if args.quick else SHOW
    images, idx = pick_images(xt, yt, names)

    filters = make_filters(channels=images.shape[-1])
    output = nn.conv2d(images, filters, strides=1, padding="SAME")
    print(f"images {images.shape} * filters {filters.shape} -> feature maps {output.shape}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "edge_filters.png")
    draw(images, names, idx, filters, output, path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
