"""Training flags that read differently in the original projects' command lines (issue 15).

``--dropout`` was a keep probability there and ``--regularization`` weighed a summed loss; here they
are a drop rate and a weight against a mean loss. The value given is used, with one warning line.
"""

import json
import warnings

import pytest

from avse_tf import systems
from avse_tf.cli.main import build_parser, main
from avse_tf.errors import InputWarning, UserInputError
from avse_tf.systems.presets import resolve_training_flags

ENHANCEMENT = systems.get("enhancement")


def _resolve(tmp_path, *flags):
    from avse_tf.systems.landmark_enhancement import cli

    args = build_parser().parse_args(["enhancement", "training", "--data_dir", str(tmp_path), "--train_set", "a",
                                      "--val_set", "b", "--exp", "e", *flags])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = resolve_training_flags(
            args, ENHANCEMENT, cli.PRESET_FLAGS, cli.TRAINING_FALLBACKS,
            original_regularization=lambda resolved: cli.original_regularization(resolved, args.num_audio_samples))
    return args, config, [str(item.message) for item in caught if issubclass(item.category, InputWarning)]


def test_dropout_above_one_half_is_used_as_given_with_its_original_meaning(tmp_path):
    args, config, messages = _resolve(tmp_path, "--dropout", "0.8")
    assert messages == [("--dropout 0.8 is a drop rate here: it drops 80 % of the units in training; the original "
                         "projects took a keep probability, so their --dropout 0.8 is --dropout 0.2 here "
                         "(using 0.8 as given)")]
    assert args.dropout == 0.8 and config["values"]["dropout"] == 0.8


def test_a_preset_file_with_a_keep_probability_is_named_in_the_warning(tmp_path):
    from avse_tf.systems.presets import get_preset

    preset = get_preset("av_concat_mask_grid")
    preset["name"], preset["architecture"]["dropout"] = "from_an_original_command", 0.75
    path = tmp_path / "preset.json"
    path.write_text(json.dumps(preset))
    args, _, messages = _resolve(tmp_path, "--preset", str(path))
    assert messages[0].startswith("dropout 0.75 (preset architecture.dropout of from_an_original_command) is a drop "
                                  "rate here: it drops 75 % of the units")
    assert "is --dropout 0.25 here (using 0.75 as given)" in messages[0]
    assert args.dropout == 0.75


@pytest.mark.parametrize("flags", [["--dropout", "0.5"], ["--dropout", "0.2"], []])
def test_no_warning_for_drop_rates_up_to_one_half_nor_the_presets(tmp_path, flags):
    assert _resolve(tmp_path, *flags)[2] == []


def test_dropout_one_is_refused_with_the_value_that_keeps_everything(tmp_path):
    with pytest.raises(UserInputError, match=r"--dropout 1 would drop every unit.*is --dropout 0$"):
        _resolve(tmp_path, "--dropout", "1")


@pytest.mark.parametrize("model, divisor, summed", [
    ("vl2m", 2 * 32 * 302 * 257, "summed the cross-entropy over 32 x 302 x 257"),  # preset batch 32, 3 s clips
    ("av_concat_mask", 8 * 302 * 257, "half the sum of squared errors over 8 x 302 x 257"),  # fallback batch 8
    ("av_concat_spec", 2, "was a mean"),
])
def test_explicit_regularization_prints_the_equivalent_value(tmp_path, model, divisor, summed):
    args, config, messages = _resolve(tmp_path, "--model", model, "--regularization", "0.001")
    assert len(messages) == 1
    assert messages[0].startswith("--regularization 0.001 is an L2 weight (times the sum of squares) against a "
                                  "mean loss here; ")
    assert summed in messages[0]
    assert messages[0].endswith(f"so the original's --regularization 0.001 is --regularization {0.001 / divisor:.3g} "
                                "here (using 0.001 as given)")
    assert args.regularization == 0.001 and config["values"]["regularization"] == 0.001


def test_the_command_line_prints_one_warning_line_each_and_keeps_the_given_values(tmp_path, capsys):
    # No records: the command stops after resolving the flags and saving config.json (what training used).
    argv = ["enhancement", "training", "--data_dir", str(tmp_path), "--train_set", "a", "--val_set", "b",
            "--exp", "e", "--dropout", "0.8", "--regularization", "1e-4", "--batch_size", "4"]
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("avse: warning: ")]
    assert len(lines) == 2
    assert lines[0].startswith("avse: warning: --dropout 0.8 is a drop rate here")
    assert lines[1].endswith(f"--regularization {1e-4 / (2 * 4 * 302 * 257):.3g} here (using 0.0001 as given)")
    saved = json.loads((tmp_path / "experiments" / "e" / "config.json").read_text())
    assert saved["values"]["dropout"] == 0.8 and saved["values"]["regularization"] == 1e-4
