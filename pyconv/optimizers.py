"""Optimizers with Keras 3's update rules, defaults and names, updating NumPy arrays in place.

`optimizer.apply(grads, params)` updates every array of `params` in place from the matching
gradient, then counts one iteration. Per-variable state ("slots": Adam's m and v, momentum
buffers) is created on the first call, one float32 array per parameter, plus one scratch
array so that a step allocates nothing.

The learning rate is a float or a schedule (pyconv.optimizers.schedules), evaluated at
`iterations` (the number of steps done before this one), as in Keras.
"""
import math
import sys
import types

import numpy as np

from . import _atomic, _kernels, _validate

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "schedules", "get", "serialize",
           "deserialize"]


# ---- learning-rate schedules ---------------------------------------------------------------

class LearningRateSchedule:
    """Base class: `schedule(step) -> learning rate` for the 0-based step."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps) (the exponent floored when
    `staircase`).

    Args:
        initial_learning_rate: a positive float.
        decay_steps: a positive int.
        decay_rate: a positive float.
        staircase: whether to decay in steps.

    Example:
        >>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
        >>> round(s(10), 6), round(s(5), 6)
        (0.05, 0.070711)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = _positive_float(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _validate.positive_int(decay_steps, "decay_steps")
        self.decay_rate = _positive_float(decay_rate, "decay_rate")
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(ExponentialDecay):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps) (floored when `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while boundaries[i-1] < step <= boundaries[i]."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"`values` must have one more entry than `boundaries`. Received: "
                             f"boundaries={boundaries!r}, values={values!r}.")
        self.boundaries, self.values, self.name = list(boundaries), [float(v) for v in values], name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


schedules = types.ModuleType(__name__ + ".schedules", "Learning-rate schedules (keras.optimizers.schedules).")
for _c in (LearningRateSchedule, ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay):
    setattr(schedules, _c.__name__, _c)
schedules.__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay"]
sys.modules[schedules.__name__] = schedules
_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay)}


def _positive_float(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be a positive float. Received: {name}={v!r}.")
    if not v > 0 or not math.isfinite(v):
        raise ValueError(f"`{name}` must be a positive float. Received: {name}={v!r}.")
    return float(v)


def _unit_float(v, name, closed_low=True):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be a float in [0, 1). Received: {name}={v!r}.")
    if not (0 <= v < 1):
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={v!r}.")
    return float(v)


# ---- the base class --------------------------------------------------------------------------

class Optimizer:
    """Base class (Keras 3's BaseOptimizer, for NumPy arrays).

    Args:
        learning_rate: a positive float or a LearningRateSchedule.
        weight_decay: if set, every step first does `p -= p * weight_decay * lr`.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient elementwise to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
        name: the optimizer's name.
    """

    _slot_names = ()

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        for k, v in kwargs.items():
            if k in ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                     "gradient_accumulation_steps") and v in (None, False, 0.99, 0, 1):
                continue  # Keras arguments accepted at their defaults
            raise TypeError(f"{type(self).__name__}() got an unsupported argument: {k}={v!r}.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}.")
        self.name = name or _snake(type(self).__name__)
        self.learning_rate = learning_rate
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.clipnorm = None if clipnorm is None else _positive_float(clipnorm, "clipnorm")
        self.clipvalue = None if clipvalue is None else _positive_float(clipvalue, "clipvalue")
        self.global_clipnorm = None if global_clipnorm is None else _positive_float(global_clipnorm, "global_clipnorm")
        self.iterations = 0
        self.built = False
        self._slots = []    # per slot name: a list with one array per parameter
        self._scratch = []  # one scratch array per parameter
        self._checked = None  # the params list _apply last checked

    # learning rate: a float, or a schedule evaluated at `iterations`
    @property
    def learning_rate(self):
        if self._schedule is not None:
            return float(self._schedule(self.iterations))
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule):
            self._schedule, self._lr = value, None
            return
        if getattr(self, "_schedule", None) is not None:
            raise TypeError("This optimizer was created with a learning-rate schedule: its "
                            "`learning_rate` cannot be set to a float.")
        self._schedule = None
        self._lr = _positive_float(value.item() if isinstance(value, np.ndarray) else value, "learning_rate")

    def build(self, params):
        """Create the state arrays (zeros) for the float32 arrays of `params`."""
        self._slots = [[np.zeros_like(p) for p in params] for _ in self._slot_names]
        self._scratch = [np.empty_like(p) for p in params]
        self._shapes = [p.shape for p in params]
        self._param_ids = [id(p) for p in params]
        self._checked = None
        self.built = True

    @property
    def variables(self):
        """The optimizer's state arrays (iterations excluded), slot by slot."""
        return [a for slot in self._slots for a in slot]

    def _count_variables(self):
        """(number of values, bytes) as Keras counts them: iterations (int64) and the learning
        rate (float32, unless a schedule) count one value each."""
        n = sum(a.size for a in self.variables)
        extra = 1 if self._schedule is not None else 2
        return n + extra, 4 * n + 8 + (0 if self._schedule is not None else 4)

    def apply(self, grads, params):
        """One step: update each array of `params` in place from the matching gradient.

        Args:
            grads: list of float32 arrays, one per parameter (None to skip a parameter).
            params: list of float32 arrays, updated in place.
        """
        grads, params = list(grads), list(params)
        self._check(grads, params)
        self._step(grads, params)

    def _check(self, grads, params):
        """Build on first use, then: the very arrays it was built for, one gradient per parameter,
        each of its parameter's shape."""
        if not self.built:
            self.build(params)
        if len(params) == len(self._param_ids) and [id(p) for p in params] != self._param_ids:
            raise ValueError(f"{type(self).__name__}.apply: this optimizer was built for other weight "
                             f"arrays (another model, or layers replaced since): its state belongs to "
                             f"them. Use a new optimizer for these weights, as in Keras.")
        if len(grads) != len(params) or len(params) != len(self._shapes):
            raise ValueError(f"{type(self).__name__}.apply: one gradient per parameter, as many as when it "
                             f"was built ({len(self._shapes)}). Received: {len(grads)} gradients for "
                             f"{len(params)} parameters.")
        for i, (g, p) in enumerate(zip(grads, params)):
            if p.shape != self._shapes[i] or (g is not None and np.shape(g) != p.shape):
                raise ValueError(f"{type(self).__name__}.apply: gradient {i} must have the shape of its "
                                 f"parameter {self._shapes[i]}. Received: gradient shape {np.shape(g)}, "
                                 f"parameter shape {p.shape}.")

    def _apply(self, grads, params):
        """apply() for a caller that passes the same `params` list every step (Model.fit): the
        checks run when the list is new to this optimizer, not on every step."""
        if self._checked is not params:
            self._check(grads, params)
            self._checked = params
        self._step(grads, params)

    def _step(self, grads, params):
        """The update itself, on checked lists: all that can fail (clipping allocates, a
        schedule is user code) first, then the in-place writes, which allocate nothing, with
        signals deferred: a step is applied whole or not at all."""
        if self.clipnorm or self.clipvalue or self.global_clipnorm:
            grads = self._clip(grads)
        lr = self.learning_rate
        with _atomic.signals_deferred():
            self._commit(grads, params, lr)

    def _commit(self, grads, params, lr):
        wd = self.weight_decay
        for i, (p, g) in enumerate(zip(params, grads)):
            if g is None:
                continue
            if wd:
                t = self._scratch[i]
                np.multiply(p, np.float32(wd * lr), out=t)
                p -= t
            self._update(i, p, g, lr)
        self.iterations += 1

    def apply_gradients(self, grads_and_vars):
        """Keras' form: a list of (gradient, parameter) pairs."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [p for _, p in pairs])

    def _clip(self, grads):
        if self.clipvalue:
            return [None if g is None else np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm:
            out = []
            for g in grads:
                n = float(np.sqrt((g.astype(np.float64) ** 2).sum())) if g is not None else 0.0
                out.append(g if g is None or n <= self.clipnorm else g * np.float32(self.clipnorm / n))
            return out
        n = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads if g is not None))
        if n <= self.global_clipnorm:
            return grads
        return [None if g is None else g * np.float32(self.global_clipnorm / n) for g in grads]

    def _update(self, i, p, g, lr):
        raise NotImplementedError

    # state, for saving
    def get_state(self):
        return {"iterations": self.iterations, "variables": [a.copy() for a in self.variables]}

    def set_state(self, params, iterations, variables):
        """Restore the state saved by `get_state` for these parameters."""
        if not _validate.is_int(iterations) or iterations < 0:
            raise ValueError(f"The optimizer's `iterations` must be an int >= 0. Received: {iterations!r}.")
        self.build(params)
        mine = self.variables
        if len(mine) != len(variables):
            raise ValueError(f"The optimizer state has {len(variables)} arrays; this {type(self).__name__} "
                             f"for these weights needs {len(mine)}.")
        for a, b in zip(mine, variables):
            if a.shape != b.shape:
                raise ValueError(f"Optimizer state array of shape {b.shape} does not fit a parameter of "
                                 f"shape {a.shape}.")
            np.copyto(a, b)
        self.iterations = int(iterations)

    def get_config(self):
        lr = (serialize_schedule(self._schedule) if self._schedule is not None else self._lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_schedule(config["learning_rate"])
        return cls(**config)


def _snake(name):
    return {"SGD": "SGD", "RMSprop": "rmsprop", "AdamW": "adamw"}.get(name, name.lower())


def serialize_schedule(s):
    return {"class_name": type(s).__name__, "config": s.get_config()}


def deserialize_schedule(d):
    cls = _SCHEDULES.get(d.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown learning-rate schedule {d.get('class_name')!r}.")
    return cls.from_config(d.get("config", {}))


# ---- the optimizers ------------------------------------------------------------------------

class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras 3's rule:

        m = momentum * m - lr * g
        p += m                          (nesterov: p += momentum * m - lr * g)
        without momentum: p -= lr * g

    Args:
        learning_rate: float or schedule (0.01).
        momentum: float in [0, 1) (0.0).
        nesterov: bool (False).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.momentum = _unit_float(momentum, "momentum")
        self.nesterov = bool(nesterov)
        self._slot_names = ("momentum",) if self.momentum else ()

    def _update(self, i, p, g, lr):
        t = self._scratch[i]
        np.multiply(g, np.float32(lr), out=t)  # t = lr * g
        if not self.momentum:
            p -= t
            return
        m = self._slots[0][i]
        mom = np.float32(self.momentum)
        m *= mom
        m -= t
        if self.nesterov:
            p -= t
            np.multiply(m, mom, out=t)
            p += t
        else:
            p += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, Keras 3's rule (t = iterations + 1):

        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m += (g - m) * (1 - beta_1);  v += (g*g - v) * (1 - beta_2)
        p -= alpha * m / (sqrt(v) + epsilon)      (amsgrad: max of all v so far)

    Args:
        learning_rate: float or schedule (0.001).
        beta_1, beta_2: floats in [0, 1) (0.9, 0.999).
        epsilon: float (1e-7).
        amsgrad: bool (False).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.beta_1 = _unit_float(beta_1, "beta_1")
        self.beta_2 = _unit_float(beta_2, "beta_2")
        self.epsilon = _positive_float(epsilon, "epsilon")
        self.amsgrad = bool(amsgrad)
        self._slot_names = ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum", "velocity")

    def _step(self, grads, params):
        t = self.iterations + 1
        self._alpha = np.float32(self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t))
        # the whole update in C, one pass per parameter: the same float32 operations in the same
        # order as _update's NumPy below (the C call declines, changing nothing, unless every
        # array is C-contiguous float32)
        if not (self.amsgrad or self.weight_decay or self.clipnorm or self.clipvalue
                or self.global_clipnorm):
            with _atomic.signals_deferred():
                if _kernels.adam_step_list(params, self._slots[0], self._slots[1], grads, self._alpha,
                                           1 - self.beta_1, 1 - self.beta_2, self.epsilon):
                    self.iterations += 1
                    return
        super()._step(grads, params)

    def _update(self, i, p, g, lr):
        m, v, t = self._slots[0][i], self._slots[1][i], self._scratch[i]
        if not self.amsgrad and g.dtype == np.float32 and g.flags.c_contiguous:
            # one C pass, as in _step
            _kernels.adam_step(p, m, v, g, self._alpha, np.float32(1 - self.beta_1),
                               np.float32(1 - self.beta_2), np.float32(self.epsilon))
            return
        np.subtract(g, m, out=t)
        t *= np.float32(1 - self.beta_1)
        m += t
        np.multiply(g, g, out=t)
        t -= v
        t *= np.float32(1 - self.beta_2)
        v += t
        if self.amsgrad:
            vh = self._slots[2][i]
            np.maximum(vh, v, out=vh)
            v = vh
        np.sqrt(v, out=t)
        t += np.float32(self.epsilon)
        np.divide(m, t, out=t)
        t *= self._alpha
        p -= t

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras 3): before the Adam step,
    `p -= p * weight_decay * lr`. Same defaults as Adam, weight_decay=0.004."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("`weight_decay` must be a float for AdamW. Received: weight_decay=None.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm,
                         clipvalue, global_clipnorm, name, **kwargs)


class RMSprop(Optimizer):
    """RMSprop, Keras 3's rule:

        v = rho * v + (1 - rho) * g*g
        centered: a = rho * a + (1 - rho) * g;  d = v - a*a + epsilon   else d = v + epsilon
        inc = lr * g / sqrt(d)
        momentum > 0: mom = momentum * mom + inc; p -= mom    else p -= inc

    Args:
        learning_rate: float or schedule (0.001).
        rho: float (0.9). momentum: float (0.0). epsilon: float (1e-7). centered: bool (False).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="rmsprop", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.rho = _unit_float(rho, "rho")
        self.momentum = _unit_float(momentum, "momentum")
        self.epsilon = _positive_float(epsilon, "epsilon")
        self.centered = bool(centered)
        self._slot_names = ("velocity",) + (("momentum",) if self.momentum else ()) + \
            (("average_gradient",) if self.centered else ())

    def _update(self, i, p, g, lr):
        v, t = self._slots[0][i], self._scratch[i]
        rho = np.float32(self.rho)
        v *= rho
        np.multiply(g, g, out=t)
        t *= np.float32(1 - self.rho)
        v += t
        if self.centered:
            a = self._slots[-1][i]
            a *= rho
            np.multiply(g, np.float32(1 - self.rho), out=t)
            a += t
            np.multiply(a, a, out=t)
            np.subtract(v, t, out=t)
        else:
            t[...] = v
        t += np.float32(self.epsilon)
        np.sqrt(t, out=t)
        np.divide(g, t, out=t)
        t *= np.float32(lr)
        if self.momentum:
            mom = self._slots[1][i]
            mom *= np.float32(self.momentum)
            mom += t
            p -= mom
        else:
            p -= t

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


_ALIASES = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop, "adamw": AdamW}
_CLASSES = {c.__name__: c for c in _ALIASES.values()}


def get(identifier):
    """An optimizer from a Keras name ('adam', 'sgd', 'rmsprop', 'adamw') or an instance.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer: {identifier!r}. Valid values are: "
                             f"{', '.join(repr(k) for k in _ALIASES)} (or a pyconv.optimizers.Optimizer instance).")
        return cls()
    raise TypeError(f"`optimizer` must be a string ({', '.join(repr(k) for k in _ALIASES)}) or a "
                    f"pyconv.optimizers.Optimizer instance. Received: optimizer={identifier!r}.")


def serialize(opt):
    return {"class_name": type(opt).__name__, "config": opt.get_config()}


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown optimizer class {name!r}: pass it in `custom_objects`.")
    return cls.from_config(config.get("config", {}))
