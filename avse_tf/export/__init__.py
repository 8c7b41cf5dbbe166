"""Export trained models of every system: SavedModel, .keras, TFLite (see :mod:`avse_tf.export.exporter`).

* :mod:`avse_tf.export.core` — atomic export folders, the ``avse_export.json`` stamp, model-core formats;
* :mod:`avse_tf.export.exporter` — ``avse export``: dispatch to the system's ``export`` module.
"""

from avse_tf.export.exporter import FORMATS, export_model, export_support

__all__ = ["FORMATS", "export_model", "export_support"]


def __getattr__(name):
    if name == "load_serving":  # moved with the enhancement system
        from avse_tf._deprecation import moved

        return moved("avse_tf.export.load_serving", "avse_tf.systems.landmark_enhancement.serving", name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
