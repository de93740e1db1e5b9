"""Pictures of training: `plot_history` (exposed as `pyconv.utils.plot_history`).

matplotlib is an optional dependency (the `[plot]` extra: `pip install "pyconv[plot]"`), so
nothing here is imported by `import pyconv`, and matplotlib itself is imported only inside the
functions. Figures are drawn on a `matplotlib.figure.Figure` that pyplot does not manage and
saved through the Agg renderer: no display is needed, no window opens, pyplot's backend and
its list of open figures are left as they were (a notebook's inline backend keeps working).
"""
import os
from collections.abc import Mapping, Sequence

__all__ = ["plot_history", "require_matplotlib"]

_INSTALL = "pip install \"pyconv[plot]\" (or pip install matplotlib)"


def require_matplotlib(what="plotting"):
    """Import matplotlib, or raise an ImportError that says how to install it.

    Args:
        what: what needs it, for the message (e.g. "plot_history").

    Returns:
        The matplotlib module.

    Raises:
        ImportError: matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(f"{what} needs matplotlib, which is not installed; it is pyconv's "
                          f"optional [plot] extra: {_INSTALL}.") from e
    return matplotlib


def _series(h, arg):
    """The dict {metric: list of per-epoch values} of a History or of a history dict."""
    logs = getattr(h, "history", h)
    if not isinstance(logs, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Sequence) and not isinstance(v, str)
            for k, v in logs.items()):
        raise TypeError(f"`history` must be a History (returned by fit), its `.history` dict "
                        f"{{name: list of per-epoch values}}, or a dict {{label: History}}. "
                        f"Received: history={arg!r}.")
    return {k: [float(x) for x in v] for k, v in logs.items()}


def _runs(history):
    """[(label or None, {metric: values})] from one history or a dict {label: history}."""
    if isinstance(history, Mapping) and history and all(
            hasattr(v, "history") or isinstance(v, Mapping) for v in history.values()):
        return [(str(label), _series(h, history)) for label, h in history.items()]
    return [(None, _series(history, history))]


def plot_history(history, path, title=None):
    """Draw training curves (one panel per metric: loss, accuracy, ...) and save them to `path`.

    Each panel shows a metric per epoch, training as a solid line and validation (the `val_`
    logs, when present) dashed in the same colour. Several models are overlaid, one colour
    each, when `history` is a dict {label: History}, e.g. {"DNN": h_dnn, "CNN": h_cnn}.

    Args:
        history: a History returned by `model.fit`, its `.history` dict, or a dict
            {label: History (or .history dict)} to overlay several models.
        path: the image file to write; the format follows the extension (.png, .pdf, .svg).
        title: optional title above the panels.

    Returns:
        The matplotlib Figure (already saved; not managed by pyplot).

    Raises:
        ImportError: matplotlib is not installed (install the `[plot]` extra).
        TypeError: `history` or `path` is of the wrong type.
        ValueError: there is nothing to plot (no metric holds an epoch).

    Example:
        >>> import os, tempfile
        >>> from pyconv import utils
        >>> h = {"loss": [0.9, 0.5, 0.4], "val_loss": [0.7, 0.6, 0.55],
        ...      "accuracy": [0.7, 0.8, 0.85], "val_accuracy": [0.75, 0.8, 0.8]}
        >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
        >>> fig = utils.plot_history({"CNN": h}, path)
        >>> [ax.get_title() for ax in fig.axes]
        ['loss', 'accuracy']
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a file path (str or os.PathLike). "
                        f"Received: path={path!r} of type {type(path).__name__}.")
    runs = _runs(history)
    names = []  # panels: loss first, then accuracy, then the rest in the order logged
    for _, logs in runs:
        for k, v in logs.items():
            base = k[4:] if k.startswith("val_") else k
            if v and base not in names:
                names.append(base)
    if not names:
        raise ValueError(f"`history` holds no epoch to plot. Received: history={history!r}.")
    names.sort(key=lambda n: (n != "loss", n != "accuracy"))

    require_matplotlib("plot_history")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n_epochs = max(len(v) for _, logs in runs for v in logs.values())
    fig = Figure(figsize=(5.0 * len(names), 4.0), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    colors = [f"C{i % 10}" for i in range(len(runs))]
    for ax, name in zip(axes, names):
        for (label, logs), color in zip(runs, colors):
            # training solid with filled dots, validation dashed with hollow ones
            for key, style, face, part in ((name, "-", color, "train"),
                                           ("val_" + name, "--", "white", "validation")):
                values = logs.get(key)
                if not values:
                    continue
                epochs = range(1, len(values) + 1)
                text = part if label is None else f"{label} {part}"
                ax.plot(epochs, values, style, color=color, marker="o", markersize=5,
                        markerfacecolor=face, label=text)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_xlim(0.5, n_epochs + 0.5)  # a margin, and a sensible axis for a single epoch
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole epochs
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100)
    return fig
