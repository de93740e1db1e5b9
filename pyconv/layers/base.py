"""The Layer base class: configuration, weights, build-from-first-shape, and the two passes.

A layer is checked configuration in `__init__`, parameters created in `build(input_shape)`,
and one call. Built-in layers implement the call as two passes over their C kernels:

    _fwd(x, training, fuse=0)       -> (y, ctx)      ctx: what backward needs, nothing else
    _bwd(ctx, dy, need_dx, fuse=0)  -> (dx, grads)   grads aligned with `trainable_weights`

The level below a built-in layer is the Cython boundary, pyconv._kernels: a pass calls its
kernels directly, with arguments checked once -- in `__init__`, in `build`, or once per input
shape (the kernels' geometry, a pyconv._geometry.Window, is cached by input shape) -- and
never through pyconv.nn, which checks every argument and consults the tape on every call.
pyconv.nn is the functional API beside the layers, on the same boundary; layers share its
argument checks (pyconv._nn_pool's) and pyconv._geometry's rules, not its calls. An
`activation=` is applied by its pyconv.activations object (Keras's level, the Activation
layer's too; a plain relu is fused into the kernel's epilogue instead).

All state of one call lives in its `ctx`, which the caller holds: a layer object is never
written by a forward or backward pass, so one model can be used from several threads.
`fuse` is the training plan's word for this call (see pyconv/models/functional.py):
FROM_LOGITS (the loss takes the pre-activation values), RELU_FOLDED (the next layer's backward
applies this layer's relu mask), RELU_MASK (this max pooling applies the previous relu's mask),
BN_RELU (this BatchNormalization applies the plain relu that follows it, in both passes),
RELU_IN_BN (this relu is that one: an identity here) and POOL_DEFER (this max pooling's
backward hands the first layer, a Conv2D, a PooledGrad: its filter gradient is computed from the
pooling's gradient without the array in between).

A user layer writes `call(inputs, training=None)` with pyconv layers, `pyconv.ops` and
`pyconv.nn`; its backward comes from the gradient tape (pyconv/_tape.py) recorded during `_fwd`.

Shapes include the batch dimension as None, like Keras: (None, 28, 28, 1).
"""
import contextvars
import inspect
import threading
import warnings

import numpy as np

from .. import _registry, _tape, _validate, activations, constraints, initializers, regularizers, utils

__all__ = ["Layer"]

FROM_LOGITS, RELU_FOLDED, RELU_MASK, BN_RELU, RELU_IN_BN, POOL_DEFER = 1, 2, 4, 8, 16, 32

# Bumped whenever a layer is built or its `trainable` changes: models re-make their plans.
_generation = [0]

# The `training` flag of the call being run, for layers called without one inside a `call`.
_training = contextvars.ContextVar("pyconv_training", default=False)
# The state updates (BatchNormalization's moving statistics) that the layers called inside a
# user `call` computed in this training pass: collected into the call's ctx, never written here.
_pending_state = contextvars.ContextVar("pyconv_pending_state", default=None)
# While a model is rebuilt from a file: how many weight values it may still allocate (the
# file's own count), so that a hostile config (units=2**22) fails before it allocates.
weight_budget = contextvars.ContextVar("pyconv_weight_budget", default=None)


_snake = _registry.to_snake_case   # Keras 3's default layer names


def _shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _known_channels(layer, input_shape):
    """The input's channel count (last axis) for building `layer`; a ValueError when unknown."""
    c = input_shape[-1]
    if c is None:
        raise ValueError(f'Layer "{layer.name}": the channel axis of the input must be known. '
                         f"Received: input_shape={_shape_str(input_shape)}.")
    return c


def _check_last_axis(layer, shape, expected):
    """A built layer called on an input whose last axis is not the `expected` size: Keras's error."""
    if shape[-1] != expected:
        raise ValueError(f'Input 0 of layer "{layer.name}" is incompatible with the layer: expected '
                         f"axis -1 of input shape to have value {expected}, but received input with shape "
                         f"{_shape_str(shape)}")


class KwargsCall(tuple):
    """The call inputs of a node whose call also took tensors as keyword arguments (Keras 3's
    `Softmax()(x, mask=m)`): (inputs, {name: tensor}). A tuple subclass, so that flatten/pack_like
    (which keep a tuple's type) carry it: a Plan hands the layer's `_fwd` the arrays packed
    the same way, and its backward reads the inputs' gradients from it (None for a keyword)."""

    __slots__ = ()


def flatten(x):
    """The arrays of a nest (an array, or a list/tuple/dict of them) as a list."""
    if isinstance(x, (list, tuple)):
        return [a for e in x for a in flatten(e)]
    if isinstance(x, dict):
        return [a for k in sorted(x) for a in flatten(x[k])]
    return [x]


def pack_like(struct, flat):
    """The inverse of `flatten`: `flat` arranged as `struct`."""
    it = iter(flat)

    def go(s):
        if isinstance(s, (list, tuple)):
            return type(s)(go(e) for e in s)
        if isinstance(s, dict):
            return {k: go(s[k]) for k in sorted(s)}
        return next(it)
    return go(struct)


def map_nest(fn, x):
    return pack_like(x, [fn(a) for a in flatten(x)])


def shape_of(x):
    """The shape nest of an array nest, batch axis included."""
    return map_nest(lambda a: tuple(a.shape), x)


class Layer:
    """Base class of every layer.

    Args:
        name: the layer's name (default: Keras' automatic name, e.g. 'dense_1').
        trainable: whether `fit` updates its weights.
        input_shape: the shape of one example (no batch axis), for a model's first layer.
        batch_input_shape, input_dim, dtype: Keras' older spellings (dtype must be float32).

    Subclassing (Keras 3): create weights in `build(input_shape)` with `add_weight`, compute
    in `call(inputs, training=None)` with pyconv layers and `pyconv.ops`; gradients come from
    the tape.

    Example:
        >>> import numpy as np
        >>> from pyconv import layers, ops
        >>> class Scale(layers.Layer):
        ...     def build(self, input_shape):
        ...         self.s = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        ...     def call(self, x):
        ...         return ops.multiply(x, self.s)
        >>> Scale()(np.ones((2, 3))).shape
        (2, 3)
    """

    _input_min_ndim = None  # checked by `_check_input_shape`
    _input_ndim = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # a user layer: its `call` (and the tape) is the computation
        cls._user_call = any("call" in vars(c) and not vars(c).get("_builtin_call")
                             for c in cls.__mro__[:cls.__mro__.index(Layer)])
        try:
            params = inspect.signature(cls.call).parameters
            cls._call_takes_training = "training" in params or any(
                p.kind is p.VAR_KEYWORD for p in params.values())
        except (TypeError, ValueError):
            cls._call_takes_training = True

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        if cls.__module__.split(".")[0] != "pyconv":
            # Keras 3: a user class's constructor arguments, when plain values, are its config
            try:
                bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
                cfg = {}
                for k, v in bound.arguments.items():
                    if k == "self":
                        continue
                    if isinstance(v, dict) and inspect.signature(cls.__init__).parameters[k].kind is \
                            inspect.Parameter.VAR_KEYWORD:
                        cfg.update(v)
                    else:
                        cfg[k] = v
                if all(_plain(v) for v in cfg.values()):
                    object.__setattr__(obj, "_auto_config", cfg)
            except TypeError:
                pass
        return obj

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None,
                 batch_input_shape=None, input_dim=None, batch_size=None, activity_regularizer=None,
                 **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if dtype not in (None, "float32", np.float32) and str(dtype) != "float32" and \
                getattr(dtype, "name", None) != "float32":
            raise ValueError(f"pyconv layers compute in float32. Received: dtype={dtype!r}.")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}.")
        self.name = name or utils._unique_name(_snake(type(self).__name__))
        self._trainable = bool(trainable)
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self._params = []  # [(weight name, array, trainable)]
        self._extras = {}  # id(weight) -> (regularizer, constraint), for those that have one
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._inbound_nodes = []  # symbolic calls (pyconv/_graph.py)
        self._build_lock = threading.RLock()
        self.__dict__.setdefault("_tracked", [])
        shape = None
        if batch_input_shape is not None:
            shape = tuple(batch_input_shape)
        elif input_shape is not None:
            if _validate.is_int(input_shape):
                input_shape = (input_shape,)
            shape = (batch_size,) + tuple(input_shape)
        elif input_dim is not None:
            shape = (batch_size, input_dim)
        if shape is not None:
            if not all(d is None or (_validate.is_int(d) and d > 0) for d in shape):
                raise ValueError(f"`input_shape` must be a tuple of positive ints. Received: "
                                 f"input_shape={shape[1:]!r}.")
            shape = tuple(None if d is None else int(d) for d in shape)
        self._declared_input_shape = shape  # (batch, ...) or None

    def __setattr__(self, name, value):
        # Sub-layers assigned as attributes (or in a list/tuple) are tracked, in order: their
        # weights are this layer's weights, as in Keras.
        if not name.startswith("__"):
            vals = value if isinstance(value, (list, tuple)) else (value,)
            for v in vals:
                if isinstance(v, Layer) and v is not self:
                    tracked = self.__dict__.setdefault("_tracked", [])
                    if not any(t is v for t in tracked):
                        tracked.append(v)
        object.__setattr__(self, name, value)

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Setting it sets it on every sub-layer too (Keras 3)."""
        self._trainable = bool(value)
        _generation[0] += 1
        for l in self.__dict__.get("_tracked", ()):
            l.trainable = value

    def _sublayers(self):
        return list(self.__dict__.get("_tracked", ()))

    # ---- weights -----------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None):
        """Create a float32 weight array of `shape` (Keras 3's signature and defaults:
        initializer 'glorot_uniform' (or 'zeros' for a 0-d or 1-d weight, as the layers use),
        trainable). Returns the live array."""
        if isinstance(shape, str) and name is None:   # pyconv's older (name, shape, ...) order
            shape, initializer, name = initializer, (dtype or "zeros"), shape
            dtype = None
        regularizer, constraint = regularizers.get(regularizer), constraints.get(constraint)
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"pyconv weights are float32. Received: dtype={dtype!r}.")
        shape = () if shape is None else ((shape,) if _validate.is_int(shape) else tuple(shape))
        if not all(_validate.is_int(d) and d >= 0 for d in shape):
            raise ValueError(f"`shape` must be a tuple of ints >= 0. Received: shape={shape!r}.")
        if initializer is None:
            initializer = "glorot_uniform" if len(shape) >= 2 else "zeros"
        budget = weight_budget.get()
        if budget is not None:
            n = 1
            for d in shape:
                n *= int(d)
            if n > budget[0]:
                raise ValueError(f'Layer "{self.name}": weight {name or "variable"} of shape {tuple(shape)} is larger '
                                 f"than what the file holds: the architecture and the weights disagree.")
            budget[0] -= n
        if name is None:
            name = "variable" if not self._params else f"variable_{len(self._params)}"
        # np.asarray keeps a 0-d weight 0-d (np.ascontiguousarray would make it (1,))
        arr = np.asarray(initializers.get(initializer)(tuple(int(d) for d in shape)), dtype=np.float32,
                         order="C")
        self._params.append((name, arr, bool(trainable)))
        if regularizer is not None or constraint is not None:
            self._extras[id(arr)] = (regularizer, constraint)
        return arr

    def _weight_extras(self):
        """(weight, regularizer, constraint) of this layer's and its sub-layers' weights that
        have either."""
        out, seen = [], set()
        for layer in [self] + self._all_sublayers():
            for _, a, _ in layer._params:
                e = layer.__dict__.get("_extras", {}).get(id(a))
                if e is not None and id(a) not in seen:
                    seen.add(id(a))
                    out.append((a, e[0], e[1]))
        return out

    def _all_sublayers(self):
        out = []
        for l in self._sublayers():
            out.append(l)
            out.extend(l._all_sublayers())
        return out

    @property
    def losses(self):
        """The weight regularization penalties (floats) of this layer and its sub-layers.
        (Activity penalties belong to a call: fit adds them to that step's loss.)"""
        return [r(a) for a, r, _ in self._weight_extras() if r is not None]

    @property
    def weights(self):
        """The layer's weight arrays (live: modifying them changes the layer), each once."""
        out, seen = [], set()
        for a in [a for _, a, _ in self._params] + [w for l in self._sublayers() for w in l.weights]:
            if id(a) not in seen:
                seen.add(id(a))
                out.append(a)
        return out

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        out, seen = [], set()
        for a in [a for _, a, t in self._params if t] + \
                [w for l in self._sublayers() for w in l.trainable_weights]:
            if id(a) not in seen:
                seen.add(id(a))
                out.append(a)
        return out

    @property
    def non_trainable_weights(self):
        tw = {id(a) for a in self.trainable_weights}
        return [a for a in self.weights if id(a) not in tw]

    @property
    def variables(self):
        return self.weights

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    def _weight_names(self):
        """(layer name, weight name) for each of `weights`, for messages and files."""
        own = {id(a): (self.name, n) for n, a, _ in self._params}
        for l in self._sublayers():
            own.update({id(a): nm for a, nm in zip(l.weights, l._weight_names()) if id(a) not in own})
        return [own[id(a)] for a in self.weights]

    def get_weights(self):
        """Copies of the weights, in Keras' order (kernel, bias)."""
        return [a.copy() for a in self.weights]

    def set_weights(self, weights):
        """Copy `weights` (a list of arrays of the right shapes) into the layer's weights.

        Raises:
            ValueError: the number or the shapes of the arrays do not match.
        """
        weights = list(weights)
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(f'Layer "{self.name}" expects {len(mine)} weights, but the weight list '
                             f"has {len(weights)} elements.")
        conv = []
        for (lname, wname), a, w in zip(self._weight_names(), mine, weights):
            w = np.asarray(w)
            if w.shape != a.shape:
                raise ValueError(f'Layer "{lname}" weight "{wname}" has shape {a.shape}; received '
                                 f"an array of shape {w.shape}.")
            conv.append(np.asarray(w, dtype=np.float32))
        for a, w in zip(mine, conv):
            np.copyto(a, w)

    def count_params(self):
        return int(sum(a.size for a in self.weights))

    # ---- shapes and building ---------------------------------------------------------------------
    def _incompatible(self, expected, shape):
        return ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: {expected}. '
                          f"Full shape received: {_shape_str(shape)}")

    def _check_input_shape(self, shape):
        if self._input_ndim is not None and len(shape) != self._input_ndim:
            raise self._incompatible(f"expected ndim={self._input_ndim}, found ndim={len(shape)}", shape)
        if self._input_min_ndim is not None and len(shape) < self._input_min_ndim:
            raise self._incompatible(f"expected min_ndim={self._input_min_ndim}, found ndim={len(shape)}", shape)
        if self.built and self.input_shape is not None:
            self._check_built_shape(shape)

    def _check_built_shape(self, shape):
        """For a built layer: the axes its weights fix (overridden by Dense, Conv2D)."""

    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch axis first, may be None)."""
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _maybe_build(self, input_shape):
        """Build once, under a lock: threads that call an unbuilt layer at once build it once."""
        if self.built:
            return
        with self._build_lock:
            if not self.built:
                self.build(input_shape)
                self.built = True
                _generation[0] += 1
                if self.input_shape is None:
                    self.input_shape = input_shape

    def _ensure_built(self, input_shape):
        """Check `input_shape` (one tensor's), build on first use, return the output shape."""
        input_shape = (None,) + tuple(input_shape[1:])
        self._check_input_shape(input_shape)
        out = self.compute_output_shape(input_shape)
        if not self.built:
            with self._build_lock:
                if not self.built:
                    self.build(input_shape)
                    self.output_shape = tuple(out)
                    self.input_shape = input_shape
                    self.built = True
                    _generation[0] += 1
        return tuple(out)

    # ---- calling -----------------------------------------------------------------------------------
    def __call__(self, inputs=None, training=None, **kwargs):
        """Apply the layer: to symbolic tensors (records a node of a functional model) or to
        arrays (computes; builds the layer from the arrays' shapes on first use)."""
        from .. import _graph
        if inputs is None:
            raise TypeError(f'Layer "{self.name}" was called without inputs.')
        if _graph.any_symbolic(inputs):
            return _graph.symbolic_call(self, inputs, kwargs)
        if kwargs:
            raise TypeError(f'Layer "{self.name}" takes `inputs` and `training`. Received also: {sorted(kwargs)}.')
        x = self._convert_inputs(inputs)
        self._prepare(x)
        training = _training.get() if training is None else bool(training)
        if _tape.is_recording():
            return self._recorded_call(x, training)
        return self.forward(x, training)

    def _convert_inputs(self, inputs):
        return map_nest(lambda a: _validate.as_float32(a, "inputs"), inputs)

    def _prepare(self, x):
        """Check the inputs' shapes and build the layer on first use."""
        if self._user_call:
            self._maybe_build(_with_none_batch(shape_of(x)))
            if self.output_shape is None and type(self).compute_output_shape is not Layer.compute_output_shape:
                try:
                    self.output_shape = self.compute_output_shape(_with_none_batch(shape_of(x)))
                except Exception:
                    pass
        elif isinstance(x, (list, tuple, dict)):
            self._ensure_built_multi(shape_of(x))
        else:
            self._ensure_built(x.shape)

    def _ensure_built_multi(self, shapes):
        raise TypeError(f'Layer "{self.name}" takes one array. Received a {type(shapes).__name__} of inputs.')

    def _symbolic_output_shape(self, shapes):
        """The output shape(s) for symbolic inputs of `shapes` (building the layer)."""
        if not self._user_call:
            if isinstance(shapes, tuple) and all(d is None or isinstance(d, int) for d in shapes):
                return self._ensure_built(shapes)
            return self._ensure_built_multi(shapes)
        self._maybe_build(_with_none_batch(shapes))
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            out = self.compute_output_shape(shapes)
            if self.output_shape is None:
                self.output_shape = out
            return out
        # Keras traces `call` symbolically; here it runs once on a batch of one example of ones
        def probe(shape):
            if any(d is None for d in shape[1:]):
                raise ValueError(f'Layer "{self.name}": define `compute_output_shape` for inputs of '
                                 f"unknown shape {_shape_str(shape)}.")
            return np.ones((1,) + tuple(shape[1:]), np.float32)
        from .._graph import flatten_shapes, pack_shapes_like
        x = pack_shapes_like(shapes, [probe(s) for s in flatten_shapes(shapes)])
        with _tape.paused():
            y = self.forward(x, False)
        out = map_nest(lambda a: (None,) + tuple(np.shape(a))[1:], y)
        if self.output_shape is None:
            self.output_shape = out
        return out

    def _recorded_call(self, x, training):
        """Inside a recording `call`: run the forward pass, record it as one op on the tape."""
        params = self.trainable_weights
        flat_in = flatten(x)
        with _tape.paused():
            y, ctx = self._fwd(x, training)
        pending = _pending_state.get()
        if pending is not None and training:
            pending.extend(state_updates_of(self, ctx))
        flat_out = flatten(y)
        single = not isinstance(y, (list, tuple, dict))
        for k, out in enumerate(flat_out):
            def backward(g, k=k):
                dys = [g if j == k else np.zeros_like(o) for j, o in enumerate(flat_out)]
                dx, grads = self._bwd(ctx, dys[0] if single else pack_like(y, dys), True)
                return tuple(flatten(dx)) + tuple(grads)
            _tape.record(tuple(flat_in) + tuple(params), out, backward)
        return y

    # ---- passes --------------------------------------------------------------------------------
    def call(self, inputs, training=None):
        """The layer's computation on arrays (built-in layers: their forward pass)."""
        return self.forward(inputs, bool(training))

    def forward(self, x, training=False):
        """Inference (or a training-mode pass without backward): the output only."""
        if self._user_call:
            return self._run_user_call(x, training)
        return self._fwd(x, training)[0]

    def _run_user_call(self, x, training):
        token = _training.set(training)
        try:
            if self._call_takes_training:
                return self.call(x, training=training)
            return self.call(x)
        finally:
            _training.reset(token)

    _kind = "Layer"

    def _fwd(self, x, training, fuse=0):
        """A user layer's training forward: its `call`, recorded on a tape of its own."""
        if not self._user_call:
            raise NotImplementedError(f"{type(self).__name__} has no `call`.")
        state = []
        token = _pending_state.set(state)
        try:
            with _tape.recording() as recs:
                y0 = self._run_user_call(x, training)
        finally:
            _pending_state.reset(token)
        y = map_nest(lambda a: _validate.as_float32(a, f'the output of layer "{self.name}"'), y0)
        return y, (recs, x, y0, state)

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        recs, x, y0 = ctx[:3]
        xs = flatten(x) if need_dx else []
        params = self.trainable_weights
        g = _tape.gradients(recs, flatten(y0), flatten(dy), xs + params)
        gx, gp = g[:len(xs)], g[len(xs):]
        if (need_dx and any(v is None for v in gx)) or all(v is None for v in g):
            raise ValueError(
                f'{self._kind} "{self.name}": no gradient flows from its output back to its '
                f'{"input" if need_dx else "weights"}. Its `call` must compute with pyconv layers, pyconv.ops '
                f"and pyconv.nn applied to the input (a NumPy expression between two ops cuts the chain; "
                f"see docs/api.md).")
        for (lname, wname), v in zip(self._trainable_names(params), gp):
            if v is None:
                warnings.warn(f'Layer "{self.name}": weight {lname}/{wname} gets no gradient (it is not used '
                              f"in `call`, or a NumPy expression cut the chain); it is not updated.",
                              RuntimeWarning, stacklevel=3)
        gp = [np.zeros_like(a) if v is None else _validate.as_float32(v, "gradient")
              for a, v in zip(params, gp)]
        dx = pack_like(x, [_validate.as_float32(v, "gradient") for v in gx]) if need_dx else None
        return dx, gp

    def _trainable_names(self, params):
        names = dict(zip((id(a) for a in self.weights), self._weight_names()))
        return [names.get(id(a), (self.name, "?")) for a in params]

    # ---- symbolic use ----------------------------------------------------------------------------
    def _node_of(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        return self._inbound_nodes[0]   # Keras 3: the first call's, for a layer called several times

    @property
    def input(self):
        """The symbolic input of a layer called once."""
        return self._node_of("input").call_inputs

    @property
    def output(self):
        """The symbolic output of a layer called once."""
        n = self._node_of("output").outputs
        return n[0] if len(n) == 1 else list(n)

    # ---- config ----------------------------------------------------------------------------------
    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self.__dict__.get("activity_regularizer") is not None:
            cfg["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._declared_input_shape is not None:
            cfg["batch_input_shape"] = list(self._declared_input_shape)
        auto = self.__dict__.get("_auto_config")
        if auto is not None and type(self).get_config is Layer.get_config or \
                (auto is not None and getattr(type(self).get_config, "__qualname__", "").startswith("Model.")):
            cfg.update({k: v for k, v in auto.items() if k not in ("name", "trainable", "dtype")})
        return cfg

    @classmethod
    def from_config(cls, config):
        """The layer from get_config(): initializers, regularizers and constraints (the keys
        ending in _initializer, _regularizer, _constraint) given as their serialized dicts too."""
        config = dict(config)
        for k, v in config.items():
            if isinstance(v, dict):
                for suffix, module in (("_initializer", initializers), ("_regularizer", regularizers),
                                       ("_constraint", constraints)):
                    if k.endswith(suffix):
                        config[k] = module.deserialize(v)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


Layer._user_call = False
Layer._call_takes_training = True


def is_stateful(layer):
    """Whether a training pass of `layer` may compute state updates (it or a sub-layer keeps
    moving statistics)."""
    return getattr(layer, "_stateful", False) or any(getattr(l, "_stateful", False)
                                                      for l in layer._all_sublayers())


def state_updates_of(layer, ctx):
    """[(array, new values)] that `layer`'s training pass with context `ctx` computed."""
    own = getattr(type(layer), "_state_updates", None)
    if own is not None:
        return layer._state_updates(ctx)
    if getattr(layer, "_functional", False):
        return layer._plan().state_updates(ctx)
    if layer._user_call and isinstance(ctx, tuple) and len(ctx) == 4:
        return list(ctx[3])
    return []


def _plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_plain(e) for e in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(e) for k, e in v.items())
    return False


def _with_none_batch(shapes):
    if isinstance(shapes, tuple) and all(d is None or isinstance(d, int) for d in shapes):
        return (None,) + shapes[1:] if shapes else shapes
    if isinstance(shapes, (list, tuple)):
        return type(shapes)(_with_none_batch(s) for s in shapes)
    if isinstance(shapes, dict):
        return {k: _with_none_batch(v) for k, v in shapes.items()}
    return shapes


class _ActivatedLayer(Layer):
    """A layer whose kernel is followed by an activation's kernel (Dense, Conv2D, Activation).

    Subclasses implement `_pre(x, training, relu)` -> (z, ctx) and `_pre_bwd(ctx, dz, need_dx)`
    -> (dx, grads): the pass before the activation. With FROM_LOGITS the loss takes z directly
    (softmax + cross-entropy), and backward skips the activation. The context keeps what the
    activation's backward takes (`Activation.saved`): its output y (relu, sigmoid, softmax, ...)
    or its input z (elu, gelu, ...); a fused relu keeps y, so RELU_FOLDED still applies.
    """

    _can_fuse_relu = False  # Conv2D and Dense: their kernels apply relu in the GEMM epilogue
    _relu_in_bwd = False    # Dense: `_pre_bwd(..., relu_out=y)` applies relu's mask itself

    def _set_kernel_args(self, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint):
        """Check and set the arguments Dense, Conv2D and Conv2DTranspose share (Keras's names)."""
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None

    def _set_activation(self, activation):
        self.activation = activations.get(activation)
        self._linear = self.activation.name == "linear"
        # the plain relu only (a parametrised one, ReLU(max_value=6), is also named 'relu')
        self._fused_relu = self._can_fuse_relu and self.activation is activations.get("relu")

    def _fwd(self, x, training, fuse=0):
        if fuse & RELU_IN_BN:   # the BatchNormalization before applied it (and its backward)
            return x, (None, None)
        if fuse & FROM_LOGITS:
            z, c = self._pre(x, training)
            return z, (c, None)
        if self._fused_relu:   # one kernel call: x -> relu(x . W + b)
            y, c = self._pre(x, training, relu=True)
            return y, (c, y)
        z, c = self._pre(x, training)
        if self._linear:
            return z, (c, None)
        y = self.activation.forward(z)
        return y, (c, self.activation.saved(z, y))   # its output or its input, as it needs

    def _bwd(self, ctx, dy, need_dx, fuse=0):
        c, saved = ctx
        if saved is not None and not fuse & (FROM_LOGITS | RELU_FOLDED):
            if self._fused_relu and self._relu_in_bwd:   # relu's mask inside the layer's call
                return self._pre_bwd(c, dy, need_dx, relu_out=saved)
            dy = self.activation.backward(dy, saved)
        return self._pre_bwd(c, dy, need_dx)

    def _pre(self, x, training, relu=False):
        return x, None

    def _pre_bwd(self, c, dz, need_dx):
        return dz, []
