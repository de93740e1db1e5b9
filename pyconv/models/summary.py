"""Keras 3's model summary, as a log or notebook shows it (76 columns): three columns for a
linear model, a fourth ("Connected to") for a functional model with branches or shared layers."""
from ..layers.base import Layer, _shape_str

_LINE3 = (33, 24, 15)       # Layer (type) | Output Shape | Param #
_LINE4 = (21, 19, 12, 19)   # ... | Connected to


def _readable_size(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n / 1024 < 1:
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} PB"


def _wrap(text, width, ellipsis=False):
    """Rich's wrapping of a table cell: at spaces; a word too long is cut (with '…' when
    `ellipsis`, as Keras does in its last column)."""
    lines, cur = [], ""
    for word in text.split(" "):
        while len(word) > width:
            if ellipsis:
                word = word[:width - 1] + "…"
                break
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(word[:width])
            word = word[width:]
        if not cur:
            cur = word
        elif len(cur) + 1 + len(word) <= width:
            cur += " " + word
        else:
            lines.append(cur)
            cur = word
    lines.append(cur)
    return lines


def _table(widths, header, rows, last_ellipsis=False):
    inner = [c - 2 for c in widths]

    def rule(l, m, r, ch):
        return l + m.join(ch * c for c in widths) + r

    def row(cells, sep, aligns):
        wrapped = [_wrap(c, iw, last_ellipsis and i == len(cells) - 1)
                   for i, (c, iw) in enumerate(zip(cells, inner))]
        h = max(len(c) for c in wrapped)
        return [sep + sep.join(f" {(c[i] if i < len(c) else ''):{a}{iw}} "
                               for c, iw, a in zip(wrapped, inner, aligns)) + sep for i in range(h)]

    aligns = ("<", "<", ">", "<")[:len(widths)]
    out = [rule("┏", "┳", "┓", "━")] + row(header, "┃", aligns) + [rule("┡", "╇", "┩", "━")]
    for i, cells in enumerate(rows):
        if i:
            out.append(rule("├", "┼", "┤", "─"))
        out += row(cells, "│", aligns)
    out.append(rule("└", "┴", "┘", "─"))
    return out


def _layer_cells(l, shape):
    # Keras: a layer without a build step (no weights) counts as built from the start
    unbuilt = not l.built and type(l).build is not Layer.build
    params = "0 (unbuilt)" if unbuilt else f"{l.count_params():,}"
    return [f"{l.name} ({_type_name(l)})", shape, params]


def _type_name(l):
    from .model import Model
    from .sequential import Sequential
    if type(l) is Model:
        return "Functional"
    if type(l) is Sequential:
        return "Sequential"
    return type(l).__name__


def _shape_text(s):
    if s is None:
        return "?"
    if isinstance(s, list):
        return "[" + ", ".join(_shape_text(e) for e in s) + "]"
    return _shape_str(s)


def _sequential_like(model):
    g = model._graph
    seen = set()
    for n in g.nodes:
        if len(n.inputs) > 1 or len(n.outputs) > 1 or id(n.layer) in seen:
            return False
        seen.add(id(n.layer))
    consumers = {}
    for n in g.nodes:
        for t in n.inputs:
            consumers[id(t)] = consumers.get(id(t), 0) + 1
    return all(c == 1 for c in consumers.values()) and len(g.inputs) == 1 and len(g.outputs) == 1


def summary_text(model):
    from .sequential import Sequential
    out = [f'Model: "{model.name}"']
    if isinstance(model, Sequential) or not model._functional:
        layers = model.layers if isinstance(model, Sequential) else model._sublayers()
        rows = []
        for l in layers:
            if isinstance(model, Sequential) and model._graph is not None:
                shape = _shape_text(_node_shape(model, l))
            else:
                shape = _shape_text(getattr(l, "output_shape", None)) if l.built else "?"
            rows.append(_layer_cells(l, shape))
        out += _table(_LINE3, ["Layer (type)", "Output Shape", "Param #"], rows)
    else:
        g = model._graph
        four = not _sequential_like(model)
        nodes = [t.node for t in g.inputs] + g.nodes
        rows = []
        for l in g.layers:
            mine = [n for n in nodes if n.layer is l]
            shapes = [(_shape_text(n.outputs[0].shape) if len(n.outputs) == 1
                       else _shape_text([t.shape for t in n.outputs])) for n in mine]
            cells = _layer_cells(l, shapes[0])
            if four:
                conn = [f"{t.node.layer.name}[{g.node_index(t.node)}][{t._history[2]}]"
                        for n in mine for t in n.inputs]
                cells.append(", ".join(conn) if conn else "-")
            rows.append(cells)
        if four:
            out += _table(_LINE4, ["Layer (type)", "Output Shape", "Param #", "Connected to"], rows, True)
        else:
            out += _table(_LINE3, ["Layer (type)", "Output Shape", "Param #"], rows)
    tw, nw = model.trainable_weights, model.non_trainable_weights
    tn, nn_ = sum(a.size for a in tw), sum(a.size for a in nw)
    on, ob = (0, 0)
    if model.optimizer is not None and model.optimizer.built:
        on, ob = model.optimizer._count_variables()
    out.append(f" Total params: {tn + nn_ + on:,} ({_readable_size(4 * (tn + nn_) + ob)})")
    out.append(f" Trainable params: {tn:,} ({_readable_size(4 * tn)})")
    out.append(f" Non-trainable params: {nn_:,} ({_readable_size(4 * nn_)})")
    if on:
        out.append(f" Optimizer params: {on:,} ({_readable_size(ob)})")
    return "\n".join(out) + "\n"


def _node_shape(model, layer):
    for n in model._graph.nodes:
        if n.layer is layer:
            return n.outputs[0].shape if len(n.outputs) == 1 else [t.shape for t in n.outputs]
    return None
