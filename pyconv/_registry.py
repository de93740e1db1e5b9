"""The one registry helper for the families of named, serializable objects -- losses,
optimizers, metrics, initializers, regularizers, constraints, activations: `get` from a name, a class, a
config dict or an instance; `serialize` to {"class_name", "config"}; `deserialize` back, looking
up custom classes in `custom_objects` (Keras 3's "module" and "registered_name" keys are read
and ignored: only the classes registered here, or passed in, can be built).

Each family module makes one `Registry` and exposes its bound methods as its `get`,
`serialize` and `deserialize`; what differs between families is a constructor argument, not a
copy of the code: how a name builds its object (`make`), which plain callables are accepted
(`callables`), what None stands for (`allow_none`, `none`), what `serialize` writes
(`to_config`), and the wording of the two errors (`style`).

Also here: `to_snake_case`, Keras 3's rule for default names ("Conv2D" -> "conv2d",
"SparseCategoricalCrossentropy" -> "sparse_categorical_crossentropy").
"""
import re

__all__ = ["Registry", "to_snake_case"]


def to_snake_case(name):
    """Keras 3's keras.src.utils.naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Registry:
    """Args:
        kind: what the objects are, for messages ("loss").
        base: their base class.
        aliases: {name: class} for the string identifiers.
        lower: whether an alias also matches in another case ("Adam" for "adam"); Keras 3's
            losses match only as written.
        classes: the classes that configs (and class-name strings) may name.
        arg: the argument name the user passed the identifier as ("loss"), for messages.
        make: make(cls, identifier) -> the object a name (or a function of `callables`)
            stands for (default: cls()); the aliases' values are what it takes (classes, or
            the objects themselves for activations: make=lambda act, name: act).
        callables: True to accept any plain callable as is (initializers, constraints), or a
            {function: alias value} table of the module's functions that stand for an object
            (losses: a loss function for its class; activations: keras.activations.relu).
        allow_none: whether `get(None)` is accepted (a loss, a regularizer, an activation) or
            is an error (an optimizer, an initializer, a metric).
        none: what an accepted `get(None)` gives (None; activations: 'linear', and then the
            messages list None as a valid value).
        to_config: to_config(obj) -> what `serialize` writes (default: {"class_name",
            "config"}; activations: their name, as Keras 3).
        from_config: from_config(cls, config, custom_objects) -> the object (default:
            cls.from_config(config); optimizers pass custom_objects on to their schedules).
        style: "keras_get" -- "Unknown loss: 'x'. Valid values are: ..." and a TypeError for
            other kinds of value (losses, optimizers, metrics, initializers); or "interpret" --
            Keras 3's "Could not interpret regularizer identifier: ..." ValueError for both
            (regularizers, constraints).
    """

    def __init__(self, kind, base, aliases, classes, arg=None, lower=True, make=None, callables=None,
                 allow_none=True, none=None, to_config=None, from_config=None, style="keras_get"):
        self.kind, self.base, self.arg = kind, base, arg or kind
        self.aliases = dict(aliases)
        self.classes = {c.__name__: c for c in classes}
        self.lower = lower
        self.make = make or (lambda cls, name: cls())
        self.callables = callables
        self.allow_none, self.none = allow_none, none
        self.to_config = to_config or (lambda obj: {"class_name": type(obj).__name__,
                                                    "config": obj.get_config()})
        self.from_config = from_config or (lambda cls, config, custom_objects: cls.from_config(config))
        self.style = style

    def names(self):
        return ", ".join(repr(k) for k in self.aliases)

    def lookup(self, name):
        """The class a string names (an alias, or a class name), or None."""
        return self.aliases.get(name) or (self.lower and self.aliases.get(name.lower())) \
            or self.classes.get(name)

    def get(self, identifier):
        if identifier is None and self.allow_none:
            return self.none
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier()
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if isinstance(identifier, str):
            cls = self.lookup(identifier)
            if cls is None:
                raise self._unknown(identifier)
            return self.make(cls, identifier)
        if self.callables is True and callable(identifier) and not isinstance(identifier, type):
            return identifier
        if isinstance(self.callables, dict) and callable(identifier) and identifier in self.callables:
            return self.make(self.callables[identifier], identifier)
        raise self._wrong_kind(identifier)

    def serialize(self, obj):
        if obj is None:
            return None
        if not isinstance(obj, self.base):
            raise ValueError(f"A {self.kind} that is not a {self.base.__name__} (a plain function) cannot "
                             f"be saved: {obj!r}.")
        return self.to_config(obj)

    def deserialize(self, config, custom_objects=None):
        """The object `serialize` described (or that a name stands for, as `get` takes it)."""
        if config is None:
            return None
        if isinstance(config, str):
            return self.get(config)
        name = config.get("class_name") if isinstance(config, dict) else None
        cls = (custom_objects or {}).get(name) or self.classes.get(name)
        if cls is None:
            raise ValueError(f"Unknown {self.kind} class {name!r}: pass it in `custom_objects`. "
                             f"Known: {', '.join(self.classes)}.")
        cfg = config.get("config", {})
        if not isinstance(cfg, dict):
            raise ValueError(f"The config of a {self.kind} must be a dict. Received: {cfg!r}.")
        return self.from_config(cls, cfg, custom_objects)

    def _unknown(self, identifier):
        if self.style == "interpret":
            return ValueError(f"Could not interpret {self.kind} identifier: {identifier!r}. Valid names: "
                              f"{self.names()}.")
        others = f"a class name ({', '.join(self.classes)}) or " if self.classes else "or "
        return ValueError(f"Unknown {self.kind}: {identifier!r}. Valid values are: {self.names()}"
                          f"{' (or None)' if self.none is not None else ''}, {others}a {self._base_path()} instance.")

    def _wrong_kind(self, identifier):
        if self.style == "interpret":
            return ValueError(f"Could not interpret {self.kind} identifier: {identifier!r} (a name, a config "
                              f"dict or a {self._base_path()} is expected).")
        return TypeError(f"`{self.arg}` must be a string ({self.names()}){', None' if self.none is not None else ''} "
                         f"or a {self._base_path()} instance. Received: {self.arg}={identifier!r}.")

    def _base_path(self):
        return f"{self.base.__module__}.{self.base.__name__}"
