"""Reading labelled images from an image folder or from TFDS into numpy arrays."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .arguments import image_size as image_size_arg
from .arguments import optional_path, text, whole
from .errors import InputError

__all__ = ["read_image_folder", "read_tfds"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def read_image_folder(folder: str | os.PathLike, image_size: tuple[int, int] = (224, 224)):
    """``folder/<class>/<image>`` -> ``(x (N, H, W, 3) uint8, y (N,) int64, class_names)``, classes sorted.

    ``image_size``: ``(H, W)`` every image is resized to (whole numbers in 1..16384; checked before reading).
    """
    from PIL import Image

    size = image_size_arg(image_size)
    if not isinstance(folder, (str, os.PathLike)):
        raise InputError(f"folder must be a path to a folder of class sub-folders, not {type(folder).__name__}")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"image folder {folder} does not exist")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise InputError(f"{folder} has no class sub-folders; lay images out as {folder}/<class name>/<image>")
    xs, ys = [], []
    for label, cls in enumerate(classes):
        for file in sorted((folder / cls).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(file) as img:
                    img = img.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
                    xs.append(np.asarray(img, dtype=np.uint8))
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                raise InputError(f"cannot read image {file}: {exc}; remove or replace that file") from None
            ys.append(label)
    if not xs:
        raise InputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}")
    return np.stack(xs), np.array(ys, dtype=np.int64), classes


def read_tfds(name: str, split: str = "train", data_dir: str | os.PathLike | None = None,
              image_size: tuple[int, int] | None = None, limit: int | None = None):
    """``tfds.load(name, split, data_dir, download=False)`` -> numpy images, labels and class names.

    Offline use needs the prepared dataset under ``data_dir``; on a machine with internet the
    caller may prepare it first (``tfds.builder(name).download_and_prepare()``).
    """
    text(name, "name (the TFDS dataset)", max_length=200)
    text(split, "split", max_length=200)
    data_dir = optional_path(data_dir, "data_dir")
    image_size = image_size_arg(image_size, allow_none=True)
    if limit is not None:
        limit = whole(limit, "limit", 1, hint=" (or None for every example)")
    import tensorflow_datasets as tfds

    try:
        ds, info = tfds.load(name, split=split, data_dir=None if data_dir is None else str(data_dir),
                             download=False, with_info=True, as_supervised=True)
    except Exception as exc:
        raise InputError(f"cannot load TFDS dataset {name!r} (split {split!r}) from "
                         f"{data_dir or 'the default TFDS data dir'}: {exc}") from exc
    label = info.supervised_keys[1] if info.supervised_keys else "label"
    names = list(info.features[label].names)
    if limit:
        ds = ds.take(limit)
    xs, ys = [], []
    for image, y in tfds.as_numpy(ds):
        if image_size and image.shape[:2] != tuple(image_size):
            from PIL import Image

            mode_img = Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image)
            image = np.asarray(mode_img.resize((image_size[1], image_size[0]), Image.BILINEAR))
        xs.append(image)
        ys.append(int(y))
    if not xs:
        raise InputError(f"TFDS dataset {name!r} split {split!r} is empty")
    try:
        x = np.stack(xs)
    except ValueError:
        raise InputError(f"images of {name!r} differ in size; pass image_size=(H, W)") from None
    return x, np.array(ys, dtype=np.int64), names
