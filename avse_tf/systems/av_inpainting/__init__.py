"""Audio-visual speech inpainting (Morrone et al., ICASSP 2021): A / AV BLSTMs, +MTL (CTC phones).

Folder map: ``model.py`` (the inpainting BLSTMs and the PER phone recogniser's network),
``pipeline.py`` (clip features, gap sets, record schema and records, model batches), ``train.py``,
``phone_recognizer.py`` (the independent recogniser that measures the PER), ``evaluate.py``
(reconstruction and testing), ``inpaint.py`` (a user's own file), ``export.py``, ``streaming.py``
(the live processor), ``recipe.py`` (paper-style tables on synthetic data), ``cli.py``
(``avse inpainting``), ``presets/`` and ``README.md`` (model card).
"""

from avse_tf.systems.base import System

SYSTEM = System(
    name="av_inpainting",
    title="audio-visual speech inpainting (Morrone et al. 2021)",
    paper="Morrone, Michelsanti, Tan, Jensen: Audio-visual speech inpainting with deep learning, ICASSP 2021",
    cli_group="inpainting",
    models=("av_blstm", "a_blstm", "a_blstm_mtl", "av_blstm_mtl"),
    auxiliary_models=("phone_recognizer",),
    record_schema="pipeline:inpainting_schema",
    task="inpaint:Inpainter",
    streaming="streaming:build_processor",
    export="export",
    tune="train:tuning_job",
    bench="bench:bench_cases",
    preparation="preparation:InpaintingPreparation",
)
