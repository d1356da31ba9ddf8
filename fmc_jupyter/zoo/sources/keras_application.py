"""``keras.applications`` constructors: the built-in Keras Applications catalog.

``build``: ``keras.applications.<constructor>(include_top, weights, input_shape, pooling, **kwargs)``; weights
come through Keras's own loader and cache (``$KERAS_HOME/models/<file>``; see :mod:`..keras_home` for offline
use). ``preprocess``: the model's own ``keras.applications.<module>.preprocess_input`` at its input size.
Weights are present when Keras's cache holds the file the constructor looks for (recorded per catalog row).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ModelLoadError
from ...records import ModelRecord
from .base import ModelSource, WeightsStatus, register_source
from .preprocessing import resize_images

if TYPE_CHECKING:  # pragma: no cover
    from ...registry import Registry
    from .layers import LayerReader

__all__ = ["KerasApplicationSource", "keras_cache_dir"]

#: smallest input side Keras accepts for these application constructors (default 32)
_MIN_SIDE = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71, "NASNetLarge": 32, "NASNetMobile": 32}
#: weight files already reported missing in this process (reported once, never retried)
_REPORTED_MISSING: dict[str, str] = {}


def keras_cache_dir() -> Path:
    """Where Keras looks for downloaded weights: ``$KERAS_HOME/models`` (default ``~/.keras/models``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def keras_weight_file(constructor: str, kwargs: dict[str, Any], size: int, head: bool) -> str | None:
    """The weight file ``keras.applications.<constructor>(weights="imagenet")`` asks ``get_file`` for.

    The names follow each application module of Keras 3 (``keras/src/applications/*.py``); ``None`` for a
    constructor not listed here.
    """
    c = constructor
    tf_kernels = "_weights_tf_dim_ordering_tf_kernels" + ("" if head else "_notop") + ".h5"
    if c in ("Xception", "VGG16", "VGG19", "DenseNet121", "DenseNet169", "DenseNet201", "ResNet50", "ResNet101",
             "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2"):
        return c.lower() + tf_kernels
    if c in ("InceptionV3", "InceptionResNetV2"):
        return {"InceptionV3": "inception_v3", "InceptionResNetV2": "inception_resnet_v2"}[c] + tf_kernels
    if c in ("NASNetMobile", "NASNetLarge"):
        return ("nasnet_mobile" if c == "NASNetMobile" else "nasnet_large") + ("" if head else "_no_top") + ".h5"
    alpha = float(kwargs.get("alpha", 1.0))
    if c == "MobileNet":
        text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0"}.get(alpha, "2_5")
        return f"mobilenet_{text}_{size}_tf" + ("" if head else "_no_top") + ".h5"
    if c == "MobileNetV2":
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}" + ("" if head else "_no_top") + ".h5"
    if c in ("MobileNetV3Large", "MobileNetV3Small"):
        kind = "large" if c.endswith("Large") else "small"
        name = f"{kind}{'_minimalistic' if kwargs.get('minimalistic') else ''}_224_{alpha}_float"
        return f"weights_mobilenet_v3_{name}" + ("" if head else "_no_top_v2") + ".h5"
    suffix = ".h5" if head else "_notop.h5"
    if c.startswith("EfficientNetV2"):
        return f"efficientnetv2-{c[len('EfficientNetV2'):].lower()}{suffix}"
    if c.startswith("EfficientNetB"):
        return f"efficientnet{c[len('EfficientNet'):].lower()}{suffix}"
    if c.startswith("ConvNeXt"):
        return f"convnext_{c[len('ConvNeXt'):].lower()}{suffix}"
    return None


def _source(record: ModelRecord) -> dict[str, Any]:
    return record.source if isinstance(record.source, dict) else json.loads(record.source or "{}")


class KerasApplicationSource(ModelSource):
    """A ``keras.applications`` constructor with ImageNet weights (``source_kind = keras_application``)."""

    kind = "keras_application"
    format = "keras"

    def min_input_size(self, record: ModelRecord) -> int:
        return _MIN_SIDE.get(_source(record).get("constructor", ""), 32)

    def weight_file(self, record: ModelRecord, head: bool) -> str | None:
        """The file name Keras's loader looks for under ``$KERAS_HOME/models`` (see :func:`keras_weight_file`)."""
        source = _source(record)
        return keras_weight_file(source.get("constructor", ""), source.get("kwargs") or {},
                                 int(record.input_size or 224), head)

    def weights_status(self, record: ModelRecord, registry: "Registry | None" = None, *,
                       head: bool = False) -> WeightsStatus:
        name = self.weight_file(record, head)
        cache = keras_cache_dir()
        if not name:
            return WeightsStatus(False, f"{cache}/<unknown file>", "build the model once with internet access")
        path = cache / name
        if path.is_file():
            return WeightsStatus(True, str(path))
        return WeightsStatus(False, str(path), f"put {name} into {cache} (or point KERAS_HOME at a folder whose "
                                               f"models/ holds it: fmc_jupyter.zoo.use_weights_dir), or use a "
                                               "machine with internet access once")

    def build(self, record: ModelRecord, registry: "Registry | None" = None, *, head: bool = True,
              weights: str | None = "imagenet") -> Any:
        import keras

        source = _source(record)
        ctor = getattr(keras.applications, source["constructor"], None)
        if ctor is None:
            raise ModelLoadError(f"keras.applications has no {source['constructor']} in Keras {keras.__version__}")
        size = int(record.input_size or 224)
        kwargs: dict[str, Any] = dict(source.get("kwargs", {}))
        kwargs.update(include_top=head, weights=weights)
        if not head:
            kwargs.update(input_shape=(size, size, 3), pooling="avg")
        key = f"{source['constructor']}|{json.dumps(kwargs, sort_keys=True, default=str)}"
        if weights and key in _REPORTED_MISSING:  # absent weights are reported once, not fetched again each call
            if not self.weights_status(record, head=head).present:
                raise ModelLoadError(_REPORTED_MISSING[key])
            del _REPORTED_MISSING[key]  # provided since: load them
        try:
            return ctor(**kwargs)
        except Exception as exc:
            text = str(exc)
            if weights and ("URL" in text or "fetch" in text.lower() or "resolve" in text.lower()
                            or "connect" in text.lower() or "network" in text.lower()):
                status = self.weights_status(record, head=head)
                message = (f"the weights of {record.ref} are not on this machine and cannot be downloaded here: "
                           f"Keras looks for {status.where}; {status.how}")
                _REPORTED_MISSING[key] = message
                raise ModelLoadError(message) from None
            raise ModelLoadError(f"cannot build {record.ref}: {type(exc).__name__}: {text[:300]}") from exc

    def preprocess(self, record: ModelRecord, images: np.ndarray) -> np.ndarray:
        import keras

        size = int(record.input_size or images.shape[1])
        module = getattr(keras.applications, _source(record)["module"])
        return np.asarray(module.preprocess_input(resize_images(images, size)), dtype=np.float32)

    def layer_reader(self, record: ModelRecord, registry: "Registry | None" = None, *, mode: str = "auto",
                     label: str | None = None) -> tuple["LayerReader", list[str]]:
        """Built with its ImageNet top if those weights load, else without (and a note says so)."""
        from ...errors import InputError
        from .layers import KerasModelReader

        label = label or record.ref
        if mode == "files":
            raise InputError(f"{label} is a catalog entry built by Keras, not a stored file; use mode='auto'")
        try:
            return KerasModelReader(self.build(record, head=True), label), []
        except ModelLoadError as with_top:
            try:
                model = self.build(record, head=False)
            except ModelLoadError:
                raise with_top from None
            return KerasModelReader(model, label), [f"{label} was built without its ImageNet top (include_top="
                                                    "False, pooling='avg'): the top's weights are not available here"]


register_source(KerasApplicationSource())
