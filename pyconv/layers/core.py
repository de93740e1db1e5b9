"""Core layers: InputLayer/Input, Dense, Flatten, Reshape, Dropout, Activation, Lambda.
(ReLU, LeakyReLU, ELU, PReLU and Softmax are in layers/activations.py.)"""
import math

import numpy as np

from .. import _kernels, _nn_norm, _validate, constraints, initializers, regularizers, utils
from .base import Layer, _ActivatedLayer, _check_last_axis, _shape_str

__all__ = ["InputLayer", "Input", "Dense", "Flatten", "Reshape", "Dropout", "Activation", "Lambda"]


def _extras_config(layer, weights=("kernel", "bias")):
    """Keras' config keys for a layer's regularizers and constraints (those that are set):
    `<weight>_regularizer` and `<weight>_constraint` for each name in `weights`."""
    cfg = {}
    for k in [w + "_regularizer" for w in weights]:
        if getattr(layer, k) is not None:
            cfg[k] = regularizers.serialize(getattr(layer, k))
    for k in [w + "_constraint" for w in weights]:
        if getattr(layer, k) is not None:
            cfg[k] = constraints.serialize(getattr(layer, k))
    return cfg


def _no_extras(layer, **extras):
    for k, v in extras.items():
        if v is not None:
            raise ValueError(f"{type(layer).__name__}: `{k}` is not supported by pyconv. Received: {k}={v!r}.")


class InputLayer(Layer):
    """Declares the shape of one example; a Sequential model's optional first entry.

    Args:
        shape: the shape of one example, without the batch axis, e.g. (28, 28, 1).
        batch_size: optional fixed batch size (informative only).
        name: the layer's name.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 name=None, input_shape=None, **kwargs):
        if sparse:
            raise ValueError("pyconv has no sparse tensors. Received: sparse=True.")
        if shape is None and input_shape is not None:
            shape = input_shape
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if shape is None:
            raise ValueError("`shape` must be given to InputLayer/Input. Received: shape=None.")
        if _validate.is_int(shape):
            shape = (shape,)
        super().__init__(name=name, dtype=dtype, input_shape=tuple(shape), batch_size=batch_size, **kwargs)
        self._ensure_built(self._declared_input_shape)
        from .. import _graph
        self.output_tensor = _graph.KerasTensor(self._declared_input_shape, name=self.name)
        _graph.Node(self, (), [self.output_tensor])

    def _fwd(self, x, training, fuse=0):
        return x, None

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        return dy, []

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self._declared_input_shape), "dtype": "float32"}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, **kwargs):
    """Keras' `Input(shape)`: a symbolic tensor, the start of a functional model (or of a
    Sequential model's layer list).

    Example:
        >>> from pyconv import layers, models
        >>> x = layers.Input(shape=(4,))
        >>> x.shape
        (None, 4)
        >>> m = models.Sequential([layers.Input(shape=(4,)), layers.Dense(2)])
        >>> m.output_shape
        (None, 2)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                      batch_shape=batch_shape, name=name, **kwargs).output_tensor


class Dense(_ActivatedLayer):
    """`activation(x @ kernel + bias)`: one dense kernel call (bias and relu in its epilogue).

    Args:
        units: a positive int, the output size.
        activation: an activation name ('relu', 'softmax', ...) or None.
        use_bias: whether to add a bias.
        kernel_initializer: initializer of the (in, units) kernel ('glorot_uniform').
        bias_initializer: initializer of the bias ('zeros').

    Input shape:
        (batch, ..., in) — applied on the last axis.

    Output shape:
        (batch, ..., units).

    Raises:
        ValueError/TypeError: a bad argument, or an input whose last axis does not match the
            kernel.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Dense(3)(np.ones((2, 5))).shape
        (2, 3)
    """

    _input_min_ndim = 2

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _no_extras(self, lora_rank=lora_rank)
        self.units = _validate.positive_int(units, "units")
        self._set_kernel_args(activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _check_built_shape(self, shape):
        _check_last_axis(self, shape, self.kernel.shape[0])

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f'Layer "{self.name}": the last axis of the input must be known. '
                             f"Received: input_shape={_shape_str(input_shape)}.")
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    _can_fuse_relu = True

    _folds_bn = True   # an inference plan may fold a following BatchNormalization into it

    def _pre(self, x, training, relu=False, weights=None):
        """weights: (kernel, bias) to use instead of the layer's (a folded BatchNormalization)."""
        x2 = _validate.as_float32(x if x.ndim == 2 else x.reshape(-1, x.shape[-1]), "inputs")
        kernel, bias = weights or (self.kernel, self.bias)
        z = _kernels.dense_fwd(x2, kernel, bias, relu)
        return (z if x.ndim == 2 else z.reshape(x.shape[:-1] + (self.units,))), x2

    _relu_in_bwd = True

    def _pre_bwd(self, x2, dz, need_dx, relu_out=None):
        shape = dz.shape
        dz = _validate.as_float32(dz if dz.ndim == 2 else dz.reshape(-1, self.units), "dy")
        if relu_out is not None and relu_out.ndim != 2:
            relu_out = relu_out.reshape(-1, self.units)
        dx, dk, db = _kernels.dense_bwd(dz, x2, self.kernel, need_dx, self.use_bias, False, relu_out)
        grads = [dk, db] if self.use_bias else [dk]
        if not need_dx:
            return None, grads
        return (dx if len(shape) == 2 else dx.reshape(shape[:-1] + (dx.shape[-1],))), grads

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **_extras_config(self)}


class Flatten(Layer):
    """Flattens each example to one axis: (batch, d1, d2, ...) -> (batch, d1*d2*...).

    A reshape (a view), so it has no kernel.
    """

    _input_min_ndim = 1

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"`data_format` must be 'channels_last' (pyconv is NHWC). Received: data_format={data_format!r}.")

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def _fwd(self, x, training, fuse=0):
        return x.reshape(len(x), -1), x.shape

    def _bwd(self, shape, dy, need_dx, fuse=0):
        return (dy.reshape(shape) if need_dx else None), []


class Reshape(Layer):
    """Reshapes each example to `target_shape` (one entry may be -1)."""

    _input_min_ndim = 1

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        ts = tuple(target_shape) if isinstance(target_shape, (tuple, list)) else None
        if ts is None or not all(_validate.is_int(d) and (d > 0 or d == -1) for d in ts) or ts.count(-1) > 1:
            raise ValueError(f"`target_shape` must be a tuple of positive ints (one may be -1). "
                             f"Received: target_shape={target_shape!r}.")
        self.target_shape = tuple(int(d) for d in ts)

    def compute_output_shape(self, input_shape):
        n = math.prod(input_shape[1:]) if None not in input_shape[1:] else None
        known = math.prod(d for d in self.target_shape if d != -1)
        ts = self.target_shape
        if n is not None:
            if -1 in ts:
                if n % known:
                    raise ValueError(f'Layer "{self.name}" cannot reshape input of shape {_shape_str(input_shape)} '
                                     f"to target_shape={ts}.")
                ts = tuple(n // known if d == -1 else d for d in ts)
            elif known != n:
                raise ValueError(f'Layer "{self.name}": total size of new array must be unchanged, '
                                 f"input_shape = {list(input_shape[1:])}, output_shape = {list(ts)}")
        return (input_shape[0],) + ts

    def _fwd(self, x, training, fuse=0):
        return x.reshape((len(x),) + self.target_shape), x.shape

    def _bwd(self, shape, dy, need_dx, fuse=0):
        return (dy.reshape(shape) if need_dx else None), []

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Dropout(Layer):
    """While training, zeroes each input with probability `rate` and scales the others by
    1 / (1 - rate); the identity otherwise.

    Args:
        rate: float in [0, 1).
        noise_shape: optional shape of the mask, broadcast to the input (None: the input's).
        seed: optional int for a private generator (default: pyconv's generator).

    The mask is drawn with NumPy (pyconv.nn.dropout's `dropout_mask`; there is no dropout kernel).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)):
            raise TypeError(f"`rate` must be a float in [0, 1). Received: rate={rate!r}.")
        if not 0 <= rate < 1:
            raise ValueError(f"`rate` must be a float in [0, 1). Received: rate={rate!r}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._gen = None if seed is None else np.random.default_rng(seed)

    def _fwd(self, x, training, fuse=0):
        if not training or self.rate == 0:
            return x, None
        mask = _nn_norm.dropout_mask(self._gen or utils.get_rng(), x.shape, self.rate, self.noise_shape)
        return x * mask, mask

    def _bwd(self, mask, dy, need_dx, fuse=0):
        if not need_dx:
            return None, []
        return (dy if mask is None else dy * mask), []

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}


class Activation(_ActivatedLayer):
    """Applies an activation by name ('relu', 'elu', 'gelu', 'swish', ..., see
    pyconv.activations.get) or an Activation object.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Activation("relu6")(np.array([[-1.0, 3.0, 9.0]]))
        array([[0., 3., 6.]], dtype=float32)
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._set_activation(activation)

    def _pre_bwd(self, c, dz, need_dx):
        return (dz if need_dx else None), []

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}


class Lambda(Layer):
    """Wraps a function of arrays. Trains when the function is made of pyconv.nn ops: their
    gradients are recorded on a tape (pyconv._tape) while training.

    Args:
        function: the function, called as `function(x, **arguments)`.
        output_shape: optional output shape of one example (default: found by calling the
            function on a batch of one zero example).
        arguments: optional dict of keyword arguments for the function.

    A Lambda's function cannot be saved (it is code): `save` stores its config with a note, and
    `load_model` needs it back through `custom_objects={layer_name: function}`.

    Example:
        >>> import numpy as np
        >>> import pyconv.nn as nn
        >>> from pyconv import layers
        >>> depth_pool = layers.Lambda(lambda X: nn.max_pool(X, ksize=(1, 1, 1, 3),
        ...                                                   strides=(1, 1, 1, 3), padding="valid"))
        >>> depth_pool(np.ones((1, 2, 2, 6))).shape
        (1, 2, 2, 2)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"`function` must be callable. Received: function={function!r}.")
        if mask is not None:
            raise ValueError("`mask` is not supported by pyconv. Received: mask=...")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = None if output_shape is None else tuple(output_shape)

    def compute_output_shape(self, input_shape):
        if self._output_shape is not None:
            return (input_shape[0],) + self._output_shape
        if None in input_shape[1:]:
            raise ValueError(f'Lambda layer "{self.name}": pass `output_shape` for inputs of unknown '
                             f"shape {_shape_str(input_shape)}.")
        probe = np.zeros((1,) + tuple(input_shape[1:]), np.float32)
        out = np.asarray(self.function(probe, **self.arguments))
        return (input_shape[0],) + out.shape[1:]

    _kind = "Lambda layer"

    def call(self, inputs, training=None):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        return {**super().get_config(), "function": getattr(self.function, "__name__", repr(self.function)),
                "output_shape": None if self._output_shape is None else list(self._output_shape),
                "arguments": self.arguments,
                "note": "The function is code and is not saved: load_model needs "
                        "custom_objects={layer name: function}."}

    @classmethod
    def from_config(cls, config):
        raise ValueError(f"Lambda layer {config.get('name')!r}: its function is code, which pyconv never "
                         f"stores nor executes on load. Pass it to load_model as "
                         f"custom_objects={{{config.get('name')!r}: function}}.")


class OpLayer(Layer):
    """A `pyconv.ops` call on symbolic tensors, recorded as one node of a functional model
    (as Keras 3 records an op called on KerasTensors). Made by the ops, not by users.

    Args:
        op: the name of the pyconv.ops function.
        args, kwargs: its arguments, with {"__tensor__": i} where input i goes.
    """

    def __init__(self, op, args, kwargs=None, **base):
        from .. import ops
        if op not in ops.__all__:
            raise ValueError(f"`op` must name a pyconv.ops function. Received: op={op!r}.")
        base.setdefault("name", utils._unique_name(op))
        super().__init__(**base)
        self.op, self.args, self.op_kwargs = op, args, dict(kwargs or {})

    def call(self, inputs, training=None):
        from .. import ops
        fill = _fill(inputs)
        return getattr(ops, self.op)(*fill(self.args), **fill(self.op_kwargs))

    def get_config(self):
        return {**super().get_config(), "op": self.op, "args": self.args, "kwargs": self.op_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config.pop("op"), config.pop("args"), config.pop("kwargs", None), **config)


def _fill(inputs):
    def go(a):
        if isinstance(a, dict) and set(a) == {"__tensor__"}:
            return inputs[a["__tensor__"]]
        if isinstance(a, dict):
            return {k: go(v) for k, v in a.items()}
        if isinstance(a, (list, tuple)):
            return [go(v) for v in a]
        return a
    return go
