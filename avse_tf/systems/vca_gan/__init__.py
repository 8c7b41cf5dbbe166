"""VCA-GAN lip-to-speech (Kim, Hong, Ro, NeurIPS 2021): data, model and training step.

Folder map: ``features.py`` (the paper's audio features: high-pass, peak 0.9, pre-emphasis, centred
640/160 STFT, 80 log-mels scaled to [-1, 1], 321-bin linear magnitude), ``mouth.py`` (one speaker's
stable 112 x 112 grayscale lip crops from the shared detector/tracker), ``seed_steps.py`` (the
multi-language seed's scripts: ``preprocess_audio_only``, ``crop_video_processing``,
``remove_not_25``), ``sources.py`` (which videos and audio a folder or corpus holds),
``preprocess.py`` (one command: 25 fps, 3 s segments, crops, features, folder per clip, split
lists, records), ``pipeline.py`` (record schema and the tf.data reader: 40-frame windows,
augmentation, normalisation), ``cli.py`` (``avse lip2speech``) and ``README.md`` (model card, data part).

Model (issue 18): ``visual_frontend.py`` (3D conv + ResNet-18 + BiGRU), ``generator.py`` (generator,
visual context attention, post-net), ``discriminators.py`` (per-scale mel and sync discriminators),
``losses.py``, ``model.py`` (``VCAGAN``: the GAN with its own ``train_step``, two optimisers;
``MODEL_BUILDERS``), ``presets/`` (``vca_gan_grid``, ``vca_gan_cpu``).

Inference: ``synthesis.py`` (Griffin-Lim 60 + de-emphasis, one cached ``tf.function``),
``predict.py`` (a silent video -> wav / mp4: ``synthesize``, ``synthesize_file``, and
``LipToSpeech``, what :func:`avse_tf.load` returns), ``export.py`` (SavedModel: lips in, waveform
out; ``.keras``), ``bench.py`` (the benchmark cases).
"""

from avse_tf.systems.base import System

SYSTEM = System(
    name="vca_gan",
    title="VCA-GAN lip-to-speech (Kim et al. 2021)",
    paper="Kim, Hong, Ro: Lip to Speech Synthesis with Visual Context Attentional GAN, NeurIPS 2021",
    cli_group="lip2speech",
    models=("vca_gan",),
    record_schema="pipeline:vca_gan_schema",
    task="predict:LipToSpeech",
    export="export",
    bench="bench:bench_cases",
    preparation="preprocess:Lip2SpeechPreparation",
)
