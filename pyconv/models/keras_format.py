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

The configs both ways are pyconv/models/keras_config.py's; a layer's variables are its weights
in creation order (trainable ones first).
"""
import datetime
import io
import json
import warnings
import zipfile

import numpy as np

from .. import _saving
from .keras_config import (Problems, class_name, compile_config, compile_from_keras, dry_run, keras_config,
                           to_pyconv_entry)

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
                    base = _snake(class_name(layer))
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
    top["compile_config"] = compile_config(model)
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
    cc = compile_from_keras(config.get("compile_config"), custom_objects or {}, problems := Problems())
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
    problems = Problems()
    try:
        entry = to_pyconv_entry(config, custom_objects, safe_mode, problems)
        dry_run(entry, custom_objects, problems)
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
