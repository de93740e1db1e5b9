"""Optimizers with Keras 3's update rules, defaults and names, updating NumPy arrays in place.

`optimizer.apply(grads, params)` updates every array of `params` in place from the matching
gradient, then counts one iteration. Per-variable state (Keras's optimizer variables: Adam's
momentum and velocity, Adagrad's accumulator, ...; "slots" here) is created on the first call,
one float32 array per parameter.

One step, as Keras 3's BaseOptimizer.apply does it: the gradients are divided by
`loss_scale_factor`; with `gradient_accumulation_steps` = n they are summed and only every n-th
step updates the weights, with the mean; they are clipped (`clipnorm`, `clipvalue` or
`global_clipnorm`); weight decay (`p -= p * weight_decay * lr`) and the rule update the
weights; with `use_ema` the moving average of the weights follows. Everything that can fail
(a schedule is user code, the gradient transformations allocate) runs first; then the in-place
writes, which allocate nothing, run with signals deferred: a step is applied whole or not at
all.

The rules run in C (csrc/optim.c), one call per step for the whole parameter list, on every
ISA bitwise equal to the NumPy transcription kept in each class's `_update` (which runs for a
weight that is not C-contiguous, or a subclass that overrides `_update`). Ftrl is NumPy only.

The learning rate is a float or a schedule (pyconv.optimizers.schedules), evaluated at the
number of steps done before this one, as in Keras.
"""
import math
import sys
import types
import warnings

import numpy as np

from . import _atomic, _kernels, _registry, _validate

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Nadam", "Adagrad", "Adadelta",
           "Adamax", "Lion", "Ftrl", "schedules", "get", "serialize", "deserialize"]

_F1 = np.float32(1)


# ---- argument checks -------------------------------------------------------------------------

def _number(v, name, what):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    if not math.isfinite(v):
        raise ValueError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    return float(v)


def _positive_float(v, name):
    f = _number(v, name, "a positive float")
    if not f > 0:
        raise ValueError(f"`{name}` must be a positive float. Received: {name}={v!r}.")
    return f


def _non_negative_float(v, name):
    f = _number(v, name, "a float >= 0")
    if f < 0:
        raise ValueError(f"`{name}` must be a float >= 0. Received: {name}={v!r}.")
    return f


def _float_in(v, name, low, high, low_open=False, high_open=True):
    """A float in the interval written as in the message, e.g. [0, 1)."""
    what = f"a float in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    f = _number(v, name, what)
    if f < low or f > high or (low_open and f == low) or (high_open and f == high):
        raise ValueError(f"`{name}` must be {what}. Received: {name}={v!r}.")
    return f


def _unit_float(v, name):
    return _float_in(v, name, 0, 1)


# ---- learning-rate schedules -------------------------------------------------------------------

class LearningRateSchedule:
    """Base class: `schedule(step) -> learning rate` for the 0-based step. Subclasses override
    `__call__` and, to be saved with a model, `get_config` (Keras 3's contract)."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`get_config()` in order to be serializable.")

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
        name: the schedule's name.

    Example:
        >>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
        >>> round(s(10), 6), round(s(5), 6)
        (0.05, 0.070711)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        self.initial_learning_rate = _positive_float(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _validate.positive_int(decay_steps, "decay_steps")
        self.decay_rate = _positive_float(decay_rate, "decay_rate")
        self.staircase = bool(staircase)
        self.name = name

    def _fraction(self, step):
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._fraction(step)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps) (the fraction floored
    when `staircase`). Args as ExponentialDecay's.

    Example:
        >>> InverseTimeDecay(1.0, decay_steps=1, decay_rate=1.0)(1)
        0.5
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        ExponentialDecay.__init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    _fraction = ExponentialDecay._fraction
    get_config = ExponentialDecay.get_config

    def __call__(self, step):
        return self.initial_learning_rate / (1 + self.decay_rate * self._fraction(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <=
    boundaries[i], values[-1] after the last boundary.

    Args:
        boundaries: strictly increasing numbers.
        values: one more number than `boundaries`.
        name: the schedule's name.

    Example:
        >>> s = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> s(100), s(101), s(201)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"`values` must have one more entry than `boundaries`. Received: "
                             f"boundaries={boundaries!r}, values={values!r}.")
        for i, b in enumerate(boundaries):
            _number(b, f"boundaries[{i}]", "a number")
            if i and not b > boundaries[i - 1]:
                raise ValueError(f"`boundaries` must be strictly increasing. Received: "
                                 f"boundaries={boundaries!r}.")
        self.boundaries = boundaries
        self.values = [_number(v, f"values[{i}]", "a number") for i, v in enumerate(values)]
        self.name = name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(initial_learning_rate - end_learning_rate) * (1 - step / decay_steps) ** power
    + end_learning_rate, with step held at decay_steps after it; with `cycle`, decay_steps is
    instead the first multiple of itself >= step (at least one).

    Args:
        initial_learning_rate: a float >= 0.
        decay_steps: a positive int.
        end_learning_rate: a float >= 0 (0.0001).
        power: a float (1.0).
        cycle: bool (False).
        name: the schedule's name.

    Example:
        >>> PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.0)(5)
        0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        self.initial_learning_rate = _non_negative_float(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _validate.positive_int(decay_steps, "decay_steps")
        self.end_learning_rate = _non_negative_float(end_learning_rate, "end_learning_rate")
        self.power = _number(power, "power", "a float")
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps *= 1 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power \
            + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power,
                "cycle": self.cycle, "name": self.name}


def _cosine(fraction, alpha):
    """(1 - alpha) * 0.5 * (1 + cos(pi * fraction)) + alpha."""
    return (1 - alpha) * (0.5 * (1 + math.cos(math.pi * fraction))) + alpha


class CosineDecay(LearningRateSchedule):
    """Cosine decay, after an optional linear warmup (Keras 3's CosineDecay).

    Without `warmup_target`: initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s /
    decay_steps)) + alpha), s = min(step, decay_steps). With it: for step < warmup_steps,
    initial_learning_rate + (warmup_target - initial_learning_rate) * step / warmup_steps; then
    the same decay from warmup_target over the next decay_steps steps.

    Args:
        initial_learning_rate: a float >= 0.
        decay_steps: a positive int.
        alpha: the final learning rate as a fraction of the decay's start (0.0).
        name: the schedule's name.
        warmup_target: a float >= 0, or None for no warmup.
        warmup_steps: an int >= 0 (0).

    Example:
        >>> s = CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
        >>> s(2), s(4), round(s(9), 6), s(20)
        (0.5, 1.0, 0.5, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = _non_negative_float(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _validate.positive_int(decay_steps, "decay_steps")
        self.alpha = _number(alpha, "alpha", "a float")
        self.name = name
        self.warmup_target = None if warmup_target is None else \
            _non_negative_float(warmup_target, "warmup_target")
        self.warmup_steps = _validate.non_negative_int(warmup_steps, "warmup_steps")

    def __call__(self, step):
        if self.warmup_target is None:
            step = min(step, self.decay_steps)
            return self.initial_learning_rate * _cosine(step / self.decay_steps, self.alpha)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self.warmup_target * _cosine((step - self.warmup_steps) / self.decay_steps, self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Keras 3's CosineDecayRestarts): the multiplier
    decays from 1 to `alpha` over `first_decay_steps`, then restarts; period i lasts
    first_decay_steps * t_mul**i steps and starts at m_mul**i.

    Args:
        initial_learning_rate: a float >= 0.
        first_decay_steps: a positive int.
        t_mul: a positive float (2.0).
        m_mul: a float >= 0 (1.0).
        alpha: the floor as a fraction of the period's start (0.0).
        name: the schedule's name.

    Example:
        >>> s = CosineDecayRestarts(1.0, first_decay_steps=10)
        >>> s(0), round(s(5), 6), s(10), round(s(20), 6)
        (1.0, 0.5, 1.0, 0.5)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        self.initial_learning_rate = _non_negative_float(initial_learning_rate, "initial_learning_rate")
        self.first_decay_steps = _validate.positive_int(first_decay_steps, "first_decay_steps")
        self._t_mul = _positive_float(t_mul, "t_mul")
        self._m_mul = _non_negative_float(m_mul, "m_mul")
        self.alpha = _number(alpha, "alpha", "a float")
        self.name = name

    def __call__(self, step):
        fraction = step / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            i = math.floor(fraction)
            fraction -= i
        else:   # period i starts at fraction (1 - t_mul**i) / (1 - t_mul)
            i = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            start = (1.0 - t_mul ** i) / (1.0 - t_mul)
            fraction = (fraction - start) / t_mul ** i
        decayed = 0.5 * self._m_mul ** i * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * decayed + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                      PolynomialDecay, CosineDecay, CosineDecayRestarts)}


def serialize_schedule(s):
    """{"class_name", "config"} of a schedule (Keras's keras.optimizers.schedules.serialize)."""
    return {"class_name": type(s).__name__, "config": s.get_config()}


def deserialize_schedule(d, custom_objects=None):
    """The schedule `serialize_schedule` described; a custom one is looked up by class name in
    `custom_objects`."""
    if not isinstance(d, dict):
        raise TypeError(f"A serialized schedule must be a dict with 'class_name' and 'config'. "
                        f"Received: {d!r}.")
    name = d.get("class_name")
    cls = (custom_objects or {}).get(name) or _SCHEDULES.get(name)
    if cls is None:
        raise ValueError(f"Unknown learning-rate schedule {name!r}: pass its class in "
                         f"`custom_objects`. Built in: {', '.join(_SCHEDULES)}.")
    return cls.from_config(d.get("config", {}))


schedules = types.ModuleType(__name__ + ".schedules", "Learning-rate schedules (keras.optimizers.schedules).")
for _c in (LearningRateSchedule, *_SCHEDULES.values()):
    setattr(schedules, _c.__name__, _c)
schedules.serialize, schedules.deserialize = serialize_schedule, deserialize_schedule
schedules.__all__ = ["LearningRateSchedule", *_SCHEDULES, "serialize", "deserialize"]
sys.modules[schedules.__name__] = schedules


# ---- gradient clipping (Keras 3's formulas, in float32) ------------------------------------------

def _sum_squares(g):
    return float(np.dot(g.ravel().astype(np.float64), g.ravel().astype(np.float64)))


def _clip_by_norm(g, clipnorm):
    """g * clipnorm / max(||g||, clipnorm): tf.clip_by_norm, as Keras 3 calls it."""
    c = np.float32(clipnorm)
    return g * c / max(np.float32(math.sqrt(_sum_squares(g))), c)


def _clip_by_global_norm(grads, clipnorm):
    """Every g times clipnorm * min(1/norm, 1/clipnorm) (NaN if the norm is not finite):
    Keras 3's clip_by_global_norm."""
    norm = np.float32(math.sqrt(sum(_sum_squares(g) for g in grads if g is not None)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = np.float32(clipnorm) * np.minimum(_F1 / norm, np.float32(1.0 / clipnorm)) + (norm - norm)
    return [None if g is None else g * scale for g in grads]


# ---- the base class -----------------------------------------------------------------------------

class Optimizer:
    """Base class (Keras 3's BaseOptimizer, for NumPy arrays).

    Args:
        learning_rate: a positive float or a LearningRateSchedule.
        weight_decay: if set, every update first does `p -= p * weight_decay * lr`.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient elementwise to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
        use_ema: keep an exponential moving average of the weights (False):
            `average = ema_momentum * average + (1 - ema_momentum) * weight` after each step
            (the first step copies the weights).
        ema_momentum: a float in [0, 1] (0.99).
        ema_overwrite_frequency: with use_ema, an int >= 1: every that many steps the weights
            are overwritten with their average; None (default): only by
            `finalize_variable_values`, which Keras's fit calls at the end of training.
        loss_scale_factor: a positive float or None: `scale_loss` multiplies a loss by it and
            every step divides the gradients by it first.
        gradient_accumulation_steps: an int >= 2 or None: the weights are updated every that
            many steps, with the mean of the gradients since the last update; `iterations`
            then counts updates (and a schedule still sees every step).
        name: the optimizer's name.

    Raises:
        ValueError, TypeError: an argument out of its range or of the wrong type (the message
            names it), more than one clipping argument, an unknown keyword argument.
    """

    _slot_names = ()      # Keras's names of the per-parameter state, in `variables` order
    _slot_init = {}       # slot name -> initial value (zeros otherwise)
    _extra_init = {}      # name -> initial value of a scalar state (Nadam's u_product)
    _n_scratch = 1        # float32 arrays per parameter the NumPy rule needs
    # The rule in C, declared by each class: the name of its `_kernels.<rule>_step_list` (None:
    # NumPy only; looked up at each call, so that bench/stepprofile.py's timers around
    # _kernels' functions see it), the slots that call takes, by name and in its order (None
    # for one this configuration has not: Adam's velocity_hat without amsgrad), and the NumPy
    # `_update` it transcribes (a subclass that replaces `_update` gets its rule, not the C loop)
    _c_step = None
    _c_slots = ()
    _c_transcribes = None
    _path = "c"           # "c", "ref" (the C `_ref` loops) or "numpy": set by tests only

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=3)
        for k, v in kwargs.items():
            raise TypeError(f"{type(self).__name__}() got an unsupported argument: {k}={v!r}.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}.")
        self.name = name or _default_name(type(self).__name__)
        self.learning_rate = learning_rate
        self.weight_decay = None if weight_decay is None else _non_negative_float(weight_decay, "weight_decay")
        self.clipnorm = None if clipnorm is None else _positive_float(clipnorm, "clipnorm")
        self.clipvalue = None if clipvalue is None else _positive_float(clipvalue, "clipvalue")
        self.global_clipnorm = None if global_clipnorm is None else _positive_float(global_clipnorm, "global_clipnorm")
        self.use_ema = bool(use_ema)
        self.ema_momentum = _float_in(ema_momentum, "ema_momentum", 0, 1, high_open=False)
        if ema_overwrite_frequency is not None and (not _validate.is_int(ema_overwrite_frequency)
                                                    or ema_overwrite_frequency < 1):
            raise ValueError(f"`ema_overwrite_frequency` must be an int >= 1 or None. Received: "
                             f"ema_overwrite_frequency={ema_overwrite_frequency!r}.")
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = None if loss_scale_factor is None else \
            _positive_float(loss_scale_factor, "loss_scale_factor")
        gas = gradient_accumulation_steps
        if gas is not None and gas is not False and gas != 0 and (not _validate.is_int(gas) or gas < 2):
            raise ValueError(f"`gradient_accumulation_steps` must be an int >= 2 or None. Received: "
                             f"gradient_accumulation_steps={gas!r}.")
        self.gradient_accumulation_steps = int(gas) if gas else None   # Keras: 0 means none
        self._iterations = 0
        self.built = False
        self._slots = []         # per slot name: one array per parameter
        self._averages = []      # use_ema: one average per parameter
        self._accumulators = []  # gradient accumulation: one sum per parameter
        self._extras = []        # scalar state (0-d arrays), as _extra_init
        self._phase = None       # with accumulation: steps accumulated since the last update
        self._scratch = None     # NumPy's path: [_n_scratch][parameter] arrays, made when needed
        self._checked = None     # the params list _apply last checked

    # ---- steps and learning rate ------------------------------------------------------------
    @property
    def iterations(self):
        """Updates done: steps, or with gradient accumulation steps // gradient_accumulation_steps
        (Keras 3). Settable (with accumulation, to a whole number of updates)."""
        gas = self.gradient_accumulation_steps
        return self._iterations // gas if gas else self._iterations

    @iterations.setter
    def iterations(self, value):
        if not _validate.is_int(value) or value < 0:
            raise ValueError(f"The optimizer's `iterations` must be an int >= 0. Received: {value!r}.")
        self._iterations = int(value) * (self.gradient_accumulation_steps or 1)

    @property
    def learning_rate(self):
        """The learning rate of the next step: a schedule is evaluated at the steps done
        (every step, also with gradient accumulation, as Keras)."""
        if self._schedule is not None:
            return float(self._schedule(self._iterations))
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

    # ---- state ----------------------------------------------------------------------------------
    def build(self, params):
        """Create the state arrays for the float32 arrays of `params`: the slots (zeros, or
        the rule's initial value), the EMA averages and the gradient accumulators."""
        self._install(self._new_state(list(params)))

    def _new_state(self, params):
        def full(p, v):
            return np.zeros_like(p) if v == 0 else np.full_like(p, v)
        slots = [[full(p, self._slot_init.get(s, 0)) for p in params] for s in self._slot_names]
        by_name = dict(zip(self._slot_names, slots))
        return {"_slots": slots, "_c_slot_lists": [by_name.get(s) for s in self._c_slots],
                "_averages": [np.zeros_like(p) for p in params] if self.use_ema else [],
                "_accumulators": [np.zeros_like(p) for p in params] if self.gradient_accumulation_steps else [],
                "_extras": [np.full((), v, np.float32) for v in self._extra_init.values()],
                "_phase": np.zeros((), np.float32) if self.gradient_accumulation_steps else None,
                "_shapes": [p.shape for p in params], "_param_ids": [id(p) for p in params],
                "_scratch": None, "_checked": None}

    def _install(self, state):
        self.__dict__.update(state)
        self.built = True

    @property
    def variables(self):
        """The optimizer's state arrays, in Keras 3's order of kinds: the EMA averages, the
        gradient accumulators, each slot (e.g. Adam's momentum then velocity) one array per
        parameter, the scalar state (Nadam's u_product); then, with gradient accumulation, a
        0-d array holding the steps accumulated since the last update (Keras keeps that in its
        `iteration` variable, pyconv saves `iterations` = updates). Not `iterations`, not the
        learning rate."""
        if self._phase is not None:
            self._phase[...] = self._iterations % self.gradient_accumulation_steps
        return [*self._averages, *self._accumulators, *(a for slot in self._slots for a in slot),
                *self._extras, *(() if self._phase is None else (self._phase,))]

    def _count_variables(self):
        """(number of values, bytes) as Keras counts them: iterations (int64) and the learning
        rate (float32, unless a schedule) count one value each."""
        n = sum(a.size for a in self.variables) - (self._phase is not None)
        extra = 1 if self._schedule is not None else 2
        return n + extra, 4 * n + 8 + (0 if self._schedule is not None else 4)

    def get_state(self):
        return {"iterations": self.iterations, "variables": [a.copy() for a in self.variables]}

    def set_state(self, params, iterations, variables):
        """Restore the state saved by `get_state` (or `variables` and `iterations`) for these
        parameters. Everything is checked before the optimizer changes."""
        if not _validate.is_int(iterations) or iterations < 0:
            raise ValueError(f"The optimizer's `iterations` must be an int >= 0. Received: {iterations!r}.")
        state = self._new_state(list(params))
        mine = [*state["_averages"], *state["_accumulators"], *(a for s in state["_slots"] for a in s),
                *state["_extras"], *(() if state["_phase"] is None else (state["_phase"],))]
        variables = list(variables)
        if len(mine) != len(variables):
            raise ValueError(f"The optimizer state has {len(variables)} arrays; this {type(self).__name__} "
                             f"for these weights needs {len(mine)}.")
        for a, b in zip(mine, variables):   # (a scalar state may come back from a file as shape (1,))
            if a.shape != np.shape(b) and not (a.ndim == 0 and np.size(b) == 1):
                raise ValueError(f"Optimizer state array of shape {np.shape(b)} does not fit a parameter of "
                                 f"shape {a.shape}.")
        gas = self.gradient_accumulation_steps
        phase = float(np.reshape(variables[-1], ())) if gas else 0.0
        if not (0 <= phase < (gas or 1) and phase == int(phase)):
            raise ValueError(f"The optimizer state's accumulated step count must be an int in [0, {gas}). "
                             f"Received: {phase!r}.")
        for a, b in zip(mine, variables):
            np.copyto(a, np.reshape(b, a.shape))
        self._install(state)
        self._iterations = int(iterations) * (gas or 1) + int(phase)

    # ---- one step: apply_gradients -> apply -> _apply -> _commit -> the rule (C, or NumPy) --------
    def apply(self, grads, params):
        """One step: update each array of `params` in place from the matching gradient.

        Args:
            grads: list of float32 arrays, one per parameter (None to skip a parameter).
            params: list of float32 arrays, updated in place.

        Raises:
            ValueError: another number of gradients or parameters than when built, a gradient
                of another shape than its parameter, other arrays than the ones built for, a
                parameter that is not a writeable float32 ndarray.
        """
        self._apply(list(grads), list(params))   # new lists: checked

    def apply_gradients(self, grads_and_vars):
        """Keras' form: a list of (gradient, parameter) pairs."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [p for _, p in pairs])

    def _apply(self, grads, params):
        """The one path of a step, for `apply` and for Model.fit (which passes the same `params`
        list every step): the checks when the list is new to this optimizer, then everything
        that can fail (a schedule is user code, the gradient transformations allocate), then
        the in-place writes (`_commit`) with signals deferred."""
        if self._checked is not params:
            self._check(grads, params)
            self._checked = params
        grads, coefs = self._gradients(grads, self.learning_rate)
        grads, path = self._rule_path(grads, params)
        ema = self._ema_coefficients() if self.use_ema else None
        with _atomic.committing():
            self._commit(grads, params, coefs, ema, path)

    def _check(self, grads, params):
        """Writeable float32 weights; build on first use, then: the very arrays it was built for,
        one gradient per parameter, each of its parameter's shape."""
        for i, p in enumerate(params):
            if not (isinstance(p, np.ndarray) and p.dtype == np.float32 and p.flags.writeable):
                got = f"a {p.dtype} ndarray{'' if p.flags.writeable else ', read-only'}" \
                    if isinstance(p, np.ndarray) else type(p).__name__
                raise ValueError(f"{type(self).__name__}.apply: parameter {i} must be a writeable float32 "
                                 f"ndarray (updated in place). Received: {got}.")
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

    def _gradients(self, grads, lr):
        """(the gradients the rule takes, its coefficients or None when this step only
        accumulates), as Keras 3 transforms them: divided by loss_scale_factor, summed over
        gradient_accumulation_steps (the mean on the updating step), clipped."""
        if self.loss_scale_factor is not None:
            scale = np.float32(self.loss_scale_factor)
            grads = [None if g is None else g / scale for g in grads]
        gas = self.gradient_accumulation_steps
        if gas and (self._iterations + 1) % gas != 0:
            return grads, None
        if gas:
            n = np.float32(gas)
            grads = [None if g is None else (g + a) / n for g, a in zip(grads, self._accumulators)]
        if self.clipnorm:
            grads = [None if g is None else _clip_by_norm(g, self.clipnorm) for g in grads]
        elif self.global_clipnorm:
            grads = _clip_by_global_norm(grads, self.global_clipnorm)
        elif self.clipvalue:
            grads = [None if g is None else np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads, self._coefficients(lr)

    def _rule_path(self, grads, params):
        """(gradients, path): the C loop ("c", or tests' "ref") while the class's `_update` is
        the NumPy rule it transcribes and every array is C-contiguous float32 (a gradient of
        another dtype or layout is made so first, as Keras casts a gradient to its weight's
        dtype); NumPy's rule otherwise, its scratch arrays made here, before the commit."""
        cls = type(self)
        path = self._path if cls._update is cls._c_transcribes else "numpy"
        if path == "numpy" or not _kernels.step_lists_usable(params, grads, self._slots):
            grads = [None if g is None else np.ascontiguousarray(g, np.float32) for g in grads]
            if path != "numpy" and not _kernels.step_lists_usable(params, grads, self._slots):
                path = "numpy"   # a weight that is not C-contiguous: NumPy's rule, any layout
        if path == "numpy" and self._scratch is None:
            self._scratch = [[np.empty_like(p) for p in params] for _ in range(self._n_scratch)]
        return grads, path

    def _commit(self, grads, params, coefs, ema, path):
        """The writes of one step, on checked lists, with the numbers `_apply` computed: they
        allocate no array and cannot fail."""
        if coefs is None:
            for a, g in zip(self._accumulators, grads):
                if g is not None:
                    np.add(a, g, out=a)
        else:
            k, extras = coefs
            if path == "numpy":
                self._numpy_update(grads, params, k)
            else:
                self._c_update(params, grads, k, path == "ref")
            for a in self._accumulators:
                a.fill(0)
            for a, v in zip(self._extras, extras):
                a[...] = v
        if ema is not None:
            self._update_ema(params, path, *ema)
        self._iterations += 1

    def _coefficients(self, lr):
        """((lr, wd, the rule's float32 scalars in its C struct's order), new values of the
        scalar state) for this step: the rules' per-step numbers, computed before the commit."""
        return (np.float32(lr), np.float32(self.weight_decay or 0)), ()

    def _numpy_update(self, grads, params, k):
        """The NumPy rule on each parameter: weight decay (Keras: p - p*wd*lr), then `_update`."""
        lr, wd = k[0], k[1]
        t0 = self._scratch[0]
        for i, (p, g) in enumerate(zip(params, grads)):
            if g is None:
                continue
            if wd:
                t = t0[i]
                np.multiply(p, wd, out=t)
                t *= lr
                p -= t
            self._update(i, p, g, k)

    def _update(self, i, p, g, k):
        """The rule on parameter i in NumPy, float32 operation by float32 operation."""
        raise NotImplementedError

    def _c_update(self, params, grads, k, ref):
        """The rule on every parameter in one C call (csrc/optim.c; ref: its serial `_ref` loop)."""
        return getattr(_kernels, self._c_step)(params, grads, *self._c_slot_lists, *k, ref=ref)

    # ---- EMA and loss scaling -------------------------------------------------------------------
    def _ema_coefficients(self):
        """(m, 1 - m, whether the weights then take their average) for this step, as Keras 3:
        m = 0 on the first update (the average starts at the weights), ema_momentum after;
        every `ema_overwrite_frequency` updates the weights are overwritten."""
        m = np.float32(self.ema_momentum) if self.iterations != 0 else np.float32(0)
        freq = self.ema_overwrite_frequency
        return m, _F1 - m, bool(freq) and (self.iterations + 1) % freq == 0

    def _update_ema(self, params, path, m, c, overwrite):
        """average = m*average + c*weight for every weight; then the overwrite, if due."""
        if path == "numpy":
            for a, p, t in zip(self._averages, params, self._scratch[0]):
                a *= m
                np.multiply(p, c, out=t)
                a += t
        else:
            _kernels.ema_step_list(self._averages, params, m, c, ref=path == "ref")
        if overwrite:
            for p, a in zip(params, self._averages):
                np.copyto(p, a)

    def finalize_variable_values(self, var_list):
        """With use_ema, overwrite the weights with their moving average (Keras 3's fit calls
        this after the last epoch); nothing otherwise, or before the first step.

        Raises:
            ValueError: `var_list` is not the parameter list the optimizer was built for.
        """
        if not (self.use_ema and self.built):
            return
        var_list = list(var_list)
        if len(var_list) != len(self._averages) or any(np.shape(p) != a.shape for p, a in zip(var_list, self._averages)):
            raise ValueError(f"The length of model variables ({len(var_list)}) to override does not match "
                             f"the length of model variables stored in the optimizer ({len(self._averages)}), "
                             f"or a shape differs. Please check if the optimizer was called on your model.")
        with _atomic.committing():
            for p, a in zip(var_list, self._averages):
                np.copyto(p, a)

    def scale_loss(self, loss):
        """The loss times `loss_scale_factor` (if set): what the gradients must be computed from."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # ---- configuration --------------------------------------------------------------------------
    def get_config(self):
        lr = serialize_schedule(self._schedule) if self._schedule is not None else self._lr
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum, "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_schedule(config["learning_rate"], custom_objects)
        return cls(**config)


def _default_name(cls_name):
    """Keras 3's default optimizer names: the class name in lower case ("rmsprop", "adamw")."""
    return cls_name.lower()


# ---- the optimizers ---------------------------------------------------------------------------
# Each rule is written three times: in its class's docstring (Keras 3's formula), in `_update`
# (NumPy, float32 operation by operation) and in csrc/optim_loop.h (the same operations): the
# C result is bitwise the NumPy one. The per-step scalars are float32 computed as Keras computes
# them (a Python float where Keras has one, float32 arithmetic where Keras has a float32 tensor;
# beta**t is NumPy's scalar float32 power, libm's powf, which agrees with TensorFlow's more
# often than the ufunc np.power does).

class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras 3's rule:

        without momentum: p -= g * lr
        m = m * momentum - g * lr
        p += m                        (nesterov: p += m * momentum - g * lr)

    Args:
        learning_rate: float or schedule (0.01).
        momentum: float in [0, 1) (0.0).
        nesterov: bool (False).
        **kwargs: the base Optimizer's arguments (weight_decay, clipnorm, use_ema, ...).

    Example:
        >>> opt = SGD(learning_rate=0.5, momentum=0.5)
        >>> w = np.ones(2, np.float32)
        >>> for _ in range(2):
        ...     opt.apply([np.array([1.0, -1.0], np.float32)], [w])
        >>> w, opt.iterations
        (array([-0.25,  2.25], dtype=float32), 2)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.momentum = _unit_float(momentum, "momentum")
        self.nesterov = bool(nesterov)
        self._slot_names = ("momentum",) if self.momentum else ()
        self._n_scratch = 2 if self.momentum and self.nesterov else 1

    def _coefficients(self, lr):
        (lr, wd), _ = super()._coefficients(lr)
        return (lr, wd, np.float32(self.momentum), self.nesterov), ()

    def _update(self, i, p, g, k):
        lr, _, mu, nesterov = k
        t = self._scratch[0][i]
        np.multiply(g, lr, out=t)
        if not self.momentum:
            p -= t
            return
        m = self._slots[0][i]
        m *= mu
        m -= t
        if nesterov:
            u = self._scratch[1][i]
            np.multiply(m, mu, out=u)
            u -= t
            p += u
        else:
            p += m

    _c_step, _c_slots = "sgd_step_list", ("momentum",)
    _c_transcribes = _update

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, Keras 3's rule (t = iterations + 1):

        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)     (in float32, as Keras)
        m += (g - m) * (1 - beta_1);  v += (g*g - v) * (1 - beta_2)
        p -= m * alpha / (sqrt(v) + epsilon)      (amsgrad: max of all v so far)

    Args:
        learning_rate: float or schedule (0.001).
        beta_1, beta_2: floats in [0, 1) (0.9, 0.999).
        epsilon: float (1e-7).
        amsgrad: bool (False).
        **kwargs: the base Optimizer's arguments.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1 = _unit_float(beta_1, "beta_1")
        self.beta_2 = _unit_float(beta_2, "beta_2")
        self.epsilon = _positive_float(epsilon, "epsilon")
        self.amsgrad = bool(amsgrad)
        self._slot_names = ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum", "velocity")

    _n_scratch = 2
    _constants = None   # (hyperparameters, their float32 numbers), see _coefficients

    def _coefficients(self, lr):
        # alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) in float32 (one C call: it is
        # a dozen NumPy scalar operations, microseconds a step); the other numbers change only
        # when a hyperparameter does
        f = np.float32
        key = (self.weight_decay, self.beta_1, self.beta_2, self.epsilon)
        if self._constants is None or self._constants[0] != key:
            self._constants = key, (f(self.weight_decay or 0), f(1 - self.beta_1), f(1 - self.beta_2),
                                    f(self.epsilon))
        wd, c1, c2, eps = self._constants[1]
        alpha = f(_kernels.adam_alpha(lr, self.iterations + 1, self.beta_1, self.beta_2))
        return (f(lr), wd, alpha, c1, c2, eps), ()

    def _update(self, i, p, g, k):
        _, _, alpha, c1, c2, eps = k
        m, v = self._slots[0][i], self._slots[1][i]
        t, u = self._scratch[0][i], self._scratch[1][i]
        np.subtract(g, m, out=t)
        t *= c1
        m += t
        np.multiply(g, g, out=t)
        t -= v
        t *= c2
        v += t
        if self.amsgrad:
            vh = self._slots[2][i]
            np.maximum(vh, v, out=vh)
            v = vh
        np.multiply(m, alpha, out=t)
        np.sqrt(v, out=u)
        u += eps
        t /= u
        p -= t

    _c_step, _c_slots = "adam_step_list", ("momentum", "velocity", "velocity_hat")
    _c_transcribes = _update

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras 3): before the Adam step,
    `p -= p * weight_decay * lr`. Same defaults as Adam, weight_decay=0.004."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
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
        rho: float in [0, 1) (0.9). momentum: float in [0, 1) (0.0). epsilon: float (1e-7).
        centered: bool (False).
        **kwargs: the base Optimizer's arguments.
    """

    _n_scratch = 2

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.rho = _unit_float(rho, "rho")
        self.momentum = _unit_float(momentum, "momentum")
        self.epsilon = _positive_float(epsilon, "epsilon")
        self.centered = bool(centered)
        self._slot_names = ("velocity",) + (("momentum",) if self.momentum else ()) + \
            (("average_gradient",) if self.centered else ())

    def _coefficients(self, lr):
        return (np.float32(lr), np.float32(self.weight_decay or 0), np.float32(self.rho),
                np.float32(1 - self.rho), np.float32(self.momentum), np.float32(self.epsilon)), ()

    def _update(self, i, p, g, k):
        lr, _, rho, c_rho, mu, eps = k
        v, t, u = self._slots[0][i], self._scratch[0][i], self._scratch[1][i]
        v *= rho
        np.multiply(g, g, out=t)
        t *= c_rho
        v += t
        if self.centered:
            a = self._slots[-1][i]
            a *= rho
            np.multiply(g, c_rho, out=t)
            a += t
            np.multiply(a, a, out=t)
            np.subtract(v, t, out=t)
            t += eps
        else:
            np.add(v, eps, out=t)
        np.sqrt(t, out=t)
        np.multiply(g, lr, out=u)
        u /= t                                  # inc = lr*g / sqrt(d)
        if self.momentum:
            mom = self._slots[1][i]
            mom *= mu
            mom += u
            p -= mom
        else:
            p -= u

    _c_step, _c_slots = "rmsprop_step_list", ("velocity", "momentum", "average_gradient")
    _c_transcribes = _update

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Nadam(Optimizer):
    """Nadam (Adam with Nesterov momentum), Keras 3's rule (t = iterations + 1, u_product
    starts at 1):

        u_t = beta_1 * (1 - 0.5 * 0.96**t);  u_t1 = beta_1 * (1 - 0.5 * 0.96**(t+1))
        u_product *= u_t (as Keras, beta_1 times the same factor)
        m += (g - m) * (1 - beta_1);  v += (g*g - v) * (1 - beta_2)
        m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - beta_2**t)
        p -= m_hat * lr / (sqrt(v_hat) + epsilon)

    The scalars are computed in float32 as Keras does; u_product is a 0-d float32 state array
    (Keras's optimizer variable), after the slots in `variables`.

    Args:
        learning_rate: float or schedule (0.001).
        beta_1, beta_2: floats in [0, 1) (0.9, 0.999).
        epsilon: float (1e-7).
        **kwargs: the base Optimizer's arguments.
    """

    _slot_names = ("momentum", "velocity")
    _extra_init = {"u_product": 1.0}
    _n_scratch = 2

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1 = _unit_float(beta_1, "beta_1")
        self.beta_2 = _unit_float(beta_2, "beta_2")
        self.epsilon = _positive_float(epsilon, "epsilon")

    def _coefficients(self, lr):
        f = np.float32
        t, t1 = f(self.iterations + 1), f(self.iterations + 2)
        b1, b2, decay, half = f(self.beta_1), f(self.beta_2), f(0.96), f(0.5)
        u_t = b1 * (_F1 - half * decay ** t)
        u_t1 = b1 * (_F1 - half * decay ** t1)
        u_product = f(self._extras[0]) * b1 * (_F1 - half * decay ** t)
        k = (f(lr), f(self.weight_decay or 0), _F1 - b1, _F1 - b2, u_t1, _F1 - u_product * u_t1,
             _F1 - u_t, _F1 - u_product, _F1 - b2 ** t, f(self.epsilon))
        return k, (u_product,)

    def _update(self, i, p, g, k):
        lr, _, c1, c2, u_next, d_next, c_u, d_now, d_v, eps = k
        m, v = self._slots[0][i], self._slots[1][i]
        t, u = self._scratch[0][i], self._scratch[1][i]
        np.subtract(g, m, out=t)
        t *= c1
        m += t
        np.multiply(g, g, out=t)
        t -= v
        t *= c2
        v += t
        np.multiply(m, u_next, out=t)
        t /= d_next
        np.multiply(g, c_u, out=u)
        u /= d_now
        t += u                                  # m_hat
        t *= lr
        np.divide(v, d_v, out=u)                # v_hat
        np.sqrt(u, out=u)
        u += eps
        t /= u
        p -= t

    _c_step, _c_slots = "nadam_step_list", _slot_names
    _c_transcribes = _update

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """Adagrad, Keras 3's rule:

        accumulator += g*g
        p -= lr * g / sqrt(accumulator + epsilon)

    Args:
        learning_rate: float or schedule (0.001).
        initial_accumulator_value: float >= 0, the accumulators' start (0.1).
        epsilon: float (1e-7).
        **kwargs: the base Optimizer's arguments.
    """

    _slot_names = ("accumulator",)
    _n_scratch = 2

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value = _non_negative_float(initial_accumulator_value, "initial_accumulator_value")
        self.epsilon = _positive_float(epsilon, "epsilon")
        self._slot_init = {"accumulator": self.initial_accumulator_value}

    def _coefficients(self, lr):
        return (np.float32(lr), np.float32(self.weight_decay or 0), np.float32(self.epsilon)), ()

    def _update(self, i, p, g, k):
        lr, _, eps = k
        acc, t, u = self._slots[0][i], self._scratch[0][i], self._scratch[1][i]
        np.multiply(g, g, out=t)
        acc += t
        np.add(acc, eps, out=t)
        np.sqrt(t, out=t)
        np.multiply(g, lr, out=u)
        u /= t
        p -= u

    _c_step, _c_slots = "adagrad_step_list", _slot_names
    _c_transcribes = _update

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta, Keras 3's rule:

        accumulated_grad = rho * accumulated_grad + (1 - rho) * g*g
        d = -sqrt(accumulated_delta_var + epsilon) * g / sqrt(accumulated_grad + epsilon)
        accumulated_delta_var = rho * accumulated_delta_var + (1 - rho) * d*d
        p += lr * d

    Args:
        learning_rate: float or schedule (0.001).
        rho: float in [0, 1) (0.95).
        epsilon: float (1e-7).
        **kwargs: the base Optimizer's arguments.
    """

    _slot_names = ("accumulated_grad", "accumulated_delta_var")
    _n_scratch = 2

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.rho = _unit_float(rho, "rho")
        self.epsilon = _positive_float(epsilon, "epsilon")

    def _coefficients(self, lr):
        return (np.float32(lr), np.float32(self.weight_decay or 0), np.float32(self.rho),
                np.float32(1 - self.rho), np.float32(self.epsilon)), ()

    def _update(self, i, p, g, k):
        lr, _, rho, c_rho, eps = k
        ag, ad = self._slots[0][i], self._slots[1][i]
        t, u = self._scratch[0][i], self._scratch[1][i]
        ag *= rho
        np.multiply(g, g, out=t)
        t *= c_rho
        ag += t
        np.add(ad, eps, out=t)
        np.sqrt(t, out=t)
        t *= g
        np.add(ag, eps, out=u)
        np.sqrt(u, out=u)
        t /= u
        np.negative(t, out=t)                   # d
        ad *= rho
        np.multiply(t, t, out=u)
        u *= c_rho
        ad += u
        t *= lr
        p += t

    _c_step, _c_slots = "adadelta_step_list", _slot_names
    _c_transcribes = _update

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm), Keras 3's rule (t = iterations + 1):

        m += (g - m) * (1 - beta_1)
        norm = max(beta_2 * norm, |g|)
        p -= lr * m / ((1 - beta_1**t) * (norm + epsilon))

    Args:
        learning_rate: float or schedule (0.001).
        beta_1, beta_2: floats in [0, 1) (0.9, 0.999).
        epsilon: float (1e-7).
        **kwargs: the base Optimizer's arguments.
    """

    _slot_names = ("momentum", "norm")
    _n_scratch = 2

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1 = _unit_float(beta_1, "beta_1")
        self.beta_2 = _unit_float(beta_2, "beta_2")
        self.epsilon = _positive_float(epsilon, "epsilon")

    def _coefficients(self, lr):
        f = np.float32
        d = _F1 - f(self.beta_1) ** f(self.iterations + 1)
        return (f(lr), f(self.weight_decay or 0), f(1 - self.beta_1), f(self.beta_2), d,
                f(self.epsilon)), ()

    def _update(self, i, p, g, k):
        lr, _, c1, b2, d, eps = k
        m, nrm = self._slots[0][i], self._slots[1][i]
        t, u = self._scratch[0][i], self._scratch[1][i]
        np.subtract(g, m, out=t)
        t *= c1
        m += t
        nrm *= b2
        np.abs(g, out=t)
        np.maximum(nrm, t, out=nrm)
        np.multiply(m, lr, out=t)
        np.add(nrm, eps, out=u)
        u *= d
        t /= u
        p -= t

    _c_step, _c_slots = "adamax_step_list", _slot_names
    _c_transcribes = _update

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Lion(Optimizer):
    """Lion (evolved sign momentum), Keras 3's rule:

        p -= lr * sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g

    Args:
        learning_rate: float or schedule (0.001).
        beta_1: float in (0, 1] (0.9).
        beta_2: float in [0, 1] (0.99).
        **kwargs: the base Optimizer's arguments.
    """

    _slot_names = ("momentum",)
    _n_scratch = 2

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1 = _float_in(beta_1, "beta_1", 0, 1, low_open=True, high_open=False)
        self.beta_2 = _float_in(beta_2, "beta_2", 0, 1, high_open=False)

    def _coefficients(self, lr):
        f = np.float32
        b1, b2 = f(self.beta_1), f(self.beta_2)
        return (f(lr), f(self.weight_decay or 0), b1, _F1 - b1, b2, _F1 - b2), ()

    def _update(self, i, p, g, k):
        lr, _, b1, c1, b2, c2 = k
        m, t, u = self._slots[0][i], self._scratch[0][i], self._scratch[1][i]
        np.multiply(m, b1, out=t)
        np.multiply(g, c1, out=u)
        t += u
        np.sign(t, out=t)
        t *= lr
        p -= t
        m *= b2
        np.multiply(g, c2, out=t)
        m += t

    _c_step, _c_slots = "lion_step_list", _slot_names
    _c_transcribes = _update

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(Optimizer):
    """FTRL-proximal, Keras 3's rule (NumPy only: its powers have no C loop; -lr_power is
    written `e`):

        l2 = l2_regularization_strength + beta / (2 * lr)
        new = accumulator + g*g
        linear += g + 2 * l2_shrinkage_regularization_strength * p - (new**e - accumulator**e) / lr * p
        p = (clip(linear, -l1, l1) - linear) / (new**e / lr + 2 * l2)
        accumulator = new

    Args:
        learning_rate: float or schedule (0.001).
        learning_rate_power: float <= 0 (-0.5).
        initial_accumulator_value: float >= 0 (0.1).
        l1_regularization_strength, l2_regularization_strength,
        l2_shrinkage_regularization_strength: floats >= 0 (0.0).
        beta: float (0.0).
        **kwargs: the base Optimizer's arguments.
    """

    _slot_names = ("accumulator", "linear")
    _n_scratch = 3

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        lrp = _number(learning_rate_power, "learning_rate_power", "a float <= 0")
        if lrp > 0:
            raise ValueError(f"`learning_rate_power` must be a float <= 0. Received: "
                             f"learning_rate_power={learning_rate_power!r}.")
        self.learning_rate_power = lrp
        self.initial_accumulator_value = _non_negative_float(initial_accumulator_value, "initial_accumulator_value")
        self.l1_regularization_strength = _non_negative_float(l1_regularization_strength, "l1_regularization_strength")
        self.l2_regularization_strength = _non_negative_float(l2_regularization_strength, "l2_regularization_strength")
        self.l2_shrinkage_regularization_strength = _non_negative_float(
            l2_shrinkage_regularization_strength, "l2_shrinkage_regularization_strength")
        self.beta = _number(beta, "beta", "a float")
        self._slot_init = {"accumulator": self.initial_accumulator_value}

    def _coefficients(self, lr):
        f = np.float32
        lr = f(lr)
        l2 = f(self.l2_regularization_strength) + f(self.beta) / (f(2) * lr)
        return (lr, f(self.weight_decay or 0), f(-self.learning_rate_power), f(2) * l2,
                f(2 * self.l2_shrinkage_regularization_strength), f(self.l1_regularization_strength)), ()

    def _update(self, i, p, g, k):
        lr, _, e, two_l2, shrink2, l1 = k
        acc, lin = self._slots[0][i], self._slots[1][i]
        t, u, s = self._scratch[0][i], self._scratch[1][i], self._scratch[2][i]
        np.multiply(g, g, out=t)
        t += acc                                # new accumulator
        np.power(t, e, out=u)
        np.power(acc, e, out=s)
        np.subtract(u, s, out=s)
        s /= lr
        s *= p
        np.copyto(acc, t)
        np.multiply(p, shrink2, out=t)
        t += g                                  # the gradient with shrinkage
        t -= s
        lin += t
        u /= lr
        u += two_l2                             # quadratic
        np.clip(lin, -l1, l1, out=t)
        t -= lin
        t /= u
        np.copyto(p, t)

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


_ALIASES = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop, "adamw": AdamW, "nadam": Nadam,
            "adagrad": Adagrad, "adadelta": Adadelta, "adamax": Adamax, "lion": Lion, "ftrl": Ftrl}
_CLASSES = {c.__name__: c for c in _ALIASES.values()}



def _from_config(cls, config, custom_objects):
    if getattr(cls.from_config, "__func__", None) is Optimizer.from_config.__func__:
        return cls.from_config(config, custom_objects)   # a schedule may be a custom object
    return cls.from_config(config)


_REGISTRY = _registry.Registry("optimizer", Optimizer, _ALIASES, _CLASSES.values(), allow_none=False,
                               from_config=_from_config)


def get(identifier):
    """An optimizer from a Keras name ('adam', 'sgd', 'rmsprop', 'adamw', 'nadam', 'adagrad',
    'adadelta', 'adamax', 'lion', 'ftrl'; any case), a serialized dict, a class or an instance.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: any other kind of value.
    """
    return _REGISTRY.get(identifier)


def serialize(opt):
    return _REGISTRY.serialize(opt)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)
