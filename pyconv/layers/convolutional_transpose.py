"""Conv2DTranspose: the transposed convolution on the conv2d kernels (csrc/conv2d.c).

A transposed convolution is the input gradient of a convolution, so its three passes are the
convolution's three passes in other roles (see docs/kernels.md):

    forward          y  = conv2d_transpose_forward(x)    backward_input's GEMM + bias, relu
    input gradient   dx = conv2d_forward(dy)              the convolution itself
    filter gradient  dW = conv2d_backward_filter(inp=dy, dout=x)

all with the window of the convolution that maps y's shape back to x's (_geometry.conv_window).
"""
from .. import _geometry, _kernels, _validate, initializers
from .._geometry import conv_transpose_size
from .base import _ActivatedLayer, _check_last_axis, _known_channels, _shape_str
from .convolutional import _set_window
from .core import _extras_config

__all__ = ["Conv2DTranspose", "Convolution2DTranspose", "conv_transpose_size"]


class Conv2DTranspose(_ActivatedLayer):
    """Transposed 2-D convolution (the gradient of Conv2D with respect to its input) over NHWC
    inputs, with a (R, S, filters, C) kernel as Keras 3's.

    Args:
        filters: a positive int, the number of output channels.
        kernel_size: an int or a tuple of 2 ints (R, S).
        strides: an int or a tuple of 2 ints (1).
        padding: 'valid' or 'same' (output size input * stride when output_padding is None).
        output_padding: None, or an int or a tuple of 2 ints, each < the stride along its axis:
            extra rows/columns of output (see `conv_transpose_size`).
        dilation_rate: an int or a tuple of 2 ints (1); cannot be > 1 together with strides > 1.
        activation: an activation name or None.
        use_bias: whether to add a bias (True).
        kernel_initializer, bias_initializer: ('glorot_uniform', 'zeros').
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint: None or Keras's identifiers.

    Input shape:
        (batch, H, W, C).

    Output shape:
        (batch, H_out, W_out, filters), each size by Keras 3's rule (`conv_transpose_size`).

    Raises:
        ValueError/TypeError: a bad argument (output_padding >= strides, strides and dilation
            both > 1, ...); an input that is not 4-D or whose channels do not match the kernel;
            'same' padding whose output (given output_padding) does not map back to the input
            size, which TensorFlow refuses too (an even kernel with output_padding 0).

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Conv2DTranspose(8, 3, strides=2, padding="same")(np.ones((2, 7, 7, 4))).shape
        (2, 14, 14, 8)
    """

    _input_ndim = 4
    _can_fuse_relu = True

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _set_window(self, kernel_size, strides, padding, data_format, dilation_rate)   # Conv2D's checks
        self.filters = _validate.positive_int(filters, "filters")
        self.output_padding = None
        if output_padding is not None:
            op = _validate.int_pair(output_padding, "output_padding", allow_nhwc=False, min_value=0)
            for i, (o, s) in enumerate(zip(op, self.strides)):
                if o >= s:   # Keras 3's rule and message
                    raise ValueError(f"`output_padding` must be strictly less than `strides` for all "
                                     f"dimensions. At dimension {i}, `output_padding` is {o} but `strides` "
                                     f"is {s}. Received: output_padding={op}, strides={self.strides}")
            self.output_padding = op
        self._set_kernel_args(activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)
        self._geom = None

    def _out_hw(self, h, w):
        op = self.output_padding or (None, None)
        return tuple(conv_transpose_size(n, self.kernel_size[i], self.strides[i], self.dilation_rate[i],
                                         self.padding, op[i]) for i, n in enumerate((h, w)))

    def _geometry(self, shape):
        """(output shape, Window): the output's size by Keras's rule and the window of the
        convolution that maps it back to `shape` (TensorFlow's padding), checked to do so;
        computed once per input shape."""
        g = self._geom
        if g is None or g[0] != shape:
            g = self._geom = (shape, self._new_geometry(shape))
        return g[1]

    def _new_geometry(self, shape):
        n, h, w, _ = shape
        ho, wo = self._out_hw(h, w)
        out = (n, ho, wo, self.filters)
        if ho is None or wo is None:
            return out, None
        win = None
        if ho >= 1 and wo >= 1:
            win = _geometry.conv_window((n, ho, wo), self.kernel_size, self.strides,
                                        self.dilation_rate, self.padding)
        if win is None or (win.P, win.Q) != (h, w):
            raise ValueError(f'Layer "{self.name}" cannot take input shape {_shape_str(shape)}: with '
                             f"padding='{self.padding}', output_padding={self.output_padding} and a "
                             f"{self.kernel_size[0]}x{self.kernel_size[1]} kernel (dilation_rate="
                             f"{self.dilation_rate}, strides={self.strides}), the output size {ho}x{wo} "
                             f"does not map back to the input's {h}x{w} (TensorFlow refuses it too). "
                             f"Use an odd kernel or output_padding >= 1.")
        return out, win

    def compute_output_shape(self, input_shape):
        return self._geometry(tuple(input_shape))[0]

    def _check_built_shape(self, shape):
        _check_last_axis(self, shape, self.kernel.shape[3])

    def build(self, input_shape):
        c = _known_channels(self, input_shape)
        self.kernel = self.add_weight(self.kernel_size + (self.filters, c), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def _pre(self, x, training, relu=False):
        x = _validate.as_float32(x, "inputs", ndim=4)
        out, win = self._geometry(x.shape)
        return _kernels.conv2d_transpose_fwd(x, self.kernel, self.bias, relu, out, win), x

    def _pre_bwd(self, x, dz, need_dx):
        dz = _validate.as_float32(dz, "dy", ndim=4)
        _, win = self._geometry(x.shape)
        # the filter gradient: the convolution's, with the output gradient as its input
        dk, _ = _kernels.conv2d_bwd_filter(dz, self.kernel.shape, x, win)
        grads = [dk, _kernels.bias_add_bwd(dz)] if self.use_bias else [dk]
        if not need_dx:
            return None, grads
        # the input gradient: the convolution itself
        return _kernels.conv2d_fwd(dz, self.kernel, None, False, win), grads

    def get_config(self):
        op = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "output_padding": op,
                "data_format": "channels_last", "dilation_rate": list(self.dilation_rate),
                "activation": self.activation.name, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **_extras_config(self)}


Convolution2DTranspose = Conv2DTranspose
