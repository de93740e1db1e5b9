"""The Layer base class: configuration, weights, build-from-first-shape, forward/backward.

A layer is checked configuration in `__init__`, parameters created in `build(input_shape)`,
and one kernel call from pyconv.nn per pass:

    forward(x, training)   -> y       (when training, keeps what backward needs)
    backward(dy, need_dx)  -> dx      (and stores the parameter gradients in `self.grads`,
                                        aligned with `self.trainable_weights`)

Shapes include the batch dimension as None, like Keras: (None, 28, 28, 1).
Inference (`training=False`) stores nothing on the layer, so one model can predict from
several threads at once.
"""
import re

import numpy as np

from .. import _validate, activations, initializers, utils

__all__ = ["Layer"]


def _snake(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Layer:
    """Base class of every layer.

    Args:
        name: the layer's name (default: Keras' automatic name, e.g. 'dense_1').
        trainable: whether `fit` updates its weights.
        input_shape: the shape of one example (no batch axis), for a model's first layer.
        batch_input_shape, input_dim, dtype: Keras' older spellings (dtype must be float32).
    """

    _input_min_ndim = None  # checked by `_check_input_shape`
    _input_ndim = None

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None,
                 batch_input_shape=None, input_dim=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if dtype not in (None, "float32", np.float32) and str(dtype) != "float32":
            raise ValueError(f"pyconv layers compute in float32. Received: dtype={dtype!r}.")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}.")
        self.name = name or utils._unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self._params = []  # [(weight name, array, trainable)]
        self.grads = []
        shape = None
        if batch_input_shape is not None:
            shape = tuple(batch_input_shape)
        elif input_shape is not None:
            if _validate.is_int(input_shape):
                input_shape = (input_shape,)
            shape = (batch_size,) + tuple(input_shape)
        elif input_dim is not None:
            shape = (batch_size, input_dim)
        if shape is not None:
            if not all(d is None or (_validate.is_int(d) and d > 0) for d in shape):
                raise ValueError(f"`input_shape` must be a tuple of positive ints. Received: "
                                 f"input_shape={shape[1:]!r}.")
            shape = tuple(None if d is None else int(d) for d in shape)
        self._declared_input_shape = shape  # (batch, ...) or None

    # ---- weights -----------------------------------------------------------------------------
    def add_weight(self, name, shape, initializer="zeros", trainable=True):
        arr = np.ascontiguousarray(initializers.get(initializer)(tuple(shape)), dtype=np.float32)
        self._params.append((name, arr, trainable))
        return arr

    @property
    def weights(self):
        """The layer's weight arrays (live: modifying them changes the layer)."""
        return [a for _, a, _ in self._params]

    @property
    def trainable_weights(self):
        return [a for _, a, t in self._params if t and self.trainable]

    @property
    def non_trainable_weights(self):
        return [a for _, a, t in self._params if not (t and self.trainable)]

    def get_weights(self):
        """Copies of the weights, in Keras' order (kernel, bias)."""
        return [a.copy() for a in self.weights]

    def set_weights(self, weights):
        """Copy `weights` (a list of arrays of the right shapes) into the layer's weights.

        Raises:
            ValueError: the number or the shapes of the arrays do not match.
        """
        weights = list(weights)
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(f'Layer "{self.name}" expects {len(mine)} weights, but the weight list '
                             f"has {len(weights)} elements.")
        for (wname, a, _), w in zip(self._params, weights):
            w = np.asarray(w)
            if w.shape != a.shape:
                raise ValueError(f'Layer "{self.name}" weight "{wname}" has shape {a.shape}; received '
                                 f"an array of shape {w.shape}.")
        for a, w in zip(mine, weights):
            np.copyto(a, np.asarray(w, dtype=np.float32))

    def count_params(self):
        return int(sum(a.size for a in self.weights))

    # ---- shapes and building ---------------------------------------------------------------------
    def _incompatible(self, expected, shape):
        return ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: {expected}. '
                          f"Full shape received: {_shape_str(shape)}")

    def _check_input_shape(self, shape):
        if self._input_ndim is not None and len(shape) != self._input_ndim:
            raise self._incompatible(f"expected ndim={self._input_ndim}, found ndim={len(shape)}", shape)
        if self._input_min_ndim is not None and len(shape) < self._input_min_ndim:
            raise self._incompatible(f"expected min_ndim={self._input_min_ndim}, found ndim={len(shape)}", shape)
        if self.built and self.input_shape is not None:
            self._check_built_shape(shape)

    def _check_built_shape(self, shape):
        """For a built layer: the axes its weights fix (overridden by Dense, Conv2D)."""

    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch axis first, may be None)."""
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _ensure_built(self, input_shape):
        """Check `input_shape`, build on first use, and return the output shape."""
        input_shape = (None,) + tuple(input_shape[1:])
        self._check_input_shape(input_shape)
        out = self.compute_output_shape(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
            self.input_shape = input_shape
            self.output_shape = tuple(out)
        return tuple(out)

    def __call__(self, inputs, training=False):
        """Apply the layer to a NumPy array (building it from the array's shape on first use)."""
        x = _validate.as_float32(inputs, "inputs")
        self._ensure_built(x.shape)
        return self.forward(x, training=training)

    # ---- passes --------------------------------------------------------------------------------
    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy, need_dx=True):
        raise NotImplementedError

    # ---- config ----------------------------------------------------------------------------------
    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self._declared_input_shape is not None:
            cfg["batch_input_shape"] = list(self._declared_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class _ActivatedLayer(Layer):
    """A layer whose kernel is followed by an activation's kernel (Dense, Conv2D, Activation).

    `forward_pre` gives the pre-activation values ("logits"); a model whose loss takes them
    directly (softmax + cross-entropy) calls `backward(dz, from_logits=True)` with the gradient
    with respect to them, skipping the activation's backward.
    """

    _can_fuse_relu = False  # Conv2D and Dense: their kernels apply relu in the GEMM epilogue
    _relu_folded = False    # set by Sequential: the next layer's backward applies relu's mask

    def _set_activation(self, activation):
        self.activation = activations.get(activation)
        self._linear = self.activation.name == "linear"
        self._fused_relu = self._can_fuse_relu and self.activation.name == "relu"

    def forward(self, x, training=False):
        if self._fused_relu:   # one kernel call: x -> relu(x . W + b)
            y = self.forward_pre(x, training, relu=True)
            if training:
                self._y = y
            return y
        z = self.forward_pre(x, training)
        if self._linear:
            return z
        y = self.activation.forward(z)
        if training:
            self._y = y
        return y

    @classmethod
    def from_config(cls, config):
        """The layer from get_config(): initializers given as their serialized dicts too."""
        config = dict(config)
        for k in ("kernel_initializer", "bias_initializer"):
            if isinstance(config.get(k), dict):
                config[k] = initializers.deserialize(config[k])
        return cls(**config)

    def _dz(self, dy, from_logits):
        if from_logits or self._linear or self._relu_folded:
            return dy
        return self.activation.backward(dy, self._y)
