"""Model builders (Keras functional, registered for safe-mode loading) and presets.

* :mod:`avse_tf.models.enhancement` — Morrone et al. 2019: ``vl2m``, ``vl2m_ref``,
  ``av_concat_mask``, ``av_concat_mask_ref``, ``av_concat_spec``;
* :mod:`avse_tf.models.presets` — the papers' hyper-parameters as named presets (JSON files in
  ``avse_tf/models/presets/``), :func:`from_preset` to build one.
"""

from avse_tf.models.enhancement import (
    MODEL_BUILDERS,
    MODEL_SPECS,
    EnhancementModel,
    av_concat_mask,
    av_concat_mask_ref,
    av_concat_spec,
    build_model,
    compile_model,
    vl2m,
    vl2m_ref,
)
from avse_tf.models.presets import from_preset, get_preset, list_presets

__all__ = ["vl2m", "vl2m_ref", "av_concat_mask", "av_concat_mask_ref", "av_concat_spec", "EnhancementModel",
           "MODEL_BUILDERS", "MODEL_SPECS", "build_model", "compile_model", "from_preset",
           "get_preset", "list_presets"]
