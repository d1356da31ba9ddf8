"""Tiny real Keras classifiers saved to files, for tests that register, serve or diff models."""

from __future__ import annotations

from pathlib import Path


def tiny_keras_model(path: Path, classes: int = 3, size: int = 32, lambda_layer: bool = False) -> Path:
    """Save ``Input(size, size, 3) -> Conv2D(4, 3) [-> Lambda] -> GlobalAveragePooling2D -> Dense(classes)``."""
    import keras

    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    if lambda_layer:
        x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="head")(x)
    keras.Model(inputs, outputs, name="tiny").save(path)
    return path
