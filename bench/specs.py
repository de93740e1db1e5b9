"""The tutorial's two models, described once as data, and the FLOPs of one training step.

Every framework's builder (bench/worker.py) reads the same description, so the three models
cannot drift apart. Pure Python: importing this module imports no framework.

FLOP rule (the same for every framework): a conv or dense layer's forward pass costs 2 FLOPs
per multiply-add of the operation as defined (for a 3x3 VALID conv: 2*P*Q*K*R*S*C per image;
for dense: 2*C_in*C_out); its backward pass costs twice that (input gradient + weight
gradient), so a training step costs 3x the forward FLOPs -- except for the first layer, whose
input gradient nobody needs: 2x. Bias, activations, pooling, the loss and the optimizer are
not counted (they are O(activations), not O(FLOPs)).
"""

TRAIN_IMAGES = 60_000  # one Fashion-MNIST epoch
BATCH = 32

# (kind, arguments): conv (filters, kernel, activation), pool (size), flatten, dense (units, act.)
MODELS = {
    "dnn": {"input": (28, 28),
            "layers": [("flatten",), ("dense", 128, "relu"), ("dense", 10, "softmax")]},
    "cnn": {"input": (28, 28, 1),
            "layers": [("conv", 32, 3, "relu"), ("pool", 2), ("conv", 64, 3, "relu"), ("pool", 2),
                       ("conv", 64, 3, "relu"), ("flatten",), ("dense", 64, "relu"),
                       ("dense", 10, "softmax")]},
}


def layer_shapes(model):
    """[(kind, args, input shape, output shape)] without the batch axis; convs are VALID,
    stride 1; pools are VALID with stride = size (Keras' defaults)."""
    spec = MODELS[model]
    shape = tuple(spec["input"])
    out = []
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "conv":
            _, k, r, _act = layer
            h, w, _c = shape
            new = (h - r + 1, w - r + 1, k)
        elif kind == "pool":
            s = layer[1]
            h, w, c = shape
            new = (h // s, w // s, c)
        elif kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            new = (n,)
        elif kind == "dense":
            new = (layer[1],)
        else:
            raise ValueError(f"unknown layer kind {kind!r} in model {model!r}")
        out.append((kind, layer[1:], shape, new))
        shape = new
    return out


def forward_flops(model):
    """[(layer label, forward FLOPs per image)] for the conv and dense layers, in order."""
    rows, n_conv, n_dense = [], 0, 0
    for kind, args, ins, outs in layer_shapes(model):
        if kind == "conv":
            n_conv += 1
            (h, w, c), (p, q, k), r = ins, outs, args[1]
            rows.append((f"conv{n_conv} {h}x{w}x{c}->{k}", 2 * p * q * k * r * r * c))
        elif kind == "dense":
            n_dense += 1
            rows.append((f"dense{n_dense} {ins[0]}->{outs[0]}", 2 * ins[0] * outs[0]))
    return rows


def train_flops_per_image(model):
    """FLOPs of one training step per image: 3x forward per layer, 2x for the first one."""
    rows = forward_flops(model)
    return sum((2 if i == 0 else 3) * f for i, (_, f) in enumerate(rows))


def params(model):
    """Trainable parameter count (weights + biases), for the sanity line of the table."""
    n = 0
    for kind, args, ins, outs in layer_shapes(model):
        if kind == "conv":
            n += args[1] * args[1] * ins[2] * outs[2] + outs[2]
        elif kind == "dense":
            n += ins[0] * outs[0] + outs[0]
    return n
