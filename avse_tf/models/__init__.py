"""Model builders (Keras functional, registered for safe-mode loading) and presets.

* :mod:`avse_tf.models.enhancement` — Morrone et al. 2019: ``vl2m``, ``vl2m_ref``,
  ``av_concat_mask``, ``av_concat_mask_ref``, ``av_concat_spec``;
* :mod:`avse_tf.models.inpainting` — Morrone et al. 2021: ``a_blstm``, ``av_blstm``,
  ``a_blstm_mtl``, ``av_blstm_mtl`` (imported on first use);
* :mod:`avse_tf.models.speech2vid` — Chung et al. 2017: ``speech2vid``, the deblurring network
  (imported on first use);
* :mod:`avse_tf.models.presets` — the papers' hyper-parameters as named presets of every family
  (JSON files in ``avse_tf/models/preset_files/``), :func:`from_preset` to build one.
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
