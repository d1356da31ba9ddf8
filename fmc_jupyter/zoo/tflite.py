"""TFLite access lives in :mod:`.sources.tflite`; this name is kept for callers of ``tflite_interpreter``."""

from .sources.tflite import tflite_interpreter

__all__ = ["tflite_interpreter"]
