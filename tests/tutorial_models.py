"""The tutorial's CNN, built as the tutorial builds it, for the tests that train or inspect it."""
from pyconv import layers, models


def tutorial_cnn():
    """Conv2D(32) -> MaxPool -> Conv2D(64) -> MaxPool -> Conv2D(64) -> Flatten -> Dense(64) ->
    Dense(10, softmax), input (28, 28, 1); not compiled."""
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    return model


def tutorial_dnn():
    """Flatten -> Dense(128, relu) -> Dense(10, softmax), input (28, 28): the tutorial's DNN."""
    model = models.Sequential()
    model.add(layers.Flatten(input_shape=(28, 28)))
    model.add(layers.Dense(128, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    return model
