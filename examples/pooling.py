"""The tutorial's pooling section on real Fashion-MNIST images, and the invariance pooling buys.

    python examples/pooling.py                # invariance measured on 1000 test images
    python examples/pooling.py --quick        # on 100
    python examples/pooling.py --out pics/

Shown side by side, with their shapes (pyconv.nn for tf.nn, pyconv.layers for keras.layers):

- max pooling 2x2, stride 2:  nn.max_pool(images, ksize=(1, 2, 2, 1), strides=(1, 2, 2, 1),
  padding="VALID") and layers.MaxPool2D(pool_size=2) -- the same numbers (checked);
- depth-wise max pooling, which Keras has no layer for, so the tutorial wraps tf.nn.max_pool in
  a Lambda: layers.Lambda(lambda X: nn.max_pool(X, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3),
  padding="VALID")), here over the feature maps of 3 line detectors (vertical, horizontal,
  diagonal; the tutorial's line filters made zero-sum, then a ReLU): the result answers "is
  there a line here, whatever its direction?";
- global average pooling: layers.GlobalAvgPool2D(), one number per feature map.

(The tutorial writes ksize(2, 2, 1, 1) for the 2x2 pooling; in NHWC that would be a window over
2 images, which neither TensorFlow nor pyconv accepts: the 2x2 window is (1, 2, 2, 1).)

Translation invariance: each test image is shifted right by 1 to 4 pixels and the features of
the shifted image compared with the original ones -- the 3 feature maps, then after one and two
2x2 max poolings, then after global average pooling: the fraction of values left exactly
unchanged, the correlation, and the relative change ||after - before|| / ||before||.

Writes to --out DIR (default ./out): pooling.png and pooling_invariance.png. Needs matplotlib
(the [plot] extra: pip install "pyconv[plot]"): without it the example stops at once with that
message and exit status 1.
"""
import argparse
import os
import sys

import numpy as np

try:
    from matplotlib.figure import Figure
except ImportError:
    sys.exit("pooling.py draws pictures and needs matplotlib, which is not installed; "
             "it is pyconv's optional [plot] extra: pip install \"pyconv[plot]\" (or pip install matplotlib)")

from pyconv import datasets, layers, nn

CLASSES = datasets.fashion_mnist.class_names
FILTER_NAMES = ("vertical", "horizontal", "diagonal")
SHIFTS = (0, 1, 2, 3, 4)


def line_filters():
    """Three 7x7 line detectors, HWIO (7, 7, 1, 3): vertical, horizontal, diagonal.

    The tutorial's line filters (1 on the line, 0 elsewhere) minus their mean (1/7 on the
    line's 7 pixels spread over all 49), so that they sum to 0: a flat patch gives 0 and only
    a line brighter than its surroundings gives a positive response (kept by a ReLU). With the
    plain filters every map would be a blur of the image and all three global averages would
    be 7 x the mean brightness.
    """
    f = np.zeros((7, 7, 1, 3), np.float32)
    f[:, 3, 0, 0] = 1                 # vertical
    f[3, :, 0, 1] = 1                 # horizontal
    f[range(7), range(7), 0, 2] = 1   # diagonal, top-left to bottom-right
    return f - f.mean(axis=(0, 1), keepdims=True)


def feature_maps(images):
    """ReLU(conv2d(images, line detectors)): (N, 28, 28, 1) -> (N, 28, 28, 3)."""
    return nn.relu(nn.conv2d(images, line_filters(), strides=1, padding="SAME"))


def shift_right(images, s):
    """Images moved s pixels to the right; the columns that come in are 0 (the background)."""
    out = np.zeros_like(images)
    out[:, :, s:] = images[:, :, :images.shape[2] - s]
    return out


def stages(images):
    """The features compared for invariance: name -> array, from the images (N, 28, 28, 1)."""
    fmaps = feature_maps(images)                                          # (N, 28, 28, 3)
    pool1 = layers.MaxPool2D(pool_size=2)(fmaps)                          # (N, 14, 14, 3)
    pool2 = layers.MaxPool2D(pool_size=2)(pool1)                          # (N, 7, 7, 3)
    gap = layers.GlobalAvgPool2D()(fmaps)                                 # (N, 3)
    return {"feature maps": fmaps, "max pool 2x2": pool1, "max pool 2x2, twice": pool2,
            "global average pool": gap}


def compare(a, b):
    """(fraction unchanged, correlation, relative change) between features a and b."""
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    live = (a != 0) | (b != 0)  # the background is 0 before and after: leave it out
    scale = np.abs(a).max()
    unchanged = float(np.mean(np.abs(a[live] - b[live]) <= 1e-6 * scale))
    corr = float(np.corrcoef(a, b)[0, 1])
    rel = float(np.linalg.norm(a - b) / np.linalg.norm(a))
    return unchanged, corr, rel


def draw_pooling(img, label, index, pooled, pooled2, fmaps, depth, gap, path):
    fig = Figure(figsize=(14, 6.6), layout="constrained")
    grid = fig.add_gridspec(2, 5)
    fig.suptitle(f"Pooling on test image #{index} ({label}); shapes are (batch, height, width, channels)",
                 fontsize=12)

    def show(where, a, title, cmap="gray", vmax=None):
        ax = fig.add_subplot(where)
        im = ax.imshow(a, cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        return ax, im

    show(grid[0, 0], img[0, :, :, 0], f"input\n{img.shape}", vmax=1)
    show(grid[0, 1], pooled[0, :, :, 0], f"max pool 2x2, stride 2\n{pooled.shape}", vmax=1)
    show(grid[0, 2], pooled2[0, :, :, 0], f"max pool 2x2 again\n{pooled2.shape}", vmax=1)
    ax = fig.add_subplot(grid[0, 3:])
    ax.axis("off")
    ax.text(0.02, 0.5,
            "Max pooling keeps the largest value of each 2x2 window:\n"
            "a quarter of the values remain, the garment stays recognisable.\n"
            "  nn.max_pool(images, ksize=(1, 2, 2, 1),\n"
            "              strides=(1, 2, 2, 1), padding=\"VALID\")\n"
            "  layers.MaxPool2D(pool_size=2)(images)     # the same numbers\n\n"
            "Bottom row: 3 line detectors (7x7, + ReLU) give 3 feature maps;\n"
            "depth-wise max pooling keeps, per pixel, the largest of the 3:\n"
            "  layers.Lambda(lambda X: nn.max_pool(X, ksize=(1, 1, 1, 3),\n"
            "                strides=(1, 1, 1, 3), padding=\"VALID\"))\n"
            "Global average pooling: one mean per feature map.\n"
            "  layers.GlobalAvgPool2D()",
            va="center", fontsize=9, family="monospace")

    vmax = float(fmaps.max())
    for j, name in enumerate(FILTER_NAMES):
        show(grid[1, j], fmaps[0, :, :, j], f"feature map {j}: {name}\n{fmaps.shape}",
             cmap="inferno", vmax=vmax)
    ax, im = show(grid[1, 3], depth[0, :, :, 0], f"depth-wise max pool\n{depth.shape}",
                  cmap="inferno", vmax=vmax)
    fig.colorbar(im, ax=ax, shrink=0.8, label="line response (ReLU)")

    ax = fig.add_subplot(grid[1, 4])
    ax.bar(range(3), gap[0], color=["C0", "C1", "C2"])
    ax.set_xticks(range(3), FILTER_NAMES, fontsize=8)
    ax.set_ylabel("mean of each feature map", fontsize=9)
    ax.set_title(f"global average pool\n{gap.shape}", fontsize=9)
    fig.savefig(path, dpi=90)


def draw_invariance(img, label, index, table, n, path):
    fig = Figure(figsize=(13.5, 6.2), layout="constrained")
    grid = fig.add_gridspec(2, 5)
    fig.suptitle(f"Translation invariance: images shifted right by 1 to 4 pixels "
                 f"(curves: mean over {n} test images)", fontsize=12)

    fa = feature_maps(img)[..., :1]  # the vertical-line map
    fb = feature_maps(shift_right(img, 1))[..., :1]
    pa = nn.max_pool(fa, ksize=2, strides=2, padding="VALID")
    pb = nn.max_pool(fb, ksize=2, strides=2, padding="VALID")
    vmax = float(fa.max())
    rows = (("before pooling", fa, fb, "28x28"), ("after 2x2 max pooling", pa, pb, "14x14"))
    for r, (what, u, v, size) in enumerate(rows):
        same = np.mean(u[u != 0] == v[u != 0]) if (u != 0).any() else 1.0
        for c, (arr, title, cmap, top) in enumerate((
                (u[0, :, :, 0], f"vertical-line map {size}\n{what}", "inferno", vmax),
                (v[0, :, :, 0], "same, image shifted 1 pixel right", "inferno", vmax),
                (np.abs(u - v)[0, :, :, 0], f"|difference|: {same:.0%} of the\nnon-zero values unchanged", "Reds", vmax))):
            ax = fig.add_subplot(grid[r, c])
            im = ax.imshow(arr, cmap=cmap, vmin=0, vmax=top)
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 2:
                fig.colorbar(im, ax=ax, shrink=0.8)

    names = list(table[SHIFTS[0]])
    for r, (k, ylabel) in enumerate(((1, "correlation with the unshifted features"),
                                     (2, "relative change ||after - before|| / ||before||"))):
        ax = fig.add_subplot(grid[r, 3:])
        for i, name in enumerate(names):
            ax.plot(SHIFTS, [table[s][name][k] for s in SHIFTS], "-o", color=f"C{i}", label=name)
        ax.set_xlabel("shift (pixels)")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_xticks(SHIFTS)
        ax.grid(True, alpha=0.3)
        if r == 0:
            ax.legend(fontsize=8, loc="lower left")
    fig.savefig(path, dpi=90)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="measure invariance on 100 images instead of 1000")
    p.add_argument("--out", metavar="DIR", default="out", help="directory for the PNGs (default ./out)")
    p.add_argument("--image", type=int, default=0, help="index of the test image shown (default 0)")
    args = p.parse_args(argv)

    _, (xt, yt) = datasets.fashion_mnist.load_data()
    n = 100 if args.quick else 1000
    images = (xt[:n] / 255.0).astype(np.float32)[..., None]           # (n, 28, 28, 1)
    img = (xt[args.image:args.image + 1] / 255.0).astype(np.float32)[..., None]
    label = CLASSES[int(yt[args.image])]

    # Max pooling 2x2, stride 2: tf.nn style and Keras style give the same numbers.
    pooled = nn.max_pool(img, ksize=(1, 2, 2, 1), strides=(1, 2, 2, 1), padding="VALID")
    same = np.array_equal(pooled, layers.MaxPool2D(pool_size=2)(img))
    pooled2 = layers.MaxPool2D(pool_size=2)(pooled)

    # Depth-wise max pooling over 3 feature maps, and global average pooling.
    fmaps = feature_maps(img)
    depth_pool = layers.Lambda(
        lambda X: nn.max_pool(X, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="VALID"))
    depth = depth_pool(fmaps)
    gap = layers.GlobalAvgPool2D()(fmaps)

    print(f"test image #{args.image} ({label})")
    print(f"  input                                {img.shape}")
    print(f"  nn.max_pool 2x2, stride 2            {pooled.shape}  (layers.MaxPool2D: "
          f"{'identical' if same else 'DIFFERENT'})")
    print(f"  max pool 2x2 twice                   {pooled2.shape}")
    print(f"  3 line detectors, conv2d SAME + relu {fmaps.shape}")
    print(f"  depth-wise max pool (Lambda)         {depth.shape}")
    print(f"  layers.GlobalAvgPool2D               {gap.shape}  = "
          f"[{', '.join(f'{v:.3f}' for v in gap[0])}]")

    base = stages(images)
    table = {s: {name: compare(base[name], feat) for name, feat in
                 stages(shift_right(images, s)).items()} for s in SHIFTS}
    print(f"\nTranslation invariance on {n} test images shifted right "
          f"(unchanged: fraction of non-background values exactly the same)")
    print(f"  {'features':<22} {'shape':<18} {'shift':>5} {'unchanged':>10} {'correlation':>12} "
          f"{'rel. change':>12}")
    for name in base:
        for s in SHIFTS[1:3]:
            u, c, r = table[s][name]
            print(f"  {name:<22} {str(base[name].shape):<18} {s:>5} {u:>10.1%} {c:>12.4f} {r:>12.4f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "pooling.png")
    draw_pooling(img, label, args.image, pooled, pooled2, fmaps, depth, gap, path)
    print(f"wrote {path}")
    path = os.path.join(args.out, "pooling_invariance.png")
    draw_invariance(img, label, args.image, table, n, path)
    print(f"wrote {path}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
