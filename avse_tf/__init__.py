"""avse_tf: audio-visual speech models in TensorFlow 2 / Keras 3.

Submodules are imported on first use so that ``import avse_tf`` stays cheap and the command line
starts quickly; TensorFlow is loaded only by the parts that need it.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("audio", "video", "data", "metrics", "records", "layers", "models", "losses", "training",
               "tasks", "cli", "errors")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", *_SUBMODULES]
