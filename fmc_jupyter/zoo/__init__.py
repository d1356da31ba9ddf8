"""Model access: turn a registry entry into a Keras model or feature extractor with the right preprocessing.

Only this package and the services import Keras, always lazily (inside functions).
"""

from .features import extract_features
from .inspect import inspect_model_file, load_keras_file
from .keras_home import use_weights_dir
from .models import build_keras_model, preprocess_images

__all__ = ["build_keras_model", "preprocess_images", "inspect_model_file", "load_keras_file", "use_weights_dir",
           "extract_features"]
