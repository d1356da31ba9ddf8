"""The built-in catalog, as package data: every ``keras.applications`` ImageNet classifier and every image
classifier / backbone KerasHub publishes.

``keras_applications.csv`` holds the facts (constructor and kwargs, ``keras.applications`` module for
``preprocess_input``, input size, parameters, size, ImageNet top-1/top-5 in %, depth, latency per
batch-32 step on CPU/GPU, preprocessing mode). Rows come from the Keras Applications table, the
TF-slim MobileNet v1/v2 checkpoint tables (alpha x resolution variants) and the Keras MobileNetV3 docs.

``kerashub_presets.csv`` is written by ``scripts/kerashub_catalog.py`` from KerasHub's own preset tables
(name, parameters, description, Kaggle handle, backbone class; input size and pretraining set read from the
description or name; license and domain per family with their source). KerasHub publishes no ImageNet top-1
per preset, so ``top1`` stays empty there.
"""

from __future__ import annotations

import csv
import io
import json
from importlib import resources
from typing import Any

__all__ = ["catalog_rows", "kerashub_rows"]

_LICENSE = "Apache-2.0"


def _num(text: str, cast=float) -> Any:
    return cast(float(text)) if text not in ("", None) else None


def catalog_rows() -> list[dict[str, Any]]:
    """Rows ready for the ``models`` table (public, owner ``catalog``, top-1/top-5 as fractions)."""
    text = resources.files(__package__).joinpath("keras_applications.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        kwargs = json.loads(r["kwargs"])
        source = {"constructor": r["constructor"], "module": r["module"], "kwargs": kwargs,
                  "weights": "imagenet", "note": r["note"]}
        rows.append({
            "name": r["name"], "version": 1, "family": r["family"], "architecture": r["constructor"],
            "task": "classification", "domain": "natural", "source_kind": "keras_application",
            "source": json.dumps(source, sort_keys=True), "input_size": int(r["input_size"]),
            "params": _num(r["params"], int), "size_mb": _num(r["size_mb"]),
            "top1": None if r["top1"] == "" else float(r["top1"]) / 100,
            "top5": None if r["top5"] == "" else float(r["top5"]) / 100,
            "depth": _num(r["depth"], int), "cpu_ms": _num(r["cpu_ms"]), "gpu_ms": _num(r["gpu_ms"]),
            "pretrained_on": "imagenet", "license": _LICENSE, "preprocessing": r["preprocessing"],
            "num_classes": 1000, "labels": None,
            "description": f"keras.applications.{r['constructor']}"
                           + (f"({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})" if kwargs else "()")
                           + f" pretrained on ImageNet, {r['input_size']}px input.",
            "tags": "imagenet,keras-applications", "owner": "catalog", "visibility": "public",
        })
    return rows


def kerashub_rows() -> list[dict[str, Any]]:
    """KerasHub preset rows for the ``models`` table (public, owner ``catalog``, ``source_kind`` kerashub_preset)."""
    text = resources.files(__package__).joinpath("kerashub_presets.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        tasks = [t for t in r["tasks"].split(";") if t]
        source = {"preset": r["name"], "kaggle_handle": r["kaggle_handle"], "tasks": tasks,
                  "license_source": r["license_source"], "model_card": r["model_card"] or None}
        classifier = "ImageClassifier" in tasks
        rows.append({
            "name": r["name"], "version": 1, "family": r["family"], "architecture": r["architecture"] or None,
            "task": r["task"], "domain": r["domain"], "source_kind": "kerashub_preset",
            "source": json.dumps(source, sort_keys=True), "input_size": _num(r["input_size"], int),
            "params": _num(r["params"], int), "size_mb": None,
            "top1": None if r["top1"] == "" else float(r["top1"]) / 100, "top5": None,
            "depth": None, "cpu_ms": None, "gpu_ms": None, "pretrained_on": r["pretrained_on"] or None,
            "license": r["license"] or None, "preprocessing": "kerashub", "num_classes": 1000 if classifier else None,
            "labels": None, "description": f"KerasHub preset {r['name']}: {r['description']}",
            "tags": ",".join(t for t in ("kerashub", r["family"], r["pretrained_on"]) if t),
            "owner": "catalog", "visibility": "public",
        })
    return rows
