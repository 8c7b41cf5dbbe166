"""Deprecated import path ``avse_tf.tasks.enhancement``: moved to ``avse_tf.systems.landmark_enhancement.pipeline`` (kept for one release; warns on use)."""

from avse_tf._deprecation import alias_module

__getattr__ = alias_module(__name__, ("avse_tf.systems.landmark_enhancement.pipeline", "avse_tf.systems.landmark_enhancement.train", "avse_tf.systems.landmark_enhancement.evaluate", "avse_tf.constants", ))
