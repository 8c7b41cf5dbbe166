"""Corpus preparation clip by clip, run by a local loop or by an Apache Beam pipeline.

A system whose preparation is "per input clip: read, check, crop, featurise, write; then split
lists and records" describes it once as a :class:`~avse_tf.preprocessing.clips.ClipPreparation`.
:func:`~avse_tf.preprocessing.clips.run_local` (the default, no Beam needed) and
:func:`~avse_tf.preprocessing.beam.run_beam` (``pip install .[beam]``; DirectRunner here, Flink,
Spark or Dataflow in a cluster) both call its one per-clip function and its one example function,
so the two paths write the same files and the same records.
"""

RUNNER_CHOICES = ("local", "direct", "flink", "spark", "dataflow", "portable")


def run(preparation, runner: str = "local", beam_options=()) -> dict:
    """Run ``preparation`` with ``runner``: ``local`` (the default; no Beam) or a Beam runner.

    Returns ``{"done": {clip name: its record}, "bad": [(name, video, reason)], "splits": {split: names},
    "records": the folder of the record sets}``."""
    from avse_tf.errors import UserInputError

    if runner == "local":
        if beam_options:
            raise UserInputError("--beam_option needs a Beam --runner (direct, flink, spark, dataflow, portable)")
        from avse_tf.preprocessing.clips import run_local

        return run_local(preparation)
    from avse_tf.preprocessing.beam import run_beam

    return run_beam(preparation, runner, beam_options)
