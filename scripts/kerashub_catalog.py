"""Write ``fmc_jupyter/catalog/kerashub_presets.csv`` from the image presets KerasHub itself publishes.

Every number comes from the installed ``keras_hub`` package (its ``*_presets.py`` tables): preset name,
parameter count, description, Kaggle handle, backbone class. The input size and the pretraining set are read
from the preset's description or name ("at a 224x224 resolution", "image size 384", "ImageNet 21k"); a field
KerasHub does not publish (ImageNet top-1 for every preset; the input size of some) stays empty. The license and
visual domain of each family come from :data:`FAMILIES` (the upstream model cards), with the source noted.
Run after upgrading keras-hub: ``python scripts/kerashub_catalog.py``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "fmc_jupyter" / "catalog" / "kerashub_presets.csv"

#: preset module -> (family, license, license source, domain, has an ImageNet-1k classifier head)
FAMILIES = {
    "resnet": ("resnet", "Apache-2.0", "KerasHub model card (Kaggle keras/resnetv1, resnetv2, resnet_vd)", "natural"),
    "densenet": ("densenet", "Apache-2.0", "KerasHub model card (Kaggle keras/densenet)", "natural"),
    "vgg": ("vgg", "Apache-2.0", "KerasHub model card (Kaggle keras/vgg)", "natural"),
    "xception": ("xception", "Apache-2.0", "KerasHub model card (Kaggle keras/xception)", "natural"),
    "mobilenet": ("mobilenet", "Apache-2.0", "KerasHub model card (Kaggle keras/mobilenetv3)", "natural"),
    "mobilenetv5": ("mobilenet", "Gemma", "Gemma 3n terms of use (vision encoder of Gemma 3n)", "natural"),
    "efficientnet": ("efficientnet", "Apache-2.0", "timm weights (Apache-2.0), KerasHub port", "natural"),
    "cspnet": ("cspnet", "Apache-2.0", "timm weights (Apache-2.0), KerasHub port", "natural"),
    "hgnetv2": ("hgnetv2", "Apache-2.0", "PaddleClas weights (Apache-2.0), KerasHub port", "natural"),
    "vit": ("vit", "Apache-2.0", "google-research/vision_transformer (Apache-2.0)", "natural"),
    "deit": ("deit", "Apache-2.0", "facebookresearch/deit (Apache-2.0)", "natural"),
    "swin_transformer": ("swin", "MIT", "microsoft/Swin-Transformer (MIT)", "natural"),
    "dinov2": ("dinov2", "Apache-2.0", "facebookresearch/dinov2 (Apache-2.0)", "natural"),
    "dinov3": ("dinov3", "DINOv3 License", "facebookresearch/dinov3 (DINOv3 License)", "natural"),
    "siglip": ("siglip", "Apache-2.0", "google-research/big_vision SigLIP / SigLIP 2 (Apache-2.0)", "natural"),
    "clip": ("clip", "MIT", "openai/CLIP and mlfoundations/open_clip (MIT)", "natural"),
    "metaclip_2": ("metaclip", "", "", "natural"),
}
#: presets whose domain or license differ from their family's
OVERRIDES = {
    "medsiglip_900m_448": {"family": "medsiglip", "domain": "medical", "license": "Health AI Developer Foundations",
                           "license_source": "google/medsiglip-448 model card", "pretrained_on": "medical image-text"},
    "dinov3_vit_large_sat493m": {"domain": "satellite"},
    "dinov3_vit_7b_sat493m": {"domain": "satellite"},
}
_PRETRAINED = [(r"ImageNet[- ]?22K.*ImageNet-1K", "imagenet-22k,imagenet-1k"), (r"ImageNet 12k.*ImageNet-1k",
               "imagenet-12k,imagenet-1k"), (r"ImageNet 12k", "imagenet-12k"), (r"ImageNet 21k", "imagenet-21k"),
               (r"ImageNet[- ]?1[kK]|ImageNet 1k|ImageNet-1K", "imagenet-1k"), (r"WebLi", "webli"),
               (r"LVD-1689M", "lvd-1689m"), (r"SAT-493M", "sat-493m"), (r"DINOv2", "lvd-142m"),
               (r"Open CLIP|laion2b", "laion-2b"), (r"MetaCLIP 2", "metaclip-2-worldwide"), (r"CLIP model", "wit-400m"),
               (r"on ImageNet", "imagenet-1k")]


def _size(name: str, description: str) -> str:
    m = re.search(r"patch\d+_(\d{3,4})(?:_|$)", name) or re.search(r"_r(\d{3})_", name)
    if m:  # the name is the most specific (one upstream description gives the wrong size)
        return m.group(1)
    for pattern in (r"(\d{3,4})x\1", r"image size (?:of )?(\d{3,4})", r"resolution (\d{3,4})"):
        m = re.search(pattern, description)
        if m:
            return m.group(1)
    m = re.search(r"_(\d{3,4})(?:_|$)", name)
    return m.group(1) if m else ""


def _pretrained(name: str, description: str) -> str:
    text = f"{description} {name}"
    for pattern, value in _PRETRAINED:
        if re.search(pattern, text):
            return value
    return ""


def main() -> int:
    import importlib
    import pkgutil

    import keras_hub
    from keras_hub.src.utils.preset_utils import BUILTIN_PRESETS_FOR_BACKBONE

    classes = {p: cls.__name__ for cls, presets in BUILTIN_PRESETS_FOR_BACKBONE.items() for p in presets}
    rows = []
    models_dir = Path(keras_hub.__file__).parent / "src" / "models"
    for module in sorted(m.name for m in pkgutil.iter_modules([str(models_dir)]) if m.name in FAMILIES):
        presets = importlib.import_module(f"keras_hub.src.models.{module}.{module}_presets").backbone_presets
        family, license_, license_source, domain = FAMILIES[module]
        for name, preset in presets.items():
            meta = preset["metadata"]
            description = " ".join(meta.get("description", "").split())
            pretrained = _pretrained(name, description)
            classifier = (pretrained.endswith("imagenet-1k") and "backbone pre-trained on the ImageNet 21k"
                          not in description and module not in ("dinov2", "dinov3", "siglip", "clip", "metaclip_2",
                                                                "mobilenetv5"))
            row = {"name": name, "family": family, "architecture": classes.get(name, ""), "params": meta.get("params", ""),
                   "input_size": _size(name, description), "top1": "", "license": license_,
                   "license_source": license_source, "pretrained_on": pretrained, "domain": domain,
                   "task": "classification" if classifier else "feature-vector",
                   "tasks": "ImageClassifier" if classifier else "", "kaggle_handle": preset.get("kaggle_handle", ""),
                   "model_card": meta.get("model_card", ""), "description": description}
            row.update(OVERRIDES.get(name, {}))
            rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    OUT.write_text(out.getvalue())
    print(f"{len(rows)} presets -> {OUT} (keras-hub {keras_hub.__version__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
