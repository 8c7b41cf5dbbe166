"""Deprecated import path ``avse_tf.tasks.inpainting``: moved to ``avse_tf.systems.av_inpainting.pipeline`` (kept for one release; warns on use)."""

from avse_tf._deprecation import alias_module

__getattr__ = alias_module(__name__, ("avse_tf.systems.av_inpainting.pipeline", "avse_tf.systems.av_inpainting.train", "avse_tf.systems.av_inpainting.phone_recognizer", "avse_tf.systems.av_inpainting.evaluate", "avse_tf.systems.av_inpainting.inpaint", "avse_tf.constants", ))
