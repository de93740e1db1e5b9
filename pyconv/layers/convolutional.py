"""Conv2D: one conv2d kernel call per pass (bias, and relu, in the kernel's epilogue)."""
from .. import _kernels, _validate, constraints, initializers, nn, regularizers
from .base import _ActivatedLayer, _shape_str
from .core import _extras_config

__all__ = ["Conv2D", "Convolution2D"]


def _conv_out(n, k, s, d, padding):
    """Output length along one axis (None stays None)."""
    if n is None:
        return None
    if padding == "same":
        return -(-n // s)
    return (n - ((k - 1) * d + 1)) // s + 1


class Conv2D(_ActivatedLayer):
    """2-D convolution over NHWC inputs with an HWIO kernel.

    Args:
        filters: a positive int, the number of output channels K.
        kernel_size: an int or a tuple of 2 ints (R, S).
        strides: an int or a tuple of 2 ints (1).
        padding: 'valid' (no padding) or 'same' (output size ceil(H / stride)).
        dilation_rate: an int or a tuple of 2 ints (1); cannot be > 1 together with strides > 1.
        activation: an activation name or None.
        use_bias: whether to add a bias (True).
        kernel_initializer: initializer of the (R, S, C, K) kernel ('glorot_uniform').
        bias_initializer: initializer of the bias ('zeros').

    Input shape:
        (batch, H, W, C).

    Output shape:
        (batch, P, Q, K).

    Raises:
        ValueError/TypeError: a bad argument; an input that is not 4-D, whose channels do not
            match the kernel, or too small for the kernel with 'valid' padding.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Conv2D(32, 3, padding="same", activation="relu")(np.ones((2, 8, 8, 1))).shape
        (2, 8, 8, 32)
    """

    _input_ndim = 4

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"`data_format` must be 'channels_last' (pyconv is NHWC). "
                             f"Received: data_format={data_format!r}.")
        if groups != 1:
            raise ValueError(f"`groups` must be 1 (grouped convolution is not supported). Received: groups={groups!r}.")
        self.filters = _validate.positive_int(filters, "filters")
        self.kernel_size = _validate.int_pair(kernel_size, "kernel_size", allow_nhwc=False)
        self.strides = _validate.int_pair(strides, "strides", allow_nhwc=False)
        self.padding = _validate.one_of(padding, "padding", ("valid", "same"))
        self.dilation_rate = _validate.int_pair(dilation_rate, "dilation_rate", allow_nhwc=False)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` is not supported together with `dilation_rate > 1`. Received: "
                             f"strides={self.strides} and dilation_rate={self.dilation_rate}.")
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None
        self._geom = None

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        p = _conv_out(h, self.kernel_size[0], self.strides[0], self.dilation_rate[0], self.padding)
        q = _conv_out(w, self.kernel_size[1], self.strides[1], self.dilation_rate[1], self.padding)
        if (p is not None and p < 1) or (q is not None and q < 1):
            raise ValueError(f'Layer "{self.name}" cannot take input shape {_shape_str(input_shape)}: a '
                             f"{self.kernel_size[0]}x{self.kernel_size[1]} kernel (dilation_rate="
                             f"{self.dilation_rate}, strides={self.strides}) with padding='valid' needs "
                             f"inputs of at least {(self.kernel_size[0] - 1) * self.dilation_rate[0] + 1}x"
                             f"{(self.kernel_size[1] - 1) * self.dilation_rate[1] + 1} pixels.")
        return (n, p, q, self.filters)

    def _check_built_shape(self, shape):
        c = self.kernel.shape[2]
        if shape[-1] != c:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f"axis -1 of input shape to have value {c}, but received input with shape "
                             f"{_shape_str(shape)}")

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ValueError(f'Layer "{self.name}": the channel axis of the input must be known. '
                             f"Received: input_shape={_shape_str(input_shape)}.")
        self.kernel = self.add_weight(self.kernel_size + (c, self.filters), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    _can_fuse_relu = True

    def _geometry(self, shape):
        """(shape, P, Q, pad_top, pad_left) for an input shape, computed once per shape."""
        g = self._geom
        if g is None or g[0] != shape:
            P, Q, top, left = nn.conv_geometry(shape, self.kernel_size, self.strides,
                                               self.dilation_rate, self.padding)
            g = self._geom = (shape, P, Q, top, left)
        return g

    _folds_bn = True   # an inference plan may fold a following BatchNormalization into it

    def _pre(self, x, training, relu=False, weights=None):
        """weights: (kernel, bias) to use instead of the layer's (a folded BatchNormalization)."""
        x = _validate.as_float32(x, "inputs", ndim=4)
        _, P, Q, top, left = self._geometry(x.shape)
        kernel, bias = weights or (self.kernel, self.bias)
        return _kernels.conv2d_fwd(x, kernel, bias, relu, P, Q, self.strides,
                                   self.dilation_rate, top, left), x

    def _pre_bwd(self, x, dz, need_dx):
        dz = _validate.as_float32(dz, "dy", ndim=4)
        _, _, _, top, left = self._geometry(x.shape)
        dk, db = _kernels.conv2d_bwd_filter(x, self.kernel.shape, dz, self.strides,
                                            self.dilation_rate, top, left, self.use_bias)
        grads = [dk, db] if self.use_bias else [dk]
        if not need_dx:
            return None, grads
        return _kernels.conv2d_bwd_input(x.shape, self.kernel, dz, self.strides,
                                         self.dilation_rate, top, left), grads

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "dilation_rate": list(self.dilation_rate), "activation": self.activation.name,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **_extras_config(self)}


Convolution2D = Conv2D
