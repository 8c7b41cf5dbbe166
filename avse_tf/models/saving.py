"""Deprecated import path ``avse_tf.models.saving``: moved to ``avse_tf.training.checkpoints`` (kept for one release; warns on use)."""

from avse_tf._deprecation import alias_module

__getattr__ = alias_module(__name__, ("avse_tf.training.checkpoints", ))
