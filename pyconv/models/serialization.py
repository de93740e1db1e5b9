"""Model configs (Keras 3's layout for functional models) and save / load through
pyconv/_saving.py (an .npz archive with a JSON header; no pickle, no code executed on load).

A functional model's config lists its layers, each with its `inbound_nodes` (the symbolic
tensors it was called on, as [layer name, node index, tensor index]), and the model's
`input_layers` / `output_layers`; a nested model's config sits in its layer entry with
class_name "Functional" or "Sequential". A subclassed model is stored as its class name, its
`get_config()` and its build shape: `load_model` needs the class through `custom_objects`.
"""
import os

import numpy as np

from .. import _graph, _saving, losses, metrics as metrics_module, optimizers
from ..layers.base import flatten

__all__ = ["load_model"]


def _class_name(layer):
    from .model import Model
    from .sequential import Sequential
    if isinstance(layer, Sequential) and type(layer) is Sequential:
        return "Sequential"
    if isinstance(layer, Model) and type(layer) is Model:
        return "Functional"
    return type(layer).__name__


def serialize_layer(layer):
    cfg = {"class_name": _class_name(layer), "config": layer.get_config()}
    from .model import Model
    if isinstance(layer, Model) and not layer._functional and layer.built:
        cfg["build_input_shape"] = _jsonable_shape(layer.input_shape)
    return cfg


def _jsonable_shape(s):
    if s is None:
        return None
    if isinstance(s, tuple):
        return list(s)
    if isinstance(s, dict):
        return {k: _jsonable_shape(v) for k, v in s.items()}
    return [_jsonable_shape(v) for v in s]


def _shape_from_json(s):
    if isinstance(s, list) and all(d is None or isinstance(d, int) for d in s):
        return tuple(s)
    if isinstance(s, dict):
        return {k: _shape_from_json(v) for k, v in s.items()}
    if isinstance(s, list):
        return [_shape_from_json(v) for v in s]
    raise ValueError(f"invalid shape {s!r}")


def deserialize_layer(config, custom_objects=None):
    """A layer (or nested model) from {'class_name': ..., 'config': ...}."""
    from ..layers import _REGISTRY
    from .model import Model
    from .sequential import Sequential
    if not isinstance(config, dict):
        raise ValueError(f"a layer entry must be a dict. Received: {type(config).__name__}.")
    name = config.get("class_name")
    cfg = config.get("config", {})
    if not isinstance(cfg, dict):
        raise ValueError(f"the config of a {name!r} layer must be a dict.")
    custom = custom_objects or {}
    if name == "Lambda":
        return _lambda_from_config(cfg, custom)
    if name == "Sequential":
        return Sequential.from_config(cfg, custom_objects)
    if name in ("Functional", "Model"):
        return Model.from_config(cfg, custom_objects)
    cls = custom.get(name) or _REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"Unknown layer class {name!r}. Known: {', '.join(sorted(_REGISTRY))}, Functional, "
                         f"Sequential; pass others in `custom_objects`.")
    if isinstance(cls, type) and issubclass(cls, Model):
        obj = cls.from_config(cfg)
        shape = config.get("build_input_shape")
        if shape is not None and not obj.built:
            obj.build(_shape_from_json(shape))
        return obj
    return cls.from_config(cfg)


def _lambda_from_config(cfg, custom_objects):
    from ..layers.core import Lambda
    name = cfg.get("name")
    fn = custom_objects.get(name) or custom_objects.get(cfg.get("function"))
    if fn is None or not callable(fn):
        raise ValueError(f"Lambda layer {name!r}: its function ({cfg.get('function')}) is code, which pyconv "
                         f"never stores nor executes on load. Pass it to load_model as "
                         f"custom_objects={{{name!r}: function}}.")
    return Lambda(fn, output_shape=cfg.get("output_shape"), arguments=cfg.get("arguments"),
                  name=name, trainable=cfg.get("trainable", True),
                  batch_input_shape=cfg.get("batch_input_shape"))


# ---- functional configs --------------------------------------------------------------------------
def _tensor_ref(graph, t):
    layer, _, k = t._history
    return [layer.name, graph.node_index(t.node), k]


def _refs(graph, struct):
    if isinstance(struct, _graph.KerasTensor):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(struct.shape), "dtype": struct.dtype,
                           "keras_history": _tensor_ref(graph, struct)}}
    if isinstance(struct, dict):
        return {k: _refs(graph, v) for k, v in struct.items()}
    return [_refs(graph, v) for v in struct]


def _node_entry(graph, node):
    """A node as Keras 3 writes it: its call's positional and keyword arguments (a tensor
    passed by keyword, Softmax's `mask`, goes in kwargs)."""
    c = node.call_inputs
    if isinstance(c, _graph.KwargsCall):
        return {"args": [_refs(graph, c[0])], "kwargs": {k: _refs(graph, v) for k, v in c[1].items()}}
    return {"args": [_refs(graph, c)], "kwargs": {}}


def functional_config(model):
    g = model._graph
    nodes_of = {}
    for n in [t.node for t in g.inputs] + g.nodes:
        nodes_of.setdefault(id(n.layer), []).append(n)
    layers = []
    for layer in g.layers:
        entry = serialize_layer(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [_node_entry(g, n) for n in nodes_of[id(layer)] if n.inputs]
        layers.append(entry)

    def io(struct):
        if isinstance(struct, _graph.KerasTensor):
            return _tensor_ref(g, struct)
        if isinstance(struct, dict):
            return {k: _tensor_ref(g, v) for k, v in struct.items()}
        return [_tensor_ref(g, t) for t in struct]
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": io(model._inputs_struct), "output_layers": io(model._outputs_struct)}


def functional_from_config(config, custom_objects=None):
    """Rebuild a functional model: create the layers, then replay their calls in an order
    where every tensor a call needs exists already."""
    from .model import Model
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise ValueError("a functional model's config needs a list of layers.")
    by_name, pending = {}, []
    tensors = {}   # (layer name, node index, tensor index) -> KerasTensor
    for e in entries:
        if not isinstance(e, dict):
            raise ValueError("a layer entry must be a dict.")
        layer = deserialize_layer(e, custom_objects)
        name = e.get("name", layer.name)
        if name in by_name:
            raise ValueError(f"two layers are named {name!r}.")
        by_name[name] = layer
        from ..layers.core import InputLayer
        if isinstance(layer, InputLayer):
            tensors[(name, 0, 0)] = layer.output_tensor
        nodes = e.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise ValueError(f"layer {name!r}: inbound_nodes must be a list.")
        for i, node in enumerate(nodes):
            pending.append((name, layer, i, node))
    made = {}

    def resolve(a):
        if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
            h = a.get("config", {}).get("keras_history")
            if not isinstance(h, list) or len(h) != 3:
                raise ValueError(f"invalid keras_history {h!r}.")
            t = tensors.get(tuple(h))
            if t is None:
                raise KeyError(tuple(h))
            return t
        if isinstance(a, dict):
            return {k: resolve(v) for k, v in a.items()}
        if isinstance(a, list):
            return [resolve(v) for v in a]
        raise ValueError(f"invalid node argument {a!r}.")

    progress = True
    while pending and progress:
        progress = False
        rest = []
        for name, layer, i, node in pending:
            args = node.get("args") if isinstance(node, dict) else None
            if not isinstance(args, list) or len(args) != 1:
                raise ValueError(f"layer {name!r}: each inbound node needs one argument.")
            # a tensor passed by keyword (Softmax's `mask`) is passed again; the other keyword
            # arguments Keras records ({"mask": null}, {"training": true}) are its defaults
            kw = node.get("kwargs") or {}
            if not isinstance(kw, dict):
                raise ValueError(f"layer {name!r}: an inbound node's kwargs must be a dict.")
            try:
                x = resolve(args[0])
                kw = {k: resolve(v) for k, v in kw.items()
                      if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"}
            except KeyError:
                rest.append((name, layer, i, node))
                continue
            y = layer(x, **kw)
            for k, t in enumerate(flatten(y) if not isinstance(y, _graph.KerasTensor) else [y]):
                tensors[(name, made.get(name, 0), k)] = t
            made[name] = made.get(name, 0) + 1
            progress = True
        pending = rest
    if pending:
        raise ValueError(f"the layers' inbound nodes refer to tensors that no layer makes "
                         f"(first: layer {pending[0][0]!r}).")

    def io(spec):
        if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str):
            t = tensors.get(tuple(spec))
            if t is None:
                raise ValueError(f"unknown model input/output {spec!r}.")
            return t
        if isinstance(spec, dict):
            return {k: io(v) for k, v in spec.items()}
        if isinstance(spec, list):
            return [io(v) for v in spec]
        raise ValueError(f"invalid input_layers/output_layers entry {spec!r}.")
    model = Model(io(config.get("input_layers")), io(config.get("output_layers")), name=config.get("name"))
    if config.get("trainable") is False:
        model.trainable = False
    return model


# ---- files ------------------------------------------------------------------------------------
def _pyconv_version():
    import pyconv
    return pyconv.__version__


def _check_overwrite(filepath, overwrite):
    if not overwrite and os.path.lexists(filepath):
        raise FileExistsError(f"'{filepath}' exists and overwrite=False.")


def _header(model, kind, with_optimizer):
    specs = [{"layer": l, "name": n, "shape": list(a.shape)}
             for (l, n), a in zip(model._weight_names(), model.weights)]
    header = {"format": _saving.FORMAT, "format_version": _saving.FORMAT_VERSION,
              "pyconv_version": _pyconv_version(), "kind": kind,
              "model": serialize_layer(model),
              "weights": specs, "compile": None, "optimizer_state": None}
    opt_vars = []
    if model.compiled and kind == "model":
        spec = model._compile_spec
        header["compile"] = {"optimizer": optimizers.serialize(model.optimizer),
                             "loss": _ser_nest(spec["loss"], lambda l: losses.serialize(losses.get(l))),
                             "loss_weights": spec["loss_weights"],
                             "metrics": _ser_nest(spec["metrics"], _ser_metric),
                             "weighted_metrics": _ser_nest(spec["weighted_metrics"], _ser_metric)}
    if with_optimizer and model.compiled and model.optimizer.built:
        opt_vars = model.optimizer.variables
        header["optimizer_state"] = {"iterations": model.optimizer.iterations, "count": len(opt_vars)}
    return header, opt_vars


def _ser_metric(m):
    return m if isinstance(m, str) else metrics_module.serialize(m)


def _ser_nest(spec, fn):
    if spec is None:
        return None
    if isinstance(spec, dict):
        return {"__dict__": {k: _ser_nest(v, fn) for k, v in spec.items()}}
    if isinstance(spec, (list, tuple)):
        return [_ser_nest(v, fn) for v in spec]
    return fn(spec)


def _de_nest(spec, fn):
    if spec is None:
        return None
    if isinstance(spec, dict) and "__dict__" in spec:
        return {k: _de_nest(v, fn) for k, v in spec["__dict__"].items()}
    if isinstance(spec, list):
        return [_de_nest(v, fn) for v in spec]
    return fn(spec)


def _suffix(filepath):
    """'.keras', '.h5' (also .hdf5 and .weights.h5) or None: which format a file name asks for."""
    name = os.fspath(_validate_path(filepath)).lower()
    if name.endswith(".keras"):
        return ".keras"
    if name.endswith((".h5", ".hdf5")):
        return ".h5"
    return None


def _validate_path(filepath):
    from .. import _validate
    return _validate.filepath(filepath)


def save_model(model, filepath, overwrite=True):
    """`.keras`: Keras 3's archive (keras_format.py); `.h5`/`.hdf5`: Keras's legacy HDF5 file
    (legacy_h5.py); any other name: pyconv's own archive (pyconv/_saving.py)."""
    suffix = _suffix(filepath)
    _check_overwrite(filepath, overwrite)
    if not model.built:
        raise ValueError(f'Model "{model.name}" is not built yet: nothing to save. Call it on data or '
                         f"give the first layer an input_shape.")
    if suffix == ".keras":
        from . import keras_format
        keras_format.save_keras(model, filepath)
        return
    if suffix == ".h5":
        from . import legacy_h5
        legacy_h5.save_model(model, filepath)
        return
    header, opt_vars = _header(model, "model", True)
    _saving.save(filepath, header, model.weights, opt_vars)


def save_weights(model, filepath, overwrite=True):
    """`.weights.h5` (any `.h5`): Keras 3's weights file; `.keras`: refused, as Keras 3 does;
    any other name: pyconv's own archive."""
    suffix = _suffix(filepath)
    if suffix == ".keras":
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={os.fspath(filepath)} "
                         f"(save_weights writes Keras's weights file; model.save writes a '.keras' archive).")
    _check_overwrite(filepath, overwrite)
    if suffix == ".h5":
        if not model.built:
            raise ValueError(f'Model "{model.name}" is not built yet: it has no weights to save.')
        from . import keras_format
        keras_format.save_weights_h5(model, filepath)
        return
    header, _ = _header(model, "weights", False)
    _saving.save(filepath, header, model.weights)


def load_weights(model, filepath):
    """From pyconv's archive, a `.keras` archive, a Keras 3 `.weights.h5` or a legacy HDF5 file
    (told apart by their content, not their name)."""
    from . import keras_format
    path = _validate_path(filepath)
    if keras_format.is_hdf5(path) or keras_format.is_keras_archive(path):
        keras_format.load_keras_weights(model, path)
        return
    header, weights, _ = _saving.load(filepath)
    _load_weights_checked(model, filepath, header, weights)


def _load_weights_checked(model, filepath, header, weights):
    from .sequential import Sequential
    built_here, shape = False, None
    if not model.built and isinstance(model, Sequential):
        mc = header.get("model")
        shape = mc.get("config", {}).get("build_input_shape") if isinstance(mc, dict) and \
            isinstance(mc.get("config"), dict) else None
    try:
        if shape is not None:
            built_here = True
            _rebuild(filepath, header, lambda: model.build(_shape_from_json(shape)))
        _copy_weights(model, filepath, header, weights)
    except BaseException:
        if built_here:   # a failed load leaves the model as it was: unbuilt
            model._unbuild_layers()
        raise


def _copy_weights(model, filepath, header, weights):
    mine = list(zip(model._weight_names(), model.weights))
    specs = header["weights"]
    if len(mine) != len(specs):
        raise ValueError(f"Cannot load '{filepath}' into model \"{model.name}\": the file holds "
                         f"{len(specs)} weight arrays, the model has {len(mine)} (a different architecture).")
    for ((lname, wname), a), spec, w in zip(mine, specs, weights):
        if not isinstance(spec, dict):
            spec = {}
        if a.shape != w.shape:
            raise ValueError(f"Cannot load '{filepath}' into model \"{model.name}\": weight "
                             f"{lname}/{wname} has shape {a.shape} but the file's "
                             f"{spec.get('layer')}/{spec.get('name')} has shape {w.shape} (a different architecture).")
    from .. import _atomic
    with _atomic.committing():   # all the new weights or all the old ones
        for (_, a), w in zip(mine, weights):
            np.copyto(a, w)


def _rebuild(filepath, header, make):
    """make() (building layers from the file's configs) with the allocation budget of the file's
    weights; any failure is a ValueError naming the file."""
    from ..layers import base
    token = base.weight_budget.set([_saving.weight_budget(header)])
    try:
        return make()
    except MemoryError:
        raise
    except ValueError as e:
        raise ValueError(f"Cannot load '{filepath}': {e}") from None
    except Exception as e:   # a hostile config: one documented error, whatever broke
        raise ValueError(f"Cannot load '{filepath}': the architecture in the file is inconsistent "
                         f"({type(e).__name__}: {e}).") from None
    finally:
        base.weight_budget.reset(token)


def _compile_from_header(model, filepath, cc, custom_objects):
    """Compile `model` as the file's compile configuration says; returns the optimizer."""
    try:
        opt = optimizers.deserialize(cc["optimizer"], custom_objects)
        loss = _de_nest(cc["loss"], lambda d: d if isinstance(d, str) else losses.deserialize(d, custom_objects))
        mets = _de_nest(cc.get("metrics"), lambda m: m if isinstance(m, str)
                        else metrics_module.deserialize(m, custom_objects))
        wmets = _de_nest(cc.get("weighted_metrics"), lambda m: m if isinstance(m, str)
                         else metrics_module.deserialize(m, custom_objects))
        model.compile(optimizer=opt, loss=loss, loss_weights=cc.get("loss_weights"), metrics=mets,
                      weighted_metrics=wmets)
        model._state()
    except MemoryError:
        raise
    except Exception as e:   # a hostile compile configuration: one documented error
        raise ValueError(f"Cannot load '{filepath}': the compile configuration is inconsistent "
                         f"({type(e).__name__}: {e}).") from None
    return opt


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by `model.save` (pyconv's archive or Keras 3's `.keras`, told apart by their
    content) or by Keras 2's `model.save("m.h5")`: architecture, weights, compile
    configuration and optimizer state (training continues exactly where it stopped).

    Args:
        filepath: the file.
        custom_objects: dict name -> object for what cannot be stored: a Lambda layer's
            function (keyed by the layer's name), custom layer, model, loss, metric or
            optimizer classes (keyed by class name).
        compile: whether to compile the model as it was saved.
        safe_mode: as Keras 3: a Lambda whose function a Keras file holds as bytecode is refused
            unless safe_mode=False; pyconv never executes code from a file, so the function
            must also come through custom_objects.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated, corrupted, newer-version or inconsistent file, or a Lambda
            layer or custom class missing from custom_objects.
    """
    from . import keras_format
    path = _validate_path(filepath)
    if keras_format.is_keras_archive(path):
        return keras_format.load_keras(path, custom_objects, compile, safe_mode)
    if keras_format.is_hdf5(path):
        from . import legacy_h5
        return legacy_h5.load_model(path, custom_objects, compile, safe_mode)
    header, weights, opt_vars = _saving.load(filepath)
    if header.get("kind") != "model":
        raise ValueError(f"Cannot load '{filepath}' as a model: it holds weights only (saved by "
                         f"save_weights); build the model and call model.load_weights.")
    mc = header.get("model") or {}
    if not isinstance(mc, dict):
        raise ValueError(f"Cannot load '{filepath}': the model description is not a dict.")
    model = _rebuild(filepath, header, lambda: deserialize_layer(mc, custom_objects))
    from .model import Model
    if not isinstance(model, Model):
        raise ValueError(f"Cannot load '{filepath}': it holds a {type(model).__name__}, not a model.")
    _load_weights_checked(model, filepath, header, weights)
    cc = header.get("compile")
    if compile and cc:
        opt = _compile_from_header(model, filepath, cc, custom_objects)
        st = header.get("optimizer_state")
        if st:
            try:
                opt.set_state(model._state().params, st["iterations"], opt_vars)
            except ValueError as e:
                raise ValueError(f"Cannot load '{filepath}': {e}") from None
    return model
