"""VCA-GAN lip-to-speech (Kim, Hong, Ro, NeurIPS 2021): part 1, the data.

Folder map: ``features.py`` (the paper's audio features: high-pass, peak 0.9, pre-emphasis, centred
640/160 STFT, 80 log-mels scaled to [-1, 1], 321-bin linear magnitude), ``mouth.py`` (one speaker's
stable 112 x 112 grayscale lip crops from the shared detector/tracker), ``seed_steps.py`` (the
multi-language seed's scripts: ``preprocess_audio_only``, ``crop_video_processing``,
``remove_not_25``), ``sources.py`` (which videos and audio a folder or corpus holds),
``preprocess.py`` (one command: 25 fps, 3 s segments, crops, features, folder per clip, split
lists, records), ``pipeline.py`` (record schema and the tf.data reader: 40-frame windows,
augmentation, normalisation), ``cli.py`` (``avse lip2speech``) and ``README.md`` (model card, data part).

The model, training and synthesis come with issue 18: until then the system builds no model
(``models=()``, ``model_module=None``), which the registry accepts as a data-only system.
"""

from avse_tf.systems.base import System

SYSTEM = System(
    name="vca_gan",
    title="VCA-GAN lip-to-speech data: mouth crops, mels, records (Kim et al. 2021)",
    paper="Kim, Hong, Ro: Lip to Speech Synthesis with Visual Context Attentional GAN, NeurIPS 2021",
    cli_group="lip2speech",
    models=(),
    model_module=None,
    record_schema="pipeline:vca_gan_schema",
)
