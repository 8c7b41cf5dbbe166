"""Deprecated import path ``avse_tf.tasks.speech2vid``: moved to ``avse_tf.video.face_alignment`` (kept for one release; warns on use)."""

from avse_tf._deprecation import alias_module

__getattr__ = alias_module(__name__, ("avse_tf.video.face_alignment", "avse_tf.systems.speech2vid.pipeline", "avse_tf.systems.speech2vid.train", "avse_tf.systems.speech2vid.predict", "avse_tf.systems.speech2vid.evaluate", "avse_tf.constants", ))
