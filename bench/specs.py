"""The benchmark's models, described once as data, and the FLOPs of one training step.

Every framework's builder (bench/worker.py) reads the same description, so the models cannot
drift apart. Pure Python: importing this module imports no framework.

Models: "dnn" and "cnn" are the Fashion-MNIST tutorial's two; "cnn_bn" is the tutorial CNN with
BatchNormalization after each convolution (Conv2D without activation -> BN -> ReLU); "mobilenet"
is a MobileNet-style CIFAR-10-shaped network (issue 12): Conv2D 32 + BN + ReLU, four
SeparableConv2D blocks with BN and ReLU (two of them stride 2), GlobalAveragePooling2D, Dense 10.

FLOP rule (the same for every framework): a conv or dense layer's forward pass costs 2 FLOPs
per multiply-add of the operation as defined (for a 3x3 VALID conv: 2*P*Q*K*R*S*C per image;
for dense: 2*C_in*C_out; for a separable conv: its depthwise 2*P*Q*C*R*S plus its pointwise
2*P*Q*C*K); its backward pass costs twice that (input gradient + weight gradient), so a
training step costs 3x the forward FLOPs -- except for the first layer, whose input gradient
nobody needs: 2x. Bias, batch normalization, activations, pooling, the loss and the optimizer
are not counted (they are O(activations), not O(FLOPs)).
"""

TRAIN_IMAGES = 60_000  # one Fashion-MNIST epoch
BATCH = 32

# The data sets: (training images, test images) of one epoch, and the name a table prints.
DATASETS = {"fashion_mnist": {"train": 60_000, "test": 10_000, "label": "Fashion-MNIST"},
            "cifar10": {"train": 50_000, "test": 10_000, "label": "CIFAR-10"}}

# (kind, arguments):
#   conv (filters, kernel, activation[, padding]) -- stride 1, padding "valid" unless given
#   sepconv (filters, kernel, strides)             -- SeparableConv2D, padding "same", no activation
#   bn ()  relu ()  pool (size)  gap ()  flatten ()  dense (units, activation)
MODELS = {
    "dnn": {"input": (28, 28), "data": "fashion_mnist",
            "layers": [("flatten",), ("dense", 128, "relu"), ("dense", 10, "softmax")]},
    "cnn": {"input": (28, 28, 1), "data": "fashion_mnist",
            "layers": [("conv", 32, 3, "relu"), ("pool", 2), ("conv", 64, 3, "relu"), ("pool", 2),
                       ("conv", 64, 3, "relu"), ("flatten",), ("dense", 64, "relu"),
                       ("dense", 10, "softmax")]},
    "cnn_bn": {"input": (28, 28, 1), "data": "fashion_mnist",
               "layers": [("conv", 32, 3, None), ("bn",), ("relu",), ("pool", 2),
                          ("conv", 64, 3, None), ("bn",), ("relu",), ("pool", 2),
                          ("conv", 64, 3, None), ("bn",), ("relu",), ("flatten",),
                          ("dense", 64, "relu"), ("dense", 10, "softmax")]},
    "mobilenet": {"input": (32, 32, 3), "data": "cifar10",
                  "layers": [("conv", 32, 3, None, "same"), ("bn",), ("relu",),
                             ("sepconv", 64, 3, 1), ("bn",), ("relu",),
                             ("sepconv", 128, 3, 2), ("bn",), ("relu",),
                             ("sepconv", 128, 3, 1), ("bn",), ("relu",),
                             ("sepconv", 256, 3, 2), ("bn",), ("relu",),
                             ("gap",), ("dense", 10, "softmax")]},
}
MODEL_NAMES = {"dnn": "DNN", "cnn": "CNN", "cnn_bn": "CNN+BN", "mobilenet": "MobileNet-style"}


def dataset(model):
    """The data set a model trains on (a key of DATASETS)."""
    return MODELS[model]["data"]


def train_images(model):
    """Images in one epoch of the model's data set: what s/epoch is extrapolated to."""
    return DATASETS[dataset(model)]["train"]


def conv_padding(layer):
    """A conv tuple's padding: its optional fifth element, Keras's "valid" by default."""
    return layer[4] if len(layer) > 4 else "valid"


def _conv_out(size, r, stride, padding):
    """Keras's output size along one axis: VALID ceil((size - r + 1) / stride), SAME ceil(size / stride)."""
    return -(-(size - r + 1) // stride) if padding == "valid" else -(-size // stride)


def layer_shapes(model):
    """[(kind, args, input shape, output shape)] without the batch axis; convs are stride 1 and
    VALID unless the spec says otherwise, separable convs SAME; pools are VALID with stride =
    size (Keras' defaults)."""
    spec = MODELS[model]
    shape = tuple(spec["input"])
    out = []
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "conv":
            h, w, _c = shape
            r = layer[2]
            pad = conv_padding(layer)
            new = (_conv_out(h, r, 1, pad), _conv_out(w, r, 1, pad), layer[1])
        elif kind == "sepconv":
            h, w, _c = shape
            _, k, r, s = layer
            new = (_conv_out(h, r, s, "same"), _conv_out(w, r, s, "same"), k)
        elif kind == "pool":
            s = layer[1]
            h, w, c = shape
            new = (h // s, w // s, c)
        elif kind in ("bn", "relu"):
            new = shape
        elif kind == "gap":
            new = (shape[-1],)
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
    """[(layer label, forward FLOPs per image)] for the conv, separable and dense layers, in order."""
    rows, n = [], {"conv": 0, "sepconv": 0, "dense": 0}
    for kind, args, ins, outs in layer_shapes(model):
        if kind not in n:
            continue
        n[kind] += 1
        if kind == "conv":
            (h, w, c), (p, q, k), r = ins, outs, args[1]
            rows.append((f"conv{n[kind]} {h}x{w}x{c}->{k}", 2 * p * q * k * r * r * c))
        elif kind == "sepconv":
            (h, w, c), (p, q, k), r = ins, outs, args[1]
            rows.append((f"sep{n[kind]} {h}x{w}x{c}->{k}" + (f" /{args[2]}" if args[2] != 1 else ""),
                         2 * p * q * c * (r * r + k)))
        else:
            rows.append((f"dense{n[kind]} {ins[0]}->{outs[0]}", 2 * ins[0] * outs[0]))
    return rows


def train_flops_per_image(model):
    """FLOPs of one training step per image: 3x forward per layer, 2x for the first one."""
    rows = forward_flops(model)
    return sum((2 if i == 0 else 3) * f for i, (_, f) in enumerate(rows))


def params(model):
    """Weight count as Keras' count_params gives it: weights and biases, and for each
    BatchNormalization its gamma, beta and the two moving statistics (4 per channel)."""
    n = 0
    for kind, args, ins, outs in layer_shapes(model):
        if kind == "conv":
            n += args[1] * args[1] * ins[2] * outs[2] + outs[2]
        elif kind == "sepconv":
            n += args[1] * args[1] * ins[2] + ins[2] * outs[2] + outs[2]
        elif kind == "bn":
            n += 4 * outs[-1]
        elif kind == "dense":
            n += ins[0] * outs[0] + outs[0]
    return n
