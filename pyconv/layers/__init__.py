"""Keras-like layers (keras.layers names, defaults and aliases), NHWC float32.

    from pyconv import layers
    layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))
"""
from .base import Layer
from .convolutional import Conv2D, Convolution2D
from .depthwise import DepthwiseConv2D, SeparableConv2D, SeparableConvolution2D
from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .convolutional_transpose import Conv2DTranspose, Convolution2DTranspose
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Lambda, OpLayer, Reshape
from .merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average,
                      concatenate, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization
from .reshaping import Cropping2D, Rescaling, UpSampling2D, ZeroPadding2D
from .preprocessing import CenterCrop, Normalization, Resizing
from .augmentation import (RandomContrast, RandomCrop, RandomFlip, RandomRotation, RandomTranslation,
                           RandomZoom)
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                      GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)

__all__ = ["Layer", "Input", "InputLayer", "Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D",
           "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D", "GlobalAvgPool2D",
           "GlobalMaxPooling2D", "GlobalMaxPool2D", "Flatten", "Dense", "Dropout", "Activation",
           "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Reshape", "Lambda",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate",
           "ZeroPadding2D", "Cropping2D", "UpSampling2D", "Rescaling", "BatchNormalization",
           "Conv2DTranspose", "Convolution2DTranspose",
           "Resizing", "CenterCrop", "Normalization", "RandomFlip", "RandomRotation",
           "RandomTranslation", "RandomZoom", "RandomContrast", "RandomCrop",
           "DepthwiseConv2D", "SeparableConv2D", "SeparableConvolution2D"]

# class name -> class, for rebuilding a saved model (only these classes can be loaded)
_REGISTRY = {c.__name__: c for c in (InputLayer, Conv2D, MaxPooling2D, AveragePooling2D,
                                     GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense,
                                     Dropout, Activation, ReLU, LeakyReLU, ELU, PReLU, Softmax,
                                     Reshape, Lambda,
                                     Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
                                     OpLayer, ZeroPadding2D, Cropping2D, UpSampling2D, Rescaling,
                                     BatchNormalization, Conv2DTranspose, Resizing, CenterCrop,
                                     Normalization, RandomFlip, RandomRotation, RandomTranslation,
                                     RandomZoom, RandomContrast, RandomCrop,
                                     DepthwiseConv2D, SeparableConv2D)}


def deserialize(config, custom_objects=None):
    """A layer (or nested model) from {'class_name': ..., 'config': ...} (see pyconv/_saving.py)."""
    from ..models import serialization
    return serialization.deserialize_layer(config, custom_objects)


def serialize(layer):
    """{'class_name': ..., 'config': ...} of a layer or nested model."""
    from ..models import serialization
    return serialization.serialize_layer(layer)
