"""Face-landmark AV speech enhancement (Morrone et al., ICASSP 2019): VL2M, VL2M_ref, AV concat.

Folder map: ``model.py`` (the five Keras models), ``pipeline.py`` (features, record schema and
records, model batches), ``train.py``, ``evaluate.py`` (testing and the mask-to-waveform
reconstruction), ``serving.py`` (the waveform-in / waveform-out graph of the API and exports),
``export.py``, ``streaming.py`` (the live processor), ``recipe.py`` (the paper-style table on
synthetic data), ``cli.py`` (``avse enhancement``), ``presets/`` and ``README.md`` (model card).
"""

from avse_tf.systems.base import System

SYSTEM = System(
    name="landmark_enhancement",
    title="face-landmark AV speech enhancement (Morrone et al. 2019)",
    paper="Morrone, Bergamaschi, Pasa, Fadiga, Tikhanoff, Badino: Face landmark-based speaker-independent "
          "audio-visual speech enhancement in multi-talker environments, ICASSP 2019",
    cli_group="enhancement",
    models=("vl2m", "vl2m_ref", "av_concat_mask", "av_concat_mask_ref", "av_concat_spec"),
    record_schema="pipeline:enhancement_schema",
    task="serving:Enhancer",
    streaming="streaming:build_processor",
    export="export",
    tune="train:tuning_job",
    bench="bench:bench_cases",
    preparation="preparation:EnhancementPreparation",
)
