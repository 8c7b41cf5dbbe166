"""A tiny system that exists only to prove the registry contract (tests/test_systems.py): one folder
and one registration give a CLI group, presets, training from --preset, export, avse_tf.load and
tools/bench. Its model is real (a per-frame gain on a log spectrogram), just small."""

from avse_tf.systems.base import System

SYSTEM = System(
    name="dummy_system",
    title="tiny per-frame gain (test system)",
    paper="none: the registry's contract test",
    cli_group="tiny",
    models=("tiny_gain",),
    package="dummy_system",
    task="model:TinyGain",
    export="export",
    bench="bench:bench_cases",
)
