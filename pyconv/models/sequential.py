"""Sequential: a linear stack of layers, the functional special case it is in Keras 3.

Once its input shape is known (an `Input` first, `input_shape=` on the first layer, or the
first data it sees) it builds the graph Input -> layer 1 -> ... -> layer n and from then on
runs, trains, summarizes and saves as that functional model.
"""
from .. import _graph, utils
from ..layers.base import Layer
from ..layers.core import InputLayer
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers (keras.Sequential).

    Args:
        layers: optional list of layers (an `Input` first declares the input shape).
        name: the model's name (default 'sequential', 'sequential_1', ...).

    Example:
        >>> import numpy as np
        >>> from pyconv import layers, models
        >>> model = models.Sequential([layers.Flatten(input_shape=(4, 4)), layers.Dense(3, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> model.predict(np.zeros((2, 4, 4)), verbose=0).shape
        (2, 3)
    """

    _builtin_call = True

    def __init__(self, layers=None, trainable=True, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}.")
        Layer.__init__(self, name=name or utils._unique_name("sequential"))
        self._graph = None
        self._init_trainer()
        self._plans = {}
        self._layers = []
        self._input_layer = None
        self._input_decl = None   # (None, ...) once known
        self._own_nodes = []
        if layers is not None:
            for layer in layers:
                self.add(layer)
        if not trainable:
            self.trainable = False

    # ---- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        """The layers, without the InputLayer (as in Keras)."""
        return list(self._layers)

    def _sublayers(self):
        return list(self._layers)

    def add(self, layer, rebuild=True):
        """Append a layer (building the model at once when the input shape is known).

        Raises:
            TypeError: `layer` is not a pyconv layer.
            ValueError: a duplicate name, a misplaced Input, or a layer that cannot take the
                output of the previous one.
        """
        if isinstance(layer, _graph.KerasTensor) and layer._history is not None and \
                isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if not isinstance(layer, Layer):
            raise TypeError(f"Only instances of `pyconv.layers.Layer` can be added to a Sequential model. "
                            f"Received: {layer!r} (of type {type(layer).__name__}).")
        if self._fit_lock.locked():
            raise RuntimeError(f'Model "{self.name}" is training: layers cannot be added during fit.')
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An InputLayer (layers.Input) can only be the first layer of a Sequential "
                                 f"model. Received: {layer.name!r} after {len(self._layers)} layers.")
            self._input_layer = layer
            self._input_decl = layer._declared_input_shape
            return
        if any(l.name == layer.name for l in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name "
                             f"{layer.name!r} is already the name of a layer in this model.")
        if not self._layers and self._input_decl is None:
            decl = layer._declared_input_shape
            if decl is None and isinstance(layer, Model) and layer._functional and len(layer.inputs) == 1:
                decl = layer.inputs[0].shape
            self._input_decl = decl
        self._layers.append(layer)
        self.__dict__.setdefault("_tracked", []).append(layer)
        self._unbuild()
        if self._input_decl is not None:
            try:
                self.build(self._input_decl)
            except Exception:
                self._layers.pop()
                self._tracked.remove(layer)
                self._unbuild()
                if self._layers:
                    self.build(self._input_decl)
                raise

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        if self._fit_lock.locked():
            raise RuntimeError(f'Model "{self.name}" is training: layers cannot be removed during fit.')
        layer = self._layers.pop()
        self._tracked.remove(layer)
        self._unbuild()
        if self._layers and self._input_decl is not None:
            self.build(self._input_decl)
        return layer

    def _unbuild(self):
        for node in self._own_nodes:
            lst = node.layer._inbound_nodes
            for i, n in enumerate(lst):
                if n is node:
                    del lst[i]
                    break
        self._own_nodes = []
        self._graph = None
        self.built = False
        self._plans = {}
        from ..layers import base
        base._generation[0] += 1

    def _unbuild_layers(self):
        """Undo a build that a failed load did: the graph and the layers' weights go."""
        self._unbuild()
        for l in self._layers:
            _reset_layer(l)

    def build(self, input_shape=None):
        """Build every layer for inputs of `input_shape` ((batch, ...), batch may be None)."""
        if input_shape is None:
            input_shape = self._input_decl
        if input_shape is None:
            raise ValueError(f'Model "{self.name}": the input shape is unknown. Pass `input_shape=` to '
                             f"the first layer, start with layers.Input(shape), or call the model on data.")
        shape = (None,) + tuple(input_shape[1:])
        with self._build_lock:
            if self._graph is not None and self._graph.inputs[0].shape == shape:
                return
            self._unbuild()
            if not self._layers:
                self._input_decl = shape
                return
            inp = self._input_layer
            if inp is None or inp._declared_input_shape[1:] != shape[1:]:
                # the InputLayer made for an `input_shape=` is made once, not per add(): Keras
                # names it "input_layer" however many layers are added after it
                inp = self.__dict__.get("_auto_input")
                if inp is None or inp._declared_input_shape[1:] != shape[1:]:
                    inp = InputLayer(batch_shape=shape, name=utils._unique_name("input_layer"))
                    self.__dict__["_auto_input"] = inp
            x = inp.output_tensor
            nodes = []
            try:
                for layer in self._layers:
                    x = layer(x)
                    nodes.append(x.node if isinstance(x, _graph.KerasTensor) else layer._inbound_nodes[-1])
            except Exception:
                self._own_nodes = nodes
                self._unbuild()
                raise
            self._own_nodes = nodes
            self._input_decl = shape
            self._inputs_struct, self._outputs_struct = inp.output_tensor, x
            self._graph = _graph.Graph([inp.output_tensor], _graph.flatten([x]) if not isinstance(
                x, _graph.KerasTensor) else [x])
            self.built = True

    def _ensure_graph(self, shape):
        if self._graph is None:
            if not self._layers:
                raise ValueError(f'Model "{self.name}" has no layers: add some before using it.')
            self.build(self._input_decl or (None,) + tuple(shape[1:]))

    def _check_inputs(self, xs):
        if not self._layers:
            raise ValueError(f'Model "{self.name}" has no layers: add some before using it.')
        if self._graph is None:
            x = xs[0]
            want = self._input_decl
            if want is not None and len(want) == x.ndim + 1 and want[-1] == 1:
                x = x.reshape(x.shape + (1,))
            self._ensure_graph(x.shape)
        return Model._check_inputs(self, xs)

    def _prepare(self, x):
        pass   # _convert_inputs checked the inputs and built the graph

    def _input_error_name(self):
        return self._layers[0].name

    def _symbolic_output_shape(self, shapes):
        if self._graph is None and isinstance(shapes, tuple):
            self._ensure_graph(shapes)
        return Model._symbolic_output_shape(self, shapes)

    @property
    def input_shape(self):
        return self._input_decl if self._graph is None else self._graph.inputs[0].shape

    @input_shape.setter
    def input_shape(self, value):
        pass

    @property
    def output_shape(self):
        return None if self._graph is None else self._graph.outputs[0].shape

    @output_shape.setter
    def output_shape(self, value):
        pass

    @property
    def inputs(self):
        return None if self._graph is None else list(self._graph.inputs)

    @property
    def outputs(self):
        return None if self._graph is None else list(self._graph.outputs)

    def _output_layer(self, k):
        return self._layers[-1]

    # ---- config -------------------------------------------------------------------------------
    def get_config(self):
        from ..layers import serialize
        return {"name": self.name, "trainable": self.trainable,
                "build_input_shape": None if self._input_decl is None else list(self._input_decl),
                "layers": [serialize(l) for l in self._layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import serialization
        model = cls(name=config.get("name"))
        for lc in config.get("layers", []):
            model.add(serialization.deserialize_layer(lc, custom_objects))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built and model._layers:
            model.build(tuple(shape))
        if config.get("trainable") is False:
            model.trainable = False
        return model


def _reset_layer(layer):
    layer.built = False
    layer._params = []
    layer.input_shape = None
    layer.output_shape = None
    for attr in ("kernel", "bias"):
        if attr in vars(layer):
            setattr(layer, attr, None)
    for sub in layer._sublayers():
        _reset_layer(sub)
