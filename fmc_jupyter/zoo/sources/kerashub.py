"""KerasHub presets: the built-in KerasHub catalog, ``hf://`` / ``kaggle://`` handles and local preset folders.

A record's ``source["preset"]`` is what KerasHub's own preset API takes: a built-in preset name
(``resnet_50_imagenet``), a handle (``hf://owner/repo``, ``kaggle://owner/model/keras/variant[/version]``) or a
local directory written by ``save_to_preset``. Everything loads through KerasHub:

- ``build(head=True)``: ``keras_hub.models.ImageClassifier.from_preset(preset)`` (presets that ship a classifier);
- ``build(head=False)`` and fine-tuning: ``keras_hub.models.Backbone.from_preset(preset)`` (its vision encoder
  for image-text models such as SigLIP), pooled to ``(N, D)``: feature maps ``(N, h, w, C)`` by global average,
  token sequences ``(N, T, D)`` by the mean over tokens;
- ``preprocess``: the preset's own ``keras_hub.layers.ImageConverter.from_preset(preset)``: resize to the
  input size, then ``x * scale + offset`` as the converter defines them (an affine map of the pixels).

Handles download on first use into KerasHub's caches (Kaggle: ``$KAGGLEHUB_CACHE``, Hugging Face: the hub cache).
``FMC_HUB_MIRROR=<dir>`` points the download step at a local folder laid out as ``<dir>/hf/<owner>/<repo>`` and
``<dir>/kaggle/<owner>/<model>/keras/<variant>[/<version>]`` (offline machines, tests). Registering a handle reads
only its small JSON files and model card (``README.md`` front matter: license, datasets, tags).
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputError, ModelLoadError
from ...records import ModelRecord
from .base import ModelSource, WeightsStatus, register_source
from .preprocessing import resize_images

if TYPE_CHECKING:  # pragma: no cover
    from ...registry import Registry

__all__ = ["KerasHubSource", "is_handle", "resolve_preset", "fetch_preset_file", "model_card", "handle_format"]

_SCHEMES = ("hf://", "kaggle://")
_REPORTED_MISSING: dict[str, str] = {}


def is_handle(text: Any) -> bool:
    """Whether ``text`` is a ``hf://`` or ``kaggle://`` model handle."""
    return isinstance(text, str) and text.strip().lower().startswith(_SCHEMES)


def handle_format(preset: str) -> str:
    """The search facet ``format`` of a preset: ``hf``, ``kaggle`` or ``kerashub`` (catalog name / folder)."""
    low = preset.lower()
    return "hf" if low.startswith("hf://") else "kaggle" if low.startswith("kaggle://") else "kerashub"


def _check_handle(handle: str) -> str:
    handle = handle.strip()
    scheme, _, rest = handle.partition("://")
    parts = [p for p in rest.split("/") if p]
    if scheme.lower() == "hf":
        ok = len(parts) == 2 and all(re.fullmatch(r"[\w.-]{1,96}", p) for p in parts)
        if not ok:
            raise InputError(f"{handle!r} is not a Hugging Face handle; write hf://<owner>/<repo>")
    else:
        ok = len(parts) in (4, 5) and all(re.fullmatch(r"[\w.-]{1,96}", p) for p in parts)
        if not ok:
            raise InputError(f"{handle!r} is not a Kaggle model handle; write "
                             "kaggle://<owner>/<model>/keras/<variant>[/<version>]")
    return f"{scheme.lower()}://{'/'.join(parts)}"


def resolve_preset(preset: str) -> str:
    """What to hand KerasHub for ``preset``: a mirrored local folder when ``FMC_HUB_MIRROR`` has it, else as is."""
    mirror = os.environ.get("FMC_HUB_MIRROR")
    if mirror and is_handle(preset):
        scheme, _, rest = _check_handle(preset).partition("://")
        local = Path(mirror) / scheme / rest
        if local.is_dir():
            return str(local)
    return preset


def fetch_preset_file(preset: str, filename: str) -> Path:
    """One file of a preset, downloaded if needed by KerasHub's own ``get_file`` (the download step)."""
    from keras_hub.src.utils.preset_utils import get_file

    try:
        return Path(get_file(resolve_preset(preset), filename))
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"cannot fetch {filename} of {preset}: {type(exc).__name__}: {str(exc)[:200]}. "
                             "Offline, copy the preset folder here and register the folder (or set "
                             "FMC_HUB_MIRROR)") from None


def model_card(preset: str) -> dict[str, Any]:
    """The YAML front matter of the preset's ``README.md`` (license, datasets, tags, ...); ``{}`` if none."""
    try:
        text = fetch_preset_file(preset, "README.md").read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, ModelLoadError):
        return {}
    m = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    if not m:
        return {}
    import yaml

    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _json_file(preset: str, name: str) -> dict[str, Any] | None:
    try:
        path = fetch_preset_file(preset, name)
    except FileNotFoundError:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise ModelLoadError(f"{name} of {preset} is not valid JSON; the preset is damaged") from None


def _family(class_name: str) -> str:
    base = re.sub(r"(Backbone|ImageClassifier|VisionEncoder)$", "", class_name or "")
    return base.lower() or "kerashub"


@functools.lru_cache(maxsize=32)
def _converter(preset: str):
    import keras_hub

    return keras_hub.layers.ImageConverter.from_preset(resolve_preset(preset))


class KerasHubSource(ModelSource):
    """A KerasHub preset (``source_kind = kerashub_preset``): catalog name, handle or local preset folder."""

    kind = "kerashub_preset"
    format = "kerashub"

    @staticmethod
    def preset(record: ModelRecord) -> str:
        source = record.source if isinstance(record.source, dict) else json.loads(record.source or "{}")
        preset = source.get("preset")
        if not preset:
            raise ModelLoadError(f"{record.ref} records no KerasHub preset")
        return str(preset)

    # ------------------------------------------------------------------ facts
    def inspect(self, target: str | Path) -> dict[str, Any]:
        """Facts from the preset's ``config.json``, ``metadata.json``, converter and model card (no weights read)."""
        from .untrusted import refuse_code_in_config

        if is_handle(target):
            preset = _check_handle(str(target))
        else:
            folder = Path(target).expanduser().resolve()
            if not (folder / "config.json").is_file() or not (folder / "metadata.json").is_file():
                raise InputError(f"{folder} is not a KerasHub preset folder (config.json and metadata.json, as "
                                 "written by save_to_preset); give a model file, a preset folder or a handle")
            preset = str(folder)
        config = _json_file(preset, "config.json")
        metadata = _json_file(preset, "metadata.json") or {}
        if config is None:
            raise ModelLoadError(f"{preset} has no config.json; it is not a Keras/KerasHub preset")
        refuse_code_in_config(config, preset)
        task = _json_file(preset, "task.json")
        if task is not None:
            refuse_code_in_config(task, preset)
        converter = _json_file(preset, "image_converter.json") or {}
        conv_cfg = converter.get("config", {}) if isinstance(converter, dict) else {}
        size = conv_cfg.get("image_size")
        image_shape = (config.get("config") or {}).get("image_shape") or []
        side = (size[0] if isinstance(size, (list, tuple)) and size else None) or (
            image_shape[0] if image_shape and image_shape[0] else None)
        card = model_card(preset)
        datasets = card.get("datasets")
        tasks = list(metadata.get("tasks") or ([task.get("class_name")] if task else []))
        num_classes = (task or {}).get("config", {}).get("num_classes") if task else None
        facts: dict[str, Any] = {
            "source_kind": self.kind, "format": handle_format(preset),
            "source": {"preset": preset, "backbone_class": config.get("class_name"), "tasks": tasks,
                       "keras_hub_version": metadata.get("keras_hub_version")},
            "params": metadata.get("parameter_count"), "input_size": int(side) if side else None,
            "architecture": config.get("class_name"), "family": _family(str(config.get("class_name", ""))),
            "num_classes": num_classes, "task": "classification" if "ImageClassifier" in tasks else "feature-vector",
            "license": card.get("license") if isinstance(card.get("license"), str) else None,
            "pretrained_on": ", ".join(datasets) if isinstance(datasets, list) else datasets,
            "description": card.get("description") if isinstance(card.get("description"), str) else None,
            "tags": ",".join(str(t) for t in card.get("tags", [])) if isinstance(card.get("tags"), list) else None,
            "name": re.sub(r"[^\w.+-]", "-", preset.rstrip("/").split("/")[-1])[:128],
            "preprocessing": "in-model",
        }
        return facts

    def weights_status(self, record: ModelRecord, registry: "Registry | None" = None) -> WeightsStatus:
        preset = self.preset(record)
        source = record.source if isinstance(record.source, dict) else {}
        local = resolve_preset(preset)
        if not is_handle(local) and Path(local).is_dir():
            path = Path(local) / "model.weights.h5"
            present = path.is_file() or (Path(local) / "model.weights.json").is_file()
            return WeightsStatus(present, str(path), "" if present else "the preset folder has no model.weights.h5; "
                                 "re-save it with save_to_preset")
        handle = preset if is_handle(preset) else source.get("kaggle_handle") or preset
        if handle.startswith("hf://"):
            try:
                from huggingface_hub import try_to_load_from_cache

                hit = try_to_load_from_cache(handle[5:], "model.weights.h5")
            except Exception:
                hit = None
            present = isinstance(hit, str)
            return WeightsStatus(present, hit if present else f"the Hugging Face cache ({handle})",
                                 "" if present else f"KerasHub downloads {handle} on first use (needs internet); "
                                 "offline, copy the repo folder here and set FMC_HUB_MIRROR or register the folder")
        if handle.startswith("kaggle://"):
            parts = handle[len("kaggle://"):].split("/")
            cache = Path(os.environ.get("KAGGLEHUB_CACHE") or Path.home() / ".cache" / "kagglehub")
            base = cache / "models" / "/".join(parts[:4])
            versions = [base / parts[4]] if len(parts) == 5 else (sorted(base.iterdir()) if base.is_dir() else [])
            found = [v / "model.weights.h5" for v in versions if (v / "model.weights.h5").is_file()]
            present = bool(found)
            return WeightsStatus(present, str(found[0] if found else base),
                                 "" if present else f"KerasHub downloads {handle} on first use (needs internet); "
                                 f"offline, put the preset folder at {base}/<version> (KAGGLEHUB_CACHE moves it)")
        return WeightsStatus(False, preset, "KerasHub downloads it on first use (needs internet)")

    def min_input_size(self, record: ModelRecord) -> int:
        return 32

    # ------------------------------------------------------------------ models
    def _load(self, record: ModelRecord, loader: str) -> Any:
        import keras_hub

        preset = self.preset(record)
        key = f"{loader}|{preset}"
        if key in _REPORTED_MISSING and not self.weights_status(record).present:
            raise ModelLoadError(_REPORTED_MISSING[key])
        _REPORTED_MISSING.pop(key, None)
        cls = keras_hub.models.ImageClassifier if loader == "classifier" else keras_hub.models.Backbone
        try:
            return cls.from_preset(resolve_preset(preset))
        except (ValueError, FileNotFoundError, OSError, ConnectionError) as exc:
            status = self.weights_status(record)
            if not status.present:
                message = (f"the weights of {record.ref} ({preset}) are not on this machine and could not be "
                           f"fetched: {type(exc).__name__}: {str(exc)[:160]}. {status.how}")
                _REPORTED_MISSING[key] = message
                raise ModelLoadError(message) from None
            raise ModelLoadError(f"cannot load KerasHub preset {preset}: {type(exc).__name__}: {str(exc)[:300]}") from None

    def build(self, record: ModelRecord, registry: "Registry | None" = None, *, head: bool = True) -> Any:
        import keras

        if head:
            tasks = (record.source or {}).get("tasks") if isinstance(record.source, dict) else None
            if tasks is not None and "ImageClassifier" not in tasks:
                raise ModelLoadError(f"{record.ref} is a KerasHub backbone without a classifier head; fine-tune it "
                                     "first (fmc.finetune), then evaluate the fine-tuned version")
            task = self._load(record, "classifier")
            return keras.Model(task.inputs, task.outputs, name=f"{task.name}_functional")
        return _pooled(self._load(record, "backbone"), record)

    def preprocess(self, record: ModelRecord, images: np.ndarray) -> np.ndarray:
        converter = _converter(self.preset(record))
        size = int(record.input_size or _converter_side(converter) or images.shape[1])
        x = resize_images(images, size)
        scale, offset = getattr(converter, "scale", None), getattr(converter, "offset", None)
        if scale is not None:
            x = x * np.asarray(scale, dtype=np.float32)
        if offset is not None:
            x = x + np.asarray(offset, dtype=np.float32)
        return x.astype(np.float32)


def _converter_side(converter: Any) -> int | None:
    size = getattr(converter, "image_size", None)
    return int(size[0]) if size else None


def _pooled(backbone: Any, record: ModelRecord) -> Any:
    """``Input(S, S, 3) -> backbone (or its vision encoder) -> (N, D)``: mean over space or tokens."""
    import keras

    encoder = getattr(backbone, "vision_encoder", None) or backbone
    out = encoder.output
    if isinstance(out, dict):
        out = out.get("pooled_output", out.get("sequence_output", next(iter(out.values()))))
    inputs = encoder.inputs
    if isinstance(encoder.input, dict):
        keys = [k for k in encoder.input if "image" in k or "pixel" in k]
        if len(encoder.input) != 1 and not keys:
            raise ModelLoadError(f"{record.ref}: cannot find the image input of {type(backbone).__name__}")
        inputs = encoder.input[keys[0]] if keys else next(iter(encoder.input.values()))
    rank = len(out.shape)
    if rank == 4:
        out = keras.layers.GlobalAveragePooling2D(name="fmc_pool")(out)
    elif rank == 3:
        out = keras.layers.GlobalAveragePooling1D(name="fmc_pool")(out)
    elif rank != 2:
        raise ModelLoadError(f"{record.ref}: the backbone output has shape {out.shape}; expected features")
    size = int(record.input_size or 224)
    image = keras.Input((size, size, 3), name="image")
    inner = keras.Model(inputs, out, name=f"{backbone.name}_pooled")
    return keras.Model(image, inner(image), name=f"{backbone.name}_features")


register_source(KerasHubSource())
