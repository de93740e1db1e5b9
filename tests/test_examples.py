"""The examples and pyconv.utils.plot_history.

Each example runs with --quick in a subprocess on matplotlib's headless Agg backend and must
write its PNGs, each non-trivial (more than a few KB, not a single colour). The examples need
the real Fashion-MNIST: they are skipped when /usr/share/datasets/fashion-mnist (Debian's
dataset-fashion-mnist) is absent; drawing tests are skipped when matplotlib (the [plot] extra)
is not installed. Whole file: about 15 s, most of it the two trainings.
"""
import doctest
import os
import subprocess
import tempfile
import sys
from pathlib import Path

import numpy as np
import pytest

from pyconv import callbacks, layers, models, plotting, utils

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = "/usr/share/datasets/fashion-mnist"
HAVE_DATA = os.path.isdir(DATA)

# example -> the PNGs it writes with --quick
PICTURES = {
    "fashion_mnist.py": ["fashion_mnist_history.png"],
    "edge_filters.py": ["edge_filters.png"],
    "pooling.py": ["pooling.png", "pooling_invariance.png"],
    "feature_maps.py": ["feature_maps_filters.png", "feature_maps_conv2d.png",
                        "feature_maps_conv2d_1.png", "feature_maps_conv2d_2.png",
                        "feature_maps_confusion.png"],
}


def check_picture(path, min_bytes=5000):
    """The PNG exists, is more than a few KB and is not a single colour."""
    image = pytest.importorskip("matplotlib.image")
    assert path.is_file(), f"{path} was not written"
    size = path.stat().st_size
    assert size > min_bytes, f"{path} is only {size} bytes"
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100, pixels.shape
    assert pixels[..., :3].std() > 0.01, f"{path} is (nearly) a single colour"


def run_example(name, out, *args):
    # One thread: on a shared, busy machine (CI, 2 cores) two OpenMP threads that wait for each
    # other at every small kernel made a --quick run up to 30x slower; the pictures are the same.
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", "--out", str(out), *args],
                          env=env, cwd=out, capture_output=True, text=True, timeout=300)


# ---- the examples ----------------------------------------------------------------------------

@pytest.mark.skipif(not HAVE_DATA, reason=f"Fashion-MNIST is not installed in {DATA}")
@pytest.mark.parametrize("name", list(PICTURES))
def test_example_quick_writes_its_pictures(name, tmp_path):
    pytest.importorskip("matplotlib")
    r = run_example(name, tmp_path)
    assert r.returncode == 0, f"{name} exited with {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    for png in PICTURES[name]:
        check_picture(tmp_path / png)
        assert f"wrote {tmp_path / png}" in r.stdout  # it says what it wrote
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(PICTURES[name])


BLOCK_MATPLOTLIB = """
import runpy, sys
class Block:  # as if matplotlib were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("name", ["edge_filters.py", "pooling.py", "feature_maps.py"])
def test_drawing_example_without_matplotlib_says_so_and_fails(name, tmp_path):
    """Drawing is all these do: without matplotlib they stop at once (no data, no training)."""
    r = subprocess.run([sys.executable, "-c", BLOCK_MATPLOTLIB, str(EXAMPLES / name), "--quick",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 1
    assert f"{name} draws" in r.stderr and "needs matplotlib" in r.stderr
    assert 'pip install "pyconv[plot]"' in r.stderr
    assert not list(tmp_path.iterdir())


# ---- plot_history ----------------------------------------------------------------------------

def small_history(units, epochs=3, validation=True):
    rng = np.random.default_rng(0)
    x = rng.random((64, 4), dtype=np.float32)
    y = (x.sum(axis=1) > 2).astype(np.int64)
    utils.set_random_seed(0)
    model = models.Sequential([layers.Input((4,)), layers.Dense(units, activation="relu"),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    val = (x[:16], y[:16]) if validation else None
    return model.fit(x, y, epochs=epochs, verbose=0, validation_data=val)


def test_plot_history_one_model(tmp_path):
    pytest.importorskip("matplotlib")
    h = small_history(8)
    assert isinstance(h, callbacks.History)
    path = tmp_path / "curves.png"
    fig = utils.plot_history(h, path)
    check_picture(path)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
        assert [len(line.get_xdata()) for line in ax.get_lines()] == [3, 3]
        assert ax.get_xlabel() == "epoch"


def test_plot_history_overlays_models_and_accepts_dicts(tmp_path):
    pytest.importorskip("matplotlib")
    dnn, cnn = small_history(8), small_history(16, epochs=2, validation=False)
    path = tmp_path / "overlay.png"
    fig = utils.plot_history({"DNN": dnn, "CNN": cnn.history}, str(path), title="DNN against CNN")
    check_picture(path)
    assert fig._suptitle.get_text() == "DNN against CNN"  # get_suptitle() needs matplotlib 3.8
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "DNN train", "DNN validation", "CNN train"]
    # a bare .history dict is one model; one epoch still gives a readable axis
    fig = utils.plot_history({"loss": [0.5]}, tmp_path / "one.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss"]
    lo, hi = fig.axes[0].get_xlim()
    assert [t for t in fig.axes[0].get_xticks() if lo <= t <= hi] == [1]


@pytest.mark.parametrize("bad", [42, "loss", {"loss": 0.5}, {"DNN": 3}, [0.1, 0.2]])
def test_plot_history_bad_history(bad, tmp_path):
    with pytest.raises(TypeError, match=r"`history` must be a History \(returned by fit\), its "
                                        r"`.history` dict .* Received: history="):
        utils.plot_history(bad, tmp_path / "x.png")


def test_plot_history_nothing_to_plot_and_bad_path(tmp_path):
    with pytest.raises(ValueError, match=r"`history` holds no epoch to plot. Received: history=\{\}"):
        utils.plot_history({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="no epoch to plot"):
        utils.plot_history(callbacks.History(), tmp_path / "x.png")
    with pytest.raises(TypeError, match=r"`path` must be a file path \(str or os.PathLike\). "
                                        r"Received: path=3 of type int."):
        utils.plot_history({"loss": [1.0]}, 3)


def test_plot_history_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    with pytest.raises(ImportError, match=r"plot_history needs matplotlib, which is not installed; "
                                          r"it is pyconv's optional \[plot\] extra: pip install"):
        utils.plot_history({"loss": [1.0]}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_import_pyconv_does_not_import_matplotlib():
    code = "import sys, pyconv, pyconv.utils; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60, cwd=tempfile.gettempdir()).returncode == 0


def test_plotting_doctests():
    pytest.importorskip("matplotlib")
    result = doctest.testmod(plotting, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0
