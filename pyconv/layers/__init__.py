"""Keras-like layers (keras.layers names, defaults and aliases), NHWC float32.

    from pyconv import layers
    layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))
"""
from .base import Layer
from .convolutional import Conv2D, Convolution2D
from .core import (Activation, Dense, Dropout, Flatten, Input, InputLayer, Lambda, ReLU, Reshape,
                   Softmax)
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                      GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)

__all__ = ["Layer", "Input", "InputLayer", "Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D",
           "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D", "GlobalAvgPool2D",
           "GlobalMaxPooling2D", "GlobalMaxPool2D", "Flatten", "Dense", "Dropout", "Activation",
           "ReLU", "Softmax", "Reshape", "Lambda"]

# class name -> class, for rebuilding a saved model (only these classes can be loaded)
_REGISTRY = {c.__name__: c for c in (InputLayer, Conv2D, MaxPooling2D, AveragePooling2D,
                                     GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense,
                                     Dropout, Activation, ReLU, Softmax, Reshape, Lambda)}


def deserialize(config, custom_objects=None):
    """A layer from {'class_name': ..., 'config': ...} (see pyconv/_saving.py)."""
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"Unknown layer class {name!r}. Known: {', '.join(sorted(_REGISTRY))}; "
                         f"pass others in `custom_objects`.")
    return cls.from_config(config.get("config", {}))


def serialize(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}
