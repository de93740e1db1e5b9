"""Conv2D: one conv2d kernel call per pass (bias, and relu, in the kernel's epilogue); with
groups > 1 the grouped kernels (csrc/conv2d_grouped.c), or the depthwise ones when groups = C."""
from .. import _geometry, _kernels, _validate, initializers
from .base import _ActivatedLayer, _check_last_axis, _known_channels, _shape_str
from .core import _extras_config
from .pooling import PooledGrad

__all__ = ["Conv2D", "Convolution2D"]


class Conv2D(_ActivatedLayer):
    """2-D convolution over NHWC inputs with an HWIO kernel.

    Args:
        filters: a positive int, the number of output channels K.
        kernel_size: an int or a tuple of 2 ints (R, S).
        strides: an int or a tuple of 2 ints (1).
        padding: 'valid' (no padding) or 'same' (output size ceil(H / stride)).
        dilation_rate: an int or a tuple of 2 ints (1); cannot be > 1 together with strides > 1.
        groups: a positive int dividing `filters` and the input channels (1): group g's
            filters / groups outputs see only its C / groups input channels.
        activation: an activation name or None.
        use_bias: whether to add a bias (True).
        kernel_initializer: initializer of the (R, S, C / groups, K) kernel ('glorot_uniform').
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
        _set_window(self, kernel_size, strides, padding, data_format, dilation_rate)
        self.filters = _validate.positive_int(filters, "filters")
        self.groups = _validate.positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={self.groups}, filters={self.filters}.")
        self._set_kernel_args(activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)
        self._geom = None

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + _spatial_out(self, input_shape) + (self.filters,)

    def _check_built_shape(self, shape):
        _check_last_axis(self, shape, self.kernel.shape[2] * self.groups)

    def build(self, input_shape):
        c = _known_channels(self, input_shape)
        if c % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the number of groups. "
                             f"Received groups={self.groups}, but the input has {c} channels (full input shape "
                             f"is {_shape_str(input_shape)}).")
        self.kernel = self.add_weight(self.kernel_size + (c // self.groups, self.filters), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    _can_fuse_relu = True

    def _geometry(self, shape):
        """The kernels' Window (pyconv._geometry) for an input shape, computed once per shape."""
        g = self._geom
        if g is None or g[0] != shape:
            g = self._geom = (shape, _geometry.conv_window(shape, self.kernel_size, self.strides,
                                                           self.dilation_rate, self.padding))
        return g[1]

    _folds_bn = True   # an inference plan may fold a following BatchNormalization into it

    def _pre(self, x, training, relu=False, weights=None):
        """weights: (kernel, bias) to use instead of the layer's (a folded BatchNormalization)."""
        x = _validate.as_float32(x, "inputs", ndim=4)
        win = self._geometry(x.shape)
        kernel, bias = weights or (self.kernel, self.bias)
        if self.groups > 1:
            return _grouped_fwd(self, x, kernel, bias, relu, win), x
        return _kernels.conv2d_fwd(x, kernel, bias, relu, win), x

    def _pre_bwd(self, x, dz, need_dx):
        win = self._geometry(x.shape)
        if isinstance(dz, PooledGrad):   # the first layer under a max pooling (POOL_DEFER)
            r = None if self.groups > 1 or need_dx else _kernels.conv2d_bwd_filter_pooled(
                x, self.kernel.shape, dz.x, win, dz.dy, dz.win, dz.relu_mask, self.use_bias)
            if r is not None:
                return None, [r[0], r[1]] if self.use_bias else [r[0]]
            dz = dz.array()
        dz = _validate.as_float32(dz, "dy", ndim=4)
        if self.groups > 1:
            return _grouped_bwd(self, x, dz, need_dx, win)
        dk, db = _kernels.conv2d_bwd_filter(x, self.kernel.shape, dz, win, self.use_bias)
        grads = [dk, db] if self.use_bias else [dk]
        if not need_dx:
            return None, grads
        return _kernels.conv2d_bwd_input(x.shape, self.kernel, dz, win), grads

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": self.activation.name,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **_extras_config(self)}


Convolution2D = Conv2D


def _set_window(layer, kernel_size, strides, padding, data_format, dilation_rate):
    """Check and set a convolution layer's kernel_size, strides, padding, dilation_rate."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"`data_format` must be 'channels_last' (pyconv is NHWC). "
                         f"Received: data_format={data_format!r}.")
    layer.kernel_size = _validate.int_pair(kernel_size, "kernel_size", allow_nhwc=False)
    layer.strides = _validate.int_pair(strides, "strides", allow_nhwc=False)
    layer.padding = _validate.one_of(padding, "padding", ("valid", "same"))
    layer.dilation_rate = _validate.int_pair(dilation_rate, "dilation_rate", allow_nhwc=False)
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError(f"`strides > 1` is not supported together with `dilation_rate > 1`. Received: "
                         f"strides={layer.strides} and dilation_rate={layer.dilation_rate}.")


def _window_config(layer):
    """The config keys _set_window reads."""
    return {"kernel_size": list(layer.kernel_size), "strides": list(layer.strides),
            "padding": layer.padding, "dilation_rate": list(layer.dilation_rate)}


def _spatial_out(layer, input_shape):
    """(P, Q) of a convolution layer (Conv2D, DepthwiseConv2D, SeparableConv2D) for an input
    shape, None where unknown; a ValueError when the kernel does not fit a 'valid' input."""
    p = _geometry.out_length(input_shape[1], layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0],
                  layer.padding)
    q = _geometry.out_length(input_shape[2], layer.kernel_size[1], layer.strides[1], layer.dilation_rate[1],
                  layer.padding)
    if (p is not None and p < 1) or (q is not None and q < 1):
        raise ValueError(f'Layer "{layer.name}" cannot take input shape {_shape_str(input_shape)}: a '
                         f"{layer.kernel_size[0]}x{layer.kernel_size[1]} kernel (dilation_rate="
                         f"{layer.dilation_rate}, strides={layer.strides}) with padding='valid' needs "
                         f"inputs of at least {_geometry.extent(layer.kernel_size[0], layer.dilation_rate[0])}x"
                         f"{_geometry.extent(layer.kernel_size[1], layer.dilation_rate[1])} pixels.")
    return p, q


def _grouped_filter(kernel, groups):
    """(kernel, groups argument) for the grouped kernels: with one input channel per group
    (groups = C) the (R, S, 1, K) kernel is the depthwise kernels' (R, S, C, K / C) filter -- the
    same memory -- and groups=0 selects them (csrc/depthwise.c); else csrc/conv2d_grouped.c."""
    R, S, cg, K = kernel.shape
    if cg == 1:
        return kernel.reshape(R, S, groups, K // groups), 0
    return kernel, groups


def _grouped_fwd(layer, x, kernel, bias, relu, win):
    w, g = _grouped_filter(kernel, layer.groups)
    return _kernels.depthwise_fwd(x, w, bias, relu, win, g)


def _grouped_bwd(layer, x, dz, need_dx, win):
    w, g = _grouped_filter(layer.kernel, layer.groups)
    dk, db = _kernels.depthwise_bwd_filter(x, w.shape, dz, win, layer.use_bias, g)
    grads = [dk.reshape(layer.kernel.shape), db] if layer.use_bias else [dk.reshape(layer.kernel.shape)]
    if not need_dx:
        return None, grads
    return _kernels.depthwise_bwd_input(x.shape, w, dz, win, g), grads
