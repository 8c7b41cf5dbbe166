"""Deprecated import path ``avse_tf.tasks.inpainting_recipe``: moved to ``avse_tf.systems.av_inpainting.recipe`` (kept for one release; warns on use)."""

from avse_tf._deprecation import alias_module

__getattr__ = alias_module(__name__, ("avse_tf.systems.av_inpainting.recipe", ))
