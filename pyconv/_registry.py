"""One registry helper for the families of named, serializable objects (regularizers,
constraints, ...): `get` from a name, a config dict or an instance; `serialize` to
{"class_name", "config"}; `deserialize` back, looking up custom classes in `custom_objects`."""

__all__ = ["Registry"]


class Registry:
    """Args:
        kind: what the objects are, for messages ('regularizer').
        base: their base class.
        aliases: {lowercase name: class} for the string identifiers.
        classes: the classes that configs may name.
        plain_callables: whether a plain function is accepted as is by `get`.
    """

    def __init__(self, kind, base, aliases, classes, plain_callables=False):
        self.kind, self.base = kind, base
        self.aliases = dict(aliases)
        self.classes = {c.__name__: c for c in classes}
        self.plain_callables = plain_callables

    def get(self, identifier):
        if identifier is None or isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            cls = self.aliases.get(identifier.lower()) or self.classes.get(identifier)
            if cls is None:
                raise ValueError(f"Could not interpret {self.kind} identifier: {identifier!r}. Valid names: "
                                 f"{', '.join(repr(k) for k in self.aliases)}.")
            return cls()
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if callable(identifier) and self.plain_callables:
            return identifier
        raise ValueError(f"Could not interpret {self.kind} identifier: {identifier!r} (a name, a config dict "
                         f"or a {self.base.__module__}.{self.base.__name__} is expected).")

    def serialize(self, obj):
        if obj is None:
            return None
        if not isinstance(obj, self.base):
            raise ValueError(f"A {self.kind} that is not a {self.base.__name__} cannot be saved: {obj!r}.")
        return {"class_name": type(obj).__name__, "config": obj.get_config()}

    def deserialize(self, config, custom_objects=None):
        if config is None:
            return None
        name = config.get("class_name") if isinstance(config, dict) else None
        cls = (custom_objects or {}).get(name) or self.classes.get(name)
        if cls is None:
            raise ValueError(f"Unknown {self.kind} class {name!r}. Known: {', '.join(self.classes)}; pass "
                             f"others in `custom_objects`.")
        cfg = config.get("config", {})
        if not isinstance(cfg, dict):
            raise ValueError(f"The config of a {self.kind} must be a dict. Received: {cfg!r}.")
        return cls.from_config(cfg)
