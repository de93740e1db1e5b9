"""The one registry behind losses, optimizers, metrics, initializers, regularizers and
constraints: the same get / serialize / deserialize for every family, Keras 3's names."""
import pytest

from pyconv import _registry, constraints, initializers, losses, metrics, optimizers, regularizers

FAMILIES = [  # (module, a name, its class, a custom class name)
    (losses, "mse", losses.MeanSquaredError),
    (optimizers, "adam", optimizers.Adam),
    (metrics, "mae", metrics.MeanAbsoluteError),
    (initializers, "he_normal", initializers.HeNormal),
    (regularizers, "l2", regularizers.L2),
    (constraints, "max_norm", constraints.MaxNorm),
]


@pytest.mark.parametrize("mod,name,cls", FAMILIES, ids=[f[0].__name__.split(".")[-1] for f in FAMILIES])
def test_every_family_gets_serializes_and_deserializes_alike(mod, name, cls):
    obj = mod.get(name)
    assert type(obj) is cls
    assert mod.get(obj) is obj and type(mod.get(cls)) is cls
    config = mod.serialize(obj)
    assert config["class_name"] == cls.__name__
    again = mod.deserialize(config)
    assert type(again) is cls and again.get_config() == obj.get_config()
    assert type(mod.get(config)) is cls                                  # a dict is a config
    keras_style = {"module": "keras.whatever", "class_name": cls.__name__, "config": obj.get_config(),
                   "registered_name": None}
    assert type(mod.deserialize(keras_style)) is cls                     # Keras 3's extra keys
    custom = type("Custom" + cls.__name__, (cls,), {})
    assert type(mod.deserialize({"class_name": custom.__name__, "config": obj.get_config()},
                                {custom.__name__: custom})) is custom
    with pytest.raises(ValueError, match=rf"Unknown \w+ class '{custom.__name__}': pass it in `custom_objects`"):
        mod.deserialize({"class_name": custom.__name__, "config": {}})
    with pytest.raises(ValueError, match=r"The config of a \w+ must be a dict"):
        mod.deserialize({"class_name": cls.__name__, "config": [1]})


def test_unknown_names_and_wrong_kinds():
    with pytest.raises(ValueError, match=r"Unknown loss: 'MSLE2'. Valid values are: 'sparse_categorical_crossentropy'"):
        losses.get("MSLE2")
    with pytest.raises(ValueError, match=r"Unknown loss: 'Mse'"):   # Keras 3 matches loss names as written
        losses.get("Mse")
    assert type(optimizers.get("AdamW")) is optimizers.AdamW          # optimizers in any case
    with pytest.raises(TypeError, match=r"`optimizer` must be a string \('adam', .* Received: optimizer=None"):
        optimizers.get(None)
    with pytest.raises(TypeError, match=r"`loss` must be a string .* Received: loss=3"):
        losses.get(3)
    with pytest.raises(ValueError, match=r"Could not interpret regularizer identifier: 'l3'. Valid names: 'l1'"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match=r"A initializer that is not a Initializer \(a plain function\) cannot be saved"):
        initializers.serialize(lambda shape, dtype=None: None)


def test_to_snake_case_is_keras_3s():
    # keras.src.utils.naming.to_snake_case in Keras 3.15.1 gave these
    pairs = {"Conv2D": "conv2d", "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
             "RMSprop": "rm_sprop", "AdamW": "adam_w", "BatchNormalization": "batch_normalization",
             "KLDivergence": "kl_divergence", "MeanIoU": "mean_io_u", "AUC": "auc",
             "Conv2DTranspose": "conv2d_transpose", "PReLU": "p_re_lu", "ELU": "elu"}
    assert {k: _registry.to_snake_case(k) for k in pairs} == pairs
    # ... while optimizers take Keras 3's explicit default names
    assert optimizers.RMSprop().name == "rmsprop" and optimizers.AdamW().name == "adamw"
