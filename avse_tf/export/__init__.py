"""Export trained models: SavedModel with waveform-in / waveform-out serving signatures, .keras, TFLite.

* :mod:`avse_tf.systems.landmark_enhancement.serving` — the serving graph (feature extraction, model, reconstruction);
* :mod:`avse_tf.export.exporter` — ``avse export``: formats and the directory layouts.
"""

from avse_tf.export.exporter import FORMATS, export_model
from avse_tf.systems.landmark_enhancement.serving import load_serving

__all__ = ["FORMATS", "export_model", "load_serving"]
