"""Models (keras.models): `Model` (functional or subclassed), `Sequential`, `load_model`.

    from pyconv import layers, models
    model = models.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3), ...])
"""
from .data_adapters import PyDataset
from .model import Model
from .sequential import Sequential
from .serialization import load_model

__all__ = ["Model", "Sequential", "load_model"]
