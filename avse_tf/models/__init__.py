"""Deprecated package ``avse_tf.models``: models live in their system's folder,
``avse_tf/systems/<system>/model.py``, and presets in :mod:`avse_tf.systems.presets` (kept for one
release; every name warns on use). ``avse_tf.models.build_model`` was the enhancement builder."""

from avse_tf._deprecation import alias_module

__getattr__ = alias_module(__name__, ("avse_tf.systems.landmark_enhancement.model", "avse_tf.systems.presets"))
