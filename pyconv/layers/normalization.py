"""Normalization layers: BatchNormalization over the channels (the last axis), C kernels in
csrc/batchnorm.c.

The moving statistics are weights (saved and loaded with the model), but a pass never writes
them: a training `_fwd` returns their new values in its ctx, `_state_updates(ctx)` hands them
over, and the trainer writes them together with the optimizer's update, in one commit (see
pyconv/models/trainer.py). A step's weights and moving statistics change together or not at all.
"""
import numbers

import numpy as np

from .. import _kernels, constraints, initializers, regularizers
from .base import BN_RELU, Layer

__all__ = ["BatchNormalization"]


def _real(v, name, minimum=None):
    """`v` as a float, or a TypeError/ValueError in the house's shape."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"`{name}` must be a number. Received: {name}={v!r}.")
    if minimum is not None and not float(v) >= minimum:
        raise ValueError(f"`{name}` must be a number >= {minimum}. Received: {name}={v!r}.")
    return float(v)


class BatchNormalization(Layer):
    """Normalizes each channel with the batch's statistics (training) or moving ones (inference).

    Training (`training=True` and the layer trainable): with the batch's mean and biased variance
    over every axis but the last, `y = gamma * (x - mean) / sqrt(var + epsilon) + beta`, and
    `moving = moving * momentum + batch * (1 - momentum)` for the mean and the variance (applied
    by `fit` after the step's optimizer update, in the same commit). Inference, or a layer with
    `trainable=False` (Keras 3's rule, even inside `fit`): the moving statistics instead.

    Args:
        axis: the channel axis; only the last (-1) is supported.
        momentum: the moving statistics' momentum (0.99).
        epsilon: added to the variance (1e-3).
        center: whether to add `beta` (True).
        scale: whether to multiply by `gamma` (True).
        beta_initializer, gamma_initializer: ('zeros', 'ones').
        moving_mean_initializer, moving_variance_initializer: ('zeros', 'ones').
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: None or
            Keras's identifiers.
        synchronized: accepted (a single process: nothing to synchronize).
        renorm, renorm_clipping, renorm_momentum: accepted for Keras's config; renorm=True is
            not supported.

    Weights, in Keras's order: gamma, beta (trainable; each only if scale/center), moving_mean,
    moving_variance (non-trainable).

    Input shape: any rank >= 2, (batch, ..., C). Output shape: the input's.

    Raises:
        ValueError: `axis` is not the last axis, renorm=True, a bad momentum or epsilon, or
            inputs whose channel count differs from the built one.

    Example:
        >>> import numpy as np
        >>> bn = BatchNormalization()
        >>> x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
        >>> bn(x, training=True).round(3)
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
        >>> bn(x).round(3)   # inference: the moving statistics (still 0 and 1)
        array([[0.   , 1.   ],
               [1.999, 2.999]], dtype=float32)
    """

    _stateful = True   # its training pass computes new moving statistics (see _state_updates)

    _input_min_ndim = 2

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"`axis` must be an int. Received: axis={axis!r}.")
        self.axis = int(axis)
        if self.axis < -1:
            raise ValueError(f"BatchNormalization normalizes over the last axis only: `axis` must be -1 "
                             f"(or the last axis's index). Received: axis={axis!r}.")
        self.momentum = _real(momentum, "momentum")
        self.epsilon = _real(epsilon, "epsilon", minimum=0.0)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        if renorm:
            raise ValueError("BatchNormalization: batch renormalization is not supported. "
                             "Received: renorm=True.")
        self.renorm, self.renorm_clipping = False, renorm_clipping
        self.renorm_momentum = _real(renorm_momentum, "renorm_momentum")
        self.synchronized = bool(synchronized)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    # ---- shapes and weights -----------------------------------------------------------------
    def _channels(self, shape):
        if self.axis not in (-1, len(shape) - 1):
            raise ValueError(f'Layer "{self.name}" normalizes over the last axis only: `axis` must be '
                             f"-1 or {len(shape) - 1} for inputs of rank {len(shape)}. Received: "
                             f"axis={self.axis}, input shape={tuple(shape)}.")
        if shape[-1] is None:
            raise ValueError(f'Layer "{self.name}": the channel axis (the last) must have a known size. '
                             f"Received: input shape={tuple(shape)}.")
        return int(shape[-1])

    def build(self, input_shape):
        C = self._channels(input_shape)
        if self.scale:
            self.gamma = self.add_weight((C,), self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight((C,), self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight((C,), self.moving_mean_initializer, trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight((C,), self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")

    def _check_built_shape(self, shape):
        if self._channels(shape) != self.moving_mean.shape[0]:
            raise self._incompatible(f"expected axis -1 of input shape to have value "
                                     f"{self.moving_mean.shape[0]}", shape)

    # ---- passes -----------------------------------------------------------------------------
    def _fwd(self, x, training, fuse=0):
        # BN_RELU: the plain relu after this layer runs here, y = relu(BN(x)) in one pass (the
        # plan makes the relu an identity); for the relu's mask in backward, ctx keeps the
        # forward's scale and shift in training (bn_backward recomputes the mask from x in its
        # own passes), y in inference mode
        relu = bool(fuse & BN_RELU)
        if training and self.trainable:   # Keras 3: a frozen layer normalizes as in inference
            y, mean, var, invstd, scale, shift = _kernels.bn_train(x, self.gamma, self.beta, self.epsilon,
                                                                   relu=relu, coefs=True)
            moving = None
            if x.size:   # no rows: no statistics, the moving ones stay
                moving = _kernels.bn_moving(self.moving_mean, self.moving_variance, mean, var,
                                            self.momentum)
            return y, ("train", x, mean, invstd, moving, (scale, shift) if relu else None)
        y = _kernels.bn_infer(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                              self.epsilon, relu=relu)
        return y, ("infer", x, None, None, None, y if relu else None)

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        mode, x, mean, invstd, _, relu = ctx
        if mode == "train":   # the folded relu's mask (if any) inside BN's two passes
            dx, dgamma, dbeta = _kernels.bn_backward(dy, x, mean, invstd, self.gamma, need_dx,
                                                     relu_coefs=relu)
        else:   # constant (moving) statistics: y = x * scale + shift, so dx = dy * scale
            if relu is not None:   # the folded relu's mask, from the output the forward kept
                dy = _kernels.relu_bwd(dy, relu)
            scale, _, invstd = _kernels.bn_coefs(self.moving_mean, self.moving_variance, self.gamma,
                                                 None, self.epsilon)
            dx = _kernels.bn_forward(dy, scale, np.zeros_like(scale)) if need_dx else None
            dgamma = dbeta = None
            if self.trainable_weights:
                _, dgamma, dbeta = _kernels.bn_backward(dy, x, self.moving_mean, invstd, self.gamma,
                                                        False)
        if not self.trainable_weights:
            return dx, []
        return dx, ([dgamma] if self.scale else []) + ([dbeta] if self.center else [])

    def _fold(self, kernel, bias):
        """(kernel, bias) of the linear layer before this one (Conv2D, Dense: output channels
        last) with this inference-mode normalization folded in: y = x.W*scale + (b*scale + shift),
        scale and shift from the moving statistics as `_fwd` computes them. New arrays, from the
        current weights: nothing is cached or written."""
        scale, shift, _ = _kernels.bn_coefs(self.moving_mean, self.moving_variance, self.gamma,
                                            self.beta, self.epsilon)
        folded = _kernels.bn_forward(kernel, scale, np.zeros_like(scale))
        return folded, shift if bias is None else _kernels.bn_forward(bias, scale, shift)

    def _state_updates(self, ctx):
        """[(weight, new value)]: the moving statistics a training pass computed (none in
        inference). The caller writes them (pyconv/_graph.py Plan.state_updates)."""
        moving = ctx[4]
        if moving is None:
            return []
        return [(self.moving_mean, moving[0]), (self.moving_variance, moving[1])]

    # ---- config -----------------------------------------------------------------------------
    def get_config(self):
        ser = lambda f, v: None if v is None else f(v)   # noqa: E731
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": ser(regularizers.serialize, self.beta_regularizer),
                "gamma_regularizer": ser(regularizers.serialize, self.gamma_regularizer),
                "beta_constraint": ser(constraints.serialize, self.beta_constraint),
                "gamma_constraint": ser(constraints.serialize, self.gamma_constraint),
                "synchronized": self.synchronized, "renorm": self.renorm,
                "renorm_clipping": self.renorm_clipping, "renorm_momentum": self.renorm_momentum}
