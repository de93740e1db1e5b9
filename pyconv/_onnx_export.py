"""ONNX export (`Model.export(path, format="onnx")`): a pyconv model as an ONNX graph that
onnxruntime, or any ONNX runtime, runs without pyconv.

The file: opset 17 by default (`opset_version=` from 17 to the installed onnx package's
newest), float32, the model's own inputs in pyconv's layout (NHWC images) under the names of
its Input layers, with a symbolic batch dimension "batch" (other unknown sizes get symbolic
names too), and its outputs under the model's output names. Weights are initializers.
Inference semantics: BatchNormalization normalizes with its moving statistics (folded into a
per-channel scale and shift, computed as pyconv's kernel computes them), Dropout is the
identity. The graph passes onnx.checker.check_model (with full shape inference) before it
is written, atomically.

Layout. ONNX's Conv and pooling operators take NCHW; pyconv is NHWC. Every value of the graph
stays in the layout in which it was made, and another layout is made only when a node asks
for it (one Transpose, remembered on the value): after a Conv2D the values stay NCHW through
activations, pooling, padding, merges, batch normalization and further convolutions, and go
back to NHWC once, where a layer needs the channels last (Flatten, Dense, Reshape) or at a
model output. A stack of conv layers thus has one Transpose before it and one after it, never
a cancelling pair between two layers. A layout is a permutation: the stored tensor is
`numpy.transpose(canonical, perm)`, the canonical one being pyconv's.

Extending: one converter per layer class (`@_converts(Class)`) and one per pyconv.ops
function (`@_op(name)`). A converter reads its layer's configuration and weights and adds
nodes; what it cannot express it raises as `_Unsupported`, and the export then lists every
unsupported layer of the model in one ValueError. Nested functional and Sequential models are
exported node by node; a Lambda is exported when its function, called on symbolic tensors,
is made of pyconv.ops calls (it is traced once, like an OpLayer graph).
"""
import inspect

import numpy as np

from . import _geometry, _graph, _kernels, _validate, utils
from .layers.base import flatten, pack_like
from .layers import (Activation, Add, Average, AveragePooling2D, BatchNormalization, Concatenate, Conv2D,
                     Conv2DTranspose, Cropping2D, Dense, Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, InputLayer,
                     Lambda, Maximum, MaxPooling2D, Minimum, Multiply, OpLayer, ReLU, Reshape, Rescaling, Softmax,
                     ELU, LeakyReLU, PReLU, DepthwiseConv2D, SeparableConv2D,
                     Subtract, UpSampling2D, ZeroPadding2D, CenterCrop, Normalization, RandomContrast, RandomCrop,
                     RandomFlip, RandomRotation, RandomTranslation, RandomZoom, Resizing)
from .layers.core import _fill
from .layers.preprocessing import aspect_crop_box

__all__ = ["export_onnx", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17   # the oldest opset with every operator used here in its current form
BATCH = "batch"      # the symbolic name of the batch dimension
NCHW = (0, 3, 1, 2)  # the layout of ONNX's Conv, MaxPool, AveragePool, Resize on images
_INT64_MAX = np.iinfo(np.int64).max


def _onnx():
    """The onnx package, imported only when a model is exported (an optional extra)."""
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError:
        raise ImportError('Exporting to ONNX needs the `onnx` package (the [onnx] extra): '
                          'pip install "pyconv[onnx]"') from None
    return onnx


class _Unsupported(Exception):
    """A layer (or op, activation, option) with no ONNX equivalent here: the message says why."""


class _Value:
    """One tensor of the ONNX graph: its rank and element type, and its ONNX name in each
    layout made so far (`home`: the layout it was made in)."""

    __slots__ = ("rank", "home", "names", "elem")

    def __init__(self, name, rank, home=None, elem=None):
        self.rank = rank
        self.home = tuple(range(rank)) if home is None else tuple(home)
        self.names = {self.home: name}
        self.elem = elem   # None: float32; else an onnx.TensorProto element type

    @property
    def name(self):
        """The name in the layout it was made in."""
        return self.names[self.home]


class _Builder:
    """The nodes, initializers and names of the graph being made."""

    def __init__(self, onnx, opset):
        self.onnx, self.helper, self.opset = onnx, onnx.helper, opset
        self.nodes, self.inits = [], []
        self.used = set()
        self.cache = {}
        self.problems = []
        self.path = ""   # "outer_model/" while a nested model's nodes are added

    def fresh(self, hint):
        """A name not used yet, `hint` or `hint_1`, `hint_2`, ..."""
        name, k = hint, 1
        while name in self.used:
            name, k = f"{hint}_{k}", k + 1
        self.used.add(name)
        return name

    def op(self, op_type, inputs, hint, **attrs):
        """One node with one output; returns the output's name."""
        out = self.fresh(hint)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def const(self, array, hint, dtype=np.float32):
        name = self.fresh(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype), name))
        return name

    def ints(self, values, hint):
        """An int64 1-D constant (shapes, axes, pads, starts, ends)."""
        return self.const(np.asarray(values, np.int64).reshape(-1), hint, np.int64)

    def weight(self, array, hint, transform=None, key=""):
        """A layer's weight as an initializer, made once per export even for a layer used at
        several nodes (`transform`: e.g. HWIO -> OIHW)."""
        k = ("weight", id(array), key)
        if k not in self.cache:
            a = np.asarray(array, np.float32)
            self.cache[k] = self.const(a if transform is None else transform(a), hint)
        return self.cache[k]

    def layout(self, v, perm, raw=False):
        """The name of `v` in layout `perm` (a Transpose made once, then remembered). A value
        that is not float32 (from cast or argmax) is converted first, as pyconv converts every
        input of a layer or op, unless `raw`."""
        perm = tuple(perm)
        name = v.names.get(perm)
        if name is None:
            p = [v.home.index(a) for a in perm]
            name = self.op("Transpose", [v.name], f"{v.name}/{'nchw' if perm == NCHW else 'transposed'}", perm=p)
            v.names[perm] = name
        if v.elem is not None and not raw:
            key = ("float", name)
            if key not in self.cache:
                self.cache[key] = self.op("Cast", [name], f"{name}/float", to=self.onnx.TensorProto.FLOAT)
            name = self.cache[key]
        return name

    def canonical(self, v, raw=False):
        return self.layout(v, range(v.rank), raw)

    def nchw(self, v):
        return self.layout(v, NCHW)


def _common(b, vs):
    """The names of values of one rank in one layout: the layout most of them already have
    (ties: the first value's), so that a merge of NCHW values stays NCHW."""
    homes = [v.home for v in vs]
    best = max(dict.fromkeys(homes), key=lambda p: sum(p in v.names for v in vs))
    return [b.layout(v, best) for v in vs], best


def _operands(b, items, hint):
    """Names for a mix of values and constants (numbers, lists: float32), in one layout:
    a shared one when the values have one rank and the constants are scalars (broadcasting is
    then the same in any layout), else the canonical one. Returns (names, layout or None)."""
    vals = [a for a in items if isinstance(a, _Value)]
    consts = [np.asarray(a, np.float32) for a in items if not isinstance(a, _Value)]
    if vals and len({v.rank for v in vals}) == 1 and all(c.ndim == 0 for c in consts):
        names, layout = _common(b, vals)
    else:
        names, layout = [b.canonical(v) for v in vals], None
    it = iter(names)
    return [next(it) if isinstance(a, _Value) else b.const(np.asarray(a, np.float32), f"{hint}/const")
            for a in items], layout


def _fold(b, op_type, items, hint, rank):
    """op(...op(op(x0, x1), x2)..., xn): pyconv's (and Keras') order of a merge, so the
    float32 roundings are the same."""
    names, layout = _operands(b, items, hint)
    y = names[0]
    for n in names[1:]:
        y = b.op(op_type, [y, n], hint)
    return _Value(y, rank, layout if layout is not None and len(layout) == rank else None)


def _unary(b, op_type, v, hint, **attrs):
    """An elementwise op: the result stays in the layout of its input."""
    return _Value(b.op(op_type, [b.layout(v, v.home)], hint, **attrs), v.rank, v.home)


def _layout_const(b, array, v, hint):
    """A constant that broadcasts against `v` in pyconv's layout (a scalar, or of `v`'s rank),
    stored to broadcast the same way against `v` in its own layout."""
    a = np.asarray(array, np.float32)
    return b.const(a if a.ndim == 0 else a.transpose(v.home), hint)


def _channel_const(b, array, v, hint):
    """A per-channel constant (C,) (or a scalar) that broadcasts over `v`'s channel axis (the
    canonical last one) in `v`'s own layout."""
    a = np.asarray(array, np.float32)
    return _layout_const(b, a if a.ndim == 0 else a.reshape((1,) * (v.rank - 1) + a.shape), v, hint)


def _scale_shift(b, v, scale, shift, hint):
    """x * scale + shift per channel, in `v`'s layout (Rescaling, BatchNormalization)."""
    y = b.op("Mul", [b.layout(v, v.home), _channel_const(b, scale, v, f"{hint}/scale")], f"{hint}/Mul")
    if shift is not None:
        y = b.op("Add", [y, _channel_const(b, shift, v, f"{hint}/shift")], f"{hint}/Add")
    return _Value(y, v.rank, v.home)


# ---- activations ------------------------------------------------------------------------------
def _registrar(table):
    """A decorator `@reg(key, ...)` that enters the function in `table` under each key."""
    def reg(*keys):
        def register(fn):
            for k in keys:
                table[k] = fn
            return fn
        return register
    return reg


# activation name -> converter(b, v, hint, **the activation's config) -> _Value; the config is
# that of an activation bound to arguments (the ReLU, LeakyReLU, ELU, Softmax layers')
_ACTIVATIONS = {}
_act = _registrar(_ACTIVATIONS)
_SIMPLE_ACTS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus", "softsign": "Softsign",
                "exponential": "Exp"}


def _activate(b, v, act, hint):
    """`v` through `act` (a pyconv.activations.Activation: its name and config)."""
    fn = _ACTIVATIONS.get(act.name)
    if fn is None:
        raise _Unsupported(f"activation {act.name!r} has no ONNX converter")
    return fn(b, v, act.name, hint, **act.config)


@_act("linear")
def _act_linear(b, v, name, hint):
    return v


@_act(*_SIMPLE_ACTS)
def _act_simple(b, v, name, hint):
    return _unary(b, _SIMPLE_ACTS[name], v, f"{hint}/{_SIMPLE_ACTS[name]}")


def _scalar(b, value, hint):
    return b.const(np.float32(value), hint)


@_act("relu")
def _act_relu(b, v, name, hint, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's relu as pyconv's kernel computes it (csrc/act_more.c): a = x if x > threshold
    else 0; clip(a, 0, max_value); minus negative_slope * max(threshold - x, 0)."""
    if threshold == 0 and max_value is None:
        if negative_slope == 0:
            return _unary(b, "Relu", v, f"{hint}/Relu")
        return _unary(b, "LeakyRelu", v, f"{hint}/LeakyRelu", alpha=float(negative_slope))
    x = b.layout(v, v.home)
    a = x
    if threshold != 0:
        thr = _scalar(b, threshold, f"{hint}/threshold")
        a = b.op("Where", [b.op("Greater", [x, thr], f"{hint}/Greater"), x, _scalar(b, 0, f"{hint}/zero")],
                 f"{hint}/Where")
    if max_value is not None or threshold == 0:   # threshold 0: the plain clip at 0
        lo = _scalar(b, 0, f"{hint}/min")
        a = b.op("Clip", [a, lo] + ([_scalar(b, max_value, f"{hint}/max")] if max_value is not None else []),
                 f"{hint}/Clip")
    if negative_slope != 0:
        below = _scalar(b, threshold, f"{hint}/threshold") if threshold != 0 else None
        d = b.op("Neg", [x], f"{hint}/Neg") if below is None else b.op("Sub", [below, x], f"{hint}/Sub")
        neg = b.op("Mul", [_scalar(b, negative_slope, f"{hint}/slope"), b.op("Relu", [d], f"{hint}/Relu")],
                   f"{hint}/Mul")
        a = b.op("Sub", [a, neg], f"{hint}/Sub")
    return _Value(a, v.rank, v.home)


@_act("leaky_relu")
def _act_leaky_relu(b, v, name, hint):
    return _act_relu(b, v, name, hint, negative_slope=0.2)   # keras.activations.leaky_relu's default


@_act("relu6")
def _act_relu6(b, v, name, hint):
    return _act_relu(b, v, name, hint, max_value=6.0)


@_act("elu")
def _act_elu(b, v, name, hint, alpha=1.0):
    return _unary(b, "Elu", v, f"{hint}/Elu", alpha=float(alpha))


@_act("selu")
def _act_selu(b, v, name, hint):
    # tf.nn.selu's constants, as pyconv's kernel
    return _unary(b, "Selu", v, f"{hint}/Selu", alpha=1.67326324235437728, gamma=1.05070098735548049)


@_act("gelu")
def _act_gelu(b, v, name, hint):
    """x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (ONNX's Gelu operator is opset 20's)."""
    x = b.layout(v, v.home)
    e = b.op("Erf", [b.op("Mul", [x, _scalar(b, 0.70710678118654752, f"{hint}/sqrt1_2")], f"{hint}/Mul")],
             f"{hint}/Erf")
    phi = b.op("Mul", [b.op("Add", [e, _scalar(b, 1, f"{hint}/one")], f"{hint}/Add"), _scalar(b, 0.5, f"{hint}/half")],
               f"{hint}/Mul")
    return _Value(b.op("Mul", [x, phi], f"{hint}/Mul"), v.rank, v.home)


@_act("silu")
def _act_silu(b, v, name, hint):
    x = b.layout(v, v.home)
    return _Value(b.op("Mul", [x, b.op("Sigmoid", [x], f"{hint}/Sigmoid")], f"{hint}/Mul"), v.rank, v.home)


def _hard_sigmoid(b, x, hint):
    """relu6(x + 3) / 6, Keras 3's formula and pyconv's (a division, not x / 6 + 0.5)."""
    t = b.op("Add", [x, _scalar(b, 3, f"{hint}/three")], f"{hint}/Add")
    t = b.op("Clip", [t, _scalar(b, 0, f"{hint}/min"), _scalar(b, 6, f"{hint}/max")], f"{hint}/Clip")
    return b.op("Div", [t, _scalar(b, 6, f"{hint}/six")], f"{hint}/Div")


@_act("hard_sigmoid")
def _act_hard_sigmoid(b, v, name, hint):
    return _Value(_hard_sigmoid(b, b.layout(v, v.home), hint), v.rank, v.home)


@_act("hard_silu")
def _act_hard_silu(b, v, name, hint):
    x = b.layout(v, v.home)
    return _Value(b.op("Mul", [x, _hard_sigmoid(b, x, hint)], f"{hint}/Mul"), v.rank, v.home)


@_act("softmax", "log_softmax")
def _act_softmax(b, v, name, hint, axis=-1):
    """Softmax over canonical `axis` (an int: ONNX's operator on the stored axis), or over
    several axes together: exp(x - max) / sum(exp(x - max)) over them."""
    if _validate.is_int(axis):
        op = "Softmax" if name == "softmax" else "LogSoftmax"
        return _unary(b, op, v, f"{hint}/{op}", axis=v.home.index(axis % v.rank))
    axes = [v.home.index(a % v.rank) for a in axis]
    x = b.layout(v, v.home)
    z = b.op("Sub", [x, _reduce(b, "ReduceMax", x, axes, True, hint)], f"{hint}/Sub")
    e = b.op("Exp", [z], f"{hint}/Exp")
    total = _reduce(b, "ReduceSum", e, axes, True, hint)
    if name == "softmax":
        return _Value(b.op("Div", [e, total], f"{hint}/Div"), v.rank, v.home)
    return _Value(b.op("Sub", [z, b.op("Log", [total], f"{hint}/Log")], f"{hint}/Sub"), v.rank, v.home)


def _reduce(b, op, x, axes, keepdims, hint):
    """An ONNX reduction of `x` over its `axes` (an attribute before opset 18, except for
    ReduceSum: an input since opset 13; for all of them from 18)."""
    args, attrs = [x], {"keepdims": int(bool(keepdims))}
    if op == "ReduceSum" or b.opset >= 18:
        args.append(b.ints(axes, f"{hint}/axes"))
    else:
        attrs["axes"] = list(axes)
    return b.op(op, args, f"{hint}/{op}", **attrs)


# ---- layers -----------------------------------------------------------------------------------
# type(layer) -> converter(b, layer, node, ins) -> [_Value per output of the node]
_CONVERTERS = {}
_converts = _registrar(_CONVERTERS)


def _rank(node, k=0):
    return len(node.outputs[k].shape)


def _window_attrs(padding, in_shape, window, strides, dilations=(1, 1)):
    """ONNX's kernel_shape, strides, (dilations) and pads of a Conv or pooling window, by
    TensorFlow's 'same' rule (an odd total padding puts the extra row after). Unknown spatial
    sizes: auto_pad SAME_UPPER, the same rule applied by the runtime."""
    attrs = {"kernel_shape": list(window), "strides": list(strides)}
    if padding == "valid":
        return {**attrs, "pads": [0, 0, 0, 0]}
    before, after = [], []
    for axis in (0, 1):
        n = in_shape[1 + axis]
        if n is None:
            return {**attrs, "auto_pad": "SAME_UPPER"}
        top, bottom = _geometry.same_padding(n, _geometry.extent(window[axis], dilations[axis]), strides[axis])
        before.append(top)
        after.append(bottom)
    return {**attrs, "pads": before + after}


def _conv(b, layer, node, v, kernel, bias, group=1, window=True, hwio=None):
    """An ONNX Conv of `v` (made NCHW) with an HWIO `kernel` of `group` groups (Keras' grouped
    and depthwise layout: input channel group g feeds output channels [g K/G, (g+1) K/G), as
    ONNX's), with the layer's strides, padding and dilation unless window=False (a 1x1 conv).
    `hwio`: a reshape of the layer's kernel into HWIO (the depthwise kernel's)."""
    attrs = {"kernel_shape": [1, 1], "pads": [0, 0, 0, 0]}
    if window:
        attrs = dict(_window_attrs(layer.padding, node.inputs[0].shape, layer.kernel_size, layer.strides,
                                   layer.dilation_rate), strides=list(layer.strides),
                     dilations=list(layer.dilation_rate))
    oihw = lambda k: (k if hwio is None else k.reshape(hwio)).transpose(3, 2, 0, 1)   # noqa: E731
    args = [b.nchw(v), b.weight(kernel, f"{layer.name}/kernel", oihw, "OIHW")]
    if bias is not None:
        args.append(b.weight(bias, f"{layer.name}/bias"))
    return _Value(b.op("Conv", args, f"{layer.name}/Conv", group=group, **attrs), 4, NCHW)


@_converts(Conv2D)
def _conv2d(b, layer, node, ins):
    y = _conv(b, layer, node, ins[0], layer.kernel, layer.bias if layer.use_bias else None, layer.groups)
    return [_activate(b, y, layer.activation, layer.name)]


def _depthwise(b, layer, node, v, kernel, bias):
    # (R, S, C, M) is the HWIO kernel (R, S, 1, C*M) of a Conv with C groups: output c*M + m
    r, s_, c, m = kernel.shape
    return _conv(b, layer, node, v, kernel, bias, c, hwio=(r, s_, 1, c * m))


@_converts(DepthwiseConv2D)
def _depthwise_conv2d(b, layer, node, ins):
    y = _depthwise(b, layer, node, ins[0], layer.kernel, layer.bias if layer.use_bias else None)
    return [_activate(b, y, layer.activation, layer.name)]


@_converts(SeparableConv2D)
def _separable_conv2d(b, layer, node, ins):
    z = _depthwise(b, layer, node, ins[0], layer.depthwise_kernel, None)
    y = _conv(b, layer, node, z, layer.pointwise_kernel, layer.bias if layer.use_bias else None, window=False)
    return [_activate(b, y, layer.activation, layer.name)]


@_converts(Conv2DTranspose)
def _conv2d_transpose(b, layer, node, ins):
    # ONNX's ConvTranspose is the input gradient of the Conv with the same (C, filters, R, S)
    # weight, as pyconv's: the kernel (R, S, filters, C) takes Conv2D's HWIO -> OIHW transform.
    # Keras' output starts `top` rows into the full (n - 1) * s + k_eff rows and has `out` rows:
    # ONNX pads cut rows off the full output, its output_padding adds rows after it. Neither
    # depends on n (Keras' sizes are n * s or (n - 1) * s + ...), so an unknown size takes n = 1.
    n, h, w, c = node.inputs[0].shape
    try:
        (_, ho, wo, _), win = layer._geometry((1, h or 1, w or 1, c))
    except ValueError as e:
        raise _Unsupported(str(e)) from None
    begin, end, extra = [win.pad_top, win.pad_left], [], []
    for axis, (size, out) in enumerate(((h or 1, ho), (w or 1, wo))):
        full = (size - 1) * layer.strides[axis] + (layer.kernel_size[axis] - 1) * layer.dilation_rate[axis] + 1
        cut = full - begin[axis] - out
        end.append(max(cut, 0))
        extra.append(max(-cut, 0))
    w_name = b.weight(layer.kernel, f"{layer.name}/kernel", lambda k: k.transpose(3, 2, 0, 1), "OIHW")
    args = [b.nchw(ins[0]), w_name]
    if layer.use_bias:
        args.append(b.weight(layer.bias, f"{layer.name}/bias"))
    y = b.op("ConvTranspose", args, f"{layer.name}/ConvTranspose", kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate), pads=begin + end, output_padding=extra)
    return [_activate(b, _Value(y, 4, NCHW), layer.activation, layer.name)]


@_converts(Dense)
def _dense(b, layer, node, ins):
    y = b.op("MatMul", [b.canonical(ins[0]), b.weight(layer.kernel, f"{layer.name}/kernel")],
             f"{layer.name}/MatMul")
    if layer.use_bias:
        y = b.op("Add", [y, b.weight(layer.bias, f"{layer.name}/bias")], f"{layer.name}/Add")
    return [_activate(b, _Value(y, ins[0].rank), layer.activation, layer.name)]


@_converts(Activation, ReLU, LeakyReLU, ELU, Softmax)
def _activation(b, layer, node, ins):
    if len(ins) != 1:
        raise _Unsupported("a Softmax called with a `mask` has no ONNX converter")
    return [_activate(b, ins[0], layer.activation, layer.name)]   # bound to the layer's arguments


@_converts(PReLU)
def _prelu(b, layer, node, ins):
    # x if x > 0 else alpha * x; alpha (the example's shape, 1 on shared axes) broadcasts over the batch
    v = ins[0]
    alpha = _layout_const(b, np.asarray(layer.alpha)[None], v, f"{layer.name}/alpha")
    return [_Value(b.op("PRelu", [b.layout(v, v.home), alpha], f"{layer.name}/PRelu"), v.rank, v.home)]


@_converts(Dropout, RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast)
def _identity(b, layer, node, ins):
    return [ins[0]]   # inference: the identity, no node


@_converts(MaxPooling2D, AveragePooling2D)
def _pool2d(b, layer, node, ins):
    attrs = _window_attrs(layer.padding, node.inputs[0].shape, layer.pool_size, layer.strides)
    if isinstance(layer, MaxPooling2D):
        y = b.op("MaxPool", [b.nchw(ins[0])], f"{layer.name}/MaxPool", **attrs)
    else:   # pyconv averages over the pixels inside the image only ('same' padding)
        y = b.op("AveragePool", [b.nchw(ins[0])], f"{layer.name}/AveragePool", count_include_pad=0, **attrs)
    return [_Value(y, 4, NCHW)]


@_converts(GlobalAveragePooling2D, GlobalMaxPooling2D)
def _global_pool2d(b, layer, node, ins):
    op = "GlobalAveragePool" if isinstance(layer, GlobalAveragePooling2D) else "GlobalMaxPool"
    y = b.op(op, [b.nchw(ins[0])], f"{layer.name}/{op}")   # (N, C, 1, 1)
    if layer.keepdims:
        return [_Value(y, 4, NCHW)]
    return [_Value(b.op("Flatten", [y], f"{layer.name}/Flatten", axis=1), 2)]


@_converts(Flatten)
def _flatten(b, layer, node, ins):
    # NumPy's row-major reshape of the NHWC value, as pyconv and Keras flatten
    return [_Value(b.op("Flatten", [b.canonical(ins[0])], f"{layer.name}/Flatten", axis=1), 2)]


@_converts(Reshape)
def _reshape(b, layer, node, ins):
    shape = b.ints([0] + list(layer.target_shape), f"{layer.name}/shape")   # 0: keep the batch size
    return [_Value(b.op("Reshape", [b.canonical(ins[0]), shape], f"{layer.name}/Reshape"), _rank(node))]


@_converts(Rescaling)
def _rescaling(b, layer, node, ins):
    shift = None if layer.offset.ndim == 0 and layer.offset == 0 else layer.offset
    return [_scale_shift(b, ins[0], layer.scale, shift, layer.name)]


@_converts(BatchNormalization)
def _batchnorm(b, layer, node, ins):
    # inference: y = x * scale + shift with pyconv's own coefficients (double, rounded once)
    scale, shift, _ = _kernels.bn_coefs(layer.moving_mean, layer.moving_variance, layer.gamma, layer.beta,
                                        layer.epsilon)
    return [_scale_shift(b, ins[0], scale, shift, layer.name)]


@_converts(ZeroPadding2D)
def _zero_padding2d(b, layer, node, ins):
    v = ins[0]
    begin, end = [0] * 4, [0] * 4
    for axis, (lo, hi) in zip((1, 2), layer.padding):
        begin[v.home.index(axis)], end[v.home.index(axis)] = lo, hi
    y = b.op("Pad", [b.layout(v, v.home), b.ints(begin + end, f"{layer.name}/pads")], f"{layer.name}/Pad")
    return [_Value(y, 4, v.home)]


@_converts(Cropping2D)
def _cropping2d(b, layer, node, ins):
    v = ins[0]
    (t, bo), (le, r) = layer.cropping
    axes = [v.home.index(1), v.home.index(2)]
    ends = [-bo if bo else _INT64_MAX, -r if r else _INT64_MAX]   # from the end: any image size
    y = b.op("Slice", [b.layout(v, v.home), b.ints([t, le], f"{layer.name}/starts"),
                       b.ints(ends, f"{layer.name}/ends"), b.ints(axes, f"{layer.name}/axes")],
             f"{layer.name}/Slice")
    return [_Value(y, 4, v.home)]


@_converts(UpSampling2D)
def _upsampling2d(b, layer, node, ins):
    v = ins[0]
    scales = [1.0] * 4
    scales[v.home.index(1)], scales[v.home.index(2)] = map(float, layer.size)
    if layer.interpolation == "bilinear":   # TensorFlow's half-pixel resize to (H * rows, W * cols)
        x = b.nchw(v)
        y = b.op("Resize", [x, "", b.const([1.0, 1.0] + [float(f) for f in layer.size], f"{layer.name}/scales")],
                 f"{layer.name}/Resize", **_RESIZE["bilinear"])
        return [_Value(y, 4, NCHW)]
    # output pixel i reads input floor(i / size): each pixel repeated `size` times
    y = b.op("Resize", [b.layout(v, v.home), "", b.const(scales, f"{layer.name}/scales")], f"{layer.name}/Resize",
             mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return [_Value(y, 4, v.home)]


# TensorFlow's half-pixel tf.image.resize (no antialiasing): bilinear samples (i + 0.5) / scale - 0.5
# (clamped to the image), nearest takes floor((i + 0.5) / scale), which rounding half up of
# (i + 0.5) / scale - 0.5 gives
_RESIZE = {"bilinear": dict(mode="linear", coordinate_transformation_mode="half_pixel"),
           "nearest": dict(mode="nearest", coordinate_transformation_mode="half_pixel",
                           nearest_mode="round_prefer_ceil")}


def _crop_box(b, v, box, hint):
    """The window (top, left, height, width) of each image of `v`, in its layout."""
    top, left, ch, cw = box
    axes = [v.home.index(1), v.home.index(2)]
    y = b.op("Slice", [b.layout(v, v.home), b.ints([top, left], f"{hint}/starts"),
                       b.ints([top + ch, left + cw], f"{hint}/ends"), b.ints(axes, f"{hint}/axes")], f"{hint}/Slice")
    return _Value(y, 4, v.home)


def _resize(b, v, height, width, interpolation, hint):
    """Each image of `v` resized to (height, width) (NCHW, where onnxruntime resizes images)."""
    x = b.nchw(v)
    nc = b.op("Shape", [x], f"{hint}/Shape", start=0, end=2)   # the batch size and channels, as they come
    sizes = b.op("Concat", [nc, b.ints([height, width], f"{hint}/hw")], f"{hint}/sizes", axis=0)
    return _Value(b.op("Resize", [x, "", "", sizes], f"{hint}/Resize", **_RESIZE[interpolation]), 4, NCHW)


def _known_hw(layer, node):
    h, w = node.inputs[0].shape[1:3]
    if h is None or w is None:
        raise _Unsupported(f"its output depends on the image size, unknown here ({node.inputs[0].shape}): give the "
                           f"model's Input a height and width")
    return h, w


def _smart_resize(b, layer, node, v):
    """Keras' smart_resize: the largest centered window with the output's aspect ratio,
    resized (bilinear) to (layer.height, layer.width)."""
    h, w = _known_hw(layer, node)
    box = aspect_crop_box(h, w, layer.height, layer.width)
    return _resize(b, _crop_box(b, v, box, layer.name), layer.height, layer.width, "bilinear", layer.name)


@_converts(Resizing)
def _resizing(b, layer, node, ins):
    v = ins[0]
    if layer.crop_to_aspect_ratio:
        v = _crop_box(b, v, aspect_crop_box(*_known_hw(layer, node), layer.height, layer.width, f32=True), layer.name)
    elif layer.pad_to_aspect_ratio:
        dh, dw = layer._pad_box(*_known_hw(layer, node))
        if dh or dw:
            pads = [0] * 8
            for axis, p in ((1, dh), (2, dw)):
                pads[v.home.index(axis)] = pads[4 + v.home.index(axis)] = p
            v = _Value(b.op("Pad", [b.layout(v, v.home), b.ints(pads, f"{layer.name}/pads"),
                                    b.const(np.float32(layer.fill_value), f"{layer.name}/fill_value")],
                            f"{layer.name}/Pad"), 4, v.home)
    return [_resize(b, v, layer.height, layer.width, layer.interpolation, layer.name)]


@_converts(CenterCrop)
def _center_crop(b, layer, node, ins):
    h, w = _known_hw(layer, node)
    if h >= layer.height and w >= layer.width:
        box = ((h - layer.height) // 2, (w - layer.width) // 2, layer.height, layer.width)
        return [_crop_box(b, ins[0], box, layer.name)]
    return [_smart_resize(b, layer, node, ins[0])]


@_converts(RandomCrop)
def _random_crop(b, layer, node, ins):
    return [_smart_resize(b, layer, node, ins[0])]   # its inference pass (Keras' rule)


@_converts(Normalization)
def _normalization(b, layer, node, ins):
    v = ins[0]
    mean, std = layer._mean_std()   # pyconv's own float32 arrays, in the input's rank
    m, sd = _layout_const(b, mean, v, f"{layer.name}/mean"), _layout_const(b, std, v, f"{layer.name}/std")
    x = b.layout(v, v.home)
    if layer.invert:   # mean + x * std
        y = b.op("Add", [m, b.op("Mul", [x, sd], f"{layer.name}/Mul")], f"{layer.name}/Add")
    else:              # (x - mean) / std
        y = b.op("Div", [b.op("Sub", [x, m], f"{layer.name}/Sub"), sd], f"{layer.name}/Div")
    return [_Value(y, v.rank, v.home)]


def _aligned(b, layer, ins):
    """Keras' merge broadcasting: a lower-rank input gets size-1 axes after its batch axis
    (pyconv/layers/merging.py), which NumPy's right-aligned rule would put first."""
    ndim = max(v.rank for v in ins)
    if all(v.rank == ndim for v in ins):
        return ins
    out = []
    for v in ins:
        if v.rank < ndim:
            axes = b.ints(list(range(1, 1 + ndim - v.rank)), f"{layer.name}/axes")
            v = _Value(b.op("Unsqueeze", [b.canonical(v), axes], f"{layer.name}/Unsqueeze"), ndim)
        out.append(v)
    return out


_MERGES = {Add: "Add", Subtract: "Sub", Multiply: "Mul", Average: "Add", Maximum: "Max", Minimum: "Min"}


@_converts(*_MERGES)
def _merge(b, layer, node, ins):
    if len(ins) == 1:
        return [ins[0]]
    op = _MERGES[type(layer)]
    y = _fold(b, op, _aligned(b, layer, ins), f"{layer.name}/{op}", _rank(node))
    if isinstance(layer, Average):
        n = b.const(np.float32(len(ins)), f"{layer.name}/count")
        y = _Value(b.op("Div", [y.name, n], f"{layer.name}/Div"), y.rank, y.home)
    return [y]


def _concat(b, items, axis, hint, rank):
    """Concat along canonical `axis` of values (and constants) of one rank."""
    names, layout = _operands(b, items, hint)
    layout = layout or tuple(range(rank))
    return _Value(b.op("Concat", names, f"{hint}/Concat", axis=layout.index(axis % rank)), rank, layout)


@_converts(Concatenate)
def _concatenate(b, layer, node, ins):
    if len(ins) == 1:
        return [ins[0]]
    return [_concat(b, ins, layer.axis, layer.name, _rank(node))]


def _subgraph(b, graph, ins, prefix):
    """The nodes of a pyconv Graph (a nested model's, a traced Lambda's) on the values `ins`
    of its inputs; returns the values of its outputs."""
    values = {id(t): v for t, v in zip(graph.inputs, ins)}
    outer = b.path
    b.path = outer + prefix
    try:
        _walk(b, graph, values)
    finally:
        b.path = outer
    return [values[id(t)] for t in graph.outputs]


def _walk(b, graph, values):
    """Convert the nodes of `graph` in order; an unsupported one is recorded (the walk goes on,
    so that the error lists every unsupported layer) and its outputs are placeholders."""
    for node in graph.nodes:
        layer = node.layer
        try:
            outs = _convert(b, node, [values[id(t)] for t in node.inputs])
        except _Unsupported as e:
            problem = f'{b.path}{layer.name} ({type(layer).__name__}): {e}'
            if problem not in b.problems:
                b.problems.append(problem)
            outs = [_Value(b.fresh("unsupported"), len(t.shape)) for t in node.outputs]
        for t, v in zip(node.outputs, outs):
            values[id(t)] = v


def _convert(b, node, ins):
    layer = node.layer
    fn = _CONVERTERS.get(type(layer))
    if fn is not None:
        return fn(b, layer, node, ins)
    if _graph_of(layer) is not None:
        return _subgraph(b, _graph_of(layer), ins, f"{layer.name}/")
    if getattr(layer, "_graph", "absent") is None or layer._user_call:
        raise _Unsupported("its computation is Python code (a `call` method); only layers with an ONNX "
                           "converter and functional or Sequential models are exported")
    raise _Unsupported("no ONNX converter for this layer class")


def _graph_of(layer):
    """The graph of a functional or Sequential model (not of a subclass with its own `call`)."""
    g = getattr(layer, "_graph", None)
    return g if isinstance(g, _graph.Graph) and not layer._user_call else None


@_converts(Lambda)
def _lambda(b, layer, node, ins):
    return _subgraph(b, _trace(layer, node), ins, f"{layer.name}/")


def _trace(layer, node):
    """A Lambda's function called on symbolic tensors: the graph of pyconv.ops it makes. The
    automatic names the trace takes ('input_layer_3', 'add_2') are given back."""
    saved = dict(utils._uids)
    try:
        tensors = [InputLayer(batch_shape=t.shape).output_tensor for t in node.inputs]
        out = layer.function(pack_like(node.call_inputs, tensors), **layer.arguments)
        outs = flatten(out)
        if len(outs) != len(node.outputs) or not all(isinstance(t, _graph.KerasTensor) for t in outs):
            raise _Unsupported("its function, called on symbolic tensors, does not return tensors computed by "
                               "pyconv.ops from its input")
        return _graph.Graph(tensors, outs)
    except _Unsupported:
        raise
    except Exception as e:   # whatever a function of arrays raises on a symbolic tensor
        raise _Unsupported(f"its function is not made of pyconv.ops calls on its input (called on symbolic "
                           f"tensors it raised {type(e).__name__}: {e})") from None
    finally:
        for k in set(utils._uids) | set(saved):
            if k in saved:
                utils._uids[k] = saved[k]
            else:
                utils._uids.pop(k, None)


# ---- pyconv.ops (OpLayer nodes of a functional model, and traced Lambdas) ----------------------
# op name -> converter(b, name, hint, rank, **the op's arguments by name) -> _Value
_OPS = {}
_op = _registrar(_OPS)


@_converts(OpLayer)
def _op_layer(b, layer, node, ins):
    from . import ops
    fn = _OPS.get(layer.op)
    if fn is None:
        raise _Unsupported(f"pyconv.ops.{layer.op} has no ONNX converter")

    fill = _fill(ins)   # the op's arguments, with the values where its tensors go
    bound = inspect.signature(getattr(ops, layer.op)).bind(*fill(layer.args), **fill(layer.op_kwargs))
    bound.apply_defaults()
    return [fn(b, layer.op, layer.name, _rank(node), **bound.arguments)]


_BINARY = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "true_divide": "Div",
           "maximum": "Max", "minimum": "Min", "power": "Pow"}
_UNARY = {"negative": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "absolute": "Abs"}


@_op(*_BINARY)
def _op_binary(b, name, hint, rank, x1, x2):
    return _fold(b, _BINARY[name], [x1, x2], f"{hint}/{_BINARY[name]}", rank)


@_op(*_UNARY)
def _op_unary(b, name, hint, rank, x):
    return _unary(b, _UNARY[name], x, f"{hint}/{_UNARY[name]}")


@_op("relu", "sigmoid", "tanh")
def _op_activation(b, name, hint, rank, x):
    return _ACTIVATIONS[name](b, x, name, hint)


@_op("softmax", "log_softmax")
def _op_softmax(b, name, hint, rank, x, axis=-1):
    return _act_softmax(b, x, name, hint, axis=tuple(axis) if isinstance(axis, list) else axis)


@_op("square")
def _op_square(b, name, hint, rank, x):
    return _fold(b, "Mul", [x, x], f"{hint}/Mul", rank)


@_op("clip")
def _op_clip(b, name, hint, rank, x, x_min, x_max):
    low = _fold(b, "Max", [x, x_min], f"{hint}/Max", rank)   # NumPy: minimum(maximum(x, lo), hi)
    return _fold(b, "Min", [low, x_max], f"{hint}/Min", rank)


def _const_rank(a):
    return a.rank if isinstance(a, _Value) else np.ndim(a)


@_op("matmul", "dot")
def _op_matmul(b, name, hint, rank, x1, x2):
    r1, r2 = _const_rank(x1), _const_rank(x2)
    if name == "dot" and (r1 == 0 or r2 == 0):
        return _fold(b, "Mul", [x1, x2], f"{hint}/Mul", rank)
    if name == "dot" and r2 > 2:
        raise _Unsupported("pyconv.ops.dot with a second operand of rank > 2 has no ONNX converter (use matmul)")
    names = [b.canonical(a) if isinstance(a, _Value) else b.const(a, f"{hint}/const") for a in (x1, x2)]
    return _Value(b.op("MatMul", names, f"{hint}/MatMul"), rank)


@_op("reshape")
def _op_reshape(b, name, hint, rank, x, newshape):
    shape = b.ints([newshape] if _validate.is_int(newshape) else list(newshape), f"{hint}/shape")
    # allowzero=1: a 0 in the shape means size 0, as in NumPy (not "copy that size")
    return _Value(b.op("Reshape", [b.canonical(x), shape], f"{hint}/Reshape", allowzero=1), rank)


@_op("transpose")
def _op_transpose(b, name, hint, rank, x, axes=None):
    axes = list(range(x.rank))[::-1] if axes is None else [a % x.rank for a in axes]
    if [x.home[i] for i in range(x.rank)] == axes:   # the stored tensor is already the result
        return _Value(b.layout(x, x.home), rank)
    perm = [x.home.index(a) for a in axes]   # one Transpose from the stored layout
    return _Value(b.op("Transpose", [b.layout(x, x.home)], f"{hint}/Transpose", perm=perm), rank)


def _axes_list(axis):
    return [axis] if _validate.is_int(axis) else list(axis)


@_op("expand_dims")
def _op_expand_dims(b, name, hint, rank, x, axis):
    axes = [a % rank for a in _axes_list(axis)]
    return _Value(b.op("Unsqueeze", [b.canonical(x), b.ints(axes, f"{hint}/axes")], f"{hint}/Unsqueeze"), rank)


@_op("squeeze")
def _op_squeeze(b, name, hint, rank, x, axis=None):
    args = [b.canonical(x)]
    if axis is not None:
        args.append(b.ints([a % x.rank for a in _axes_list(axis)], f"{hint}/axes"))
    return _Value(b.op("Squeeze", args, f"{hint}/Squeeze"), rank)


@_op("concatenate")
def _op_concatenate(b, name, hint, rank, xs, axis=0):
    return _concat(b, list(xs), axis, hint, rank)


@_op("stack")
def _op_stack(b, name, hint, rank, x, axis=0):
    axis = axis % rank
    parts = [_Value(b.op("Unsqueeze", [b.canonical(v) if isinstance(v, _Value) else b.const(v, f"{hint}/const"),
                                       b.ints([axis], f"{hint}/axes")], f"{hint}/Unsqueeze"), rank)
             for v in x]
    return _concat(b, parts, axis, hint, rank)


_REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin"}


@_op(*_REDUCE)
def _op_reduce(b, name, hint, rank, x, axis=None, keepdims=False, initial=None):
    if initial is not None:
        raise _Unsupported(f"pyconv.ops.{name} with initial={initial!r} has no ONNX converter")
    axes = list(range(x.rank)) if axis is None else [a % x.rank for a in _axes_list(axis)]
    if not axes:   # NumPy: over no axis, the input itself (ONNX would reduce over all of them)
        return _Value(b.canonical(x), rank)
    return _Value(_reduce(b, _REDUCE[name], b.canonical(x), axes, keepdims, hint), rank)


@_op("argmax", "argmin")
def _op_argmax(b, name, hint, rank, x, axis=None, keepdims=False):
    op = "ArgMax" if name == "argmax" else "ArgMin"
    data, ax = b.canonical(x), axis
    if axis is None:   # NumPy: the index into the flattened array
        data, ax = b.op("Reshape", [data, b.ints([-1], f"{hint}/shape")], f"{hint}/Reshape"), 0
    y = b.op(op, [data], f"{hint}/{op}", axis=ax % max(x.rank, 1), keepdims=int(bool(keepdims) and axis is not None))
    if axis is None and keepdims:
        y = b.op("Reshape", [y, b.ints([1] * x.rank, f"{hint}/shape")], f"{hint}/Reshape")
    return _Value(y, rank, elem=b.onnx.TensorProto.INT64)


_DTYPES = {"float32": None, "float16": "FLOAT16", "float64": "DOUBLE", "int8": "INT8", "int16": "INT16",
           "int32": "INT32", "int64": "INT64", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32",
           "uint64": "UINT64", "bool": "BOOL"}


@_op("cast", "convert_to_tensor", "stop_gradient")
def _op_cast(b, name, hint, rank, x=None, dtype=None, variable=None, sparse=None, ragged=None):
    x = variable if name == "stop_gradient" else x
    if dtype is None or np.dtype(dtype) == np.float32 and x.elem is None:
        return x
    elem = _DTYPES.get(np.dtype(dtype).name, "unknown")
    if elem == "unknown":
        raise _Unsupported(f"pyconv.ops.{name} to dtype {dtype!r} has no ONNX converter")
    elem = None if elem is None else getattr(b.onnx.TensorProto, elem)
    to = b.onnx.TensorProto.FLOAT if elem is None else elem
    return _Value(b.op("Cast", [b.canonical(x, raw=True)], f"{hint}/Cast", to=to), rank, elem=elem)


@_op("zeros_like", "ones_like")
def _op_fill_like(b, name, hint, rank, x, dtype=None):
    if dtype is not None and np.dtype(dtype) != np.float32:
        raise _Unsupported(f"pyconv.ops.{name} with dtype={dtype!r} has no ONNX converter")
    value = b.onnx.numpy_helper.from_array(np.array([name == "ones_like"], np.float32), f"{hint}/value")
    shape = b.op("Shape", [b.canonical(x, raw=True)], f"{hint}/Shape")
    return _Value(b.op("ConstantOfShape", [shape], f"{hint}/ConstantOfShape", value=value), rank)


@_op("where")
def _op_where(b, name, hint, rank, condition, x1=None, x2=None):
    if x1 is None or x2 is None:
        raise _Unsupported("pyconv.ops.where with one argument (the indices of nonzero values) has no ONNX converter")
    if isinstance(condition, _Value):
        cond = b.op("Cast", [b.canonical(condition, raw=True)], f"{hint}/Cast", to=b.onnx.TensorProto.BOOL)
    else:
        cond = b.const(np.asarray(condition) != 0, f"{hint}/condition", np.bool_)
    names = [b.canonical(a) if isinstance(a, _Value) else b.const(a, f"{hint}/const") for a in (x1, x2)]
    return _Value(b.op("Where", [cond] + names, f"{hint}/Where"), rank)


# ---- the model --------------------------------------------------------------------------------
def _dims(shape, name):
    """An input's or output's dims: the batch axis "batch", other unknown sizes named."""
    return [BATCH if d is None and i == 0 else (f"{name}_dim{i}" if d is None else int(d))
            for i, d in enumerate(shape)]


def check_opset(opset_version, onnx):
    newest = onnx.defs.onnx_opset_version()
    if opset_version is None:
        return DEFAULT_OPSET
    if not _validate.is_int(opset_version) or not DEFAULT_OPSET <= opset_version <= newest:
        raise ValueError(f"`opset_version` must be an int from {DEFAULT_OPSET} to {newest} (the installed onnx "
                         f"package's newest). Received: opset_version={opset_version!r}.")
    return int(opset_version)


def to_proto(model, opset_version=None):
    """The ONNX ModelProto of `model` (checked by onnx.checker with full shape inference)."""
    onnx = _onnx()
    opset = check_opset(opset_version, onnx)
    graph = _graph_of(model)
    if graph is None:
        if getattr(model, "_graph", "absent") is None and not model._user_call:
            raise ValueError(f'Model "{model.name}" has no input shape yet: build it (an Input first, '
                             f"`input_shape=` on its first layer, or a call on data) before exporting it.")
        raise ValueError(f'Model "{model.name}" is a subclassed model (its computation is Python code in '
                         f"`call`): ONNX export takes functional and Sequential models.")
    b = _Builder(onnx, opset)
    h, FLOAT = onnx.helper, onnx.TensorProto.FLOAT
    in_names = [b.fresh(n) for n in model.input_names]
    out_names = [b.fresh(n) for n in model.output_names]
    values = {}
    inputs = []
    for t, name in zip(graph.inputs, in_names):
        values.setdefault(id(t), _Value(name, len(t.shape)))
        inputs.append(h.make_tensor_value_info(name, FLOAT, _dims(t.shape, name)))
    _walk(b, graph, values)
    if b.problems:
        raise ValueError(f'Model "{model.name}" cannot be exported to ONNX: {len(b.problems)} layer(s) '
                         f"have no ONNX equivalent:\n  - " + "\n  - ".join(b.problems))
    outputs = []
    for t, name in zip(graph.outputs, out_names):
        v = values[id(t)]
        b.nodes.append(h.make_node("Identity", [b.canonical(v, raw=True)], [name], name=name))
        shape = [BATCH if d is None and i == 0 else d for i, d in enumerate(t.shape)]
        outputs.append(h.make_tensor_value_info(name, FLOAT if v.elem is None else v.elem, shape))
    g = h.make_graph(b.nodes, model.name, inputs, outputs, initializer=b.inits)
    from . import __version__
    opsets = [h.make_opsetid("", opset)]
    proto = h.make_model(g, opset_imports=opsets, producer_name="pyconv", producer_version=__version__,
                         ir_version=h.find_min_ir_version_for(opsets))   # readable by older runtimes
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, filepath, verbose=None, opset_version=None):
    """Write `model` as an ONNX file at `filepath`, atomically (see the module's docstring)."""
    from ._saving import write_file_atomic
    _validate.filepath(filepath)
    proto = to_proto(model, opset_version)
    data = proto.SerializeToString()
    write_file_atomic(filepath, lambda f: f.write(data))
    if verbose is None or verbose:   # Keras 3 prints this line unless verbose=False
        print(f"Saved artifact at '{filepath}'.")
