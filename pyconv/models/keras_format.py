"""Keras 3's `.keras` archive, its `.weights.h5` files and Keras 2's legacy HDF5 files, both ways,
with no pickle and no code executed on load.

A `.keras` file is a ZIP archive (members stored, as Keras writes them) of:

    metadata.json       {"keras_version": "3.15.1", "pyconv_version": ..., "date_saved": ...}
    config.json         the model as Keras 3.15 serializes it: {"module", "class_name", "config",
                        "registered_name", "build_config", "compile_config"}, each layer with
                        its "module" ("keras.layers"), Keras's full config (every key Keras writes,
                        pyconv's values, Keras's defaults for options pyconv does not have) and
                        its "build_config"
    model.weights.h5    HDF5 (h5py): one group per layer at Keras's variable path -- the path of
                        attribute names from the model ("layers/<snake_case class>[_k]", nested
                        models recursively) -- holding "vars/0", "vars/1", ... in the layer's
                        variable order (trainable ones first, as created); the optimizer's
                        iteration, learning rate and state at "optimizer/vars"

Keras 3.15's other weights store, `model.weights.npz`, holds each group as a pickled object
array (np.savez of a dict, see keras/src/saving/saving_lib.py, NpzIOStore) that Keras itself
cannot read back (it loads with allow_pickle=False): pyconv neither writes nor unpickles it.
HDF5 is the one form Keras reads, so writing and reading `.keras` files needs h5py, the optional
extra `pip install "pyconv[keras]"`, imported only when such a file is written or read.

Each layer class maps to Keras by its class name: `_KERAS_LAYERS` lists Keras 3.15's config keys
and defaults per class (a layer missing from it is written with its own `get_config()`, which
uses Keras's names), its variables are its weights in creation order. Loading goes the other
way: a key pyconv's class does not take is dropped when it holds Keras's default and reported
otherwise; every unsupported layer, option or value in a file is collected into ONE error.
"""
import datetime
import inspect
import io
import json
import warnings
import zipfile

import numpy as np

from .. import _saving

__all__ = ["save_keras", "load_keras", "save_weights_h5", "load_keras_weights", "is_hdf5", "is_keras_archive"]

KERAS_VERSION = "3.15.1"          # the Keras release whose layout and configs are written
CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS_H5 = "model.weights.h5"
WEIGHTS_NPZ = "model.weights.npz"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_JSON_BYTES = _saving.MAX_HEADER_BYTES
_H5_SLACK = 2**20                 # HDF5's own structures: a few hundred bytes per group
_H5_PER_GROUP = 4096
_OPT_COPIES = 6                   # weights + at most 5 optimizer arrays per weight (EMA, accumulator, 3 slots)
_DEFLATE_MAX_RATIO = 1100         # DEFLATE cannot expand more than ~1032:1


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError('Reading or writing HDF5 (Keras\'s model.weights.h5, .weights.h5 and legacy .h5 '
                          'files) needs h5py: pip install "pyconv[keras]".') from None
    return h5py


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
# with its defaults). Made by tests/fixtures/keras/make_fixtures.py --table; checked against real
# Keras by tests/test_keras_interop.py.
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
    "Resizing": (True, {"data_format": "channels_last", "height": REQ, "width": REQ, "interpolation": "bilinear",
                        "crop_to_aspect_ratio": False, "pad_to_aspect_ratio": False, "fill_mode": "constant",
                        "fill_value": 0.0, "antialias": False}),
    "CenterCrop": (True, {"data_format": "channels_last", "height": REQ, "width": REQ}),
    "Normalization": (True, {"axis": [-1], "invert": False, "mean": None, "variance": None}),
    "RandomFlip": (True, {"data_format": "channels_last", "seed": None, "mode": "horizontal_and_vertical"}),
    "RandomRotation": (True, {"data_format": "channels_last", "factor": REQ, "fill_mode": "reflect",
                              "fill_value": 0.0, "interpolation": "bilinear", "seed": None}),
    "RandomTranslation": (True, {"data_format": "channels_last", "height_factor": REQ, "width_factor": REQ,
                                 "fill_mode": "reflect", "interpolation": "bilinear", "seed": None,
                                 "fill_value": 0.0}),
    "RandomZoom": (True, {"data_format": "channels_last", "height_factor": REQ, "width_factor": None,
                          "fill_mode": "reflect", "interpolation": "bilinear", "seed": None, "fill_value": 0.0}),
    "RandomContrast": (True, {"data_format": "channels_last", "factor": REQ, "value_range": [0, 255],
                              "seed": None}),
    "RandomCrop": (True, {"data_format": "channels_last", "height": REQ, "width": REQ, "seed": None}),
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
def _class_name(layer):
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
    if cls == "InputLayer":
        c = {}
    else:
        c = {"name": cfg.get("name", layer.name), "trainable": cfg.get("trainable", True), "dtype": _POLICY}
    rest = {k: v for k, v in cfg.items() if k not in ("name", "trainable", "dtype", "batch_input_shape")}
    if cls == "Lambda":
        fn = rest.pop("function", None)
        rest.pop("note", None)
        rest["function"] = {"module": "builtins", "class_name": "function", "config": fn,
                            "registered_name": "function"}
        rest["arguments"] = rest.get("arguments") or {}
    if spec is not None:
        for k, default in spec[1].items():
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


def _compile_config(model):
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


# ---- Keras's variable paths -------------------------------------------------------------------
def _name_key(name):
    return f"~{name}" if name.startswith("_") else name   # private attributes last (Keras)


def _own_vars(obj):
    """A layer's own variables in Keras's order: trainable ones, then the others, as created."""
    params = obj.__dict__.get("_params", [])
    return [a for _, a, t in params if t] + [a for _, a, t in params if not t]


def _children(obj, kcfg):
    """(attribute, child) as Keras walks them: a Sequential's or functional model's `layers`
    (in its config's order when reading a file), else the attributes that hold layers."""
    from ..layers.base import Layer
    from .model import Model
    from .sequential import Sequential
    if isinstance(obj, Sequential) or (isinstance(obj, Model) and obj._functional):
        if kcfg is not None:
            entries = [e for e in kcfg["config"]["layers"]
                       if not (isinstance(obj, Sequential) and e.get("class_name") == "InputLayer")]
            by_name = {l.name: l for l in obj.layers}
            return [("layers", [(by_name[e["config"]["name"] if "name" not in e else e["name"]], e)
                                for e in entries])]
        return [("layers", [(l, None) for l in obj.layers])]
    out = []
    attrs = dict(obj.__dict__)
    if isinstance(obj, Model):
        attrs["layers"] = obj.layers
    for name in sorted(attrs, key=_name_key):
        v = attrs[name]
        if name.startswith("__") or name in ("_tracked", "_params", "_inbound_nodes"):
            continue
        if isinstance(v, Layer):
            out.append((name, v))
        elif isinstance(v, (list, tuple)) and any(isinstance(x, Layer) for x in v):
            out.append((name, [(x, None) for x in v if isinstance(x, Layer)]))
    return out


def saveables(model, kcfg=None):
    """[(path, layer)] for every layer and model reachable from `model`, once each, at Keras's
    variable path (model.weights.h5 groups)."""
    out, visited = [], set()

    def visit(obj, path, cfg):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        out.append((path, obj))
        for attr, child in _children(obj, cfg):
            p = f"{path}/{attr}" if path else attr
            if isinstance(child, list):
                used = {}
                for layer, e in child:
                    base = _snake(_class_name(layer))
                    if base in used:
                        used[base] += 1
                        name = f"{base}_{used[base]}"
                    else:
                        used[base], name = 0, base
                    visit(layer, f"{p}/{name}", e)
            else:
                visit(child, p, None)
    visit(model, "", kcfg)
    return out


def _snake(name):
    from ..layers.base import _snake as s
    return s(name)


# ---- optimizer state in Keras's order ------------------------------------------------------------
def _slot_groups(opt):
    """Keras creates an optimizer's slots in groups; within a group one variable per weight and
    slot, interleaved (momentum_0, velocity_0, momentum_1, ...): RMSprop adds each slot on its
    own, Adam's amsgrad adds velocity_hat after momentum and velocity."""
    names = tuple(opt._slot_names)
    if type(opt).__name__ == "RMSprop":
        return [[i] for i in range(len(names))]
    if "velocity_hat" in names:
        k = names.index("velocity_hat")
        return [[i for i in range(len(names)) if i != k], [k]]
    return [list(range(len(names)))] if names else []


def _optimizer_to_keras(opt):
    """[iteration (int64), learning_rate (float32, unless a schedule), state arrays] as Keras's
    optimizer.variables."""
    out = [np.array(opt._iterations, np.int64)]
    if opt._schedule is None:
        out.append(np.array(opt.learning_rate, np.float32))
    out += list(opt._averages) + list(opt._accumulators)
    for group in _slot_groups(opt):
        for i in range(len(opt._slots[0]) if opt._slots else 0):
            out += [opt._slots[s][i] for s in group]
    out += list(opt._extras)
    return out


def _optimizer_from_keras(opt, params, arrays):
    """Set `opt`'s state (for `params`) from Keras's optimizer variables; False if they do not fit."""
    n = len(params)
    has_lr = opt._schedule is None
    slots = len(opt._slot_names)
    extras = len(opt._extra_init)
    want = 1 + has_lr + n * (slots + bool(opt.use_ema) + bool(opt.gradient_accumulation_steps)) + extras
    if len(arrays) != want:
        return False
    it = int(np.reshape(arrays[0], ()))
    k = 1
    if has_lr:
        lr = float(np.reshape(arrays[1], ()))
        if np.float32(opt.learning_rate) != np.float32(lr):   # keep the exact float when it is the one saved
            opt.learning_rate = lr
        k = 2
    averages = arrays[k:k + n] if opt.use_ema else []
    k += len(averages)
    accum = arrays[k:k + n] if opt.gradient_accumulation_steps else []
    k += len(accum)
    slot_arrays = [[None] * n for _ in range(slots)]
    for group in _slot_groups(opt):
        for i in range(n):
            for s in group:
                slot_arrays[s][i] = arrays[k]
                k += 1
    mine = list(averages) + list(accum) + [a for s in slot_arrays for a in s] + list(arrays[k:k + extras])
    gas = opt.gradient_accumulation_steps
    if gas:
        mine.append(np.array(it % gas, np.float32))
        it //= gas
    opt.set_state(params, it, mine)
    return True


# ---- writing --------------------------------------------------------------------------------------
def _write_groups(f, model, kcfg, with_optimizer):
    for path, obj in saveables(model, kcfg):
        g = f.create_group(f"{path}/vars" if path else "vars")
        g.attrs["name"] = obj.name
        for i, a in enumerate(_own_vars(obj)):
            g.create_dataset(str(i), data=np.asarray(a, np.float32))
    opt = model.optimizer if getattr(model, "compiled", False) else None
    if with_optimizer and opt is not None and opt.built:
        g = f.create_group("optimizer/vars")
        g.attrs["name"] = opt.name
        for i, a in enumerate(_optimizer_to_keras(opt)):
            g.create_dataset(str(i), data=a)


def _h5_bytes(model, kcfg, with_optimizer):
    h5py = _h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        _write_groups(f, model, kcfg, with_optimizer)
    return buf.getvalue()


def save_keras(model, filepath):
    """Write `model` as a Keras 3 `.keras` archive (atomically)."""
    from .. import __version__
    kcfg = keras_config(model)
    top = dict(kcfg)
    top["compile_config"] = _compile_config(model)
    weights = _h5_bytes(model, kcfg, True)
    meta = {"keras_version": KERAS_VERSION, "pyconv_version": __version__,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            z.writestr(METADATA, json.dumps(meta))
            z.writestr(CONFIG, json.dumps(top))
            z.writestr(WEIGHTS_H5, weights)
    _saving.write_file_atomic(filepath, write)


def save_weights_h5(model, filepath):
    """Keras 3's `.weights.h5`: the groups of model.weights.h5 (and the optimizer's) as one file."""
    kcfg = keras_config(model) if model.built else None
    data = _h5_bytes(model, kcfg, True)
    _saving.write_file_atomic(filepath, lambda f: f.write(data))


# ---- reading ------------------------------------------------------------------------------------
def is_hdf5(path):
    try:
        with open(path, "rb") as f:
            return f.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


def is_keras_archive(path):
    try:
        with zipfile.ZipFile(path) as z:
            return CONFIG in z.namelist()
    except Exception:   # not a readable ZIP archive, whatever the reason: not a Keras archive
        return False


class _Problems(list):
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


def _dry_run(entry, custom_objects, problems):
    """Construct every leaf layer once (no weights: nothing is built) so that each value pyconv
    refuses (a padding, an activation, a groups count) joins the one list of problems."""
    from ..layers import _REGISTRY
    cfg = entry.get("config", {})
    if "layers" in cfg and entry.get("class_name") in ("Sequential", "Functional"):
        for e in cfg["layers"]:
            _dry_run(e, custom_objects, problems)
        return
    cls = _REGISTRY.get(entry.get("class_name"))
    if cls is None or entry.get("class_name") in ("Lambda", "InputLayer") or entry.get("class_name") in \
            (custom_objects or {}):
        return
    try:
        cls.from_config(dict(cfg))
    except (ValueError, TypeError) as e:
        problems.append(f"{cfg.get('name')!r} ({entry.get('class_name')}): {e}")


def _compile_from_keras(cc, custom, problems):
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


def _safe_group(parent, path, h5py):
    """The group at `path`, following hard links only (no external or soft link), or None."""
    g = parent
    for part in path.split("/"):
        if not part:
            continue
        link = g.get(part, default=None, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"the HDF5 file links '{path}' elsewhere ({type(link).__name__}), which pyconv "
                             f"refuses.")
        g = g[part]
        if not isinstance(g, h5py.Group):
            raise ValueError(f"'{path}' in the HDF5 file is not a group.")
    return g


def _safe_dataset(group, name, shape, h5py, where):
    """The float array `name` of `group` as float32, its link, storage and shape checked before
    anything is read."""
    link = group.get(name, default=None, getlink=True)
    if link is None:
        raise ValueError(f"{where}: the HDF5 file has no dataset '{name}'.")
    if not isinstance(link, h5py.HardLink):
        raise ValueError(f"{where}: dataset '{name}' is a {type(link).__name__}, which pyconv refuses.")
    ds = group[name]
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}: '{name}' is not a dataset.")
    if ds.external or ds.is_virtual:
        raise ValueError(f"{where}: dataset '{name}' keeps its data outside the file, which pyconv refuses.")
    if ds.dtype.kind not in "fiu" or ds.dtype.itemsize > 8:
        raise ValueError(f"{where}: dataset '{name}' has dtype {ds.dtype}; a float array is expected.")
    if shape is not None and tuple(ds.shape) != tuple(shape):
        raise ValueError(f"{where}: dataset '{name}' has shape {tuple(ds.shape)}, the layer's weight has shape "
                         f"{tuple(shape)} (a different architecture).")
    return np.asarray(ds[()], dtype=np.float64 if ds.dtype.kind in "iu" else np.float32)


def read_groups(f, model, kcfg, h5py, filepath):
    """The weights of every layer of `model` from Keras's variable groups, all checked, then
    copied at once; returns the optimizer arrays (or None)."""
    new = []
    for path, obj in saveables(model, kcfg):
        mine = _own_vars(obj)
        g = _safe_group(f, f"{path}/vars" if path else "vars", h5py)
        if g is None and path and "_layer_checkpoint_dependencies" in f:   # Keras 2.13's name for layers
            g = _safe_group(f, path.replace("layers", "_layer_checkpoint_dependencies") + "/vars", h5py)
        keys = [] if g is None else [k for k in g.keys()]
        if len(keys) != len(mine):
            raise ValueError(f"Cannot load '{filepath}': layer {obj.name!r} has {len(mine)} weight(s), the file "
                             f"holds {len(keys)} at '{path or '/'}' (a different architecture).")
        for i, a in enumerate(mine):
            new.append((a, _safe_dataset(g, str(i), a.shape, h5py, f"layer {obj.name!r} at '{path}'")))
    opt = None
    g = _safe_group(f, "optimizer/vars", h5py)
    if g is not None:
        n = len(g.keys())
        if n > 2 + _OPT_COPIES * max(len(new), 1):
            raise ValueError(f"Cannot load '{filepath}': {n} optimizer arrays for {len(new)} weights.")
        opt = [_safe_dataset(g, str(i), None, h5py, "the optimizer") for i in range(n)]
    from .. import _atomic
    with _atomic.committing():   # all the new weights or all the old ones
        for a, w in new:
            np.copyto(a, w)
    return opt


def _bad(filepath, problem):
    return _saving.FileFormatError(f"Cannot load '{filepath}': {problem}")


def _read_archive(filepath):
    """(config dict, h5 member info, zipfile) of a Keras archive, sizes checked."""
    z = zipfile.ZipFile(filepath)
    try:
        members = _saving.check_members(z, lambda p: _bad(filepath, p))
        raw = _saving.read_member(z, members.get(CONFIG), MAX_JSON_BYTES, "config.json",
                                  lambda p: _bad(filepath, p))
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise _bad(filepath, f"config.json is corrupted ({type(e).__name__}).") from None
        if not isinstance(config, dict):
            raise _bad(filepath, "config.json does not describe a model.")
        if WEIGHTS_H5 in members:
            info = members[WEIGHTS_H5]
            limit = _DEFLATE_MAX_RATIO * max(info.compress_size, 1) if info.compress_type else info.compress_size
            if info.file_size > limit:
                raise _bad(filepath, f"{WEIGHTS_H5} declares {info.file_size} bytes from {info.compress_size} "
                                     f"stored: a decompression bomb.")
        elif WEIGHTS_NPZ in members:
            raise _bad(filepath, f"its weights are {WEIGHTS_NPZ}, which Keras 3 writes as pickled object arrays; "
                                 f"pyconv never unpickles (nor can Keras read them back). Re-save it with "
                                 f"Keras's default weights format (model.weights.h5).")
        else:
            raise _bad(filepath, f"no {WEIGHTS_H5} in the archive.")
        return config, info, z
    except BaseException:
        z.close()
        raise


def load_keras(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A pyconv model from a Keras 3 `.keras` archive."""
    from . import serialization
    h5py = _h5py()
    try:
        config, info, z = _read_archive(filepath)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise _bad(filepath, f"the file is truncated or corrupted ({type(e).__name__}: {e}).") from None
    with z:
        model = _model_from_keras_config(filepath, config, custom_objects, safe_mode,
                                         budget=info.file_size // 4)
        expected = 4 * sum(a.size for a in model.weights)
        nsave = len(saveables(model, config))
        if info.file_size > _OPT_COPIES * expected + _H5_SLACK + _H5_PER_GROUP * nsave:
            raise _bad(filepath, f"{WEIGHTS_H5} declares {info.file_size} bytes; the model's weights and optimizer "
                                 f"state need at most {_OPT_COPIES * expected + _H5_SLACK + _H5_PER_GROUP * nsave}.")
        try:
            data = _saving.read_member(z, info, info.file_size, WEIGHTS_H5, lambda p: _bad(filepath, p))
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise _bad(filepath, f"the file is truncated or corrupted ({type(e).__name__}: {e}).") from None
    opt_arrays = _read_h5_weights(filepath, io.BytesIO(data), model, config, h5py)
    cc = _compile_from_keras(config.get("compile_config"), custom_objects or {}, problems := _Problems())
    problems.raise_if_any(filepath)
    if compile and cc:
        serialization._compile_from_header(model, filepath, cc, custom_objects)
        if opt_arrays is not None:
            _restore_optimizer(model, opt_arrays)
    return model


def _read_h5_weights(filepath, src, model, kcfg, h5py):
    """read_groups on an HDF5 file (a path, a file object or an open h5py.File); any failure to
    parse it is a ValueError naming the file."""
    try:
        if isinstance(src, h5py.File):
            return read_groups(src, model, kcfg, h5py, filepath)
        with h5py.File(src, "r") as f:
            return read_groups(f, model, kcfg, h5py, filepath)
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith("Cannot load") else f"Cannot load '{filepath}': {msg}") from None
    except (OSError, KeyError, TypeError, RuntimeError) as e:
        raise _bad(filepath, f"the HDF5 weights are truncated or corrupted ({type(e).__name__}: {e}).") from None


def _restore_optimizer(model, arrays):
    opt = model.optimizer
    params = model._state().params
    try:
        ok = _optimizer_from_keras(opt, params, arrays)
    except ValueError:
        ok = False
    if not ok:
        warnings.warn(f"Skipping variable loading for optimizer '{opt.name}': the file holds {len(arrays)} "
                      f"optimizer variables that do not fit this {type(opt).__name__}.", stacklevel=4)


def _model_from_keras_config(filepath, config, custom_objects, safe_mode, budget):
    from . import serialization
    from .model import Model
    problems = _Problems()
    try:
        entry = to_pyconv_entry(config, custom_objects, safe_mode, problems)
        _dry_run(entry, custom_objects, problems)
    except ValueError as e:
        raise ValueError(f"Cannot load '{filepath}': {e}") from None
    problems.raise_if_any(filepath)
    header = {"weights": [{"shape": [budget]}]}
    model = serialization._rebuild(filepath, header, lambda: serialization.deserialize_layer(entry, custom_objects))
    if not isinstance(model, Model):
        raise ValueError(f"Cannot load '{filepath}': it holds a {type(model).__name__}, not a model.")
    if not model.built:
        raise ValueError(f"Cannot load '{filepath}': the model in it has no input shape.")
    return model


def load_keras_weights(model, filepath):
    """Model.load_weights from a `.keras` archive or a Keras 3 `.weights.h5` file."""
    h5py = _h5py()
    kcfg = keras_config(model) if model.built else None
    if kcfg is None:
        raise ValueError(f"Cannot load '{filepath}' into model \"{model.name}\": the model is not built yet.")
    if is_hdf5(filepath):
        try:
            f = h5py.File(filepath, "r")
        except OSError as e:
            raise _bad(filepath, f"not a readable HDF5 file ({e}).") from None
        with f:
            if "model_weights" in f or "layer_names" in f.attrs:
                from . import legacy_h5
                legacy_h5.load_weights(model, f, filepath, h5py)
                return
            opt = _read_h5_weights(filepath, f, model, kcfg, h5py)
    else:
        try:
            config, info, z = _read_archive(filepath)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise _bad(filepath, f"the file is truncated or corrupted ({type(e).__name__}: {e}).") from None
        with z:
            expected = 4 * sum(a.size for a in model.weights)
            nsave = len(saveables(model))
            if info.file_size > _OPT_COPIES * expected + _H5_SLACK + _H5_PER_GROUP * nsave:
                raise _bad(filepath, f"{WEIGHTS_H5} declares {info.file_size} bytes, more than this model's "
                                     f"weights and optimizer state need.")
            data = _saving.read_member(z, info, info.file_size, WEIGHTS_H5, lambda p: _bad(filepath, p))
        opt = _read_h5_weights(filepath, io.BytesIO(data), model, kcfg, h5py)
    if opt is not None and getattr(model, "compiled", False):
        _restore_optimizer(model, opt)
