"""Speech2Vid, "You said that?" (Chung, Jamaludin, Zisserman, BMVC 2017): a talking face from speech.

Folder map: ``model.py`` (generator, face encoder, deblurring network, loss), ``pipeline.py``
(MFCC windows, aligned faces, record schema and records), ``preparation.py`` (the whole corpus
preparation, locally or on Apache Beam: ``avse preprocess speech2vid``), ``train.py``, ``predict.py`` (a face
speaking an audio file), ``evaluate.py`` (PSNR, SSIM, lip sync), ``export.py``, ``cli.py``
(``avse speech2vid``), ``presets/`` and ``README.md`` (model card). Face alignment is shared:
:mod:`avse_tf.video.face_alignment`.
"""

from avse_tf.systems.base import System

SYSTEM = System(
    name="speech2vid",
    title="Speech2Vid talking face from audio and a still (Chung et al. 2017)",
    paper="Chung, Jamaludin, Zisserman: You said that?, BMVC 2017",
    cli_group="speech2vid",
    models=("speech2vid", "speech2vid_masked"),
    auxiliary_models=("speech2vid_deblur", "face_encoder"),
    record_schema="pipeline:speech2vid_schema",
    task="predict:TalkingFace",
    export="export",
    bench="bench:bench_cases",
    preparation="preparation:Speech2VidPreparation",
)
