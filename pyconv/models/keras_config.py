"""Keras 3.15's model configs (config.json) from pyconv models, and pyconv configs from Keras's
(Keras 3, or Keras 2's legacy layout), with no code executed on load.

Each layer class maps to Keras by its class name: `_KERAS_LAYERS` lists Keras 3.15's config keys
and defaults per class (a layer missing from it is written with its own `get_config()`, which
uses Keras's names). Loading goes the other way: a key pyconv's class does not take is dropped
when it holds Keras's default and reported otherwise; every unsupported layer, option or value,
every unknown module or registered_name and every Lambda holding bytecode is collected into ONE
error (`Problems`).
"""
import inspect

import numpy as np

__all__ = ["class_name", "keras_config", "compile_config", "to_pyconv_entry", "dry_run", "compile_from_keras", "Problems"]


# ---- Keras 3.15's layer configs -------------------------------------------------------------------
class _Required:
    def __repr__(self):
        return "REQ"


REQ = _Required()   # a config key with no default: pyconv's config always has it


def _obj(kind, class_name, config):
    return {"module": f"keras.{kind}", "class_name": class_name, "config": config, "registered_name": None}


_GLOROT = _obj("initializers", "GlorotUniform", {"seed": None, "input_axes": None, "output_axes": None})
_ZEROS, _ONES = _obj("initializers", "Zeros", {}), _obj("initializers", "Ones", {})

# class name -> (whether Keras writes a build_config, Keras 3.15's config after name/trainable/dtype
# with its defaults, in Keras's key order). Read off Keras 3.15.1's get_config of each class; held
# to it by tests/test_keras_interop.py (Keras's re-saved config.json equals pyconv's, key for key).
_KERAS_LAYERS = {
    "InputLayer": (False, {"batch_shape": REQ, "dtype": "float32", "sparse": False, "ragged": False, "name": None,
                           "optional": False}),
    "Conv2D": (True, {"filters": REQ, "kernel_size": REQ, "strides": [1, 1], "padding": "valid",
                      "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "linear",
                      "use_bias": True, "kernel_initializer": _GLOROT, "bias_initializer": _ZEROS,
                      "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                      "kernel_constraint": None, "bias_constraint": None}),
    "MaxPooling2D": (False, {"pool_size": [2, 2], "padding": "valid", "strides": [2, 2],
                             "data_format": "channels_last"}),
    "AveragePooling2D": (False, {"pool_size": REQ, "padding": "valid", "strides": [2, 2],
                                 "data_format": "channels_last"}),
    "GlobalAveragePooling2D": (False, {"data_format": "channels_last", "keepdims": False}),
    "GlobalMaxPooling2D": (False, {"data_format": "channels_last", "keepdims": False}),
    "Flatten": (True, {"data_format": "channels_last"}),
    "Dense": (True, {"units": REQ, "activation": "linear", "use_bias": True, "kernel_initializer": _GLOROT,
                     "bias_initializer": _ZEROS, "kernel_regularizer": None, "bias_regularizer": None,
                     "kernel_constraint": None, "bias_constraint": None, "quantization_config": None}),
    "Dropout": (False, {"rate": REQ, "seed": None, "noise_shape": None}),
    "Activation": (False, {"activation": REQ}),
    "ReLU": (False, {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}),
    "Softmax": (False, {"axis": -1}),
    "Reshape": (False, {"target_shape": REQ}),
    "Add": (True, {}),
    "Subtract": (True, {}),
    "Multiply": (True, {}),
    "Average": (True, {}),
    "Maximum": (True, {}),
    "Minimum": (True, {}),
    "Concatenate": (True, {"axis": -1}),
    "ZeroPadding2D": (True, {"padding": [[1, 1], [1, 1]], "data_format": "channels_last"}),
    "Cropping2D": (True, {"cropping": [[0, 0], [0, 0]], "data_format": "channels_last"}),
    "UpSampling2D": (True, {"size": [2, 2], "data_format": "channels_last", "interpolation": "nearest"}),
    "Rescaling": (True, {"scale": REQ, "offset": 0.0}),
    "BatchNormalization": (True, {"axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
                                  "beta_initializer": _ZEROS, "gamma_initializer": _ONES,
                                  "moving_mean_initializer": _ZEROS, "moving_variance_initializer": _ONES,
                                  "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                                  "gamma_constraint": None, "synchronized": False, "renorm": False,
                                  "renorm_clipping": None, "renorm_momentum": 0.99}),
    "Lambda": (True, {"function": REQ, "arguments": {}}),
    "Conv2DTranspose": (True, {"filters": REQ, "kernel_size": REQ, "strides": [1, 1], "padding": "valid",
                               "output_padding": None, "data_format": "channels_last", "dilation_rate": [1, 1],
                               "activation": "linear", "use_bias": True, "kernel_initializer": _GLOROT,
                               "bias_initializer": _ZEROS, "kernel_regularizer": None, "bias_regularizer": None,
                               "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}),
    "DepthwiseConv2D": (True, {"depth_multiplier": 1, "kernel_size": REQ, "strides": [1, 1], "padding": "valid",
                               "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear",
                               "use_bias": True, "depthwise_initializer": _GLOROT, "bias_initializer": _ZEROS,
                               "depthwise_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                               "depthwise_constraint": None, "bias_constraint": None}),
    "SeparableConv2D": (True, {"depth_multiplier": 1, "filters": REQ, "kernel_size": REQ, "strides": [1, 1],
                               "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1],
                               "activation": "linear", "use_bias": True, "depthwise_initializer": _GLOROT,
                               "pointwise_initializer": _GLOROT, "bias_initializer": _ZEROS,
                               "depthwise_regularizer": None, "pointwise_regularizer": None, "bias_regularizer": None,
                               "activity_regularizer": None, "depthwise_constraint": None,
                               "pointwise_constraint": None, "bias_constraint": None}),
    "ELU": (False, {"name": REQ, "alpha": 1.0, "trainable": REQ, "dtype": REQ}),   # Keras's own key order
    "LeakyReLU": (False, {"negative_slope": 0.3}),
    "PReLU": (True, {"alpha_initializer": _ZEROS, "alpha_regularizer": None, "alpha_constraint": None,
                     "shared_axes": None}),
    "Normalization": (True, {"axis": [-1], "invert": False, "mean": None, "variance": None}),
    "CenterCrop": (True, {"data_format": "channels_last", "height": REQ, "width": REQ}),
    "Resizing": (True, {"data_format": "channels_last", "height": REQ, "width": REQ, "interpolation": "bilinear",
                        "crop_to_aspect_ratio": False, "pad_to_aspect_ratio": False, "fill_mode": "constant",
                        "fill_value": 0.0, "antialias": False}),
    "RandomCrop": (True, {"data_format": "channels_last", "height": REQ, "width": REQ, "seed": None}),
    "RandomFlip": (True, {"data_format": "channels_last", "seed": None, "mode": "horizontal_and_vertical"}),
    "RandomContrast": (True, {"data_format": "channels_last", "factor": REQ, "value_range": [0, 255], "seed": None}),
    "RandomRotation": (True, {"data_format": "channels_last", "factor": REQ, "fill_mode": "reflect", "fill_value": 0.0,
                              "interpolation": "bilinear", "seed": None}),
    "RandomTranslation": (True, {"data_format": "channels_last", "height_factor": REQ, "width_factor": REQ,
                                 "fill_mode": "reflect", "interpolation": "bilinear", "seed": None,
                                 "fill_value": 0.0}),
    "RandomZoom": (True, {"data_format": "channels_last", "height_factor": REQ, "width_factor": None,
                          "fill_mode": "reflect", "interpolation": "bilinear", "seed": None, "fill_value": 0.0}),
}

# the classes whose `call` takes a `mask` argument in Keras 3.15: their inbound nodes say {"mask": null}
_CALL_TAKES_MASK = {"Softmax", "BatchNormalization", "Lambda", "Sequential", "Functional"}
# the image preprocessing classes, whose `call(data, training=True)` default Keras 3.15 records:
# their inbound nodes say {"training": true}
_CALL_RECORDS_TRAINING = {"Resizing", "CenterCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
                          "RandomZoom", "RandomContrast", "RandomCrop"}

_POLICY = _obj("", "DTypePolicy", {"name": "float32"})
_POLICY["module"] = "keras"
# initializers whose Keras 3.15 config adds input_axes/output_axes (both None unless set)
_AXES_INITIALIZERS = {"GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
                      "VarianceScaling"}
# config keys (by suffix) holding objects, and the Keras module of each kind
_OBJ_KINDS = (("_initializer", "initializers"), ("_regularizer", "regularizers"), ("_constraint", "constraints"))
_KERAS_MODULES = {"keras", "keras.layers", "keras.models", "keras.initializers", "keras.regularizers",
                  "keras.constraints", "keras.optimizers", "keras.optimizers.schedules", "keras.losses",
                  "keras.metrics", "keras.activations", "keras.src.models.functional",
                  "keras.src.models.sequential", "keras.src.models.model"}
_MODEL_MODULES = {"keras", "keras.models", "keras.src.models.functional", "keras.src.models.sequential",
                  "keras.src.models.model"}
_PYCONV_ONLY = {"OpLayer"}   # pyconv layers Keras has no class for: written under pyconv's module


def _kind_of(key):
    for suffix, kind in _OBJ_KINDS:
        if key.endswith(suffix):
            return kind
    return None


def _keras_object(d, kind):
    """pyconv's {'class_name', 'config'} -> Keras's serialized object of module keras.<kind>."""
    if not isinstance(d, dict) or "class_name" not in d:
        return d
    cfg = dict(d.get("config") or {})
    if kind == "initializers" and d["class_name"] in _AXES_INITIALIZERS:
        cfg = {"seed": cfg.pop("seed", None), **cfg, "input_axes": None, "output_axes": None}
    if kind == "optimizers" and isinstance(cfg.get("learning_rate"), dict):
        cfg["learning_rate"] = _keras_object(cfg["learning_rate"], "optimizers.schedules")
    elif kind == "optimizers" and isinstance(cfg.get("learning_rate"), float):   # Keras's float32 variable
        cfg["learning_rate"] = float(np.float32(cfg["learning_rate"]))
    return {"module": f"keras.{kind}", "class_name": d["class_name"], "config": cfg, "registered_name": None}


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


# ---- pyconv model -> Keras config --------------------------------------------------------------
def class_name(layer):
    from .serialization import _class_name as cn
    return cn(layer)


def keras_config(model):
    """Keras 3.15's config.json content (without compile_config) for a built pyconv model."""
    from . import serialization
    return _entry(model, serialization.serialize_layer(model))


def _entry(layer, entry):
    from .model import Model
    from ..layers.core import InputLayer
    cls = entry["class_name"]
    if cls == "Sequential":
        out = _sequential_entry(layer)
    elif cls == "Functional":
        out = _functional_entry(layer)
    elif isinstance(layer, InputLayer):
        out = _leaf_entry(layer, cls, entry["config"])
    elif isinstance(layer, Model):   # a subclassed model: its class through custom_objects
        out = {"module": type(layer).__module__, "class_name": cls, "config": _jsonable(entry["config"]),
               "registered_name": cls}
        if layer.built and layer.input_shape is not None:
            out["build_config"] = {"input_shape": _jsonable(layer.input_shape)}
    else:
        out = _leaf_entry(layer, cls, entry["config"])
    for k in ("name", "inbound_nodes"):
        if k in entry:
            out[k] = entry[k]
    if cls in _CALL_TAKES_MASK and "inbound_nodes" in out:   # Keras records their calls' mask argument
        out["inbound_nodes"] = [dict(n, kwargs=n.get("kwargs") or {"mask": None}) for n in out["inbound_nodes"]]
    if cls in _CALL_RECORDS_TRAINING and "inbound_nodes" in out:
        out["inbound_nodes"] = [dict(n, kwargs=n.get("kwargs") or {"training": True}) for n in out["inbound_nodes"]]
    return out


def _sequential_entry(model):
    from . import serialization
    from ..layers.core import InputLayer
    shape = list(model.input_shape) if model.built else None
    first = model.__dict__.get("_input_layer")
    inp = {"module": "keras.layers", "class_name": "InputLayer",
           "config": {"batch_shape": shape, "dtype": "float32", "sparse": False, "ragged": False,
                      "name": first.name if isinstance(first, InputLayer) else f"{model.name}_input",
                      "optional": False}, "registered_name": None}
    layers = [inp] + [_entry(l, serialization.serialize_layer(l)) for l in model.layers]
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": model.name, "trainable": model.trainable, "dtype": _POLICY, "layers": layers,
                       "build_input_shape": shape},
            "registered_name": None, "build_config": {"input_shape": shape}, "compile_config": {}}


def _functional_entry(model):
    from . import serialization
    cfg = serialization.functional_config(model)
    layers = [_entry(l, e) for l, e in zip(model.layers, cfg["layers"])]
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": cfg["name"], "trainable": cfg["trainable"], "layers": layers,
                       "input_layers": cfg["input_layers"], "output_layers": cfg["output_layers"]},
            "registered_name": "Functional", "build_config": {"input_shape": None}, "compile_config": {}}


def _leaf_entry(layer, cls, cfg):
    from ..layers import _REGISTRY
    spec = _KERAS_LAYERS.get(cls)
    base = {"name": cfg.get("name", layer.name), "trainable": cfg.get("trainable", True), "dtype": _POLICY}
    # name, trainable and dtype come first, unless the table places them (Keras's ELU)
    c = {} if cls == "InputLayer" or (spec is not None and "name" in spec[1]) else dict(base)
    rest = {k: v for k, v in cfg.items() if k not in ("name", "trainable", "dtype", "batch_input_shape")}
    if cls == "Lambda":
        fn = rest.pop("function", None)
        rest.pop("note", None)
        rest["function"] = {"module": "builtins", "class_name": "function", "config": fn,
                            "registered_name": "function"}
        rest["arguments"] = rest.get("arguments") or {}
    if spec is not None:
        for k, default in spec[1].items():
            if cls != "InputLayer" and k in base:
                c[k] = base[k]
                continue
            v = rest.pop(k, default)
            if v is REQ:
                raise ValueError(f"Layer {layer.name!r} ({cls}): its config has no {k!r}; it cannot be written "
                                 f"in Keras's format.")
            c[k] = v
    c.update((k, v) for k, v in rest.items() if v is not None)
    if cls == "InputLayer":
        c["name"] = layer.name
    for k, v in list(c.items()):
        kind = _kind_of(k)
        c[k] = _keras_object(v, kind) if kind and isinstance(v, dict) and "module" not in v else _jsonable(v)
    if cls in _PYCONV_ONLY or cls not in _REGISTRY:   # Keras needs the class: a custom object there
        module, registered = type(layer).__module__, f"pyconv>{cls}" if cls in _PYCONV_ONLY else cls
    else:
        module, registered = "keras.layers", None
    out = {"module": module, "class_name": cls, "config": c, "registered_name": registered}
    if (spec[0] if spec is not None else cls != "InputLayer") and layer.built and layer.input_shape is not None:
        out["build_config"] = {"input_shape": _jsonable(layer.input_shape)}
    return out


def compile_config(model):
    """Keras's compile_config from pyconv's compile spec ({} when not compiled)."""
    from . import serialization
    from .. import losses, metrics as metrics_module, optimizers
    if not model.compiled:
        return {}
    spec = model._compile_spec

    def loss(l):
        return l if isinstance(l, str) else _keras_object(losses.serialize(losses.get(l)), "losses")

    def metric(m):
        return m if isinstance(m, str) else _keras_object(metrics_module.serialize(m), "metrics")
    return _jsonable({"optimizer": _keras_object(optimizers.serialize(model.optimizer), "optimizers"),
                      "loss": serialization._ser_nest(spec["loss"], loss),
                      "loss_weights": spec["loss_weights"],
                      "metrics": serialization._ser_nest(spec["metrics"], metric),
                      "weighted_metrics": serialization._ser_nest(spec["weighted_metrics"], metric),
                      "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False})


class Problems(list):
    """Everything in a file that pyconv cannot represent, reported in one error."""

    def raise_if_any(self, filepath):
        if self:
            lines = "\n".join(f"  - {p}" for p in self)
            raise ValueError(f"Cannot load '{filepath}': {len(self)} layer(s) or option(s) in it cannot be loaded "
                             f"(what pyconv does not have, or code it does not run):\n{lines}")


def _strip_object(d, where, problems, custom):
    """Keras's serialized object -> pyconv's {'class_name', 'config'}; its module checked."""
    if not isinstance(d, dict) or "class_name" not in d:
        return d
    module, name = d.get("module"), d.get("class_name")
    reg = d.get("registered_name")
    if module is not None and module not in _KERAS_MODULES and not str(module).startswith("pyconv") \
            and not (name in custom or reg in custom):
        problems.append(f"{where}: {name!r} from module {module!r} is not a Keras or pyconv class (pass it in "
                        f"custom_objects)")
    cfg = d.get("config")
    if isinstance(cfg, dict):
        cfg = dict(cfg)
        for k in ("input_axes", "output_axes"):
            if k in cfg:
                v = cfg.pop(k)
                if v is not None:
                    problems.append(f"{where}: initializer option {k}={v!r}")
        if isinstance(cfg.get("learning_rate"), dict):
            cfg["learning_rate"] = _strip_object(cfg["learning_rate"], where, problems, custom)
    return {"class_name": name, "config": cfg if cfg is not None else {}}


def _accepted(cls):
    """The keyword arguments a pyconv layer class's constructor (and Layer's) takes."""
    from ..layers.base import Layer
    names = set()
    for c in (cls, Layer):
        names |= {n for n, p in inspect.signature(c.__init__).parameters.items()
                  if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return names


def _dtype_name(d):
    if isinstance(d, dict):
        d = (d.get("config") or {}).get("name")
    return d


def _node_from_legacy(node):
    """Keras 2's inbound node [[name, node, tensor, kwargs], ...] -> Keras 3's {'args', 'kwargs'}."""
    if isinstance(node, dict):
        return node
    if not isinstance(node, list):
        raise ValueError(f"invalid inbound node {node!r}.")
    refs = []
    for t in node:
        if not (isinstance(t, list) and len(t) >= 3):
            raise ValueError(f"invalid inbound tensor {t!r}.")
        refs.append({"class_name": "__keras_tensor__", "config": {"keras_history": list(t[:3])}})
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": {}}


def to_pyconv_entry(entry, custom_objects, safe_mode, problems, where="model"):
    """A Keras layer entry (Keras 3 or Keras 2 legacy) -> pyconv's {'class_name', 'config', ...};
    what pyconv lacks goes to `problems`."""
    from ..layers import _REGISTRY
    custom = custom_objects or {}
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: a layer entry must be a dict. Received: {type(entry).__name__}.")
    cls, module, reg = entry.get("class_name"), entry.get("module"), entry.get("registered_name")
    cfg = entry.get("config")
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: the config of a {cls!r} entry must be a dict.")
    name = entry.get("name") or cfg.get("name")
    here = f"{where}/{name}" if where != "model" or name else where
    out = {"class_name": cls}
    for k in ("name", "inbound_nodes"):
        if k in entry:
            out[k] = entry[k] if k == "name" else [_node_from_legacy(n) for n in entry[k]]
    known_module = module is None or module in _KERAS_MODULES or str(module).startswith("keras.src.") \
        or (str(module).startswith("pyconv") and cls in _REGISTRY)
    if cls in ("Sequential", "Functional", "Model") and (module is None or module in _MODEL_MODULES) \
            and cls not in custom:
        c = {"name": cfg.get("name"), "trainable": cfg.get("trainable", True)}
        subs = cfg.get("layers")
        if not isinstance(subs, list):
            raise ValueError(f"{here}: a {cls} config needs a list of layers.")
        c["layers"] = [to_pyconv_entry(e, custom, safe_mode, problems, here) for e in subs]
        if cls == "Sequential":
            c["build_input_shape"] = cfg.get("build_input_shape")
        else:
            out["class_name"] = "Functional"
            c["input_layers"], c["output_layers"] = cfg.get("input_layers"), cfg.get("output_layers")
        out["config"] = c
        return out
    if cls in custom or reg in custom:
        out["class_name"] = cls if cls in custom else reg
        out["config"] = {k: v for k, v in cfg.items()}
        if isinstance(entry.get("build_config"), dict):
            out["build_input_shape"] = entry["build_config"].get("input_shape")
        return out
    if cls not in _REGISTRY or not known_module or (reg not in (None, cls) and not str(reg).startswith("pyconv>")):
        problems.append(f"{here}: layer class {cls!r} (module {module!r}, registered_name {reg!r}) is not a "
                        f"layer pyconv has; pass it in custom_objects if it is your own")
        out["config"] = {"name": name}
        return out
    c = {}
    accepted = _accepted(_REGISTRY[cls])
    defaults = _KERAS_LAYERS.get(cls, (None, {}))[1]
    for k, v in cfg.items():
        if k == "dtype":
            dn = _dtype_name(v)
            if dn not in (None, "float32"):
                problems.append(f"{here}: dtype {dn!r} (pyconv computes in float32)")
            if cls == "InputLayer" or k in accepted:
                c[k] = "float32"
            continue
        kind = _kind_of(k)
        if kind and isinstance(v, dict):
            v = _strip_object(v, f"{here} {k}", problems, custom)
        if cls == "Lambda" and k == "function":
            v = _lambda_function(v, name, here, custom, safe_mode, problems)
        if cls == "InputLayer" and k == "batch_input_shape":
            k = "batch_shape"
        if k in accepted:
            c[k] = v
        elif v is None or v == defaults.get(k, None) or (v is False and k in ("ragged", "optional")) \
                or (k == "data_format" and v == "channels_last"):
            continue
        else:
            problems.append(f"{here} ({cls}): option {k}={v!r}")
    out["config"] = c
    return out


def _lambda_function(fn, name, here, custom, safe_mode, problems):
    """A Lambda's function entry -> the name pyconv looks up in custom_objects. Bytecode is never
    executed: it needs safe_mode=False AND the function in custom_objects (Keras 3's rule)."""
    if isinstance(fn, dict) and fn.get("class_name") == "__lambda__":
        if safe_mode:
            problems.append(f"{here}: a Lambda holding Python bytecode, refused with safe_mode=True (pyconv never "
                            f"runs code from a file: pass safe_mode=False and the function as "
                            f"custom_objects={{{name!r}: function}})")
        elif name not in custom:
            problems.append(f"{here}: a Lambda holding Python bytecode, which pyconv never runs: pass the function "
                            f"as custom_objects={{{name!r}: function}}")
        return name
    if isinstance(fn, dict) and fn.get("class_name") == "function" and isinstance(fn.get("config"), str):
        fname = fn["config"]
    elif isinstance(fn, str):
        fname = fn
    else:
        problems.append(f"{here}: a Lambda function of an unknown form")
        return name
    if name not in custom and fname not in custom:
        problems.append(f"{here}: the Lambda's function {fname!r} is code, which pyconv never stores nor runs: "
                        f"pass it as custom_objects={{{name!r}: function}}")
    return fname


def dry_run(entry, custom_objects, problems):
    """Construct every leaf layer once (no weights: nothing is built) so that each value pyconv
    refuses (a padding, an activation, a groups count) joins the one list of problems."""
    from ..layers import _REGISTRY
    cfg = entry.get("config", {})
    if "layers" in cfg and entry.get("class_name") in ("Sequential", "Functional"):
        for e in cfg["layers"]:
            dry_run(e, custom_objects, problems)
        return
    cls = _REGISTRY.get(entry.get("class_name"))
    if cls is None or entry.get("class_name") in ("Lambda", "InputLayer") or entry.get("class_name") in \
            (custom_objects or {}):
        return
    try:
        cls.from_config(dict(cfg))
    except (ValueError, TypeError) as e:
        problems.append(f"{cfg.get('name')!r} ({entry.get('class_name')}): {e}")


def compile_from_keras(cc, custom, problems):
    """Keras's compile_config -> pyconv's compile header."""
    if not isinstance(cc, dict) or not cc:
        return None

    def obj(d):
        return _strip_object(d, "compile", problems, custom) if isinstance(d, dict) and "class_name" in d else d

    def nest(v):
        if isinstance(v, dict) and "class_name" not in v and "__dict__" not in v:
            return {"__dict__": {k: nest(x) for k, x in v.items()}}
        if isinstance(v, dict) and "__dict__" in v:
            return {"__dict__": {k: nest(x) for k, x in v["__dict__"].items()}}
        if isinstance(v, list):
            return [nest(x) for x in v]
        return obj(v)
    opt = cc.get("optimizer")
    if isinstance(opt, str):
        opt = {"class_name": opt, "config": {}}
    return {"optimizer": obj(opt), "loss": nest(cc.get("loss")), "loss_weights": cc.get("loss_weights"),
            "metrics": nest(cc.get("metrics")), "weighted_metrics": nest(cc.get("weighted_metrics"))}
