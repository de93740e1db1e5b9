"""Keras's legacy HDF5 files (the `[keras]` extra: h5py), no pickle, no code.

A whole-model file (Keras 2's `model.save("m.h5")`, which Keras 3 still writes) holds

    attrs  model_config     JSON: {"class_name", "config"} (Keras 2, or Keras 3's layout without
                            "module"), read as a `.keras` config.json is
           training_config  JSON: loss, metrics, "optimizer_config"
    model_weights/          attrs layer_names: the layers that have weights, by name
        <layer>/            attrs weight_names: the layer's weights (trainable ones first), each
                            the path of a dataset under this group

and a Keras 2 `save_weights("w.h5")` file holds the `model_weights` part at its root. Each
dataset's link, storage, dtype and shape (against the layer's weight) are checked before any
data is read; the attributes' sizes before they are read. The optimizer's state in such a file
is not restored (its variable order differs between Keras 2 versions): training resumes with a
fresh optimizer of the saved configuration.

`model.save("m.h5")` writes this format as Keras 3.15 does (its `.keras` config without the
"module"/"registered_name"/"build_config" keys of layer entries, the weights under each layer's
group), without the optimizer's state, which Keras 3 would not restore from it either.
"""
import io
import json
import math

import numpy as np

from . import keras_format as kf

__all__ = ["load_model", "load_weights", "save_model"]

_ENTRY_ONLY = ("module", "registered_name", "build_config", "compile_config")


def _legacy_entry(entry):
    """A `.keras` layer entry as Keras's legacy HDF5 writer serializes it."""
    out = {k: v for k, v in entry.items() if k not in _ENTRY_ONLY}
    cfg = out.get("config")
    if out.get("class_name") in ("Sequential", "Functional") and isinstance(cfg, dict) and "layers" in cfg:
        out["config"] = dict(cfg, layers=[_legacy_entry(e) for e in cfg["layers"]])
    return out


def _names_attr(names, h5py):
    """Keras's weight_names/layer_names attribute: variable-length UTF-8 strings (an empty float
    array if none)."""
    return np.array(names, dtype=h5py.string_dtype()) if names else np.zeros((0,), np.float64)


def save_model(model, filepath):
    """Write `model` as a legacy HDF5 whole-model file that Keras 3 loads (atomically)."""
    from . import serialization
    h5py = kf._h5py()
    config = _legacy_entry(kf.keras_config(model))
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["backend"], f.attrs["keras_version"] = "tensorflow", kf.KERAS_VERSION
        f.attrs["model_config"] = json.dumps(config)
        cc = kf.compile_config(model)
        if cc:
            opt = cc.pop("optimizer")
            f.attrs["training_config"] = json.dumps({**cc, "optimizer_config": {"class_name": opt["class_name"],
                                                                                "config": opt["config"]}})
        g = f.create_group("model_weights")
        g.attrs["backend"], g.attrs["keras_version"] = "tensorflow", kf.KERAS_VERSION
        g.attrs["layer_names"] = _names_attr([l.name for l in model.layers], h5py)
        for layer in model.layers:
            named = dict(zip(map(id, layer.weights), layer._weight_names()))
            weights = layer.trainable_weights + layer.non_trainable_weights   # Keras's legacy order
            names = []
            for w in weights:
                owner, wname = named[id(w)]
                names.append(f"{layer.name}/{wname}" if owner == layer.name else f"{layer.name}/{owner}/{wname}")
            lg = g.create_group(layer.name)
            lg.attrs["weight_names"] = _names_attr(names, h5py)
            for n, w in zip(names, weights):
                lg.create_dataset(n, data=np.asarray(w, np.float32))
        g.create_group("top_level_model_weights").attrs["weight_names"] = _names_attr([], h5py)
    data = buf.getvalue()
    serialization._saving.write_file_atomic(filepath, lambda fh: fh.write(data))


def _attr_fits(obj, name, filepath, limit):
    """Whether attribute `name` exists; its stored size checked against `limit` before it is read."""
    if name not in obj.attrs:
        return False
    try:
        size = obj.attrs.get_id(name).get_storage_size()
    except RuntimeError:   # HDF5 reports an empty attribute's size 0 as an error
        size = 0
    if size > limit:
        raise kf._bad(filepath, f"the attribute {name!r} holds {size} bytes; at most {limit} are expected.")
    return True


def _attr_text(obj, name, filepath, limit=kf.MAX_JSON_BYTES):
    """A string attribute, its stored size checked before it is read; None if absent."""
    if not _attr_fits(obj, name, filepath, limit):
        return None
    v = obj.attrs[name]
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if not isinstance(v, str):
        raise kf._bad(filepath, f"the attribute {name!r} is not text.")
    return v


def _names(obj, name, filepath):
    if not _attr_fits(obj, name, filepath, kf.MAX_JSON_BYTES):
        return None
    v = obj.attrs[name]
    return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in np.asarray(v).ravel()]


def _stored_values(group, h5py):
    """The number of values the datasets under `group` hold (from their shapes: nothing read)."""
    total = [0]

    def visit(_, obj):
        if isinstance(obj, h5py.Dataset):
            total[0] += math.prod(obj.shape or ())
    group.visititems(visit)
    return total[0]


def _weights_group(f, h5py, filepath):
    """The group holding layer_names: a whole-model file's model_weights, or a weights file's root."""
    if "layer_names" in f.attrs:
        return f
    g = kf._safe_group(f, "model_weights", h5py)
    if g is None or "layer_names" not in g.attrs:
        raise kf._bad(filepath, "an HDF5 file without Keras weights (no model_weights/layer_names).")
    return g


def load_weights(model, f, filepath, h5py):
    """Copy the weights of a legacy HDF5 file into `model`: the file's layers that have weights
    to the model's, in order (Keras's rule; names may differ), each checked before any copy."""
    g = _weights_group(f, h5py, filepath)
    stored = []
    for lname in _names(g, "layer_names", filepath):
        lg = kf._safe_group(g, lname, h5py)
        wnames = _names(lg, "weight_names", filepath) if lg is not None else None
        if wnames:
            stored.append((lname, lg, wnames))
    mine = [l for l in model.layers if l.weights]
    if len(stored) != len(mine):
        raise ValueError(f"Cannot load '{filepath}' into model \"{model.name}\": the file holds weights for "
                         f"{len(stored)} layers, the model has {len(mine)} layers with weights (a different "
                         f"architecture).")
    new = []
    for layer, (lname, lg, wnames) in zip(mine, stored):
        arrays = layer.trainable_weights + layer.non_trainable_weights   # Keras's legacy order
        if len(arrays) != len(wnames):
            raise ValueError(f"Cannot load '{filepath}' into model \"{model.name}\": layer {layer.name!r} has "
                             f"{len(arrays)} weights, the file's {lname!r} holds {len(wnames)} (a different "
                             f"architecture).")
        for a, wn in zip(arrays, wnames):
            parent, _, leaf = wn.rpartition("/")
            pg = kf._safe_group(lg, parent, h5py) if parent else lg
            if pg is None:
                raise kf._bad(filepath, f"layer {lname!r}: no weight {wn!r}.")
            new.append((a, kf._safe_dataset(pg, leaf, a.shape, h5py, f"layer {lname!r}")))
    from .. import _atomic
    with _atomic.committing():
        for a, w in new:
            np.copyto(a, w)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A pyconv model from a Keras legacy HDF5 whole-model file."""
    from . import serialization
    h5py = kf._h5py()
    try:
        f = h5py.File(filepath, "r")
    except OSError as e:
        raise kf._bad(filepath, f"not a readable HDF5 file ({e}).") from None
    with f:
        try:
            text = _attr_text(f, "model_config", filepath)
            if text is None:
                raise ValueError(f"Cannot load '{filepath}' as a model: the HDF5 file has no model_config (a "
                                 f"weights file: build the model and call model.load_weights).")
            try:
                config = json.loads(text)
            except (ValueError, RecursionError) as e:
                raise kf._bad(filepath, f"model_config is corrupted ({type(e).__name__}).") from None
            if not isinstance(config, dict):
                raise kf._bad(filepath, "model_config does not describe a model.")
            budget = _stored_values(_weights_group(f, h5py, filepath), h5py)
            model = kf._model_from_keras_config(filepath, config, custom_objects, safe_mode, budget)
            load_weights(model, f, filepath, h5py)
            tc = _attr_text(f, "training_config", filepath)
        except (KeyError, TypeError, RuntimeError, OSError) as e:
            raise kf._bad(filepath, f"the HDF5 file is truncated or corrupted ({type(e).__name__}: {e}).") from None
    if compile and tc:
        try:
            tc = json.loads(tc)
        except (ValueError, RecursionError) as e:
            raise kf._bad(filepath, f"training_config is corrupted ({type(e).__name__}).") from None
        if isinstance(tc, dict) and isinstance(tc.get("optimizer_config"), dict):
            opt = dict(tc["optimizer_config"])
            cfg = {k: v for k, v in (opt.get("config") or {}).items()
                   if k not in ("is_legacy_optimizer", "jit_compile")}   # Keras 2's, without effect here
            tc = dict(tc, optimizer={**opt, "config": cfg})
            problems = kf.Problems()
            cc = kf.compile_from_keras(tc, custom_objects or {}, problems)
            problems.raise_if_any(filepath)
            serialization._compile_from_header(model, filepath, cc, custom_objects)
    return model
