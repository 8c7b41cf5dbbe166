"""The pseudo-visual system's model builders (``MODEL_BUILDERS``); importing this module registers
its Keras classes for safe-mode loading: the Wav2Lip teacher (:mod:`teacher`), its lip-sync
expert (:mod:`expert`), the audio-only student (:mod:`student`), its distillation (:mod:`distill`)
and the denoiser (:mod:`denoiser`) with its training wrapper (:mod:`denoiser_training`)."""

from avse_tf.systems.pseudo_visual.denoiser import pseudo_visual_denoiser
from avse_tf.systems.pseudo_visual.denoiser_training import DenoiserTraining
from avse_tf.systems.pseudo_visual.distill import StudentDistillation
from avse_tf.systems.pseudo_visual.expert import LipSyncExpert, lipsync_expert
from avse_tf.systems.pseudo_visual.student import lipsync_student
from avse_tf.systems.pseudo_visual.teacher import Wav2LipTeacher, wav2lip_teacher

MODEL_BUILDERS = {"wav2lip_teacher": wav2lip_teacher, "lipsync_student": lipsync_student,
                  "lipsync_expert": lipsync_expert, "pseudo_visual_denoiser": pseudo_visual_denoiser}

__all__ = ["MODEL_BUILDERS", "LipSyncExpert", "Wav2LipTeacher", "StudentDistillation", "DenoiserTraining"]
