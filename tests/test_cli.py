"""The ``avse`` command line: help everywhere, the preprocessing job, one-line errors with exit 2."""

import os
import subprocess
import sys

import numpy as np
import pytest

from avse_tf.cli.main import build_parser, main


def _commands(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from _commands(sub, prefix + (name,))


def test_help_for_every_command(capsys):
    commands = list(_commands(build_parser()))
    assert ("synth-grid",) in commands and ("enhancement", "video_preprocessing") in commands
    for command in [()] + commands:
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: avse" in capsys.readouterr().out


def test_preprocessing_job_and_resume(tmp_path, capsys):
    corpus = str(tmp_path / "corpus")
    assert main(["synth-grid", "--out", corpus, "--speakers", "2", "--utterances", "2", "--seed", "1"]) == 0
    assert main(["enhancement", "video_preprocessing", "--data_dir", corpus, "--speaker_ids", "1", "2"]) == 0
    assert main(["enhancement", "audio_preprocessing", "--data_dir", corpus, "--speaker_ids", "s1", "2",
                 "--dest_dir", "spectrograms"]) == 0
    for speaker in ("s1", "s2"):
        landmarks = sorted(os.listdir(os.path.join(corpus, speaker, "landmarks")))
        spectrograms = sorted(os.listdir(os.path.join(corpus, speaker, "spectrograms")))
        assert len(landmarks) == len(spectrograms) == 2
        assert np.loadtxt(os.path.join(corpus, speaker, "landmarks", landmarks[0])).shape == (75, 136)
        spectrogram = np.load(os.path.join(corpus, speaker, "spectrograms", spectrograms[0]))
        assert spectrogram.shape == (302, 257) and spectrogram.dtype == np.float32 and spectrogram.min() >= 0
    capsys.readouterr()
    # Run again: everything exists, nothing is rewritten.
    assert main(["enhancement", "video_preprocessing", "--data_dir", corpus, "--speaker_ids", "1", "2"]) == 0
    assert "wrote 0 landmark files" in capsys.readouterr().out


def test_show_face_landmarks_writes_video_and_png(small_corpus, tmp_path):
    root, description = small_corpus
    speaker = description["speakers"][0]
    video = os.path.join(root, speaker["name"], "video", speaker["utterances"][0] + ".mpg")
    output = tmp_path / "shown.mp4"
    assert main(["enhancement", "show_face_landmarks", "--video", video, "--output", str(output)]) == 0
    from avse_tf.video.io import read_video

    frames, _ = read_video(output)
    assert frames.shape[0] == 75
    import cv2

    still = cv2.imread(str(tmp_path / "shown.png"))
    assert still.shape == (288, 360, 3)
    green = (still[..., 1] > 200) & (still[..., 0] < 80) & (still[..., 2] < 80)
    assert green.sum() > 68  # the drawn points


def _run_cli(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-m", "avse_tf", *args], capture_output=True, text=True, env=env, timeout=300)


def _assert_one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("avse: error:") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_bad_input_gives_one_line_and_exit_2(tmp_path):
    from avse_tf.video.io import write_video

    _assert_one_line_error(_run_cli("enhancement", "audio_preprocessing", "--data_dir", str(tmp_path / "none"),
                                    "--speaker_ids", "1"), "data folder not found", "none")
    (tmp_path / "s1" / "audio").mkdir(parents=True)
    (tmp_path / "s1" / "audio" / "empty.wav").write_bytes(b"")
    _assert_one_line_error(_run_cli("enhancement", "audio_preprocessing", "--data_dir", str(tmp_path),
                                    "--speaker_ids", "1"), "empty", "empty.wav")
    _assert_one_line_error(_run_cli("enhancement", "audio_preprocessing", "--data_dir", str(tmp_path),
                                    "--speaker_ids", "4"), "unknown speaker s4")
    write_video(tmp_path / "noface.mpg", np.full((10, 288, 360, 3), 90, np.uint8), 25.0)
    _assert_one_line_error(_run_cli("landmarks", "--video", str(tmp_path / "noface.mpg"), "--output",
                                    str(tmp_path / "x.txt")), "no face", "noface.mpg")
    (tmp_path / "s1" / "video").mkdir()
    os.replace(tmp_path / "noface.mpg", tmp_path / "s1" / "video" / "noface.mpg")
    _assert_one_line_error(_run_cli("enhancement", "video_preprocessing", "--data_dir", str(tmp_path),
                                    "--speaker_ids", "1"), "no face", "noface.mpg")
    _assert_one_line_error(_run_cli("synth-grid", "--out", str(tmp_path / "s1" / "audio" / "empty.wav")),
                           "not a folder")
    usage = _run_cli("synth-grid")  # argparse usage errors exit with 2 too
    assert usage.returncode == 2 and "--out" in usage.stderr


def test_seed_script_is_the_same_command(tmp_path):
    script = os.path.join(os.path.dirname(__file__), os.pardir, "tools", "av_speech_enhancement.py")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, script, "audio_preprocessing", "--data_dir", str(tmp_path / "none"),
                             "--speaker_ids", "1"], capture_output=True, text=True, env=env, timeout=300)
    _assert_one_line_error(result, "data folder not found")
