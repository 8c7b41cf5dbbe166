"""Pseudo-visual speech denoising (Hegde et al., WACV 2021, arXiv 2012.10852): data, teacher, student (issue 19), denoiser (issue 20).

Folder map: ``features.py`` (Wav2Lip's mel: 800/200/800 STFT, 80 mels 55-7600 Hz, pre-emphasis
0.97, dB with min -100 / ref 20, symmetric [-4, 4]; 16 mel frames per 25 fps video frame),
``faces.py`` (Wav2Lip-style 96 x 96 face crops from the shared dlib detector / tracker),
``sources.py`` (an LRS3 set ``<root>/<folder>/<id>.mp4``, LRS3, GRID or the synthetic corpus),
``preprocess.py`` (``avse denoising preprocess``: the seed's ``<folder>/<clip>/<frame>.jpg`` +
``audio.wav``, split lists, records; resumable, bad clips reported), ``records.py`` (one record per
clip), ``pipeline.py`` (record schema and the ``tf.data`` readers of the teacher generator, the
lip-sync expert and the student), ``noisy.py`` (the student's noisy mels, mixed on the fly with the
shared noise bank), ``cli.py`` (``avse denoising``) and ``README.md`` (model card, data part).

Teacher (issue 19): ``blocks.py`` (Wav2Lip's conv blocks and audio encoder), ``expert.py`` (the
lip-sync expert, SyncNet_color), ``teacher.py`` (the Wav2Lip generator, its training step and
``teacher_lips`` / ``lower_half``, the interface the student calls), ``model.py``
(``MODEL_BUILDERS``), ``presets/``, ``train_teacher.py`` (``train_expert``, ``train_teacher``,
``load_checkpoint``), ``evaluate_teacher.py`` (lip-sync correlations, expert accuracy),
``speech2vid_teacher.py`` (``--teacher speech2vid``: Speech2Vid behind the teacher's interface).

Student (issue 19): ``student.py`` (the audio-only lip generator), ``distill.py`` (distillation from
the frozen teacher), ``train_student.py``, ``lipsync.py`` (lips for any audio file),
``evaluate_student.py`` (student vs teacher on noisy speech).

Denoiser (issue 20, in progress): ``denoiser.py`` (the network and its presets); its data, training,
inference and evaluation come next.
"""

from avse_tf.systems.base import System

SYSTEM = System(
    name="pseudo_visual",
    title="Pseudo-visual speech denoising (Hegde et al. 2021)",
    paper="Hegde, Prajwal, Mukhopadhyay, Namboodiri, Jawahar: Visual Speech Enhancement Without A Real "
          "Visual Stream, WACV 2021",
    cli_group="denoising",
    models=("wav2lip_teacher", "lipsync_student", "pseudo_visual_denoiser"),
    auxiliary_models=("lipsync_expert",),
    model_module="model",
    record_schema="pipeline:pseudo_visual_schema",
    task="serving:PseudoVisualDenoiser",
    export="export",
    streaming="streaming:build_processor",
    bench="bench:bench_cases",
    preparation="preprocess:DenoisingPreparation",
)
