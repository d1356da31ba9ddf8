"""Fine-tuning internals: data, heads, batch sizing, the training loop, the LR range test, the run object.

The public entry point is :func:`fmc_jupyter.finetuning.finetune`.
"""

from .data import TrainingData, resolve_data, stratified_split
from .lr_finder import LRFinderResult, lr_range_test
from .run import TrainingRun

__all__ = ["TrainingData", "resolve_data", "stratified_split", "LRFinderResult", "lr_range_test", "TrainingRun"]
