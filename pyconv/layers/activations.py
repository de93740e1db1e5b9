"""Activation layers with arguments (keras.layers.ReLU, LeakyReLU, ELU, PReLU, Softmax).

ReLU, LeakyReLU, ELU and Softmax are `Activation` layers whose activation is bound to their
arguments (pyconv.activations.make_*), so they run the same kernels as `activation=` and a
Softmax output still hands its logits to a cross-entropy loss. Softmax's `mask` (Keras 3's) is
NumPy `where` around the softmax kernel. PReLU has a trainable alpha
and its own kernels (csrc/act_more.c: prelu_forward, prelu_backward).
"""
import numpy as np

from .. import _kernels, _tape, _validate, activations, constraints, initializers, regularizers
from .base import KwargsCall, Layer, _shape_str
from .core import Activation

__all__ = ["ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax"]


class _BoundActivation(Activation):
    """An Activation layer whose config is its own arguments, not an activation name."""

    _args = ()

    def get_config(self):
        cfg = super().get_config()
        del cfg["activation"]
        return {**cfg, **{k: getattr(self, k) for k in self._args}}


class ReLU(_BoundActivation):
    """Keras 3's ReLU: x above `threshold` (clipped at `max_value` when given),
    `negative_slope * (x - threshold)` below it.

    Args:
        max_value: float >= 0 or None (no clipping).
        negative_slope: float >= 0 (0.0).
        threshold: float >= 0 (0.0).

    At the defaults it is the plain relu (and its kernel); otherwise relu_general_forward.

    Raises:
        ValueError/TypeError: an argument negative, not a number, or not finite.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.ReLU(max_value=6.0, negative_slope=0.5)(np.array([[-2.0, 3.0, 8.0]]))
        array([[-1.,  3.,  6.]], dtype=float32)
    """

    _args = ("max_value", "negative_slope", "threshold")

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        self.max_value = _validate.real(max_value, "max_value", min_value=0, allow_none=True)
        self.negative_slope = _validate.real(negative_slope, "negative_slope", min_value=0)
        self.threshold = _validate.real(threshold, "threshold", min_value=0)
        super().__init__(activations.make_relu(self.negative_slope, self.max_value, self.threshold),
                         **kwargs)


class LeakyReLU(_BoundActivation):
    """x if x > 0 else negative_slope * x.

    Args:
        negative_slope: float >= 0 (Keras 3's default 0.3; `alpha` is its deprecated name).

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.LeakyReLU()(np.array([[-1.0, 2.0]]))
        array([[-0.3,  2. ]], dtype=float32)
    """

    _args = ("negative_slope",)

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:   # Keras 3 still takes the old name (with a warning)
            negative_slope = kwargs.pop("alpha")
        self.negative_slope = _validate.real(negative_slope, "negative_slope", min_value=0)
        super().__init__(activations.make_relu(negative_slope=self.negative_slope), **kwargs)


class ELU(_BoundActivation):
    """x if x > 0 else alpha * (exp(x) - 1).

    Args:
        alpha: float (1.0), the value approached for x -> -inf is -alpha.
    """

    _args = ("alpha",)

    def __init__(self, alpha=1.0, **kwargs):
        self.alpha = _validate.real(alpha, "alpha")
        super().__init__(activations.make_elu(self.alpha), **kwargs)


# Keras 3's Softmax: masked logits become this large negative number (float32; -3e4 in float16)
_MASKED_LOGIT = np.float32(-1e9)


def _mask_shape_error(inputs_shape, mask_shape, rank=False):
    if rank:
        return ValueError(f"The `mask` must be broadcastable to `inputs` and must not have more dimensions. "
                          f"Received: inputs.shape={_shape_str(inputs_shape)}, mask.shape={_shape_str(mask_shape)}")
    return ValueError(f"The `mask` must be broadcastable to `inputs`. Each mask dimension must be 1 or match "
                      f"the corresponding input dimension. Received: inputs.shape={_shape_str(inputs_shape)}, "
                      f"mask.shape={_shape_str(mask_shape)}")


def _check_mask_shape(inputs_shape, mask_shape):
    """Keras 3's rule: no more dimensions than `inputs`; each trailing dimension 1 or equal
    (None, unknown, matches anything)."""
    if len(mask_shape) > len(inputs_shape):
        raise _mask_shape_error(inputs_shape, mask_shape, rank=True)
    for m, i in zip(reversed(mask_shape), reversed(inputs_shape)):
        if m is not None and i is not None and m != 1 and m != i:
            raise _mask_shape_error(inputs_shape, mask_shape)


def _mask_keep(mask, inputs_shape):
    """The positions a `mask` keeps, as a bool array broadcastable to `inputs_shape`: a bool
    mask as it is, any other where it is > 0.5 cast to its dtype (Keras 3: > 0 for integers)."""
    if isinstance(mask, np.ma.MaskedArray) or isinstance(mask, (str, bytes)):
        raise TypeError(f"`mask` must be a boolean or numeric array. Received: mask={mask!r}.")
    try:
        m = np.asarray(mask)
    except (TypeError, ValueError) as e:
        raise TypeError(f"`mask` must be a boolean or numeric array. Received: mask of type "
                        f"{type(mask).__name__} ({e}).") from None
    if m.dtype.kind not in "biuf":
        raise TypeError(f"`mask` must be a boolean or numeric (int, float) array. Received: mask with "
                        f"dtype={m.dtype}.")
    _check_mask_shape(tuple(inputs_shape), m.shape)
    if m.dtype.kind == "b":
        return m
    return m > m.dtype.type(0.5)   # an integer 0.5 is 0, as Keras' cast


class _MaskedCtx:
    """A masked call's forward: the softmax `s` of the masked logits and the kept positions."""

    __slots__ = ("s", "keep")

    def __init__(self, s, keep):
        self.s, self.keep = s, keep


class Softmax(_BoundActivation):
    """Softmax over `axis`: an int, or a tuple of axes normalised together (-1).

    Call arguments:
        inputs: the logits.
        mask: optional, Keras 3's: a boolean (or numeric: kept where > 0.5, > 0 for integers)
            array broadcastable to `inputs` -- no more dimensions, each 1 or equal to the
            input's. Masked logits are replaced by -1e9 before the softmax and the output is 0
            where masked (a fully masked row is all zeros). In a functional model the mask is
            a symbolic tensor (`Softmax()(x, mask=m)`, m from an Input or a layer). The
            layer passes a mask on unchanged (`supports_masking`, `compute_mask`).

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> layers.Softmax()(np.array([[1.0, 2.0, 1.0]]), mask=np.array([True, True, False]))
        array([[0.26894143, 0.7310586 , 0.        ]], dtype=float32)
    """

    _args = ("axis",)
    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        if isinstance(axis, list):
            axis = tuple(axis)
        ok = _validate.is_int(axis) or (isinstance(axis, tuple) and axis and all(_validate.is_int(a) for a in axis))
        if not ok:
            raise TypeError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}.")
        self.axis = axis
        super().__init__(activations.make_softmax(axis), **kwargs)

    def compute_mask(self, inputs, mask=None):
        """Keras' rule for a layer that supports masking: the mask passes on unchanged."""
        return mask

    def __call__(self, inputs=None, training=None, mask=None, **kwargs):
        if mask is None:
            return super().__call__(inputs, training, **kwargs)
        from .. import _graph
        if inputs is None:
            raise TypeError(f'Layer "{self.name}" was called without inputs.')
        if kwargs:
            raise TypeError(f'Layer "{self.name}" takes `inputs`, `training` and `mask`. Received also: '
                            f"{sorted(kwargs)}.")
        if _graph.any_symbolic(inputs) or _graph.any_symbolic(mask):
            return self._symbolic_masked_call(inputs, mask)
        x = self._convert_inputs(inputs)
        if not isinstance(x, np.ndarray):
            raise TypeError(f'Layer "{self.name}" takes one array. Received a {type(x).__name__} of inputs.')
        self._prepare(x)
        keep = _mask_keep(mask, x.shape)
        y, ctx = self._masked_fwd(x, keep)
        _tape.record((x,), y, lambda g: (self._masked_bwd(ctx, g),))
        return y

    def _symbolic_masked_call(self, inputs, mask):
        from .. import _graph
        if not isinstance(inputs, _graph.KerasTensor) or not isinstance(mask, _graph.KerasTensor):
            raise TypeError(f'Layer "{self.name}": in a functional model `inputs` and `mask` must both be '
                            f"symbolic tensors (from `Input` or from layers). Received: inputs of type "
                            f"{type(inputs).__name__}, mask of type {type(mask).__name__}.")
        _check_mask_shape(inputs.shape, mask.shape)
        out = _graph.KerasTensor(self._ensure_built(inputs.shape))
        _graph.Node(self, _graph.KwargsCall((inputs, {"mask": mask})), [out])
        return out

    def _masked_fwd(self, x, keep):
        """Keras 3's masked softmax: where(keep, softmax(where(keep, x, -1e9)), 0)."""
        with _tape.paused():
            s = self.activation.forward(np.where(keep, x, _MASKED_LOGIT))
        return np.where(keep, s, np.float32(0)), _MaskedCtx(s, keep)

    def _masked_bwd(self, ctx, dy):
        """The exact gradient of `_masked_fwd`: dy where kept, through softmax's backward (on its
        output s), and 0 where masked (the logits there were replaced)."""
        z = np.float32(0)
        with _tape.paused():
            ds = self.activation.backward(np.where(ctx.keep, dy, z), ctx.s)
        return np.where(ctx.keep, ds, z)

    # a functional model's node of a masked call hands both, as a KwargsCall (layers/base.py)
    def _fwd(self, x, training, fuse=0):
        if type(x) is not KwargsCall:
            return super()._fwd(x, training, fuse)
        a, mask = x[0], x[1]["mask"]
        return self._masked_fwd(a, _mask_keep(mask, a.shape))

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        if type(ctx) is not _MaskedCtx:
            return super()._bwd(ctx, dy, need_dx, fuse)
        return (KwargsCall((self._masked_bwd(ctx, dy), {"mask": None})) if need_dx else None), []

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return cfg


class PReLU(Layer):
    """x if x > 0 else alpha * x, with a trainable alpha per position (shared along
    `shared_axes`).

    Args:
        alpha_initializer: initializer of alpha ('Zeros', as Keras).
        alpha_regularizer: regularizer of alpha (None).
        alpha_constraint: constraint of alpha (None).
        shared_axes: axes (1 = the first after the batch) along which alpha is shared, e.g.
            [1, 2] for one alpha per channel of an NHWC image. None: one alpha per value.

    Input shape:
        (batch, ...): the non-shared axes must be known when the layer is built.

    Output shape:
        the input's.

    Raises:
        ValueError: a shared axis out of range, or an input whose non-shared axes differ from
            those the layer was built with.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers
        >>> p = layers.PReLU(alpha_initializer="ones", shared_axes=[1])
        >>> p(np.array([[[-2.0, 1.0], [3.0, -4.0]]])).shape, p.alpha.shape
        ((1, 2, 2), (1, 2))
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not axes or not all(_validate.is_int(a) and a >= 1 for a in axes):
                raise ValueError(f"`shared_axes` must be an int >= 1 or a list of them (axis 0 is "
                                 f"the batch). Received: shared_axes={shared_axes!r}.")
            self.shared_axes = [int(a) for a in axes]
        self.alpha = None
        self._idx = None

    def _param_shape(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or ():
            if a >= len(input_shape):
                raise ValueError(f"`shared_axes` must name axes of the {len(input_shape)}-D input "
                                 f"(1 to {len(input_shape) - 1}). Received: shared_axes="
                                 f"{self.shared_axes}, input shape {_shape_str(input_shape)}.")
            shape[a - 1] = 1
        return shape

    def build(self, input_shape):
        shape = self._param_shape(input_shape)
        if None in shape:
            raise ValueError(f'Layer "{self.name}": the axes that are not shared must be known. '
                             f"Received: input_shape={_shape_str(input_shape)}, shared_axes={self.shared_axes}.")
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        if None not in input_shape[1:]:
            self._idx = self._index(tuple(input_shape[1:]))
        self.built = True

    def _check_built_shape(self, shape):
        want = self.input_shape
        if len(shape) != len(want) or any(w is not None and s is not None and s != w and (i + 1) not in (self.shared_axes or ())
                                          for i, (s, w) in enumerate(zip(shape[1:], want[1:]))):
            raise self._incompatible(f"expected shape {_shape_str(want)} on the axes that are not shared "
                                     f"(shared_axes={self.shared_axes})", shape)

    def _index(self, example_shape):
        """The alpha element of each position of one example (None: alpha has one each)."""
        if tuple(self.alpha.shape) == tuple(example_shape):
            return None
        ids = np.arange(self.alpha.size, dtype=np.int64).reshape(self.alpha.shape)
        return np.ascontiguousarray(np.broadcast_to(ids, example_shape)).ravel()

    def _fwd(self, x, training, fuse=0):
        idx = self._idx
        if idx is None and tuple(self.alpha.shape) != tuple(x.shape[1:]):
            idx = self._index(x.shape[1:])     # built with unknown (shared) axes: per call
        return _kernels.prelu_fwd(x, self.alpha, idx), (x, idx)

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        x, idx = ctx
        dx, dalpha = _kernels.prelu_bwd(_validate.as_float32(dy, "dy"), x, self.alpha, idx, need_dx)
        return dx, [dalpha]

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": None if self.alpha_regularizer is None
                else regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": None if self.alpha_constraint is None
                else constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}
