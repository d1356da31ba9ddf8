"""Building the model to train: a copy of the base model's backbone plus a classification head.

The model is ``Input(S, S, 3) -> backbone(training=False) -> head``. Calling the backbone with
``training=False`` keeps its BatchNormalization layers in inference mode even when they are
unfrozen, as the Keras transfer-learning guide recommends (otherwise the first updates on a small
dataset wreck the moving statistics); BatchNormalization layers are also kept non-trainable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError, ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    from ..records import ModelRecord
    from ..registry import Registry

__all__ = ["Classifier", "build_classifier", "set_unfrozen", "same_labels"]


@dataclass
class Classifier:
    """``model`` = ``head(backbone(inputs))``; ``head`` alone maps backbone features ``(N, D)`` to probabilities."""

    model: Any
    backbone: Any
    head: Any
    fresh_head: bool
    input_size: int
    feature_dim: int


def same_labels(record: "ModelRecord", class_names: tuple[str, ...]) -> bool:
    """Whether the base model's outputs already are the dataset's classes, in the same order."""
    return bool(record.labels) and tuple(str(c) for c in record.labels) == tuple(class_names)


def build_classifier(record: "ModelRecord", registry: "Registry", class_names: tuple[str, ...], *,
                     dropout: float = 0.2, seed: int = 0) -> Classifier:
    """A new, trainable copy of ``record`` for ``class_names`` (backbone frozen; see :func:`set_unfrozen`).

    The record's source gives the backbone (``ModelSource.backbone``): catalog entries are built with their
    pretrained weights and no top (pooled); stored Keras files are split before their last Dense layer. When the base model's label set
    is the dataset's, its own output layer is kept (a copy); otherwise a fresh ``Dense(C, softmax)``
    layer replaces it.
    """
    import keras

    from ..zoo.sources import source_of

    num_classes = len(class_names)
    backbone, old_head = source_of(record).backbone(record, registry)
    if len(backbone.outputs[0].shape) != 2:
        raise ModelLoadError(f"{record.ref}: the backbone output has shape {backbone.outputs[0].shape}; "
                             "expected pooled features (N, D)")
    size = int(backbone.inputs[0].shape[1] or record.input_size or 224)
    dim = int(backbone.outputs[0].shape[-1])
    backbone.trainable = False

    features = keras.Input((dim,), name="features")
    h = keras.layers.Dropout(dropout, seed=seed, name="head_dropout")(features) if dropout else features
    reuse = old_head is not None and same_labels(record, class_names) and old_head.units == num_classes
    dense = keras.layers.Dense(num_classes, activation="softmax", name="predictions",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed))
    head = keras.Model(features, dense(h), name="head")
    if reuse:
        dense.set_weights(old_head.get_weights())

    inputs = keras.Input((size, size, 3), name="image")
    outputs = head(backbone(inputs, training=False))
    model = keras.Model(inputs, outputs, name=f"{(record.architecture or record.name)}_finetuned".replace(" ", "_"))
    return Classifier(model, backbone, head, not reuse, size, dim)


def set_unfrozen(classifier: Classifier, unfreeze: int | str | None) -> int:
    """Open the top ``unfreeze`` layers (``"all"``: every layer) of the backbone; returns how many are trainable.

    Layers are counted among those that hold weights, from the output end. BatchNormalization layers
    stay frozen (inference mode) whatever ``unfreeze`` says.
    """
    import keras

    backbone = classifier.backbone
    if unfreeze in (None, 0, False):
        backbone.trainable = False
        return 0
    weighted = [layer for layer in backbone.layers if layer.weights]
    if unfreeze == "all":
        k = len(weighted)
    elif isinstance(unfreeze, int) and not isinstance(unfreeze, bool) and unfreeze > 0:
        k = min(unfreeze, len(weighted))
    else:
        raise InputError(f"unfreeze must be 0, a positive number of layers, or 'all', not {unfreeze!r}")
    backbone.trainable = True
    opened = set(id(layer) for layer in weighted[len(weighted) - k:])
    count = 0
    for layer in backbone.layers:
        trainable = id(layer) in opened and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable
        count += bool(trainable)
    return count
