"""DepthwiseConv2D and SeparableConv2D: the depthwise kernels of csrc/depthwise.c (one call per
pass, bias and relu in its epilogue), and for SeparableConv2D the pointwise 1x1 convolution on
conv2d's implicit GEMM (csrc/conv2d.c, the path of Conv2D with a 1x1 kernel)."""
from .. import _geometry, _kernels, _validate, constraints, initializers, regularizers
from .base import _ActivatedLayer, _check_last_axis, _known_channels
from .convolutional import Conv2D, _set_window, _spatial_out, _window_config
from .core import _extras_config

__all__ = ["DepthwiseConv2D", "SeparableConv2D", "SeparableConvolution2D"]


class _Depthwise(_ActivatedLayer):
    """What DepthwiseConv2D and SeparableConv2D share: the window, the depthwise kernel (R, S, C,
    depth_multiplier) and its two passes, the checks of the input's channels."""

    _input_ndim = 4
    _can_fuse_relu = True
    _geometry = Conv2D._geometry   # the kernels' Window, once per input shape

    def _init_depthwise(self, kernel_size, strides, padding, data_format, dilation_rate,
                        depth_multiplier, activation, use_bias, depthwise_initializer,
                        bias_initializer, depthwise_regularizer, bias_regularizer,
                        depthwise_constraint, bias_constraint):
        _set_window(self, kernel_size, strides, padding, data_format, dilation_rate)
        self.depth_multiplier = _validate.positive_int(depth_multiplier, "depth_multiplier")
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None
        self._geom = None

    def _channels(self, input_shape):
        return _known_channels(self, input_shape)

    def _add_depthwise(self, c, name):
        return self.add_weight(self.kernel_size + (c, self.depth_multiplier), self.depthwise_initializer,
                               name=name, regularizer=self.depthwise_regularizer,
                               constraint=self.depthwise_constraint)

    def _add_bias(self, n):
        if self.use_bias:
            self.bias = self.add_weight((n,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def _check_built_shape(self, shape):
        _check_last_axis(self, shape, self._dw_kernel().shape[2])

    def _dw_fwd(self, x, bias, relu):
        """(y, x) -- the depthwise convolution of the float32 input, its geometry from the shape."""
        x = _validate.as_float32(x, "inputs", ndim=4)
        return _kernels.depthwise_fwd(x, self._dw_kernel(), bias, relu, self._geometry(x.shape)), x

    def _dw_bwd(self, x, dz, need_dx, need_db):
        """(dx or None, dkernel, dbias or None) of the depthwise convolution."""
        win = self._geometry(x.shape)
        k = self._dw_kernel()
        dk, db = _kernels.depthwise_bwd_filter(x, k.shape, dz, win, need_db)
        dx = _kernels.depthwise_bwd_input(x.shape, k, dz, win) if need_dx else None
        return dx, dk, db

    def _depthwise_config(self):
        return {**_window_config(self), "data_format": "channels_last",
                "depth_multiplier": self.depth_multiplier, "activation": self.activation.name,
                "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution: each input channel convolved with its own `depth_multiplier`
    filters, output channel c * depth_multiplier + m from input channel c (as Keras 3).

    Args:
        kernel_size: an int or a tuple of 2 ints (R, S).
        strides: an int or a tuple of 2 ints (1).
        padding: 'valid' (no padding) or 'same' (output size ceil(H / stride)).
        depth_multiplier: a positive int M, filters per input channel (1).
        data_format: None or 'channels_last' (pyconv is NHWC).
        dilation_rate: an int or a tuple of 2 ints (1); cannot be > 1 together with strides > 1.
        activation: an activation name or None.
        use_bias: whether to add a bias of C * M values (True).
        depthwise_initializer: initializer of the (R, S, C, M) kernel ('glorot_uniform').
        bias_initializer: initializer of the bias ('zeros').
        depthwise_regularizer, bias_regularizer, activity_regularizer, depthwise_constraint,
            bias_constraint: as Keras 3's.

    Input shape:
        (batch, H, W, C).

    Output shape:
        (batch, P, Q, C * depth_multiplier).

    Raises:
        ValueError/TypeError: a bad argument; an input that is not 4-D, whose channels do not
            match the kernel, or too small for the kernel with 'valid' padding.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(np.ones((2, 8, 8, 3))).shape
        (2, 8, 8, 6)
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._init_depthwise(kernel_size, strides, padding, data_format, dilation_rate,
                             depth_multiplier, activation, use_bias, depthwise_initializer,
                             bias_initializer, depthwise_regularizer, bias_regularizer,
                             depthwise_constraint, bias_constraint)
        self.kernel = None

    def _dw_kernel(self):
        return self.kernel

    def compute_output_shape(self, input_shape):
        c = input_shape[-1]
        return (input_shape[0],) + _spatial_out(self, input_shape) + \
            (None if c is None else c * self.depth_multiplier,)

    def build(self, input_shape):
        c = self._channels(input_shape)
        self.kernel = self._add_depthwise(c, "kernel")
        self._add_bias(c * self.depth_multiplier)
        self.built = True

    def _pre(self, x, training, relu=False):
        return self._dw_fwd(x, self.bias, relu)

    def _pre_bwd(self, x, dz, need_dx):
        dx, dk, db = self._dw_bwd(x, _validate.as_float32(dz, "dy", ndim=4), need_dx, self.use_bias)
        return dx, ([dk, db] if self.use_bias else [dk])

    def get_config(self):
        return {**super().get_config(), **self._depthwise_config(),
                **_extras_config(self, ("depthwise", "bias"))}


class SeparableConv2D(_Depthwise):
    """Depthwise separable 2-D convolution: a depthwise convolution (its `depth_multiplier`
    filters per input channel, no bias), then a pointwise 1x1 convolution to `filters` channels,
    plus the bias and the activation (as Keras 3). The 1x1 step is one GEMM over all pixels.

    Args:
        filters: a positive int, the number of output channels K.
        kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier: as
            DepthwiseConv2D's (they apply to the depthwise step).
        activation: an activation name or None.
        use_bias: whether to add a bias of K values (True).
        depthwise_initializer, pointwise_initializer: initializers of the (R, S, C, M) and
            (1, 1, C * M, K) kernels ('glorot_uniform').
        bias_initializer: initializer of the bias ('zeros').
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
            depthwise_constraint, pointwise_constraint, bias_constraint: as Keras 3's.

    Input shape:
        (batch, H, W, C).

    Output shape:
        (batch, P, Q, filters).

    Raises:
        ValueError/TypeError: a bad argument; an input that is not 4-D, whose channels do not
            match the kernel, or too small for the kernel with 'valid' padding.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.SeparableConv2D(16, 3, activation="relu")(np.ones((2, 8, 8, 3))).shape
        (2, 6, 6, 16)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = _validate.positive_int(filters, "filters")
        self._init_depthwise(kernel_size, strides, padding, data_format, dilation_rate,
                             depth_multiplier, activation, use_bias, depthwise_initializer,
                             bias_initializer, depthwise_regularizer, bias_regularizer,
                             depthwise_constraint, bias_constraint)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.depthwise_kernel = self.pointwise_kernel = None

    def _dw_kernel(self):
        return self.depthwise_kernel

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + _spatial_out(self, input_shape) + (self.filters,)

    def build(self, input_shape):
        c = self._channels(input_shape)
        self.depthwise_kernel = self._add_depthwise(c, "depthwise_kernel")
        self.pointwise_kernel = self.add_weight((1, 1, c * self.depth_multiplier, self.filters),
                                                self.pointwise_initializer, name="pointwise_kernel",
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        self._add_bias(self.filters)
        self.built = True

    # The pointwise step is Conv2D's 1x1 path: conv2d's implicit GEMMs, whose filter gradient
    # splits the long N*P*Q reduction into parallel chunks (dense_backward does not: 3x slower
    # at 28x28x128, batch 32).
    def _pre(self, x, training, relu=False):
        z, x = self._dw_fwd(x, None, False)
        win = _pointwise(z.shape)
        return _kernels.conv2d_fwd(z, self.pointwise_kernel, self.bias, relu, win), (x, z)

    def _pre_bwd(self, ctx, dy, need_dx):
        x, z = ctx
        dy = _validate.as_float32(dy, "dy", ndim=4)
        win = _pointwise(z.shape)
        dpw, db = _kernels.conv2d_bwd_filter(z, self.pointwise_kernel.shape, dy, win, self.use_bias)
        dz = _kernels.conv2d_bwd_input(z.shape, self.pointwise_kernel, dy, win)
        dx, ddw, _ = self._dw_bwd(x, dz, need_dx, False)
        return dx, ([ddw, dpw, db] if self.use_bias else [ddw, dpw])

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._depthwise_config(),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                **_extras_config(self, ("depthwise", "pointwise", "bias"))}


SeparableConvolution2D = SeparableConv2D


def _pointwise(shape):
    """The Window of a 1x1 convolution (stride 1, no padding) over an NHWC shape."""
    return _geometry.Window(shape[1], shape[2], 1, 1, 1, 1, 1, 1, 0, 0)
