"""Model: a functional graph of layers (Model(inputs, outputs)) or a subclass with `call`,
trained by the Trainer (pyconv/models/trainer.py). A Model is a Layer: it can be called
inside another model, its weights shared, not copied.

    inputs = pyconv.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
    model = pyconv.Model(inputs, outputs)
"""
import sys

import numpy as np

from .. import _graph, _validate, utils
from ..layers import base as _base
from ..layers.base import Layer, _shape_str, _snake, flatten, is_stateful, pack_like, state_updates_of
from ..layers.core import InputLayer
from .trainer import Trainer

__all__ = ["Model"]


class _CallPlan:
    """The plan of a subclassed model: its `call` on the tape (Layer._fwd / _bwd)."""

    def __init__(self, model):
        self.model = model
        self.params = model.trainable_weights
        self.fused_outputs = set()
        self.has_act = False   # activity regularizers inside a `call` are not supported
        self.stateful = is_stateful(model)

    @staticmethod
    def penalty(ctx):
        return 0.0

    def state_updates(self, ctx):
        return state_updates_of(self.model, ctx[0])

    def forward(self, inputs, training):
        m = self.model
        x = inputs[0] if len(inputs) == 1 else inputs
        y, ctx = m._fwd(x, training)
        return flatten(y), (ctx, y)

    def backward(self, ctx, douts, need_dx=None):
        ctx, y = ctx
        dys = [np.zeros_like(o) if d is None else d for o, d in zip(flatten(y), douts)]
        _, grads = self.model._bwd(ctx, pack_like(y, dys), False)
        return None, grads


class Model(Trainer, Layer):
    """A model: `Model(inputs, outputs, name=None)` for a functional graph, or a subclass that
    defines `call(inputs, training=None)` (and optionally `build(input_shape)`).

    Args:
        inputs: a symbolic tensor from `Input`, or a list / dict of them.
        outputs: a symbolic tensor computed from `inputs` by layers, or a list / dict.
        name: the model's name ('functional', 'functional_1', ... by default).

    Example:
        >>> import numpy as np
        >>> import pyconv
        >>> from pyconv import layers
        >>> a, b = pyconv.Input((4,)), pyconv.Input((4,))
        >>> shared = layers.Dense(3)
        >>> model = pyconv.Model([a, b], layers.add([shared(a), shared(b)]))
        >>> model.count_params()
        15
        >>> model.predict([np.ones((2, 4)), np.zeros((2, 4))], verbose=0).shape
        (2, 3)
    """

    _builtin_call = True   # Model.call is the graph's; a subclass's own `call` is the user's

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", args[0] if len(args) > 0 else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        name = kwargs.pop("name", None)
        trainable = kwargs.pop("trainable", True)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}.")
        self._graph = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("A functional Model needs both `inputs` and `outputs`.")
            Layer.__init__(self, name=name or utils._unique_name("functional"), trainable=True, **kwargs)
            self._init_graph(inputs, outputs)
        else:
            Layer.__init__(self, name=name or utils._unique_name(_snake(type(self).__name__)),
                           trainable=True, **kwargs)
        self._init_trainer()
        self._plans = {}
        if not trainable:
            self.trainable = False

    def _init_graph(self, inputs, outputs):
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._graph = _graph.Graph(flatten(inputs), flatten(outputs))
        for l in self._graph.layers:
            self.__setattr__(f"_layer_{id(l)}", l)   # tracked: its weights are the model's
        self.built = True

    @property
    def _functional(self):
        return self._graph is not None

    # ---- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        """The layers: a functional model's InputLayers first, then in order of use (Keras 3)."""
        if self._functional:
            return list(self._graph.layers)
        return [l for l in self._sublayers()]

    def _sublayers(self):
        if self._graph is not None:
            return [l for l in self._graph.layers if not isinstance(l, InputLayer)]
        return Layer._sublayers(self)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `layers`."""
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        if index is not None:
            if not _validate.is_int(index) or not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for l in self.layers:
                if l.name == name:
                    return l
            raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    @property
    def inputs(self):
        if not self._functional:
            return None
        return list(self._graph.inputs)

    @property
    def outputs(self):
        if not self._functional:
            return None
        return list(self._graph.outputs)

    @property
    def input(self):
        if not self._functional:
            raise AttributeError(f'Model "{self.name}" has no symbolic input (it is not a functional model).')
        return self._inputs_struct

    @property
    def output(self):
        if not self._functional:
            raise AttributeError(f'Model "{self.name}" has no symbolic output (it is not a functional model).')
        return self._outputs_struct

    @property
    def input_names(self):
        if self._functional:
            return [t.node.layer.name for t in self._graph.inputs]
        return ["input"]

    @property
    def output_names(self):
        if self._functional:
            return [t.node.layer.name for t in self._graph.outputs]
        n = len(self._output_shapes())
        return ["output"] if n == 1 else [f"output_{i + 1}" for i in range(n)]

    def _n_inputs(self):
        return len(self._graph.inputs) if self._functional else None

    def _output_layer(self, k):
        if self._functional:
            return self._graph.outputs[k].node.layer
        return None

    @property
    def input_shape(self):
        if self._functional:
            s = [t.shape for t in self._graph.inputs]
            return s[0] if len(s) == 1 else s
        return self.__dict__.get("_build_shape")

    @input_shape.setter
    def input_shape(self, value):
        self.__dict__["_build_shape"] = value

    @property
    def output_shape(self):
        if not self.built:
            return None
        s = self._output_shapes()
        return s[0] if len(s) == 1 else s

    @output_shape.setter
    def output_shape(self, value):
        pass

    def _output_shapes(self):
        if self._functional:
            return [t.shape for t in self._graph.outputs]
        s = self.__dict__.get("_out_shapes")
        if s is None:
            raise ValueError(f'Model "{self.name}" has not been called on data yet: its output shape is unknown.')
        return s

    # ---- running ------------------------------------------------------------------------------
    def _plan(self, logit_outputs=(), inputs_need_grad=False):
        key = (logit_outputs, inputs_need_grad, _base._generation[0])
        p = self._plans.get(key)
        if p is None:
            if self._functional:
                p = _graph.Plan(self._graph, self.trainable_weights, logit_outputs, inputs_need_grad)
            else:
                p = _CallPlan(self)
            if len(self._plans) > 8:
                self._plans.clear()
            self._plans[key] = p
        return p

    def _train_plan(self, logit_outputs):
        return self._plan(logit_outputs)

    def _check_inputs(self, xs):
        """Check arrays against the model's inputs (a missing last axis of size 1 is added, as
        Keras allows), building an unbuilt model."""
        if self._functional:
            if len(xs) == 1 and xs[0].shape[1:] == self._single_input_shape():
                return xs   # the usual case, checked in one comparison
            want = [t.shape for t in self._graph.inputs]
            if len(xs) != len(want):
                raise ValueError(f'Model "{self.name}" expects {len(want)} input(s), but it received '
                                 f"{len(xs)} input arrays.")
            out = []
            for i, (x, exp) in enumerate(zip(xs, want)):
                exp, got = tuple(exp[1:]), x.shape[1:]
                if len(got) == len(exp) and all(e is None or e == g for e, g in zip(exp, got)):
                    out.append(x)
                elif exp and exp[-1] == 1 and len(got) == len(exp) - 1 and \
                        all(e is None or e == g for e, g in zip(exp[:-1], got)):
                    out.append(x.reshape(x.shape + (1,)))   # Keras: a single channel axis may be left out
                else:
                    first = self._input_error_name()
                    raise ValueError(f'Input {i} of layer "{first}" is incompatible with the layer: expected '
                                     f"shape={_shape_str((None,) + exp)}, found shape={_shape_str(x.shape)}")
            return out
        if not self.built:
            x = xs[0] if len(xs) == 1 else xs
            self._build_by_call(x)
        return xs

    def _single_input_shape(self):
        """The one input's shape without the batch axis, when the model has one input and
        every axis of it is known (else None): what `_check_inputs` compares against first."""
        g = self._graph
        cached = self.__dict__.get("_single_in")
        if cached is None or cached[0] is not g:
            ins = g.inputs
            shape = tuple(ins[0].shape[1:]) if len(ins) == 1 else None
            cached = (g, None if shape is None or None in shape else shape)
            self.__dict__["_single_in"] = cached
        return cached[1]

    def _input_error_name(self):
        return self.name

    def _build_by_call(self, x):
        """A subclassed model is built by calling it once (Keras 3 does the same)."""
        with self._build_lock:
            if self.built:
                return
            shapes = _with_none(x)
            self.input_shape = shapes
            if type(self).build is not Model.build and type(self).build is not Layer.build:
                self.build(shapes)
            probe = _first_rows(x)
            y = self.forward(probe, False)
            self.__dict__["_out_shapes"] = [(None,) + a.shape[1:] for a in flatten(y)]
            self.__dict__["_out_struct"] = y
            self.built = True
            from ..layers import base
            base._generation[0] += 1

    def build(self, input_shape=None):
        """Build a subclassed model for inputs of `input_shape` (batch axis first)."""
        if self._functional or self.built:
            return
        if input_shape is None:
            raise ValueError(f'Model "{self.name}": `build` needs the input shape.')
        shapes = input_shape
        self._build_by_call(_zeros_like_shape(shapes))

    def _infer(self, xs):
        """Inference on a list of input arrays: the list of outputs."""
        if self._functional:
            return self._plan().predict(xs)
        return flatten(self.forward(xs[0] if len(xs) == 1 else xs, False))

    def _pack_outputs(self, outs):
        if self._functional:
            st = self._outputs_struct
            return pack_like(st, outs) if isinstance(st, (list, tuple, dict)) else outs[0]
        st = self.__dict__.get("_out_struct")
        return outs[0] if st is None or not isinstance(st, (list, tuple, dict)) else pack_like(st, outs)

    # the Layer protocol, for a model called on arrays or inside another model
    def _convert_inputs(self, inputs):
        x = Layer._convert_inputs(self, inputs)
        if self._functional or isinstance(self, _sequential_cls()):
            xs = self._check_inputs(flatten(x))
            return pack_like(self._inputs_struct, xs) if self._functional else xs[0]
        return x

    def _prepare(self, x):
        if not self._functional and not self.built:
            self._build_by_call(x)

    def __call__(self, inputs=None, training=None, **kwargs):
        if not self._functional and not _graph.any_symbolic(inputs) and inputs is not None:
            x = self._convert_inputs(inputs)
            if not self.built:
                self._build_by_call(x)
        return Layer.__call__(self, inputs, training, **kwargs)

    def _symbolic_output_shape(self, shapes):
        if self._functional:
            got = _graph.flatten_shapes(shapes)
            want = [t.shape for t in self._graph.inputs]
            if len(got) != len(want) or any(len(g) != len(w) or any(a is not None and b is not None and a != b
                                                                    for a, b in zip(g[1:], w[1:]))
                                            for g, w in zip(got, want)):
                raise ValueError(f'Model "{self.name}" expects inputs of shape {want}; received {got}.')
            out = [t.shape for t in self._graph.outputs]
            return pack_like(self._outputs_struct, out) if not isinstance(self._outputs_struct, _graph.KerasTensor) \
                else out[0]
        return Layer._symbolic_output_shape(self, shapes)

    def forward(self, x, training=False):
        if not self._functional:
            return Layer.forward(self, x, training)
        plan = self._plan()
        # inference (model(x), a layer's probe) keeps no context: the predict path
        outs = plan.forward(flatten(x), True)[0] if training else plan.predict(flatten(x))
        return pack_like(self._outputs_struct, outs)

    def call(self, inputs, training=None):
        """A functional model's computation on arrays (a subclass defines its own)."""
        return self.forward(inputs, bool(training))

    def _fwd(self, x, training, fuse=0):
        if not self._functional:
            return Layer._fwd(self, x, training, fuse)
        outs, ctx = self._plan().forward(flatten(x), training)
        return pack_like(self._outputs_struct, outs), ctx

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        if not self._functional:
            return Layer._bwd(self, ctx, dy, need_dx, fuse)
        dins, grads = self._plan((), bool(need_dx)).backward(ctx, flatten(dy))
        dx = pack_like(self._inputs_struct, dins) if need_dx else None
        return dx, grads

    # ---- weights ------------------------------------------------------------------------------
    def set_weights(self, weights):
        """Copy a list of arrays (as from get_weights) into the model's weights.

        Raises:
            ValueError: wrong number of arrays or a shape mismatch (naming the layer).
        """
        weights = list(weights)
        n = len(self.weights)
        if len(weights) != n:
            raise ValueError(f'Model "{self.name}" has {n} weight arrays; the list has {len(weights)}.')
        Layer.set_weights(self, weights)

    # ---- summary ------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras 3's summary table (the 76-column layout of a log or notebook): a
        functional model with branches gets the "Connected to" column."""
        from . import summary
        text = summary.summary_text(self)
        if print_fn is not None:
            print_fn(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    # ---- config -------------------------------------------------------------------------------
    def get_config(self):
        if not self._functional:
            return Layer.get_config(self)
        from . import serialization
        return serialization.functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "layers" in config and "input_layers" in config:
            from . import serialization
            return serialization.functional_from_config(config, custom_objects)
        return cls(**config)

    # ---- files ----------------------------------------------------------------------------------
    def save(self, filepath, overwrite=True):
        """Save architecture, weights, compile configuration and optimizer state to one file,
        atomically (format: pyconv/_saving.py)."""
        from . import serialization
        serialization.save_model(self, filepath, overwrite)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Export the model for inference (Keras 3's signature): pyconv writes format="onnx",
        an ONNX file for onnxruntime (pyconv/_onnx_export.py; needs the [onnx] extra).

        Args:
            filepath: the file to write (atomically).
            format: "onnx". Keras 3's other formats ("tf_saved_model", its default, "openvino",
                "litert", "torch") need their own frameworks: a ValueError.
            verbose: print "Saved artifact at ..." (None or True, as Keras 3) or not (False).
            input_signature: None: the model's own input shapes, the batch dimension dynamic.
            opset_version: the ONNX opset, 17 (the default) or newer.

        Raises:
            ValueError: another format; a model with layers that have no ONNX equivalent
                (all of them listed) or that is not built; a bad opset_version.
            ImportError: the onnx package is missing (naming the extra).
        """
        keras_formats = ("tf_saved_model", "onnx", "openvino", "litert", "torch")
        if format not in keras_formats:
            raise ValueError(f"Unrecognized format={format!r}. Supported formats are: ['onnx'] (pyconv exports "
                             f"only ONNX of Keras 3's {list(keras_formats)}).")
        if format != "onnx":
            raise ValueError(f"pyconv cannot export format={format!r}: it needs a Keras 3 backend or framework "
                             f"that pyconv does not have. pyconv exports ONNX: model.export(path, format='onnx').")
        if input_signature is not None:
            raise ValueError("`input_signature` is not supported: pyconv exports the model's own input shapes, "
                             f"with a dynamic batch dimension. Received: input_signature={input_signature!r}.")
        unknown = sorted(set(kwargs) - {"opset_version"})
        if unknown:
            raise TypeError(f"Unexpected keyword argument(s) for format='onnx': {unknown} (only "
                            f"`opset_version` is accepted).")
        from .. import _onnx_export
        _onnx_export.export_onnx(self, filepath, verbose, kwargs.get("opset_version"))

    def save_weights(self, filepath, overwrite=True):
        """Save the weights only, atomically."""
        from . import serialization
        serialization.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath):
        """Load weights saved by save_weights or save into this (same-architecture) model.

        Raises:
            ValueError: the file is damaged or holds weights of another architecture (the
                message names the file and the first mismatch).
        """
        from . import serialization
        serialization.load_weights(self, filepath)


def _sequential_cls():
    from .sequential import Sequential
    return Sequential


def _with_none(x):
    if isinstance(x, (list, tuple)):
        return [_with_none(a) for a in x]
    if isinstance(x, dict):
        return {k: _with_none(v) for k, v in x.items()}
    return (None,) + tuple(x.shape[1:])


def _first_rows(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_first_rows(a) for a in x)
    if isinstance(x, dict):
        return {k: _first_rows(v) for k, v in x.items()}
    return x[:1] if len(x) else np.zeros((1,) + x.shape[1:], np.float32)


def _zeros_like_shape(s):
    if isinstance(s, tuple) and all(d is None or isinstance(d, int) for d in s):
        if any(d is None for d in s[1:]):
            raise ValueError(f"`build` needs a fully known input shape (batch aside). Received: {s}.")
        return np.zeros((1,) + tuple(s[1:]), np.float32)
    if isinstance(s, dict):
        return {k: _zeros_like_shape(v) for k, v in s.items()}
    return [_zeros_like_shape(v) for v in s]
