"""avse_tf: audio-visual speech models in TensorFlow 2 / Keras 3.

Submodules are imported on first use so that ``import avse_tf`` stays cheap and the command line
starts quickly; TensorFlow is loaded only by the parts that need it.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("audio", "video", "data", "media", "metrics", "records", "layers", "losses", "training", "export",
               "streaming", "systems", "cli", "errors", "constants", "api",
               "models", "tasks")  # the last two: deprecated paths, kept for one release
# The Python API (avse_tf.api), reachable from the top level: avse_tf.load(...), each system's task helpers.
_API = ("load", "enhance", "enhance_file", "inpaint_file", "speech_to_video", "ExportedModel")
# Model builders and presets of every system (avse_tf.systems.presets): avse_tf.from_preset("vl2m_grid").
_MODELS = ("from_preset", "get_preset", "list_presets", "build_model")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _API:
        return getattr(importlib.import_module(f"{__name__}.api"), name)
    if name in _MODELS:
        return getattr(importlib.import_module(f"{__name__}.systems.presets"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", *_SUBMODULES, *_API, *_MODELS]
