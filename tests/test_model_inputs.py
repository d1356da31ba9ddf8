"""How images become a model's input: TFLite input quantization read from the model, antialiasing decided
from the actual scale factor of each side (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest

from fmc_jupyter.zoo.sources.tflite import tflite_input


def detail(dtype, scale, zero):
    return {"dtype": dtype, "quantization": (scale, zero)}


PIXELS = np.array([[0.0, 64.0, 127.5, 200.0, 255.0]])


@pytest.mark.parametrize("dtype, scale, zero, expected", [
    (np.uint8, 1 / 128, 128, np.round((PIXELS / 127.5 - 1) * 128 + 128).clip(0, 255)),   # [-1, 1] calibrated
    (np.int8, 1 / 128, 0, np.round((PIXELS / 127.5 - 1) * 128).clip(-128, 127)),          # symmetric int8
    (np.uint8, 1 / 255, 0, np.round(PIXELS)),                                                # [0, 1] calibrated
    (np.uint8, 1.0, 0, np.round(PIXELS)),                                                    # raw pixels
    (np.int8, 1.0, -128, np.round(PIXELS) - 128),                                            # raw pixels, int8
    (np.int8, 1 / 255, -128, np.round(PIXELS) - 128),                                        # [0, 1] in int8
])
def test_quantized_input_follows_the_models_scale_and_zero_point(dtype, scale, zero, expected):
    q = tflite_input(PIXELS, detail(dtype, scale, zero))
    assert q.dtype == dtype
    np.testing.assert_array_equal(q.astype(np.int64), expected.astype(np.int64))


def test_float_input_uses_the_recorded_preprocessing():
    np.testing.assert_allclose(tflite_input(PIXELS, detail(np.float32, 0.0, 0)), PIXELS / 127.5 - 1, rtol=1e-6)
    np.testing.assert_allclose(tflite_input(PIXELS, detail(np.float32, 0.0, 0), "unit"), PIXELS / 255, rtol=1e-6)


def test_antialiasing_follows_the_side_that_shrinks():
    """A wide image whose height is upscaled but whose width shrinks 4x: stripes along the width must be
    filtered (antialiased), not aliased into a pattern."""
    pytest.importorskip("keras")
    from fmc_jupyter.zoo.models import resize_images

    stripes = np.zeros((1, 8, 64, 3), dtype=np.float32)
    stripes[:, :, ::2] = 255.0                    # period-2 columns: nothing survives a 5x shrink but the mean
    out = resize_images(stripes, 12)              # height 8 -> 12 (up), width 64 -> 12 (down)
    assert out.shape == (1, 12, 12, 3)
    assert np.abs(out - 127.5).max() < 20.0
