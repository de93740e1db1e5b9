"""The geometry of a sliding window, in one place: how large a (dilated) window is, how many
outputs it gives along an axis, and where the padding goes -- TensorFlow's and Keras 3's
rules, used by pyconv.nn, the layers (shape inference), the ONNX export -- and the one form
in which every windowed C kernel (convolution, depthwise/grouped, transposed, pooling) gets
its geometry through pyconv._kernels: a `Window`.

    Window(P, Q, R, S, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left)
                           a named tuple of the window fields of csrc/pyconv.h's conv2d_shape
                           and pool2d_shape (pooling: dilation 1); the array sizes (N, H, W,
                           C, K) come from the arrays, and the boundary checks that the two
                           agree (R, S against a filter, P, Q against an output gradient)
    window(H, W, R, S, strides, dilations, padding)
                           the Window of a (R, S) window over an H x W input (P or Q may come
                           out < 1: the caller says why that is wrong)
    conv_window(in_shape, (R, S), strides, dilations, padding)
                           the same for a convolution's NHWC input shape, refusing a window
                           with no output pixel (ValueError)

    extent(k, d)           (k - 1) * d + 1: the span of a k-tap window dilated by d
    out_size(n, w, s, p)   (outputs, padding before) for n inputs, window span w, stride s;
                           'same': ceil(n / s) outputs, an odd total padding puts the extra
                           row or column after (bottom/right); 'valid': (n - w) // s + 1;
                           explicit (before, after) pairs as nn.conv2d takes them
    out_length(...)        the same for shape inference: None (unknown) stays None
    same_padding(n, w, s)  'same's (before, after)
    conv_transpose_size()  Keras 3's output length of a transposed convolution
"""

from collections import namedtuple

__all__ = ["Window", "window", "conv_window", "extent", "out_size", "out_length", "same_padding",
           "conv_transpose_size"]

Window = namedtuple("Window", "P Q R S stride_h stride_w dil_h dil_w pad_top pad_left")


def window(H, W, R, S, strides, dilations, padding):
    """The Window of an R x S window (dilations (dh, dw)) moved by strides (sh, sw) over an
    H x W input; `padding` as `out_size` takes it."""
    P, top = out_size(H, extent(R, dilations[0]), strides[0], padding, 0)
    Q, left = out_size(W, extent(S, dilations[1]), strides[1], padding, 1)
    return Window(P, Q, R, S, strides[0], strides[1], dilations[0], dilations[1], top, left)


def conv_window(in_shape, kernel_size, strides, dilations, padding, what="filters"):
    """The Window of a convolution's `kernel_size` (R, S) window over an NHWC input shape.

    Raises a ValueError when the (dilated) window does not fit in the padded input."""
    win = window(in_shape[1], in_shape[2], kernel_size[0], kernel_size[1], strides, dilations, padding)
    if win.P < 1 or win.Q < 1:
        raise ValueError(f"The {what} window ({extent(kernel_size[0], dilations[0])}, "
                         f"{extent(kernel_size[1], dilations[1])}) (dilated) is larger than the "
                         f"padded input: no output pixel. Received: input shape {tuple(in_shape)}, "
                         f"window {tuple(kernel_size)}, padding={padding!r}.")
    return win


def extent(k, d=1):
    """The span of a k-tap window with dilation d."""
    return (k - 1) * d + 1


def out_size(size, window, stride, padding, axis=0):
    """(output size, padding before) along spatial axis `axis` (0: height, 1: width) for a
    window spanning `window` elements (see `extent`); `padding` as _validate.padding returns
    it: 'same', 'valid' or explicit ((top, bottom), (left, right)). The size may come out < 1:
    the caller says why that is wrong."""
    if padding == "same":
        out = -(-size // stride)
        return out, max((out - 1) * stride + window - size, 0) // 2
    before, after = (0, 0) if padding == "valid" else padding[axis]
    return (size + before + after - window) // stride + 1, before


def same_padding(size, window, stride):
    """(before, after) of 'same' padding: after = before or before + 1."""
    out, before = out_size(size, window, stride, "same")
    return before, max((out - 1) * stride + window - size, 0) - before


def out_length(n, k, s, d, padding):
    """Output length along one axis of a k-tap window (stride s, dilation d) for shape
    inference, 'same' or 'valid'; None (an unknown length) stays None."""
    return None if n is None else out_size(n, extent(k, d), s, padding)[0]


def conv_transpose_size(n, k, s, d, padding, output_padding):
    """Keras 3's output length of a transposed convolution along one axis (None stays None):
    'valid': (n - 1) * s + k_eff + output_padding, where output_padding defaults to
    max(k_eff, s) - k_eff; 'same': n * s, or (n - 1) * s + k_eff % 2 + output_padding when
    output_padding is given; k_eff = extent(k, d)."""
    if n is None:
        return None
    keff = extent(k, d)
    if padding == "valid":
        op = max(keff, s) - keff if output_padding is None else output_padding
        return (n - 1) * s + keff + op
    if output_padding is None:
        return n * s
    return (n - 1) * s + keff % 2 + output_padding
